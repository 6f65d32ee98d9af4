//! The task object of REST 3.0 `tasks.task.get`, as far as this crate needs it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::ids::{ChatId, TaskId};

/// A task (`tasks.task.get` → `result.item`). Only selected fields come back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Task {
    /// The task id (always returned).
    pub id: TaskId,
    /// Title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The task's chat id as a plain field (`chatId`).
    #[serde(
        default,
        deserialize_with = "crate::lenient::opt_id",
        skip_serializing_if = "Option::is_none"
    )]
    pub chat_id: Option<ChatId>,
    /// The task's chat relation (`select: ["chat.id", ...]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chat: Option<TaskChat>,
    /// Fields this version does not model.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

impl Task {
    /// A task with only the id set.
    pub fn new(id: TaskId) -> Self {
        Self {
            id,
            title: None,
            chat_id: None,
            chat: None,
            extra: BTreeMap::new(),
        }
    }

    /// The chat id from `chat.id`, or from `chatId` when only that was selected.
    pub fn chat_id(&self) -> Option<ChatId> {
        self.chat.as_ref().and_then(|c| c.id).or(self.chat_id)
    }
}

/// The `chat` relation of a task.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct TaskChat {
    /// The chat id.
    #[serde(
        default,
        deserialize_with = "crate::lenient::opt_id",
        skip_serializing_if = "Option::is_none"
    )]
    pub id: Option<ChatId>,
    /// The entity the chat belongs to (the task id for task chats).
    #[serde(
        default,
        deserialize_with = "crate::lenient::opt_i64",
        skip_serializing_if = "Option::is_none"
    )]
    pub entity_id: Option<i64>,
    /// The entity type, `"TASKS_TASK"` for task chats.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity_type: Option<String>,
}

impl TaskChat {
    /// A chat relation with only the id set.
    pub fn with_id(id: ChatId) -> Self {
        Self {
            id: Some(id),
            ..Self::default()
        }
    }
}
