//! The DTOs of b24-types: the first byte picks a type, the rest is JSON. A value
//! that parses must serialise, parse back to an equal value, and serialise to the
//! same text again.
#![no_main]
#![forbid(unsafe_code)]

use b24_types::events::{
    AppInstallData, AppUninstallData, BotMessageParams, BotMessageUser, CommentFields,
    EventBinding, Flag, MemberId, OfflineBatch, OfflineEvent, OfflineMessageId, ProcessId,
    TaskEventData, TaskFields, UnbindResult,
};
use b24_types::{
    BoolResult, ChatId, ChatMessage, ClassicErrorBody, DateTime, DialogMessages, DialogUser,
    Envelope, ErrorCode, ErrorShape, ItemResult, ItemsResult, MessageAuthor, MessageId,
    OAuthErrorBody, ResultId, ResultRights, ResultStatus, Task, TaskChat, TaskId, TaskResult, Time,
    User, UserId, V3ErrorBody, V3ErrorDetail, ValidationIssue,
};
use libfuzzer_sys::fuzz_target;
use serde::de::DeserializeOwned;
use serde::Serialize;

fn roundtrip<T>(json: &[u8])
where
    T: DeserializeOwned + Serialize + PartialEq + std::fmt::Debug,
{
    let Ok(first) = serde_json::from_slice::<T>(json) else {
        return;
    };
    let text = serde_json::to_vec(&first).expect("a parsed value serialises");
    let second = match serde_json::from_slice::<T>(&text) {
        Ok(second) => second,
        Err(e) => panic!(
            "a serialised value does not parse back: {e}: {}",
            String::from_utf8_lossy(&text)
        ),
    };
    assert_eq!(first, second, "a value changed through serialisation");
    let again = serde_json::to_vec(&second).expect("a parsed value serialises");
    assert_eq!(text, again, "serialisation is not stable");
}

macro_rules! types {
    ($selector:expr, $json:expr; $($ty:ty),* $(,)?) => {{
        let table: &[fn(&[u8])] = &[$(roundtrip::<$ty>),*];
        if let Some(run) = table.get(usize::from($selector) % table.len()) {
            run($json);
        }
    }};
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, json)) = data.split_first() else {
        return;
    };
    types!(selector, json;
        TaskResult,
        ResultRights,
        ResultStatus,
        ChatMessage,
        DialogUser,
        DialogMessages,
        MessageAuthor,
        Task,
        TaskChat,
        User,
        Time,
        DateTime,
        ErrorCode,
        ErrorShape,
        ValidationIssue,
        V3ErrorBody,
        V3ErrorDetail,
        ClassicErrorBody,
        OAuthErrorBody,
        Envelope<TaskResult>,
        ItemResult<TaskResult>,
        ItemsResult<TaskResult>,
        BoolResult,
        TaskId,
        ResultId,
        MessageId,
        ChatId,
        UserId,
        BotMessageParams,
        BotMessageUser,
        AppInstallData,
        AppUninstallData,
        MemberId,
        ProcessId,
        OfflineMessageId,
        OfflineEvent,
        OfflineBatch,
        EventBinding,
        UnbindResult,
        TaskEventData<TaskFields>,
        TaskEventData<CommentFields>,
        TaskFields,
        CommentFields,
        Flag,
        Envelope<serde_json::Value>,
    );
});
