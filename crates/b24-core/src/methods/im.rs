//! `im.message.add` (classic).

use std::fmt;

use b24_types::{ChatId, MessageId, UserId};
use serde_json::value::RawValue;
use serde_json::{json, Map, Value};

use super::text::{non_blank, object};
use crate::error::{Error, InputError};
use crate::method::Method;
use crate::response::decode_json;

/// A chat dialog: a group chat (`chat58`) or a private dialog with a user (`1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DialogId {
    /// A group chat, such as a task's chat.
    Chat(ChatId),
    /// A private dialog with a user.
    User(UserId),
}

impl DialogId {
    /// A group chat.
    pub fn chat(id: ChatId) -> Self {
        DialogId::Chat(id)
    }

    /// A private dialog.
    pub fn user(id: UserId) -> Self {
        DialogId::User(id)
    }
}

impl fmt::Display for DialogId {
    /// The wire form: `chat58` or `1`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DialogId::Chat(id) => write!(f, "chat{id}"),
            DialogId::User(id) => write!(f, "{id}"),
        }
    }
}

/// `im.message.add`: posts a message to a dialog and returns its id.
///
/// Body: `{"DIALOG_ID":"chat58","MESSAGE":"..."}`. Output: the new message's id
/// (`{"result":34239}`). Scope `im`. This is how a task-chat message id is obtained
/// for [`TaskResultAddFromChatMessage`](super::TaskResultAddFromChatMessage).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImMessageAdd {
    dialog_id: DialogId,
    message: String,
}

impl ImMessageAdd {
    /// The method name.
    pub const NAME: &'static str = "im.message.add";

    /// A message to `dialog_id`.
    ///
    /// # Errors
    ///
    /// [`InputError::Param`] (`MESSAGE`) when the message is empty or blank.
    pub fn new(dialog_id: DialogId, message: impl Into<String>) -> Result<Self, InputError> {
        Ok(Self {
            dialog_id,
            message: non_blank("MESSAGE", message.into())?,
        })
    }

    /// The dialog.
    pub fn dialog_id(&self) -> DialogId {
        self.dialog_id
    }

    /// The message text.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl Method for ImMessageAdd {
    type Output = MessageId;
    method_identity!(Classic, Unsafe);
    fn params(&self) -> Result<Map<String, Value>, Error> {
        Ok(object([
            ("DIALOG_ID", json!(self.dialog_id.to_string())),
            ("MESSAGE", json!(self.message)),
        ]))
    }
    fn decode(&self, result: &RawValue) -> Result<MessageId, Error> {
        decode_json(result)
    }
}
