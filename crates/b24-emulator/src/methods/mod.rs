//! The emulated methods. Each takes the call's parameters and the portal's data, and
//! returns the `result` part of the envelope or a [`Failure`].

pub(crate) mod chat;
pub(crate) mod classic;
pub(crate) mod im;
pub(crate) mod list_query;
pub(crate) mod results;
pub(crate) mod task;

use b24_types::{DateTime, ErrorCode};
use serde_json::{Map, Value};

use crate::failure::Failure;
use crate::model::{Data, MessageRec, UserRec};

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
    /// True when the call came through the OAuth app (not a webhook).
    pub(crate) app: bool,
    /// Drop unknown plain fields of a list's `select` instead of refusing them.
    pub(crate) drop_unknown_select: bool,
}

impl Ctx<'_> {
    pub(crate) fn date(&self, unix: i64) -> DateTime {
        DateTime::from_unix(unix, self.offset)
    }

    pub(crate) fn now_secs(&self) -> i64 {
        self.now.floor() as i64
    }

    /// Stores a message by the calling user in chat `chat_id`, dated now; returns
    /// its new id.
    pub(crate) fn post_message(&mut self, chat_id: u64, text: String) -> u64 {
        self.post_message_as(chat_id, self.user, text)
    }

    /// Stores a message by `author` (`0`: a system notice) in chat `chat_id`, dated
    /// now, and queues the events it fires; returns its new id.
    pub(crate) fn post_message_as(&mut self, chat_id: u64, author: u64, text: String) -> u64 {
        let id = self.data.take_message_id();
        let date = self.now_secs();
        self.data.messages.insert(
            id,
            MessageRec {
                id,
                chat_id,
                author_id: author,
                text,
                date,
            },
        );
        let hit = crate::events::Hit {
            user: self.user,
            by_app: self.app,
            now: self.now,
        };
        crate::events::message_posted(self.data, id, chat_id, hit);
        id
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
    "tasks.task.update",
];

/// v3 methods that create, modify or delete (they honour `Idempotency-Key`).
pub(crate) const V3_WRITES: &[&str] = &[
    "tasks.task.result.add",
    "tasks.task.result.addfromchatmessage",
    "tasks.task.result.update",
    "tasks.task.result.delete",
    "tasks.task.chat.message.send",
    "tasks.task.update",
];

/// The classic methods this emulator serves at `/rest/`.
pub(crate) const CLASSIC_METHODS: &[&str] = &[
    "server.time",
    "tasks.task.get",
    "tasks.task.result.list",
    "im.message.add",
    "im.dialog.messages.get",
    "event.bind",
    "event.unbind",
    "event.get",
    "event.offline.get",
    "event.offline.clear",
    "event.offline.error",
    "event.offline.list",
];

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
        "tasks.task.update" => task::update(ctx, params),
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
        "server.time" => Ok(Value::from(ctx.date(ctx.now_secs()).as_str())),
        "tasks.task.get" => classic::task_get(ctx, params),
        "tasks.task.result.list" => classic::result_list(ctx, params),
        other => return crate::events::methods::run(other, ctx, params),
    })
}

/// A JSON integer (not a float, not a numeric string).
pub(crate) fn as_int(v: &Value) -> Option<i64> {
    v.as_i64()
}

/// True for a JSON integer (see [`as_int`]).
pub(crate) fn is_int(v: &Value) -> bool {
    as_int(v).is_some()
}

/// The `fields` object of a REST 3.0 write. A PHP empty array (`[]`) reads as an
/// empty object. A missing or null `fields` answers REQUESTVALIDATIONEXCEPTION
/// (message `top`) with `missing`, one of another type with `wrong_type`: each
/// method words these as its documentation shows.
pub(crate) fn fields_param<'p>(
    params: &'p Map<String, Value>,
    top: &str,
    missing: &str,
    wrong_type: &str,
) -> Result<&'p Map<String, Value>, Failure> {
    match params.get("fields") {
        None | Some(Value::Null) => Err(Failure::request(top, "fields", missing)),
        Some(Value::Object(m)) => Ok(m),
        Some(Value::Array(a)) if a.is_empty() => Ok(empty_map()),
        Some(_) => Err(Failure::request(top, "fields", wrong_type)),
    }
}

/// The type check of one field: its key, whether a value has the wanted type, and
/// the message when it has not.
pub(crate) type TypeCheck<'a> = (&'a str, fn(&Value) -> bool, &'a str);

/// Checks the types of `fields`: REQUESTVALIDATIONEXCEPTION (message `top`) with an
/// item for each checked key that is present, not null and of another type, in the
/// order of `checks`; `Ok` when there is none.
pub(crate) fn check_types(
    top: &str,
    fields: &Map<String, Value>,
    checks: &[TypeCheck<'_>],
) -> Result<(), Failure> {
    let mut failure = Failure::v3(400, ErrorCode::V3RequestValidation, top);
    for (key, has_type, message) in checks {
        if fields
            .get(*key)
            .is_some_and(|v| !v.is_null() && !has_type(v))
        {
            failure = failure.with_field(key, *message);
        }
    }
    if failure.has_items() {
        Err(failure)
    } else {
        Ok(())
    }
}

/// UNKNOWNDTOPROPERTYEXCEPTION (400) about `field` of `entity`, reported at `place`.
/// (`select`, `filter` and `order` errors name the field in a validation item.)
pub(crate) fn unknown_field(place: &str, field: &str, entity: &str) -> Failure {
    let text = format!("Unknown field `{field}` for entity `{entity}`");
    Failure::v3(400, ErrorCode::V3UnknownDtoProperty, text.clone()).with_field(place, text)
}

/// INVALIDSELECTEXCEPTION (400): a `select` that is not a list of names.
pub(crate) fn invalid_select() -> Failure {
    Failure::plain400(
        ErrorCode::V3InvalidSelect,
        "Unable to recognize the select expression",
    )
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
