//! Credential identities: which app or webhook, and which user, a call runs as.
//!
//! See [`CredentialId`] for the scopes and the reasoning.

use std::fmt;
use std::sync::Arc;

use crate::{InputError, Portal};
use b24_types::UserId;

/// The longest [`OAuthUser`] label accepted.
pub const MAX_OAUTH_USER_LEN: usize = 128;

/// Which OAuth user of a portal a call runs as: a label chosen by the caller, unique
/// per portal (the Bitrix24 user id, `member_id` plus user id, an account key).
///
/// It must hold no secret: it appears in `Debug` output and in [`CredentialId`].
/// Cheap to clone.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct OAuthUser(Arc<str>);

impl OAuthUser {
    /// A user label: 1 to [`MAX_OAUTH_USER_LEN`] visible ASCII characters.
    ///
    /// # Errors
    ///
    /// [`InputError::Param`] (`oauth_user`) for an empty, too long or non-visible
    /// label. The message does not repeat the label.
    pub fn new(label: impl AsRef<str>) -> Result<Self, InputError> {
        let label = label.as_ref();
        if label.is_empty() || label.len() > MAX_OAUTH_USER_LEN {
            return Err(InputError::param(
                "oauth_user",
                format!("the label must have 1 to {MAX_OAUTH_USER_LEN} characters"),
            ));
        }
        if !label.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(InputError::param(
                "oauth_user",
                "the label must be visible ASCII without spaces",
            ));
        }
        Ok(Self(Arc::from(label)))
    }

    /// The label of a Bitrix24 user id (`user:67`), for apps that key tokens by the
    /// portal's user id.
    pub fn from_user_id(user: UserId) -> Self {
        Self(Arc::from(format!("user:{user}")))
    }

    /// The label.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for OAuthUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("OAuthUser").field(&&*self.0).finish()
    }
}

impl fmt::Display for OAuthUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The secret-free identity of the credential a call runs as.
///
/// Bitrix24 keeps three kinds of state per caller, with three different scopes:
///
/// | state | the platform keys it by | the client keys it by |
/// |---|---|---|
/// | request-rate bucket | portal and source IP | portal host |
/// | operating-time budget | method, and app **or** webhook | host + the credential's budget scope |
/// | OAuth token pair | app and user | host + credential |
///
/// A [`CredentialId`] names the credential without holding a secret, so it may be
/// logged, shown in `Debug` output and used as a key in a store shared between
/// processes:
///
/// - **Webhook**: the webhook's user id plus a fingerprint of its secret. The user id
///   alone is ambiguous: one user may create several incoming webhooks on a portal
///   (with different scopes), and the portal counts each one's operating time apart.
///   The fingerprint is the first 64 bits of SHA-256 of the secret. SHA-256 cannot be run
///   backwards, and a 16-character secret has about 82 bits of entropy, so the 64
///   bits shown leave some 2^18 candidate secrets per fingerprint and no way to find
///   them short of hashing the whole space. It is stable across processes and
///   versions (no per-process salt), so a shared store can key by it. Two webhooks of
///   one user collide with probability 2^-64; a collision would only make them share
///   one budget view, the cautious side.
/// - **OAuth**: the app is the client's ([`Registry::oauth_app`](super::Registry::oauth_app),
///   one per client), and the user is an [`OAuthUser`] label chosen by the caller
///   (the portal's user id, an account key): a [`Portal`] built from an OAuth address
///   does not say whose token a call carries. Calls through an adapter's per-user
///   handle (`b24_hyper::Client::as_oauth_user`) run as that user; other calls run as
///   the default user. Every OAuth user of a portal shares the app's
///   operating budgets (the platform counts per app) and has a token store of its own.
///
/// `Display` gives a stable text form, `webhook:1:9f86d081884c7d65` or
/// `oauth:user:67` (`oauth` alone for the default user), fit as part of a key in a
/// store shared by several processes.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct CredentialId(Kind);

#[derive(Clone, PartialEq, Eq, Hash)]
enum Kind {
    Webhook { user: UserId, fingerprint: u64 },
    OAuth { user: Option<OAuthUser> },
}

/// Which operating-time budget a credential draws on: the platform counts per
/// webhook, and per app for OAuth (whatever the user).
///
/// `Display` gives a stable, secret-free text (`webhook:1:9f86d081884c7d65`, `app`),
/// fit as part of a key in a store shared by several processes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BudgetScope {
    /// One webhook's budget.
    Webhook {
        /// The webhook's user.
        user: UserId,
        /// The fingerprint of its secret (see [`CredentialId`]).
        fingerprint: u64,
    },
    /// The OAuth application's budget, shared by all its users.
    App,
}

impl fmt::Display for BudgetScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BudgetScope::Webhook { user, fingerprint } => {
                write!(f, "webhook:{user}:{fingerprint:016x}")
            }
            BudgetScope::App => f.write_str("app"),
        }
    }
}

impl CredentialId {
    /// The identity a call to `portal` runs as: the webhook's, or for an OAuth portal
    /// the given user's (`None`: the default user).
    pub fn of(portal: &Portal, oauth_user: Option<&OAuthUser>) -> Self {
        match portal.user_id() {
            Some(user) if portal.is_webhook() => Self(Kind::Webhook {
                user,
                fingerprint: portal.webhook_fingerprint().unwrap_or(0),
            }),
            _ => Self(Kind::OAuth {
                user: oauth_user.cloned(),
            }),
        }
    }

    /// True for a webhook credential.
    pub fn is_webhook(&self) -> bool {
        matches!(self.0, Kind::Webhook { .. })
    }

    /// The webhook's user id, for a webhook credential.
    pub fn webhook_user(&self) -> Option<UserId> {
        match &self.0 {
            Kind::Webhook { user, .. } => Some(*user),
            Kind::OAuth { .. } => None,
        }
    }

    /// The fingerprint of the webhook's secret (the first 64 bits of its SHA-256),
    /// for a webhook credential.
    pub fn webhook_fingerprint(&self) -> Option<u64> {
        match &self.0 {
            Kind::Webhook { fingerprint, .. } => Some(*fingerprint),
            Kind::OAuth { .. } => None,
        }
    }

    /// The OAuth user, for an OAuth credential of a named user (`None` for webhooks
    /// and the default user).
    pub fn oauth_user(&self) -> Option<&OAuthUser> {
        match &self.0 {
            Kind::OAuth { user } => user.as_ref(),
            Kind::Webhook { .. } => None,
        }
    }

    /// The budget this credential's calls draw on.
    pub fn budget_scope(&self) -> BudgetScope {
        match &self.0 {
            Kind::Webhook { user, fingerprint } => BudgetScope::Webhook {
                user: *user,
                fingerprint: *fingerprint,
            },
            Kind::OAuth { .. } => BudgetScope::App,
        }
    }
}

impl fmt::Display for CredentialId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Kind::Webhook { user, fingerprint } => write!(f, "webhook:{user}:{fingerprint:016x}"),
            Kind::OAuth { user: Some(user) } => write!(f, "oauth:{user}"),
            Kind::OAuth { user: None } => f.write_str("oauth"),
        }
    }
}

impl fmt::Debug for CredentialId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CredentialId({self})")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn webhook(url: &str) -> CredentialId {
        CredentialId::of(&Portal::webhook(url).unwrap(), None)
    }

    #[test]
    fn webhook_ids_tell_secrets_and_users_apart_and_hold_no_secret() {
        let a = webhook("https://p.example/rest/1/secretaaaaaaaaaa/");
        let a_again = webhook("https://p.example/rest/api/1/secretaaaaaaaaaa/profile");
        let b = webhook("https://p.example/rest/1/secretbbbbbbbbbb/");
        let c = webhook("https://p.example/rest/2/secretaaaaaaaaaa/");
        assert_eq!(a, a_again, "same webhook, however the URL was pasted");
        assert_ne!(a, b, "two webhooks of one user");
        assert_ne!(a, c, "same secret text, other user");
        assert_eq!(a.webhook_user().unwrap().get(), 1);
        for id in [&a, &b, &c] {
            let text = format!("{id} {id:?}");
            assert!(!text.contains("secret"), "{text}");
        }
        // SHA-256("secretaaaaaaaaaa"), first 8 bytes: stable across processes.
        assert_eq!(a.webhook_fingerprint().unwrap(), 0xf32a_fd22_5299_87a4);
        assert!(a.to_string().starts_with("webhook:1:"));
    }

    #[test]
    fn oauth_ids_are_per_user_label() {
        let portal = Portal::oauth("https://p.example").unwrap();
        let alice = OAuthUser::new("alice").unwrap();
        let a = CredentialId::of(&portal, Some(&alice));
        let d = CredentialId::of(&portal, None);
        assert_ne!(a, d);
        assert_eq!(a.to_string(), "oauth:alice");
        assert_eq!(d.to_string(), "oauth");
        assert_eq!(a.budget_scope(), d.budget_scope(), "one app, one budget");
        assert_eq!(
            OAuthUser::from_user_id(UserId::new(67).unwrap()).as_str(),
            "user:67"
        );
        assert!(OAuthUser::new("").is_err());
        assert!(OAuthUser::new("two words").is_err());
        assert!(OAuthUser::new("x".repeat(MAX_OAUTH_USER_LEN + 1)).is_err());
    }
}
