//! The emulated methods. Each takes the call's parameters and the portal's data, and
//! returns the `result` part of the envelope or a [`Failure`].

pub(crate) mod chat;
pub(crate) mod im;
pub(crate) mod list_query;
pub(crate) mod results;
pub(crate) mod task;

use b24_types::{DateTime, ErrorCode};
use serde_json::{Map, Value};

use crate::failure::Failure;
use crate::model::{Data, UserRec};

/// What a method sees of a call.
#[derive(Debug)]
pub(crate) struct Ctx<'a> {
    pub(crate) data: &'a mut Data,
    /// The calling user.
    pub(crate) user: u64,
    /// Unix time of the call.
    pub(crate) now: f64,
    /// The portal's UTC offset in seconds.
    pub(crate) offset: i32,
}

impl Ctx<'_> {
    pub(crate) fn date(&self, unix: i64) -> DateTime {
        DateTime::from_unix(unix, self.offset)
    }

    pub(crate) fn now_secs(&self) -> i64 {
        self.now.floor() as i64
    }
}

/// The REST 3.0 methods this emulator serves at `/rest/api/`.
pub(crate) const V3_METHODS: &[&str] = &[
    "tasks.task.result.add",
    "tasks.task.result.addfromchatmessage",
    "tasks.task.result.update",
    "tasks.task.result.list",
    "tasks.task.result.delete",
    "tasks.task.chat.message.send",
    "tasks.task.get",
];

/// v3 methods that create, modify or delete (they honour `Idempotency-Key`).
pub(crate) const V3_WRITES: &[&str] = &[
    "tasks.task.result.add",
    "tasks.task.result.addfromchatmessage",
    "tasks.task.result.update",
    "tasks.task.result.delete",
    "tasks.task.chat.message.send",
];

/// The classic methods this emulator serves at `/rest/`.
pub(crate) const CLASSIC_METHODS: &[&str] = &["im.message.add", "im.dialog.messages.get"];

/// Runs a REST 3.0 method. `None` when there is no such method.
pub(crate) fn run_v3(
    method: &str,
    ctx: &mut Ctx<'_>,
    params: &Map<String, Value>,
) -> Option<Result<Value, Failure>> {
    Some(match method {
        "tasks.task.result.add" => results::add(ctx, params),
        "tasks.task.result.addfromchatmessage" => results::add_from_chat_message(ctx, params),
        "tasks.task.result.update" => results::update(ctx, params),
        "tasks.task.result.list" => results::list(ctx, params),
        "tasks.task.result.delete" => results::delete(ctx, params),
        "tasks.task.chat.message.send" => chat::send(ctx, params),
        "tasks.task.get" => task::get(ctx, params),
        _ => return None,
    })
}

/// Runs a classic method. `None` when there is no such method.
pub(crate) fn run_classic(
    method: &str,
    ctx: &mut Ctx<'_>,
    params: &Map<String, Value>,
) -> Option<Result<Value, Failure>> {
    Some(match method {
        "im.message.add" => im::message_add(ctx, params),
        "im.dialog.messages.get" => im::dialog_messages_get(ctx, params),
        _ => return None,
    })
}

/// A JSON integer (not a float, not a numeric string).
pub(crate) fn as_int(v: &Value) -> Option<i64> {
    v.as_i64()
}

/// `fields` as an object. A PHP empty array (`[]`) reads as an empty object.
/// `Err(None)` when missing or null, `Err(Some(()))` when of another type.
pub(crate) fn object_param<'p>(
    params: &'p Map<String, Value>,
    key: &str,
) -> Result<Option<&'p Map<String, Value>>, ()> {
    match params.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) => Ok(Some(m)),
        Some(Value::Array(a)) if a.is_empty() => Ok(Some(empty_map())),
        Some(_) => Err(()),
    }
}

fn empty_map() -> &'static Map<String, Value> {
    static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
    EMPTY.get_or_init(Map::new)
}

/// An internal error (500) for states that cannot happen.
pub(crate) fn internal() -> Failure {
    Failure::v3(500, ErrorCode::V3Internal, "Internal error")
}

/// The `UserDto` of a user, all fields or the selected ones.
pub(crate) fn user_json(user: Option<&UserRec>, id: u64, fields: Option<&[String]>) -> Value {
    let mut all = Map::new();
    all.insert("id".into(), Value::from(id));
    all.insert(
        "name".into(),
        user.map_or(Value::Null, |u| Value::from(u.name.clone())),
    );
    all.insert(
        "role".into(),
        user.map_or(Value::Null, |u| Value::from(u.role.clone())),
    );
    all.insert("image".into(), Value::Null);
    all.insert(
        "gender".into(),
        user.map_or(Value::Null, |u| Value::from(u.gender.clone())),
    );
    all.insert(
        "email".into(),
        user.map_or(Value::Null, |u| Value::from(u.email.clone())),
    );
    all.insert("externalAuthId".into(), Value::Null);
    all.insert("rights".into(), Value::Array(Vec::new()));
    match fields {
        None => {
            all.remove("rights");
            Value::Object(all)
        }
        Some(fields) => {
            let mut out = Map::new();
            for (k, v) in all {
                if fields.contains(&k) {
                    out.insert(k, v);
                }
            }
            Value::Object(out)
        }
    }
}

/// Fields of `UserDto`.
pub(crate) const USER_DTO_FIELDS: &[&str] = &[
    "id",
    "name",
    "role",
    "image",
    "gender",
    "email",
    "externalAuthId",
    "rights",
];
