//! Chat messages as classic `im.dialog.messages.get` returns them.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize, Serializer};

use crate::datetime::DateTime;
use crate::ids::{ChatId, MessageId, UserId};

/// Who wrote a chat message: a user, or the system (author id `0`).
///
/// System messages are the notices the portal posts itself, such as the one a task
/// chat gets when a result is made from a message. A bot that reacts to chat messages
/// must skip them, or it reacts to its own side effects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageAuthor {
    /// A system notice (author id `0`).
    System,
    /// A portal user.
    User(UserId),
}

impl MessageAuthor {
    /// The user, or `None` for a system notice.
    pub fn user(self) -> Option<UserId> {
        match self {
            MessageAuthor::System => None,
            MessageAuthor::User(id) => Some(id),
        }
    }

    /// True for a system notice.
    pub fn is_system(self) -> bool {
        matches!(self, MessageAuthor::System)
    }

    /// The id as the wire sends it (`0` for the system).
    pub fn as_u64(self) -> u64 {
        self.user().map_or(0, UserId::get)
    }
}

impl fmt::Display for MessageAuthor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MessageAuthor::System => f.write_str("system"),
            MessageAuthor::User(id) => write!(f, "user {id}"),
        }
    }
}

impl Serialize for MessageAuthor {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(self.as_u64())
    }
}

impl<'de> Deserialize<'de> for MessageAuthor {
    /// `0`, `"0"`, `""` and `null` are the system; a positive number or numeric
    /// string is a user.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match crate::events::wire::opt_u64(d)? {
            None | Some(0) => Ok(MessageAuthor::System),
            Some(id) => UserId::new(id)
                .map(MessageAuthor::User)
                .map_err(de::Error::custom),
        }
    }
}

/// One message of `im.dialog.messages.get`.
///
/// Keys are lower case on this classic method. Fields this version does not model are
/// kept in [`ChatMessage::extra`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ChatMessage {
    /// The message id.
    pub id: MessageId,
    /// The chat it belongs to.
    #[serde(
        default,
        deserialize_with = "crate::lenient::opt_id",
        skip_serializing_if = "Option::is_none"
    )]
    pub chat_id: Option<ChatId>,
    /// Its author; [`MessageAuthor::System`] for notices the portal posted itself.
    #[serde(default = "system_author")]
    pub author_id: MessageAuthor,
    /// When it was sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<DateTime>,
    /// The text, as the portal renders it (BB-codes parsed).
    #[serde(default, deserialize_with = "text_or_empty")]
    pub text: String,
    /// The message's UUID, when it has one.
    #[serde(
        default,
        deserialize_with = "crate::events::wire::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub uuid: Option<String>,
    /// Message parameters (files, attachments, ...), as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<serde_json::Value>,
    /// Fields this version does not model.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

fn system_author() -> MessageAuthor {
    MessageAuthor::System
}

fn text_or_empty<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    crate::events::wire::opt_text(d).map(Option::unwrap_or_default)
}

impl ChatMessage {
    /// A message with only its id, author and text set.
    pub fn new(id: MessageId, author_id: MessageAuthor, text: impl Into<String>) -> Self {
        Self {
            id,
            chat_id: None,
            author_id,
            date: None,
            text: text.into(),
            uuid: None,
            params: None,
            extra: BTreeMap::new(),
        }
    }
}

/// A user listed beside the messages of `im.dialog.messages.get`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DialogUser {
    /// The user id (`0` or absent reads as `None`).
    #[serde(
        default,
        deserialize_with = "crate::lenient::opt_id",
        skip_serializing_if = "Option::is_none"
    )]
    pub id: Option<UserId>,
    /// Display name.
    #[serde(
        default,
        deserialize_with = "crate::events::wire::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub name: Option<String>,
    /// Fields this version does not model (`first_name`, `bot`, `avatar`, ...).
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

/// The answer of `im.dialog.messages.get`: `{chat_id, messages, users, files}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DialogMessages {
    /// The chat.
    #[serde(
        default,
        deserialize_with = "crate::lenient::opt_id",
        skip_serializing_if = "Option::is_none"
    )]
    pub chat_id: Option<ChatId>,
    /// The messages, in the order the portal sent them.
    #[serde(default, deserialize_with = "seq_or_map")]
    pub messages: Vec<ChatMessage>,
    /// The authors of those messages.
    #[serde(default, deserialize_with = "seq_or_map")]
    pub users: Vec<DialogUser>,
    /// Files attached to those messages, as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files: Option<serde_json::Value>,
}

/// The message asked for was not in an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MessageNotFound {
    /// The id asked for.
    pub wanted: MessageId,
    /// The ids the answer held instead.
    pub got: Vec<MessageId>,
}

impl fmt::Display for MessageNotFound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "message {} is not in the answer", self.wanted)?;
        if !self.got.is_empty() {
            let got: Vec<String> = self.got.iter().map(ToString::to_string).collect();
            write!(f, " (it holds {})", got.join(", "))?;
        }
        Ok(())
    }
}

impl std::error::Error for MessageNotFound {}

impl DialogMessages {
    /// The message with id `id`, checked: a page asked for one message may hold
    /// another (the portal does not promise the order of a `FIRST_ID` read).
    ///
    /// # Errors
    ///
    /// [`MessageNotFound`] when no message of the answer has that id.
    pub fn take_message(self, id: MessageId) -> Result<ChatMessage, MessageNotFound> {
        let got: Vec<MessageId> = self.messages.iter().map(|m| m.id).collect();
        self.messages
            .into_iter()
            .find(|m| m.id == id)
            .ok_or(MessageNotFound { wanted: id, got })
    }
}

/// A list that PHP may have written as an array or as an object keyed by id (or as
/// an empty array for "none"); `null` is empty.
fn seq_or_map<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    let value = serde_json::Value::deserialize(d)?;
    let items = match value {
        serde_json::Value::Null => return Ok(Vec::new()),
        serde_json::Value::Array(items) => items,
        serde_json::Value::Object(map) => map.into_iter().map(|(_, v)| v).collect(),
        _ => return Err(de::Error::custom("expected a list")),
    };
    items
        .into_iter()
        .map(|v| serde_json::from_value(v).map_err(de::Error::custom))
        .collect()
}
