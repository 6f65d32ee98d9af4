//! How long and how often each comparison runs.

use std::time::Duration;

/// The knobs of one run. [`Settings::full`] is what `docs/benchmarks.md` is made
/// with; [`Settings::smoke`] runs every code path once, quickly, for the tests.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Settings {
    /// Rounds per comparison; one ratio per round.
    pub rounds: usize,
    /// Alternating slices of both sides within a round: finer interleaving, so that
    /// a slow patch of the machine falls on both sides alike.
    pub slices: usize,
    /// Target wall time of one in-process sample (one side of one round).
    pub sample_time: Duration,
    /// Target wall time of one loopback sample (one side of one round).
    pub loopback_sample_time: Duration,
    /// Calls in flight in the concurrent loopback comparison.
    pub concurrency: usize,
    /// Simulated time the limiter is driven for.
    pub limiter_time: Duration,
}

impl Settings {
    /// The settings of the published figures: 15 rounds of 5 slices, 100 ms
    /// in-process samples, 500 ms loopback samples, 16 calls in flight, 10 simulated minutes.
    pub fn full() -> Self {
        Self {
            rounds: 15,
            slices: 5,
            sample_time: Duration::from_millis(100),
            loopback_sample_time: Duration::from_millis(500),
            concurrency: 16,
            limiter_time: Duration::from_secs(600),
        }
    }

    /// One tiny round of everything (for tests).
    pub fn smoke() -> Self {
        Self {
            rounds: 1,
            slices: 1,
            sample_time: Duration::from_millis(2),
            loopback_sample_time: Duration::from_millis(10),
            concurrency: 4,
            limiter_time: Duration::from_secs(600),
        }
    }

    /// The same settings with another number of rounds (at least 1).
    pub fn with_rounds(mut self, rounds: usize) -> Self {
        self.rounds = rounds.max(1);
        self
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self::full()
    }
}
