//! The call engine: rate limits, operating-time budgets, retries that never
//! duplicate a write, idempotency keys and token refresh, without IO.
//!
//! The engine decides; the adapter (b24-hyper, or any transport) only moves bytes,
//! sleeps and refreshes tokens when told to. Nothing here opens a socket, sleeps or
//! reads the clock: every method that needs the time takes `now: `[`Timestamp`]
//! (wall-clock milliseconds, see [`Timestamp`] for why).
//!
//! # Contents
//!
//! - [Driving an exchange](#driving-an-exchange): the adapter's contract.
//! - [The policy](#the-policy): what is retried, waited for or stopped, and why.
//! - [Shared state](#shared-state): limiter, budgets and tokens behind traits.
//! - [Observability](#observability): events.
//!
//! # Driving an exchange
//!
//! One [`Exchange`] drives one logical call. The adapter loops:
//!
//! 1. `exchange.poll(now)` returns an [`Action`]:
//!    - [`Action::Send`]`(outgoing)`: send [`Outgoing::request`] and have the answer by
//!      [`Outgoing::deadline`] (within the adapter's own per-attempt timeout, if
//!      shorter); hand the answer to [`Exchange::handle_response`] or the failure to
//!      [`Exchange::handle_transport_error`], saying with [`SentState`] whether the
//!      request may have reached the server (connect failed or refused before writing:
//!      [`SentState::NotSent`]; a timeout after writing began, a reset while awaiting
//!      the answer, a truncated body: [`SentState::MaybeSent`]). A token refresh is a
//!      send like any other ([`Purpose::TokenRefresh`]; its body holds secrets);
//!    - [`Action::Wait`]`{ until, reason }`: sleep until `until` ([`wait_duration`]
//!      gives the duration), then poll again;
//!    - [`Action::Store`]`(task)`: await the task (it does a shared store's IO: a Redis
//!      round trip, say) and hand its output to [`Exchange::handle_store`]; a blocking
//!      transport runs it with [`StoreTask::wait`]. In-memory stores answer in place,
//!      so a process without a shared store never sees this action;
//!    - [`Action::Done`]`(result)`: the call is over.
//! 2. After each step, [`Exchange::poll_event`] drains the [`Event`]s for logs and
//!    metrics.
//!
//! The connection pool, per-attempt timeouts and body-size caps are the adapter's;
//! the overall deadline and the attempt budget are the engine's
//! ([`RetryPolicy::deadline`], [`RetryPolicy::max_attempts`]). An adapter that retries,
//! parses an error body or computes a wait itself is wrong.
//!
//! A complete loop, with canned answers standing in for the network (a
//! `QUERY_LIMIT_EXCEEDED` first, then success):
//!
//! ```
//! use std::collections::VecDeque;
//! use b24_core::bytes::Bytes;
//! use b24_core::engine::{Action, Exchange, PortalState, RetryReason, Timestamp, WaitReason};
//! use b24_core::methods::TaskResultAddFromChatMessage;
//! use b24_core::types::MessageId;
//! use b24_core::{http, Portal};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let portal = Portal::webhook("https://example.bitrix24.com/rest/1/webhookcode/")?;
//! // One per credential, shared by its calls (a Registry hands them out); seed with
//! // OS randomness in production.
//! let state = PortalState::new(0x5eed);
//! let method = TaskResultAddFromChatMessage::new(MessageId::new(335)?);
//! let mut exchange = Exchange::new(&portal, method, &state)?;
//!
//! let mut answers = VecDeque::from([
//!     (503, r#"{"error":"QUERY_LIMIT_EXCEEDED","error_description":"Too many requests"}"#),
//!     (200, r#"{"result":{"item":{"id":18,"taskId":51,"text":"Done","authorId":1,
//!         "createdAt":"2026-04-30T10:25:00+02:00","updatedAt":null,"status":"open",
//!         "fileIds":[],"rights":{"edit":true,"remove":true},"messageId":335}},
//!         "time":{"operating":0.1,"operating_reset_at":1777530900}}"#),
//! ]);
//! let mut keys = Vec::new();
//! let mut waits = Vec::new();
//! let mut now = Timestamp::from_unix_secs(1_777_530_000); // the adapter: SystemTime::now()
//! let reply = loop {
//!     match exchange.poll(now) {
//!         Action::Send(outgoing) => {
//!             keys.push(outgoing.headers()["idempotency-key"].clone());
//!             // The adapter sends `outgoing.into_request()` here; we answer from the script.
//!             let (status, body) = answers.pop_front().expect("scripted");
//!             let response = http::Response::builder()
//!                 .status(status)
//!                 .body(Bytes::from(body))?;
//!             exchange.handle_response(response, now);
//!         }
//!         Action::Wait { until, reason } => {
//!             waits.push(reason);
//!             now = until; // the adapter: sleep(wait_duration(now, until)).await
//!         }
//!         Action::Store(task) => exchange.handle_store(task.wait(), now),
//!         Action::Done(result) => break result?,
//!         _ => unreachable!(),
//!     }
//!     while let Some(event) = exchange.poll_event() {
//!         let _ = event; // the adapter: tracing::debug!(?event)
//!     }
//! };
//! assert_eq!(reply.result.id.get(), 18);
//! assert_eq!(exchange.attempts(), 2);
//! // A REST 3.0 write carries one generated Idempotency-Key on every attempt.
//! assert_eq!(keys[0], keys[1]);
//! // First a backoff, then the wait for a slot in the bucket the 503 reported full.
//! assert_eq!(waits[0], WaitReason::Backoff(RetryReason::RateLimited));
//! assert_eq!(waits[1], WaitReason::RateLimit);
//! # Ok(())
//! # }
//! ```
//!
//! # The policy
//!
//! Before each attempt, in this order:
//!
//! 1. **Deadline**: past the overall deadline, or if a wait would end past it, the call
//!    ends with [`Error::DeadlineExceeded`](crate::Error::DeadlineExceeded).
//! 2. **Operating-time budget** of the method ([`budget`](MethodBudget) rules; for a
//!    batch, of each of its commands' methods,
//!    [`Method::budget_methods`](crate::Method::budget_methods)): a held
//!    method waits for its reset when that is within
//!    [`RetryPolicy::max_operating_wait`] (default 60 s), and otherwise ends with
//!    [`Error::OperatingLimit`](crate::Error::OperatingLimit) carrying the reset time,
//!    without sending; a method past 80 % of its budget has its calls spread out.
//! 3. **Request rate**: a slot is reserved in the portal's bucket mirror ([`BucketConfig`])
//!    (standard 50 burst at 2/s, enterprise 250 at 5/s, a safety margin of 2); the
//!    call waits for it if needed.
//!
//! After each attempt, the outcome is classified ([`OutcomeClass`]) and the
//! class turned into a decision ([`RetryPolicy::decide`], table there). In short:
//!
//! - `QUERY_LIMIT_EXCEEDED` is retried after exponential backoff with jitter, writes
//!   included (the call did not run), and the limiter is told the bucket is full;
//! - a 503 without an error code (an HTML page, an empty body) may be the rate limit
//!   or a gateway's answer after the write ran: the limiter is told the bucket is
//!   full, and the call is retried only when it may be repeated (a safe method, or a
//!   key it honours); an unprotected write ends with
//!   [`Error::WriteOutcomeUnknown`](crate::Error::WriteOutcomeUnknown);
//! - a 429 (`OPERATION_TIME_LIMIT`, `BITRIX_REST_V3_EXCEPTION_RATELIMITEXCEPTION`)
//!   waits until `operating_reset_at` plus [`RetryPolicy::reset_margin`] (1 s, as a
//!   hold before sending does), or 60 s when no reset time is
//!   known, if that is within the maximum wait, and otherwise ends with
//!   [`Error::OperatingLimit`](crate::Error::OperatingLimit); later calls of the same
//!   method are held too (after a 429 on a batch: of every method in it);
//! - a 429 with another code, or none, waits 60 s for this call
//!   only: it does not hold the method for other calls;
//! - `OVERLOAD_LIMIT` (a manual block) is never retried;
//! - validation, permission, scope, not-found and idempotency-key errors are final;
//! - a 5xx or a transport failure is retried only when the request cannot have reached
//!   the server ([`SentState::NotSent`]), or the method is
//!   [`Repeat::Safe`](crate::Repeat::Safe), or it carries an `Idempotency-Key` the
//!   method honours; otherwise the call ends with that error, because a repeat could
//!   duplicate a write;
//! - after a maybe-sent transport failure, a write protected only by its key is sent
//!   again no sooner than [`RetryPolicy::in_flight_grace`] (61 s) after the failed
//!   attempt was sent: two requests with the same key may both run, and by then the
//!   first has surely finished, so the portal replays its stored answer; when that
//!   passes the deadline the call ends with the transport error;
//! - `expired_token`, `invalid_token`, or any 401 on REST 3.0, asks once for a fresh
//!   token and replays; a second 401 ends with
//!   [`Error::TokenRejected`](crate::Error::TokenRejected); webhooks are never refreshed;
//! - the attempt budget (4 attempts by default) bounds the first attempt
//!   and all retries; the single replay after a token refresh is always allowed and
//!   not counted. When it runs out the call ends with
//!   [`Error::RetriesExhausted`](crate::Error::RetriesExhausted) holding the last error
//!   (its `attempts` counts every request sent, the replay included).
//!
//! **Idempotency keys.** The portal honours `Idempotency-Key` only on REST 3.0 create,
//! modify and delete methods, which is what
//! [`Method::honours_idempotency_key`](crate::Method::honours_idempotency_key) says
//! (by default: [`Repeat::Unsafe`](crate::Repeat::Unsafe) on
//! [`Api::V3`](crate::Api::V3); false for the REST 3.0 `batch`; stated by the caller
//! for a [`RawCall`](crate::methods::RawCall)). Every call of such a method gets one
//! key, generated by the portal's key generator when the exchange is created and
//! sent on every attempt, so a timed-out `tasks.task.result.addfromchatmessage` can be
//! repeated safely: the portal replays its stored answer, reported as
//! [`Reply::replayed`](crate::Reply::replayed). Users may pass their own key
//! ([`ExchangeOptions::idempotency_key`]) or none
//! ([`ExchangeOptions::without_idempotency_key`]). A 422 key-reuse answer is final; after
//! an earlier attempt that may have run (the replay after a token refresh carries the
//! same key with another token in the body) it ends the call with
//! [`Error::WriteOutcomeUnknown`](crate::Error::WriteOutcomeUnknown): the write may have
//! run.
//! Keys are documented but unverified, so the portal's answers are watched for the
//! documented echo of the key ([`KeySupport`], kept in the [`PortalState`]): once a
//! successful answer to a keyed write lacks it, keys are still sent but no longer count
//! as protection for that portal.
//! Other methods get no key, a caller's key for them is refused with an
//! [`InputError`](crate::InputError) before any request, and their writes (classic
//! writes, a batch holding a write) are repeated only when not sent.
//!
//! # Shared state
//!
//! [`PortalState`] holds the stores one credential's calls use: the host's
//! [`HostStore`] (request bucket, key support), the [`BudgetStore`] of the
//! credential's budget scope and, for OAuth, its [`TokenStore`]. Each trait's
//! operations return a [`StoreCall`], ready at once or pending on IO; the in-memory
//! defaults are always ready. Which credential shares which store is the
//! [`Registry`](crate::registry::Registry)'s rule. Token pairs carry a
//! [`TokenGeneration`]; a refresh takes a lease from the token store
//! ([`TokenStore::begin_refresh`]) and stores the new pair by compare-and-swap, so a
//! refresh is single-flight across every process sharing the store.
//!
//! # Observability
//!
//! Each exchange records [`Event`]s: attempts started and ended (with class), waits
//! (reason, duration), retries (reason), token refreshes, reported operating time and
//! the final stop reason. Events never hold a secret or a URI.

mod backoff;
mod budget;
mod classify;
mod event;
mod exchange;
mod idempotency;
mod limiter;
mod memory;
mod oauth;
mod policy;
mod state;
mod store;
mod timestamp;
mod token;
mod transport;

pub use backoff::Backoff;
// Building blocks of the engine that sibling crates (the Redis store, the benchmarks)
// and the tests reach for; not part of the documented surface.
#[doc(hidden)]
pub use backoff::Jitter;
#[doc(hidden)]
pub use budget::{operating_millis, MethodBudget, MAX_RESET_AHEAD};
pub use budget::{BudgetConfig, BudgetVerdict};
pub use classify::OutcomeClass;
#[doc(hidden)]
pub use classify::{classify, Observation};
pub use event::{Event, WaitReason};
#[doc(hidden)]
pub use exchange::REFRESH_LEASE;
pub use exchange::{wait_duration, Action, Exchange, ExchangeOptions, KeyMode, Outgoing, Purpose};
pub(crate) use idempotency::KeyGenerator;
pub use idempotency::KeySupport;
pub use limiter::BucketConfig;
#[doc(hidden)]
pub use limiter::LeakyBucket;
#[doc(hidden)]
pub use memory::combine_verdicts;
pub use memory::{MemoryBudgetStore, MemoryHostStore, MemoryTokenStore};
#[doc(hidden)]
pub use oauth::{parse_token_answer, token_url_from_server_endpoint, DEFAULT_TOKEN_URL};
pub use oauth::{OAuthApp, RefreshError, RefreshFailure};
pub(crate) use policy::OPERATING_FALLBACK_WAIT;
pub use policy::{CallFacts, Decision, RetryPolicy, RetryReason, StopReason};
pub use state::{os_random_seed, PortalState};
pub use store::{
    BudgetCheck, BudgetStore, HostStore, RefreshLease, RefreshTurn, Reservation, StaleOr,
    StoreCall, StoreError, StoreErrorKind, StoreFuture, StoreOutcome, StoreTask, TokenStore,
};
pub use timestamp::Timestamp;
pub(crate) use timestamp::Utc;
pub use token::{StaleGeneration, TokenGeneration, TokenSet};
pub use transport::{SentState, TransportErrorKind, TransportFailure};
