//! The leaky bucket, the operating-time limit, the overload switch, HTTPS required.

use std::time::Duration;

use b24_emulator::PortalConfig;
use serde_json::json;

use crate::support::Harness;

#[tokio::test]
async fn bucket_rejects_exactly_the_calls_past_the_burst() {
    let h = Harness::with(PortalConfig::new("localhost").bucket(50, 2.0));
    let mut statuses = Vec::new();
    for _ in 0..60 {
        let r = h
            .v3(
                1,
                "tasks.task.result.list",
                json!({"filter":[["taskId",51]]}),
            )
            .await;
        statuses.push(r.status);
        if r.status == 503 {
            r.assert_classic_error(503, "QUERY_LIMIT_EXCEEDED", "Too many requests");
        }
    }
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 50);
    assert_eq!(statuses.iter().filter(|s| **s == 503).count(), 10);
    assert!(statuses[..50].iter().all(|s| *s == 200));
    // The classic API shares the bucket and answers the same way.
    h.classic(1, "im.dialog.messages.get", json!({"DIALOG_ID":"chat58"}))
        .await
        .assert_classic_error(503, "QUERY_LIMIT_EXCEEDED", "Too many requests");
    // Half a second drains one request at 2/s.
    h.clock.advance(Duration::from_millis(500));
    let ok = h.v3(1, "tasks.task.get", json!({"id":51})).await;
    assert_eq!(ok.status, 200);
    assert_eq!(
        h.v3(1, "tasks.task.get", json!({"id":51})).await.status,
        503
    );
    // Ten seconds drain twenty.
    h.clock.advance(Duration::from_secs(10));
    let mut passed = 0;
    for _ in 0..25 {
        if h.v3(1, "tasks.task.get", json!({"id":51})).await.status == 200 {
            passed += 1;
        }
    }
    assert_eq!(passed, 20);
}

#[tokio::test]
async fn operating_limit_blocks_the_call_after_the_one_that_crosses() {
    let h = Harness::with(
        PortalConfig::new("localhost")
            .bucket(1000, 100.0)
            .operating_limit(480.0)
            .operating_cost("tasks.task.result.list", 100.0),
    );
    let body = json!({"filter":[["taskId",51]]});
    let mut operating = Vec::new();
    let mut reset_at = Vec::new();
    for _ in 0..5 {
        let r = h.v3(1, "tasks.task.result.list", body.clone()).await;
        assert_eq!(r.status, 200, "{}", r.body);
        operating.push(r.body["time"]["operating"].as_f64().unwrap());
        reset_at.push(r.body["time"]["operating_reset_at"].as_f64().unwrap());
        h.clock.advance(Duration::from_secs(61));
    }
    // The fifth call took the total to 500 > 480 and still succeeded.
    assert_eq!(operating, vec![100.0, 200.0, 300.0, 400.0, 500.0]);
    let first = crate::support::START + 600.0;
    assert!(reset_at.iter().all(|r| *r == first), "{reset_at:?}");
    // The next one is blocked, in each API's shape.
    let blocked = h.v3(1, "tasks.task.result.list", body.clone()).await;
    blocked.assert_v3_error(429, "BITRIX_REST_V3_EXCEPTION_RATELIMITEXCEPTION", &[]);
    // Other methods of the same webhook, and other webhooks, are unaffected.
    assert_eq!(
        h.v3(1, "tasks.task.get", json!({"id":51})).await.status,
        200
    );
    assert_eq!(
        h.v3(2, "tasks.task.result.list", body.clone()).await.status,
        200
    );
    // Past operating_reset_at the oldest bucket drops out: 400 < 480, calls pass.
    h.clock.set(first);
    let r = h.v3(1, "tasks.task.result.list", body.clone()).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["time"]["operating"], 500.0);
    assert_eq!(r.body["time"]["operating_reset_at"], first + 61.0);
}

#[tokio::test]
async fn classic_operating_limit_answers_operation_time_limit() {
    let h = Harness::with(
        PortalConfig::new("localhost")
            .operating_limit(10.0)
            .operating_cost("im.message.add", 6.0),
    );
    let body = json!({"DIALOG_ID":"chat58","MESSAGE":"x"});
    assert_eq!(
        h.classic(1, "im.message.add", body.clone()).await.status,
        200
    );
    let r = h.classic(1, "im.message.add", body.clone()).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["time"]["operating"], 12.0);
    h.classic(1, "im.message.add", body.clone())
        .await
        .assert_classic_error(
            429,
            "OPERATION_TIME_LIMIT",
            "Method is blocked due to operation time limit.",
        );
    assert_eq!(h.portal.messages(58).len(), 4);
    h.clock.advance(Duration::from_secs(600));
    assert_eq!(h.classic(1, "im.message.add", body).await.status, 200);
}

#[tokio::test]
async fn overload_switch() {
    let h = Harness::new();
    h.portal.set_overloaded(true);
    h.v3(1, "tasks.task.get", json!({"id":51}))
        .await
        .assert_classic_error(
            503,
            "OVERLOAD_LIMIT",
            "REST API is blocked due to overload.",
        );
    h.classic(1, "im.message.add", json!({}))
        .await
        .assert_classic_error(
            503,
            "OVERLOAD_LIMIT",
            "REST API is blocked due to overload.",
        );
    h.portal.set_overloaded(false);
    assert_eq!(
        h.v3(1, "tasks.task.get", json!({"id":51})).await.status,
        200
    );
}

#[tokio::test]
async fn plain_http_is_refused_unless_allowed() {
    let h = Harness::new();
    let secret = h.secret(1);
    let req = |uri: String| {
        http::Request::post(uri)
            .header("content-type", "application/json")
            .body(bytes::Bytes::from(r#"{"id":51}"#))
            .unwrap()
    };
    let r = h
        .send(req(format!(
            "http://localhost/rest/api/1/{secret}/tasks.task.get"
        )))
        .await;
    r.assert_classic_error(400, "INVALID_REQUEST", "Https required.");
    let r = h
        .send(req(format!(
            "https://localhost/rest/api/1/{secret}/tasks.task.get"
        )))
        .await;
    assert_eq!(r.status, 200);
    let h = Harness::with(PortalConfig::new("localhost").allow_plain_http_to_loopback(true));
    let secret = h.secret(1);
    let r = h
        .send(req(format!(
            "http://localhost/rest/api/1/{secret}/tasks.task.get"
        )))
        .await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn each_portal_has_its_own_bucket() {
    let emu = b24_emulator::Emulator::builder()
        .portal(PortalConfig::new("p1.localhost").bucket(2, 0.0))
        .portal(PortalConfig::new("p2.localhost").bucket(2, 0.0))
        .clock(b24_emulator::ManualClock::new(crate::support::START))
        .build();
    let call = |host: &'static str| {
        let emu = emu.clone();
        async move {
            let secret = emu.portal(host).unwrap().webhook_secret(1).unwrap();
            let req = http::Request::post(format!("/rest/api/1/{secret}/tasks.task.get"))
                .header("host", host)
                .header("content-type", "application/json")
                .body(bytes::Bytes::from(r#"{"id":51}"#))
                .unwrap();
            emu.handle(req).await.status().as_u16()
        }
    };
    assert_eq!(call("p1.localhost").await, 200);
    assert_eq!(call("p1.localhost").await, 200);
    assert_eq!(call("p1.localhost").await, 503);
    assert_eq!(call("p2.localhost").await, 200);
    assert_eq!(emu.portal("p1.localhost").unwrap().bucket_level(), 2.0);
}
