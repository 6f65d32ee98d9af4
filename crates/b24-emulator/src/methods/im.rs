//! Classic chat methods: `im.message.add` and `im.dialog.messages.get`.

use b24_types::ErrorCode;
use serde_json::{json, Map, Value};

use super::{user_json, Ctx};
use crate::failure::Failure;
use crate::model::MessageRec;

fn classic(code: &str, description: &str) -> Failure {
    Failure::classic(400, ErrorCode::from_wire(code), description)
}

/// A classic parameter as text (classic values come as strings or JSON scalars).
fn text_param(params: &Map<String, Value>, key: &str) -> Option<String> {
    match params.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn int_param(params: &Map<String, Value>, key: &str) -> Option<i64> {
    text_param(params, key).and_then(|s| s.trim().parse().ok())
}

/// The chat a `DIALOG_ID` names, checked for the caller's access.
fn dialog_chat(ctx: &Ctx<'_>, params: &Map<String, Value>) -> Result<u64, Failure> {
    let dialog = text_param(params, "DIALOG_ID")
        .filter(|d| !d.trim().is_empty())
        .ok_or_else(|| classic("DIALOG_ID_EMPTY", "Dialog ID can't be empty"))?;
    let no_access = || {
        classic(
            "ACCESS_ERROR",
            "You do not have access to the specified dialog",
        )
    };
    let chat_id = dialog
        .trim()
        .strip_prefix("chat")
        .and_then(|n| n.parse::<u64>().ok())
        .ok_or_else(no_access)?;
    let chat = ctx.data.chats.get(&chat_id).ok_or_else(no_access)?;
    if !ctx.data.chat_member(chat, ctx.user) {
        return Err(no_access());
    }
    Ok(chat_id)
}

/// `im.message.add`: `DIALOG_ID: "chat58"`, `MESSAGE`; answers the new message id.
/// Only group chats (`chatN`) are emulated.
pub(crate) fn message_add(
    ctx: &mut Ctx<'_>,
    params: &Map<String, Value>,
) -> Result<Value, Failure> {
    let chat_id = dialog_chat(ctx, params)?;
    let message = text_param(params, "MESSAGE")
        .filter(|m| !m.trim().is_empty())
        .ok_or_else(|| classic("MESSAGE_EMPTY", "Message can't be empty"))?;
    let id = ctx.post_message(chat_id, message);
    Ok(Value::from(id))
}

/// `im.dialog.messages.get`: `DIALOG_ID`, `LAST_ID`, `FIRST_ID`, `LIMIT` (default 20,
/// max 50). Newest first; with `FIRST_ID`, the messages after it, oldest first.
pub(crate) fn dialog_messages_get(
    ctx: &mut Ctx<'_>,
    params: &Map<String, Value>,
) -> Result<Value, Failure> {
    let chat_id = dialog_chat(ctx, params)?;
    let limit = int_param(params, "LIMIT")
        .filter(|l| *l > 0)
        .map_or(20, |l| l.min(50));
    let limit = usize::try_from(limit).unwrap_or(20);
    let in_chat = ctx.data.messages.values().filter(|m| m.chat_id == chat_id);
    let picked: Vec<&MessageRec> = if let Some(first) = int_param(params, "FIRST_ID") {
        in_chat
            .filter(|m| i64::try_from(m.id).is_ok_and(|id| id > first))
            .take(limit)
            .collect()
    } else {
        let last = int_param(params, "LAST_ID").filter(|l| *l > 0);
        let mut v: Vec<&MessageRec> = in_chat
            .filter(|m| last.is_none_or(|l| i64::try_from(m.id).is_ok_and(|id| id < l)))
            .collect();
        v.reverse();
        v.truncate(limit);
        v
    };
    let mut authors: Vec<u64> = picked.iter().map(|m| m.author_id).collect();
    authors.sort_unstable();
    authors.dedup();
    let messages: Vec<Value> = picked
        .iter()
        .map(|m| {
            json!({
                "id": m.id,
                "chat_id": m.chat_id,
                "author_id": m.author_id,
                "date": ctx.date(m.date).as_str(),
                "text": m.text,
                "params": [],
            })
        })
        .collect();
    let users: Vec<Value> = authors
        .iter()
        .map(|id| user_json(ctx.data.users.get(id), *id, None))
        .collect();
    Ok(json!({
        "messages": messages,
        "users": users,
        "files": [],
        "chat_id": chat_id,
    }))
}
