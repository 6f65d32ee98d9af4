//! Parsing and evaluating a REST 3.0 list request: `filter`, `order`, `select` and
//! `pagination` of `tasks.task.result.list`.

use std::cmp::Ordering;

use b24_types::ErrorCode;
use serde_json::{Map, Value};

use super::results::RESULT_DTO_FIELDS;
use super::{invalid_select, unknown_field, USER_DTO_FIELDS};
use crate::failure::{msg, Failure};
use crate::model::ResultRec;

const FILTERABLE: &[&str] = &["taskId", "id", "authorId", "status", "messageId"];
const SORTABLE: &[&str] = &[
    "id",
    "authorId",
    "createdAt",
    "updatedAt",
    "status",
    "messageId",
];
const OPERATORS: &[&str] = &["=", "!=", ">", ">=", "<", "<=", "in", "between"];

/// Default page size.
pub(crate) const DEFAULT_LIMIT: usize = 50;
/// Larger limits are silently capped to this.
pub(crate) const MAX_LIMIT: usize = 1000;

fn invalid_filter() -> Failure {
    Failure::plain400(
        ErrorCode::V3InvalidFilter,
        "Unable to recognize the filter expression",
    )
}

fn unknown_operator() -> Failure {
    Failure::plain400(
        ErrorCode::V3UnknownFilterOperator,
        "Unknown filter operator",
    )
}

fn invalid_order() -> Failure {
    Failure::plain400(
        ErrorCode::V3InvalidOrder,
        "Unable to recognize the sorting expression",
    )
}

fn invalid_pagination() -> Failure {
    Failure::plain400(
        ErrorCode::V3InvalidPagination,
        "Unable to recognize the pagination parameter",
    )
}

/// One filter condition or group.
#[derive(Debug, Clone)]
pub(crate) enum Cond {
    Leaf {
        field: String,
        op: String,
        value: Value,
    },
    Group {
        or: bool,
        negative: bool,
        conditions: Vec<Cond>,
    },
}

/// What `select` asked for.
#[derive(Debug, Clone)]
pub(crate) struct Select {
    /// No `select` was sent: every field except `author`.
    pub(crate) default_fields: bool,
    fields: Vec<String>,
    /// `Some(None)` = the whole author; `Some(Some(fields))` = those author fields.
    pub(crate) author: Option<Option<Vec<String>>>,
}

impl Select {
    pub(crate) fn wants(&self, field: &str) -> bool {
        self.default_fields || self.fields.iter().any(|f| f == field)
    }
}

/// A parsed list request.
#[derive(Debug, Clone)]
pub(crate) struct ListQuery {
    pub(crate) filter: Vec<Cond>,
    pub(crate) task_id: u64,
    order: Vec<(String, bool)>,
    pub(crate) select: Select,
    pub(crate) limit: usize,
    pub(crate) offset: usize,
}

/// Parses the request; errors come in the order the server builds the request object:
/// filter, order, select, pagination, then the required `taskId` condition.
pub(crate) fn parse(
    params: &Map<String, Value>,
    drop_unknown_select: bool,
) -> Result<ListQuery, Failure> {
    let filter = parse_filter(params.get("filter"))?;
    let order = parse_order(params.get("order"))?;
    let select = parse_select(params.get("select"), drop_unknown_select)?;
    let (limit, offset) = parse_pagination(params.get("pagination"))?;
    let task_id = filter
        .iter()
        .find_map(|c| match c {
            Cond::Leaf { field, op, value } if field == "taskId" && op == "=" => value.as_i64(),
            _ => None,
        })
        .and_then(|id| u64::try_from(id).ok())
        .ok_or_else(|| {
            Failure::v3(
                400,
                ErrorCode::V3RequestFilterValidation,
                msg::REQUEST_VALIDATION,
            )
            .with_field(
                "filter.taskId",
                "A filter for the required field `taskId` must be specified",
            )
        })?;
    Ok(ListQuery {
        filter,
        task_id,
        order,
        select,
        limit,
        offset,
    })
}

fn parse_filter(v: Option<&Value>) -> Result<Vec<Cond>, Failure> {
    let empty = || {
        Failure::request(
            msg::REQUEST_VALIDATION,
            "filter",
            "The field value cannot be empty",
        )
    };
    match v {
        None | Some(Value::Null) => Err(empty()),
        Some(Value::Array(items)) if items.is_empty() => Err(empty()),
        Some(Value::Array(items)) => items.iter().map(parse_cond).collect(),
        Some(Value::Object(m)) if m.is_empty() => Err(empty()),
        Some(_) => Err(invalid_filter()),
    }
}

fn parse_cond(v: &Value) -> Result<Cond, Failure> {
    match v {
        Value::Array(parts) => {
            let (field, op, value) = match parts.as_slice() {
                [field, value] => {
                    let op = if value.is_array() { "in" } else { "=" };
                    (field, Value::from(op), value)
                }
                [field, op, value] => (field, op.clone(), value),
                _ => return Err(invalid_filter()),
            };
            let field = field.as_str().ok_or_else(invalid_filter)?;
            let op = op.as_str().ok_or_else(invalid_filter)?.to_ascii_lowercase();
            if !OPERATORS.contains(&op.as_str()) {
                return Err(unknown_operator());
            }
            check_field(field)?;
            check_value(field, &op, value)?;
            Ok(Cond::Leaf {
                field: field.to_owned(),
                op,
                value: value.clone(),
            })
        }
        Value::Object(group) => {
            let conditions = match group.get("conditions") {
                Some(Value::Array(c)) => c.iter().map(parse_cond).collect::<Result<_, _>>()?,
                _ => return Err(invalid_filter()),
            };
            let or = match group.get("logic") {
                None | Some(Value::Null) => false,
                Some(Value::String(s)) if s.eq_ignore_ascii_case("and") => false,
                Some(Value::String(s)) if s.eq_ignore_ascii_case("or") => true,
                Some(_) => return Err(invalid_filter()),
            };
            let negative = match group.get("negative") {
                None => false,
                Some(Value::Bool(b)) => *b,
                Some(_) => return Err(invalid_filter()),
            };
            match group.get("type") {
                None => {}
                Some(Value::String(t)) if t == "filter" => {}
                Some(_) => return Err(invalid_filter()),
            }
            Ok(Cond::Group {
                or,
                negative,
                conditions,
            })
        }
        _ => Err(invalid_filter()),
    }
}

fn check_field(field: &str) -> Result<(), Failure> {
    if !RESULT_DTO_FIELDS.contains(&field) {
        return Err(unknown_field("filter", field, "ResultDto"));
    }
    if !FILTERABLE.contains(&field) {
        return Err(Failure::request(
            msg::REQUEST_VALIDATION,
            field,
            format!("Field `{field}` is not available for filtering"),
        ));
    }
    Ok(())
}

fn check_value(field: &str, op: &str, value: &Value) -> Result<(), Failure> {
    let scalar_ok = |v: &Value| match field {
        "status" => v.is_string(),
        "messageId" => v.is_i64() || v.is_null(),
        _ => v.is_i64(),
    };
    let type_error = || {
        let ty = if field == "status" { "string" } else { "int" };
        Failure::request(
            msg::REQUEST_VALIDATION,
            field,
            format!("The `{field}` field requires an `{ty}` data type for this request"),
        )
    };
    match op {
        "in" => {
            let items = value.as_array().ok_or_else(invalid_filter)?;
            if items.iter().all(scalar_ok) {
                Ok(())
            } else {
                Err(type_error())
            }
        }
        "between" => match value.as_array().map(Vec::as_slice) {
            Some([a, b]) if scalar_ok(a) && scalar_ok(b) => Ok(()),
            Some([_, _]) => Err(type_error()),
            _ => Err(invalid_filter()),
        },
        _ if value.is_array() || value.is_object() => Err(invalid_filter()),
        _ if scalar_ok(value) => Ok(()),
        _ => Err(type_error()),
    }
}

/// A comparable value of a result's field.
#[derive(Debug, Clone, PartialEq, PartialOrd)]
enum Key {
    Null,
    Int(i64),
    Str(String),
}

fn key_of(r: &ResultRec, field: &str) -> Key {
    let int = |v: u64| Key::Int(i64::try_from(v).unwrap_or(i64::MAX));
    match field {
        "id" => int(r.id),
        "taskId" => int(r.task_id),
        "authorId" => int(r.author_id),
        "messageId" => r.message_id.map_or(Key::Null, int),
        "createdAt" => Key::Int(r.created_at),
        "updatedAt" => r.updated_at.map_or(Key::Null, Key::Int),
        "status" => Key::Str(if r.closed { "closed" } else { "open" }.to_owned()),
        _ => Key::Null,
    }
}

fn key_of_value(v: &Value) -> Key {
    match v {
        Value::Number(n) => n.as_i64().map_or(Key::Null, Key::Int),
        Value::String(s) => Key::Str(s.clone()),
        _ => Key::Null,
    }
}

impl Cond {
    pub(crate) fn matches(&self, r: &ResultRec) -> bool {
        match self {
            Cond::Leaf { field, op, value } => {
                let have = key_of(r, field);
                let cmp = |v: &Value| have.partial_cmp(&key_of_value(v));
                match op.as_str() {
                    "=" => have == key_of_value(value),
                    "!=" => have != key_of_value(value),
                    ">" => cmp(value) == Some(Ordering::Greater),
                    ">=" => matches!(cmp(value), Some(Ordering::Greater | Ordering::Equal)),
                    "<" => cmp(value) == Some(Ordering::Less),
                    "<=" => matches!(cmp(value), Some(Ordering::Less | Ordering::Equal)),
                    "in" => value
                        .as_array()
                        .is_some_and(|vs| vs.iter().any(|v| have == key_of_value(v))),
                    "between" => match value.as_array().map(Vec::as_slice) {
                        Some([lo, hi]) => {
                            matches!(cmp(lo), Some(Ordering::Greater | Ordering::Equal))
                                && matches!(cmp(hi), Some(Ordering::Less | Ordering::Equal))
                        }
                        _ => false,
                    },
                    _ => false,
                }
            }
            Cond::Group {
                or,
                negative,
                conditions,
            } => {
                let hit = if *or {
                    conditions.iter().any(|c| c.matches(r))
                } else {
                    conditions.iter().all(|c| c.matches(r))
                };
                hit != *negative
            }
        }
    }
}

fn parse_order(v: Option<&Value>) -> Result<Vec<(String, bool)>, Failure> {
    let map = match v {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Object(m)) => m,
        _ => return Err(invalid_order()),
    };
    let mut out = Vec::new();
    for (field, dir) in map {
        if !RESULT_DTO_FIELDS.contains(&field.as_str()) {
            return Err(unknown_field("order", field, "ResultDto"));
        }
        if !SORTABLE.contains(&field.as_str()) {
            return Err(Failure::request(
                msg::REQUEST_VALIDATION,
                field,
                format!("Field `{field}` is not available for sorting"),
            ));
        }
        let asc = match dir.as_str().map(str::to_ascii_uppercase).as_deref() {
            Some("ASC") => true,
            Some("DESC") => false,
            _ => return Err(invalid_order()),
        };
        out.push((field.clone(), asc));
    }
    Ok(out)
}

/// An unknown plain field is refused with UNKNOWNDTOPROPERTYEXCEPTION, as the server
/// code does (`rest/lib/V3/Structure/SelectStructure.php`), or dropped (the
/// documented variant) when `drop_unknown` is set.
fn parse_select(v: Option<&Value>, drop_unknown: bool) -> Result<Select, Failure> {
    let items = match v {
        None | Some(Value::Null) => {
            return Ok(Select {
                default_fields: true,
                fields: Vec::new(),
                author: None,
            })
        }
        Some(Value::Array(items)) => items,
        Some(_) => return Err(invalid_select()),
    };
    let mut select = Select {
        default_fields: items.is_empty(),
        fields: Vec::new(),
        author: None,
    };
    for item in items {
        let Some(name) = item.as_str() else {
            return Err(invalid_select());
        };
        match name.split_once('.') {
            None if name == "author" => select.author = Some(None),
            None if RESULT_DTO_FIELDS.contains(&name) => select.fields.push(name.to_owned()),
            None if drop_unknown => {}
            None => return Err(unknown_field("select", name, "ResultDto")),
            Some(("author", sub)) => {
                if !USER_DTO_FIELDS.contains(&sub) {
                    return Err(unknown_field("select", sub, "UserDto"));
                }
                match &mut select.author {
                    Some(None) => {}
                    Some(Some(fields)) => fields.push(sub.to_owned()),
                    None => select.author = Some(Some(vec![sub.to_owned()])),
                }
            }
            Some((relation, _)) => return Err(unknown_field("select", relation, "ResultDto")),
        }
    }
    Ok(select)
}

fn pagination_number(v: &Value) -> Result<i64, Failure> {
    match v {
        Value::Number(n) => n.as_i64().ok_or_else(invalid_pagination),
        Value::String(s) => s.trim().parse::<i64>().map_err(|_| invalid_pagination()),
        _ => Err(invalid_pagination()),
    }
}

fn parse_pagination(v: Option<&Value>) -> Result<(usize, usize), Failure> {
    let map = match v {
        None | Some(Value::Null) => return Ok((DEFAULT_LIMIT, 0)),
        Some(Value::Array(a)) if a.is_empty() => return Ok((DEFAULT_LIMIT, 0)),
        Some(Value::Object(m)) => m,
        Some(_) => return Err(invalid_pagination()),
    };
    let limit = match map.get("limit") {
        None | Some(Value::Null) => DEFAULT_LIMIT,
        Some(v) => match pagination_number(v)? {
            0 => return Err(invalid_pagination()),
            // The server passes a negative limit to the query and fails there:
            // 500 INTERNALEXCEPTION (`rest/lib/V3/Structure/PaginationStructure.php`).
            n if n < 0 => return Err(super::internal()),
            n => usize::try_from(n).unwrap_or(MAX_LIMIT).min(MAX_LIMIT),
        },
    };
    let mut offset = match map.get("offset") {
        None | Some(Value::Null) => 0,
        Some(v) => usize::try_from(pagination_number(v)?).unwrap_or(0),
    };
    if let Some(v) = map.get("page").filter(|v| !v.is_null()) {
        let page = pagination_number(v)?;
        offset = if page <= 0 {
            0
        } else {
            usize::try_from(page - 1).unwrap_or(0).saturating_mul(limit)
        };
    }
    Ok((limit, offset))
}

impl ListQuery {
    /// Orders two results by `order`, then by id ascending.
    pub(crate) fn compare(&self, a: &ResultRec, b: &ResultRec) -> Ordering {
        for (field, asc) in &self.order {
            let o = key_of(a, field)
                .partial_cmp(&key_of(b, field))
                .unwrap_or(Ordering::Equal);
            let o = if *asc { o } else { o.reverse() };
            if o != Ordering::Equal {
                return o;
            }
        }
        a.id.cmp(&b.id)
    }
}
