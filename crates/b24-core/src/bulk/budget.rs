//! The planner's view of each method's operating-time budget, from the classic
//! batch's per-command `result_time`: how many more commands of a method fit under
//! the hold line before its budget resets.
//!
//! The engine's budget store decides about whole calls (a batch is held while any
//! of its methods is). The planner goes further for the commands it packs: a
//! command's `time.processing` says what one command of the method costs, its
//! `time.operating` how much is spent, so the next batch takes only as many
//! commands of the method as fit under the hold line ([`BudgetConfig::hold_line`]),
//! and none once it is reached: they wait for the reset in the planner, while
//! commands of other methods go on. The portal checks the budget before each command
//! and refuses the ones past the limit with `OPERATION_TIME_LIMIT`; holding them
//! back keeps them from being sent into that.

use std::collections::HashMap;
use std::time::Duration;

use b24_types::Time;

use crate::engine::{operating_millis, BudgetConfig, Timestamp, MAX_RESET_AHEAD};

/// What the planner knows of one method.
#[derive(Debug, Clone, Default)]
struct View {
    /// The last reported running total.
    operating_ms: u64,
    /// When its oldest one-minute bucket drops out.
    reset_at: Option<Timestamp>,
    /// What one command costs (the largest recent figure, decaying).
    cost_ms: u64,
    /// Held until then (a refusal, or the hold line reached).
    held_until: Option<Timestamp>,
    /// Commands of the method in batches sent and not answered yet.
    in_flight: usize,
    /// Whether an answer reported a time for the method.
    seen: bool,
}

/// How many commands of a method the next batch may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Capacity {
    /// No limit known.
    Unlimited,
    /// At most this many (0: wait for the commands in flight to report).
    Limited(usize),
    /// None until then.
    Held(Timestamp),
}

/// Per-method views, keyed by method name.
#[derive(Debug, Clone)]
pub(crate) struct Budgets {
    config: BudgetConfig,
    methods: HashMap<String, View>,
}

fn duration_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl Budgets {
    pub(crate) fn new(config: BudgetConfig) -> Self {
        Self {
            config,
            methods: HashMap::new(),
        }
    }

    fn view(&mut self, method: &str) -> &mut View {
        self.methods.entry(method.to_owned()).or_default()
    }

    /// Takes in one command's `time` (the classic batch's `result_time` entry).
    pub(crate) fn record(&mut self, method: &str, time: &Time, now: Timestamp) {
        let cost = time
            .processing
            .or(time.duration)
            .map_or(0, operating_millis);
        let view = self.view(method);
        view.seen = true;
        view.cost_ms = cost.max(view.cost_ms.saturating_mul(3) / 4);
        let Some(reset) = time
            .operating_reset_at
            .and_then(Timestamp::from_unix_secs_f64)
        else {
            return;
        };
        // A reset beyond the platform's ten-minute window is a garbled figure.
        let reset = reset.min(now.saturating_add(MAX_RESET_AHEAD));
        if view
            .reset_at
            .is_some_and(|known| known > reset && known > now)
        {
            return; // an older figure
        }
        view.operating_ms = time.operating.map_or(0, operating_millis);
        view.reset_at = Some(reset);
    }

    /// An answer for the method came (with or without times): its first answer is
    /// no longer awaited.
    pub(crate) fn answered(&mut self, method: &str) {
        self.view(method).seen = true;
    }

    /// The method's commands are refused until `until`.
    pub(crate) fn hold(&mut self, method: &str, until: Timestamp) {
        let view = self.view(method);
        view.held_until = Some(view.held_until.map_or(until, |h| h.max(until)));
    }

    /// When a refused command of the method may go again: the known reset plus the
    /// margin, else `fallback` from now.
    pub(crate) fn refused_until(
        &self,
        method: &str,
        now: Timestamp,
        fallback: Duration,
    ) -> Timestamp {
        self.methods
            .get(method)
            .and_then(|v| v.reset_at)
            .filter(|r| *r > now)
            .map_or_else(
                || now.saturating_add(fallback),
                |r| r.saturating_add(self.config.reset_margin),
            )
    }

    /// Commands of the method went out (`+`) or were answered (`-`).
    pub(crate) fn in_flight(&mut self, method: &str, sent: usize, answered: usize) {
        let view = self.view(method);
        view.in_flight = view.in_flight.saturating_add(sent).saturating_sub(answered);
    }

    /// True while commands of a method no answer has reported on yet are in flight:
    /// a classic method's first answer tells what it costs, so no more of its
    /// commands go before it.
    pub(crate) fn probing(&self, method: &str) -> bool {
        self.methods
            .get(method)
            .is_some_and(|v| v.in_flight > 0 && !v.seen)
    }

    /// How many commands of the method the next batch may take at `now`.
    pub(crate) fn capacity(&self, method: &str, now: Timestamp) -> Capacity {
        let Some(view) = self.methods.get(method) else {
            return Capacity::Unlimited;
        };
        if let Some(until) = view.held_until.filter(|h| *h > now) {
            return Capacity::Held(until);
        }
        let Some(reset_at) = view.reset_at.filter(|r| *r > now) else {
            return Capacity::Unlimited;
        };
        let hold_line = duration_ms(self.config.hold_line());
        let spent = view
            .operating_ms
            .saturating_add(view.cost_ms.saturating_mul(view.in_flight as u64));
        let fits = if spent >= hold_line {
            0
        } else {
            match (hold_line - spent).checked_div(view.cost_ms) {
                Some(n) => usize::try_from(n).unwrap_or(usize::MAX),
                None => return Capacity::Unlimited, // a command costs nothing known
            }
        };
        match fits {
            // Nothing in flight will report a newer figure: wait for the reset.
            0 if view.in_flight == 0 => {
                Capacity::Held(reset_at.saturating_add(self.config.reset_margin))
            }
            n => Capacity::Limited(n),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn time(operating: f64, reset: u64, processing: f64) -> Time {
        let mut t = Time::new();
        t.operating = Some(operating);
        t.operating_reset_at = Some(reset as f64);
        t.processing = Some(processing);
        t
    }

    #[test]
    fn commands_fit_under_the_hold_line_then_wait_for_the_reset() {
        let now = Timestamp::from_unix_secs(1_000_000);
        let mut b = Budgets::new(BudgetConfig::default().limit(Duration::from_secs(480)));
        assert_eq!(b.capacity("m", now), Capacity::Unlimited);
        // 450 s spent, 9 s a command, hold line 475 s: two more fit.
        b.record("m", &time(450.0, 1_000_500, 9.0), now);
        assert_eq!(b.capacity("m", now), Capacity::Limited(2));
        b.in_flight("m", 2, 0);
        assert_eq!(b.capacity("m", now), Capacity::Limited(0));
        b.in_flight("m", 0, 2);
        b.record("m", &time(468.0, 1_000_500, 9.0), now);
        assert_eq!(
            b.capacity("m", now),
            Capacity::Held(Timestamp::from_unix_secs(1_000_501))
        );
        // After the reset nothing is known: unlimited again.
        assert_eq!(
            b.capacity("m", Timestamp::from_unix_secs(1_000_502)),
            Capacity::Unlimited
        );
        // Another method is unaffected.
        assert_eq!(b.capacity("other", now), Capacity::Unlimited);
    }

    #[test]
    fn a_hold_ends_at_its_time() {
        let now = Timestamp::from_unix_secs(10);
        let mut b = Budgets::new(BudgetConfig::default());
        b.hold("m", Timestamp::from_unix_secs(70));
        assert_eq!(
            b.capacity("m", now),
            Capacity::Held(Timestamp::from_unix_secs(70))
        );
        assert_eq!(
            b.capacity("m", Timestamp::from_unix_secs(70)),
            Capacity::Unlimited
        );
    }
}
