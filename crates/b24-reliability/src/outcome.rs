//! What a call ended with, reduced to what the reliability checks compare: the
//! variant of the error (never just "it failed"), and what it tells the caller about
//! whether a write ran.

use std::fmt;

use b24_core::engine::{RefreshFailure, SentState};
use b24_core::Reply;
use b24_types::ErrorCode;

/// The end of one call, by variant.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// `Ok`; `replayed` when the portal answered with its stored answer to the key.
    Ok {
        /// `Reply::replayed`.
        replayed: bool,
    },
    /// `Error::Api`: the portal's error answer.
    Api {
        /// The HTTP status.
        status: u16,
        /// The wire code.
        code: String,
    },
    /// `Error::UnexpectedBody`: an empty or non-JSON body.
    UnexpectedBody {
        /// The HTTP status.
        status: u16,
    },
    /// `Error::Decode`: JSON of the wrong shape.
    Decode {
        /// The HTTP status.
        status: u16,
    },
    /// `Error::Transport` (core) or `b24_hyper::Error::Transport`.
    Transport {
        /// The kind (`Timeout`, `ConnectionClosed`, `Body`, `BodyTooLarge`, ...).
        kind: String,
        /// Whether the request may have reached the portal.
        maybe_sent: bool,
    },
    /// `Error::WriteOutcomeUnknown`.
    WriteOutcomeUnknown {
        /// The answer that ended the call.
        last: Box<Outcome>,
    },
    /// `Error::RetriesExhausted`.
    RetriesExhausted {
        /// Requests sent.
        attempts: u32,
        /// The last attempt's end.
        last: Box<Outcome>,
    },
    /// `Error::DeadlineExceeded`.
    DeadlineExceeded {
        /// The last failed attempt's end, if any.
        last: Option<Box<Outcome>>,
    },
    /// `Error::OperatingLimit`.
    OperatingLimit {
        /// Whether the portal's 429 was received (else the call was held before
        /// sending).
        answered: bool,
    },
    /// `Error::TokenRefresh`.
    TokenRefresh {
        /// `RefreshFailure`, by name.
        failure: String,
        /// `RefreshError::needs_reauthorization`.
        reauthorize: bool,
    },
    /// `Error::TokenRejected`.
    TokenRejected,
    /// `Error::InvalidInput`.
    InvalidInput,
    /// Any other variant, by name.
    Other(String),
}

/// What an outcome tells the caller about whether a write ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Claim {
    /// It ran (`Ok`).
    Applied,
    /// It did not run: the portal refused it before running it, or it was never sent.
    NotApplied,
    /// It may have run: check before repeating it.
    Maybe,
}

impl Outcome {
    /// The outcome of a call's result.
    pub fn of<T>(result: &Result<Reply<T>, b24_hyper::Error>) -> Self {
        match result {
            Ok(reply) => Outcome::Ok {
                replayed: reply.replayed,
            },
            Err(err) => Self::of_error(err),
        }
    }

    /// The outcome of a helper that returns the result itself (no `Reply`): an `Ok`
    /// counts as not replayed.
    pub fn of_result<T>(result: &Result<T, b24_hyper::Error>) -> Self {
        match result {
            Ok(_) => Outcome::Ok { replayed: false },
            Err(err) => Self::of_error(err),
        }
    }

    /// The outcome of an adapter error.
    pub fn of_error(err: &b24_hyper::Error) -> Self {
        match err {
            b24_hyper::Error::Core(core) => Self::of_core(core),
            b24_hyper::Error::Transport(t) => Outcome::Transport {
                kind: t.kind_name().to_owned(),
                maybe_sent: t.sent_state() == b24_hyper::SentState::MaybeSent,
            },
            b24_hyper::Error::Paging { .. } => Outcome::Other("Paging".into()),
            b24_hyper::Error::MissingInReply { .. } => Outcome::Other("MissingInReply".into()),
            _ => Outcome::Other("unknown adapter error".into()),
        }
    }

    /// The outcome of a core error.
    pub fn of_core(err: &b24_core::Error) -> Self {
        use b24_core::Error as E;
        match err {
            E::Api(api) => Outcome::Api {
                status: api.status,
                code: api.code.as_str().to_owned(),
            },
            E::UnexpectedBody { status, .. } => Outcome::UnexpectedBody { status: *status },
            E::Decode { status, .. } => Outcome::Decode { status: *status },
            E::Transport { kind, sent, .. } => Outcome::Transport {
                kind: format!("{kind:?}"),
                maybe_sent: *sent == SentState::MaybeSent,
            },
            E::WriteOutcomeUnknown { last, .. } => Outcome::WriteOutcomeUnknown {
                last: Box::new(Self::of_core(last)),
            },
            E::RetriesExhausted { attempts, last } => Outcome::RetriesExhausted {
                attempts: *attempts,
                last: Box::new(Self::of_core(last)),
            },
            E::DeadlineExceeded { last, .. } => Outcome::DeadlineExceeded {
                last: last.as_deref().map(|l| Box::new(Self::of_core(l))),
            },
            E::OperatingLimit { last, .. } => Outcome::OperatingLimit {
                answered: last.is_some(),
            },
            E::TokenRefresh(refresh) => Outcome::TokenRefresh {
                failure: format!("{:?}", refresh.failure),
                reauthorize: refresh.needs_reauthorization(),
            },
            E::TokenRejected { .. } => Outcome::TokenRejected,
            E::InvalidInput(_) => Outcome::InvalidInput,
            E::ExchangeMisuse(_) => Outcome::Other("ExchangeMisuse".into()),
            _ => Outcome::Other("unknown core error".into()),
        }
    }

    /// The variant's name alone (`Ok`, `Api`, `RetriesExhausted`, ...), with the last
    /// attempt's variant for the wrapping ones (`RetriesExhausted(Transport)`).
    pub fn variant(&self) -> String {
        match self {
            Outcome::Ok { .. } => "Ok".into(),
            Outcome::Api { .. } => "Api".into(),
            Outcome::UnexpectedBody { .. } => "UnexpectedBody".into(),
            Outcome::Decode { .. } => "Decode".into(),
            Outcome::Transport { .. } => "Transport".into(),
            Outcome::WriteOutcomeUnknown { last } => {
                format!("WriteOutcomeUnknown({})", last.variant())
            }
            Outcome::RetriesExhausted { last, .. } => {
                format!("RetriesExhausted({})", last.variant())
            }
            Outcome::DeadlineExceeded { last } => match last {
                Some(l) => format!("DeadlineExceeded({})", l.variant()),
                None => "DeadlineExceeded".into(),
            },
            Outcome::OperatingLimit { .. } => "OperatingLimit".into(),
            Outcome::TokenRefresh { .. } => "TokenRefresh".into(),
            Outcome::TokenRejected => "TokenRejected".into(),
            Outcome::InvalidInput => "InvalidInput".into(),
            Outcome::Other(name) => name.clone(),
        }
    }

    /// What the outcome tells the caller of a write, by the documented meaning of
    /// each variant: a refusal that says the call was not run (`QUERY_LIMIT_EXCEEDED`,
    /// `OVERLOAD_LIMIT`, an operating limit, a 4xx, a refused token, a request never
    /// sent) is [`Claim::NotApplied`]; an answer that may follow a run (a 5xx, an
    /// unreadable body, a transport failure after sending, `WriteOutcomeUnknown`) is
    /// [`Claim::Maybe`]. A wrapping variant (`RetriesExhausted`, `DeadlineExceeded`)
    /// claims what its last attempt claims: the caller is told about that one.
    pub fn claim(&self) -> Claim {
        match self {
            Outcome::Ok { .. } => Claim::Applied,
            Outcome::Api { status, code } => {
                let not_run = code == ErrorCode::QueryLimitExceeded.as_str()
                    || code == ErrorCode::OverloadLimit.as_str()
                    || (400..500).contains(status);
                if not_run {
                    Claim::NotApplied
                } else {
                    Claim::Maybe
                }
            }
            Outcome::UnexpectedBody { .. } | Outcome::Decode { .. } => Claim::Maybe,
            Outcome::Transport { maybe_sent, .. } => {
                if *maybe_sent {
                    Claim::Maybe
                } else {
                    Claim::NotApplied
                }
            }
            Outcome::WriteOutcomeUnknown { .. } | Outcome::Other(_) => Claim::Maybe,
            Outcome::RetriesExhausted { last, .. } => last.claim(),
            Outcome::DeadlineExceeded { last } => match last {
                Some(l) => l.claim(),
                None => Claim::NotApplied,
            },
            Outcome::OperatingLimit { .. }
            | Outcome::TokenRefresh { .. }
            | Outcome::TokenRejected
            | Outcome::InvalidInput => Claim::NotApplied,
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Ok { replayed: false } => f.write_str("Ok"),
            Outcome::Ok { replayed: true } => f.write_str("Ok (replayed)"),
            Outcome::Api { status, code } => write!(f, "Api {status} {code}"),
            Outcome::UnexpectedBody { status } => write!(f, "UnexpectedBody {status}"),
            Outcome::Decode { status } => write!(f, "Decode {status}"),
            Outcome::Transport { kind, maybe_sent } => write!(
                f,
                "Transport {kind} {}",
                if *maybe_sent { "MaybeSent" } else { "NotSent" }
            ),
            Outcome::WriteOutcomeUnknown { last } => write!(f, "WriteOutcomeUnknown ({last})"),
            Outcome::RetriesExhausted { attempts, last } => {
                write!(f, "RetriesExhausted after {attempts} ({last})")
            }
            Outcome::DeadlineExceeded { last: Some(last) } => {
                write!(f, "DeadlineExceeded ({last})")
            }
            Outcome::DeadlineExceeded { last: None } => f.write_str("DeadlineExceeded"),
            Outcome::OperatingLimit { answered } => write!(
                f,
                "OperatingLimit ({})",
                if *answered { "429" } else { "held" }
            ),
            Outcome::TokenRefresh {
                failure,
                reauthorize,
            } => write!(
                f,
                "TokenRefresh {failure}{}",
                if *reauthorize { ", reauthorize" } else { "" }
            ),
            Outcome::TokenRejected => f.write_str("TokenRejected"),
            Outcome::InvalidInput => f.write_str("InvalidInput"),
            Outcome::Other(name) => f.write_str(name),
        }
    }
}

/// `RefreshFailure::InvalidGrant`, by the name [`Outcome::TokenRefresh`] carries.
pub fn invalid_grant() -> String {
    format!("{:?}", RefreshFailure::InvalidGrant)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_follow_the_documented_meaning() {
        let api = |status: u16, code: &str| Outcome::Api {
            status,
            code: code.into(),
        };
        assert_eq!(api(503, "QUERY_LIMIT_EXCEEDED").claim(), Claim::NotApplied);
        assert_eq!(api(503, "OVERLOAD_LIMIT").claim(), Claim::NotApplied);
        assert_eq!(api(400, "X").claim(), Claim::NotApplied);
        assert_eq!(api(500, "INTERNAL_SERVER_ERROR").claim(), Claim::Maybe);
        assert_eq!(api(200, "SOMETHING").claim(), Claim::Maybe);
        let closed = Outcome::Transport {
            kind: "ConnectionClosed".into(),
            maybe_sent: true,
        };
        assert_eq!(closed.claim(), Claim::Maybe);
        let exhausted = Outcome::RetriesExhausted {
            attempts: 4,
            last: Box::new(api(503, "QUERY_LIMIT_EXCEEDED")),
        };
        assert_eq!(exhausted.claim(), Claim::NotApplied);
        assert_eq!(exhausted.variant(), "RetriesExhausted(Api)");
        assert_eq!(Outcome::Ok { replayed: true }.claim(), Claim::Applied);
    }
}
