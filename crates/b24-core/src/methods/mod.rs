//! Typed methods, one module per family.
//!
//! Each method is a struct holding validated parameters and implementing
//! [`Method`](crate::Method). Constructors reject bad input with an
//! [`InputError`](crate::InputError), so an invalid call never reaches the wire.
//! Writes are [`Repeat::Unsafe`](crate::Repeat::Unsafe), reads
//! [`Repeat::Safe`](crate::Repeat::Safe).
//!
//! | type | method | API | output |
//! |---|---|---|---|
//! | [`TaskResultAdd`] | `tasks.task.result.add` | 3.0 | [`TaskResult`](crate::types::TaskResult) |
//! | [`TaskResultAddFromChatMessage`] | `tasks.task.result.addfromchatmessage` | 3.0 | [`TaskResult`](crate::types::TaskResult) |
//! | [`TaskResultUpdate`] | `tasks.task.result.update` | 3.0 | [`TaskResult`](crate::types::TaskResult) |
//! | [`TaskResultDelete`] | `tasks.task.result.delete` | 3.0 | `bool` |
//! | [`TaskResultList`] | `tasks.task.result.list` | 3.0 | `Vec<TaskResult>` |
//! | [`TaskChatMessageSend`] | `tasks.task.chat.message.send` | 3.0 | `bool` |
//! | [`TaskGet`] | `tasks.task.get` | 3.0 | [`Task`](crate::types::Task) |
//! | [`ImMessageAdd`] | `im.message.add` | classic | [`MessageId`](crate::types::MessageId) |
//! | [`ImDialogMessagesGet`] | `im.dialog.messages.get` | classic | [`DialogMessages`](crate::types::DialogMessages) |
//! | [`ImMessageGet`] | `im.dialog.messages.get` (one message, checked) | classic | [`ChatMessage`](crate::types::ChatMessage) |
//! | [`EventBind`] | `event.bind` | classic | `bool` |
//! | [`EventUnbind`] | `event.unbind` | classic | [`UnbindResult`](crate::types::events::UnbindResult) |
//! | [`EventGet`] | `event.get` | classic | `Vec<`[`EventBinding`](crate::types::events::EventBinding)`>` |
//! | [`EventOfflineGet`] | `event.offline.get` | classic | [`OfflineBatch`](crate::types::events::OfflineBatch) |
//! | [`EventOfflineClear`] | `event.offline.clear` | classic | `bool` |
//! | [`EventOfflineError`] | `event.offline.error` | classic | `bool` |
//! | [`EventOfflineList`] | `event.offline.list` | classic | `Vec<`[`OfflineEvent`](crate::types::events::OfflineEvent)`>` |
//! | [`RawCall`] | any | either | `serde_json::Value` |
//! | [`BatchV3`] | `batch` | 3.0 | `Vec<serde_json::Value>` |
//! | [`ClassicBatch`] | `batch` | classic | [`ClassicBatchResult`] |

/// Writes the `name`, `api` and `repeat` of a [`Method`](crate::Method) impl whose
/// name is the type's `NAME` constant and whose API and repeat class never vary:
/// `method_identity!(V3, Unsafe);` stands for the three functions returning
/// `Self::NAME`, `Api::V3` and `Repeat::Unsafe`. Declared before the modules so
/// that each of them can use it.
macro_rules! method_identity {
    ($api:ident, $repeat:ident) => {
        fn name(&self) -> &str {
            Self::NAME
        }
        fn api(&self) -> $crate::api::Api {
            $crate::api::Api::$api
        }
        fn repeat(&self) -> $crate::method::Repeat {
            $crate::method::Repeat::$repeat
        }
    };
}

mod batch;
mod chat;
mod classic_batch;
mod dialog;
mod event;
mod im;
mod list;
mod raw;
mod task;
mod task_result;
mod text;

pub use batch::{BatchCommand, BatchRef, BatchV3};
pub use chat::TaskChatMessageSend;
pub use classic_batch::{ClassicBatch, ClassicBatchResult, ClassicCommand};
pub use dialog::{ImDialogMessagesGet, ImMessageGet, MAX_DIALOG_PAGE};
pub use event::{
    EventBind, EventGet, EventOfflineClear, EventOfflineError, EventOfflineGet, EventOfflineList,
    EventUnbind, OfflineOrder,
};
pub use im::{DialogId, ImMessageAdd};
pub use list::{
    Condition, Direction, FilterField, FilterGroup, FilterItem, FilterValue, Logic, Operator,
    SelectField, SortField, TaskResultList,
};
pub use raw::RawCall;
pub use task::TaskGet;
pub use task_result::{
    TaskResultAdd, TaskResultAddFromChatMessage, TaskResultDelete, TaskResultUpdate,
};
