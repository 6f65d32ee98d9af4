//! Classification: what one attempt's outcome *is*, apart from what to do about it.
//!
//! [`classify`] looks at a single attempt (the HTTP status, the error code when the
//! body had one, or the transport failure's [`SentState`]) and names its
//! [`OutcomeClass`]. The [`RetryPolicy`](super::RetryPolicy) then turns a class into a
//! decision. Keeping the two apart lets each be table-tested on its own.
//!
//! The rules, in order:
//!
//! | seen | class |
//! |---|---|
//! | no error | `Success` |
//! | `QUERY_LIMIT_EXCEEDED` | `RateLimited` |
//! | a 503 with no error code (non-JSON, empty, JSON without `error`) | `Unavailable` |
//! | `OPERATION_TIME_LIMIT`, `..._RATELIMITEXCEPTION`, or a 429 with no known code | `OperatingLimit` |
//! | `OVERLOAD_LIMIT` | `Overloaded` |
//! | `expired_token`, `invalid_token`, or any 401 on REST 3.0 | `TokenExpired` |
//! | any other error code the platform documents as a refusal (4xx) | `Rejected(class)` |
//! | a server failure code | `ServerError` |
//! | an unknown code, or no code | by [`ErrorClass::from_status`] (the fallback [`ApiError::class`](b24_types::ApiError::class) uses too): 4xx `Rejected(class)`, 408 and 5xx `ServerError` |
//! | a transport failure | `Transport(sent)` |
//! | anything else (an unknown code with a 2xx/3xx status, a 2xx body that cannot be read) | `Unrecognised` |

use b24_types::{ErrorClass, ErrorCode};

use super::transport::SentState;
use crate::api::Api;

/// What a single attempt produced, reduced to what classification needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Observation<'a> {
    /// A success answer.
    Success,
    /// An answer whose body carried an error code (any status).
    Error {
        /// The HTTP status.
        status: u16,
        /// The error code.
        code: &'a ErrorCode,
    },
    /// An answer that could not be read as a success and carried no error code
    /// (an HTML page, an empty body, JSON without `result`).
    BareStatus {
        /// The HTTP status.
        status: u16,
    },
    /// No answer: the transport failed.
    Transport(SentState),
}

/// The class of an attempt's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OutcomeClass {
    /// The call succeeded.
    Success,
    /// The portal's request-rate bucket refused the call before running it.
    RateLimited,
    /// The method's operating-time budget is spent; the call was not run.
    OperatingLimit,
    /// REST is blocked by hand for this portal (`OVERLOAD_LIMIT`): waiting does not help.
    Overloaded,
    /// The access token expired or was not accepted: a fresh one may help.
    TokenExpired,
    /// A definite refusal (validation, permission, scope, not found, credentials,
    /// idempotency key, batch): repeating the same request cannot help.
    Rejected(ErrorClass),
    /// The portal failed while handling the call: it may have run, fully or partly.
    ServerError,
    /// A 503 without an error code (an HTML page, an empty body): the request-rate
    /// limit of a front end, or a gateway that gave up on the portal, possibly after
    /// the call ran. Unlike [`OutcomeClass::RateLimited`] it may have run, so only
    /// calls that may be repeated are.
    Unavailable,
    /// The transport failed; the sent state says whether the call may have run.
    Transport(SentState),
    /// An outcome that fits no rule (an unknown error code with a success status,
    /// or a success status whose body could not be read).
    Unrecognised,
}

impl OutcomeClass {
    /// True when the call cannot have run on the server, so sending it again cannot
    /// duplicate a write.
    pub fn not_run(self) -> bool {
        matches!(
            self,
            OutcomeClass::RateLimited
                | OutcomeClass::OperatingLimit
                | OutcomeClass::Overloaded
                | OutcomeClass::TokenExpired
                | OutcomeClass::Transport(SentState::NotSent)
        )
    }

    /// True when the call may have run on the server and its answer does not say
    /// how it went: a maybe-sent transport failure, a 5xx, an answer no rule covers.
    pub fn may_have_run(self) -> bool {
        matches!(
            self,
            OutcomeClass::Transport(SentState::MaybeSent)
                | OutcomeClass::ServerError
                | OutcomeClass::Unavailable
                | OutcomeClass::Unrecognised
        )
    }
}

/// Classifies one attempt of a call to the given API.
pub fn classify(api: Api, observation: Observation<'_>) -> OutcomeClass {
    match observation {
        Observation::Success => OutcomeClass::Success,
        Observation::Transport(sent) => OutcomeClass::Transport(sent),
        Observation::BareStatus { status } => classify_status(api, status),
        Observation::Error { status, code } => classify_code(api, status, code),
    }
}

fn classify_code(api: Api, status: u16, code: &ErrorCode) -> OutcomeClass {
    // On REST 3.0 an authentication failure comes back as a 401 with any code
    // (ACCESSDENIEDEXCEPTION in the server code): treat every 401 there as a token
    // that may have expired.
    if status == 401 && api == Api::V3 {
        return OutcomeClass::TokenExpired;
    }
    match code.class() {
        // An unknown code: the status decides, by the same fallback as
        // `ApiError::class` (an unknown code on a 503 is not the rate limit, which has
        // its own code).
        ErrorClass::Unknown => of_class(ErrorClass::from_status(status)),
        class => of_class(class),
    }
}

fn classify_status(api: Api, status: u16) -> OutcomeClass {
    match status {
        // A 503 without a code may be the request-rate limit (a front end may answer
        // it with an HTML page or an empty body), or a gateway's answer after the
        // portal ran the call: only the coded `QUERY_LIMIT_EXCEEDED` says "not run".
        503 => OutcomeClass::Unavailable,
        401 if api == Api::V3 => OutcomeClass::TokenExpired,
        _ => of_class(ErrorClass::from_status(status)),
    }
}

/// The outcome of an error of this class.
fn of_class(class: ErrorClass) -> OutcomeClass {
    match class {
        ErrorClass::RateLimited => OutcomeClass::RateLimited,
        ErrorClass::OperatingLimit => OutcomeClass::OperatingLimit,
        ErrorClass::Overloaded => OutcomeClass::Overloaded,
        ErrorClass::TokenExpired => OutcomeClass::TokenExpired,
        ErrorClass::Server => OutcomeClass::ServerError,
        ErrorClass::Unknown => OutcomeClass::Unrecognised,
        class => OutcomeClass::Rejected(class),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overload_is_not_rate_limit_even_on_503() {
        let c = ErrorCode::OverloadLimit;
        assert_eq!(
            classify(
                Api::V3,
                Observation::Error {
                    status: 503,
                    code: &c
                }
            ),
            OutcomeClass::Overloaded
        );
        assert_eq!(
            classify(Api::Classic, Observation::BareStatus { status: 503 }),
            OutcomeClass::Unavailable
        );
        assert!(!OutcomeClass::Unavailable.not_run());
    }

    #[test]
    fn any_401_on_v3_is_token_expired_but_not_on_classic() {
        let c = ErrorCode::NoAuthFound;
        assert_eq!(
            classify(
                Api::V3,
                Observation::Error {
                    status: 401,
                    code: &c
                }
            ),
            OutcomeClass::TokenExpired
        );
        assert_eq!(
            classify(
                Api::Classic,
                Observation::Error {
                    status: 401,
                    code: &c
                }
            ),
            OutcomeClass::Rejected(ErrorClass::Auth)
        );
    }
}
