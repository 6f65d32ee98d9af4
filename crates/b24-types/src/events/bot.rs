//! The fields of `ONIMBOTMESSAGEADD` a bot needs.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::auth::EventAuth;
use super::slot::{Flag, Slot};
use crate::chat_message::MessageAuthor;
use crate::ids::{ChatId, MessageId, TaskId, UserId};

/// The data of `ONIMBOTMESSAGEADD`: `{BOT, PARAMS, USER}`.
///
/// The event is deprecated in favour of `ONIMBOTV2MESSAGEADD` but still sent. It
/// fires for messages in a private chat with the bot, and in group chats (task chats
/// included) only when the bot is mentioned, or for supervisor and personal bots that
/// are members. It never fires for messages written by a bot.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BotMessageAddData {
    /// Per bot the message is for, keyed by bot id: that bot's tokens.
    #[serde(rename = "BOT", default)]
    pub bot: BTreeMap<String, BotAuth>,
    /// The message.
    #[serde(rename = "PARAMS", default)]
    pub params: BotMessageParams,
    /// The author (absent, or an empty array, for a system message).
    #[serde(rename = "USER", default, skip_serializing_if = "Slot::is_absent")]
    pub user: Slot<BotMessageUser>,
}

/// One entry of `BOT`: the bot's id and code and its tokens.
///
/// The tokens are secret types; keys this version does not model are dropped, never
/// kept, since they may be tokens too.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BotAuth {
    /// The bot's user id.
    #[serde(
        rename = "BOT_ID",
        default,
        deserialize_with = "crate::lenient::opt_id",
        skip_serializing_if = "Option::is_none"
    )]
    pub bot_id: Option<UserId>,
    /// The bot's code.
    #[serde(
        rename = "BOT_CODE",
        default,
        deserialize_with = "super::wire::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub bot_code: Option<String>,
    /// The bot's tokens in the `auth` format.
    #[serde(rename = "AUTH", default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<EventAuth>,
}

/// `PARAMS` of `ONIMBOTMESSAGEADD`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BotMessageParams {
    /// The message id.
    #[serde(
        rename = "MESSAGE_ID",
        default,
        deserialize_with = "crate::lenient::opt_id",
        skip_serializing_if = "Option::is_none"
    )]
    pub message_id: Option<MessageId>,
    /// The text; in group chats the `[USER=n]` mentions are stripped (see
    /// [`BotMessageParams::message_original`]).
    #[serde(
        rename = "MESSAGE",
        default,
        deserialize_with = "super::wire::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub message: Option<String>,
    /// The text with mentions.
    #[serde(
        rename = "MESSAGE_ORIGINAL",
        default,
        deserialize_with = "super::wire::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub message_original: Option<String>,
    /// `chat<id>` for a group chat, the author's user id for a private one.
    #[serde(
        rename = "DIALOG_ID",
        default,
        deserialize_with = "super::wire::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub dialog_id: Option<String>,
    /// The chat.
    #[serde(
        rename = "TO_CHAT_ID",
        default,
        deserialize_with = "crate::lenient::opt_id",
        skip_serializing_if = "Option::is_none"
    )]
    pub to_chat_id: Option<ChatId>,
    /// The chat (group chats only).
    #[serde(
        rename = "CHAT_ID",
        default,
        deserialize_with = "crate::lenient::opt_id",
        skip_serializing_if = "Option::is_none"
    )]
    pub chat_id: Option<ChatId>,
    /// The author ([`MessageAuthor::System`] for `0`).
    #[serde(
        rename = "FROM_USER_ID",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub from_user_id: Option<MessageAuthor>,
    /// The author, again.
    #[serde(rename = "AUTHOR_ID", default, skip_serializing_if = "Option::is_none")]
    pub author_id: Option<MessageAuthor>,
    /// `Y` for a system message.
    #[serde(rename = "SYSTEM", default, skip_serializing_if = "Option::is_none")]
    pub system: Option<Flag>,
    /// The chat type (`P` private, `C` group, `X` external, which task chats are).
    #[serde(
        rename = "MESSAGE_TYPE",
        default,
        deserialize_with = "super::wire::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub message_type: Option<String>,
    /// The chat type again (overwritten with `MESSAGE_TYPE` by the portal).
    #[serde(
        rename = "CHAT_TYPE",
        default,
        deserialize_with = "super::wire::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub chat_type: Option<String>,
    /// The entity the chat belongs to: `TASKS_TASK` for a task's chat.
    #[serde(
        rename = "CHAT_ENTITY_TYPE",
        default,
        deserialize_with = "super::wire::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub chat_entity_type: Option<String>,
    /// The entity id: the task id for a task's chat.
    #[serde(
        rename = "CHAT_ENTITY_ID",
        default,
        deserialize_with = "super::wire::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub chat_entity_id: Option<String>,
    /// The recipient (private chats).
    #[serde(
        rename = "TO_USER_ID",
        default,
        deserialize_with = "crate::lenient::opt_id",
        skip_serializing_if = "Option::is_none"
    )]
    pub to_user_id: Option<UserId>,
    /// The author's language.
    #[serde(
        rename = "LANGUAGE",
        default,
        deserialize_with = "super::wire::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub language: Option<String>,
    /// Fields this version does not model.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

impl BotMessageParams {
    /// True for a system message: `SYSTEM=Y` or author `0`.
    pub fn is_system(&self) -> bool {
        self.system.as_ref().and_then(Flag::as_bool) == Some(true)
            || self
                .author_id
                .or(self.from_user_id)
                .is_some_and(MessageAuthor::is_system)
    }

    /// The author, from `AUTHOR_ID` or `FROM_USER_ID`.
    pub fn author(&self) -> Option<MessageAuthor> {
        self.author_id.or(self.from_user_id)
    }

    /// The task whose chat this is, when it is a task's chat.
    pub fn task_id(&self) -> Option<TaskId> {
        if self.chat_entity_type.as_deref() != Some("TASKS_TASK") {
            return None;
        }
        self.chat_entity_id.as_deref()?.parse().ok()
    }
}

/// `USER` of `ONIMBOTMESSAGEADD`: the author.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BotMessageUser {
    /// The user id.
    #[serde(
        rename = "ID",
        default,
        deserialize_with = "crate::lenient::opt_id",
        skip_serializing_if = "Option::is_none"
    )]
    pub id: Option<UserId>,
    /// Display name.
    #[serde(
        rename = "NAME",
        default,
        deserialize_with = "super::wire::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub name: Option<String>,
    /// `Y` when the author is a bot.
    #[serde(rename = "IS_BOT", default, skip_serializing_if = "Option::is_none")]
    pub is_bot: Option<Flag>,
    /// Fields this version does not model.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}
