//! Classic task methods the official SDKs call: `tasks.task.get` and
//! `tasks.task.result.list`, in their classic shapes.

use b24_types::ErrorCode;
use serde_json::{json, Map, Value};

use super::Ctx;
use crate::failure::Failure;
use crate::model::{TaskRec, TASK_STATUSES};

/// A classic parameter read case-insensitively (`taskId`, `TASKID`, ...).
fn param<'p>(params: &'p Map<String, Value>, name: &str) -> Option<&'p Value> {
    params
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

/// An id sent as a JSON integer or a numeric string (forms send strings).
fn id_of(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn user_card(ctx: &Ctx<'_>, id: u64) -> Value {
    let name = ctx
        .data
        .users
        .get(&id)
        .map_or_else(String::new, |u| u.name.clone());
    json!({
        "id": id.to_string(),
        "name": name,
        "link": format!("/company/personal/user/{id}/"),
        "icon": "/bitrix/images/tasks/default_avatar.png",
        "workPosition": "",
    })
}

fn classic_status(task: &TaskRec) -> &'static str {
    TASK_STATUSES
        .iter()
        .find(|(name, _)| *name == task.status)
        .map_or("2", |(_, n)| n)
}

/// Classic select names and the keys they come back under.
const SELECTABLE: &[(&str, &str)] = &[
    ("ID", "id"),
    ("TITLE", "title"),
    ("DESCRIPTION", "description"),
    ("CREATED_BY", "createdBy"),
    ("RESPONSIBLE_ID", "responsibleId"),
    ("STATUS", "status"),
    ("ACCOMPLICES", "accomplices"),
    ("AUDITORS", "auditors"),
    ("CHAT_ID", "chatId"),
];

/// Classic `tasks.task.get`: `{"taskId":51,"select":["ID","TITLE","CHAT_ID"]}` →
/// `{"task":{"id":"51","title":..,"creator":{..},"responsible":{..},..}}`, ids as
/// strings, as <https://apidocs.bitrix24.com/api-reference/tasks/tasks-task-get.html>
/// shows. Without `select` every field but `chatId` comes back (`CHAT_ID` must be
/// asked for). A missing task or one the caller cannot see answers `[]`.
pub(crate) fn task_get(ctx: &mut Ctx<'_>, params: &Map<String, Value>) -> Result<Value, Failure> {
    let Some(raw) = param(params, "taskId").filter(|v| !v.is_null()) else {
        return Err(Failure::classic(
            400,
            ErrorCode::from_wire("100"),
            "CTaskItem All parameters in the constructor must have real class type (internal error)",
        ));
    };
    let Some(task_id) = id_of(raw) else {
        return Err(Failure::classic(
            400,
            ErrorCode::from_wire("0"),
            "wrong task id",
        ));
    };
    let wanted: Option<Vec<String>> = match param(params, "select") {
        None | Some(Value::Null) => None,
        Some(Value::Array(items)) if !items.is_empty() => Some(
            items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_ascii_uppercase)
                .collect(),
        ),
        Some(Value::Object(m)) if !m.is_empty() => Some(
            m.values()
                .filter_map(Value::as_str)
                .map(str::to_ascii_uppercase)
                .collect(),
        ),
        Some(_) => {
            return Err(Failure::classic(
                400,
                ErrorCode::from_wire("100"),
                "Invalid value {} to match with parameter {select}. Should be value of type array. (internal error)",
            ))
        }
    };
    let Some(task) = ctx.data.tasks.get(&task_id).cloned() else {
        return Ok(Value::Array(Vec::new()));
    };
    if !task.is_member(ctx.user) {
        return Ok(Value::Array(Vec::new()));
    }
    let ids = |v: &[u64]| Value::from(v.iter().map(u64::to_string).collect::<Vec<_>>());
    let mut out = Map::new();
    for (name, key) in SELECTABLE {
        let included = match &wanted {
            None => *name != "CHAT_ID",
            Some(w) => *name == "ID" || w.iter().any(|s| s == name || s == "*"),
        };
        if !included {
            continue;
        }
        let value = match *key {
            "id" => Value::from(task.id.to_string()),
            "title" => Value::from(task.title.clone()),
            "description" => Value::from(task.description.clone()),
            "createdBy" => Value::from(task.creator.to_string()),
            "responsibleId" => Value::from(task.responsible.to_string()),
            "status" => Value::from(classic_status(&task)),
            "accomplices" => ids(&task.accomplices),
            "auditors" => ids(&task.auditors),
            "chatId" => Value::from(task.chat_id),
            _ => continue,
        };
        out.insert((*key).to_owned(), value);
    }
    out.insert("group".into(), Value::Array(Vec::new()));
    out.insert("creator".into(), user_card(ctx, task.creator));
    out.insert("responsible".into(), user_card(ctx, task.responsible));
    Ok(json!({ "task": out }))
}

/// Classic `tasks.task.result.list`: `{"taskId":51}` → an array of
/// `{id, taskId, commentId, createdBy, createdAt, updatedAt, status (0 open / 1
/// closed), text, formattedText, files}`, newest first, as
/// <https://apidocs.bitrix24.com/api-reference/tasks/result/tasks-task-result-list.html>
/// shows. Results of the new task card have `commentId` 0. No access, or no such
/// task: `{"error":"0","error_description":"Access denied."}`.
pub(crate) fn result_list(
    ctx: &mut Ctx<'_>,
    params: &Map<String, Value>,
) -> Result<Value, Failure> {
    let raw = param(params, "taskId").cloned().unwrap_or(Value::Null);
    let Some(task_id) = id_of(&raw) else {
        let shown = match &raw {
            Value::String(s) => s.clone(),
            Value::Null => String::new(),
            other => other.to_string(),
        };
        return Err(Failure::classic(
            400,
            ErrorCode::from_wire("100"),
            format!(
                "Invalid value {shown} to match with parameter {{commentId}}. Should be value of type int."
            ),
        ));
    };
    match ctx.data.tasks.get(&task_id) {
        Some(task) if task.is_member(ctx.user) => {}
        _ => {
            return Err(Failure::classic(
                400,
                ErrorCode::from_wire("0"),
                "Access denied.",
            ))
        }
    }
    let items: Vec<Value> = ctx
        .data
        .results
        .values()
        .rev()
        .filter(|r| r.task_id == task_id)
        .map(|r| {
            json!({
                "id": r.id,
                "taskId": r.task_id,
                "commentId": 0,
                "createdBy": r.author_id,
                "createdAt": ctx.date(r.created_at).as_str(),
                "updatedAt": r.updated_at.map(|u| ctx.date(u).as_str().to_owned()),
                "status": i32::from(r.closed),
                "text": r.text,
                "formattedText": r.text,
                "files": r.file_ids,
            })
        })
        .collect();
    Ok(Value::Array(items))
}
