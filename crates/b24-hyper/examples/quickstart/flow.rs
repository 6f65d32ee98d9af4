//! The quickstart's flow: from a task's chat message to a task result and back.
//!
//! Shared by `main.rs` (run as `cargo run -p b24-hyper --example quickstart`) and by
//! the test suite, which runs it against the emulator.

use std::io::Write;

use b24_core::methods::{DialogId, ImMessageAdd, TaskResultList};
use b24_core::Portal;
use b24_hyper::{Client, Error};
use b24_types::{MessageId, ResultId, TaskId};

/// What the flow did, for checking.
#[derive(Debug)]
pub(crate) struct Summary {
    /// The message posted to the task's chat.
    pub message_id: MessageId,
    /// The result made from it (deleted again at the end).
    pub result_id: ResultId,
    /// How many results the task had when listed.
    pub listed: usize,
}

/// Why the flow stopped.
#[derive(Debug)]
pub(crate) enum FlowError {
    /// A call failed.
    Call(Error),
    /// Writing the report failed.
    Io(std::io::Error),
}

impl From<Error> for FlowError {
    fn from(e: Error) -> Self {
        FlowError::Call(e)
    }
}

impl From<std::io::Error> for FlowError {
    fn from(e: std::io::Error) -> Self {
        FlowError::Io(e)
    }
}

impl std::fmt::Display for FlowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FlowError::Call(e) => write!(f, "{e}"),
            FlowError::Io(e) => write!(f, "{e}"),
        }
    }
}

/// Walks the flow on `task_id`, reporting each step to `out`.
pub(crate) async fn run(
    client: &Client,
    portal: &Portal,
    task_id: TaskId,
    out: &mut impl Write,
) -> Result<Summary, FlowError> {
    writeln!(out, "portal: {portal}")?;

    // 1. The task's chat (REST 3.0 tasks.task.get, select chat.id).
    let chat = client.task_chat_id(portal, task_id).await?;
    writeln!(out, "1. task {task_id} talks in chat {chat}")?;

    // 2. Post a message there (classic im.message.add answers with the message id).
    let post = ImMessageAdd::new(DialogId::chat(chat), "Work finished: report attached")
        .map_err(|e| Error::Core(e.into()))?;
    let message_id = client.execute(portal, post).await?.result;
    writeln!(out, "2. posted message {message_id} to chat{chat}")?;

    // 3. Make that message the task's result.
    let results = client.task_results(portal);
    let created = results.add_from_chat_message(message_id).await?;
    writeln!(
        out,
        "3. result {} created from message {message_id}: {:?}",
        created.id,
        created.text.as_deref().unwrap_or("")
    )?;

    // 4. List the task's results (a stream over keyset pages).
    let mut stream = results.list(TaskResultList::for_task(task_id));
    let mut listed = 0;
    writeln!(out, "4. results of task {task_id}:")?;
    while let Some(item) = next(&mut stream).await {
        let item = item?;
        listed += 1;
        writeln!(
            out,
            "   - {} {:?} (from message {})",
            item.id,
            item.text.as_deref().unwrap_or(""),
            item.message_id
                .map_or_else(|| "-".to_owned(), |m| m.to_string())
        )?;
    }

    // 5. Update its text.
    let updated = results
        .update(created.id, "Work finished: report attached and approved")
        .await?;
    writeln!(
        out,
        "5. result {} now reads {:?}",
        updated.id,
        updated.text.as_deref().unwrap_or("")
    )?;

    // 6. Delete it.
    let deleted = results.delete(created.id).await?;
    writeln!(out, "6. result {} deleted: {deleted}", created.id)?;

    Ok(Summary {
        message_id,
        result_id: created.id,
        listed,
    })
}

/// The next item of a stream (what `StreamExt::next` does in the futures crate).
async fn next<S: futures_core::Stream + Unpin>(stream: &mut S) -> Option<S::Item> {
    std::future::poll_fn(|cx| std::pin::Pin::new(&mut *stream).poll_next(cx)).await
}
