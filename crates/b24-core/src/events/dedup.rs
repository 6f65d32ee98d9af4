//! A small, bounded filter for repeated deliveries.
//!
//! The portal never retries a delivery, but one may still arrive twice (the same
//! handler bound twice, an offline batch read again after a crash). Acting twice on
//! a message can make two results of it, so a handler remembers what it has seen:
//! by event name and message id, for a while, in bounded memory, with `now` passed
//! in.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::time::Duration;

use b24_types::events::{names, EventPayload};
use b24_types::MessageId;

use crate::engine::Timestamp;

/// What makes two deliveries "the same": the event name and the id of the thing it
/// is about (a chat message, for the events that name one).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DedupKey {
    event: String,
    id: String,
}

impl DedupKey {
    /// A key for any event and id.
    pub fn new(event: impl Into<String>, id: impl fmt::Display) -> Self {
        Self {
            event: event.into().to_ascii_uppercase(),
            id: id.to_string(),
        }
    }

    /// A key for an event about a chat message.
    pub fn message(event: &str, message: MessageId) -> Self {
        Self::new(event, message)
    }

    /// The key of a payload that names a chat message: `ONTASKCOMMENTADD` of the new
    /// task card (its `MESSAGE_ID`) and `ONIMBOTMESSAGEADD` (`PARAMS[MESSAGE_ID]`).
    /// `None` for other events, whose repeats are not told apart from new events by
    /// their data alone (one task is updated many times).
    pub fn for_payload(payload: &EventPayload) -> Option<Self> {
        match payload {
            EventPayload::TaskCommentAdd(c) => c
                .message_id()
                .map(|m| Self::message(names::ON_TASK_COMMENT_ADD, m)),
            EventPayload::BotMessageAdd(b) => b
                .params
                .message_id
                .map(|m| Self::message(names::ON_IMBOT_MESSAGE_ADD, m)),
            _ => None,
        }
    }

    /// The event name.
    pub fn event(&self) -> &str {
        &self.event
    }

    /// The id.
    pub fn id(&self) -> &str {
        &self.id
    }
}

/// Remembers keys for `ttl`, at most `capacity` of them (the oldest go first).
///
/// ```
/// use std::time::Duration;
/// use b24_core::engine::Timestamp;
/// use b24_core::events::{DedupKey, DuplicateFilter};
///
/// let mut seen = DuplicateFilter::new(1000, Duration::from_secs(3600));
/// let now = Timestamp::from_unix_secs(1_777_530_300);
/// let key = DedupKey::new("ONTASKCOMMENTADD", 34239);
/// assert!(seen.first_seen(key.clone(), now));
/// assert!(!seen.first_seen(key, now));
/// ```
#[derive(Debug, Clone)]
pub struct DuplicateFilter {
    capacity: usize,
    ttl: Duration,
    seen: HashMap<DedupKey, Timestamp>,
    order: VecDeque<(DedupKey, Timestamp)>,
}

impl DuplicateFilter {
    /// A filter remembering up to `capacity` keys (at least 1) for `ttl` each.
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        let capacity = capacity.max(1);
        Self {
            capacity,
            ttl,
            seen: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    /// True when `key` was not seen within the last `ttl` (and remembers it now);
    /// false for a repeat.
    pub fn first_seen(&mut self, key: DedupKey, now: Timestamp) -> bool {
        self.expire(now);
        if self.seen.contains_key(&key) {
            return false;
        }
        self.seen.insert(key.clone(), now);
        self.order.push_back((key, now));
        while self.order.len() > self.capacity {
            self.pop_oldest();
        }
        true
    }

    /// True when `key` is remembered (and not expired at `now`).
    pub fn contains(&self, key: &DedupKey, now: Timestamp) -> bool {
        self.seen
            .get(key)
            .is_some_and(|at| now.saturating_duration_since(*at) < self.ttl)
    }

    /// Forgets a key, so that its next delivery counts as new (after handling it
    /// failed, say). True when it was remembered.
    pub fn forget(&mut self, key: &DedupKey) -> bool {
        self.seen.remove(key).is_some()
    }

    /// How many keys are remembered.
    pub fn len(&self) -> usize {
        self.seen.len()
    }

    /// True when nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }

    fn expire(&mut self, now: Timestamp) {
        while let Some((_, at)) = self.order.front() {
            if now.saturating_duration_since(*at) < self.ttl {
                break;
            }
            self.pop_oldest();
        }
    }

    fn pop_oldest(&mut self) {
        if let Some((key, at)) = self.order.pop_front() {
            // A forgotten and re-seen key has a newer entry further back: keep it.
            if self.seen.get(&key) == Some(&at) {
                self.seen.remove(&key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(secs: u64) -> Timestamp {
        Timestamp::from_unix_secs(secs)
    }

    #[test]
    fn remembers_for_the_ttl_within_the_capacity() {
        let mut f = DuplicateFilter::new(2, Duration::from_secs(10));
        let a = DedupKey::new("ontaskcommentadd", 1);
        let b = DedupKey::new("ONTASKCOMMENTADD", 2);
        let c = DedupKey::new("ONTASKCOMMENTADD", 3);
        assert!(f.first_seen(a.clone(), t(100)));
        assert!(!f.first_seen(a.clone(), t(105)));
        assert!(f.first_seen(b.clone(), t(106)));
        assert!(f.first_seen(c, t(107)));
        // Capacity 2: `a` went first.
        assert_eq!(f.len(), 2);
        assert!(f.first_seen(a.clone(), t(108)));
        // Expiry.
        assert!(!f.contains(&b, t(116)));
        assert!(f.first_seen(b.clone(), t(116)));
        assert!(f.forget(&b));
        assert!(f.first_seen(b, t(117)));
        assert!(f.len() <= 2);
    }

    #[test]
    fn forgetting_and_reseeing_never_grows_past_the_capacity() {
        let mut f = DuplicateFilter::new(3, Duration::from_secs(1000));
        let k = DedupKey::new("E", 1);
        for i in 0..100 {
            assert!(f.first_seen(k.clone(), t(i)));
            f.forget(&k);
        }
        assert!(f.order.len() <= 3 && f.seen.len() <= 3);
    }
}
