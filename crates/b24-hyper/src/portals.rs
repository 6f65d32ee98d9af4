//! The shared state of every portal a client calls: one host entry per portal host,
//! holding the request-rate limiter, and inside it one entry per credential (webhook
//! or OAuth user), holding the operating budgets and the token store.
//!
//! Scopes follow the platform's ([`crate::credential`]): the bucket is per portal (and
//! source IP), so every credential of a host shares the host's limiter; the operating
//! budgets are per webhook, or per app for OAuth users, who share the host's app
//! budget store; token pairs are per user.
//!
//! Entries made on first use are dropped once unused for the client's idle timeout
//! ([`ClientBuilder::idle_portal_timeout`](crate::ClientBuilder::idle_portal_timeout)),
//! lazily: a sweep of the whole map runs at most every quarter of that timeout (and at
//! least every minute), piggy-backed on the next call that looks an entry up. An entry
//! in use by a call is never dropped (the call holds a reference to it), nor one the
//! caller installed with a `register_*` method: those stay until forgotten.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use b24_core::engine::{
    BucketConfig, BudgetConfig, BudgetStore, MemoryBudgetStore, MemoryRateLimiter, PortalState,
    RateLimiter, TokenStore,
};
use b24_core::Portal;

use crate::credential::{BudgetScope, CredentialId};
use crate::tls;

/// The longest pause between two sweeps for idle entries.
const MAX_SWEEP_INTERVAL: Duration = Duration::from_secs(60);

/// One credential's shared state and refresh lock.
#[derive(Debug)]
pub(crate) struct CredentialEntry {
    pub(crate) state: PortalState,
    /// Held while a token refresh of this credential is planned and sent, so that any
    /// number of concurrent 401s lead to one refresh. Carried over when the entry is
    /// rebuilt around a new limiter.
    pub(crate) refresh: Arc<tokio::sync::Mutex<()>>,
    /// Installed by the caller: never dropped for being idle.
    pinned: bool,
    /// Milliseconds since the map's epoch at which a call last took or returned the
    /// entry. Shared with the entry's rebuilt versions, so that its reference count
    /// above one means a call is running with some version of the entry.
    last_used: Arc<AtomicU64>,
}

impl CredentialEntry {
    /// True while a call holds this entry or an earlier version of it (each lease
    /// holds a reference to the usage clock).
    fn in_use(&self) -> bool {
        Arc::strong_count(&self.last_used) > 1
    }
}

/// A call's hold on a credential entry: keeps it from being dropped while the call
/// runs, and marks it used when the call ends.
#[derive(Debug)]
pub(crate) struct Lease<'a> {
    entry: Arc<CredentialEntry>,
    /// The entry's usage clock, held apart so that it counts this call.
    usage: Arc<AtomicU64>,
    portals: &'a Portals,
}

impl std::ops::Deref for Lease<'_> {
    type Target = CredentialEntry;
    fn deref(&self) -> &CredentialEntry {
        &self.entry
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        self.usage.store(self.portals.now_ms(), Ordering::Relaxed);
    }
}

/// The state every credential of one portal host shares.
#[derive(Debug)]
struct HostEntry {
    limiter: Arc<dyn RateLimiter>,
    /// The limiter was installed by the caller: keep the host while it is idle.
    limiter_pinned: bool,
    /// The operating budgets of the client's OAuth app on this portal, made when the
    /// first OAuth user needs them.
    app_budgets: Option<Arc<dyn BudgetStore>>,
    credentials: HashMap<CredentialId, Arc<CredentialEntry>>,
}

#[derive(Debug)]
struct Hosts {
    hosts: HashMap<String, HostEntry>,
    /// Milliseconds since the epoch of the last sweep.
    last_sweep: u64,
}

/// The map of portal host to host entry.
#[derive(Debug)]
pub(crate) struct Portals {
    map: Mutex<Hosts>,
    bucket: BucketConfig,
    budget: BudgetConfig,
    idle_ms: u64,
    sweep_ms: u64,
    epoch: Instant,
}

impl Portals {
    pub(crate) fn new(bucket: BucketConfig, budget: BudgetConfig, idle: Duration) -> Self {
        let idle_ms = u64::try_from(idle.as_millis()).unwrap_or(u64::MAX).max(1);
        let sweep_ms = (idle_ms / 4).clamp(1, MAX_SWEEP_INTERVAL.as_millis() as u64);
        Self {
            map: Mutex::new(Hosts {
                hosts: HashMap::new(),
                last_sweep: 0,
            }),
            bucket,
            budget,
            idle_ms,
            sweep_ms,
            epoch: Instant::now(),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn lock(&self) -> MutexGuard<'_, Hosts> {
        self.map.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A fresh state with the client's defaults and a random seed.
    pub(crate) fn default_state(&self) -> PortalState {
        PortalState::new(tls::random_seed())
            .bucket(self.bucket)
            .budget(self.budget)
    }

    fn new_host(&self) -> HostEntry {
        HostEntry {
            limiter: Arc::new(MemoryRateLimiter::new(self.bucket)),
            limiter_pinned: false,
            app_budgets: None,
            credentials: HashMap::new(),
        }
    }

    /// A state for `credential` on `host` with the host's shared parts: its limiter
    /// and, for OAuth users, the app's budgets.
    fn state_for(&self, host: &mut HostEntry, credential: &CredentialId) -> PortalState {
        let budgets: Arc<dyn BudgetStore> = match credential.budget_scope() {
            BudgetScope::Webhook { .. } => Arc::new(MemoryBudgetStore::new(self.budget)),
            BudgetScope::App => Arc::clone(
                host.app_budgets
                    .get_or_insert_with(|| Arc::new(MemoryBudgetStore::new(self.budget))),
            ),
        };
        PortalState::new(tls::random_seed())
            .rate_limiter(Arc::clone(&host.limiter))
            .budget_store(budgets)
    }

    fn entry(&self, state: PortalState, pinned: bool, now: u64) -> Arc<CredentialEntry> {
        Arc::new(CredentialEntry {
            state,
            refresh: Arc::new(tokio::sync::Mutex::new(())),
            pinned,
            last_used: Arc::new(AtomicU64::new(now)),
        })
    }

    /// The entry of `credential` on `portal`'s host, made with the defaults on first
    /// use, held for one call.
    pub(crate) fn lease(&self, portal: &Portal, credential: &CredentialId) -> Lease<'_> {
        let now = self.now_ms();
        let mut map = self.lock();
        self.maybe_sweep(&mut map, now);
        let host = map
            .hosts
            .entry(portal.host().to_owned())
            .or_insert_with(|| self.new_host());
        let entry = match host.credentials.get(credential) {
            Some(entry) => Arc::clone(entry),
            None => {
                let state = self.state_for(host, credential);
                let entry = self.entry(state, false, now);
                host.credentials
                    .insert(credential.clone(), Arc::clone(&entry));
                entry
            }
        };
        entry.last_used.store(now, Ordering::Relaxed);
        Lease {
            usage: Arc::clone(&entry.last_used),
            entry,
            portals: self,
        }
    }

    /// Installs `state` for `credential`, pinned. Its limiter becomes the host's and,
    /// for an OAuth user, its budget store the app's: every other credential of the
    /// host is switched to them (calls in flight finish with what they started with).
    pub(crate) fn register(&self, portal: &Portal, credential: &CredentialId, state: PortalState) {
        let now = self.now_ms();
        let mut map = self.lock();
        let host = map
            .hosts
            .entry(portal.host().to_owned())
            .or_insert_with(|| self.new_host());
        let mut changed = false;
        if !Arc::ptr_eq(&host.limiter, state.limiter()) {
            host.limiter = Arc::clone(state.limiter());
            host.limiter_pinned = true;
            changed = true;
        }
        if credential.budget_scope() == BudgetScope::App
            && !host
                .app_budgets
                .as_ref()
                .is_some_and(|b| Arc::ptr_eq(b, state.budgets()))
        {
            host.app_budgets = Some(Arc::clone(state.budgets()));
            changed = true;
        }
        if changed {
            share_host_parts(host);
        }
        let entry = self.entry(state, true, now);
        host.credentials.insert(credential.clone(), entry);
    }

    /// Installs a token store for the OAuth user `credential`, pinned, with the
    /// host's limiter and the app's budgets.
    pub(crate) fn register_tokens(
        &self,
        portal: &Portal,
        credential: &CredentialId,
        store: Arc<dyn TokenStore>,
    ) {
        let now = self.now_ms();
        let mut map = self.lock();
        let host = map
            .hosts
            .entry(portal.host().to_owned())
            .or_insert_with(|| self.new_host());
        let state = self.state_for(host, credential).token_store(store);
        let entry = self.entry(state, true, now);
        host.credentials.insert(credential.clone(), entry);
    }

    /// Forgets every credential of `portal`'s host. True if it had any state.
    pub(crate) fn remove_host(&self, portal: &Portal) -> bool {
        self.lock().hosts.remove(portal.host()).is_some()
    }

    /// Forgets one credential of `portal`'s host (and the host, when nothing of its
    /// own is left). True if the credential had state.
    pub(crate) fn remove(&self, portal: &Portal, credential: &CredentialId) -> bool {
        let mut map = self.lock();
        let Some(host) = map.hosts.get_mut(portal.host()) else {
            return false;
        };
        let removed = host.credentials.remove(credential).is_some();
        if host.credentials.is_empty() && !host.limiter_pinned {
            map.hosts.remove(portal.host());
        }
        removed
    }

    /// How many portal hosts have state.
    pub(crate) fn host_count(&self) -> usize {
        self.lock().hosts.len()
    }

    /// How many credentials have state, over every host.
    pub(crate) fn credential_count(&self) -> usize {
        self.lock()
            .hosts
            .values()
            .map(|h| h.credentials.len())
            .sum()
    }

    /// Drops every idle entry now; returns how many credential entries went.
    pub(crate) fn sweep_now(&self) -> usize {
        let now = self.now_ms();
        let mut map = self.lock();
        self.sweep(&mut map, now)
    }

    fn maybe_sweep(&self, map: &mut Hosts, now: u64) {
        if now.saturating_sub(map.last_sweep) >= self.sweep_ms {
            self.sweep(map, now);
        }
    }

    fn sweep(&self, map: &mut Hosts, now: u64) -> usize {
        map.last_sweep = now;
        let idle_ms = self.idle_ms;
        let mut dropped = 0;
        map.hosts.retain(|_, host| {
            let before = host.credentials.len();
            host.credentials.retain(|_, entry| {
                entry.pinned
                    || entry.in_use()
                    || now.saturating_sub(entry.last_used.load(Ordering::Relaxed)) < idle_ms
            });
            dropped += before - host.credentials.len();
            !host.credentials.is_empty() || host.limiter_pinned
        });
        dropped
    }
}

/// Points every credential of `host` at the host's limiter and, for OAuth users, at
/// the app's budgets.
fn share_host_parts(host: &mut HostEntry) {
    for (credential, entry) in &mut host.credentials {
        let mut state = entry.state.clone();
        let mut changed = false;
        if !Arc::ptr_eq(state.limiter(), &host.limiter) {
            state = state.rate_limiter(Arc::clone(&host.limiter));
            changed = true;
        }
        if let (BudgetScope::App, Some(app)) = (credential.budget_scope(), &host.app_budgets) {
            if !Arc::ptr_eq(state.budgets(), app) {
                state = state.budget_store(Arc::clone(app));
                changed = true;
            }
        }
        if changed {
            *entry = Arc::new(CredentialEntry {
                state,
                refresh: Arc::clone(&entry.refresh),
                pinned: entry.pinned,
                last_used: Arc::clone(&entry.last_used),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::mem::size_of;

    use b24_core::engine::{LeakyBucket, MethodBudget};

    use super::*;
    use crate::credential::OAuthUser;

    fn portals(idle: Duration) -> Portals {
        Portals::new(BucketConfig::standard(), BudgetConfig::default(), idle)
    }

    fn webhook(user: u64, secret: &str) -> (Portal, CredentialId) {
        let portal = Portal::webhook(&format!("https://p.example/rest/{user}/{secret}/")).unwrap();
        let id = CredentialId::of(&portal, None);
        (portal, id)
    }

    #[test]
    fn credentials_of_one_host_share_the_limiter_only() {
        let p = portals(Duration::from_secs(60));
        let (a, a_id) = webhook(1, "aaaaaaaaaaaaaaaa");
        let (b, b_id) = webhook(1, "bbbbbbbbbbbbbbbb");
        let sa = p.lease(&a, &a_id).state.clone();
        let sb = p.lease(&b, &b_id).state.clone();
        assert!(Arc::ptr_eq(sa.limiter(), sb.limiter()));
        assert!(!Arc::ptr_eq(sa.budgets(), sb.budgets()));
        assert_eq!(p.host_count(), 1);
        assert_eq!(p.credential_count(), 2);

        // OAuth users of the app share the budgets, not the tokens.
        let o = Portal::oauth("https://p.example").unwrap();
        let u1 = CredentialId::of(&o, Some(&OAuthUser::new("1").unwrap()));
        let u2 = CredentialId::of(&o, Some(&OAuthUser::new("2").unwrap()));
        let s1 = p.lease(&o, &u1).state.clone();
        let s2 = p.lease(&o, &u2).state.clone();
        assert!(Arc::ptr_eq(s1.budgets(), s2.budgets()));
        assert!(Arc::ptr_eq(s1.limiter(), sa.limiter()));
        assert!(!Arc::ptr_eq(s1.budgets(), sa.budgets()));
    }

    #[test]
    fn a_registered_limiter_is_shared_by_every_credential_of_the_host() {
        let p = portals(Duration::from_secs(60));
        let (a, a_id) = webhook(1, "aaaaaaaaaaaaaaaa");
        let (b, b_id) = webhook(2, "bbbbbbbbbbbbbbbb");
        let before = p.lease(&b, &b_id).state.clone();
        let state = p.default_state().bucket(BucketConfig::enterprise());
        let limiter = Arc::clone(state.limiter());
        p.register(&a, &a_id, state);
        let after = p.lease(&b, &b_id).state.clone();
        assert!(Arc::ptr_eq(after.limiter(), &limiter));
        assert!(!Arc::ptr_eq(before.limiter(), &limiter));
        // b's budgets were kept.
        assert!(Arc::ptr_eq(after.budgets(), before.budgets()));
    }

    #[test]
    fn idle_entries_go_but_not_pinned_or_leased_ones() {
        let p = portals(Duration::from_millis(30));
        let (a, a_id) = webhook(1, "aaaaaaaaaaaaaaaa");
        let (b, b_id) = webhook(2, "bbbbbbbbbbbbbbbb");
        let (c, c_id) = webhook(3, "cccccccccccccccc");
        drop(p.lease(&a, &a_id));
        let held = p.lease(&b, &b_id);
        p.register(&c, &c_id, p.default_state());
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(p.sweep_now(), 1, "only the idle, unheld, unregistered one");
        assert_eq!(p.credential_count(), 2);
        drop(held);
        // Just returned: not idle yet.
        assert_eq!(p.sweep_now(), 0);
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(p.sweep_now(), 1);
        assert_eq!(
            p.host_count(),
            1,
            "the registered credential keeps the host"
        );
        assert!(p.remove(&c, &c_id));
        assert_eq!(p.host_count(), 1, "its limiter was installed by the caller");
        assert!(p.remove_host(&c));
        assert_eq!(p.host_count(), 0);
    }

    #[test]
    fn a_sweep_rides_on_lookups() {
        let p = portals(Duration::from_millis(20));
        for n in 1..=50u64 {
            let portal =
                Portal::webhook(&format!("https://p{n}.example/rest/1/secretsecret/")).unwrap();
            drop(p.lease(&portal, &CredentialId::of(&portal, None)));
        }
        assert_eq!(p.host_count(), 50);
        std::thread::sleep(Duration::from_millis(40));
        let (a, a_id) = webhook(1, "aaaaaaaaaaaaaaaa");
        drop(p.lease(&a, &a_id));
        assert_eq!(p.host_count(), 1, "the lookup swept the 50 idle hosts");
    }

    /// The sizes behind the footprint figure in the crate docs.
    #[test]
    fn footprint_parts() {
        let parts = [
            ("HostEntry", size_of::<HostEntry>()),
            ("CredentialId", size_of::<CredentialId>()),
            ("CredentialEntry", size_of::<CredentialEntry>()),
            ("PortalState", size_of::<PortalState>()),
            ("MemoryRateLimiter", size_of::<MemoryRateLimiter>()),
            ("LeakyBucket", size_of::<LeakyBucket>()),
            ("MemoryBudgetStore", size_of::<MemoryBudgetStore>()),
            ("MethodBudget", size_of::<MethodBudget>()),
            ("tokio Mutex<()>", size_of::<tokio::sync::Mutex<()>>()),
        ];
        for (name, size) in parts {
            println!("{name}: {size} bytes");
            assert!(size <= 256, "{name} grew to {size} bytes");
        }
    }
}
