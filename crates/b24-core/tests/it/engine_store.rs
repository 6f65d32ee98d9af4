//! Stores whose answers need IO: the exchange driven through deferred stores
//! (`Action::Store`), failing stores, the deadlines of sends, and the in-memory token
//! store's lease.

use std::future::IntoFuture;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use b24_core::bytes::Bytes;
use b24_core::engine::{
    Action, BucketConfig, BudgetCheck, BudgetConfig, BudgetStore, Event, Exchange, ExchangeOptions,
    HostStore, KeySupport, MemoryBudgetStore, MemoryHostStore, MemoryTokenStore, Outgoing,
    PortalState, Purpose, RefreshFailure, RefreshLease, RefreshTurn, Reservation, RetryPolicy,
    RetryReason, SentState, StaleGeneration, StaleOr, StopReason, StoreCall, StoreError,
    StoreErrorKind, Timestamp, TokenGeneration, TokenSet, TokenStore, TransportFailure, WaitReason,
    REFRESH_LEASE,
};
use b24_core::http;
use b24_core::methods::RawCall;
use b24_core::types::{AccessToken, RefreshToken, Time};
use b24_core::{Api, Error, Method};

use crate::engine_support::{
    add_from_chat, answer, app, body_text, classic_error, current, drive, drive_with, im_add,
    invalid_grant, item_ok, key_of, oauth, oauth_state, poll_past_stores, ready, respond, t0,
    token_answer, token_store, webhook, Run, Seen, Step, T0,
};

// --- Deferred stores ---

// The store operations, as the ledger names them.
const BUDGET_CHECK: &str = "budget.check";
const BUDGET_RECORD: &str = "budget.record";
const BUDGET_BLOCK: &str = "budget.block";
const RESERVE: &str = "host.reserve";
const THROTTLED: &str = "host.throttled";
const KEY_SUPPORT: &str = "host.record_key_support";
const TOKEN_CURRENT: &str = "token.current";
const TOKEN_REPLACE: &str = "token.replace";
const BEGIN_REFRESH: &str = "token.begin_refresh";
const END_REFRESH: &str = "token.end_refresh";

/// How the test stores answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answering {
    /// Through a future (`StoreCall::Pending`), as a store across a network does.
    Later,
    /// At once (`StoreCall::Ready`), as the memory stores do.
    AtOnce,
}

/// What the test stores share: the operations run so far, in the order they ran, and
/// those made to fail.
#[derive(Debug)]
struct Ledger {
    answering: Answering,
    ran: Mutex<Vec<&'static str>>,
    failing: Mutex<Vec<&'static str>>,
}

impl Ledger {
    /// Runs `op`: records it, then fails it (store unavailable) or runs `f`.
    fn run<T>(
        &self,
        op: &'static str,
        f: impl FnOnce() -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.ran
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(op);
        let fails = self
            .failing
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(&op);
        if fails {
            return Err(StoreError::new(
                StoreErrorKind::Unavailable,
                format!("{op}: connection refused (test)"),
            ));
        }
        f()
    }
}

/// A memory store whose every operation answers the way the ledger says (through a
/// future by default), runs when it is awaited, and is counted.
#[derive(Debug)]
struct Deferred<S> {
    inner: Arc<S>,
    ledger: Arc<Ledger>,
}

impl<S: Send + Sync + 'static> Deferred<S> {
    fn call<T: Send + 'static>(
        &self,
        op: &'static str,
        f: impl FnOnce(&S) -> StoreCall<T> + Send + 'static,
    ) -> StoreCall<T> {
        let inner = Arc::clone(&self.inner);
        let ledger = Arc::clone(&self.ledger);
        let run = move || {
            ledger.run(op, || match f(&inner) {
                StoreCall::Ready(result) => result,
                StoreCall::Pending(_) => panic!("a memory store answers at once"),
            })
        };
        match self.ledger.answering {
            Answering::Later => StoreCall::pending(async move { run() }),
            Answering::AtOnce => StoreCall::Ready(run()),
        }
    }
}

impl HostStore for Deferred<MemoryHostStore> {
    fn reserve(&self, now: Timestamp) -> StoreCall<Reservation> {
        self.call(RESERVE, move |s| s.reserve(now))
    }

    fn throttled(&self, now: Timestamp) -> StoreCall<()> {
        self.call(THROTTLED, move |s| s.throttled(now))
    }

    fn record_key_support(&self, seen: KeySupport) -> StoreCall<()> {
        self.call(KEY_SUPPORT, move |s| s.record_key_support(seen))
    }
}

impl BudgetStore for Deferred<MemoryBudgetStore> {
    fn check(&self, methods: &[String], now: Timestamp) -> StoreCall<BudgetCheck> {
        let methods = methods.to_vec();
        self.call(BUDGET_CHECK, move |s| s.check(&methods, now))
    }

    fn record(&self, method: &str, time: &Time, now: Timestamp) -> StoreCall<()> {
        let (method, time) = (method.to_owned(), time.clone());
        self.call(BUDGET_RECORD, move |s| s.record(&method, &time, now))
    }

    fn block(&self, methods: &[String], until: Timestamp) -> StoreCall<()> {
        let methods = methods.to_vec();
        self.call(BUDGET_BLOCK, move |s| s.block(&methods, until))
    }
}

impl TokenStore for Deferred<MemoryTokenStore> {
    fn current(&self) -> StoreCall<Option<TokenSet>> {
        self.call(TOKEN_CURRENT, |s| s.current())
    }

    fn replace(&self, seen: TokenGeneration, fresh: TokenSet) -> StoreCall<StaleOr<TokenSet>> {
        self.call(TOKEN_REPLACE, move |s| s.replace(seen, fresh))
    }

    fn begin_refresh(
        &self,
        stale: TokenGeneration,
        holder: u64,
        now: Timestamp,
        lease: Duration,
    ) -> StoreCall<RefreshTurn> {
        self.call(BEGIN_REFRESH, move |s| {
            s.begin_refresh(stale, holder, now, lease)
        })
    }

    fn end_refresh(&self, lease: &RefreshLease) -> StoreCall<()> {
        let lease = lease.clone();
        self.call(END_REFRESH, move |s| s.end_refresh(&lease))
    }
}

/// One credential's stores, wrapped: the standard bucket, default budgets and the
/// pair a1/r1.
struct Stores {
    ledger: Arc<Ledger>,
    host: Arc<Deferred<MemoryHostStore>>,
    budgets: Arc<Deferred<MemoryBudgetStore>>,
    tokens: Arc<Deferred<MemoryTokenStore>>,
}

impl Stores {
    fn new(answering: Answering) -> Self {
        let ledger = Arc::new(Ledger {
            answering,
            ran: Mutex::new(Vec::new()),
            failing: Mutex::new(Vec::new()),
        });
        let host = Arc::new(Deferred {
            inner: Arc::new(MemoryHostStore::new(BucketConfig::standard())),
            ledger: Arc::clone(&ledger),
        });
        let budgets = Arc::new(Deferred {
            inner: Arc::new(MemoryBudgetStore::new(BudgetConfig::default())),
            ledger: Arc::clone(&ledger),
        });
        let tokens = Arc::new(Deferred {
            inner: token_store("a1", "r1"),
            ledger: Arc::clone(&ledger),
        });
        Self {
            ledger,
            host,
            budgets,
            tokens,
        }
    }

    /// Stores that answer through futures.
    fn deferred() -> Self {
        Self::new(Answering::Later)
    }

    /// Makes `op` fail (the store is unavailable).
    fn failing(self, op: &'static str) -> Self {
        self.ledger
            .failing
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(op);
        self
    }

    /// A webhook credential's state over these stores (seed 7, as the memory runs).
    fn webhook_state(&self) -> PortalState {
        PortalState::new(7)
            .assume_key_support(KeySupport::Supported)
            .host_store(self.host.clone())
            .budget_store(self.budgets.clone())
    }

    /// An OAuth credential's state over these stores.
    fn oauth_state(&self) -> PortalState {
        self.webhook_state()
            .token_store(self.tokens.clone())
            .oauth_app(Arc::new(app()))
    }

    /// The operations run so far, in order.
    fn ran(&self) -> Vec<&'static str> {
        self.ledger
            .ran
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn count(&self, op: &str) -> usize {
        self.ran().iter().filter(|o| **o == op).count()
    }

    /// The pair stored now (read past the wrapper: not counted).
    fn stored(&self) -> TokenSet {
        current(&*self.tokens.inner)
    }
}

/// The run's actions with each store action named by the operation it ran (with
/// deferred stores every operation is one `Action::Store`, run as it is handed out).
fn timeline<T>(run: &Run<T>, stores: &Stores) -> Vec<String> {
    assert_eq!(stores.ledger.answering, Answering::Later);
    let mut ran = stores.ran().into_iter();
    let named = run
        .actions
        .iter()
        .map(|action| match action {
            Seen::Store => ran
                .next()
                .expect("each store action runs one operation")
                .to_owned(),
            Seen::Send(Purpose::Call) => "send".to_owned(),
            Seen::Send(Purpose::TokenRefresh) => "send refresh".to_owned(),
            Seen::Send(other) => format!("send {other:?}"),
            Seen::Wait(reason) => format!("wait {reason:?}"),
        })
        .collect();
    assert_eq!(ran.next(), None, "an operation ran without a store action");
    named
}

const ADD_FROM_CHAT: &str = "tasks.task.result.addfromchatmessage";

fn query_limit() -> String {
    classic_error("QUERY_LIMIT_EXCEEDED")
}

fn ok_body() -> String {
    item_ok(T0 / 1000 + 300)
}

fn is_unavailable(result: &Result<impl Sized, Error>) -> bool {
    matches!(
        result,
        Err(Error::Store(StoreError {
            kind: StoreErrorKind::Unavailable,
            ..
        }))
    )
}

fn write_failed(events: &[Event]) -> usize {
    events
        .iter()
        .filter(|e| {
            matches!(
                e,
                Event::StoreWriteFailed {
                    kind: StoreErrorKind::Unavailable
                }
            )
        })
        .count()
}

// --- Deferred stores give the same call ---

#[test]
fn a_keyed_write_through_deferred_stores_ends_as_through_memory_stores() {
    let script = || vec![answer(503, &query_limit()), answer(200, &ok_body())];
    let memory = PortalState::new(7).assume_key_support(KeySupport::Supported);
    let by_memory = drive(
        Exchange::new(&webhook(), add_from_chat(), &memory).unwrap(),
        script(),
        t0(),
    );
    let stores = Stores::deferred();
    let state = stores.webhook_state();
    let mut ex = Exchange::new(&webhook(), add_from_chat(), &state).unwrap();
    let deferred = drive_with(&mut ex, script(), vec![], t0());

    let (a, b) = (
        by_memory.result.as_ref().unwrap(),
        deferred.result.as_ref().unwrap(),
    );
    assert_eq!(a.result.id, b.result.id);
    assert_eq!(a.replayed, b.replayed);
    assert_eq!(ex.attempts(), 2);
    assert_eq!(by_memory.sent.len(), deferred.sent.len());
    let keys = |run: &Run<_>| run.sent.iter().map(key_of).collect::<Vec<_>>();
    assert_eq!(keys(&by_memory), keys(&deferred));
    assert_eq!(by_memory.events, deferred.events);
    assert_eq!(by_memory.waits, deferred.waits);
    assert_eq!(by_memory.now, deferred.now);
    // Memory stores answer in place; deferred ones add store actions and nothing else.
    assert!(!by_memory.actions.contains(&Seen::Store));
    assert_eq!(by_memory.actions, deferred.io());
    assert_eq!(
        timeline(&deferred, &stores),
        [
            BUDGET_CHECK,
            RESERVE,
            "send",
            THROTTLED,
            "wait Backoff(RateLimited)",
            BUDGET_CHECK,
            RESERVE,
            "wait RateLimit",
            "send",
            KEY_SUPPORT,
            BUDGET_RECORD,
        ]
    );
    // The writes landed in the shared stores as they do in memory.
    assert_eq!(state.key_support(), KeySupport::Unsupported);
    assert_eq!(
        stores.budgets.inner.reset_at(ADD_FROM_CHAT),
        Some(Timestamp::from_unix_secs(T0 / 1000 + 300))
    );
}

#[test]
fn a_token_refresh_through_deferred_stores_ends_as_through_memory_stores() {
    let script = || {
        vec![
            answer(401, &classic_error("expired_token")),
            answer(200, &ok_body()),
        ]
    };
    let memory_tokens = token_store("a1", "r1");
    let memory = oauth_state(memory_tokens.clone());
    let by_memory = drive_with(
        &mut Exchange::new(&oauth(), add_from_chat(), &memory).unwrap(),
        script(),
        vec![token_answer("a2", "r2")],
        t0(),
    );
    let stores = Stores::deferred();
    let deferred = drive_with(
        &mut Exchange::new(&oauth(), add_from_chat(), &stores.oauth_state()).unwrap(),
        script(),
        vec![token_answer("a2", "r2")],
        t0(),
    );
    by_memory.result.as_ref().unwrap();
    deferred.result.as_ref().unwrap();
    assert_eq!(by_memory.events, deferred.events);
    assert_eq!(by_memory.io(), deferred.io());
    let bodies = |reqs: &[http::Request<Bytes>]| reqs.iter().map(body_text).collect::<Vec<_>>();
    assert_eq!(bodies(&by_memory.sent), bodies(&deferred.sent));
    assert_eq!(bodies(&by_memory.refreshes), bodies(&deferred.refreshes));
    assert!(body_text(&deferred.sent[1]).contains(r#""auth":"a2""#));
    assert_eq!(
        timeline(&deferred, &stores),
        [
            BUDGET_CHECK,
            RESERVE,
            TOKEN_CURRENT,
            "send",
            BEGIN_REFRESH,
            "send refresh",
            TOKEN_REPLACE,
            BUDGET_CHECK,
            RESERVE,
            TOKEN_CURRENT,
            "send",
            KEY_SUPPORT,
            BUDGET_RECORD,
        ]
    );
    assert_eq!(stores.stored().generation(), TokenGeneration::new(2));
    assert_eq!(
        current(&*memory_tokens).generation(),
        TokenGeneration::new(2)
    );
}

#[test]
fn an_attempt_checks_the_budget_then_reserves_then_reads_the_token_then_sends() {
    // OAuth: all three, in this order, before the request.
    let stores = Stores::deferred();
    let run = drive(
        Exchange::new(&oauth(), im_add(), &stores.oauth_state()).unwrap(),
        vec![answer(200, r#"{"result":1}"#)],
        t0(),
    );
    run.result.as_ref().unwrap();
    assert_eq!(
        timeline(&run, &stores),
        [BUDGET_CHECK, RESERVE, TOKEN_CURRENT, "send"]
    );

    // A webhook has no token to read.
    let stores = Stores::deferred();
    let run = drive(
        Exchange::new(&webhook(), im_add(), &stores.webhook_state()).unwrap(),
        vec![answer(200, r#"{"result":1}"#)],
        t0(),
    );
    run.result.as_ref().unwrap();
    assert_eq!(timeline(&run, &stores), [BUDGET_CHECK, RESERVE, "send"]);

    // A REST 3.0 batch by name is charged to `batch` alone: one budget check.
    let stores = Stores::deferred();
    let batch = RawCall::new("batch", Api::V3).unwrap();
    assert_eq!(batch.budget_methods(), vec!["batch"]);
    let run = drive(
        Exchange::new(&webhook(), batch, &stores.webhook_state()).unwrap(),
        vec![answer(200, r#"{"result":[]}"#)],
        t0(),
    );
    run.result.as_ref().unwrap();
    assert_eq!(timeline(&run, &stores), [BUDGET_CHECK, RESERVE, "send"]);
}

// --- Failing stores ---

#[test]
fn a_store_failing_before_the_send_ends_the_call_and_nothing_is_sent() {
    for answering in [Answering::Later, Answering::AtOnce] {
        for op in [BUDGET_CHECK, RESERVE, TOKEN_CURRENT] {
            let stores = Stores::new(answering).failing(op);
            let run = drive(
                Exchange::new(&oauth(), add_from_chat(), &stores.oauth_state()).unwrap(),
                vec![],
                t0(),
            );
            assert!(
                is_unavailable(&run.result),
                "{answering:?} {op}: {:?}",
                run.result.err()
            );
            assert!(
                !run.actions.iter().any(|a| matches!(a, Seen::Send(_))),
                "{answering:?} {op}: {:?}",
                run.actions
            );
            assert_eq!(stores.ran().last(), Some(&op), "{answering:?}");
            assert!(matches!(
                run.events.last(),
                Some(Event::Finished {
                    reason: StopReason::StoreFailed,
                    attempts: 0,
                    ..
                })
            ));
            let err = run.result.unwrap_err();
            assert!(err.to_string().contains("nothing was sent"), "{err}");
            assert_eq!((err.status(), err.code()), (None, None));
        }
    }
}

#[test]
fn a_store_failing_to_give_the_refresh_turn_ends_the_call_without_a_refresh() {
    for answering in [Answering::Later, Answering::AtOnce] {
        let stores = Stores::new(answering).failing(BEGIN_REFRESH);
        let run = drive(
            Exchange::new(&oauth(), add_from_chat(), &stores.oauth_state()).unwrap(),
            vec![answer(401, &classic_error("expired_token"))],
            t0(),
        );
        assert!(
            is_unavailable(&run.result),
            "{answering:?}: {:?}",
            run.result.err()
        );
        assert_eq!(run.sent.len(), 1);
        assert!(run.refreshes.is_empty());
        assert_eq!(stores.stored().generation(), TokenGeneration::new(1));
    }
}

#[test]
fn a_failed_budget_record_is_reported_and_the_call_still_succeeds() {
    for answering in [Answering::Later, Answering::AtOnce] {
        let stores = Stores::new(answering).failing(BUDGET_RECORD);
        // The reply carries `time.operating_reset_at`: it is recorded.
        let run = drive(
            Exchange::new(&webhook(), add_from_chat(), &stores.webhook_state()).unwrap(),
            vec![answer(200, &ok_body())],
            t0(),
        );
        assert_eq!(run.result.as_ref().unwrap().result.id.get(), 18);
        assert_eq!(write_failed(&run.events), 1, "{answering:?}");
        assert_eq!(stores.count(BUDGET_RECORD), 1);
        assert_eq!(stores.budgets.inner.reset_at(ADD_FROM_CHAT), None);
    }
}

#[test]
fn a_failed_throttle_is_reported_and_the_call_still_retries() {
    for answering in [Answering::Later, Answering::AtOnce] {
        let stores = Stores::new(answering).failing(THROTTLED);
        let run = drive(
            Exchange::new(&webhook(), add_from_chat(), &stores.webhook_state()).unwrap(),
            vec![answer(503, &query_limit()), answer(200, &ok_body())],
            t0(),
        );
        run.result.as_ref().unwrap();
        assert_eq!(run.sent.len(), 2);
        assert_eq!(write_failed(&run.events), 1, "{answering:?}");
        assert!(run.events.iter().any(|e| matches!(
            e,
            Event::Retrying {
                reason: RetryReason::RateLimited,
                next_attempt: 2
            }
        )));
        // The backoff still comes; the bucket, never told it is full, adds no wait.
        let reasons: Vec<_> = run.waits.iter().map(|(_, r)| *r).collect();
        assert_eq!(
            reasons,
            [WaitReason::Backoff(RetryReason::RateLimited)],
            "{answering:?}"
        );
    }
}

#[test]
fn a_failed_budget_block_is_reported_and_the_call_still_waits_out_the_429() {
    let stores = Stores::deferred().failing(BUDGET_BLOCK);
    let reset_secs = T0 / 1000 + 30;
    let body = format!(
        r#"{{"error":"OPERATION_TIME_LIMIT","error_description":"blocked","time":{{"operating_reset_at":{reset_secs}}}}}"#
    );
    let run = drive(
        Exchange::new(&webhook(), add_from_chat(), &stores.webhook_state()).unwrap(),
        vec![answer(429, &body), answer(200, &ok_body())],
        t0(),
    );
    run.result.as_ref().unwrap();
    assert_eq!(write_failed(&run.events), 1);
    assert_eq!(
        run.waits,
        [(
            Timestamp::from_unix_secs(reset_secs + 1),
            WaitReason::BudgetReset
        )]
    );
}

#[test]
fn a_failed_lease_release_is_reported_and_the_refresh_error_stands() {
    let stores = Stores::deferred().failing(END_REFRESH);
    let mut ex = Exchange::new(&oauth(), add_from_chat(), &stores.oauth_state()).unwrap();
    let run = drive_with(
        &mut ex,
        vec![answer(401, &classic_error("expired_token"))],
        vec![invalid_grant()],
        t0(),
    );
    match &run.result {
        Err(Error::TokenRefresh(e)) => {
            assert_eq!(e.failure, RefreshFailure::InvalidGrant);
        }
        other => panic!("{:?}", other.as_ref().err()),
    }
    assert_eq!(write_failed(&run.events), 1);
    assert_eq!(stores.count(END_REFRESH), 1);
}

// --- Driving order ---

#[test]
fn polling_while_a_store_outcome_is_owed_is_misuse() {
    let stores = Stores::deferred();
    let state = stores.webhook_state();
    let mut ex = Exchange::new(&webhook(), im_add(), &state).unwrap();
    let Action::Store(task) = ex.poll(t0()) else {
        panic!("a deferred budget check comes first")
    };
    assert!(matches!(
        ex.poll(t0()),
        Action::Done(Err(Error::ExchangeMisuse(_)))
    ));
    assert!(ex.is_finished());
    // Its outcome, handed in late, is ignored.
    ex.handle_store(task.wait(), t0());
    assert!(matches!(
        ex.poll(t0()),
        Action::Done(Err(Error::ExchangeMisuse(_)))
    ));

    // So is an outcome handed to an exchange that owes none (it awaits a response).
    let mut other = Exchange::new(&webhook(), im_add(), &state).unwrap();
    let Action::Store(task) = other.poll(t0()) else {
        panic!("a deferred budget check comes first")
    };
    let mut ex = Exchange::new(&webhook(), im_add(), &state).unwrap();
    assert!(matches!(poll_past_stores(&mut ex, t0()), Action::Send(_)));
    ex.handle_store(task.wait(), t0());
    ex.handle_response(respond(200, r#"{"result":1}"#), t0());
    let action = ex.poll(t0());
    assert!(matches!(action, Action::Done(Ok(_))), "{action:?}");
}

// --- Deadlines of sends ---

/// Polls until a send: each store operation takes 5 ms, a wait moves the clock.
fn until_send<M: Method>(ex: &mut Exchange<M>, now: &mut Timestamp) -> Outgoing {
    loop {
        match ex.poll(*now) {
            Action::Store(task) => {
                *now = now.saturating_add(Duration::from_millis(5));
                ex.handle_store(task.wait(), *now);
            }
            Action::Wait { until, .. } => *now = until,
            Action::Send(out) => return out,
            other => panic!("expected a send, got {other:?}"),
        }
    }
}

fn with_deadline(deadline: Option<Duration>) -> ExchangeOptions {
    let policy = RetryPolicy::default();
    ExchangeOptions::new().policy(match deadline {
        Some(d) => policy.deadline(d),
        None => policy,
    })
}

#[test]
fn a_call_send_is_due_by_the_first_poll_plus_the_policy_deadline() {
    let stores = Stores::deferred();
    let first_poll = t0();
    let due = first_poll.saturating_add(Duration::from_secs(10));
    let mut ex = Exchange::with_options(
        &webhook(),
        add_from_chat(),
        &stores.webhook_state(),
        with_deadline(Some(Duration::from_secs(10))),
    )
    .unwrap();
    let mut now = first_poll;
    let first = until_send(&mut ex, &mut now);
    assert!(now > first_poll, "the store operations took time");
    assert_eq!(first.purpose(), Purpose::Call);
    assert_eq!(first.deadline(), Some(due));
    assert_eq!(ex.deadline(), Some(due));
    assert_eq!(
        first.time_left(now),
        Some(due.saturating_duration_since(now))
    );
    assert_eq!(
        first.time_left(due.saturating_add(Duration::from_secs(1))),
        Some(Duration::ZERO)
    );
    // A retry is due by the same time.
    now = now.saturating_add(Duration::from_millis(100));
    ex.handle_response(respond(503, &query_limit()), now);
    let retry = until_send(&mut ex, &mut now);
    assert_eq!(retry.deadline(), Some(due));

    // Without a policy deadline a send has none.
    let mut ex = Exchange::new(&webhook(), add_from_chat(), &stores.webhook_state()).unwrap();
    let mut now = t0();
    let send = until_send(&mut ex, &mut now);
    assert_eq!((send.deadline(), send.time_left(now)), (None, None));
}

#[test]
fn a_refresh_send_is_due_by_the_call_deadline_or_the_lease_end_whichever_is_first() {
    for deadline in [None, Some(60), Some(10)].map(|s| s.map(Duration::from_secs)) {
        let stores = Stores::deferred();
        let mut ex = Exchange::with_options(
            &oauth(),
            add_from_chat(),
            &stores.oauth_state(),
            with_deadline(deadline),
        )
        .unwrap();
        let first_poll = t0();
        let mut now = first_poll;
        until_send(&mut ex, &mut now);
        now = now.saturating_add(Duration::from_millis(100));
        ex.handle_response(respond(401, &classic_error("expired_token")), now);
        // The turn is asked for at the next poll; the lease runs from then.
        let turn_at = now;
        let refresh = until_send(&mut ex, &mut now);
        assert_eq!(refresh.purpose(), Purpose::TokenRefresh);
        let lease_end = turn_at.saturating_add(REFRESH_LEASE);
        let expected = match deadline {
            None => lease_end,
            Some(d) => first_poll.saturating_add(d).min(lease_end),
        };
        assert_eq!(refresh.deadline(), Some(expected), "{deadline:?}");
        if deadline == Some(Duration::from_secs(10)) {
            assert!(expected < lease_end, "the call's deadline comes first");
        } else {
            assert_eq!(expected, lease_end, "the lease ends first");
        }
    }
}

// --- A refresh held by another caller ---

#[test]
fn a_refresh_held_by_another_caller_is_waited_for_then_replayed() {
    let stores = Stores::deferred();
    let state = stores.oauth_state();
    let mut now = t0();
    let mut first = Exchange::new(&oauth(), add_from_chat(), &state).unwrap();
    let mut second = Exchange::new(&oauth(), add_from_chat(), &state).unwrap();
    until_send(&mut first, &mut now);
    until_send(&mut second, &mut now);
    first.handle_response(respond(401, &classic_error("expired_token")), now);
    second.handle_response(respond(401, &classic_error("expired_token")), now);

    let refresh = until_send(&mut first, &mut now);
    assert_eq!(refresh.purpose(), Purpose::TokenRefresh);
    // The second asks while the first holds the lease: it waits.
    let until = match poll_past_stores(&mut second, now) {
        Action::Wait {
            until,
            reason: WaitReason::TokenRefresh,
        } => until,
        other => panic!("expected a wait for the refresh, got {other:?}"),
    };
    assert!(until > now);

    first.handle_response(token_answer("a2", "r2"), now);
    let replay = until_send(&mut first, &mut now);
    assert_eq!(replay.purpose(), Purpose::Call);
    assert!(body_text(&replay).contains(r#""auth":"a2""#));

    // The second asks again, finds the new pair, and replays without a refresh.
    now = now.max(until);
    let replay = until_send(&mut second, &mut now);
    assert_eq!(replay.purpose(), Purpose::Call);
    assert!(body_text(&replay).contains(r#""auth":"a2""#));
    assert_eq!(stores.count(BEGIN_REFRESH), 3, "first once, second twice");
    assert_eq!(stores.count(TOKEN_REPLACE), 1);
    assert_eq!(stores.stored().generation(), TokenGeneration::new(2));
    let events: Vec<_> = std::iter::from_fn(|| second.poll_event()).collect();
    assert!(events.iter().any(|e| matches!(
        e,
        Event::Waiting {
            reason: WaitReason::TokenRefresh,
            ..
        }
    )));
    assert!(events.iter().any(|e| matches!(
        e,
        Event::TokenRefreshed { generation } if *generation == TokenGeneration::new(2)
    )));
}

// --- The store types ---

#[test]
fn the_memory_token_store_replaces_by_compare_and_swap() {
    let store = MemoryTokenStore::new(TokenSet::new(
        AccessToken::new("a1"),
        RefreshToken::new("r1"),
    ));
    assert_eq!(current(&store).generation(), TokenGeneration::new(1));
    let fresh = TokenSet::new(AccessToken::new("a2"), RefreshToken::new("r2"));
    let stored = ready(store.replace(TokenGeneration::new(1), fresh.clone()));
    assert_eq!(stored.map(|t| t.generation()), Ok(TokenGeneration::new(2)));
    assert_eq!(
        ready(store.replace(TokenGeneration::new(1), fresh)).map(|t| t.generation()),
        Err(StaleGeneration {
            current: TokenGeneration::new(2)
        })
    );
    let now = current(&store);
    assert_eq!(now.access_token().expose_secret(), "a2");
    let debug = format!("{now:?} {store:?}");
    assert!(!debug.contains("a2") && !debug.contains("r2"), "{debug}");

    // An empty store takes a first pair on generation NONE.
    let empty = MemoryTokenStore::empty();
    assert!(ready(empty.current()).is_none());
    let first = TokenSet::new(AccessToken::new("a1"), RefreshToken::new("r1"));
    let stored = ready(empty.replace(TokenGeneration::NONE, first)).unwrap();
    assert_eq!(stored.generation(), TokenGeneration::new(1));
}

#[test]
fn the_memory_token_store_grants_one_refresh_lease_at_a_time() {
    let store = MemoryTokenStore::new(TokenSet::new(
        AccessToken::new("a1"),
        RefreshToken::new("r1"),
    ));
    let g1 = TokenGeneration::new(1);
    let now = t0();
    let RefreshTurn::Granted { lease, tokens } =
        ready(store.begin_refresh(g1, 1, now, REFRESH_LEASE))
    else {
        panic!("the first caller gets the turn")
    };
    assert_eq!(
        (lease.id(), lease.generation(), lease.expires_at()),
        (1, g1, now.saturating_add(REFRESH_LEASE))
    );
    assert_eq!(tokens.refresh_token().expose_secret(), "r1");

    // Others are told to come back, no later than the lease's end.
    let busy = |at| match ready(store.begin_refresh(g1, 2, at, REFRESH_LEASE)) {
        RefreshTurn::Busy { retry_at } => retry_at,
        other => panic!("expected busy, got {other:?}"),
    };
    let retry_at = busy(now);
    assert!(retry_at > now && retry_at <= lease.expires_at());
    // Ending someone else's lease leaves it alone.
    let foreign = RefreshLease::new(2, g1, lease.expires_at());
    ready(store.end_refresh(&foreign));
    busy(now);

    // A lease that expired passes to the next caller.
    let late = lease.expires_at();
    let RefreshTurn::Granted { lease: second, .. } =
        ready(store.begin_refresh(g1, 3, late, REFRESH_LEASE))
    else {
        panic!("an expired lease passes on")
    };
    // The first holder's late release does not end the second's lease.
    ready(store.end_refresh(&lease));
    assert!(matches!(
        ready(store.begin_refresh(g1, 4, late, REFRESH_LEASE)),
        RefreshTurn::Busy { .. }
    ));

    // The replacement ends the lease; a 401 on the old generation finds it refreshed.
    let fresh = TokenSet::new(AccessToken::new("a2"), RefreshToken::new("r2"));
    ready(store.replace(second.generation(), fresh)).unwrap();
    assert!(matches!(
        ready(store.begin_refresh(g1, 4, late, REFRESH_LEASE)),
        RefreshTurn::AlreadyRefreshed(g) if g == TokenGeneration::new(2)
    ));
    assert!(matches!(
        ready(store.begin_refresh(TokenGeneration::new(2), 4, late, REFRESH_LEASE)),
        RefreshTurn::Granted { .. }
    ));
}

#[test]
fn a_store_call_is_a_future_either_way() {
    fn poll_once<T: Send + 'static>(call: StoreCall<T>) -> Poll<Result<T, StoreError>> {
        let mut future = call.into_future();
        future
            .as_mut()
            .poll(&mut Context::from_waker(Waker::noop()))
    }
    assert!(matches!(poll_once(StoreCall::ready(5)), Poll::Ready(Ok(5))));
    assert!(matches!(
        poll_once(StoreCall::pending(async { Ok(6) })),
        Poll::Ready(Ok(6))
    ));
    let err = StoreError::new(StoreErrorKind::Timeout, "after 2 s");
    assert!(matches!(
        poll_once(StoreCall::<()>::failed(err.clone())),
        Poll::Ready(Err(e)) if e == err
    ));
    assert_eq!(
        format!("{:?}", StoreCall::pending(async { Ok(()) })),
        "StoreCall::Pending(..)"
    );
    assert_eq!(
        err.to_string(),
        "the shared-state store did not answer in time: after 2 s"
    );
}

// --- Key support ---

#[test]
fn an_assumed_key_support_holds_though_the_host_store_knows_nothing() {
    // A portal known to ignore keys: a keyed write that may have run is not repeated.
    // The assumption must hold though the host store has not heard of it: a deferred
    // store never ran the dropped write, and a bucket chosen after the assumption
    // brings a fresh store.
    let stores = Stores::deferred();
    let deferred = stores
        .webhook_state()
        .assume_key_support(KeySupport::Unsupported);
    let rebucketed = PortalState::new(7)
        .assume_key_support(KeySupport::Unsupported)
        .bucket(BucketConfig::enterprise());
    for state in [deferred, rebucketed] {
        assert_eq!(state.key_support(), KeySupport::Unsupported);
        let run = drive(
            Exchange::new(&webhook(), add_from_chat(), &state).unwrap(),
            vec![Step::Fail(TransportFailure::timeout())],
            t0(),
        );
        assert!(
            matches!(
                &run.result,
                Err(Error::WriteOutcomeUnknown { last, .. })
                    if matches!(**last, Error::Transport { sent: SentState::MaybeSent, .. })
            ),
            "{:?}",
            run.result.err()
        );
        assert_eq!(run.sent.len(), 1, "not repeated: the key protects nothing");
        assert!(
            !run.events
                .iter()
                .any(|e| matches!(e, Event::KeySupportChanged { .. })),
            "{:?}",
            run.events
        );
        assert_eq!(state.key_support(), KeySupport::Unsupported);
    }

    // What the store does know wins over the assumption.
    let stores = Stores::deferred();
    let state = stores
        .webhook_state()
        .assume_key_support(KeySupport::Unsupported);
    ready(stores.host.inner.record_key_support(KeySupport::Supported));
    let run = drive(
        Exchange::new(&webhook(), add_from_chat(), &state).unwrap(),
        vec![
            Step::Fail(TransportFailure::timeout()),
            answer(200, &ok_body()),
        ],
        t0(),
    );
    run.result.as_ref().unwrap();
    assert_eq!(run.sent.len(), 2, "repeated under the key");
    assert!(
        matches!(
            run.events.first(),
            Some(Event::KeySupportChanged {
                from: KeySupport::Unsupported,
                to: KeySupport::Supported
            })
        ),
        "{:?}",
        run.events
    );
}

/// Which store actions of a run were handed out as detachable, in order, by name.
fn detachable_writes<M: Method>(
    mut ex: Exchange<M>,
    answers: Vec<http::Response<Bytes>>,
) -> Vec<bool> {
    let mut answers = std::collections::VecDeque::from(answers);
    let mut now = t0();
    let mut marks = Vec::new();
    loop {
        match ex.poll(now) {
            Action::Store(task) => {
                marks.push(task.is_detachable());
                ex.handle_store(task.wait(), now);
            }
            Action::Wait { until, .. } => now = until,
            Action::Send(_) => {
                let answer = answers.pop_front().expect("scripted");
                ex.handle_response(answer, now);
            }
            Action::Done(_) => return marks,
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[test]
fn only_writes_after_the_outcome_is_settled_may_be_detached() {
    let respond = |status: u16, body: String| {
        http::Response::builder()
            .status(status)
            .body(Bytes::from(body))
            .unwrap()
    };
    // Success: budget check, slot (reads, awaited), then the record of the reply's
    // time and what the answer showed about keys, which nothing after them needs.
    let stores = Stores::deferred();
    let ex = Exchange::new(&webhook(), add_from_chat(), &stores.webhook_state()).unwrap();
    assert_eq!(
        detachable_writes(ex, vec![respond(200, ok_body())]),
        [false, false, true, true],
        "{:?}",
        stores.ran()
    );
    // A 503 first: the throttle must be written before the retry reserves its slot.
    let stores = Stores::deferred();
    let ex = Exchange::new(&webhook(), add_from_chat(), &stores.webhook_state()).unwrap();
    let marks = detachable_writes(
        ex,
        vec![respond(503, query_limit()), respond(200, ok_body())],
    );
    assert_eq!(stores.ran()[2], THROTTLED, "{:?}", stores.ran());
    assert!(!marks[2], "the throttle is awaited: {marks:?}");
    assert_eq!(
        marks.last(),
        Some(&true),
        "the final record is not: {marks:?}"
    );
}
