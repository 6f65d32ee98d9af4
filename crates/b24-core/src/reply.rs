//! A successful call's outcome.

use b24_types::Time;

/// A successful reply: the typed result plus what the envelope and headers said.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Reply<T> {
    /// The method's result.
    pub result: T,
    /// The `time` object, when sent.
    pub time: Option<Time>,
    /// True when the server answered `Idempotent-Replayed: true`: this is the stored
    /// answer to an earlier call with the same idempotency key, not a new execution.
    pub replayed: bool,
}

impl<T> Reply<T> {
    /// Makes a reply.
    pub fn new(result: T, time: Option<Time>, replayed: bool) -> Self {
        Self {
            result,
            time,
            replayed,
        }
    }

    /// Maps the result, keeping the rest.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Reply<U> {
        Reply {
            result: f(self.result),
            time: self.time,
            replayed: self.replayed,
        }
    }
}
