//! [`PortalState`]: the stores one credential's calls use, bundled.
//!
//! The [`Registry`](crate::registry::Registry) hands out one per credential, with
//! the host's [`HostStore`] shared by every credential of the host and the
//! [`BudgetStore`] shared by every credential of one budget scope. Built by hand it
//! suits one credential and tests.

use std::fmt;
use std::sync::Arc;

use super::budget::BudgetConfig;
use super::idempotency::{KeyGenerator, KeySupport, KeySupportCell};
use super::limiter::BucketConfig;
use super::memory::{MemoryBudgetStore, MemoryHostStore};
use super::oauth::OAuthApp;
use super::store::{BudgetStore, HostStore, TokenStore};

/// Everything the calls of one credential share. Cheap to clone (reference-counted).
#[derive(Clone)]
pub struct PortalState {
    host: Arc<dyn HostStore>,
    budgets: Arc<dyn BudgetStore>,
    tokens: Option<Arc<dyn TokenStore>>,
    oauth_app: Option<Arc<OAuthApp>>,
    keys: Arc<KeyGenerator>,
    /// The key support last seen (by a reservation or an answer): what a call decides
    /// with when it has not reserved yet.
    key_support: Arc<KeySupportCell>,
}

/// 128 bits from the operating system's random source, to seed a [`PortalState`]
/// or a [`Registry`](crate::registry::Registry) in production. Should the source
/// fail, the standard library's per-process random hashing keys (themselves drawn
/// from the operating system once), unpredictable enough for jitter, lease ids and
/// key uniqueness. No clock is read.
pub fn os_random_seed() -> u128 {
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_ok() {
        return u128::from_le_bytes(bytes);
    }
    use std::hash::{BuildHasher, Hasher};
    let state = std::collections::hash_map::RandomState::new();
    let mut low = state.build_hasher();
    low.write_u8(1);
    let mut high = state.build_hasher();
    high.write_u8(2);
    (u128::from(high.finish()) << 64) | u128::from(low.finish())
}

impl Default for PortalState {
    /// [`PortalState::new`] seeded by [`os_random_seed`].
    fn default() -> Self {
        Self::new(os_random_seed())
    }
}

impl PortalState {
    /// State for a standard-plan portal with in-memory stores and no OAuth tokens
    /// (a webhook portal). `seed` seeds idempotency keys, backoff jitter and refresh
    /// lease ids: pass 128 bits of OS randomness in production, a constant in tests.
    pub fn new(seed: u128) -> Self {
        Self {
            host: Arc::new(MemoryHostStore::new(BucketConfig::standard())),
            budgets: Arc::new(MemoryBudgetStore::new(BudgetConfig::default())),
            tokens: None,
            oauth_app: None,
            keys: Arc::new(KeyGenerator::new(seed)),
            key_support: Arc::new(KeySupportCell::default()),
        }
    }

    /// Uses an in-memory host store with this bucket.
    pub fn bucket(self, config: BucketConfig) -> Self {
        self.host_store(Arc::new(MemoryHostStore::new(config)))
    }

    /// Uses an in-memory budget store with this configuration.
    pub fn budget(self, config: BudgetConfig) -> Self {
        self.budget_store(Arc::new(MemoryBudgetStore::new(config)))
    }

    /// Uses this host store (the request bucket and key support, shared with other
    /// credentials of the host or other processes).
    pub fn host_store(mut self, host: Arc<dyn HostStore>) -> Self {
        self.host = host;
        self
    }

    /// Uses this budget store.
    pub fn budget_store(mut self, budgets: Arc<dyn BudgetStore>) -> Self {
        self.budgets = budgets;
        self
    }

    /// Authenticates calls with the OAuth tokens in this store.
    pub fn token_store(mut self, tokens: Arc<dyn TokenStore>) -> Self {
        self.tokens = Some(tokens);
        self
    }

    /// Refreshes expired tokens with this application's credentials.
    pub fn oauth_app(mut self, app: Arc<OAuthApp>) -> Self {
        self.oauth_app = Some(app);
        self
    }

    /// Starts from this [`KeySupport`] instead of [`KeySupport::Unknown`] (one
    /// remembered from an earlier run, say). Later answers still update it.
    pub fn assume_key_support(mut self, support: KeySupport) -> Self {
        self.key_support = Arc::new(KeySupportCell::new(support));
        let _ = self.host.record_key_support(support);
        self
    }

    /// What the portal's answers showed about `Idempotency-Key`, as last seen by this
    /// state (shared by every clone; refreshed from the host store on each
    /// reservation).
    pub fn key_support(&self) -> KeySupport {
        self.key_support.get()
    }

    /// Records what was seen about key support; returns the previous state when it
    /// changed.
    pub(crate) fn note_key_support(&self, to: KeySupport) -> Option<KeySupport> {
        self.key_support.set(to)
    }

    /// The host store.
    pub fn host(&self) -> &Arc<dyn HostStore> {
        &self.host
    }

    /// The budget store.
    pub fn budgets(&self) -> &Arc<dyn BudgetStore> {
        &self.budgets
    }

    /// The token store, for OAuth credentials.
    pub fn tokens(&self) -> Option<&Arc<dyn TokenStore>> {
        self.tokens.as_ref()
    }

    /// The OAuth application that refreshes tokens, if set.
    pub fn app(&self) -> Option<&Arc<OAuthApp>> {
        self.oauth_app.as_ref()
    }

    /// The key generator.
    pub(crate) fn keys(&self) -> &KeyGenerator {
        &self.keys
    }
}

impl fmt::Debug for PortalState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PortalState")
            .field("host", &self.host)
            .field("budgets", &self.budgets)
            .field("oauth", &self.tokens.is_some())
            .field("key_support", &self.key_support())
            .finish_non_exhaustive()
    }
}
