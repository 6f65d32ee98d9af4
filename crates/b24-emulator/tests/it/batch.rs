//! The REST 3.0 batch: array root, order, aliases, $ref/$refArray, first error
//! aborts with its status and body, no rollback, one bucket request.

use b24_emulator::PortalConfig;
use serde_json::json;

use crate::support::Harness;

#[tokio::test]
async fn runs_in_order_with_refs() {
    let h = Harness::new();
    let r = h
        .v3(
            1,
            "batch",
            json!([
                {"method":"tasks.task.get","query":{"id":51,"select":["id","chat.id"]},"as":"task"},
                {"method":"tasks.task.result.add","query":{"fields":{"taskId":{"$ref":"task.id"},"text":"via batch"}}},
                {"method":"tasks.task.result.list","query":{"filter":[["taskId",51]],"select":["id","text"]},"as":"results"},
                {"method":"tasks.task.result.list","query":{"filter":[["taskId",51],["id","in",{"$refArray":"results.id"}]],"select":["id"]}}
            ]),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let results = r.body["result"].as_array().unwrap();
    assert_eq!(results.len(), 4);
    assert_eq!(results[0], json!({"item":{"id":51,"chat":{"id":58}}}));
    assert_eq!(results[1]["item"]["taskId"], 51);
    assert_eq!(results[2]["items"], json!([{"id":17,"text":"via batch"}]));
    assert_eq!(results[3]["items"], json!([{"id":17}]));
    assert!(r.body["time"]["start"].is_number());
    // Counted once as `batch`.
    assert_eq!(h.portal.calls("batch"), 1);
}

#[tokio::test]
async fn first_error_aborts_without_rollback() {
    let h = Harness::new();
    let r = h
        .v3(
            1,
            "batch",
            json!([
                {"method":"tasks.task.result.add","query":{"fields":{"taskId":51,"text":"kept"}}},
                {"method":"tasks.task.result.add","query":{"fields":{"taskId":52,"text":"denied"}}},
                {"method":"tasks.task.result.add","query":{"fields":{"taskId":51,"text":"never"}}}
            ]),
        )
        .await;
    r.assert_v3_bare(403, "BITRIX_REST_V3_EXCEPTION_ACCESSDENIEDEXCEPTION");
    let texts: Vec<String> = h.portal.results().into_iter().map(|r| r.text).collect();
    assert_eq!(texts, vec!["kept"]);
    // An unknown method fails the batch with 404.
    h.v3(1, "batch", json!([{"method":"nope.nope","query":{}}]))
        .await
        .assert_v3_error(404, "BITRIX_REST_V3_EXCEPTION_METHODNOTFOUNDEXCEPTION", &[]);
}

#[tokio::test]
async fn malformed_batches_are_invalid_select() {
    let h = Harness::new();
    for bad in [
        json!({"halt":0,"cmd":{"a":"tasks.task.get?id=51"}}),
        json!([{"query":{}}]),
        json!([{"method":"tasks.task.get"}]),
        json!([{"method":"tasks.task.get","query":{"id":51},"as":"a"},{"method":"tasks.task.get","query":{"id":51},"as":"a"}]),
        json!([{"method":"tasks.task.get","query":{"id":{"$ref":"missing.id"}}}]),
    ] {
        h.v3(1, "batch", bad.clone()).await.assert_v3_error(
            400,
            "BITRIX_REST_V3_EXCEPTION_INVALIDSELECTEXCEPTION",
            &[],
        );
    }
}

#[tokio::test]
async fn one_batch_is_one_bucket_request_and_one_metered_call() {
    let h = Harness::with(
        PortalConfig::new("localhost")
            .bucket(2, 0.0)
            .operating_limit(10.0)
            .operating_cost("tasks.task.get", 4.0),
    );
    let get = json!({"method":"tasks.task.get","query":{"id":51}});
    let r = h
        .v3(1, "batch", json!([get.clone(), get.clone(), get.clone()]))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    // 12 s charged to `batch`: the next batch is blocked, in the v3 shape.
    let r = h.v3(1, "batch", json!([get.clone()])).await;
    r.assert_v3_error(429, "BITRIX_REST_V3_EXCEPTION_RATELIMITEXCEPTION", &[]);
    // Two HTTP requests so far: the bucket (2, no drain) is now full.
    h.v3(1, "batch", json!([get])).await.assert_classic_error(
        503,
        "QUERY_LIMIT_EXCEEDED",
        "Too many requests",
    );
}

#[tokio::test]
async fn unaliased_items_are_referenced_by_index() {
    let h = Harness::new();
    let r = h
        .v3(
            1,
            "batch",
            json!([
                {"method":"tasks.task.get","query":{"id":51,"select":["id","chatId"]}},
                {"method":"tasks.task.chat.message.send","query":{"fields":{"taskId":{"$ref":"0.id"},"text":"from batch"}}}
            ]),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["result"][1], json!({"result":true}));
    assert_eq!(h.portal.messages(58).last().unwrap().text, "from batch");
}
