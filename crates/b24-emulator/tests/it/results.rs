//! tasks.task.result.add / addfromchatmessage / update / delete: the documented
//! request examples, response shapes and every documented error.

use serde_json::{json, Value};

use crate::support::{assert_time, Harness, START};

const ITEM_KEYS: [&str; 10] = [
    "id",
    "taskId",
    "text",
    "authorId",
    "createdAt",
    "updatedAt",
    "status",
    "fileIds",
    "rights",
    "messageId",
];

fn keys(v: &Value) -> Vec<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

#[tokio::test]
async fn add_answers_the_documented_item() {
    let h = Harness::new();
    let r = h
        .v3(
            1,
            "tasks.task.result.add",
            json!({"fields":{"taskId":51,"text":"Task completed"}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let item = &r.body["result"]["item"];
    assert_eq!(keys(item), ITEM_KEYS);
    assert_eq!(item["id"], 17);
    assert_eq!(item["taskId"], 51);
    assert_eq!(item["text"], "Task completed");
    assert_eq!(item["authorId"], 1);
    assert_eq!(
        item["createdAt"],
        b24_types::DateTime::from_unix(START as i64, 7200).as_str()
    );
    assert_eq!(item["updatedAt"], Value::Null);
    assert_eq!(item["status"], "open");
    assert_eq!(item["fileIds"], json!([]));
    assert_eq!(item["rights"], json!({"edit":true,"remove":true}));
    assert_eq!(item["messageId"], Value::Null);
    assert_time(&r.body);
    assert_eq!(r.body["time"]["start"], START);
    // The body parses as the shared wire types.
    let typed: b24_types::Envelope<b24_types::ItemResult<b24_types::TaskResult>> =
        serde_json::from_value(r.body.clone()).unwrap();
    assert_eq!(typed.result.item.id.get(), 17);
    assert_eq!(h.portal.results().len(), 1);
}

#[tokio::test]
async fn add_errors_as_documented() {
    let h = Harness::new();
    let call = |body: Value| {
        let h = &h;
        async move { h.v3(1, "tasks.task.result.add", body).await }
    };
    call(json!({})).await.assert_v3_error(
        400,
        "BITRIX_REST_V3_EXCEPTION_VALIDATION_REQUESTVALIDATIONEXCEPTION",
        &[(Some("fields"), "Required field `fields` is not specified")],
    );
    call(json!({"fields":{"text":"x"}})).await.assert_v3_error(
        400,
        "BITRIX_REST_V3_EXCEPTION_VALIDATION_DTOVALIDATIONEXCEPTION",
        &[(Some("taskId"), "Required field `taskId` is not specified")],
    );
    call(json!({"fields":{"taskId":51}})).await.assert_v3_error(
        400,
        "BITRIX_REST_V3_EXCEPTION_VALIDATION_DTOVALIDATIONEXCEPTION",
        &[(Some("text"), "Required field `text` is not specified")],
    );
    // The documented example body for an empty text.
    let r = call(json!({"fields":{"taskId":51,"text":""}})).await;
    assert_eq!(
        r.body,
        json!({"error":{"code":"BITRIX_REST_V3_EXCEPTION_VALIDATION_DTOVALIDATIONEXCEPTION","message":"Validation error","validation":[{"field":"text","message":"The required field \"text\" is not filled"}]}})
    );
    call(json!({"fields":{"taskId":51,"text":"x","fileIds":[1]}}))
        .await
        .assert_v3_error(
            400,
            "BITRIX_REST_V3_EXCEPTION_VALIDATION_DTOVALIDATIONEXCEPTION",
            &[(
                Some("fileIds"),
                "Field `fileIds` is not available for filling",
            )],
        );
    call(json!({"fields":{"taskId":"51","text":"x"}}))
        .await
        .assert_v3_error(
            400,
            "BITRIX_REST_V3_EXCEPTION_VALIDATION_REQUESTVALIDATIONEXCEPTION",
            &[(
                Some("taskId"),
                "Field `taskId` requires `int` data type for this request",
            )],
        );
    call(json!({"fields":{"taskId":-3,"text":"x"}}))
        .await
        .assert_v3_error(
            400,
            "BITRIX_REST_V3_EXCEPTION_VALIDATION_REQUESTVALIDATIONEXCEPTION",
            &[(Some("taskId"), "Task id must be positive")],
        );
    call(json!({"fields":{"taskId":null,"text":"x"}}))
        .await
        .assert_v3_error(
            400,
            "BITRIX_REST_V3_EXCEPTION_VALIDATION_REQUESTVALIDATIONEXCEPTION",
            &[(Some("taskId"), "Task id must be set")],
        );
    call(json!({"fields":{"taskId":999,"text":"x"}}))
        .await
        .assert_v3_error(
            400,
            "BITRIX_REST_V3_EXCEPTION_VALIDATION_REQUESTVALIDATIONEXCEPTION",
            &[(Some("taskId"), "Task not found")],
        );
    // Task 52: user 1 is not a member.
    call(json!({"fields":{"taskId":52,"text":"x"}}))
        .await
        .assert_v3_bare(403, "BITRIX_REST_V3_EXCEPTION_ACCESSDENIEDEXCEPTION");
    call(json!({"fields":{"taskId":51,"text":"x","colour":"red"}}))
        .await
        .assert_v3_error(
            400,
            "BITRIX_REST_V3_EXCEPTION_UNKNOWNDTOPROPERTYEXCEPTION",
            &[],
        );
    // A read-only field is refused (`rest/lib/V3/Dto/Validation/FieldEditableValidator.php`).
    call(json!({"fields":{"taskId":51,"text":"x","authorId":3}}))
        .await
        .assert_v3_error(
            400,
            "BITRIX_REST_V3_EXCEPTION_VALIDATION_DTOVALIDATIONEXCEPTION",
            &[(
                Some("authorId"),
                "Field `authorId` is not available for filling",
            )],
        );
    // `messageId`, which addfromchatmessage requires, is accepted and ignored.
    let ok = call(json!({"fields":{"taskId":51,"text":"x","messageId":335}})).await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(ok.body["result"]["item"]["messageId"], Value::Null);
    // Nothing but the last call was stored.
    assert_eq!(h.portal.results().len(), 1);
}

#[tokio::test]
async fn add_from_chat_message_answers_the_documented_item() {
    let h = Harness::new();
    let r = h
        .v3(
            1,
            "tasks.task.result.addfromchatmessage",
            json!({"fields":{"messageId":335}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let item = &r.body["result"]["item"];
    assert_eq!(keys(item), ITEM_KEYS);
    assert_eq!(item["id"], 17);
    assert_eq!(item["taskId"], 51);
    assert_eq!(item["text"], "Task work completed");
    assert_eq!(item["messageId"], 335);
    assert_eq!(item["status"], "open");
    // A fresh result's `updatedAt` equals `createdAt`
    // (`ResultService::createFromMessage` in the `tasks` module).
    assert_eq!(item["updatedAt"], item["createdAt"]);
    assert_time(&r.body);
    let stored = h.portal.results();
    assert_eq!(stored[0].message_id, Some(335));
}

#[tokio::test]
async fn add_from_chat_message_errors_as_documented() {
    let h = Harness::new();
    let call = |user: u64, body: Value| {
        let h = &h;
        async move {
            h.v3(user, "tasks.task.result.addfromchatmessage", body)
                .await
        }
    };
    // The documented example body.
    let r = call(1, json!({})).await;
    assert_eq!(
        r.body,
        json!({"error":{"code":"BITRIX_REST_V3_EXCEPTION_VALIDATION_REQUESTVALIDATIONEXCEPTION","message":"Error during request object validation","validation":[{"field":"fields","message":"Required field `fields` is missing"}]}})
    );
    assert_eq!(r.status, 400);
    call(1, json!({"fields":{}})).await.assert_v3_error(
        400,
        "BITRIX_REST_V3_EXCEPTION_VALIDATION_DTOVALIDATIONEXCEPTION",
        &[(Some("messageId"), "Required field `messageId` is missing")],
    );
    call(1, json!({"fields":{"messageId":335,"fileIds":[]}}))
        .await
        .assert_v3_error(
            400,
            "BITRIX_REST_V3_EXCEPTION_VALIDATION_DTOVALIDATIONEXCEPTION",
            &[(
                Some("fileIds"),
                "Field `fileIds` is not available for filling",
            )],
        );
    call(1, json!({"fields":{"messageId":[335]}}))
        .await
        .assert_v3_error(
            400,
            "BITRIX_REST_V3_EXCEPTION_VALIDATION_REQUESTVALIDATIONEXCEPTION",
            &[(
                Some("messageId"),
                "Field `messageId` requires data type `int` for this request",
            )],
        );
    call(1, json!({"fields":{"messageId":335,"colour":"red"}}))
        .await
        .assert_v3_bare(400, "BITRIX_REST_V3_EXCEPTION_UNKNOWNDTOPROPERTYEXCEPTION");
    // 338 is in the plain chat "General", not a task chat: the access rule refuses it
    // (`tasks/lib/access/rule/resultcreatefrommessagerule.php`).
    call(1, json!({"fields":{"messageId":338}}))
        .await
        .assert_v3_bare(403, "BITRIX_REST_V3_EXCEPTION_ACCESSDENIEDEXCEPTION");
    // 337 is in task 52's chat; user 1 has no access.
    call(1, json!({"fields":{"messageId":337}}))
        .await
        .assert_v3_bare(403, "BITRIX_REST_V3_EXCEPTION_ACCESSDENIEDEXCEPTION");
    // A message whose task was deleted.
    h.portal.delete_task(51).unwrap();
    call(2, json!({"fields":{"messageId":336}}))
        .await
        .assert_v3_error(403, "BITRIX_REST_V3_EXCEPTION_ACCESSDENIEDEXCEPTION", &[]);
    let t = h
        .portal
        .seed_task(
            b24_emulator::TaskSeed::new("Temp")
                .creator(3)
                .responsible(3),
        )
        .unwrap();
    let m = h.portal.add_message(t.chat_id, 3, "done").unwrap();
    h.portal.delete_task(t.task_id).unwrap();
    // The chat keeps its member list only through the task: now nobody has access.
    call(3, json!({"fields":{"messageId":m}}))
        .await
        .assert_v3_error(403, "BITRIX_REST_V3_EXCEPTION_ACCESSDENIEDEXCEPTION", &[]);
    assert!(h.portal.results().is_empty());
}

#[tokio::test]
async fn update_and_delete_round_trip() {
    let h = Harness::new();
    let add = h
        .v3(
            1,
            "tasks.task.result.add",
            json!({"fields":{"taskId":51,"text":"Task completed"}}),
        )
        .await;
    assert_eq!(add.body["result"]["item"]["id"], 17);
    h.clock.advance(std::time::Duration::from_secs(300));
    let r = h
        .v3(
            1,
            "tasks.task.result.update",
            json!({"id":17,"fields":{"text":"Task has been completed and verified"}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let item = &r.body["result"]["item"];
    assert_eq!(keys(item), ITEM_KEYS);
    assert_eq!(item["text"], "Task has been completed and verified");
    assert_eq!(
        item["updatedAt"],
        b24_types::DateTime::from_unix(START as i64 + 300, 7200).as_str()
    );
    assert_time(&r.body);
    let d = h.v3(1, "tasks.task.result.delete", json!({"id":17})).await;
    assert_eq!(d.status, 200);
    assert_eq!(d.body["result"], json!({"result":true}));
    assert_time(&d.body);
    assert!(h.portal.results().is_empty());
}

#[tokio::test]
async fn update_errors_as_documented() {
    let h = Harness::new();
    h.v3(
        1,
        "tasks.task.result.add",
        json!({"fields":{"taskId":51,"text":"mine"}}),
    )
    .await;
    let call = |user: u64, body: Value| {
        let h = &h;
        async move { h.v3(user, "tasks.task.result.update", body).await }
    };
    let r = call(1, json!({"id":17})).await;
    assert_eq!(
        r.body,
        json!({"error":{"code":"BITRIX_REST_V3_EXCEPTION_VALIDATION_REQUESTVALIDATIONEXCEPTION","message":"Error validating the request object","validation":[{"field":"fields","message":"Required field `fields` is missing"}]}})
    );
    call(1, json!({"fields":{"text":"x"}}))
        .await
        .assert_v3_error(
            400,
            "BITRIX_REST_V3_EXCEPTION_VALIDATION_REQUESTVALIDATIONEXCEPTION",
            &[(
                None,
                "At least one required field is not filled: `id`, `filter`",
            )],
        );
    call(
        1,
        json!({"id":17,"filter":[["id",17]],"fields":{"text":"x"}}),
    )
    .await
    .assert_v3_error(
        400,
        "BITRIX_REST_V3_EXCEPTION_VALIDATION_REQUESTVALIDATIONEXCEPTION",
        &[(
            None,
            "Only one of the values must be provided: `id`, `filter`",
        )],
    );
    call(1, json!({"id":17,"fields":{}})).await.assert_v3_error(
        400,
        "BITRIX_REST_V3_EXCEPTION_VALIDATION_DTOVALIDATIONEXCEPTION",
        &[(Some("text"), "Required field `text` is missing")],
    );
    call(1, json!({"id":17,"fields":{"text":"x","fileIds":[3]}}))
        .await
        .assert_v3_error(
            400,
            "BITRIX_REST_V3_EXCEPTION_VALIDATION_DTOVALIDATIONEXCEPTION",
            &[(
                Some("fileIds"),
                "Field `fileIds` is not available for filling",
            )],
        );
    call(1, json!({"id":17,"fields":{"text":"x","mood":"good"}}))
        .await
        .assert_v3_bare(400, "BITRIX_REST_V3_EXCEPTION_UNKNOWNDTOPROPERTYEXCEPTION");
    call(1, json!({"id":"17","fields":{"text":"x"}}))
        .await
        .assert_v3_error(
            400,
            "BITRIX_REST_V3_EXCEPTION_VALIDATION_REQUESTVALIDATIONEXCEPTION",
            &[(
                Some("id"),
                "Field `id` requires `int` data type for this request",
            )],
        );
    // User 2 is a member of task 51 but not the author.
    call(2, json!({"id":17,"fields":{"text":"x"}}))
        .await
        .assert_v3_bare(403, "BITRIX_REST_V3_EXCEPTION_ACCESSDENIEDEXCEPTION");
    call(1, json!({"id":4242,"fields":{"text":"x"}}))
        .await
        .assert_v3_error(403, "BITRIX_REST_V3_EXCEPTION_ACCESSDENIEDEXCEPTION", &[]);
    assert_eq!(h.portal.results()[0].text, "mine");
}

#[tokio::test]
async fn delete_errors_as_documented() {
    let h = Harness::new();
    h.v3(
        1,
        "tasks.task.result.add",
        json!({"fields":{"taskId":51,"text":"mine"}}),
    )
    .await;
    let r = h.v3(1, "tasks.task.result.delete", json!({})).await;
    r.assert_v3_error(
        400,
        "BITRIX_REST_V3_EXCEPTION_VALIDATION_REQUESTVALIDATIONEXCEPTION",
        &[
            (
                None,
                "At least one required field must be filled: `id`, `filter`",
            ),
            (
                None,
                "Only one of the values must be provided: `id`, `filter`",
            ),
        ],
    );
    h.v3(1, "tasks.task.result.delete", json!({"filter":[["id",17]]}))
        .await
        .assert_v3_error(
            400,
            "BITRIX_REST_V3_EXCEPTION_VALIDATION_REQUESTVALIDATIONEXCEPTION",
            &[(Some("id"), "Required field `id` is missing")],
        );
    h.v3(2, "tasks.task.result.delete", json!({"id":17}))
        .await
        .assert_v3_bare(403, "BITRIX_REST_V3_EXCEPTION_ACCESSDENIEDEXCEPTION");
    assert_eq!(h.portal.results().len(), 1);
    // Deleting twice: the second time the result is gone.
    assert_eq!(
        h.v3(1, "tasks.task.result.delete", json!({"id":17}))
            .await
            .status,
        200
    );
    assert_eq!(
        h.v3(1, "tasks.task.result.delete", json!({"id":17}))
            .await
            .status,
        403
    );
}

#[tokio::test]
async fn completing_the_task_closes_its_results() {
    let h = Harness::new();
    h.v3(
        1,
        "tasks.task.result.add",
        json!({"fields":{"taskId":51,"text":"r"}}),
    )
    .await;
    h.portal.complete_task(51).unwrap();
    let r = h
        .v3(
            1,
            "tasks.task.result.list",
            json!({"filter":[["taskId",51]],"select":["id","status"]}),
        )
        .await;
    assert_eq!(
        r.body["result"]["items"],
        json!([{"id":17,"status":"closed"}])
    );
}

#[tokio::test]
async fn dropping_request_records_keeps_the_counts() {
    let emu = b24_emulator::Emulator::new();
    let portal = emu.default_portal();
    let secret = portal.webhook_secret(1).unwrap();
    let req = http::Request::post(format!("/rest/api/1/{secret}/tasks.task.get"))
        .header("host", "localhost")
        .header("content-type", "application/json")
        .body(bytes::Bytes::from(r#"{"id":51}"#))
        .unwrap();
    let _ = emu.handle(req).await;
    assert_eq!(portal.requests().len(), 1);
    portal.drop_request_records();
    assert!(portal.requests().is_empty());
    assert_eq!(portal.calls("tasks.task.get"), 1);
}
