//! Benchmark 4: whole calls over loopback.
//!
//! The emulator serves plain HTTP on 127.0.0.1 with a bucket no benchmark can fill.
//! Subject: the b24-hyper [`Client`] executing `tasks.task.get` (task 51 with its
//! chat), that is the engine, the surface and the transport with its timeouts and
//! body cap. Baseline: a bare hyper-util legacy client, with the pool settings of
//! b24-hyper's defaults, sending the identical request (built once by the core's
//! builder) and reading the body to bytes. Same emulator, same runtime (two worker
//! threads), both pools warmed up by the calibration runs.
//!
//! Two cases: one call at a time (the time per call is the latency), and a fixed
//! number of calls in flight (the time per call is the inverse of throughput).

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use b24_core::bytes::Bytes;
use b24_core::engine::BucketConfig;
use b24_core::methods::TaskGet;
use b24_core::{build_request, Portal, RequestOptions};
use b24_emulator::{Emulator, PortalConfig, ServerHandle};
use b24_hyper::{Client, DEFAULT_POOL_IDLE_TIMEOUT, DEFAULT_POOL_MAX_IDLE_PER_HOST};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client as LegacyClient;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use tokio::runtime::Runtime;
use tokio::task::JoinSet;

use crate::error::{BenchError, Context};
use crate::fixtures;
use crate::measure::{compare, Comparison, Labels};
use crate::settings::Settings;

/// The `User-Agent` both clients send.
const USER_AGENT: &str = "b24-bench/1.0";
/// The chat of task 51 in the emulator's seeded data.
const TASK_51_CHAT: u64 = 58;

const BASELINE: &str = "bare hyper-util client, prebuilt request";
const SUBJECT: &str = "b24-hyper `Client::execute(TaskGet)`";

/// Everything both sides share.
struct Bench {
    server: ServerHandle,
    client: Client,
    bare: LegacyClient<HttpConnector, Full<Bytes>>,
    portal: Portal,
    method: TaskGet,
    request: http::Request<Bytes>,
}

/// Runs the sequential and the concurrent comparison.
///
/// # Errors
///
/// The runtime or the server cannot start, or a call fails or answers unexpectedly.
pub fn run(settings: &Settings) -> Result<Vec<Comparison>, BenchError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("tokio runtime")?;
    let bench = Arc::new(runtime.block_on(Bench::start())?);
    let result = run_with(settings, &runtime, &bench);
    if let Ok(bench) = Arc::try_unwrap(bench) {
        runtime.block_on(bench.server.shutdown());
    }
    result
}

fn run_with(
    settings: &Settings,
    runtime: &Runtime,
    bench: &Arc<Bench>,
) -> Result<Vec<Comparison>, BenchError> {
    runtime.block_on(bench.check())?;
    let sequential = compare(
        settings,
        settings.loopback_sample_time,
        Labels::new("one call at a time", BASELINE, SUBJECT),
        |n| bench.counted(n, || runtime.block_on(bench.bare_sequential(n))),
        |n| bench.counted(n, || runtime.block_on(bench.b24_sequential(n))),
    )?;
    let width = settings.concurrency.max(1);
    let concurrent = compare(
        settings,
        settings.loopback_sample_time,
        Labels::new(format!("{width} calls in flight"), BASELINE, SUBJECT),
        |n| {
            bench.counted(n, || {
                runtime.block_on(Arc::clone(bench).concurrent(n, width, Side::Bare))
            })
        },
        |n| {
            bench.counted(n, || {
                runtime.block_on(Arc::clone(bench).concurrent(n, width, Side::B24))
            })
        },
    )?;
    Ok(vec![sequential, concurrent])
}

#[derive(Debug, Clone, Copy)]
enum Side {
    Bare,
    B24,
}

impl Bench {
    async fn start() -> Result<Self, BenchError> {
        let emulator = Emulator::builder()
            .portal(
                PortalConfig::new("localhost")
                    .bucket(1_000_000_000, 1_000_000_000.0)
                    .allow_plain_http_to_loopback(true),
            )
            .build();
        let server = emulator.serve_http().await.context("serve the emulator")?;
        let secret = server
            .portal()
            .webhook_secret(1)
            .ok_or_else(|| BenchError::new("emulator", "user 1 has no webhook"))?;
        let url = format!("http://127.0.0.1:{}/rest/1/{secret}/", server.addr().port());
        let portal = Portal::builder()
            .allow_plain_http_to_loopback(true)
            .webhook(&url)
            .context("loopback portal")?;
        let client = Client::builder()
            .allow_plain_http_to_loopback(true)
            .user_agent(USER_AGENT)
            .bucket(BucketConfig::custom(1_000_000_000, 1_000_000.0).context("bucket")?)
            .build()
            .context("b24-hyper client")?;

        let mut connector = HttpConnector::new();
        connector.enforce_http(false);
        connector.set_nodelay(true);
        let bare = LegacyClient::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .timer(TokioTimer::new())
            .pool_idle_timeout(DEFAULT_POOL_IDLE_TIMEOUT)
            .pool_max_idle_per_host(DEFAULT_POOL_MAX_IDLE_PER_HOST)
            .retry_canceled_requests(true)
            .build(connector);

        let method = TaskGet::for_chat(fixtures::task_id()?);
        let request = build_request(
            &portal,
            &method,
            &RequestOptions::new().user_agent(USER_AGENT),
        )
        .context("build the bare request")?;
        Ok(Self {
            server,
            client,
            bare,
            portal,
            method,
            request,
        })
    }

    /// Runs one sample and checks that the emulator saw exactly `n` calls: no retry,
    /// no call lost. The recorded requests are cleared first, so the emulator's log
    /// stays small and costs both sides the same.
    fn counted(
        &self,
        n: u64,
        sample: impl FnOnce() -> Result<Duration, BenchError>,
    ) -> Result<Duration, BenchError> {
        let portal = self.server.portal();
        portal.clear_requests();
        let took = sample()?;
        let seen = portal.calls(TaskGet::NAME);
        if seen != n {
            return Err(BenchError::new(
                "end to end",
                format!("{n} calls made but the emulator saw {seen}"),
            ));
        }
        Ok(took)
    }

    /// Both sides get the answer they should before anything is timed.
    async fn check(&self) -> Result<(), BenchError> {
        let reply = self
            .client
            .execute(&self.portal, self.method.clone())
            .await
            .context("b24-hyper call")?;
        let chat = reply.result.chat_id().map(|c| c.get());
        let body = self.bare_call().await?;
        let value: serde_json::Value = serde_json::from_slice(&body).context("bare answer")?;
        let bare_chat = value
            .pointer("/result/item/chat/id")
            .and_then(serde_json::Value::as_u64);
        if chat != Some(TASK_51_CHAT) || bare_chat != Some(TASK_51_CHAT) {
            return Err(BenchError::new(
                "end to end",
                "the emulator did not answer with task 51's chat",
            ));
        }
        Ok(())
    }

    async fn bare_call(&self) -> Result<Bytes, BenchError> {
        let (parts, body) = self.request.clone().into_parts();
        let request = http::Request::from_parts(parts, Full::new(body));
        let response = self.bare.request(request).await.context("bare call")?;
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .context("bare body")?
            .to_bytes();
        if status != http::StatusCode::OK {
            return Err(BenchError::new("bare call", format!("status {status}")));
        }
        Ok(body)
    }

    async fn b24_call(&self) -> Result<(), BenchError> {
        let reply = self
            .client
            .execute(&self.portal, self.method.clone())
            .await
            .context("b24-hyper call")?;
        black_box(reply);
        Ok(())
    }

    async fn bare_sequential(&self, n: u64) -> Result<Duration, BenchError> {
        let start = Instant::now();
        for _ in 0..n {
            black_box(self.bare_call().await?);
        }
        Ok(start.elapsed())
    }

    async fn b24_sequential(&self, n: u64) -> Result<Duration, BenchError> {
        let start = Instant::now();
        for _ in 0..n {
            self.b24_call().await?;
        }
        Ok(start.elapsed())
    }

    /// `n` calls spread over `width` tasks, each calling one after the other.
    async fn concurrent(
        self: Arc<Self>,
        n: u64,
        width: usize,
        side: Side,
    ) -> Result<Duration, BenchError> {
        let width_u64 = u64::try_from(width).unwrap_or(1).max(1);
        let start = Instant::now();
        let mut tasks = JoinSet::new();
        for worker in 0..width_u64 {
            let share = n / width_u64 + u64::from(worker < n % width_u64);
            let bench = Arc::clone(&self);
            tasks.spawn(async move {
                for _ in 0..share {
                    match side {
                        Side::Bare => {
                            black_box(bench.bare_call().await?);
                        }
                        Side::B24 => bench.b24_call().await?,
                    }
                }
                Ok::<(), BenchError>(())
            });
        }
        while let Some(joined) = tasks.join_next().await {
            joined.context("worker task")??;
        }
        Ok(start.elapsed())
    }
}
