//! One command of a bulk run on the wire: its key, the references it makes, its
//! size in a batch body, and how references to a finished command are resolved.

use serde_json::{json, Map, Value};

use crate::api::Api;
use crate::error::{Error, InputError};
use crate::method::Repeat;
use crate::methods::{BatchCommand, ClassicCommand};

/// The longest key a command may be pushed with (the REST 3.0 `as` limit).
pub(crate) const MAX_KEY_LEN: usize = 64;

/// Checks a caller's key: 1 to 64 ASCII letters, digits and `_`, not all digits (a
/// REST 3.0 batch refers to unnamed commands by position) and not starting with `_`
/// (keys of the form `_N` name commands pushed without a key).
pub(crate) fn check_key(key: &str) -> Result<(), &'static str> {
    if key.is_empty() || key.len() > MAX_KEY_LEN {
        return Err("must be 1 to 64 characters");
    }
    if !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err("may hold only ASCII letters, digits and '_'");
    }
    if key.bytes().all(|b| b.is_ascii_digit()) {
        return Err("must not be all digits (a REST 3.0 batch reads those as positions)");
    }
    if key.starts_with('_') {
        return Err("must not start with '_' (reserved for commands pushed without a key)");
    }
    Ok(())
}

/// The wire key of the command at `index` pushed without a key.
pub(crate) fn auto_key(index: usize) -> String {
    format!("_{index}")
}

/// The keys a command's parameters refer to, each once, in order of appearance:
/// `{"$ref":"key.path"}` and `{"$refArray":"key.field"}` markers (REST 3.0: any
/// object holding such a key, as the server reads them) or `$result[key]...` inside
/// string values (classic).
pub(crate) fn references(api: Api, params: &Map<String, Value>) -> Vec<String> {
    let mut out = Vec::new();
    for value in params.values() {
        match api {
            Api::V3 => v3_refs(value, &mut out),
            Api::Classic => classic_refs(value, &mut out),
        }
    }
    out
}

fn push_once(out: &mut Vec<String>, key: &str) {
    if !out.iter().any(|k| k == key) {
        out.push(key.to_owned());
    }
}

fn v3_refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            let marker = map
                .get("$ref")
                .or_else(|| map.get("$refArray"))
                .and_then(Value::as_str);
            if let Some(path) = marker {
                push_once(out, path.split('.').next().unwrap_or_default());
                return;
            }
            for v in map.values() {
                v3_refs(v, out);
            }
        }
        Value::Array(items) => {
            for v in items {
                v3_refs(v, out);
            }
        }
        _ => {}
    }
}

fn classic_refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(text) => {
            let mut rest = text.as_str();
            while let Some(at) = rest.find("$result[") {
                let after = rest.get(at + "$result[".len()..).unwrap_or_default();
                if let Some(close) = after.find(']') {
                    push_once(out, after.get(..close).unwrap_or_default());
                }
                rest = after;
            }
        }
        Value::Object(map) => {
            for v in map.values() {
                classic_refs(v, out);
            }
        }
        Value::Array(items) => {
            for v in items {
                classic_refs(v, out);
            }
        }
        _ => {}
    }
}

/// A command as it goes into a batch, and its size in the batch body (the JSON text
/// of its item, plus one byte for the separator).
pub(crate) enum Wire {
    /// A REST 3.0 batch item.
    V3(BatchCommand),
    /// A classic batch command.
    Classic(ClassicCommand),
}

/// Builds the wire form of a command and measures it.
pub(crate) fn wire(
    api: Api,
    name: &str,
    key: &str,
    params: &Map<String, Value>,
    repeat: Repeat,
) -> Result<(Wire, usize), Error> {
    match api {
        Api::V3 => {
            let command = BatchCommand::new(name, params.clone())?
                .with_alias(key)?
                .with_repeat(repeat);
            let item = json!({ "method": name, "query": params, "as": key });
            let size = serde_json::to_vec(&item).map_or(0, |v| v.len()) + 1;
            Ok((Wire::V3(command), size))
        }
        Api::Classic => {
            let command = ClassicCommand::new(name, params.clone())?.with_repeat(repeat);
            let query = command.query_string()?;
            let size = json_len(&Value::from(key)) + 1 + json_len(&Value::from(query)) + 1;
            Ok((Wire::Classic(command), size))
        }
    }
}

fn json_len(value: &Value) -> usize {
    serde_json::to_vec(value).map_or(0, |v| v.len())
}

/// Why a reference could not be resolved from the answer it names.
fn unresolved(field: &str, path: &str) -> Error {
    InputError::param(
        field,
        format!("`{path}` is not in the answer of the command it names"),
    )
    .into()
}

/// Replaces the references to `key` in `params` with values of `output` (that
/// command's answer, as its batch returned it).
///
/// REST 3.0: the server's context holds a command's `item` or `items`; the path
/// after the key is looked up in the whole answer first (`task.item.id`), then in
/// its `item` / `items` (`task.id`), so either spelling resolves. Classic: as the
/// portal does, `$result[key][a][b]` as the whole value takes the JSON value, inside
/// a longer text its text.
pub(crate) fn substitute(
    api: Api,
    params: &mut Map<String, Value>,
    key: &str,
    output: &Value,
) -> Result<(), Error> {
    for value in params.values_mut() {
        match api {
            Api::V3 => substitute_v3(value, key, output)?,
            Api::Classic => substitute_classic(value, key, output),
        }
    }
    Ok(())
}

fn substitute_v3(value: &mut Value, key: &str, output: &Value) -> Result<(), Error> {
    match value {
        Value::Object(map) => {
            if let Some(path) = map.get("$ref").and_then(Value::as_str) {
                if let Some(rest) = strip_key(path, key) {
                    let found =
                        lookup_in_answer(output, rest).ok_or_else(|| unresolved("$ref", path))?;
                    *value = found;
                }
                return Ok(());
            }
            if let Some(path) = map.get("$refArray").and_then(Value::as_str) {
                if let Some(rest) = strip_key(path, key) {
                    let found = collect_in_answer(output, rest)
                        .ok_or_else(|| unresolved("$refArray", path))?;
                    *value = found;
                }
                return Ok(());
            }
            for v in map.values_mut() {
                substitute_v3(v, key, output)?;
            }
            Ok(())
        }
        Value::Array(items) => {
            for v in items {
                substitute_v3(v, key, output)?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// The part of `path` after `key.`, when `path` starts with that key (`""` for the
/// key alone).
fn strip_key<'p>(path: &'p str, key: &str) -> Option<&'p str> {
    let rest = path.strip_prefix(key)?;
    if rest.is_empty() {
        Some("")
    } else {
        rest.strip_prefix('.')
    }
}

fn lookup(root: &Value, path: &str) -> Option<Value> {
    let mut cur = root;
    if !path.is_empty() {
        for part in path.split('.') {
            cur = match cur {
                Value::Object(m) => m.get(part)?,
                Value::Array(a) => a.get(part.parse::<usize>().ok()?)?,
                _ => return None,
            };
        }
    }
    Some(cur.clone())
}

/// The answer's context: its `item` or `items`, when it has one.
fn context(output: &Value) -> Option<&Value> {
    output.get("item").or_else(|| output.get("items"))
}

fn lookup_in_answer(output: &Value, path: &str) -> Option<Value> {
    lookup(output, path).or_else(|| context(output).and_then(|c| lookup(c, path)))
}

fn collect_in_answer(output: &Value, path: &str) -> Option<Value> {
    let (array_path, field) = match path.rsplit_once('.') {
        Some((a, f)) => (a, f),
        None => ("", path),
    };
    let list = lookup_in_answer(output, array_path)?;
    let list = match list {
        Value::Array(items) => items,
        Value::Object(map) => match map.get("items") {
            Some(Value::Array(items)) => items.clone(),
            _ => return None,
        },
        _ => return None,
    };
    list.iter()
        .map(|item| item.get(field).cloned())
        .collect::<Option<Vec<_>>>()
        .map(Value::Array)
}

fn substitute_classic(value: &mut Value, key: &str, output: &Value) {
    match value {
        Value::String(text) if text.contains("$result[") => {
            *value = substitute_text(text, key, output);
        }
        Value::Object(map) => {
            for v in map.values_mut() {
                substitute_classic(v, key, output);
            }
        }
        Value::Array(items) => {
            for v in items {
                substitute_classic(v, key, output);
            }
        }
        _ => {}
    }
}

/// Replaces `$result[key]...` references in one text: the whole text by the JSON
/// value, a reference inside a longer text by its text (a string as is, a number as
/// written, `null` as nothing). References to other keys, or that do not resolve,
/// stay as written.
fn substitute_text(text: &str, key: &str, output: &Value) -> Value {
    if let Some((value, end)) = reference_at(text, 0, key, output) {
        if end == text.len() {
            return value;
        }
    }
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    while let Some(found) = text.get(at..).and_then(|t| t.find("$result[")) {
        let start = at + found;
        out.push_str(text.get(at..start).unwrap_or_default());
        match reference_at(text, start, key, output) {
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

/// The value of a `$result[key][part]...` reference starting at `start`, and where
/// it ends; `None` when it names another key or does not resolve.
fn reference_at(text: &str, start: usize, key: &str, output: &Value) -> Option<(Value, usize)> {
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
    let (first, path) = parts.split_first()?;
    if *first != key {
        return None;
    }
    let mut cur = output;
    for part in path {
        cur = match cur {
            Value::Object(m) => m.get(*part)?,
            Value::Array(a) => a.get(part.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some((cur.clone(), end))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    #[test]
    fn finds_references_of_both_apis() {
        let v3 = map(json!({
            "id": {"$ref": "task.item.id"},
            "filter": [["id", "in", {"$refArray": "list.id"}], {"x": {"$ref": "task.id"}}]
        }));
        assert_eq!(references(Api::V3, &v3), vec!["task", "list"]);
        let classic = map(json!({
            "MESSAGE": "re $result[first] and $result[second][ID] $result[first][0]",
            "f": {"a": ["$result[third]"]}
        }));
        assert_eq!(
            references(Api::Classic, &classic),
            vec!["first", "second", "third"]
        );
        assert!(references(Api::V3, &classic).is_empty());
    }

    #[test]
    fn resolves_v3_references_either_spelling() {
        let answer = json!({"item": {"id": 7, "tags": [{"id": 1}, {"id": 2}]}});
        let mut params = map(json!({
            "a": {"$ref": "task.item.id"},
            "b": {"$ref": "task.id"},
            "c": {"$refArray": "task.tags.id"},
            "d": {"$ref": "other.id"}
        }));
        substitute(Api::V3, &mut params, "task", &answer).unwrap();
        assert_eq!(
            Value::Object(params),
            json!({"a": 7, "b": 7, "c": [1, 2], "d": {"$ref": "other.id"}})
        );
        let list = json!({"items": [{"id": 3}, {"id": 4}]});
        let mut params = map(json!({"ids": {"$refArray": "list.id"}}));
        substitute(Api::V3, &mut params, "list", &list).unwrap();
        assert_eq!(Value::Object(params), json!({"ids": [3, 4]}));
        let mut bad = map(json!({"a": {"$ref": "task.nope"}}));
        assert!(matches!(
            substitute(Api::V3, &mut bad, "task", &answer),
            Err(Error::InvalidInput(InputError::Param { .. }))
        ));
    }

    #[test]
    fn resolves_classic_references_like_the_portal() {
        let answer = json!({"ID": 7, "L": [1, "two"]});
        let mut params = map(json!({
            "whole": "$result[a][L]",
            "text": "x $result[a][L][1]-$result[a][ID] $result[zz] $",
        }));
        substitute(Api::Classic, &mut params, "a", &answer).unwrap();
        assert_eq!(
            Value::Object(params),
            json!({"whole": [1, "two"], "text": "x two-7 $result[zz] $"})
        );
    }

    #[test]
    fn keys_are_checked() {
        assert!(check_key("task_1").is_ok());
        for bad in ["", "12", "_1", "a-b", &"k".repeat(65)] {
            assert!(check_key(bad).is_err(), "{bad}");
        }
    }
}
