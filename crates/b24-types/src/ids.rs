//! Positive integer id newtypes (`TaskId`, `ResultId`, ...).
//!
//! Every id is a positive integer on the wire. Ids serialise as JSON numbers and
//! deserialise from numbers or numeric strings (the platform sends both). Zero and
//! negative values are rejected: the API has no object with id 0, and a zero id in a
//! request is always a caller's mistake.

use std::fmt;
use std::num::NonZeroU64;
use std::str::FromStr;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why a value is not a valid id.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum IdError {
    /// The value was zero; ids are positive.
    Zero {
        /// The id type, e.g. `"MessageId"`.
        kind: &'static str,
    },
    /// The value was negative.
    Negative {
        /// The id type.
        kind: &'static str,
    },
    /// The text is not a decimal integer that fits in 64 bits.
    NotANumber {
        /// The id type.
        kind: &'static str,
    },
}

impl fmt::Display for IdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IdError::Zero { kind } => write!(f, "{kind} must be positive, got 0"),
            IdError::Negative { kind } => {
                write!(f, "{kind} must be positive, got a negative number")
            }
            IdError::NotANumber { kind } => write!(f, "{kind} must be a positive decimal integer"),
        }
    }
}

impl std::error::Error for IdError {}

macro_rules! define_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(NonZeroU64);

        impl $name {
            /// Makes an id; zero is rejected with [`IdError::Zero`].
            pub fn new(value: u64) -> Result<Self, IdError> {
                NonZeroU64::new(value)
                    .map(Self)
                    .ok_or(IdError::Zero { kind: stringify!($name) })
            }

            /// Makes an id from a signed value, rejecting zero and negatives.
            pub fn from_i64(value: i64) -> Result<Self, IdError> {
                if value < 0 {
                    return Err(IdError::Negative { kind: stringify!($name) });
                }
                Self::new(value.unsigned_abs())
            }

            /// The id as a plain integer.
            pub const fn get(self) -> u64 {
                self.0.get()
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                parse_id_str(s.trim(), stringify!($name)).and_then(Self::new)
            }
        }

        impl From<$name> for u64 {
            fn from(id: $name) -> u64 {
                id.get()
            }
        }

        impl TryFrom<u64> for $name {
            type Error = IdError;
            fn try_from(value: u64) -> Result<Self, IdError> {
                Self::new(value)
            }
        }

        impl TryFrom<i64> for $name {
            type Error = IdError;
            fn try_from(value: i64) -> Result<Self, IdError> {
                Self::from_i64(value)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_u64(self.get())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let raw = deserializer.deserialize_any(IdVisitor { kind: stringify!($name) })?;
                Self::new(raw).map_err(de::Error::custom)
            }
        }
    };
}

fn parse_id_str(s: &str, kind: &'static str) -> Result<u64, IdError> {
    if let Some(rest) = s.strip_prefix('-') {
        if !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit()) {
            return if rest.bytes().all(|b| b == b'0') {
                Err(IdError::Zero { kind })
            } else {
                Err(IdError::Negative { kind })
            };
        }
        return Err(IdError::NotANumber { kind });
    }
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(IdError::NotANumber { kind });
    }
    s.parse::<u64>().map_err(|_| IdError::NotANumber { kind })
}

/// Reads a non-negative integer from a JSON number or a numeric string.
struct IdVisitor {
    kind: &'static str,
}

impl Visitor<'_> for IdVisitor {
    type Value = u64;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "a positive integer {} as a number or a numeric string",
            self.kind
        )
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<u64, E> {
        Ok(v)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<u64, E> {
        u64::try_from(v).map_err(|_| E::custom(IdError::Negative { kind: self.kind }))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<u64, E> {
        // Some PHP serialisers emit `51.0`; accept integral floats only.
        if v.fract() == 0.0 && (0.0..18_446_744_073_709_551_616.0).contains(&v) {
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            Ok(v as u64)
        } else {
            Err(E::custom(IdError::NotANumber { kind: self.kind }))
        }
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<u64, E> {
        parse_id_str(v.trim(), self.kind).map_err(E::custom)
    }
}

define_id!(
    /// A task id (`taskId`, `id` of `tasks.task.get`).
    TaskId
);
define_id!(
    /// A task result id (`id` of a result).
    ResultId
);
define_id!(
    /// A chat message id from the IM module (`messageId`).
    MessageId
);
define_id!(
    /// A portal user id (`authorId`, the webhook's user).
    UserId
);
define_id!(
    /// A Drive (disk) file id (`fileIds`).
    FileId
);
define_id!(
    /// An IM chat id (a task's `chat.id`).
    ChatId
);
define_id!(
    /// A task comment id of the old task card (`FIELDS_AFTER[ID]` of
    /// `ONTASKCOMMENTADD`; the new card sends `0` there and the chat message id in
    /// `MESSAGE_ID`).
    CommentId
);
define_id!(
    /// The row id of a queued offline event (`ID` of `event.offline.get`).
    OfflineEventId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_and_negative_are_rejected() {
        assert_eq!(MessageId::new(0), Err(IdError::Zero { kind: "MessageId" }));
        assert_eq!(
            TaskId::from_i64(-3),
            Err(IdError::Negative { kind: "TaskId" })
        );
        assert_eq!(
            "-0".parse::<TaskId>(),
            Err(IdError::Zero { kind: "TaskId" })
        );
        assert_eq!(
            "x1".parse::<TaskId>(),
            Err(IdError::NotANumber { kind: "TaskId" })
        );
        assert_eq!(
            "".parse::<TaskId>(),
            Err(IdError::NotANumber { kind: "TaskId" })
        );
        assert_eq!(
            "+5".parse::<TaskId>(),
            Err(IdError::NotANumber { kind: "TaskId" })
        );
        assert_eq!("335".parse::<MessageId>().map(MessageId::get), Ok(335));
    }

    #[test]
    fn json_forms() {
        let a: TaskId = serde_json::from_str("51").unwrap();
        let b: TaskId = serde_json::from_str("\"51\"").unwrap();
        let c: TaskId = serde_json::from_str("51.0").unwrap();
        assert_eq!(a, b);
        assert_eq!(a, c);
        assert_eq!(serde_json::to_string(&a).unwrap(), "51");
        assert!(serde_json::from_str::<TaskId>("0").is_err());
        assert!(serde_json::from_str::<TaskId>("\"0\"").is_err());
        assert!(serde_json::from_str::<TaskId>("-1").is_err());
        assert!(serde_json::from_str::<TaskId>("1.5").is_err());
        assert!(serde_json::from_str::<TaskId>("null").is_err());
        assert!(serde_json::from_str::<TaskId>("true").is_err());
    }
}
