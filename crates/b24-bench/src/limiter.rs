//! Benchmark 5: the limiter's throughput, in simulated time.
//!
//! The core's [`LeakyBucket`] is driven by work that is always waiting: each driver
//! reserves a slot, "sleeps" to it, sends, and once the answer is back reserves the
//! next. Sends whose slot falls inside the window are counted and set against the
//! most a portal's bucket lets through in that time from empty: `burst + rate × time`.
//!
//! Every send is also fed to a simulation of the portal's bucket, on the portal's
//! clock (the arrival time): the counter drains at the rate, and a request is
//! counted as rejected when it would take the counter past the burst. That is the
//! strict reading of the documented rule (rejected "when the counter is above X"),
//! so no rejection here means none under the looser reading either.
//!
//! Two kinds of drivers: one driver with no network delay (arrivals exactly at the
//! slots), and several drivers whose requests take a random 20 to 150 ms to arrive
//! (so arrivals bunch up and overtake each other), with a fixed-seed generator.

use std::time::Duration;

use b24_core::engine::{BucketConfig, LeakyBucket, Timestamp};

/// One simulated run.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct LimiterRun {
    /// `standard` or `enterprise`.
    pub preset: &'static str,
    /// The server's burst (`X`).
    pub burst: u32,
    /// The server's drain rate (`Y` per second).
    pub per_second: f64,
    /// The client's safety margin in requests.
    pub margin: u32,
    /// Drivers (calls in flight at most).
    pub drivers: usize,
    /// One-way delay range in milliseconds, `(0, 0)` for none.
    pub delay_ms: (u64, u64),
    /// Simulated time.
    pub window: Duration,
    /// Requests sent inside the window.
    pub sends: u64,
    /// `burst + rate × window`.
    pub theoretical: u64,
    /// Requests the simulated portal would refuse.
    pub rejected: u64,
    /// The highest counter the simulated portal reached.
    pub peak_level: f64,
}

impl LimiterRun {
    /// `sends / theoretical`.
    pub fn ratio(&self) -> f64 {
        #[allow(clippy::cast_precision_loss)]
        let r = self.sends as f64 / self.theoretical.max(1) as f64;
        r
    }
}

/// The simulated start (any fixed time).
const T0_MS: u64 = 1_777_529_700_000;
/// Delay range of the delayed drivers, in milliseconds.
const DELAY_MS: (u64, u64) = (20, 150);

/// Runs every preset with both kinds of drivers.
pub fn run(window: Duration, drivers: usize) -> Vec<LimiterRun> {
    let presets = [
        ("standard", BucketConfig::standard(), 50, 2.0),
        ("enterprise", BucketConfig::enterprise(), 250, 5.0),
    ];
    let mut out = Vec::new();
    for (name, config, burst, rate) in presets {
        out.push(simulate(name, config, burst, rate, 1, (0, 0), window));
        out.push(simulate(
            name,
            config,
            burst,
            rate,
            drivers.max(1),
            DELAY_MS,
            window,
        ));
    }
    out
}

/// Drives `config` with `drivers` always-busy drivers for `window`.
pub fn simulate(
    preset: &'static str,
    config: BucketConfig,
    burst: u32,
    per_second: f64,
    drivers: usize,
    delay_ms: (u64, u64),
    window: Duration,
) -> LimiterRun {
    let end_ms = T0_MS.saturating_add(u64::try_from(window.as_millis()).unwrap_or(u64::MAX));
    let mut bucket = LeakyBucket::new(config);
    let mut rng = SplitMix(0x5eed_b24b);
    // When each driver next has a request ready.
    let mut ready = vec![T0_MS; drivers.max(1)];
    let mut arrivals: Vec<u64> = Vec::new();
    while let Some((driver, at)) = ready.iter().copied().enumerate().min_by_key(|(_, t)| *t) {
        if at >= end_ms {
            break;
        }
        let slot = bucket
            .reserve(Timestamp::from_unix_millis(at))
            .as_unix_millis();
        let next = if slot >= end_ms {
            u64::MAX
        } else {
            let delay = rng.between(delay_ms.0, delay_ms.1);
            let arrival = slot + delay;
            arrivals.push(arrival);
            // The answer comes back as fast as the request went.
            arrival + delay
        };
        if let Some(r) = ready.get_mut(driver) {
            *r = next;
        }
    }
    arrivals.sort_unstable();
    let (rejected, peak_level) = server_bucket(&arrivals, f64::from(burst), per_second);
    let window_secs = window.as_secs_f64();
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let theoretical = (f64::from(burst) + per_second * window_secs).floor() as u64;
    LimiterRun {
        preset,
        burst,
        per_second,
        margin: config.margin(),
        drivers: drivers.max(1),
        delay_ms,
        window,
        sends: u64::try_from(arrivals.len()).unwrap_or(u64::MAX),
        theoretical,
        rejected,
        peak_level,
    }
}

/// The portal's bucket over sorted arrival times: (rejected, peak counter).
fn server_bucket(arrivals_ms: &[u64], burst: f64, per_second: f64) -> (u64, f64) {
    let mut level = 0.0f64;
    let mut last = arrivals_ms.first().copied().unwrap_or(0);
    let mut rejected = 0u64;
    let mut peak = 0.0f64;
    for &at in arrivals_ms {
        #[allow(clippy::cast_precision_loss)]
        let elapsed = at.saturating_sub(last) as f64 / 1000.0;
        last = at;
        level = (level - elapsed * per_second).max(0.0);
        if level + 1.0 > burst + 1e-9 {
            rejected += 1;
        } else {
            level += 1.0;
            peak = peak.max(level);
        }
    }
    (rejected, peak)
}

/// A small fixed-seed generator (splitmix64): reproducible delays, no dependency.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A value in `lo..=hi`.
    fn between(&mut self, lo: u64, hi: u64) -> u64 {
        if hi <= lo {
            lo
        } else {
            lo + self.next() % (hi - lo + 1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_server_simulation_rejects_a_burst_past_its_size() {
        let arrivals = vec![1_000u64; 60];
        let (rejected, peak) = server_bucket(&arrivals, 50.0, 2.0);
        assert_eq!(rejected, 10);
        assert_eq!(peak, 50.0);
    }

    #[test]
    fn a_bucket_without_margin_fills_the_server_exactly() {
        let config = BucketConfig::standard().safety_margin(0);
        let run = simulate(
            "standard",
            config,
            50,
            2.0,
            1,
            (0, 0),
            Duration::from_secs(60),
        );
        assert_eq!(run.theoretical, 170);
        assert_eq!(run.rejected, 0);
        assert!(run.sends >= 169 && run.sends <= 170, "{run:?}");
    }
}
