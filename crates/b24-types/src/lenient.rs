//! Lenient deserialisers for values the platform sends in more than one form.

use std::fmt;

use serde::de::{self, Deserializer, Visitor};

/// A number that may arrive as an integer, a float or a numeric string; a non-finite
/// one reads as absent.
pub(crate) fn opt_f64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    d.deserialize_any(OptF64)
}

struct OptF64;

impl<'de> Visitor<'de> for OptF64 {
    type Value = Option<f64>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a number, a numeric string or null")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(OptF64)
    }
    #[allow(clippy::cast_precision_loss)]
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Some(v as f64))
    }
    #[allow(clippy::cast_precision_loss)]
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Some(v as f64))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(finite(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        let t = v.trim();
        if t.is_empty() {
            return Ok(None);
        }
        t.parse::<f64>()
            .map(finite)
            .map_err(|_| E::custom(format!("expected a number, got the string {v:?}")))
    }
}

/// NaN and the infinities (`"NaN"`, `"inf"`, `"1e400"` parse as such) read as absent:
/// no server time is one, and JSON could not carry them back out (they would
/// serialise as `null`). Absent rather than an error, so that a stray value in the
/// `time` object never fails the decoding of an otherwise good answer.
fn finite(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}

/// An integer that may arrive as a number or a numeric string (`expires_in`).
pub(crate) fn opt_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    match opt_f64(d)? {
        None => Ok(None),
        Some(v) if v.fract() == 0.0 && v.abs() < 9.0e15 =>
        {
            #[allow(clippy::cast_possible_truncation)]
            Ok(Some(v as i64))
        }
        Some(v) => Err(de::Error::custom(format!("expected an integer, got {v}"))),
    }
}

/// An optional id where the server may send `null`, `0`, `"0"` or `""` for "none".
pub(crate) fn opt_id<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<u64>,
    T::Error: fmt::Display,
{
    match d.deserialize_any(OptU64)? {
        None | Some(0) => Ok(None),
        Some(v) => T::try_from(v).map(Some).map_err(de::Error::custom),
    }
}

/// A non-negative integer from a number (integral floats too), a numeric string or null.
struct OptU64;

impl<'de> Visitor<'de> for OptU64 {
    type Value = Option<u64>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a non-negative integer, a numeric string or null")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(OptU64)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Some(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        u64::try_from(v)
            .map(Some)
            .map_err(|_| E::custom(format!("expected a positive id, got {v}")))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        if v.fract() == 0.0 && (0.0..18_446_744_073_709_551_616.0).contains(&v) {
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            Ok(Some(v as u64))
        } else {
            Err(E::custom(format!(
                "expected a positive integer id, got {v}"
            )))
        }
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        let t = v.trim();
        if t.is_empty() {
            return Ok(None);
        }
        t.parse::<u64>()
            .map(Some)
            .map_err(|_| E::custom(format!("expected a numeric id, got the string {v:?}")))
    }
}

#[cfg(test)]
mod tests {
    use crate::Time;

    #[test]
    fn non_finite_numbers_read_as_absent() {
        for bad in ["NaN", "nan", "inf", "-inf", "infinity", "1e400", "-1e400"] {
            let body = format!(r#"{{"start":"{bad}","operating":1.5}}"#);
            let t: Time = serde_json::from_str(&body).unwrap();
            assert_eq!((t.start, t.operating), (None, Some(1.5)), "{body}");
            // And so they survive a round trip.
            let again: Time = serde_json::from_str(&serde_json::to_string(&t).unwrap()).unwrap();
            assert_eq!(again, t);
        }
        assert!(serde_json::from_str::<Time>(r#"{"start":"soon"}"#).is_err());
        // Large but finite values, and the forms the portal uses, are kept.
        let t: Time =
            serde_json::from_str(r#"{"start":"1e300","finish":1777530300,"duration":" 0.5 "}"#)
                .unwrap();
        assert_eq!(t.start, Some(1e300));
        assert_eq!(t.finish, Some(1_777_530_300.0));
        assert_eq!(t.duration, Some(0.5));
    }
}
