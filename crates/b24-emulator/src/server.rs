//! Serving the emulator on a loopback port, over plain HTTP or HTTPS (HTTP/1.1 and
//! HTTP/2), and the handle that stops it on drop.

use std::fmt;
use std::future::Future;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{header, HeaderValue, Request, Response};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

use crate::emulator::{json_response, Emulator, PublicBase, Secure, WireOutcome};
use crate::portal::EmulatedPortal;
use crate::tls::CaCertificate;
use crate::wire::percent_encode;

/// Why the emulator could not be served.
#[derive(Debug)]
#[non_exhaustive]
pub enum ServeError {
    /// Binding the port failed.
    Bind(io::Error),
    /// Making the certificates or the TLS config failed.
    Tls(String),
}

impl fmt::Display for ServeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServeError::Bind(e) => write!(f, "cannot bind the emulator's port: {e}"),
            ServeError::Tls(e) => write!(f, "cannot set up TLS: {e}"),
        }
    }
}

impl std::error::Error for ServeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ServeError::Bind(e) => Some(e),
            ServeError::Tls(_) => None,
        }
    }
}

/// A running emulator server. Dropping it stops the server and its connections.
pub struct ServerHandle {
    addr: SocketAddr,
    scheme: &'static str,
    emulator: Emulator,
    ca: Option<CaCertificate>,
    shutdown: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl fmt::Debug for ServerHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerHandle")
            .field("addr", &self.addr)
            .field("scheme", &self.scheme)
            .finish_non_exhaustive()
    }
}

impl ServerHandle {
    /// The bound address (always loopback unless another address was asked for).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `https://localhost:PORT` (or `http://...`), the default portal's base URL.
    pub fn base_url(&self) -> String {
        format!("{}://localhost:{}", self.scheme, self.addr.port())
    }

    /// The base URL of a portal: the default portal as `localhost`, others by their
    /// host name (which may need resolving to 127.0.0.1 by the client).
    pub fn portal_base_url(&self, portal: &EmulatedPortal) -> String {
        self.emulator.portal_base_url(portal)
    }

    /// A user's webhook URL, the way Bitrix24 shows it:
    /// `https://localhost:PORT/rest/{user}/{secret}/` (the REST 3.0 form puts `api/`
    /// after `rest/`; see [`ServerHandle::v3_webhook_url`]). Contains the secret.
    pub fn webhook_url(&self, portal: &EmulatedPortal, user: u64) -> Option<String> {
        let secret = portal.webhook_secret(user)?;
        Some(format!(
            "{}/rest/{user}/{}/",
            self.portal_base_url(portal),
            percent_encode(&secret)
        ))
    }

    /// A user's REST 3.0 webhook base: `https://localhost:PORT/rest/api/{user}/{secret}/`.
    pub fn v3_webhook_url(&self, portal: &EmulatedPortal, user: u64) -> Option<String> {
        let secret = portal.webhook_secret(user)?;
        Some(format!(
            "{}/rest/api/{user}/{}/",
            self.portal_base_url(portal),
            percent_encode(&secret)
        ))
    }

    /// The OAuth token endpoint: `https://localhost:PORT/oauth/token/`.
    pub fn token_url(&self) -> String {
        format!("{}/oauth/token/", self.base_url())
    }

    /// The CA certificate in PEM (HTTPS only).
    pub fn ca_cert_pem(&self) -> Option<&str> {
        self.ca.as_ref().map(CaCertificate::pem)
    }

    /// The CA certificate in DER (HTTPS only).
    pub fn ca_cert_der(&self) -> Option<&[u8]> {
        self.ca.as_ref().map(CaCertificate::der)
    }

    /// The emulator being served.
    pub fn emulator(&self) -> &Emulator {
        &self.emulator
    }

    /// The default portal.
    pub fn portal(&self) -> EmulatedPortal {
        self.emulator.default_portal()
    }

    /// Stops the server and waits for the accept loop to end.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

impl Emulator {
    /// Serves plain HTTP on `127.0.0.1` at a free port. Portals that require HTTPS
    /// (the default) answer `INVALID_REQUEST` "Https required." unless built with
    /// `allow_plain_http_to_loopback`.
    pub async fn serve_http(&self) -> Result<ServerHandle, ServeError> {
        self.serve_http_on(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
            .await
    }

    /// Serves plain HTTP on `addr`.
    pub async fn serve_http_on(&self, addr: SocketAddr) -> Result<ServerHandle, ServeError> {
        self.serve(addr, None).await
    }

    /// Serves HTTPS on `127.0.0.1` at a free port, with a CA generated now.
    pub async fn serve_https(&self) -> Result<ServerHandle, ServeError> {
        self.serve_https_on(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
            .await
    }

    /// Serves HTTPS on `addr`.
    pub async fn serve_https_on(&self, addr: SocketAddr) -> Result<ServerHandle, ServeError> {
        let hosts: Vec<String> = self.portals().iter().map(|p| p.host().to_owned()).collect();
        let (ca, config) = crate::tls::generate(&hosts)?;
        self.serve(addr, Some((ca, TlsAcceptor::from(config))))
            .await
    }

    async fn serve(
        &self,
        addr: SocketAddr,
        tls: Option<(CaCertificate, TlsAcceptor)>,
    ) -> Result<ServerHandle, ServeError> {
        let listener = TcpListener::bind(addr).await.map_err(ServeError::Bind)?;
        let addr = listener.local_addr().map_err(ServeError::Bind)?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        self.set_public(PublicBase {
            scheme,
            port: addr.port(),
        });
        let (ca, acceptor) = match tls {
            Some((ca, acc)) => (Some(ca), Some(acc)),
            None => (None, None),
        };
        let (tx, rx) = watch::channel(false);
        let emulator = self.clone();
        let task = tokio::spawn(accept_loop(listener, emulator, acceptor, rx));
        Ok(ServerHandle {
            addr,
            scheme,
            emulator: self.clone(),
            ca,
            shutdown: tx,
            task: Some(task),
        })
    }
}

async fn accept_loop(
    listener: TcpListener,
    emulator: Emulator,
    acceptor: Option<TlsAcceptor>,
    mut shutdown: watch::Receiver<bool>,
) {
    // Each served connection holds a permit; over the cap a new one is closed at once.
    let slots = Arc::new(Semaphore::new(
        emulator.inner.max_connections.min(Semaphore::MAX_PERMITS),
    ));
    loop {
        let accepted = tokio::select! {
            _ = shutdown.changed() => return,
            a = listener.accept() => a,
        };
        let Ok((stream, _peer)) = accepted else {
            // Out of file descriptors or similar: back off briefly.
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        };
        let Ok(permit) = Arc::clone(&slots).try_acquire_owned() else {
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let emulator = emulator.clone();
        let acceptor = acceptor.clone();
        let mut stop = shutdown.clone();
        tokio::spawn(async move {
            let work = async {
                match acceptor {
                    Some(acc) => {
                        let handshake = tokio::time::timeout(
                            emulator.inner.header_read_timeout,
                            acc.accept(stream),
                        )
                        .await;
                        if let Ok(Ok(tls)) = handshake {
                            serve_connection(tls, emulator, true).await;
                        }
                    }
                    None => serve_connection(stream, emulator, false).await,
                }
            };
            tokio::select! {
                _ = work => {}
                _ = stop.changed() => {}
            }
            drop(permit);
        });
    }
}

async fn serve_connection<S>(stream: S, emulator: Emulator, secure: bool)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let timeout = emulator.inner.header_read_timeout;
    let idle = emulator.inner.idle_timeout.max(Duration::from_millis(1));
    let activity = Arc::new(Activity::new());
    let svc_activity = Arc::clone(&activity);
    let svc = service_fn(move |req: Request<Incoming>| {
        let emulator = emulator.clone();
        let busy = Busy::start(Arc::clone(&svc_activity));
        async move {
            let answer = answer(emulator, req, secure).await;
            drop(busy);
            answer
        }
    });
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(timeout);
    // Pings find a dead peer; the idle watch below closes a live but idle one.
    let ping = (idle / 4).max(Duration::from_millis(10));
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Some(ping))
        .keep_alive_timeout(ping);
    let conn = builder.serve_connection(TokioIo::new(stream), svc);
    tokio::pin!(conn);
    let check = (idle / 4).clamp(Duration::from_millis(5), Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = conn.as_mut() => return,
            () = tokio::time::sleep(check) => {
                if activity.idle_for() >= idle {
                    conn.as_mut().graceful_shutdown();
                    break;
                }
            }
        }
    }
    // A graceful shutdown of an idle connection ends at once; bound it anyway.
    let _ = tokio::time::timeout(idle, conn).await;
}

/// Requests in progress on one connection and when the last one ended.
#[derive(Debug)]
struct Activity {
    state: std::sync::Mutex<(usize, tokio::time::Instant)>,
}

impl Activity {
    fn new() -> Self {
        Self {
            state: std::sync::Mutex::new((0, tokio::time::Instant::now())),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (usize, tokio::time::Instant)> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// How long the connection has had no request in progress (zero while one is).
    fn idle_for(&self) -> Duration {
        let state = self.lock();
        if state.0 > 0 {
            Duration::ZERO
        } else {
            state.1.elapsed()
        }
    }
}

/// A request in progress; dropping it marks the end.
struct Busy(Arc<Activity>);

impl Busy {
    fn start(activity: Arc<Activity>) -> Self {
        activity.lock().0 += 1;
        Self(activity)
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        let mut state = self.0.lock();
        state.0 = state.0.saturating_sub(1);
        state.1 = tokio::time::Instant::now();
    }
}

/// Dropped-connection signal for hyper: an error from the service closes the
/// connection without an answer.
#[derive(Debug)]
struct Dropped;

impl fmt::Display for Dropped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("connection dropped by a scripted fault")
    }
}

impl std::error::Error for Dropped {}

async fn answer(
    emulator: Emulator,
    req: Request<Incoming>,
    secure: bool,
) -> Result<Response<ServeBody>, Dropped> {
    let (mut parts, body) = req.into_parts();
    let limit = emulator.inner.body_limit;
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Ok(too_large());
    }
    // A body that stalls is cut after the read timeout: no answer, the connection
    // (HTTP/1.1) or the stream (HTTP/2) is closed.
    let read = tokio::time::timeout(
        emulator.inner.body_read_timeout,
        Limited::new(body, limit).collect(),
    )
    .await;
    let Ok(read) = read else {
        return Err(Dropped);
    };
    let bytes = match read {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => return Ok(too_large()),
        Err(_) => return Err(Dropped),
    };
    parts.extensions.insert(Secure(secure));
    let req = Request::from_parts(parts, bytes);
    match emulator.exchange(req).await {
        WireOutcome::Response(r) => Ok(r.map(ServeBody::full)),
        WireOutcome::Closed => Err(Dropped),
        WireOutcome::Truncated(r) => {
            let (mut parts, body) = r.into_parts();
            if let Ok(v) = HeaderValue::from_str(&body.len().to_string()) {
                parts.headers.insert(header::CONTENT_LENGTH, v);
            }
            let half = body.slice(..body.len() / 2);
            Ok(Response::from_parts(parts, ServeBody::truncated(half)))
        }
    }
}

/// 413 for a body over the limit; the connection closes after it.
fn too_large() -> Response<ServeBody> {
    let f = crate::failure::system::too_large();
    let mut resp = json_response(f.status(), &f.body()).map(ServeBody::full);
    resp.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    resp
}

/// A response body: whole, or cut short with an error (which makes hyper drop the
/// connection mid-body).
#[derive(Debug)]
struct ServeBody {
    data: Option<Bytes>,
    fail: bool,
    exact: Option<u64>,
    /// Before failing, wait a moment so the part already written is flushed.
    pause: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl ServeBody {
    fn full(b: Bytes) -> Self {
        let len = b.len() as u64;
        Self {
            data: if b.is_empty() { None } else { Some(b) },
            fail: false,
            exact: Some(len),
            pause: None,
        }
    }

    fn truncated(part: Bytes) -> Self {
        Self {
            data: if part.is_empty() { None } else { Some(part) },
            fail: true,
            exact: None,
            pause: Some(Box::pin(tokio::time::sleep(Duration::from_millis(50)))),
        }
    }
}

impl Body for ServeBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        let this = self.get_mut();
        if let Some(d) = this.data.take() {
            return Poll::Ready(Some(Ok(Frame::data(d))));
        }
        if let Some(pause) = this.pause.as_mut() {
            if pause.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            this.pause = None;
        }
        if this.fail {
            this.fail = false;
            return Poll::Ready(Some(Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "truncated by a scripted fault",
            ))));
        }
        Poll::Ready(None)
    }

    fn is_end_stream(&self) -> bool {
        self.data.is_none() && !self.fail
    }

    fn size_hint(&self) -> SizeHint {
        match self.exact {
            Some(n) => SizeHint::with_exact(n),
            None => SizeHint::default(),
        }
    }
}
