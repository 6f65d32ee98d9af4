//! Credentials: webhooks, OAuth access/refresh tokens and authorization codes.

use std::collections::HashMap;

/// Refresh tokens live 180 days.
pub(crate) const REFRESH_TTL: f64 = 180.0 * 86_400.0;
/// Authorization codes live 30 seconds.
pub(crate) const CODE_TTL: f64 = 30.0;

#[derive(Debug, Clone)]
pub(crate) struct Grant {
    pub(crate) user: u64,
    pub(crate) expires_at: f64,
}

/// The tokens of one portal.
#[derive(Debug, Default)]
pub(crate) struct TokenStore {
    pub(crate) access: HashMap<String, Grant>,
    pub(crate) refresh: HashMap<String, Grant>,
    pub(crate) codes: HashMap<String, Grant>,
}

impl TokenStore {
    /// Issues a new access/refresh pair for `user`.
    pub(crate) fn issue(&mut self, user: u64, now: f64, access_ttl: f64) -> (String, String) {
        let access = crate::random::token(32);
        let refresh = crate::random::token(32);
        self.access.insert(
            access.clone(),
            Grant {
                user,
                expires_at: now + access_ttl,
            },
        );
        self.refresh.insert(
            refresh.clone(),
            Grant {
                user,
                expires_at: now + REFRESH_TTL,
            },
        );
        (access, refresh)
    }
}

/// Who is calling, as far as limits and idempotency care.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Caller {
    /// The user the call acts for.
    pub(crate) user: u64,
    /// The app or webhook: the scope of operating budgets and idempotency keys.
    pub(crate) credential: String,
}

/// Why a call could not be authorised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AuthFailure {
    /// No credentials, a wrong webhook secret or an unknown token.
    Wrong,
    /// An access token that has expired.
    Expired,
}
