//! Data types of the Bitrix24 REST API: what travels between a client and a portal.
//!
//! This crate holds ids, DTOs, the `time` object, error codes, the error model and
//! secret types. It depends on serde (and serde_json for open-ended values) only: no
//! HTTP, no IO, so it can be shared by the sans-IO core, transports and test servers.
//!
//! Everything that comes from a server is read leniently where the documentation says
//! a shape may vary: ids arrive as numbers or numeric strings, unknown error codes and
//! statuses are kept as [`ErrorCode::Other`] / [`ResultStatus::Other`], every field
//! of [`Time`] is optional.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod api_error;
mod chat_message;
mod datetime;
mod envelope;
mod error_code;
pub mod events;
mod ids;
mod lenient;
mod oauth;
mod secret;
mod task;
mod task_result;
mod time;
mod user;

pub use api_error::{
    ApiError, ClassicErrorBody, ErrorShape, V3ErrorBody, V3ErrorDetail, ValidationIssue,
};
pub use chat_message::{ChatMessage, DialogMessages, DialogUser, MessageAuthor, MessageNotFound};
pub use datetime::{DateTime, DateTimeError, DateTimeParts};
pub use envelope::{BoolResult, Envelope, ItemResult, ItemsResult};
pub use error_code::{ErrorClass, ErrorCode};
pub use ids::{
    ChatId, CommentId, FileId, IdError, MessageId, OfflineEventId, ResultId, TaskId, UserId,
};
pub use oauth::{OAuthErrorBody, TokenResponse};
pub use secret::{AccessToken, ApplicationToken, ClientSecret, RefreshToken, WebhookSecret};
pub use task::{Task, TaskChat};
pub use task_result::{ResultRights, ResultStatus, TaskResult};
pub use time::Time;
pub use user::User;
