//! The OAuth token pair of a portal, with a generation counter, behind a store trait.
//!
//! Every stored token pair carries a [`TokenGeneration`] that grows by one on each
//! replacement. An exchange remembers the generation of the token it sent; after a
//! 401 it asks for a refresh *of that generation*. The adapter, holding the refresh
//! lock of this token pair (one per store, that is per credential), compares: if the store has moved on, someone already
//! refreshed since this 401 and the call simply replays with the newer token; only if
//! the store still holds the stale generation does it send a refresh request. The
//! replacement is a compare-and-swap on the generation ([`TokenStore::replace`]), so
//! a store shared by several processes can offer the same single-flight guarantee.

use std::fmt;
use std::sync::{Mutex, PoisonError};

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
    pub fn expires_at(mut self, at: Timestamp) -> Self {
        self.expires_at = Some(at);
        self
    }

    /// Sets the OAuth server's REST base (`server_endpoint` of the last answer).
    pub fn server_endpoint(mut self, endpoint: impl Into<String>) -> Self {
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
    pub fn get_expires_at(&self) -> Option<Timestamp> {
        self.expires_at
    }

    /// The OAuth server's REST base, if known.
    pub fn get_server_endpoint(&self) -> Option<&str> {
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

/// Where a portal's token pair lives; shared by every call to the portal.
///
/// The in-memory default is [`MemoryTokenStore`]. A store shared by several processes
/// must make [`replace`](TokenStore::replace) a compare-and-swap on the generation.
pub trait TokenStore: Send + Sync + fmt::Debug {
    /// The current pair, with its generation; `None` when nothing is stored.
    fn current(&self) -> Option<TokenSet>;

    /// Stores `fresh` as generation `seen.next()` if the store still holds `seen`
    /// ([`TokenGeneration::NONE`] for an empty store), and returns what was stored.
    ///
    /// # Errors
    ///
    /// [`StaleGeneration`] when the store holds another generation: someone else
    /// replaced the pair first, and nothing was stored.
    fn replace(&self, seen: TokenGeneration, fresh: TokenSet) -> Result<TokenSet, StaleGeneration>;
}

/// An in-process [`TokenStore`] behind a mutex.
#[derive(Debug, Default)]
pub struct MemoryTokenStore {
    inner: Mutex<Option<TokenSet>>,
}

impl MemoryTokenStore {
    /// An empty store.
    pub fn empty() -> Self {
        Self::default()
    }

    /// A store holding `tokens` as generation 1.
    pub fn new(tokens: TokenSet) -> Self {
        Self {
            inner: Mutex::new(Some(tokens.with_generation(TokenGeneration::new(1)))),
        }
    }
}

impl TokenStore for MemoryTokenStore {
    fn current(&self) -> Option<TokenSet> {
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn replace(&self, seen: TokenGeneration, fresh: TokenSet) -> Result<TokenSet, StaleGeneration> {
        let mut guard = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let current = guard
            .as_ref()
            .map_or(TokenGeneration::NONE, TokenSet::generation);
        if current != seen {
            return Err(StaleGeneration { current });
        }
        let stored = fresh.with_generation(seen.next());
        *guard = Some(stored.clone());
        Ok(stored)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replace_is_compare_and_swap() {
        let store = MemoryTokenStore::new(TokenSet::new(
            AccessToken::new("a1"),
            RefreshToken::new("r1"),
        ));
        let g1 = store.current().map(|t| t.generation());
        assert_eq!(g1, Some(TokenGeneration::new(1)));
        let fresh = TokenSet::new(AccessToken::new("a2"), RefreshToken::new("r2"));
        let stored = store.replace(TokenGeneration::new(1), fresh.clone());
        assert_eq!(stored.map(|t| t.generation()), Ok(TokenGeneration::new(2)));
        assert_eq!(
            store
                .replace(TokenGeneration::new(1), fresh)
                .map(|t| t.generation()),
            Err(StaleGeneration {
                current: TokenGeneration::new(2)
            })
        );
        let current = store.current();
        assert_eq!(
            current.as_ref().map(|t| t.access_token().expose_secret()),
            Some("a2")
        );
        let debug = format!("{current:?}");
        assert!(!debug.contains("a2") && !debug.contains("r2"), "{debug}");
    }
}
