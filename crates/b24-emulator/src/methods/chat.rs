//! `tasks.task.chat.message.send`.

use serde_json::{Map, Value};

use super::{as_int, object_param, Ctx};
use crate::failure::{msg, Failure};
use crate::model::MessageRec;

/// `tasks.task.chat.message.send`: posts into the task's chat, answers `{"result":true}`.
pub(crate) fn send(ctx: &mut Ctx<'_>, params: &Map<String, Value>) -> Result<Value, Failure> {
    let top = msg::REQUEST_VALIDATION;
    let fields = match object_param(params, "fields") {
        Ok(Some(f)) => f,
        Ok(None) => {
            return Err(Failure::request(
                top,
                "fields",
                "The required field `fields` is not specified",
            ))
        }
        Err(()) => {
            return Err(Failure::request(
                top,
                "fields",
                "The field `fields` requires data type `array` for this request",
            ))
        }
    };
    if let Some(unknown) = fields.keys().find(|k| *k != "taskId" && *k != "text") {
        let text = format!("Unknown field `{unknown}` for entity `MessageDto`");
        return Err(Failure::v3(
            400,
            b24_types::ErrorCode::V3UnknownDtoProperty,
            text.clone(),
        )
        .with_field("fields", text));
    }
    let mut types = Failure::v3(400, b24_types::ErrorCode::V3RequestValidation, top);
    if fields
        .get("taskId")
        .is_some_and(|v| !v.is_null() && as_int(v).is_none())
    {
        types = types.with_field(
            "taskId",
            "The field `taskId` requires data type `int` for this request",
        );
    }
    if fields
        .get("text")
        .is_some_and(|v| !v.is_null() && !v.is_string())
    {
        types = types.with_field(
            "text",
            "The field `text` requires data type `string` for this request",
        );
    }
    if types.has_items() {
        return Err(types);
    }
    let mut dto = Failure::dto(msg::DTO_VALIDATION_DURING);
    let task_id = fields.get("taskId").and_then(as_int);
    if task_id.is_none() {
        dto = dto.with_field("taskId", "The required field \"taskId\" is not filled");
    }
    let text = fields.get("text").and_then(Value::as_str).unwrap_or("");
    if text.trim().is_empty() {
        dto = dto.with_field("text", "The required field \"text\" is not filled");
    }
    if dto.has_items() {
        return Err(dto);
    }
    let task = u64::try_from(task_id.unwrap_or_default())
        .ok()
        .and_then(|id| ctx.data.tasks.get(&id));
    let chat_id = match task {
        Some(t) if t.is_member(ctx.user) => t.chat_id,
        _ => return Err(Failure::access_denied("taskId")),
    };
    let id = ctx.data.take_message_id();
    let date = ctx.now_secs();
    ctx.data.messages.insert(
        id,
        MessageRec {
            id,
            chat_id,
            author_id: ctx.user,
            text: text.to_owned(),
            date,
        },
    );
    Ok(serde_json::json!({ "result": true }))
}
