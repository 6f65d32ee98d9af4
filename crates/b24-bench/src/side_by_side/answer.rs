//! The one answer the fixed-answer server gives, the request every client sends, and
//! the typed struct the reqwest baseline decodes the answer into.

use b24_core::bytes::Bytes;
use b24_core::methods::TaskResultAddFromChatMessage;
use b24_core::{build_request, Portal, RequestOptions};
use serde::Deserialize;

use crate::error::{BenchError, Context};
use crate::fixtures;

/// The documented REST 3.0 answer of `tasks.task.result.addfromchatmessage`: result 18
/// of task 51, made from chat message 335.
pub const ANSWER_BODY: &str = r#"{"result":{"item":{"id":18,"taskId":51,"text":"Task work completed","authorId":1,"createdAt":"2026-04-30T10:25:00+02:00","updatedAt":null,"status":"open","fileIds":[],"rights":{"edit":true,"remove":true},"messageId":335}},"time":{"start":1777530300.1,"finish":1777530300.2,"duration":0.1,"processing":0.05,"date_start":"2026-04-30T10:25:00+02:00","date_finish":"2026-04-30T10:25:00+02:00","operating_reset_at":1777530900,"operating":0}}"#;

/// The id of the result in [`ANSWER_BODY`].
pub const RESULT_ID: u64 = 18;
/// The task of the result in [`ANSWER_BODY`].
pub const TASK_ID: u64 = 51;
/// The chat message every client makes a result from.
pub const MESSAGE_ID: u64 = 335;

/// The `User-Agent` every client sends.
pub const USER_AGENT: &str = "b24-bench-side-by-side/1.0";

/// The webhook secret of the made-up portal the clients call (never printed).
const SECRET: &str = "s1d3by51d3b3nch0";

/// The portal URL on the fixed-answer server at `port`.
pub(crate) fn portal_url(port: u16) -> String {
    format!("https://localhost:{port}/rest/1/{SECRET}/")
}

/// The webhook portal on the fixed-answer server at `port`.
///
/// # Errors
///
/// Never in practice (the URL is made here); reported rather than unwrapped.
pub fn portal(port: u16) -> Result<Portal, BenchError> {
    Portal::webhook(&portal_url(port)).context("side-by-side portal")
}

/// The request the bare clients send on every call: exactly what b24-hyper sends for
/// `add_from_chat_message(335)` on the same portal (path, JSON body, `Content-Type`,
/// `User-Agent`), with a fixed `Idempotency-Key` of the same length as the engine's,
/// built once by the core.
///
/// # Errors
///
/// The portal or the request cannot be built.
pub fn bare_request(port: u16) -> Result<http::Request<Bytes>, BenchError> {
    let method = TaskResultAddFromChatMessage::new(fixtures::message_id()?);
    build_request(
        &portal(port)?,
        &method,
        &RequestOptions::new()
            .idempotency_key(fixtures::idempotency_key()?)
            .user_agent(USER_AGENT),
    )
    .context("build the bare request")
}

/// The answer as the reqwest baseline decodes it: every field, typed.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct AnswerEnvelope {
    /// `result`.
    pub result: AnswerResult,
    /// `time`.
    pub time: AnswerTime,
}

/// `result` of the answer.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct AnswerResult {
    /// `result.item`.
    pub item: AnswerItem,
}

/// The task result in the answer.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AnswerItem {
    /// The result id.
    pub id: u64,
    /// The task.
    pub task_id: u64,
    /// The text.
    pub text: String,
    /// The author.
    pub author_id: u64,
    /// Created at (ISO 8601, kept as text).
    pub created_at: String,
    /// Updated at.
    pub updated_at: Option<String>,
    /// `open` or `closed`.
    pub status: String,
    /// Attached files.
    pub file_ids: Vec<u64>,
    /// The caller's rights.
    pub rights: AnswerRights,
    /// The chat message it was made from.
    pub message_id: u64,
}

/// `rights` of the item.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct AnswerRights {
    /// May edit.
    pub edit: bool,
    /// May remove.
    pub remove: bool,
}

/// The `time` object.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct AnswerTime {
    /// Start, unix seconds.
    pub start: f64,
    /// Finish, unix seconds.
    pub finish: f64,
    /// Duration, seconds.
    pub duration: f64,
    /// Processing, seconds.
    pub processing: f64,
    /// Start, ISO 8601.
    pub date_start: String,
    /// Finish, ISO 8601.
    pub date_finish: String,
    /// When the operating budget resets, unix seconds.
    pub operating_reset_at: u64,
    /// Operating time used, seconds.
    pub operating: f64,
}

/// [`ANSWER_BODY`] decoded into the typed struct, to compare answers with.
///
/// # Errors
///
/// Never in practice (the body is a constant).
pub fn expected_envelope() -> Result<AnswerEnvelope, BenchError> {
    serde_json::from_str(ANSWER_BODY).context("decode the fixed answer")
}

/// [`ANSWER_BODY`] as an untyped value, to compare answers with.
///
/// # Errors
///
/// Never in practice (the body is a constant).
pub fn expected_value() -> Result<serde_json::Value, BenchError> {
    serde_json::from_str(ANSWER_BODY).context("decode the fixed answer")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answer_decodes_and_has_the_documented_size() {
        let env = expected_envelope().unwrap();
        assert_eq!(env.result.item.id, RESULT_ID);
        assert_eq!(env.result.item.task_id, TASK_ID);
        assert_eq!(env.result.item.message_id, MESSAGE_ID);
        assert!((400..500).contains(&ANSWER_BODY.len()));
        assert!(expected_value().is_ok());
    }

    #[test]
    fn the_bare_request_is_what_b24_sends() {
        let req = bare_request(8443).unwrap();
        assert_eq!(req.method(), http::Method::POST);
        assert_eq!(req.uri().host(), Some("localhost"));
        assert!(req
            .uri()
            .path()
            .ends_with("tasks.task.result.addfromchatmessage"));
        assert!(req.headers().contains_key("idempotency-key"));
        assert!(!req.body().is_empty());
    }
}
