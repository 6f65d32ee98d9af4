//! Extreme durations and clocks: every configured lifetime and timeout is capped, and a
//! clock at the end of its range answers instead of overflowing.

use std::time::Duration;

use b24_emulator::{
    Clock, Emulator, IdempotencyKeys, ManualClock, PortalConfig, MAX_HEADER_READ_TIMEOUT, MAX_TTL,
};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{Harness, START};

fn refresh_request(emu: &Emulator, refresh: &str) -> http::Request<bytes::Bytes> {
    let q = format!(
        "grant_type=refresh_token&client_id={}&client_secret={}&refresh_token={refresh}",
        emu.oauth_client_id(),
        emu.oauth_client_secret()
    );
    http::Request::get(format!("/oauth/token/?{q}"))
        .header("host", "localhost")
        .body(bytes::Bytes::new())
        .unwrap()
}

#[tokio::test]
async fn access_token_ttl_of_duration_max_is_capped_at_ten_years() {
    let h = Harness::with(PortalConfig::new("localhost").access_token_ttl(Duration::MAX));
    let (_, refresh) = h.portal.issue_tokens(1).unwrap();
    let r = h
        .send(refresh_request(&h.emu, refresh.expose_secret()))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let ttl = MAX_TTL.as_secs();
    assert_eq!(r.body["expires_in"], ttl);
    assert_eq!(r.body["expires"].as_f64().unwrap(), START + ttl as f64);
    let access = r.body["access_token"].as_str().unwrap().to_owned();
    // Valid until the cap, expired after it.
    h.clock.advance(MAX_TTL - Duration::from_secs(1));
    let ok = h
        .v3_oauth(&access, "tasks.task.get", json!({"id":51}))
        .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    h.clock.advance(Duration::from_secs(1));
    let expired = h
        .v3_oauth(&access, "tasks.task.get", json!({"id":51}))
        .await;
    assert_eq!(expired.status, 401, "{}", expired.body);
}

#[tokio::test]
async fn idempotency_ttl_of_duration_max_still_replays() {
    let h = Harness::with(
        PortalConfig::new("localhost")
            .idempotency_keys(IdempotencyKeys::Honoured)
            .idempotency_ttl(Duration::MAX),
    );
    let body = json!({"fields":{"taskId":51,"text":"kept"}});
    let key = [("idempotency-key", "k-max")];
    let first = h
        .v3_with(1, "tasks.task.result.add", body.clone(), &key)
        .await;
    assert_eq!(first.status, 200, "{}", first.body);
    h.clock.advance(MAX_TTL - Duration::from_secs(1));
    let again = h.v3_with(1, "tasks.task.result.add", body, &key).await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.headers["idempotent-replayed"], "true");
}

/// A clock that always reads one value.
#[derive(Debug)]
struct Fixed(f64);

impl Clock for Fixed {
    fn now(&self) -> f64 {
        self.0
    }
}

async fn task_get(emu: &Emulator) -> serde_json::Value {
    let secret = emu.default_portal().webhook_secret(1).unwrap();
    let req = http::Request::post(format!("/rest/api/1/{secret}/tasks.task.get"))
        .header("host", "localhost")
        .header("content-type", "application/json")
        .body(bytes::Bytes::from(r#"{"id":51}"#))
        .unwrap();
    let r = emu.handle(req).await;
    assert_eq!(r.status(), 200);
    serde_json::from_slice(r.body()).unwrap()
}

#[tokio::test]
async fn a_clock_beyond_i64_seconds_issues_tokens_without_overflowing() {
    // 1e19 s does not fit an i64 (it saturates), yet is still a finite clock under
    // which a refresh token (180 days) is valid.
    let emu = Emulator::builder()
        .portal(PortalConfig::new("localhost"))
        .clock(Fixed(1e19))
        .build();
    let (_, refresh) = emu.default_portal().issue_tokens(1).unwrap();
    let r = emu
        .handle(refresh_request(&emu, refresh.expose_secret()))
        .await;
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = serde_json::from_slice(r.body()).unwrap();
    assert_eq!(body["expires"], i64::MAX, "{body}");
    assert_eq!(body["expires_in"], 3600);
    let answer = task_get(&emu).await;
    assert_eq!(
        answer["time"]["date_start"], "9999-12-31T23:59:59+02:00",
        "{answer}"
    );
}

#[tokio::test]
async fn any_clock_reading_gets_an_answer_with_dates_that_parse() {
    for now in [
        f64::MAX,
        f64::INFINITY,
        -f64::MAX,
        f64::NEG_INFINITY,
        f64::NAN,
    ] {
        let emu = Emulator::builder()
            .portal(PortalConfig::new("localhost").access_token_ttl(Duration::MAX))
            .clock(Fixed(now))
            .build();
        let (_, refresh) = emu.default_portal().issue_tokens(1).unwrap();
        // At such readings `now + 180 days == now` in f64, so the token may count as
        // expired; what matters is a well-formed answer.
        let r = emu
            .handle(refresh_request(&emu, refresh.expose_secret()))
            .await;
        let body: serde_json::Value = serde_json::from_slice(r.body()).unwrap();
        match r.status().as_u16() {
            200 => assert!(body["expires"].is_i64(), "{now}: {body}"),
            400 => assert_eq!(body["error"], "invalid_grant", "{now}: {body}"),
            other => panic!("{now}: {other} {body}"),
        }
        let answer = task_get(&emu).await;
        for k in ["date_start", "date_finish"] {
            let date = answer["time"][k].as_str().unwrap();
            b24_types::DateTime::parse(date).unwrap();
        }
    }
}

#[test]
fn manual_clock_advance_saturates_instead_of_wrapping() {
    let clock = ManualClock::new(START);
    clock.advance(Duration::MAX);
    let end = clock.now();
    assert!(end > START, "{end}");
    clock.advance(Duration::MAX);
    assert_eq!(clock.now(), end);
    clock.advance(Duration::from_secs(1));
    assert_eq!(clock.now(), end);
}

#[tokio::test]
async fn header_read_timeout_of_duration_max_is_capped_and_the_server_answers() {
    let emu = Emulator::builder()
        .allow_plain_http_to_loopback(true)
        .header_read_timeout(Duration::MAX)
        .build();
    let server = emu.serve_http().await.unwrap();
    let secret = emu.default_portal().webhook_secret(1).unwrap();
    let mut s = TcpStream::connect(server.addr()).await.unwrap();
    let body = r#"{"id":51}"#;
    let req = format!(
        "POST /rest/api/1/{secret}/tasks.task.get HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out)).await;
    let text = String::from_utf8_lossy(&out);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert_eq!(MAX_HEADER_READ_TIMEOUT, Duration::from_secs(86_400));
    server.shutdown().await;
}
