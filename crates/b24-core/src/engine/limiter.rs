//! The request-rate limiter: a client-side mirror of the portal's leaky bucket.
//!
//! # The server's rule
//!
//! Every request adds one to a per-portal counter (per source IP) that drains at `Y`
//! requests per second; a request that finds the counter full (`X`) is refused with
//! 503 `QUERY_LIMIT_EXCEEDED`. Standard plans have `X = 50, Y = 2`, Enterprise
//! `X = 250, Y = 5`.
//!
//! # The client's rule
//!
//! [`LeakyBucket`] is the same bucket run as a virtual schedule (GCRA): it keeps the
//! time at which the bucket would be empty if every reserved request arrived at its
//! slot. [`LeakyBucket::reserve`] returns the earliest time at which one more request
//! keeps the counter at or below `X - margin`, and *reserves* that slot: the next
//! caller gets the following one. So concurrent callers get distinct slots, a burst
//! goes out at once while the bucket has room, and when work keeps waiting the
//! requests leave at exactly the drain rate. A reserved slot that is not used (the
//! call was cancelled) is simply spent: the limiter stays conservative.
//!
//! # The safety margin
//!
//! The server counts arrivals on its own clock, after network delay; a request that
//! leaves later than its slot (a sleep that overshoots, a slow connection set-up)
//! arrives closer to the next one. Each request of margin absorbs one drain interval
//! of such bunching (500 ms at 2/s, 200 ms at 5/s). The default margin is
//! 2 requests, which costs two requests of burst and nothing
//! of the sustained rate. The drain interval is also rounded up to the microsecond,
//! never down.
//!
//! When the server refuses a request anyway (another process on the same IP shares
//! the bucket), [`LeakyBucket::on_throttled`] marks the bucket full, so the following
//! slots leave at the drain rate.

use std::time::Duration;

use super::Timestamp;
use crate::error::InputError;

/// Requests of burst kept free by default to absorb arrival jitter and clock skew.
pub(crate) const DEFAULT_SAFETY_MARGIN: u32 = 2;

const MICROS_PER_SEC: u64 = 1_000_000;

/// The size and drain rate of a portal's request bucket, plus the client's margin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BucketConfig {
    burst: u32,
    interval_us: u64,
    margin: u32,
}

impl BucketConfig {
    /// Standard plans: burst 50, drain 2 requests per second.
    pub fn standard() -> Self {
        Self {
            burst: 50,
            interval_us: MICROS_PER_SEC / 2,
            margin: DEFAULT_SAFETY_MARGIN,
        }
    }

    /// Enterprise plans: burst 250, drain 5 requests per second.
    pub fn enterprise() -> Self {
        Self {
            burst: 250,
            interval_us: MICROS_PER_SEC / 5,
            margin: DEFAULT_SAFETY_MARGIN,
        }
    }

    /// A custom bucket (self-hosted portals set their own limits).
    ///
    /// # Errors
    ///
    /// [`InputError::Param`] when `burst` is zero or `per_second` is not a positive,
    /// finite number of at least one request per day.
    pub fn custom(burst: u32, per_second: f64) -> Result<Self, InputError> {
        if burst == 0 {
            return Err(InputError::Param {
                field: "burst".into(),
                reason: "must be at least 1".into(),
            });
        }
        if !per_second.is_finite() || per_second < 1.0 / 86_400.0 {
            return Err(InputError::Param {
                field: "per_second".into(),
                reason: "must be a positive number (at least one request per day)".into(),
            });
        }
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let interval_us = ((MICROS_PER_SEC as f64) / per_second).ceil().max(1.0) as u64;
        Ok(Self {
            burst,
            interval_us,
            margin: DEFAULT_SAFETY_MARGIN,
        })
    }

    /// Requests of burst to keep free (default 2). At least
    /// one request of burst always remains usable.
    pub fn safety_margin(mut self, requests: u32) -> Self {
        self.margin = requests;
        self
    }

    /// The server's burst (`X`).
    pub fn burst(&self) -> u32 {
        self.burst
    }

    /// The time the server takes to drain one request (`1 / Y`).
    pub fn drain_interval(&self) -> Duration {
        Duration::from_micros(self.interval_us)
    }

    /// The safety margin in requests.
    pub fn margin(&self) -> u32 {
        self.margin
    }

    /// The burst the client allows itself: `X - margin`, at least 1.
    pub fn usable_burst(&self) -> u32 {
        self.burst.saturating_sub(self.margin).max(1)
    }
}

impl Default for BucketConfig {
    fn default() -> Self {
        Self::standard()
    }
}

/// The client-side leaky bucket of one portal (a few dozen bytes of state).
#[derive(Debug, Clone)]
pub struct LeakyBucket {
    config: BucketConfig,
    /// When the bucket would be empty, in microseconds since the epoch.
    empty_at_us: u64,
}

impl LeakyBucket {
    /// An empty bucket.
    pub fn new(config: BucketConfig) -> Self {
        Self {
            config,
            empty_at_us: 0,
        }
    }

    /// The configuration.
    pub fn config(&self) -> BucketConfig {
        self.config
    }

    /// Reserves the next slot: returns `now` when a request may leave at once, or the
    /// later time at which it may leave. The slot is taken either way.
    pub fn reserve(&mut self, now: Timestamp) -> Timestamp {
        let now_us = now.as_unix_millis().saturating_mul(1000);
        let interval = self.config.interval_us;
        let headroom = interval.saturating_mul(u64::from(self.config.usable_burst() - 1));
        let slot_us = now_us.max(self.empty_at_us.saturating_sub(headroom));
        self.empty_at_us = self.empty_at_us.max(slot_us).saturating_add(interval);
        // Round up to the millisecond: leaving later is always safe.
        let slot_ms = slot_us.div_ceil(1000);
        Timestamp::from_unix_millis(slot_ms.max(now.as_unix_millis()))
    }

    /// The server refused a request for the rate limit: treat its bucket as full now.
    pub fn on_throttled(&mut self, now: Timestamp) {
        let now_us = now.as_unix_millis().saturating_mul(1000);
        let full = self
            .config
            .interval_us
            .saturating_mul(u64::from(self.config.burst));
        self.empty_at_us = self.empty_at_us.max(now_us.saturating_add(full));
    }

    /// The counter the client believes the server holds at `now`, in requests
    /// (reserved future slots included).
    pub fn level(&self, now: Timestamp) -> f64 {
        let now_us = now.as_unix_millis().saturating_mul(1000);
        #[allow(clippy::cast_precision_loss)]
        let level = self.empty_at_us.saturating_sub(now_us) as f64 / self.config.interval_us as f64;
        level
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_drain_rate() {
        let mut b = LeakyBucket::new(BucketConfig::standard().safety_margin(0));
        let t0 = Timestamp::from_unix_secs(1_000);
        for _ in 0..50 {
            assert_eq!(b.reserve(t0), t0);
        }
        assert_eq!(b.reserve(t0), Timestamp::from_unix_millis(1_000_500));
        assert_eq!(b.reserve(t0), Timestamp::from_unix_millis(1_001_000));
    }

    #[test]
    fn margin_keeps_requests_free() {
        let mut b = LeakyBucket::new(BucketConfig::standard());
        let t0 = Timestamp::from_unix_secs(1_000);
        let immediate = (0..60).filter(|_| b.reserve(t0) == t0).count();
        assert_eq!(immediate, 48);
    }

    #[test]
    fn throttle_marks_full() {
        let mut b = LeakyBucket::new(BucketConfig::enterprise().safety_margin(0));
        let t0 = Timestamp::from_unix_secs(1_000);
        b.on_throttled(t0);
        assert_eq!(b.reserve(t0), Timestamp::from_unix_millis(1_000_200));
    }

    #[test]
    fn custom_validates() {
        assert!(BucketConfig::custom(0, 1.0).is_err());
        assert!(BucketConfig::custom(10, 0.0).is_err());
        assert!(BucketConfig::custom(10, f64::NAN).is_err());
        let c = BucketConfig::custom(10, 3.0).map(|c| c.drain_interval());
        assert_eq!(c.ok(), Some(Duration::from_micros(333_334)));
    }
}
