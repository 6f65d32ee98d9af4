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

/// Whether a failed attempt may have reached the server: the core's
/// [`SentState`](b24_core::engine::SentState), one name for one concept.
pub use b24_core::engine::SentState;

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
#[derive(Debug)]
#[non_exhaustive]
pub enum TransportError {
    /// The address uses plain `http`, which is refused unless the host is a loopback
    /// address and plain HTTP to loopback was enabled on the builder. Nothing was sent.
    InsecureScheme,
    /// The request address cannot be used (no scheme or no host). Nothing was sent.
    InvalidAddress {
        /// Why (never the address itself).
        reason: &'static str,
    },
    /// The TCP connection could not be opened (DNS, refused, unreachable). Nothing
    /// was sent.
    Connect {
        /// The underlying failure.
        source: BoxError,
    },
    /// The TLS handshake failed (unknown certificate authority, name mismatch,
    /// protocol error). Nothing was sent.
    Tls {
        /// The underlying failure (usually a `rustls::Error` inside an `io::Error`).
        source: BoxError,
    },
    /// A time limit was hit.
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
    BodyTooLarge {
        /// The cap in bytes.
        limit: usize,
    },
    /// The HTTP exchange failed after the connection was up (reset, closed early,
    /// protocol error).
    Http {
        /// Whether the request may have been sent.
        sent: SentState,
        /// The underlying failure.
        source: BoxError,
    },
    /// Reading the response body failed (connection dropped, truncated body).
    Body {
        /// The underlying failure.
        source: BoxError,
    },
}

impl fmt::Display for TransportError {
    /// One line with the cause in words (`could not connect to the portal:
    /// connection refused`), never a URI.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TransportError::InsecureScheme => f.write_str(
                "plain http is refused: use https, or plain http to a loopback address \
                 with allow_plain_http_to_loopback(true)",
            ),
            TransportError::InvalidAddress { reason } => {
                write!(f, "the portal's address cannot be used: {reason}")
            }
            TransportError::Connect { source } => write!(
                f,
                "could not connect to the portal: {}",
                connect_cause(&**source)
            ),
            TransportError::Tls { source } => match certificate_problem(&**source) {
                Some(problem) => write!(f, "the portal's certificate was refused: {problem}"),
                None => write!(
                    f,
                    "the TLS handshake with the portal failed: {}",
                    root_cause(&**source)
                ),
            },
            TransportError::Timeout {
                stage,
                elapsed,
                sent,
            } => {
                let took = Rounded(*elapsed);
                match stage {
                    TimeoutStage::Connect => {
                        write!(f, "connecting to the portal took longer than {took}")
                    }
                    TimeoutStage::Attempt => {
                        write!(f, "the portal did not answer within {took} ({sent})")
                    }
                    TimeoutStage::Deadline => {
                        write!(f, "the call's deadline passed after {took} ({sent})")
                    }
                }
            }
            TransportError::BodyTooLarge { limit } => write!(
                f,
                "the portal's answer is larger than the cap of {limit} bytes"
            ),
            TransportError::Http { sent, source } => write!(
                f,
                "the connection to the portal failed: {} ({sent})",
                root_cause(&**source)
            ),
            TransportError::Body { source } => write!(
                f,
                "reading the portal's answer failed: {}",
                root_cause(&**source)
            ),
        }
    }
}

impl StdError for TransportError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            TransportError::Connect { source }
            | TransportError::Tls { source }
            | TransportError::Http { source, .. }
            | TransportError::Body { source } => Some(&**source),
            TransportError::InsecureScheme
            | TransportError::InvalidAddress { .. }
            | TransportError::Timeout { .. }
            | TransportError::BodyTooLarge { .. } => None,
        }
    }
}

/// A duration as people read it: `250 ms`, `3.0 s`, `1 min 10 s`.
pub(crate) struct Rounded(pub(crate) Duration);

impl fmt::Display for Rounded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        if ms < 1_000 {
            write!(f, "{ms} ms")
        } else if ms < 60_000 {
            write!(f, "{}.{} s", ms / 1000, ms % 1000 / 100)
        } else {
            let secs = self.0.as_secs();
            match secs % 60 {
                0 => write!(f, "{} min", secs / 60),
                rest => write!(f, "{} min {rest} s", secs / 60),
            }
        }
    }
}

/// The innermost error of a chain (looking inside `io::Error`s), in its own words.
fn root_cause(err: &(dyn StdError + 'static)) -> String {
    let last = chain(err).last().unwrap_or(err);
    match last.downcast_ref::<std::io::Error>().and_then(io_words) {
        Some(words) => words,
        None => last.to_string(),
    }
}

/// An `io::Error` with a plain kind says it best by its kind ("connection refused");
/// one with a custom payload or an OS code outside the known kinds, by its text.
fn io_words(io: &std::io::Error) -> Option<String> {
    if io.get_ref().is_some() {
        return None;
    }
    let words = io.kind().to_string();
    (words != "uncategorized error" && words != "other error").then_some(words)
}

/// Why connecting failed, in words.
fn connect_cause(err: &(dyn StdError + 'static)) -> String {
    find_in_chain::<std::io::Error>(err)
        .and_then(io_words)
        .unwrap_or_else(|| root_cause(err))
}

/// What is wrong with the portal's certificate, when that is why TLS failed:
/// repeating cannot help.
pub(crate) fn certificate_problem(err: &(dyn StdError + 'static)) -> Option<String> {
    use rustls::CertificateError as C;
    let rustls_err = find_in_chain::<rustls::Error>(err)?;
    let rustls::Error::InvalidCertificate(cert) = rustls_err else {
        return None;
    };
    Some(match cert {
        C::UnknownIssuer => "it is signed by an unknown authority (add the portal's CA with \
                             add_root_certificate_pem, or check the host)"
            .to_owned(),
        C::NotValidForName | C::NotValidForNameContext { .. } => {
            "it is not valid for the portal's host name".to_owned()
        }
        C::Expired | C::ExpiredContext { .. } => "it has expired".to_owned(),
        C::NotValidYet | C::NotValidYetContext { .. } => "it is not valid yet".to_owned(),
        C::Revoked => "it has been revoked".to_owned(),
        other => format!("{other:?}"),
    })
}

impl From<TransportError> for b24_core::engine::TransportFailure {
    /// The engine's view of the failure; the typed error rides along as the source.
    fn from(err: TransportError) -> Self {
        b24_core::engine::TransportFailure::new(err.kind(), err.sent_state()).with_source(err)
    }
}

impl TransportError {
    /// The engine's words for this failure: what it decides retries by. A refused
    /// certificate and a refused address are permanent (repeating cannot help).
    pub fn kind(&self) -> b24_core::engine::TransportErrorKind {
        use b24_core::engine::TransportErrorKind as K;
        match self {
            TransportError::InsecureScheme | TransportError::InvalidAddress { .. } => K::Address,
            TransportError::Tls { source } if certificate_problem(&**source).is_some() => {
                K::Certificate
            }
            TransportError::Connect { .. } | TransportError::Tls { .. } => K::Connect,
            TransportError::Timeout { .. } => K::Timeout,
            TransportError::BodyTooLarge { .. } => K::BodyTooLarge,
            TransportError::Http { .. } => K::ConnectionClosed,
            TransportError::Body { .. } => K::Body,
        }
    }

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
    chain(err).find_map(|e| e.downcast_ref::<T>())
}

/// An error and its causes, looking inside `io::Error`s too (their `source()` skips
/// the error they wrap); at most 33 links, so a cyclic chain ends.
fn chain<'a>(
    err: &'a (dyn StdError + 'static),
) -> impl Iterator<Item = &'a (dyn StdError + 'static)> {
    std::iter::successors(Some(err), |&e: &&'a (dyn StdError + 'static)| {
        match e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner as &(dyn StdError + 'static)),
            None => e.source(),
        }
    })
    .take(33)
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
    /// The client could not be built (so that a program's setup and calls can share
    /// one error type).
    #[error(transparent)]
    Build(#[from] BuildError),
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
            Error::Transport(_)
            | Error::Paging { .. }
            | Error::MissingInReply { .. }
            | Error::Build(_) => None,
        }
    }

    /// The portal's error answer behind this error, if there was one.
    pub fn api_error(&self) -> Option<&b24_types::ApiError> {
        match self {
            Error::Core(e) => e.api_error(),
            Error::Transport(_)
            | Error::Paging { .. }
            | Error::MissingInReply { .. }
            | Error::Build(_) => None,
        }
    }

    /// The class of an API error (validation, permission, rate limit, ...).
    pub fn class(&self) -> Option<b24_types::ErrorClass> {
        match self {
            Error::Core(e) => e.class(),
            Error::Transport(_)
            | Error::Paging { .. }
            | Error::MissingInReply { .. }
            | Error::Build(_) => None,
        }
    }

    /// The HTTP status, when a response was received.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Core(e) => e.status(),
            Error::Transport(_)
            | Error::Paging { .. }
            | Error::MissingInReply { .. }
            | Error::Build(_) => None,
        }
    }

    /// The transport failure that ended the call, if that is what ended it: found
    /// through the core's `Transport` error (and the last error of a call that ran out
    /// of attempts or time).
    pub fn transport(&self) -> Option<&TransportError> {
        match self {
            Error::Transport(e) => Some(e),
            Error::Core(e) => core_transport(e),
            Error::Paging { .. } | Error::MissingInReply { .. } | Error::Build(_) => None,
        }
    }

    /// True when the call ended on a timeout: an attempt or connect timeout, or the
    /// call's deadline.
    pub fn is_timeout(&self) -> bool {
        match self {
            Error::Transport(e) => e.is_timeout(),
            Error::Core(e) => core_is_timeout(e),
            Error::Paging { .. } | Error::MissingInReply { .. } | Error::Build(_) => false,
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

impl From<b24_types::IdError> for Error {
    fn from(e: b24_types::IdError) -> Self {
        Error::Core(e.into())
    }
}

impl From<b24_core::InputError> for Error {
    fn from(e: b24_core::InputError) -> Self {
        Error::Core(e.into())
    }
}
