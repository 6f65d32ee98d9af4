//! The per-portal shared state: one entry per portal host, made on first use.
//!
//! Each entry holds the core's [`PortalState`] (request-rate limiter, per-method
//! operating budgets, OAuth token store, idempotency key generator) and the portal's
//! refresh lock. Entries are independent: one portal's full bucket, spent budget or
//! expired token never holds up another. An entry costs a few small allocations, so a
//! process can serve thousands of portals through one pool.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use b24_core::engine::{BucketConfig, BudgetConfig, PortalState};
use b24_core::Portal;

use crate::tls;

/// One portal's shared state and refresh lock.
#[derive(Debug)]
pub(crate) struct PortalEntry {
    pub(crate) state: PortalState,
    /// Held while a token refresh of this portal is planned and sent, so that any
    /// number of concurrent 401s lead to one refresh.
    pub(crate) refresh: tokio::sync::Mutex<()>,
}

/// The map of portal host to entry.
#[derive(Debug)]
pub(crate) struct Portals {
    map: Mutex<HashMap<String, Arc<PortalEntry>>>,
    bucket: BucketConfig,
    budget: BudgetConfig,
}

impl Portals {
    pub(crate) fn new(bucket: BucketConfig, budget: BudgetConfig) -> Self {
        Self {
            map: Mutex::new(HashMap::new()),
            bucket,
            budget,
        }
    }

    /// A fresh state with the client's defaults and a random seed.
    pub(crate) fn default_state(&self) -> PortalState {
        PortalState::new(tls::random_seed())
            .bucket(self.bucket)
            .budget(self.budget)
    }

    /// The entry of `portal`, made with the defaults on first use.
    pub(crate) fn entry(&self, portal: &Portal) -> Arc<PortalEntry> {
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(entry) = map.get(portal.host()) {
            return Arc::clone(entry);
        }
        let entry = Arc::new(PortalEntry {
            state: self.default_state(),
            refresh: tokio::sync::Mutex::new(()),
        });
        map.insert(portal.host().to_owned(), Arc::clone(&entry));
        entry
    }

    /// Installs `state` for `portal`, replacing any earlier entry (calls in flight
    /// finish with the state they started with).
    pub(crate) fn insert(&self, portal: &Portal, state: PortalState) {
        let entry = Arc::new(PortalEntry {
            state,
            refresh: tokio::sync::Mutex::new(()),
        });
        self.map
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(portal.host().to_owned(), entry);
    }

    /// Forgets `portal`'s state; the next call starts afresh with the defaults.
    pub(crate) fn remove(&self, portal: &Portal) -> bool {
        self.map
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(portal.host())
            .is_some()
    }

    /// How many portals have state.
    pub(crate) fn len(&self) -> usize {
        self.map
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}
