//! Values that are either filled or a placeholder: [`Slot`] and [`Flag`].

use std::fmt;

use serde::de::{self, DeserializeOwned, Deserializer};
use serde::{Deserialize, Serialize, Serializer};

/// A slot of an event payload that holds fields or is unused.
///
/// Task events carry `FIELDS_BEFORE` and `FIELDS_AFTER`; the one a given event does
/// not use holds the **string** `"undefined"` rather than an empty map. A form drops
/// an empty PHP array altogether, so a slot may also be absent.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Slot<T> {
    /// The slot holds fields.
    Fields(T),
    /// The slot holds the string `"undefined"` (the platform's "unused").
    Undefined,
    /// The slot is absent, `null`, an empty string or an empty array.
    #[default]
    Absent,
}

impl<T> Slot<T> {
    /// The fields, if the slot holds any.
    pub fn fields(&self) -> Option<&T> {
        match self {
            Slot::Fields(t) => Some(t),
            Slot::Undefined | Slot::Absent => None,
        }
    }

    /// The fields, by value.
    pub fn into_fields(self) -> Option<T> {
        match self {
            Slot::Fields(t) => Some(t),
            Slot::Undefined | Slot::Absent => None,
        }
    }

    /// True when the slot holds the string `"undefined"`.
    pub fn is_undefined(&self) -> bool {
        matches!(self, Slot::Undefined)
    }

    /// True when the slot is absent.
    pub fn is_absent(&self) -> bool {
        matches!(self, Slot::Absent)
    }
}

impl<T: Serialize> Serialize for Slot<T> {
    /// Fields as a map, `Undefined` as `"undefined"`, `Absent` as `null` (skip it
    /// with `skip_serializing_if = "Slot::is_absent"`).
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Slot::Fields(t) => t.serialize(s),
            Slot::Undefined => s.serialize_str(UNDEFINED),
            Slot::Absent => s.serialize_none(),
        }
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Slot<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match serde_json::Value::deserialize(d)? {
            serde_json::Value::Null => Ok(Slot::Absent),
            serde_json::Value::String(s) if s == UNDEFINED => Ok(Slot::Undefined),
            serde_json::Value::String(s) if s.is_empty() => Ok(Slot::Absent),
            serde_json::Value::Array(a) if a.is_empty() => Ok(Slot::Absent),
            serde_json::Value::Bool(false) => Ok(Slot::Absent),
            v @ serde_json::Value::Object(_) => serde_json::from_value(v)
                .map(Slot::Fields)
                .map_err(de::Error::custom),
            _ => Err(de::Error::custom(
                "expected a map of fields or the string \"undefined\"",
            )),
        }
    }
}

/// The platform's marker for an unused slot or flag.
pub const UNDEFINED: &str = "undefined";

/// A `Y`/`N` flag that may also be `"undefined"` (`IS_ACCESSIBLE_BEFORE`, `ACTIVE`,
/// `SYSTEM`, ...).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Flag {
    /// `Y`.
    Yes,
    /// `N`.
    No,
    /// `"undefined"`.
    Undefined,
    /// Anything else, kept as sent.
    Other(String),
}

impl Flag {
    /// `Some(true)` for `Y`, `Some(false)` for `N`, `None` otherwise.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Flag::Yes => Some(true),
            Flag::No => Some(false),
            Flag::Undefined | Flag::Other(_) => None,
        }
    }

    /// The wire text.
    pub fn as_str(&self) -> &str {
        match self {
            Flag::Yes => "Y",
            Flag::No => "N",
            Flag::Undefined => UNDEFINED,
            Flag::Other(s) => s,
        }
    }

    fn from_text(s: String) -> Self {
        match s.as_str() {
            "Y" => Flag::Yes,
            "N" => Flag::No,
            UNDEFINED => Flag::Undefined,
            _ => Flag::Other(s),
        }
    }
}

impl fmt::Display for Flag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Flag {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Flag {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(super::wire::opt_text(d)?.map_or(Flag::Other(String::new()), Flag::from_text))
    }
}
