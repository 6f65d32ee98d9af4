//! The documented wire examples (the official data-type and task-result pages) decoded to the expected values.

use b24_types::{
    BoolResult, ClassicErrorBody, Envelope, ErrorClass, ErrorCode, ItemResult, ItemsResult,
    ResultStatus, Task, TaskResult, TokenResponse, V3ErrorBody,
};

const ADD_RESPONSE: &str = r#"{
    "result": {"item": {"id": 17, "taskId": 51, "text": "Task completed", "authorId": 1,
        "createdAt": "2026-04-30T10:15:00+02:00", "updatedAt": null, "status": "open", "fileIds": [],
        "rights": { "edit": true, "remove": true }, "messageId": null}},
    "time": { "start": 1777529700, "finish": 1777529700.123456, "duration": 0.123456, "processing": 0.1,
              "date_start": "2026-04-30T10:15:00+02:00", "date_finish": "2026-04-30T10:15:00+02:00",
              "operating_reset_at": 1777530300, "operating": 0 }
}"#;

#[test]
fn add_response() {
    let env: Envelope<ItemResult<TaskResult>> = serde_json::from_str(ADD_RESPONSE).unwrap();
    let r = env.result.item;
    assert_eq!(r.id.get(), 17);
    assert_eq!(r.task_id.map(|t| t.get()), Some(51));
    assert_eq!(r.text.as_deref(), Some("Task completed"));
    assert_eq!(r.status, Some(ResultStatus::Open));
    assert_eq!(r.updated_at, None);
    assert_eq!(r.message_id, None);
    assert_eq!(r.file_ids, Some(vec![]));
    let rights = r.rights.unwrap();
    assert!(rights.edit && rights.remove);
    assert_eq!(
        r.created_at.unwrap().unix_timestamp().unwrap(),
        1_777_536_900
    );
    let t = env.time.unwrap();
    assert_eq!(t.start, Some(1_777_529_700.0));
    assert_eq!(t.finish, Some(1_777_529_700.123_456));
    assert_eq!(t.operating_reset_at, Some(1_777_530_300.0));
    assert_eq!(t.operating, Some(0.0));
}

#[test]
fn list_item_without_optional_fields_and_php_empty_rights() {
    let body = r#"{"result":{"items":[
        {"id":17,"taskId":51,"text":"Task work completed","authorId":1,"createdAt":"2026-04-30T10:15:00+02:00","status":"open","messageId":null},
        {"id":18,"taskId":"51","rights":[],"fileIds":null,"messageId":"335","status":"closed","extraField":1},
        {"id":19,"taskId":0,"status":"archived","author":{"id":1,"name":"Admin","email":"a@example.com"}}]},
        "time":{"operating":0}}"#;
    let env: Envelope<ItemsResult<TaskResult>> = serde_json::from_str(body).unwrap();
    let items = env.result.items;
    assert_eq!(items.len(), 3);
    assert_eq!(items[0].rights, None);
    assert_eq!(items[1].rights, None);
    assert_eq!(items[1].file_ids, None);
    assert_eq!(items[1].message_id.map(|m| m.get()), Some(335));
    assert_eq!(items[1].status, Some(ResultStatus::Closed));
    assert_eq!(items[2].task_id, None, "taskId 0 reads as none");
    assert_eq!(
        items[2].status,
        Some(ResultStatus::Other("archived".into()))
    );
    assert_eq!(
        items[2].author.as_ref().and_then(|a| a.name.as_deref()),
        Some("Admin")
    );
}

#[test]
fn delete_and_send_responses() {
    let del: Envelope<BoolResult> = serde_json::from_str(
        r#"{"result":{"result":true},"time":{"start":1,"operating_reset_at":1777531200,"operating":0}}"#,
    )
    .unwrap();
    assert!(del.result.result);
    let send: Envelope<BoolResult> = serde_json::from_str(r#"{"result":{"result":true},"time":{"start":1762257254,"finish":1762257254.211513,"duration":0.21151304244995117,"processing":0,"date_start":"2025-11-04T15:54:14+01:00","date_finish":"2025-11-04T15:54:14+01:00","operating":0}}"#).unwrap();
    assert_eq!(send.time.unwrap().operating_reset_at, None);
}

#[test]
fn task_get_chat() {
    let env: Envelope<ItemResult<Task>> = serde_json::from_str(
        r#"{"result":{"item":{"id":51,"chat":{"id":58,"entityId":51,"entityType":"TASKS_TASK"}}}}"#,
    )
    .unwrap();
    assert_eq!(env.result.item.chat_id().map(|c| c.get()), Some(58));
    assert_eq!(
        env.result.item.chat.unwrap().entity_type.as_deref(),
        Some("TASKS_TASK")
    );
}

#[test]
fn v3_errors() {
    let body = r#"{"error":{"code":"BITRIX_REST_V3_EXCEPTION_VALIDATION_REQUESTVALIDATIONEXCEPTION","message":"Error validating the request object","validation":[{"message":"At least one required field must be filled: id, filter"},{"message":"Only one of the values must be provided: id, filter"}]}}"#;
    let e = serde_json::from_str::<V3ErrorBody>(body)
        .unwrap()
        .into_api_error(400);
    assert_eq!(e.code, ErrorCode::V3RequestValidation);
    assert_eq!(e.class(), ErrorClass::Validation);
    assert_eq!(e.validation.len(), 2);
    assert!(e.validation.iter().all(|v| v.field.is_none()));

    let body = r#"{"error":{"code":"BITRIX_REST_V3_EXCEPTION_VALIDATION_DTOVALIDATIONEXCEPTION","message":"Error during object validation","validation":[{"message":"The required field \u0022taskId\u0022 is not filled","field":"taskId"}]}}"#;
    let e = serde_json::from_str::<V3ErrorBody>(body)
        .unwrap()
        .into_api_error(400);
    assert_eq!(
        e.validation_for("taskId"),
        Some("The required field \"taskId\" is not filled")
    );
}

#[test]
fn classic_errors() {
    let e = serde_json::from_str::<ClassicErrorBody>(
        r#"{"error":"expired_token","error_description":"The access token provided has expired"}"#,
    )
    .unwrap()
    .into_api_error(401);
    assert_eq!(e.code, ErrorCode::ExpiredToken);
    assert_eq!(e.class(), ErrorClass::TokenExpired);
    let e = serde_json::from_str::<ClassicErrorBody>(
        r#"{"error":"QUERY_LIMIT_EXCEEDED","error_description":"Too many requests"}"#,
    )
    .unwrap()
    .into_api_error(503);
    assert_eq!(e.class(), ErrorClass::RateLimited);
    let e = serde_json::from_str::<ClassicErrorBody>(
        r#"{"error":"OVERLOAD_LIMIT","error_description":"REST API is blocked due to overload."}"#,
    )
    .unwrap()
    .into_api_error(503);
    assert_eq!(e.class(), ErrorClass::Overloaded);
    assert_eq!(
        e.to_string(),
        "OVERLOAD_LIMIT (HTTP 503): REST API is blocked due to overload."
    );
}

#[test]
fn unknown_codes_fall_back_on_status() {
    let e =
        serde_json::from_str::<V3ErrorBody>(r#"{"error":{"code":"SOMETHING_NEW","message":"x"}}"#)
            .unwrap()
            .into_api_error(429);
    assert_eq!(e.code, ErrorCode::Other("SOMETHING_NEW".into()));
    assert_eq!(e.class(), ErrorClass::OperatingLimit);
}

#[test]
fn token_responses() {
    let refresh = r#"{"access_token":"ydtj8pho532wydb5ixk78ol7uqlb7sch","client_endpoint":"https://portal.bitrix24.com/rest/","domain":"oauth.bitrix.info","expires":1780319382,"expires_in":3600,"member_id":"a223c6b3710f85df22e9377d6c4f7553","refresh_token":"3s6lr4kr3cv2od4v853gvrchb875bwxb","scope":"crm,entity,im,task","server_endpoint":"https://oauth.bitrix.info/rest/","status":"F","user_id":67}"#;
    let t: TokenResponse = serde_json::from_str(refresh).unwrap();
    assert_eq!(
        t.access_token.expose_secret(),
        "ydtj8pho532wydb5ixk78ol7uqlb7sch"
    );
    assert_eq!(t.expires_at(0), Some(1_780_319_382));
    assert_eq!(t.user_id.map(|u| u.get()), Some(67));
    assert!(!format!("{t:?}").contains("ydtj8pho"));
    assert!(!format!("{t:?}").contains("3s6lr4kr"));
    let first = r#"{"access_token":"a","refresh_token":"r","expires_in":"3600","server_endpoint":"https://oauth.bitrix.info/rest/"}"#;
    let t: TokenResponse = serde_json::from_str(first).unwrap();
    assert_eq!(t.expires, None);
    assert_eq!(t.expires_at(1000), Some(4600));
}
