//! The emulator's clock: real by default, a manual one for tests.
//!
//! Every limit (the request bucket, the operating budget), token expiry and the `time`
//! object read this clock, so tests can freeze it and move it by hand instead of
//! sleeping.

use std::fmt;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A source of the current unix time, in seconds.
pub trait Clock: Send + Sync + fmt::Debug {
    /// Seconds since the unix epoch, with a fractional part.
    fn now(&self) -> f64;
}

/// The system clock (the default).
#[derive(Debug, Clone, Copy, Default)]
#[non_exhaustive]
pub struct SystemClock;

impl SystemClock {
    /// The system clock.
    pub fn new() -> Self {
        Self
    }
}

impl Clock for SystemClock {
    fn now(&self) -> f64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0)
    }
}

/// A clock that moves only when told to. Clones share the same time.
///
/// ```
/// use std::time::Duration;
/// use b24_emulator::{Clock, ManualClock};
///
/// let clock = ManualClock::new(1_777_529_700.0);
/// clock.advance(Duration::from_secs(5));
/// assert_eq!(clock.now(), 1_777_529_705.0);
/// ```
#[derive(Clone)]
pub struct ManualClock {
    micros: Arc<AtomicI64>,
}

impl ManualClock {
    /// A clock frozen at `unix_seconds`.
    pub fn new(unix_seconds: f64) -> Self {
        Self {
            micros: Arc::new(AtomicI64::new(to_micros(unix_seconds))),
        }
    }

    /// A clock frozen at the current system time.
    pub fn starting_now() -> Self {
        Self::new(SystemClock.now())
    }

    /// Moves the clock forward. The clock counts microseconds in an `i64` and stops at
    /// its end (about 292,000 years after 1970) instead of wrapping around.
    pub fn advance(&self, by: Duration) {
        let delta = i64::try_from(by.as_micros()).unwrap_or(i64::MAX);
        // The closure always returns `Some`, so the update cannot fail.
        let _ = self
            .micros
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |m| {
                Some(m.saturating_add(delta))
            });
    }

    /// Sets the clock to a unix time in seconds.
    pub fn set(&self, unix_seconds: f64) {
        self.micros.store(to_micros(unix_seconds), Ordering::SeqCst);
    }
}

impl fmt::Debug for ManualClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManualClock")
            .field("now", &self.now())
            .finish()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> f64 {
        self.micros.load(Ordering::SeqCst) as f64 / 1_000_000.0
    }
}

fn to_micros(seconds: f64) -> i64 {
    (seconds * 1_000_000.0).round() as i64
}
