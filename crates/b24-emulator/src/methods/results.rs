//! `tasks.task.result.*`: add, addfromchatmessage, update, list, delete.

use b24_types::{
    ErrorCode, FileId, MessageId, ResultId, ResultRights, ResultStatus, TaskId, TaskResult, UserId,
};
use serde_json::{Map, Value};

use super::list_query::{self, Select};
use super::{as_int, check_types, fields_param, internal, is_int, user_json, Ctx};
use crate::failure::{msg, Failure};
use crate::model::ResultRec;

/// The fields of `ResultDto`, in wire order.
pub(crate) const RESULT_DTO_FIELDS: &[&str] = &[
    "id",
    "taskId",
    "text",
    "authorId",
    "author",
    "createdAt",
    "updatedAt",
    "status",
    "fileIds",
    "rights",
    "messageId",
];

/// A result as `TaskResult` (the shared wire type).
fn typed(ctx: &Ctx<'_>, r: &ResultRec) -> Result<TaskResult, Failure> {
    let mut t = TaskResult::new(ResultId::new(r.id).map_err(|_| internal())?);
    t.task_id = TaskId::new(r.task_id).ok();
    t.text = Some(r.text.clone());
    t.author_id = UserId::new(r.author_id).ok();
    t.created_at = Some(ctx.date(r.created_at));
    t.updated_at = r.updated_at.map(|u| ctx.date(u));
    t.status = Some(if r.closed {
        ResultStatus::Closed
    } else {
        ResultStatus::Open
    });
    t.file_ids = Some(
        r.file_ids
            .iter()
            .filter_map(|f| FileId::new(*f).ok())
            .collect(),
    );
    let own = r.author_id == ctx.user;
    t.rights = Some(ResultRights::new(own, own));
    t.message_id = r.message_id.and_then(|m| MessageId::new(m).ok());
    Ok(t)
}

/// The wire object of a result, every field present (`null` where empty), in
/// documentation order; `select` limits the fields (list only).
fn item(ctx: &Ctx<'_>, r: &ResultRec, select: Option<&Select>) -> Result<Value, Failure> {
    let typed = serde_json::to_value(typed(ctx, r)?).map_err(|_| internal())?;
    let Value::Object(mut wire) = typed else {
        return Err(internal());
    };
    let mut out = Map::new();
    for key in RESULT_DTO_FIELDS {
        let value = match *key {
            "author" => {
                let Some(sel) = select else { continue };
                match &sel.author {
                    None => continue,
                    Some(fields) => user_json(
                        ctx.data.users.get(&r.author_id),
                        r.author_id,
                        fields.as_deref(),
                    ),
                }
            }
            _ => wire.remove(*key).unwrap_or(Value::Null),
        };
        if let Some(sel) = select {
            if *key != "id" && *key != "author" && !sel.wants(key) {
                continue;
            }
        }
        out.insert((*key).to_owned(), value);
    }
    Ok(Value::Object(out))
}

fn item_result(ctx: &Ctx<'_>, r: &ResultRec) -> Result<Value, Failure> {
    let mut m = Map::new();
    m.insert("item".into(), item(ctx, r, None)?);
    Ok(Value::Object(m))
}

/// `ResultDto` fields no request may fill.
const READ_ONLY: &[&str] = &[
    "id",
    "author",
    "authorId",
    "status",
    "createdAt",
    "updatedAt",
    "rights",
    "fileIds",
];

/// Checks `fields` for keys `ResultDto` does not have: UNKNOWNDTOPROPERTYEXCEPTION
/// without a validation list (`rest/lib/V3/Structure/FieldsValidator.php`).
fn reject_unknown(fields: &Map<String, Value>) -> Result<(), Failure> {
    if fields
        .keys()
        .any(|k| !RESULT_DTO_FIELDS.contains(&k.as_str()))
    {
        return Err(unknown_field_in_fields());
    }
    Ok(())
}

fn unknown_field_in_fields() -> Failure {
    Failure::v3(
        400,
        ErrorCode::V3UnknownDtoProperty,
        "Unknown field for entity `ResultDto`",
    )
}

/// Adds a DTOVALIDATIONEXCEPTION item for each read-only key in `fields`
/// (`rest/lib/V3/Dto/Validation/FieldEditableValidator.php`). Keys another action
/// requires (`taskId`, `text`, `messageId`) are accepted and ignored.
fn check_read_only(mut dto: Failure, fields: &Map<String, Value>) -> Failure {
    for key in fields.keys() {
        if READ_ONLY.contains(&key.as_str()) {
            dto = dto.with_field(key, format!("Field `{key}` is not available for filling"));
        }
    }
    dto
}

/// Adds to `dto` the item about a `fields.text` that is absent or null (`missing`,
/// as each method words it) or blank.
fn check_text(dto: Failure, fields: &Map<String, Value>, missing: &str) -> Failure {
    match fields.get("text") {
        None | Some(Value::Null) => dto.with_field("text", missing),
        Some(v) if v.as_str().is_some_and(|s| s.trim().is_empty()) => {
            dto.with_field("text", "The required field \"text\" is not filled")
        }
        Some(_) => dto,
    }
}

/// `tasks.task.result.add`.
pub(crate) fn add(ctx: &mut Ctx<'_>, params: &Map<String, Value>) -> Result<Value, Failure> {
    let top = msg::REQUEST_VALIDATION;
    let fields = fields_param(
        params,
        top,
        "Required field `fields` is not specified",
        "Field `fields` requires `array` data type for this request",
    )?;
    reject_unknown(fields)?;

    check_types(
        top,
        fields,
        &[
            (
                "taskId",
                is_int,
                "Field `taskId` requires `int` data type for this request",
            ),
            (
                "text",
                Value::is_string,
                "Field `text` requires `string` data type for this request",
            ),
        ],
    )?;

    let mut dto = Failure::dto(msg::DTO_VALIDATION);
    if !fields.contains_key("taskId") {
        dto = dto.with_field("taskId", "Required field `taskId` is not specified");
    }
    dto = check_text(dto, fields, "Required field `text` is not specified");
    dto = check_read_only(dto, fields);
    if dto.has_items() {
        return Err(dto);
    }

    let task_id = match fields.get("taskId").and_then(as_int) {
        None => return Err(Failure::request(top, "taskId", "Task id must be set")),
        Some(id) if id <= 0 => {
            return Err(Failure::request(top, "taskId", "Task id must be positive"))
        }
        Some(id) => id.unsigned_abs(),
    };
    let text = fields
        .get("text")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let Some(task) = ctx.data.tasks.get(&task_id) else {
        return Err(Failure::request(top, "taskId", "Task not found"));
    };
    if !task.is_member(ctx.user) {
        return Err(Failure::access_denied("taskId"));
    }
    let closed = task.is_completed();
    let rec = new_result(ctx, task_id, text, None, closed, false);
    item_result(ctx, &rec)
}

fn new_result(
    ctx: &mut Ctx<'_>,
    task_id: u64,
    text: String,
    message_id: Option<u64>,
    closed: bool,
    updated_now: bool,
) -> ResultRec {
    let id = ctx.data.next_result;
    ctx.data.next_result += 1;
    let now = ctx.now_secs();
    let rec = ResultRec {
        id,
        task_id,
        text,
        author_id: ctx.user,
        created_at: now,
        updated_at: updated_now.then_some(now),
        message_id,
        closed,
        file_ids: Vec::new(),
    };
    ctx.data.results.insert(id, rec.clone());
    if ctx.data.events.settings.result_notices {
        notify_result(ctx, &rec);
    }
    rec
}

/// Posts the notice the platform posts in a task's chat when a result is made: a
/// system message (author `0`), which fires `ONTASKCOMMENTADD` like any message.
fn notify_result(ctx: &mut Ctx<'_>, rec: &ResultRec) {
    let Some(chat_id) = ctx.data.tasks.get(&rec.task_id).map(|t| t.chat_id) else {
        return;
    };
    let who = ctx
        .data
        .users
        .get(&ctx.user)
        .map_or_else(|| format!("User {}", ctx.user), |u| u.name.clone());
    let text = match rec.message_id {
        Some(m) => format!("{who} made message #{m} the task result"),
        None => format!("{who} added a task result"),
    };
    ctx.post_message_as(chat_id, 0, text);
}

/// The title a result made from a message without text gets.
pub(crate) const DEFAULT_RESULT_TITLE: &str = "Task result";

/// A `messageId` as the server reads it: the fields structure has no strict types, so
/// a numeric string, a float and a boolean are cast to an integer as PHP's `(int)`
/// does; `null` reads as 0. `None` for an array or an object.
fn loose_int(v: &Value) -> Option<i64> {
    match v {
        Value::Null => Some(0),
        Value::Bool(b) => Some(i64::from(*b)),
        Value::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.is_finite())
                .map(|f| f.trunc().clamp(i64::MIN as f64, i64::MAX as f64) as i64)
        }),
        Value::String(s) => Some(php_int(s)),
        _ => None,
    }
}

/// PHP's `(int)` of a string: leading whitespace, an optional sign, then digits
/// (saturating); anything else reads as 0.
fn php_int(s: &str) -> i64 {
    let t = s.trim_start();
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let mut n: i64 = 0;
    for b in digits.bytes().take_while(u8::is_ascii_digit) {
        n = n.saturating_mul(10).saturating_add(i64::from(b - b'0'));
    }
    if neg {
        n.saturating_neg()
    } else {
        n
    }
}

/// `tasks.task.result.addfromchatmessage`.
///
/// Follows `tasks/lib/V2/Infrastructure/Rest/Controller/Task/Result.php` and the
/// access rule `tasks/lib/access/rule/resultcreatefrommessagerule.php`: a missing
/// message, a message outside a task chat, a missing task and a task the caller
/// cannot read all answer one 403 ACCESSDENIEDEXCEPTION; the same message may
/// become a result any number of times; a new result is `open` with `updatedAt`
/// equal to `createdAt`.
pub(crate) fn add_from_chat_message(
    ctx: &mut Ctx<'_>,
    params: &Map<String, Value>,
) -> Result<Value, Failure> {
    let top = msg::REQUEST_VALIDATION_DURING;
    let fields = fields_param(
        params,
        top,
        "Required field `fields` is missing",
        "Field `fields` requires data type `array` for this request",
    )?;
    reject_unknown(fields)?;
    let message_id = match fields.get("messageId") {
        None => None,
        Some(v) => Some(loose_int(v).ok_or_else(|| {
            Failure::request(
                top,
                "messageId",
                "Field `messageId` requires data type `int` for this request",
            )
        })?),
    };
    let mut dto = Failure::dto(msg::DTO_VALIDATION);
    if message_id.is_none() {
        dto = dto.with_field("messageId", "Required field `messageId` is missing");
    }
    dto = check_read_only(dto, fields);
    if dto.has_items() {
        return Err(dto);
    }
    let denied = || Failure::access_denied("messageId");
    let message = u64::try_from(message_id.unwrap_or_default())
        .ok()
        .filter(|id| *id > 0)
        .and_then(|id| ctx.data.messages.get(&id))
        .cloned()
        .ok_or_else(denied)?;
    let task_id = ctx
        .data
        .chats
        .get(&message.chat_id)
        .and_then(|chat| chat.task_id)
        .ok_or_else(denied)?;
    match ctx.data.tasks.get(&task_id) {
        Some(task) if task.is_member(ctx.user) => {}
        _ => return Err(denied()),
    }
    let text = if message.text.trim().is_empty() {
        DEFAULT_RESULT_TITLE.to_owned()
    } else {
        message.text
    };
    let rec = new_result(ctx, task_id, text, Some(message.id), false, true);
    item_result(ctx, &rec)
}

/// Checks `id` / `filter` as the generic update and delete requests do; returns the id.
fn require_id(params: &Map<String, Value>, delete: bool) -> Result<u64, Failure> {
    let top = msg::REQUEST_VALIDATION;
    let has_id = params.get("id").is_some_and(|v| !v.is_null());
    let has_filter = params.get("filter").is_some_and(|v| !v.is_null());
    let base = Failure::v3(400, ErrorCode::V3RequestValidation, top);
    match (has_id, has_filter) {
        (false, false) if delete => {
            return Err(base
                .with_general("At least one required field must be filled: `id`, `filter`")
                .with_general("Only one of the values must be provided: `id`, `filter`"))
        }
        (false, false) => {
            return Err(
                base.with_general("At least one required field is not filled: `id`, `filter`")
            )
        }
        (true, true) => {
            return Err(base.with_general("Only one of the values must be provided: `id`, `filter`"))
        }
        // The task-result controller takes `id` only.
        (false, true) => return Err(base.with_field("id", "Required field `id` is missing")),
        (true, false) => {}
    }
    match params.get("id").and_then(as_int) {
        Some(id) => Ok(u64::try_from(id).unwrap_or(0)),
        None => Err(base.with_field("id", "Field `id` requires `int` data type for this request")),
    }
}

/// `tasks.task.result.update`.
pub(crate) fn update(ctx: &mut Ctx<'_>, params: &Map<String, Value>) -> Result<Value, Failure> {
    let top = msg::REQUEST_VALIDATION;
    let id = require_id(params, false)?;
    let fields = fields_param(
        params,
        top,
        "Required field `fields` is missing",
        "Field `fields` requires `array` data type for this request",
    )?;
    reject_unknown(fields)?;
    check_types(
        top,
        fields,
        &[(
            "text",
            Value::is_string,
            "Field `text` requires `string` data type for this request",
        )],
    )?;
    let mut dto = check_text(
        Failure::dto(msg::DTO_VALIDATION),
        fields,
        "Required field `text` is missing",
    );
    dto = check_read_only(dto, fields);
    if dto.has_items() {
        return Err(dto);
    }
    let text = fields
        .get("text")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let now = ctx.now_secs();
    let user = ctx.user;
    let rec = match ctx.data.results.get_mut(&id) {
        Some(r) if r.author_id == user => {
            r.text = text;
            r.updated_at = Some(now);
            r.clone()
        }
        _ => return Err(Failure::access_denied("id")),
    };
    item_result(ctx, &rec)
}

/// `tasks.task.result.delete`.
pub(crate) fn delete(ctx: &mut Ctx<'_>, params: &Map<String, Value>) -> Result<Value, Failure> {
    let id = require_id(params, true)?;
    match ctx.data.results.get(&id) {
        Some(r) if r.author_id == ctx.user => {
            ctx.data.results.remove(&id);
        }
        _ => return Err(Failure::access_denied("id")),
    }
    Ok(serde_json::json!({ "result": true }))
}

/// `tasks.task.result.list` (REST 3.0).
pub(crate) fn list(ctx: &mut Ctx<'_>, params: &Map<String, Value>) -> Result<Value, Failure> {
    let query = list_query::parse(params, ctx.drop_unknown_select)?;
    let task_id = query.task_id;
    match ctx.data.tasks.get(&task_id) {
        Some(task) if task.is_member(ctx.user) => {}
        _ => return Err(Failure::access_denied("taskId")),
    }
    let mut rows: Vec<&ResultRec> = ctx
        .data
        .results
        .values()
        .filter(|r| query.filter.iter().all(|c| c.matches(r)))
        .collect();
    rows.sort_by(|a, b| query.compare(a, b));
    let items = rows
        .into_iter()
        .skip(query.offset)
        .take(query.limit)
        .map(|r| item(ctx, r, Some(&query.select)))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(serde_json::json!({ "items": items }))
}
