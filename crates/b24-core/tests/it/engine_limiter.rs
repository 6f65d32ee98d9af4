//! The request-rate limiter against an independent simulation of the portal's bucket.

use std::time::Duration;

use b24_core::engine::{BucketConfig, LeakyBucket, Timestamp};
use proptest::prelude::*;

/// The portal's rule, written independently of the limiter: a counter that drains at
/// `per_second` and takes one per request; a request that would lift it above `burst`
/// is refused. Time in microseconds, the counter as an exact rational (micro-requests).
struct ServerBucket {
    burst: u64,
    per_second: u64,
    /// Counter in millionths of a request.
    level_micro: u64,
    last_us: u64,
    accepted: u64,
    refused: u64,
}

impl ServerBucket {
    fn new(burst: u64, per_second: u64) -> Self {
        Self {
            burst,
            per_second,
            level_micro: 0,
            last_us: 0,
            accepted: 0,
            refused: 0,
        }
    }

    fn arrive(&mut self, at_us: u64) -> bool {
        assert!(at_us >= self.last_us, "arrivals must be in time order");
        let drained = (at_us - self.last_us) * self.per_second; // micro-requests
        self.level_micro = self.level_micro.saturating_sub(drained);
        self.last_us = at_us;
        if self.level_micro + 1_000_000 > self.burst * 1_000_000 {
            self.refused += 1;
            false
        } else {
            self.level_micro += 1_000_000;
            self.accepted += 1;
            true
        }
    }
}

fn config(enterprise: bool, margin: u32) -> (BucketConfig, u64, u64) {
    if enterprise {
        (BucketConfig::enterprise().safety_margin(margin), 250, 5)
    } else {
        (BucketConfig::standard().safety_margin(margin), 50, 2)
    }
}

const T0_MS: u64 = 1_777_530_000_000;

/// Callers arrive at the given gaps; each reserves a slot at its arrival and is sent
/// at its slot plus a delay; returns the send times in microseconds, sorted.
fn schedule(bucket: &mut LeakyBucket, gaps_ms: &[u64], delays_ms: &[u64]) -> Vec<u64> {
    let mut now = T0_MS;
    let mut sends = Vec::with_capacity(gaps_ms.len());
    for (i, gap) in gaps_ms.iter().enumerate() {
        now += gap;
        let slot = bucket.reserve(Timestamp::from_unix_millis(now));
        assert!(slot.as_unix_millis() >= now, "a slot is never in the past");
        let delay = delays_ms.get(i).copied().unwrap_or(0);
        sends.push((slot.as_unix_millis() + delay - T0_MS) * 1000);
    }
    sends.sort_unstable();
    sends
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Sent exactly at their slots, requests never overflow the portal's bucket, even
    /// with no safety margin at all.
    #[test]
    fn never_exceeds_the_server_bucket(
        enterprise in any::<bool>(),
        margin in 0u32..4,
        gaps in prop::collection::vec(
            prop_oneof![3 => Just(0u64), 3 => 0u64..300, 1 => 0u64..5_000, 1 => 10_000u64..120_000],
            1..800,
        ),
    ) {
        let (cfg, burst, rate) = config(enterprise, margin);
        let mut bucket = LeakyBucket::new(cfg);
        let sends = schedule(&mut bucket, &gaps, &[]);
        let mut server = ServerBucket::new(burst, rate);
        for at in sends {
            prop_assert!(server.arrive(at), "refused at {at} µs after {} accepted", server.accepted);
        }
        prop_assert_eq!(server.refused, 0);
    }

    /// Requests that leave late, by less than `margin` drain intervals, are still
    /// accepted: that is what the safety margin is for.
    #[test]
    fn the_margin_absorbs_late_sends(
        enterprise in any::<bool>(),
        margin in 1u32..4,
        plan in prop::collection::vec((0u64..400, 0u64..=1_000), 1..600),
    ) {
        let (cfg, burst, rate) = config(enterprise, margin);
        let interval_ms = 1000 / rate;
        let max_delay = u64::from(margin) * interval_ms - 1;
        let gaps: Vec<u64> = plan.iter().map(|(g, _)| *g).collect();
        let delays: Vec<u64> = plan.iter().map(|(_, d)| d * max_delay / 1_000).collect();
        let mut bucket = LeakyBucket::new(cfg);
        let sends = schedule(&mut bucket, &gaps, &delays);
        let mut server = ServerBucket::new(burst, rate);
        for at in sends {
            prop_assert!(server.arrive(at), "refused at {at} µs");
        }
    }

    /// When work is always waiting, throughput over ten simulated minutes is within
    /// 2 % of the most the portal's bucket lets through (burst + rate × time).
    #[test]
    fn full_rate_when_work_is_waiting(
        enterprise in any::<bool>(),
        margin in 0u32..3,
        callers in 1usize..16,
    ) {
        let (cfg, burst, rate) = config(enterprise, margin);
        let mut bucket = LeakyBucket::new(cfg);
        let horizon_ms = T0_MS + 600_000;
        // `callers` workers; each reserves its next slot as soon as its previous
        // request left.
        let mut next: Vec<u64> = vec![T0_MS; callers];
        let mut sent = 0u64;
        let mut server = ServerBucket::new(burst, rate);
        let mut sends = Vec::new();
        loop {
            let (i, now) = next
                .iter()
                .copied()
                .enumerate()
                .min_by_key(|(_, t)| *t)
                .unwrap();
            let slot = bucket.reserve(Timestamp::from_unix_millis(now)).as_unix_millis();
            if slot >= horizon_ms {
                break;
            }
            sends.push((slot - T0_MS) * 1000);
            sent += 1;
            next[i] = slot;
        }
        sends.sort_unstable();
        for at in sends {
            prop_assert!(server.arrive(at));
        }
        let theoretical = burst + rate * 600;
        prop_assert!(
            sent as f64 >= 0.98 * theoretical as f64,
            "sent {sent} of a possible {theoretical}"
        );
        prop_assert!(sent <= theoretical);
    }
}

#[test]
fn throughput_figures_for_the_presets() {
    // The figures quoted in the documentation: one caller, default margin, 10 minutes.
    for (cfg, theoretical) in [
        (BucketConfig::standard(), 50 + 2 * 600),
        (BucketConfig::enterprise(), 250 + 5 * 600),
    ] {
        let mut bucket = LeakyBucket::new(cfg);
        let mut now = T0_MS;
        let mut sent = 0u64;
        loop {
            let slot = bucket
                .reserve(Timestamp::from_unix_millis(now))
                .as_unix_millis();
            if slot >= T0_MS + 600_000 {
                break;
            }
            sent += 1;
            now = slot;
        }
        let ratio = sent as f64 / theoretical as f64;
        println!("{cfg:?}: {sent} of {theoretical} ({:.2} %)", ratio * 100.0);
        assert!(ratio >= 0.98, "{sent} of {theoretical}");
    }
}

#[test]
fn a_throttle_answer_slows_the_next_slots_to_the_drain_rate() {
    let mut bucket = LeakyBucket::new(BucketConfig::standard().safety_margin(0));
    let t0 = Timestamp::from_unix_millis(T0_MS);
    assert_eq!(bucket.reserve(t0), t0);
    bucket.on_throttled(t0);
    let a = bucket.reserve(t0);
    let b = bucket.reserve(t0);
    assert_eq!(a, t0.saturating_add(Duration::from_millis(500)));
    assert_eq!(b, t0.saturating_add(Duration::from_millis(1000)));
}

#[test]
fn the_server_model_refuses_an_overflow() {
    let mut server = ServerBucket::new(50, 2);
    for _ in 0..50 {
        assert!(server.arrive(0));
    }
    assert!(!server.arrive(0), "the 51st request at once is refused");
    assert!(
        !server.arrive(499_999),
        "one drain interval has not passed yet"
    );
    assert!(server.arrive(500_000));
    assert_eq!((server.accepted, server.refused), (51, 2));
}
