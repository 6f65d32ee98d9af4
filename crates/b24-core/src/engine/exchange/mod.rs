//! [`Exchange`]: the state machine of one logical call.
//!
//! An exchange owns the prepared request of one call and decides, attempt after
//! attempt, what the adapter must do next. It never does IO and never reads the
//! clock. Its methods fall into three kinds (the naming of quinn-proto):
//!
//! - **outputs**: [`Exchange::poll`] returns the next [`Action`];
//!   [`Exchange::poll_event`] drains the [`Event`]s recorded so far;
//! - **inputs**: [`Exchange::handle_response`], [`Exchange::handle_transport_error`]
//!   and [`Exchange::handle_store`] hand the outcome of the last action back;
//! - **accessors**: [`Exchange::attempts`], [`Exchange::idempotency_key`], ...
//!
//! The order is fixed: call `poll(now)`; carry out the action; hand its outcome to the
//! matching `handle_*` (nothing for [`Action::Wait`]); poll again; stop at
//! [`Action::Done`]. Polling while an outcome is owed, or after `Done`, ends the
//! exchange with [`Error::ExchangeMisuse`]. An outcome handed in when none is owed is
//! ignored.
//!
//! The steps of one attempt: the deadline; the operating budgets of the call's methods
//! (a store operation); a slot in the host's request bucket (a store operation); for
//! OAuth, the current token (a store operation); the request. Each store operation is
//! answered in place when the store answers at once (the in-memory stores), and is
//! otherwise handed out as [`Action::Store`]. A token refresh (after a 401) runs inside
//! the exchange too ([`refresh`]): the turn from the token store, the refresh request
//! as [`Action::Send`] with [`Purpose::TokenRefresh`], the compare-and-swap of the
//! new pair.

mod action;
mod refresh;

pub use refresh::REFRESH_LEASE;

use std::collections::VecDeque;
use std::fmt;

use b24_types::ErrorCode;
use bytes::Bytes;

pub use action::{wait_duration, Action, ExchangeOptions, KeyMode, Outgoing, Purpose};

use super::backoff::Jitter;
use super::budget::{latest_plausible_reset, operating_millis, BudgetVerdict};
use super::classify::{classify, Observation, OutcomeClass};
use super::event::{Event, WaitReason};
use super::idempotency::KeySupport;
use super::policy::{CallFacts, Decision, RetryPolicy, RetryReason, StopReason};
use super::state::PortalState;
use super::store::{
    Answer, BudgetCheck, RefreshLease, Reservation, StoreCall, StoreError, StoreOutcome, StoreTask,
};
use super::token::{TokenGeneration, TokenSet};
use super::transport::{TransportErrorKind, TransportFailure};
use super::Timestamp;
use crate::error::{Error, InputError};
use crate::idempotency_key::IdempotencyKey;
use crate::method::Method;
use crate::portal::Portal;
use crate::reply::Reply;
use crate::request::{unhonoured_key, user_agent_value, PreparedCall, DEFAULT_USER_AGENT};
use crate::response::parse_response;

/// The header a keyed answer echoes.
const IDEMPOTENCY_KEY: &str = "idempotency-key";

enum Phase<T> {
    /// About to start an attempt, not before `not_before`.
    Ready {
        not_before: Option<Timestamp>,
        reason: WaitReason,
        budget_cleared: bool,
    },
    /// A rate-limiter slot is reserved at `at`.
    Slotted {
        at: Timestamp,
    },
    /// The slot is reached; the request goes with this token (OAuth) or none.
    Sending(Option<TokenSet>),
    AwaitingResponse,
    /// A token refresh: ask the store for the turn, not before `not_before`.
    RefreshTurn {
        stale: TokenGeneration,
        not_before: Option<Timestamp>,
    },
    /// The refresh request is ready to go.
    RefreshSend {
        request: http::Request<Bytes>,
        lease: RefreshLease,
    },
    /// The refresh request was sent; its answer is owed.
    AwaitingRefresh {
        lease: RefreshLease,
    },
    /// A store operation's outcome is owed; the phase to return to (a write leaves
    /// it as it was; a read's answer sets the next one).
    AwaitingStore(Box<Phase<T>>),
    /// Waiting for the answer of a store read queued in the outbox.
    Resume,
    Done(Result<Reply<T>, Error>),
    Finished,
}

/// The state machine of one logical call; see the [module docs](super) for the
/// driving loop and the policy.
pub struct Exchange<M: Method> {
    method: M,
    call: PreparedCall,
    state: PortalState,
    policy: RetryPolicy,
    key: Option<IdempotencyKey>,
    jitter: Jitter,
    phase: Phase<M::Output>,
    /// Store operations handed out but not awaited yet (writes after an answer).
    outbox: VecDeque<StoreTask>,
    attempts: u32,
    token_refreshed: bool,
    sent_token: TokenGeneration,
    /// When the last attempt was handed to the adapter.
    sent_at: Timestamp,
    /// Whether an attempt so far may have run on the portal (a maybe-sent transport
    /// failure, a 5xx, an unreadable answer).
    maybe_ran: bool,
    /// Attempts that ended in a timeout.
    timeouts: u32,
    /// The methods whose budgets the call is charged to, each once; empty when that
    /// is the method's own name alone (the common case, which needs no copy of it).
    budget_methods: Vec<String>,
    /// Whether the call is charged to its own method alone.
    charged_to_own: bool,
    /// The latest reset time the budget store knew for them at the last check.
    known_reset: Option<Timestamp>,
    /// Whether a reply's `time` is recorded under the method's own name.
    records_own_time: bool,
    /// What the host's answers showed about keys, as last seen.
    key_support: KeySupport,
    /// What the host store said about keys at this call's reservation.
    stored_key_support: KeySupport,
    /// A failed refresh answer, while the store is read again to see whether someone
    /// else refreshed meanwhile (then the call replays with theirs).
    refresh_failed: Option<(Error, RefreshLease)>,
    /// This exchange's id as a refresh lease holder.
    holder: u64,
    deadline: Option<Timestamp>,
    started: bool,
    last_error: Option<Error>,
    events: VecDeque<Event>,
}

impl<M: Method> Exchange<M> {
    /// An exchange with the default options (default [`RetryPolicy`], automatic
    /// idempotency key for REST 3.0 writes).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] when the call cannot be built (invalid parameters,
    /// method name), or when the portal uses OAuth but `state` has no token store.
    pub fn new(portal: &Portal, method: M, state: &PortalState) -> Result<Self, Error> {
        Self::with_options(portal, method, state, ExchangeOptions::default())
    }

    /// An exchange with explicit options.
    ///
    /// # Errors
    ///
    /// As [`Exchange::new`], plus [`Error::InvalidInput`] for a user-supplied key on a
    /// method that does not honour keys ([`Method::honours_idempotency_key`]: a classic
    /// method, a read, the REST 3.0 `batch`) or an invalid user agent.
    pub fn with_options(
        portal: &Portal,
        method: M,
        state: &PortalState,
        options: ExchangeOptions,
    ) -> Result<Self, Error> {
        let user_agent = match options.user_agent {
            None => http::HeaderValue::from_static(DEFAULT_USER_AGENT),
            Some(action::UserAgent::Checked(value)) => value,
            Some(action::UserAgent::Text(text)) => user_agent_value(&text)?,
        };
        let call = PreparedCall::with_user_agent_value(portal, &method, user_agent)?;
        if portal.is_oauth() && state.tokens().is_none() {
            return Err(InputError::MissingAccessToken.into());
        }
        // Only a key the portal honours protects a repeat, so only such a key is ever
        // sent: generated for methods that honour keys, refused for the others.
        let key = match options.key {
            KeyMode::Off => None,
            KeyMode::Key(key) => {
                if !call.honours_idempotency_key() {
                    return Err(unhonoured_key(call.api()).into());
                }
                Some(key)
            }
            KeyMode::Auto => call
                .honours_idempotency_key()
                .then(|| state.keys().next_key()),
        };
        let charged = method.budget_methods();
        let charged_to_own =
            charged.iter().all(|m| *m == call.method_name()) && !charged.is_empty();
        let mut budget_methods: Vec<String> = Vec::new();
        if !charged_to_own {
            for name in charged {
                if !budget_methods.iter().any(|m| m == name) {
                    budget_methods.push(name.to_owned());
                }
            }
        }
        let records_own_time =
            charged_to_own || budget_methods.iter().any(|m| m == call.method_name());
        Ok(Self {
            method,
            call,
            jitter: Jitter::new(state.keys().next_seed()),
            key_support: state.key_support(),
            stored_key_support: KeySupport::Unknown,
            refresh_failed: None,
            holder: state.keys().next_seed(),
            state: state.clone(),
            policy: options.policy,
            key,
            phase: Phase::Ready {
                not_before: None,
                reason: WaitReason::RateLimit,
                budget_cleared: false,
            },
            outbox: VecDeque::new(),
            attempts: 0,
            token_refreshed: false,
            sent_token: TokenGeneration::NONE,
            sent_at: Timestamp::EPOCH,
            maybe_ran: false,
            timeouts: 0,
            budget_methods,
            charged_to_own,
            known_reset: None,
            records_own_time,
            deadline: None,
            started: false,
            last_error: None,
            events: VecDeque::new(),
        })
    }

    /// The method name.
    pub fn method_name(&self) -> &str {
        self.call.method_name()
    }

    /// The method.
    pub fn method(&self) -> &M {
        &self.method
    }

    /// The `Idempotency-Key` sent on every attempt, if any.
    pub fn idempotency_key(&self) -> Option<&IdempotencyKey> {
        self.key.as_ref()
    }

    /// Attempts handed to the adapter so far (token refresh requests not counted).
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// The call's deadline on the engine's clock, once the first poll has fixed it.
    pub fn deadline(&self) -> Option<Timestamp> {
        self.deadline
    }

    /// True once [`Action::Done`] has been returned.
    pub fn is_finished(&self) -> bool {
        matches!(self.phase, Phase::Finished)
    }

    /// The next recorded event, oldest first.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// The next thing to do at `now`.
    pub fn poll(&mut self, now: Timestamp) -> Action<M::Output> {
        if !self.started {
            self.started = true;
            self.deadline = self.policy.deadline.map(|d| now.saturating_add(d));
        }
        loop {
            if let Some(task) = self.outbox.pop_front() {
                if !matches!(self.phase, Phase::AwaitingStore(_) | Phase::Finished) {
                    // A write once the call's outcome is settled need not hold it up.
                    let task = if matches!(self.phase, Phase::Done(_)) {
                        task.settle()
                    } else {
                        task
                    };
                    let then = std::mem::replace(&mut self.phase, Phase::Finished);
                    self.phase = Phase::AwaitingStore(Box::new(then));
                    return Action::Store(task);
                }
                self.outbox.push_front(task);
            }
            match std::mem::replace(&mut self.phase, Phase::Finished) {
                Phase::Finished => {
                    return Action::Done(Err(Error::ExchangeMisuse(
                        "polled after the exchange finished",
                    )))
                }
                Phase::Done(result) => return Action::Done(result),
                Phase::AwaitingResponse | Phase::AwaitingRefresh { .. } => {
                    return Action::Done(Err(Error::ExchangeMisuse(
                        "polled while the response to a sent request was owed",
                    )))
                }
                Phase::AwaitingStore(_) => {
                    return Action::Done(Err(Error::ExchangeMisuse(
                        "polled while the outcome of a store operation was owed",
                    )))
                }
                Phase::Resume => {
                    return Action::Done(Err(Error::ExchangeMisuse(
                        "internal: a store answer was lost",
                    )))
                }
                Phase::RefreshTurn { stale, not_before } => {
                    if let Some(t) = not_before.filter(|t| *t > now) {
                        self.phase = Phase::RefreshTurn {
                            stale,
                            not_before: Some(t),
                        };
                        return Action::Wait {
                            until: t,
                            reason: WaitReason::TokenRefresh,
                        };
                    }
                    self.begin_refresh(stale, now);
                }
                Phase::RefreshSend { request, lease } => {
                    let deadline = Some(
                        self.deadline
                            .map_or(lease.expires_at(), |d| d.min(lease.expires_at())),
                    );
                    self.phase = Phase::AwaitingRefresh { lease };
                    return Action::Send(Outgoing::new(request, deadline, Purpose::TokenRefresh));
                }
                Phase::Sending(token) => return self.send(now, token),
                Phase::Slotted { at } => {
                    if at > now {
                        self.phase = Phase::Slotted { at };
                        return Action::Wait {
                            until: at,
                            reason: WaitReason::RateLimit,
                        };
                    }
                    let tokens = self
                        .state
                        .tokens()
                        .filter(|_| self.call.portal().is_oauth())
                        .cloned();
                    match tokens {
                        None => self.phase = Phase::Sending(None),
                        Some(store) => self.run(store.current(), Answer::Token, now),
                    }
                }
                Phase::Ready {
                    not_before,
                    reason,
                    budget_cleared,
                } => {
                    if let Some(t) = not_before.filter(|t| *t > now) {
                        self.phase = Phase::Ready {
                            not_before: Some(t),
                            reason,
                            budget_cleared,
                        };
                        return Action::Wait { until: t, reason };
                    }
                    if self.deadline.is_some_and(|d| now >= d) {
                        self.finish_deadline();
                        continue;
                    }
                    if budget_cleared || self.charged().is_empty() {
                        let call = self.state.host().reserve(now);
                        self.run(call, Answer::Slot, now);
                    } else {
                        let call = self.state.budgets().check(self.charged(), now);
                        self.run(call, Answer::Budget, now);
                    }
                }
            }
        }
    }

    /// Hands in the outcome of the last [`Action::Store`].
    pub fn handle_store(&mut self, outcome: StoreOutcome, now: Timestamp) {
        match std::mem::replace(&mut self.phase, Phase::Finished) {
            Phase::AwaitingStore(then) => {
                self.phase = *then;
                self.on_answer(outcome.0, now);
            }
            // None is owed: ignored, the exchange stays where it was.
            other => self.phase = other,
        }
    }

    /// The methods whose budgets the call is charged to.
    fn charged(&self) -> &[String] {
        if self.charged_to_own {
            std::slice::from_ref(self.call.name())
        } else {
            &self.budget_methods
        }
    }

    /// Runs a store call the call needs an answer from: a ready answer is taken in at
    /// once; a pending one goes out first on the next poll, as [`Action::Store`], and
    /// its answer sets the phase.
    fn run<T: Send + 'static>(
        &mut self,
        call: StoreCall<T>,
        wrap: fn(Result<T, StoreError>) -> Answer,
        now: Timestamp,
    ) {
        match call {
            StoreCall::Ready(result) => self.on_answer(wrap(result), now),
            StoreCall::Pending(future) => {
                self.phase = Phase::Resume;
                self.outbox.push_front(StoreTask::new(future, wrap));
            }
        }
    }

    /// Queues a write whose outcome only matters if it failed (reported as an event).
    fn write(&mut self, call: StoreCall<()>) {
        match call {
            StoreCall::Ready(Ok(())) => {}
            StoreCall::Ready(Err(err)) => self.write_failed(&err),
            StoreCall::Pending(future) => {
                self.outbox.push_back(StoreTask::write(future));
            }
        }
    }

    fn write_failed(&mut self, err: &StoreError) {
        self.events
            .push_back(Event::StoreWriteFailed { kind: err.kind });
    }

    /// Takes in a store answer; the phase is where the operation was asked from.
    fn on_answer(&mut self, answer: Answer, now: Timestamp) {
        match answer {
            Answer::Written(Ok(())) => {}
            Answer::Written(Err(err)) => self.write_failed(&err),
            Answer::Budget(Ok(check)) => self.on_budget(check, now),
            Answer::Slot(Ok(reservation)) => self.on_slot(reservation, now),
            Answer::Token(Ok(current)) if self.refresh_failed.is_some() => {
                self.on_recheck(current);
            }
            Answer::Token(Ok(Some(tokens))) => self.phase = Phase::Sending(Some(tokens)),
            Answer::Token(Ok(None)) => {
                self.finish(
                    Err(InputError::MissingAccessToken.into()),
                    StopReason::InvalidRequest,
                );
            }
            Answer::Turn(Ok(turn)) => self.on_turn(turn, now),
            Answer::Replaced(Ok(replaced)) => self.on_replaced(replaced),
            Answer::Token(Err(_)) if self.refresh_failed.is_some() => {
                // The store could not be read again after a refused refresh: the
                // refusal is the call's outcome.
                self.on_recheck(None);
            }
            Answer::Budget(Err(err))
            | Answer::Slot(Err(err))
            | Answer::Token(Err(err))
            | Answer::Turn(Err(err))
            | Answer::Replaced(Err(err)) => {
                self.finish(Err(Error::Store(err)), StopReason::StoreFailed);
            }
        }
    }

    fn on_budget(&mut self, check: BudgetCheck, now: Timestamp) {
        self.known_reset = check.reset_at;
        match check.verdict {
            BudgetVerdict::Go => {
                self.phase = Phase::Ready {
                    not_before: None,
                    reason: WaitReason::RateLimit,
                    budget_cleared: true,
                };
            }
            BudgetVerdict::Spread { at } => {
                self.schedule(now, at, WaitReason::BudgetSpread, true);
            }
            BudgetVerdict::Hold { until } => {
                let wait = until.saturating_duration_since(now);
                if wait > self.policy.max_operating_wait {
                    let err = Error::OperatingLimit {
                        method: check.held.unwrap_or_default(),
                        reset_at: until,
                        last: None,
                    };
                    self.finish(Err(err), StopReason::OperatingLimit { reset_at: until });
                } else {
                    self.schedule(now, until, WaitReason::BudgetReset, false);
                }
            }
        }
    }

    fn on_slot(&mut self, reservation: Reservation, now: Timestamp) {
        self.stored_key_support = reservation.key_support;
        // A store that knows nothing (`Unknown`) is no evidence: keep what this state
        // knows (an assumed support, which may not have reached the store).
        let support = match reservation.key_support {
            KeySupport::Unknown => self.state.key_support(),
            known => known,
        };
        self.key_support = support;
        if let Some(from) = self.state.note_key_support(support) {
            self.events
                .push_back(Event::KeySupportChanged { from, to: support });
        }
        let slot = reservation.at;
        if slot > now {
            if self.deadline.is_some_and(|d| slot > d) {
                self.finish_deadline();
                return;
            }
            self.record_wait(now, slot, WaitReason::RateLimit);
        }
        self.phase = Phase::Slotted { at: slot };
    }

    /// Hands in the answer to the last [`Action::Send`].
    pub fn handle_response(&mut self, response: http::Response<Bytes>, now: Timestamp) {
        match std::mem::replace(&mut self.phase, Phase::Finished) {
            Phase::AwaitingResponse => self.on_response(&response, now),
            Phase::AwaitingRefresh { lease } => self.on_refresh_answer(&response, lease, now),
            other => self.phase = other,
        }
    }

    fn on_response(&mut self, response: &http::Response<Bytes>, now: Timestamp) {
        let status = response.status().as_u16();
        self.observe_key_echo(response);
        let parsed = parse_response(&self.method, response);
        let time = match &parsed {
            Ok(reply) => reply.time.as_ref(),
            Err(Error::Api(api)) => api.time.as_ref(),
            Err(_) => None,
        };
        if let Some(time) = time {
            // A reply's `time` is its own method's; a batch's is no one command's, and
            // the outer batch call is not counted, so it is not recorded.
            if self.records_own_time && time.operating_reset_at.is_some() {
                let call = self
                    .state
                    .budgets()
                    .record(self.call.method_name(), time, now);
                self.write(call);
            }
            if let Some(op) = time.operating {
                self.events.push_back(Event::OperatingReported {
                    operating_ms: operating_millis(op),
                    reset_at: time
                        .operating_reset_at
                        .and_then(Timestamp::from_unix_secs_f64),
                });
            }
        }
        if let Ok(reply) = &parsed {
            // A batch's per-command times, each charged to its command's own method.
            for (method, time) in self.method.command_times(&reply.result) {
                let call = self.state.budgets().record(&method, &time, now);
                self.write(call);
            }
        }
        let err = match parsed {
            Ok(reply) => {
                self.events.push_back(Event::AttemptEnded {
                    attempt: self.attempts,
                    status: Some(status),
                    class: OutcomeClass::Success,
                });
                self.finish(Ok(reply), StopReason::Succeeded);
                return;
            }
            Err(err) => err,
        };
        let api = self.call.api();
        let class = match &err {
            Error::Api(e) => classify(
                api,
                Observation::Error {
                    status: e.status,
                    code: &e.code,
                },
            ),
            _ => classify(api, Observation::BareStatus { status }),
        };
        self.events.push_back(Event::AttemptEnded {
            attempt: self.attempts,
            status: Some(status),
            class,
        });
        // Only the platform's own operating-limit codes say that the method's budget
        // is spent, for every call of it; a 429 with another code (or none) may come
        // from anything on the way (a proxy's limit, say): this call waits the
        // fallback, and no other call is held.
        let budget_spent = class == OutcomeClass::OperatingLimit
            && matches!(
                err.code(),
                Some(ErrorCode::OperationTimeLimit | ErrorCode::V3RateLimit)
            );
        let reset_at = match &err {
            Error::Api(e) => e
                .time
                .as_ref()
                .and_then(|t| t.operating_reset_at)
                .and_then(Timestamp::from_unix_secs_f64),
            _ => None,
        }
        .filter(|t| *t > now)
        // The latest reset the store knew for any method the call is charged to.
        .or(self.known_reset.filter(|t| *t > now))
        // A reset beyond the platform's ten-minute window is impossible (a garbled
        // figure): never wait, nor hold the method, for longer than the window.
        .map(|t| t.min(latest_plausible_reset(now)))
        .filter(|_| class != OutcomeClass::OperatingLimit || budget_spent);
        // A 503 without a code may be the rate limit too: slow down either way.
        if matches!(class, OutcomeClass::RateLimited | OutcomeClass::Unavailable) {
            let call = self.state.host().throttled(now);
            self.write(call);
        }
        if budget_spent {
            // Every call of the methods waits with this one (for a batch the portal
            // does not say which command was refused).
            self.block_budgets(self.policy.operating_wait_until(reset_at, now));
        }
        // The portal refuses a key it holds a stored answer for when the body differs
        // (after a token refresh the token in the body does).
        let key_reused = err.code() == Some(&ErrorCode::V3IdempotencyKeyReused);
        if key_reused && self.key.is_some() {
            // Only a portal that keeps keys can refuse one as reused.
            self.note_key_support(KeySupport::Supported);
        }
        let gateway = matches!(status, 502 | 504);
        let facts = self.facts().answer(gateway, key_reused, false);
        self.decide(class, facts, err, reset_at, now);
    }

    /// Hands in a transport failure of the last [`Action::Send`].
    pub fn handle_transport_error(&mut self, failure: TransportFailure, now: Timestamp) {
        match std::mem::replace(&mut self.phase, Phase::Finished) {
            Phase::AwaitingResponse => self.on_transport_error(failure, now),
            Phase::AwaitingRefresh { lease } => self.on_refresh_failure(failure, lease),
            other => self.phase = other,
        }
    }

    fn on_transport_error(&mut self, failure: TransportFailure, now: Timestamp) {
        let (sent, kind, source) = failure.into_parts();
        let class = classify(self.call.api(), Observation::Transport(sent));
        self.events.push_back(Event::AttemptEnded {
            attempt: self.attempts,
            status: None,
            class,
        });
        let err = Error::Transport { kind, sent, source };
        // The portal answered; the answer is just too big to take.
        let too_large = kind == TransportErrorKind::BodyTooLarge;
        if kind == TransportErrorKind::Timeout {
            self.timeouts = self.timeouts.saturating_add(1);
        }
        let facts = self
            .facts()
            .answer(false, false, too_large)
            .transport(kind.is_permanent(), self.timeouts);
        self.decide(class, facts, err, None, now);
    }

    fn send(&mut self, now: Timestamp, token: Option<TokenSet>) -> Action<M::Output> {
        let generation = token.as_ref().map(TokenSet::generation);
        let request = self.call.request(
            token.as_ref().map(TokenSet::access_token),
            self.key.as_ref(),
        );
        match request {
            Ok(request) => {
                self.attempts = self.attempts.saturating_add(1);
                self.sent_token = generation.unwrap_or(TokenGeneration::NONE);
                self.sent_at = now;
                self.events.push_back(Event::AttemptStarted {
                    attempt: self.attempts,
                    idempotency_key: self.key.is_some(),
                    token: generation,
                });
                self.phase = Phase::AwaitingResponse;
                Action::Send(Outgoing::new(request, self.deadline, Purpose::Call))
            }
            Err(err) => {
                self.finish(Err(err), StopReason::InvalidRequest);
                self.poll_done()
            }
        }
    }

    /// Whether the call's key protects a repeat: a key the method honours, on a
    /// portal not shown to ignore keys.
    fn key_protects(&self) -> bool {
        self.key.is_some() && self.call.honours_idempotency_key() && self.key_support.protects()
    }

    /// Takes in what an answer to a keyed write shows about the portal's key support:
    /// an echo of the key means supported; a 2xx answer without any echo, unsupported.
    fn observe_key_echo(&mut self, response: &http::Response<Bytes>) {
        let Some(key) = self
            .key
            .as_ref()
            .filter(|_| self.call.honours_idempotency_key())
        else {
            return;
        };
        let mut echoes = response
            .headers()
            .get_all(IDEMPOTENCY_KEY)
            .iter()
            .peekable();
        let seen = if echoes.peek().is_none() {
            response
                .status()
                .is_success()
                .then_some(KeySupport::Unsupported)
        } else if echoes.any(|v| v.as_bytes() == key.as_str().as_bytes()) {
            Some(KeySupport::Supported)
        } else {
            None // an echo of something else: no evidence either way
        };
        if let Some(to) = seen {
            self.note_key_support(to);
        }
    }

    /// Records what an answer showed about the portal's key support.
    fn note_key_support(&mut self, to: KeySupport) {
        {
            self.key_support = to;
            if let Some(from) = self.state.note_key_support(to) {
                self.events.push_back(Event::KeySupportChanged { from, to });
            }
            // The store is told only what it does not know yet (its answer to this
            // call's reservation): a steady portal costs no write per call.
            if to != KeySupport::Unknown && to != self.stored_key_support {
                self.stored_key_support = to;
                let call = self.state.host().record_key_support(to);
                self.write(call);
            }
        }
    }

    fn poll_done(&mut self) -> Action<M::Output> {
        match std::mem::replace(&mut self.phase, Phase::Finished) {
            Phase::Done(result) => Action::Done(result),
            other => {
                self.phase = other;
                Action::Done(Err(Error::ExchangeMisuse("internal: no result to return")))
            }
        }
    }

    /// The facts of the call so far, for the policy's decision.
    fn facts(&self) -> CallFacts {
        // The single replay after a token refresh does not count against
        // `max_attempts`: only attempts caused by failures do.
        let counted = self
            .attempts
            .saturating_sub(u32::from(self.token_refreshed));
        CallFacts::new(self.call.repeat(), self.key_protects(), counted)
            .oauth(
                self.call.portal().is_oauth() && self.state.tokens().is_some(),
                self.token_refreshed,
            )
            .history(self.maybe_ran, self.sent_at, self.deadline)
    }

    /// Asks the policy what to do about an attempt that ended in `class`, and moves
    /// to the state it says: the one decision, made in one place.
    fn decide(
        &mut self,
        class: OutcomeClass,
        facts: CallFacts,
        err: Error,
        reset_at: Option<Timestamp>,
        now: Timestamp,
    ) {
        if facts.response_too_large || class.may_have_run() {
            self.maybe_ran = true;
        }
        let decision = self
            .policy
            .decide(class, &facts, reset_at, now, &mut self.jitter);
        match decision {
            Decision::Retry { after, reason } => {
                let until = now.saturating_add(after);
                self.retry_at(now, until, reason, WaitReason::Backoff(reason), err);
            }
            Decision::RetryAfterGrace { until, reason } => {
                self.retry_at(now, until, reason, WaitReason::InFlightGrace, err);
            }
            Decision::WaitUntil { until, reason } => {
                self.retry_at(now, until, reason, WaitReason::BudgetReset, err);
            }
            Decision::RefreshToken => {
                let stale = self.sent_token;
                self.events.push_back(Event::RefreshRequested { stale });
                self.last_error = Some(err);
                self.phase = Phase::RefreshTurn {
                    stale,
                    not_before: None,
                };
            }
            Decision::Stop(reason) => {
                let err = self.stop_error(reason, err);
                self.finish(Err(err), reason);
            }
        }
    }

    /// The error a call ends with for `reason`, given the last attempt's.
    fn stop_error(&mut self, reason: StopReason, err: Error) -> Error {
        match reason {
            StopReason::AttemptsExhausted => Error::RetriesExhausted {
                attempts: self.attempts,
                last: Box::new(err),
            },
            // A write that may have run and may not be repeated: whatever the last
            // answer was, its outcome is unknown.
            StopReason::WriteOutcomeUnknown | StopReason::NotRepeatable => {
                Error::WriteOutcomeUnknown {
                    attempts: self.attempts,
                    last: Box::new(err),
                }
            }
            StopReason::DeadlineExceeded => Error::DeadlineExceeded {
                attempts: self.attempts,
                last: Some(Box::new(err)),
            },
            StopReason::OperatingLimit { reset_at } => Error::OperatingLimit {
                method: self.call.method_name().to_owned(),
                reset_at,
                last: match err {
                    Error::Api(api) => Some(api),
                    _ => None,
                },
            },
            StopReason::TokenRejected => {
                let status = err.status().unwrap_or(401);
                Error::TokenRejected {
                    status,
                    last: match err {
                        Error::Api(api) => Some(api),
                        _ => None,
                    },
                }
            }
            _ => err,
        }
    }

    /// Marks every method the call is charged to as refused until `until` (a 429:
    /// for a batch the portal does not say which command was refused).
    fn block_budgets(&mut self, until: Timestamp) {
        let call = self.state.budgets().block(self.charged(), until);
        self.write(call);
    }

    fn retry_at(
        &mut self,
        now: Timestamp,
        until: Timestamp,
        reason: RetryReason,
        wait: WaitReason,
        err: Error,
    ) {
        self.last_error = Some(err);
        self.events.push_back(Event::Retrying {
            next_attempt: self.attempts.saturating_add(1),
            reason,
        });
        self.schedule(now, until, wait, false);
    }

    fn schedule(&mut self, now: Timestamp, until: Timestamp, reason: WaitReason, cleared: bool) {
        if self.deadline.is_some_and(|d| until > d) {
            self.finish_deadline();
            return;
        }
        self.record_wait(now, until, reason);
        self.phase = Phase::Ready {
            not_before: Some(until),
            reason,
            budget_cleared: cleared,
        };
    }

    fn record_wait(&mut self, now: Timestamp, until: Timestamp, reason: WaitReason) {
        if until > now {
            self.events.push_back(Event::Waiting {
                reason,
                until,
                duration: until.saturating_duration_since(now),
            });
        }
    }

    fn finish_deadline(&mut self) {
        let err = Error::DeadlineExceeded {
            attempts: self.attempts,
            last: self.last_error.take().map(Box::new),
        };
        self.finish(Err(err), StopReason::DeadlineExceeded);
    }

    fn finish(&mut self, result: Result<Reply<M::Output>, Error>, reason: StopReason) {
        let replayed = result.as_ref().is_ok_and(|r| r.replayed);
        self.events.push_back(Event::Finished {
            reason,
            attempts: self.attempts,
            replayed,
        });
        self.last_error = None;
        self.phase = Phase::Done(result);
    }
}

impl<M: Method> fmt::Debug for Exchange<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let phase = match &self.phase {
            Phase::Ready { .. } => "ready",
            Phase::Slotted { .. } => "slotted",
            Phase::Sending(_) => "sending",
            Phase::AwaitingResponse => "awaiting response",
            Phase::RefreshTurn { .. } => "refresh: asking for the turn",
            Phase::RefreshSend { .. } => "refresh: sending",
            Phase::AwaitingRefresh { .. } => "refresh: awaiting the answer",
            Phase::AwaitingStore(_) | Phase::Resume => "awaiting a store operation",
            Phase::Done(_) => "done",
            Phase::Finished => "finished",
        };
        f.debug_struct("Exchange")
            .field("method", &self.call.method_name())
            .field("phase", &phase)
            .field("attempts", &self.attempts)
            .field("idempotency_key", &self.key)
            .finish_non_exhaustive()
    }
}
