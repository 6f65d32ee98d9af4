//! The operating budgets: the same verdicts as b24-core's in-memory store.

use std::time::Duration;

use b24_core::engine::{BudgetConfig, BudgetStore, BudgetVerdict, MemoryBudgetStore, Timestamp};
use b24_core::registry::BudgetScope;
use b24_types::{Time, UserId};

use crate::support::{backend, host, ok, raw, server, wall};

/// xorshift64*: a small seeded generator, enough to draw test cases.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// In `0..n`.
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const METHODS: [&str; 4] = [
    "tasks.task.result.addfromchatmessage",
    "tasks.task.result.list",
    "im.message.add",
    "user.current",
];

fn configs() -> [BudgetConfig; 3] {
    [
        BudgetConfig::default().limit(Duration::from_secs(480)),
        BudgetConfig::default()
            .limit(Duration::from_secs(480))
            .limit(Duration::from_secs(420))
            .slow_from(0.5)
            .hold_margin(Duration::from_millis(10_500))
            .max_spacing(Duration::from_millis(3_333))
            .reset_margin(Duration::from_millis(2_250)),
        // No slow zone: the slow line is the hold line.
        BudgetConfig::default()
            .limit(Duration::from_secs(480))
            .slow_from(1.0),
    ]
}

fn scope(n: u64) -> BudgetScope {
    BudgetScope::Webhook {
        user: UserId::new(1).unwrap(),
        fingerprint: n,
    }
}

/// A reply's `time` object: plausible figures around the lines mostly, and now and
/// then none, a garbled one, or a reset time beyond the platform's window.
fn reply_time(rng: &mut Rng, now: Timestamp) -> Time {
    let mut t = Time::new();
    let operating_ms = match rng.below(5) {
        0 => rng.below(300_000),
        1 => 150_000 + rng.below(250_000),
        // The slow zones of the configurations below.
        2 | 3 => 380_000 + rng.below(95_000),
        _ => 460_000 + rng.below(40_000),
    };
    #[allow(clippy::cast_precision_loss)]
    let operating = operating_ms as f64 / 1000.0 + (rng.below(1000) as f64) / 1e6;
    t.operating = match rng.below(40) {
        0 => None,
        1 => Some(f64::NAN),
        2 => Some(-1.0),
        _ => Some(operating),
    };
    #[allow(clippy::cast_precision_loss)]
    let now_s = now.as_unix_millis() as f64 / 1000.0;
    #[allow(clippy::cast_precision_loss)]
    let ahead = rng.below(720_000) as f64 / 1000.0 - 60.0;
    t.operating_reset_at = match rng.below(25) {
        0 => None,
        1 => Some(f64::NAN),
        // Milliseconds sent as seconds.
        #[allow(clippy::cast_precision_loss)]
        2 => Some(now.as_unix_millis() as f64),
        // Whole seconds, as the portal usually sends them.
        3..=12 => Some((now_s + ahead).floor()),
        _ => Some(now_s + ahead),
    };
    t
}

fn some_methods(rng: &mut Rng) -> Vec<String> {
    let n = 1 + rng.below(3);
    (0..n)
        .map(|_| METHODS[usize::try_from(rng.below(4)).unwrap()].to_owned())
        .collect()
}

#[tokio::test]
async fn randomized_sequences_agree_with_the_memory_store() {
    let Some(server) = server() else { return };
    let backend = backend(&server.url());
    let h = host();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let (mut checks, mut holds, mut spreads) = (0, 0, 0);
    for seq in 0..300u64 {
        let config = configs()[usize::try_from(seq % 3).unwrap()];
        let memory = MemoryBudgetStore::new(config);
        let redis = backend.budgets(&h, &scope(seq), config);
        let mut now = wall();
        for step in 0..40 {
            // The clock moves on, sometimes far, sometimes back a little.
            now = match rng.below(20) {
                0 => now.saturating_add(Duration::from_millis(rng.below(400_000))),
                1 => now.saturating_sub(Duration::from_millis(rng.below(5_000))),
                _ => now.saturating_add(Duration::from_millis(rng.below(2_000))),
            };
            let what = rng.below(100);
            if what < 40 {
                let method = METHODS[usize::try_from(rng.below(4)).unwrap()];
                let time = reply_time(&mut rng, now);
                ok(memory.record(method, &time, now)).await;
                ok(redis.record(method, &time, now)).await;
            } else if what < 94 {
                let methods = some_methods(&mut rng);
                let want = ok(memory.check(&methods, now)).await;
                let got = ok(redis.check(&methods, now)).await;
                assert_eq!(
                    got, want,
                    "sequence {seq}, step {step}, {methods:?} at {now:?}"
                );
                checks += 1;
                match want.verdict {
                    BudgetVerdict::Hold { .. } => holds += 1,
                    BudgetVerdict::Spread { .. } => spreads += 1,
                    _ => {}
                }
            } else {
                let methods = some_methods(&mut rng);
                let until = now.saturating_add(Duration::from_millis(rng.below(60_000)));
                ok(memory.block(&methods, until)).await;
                ok(redis.block(&methods, until)).await;
            }
        }
    }
    println!("budget cross-check: {checks} checks, {holds} holds, {spreads} spreads agreed");
    // The draw reaches every verdict often.
    assert!(
        holds > 500 && spreads > 400,
        "{holds} holds, {spreads} spreads"
    );
}

#[tokio::test]
async fn spread_slots_are_distinct_across_backends() {
    let Some(server) = server() else { return };
    let h = host();
    let config = BudgetConfig::default().limit(Duration::from_secs(480));
    let a = backend(&server.url()).budgets(&h, &BudgetScope::App, config);
    let b = backend(&server.url()).budgets(&h, &BudgetScope::App, config);
    let now = Timestamp::from_unix_secs(wall().as_unix_secs());
    let method = vec!["tasks.task.result.add".to_owned()];
    let mut t = Time::new();
    // Half-way between the slow line (384 s) and the hold line (475 s): 3.5 s apart.
    t.operating = Some(429.5);
    #[allow(clippy::cast_precision_loss)]
    let reset = (now.as_unix_secs() + 300) as f64;
    t.operating_reset_at = Some(reset);
    ok(a.record(&method[0], &t, now)).await;
    let mut slots = Vec::new();
    for store in [&a, &b, &a, &b] {
        slots.push(ok(store.check(&method, now)).await.verdict);
    }
    let at = |ms| BudgetVerdict::Spread {
        at: now.saturating_add(Duration::from_millis(ms)),
    };
    assert_eq!(
        slots,
        vec![BudgetVerdict::Go, at(3_500), at(7_000), at(10_500)]
    );
    // Another scope (a webhook) has budgets of its own.
    let other = backend(&server.url()).budgets(&h, &scope(1), config);
    assert_eq!(
        ok(other.check(&method, now)).await.verdict,
        BudgetVerdict::Go
    );
}

#[tokio::test]
async fn held_names_the_method_and_keys_expire_after_the_reset() {
    let Some(server) = server() else { return };
    let h = host();
    let store = backend(&server.url()).budgets(
        &h,
        &BudgetScope::App,
        BudgetConfig::default().limit(Duration::from_secs(480)),
    );
    let now = Timestamp::from_unix_secs(wall().as_unix_secs());
    let mut t = Time::new();
    t.operating = Some(476.0);
    #[allow(clippy::cast_precision_loss)]
    let reset = (now.as_unix_secs() + 100) as f64;
    t.operating_reset_at = Some(reset);
    ok(store.record("im.message.add", &t, now)).await;
    let until = now.saturating_add(Duration::from_secs(30));
    ok(store.block(&["user.current".to_owned()], until)).await;
    let check = ok(store.check(
        &["user.current".to_owned(), "im.message.add".to_owned()],
        now,
    ))
    .await;
    assert_eq!(
        check.verdict,
        BudgetVerdict::Hold {
            until: now.saturating_add(Duration::from_secs(101))
        }
    );
    assert_eq!(check.held.as_deref(), Some("im.message.add"));
    assert_eq!(
        check.reset_at,
        Some(now.saturating_add(Duration::from_secs(100)))
    );

    let mut con = raw(&server.url());
    let key = format!("b24:{{{h}}}:budget:app:im.message.add");
    let ttl: i64 = redis::cmd("PTTL").arg(&key).query(&mut con).unwrap();
    // Until the reset plus the reset margin (101 s), plus 60 s.
    assert!((159_000..=161_000).contains(&ttl), "ttl {ttl}");
    let key = format!("b24:{{{h}}}:budget:app:user.current");
    let ttl: i64 = redis::cmd("PTTL").arg(&key).query(&mut con).unwrap();
    assert!((88_000..=90_500).contains(&ttl), "ttl {ttl}");
}
