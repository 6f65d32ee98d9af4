//! Soak: many tasks share one client against one portal and its real request bucket
//! for a bounded time. Nothing may be lost, the bucket may never be overrun (the
//! portal answers no `QUERY_LIMIT_EXCEEDED`), and resident memory must stay flat.

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use b24_core::methods::{TaskGet, TaskResultAdd, TaskResultList};
use b24_types::TaskId;

use crate::outcome::Outcome;
use crate::rss::resident_kib;
use crate::stand::{HarnessError, HttpVersion, Stand, StandSettings};

const TASK: u64 = 51;

/// A soak's settings.
#[derive(Debug, Clone)]
pub struct SoakConfig {
    /// How long the calls go on.
    pub duration: Duration,
    /// How many tasks share the client.
    pub tasks: usize,
    /// The portal's bucket (burst, drain per second), mirrored by the client.
    pub bucket: (u32, f64),
    /// Every how many calls of a task one is a write (`tasks.task.result.add`); the
    /// rest alternate between `tasks.task.get` and a page of `tasks.task.result.list`.
    pub write_every: u64,
    /// The HTTP version.
    pub http: HttpVersion,
    /// The share of the duration spent warming up before memory is compared.
    pub warm_up: f64,
}

impl SoakConfig {
    /// `tasks` tasks for `duration`, a bucket of 50 draining 50 per second, one write
    /// in four calls, HTTP/2, the first quarter as warm-up.
    pub fn new(duration: Duration, tasks: usize) -> Self {
        Self {
            duration,
            tasks,
            bucket: (50, 50.0),
            write_every: 4,
            http: HttpVersion::Http2,
            warm_up: 0.25,
        }
    }
}

/// What a soak did.
#[derive(Debug, Clone)]
pub struct SoakReport {
    /// The settings.
    pub config: SoakConfig,
    /// Calls made.
    pub calls: u64,
    /// Calls that returned `Ok`.
    pub ok: u64,
    /// Errors by variant.
    pub errors: BTreeMap<String, u64>,
    /// Writes that returned `Ok`.
    pub writes_ok: u64,
    /// Of those, not stored.
    pub lost: u64,
    /// Writes stored more than once.
    pub duplicates: u64,
    /// Requests the portal's bucket refused (`QUERY_LIMIT_EXCEEDED`).
    pub rate_limited: u64,
    /// Requests the portal received.
    pub requests: u64,
    /// Resident memory, KiB, one sample a second (the first at the start).
    pub rss_kib: Vec<u64>,
    /// The mean of the samples right after the warm-up, KiB.
    pub rss_after_warm_up: u64,
    /// The mean of the last samples, KiB.
    pub rss_at_end: u64,
    /// Wall time.
    pub wall: Duration,
}

impl SoakReport {
    /// Resident memory growth from warm-up to the end, KiB (negative: shrank).
    pub fn rss_growth_kib(&self) -> i64 {
        i64::try_from(self.rss_at_end).unwrap_or(i64::MAX)
            - i64::try_from(self.rss_after_warm_up).unwrap_or(i64::MAX)
    }

    /// Growth as a share of the warm-up figure.
    pub fn rss_growth_ratio(&self) -> f64 {
        if self.rss_after_warm_up == 0 {
            return f64::INFINITY;
        }
        #[allow(clippy::cast_precision_loss)]
        let ratio = self.rss_growth_kib() as f64 / self.rss_after_warm_up as f64;
        ratio
    }

    /// Whether memory stayed flat: growth under `max_ratio` of the warm-up figure,
    /// or under `max_kib` in absolute terms.
    pub fn memory_flat(&self, max_ratio: f64, max_kib: i64) -> bool {
        !self.rss_kib.is_empty()
            && (self.rss_growth_kib() <= max_kib || self.rss_growth_ratio() <= max_ratio)
    }

    /// A Markdown table of the figures.
    pub fn to_markdown(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "| figure | value |");
        let _ = writeln!(s, "|---|---|");
        let rows: Vec<(&str, String)> = vec![
            ("duration", format!("{:.1} s", self.wall.as_secs_f64())),
            ("tasks sharing one client", self.config.tasks.to_string()),
            ("HTTP", self.config.http.to_string()),
            (
                "portal bucket (client limiter the same)",
                format!("{} burst, {}/s", self.config.bucket.0, self.config.bucket.1),
            ),
            ("calls", self.calls.to_string()),
            ("ok", self.ok.to_string()),
            ("errors", format!("{:?}", self.errors)),
            ("writes ok", self.writes_ok.to_string()),
            ("writes lost", self.lost.to_string()),
            ("writes duplicated", self.duplicates.to_string()),
            ("requests the portal received", self.requests.to_string()),
            (
                "`QUERY_LIMIT_EXCEEDED` answers",
                self.rate_limited.to_string(),
            ),
            (
                "RSS after warm-up",
                format!("{:.1} MiB", kib_to_mib(self.rss_after_warm_up)),
            ),
            (
                "RSS at the end",
                format!("{:.1} MiB", kib_to_mib(self.rss_at_end)),
            ),
            (
                "RSS growth",
                format!(
                    "{} KiB ({:+.1} %)",
                    self.rss_growth_kib(),
                    self.rss_growth_ratio() * 100.0
                ),
            ),
        ];
        for (k, v) in rows {
            let _ = writeln!(s, "| {k} | {v} |");
        }
        s
    }
}

#[allow(clippy::cast_precision_loss)]
fn kib_to_mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

impl fmt::Display for SoakReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "soak {:.1?} x{} {}: {} calls, {} ok, errors {:?}, {} writes ok, {} lost, {} duplicated, {} requests, {} rate-limited, RSS {} -> {} KiB ({:+} KiB, {:+.1} %), samples {:?}",
            self.wall,
            self.config.tasks,
            self.config.http,
            self.calls,
            self.ok,
            self.errors,
            self.writes_ok,
            self.lost,
            self.duplicates,
            self.requests,
            self.rate_limited,
            self.rss_after_warm_up,
            self.rss_at_end,
            self.rss_growth_kib(),
            self.rss_growth_ratio() * 100.0,
            self.rss_kib
        )
    }
}

#[derive(Debug, Default)]
struct Tally {
    calls: u64,
    ok: u64,
    errors: BTreeMap<String, u64>,
    written: Vec<String>,
}

/// Runs the soak.
///
/// # Errors
///
/// [`HarnessError`] when the stand cannot be set up, or resident memory cannot be
/// read (`/proc/self/status`).
pub async fn run_soak(config: &SoakConfig) -> Result<SoakReport, HarnessError> {
    if resident_kib().is_none() {
        return Err(HarnessError::Setup(
            "resident memory cannot be read from /proc/self/status".into(),
        ));
    }
    let mut settings = StandSettings::new();
    settings.http = config.http;
    settings.bucket = config.bucket;
    // No fault is scripted: an attempt that takes long is only a slow machine.
    settings.attempt_timeout = Duration::from_secs(30);
    let stand = Arc::new(Stand::start(&settings).await?);
    // The stand's own set-up requests (the write that shows key support) are not the
    // soak's.
    let set_up: u64 = stand.emu().call_counts().values().sum();
    let emu = stand.emu();

    // Samples from a thread of its own, so a busy runtime does not skew them.
    let stop = Arc::new(AtomicBool::new(false));
    let samples = Arc::new(Mutex::new(Vec::new()));
    let sampler = {
        let stop = Arc::clone(&stop);
        let samples = Arc::clone(&samples);
        // The portal runs in this process and records every request it receives; the
        // records are dropped before each sample so that the figure is the client's
        // (and the portal's stored results, a few hundred bytes per write).
        let records = stand.emu();
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                records.drop_request_records();
                if let Some(kib) = resident_kib() {
                    samples
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push(kib);
                }
                // Sleep in short steps so that the end is prompt.
                for _ in 0..10 {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        })
    };

    // One call first, so that the connection is up before the tasks start: the
    // limiter stamps a request when it grants its slot, and requests granted while
    // the first connection is still being set up would leave together (see
    // docs/reliability.md, "Soak").
    let warm = match TaskId::new(TASK) {
        Ok(task) => Outcome::of(
            &stand
                .client
                .execute(&stand.portal, TaskGet::for_chat(task))
                .await,
        ),
        Err(_) => Outcome::InvalidInput,
    };
    let started = Instant::now();
    let until = started + config.duration;
    let mut set = tokio::task::JoinSet::new();
    for worker in 0..config.tasks.max(1) {
        let stand = Arc::clone(&stand);
        let write_every = config.write_every.max(1);
        set.spawn(async move {
            let mut tally = Tally::default();
            let Ok(task) = TaskId::new(TASK) else {
                return tally;
            };
            let mut n: u64 = 0;
            while Instant::now() < until {
                n += 1;
                tally.calls += 1;
                let outcome = if n.is_multiple_of(write_every) {
                    let text = format!("soak w{worker} #{n}");
                    let outcome = match TaskResultAdd::new(task, text.as_str()) {
                        Ok(m) => Outcome::of(&stand.client.execute(&stand.portal, m).await),
                        Err(_) => Outcome::InvalidInput,
                    };
                    if matches!(outcome, Outcome::Ok { .. }) {
                        tally.written.push(text);
                    }
                    outcome
                } else if n.is_multiple_of(2) {
                    Outcome::of(
                        &stand
                            .client
                            .execute(&stand.portal, TaskGet::for_chat(task))
                            .await,
                    )
                } else {
                    match TaskResultList::for_task(task).limit(10) {
                        Ok(m) => Outcome::of(&stand.client.execute(&stand.portal, m).await),
                        Err(_) => Outcome::InvalidInput,
                    }
                };
                match outcome {
                    Outcome::Ok { .. } => tally.ok += 1,
                    other => *tally.errors.entry(other.variant()).or_default() += 1,
                }
            }
            tally
        });
    }
    let mut tally = Tally {
        calls: 1,
        ..Tally::default()
    };
    match warm {
        Outcome::Ok { .. } => tally.ok += 1,
        other => *tally.errors.entry(other.variant()).or_default() += 1,
    }
    while let Some(done) = set.join_next().await {
        if let Ok(t) = done {
            tally.calls += t.calls;
            tally.ok += t.ok;
            for (k, v) in t.errors {
                *tally.errors.entry(k).or_default() += v;
            }
            tally.written.extend(t.written);
        }
    }
    let wall = started.elapsed();
    stop.store(true, Ordering::SeqCst);
    let _ = sampler.join();
    let rss = samples
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();

    let mut stored: BTreeMap<String, u64> = BTreeMap::new();
    for r in emu.results() {
        *stored.entry(r.text).or_default() += 1;
    }
    let lost = tally
        .written
        .iter()
        .filter(|t| !stored.contains_key(t.as_str()))
        .count();
    let duplicates = stored.values().filter(|c| **c > 1).count();
    let requests = emu
        .call_counts()
        .values()
        .sum::<u64>()
        .saturating_sub(set_up);

    let (after_warm_up, at_end) = rss_window(&rss, config.warm_up);
    Ok(SoakReport {
        config: config.clone(),
        calls: tally.calls,
        ok: tally.ok,
        errors: tally.errors,
        writes_ok: u64::try_from(tally.written.len()).unwrap_or(u64::MAX),
        lost: u64::try_from(lost).unwrap_or(u64::MAX),
        duplicates: u64::try_from(duplicates).unwrap_or(u64::MAX),
        rate_limited: emu.rate_limited(),
        requests,
        rss_kib: rss,
        rss_after_warm_up: after_warm_up,
        rss_at_end: at_end,
        wall,
    })
}

/// The mean of the two samples after the warm-up share, and of the last two.
pub fn rss_window(samples: &[u64], warm_up: f64) -> (u64, u64) {
    if samples.is_empty() {
        return (0, 0);
    }
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let skip = ((samples.len() as f64) * warm_up.clamp(0.0, 0.9)).ceil() as usize;
    let skip = skip.min(samples.len().saturating_sub(2));
    let mean = |s: &[u64]| -> u64 {
        if s.is_empty() {
            0
        } else {
            s.iter().sum::<u64>() / u64::try_from(s.len()).unwrap_or(1)
        }
    };
    let after = samples
        .get(skip..(skip + 2).min(samples.len()))
        .unwrap_or(&[]);
    let end = samples
        .get(samples.len().saturating_sub(2)..)
        .unwrap_or(&[]);
    (mean(after), mean(end))
}

#[cfg(test)]
mod tests {
    use super::rss_window;

    #[test]
    fn the_window_skips_the_warm_up() {
        let samples = [10, 50, 100, 102, 104, 106, 108, 110];
        assert_eq!(rss_window(&samples, 0.25), (101, 109));
        assert_eq!(rss_window(&[7], 0.25), (7, 7));
        assert_eq!(rss_window(&[], 0.25), (0, 0));
    }
}
