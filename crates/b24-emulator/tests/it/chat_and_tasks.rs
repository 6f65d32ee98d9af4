//! tasks.task.chat.message.send, tasks.task.get, classic im.message.add and
//! im.dialog.messages.get, unknown methods on both APIs, several portals.

use b24_emulator::{Emulator, ManualClock, PortalConfig};
use bytes::Bytes;
use serde_json::json;

use crate::support::Harness;

#[tokio::test]
async fn chat_message_send_posts_into_the_task_chat() {
    let h = Harness::new();
    let r = h
        .v3(
            1,
            "tasks.task.chat.message.send",
            json!({"fields":{"taskId":51,"text":"Message from external system"}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["result"], json!({"result":true}));
    assert!(r.body["time"]["start"].is_number());
    let msgs = h.portal.messages(58);
    let last = msgs.last().unwrap();
    assert_eq!(last.text, "Message from external system");
    assert_eq!(last.author_id, 1);
    assert_eq!(last.id, 34239);
}

#[tokio::test]
async fn chat_message_send_errors() {
    let h = Harness::new();
    let send = |user: u64, body: serde_json::Value| {
        let h = &h;
        async move { h.v3(user, "tasks.task.chat.message.send", body).await }
    };
    // The documented example body.
    let r = send(1, json!({"fields":{"text":"hi"}})).await;
    assert_eq!(
        r.body,
        json!({"error":{"code":"BITRIX_REST_V3_EXCEPTION_VALIDATION_DTOVALIDATIONEXCEPTION","message":"Error during object validation","validation":[{"field":"taskId","message":"The required field \"taskId\" is not filled"}]}})
    );
    send(1, json!({})).await.assert_v3_error(
        400,
        "BITRIX_REST_V3_EXCEPTION_VALIDATION_REQUESTVALIDATIONEXCEPTION",
        &[(
            Some("fields"),
            "The required field `fields` is not specified",
        )],
    );
    send(1, json!({"fields":{"taskId":"51","text":"x"}}))
        .await
        .assert_v3_error(
            400,
            "BITRIX_REST_V3_EXCEPTION_VALIDATION_REQUESTVALIDATIONEXCEPTION",
            &[(
                Some("taskId"),
                "The field `taskId` requires data type `int` for this request",
            )],
        );
    send(1, json!({"fields":{"taskId":52,"text":"x"}}))
        .await
        .assert_v3_bare(403, "BITRIX_REST_V3_EXCEPTION_ACCESSDENIEDEXCEPTION");
    assert_eq!(h.portal.messages(59).len(), 1);
}

#[tokio::test]
async fn task_get_gives_the_chat() {
    let h = Harness::new();
    let r = h
        .v3(
            1,
            "tasks.task.get",
            json!({"id":51,"select":["id","chat.id","chat.entityId","chat.entityType"]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.body["result"]["item"],
        json!({"id":51,"chat":{"id":58,"entityId":51,"entityType":"TASKS_TASK"}})
    );
    let r = h
        .v3(
            1,
            "tasks.task.get",
            json!({"id":51,"select":["id","title","chatId"]}),
        )
        .await;
    assert_eq!(
        r.body["result"]["item"],
        json!({"id":51,"title":"Prepare the quarterly report","chatId":58})
    );
    let typed: b24_types::Envelope<b24_types::ItemResult<b24_types::Task>> =
        serde_json::from_value(r.body.clone()).unwrap();
    assert_eq!(typed.result.item.chat_id().map(|c| c.get()), Some(58));
    h.v3(1, "tasks.task.get", json!({"id":999}))
        .await
        .assert_v3_error(400, "BITRIX_REST_V3_EXCEPTION_ENTITYNOTFOUNDEXCEPTION", &[]);
    h.v3(1, "tasks.task.get", json!({"id":52}))
        .await
        .assert_v3_error(403, "BITRIX_REST_V3_EXCEPTION_ACCESSDENIEDEXCEPTION", &[]);
    h.v3(1, "tasks.task.get", json!({})).await.assert_v3_error(
        400,
        "BITRIX_REST_V3_EXCEPTION_VALIDATION_REQUESTVALIDATIONEXCEPTION",
        &[(Some("id"), "Required field `id` is not specified")],
    );
    h.v3(
        1,
        "tasks.task.get",
        json!({"id":51,"select":["chat.colour"]}),
    )
    .await
    .assert_v3_error(
        400,
        "BITRIX_REST_V3_EXCEPTION_UNKNOWNDTOPROPERTYEXCEPTION",
        &[],
    );
}

#[tokio::test]
async fn classic_im_message_add_returns_the_id() {
    let h = Harness::new();
    let r = h
        .classic(
            1,
            "im.message.add",
            json!({"DIALOG_ID":"chat58","MESSAGE":"Report is ready"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["result"], 34239);
    assert!(r.body["time"]["date_start"].is_string());
    // The id it returned works with addfromchatmessage.
    let res = h
        .v3(
            1,
            "tasks.task.result.addfromchatmessage",
            json!({"fields":{"messageId":34239}}),
        )
        .await;
    assert_eq!(res.body["result"]["item"]["text"], "Report is ready");
    // Making the result posted the portal's notice (author 0) as message 34240.
    let notice = h.portal.messages(58).pop().unwrap();
    assert_eq!((notice.id, notice.author_id), (34240, 0));
    // Form-encoded with the .json suffix, as classic clients send it.
    let secret = h.secret(1);
    let r = h
        .raw(
            "POST",
            &format!("/rest/1/{secret}/im.message.add.json"),
            "application/x-www-form-urlencoded",
            "DIALOG_ID=chat58&MESSAGE=second+one",
        )
        .await;
    assert_eq!(r.body["result"], 34241);
    // Errors in the classic shape.
    h.classic(1, "im.message.add", json!({"MESSAGE":"x"}))
        .await
        .assert_classic_error(400, "DIALOG_ID_EMPTY", "Dialog ID can't be empty");
    h.classic(1, "im.message.add", json!({"DIALOG_ID":"chat58"}))
        .await
        .assert_classic_error(400, "MESSAGE_EMPTY", "Message can't be empty");
    h.classic(
        1,
        "im.message.add",
        json!({"DIALOG_ID":"chat59","MESSAGE":"x"}),
    )
    .await
    .assert_classic_error(
        400,
        "ACCESS_ERROR",
        "You do not have access to the specified dialog",
    );
}

#[tokio::test]
async fn classic_dialog_messages_get() {
    let h = Harness::new();
    let r = h
        .classic(1, "im.dialog.messages.get", json!({"DIALOG_ID":"chat58"}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let ids: Vec<u64> = r.body["result"]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, vec![336, 335]);
    assert_eq!(r.body["result"]["chat_id"], 58);
    let r = h
        .classic(
            1,
            "im.dialog.messages.get",
            json!({"DIALOG_ID":"chat58","LAST_ID":336,"LIMIT":5}),
        )
        .await;
    assert_eq!(r.body["result"]["messages"][0]["id"], 335);
}

#[tokio::test]
async fn unknown_methods_get_each_apis_not_found() {
    let h = Harness::new();
    h.v3(1, "tasks.task.result.fly", json!({}))
        .await
        .assert_v3_error(404, "BITRIX_REST_V3_EXCEPTION_METHODNOTFOUNDEXCEPTION", &[]);
    h.classic(1, "crm.deal.fly", json!({}))
        .await
        .assert_classic_error(404, "ERROR_METHOD_NOT_FOUND", "Method not found!");
    // A v3-only method at the classic address.
    h.classic(
        1,
        "tasks.task.result.addfromchatmessage",
        json!({"fields":{"messageId":335}}),
    )
    .await
    .assert_classic_error(404, "ERROR_METHOD_NOT_FOUND", "Method not found!");
    // A classic method at the v3 address.
    h.v3(
        1,
        "im.message.add",
        json!({"DIALOG_ID":"chat58","MESSAGE":"x"}),
    )
    .await
    .assert_v3_error(404, "BITRIX_REST_V3_EXCEPTION_METHODNOTFOUNDEXCEPTION", &[]);
    assert!(h.portal.results().is_empty());
    assert_eq!(h.portal.messages(58).len(), 2);
}

#[tokio::test]
async fn portals_are_told_apart_by_host() {
    let clock = ManualClock::new(crate::support::START);
    let emu = Emulator::builder()
        .portal(PortalConfig::new("p1.localhost"))
        .portal(PortalConfig::new("p2.localhost"))
        .clock(clock)
        .build();
    let p1 = emu.portal("p1.localhost").unwrap();
    let p2 = emu.portal("p2.localhost").unwrap();
    assert_ne!(p1.webhook_secret(1), p2.webhook_secret(1));
    let add = |host: &'static str, secret: String| {
        let emu = emu.clone();
        async move {
            let req = http::Request::post(format!("/rest/api/1/{secret}/tasks.task.result.add"))
                .header("host", host)
                .header("content-type", "application/json")
                .body(Bytes::from(r#"{"fields":{"taskId":51,"text":"x"}}"#))
                .unwrap();
            emu.handle(req).await.status().as_u16()
        }
    };
    assert_eq!(
        add("p2.localhost:8443", p2.webhook_secret(1).unwrap()).await,
        200
    );
    assert_eq!(p2.results().len(), 1);
    assert_eq!(p1.results().len(), 0);
    // p1's secret does not open p2.
    assert_eq!(
        add("p2.localhost", p1.webhook_secret(1).unwrap()).await,
        401
    );
    // The loopback address reaches the default portal (p1).
    assert_eq!(
        add("127.0.0.1:443", p1.webhook_secret(1).unwrap()).await,
        200
    );
    assert_eq!(p1.results().len(), 1);
    // An unknown host is not a portal.
    assert_eq!(
        add("p3.localhost", p1.webhook_secret(1).unwrap()).await,
        404
    );
}
