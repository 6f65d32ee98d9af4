//! The fault matrix: a read, a keyed REST 3.0 write and a classic write, each against
//! every fault the offline portal can be made to show, over HTTPS.
//!
//! Each [`Row`] names a fault and, for each [`CallKind`], the outcome the retry
//! policy promises ([`Expect`], matched against the error's variant) and what the
//! portal must have stored afterwards (exactly 0 or 1 copies of the write, never 2).
//! The expectations follow `b24_core::engine::classify` and `RetryPolicy::decide`
//! (docs/limits.md, "Retries"); [`run_matrix`] observes what really happens.

use std::fmt::{self, Write as _};
use std::sync::Arc;
use std::time::{Duration, Instant};

use b24_core::engine::TokenSet;
use b24_core::methods::{DialogId, ImMessageAdd, TaskGet, TaskResultAdd};
use b24_emulator::Fault;
use b24_types::{ChatId, TaskId};
use serde_json::json;

use crate::outcome::{invalid_grant, Outcome};
use crate::stand::{Auth, HarnessError, HttpVersion, Stand, StandSettings};

/// The task every call of the matrix works on (seeded, user 1 is a member).
const TASK: u64 = 51;
/// Its chat.
const CHAT: u64 = 58;

/// The three kinds of call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallKind {
    /// `tasks.task.get` (REST 3.0, a read: repeated freely).
    Read,
    /// `tasks.task.result.add` (REST 3.0, a write carrying an `Idempotency-Key`).
    KeyedWrite,
    /// `im.message.add` (classic, a write no key protects).
    ClassicWrite,
}

impl CallKind {
    /// All three, in table order.
    pub const ALL: [CallKind; 3] = [CallKind::Read, CallKind::KeyedWrite, CallKind::ClassicWrite];

    /// The method name (as faults target it).
    pub fn method(self) -> &'static str {
        match self {
            CallKind::Read => "tasks.task.get",
            CallKind::KeyedWrite => "tasks.task.result.add",
            CallKind::ClassicWrite => "im.message.add",
        }
    }
}

impl fmt::Display for CallKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CallKind::Read => "read (`tasks.task.get`)",
            CallKind::KeyedWrite => "keyed write (`tasks.task.result.add`)",
            CallKind::ClassicWrite => "classic write (`im.message.add`)",
        })
    }
}

/// An expected outcome, matched against the variant of what the call returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// `Ok`, with `Reply::replayed` as given.
    Ok {
        /// Whether the answer must be the portal's stored answer to the key.
        replayed: bool,
    },
    /// `Error::Api` with this status.
    Api(u16),
    /// `Error::UnexpectedBody` with this status.
    UnexpectedBody(u16),
    /// `Error::Transport` of this kind (`TransportErrorKind` by name), maybe sent.
    TransportMaybeSent(&'static str),
    /// `Error::WriteOutcomeUnknown`.
    WriteOutcomeUnknown,
    /// `Error::OperatingLimit`.
    OperatingLimit,
    /// `Error::TokenRefresh` with `RefreshFailure::InvalidGrant`, asking for
    /// re-authorization.
    TokenRefreshInvalidGrant,
}

impl Expect {
    /// Whether `outcome` is what was expected.
    pub fn matches(&self, outcome: &Outcome) -> bool {
        match (self, outcome) {
            (Expect::Ok { replayed }, Outcome::Ok { replayed: seen }) => replayed == seen,
            (Expect::Api(s), Outcome::Api { status, .. })
            | (Expect::UnexpectedBody(s), Outcome::UnexpectedBody { status }) => s == status,
            (
                Expect::TransportMaybeSent(k),
                Outcome::Transport {
                    kind,
                    maybe_sent: true,
                },
            ) => kind == k,
            (Expect::WriteOutcomeUnknown, Outcome::WriteOutcomeUnknown { .. })
            | (Expect::OperatingLimit, Outcome::OperatingLimit { .. }) => true,
            (
                Expect::TokenRefreshInvalidGrant,
                Outcome::TokenRefresh {
                    failure,
                    reauthorize: true,
                },
            ) => *failure == invalid_grant(),
            _ => false,
        }
    }
}

impl fmt::Display for Expect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expect::Ok { replayed: false } => f.write_str("Ok"),
            Expect::Ok { replayed: true } => f.write_str("Ok (replayed)"),
            Expect::Api(s) => write!(f, "Api {s}"),
            Expect::UnexpectedBody(s) => write!(f, "UnexpectedBody {s}"),
            Expect::TransportMaybeSent(k) => write!(f, "Transport {k} MaybeSent"),
            Expect::WriteOutcomeUnknown => f.write_str("WriteOutcomeUnknown"),
            Expect::OperatingLimit => f.write_str("OperatingLimit"),
            Expect::TokenRefreshInvalidGrant => f.write_str("TokenRefresh InvalidGrant"),
        }
    }
}

/// One cell: the outcome and, for a write, how many copies the portal must hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    /// The outcome.
    pub expect: Expect,
    /// Copies of the write stored afterwards (`None` for the read).
    pub stored: Option<usize>,
}

/// How a row makes its fault happen.
#[derive(Debug, Clone, Copy)]
pub enum Trigger {
    /// A scripted fault, aimed at the call's method, used once.
    Fault(fn() -> Fault),
    /// A scripted `slow` fault of this length (longer than the row's attempt timeout);
    /// the row waits for the portal to finish before counting.
    Stall(Duration),
    /// Nothing scripted: the row's settings make every answer too big.
    BodyCap,
    /// The OAuth access token is expired before each call.
    ExpireToken,
    /// The OAuth access token is expired and the refresh token revoked before each
    /// call.
    RevokeRefresh,
    /// The webhook's secret is rotated before the calls (the client keeps the old one).
    RotateWebhook,
}

/// A row of the matrix.
#[derive(Debug, Clone)]
pub struct Row {
    /// The fault, as the table names it.
    pub name: &'static str,
    /// How it is made to happen.
    pub trigger: Trigger,
    /// The stand's settings for this row (from [`matrix_settings`]).
    pub settings: fn(StandSettings) -> StandSettings,
    /// What the read, the keyed write and the classic write must end with.
    pub cells: [Cell; 3],
    /// Token refreshes each call must cause (OAuth rows).
    pub refreshes_per_call: Option<u64>,
}

/// What one call of a row did.
#[derive(Debug, Clone)]
pub struct Observed {
    /// The call.
    pub kind: CallKind,
    /// Its outcome.
    pub outcome: Outcome,
    /// Copies of the write stored afterwards (`None` for the read).
    pub stored: Option<usize>,
    /// Token refreshes it caused.
    pub refreshes: u64,
    /// How long it took.
    pub took: Duration,
    /// Whether it matched the row's expectation.
    pub pass: bool,
}

/// A row and what its calls did.
#[derive(Debug, Clone)]
pub struct RowReport {
    /// The row.
    pub row: Row,
    /// The HTTP version it ran over.
    pub http: HttpVersion,
    /// The three calls, or why the row could not run.
    pub observed: Result<Vec<Observed>, String>,
}

impl RowReport {
    /// Whether every call matched.
    pub fn pass(&self) -> bool {
        self.observed
            .as_ref()
            .is_ok_and(|o| o.len() == 3 && o.iter().all(|c| c.pass))
    }
}

/// Every row's report.
#[derive(Debug, Clone)]
pub struct MatrixReport {
    /// The rows.
    pub rows: Vec<RowReport>,
    /// Wall time of the whole matrix.
    pub wall: Duration,
}

impl MatrixReport {
    /// Whether every row matched.
    pub fn pass(&self) -> bool {
        !self.rows.is_empty() && self.rows.iter().all(RowReport::pass)
    }

    /// The failures, one line each.
    pub fn failures(&self) -> Vec<String> {
        let mut out = Vec::new();
        for r in &self.rows {
            match &r.observed {
                Err(e) => out.push(format!("{} over {}: {e}", r.row.name, r.http)),
                Ok(cells) => {
                    for (cell, seen) in r.row.cells.iter().zip(cells) {
                        if !seen.pass {
                            out.push(format!(
                                "{} over {}, {}: expected {} stored {:?}, got {} stored {:?} ({} refreshes)",
                                r.row.name, r.http, seen.kind, cell.expect, cell.stored,
                                seen.outcome, seen.stored, seen.refreshes
                            ));
                        }
                    }
                }
            }
        }
        out
    }

    /// The matrix as a Markdown table: row → observed outcome and copies stored.
    pub fn to_markdown(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "| fault | HTTP | read (`tasks.task.get`) | keyed write (`tasks.task.result.add`) | classic write (`im.message.add`) |"
        );
        let _ = writeln!(s, "|---|---|---|---|---|");
        for r in &self.rows {
            let _ = write!(s, "| {} | {} |", r.row.name, r.http);
            match &r.observed {
                Err(e) => {
                    let _ = write!(s, " setup failed: {e} | | |");
                }
                Ok(cells) => {
                    for c in cells {
                        let stored = match c.stored {
                            Some(n) => format!(", {n} stored"),
                            None => String::new(),
                        };
                        let refreshed = if c.refreshes > 0 {
                            format!(", {} refresh", c.refreshes)
                        } else {
                            String::new()
                        };
                        let mark = if c.pass { "" } else { " **UNEXPECTED**" };
                        let _ = write!(s, " {}{stored}{refreshed}{mark} |", c.outcome);
                    }
                }
            }
            let _ = writeln!(s);
        }
        s
    }
}

/// The settings every row starts from: short backoffs, a 300 ms fallback wait after a
/// 429 that names no reset, a 1 s in-flight grace, 2 s attempts.
pub fn matrix_settings() -> StandSettings {
    let mut s = StandSettings::new();
    s.policy = s
        .policy
        .operating_fallback(Duration::from_millis(300))
        .in_flight_grace(Duration::from_secs(1));
    s.attempt_timeout = Duration::from_secs(2);
    s
}

fn same(s: StandSettings) -> StandSettings {
    s
}

/// The stall row's timing: attempts end after 500 ms, the portal takes 1.5 s, and a
/// keyed write waits 2.5 s from its first send before it repeats.
const STALL: Duration = Duration::from_millis(1500);

fn stall_settings(mut s: StandSettings) -> StandSettings {
    s.attempt_timeout = Duration::from_millis(500);
    s.policy = s.policy.in_flight_grace(Duration::from_millis(2500));
    s
}

fn body_cap_settings(mut s: StandSettings) -> StandSettings {
    // Every answer of these calls (the `time` object alone is ~250 bytes) is larger.
    s.max_response_body = 128;
    s
}

fn no_operating_wait(mut s: StandSettings) -> StandSettings {
    // The 429 names no reset; the fallback (60 s) is longer than the call may wait.
    s.policy = s
        .policy
        .operating_fallback(Duration::from_secs(60))
        .max_operating_wait(Duration::from_millis(100));
    s
}

fn oauth(mut s: StandSettings) -> StandSettings {
    s.auth = Auth::OAuth {
        token_ttl: Duration::from_secs(3600),
    };
    s
}

fn cells(read: Expect, keyed: (Expect, usize), classic: (Expect, usize)) -> [Cell; 3] {
    [
        Cell {
            expect: read,
            stored: None,
        },
        Cell {
            expect: keyed.0,
            stored: Some(keyed.1),
        },
        Cell {
            expect: classic.0,
            stored: Some(classic.1),
        },
    ]
}

const OK: Expect = Expect::Ok { replayed: false };
const REPLAYED: Expect = Expect::Ok { replayed: true };

fn html(status: u16) -> Fault {
    Fault::respond_raw(
        status,
        "text/html",
        format!("<html><body><h1>{status}</h1>nginx</body></html>"),
    )
}

/// Every row, with the outcomes the policy promises.
pub fn rows() -> Vec<Row> {
    vec![
        Row {
            name: "503 `QUERY_LIMIT_EXCEEDED`",
            trigger: Trigger::Fault(|| {
                Fault::respond(
                    503,
                    json!({"error":"QUERY_LIMIT_EXCEEDED","error_description":"Too many requests"}),
                )
            }),
            settings: same,
            cells: cells(OK, (OK, 1), (OK, 1)),
            refreshes_per_call: None,
        },
        Row {
            name: "503 `OVERLOAD_LIMIT`",
            trigger: Trigger::Fault(|| {
                Fault::respond(
                    503,
                    json!({"error":"OVERLOAD_LIMIT","error_description":"REST API is blocked due to overload."}),
                )
            }),
            settings: same,
            cells: cells(
                Expect::Api(503),
                (Expect::Api(503), 0),
                (Expect::Api(503), 0),
            ),
            refreshes_per_call: None,
        },
        Row {
            name: "503, empty body",
            trigger: Trigger::Fault(|| Fault::respond_raw(503, "text/plain", "")),
            settings: same,
            cells: cells(OK, (OK, 1), (Expect::WriteOutcomeUnknown, 0)),
            refreshes_per_call: None,
        },
        Row {
            name: "429 `OPERATION_TIME_LIMIT`, reset within the wait",
            trigger: Trigger::Fault(|| {
                Fault::respond(
                    429,
                    json!({"error":"OPERATION_TIME_LIMIT","error_description":"Method is blocked due to operation time limit."}),
                )
            }),
            settings: same,
            cells: cells(OK, (OK, 1), (OK, 1)),
            refreshes_per_call: None,
        },
        Row {
            name: "429 `OPERATION_TIME_LIMIT`, reset beyond the wait",
            trigger: Trigger::Fault(|| {
                Fault::respond(
                    429,
                    json!({"error":"OPERATION_TIME_LIMIT","error_description":"Method is blocked due to operation time limit."}),
                )
            }),
            settings: no_operating_wait,
            cells: cells(
                Expect::OperatingLimit,
                (Expect::OperatingLimit, 0),
                (Expect::OperatingLimit, 0),
            ),
            refreshes_per_call: None,
        },
        Row {
            name: "500 `INTERNAL_SERVER_ERROR`",
            trigger: Trigger::Fault(|| {
                Fault::respond(
                    500,
                    json!({"error":"INTERNAL_SERVER_ERROR","error_description":"Internal server error"}),
                )
            }),
            settings: same,
            cells: cells(OK, (OK, 1), (Expect::WriteOutcomeUnknown, 0)),
            refreshes_per_call: None,
        },
        Row {
            name: "500, empty body",
            trigger: Trigger::Fault(|| Fault::respond_raw(500, "text/plain", "")),
            settings: same,
            cells: cells(OK, (OK, 1), (Expect::WriteOutcomeUnknown, 0)),
            refreshes_per_call: None,
        },
        Row {
            name: "502 HTML page",
            trigger: Trigger::Fault(|| html(502)),
            settings: same,
            cells: cells(OK, (OK, 1), (Expect::WriteOutcomeUnknown, 0)),
            refreshes_per_call: None,
        },
        Row {
            name: "504 HTML page",
            trigger: Trigger::Fault(|| html(504)),
            settings: same,
            cells: cells(OK, (OK, 1), (Expect::WriteOutcomeUnknown, 0)),
            refreshes_per_call: None,
        },
        Row {
            name: "200 holding `QUERY_LIMIT_EXCEEDED`",
            trigger: Trigger::Fault(|| {
                Fault::respond(
                    200,
                    json!({"error":"QUERY_LIMIT_EXCEEDED","error_description":"Too many requests"}),
                )
            }),
            settings: same,
            cells: cells(OK, (OK, 1), (OK, 1)),
            refreshes_per_call: None,
        },
        Row {
            name: "200 holding an unknown error code",
            trigger: Trigger::Fault(|| {
                Fault::respond(
                    200,
                    json!({"error":"SOMETHING_WENT_WRONG","error_description":"?"}),
                )
            }),
            settings: same,
            // A 2xx the policy cannot read may follow a write that ran: a read ends
            // on the answer, a write as "may have run".
            cells: cells(
                Expect::Api(200),
                (Expect::WriteOutcomeUnknown, 0),
                (Expect::WriteOutcomeUnknown, 0),
            ),
            refreshes_per_call: None,
        },
        Row {
            name: "connection closed before the answer",
            trigger: Trigger::Fault(Fault::close),
            settings: same,
            cells: cells(OK, (OK, 1), (Expect::WriteOutcomeUnknown, 0)),
            refreshes_per_call: None,
        },
        Row {
            name: "connection closed mid-body (truncate)",
            trigger: Trigger::Fault(Fault::truncate),
            settings: same,
            cells: cells(OK, (REPLAYED, 1), (Expect::WriteOutcomeUnknown, 1)),
            refreshes_per_call: None,
        },
        Row {
            name: "write applied, then connection closed",
            trigger: Trigger::Fault(Fault::apply_then_close),
            settings: same,
            cells: cells(OK, (REPLAYED, 1), (Expect::WriteOutcomeUnknown, 1)),
            refreshes_per_call: None,
        },
        Row {
            name: "stall past the attempt timeout (portal takes 1.5 s, attempts end at 0.5 s)",
            trigger: Trigger::Stall(STALL),
            settings: stall_settings,
            cells: cells(OK, (REPLAYED, 1), (Expect::WriteOutcomeUnknown, 1)),
            refreshes_per_call: None,
        },
        Row {
            name: "answer over the body cap (128 bytes)",
            trigger: Trigger::BodyCap,
            settings: body_cap_settings,
            cells: cells(
                Expect::TransportMaybeSent("BodyTooLarge"),
                (Expect::TransportMaybeSent("BodyTooLarge"), 1),
                (Expect::TransportMaybeSent("BodyTooLarge"), 1),
            ),
            refreshes_per_call: None,
        },
        Row {
            name: "invalid JSON in a 200",
            trigger: Trigger::Fault(|| {
                Fault::respond_raw(200, "application/json", "{\"result\": {\"item\": ")
            }),
            settings: same,
            cells: cells(
                Expect::UnexpectedBody(200),
                (Expect::WriteOutcomeUnknown, 0),
                (Expect::WriteOutcomeUnknown, 0),
            ),
            refreshes_per_call: None,
        },
        Row {
            name: "expired OAuth access token",
            trigger: Trigger::ExpireToken,
            settings: oauth,
            cells: cells(OK, (OK, 1), (OK, 1)),
            refreshes_per_call: Some(1),
        },
        Row {
            name: "expired access token, revoked refresh token",
            trigger: Trigger::RevokeRefresh,
            settings: oauth,
            cells: cells(
                Expect::TokenRefreshInvalidGrant,
                (Expect::TokenRefreshInvalidGrant, 0),
                (Expect::TokenRefreshInvalidGrant, 0),
            ),
            refreshes_per_call: Some(1),
        },
        Row {
            name: "webhook secret rotated (401)",
            trigger: Trigger::RotateWebhook,
            settings: same,
            cells: cells(
                Expect::Api(401),
                (Expect::Api(401), 0),
                (Expect::Api(401), 0),
            ),
            refreshes_per_call: None,
        },
    ]
}

/// Runs every row over each HTTP version, `parallel` rows at a time, each on a stand
/// of its own.
pub async fn run_matrix(versions: &[HttpVersion], parallel: usize) -> MatrixReport {
    let started = Instant::now();
    let limit = Arc::new(tokio::sync::Semaphore::new(parallel.max(1)));
    let mut set = tokio::task::JoinSet::new();
    let mut index = 0usize;
    for http in versions {
        for row in rows() {
            let limit = Arc::clone(&limit);
            let http = *http;
            let at = index;
            index += 1;
            set.spawn(async move {
                let _permit = limit.acquire_owned().await;
                let observed = run_row(&row, http).await.map_err(|e| e.to_string());
                (
                    at,
                    RowReport {
                        row,
                        http,
                        observed,
                    },
                )
            });
        }
    }
    let mut rows = Vec::new();
    while let Some(done) = set.join_next().await {
        if let Ok(row) = done {
            rows.push(row);
        }
    }
    rows.sort_by_key(|(at, _)| *at);
    MatrixReport {
        rows: rows.into_iter().map(|(_, r)| r).collect(),
        wall: started.elapsed(),
    }
}

/// Runs one row: the three calls one after another on one stand.
pub async fn run_row(row: &Row, http: HttpVersion) -> Result<Vec<Observed>, HarnessError> {
    let mut settings = (row.settings)(matrix_settings());
    settings.http = http;
    let stand = Stand::start(&settings).await?;
    let emu = stand.emu();
    if matches!(row.trigger, Trigger::RotateWebhook) {
        emu.rotate_webhook_secret(1)
            .map_err(|e| HarnessError::Setup(e.to_string()))?;
    }
    let mut out = Vec::new();
    for (kind, cell) in CallKind::ALL.into_iter().zip(row.cells.iter()) {
        let text = format!("matrix: {} / {kind:?} / {http}", row.name);
        match row.trigger {
            Trigger::Fault(fault) => emu.inject(fault().on(kind.method())),
            Trigger::Stall(by) => emu.inject(Fault::slow(by).on(kind.method())),
            Trigger::ExpireToken | Trigger::RevokeRefresh => {
                let pair: TokenSet = stand
                    .current_tokens()
                    .await
                    .ok_or_else(|| HarnessError::Setup("no token pair".into()))?;
                emu.expire_token(pair.access_token());
                if matches!(row.trigger, Trigger::RevokeRefresh) {
                    emu.revoke_refresh_token(pair.refresh_token());
                }
            }
            Trigger::BodyCap | Trigger::RotateWebhook => {}
        }
        let refreshes_before = emu.calls("oauth.token");
        let started = Instant::now();
        let outcome = call(&stand, kind, &text).await?;
        let took = started.elapsed();
        if let Trigger::Stall(by) = row.trigger {
            // The portal finishes the stalled run on its own time: count after it.
            tokio::time::sleep(by + Duration::from_millis(500)).await;
        }
        emu.clear_faults();
        let stored = stored_copies(&stand, kind, &text);
        let refreshes = emu.calls("oauth.token") - refreshes_before;
        let pass = cell.expect.matches(&outcome)
            && stored == cell.stored
            && row.refreshes_per_call.is_none_or(|n| n == refreshes);
        out.push(Observed {
            kind,
            outcome,
            stored,
            refreshes,
            took,
            pass,
        });
    }
    Ok(out)
}

/// Makes one call of `kind` (a write carries `text`).
pub async fn call(stand: &Stand, kind: CallKind, text: &str) -> Result<Outcome, HarnessError> {
    let task = TaskId::new(TASK).map_err(|e| HarnessError::Setup(e.to_string()))?;
    Ok(match kind {
        CallKind::Read => Outcome::of(
            &stand
                .client
                .execute(&stand.portal, TaskGet::for_chat(task))
                .await,
        ),
        CallKind::KeyedWrite => {
            let method =
                TaskResultAdd::new(task, text).map_err(|e| HarnessError::Setup(e.to_string()))?;
            Outcome::of(&stand.client.execute(&stand.portal, method).await)
        }
        CallKind::ClassicWrite => {
            let chat = ChatId::new(CHAT).map_err(|e| HarnessError::Setup(e.to_string()))?;
            let method = ImMessageAdd::new(DialogId::chat(chat), text)
                .map_err(|e| HarnessError::Setup(e.to_string()))?;
            Outcome::of(&stand.client.execute(&stand.portal, method).await)
        }
    })
}

/// How many copies of the write with `text` the portal holds (`None` for a read).
pub fn stored_copies(stand: &Stand, kind: CallKind, text: &str) -> Option<usize> {
    let emu = stand.emu();
    match kind {
        CallKind::Read => None,
        CallKind::KeyedWrite => Some(emu.results().iter().filter(|r| r.text == text).count()),
        CallKind::ClassicWrite => {
            Some(emu.messages(CHAT).iter().filter(|m| m.text == text).count())
        }
    }
}
