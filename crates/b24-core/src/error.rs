//! The core's error type.

use std::fmt;

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
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The portal answered with an error, in either shape, whatever the status.
    Api(Box<ApiError>),
    /// Bad input, found before any request was built.
    InvalidInput(InputError),
    /// A body could not be decoded as the expected JSON.
    Decode {
        /// The HTTP status.
        status: u16,
        /// The JSON path where decoding failed (`result.item.id`), or `.` for the root.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// The response was not JSON at all (an HTML error page, say).
    UnexpectedBody {
        /// The HTTP status.
        status: u16,
        /// A short, scrubbed start of the body.
        snippet: String,
    },
    /// The method's operating-time budget is spent and resets later than the call
    /// may wait ([`RetryPolicy::max_operating_wait`](crate::engine::RetryPolicy::max_operating_wait)).
    /// After a hold or a 429 with one of the platform's operating-limit codes, calls of
    /// this method will be refused until `reset_at`; other methods are not affected. A
    /// 429 with another code (or none) ends only this call so.
    OperatingLimit {
        /// The method: for a hold before sending, the held one (for a batch, the held
        /// command's method); after a 429, the method called (for a batch, `batch`:
        /// the portal does not say which command was refused, so every command's
        /// method is held until `reset_at`).
        method: String,
        /// When calls of the method may go again: the portal's `operating_reset_at`
        /// plus the reset margin (1 s by default, for the whole-second figure and clock
        /// skew), or an estimate when no reset time is known.
        reset_at: crate::engine::Timestamp,
        /// The portal's 429 answer, when there was one (a hold before sending has none).
        last: Option<Box<ApiError>>,
    },
    /// Every allowed attempt failed with a retryable outcome; `last` is the last one.
    RetriesExhausted {
        /// Attempts made.
        attempts: u32,
        /// The last attempt's error.
        last: Box<Error>,
    },
    /// The transport failed and the call could not (or could no longer) be repeated.
    Transport {
        /// What failed.
        kind: crate::engine::TransportErrorKind,
        /// Whether the request may have reached the server.
        sent: crate::engine::SentState,
        /// The adapter's underlying error, if it gave one (never holds a URI).
        source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
    },
    /// Refreshing the OAuth access token failed.
    TokenRefresh(crate::engine::RefreshError),
    /// The portal refused a freshly refreshed access token too (a second 401).
    TokenRejected {
        /// The HTTP status (401).
        status: u16,
        /// The portal's answer, when it was an error body.
        last: Option<Box<ApiError>>,
    },
    /// The call's overall deadline passed, or would pass before the next attempt.
    DeadlineExceeded {
        /// Attempts made.
        attempts: u32,
        /// The last attempt's error, if an attempt had failed.
        last: Option<Box<Error>>,
    },
    /// A write may have run on the portal, and b24 cannot tell whether it did:
    /// **check before repeating it** (look for the created object, say).
    ///
    /// It ends a call when:
    ///
    /// - an attempt is refused with 422 `BITRIX_REST_V3_EXCEPTION_IDEMPOTENCYKEYREUSEDEXCEPTION`
    ///   after an earlier attempt of the same call may have run (a transport failure
    ///   after sending, a 5xx). With OAuth the access token is part of the body, so
    ///   after a token refresh the same key goes out with another body: the portal
    ///   refuses it because it holds a stored answer for the key, which means the
    ///   earlier attempt may well have succeeded;
    /// - a write that no key protects meets a 503 without an error code (a gateway's
    ///   page, an empty body): unlike `QUERY_LIMIT_EXCEEDED`, such an answer may come
    ///   after the portal ran the write.
    ///
    /// `last` is the answer that ended the call; [`Error::code`], [`Error::status`] and
    /// [`Error::class`] follow it.
    WriteOutcomeUnknown {
        /// Attempts made.
        attempts: u32,
        /// The answer that ended the call.
        last: Box<Error>,
    },
    /// An exchange was driven out of order (a bug in the adapter driving it).
    ExchangeMisuse(&'static str),

    /// A shared-state store (the request bucket, the operating budgets, the token
    /// pair) failed on an operation the call needed before sending: nothing was sent.
    Store(crate::engine::StoreError),
}

impl Error {
    /// The API error code of the portal's answer behind this error (see
    /// [`Error::api_error`]).
    pub fn code(&self) -> Option<&ErrorCode> {
        self.api_error().map(|e| &e.code)
    }

    /// The HTTP status, when a response was received. Like the other accessors it
    /// follows `last` through [`Error::RetriesExhausted`], [`Error::WriteOutcomeUnknown`],
    /// [`Error::DeadlineExceeded`],
    /// [`Error::OperatingLimit`] and [`Error::TokenRejected`]; it also answers for
    /// bodies that were not an error answer ([`Error::Decode`],
    /// [`Error::UnexpectedBody`]) and for a failed token refresh.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api(e) => Some(e.status),
            Error::Decode { status, .. } | Error::UnexpectedBody { status, .. } => Some(*status),
            Error::InvalidInput(_) => None,
            Error::OperatingLimit { last, .. } => last.as_ref().map(|e| e.status),
            Error::RetriesExhausted { last, .. } | Error::WriteOutcomeUnknown { last, .. } => {
                last.status()
            }
            Error::DeadlineExceeded { last, .. } => last.as_ref().and_then(|e| e.status()),
            Error::TokenRefresh(e) => e.status,
            Error::TokenRejected { status, .. } => Some(*status),
            Error::Transport { .. } | Error::ExchangeMisuse(_) | Error::Store(_) => None,
        }
    }

    /// The portal's error answer behind this error: the [`ApiError`] of
    /// [`Error::Api`], or the `last` answer of [`Error::RetriesExhausted`],
    /// [`Error::WriteOutcomeUnknown`],
    /// [`Error::DeadlineExceeded`] (followed through to the last attempt's error),
    /// [`Error::OperatingLimit`] and [`Error::TokenRejected`]. `None` when no error
    /// answer was received (a hold before sending, a transport failure, bad input).
    ///
    /// [`Error::code`], [`Error::class`] and [`Error::status`] follow `last` the same
    /// way, so a call that gave up after repeated `QUERY_LIMIT_EXCEEDED` answers has
    /// `class() == Some(ErrorClass::RateLimited)`; match on the variant to tell a
    /// final answer from one the engine gave up on.
    pub fn api_error(&self) -> Option<&ApiError> {
        match self {
            Error::Api(e) => Some(e),
            Error::OperatingLimit { last, .. } | Error::TokenRejected { last, .. } => {
                last.as_deref()
            }
            Error::RetriesExhausted { last, .. } | Error::WriteOutcomeUnknown { last, .. } => {
                last.api_error()
            }
            Error::DeadlineExceeded { last, .. } => last.as_deref().and_then(Error::api_error),
            Error::InvalidInput(_)
            | Error::Decode { .. }
            | Error::UnexpectedBody { .. }
            | Error::Transport { .. }
            | Error::TokenRefresh(_)
            | Error::ExchangeMisuse(_)
            | Error::Store(_) => None,
        }
    }

    /// The class of the portal's error answer behind this error (see
    /// [`Error::api_error`]), by [`ApiError::class`].
    pub fn class(&self) -> Option<ErrorClass> {
        self.api_error().map(ApiError::class)
    }

    /// The error of the last attempt behind this one: follows `last` through
    /// [`Error::RetriesExhausted`], [`Error::WriteOutcomeUnknown`] and
    /// [`Error::DeadlineExceeded`] (when an attempt had failed before the deadline);
    /// any other error is its own last attempt. For transports that want their own
    /// error back out of a [`Error::Transport`] source, whatever wraps it.
    pub fn last_attempt(&self) -> &Error {
        match self {
            Error::RetriesExhausted { last, .. } | Error::WriteOutcomeUnknown { last, .. } => {
                last.last_attempt()
            }
            Error::DeadlineExceeded {
                last: Some(last), ..
            } => last.last_attempt(),
            other => other,
        }
    }
}

impl fmt::Display for Error {
    /// The whole story on one line: what ended the call, then what caused it, down
    /// to the root cause (`gave up after 4 attempts: could not connect to the
    /// portal: connection refused`). [`source`](std::error::Error::source) still
    /// gives each layer, for code that inspects them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Api(e) => write!(f, "the portal answered {e}"),
            Error::InvalidInput(e) => write!(f, "{e}; nothing was sent"),
            Error::Decode {
                status,
                path,
                message,
            } => write!(
                f,
                "could not read the portal's answer (HTTP {status}) at `{path}`: {message}"
            ),
            Error::UnexpectedBody { status, snippet } => write!(
                f,
                "the portal's answer is not JSON (HTTP {status}): {snippet}"
            ),
            Error::OperatingLimit {
                method,
                reset_at,
                last,
            } => {
                write!(
                    f,
                    "the operating-time limit of `{method}` is spent until {}",
                    crate::engine::Utc(*reset_at)
                )?;
                if let Some(last) = last {
                    write!(f, ": the portal answered {last}")?;
                }
                Ok(())
            }
            Error::RetriesExhausted { attempts, last } => {
                write!(f, "gave up after {attempts} attempts: {last}")
            }
            Error::Transport { kind, sent, source } => match source {
                // The adapter's error tells its own cause (see
                // `TransportFailure::with_source`).
                Some(source) => {
                    let text = source.to_string();
                    f.write_str(&text)?;
                    let sent = sent.to_string();
                    if !kind.is_permanent() && !text.contains(&sent) {
                        write!(f, " ({sent})")?;
                    }
                    Ok(())
                }
                None => write!(f, "{kind} ({sent})"),
            },
            Error::TokenRefresh(e) => write!(f, "refreshing the access token failed: {e}"),
            Error::TokenRejected { status, last } => {
                write!(
                    f,
                    "the portal refused the refreshed access token too (HTTP {status})"
                )?;
                if let Some(last) = last {
                    write!(f, ": {last}")?;
                }
                Ok(())
            }
            Error::DeadlineExceeded { attempts, last } => {
                write!(f, "the call's deadline passed after {attempts} attempts")?;
                if let Some(last) = last {
                    write!(f, ": {last}")?;
                }
                Ok(())
            }
            Error::WriteOutcomeUnknown { attempts, last } => write!(
                f,
                "the write may have run on the portal; check before repeating it \
                 ({attempts} attempts): {last}"
            ),
            Error::ExchangeMisuse(what) => write!(f, "exchange driven out of order: {what}"),
            Error::Store(e) => write!(f, "{e}; nothing was sent"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Api(_) | Error::Decode { .. } | Error::UnexpectedBody { .. } => None,
            Error::ExchangeMisuse(_) => None,
            Error::InvalidInput(e) => Some(e),
            Error::OperatingLimit { last, .. } | Error::TokenRejected { last, .. } => last
                .as_deref()
                .map(|e| e as &(dyn std::error::Error + 'static)),
            Error::RetriesExhausted { last, .. } | Error::WriteOutcomeUnknown { last, .. } => {
                Some(&**last)
            }
            Error::DeadlineExceeded { last, .. } => last
                .as_deref()
                .map(|e| e as &(dyn std::error::Error + 'static)),
            Error::Transport { source, .. } => source
                .as_deref()
                .map(|e| e as &(dyn std::error::Error + 'static)),
            Error::TokenRefresh(e) => Some(e),
            Error::Store(e) => Some(e),
        }
    }
}

impl From<InputError> for Error {
    fn from(e: InputError) -> Self {
        Error::InvalidInput(e)
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

#[cfg(test)]
mod last_attempt_tests {
    use super::*;
    use crate::engine::{SentState, TransportErrorKind};

    fn transport() -> Error {
        Error::Transport {
            kind: TransportErrorKind::Timeout,
            sent: SentState::MaybeSent,
            source: None,
        }
    }

    #[test]
    fn follows_every_wrapper_to_the_last_attempt() {
        let nested = Error::DeadlineExceeded {
            attempts: 3,
            last: Some(Box::new(Error::RetriesExhausted {
                attempts: 2,
                last: Box::new(Error::WriteOutcomeUnknown {
                    attempts: 2,
                    last: Box::new(transport()),
                }),
            })),
        };
        assert!(matches!(
            nested.last_attempt(),
            Error::Transport {
                kind: TransportErrorKind::Timeout,
                ..
            }
        ));
        let bare = Error::DeadlineExceeded {
            attempts: 0,
            last: None,
        };
        assert!(matches!(
            bare.last_attempt(),
            Error::DeadlineExceeded { .. }
        ));
        assert!(matches!(
            transport().last_attempt(),
            Error::Transport { .. }
        ));
    }
}
