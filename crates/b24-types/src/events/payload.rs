//! [`EventPayload`]: an event's data, typed by its name.

use std::fmt;

use super::app::{AppInstallData, AppUninstallData};
use super::bot::BotMessageAddData;
use super::names;
use super::task::{TaskChange, TaskCommentChange};

/// The `data` of an event, typed by the event's name.
///
/// The same payload comes from an online delivery (a form, every value a string) and
/// from the offline queue (`EVENT_DATA`, JSON); the typed fields accept both forms.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum EventPayload {
    /// `ONTASKCOMMENTADD`: a comment was added; on the new task card, a message
    /// landed in the task's chat (including the portal's own notices).
    TaskCommentAdd(TaskCommentChange),
    /// `ONTASKCOMMENTUPDATE` (old task card only).
    TaskCommentUpdate(TaskCommentChange),
    /// `ONTASKCOMMENTDELETE` (old task card only).
    TaskCommentDelete(TaskCommentChange),
    /// `ONTASKADD`.
    TaskAdd(TaskChange),
    /// `ONTASKUPDATE`.
    TaskUpdate(TaskChange),
    /// `ONTASKDELETE`.
    TaskDelete(TaskChange),
    /// `ONAPPINSTALL`.
    AppInstall(AppInstallData),
    /// `ONAPPUNINSTALL`.
    AppUninstall(AppUninstallData),
    /// `ONIMBOTMESSAGEADD`.
    BotMessageAdd(Box<BotMessageAddData>),
    /// Any other event, with its data untyped.
    Other(OtherEvent),
}

impl EventPayload {
    /// The event name this payload belongs to (upper case).
    pub fn name(&self) -> &str {
        match self {
            EventPayload::TaskCommentAdd(_) => names::ON_TASK_COMMENT_ADD,
            EventPayload::TaskCommentUpdate(_) => names::ON_TASK_COMMENT_UPDATE,
            EventPayload::TaskCommentDelete(_) => names::ON_TASK_COMMENT_DELETE,
            EventPayload::TaskAdd(_) => names::ON_TASK_ADD,
            EventPayload::TaskUpdate(_) => names::ON_TASK_UPDATE,
            EventPayload::TaskDelete(_) => names::ON_TASK_DELETE,
            EventPayload::AppInstall(_) => names::ON_APP_INSTALL,
            EventPayload::AppUninstall(_) => names::ON_APP_UNINSTALL,
            EventPayload::BotMessageAdd(_) => names::ON_IMBOT_MESSAGE_ADD,
            EventPayload::Other(o) => &o.name,
        }
    }
}

/// An event this version does not type: its name and its data as sent.
///
/// `Debug` shows the name and the top-level keys only: an unknown event's data may
/// hold tokens (bot events do).
#[derive(Clone, PartialEq)]
#[non_exhaustive]
pub struct OtherEvent {
    /// The event name (upper case).
    pub name: String,
    /// The data, untyped.
    pub data: serde_json::Value,
}

impl OtherEvent {
    /// An untyped event.
    pub fn new(name: impl Into<String>, data: serde_json::Value) -> Self {
        Self {
            name: name.into(),
            data,
        }
    }
}

impl fmt::Debug for OtherEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys: Vec<&str> = match &self.data {
            serde_json::Value::Object(m) => m.keys().map(String::as_str).collect(),
            _ => Vec::new(),
        };
        f.debug_struct("OtherEvent")
            .field("name", &self.name)
            .field("data_keys", &keys)
            .finish()
    }
}
