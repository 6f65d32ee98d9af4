//! Shared per-portal state behind small traits, with in-memory defaults.
//!
//! The request-rate limiter (one per portal), the operating-time budgets (one per
//! method of a portal) and the token pair ([`TokenStore`]) are shared by every call to
//! a portal. Each sits behind a trait so that a store shared by several processes
//! (a Redis-backed one, say) can replace the in-memory default without any change to
//! the engine. The in-memory defaults use `std::sync::Mutex` and hold a few dozen
//! bytes per portal plus about a hundred bytes per method in use.
//!
//! [`PortalState`] bundles them, with the [`KeyGenerator`] that seeds idempotency
//! keys and backoff jitter and the [`KeySupport`] the portal's answers have shown. It
//! is cheap to clone (reference-counted).

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use b24_types::Time;

use super::budget::{BudgetConfig, BudgetVerdict, MethodBudget};
use super::idempotency::{KeyGenerator, KeySupport, KeySupportCell};
use super::limiter::{BucketConfig, LeakyBucket};
use super::token::TokenStore;
use super::Timestamp;

/// The request-rate limiter of one portal.
pub trait RateLimiter: Send + Sync + fmt::Debug {
    /// Reserves the next send slot: `now` to go at once, or a later time. The slot is
    /// taken whether or not the caller uses it.
    fn reserve(&self, now: Timestamp) -> Timestamp;

    /// The portal refused a request for the rate limit (`QUERY_LIMIT_EXCEEDED`).
    fn on_throttled(&self, now: Timestamp);
}

/// The in-process [`RateLimiter`]: a [`LeakyBucket`] behind a mutex.
#[derive(Debug)]
pub struct MemoryRateLimiter {
    bucket: Mutex<LeakyBucket>,
}

impl MemoryRateLimiter {
    /// A limiter with an empty bucket.
    pub fn new(config: BucketConfig) -> Self {
        Self {
            bucket: Mutex::new(LeakyBucket::new(config)),
        }
    }

    fn bucket(&self) -> std::sync::MutexGuard<'_, LeakyBucket> {
        self.bucket.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl RateLimiter for MemoryRateLimiter {
    fn reserve(&self, now: Timestamp) -> Timestamp {
        self.bucket().reserve(now)
    }

    fn on_throttled(&self, now: Timestamp) {
        self.bucket().on_throttled(now);
    }
}

/// The operating-time budgets of one portal's methods.
pub trait BudgetStore: Send + Sync + fmt::Debug {
    /// Whether a call of `method` may go at `now` (a spread slot is reserved).
    fn check(&self, method: &str, now: Timestamp) -> BudgetVerdict;

    /// Takes in the `time` object of a reply (success or error) to `method`, received
    /// at `now`. A reset time later than `now` plus
    /// [`MAX_RESET_AHEAD`](super::MAX_RESET_AHEAD) is impossible and must be clamped
    /// (as [`MethodBudget::record`] does).
    fn record(&self, method: &str, time: &Time, now: Timestamp);

    /// `method` is refused (429) until `until`.
    fn block(&self, method: &str, until: Timestamp);

    /// The last reported reset time of `method`, if any.
    fn reset_at(&self, method: &str) -> Option<Timestamp>;
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
    fn entry(&mut self, method: &str, now: Option<Timestamp>) -> &mut MethodBudget {
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
        let slot = self
            .map
            .entry(method.to_owned())
            .or_insert_with(|| (MethodBudget::new(), tick));
        slot.1 = tick;
        &mut slot.0
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
    ) -> R {
        f(self.lock().entry(method, now))
    }
}

impl BudgetStore for MemoryBudgetStore {
    fn check(&self, method: &str, now: Timestamp) -> BudgetVerdict {
        let mut methods = self.lock();
        let tick = methods.next_tick();
        methods.now = methods.now.max(now);
        methods
            .map
            .get_mut(method)
            .map_or(BudgetVerdict::Go, |(b, used)| {
                *used = tick;
                b.check(&self.config, now)
            })
    }

    fn record(&self, method: &str, time: &Time, now: Timestamp) {
        if time.operating_reset_at.is_none() {
            return;
        }
        self.with(method, Some(now), |b| b.record(time, now));
    }

    fn block(&self, method: &str, until: Timestamp) {
        self.with(method, None, |b| b.block_until(until));
    }

    fn reset_at(&self, method: &str) -> Option<Timestamp> {
        self.lock().map.get(method).and_then(|(b, _)| b.reset_at())
    }
}

/// Everything the calls to one portal share. Cheap to clone.
#[derive(Clone)]
pub struct PortalState {
    limiter: Arc<dyn RateLimiter>,
    budgets: Arc<dyn BudgetStore>,
    tokens: Option<Arc<dyn TokenStore>>,
    keys: Arc<KeyGenerator>,
    key_support: Arc<KeySupportCell>,
}

impl PortalState {
    /// State for a standard-plan portal with in-memory stores and no OAuth tokens
    /// (a webhook portal). `seed` seeds idempotency keys and backoff jitter: pass
    /// 128 bits of OS randomness in production, a constant in tests.
    pub fn new(seed: u128) -> Self {
        Self {
            limiter: Arc::new(MemoryRateLimiter::new(BucketConfig::standard())),
            budgets: Arc::new(MemoryBudgetStore::new(BudgetConfig::default())),
            tokens: None,
            keys: Arc::new(KeyGenerator::new(seed)),
            key_support: Arc::new(KeySupportCell::default()),
        }
    }

    /// Uses an in-memory limiter with this bucket.
    pub fn bucket(self, config: BucketConfig) -> Self {
        self.rate_limiter(Arc::new(MemoryRateLimiter::new(config)))
    }

    /// Uses an in-memory budget store with this configuration.
    pub fn budget(self, config: BudgetConfig) -> Self {
        self.budget_store(Arc::new(MemoryBudgetStore::new(config)))
    }

    /// Uses this limiter (shared with other `PortalState`s or processes).
    pub fn rate_limiter(mut self, limiter: Arc<dyn RateLimiter>) -> Self {
        self.limiter = limiter;
        self
    }

    /// Uses this budget store.
    pub fn budget_store(mut self, budgets: Arc<dyn BudgetStore>) -> Self {
        self.budgets = budgets;
        self
    }

    /// Authenticates calls with the OAuth tokens in this store (and refreshes them).
    pub fn token_store(mut self, tokens: Arc<dyn TokenStore>) -> Self {
        self.tokens = Some(tokens);
        self
    }

    /// Starts from this [`KeySupport`] instead of [`KeySupport::Unknown`] (one
    /// remembered from an earlier run, say; [`KeySupport::Unsupported`] for a portal
    /// known to ignore keys). Later answers still update it.
    pub fn assume_key_support(mut self, support: KeySupport) -> Self {
        self.key_support = Arc::new(KeySupportCell::new(support));
        self
    }

    /// What the portal's answers showed about `Idempotency-Key` so far (shared by
    /// every clone of this state).
    pub fn key_support(&self) -> KeySupport {
        self.key_support.get()
    }

    /// Records evidence about key support; returns the previous state when it changed.
    pub(crate) fn set_key_support(&self, to: KeySupport) -> Option<KeySupport> {
        self.key_support.set(to)
    }

    /// The limiter.
    pub fn limiter(&self) -> &Arc<dyn RateLimiter> {
        &self.limiter
    }

    /// The budget store.
    pub fn budgets(&self) -> &Arc<dyn BudgetStore> {
        &self.budgets
    }

    /// The token store, for OAuth portals.
    pub fn tokens(&self) -> Option<&Arc<dyn TokenStore>> {
        self.tokens.as_ref()
    }

    /// The key generator.
    pub fn keys(&self) -> &Arc<KeyGenerator> {
        &self.keys
    }
}

impl fmt::Debug for PortalState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PortalState")
            .field("limiter", &self.limiter)
            .field("budgets", &self.budgets)
            .field("oauth", &self.tokens.is_some())
            .field("key_support", &self.key_support())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
            store.block(&format!("m{n}"), until);
        }
        assert_eq!(store.len(), MemoryBudgetStore::MAX_METHODS);
        // m0 is used again, so m1 is now the least recently used.
        assert_eq!(store.check("m0", now), BudgetVerdict::Hold { until });
        store.record("new.method", &time(10.0, 1_200), now);
        assert_eq!(store.len(), MemoryBudgetStore::MAX_METHODS);
        assert_eq!(store.check("m1", now), BudgetVerdict::Go, "m1 was evicted");
        assert_eq!(store.check("m0", now), BudgetVerdict::Hold { until });
        assert_eq!(
            store.reset_at("new.method"),
            Some(Timestamp::from_unix_secs(1_200))
        );
        // Many more methods never grow it past the cap.
        for n in 0..1_000 {
            store.block(&format!("x{n}"), until);
            assert!(store.len() <= MemoryBudgetStore::MAX_METHODS);
        }
        assert_eq!(store.check("x999", now), BudgetVerdict::Hold { until });
    }

    #[test]
    fn stale_entries_go_before_live_ones() {
        let store = MemoryBudgetStore::new(BudgetConfig::default());
        let now = Timestamp::from_unix_secs(1_000);
        let live = Timestamp::from_unix_secs(1_300);
        assert_eq!(store.check("live", now), BudgetVerdict::Go);
        store.block("live", live);
        for n in 1..MemoryBudgetStore::MAX_METHODS {
            store.block(&format!("old{n}"), Timestamp::from_unix_secs(900));
        }
        // "live" is the least recently used, but the stale ones go first.
        store.block("another", live);
        assert_eq!(store.len(), 2);
        assert_eq!(
            store.check("live", now),
            BudgetVerdict::Hold { until: live }
        );
    }
}
