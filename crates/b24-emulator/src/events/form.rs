//! Event bodies as the platform writes them: PHP's `http_build_query` over nested
//! arrays (`data[FIELDS_AFTER][MESSAGE_ID]=34239`), every scalar as text.

use serde_json::Value;

/// Encodes `pairs` (each a top-level name and a value tree) the way PHP's
/// `http_build_query` does: nested keys in brackets, `%5B`/`%5D` encoded, spaces as
/// `+`, `true`/`false` as `1`/`0`, `null` and empty arrays left out.
pub(crate) fn build_query(pairs: &[(&str, &Value)]) -> String {
    let mut out = Vec::new();
    for (name, value) in pairs {
        flatten((*name).to_owned(), value, &mut out);
    }
    out.join("&")
}

fn flatten(key: String, value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Null => {}
        Value::Bool(b) => out.push(pair(&key, if *b { "1" } else { "0" })),
        Value::Number(n) => out.push(pair(&key, &n.to_string())),
        Value::String(s) => out.push(pair(&key, s)),
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

fn pair(key: &str, value: &str) -> String {
    format!("{}={}", urlencode(key), urlencode(value))
}

/// PHP's `urlencode`: letters, digits and `-_.` stay, a space is `+`, every other
/// byte is `%XX`.
pub(crate) fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.') {
            out.push(char::from(b));
        } else if b == b' ' {
            out.push('+');
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nested_like_php() {
        let data = json!({"FIELDS_BEFORE":"undefined","FIELDS_AFTER":{"ID":0,"MESSAGE_ID":5},"L":[true,null],"E":[]});
        assert_eq!(
            build_query(&[("event", &json!("ONTASKCOMMENTADD")), ("data", &data)]),
            "event=ONTASKCOMMENTADD&data%5BFIELDS_BEFORE%5D=undefined\
             &data%5BFIELDS_AFTER%5D%5BID%5D=0&data%5BFIELDS_AFTER%5D%5BMESSAGE_ID%5D=5\
             &data%5BL%5D%5B0%5D=1"
        );
        assert_eq!(urlencode("a b~ö"), "a+b%7E%C3%B6");
    }
}
