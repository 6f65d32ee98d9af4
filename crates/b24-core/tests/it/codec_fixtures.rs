//! The documented wire examples (the official REST 3.0, limits and task-result pages), decoded to expected values.

use b24_core::methods::{
    DialogId, ImMessageAdd, TaskChatMessageSend, TaskGet, TaskResultAdd,
    TaskResultAddFromChatMessage, TaskResultDelete, TaskResultList, TaskResultUpdate,
};
use b24_core::types::{
    ChatId, ErrorClass, ErrorCode, ErrorShape, FileId, MessageId, ResultId, ResultRights,
    ResultStatus, TaskId, UserId,
};
use b24_core::{parse_response, Error, Method};
use serde_json::Value;

use crate::codec_support::{fixture, response};

fn task() -> TaskId {
    TaskId::new(51).unwrap()
}

/// Parses an error fixture with `status` through `method`, returning the API error.
fn api_error<M: Method>(method: &M, status: u16, body: &str) -> b24_core::types::ApiError
where
    M::Output: std::fmt::Debug,
{
    match parse_response(method, &response(status, body)) {
        Err(Error::Api(e)) => *e,
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[test]
fn add_response() {
    let m = TaskResultAdd::new(task(), "Task completed").unwrap();
    let reply = parse_response(
        &m,
        &response(200, include_str!("fixtures/add/response.json")),
    )
    .unwrap();
    let r = reply.result;
    assert_eq!(r.id, ResultId::new(17).unwrap());
    assert_eq!(r.task_id, Some(task()));
    assert_eq!(r.text.as_deref(), Some("Task completed"));
    assert_eq!(r.author_id, Some(UserId::new(1).unwrap()));
    assert_eq!(
        r.created_at.as_ref().unwrap().as_str(),
        "2026-04-30T10:15:00+02:00"
    );
    assert_eq!(r.updated_at, None);
    assert_eq!(r.status, Some(ResultStatus::Open));
    assert_eq!(r.file_ids, Some(Vec::<FileId>::new()));
    assert_eq!(r.rights, Some(ResultRights::new(true, true)));
    assert_eq!(r.message_id, None);
    let time = reply.time.unwrap();
    assert_eq!(time.start, Some(1_777_529_700.0));
    assert_eq!(time.finish, Some(1_777_529_700.123_456));
    assert_eq!(time.processing, Some(0.1));
    assert_eq!(time.operating_reset_at, Some(1_777_530_300.0));
    assert_eq!(time.operating, Some(0.0));
    assert_eq!(
        time.date_start.as_deref(),
        Some("2026-04-30T10:15:00+02:00")
    );
    assert!(!reply.replayed);
}

#[test]
fn add_error() {
    let m = TaskResultAdd::new(task(), "x").unwrap();
    let e = api_error(&m, 400, include_str!("fixtures/add/error.json"));
    assert_eq!(e.code, ErrorCode::V3DtoValidation);
    assert_eq!(e.status, 400);
    assert_eq!(e.shape, ErrorShape::V3);
    assert_eq!(e.class(), ErrorClass::Validation);
    assert_eq!(e.message, "Validation error");
    assert_eq!(e.validation.len(), 1);
    assert_eq!(
        e.validation_for("text"),
        Some("The required field \"text\" is not filled")
    );
}

#[test]
fn addfromchatmessage_response() {
    let m = TaskResultAddFromChatMessage::new(MessageId::new(335).unwrap());
    let reply = parse_response(
        &m,
        &response(
            200,
            include_str!("fixtures/addfromchatmessage/response.json"),
        ),
    )
    .unwrap();
    let r = reply.result;
    assert_eq!(r.id, ResultId::new(18).unwrap());
    assert_eq!(r.task_id, Some(task()));
    assert_eq!(r.text.as_deref(), Some("Task work completed"));
    assert_eq!(
        r.created_at.as_ref().unwrap().as_str(),
        "2026-04-30T10:25:00+02:00"
    );
    assert_eq!(r.message_id, Some(MessageId::new(335).unwrap()));
    assert_eq!(r.status, Some(ResultStatus::Open));
    assert_eq!(
        reply.time.unwrap().operating_reset_at,
        Some(1_777_530_900.0)
    );
}

#[test]
fn addfromchatmessage_error() {
    let m = TaskResultAddFromChatMessage::new(MessageId::new(335).unwrap());
    let e = api_error(
        &m,
        400,
        include_str!("fixtures/addfromchatmessage/error.json"),
    );
    assert_eq!(e.code, ErrorCode::V3RequestValidation);
    assert_eq!(e.status, 400);
    assert_eq!(e.message, "Error during request object validation");
    assert_eq!(
        e.validation_for("fields"),
        Some("Required field `fields` is missing")
    );
}

#[test]
fn update_response_and_error() {
    let m = TaskResultUpdate::new(ResultId::new(17).unwrap(), "x").unwrap();
    let r = parse_response(
        &m,
        &response(200, include_str!("fixtures/update/response.json")),
    )
    .unwrap()
    .result;
    assert_eq!(r.id, ResultId::new(17).unwrap());
    assert_eq!(
        r.text.as_deref(),
        Some("Task has been completed and verified")
    );
    assert_eq!(r.updated_at.unwrap().as_str(), "2026-04-30T10:20:00+02:00");

    let e = api_error(&m, 400, include_str!("fixtures/update/error.json"));
    assert_eq!(e.code, ErrorCode::V3RequestValidation);
    assert_eq!(e.status, 400);
    assert_eq!(e.message, "Error validating the request object");
    assert_eq!(
        e.validation_for("fields"),
        Some("Required field `fields` is missing")
    );
}

#[test]
fn list_response_and_error() {
    let m = TaskResultList::for_task(task());
    let reply = parse_response(
        &m,
        &response(200, include_str!("fixtures/list/response.json")),
    )
    .unwrap();
    assert_eq!(reply.result.len(), 1);
    let r = &reply.result[0];
    assert_eq!(r.id, ResultId::new(17).unwrap());
    assert_eq!(r.task_id, Some(task()));
    assert_eq!(r.text.as_deref(), Some("Task work completed"));
    assert_eq!(r.status, Some(ResultStatus::Open));
    assert_eq!(r.message_id, None);
    assert_eq!(r.rights, None);
    assert_eq!(r.author, None);

    let e = api_error(&m, 400, include_str!("fixtures/list/error.json"));
    assert_eq!(e.code, ErrorCode::V3RequestValidation);
    assert_eq!(e.status, 400);
    assert_eq!(
        e.validation_for("filter"),
        Some("The field value cannot be empty")
    );
}

#[test]
fn delete_response_and_error_without_fields() {
    let m = TaskResultDelete::new(ResultId::new(17).unwrap());
    let reply = parse_response(
        &m,
        &response(200, include_str!("fixtures/delete/response.json")),
    )
    .unwrap();
    assert!(reply.result);
    assert_eq!(
        reply.time.unwrap().operating_reset_at,
        Some(1_777_531_200.0)
    );

    let e = api_error(&m, 400, include_str!("fixtures/delete/error.json"));
    assert_eq!(e.code, ErrorCode::V3RequestValidation);
    assert_eq!(e.status, 400);
    assert_eq!(e.validation.len(), 2);
    assert!(e.validation.iter().all(|v| v.field.is_none()));
    assert_eq!(
        e.validation[0].message,
        "At least one required field must be filled: id, filter"
    );
    assert_eq!(
        e.validation[1].message,
        "Only one of the values must be provided: id, filter"
    );
}

#[test]
fn chat_message_send_response_and_error() {
    let m = TaskChatMessageSend::new(task(), "Message from external system").unwrap();
    let reply = parse_response(
        &m,
        &response(
            200,
            include_str!("fixtures/chat_message_send/response.json"),
        ),
    )
    .unwrap();
    assert!(reply.result);
    let time = reply.time.unwrap();
    assert_eq!(time.operating_reset_at, None);
    assert_eq!(time.duration, Some(0.211_513_042_449_951_17));

    let e = api_error(
        &m,
        400,
        include_str!("fixtures/chat_message_send/error.json"),
    );
    assert_eq!(e.code, ErrorCode::V3DtoValidation);
    assert_eq!(e.status, 400);
    assert_eq!(e.message, "Error during object validation");
    assert_eq!(
        e.validation_for("taskId"),
        Some("The required field \"taskId\" is not filled")
    );
}

#[test]
fn task_get_chat() {
    let m = TaskGet::for_chat(task());
    let reply = parse_response(
        &m,
        &response(200, include_str!("fixtures/task_get/response.json")),
    )
    .unwrap();
    assert_eq!(reply.result.id, task());
    assert_eq!(reply.result.chat_id(), Some(ChatId::new(58).unwrap()));
    let chat = reply.result.chat.unwrap();
    assert_eq!(chat.entity_id, Some(51));
    assert_eq!(chat.entity_type.as_deref(), Some("TASKS_TASK"));
    assert!(reply.time.is_none());
}

#[test]
fn im_message_add_returns_the_message_id() {
    let m = ImMessageAdd::new(
        DialogId::chat(ChatId::new(58).unwrap()),
        "Task work completed",
    )
    .unwrap();
    let reply = parse_response(
        &m,
        &response(200, include_str!("fixtures/im_message_add/response.json")),
    )
    .unwrap();
    assert_eq!(reply.result, MessageId::new(34239).unwrap());
    // Also accepted as a numeric string.
    let reply = parse_response(&m, &response(200, r#"{"result":"34239"}"#)).unwrap();
    assert_eq!(reply.result, MessageId::new(34239).unwrap());
}

#[test]
fn v3_error_envelope_of_the_general_rules() {
    let m = TaskResultDelete::new(ResultId::new(1).unwrap());
    let e = api_error(&m, 400, include_str!("fixtures/v3/error_envelope.json"));
    assert_eq!(e.code, ErrorCode::V3RequestValidation);
    assert_eq!(e.message, "Error validating request object");
    assert_eq!(
        e.validation_for("id"),
        Some("Required field `id` is not specified")
    );
}

#[test]
fn classic_error_example() {
    let m = TaskResultDelete::new(ResultId::new(1).unwrap());
    let e = api_error(&m, 400, include_str!("fixtures/system/classic_error.json"));
    assert_eq!(e.code, ErrorCode::Other("ERROR_CODE".into()));
    assert_eq!(e.message, "Human text");
    assert_eq!(e.shape, ErrorShape::Classic);
    assert!(e.validation.is_empty());
}

#[test]
fn system_error_table() {
    let rows: Vec<Value> =
        serde_json::from_str(include_str!("fixtures/system/table.json")).unwrap();
    assert_eq!(rows.len(), 15);
    let m = TaskResultDelete::new(ResultId::new(1).unwrap());
    for row in rows {
        let status = u16::try_from(row["status"].as_u64().unwrap()).unwrap();
        let body = row["body"].to_string();
        let e = api_error(&m, status, &body);
        assert_eq!(e.status, status);
        assert_eq!(e.code.as_str(), row["body"]["error"].as_str().unwrap());
        assert!(!e.code.is_unknown(), "{}", e.code);
        assert_eq!(
            e.message,
            row["body"]["error_description"].as_str().unwrap()
        );
        assert_eq!(e.shape, ErrorShape::Classic);
        // The same bodies are errors with a 200 status too.
        assert_eq!(api_error(&m, 200, &body).code, e.code);
    }
    let classes = [
        (
            r#"{"error":"QUERY_LIMIT_EXCEEDED"}"#,
            503,
            ErrorClass::RateLimited,
        ),
        (r#"{"error":"OVERLOAD_LIMIT"}"#, 503, ErrorClass::Overloaded),
        (
            r#"{"error":"expired_token"}"#,
            401,
            ErrorClass::TokenExpired,
        ),
        (r#"{"error":"NO_AUTH_FOUND"}"#, 401, ErrorClass::Auth),
    ];
    for (body, status, class) in classes {
        assert_eq!(api_error(&m, status, body).class(), class, "{body}");
    }
}

#[test]
fn request_fixtures_are_what_the_methods_send() {
    // The request fixtures double as the expected bodies in codec_request; here they
    // are checked to be the documented JSON objects with the documented keys.
    for (text, keys) in [
        (include_str!("fixtures/add/request.json"), &["fields"][..]),
        (
            include_str!("fixtures/addfromchatmessage/request.json"),
            &["fields"][..],
        ),
        (
            include_str!("fixtures/update/request.json"),
            &["id", "fields"][..],
        ),
        (include_str!("fixtures/delete/request.json"), &["id"][..]),
        (
            include_str!("fixtures/list/request.json"),
            &["filter", "select", "order", "pagination"][..],
        ),
        (
            include_str!("fixtures/chat_message_send/request.json"),
            &["fields"][..],
        ),
        (
            include_str!("fixtures/task_get/request.json"),
            &["id", "select"][..],
        ),
        (
            include_str!("fixtures/im_message_add/request.json"),
            &["DIALOG_ID", "MESSAGE"][..],
        ),
    ] {
        let v = fixture(text);
        let obj = v.as_object().unwrap();
        assert_eq!(obj.len(), keys.len());
        for k in keys {
            assert!(obj.contains_key(*k), "{k} in {text}");
        }
    }
}
