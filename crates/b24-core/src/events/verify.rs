//! Checking that a delivery came from the portal: its `auth[application_token]`
//! against the token stored for its `auth[member_id]`.
//!
//! There is no signature and no HMAC: the token in the body is the only secret a
//! delivery carries. An OAuth app learns it from `ONAPPINSTALL`; an outgoing webhook
//! shows it in its settings. The comparison is constant-time, and a portal with no
//! stored token fails closed.

use std::collections::HashMap;
use std::fmt;
use std::sync::{PoisonError, RwLock};

use b24_types::events::{names, MemberId};
use b24_types::ApplicationToken;

use super::delivery::Delivery;

/// Where application tokens are kept, one per portal (`member_id`).
///
/// The calls are synchronous: keep the tokens in memory (load them from your
/// database at start and write through on change), or wrap a store that answers
/// without waiting.
pub trait ApplicationTokens: Send + Sync + fmt::Debug {
    /// The token stored for a portal.
    fn get(&self, member_id: &MemberId) -> Option<ApplicationToken>;
    /// Stores a portal's token, replacing any other.
    fn insert(&self, member_id: MemberId, token: ApplicationToken);
    /// Forgets a portal's token; true when there was one.
    fn remove(&self, member_id: &MemberId) -> bool;
}

/// [`ApplicationTokens`] in a map behind a lock.
#[derive(Default)]
pub struct MemoryApplicationTokens {
    tokens: RwLock<HashMap<MemberId, ApplicationToken>>,
}

impl MemoryApplicationTokens {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// A store holding one portal's token.
    pub fn with(member_id: MemberId, token: ApplicationToken) -> Self {
        let store = Self::new();
        store.insert(member_id, token);
        store
    }

    /// How many portals have a token.
    pub fn len(&self) -> usize {
        self.tokens
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// True when no portal has a token.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl fmt::Debug for MemoryApplicationTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryApplicationTokens")
            .field("portals", &self.len())
            .finish()
    }
}

impl ApplicationTokens for MemoryApplicationTokens {
    fn get(&self, member_id: &MemberId) -> Option<ApplicationToken> {
        self.tokens
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(member_id)
            .cloned()
    }

    fn insert(&self, member_id: MemberId, token: ApplicationToken) {
        self.tokens
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(member_id, token);
    }

    fn remove(&self, member_id: &MemberId) -> bool {
        self.tokens
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(member_id)
            .is_some()
    }
}

/// What to do with an `ONAPPINSTALL` for a portal that has no stored token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum InstallPolicy {
    /// Refuse it like any other delivery from an unknown portal (the default). Store
    /// tokens yourself, e.g. from your install page.
    #[default]
    Refuse,
    /// Accept it and store its token (trust on first use). Anyone who can reach the
    /// handler URL before the real install can then claim that portal: use it only
    /// where the install is expected.
    TrustFirstInstall,
}

/// A delivery that passed [`Verifier::verify`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Verified {
    /// The token matched the stored one.
    Matched,
    /// An `ONAPPINSTALL` under [`InstallPolicy::TrustFirstInstall`]: its token is
    /// now stored.
    Installed,
    /// An `ONAPPUNINSTALL` whose token matched: the stored token was removed, so
    /// later deliveries for the portal are refused.
    Uninstalled,
}

/// Why a delivery was refused. Never holds a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The delivery has no `auth[member_id]`.
    #[error("the delivery names no portal (no auth[member_id])")]
    MissingMemberId,
    /// The delivery has no `auth[application_token]`.
    #[error("the delivery carries no application token")]
    MissingToken,
    /// No token is stored for the portal: refused (fail closed).
    #[error("no application token is stored for portal {member_id}")]
    UnknownPortal {
        /// The portal named by the delivery.
        member_id: MemberId,
    },
    /// The token differs from the stored one.
    #[error("the application token does not match the one stored for portal {member_id}")]
    Mismatch {
        /// The portal named by the delivery.
        member_id: MemberId,
    },
}

/// Checks deliveries against stored application tokens.
#[derive(Debug)]
pub struct Verifier<S> {
    store: S,
    install: InstallPolicy,
}

impl<S: ApplicationTokens> Verifier<S> {
    /// A verifier over `store` that refuses unknown portals, installs included.
    pub fn new(store: S) -> Self {
        Self {
            store,
            install: InstallPolicy::Refuse,
        }
    }

    /// Sets what happens to an `ONAPPINSTALL` from a portal with no stored token.
    pub fn install_policy(mut self, policy: InstallPolicy) -> Self {
        self.install = policy;
        self
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Checks a delivery's application token in constant time against the one
    /// stored for its portal.
    ///
    /// An `ONAPPINSTALL` from a portal with no stored token is refused, or stored
    /// under [`InstallPolicy::TrustFirstInstall`]; one from a portal with a stored
    /// token must match it. A matching `ONAPPUNINSTALL` removes the stored token.
    ///
    /// # Errors
    ///
    /// [`VerifyError`]: no member id, no token, no stored token (fail closed), or a
    /// token that differs.
    pub fn verify(&self, delivery: &Delivery) -> Result<Verified, VerifyError> {
        let member_id = delivery.member_id().ok_or(VerifyError::MissingMemberId)?;
        let token = delivery
            .application_token()
            .filter(|t| !t.is_empty())
            .ok_or(VerifyError::MissingToken)?;
        let Some(stored) = self.store.get(member_id).filter(|t| !t.is_empty()) else {
            if delivery.event == names::ON_APP_INSTALL
                && self.install == InstallPolicy::TrustFirstInstall
            {
                self.store.insert(member_id.clone(), token.clone());
                return Ok(Verified::Installed);
            }
            return Err(VerifyError::UnknownPortal {
                member_id: member_id.clone(),
            });
        };
        if !stored.ct_eq(token) {
            return Err(VerifyError::Mismatch {
                member_id: member_id.clone(),
            });
        }
        if delivery.event == names::ON_APP_UNINSTALL || delivery.event == "ONAPPSUNINSTALL" {
            self.store.remove(member_id);
            return Ok(Verified::Uninstalled);
        }
        Ok(Verified::Matched)
    }
}

impl<T: ApplicationTokens + ?Sized> ApplicationTokens for std::sync::Arc<T> {
    fn get(&self, member_id: &MemberId) -> Option<ApplicationToken> {
        (**self).get(member_id)
    }
    fn insert(&self, member_id: MemberId, token: ApplicationToken) {
        (**self).insert(member_id, token);
    }
    fn remove(&self, member_id: &MemberId) -> bool {
        (**self).remove(member_id)
    }
}
