//! `tasks.task.chat.message.send` (REST 3.0).

use b24_types::TaskId;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::text::{decode_bool, task_text, task_text_params};
use crate::error::{Error, InputError};
use crate::method::Method;

/// `tasks.task.chat.message.send`: posts a message to a task's chat.
///
/// Body: `{"fields":{"taskId":51,"text":"..."}}`. Output: `true`. The server does
/// not return the new message's id; use [`ImMessageAdd`](super::ImMessageAdd) with the
/// task's chat when the id is needed (for a result made from the message).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskChatMessageSend {
    task_id: TaskId,
    text: String,
}

impl TaskChatMessageSend {
    /// The method name.
    pub const NAME: &'static str = "tasks.task.chat.message.send";

    /// A message with `text` to the chat of `task_id`.
    ///
    /// # Errors
    ///
    /// [`InputError::Param`] (`fields.text`) when the text is empty or blank.
    pub fn new(task_id: TaskId, text: impl Into<String>) -> Result<Self, InputError> {
        Ok(Self {
            task_id,
            text: task_text(text.into())?,
        })
    }

    /// The task.
    pub fn task_id(&self) -> TaskId {
        self.task_id
    }

    /// The text.
    pub fn text(&self) -> &str {
        &self.text
    }
}

impl Method for TaskChatMessageSend {
    type Output = bool;
    method_identity!(V3, Unsafe);
    fn params(&self) -> Result<Map<String, Value>, Error> {
        Ok(task_text_params(self.task_id, &self.text))
    }
    fn decode(&self, result: &RawValue) -> Result<bool, Error> {
        decode_bool(result)
    }
}
