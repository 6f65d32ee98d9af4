//! The task-result object (`ResultDto`) of the `tasks.task.result.*` family.

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use crate::datetime::DateTime;
use crate::ids::{FileId, MessageId, ResultId, TaskId, UserId};
use crate::user::User;

/// A task result as REST 3.0 returns it.
///
/// `add`, `addfromchatmessage` and `update` return every field; `list` returns the
/// fields in its `select` (all but `author` by default), so everything except `id` is
/// optional. `null`, `0` and absence all read as `None` for the optional ids.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct TaskResult {
    /// The result id.
    pub id: ResultId,
    /// The task it belongs to (`null` from the server when 0).
    #[serde(
        default,
        deserialize_with = "crate::lenient::opt_id",
        skip_serializing_if = "Option::is_none"
    )]
    pub task_id: Option<TaskId>,
    /// The result text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// The author's user id.
    #[serde(
        default,
        deserialize_with = "crate::lenient::opt_id",
        skip_serializing_if = "Option::is_none"
    )]
    pub author_id: Option<UserId>,
    /// The author, when `author` or `author.*` was selected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<User>,
    /// When it was created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<DateTime>,
    /// When it was last updated (the server sets it equal to `created_at` on a new
    /// result); `None` when the answer does not carry it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<DateTime>,
    /// `open` or `closed` (closed once the task is completed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ResultStatus>,
    /// Attached Drive files (read-only; `null` reads as `None`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_ids: Option<Vec<FileId>>,
    /// The caller's rights on this result. `[]` (a PHP empty array) reads as `None`.
    #[serde(
        default,
        deserialize_with = "rights_lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub rights: Option<ResultRights>,
    /// The chat message it was made from, if any.
    #[serde(
        default,
        deserialize_with = "crate::lenient::opt_id",
        skip_serializing_if = "Option::is_none"
    )]
    pub message_id: Option<MessageId>,
}

impl TaskResult {
    /// A result with only the id set; the rest is filled by the caller.
    pub fn new(id: ResultId) -> Self {
        Self {
            id,
            task_id: None,
            text: None,
            author_id: None,
            author: None,
            created_at: None,
            updated_at: None,
            status: None,
            file_ids: None,
            rights: None,
            message_id: None,
        }
    }
}

/// The caller's rights on a result (`{"edit":bool,"remove":bool}`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ResultRights {
    /// May update it.
    #[serde(default)]
    pub edit: bool,
    /// May delete it.
    #[serde(default)]
    pub remove: bool,
}

impl ResultRights {
    /// Rights with both flags given.
    pub fn new(edit: bool, remove: bool) -> Self {
        Self { edit, remove }
    }
}

fn rights_lenient<'de, D: Deserializer<'de>>(d: D) -> Result<Option<ResultRights>, D::Error> {
    // A visitor rather than an untagged enum: no buffering of the value on the hot
    // path of every result decoded.
    struct Rights;
    impl<'de> Visitor<'de> for Rights {
        type Value = Option<ResultRights>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("`rights` as an object or an empty array")
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(Rights)
        }
        fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
            ResultRights::deserialize(de::value::MapAccessDeserializer::new(map)).map(Some)
        }
        fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            // `[]`, a PHP empty array, means none; anything in it is not rights.
            match seq.next_element::<de::IgnoredAny>()? {
                None => Ok(None),
                Some(_) => Err(de::Error::custom(
                    "`rights` must be an object or an empty array",
                )),
            }
        }
    }
    d.deserialize_any(Rights)
}

/// Status of a result. Unknown values are kept, not rejected.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ResultStatus {
    /// `"open"` (classic: `0`).
    Open,
    /// `"closed"` (classic: `1`).
    Closed,
    /// Any other value, as sent.
    Other(String),
}

impl ResultStatus {
    /// The wire string.
    pub fn as_str(&self) -> &str {
        match self {
            ResultStatus::Open => "open",
            ResultStatus::Closed => "closed",
            ResultStatus::Other(s) => s,
        }
    }

    /// Reads a wire string; never fails.
    pub fn from_wire(s: &str) -> Self {
        match s {
            "open" => ResultStatus::Open,
            "closed" => ResultStatus::Closed,
            other => ResultStatus::Other(other.to_owned()),
        }
    }
}

impl fmt::Display for ResultStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ResultStatus {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ResultStatus {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = ResultStatus;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a result status string or the classic 0/1")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ResultStatus, E> {
                Ok(ResultStatus::from_wire(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ResultStatus, E> {
                Ok(match v {
                    0 => ResultStatus::Open,
                    1 => ResultStatus::Closed,
                    n => ResultStatus::Other(n.to_string()),
                })
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ResultStatus, E> {
                Ok(ResultStatus::Other(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod rights_tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn rights(json: &str) -> Result<Option<ResultRights>, serde_json::Error> {
        serde_json::from_str::<TaskResult>(&format!(r#"{{"id":1,"rights":{json}}}"#))
            .map(|r| r.rights)
    }

    #[test]
    fn rights_read_as_the_platform_sends_them() {
        assert_eq!(
            rights(r#"{"edit":true,"remove":false}"#).unwrap(),
            Some(ResultRights::new(true, false))
        );
        assert_eq!(rights("{}").unwrap(), Some(ResultRights::default()));
        assert_eq!(rights("[]").unwrap(), None, "a PHP empty array");
        assert_eq!(rights("null").unwrap(), None);
        let err = rights("[1]").unwrap_err();
        assert!(err.to_string().contains("empty array"), "{err}");
        assert!(rights("true").is_err_and(|e| e.to_string().contains("rights")));
    }
}
