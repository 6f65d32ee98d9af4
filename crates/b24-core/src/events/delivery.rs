//! Decoding a delivery (the form POST a portal sends to a handler URL) and an
//! offline queue row into a typed event.

use b24_types::events::{
    EventAuth, EventPayload, MemberId, OfflineEvent, OtherEvent, TaskCommentChange,
};
use b24_types::{ApplicationToken, MessageId, TaskId};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::form::{parse_form, FormError, FormLimits};

/// The media type of a delivery body.
pub const FORM_CONTENT_TYPE: &str = "application/x-www-form-urlencoded";

/// The longest event name accepted.
const MAX_EVENT_NAME: usize = 128;

/// A typed event delivery: what a portal POSTs to a handler URL.
///
/// `Debug` never shows a token: the `auth` block holds secret types, and untyped
/// event data shows its keys only.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Delivery {
    /// The event name, upper case (`ONTASKCOMMENTADD`).
    pub event: String,
    /// The binding that produced the delivery (`event_handler_id`).
    pub handler_id: Option<u64>,
    /// Unix time the portal queued the event (`ts`).
    pub ts: Option<i64>,
    /// The `auth` block: the application token, the portal, maybe tokens.
    pub auth: EventAuth,
    /// The event's data, typed by its name.
    pub payload: EventPayload,
}

impl Delivery {
    /// The portal's member id (`auth[member_id]`).
    pub fn member_id(&self) -> Option<&MemberId> {
        self.auth.member_id.as_ref()
    }

    /// The delivery's application token (`auth[application_token]`).
    pub fn application_token(&self) -> Option<&ApplicationToken> {
        self.auth.application_token.as_ref()
    }

    /// For `ONTASKCOMMENTADD`: the comment data.
    pub fn task_comment_add(&self) -> Option<&TaskCommentChange> {
        match &self.payload {
            EventPayload::TaskCommentAdd(c) => Some(c),
            _ => None,
        }
    }
}

/// The chat message an `ONTASKCOMMENTADD` of the new task card names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct TaskChatMessage {
    /// The task.
    pub task_id: TaskId,
    /// The message in the task's chat.
    pub message_id: MessageId,
}

impl TaskChatMessage {
    /// The task and message an `ONTASKCOMMENTADD` payload names, when it is the new
    /// card's shape (the old card names a forum comment and no message).
    pub fn from_payload(payload: &EventPayload) -> Option<Self> {
        match payload {
            EventPayload::TaskCommentAdd(c) => Some(Self {
                task_id: c.task_id()?,
                message_id: c.message_id()?,
            }),
            _ => None,
        }
    }
}

/// Why a delivery body is not a usable event.
///
/// Messages name fields and limits, never a value from the body (which could be a
/// token).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DeliveryError {
    /// The body was sent with a media type other than a form.
    #[error("the body is not a form (content type {content_type:?})")]
    NotAForm {
        /// The media type sent, without parameters (never the body).
        content_type: String,
    },
    /// The body breaks a form rule or limit.
    #[error(transparent)]
    Form(#[from] FormError),
    /// A required field is absent or empty.
    #[error("the delivery has no `{field}`")]
    MissingField {
        /// The field, in form notation (`auth[application_token]`).
        field: &'static str,
    },
    /// A field has the wrong shape.
    #[error("`{field}` is invalid: {reason}")]
    InvalidField {
        /// The field, in form notation.
        field: String,
        /// Why.
        reason: &'static str,
    },
    /// The event's data does not fit its type.
    #[error("the data of {event} is invalid at `{path}`: {message}")]
    Payload {
        /// The event name.
        event: String,
        /// Where, as a JSON path inside `data`.
        path: String,
        /// What went wrong.
        message: String,
    },
}

/// Checks a `Content-Type` header value: a form, or absent.
///
/// # Errors
///
/// [`DeliveryError::NotAForm`] for any other media type.
pub fn check_content_type(content_type: Option<&str>) -> Result<(), DeliveryError> {
    let Some(raw) = content_type else {
        return Ok(());
    };
    let media = raw.split(';').next().unwrap_or_default().trim();
    if media.eq_ignore_ascii_case(FORM_CONTENT_TYPE) {
        Ok(())
    } else {
        Err(DeliveryError::NotAForm {
            content_type: media.chars().take(64).collect(),
        })
    }
}

/// Decodes a delivery: checks the media type, reads the form within `limits`, and
/// types the event.
///
/// `content_type` is the request's `Content-Type`; an absent one is read as a form,
/// any other media type is refused. The `application_token` is only read here:
/// check it with [`Verifier`](super::Verifier) before acting on the event.
///
/// # Errors
///
/// [`DeliveryError`]: not a form, over a limit, not UTF-8, a required field
/// (`event`, `auth`, `auth[application_token]`) absent, or data that does not fit the
/// event's type.
pub fn decode_delivery(
    content_type: Option<&str>,
    body: &[u8],
    limits: &FormLimits,
) -> Result<Delivery, DeliveryError> {
    check_content_type(content_type)?;
    let mut root = parse_form(body, limits)?;
    let event = match root.remove("event") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_ascii_uppercase(),
        Some(Value::String(_)) | None => {
            return Err(DeliveryError::MissingField { field: "event" })
        }
        Some(_) => {
            return Err(DeliveryError::InvalidField {
                field: "event".to_owned(),
                reason: "must be a name, not a map",
            })
        }
    };
    if event.len() > MAX_EVENT_NAME
        || !event
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        return Err(DeliveryError::InvalidField {
            field: "event".to_owned(),
            reason: "must be letters, digits and `_`",
        });
    }
    let handler_id = scalar_u64(&root, "event_handler_id")?;
    let ts = scalar_u64(&root, "ts")?.and_then(|t| i64::try_from(t).ok());
    let auth = match root.remove("auth") {
        Some(v @ Value::Object(_)) => v,
        Some(_) => {
            return Err(DeliveryError::InvalidField {
                field: "auth".to_owned(),
                reason: "must be a map",
            })
        }
        None => return Err(DeliveryError::MissingField { field: "auth" }),
    };
    let auth = decode_auth(auth)?;
    if auth
        .application_token
        .as_ref()
        .is_none_or(ApplicationToken::is_empty)
    {
        return Err(DeliveryError::MissingField {
            field: "auth[application_token]",
        });
    }
    let data = root
        .remove("data")
        .unwrap_or_else(|| Value::Object(Map::new()));
    let payload = decode_payload(&event, data)?;
    Ok(Delivery {
        event,
        handler_id,
        ts,
        auth,
        payload,
    })
}

/// Decodes the `auth` map. Errors name the field only: its value may be a token.
fn decode_auth(auth: Value) -> Result<EventAuth, DeliveryError> {
    serde_path_to_error::deserialize::<_, EventAuth>(auth).map_err(|e| {
        let path = e.path().to_string();
        DeliveryError::InvalidField {
            field: format!("auth[{}]", path.trim_start_matches('.')),
            reason: "has the wrong type",
        }
    })
}

/// A top-level scalar read as a non-negative integer, when present.
fn scalar_u64(root: &Map<String, Value>, field: &str) -> Result<Option<u64>, DeliveryError> {
    match root.get(field) {
        None => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => {
            s.trim()
                .parse::<u64>()
                .map(Some)
                .map_err(|_| DeliveryError::InvalidField {
                    field: field.to_owned(),
                    reason: "must be a non-negative integer",
                })
        }
        Some(_) => Err(DeliveryError::InvalidField {
            field: field.to_owned(),
            reason: "must be a non-negative integer",
        }),
    }
}

/// Types an event's `data` by the event's name. Both the form tree of an online
/// delivery and the JSON `EVENT_DATA` of an offline row are accepted; PHP's "nothing"
/// forms (`false`, `[]`, `""`, `null`) read as empty data.
///
/// # Errors
///
/// [`DeliveryError::Payload`] when the data does not fit the event's type.
pub fn decode_payload(event: &str, data: Value) -> Result<EventPayload, DeliveryError> {
    let data = match data {
        Value::Null | Value::Bool(false) => Value::Object(Map::new()),
        Value::String(s) if s.is_empty() => Value::Object(Map::new()),
        Value::Array(a) if a.is_empty() => Value::Object(Map::new()),
        other => other,
    };
    let name = event.to_ascii_uppercase();
    Ok(match name.as_str() {
        "ONTASKCOMMENTADD" => EventPayload::TaskCommentAdd(typed(&name, data)?),
        "ONTASKCOMMENTUPDATE" => EventPayload::TaskCommentUpdate(typed(&name, data)?),
        "ONTASKCOMMENTDELETE" => EventPayload::TaskCommentDelete(typed(&name, data)?),
        "ONTASKADD" => EventPayload::TaskAdd(typed(&name, data)?),
        "ONTASKUPDATE" => EventPayload::TaskUpdate(typed(&name, data)?),
        "ONTASKDELETE" => EventPayload::TaskDelete(typed(&name, data)?),
        "ONAPPINSTALL" => EventPayload::AppInstall(typed(&name, data)?),
        // The documentation's example spells it `ONAPPSUNINSTALL`.
        "ONAPPUNINSTALL" | "ONAPPSUNINSTALL" => EventPayload::AppUninstall(typed(&name, data)?),
        "ONIMBOTMESSAGEADD" => EventPayload::BotMessageAdd(Box::new(typed(&name, data)?)),
        _ => EventPayload::Other(OtherEvent::new(name, data)),
    })
}

fn typed<T: DeserializeOwned>(event: &str, data: Value) -> Result<T, DeliveryError> {
    if !data.is_object() {
        return Err(DeliveryError::Payload {
            event: event.to_owned(),
            path: ".".to_owned(),
            message: "the data must be a map".to_owned(),
        });
    }
    serde_path_to_error::deserialize(data).map_err(|e| DeliveryError::Payload {
        event: event.to_owned(),
        path: e.path().to_string(),
        message: e.inner().to_string(),
    })
}

/// Types an offline queue row's `EVENT_DATA` by its `EVENT_NAME`.
///
/// # Errors
///
/// [`DeliveryError::Payload`] when the data does not fit the event's type.
pub fn decode_offline(row: &OfflineEvent) -> Result<EventPayload, DeliveryError> {
    decode_payload(&row.event_name, row.event_data.clone())
}
