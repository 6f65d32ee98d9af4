//! `event.bind`, `event.unbind`, `event.get` and `event.offline.get`, `.clear`,
//! `.error`, `.list` (classic).

use std::cmp::Ordering;

use b24_types::{DateTime, ErrorCode};
use serde_json::{json, Map, Value};

use super::{Binding, OfflineRow};
use crate::failure::Failure;
use crate::methods::Ctx;

/// The event methods this emulator serves.
pub(crate) const EVENT_METHODS: &[&str] = &[
    "event.bind",
    "event.unbind",
    "event.get",
    "event.offline.get",
    "event.offline.clear",
    "event.offline.error",
    "event.offline.list",
];

/// Events `event.bind` accepts (the emulator fires only `ONTASKCOMMENTADD`).
const KNOWN_EVENTS: &[&str] = &[
    "ONTASKCOMMENTADD",
    "ONTASKCOMMENTUPDATE",
    "ONTASKCOMMENTDELETE",
    "ONTASKADD",
    "ONTASKUPDATE",
    "ONTASKDELETE",
    "ONAPPINSTALL",
    "ONAPPUNINSTALL",
    "ONIMBOTMESSAGEADD",
    "ONOFFLINEEVENT",
];

/// The page size of `event.offline.list`.
const LIST_PAGE: usize = 50;

/// Runs an event method. `None` when `method` is not one.
pub(crate) fn run(
    method: &str,
    ctx: &mut Ctx<'_>,
    params: &Map<String, Value>,
) -> Option<Result<Value, Failure>> {
    if !EVENT_METHODS.contains(&method) {
        return None;
    }
    // Parameters are read case-insensitively.
    let params: Map<String, Value> = params
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
        .collect();
    if !ctx.app {
        return Some(Err(Failure::classic(
            403,
            ErrorCode::from_wire("WRONG_AUTH_TYPE"),
            "Current authorization type is denied for this method",
        )));
    }
    Some(match method {
        "event.bind" => bind(ctx, &params),
        "event.unbind" => unbind(ctx, &params),
        "event.get" => get(ctx),
        other => {
            if !is_admin(ctx) {
                return Some(Err(access_denied("Access denied!")));
            }
            match other {
                "event.offline.get" => offline_get(ctx, &params),
                "event.offline.clear" => offline_clear(ctx, &params),
                "event.offline.error" => offline_error(ctx, &params),
                _ => offline_list(ctx, &params),
            }
        }
    })
}

fn argument(description: impl Into<String>) -> Failure {
    Failure::classic(400, ErrorCode::from_wire("ERROR_ARGUMENT"), description)
}

fn access_denied(description: &str) -> Failure {
    Failure::classic(403, ErrorCode::from_wire("ACCESS_DENIED"), description)
}

fn is_admin(ctx: &Ctx<'_>) -> bool {
    ctx.data
        .users
        .get(&ctx.user)
        .is_some_and(|u| u.role == "admin")
}

/// A scalar parameter as text.
fn text(params: &Map<String, Value>, key: &str) -> Option<String> {
    match params.get(key)? {
        Value::String(s) => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(if *b { "1" } else { "0" }.to_owned()),
        _ => None,
    }
}

/// PHP's `intval` of a parameter: leading digits, else 0.
fn intval(params: &Map<String, Value>, key: &str) -> Option<i64> {
    let t = text(params, key)?;
    let digits: String = t
        .char_indices()
        .take_while(|(i, c)| c.is_ascii_digit() || (*i == 0 && *c == '-'))
        .map(|(_, c)| c)
        .collect();
    Some(digits.parse().unwrap_or(0))
}

// ---- bind, unbind, get ----

fn bind(ctx: &mut Ctx<'_>, params: &Map<String, Value>) -> Result<Value, Failure> {
    let event = text(params, "event")
        .filter(|e| !e.is_empty())
        .ok_or_else(|| argument("Argument 'EVENT' is null or empty"))?
        .to_ascii_uppercase();
    let event_type = text(params, "event_type").unwrap_or_else(|| "online".to_owned());
    let offline = match event_type.to_ascii_lowercase().as_str() {
        "online" => false,
        "offline" => true,
        _ => return Err(argument("Value must be one of {online|offline}")),
    };
    if !KNOWN_EVENTS.contains(&event.as_str()) {
        return Err(Failure::classic(
            400,
            ErrorCode::from_wire("ERROR_EVENT_NOT_FOUND"),
            "Event not found",
        ));
    }
    let admin = is_admin(ctx);
    let mut auth_type = intval(params, "auth_type")
        .unwrap_or(0)
        .max(0)
        .unsigned_abs();
    let handler = if offline {
        if !admin {
            return Err(access_denied(
                "Offline events binding requires administrator access rights",
            ));
        }
        if event == "ONOFFLINEEVENT" {
            return Err(argument(
                "Offline event cannot be registered for this event.",
            ));
        }
        auth_type = 0;
        None
    } else {
        let handler = text(params, "handler")
            .filter(|h| !h.is_empty())
            .ok_or_else(|| argument("Argument 'HANDLER' is null or empty"))?;
        check_handler(&handler)?;
        if auth_type != 0 && auth_type != ctx.user && !admin {
            return Err(access_denied(
                "Event binding with AUTH_TYPE requires administrator access rights",
            ));
        }
        if !admin {
            auth_type = ctx.user;
        }
        Some(handler)
    };
    let connector = if offline {
        text(params, "auth_connector").unwrap_or_default()
    } else {
        String::new()
    };
    let owner = ctx.user;
    let events = &mut ctx.data.events;
    if events.bindings.iter().any(|b| {
        b.event == event
            && b.handler == handler
            && b.auth_type == auth_type
            && b.connector == connector
    }) {
        return Err(Failure::classic(
            400,
            ErrorCode::from_wire("ERROR_CORE"),
            "Unable to set event handler: Handler already binded",
        ));
    }
    let id = events.next_binding;
    events.next_binding += 1;
    events.bindings.push(Binding {
        id,
        event,
        handler,
        auth_type,
        connector,
        owner,
    });
    Ok(Value::Bool(true))
}

/// `http`/`https` and a host with a dot, as the platform requires.
fn check_handler(handler: &str) -> Result<(), Failure> {
    let uri: http::Uri = handler.parse().map_err(|_| wrong_handler())?;
    match uri.scheme_str() {
        Some("http" | "https") => {}
        _ => {
            return Err(Failure::classic(
                400,
                ErrorCode::from_wire("ERROR_UNSUPPORTED_PROTOCOL"),
                "Unsupported event handler protocol",
            ))
        }
    }
    if !uri.host().is_some_and(|h| h.contains('.')) {
        return Err(wrong_handler());
    }
    Ok(())
}

fn wrong_handler() -> Failure {
    Failure::classic(
        400,
        ErrorCode::from_wire("ERROR_WRONG_HANDLER_URL"),
        "Wrong handler URL",
    )
}

fn unbind(ctx: &mut Ctx<'_>, params: &Map<String, Value>) -> Result<Value, Failure> {
    let event = text(params, "event")
        .filter(|e| !e.is_empty())
        .ok_or_else(|| argument("Argument 'EVENT' is null or empty"))?
        .to_ascii_uppercase();
    let offline = text(params, "event_type").is_some_and(|t| t.eq_ignore_ascii_case("offline"));
    let handler = if offline {
        None
    } else {
        Some(
            text(params, "handler")
                .filter(|h| !h.is_empty())
                .ok_or_else(|| argument("Argument 'HANDLER' is null or empty"))?,
        )
    };
    let auth_type = intval(params, "auth_type").map(|a| a.max(0).unsigned_abs());
    let admin = is_admin(ctx);
    let user = ctx.user;
    let events = &mut ctx.data.events;
    let before = events.bindings.len();
    events.bindings.retain(|b| {
        let matches = b.event == event
            && b.handler == handler
            && auth_type.is_none_or(|a| a == b.auth_type)
            && (admin || b.owner == user);
        !matches
    });
    let count = before - events.bindings.len();
    Ok(json!({ "count": count }))
}

fn get(ctx: &mut Ctx<'_>) -> Result<Value, Failure> {
    let admin = is_admin(ctx);
    let user = ctx.user;
    let list: Vec<Value> = ctx
        .data
        .events
        .bindings
        .iter()
        .filter(|b| admin || b.owner == user)
        .map(|b| match &b.handler {
            Some(h) => json!({"event": b.event, "handler": h, "auth_type": b.auth_type.to_string(), "offline": 0}),
            None => json!({"event": b.event, "connector_id": b.connector, "offline": 1}),
        })
        .collect();
    Ok(Value::Array(list))
}

// ---- the offline queue ----

/// One filter condition: `[op]FIELD => value`.
struct Condition {
    op: String,
    field: String,
    value: String,
}

fn conditions(params: &Map<String, Value>, fields: &[&str]) -> Result<Vec<Condition>, Failure> {
    let Some(filter) = params.get("filter") else {
        return Ok(Vec::new());
    };
    let map = match filter {
        Value::Object(m) => m.clone(),
        Value::Array(a) if a.is_empty() => Map::new(),
        _ => return Err(argument("Value must be array")),
    };
    let mut out = Vec::new();
    for (key, value) in map {
        let field = key.trim_start_matches(|c: char| !c.is_ascii_alphanumeric() && c != '_');
        let op = key
            .get(..key.len() - field.len())
            .unwrap_or_default()
            .to_owned();
        let field = field.to_ascii_uppercase();
        if !fields.contains(&field.as_str()) {
            continue;
        }
        let value = match value {
            Value::String(s) => s,
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => if b { "1" } else { "0" }.to_owned(),
            _ => return Err(argument(format!("Argument '{key}' must be a scalar"))),
        };
        out.push(Condition { op, field, value });
    }
    Ok(out)
}

/// A row's field, for filters and sorting: numbers compare as numbers.
#[derive(PartialEq, PartialOrd)]
enum Key {
    Num(i64),
    Text(String),
}

fn field_key(row: &OfflineRow, field: &str) -> Key {
    match field {
        "ID" => Key::Num(i64::try_from(row.id).unwrap_or(i64::MAX)),
        "TIMESTAMP_X" => Key::Num(row.ts),
        "EVENT_NAME" => Key::Text(row.event.clone()),
        "MESSAGE_ID" => Key::Text(row.message_id.clone()),
        "PROCESS_ID" => Key::Text(row.process_id.clone()),
        "ERROR" => Key::Num(i64::from(row.error)),
        _ => Key::Text(String::new()),
    }
}

fn condition_value(field: &str, value: &str) -> Key {
    match field {
        "ID" | "ERROR" => Key::Num(value.trim().parse().unwrap_or(0)),
        "TIMESTAMP_X" => Key::Num(
            DateTime::parse(value.trim())
                .ok()
                .and_then(|d| d.unix_timestamp().ok())
                .or_else(|| value.trim().parse().ok())
                .unwrap_or(0),
        ),
        _ => Key::Text(value.to_owned()),
    }
}

fn matches(row: &OfflineRow, conds: &[Condition]) -> bool {
    conds.iter().all(|c| {
        let have = field_key(row, &c.field);
        let want = condition_value(&c.field, &c.value);
        match c.op.as_str() {
            "" | "=" => have == want,
            "!" | "!=" => have != want,
            ">" => have > want,
            ">=" => have >= want,
            "<" => have < want,
            "<=" => have <= want,
            _ => true,
        }
    })
}

fn order(params: &Map<String, Value>, fields: &[&str], default: &str) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    if let Some(Value::Object(m)) = params.get("order") {
        for (field, dir) in m {
            let field = field.to_ascii_uppercase();
            if !fields.contains(&field.as_str()) {
                continue;
            }
            let desc = dir.as_str().is_some_and(|d| d.eq_ignore_ascii_case("desc"));
            out.push((field, desc));
        }
    }
    if out.is_empty() {
        out.push((default.to_owned(), false));
    }
    out
}

fn compare(a: &OfflineRow, b: &OfflineRow, order: &[(String, bool)]) -> Ordering {
    for (field, desc) in order {
        let ord = field_key(a, field)
            .partial_cmp(&field_key(b, field))
            .unwrap_or(Ordering::Equal);
        let ord = if *desc { ord.reverse() } else { ord };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    a.id.cmp(&b.id)
}

fn row_json(ctx: &Ctx<'_>, row: &OfflineRow, list: bool) -> Value {
    let mut v = json!({
        "ID": row.id.to_string(),
        "TIMESTAMP_X": ctx.date(row.ts).as_str(),
        "EVENT_NAME": row.event,
        "EVENT_DATA": row.data,
        "EVENT_ADDITIONAL": row.additional,
        "MESSAGE_ID": row.message_id,
    });
    if list {
        if let Value::Object(m) = &mut v {
            m.insert("PROCESS_ID".into(), json!(row.process_id));
            m.insert("ERROR".into(), json!(if row.error { "1" } else { "0" }));
        }
    }
    v
}

const GET_FIELDS: &[&str] = &["ID", "TIMESTAMP_X", "EVENT_NAME", "MESSAGE_ID"];
const LIST_FIELDS: &[&str] = &[
    "ID",
    "TIMESTAMP_X",
    "EVENT_NAME",
    "MESSAGE_ID",
    "PROCESS_ID",
    "ERROR",
];

fn offline_get(ctx: &mut Ctx<'_>, params: &Map<String, Value>) -> Result<Value, Failure> {
    let clear = intval(params, "clear").is_none_or(|c| c != 0);
    let given = text(params, "process_id").filter(|p| !p.is_empty());
    if !clear && !ctx.data.events.settings.offline_extended {
        return Err(Failure::classic(
            403,
            ErrorCode::from_wire("WRONG_LICENSE"),
            "Wrong license: extended offline events handling",
        ));
    }
    let limit = intval(params, "limit").unwrap_or(50);
    if limit <= 0 {
        return Err(argument("Value must be positive integer"));
    }
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let errors = intval(params, "error") == Some(1);
    let connector = text(params, "auth_connector").unwrap_or_default();
    let conds = conditions(params, GET_FIELDS)?;
    let order = order(params, GET_FIELDS, "TIMESTAMP_X");
    let mut return_process_id = !clear;

    let process_id = match given {
        Some(p) => {
            return_process_id = true;
            p
        }
        None => {
            let p = crate::random::token(32);
            let mut free: Vec<&OfflineRow> = ctx
                .data
                .events
                .offline
                .values()
                .filter(|r| {
                    r.connector == connector
                        && r.error == errors
                        && r.process_id.is_empty()
                        && matches(r, &conds)
                })
                .collect();
            free.sort_by(|a, b| compare(a, b, &order));
            let marked: Vec<u64> = free.iter().take(limit).map(|r| r.id).collect();
            for id in marked {
                if let Some(r) = ctx.data.events.offline.get_mut(&id) {
                    r.process_id.clone_from(&p);
                }
            }
            p
        }
    };

    let mut batch: Vec<&OfflineRow> = ctx
        .data
        .events
        .offline
        .values()
        .filter(|r| {
            r.connector == connector
                && r.error == errors
                && r.process_id == process_id
                && matches(r, &conds)
        })
        .collect();
    batch.sort_by(|a, b| compare(a, b, &order));
    batch.truncate(limit);
    let events: Vec<Value> = batch.iter().map(|r| row_json(ctx, r, false)).collect();
    if clear && !events.is_empty() {
        ctx.data
            .events
            .offline
            .retain(|_, r| !(r.process_id == process_id && r.connector == connector));
    }
    Ok(json!({
        "process_id": if return_process_id { Value::String(process_id) } else { Value::Null },
        "events": events,
    }))
}

/// A list parameter: a JSON array (or a PHP map of items).
fn list_param(params: &Map<String, Value>, key: &str) -> Option<Result<Vec<String>, ()>> {
    let items: Vec<Value> = match params.get(key)? {
        Value::Array(a) => a.clone(),
        Value::Object(m) => m.values().cloned().collect(),
        _ => return Some(Err(())),
    };
    Some(
        items
            .into_iter()
            .map(|v| match v {
                Value::String(s) => Ok(s.trim().to_owned()),
                Value::Number(n) => Ok(n.to_string()),
                _ => Err(()),
            })
            .collect(),
    )
}

fn required_process_id(params: &Map<String, Value>) -> Result<String, Failure> {
    text(params, "process_id").ok_or_else(|| argument("Argument 'PROCESS_ID' is null or empty"))
}

fn offline_clear(ctx: &mut Ctx<'_>, params: &Map<String, Value>) -> Result<Value, Failure> {
    let process_id = required_process_id(params)?;
    let connector = text(params, "auth_connector").unwrap_or_default();
    // As the server code does: `message_id` wins when both lists are given.
    if let Some(list) = list_param(params, "message_id") {
        let ids = list.map_err(|()| argument("Value must be array of MESSAGE_ID values"))?;
        if ids.iter().any(|m| m.chars().count() != 32) {
            return Err(argument("Value must be array of MESSAGE_ID values"));
        }
        ctx.data.events.offline.retain(|_, r| {
            !(r.process_id == process_id && r.connector == connector && ids.contains(&r.message_id))
        });
        return Ok(Value::Bool(true));
    }
    let ids = match list_param(params, "id") {
        None => None,
        Some(list) => {
            let list = list.map_err(|()| argument("Value must be array of integers"))?;
            let parsed: Option<Vec<u64>> = list
                .iter()
                .map(|s| s.parse::<u64>().ok().filter(|n| *n > 0))
                .collect();
            Some(parsed.ok_or_else(|| argument("Value must be array of integers"))?)
        }
    };
    ctx.data.events.offline.retain(|_, r| {
        let hit = r.process_id == process_id
            && r.connector == connector
            && ids.as_ref().is_none_or(|ids| ids.contains(&r.id));
        !hit
    });
    Ok(Value::Bool(true))
}

fn offline_error(ctx: &mut Ctx<'_>, params: &Map<String, Value>) -> Result<Value, Failure> {
    let process_id = required_process_id(params)?;
    let connector = text(params, "auth_connector").unwrap_or_default();
    let ids = match list_param(params, "message_id") {
        Some(Ok(ids)) => ids,
        _ => return Err(argument("Value must be array of MESSAGE_ID values")),
    };
    if ids.is_empty() {
        return Ok(Value::Bool(true));
    }
    let offline = &mut ctx.data.events.offline;
    // As the server does: other free copies go, the batch's rows become failed rows
    // (free again), and copies reserved by other batches go.
    offline.retain(|_, r| {
        !(r.connector == connector
            && ids.contains(&r.message_id)
            && !r.error
            && r.process_id != process_id)
    });
    for r in offline.values_mut() {
        if r.connector == connector && ids.contains(&r.message_id) && !r.error {
            r.error = true;
            r.process_id.clear();
        }
    }
    Ok(Value::Bool(true))
}

fn offline_list(ctx: &mut Ctx<'_>, params: &Map<String, Value>) -> Result<Value, Failure> {
    let connector = text(params, "auth_connector").unwrap_or_default();
    let conds = conditions(params, LIST_FIELDS)?;
    let order = order(params, LIST_FIELDS, "ID");
    let start = intval(params, "start")
        .and_then(|s| usize::try_from(s).ok())
        .unwrap_or(0);
    let mut rows: Vec<&OfflineRow> = ctx
        .data
        .events
        .offline
        .values()
        .filter(|r| r.connector == connector && matches(r, &conds))
        .collect();
    rows.sort_by(|a, b| compare(a, b, &order));
    let page: Vec<Value> = rows
        .iter()
        .skip(start)
        .take(LIST_PAGE)
        .map(|r| row_json(ctx, r, true))
        .collect();
    Ok(Value::Array(page))
}
