//! The REST 3.0 batch, `/rest/api/batch`: a JSON array of `{method, query, as?}`,
//! run in order; the first error ends the batch with that error (no rollback).

use std::collections::{HashMap, HashSet};

use b24_types::{ErrorCode, Time};
use serde_json::{Map, Value};

use crate::auth::Caller;
use crate::config::PortalConfig;
use crate::emulator::{metered_call, time_object};
use crate::failure::Failure;
use crate::methods::V3_METHODS;
use crate::portal::PortalState;

fn invalid(message: &str) -> Failure {
    Failure::plain400(ErrorCode::V3InvalidSelect, message)
}

struct Item {
    method: String,
    query: Value,
    alias: String,
}

fn parse(params: &Value) -> Result<Vec<Item>, Failure> {
    let Value::Array(raw) = params else {
        return Err(invalid(
            "Unable to recognize the batch request: a JSON array of {method, query} is expected",
        ));
    };
    let mut seen = HashSet::new();
    let mut items = Vec::with_capacity(raw.len());
    for (index, entry) in raw.iter().enumerate() {
        let Value::Object(obj) = entry else {
            return Err(invalid("Batch item must be an object"));
        };
        let method = obj
            .get("method")
            .and_then(Value::as_str)
            .filter(|m| !m.trim().is_empty())
            .ok_or_else(|| invalid("Batch item requires `method`"))?;
        let query = match obj.get("query") {
            Some(Value::Object(q)) => Value::Object(q.clone()),
            Some(Value::Array(a)) if a.is_empty() => Value::Object(Map::new()),
            _ => return Err(invalid("Batch item requires `query`")),
        };
        let alias = match obj.get("as") {
            None | Some(Value::Null) => index.to_string(),
            Some(Value::String(a)) if !a.is_empty() => a.clone(),
            Some(_) => return Err(invalid("Batch item `as` must be a string")),
        };
        if !seen.insert(alias.clone()) {
            return Err(invalid("Duplicate batch alias"));
        }
        items.push(Item {
            method: method.to_ascii_lowercase(),
            query,
            alias,
        });
    }
    Ok(items)
}

/// Runs the batch. Returns the array of results and the batch-level `time`.
pub(crate) fn run(
    state: &mut PortalState,
    cfg: &PortalConfig,
    caller: &Caller,
    params: &Value,
    now: f64,
) -> Result<(Value, Time), Failure> {
    let items = parse(params)?;
    let mut context: HashMap<String, Value> = HashMap::new();
    let mut results = Vec::with_capacity(items.len());
    for item in items {
        if item.method == "batch" || !V3_METHODS.contains(&item.method.as_str()) {
            return Err(Failure::v3(
                404,
                ErrorCode::V3MethodNotFound,
                format!("Method `{}` not found", item.method),
            ));
        }
        let query = resolve(&item.query, &context)?;
        let (result, _) = metered_call(state, cfg, caller, &item.method, true, &query, now)?;
        if let Some(v) = result.get("item").or_else(|| result.get("items")) {
            context.insert(item.alias.clone(), v.clone());
        }
        results.push(result);
    }
    Ok((Value::Array(results), time_object(now, 0.0, cfg.utc_offset)))
}

/// Replaces `{"$ref":"alias.path"}` and `{"$refArray":"alias.field"}` markers.
fn resolve(v: &Value, ctx: &HashMap<String, Value>) -> Result<Value, Failure> {
    match v {
        Value::Object(m) if m.len() == 1 => {
            if let Some(path) = m.get("$ref") {
                let path = path.as_str().ok_or_else(|| invalid("Bad `$ref`"))?;
                return lookup(path, ctx).ok_or_else(|| invalid("Bad `$ref` path"));
            }
            if let Some(path) = m.get("$refArray") {
                let path = path.as_str().ok_or_else(|| invalid("Bad `$refArray`"))?;
                return collect(path, ctx).ok_or_else(|| invalid("Bad `$refArray` path"));
            }
            resolve_map(m, ctx)
        }
        Value::Object(m) => resolve_map(m, ctx),
        Value::Array(a) => a
            .iter()
            .map(|x| resolve(x, ctx))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        other => Ok(other.clone()),
    }
}

fn resolve_map(m: &Map<String, Value>, ctx: &HashMap<String, Value>) -> Result<Value, Failure> {
    let mut out = Map::new();
    for (k, v) in m {
        out.insert(k.clone(), resolve(v, ctx)?);
    }
    Ok(Value::Object(out))
}

fn lookup(path: &str, ctx: &HashMap<String, Value>) -> Option<Value> {
    let mut parts = path.split('.');
    let mut cur = ctx.get(parts.next()?)?;
    for seg in parts {
        cur = match cur {
            Value::Object(m) => m.get(seg)?,
            Value::Array(a) => a.get(seg.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(cur.clone())
}

fn collect(path: &str, ctx: &HashMap<String, Value>) -> Option<Value> {
    let (alias, field) = path.split_once('.')?;
    let items = ctx.get(alias)?.as_array()?;
    items
        .iter()
        .map(|it| {
            let mut cur = it;
            for seg in field.split('.') {
                cur = cur.get(seg)?;
            }
            Some(cur.clone())
        })
        .collect::<Option<Vec<_>>>()
        .map(Value::Array)
}
