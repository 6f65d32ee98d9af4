//! The classic batch, `/rest/batch`: `{"halt":0,"cmd":{"key":"method?query",...}}`.
//!
//! Each command is a classic method and a PHP query string (`fields[TITLE]=x`,
//! `select[]=ID`); `cmd` may be an object or an array, and a form body
//! (`cmd[key]=...`) works too. Commands run in order through the classic handlers,
//! each checked against and charged to its own method's operating budget (the outer
//! call is not). A failing command goes into `result_error` under its key and the
//! others go on, unless `halt` is set: then the batch stops there. Commands beyond
//! 50 fail with `ERROR_BATCH_LENGTH_EXCEEDED`, a nested `batch` with
//! `ERROR_BATCH_METHOD_NOT_ALLOWED`, a method the classic API does not have (the
//! REST 3.0-only `tasks.task.result.*` among them) with `ERROR_METHOD_NOT_FOUND`.
//! A parameter value `$result[key][field]...` is replaced with that part of an
//! earlier command's result (the whole value by the referenced JSON value, a
//! reference inside a longer text by its text). The answer is always 200, each
//! empty sub-object written as `[]`, as PHP does.

use b24_types::{ErrorCode, Time};
use serde_json::{Map, Value};

use crate::auth::Caller;
use crate::config::PortalConfig;
use crate::emulator::{metered_call, time_object};
use crate::failure::{system, Failure};
use crate::methods::CLASSIC_METHODS;
use crate::portal::PortalState;
use crate::wire::percent_decode;

/// The most commands a batch runs; later ones fail one by one.
const MAX_COMMANDS: usize = 50;

/// Runs the batch; returns the whole answer body.
pub(crate) fn run(
    state: &mut PortalState,
    cfg: &PortalConfig,
    caller: &Caller,
    params: &Value,
    now: f64,
) -> Value {
    let (halt, commands) = read_request(params);
    let mut results = Map::new();
    let mut errors = Map::new();
    let mut times = Map::new();
    for (index, (key, command)) in commands.into_iter().enumerate() {
        let outcome = run_command(state, cfg, caller, index, command.as_ref(), &results, now);
        match outcome {
            Ok((value, time)) => {
                results.insert(key.clone(), value);
                times.insert(key, time_json(&time));
            }
            Err(f) => {
                errors.insert(key, classic_body(&f));
                if halt {
                    break;
                }
            }
        }
    }
    let mut inner = Map::new();
    inner.insert("result".into(), php_array(results));
    inner.insert("result_error".into(), php_array(errors));
    inner.insert("result_total".into(), php_array(Map::new()));
    inner.insert("result_next".into(), php_array(Map::new()));
    inner.insert("result_time".into(), php_array(times));
    let mut body = Map::new();
    body.insert("result".into(), Value::Object(inner));
    body.insert(
        "time".into(),
        time_json(&time_object(now, 0.0, cfg.utc_offset)),
    );
    Value::Object(body)
}

/// `halt` and the commands (key, query string; `None` for a value that is not one).
fn read_request(params: &Value) -> (bool, Vec<(String, Option<String>)>) {
    let Some(map) = params.as_object() else {
        return (false, Vec::new());
    };
    // A form body arrives as flat `cmd[key]` names: nest them as PHP would.
    let mut nested = Map::new();
    for (name, value) in map {
        if name.starts_with("cmd[") || name.starts_with("halt") {
            if let Some(text) = value.as_str() {
                insert_php(&mut nested, name, Value::from(text));
            }
        }
    }
    let cmd = map.get("cmd").or_else(|| nested.get("cmd"));
    let halt = map
        .get("halt")
        .or_else(|| nested.get("halt"))
        .is_some_and(truthy);
    let commands = match cmd {
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().map(str::to_owned)))
            .collect(),
        Some(Value::Array(a)) => a
            .iter()
            .enumerate()
            .map(|(i, v)| (i.to_string(), v.as_str().map(str::to_owned)))
            .collect(),
        _ => Vec::new(),
    };
    (halt, commands)
}

/// PHP truthiness of a scalar: `0`, `"0"`, `""`, `false` and `null` are false.
fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !(s.is_empty() || s == "0"),
        Value::Array(a) => !a.is_empty(),
        Value::Object(m) => !m.is_empty(),
    }
}

fn run_command(
    state: &mut PortalState,
    cfg: &PortalConfig,
    caller: &Caller,
    index: usize,
    command: Option<&String>,
    results: &Map<String, Value>,
    now: f64,
) -> Result<(Value, Time), Failure> {
    if index >= MAX_COMMANDS {
        return Err(Failure::classic(
            400,
            ErrorCode::BatchLengthExceeded,
            "Max batch length exceeded",
        ));
    }
    let command = command.ok_or_else(system::method_not_found)?;
    let (path, query) = command.split_once('?').unwrap_or((command.as_str(), ""));
    let method = path.trim().to_ascii_lowercase();
    let method = method.strip_suffix(".json").unwrap_or(&method);
    if method == "batch" {
        return Err(Failure::classic(
            405,
            ErrorCode::BatchMethodNotAllowed,
            "Method is not allowed for batch usage",
        ));
    }
    if !CLASSIC_METHODS.contains(&method) {
        return Err(system::method_not_found());
    }
    let mut params = Map::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value = substitute(&percent_decode(value), results);
        insert_php(&mut params, &percent_decode(name), value);
    }
    let params = listify(&Value::Object(params));
    metered_call(state, cfg, caller, method, false, &params, now)
}

/// Inserts `name=value` the way PHP's `parse_str` does: `a[b][]=v` nests, `[]`
/// appends, `.` and spaces in the top name become `_`.
fn insert_php(into: &mut Map<String, Value>, name: &str, value: Value) {
    let (base, rest) = match name.find('[') {
        Some(at) if at > 0 && name.ends_with(']') => name.split_at(at),
        _ => (name, ""),
    };
    let base = base.replace(['.', ' '], "_");
    if base.is_empty() {
        return;
    }
    let segments: Vec<&str> = if rest.is_empty() {
        Vec::new()
    } else {
        rest.trim_start_matches('[')
            .trim_end_matches(']')
            .split("][")
            .collect()
    };
    insert_path(into, base, &segments, value);
}

fn insert_path(into: &mut Map<String, Value>, key: String, path: &[&str], value: Value) {
    let Some((first, rest)) = path.split_first() else {
        into.insert(key, value);
        return;
    };
    let slot = into.entry(key).or_insert_with(|| Value::Object(Map::new()));
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    if let Value::Object(inner) = slot {
        let next = if first.is_empty() {
            inner.len().to_string()
        } else {
            (*first).to_owned()
        };
        insert_path(inner, next, rest, value);
    }
}

/// Turns objects keyed `"0"`, `"1"`, ... in order into arrays, all the way down.
fn listify(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let is_list = m.keys().enumerate().all(|(i, k)| *k == i.to_string());
            if is_list && !m.is_empty() {
                Value::Array(m.values().map(listify).collect())
            } else {
                Value::Object(m.iter().map(|(k, v)| (k.clone(), listify(v))).collect())
            }
        }
        other => other.clone(),
    }
}

/// Replaces `$result[key][part]...` references in a decoded parameter value.
fn substitute(text: &str, results: &Map<String, Value>) -> Value {
    if let Some((value, end)) = reference_at(text, 0, results) {
        if end == text.len() {
            return value;
        }
    }
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    while let Some(found) = text.get(at..).and_then(|t| t.find("$result[")) {
        let start = at + found;
        out.push_str(text.get(at..start).unwrap_or_default());
        match reference_at(text, start, results) {
            Some((value, end)) if !value.is_object() && !value.is_array() => {
                match value {
                    Value::String(s) => out.push_str(&s),
                    Value::Null => {}
                    other => out.push_str(&other.to_string()),
                }
                at = end;
            }
            _ => {
                out.push('$');
                at = start + 1;
            }
        }
    }
    out.push_str(text.get(at..).unwrap_or_default());
    Value::String(out)
}

/// The value of a `$result[...]...` reference starting at `start`, and where it ends.
fn reference_at(text: &str, start: usize, results: &Map<String, Value>) -> Option<(Value, usize)> {
    let mut rest = text.get(start..)?.strip_prefix("$result")?;
    let mut end = start + "$result".len();
    let mut parts = Vec::new();
    while let Some(after) = rest.strip_prefix('[') {
        let close = after.find(']')?;
        let part = after.get(..close)?;
        if part.is_empty() {
            return None;
        }
        parts.push(part);
        end += close + 2;
        rest = after.get(close + 1..)?;
    }
    let (key, path) = parts.split_first()?;
    let mut cur = results.get(*key)?;
    for part in path {
        cur = match cur {
            Value::Object(m) => m.get(*part)?,
            Value::Array(a) => a.get(part.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some((cur.clone(), end))
}

/// A failure as a `result_error` entry: always the classic shape.
fn classic_body(f: &Failure) -> Value {
    match f {
        Failure::Classic { .. } => f.body(),
        Failure::V3 { code, message, .. } => {
            let mut m = Map::new();
            m.insert("error".into(), Value::from(code.as_str()));
            m.insert("error_description".into(), Value::from(message.clone()));
            Value::Object(m)
        }
    }
}

/// A PHP array as JSON: `[]` when empty, an object otherwise.
fn php_array(m: Map<String, Value>) -> Value {
    if m.is_empty() {
        Value::Array(Vec::new())
    } else {
        Value::Object(m)
    }
}

fn time_json(time: &Time) -> Value {
    let mut v = serde_json::to_value(time).unwrap_or(Value::Null);
    if let Some(reset) = v.get_mut("operating_reset_at") {
        if let Some(secs) = reset.as_f64() {
            *reset = Value::from(secs.floor() as i64);
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn php_keys_nest() {
        let mut m = Map::new();
        for (k, v) in [
            ("fields[TITLE]", "x"),
            ("select[]", "ID"),
            ("select[]", "TITLE"),
            ("a.b", "1"),
            ("f[n][0][k]", "0"),
        ] {
            insert_php(&mut m, k, Value::from(v));
        }
        assert_eq!(
            listify(&Value::Object(m)),
            json!({"fields":{"TITLE":"x"},"select":["ID","TITLE"],"a_b":"1","f":{"n":[{"k":"0"}]}})
        );
    }

    #[test]
    fn references_resolve() {
        let results = json!({"a": {"ID": 7, "L": [1, "two"]}, "b": 5});
        let results = results.as_object().unwrap();
        assert_eq!(substitute("$result[b]", results), json!(5));
        assert_eq!(substitute("$result[a][L]", results), json!([1, "two"]));
        assert_eq!(
            substitute("x $result[a][L][1]-$result[a][ID] $result[zz] $", results),
            json!("x two-7 $result[zz] $")
        );
    }
}
