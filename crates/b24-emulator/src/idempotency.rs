//! Stored answers of `Idempotency-Key` writes, and what "the same body" means.

use std::collections::HashMap;

use bytes::Bytes;
use serde_json::Value;

/// Whether a portal honours the `Idempotency-Key` header on REST 3.0 writes.
///
/// The server code the emulator follows has no key handling at all: the header is
/// ignored, a repeat runs again, nothing is echoed and a reused key is never refused.
/// The REST 3.0 documentation describes the header (replay of the stored answer with
/// `Idempotent-Replayed: true`, the key echoed, 422 for a key reused with another
/// body, 400 for a malformed key); [`IdempotencyKeys::Honoured`] selects that.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum IdempotencyKeys {
    /// The header is ignored, as the server code does (default).
    #[default]
    Ignored,
    /// The documented behaviour: replay, echo, 422 on reuse, 400 for a bad key.
    Honoured,
}

/// What a repeat's body is compared with when it reuses an `Idempotency-Key`.
///
/// The documentation says a repeat "with the same key and the same body" replays the
/// stored answer; whether the `auth` token in an OAuth body counts as part of "the
/// body" is not documented. A client that refreshes its token between two sends
/// changes that value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum IdempotencyBodyMatch {
    /// Compare the JSON bodies with the top-level `auth` key left out (default): a
    /// retry after a token refresh still replays.
    #[default]
    IgnoreAuth,
    /// Compare the bodies byte for byte, exactly as sent (`auth` included, key order
    /// and whitespace too): the strictest reading.
    Exact,
}

/// The part of a request that a repeat must match.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum RequestBody {
    /// The parsed body without `auth`.
    WithoutAuth(Value),
    /// The bytes as sent.
    Exact(Bytes),
}

impl RequestBody {
    pub(crate) fn new(how: IdempotencyBodyMatch, params: &Value, raw: &Bytes) -> Self {
        match how {
            IdempotencyBodyMatch::Exact => RequestBody::Exact(raw.clone()),
            IdempotencyBodyMatch::IgnoreAuth => {
                let mut p = params.clone();
                if let Value::Object(m) = &mut p {
                    m.remove("auth");
                }
                RequestBody::WithoutAuth(p)
            }
        }
    }
}

/// A stored idempotent answer.
#[derive(Debug, Clone)]
pub(crate) struct StoredAnswer {
    pub(crate) request: RequestBody,
    pub(crate) status: u16,
    pub(crate) body: Bytes,
    pub(crate) stored_at: f64,
}

/// (credential, user, method, key): the scope of one key.
pub(crate) type Scope = (String, u64, String, String);

/// Expired answers are swept at most once per this many seconds of emulator clock…
const PRUNE_EVERY: f64 = 60.0;
/// …unless the store grows past this many entries first.
const PRUNE_ABOVE: usize = 10_000;

/// Stored answers per scope. Expired answers are never replayed; they are removed in
/// sweeps, at most once a minute of emulator clock or when the store has doubled
/// since the last sweep (at least [`PRUNE_ABOVE`] entries), so a write costs O(1)
/// amortised instead of a pass over every stored answer.
#[derive(Debug)]
pub(crate) struct IdempotencyStore {
    answers: HashMap<Scope, StoredAnswer>,
    next_sweep_at: f64,
    sweep_above: usize,
    sweeps: u64,
}

impl Default for IdempotencyStore {
    fn default() -> Self {
        Self {
            answers: HashMap::new(),
            next_sweep_at: f64::NEG_INFINITY,
            sweep_above: PRUNE_ABOVE,
            sweeps: 0,
        }
    }
}

impl IdempotencyStore {
    /// The live answer stored for a scope, sweeping expired ones when it is time.
    pub(crate) fn get(&mut self, scope: &Scope, now: f64, ttl: f64) -> Option<&StoredAnswer> {
        self.maybe_sweep(now, ttl);
        self.answers
            .get(scope)
            .filter(|s| is_live(s.stored_at, ttl, now))
    }

    /// Stores an answer (replacing an expired one under the same scope).
    pub(crate) fn insert(&mut self, scope: Scope, answer: StoredAnswer) {
        self.answers.insert(scope, answer);
    }

    fn maybe_sweep(&mut self, now: f64, ttl: f64) {
        // A clock set back by more than a minute, or reading NaN, sweeps too.
        let due =
            now >= self.next_sweep_at || now < self.next_sweep_at - PRUNE_EVERY || now.is_nan();
        if !due && self.answers.len() < self.sweep_above {
            return;
        }
        self.answers.retain(|_, s| is_live(s.stored_at, ttl, now));
        self.next_sweep_at = now + PRUNE_EVERY;
        self.sweep_above = self.answers.len().saturating_mul(2).max(PRUNE_ABOVE);
        self.sweeps += 1;
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.answers.len()
    }
}

fn is_live(stored_at: f64, ttl: f64, now: f64) -> bool {
    stored_at + ttl > now
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(at: f64) -> StoredAnswer {
        StoredAnswer {
            request: RequestBody::Exact(Bytes::new()),
            status: 200,
            body: Bytes::new(),
            stored_at: at,
        }
    }

    fn scope(i: usize) -> Scope {
        ("hook".to_owned(), 1, "m".to_owned(), i.to_string())
    }

    #[test]
    fn expired_answers_are_never_returned_and_swept_once_a_minute() {
        let mut s = IdempotencyStore::default();
        assert!(s.get(&scope(0), 0.0, 10.0).is_none());
        assert_eq!(s.sweeps, 1);
        s.insert(scope(0), answer(0.0));
        assert!(s.get(&scope(0), 5.0, 10.0).is_some());
        // Expired at 10 s: not returned, though the sweep waits for the minute.
        for t in 1..60 {
            assert!(s.get(&scope(0), 10.0 + f64::from(t) / 2.0, 10.0).is_none());
        }
        assert_eq!(s.sweeps, 1);
        assert_eq!(s.len(), 1);
        assert!(s.get(&scope(0), 60.0, 10.0).is_none());
        assert_eq!(s.sweeps, 2);
        assert_eq!(s.len(), 0);
    }

    #[test]
    fn many_writes_in_a_minute_sweep_only_when_the_store_doubles() {
        let mut s = IdempotencyStore::default();
        let n = 3 * PRUNE_ABOVE;
        for i in 0..n {
            let _ = s.get(&scope(i), 1.0, 86_400.0);
            s.insert(scope(i), answer(1.0));
        }
        assert_eq!(s.len(), n);
        // The first lookup, then at 10,000 and 20,000 entries.
        assert_eq!(s.sweeps, 3);
    }

    #[test]
    fn a_clock_moved_back_sweeps_again() {
        let mut s = IdempotencyStore::default();
        let _ = s.get(&scope(0), 1_000.0, 10.0);
        s.insert(scope(0), answer(900.0));
        let _ = s.get(&scope(0), 1_001.0, 10.0);
        assert_eq!(s.sweeps, 1);
        // Set back by more than a minute: the next sweep is not a minute away.
        let _ = s.get(&scope(0), 100.0, 10.0);
        assert_eq!(s.sweeps, 2);
    }

    #[test]
    fn the_body_comparison_follows_the_setting() {
        let a: Value = serde_json::json!({"fields":{"text":"x"},"auth":"one"});
        let b: Value = serde_json::json!({"fields":{"text":"x"},"auth":"two"});
        let ra = Bytes::from(a.to_string());
        let rb = Bytes::from(b.to_string());
        let how = IdempotencyBodyMatch::IgnoreAuth;
        assert_eq!(
            RequestBody::new(how, &a, &ra),
            RequestBody::new(how, &b, &rb)
        );
        let how = IdempotencyBodyMatch::Exact;
        assert_ne!(
            RequestBody::new(how, &a, &ra),
            RequestBody::new(how, &b, &rb)
        );
        assert_eq!(
            RequestBody::new(how, &a, &ra),
            RequestBody::new(how, &a, &ra)
        );
    }
}
