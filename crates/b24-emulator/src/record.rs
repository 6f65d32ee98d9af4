//! What tests can read back: recorded requests.

use bytes::Bytes;

/// Which API a request was addressed to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Endpoint {
    /// REST 3.0, `/rest/api/...`.
    V3,
    /// The v3 batch, `/rest/api/batch`.
    Batch,
    /// Classic, `/rest/...`.
    Classic,
    /// The OAuth token endpoint, `/oauth/token/`.
    OAuth,
    /// A path the emulator does not serve.
    Unknown,
}

/// One request the emulator received, with secrets removed.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RecordedRequest {
    /// HTTP method (`POST`, `GET`).
    pub http_method: String,
    /// The API addressed.
    pub api: Endpoint,
    /// The REST method name (lower-case), `batch`, or `oauth.token`.
    pub method: String,
    /// The path, rebuilt from what the emulator understood of it and never kept as
    /// sent: a webhook secret becomes `[redacted]`. In a path the emulator does not
    /// serve, every segment other than the words `rest`, `api`, `oauth` and `token`
    /// becomes `[redacted]`. A query follows, its secret values redacted as in `body`.
    pub path: String,
    /// Headers, without `authorization`, `cookie` and `proxy-authorization`.
    pub headers: Vec<(String, String)>,
    /// The body; in JSON bodies an `auth` value is replaced by `"[redacted]"`; form
    /// and query secrets (`auth`, `client_secret`, `refresh_token`, `code`) likewise.
    pub body: Bytes,
    /// The emulator clock's time when it arrived.
    pub at: f64,
}

impl RecordedRequest {
    /// The header value, if sent (name matched case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON, if it is JSON.
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

const SECRET_KEYS: &[&str] = &[
    "auth",
    "client_secret",
    "refresh_token",
    "code",
    "access_token",
];

/// Replaces secret values in a JSON or form body.
pub(crate) fn redact_body(body: &[u8]) -> Bytes {
    if let Ok(mut v) = serde_json::from_slice::<serde_json::Value>(body) {
        redact_json(&mut v);
        return Bytes::from(v.to_string());
    }
    match std::str::from_utf8(body) {
        Ok(text) if text.contains('=') => Bytes::from(redact_form(text)),
        _ => Bytes::copy_from_slice(body),
    }
}

fn redact_json(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, val) in m.iter_mut() {
                if SECRET_KEYS.contains(&k.as_str()) {
                    *val = serde_json::Value::from("[redacted]");
                } else {
                    redact_json(val);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(redact_json),
        _ => {}
    }
}

/// Replaces secret values in `a=b&c=d` text.
pub(crate) fn redact_form(text: &str) -> String {
    text.split('&')
        .map(|pair| match pair.split_once('=') {
            Some((k, _)) if SECRET_KEYS.contains(&k) => format!("{k}=[redacted]"),
            _ => pair.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("&")
}
