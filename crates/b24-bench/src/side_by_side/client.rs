//! The client processes: one client kind, one protocol, one concurrency each.
//!
//! A process builds its client on a current-thread tokio runtime, makes the warm-up
//! calls (the first one alone; every answer checked in full: status, every field of
//! the JSON, the protocol, the echoed `Idempotency-Key`), then the measured calls with
//! a cheap check per answer, and prints one [`ClientOutcome`] line: wall time and its
//! own CPU time over the measured calls only.
//!
//! Between the two it prints [`WARM`] and waits for [`GO`] on its standard input, so
//! that the orchestrator can read the server's counters at the start of the measured
//! calls.
//!
//! `c` tasks stay in flight: each takes the next call from a shared countdown until
//! none is left, so the last calls are not stuck behind one slow task.

use std::future::Future;
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::Instant;

use b24_core::bytes::Bytes;
use b24_core::engine::BucketConfig;
use b24_hyper::{Client, TaskResults, DEFAULT_POOL_IDLE_TIMEOUT, DEFAULT_POOL_MAX_IDLE_PER_HOST};
use b24_types::{MessageId, ResultStatus};
use http::header::{HeaderName, HeaderValue, CONTENT_TYPE, HOST};
use http::{HeaderMap, StatusCode, Version};
use http_body_util::{BodyExt, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::dns::Name;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client as LegacyClient;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore};
use tokio::task::JoinSet;

use super::answer::{
    self, AnswerEnvelope, ANSWER_BODY, MESSAGE_ID, RESULT_ID, TASK_ID, USER_AGENT,
};
use super::cpu::CpuTime;
use super::{ClientKind, ClientOutcome, ClientSpec, Protocol, GO, WARM};
use crate::error::{BenchError, Context};

const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");

/// The client process: `side-by-side __client --kind K --protocol P --port N --ca PATH
/// --concurrency C --warmup W --calls N`.
///
/// # Errors
///
/// Bad arguments, the client cannot be built, a call fails, or a warm-up answer is
/// not the fixed answer.
pub fn client_process(args: &[String]) -> Result<(), BenchError> {
    let spec = ClientSpec::from_args(args)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("client runtime")?;
    let outcome = runtime.block_on(run(&spec))?;
    let line = serde_json::to_string(&outcome).context("encode the outcome")?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}").context("write the outcome")?;
    out.flush().context("write the outcome")
}

async fn run(spec: &ClientSpec) -> Result<ClientOutcome, BenchError> {
    let pem = std::fs::read(&spec.ca).context("read the server certificate")?;
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, spec.port));
    match spec.kind {
        ClientKind::BareHyper => {
            let bare = Arc::new(Bare::new(&pem, addr, spec)?);
            measure(spec, move |full| {
                let bare = Arc::clone(&bare);
                async move { bare.call_discarding(full).await }
            })
            .await
        }
        ClientKind::BareHyperJson => {
            let bare = Arc::new(Bare::new(&pem, addr, spec)?);
            measure(spec, move |full| {
                let bare = Arc::clone(&bare);
                async move { bare.call_value(full).await }
            })
            .await
        }
        ClientKind::ReqwestSerde => {
            let client = Arc::new(Reqwest::new(&pem, addr, spec)?);
            measure(spec, move |full| {
                let client = Arc::clone(&client);
                async move { client.call(full).await }
            })
            .await
        }
        ClientKind::B24Hyper => {
            let client = Arc::new(B24::new(&pem, addr, spec)?);
            measure(spec, move |full| {
                let client = Arc::clone(&client);
                async move { client.call(full).await }
            })
            .await
        }
    }
}

/// Warm-up (full checks), then the measured calls (cheap checks) between two readings
/// of the clock and of the process's CPU time.
async fn measure<F, Fut>(spec: &ClientSpec, call: F) -> Result<ClientOutcome, BenchError>
where
    F: Fn(bool) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<bool, BenchError>> + Send + 'static,
{
    let call = Arc::new(call);
    // The first call alone, so that the pool holds one connection before the others
    // start: over HTTP/2 they all share it (hyper-util's pool opens a connection per
    // waiting call while none is up, since it learns of HTTP/2 only from ALPN).
    let first = spec.warmup.min(1);
    let mut warm = drive(&call, 1, first, true).await?;
    warm += drive(&call, spec.concurrency, spec.warmup - first, true).await?;
    if warm != spec.warmup {
        return Err(BenchError::new(
            "warm-up",
            format!("{warm} of {} answers were right", spec.warmup),
        ));
    }
    // Tell the orchestrator, and wait for its go: it reads the server's counters in
    // between, so that they cover the measured calls only.
    let mut out = std::io::stdout().lock();
    writeln!(out, "{WARM}")
        .and_then(|()| out.flush())
        .context("tell the orchestrator")?;
    drop(out);
    let mut go = String::new();
    std::io::stdin()
        .read_line(&mut go)
        .context("wait for the orchestrator")?;
    if go.trim() != GO {
        return Err(BenchError::new(
            "client process",
            format!("expected {GO:?} from the orchestrator, got {go:?}"),
        ));
    }
    let cpu_before = CpuTime::now()?;
    let started = Instant::now();
    let ok = drive(&call, spec.concurrency, spec.calls, false).await?;
    let wall = started.elapsed();
    let cpu = CpuTime::now()?.since(&cpu_before);
    Ok(ClientOutcome {
        kind: spec.kind.as_arg().to_owned(),
        protocol: spec.protocol.as_arg().to_owned(),
        concurrency: spec.concurrency,
        warmup: spec.warmup,
        calls: spec.calls,
        ok,
        wall_ns: nanos(wall),
        cpu_user_ns: nanos(cpu.user),
        cpu_sys_ns: nanos(cpu.system),
        preempted: cpu.preempted,
    })
}

fn nanos(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// `n` calls with `width` tasks in flight; the number of right answers.
async fn drive<F, Fut>(call: &Arc<F>, width: usize, n: u64, full: bool) -> Result<u64, BenchError>
where
    F: Fn(bool) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<bool, BenchError>> + Send + 'static,
{
    if n == 0 {
        return Ok(0);
    }
    let left = Arc::new(AtomicU64::new(n));
    let width = u64::try_from(width.max(1)).unwrap_or(1).min(n);
    let mut tasks = JoinSet::new();
    for _ in 0..width {
        let call = Arc::clone(call);
        let left = Arc::clone(&left);
        tasks.spawn(async move {
            let mut ok = 0u64;
            while left
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| v.checked_sub(1))
                .is_ok()
            {
                if call(full).await? {
                    ok += 1;
                }
            }
            Ok::<u64, BenchError>(ok)
        });
    }
    let mut ok = 0;
    while let Some(joined) = tasks.join_next().await {
        ok += joined.context("client task")??;
    }
    Ok(ok)
}

fn expected_version(protocol: Protocol) -> Version {
    match protocol {
        Protocol::Http1 => Version::HTTP_11,
        Protocol::Http2 => Version::HTTP_2,
    }
}

/// A wrong answer: an error during the warm-up (with what was wrong), a miss after.
fn wrong(full: bool, what: String) -> Result<bool, BenchError> {
    if full {
        Err(BenchError::new("wrong answer", what))
    } else {
        Ok(false)
    }
}

/// The server's certificate as the only trusted root, ring as the provider, ALPN
/// left to the caller.
fn tls_config(pem: &[u8]) -> Result<ClientConfig, BenchError> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(pem) {
        roots
            .add(cert.context("server certificate PEM")?)
            .context("trust the server certificate")?;
    }
    Ok(
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .context("client TLS versions")?
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

/// Resolves every name to the server's address (as b24-hyper's `resolve` and
/// reqwest's `resolve` do for the other clients): no system resolver thread.
#[derive(Debug, Clone, Copy)]
struct FixedResolver(SocketAddr);

impl tower_service::Service<Name> for FixedResolver {
    type Response = std::iter::Once<SocketAddr>;
    type Error = std::io::Error;
    type Future = std::future::Ready<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, _cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _name: Name) -> Self::Future {
        std::future::ready(Ok(std::iter::once(self.0)))
    }
}

type BarePool = LegacyClient<HttpsConnector<HttpConnector<FixedResolver>>, Full<Bytes>>;

/// The bare hyper client: hyper-util's legacy pool with b24-hyper's default pool
/// settings, hyper-rustls offering `h2` and `http/1.1`, and the request b24-hyper
/// would send, built once and cloned per call.
struct Bare {
    pool: BarePool,
    request: http::Request<Bytes>,
    version: Version,
    expected: serde_json::Value,
}

impl Bare {
    fn new(pem: &[u8], addr: SocketAddr, spec: &ClientSpec) -> Result<Self, BenchError> {
        let mut http = HttpConnector::new_with_resolver(FixedResolver(addr));
        http.enforce_http(false);
        http.set_nodelay(true);
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls_config(pem)?)
            .https_only()
            .enable_http1()
            .enable_http2()
            .wrap_connector(http);
        let pool = LegacyClient::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .timer(TokioTimer::new())
            .pool_idle_timeout(DEFAULT_POOL_IDLE_TIMEOUT)
            .pool_max_idle_per_host(DEFAULT_POOL_MAX_IDLE_PER_HOST)
            .retry_canceled_requests(true)
            .build(https);
        Ok(Self {
            pool,
            request: answer::bare_request(spec.port)?,
            version: expected_version(spec.protocol),
            expected: answer::expected_value()?,
        })
    }

    async fn send(&self) -> Result<(http::response::Parts, Bytes), BenchError> {
        let (parts, body) = self.request.clone().into_parts();
        let request = http::Request::from_parts(parts, Full::new(body));
        let response = self.pool.request(request).await.context("bare call")?;
        let (parts, body) = response.into_parts();
        let body = body.collect().await.context("bare body")?.to_bytes();
        Ok((parts, body))
    }

    /// Status, protocol, `Content-Type` and the echoed key: what a full check adds.
    fn check_head(&self, parts: &http::response::Parts) -> Option<String> {
        if parts.version != self.version {
            return Some(format!("{:?} instead of {:?}", parts.version, self.version));
        }
        if parts.headers.get(CONTENT_TYPE).map(HeaderValue::as_bytes) != Some(b"application/json") {
            return Some("no JSON content type".to_owned());
        }
        if parts.headers.get(IDEMPOTENCY_KEY) != self.request.headers().get(IDEMPOTENCY_KEY) {
            return Some("the Idempotency-Key was not echoed".to_owned());
        }
        None
    }

    async fn call_discarding(&self, full: bool) -> Result<bool, BenchError> {
        let (parts, body) = self.send().await?;
        if parts.status != StatusCode::OK || body.len() != ANSWER_BODY.len() {
            return wrong(
                full,
                format!("status {}, {} bytes", parts.status, body.len()),
            );
        }
        if full {
            if let Some(what) = self.check_head(&parts) {
                return wrong(full, what);
            }
            if body != ANSWER_BODY.as_bytes() {
                return wrong(full, "not the fixed body".to_owned());
            }
        }
        Ok(true)
    }

    async fn call_value(&self, full: bool) -> Result<bool, BenchError> {
        let (parts, body) = self.send().await?;
        let value: serde_json::Value = serde_json::from_slice(&body).context("bare JSON")?;
        if parts.status != StatusCode::OK {
            return wrong(full, format!("status {}", parts.status));
        }
        if full {
            if let Some(what) = self.check_head(&parts) {
                return wrong(full, what);
            }
            if value != self.expected {
                return wrong(full, format!("unexpected JSON {value}"));
            }
        } else if value
            .pointer("/result/item/id")
            .and_then(serde_json::Value::as_u64)
            != Some(RESULT_ID)
        {
            return Ok(false);
        }
        Ok(true)
    }
}

/// reqwest with rustls (ring) trusting only the server's certificate, its default
/// pool, the same request, and the answer decoded into [`AnswerEnvelope`].
struct Reqwest {
    client: reqwest::Client,
    url: reqwest::Url,
    headers: HeaderMap,
    body: Bytes,
    version: Version,
    expected: AnswerEnvelope,
}

impl Reqwest {
    fn new(pem: &[u8], addr: SocketAddr, spec: &ClientSpec) -> Result<Self, BenchError> {
        // reqwest without a provider feature uses the process's default provider.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let certificate = reqwest::Certificate::from_pem(pem).context("reqwest certificate")?;
        let client = reqwest::Client::builder()
            .tls_certs_only([certificate])
            .resolve("localhost", addr)
            .no_proxy()
            .build()
            .context("reqwest client")?;
        let (parts, body) = answer::bare_request(spec.port)?.into_parts();
        let url = reqwest::Url::parse(&parts.uri.to_string()).context("reqwest URL")?;
        let mut headers = parts.headers;
        headers.remove(HOST);
        Ok(Self {
            client,
            url,
            headers,
            body,
            version: expected_version(spec.protocol),
            expected: answer::expected_envelope()?,
        })
    }

    async fn call(&self, full: bool) -> Result<bool, BenchError> {
        let response = self
            .client
            .post(self.url.clone())
            .headers(self.headers.clone())
            .body(self.body.clone())
            .send()
            .await
            .context("reqwest call")?;
        let status = response.status();
        let version = response.version();
        let echoed = response.headers().get(IDEMPOTENCY_KEY) == self.headers.get(IDEMPOTENCY_KEY);
        let envelope: AnswerEnvelope = response.json().await.context("reqwest JSON")?;
        if status != StatusCode::OK {
            return wrong(full, format!("status {status}"));
        }
        if full {
            if version != self.version {
                return wrong(full, format!("{version:?} instead of {:?}", self.version));
            }
            if !echoed {
                return wrong(full, "the Idempotency-Key was not echoed".to_owned());
            }
            if envelope != self.expected {
                return wrong(full, format!("unexpected answer {envelope:?}"));
            }
        } else if envelope.result.item.id != RESULT_ID {
            return Ok(false);
        }
        Ok(true)
    }
}

/// b24-hyper as an application uses it: a webhook portal, the task-result surface,
/// limiter, budgets and idempotency keys on; only the bucket is set wide so that the
/// fixed server is never throttled.
struct B24 {
    results: TaskResults,
    message: MessageId,
}

impl B24 {
    fn new(pem: &[u8], addr: SocketAddr, spec: &ClientSpec) -> Result<Self, BenchError> {
        let client = Client::builder()
            .built_in_roots(false)
            .add_root_certificate_pem(pem)
            .resolve("localhost", addr)
            .user_agent(USER_AGENT)
            .bucket(BucketConfig::custom(1_000_000, 1_000_000.0).context("bucket")?)
            .build()
            .context("b24-hyper client")?;
        let portal = answer::portal(spec.port)?;
        Ok(Self {
            results: client.task_results(&portal),
            message: MessageId::new(MESSAGE_ID).context("message id")?,
        })
    }

    async fn call(&self, full: bool) -> Result<bool, BenchError> {
        let result = self
            .results
            .add_from_chat_message(self.message)
            .await
            .context("b24-hyper call")?;
        if result.id.get() != RESULT_ID {
            return wrong(full, format!("result {}", result.id.get()));
        }
        if full {
            let right = result.task_id.map(|t| t.get()) == Some(TASK_ID)
                && result.message_id.map(|m| m.get()) == Some(MESSAGE_ID)
                && result.author_id.map(|u| u.get()) == Some(1)
                && result.text.as_deref() == Some("Task work completed")
                && result.status == Some(ResultStatus::Open)
                && result.updated_at.is_none()
                && result.created_at.is_some()
                && result.file_ids.as_deref().is_some_and(<[_]>::is_empty)
                && result.rights.as_ref().is_some_and(|r| r.edit && r.remove);
            if !right {
                return wrong(full, format!("unexpected result {result:?}"));
            }
        }
        Ok(true)
    }
}
