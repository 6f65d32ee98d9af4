//! The orchestrator: starts the server, runs the client processes round by round,
//! checks every run against the server's counters, and gathers the figures.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::report::{Run, SideReport};
use super::server::{Ports, ServerStats};
use super::{ClientOutcome, ClientSpec, SideSettings, GO, WARM};
use crate::error::{BenchError, Context};
use crate::machine::MachineFacts;

/// How long the server may take to start or to answer a `stats` line.
const SERVER_TIMEOUT: Duration = Duration::from_secs(30);

/// Where the processes run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pinning {
    /// The server on one core, every client on another, with `taskset -c`.
    Cores {
        /// The server's core.
        server: usize,
        /// The clients' core.
        client: usize,
    },
    /// Wherever the scheduler puts them, and why.
    Unpinned(String),
}

impl Pinning {
    /// Pins when asked to, the machine has two cores and `taskset` works on cores 0
    /// and 1; says why not otherwise.
    pub fn decide(want: bool) -> Self {
        if !want {
            return Self::Unpinned("pinning turned off (`--no-pin`)".to_owned());
        }
        let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        if cpus < 2 {
            return Self::Unpinned(format!("only {cpus} CPU available"));
        }
        let works = |core: &str| {
            Command::new("taskset")
                .args(["-c", core, "true"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        if works("0") && works("1") {
            Self::Cores {
                server: 1,
                client: 0,
            }
        } else {
            Self::Unpinned("`taskset` (util-linux) missing or cores 0 and 1 not usable".to_owned())
        }
    }

    /// The command that runs `exe`, pinned to the server's or the clients' core.
    fn command(&self, exe: &Path, server: bool) -> Command {
        match self {
            Self::Cores {
                server: s,
                client: c,
            } => {
                let mut cmd = Command::new("taskset");
                cmd.arg("-c")
                    .arg(if server { s } else { c }.to_string())
                    .arg(exe);
                cmd
            }
            Self::Unpinned(_) => Command::new(exe),
        }
    }

    /// In words, for the report.
    pub fn describe(&self) -> String {
        match self {
            Self::Cores { server, client } => {
                format!("server on core {server}, each client on core {client} (`taskset -c`)")
            }
            Self::Unpinned(why) => format!("none: {why}"),
        }
    }
}

/// Runs every cell `settings.rounds` times and returns the report. `exe` is the
/// `side-by-side` binary (run again as the server and the clients); `command` goes
/// into the report; `progress` hears about each step.
///
/// # Errors
///
/// The server or a client cannot start, fails or times out, a client got a wrong
/// answer, or the server's counters disagree with what a client says it did.
pub fn run(
    settings: &SideSettings,
    exe: &Path,
    command: &str,
    progress: &mut dyn FnMut(&str),
) -> Result<SideReport, BenchError> {
    let started = Instant::now();
    let facts = MachineFacts::gather();
    let pinning = Pinning::decide(settings.pin);
    progress(&format!("pinning: {}", pinning.describe()));
    let clock = MachineClock::new();
    let dir = TempDir::new()?;
    let ca = dir.path.join("server.pem");
    let mut server = Server::start(exe, &ca, &pinning)?;

    let kinds = &settings.kinds;
    let per_round = settings.protocols.len() * settings.concurrencies.len() * kinds.len();
    let mut runs = Vec::with_capacity(settings.rounds * per_round);
    for round in 0..settings.rounds {
        for &protocol in &settings.protocols {
            for &concurrency in &settings.concurrencies {
                for i in 0..kinds.len() {
                    // Rotate the order every round, so no client always goes first.
                    let Some(&kind) = kinds.get((i + round) % kinds.len()) else {
                        continue;
                    };
                    let spec = ClientSpec {
                        kind,
                        protocol,
                        port: server.ports.of(protocol),
                        ca: ca.clone(),
                        concurrency,
                        warmup: settings.warmup,
                        calls: settings.calls,
                    };
                    progress(&format!(
                        "round {}/{}, run {}/{}: {} c={} {}",
                        round + 1,
                        settings.rounds,
                        runs.len() % per_round.max(1) + 1,
                        per_round,
                        protocol.label(),
                        concurrency,
                        kind.as_arg()
                    ));
                    // Run again when other work on the machine took a noticeable
                    // share of it; keep the quietest try.
                    let mut best: Option<ClientRun> = None;
                    let mut tries = 0;
                    while tries <= settings.max_repeats {
                        tries += 1;
                        let done = run_client(
                            exe,
                            &spec,
                            &pinning,
                            settings.client_timeout,
                            &mut server,
                            &clock,
                        )?;
                        check(&spec, &done)?;
                        let load = done.other_load();
                        if best.as_ref().is_none_or(|b| load < b.other_load()) {
                            best = Some(done);
                        }
                        if load.is_nan() || load <= settings.max_other_load {
                            break;
                        }
                        if tries <= settings.max_repeats {
                            progress(&format!(
                                "  other work used {load:.2} of a core meanwhile: again"
                            ));
                        }
                    }
                    let Some(done) = best else { continue };
                    runs.push(Run {
                        round,
                        kind,
                        protocol,
                        concurrency,
                        other_load: done.other_load(),
                        tries,
                        outcome: done.outcome,
                        server_warmup: done.warmup,
                        server: done.measured,
                    });
                }
            }
        }
    }
    server.stop();
    drop(dir);
    Ok(SideReport {
        settings: settings.clone(),
        command: command.to_owned(),
        facts,
        pinning,
        load_at_end: load_average(),
        machine_clock: clock.available(),
        runs,
        elapsed: started.elapsed(),
    })
}

/// Every measured call answered right, and the server saw each call once, over the
/// right protocol, with an `Idempotency-Key`.
fn check(spec: &ClientSpec, done: &ClientRun) -> Result<(), BenchError> {
    let who = format!(
        "{} over {} with {} in flight",
        spec.kind.as_arg(),
        spec.protocol.label(),
        spec.concurrency
    );
    let fail = |what: String| Err(BenchError::new("side by side", format!("{who}: {what}")));
    let outcome = &done.outcome;
    if outcome.kind != spec.kind.as_arg() || outcome.calls != spec.calls {
        return fail(format!("the client reported {outcome:?}"));
    }
    if outcome.ok != outcome.calls {
        return fail(format!(
            "{} of {} answers were right",
            outcome.ok, outcome.calls
        ));
    }
    for (calls, seen, part) in [
        (spec.warmup, &done.warmup, "warm-up"),
        (spec.calls, &done.measured, "measured"),
    ] {
        if seen.requests() != calls || seen.requests_over(spec.protocol) != calls {
            return fail(format!(
                "{calls} {part} calls made, the server saw {} over HTTP/1.1 and {} over HTTP/2",
                seen.requests_h1, seen.requests_h2
            ));
        }
        if seen.with_idempotency_key != calls || seen.not_post != 0 || seen.tls_failures != 0 {
            return fail(format!("{part}: the server saw {seen:?}"));
        }
    }
    Ok(())
}

/// What one client process did, with the server's counters over its warm-up (and
/// start) and over its measured calls.
struct ClientRun {
    outcome: ClientOutcome,
    warmup: ServerStats,
    measured: ServerStats,
    /// Busy time of every CPU of the machine during the measured calls.
    machine_busy: Option<Duration>,
}

impl ClientRun {
    /// Cores' worth of CPU that other processes used during the measured calls: the
    /// machine's busy time less the client's and the server's, over the wall time
    /// (NaN when the machine's time cannot be read).
    fn other_load(&self) -> f64 {
        let Some(busy) = self.machine_busy else {
            return f64::NAN;
        };
        let ours = self.outcome.cpu_user_ns + self.outcome.cpu_sys_ns + self.measured.cpu_ns;
        let other = busy.as_nanos() as f64 - ours as f64;
        if self.outcome.wall_ns == 0 {
            return f64::NAN;
        }
        (other / self.outcome.wall_ns as f64).max(0.0)
    }
}

/// One client process, to the end.
fn run_client(
    exe: &Path,
    spec: &ClientSpec,
    pinning: &Pinning,
    timeout: Duration,
    server: &mut Server,
    clock: &MachineClock,
) -> Result<ClientRun, BenchError> {
    let at_start = server.stats()?;
    let mut cmd = pinning.command(exe, false);
    cmd.arg("__client")
        .args(spec.to_args())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().context("start a client process")?;
    let mut proc = ClientProc {
        stdin: child.stdin.take(),
        lines: read_lines(child.stdout.take()),
        stderr: read_all(child.stderr.take()),
        child,
        deadline: Instant::now() + timeout,
        who: format!(
            "{} over {} with {} in flight",
            spec.kind.as_arg(),
            spec.protocol.label(),
            spec.concurrency
        ),
    };
    proc.expect_line("its warm-up", |l| l == WARM)?;
    let at_warm = server.stats()?;
    let busy_at_go = clock.busy();
    proc.send_go()?;
    let line = proc.expect_line("its outcome", |l| l.starts_with('{'))?;
    let busy_at_end = clock.busy();
    let at_end = server.stats()?;
    proc.finish()?;
    Ok(ClientRun {
        outcome: serde_json::from_str(&line).context("read a client's outcome")?,
        warmup: at_warm.since(&at_start),
        measured: at_end.since(&at_warm),
        machine_busy: busy_at_end
            .zip(busy_at_go)
            .map(|(end, go)| end.saturating_sub(go)),
    })
}

/// A running client process and its streams.
struct ClientProc {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    stderr: Receiver<String>,
    deadline: Instant,
    who: String,
}

impl ClientProc {
    /// The next line on the client's standard output, which must pass `check`.
    fn expect_line(
        &mut self,
        what: &str,
        check: impl Fn(&str) -> bool,
    ) -> Result<String, BenchError> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        match self.lines.recv_timeout(left) {
            Ok(line) if check(line.trim()) => Ok(line),
            Ok(line) => Err(self.abort(&format!("sent {line:?} instead of {what}"))),
            Err(RecvTimeoutError::Timeout) => Err(self.abort(&format!("no {what} in time"))),
            Err(RecvTimeoutError::Disconnected) => {
                Err(self.abort(&format!("stopped before {what}")))
            }
        }
    }

    fn send_go(&mut self) -> Result<(), BenchError> {
        let sent = match self.stdin.take() {
            Some(mut stdin) => writeln!(stdin, "{GO}").and_then(|()| stdin.flush()),
            None => Ok(()),
        };
        match sent {
            Ok(()) => Ok(()),
            Err(e) => Err(self.abort(&format!("cannot be told to go: {e}"))),
        }
    }

    /// Waits for the process to end; an error if it failed.
    fn finish(&mut self) -> Result<(), BenchError> {
        let status = self.child.wait().context("wait for a client process")?;
        if status.success() {
            Ok(())
        } else {
            Err(self.error(&format!("ended with {status}")))
        }
    }

    /// Stops the process (started here, so stopped by its own handle) and describes
    /// what went wrong with what it printed on its standard error.
    fn abort(&mut self, what: &str) -> BenchError {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.error(what)
    }

    fn error(&mut self, what: &str) -> BenchError {
        let err = self
            .stderr
            .recv_timeout(Duration::from_secs(5))
            .unwrap_or_default();
        BenchError::new(
            "client process",
            format!("{} {what}: {}", self.who, err.trim()),
        )
    }
}

impl Drop for ClientProc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Forwards a child's output line by line through a channel, from a thread.
fn read_lines(stream: Option<impl Read + Send + 'static>) -> Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let Some(stream) = stream else { return };
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

/// Reads a child's stream to its end on a thread; the text arrives on the channel.
fn read_all(stream: Option<impl Read + Send + 'static>) -> Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut text = String::new();
        if let Some(mut stream) = stream {
            let _ = stream.read_to_string(&mut text);
        }
        let _ = tx.send(text);
    });
    rx
}

/// The running server process and its control streams.
struct Server {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    ports: Ports,
}

impl Server {
    fn start(exe: &Path, ca: &Path, pinning: &Pinning) -> Result<Self, BenchError> {
        let mut cmd = pinning.command(exe, true);
        cmd.arg("__server")
            .arg("--ca-out")
            .arg(ca)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = cmd.spawn().context("start the server process")?;
        let stdin = child.stdin.take();
        let lines = read_lines(child.stdout.take());
        let mut server = Self {
            child,
            stdin,
            lines,
            ports: Ports { h1: 0, h2: 0 },
        };
        let line = server.next_line("start")?;
        server.ports = serde_json::from_str(&line).context("read the server's ports")?;
        Ok(server)
    }

    fn next_line(&mut self, what: &'static str) -> Result<String, BenchError> {
        match self.lines.recv_timeout(SERVER_TIMEOUT) {
            Ok(line) => Ok(line),
            Err(RecvTimeoutError::Timeout) => Err(BenchError::new(
                "server process",
                format!("no answer to {what} within {} s", SERVER_TIMEOUT.as_secs()),
            )),
            Err(RecvTimeoutError::Disconnected) => {
                let status = self.child.try_wait().ok().flatten();
                Err(BenchError::new(
                    "server process",
                    format!("it stopped during {what} ({status:?})"),
                ))
            }
        }
    }

    fn stats(&mut self) -> Result<ServerStats, BenchError> {
        let stdin = self
            .stdin
            .as_mut()
            .ok_or_else(|| BenchError::new("server process", "no control stream"))?;
        stdin
            .write_all(b"stats\n")
            .and_then(|()| stdin.flush())
            .context("ask the server for its stats")?;
        let line = self.next_line("stats")?;
        serde_json::from_str(&line).context("read the server's stats")
    }

    /// Asks the server to stop and waits for it; stops it by force if it lingers.
    fn stop(&mut self) {
        if let Some(mut stdin) = self.stdin.take() {
            let _ = stdin.write_all(b"quit\n");
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.stop();
        }
    }
}

/// A directory of this run's files (the server certificate), removed at the end.
struct TempDir {
    path: PathBuf,
}

impl TempDir {
    fn new() -> Result<Self, BenchError> {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let path =
            std::env::temp_dir().join(format!("b24-side-by-side-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&path).context("make a temporary directory")?;
        Ok(Self { path })
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// The 1-minute load average now (Linux), if readable.
pub(crate) fn load_average() -> Option<String> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_owned))
}

/// The machine's CPU time from `/proc/stat` (Linux): every CPU's time that was not
/// idle, steal included (a hypervisor's other guests count as other work).
#[derive(Debug, Clone, Copy)]
struct MachineClock {
    ticks_per_sec: u64,
}

impl MachineClock {
    fn new() -> Self {
        let ticks_per_sec = Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse::<u64>().ok())
            .filter(|&t| t > 0)
            .unwrap_or(100);
        Self { ticks_per_sec }
    }

    fn available(&self) -> bool {
        self.busy().is_some()
    }

    /// Busy time of all CPUs since boot.
    fn busy(&self) -> Option<Duration> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        let mut fields = stat.lines().next()?.split_whitespace();
        if fields.next()? != "cpu" {
            return None;
        }
        // user nice system idle iowait irq softirq steal (guest time is in user).
        let ticks: Vec<u64> = fields
            .take(8)
            .map(|f| f.parse().ok())
            .collect::<Option<_>>()?;
        let idle = ticks.get(3)? + ticks.get(4)?;
        let busy = ticks.iter().sum::<u64>().checked_sub(idle)?;
        Some(Duration::from_nanos(
            busy.saturating_mul(1_000_000_000) / self.ticks_per_sec,
        ))
    }
}
