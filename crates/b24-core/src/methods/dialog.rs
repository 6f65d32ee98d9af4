//! `im.dialog.messages.get` (classic): reading chat messages, and one message by id.

use b24_types::{ChatMessage, DialogMessages, MessageId};
use serde_json::value::RawValue;
use serde_json::{json, Map, Value};

use super::im::DialogId;
use crate::error::{Error, InputError};
use crate::method::Method;
use crate::response::decode_json;

/// The most messages one call returns.
pub const MAX_DIALOG_PAGE: u32 = 50;

/// Where a page of `im.dialog.messages.get` starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Start {
    /// The newest messages.
    Newest,
    /// `FIRST_ID`: messages with a larger id.
    After(u64),
    /// `LAST_ID`: messages with a smaller id, newest first.
    Before(u64),
}

/// `im.dialog.messages.get`: a page of a chat's messages.
///
/// Body: `{"DIALOG_ID":"chat58","FIRST_ID":334,"LIMIT":1}`. Output: `{chat_id,
/// messages, users, files}` ([`DialogMessages`]); each message has `author_id` `0`
/// for the portal's own notices. The caller must be able to read the chat (a task's
/// chat: a member of the task). Scope `im`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImDialogMessagesGet {
    dialog: DialogId,
    from: Start,
    limit: Option<u32>,
}

impl ImDialogMessagesGet {
    /// The method name.
    pub const NAME: &'static str = "im.dialog.messages.get";

    /// The newest messages of `dialog` (20 unless [`limit`](Self::limit) says).
    pub fn new(dialog: DialogId) -> Self {
        Self {
            dialog,
            from: Start::Newest,
            limit: None,
        }
    }

    /// Messages after `id` (`FIRST_ID`). The portal does not promise their order.
    pub fn after(mut self, id: MessageId) -> Self {
        self.from = Start::After(id.get());
        self
    }

    /// Messages before `id` (`LAST_ID`), newest first.
    pub fn before(mut self, id: MessageId) -> Self {
        self.from = Start::Before(id.get());
        self
    }

    /// At most `limit` messages, 1 to 50.
    ///
    /// # Errors
    ///
    /// [`InputError::Param`] (`LIMIT`) outside 1..=50.
    pub fn limit(mut self, limit: u32) -> Result<Self, InputError> {
        if !(1..=MAX_DIALOG_PAGE).contains(&limit) {
            return Err(InputError::param("LIMIT", "must be 1 to 50"));
        }
        self.limit = Some(limit);
        Ok(self)
    }

    /// The dialog.
    pub fn dialog(&self) -> DialogId {
        self.dialog
    }
}

fn page_params(dialog: DialogId, from: Start, limit: Option<u32>) -> Map<String, Value> {
    let mut p = Map::new();
    p.insert("DIALOG_ID".to_owned(), json!(dialog.to_string()));
    match from {
        Start::Newest => {}
        Start::After(id) => {
            p.insert("FIRST_ID".to_owned(), json!(id));
        }
        Start::Before(id) => {
            p.insert("LAST_ID".to_owned(), json!(id));
        }
    }
    if let Some(limit) = limit {
        p.insert("LIMIT".to_owned(), json!(limit));
    }
    p
}

impl Method for ImDialogMessagesGet {
    type Output = DialogMessages;
    method_identity!(Classic, Safe);
    fn params(&self) -> Result<Map<String, Value>, Error> {
        Ok(page_params(self.dialog, self.from, self.limit))
    }
    fn decode(&self, result: &RawValue) -> Result<DialogMessages, Error> {
        decode_json(result)
    }
}

/// One chat message by id, through `im.dialog.messages.get`.
///
/// There is no "get message" method for apps: this asks for the one message after
/// `id - 1` (`FIRST_ID`, `LIMIT 1`), or, with [`ImMessageGet::from_before`], the one
/// before `id + 1` (`LAST_ID`). The portal does not promise the order of a
/// `FIRST_ID` read, so the answer is checked: a page without message `id` is an
/// [`Error::Decode`] at `result.messages`, never another message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImMessageGet {
    dialog: DialogId,
    id: MessageId,
    before: bool,
}

impl ImMessageGet {
    /// Message `id` of `dialog` (a task's chat: `DialogId::chat(chat_id)`).
    pub fn new(dialog: DialogId, id: MessageId) -> Self {
        Self {
            dialog,
            id,
            before: false,
        }
    }

    /// Reads with `LAST_ID = id + 1` instead, the fallback when a `FIRST_ID` read
    /// brought another message.
    pub fn from_before(mut self) -> Self {
        self.before = true;
        self
    }

    /// The message asked for.
    pub fn id(&self) -> MessageId {
        self.id
    }

    /// The dialog.
    pub fn dialog(&self) -> DialogId {
        self.dialog
    }
}

impl Method for ImMessageGet {
    type Output = ChatMessage;
    fn name(&self) -> &str {
        ImDialogMessagesGet::NAME
    }
    fn api(&self) -> crate::api::Api {
        crate::api::Api::Classic
    }
    fn repeat(&self) -> crate::method::Repeat {
        crate::method::Repeat::Safe
    }
    fn params(&self) -> Result<Map<String, Value>, Error> {
        let id = self.id.get();
        let from = if self.before {
            Start::Before(id.saturating_add(1))
        } else {
            Start::After(id.saturating_sub(1))
        };
        Ok(page_params(self.dialog, from, Some(1)))
    }
    fn decode(&self, result: &RawValue) -> Result<ChatMessage, Error> {
        let page: DialogMessages = decode_json(result)?;
        page.take_message(self.id).map_err(|e| Error::Decode {
            status: 0,
            path: "messages".to_owned(),
            message: e.to_string(),
        })
    }
}
