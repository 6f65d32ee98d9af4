//! The OAuth token pair of a portal user, with a generation counter.
//!
//! Every stored token pair carries a [`TokenGeneration`] that grows by one on each
//! replacement. An exchange remembers the generation of the token it sent; after a
//! 401 it asks the store for the turn to refresh *that generation*
//! ([`TokenStore::begin_refresh`](super::TokenStore::begin_refresh)): if the store has
//! moved on, someone already refreshed since this 401 and the call replays with the
//! newer token; if another caller holds the refresh lease, it waits; only the lease
//! holder sends a refresh request. The replacement is a compare-and-swap on the
//! generation ([`TokenStore::replace`](super::TokenStore::replace)), so a store shared
//! by several processes gives the same single-flight guarantee.

use std::fmt;

use b24_types::{AccessToken, RefreshToken, TokenResponse};

use super::Timestamp;

/// The version of a portal's stored token pair: grows by one on each replacement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct TokenGeneration(u64);

impl TokenGeneration {
    /// No token stored yet.
    pub const NONE: TokenGeneration = TokenGeneration(0);

    /// A generation from its number.
    pub const fn new(n: u64) -> Self {
        Self(n)
    }

    /// The number.
    pub const fn get(self) -> u64 {
        self.0
    }

    /// The generation after this one.
    pub const fn next(self) -> Self {
        Self(self.0.saturating_add(1))
    }
}

impl fmt::Display for TokenGeneration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// An access/refresh token pair and what is known about it. `Debug` never shows the
/// tokens.
#[derive(Debug, Clone)]
pub struct TokenSet {
    access: AccessToken,
    refresh: RefreshToken,
    expires_at: Option<Timestamp>,
    server_endpoint: Option<String>,
    generation: TokenGeneration,
}

impl TokenSet {
    /// A pair with nothing else known (generation [`TokenGeneration::NONE`] until a
    /// store assigns one).
    pub fn new(access: AccessToken, refresh: RefreshToken) -> Self {
        Self {
            access,
            refresh,
            expires_at: None,
            server_endpoint: None,
            generation: TokenGeneration::NONE,
        }
    }

    /// The pair from an OAuth answer received at `received_at`; the new refresh token
    /// replaces the old one.
    pub fn from_response(answer: TokenResponse, received_at: Timestamp) -> Self {
        let expires_at = answer
            .expires_at(i64::try_from(received_at.as_unix_secs()).unwrap_or(i64::MAX))
            .and_then(|s| u64::try_from(s).ok())
            .map(Timestamp::from_unix_secs);
        Self {
            access: answer.access_token,
            refresh: answer.refresh_token,
            expires_at,
            server_endpoint: answer.server_endpoint,
            generation: TokenGeneration::NONE,
        }
    }

    /// Sets when the access token expires.
    pub fn with_expiry(mut self, at: Timestamp) -> Self {
        self.expires_at = Some(at);
        self
    }

    /// Sets the OAuth server's REST base (`server_endpoint` of the last answer).
    pub fn with_server_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.server_endpoint = Some(endpoint.into());
        self
    }

    /// The access token.
    pub fn access_token(&self) -> &AccessToken {
        &self.access
    }

    /// The refresh token.
    pub fn refresh_token(&self) -> &RefreshToken {
        &self.refresh
    }

    /// When the access token expires, if known.
    pub fn expires_at(&self) -> Option<Timestamp> {
        self.expires_at
    }

    /// The OAuth server's REST base, if known.
    pub fn server_endpoint(&self) -> Option<&str> {
        self.server_endpoint.as_deref()
    }

    /// The generation.
    pub fn generation(&self) -> TokenGeneration {
        self.generation
    }

    /// The same pair with another generation (for store implementations).
    pub fn with_generation(mut self, generation: TokenGeneration) -> Self {
        self.generation = generation;
        self
    }
}

/// The store was replaced by someone else since the generation the caller saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the token store moved on to generation {current}")]
pub struct StaleGeneration {
    /// The generation the store holds now.
    pub current: TokenGeneration,
}
