//! Request-side parsing: paths, query strings and form bodies.

use serde_json::{Map, Value};

/// Where a request goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Route {
    /// `/rest/api/[{user}/{secret}/]{method}`
    V3 {
        webhook: Option<(String, String)>,
        method: String,
    },
    /// `/rest/[{user}/{secret}/]{method}[.json]`
    Classic {
        webhook: Option<(String, String)>,
        method: String,
    },
    /// `/oauth/token/`
    Token,
    /// Anything else.
    Unknown,
}

impl Route {
    pub(crate) fn parse(path: &str) -> Route {
        let segments: Vec<&str> = path
            .trim_start_matches('/')
            .trim_end_matches('/')
            .split('/')
            .collect();
        match segments.as_slice() {
            ["oauth", "token"] => Route::Token,
            ["rest", "api", method] => Route::V3 {
                webhook: None,
                method: method.to_ascii_lowercase(),
            },
            ["rest", "api", user, secret, method] => Route::V3 {
                webhook: Some(((*user).to_owned(), (*secret).to_owned())),
                method: method.to_ascii_lowercase(),
            },
            // A REST 3.0 webhook with no method (`/rest/api/{user}/{secret}`) is not a
            // classic call by user `api`: its secret would be read as the method name.
            ["rest", "api", _, _] => Route::Unknown,
            ["rest", method] => Route::Classic {
                webhook: None,
                method: classic_name(method),
            },
            ["rest", user, secret, method] => Route::Classic {
                webhook: Some(((*user).to_owned(), (*secret).to_owned())),
                method: classic_name(method),
            },
            _ => Route::Unknown,
        }
    }

    /// The method name used for counts and faults.
    pub(crate) fn method(&self) -> String {
        match self {
            Route::V3 { method, .. } | Route::Classic { method, .. } => method.clone(),
            Route::Token => "oauth.token".to_owned(),
            Route::Unknown => String::new(),
        }
    }

    /// The path to record, rebuilt from the route so that no raw path is ever kept:
    /// a webhook secret becomes `[redacted]`, and so does a user segment that is not a
    /// number (a malformed URL may have the secret there). A path the emulator does
    /// not serve keeps only the words `rest`, `api`, `oauth` and `token`; every other
    /// segment becomes `[redacted]`, since any of them may be a secret.
    pub(crate) fn redacted_path(&self, path: &str) -> String {
        match self {
            Route::V3 {
                webhook: Some((user, _)),
                method,
            } => format!("/rest/api/{}/{REDACTED}/{method}", user_segment(user)),
            Route::V3 {
                webhook: None,
                method,
            } => format!("/rest/api/{method}"),
            Route::Classic {
                webhook: Some((user, _)),
                method,
            } => format!("/rest/{}/{REDACTED}/{method}", user_segment(user)),
            Route::Classic {
                webhook: None,
                method,
            } => format!("/rest/{method}"),
            Route::Token => "/oauth/token/".to_owned(),
            Route::Unknown => path
                .split('/')
                .map(|segment| match segment {
                    "" | "rest" | "api" | "oauth" | "token" => segment,
                    _ => REDACTED,
                })
                .collect::<Vec<_>>()
                .join("/"),
        }
    }
}

/// What a secret in a recorded path is replaced with.
const REDACTED: &str = "[redacted]";

fn user_segment(user: &str) -> &str {
    if !user.is_empty() && user.bytes().all(|b| b.is_ascii_digit()) {
        user
    } else {
        REDACTED
    }
}

fn classic_name(method: &str) -> String {
    let lower = method.to_ascii_lowercase();
    lower
        .strip_suffix(".json")
        .map(str::to_owned)
        .unwrap_or(lower)
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decodes `application/x-www-form-urlencoded` text (`+` is a space).
pub(crate) fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'+' => out.push(b' '),
            b'%' => match (
                bytes.get(i + 1).copied().and_then(hex_val),
                bytes.get(i + 2).copied().and_then(hex_val),
            ) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            _ => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses `a=1&b=2` into string values; later keys win.
pub(crate) fn parse_form(text: &str, into: &mut Map<String, Value>) {
    for pair in text.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        into.insert(percent_decode(k), Value::from(percent_decode(v)));
    }
}

/// Encodes a value for a URL query or form.
pub(crate) fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert_eq!(
            Route::parse("/rest/api/1/abc/tasks.task.result.add"),
            Route::V3 {
                webhook: Some(("1".into(), "abc".into())),
                method: "tasks.task.result.add".into()
            }
        );
        assert_eq!(
            Route::parse("/rest/im.message.add.json"),
            Route::Classic {
                webhook: None,
                method: "im.message.add".into()
            }
        );
        assert_eq!(Route::parse("/oauth/token/"), Route::Token);
        assert_eq!(Route::parse("/favicon.ico"), Route::Unknown);
    }

    #[test]
    fn recorded_paths_never_carry_a_secret() {
        let secret = "s3cretw3bhookc0de";
        for (path, want) in [
            (
                format!("/rest/api/1/{secret}/tasks.task.get"),
                "/rest/api/1/[redacted]/tasks.task.get",
            ),
            (
                format!("/rest/7/{secret}/im.message.add.json"),
                "/rest/7/[redacted]/im.message.add",
            ),
            (
                format!("/rest/api/1/{secret}/a/b"),
                "/rest/api/[redacted]/[redacted]/[redacted]/[redacted]",
            ),
            (format!("/rest/1/{secret}/"), "/rest/[redacted]/[redacted]/"),
            (format!("/rest/1/{secret}"), "/rest/[redacted]/[redacted]"),
            (
                format!("/rest/api/1/{secret}"),
                "/rest/api/[redacted]/[redacted]",
            ),
            (
                format!("/rest/api/1/{secret}/"),
                "/rest/api/[redacted]/[redacted]/",
            ),
            (
                format!("/rest/api/{secret}/x/tasks.task.get"),
                "/rest/api/[redacted]/[redacted]/tasks.task.get",
            ),
            (
                format!("/rest/{secret}/x/im.message.add"),
                "/rest/[redacted]/[redacted]/im.message.add",
            ),
            (format!("/{secret}"), "/[redacted]"),
            (format!("//{secret}//"), "//[redacted]//"),
            ("/oauth/token".to_owned(), "/oauth/token/"),
            (
                "/rest/api/tasks.task.get".to_owned(),
                "/rest/api/tasks.task.get",
            ),
        ] {
            let got = Route::parse(&path).redacted_path(&path);
            assert_eq!(got, want, "{path}");
            assert!(!got.contains(secret), "{got}");
        }
    }

    #[test]
    fn form_decoding() {
        let mut m = Map::new();
        parse_form("DIALOG_ID=chat58&MESSAGE=hello+w%C3%B6rld%21", &mut m);
        assert_eq!(m.get("MESSAGE"), Some(&Value::from("hello wörld!")));
        assert_eq!(percent_encode("a b/ö"), "a%20b%2F%C3%B6");
    }
}
