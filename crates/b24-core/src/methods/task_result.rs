//! `tasks.task.result.add`, `addfromchatmessage`, `update`, `delete` (REST 3.0).

use b24_types::{MessageId, ResultId, TaskId, TaskResult, Time};
use serde_json::value::RawValue;
use serde_json::{json, Map, Value};

use super::text::{decode_bool, decode_item, non_blank, object, task_text, task_text_params};
use crate::error::{Error, InputError};
use crate::method::Method;

/// `tasks.task.result.add`: adds a result with the given text to a task.
///
/// Body: `{"fields":{"taskId":51,"text":"Task completed"}}`. Output: the new result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskResultAdd {
    task_id: TaskId,
    text: String,
}

impl TaskResultAdd {
    /// The method name.
    pub const NAME: &'static str = "tasks.task.result.add";

    /// A result for `task_id` with `text`.
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

impl Method for TaskResultAdd {
    type Output = TaskResult;
    method_identity!(V3, Unsafe);
    fn params(&self) -> Result<Map<String, Value>, Error> {
        Ok(task_text_params(self.task_id, &self.text))
    }
    fn decode(&self, result: &RawValue) -> Result<TaskResult, Error> {
        decode_item(result)
    }
    fn decode_body(&self, body: &[u8]) -> Option<(TaskResult, Option<Time>)> {
        crate::response::decode_item_body(body)
    }
}

/// `tasks.task.result.addfromchatmessage`: turns a message of a task's chat into
/// that task's result.
///
/// Body: `{"fields":{"messageId":335}}`. Output: the new result, always `open`, with
/// `updatedAt` equal to `createdAt`. A missing message, a message outside a task chat
/// and a task the user cannot read all answer 403 `ACCESSDENIEDEXCEPTION` (one access
/// rule on the server). The server does not de-duplicate: the same message made into
/// a result twice is two results, which is why an unknown outcome is settled by
/// reading rather than by repeating (`b24-hyper`'s `add_from_chat_message_in_task`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskResultAddFromChatMessage {
    message_id: MessageId,
}

impl TaskResultAddFromChatMessage {
    /// The method name.
    pub const NAME: &'static str = "tasks.task.result.addfromchatmessage";

    /// A call for the given message.
    pub fn new(message_id: MessageId) -> Self {
        Self { message_id }
    }

    /// The message.
    pub fn message_id(&self) -> MessageId {
        self.message_id
    }
}

impl Method for TaskResultAddFromChatMessage {
    type Output = TaskResult;
    method_identity!(V3, Unsafe);
    fn params(&self) -> Result<Map<String, Value>, Error> {
        Ok(object([(
            "fields",
            json!({ "messageId": self.message_id }),
        )]))
    }
    fn body_json(&self) -> Result<Vec<u8>, Error> {
        // The centre of the API, written without a `Value` on the way.
        Ok(format!(r#"{{"fields":{{"messageId":{}}}}}"#, self.message_id.get()).into_bytes())
    }
    fn decode(&self, result: &RawValue) -> Result<TaskResult, Error> {
        decode_item(result)
    }
    fn decode_body(&self, body: &[u8]) -> Option<(TaskResult, Option<Time>)> {
        crate::response::decode_item_body(body)
    }
}

/// `tasks.task.result.update`: replaces a result's text (only its author may).
///
/// Body: `{"id":17,"fields":{"text":"..."}}`. Output: the updated result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskResultUpdate {
    id: ResultId,
    text: String,
}

impl TaskResultUpdate {
    /// The method name.
    pub const NAME: &'static str = "tasks.task.result.update";

    /// A call setting result `id`'s text.
    ///
    /// # Errors
    ///
    /// [`InputError::Param`] (`fields.text`) when the text is empty or blank.
    pub fn new(id: ResultId, text: impl Into<String>) -> Result<Self, InputError> {
        Ok(Self {
            id,
            text: non_blank("fields.text", text.into())?,
        })
    }

    /// The result.
    pub fn id(&self) -> ResultId {
        self.id
    }

    /// The new text.
    pub fn text(&self) -> &str {
        &self.text
    }
}

impl Method for TaskResultUpdate {
    type Output = TaskResult;
    method_identity!(V3, Unsafe);
    fn params(&self) -> Result<Map<String, Value>, Error> {
        Ok(object([
            ("id", json!(self.id)),
            ("fields", json!({ "text": self.text })),
        ]))
    }
    fn decode(&self, result: &RawValue) -> Result<TaskResult, Error> {
        decode_item(result)
    }
    fn decode_body(&self, body: &[u8]) -> Option<(TaskResult, Option<Time>)> {
        crate::response::decode_item_body(body)
    }
}

/// `tasks.task.result.delete`: deletes a result (only its author may).
///
/// Body: `{"id":17}`. Output: `true` when deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskResultDelete {
    id: ResultId,
}

impl TaskResultDelete {
    /// The method name.
    pub const NAME: &'static str = "tasks.task.result.delete";

    /// A call deleting result `id`.
    pub fn new(id: ResultId) -> Self {
        Self { id }
    }

    /// The result.
    pub fn id(&self) -> ResultId {
        self.id
    }
}

impl Method for TaskResultDelete {
    type Output = bool;
    method_identity!(V3, Unsafe);
    fn params(&self) -> Result<Map<String, Value>, Error> {
        Ok(object([("id", json!(self.id))]))
    }
    fn decode(&self, result: &RawValue) -> Result<bool, Error> {
        decode_bool(result)
    }
}
