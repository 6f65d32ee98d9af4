//! Idempotency-Key on REST 3.0 writes, as the documentation describes it
//! (https://apidocs.bitrix24.com/api-reference/rest-v3.html#idempotency), selected with
//! `IdempotencyKeys::Honoured`; by default the header is ignored, as the server code
//! has no key handling.

use b24_emulator::{IdempotencyBodyMatch, IdempotencyKeys, PortalConfig};
use serde_json::json;

use crate::support::{Harness, Reply};

const ADD: &str = "tasks.task.result.add";

fn honoured() -> Harness {
    Harness::with(PortalConfig::new("localhost").idempotency_keys(IdempotencyKeys::Honoured))
}

#[tokio::test]
async fn replay_returns_the_stored_answer_without_a_second_write() {
    let h = honoured();
    let body = json!({"fields":{"taskId":51,"text":"once"}});
    let key = [("Idempotency-Key", "add-once-1")];
    let first = h.v3_with(1, ADD, body.clone(), &key).await;
    assert_eq!(first.status, 200);
    assert_eq!(first.headers["idempotency-key"], "add-once-1");
    assert!(first.headers.get("idempotent-replayed").is_none());
    h.clock.advance(std::time::Duration::from_secs(5));
    let again = h.v3_with(1, ADD, body.clone(), &key).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.headers["idempotent-replayed"], "true");
    assert_eq!(again.headers["idempotency-key"], "add-once-1");
    assert_eq!(again.body, first.body, "the stored answer, time included");
    assert_eq!(h.portal.results().len(), 1);
    // Another key writes again.
    let other = h
        .v3_with(1, ADD, body.clone(), &[("Idempotency-Key", "add-once-2")])
        .await;
    assert_eq!(other.body["result"]["item"]["id"], 18);
    // The same key from another user, or for another method, is another scope.
    let anna = h.v3_with(2, ADD, body.clone(), &key).await;
    assert!(anna.headers.get("idempotent-replayed").is_none());
    assert_eq!(h.portal.results().len(), 3);
    // Expired after 24 h.
    h.clock.advance(std::time::Duration::from_secs(86_400));
    let late = h.v3_with(1, ADD, body, &key).await;
    assert!(late.headers.get("idempotent-replayed").is_none());
    assert_eq!(h.portal.results().len(), 4);
}

#[tokio::test]
async fn same_key_with_another_body_is_422() {
    let h = honoured();
    let key = [("Idempotency-Key", "k1")];
    h.v3_with(1, ADD, json!({"fields":{"taskId":51,"text":"a"}}), &key)
        .await;
    let r = h
        .v3_with(1, ADD, json!({"fields":{"taskId":51,"text":"b"}}), &key)
        .await;
    r.assert_v3_error(
        422,
        "BITRIX_REST_V3_EXCEPTION_IDEMPOTENCYKEYREUSEDEXCEPTION",
        &[],
    );
    assert_eq!(h.portal.results().len(), 1);
}

#[tokio::test]
async fn invalid_keys_are_400() {
    let h = honoured();
    let body = json!({"fields":{"taskId":51,"text":"a"}});
    let long = "k".repeat(256);
    for bad in ["", long.as_str(), "tab\there", "ключ"] {
        let req = http::Request::post(format!("/rest/api/1/{}/{ADD}", h.secret(1)))
            .header("host", "localhost")
            .header("content-type", "application/json")
            .header(
                "idempotency-key",
                http::HeaderValue::from_bytes(bad.as_bytes()).unwrap(),
            )
            .body(bytes::Bytes::from(body.to_string()))
            .unwrap();
        h.send(req).await.assert_v3_error(
            400,
            "BITRIX_REST_V3_EXCEPTION_INVALIDIDEMPOTENCYKEYEXCEPTION",
            &[],
        );
    }
    let ok = h
        .v3_with(1, ADD, body, &[("Idempotency-Key", &"k".repeat(255))])
        .await;
    assert_eq!(ok.status, 200);
    assert_eq!(h.portal.results().len(), 1);
}

#[tokio::test]
async fn errors_are_not_stored() {
    let h = honoured();
    let key = [("Idempotency-Key", "retry-me")];
    let body = json!({"fields":{"taskId":53,"text":"a"}});
    // User 3 is not a member of task 53 yet.
    let t = h.v3_with(3, ADD, body.clone(), &key).await;
    assert_eq!(t.status, 403);
    assert_eq!(t.headers["idempotency-key"], "retry-me");
    // User 3 cannot get in; user 2 (responsible) calls with the same key: no replay,
    // and after a failure user 2 can retry with the same key and succeed.
    let fail = h
        .v3_with(2, ADD, json!({"fields":{"taskId":53}}), &key)
        .await;
    assert_eq!(fail.status, 400);
    let ok = h.v3_with(2, ADD, body.clone(), &key).await;
    assert_eq!(ok.status, 200);
    assert!(ok.headers.get("idempotent-replayed").is_none());
    let replay = h.v3_with(2, ADD, body, &key).await;
    assert_eq!(replay.headers["idempotent-replayed"], "true");
    assert_eq!(h.portal.results().len(), 1);
}

#[tokio::test]
async fn ignored_on_classic_and_on_reads() {
    let h = honoured();
    let secret = h.secret(1);
    for _ in 0..2 {
        let req = http::Request::post(format!("/rest/1/{secret}/im.message.add"))
            .header("host", "localhost")
            .header("content-type", "application/json")
            .header("idempotency-key", "")
            .body(bytes::Bytes::from(
                r#"{"DIALOG_ID":"chat58","MESSAGE":"dup"}"#,
            ))
            .unwrap();
        let r = h.send(req).await;
        assert_eq!(r.status, 200);
        assert!(r.headers.get("idempotent-replayed").is_none());
    }
    assert_eq!(h.portal.messages(58).len(), 4);
    let r = h
        .v3_with(
            1,
            "tasks.task.result.list",
            json!({"filter":[["taskId",51]]}),
            &[("Idempotency-Key", "")],
        )
        .await;
    assert_eq!(r.status, 200);
}

/// An OAuth write with `Idempotency-Key`, the body sent as these exact bytes.
async fn oauth_keyed(h: &Harness, key: &str, body: String) -> Reply {
    let req = http::Request::post(format!("/rest/api/{ADD}"))
        .header("host", "localhost")
        .header("content-type", "application/json")
        .header("idempotency-key", key)
        .body(bytes::Bytes::from(body))
        .unwrap();
    h.send(req).await
}

fn oauth_body(token: &str) -> String {
    format!(r#"{{"fields":{{"taskId":51,"text":"once"}},"auth":"{token}"}}"#)
}

#[tokio::test]
async fn by_default_a_refreshed_token_in_the_body_still_replays() {
    let h = honoured();
    let (first_token, _) = h.portal.issue_tokens(1).unwrap();
    let (second_token, _) = h.portal.issue_tokens(1).unwrap();
    let first = oauth_keyed(&h, "k-auth", oauth_body(first_token.expose_secret())).await;
    assert_eq!(first.status, 200, "{}", first.body);
    let again = oauth_keyed(&h, "k-auth", oauth_body(second_token.expose_secret())).await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.headers["idempotent-replayed"], "true");
    assert_eq!(again.body, first.body);
    // Other whitespace and key order are the same JSON body.
    let reordered = format!(
        r#"{{ "auth": "{}", "fields": {{ "text": "once", "taskId": 51 }} }}"#,
        second_token.expose_secret()
    );
    let third = oauth_keyed(&h, "k-auth", reordered).await;
    assert_eq!(third.headers["idempotent-replayed"], "true");
    assert_eq!(h.portal.results().len(), 1);
}

#[tokio::test]
async fn exact_matching_compares_the_body_as_sent_auth_included() {
    let h = Harness::with(
        PortalConfig::new("localhost")
            .idempotency_keys(IdempotencyKeys::Honoured)
            .idempotency_body_match(IdempotencyBodyMatch::Exact),
    );
    let (first_token, _) = h.portal.issue_tokens(1).unwrap();
    let (second_token, _) = h.portal.issue_tokens(1).unwrap();
    let first = oauth_keyed(&h, "k-exact", oauth_body(first_token.expose_secret())).await;
    assert_eq!(first.status, 200, "{}", first.body);
    // The very same bytes replay.
    let same = oauth_keyed(&h, "k-exact", oauth_body(first_token.expose_secret())).await;
    assert_eq!(same.status, 200, "{}", same.body);
    assert_eq!(same.headers["idempotent-replayed"], "true");
    // Another token is another body.
    let refreshed = oauth_keyed(&h, "k-exact", oauth_body(second_token.expose_secret())).await;
    refreshed.assert_v3_error(
        422,
        "BITRIX_REST_V3_EXCEPTION_IDEMPOTENCYKEYREUSEDEXCEPTION",
        &[],
    );
    // So is the same JSON with other whitespace.
    let spaced = format!(
        r#"{{"fields": {{"taskId": 51, "text": "once"}}, "auth": "{}"}}"#,
        first_token.expose_secret()
    );
    let r = oauth_keyed(&h, "k-exact", spaced).await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(h.portal.results().len(), 1);
}
