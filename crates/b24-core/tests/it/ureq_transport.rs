//! The ureq transport example (docs/custom-transport.md): its flow runs against the
//! emulator over HTTPS, and its failures carry the sent state the rule asks for.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::thread::JoinHandle;
use std::time::Duration;

use b24_core::blocking::{Driver, Transport};
use b24_core::bytes::Bytes;
use b24_core::engine::{SentState, TransportErrorKind, TransportFailure};
use b24_core::types::TaskId;
use b24_core::{http, Portal};

use crate::ureq_example::{
    map_error, run_flow, start_emulator, Cause, UreqError, UreqTransport, WallClock,
    CONNECT_TIMEOUT,
};

#[test]
fn the_flow_makes_one_result_from_the_posted_message() {
    let emulator = start_emulator().unwrap();
    let transport = UreqTransport::new(Some(emulator.ca_pem.as_bytes())).unwrap();
    let mut driver = Driver::new(transport, WallClock);
    let portal = Portal::webhook(&emulator.webhook_url).unwrap();
    let mut report = Vec::new();
    let summary = run_flow(&mut driver, &portal, TaskId::new(51).unwrap(), &mut report)
        .unwrap_or_else(|e| panic!("{e}"));
    let report = String::from_utf8(report).unwrap();
    println!("{report}");

    let stored = emulator.server.portal();
    let results = stored.results();
    assert_eq!(results.len(), 1, "{results:?}");
    let result = &results[0];
    assert_eq!(result.id, summary.result_id.get());
    assert_eq!(result.task_id, 51);
    assert_eq!(result.message_id, Some(summary.message_id.get()));
    assert_eq!(result.text, "Work finished: sent over ureq");
    assert!(stored
        .messages(58)
        .iter()
        .any(|m| m.id == summary.message_id.get()));
    for call in [
        "tasks.task.get",
        "im.message.add",
        "tasks.task.result.addfromchatmessage",
    ] {
        assert_eq!(stored.calls(call), 1, "{call}");
    }
    for step in ["1. task 51", "2. posted message", "3. result"] {
        assert!(report.contains(step), "missing {step:?} in:\n{report}");
    }
    assert!(!report.contains(&stored.webhook_secret(1).unwrap()));
}

/// A request to `addr` as the engine hands it out (a webhook path with a secret).
fn request_to(addr: SocketAddr) -> http::Request<Bytes> {
    http::Request::post(format!(
        "http://{addr}/rest/1/s3cretwebhookcode/im.message.add"
    ))
    .header("content-type", "application/json")
    .body(Bytes::from_static(
        br#"{"DIALOG_ID":"chat58","MESSAGE":"hi"}"#,
    ))
    .unwrap()
}

fn send(addr: SocketAddr, time_left: Duration) -> Result<http::Response<Bytes>, TransportFailure> {
    UreqTransport::new(None)
        .unwrap()
        .send(&request_to(addr), Some(time_left))
}

/// The failure's kind and sent state, after checking that its text holds no secret.
fn parts(
    result: Result<http::Response<Bytes>, TransportFailure>,
) -> (TransportErrorKind, SentState) {
    let failure = match result {
        Err(failure) => failure,
        Ok(response) => panic!("expected a failure, got {}", response.status()),
    };
    let (kind, sent) = (failure.kind(), failure.sent());
    let error = b24_core::Error::from(failure);
    let mut text = format!("{error} / {error:?}");
    let mut source = std::error::Error::source(&error);
    while let Some(s) = source {
        text.push_str(&format!(" / {s}"));
        source = s.source();
    }
    assert!(!text.contains("s3cret"), "{text}");
    assert!(!text.contains("/rest/"), "{text}");
    (kind, sent)
}

/// A loopback server that accepts one connection and hands it to `then`.
fn one_connection(
    then: impl FnOnce(std::net::TcpStream) + Send + 'static,
) -> (SocketAddr, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let handle = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        then(stream);
    });
    (addr, handle)
}

/// Reads until the end of the request head (or the client gives up).
fn read_head(stream: &mut std::net::TcpStream) {
    let mut seen = Vec::new();
    let mut buf = [0_u8; 1024];
    while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => seen.extend_from_slice(&buf[..n]),
        }
    }
}

#[test]
fn a_refused_connection_is_not_sent() {
    // A port that was free a moment ago: nothing listens there.
    let addr = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    assert_eq!(
        parts(send(addr, Duration::from_secs(5))),
        (TransportErrorKind::Connect, SentState::NotSent)
    );
}

#[test]
fn a_connection_closed_without_an_answer_is_maybe_sent() {
    let (addr, server) = one_connection(|mut stream| {
        read_head(&mut stream);
        drop(stream);
    });
    assert_eq!(
        parts(send(addr, Duration::from_secs(5))),
        (TransportErrorKind::ConnectionClosed, SentState::MaybeSent)
    );
    server.join().unwrap();
}

#[test]
fn a_server_that_never_answers_times_out_maybe_sent() {
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let (addr, server) = one_connection(move |mut stream| {
        read_head(&mut stream);
        // Hold the connection open, silent, until the test is done.
        let _ = rx.recv_timeout(Duration::from_secs(10));
    });
    let started = std::time::Instant::now();
    let outcome = parts(send(addr, Duration::from_millis(300)));
    let took = started.elapsed();
    drop(tx);
    server.join().unwrap();
    assert_eq!(outcome, (TransportErrorKind::Timeout, SentState::MaybeSent));
    assert!(took < Duration::from_secs(3), "took {took:?}");
}

#[test]
fn no_time_left_fails_before_connecting() {
    let addr = SocketAddr::from(([127, 0, 0, 1], 9));
    assert_eq!(
        parts(send(addr, Duration::ZERO)),
        (TransportErrorKind::Timeout, SentState::NotSent)
    );
}

#[test]
fn an_answer_over_the_cap_is_body_too_large_maybe_sent() {
    let (addr, server) = one_connection(|mut stream| {
        read_head(&mut stream);
        let body = vec![b'x'; 4096];
        let head = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            body.len()
        );
        let _ = stream.write_all(head.as_bytes());
        let _ = stream.write_all(&body);
    });
    let mut transport = UreqTransport::new(None).unwrap().max_body(1024);
    let outcome = parts(transport.send(&request_to(addr), Some(Duration::from_secs(5))));
    server.join().unwrap();
    assert_eq!(
        outcome,
        (TransportErrorKind::BodyTooLarge, SentState::MaybeSent)
    );
}

#[test]
fn any_status_comes_back_as_an_answer_and_no_redirect_is_followed() {
    for status in ["302 Found", "503 Service Unavailable"] {
        let (addr, server) = one_connection(move |mut stream| {
            read_head(&mut stream);
            let answer = format!(
                "HTTP/1.1 {status}\r\nlocation: http://127.0.0.1:9/elsewhere\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{{}}"
            );
            let _ = stream.write_all(answer.as_bytes());
        });
        let mut transport = UreqTransport::new(None).unwrap();
        let response = transport
            .send(&request_to(addr), Some(Duration::from_secs(5)))
            .unwrap_or_else(|f| panic!("{status}: {f:?}"));
        server.join().unwrap();
        assert_eq!(response.status().as_str(), &status[..3]);
        assert_eq!(response.body().as_ref(), b"{}");
    }
}

#[test]
fn an_unknown_certificate_authority_is_a_permanent_not_sent_failure() {
    let emulator = start_emulator().unwrap();
    // Without the emulator's CA: its certificate is refused in the handshake.
    let mut transport = UreqTransport::new(None).unwrap();
    let request = http::Request::post(format!("{}task.item.list", emulator.webhook_url))
        .body(Bytes::new())
        .unwrap();
    assert_eq!(
        parts(transport.send(&request, Some(CONNECT_TIMEOUT))),
        (TransportErrorKind::Certificate, SentState::NotSent)
    );
    assert!(emulator.server.portal().results().is_empty());
}

#[test]
fn ureq_errors_that_may_hold_the_uri_map_to_words_only() {
    let uri = "https://p.example/rest/1/s3cretwebhookcode/";
    for (err, kind, sent, cause) in [
        (
            ureq::Error::BadUri(uri.to_owned()),
            TransportErrorKind::Address,
            SentState::NotSent,
            Cause::BadUri,
        ),
        (
            ureq::Error::RequireHttpsOnly(uri.to_owned()),
            TransportErrorKind::Address,
            SentState::NotSent,
            Cause::HttpsRequired,
        ),
        (
            ureq::Error::HostNotFound,
            TransportErrorKind::Connect,
            SentState::NotSent,
            Cause::HostNotFound,
        ),
        (
            ureq::Error::Timeout(ureq::Timeout::Connect),
            TransportErrorKind::Timeout,
            SentState::NotSent,
            Cause::ConnectTimeout,
        ),
        (
            ureq::Error::Timeout(ureq::Timeout::Global),
            TransportErrorKind::Timeout,
            SentState::MaybeSent,
            Cause::Timeout,
        ),
        (
            ureq::Error::Timeout(ureq::Timeout::RecvResponse),
            TransportErrorKind::Timeout,
            SentState::MaybeSent,
            Cause::Timeout,
        ),
        (
            ureq::Error::Other(uri.into()),
            TransportErrorKind::Other,
            SentState::MaybeSent,
            Cause::Other,
        ),
    ] {
        let failure = map_error(err);
        assert_eq!((failure.kind(), failure.sent()), (kind, sent), "{cause:?}");
        let b24_core::Error::Transport {
            source: Some(source),
            ..
        } = b24_core::Error::from(failure)
        else {
            panic!("expected a transport error with a source ({cause:?})");
        };
        assert_eq!(
            source.downcast_ref::<UreqError>(),
            Some(&UreqError { cause })
        );
        assert!(!source.to_string().contains("s3cret"));
        assert!(source.source().is_none());
    }
}
