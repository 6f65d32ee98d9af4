//! Bad input to the emulator itself: malformed JSON, forms on v3, big bodies,
//! GET with query parameters, unknown paths.

use serde_json::json;

use crate::support::Harness;

#[tokio::test]
async fn malformed_json_and_forms_on_v3_are_invalid_json() {
    let h = Harness::new();
    let path = format!("/rest/api/1/{}/tasks.task.result.add", h.secret(1));
    for (ct, body) in [
        ("application/json", r#"{"fields":{"taskId":51,"#),
        ("application/json", "[1,2"),
        ("application/json", "42"),
        (
            "application/x-www-form-urlencoded",
            "fields[taskId]=51&fields[text]=x",
        ),
        ("multipart/form-data; boundary=x", "--x--"),
    ] {
        h.raw("POST", &path, ct, body).await.assert_v3_error(
            400,
            "BITRIX_REST_V3_EXCEPTION_INVALIDJSONEXCEPTION",
            &[],
        );
    }
    assert!(h.portal.results().is_empty());
}

#[tokio::test]
async fn get_with_query_parameters_ignores_them() {
    let h = Harness::new();
    let r = h
        .raw(
            "GET",
            &format!("/rest/api/1/{}/tasks.task.get?id=51", h.secret(1)),
            "",
            "",
        )
        .await;
    r.assert_v3_error(
        400,
        "BITRIX_REST_V3_EXCEPTION_VALIDATION_REQUESTVALIDATIONEXCEPTION",
        &[(Some("id"), "Required field `id` is not specified")],
    );
}

#[tokio::test]
async fn oversized_body_is_413_without_effect() {
    let h = Harness::new();
    let big = json!({"fields":{"taskId":51,"text":"x".repeat(2 * 1024 * 1024)}}).to_string();
    let r = h
        .raw(
            "POST",
            &format!("/rest/api/1/{}/tasks.task.result.add", h.secret(1)),
            "application/json",
            &big,
        )
        .await;
    assert_eq!(r.status, 413);
    assert!(r.body["error"].is_string());
    assert!(h.portal.results().is_empty());
}

#[tokio::test]
async fn unknown_paths_are_not_found() {
    let h = Harness::new();
    let r = h.raw("GET", "/", "", "").await;
    r.assert_classic_error(404, "ERROR_METHOD_NOT_FOUND", "Method not found!");
    let r = h.raw("GET", "/rest/a/b/c/d/e", "", "").await;
    assert_eq!(r.status, 404);
}

#[tokio::test]
async fn unknown_top_level_keys_are_ignored_and_recorded_without_secrets() {
    let h = Harness::new();
    let r = h
        .v3(1, "tasks.task.get", json!({"id":51,"colour":"red"}))
        .await;
    assert_eq!(r.status, 200);
    let rec = h.portal.requests();
    let last = rec.last().unwrap();
    assert_eq!(last.api, b24_emulator::Endpoint::V3);
    assert_eq!(last.method, "tasks.task.get");
    assert!(last.path.contains("[redacted]"));
    assert!(!last.path.contains(&h.secret(1)));
    assert_eq!(last.json().unwrap()["id"], 51);
    assert_eq!(last.header("content-type"), Some("application/json"));
    assert_eq!(h.portal.calls("tasks.task.get"), 1);
}

#[tokio::test]
async fn unparsed_paths_are_recorded_without_the_webhook_secret() {
    let h = Harness::new();
    let secret = h.secret(1);
    for path in [
        format!("/rest/api/1/{secret}/a/b"),
        format!("/rest/1/{secret}/"),
        format!("/rest/api/1/{secret}/tasks.task.get/extra?x=1"),
        format!("/{secret}"),
    ] {
        let r = h.raw("POST", &path, "application/json", "{}").await;
        assert_eq!(r.status, 404, "{path}");
        let rec = h.portal.requests();
        let last = rec.last().unwrap();
        assert_eq!(last.api, b24_emulator::Endpoint::Unknown);
        assert!(!last.path.contains(&secret), "{}", last.path);
        assert!(last.path.contains("[redacted]"), "{}", last.path);
    }
    let paths: Vec<String> = h.portal.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(
        paths,
        [
            "/rest/api/[redacted]/[redacted]/[redacted]/[redacted]",
            "/rest/[redacted]/[redacted]/",
            "/rest/api/[redacted]/[redacted]/[redacted]/[redacted]?x=1",
            "/[redacted]",
        ]
    );
}
