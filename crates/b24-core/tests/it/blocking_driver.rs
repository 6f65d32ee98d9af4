//! The blocking driver runs the engine's decisions over a caller's transport: it
//! retries what the policy retries, sleeps what the engine waits, and keeps one
//! `Idempotency-Key` across the attempts of a write.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use b24_core::blocking::{Clock, Driver};
use b24_core::bytes::Bytes;
use b24_core::engine::{SentState, Timestamp, TransportErrorKind, TransportFailure};
use b24_core::methods::TaskResultAddFromChatMessage;
use b24_core::types::MessageId;
use b24_core::{http, Portal};

/// A clock that only moves when the driver sleeps.
#[derive(Clone, Default)]
struct FakeClock {
    now_ms: Rc<RefCell<u64>>,
    slept: Rc<RefCell<Vec<Duration>>>,
}

impl Clock for FakeClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_unix_millis(1_777_530_000_000 + *self.now_ms.borrow())
    }
    fn sleep(&self, d: Duration) {
        *self.now_ms.borrow_mut() += u64::try_from(d.as_millis()).unwrap();
        self.slept.borrow_mut().push(d);
    }
}

fn portal() -> Portal {
    Portal::webhook("https://p.bitrix24.com/rest/1/s3cretwebhookcode/").unwrap()
}

fn answer(status: u16, body: &str) -> http::Response<Bytes> {
    http::Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Bytes::from(body.to_owned()))
        .unwrap()
}

const RESULT: &str = r#"{"result":{"item":{"id":7,"taskId":51,"messageId":335,"text":"Done","createdBy":1,"createdAt":"2026-04-30T09:00:00+03:00","status":1}}}"#;

#[test]
fn a_rate_limited_write_is_waited_out_and_sent_again_with_the_same_key() {
    let clock = FakeClock::default();
    let keys = Rc::new(RefCell::new(Vec::new()));
    let seen = keys.clone();
    let mut answers = vec![
        answer(
            503,
            r#"{"error":"QUERY_LIMIT_EXCEEDED","error_description":"Too many requests"}"#,
        ),
        answer(200, RESULT),
    ]
    .into_iter();
    let transport = move |request: &http::Request<Bytes>, _left: Option<Duration>| {
        seen.borrow_mut().push(
            request
                .headers()
                .get("idempotency-key")
                .map(|v| v.to_str().unwrap().to_owned()),
        );
        Ok(answers.next().unwrap())
    };
    let mut driver = Driver::new(transport, clock.clone());
    let reply = driver
        .call(
            &portal(),
            TaskResultAddFromChatMessage::new(MessageId::new(335).unwrap()),
        )
        .unwrap();
    assert_eq!(reply.result.id.get(), 7);
    let keys = keys.borrow();
    assert_eq!(keys.len(), 2);
    assert!(keys[0].is_some());
    assert_eq!(keys[0], keys[1]);
    // The backoff was slept, not skipped.
    assert!(!clock.slept.borrow().is_empty());
}

#[test]
fn an_unkeyed_write_is_not_repeated_after_it_may_have_been_sent() {
    let calls = Rc::new(RefCell::new(0));
    let counted = calls.clone();
    let transport = move |_: &http::Request<Bytes>, _: Option<Duration>| {
        *counted.borrow_mut() += 1;
        Err(TransportFailure::new(
            TransportErrorKind::ConnectionClosed,
            SentState::MaybeSent,
        ))
    };
    let mut driver = Driver::new(transport, FakeClock::default());
    let post = b24_core::methods::ImMessageAdd::new(
        b24_core::methods::DialogId::chat(b24_core::types::ChatId::new(58).unwrap()),
        "hello",
    )
    .unwrap();
    let err = driver.call(&portal(), post).unwrap_err();
    match &err {
        b24_core::Error::WriteOutcomeUnknown { attempts: 1, last } => assert!(
            matches!(
                **last,
                b24_core::Error::Transport {
                    sent: SentState::MaybeSent,
                    ..
                }
            ),
            "{last:?}"
        ),
        other => panic!("expected WriteOutcomeUnknown, got {other:?}"),
    }
    assert_eq!(*calls.borrow(), 1);
    assert!(!err.to_string().contains("s3cret"));
}

#[test]
fn a_transport_failure_converts_to_the_core_error() {
    let err: b24_core::Error =
        TransportFailure::new(TransportErrorKind::Connect, SentState::NotSent).into();
    assert!(matches!(
        err,
        b24_core::Error::Transport {
            kind: TransportErrorKind::Connect,
            sent: SentState::NotSent,
            ..
        }
    ));
    assert_eq!(
        err.to_string(),
        "could not connect to the portal (nothing was sent)"
    );
}
