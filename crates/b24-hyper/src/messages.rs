//! Reading one chat message by id: what an `ONTASKCOMMENTADD` handler needs, since
//! the event carries the message id but neither its text nor its author.

use b24_core::methods::{DialogId, ImMessageGet};
use b24_core::Portal;
use b24_types::{ChatId, ChatMessage, MessageId, TaskId};

use crate::client::Client;
use crate::error::Error;

impl Client {
    /// Message `id` of chat `chat`, checked to be that message.
    ///
    /// Classic `im.dialog.messages.get` with `FIRST_ID = id - 1, LIMIT = 1`; the
    /// portal does not promise the order of such a read, so when the answer holds
    /// another message the call is made again with `LAST_ID = id + 1`. The caller
    /// must be able to read the chat (for a task's chat: a member of the task).
    ///
    /// # Errors
    ///
    /// As [`execute`](Self::execute); `Error::Core(b24_core::Error::Decode { .. })`
    /// at `result.messages` when neither read brought the message (deleted, or
    /// hidden from the caller).
    pub async fn chat_message(
        &self,
        portal: &Portal,
        chat: ChatId,
        id: MessageId,
    ) -> Result<ChatMessage, Error> {
        let first = ImMessageGet::new(DialogId::chat(chat), id);
        match self.execute(portal, first.clone()).await {
            Ok(reply) => Ok(reply.result),
            Err(Error::Core(b24_core::Error::Decode { path, .. }))
                if path.ends_with("messages") =>
            {
                Ok(self.execute(portal, first.from_before()).await?.result)
            }
            Err(e) => Err(e),
        }
    }

    /// Message `id` of the chat of task `task`: [`task_chat_id`](Self::task_chat_id)
    /// then [`chat_message`](Self::chat_message).
    ///
    /// # Errors
    ///
    /// As those two.
    pub async fn task_chat_message(
        &self,
        portal: &Portal,
        task: TaskId,
        id: MessageId,
    ) -> Result<ChatMessage, Error> {
        let chat = self.task_chat_id(portal, task).await?;
        self.chat_message(portal, chat, id).await
    }
}
