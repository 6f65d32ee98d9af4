//! Parsing responses: the envelope, both error shapes, and typed results.
//!
//! Rules, in order:
//!
//! 1. An empty or non-JSON body (an HTML 502 page from a proxy) is
//!    [`Error::UnexpectedBody`] with the status and a short scrubbed snippet.
//! 2. A JSON object with a non-null `error` is an [`Error::Api`], **whatever the
//!    status** (2xx included) and wherever `error` stands among the keys. Both shapes
//!    are read: REST 3.0 `{"error":{"code","message","validation"?}}` and classic
//!    `{"error":"CODE","error_description":"..."}`.
//! 3. A JSON object with `result` is a success; `time` is read leniently (a malformed
//!    `time` is dropped, not fatal) and the `Idempotent-Replayed: true` header sets
//!    [`Reply::replayed`].
//! 4. Anything else is [`Error::Decode`], unless the method accepts a bare result
//!    ([`Method::accepts_bare_result`], for `rest.documentation.openapi`), in which case
//!    the whole body is the result.
//!
//! Unknown fields are ignored everywhere; a key sent twice counts with its last
//! value. Nothing here panics on any input.
//!
//! # One pass over a success body
//!
//! A success body is read once: its top level is split into the raw JSON text of
//! `result`, `error` and `time` ([`RawValue`], borrowed from the body, checked for
//! JSON syntax but not built into a tree), and [`Method::decode`] builds the typed
//! output straight from the raw `result`. Other top-level keys are skipped. JSON
//! paths are tracked only when a decode fails: the failing decode is run again with
//! path tracking. A success so costs a plain `serde_json` decode of the typed
//! envelope plus a syntax scan of `result`.
//!
//! The slower, strict paths run only on rare answers: an error body is parsed
//! whole into a [`Value`] before it is read, and so is a body that fails to decode
//! or has neither `result` nor `error`. So text that is valid JSON syntax but that
//! `serde_json` refuses to build into a value (a lone UTF-16 surrogate escape, a
//! number past `f64`) still gives [`Error::UnexpectedBody`] there. In a success body
//! it does so only where it is read: in a part that nothing reads (an unknown field,
//! a repeated key's earlier value) it is skipped like the rest of that part, and in
//! `time` it makes `time` malformed, so dropped.

use b24_types::{ApiError, ErrorCode, ErrorShape, Time, ValidationIssue};
use serde::de::{self, DeserializeOwned, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

use crate::error::Error;
use crate::method::Method;
use crate::reply::Reply;

/// The longest body snippet kept in [`Error::UnexpectedBody`], in characters.
pub const SNIPPET_CHARS: usize = 200;

/// The header that marks a replayed idempotent answer.
pub(crate) const IDEMPOTENT_REPLAYED: &str = "idempotent-replayed";

/// Parses a response into the method's typed reply.
///
/// # Errors
///
/// [`Error::Api`] for an error body (any status), [`Error::UnexpectedBody`] for an
/// empty or non-JSON body, [`Error::Decode`] for JSON of the wrong shape (with the
/// JSON path, e.g. `result.item.id`).
pub fn parse_response<M: Method>(
    method: &M,
    response: &http::Response<bytes::Bytes>,
) -> Result<Reply<M::Output>, Error> {
    if response.status().is_success() {
        if let Some((result, time)) = method.decode_body(response.body()) {
            return Ok(Reply::new(result, time, is_replayed(response.headers())));
        }
    }
    parse_with(
        response.status(),
        response.headers(),
        response.body(),
        method.accepts_bare_result(),
        |result| method.decode(result),
    )
}

/// Parses the envelope without a method: the `result` as an untyped [`Value`]
/// (object keys in the order sent), the `time` object and whether the answer was
/// replayed. Bodies without the `{"result"}` envelope are a [`Error::Decode`].
///
/// # Errors
///
/// As [`parse_response`].
pub fn parse_envelope(
    status: http::StatusCode,
    headers: &http::HeaderMap,
    body: &[u8],
) -> Result<Reply<Value>, Error> {
    parse_envelope_with(status, headers, body, false)
}

/// As [`parse_envelope`]; with `accept_bare`, a JSON body with neither `result` nor
/// `error` is taken whole as the result.
///
/// # Errors
///
/// As [`parse_response`].
pub fn parse_envelope_with(
    status: http::StatusCode,
    headers: &http::HeaderMap,
    body: &[u8],
    accept_bare: bool,
) -> Result<Reply<Value>, Error> {
    parse_with(status, headers, body, accept_bare, decode_value)
}

/// Decodes the raw JSON of a `result` into `T`, reporting the JSON path of a failure.
///
/// The error is [`Error::Decode`] with status 0 and the path relative to `result`
/// (`.` for `result` itself); [`parse_response`] fills in the status and prefixes
/// `result`. Method implementations use this in [`Method::decode`]. The path is
/// worked out only when decoding fails, so a success costs a plain `serde_json`
/// decode.
///
/// # Errors
///
/// [`Error::Decode`] when `result` does not have `T`'s shape.
pub fn decode_json<T: DeserializeOwned>(result: &RawValue) -> Result<T, Error> {
    let text = result.get();
    serde_json::from_str(text).map_err(|plain| locate_failure::<T>(text, &plain))
}

/// Decodes the raw JSON of a `result` into an untyped [`Value`] (object keys in the
/// order sent): the [`Method::decode`] of a method whose output is a `Value`.
///
/// # Errors
///
/// [`Error::Decode`] when `result` is JSON that `serde_json` cannot hold in a
/// `Value` (a lone surrogate escape, a number out of range); [`parse_response`] turns
/// that into [`Error::UnexpectedBody`], as for any body that is not valid JSON.
pub fn decode_value(result: &RawValue) -> Result<Value, Error> {
    decode_json(result)
}

/// Runs a failed decode again with path tracking, for the path of the failure.
fn locate_failure<T: DeserializeOwned>(text: &str, plain: &serde_json::Error) -> Error {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    match serde_path_to_error::deserialize::<_, T>(&mut deserializer) {
        Err(tracked) => Error::Decode {
            status: 0,
            path: tracked.path().to_string(),
            message: message_of(tracked.inner()),
        },
        // Decoding the same text the same way cannot succeed the second time unless
        // the type's `Deserialize` is not deterministic; keep the first failure.
        Ok(_) => Error::Decode {
            status: 0,
            path: ".".to_owned(),
            message: message_of(plain),
        },
    }
}

/// A decode error's message without the line and column (they would count within
/// `result`, not the body; the JSON path says where).
fn message_of(error: &serde_json::Error) -> String {
    let full = error.to_string();
    if error.line() == 0 {
        return full;
    }
    let position = format!(" at line {} column {}", error.line(), error.column());
    match full.strip_suffix(&position) {
        Some(message) => message.to_owned(),
        None => full,
    }
}

/// The one parser behind [`parse_response`] and [`parse_envelope_with`].
fn parse_with<T>(
    status: http::StatusCode,
    headers: &http::HeaderMap,
    body: &[u8],
    accept_bare: bool,
    decode: impl FnOnce(&RawValue) -> Result<T, Error>,
) -> Result<Reply<T>, Error> {
    let code = status.as_u16();
    let Some(&first) = body.iter().find(|b| !b.is_ascii_whitespace()) else {
        return Err(Error::UnexpectedBody {
            status: code,
            snippet: String::new(),
        });
    };
    let replayed = is_replayed(headers);
    let finish = |decoded: Result<T, Error>, time: Option<Time>| match decoded {
        Ok(result) => Ok(Reply::new(result, time, replayed)),
        Err(err) => Err(decode_failure(code, body, err)),
    };
    if first != b'{' {
        // Not an object (or not JSON at all): rare, so checked strictly.
        if serde_json::from_slice::<Value>(body).is_err() {
            return Err(unexpected_body(code, body));
        }
        if !accept_bare {
            return Err(Error::Decode {
                status: code,
                path: ".".to_owned(),
                message: "the body is JSON but not an object".to_owned(),
            });
        }
        return finish(decode(whole_body(code, body)?), None);
    }
    let envelope: RawEnvelope<'_> =
        serde_json::from_slice(body).map_err(|_| unexpected_body(code, body))?;
    if envelope.error.is_some_and(|e| e.get() != "null") {
        return Err(api_error(code, body));
    }
    let time = envelope.time.and_then(read_time);
    if let Some(result) = envelope.result {
        return finish(decode(result), time);
    }
    if accept_bare {
        return finish(decode(whole_body(code, body)?), None);
    }
    if serde_json::from_slice::<Value>(body).is_err() {
        return Err(unexpected_body(code, body));
    }
    Err(Error::Decode {
        status: code,
        path: ".".to_owned(),
        message: "the body has neither `result` nor `error`".to_owned(),
    })
}

/// The whole body as one raw JSON value (a bare result).
fn whole_body(code: u16, body: &[u8]) -> Result<&RawValue, Error> {
    serde_json::from_slice(body).map_err(|_| unexpected_body(code, body))
}

/// Fills in a decode failure's status and `result` path prefix. A body that is not
/// strictly valid JSON is an unexpected body, as it would be without the fast path.
fn decode_failure(code: u16, body: &[u8], err: Error) -> Error {
    match err {
        Error::Decode {
            status: 0,
            path,
            message,
        } => {
            if serde_json::from_slice::<Value>(body).is_err() {
                unexpected_body(code, body)
            } else {
                Error::Decode {
                    status: code,
                    path: prefix_path("result", &path),
                    message,
                }
            }
        }
        other => other,
    }
}

fn unexpected_body(code: u16, body: &[u8]) -> Error {
    Error::UnexpectedBody {
        status: code,
        snippet: scrub_snippet(body),
    }
}

/// Reads an error body (one whose `error` is not null), parsed whole.
fn api_error(code: u16, body: &[u8]) -> Error {
    let Ok(Value::Object(object)) = serde_json::from_slice::<Value>(body) else {
        return unexpected_body(code, body);
    };
    let time = object.get("time").and_then(read_time_value);
    match object.get("error") {
        Some(error) if !error.is_null() => read_error(code, error, &object, time),
        // The raw split saw a non-null `error`, so this is not reached; an error body
        // that reads otherwise is not one this parser understands.
        _ => unexpected_body(code, body),
    }
}

/// The top-level keys of an object body that the parser looks at, as raw JSON text
/// borrowed from the body; every other key is skipped. A repeated key keeps its last
/// value.
#[derive(Default)]
struct RawEnvelope<'a> {
    result: Option<&'a RawValue>,
    error: Option<&'a RawValue>,
    time: Option<&'a RawValue>,
}

impl<'de> Deserialize<'de> for RawEnvelope<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(EnvelopeVisitor)
    }
}

struct EnvelopeVisitor;

impl<'de> Visitor<'de> for EnvelopeVisitor {
    type Value = RawEnvelope<'de>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut envelope = RawEnvelope::default();
        while let Some(key) = map.next_key::<EnvelopeKey>()? {
            match key {
                EnvelopeKey::Result => envelope.result = Some(map.next_value()?),
                EnvelopeKey::Error => envelope.error = Some(map.next_value()?),
                EnvelopeKey::Time => envelope.time = Some(map.next_value()?),
                EnvelopeKey::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(envelope)
    }
}

/// A top-level key, compared after JSON unescaping.
enum EnvelopeKey {
    Result,
    Error,
    Time,
    Other,
}

impl<'de> Deserialize<'de> for EnvelopeKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_identifier(KeyVisitor)
    }
}

struct KeyVisitor;

impl Visitor<'_> for KeyVisitor {
    type Value = EnvelopeKey;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an object key")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<Self::Value, E> {
        Ok(match key {
            "result" => EnvelopeKey::Result,
            "error" => EnvelopeKey::Error,
            "time" => EnvelopeKey::Time,
            _ => EnvelopeKey::Other,
        })
    }
}

fn prefix_path(prefix: &str, path: &str) -> String {
    if path.is_empty() || path == "." {
        prefix.to_owned()
    } else if path.starts_with('[') {
        format!("{prefix}{path}")
    } else {
        format!("{prefix}.{path}")
    }
}

fn is_replayed(headers: &http::HeaderMap) -> bool {
    headers.get_all(IDEMPOTENT_REPLAYED).iter().any(|v| {
        v.to_str()
            .is_ok_and(|s| s.trim().eq_ignore_ascii_case("true"))
    })
}

/// The one-pass decode of a success body `{"result":{"item":T},"time":{..}}` and
/// nothing else: any other key (an `error` among them), a `time` that is not a
/// readable time object, or any other shape gives `None`, for the general path.
pub(crate) fn decode_item_body<T: DeserializeOwned>(body: &[u8]) -> Option<(T, Option<Time>)> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct ItemBody<T> {
        result: b24_types::ItemResult<T>,
        #[serde(default)]
        time: Option<Time>,
    }
    // Text first: `serde_json` skips unknown fields without checking their UTF-8,
    // and the general path refuses a body that is not UTF-8 at all.
    let text = std::str::from_utf8(body).ok()?;
    serde_json::from_str::<ItemBody<T>>(text)
        .ok()
        .map(|b| (b.result.item, b.time))
}

/// As [`decode_item_body`], for `{"result":{"items":[T, ..]},"time":{..}}`.
pub(crate) fn decode_items_body<T: DeserializeOwned>(
    body: &[u8],
) -> Option<(Vec<T>, Option<Time>)> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct ItemsBody<T> {
        result: b24_types::ItemsResult<T>,
        #[serde(default)]
        time: Option<Time>,
    }
    let text = std::str::from_utf8(body).ok()?;
    serde_json::from_str::<ItemsBody<T>>(text)
        .ok()
        .map(|b| (b.result.items, b.time))
}

fn read_time(raw: &RawValue) -> Option<Time> {
    serde_json::from_str(raw.get()).ok()
}

fn read_time_value(value: &Value) -> Option<Time> {
    Time::deserialize(value).ok()
}

/// Reads either error shape. Never fails: odd shapes still become an API error, so
/// the status-based classification can act on them.
fn read_error(
    status: u16,
    error: &Value,
    object: &serde_json::Map<String, Value>,
    time: Option<Time>,
) -> Error {
    let mut api = match error {
        Value::Object(detail) => {
            let code = detail
                .get("code")
                .map(code_of)
                .unwrap_or_else(|| ErrorCode::Other(String::new()));
            let message = detail.get("message").map(text_of).unwrap_or_default();
            let validation = detail
                .get("validation")
                .map(read_validation)
                .unwrap_or_default();
            ApiError::new(status, code, message, ErrorShape::V3).with_validation(validation)
        }
        other => {
            let message = object
                .get("error_description")
                .map(text_of)
                .unwrap_or_default();
            ApiError::new(status, code_of(other), message, ErrorShape::Classic)
        }
    };
    api.time = time;
    Error::Api(Box::new(api))
}

fn code_of(value: &Value) -> ErrorCode {
    match value {
        Value::String(s) => ErrorCode::from_wire(s),
        Value::Number(n) => ErrorCode::Other(n.to_string()),
        other => ErrorCode::Other(other.to_string()),
    }
}

fn text_of(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn read_validation(value: &Value) -> Vec<ValidationIssue> {
    let Value::Array(items) = value else {
        return Vec::new();
    };
    items
        .iter()
        .map(|item| match item {
            Value::Object(o) => {
                let message = o.get("message").map(text_of).unwrap_or_default();
                match o.get("field") {
                    None | Some(Value::Null) => ValidationIssue::general(message),
                    Some(field) => ValidationIssue::field(text_of(field), message),
                }
            }
            other => ValidationIssue::general(text_of(other)),
        })
        .collect()
}

/// A short, printable, secret-free start of a body: URLs and long token-like words
/// are dropped, control characters become spaces, runs of whitespace collapse, and
/// the result is cut to [`SNIPPET_CHARS`] characters at a character boundary.
pub fn scrub_snippet(body: &[u8]) -> String {
    // Look at a bounded prefix only; a few KiB is plenty for 200 characters of text.
    let head = body.get(..4096).unwrap_or(body);
    let text = String::from_utf8_lossy(head);
    let mut words: Vec<String> = Vec::new();
    let mut total = 0usize;
    for word in text.split(|c: char| c.is_whitespace() || c.is_control()) {
        if word.is_empty() {
            continue;
        }
        let word = if looks_like_url(word) {
            "[url]".to_owned()
        } else if looks_like_token(word) {
            "[redacted]".to_owned()
        } else {
            word.to_owned()
        };
        total += word.chars().count() + 1;
        words.push(word);
        if total > SNIPPET_CHARS {
            break;
        }
    }
    let joined = words.join(" ");
    if joined.chars().count() > SNIPPET_CHARS {
        let mut cut: String = joined.chars().take(SNIPPET_CHARS).collect();
        cut.push('…');
        cut
    } else {
        joined
    }
}

fn looks_like_url(word: &str) -> bool {
    let lower = word.to_ascii_lowercase();
    lower.contains("://") || lower.contains("/rest/") || lower.contains("www.")
}

/// A long run of letters and digits mixing both, the shape of a secret or token.
fn looks_like_token(word: &str) -> bool {
    word.split(|c: char| !c.is_ascii_alphanumeric())
        .any(|part| {
            part.len() >= 16
                && part.bytes().any(|b| b.is_ascii_digit())
                && part.bytes().any(|b| b.is_ascii_alphabetic())
        })
}
