//! The error model: one [`ApiError`] for both wire shapes.
//!
//! REST 3.0 sends `{"error":{"code","message","validation"?}}`; classic methods and
//! the platform's system errors send `{"error":"CODE","error_description":"..."}`.
//! Both wire bodies are here as serde types; deciding which one a response holds is
//! the core's job.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error_code::{ErrorClass, ErrorCode};
use crate::time::Time;

/// Which wire shape an error came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum ErrorShape {
    /// `{"error":{"code","message","validation"}}`.
    V3,
    /// `{"error":"CODE","error_description":"..."}`.
    Classic,
}

/// One item of a REST 3.0 `validation` list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ValidationIssue {
    /// The field at fault; absent for request-level issues.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// What is wrong, in the portal's language.
    #[serde(default)]
    pub message: String,
}

impl ValidationIssue {
    /// An issue about one field.
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: Some(field.into()),
            message: message.into(),
        }
    }

    /// An issue about the request as a whole.
    pub fn general(message: impl Into<String>) -> Self {
        Self {
            field: None,
            message: message.into(),
        }
    }
}

/// An error answer from a portal or the OAuth server, whatever its shape.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ApiError {
    /// The HTTP status it came with (errors may come with a 2xx status too).
    pub status: u16,
    /// The error code.
    pub code: ErrorCode,
    /// The human-readable message (`message` or `error_description`).
    pub message: String,
    /// Validation details (REST 3.0 only; empty otherwise).
    pub validation: Vec<ValidationIssue>,
    /// The wire shape it came in.
    pub shape: ErrorShape,
    /// The `time` object, when the error body carried one.
    pub time: Option<Time>,
}

impl ApiError {
    /// Makes an error with no validation details.
    pub fn new(
        status: u16,
        code: ErrorCode,
        message: impl Into<String>,
        shape: ErrorShape,
    ) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            validation: Vec::new(),
            shape,
            time: None,
        }
    }

    /// Adds validation details.
    pub fn with_validation(mut self, validation: Vec<ValidationIssue>) -> Self {
        self.validation = validation;
        self
    }

    /// The class of this error, from its code, falling back on the status for
    /// codes this crate does not know ([`ErrorClass::from_status`]: 429 → operating
    /// limit, 5xx → server, ...).
    pub fn class(&self) -> ErrorClass {
        match self.code.class() {
            ErrorClass::Unknown => ErrorClass::from_status(self.status),
            class => class,
        }
    }

    /// The validation message for a field, if there is one.
    pub fn validation_for(&self, field: &str) -> Option<&str> {
        self.validation
            .iter()
            .find(|v| v.field.as_deref() == Some(field))
            .map(|v| v.message.as_str())
    }

    /// The wire body of this error in its own shape (what a server would send).
    pub fn to_body(&self) -> serde_json::Value {
        match self.shape {
            ErrorShape::V3 => serde_json::to_value(V3ErrorBody::from(self)).unwrap_or_default(),
            ErrorShape::Classic => serde_json::to_value(ClassicErrorBody {
                error: self.code.clone(),
                error_description: Some(self.message.clone()),
            })
            .unwrap_or_default(),
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (HTTP {})", self.code, self.status)?;
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        for issue in &self.validation {
            match &issue.field {
                Some(field) => write!(f, "; {field}: {}", issue.message)?,
                None => write!(f, "; {}", issue.message)?,
            }
        }
        Ok(())
    }
}

impl std::error::Error for ApiError {}

/// The REST 3.0 error body: `{"error":{...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct V3ErrorBody {
    /// The error object.
    pub error: V3ErrorDetail,
    /// `time`, if the server sent one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<Time>,
}

/// The object inside a REST 3.0 error body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct V3ErrorDetail {
    /// The error code.
    pub code: ErrorCode,
    /// The message.
    #[serde(default)]
    pub message: String,
    /// Validation details.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation: Option<Vec<ValidationIssue>>,
}

impl V3ErrorBody {
    /// A body with the given parts.
    pub fn new(
        code: ErrorCode,
        message: impl Into<String>,
        validation: Option<Vec<ValidationIssue>>,
    ) -> Self {
        Self {
            error: V3ErrorDetail {
                code,
                message: message.into(),
                validation,
            },
            time: None,
        }
    }

    /// Turns the body into an [`ApiError`] with the response's status.
    pub fn into_api_error(self, status: u16) -> ApiError {
        ApiError {
            status,
            code: self.error.code,
            message: self.error.message,
            validation: self.error.validation.unwrap_or_default(),
            shape: ErrorShape::V3,
            time: self.time,
        }
    }
}

impl From<&ApiError> for V3ErrorBody {
    fn from(e: &ApiError) -> Self {
        Self {
            error: V3ErrorDetail {
                code: e.code.clone(),
                message: e.message.clone(),
                validation: if e.validation.is_empty() {
                    None
                } else {
                    Some(e.validation.clone())
                },
            },
            time: e.time.clone(),
        }
    }
}

/// The classic error body: `{"error":"CODE","error_description":"..."}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ClassicErrorBody {
    /// The code (a string; sometimes digits).
    pub error: ErrorCode,
    /// The description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_description: Option<String>,
}

impl ClassicErrorBody {
    /// A body with the given parts.
    pub fn new(error: ErrorCode, description: impl Into<String>) -> Self {
        Self {
            error,
            error_description: Some(description.into()),
        }
    }

    /// Turns the body into an [`ApiError`] with the response's status.
    pub fn into_api_error(self, status: u16) -> ApiError {
        ApiError::new(
            status,
            self.error,
            self.error_description.unwrap_or_default(),
            ErrorShape::Classic,
        )
    }
}
