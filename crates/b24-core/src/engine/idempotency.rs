//! Idempotency keys for REST 3.0 writes, generated without touching the OS.
//!
//! Every logical REST 3.0 write (a [`Repeat::Unsafe`](crate::Repeat::Unsafe) method
//! on [`Api::V3`](crate::Api::V3): `add`, `addfromchatmessage`, `update`, `delete`)
//! gets one key when its [`Exchange`](super::Exchange) is created, and sends it on
//! every attempt. The portal stores a successful answer for 24 hours and replays it
//! for a repeat with the same key and body (`Idempotent-Replayed: true`), which is
//! what makes retrying such a write after a timeout safe. A user may supply their own
//! key instead (to make a write idempotent across process restarts, say).
//!
//! key generator turns a 128-bit seed from the caller into a stream of distinct
//! 32-character lower-case hex keys. The adapter seeds it with OS randomness once;
//! tests seed it with constants. It also hands each exchange a jitter seed, so that
//! concurrent calls do not back off in lockstep.

use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};

use super::backoff::{mix64, GOLDEN_GAMMA};
use crate::idempotency_key::IdempotencyKey;

/// A thread-safe source of idempotency keys and jitter seeds.
///
/// Keys from one generator never repeat (the counter behind them runs through all
/// 2^64 values before it wraps); keys from generators with independent random seeds
/// collide with negligible probability (128 random bits).
#[derive(Debug)]
pub(crate) struct KeyGenerator {
    seed_hi: u64,
    seed_lo: u64,
    counter: AtomicU64,
}

impl KeyGenerator {
    /// A generator from a 128-bit seed. The adapter passes OS randomness; tests pass
    /// constants.
    pub(crate) fn new(seed: u128) -> Self {
        #[allow(clippy::cast_possible_truncation)]
        let (hi, lo) = ((seed >> 64) as u64, seed as u64);
        Self {
            seed_hi: hi,
            seed_lo: lo,
            counter: AtomicU64::new(0),
        }
    }

    fn next_pair(&self) -> (u64, u64) {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let step = n.wrapping_mul(GOLDEN_GAMMA);
        (
            mix64(self.seed_hi.wrapping_add(step)),
            mix64(self.seed_lo ^ mix64(step.wrapping_add(GOLDEN_GAMMA))),
        )
    }

    /// A fresh key: 32 lower-case hex characters.
    pub(crate) fn next_key(&self) -> IdempotencyKey {
        let (a, b) = self.next_pair();
        IdempotencyKey::from_u64_pair(a, b)
    }

    /// A fresh 64-bit seed for an exchange's backoff jitter.
    pub(crate) fn next_seed(&self) -> u64 {
        let (a, b) = self.next_pair();
        a ^ b.rotate_left(17)
    }
}

/// What the answers of a portal showed about `Idempotency-Key`.
///
/// Keys are documented but not verified: the server source the API notes were taken
/// from has no trace of them, and older self-hosted portals may not know them. A key
/// the portal ignores protects nothing, so the engine watches for evidence. The
/// documentation says the answer to a keyed request echoes its `Idempotency-Key`
/// header; each [`PortalState`](super::PortalState) records what the answers to keyed
/// writes showed:
///
/// - [`KeySupport::Unknown`] until such an answer is seen;
/// - [`KeySupport::Supported`] once an answer (any status) echoes the key sent, or
///   the portal refuses a key as reused (only a portal that keeps keys can);
/// - [`KeySupport::Unsupported`] once a 2xx answer lacks the echo.
///
/// The latest evidence wins (an echo of another value is none), and each change is
/// reported as [`Event::KeySupportChanged`](super::Event::KeySupportChanged). Keys
/// are always sent, but a key counts as protection only once the portal has shown
/// that it honours keys (`Supported`): the server code of some portal versions has no
/// key handling at all, so until then a write that may have run is not repeated, as
/// if it had no key, and ends with
/// [`Error::WriteOutcomeUnknown`](crate::Error::WriteOutcomeUnknown) unless the
/// caller can check (see `b24-hyper`'s reconciling `add_from_chat_message_in_task`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum KeySupport {
    /// No answer to a keyed write seen yet: keys are trusted as documented.
    #[default]
    Unknown,
    /// An answer echoed the key sent: the portal honours keys.
    Supported,
    /// A successful answer to a keyed write did not echo the key: the portal ignores
    /// keys, and a key no longer protects a repeat.
    Unsupported,
}

impl KeySupport {
    /// Whether a key counts as protection against a duplicate write: only once the
    /// portal has shown that it honours keys.
    pub fn protects(self) -> bool {
        self == KeySupport::Supported
    }

    fn to_u8(self) -> u8 {
        match self {
            KeySupport::Unknown => 0,
            KeySupport::Supported => 1,
            KeySupport::Unsupported => 2,
        }
    }

    fn from_u8(n: u8) -> Self {
        match n {
            1 => KeySupport::Supported,
            2 => KeySupport::Unsupported,
            _ => KeySupport::Unknown,
        }
    }
}

/// A [`KeySupport`] shared by every call to a portal.
#[derive(Debug, Default)]
pub(crate) struct KeySupportCell(AtomicU8);

impl KeySupportCell {
    pub(crate) fn new(initial: KeySupport) -> Self {
        Self(AtomicU8::new(initial.to_u8()))
    }

    pub(crate) fn get(&self) -> KeySupport {
        KeySupport::from_u8(self.0.load(Ordering::Relaxed))
    }

    /// Sets the state; returns the previous one when it changed.
    pub(crate) fn set(&self, to: KeySupport) -> Option<KeySupport> {
        let from = KeySupport::from_u8(self.0.swap(to.to_u8(), Ordering::Relaxed));
        (from != to).then_some(from)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_hex_distinct_and_deterministic() {
        let g = KeyGenerator::new(0x0123_4567_89ab_cdef_0011_2233_4455_6677);
        let mut seen = std::collections::HashSet::new();
        for _ in 0..10_000 {
            let k = g.next_key();
            assert!(IdempotencyKey::new(k.as_str()).is_ok());
            assert_eq!(k.as_str().len(), 32);
            assert!(k
                .as_str()
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
            assert!(seen.insert(k.as_str().to_owned()));
        }
        let a = KeyGenerator::new(5).next_key();
        let b = KeyGenerator::new(5).next_key();
        let c = KeyGenerator::new(6).next_key();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }
}
