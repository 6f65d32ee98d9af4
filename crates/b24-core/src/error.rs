//! The core's error type.

use b24_types::{ApiError, ErrorClass, ErrorCode, IdError};

/// Bad input found before any request was built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InputError {
    /// An id is zero, negative or not a number.
    #[error("invalid id: {0}")]
    Id(#[from] IdError),
    /// An idempotency key is malformed.
    #[error("invalid idempotency key: {reason}")]
    IdempotencyKey {
        /// Why.
        reason: &'static str,
    },
    /// A parameter is invalid.
    #[error("invalid parameter `{field}`: {reason}")]
    Param {
        /// The parameter (dotted path for nested ones, e.g. `pagination.limit`).
        field: String,
        /// Why.
        reason: String,
    },
    /// An OAuth portal's request was built without an access token.
    #[error("an OAuth portal needs an access token for every request")]
    MissingAccessToken,
    /// The portal address or webhook URL is invalid. Never contains a secret.
    #[error("invalid portal address: {reason}")]
    Portal {
        /// Why (never the URL itself, which may hold a webhook secret).
        reason: String,
    },
}

/// Everything a call can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The portal answered with an error, in either shape, whatever the status.
    #[error("{0}")]
    Api(Box<ApiError>),
    /// Bad input, found before any request was built.
    #[error(transparent)]
    InvalidInput(#[from] InputError),
    /// A body could not be decoded as the expected JSON.
    #[error("could not decode the response (HTTP {status}) at `{path}`: {message}")]
    Decode {
        /// The HTTP status.
        status: u16,
        /// The JSON path where decoding failed (`result.item.id`), or `.` for the root.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// The response was not JSON at all (an HTML error page, say).
    #[error("unexpected non-JSON response (HTTP {status}): {snippet}")]
    UnexpectedBody {
        /// The HTTP status.
        status: u16,
        /// A short, scrubbed start of the body.
        snippet: String,
    },
}

impl Error {
    /// The API error code, for API errors.
    pub fn code(&self) -> Option<&ErrorCode> {
        match self {
            Error::Api(e) => Some(&e.code),
            _ => None,
        }
    }

    /// The HTTP status, when a response was received.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api(e) => Some(e.status),
            Error::Decode { status, .. } | Error::UnexpectedBody { status, .. } => Some(*status),
            Error::InvalidInput(_) => None,
        }
    }

    /// The API error, if this is one.
    pub fn api_error(&self) -> Option<&ApiError> {
        match self {
            Error::Api(e) => Some(e),
            _ => None,
        }
    }

    /// The class of an API error.
    pub fn class(&self) -> Option<ErrorClass> {
        self.api_error().map(ApiError::class)
    }
}

impl InputError {
    /// An invalid parameter.
    pub fn param(field: impl Into<String>, reason: impl Into<String>) -> Self {
        InputError::Param {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

impl From<b24_types::IdError> for Error {
    fn from(e: b24_types::IdError) -> Self {
        Error::InvalidInput(InputError::Id(e))
    }
}

impl From<ApiError> for Error {
    fn from(e: ApiError) -> Self {
        Error::Api(Box::new(e))
    }
}
