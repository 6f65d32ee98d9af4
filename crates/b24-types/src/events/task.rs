//! Task and task-comment event payloads (`ONTASK*`, `ONTASKCOMMENT*`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::slot::{Flag, Slot};
use crate::ids::{CommentId, MessageId, TaskId};

/// The data of every task and task-comment event:
/// `{FIELDS_BEFORE, FIELDS_AFTER, IS_ACCESSIBLE_BEFORE, IS_ACCESSIBLE_AFTER}`.
///
/// Which slot is used depends on the event: `ONTASKADD` fills `FIELDS_AFTER` only,
/// `ONTASKDELETE` `FIELDS_BEFORE` only, `ONTASKUPDATE` both. The unused one holds the
/// string `"undefined"` ([`Slot::Undefined`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound(deserialize = "F: serde::de::DeserializeOwned"))]
#[non_exhaustive]
pub struct TaskEventData<F> {
    /// The fields before the change.
    #[serde(
        rename = "FIELDS_BEFORE",
        default,
        skip_serializing_if = "Slot::is_absent"
    )]
    pub fields_before: Slot<F>,
    /// The fields after the change.
    #[serde(
        rename = "FIELDS_AFTER",
        default,
        skip_serializing_if = "Slot::is_absent"
    )]
    pub fields_after: Slot<F>,
    /// Whether the object was accessible before (`Y`, `N` or `"undefined"`).
    #[serde(
        rename = "IS_ACCESSIBLE_BEFORE",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub is_accessible_before: Option<Flag>,
    /// Whether the object is accessible after.
    #[serde(
        rename = "IS_ACCESSIBLE_AFTER",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub is_accessible_after: Option<Flag>,
}

impl<F> Default for TaskEventData<F> {
    fn default() -> Self {
        Self {
            fields_before: Slot::Absent,
            fields_after: Slot::Absent,
            is_accessible_before: None,
            is_accessible_after: None,
        }
    }
}

impl<F> TaskEventData<F> {
    /// Data with only `FIELDS_AFTER` set and `FIELDS_BEFORE` `"undefined"`, the
    /// shape of an "added" event.
    pub fn added(after: F) -> Self {
        Self {
            fields_before: Slot::Undefined,
            fields_after: Slot::Fields(after),
            is_accessible_before: Some(Flag::No),
            is_accessible_after: Some(Flag::Undefined),
        }
    }

    /// The fields after the change, or before it when there is no "after" (a
    /// deletion).
    pub fn latest(&self) -> Option<&F> {
        self.fields_after.fields().or(self.fields_before.fields())
    }
}

/// `FIELDS_*` of the `ONTASKADD` / `ONTASKUPDATE` / `ONTASKDELETE` events: the task id.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TaskFields {
    /// The task.
    #[serde(
        rename = "ID",
        default,
        deserialize_with = "crate::lenient::opt_id",
        skip_serializing_if = "Option::is_none"
    )]
    pub id: Option<TaskId>,
    /// Fields this version does not model.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

impl TaskFields {
    /// Fields naming a task.
    pub fn new(id: TaskId) -> Self {
        Self {
            id: Some(id),
            extra: BTreeMap::new(),
        }
    }
}

/// `FIELDS_*` of the `ONTASKCOMMENT*` events.
///
/// The **new task card** (tasks module 25.700.0 and later, where comments are chat
/// messages) sends `{ID: 0, MESSAGE_ID, TASK_ID}`: `ID` reads as `None` and the chat
/// message id is in [`CommentFields::message_id`]. The **old card** sends
/// `{ID: <comment id>, TASK_ID}` and no message id.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CommentFields {
    /// The old card's comment id (`0`, hence `None`, on the new card).
    #[serde(
        rename = "ID",
        default,
        deserialize_with = "crate::lenient::opt_id",
        skip_serializing_if = "Option::is_none"
    )]
    pub id: Option<CommentId>,
    /// The chat message id (new card).
    #[serde(
        rename = "MESSAGE_ID",
        default,
        deserialize_with = "crate::lenient::opt_id",
        skip_serializing_if = "Option::is_none"
    )]
    pub message_id: Option<MessageId>,
    /// The task.
    #[serde(
        rename = "TASK_ID",
        default,
        deserialize_with = "crate::lenient::opt_id",
        skip_serializing_if = "Option::is_none"
    )]
    pub task_id: Option<TaskId>,
    /// `EDIT` or `DEL` on update and delete events.
    #[serde(
        rename = "ACTION",
        default,
        deserialize_with = "super::wire::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub action: Option<String>,
    /// Fields this version does not model.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

/// Which task card a comment event came from, and the id it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CommentRef {
    /// New card: a chat message of the task's chat.
    Message(MessageId),
    /// Old card: a forum comment.
    Comment(CommentId),
}

/// The data of `ONTASKADD`, `ONTASKUPDATE` and `ONTASKDELETE`.
pub type TaskChange = TaskEventData<TaskFields>;

/// The data of `ONTASKCOMMENTADD`, `ONTASKCOMMENTUPDATE` and `ONTASKCOMMENTDELETE`.
pub type TaskCommentChange = TaskEventData<CommentFields>;

impl TaskEventData<TaskFields> {
    /// The task the event is about.
    pub fn task_id(&self) -> Option<TaskId> {
        self.fields_after
            .fields()
            .and_then(|f| f.id)
            .or_else(|| self.fields_before.fields().and_then(|f| f.id))
    }
}

impl TaskEventData<CommentFields> {
    /// The task the comment belongs to.
    pub fn task_id(&self) -> Option<TaskId> {
        self.fields_after
            .fields()
            .and_then(|f| f.task_id)
            .or_else(|| self.fields_before.fields().and_then(|f| f.task_id))
    }

    /// The chat message id (new task card only).
    pub fn message_id(&self) -> Option<MessageId> {
        self.fields_after
            .fields()
            .and_then(|f| f.message_id)
            .or_else(|| self.fields_before.fields().and_then(|f| f.message_id))
    }

    /// The message (new card) or comment (old card) the event names: a message id
    /// wins over a comment id.
    pub fn comment(&self) -> Option<CommentRef> {
        if let Some(m) = self.message_id() {
            return Some(CommentRef::Message(m));
        }
        self.latest().and_then(|f| f.id).map(CommentRef::Comment)
    }
}
