//! Observable decisions: what an exchange did and why, for logs and metrics.
//!
//! Events hold no secret and no URI (webhook URLs carry their secret in the path):
//! only attempt numbers, durations, reasons, classes and generations.

use std::time::Duration;

use super::classify::OutcomeClass;
use super::idempotency::KeySupport;
use super::policy::{RetryReason, StopReason};
use super::store::StoreErrorKind;
use super::token::TokenGeneration;
use super::Timestamp;

/// Why an exchange asked the adapter to wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WaitReason {
    /// For a slot in the portal's request-rate bucket.
    RateLimit,
    /// For the method's operating-time budget: calls are being spread out.
    BudgetSpread,
    /// For the method's operating-time budget to reset (held before sending, or
    /// after a 429).
    BudgetReset,
    /// Backing off before a retry.
    Backoff(RetryReason),
    /// Before repeating a write protected only by its idempotency key, after an
    /// attempt that may still be running on the portal
    /// ([`RetryPolicy::in_flight_grace`](super::RetryPolicy::in_flight_grace)).
    InFlightGrace,
    /// For another caller (in this process or another) to finish refreshing the token
    /// pair.
    TokenRefresh,
}

/// One observable step of an exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// An attempt was handed to the adapter.
    AttemptStarted {
        /// The attempt number (1 for the first).
        attempt: u32,
        /// Whether it carries an `Idempotency-Key`.
        idempotency_key: bool,
        /// The generation of the access token it carries (OAuth only).
        token: Option<TokenGeneration>,
    },
    /// An attempt ended with an answer or a transport failure.
    AttemptEnded {
        /// The attempt number.
        attempt: u32,
        /// The HTTP status, when there was an answer.
        status: Option<u16>,
        /// How it was classified.
        class: OutcomeClass,
    },
    /// The exchange asked the adapter to wait.
    Waiting {
        /// Why.
        reason: WaitReason,
        /// Until when.
        until: Timestamp,
        /// For how long, from the moment of the decision.
        duration: Duration,
    },
    /// The exchange will send the call again.
    Retrying {
        /// The attempt that will follow (2 for the first retry).
        next_attempt: u32,
        /// Why.
        reason: RetryReason,
    },
    /// The exchange asked for a fresh access token.
    RefreshRequested {
        /// The refused generation.
        stale: TokenGeneration,
    },
    /// The adapter handed back a fresh access token.
    TokenRefreshed {
        /// The generation to replay with.
        generation: TokenGeneration,
    },
    /// The method's operating-time figures, as the reply reported them.
    OperatingReported {
        /// `time.operating` in milliseconds.
        operating_ms: u64,
        /// `time.operating_reset_at`.
        reset_at: Option<Timestamp>,
    },
    /// An answer changed what is known about the portal's `Idempotency-Key` support
    /// (shared by every call to the portal).
    KeySupportChanged {
        /// What was known before.
        from: KeySupport,
        /// What the answer showed.
        to: KeySupport,
    },
    /// A write to a shared-state store failed; the call went on (the portal repeats
    /// what it said on its next answer).
    StoreWriteFailed {
        /// How it failed.
        kind: StoreErrorKind,
    },
    /// The exchange ended.
    Finished {
        /// Why.
        reason: StopReason,
        /// Attempts made.
        attempts: u32,
        /// Whether the answer was a stored replay (`Idempotent-Replayed: true`).
        replayed: bool,
    },
}
