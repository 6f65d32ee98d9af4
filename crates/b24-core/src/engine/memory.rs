//! The in-memory stores: the default for one process.
//!
//! Each answers at once ([`StoreCall::Ready`]) under a `std::sync::Mutex` held for a
//! few instructions. They hold a few dozen bytes per portal host plus about a hundred
//! bytes per method in use.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use b24_types::Time;

use super::budget::{BudgetConfig, BudgetVerdict, MethodBudget};
use super::idempotency::{KeySupport, KeySupportCell};
use super::limiter::{BucketConfig, LeakyBucket};
use super::store::{
    BudgetCheck, BudgetStore, HostStore, RefreshLease, RefreshTurn, Reservation, StaleOr,
    StoreCall, TokenStore,
};
use super::token::{StaleGeneration, TokenGeneration, TokenSet};
use super::Timestamp;

/// The longest a waiter for another holder's refresh sleeps before asking again.
const REFRESH_POLL: Duration = Duration::from_millis(20);

/// The in-process [`HostStore`]: a [`LeakyBucket`] behind a mutex, and the host's
/// [`KeySupport`].
#[derive(Debug)]
pub struct MemoryHostStore {
    bucket: Mutex<LeakyBucket>,
    key_support: KeySupportCell,
}

impl MemoryHostStore {
    /// A store with an empty bucket and nothing known about keys.
    pub fn new(config: BucketConfig) -> Self {
        Self {
            bucket: Mutex::new(LeakyBucket::new(config)),
            key_support: KeySupportCell::default(),
        }
    }

    /// Starts from this [`KeySupport`] (one remembered from an earlier run, say).
    pub fn with_key_support(self, support: KeySupport) -> Self {
        Self {
            key_support: KeySupportCell::new(support),
            ..self
        }
    }

    fn bucket(&self) -> std::sync::MutexGuard<'_, LeakyBucket> {
        self.bucket.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl HostStore for MemoryHostStore {
    fn reserve(&self, now: Timestamp) -> StoreCall<Reservation> {
        let at = self.bucket().reserve(now);
        StoreCall::ready(Reservation {
            at,
            key_support: self.key_support.get(),
        })
    }

    fn throttled(&self, now: Timestamp) -> StoreCall<()> {
        self.bucket().on_throttled(now);
        StoreCall::ready(())
    }

    fn record_key_support(&self, seen: KeySupport) -> StoreCall<()> {
        self.key_support.set(seen);
        StoreCall::ready(())
    }
}

/// The in-process [`BudgetStore`]: a map from method name to [`MethodBudget`].
///
/// The map holds at most [`MemoryBudgetStore::MAX_METHODS`] methods. To make room for
/// another, entries with nothing left to enforce are dropped first; if none is, the
/// least recently used entry is (its hold or spread is forgotten: the portal's next
/// answer for that method tells again).
#[derive(Debug)]
pub struct MemoryBudgetStore {
    config: BudgetConfig,
    methods: Mutex<Methods>,
}

/// The budgets by method, each with the tick of its last use.
#[derive(Debug, Default)]
struct Methods {
    map: HashMap<String, (MethodBudget, u64)>,
    tick: u64,
    /// The latest `now` handed in (a block comes without one).
    now: Timestamp,
}

impl Methods {
    fn next_tick(&mut self) -> u64 {
        self.tick = self.tick.wrapping_add(1);
        self.tick
    }

    /// The entry of `method`, made (within the cap) if missing, marked as just used.
    fn entry(&mut self, method: &str, now: Option<Timestamp>) -> Option<&mut MethodBudget> {
        let tick = self.next_tick();
        if let Some(now) = now {
            self.now = self.now.max(now);
        }
        let now = self.now;
        if !self.map.contains_key(method) && self.map.len() >= MemoryBudgetStore::MAX_METHODS {
            self.map.retain(|_, (b, _)| !b.is_stale(now));
            while self.map.len() >= MemoryBudgetStore::MAX_METHODS {
                let oldest = self
                    .map
                    .iter()
                    .min_by_key(|(_, (_, used))| *used)
                    .map(|(name, _)| name.clone());
                match oldest {
                    Some(name) => {
                        self.map.remove(&name);
                    }
                    None => break,
                }
            }
        }
        // The name is copied only when the method is new.
        if !self.map.contains_key(method) {
            self.map
                .insert(method.to_owned(), (MethodBudget::new(), tick));
        }
        let slot = self.map.get_mut(method)?;
        slot.1 = tick;
        Some(&mut slot.0)
    }
}

impl MemoryBudgetStore {
    /// The most methods tracked at once.
    pub const MAX_METHODS: usize = 256;

    /// An empty store.
    pub fn new(config: BudgetConfig) -> Self {
        Self {
            config,
            methods: Mutex::new(Methods::default()),
        }
    }

    /// The configuration.
    pub fn config(&self) -> BudgetConfig {
        self.config
    }

    /// How many methods are tracked (at most [`MemoryBudgetStore::MAX_METHODS`]).
    pub fn len(&self) -> usize {
        self.lock().map.len()
    }

    /// Whether no method is tracked.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Methods> {
        self.methods.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn with<R>(
        &self,
        method: &str,
        now: Option<Timestamp>,
        f: impl FnOnce(&mut MethodBudget) -> R,
    ) -> Option<R> {
        self.lock().entry(method, now).map(f)
    }
}

impl MemoryBudgetStore {
    /// The verdict for one method (a spread slot is reserved).
    fn check_one(
        methods: &mut Methods,
        config: &BudgetConfig,
        method: &str,
        now: Timestamp,
    ) -> BudgetVerdict {
        let tick = methods.next_tick();
        methods.now = methods.now.max(now);
        methods
            .map
            .get_mut(method)
            .map_or(BudgetVerdict::Go, |(b, used)| {
                *used = tick;
                b.check(config, now)
            })
    }

    /// The last reported reset time of `method`, if any.
    pub fn reset_at(&self, method: &str) -> Option<Timestamp> {
        self.lock().map.get(method).and_then(|(b, _)| b.reset_at())
    }
}

impl BudgetStore for MemoryBudgetStore {
    fn check(&self, methods: &[String], now: Timestamp) -> StoreCall<BudgetCheck> {
        let mut map = self.lock();
        let mut check = if let [only] = methods {
            // One method (the common case): no list of verdicts to gather.
            let verdict = Self::check_one(&mut map, &self.config, only, now);
            combine_verdicts([(verdict, only.as_str())])
        } else {
            let verdicts: Vec<_> = methods
                .iter()
                .map(|name| {
                    (
                        Self::check_one(&mut map, &self.config, name, now),
                        name.as_str(),
                    )
                })
                .collect();
            combine_verdicts(verdicts)
        };
        check.reset_at = methods
            .iter()
            .filter_map(|m| map.map.get(m.as_str()).and_then(|(b, _)| b.reset_at()))
            .max();
        StoreCall::ready(check)
    }

    fn record(&self, method: &str, time: &Time, now: Timestamp) -> StoreCall<()> {
        if time.operating_reset_at.is_some() {
            self.with(method, Some(now), |b| b.record(time, now));
        }
        StoreCall::ready(())
    }

    fn block(&self, methods: &[String], until: Timestamp) -> StoreCall<()> {
        for method in methods {
            self.with(method, None, |b| b.block_until(until));
        }
        StoreCall::ready(())
    }
}

/// The combined verdict of a call's methods: held while any is held (until the
/// latest end, naming that method), else spread to the latest slot, else go.
pub fn combine_verdicts<'a>(
    verdicts: impl IntoIterator<Item = (BudgetVerdict, &'a str)>,
) -> BudgetCheck {
    let mut hold: Option<(Timestamp, &str)> = None;
    let mut spread: Option<Timestamp> = None;
    for (verdict, name) in verdicts {
        match verdict {
            BudgetVerdict::Go => {}
            BudgetVerdict::Spread { at } => spread = Some(spread.map_or(at, |s| s.max(at))),
            BudgetVerdict::Hold { until } => {
                if hold.is_none_or(|(h, _)| until > h) {
                    hold = Some((until, name));
                }
            }
        }
    }
    match (hold, spread) {
        (Some((until, name)), _) => BudgetCheck {
            verdict: BudgetVerdict::Hold { until },
            held: Some(name.to_owned()),
            reset_at: None,
        },
        (None, Some(at)) => BudgetCheck {
            verdict: BudgetVerdict::Spread { at },
            held: None,
            reset_at: None,
        },
        (None, None) => BudgetCheck::go(),
    }
}

/// An in-process [`TokenStore`] behind a mutex.
#[derive(Debug, Default)]
pub struct MemoryTokenStore {
    inner: Mutex<Tokens>,
}

#[derive(Debug, Default)]
struct Tokens {
    pair: Option<TokenSet>,
    lease: Option<RefreshLease>,
}

impl MemoryTokenStore {
    /// An empty store.
    pub fn empty() -> Self {
        Self::default()
    }

    /// A store holding `tokens` as generation 1.
    pub fn new(tokens: TokenSet) -> Self {
        Self {
            inner: Mutex::new(Tokens {
                pair: Some(tokens.with_generation(TokenGeneration::new(1))),
                lease: None,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Tokens> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl TokenStore for MemoryTokenStore {
    fn current(&self) -> StoreCall<Option<TokenSet>> {
        StoreCall::ready(self.lock().pair.clone())
    }

    fn replace(&self, seen: TokenGeneration, fresh: TokenSet) -> StoreCall<StaleOr<TokenSet>> {
        let mut guard = self.lock();
        let current = guard
            .pair
            .as_ref()
            .map_or(TokenGeneration::NONE, TokenSet::generation);
        if current != seen {
            return StoreCall::ready(Err(StaleGeneration { current }));
        }
        let stored = fresh.with_generation(seen.next());
        guard.pair = Some(stored.clone());
        guard.lease = None;
        StoreCall::ready(Ok(stored))
    }

    fn begin_refresh(
        &self,
        stale: TokenGeneration,
        holder: u64,
        now: Timestamp,
        lease: Duration,
    ) -> StoreCall<RefreshTurn> {
        let mut guard = self.lock();
        let Some(pair) = guard.pair.clone() else {
            return StoreCall::ready(RefreshTurn::Empty);
        };
        if pair.generation() != stale {
            return StoreCall::ready(RefreshTurn::AlreadyRefreshed(pair.generation()));
        }
        if let Some(held) = guard.lease.as_ref().filter(|l| l.expires_at() > now) {
            let retry_at = held.expires_at().min(now.saturating_add(REFRESH_POLL));
            return StoreCall::ready(RefreshTurn::Busy { retry_at });
        }
        let granted = RefreshLease::new(holder, stale, now.saturating_add(lease));
        guard.lease = Some(granted.clone());
        StoreCall::ready(RefreshTurn::Granted {
            lease: granted,
            tokens: pair,
        })
    }

    fn end_refresh(&self, lease: &RefreshLease) -> StoreCall<()> {
        let mut guard = self.lock();
        if guard.lease.as_ref() == Some(lease) {
            guard.lease = None;
        }
        StoreCall::ready(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::panic)]
    use super::*;

    fn check(store: &MemoryBudgetStore, method: &str, now: Timestamp) -> BudgetVerdict {
        match store.check(&[method.to_owned()], now) {
            StoreCall::Ready(Ok(c)) => c.verdict,
            other => panic!("{other:?}"),
        }
    }

    fn time(operating: f64, reset: u64) -> Time {
        let mut t = Time::new();
        t.operating = Some(operating);
        #[allow(clippy::cast_precision_loss)]
        let reset = reset as f64;
        t.operating_reset_at = Some(reset);
        t
    }

    #[test]
    fn the_method_cap_is_hard_and_evicts_the_least_recently_used() {
        let store = MemoryBudgetStore::new(BudgetConfig::default());
        let now = Timestamp::from_unix_secs(1_000);
        let until = Timestamp::from_unix_secs(1_300);
        // Every entry has something to enforce: nothing is stale.
        for n in 0..MemoryBudgetStore::MAX_METHODS {
            let _ = store.block(&[format!("m{n}")], until);
        }
        assert_eq!(store.len(), MemoryBudgetStore::MAX_METHODS);
        // m0 is used again, so m1 is now the least recently used.
        assert_eq!(check(&store, "m0", now), BudgetVerdict::Hold { until });
        let _ = store.record("new.method", &time(10.0, 1_200), now);
        assert_eq!(store.len(), MemoryBudgetStore::MAX_METHODS);
        assert_eq!(
            check(&store, "m1", now),
            BudgetVerdict::Go,
            "m1 was evicted"
        );
        assert_eq!(check(&store, "m0", now), BudgetVerdict::Hold { until });
        assert_eq!(
            store.reset_at("new.method"),
            Some(Timestamp::from_unix_secs(1_200))
        );
        // Many more methods never grow it past the cap.
        for n in 0..1_000 {
            let _ = store.block(&[format!("x{n}")], until);
            assert!(store.len() <= MemoryBudgetStore::MAX_METHODS);
        }
        assert_eq!(check(&store, "x999", now), BudgetVerdict::Hold { until });
    }

    #[test]
    fn stale_entries_go_before_live_ones() {
        let store = MemoryBudgetStore::new(BudgetConfig::default());
        let now = Timestamp::from_unix_secs(1_000);
        let live = Timestamp::from_unix_secs(1_300);
        assert_eq!(check(&store, "live", now), BudgetVerdict::Go);
        let _ = store.block(&["live".to_owned()], live);
        for n in 1..MemoryBudgetStore::MAX_METHODS {
            let _ = store.block(&[format!("old{n}")], Timestamp::from_unix_secs(900));
        }
        // "live" is the least recently used, but the stale ones go first.
        let _ = store.block(&["another".to_owned()], live);
        assert_eq!(store.len(), 2);
        assert_eq!(
            check(&store, "live", now),
            BudgetVerdict::Hold { until: live }
        );
    }
}
