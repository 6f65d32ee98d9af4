//! The side-by-side report: per-cell medians, per-round ratios, the goals, and the
//! markdown of `docs/benchmarks-side-by-side.md`.

use std::fmt::Write as _;
use std::time::Duration;

use super::orchestrate::Pinning;
use super::server::ServerStats;
use super::{ClientKind, ClientOutcome, Protocol, SideSettings};
use crate::machine::MachineFacts;

/// One client process's run, with what the server saw of it.
#[derive(Debug, Clone)]
pub struct Run {
    /// The round, from 0.
    pub round: usize,
    /// The client.
    pub kind: ClientKind,
    /// The protocol.
    pub protocol: Protocol,
    /// Calls in flight.
    pub concurrency: usize,
    /// What the client measured.
    pub outcome: ClientOutcome,
    /// What the server counted from before the process started to the end of its
    /// warm-up.
    pub server_warmup: ServerStats,
    /// What the server counted during the measured calls.
    pub server: ServerStats,
    /// Cores' worth of CPU other processes used during the measured calls (NaN when
    /// unknown).
    pub other_load: f64,
    /// How many times the run was made (more than 1 when other work disturbed it).
    pub tries: usize,
}

impl Run {
    /// Server CPU per request during the measured calls, µs.
    pub fn server_cpu_us_per_request(&self) -> f64 {
        let requests = self.server.requests();
        if requests == 0 {
            return f64::NAN;
        }
        self.server.cpu_ns as f64 / 1e3 / requests as f64
    }

    /// The share of the measured wall time the server spent on a CPU.
    pub fn server_busy(&self) -> f64 {
        if self.outcome.wall_ns == 0 {
            return f64::NAN;
        }
        self.server.cpu_ns as f64 / self.outcome.wall_ns as f64
    }

    /// Connections the server accepted from this client process, warm-up included.
    pub fn connections(&self) -> u64 {
        self.server_warmup.connections + self.server.connections
    }

    fn metric(&self, metric: Metric) -> f64 {
        match metric {
            Metric::CallsPerSec => self.outcome.calls_per_sec(),
            Metric::CpuPerCall => self.outcome.cpu_us_per_call(),
        }
    }
}

/// What a ratio compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// Measured calls per second.
    CallsPerSec,
    /// Client CPU time per measured call.
    CpuPerCall,
}

/// A median with the smallest and largest value it was taken over.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ratio {
    /// The median.
    pub median: f64,
    /// The smallest value.
    pub min: f64,
    /// The largest value.
    pub max: f64,
    /// How many values (rounds).
    pub count: usize,
}

impl Ratio {
    /// The median and range of `values` (finite ones only); `None` when none is.
    pub fn of(values: impl IntoIterator<Item = f64>) -> Option<Self> {
        let mut v: Vec<f64> = values.into_iter().filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        let mid = v.len() / 2;
        let median = if v.len() % 2 == 1 {
            v.get(mid).copied()?
        } else {
            (v.get(mid - 1).copied()? + v.get(mid).copied()?) / 2.0
        };
        Some(Self {
            median,
            min: v.first().copied()?,
            max: v.last().copied()?,
            count: v.len(),
        })
    }

    fn ratio_text(&self) -> String {
        if self.count > 1 {
            format!("**{:.2}×** ({:.2}–{:.2})", self.median, self.min, self.max)
        } else {
            format!("**{:.2}×**", self.median)
        }
    }
}

/// The medians of one (client, protocol, concurrency) over the rounds.
#[derive(Debug, Clone)]
pub struct Cell {
    /// The client.
    pub kind: ClientKind,
    /// The protocol.
    pub protocol: Protocol,
    /// Calls in flight.
    pub concurrency: usize,
    /// Calls per second.
    pub calls_per_sec: Ratio,
    /// Client CPU µs per call.
    pub cpu_us_per_call: Ratio,
    /// Share of the wall time the client spent on a CPU.
    pub busy: Ratio,
    /// Server CPU µs per request during the measured calls.
    pub server_cpu_us: Ratio,
    /// Share of the measured wall time the server spent on a CPU.
    pub server_busy: Ratio,
    /// Connections the server accepted per client process, warm-up included.
    pub connections: Ratio,
    /// Connections the server accepted during the measured calls.
    pub new_connections: Ratio,
    /// Other processes' CPU use during the measured calls, cores.
    pub other_load: Option<Ratio>,
    /// Times the client was preempted per 1,000 calls.
    pub preempted_per_1k: Ratio,
    /// Right answers over all rounds.
    pub ok: u64,
    /// Measured calls over all rounds.
    pub calls: u64,
}

/// Whether a goal was reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Reached.
    Met,
    /// Not reached.
    Missed,
    /// Not measured in this run (a cell left out by the settings).
    NotMeasured,
}

/// One of the speed goals, with the figure that decides it.
#[derive(Debug, Clone)]
pub struct Goal {
    /// The goal in words.
    pub what: String,
    /// The target in words (`≥ 0.85×`).
    pub target: String,
    /// The median per-round ratio and its spread.
    pub measured: Option<Ratio>,
    /// Reached or not.
    pub verdict: Verdict,
    /// By how much, in words.
    pub margin: String,
}

#[derive(Debug, Clone, Copy)]
enum Bound {
    AtLeast(f64),
    AtMost(f64),
}

/// Everything one side-by-side run measured, with the facts of the run.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SideReport {
    /// The settings used.
    pub settings: SideSettings,
    /// The command that made the report.
    pub command: String,
    /// Date, machine, toolchain, load at the start.
    pub facts: MachineFacts,
    /// Where the processes ran.
    pub pinning: Pinning,
    /// The 1-minute load average at the end.
    pub load_at_end: Option<String>,
    /// Whether the machine's CPU time could be read (`/proc/stat`), so that other
    /// processes' load was measured.
    pub machine_clock: bool,
    /// Every client process, in run order.
    pub runs: Vec<Run>,
    /// Wall time of the whole run.
    pub elapsed: Duration,
}

impl SideReport {
    /// The runs of one cell, one per round.
    pub fn runs_of(
        &self,
        kind: ClientKind,
        protocol: Protocol,
        concurrency: usize,
    ) -> impl Iterator<Item = &Run> {
        self.runs.iter().filter(move |r| {
            r.kind == kind && r.protocol == protocol && r.concurrency == concurrency
        })
    }

    /// The medians of one cell; `None` when it was not measured.
    pub fn cell(&self, kind: ClientKind, protocol: Protocol, concurrency: usize) -> Option<Cell> {
        let runs: Vec<&Run> = self.runs_of(kind, protocol, concurrency).collect();
        Some(Cell {
            kind,
            protocol,
            concurrency,
            calls_per_sec: Ratio::of(runs.iter().map(|r| r.outcome.calls_per_sec()))?,
            cpu_us_per_call: Ratio::of(runs.iter().map(|r| r.outcome.cpu_us_per_call()))?,
            busy: Ratio::of(runs.iter().map(|r| r.outcome.busy()))?,
            server_cpu_us: Ratio::of(runs.iter().map(|r| r.server_cpu_us_per_request()))?,
            server_busy: Ratio::of(runs.iter().map(|r| r.server_busy()))?,
            connections: Ratio::of(runs.iter().map(|r| r.connections() as f64))?,
            new_connections: Ratio::of(runs.iter().map(|r| r.server.connections as f64))?,
            other_load: Ratio::of(runs.iter().map(|r| r.other_load)),
            preempted_per_1k: Ratio::of(
                runs.iter()
                    .map(|r| r.outcome.preempted as f64 * 1000.0 / r.outcome.calls.max(1) as f64),
            )?,
            ok: runs.iter().map(|r| r.outcome.ok).sum(),
            calls: runs.iter().map(|r| r.outcome.calls).sum(),
        })
    }

    /// Every measured cell, in report order (protocol, concurrency, client).
    pub fn cells(&self) -> Vec<Cell> {
        let s = &self.settings;
        let mut cells = Vec::new();
        for &protocol in &s.protocols {
            for &c in &s.concurrencies {
                for &kind in &s.kinds {
                    cells.extend(self.cell(kind, protocol, c));
                }
            }
        }
        cells
    }

    /// The median over the rounds of `subject / baseline` in `metric`, each ratio
    /// taken within one round.
    pub fn ratio(
        &self,
        metric: Metric,
        concurrency: usize,
        subject: (ClientKind, Protocol),
        baseline: (ClientKind, Protocol),
    ) -> Option<Ratio> {
        let find = |round: usize, (kind, protocol): (ClientKind, Protocol)| {
            self.runs.iter().find(|r| {
                r.round == round
                    && r.kind == kind
                    && r.protocol == protocol
                    && r.concurrency == concurrency
            })
        };
        Ratio::of((0..self.settings.rounds).filter_map(|round| {
            let s = find(round, subject)?;
            let b = find(round, baseline)?;
            Some(s.metric(metric) / b.metric(metric))
        }))
    }

    /// The goals of the speed effort, each decided by a per-round median ratio.
    pub fn goals(&self) -> Vec<Goal> {
        let mut goals = Vec::new();
        for &p in &self.settings.protocols {
            let b24 = (ClientKind::B24Hyper, p);
            goals.push(goal(
                format!(
                    "c = 32, {}: b24-hyper calls/s ÷ bare hyper (body discarded)",
                    p.label()
                ),
                Bound::AtLeast(0.85),
                self.ratio(Metric::CallsPerSec, 32, b24, (ClientKind::BareHyper, p)),
                "calls/s",
            ));
            goals.push(goal(
                format!(
                    "c = 32, {}: b24-hyper calls/s ÷ reqwest + typed serde",
                    p.label()
                ),
                Bound::AtLeast(1.15),
                self.ratio(Metric::CallsPerSec, 32, b24, (ClientKind::ReqwestSerde, p)),
                "calls/s",
            ));
            goals.push(goal(
                format!(
                    "c = 1, {}: b24-hyper CPU per call ÷ bare hyper's",
                    p.label()
                ),
                Bound::AtMost(1.10),
                self.ratio(Metric::CpuPerCall, 1, b24, (ClientKind::BareHyper, p)),
                "CPU per call",
            ));
        }
        goals
    }

    /// The markdown of `docs/benchmarks-side-by-side.md`.
    pub fn to_markdown(&self) -> String {
        let mut out = String::new();
        self.write_intro(&mut out);
        self.write_facts(&mut out);
        self.write_goals(&mut out);
        self.write_protocols(&mut out);
        self.write_cells(&mut out);
        self.write_ratios(&mut out);
        write_notes(&mut out);
        self.write_runs(&mut out);
        out
    }

    fn write_intro(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "# Side by side: b24-hyper against bare clients, in separate processes\n"
        );
        let _ = writeln!(
            out,
            "This file is generated by the `side-by-side` binary of the `b24-bench` crate \
             ([benchmarks.md](benchmarks.md) has the in-process ratios). Run the command \
             below to make it again; it takes a few minutes.\n"
        );
        let _ = writeln!(
            out,
            "```sh\ncargo run --release -p b24-bench --bin side-by-side -- --write docs/benchmarks-side-by-side.md\n```\n"
        );
        let _ = writeln!(
            out,
            "**How.** A fixed-answer server (hyper over rustls, a self-signed certificate \
             made at start with rcgen) answers every POST with the documented REST 3.0 \
             answer of `tasks.task.result.addfromchatmessage` ({} bytes of JSON, status \
             200, `Content-Type: application/json`, the request's `Idempotency-Key` echoed), \
             reading and discarding the request body. It listens on two loopback ports, one \
             offering only `http/1.1` by ALPN and one only `h2`: every client offers both \
             and the server decides. Each client runs in its own process on a current-thread \
             tokio runtime with `c` tasks in flight: {} warm-up calls whose every answer is \
             checked in full (status, JSON, protocol, echoed key; the first call alone, so \
             that the pool holds one connection before the others start and, over HTTP/2, \
             they all share it), then {} measured calls, \
             each answer checked for status 200 and the result id. Calls/s is measured calls \
             over their wall time; CPU per call is the client process's own CPU time (user \
             + kernel, `getrusage`, all threads) over the measured calls. The server's \
             counters, read before and after every client process, confirm that each call \
             reached it exactly once, over the intended protocol, with an \
             `Idempotency-Key`.\n",
            super::ANSWER_BODY.len(),
            self.settings.warmup,
            self.settings.calls,
        );
        let _ = writeln!(
            out,
            "**The clients.** (1) *bare hyper, body discarded*: hyper-util's legacy client \
             with hyper-rustls (ring), b24-hyper's default pool settings (idle timeout, at \
             most {} idle connections per host), sending the very request b24-hyper sends \
             (built once by b24-core, with a fixed `Idempotency-Key` of the same length) \
             and collecting the body to bytes. (2) the same, with the body parsed by \
             `serde_json::from_slice::<serde_json::Value>`. (3) *reqwest* {} (rustls with \
             ring, its default pool, `json` feature) decoding the answer into a typed serde \
             struct of every field. (4) *b24-hyper*: \
             `client.task_results(&portal).add_from_chat_message(MessageId::new(335)?)` on a \
             webhook portal, with the limiter, the operating-time budgets and idempotency \
             keys on; only the bucket is set wide (1,000,000 at 1,000,000/s) so that the \
             fixed server is never throttled.\n",
            b24_hyper::DEFAULT_POOL_MAX_IDLE_PER_HOST,
            REQWEST_VERSION,
        );
        let _ = writeln!(
            out,
            "**Why rounds.** The machine may be small and shared. Every cell is measured \
             once per round, the clients of one (protocol, c) run back to back, and their \
             order is rotated every round. Ratios are taken between runs of the same \
             round and the tables give their median over the rounds with the smallest and \
             largest in brackets; the absolute figures are medians too.\n"
        );
    }

    fn write_facts(&self, out: &mut String) {
        let f = &self.facts;
        let s = &self.settings;
        let _ = writeln!(out, "## This run\n");
        let _ = writeln!(out, "| | |\n|---|---|");
        let _ = writeln!(out, "| command | `{}` |", self.command);
        let _ = writeln!(out, "| date | {} |", f.date);
        let _ = writeln!(out, "| CPUs (`nproc`) | {} |", f.cpus);
        if let Some(model) = &f.cpu_model {
            let _ = writeln!(out, "| CPU | {model} |");
        }
        let _ = writeln!(out, "| kernel | {} |", f.os);
        let _ = writeln!(out, "| toolchain | {} |", f.rustc);
        let _ = writeln!(out, "| profile | {} |", f.profile);
        let _ = writeln!(
            out,
            "| load average (1 min) at start / end | {} / {} |",
            f.load_at_start.as_deref().unwrap_or("unknown"),
            self.load_at_end.as_deref().unwrap_or("unknown")
        );
        let _ = writeln!(out, "| pinning | {} |", self.pinning.describe());
        let _ = writeln!(
            out,
            "| settings | `{}`: {} round(s); per client process {} warm-up + {} measured calls |",
            s.name, s.rounds, s.warmup, s.calls
        );
        let _ = writeln!(
            out,
            "| calls in flight (c) | {} |",
            join(s.concurrencies.iter().map(ToString::to_string))
        );
        let _ = writeln!(
            out,
            "| protocols | {} |",
            join(s.protocols.iter().map(|p| p.label().to_owned()))
        );
        let repeated = self.runs.iter().filter(|r| r.tries > 1).count();
        let tries: usize = self.runs.iter().map(|r| r.tries).sum();
        let _ = writeln!(
            out,
            "| client processes | {tries} started, {} kept (one per cell and round) |",
            self.runs.len()
        );
        if self.machine_clock {
            let other = Ratio::of(self.runs.iter().map(|r| r.other_load));
            let _ = writeln!(
                out,
                "| other work on the machine | a run during which other processes used more \
                 than {:.2} of a core (from `/proc/stat`, less the client's and the server's \
                 own time) was made again, at most {} times, keeping the quietest: {repeated} \
                 of {} runs were; other load per kept run: median {}, largest {} cores |",
                s.max_other_load,
                s.max_repeats,
                self.runs.len(),
                other.map_or_else(|| "–".to_owned(), |r| format!("{:.2}", r.median)),
                other.map_or_else(|| "–".to_owned(), |r| format!("{:.2}", r.max)),
            );
        } else {
            let _ = writeln!(
                out,
                "| other work on the machine | not measured (`/proc/stat` unreadable) |"
            );
        }
        let _ = writeln!(
            out,
            "| wall time of the run | {:.1} s |\n",
            self.elapsed.as_secs_f64()
        );
    }

    fn write_goals(&self, out: &mut String) {
        let goals = self.goals();
        let met = goals.iter().filter(|g| g.verdict == Verdict::Met).count();
        let missed = goals
            .iter()
            .filter(|g| g.verdict == Verdict::Missed)
            .count();
        let _ = writeln!(out, "## Goals\n");
        let _ = writeln!(
            out,
            "**{met} met, {missed} missed** of {} goals{}. Each figure is the median over \
             the rounds of the ratio within a round (smallest–largest in brackets).\n",
            goals.len(),
            if met + missed < goals.len() {
                " (the others not measured in this run)"
            } else {
                ""
            }
        );
        let _ = writeln!(out, "| goal | target | measured | verdict |");
        let _ = writeln!(out, "|---|---|---|---|");
        for g in goals {
            let measured = g
                .measured
                .map_or_else(|| "not measured".to_owned(), |r| r.ratio_text());
            let verdict = match g.verdict {
                Verdict::Met => format!("**met**: {}", g.margin),
                Verdict::Missed => format!("**missed**: {}", g.margin),
                Verdict::NotMeasured => "not measured in this run".to_owned(),
            };
            let _ = writeln!(
                out,
                "| {} | {} | {measured} | {verdict} |",
                g.what, g.target
            );
        }
        out.push('\n');
    }

    fn write_protocols(&self, out: &mut String) {
        let s = &self.settings;
        let _ = writeln!(
            out,
            "## HTTP/2 (one multiplexed connection) or the HTTP/1.1 pool\n"
        );
        if !(s.protocols.contains(&Protocol::Http1) && s.protocols.contains(&Protocol::Http2)) {
            let _ = writeln!(out, "Not measured in this run (one protocol only).\n");
            return;
        }
        let _ = writeln!(
            out,
            "b24-hyper offers `h2` then `http/1.1` by ALPN, so a portal that offers both \
             gets HTTP/2. Ratio = HTTP/2 ÷ HTTP/1.1 within a round; above 1, HTTP/2 \
             is faster (calls/s) or dearer (CPU).\n"
        );
        let _ = writeln!(
            out,
            "| c | client | calls/s HTTP/1.1 | calls/s HTTP/2 | calls/s HTTP/2 ÷ HTTP/1.1 | CPU µs/call HTTP/1.1 | CPU µs/call HTTP/2 | CPU HTTP/2 ÷ HTTP/1.1 |"
        );
        let _ = writeln!(out, "|---|---|---|---|---|---|---|---|");
        for &c in &s.concurrencies {
            for &kind in &s.kinds {
                let (Some(h1), Some(h2)) = (
                    self.cell(kind, Protocol::Http1, c),
                    self.cell(kind, Protocol::Http2, c),
                ) else {
                    continue;
                };
                let speed = self.ratio(
                    Metric::CallsPerSec,
                    c,
                    (kind, Protocol::Http2),
                    (kind, Protocol::Http1),
                );
                let cpu = self.ratio(
                    Metric::CpuPerCall,
                    c,
                    (kind, Protocol::Http2),
                    (kind, Protocol::Http1),
                );
                let _ = writeln!(
                    out,
                    "| {c} | {} | {:.0} | {:.0} | {} | {:.1} | {:.1} | {} |",
                    kind.label(),
                    h1.calls_per_sec.median,
                    h2.calls_per_sec.median,
                    speed.map_or_else(|| "–".to_owned(), |r| r.ratio_text()),
                    h1.cpu_us_per_call.median,
                    h2.cpu_us_per_call.median,
                    cpu.map_or_else(|| "–".to_owned(), |r| r.ratio_text()),
                );
            }
        }
        out.push('\n');
        let _ = writeln!(out, "{}\n", self.protocol_verdict());
    }

    /// Which protocol b24-hyper did better on, at every concurrency above 1.
    pub fn protocol_verdict(&self) -> String {
        let b24 = ClientKind::B24Hyper;
        let figures: Vec<(usize, Ratio, Option<Ratio>)> = self
            .settings
            .concurrencies
            .iter()
            .filter(|&&c| c > 1)
            .filter_map(|&c| {
                let speed = self.ratio(
                    Metric::CallsPerSec,
                    c,
                    (b24, Protocol::Http2),
                    (b24, Protocol::Http1),
                )?;
                let cpu = self.ratio(
                    Metric::CpuPerCall,
                    c,
                    (b24, Protocol::Http2),
                    (b24, Protocol::Http1),
                );
                Some((c, speed, cpu))
            })
            .collect();
        if figures.is_empty() {
            return "For b24-hyper: no concurrency above 1 was measured over both protocols."
                .to_owned();
        }
        let listed = join(figures.iter().map(|(c, speed, cpu)| {
            let cpu = cpu.map_or_else(String::new, |r| format!(", CPU per call {:.2}×", r.median));
            format!("c = {c}: {:.2}× the calls/s{cpu}", speed.median)
        }));
        let faster = figures.iter().all(|(_, s, _)| s.median > 1.05);
        let slower = figures.iter().all(|(_, s, _)| s.median < 0.95);
        let lead = if faster {
            "**For b24-hyper, HTTP/2 on one connection was faster than the HTTP/1.1 pool \
             at every measured concurrency above 1**"
        } else if slower {
            "**For b24-hyper, the HTTP/1.1 pool was faster than HTTP/2 on one connection \
             at every measured concurrency above 1**"
        } else {
            "**For b24-hyper, neither protocol was ahead by more than 5 % at every \
             measured concurrency above 1**"
        };
        format!("{lead} (HTTP/2 ÷ HTTP/1.1 — {listed}).")
    }

    fn write_cells(&self, out: &mut String) {
        let s = &self.settings;
        let _ = writeln!(out, "## Figures per cell\n");
        let _ = writeln!(
            out,
            "Medians over the rounds (calls/s with its smallest–largest). *Client busy* \
             and *server busy*: each process's CPU time over the wall time of the measured \
             calls (100 % = that core was the limit). *Server CPU*: the server's CPU time \
             per request during the measured calls. *Connections*: TCP+TLS connections the \
             server accepted from the client process in all, and during the measured calls \
             alone.\n"
        );
        for &p in &s.protocols {
            let _ = writeln!(out, "### {}\n", p.label());
            let _ = writeln!(
                out,
                "| c | client | calls/s | calls/s range | client CPU µs/call | client busy | server CPU µs/request | server busy | connections (all / measuring) | other load (cores) | client preempted per 1k calls | right answers |"
            );
            let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|---|---|---|");
            for &c in &s.concurrencies {
                for &kind in &s.kinds {
                    let Some(cell) = self.cell(kind, p, c) else {
                        continue;
                    };
                    let _ = writeln!(
                        out,
                        "| {c} | {} | {:.0} | {:.0}–{:.0} | {:.1} | {:.0} % | {:.1} | {:.0} % | {:.0} / {:.0} | {} | {:.1} | {} of {} |",
                        kind.label(),
                        cell.calls_per_sec.median,
                        cell.calls_per_sec.min,
                        cell.calls_per_sec.max,
                        cell.cpu_us_per_call.median,
                        cell.busy.median * 100.0,
                        cell.server_cpu_us.median,
                        cell.server_busy.median * 100.0,
                        cell.connections.median,
                        cell.new_connections.median,
                        cell.other_load
                            .map_or_else(|| "–".to_owned(), |r| format!("{:.2}", r.median)),
                        cell.preempted_per_1k.median,
                        cell.ok,
                        cell.calls,
                    );
                }
            }
            out.push('\n');
        }
    }

    fn write_ratios(&self, out: &mut String) {
        let s = &self.settings;
        let _ = writeln!(out, "## b24-hyper against each baseline\n");
        let _ = writeln!(
            out,
            "b24-hyper ÷ baseline within a round, median (smallest–largest). Calls/s above \
             1: b24-hyper is faster; CPU per call above 1: b24-hyper is dearer.\n"
        );
        let _ = writeln!(
            out,
            "| protocol | c | calls/s ÷ bare hyper | calls/s ÷ bare hyper + Value | calls/s ÷ reqwest | CPU/call ÷ bare hyper | CPU/call ÷ bare hyper + Value | CPU/call ÷ reqwest |"
        );
        let _ = writeln!(out, "|---|---|---|---|---|---|---|---|");
        let b24 = ClientKind::B24Hyper;
        let baselines = [
            ClientKind::BareHyper,
            ClientKind::BareHyperJson,
            ClientKind::ReqwestSerde,
        ];
        for &p in &s.protocols {
            for &c in &s.concurrencies {
                let mut row = format!("| {} | {c} |", p.label());
                for metric in [Metric::CallsPerSec, Metric::CpuPerCall] {
                    for base in baselines {
                        let r = self.ratio(metric, c, (b24, p), (base, p));
                        let _ = write!(
                            row,
                            " {} |",
                            r.map_or_else(|| "–".to_owned(), |r| r.ratio_text())
                        );
                    }
                }
                let _ = writeln!(out, "{row}");
            }
        }
        out.push('\n');
    }
}

impl SideReport {
    fn write_runs(&self, out: &mut String) {
        let _ = writeln!(out, "## Every run\n");
        let _ = writeln!(
            out,
            "<details><summary>{} kept runs (one per cell and round), in run order</summary>\n",
            self.runs.len()
        );
        let _ = writeln!(
            out,
            "| round | protocol | c | client | calls/s | client CPU µs/call | client busy | server busy | new connections | other load (cores) | tries |"
        );
        let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|---|---|");
        for r in &self.runs {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {:.0} | {:.1} | {:.0} % | {:.0} % | {} | {:.2} | {} |",
                r.round + 1,
                r.protocol.label(),
                r.concurrency,
                r.kind.as_arg(),
                r.outcome.calls_per_sec(),
                r.outcome.cpu_us_per_call(),
                r.outcome.busy() * 100.0,
                r.server_busy() * 100.0,
                r.server.connections,
                r.other_load,
                r.tries,
            );
        }
        let _ = writeln!(out, "\n</details>\n");
    }
}

/// The pinned reqwest version (kept in step with `Cargo.toml` by a test).
pub(super) const REQWEST_VERSION: &str = "0.13.5";

fn goal(what: String, bound: Bound, measured: Option<Ratio>, unit: &str) -> Goal {
    let (target, verdict, margin) = match (bound, measured) {
        (Bound::AtLeast(t), Some(m)) => {
            let met = m.median >= t;
            let margin = if met {
                format!("{:.2}× above the target", m.median - t)
            } else {
                format!(
                    "{:.2}× short; b24-hyper needs {:.0} % more {unit}",
                    t - m.median,
                    (t / m.median - 1.0) * 100.0
                )
            };
            (format!("≥ {t:.2}×"), verdict(met), margin)
        }
        (Bound::AtMost(t), Some(m)) => {
            let met = m.median <= t;
            let margin = if met {
                format!("{:.2}× under the target", t - m.median)
            } else {
                format!(
                    "{:.2}× over; b24-hyper needs {:.0} % less {unit}",
                    m.median - t,
                    (1.0 - t / m.median) * 100.0
                )
            };
            (format!("≤ {t:.2}×"), verdict(met), margin)
        }
        (Bound::AtLeast(t), None) => (format!("≥ {t:.2}×"), Verdict::NotMeasured, String::new()),
        (Bound::AtMost(t), None) => (format!("≤ {t:.2}×"), Verdict::NotMeasured, String::new()),
    };
    Goal {
        what,
        target,
        measured,
        verdict,
        margin,
    }
}

fn verdict(met: bool) -> Verdict {
    if met {
        Verdict::Met
    } else {
        Verdict::Missed
    }
}

fn join(items: impl Iterator<Item = String>) -> String {
    items.collect::<Vec<_>>().join(", ")
}

fn write_notes(out: &mut String) {
    let _ = writeln!(out, "## Reading the figures\n");
    let _ = writeln!(
        out,
        "- With two cores, the server has one and the client the other. At c = 1 a call \
         is a ping-pong between them and calls/s is latency-bound; with many calls in \
         flight a client whose *busy* is near 100 % is limited by its own CPU, and its \
         calls/s follow its CPU per call. Where the *server busy* is near 100 % instead, \
         the server's core was the limit and the client's calls/s understate what it \
         could do, so the calls/s ratios against it lean towards 1; its CPU per call \
         still counts.\n\
         - *Other load*: CPU time other processes (and other guests of the hypervisor, \
         as steal) took during the measured calls, in cores; near 0 the figures are clean. \
         *Client preempted*: the client's involuntary context switches (something else \
         wanted its core). CPU per call is the sturdiest figure on a shared machine: \
         calls/s also move with what runs beside.\n\
         - CPU per call includes the kernel's share (TCP, loopback) on the client side, \
         which is about the same for every client of one protocol; differences between \
         clients are what their own code costs.\n\
         - serde_json is built with `preserve_order` and `float_roundtrip` in this \
         workspace (b24-core turns them on), for every client alike.\n\
         - *Connections* above the calls in flight mean the pool closed and reopened \
         connections during the run (each costs a TLS handshake on both sides): with \
         HTTP/1.1, hyper-util's pool keeps at most `pool_max_idle_per_host` idle \
         connections, which b24-hyper and the bare hyper client set to the same value; \
         reqwest keeps all.\n"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_and_ranges() {
        let r = Ratio::of([3.0, 1.0, 2.0, f64::NAN]).unwrap();
        assert_eq!((r.median, r.min, r.max, r.count), (2.0, 1.0, 3.0, 3));
        let r = Ratio::of([4.0, 1.0]).unwrap();
        assert!((r.median - 2.5).abs() < 1e-12);
        assert!(Ratio::of([]).is_none());
    }

    #[test]
    fn goals_say_by_how_much() {
        let at = |m: f64| Ratio {
            median: m,
            min: m,
            max: m,
            count: 1,
        };
        let g = goal("x".into(), Bound::AtLeast(0.85), Some(at(0.80)), "calls/s");
        assert_eq!(g.verdict, Verdict::Missed);
        assert!(g.margin.contains("6 % more calls/s"), "{}", g.margin);
        let g = goal("x".into(), Bound::AtMost(1.10), Some(at(1.00)), "CPU");
        assert_eq!(g.verdict, Verdict::Met);
        let g = goal("x".into(), Bound::AtMost(1.10), None, "CPU");
        assert_eq!(g.verdict, Verdict::NotMeasured);
    }

    #[test]
    fn the_reqwest_version_matches_the_manifest() {
        let manifest = include_str!("../../Cargo.toml");
        assert!(
            manifest.contains(&format!("reqwest = {{ version = \"={REQWEST_VERSION}\"")),
            "update REQWEST_VERSION"
        );
    }
}
