//! [`TaskResults`]: the task-result family of one portal, and the task-chat helpers
//! that produce the message ids `add_from_chat_message` needs.

use b24_core::methods::{
    DialogId, ImMessageAdd, TaskGet, TaskResultAdd, TaskResultAddFromChatMessage, TaskResultDelete,
    TaskResultList, TaskResultUpdate,
};
use b24_core::Portal;
use b24_types::{ChatId, MessageId, ResultId, TaskId, TaskResult};

use crate::client::Client;
use crate::error::Error;
use crate::list::ResultStream;

/// The task results of one portal: `tasks.task.result.*` (REST 3.0).
///
/// Made by [`Client::task_results`]; cheap to clone.
#[derive(Debug, Clone)]
pub struct TaskResults {
    client: Client,
    portal: Portal,
}

impl Client {
    /// The task-result methods of `portal`.
    pub fn task_results(&self, portal: &Portal) -> TaskResults {
        TaskResults {
            client: self.clone(),
            portal: portal.clone(),
        }
    }

    /// The id of a task's chat: REST 3.0 `tasks.task.get` with `chat.id` selected.
    ///
    /// # Errors
    ///
    /// As [`execute`](Self::execute); [`Error::MissingInReply`] (field `chat.id`) when
    /// the portal's answer names no chat for the task.
    pub async fn task_chat_id(&self, portal: &Portal, task_id: TaskId) -> Result<ChatId, Error> {
        let task = self
            .execute(portal, TaskGet::for_chat(task_id))
            .await?
            .result;
        task.chat_id().ok_or(Error::MissingInReply {
            method: TaskGet::NAME,
            field: "chat.id",
        })
    }

    /// Posts `text` to a task's chat and returns the new message's id: the task's chat
    /// id from `tasks.task.get`, then classic `im.message.add` to `chat{id}`
    /// (`tasks.task.chat.message.send` answers only `true`, without the id).
    ///
    /// # Errors
    ///
    /// As [`task_chat_id`](Self::task_chat_id) and [`execute`](Self::execute).
    pub async fn post_to_task_chat(
        &self,
        portal: &Portal,
        task_id: TaskId,
        text: &str,
    ) -> Result<MessageId, Error> {
        let chat = self.task_chat_id(portal, task_id).await?;
        let add = ImMessageAdd::new(DialogId::chat(chat), text)?;
        Ok(self.execute(portal, add).await?.result)
    }
}

impl TaskResults {
    /// The portal these calls go to.
    pub fn portal(&self) -> &Portal {
        &self.portal
    }

    /// `tasks.task.result.addfromchatmessage`: makes a message of the task's chat the
    /// task's result.
    ///
    /// # Errors
    ///
    /// As [`Client::execute`]; e.g. `ACCESSDENIEDEXCEPTION` (403) when the message
    /// does not exist, is not in a task chat, or its task cannot be read;
    /// [`WriteOutcomeUnknown`](b24_core::Error::WriteOutcomeUnknown) when the write
    /// may have run and the portal has not shown that it honours
    /// `Idempotency-Key` (then [`find_from_message`](Self::find_from_message) tells,
    /// or use [`add_from_chat_message_in_task`](Self::add_from_chat_message_in_task)).
    pub async fn add_from_chat_message(&self, message_id: MessageId) -> Result<TaskResult, Error> {
        let method = TaskResultAddFromChatMessage::new(message_id);
        Ok(self.client.execute(&self.portal, method).await?.result)
    }

    /// [`add_from_chat_message`](Self::add_from_chat_message) for a message of
    /// `task_id`'s chat, reconciled: when the outcome is unknown (the write may have
    /// run, and the portal has not shown that it honours `Idempotency-Key`, so
    /// repeating it could make a second result), the task's results are read:
    ///
    /// - a result made from the message means the write ran: it is returned;
    /// - none, once every attempt has surely finished (the retry policy's in-flight
    ///   grace after the call ended), proves that it did not run: the write is sent
    ///   again (at most twice in all).
    ///
    /// A result made from the same message before this call counts as made by it: a
    /// message is rarely meant to become two results.
    ///
    /// # Errors
    ///
    /// As [`add_from_chat_message`](Self::add_from_chat_message), and as
    /// [`list`](Self::list) for the reads.
    pub async fn add_from_chat_message_in_task(
        &self,
        task_id: TaskId,
        message_id: MessageId,
    ) -> Result<TaskResult, Error> {
        use b24_core::reconcile::{Reconcile, ReconcileStep};
        let now = || b24_core::engine::Timestamp::from_system_time(std::time::SystemTime::now());
        let mut reconcile = Reconcile::new(self.client.inner.settings.policy.in_flight_grace);
        let mut step = reconcile.start();
        let mut unknown = None;
        let mut found = None;
        loop {
            step = match step {
                ReconcileStep::Send => match self.add_from_chat_message(message_id).await {
                    Err(Error::Core(e @ b24_core::Error::WriteOutcomeUnknown { .. })) => {
                        unknown = Some(e);
                        reconcile.unknown(now())
                    }
                    other => return other,
                },
                ReconcileStep::WaitThenRead { until } => {
                    tokio::time::sleep(b24_core::engine::wait_duration(now(), until)).await;
                    ReconcileStep::Read
                }
                ReconcileStep::Read => {
                    found = self.find_from_message(task_id, message_id).await?;
                    reconcile.read(found.is_some(), now())
                }
                ReconcileStep::Found => {
                    if let Some(result) = found.take() {
                        return Ok(result);
                    }
                    ReconcileStep::Read
                }
                _ => {
                    return Err(match unknown.take() {
                        Some(e) => Error::Core(e),
                        None => Error::Core(b24_core::Error::ExchangeMisuse(
                            "reconcile: gave up before any send",
                        )),
                    })
                }
            };
        }
    }

    /// The result of `task_id` made from `message_id`, if there is one: the check to
    /// run after [`add_from_chat_message`](Self::add_from_chat_message) ended with
    /// [`WriteOutcomeUnknown`](b24_core::Error::WriteOutcomeUnknown). Reads every
    /// result of the task (keyset paging).
    ///
    /// # Errors
    ///
    /// As [`list`](Self::list).
    pub async fn find_from_message(
        &self,
        task_id: TaskId,
        message_id: MessageId,
    ) -> Result<Option<TaskResult>, Error> {
        let mut results = self.list(TaskResultList::for_task(task_id));
        while let Some(result) = results.next().await {
            let result = result?;
            if result.message_id == Some(message_id) {
                return Ok(Some(result));
            }
        }
        Ok(None)
    }

    /// `tasks.task.result.add`: adds a result with this text to a task.
    ///
    /// # Errors
    ///
    /// As [`Client::execute`]; an empty text is refused before sending.
    pub async fn add(&self, task_id: TaskId, text: &str) -> Result<TaskResult, Error> {
        let method = TaskResultAdd::new(task_id, text)?;
        Ok(self.client.execute(&self.portal, method).await?.result)
    }

    /// `tasks.task.result.update`: replaces a result's text (only its author may).
    ///
    /// # Errors
    ///
    /// As [`Client::execute`]; an empty text is refused before sending.
    pub async fn update(&self, id: ResultId, text: &str) -> Result<TaskResult, Error> {
        let method = TaskResultUpdate::new(id, text)?;
        Ok(self.client.execute(&self.portal, method).await?.result)
    }

    /// `tasks.task.result.delete`: deletes a result (only its author may). `true` when
    /// the portal reports it deleted.
    ///
    /// # Errors
    ///
    /// As [`Client::execute`].
    pub async fn delete(&self, id: ResultId) -> Result<bool, Error> {
        let method = TaskResultDelete::new(id);
        Ok(self.client.execute(&self.portal, method).await?.result)
    }

    /// One page of `tasks.task.result.list`, exactly as asked.
    ///
    /// # Errors
    ///
    /// As [`Client::execute`].
    pub async fn list_page(&self, query: TaskResultList) -> Result<Vec<TaskResult>, Error> {
        Ok(self.client.execute(&self.portal, query).await?.result)
    }

    /// Every result matching `query`, as a stream, fetched page by page with keyset
    /// paging (`order {id: ASC}`, `id > last`).
    ///
    /// The stream ends on an empty page, never on a short one: the portal caps page
    /// sizes silently, so a page shorter than the requested limit does not mean the
    /// end. A page that brings nothing past the previous one ends it with
    /// [`Error::Paging`]. The query's filter, select and limit are kept; its order,
    /// offset and page are replaced by the keyset. A query with
    /// [`TaskResultList::after_id`] starts after that id. An error ends the stream
    /// after it is yielded. See [`ResultStream`] for the details.
    pub fn list(&self, query: TaskResultList) -> ResultStream {
        ResultStream::new(self.client.clone(), self.portal.clone(), query)
    }
}
