//! Event payloads: what a portal sends to a handler URL or keeps in the offline queue.
//!
//! An online event arrives as a form POST with PHP-style nested keys:
//! `event=ONTASKCOMMENTADD`, `data[FIELDS_AFTER][MESSAGE_ID]=34239`,
//! `auth[application_token]=...`. Every value is a string, and an unused slot holds
//! the string `"undefined"` ([`Slot::Undefined`]). The same data read from the offline
//! queue is JSON in which numbers may be numbers; the types here accept both. Turning
//! a form body into these types, and checking its `application_token`, is done by
//! `b24_core::events`.
//!
//! | event | data |
//! |---|---|
//! | `ONTASKCOMMENTADD` / `UPDATE` / `DELETE` | [`TaskCommentChange`] |
//! | `ONTASKADD` / `UPDATE` / `DELETE` | [`TaskChange`] |
//! | `ONAPPINSTALL` | [`AppInstallData`] |
//! | `ONAPPUNINSTALL` | [`AppUninstallData`] |
//! | `ONIMBOTMESSAGEADD` | [`BotMessageAddData`] |
//! | anything else | [`OtherEvent`] |

mod app;
mod auth;
mod bot;
mod offline;
mod payload;
mod slot;
mod task;
pub(crate) mod wire;

pub use app::{AppInstallData, AppUninstallData};
pub use auth::{EventAuth, MemberId};
pub use bot::{BotAuth, BotMessageAddData, BotMessageParams, BotMessageUser};
pub use offline::{
    EventBinding, OfflineBatch, OfflineEvent, OfflineMessageId, ProcessId, UnbindResult,
};
pub use payload::{EventPayload, OtherEvent};
pub use slot::{Flag, Slot, UNDEFINED};
pub use task::{
    CommentFields, CommentRef, TaskChange, TaskCommentChange, TaskEventData, TaskFields,
};

/// Event names as the portal sends them (upper case).
pub mod names {
    /// A comment was added to a task; on the new task card, a message landed in the
    /// task's chat.
    pub const ON_TASK_COMMENT_ADD: &str = "ONTASKCOMMENTADD";
    /// A task comment was edited (old task card only).
    pub const ON_TASK_COMMENT_UPDATE: &str = "ONTASKCOMMENTUPDATE";
    /// A task comment was deleted (old task card only).
    pub const ON_TASK_COMMENT_DELETE: &str = "ONTASKCOMMENTDELETE";
    /// A task was created.
    pub const ON_TASK_ADD: &str = "ONTASKADD";
    /// A task was changed.
    pub const ON_TASK_UPDATE: &str = "ONTASKUPDATE";
    /// A task was deleted.
    pub const ON_TASK_DELETE: &str = "ONTASKDELETE";
    /// The app was installed: carries the application token to store.
    pub const ON_APP_INSTALL: &str = "ONAPPINSTALL";
    /// The app was uninstalled.
    pub const ON_APP_UNINSTALL: &str = "ONAPPUNINSTALL";
    /// A message was sent to a chat bot.
    pub const ON_IMBOT_MESSAGE_ADD: &str = "ONIMBOTMESSAGEADD";
    /// New rows are waiting in the offline queue.
    pub const ON_OFFLINE_EVENT: &str = "ONOFFLINEEVENT";
}
