//! Behaviours that follow the server's own code where it differs from the REST 3.0
//! documentation, each with the setting that selects the documented variant.

use b24_emulator::{IdempotencyKeys, PortalConfig, UnknownSelectField, DEFAULT_OPERATING_LIMIT};
use bytes::Bytes;
use http::Request;
use serde_json::{json, Value};

use crate::support::Harness;

const ADD: &str = "tasks.task.result.add";
const FROM_MESSAGE: &str = "tasks.task.result.addfromchatmessage";

// ---- 1. addfromchatmessage ----

/// `tasks/lib/access/rule/resultcreatefrommessagerule.php`: one access rule answers
/// 403 for a missing message, a plain chat, a missing task and a task the user
/// cannot read; `messageId` 0, negative or null is refused the same way.
#[tokio::test]
async fn addfromchatmessage_access_rule_answers_403_without_validation() {
    let h = Harness::new();
    let cases = [
        json!({"messageId": 999_999}), // no such message
        json!({"messageId": 338}),     // chat 61 is not a task chat
        json!({"messageId": 337}),     // task 52: user 1 cannot read it
        json!({"messageId": 0}),
        json!({"messageId": -5}),
        json!({"messageId": null}),
        json!({"messageId": false}),
        json!({"messageId": "abc"}),
    ];
    for fields in cases {
        h.v3(1, FROM_MESSAGE, json!({ "fields": fields }))
            .await
            .assert_v3_bare(403, "BITRIX_REST_V3_EXCEPTION_ACCESSDENIEDEXCEPTION");
    }
    // A task chat whose task is gone.
    h.portal.delete_task(51).unwrap();
    h.v3(1, FROM_MESSAGE, json!({"fields":{"messageId":335}}))
        .await
        .assert_v3_bare(403, "BITRIX_REST_V3_EXCEPTION_ACCESSDENIEDEXCEPTION");
    assert!(h.portal.results().is_empty());
}

/// `tasks/lib/V2/Infrastructure/Rest/Controller/Task/Result.php`: the fields
/// structure has no strict types, so `"335"`, `335.0` and `true` are cast to an int.
#[tokio::test]
async fn addfromchatmessage_coerces_message_ids() {
    let h = Harness::new();
    let one = h.portal.add_message(58, 1, "First message").unwrap();
    assert_eq!(one, 34239);
    for (raw, want) in [
        (json!("335"), 335),
        (json!(335.0), 335),
        (json!(" 335"), 335),
    ] {
        let r = h
            .v3(1, FROM_MESSAGE, json!({"fields":{"messageId": raw}}))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["result"]["item"]["messageId"], want);
    }
    // `true` is 1: no message 1, so 403 (the cast happened, the message is missing).
    h.v3(1, FROM_MESSAGE, json!({"fields":{"messageId":true}}))
        .await
        .assert_v3_bare(403, "BITRIX_REST_V3_EXCEPTION_ACCESSDENIEDEXCEPTION");
    // With a message 1 it is accepted.
    let seeded = b24_emulator::Seed::from_json(
        r#"{"users":[{"id":1,"name":"A"}],"tasks":[{"id":5,"title":"T","creator":1,"responsible":1,"chatId":9}],
            "messages":[{"id":1,"chatId":9,"authorId":1,"text":"one"}]}"#,
    )
    .unwrap();
    let h2 = Harness::with(PortalConfig::new("localhost").seed(seeded));
    let r = h2
        .v3(1, FROM_MESSAGE, json!({"fields":{"messageId":true}}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["result"]["item"]["messageId"], 1);
}

/// `ResultService::createFromMessage` in the `tasks` module (createFromMessage never
/// checks for an earlier result of the same message): no de-duplication.
#[tokio::test]
async fn the_same_message_becomes_a_result_twice() {
    let h = Harness::new();
    let a = h
        .v3(1, FROM_MESSAGE, json!({"fields":{"messageId":335}}))
        .await;
    let b = h
        .v3(1, FROM_MESSAGE, json!({"fields":{"messageId":335}}))
        .await;
    assert_eq!(a.body["result"]["item"]["id"], 17);
    assert_eq!(b.body["result"]["item"]["id"], 18);
    let results = h.portal.results();
    assert_eq!(results.len(), 2);
    assert!(results.iter().all(|r| r.message_id == Some(335)));
}

/// `ResultService::createFromMessage` in the `tasks` module: a new result is `open`,
/// also on a completed task, and its `updatedAt` equals `createdAt`.
#[tokio::test]
async fn a_new_result_is_open_even_on_a_completed_task() {
    let h = Harness::new();
    h.portal.complete_task(51).unwrap();
    let r = h
        .v3(1, FROM_MESSAGE, json!({"fields":{"messageId":335}}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let item = &r.body["result"]["item"];
    assert_eq!(item["status"], "open");
    assert_eq!(item["updatedAt"], item["createdAt"]);
    assert!(item["updatedAt"].is_string());
}

/// `ResultService::createFromMessage` in the `tasks` module: an empty message text is
/// replaced by a default title ("Task result" here).
#[tokio::test]
async fn an_empty_message_gets_the_default_title() {
    let h = Harness::new();
    let m = h.portal.add_message(58, 1, "   ").unwrap();
    let r = h
        .v3(1, FROM_MESSAGE, json!({"fields":{"messageId":m}}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["result"]["item"]["text"], "Task result");
}

// ---- 3. field rules ----

/// `tasks/lib/V2/Infrastructure/Rest/Dto/Task/ResultDto.php` with
/// `rest/lib/V3/Dto/Validation/FieldEditableValidator.php`: keys another action
/// needs are ignored, read-only keys are refused, keys outside the DTO are unknown.
#[tokio::test]
async fn result_field_rules() {
    let h = Harness::new();
    // Accepted and ignored.
    let r = h
        .v3(
            1,
            FROM_MESSAGE,
            json!({"fields":{"messageId":335,"taskId":999,"text":"other"}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["result"]["item"]["taskId"], 51);
    assert_eq!(r.body["result"]["item"]["text"], "Task work completed");
    let r = h
        .v3(
            1,
            "tasks.task.result.update",
            json!({"id":17,"fields":{"text":"new","taskId":52,"messageId":1}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["result"]["item"]["taskId"], 51);
    assert_eq!(r.body["result"]["item"]["messageId"], 335);
    // Read-only keys.
    for key in [
        "id",
        "authorId",
        "status",
        "createdAt",
        "updatedAt",
        "rights",
        "fileIds",
    ] {
        let mut fields = json!({"messageId":335});
        fields[key] = json!(1);
        h.v3(1, FROM_MESSAGE, json!({ "fields": fields }))
            .await
            .assert_v3_error(
                400,
                "BITRIX_REST_V3_EXCEPTION_VALIDATION_DTOVALIDATIONEXCEPTION",
                &[(
                    Some(key),
                    &format!("Field `{key}` is not available for filling"),
                )],
            );
        let mut fields = json!({"text":"x"});
        fields[key] = json!(1);
        h.v3(
            1,
            "tasks.task.result.update",
            json!({"id":17, "fields": fields}),
        )
        .await
        .assert_v3_error(
            400,
            "BITRIX_REST_V3_EXCEPTION_VALIDATION_DTOVALIDATIONEXCEPTION",
            &[(
                Some(key),
                &format!("Field `{key}` is not available for filling"),
            )],
        );
    }
    // Outside the DTO: no validation list, no time.
    for method in [ADD, FROM_MESSAGE, "tasks.task.result.update"] {
        h.v3(
            1,
            method,
            json!({"id":17,"fields":{"taskId":51,"messageId":335,"text":"x","colour":1}}),
        )
        .await
        .assert_v3_bare(400, "BITRIX_REST_V3_EXCEPTION_UNKNOWNDTOPROPERTYEXCEPTION");
    }
}

/// `rest/lib/V3/Structure/SelectStructure.php` and `PaginationStructure.php`.
#[tokio::test]
async fn list_select_and_pagination_follow_the_server() {
    let h = Harness::new();
    for _ in 0..3 {
        h.v3(1, ADD, json!({"fields":{"taskId":51,"text":"r"}}))
            .await;
    }
    let list = |body: Value| h.v3(1, "tasks.task.result.list", body);
    // No select: rights computed.
    let r = list(json!({"filter":[["taskId",51]]})).await;
    assert_eq!(
        r.body["result"]["items"][0]["rights"],
        json!({"edit":true,"remove":true})
    );
    // Unknown plain field in select.
    list(json!({"filter":[["taskId",51]],"select":["id","nonsense"]}))
        .await
        .assert_v3_error(
            400,
            "BITRIX_REST_V3_EXCEPTION_UNKNOWNDTOPROPERTYEXCEPTION",
            &[(
                Some("select"),
                "Unknown field `nonsense` for entity `ResultDto`",
            )],
        );
    // Negative limit: 500.
    list(json!({"filter":[["taskId",51]],"pagination":{"limit":-1}}))
        .await
        .assert_v3_error(
            500,
            "BITRIX_REST_V3_EXCEPTION_INTERNAL_INTERNALEXCEPTION",
            &[],
        );
    // The taskId condition must use `=`.
    list(json!({"filter":[["taskId","in",[51]]]}))
        .await
        .assert_v3_error(
            400,
            "BITRIX_REST_V3_EXCEPTION_VALIDATION_REQUESTFILTERVALIDATIONEXCEPTION",
            &[(
                Some("filter.taskId"),
                "A filter for the required field `taskId` must be specified",
            )],
        );
    // `page` overrides `offset`.
    let r = list(json!({"filter":[["taskId",51]],"select":["id"],"pagination":{"limit":1,"offset":0,"page":3}})).await;
    assert_eq!(r.body["result"]["items"], json!([{"id":19}]));
}

/// The documented variant (https://apidocs.bitrix24.com/api-reference/rest-v3.html#connection):
/// an unknown field of the object itself is dropped.
#[tokio::test]
async fn unknown_select_fields_can_be_dropped_as_documented() {
    let h = Harness::with(
        PortalConfig::new("localhost").unknown_select_field(UnknownSelectField::Dropped),
    );
    h.v3(1, ADD, json!({"fields":{"taskId":51,"text":"r"}}))
        .await;
    let r = h
        .v3(
            1,
            "tasks.task.result.list",
            json!({"filter":[["taskId",51]],"select":["id","nonsense"]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["result"]["items"], json!([{"id":17}]));
}

/// the `tasks` module's REST 3.0 task controller (`tasks/lib/V2/Infrastructure/Rest/Controller/`): access before existence.
#[tokio::test]
async fn v3_task_get_checks_access_before_existence() {
    let h = Harness::new();
    // User 2 is not an administrator: 403 for a missing id.
    h.v3(2, "tasks.task.get", json!({"id":999}))
        .await
        .assert_v3_bare(403, "BITRIX_REST_V3_EXCEPTION_ACCESSDENIEDEXCEPTION");
    // User 1 is: the id is reported missing.
    h.v3(1, "tasks.task.get", json!({"id":999}))
        .await
        .assert_v3_bare(400, "BITRIX_REST_V3_EXCEPTION_ENTITYNOTFOUNDEXCEPTION");
    // No select: every plain field.
    let r = h.v3(1, "tasks.task.get", json!({"id":51})).await;
    let item = &r.body["result"]["item"];
    for key in [
        "id",
        "title",
        "description",
        "chatId",
        "creatorId",
        "responsibleId",
        "accomplices",
        "auditors",
        "status",
    ] {
        assert!(item.get(key).is_some(), "{key} in {item}");
    }
}

// ---- 2. Idempotency-Key ----

/// The server code has no `Idempotency-Key` handling
/// (`tasks/lib/V2/Infrastructure/Rest/Controller/Task/Result.php`): no replay, no
/// echo, no refusal of a reused or malformed key.
#[tokio::test]
async fn idempotency_keys_are_ignored_by_default() {
    let h = Harness::new();
    let key = [("Idempotency-Key", "k1")];
    let a = h
        .v3_with(1, ADD, json!({"fields":{"taskId":51,"text":"a"}}), &key)
        .await;
    let b = h
        .v3_with(1, ADD, json!({"fields":{"taskId":51,"text":"a"}}), &key)
        .await;
    let c = h
        .v3_with(1, ADD, json!({"fields":{"taskId":51,"text":"b"}}), &key)
        .await;
    // 256 characters: over the documented 255, yet not refused.
    let long = "k".repeat(256);
    let bad = h
        .v3_with(
            1,
            ADD,
            json!({"fields":{"taskId":51,"text":"c"}}),
            &[("Idempotency-Key", &long)],
        )
        .await;
    for r in [&a, &b, &c, &bad] {
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(r.headers.get("idempotency-key").is_none());
        assert!(r.headers.get("idempotent-replayed").is_none());
    }
    assert_eq!(h.portal.results().len(), 4);
}

/// https://apidocs.bitrix24.com/api-reference/rest-v3.html#idempotency, selected for
/// every portal on the builder.
#[tokio::test]
async fn the_builder_selects_honoured_keys_for_every_portal() {
    let emu = b24_emulator::Emulator::builder()
        .portal(PortalConfig::new("p1.localhost"))
        .portal(PortalConfig::new("p2.localhost"))
        .idempotency_keys(IdempotencyKeys::Honoured)
        .build();
    for host in ["p1.localhost", "p2.localhost"] {
        let portal = emu.portal(host).unwrap();
        let secret = portal.webhook_secret(1).unwrap();
        let send = || {
            let req = Request::post(format!("/rest/api/1/{secret}/{ADD}"))
                .header("host", host)
                .header("content-type", "application/json")
                .header("idempotency-key", "same")
                .body(Bytes::from(r#"{"fields":{"taskId":51,"text":"x"}}"#))
                .unwrap();
            emu.handle(req)
        };
        let first = send().await;
        let again = send().await;
        assert_eq!(first.headers()["idempotency-key"], "same");
        assert_eq!(again.headers()["idempotent-replayed"], "true");
        assert_eq!(portal.results().len(), 1);
    }
}

// ---- 4. limits and batches ----

/// `rest/lib/engine/access/loadlimiter.php`: 420 s by default, blocked only when the
/// total is strictly above it.
#[tokio::test]
async fn operating_limit_is_420_and_blocks_strictly_above() {
    assert!((DEFAULT_OPERATING_LIMIT - 420.0).abs() < f64::EPSILON);
    let h = Harness::with(PortalConfig::new("localhost").operating_cost("tasks.task.get", 210.0));
    // 210 + 210 = 420: not above, so the third call still runs.
    for _ in 0..3 {
        let r = h.v3(1, "tasks.task.get", json!({"id":51})).await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    // 630 > 420: blocked.
    h.v3(1, "tasks.task.get", json!({"id":51}))
        .await
        .assert_v3_error(429, "BITRIX_REST_V3_EXCEPTION_RATELIMITEXCEPTION", &[]);
}

/// `rest/classes/general/RestApiServer.php` (processBatchServerExecution reads
/// `getJsonList()`, which PHP fills alike from an array and from an object keyed
/// "0", "1", …): the official JS SDK's object body runs, and the answer's `time`
/// carries `operating` and `operating_reset_at`.
#[tokio::test]
async fn a_batch_body_keyed_by_index_runs_like_an_array() {
    let h = Harness::new();
    let body = json!({
        "0": {"method":"tasks.task.get","query":{"id":51,"select":["id"]},"parallel":false},
        "1": {"method":"tasks.task.result.add","query":{"fields":{"taskId":51,"text":"x"}},"parallel":false}
    });
    let r = h.v3(1, "batch", body).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["result"][0]["item"]["id"], 51);
    assert_eq!(r.body["result"][1]["item"]["id"], 17);
    assert!(r.body["time"]["operating"].is_number(), "{}", r.body);
    assert!(r.body["time"]["operating_reset_at"].is_i64(), "{}", r.body);
    // Keys that are not indexes are not a batch.
    h.v3(1, "batch", json!({"cmd":{"a":"tasks.task.get?id=51"}}))
        .await
        .assert_v3_error(400, "BITRIX_REST_V3_EXCEPTION_INVALIDSELECTEXCEPTION", &[]);
}

/// `rest/lib/V3/Interaction/Request/Request.php`: query parameters of a REST 3.0
/// POST are ignored (the official SDKs send `bx24_request_id` and others there).
#[tokio::test]
async fn query_parameters_of_a_v3_post_are_ignored() {
    let h = Harness::new();
    let path = format!(
        "/rest/api/1/{}/tasks.task.get?bx24_request_id=abc&bx24_sdk_ver=2.2.0&bx24_sdk_type=b24-js-sdk&id=52",
        h.secret(1)
    );
    let r = h
        .raw(
            "POST",
            &path,
            "application/json",
            r#"{"id":51,"select":["id"]}"#,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["result"]["item"]["id"], 51);
}

// ---- 5. auth ----

/// `rest/classes/general/RestApiServer.php` (getRequestAccess): every auth failure on
/// `/rest/api/` is 401 ACCESSDENIEDEXCEPTION with one generic message.
#[tokio::test]
async fn every_v3_auth_failure_is_one_generic_401() {
    let h = Harness::new();
    let (access, _) = h.portal.issue_tokens(1).unwrap();
    h.portal.expire_token(&access);
    let expired = h
        .v3_oauth(access.expose_secret(), "tasks.task.get", json!({"id":51}))
        .await;
    let unknown = h.v3_oauth("nope", "tasks.task.get", json!({"id":51})).await;
    let hook = h
        .raw(
            "POST",
            "/rest/api/1/wrong/tasks.task.get",
            "application/json",
            r#"{"id":51}"#,
        )
        .await;
    for r in [&expired, &unknown, &hook] {
        r.assert_v3_bare(401, "BITRIX_REST_V3_EXCEPTION_ACCESSDENIEDEXCEPTION");
    }
    assert_eq!(expired.body, unknown.body);
    assert_eq!(unknown.body, hook.body);
}

/// `rest/lib/oauth/auth.php`: `Authorization: Bearer <token>` authenticates on REST
/// 3.0 (the batch's array body included) and on classic.
#[tokio::test]
async fn bearer_tokens_authenticate_everywhere() {
    let h = Harness::new();
    let (access, _) = h.portal.issue_tokens(1).unwrap();
    let bearer = format!("Bearer {}", access.expose_secret());
    let send = |path: &'static str, body: &'static str| {
        let req = Request::post(path)
            .header("host", "localhost")
            .header("content-type", "application/json")
            .header("authorization", bearer.clone())
            .body(Bytes::from(body))
            .unwrap();
        h.send(req)
    };
    let r = send("/rest/api/tasks.task.get", r#"{"id":51,"select":["id"]}"#).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = send(
        "/rest/api/batch",
        r#"[{"method":"tasks.task.get","query":{"id":51,"select":["id"]}}]"#,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["result"][0]["item"]["id"], 51);
    let r = send("/rest/server.time", "{}").await;
    assert_eq!(r.status, 200, "{}", r.body);
}

// ---- 6. methods the official SDKs call ----

/// https://apidocs.bitrix24.com/api-reference/common/system/server-time.html
#[tokio::test]
async fn classic_server_time_answers_the_portal_time() {
    let h = Harness::new();
    let r = h.classic(1, "server.time", json!({})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["result"], "2026-04-30T08:15:00+02:00");
    assert!(r.body["time"]["start"].is_number());
    // Not ported to REST 3.0 in the server code (`rest/classes/general/RestApiServer.php`
    // serves only described methods).
    h.v3(1, "server.time", json!({})).await.assert_v3_error(
        404,
        "BITRIX_REST_V3_EXCEPTION_METHODNOTFOUNDEXCEPTION",
        &[],
    );
}

/// https://apidocs.bitrix24.com/api-reference/tasks/tasks-task-get.html
#[tokio::test]
async fn classic_task_get_has_the_documented_shape() {
    let h = Harness::new();
    let r = h.classic(1, "tasks.task.get", json!({"taskId":51})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let task = &r.body["result"]["task"];
    assert_eq!(task["id"], "51");
    assert_eq!(task["title"], "Prepare the quarterly report");
    assert_eq!(task["createdBy"], "1");
    assert_eq!(task["responsibleId"], "1");
    assert_eq!(task["status"], "2");
    assert_eq!(task["accomplices"], json!(["2"]));
    assert_eq!(task["creator"]["name"], "John Smith");
    assert!(task.get("chatId").is_none());
    let r = h
        .classic(
            1,
            "tasks.task.get",
            json!({"taskId":"51","select":["ID","CHAT_ID"]}),
        )
        .await;
    assert_eq!(r.body["result"]["task"]["chatId"], 58);
    assert_eq!(r.body["result"]["task"]["id"], "51");
    assert!(r.body["result"]["task"].get("title").is_none());
    // No access: an empty array.
    let r = h.classic(1, "tasks.task.get", json!({"taskId":52})).await;
    assert_eq!(r.body["result"], json!([]));
    h.classic(1, "tasks.task.get", json!({}))
        .await
        .assert_classic_error(
        400,
        "100",
        "CTaskItem All parameters in the constructor must have real class type (internal error)",
    );
    h.classic(1, "tasks.task.get", json!({"taskId":"x"}))
        .await
        .assert_classic_error(400, "0", "wrong task id");
}

/// https://apidocs.bitrix24.com/api-reference/tasks/result/tasks-task-result-list.html
#[tokio::test]
async fn classic_result_list_has_the_documented_shape() {
    let h = Harness::new();
    h.v3(1, FROM_MESSAGE, json!({"fields":{"messageId":335}}))
        .await;
    h.v3(1, ADD, json!({"fields":{"taskId":51,"text":"second"}}))
        .await;
    h.portal.complete_task(51).unwrap();
    let r = h
        .classic(1, "tasks.task.result.list", json!({"taskId":51}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let items = r.body["result"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    let first = &items[0];
    let keys: Vec<&str> = first
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "id",
            "taskId",
            "commentId",
            "createdBy",
            "createdAt",
            "updatedAt",
            "status",
            "text",
            "formattedText",
            "files"
        ]
    );
    assert_eq!(first["id"], 18);
    assert_eq!(first["status"], 1);
    assert_eq!(first["commentId"], 0);
    assert_eq!(items[1]["text"], "Task work completed");
    h.classic(1, "tasks.task.result.list", json!({"taskId":52}))
        .await
        .assert_classic_error(400, "0", "Access denied.");
}

/// https://apidocs.bitrix24.com/api-reference/tasks/rest-v3/tasks-task-update.html
#[tokio::test]
async fn v3_task_update_changes_title_and_completes() {
    let h = Harness::new();
    h.v3(1, ADD, json!({"fields":{"taskId":51,"text":"r"}}))
        .await;
    let r = h
        .v3(
            1,
            "tasks.task.update",
            json!({"id":51,"fields":{"title":"New","description":"D"}}),
        )
        .await;
    assert_eq!(
        r.body,
        json!({"result":{"result":true},"time":r.body["time"]})
    );
    let r = h
        .v3(
            1,
            "tasks.task.update",
            json!({"id":51,"fields":{"status":"completed"}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(h.portal.results().iter().all(|r| r.closed));
    let got = h
        .v3(
            1,
            "tasks.task.get",
            json!({"id":51,"select":["title","description","status"]}),
        )
        .await;
    let item = &got.body["result"]["item"];
    assert_eq!(item["title"], "New");
    assert_eq!(item["description"], "D");
    assert_eq!(item["status"], "completed");
    // Resumed: the results stay closed.
    h.v3(
        1,
        "tasks.task.update",
        json!({"id":51,"fields":{"status":"in_progress"}}),
    )
    .await;
    assert!(h.portal.results().iter().all(|r| r.closed));
    // Errors.
    h.v3(1, "tasks.task.update", json!({"fields":{"title":"x"}}))
        .await
        .assert_v3_error(
            400,
            "BITRIX_REST_V3_EXCEPTION_VALIDATION_REQUESTVALIDATIONEXCEPTION",
            &[(Some("id"), "Required field `id` is missing")],
        );
    h.v3(1, "tasks.task.update", json!({"id":51,"fields":{"creatorId":2}}))
        .await
        .assert_v3_error(
            400,
            "BITRIX_REST_V3_EXCEPTION_VALIDATION_REQUESTVALIDATIONEXCEPTION",
            &[(
                Some("creatorId"),
                "In DTO `TaskDto`, the field `creatorId` requires the presence of the `Editable` attribute for such a request",
            )],
        );
    h.v3(
        1,
        "tasks.task.update",
        json!({"id":52,"fields":{"title":"x"}}),
    )
    .await
    .assert_v3_bare(403, "BITRIX_REST_V3_EXCEPTION_ACCESSDENIEDEXCEPTION");
}
