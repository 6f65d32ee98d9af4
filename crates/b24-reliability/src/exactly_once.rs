//! Exactly once: many keyed writes in flight under random faults, then a count of
//! what the portal stored.
//!
//! Each write is told apart by its text: half are `tasks.task.result.addfromchatmessage`
//! calls, each on a message of its own (seeded in the task's chat with that text),
//! half `tasks.task.result.add` calls with that text. Before the run, every write
//! method gets a script of faults: each request of that method takes the next entry,
//! which is a fault with probability `fault_rate` (drawn from the seed) and nothing
//! otherwise. Afterwards each write must be stored once if the call returned `Ok`,
//! at most once if it returned an error that says the write may have run, and not at
//! all if the error says it did not run.

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use b24_core::methods::TaskResultAdd;
use b24_emulator::{Fault, IdempotencyKeys};
use b24_types::{MessageId, TaskId};
use serde_json::json;

use crate::outcome::{Claim, Outcome};
use crate::random::SplitMix64;
use crate::stand::{Auth, HarnessError, HttpVersion, Stand, StandSettings};

const TASK: u64 = 51;
const CHAT: u64 = 58;
const ADD: &str = "tasks.task.result.add";
const FROM_MESSAGE: &str = "tasks.task.result.addfromchatmessage";

/// A run's settings.
#[derive(Debug, Clone)]
pub struct ExactlyOnceConfig {
    /// How many writes.
    pub writes: usize,
    /// How many calls are in flight at once.
    pub in_flight: usize,
    /// The share of requests that meet a fault, from 0 to 1.
    pub fault_rate: f64,
    /// The seed of the fault script.
    pub seed: u64,
    /// The HTTP version.
    pub http: HttpVersion,
    /// Webhook, or OAuth with expiring tokens.
    pub auth: Auth,
    /// How long the `slow` and `delay` faults hold a request; longer than
    /// `attempt_timeout`, shorter than the policy's in-flight grace.
    pub stall: Duration,
    /// The client's per-attempt timeout.
    pub attempt_timeout: Duration,
    /// The policy's in-flight grace (the wait before a key-protected write that may
    /// have reached the portal is sent again).
    pub in_flight_grace: Duration,
    /// Whether the portal honours `Idempotency-Key` or ignores it (the server code
    /// of some versions). Either way a write made from a message is reconciled
    /// (`TaskResults::add_from_chat_message_in_task`) when its outcome is unknown.
    pub keys: IdempotencyKeys,
}

impl ExactlyOnceConfig {
    /// `writes` writes, `in_flight` at once, a share `fault_rate` of faults; a 600 ms
    /// stall, 400 ms attempts, a 1.5 s in-flight grace.
    pub fn new(writes: usize, in_flight: usize, fault_rate: f64) -> Self {
        Self {
            writes,
            in_flight,
            fault_rate,
            seed: 0x5EED_0001,
            http: HttpVersion::Http2,
            auth: Auth::Webhook,
            stall: Duration::from_millis(600),
            attempt_timeout: Duration::from_millis(400),
            in_flight_grace: Duration::from_millis(1500),
            keys: IdempotencyKeys::Honoured,
        }
    }
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct ExactlyOnceReport {
    /// The settings.
    pub config: ExactlyOnceConfig,
    /// Calls made (one per write).
    pub calls: usize,
    /// Calls that returned `Ok`.
    pub ok: usize,
    /// Of those, answered with the portal's stored answer (`Idempotent-Replayed`).
    pub replayed: usize,
    /// Errors by variant (`RetriesExhausted(Transport)`, ...).
    pub errors: BTreeMap<String, usize>,
    /// Errors that said the write may have run, and how many of those did.
    pub maybe: usize,
    /// Of the "maybe" errors, how many writes were in fact stored.
    pub maybe_stored: usize,
    /// Writes stored more than once (each counts once).
    pub duplicates: usize,
    /// Calls that returned `Ok` whose write is not stored.
    pub lost: usize,
    /// Calls whose error said the write did not run, yet it is stored.
    pub misreported: usize,
    /// Faults the portal applied, by kind.
    pub faults: BTreeMap<String, usize>,
    /// Requests of the write methods the portal received.
    pub requests: u64,
    /// Requests to the OAuth token endpoint.
    pub refreshes: u64,
    /// Requests the portal's bucket refused.
    pub rate_limited: u64,
    /// Wall time of the calls.
    pub wall: Duration,
    /// The first few problems, for the report.
    pub problems: Vec<String>,
}

impl ExactlyOnceReport {
    /// Faults applied, all kinds.
    pub fn faults_injected(&self) -> usize {
        self.faults.values().sum()
    }

    /// Whether the promises held: nothing duplicated, nothing lost, nothing
    /// misreported, and every call accounted for.
    pub fn holds(&self) -> bool {
        self.duplicates == 0
            && self.lost == 0
            && self.misreported == 0
            && self.calls == self.config.writes
    }

    /// A Markdown table row: configuration and figures.
    pub fn markdown_row(&self) -> String {
        let errors = if self.errors.is_empty() {
            "none".to_owned()
        } else {
            self.errors
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        format!(
            "| {} | {} | {} | {:.0} % | {} | {} | {} ({} replayed) | {} | {} ({} stored) | {} | {} | {} | {} | {} | {:.1} s |",
            match self.config.keys {
                IdempotencyKeys::Ignored => "ignored",
                _ => "honoured",
            },
            self.config.http,
            match self.config.auth {
                Auth::Webhook => "webhook".to_owned(),
                Auth::OAuth { token_ttl } => format!("OAuth, {} s tokens", token_ttl.as_secs()),
            },
            self.config.fault_rate * 100.0,
            self.config.in_flight,
            self.calls,
            self.ok,
            self.replayed,
            errors,
            self.maybe,
            self.maybe_stored,
            self.faults_injected(),
            self.refreshes,
            self.duplicates,
            self.lost,
            self.misreported,
            self.wall.as_secs_f64()
        )
    }

    /// The header of [`ExactlyOnceReport::markdown_row`].
    pub fn markdown_header() -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "| keys | HTTP | auth | faults | in flight | calls | ok | typed errors | \"maybe\" errors | faults injected | token refreshes | duplicates | lost | misreported | wall |"
        );
        let _ = write!(
            s,
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
        );
        s
    }
}

impl fmt::Display for ExactlyOnceReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} faults {:.0}% x{}: {} calls, {} ok ({} replayed), errors {:?}, maybe {} ({} stored), faults {:?}, {} requests, {} refreshes, {} rate-limited, duplicates {}, lost {}, misreported {}, {:.2?}",
            self.config.http,
            self.config.auth,
            self.config.fault_rate * 100.0,
            self.config.in_flight,
            self.calls,
            self.ok,
            self.replayed,
            self.errors,
            self.maybe,
            self.maybe_stored,
            self.faults,
            self.requests,
            self.refreshes,
            self.rate_limited,
            self.duplicates,
            self.lost,
            self.misreported,
            self.wall
        )?;
        for p in &self.problems {
            write!(f, "\n  {p}")?;
        }
        Ok(())
    }
}

/// The kinds of fault a script draws from, equally likely.
const KINDS: [&str; 11] = [
    "close",
    "truncate",
    "apply_then_close",
    "slow",
    "delay",
    "500",
    "502 HTML",
    "504 HTML",
    "503 empty",
    "503 QUERY_LIMIT_EXCEEDED",
    "slow, within the timeout",
];

fn make_fault(kind: &str, stall: Duration) -> Fault {
    match kind {
        "close" => Fault::close(),
        "truncate" => Fault::truncate(),
        "apply_then_close" => Fault::apply_then_close(),
        "slow" => Fault::slow(stall),
        "delay" => Fault::delay(stall),
        "500" => Fault::respond(
            500,
            json!({"error":"INTERNAL_SERVER_ERROR","error_description":"Internal server error"}),
        ),
        "502 HTML" => Fault::respond_raw(502, "text/html", "<html><h1>502 Bad Gateway</h1></html>"),
        "504 HTML" => Fault::respond_raw(
            504,
            "text/html",
            "<html><h1>504 Gateway Time-out</h1></html>",
        ),
        "503 empty" => Fault::respond_raw(503, "text/plain", ""),
        "503 QUERY_LIMIT_EXCEEDED" => Fault::respond(
            503,
            json!({"error":"QUERY_LIMIT_EXCEEDED","error_description":"Too many requests"}),
        ),
        _ => Fault::slow(Duration::from_millis(50)),
    }
}

/// A script of faults for one method: `None` is "no fault".
fn script(rng: &mut SplitMix64, len: usize, rate: f64) -> Vec<Option<&'static str>> {
    (0..len)
        .map(|_| {
            if rng.next_f64() < rate {
                KINDS.get(rng.below(KINDS.len())).copied()
            } else {
                None
            }
        })
        .collect()
}

#[derive(Debug, Clone)]
enum Write {
    FromMessage { message: u64, text: String },
    Add { text: String },
}

impl Write {
    fn text(&self) -> &str {
        match self {
            Write::FromMessage { text, .. } | Write::Add { text } => text,
        }
    }
}

/// Runs the writes and checks what the portal stored.
///
/// # Errors
///
/// [`HarnessError`] when the stand cannot be set up; the promises themselves are in
/// the report ([`ExactlyOnceReport::holds`]).
pub async fn run_exactly_once(
    config: &ExactlyOnceConfig,
) -> Result<ExactlyOnceReport, HarnessError> {
    let mut settings = StandSettings::new();
    settings.http = config.http;
    settings.auth = config.auth;
    settings.attempt_timeout = config.attempt_timeout;
    settings.policy = settings.policy.in_flight_grace(config.in_flight_grace);
    settings.keys = config.keys;
    let stand = Arc::new(Stand::start(&settings).await?);
    let emu = stand.emu();

    // The writes, each with a text of its own.
    let mut writes = Vec::with_capacity(config.writes);
    for i in 0..config.writes {
        let text = format!("exactly-once {:x} #{i}", config.seed);
        if i.is_multiple_of(2) {
            let message = emu
                .add_message(CHAT, 1, &text)
                .map_err(|e| HarnessError::Setup(e.to_string()))?;
            writes.push(Write::FromMessage { message, text });
        } else {
            writes.push(Write::Add { text });
        }
    }

    // One script per method, long enough for every attempt of every call.
    let mut rng = SplitMix64::new(config.seed);
    let per_method = config.writes.div_ceil(2);
    // Comfortably more entries than attempts (4 per call by default); requests past
    // the end meet no fault.
    let attempts = 8;
    let mut scripts = BTreeMap::new();
    for method in [ADD, FROM_MESSAGE] {
        let s = script(&mut rng, per_method * attempts + 16, config.fault_rate);
        for entry in &s {
            let fault = match entry {
                Some(kind) => make_fault(kind, config.stall),
                None => Fault::delay(Duration::ZERO),
            };
            emu.inject(fault.on(method));
        }
        scripts.insert(method, s);
    }

    let writes = Arc::new(writes);
    let next = Arc::new(AtomicUsize::new(0));
    let outcomes: Arc<Mutex<Vec<Option<Outcome>>>> =
        Arc::new(Mutex::new(vec![None; config.writes]));
    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..config.in_flight.max(1) {
        let stand = Arc::clone(&stand);
        let writes = Arc::clone(&writes);
        let next = Arc::clone(&next);
        let outcomes = Arc::clone(&outcomes);
        workers.spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(write) = writes.get(i) else { break };
                let outcome = one_write(&stand, write).await;
                if let Some(slot) = outcomes
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .get_mut(i)
                {
                    *slot = Some(outcome);
                }
            }
        });
    }
    while workers.join_next().await.is_some() {}
    let wall = started.elapsed();
    // Writes the portal is still running (a stalled request the client gave up on)
    // land within the stall: count after it.
    tokio::time::sleep(config.stall + Duration::from_millis(500)).await;

    let mut stored: BTreeMap<String, usize> = BTreeMap::new();
    for r in emu.results() {
        *stored.entry(r.text).or_default() += 1;
    }
    let outcomes = outcomes
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    let mut report = ExactlyOnceReport {
        config: config.clone(),
        calls: 0,
        ok: 0,
        replayed: 0,
        errors: BTreeMap::new(),
        maybe: 0,
        maybe_stored: 0,
        duplicates: 0,
        lost: 0,
        misreported: 0,
        faults: BTreeMap::new(),
        requests: 0,
        refreshes: emu.calls("oauth.token"),
        rate_limited: emu.rate_limited(),
        wall,
        problems: Vec::new(),
    };
    for (write, outcome) in writes.iter().zip(outcomes) {
        let Some(outcome) = outcome else { continue };
        report.calls += 1;
        let copies = stored.get(write.text()).copied().unwrap_or(0);
        if copies > 1 {
            report.duplicates += 1;
            note(
                &mut report.problems,
                format!("{copies} copies of {:?} ({outcome})", write.text()),
            );
        }
        match outcome.claim() {
            Claim::Applied => {
                report.ok += 1;
                if matches!(outcome, Outcome::Ok { replayed: true }) {
                    report.replayed += 1;
                }
                if copies == 0 {
                    report.lost += 1;
                    note(
                        &mut report.problems,
                        format!("lost: {:?} returned Ok", write.text()),
                    );
                }
            }
            Claim::Maybe => {
                *report.errors.entry(outcome.variant()).or_default() += 1;
                report.maybe += 1;
                if copies > 0 {
                    report.maybe_stored += 1;
                }
            }
            Claim::NotApplied => {
                *report.errors.entry(outcome.variant()).or_default() += 1;
                if copies > 0 {
                    report.misreported += 1;
                    note(
                        &mut report.problems,
                        format!(
                            "misreported: {:?} is stored, the call said {outcome}",
                            write.text()
                        ),
                    );
                }
            }
        }
    }
    for (method, s) in &scripts {
        let used = usize::try_from(emu.calls(method)).unwrap_or(usize::MAX);
        report.requests += emu.calls(method);
        for kind in s.iter().take(used).flatten() {
            *report.faults.entry((*kind).to_owned()).or_default() += 1;
        }
    }
    Ok(report)
}

fn note(problems: &mut Vec<String>, problem: String) {
    if problems.len() < 20 {
        problems.push(problem);
    }
}

async fn one_write(stand: &Stand, write: &Write) -> Outcome {
    match write {
        Write::FromMessage { message, .. } => match (MessageId::new(*message), TaskId::new(TASK)) {
            (Ok(id), Ok(task)) => {
                let made = stand
                    .client
                    .task_results(&stand.portal)
                    .add_from_chat_message_in_task(task, id)
                    .await;
                Outcome::of_result(&made)
            }
            _ => Outcome::InvalidInput,
        },
        Write::Add { text } => {
            let method = TaskId::new(TASK)
                .map_err(|_| ())
                .and_then(|t| TaskResultAdd::new(t, text.as_str()).map_err(|_| ()));
            match method {
                Ok(m) => Outcome::of(&stand.client.execute(&stand.portal, m).await),
                Err(()) => Outcome::InvalidInput,
            }
        }
    }
}
