//! Scripted faults over a real socket: status/body, delay, slow, close, truncate,
//! apply-then-close; and a slow client hitting the header read timeout. How `delay`
//! and `slow` meet a repeat with the same `Idempotency-Key`, in process.

use std::time::{Duration, Instant};

use b24_emulator::{Emulator, Fault, IdempotencyKeys, PortalConfig};
use serde_json::json;

use crate::support::Harness;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Sends one HTTP/1.1 request and reads until the server closes.
async fn raw_call(addr: std::net::SocketAddr, path: &str, body: &str) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out)).await;
    out
}

fn split(raw: &[u8]) -> (String, Vec<u8>) {
    let text = String::from_utf8_lossy(raw);
    let idx = text.find("\r\n\r\n").expect("a response head");
    (text[..idx].to_owned(), raw[idx + 4..].to_vec())
}

fn content_length(head: &str) -> usize {
    head.lines()
        .find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().unwrap())
        })
        .expect("content-length")
}

async fn server() -> (Emulator, b24_emulator::ServerHandle, String) {
    let emu = Emulator::builder()
        .allow_plain_http_to_loopback(true)
        .build();
    let server = emu.serve_http().await.unwrap();
    let secret = emu.default_portal().webhook_secret(1).unwrap();
    (emu, server, secret)
}

#[tokio::test]
async fn respond_fault_answers_the_scripted_status_and_body_n_times() {
    let (emu, server, secret) = server().await;
    let portal = emu.default_portal();
    portal.inject(
        Fault::respond(
            503,
            json!({"error":"QUERY_LIMIT_EXCEEDED","error_description":"Too many requests"}),
        )
        .on("tasks.task.result.add")
        .times(2)
        .with_header("Retry-After", "1"),
    );
    let path = format!("/rest/api/1/{secret}/tasks.task.result.add");
    let body = r#"{"fields":{"taskId":51,"text":"x"}}"#;
    // Another method is not affected.
    let other = raw_call(
        server.addr(),
        &format!("/rest/api/1/{secret}/tasks.task.get"),
        r#"{"id":51}"#,
    )
    .await;
    assert!(split(&other).0.starts_with("HTTP/1.1 200"));
    for _ in 0..2 {
        let (head, body) = split(&raw_call(server.addr(), &path, body).await);
        assert!(head.starts_with("HTTP/1.1 503"), "{head}");
        assert!(head.to_ascii_lowercase().contains("retry-after: 1"));
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["error"], "QUERY_LIMIT_EXCEEDED");
    }
    let (head, _) = split(&raw_call(server.addr(), &path, body).await);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert_eq!(portal.results().len(), 1);
    assert_eq!(portal.pending_faults(), 0);
}

#[tokio::test]
async fn close_fault_drops_without_effect_and_apply_then_close_keeps_the_write() {
    let (emu, server, secret) = server().await;
    let portal = emu.default_portal();
    let path = format!("/rest/api/1/{secret}/tasks.task.result.add");
    let body = r#"{"fields":{"taskId":51,"text":"x"}}"#;
    portal.inject(Fault::close());
    assert!(raw_call(server.addr(), &path, body).await.is_empty());
    assert!(portal.results().is_empty());
    portal.inject(Fault::apply_then_close().on("tasks.task.result.add"));
    assert!(raw_call(server.addr(), &path, body).await.is_empty());
    assert_eq!(portal.results().len(), 1, "the write happened");
}

#[tokio::test]
async fn truncate_fault_sends_less_than_content_length() {
    let (emu, server, secret) = server().await;
    let portal = emu.default_portal();
    portal.inject(Fault::truncate());
    let raw = raw_call(
        server.addr(),
        &format!("/rest/api/1/{secret}/tasks.task.result.add"),
        r#"{"fields":{"taskId":51,"text":"x"}}"#,
    )
    .await;
    let (head, body) = split(&raw);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let declared = content_length(&head);
    assert!(body.len() < declared, "{} < {declared}", body.len());
    assert!(!body.is_empty());
    assert!(serde_json::from_slice::<serde_json::Value>(&body).is_err());
    assert_eq!(portal.results().len(), 1, "the call ran");
}

#[tokio::test]
async fn delay_fault_delays() {
    let (emu, server, secret) = server().await;
    emu.default_portal()
        .inject(Fault::delay(Duration::from_millis(300)));
    let t = Instant::now();
    let raw = raw_call(
        server.addr(),
        &format!("/rest/api/1/{secret}/tasks.task.get"),
        r#"{"id":51}"#,
    )
    .await;
    assert!(t.elapsed() >= Duration::from_millis(300));
    assert!(split(&raw).0.starts_with("HTTP/1.1 200"));
}

#[tokio::test]
async fn slow_headers_are_cut_off() {
    let emu = Emulator::builder()
        .allow_plain_http_to_loopback(true)
        .header_read_timeout(Duration::from_millis(300))
        .build();
    let server = emu.serve_http().await.unwrap();
    let mut s = TcpStream::connect(server.addr()).await.unwrap();
    s.write_all(b"POST /rest/api/x HTTP/1.1\r\nHost: loc")
        .await
        .unwrap();
    let mut out = Vec::new();
    let t = Instant::now();
    let read = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut out)).await;
    assert!(read.is_ok(), "the server closed the connection");
    assert!(t.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn plain_http_server_over_socket_and_drop_stops_it() {
    let emu = Emulator::new();
    let server = emu.serve_http().await.unwrap();
    let secret = emu.default_portal().webhook_secret(1).unwrap();
    let (head, body) = split(
        &raw_call(
            server.addr(),
            &format!("/rest/api/1/{secret}/tasks.task.get"),
            r#"{"id":51}"#,
        )
        .await,
    );
    assert!(head.starts_with("HTTP/1.1 400"), "{head}");
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["error"], "INVALID_REQUEST");
    let addr = server.addr();
    drop(server);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn oversized_body_over_socket_is_413() {
    let (_emu, server, secret) = server().await;
    let body = format!(
        r#"{{"fields":{{"taskId":51,"text":"{}"}}}}"#,
        "x".repeat(1_100_000)
    );
    let raw = raw_call(
        server.addr(),
        &format!("/rest/api/1/{secret}/tasks.task.result.add"),
        &body,
    )
    .await;
    assert!(split(&raw).0.starts_with("HTTP/1.1 413"));
}

const ADD: &str = "tasks.task.result.add";

/// A portal that honours `Idempotency-Key` as documented
/// (https://apidocs.bitrix24.com/api-reference/rest-v3.html#idempotency).
fn keyed() -> Harness {
    Harness::with(PortalConfig::new("localhost").idempotency_keys(IdempotencyKeys::Honoured))
}

#[tokio::test]
async fn slow_fault_lets_a_same_key_repeat_run_while_the_first_is_running() {
    // Two concurrent requests with the same key may both run: the key's answer is
    // stored only when the first has finished.
    let h = keyed();
    h.portal
        .inject(Fault::slow(Duration::from_millis(300)).on(ADD));
    let body = json!({"fields":{"taskId":51,"text":"once"}});
    let key = [("Idempotency-Key", "slow-1")];
    let started = Instant::now();
    let (first, (second, read_took)) = tokio::join!(
        async {
            let r = h.v3_with(1, ADD, body.clone(), &key).await;
            assert!(started.elapsed() >= Duration::from_millis(300));
            r
        },
        async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            // Accepted, not yet applied.
            assert!(h.portal.results().is_empty());
            assert_eq!(h.portal.calls(ADD), 1);
            // The portal is not locked meanwhile: a read is answered at once.
            let t = Instant::now();
            let read = h.v3(1, "tasks.task.get", json!({"id":51})).await;
            assert_eq!(read.status, 200, "{}", read.body);
            let read_took = t.elapsed();
            (h.v3_with(1, ADD, body.clone(), &key).await, read_took)
        }
    );
    assert!(read_took < Duration::from_millis(200), "{read_took:?}");
    for reply in [&first, &second] {
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_eq!(reply.headers["idempotency-key"], "slow-1");
        assert!(reply.headers.get("idempotent-replayed").is_none());
    }
    // The repeat, not slowed, wrote first; the slow call wrote when its time was up.
    let first_id = first.body["result"]["item"]["id"].as_u64().unwrap();
    let second_id = second.body["result"]["item"]["id"].as_u64().unwrap();
    assert!(second_id < first_id, "{second_id} < {first_id}");
    assert_eq!(h.portal.results().len(), 2);
    // Whichever finished last left its answer stored.
    let third = h.v3_with(1, ADD, body, &key).await;
    assert_eq!(third.headers["idempotent-replayed"], "true");
    assert_eq!(third.body, first.body);
    assert_eq!(h.portal.results().len(), 2);
}

#[tokio::test]
async fn slow_fault_finds_a_stored_answer_on_arrival() {
    // The key is looked up when the call arrives: a slow repeat of a finished write
    // is replayed, and nothing waits.
    let h = keyed();
    let body = json!({"fields":{"taskId":51,"text":"once"}});
    let key = [("Idempotency-Key", "slow-2")];
    let first = h.v3_with(1, ADD, body.clone(), &key).await;
    assert_eq!(first.status, 200);
    h.portal.inject(Fault::slow(Duration::from_secs(5)).on(ADD));
    let t = Instant::now();
    let again = h.v3_with(1, ADD, body, &key).await;
    assert!(t.elapsed() < Duration::from_secs(2));
    assert_eq!(again.headers["idempotent-replayed"], "true");
    assert_eq!(again.body, first.body);
    assert_eq!(h.portal.results().len(), 1);
    assert_eq!(h.portal.pending_faults(), 0);
}

#[tokio::test]
async fn slow_fault_runs_on_after_the_client_hangs_up() {
    let (emu, server, secret) = server().await;
    let portal = emu.default_portal();
    portal.inject(Fault::slow(Duration::from_millis(200)).on(ADD));
    let body = r#"{"fields":{"taskId":51,"text":"left behind"}}"#;
    let mut s = TcpStream::connect(server.addr()).await.unwrap();
    let req = format!(
        "POST /rest/api/1/{secret}/{ADD} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let until = Instant::now() + Duration::from_secs(2);
    while portal.calls(ADD) == 0 && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(portal.calls(ADD), 1);
    // The client gives up before the portal is done.
    drop(s);
    assert!(portal.results().is_empty());
    let until = Instant::now() + Duration::from_secs(2);
    while portal.results().is_empty() && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let results = portal.results();
    assert_eq!(results.len(), 1, "the write ran to the end");
    assert_eq!(results[0].text, "left behind");
}

#[tokio::test]
async fn delay_fault_comes_before_the_idempotency_lookup() {
    // A delayed call reaches the portal late: a repeat sent meanwhile runs first, and
    // the delayed call then gets the repeat's stored answer. It cannot show two
    // same-key requests running at once (that is `slow`).
    let h = keyed();
    h.portal
        .inject(Fault::delay(Duration::from_millis(300)).on(ADD));
    let body = json!({"fields":{"taskId":51,"text":"once"}});
    let key = [("Idempotency-Key", "delayed-1")];
    let (first, second) = tokio::join!(h.v3_with(1, ADD, body.clone(), &key), async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        h.v3_with(1, ADD, body.clone(), &key).await
    });
    assert!(second.headers.get("idempotent-replayed").is_none());
    assert_eq!(first.headers["idempotent-replayed"], "true");
    assert_eq!(first.body, second.body);
    assert_eq!(h.portal.results().len(), 1);
}
