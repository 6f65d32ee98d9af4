//! The operating-time budget of one method: hold or spread calls before the portal
//! blocks the method.
//!
//! # The server's rule
//!
//! The portal sums the execution time of each method, per application or webhook,
//! in ten one-minute buckets (a rolling ten minutes). Every reply reports the sum as
//! `time.operating` and the moment the oldest bucket drops out as
//! `time.operating_reset_at`. Before each call the portal checks the sum; once it is
//! strictly above the limit (420 s in the server's code; the documentation's worked
//! example uses 480 s, and a cloud setting may change it) the method is refused with 429 (`OPERATION_TIME_LIMIT`, or
//! `BITRIX_REST_V3_EXCEPTION_RATELIMITEXCEPTION` on REST 3.0) until enough buckets
//! have dropped out. Other methods are not affected.
//!
//! # The client's rule
//!
//! [`MethodBudget`] keeps the last reported `operating` and `operating_reset_at` of a
//! method (a newer reset time wins; an older reply arriving late is ignored) and
//! answers [`MethodBudget::check`] before each send. A reset time is never trusted
//! beyond the platform's window: one later than now plus [`MAX_RESET_AHEAD`] (601 s)
//! is impossible and is clamped to that, and a later reply with a plausible reset
//! replaces a clamped one.
//!
//!
//! - while a 429 block is known ([`MethodBudget::block_until`]): hold until it ends;
//! - when `operating` is within [`BudgetConfig::hold_margin`] of the limit: hold until
//!   `operating_reset_at` plus [`BudgetConfig::reset_margin`] (clock skew between the
//!   portal and us), when the oldest bucket drops out;
//! - when `operating` has passed [`BudgetConfig::slow_from`] of the limit: spread the
//!   method's calls, spacing them from zero at the threshold up to
//!   [`BudgetConfig::max_spacing`] at the hold line (each call reserves its slot, so
//!   concurrent calls are spread too);
//! - otherwise, and once the reported reset time has passed (the figure is then out of
//!   date and only the next reply can tell the new sum): go.
//!
//! A reply without `operating_reset_at` updates nothing the client acts on: without
//! a reset time there is no way to tell when the figure goes out of date.

use std::time::Duration;

use b24_types::Time;

use super::Timestamp;

/// The default operating-time limit: 420 s per rolling 10 minutes, the server code's
/// figure (the lower of the two published; see the module docs).
pub(crate) const DEFAULT_OPERATING_LIMIT: Duration = Duration::from_secs(420);

/// The latest an `operating_reset_at` can lie ahead of now: the platform's window is
/// ten one-minute buckets, so the oldest drops out within 600 s; plus the default
/// reset margin (1 s) for the whole-second figure and clock skew. A later value is
/// impossible (a garbled one, milliseconds sent as seconds, say) and is clamped to
/// this, so it cannot hold a method for longer than the window.
pub const MAX_RESET_AHEAD: Duration =
    Duration::from_secs(600 + super::policy::DEFAULT_RESET_MARGIN.as_secs());

/// `now` plus [`MAX_RESET_AHEAD`]: the latest plausible reset time.
pub(crate) fn latest_plausible_reset(now: Timestamp) -> Timestamp {
    now.saturating_add(MAX_RESET_AHEAD)
}

/// How a portal's operating-time budgets are watched (shared by all its methods).
///
/// Plain data: read the fields, set them with the consuming setters of the same
/// names (which also check the values) or directly.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct BudgetConfig {
    /// The operating-time limit per method and 10 minutes.
    pub limit: Duration,
    /// The fraction of the limit from which calls are spread out (read as 0.8 when
    /// not a number, clamped to `0.0..=1.0`).
    pub slow_from: f64,
    /// How close to the limit calls are held until the reset.
    pub hold_margin: Duration,
    /// Added to the reported reset time before a held call goes.
    pub reset_margin: Duration,
    /// The largest spacing between two calls of a method in the slow zone.
    pub max_spacing: Duration,
}

impl Default for BudgetConfig {
    fn default() -> Self {
        Self {
            limit: DEFAULT_OPERATING_LIMIT,
            slow_from: 0.8,
            hold_margin: Duration::from_secs(5),
            reset_margin: super::policy::DEFAULT_RESET_MARGIN,
            max_spacing: Duration::from_secs(7),
        }
    }
}

impl BudgetConfig {
    /// The operating-time limit per method and 10 minutes (default 420 s, the server
    /// code's figure; set 480 s for a portal known to use the documentation's).
    pub fn limit(mut self, limit: Duration) -> Self {
        self.limit = limit;
        self
    }

    /// The fraction of the limit from which calls are spread out (default 0.8;
    /// clamped to `0.0..=1.0`).
    pub fn slow_from(mut self, fraction: f64) -> Self {
        self.slow_from = if fraction.is_nan() {
            0.8
        } else {
            fraction.clamp(0.0, 1.0)
        };
        self
    }

    /// How close to the limit calls are held until the reset (default 5 s).
    pub fn hold_margin(mut self, d: Duration) -> Self {
        self.hold_margin = d;
        self
    }

    /// Added to the reported reset time before a held call goes (default 1 s), for
    /// clock skew between the portal and this machine.
    pub fn reset_margin(mut self, d: Duration) -> Self {
        self.reset_margin = d;
        self
    }

    /// The largest spacing between two calls of a method in the slow zone (default 7 s).
    pub fn max_spacing(mut self, d: Duration) -> Self {
        self.max_spacing = d;
        self
    }

    /// The operating time from which a method is held until its reset: the limit
    /// minus the hold margin (what a store implementing the rules compares with).
    pub fn hold_line(&self) -> Duration {
        Duration::from_millis(self.hold_line_ms())
    }

    /// The operating time from which a method's calls are spread out (never above the
    /// hold line).
    pub fn slow_line(&self) -> Duration {
        Duration::from_millis(self.slow_line_ms())
    }

    fn hold_line_ms(&self) -> u64 {
        duration_ms(self.limit.saturating_sub(self.hold_margin))
    }

    fn slow_line_ms(&self) -> u64 {
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )]
        let fraction = if self.slow_from.is_nan() {
            0.8
        } else {
            self.slow_from.clamp(0.0, 1.0)
        };
        let slow = (duration_ms(self.limit) as f64 * fraction) as u64;
        slow.min(self.hold_line_ms())
    }
}

/// A reported `operating` figure (fractional seconds) in whole milliseconds: 0 for a
/// negative, NaN or infinite value, saturating at `u64::MAX` (as every budget store
/// must read it).
pub fn operating_millis(seconds: f64) -> u64 {
    if seconds.is_finite() && seconds > 0.0 {
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )]
        let ms = (seconds * 1000.0).min(u64::MAX as f64) as u64;
        ms
    } else {
        0
    }
}

fn duration_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// What the budget says about sending one more call of a method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BudgetVerdict {
    /// Send now.
    Go,
    /// Send at this time: calls of the method are being spread out (the slot is
    /// reserved).
    Spread {
        /// When.
        at: Timestamp,
    },
    /// Hold until the method's budget resets (or a 429 block ends).
    Hold {
        /// When the call may go.
        until: Timestamp,
    },
}

/// The operating-time state of one method (about 40 bytes).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MethodBudget {
    operating_ms: u64,
    reset_at: Option<Timestamp>,
    /// Whether `reset_at` was clamped from an impossible reported value.
    reset_clamped: bool,
    blocked_until: Option<Timestamp>,
    next_free: Timestamp,
}

impl MethodBudget {
    /// A method with nothing known.
    pub fn new() -> Self {
        Self::default()
    }

    /// The last reported operating time.
    pub fn operating(&self) -> Duration {
        Duration::from_millis(self.operating_ms)
    }

    /// The last reported reset time.
    pub fn reset_at(&self) -> Option<Timestamp> {
        self.reset_at
    }

    /// The end of a known 429 block.
    pub fn blocked_until(&self) -> Option<Timestamp> {
        self.blocked_until
    }

    /// Whether nothing in this state matters any more at `now` (it can be dropped).
    pub fn is_stale(&self, now: Timestamp) -> bool {
        self.reset_at.is_none_or(|r| r <= now)
            && self.blocked_until.is_none_or(|b| b <= now)
            && self.next_free <= now
    }

    /// Takes in the `time` object of a reply (success or error) received at `now`.
    ///
    /// A reset time later than `now` plus [`MAX_RESET_AHEAD`] is impossible and is
    /// clamped to that. A reply whose reset time is earlier than the known one is
    /// taken for a late reply to an older call and ignored, unless the known one is
    /// implausible (it was clamped, or lies more than [`MAX_RESET_AHEAD`] ahead of
    /// `now`): then the plausible figure replaces it.
    pub fn record(&mut self, time: &Time, now: Timestamp) {
        let Some(reported) = time
            .operating_reset_at
            .and_then(Timestamp::from_unix_secs_f64)
        else {
            return;
        };
        let latest = latest_plausible_reset(now);
        let clamped = reported > latest;
        let reset_at = reported.min(latest);
        if let Some(known) = self.reset_at {
            let known_plausible = !self.reset_clamped && known <= latest;
            if known > reset_at && known_plausible {
                return; // a late reply to an older call
            }
        }
        self.operating_ms = time.operating.map_or(0, operating_millis);
        self.reset_at = Some(reset_at);
        self.reset_clamped = clamped;
    }

    /// The method is refused until `until` (a 429).
    pub fn block_until(&mut self, until: Timestamp) {
        self.blocked_until = Some(self.blocked_until.map_or(until, |b| b.max(until)));
    }

    /// Whether a call may go at `now`; a spread slot is reserved.
    pub fn check(&mut self, config: &BudgetConfig, now: Timestamp) -> BudgetVerdict {
        if let Some(until) = self.blocked_until {
            if until > now {
                return BudgetVerdict::Hold { until };
            }
            self.blocked_until = None;
        }
        let Some(reset_at) = self.reset_at.filter(|r| *r > now) else {
            return BudgetVerdict::Go;
        };
        let hold_line = config.hold_line_ms();
        // The platform blocks a method once its total is strictly above the limit.
        if self.operating_ms > hold_line {
            return BudgetVerdict::Hold {
                until: reset_at.saturating_add(config.reset_margin),
            };
        }
        let slow_line = config.slow_line_ms();
        if self.operating_ms < slow_line {
            return BudgetVerdict::Go;
        }
        let span = hold_line.saturating_sub(slow_line).max(1);
        let over = self.operating_ms - slow_line;
        let spacing_ms =
            u128::from(duration_ms(config.max_spacing)) * u128::from(over) / u128::from(span);
        let spacing = Duration::from_millis(u64::try_from(spacing_ms).unwrap_or(u64::MAX));
        let slot = now.max(self.next_free);
        self.next_free = slot.saturating_add(spacing);
        if slot > now {
            BudgetVerdict::Spread { at: slot }
        } else {
            BudgetVerdict::Go
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn time(operating: f64, reset: f64) -> Time {
        let mut t = Time::new();
        t.operating = Some(operating);
        t.operating_reset_at = Some(reset);
        t
    }

    #[test]
    fn go_spread_hold() {
        let cfg = BudgetConfig::default().limit(Duration::from_secs(480));
        let now = Timestamp::from_unix_secs(1_000);
        let mut b = MethodBudget::new();
        assert_eq!(b.check(&cfg, now), BudgetVerdict::Go);

        b.record(&time(100.0, 1_300.0), now);
        assert_eq!(b.check(&cfg, now), BudgetVerdict::Go);

        // Half-way between 384 s (80 %) and 475 s (hold line): spacing ~3.5 s.
        b.record(&time(429.5, 1_300.0), now);
        assert_eq!(b.check(&cfg, now), BudgetVerdict::Go);
        assert_eq!(
            b.check(&cfg, now),
            BudgetVerdict::Spread {
                at: Timestamp::from_unix_millis(1_003_500)
            }
        );

        b.record(&time(475.5, 1_300.0), now);
        assert_eq!(
            b.check(&cfg, now),
            BudgetVerdict::Hold {
                until: Timestamp::from_unix_secs(1_301)
            }
        );
        // After the reset the figure is out of date: go.
        assert_eq!(
            b.check(&cfg, Timestamp::from_unix_secs(1_300)),
            BudgetVerdict::Go
        );
    }

    #[test]
    fn late_replies_do_not_overwrite_newer_figures() {
        let now = Timestamp::from_unix_secs(1_000);
        let mut b = MethodBudget::new();
        b.record(&time(470.0, 1_360.0), now);
        b.record(&time(10.0, 1_300.0), now);
        assert_eq!(b.operating(), Duration::from_secs(470));
        assert_eq!(b.reset_at(), Some(Timestamp::from_unix_secs(1_360)));
        b.record(&Time::new(), now);
        assert_eq!(b.operating(), Duration::from_secs(470));
    }

    #[test]
    fn impossible_reset_times_are_clamped_and_replaced_by_plausible_ones() {
        let cfg = BudgetConfig::default();
        let now = Timestamp::from_unix_secs(1_777_530_000);
        let mut b = MethodBudget::new();
        // Milliseconds sent as seconds: some fifty thousand years ahead.
        b.record(&time(478.0, 1_777_530_300_000.0), now);
        let latest = now.saturating_add(Duration::from_secs(601));
        assert_eq!(b.reset_at(), Some(latest));
        assert_eq!(
            b.check(&cfg, now),
            BudgetVerdict::Hold {
                until: latest.saturating_add(Duration::from_secs(1))
            }
        );
        // A later reply with an earlier, plausible reset is no late reply: it wins.
        let later = now.saturating_add(Duration::from_secs(2));
        b.record(&time(478.0, 1_777_530_030.0), later);
        assert_eq!(b.reset_at(), Some(Timestamp::from_unix_secs(1_777_530_030)));
        // Once plausible, an earlier reset is a late reply again.
        b.record(&time(10.0, 1_777_530_020.0), later);
        assert_eq!(b.reset_at(), Some(Timestamp::from_unix_secs(1_777_530_030)));
        assert_eq!(b.operating(), Duration::from_secs(478));
        // A known reset that has become implausible for the time of the new reply (a
        // clock stepped back, a store written by another machine) is replaced too.
        let mut b = MethodBudget::new();
        b.record(
            &time(1.0, 1_777_531_000.0),
            Timestamp::from_unix_secs(1_777_530_500),
        );
        b.record(&time(2.0, 1_777_530_100.0), now);
        assert_eq!(b.reset_at(), Some(Timestamp::from_unix_secs(1_777_530_100)));
        assert_eq!(operating_millis(f64::NAN), 0);
        assert_eq!(operating_millis(-1.0), 0);
        assert_eq!(operating_millis(f64::INFINITY), 0);
        assert_eq!(operating_millis(0.0015), 1);
        assert_eq!(operating_millis(1e300), u64::MAX);
    }

    #[test]
    fn block_holds_until_its_end() {
        let cfg = BudgetConfig::default();
        let mut b = MethodBudget::new();
        b.block_until(Timestamp::from_unix_secs(1_030));
        assert_eq!(
            b.check(&cfg, Timestamp::from_unix_secs(1_000)),
            BudgetVerdict::Hold {
                until: Timestamp::from_unix_secs(1_030)
            }
        );
        assert_eq!(
            b.check(&cfg, Timestamp::from_unix_secs(1_030)),
            BudgetVerdict::Go
        );
        assert!(b.is_stale(Timestamp::from_unix_secs(1_030)));
    }
}
