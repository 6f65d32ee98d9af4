//! Parsing responses: the envelope, both error shapes, and typed results.
//!
//! Rules, in order:
//!
//! 1. An empty or non-JSON body (an HTML 502 page from a proxy) is
//!    [`Error::UnexpectedBody`] with the status and a short scrubbed snippet.
//! 2. A JSON object with a non-null `error` is an [`Error::Api`], **whatever the
//!    status** (2xx included). Both shapes are read: REST 3.0
//!    `{"error":{"code","message","validation"?}}` and classic
//!    `{"error":"CODE","error_description":"..."}`.
//! 3. A JSON object with `result` is a success; `time` is read leniently (a malformed
//!    `time` is dropped, not fatal) and the `Idempotent-Replayed: true` header sets
//!    [`Reply::replayed`].
//! 4. Anything else is [`Error::Decode`], unless the method accepts a bare result
//!    ([`Method::accepts_bare_result`], for `rest.documentation.openapi`), in which case
//!    the whole body is the result.
//!
//! Unknown fields are ignored everywhere. Nothing here panics on any input.

use b24_types::{ApiError, ErrorCode, ErrorShape, Time, ValidationIssue};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::Error;
use crate::method::Method;
use crate::reply::Reply;

/// The longest body snippet kept in [`Error::UnexpectedBody`], in characters.
pub const SNIPPET_CHARS: usize = 200;

/// The header that marks a replayed idempotent answer.
pub const IDEMPOTENT_REPLAYED: &str = "idempotent-replayed";

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
    let status = response.status();
    let reply = parse_envelope_with(
        status,
        response.headers(),
        response.body(),
        method.accepts_bare_result(),
    )?;
    let Reply {
        result,
        time,
        replayed,
    } = reply;
    match method.decode(result) {
        Ok(output) => Ok(Reply::new(output, time, replayed)),
        Err(Error::Decode {
            status: 0,
            path,
            message,
        }) => Err(Error::Decode {
            status: status.as_u16(),
            path: prefix_path("result", &path),
            message,
        }),
        Err(other) => Err(other),
    }
}

/// Parses the envelope without a method: the raw `result`, the `time` object and
/// whether the answer was replayed. Bodies without the `{"result"}` envelope are a
/// [`Error::Decode`].
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
    let code = status.as_u16();
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(Error::UnexpectedBody {
            status: code,
            snippet: String::new(),
        });
    }
    let value: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(_) => {
            return Err(Error::UnexpectedBody {
                status: code,
                snippet: scrub_snippet(body),
            })
        }
    };
    let replayed = is_replayed(headers);
    let mut object = match value {
        Value::Object(map) => map,
        other if accept_bare => return Ok(Reply::new(other, None, replayed)),
        _ => {
            return Err(Error::Decode {
                status: code,
                path: ".".to_owned(),
                message: "the body is JSON but not an object".to_owned(),
            })
        }
    };
    let time = object.get("time").and_then(read_time);
    match object.get("error") {
        None | Some(Value::Null) => {}
        Some(error) => return Err(read_error(code, error, &object, time)),
    }
    if let Some(result) = object.remove("result") {
        return Ok(Reply::new(result, time, replayed));
    }
    if accept_bare {
        return Ok(Reply::new(Value::Object(object), None, replayed));
    }
    Err(Error::Decode {
        status: code,
        path: ".".to_owned(),
        message: "the body has neither `result` nor `error`".to_owned(),
    })
}

/// Decodes a JSON value into `T`, reporting the JSON path of a failure.
///
/// The error is [`Error::Decode`] with status 0 and the path relative to `value`;
/// [`parse_response`] fills in the status and prefixes `result`. Method
/// implementations use this in [`Method::decode`].
///
/// # Errors
///
/// [`Error::Decode`] when `value` does not have `T`'s shape.
pub fn decode_json<T: DeserializeOwned>(value: Value) -> Result<T, Error> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        Error::Decode {
            status: 0,
            path,
            message: e.into_inner().to_string(),
        }
    })
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

fn read_time(value: &Value) -> Option<Time> {
    serde_json::from_value(value.clone()).ok()
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
