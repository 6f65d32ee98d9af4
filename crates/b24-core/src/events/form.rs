//! PHP-style nested form bodies: `data[FIELDS_AFTER][MESSAGE_ID]=34239&auth[member_id]=..`
//! into a tree of maps with string leaves.
//!
//! The portal builds event bodies with PHP's `http_build_query` and PHP handlers read
//! them with `parse_str`; this is the reading side, with the same key rules and hard
//! limits on size, field count and nesting depth. Percent-decoding is strict: bytes
//! that do not decode to UTF-8 are an error, never replaced, so two different bodies
//! never read as the same tree.

use percent_encoding::percent_decode;
use serde_json::{Map, Value};

/// Limits on a form body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct FormLimits {
    /// The largest body accepted, in bytes.
    pub max_bytes: usize,
    /// The most `key=value` pairs accepted (PHP's `max_input_vars` is 1000).
    pub max_fields: usize,
    /// The most bracket levels in one key (`data[A][B]` has 2).
    pub max_depth: usize,
}

impl FormLimits {
    /// 256 KiB, 1000 fields, 16 levels.
    pub const DEFAULT: FormLimits = FormLimits {
        max_bytes: 256 * 1024,
        max_fields: 1000,
        max_depth: 16,
    };

    /// Limits of `max_bytes` bytes, `max_fields` pairs and `max_depth` levels.
    pub const fn new(max_bytes: usize, max_fields: usize, max_depth: usize) -> Self {
        Self {
            max_bytes,
            max_fields,
            max_depth,
        }
    }

    /// Limits with another body size cap.
    pub fn with_max_bytes(mut self, max_bytes: usize) -> Self {
        self.max_bytes = max_bytes;
        self
    }
}

impl Default for FormLimits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Why a form body could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FormError {
    /// The body is larger than [`FormLimits::max_bytes`].
    #[error("the body is larger than {limit} bytes")]
    TooLarge {
        /// The limit.
        limit: usize,
    },
    /// A key or value does not percent-decode to UTF-8 (the `n`-th pair, from 1).
    #[error("pair {pair} does not decode to UTF-8 text")]
    InvalidEncoding {
        /// Which pair, counting from 1.
        pair: usize,
    },
    /// More pairs than [`FormLimits::max_fields`].
    #[error("more than {limit} fields")]
    TooManyFields {
        /// The limit.
        limit: usize,
    },
    /// A key nests deeper than [`FormLimits::max_depth`].
    #[error("a key nests deeper than {limit} levels")]
    TooDeep {
        /// The limit.
        limit: usize,
    },
}

/// Parses a form body into a map of its top-level names.
///
/// Key rules follow PHP's `parse_str`: `a[b][c]=v` nests, `a[]=v` appends with the
/// next integer key, a later pair replaces an earlier one at the same place (and a
/// scalar replaced by a map, or the other way round, takes the later shape), leading
/// spaces of a name are dropped and `.`/space in a top-level name become `_`, a `[`
/// without its `]` is part of the name (as `_`), and text after the last `]` is
/// ignored. A pair with an empty name is skipped. Lists are kept as maps with integer
/// keys (`"0"`, `"1"`, ...), as PHP arrays are.
///
/// # Errors
///
/// [`FormError`] for a body over the limits or one that is not UTF-8 once decoded.
pub fn parse_form(body: &[u8], limits: &FormLimits) -> Result<Map<String, Value>, FormError> {
    if body.len() > limits.max_bytes {
        return Err(FormError::TooLarge {
            limit: limits.max_bytes,
        });
    }
    let mut root = Map::new();
    let mut fields = 0usize;
    for (index, pair) in body.split(|b| *b == b'&').enumerate() {
        if pair.is_empty() {
            continue;
        }
        fields += 1;
        if fields > limits.max_fields {
            return Err(FormError::TooManyFields {
                limit: limits.max_fields,
            });
        }
        let (raw_key, raw_value) = match pair.iter().position(|b| *b == b'=') {
            Some(at) => (
                pair.get(..at).unwrap_or_default(),
                pair.get(at + 1..).unwrap_or_default(),
            ),
            None => (pair, &b""[..]),
        };
        let bad = FormError::InvalidEncoding { pair: index + 1 };
        let key = decode_component(raw_key).ok_or_else(|| bad.clone())?;
        let value = decode_component(raw_value).ok_or(bad)?;
        let Some((name, path)) = split_key(&key) else {
            continue;
        };
        if path.len() > limits.max_depth {
            return Err(FormError::TooDeep {
                limit: limits.max_depth,
            });
        }
        insert(&mut root, name, &path, value);
    }
    Ok(root)
}

/// `+` is a space, `%XX` a byte; the bytes must be UTF-8.
fn decode_component(raw: &[u8]) -> Option<String> {
    let spaced: Vec<u8> = raw
        .iter()
        .map(|b| if *b == b'+' { b' ' } else { *b })
        .collect();
    percent_decode(&spaced)
        .decode_utf8()
        .ok()
        .map(std::borrow::Cow::into_owned)
}

/// A key's top-level name and its bracket path, or `None` when the name is empty.
fn split_key(key: &str) -> Option<(String, Vec<String>)> {
    let key = key.trim_start_matches(' ');
    let open = key.find('[');
    let closes = open.is_some_and(|at| key.get(at..).is_some_and(|rest| rest.contains(']')));
    let (base, rest) = match open {
        Some(at) if closes => (key.get(..at).unwrap_or_default(), key.get(at..)),
        // No `[`, or a `[` that never closes: the whole key is the name.
        _ => (key, None),
    };
    let mut name = String::with_capacity(base.len());
    let mut bracket_seen = false;
    for c in base.chars() {
        name.push(match c {
            ' ' | '.' => '_',
            '[' if !bracket_seen => {
                bracket_seen = true;
                '_'
            }
            c => c,
        });
    }
    if name.is_empty() {
        return None;
    }
    let mut path = Vec::new();
    let mut rest = rest.unwrap_or_default();
    while let Some(inner) = rest.strip_prefix('[') {
        let Some(end) = inner.find(']') else { break };
        path.push(inner.get(..end).unwrap_or_default().to_owned());
        rest = inner.get(end + 1..).unwrap_or_default();
    }
    Some((name, path))
}

/// Sets `map[key][path...] = value`, making maps on the way (a scalar in the way is
/// replaced by a map, as PHP does).
fn insert(map: &mut Map<String, Value>, key: String, path: &[String], value: String) {
    let Some((segment, rest)) = path.split_first() else {
        map.insert(key, Value::String(value));
        return;
    };
    let child = map.entry(key).or_insert_with(|| Value::Object(Map::new()));
    if !child.is_object() {
        *child = Value::Object(Map::new());
    }
    if let Value::Object(child) = child {
        let key = if segment.is_empty() {
            next_index(child)
        } else {
            segment.clone()
        };
        insert(child, key, rest, value);
    }
}

/// PHP's next append index: one past the largest non-negative integer key, or 0.
fn next_index(map: &Map<String, Value>) -> String {
    map.keys()
        .filter_map(|k| k.parse::<u64>().ok())
        .max()
        .map_or(0, |m| m.saturating_add(1))
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(s: &str) -> Value {
        Value::Object(parse_form(s.as_bytes(), &FormLimits::DEFAULT).unwrap())
    }

    #[test]
    fn nests_appends_and_replaces() {
        assert_eq!(
            parse("data[A][B]=1&data[A][C]=x+y&list[]=a&list[]=b&s=%5Bz%5D"),
            json!({"data":{"A":{"B":"1","C":"x y"}},"list":{"0":"a","1":"b"},"s":"[z]"})
        );
        assert_eq!(parse("a=1&a[b]=2"), json!({"a":{"b":"2"}}));
        assert_eq!(parse("a[b]=2&a=1"), json!({"a":"1"}));
        assert_eq!(parse("a.b c=1& x=2"), json!({"a_b_c":"1","x":"2"}));
        assert_eq!(parse("a[b=1"), json!({"a_b":"1"}));
        assert_eq!(parse("a[b]c[d]=1"), json!({"a":{"b":"1"}}));
        assert_eq!(parse("=1&[x]=2&&k"), json!({"k":""}));
        assert_eq!(parse("l[5]=a&l[]=b"), json!({"l":{"5":"a","6":"b"}}));
    }

    #[test]
    fn limits_and_encoding() {
        let limits = FormLimits::new(11, 2, 1);
        assert_eq!(
            parse_form(b"aaaaaaaaaaaa", &limits),
            Err(FormError::TooLarge { limit: 11 })
        );
        assert_eq!(
            parse_form(b"a=1&b=2&c=3", &limits),
            Err(FormError::TooManyFields { limit: 2 })
        );
        assert_eq!(
            parse_form(b"a[b][c]=1", &limits),
            Err(FormError::TooDeep { limit: 1 })
        );
        assert_eq!(
            parse_form(b"a=%FF", &FormLimits::DEFAULT),
            Err(FormError::InvalidEncoding { pair: 1 })
        );
        assert_eq!(
            parse_form(b"a=1&b=\xff", &FormLimits::DEFAULT),
            Err(FormError::InvalidEncoding { pair: 2 })
        );
    }
}
