//! `tasks.task.get` (REST 3.0), as far as getting a task's chat needs.

use b24_types::{ChatId, ErrorCode, Task, TaskChat, TaskId};
use serde_json::{Map, Value};

use super::{as_int, internal, invalid_select, unknown_field, Ctx};
use crate::failure::{msg, Failure};

/// Plain fields this emulator knows on a task.
const PLAIN: &[&str] = &[
    "id",
    "title",
    "description",
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
/// Without `select` it returns every plain field (`id`, `title`, `chatId`, ...) but
/// no relations. The access check runs before the existence check, as the server's
/// controller does (the `tasks` module's REST 3.0 task controller (`tasks/lib/V2/Infrastructure/Rest/Controller/`)): a task
/// the caller is not a member of, or a missing one, answers ACCESSDENIEDEXCEPTION
/// (403); only an administrator learns that an id does not exist
/// (ENTITYNOTFOUNDEXCEPTION, 400).
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
    let admin = ctx.data.users.get(&ctx.user).is_some_and(|u| u.is_admin());
    let Some(task) = u64::try_from(id)
        .ok()
        .and_then(|id| ctx.data.tasks.get(&id))
    else {
        return Err(if admin {
            Failure::v3(400, ErrorCode::V3EntityNotFound, "Task not found")
        } else {
            Failure::access_denied("id")
        });
    };
    if !task.is_member(ctx.user) {
        return Err(Failure::access_denied("id"));
    }
    let mut typed = Task::new(TaskId::new(task.id).map_err(|_| internal())?);
    let wants = |f: &str| plain.iter().any(|p| p == f);
    if wants("title") {
        typed.title = Some(task.title.clone());
    }
    if wants("description") {
        typed.extra.insert(
            "description".to_owned(),
            Value::from(task.description.clone()),
        );
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
        ("status", Value::from(task.status.clone())),
    ];
    for (k, v) in extra {
        if wants(k) {
            typed.extra.insert(k.to_owned(), v);
        }
    }
    let item = serde_json::to_value(typed).map_err(|_| internal())?;
    Ok(serde_json::json!({ "item": item }))
}

/// `TaskDto` fields `tasks.task.update` may change here.
const EDITABLE: &[&str] = &["title", "description", "status"];
/// Other `TaskDto` fields: accepted and left as they are (`responsibleId`,
/// `deadline`, ...), except those the server marks not editable.
const OTHER_TASK_FIELDS: &[&str] = &[
    "responsibleId",
    "deadline",
    "needsControl",
    "startPlan",
    "endPlan",
    "groupId",
    "stageId",
    "priority",
    "accomplices",
    "auditors",
    "parentId",
    "crmItemIds",
    "requireResult",
    "allowsChangeDeadline",
    "allowsTimeTracking",
    "matchesWorkTime",
    "addInReport",
];
/// `TaskDto` fields an update may not carry.
const NOT_EDITABLE: &[&str] = &[
    "id",
    "creatorId",
    "created",
    "chatId",
    "chat",
    "changed",
    "closed",
    "statusChanged",
    "rights",
];

/// `tasks.task.update` (REST 3.0): `{"id":51,"fields":{"title","description","status"}}`,
/// answering `{"result":true}` as the documentation shows
/// (<https://apidocs.bitrix24.com/api-reference/tasks/rest-v3/tasks-task-update.html>).
/// Only the creator and the responsible person may update; anyone else, and a
/// missing task, get 403. A `completed` status closes the task's results, which
/// stay closed when it is resumed.
pub(crate) fn update(ctx: &mut Ctx<'_>, params: &Map<String, Value>) -> Result<Value, Failure> {
    let top = msg::REQUEST_VALIDATION_DURING;
    let id = match params.get("id") {
        None | Some(Value::Null) => {
            return Err(Failure::request(
                top,
                "id",
                "Required field `id` is missing",
            ))
        }
        Some(v) => as_int(v).ok_or_else(|| {
            Failure::request(
                top,
                "id",
                "The field `id` requires data type `int` for such a request",
            )
        })?,
    };
    let fields = match params.get("fields") {
        Some(Value::Object(m)) if !m.is_empty() => m,
        Some(Value::Object(_)) | None | Some(Value::Null) => {
            return Err(Failure::request(
                top,
                "fields",
                "Required field `fields` is missing",
            ))
        }
        Some(Value::Array(a)) if a.is_empty() => {
            return Err(Failure::request(
                top,
                "fields",
                "Required field `fields` is missing",
            ))
        }
        Some(_) => {
            return Err(Failure::request(
                top,
                "fields",
                "The field `fields` requires data type `array` for such a request",
            ))
        }
    };
    for key in fields.keys() {
        let k = key.as_str();
        if NOT_EDITABLE.contains(&k) {
            return Err(Failure::request(
                top,
                k,
                format!(
                    "In DTO `TaskDto`, the field `{k}` requires the presence of the `Editable` attribute for such a request"
                ),
            ));
        }
        if !EDITABLE.contains(&k) && !OTHER_TASK_FIELDS.contains(&k) {
            return Err(Failure::v3(
                400,
                ErrorCode::V3UnknownDtoProperty,
                "Unknown field for entity `TaskDto`",
            ));
        }
    }
    let string = |key: &str| -> Result<Option<String>, Failure> {
        match fields.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(Failure::request(
                top,
                key,
                format!("The field `{key}` requires data type `string` for such a request"),
            )),
        }
    };
    let title = string("title")?;
    let description = string("description")?;
    let status = string("status")?;
    if let Some(s) = &status {
        if !crate::model::TASK_STATUSES
            .iter()
            .any(|(name, _)| name == s)
        {
            return Err(Failure::request(top, "status", "Invalid status"));
        }
    }
    if title.as_deref().is_some_and(|t| t.trim().is_empty()) {
        return Err(Failure::request(
            top,
            "title",
            "The field `title` cannot be empty",
        ));
    }
    let user = ctx.user;
    let Some(task) = u64::try_from(id)
        .ok()
        .and_then(|id| ctx.data.tasks.get_mut(&id))
    else {
        return Err(Failure::access_denied("id"));
    };
    if task.creator != user && task.responsible != user {
        return Err(Failure::access_denied("id"));
    }
    if let Some(t) = title {
        task.title = t;
    }
    if let Some(d) = description {
        task.description = d;
    }
    let task_id = task.id;
    if let Some(s) = status {
        if s == "completed" {
            ctx.data.complete_task(task_id);
        } else {
            task.status = s;
        }
    }
    Ok(serde_json::json!({ "result": true }))
}
