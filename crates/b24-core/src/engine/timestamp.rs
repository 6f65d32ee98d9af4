//! [`Timestamp`]: the engine's notion of "now", passed in by the caller.
//!
//! # Why wall-clock milliseconds
//!
//! The engine never reads a clock. Every method that needs the time takes a
//! `now: Timestamp`, which the adapter produces from [`std::time::SystemTime`]
//! (see [`Timestamp::from_system_time`]); tests build any instant they like with
//! [`Timestamp::from_unix_millis`].
//!
//! A timestamp is a count of milliseconds since the unix epoch (wall-clock time),
//! not a monotonic `Instant`, for two reasons:
//!
//! - the portal reports its operating-budget resets as unix times
//!   (`time.operating_reset_at`); a wall-clock timestamp maps them onto the same axis
//!   without guessing an offset;
//! - the limiter, budget and token state can live in a store shared by several
//!   processes (or machines), which have no common monotonic clock but do share
//!   (NTP-synchronised) wall-clock time.
//!
//! The price is that a wall clock can step. The engine tolerates it: durations are
//! computed with saturating arithmetic (a clock that steps back yields zero elapsed
//! time, never a panic or an underflow), every wait has an upper bound, and the rate
//! limiter keeps a small safety margin (see [`BucketConfig`](super::BucketConfig)).

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A point in time: milliseconds since the unix epoch (1970-01-01T00:00:00Z).
///
/// Produced by the caller; the engine never reads the clock.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(u64);

impl Timestamp {
    /// The unix epoch.
    pub const EPOCH: Timestamp = Timestamp(0);

    /// A timestamp from milliseconds since the unix epoch.
    pub const fn from_unix_millis(millis: u64) -> Self {
        Self(millis)
    }

    /// A timestamp from whole seconds since the unix epoch.
    pub const fn from_unix_secs(secs: u64) -> Self {
        Self(secs.saturating_mul(1000))
    }

    /// A timestamp from fractional unix seconds, as the portal reports them
    /// (`operating_reset_at`, `start`, ...). Negative, NaN or infinite values give
    /// `None`; a fraction of a millisecond is rounded up, so a reset time is never
    /// placed before the moment the server named.
    pub fn from_unix_secs_f64(secs: f64) -> Option<Self> {
        if !secs.is_finite() || secs < 0.0 {
            return None;
        }
        let millis = (secs * 1000.0).ceil();
        if millis >= u64::MAX as f64 {
            return None;
        }
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        Some(Self(millis as u64))
    }

    /// Converts a [`SystemTime`] (what an adapter reads from the clock). Times before
    /// the epoch map to the epoch.
    pub fn from_system_time(t: SystemTime) -> Self {
        let d = t.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
        Self(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    /// The same instant as a [`SystemTime`], or `None` where the platform's
    /// `SystemTime` cannot represent it (its range is narrower on some platforms than
    /// the 584 million years a `Timestamp` spans).
    pub fn to_system_time(self) -> Option<SystemTime> {
        UNIX_EPOCH.checked_add(Duration::from_millis(self.0))
    }

    /// Milliseconds since the unix epoch.
    pub const fn as_unix_millis(self) -> u64 {
        self.0
    }

    /// Whole seconds since the unix epoch (rounded down).
    pub const fn as_unix_secs(self) -> u64 {
        self.0 / 1000
    }

    /// This instant plus a duration (saturating at the far future).
    pub fn saturating_add(self, d: Duration) -> Self {
        let ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        Self(self.0.saturating_add(ms))
    }

    /// This instant minus a duration (saturating at the epoch).
    pub fn saturating_sub(self, d: Duration) -> Self {
        let ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        Self(self.0.saturating_sub(ms))
    }

    /// The time from `earlier` to `self`; zero when `earlier` is not earlier.
    pub fn saturating_duration_since(self, earlier: Timestamp) -> Duration {
        Duration::from_millis(self.0.saturating_sub(earlier.0))
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Timestamp({}.{:03})", self.0 / 1000, self.0 % 1000)
    }
}

impl fmt::Display for Timestamp {
    /// Unix seconds with milliseconds, e.g. `1777530300.000`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:03}", self.0 / 1000, self.0 % 1000)
    }
}

/// A [`Timestamp`] shown as a UTC date and time to the second
/// (`2026-05-01 06:30:00 UTC`), for messages people read.
pub(crate) struct Utc(pub(crate) Timestamp);

impl fmt::Display for Utc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0 .0 / 1000;
        let (days, day_secs) = (secs / 86_400, secs % 86_400);
        // Days since 1970-01-01 to a civil date (the proleptic Gregorian calendar).
        let z = days + 719_468;
        let era = z / 146_097;
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + u64::from(month <= 2);
        write!(
            f,
            "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
            day_secs / 3600,
            day_secs % 3600 / 60,
            day_secs % 60
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_dates() {
        assert_eq!(Utc(Timestamp::EPOCH).to_string(), "1970-01-01 00:00:00 UTC");
        assert_eq!(
            Utc(Timestamp::from_unix_secs(1_777_530_300)).to_string(),
            "2026-04-30 06:25:00 UTC"
        );
        assert_eq!(
            Utc(Timestamp::from_unix_secs(951_782_400)).to_string(),
            "2000-02-29 00:00:00 UTC"
        );
        // The far end does not overflow.
        assert!(Utc(Timestamp::from_unix_millis(u64::MAX))
            .to_string()
            .ends_with(" UTC"));
    }

    #[test]
    fn conversions() {
        let t = Timestamp::from_unix_secs(1_777_530_300);
        assert_eq!(t.as_unix_millis(), 1_777_530_300_000);
        assert_eq!(Timestamp::from_unix_secs_f64(1_777_530_300.0), Some(t));
        assert_eq!(
            Timestamp::from_unix_secs_f64(1.0005).map(Timestamp::as_unix_millis),
            Some(1001)
        );
        assert_eq!(Timestamp::from_unix_secs_f64(-1.0), None);
        assert_eq!(Timestamp::from_unix_secs_f64(f64::NAN), None);
        assert_eq!(Timestamp::from_unix_secs_f64(f64::INFINITY), None);
        assert_eq!(t.to_system_time().map(Timestamp::from_system_time), Some(t));
        // Never a panic, whatever the platform's range.
        let far = Timestamp::from_unix_millis(u64::MAX).to_system_time();
        if let Some(far) = far {
            assert_eq!(Timestamp::from_system_time(far).as_unix_millis(), u64::MAX);
        }
        assert_eq!(format!("{t}"), "1777530300.000");
    }

    #[test]
    fn arithmetic_saturates() {
        let t = Timestamp::from_unix_millis(1_000);
        assert_eq!(
            t.saturating_duration_since(Timestamp::from_unix_millis(2_000)),
            Duration::ZERO
        );
        assert_eq!(t.saturating_sub(Duration::from_secs(5)), Timestamp::EPOCH);
        assert_eq!(
            t.saturating_add(Duration::from_millis(500))
                .as_unix_millis(),
            1_500
        );
        assert_eq!(
            Timestamp::from_unix_millis(u64::MAX).saturating_add(Duration::from_secs(1)),
            Timestamp::from_unix_millis(u64::MAX)
        );
    }
}
