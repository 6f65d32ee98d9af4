//! A small fleet: several OS processes calling one portal, sharing its request bucket
//! (and, with `--oauth`, its token pair) through Redis.
//!
//! ```sh
//! cargo run --release -p b24-fleet -- --workers 4 --calls 150
//! cargo run --release -p b24-fleet -- --store memory     # the baseline
//! cargo run --release -p b24-fleet -- --oauth            # a token that expires mid-run
//! ```
//!
//! The parent starts a `redis-server` on a free loopback port (from the Debian package
//! `redis-server`) and the emulator over HTTPS, posts the messages to a task's chat,
//! then starts `--workers` copies of itself. Each worker builds its own
//! `b24_hyper::Client` (with `RedisBackend`, or in-memory stores with `--store
//! memory`) and turns its share of the messages into task results with
//! `tasks.task.result.addfromchatmessage`, eight calls in flight. The parent prints
//! one JSON object: what the emulator counted (requests refused with 503, results
//! stored, token refreshes) and the wall time against the theoretical minimum
//! `(N - burst) / rate`.
//!
//! The bucket is the standard one's shape (burst 50) drained at `--rate` per second (20
//! by default, ten times the standard 2/s) so that a run takes seconds, not minutes.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use b24_core::engine::{BucketConfig, OAuthApp, RefreshFailure, RetryPolicy, TokenSet};
use b24_core::Portal;
use b24_emulator::{Emulator, PortalConfig};
use b24_hyper::Client;
use b24_redis::testing::RedisServer;
use b24_redis::{RedisBackend, RedisConfig};
use b24_types::{AccessToken, ClientSecret, MessageId, RefreshToken};

/// The task whose chat the messages go to (seeded by the emulator).
const TASK: u64 = 51;
/// Calls in flight per worker.
const IN_FLIGHT: usize = 8;

#[derive(Debug, Clone)]
struct Options {
    workers: usize,
    calls: usize,
    store: Store,
    burst: u32,
    rate: f64,
    oauth: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Store {
    Redis,
    Memory,
}

fn options(args: &[String]) -> Result<Options, String> {
    let mut o = Options {
        workers: 4,
        calls: 150,
        store: Store::Redis,
        burst: 50,
        rate: 20.0,
        oauth: false,
    };
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--workers" => o.workers = value()?.parse().map_err(|e| format!("--workers: {e}"))?,
            "--calls" => o.calls = value()?.parse().map_err(|e| format!("--calls: {e}"))?,
            "--burst" => o.burst = value()?.parse().map_err(|e| format!("--burst: {e}"))?,
            "--rate" => o.rate = value()?.parse().map_err(|e| format!("--rate: {e}"))?,
            "--store" => {
                o.store = match value()?.as_str() {
                    "redis" => Store::Redis,
                    "memory" => Store::Memory,
                    other => return Err(format!("--store redis|memory, not {other}")),
                }
            }
            "--oauth" => o.oauth = true,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(o)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = if args.first().map(String::as_str) == Some("--worker") {
        worker()
    } else {
        options(&args).and_then(|o| parent(&o))
    };
    if let Err(e) = result {
        eprintln!("fleet: {e}");
        std::process::exit(1);
    }
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
}

// ---- The parent: Redis, the emulator, the workers, the report. ----

fn parent(o: &Options) -> Result<(), String> {
    let redis = match o.store {
        Store::Redis => Some(
            RedisServer::start_default()
                .ok_or("redis-server is not installed (apt-get install redis-server)")?,
        ),
        Store::Memory => None,
    };
    let rt = runtime()?;
    let report = rt.block_on(run_fleet(o, redis.as_ref().map(RedisServer::url)))?;
    println!("{report}");
    Ok(())
}

async fn run_fleet(o: &Options, redis_url: Option<String>) -> Result<String, String> {
    let total = o.workers * o.calls;
    #[allow(clippy::cast_precision_loss)]
    let minimum = (total as f64 - f64::from(o.burst)).max(0.0) / o.rate;
    let mut config = PortalConfig::new("localhost").bucket(o.burst, o.rate);
    if o.oauth {
        // The first token expires a little past half-way through the run, the
        // refreshed one after its end: one refresh is due.
        config = config.access_token_ttl(Duration::from_secs_f64((minimum * 0.6).max(1.0)));
    }
    let server = Emulator::builder()
        .portal(config)
        .build()
        .serve_https()
        .await
        .map_err(|e| e.to_string())?;
    let portal = server.portal();
    let chat = portal
        .task_chat(TASK)
        .ok_or("the seeded task has no chat")?;
    let total = o.workers * o.calls;
    let mut messages = Vec::with_capacity(total);
    for n in 0..total {
        messages.push(
            portal
                .add_message(chat, 1, &format!("work item {n} done"))
                .map_err(|e| e.to_string())?,
        );
    }
    let ca = std::env::temp_dir().join(format!("b24-fleet-ca-{}.pem", std::process::id()));
    std::fs::write(&ca, server.ca_cert_pem().ok_or("no CA")?).map_err(|e| e.to_string())?;
    let url = if o.oauth {
        format!("https://localhost:{}", server.addr().port())
    } else {
        server
            .webhook_url(&portal, 1)
            .ok_or("no webhook for user 1")?
    };
    let tokens = if o.oauth {
        let (access, refresh) = portal.issue_tokens(1).map_err(|e| e.to_string())?;
        Some((
            access.expose_secret().to_owned(),
            refresh.expose_secret().to_owned(),
        ))
    } else {
        None
    };
    let me = std::env::current_exe().map_err(|e| e.to_string())?;
    let start_at = unix_ms() + 1_500;
    let mut children = Vec::new();
    for (w, share) in messages.chunks(o.calls).enumerate() {
        let ids: Vec<String> = share.iter().map(u64::to_string).collect();
        let mut cmd = Command::new(&me);
        cmd.arg("--worker")
            .env("B24_FLEET_URL", &url)
            .env("B24_FLEET_ADDR", server.addr().to_string())
            .env("B24_FLEET_CA", &ca)
            .env("B24_FLEET_MESSAGES", ids.join(","))
            .env("B24_FLEET_BUCKET", format!("{}:{}", o.burst, o.rate))
            .env("B24_FLEET_START_AT", start_at.to_string())
            .env("B24_FLEET_WORKER", w.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if let Some(redis) = &redis_url {
            cmd.env("B24_FLEET_REDIS", redis);
        }
        if let Some((access, refresh)) = &tokens {
            cmd.env("B24_FLEET_ACCESS", access)
                .env("B24_FLEET_REFRESH", refresh)
                .env("B24_FLEET_CLIENT_ID", server.emulator().oauth_client_id())
                .env(
                    "B24_FLEET_CLIENT_SECRET",
                    server.emulator().oauth_client_secret(),
                )
                .env("B24_FLEET_TOKEN_URL", server.token_url());
        }
        children.push(cmd.spawn().map_err(|e| format!("spawn worker: {e}"))?);
    }
    let mut lines = Vec::new();
    for child in children {
        let out = tokio::task::spawn_blocking(move || child.wait_with_output())
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(format!("a worker failed: {}", out.status));
        }
        lines.push(String::from_utf8_lossy(&out.stdout).trim().to_owned());
    }
    let _ = std::fs::remove_file(&ca);
    let stats: Vec<serde_json::Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).map_err(|e| format!("worker said {l:?}: {e}")))
        .collect::<Result<_, _>>()?;
    let sum = |k: &str| stats.iter().filter_map(|s| s[k].as_u64()).sum::<u64>();
    let first = stats
        .iter()
        .filter_map(|s| s["first_sent_ms"].as_u64())
        .min()
        .unwrap_or(0);
    let last = stats
        .iter()
        .filter_map(|s| s["last_done_ms"].as_u64())
        .max()
        .unwrap_or(0);
    #[allow(clippy::cast_precision_loss)]
    let wall = last.saturating_sub(first) as f64 / 1000.0;
    let report = serde_json::json!({
        "store": if o.store == Store::Redis { "redis" } else { "memory" },
        "auth": if o.oauth { "oauth" } else { "webhook" },
        "workers": o.workers,
        "calls": total,
        "bucket": { "burst": o.burst, "per_second": o.rate },
        "succeeded": sum("ok"),
        "failed": sum("failed"),
        "invalid_grant": sum("invalid_grant"),
        "emulator_503": portal.rate_limited(),
        "emulator_requests": portal.calls("tasks.task.result.addfromchatmessage"),
        "emulator_token_refreshes": portal.calls("oauth.token"),
        "results_stored": portal.results().len(),
        "wall_s": (wall * 1000.0).round() / 1000.0,
        "theoretical_min_s": (minimum * 1000.0).round() / 1000.0,
        "ratio": if minimum > 0.0 { ((wall / minimum) * 10_000.0).round() / 10_000.0 } else { 0.0 },
    });
    server.shutdown().await;
    Ok(report.to_string())
}

// ---- A worker: its own client, its share of the messages. ----

fn env(name: &str) -> Result<String, String> {
    std::env::var(name).map_err(|_| format!("{name} is not set"))
}

fn worker() -> Result<(), String> {
    let rt = runtime()?;
    let stats = rt.block_on(work())?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{stats}").map_err(|e| e.to_string())
}

async fn work() -> Result<serde_json::Value, String> {
    let url = env("B24_FLEET_URL")?;
    let addr: std::net::SocketAddr = env("B24_FLEET_ADDR")?.parse().map_err(|e| format!("{e}"))?;
    let ca = std::fs::read(env("B24_FLEET_CA")?).map_err(|e| e.to_string())?;
    let (burst, rate) = env("B24_FLEET_BUCKET")?
        .split_once(':')
        .and_then(|(b, r)| Some((b.parse::<u32>().ok()?, r.parse::<f64>().ok()?)))
        .ok_or("B24_FLEET_BUCKET is burst:rate")?;
    let messages: Vec<MessageId> = env("B24_FLEET_MESSAGES")?
        .split(',')
        .filter_map(|id| id.parse().ok().and_then(|id| MessageId::new(id).ok()))
        .collect();
    let start_at: u64 = env("B24_FLEET_START_AT")?
        .parse()
        .map_err(|e| format!("{e}"))?;

    let mut policy = RetryPolicy::default();
    if let Ok(ms) = std::env::var("B24_FLEET_REFRESH_LEASE_MS") {
        let ms: u64 = ms
            .parse()
            .map_err(|e| format!("B24_FLEET_REFRESH_LEASE_MS: {e}"))?;
        policy = policy.refresh_lease(Duration::from_millis(ms));
    }
    let mut builder = Client::builder()
        .built_in_roots(false)
        .add_root_certificate_pem(ca)
        .resolve("localhost", addr)
        .bucket(BucketConfig::custom(burst, rate).map_err(|e| e.to_string())?)
        .retry_policy(policy)
        .call_deadline(Duration::from_secs(120));
    if let Ok(redis) = std::env::var("B24_FLEET_REDIS") {
        let backend = RedisBackend::new(RedisConfig::new(redis)).map_err(|e| e.to_string())?;
        builder = builder.store_backend(Arc::new(backend));
    }
    let oauth = std::env::var("B24_FLEET_ACCESS").is_ok();
    if oauth {
        let app = OAuthApp::new(
            env("B24_FLEET_CLIENT_ID")?,
            ClientSecret::new(env("B24_FLEET_CLIENT_SECRET")?),
        )
        .token_url(env("B24_FLEET_TOKEN_URL")?);
        builder = builder.oauth_app(app);
    }
    let client = builder.build().map_err(|e| e.to_string())?;
    let portal = if oauth {
        Portal::oauth(&url).map_err(|e| e.to_string())?
    } else {
        Portal::webhook(&url).map_err(|e| e.to_string())?
    };
    if oauth {
        let tokens = TokenSet::new(
            AccessToken::new(env("B24_FLEET_ACCESS")?),
            RefreshToken::new(env("B24_FLEET_REFRESH")?),
        );
        // Every worker offers the same first pair; the first one stored wins.
        let _ = client
            .install_tokens(&portal, tokens)
            .await
            .map_err(|e| e.to_string())?;
    }

    let wait = start_at.saturating_sub(unix_ms());
    tokio::time::sleep(Duration::from_millis(wait)).await;
    eprintln!("fleet worker {}: started", env("B24_FLEET_WORKER")?);
    let first_sent_ms = unix_ms();
    let started = Instant::now();
    let queue = Arc::new(std::sync::Mutex::new(messages));
    let mut tasks = Vec::new();
    for _ in 0..IN_FLIGHT {
        let queue = Arc::clone(&queue);
        let results = client.task_results(&portal);
        tasks.push(tokio::spawn(async move {
            let (mut ok, mut failed, mut invalid_grant) = (0u64, 0u64, 0u64);
            loop {
                let next = queue.lock().ok().and_then(|mut q| q.pop());
                let Some(message) = next else { break };
                match results.add_from_chat_message(message).await {
                    Ok(_) => ok += 1,
                    Err(e) => {
                        failed += 1;
                        if let b24_hyper::Error::Core(b24_core::Error::TokenRefresh(refresh)) = &e {
                            if refresh.failure == RefreshFailure::InvalidGrant {
                                invalid_grant += 1;
                            }
                        }
                        eprintln!("fleet worker: call failed: {e}");
                    }
                }
            }
            (ok, failed, invalid_grant)
        }));
    }
    let (mut ok, mut failed, mut invalid_grant) = (0, 0, 0);
    for t in tasks {
        let (o, f, g) = t.await.map_err(|e| e.to_string())?;
        ok += o;
        failed += f;
        invalid_grant += g;
    }
    Ok(serde_json::json!({
        "worker": env("B24_FLEET_WORKER")?,
        "ok": ok,
        "failed": failed,
        "invalid_grant": invalid_grant,
        "first_sent_ms": first_sent_ms,
        "last_done_ms": unix_ms(),
        "elapsed_ms": u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    }))
}
