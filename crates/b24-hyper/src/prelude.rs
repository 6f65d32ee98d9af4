//! What a program calling Bitrix24 usually needs, in one import:
//!
//! ```no_run
//! use b24_hyper::prelude::*;
//!
//! # async fn run() -> Result<(), Error> {
//! let client = Client::new()?;
//! let portal = Portal::webhook("https://example.bitrix24.com/rest/1/webhookcode/")?;
//! let message = client.post_to_task_chat(&portal, TaskId::new(51)?, "Done").await?;
//! let result = client.task_results(&portal).add_from_chat_message(message).await?;
//! let mut all = client
//!     .task_results(&portal)
//!     .list(TaskResultList::for_task(TaskId::new(51)?));
//! while let Some(item) = all.next().await {
//!     println!("{}", item?.id);
//! }
//! # let _ = result; Ok(()) }
//! ```
//!
//! Everything here is also at its own path ([`crate::methods`], [`crate::types`],
//! the crate root).

pub use crate::methods::{RawCall, TaskResultList};
pub use crate::types::{
    ChatId, ErrorClass, ErrorCode, MessageId, ResultId, TaskId, TaskResult, UserId,
};
pub use crate::{
    Api, CallOptions, Client, ClientBuilder, Error, Portal, Reply, ResultStream, TaskResults,
    TransportError,
};
pub use b24_core::engine::RetryPolicy;
