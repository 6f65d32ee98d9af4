//! b24-core over `ureq`: a real blocking transport in one `send` function.
//!
//! Run it with `cargo run -p b24-core --example ureq_transport`. It starts b24-emulator
//! over HTTPS on a background runtime, trusts the emulator's CA, then posts a message
//! to task 51's chat and turns it into the task's result, through
//! `b24_core::blocking::Driver`. The driver (with the core's engine inside) decides
//! about rate limits, retries, idempotency keys and waits; this file only sends a
//! request with ureq and says, when that fails, whether the request may have left.
//! docs/custom-transport.md walks through it.
#![allow(clippy::print_stdout)]

use std::fmt;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use b24_core::blocking::{Clock, Driver, Transport};
use b24_core::bytes::Bytes;
use b24_core::engine::{SentState, Timestamp, TransportErrorKind, TransportFailure};
use b24_core::methods::{DialogId, ImMessageAdd, TaskGet, TaskResultAddFromChatMessage};
use b24_core::types::{MessageId, ResultId, TaskId};
use b24_core::{http, Portal};
use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig};
use ureq::Timeout;

/// The largest response body read; a larger one fails as `BodyTooLarge`.
pub const MAX_BODY: u64 = 8 * 1024 * 1024;
/// Time allowed for resolving the host, connecting and the TLS handshake.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Time allowed for a whole attempt, body included, when the call sets no sooner
/// deadline.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(60);

/// The wall clock the driver tells time by; its waits block the thread.
#[derive(Debug, Clone, Copy)]
pub struct WallClock;

impl Clock for WallClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_system_time(std::time::SystemTime::now())
    }
    fn sleep(&self, d: Duration) {
        std::thread::sleep(d);
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let emulator = start_emulator()?;
    let transport = UreqTransport::new(Some(emulator.ca_pem.as_bytes()))?;
    let mut driver = Driver::new(transport, WallClock);
    let portal = Portal::webhook(&emulator.webhook_url)?;
    let summary = run_flow(
        &mut driver,
        &portal,
        TaskId::new(51)?,
        &mut std::io::stdout(),
    )?;
    println!(
        "done: message {} became result {}",
        summary.message_id, summary.result_id
    );
    Ok(())
}

// ---- The transport. ----

/// A [`Transport`] on a `ureq::Agent`: one pooled agent, no redirects, any status
/// returned as it is, a body cap and time limits cut to the engine's deadline.
#[derive(Debug)]
pub struct UreqTransport {
    agent: ureq::Agent,
    max_body: u64,
}

impl UreqTransport {
    /// A transport trusting the Mozilla roots plus, when given, the CA certificates in
    /// `extra_ca_pem` (a private portal's, or the emulator's).
    ///
    /// # Errors
    ///
    /// [`SetupError`] when `extra_ca_pem` cannot be read or holds no certificate.
    pub fn new(extra_ca_pem: Option<&[u8]>) -> Result<Self, SetupError> {
        let mut roots: Vec<Certificate<'static>> = webpki_root_certs::TLS_SERVER_ROOT_CERTS
            .iter()
            .map(|der| Certificate::from_der(der.as_ref()).to_owned())
            .collect();
        if let Some(pem) = extra_ca_pem {
            let before = roots.len();
            for item in ureq::tls::parse_pem(pem) {
                if let PemItem::Certificate(cert) = item.map_err(|_| SetupError::Pem)? {
                    roots.push(cert);
                }
            }
            if roots.len() == before {
                return Err(SetupError::NoCertificate);
            }
        }
        let tls = TlsConfig::builder()
            .root_certs(RootCerts::Specific(Arc::new(roots)))
            .build();
        let agent = ureq::Agent::config_builder()
            .tls_config(tls)
            // A 3xx goes to the engine as it is: following it could carry the webhook
            // secret (in the path) or a token (in the body) to another host.
            .max_redirects(0)
            // A 4xx or 5xx is an answer for the engine to classify, not an error.
            .http_status_as_error(false)
            // No proxy from the environment: this client talks to the portal directly.
            .proxy(None)
            .timeout_connect(Some(CONNECT_TIMEOUT))
            .build()
            .new_agent();
        Ok(Self {
            agent,
            max_body: MAX_BODY,
        })
    }

    /// The same transport with another body cap.
    #[must_use]
    pub fn max_body(mut self, bytes: u64) -> Self {
        self.max_body = bytes;
        self
    }
}

impl Transport for UreqTransport {
    fn send(
        &mut self,
        request: &http::Request<Bytes>,
        time_left: Option<Duration>,
    ) -> Result<http::Response<Bytes>, TransportFailure> {
        // The engine's deadline, within this client's own limit for an attempt.
        let budget = time_left.map_or(ATTEMPT_TIMEOUT, |left| left.min(ATTEMPT_TIMEOUT));
        if budget.is_zero() {
            // Out of time before connecting: nothing left.
            return Err(TransportFailure::new(
                TransportErrorKind::Timeout,
                SentState::NotSent,
            ));
        }
        let mut outgoing = http::Request::builder()
            .method(request.method().clone())
            .uri(request.uri().clone())
            .body(request.body().as_ref())
            .map_err(|_| {
                let (kind, sent) = (TransportErrorKind::Other, SentState::NotSent);
                failure(kind, sent, Cause::BadRequest)
            })?;
        *outgoing.headers_mut() = request.headers().clone();
        let outgoing = self
            .agent
            .configure_request(outgoing)
            // The whole attempt, body included, ends at the deadline.
            .timeout_global(Some(budget))
            .timeout_connect(Some(budget.min(CONNECT_TIMEOUT)))
            .build();
        let mut response = self.agent.run(outgoing).map_err(map_error)?;
        let body = response
            .body_mut()
            .with_config()
            .limit(self.max_body)
            .read_to_vec()
            .map_err(map_error)?;
        // Status, version and headers only: ureq's extensions hold the URI.
        let mut answer = http::Response::builder()
            .status(response.status())
            .version(response.version())
            .body(Bytes::from(body))
            .map_err(|_| {
                let (kind, sent) = (TransportErrorKind::Body, SentState::MaybeSent);
                failure(kind, sent, Cause::BadResponse)
            })?;
        *answer.headers_mut() = response.headers().clone();
        Ok(answer)
    }
}

/// Maps a ureq error to the engine's failure: its kind, and whether the request may
/// have left (the sent-state rule: `NotSent` only when no byte can have left).
pub fn map_error(err: ureq::Error) -> TransportFailure {
    use ureq::Error as E;
    use SentState::{MaybeSent, NotSent};
    use TransportErrorKind as K;
    let (kind, sent, cause) = match err {
        // Resolving the host failed: no connection, nothing sent.
        E::HostNotFound => (K::Connect, NotSent, Cause::HostNotFound),
        // ureq's "no connector produced a connection": nothing sent.
        E::ConnectionFailed => (K::Connect, NotSent, Cause::ConnectionFailed),
        // Timed out resolving or connecting (TLS handshake included): nothing sent.
        E::Timeout(Timeout::Resolve | Timeout::Connect) => {
            (K::Timeout, NotSent, Cause::ConnectTimeout)
        }
        // Any other timeout (sending, awaiting the answer, reading it, or the whole
        // attempt's, which does not say where it struck): maybe sent.
        E::Timeout(_) => (K::Timeout, MaybeSent, Cause::Timeout),
        // A URI without scheme or host, or http where https is required: refused
        // before connecting. Their text holds the URI: it is dropped.
        E::BadUri(_) => (K::Address, NotSent, Cause::BadUri),
        E::RequireHttpsOnly(_) => (K::Address, NotSent, Cause::HttpsRequired),
        // The connector made no TLS stream for an https URI: nothing sent.
        E::TlsRequired => (K::Connect, NotSent, Cause::TlsRequired),
        // TLS set-up failed (a host name TLS cannot take, the rustls config): raised
        // before the handshake, so nothing sent.
        E::Tls(_) => (K::Connect, NotSent, Cause::TlsSetup),
        E::Rustls(e) => (tls_kind(&e), NotSent, Cause::TlsSetup),
        // A proxy refused the tunnel: nothing reached the portal. The text is dropped.
        E::ConnectProxyFailed(_) | E::InvalidProxyUrl => (K::Connect, NotSent, Cause::Proxy),
        // Socket errors: ureq raises them both while connecting and after; the kind
        // or the inner error tells which (see `io_error`).
        E::Io(e) => io_error(e),
        // The body was larger than the cap, or the head larger than ureq takes: the
        // request was sent and answered.
        E::BodyExceedsLimit(_) | E::LargeResponseHeader(..) => {
            (K::BodyTooLarge, MaybeSent, Cause::TooLarge)
        }
        // Malformed HTTP from the server: it was sent.
        E::Protocol(_) => (K::Body, MaybeSent, Cause::Protocol),
        // Anything else (redirect and status errors, which this configuration never
        // raises, and whatever a later ureq adds): maybe sent.
        _ => (K::Other, MaybeSent, Cause::Other),
    };
    failure(kind, sent, cause)
}

/// A socket error: `NotSent` only for what can happen before the connection is up.
fn io_error(e: std::io::Error) -> (TransportErrorKind, SentState, Cause) {
    use std::io::ErrorKind as Io;
    use SentState::{MaybeSent, NotSent};
    use TransportErrorKind as K;
    // A TLS handshake that failed (the certificate refused, no common protocol
    // version): rustls raises these during the handshake only, before any request
    // byte is written.
    if let Some(tls) = e.get_ref().and_then(|inner| inner.downcast_ref()) {
        if handshake_only(tls) {
            return (tls_kind(tls), NotSent, Cause::TlsHandshake);
        }
    }
    match e.kind() {
        // TCP says no to a connect only: the server refused the connection, or this
        // host has no such local address.
        Io::ConnectionRefused => (K::Connect, NotSent, Cause::Refused),
        Io::AddrNotAvailable => (K::Connect, NotSent, Cause::Refused),
        // A kernel timeout, or a connection closed or reset: on an established
        // connection, the request may be out. (An unreachable host or network lands
        // here too: it can also end a connection whose data went out.)
        Io::TimedOut | Io::WouldBlock => (K::Timeout, MaybeSent, Cause::Io),
        Io::UnexpectedEof | Io::ConnectionReset | Io::ConnectionAborted | Io::BrokenPipe => {
            (K::ConnectionClosed, MaybeSent, Cause::Closed)
        }
        _ => (K::Other, MaybeSent, Cause::Io),
    }
}

/// Whether rustls raises this error during the handshake only.
fn handshake_only(e: &rustls::Error) -> bool {
    use rustls::Error as R;
    matches!(
        e,
        R::InvalidCertificate(_)
            | R::InvalidCertRevocationList(_)
            | R::NoCertificatesPresented
            | R::UnsupportedNameType
            | R::PeerIncompatible(_)
            | R::InappropriateHandshakeMessage { .. }
            | R::NoApplicationProtocol
            | R::HandshakeNotComplete
    )
}

/// A refused certificate is permanent (the engine ends the call); another TLS failure
/// is a failed connection.
fn tls_kind(e: &rustls::Error) -> TransportErrorKind {
    match e {
        rustls::Error::InvalidCertificate(_) => TransportErrorKind::Certificate,
        _ => TransportErrorKind::Connect,
    }
}

/// The engine's failure, with the cause in words as its source.
fn failure(kind: TransportErrorKind, sent: SentState, cause: Cause) -> TransportFailure {
    TransportFailure::new(kind, sent).with_source(UreqError { cause })
}

/// What went wrong, in words and nothing else: ureq's own errors may hold the URI,
/// and a webhook URL holds its secret in the path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// The host name did not resolve.
    HostNotFound,
    /// No connection could be made.
    ConnectionFailed,
    /// The server refused the connection.
    Refused,
    /// Resolving or connecting took too long.
    ConnectTimeout,
    /// The attempt took too long after connecting.
    Timeout,
    /// The URI has no scheme or host.
    BadUri,
    /// Plain http where https is required.
    HttpsRequired,
    /// The connection is not secured by TLS.
    TlsRequired,
    /// TLS could not be set up.
    TlsSetup,
    /// The TLS handshake failed.
    TlsHandshake,
    /// A proxy refused the connection.
    Proxy,
    /// The connection was closed early.
    Closed,
    /// A socket error.
    Io,
    /// The answer is larger than the cap.
    TooLarge,
    /// The answer is not valid HTTP.
    Protocol,
    /// The request could not be handed to ureq.
    BadRequest,
    /// The answer could not be handed back.
    BadResponse,
    /// Anything else.
    Other,
}

/// The source of a ureq failure: [`Cause`] in words, never the URI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UreqError {
    /// What went wrong.
    pub cause: Cause,
}

impl fmt::Display for UreqError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.cause {
            Cause::HostNotFound => "ureq: host not found",
            Cause::ConnectionFailed => "ureq: connection failed",
            Cause::Refused => "ureq: connection refused",
            Cause::ConnectTimeout => "ureq: timed out connecting",
            Cause::Timeout => "ureq: timed out",
            Cause::BadUri => "ureq: bad URI",
            Cause::HttpsRequired => "ureq: https required",
            Cause::TlsRequired => "ureq: TLS required",
            Cause::TlsSetup => "ureq: TLS set-up failed",
            Cause::TlsHandshake => "ureq: TLS handshake failed",
            Cause::Proxy => "ureq: proxy failed",
            Cause::Closed => "ureq: connection closed",
            Cause::Io => "ureq: socket error",
            Cause::TooLarge => "ureq: answer too large",
            Cause::Protocol => "ureq: malformed HTTP answer",
            Cause::BadRequest => "ureq: request not accepted",
            Cause::BadResponse => "ureq: answer not accepted",
            Cause::Other => "ureq: transport failure",
        })
    }
}

impl std::error::Error for UreqError {}

/// Why [`UreqTransport::new`] failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetupError {
    /// The CA PEM could not be read.
    Pem,
    /// The CA PEM holds no certificate.
    NoCertificate,
}

impl fmt::Display for SetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SetupError::Pem => "the CA PEM could not be read",
            SetupError::NoCertificate => "the CA PEM holds no certificate",
        })
    }
}

impl std::error::Error for SetupError {}

// ---- The flow: from a task's chat message to a task result. ----

/// What the flow did.
#[derive(Debug, Clone, Copy)]
pub struct Summary {
    /// The message posted to the task's chat.
    pub message_id: MessageId,
    /// The result made from it.
    pub result_id: ResultId,
}

/// Why the flow stopped.
#[derive(Debug)]
pub enum FlowError {
    /// A call failed.
    Call(b24_core::Error),
    /// The task has no chat.
    NoChat,
    /// Writing the report failed.
    Io(std::io::Error),
}

impl From<b24_core::Error> for FlowError {
    fn from(e: b24_core::Error) -> Self {
        FlowError::Call(e)
    }
}

impl From<std::io::Error> for FlowError {
    fn from(e: std::io::Error) -> Self {
        FlowError::Io(e)
    }
}

impl fmt::Display for FlowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FlowError::Call(e) => write!(f, "{e}"),
            FlowError::NoChat => f.write_str("the task has no chat"),
            FlowError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for FlowError {}

/// Posts a message to the task's chat and makes it the task's result, reporting each
/// step to `out`.
pub fn run_flow<T: Transport, C: Clock>(
    driver: &mut Driver<T, C>,
    portal: &Portal,
    task_id: TaskId,
    out: &mut impl Write,
) -> Result<Summary, FlowError> {
    let task = driver.call(portal, TaskGet::for_chat(task_id))?.result;
    let chat = task.chat_id().ok_or(FlowError::NoChat)?;
    writeln!(out, "1. task {task_id} talks in chat {chat}")?;

    let post = ImMessageAdd::new(DialogId::chat(chat), "Work finished: sent over ureq")
        .map_err(b24_core::Error::from)?;
    let message_id = driver.call(portal, post)?.result;
    writeln!(out, "2. posted message {message_id} to chat{chat}")?;

    let result = driver
        .call(portal, TaskResultAddFromChatMessage::new(message_id))?
        .result;
    writeln!(
        out,
        "3. result {} of task {} made from message {message_id}: {:?}",
        result.id,
        result.task_id.map_or(0, TaskId::get),
        result.text.as_deref().unwrap_or("")
    )?;
    Ok(Summary {
        message_id,
        result_id: result.id,
    })
}

// ---- The offline portal, for the demonstration only. ----

/// The emulator serving HTTPS on loopback, on a runtime of its own.
#[derive(Debug)]
pub struct RunningEmulator {
    /// User 1's webhook URL (holds the secret).
    pub webhook_url: String,
    /// The CA the emulator's certificate is signed by.
    pub ca_pem: String,
    /// The server (its stored state: `server.portal()`).
    pub server: b24_emulator::ServerHandle,
    _runtime: tokio::runtime::Runtime,
}

/// Starts b24-emulator over HTTPS on a background tokio runtime.
///
/// # Errors
///
/// When the runtime or the server cannot start.
pub fn start_emulator() -> Result<RunningEmulator, Box<dyn std::error::Error>> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let server = runtime.block_on(b24_emulator::Emulator::builder().build().serve_https())?;
    let webhook_url = server
        .webhook_url(&server.portal(), 1)
        .ok_or("the emulator has no webhook for user 1")?;
    let ca_pem = server
        .ca_cert_pem()
        .ok_or("the emulator serves no CA")?
        .to_owned();
    Ok(RunningEmulator {
        webhook_url,
        ca_pem,
        server,
        _runtime: runtime,
    })
}
