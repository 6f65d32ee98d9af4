//! Scripted-transport tests: an `Exchange` driven on a fake clock with canned answers.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use b24_core::bytes::Bytes;
use b24_core::engine::{
    Action, BudgetConfig, BudgetStore, BudgetVerdict, Event, Exchange, ExchangeOptions, KeySupport,
    MemoryBudgetStore, PortalState, Purpose, RefreshFailure, RetryPolicy, RetryReason, SentState,
    StopReason, Timestamp, TokenGeneration, TokenStore, TransportErrorKind, TransportFailure,
    WaitReason,
};
use b24_core::http;
use b24_core::methods::{BatchCommand, BatchV3, RawCall, TaskGet, TaskResultAdd};
use b24_core::types::{AccessToken, ErrorCode, RefreshToken, TaskId};
use b24_core::{Api, Error, IdempotencyKey, InputError, Method};

use crate::engine_support::{
    add_from_chat, answer, body_text, classic_error, current, drive, drive_with, im_add,
    invalid_grant, item_ok, key_of, maybe_ran, oauth, oauth_state, ready, respond, t0,
    token_answer, token_store, v3_error, verdict, webhook, Seen, Step, T0,
};

#[test]
fn a_503_storm_then_success() {
    let state = PortalState::new(7).assume_key_support(KeySupport::Supported);
    let ex = Exchange::new(&webhook(), add_from_chat(), &state).unwrap();
    let reset = T0 / 1000 + 300;
    let run = drive(
        ex,
        vec![
            answer(503, &classic_error("QUERY_LIMIT_EXCEEDED")),
            answer(
                503,
                "<html><body>503 Service Temporarily Unavailable</body></html>",
            ),
            answer(503, ""),
            answer(200, &item_ok(reset)),
        ],
        t0(),
    );
    let reply = run.result.unwrap();
    assert_eq!(reply.result.id.get(), 18);
    assert!(!reply.replayed);
    assert_eq!(run.sent.len(), 4);
    // The same key on every attempt of the write.
    let keys: Vec<_> = run.sent.iter().map(key_of).collect();
    assert!(keys[0].is_some());
    assert!(keys.iter().all(|k| k == &keys[0]));
    // Backoffs grow: between half and all of 1 s, 2 s, 4 s.
    // The coded rate limit, then two 503s without a code (repeated: the write is
    // protected by its key).
    let backoffs: Vec<_> = run
        .waits
        .iter()
        .filter_map(|(_, r)| match r {
            WaitReason::Backoff(reason) => Some(*reason),
            _ => None,
        })
        .collect();
    assert_eq!(
        backoffs,
        vec![
            RetryReason::RateLimited,
            RetryReason::Unavailable,
            RetryReason::Unavailable
        ],
        "{:?}",
        run.waits
    );
    let retries = run
        .events
        .iter()
        .filter(|e| matches!(e, Event::Retrying { .. }))
        .count();
    assert_eq!(retries, 3);
    assert!(matches!(
        run.events.last(),
        Some(Event::Finished {
            reason: StopReason::Succeeded,
            attempts: 4,
            ..
        })
    ));
    let elapsed = run.now.saturating_duration_since(t0());
    assert!(
        elapsed >= Duration::from_millis(3_500) && elapsed <= Duration::from_secs(8),
        "{elapsed:?}"
    );
}

#[test]
fn a_503_storm_longer_than_the_attempts_gives_up() {
    let state = PortalState::new(7).assume_key_support(KeySupport::Supported);
    let opts = ExchangeOptions::new().policy(RetryPolicy::default().max_attempts(3));
    let ex = Exchange::with_options(&webhook(), add_from_chat(), &state, opts).unwrap();
    let storm = (0..3)
        .map(|_| answer(503, &classic_error("QUERY_LIMIT_EXCEEDED")))
        .collect();
    let run = drive(ex, storm, t0());
    match run.result {
        Err(Error::RetriesExhausted { attempts: 3, last }) => {
            assert_eq!(last.code(), Some(&ErrorCode::QueryLimitExceeded));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn overload_limit_is_never_retried() {
    let state = PortalState::new(7).assume_key_support(KeySupport::Supported);
    let ex = Exchange::new(&webhook(), add_from_chat(), &state).unwrap();
    let run = drive(
        ex,
        vec![answer(503, &classic_error("OVERLOAD_LIMIT"))],
        t0(),
    );
    let err = run.result.unwrap_err();
    assert_eq!(err.code(), Some(&ErrorCode::OverloadLimit));
    assert_eq!(run.sent.len(), 1);
    assert!(run.waits.is_empty());
}

#[test]
fn validation_errors_are_never_retried() {
    let state = PortalState::new(7).assume_key_support(KeySupport::Supported);
    let ex = Exchange::new(&webhook(), add_from_chat(), &state).unwrap();
    let run = drive(
        ex,
        vec![answer(
            400,
            &v3_error("BITRIX_REST_V3_EXCEPTION_VALIDATION_REQUESTVALIDATIONEXCEPTION"),
        )],
        t0(),
    );
    assert_eq!(
        run.result.unwrap_err().code(),
        Some(&ErrorCode::V3RequestValidation)
    );
    assert_eq!(run.sent.len(), 1);
}

#[test]
fn a_timeout_on_addfromchatmessage_is_retried_with_the_same_key() {
    let state = PortalState::new(7).assume_key_support(KeySupport::Supported);
    let ex = Exchange::new(&webhook(), add_from_chat(), &state).unwrap();
    let reset = T0 / 1000 + 300;
    let replayed = http::Response::builder()
        .status(200)
        .header("idempotent-replayed", "true")
        .body(Bytes::from(item_ok(reset)))
        .unwrap();
    let run = drive(
        ex,
        vec![
            Step::Fail(TransportFailure::timeout()),
            Step::Answer(replayed),
        ],
        t0(),
    );
    let reply = run.result.unwrap();
    assert!(reply.replayed, "the stored answer is reported as a replay");
    assert_eq!(run.sent.len(), 2);
    let k1 = key_of(&run.sent[0]).unwrap();
    let k2 = key_of(&run.sent[1]).unwrap();
    assert_eq!(k1, k2);
    assert_eq!(k1.len(), 32);
    assert!(k1.bytes().all(|b| b.is_ascii_hexdigit()));
    assert!(run.events.iter().any(|e| matches!(
        e,
        Event::Retrying {
            reason: RetryReason::TransportMaybeSent,
            next_attempt: 2
        }
    )));
    assert!(matches!(
        run.events.last(),
        Some(Event::Finished { replayed: true, .. })
    ));
}

#[test]
fn a_user_key_is_sent_instead_of_a_generated_one() {
    let state = PortalState::new(7).assume_key_support(KeySupport::Supported);
    let key = b24_core::IdempotencyKey::new("order-4711-result").unwrap();
    let opts = ExchangeOptions::new().idempotency_key(key);
    let ex = Exchange::with_options(&webhook(), add_from_chat(), &state, opts).unwrap();
    let run = drive(
        ex,
        vec![
            answer(
                500,
                &v3_error("BITRIX_REST_V3_EXCEPTION_INTERNAL_INTERNALEXCEPTION"),
            ),
            answer(200, &item_ok(T0 / 1000 + 300)),
        ],
        t0(),
    );
    run.result.unwrap();
    assert_eq!(key_of(&run.sent[0]).as_deref(), Some("order-4711-result"));
    assert_eq!(key_of(&run.sent[1]).as_deref(), Some("order-4711-result"));
    // A key on a classic method is refused up front.
    let opts = ExchangeOptions::new().idempotency_key(b24_core::IdempotencyKey::new("k").unwrap());
    assert!(Exchange::with_options(&webhook(), im_add(), &state, opts).is_err());
}

#[test]
fn a_maybe_sent_failure_on_a_write_without_a_key_is_not_retried() {
    let state = PortalState::new(7).assume_key_support(KeySupport::Supported);
    // Classic im.message.add: no idempotency keys exist there.
    let ex = Exchange::new(&webhook(), im_add(), &state).unwrap();
    assert!(ex.idempotency_key().is_none());
    let run = drive(ex, vec![Step::Fail(TransportFailure::timeout())], t0());
    match run.result.map_err(maybe_ran) {
        Err(Error::Transport {
            kind: TransportErrorKind::Timeout,
            sent: SentState::MaybeSent,
            ..
        }) => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(run.sent.len(), 1);

    // A REST 3.0 write with keys turned off: the same.
    let opts = ExchangeOptions::new().without_idempotency_key();
    let add = TaskResultAdd::new(TaskId::new(51).unwrap(), "Task completed").unwrap();
    let ex = Exchange::with_options(&webhook(), add, &state, opts).unwrap();
    let run = drive(
        ex,
        vec![Step::Fail(TransportFailure::new(
            TransportErrorKind::ConnectionClosed,
            SentState::MaybeSent,
        ))],
        t0(),
    );
    assert!(key_of(&run.sent[0]).is_none());
    assert!(matches!(
        run.result.map_err(maybe_ran),
        Err(Error::Transport {
            sent: SentState::MaybeSent,
            ..
        })
    ));
    assert_eq!(run.sent.len(), 1);

    // A 5xx on it is not repeated either: the write may have run.
    let add = TaskResultAdd::new(TaskId::new(51).unwrap(), "Task completed").unwrap();
    let opts = ExchangeOptions::new().without_idempotency_key();
    let ex = Exchange::with_options(&webhook(), add, &state, opts).unwrap();
    let run = drive(ex, vec![answer(502, "<html>Bad Gateway</html>")], t0());
    assert!(matches!(
        run.result.map_err(maybe_ran),
        Err(Error::UnexpectedBody { status: 502, .. })
    ));
    assert_eq!(run.sent.len(), 1);
}

#[test]
fn a_not_sent_failure_on_a_write_without_a_key_is_retried() {
    let state = PortalState::new(7).assume_key_support(KeySupport::Supported);
    let ex = Exchange::new(&webhook(), im_add(), &state).unwrap();
    let run = drive(
        ex,
        vec![
            Step::Fail(
                TransportFailure::connect()
                    .with_source(std::io::Error::from(std::io::ErrorKind::ConnectionRefused)),
            ),
            answer(200, r#"{"result":34239,"time":{"operating":0}}"#),
        ],
        t0(),
    );
    assert_eq!(run.result.unwrap().result.get(), 34239);
    assert_eq!(run.sent.len(), 2);
    assert_eq!(
        run.waits[0].1,
        WaitReason::Backoff(RetryReason::TransportNotSent)
    );
}

#[test]
fn a_429_is_waited_out_when_the_reset_is_near_enough() {
    let state = PortalState::new(7).assume_key_support(KeySupport::Supported);
    let ex = Exchange::new(&webhook(), add_from_chat(), &state).unwrap();
    let reset_secs = T0 / 1000 + 30;
    let body = format!(
        r#"{{"error":{{"code":"BITRIX_REST_V3_EXCEPTION_RATELIMITEXCEPTION","message":"Method is blocked due to operation time limit."}},"time":{{"operating":481.2,"operating_reset_at":{reset_secs}}}}}"#
    );
    let run = drive(
        ex,
        vec![answer(429, &body), answer(200, &item_ok(reset_secs + 60))],
        t0(),
    );
    run.result.unwrap();
    // The reset is a whole second on the portal's clock: the retry waits one second
    // past it (the default reset margin), as a hold before sending does.
    assert_eq!(
        run.waits,
        vec![(
            Timestamp::from_unix_secs(reset_secs + 1),
            WaitReason::BudgetReset
        )]
    );
    assert!(run.events.iter().any(
        |e| matches!(e, Event::Waiting { reason: WaitReason::BudgetReset, duration, .. }
            if *duration == Duration::from_millis(30_900))
    ));

    // The margin is a policy setting.
    let state = PortalState::new(7).assume_key_support(KeySupport::Supported);
    let opts = ExchangeOptions::new()
        .policy(RetryPolicy::default().reset_margin(Duration::from_millis(2_500)));
    let ex = Exchange::with_options(&webhook(), add_from_chat(), &state, opts).unwrap();
    let run = drive(
        ex,
        vec![answer(429, &body), answer(200, &item_ok(reset_secs + 60))],
        t0(),
    );
    run.result.unwrap();
    assert_eq!(
        run.waits,
        vec![(
            Timestamp::from_unix_millis(reset_secs * 1000 + 2_500),
            WaitReason::BudgetReset
        )]
    );
}

#[test]
fn a_429_with_a_far_reset_is_a_typed_error_and_holds_later_calls() {
    let state = PortalState::new(7).assume_key_support(KeySupport::Supported);
    let opts = ExchangeOptions::new()
        .policy(RetryPolicy::default().max_operating_wait(Duration::from_secs(10)));
    let ex = Exchange::with_options(&webhook(), add_from_chat(), &state, opts.clone()).unwrap();
    let reset_secs = T0 / 1000 + 30;
    let body = format!(
        r#"{{"error":"OPERATION_TIME_LIMIT","error_description":"Method is blocked due to operation time limit.","time":{{"operating_reset_at":{reset_secs}}}}}"#
    );
    let run = drive(ex, vec![answer(429, &body)], t0());
    match &run.result {
        Err(Error::OperatingLimit {
            method,
            reset_at,
            last,
        }) => {
            assert_eq!(method, "tasks.task.result.addfromchatmessage");
            // The reported reset plus the 1 s margin: when a call may go again.
            assert_eq!(*reset_at, Timestamp::from_unix_secs(reset_secs + 1));
            assert_eq!(last.as_ref().map(|e| e.status), Some(429));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(run.sent.len(), 1);
    // The next call of the same method is refused without a request...
    let ex = Exchange::with_options(&webhook(), add_from_chat(), &state, opts.clone()).unwrap();
    let run = drive(ex, vec![], run.now);
    assert!(matches!(
        run.result,
        Err(Error::OperatingLimit { last: None, .. })
    ));
    assert!(run.sent.is_empty());
    // ...while other methods go on.
    let ex = Exchange::with_options(&webhook(), im_add(), &state, opts).unwrap();
    let run = drive(ex, vec![answer(200, r#"{"result":1}"#)], run.now);
    run.result.unwrap();
}

#[test]
fn a_429_without_reset_uses_the_fallback() {
    let state = PortalState::new(7).assume_key_support(KeySupport::Supported);
    let ex = Exchange::new(&webhook(), add_from_chat(), &state).unwrap();
    let run = drive(
        ex,
        vec![
            answer(429, &classic_error("OPERATION_TIME_LIMIT")),
            answer(200, &item_ok(T0 / 1000 + 300)),
        ],
        t0(),
    );
    run.result.unwrap();
    let after_first = t0().saturating_add(Duration::from_millis(100));
    assert_eq!(
        run.waits,
        vec![(
            after_first.saturating_add(Duration::from_secs(60)),
            WaitReason::BudgetReset
        )]
    );
}

#[test]
fn the_budget_holds_a_method_near_its_limit_before_sending() {
    let state = PortalState::new(7)
        .assume_key_support(KeySupport::Supported)
        .budget(BudgetConfig::default());
    let reset_secs = T0 / 1000 + 20;
    // A reply reports 478 s of 480 s used.
    let body = item_ok(reset_secs).replace(r#""operating":0.5"#, r#""operating":478"#);
    let ex = Exchange::new(&webhook(), add_from_chat(), &state).unwrap();
    drive(ex, vec![answer(200, &body)], t0()).result.unwrap();
    // The next call waits for the reset (+1 s margin) before it is sent at all.
    let ex = Exchange::new(&webhook(), add_from_chat(), &state).unwrap();
    let run = drive(ex, vec![answer(200, &item_ok(reset_secs + 60))], t0());
    run.result.unwrap();
    assert_eq!(
        run.waits,
        vec![(
            Timestamp::from_unix_secs(reset_secs + 1),
            WaitReason::BudgetReset
        )]
    );
}

#[test]
fn the_limiter_gives_concurrent_calls_distinct_slots() {
    let state = PortalState::new(7).assume_key_support(KeySupport::Supported);
    let mut sent_now = 0;
    let mut waited = Vec::new();
    let mut exchanges: Vec<_> = (0..52)
        .map(|_| Exchange::new(&webhook(), im_add(), &state).unwrap())
        .collect();
    for ex in &mut exchanges {
        match ex.poll(t0()) {
            Action::Send(_) => sent_now += 1,
            Action::Wait { until, reason } => {
                assert_eq!(reason, WaitReason::RateLimit);
                waited.push(until);
            }
            other => panic!("{other:?}"),
        }
    }
    // 50 minus the default margin of 2 leave at once; the rest every 500 ms.
    assert_eq!(sent_now, 48);
    let expect: Vec<_> = (1..=4)
        .map(|i| t0().saturating_add(Duration::from_millis(500 * i)))
        .collect();
    assert_eq!(waited, expect);
    // A waiting call is sent at its slot without taking another.
    let last = exchanges.last_mut().unwrap();
    assert!(matches!(last.poll(expect[3]), Action::Send(_)));
}

#[test]
fn a_401_refreshes_once_and_replays_with_the_new_token() {
    let store = token_store("oldAccess1", "oldRefresh1");
    let state = oauth_state(store.clone());
    let mut ex = Exchange::new(&oauth(), add_from_chat(), &state).unwrap();
    let run = drive_with(
        &mut ex,
        vec![
            answer(401, &classic_error("expired_token")),
            answer(200, &item_ok(T0 / 1000 + 300)),
        ],
        vec![token_answer("newAccess2", "newRefresh2")],
        t0(),
    );
    run.result.as_ref().unwrap();
    assert_eq!(run.sent.len(), 2);
    assert!(body_text(&run.sent[0]).contains(r#""auth":"oldAccess1""#));
    assert!(body_text(&run.sent[1]).contains(r#""auth":"newAccess2""#));
    // The replay of a write keeps its key.
    assert_eq!(key_of(&run.sent[0]), key_of(&run.sent[1]));
    // The refresh is a send of its own, between the two attempts, not counted as one.
    assert_eq!(
        run.io(),
        vec![
            Seen::Send(Purpose::Call),
            Seen::Send(Purpose::TokenRefresh),
            Seen::Send(Purpose::Call)
        ]
    );
    assert_eq!(ex.attempts(), 2);
    assert_eq!(run.refreshes.len(), 1);
    assert_eq!(run.refreshes[0].method(), http::Method::POST);
    assert!(body_text(&run.refreshes[0]).contains("refresh_token=oldRefresh1"));
    let current = current(&*store);
    assert_eq!(current.refresh_token().expose_secret(), "newRefresh2");
    assert_eq!(current.generation(), TokenGeneration::new(2));
    assert!(run.events.iter().any(|e| matches!(
        e,
        Event::RefreshRequested { stale } if *stale == TokenGeneration::new(1)
    )));
    assert!(run.events.iter().any(|e| matches!(
        e,
        Event::TokenRefreshed { generation } if *generation == TokenGeneration::new(2)
    )));
    // No event, and no error text, carries a secret or a URI.
    let shown = format!("{:?}", run.events);
    assert!(
        !shown.contains("Access") && !shown.contains("https://"),
        "{shown}"
    );
}

#[test]
fn any_401_on_rest_v3_counts_as_an_expired_token() {
    let store = token_store("a1", "r1");
    let state = oauth_state(store);
    let mut ex = Exchange::new(&oauth(), add_from_chat(), &state).unwrap();
    let run = drive_with(
        &mut ex,
        vec![
            answer(
                401,
                &v3_error("BITRIX_REST_V3_EXCEPTION_ACCESSDENIEDEXCEPTION"),
            ),
            answer(200, &item_ok(T0 / 1000 + 300)),
        ],
        vec![token_answer("a2", "r2")],
        t0(),
    );
    run.result.unwrap();
    assert_eq!(run.refreshes.len(), 1);
}

#[test]
fn a_second_401_after_a_refresh_is_a_typed_error() {
    let store = token_store("a1", "r1");
    let state = oauth_state(store);
    let mut ex = Exchange::new(&oauth(), add_from_chat(), &state).unwrap();
    let run = drive_with(
        &mut ex,
        vec![
            answer(401, &classic_error("expired_token")),
            answer(401, &classic_error("invalid_token")),
        ],
        vec![token_answer("a2", "r2")],
        t0(),
    );
    match run.result {
        Err(Error::TokenRejected { status: 401, last }) => {
            assert_eq!(last.unwrap().code, ErrorCode::InvalidToken);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(run.refreshes.len(), 1, "never loops on refreshes");
    assert_eq!(run.sent.len(), 2);
}

#[test]
fn a_failed_refresh_ends_the_call_with_the_refresh_error() {
    let store = token_store("a1", "r1");
    let state = oauth_state(store.clone());
    let mut ex = Exchange::new(&oauth(), add_from_chat(), &state).unwrap();
    let run = drive_with(
        &mut ex,
        vec![answer(401, &classic_error("expired_token"))],
        vec![invalid_grant()],
        t0(),
    );
    match run.result {
        Err(Error::TokenRefresh(e)) => {
            assert_eq!(e.failure, RefreshFailure::InvalidGrant);
            assert!(e.needs_reauthorization());
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        run.events.last(),
        Some(Event::Finished {
            reason: StopReason::TokenRefreshFailed,
            attempts: 1,
            ..
        })
    ));
    // The stored pair is left as it was, for the next call.
    assert_eq!(current(&*store).generation(), TokenGeneration::new(1));
}

/// Polls `ex` at `now`; the action must be a call's send (returned) or a refresh's.
fn expect_send<M: Method>(
    ex: &mut Exchange<M>,
    now: Timestamp,
    purpose: Purpose,
) -> http::Request<Bytes> {
    match ex.poll(now) {
        Action::Send(out) => {
            assert_eq!(out.purpose(), purpose);
            out.into_request()
        }
        other => panic!("expected a send for {purpose:?}, got {other:?}"),
    }
}

#[test]
fn concurrent_401s_share_one_refresh() {
    let store = token_store("a1", "r1");
    let state = oauth_state(store.clone());
    let now = t0();
    let mut a = Exchange::new(&oauth(), add_from_chat(), &state).unwrap();
    let mut b = Exchange::new(&oauth(), add_from_chat(), &state).unwrap();
    expect_send(&mut a, now, Purpose::Call);
    expect_send(&mut b, now, Purpose::Call);
    a.handle_response(respond(401, &classic_error("expired_token")), now);
    b.handle_response(respond(401, &classic_error("expired_token")), now);

    // The first gets the turn and sends the refresh request...
    let refresh = expect_send(&mut a, now, Purpose::TokenRefresh);
    assert!(body_text(&refresh).contains("refresh_token=r1"));
    // ...the second, asking while that lease is held, waits for it.
    let until = match b.poll(now) {
        Action::Wait {
            until,
            reason: WaitReason::TokenRefresh,
        } => until,
        other => panic!("expected a wait for the refresh, got {other:?}"),
    };
    assert!(until > now);
    assert!(until <= now.saturating_add(b24_core::engine::REFRESH_LEASE));

    // The first stores the new pair and replays with it.
    a.handle_response(token_answer("a2", "r2"), now);
    let replay = expect_send(&mut a, now, Purpose::Call);
    assert!(body_text(&replay).contains(r#""auth":"a2""#));
    assert_eq!(current(&*store).generation(), TokenGeneration::new(2));

    // The second finds the store refreshed: it replays at once, without a request of
    // its own.
    let replay = expect_send(&mut b, until, Purpose::Call);
    assert!(body_text(&replay).contains(r#""auth":"a2""#));
    let events: Vec<_> = std::iter::from_fn(|| b.poll_event()).collect();
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
    for ex in [&mut a, &mut b] {
        ex.handle_response(respond(200, &item_ok(T0 / 1000 + 300)), now);
        assert!(matches!(ex.poll(now), Action::Done(Ok(_))));
    }
}

#[test]
fn invalid_grant_after_someone_else_refreshed_replays_with_their_pair() {
    let store = token_store("a1", "r1");
    let state = oauth_state(store.clone());
    let now = t0();
    let mut ex = Exchange::new(&oauth(), add_from_chat(), &state).unwrap();
    expect_send(&mut ex, now, Purpose::Call);
    ex.handle_response(respond(401, &classic_error("expired_token")), now);
    expect_send(&mut ex, now, Purpose::TokenRefresh);
    // Another process refreshes first (its lease expired ours, say): generation 2...
    ready(store.replace(
        TokenGeneration::new(1),
        b24_core::engine::TokenSet::new(AccessToken::new("a2"), RefreshToken::new("r2")),
    ))
    .unwrap();
    // ...so the refresh with the now-spent refresh token is refused.
    ex.handle_response(invalid_grant(), now);
    let replay = expect_send(&mut ex, now, Purpose::Call);
    assert!(body_text(&replay).contains(r#""auth":"a2""#));
    ex.handle_response(respond(200, &item_ok(T0 / 1000 + 300)), now);
    assert!(matches!(ex.poll(now), Action::Done(Ok(_))));
    assert_eq!(current(&*store).generation(), TokenGeneration::new(2));
}

#[test]
fn invalid_grant_with_the_store_unchanged_fails_and_releases_the_lease() {
    let store = token_store("a1", "r1");
    let state = oauth_state(store.clone());
    let now = t0();
    let start_with_401 = |now| {
        let mut ex = Exchange::new(&oauth(), add_from_chat(), &state).unwrap();
        expect_send(&mut ex, now, Purpose::Call);
        ex.handle_response(respond(401, &classic_error("expired_token")), now);
        ex
    };
    let mut first = start_with_401(now);
    let mut second = start_with_401(now);
    expect_send(&mut first, now, Purpose::TokenRefresh);
    // Held: the second waits.
    assert!(matches!(
        second.poll(now),
        Action::Wait {
            reason: WaitReason::TokenRefresh,
            ..
        }
    ));
    first.handle_response(invalid_grant(), now);
    match first.poll(now) {
        Action::Done(Err(Error::TokenRefresh(e))) => {
            assert_eq!(e.failure, RefreshFailure::InvalidGrant);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(current(&*store).generation(), TokenGeneration::new(1));
    // The lease went with the failure: a third caller gets the turn at once, long
    // before the lease would have ended by itself.
    let mut third = start_with_401(now);
    expect_send(&mut third, now, Purpose::TokenRefresh);
}

#[test]
fn a_webhook_401_is_not_refreshed() {
    let state = PortalState::new(7).assume_key_support(KeySupport::Supported);
    let ex = Exchange::new(&webhook(), im_add(), &state).unwrap();
    let run = drive(ex, vec![answer(401, &classic_error("NO_AUTH_FOUND"))], t0());
    assert_eq!(
        run.result.unwrap_err().code(),
        Some(&ErrorCode::NoAuthFound)
    );
}

#[test]
fn the_deadline_stops_retries() {
    let state = PortalState::new(7).assume_key_support(KeySupport::Supported);
    let opts = ExchangeOptions::new().policy(
        RetryPolicy::default()
            .max_attempts(10)
            .deadline(Duration::from_secs(3)),
    );
    let ex = Exchange::with_options(&webhook(), add_from_chat(), &state, opts).unwrap();
    let storm = (0..3)
        .map(|_| answer(503, &classic_error("QUERY_LIMIT_EXCEEDED")))
        .collect::<Vec<_>>();
    // Backoffs of 0.5-1, 1-2, 2-4 s cannot all fit in 3 s.
    let mut ex = ex;
    let mut script: VecDeque<Step> = storm.into();
    let mut now = t0();
    let mut sent = 0;
    let result = loop {
        match ex.poll(now) {
            Action::Send(_) => {
                sent += 1;
                match script.pop_front() {
                    Some(Step::Answer(r)) => ex.handle_response(r, now),
                    _ => panic!("more attempts than the deadline allows"),
                }
            }
            Action::Wait { until, .. } => now = until,
            Action::Done(r) => break r,
            other => panic!("{other:?}"),
        }
    };
    match result {
        Err(Error::DeadlineExceeded { attempts, last }) => {
            assert_eq!(attempts, sent);
            assert!(attempts >= 2);
            assert_eq!(last.unwrap().code(), Some(&ErrorCode::QueryLimitExceeded));
        }
        other => panic!("{other:?}"),
    }
    assert!(now.saturating_duration_since(t0()) <= Duration::from_secs(3));
}

#[test]
fn driving_out_of_order_is_a_typed_error() {
    let state = PortalState::new(7).assume_key_support(KeySupport::Supported);
    let mut ex = Exchange::new(&webhook(), im_add(), &state).unwrap();
    assert!(matches!(ex.poll(t0()), Action::Send(_)));
    assert!(matches!(
        ex.poll(t0()),
        Action::Done(Err(Error::ExchangeMisuse(_)))
    ));
    assert!(matches!(
        ex.poll(t0()),
        Action::Done(Err(Error::ExchangeMisuse(_)))
    ));
    // Inputs that are not owed are ignored.
    ex.handle_response(respond(200, r#"{"result":1}"#), t0());
    assert!(ex.is_finished());
}

/// A REST 3.0 batch holding a write and a read.
fn batch_with_a_write() -> BatchV3 {
    let add = TaskResultAdd::new(TaskId::new(51).unwrap(), "Task completed").unwrap();
    let get = TaskGet::for_chat(TaskId::new(51).unwrap());
    BatchV3::new()
        .push(BatchCommand::from_method(&add).unwrap())
        .unwrap()
        .push(BatchCommand::from_method(&get).unwrap())
        .unwrap()
}

fn is_key_refusal(err: &Error) -> bool {
    matches!(
        err,
        Error::InvalidInput(InputError::Param { field, .. }) if field == "Idempotency-Key"
    )
}

#[test]
fn a_batch_with_writes_gets_no_key_and_is_not_repeated_once_it_may_have_run() {
    let state = PortalState::new(7).assume_key_support(KeySupport::Supported);
    let batch = batch_with_a_write();
    assert!(!batch.honours_idempotency_key());
    let ex = Exchange::new(&webhook(), batch.clone(), &state).unwrap();
    assert!(ex.idempotency_key().is_none());
    let run = drive(ex, vec![Step::Fail(TransportFailure::timeout())], t0());
    let result = run.result.map_err(maybe_ran);
    assert!(
        matches!(
            result,
            Err(Error::Transport {
                sent: SentState::MaybeSent,
                ..
            })
        ),
        "{:?}",
        result.err()
    );
    assert_eq!(run.sent.len(), 1, "a batch holding a write is not repeated");
    assert!(
        key_of(&run.sent[0]).is_none(),
        "batch ignores keys: none sent"
    );
    assert!(run.events.iter().any(|e| matches!(
        e,
        Event::AttemptStarted {
            idempotency_key: false,
            ..
        }
    )));

    // A 5xx is not repeated either.
    let ex = Exchange::new(&webhook(), batch.clone(), &state).unwrap();
    let run = drive(
        ex,
        vec![answer(
            500,
            &v3_error("BITRIX_REST_V3_EXCEPTION_INTERNAL_INTERNALEXCEPTION"),
        )],
        t0(),
    );
    assert_eq!(run.result.unwrap_err().status(), Some(500));
    assert_eq!(run.sent.len(), 1);

    // A caller's key for a batch is refused before any request.
    let opts = ExchangeOptions::new().idempotency_key(IdempotencyKey::new("batch-1").unwrap());
    let err = Exchange::with_options(&webhook(), batch, &state, opts).unwrap_err();
    assert!(is_key_refusal(&err), "{err:?}");
}

#[test]
fn a_batch_of_reads_is_repeated_without_a_key() {
    let state = PortalState::new(7).assume_key_support(KeySupport::Supported);
    let get = TaskGet::for_chat(TaskId::new(51).unwrap());
    let batch = BatchV3::new()
        .push(BatchCommand::from_method(&get).unwrap())
        .unwrap();
    let ex = Exchange::new(&webhook(), batch, &state).unwrap();
    let run = drive(
        ex,
        vec![
            Step::Fail(TransportFailure::timeout()),
            answer(200, r#"{"result":[{"item":{"id":51}}]}"#),
        ],
        t0(),
    );
    assert_eq!(run.result.unwrap().result.len(), 1);
    assert_eq!(run.sent.len(), 2);
    assert!(run.sent.iter().all(|r| key_of(r).is_none()));
}

#[test]
fn a_key_on_a_read_is_refused() {
    let state = PortalState::new(7).assume_key_support(KeySupport::Supported);
    let opts = ExchangeOptions::new().idempotency_key(IdempotencyKey::new("read-1").unwrap());
    let err = Exchange::with_options(
        &webhook(),
        TaskGet::for_chat(TaskId::new(51).unwrap()),
        &state,
        opts,
    )
    .unwrap_err();
    assert!(is_key_refusal(&err), "{err:?}");
}

#[test]
fn raw_calls_state_whether_keys_are_honoured() {
    let state = PortalState::new(7).assume_key_support(KeySupport::Supported);
    let timeout_then_ok = || {
        vec![
            Step::Fail(TransportFailure::timeout()),
            answer(200, r#"{"result":{"item":{"id":18}}}"#),
        ]
    };
    // By default a REST 3.0 write by name honours keys: keyed, repeated.
    let raw = RawCall::new("tasks.task.result.add", Api::V3).unwrap();
    assert!(raw.honours_idempotency_key());
    let ex = Exchange::new(&webhook(), raw.clone(), &state).unwrap();
    let run = drive(ex, timeout_then_ok(), t0());
    run.result.unwrap();
    assert_eq!(run.sent.len(), 2);
    assert!(key_of(&run.sent[0]).is_some());
    assert_eq!(key_of(&run.sent[0]), key_of(&run.sent[1]));

    // Stated otherwise: no key, not repeated once it may have run, a key refused.
    let raw = raw.with_idempotency(false);
    let ex = Exchange::new(&webhook(), raw.clone(), &state).unwrap();
    assert!(ex.idempotency_key().is_none());
    let run = drive(ex, vec![Step::Fail(TransportFailure::timeout())], t0());
    assert!(run.result.is_err());
    assert_eq!(run.sent.len(), 1);
    assert!(key_of(&run.sent[0]).is_none());
    let opts = ExchangeOptions::new().idempotency_key(IdempotencyKey::new("k").unwrap());
    assert!(is_key_refusal(
        &Exchange::with_options(&webhook(), raw, &state, opts).unwrap_err()
    ));

    // A raw REST 3.0 `batch` does not honour keys by default.
    let raw = RawCall::new("batch", Api::V3).unwrap();
    assert!(!raw.honours_idempotency_key());
    assert!(!raw
        .clone()
        .with_repeat(b24_core::Repeat::Unsafe)
        .honours_idempotency_key());
    // Classic methods never do, whatever is stated.
    let raw = RawCall::new("im.message.add", Api::Classic)
        .unwrap()
        .with_idempotency(true);
    assert!(!raw.honours_idempotency_key());
    let ex = Exchange::new(&webhook(), raw, &state).unwrap();
    assert!(ex.idempotency_key().is_none());
}

#[test]
fn error_accessors_follow_last_through_every_wrapper() {
    use b24_core::types::ErrorClass;
    let state = PortalState::new(7).assume_key_support(KeySupport::Supported);

    // Gave up after repeated QUERY_LIMIT_EXCEEDED.
    let opts = ExchangeOptions::new().policy(RetryPolicy::default().max_attempts(2));
    let ex = Exchange::with_options(&webhook(), add_from_chat(), &state, opts).unwrap();
    let storm = (0..2)
        .map(|_| answer(503, &classic_error("QUERY_LIMIT_EXCEEDED")))
        .collect();
    let err = drive(ex, storm, t0()).result.unwrap_err();
    assert!(matches!(err, Error::RetriesExhausted { .. }), "{err:?}");
    assert_eq!(err.class(), Some(ErrorClass::RateLimited));
    assert_eq!(err.code(), Some(&ErrorCode::QueryLimitExceeded));
    assert_eq!(err.status(), Some(503));
    assert_eq!(err.api_error().map(|e| e.status), Some(503));

    // A 429 whose reset is too far away.
    let opts =
        ExchangeOptions::new().policy(RetryPolicy::default().max_operating_wait(Duration::ZERO));
    let ex = Exchange::with_options(&webhook(), im_add(), &state, opts.clone()).unwrap();
    let err = drive(
        ex,
        vec![answer(429, &classic_error("OPERATION_TIME_LIMIT"))],
        t0(),
    )
    .result
    .unwrap_err();
    assert!(
        matches!(err, Error::OperatingLimit { last: Some(_), .. }),
        "{err:?}"
    );
    assert_eq!(err.class(), Some(ErrorClass::OperatingLimit));
    assert_eq!(err.code(), Some(&ErrorCode::OperationTimeLimit));
    assert_eq!(err.status(), Some(429));
    // Held before sending: no answer behind it, so every accessor says none.
    let ex = Exchange::with_options(&webhook(), im_add(), &state, opts).unwrap();
    let err = drive(ex, vec![], t0()).result.unwrap_err();
    assert!(
        matches!(err, Error::OperatingLimit { last: None, .. }),
        "{err:?}"
    );
    assert_eq!(
        (
            err.class(),
            err.code(),
            err.status(),
            err.api_error().is_some()
        ),
        (None, None, None, false)
    );

    // A deadline that passed after a failed attempt, and one wrapping a give-up.
    let api = b24_core::types::ApiError::new(
        503,
        ErrorCode::QueryLimitExceeded,
        "Too many requests",
        b24_core::types::ErrorShape::Classic,
    );
    let deadline = Error::DeadlineExceeded {
        attempts: 2,
        last: Some(Box::new(Error::RetriesExhausted {
            attempts: 2,
            last: Box::new(Error::from(api)),
        })),
    };
    assert_eq!(deadline.class(), Some(ErrorClass::RateLimited));
    assert_eq!(deadline.code(), Some(&ErrorCode::QueryLimitExceeded));
    assert_eq!(deadline.status(), Some(503));
    let bare = Error::DeadlineExceeded {
        attempts: 1,
        last: Some(Box::new(Error::Transport {
            kind: TransportErrorKind::Timeout,
            sent: SentState::NotSent,
            source: None,
        })),
    };
    assert_eq!(
        (bare.class(), bare.code(), bare.status()),
        (None, None, None)
    );
}

#[test]
fn a_second_401_keeps_its_code_and_class_reachable() {
    let store = token_store("a1", "r1");
    let state = oauth_state(store.clone());
    let mut ex = Exchange::new(&oauth(), im_add(), &state).unwrap();
    let run = drive_with(
        &mut ex,
        vec![
            answer(401, &classic_error("expired_token")),
            answer(401, &classic_error("invalid_token")),
        ],
        vec![token_answer("a2", "r2")],
        t0(),
    );
    let err = run.result.unwrap_err();
    assert!(matches!(err, Error::TokenRejected { .. }), "{err:?}");
    assert_eq!(err.code(), Some(&ErrorCode::InvalidToken));
    assert_eq!(err.class(), Some(b24_core::types::ErrorClass::TokenExpired));
    assert_eq!(err.status(), Some(401));
}

#[test]
fn the_replay_after_a_refresh_does_not_use_up_a_retry() {
    let tokens = || token_store("a1", "r1");
    // max_attempts(2): first attempt 401, refresh, replay hits the rate limit, and the
    // one retry the policy allows is still there.
    let store = tokens();
    let state = oauth_state(store.clone());
    let opts = ExchangeOptions::new().policy(RetryPolicy::default().max_attempts(2));
    let mut ex = Exchange::with_options(&oauth(), add_from_chat(), &state, opts).unwrap();
    let run = drive_with(
        &mut ex,
        vec![
            answer(401, &classic_error("expired_token")),
            answer(503, &classic_error("QUERY_LIMIT_EXCEEDED")),
            answer(200, &item_ok(T0 / 1000 + 300)),
        ],
        vec![token_answer("a2", "r2")],
        t0(),
    );
    run.result.unwrap();
    assert_eq!(run.sent.len(), 3);
    assert_eq!(ex.attempts(), 3, "attempts() counts every request sent");
    assert_eq!(run.refreshes.len(), 1);

    // max_attempts(1) ("never retry"): the replay still happens, but no retry after it.
    let store = tokens();
    let state = oauth_state(store.clone());
    let opts = ExchangeOptions::new().policy(RetryPolicy::no_retries());
    let mut ex = Exchange::with_options(&oauth(), add_from_chat(), &state, opts).unwrap();
    let run = drive_with(
        &mut ex,
        vec![
            answer(401, &classic_error("expired_token")),
            answer(503, &classic_error("QUERY_LIMIT_EXCEEDED")),
        ],
        vec![token_answer("a2", "r2")],
        t0(),
    );
    match run.result {
        Err(Error::RetriesExhausted { attempts: 2, last }) => {
            assert_eq!(last.code(), Some(&ErrorCode::QueryLimitExceeded));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(run.sent.len(), 2);

    // A retry before the refresh still counts: 503, then 401, replay, 503 with
    // max_attempts(2) gives up after the replay.
    let store = tokens();
    let state = oauth_state(store.clone());
    let opts = ExchangeOptions::new().policy(RetryPolicy::default().max_attempts(2));
    let mut ex = Exchange::with_options(&oauth(), add_from_chat(), &state, opts).unwrap();
    let run = drive_with(
        &mut ex,
        vec![
            answer(503, &classic_error("QUERY_LIMIT_EXCEEDED")),
            answer(401, &classic_error("expired_token")),
            answer(503, &classic_error("QUERY_LIMIT_EXCEEDED")),
        ],
        vec![token_answer("a2", "r2")],
        t0(),
    );
    assert!(
        matches!(run.result, Err(Error::RetriesExhausted { attempts: 3, .. })),
        "{:?}",
        run.result.err()
    );
}

fn commands_batch(commands: &[BatchCommand]) -> BatchV3 {
    BatchV3::from_commands(commands.iter().cloned()).unwrap()
}

fn add_command() -> BatchCommand {
    BatchCommand::from_method(&TaskResultAdd::new(TaskId::new(51).unwrap(), "x").unwrap()).unwrap()
}

fn get_command() -> BatchCommand {
    BatchCommand::from_method(&TaskGet::for_chat(TaskId::new(51).unwrap())).unwrap()
}

#[test]
fn a_rest_v3_batch_is_charged_to_batch_alone() {
    // The platform meters only the outer call of a REST 3.0 batch
    // (rest/classes/general/RestApiServer.php); the classic batch charges each
    // command to its own method (rest.php).
    let batch = commands_batch(&[add_command(), get_command(), add_command()]);
    assert_eq!(batch.budget_methods(), vec!["batch"]);
    assert_eq!(
        add_from_chat().budget_methods(),
        vec![add_from_chat().name()]
    );
    let mut cmd = serde_json::Map::new();
    cmd.insert(
        "cmd".into(),
        serde_json::json!({"a": "user.get?ID=1", "b": "im.message.add?DIALOG_ID=chat58&MESSAGE=x", "c": "user.get"}),
    );
    let classic = RawCall::new("batch", Api::Classic)
        .unwrap()
        .with_params(cmd);
    assert_eq!(classic.budget_methods(), vec!["user.get", "im.message.add"]);
    assert_eq!(
        RawCall::new("batch", Api::V3).unwrap().budget_methods(),
        vec!["batch"]
    );
}

#[test]
fn a_rest_v3_batch_reply_is_recorded_under_batch() {
    let budgets = Arc::new(MemoryBudgetStore::new(BudgetConfig::default()));
    let state = PortalState::new(7).budget_store(budgets.clone());
    let reset_secs = T0 / 1000 + 20;
    let ex = Exchange::new(&webhook(), commands_batch(&[get_command()]), &state).unwrap();
    let body = format!(
        r#"{{"result":[{{"item":{{"id":51}}}}],"time":{{"operating":4,"operating_reset_at":{reset_secs}}}}}"#
    );
    let run = drive(ex, vec![answer(200, &body)], t0());
    run.result.unwrap();
    // The answer's time is the batch's: charged to `batch`, not to the command's method.
    assert_eq!(
        budgets.reset_at("batch"),
        Some(Timestamp::from_unix_secs(reset_secs))
    );
    assert_eq!(budgets.reset_at("tasks.task.get"), None);
}

#[test]
fn a_rest_v3_batch_is_not_held_by_its_commands_methods() {
    let state = PortalState::new(7);
    let reset_secs = T0 / 1000 + 20;
    // A reply reports tasks.task.result.add at 478 s of 420 s: the method is held.
    let body = item_ok(reset_secs).replace(r#""operating":0.5"#, r#""operating":478"#);
    let add = TaskResultAdd::new(TaskId::new(51).unwrap(), "x").unwrap();
    let ex = Exchange::new(&webhook(), add, &state).unwrap();
    drive(ex, vec![answer(200, &body)], t0()).result.unwrap();
    let add = TaskResultAdd::new(TaskId::new(51).unwrap(), "x").unwrap();
    let ex = Exchange::with_options(
        &webhook(),
        add,
        &state,
        ExchangeOptions::new()
            .policy(RetryPolicy::default().max_operating_wait(Duration::from_secs(1))),
    )
    .unwrap();
    assert!(matches!(
        drive(ex, vec![], t0()).result,
        Err(Error::OperatingLimit { last: None, .. })
    ));

    // A batch holding that method goes at once: the portal does not meter its
    // commands.
    let ex = Exchange::new(
        &webhook(),
        commands_batch(&[get_command(), add_command()]),
        &state,
    )
    .unwrap();
    let ok = r#"{"result":[{"item":{"id":51}},{"item":{"id":19}}]}"#;
    let run = drive(ex, vec![answer(200, ok)], t0());
    run.result.unwrap();
    assert!(run.waits.is_empty(), "{:?}", run.waits);
    assert_eq!(run.sent.len(), 1);
}

#[test]
fn a_429_on_a_rest_v3_batch_holds_batch_only() {
    let state = PortalState::new(7);
    let opts = ExchangeOptions::new()
        .policy(RetryPolicy::default().max_operating_wait(Duration::from_secs(10)));
    let reset_secs = T0 / 1000 + 30;
    let body = format!(
        r#"{{"error":{{"code":"BITRIX_REST_V3_EXCEPTION_RATELIMITEXCEPTION","message":"m"}},"time":{{"operating_reset_at":{reset_secs}}}}}"#
    );
    let batch = commands_batch(&[get_command(), add_command()]);
    let ex = Exchange::with_options(&webhook(), batch, &state, opts.clone()).unwrap();
    let run = drive(ex, vec![answer(429, &body)], t0());
    match &run.result {
        Err(Error::OperatingLimit {
            method,
            reset_at,
            last: Some(_),
        }) => {
            assert_eq!(method, "batch");
            assert_eq!(*reset_at, Timestamp::from_unix_secs(reset_secs + 1));
        }
        other => panic!("{other:?}"),
    }
    let now = run.now;
    // The commands' methods are not held: they go alone at once...
    let get = TaskGet::for_chat(TaskId::new(51).unwrap());
    let ex = Exchange::with_options(&webhook(), get, &state, opts.clone()).unwrap();
    let run = drive(
        ex,
        vec![answer(200, r#"{"result":{"item":{"id":51}}}"#)],
        now,
    );
    run.result.unwrap();
    assert!(run.waits.is_empty(), "{:?}", run.waits);
    // ...while another batch waits for the reset.
    let ex = Exchange::with_options(
        &webhook(),
        commands_batch(&[get_command()]),
        &state,
        ExchangeOptions::new()
            .policy(RetryPolicy::default().max_operating_wait(Duration::from_secs(1))),
    )
    .unwrap();
    assert!(matches!(
        drive(ex, vec![], now).result,
        Err(Error::OperatingLimit { last: None, .. })
    ));
}

fn replayed_answer() -> Step {
    Step::Answer(
        http::Response::builder()
            .status(200)
            .header("idempotent-replayed", "true")
            .body(Bytes::from(item_ok(T0 / 1000 + 300)))
            .unwrap(),
    )
}

#[test]
fn a_keyed_write_is_repeated_only_after_the_first_attempt_has_surely_finished() {
    // The connection resets while the answer is awaited: the portal may still be
    // running the write. Two requests with the same key may both run, so the repeat
    // waits until the first one has been cut off (60 s) plus the margin.
    let state = PortalState::new(7).assume_key_support(KeySupport::Supported);
    let ex = Exchange::new(&webhook(), add_from_chat(), &state).unwrap();
    let run = drive(
        ex,
        vec![
            Step::Fail(TransportFailure::new(
                TransportErrorKind::ConnectionClosed,
                SentState::MaybeSent,
            )),
            replayed_answer(),
        ],
        t0(),
    );
    assert!(run.result.unwrap().replayed);
    assert_eq!(run.sent.len(), 2);
    // The first attempt was sent at t0: the repeat goes at t0 + 61 s, not after the
    // one-second backoff.
    assert_eq!(
        run.waits,
        vec![(
            t0().saturating_add(Duration::from_secs(61)),
            WaitReason::InFlightGrace
        )]
    );
    assert_eq!(
        RetryPolicy::default().in_flight_grace,
        Duration::from_secs(61)
    );

    // The grace is a policy setting; a longer backoff still wins over a short grace.
    let state = PortalState::new(7).assume_key_support(KeySupport::Supported);
    let opts = ExchangeOptions::new().policy(
        RetryPolicy::default()
            .in_flight_grace(Duration::from_secs(5))
            .backoff(Duration::from_secs(20), Duration::from_secs(20)),
    );
    let ex = Exchange::with_options(&webhook(), add_from_chat(), &state, opts).unwrap();
    let run = drive(
        ex,
        vec![Step::Fail(TransportFailure::timeout()), replayed_answer()],
        t0(),
    );
    run.result.unwrap();
    assert_eq!(
        run.waits[0].1,
        WaitReason::Backoff(RetryReason::TransportMaybeSent)
    );
    assert!(run.waits[0].0 >= t0().saturating_add(Duration::from_secs(10)));
}

#[test]
fn a_body_over_the_adapters_cap_ends_the_call_without_a_repeat() {
    // Neither a read (the same answer would come again) nor a keyed write is repeated.
    let state = PortalState::new(7).assume_key_support(KeySupport::Supported);
    let read = Exchange::new(
        &webhook(),
        TaskGet::for_chat(TaskId::new(51).unwrap()),
        &state,
    )
    .unwrap();
    let write = Exchange::new(&webhook(), add_from_chat(), &state).unwrap();
    let too_large = || {
        Step::Fail(TransportFailure::new(
            TransportErrorKind::BodyTooLarge,
            SentState::MaybeSent,
        ))
    };
    let run = drive(read, vec![too_large()], t0());
    assert_eq!(run.sent.len(), 1);
    assert!(matches!(
        run.result,
        Err(Error::Transport {
            kind: TransportErrorKind::BodyTooLarge,
            ..
        })
    ));
    let run = drive(write, vec![too_large()], t0());
    assert_eq!(run.sent.len(), 1);
    assert!(run.waits.is_empty());
    assert!(run.result.is_err());
}

#[test]
fn a_gateway_502_or_504_gets_the_grace_before_a_keyed_write_is_repeated() {
    // A gateway answered, but the portal behind it may still be running the write.
    for status in [502u16, 504] {
        let state = PortalState::new(7).assume_key_support(KeySupport::Supported);
        let ex = Exchange::new(&webhook(), add_from_chat(), &state).unwrap();
        let run = drive(
            ex,
            vec![
                answer(status, "<html>Bad Gateway</html>"),
                replayed_answer(),
            ],
            t0(),
        );
        assert!(run.result.unwrap().replayed, "{status}");
        assert_eq!(
            run.waits,
            vec![(
                t0().saturating_add(Duration::from_secs(61)),
                WaitReason::InFlightGrace
            )],
            "{status}"
        );
    }
}

#[test]
fn no_grace_after_a_5xx_or_for_reads() {
    // A 5xx answer means the portal has finished: the usual backoff.
    let state = PortalState::new(7).assume_key_support(KeySupport::Supported);
    let ex = Exchange::new(&webhook(), add_from_chat(), &state).unwrap();
    let run = drive(
        ex,
        vec![
            answer(
                500,
                &v3_error("BITRIX_REST_V3_EXCEPTION_INTERNAL_INTERNALEXCEPTION"),
            ),
            answer(200, &item_ok(T0 / 1000 + 300)),
        ],
        t0(),
    );
    run.result.unwrap();
    assert_eq!(
        run.waits[0].1,
        WaitReason::Backoff(RetryReason::ServerError)
    );
    assert!(run.waits[0].0 <= t0().saturating_add(Duration::from_secs(2)));

    // A read repeats nothing it could duplicate.
    let ex = Exchange::new(
        &webhook(),
        TaskGet::for_chat(TaskId::new(51).unwrap()),
        &state,
    )
    .unwrap();
    let run = drive(
        ex,
        vec![
            Step::Fail(TransportFailure::timeout()),
            answer(200, r#"{"result":{"item":{"id":51}}}"#),
        ],
        t0(),
    );
    run.result.unwrap();
    assert_eq!(
        run.waits[0].1,
        WaitReason::Backoff(RetryReason::TransportMaybeSent)
    );
    assert!(run.waits[0].0 <= t0().saturating_add(Duration::from_secs(2)));
}

#[test]
fn a_grace_past_the_deadline_ends_with_the_maybe_sent_error() {
    let state = PortalState::new(7).assume_key_support(KeySupport::Supported);
    let opts =
        ExchangeOptions::new().policy(RetryPolicy::default().deadline(Duration::from_secs(30)));
    let ex = Exchange::with_options(&webhook(), add_from_chat(), &state, opts).unwrap();
    let run = drive(ex, vec![Step::Fail(TransportFailure::timeout())], t0());
    match run.result.map_err(maybe_ran) {
        Err(Error::Transport {
            kind: TransportErrorKind::Timeout,
            sent: SentState::MaybeSent,
            ..
        }) => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(run.sent.len(), 1);
    assert!(run.waits.is_empty());
    assert!(matches!(
        run.events.last(),
        Some(Event::Finished {
            reason: StopReason::NotRepeatable,
            attempts: 1,
            ..
        })
    ));
}

fn ok_echoing(echo: Option<&str>) -> Step {
    let mut b = http::Response::builder().status(200);
    if let Some(key) = echo {
        b = b.header("idempotency-key", key);
    }
    Step::Answer(b.body(Bytes::from(item_ok(T0 / 1000 + 300))).unwrap())
}

fn keyed(key: &str) -> ExchangeOptions {
    ExchangeOptions::new().idempotency_key(IdempotencyKey::new(key).unwrap())
}

fn key_support_changes(events: &[Event]) -> Vec<(KeySupport, KeySupport)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::KeySupportChanged { from, to } => Some((*from, *to)),
            _ => None,
        })
        .collect()
}

#[test]
fn a_portal_that_does_not_echo_keys_loses_key_protection() {
    let state = PortalState::new(7);
    assert_eq!(state.key_support(), KeySupport::Unknown);

    // A successful keyed write whose answer lacks the documented echo: the portal
    // ignores keys.
    let ex = Exchange::with_options(&webhook(), add_from_chat(), &state, keyed("job-1")).unwrap();
    let run = drive(ex, vec![ok_echoing(None)], t0());
    run.result.unwrap();
    assert_eq!(state.key_support(), KeySupport::Unsupported);
    assert_eq!(
        key_support_changes(&run.events),
        vec![(KeySupport::Unknown, KeySupport::Unsupported)]
    );

    // From now on a key is still sent, but a write that may have run is not repeated.
    let ex = Exchange::with_options(&webhook(), add_from_chat(), &state, keyed("job-2")).unwrap();
    let run = drive(ex, vec![Step::Fail(TransportFailure::timeout())], t0());
    assert!(matches!(
        run.result.map_err(maybe_ran),
        Err(Error::Transport {
            sent: SentState::MaybeSent,
            ..
        })
    ));
    assert_eq!(run.sent.len(), 1);
    assert_eq!(key_of(&run.sent[0]).as_deref(), Some("job-2"));
    assert!(matches!(
        run.events.last(),
        Some(Event::Finished {
            reason: StopReason::NotRepeatable,
            ..
        })
    ));
    // A 5xx is not repeated either; it carries no echo and is no new evidence.
    let ex = Exchange::with_options(&webhook(), add_from_chat(), &state, keyed("job-3")).unwrap();
    let run = drive(
        ex,
        vec![answer(
            500,
            &v3_error("BITRIX_REST_V3_EXCEPTION_INTERNAL_INTERNALEXCEPTION"),
        )],
        t0(),
    );
    assert_eq!(run.result.unwrap_err().status(), Some(500));
    assert_eq!(run.sent.len(), 1);
    assert_eq!(state.key_support(), KeySupport::Unsupported);

    // Reads are unaffected: they need no key to be repeated.
    let ex = Exchange::new(
        &webhook(),
        TaskGet::for_chat(TaskId::new(51).unwrap()),
        &state,
    )
    .unwrap();
    let run = drive(
        ex,
        vec![
            Step::Fail(TransportFailure::timeout()),
            answer(200, r#"{"result":{"item":{"id":51}}}"#),
        ],
        t0(),
    );
    run.result.unwrap();
}

#[test]
fn an_echoed_key_marks_the_portal_as_honouring_keys() {
    let state = PortalState::new(7).assume_key_support(KeySupport::Unsupported);
    assert_eq!(state.key_support(), KeySupport::Unsupported);
    // An answer of any status that echoes the key sent is evidence of support.
    let echoed_500 = Step::Answer(
        http::Response::builder()
            .status(500)
            .header("idempotency-key", "job-9")
            .body(Bytes::from(v3_error(
                "BITRIX_REST_V3_EXCEPTION_INTERNAL_INTERNALEXCEPTION",
            )))
            .unwrap(),
    );
    let ex = Exchange::with_options(&webhook(), add_from_chat(), &state, keyed("job-9")).unwrap();
    let run = drive(ex, vec![echoed_500, ok_echoing(Some("job-9"))], t0());
    run.result.unwrap();
    assert_eq!(
        run.sent.len(),
        2,
        "repeated once the key was shown to count"
    );
    assert_eq!(state.key_support(), KeySupport::Supported);
    // Reported once, when it changed.
    assert_eq!(
        key_support_changes(&run.events),
        vec![(KeySupport::Unsupported, KeySupport::Supported)]
    );

    // An echo of another value is no evidence either way; an unkeyed call none at all.
    let ex = Exchange::with_options(&webhook(), add_from_chat(), &state, keyed("job-10")).unwrap();
    let run = drive(ex, vec![ok_echoing(Some("other"))], t0());
    run.result.unwrap();
    assert_eq!(state.key_support(), KeySupport::Supported);
    let ex = Exchange::new(&webhook(), im_add(), &state).unwrap();
    drive(ex, vec![answer(200, r#"{"result":1}"#)], t0())
        .result
        .unwrap();
    assert_eq!(state.key_support(), KeySupport::Supported);
    // Clones share it.
    assert_eq!(state.clone().key_support(), KeySupport::Supported);
}

#[test]
fn a_key_reuse_refusal_after_a_refresh_means_the_write_may_have_run() {
    let store = token_store("oldAccess1", "oldRefresh1");
    let state = oauth_state(store.clone());
    let mut ex = Exchange::with_options(&oauth(), add_from_chat(), &state, keyed("job-1")).unwrap();
    let run = drive_with(
        &mut ex,
        vec![
            // The first attempt may have run (and did: the portal stored its answer).
            Step::Fail(TransportFailure::timeout()),
            // The token expired meanwhile: refresh, replay with the new token.
            answer(401, &classic_error("expired_token")),
            // Same key, other body (the token): refused because of the stored answer.
            answer(
                422,
                &v3_error("BITRIX_REST_V3_EXCEPTION_IDEMPOTENCYKEYREUSEDEXCEPTION"),
            ),
        ],
        vec![token_answer("newAccess2", "newRefresh2")],
        t0(),
    );
    assert_eq!(run.refreshes.len(), 1);
    assert_eq!(run.sent.len(), 3);
    assert!(body_text(&run.sent[0]).contains("oldAccess1"));
    assert!(body_text(&run.sent[2]).contains("newAccess2"));
    let err = run.result.unwrap_err();
    match &err {
        Error::WriteOutcomeUnknown { attempts: 3, last } => {
            assert_eq!(last.status(), Some(422));
        }
        other => panic!("{other:?}"),
    }
    // The accessors follow `last`; the message says what to do.
    assert_eq!(err.code(), Some(&ErrorCode::V3IdempotencyKeyReused));
    assert_eq!(err.status(), Some(422));
    assert!(err.to_string().contains("check before repeating"), "{err}");
    assert!(matches!(
        run.events.last(),
        Some(Event::Finished {
            reason: StopReason::WriteOutcomeUnknown,
            ..
        })
    ));
}

#[test]
fn a_key_reuse_refusal_with_no_earlier_maybe_run_attempt_is_a_plain_api_error() {
    // The caller's key was used before with another body: a plain refusal.
    let state = PortalState::new(7).assume_key_support(KeySupport::Supported);
    let ex = Exchange::with_options(&webhook(), add_from_chat(), &state, keyed("job-1")).unwrap();
    let run = drive(
        ex,
        vec![answer(
            422,
            &v3_error("BITRIX_REST_V3_EXCEPTION_IDEMPOTENCYKEYREUSEDEXCEPTION"),
        )],
        t0(),
    );
    match run.result {
        Err(Error::Api(api)) => assert_eq!(api.code, ErrorCode::V3IdempotencyKeyReused),
        other => panic!("{other:?}"),
    }
    // Nor after attempts that cannot have run (a rate limit, a refused token).
    let store = token_store("a1", "r1");
    let state = oauth_state(store.clone());
    let mut ex = Exchange::with_options(&oauth(), add_from_chat(), &state, keyed("job-2")).unwrap();
    let run = drive_with(
        &mut ex,
        vec![
            answer(503, &classic_error("QUERY_LIMIT_EXCEEDED")),
            answer(401, &classic_error("expired_token")),
            answer(
                422,
                &v3_error("BITRIX_REST_V3_EXCEPTION_IDEMPOTENCYKEYREUSEDEXCEPTION"),
            ),
        ],
        vec![token_answer("a2", "r2")],
        t0(),
    );
    assert!(
        matches!(run.result, Err(Error::Api(_))),
        "{:?}",
        run.result.err()
    );
}

#[test]
fn an_impossible_reset_time_cannot_block_a_method_beyond_the_window() {
    // A reply reports the reset in milliseconds instead of seconds, near the limit.
    let budgets = Arc::new(MemoryBudgetStore::new(BudgetConfig::default()));
    let state = PortalState::new(7)
        .assume_key_support(KeySupport::Supported)
        .budget_store(budgets.clone());
    let garbled = T0 + 20_000; // "seconds": some fifty thousand years ahead
    let body = item_ok(garbled).replace(r#""operating":0.5"#, r#""operating":478"#);
    let ex = Exchange::new(&webhook(), add_from_chat(), &state).unwrap();
    let run = drive(ex, vec![answer(200, &body)], t0());
    run.result.unwrap();
    let recorded_at = run.now;
    let latest = recorded_at.saturating_add(b24_core::engine::MAX_RESET_AHEAD);
    assert_eq!(
        budgets.reset_at("tasks.task.result.addfromchatmessage"),
        Some(latest)
    );
    // The next call is held at most to the end of the ten-minute window (+ margin).
    let ex = Exchange::new(&webhook(), add_from_chat(), &state).unwrap();
    let run = drive(ex, vec![], recorded_at);
    match run.result {
        Err(Error::OperatingLimit { reset_at, .. }) => {
            assert_eq!(reset_at, latest.saturating_add(Duration::from_secs(1)));
        }
        other => panic!("{other:?}"),
    }
    // A later reply with a plausible reset replaces the clamped one.
    let later = recorded_at.saturating_add(Duration::from_secs(5));
    let plausible = later.as_unix_secs() + 30;
    let time: b24_core::types::Time = serde_json::from_value(serde_json::json!({
        "operating": 10.0,
        "operating_reset_at": plausible,
    }))
    .unwrap();
    ready(budgets.record("tasks.task.result.addfromchatmessage", &time, later));
    assert_eq!(
        budgets.reset_at("tasks.task.result.addfromchatmessage"),
        Some(Timestamp::from_unix_secs(plausible))
    );
    let ex = Exchange::new(&webhook(), add_from_chat(), &state).unwrap();
    drive(ex, vec![answer(200, &item_ok(plausible))], later)
        .result
        .unwrap();
}

#[test]
fn a_429_with_an_impossible_reset_blocks_the_method_for_the_window_at_most() {
    let state = PortalState::new(7).assume_key_support(KeySupport::Supported);
    let body = format!(
        r#"{{"error":"OPERATION_TIME_LIMIT","error_description":"blocked","time":{{"operating_reset_at":{}}}}}"#,
        T0 * 1000
    );
    let ex = Exchange::new(&webhook(), add_from_chat(), &state).unwrap();
    let run = drive(ex, vec![answer(429, &body)], t0());
    let answered = run.now;
    let until = answered
        .saturating_add(b24_core::engine::MAX_RESET_AHEAD)
        .saturating_add(Duration::from_secs(1));
    match run.result {
        Err(Error::OperatingLimit { reset_at, .. }) => assert_eq!(reset_at, until),
        other => panic!("{other:?}"),
    }
    // The method is held until then, and goes again afterwards.
    assert_eq!(
        verdict(&state, "tasks.task.result.addfromchatmessage", answered),
        BudgetVerdict::Hold { until }
    );
    let ex = Exchange::new(&webhook(), add_from_chat(), &state).unwrap();
    drive(ex, vec![answer(200, &item_ok(T0 / 1000 + 900))], until)
        .result
        .unwrap();
}

#[test]
fn a_bare_503_on_an_unprotected_write_is_not_repeated() {
    // Classic im.message.add has no keys: a gateway's 503 page may come after the
    // message was posted, so it is not sent again.
    for bare in [
        "<html><body>503 Service Temporarily Unavailable</body></html>",
        "",
    ] {
        let state = PortalState::new(7).assume_key_support(KeySupport::Supported);
        let ex = Exchange::new(&webhook(), im_add(), &state).unwrap();
        let run = drive(ex, vec![answer(503, bare)], t0());
        assert_eq!(run.sent.len(), 1);
        let err = run.result.unwrap_err();
        match &err {
            Error::WriteOutcomeUnknown { attempts: 1, last } => {
                assert!(matches!(**last, Error::UnexpectedBody { status: 503, .. }));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(err.status(), Some(503));
        assert!(matches!(
            run.events.last(),
            Some(Event::Finished {
                reason: StopReason::WriteOutcomeUnknown,
                ..
            })
        ));
    }

    // The coded rate limit says the call did not run: repeated, writes included.
    let state = PortalState::new(7).assume_key_support(KeySupport::Supported);
    let ex = Exchange::new(&webhook(), im_add(), &state).unwrap();
    let run = drive(
        ex,
        vec![
            answer(503, &classic_error("QUERY_LIMIT_EXCEEDED")),
            answer(200, r#"{"result":34239}"#),
        ],
        t0(),
    );
    assert_eq!(run.result.unwrap().result.get(), 34239);
    assert_eq!(run.sent.len(), 2);

    // A read is repeated after a bare 503.
    let ex = Exchange::new(
        &webhook(),
        TaskGet::for_chat(TaskId::new(51).unwrap()),
        &state,
    )
    .unwrap();
    let run = drive(
        ex,
        vec![
            answer(503, ""),
            answer(200, r#"{"result":{"item":{"id":51}}}"#),
        ],
        t0(),
    );
    run.result.unwrap();
    assert!(
        run.waits
            .iter()
            .any(|(_, r)| *r == WaitReason::Backoff(RetryReason::Unavailable)),
        "{:?}",
        run.waits
    );
}

#[test]
fn a_429_with_an_unknown_code_waits_this_call_only() {
    let method = "tasks.task.result.addfromchatmessage";
    for body in [
        format!(
            r#"{{"error":"SOMETHING_NEW","error_description":"slow down","time":{{"operating_reset_at":{}}}}}"#,
            T0 / 1000 + 30
        ),
        "<html>429 Too Many Requests</html>".to_owned(),
    ] {
        let state = PortalState::new(7).assume_key_support(KeySupport::Supported);
        let mut ex = Exchange::new(&webhook(), add_from_chat(), &state).unwrap();
        let Action::Send(_) = ex.poll(t0()) else {
            panic!("expected a send")
        };
        let answered = t0().saturating_add(Duration::from_millis(100));
        ex.handle_response(respond(429, &body), answered);
        // This call waits the fallback (the body's reset time is no operating-limit
        // figure) ...
        match ex.poll(answered) {
            Action::Wait { until, reason } => {
                assert_eq!(reason, WaitReason::BudgetReset);
                assert_eq!(until, answered.saturating_add(Duration::from_secs(60)));
            }
            other => panic!("{other:?}"),
        }
        // ... while the method is not held for anyone else.
        assert_eq!(verdict(&state, method, answered), BudgetVerdict::Go);
        let other = Exchange::new(&webhook(), add_from_chat(), &state).unwrap();
        drive(
            other,
            vec![answer(200, &item_ok(T0 / 1000 + 300))],
            answered,
        )
        .result
        .unwrap();
    }

    // Past the longest wait it ends with OperatingLimit, still without holding others.
    let state = PortalState::new(7).assume_key_support(KeySupport::Supported);
    let opts = ExchangeOptions::new()
        .policy(RetryPolicy::default().max_operating_wait(Duration::from_secs(10)));
    let ex = Exchange::with_options(&webhook(), add_from_chat(), &state, opts).unwrap();
    let run = drive(ex, vec![answer(429, &classic_error("SOMETHING_NEW"))], t0());
    assert!(matches!(run.result, Err(Error::OperatingLimit { .. })));
    assert_eq!(verdict(&state, method, run.now), BudgetVerdict::Go);

    // The platform's own codes do hold the method for every call.
    let state = PortalState::new(7).assume_key_support(KeySupport::Supported);
    let ex = Exchange::with_options(
        &webhook(),
        add_from_chat(),
        &state,
        ExchangeOptions::new()
            .policy(RetryPolicy::default().max_operating_wait(Duration::from_secs(10))),
    )
    .unwrap();
    let run = drive(
        ex,
        vec![answer(429, &classic_error("OPERATION_TIME_LIMIT"))],
        t0(),
    );
    assert!(matches!(run.result, Err(Error::OperatingLimit { .. })));
    assert!(matches!(
        verdict(&state, method, run.now),
        BudgetVerdict::Hold { .. }
    ));
}

#[test]
fn a_key_protects_a_repeat_only_once_the_portal_has_shown_it_honours_keys() {
    // A fresh portal: nothing seen yet. The server code of some versions has no key
    // handling at all, so a keyed write that may have run is not repeated.
    let state = PortalState::new(7);
    assert_eq!(state.key_support(), KeySupport::Unknown);
    let ex = Exchange::with_options(&webhook(), add_from_chat(), &state, keyed("job-1")).unwrap();
    let run = drive(ex, vec![Step::Fail(TransportFailure::timeout())], t0());
    assert_eq!(run.sent.len(), 1);
    match run.result {
        Err(Error::WriteOutcomeUnknown { attempts: 1, last }) => assert!(
            matches!(
                *last,
                Error::Transport {
                    sent: SentState::MaybeSent,
                    ..
                }
            ),
            "{last:?}"
        ),
        other => panic!("expected WriteOutcomeUnknown, got {other:?}"),
    }

    // An answer that echoes the key shows support: from then on the same failure is
    // repeated with the same key (after the in-flight grace).
    let ex = Exchange::with_options(&webhook(), add_from_chat(), &state, keyed("job-2")).unwrap();
    drive(ex, vec![ok_echoing(Some("job-2"))], t0())
        .result
        .unwrap();
    assert_eq!(state.key_support(), KeySupport::Supported);
    let ex = Exchange::with_options(&webhook(), add_from_chat(), &state, keyed("job-3")).unwrap();
    let run = drive(
        ex,
        vec![
            Step::Fail(TransportFailure::timeout()),
            ok_echoing(Some("job-3")),
        ],
        t0(),
    );
    run.result.unwrap();
    assert_eq!(run.sent.len(), 2);
    assert_eq!(key_of(&run.sent[0]), key_of(&run.sent[1]));
}

#[test]
fn a_key_reuse_refusal_shows_the_portal_keeps_keys() {
    let state = PortalState::new(7);
    let ex = Exchange::with_options(&webhook(), add_from_chat(), &state, keyed("job-4")).unwrap();
    let refusal = answer(
        422,
        &v3_error("BITRIX_REST_V3_EXCEPTION_IDEMPOTENCYKEYREUSEDEXCEPTION"),
    );
    let run = drive(ex, vec![refusal], t0());
    assert!(matches!(run.result, Err(Error::Api(_))), "{:?}", run.result);
    assert_eq!(state.key_support(), KeySupport::Supported);
}
