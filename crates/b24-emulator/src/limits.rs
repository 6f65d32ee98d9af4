//! The two platform limits: the request-rate leaky bucket and the per-method
//! operating-time budget.

use std::collections::HashMap;

/// The leaky bucket of one portal.
///
/// Rule: every admitted request adds 1 to a counter that drains continuously by
/// `drain` per second. A request is admitted when, after draining, the counter
/// plus this request stays at or below `burst` (so a burst of exactly `burst` calls
/// at one instant passes and the next is rejected). Rejected requests do not add to
/// the counter. This is deliberately one request stricter than the documented "a
/// request arriving when the counter is above X is rejected" (whose burst is X+1):
/// a client that passes this bucket passes the portal's under either reading.
#[derive(Debug, Clone)]
pub(crate) struct LeakyBucket {
    burst: f64,
    drain: f64,
    level: f64,
    at: f64,
}

impl LeakyBucket {
    pub(crate) fn new(burst: u32, drain_per_sec: f64) -> Self {
        Self {
            burst: f64::from(burst),
            drain: drain_per_sec.max(0.0),
            level: 0.0,
            at: f64::NEG_INFINITY,
        }
    }

    fn drain_to(&mut self, now: f64) {
        if self.at.is_finite() && now > self.at {
            self.level = (self.level - (now - self.at) * self.drain).max(0.0);
        }
        if !self.at.is_finite() || now > self.at {
            self.at = now;
        }
    }

    /// Admits or rejects one request at `now`.
    pub(crate) fn admit(&mut self, now: f64) -> bool {
        self.drain_to(now);
        // A tiny tolerance keeps float drift from rejecting a call that is due.
        if self.level + 1.0 <= self.burst + 1e-9 {
            self.level += 1.0;
            true
        } else {
            false
        }
    }

    /// The counter at `now` (for tests and diagnostics).
    pub(crate) fn level(&mut self, now: f64) -> f64 {
        self.drain_to(now);
        self.level
    }
}

/// Length of the rolling window, in seconds.
pub(crate) const WINDOW: f64 = 600.0;

/// One method's operating time for one app or webhook: up to ten one-minute buckets.
///
/// A bucket belongs to a calendar minute (`floor(t / 60)`); its ten-minute countdown
/// starts at the first call recorded in it, and it drops out at `start + 600`.
#[derive(Debug, Clone, Default)]
pub(crate) struct OperatingBudget {
    /// (minute index, start, seconds)
    buckets: Vec<(i64, f64, f64)>,
}

impl OperatingBudget {
    fn expire(&mut self, now: f64) {
        self.buckets.retain(|(_, start, _)| start + WINDOW > now);
    }

    /// Total operating time of the live buckets.
    pub(crate) fn total(&mut self, now: f64) -> f64 {
        self.expire(now);
        self.buckets.iter().map(|(_, _, s)| s).sum()
    }

    /// When the oldest live bucket drops out, or `None` when there is none.
    pub(crate) fn reset_at(&mut self, now: f64) -> Option<f64> {
        self.expire(now);
        self.buckets
            .first()
            .map(|(_, start, _)| (start + WINDOW).floor())
    }

    /// Records `seconds` of execution at `now`.
    pub(crate) fn record(&mut self, now: f64, seconds: f64) {
        self.expire(now);
        let minute = (now / 60.0).floor() as i64;
        match self.buckets.last_mut() {
            Some((m, _, s)) if *m == minute => *s += seconds,
            _ => self.buckets.push((minute, now, seconds)),
        }
    }
}

/// Operating budgets keyed by (credential, method).
#[derive(Debug, Default)]
pub(crate) struct OperatingLedger {
    budgets: HashMap<(String, String), OperatingBudget>,
}

impl OperatingLedger {
    pub(crate) fn budget(&mut self, credential: &str, method: &str) -> &mut OperatingBudget {
        self.budgets
            .entry((credential.to_owned(), method.to_owned()))
            .or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_passes_then_rejects_and_drains() {
        let mut b = LeakyBucket::new(50, 2.0);
        let passed = (0..60).filter(|_| b.admit(100.0)).count();
        assert_eq!(passed, 50);
        assert!(!b.admit(100.4));
        assert!(b.admit(100.5));
        assert!(!b.admit(100.5));
    }

    #[test]
    fn operating_buckets_expire_one_by_one() {
        let mut o = OperatingBudget::default();
        o.record(0.0, 10.0);
        o.record(30.0, 5.0);
        o.record(70.0, 7.0);
        assert_eq!(o.total(80.0), 22.0);
        assert_eq!(o.reset_at(80.0), Some(600.0));
        assert_eq!(o.total(600.0), 7.0);
        assert_eq!(o.reset_at(600.0), Some(670.0));
        assert_eq!(o.total(670.0), 0.0);
    }
}
