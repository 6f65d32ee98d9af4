//! The data the benchmarks work on: portals, methods and server answers, made with
//! the b24-types serialisation so they have the shape a portal sends.

use b24_core::bytes::Bytes;
use b24_core::{IdempotencyKey, Portal};
use b24_types::{
    AccessToken, DateTime, Envelope, FileId, ItemResult, ItemsResult, MessageId, ResultId,
    ResultRights, ResultStatus, TaskId, TaskResult, Time, UserId,
};
use http::header::CONTENT_TYPE;

use crate::error::{BenchError, Context};

/// A webhook portal on a made-up host (never contacted).
pub const WEBHOOK_URL: &str = "https://example.bitrix24.com/rest/1/q7w3e9r1t5y8u2i4/";
/// An OAuth portal on a made-up host (never contacted).
pub const OAUTH_URL: &str = "https://example.bitrix24.com/";
/// The unix time the canned answers say they were made at.
pub const ANSWER_UNIX: i64 = 1_777_529_700;
/// The portal's UTC offset in the canned answers.
const UTC_OFFSET: i32 = 7200;

/// The webhook portal.
///
/// # Errors
///
/// Never in practice (the URL is a constant); reported rather than unwrapped.
pub fn webhook_portal() -> Result<Portal, BenchError> {
    Portal::webhook(WEBHOOK_URL).context("webhook portal")
}

/// The OAuth portal.
///
/// # Errors
///
/// As [`webhook_portal`].
pub fn oauth_portal() -> Result<Portal, BenchError> {
    Portal::oauth(OAUTH_URL).context("OAuth portal")
}

/// An access token of the usual length (made up).
pub fn access_token() -> AccessToken {
    AccessToken::new("7f3c2a9e5d0b4c1a8e6f2d9b3a7c5e1f0d4b8a2c6e9f1b3d5a7c9e2f4b6d8a0c")
}

/// A fixed idempotency key, as the engine would send on a REST 3.0 write.
///
/// # Errors
///
/// As [`webhook_portal`].
pub fn idempotency_key() -> Result<IdempotencyKey, BenchError> {
    IdempotencyKey::new("3f9a0c4e7b2d8e1f6a5c9b0d4e7f2a1c").context("idempotency key")
}

/// The message whose result the write benchmarks create.
///
/// # Errors
///
/// As [`webhook_portal`].
pub fn message_id() -> Result<MessageId, BenchError> {
    MessageId::new(335).context("message id")
}

/// The task every benchmark works on.
///
/// # Errors
///
/// As [`webhook_portal`].
pub fn task_id() -> Result<TaskId, BenchError> {
    TaskId::new(51).context("task id")
}

/// The `time` object of a canned answer.
pub fn answer_time() -> Time {
    let mut time = Time::new();
    #[allow(clippy::cast_precision_loss)]
    let start = ANSWER_UNIX as f64;
    time.start = Some(start);
    time.finish = Some(start + 0.043_127);
    time.duration = Some(0.043_127);
    time.processing = Some(0.041);
    time.date_start = Some(
        DateTime::from_unix(ANSWER_UNIX, UTC_OFFSET)
            .as_str()
            .to_owned(),
    );
    time.date_finish = time.date_start.clone();
    time.operating_reset_at = Some(start + 600.0);
    time.operating = Some(0.0);
    time
}

/// Result `index` of task 51, with every field a list returns by default.
///
/// # Errors
///
/// As [`webhook_portal`].
pub fn task_result(index: u64) -> Result<TaskResult, BenchError> {
    let mut r = TaskResult::new(ResultId::new(17 + index).context("result id")?);
    r.task_id = Some(task_id()?);
    r.text = Some(format!(
        "Result {}: checked the figures of section {} against the supplier's invoice \
         and attached the summary to the task chat",
        index + 1,
        index % 7 + 1
    ));
    r.author_id = Some(UserId::new(1 + index % 3).context("user id")?);
    let created = ANSWER_UNIX - 86_400 + i64::try_from(index).unwrap_or(0) * 600;
    r.created_at = Some(DateTime::from_unix(created, UTC_OFFSET));
    if index.is_multiple_of(4) {
        r.updated_at = Some(DateTime::from_unix(created + 300, UTC_OFFSET));
    }
    r.status = Some(if index.is_multiple_of(5) {
        ResultStatus::Closed
    } else {
        ResultStatus::Open
    });
    r.file_ids = Some(if index.is_multiple_of(6) {
        vec![FileId::new(900 + index).context("file id")?]
    } else {
        Vec::new()
    });
    r.rights = Some(ResultRights::new(true, index.is_multiple_of(2)));
    if index.is_multiple_of(2) {
        r.message_id = Some(MessageId::new(34_239 + index).context("message id")?);
    }
    Ok(r)
}

/// The body of a `tasks.task.result.list` answer with `count` results.
///
/// # Errors
///
/// As [`webhook_portal`].
pub fn list_body(count: u64) -> Result<Bytes, BenchError> {
    let items = (0..count).map(task_result).collect::<Result<Vec<_>, _>>()?;
    let envelope = Envelope::new(ItemsResult::new(items), Some(answer_time()));
    serde_json::to_vec(&envelope)
        .map(Bytes::from)
        .context("list body")
}

/// The body of an `addfromchatmessage` answer (the new result).
///
/// # Errors
///
/// As [`webhook_portal`].
pub fn item_body() -> Result<Bytes, BenchError> {
    let mut item = task_result(1)?;
    item.message_id = Some(message_id()?);
    let envelope = Envelope::new(ItemResult::new(item), Some(answer_time()));
    serde_json::to_vec(&envelope)
        .map(Bytes::from)
        .context("item body")
}

/// A 200 answer with a JSON body, as a transport hands it over.
///
/// # Errors
///
/// As [`webhook_portal`].
pub fn ok_response(body: Bytes) -> Result<http::Response<Bytes>, BenchError> {
    http::Response::builder()
        .status(200)
        .header(CONTENT_TYPE, "application/json; charset=utf-8")
        .body(body)
        .context("response")
}
