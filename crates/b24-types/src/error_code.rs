//! Error codes of both API shapes, and their classification.
//!
//! [`ErrorCode`] names every code the documentation and the server code mention; any
//! other code is kept verbatim in [`ErrorCode::Other`]. [`ErrorCode::class`] sorts a
//! code into an [`ErrorClass`], which retry and refresh policies read. The class says
//! what the failure *is*; what to do about it is decided elsewhere.

use std::convert::Infallible;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// What kind of failure an error code reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorClass {
    /// The portal's request-rate bucket is full (`QUERY_LIMIT_EXCEEDED`). Waiting helps.
    RateLimited,
    /// The method's operating-time budget is spent (429). Waiting until the reset helps.
    OperatingLimit,
    /// A manual block by Bitrix24 support (`OVERLOAD_LIMIT`). Waiting does not help.
    Overloaded,
    /// The OAuth access token expired or is invalid: refresh it and replay.
    TokenExpired,
    /// Credentials are wrong or revoked (bad webhook secret, bad refresh token, ...).
    Auth,
    /// The user lacks rights on the object, or the plan lacks REST.
    Permission,
    /// The webhook or app lacks the method's scope.
    Scope,
    /// The request is malformed or its values are invalid.
    Validation,
    /// The method or the object does not exist.
    NotFound,
    /// An idempotency key was reused with another body, or is invalid.
    Idempotency,
    /// A batch-specific refusal (too long, method not allowed in batch).
    Batch,
    /// The portal failed internally (by status alone: any 5xx, or a 408 timeout while
    /// receiving the request). It may have run the call.
    Server,
    /// A code this crate does not classify.
    Unknown,
}

impl ErrorClass {
    /// The class of an error answer whose code says nothing (a code this crate does
    /// not know), from its HTTP status alone.
    ///
    /// This is the one status fallback: [`ApiError::class`](crate::ApiError::class)
    /// and the engine's classification in `b24-core` both use it, so the two never
    /// disagree.
    ///
    /// | status | class |
    /// |---|---|
    /// | 401 | `Auth` |
    /// | 402, 403 | `Permission` (402 is the platform's `PAYMENT_REQUIRED`) |
    /// | 404, 410 | `NotFound` |
    /// | 408 | `Server`: the request timed out on the way in, a transient failure |
    /// | 429 | `OperatingLimit` |
    /// | any other 4xx | `Validation` |
    /// | 5xx | `Server` |
    /// | anything else (1xx, 2xx, 3xx, out of range) | `Unknown` |
    pub fn from_status(status: u16) -> ErrorClass {
        match status {
            401 => ErrorClass::Auth,
            402 | 403 => ErrorClass::Permission,
            404 | 410 => ErrorClass::NotFound,
            408 => ErrorClass::Server,
            429 => ErrorClass::OperatingLimit,
            400..=499 => ErrorClass::Validation,
            500..=599 => ErrorClass::Server,
            _ => ErrorClass::Unknown,
        }
    }
}

macro_rules! error_codes {
    ($( $(#[$doc:meta])* $variant:ident = $wire:literal => $class:ident, )*) => {
        /// An error code as the portal sends it.
        ///
        /// REST 3.0 codes are the upper-cased, underscore-joined exception class names
        /// (`BITRIX_REST_V3_EXCEPTION_...`); classic codes are short strings, some of
        /// them lower-case (`expired_token`). Unknown codes are kept in `Other`.
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum ErrorCode {
            $( $(#[$doc])* $variant, )*
            /// A code this version does not know, exactly as sent.
            Other(String),
        }

        impl ErrorCode {
            /// Every known code (not `Other`).
            pub const KNOWN: &'static [ErrorCode] = &[ $( ErrorCode::$variant, )* ];

            /// The code as it appears on the wire.
            pub fn as_str(&self) -> &str {
                match self {
                    $( ErrorCode::$variant => $wire, )*
                    ErrorCode::Other(s) => s,
                }
            }

            /// Reads a wire code; unknown codes become `Other`. Matching is exact
            /// (codes are case-sensitive: `expired_token` is not `EXPIRED_TOKEN`).
            pub fn from_wire(s: &str) -> Self {
                match s {
                    $( $wire => ErrorCode::$variant, )*
                    other => ErrorCode::Other(other.to_owned()),
                }
            }

            /// The class of failure this code reports.
            pub fn class(&self) -> ErrorClass {
                match self {
                    $( ErrorCode::$variant => ErrorClass::$class, )*
                    ErrorCode::Other(_) => ErrorClass::Unknown,
                }
            }
        }
    };
}

error_codes! {
    // ---- REST 3.0 (`/rest/api/`) ----
    /// A required field is missing or has the wrong type (400).
    V3RequestValidation = "BITRIX_REST_V3_EXCEPTION_VALIDATION_REQUESTVALIDATIONEXCEPTION" => Validation,
    /// The DTO's field rules failed (400).
    V3DtoValidation = "BITRIX_REST_V3_EXCEPTION_VALIDATION_DTOVALIDATIONEXCEPTION" => Validation,
    /// A filter condition the method requires is missing (400).
    V3RequestFilterValidation = "BITRIX_REST_V3_EXCEPTION_VALIDATION_REQUESTFILTERVALIDATIONEXCEPTION" => Validation,
    /// A file failed validation (400).
    V3InvalidFile = "BITRIX_REST_V3_EXCEPTION_VALIDATION_INVALIDFILEEXCEPTION" => Validation,
    /// The body is not valid JSON (400).
    V3InvalidJson = "BITRIX_REST_V3_EXCEPTION_INVALIDJSONEXCEPTION" => Validation,
    /// An unknown field in `fields`, `filter`, `order` or a relation `select` (400).
    V3UnknownDtoProperty = "BITRIX_REST_V3_EXCEPTION_UNKNOWNDTOPROPERTYEXCEPTION" => Validation,
    /// A filter operator outside the allowed list (400).
    V3UnknownFilterOperator = "BITRIX_REST_V3_EXCEPTION_UNKNOWNFILTEROPERATOREXCEPTION" => Validation,
    /// The filter cannot be parsed (400).
    V3InvalidFilter = "BITRIX_REST_V3_EXCEPTION_INVALIDFILTEREXCEPTION" => Validation,
    /// `order` is malformed (400).
    V3InvalidOrder = "BITRIX_REST_V3_EXCEPTION_INVALIDORDEREXCEPTION" => Validation,
    /// `pagination` is malformed (400).
    V3InvalidPagination = "BITRIX_REST_V3_EXCEPTION_INVALIDPAGINATIONEXCEPTION" => Validation,
    /// A bad `select`, or a malformed v3 batch (400).
    V3InvalidSelect = "BITRIX_REST_V3_EXCEPTION_INVALIDSELECTEXCEPTION" => Validation,
    /// Too many attributes (400, undocumented).
    V3TooManyAttributes = "BITRIX_REST_V3_EXCEPTION_TOOMANYATTRIBUTESEXCEPTION" => Validation,
    /// Unknown aggregate function (400, undocumented).
    V3UnknownAggregateFunction = "BITRIX_REST_V3_EXCEPTION_UNKNOWNAGGREGATEFUNCTIONEXCEPTION" => Validation,
    /// Wrong HTTP method (400, undocumented).
    V3WrongHttpRequestMethod = "BITRIX_REST_V3_EXCEPTION_WRONGHTTPREQUESTMETHODEXCEPTION" => Validation,
    /// The entity already exists (400, undocumented).
    V3EntityAlreadyExists = "BITRIX_REST_V3_EXCEPTION_ENTITYALREADYEXISTSEXCEPTION" => Validation,
    /// A business-logic refusal (400, undocumented).
    V3Logic = "BITRIX_REST_V3_EXCEPTION_LOGICEXCEPTION" => Validation,
    /// No object has that id (400).
    V3EntityNotFound = "BITRIX_REST_V3_EXCEPTION_ENTITYNOTFOUNDEXCEPTION" => NotFound,
    /// Not a v3 method on this portal (404).
    V3MethodNotFound = "BITRIX_REST_V3_EXCEPTION_METHODNOTFOUNDEXCEPTION" => NotFound,
    /// `*.field.get` with an unknown name (404).
    V3FieldNotFound = "BITRIX_REST_V3_REALISATION_EXCEPTION_FIELDNOTFOUNDEXCEPTION" => NotFound,
    /// The user lacks rights (403); also auth failures on `/rest/api/` (401).
    V3AccessDenied = "BITRIX_REST_V3_EXCEPTION_ACCESSDENIEDEXCEPTION" => Permission,
    /// The webhook or app lacks the method's scope (403).
    V3InsufficientScope = "BITRIX_REST_V3_EXCEPTION_INSUFFICIENTSCOPEEXCEPTION" => Scope,
    /// The license does not allow this (400, undocumented).
    V3License = "BITRIX_REST_V3_EXCEPTION_LICENSEEXCEPTION" => Permission,
    /// The method's operating-time limit was hit on `/rest/api/` (429).
    V3RateLimit = "BITRIX_REST_V3_EXCEPTION_RATELIMITEXCEPTION" => OperatingLimit,
    /// A non-REST exception on the server (500).
    V3Internal = "BITRIX_REST_V3_EXCEPTION_INTERNAL_INTERNALEXCEPTION" => Server,
    /// The same idempotency key with a different body (422).
    V3IdempotencyKeyReused = "BITRIX_REST_V3_EXCEPTION_IDEMPOTENCYKEYREUSEDEXCEPTION" => Idempotency,
    /// An invalid idempotency key (400).
    V3InvalidIdempotencyKey = "BITRIX_REST_V3_EXCEPTION_INVALIDIDEMPOTENCYKEYEXCEPTION" => Idempotency,

    // ---- classic system errors ----
    /// Internal server error (500).
    InternalServerError = "INTERNAL_SERVER_ERROR" => Server,
    /// The server returned an unexpected response (500).
    UnexpectedAnswer = "ERROR_UNEXPECTED_ANSWER" => Server,
    /// The request-rate limit (503; 429 in older docs).
    QueryLimitExceeded = "QUERY_LIMIT_EXCEEDED" => RateLimited,
    /// The method is not allowed inside a batch (405).
    BatchMethodNotAllowed = "ERROR_BATCH_METHOD_NOT_ALLOWED" => Batch,
    /// More than 50 batch commands (400).
    BatchLengthExceeded = "ERROR_BATCH_LENGTH_EXCEEDED" => Batch,
    /// Invalid access token or webhook code (401).
    NoAuthFound = "NO_AUTH_FOUND" => Auth,
    /// HTTPS required (400); also the OAuth server's `invalid_request` sibling.
    InvalidRequest = "INVALID_REQUEST" => Validation,
    /// A manual block by support (503). Never retry.
    OverloadLimit = "OVERLOAD_LIMIT" => Overloaded,
    /// REST is available only on commercial plans (403).
    AccessDenied = "ACCESS_DENIED" => Permission,
    /// The token's or webhook's user lacks permissions (403).
    InvalidCredentials = "INVALID_CREDENTIALS" => Permission,
    /// The manifest is not available (404).
    ManifestNotAvailable = "ERROR_MANIFEST_IS_NOT_AVAILABLE" => NotFound,
    /// The token lacks the method's scope (403).
    InsufficientScope = "insufficient_scope" => Scope,
    /// The access token expired (401).
    ExpiredToken = "expired_token" => TokenExpired,
    /// The access token is invalid (401).
    InvalidToken = "invalid_token" => TokenExpired,
    /// The user has no access to the application (403).
    UserAccessError = "user_access_error" => Permission,
    /// The portal was deleted or its public part closed (500 in docs, 403 in src).
    PortalDeleted = "PORTAL_DELETED" => Permission,
    /// Unable to authorize the user.
    AuthorizationError = "authorization_error" => Auth,
    /// The application is not found.
    ApplicationNotFound = "APPLICATION_NOT_FOUND" => Auth,
    /// A connection error inside the portal.
    ConnectionError = "CONNECTION_ERROR" => Server,
    /// The classic operating-time limit (429).
    OperationTimeLimit = "OPERATION_TIME_LIMIT" => OperatingLimit,
    /// No such classic method (404).
    MethodNotFound = "ERROR_METHOD_NOT_FOUND" => NotFound,
    /// The method waits for an admin's confirmation (401).
    MethodConfirmWaiting = "METHOD_CONFIRM_WAITING" => Permission,
    /// An admin denied the method (403).
    MethodConfirmDenied = "METHOD_CONFIRM_DENIED" => Permission,
    /// A core error inside a classic method.
    ErrorCore = "ERROR_CORE" => Validation,
    /// A bad argument to a classic method.
    ErrorArgument = "ERROR_ARGUMENT" => Validation,
    /// Only intranet users may call this.
    AllowedOnlyIntranetUser = "allowed_only_intranet_user" => Permission,
    /// A classic not-found.
    NotFound = "NOT_FOUND" => NotFound,
    /// A bad argument value.
    InvalidArgValue = "INVALID_ARG_VALUE" => Validation,

    // ---- OAuth server ----
    /// The OAuth request is malformed.
    OAuthInvalidRequest = "invalid_request" => Validation,
    /// The client id or secret is wrong.
    OAuthInvalidClient = "invalid_client" => Auth,
    /// The refresh token or code is bad or expired: redo the full auth flow.
    OAuthInvalidGrant = "invalid_grant" => Auth,
    /// The requested scope is invalid.
    OAuthInvalidScope = "invalid_scope" => Scope,
    /// The trial or paid period is over.
    PaymentRequired = "PAYMENT_REQUIRED" => Permission,
}

impl ErrorCode {
    /// True for `Other`.
    pub fn is_unknown(&self) -> bool {
        matches!(self, ErrorCode::Other(_))
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ErrorCode {
    type Err = Infallible;
    fn from_str(s: &str) -> Result<Self, Infallible> {
        Ok(Self::from_wire(s))
    }
}

impl From<&str> for ErrorCode {
    fn from(s: &str) -> Self {
        Self::from_wire(s)
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ErrorCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Classic codes are sometimes numbers ("100", or even 100).
        let v = serde_json::Value::deserialize(d)?;
        Ok(match v {
            serde_json::Value::String(s) => Self::from_wire(&s),
            serde_json::Value::Number(n) => Self::Other(n.to_string()),
            other => Self::Other(other.to_string()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_known_code_round_trips() {
        for code in ErrorCode::KNOWN {
            assert_eq!(&ErrorCode::from_wire(code.as_str()), code);
            assert!(!code.is_unknown());
        }
        let mut seen = std::collections::HashSet::new();
        for code in ErrorCode::KNOWN {
            assert!(seen.insert(code.as_str()), "duplicate wire code {code}");
        }
    }

    #[test]
    fn status_fallback() {
        use ErrorClass as C;
        let cases = [
            (200, C::Unknown),
            (302, C::Unknown),
            (400, C::Validation),
            (401, C::Auth),
            (402, C::Permission),
            (403, C::Permission),
            (404, C::NotFound),
            (405, C::Validation),
            (408, C::Server),
            (410, C::NotFound),
            (415, C::Validation),
            (422, C::Validation),
            (429, C::OperatingLimit),
            (499, C::Validation),
            (500, C::Server),
            (503, C::Server),
            (599, C::Server),
            (600, C::Unknown),
            (0, C::Unknown),
        ];
        for (status, class) in cases {
            assert_eq!(ErrorClass::from_status(status), class, "{status}");
        }
    }

    #[test]
    fn unknown_codes_are_kept() {
        let c = ErrorCode::from_wire("EXPIRED_TOKEN");
        assert_eq!(c, ErrorCode::Other("EXPIRED_TOKEN".into()));
        assert_eq!(c.class(), ErrorClass::Unknown);
        let n: ErrorCode = serde_json::from_str("100").unwrap();
        assert_eq!(n.as_str(), "100");
    }
}
