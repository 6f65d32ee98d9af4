//! What Redis-backed stores cost with many portals: Redis memory per portal, and the
//! time a Redis store adds to each call compared with the in-memory stores.
//!
//! ```sh
//! cargo run --release -p b24-redis --example portals_overhead -- --portals 1000 --rounds 5
//! ```
//!
//! One process runs a `redis-server` (from `PATH`, on a free loopback port), the
//! emulator over HTTPS with `--portals` portals (`p0.bitrix24.test`, `p1...`, each with
//! a bucket of 50 draining 10,000 per second, so it never throttles) and two
//! `b24_hyper::Client`s built the same way, one with `RedisBackend` and one with the
//! default in-memory stores. Every call is `tasks.task.result.addfromchatmessage` on a
//! message user 1 posted to the portal's seeded task chat, through the portal's
//! incoming webhook.
//!
//! 1. **Memory.** After one call on a spare portal (`localhost`, which connects and
//!    loads the scripts), `INFO memory` `used_memory` and `DBSIZE` are read; then every
//!    portal gets one call from each client (the warm-up round, which also opens each
//!    client's TLS connection to each host); then they are read again. The difference
//!    over the number of portals is what a portal costs in Redis (its bucket, its key
//!    support, one webhook's budget for one method, and Redis's own bookkeeping of
//!    those keys). The keys of one portal are listed with `MEMORY USAGE`.
//! 2. **Time per call.** `--rounds` rounds over all portals, each portal getting one
//!    call from each client per round, the clients alternating call by call (the
//!    Redis client first in even rounds, the in-memory one first in odd rounds), one
//!    call in flight, from a task on the runtime's two worker threads (which also
//!    run the emulator). Each call's wall time is taken with `Instant` around the
//!    `add_from_chat_message` future. The Redis commands of these rounds are counted
//!    with `INFO commandstats` (commands run inside the Lua scripts included), and
//!    1,000 `PING`s give the cost of one bare Redis round trip on this machine.
//! 3. **Round trips.** A short calibration of up to 200 more Redis-store calls under
//!    `MONITOR` tells the commands the client sent (round trips) from those the
//!    scripts ran.
//!
//! stdout gets one JSON object; stderr a short table. Without `redis-server` on
//! `PATH` it says so and exits with status 1.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use b24_core::engine::BucketConfig;
use b24_core::Portal;
use b24_emulator::{Emulator, PortalConfig, ServerHandle};
use b24_hyper::{Client, TaskResults};
use b24_redis::testing::{redis_server_available, RedisServer};
use b24_redis::{RedisBackend, RedisConfig};
use b24_types::MessageId;

/// The seeded task whose chat the messages go to (every portal has it).
const TASK: u64 = 51;
/// The bucket both the emulator's portals and the clients assume: never throttles here.
const BURST: u32 = 50;
const DRAIN_PER_SEC: f64 = 10_000.0;
/// Calls made under `MONITOR` to count round trips.
const CALIBRATION_CALLS: usize = 200;
/// `PING`s timed for the round-trip baseline.
const PINGS: usize = 1_000;
/// Tokio worker threads (the emulator's connections and the clients' pools run there;
/// the measuring loop runs on the main thread).
const TOKIO_WORKERS: usize = 2;
/// The marker that ends the `MONITOR` capture.
const MONITOR_END: &str = "b24-portals-overhead-monitor-end";

#[derive(Debug, Clone)]
struct Options {
    portals: usize,
    rounds: usize,
}

const USAGE: &str = "usage: portals_overhead [--portals N (default 1000)] [--rounds N (default 5)]";

fn options(args: &[String]) -> Result<Options, String> {
    let mut o = Options {
        portals: 1_000,
        rounds: 5,
    };
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--portals" => o.portals = value()?.parse().map_err(|e| format!("--portals: {e}"))?,
            "--rounds" => o.rounds = value()?.parse().map_err(|e| format!("--rounds: {e}"))?,
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    if o.portals == 0 || o.rounds == 0 {
        return Err(format!(
            "--portals and --rounds must be at least 1\n{USAGE}"
        ));
    }
    Ok(o)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let o = match options(args.get(1..).unwrap_or_default()) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("portals_overhead: {e}");
            std::process::exit(2);
        }
    };
    if !redis_server_available() {
        eprintln!(
            "portals_overhead: redis-server is not on PATH; this benchmark needs a local \
             Redis server binary (Debian/Ubuntu: `apt-get install redis-server`)"
        );
        std::process::exit(1);
    }
    let Some(redis) = RedisServer::start_default() else {
        eprintln!("portals_overhead: redis-server could not be started");
        std::process::exit(1);
    };
    let result = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(TOKIO_WORKERS)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
        .and_then(|rt| {
            // The measuring loop runs as a task on the runtime's workers, as a
            // service's calls would, not on the thread that blocks on the runtime.
            let task = rt.spawn(run(o, redis.url(), redis.port(), args));
            rt.block_on(task)
                .map_err(|e| format!("the run failed: {e}"))
                .and_then(|r| r)
        });
    match result {
        Ok(report) => println!("{report}"),
        Err(e) => {
            eprintln!("portals_overhead: {e}");
            drop(redis);
            std::process::exit(1);
        }
    }
}

// ---- Redis introspection (a plain synchronous connection) ----

struct Probe {
    con: redis::Connection,
}

impl Probe {
    fn open(url: &str) -> Result<Self, String> {
        let con = redis::Client::open(url)
            .and_then(|c| c.get_connection())
            .map_err(|e| format!("cannot connect to redis-server: {e}"))?;
        Ok(Self { con })
    }

    fn info(&mut self, section: &str) -> Result<String, String> {
        redis::cmd("INFO")
            .arg(section)
            .query(&mut self.con)
            .map_err(|e| format!("INFO {section}: {e}"))
    }

    fn info_field(&mut self, section: &str, field: &str) -> Result<String, String> {
        let info = self.info(section)?;
        info.lines()
            .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
            .map(|v| v.trim().to_owned())
            .ok_or(format!("INFO {section} has no {field}"))
    }

    fn used_memory(&mut self) -> Result<i64, String> {
        self.info_field("memory", "used_memory")?
            .parse()
            .map_err(|e| format!("used_memory: {e}"))
    }

    fn dbsize(&mut self) -> Result<i64, String> {
        redis::cmd("DBSIZE")
            .query(&mut self.con)
            .map_err(|e| format!("DBSIZE: {e}"))
    }

    /// `cmdstat_<name>` calls and server time (µs), by command name.
    fn command_calls(&mut self) -> Result<BTreeMap<String, (u64, u64)>, String> {
        let info = self.info("commandstats")?;
        let mut calls = BTreeMap::new();
        for line in info.lines() {
            let Some((name, rest)) = line
                .strip_prefix("cmdstat_")
                .and_then(|l| l.split_once(':'))
            else {
                continue;
            };
            let field = |key: &str| {
                rest.split(',')
                    .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
                    .and_then(|v| v.parse::<u64>().ok())
                    .ok_or(format!("cannot read {line:?}"))
            };
            calls.insert(name.to_owned(), (field("calls")?, field("usec")?));
        }
        Ok(calls)
    }

    /// Every key of one portal host with its type, `MEMORY USAGE` and time to live.
    fn portal_keys(&mut self, host: &str) -> Result<Vec<serde_json::Value>, String> {
        let mut keys: Vec<String> = redis::cmd("KEYS")
            // The host in the key may carry the port (`{host:port}`).
            .arg(format!("b24:{{{host}[}}:]*"))
            .query(&mut self.con)
            .map_err(|e| format!("KEYS: {e}"))?;
        keys.sort();
        let mut out = Vec::new();
        for key in keys {
            let kind: String = redis::cmd("TYPE")
                .arg(&key)
                .query(&mut self.con)
                .map_err(|e| format!("TYPE: {e}"))?;
            let bytes: i64 = redis::cmd("MEMORY")
                .arg("USAGE")
                .arg(&key)
                .arg("SAMPLES")
                .arg(0)
                .query(&mut self.con)
                .map_err(|e| format!("MEMORY USAGE: {e}"))?;
            let pttl: i64 = redis::cmd("PTTL")
                .arg(&key)
                .query(&mut self.con)
                .map_err(|e| format!("PTTL: {e}"))?;
            out.push(serde_json::json!({
                "key": key,
                "type": kind,
                "memory_usage_bytes": bytes,
                "ttl_s": pttl / 1000,
            }));
        }
        Ok(out)
    }

    /// One `PING` on this blocking connection, in ns.
    fn ping_nanos(&mut self) -> Result<u64, String> {
        let started = Instant::now();
        let _: String = redis::cmd("PING")
            .query(&mut self.con)
            .map_err(|e| format!("PING: {e}"))?;
        Ok(u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX))
    }

    fn echo(&mut self, text: &str) -> Result<(), String> {
        let _: String = redis::cmd("ECHO")
            .arg(text)
            .query(&mut self.con)
            .map_err(|e| format!("ECHO: {e}"))?;
        Ok(())
    }
}

/// Calls and server µs per command between two `INFO commandstats`.
fn delta(
    before: &BTreeMap<String, (u64, u64)>,
    after: &BTreeMap<String, (u64, u64)>,
) -> BTreeMap<String, (u64, u64)> {
    after
        .iter()
        // The probe's own INFO calls are not the client's.
        .filter(|(name, _)| name.as_str() != "info")
        .map(|(name, (calls, usec))| {
            let (c0, u0) = before.get(name).copied().unwrap_or((0, 0));
            (
                name.clone(),
                (calls.saturating_sub(c0), usec.saturating_sub(u0)),
            )
        })
        .filter(|(_, (calls, _))| *calls > 0)
        .collect()
}

/// `MONITOR` on its own connection, read by a thread until [`MONITOR_END`] is echoed.
struct Monitor {
    reader: std::thread::JoinHandle<Result<Vec<String>, String>>,
}

impl Monitor {
    fn start(port: u16) -> Result<Self, String> {
        let mut stream = TcpStream::connect(("127.0.0.1", port))
            .map_err(|e| format!("MONITOR connection: {e}"))?;
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .map_err(|e| e.to_string())?;
        stream
            .write_all(b"MONITOR\r\n")
            .map_err(|e| format!("MONITOR: {e}"))?;
        let mut reader = BufReader::new(stream);
        let mut first = String::new();
        reader
            .read_line(&mut first)
            .map_err(|e| format!("MONITOR: {e}"))?;
        if !first.starts_with("+OK") {
            return Err(format!("MONITOR answered {first:?}"));
        }
        let reader = std::thread::spawn(move || {
            let mut lines = Vec::new();
            let mut line = String::new();
            loop {
                line.clear();
                match reader.read_line(&mut line) {
                    Ok(0) => return Err("MONITOR connection closed".to_owned()),
                    Ok(_) if line.contains(MONITOR_END) => return Ok(lines),
                    Ok(_) => lines.push(line.trim_end().to_owned()),
                    Err(e) => return Err(format!("MONITOR read: {e}")),
                }
            }
        });
        Ok(Self { reader })
    }

    fn finish(self, probe: &mut Probe) -> Result<Vec<String>, String> {
        probe.echo(MONITOR_END)?;
        self.reader
            .join()
            .map_err(|_| "the MONITOR reader panicked".to_owned())?
    }
}

/// Splits `MONITOR` lines into (sent by clients, run inside scripts), by command name.
fn classify(lines: &[String]) -> (BTreeMap<String, u64>, BTreeMap<String, u64>) {
    let (mut sent, mut nested) = (BTreeMap::new(), BTreeMap::new());
    for line in lines {
        // `+1700000000.123456 [0 127.0.0.1:5555] "evalsha" "..."`, or `[0 lua]`.
        let Some((source, rest)) = line.split_once('[').and_then(|(_, r)| r.split_once("] \""))
        else {
            continue;
        };
        let name = rest.split('"').next().unwrap_or_default().to_lowercase();
        let map = if source.ends_with("lua") {
            &mut nested
        } else {
            &mut sent
        };
        *map.entry(name).or_insert(0u64) += 1;
    }
    (sent, nested)
}

// ---- Statistics ----

#[derive(Debug, Default)]
struct Samples {
    nanos: Vec<u64>,
    failed: u64,
}

#[allow(clippy::cast_precision_loss)]
fn us(nanos: u64) -> f64 {
    (nanos as f64 / 100.0).round() / 10.0
}

impl Samples {
    /// Nearest-rank percentile, in µs.
    fn percentile(sorted: &[u64], p: f64) -> f64 {
        if sorted.is_empty() {
            return 0.0;
        }
        #[allow(
            clippy::cast_precision_loss,
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss
        )]
        let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
        us(sorted
            .get(rank.saturating_sub(1).min(sorted.len() - 1))
            .copied()
            .unwrap_or(0))
    }

    fn summary(&self) -> Summary {
        let mut sorted = self.nanos.clone();
        sorted.sort_unstable();
        let total: u128 = sorted.iter().map(|&n| u128::from(n)).sum();
        let mean = u64::try_from(total / (sorted.len().max(1) as u128)).unwrap_or(u64::MAX);
        Summary {
            calls: sorted.len(),
            failed: self.failed,
            p50: Self::percentile(&sorted, 50.0),
            p90: Self::percentile(&sorted, 90.0),
            p99: Self::percentile(&sorted, 99.0),
            mean: us(mean),
            min: us(sorted.first().copied().unwrap_or(0)),
            max: us(sorted.last().copied().unwrap_or(0)),
        }
    }
}

#[derive(Debug)]
struct Summary {
    calls: usize,
    failed: u64,
    p50: f64,
    p90: f64,
    p99: f64,
    mean: f64,
    min: f64,
    max: f64,
}

impl Summary {
    fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "calls": self.calls,
            "failed": self.failed,
            "p50": self.p50,
            "p90": self.p90,
            "p99": self.p99,
            "mean": self.mean,
            "min": self.min,
            "max": self.max,
        })
    }
}

/// `x` rounded to `decimals` places.
fn round_to(x: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (x * scale).round() / scale
}

fn round1(x: f64) -> f64 {
    round_to(x, 1)
}

// ---- The run ----

/// One portal as the benchmark uses it: the clients' view, and the messages to use.
struct Target {
    redis: TaskResults,
    memory: TaskResults,
    messages: Vec<MessageId>,
}

impl Target {
    fn next_message(&mut self) -> Result<MessageId, String> {
        self.messages
            .pop()
            .ok_or_else(|| "ran out of seeded messages".to_owned())
    }
}

async fn timed_call(results: &TaskResults, message: MessageId, into: &mut Samples) {
    let started = Instant::now();
    let outcome = results.add_from_chat_message(message).await;
    let nanos = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
    match outcome {
        Ok(_) => into.nanos.push(nanos),
        Err(e) => {
            into.failed += 1;
            eprintln!("portals_overhead: a call failed: {e}");
        }
    }
}

fn build_client(
    server: &ServerHandle,
    hosts: &[String],
    redis_url: Option<&str>,
) -> Result<Client, String> {
    let ca = server
        .ca_cert_pem()
        .ok_or("the emulator serves no CA certificate")?;
    let mut builder = Client::builder()
        .built_in_roots(false)
        .add_root_certificate_pem(ca)
        .bucket(BucketConfig::custom(BURST, DRAIN_PER_SEC).map_err(|e| e.to_string())?);
    for host in hosts {
        builder = builder.resolve(host, server.addr());
    }
    if let Some(url) = redis_url {
        let backend = RedisBackend::new(RedisConfig::new(url)).map_err(|e| e.to_string())?;
        builder = builder.store_backend(Arc::new(backend));
    }
    builder.build().map_err(|e| e.to_string())
}

#[allow(clippy::too_many_lines, clippy::cast_precision_loss)]
async fn run(
    o: Options,
    redis_url: String,
    redis_port: u16,
    args: Vec<String>,
) -> Result<String, String> {
    let wall = Instant::now();
    let hosts: Vec<String> = (0..o.portals)
        .map(|n| format!("p{n}.bitrix24.test"))
        .collect();
    // The first portal is the emulator's default, addressed as `localhost`: a spare one,
    // used to connect to Redis and load the scripts before the memory is measured.
    let mut builder =
        Emulator::builder().portal(PortalConfig::new("localhost").bucket(BURST, DRAIN_PER_SEC));
    for host in &hosts {
        builder = builder.portal(PortalConfig::new(host).bucket(BURST, DRAIN_PER_SEC));
    }
    let server = builder
        .build()
        .serve_https()
        .await
        .map_err(|e| e.to_string())?;

    // Messages: one per call, each portal's user 1 posting to the seeded task's chat.
    let calibration = CALIBRATION_CALLS.min(o.portals);
    let seeding = Instant::now();
    let mut portals = Vec::with_capacity(o.portals);
    let mut targets = Vec::with_capacity(o.portals);
    let redis_client = build_client(&server, &hosts, Some(&redis_url))?;
    let memory_client = build_client(&server, &hosts, None)?;
    for (n, host) in hosts.iter().enumerate() {
        let emu = server
            .emulator()
            .portal(host)
            .ok_or(format!("the emulator has no portal {host}"))?;
        let chat = emu
            .task_chat(TASK)
            .ok_or(format!("{host}: the seeded task has no chat"))?;
        let per_portal = 2 * (1 + o.rounds) + usize::from(n < calibration);
        let mut messages = Vec::with_capacity(per_portal);
        for m in 0..per_portal {
            let id = emu
                .add_message(chat, 1, &format!("work item {m} on {host} done"))
                .map_err(|e| e.to_string())?;
            messages.push(MessageId::new(id).map_err(|e| e.to_string())?);
        }
        let url = server
            .webhook_url(&emu, 1)
            .ok_or(format!("{host}: no webhook for user 1"))?;
        let portal = Portal::webhook(&url).map_err(|e| e.to_string())?;
        targets.push(Target {
            redis: redis_client.task_results(&portal),
            memory: memory_client.task_results(&portal),
            messages,
        });
        portals.push(emu);
    }
    let seeding_s = seeding.elapsed().as_secs_f64();

    let mut probe = Probe::open(&redis_url)?;
    let redis_version = probe.info_field("server", "redis_version")?;

    // 1. Memory: a spare call first (connection, scripts), then one call per portal.
    let spare = server.portal();
    let spare_chat = spare.task_chat(TASK).ok_or("localhost: no task chat")?;
    let spare_message = spare
        .add_message(spare_chat, 1, "warm-up")
        .map_err(|e| e.to_string())?;
    let spare_url = server
        .webhook_url(&spare, 1)
        .ok_or("localhost: no webhook for user 1")?;
    let spare_portal = Portal::webhook(&spare_url).map_err(|e| e.to_string())?;
    redis_client
        .task_results(&spare_portal)
        .add_from_chat_message(MessageId::new(spare_message).map_err(|e| e.to_string())?)
        .await
        .map_err(|e| format!("the warm-up call failed: {e}"))?;

    let memory_before = probe.used_memory()?;
    let keys_before = probe.dbsize()?;
    let warmup = Instant::now();
    let mut warm_redis = Samples::default();
    let mut warm_memory = Samples::default();
    for t in &mut targets {
        let m = t.next_message()?;
        timed_call(&t.redis, m, &mut warm_redis).await;
        let m = t.next_message()?;
        timed_call(&t.memory, m, &mut warm_memory).await;
    }
    let warmup_s = warmup.elapsed().as_secs_f64();
    let memory_after = probe.used_memory()?;
    let keys_after = probe.dbsize()?;
    let sample_host = hosts.get(1).or(hosts.first()).cloned().unwrap_or_default();
    let sample_keys = probe.portal_keys(&sample_host)?;
    let sample_sum: i64 = sample_keys
        .iter()
        .filter_map(|k| k["memory_usage_bytes"].as_i64())
        .sum();

    // 2. Time per call, alternating the clients call by call.
    let stats_before = probe.command_calls()?;
    let timed = Instant::now();
    let mut on_redis = Samples::default();
    let mut on_memory = Samples::default();
    for round in 0..o.rounds {
        for t in &mut targets {
            let (first, second) = (t.next_message()?, t.next_message()?);
            if round % 2 == 0 {
                timed_call(&t.redis, first, &mut on_redis).await;
                timed_call(&t.memory, second, &mut on_memory).await;
            } else {
                timed_call(&t.memory, first, &mut on_memory).await;
                timed_call(&t.redis, second, &mut on_redis).await;
            }
        }
    }
    let timed_s = timed.elapsed().as_secs_f64();
    let stats_after = probe.command_calls()?;
    let commands = delta(&stats_before, &stats_after);
    let redis_calls = (o.portals * o.rounds) as f64;
    let commands_total: u64 = commands.values().map(|(calls, _)| calls).sum();
    let commands_by_name: BTreeMap<&String, f64> = commands
        .iter()
        .map(|(name, (n, _))| (name, round_to(*n as f64 / redis_calls, 2)))
        .collect();
    // A script's server time includes the commands it runs.
    let script_usec = commands.get("evalsha").map_or(0, |(_, usec)| *usec);

    // What one Redis round trip costs here: PING through a multiplexed tokio connection
    // (the kind RedisBackend uses) from this task, and on the blocking connection.
    let mut manager = redis::Client::open(redis_url.as_str())
        .map_err(|e| e.to_string())?
        .get_connection_manager()
        .await
        .map_err(|e| format!("cannot connect to redis-server: {e}"))?;
    let mut ping_async = Samples::default();
    let mut ping_blocking = Samples::default();
    for _ in 0..PINGS {
        let started = Instant::now();
        let _: String = redis::cmd("PING")
            .query_async(&mut manager)
            .await
            .map_err(|e| format!("PING: {e}"))?;
        ping_async
            .nanos
            .push(u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX));
        ping_blocking.nanos.push(probe.ping_nanos()?);
    }
    drop(manager);
    let ping_async = ping_async.summary();
    let ping_blocking = ping_blocking.summary();

    // 3. Round trips: a few more Redis-store calls under MONITOR.
    let monitor = Monitor::start(redis_port)?;
    let mut calibrated = Samples::default();
    for t in targets.iter_mut().take(calibration) {
        let m = t.next_message()?;
        timed_call(&t.redis, m, &mut calibrated).await;
    }
    let lines = monitor.finish(&mut probe)?;
    let (sent, nested) = classify(&lines);
    let per_call = |m: &BTreeMap<String, u64>| -> BTreeMap<String, f64> {
        m.iter()
            .map(|(k, v)| (k.clone(), round_to(*v as f64 / calibration as f64, 2)))
            .collect()
    };
    let sent_total: u64 = sent.values().sum();
    let nested_total: u64 = nested.values().sum();

    let stored = spare.results().len() + portals.iter().map(|p| p.results().len()).sum::<usize>();
    let attempted = 1 + 2 * o.portals * (1 + o.rounds) + calibration;
    let mem = on_memory.summary();
    let red = on_redis.summary();
    let cores = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    let per_portal_bytes = (memory_after - memory_before) as f64 / o.portals as f64;
    let keys_per_portal = (keys_after - keys_before) as f64 / o.portals as f64;

    let report = serde_json::json!({
        "command": args.join(" "),
        "build": if cfg!(debug_assertions) { "debug" } else { "release" },
        "cores": cores,
        "tokio_workers": TOKIO_WORKERS,
        "redis_version": redis_version,
        "portals": o.portals,
        "rounds": o.rounds,
        "memory": {
            "used_memory_before": memory_before,
            "used_memory_after": memory_after,
            "bytes_per_portal": per_portal_bytes.round(),
            "keys_before": keys_before,
            "keys_after": keys_after,
            "keys_per_portal": round_to(keys_per_portal, 2),
            "sample_portal": {
                "host": sample_host,
                "memory_usage_sum_bytes": sample_sum,
                "keys": sample_keys,
            },
        },
        "latency_us": {
            "memory": mem.json(),
            "redis": red.json(),
            "p50_diff": round1(red.p50 - mem.p50),
            "p99_diff": round1(red.p99 - mem.p99),
            "mean_diff": round1(red.mean - mem.mean),
            "warmup_round_p50": { "memory": warm_memory.summary().p50, "redis": warm_redis.summary().p50 },
        },
        "redis_ping_us": {
            "note": "one PING round trip, alternately through a multiplexed tokio connection from the measuring task, and on a blocking connection",
            "async_multiplexed": { "p50": ping_async.p50, "p99": ping_async.p99, "mean": ping_async.mean },
            "blocking": { "p50": ping_blocking.p50, "p99": ping_blocking.p99, "mean": ping_blocking.mean },
        },
        "redis_commands": {
            "per_call": round_to(commands_total as f64 / redis_calls, 2),
            "per_call_by_command": commands_by_name,
            "note": "INFO commandstats over the timed rounds; counts the commands run inside Lua scripts",
            "evalsha_server_us_per_call": round1(script_usec as f64 / redis_calls),
            "monitor_calls": calibration,
            "round_trips_per_call": round_to(sent_total as f64 / calibration as f64, 2),
            "round_trips_by_command": per_call(&sent),
            "inside_scripts_per_call": round_to(nested_total as f64 / calibration as f64, 2),
            "inside_scripts_by_command": per_call(&nested),
        },
        "calls_attempted": attempted,
        "results_stored": stored,
        "seconds": {
            "seeding": round_to(seeding_s, 2),
            "warmup_round": round_to(warmup_s, 2),
            "timed_rounds": round_to(timed_s, 2),
            "total": round_to(wall.elapsed().as_secs_f64(), 2),
        },
    });

    eprintln!(
        "portals_overhead: {} portals, {} rounds, {cores} cores, redis {redis_version}, {} build",
        o.portals,
        o.rounds,
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
    );
    eprintln!(
        "{:<8} {:>7} {:>7} {:>9} {:>9} {:>9} {:>9}",
        "store", "calls", "failed", "p50 µs", "p90 µs", "p99 µs", "mean µs"
    );
    for (name, s) in [("memory", &mem), ("redis", &red)] {
        eprintln!(
            "{name:<8} {:>7} {:>7} {:>9.1} {:>9.1} {:>9.1} {:>9.1}",
            s.calls, s.failed, s.p50, s.p90, s.p99, s.mean
        );
    }
    eprintln!(
        "redis - memory: p50 {:+.1} µs, p99 {:+.1} µs, mean {:+.1} µs",
        red.p50 - mem.p50,
        red.p99 - mem.p99,
        red.mean - mem.mean
    );
    eprintln!(
        "redis memory: {per_portal_bytes:.0} bytes and {keys_per_portal:.1} keys per portal \
         ({} → {} bytes used)",
        memory_before, memory_after
    );
    eprintln!(
        "redis per call: {:.2} commands, of which {:.2} round trips ({}) and {:.2} inside scripts",
        commands_total as f64 / redis_calls,
        sent_total as f64 / calibration as f64,
        sent.iter()
            .map(|(k, v)| format!("{k} ×{:.2}", *v as f64 / calibration as f64))
            .collect::<Vec<_>>()
            .join(", "),
        nested_total as f64 / calibration as f64,
    );
    eprintln!(
        "one redis PING: p50 {:.1} µs through a tokio multiplexed connection, {:.1} µs blocking",
        ping_async.p50, ping_blocking.p50
    );
    if red.failed + mem.failed + calibrated.failed + warm_redis.failed + warm_memory.failed > 0 {
        eprintln!("portals_overhead: some calls failed (see above); the figures cover the others");
    }

    drop(targets);
    drop(redis_client);
    drop(memory_client);
    server.shutdown().await;
    Ok(report.to_string())
}
