//! [`Receiver`]: the HTTP endpoint a portal POSTs events to.
//!
//! It accepts only `POST`ed form bodies up to a size cap, decodes them
//! ([`b24_core::events::decode_delivery`]), checks the application token against the
//! one stored for the portal ([`b24_core::events::Verifier`]), answers `200` at once
//! and hands the event to your code through a bounded queue ([`EventQueue`]). The
//! portal never retries a delivery and calls a slow handler less often, so the work
//! happens after the answer, never before it.
//!
//! | request | answer |
//! |---|---|
//! | not `POST` | `405`, `Allow: POST` |
//! | a media type other than a form | `415` |
//! | a body over the cap | `413` (read no further than the cap) |
//! | not a form, a missing `event`, `auth` or token, data of the wrong shape | `400` |
//! | an unknown portal or a token that does not match | `403` |
//! | the queue is full | `503` (the event is lost: the portal does not retry) |
//! | a verified event | `200`, queued |
//!
//! [`Receiver`] is a [`hyper::service::Service`]: mount it in your own server, or run
//! it with [`Receiver::serve`] on a listener (HTTP/1.1; put TLS in front of it, as the
//! portal needs a public `https` URL).

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use b24_core::engine::Timestamp;
use b24_core::events::{
    decode_delivery, ApplicationTokens, Delivery, DeliveryError, FormError, FormLimits,
    InstallPolicy, Verified, Verifier,
};
use bytes::Bytes;
use http::{header, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Body;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::sync::{mpsc, watch};

/// The default body cap: 256 KiB (an event body is a few KiB).
pub const DEFAULT_MAX_DELIVERY: usize = 256 * 1024;
/// The default queue capacity.
pub const DEFAULT_QUEUE_CAPACITY: usize = 1024;
/// How long a request may take to send its body.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(10);

/// A verified event, as [`EventQueue`] hands it out.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ReceivedEvent {
    /// The typed delivery.
    pub delivery: Delivery,
    /// How it was verified (a first install stored its token, say).
    pub verified: Verified,
    /// When it arrived.
    pub received_at: Timestamp,
}

/// Counts of what the receiver did, since it was built.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReceiverStats {
    /// Verified and queued.
    pub accepted: u64,
    /// Not `POST` (405).
    pub wrong_method: u64,
    /// Not a form (415).
    pub wrong_media_type: u64,
    /// Over the body cap (413).
    pub too_large: u64,
    /// Not a usable event (400).
    pub malformed: u64,
    /// Unknown portal or wrong token (403).
    pub unverified: u64,
    /// Queue full or closed (503).
    pub queue_full: u64,
}

#[derive(Debug, Default)]
struct Counters {
    accepted: AtomicU64,
    wrong_method: AtomicU64,
    wrong_media_type: AtomicU64,
    too_large: AtomicU64,
    malformed: AtomicU64,
    unverified: AtomicU64,
    queue_full: AtomicU64,
}

impl Counters {
    fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    fn snapshot(&self) -> ReceiverStats {
        ReceiverStats {
            accepted: self.accepted.load(Ordering::Relaxed),
            wrong_method: self.wrong_method.load(Ordering::Relaxed),
            wrong_media_type: self.wrong_media_type.load(Ordering::Relaxed),
            too_large: self.too_large.load(Ordering::Relaxed),
            malformed: self.malformed.load(Ordering::Relaxed),
            unverified: self.unverified.load(Ordering::Relaxed),
            queue_full: self.queue_full.load(Ordering::Relaxed),
        }
    }
}

struct Shared {
    verifier: Verifier<Arc<dyn ApplicationTokens>>,
    limits: FormLimits,
    queue: mpsc::Sender<ReceivedEvent>,
    counters: Counters,
}

/// The event endpoint: a cheap-to-clone [`hyper::service::Service`].
#[derive(Clone)]
pub struct Receiver {
    shared: Arc<Shared>,
}

impl fmt::Debug for Receiver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("max_body", &self.shared.limits.max_bytes)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

/// Settings of a [`Receiver`].
#[derive(Debug)]
#[must_use]
pub struct ReceiverBuilder {
    tokens: Arc<dyn ApplicationTokens>,
    install: InstallPolicy,
    limits: FormLimits,
    capacity: usize,
}

impl ReceiverBuilder {
    /// The largest body accepted, in bytes (default [`DEFAULT_MAX_DELIVERY`]).
    pub fn max_body(mut self, bytes: usize) -> Self {
        self.limits = self.limits.with_max_bytes(bytes);
        self
    }

    /// Form limits beyond the size (field count, nesting depth).
    pub fn form_limits(mut self, limits: FormLimits) -> Self {
        self.limits = limits;
        self
    }

    /// How many verified events may wait for your code (at least 1; default
    /// [`DEFAULT_QUEUE_CAPACITY`]). When it is full, deliveries get `503`.
    pub fn queue_capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity.max(1);
        self
    }

    /// What an `ONAPPINSTALL` from a portal with no stored token does (refused by
    /// default; see [`InstallPolicy`]).
    pub fn install_policy(mut self, policy: InstallPolicy) -> Self {
        self.install = policy;
        self
    }

    /// The receiver and the queue it fills.
    pub fn build(self) -> (Receiver, EventQueue) {
        let (tx, rx) = mpsc::channel(self.capacity);
        let receiver = Receiver {
            shared: Arc::new(Shared {
                verifier: Verifier::new(self.tokens).install_policy(self.install),
                limits: self.limits,
                queue: tx,
                counters: Counters::default(),
            }),
        };
        (receiver, EventQueue { rx })
    }
}

/// The verified events a [`Receiver`] accepted, oldest first.
#[derive(Debug)]
pub struct EventQueue {
    rx: mpsc::Receiver<ReceivedEvent>,
}

impl EventQueue {
    /// The next event; `None` once every [`Receiver`] clone is gone and the queue is
    /// empty.
    pub async fn recv(&mut self) -> Option<ReceivedEvent> {
        self.rx.recv().await
    }

    /// The next event if one is waiting.
    pub fn try_recv(&mut self) -> Option<ReceivedEvent> {
        self.rx.try_recv().ok()
    }
}

type Answer = Response<Full<Bytes>>;

fn answer(status: StatusCode, text: &str) -> Answer {
    let mut resp = Response::new(Full::new(Bytes::from(text.to_owned())));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

impl Receiver {
    /// A receiver checking tokens against `tokens`.
    pub fn builder(tokens: Arc<dyn ApplicationTokens>) -> ReceiverBuilder {
        ReceiverBuilder {
            tokens,
            install: InstallPolicy::Refuse,
            limits: FormLimits::DEFAULT.with_max_bytes(DEFAULT_MAX_DELIVERY),
            capacity: DEFAULT_QUEUE_CAPACITY,
        }
    }

    /// What the receiver has done so far.
    pub fn stats(&self) -> ReceiverStats {
        self.shared.counters.snapshot()
    }

    /// Handles one request (for servers other than hyper's, or tests).
    pub async fn handle<B>(&self, request: Request<B>) -> Answer
    where
        B: Body,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let c = &self.shared.counters;
        if request.method() != Method::POST {
            Counters::bump(&c.wrong_method);
            let mut resp = answer(StatusCode::METHOD_NOT_ALLOWED, "POST only\n");
            resp.headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("POST"));
            return resp;
        }
        let content_type = request
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap_or("invalid"));
        if let Err(e) = b24_core::events::check_content_type(content_type) {
            Counters::bump(&c.wrong_media_type);
            return answer(StatusCode::UNSUPPORTED_MEDIA_TYPE, &format!("{e}\n"));
        }
        let content_type = content_type.map(str::to_owned);
        let max = self.shared.limits.max_bytes;
        let declared = request
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > max as u64) {
            Counters::bump(&c.too_large);
            return answer(StatusCode::PAYLOAD_TOO_LARGE, "body too large\n");
        }
        let read = Limited::new(request.into_body(), max).collect();
        let body = match tokio::time::timeout(BODY_TIMEOUT, read).await {
            Err(_) => {
                Counters::bump(&c.malformed);
                return answer(StatusCode::REQUEST_TIMEOUT, "body too slow\n");
            }
            Ok(Err(e)) => {
                return if e
                    .downcast_ref::<http_body_util::LengthLimitError>()
                    .is_some()
                {
                    Counters::bump(&c.too_large);
                    answer(StatusCode::PAYLOAD_TOO_LARGE, "body too large\n")
                } else {
                    Counters::bump(&c.malformed);
                    answer(StatusCode::BAD_REQUEST, "the body could not be read\n")
                };
            }
            Ok(Ok(collected)) => collected.to_bytes(),
        };
        let delivery = match decode_delivery(content_type.as_deref(), &body, &self.shared.limits) {
            Ok(d) => d,
            Err(DeliveryError::Form(FormError::TooLarge { .. })) => {
                Counters::bump(&c.too_large);
                return answer(StatusCode::PAYLOAD_TOO_LARGE, "body too large\n");
            }
            Err(e) => {
                Counters::bump(&c.malformed);
                return answer(StatusCode::BAD_REQUEST, &format!("{e}\n"));
            }
        };
        let verified = match self.shared.verifier.verify(&delivery) {
            Ok(v) => v,
            Err(_) => {
                // Say nothing about why: a forger learns nothing about known portals.
                Counters::bump(&c.unverified);
                return answer(StatusCode::FORBIDDEN, "forbidden\n");
            }
        };
        let event = ReceivedEvent {
            delivery,
            verified,
            received_at: Timestamp::from_system_time(std::time::SystemTime::now()),
        };
        match self.shared.queue.try_send(event) {
            Ok(()) => {
                Counters::bump(&c.accepted);
                answer(StatusCode::OK, "OK\n")
            }
            Err(_) => {
                Counters::bump(&c.queue_full);
                answer(StatusCode::SERVICE_UNAVAILABLE, "busy\n")
            }
        }
    }

    /// Serves the receiver on `listener` (HTTP/1.1) until the returned handle is shut
    /// down or dropped. A connection must send its request head within 10 s.
    ///
    /// # Errors
    ///
    /// The listener's address could not be read.
    pub fn serve(self, listener: tokio::net::TcpListener) -> std::io::Result<ReceiverServer> {
        let addr = listener.local_addr()?;
        let (stop, mut stopped) = watch::channel(false);
        let task = tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    a = listener.accept() => a,
                    _ = stopped.changed() => break,
                };
                let Ok((stream, _)) = accepted else {
                    // A failed accept (out of descriptors, say): back off briefly.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                let service = self.clone();
                let mut conn_stop = stopped.clone();
                tokio::spawn(async move {
                    let conn = hyper::server::conn::http1::Builder::new()
                        .timer(TokioTimer::new())
                        .header_read_timeout(Duration::from_secs(10))
                        .serve_connection(TokioIo::new(stream), service);
                    tokio::pin!(conn);
                    tokio::select! {
                        _ = conn.as_mut() => {}
                        _ = conn_stop.changed() => {
                            conn.as_mut().graceful_shutdown();
                            let _ = conn.await;
                        }
                    }
                });
            }
        });
        Ok(ReceiverServer {
            addr,
            stop,
            task: Some(task),
        })
    }
}

impl<B> hyper::service::Service<Request<B>> for Receiver
where
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Response = Answer;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Answer, Infallible>> + Send>>;

    fn call(&self, request: Request<B>) -> Self::Future {
        let this = self.clone();
        Box::pin(async move { Ok(this.handle(request).await) })
    }
}

/// A [`Receiver`] served by [`Receiver::serve`]; dropping it stops the server.
#[derive(Debug)]
pub struct ReceiverServer {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl ReceiverServer {
    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, lets open requests finish, and waits for the accept loop.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for ReceiverServer {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}
