//! What an exchange asks of its adapter ([`Action`]), and the options it is made with.

use std::fmt;
use std::ops::Deref;
use std::time::Duration;

use bytes::Bytes;

use super::super::event::WaitReason;
use super::super::policy::RetryPolicy;
use super::super::store::StoreTask;
use super::super::Timestamp;
use crate::error::Error;
use crate::idempotency_key::IdempotencyKey;
use crate::reply::Reply;

/// What the adapter must do next.
#[non_exhaustive]
pub enum Action<T> {
    /// Send this request, within its deadline, and hand the answer to
    /// [`Exchange::handle_response`](super::Exchange::handle_response), or the failure
    /// to [`Exchange::handle_transport_error`](super::Exchange::handle_transport_error).
    /// Any rate-limiter slot is already granted. **The URI may hold a webhook secret,
    /// and a token refresh's body the client secret: never log either.**
    Send(Outgoing),
    /// Sleep until `until`, then poll again.
    Wait {
        /// When to poll again.
        until: Timestamp,
        /// Why (for logs and metrics).
        reason: WaitReason,
    },
    /// Await this store operation (it does the store's IO) and hand its output to
    /// [`Exchange::handle_store`](super::Exchange::handle_store).
    Store(StoreTask),
    /// The call is over.
    Done(Result<Reply<T>, Error>),
}

impl<T> fmt::Debug for Action<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Send(out) => f.debug_tuple("Send").field(out).finish(),
            Action::Wait { until, reason } => f
                .debug_struct("Wait")
                .field("until", until)
                .field("reason", reason)
                .finish(),
            Action::Store(task) => f.debug_tuple("Store").field(task).finish(),
            Action::Done(Ok(_)) => f.write_str("Done(Ok(..))"),
            Action::Done(Err(e)) => f.debug_tuple("Done").field(&Err::<(), _>(e)).finish(),
        }
    }
}

/// What a request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Purpose {
    /// An attempt of the call itself.
    Call,
    /// A token refresh at the OAuth server (the body holds secrets).
    TokenRefresh,
}

/// A request to send, with the deadline it must be answered by.
///
/// The deadline is the engine's: the call's overall deadline, or for a token refresh
/// the end of the refresh lease if sooner. The adapter cuts its attempt at it (or at
/// its own per-attempt timeout, if shorter) and keeps no second clock. `Debug` shows
/// neither the URI nor the body.
pub struct Outgoing {
    request: http::Request<Bytes>,
    deadline: Option<Timestamp>,
    purpose: Purpose,
}

impl Outgoing {
    pub(crate) fn new(
        request: http::Request<Bytes>,
        deadline: Option<Timestamp>,
        purpose: Purpose,
    ) -> Self {
        Self {
            request,
            deadline,
            purpose,
        }
    }

    /// The request. **Never log its URI or body.**
    pub fn request(&self) -> &http::Request<Bytes> {
        &self.request
    }

    /// The request, to send.
    pub fn into_request(self) -> http::Request<Bytes> {
        self.request
    }

    /// When the answer must have arrived, if there is a deadline.
    pub fn deadline(&self) -> Option<Timestamp> {
        self.deadline
    }

    /// The time left until the deadline at `now` (zero once past), if there is one.
    pub fn time_left(&self, now: Timestamp) -> Option<Duration> {
        self.deadline.map(|d| d.saturating_duration_since(now))
    }

    /// What the request is for.
    pub fn purpose(&self) -> Purpose {
        self.purpose
    }
}

impl Deref for Outgoing {
    type Target = http::Request<Bytes>;

    fn deref(&self) -> &http::Request<Bytes> {
        &self.request
    }
}

impl fmt::Debug for Outgoing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Outgoing")
            .field("method", self.request.method())
            .field("body_len", &self.request.body().len())
            .field("deadline", &self.deadline)
            .field("purpose", &self.purpose)
            .finish()
    }
}

/// Whether and which `Idempotency-Key` an exchange sends.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyMode {
    /// Generate one for methods that honour keys
    /// ([`Method::honours_idempotency_key`](crate::Method::honours_idempotency_key):
    /// by default REST 3.0 writes, not the REST 3.0 `batch`); none otherwise.
    Auto,
    /// Send none (writes are then never repeated once they may have run).
    Off,
    /// Send this one (only for methods that honour keys; refused for the others).
    Key(IdempotencyKey),
}

/// Per-call options of an [`Exchange`](super::Exchange).
#[derive(Debug, Clone)]
#[must_use]
pub struct ExchangeOptions {
    pub(super) policy: RetryPolicy,
    pub(super) key: KeyMode,
    pub(super) user_agent: Option<UserAgent>,
}

/// A `User-Agent` to check when the exchange is made, or one already checked.
#[derive(Debug, Clone)]
pub(super) enum UserAgent {
    Text(String),
    Checked(http::HeaderValue),
}

impl Default for ExchangeOptions {
    fn default() -> Self {
        Self {
            policy: RetryPolicy::default(),
            key: KeyMode::Auto,
            user_agent: None,
        }
    }
}

impl ExchangeOptions {
    /// The default policy, automatic idempotency keys, the default user agent.
    pub fn new() -> Self {
        Self::default()
    }

    /// The retry policy.
    pub fn policy(mut self, policy: RetryPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Sends this `Idempotency-Key` on every attempt (methods that honour keys only;
    /// [`Exchange::with_options`](super::Exchange::with_options) refuses it for the
    /// others).
    pub fn idempotency_key(mut self, key: IdempotencyKey) -> Self {
        self.key = KeyMode::Key(key);
        self
    }

    /// Sends no `Idempotency-Key`, not even a generated one.
    pub fn without_idempotency_key(mut self) -> Self {
        self.key = KeyMode::Off;
        self
    }

    /// Sets the key mode.
    pub fn key_mode(mut self, mode: KeyMode) -> Self {
        self.key = mode;
        self
    }

    /// The `User-Agent` header value.
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = Some(UserAgent::Text(user_agent.into()));
        self
    }

    /// The `User-Agent` header value, already checked with
    /// [`user_agent_value`](crate::user_agent_value) (an adapter does it once, when it
    /// is built, instead of on every call).
    pub fn user_agent_value(mut self, user_agent: http::HeaderValue) -> Self {
        self.user_agent = Some(UserAgent::Checked(user_agent));
        self
    }
}

/// How long until `until`, from `now` (zero if it has passed). A convenience for
/// adapters turning [`Action::Wait`] into a sleep.
pub fn wait_duration(now: Timestamp, until: Timestamp) -> Duration {
    until.saturating_duration_since(now)
}
