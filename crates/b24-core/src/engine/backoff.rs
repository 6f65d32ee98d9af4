//! Exponential backoff with "equal jitter", and the small seeded PRNG behind it.
//!
//! The engine reads no OS randomness: the adapter seeds a [`Jitter`] (usually
//! through key generator, which hands every exchange its own
//! seed), and tests seed it with constants to get repeatable delays.

use std::time::Duration;

/// A tiny deterministic pseudo-random generator (SplitMix64).
///
/// Good enough to spread retries; not for secrets.
#[derive(Debug, Clone)]
pub struct Jitter {
    state: u64,
}

/// The SplitMix64 increment (2^64 divided by the golden ratio, odd).
pub(crate) const GOLDEN_GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// The SplitMix64 output function: a bijection of `u64`.
pub(crate) fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Jitter {
    /// A generator seeded by the caller.
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GOLDEN_GAMMA);
        mix64(self.state)
    }

    /// A uniformly distributed value in `0..=max`.
    pub fn below_or_equal(&mut self, max: u64) -> u64 {
        if max == u64::MAX {
            return self.next_u64();
        }
        // Multiply-shift: maps 64 random bits onto 0..=max with negligible bias.
        let span = u128::from(max) + 1;
        let r = u128::from(self.next_u64());
        u64::try_from((r * span) >> 64).unwrap_or(max)
    }
}

/// Exponential backoff: the `n`-th retry waits between half and all of
/// `min(max, base * 2^(n-1))`, chosen at random ("equal jitter"), so concurrent
/// callers spread out while none retries much sooner than planned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    base: Duration,
    max: Duration,
}

impl Backoff {
    /// A backoff starting at `base` and never above `max` (`max` is raised to `base`
    /// if smaller).
    pub fn new(base: Duration, max: Duration) -> Self {
        Self {
            base,
            max: max.max(base),
        }
    }

    /// The first delay, before jitter.
    pub fn base(&self) -> Duration {
        self.base
    }

    /// The largest delay.
    pub fn max(&self) -> Duration {
        self.max
    }

    /// The un-jittered ceiling for retry number `retry` (1 for the first retry).
    pub fn ceiling(&self, retry: u32) -> Duration {
        let shift = retry.saturating_sub(1).min(31);
        self.base
            .checked_mul(1u32 << shift)
            .unwrap_or(self.max)
            .min(self.max)
    }

    /// The jittered delay for retry number `retry` (1 for the first retry).
    pub fn delay(&self, retry: u32, jitter: &mut Jitter) -> Duration {
        let ceiling = u64::try_from(self.ceiling(retry).as_millis()).unwrap_or(u64::MAX);
        let half = ceiling / 2;
        let extra = jitter.below_or_equal(ceiling - half);
        Duration::from_millis(half + extra)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix_is_deterministic_and_known() {
        // Reference values of SplitMix64 seeded with 0.
        let mut j = Jitter::new(0);
        assert_eq!(j.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(j.next_u64(), 0x6E78_9E6A_A1B9_65F4);
        let mut a = Jitter::new(42);
        let mut b = Jitter::new(42);
        for _ in 0..10 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
    }

    #[test]
    fn delays_grow_stay_in_bounds_and_cap() {
        let b = Backoff::new(Duration::from_secs(1), Duration::from_secs(30));
        assert_eq!(b.ceiling(1), Duration::from_secs(1));
        assert_eq!(b.ceiling(2), Duration::from_secs(2));
        assert_eq!(b.ceiling(5), Duration::from_secs(16));
        assert_eq!(b.ceiling(6), Duration::from_secs(30));
        assert_eq!(b.ceiling(100), Duration::from_secs(30));
        let mut j = Jitter::new(7);
        let mut distinct = std::collections::HashSet::new();
        for retry in 1..10 {
            for _ in 0..50 {
                let d = b.delay(retry, &mut j);
                let c = b.ceiling(retry);
                assert!(d >= c / 2 && d <= c, "{d:?} outside [{:?}, {c:?}]", c / 2);
                distinct.insert(d);
            }
        }
        assert!(distinct.len() > 100, "jitter should spread delays");
    }

    #[test]
    fn below_or_equal_covers_range() {
        let mut j = Jitter::new(1);
        let mut seen = [false; 4];
        for _ in 0..200 {
            let v = j.below_or_equal(3);
            assert!(v <= 3);
            if let Some(s) = seen.get_mut(usize::try_from(v).unwrap_or(0)) {
                *s = true;
            }
        }
        assert!(seen.iter().all(|s| *s));
        assert_eq!(j.below_or_equal(0), 0);
    }
}
