//! Date-times as the portal writes them: `YYYY-MM-DDThh:mm:ss±hh:mm`.
//!
//! [`DateTime`] keeps the exact wire string (so nothing is lost in a round trip) and
//! parses it on demand with [`DateTime::parts`] / [`DateTime::unix_timestamp`].

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A date-time exactly as the server sent it.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DateTime(String);

/// Why a date-time string could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DateTimeError {
    reason: &'static str,
}

impl fmt::Display for DateTimeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid date-time: {}", self.reason)
    }
}

impl std::error::Error for DateTimeError {}

/// The components of a parsed date-time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct DateTimeParts {
    /// Year, e.g. 2026.
    pub year: i32,
    /// Month, 1..=12.
    pub month: u8,
    /// Day of month, 1..=31.
    pub day: u8,
    /// Hour, 0..=23.
    pub hour: u8,
    /// Minute, 0..=59.
    pub minute: u8,
    /// Second, 0..=60 (a leap second is accepted).
    pub second: u8,
    /// Nanoseconds of a fractional second, if any.
    pub nanosecond: u32,
    /// Offset from UTC in seconds (`+02:00` is 7200); `Z` is 0.
    pub offset_seconds: i32,
}

impl DateTime {
    /// Wraps a wire string after checking that it parses.
    pub fn parse(s: &str) -> Result<Self, DateTimeError> {
        parse_parts(s)?;
        Ok(Self(s.to_owned()))
    }

    /// Wraps a string without checking it (what the server sent is kept as is).
    pub fn from_wire(s: String) -> Self {
        Self(s)
    }

    /// Builds the portal's format from a unix timestamp and a UTC offset in seconds.
    ///
    /// Never panics. Input outside what the wire format can say is clamped rather than
    /// refused:
    /// - the offset is cut to whole minutes (toward zero) and clamped to
    ///   `-23:59..=+23:59`, the range [`DateTime::parse`] accepts; the local time is
    ///   computed with that written offset, so [`DateTime::unix_timestamp`] of the
    ///   result equals `unix` whenever no clamping of the instant happened;
    /// - the local date-time is clamped to `0000-01-01T00:00:00` ..=
    ///   `9999-12-31T23:59:59`, the four-digit years of the format (so `i64::MIN`
    ///   gives `0000-01-01T00:00:00` and `i64::MAX` `9999-12-31T23:59:59`, each
    ///   with the written offset).
    pub fn from_unix(unix: i64, offset_seconds: i32) -> Self {
        let offset = offset_seconds.clamp(-MAX_OFFSET_SECONDS, MAX_OFFSET_SECONDS) / 60 * 60;
        let local = unix
            .saturating_add(i64::from(offset))
            .clamp(MIN_LOCAL_UNIX, MAX_LOCAL_UNIX);
        let days = local.div_euclid(86_400);
        let secs = local.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        let sign = if offset < 0 { '-' } else { '+' };
        let off = offset.unsigned_abs();
        Self(format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}{sign}{:02}:{:02}",
            secs / 3600,
            (secs % 3600) / 60,
            secs % 60,
            off / 3600,
            (off % 3600) / 60
        ))
    }

    /// The exact wire string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The parsed components.
    pub fn parts(&self) -> Result<DateTimeParts, DateTimeError> {
        parse_parts(&self.0)
    }

    /// Seconds since the unix epoch (UTC).
    ///
    /// Cannot overflow: a parsed year has four digits (0..=9999) and an offset is at
    /// most 23:59, so the result lies within about ±2.6e11.
    pub fn unix_timestamp(&self) -> Result<i64, DateTimeError> {
        let p = self.parts()?;
        let days = days_from_civil(p.year, p.month, p.day);
        Ok(days * 86_400
            + i64::from(p.hour) * 3600
            + i64::from(p.minute) * 60
            + i64::from(p.second)
            - i64::from(p.offset_seconds))
    }
}

impl fmt::Debug for DateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DateTime({:?})", self.0)
    }
}

impl fmt::Display for DateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for DateTime {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for DateTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Self)
    }
}

/// The largest UTC offset the wire format can write: `±23:59`.
const MAX_OFFSET_SECONDS: i32 = 23 * 3600 + 59 * 60;
/// `0000-01-01T00:00:00` as seconds since the epoch, read as a local time.
const MIN_LOCAL_UNIX: i64 = -62_167_219_200;
/// `9999-12-31T23:59:59` as seconds since the epoch, read as a local time.
const MAX_LOCAL_UNIX: i64 = 253_402_300_799;

fn err(reason: &'static str) -> DateTimeError {
    DateTimeError { reason }
}

fn digits(b: &[u8], at: usize, n: usize) -> Result<u32, DateTimeError> {
    let slice = b.get(at..at + n).ok_or(err("too short"))?;
    let mut v = 0u32;
    for &c in slice {
        if !c.is_ascii_digit() {
            return Err(err("expected a digit"));
        }
        v = v * 10 + u32::from(c - b'0');
    }
    Ok(v)
}

fn expect(b: &[u8], at: usize, c: u8) -> Result<(), DateTimeError> {
    if b.get(at) == Some(&c) {
        Ok(())
    } else {
        Err(err("unexpected separator"))
    }
}

#[allow(clippy::cast_possible_truncation, clippy::cast_possible_wrap)]
fn parse_parts(s: &str) -> Result<DateTimeParts, DateTimeError> {
    let b = s.as_bytes();
    let year = digits(b, 0, 4)? as i32;
    expect(b, 4, b'-')?;
    let month = digits(b, 5, 2)? as u8;
    expect(b, 7, b'-')?;
    let day = digits(b, 8, 2)? as u8;
    match b.get(10) {
        Some(b'T' | b't' | b' ') => {}
        _ => return Err(err("expected 'T' between date and time")),
    }
    let hour = digits(b, 11, 2)? as u8;
    expect(b, 13, b':')?;
    let minute = digits(b, 14, 2)? as u8;
    expect(b, 16, b':')?;
    let second = digits(b, 17, 2)? as u8;
    let mut at = 19;
    let mut nanosecond = 0u32;
    if b.get(at) == Some(&b'.') {
        at += 1;
        let start = at;
        while b.get(at).is_some_and(u8::is_ascii_digit) {
            if at - start < 9 {
                nanosecond = nanosecond * 10 + u32::from(b.get(at).map_or(0, |c| c - b'0'));
            }
            at += 1;
        }
        if at == start {
            return Err(err("empty fraction"));
        }
        for _ in (at - start).min(9)..9 {
            nanosecond *= 10;
        }
    }
    let offset_seconds = match b.get(at) {
        Some(b'Z' | b'z') => {
            at += 1;
            0
        }
        Some(&sign @ (b'+' | b'-')) => {
            let oh = digits(b, at + 1, 2)? as i32;
            expect(b, at + 3, b':')?;
            let om = digits(b, at + 4, 2)? as i32;
            at += 6;
            if oh > 23 || om > 59 {
                return Err(err("offset out of range"));
            }
            let v = oh * 3600 + om * 60;
            if sign == b'-' {
                -v
            } else {
                v
            }
        }
        _ => return Err(err("missing UTC offset")),
    };
    if at != b.len() {
        return Err(err("trailing characters"));
    }
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return Err(err("date out of range"));
    }
    if hour > 23 || minute > 59 || second > 60 {
        return Err(err("time out of range"));
    }
    Ok(DateTimeParts {
        year,
        month,
        day,
        hour,
        minute,
        second,
        nanosecond,
        offset_seconds,
    })
}

fn is_leap(y: i32) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i32, m: u8) -> u8 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i32, m: u8, d: u8) -> i64 {
    let y = i64::from(y) - i64::from(m <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[allow(clippy::cast_possible_truncation)]
fn civil_from_days(z: i64) -> (i64, u8, u8) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_form() {
        let d = DateTime::parse("2026-04-30T10:15:00+02:00").unwrap();
        let p = d.parts().unwrap();
        assert_eq!(
            (p.year, p.month, p.day, p.hour, p.minute, p.second),
            (2026, 4, 30, 10, 15, 0)
        );
        assert_eq!(p.offset_seconds, 7200);
        assert_eq!(d.unix_timestamp().unwrap(), 1_777_536_900);
        assert_eq!(d.as_str(), "2026-04-30T10:15:00+02:00");
    }

    #[test]
    fn from_unix_round_trips() {
        let d = DateTime::from_unix(1_777_536_900, 7200);
        assert_eq!(d.as_str(), "2026-04-30T10:15:00+02:00");
        let neg = DateTime::from_unix(0, -3600 * 5 - 1800);
        assert_eq!(neg.as_str(), "1969-12-31T18:30:00-05:30");
        assert_eq!(neg.unix_timestamp().unwrap(), 0);
    }

    #[test]
    fn the_clamp_bounds_are_the_four_digit_years() {
        assert_eq!(days_from_civil(0, 1, 1) * 86_400, MIN_LOCAL_UNIX);
        assert_eq!(
            days_from_civil(9999, 12, 31) * 86_400 + 86_399,
            MAX_LOCAL_UNIX
        );
    }

    #[test]
    fn from_unix_clamps_extreme_instants() {
        let cases = [
            (i64::MIN, 0, "0000-01-01T00:00:00+00:00"),
            (i64::MAX, 0, "9999-12-31T23:59:59+00:00"),
            (i64::MIN, i32::MIN, "0000-01-01T00:00:00-23:59"),
            (i64::MIN, i32::MAX, "0000-01-01T00:00:00+23:59"),
            (i64::MAX, i32::MAX, "9999-12-31T23:59:59+23:59"),
            (i64::MAX, i32::MIN, "9999-12-31T23:59:59-23:59"),
            (MAX_LOCAL_UNIX + 1, 0, "9999-12-31T23:59:59+00:00"),
            (MIN_LOCAL_UNIX - 1, 0, "0000-01-01T00:00:00+00:00"),
        ];
        for (unix, offset, want) in cases {
            let d = DateTime::from_unix(unix, offset);
            assert_eq!(d.as_str(), want, "{unix} {offset}");
            assert!(DateTime::parse(d.as_str()).is_ok(), "{want}");
        }
    }

    #[test]
    fn from_unix_keeps_the_edges_of_the_range_exact() {
        let first = DateTime::from_unix(MIN_LOCAL_UNIX, 0);
        assert_eq!(first.as_str(), "0000-01-01T00:00:00+00:00");
        assert_eq!(first.unix_timestamp().unwrap(), MIN_LOCAL_UNIX);
        let last = DateTime::from_unix(MAX_LOCAL_UNIX - 3600, 3600);
        assert_eq!(last.as_str(), "9999-12-31T23:59:59+01:00");
        assert_eq!(last.unix_timestamp().unwrap(), MAX_LOCAL_UNIX - 3600);
    }

    #[test]
    fn from_unix_writes_only_offsets_the_format_can_carry() {
        // Seconds in an offset are cut (the format has minutes only) and the local
        // time follows the written offset, so the instant survives a round trip.
        let d = DateTime::from_unix(1_777_536_900, 7259);
        assert_eq!(d.as_str(), "2026-04-30T10:15:00+02:00");
        assert_eq!(d.unix_timestamp().unwrap(), 1_777_536_900);
        let d = DateTime::from_unix(1_777_536_900, -7259);
        assert_eq!(d.as_str(), "2026-04-30T06:15:00-02:00");
        assert_eq!(d.unix_timestamp().unwrap(), 1_777_536_900);
        // An offset beyond ±23:59 is clamped to it.
        let d = DateTime::from_unix(1_777_536_900, 30 * 3600);
        assert_eq!(d.as_str(), "2026-05-01T08:14:00+23:59");
        assert_eq!(d.unix_timestamp().unwrap(), 1_777_536_900);
    }

    #[test]
    fn unix_timestamp_of_the_extreme_wire_values() {
        let first = DateTime::parse("0000-01-01T00:00:00+23:59").unwrap();
        assert_eq!(
            first.unix_timestamp().unwrap(),
            MIN_LOCAL_UNIX - i64::from(MAX_OFFSET_SECONDS)
        );
        let last = DateTime::parse("9999-12-31T23:59:60.999999999-23:59").unwrap();
        assert_eq!(
            last.unix_timestamp().unwrap(),
            MAX_LOCAL_UNIX + 1 + i64::from(MAX_OFFSET_SECONDS)
        );
        // A fraction longer than nine digits is read, not accumulated.
        let long = format!("2026-04-30T10:15:00.{}Z", "9".repeat(400));
        assert_eq!(
            DateTime::parse(&long).unwrap().parts().unwrap().nanosecond,
            999_999_999
        );
    }

    #[test]
    fn rejects_garbage_without_panicking() {
        for bad in [
            "",
            "2026",
            "2026-13-01T00:00:00Z",
            "2026-02-30T00:00:00Z",
            "2026-04-30T10:15:00",
            "2026-04-30T10:15:00+02:00x",
            "2026-04-30T10:15:00.+02:00",
            "ß026-04-30T10:15:00Z",
        ] {
            assert!(DateTime::parse(bad).is_err(), "{bad}");
        }
        assert!(DateTime::parse("2024-02-29T23:59:60.123Z").is_ok());
    }
}
