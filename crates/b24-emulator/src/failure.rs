//! Error answers in both wire shapes, built from b24-types' bodies.

use b24_types::{ClassicErrorBody, ErrorCode, V3ErrorBody, ValidationIssue};
use serde_json::Value;

/// Top-level messages of REST 3.0 errors, as the documentation's examples show them.
pub(crate) mod msg {
    /// REQUESTVALIDATIONEXCEPTION, as in the update/list/delete examples.
    pub(crate) const REQUEST_VALIDATION: &str = "Error validating the request object";
    /// REQUESTVALIDATIONEXCEPTION, as in the addfromchatmessage example.
    pub(crate) const REQUEST_VALIDATION_DURING: &str = "Error during request object validation";
    /// DTOVALIDATIONEXCEPTION, as in the add example.
    pub(crate) const DTO_VALIDATION: &str = "Validation error";
    /// DTOVALIDATIONEXCEPTION, as in the chat.message.send example.
    pub(crate) const DTO_VALIDATION_DURING: &str = "Error during object validation";
    /// ACCESSDENIEDEXCEPTION.
    pub(crate) const ACCESS_DENIED: &str = "Access denied";
}

/// A failed call: the status and body to answer with.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Failure {
    /// `{"error":{"code","message","validation"?}}`.
    V3 {
        status: u16,
        code: ErrorCode,
        message: String,
        validation: Vec<ValidationIssue>,
    },
    /// `{"error":"CODE","error_description":"..."}`.
    Classic {
        status: u16,
        code: ErrorCode,
        description: String,
    },
}

impl Failure {
    /// A REST 3.0 error with no validation list.
    pub(crate) fn v3(status: u16, code: ErrorCode, message: impl Into<String>) -> Self {
        Failure::V3 {
            status,
            code,
            message: message.into(),
            validation: Vec::new(),
        }
    }

    /// A classic error.
    pub(crate) fn classic(status: u16, code: ErrorCode, description: impl Into<String>) -> Self {
        Failure::Classic {
            status,
            code,
            description: description.into(),
        }
    }

    /// REQUESTVALIDATIONEXCEPTION (400) about one field.
    pub(crate) fn request(top: &str, field: &str, message: impl Into<String>) -> Self {
        Self::v3(400, ErrorCode::V3RequestValidation, top).with_field(field, message)
    }

    /// DTOVALIDATIONEXCEPTION (400) with no items yet.
    pub(crate) fn dto(top: &str) -> Self {
        Self::v3(400, ErrorCode::V3DtoValidation, top)
    }

    /// ACCESSDENIEDEXCEPTION (403). The documentation names the field (`taskId`,
    /// `id`, `messageId`) in a validation item; the server's body has no validation
    /// list (`rest/lib/V3/Exception/AccessDeniedException.php`), so neither has this.
    pub(crate) fn access_denied(_field: &str) -> Self {
        Self::v3(403, ErrorCode::V3AccessDenied, msg::ACCESS_DENIED)
    }

    /// A REST 3.0 error with a 400 status and a message only.
    pub(crate) fn plain400(code: ErrorCode, message: &str) -> Self {
        Self::v3(400, code, message)
    }

    /// Adds a validation item about a field (REST 3.0 only).
    pub(crate) fn with_field(mut self, field: &str, message: impl Into<String>) -> Self {
        if let Failure::V3 { validation, .. } = &mut self {
            validation.push(ValidationIssue::field(field, message));
        }
        self
    }

    /// Adds a validation item without a field (REST 3.0 only).
    pub(crate) fn with_general(mut self, message: impl Into<String>) -> Self {
        if let Failure::V3 { validation, .. } = &mut self {
            validation.push(ValidationIssue::general(message));
        }
        self
    }

    /// True when a validation list has items.
    pub(crate) fn has_items(&self) -> bool {
        matches!(self, Failure::V3 { validation, .. } if !validation.is_empty())
    }

    /// The HTTP status.
    pub(crate) fn status(&self) -> u16 {
        match self {
            Failure::V3 { status, .. } | Failure::Classic { status, .. } => *status,
        }
    }

    /// The wire body.
    pub(crate) fn body(&self) -> Value {
        match self {
            Failure::V3 {
                code,
                message,
                validation,
                ..
            } => {
                let validation = if validation.is_empty() {
                    None
                } else {
                    Some(validation.clone())
                };
                serde_json::to_value(V3ErrorBody::new(code.clone(), message.clone(), validation))
                    .unwrap_or(Value::Null)
            }
            Failure::Classic {
                code, description, ..
            } => serde_json::to_value(ClassicErrorBody::new(code.clone(), description.clone()))
                .unwrap_or(Value::Null),
        }
    }
}

/// The classic system errors the emulator raises (texts from the system-error table).
pub(crate) mod system {
    use super::Failure;
    use b24_types::ErrorCode;

    pub(crate) fn query_limit() -> Failure {
        Failure::classic(503, ErrorCode::QueryLimitExceeded, "Too many requests")
    }
    pub(crate) fn overload() -> Failure {
        Failure::classic(
            503,
            ErrorCode::OverloadLimit,
            "REST API is blocked due to overload.",
        )
    }
    pub(crate) fn https_required() -> Failure {
        Failure::classic(400, ErrorCode::InvalidRequest, "Https required.")
    }
    pub(crate) fn no_auth() -> Failure {
        Failure::classic(401, ErrorCode::NoAuthFound, "Wrong authorization data")
    }
    pub(crate) fn expired_token() -> Failure {
        Failure::classic(
            401,
            ErrorCode::ExpiredToken,
            "The access token provided has expired",
        )
    }
    pub(crate) fn operation_time_limit() -> Failure {
        Failure::classic(
            429,
            ErrorCode::OperationTimeLimit,
            "Method is blocked due to operation time limit.",
        )
    }
    pub(crate) fn method_not_found() -> Failure {
        Failure::classic(404, ErrorCode::MethodNotFound, "Method not found!")
    }
    pub(crate) fn too_large() -> Failure {
        Failure::classic(
            413,
            ErrorCode::from_wire("REQUEST_ENTITY_TOO_LARGE"),
            "Request body is too large",
        )
    }
    pub(crate) fn portal_not_found() -> Failure {
        Failure::classic(404, ErrorCode::from_wire("NOT_FOUND"), "Portal not found")
    }
}
