//! `tasks.task.get` (REST 3.0).

use b24_types::{Task, TaskId};
use serde_json::value::RawValue;
use serde_json::{json, Map, Value};

use super::text::decode_item;
use crate::error::{Error, InputError};
use crate::method::Method;

/// `tasks.task.get`: reads one task's selected fields.
///
/// Body: `{"id":51,"select":["id","chat.id"]}`. Output: the task. Without a select
/// the server returns every plain field but no relation; [`TaskGet::for_chat`]
/// selects the chat relation, which is how a task's chat id is found (to post a
/// message whose id is then turned into a result). The server checks access before
/// existence: a missing task is a 403 for a user who is not an administrator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskGet {
    id: TaskId,
    select: Vec<String>,
}

impl TaskGet {
    /// The method name.
    pub const NAME: &'static str = "tasks.task.get";

    /// The fields [`TaskGet::for_chat`] selects.
    pub const CHAT_SELECT: [&'static str; 4] =
        ["id", "chat.id", "chat.entityId", "chat.entityType"];

    /// A call for task `id` with no select (the server returns the id only).
    pub fn new(id: TaskId) -> Self {
        Self {
            id,
            select: Vec::new(),
        }
    }

    /// A call selecting the task's chat (`id`, `chat.id`, `chat.entityId`,
    /// `chat.entityType`).
    pub fn for_chat(id: TaskId) -> Self {
        Self {
            id,
            select: Self::CHAT_SELECT.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    /// Adds fields to the select: names or dotted relation names (`title`,
    /// `responsible.name`).
    ///
    /// # Errors
    ///
    /// [`InputError::Param`] (`select`) for an empty name or one with characters
    /// other than ASCII letters, digits, `_` and `.` (or an empty dotted part).
    pub fn select<S: Into<String>>(
        mut self,
        fields: impl IntoIterator<Item = S>,
    ) -> Result<Self, InputError> {
        for field in fields {
            let field = field.into();
            let ok = !field.is_empty()
                && field
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
                && !field.split('.').any(str::is_empty);
            if !ok {
                return Err(InputError::param(
                    "select",
                    "a field name may hold only ASCII letters, digits, '_' and '.'",
                ));
            }
            if !self.select.contains(&field) {
                self.select.push(field);
            }
        }
        Ok(self)
    }

    /// The task.
    pub fn id(&self) -> TaskId {
        self.id
    }

    /// The selected fields.
    pub fn selected(&self) -> &[String] {
        &self.select
    }
}

impl Method for TaskGet {
    type Output = Task;
    method_identity!(V3, Safe);
    fn params(&self) -> Result<Map<String, Value>, Error> {
        let mut params = Map::new();
        params.insert("id".to_owned(), json!(self.id));
        if !self.select.is_empty() {
            params.insert("select".to_owned(), json!(self.select));
        }
        Ok(params)
    }
    fn decode(&self, result: &RawValue) -> Result<Task, Error> {
        decode_item(result)
    }
}
