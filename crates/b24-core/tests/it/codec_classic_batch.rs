//! The classic batch: the exact body, PHP query-string encoding, limits, keys,
//! and the answer with empty sub-objects as `[]` or as objects.

use b24_core::methods::{
    ClassicBatch, ClassicBatchResult, ClassicCommand, DialogId, ImMessageAdd, RawCall, TaskGet,
};
use b24_core::types::{ChatId, ErrorCode, ErrorShape, MessageId, TaskId};
use b24_core::{
    build_request, parse_response, Api, Error, InputError, Method, Repeat, RequestOptions,
};
use serde_json::{json, Map, Value};

use crate::codec_support::{body_json, oauth, response, token, webhook, SECRET, TOKEN};

fn field_of(e: &InputError) -> &str {
    match e {
        InputError::Param { field, .. } => field,
        other => panic!("expected InputError::Param, got {other:?}"),
    }
}

fn params(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        other => panic!("not an object: {other}"),
    }
}

fn message(text: &str) -> ClassicCommand {
    let chat = DialogId::chat(ChatId::new(58).unwrap());
    ClassicCommand::from_method(&ImMessageAdd::new(chat, text).unwrap()).unwrap()
}

#[test]
fn exact_body_with_nested_params_and_special_characters() {
    let deal = ClassicCommand::new(
        "crm.deal.add",
        params(json!({
            "fields": {"TITLE": "Tom & Jerry = 100% + ü", "OPPORTUNITY": 12.5, "OPENED": true},
            "params": {"REGISTER_SONET_EVENT": "N"}
        })),
    )
    .unwrap();
    let list = ClassicCommand::new(
        "crm.deal.list",
        params(json!({
            "filter": {">ID": ClassicBatch::result_ref("deal", &[]).unwrap()},
            "select": ["ID", "TITLE"],
            "order": {"ID": "ASC"},
            "start": -1,
            "skipped": null,
            "empty": []
        })),
    )
    .unwrap()
    .with_repeat(Repeat::Safe);
    let batch = ClassicBatch::new()
        .push("deal", deal)
        .unwrap()
        .push("list_2", list)
        .unwrap()
        .push("hi", message("a b\nc#d?"))
        .unwrap()
        .halt(true);
    let want = json!({
        "halt": 1,
        "cmd": {
            "deal": "crm.deal.add?fields[TITLE]=Tom%20%26%20Jerry%20%3D%20100%25%20%2B%20%C3%BC&fields[OPPORTUNITY]=12.5&fields[OPENED]=1&params[REGISTER_SONET_EVENT]=N",
            "list_2": "crm.deal.list?filter[%3EID]=$result[deal]&select[0]=ID&select[1]=TITLE&order[ID]=ASC&start=-1",
            "hi": "im.message.add?DIALOG_ID=chat58&MESSAGE=a%20b%0Ac%23d%3F"
        }
    });
    assert_eq!(batch.params().unwrap(), params(want.clone()));

    // Webhook: `/rest/{user}/{secret}/batch`; OAuth: `/rest/batch` with `auth`.
    let hook = build_request(&webhook(), &batch, &RequestOptions::new()).unwrap();
    assert_eq!(
        hook.uri().to_string(),
        format!("https://example.bitrix24.com/rest/1/{SECRET}/batch")
    );
    assert_eq!(body_json(&hook), want);
    let req = build_request(
        &oauth(),
        &batch,
        &RequestOptions::new().access_token(token()),
    )
    .unwrap();
    assert_eq!(
        req.uri().to_string(),
        "https://example.bitrix24.com/rest/batch"
    );
    assert_eq!(body_json(&req)["auth"], TOKEN);
    assert_eq!(body_json(&req)["cmd"], want["cmd"]);

    assert_eq!(batch.name(), "batch");
    assert_eq!(batch.api(), Api::Classic);
    assert!(!batch.honours_idempotency_key());
    assert_eq!(
        batch.budget_methods(),
        vec!["crm.deal.add", "crm.deal.list", "im.message.add"]
    );
    // One write makes the batch unsafe to repeat; only reads make it safe.
    assert_eq!(batch.repeat(), Repeat::Unsafe);
    let reads = ClassicBatch::new()
        .push(
            "a",
            ClassicCommand::new("user.current", Map::new())
                .unwrap()
                .with_repeat(Repeat::Safe),
        )
        .unwrap();
    assert_eq!(reads.repeat(), Repeat::Safe);
    assert_eq!(reads.params().unwrap()["halt"], 0);
    assert_eq!(reads.params().unwrap()["cmd"]["a"], "user.current");
    // A command defaults to unsafe.
    assert_eq!(
        ClassicCommand::new("user.current", Map::new())
            .unwrap()
            .repeat(),
        Repeat::Unsafe
    );
}

#[test]
fn at_most_fifty_commands_never_dropped() {
    let mut batch = ClassicBatch::new();
    for i in 0..ClassicBatch::MAX_COMMANDS {
        batch = batch.push(format!("m{i}"), message("x")).unwrap();
    }
    assert_eq!(batch.len(), 50);
    assert_eq!(
        batch.params().unwrap()["cmd"].as_object().unwrap().len(),
        50
    );
    let e = batch.clone().push("m50", message("x")).unwrap_err();
    assert_eq!(field_of(&e), "cmd");
    // An empty batch is refused too.
    let e = ClassicBatch::new().params().unwrap_err();
    assert!(
        matches!(e, Error::InvalidInput(InputError::Param { ref field, .. }) if field == "cmd")
    );
}

#[test]
fn keys_are_checked() {
    for bad in ["", "a-b", "a b", "ключ", "a[0]", "a.b"] {
        let e = ClassicBatch::new().push(bad, message("x")).unwrap_err();
        assert_eq!(field_of(&e), "cmd.key", "{bad:?}");
    }
    let e = ClassicBatch::new()
        .push("Get_1", message("x"))
        .unwrap()
        .push("Get_1", message("y"))
        .unwrap_err();
    assert_eq!(field_of(&e), "cmd.key");
}

#[test]
fn classic_methods_only_and_no_nested_batch() {
    for name in ["batch", "BATCH"] {
        let e = ClassicCommand::new(name, Map::new()).unwrap_err();
        assert_eq!(field_of(&e), "method");
    }
    let nested = RawCall::new("batch", Api::Classic).unwrap();
    assert!(matches!(
        ClassicCommand::from_method(&nested),
        Err(Error::InvalidInput(InputError::Param { ref field, .. })) if field == "method"
    ));
    let v3 = TaskGet::for_chat(TaskId::new(51).unwrap());
    assert!(matches!(
        ClassicCommand::from_method(&v3),
        Err(Error::InvalidInput(InputError::Param { ref field, .. })) if field == "method"
    ));
    let e = ClassicCommand::new("im.message.add", params(json!({"auth": "x"}))).unwrap_err();
    assert_eq!(field_of(&e), "auth");
    for bad in [
        json!({"a.b": 1}),
        json!({"a b": 1}),
        json!({"a[0]": 1}),
        json!({"": 1}),
        json!({"f": {"x]": 1}}),
    ] {
        let e = ClassicCommand::new("crm.deal.add", params(bad.clone())).unwrap_err();
        assert!(matches!(e, InputError::Param { .. }), "{bad}");
    }
}

#[test]
fn result_references() {
    assert_eq!(
        ClassicBatch::result_ref("get_user", &["UF_DEPARTMENT", "0"]).unwrap(),
        "$result[get_user][UF_DEPARTMENT][0]"
    );
    assert_eq!(ClassicBatch::result_ref("a", &[]).unwrap(), "$result[a]");
    assert_eq!(
        field_of(&ClassicBatch::result_ref("a b", &[]).unwrap_err()),
        "cmd.key"
    );
    for part in ["", "x]", "[y", "a b"] {
        assert_eq!(
            field_of(&ClassicBatch::result_ref("a", &[part]).unwrap_err()),
            "$result"
        );
    }
}

fn answer(body: &Value) -> ClassicBatchResult {
    let batch = ClassicBatch::new().push("a", message("x")).unwrap();
    let resp = response(200, &body.to_string());
    parse_response(&batch, &resp).unwrap().result
}

#[test]
fn decodes_the_documented_answer_with_arrays_and_objects() {
    let time = json!({"start":1.7e9,"finish":1.7e9,"duration":0.01,"processing":0.01,
        "date_start":"2026-04-30T10:15:00+03:00","date_finish":"2026-04-30T10:15:00+03:00"});
    let empty = answer(&json!({
        "result": {
            "result": {"get_user": {"ID": "1", "UF_DEPARTMENT": [5]}, "get_department": [{"ID": "5"}]},
            "result_error": [],
            "result_total": {"get_department": 1},
            "result_next": [],
            "result_time": {"get_user": time, "get_department": time}
        },
        "time": time
    }));
    assert!(!empty.has_errors());
    assert_eq!(empty.result("get_user").unwrap()["UF_DEPARTMENT"][0], 5);
    assert_eq!(empty.totals.get("get_department"), Some(&1));
    assert!(empty.nexts.is_empty());
    assert_eq!(empty.times["get_user"].duration, Some(0.01));
    assert!(empty.ran("get_department"));
    assert!(!empty.ran("other"));

    let failed = answer(&json!({
        "result": {
            "result": {"first": 34239},
            "result_error": {"second": {"error": "insufficient_scope", "error_description": ""}},
            "result_total": [],
            "result_next": {"first": "50"},
            "result_time": []
        }
    }));
    let error = failed.error("second").unwrap();
    assert_eq!(error.code, ErrorCode::from_wire("insufficient_scope"));
    assert_eq!(error.shape, ErrorShape::Classic);
    assert_eq!(error.status, 0);
    assert!(failed.error("first").is_none());
    assert!(failed.result("second").is_none());
    assert_eq!(failed.nexts.get("first"), Some(&50));
    assert_eq!(failed.decode::<MessageId>("first").unwrap().get(), 34239);
    assert!(
        matches!(failed.decode::<MessageId>("second"), Err(Error::Api(e)) if e.code == ErrorCode::from_wire("insufficient_scope"))
    );
    assert!(matches!(
        failed.decode::<MessageId>("third"),
        Err(Error::Decode { .. })
    ));

    // All five empty, and an array `result` (a batch whose `cmd` was an array).
    let none = answer(
        &json!({"result": {"result": [], "result_error": [], "result_total": [], "result_next": [], "result_time": []}}),
    );
    assert_eq!(none, ClassicBatchResult::default());
    let listed = answer(
        &json!({"result": {"result": [10, 11], "result_error": [], "result_total": [], "result_next": [], "result_time": []}}),
    );
    assert_eq!(listed.result("1"), Some(&json!(11)));
}

#[test]
fn malformed_sub_objects_are_decode_errors() {
    let batch = ClassicBatch::new().push("a", message("x")).unwrap();
    for body in [
        json!({"result": {"result": "nope"}}),
        json!({"result": {"result_total": {"a": "many"}}}),
        json!({"result": {"result_error": {"a": {"error_description": "no code"}}}}),
    ] {
        let resp = response(200, &body.to_string());
        assert!(
            matches!(parse_response(&batch, &resp), Err(Error::Decode { .. })),
            "{body}"
        );
    }
}
