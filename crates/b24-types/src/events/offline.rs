//! The offline event queue (`event.offline.*`) and event bindings (`event.get`).

use std::fmt;

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize};

use crate::datetime::DateTime;
use crate::ids::{OfflineEventId, UserId};

/// The id of a batch reserved by `event.offline.get` with `clear=0`: pass it to
/// `event.offline.clear` once the batch is handled, or back to `event.offline.get`
/// to read the batch again.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ProcessId(String);

impl ProcessId {
    /// Wraps a process id as the portal sent it.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ProcessId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An offline event's `MESSAGE_ID`: a hash of the event name and data (32 hex
/// characters), the same for repeats of the same event. Not a chat message id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct OfflineMessageId(String);

impl OfflineMessageId {
    /// Wraps a message id as the portal sent it.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for OfflineMessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One queued offline event (`event.offline.get` → `events[]`, `event.offline.list`).
///
/// `EVENT_DATA` is the event's `data` as JSON (numbers may be numbers here, where an
/// online delivery has strings); PHP may send `false` or `[]` for "none".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct OfflineEvent {
    /// The queue row.
    #[serde(rename = "ID")]
    pub id: OfflineEventId,
    /// When the event was queued (or last refreshed by a repeat).
    #[serde(
        rename = "TIMESTAMP_X",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub timestamp: Option<DateTime>,
    /// The event name, e.g. `ONTASKCOMMENTADD`.
    #[serde(rename = "EVENT_NAME")]
    pub event_name: String,
    /// The event's data.
    #[serde(rename = "EVENT_DATA", default)]
    pub event_data: serde_json::Value,
    /// Extra facts: `{"user_id": N}` when the portal knows the acting user.
    #[serde(rename = "EVENT_ADDITIONAL", default)]
    pub event_additional: serde_json::Value,
    /// The hash that identifies the event in `event.offline.clear` / `.error`.
    #[serde(rename = "MESSAGE_ID")]
    pub message_id: OfflineMessageId,
    /// The batch holding the row (`event.offline.list` only; empty when free).
    #[serde(
        rename = "PROCESS_ID",
        default,
        deserialize_with = "opt_process_id",
        skip_serializing_if = "Option::is_none"
    )]
    pub process_id: Option<ProcessId>,
    /// Marked as failed with `event.offline.error` (`event.offline.list` only).
    #[serde(
        rename = "ERROR",
        default,
        deserialize_with = "super::wire::opt_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub error: Option<bool>,
}

impl OfflineEvent {
    /// `EVENT_ADDITIONAL.user_id`: the user whose action queued the event.
    pub fn user_id(&self) -> Option<UserId> {
        let v = self.event_additional.get("user_id")?;
        serde_json::from_value::<UserId>(v.clone()).ok()
    }
}

fn opt_process_id<'de, D: Deserializer<'de>>(d: D) -> Result<Option<ProcessId>, D::Error> {
    Ok(super::wire::opt_text(d)?
        .filter(|s| !s.is_empty())
        .map(ProcessId))
}

/// The answer of `event.offline.get`: `{process_id, events}`.
///
/// `process_id` is `null` when the batch was read with `clear=1` (it is already
/// gone from the queue).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct OfflineBatch {
    /// The reserved batch, when there is one to clear.
    #[serde(default, deserialize_with = "opt_process_id")]
    pub process_id: Option<ProcessId>,
    /// The events.
    #[serde(default, deserialize_with = "events_list")]
    pub events: Vec<OfflineEvent>,
}

fn events_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<OfflineEvent>, D::Error> {
    match serde_json::Value::deserialize(d)? {
        serde_json::Value::Null | serde_json::Value::Bool(false) => Ok(Vec::new()),
        serde_json::Value::Array(items) => items
            .into_iter()
            .map(|v| serde_json::from_value(v).map_err(de::Error::custom))
            .collect(),
        serde_json::Value::Object(map) => map
            .into_iter()
            .map(|(_, v)| serde_json::from_value(v).map_err(de::Error::custom))
            .collect(),
        _ => Err(de::Error::custom("expected a list of events")),
    }
}

/// One binding of `event.get`: an online handler or an offline queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct EventBinding {
    /// The event name (upper case).
    pub event: String,
    /// The handler URL (online bindings).
    #[serde(
        default,
        deserialize_with = "super::wire::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub handler: Option<String>,
    /// The user whose token the event carries (`0`, hence `None`, for "the user
    /// whose action fired it").
    #[serde(
        default,
        deserialize_with = "crate::lenient::opt_id",
        skip_serializing_if = "Option::is_none"
    )]
    pub auth_type: Option<UserId>,
    /// True for an offline binding.
    #[serde(default, deserialize_with = "bool_flag")]
    pub offline: bool,
    /// The offline queue's connector (`auth_connector` of `event.bind`).
    #[serde(
        default,
        deserialize_with = "super::wire::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub connector_id: Option<String>,
}

fn bool_flag<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    super::wire::opt_bool(d).map(|b| b.unwrap_or(false))
}

/// The answer of `event.unbind`: `{"count": N}`, the bindings removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct UnbindResult {
    /// How many bindings were removed.
    #[serde(default, deserialize_with = "count")]
    pub count: u64,
}

fn count<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    super::wire::opt_u64(d).map(Option::unwrap_or_default)
}
