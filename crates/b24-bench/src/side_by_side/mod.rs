//! Side by side: b24-hyper against bare clients, each client in its own OS process
//! against a fixed-answer HTTPS server in another, over loopback.
//!
//! The orchestrator ([`run`]) starts the server ([`server_process`]) pinned to one
//! core, then, round after round, one client process ([`client_process`]) per
//! (client kind, protocol, concurrency) pinned to the other core, in an order rotated
//! every round. Each client makes its warm-up calls, then the measured calls, and
//! reports its calls per second and its own CPU time per call; the server's counters,
//! read before and after each client, check that every call arrived once over the
//! right protocol, and give the server's share. [`SideReport::to_markdown`] is the
//! text of `docs/benchmarks-side-by-side.md`.
//!
//! The server and the clients are the `side-by-side` binary run again in its internal
//! `__server` and `__client` modes.

mod answer;
mod args;
mod client;
mod cpu;
mod orchestrate;
mod report;
mod server;

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use answer::{
    bare_request, expected_envelope, expected_value, portal, AnswerEnvelope, AnswerItem,
    AnswerResult, AnswerRights, AnswerTime, ANSWER_BODY, MESSAGE_ID, RESULT_ID, TASK_ID,
    USER_AGENT,
};
pub use client::client_process;
pub use cpu::CpuTime;
pub use orchestrate::{run, Pinning};
pub use report::{Cell, Goal, Metric, Ratio, Run, SideReport, Verdict};
pub use server::{server_process, Ports, ServerStats};

use args::Args;

use crate::error::BenchError;

/// The line a client process prints when its warm-up is done.
pub const WARM: &str = "warm";
/// The line the orchestrator then sends a client process to start the measured calls.
pub const GO: &str = "go";

/// The protocol a client process runs over, decided by the server's ALPN offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    /// HTTP/1.1: a pool of connections, one call at a time on each.
    Http1,
    /// HTTP/2: calls multiplexed on one connection.
    Http2,
}

impl Protocol {
    /// Both, HTTP/1.1 first.
    pub const ALL: [Self; 2] = [Self::Http1, Self::Http2];

    /// The name in process arguments.
    pub fn as_arg(self) -> &'static str {
        match self {
            Self::Http1 => "h1",
            Self::Http2 => "h2",
        }
    }

    /// The name in the report.
    pub fn label(self) -> &'static str {
        match self {
            Self::Http1 => "HTTP/1.1",
            Self::Http2 => "HTTP/2",
        }
    }

    /// The ALPN protocol id.
    pub fn alpn(self) -> &'static [u8] {
        match self {
            Self::Http1 => b"http/1.1",
            Self::Http2 => b"h2",
        }
    }

    fn from_arg(arg: &str) -> Result<Self, BenchError> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_arg() == arg)
            .ok_or_else(|| BenchError::new("arguments", format!("unknown protocol {arg:?}")))
    }
}

/// The clients compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ClientKind {
    /// hyper-util's legacy client with hyper-rustls; the body collected and dropped.
    BareHyper,
    /// The same, and the body parsed into a `serde_json::Value`.
    BareHyperJson,
    /// reqwest (rustls) with the answer decoded into a typed struct.
    ReqwestSerde,
    /// b24-hyper's `task_results(..).add_from_chat_message(..)`.
    B24Hyper,
}

impl ClientKind {
    /// Every kind, in report order.
    pub const ALL: [Self; 4] = [
        Self::B24Hyper,
        Self::BareHyper,
        Self::BareHyperJson,
        Self::ReqwestSerde,
    ];

    /// The name in process arguments.
    pub fn as_arg(self) -> &'static str {
        match self {
            Self::BareHyper => "bare-hyper",
            Self::BareHyperJson => "bare-hyper-json",
            Self::ReqwestSerde => "reqwest-serde",
            Self::B24Hyper => "b24-hyper",
        }
    }

    /// The name in the report.
    pub fn label(self) -> &'static str {
        match self {
            Self::BareHyper => "bare hyper, body discarded",
            Self::BareHyperJson => "bare hyper + `serde_json::Value`",
            Self::ReqwestSerde => "reqwest + typed serde",
            Self::B24Hyper => "**b24-hyper**",
        }
    }

    fn from_arg(arg: &str) -> Result<Self, BenchError> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_arg() == arg)
            .ok_or_else(|| BenchError::new("arguments", format!("unknown client {arg:?}")))
    }
}

/// What one client process does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientSpec {
    /// The client.
    pub kind: ClientKind,
    /// The protocol the server's port offers.
    pub protocol: Protocol,
    /// The server's port on 127.0.0.1 (reached as `localhost`).
    pub port: u16,
    /// The server's certificate, PEM.
    pub ca: PathBuf,
    /// Calls in flight.
    pub concurrency: usize,
    /// Warm-up calls (every answer checked in full).
    pub warmup: u64,
    /// Measured calls.
    pub calls: u64,
}

impl ClientSpec {
    /// The arguments of the client mode, after `__client`.
    pub fn to_args(&self) -> Vec<String> {
        vec![
            "--kind".to_owned(),
            self.kind.as_arg().to_owned(),
            "--protocol".to_owned(),
            self.protocol.as_arg().to_owned(),
            "--port".to_owned(),
            self.port.to_string(),
            "--ca".to_owned(),
            self.ca.display().to_string(),
            "--concurrency".to_owned(),
            self.concurrency.to_string(),
            "--warmup".to_owned(),
            self.warmup.to_string(),
            "--calls".to_owned(),
            self.calls.to_string(),
        ]
    }

    /// Parses [`to_args`](Self::to_args).
    ///
    /// # Errors
    ///
    /// A missing, unknown or malformed argument.
    pub fn from_args(args: &[String]) -> Result<Self, BenchError> {
        let mut args = Args::parse(args)?;
        let spec = Self {
            kind: ClientKind::from_arg(&args.required("kind")?)?,
            protocol: Protocol::from_arg(&args.required("protocol")?)?,
            port: args.parsed("port")?,
            ca: PathBuf::from(args.required("ca")?),
            concurrency: args.parsed("concurrency")?,
            warmup: args.parsed("warmup")?,
            calls: args.parsed("calls")?,
        };
        args.finish()?;
        if spec.concurrency == 0 || spec.calls == 0 {
            return Err(BenchError::new(
                "arguments",
                "--concurrency and --calls must be at least 1",
            ));
        }
        Ok(spec)
    }
}

/// What a client process reports: one JSON line on its standard output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientOutcome {
    /// [`ClientKind::as_arg`].
    pub kind: String,
    /// [`Protocol::as_arg`].
    pub protocol: String,
    /// Calls in flight.
    pub concurrency: usize,
    /// Warm-up calls made (all answers right, or the process fails).
    pub warmup: u64,
    /// Measured calls made.
    pub calls: u64,
    /// Measured calls whose answer was right.
    pub ok: u64,
    /// Wall time of the measured calls, ns.
    pub wall_ns: u64,
    /// The process's user CPU time during the measured calls, ns.
    pub cpu_user_ns: u64,
    /// The process's kernel CPU time during the measured calls, ns.
    pub cpu_sys_ns: u64,
    /// Times the process was preempted during the measured calls (involuntary
    /// context switches): other work wanted its core.
    pub preempted: u64,
}

impl ClientOutcome {
    /// Measured calls per second of wall time.
    pub fn calls_per_sec(&self) -> f64 {
        ratio(self.calls as f64, self.wall_ns as f64 / 1e9)
    }

    /// Client CPU time (user + kernel) per measured call, µs.
    pub fn cpu_us_per_call(&self) -> f64 {
        ratio(
            (self.cpu_user_ns + self.cpu_sys_ns) as f64 / 1e3,
            self.calls as f64,
        )
    }

    /// The share of the measured wall time the client process spent on a CPU.
    pub fn busy(&self) -> f64 {
        ratio(
            (self.cpu_user_ns + self.cpu_sys_ns) as f64,
            self.wall_ns as f64,
        )
    }
}

fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 {
        a / b
    } else {
        f64::NAN
    }
}

/// The knobs of one side-by-side run.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SideSettings {
    /// What the report calls these settings (`full`, `quick`, `tiny`).
    pub name: &'static str,
    /// Rounds; every cell is measured once per round.
    pub rounds: usize,
    /// Warm-up calls per client process.
    pub warmup: u64,
    /// Measured calls per client process.
    pub calls: u64,
    /// Calls in flight, one client process per value.
    pub concurrencies: Vec<usize>,
    /// Protocols.
    pub protocols: Vec<Protocol>,
    /// Clients, in report order (the run order is rotated each round).
    pub kinds: Vec<ClientKind>,
    /// Pin the server and the clients to different cores with `taskset` (when it is
    /// there and the machine has two cores).
    pub pin: bool,
    /// How long one client process may take before it is stopped and the run fails.
    pub client_timeout: Duration,
    /// Other processes' CPU use during a run, in cores, above which the run is made
    /// again (the machine may be shared).
    pub max_other_load: f64,
    /// How many times a run may be made again for that reason; the quietest is kept.
    pub max_repeats: usize,
}

impl SideSettings {
    /// The published figures: 5 rounds of 200 warm-up + 20,000 measured calls per
    /// client process, 1, 32 and 128 in flight, both protocols, every client.
    pub fn full() -> Self {
        Self {
            name: "full",
            rounds: 5,
            warmup: 200,
            calls: 20_000,
            concurrencies: vec![1, 32, 128],
            protocols: Protocol::ALL.to_vec(),
            kinds: ClientKind::ALL.to_vec(),
            pin: true,
            client_timeout: Duration::from_secs(300),
            max_other_load: 0.25,
            max_repeats: 2,
        }
    }

    /// A smoke run of every cell: 1 round of 50 + 2,000 calls.
    pub fn quick() -> Self {
        Self {
            name: "quick",
            rounds: 1,
            warmup: 50,
            calls: 2_000,
            ..Self::full()
        }
    }

    /// The tests' run: 1 round of 20 + 200 calls, 1 and 4 in flight.
    pub fn tiny() -> Self {
        Self {
            name: "tiny",
            rounds: 1,
            warmup: 20,
            calls: 200,
            concurrencies: vec![1, 4],
            client_timeout: Duration::from_secs(60),
            max_repeats: 0,
            ..Self::full()
        }
    }

    /// The same with another number of rounds (at least 1).
    pub fn with_rounds(mut self, rounds: usize) -> Self {
        self.rounds = rounds.max(1);
        self
    }

    /// The same with other call counts (measured at least 1).
    pub fn with_calls(mut self, warmup: u64, calls: u64) -> Self {
        self.warmup = warmup;
        self.calls = calls.max(1);
        self
    }

    /// The same with or without pinning.
    pub fn with_pinning(mut self, pin: bool) -> Self {
        self.pin = pin;
        self
    }
}

impl Default for SideSettings {
    fn default() -> Self {
        Self::full()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_specs_round_trip_through_arguments() {
        let spec = ClientSpec {
            kind: ClientKind::ReqwestSerde,
            protocol: Protocol::Http2,
            port: 8443,
            ca: PathBuf::from("/tmp/x/server.pem"),
            concurrency: 32,
            warmup: 200,
            calls: 20_000,
        };
        assert_eq!(ClientSpec::from_args(&spec.to_args()).unwrap(), spec);
        let mut args = spec.to_args();
        args.push("--extra".to_owned());
        args.push("1".to_owned());
        assert!(ClientSpec::from_args(&args).is_err());
        assert!(ClientSpec::from_args(&["--kind".to_owned()]).is_err());
    }
}
