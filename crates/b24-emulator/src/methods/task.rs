//! `tasks.task.get` (REST 3.0), as far as getting a task's chat needs.

use b24_types::{ChatId, ErrorCode, Task, TaskChat, TaskId};
use serde_json::{Map, Value};

use super::{as_int, internal, invalid_select, unknown_field, Ctx};
use crate::failure::{msg, Failure};

/// Plain fields this emulator knows on a task.
const PLAIN: &[&str] = &[
    "id",
    "title",
    "chatId",
    "creatorId",
    "responsibleId",
    "accomplices",
    "auditors",
    "status",
];
const CHAT_FIELDS: &[&str] = &["id", "entityId", "entityType"];

/// `tasks.task.get`: `{"id":51,"select":["id","chat.id",...]}`.
///
/// Without `select` it returns the plain fields (`id`, `title`, `chatId`, ...) but no
/// relations. An unknown id answers ENTITYNOTFOUNDEXCEPTION (400); a task the caller
/// is not a member of answers ACCESSDENIEDEXCEPTION (403).
pub(crate) fn get(ctx: &mut Ctx<'_>, params: &Map<String, Value>) -> Result<Value, Failure> {
    let top = msg::REQUEST_VALIDATION;
    let id = match params.get("id") {
        None | Some(Value::Null) => {
            return Err(Failure::request(
                top,
                "id",
                "Required field `id` is not specified",
            ))
        }
        Some(v) => as_int(v).ok_or_else(|| {
            Failure::request(
                top,
                "id",
                "Field `id` requires `int` data type for this request",
            )
        })?,
    };
    let mut plain: Vec<String> = Vec::new();
    let mut chat: Option<Vec<String>> = None;
    match params.get("select") {
        None | Some(Value::Null) => plain = PLAIN.iter().map(|s| (*s).to_owned()).collect(),
        Some(Value::Array(items)) => {
            for item in items {
                let Some(name) = item.as_str() else {
                    return Err(invalid_select());
                };
                match name.split_once('.') {
                    None if name == "chat" => {
                        chat = Some(CHAT_FIELDS.iter().map(|s| (*s).to_owned()).collect())
                    }
                    None => plain.push(name.to_owned()),
                    Some(("chat", sub)) => {
                        if !CHAT_FIELDS.contains(&sub) {
                            return Err(unknown_field("select", sub, "ChatDto"));
                        }
                        chat.get_or_insert_with(Vec::new).push(sub.to_owned());
                    }
                    Some((relation, _)) => {
                        return Err(unknown_field("select", relation, "TaskDto"));
                    }
                }
            }
        }
        Some(_) => return Err(invalid_select()),
    }
    let Some(task) = u64::try_from(id)
        .ok()
        .and_then(|id| ctx.data.tasks.get(&id))
    else {
        return Err(
            Failure::v3(400, ErrorCode::V3EntityNotFound, "Task not found")
                .with_field("id", "Task not found"),
        );
    };
    if !task.is_member(ctx.user) {
        return Err(Failure::access_denied("id"));
    }
    let mut typed = Task::new(TaskId::new(task.id).map_err(|_| internal())?);
    let wants = |f: &str| plain.iter().any(|p| p == f);
    if wants("title") {
        typed.title = Some(task.title.clone());
    }
    if wants("chatId") {
        typed.chat_id = ChatId::new(task.chat_id).ok();
    }
    if let Some(fields) = &chat {
        let mut c = TaskChat::default();
        if fields.iter().any(|f| f == "id") {
            c.id = ChatId::new(task.chat_id).ok();
        }
        if fields.iter().any(|f| f == "entityId") {
            c.entity_id = i64::try_from(task.id).ok();
        }
        if fields.iter().any(|f| f == "entityType") {
            c.entity_type = Some("TASKS_TASK".to_owned());
        }
        typed.chat = Some(c);
    }
    let extra: [(&str, Value); 5] = [
        ("creatorId", Value::from(task.creator)),
        ("responsibleId", Value::from(task.responsible)),
        ("accomplices", Value::from(task.accomplices.clone())),
        ("auditors", Value::from(task.auditors.clone())),
        (
            "status",
            Value::from(if task.completed {
                "completed"
            } else {
                "pending"
            }),
        ),
    ];
    for (k, v) in extra {
        if wants(k) {
            typed.extra.insert(k.to_owned(), v);
        }
    }
    let item = serde_json::to_value(typed).map_err(|_| internal())?;
    Ok(serde_json::json!({ "item": item }))
}
