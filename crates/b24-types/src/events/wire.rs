//! Lenient readers for event payload values.
//!
//! An online event arrives as a PHP form, so every scalar is a string; the same data
//! read back from the offline queue (`event.offline.get`) is JSON whose scalars may be
//! numbers. These readers accept both forms of the same value.

use std::fmt;

use serde::de::{self, Deserializer, Visitor};

/// A text value that may arrive as a string, a number or a boolean (kept as its
/// text); `null` reads as absent.
pub(crate) fn opt_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    d.deserialize_any(OptText)
}

struct OptText;

impl<'de> Visitor<'de> for OptText {
    type Value = Option<String>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string, a number or null")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(OptText)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Some(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Some(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Some(v.to_string()))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Some(v.to_string()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Some(v.to_string()))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        // PHP's http_build_query writes true/false as 1/0.
        Ok(Some(if v { "1" } else { "0" }.to_owned()))
    }
}

/// A PHP boolean: `1`/`0`, `"1"`/`"0"`, `true`/`false`, `"Y"`/`"N"`; `null` and `""`
/// read as absent.
pub(crate) fn opt_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    match opt_text(d)? {
        None => Ok(None),
        Some(t) => match t.trim() {
            "" => Ok(None),
            "1" | "Y" | "y" | "true" => Ok(Some(true)),
            "0" | "N" | "n" | "false" => Ok(Some(false)),
            _ => Err(de::Error::custom("expected 1/0, Y/N or true/false")),
        },
    }
}

/// A non-negative integer from a number or a numeric string; `null` and `""` read as
/// absent.
pub(crate) fn opt_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    match opt_text(d)? {
        None => Ok(None),
        Some(t) if t.trim().is_empty() => Ok(None),
        Some(t) => {
            let t = t.trim();
            let t = t.strip_suffix(".0").unwrap_or(t);
            t.parse::<u64>()
                .map(Some)
                .map_err(|_| de::Error::custom("expected a non-negative integer"))
        }
    }
}
