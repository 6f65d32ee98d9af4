//! What an adapter reports when a request failed below HTTP.

use std::fmt;

/// Whether a failed request may have reached the server.
///
/// This is what decides whether a write may be repeated: a request that cannot
/// have reached the server can always be sent again, one that may have reached it
/// only when repeating is harmless or the request carries an idempotency key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SentState {
    /// The request cannot have reached the server: the connection could not be
    /// made (DNS, refused, TLS handshake) or broke before any byte of the request
    /// was written.
    NotSent,
    /// The request may have reached the server and may have run: a timeout after
    /// writing began, a connection reset while awaiting the answer, a truncated or
    /// unreadable response body.
    MaybeSent,
}

impl fmt::Display for SentState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SentState::NotSent => "nothing was sent",
            SentState::MaybeSent => "the request may have reached the portal",
        })
    }
}

/// What kind of transport failure happened (for logs, metrics and errors).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TransportErrorKind {
    /// Connecting failed (DNS, refused, unreachable, a TLS handshake that broke
    /// off). Repeating may help.
    Connect,
    /// The portal's certificate was refused (an unknown authority, another host's
    /// name, expired): repeating cannot help, so the call ends at once.
    Certificate,
    /// The address may not be used (plain `http` where only `https` is allowed, no
    /// host): repeating cannot help, so the call ends at once.
    Address,
    /// The attempt took longer than the adapter's per-attempt timeout.
    Timeout,
    /// The connection was closed or reset while sending or awaiting the answer.
    ConnectionClosed,
    /// The response body ended early or could not be read.
    Body,
    /// The response body was larger than the adapter accepts.
    BodyTooLarge,
    /// Anything else.
    Other,
}

impl TransportErrorKind {
    /// Whether repeating the request cannot succeed either (a refused certificate, an
    /// address that may not be used): the engine ends the call at once.
    pub fn is_permanent(self) -> bool {
        matches!(
            self,
            TransportErrorKind::Certificate | TransportErrorKind::Address
        )
    }
}

impl fmt::Display for TransportErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TransportErrorKind::Connect => "could not connect to the portal",
            TransportErrorKind::Certificate => "the portal's certificate was refused",
            TransportErrorKind::Address => "the portal's address may not be used",
            TransportErrorKind::Timeout => "the portal did not answer in time",
            TransportErrorKind::ConnectionClosed => "the connection to the portal was closed",
            TransportErrorKind::Body => "the answer could not be read",
            TransportErrorKind::BodyTooLarge => "the answer is larger than the size cap",
            TransportErrorKind::Other => "transport failure",
        })
    }
}

/// A failed attempt as the adapter reports it to
/// [`Exchange::handle_transport_error`](super::Exchange::handle_transport_error).
///
/// The optional source is kept for the caller's error chain, and its `Display` is
/// what the call's error shows for the failure, so it should name the cause in
/// words ("could not connect: connection refused"), not only its own layer. An
/// adapter must make sure it holds no URI (webhook URLs carry a secret in their
/// path).
pub struct TransportFailure {
    sent: SentState,
    kind: TransportErrorKind,
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl TransportFailure {
    /// A failure of the given kind and sent state.
    pub fn new(kind: TransportErrorKind, sent: SentState) -> Self {
        Self {
            sent,
            kind,
            source: None,
        }
    }

    /// A connection that could not be made: never sent.
    pub fn connect() -> Self {
        Self::new(TransportErrorKind::Connect, SentState::NotSent)
    }

    /// A timeout after the request started to be written: maybe sent.
    pub fn timeout() -> Self {
        Self::new(TransportErrorKind::Timeout, SentState::MaybeSent)
    }

    /// Attaches the underlying error (it must not contain the request URI).
    pub fn with_source(
        mut self,
        source: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
    ) -> Self {
        self.source = Some(source.into());
        self
    }

    /// Whether the request may have reached the server.
    pub fn sent(&self) -> SentState {
        self.sent
    }

    /// What kind of failure it was.
    pub fn kind(&self) -> TransportErrorKind {
        self.kind
    }

    pub(crate) fn into_parts(
        self,
    ) -> (
        SentState,
        TransportErrorKind,
        Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
    ) {
        (self.sent, self.kind, self.source)
    }
}

impl fmt::Debug for TransportFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TransportFailure")
            .field("sent", &self.sent)
            .field("kind", &self.kind)
            .field("has_source", &self.source.is_some())
            .finish()
    }
}

impl From<TransportFailure> for crate::Error {
    /// The error a call ends with when this failure is final.
    fn from(failure: TransportFailure) -> Self {
        let (sent, kind, source) = failure.into_parts();
        crate::Error::Transport { kind, sent, source }
    }
}
