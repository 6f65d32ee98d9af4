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
    pub fn from_unix(unix: i64, offset_seconds: i32) -> Self {
        let local = unix + i64::from(offset_seconds);
        let days = local.div_euclid(86_400);
        let secs = local.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        let sign = if offset_seconds < 0 { '-' } else { '+' };
        let off = offset_seconds.unsigned_abs();
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
