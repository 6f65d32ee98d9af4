//! Transport and builder errors.
//!
//! No error here ever holds or prints a URI: a webhook URL carries its secret in the
//! path. Errors keep their source chain, so callers can still reach the underlying
//! `io::Error` or `rustls::Error`.

use std::error::Error as StdError;
use std::fmt;
use std::time::Duration;

/// A boxed source error.
pub(crate) type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// Whether a failed attempt may have reached the server.
///
/// A write that failed with [`SentState::NotSent`] can be repeated without risk; one that
/// failed with [`SentState::MaybeSent`] may already have run on the portal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SentState {
    /// No byte of the request left this process (connect, TLS or address failure).
    NotSent,
    /// The request may have been sent, in part or in full.
    MaybeSent,
}

/// Which limit a timeout hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TimeoutStage {
    /// Opening the connection (TCP and TLS handshake) took longer than the connect
    /// timeout. Nothing was sent.
    Connect,
    /// One attempt (send plus reading the whole response) took longer than the
    /// per-attempt timeout.
    Attempt,
    /// The overall deadline of the call passed.
    Deadline,
}

/// A failure to move a request or its response.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The address uses plain `http`, which is refused unless the host is a loopback
    /// address and plain HTTP to loopback was enabled on the builder. Nothing was sent.
    #[error(
        "plain http is refused: only https is allowed (plain http only to a loopback host, when enabled on the builder)"
    )]
    InsecureScheme,
    /// The request address cannot be used (no scheme or no host). Nothing was sent.
    #[error("invalid request address: {reason}")]
    InvalidAddress {
        /// Why (never the address itself).
        reason: &'static str,
    },
    /// The TCP connection could not be opened (DNS, refused, unreachable). Nothing
    /// was sent.
    #[error("could not connect to the portal")]
    Connect {
        /// The underlying failure.
        #[source]
        source: BoxError,
    },
    /// The TLS handshake failed (unknown certificate authority, name mismatch,
    /// protocol error). Nothing was sent.
    #[error("TLS handshake with the portal failed")]
    Tls {
        /// The underlying failure (usually a `rustls::Error` inside an `io::Error`).
        #[source]
        source: BoxError,
    },
    /// A time limit was hit.
    #[error("timed out ({stage:?}) after {elapsed:?}")]
    Timeout {
        /// Which limit.
        stage: TimeoutStage,
        /// How long the attempt had run.
        elapsed: Duration,
        /// Whether the request may have been sent: [`SentState::NotSent`] when the
        /// limit passed before a connection was ready for the request (still
        /// connecting), [`SentState::MaybeSent`] after.
        sent: SentState,
    },
    /// The response body was larger than the configured cap; reading stopped there.
    #[error("response body exceeds the limit of {limit} bytes")]
    BodyTooLarge {
        /// The cap in bytes.
        limit: usize,
    },
    /// The HTTP exchange failed after the connection was up (reset, closed early,
    /// protocol error).
    #[error("HTTP exchange with the portal failed")]
    Http {
        /// Whether the request may have been sent.
        sent: SentState,
        /// The underlying failure.
        #[source]
        source: BoxError,
    },
    /// Reading the response body failed (connection dropped, truncated body).
    #[error("reading the response body failed")]
    Body {
        /// The underlying failure.
        #[source]
        source: BoxError,
    },
}

impl TransportError {
    /// Whether the request may have reached the server.
    pub fn sent_state(&self) -> SentState {
        match self {
            TransportError::InsecureScheme
            | TransportError::InvalidAddress { .. }
            | TransportError::Connect { .. }
            | TransportError::Tls { .. } => SentState::NotSent,
            TransportError::Timeout { sent, .. } | TransportError::Http { sent, .. } => *sent,
            TransportError::BodyTooLarge { .. } | TransportError::Body { .. } => {
                SentState::MaybeSent
            }
        }
    }

    /// A short, stable name of the failure's kind (`connect`, `tls`, `timeout`,
    /// `http`, `body`, `body_too_large`, `insecure_scheme`, `invalid_address`), for
    /// traces and metrics.
    pub fn kind_name(&self) -> &'static str {
        match self {
            TransportError::InsecureScheme => "insecure_scheme",
            TransportError::InvalidAddress { .. } => "invalid_address",
            TransportError::Connect { .. } => "connect",
            TransportError::Tls { .. } => "tls",
            TransportError::Timeout { .. } => "timeout",
            TransportError::BodyTooLarge { .. } => "body_too_large",
            TransportError::Http { .. } => "http",
            TransportError::Body { .. } => "body",
        }
    }

    /// True for any timeout.
    pub fn is_timeout(&self) -> bool {
        matches!(self, TransportError::Timeout { .. })
    }

    /// True when the connection could not be opened (TCP, TLS or connect timeout).
    pub fn is_connect(&self) -> bool {
        matches!(
            self,
            TransportError::Connect { .. }
                | TransportError::Tls { .. }
                | TransportError::Timeout {
                    stage: TimeoutStage::Connect,
                    ..
                }
        )
    }
}

/// Why a client could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// An extra root certificate could not be read from PEM.
    #[error("invalid PEM root certificate: {reason}")]
    InvalidPem {
        /// Why.
        reason: String,
    },
    /// A root certificate was rejected by the trust store.
    #[error("root certificate rejected")]
    RootCertificate(#[source] rustls::Error),
    /// No root certificate is trusted: built-in roots are off and no extra CA was given.
    #[error("no trusted root certificates: enable a root feature or add a CA certificate")]
    NoRoots,
    /// The operating system's root certificates could not be loaded.
    #[cfg(feature = "native-roots")]
    #[error("could not load the system root certificates: {reason}")]
    NativeRoots {
        /// Why.
        reason: String,
    },
    /// The TLS configuration was rejected.
    #[error("TLS configuration rejected")]
    Tls(#[source] rustls::Error),
    /// The `User-Agent` is not a valid header value.
    #[error("invalid User-Agent value")]
    UserAgent,
    /// A numeric setting is out of range.
    #[error("invalid setting `{setting}`: {reason}")]
    Setting {
        /// The setting.
        setting: &'static str,
        /// Why.
        reason: &'static str,
    },
}

/// The connector's own failure, found again in the pool's error chain.
#[derive(Debug)]
pub(crate) enum ConnectFailure {
    /// Plain http to a host that may not get it.
    InsecureScheme,
    /// The address has no host.
    NoHost,
    /// TCP (including DNS).
    Tcp(BoxError),
    /// TLS handshake.
    Tls(BoxError),
    /// The connect timeout passed.
    Timeout(Duration),
}

impl fmt::Display for ConnectFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectFailure::InsecureScheme => f.write_str("plain http refused"),
            ConnectFailure::NoHost => f.write_str("address has no host"),
            ConnectFailure::Tcp(_) => f.write_str("tcp connect failed"),
            ConnectFailure::Tls(_) => f.write_str("tls handshake failed"),
            ConnectFailure::Timeout(d) => write!(f, "connect timed out after {d:?}"),
        }
    }
}

impl StdError for ConnectFailure {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            ConnectFailure::Tcp(e) | ConnectFailure::Tls(e) => Some(&**e),
            _ => None,
        }
    }
}

impl ConnectFailure {
    /// What kind of failure this is, detached from the error's lifetime.
    pub(crate) fn kind(&self) -> FailureKind {
        match self {
            ConnectFailure::InsecureScheme => FailureKind::InsecureScheme,
            ConnectFailure::NoHost => FailureKind::NoHost,
            ConnectFailure::Tcp(_) => FailureKind::Tcp,
            ConnectFailure::Tls(_) => FailureKind::Tls,
            ConnectFailure::Timeout(d) => FailureKind::Timeout(*d),
        }
    }
}

/// The kind of a [`ConnectFailure`].
#[derive(Debug, Clone, Copy)]
pub(crate) enum FailureKind {
    InsecureScheme,
    NoHost,
    Tcp,
    Tls,
    Timeout(Duration),
}

impl FailureKind {
    /// The public error; `whole` is the pool's error holding the failure, kept as the
    /// source so the chain stays complete.
    pub(crate) fn into_transport(self, whole: BoxError) -> TransportError {
        match self {
            FailureKind::InsecureScheme => TransportError::InsecureScheme,
            FailureKind::NoHost => TransportError::InvalidAddress { reason: "no host" },
            FailureKind::Tcp => TransportError::Connect { source: whole },
            FailureKind::Tls => TransportError::Tls { source: whole },
            FailureKind::Timeout(elapsed) => TransportError::Timeout {
                stage: TimeoutStage::Connect,
                elapsed,
                sent: SentState::NotSent,
            },
        }
    }
}

/// Walks a source chain, looking inside `io::Error`s too (their `source()` skips the
/// error they wrap), and returns the first error of type `T`.
pub(crate) fn find_in_chain<'a, T: StdError + 'static>(
    err: &'a (dyn StdError + 'static),
) -> Option<&'a T> {
    let mut next: Option<&'a (dyn StdError + 'static)> = Some(err);
    let mut hops = 0u8;
    while let Some(e) = next {
        if let Some(found) = e.downcast_ref::<T>() {
            return Some(found);
        }
        hops = hops.saturating_add(1);
        if hops > 32 {
            return None;
        }
        next = match e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner as &(dyn StdError + 'static)),
            None => e.source(),
        };
    }
    None
}

/// Everything a call through the [`Client`](crate::Client) can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The portal refused the call, the input was invalid, or the answer could not be
    /// read: the core's error, with the API error code where there is one.
    #[error(transparent)]
    Core(#[from] b24_core::Error),
    /// The request could not be sent or its response could not be read.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// A list stream could not go on: a page brought nothing past the previous one
    /// (the portal ignored the keyset condition), so paging would never end.
    #[error("list paging stopped: {reason}")]
    Paging {
        /// Why, in short.
        reason: &'static str,
        /// The core's paging error (with the highest id seen).
        #[source]
        source: b24_core::paging::PagingError,
    },
    /// The portal's answer was read, but lacks something a helper of this crate needs
    /// from it (a task without a chat, for [`Client::task_chat_id`](crate::Client::task_chat_id)).
    /// The call itself succeeded; nothing was wrong with the input.
    #[error("the answer to {method} has no `{field}`")]
    MissingInReply {
        /// The method whose answer it was.
        method: &'static str,
        /// The field that is missing, as the portal names it (`chat.id`).
        field: &'static str,
    },
}

impl From<b24_core::paging::PagingError> for Error {
    fn from(source: b24_core::paging::PagingError) -> Self {
        let reason = match source {
            b24_core::paging::PagingError::NoProgress { .. } => {
                "a page held no result past the previous page"
            }
            _ => "the list had already ended",
        };
        Error::Paging { reason, source }
    }
}

impl Error {
    /// The API error code of the portal's answer behind this error. Like
    /// [`api_error`](Self::api_error), [`class`](Self::class) and
    /// [`status`](Self::status), it follows the core error's `last` answer (a call
    /// that gave up after repeated refusals answers with the last refusal's code).
    pub fn code(&self) -> Option<&b24_types::ErrorCode> {
        match self {
            Error::Core(e) => e.code(),
            Error::Transport(_) | Error::Paging { .. } | Error::MissingInReply { .. } => None,
        }
    }

    /// The portal's error answer behind this error, if there was one.
    pub fn api_error(&self) -> Option<&b24_types::ApiError> {
        match self {
            Error::Core(e) => e.api_error(),
            Error::Transport(_) | Error::Paging { .. } | Error::MissingInReply { .. } => None,
        }
    }

    /// The class of an API error (validation, permission, rate limit, ...).
    pub fn class(&self) -> Option<b24_types::ErrorClass> {
        match self {
            Error::Core(e) => e.class(),
            Error::Transport(_) | Error::Paging { .. } | Error::MissingInReply { .. } => None,
        }
    }

    /// The HTTP status, when a response was received.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Core(e) => e.status(),
            Error::Transport(_) | Error::Paging { .. } | Error::MissingInReply { .. } => None,
        }
    }

    /// The transport failure that ended the call, if that is what ended it: found
    /// through the core's `Transport` error (and the last error of a call that ran out
    /// of attempts or time).
    pub fn transport(&self) -> Option<&TransportError> {
        match self {
            Error::Transport(e) => Some(e),
            Error::Core(e) => core_transport(e),
            Error::Paging { .. } | Error::MissingInReply { .. } => None,
        }
    }

    /// True when the call ended on a timeout: an attempt or connect timeout, or the
    /// call's deadline.
    pub fn is_timeout(&self) -> bool {
        match self {
            Error::Transport(e) => e.is_timeout(),
            Error::Core(e) => core_is_timeout(e),
            Error::Paging { .. } | Error::MissingInReply { .. } => false,
        }
    }
}

/// The adapter's error inside a core error, following `last` links.
fn core_transport(e: &b24_core::Error) -> Option<&TransportError> {
    match e.last_attempt() {
        b24_core::Error::Transport {
            source: Some(source),
            ..
        } => source.downcast_ref::<TransportError>(),
        _ => None,
    }
}

fn core_is_timeout(e: &b24_core::Error) -> bool {
    matches!(e, b24_core::Error::DeadlineExceeded { .. })
        || matches!(
            e.last_attempt(),
            b24_core::Error::Transport {
                kind: b24_core::engine::TransportErrorKind::Timeout,
                ..
            }
        )
}

impl From<b24_core::InputError> for Error {
    fn from(e: b24_core::InputError) -> Self {
        Error::Core(e.into())
    }
}
