//! Helpers of the event tests: PHP's `http_build_query`, written again here so that
//! the tests do not trust the decoder's own reading of the format.

use serde_json::Value;

/// The member id and application token of the test portal.
pub const MEMBER: &str = "a223c6b3710f85df22e9377d6c4f7553";
pub const APP_TOKEN: &str = "51856fefAppTokenCanary0c82";
pub const ACCESS: &str = "a98b9d69AccessCanary0000084400";
pub const REFRESH: &str = "990ac569RefreshCanary000084400";

/// `http_build_query` of a JSON tree: nested keys in brackets (encoded), scalars as
/// text, `true`/`false` as `1`/`0`, nulls left out.
pub fn php_form(root: &Value) -> String {
    let mut out = Vec::new();
    if let Value::Object(map) = root {
        for (k, v) in map {
            flatten(k.clone(), v, &mut out);
        }
    }
    out.join("&")
}

fn flatten(key: String, value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Null => {}
        Value::Bool(b) => out.push(format!("{}={}", enc(&key), u8::from(*b))),
        Value::Number(n) => out.push(format!("{}={}", enc(&key), n)),
        Value::String(s) => out.push(format!("{}={}", enc(&key), enc(s))),
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                flatten(format!("{key}[{i}]"), v, out);
            }
        }
        Value::Object(map) => {
            for (k, v) in map {
                flatten(format!("{key}[{k}]"), v, out);
            }
        }
    }
}

/// PHP's `urlencode`.
pub fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => out.push(char::from(b)),
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The `auth` block an OAuth app gets with a task event.
pub fn auth() -> Value {
    serde_json::json!({
        "access_token": ACCESS,
        "expires": "1771932585",
        "expires_in": "3600",
        "scope": "task",
        "domain": "some-domain.bitrix24.com",
        "server_endpoint": "https://oauth.bitrix.info/rest/",
        "status": "F",
        "client_endpoint": "https://some-domain.bitrix24.com/rest/",
        "member_id": MEMBER,
        "user_id": "27",
        "refresh_token": REFRESH,
        "application_token": APP_TOKEN,
    })
}

/// A whole delivery body for `event` with `data`.
pub fn delivery(event: &str, data: Value) -> String {
    php_form(&serde_json::json!({
        "event": event,
        "event_handler_id": "403",
        "data": data,
        "ts": "1771928985",
        "auth": auth(),
    }))
}
