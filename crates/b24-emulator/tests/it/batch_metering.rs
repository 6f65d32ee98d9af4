//! The REST 3.0 batch as the server runs it: metered as one call, methods looked up
//! before anything runs, and (opt-in) an error that says where the batch stopped.

use b24_emulator::PortalConfig;
use serde_json::json;

use crate::support::Harness;

#[tokio::test]
async fn commands_are_not_charged_to_their_own_methods() {
    let h = Harness::with(
        PortalConfig::new("localhost")
            .operating_limit(10.0)
            .operating_cost("tasks.task.get", 4.0),
    );
    let get = json!({"method":"tasks.task.get","query":{"id":51}});
    let r = h
        .v3(1, "batch", json!([get.clone(), get.clone(), get]))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    // The batch's own time: 12 s, charged to `batch`.
    assert_eq!(r.body["time"]["operating"], json!(12.0));
    assert_eq!(r.body["time"]["processing"], json!(12.0));
    // `tasks.task.get` itself was not charged: a plain call still runs.
    let plain = h.v3(1, "tasks.task.get", json!({"id":51})).await;
    assert_eq!(plain.status, 200, "{}", plain.body);
    assert_eq!(plain.body["time"]["operating"], json!(4.0));
}

#[tokio::test]
async fn an_unknown_method_fails_the_batch_before_anything_runs() {
    let h = Harness::new();
    h.v3(
        1,
        "batch",
        json!([
            {"method":"tasks.task.result.add","query":{"fields":{"taskId":51,"text":"never"}}},
            {"method":"nope.nope","query":{}}
        ]),
    )
    .await
    .assert_v3_error(404, "BITRIX_REST_V3_EXCEPTION_METHODNOTFOUNDEXCEPTION", &[]);
    assert!(h.portal.results().is_empty());
}

fn three_adds() -> serde_json::Value {
    json!([
        {"method":"tasks.task.result.add","query":{"fields":{"taskId":51,"text":"one"}}},
        {"method":"tasks.task.result.add","query":{"fields":{"taskId":52,"text":"denied"}}},
        {"method":"tasks.task.result.add","query":{"fields":{"taskId":51,"text":"never"}}}
    ])
}

#[tokio::test]
async fn the_error_names_no_command_unless_asked_to() {
    let h = Harness::new();
    let r = h.v3(1, "batch", three_adds()).await;
    r.assert_v3_bare(403, "BITRIX_REST_V3_EXCEPTION_ACCESSDENIEDEXCEPTION");
    assert!(r.body["error"].get("batch").is_none(), "{}", r.body);

    let h = Harness::with(PortalConfig::new("localhost").v3_batch_error_progress(true));
    let r = h.v3(1, "batch", three_adds()).await;
    r.assert_v3_bare(403, "BITRIX_REST_V3_EXCEPTION_ACCESSDENIEDEXCEPTION");
    let progress = &r.body["error"]["batch"];
    assert_eq!(progress["failedIndex"], json!(1));
    let results = progress["results"].as_array().unwrap();
    assert_eq!(results.len(), 1);
    assert_eq!(results[0]["item"]["text"], json!("one"));
    let texts: Vec<String> = h.portal.results().into_iter().map(|r| r.text).collect();
    assert_eq!(texts, ["one"]);
}
