//! Helpers shared by the method modules.

use b24_types::TaskId;
use serde_json::value::RawValue;
use serde_json::{json, Value};

use crate::error::{Error, InputError};
use crate::response::decode_json;

/// Checks that a text parameter is not empty or blank (the server requires it).
pub(crate) fn non_blank(field: &str, text: String) -> Result<String, InputError> {
    if text.trim().is_empty() {
        Err(InputError::param(field, "must not be empty or blank"))
    } else {
        Ok(text)
    }
}

/// Checks the text of a method that posts a text to a task
/// ([`TaskResultAdd`](super::TaskResultAdd),
/// [`TaskChatMessageSend`](super::TaskChatMessageSend)): `fields.text` must not be
/// empty or blank.
pub(crate) fn task_text(text: String) -> Result<String, InputError> {
    non_blank("fields.text", text)
}

/// The parameters of a method that posts a text to a task:
/// `{"fields":{"taskId":51,"text":"..."}}`.
pub(crate) fn task_text_params(task_id: TaskId, text: &str) -> serde_json::Map<String, Value> {
    object([("fields", json!({ "taskId": task_id, "text": text }))])
}

/// Decodes a boolean outcome: `{"result": true}` as REST 3.0 sends it, or a bare
/// `true` as classic methods do.
pub(crate) fn decode_bool(result: &RawValue) -> Result<bool, Error> {
    // Raw values carry no surrounding whitespace, so a bare boolean is exactly this.
    match result.get() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => decode_json::<b24_types::BoolResult>(result).map(|r| r.result),
    }
}

/// Decodes `{"item": T}`.
pub(crate) fn decode_item<T: serde::de::DeserializeOwned>(result: &RawValue) -> Result<T, Error> {
    decode_json::<b24_types::ItemResult<T>>(result).map(|r| r.item)
}

/// Builds a JSON object from key/value pairs, in order.
pub(crate) fn object<const N: usize>(pairs: [(&str, Value); N]) -> serde_json::Map<String, Value> {
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}
