//! Who shares what: the table of portal state, one entry per portal host and, inside
//! it, one per credential.
//!
//! The platform keeps three kinds of state per caller with three scopes
//! ([`CredentialId`] has the table and the reasoning): the request bucket per portal
//! host, the operating budgets per webhook or per OAuth app, the token pair per OAuth
//! user. The [`Registry`] applies those rules: [`Registry::lease`] hands a call the
//! [`PortalState`] of its credential, with the host's [`HostStore`] shared by every
//! credential of the host and one [`BudgetStore`] per budget scope. Where the stores
//! live is the [`StoreBackend`]'s business: in memory by default
//! ([`MemoryBackend`]), or on a server shared by many processes (the `b24-redis`
//! crate).
//!
//! Entries made on first use are dropped once unused for the idle timeout, lazily: a
//! sweep of the table runs at most every quarter of the timeout (and at least every
//! minute), on the next lookup. An entry a call holds (a [`Lease`]) is never dropped,
//! nor one installed with [`Registry::register`]. Time is passed in (`now`), as
//! everywhere in this crate.

mod credential;

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

pub use credential::{BudgetScope, CredentialId, OAuthUser, MAX_OAUTH_USER_LEN};

use crate::engine::{
    BucketConfig, BudgetConfig, BudgetStore, HostStore, KeyGenerator, MemoryBudgetStore,
    MemoryHostStore, MemoryTokenStore, OAuthApp, PortalState, Timestamp, TokenStore,
};
use crate::Portal;

/// The default idle timeout: state unused for this long is dropped.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// The longest pause between two sweeps for idle entries.
const MAX_SWEEP_INTERVAL: Duration = Duration::from_secs(60);

/// Where the registry's stores live: it makes the store of each scope on first use.
pub trait StoreBackend: Send + Sync + fmt::Debug {
    /// The store of a portal host's request bucket and key support.
    fn host_store(&self, host: &str, bucket: BucketConfig) -> Arc<dyn HostStore>;

    /// The operating budgets of one budget scope (a webhook, or the OAuth app) on a
    /// host.
    fn budget_store(
        &self,
        host: &str,
        scope: &BudgetScope,
        config: BudgetConfig,
    ) -> Arc<dyn BudgetStore>;

    /// The token pair of one OAuth credential on a host.
    fn token_store(&self, host: &str, credential: &CredentialId) -> Arc<dyn TokenStore>;
}

/// Stores in this process's memory: the default, for one process.
#[derive(Debug, Default, Clone, Copy)]
pub struct MemoryBackend;

impl StoreBackend for MemoryBackend {
    fn host_store(&self, _host: &str, bucket: BucketConfig) -> Arc<dyn HostStore> {
        Arc::new(MemoryHostStore::new(bucket))
    }

    fn budget_store(
        &self,
        _host: &str,
        _scope: &BudgetScope,
        config: BudgetConfig,
    ) -> Arc<dyn BudgetStore> {
        Arc::new(MemoryBudgetStore::new(config))
    }

    fn token_store(&self, _host: &str, _credential: &CredentialId) -> Arc<dyn TokenStore> {
        Arc::new(MemoryTokenStore::empty())
    }
}

/// A call's hold on its credential's state: keeps the entry from being dropped while
/// the call runs. Dereferences to the [`PortalState`].
#[derive(Debug, Clone)]
pub struct Lease {
    state: PortalState,
    /// Counts the holders of the entry (the table holds one).
    _usage: Arc<()>,
}

impl Lease {
    /// The state.
    pub fn state(&self) -> &PortalState {
        &self.state
    }
}

impl std::ops::Deref for Lease {
    type Target = PortalState;
    fn deref(&self) -> &PortalState {
        &self.state
    }
}

#[derive(Debug)]
struct CredentialEntry {
    state: PortalState,
    /// Installed by the caller: never dropped for being idle.
    pinned: bool,
    last_used: Timestamp,
    usage: Arc<()>,
}

impl CredentialEntry {
    fn in_use(&self) -> bool {
        Arc::strong_count(&self.usage) > 1
    }
}

#[derive(Debug)]
struct HostEntry {
    store: Arc<dyn HostStore>,
    /// The host store was installed by the caller: keep the host while it is idle.
    pinned: bool,
    /// The budget stores by scope.
    budgets: HashMap<BudgetScope, Arc<dyn BudgetStore>>,
    credentials: HashMap<CredentialId, CredentialEntry>,
}

#[derive(Debug, Default)]
struct Table {
    hosts: HashMap<String, HostEntry>,
    last_sweep: Option<Timestamp>,
}

/// The table of portal state, by host and credential; see the [module docs](self).
pub struct Registry {
    backend: Arc<dyn StoreBackend>,
    bucket: BucketConfig,
    budget: BudgetConfig,
    oauth_app: Option<Arc<OAuthApp>>,
    idle: Duration,
    seeds: KeyGenerator,
    table: Mutex<Table>,
}

impl Registry {
    /// An empty registry with in-memory stores, the standard bucket, the default
    /// budgets and idle timeout. `seed` (128 bits of OS randomness in production)
    /// seeds each entry's idempotency keys, jitter and refresh lease ids.
    pub fn new(seed: u128) -> Self {
        Self {
            backend: Arc::new(MemoryBackend),
            bucket: BucketConfig::standard(),
            budget: BudgetConfig::default(),
            oauth_app: None,
            idle: DEFAULT_IDLE_TIMEOUT,
            seeds: KeyGenerator::new(seed),
            table: Mutex::new(Table::default()),
        }
    }

    /// Makes new entries' stores with this backend.
    #[must_use]
    pub fn backend(mut self, backend: Arc<dyn StoreBackend>) -> Self {
        self.backend = backend;
        self
    }

    /// The request bucket assumed for hosts without a registered store.
    #[must_use]
    pub fn bucket(mut self, bucket: BucketConfig) -> Self {
        self.bucket = bucket;
        self
    }

    /// The budget rules for new budget stores.
    #[must_use]
    pub fn budget(mut self, budget: BudgetConfig) -> Self {
        self.budget = budget;
        self
    }

    /// The OAuth application whose tokens the OAuth credentials refresh.
    #[must_use]
    pub fn oauth_app(mut self, app: OAuthApp) -> Self {
        self.oauth_app = Some(Arc::new(app));
        self
    }

    /// Drops state unused for this long (default [`DEFAULT_IDLE_TIMEOUT`]; at least
    /// one millisecond).
    #[must_use]
    pub fn idle_timeout(mut self, idle: Duration) -> Self {
        self.idle = idle.max(Duration::from_millis(1));
        self
    }

    /// The bucket assumed for new hosts.
    pub fn default_bucket(&self) -> BucketConfig {
        self.bucket
    }

    fn lock(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn seed(&self) -> u128 {
        let (a, b) = (self.seeds.next_seed(), self.seeds.next_seed());
        (u128::from(a) << 64) | u128::from(b)
    }

    /// A fresh in-memory state with the registry's defaults and its own seed, to
    /// adjust and [`register`](Self::register).
    pub fn new_state(&self) -> PortalState {
        let state = PortalState::new(self.seed())
            .bucket(self.bucket)
            .budget(self.budget);
        match &self.oauth_app {
            Some(app) => state.oauth_app(Arc::clone(app)),
            None => state,
        }
    }

    fn new_host(&self, host: &str) -> HostEntry {
        HostEntry {
            store: self.backend.host_store(host, self.bucket),
            pinned: false,
            budgets: HashMap::new(),
            credentials: HashMap::new(),
        }
    }

    /// The state of `credential` on `host` with the host's shared parts, and for an
    /// OAuth credential `tokens` or else the backend's token store.
    fn state_for(
        &self,
        host_name: &str,
        host: &mut HostEntry,
        id: &CredentialId,
        tokens: Option<Arc<dyn TokenStore>>,
    ) -> PortalState {
        let scope = id.budget_scope();
        let budgets =
            Arc::clone(host.budgets.entry(scope).or_insert_with_key(|scope| {
                self.backend.budget_store(host_name, scope, self.budget)
            }));
        let mut state = PortalState::new(self.seed())
            .host_store(Arc::clone(&host.store))
            .budget_store(budgets);
        if !id.is_webhook() {
            let tokens = tokens.unwrap_or_else(|| self.backend.token_store(host_name, id));
            state = state.token_store(tokens);
            if let Some(app) = &self.oauth_app {
                state = state.oauth_app(Arc::clone(app));
            }
        }
        state
    }

    /// The state of `credential` on `portal`'s host (made on first use), held for one
    /// call.
    pub fn lease(&self, portal: &Portal, credential: &CredentialId, now: Timestamp) -> Lease {
        let mut table = self.lock();
        self.maybe_sweep(&mut table, now);
        let host_name = portal.host();
        // The hit path (every call after the first) hashes each key once.
        if let Some(entry) = table
            .hosts
            .get_mut(host_name)
            .and_then(|host| host.credentials.get_mut(credential))
        {
            entry.last_used = entry.last_used.max(now);
            return Lease {
                state: entry.state.clone(),
                _usage: Arc::clone(&entry.usage),
            };
        }
        let host = table
            .hosts
            .entry(host_name.to_owned())
            .or_insert_with(|| self.new_host(host_name));
        let state = self.state_for(host_name, host, credential, None);
        let usage = Arc::new(());
        let lease = Lease {
            state: state.clone(),
            _usage: Arc::clone(&usage),
        };
        host.credentials.insert(
            credential.clone(),
            CredentialEntry {
                state,
                pinned: false,
                last_used: now,
                usage,
            },
        );
        lease
    }

    /// Installs `state` for `credential`, kept until forgotten. Its host store
    /// becomes the host's and its budget store that of the credential's budget scope:
    /// every other credential of the host (of the scope) is switched to them at once;
    /// calls in flight finish with what they started with.
    pub fn register(
        &self,
        portal: &Portal,
        credential: &CredentialId,
        state: PortalState,
        now: Timestamp,
    ) {
        let mut table = self.lock();
        let host_name = portal.host();
        let host = table
            .hosts
            .entry(host_name.to_owned())
            .or_insert_with(|| HostEntry {
                store: Arc::clone(state.host()),
                pinned: true,
                budgets: HashMap::new(),
                credentials: HashMap::new(),
            });
        if !Arc::ptr_eq(&host.store, state.host()) {
            host.store = Arc::clone(state.host());
            host.pinned = true;
        }
        let scope = credential.budget_scope();
        host.budgets.insert(scope, Arc::clone(state.budgets()));
        share_host_parts(host);
        host.credentials.insert(
            credential.clone(),
            CredentialEntry {
                state,
                pinned: true,
                last_used: now,
                usage: Arc::new(()),
            },
        );
    }

    /// Installs a token store for the OAuth credential `credential`, kept until
    /// forgotten, with the host's shared parts.
    pub fn register_tokens(
        &self,
        portal: &Portal,
        credential: &CredentialId,
        store: Arc<dyn TokenStore>,
        now: Timestamp,
    ) {
        let mut table = self.lock();
        let host_name = portal.host();
        let host = table
            .hosts
            .entry(host_name.to_owned())
            .or_insert_with(|| self.new_host(host_name));
        let state = self.state_for(host_name, host, credential, Some(store));
        host.credentials.insert(
            credential.clone(),
            CredentialEntry {
                state,
                pinned: true,
                last_used: now,
                usage: Arc::new(()),
            },
        );
    }

    /// Forgets every credential of `portal`'s host, and its host store. True if it had
    /// any state.
    pub fn forget_host(&self, portal: &Portal) -> bool {
        self.lock().hosts.remove(portal.host()).is_some()
    }

    /// Forgets one credential of `portal`'s host (and the host, when nothing of its
    /// own is left). True if the credential had state.
    pub fn forget(&self, portal: &Portal, credential: &CredentialId) -> bool {
        let mut table = self.lock();
        let Some(host) = table.hosts.get_mut(portal.host()) else {
            return false;
        };
        let removed = host.credentials.remove(credential).is_some();
        if host.credentials.is_empty() && !host.pinned {
            table.hosts.remove(portal.host());
        }
        removed
    }

    /// How many portal hosts have state.
    pub fn host_count(&self) -> usize {
        self.lock().hosts.len()
    }

    /// How many credentials have state, over every host.
    pub fn credential_count(&self) -> usize {
        self.lock()
            .hosts
            .values()
            .map(|h| h.credentials.len())
            .sum()
    }

    /// Drops every entry idle at `now`; returns how many credential entries went.
    pub fn evict_idle(&self, now: Timestamp) -> usize {
        let mut table = self.lock();
        self.sweep(&mut table, now)
    }

    fn sweep_interval(&self) -> Duration {
        (self.idle / 4).clamp(Duration::from_millis(1), MAX_SWEEP_INTERVAL)
    }

    fn maybe_sweep(&self, table: &mut Table, now: Timestamp) {
        let due = table
            .last_sweep
            .is_none_or(|last| now.saturating_duration_since(last) >= self.sweep_interval());
        if due {
            self.sweep(table, now);
        }
    }

    fn sweep(&self, table: &mut Table, now: Timestamp) -> usize {
        table.last_sweep = Some(now);
        let idle = self.idle;
        let mut dropped = 0;
        table.hosts.retain(|_, host| {
            let before = host.credentials.len();
            host.credentials.retain(|_, entry| {
                entry.pinned
                    || entry.in_use()
                    || now.saturating_duration_since(entry.last_used) < idle
            });
            dropped += before - host.credentials.len();
            let scopes: Vec<BudgetScope> = host
                .credentials
                .keys()
                .map(CredentialId::budget_scope)
                .collect();
            host.budgets.retain(|scope, _| scopes.contains(scope));
            !host.credentials.is_empty() || host.pinned
        });
        dropped
    }
}

/// Points every credential of `host` at the host's store and its scope's budgets.
fn share_host_parts(host: &mut HostEntry) {
    for (credential, entry) in &mut host.credentials {
        let mut state = entry.state.clone();
        if !Arc::ptr_eq(state.host(), &host.store) {
            state = state.host_store(Arc::clone(&host.store));
        }
        if let Some(budgets) = host.budgets.get(&credential.budget_scope()) {
            if !Arc::ptr_eq(state.budgets(), budgets) {
                state = state.budget_store(Arc::clone(budgets));
            }
        }
        entry.state = state;
    }
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry")
            .field("backend", &self.backend)
            .field("bucket", &self.bucket)
            .field("hosts", &self.host_count())
            .field("oauth_app", &self.oauth_app)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;
