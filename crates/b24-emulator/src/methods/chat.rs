//! `tasks.task.chat.message.send`.

use serde_json::{Map, Value};

use super::{as_int, check_types, fields_param, is_int, unknown_field, Ctx};
use crate::failure::{msg, Failure};

/// `tasks.task.chat.message.send`: posts into the task's chat, answers `{"result":true}`.
pub(crate) fn send(ctx: &mut Ctx<'_>, params: &Map<String, Value>) -> Result<Value, Failure> {
    let top = msg::REQUEST_VALIDATION;
    let fields = fields_param(
        params,
        top,
        "The required field `fields` is not specified",
        "The field `fields` requires data type `array` for this request",
    )?;
    if let Some(unknown) = fields.keys().find(|k| *k != "taskId" && *k != "text") {
        return Err(unknown_field("fields", unknown, "MessageDto"));
    }
    check_types(
        top,
        fields,
        &[
            (
                "taskId",
                is_int,
                "The field `taskId` requires data type `int` for this request",
            ),
            (
                "text",
                Value::is_string,
                "The field `text` requires data type `string` for this request",
            ),
        ],
    )?;
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
    ctx.post_message(chat_id, text.to_owned());
    Ok(serde_json::json!({ "result": true }))
}
