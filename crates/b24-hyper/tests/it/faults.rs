//! Failures through the whole stack: timeouts, the body cap, an unknown certificate
//! authority, plain http, a dropped connection after a write ran.

use std::time::{Duration, Instant};

use b24_core::engine::RetryPolicy;
use b24_core::Portal;
use b24_emulator::{Emulator, Fault, IdempotencyKeys, PortalConfig};
use b24_hyper::{CallOptions, Client, Error, SentState, TimeoutStage, TransportError};
use b24_types::{MessageId, TaskId};

use crate::emu;

fn task(id: u64) -> TaskId {
    TaskId::new(id).unwrap()
}

#[tokio::test]
async fn a_slow_portal_is_a_typed_attempt_timeout() {
    let env = emu::start_with(
        Emulator::builder().portal(PortalConfig::new("localhost").bucket(50, 500.0)),
        &[],
        |b| b.attempt_timeout(Duration::from_millis(150)),
    )
    .await;
    let emu_portal = env.server.portal();
    emu_portal.inject(Fault::delay(Duration::from_secs(3)).on("tasks.task.get"));
    let portal = env.default_webhook();
    let started = Instant::now();
    let err = env
        .client
        .execute_with(
            &portal,
            b24_core::methods::TaskGet::for_chat(task(51)),
            CallOptions::new().policy(RetryPolicy::no_retries()),
        )
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(err.is_timeout(), "{err:?}");
    match err.transport() {
        Some(TransportError::Timeout { stage, sent, .. }) => {
            assert_eq!(*stage, TimeoutStage::Attempt);
            assert_eq!(*sent, SentState::MaybeSent);
        }
        other => panic!("expected an attempt timeout, got {other:?}"),
    }
}

#[tokio::test]
async fn the_call_deadline_bounds_retries_of_a_slow_read() {
    let env = emu::start_with(
        Emulator::builder().portal(PortalConfig::new("localhost").bucket(50, 500.0)),
        &[],
        |b| {
            b.attempt_timeout(Duration::from_millis(200))
                .call_deadline(Duration::from_millis(900))
                .retry_policy(
                    RetryPolicy::default()
                        .max_attempts(10)
                        .backoff(Duration::from_millis(50), Duration::from_millis(100)),
                )
        },
    )
    .await;
    env.server.portal().inject(
        Fault::delay(Duration::from_secs(3))
            .on("tasks.task.get")
            .times(100),
    );
    let started = Instant::now();
    let err = env
        .client
        .task_chat_id(&env.default_webhook(), task(51))
        .await
        .unwrap_err();
    let took = started.elapsed();
    // A safe read is retried after each timeout until the deadline ends the call.
    assert!(err.is_timeout(), "{err:?}");
    assert!(env.server.portal().calls("tasks.task.get") >= 2);
    assert!(took < Duration::from_millis(2000), "{took:?}");
}

#[tokio::test]
async fn the_engine_deadline_cuts_the_attempt_and_ends_the_call() {
    // The attempt timeout is far away: only the call's deadline can end the attempt,
    // and the engine, whose deadline it is, must then see it passed and stop, not
    // start another attempt in a sliver of time left on a second clock.
    let env = emu::start_with(
        Emulator::builder().portal(PortalConfig::new("localhost").bucket(50, 500.0)),
        &[],
        |b| {
            b.attempt_timeout(Duration::from_secs(10))
                .call_deadline(Duration::from_millis(400))
                .retry_policy(
                    RetryPolicy::default()
                        .max_attempts(10)
                        .backoff(Duration::ZERO, Duration::ZERO),
                )
        },
    )
    .await;
    env.server.portal().inject(
        Fault::delay(Duration::from_secs(3))
            .on("tasks.task.get")
            .times(10),
    );
    let started = Instant::now();
    let err = env
        .client
        .task_chat_id(&env.default_webhook(), task(51))
        .await
        .unwrap_err();
    let took = started.elapsed();
    assert!(
        matches!(
            err,
            Error::Core(b24_core::Error::DeadlineExceeded { attempts: 1, .. })
        ),
        "{err:?}"
    );
    match err.transport() {
        Some(TransportError::Timeout { stage, .. }) => {
            assert_eq!(*stage, TimeoutStage::Deadline);
        }
        other => panic!("expected the deadline's timeout, got {other:?}"),
    }
    assert!(took >= Duration::from_millis(390), "{took:?}");
    assert!(took < Duration::from_secs(2), "{took:?}");
    assert_eq!(env.server.portal().calls("tasks.task.get"), 1);
}

#[tokio::test]
async fn a_write_whose_connection_dropped_after_it_ran_is_not_duplicated() {
    // The emulator finishes a request at once, so a short in-flight grace is
    // faithful here: the repeat cannot overlap the first attempt. The portal honours
    // keys as documented; the first keyed write's echo shows it.
    let env = emu::start_with(
        Emulator::builder()
            .portal(PortalConfig::new("localhost").bucket(50, 500.0))
            .idempotency_keys(IdempotencyKeys::Honoured),
        &[],
        |b| {
            b.bucket(b24_core::engine::BucketConfig::custom(50, 500.0).unwrap())
                .retry_policy(RetryPolicy::default().in_flight_grace(Duration::from_millis(50)))
        },
    )
    .await;
    let emu_portal = env.server.portal();
    let results = env.client.task_results(&env.default_webhook());
    results.add(task(51), "warm-up").await.unwrap();
    let message = emu_portal.add_message(58, 1, "Signed off").unwrap();
    // The portal stores the result, then drops the connection without an answer.
    emu_portal.inject(
        Fault::apply_then_close()
            .on("tasks.task.result.addfromchatmessage")
            .times(1),
    );
    let created = results
        .add_from_chat_message(MessageId::new(message).unwrap())
        .await
        .unwrap();
    assert_eq!(created.message_id.map(|m| m.get()), Some(message));
    // Repeated with the same Idempotency-Key: the portal replayed its stored answer.
    assert_eq!(emu_portal.calls("tasks.task.result.addfromchatmessage"), 2);
    assert_eq!(
        emu_portal
            .results()
            .iter()
            .filter(|r| r.message_id == Some(message))
            .count(),
        1
    );
    let keys: Vec<_> = emu_portal
        .requests()
        .iter()
        .filter(|r| r.method == "tasks.task.result.addfromchatmessage")
        .filter_map(|r| r.header("idempotency-key").map(str::to_owned))
        .collect();
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0], keys[1]);
}

#[tokio::test]
async fn on_a_portal_that_ignores_keys_a_dropped_write_is_reconciled_not_repeated() {
    // The server code of some portals has no key handling: a repeat would make a
    // second result. The write's outcome is unknown, and reading the task's results
    // settles it.
    let env = emu::start_with(
        Emulator::builder().portal(PortalConfig::new("localhost").bucket(50, 500.0)),
        &[],
        |b| {
            b.bucket(b24_core::engine::BucketConfig::custom(50, 500.0).unwrap())
                .retry_policy(RetryPolicy::default().in_flight_grace(Duration::from_millis(50)))
        },
    )
    .await;
    let emu_portal = env.server.portal();
    let results = env.client.task_results(&env.default_webhook());
    let message = emu_portal.add_message(58, 1, "Signed off").unwrap();
    let id = MessageId::new(message).unwrap();
    emu_portal.inject(
        Fault::apply_then_close()
            .on("tasks.task.result.addfromchatmessage")
            .times(1),
    );
    // The plain call says what it knows: maybe.
    let err = results.add_from_chat_message(id).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Core(b24_core::Error::WriteOutcomeUnknown { .. })
        ),
        "{err:?}"
    );
    assert_eq!(emu_portal.calls("tasks.task.result.addfromchatmessage"), 1);
    // The check finds the result the dropped call made.
    let found = results
        .find_from_message(task(51), id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.message_id, Some(id));

    // The reconciling call does both: one request, one result, returned.
    let second = emu_portal.add_message(58, 1, "Signed off again").unwrap();
    let second_id = MessageId::new(second).unwrap();
    emu_portal.inject(
        Fault::apply_then_close()
            .on("tasks.task.result.addfromchatmessage")
            .times(1),
    );
    let made = results
        .add_from_chat_message_in_task(task(51), second_id)
        .await
        .unwrap();
    assert_eq!(made.message_id, Some(second_id));
    assert_eq!(emu_portal.calls("tasks.task.result.addfromchatmessage"), 2);
    // A write that did not run (closed before the portal ran it) is found missing
    // after the grace and sent again: still exactly one result.
    let third = emu_portal.add_message(58, 1, "Third").unwrap();
    let third_id = MessageId::new(third).unwrap();
    emu_portal.inject(
        Fault::close()
            .on("tasks.task.result.addfromchatmessage")
            .times(1),
    );
    let made = results
        .add_from_chat_message_in_task(task(51), third_id)
        .await
        .unwrap();
    assert_eq!(made.message_id, Some(third_id));
    for m in [message, second, third] {
        assert_eq!(
            emu_portal
                .results()
                .iter()
                .filter(|r| r.message_id == Some(m))
                .count(),
            1,
            "message {m}"
        );
    }
}

#[tokio::test]
async fn without_a_key_a_dropped_write_is_reported_not_repeated() {
    let env = emu::start().await;
    let emu_portal = env.server.portal();
    emu_portal.inject(
        Fault::apply_then_close()
            .on("tasks.task.result.add")
            .times(1),
    );
    let err = env
        .client
        .execute_with(
            &env.default_webhook(),
            b24_core::methods::TaskResultAdd::new(task(51), "once").unwrap(),
            CallOptions::new().without_idempotency_key(),
        )
        .await
        .unwrap_err();
    assert_eq!(
        err.transport().map(TransportError::sent_state),
        Some(SentState::MaybeSent),
        "{err:?}"
    );
    assert_eq!(emu_portal.calls("tasks.task.result.add"), 1);
    assert_eq!(emu_portal.results().len(), 1);
}

#[tokio::test]
async fn a_body_over_the_cap_is_refused() {
    let env = emu::start_with(
        Emulator::builder().portal(PortalConfig::new("localhost").bucket(50, 500.0)),
        &[],
        |b| b.max_response_body(64 * 1024),
    )
    .await;
    let emu_portal = env.server.portal();
    let huge = format!(
        "{{\"result\":{{\"items\":[{}]}}}}",
        vec!["{\"id\":1}"; 20_000].join(",")
    );
    emu_portal.inject(
        Fault::respond_raw(200, "application/json", huge)
            .on("tasks.task.result.list")
            .times(1),
    );
    let err = env
        .client
        .execute_with(
            &env.default_webhook(),
            b24_core::methods::TaskResultList::for_task(task(51)),
            CallOptions::new(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            err.transport(),
            Some(TransportError::BodyTooLarge { limit: 65536 })
        ),
        "{err:?}"
    );
    // The same request would get the same answer: with the default policy it is
    // asked once, not again.
    assert_eq!(emu_portal.calls("tasks.task.result.list"), 1);
}

#[tokio::test]
async fn a_certificate_from_an_unknown_authority_is_rejected() {
    let env = emu::start().await;
    // Default roots only: the emulator's CA is not among them.
    let stranger = Client::builder()
        .resolve("localhost", env.server.addr())
        .build()
        .unwrap();
    let err = stranger
        .execute_with(
            &env.default_webhook(),
            b24_core::methods::TaskGet::for_chat(task(51)),
            CallOptions::new().policy(RetryPolicy::no_retries()),
        )
        .await
        .unwrap_err();
    let Some(TransportError::Tls { source }) = err.transport() else {
        panic!("expected a TLS error, got {err:?}");
    };
    let mut chain = format!("{source:?}");
    let mut next = std::error::Error::source(&**source);
    while let Some(e) = next {
        chain.push_str(&format!(" / {e:?}"));
        next = e.source();
    }
    assert!(chain.contains("UnknownIssuer"), "{chain}");
    assert!(env.server.portal().requests().is_empty());
}

#[tokio::test]
async fn plain_http_portals_are_refused_before_any_connection() {
    // A non-loopback host over http cannot even become a portal.
    assert!(Portal::builder()
        .allow_plain_http_to_loopback(true)
        .webhook("http://portal.example/rest/1/s3cr3tc0de/")
        .is_err());

    // A loopback http portal, with a client that was not told to allow plain http.
    let emulator = Emulator::builder()
        .allow_plain_http_to_loopback(true)
        .build();
    let server = emulator.serve_http().await.unwrap();
    let url = server.webhook_url(&server.portal(), 1).unwrap();
    let portal = Portal::builder()
        .allow_plain_http_to_loopback(true)
        .webhook(&url)
        .unwrap();
    let strict = Client::builder().build().unwrap();
    let err = strict
        .task_results(&portal)
        .add(task(51), "x")
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Transport(TransportError::InsecureScheme)),
        "{err:?}"
    );
    assert!(server.portal().requests().is_empty());

    // The same portal with plain http to loopback allowed.
    let relaxed = Client::builder()
        .allow_plain_http_to_loopback(true)
        .resolve("localhost", server.addr())
        .build()
        .unwrap();
    relaxed
        .task_results(&portal)
        .add(task(51), "over loopback")
        .await
        .unwrap();
    assert_eq!(server.portal().results().len(), 1);
}

#[tokio::test]
async fn a_call_that_gives_up_answers_with_the_last_refusal() {
    let env = emu::start_with(
        Emulator::builder().portal(PortalConfig::new("localhost").bucket(50, 500.0)),
        &[],
        |b| {
            b.bucket(b24_core::engine::BucketConfig::custom(50, 500.0).unwrap())
                .retry_policy(
                    RetryPolicy::default()
                        .max_attempts(2)
                        .backoff(Duration::from_millis(10), Duration::from_millis(20)),
                )
        },
    )
    .await;
    env.server.portal().inject(
        Fault::respond(
            503,
            serde_json::json!({"error":"QUERY_LIMIT_EXCEEDED","error_description":"Too many requests"}),
        )
        .on("tasks.task.get")
        .times(10),
    );
    let err = env
        .client
        .task_chat_id(&env.default_webhook(), task(51))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Core(b24_core::Error::RetriesExhausted { attempts: 2, .. })
        ),
        "{err:?}"
    );
    // The accessors look through to the last answer.
    assert_eq!(err.status(), Some(503));
    assert_eq!(err.code(), Some(&b24_types::ErrorCode::QueryLimitExceeded));
    assert_eq!(err.class(), Some(b24_types::ErrorClass::RateLimited));
    assert!(err.transport().is_none());
    assert!(!err.is_timeout());
    assert_eq!(env.server.portal().calls("tasks.task.get"), 2);
}
