//! The REST 3.0 batch, `/rest/api/batch`: a JSON array of `{method, query, as?}`,
//! run in order; the first error ends the batch with that error (no rollback).
//!
//! As the server does, the batch is metered as one call: the operating-time limiter
//! sees only the outer `batch` (checked before the batch runs, charged with the sum
//! of its commands' configured costs afterwards), never the commands inside, and
//! the answer's `time` is the batch's. Every command's method is looked up before
//! any runs, so an unknown one fails the batch with nothing run.
//!
//! The error answer is the failing command's alone, as the server gives it: it does
//! not say which command failed. With `PortalConfig::v3_batch_error_progress(true)`
//! the error object also carries `"batch":{"failedIndex":k,"results":[..]}`, the
//! failing command's position and the answers of the commands before it (an
//! extension for tests of clients that can use it; no portal is known to send it).

use std::collections::{HashMap, HashSet};

use b24_types::{ErrorCode, Time};
use bytes::Bytes;
use http::Response;
use serde_json::{json, Map, Value};

use crate::auth::Caller;
use crate::config::PortalConfig;
use crate::emulator::{json_response, time_object};
use crate::failure::Failure;
use crate::methods::{self, Ctx, V3_METHODS};
use crate::portal::PortalState;

/// A failed batch: the failing command's error and, when the portal reports it,
/// where the batch stopped.
#[derive(Debug)]
pub(crate) struct BatchFailure {
    failure: Box<Failure>,
    progress: Option<Value>,
}

impl From<Failure> for BatchFailure {
    fn from(failure: Failure) -> Self {
        Self {
            failure: Box::new(failure),
            progress: None,
        }
    }
}

impl BatchFailure {
    /// The answer: the failure's status and body, with `error.batch` when reported.
    pub(crate) fn response(&self) -> Response<Bytes> {
        let mut body = self.failure.body();
        if let (Some(progress), Some(Value::Object(error))) =
            (&self.progress, body.get_mut("error"))
        {
            error.insert("batch".to_owned(), progress.clone());
        }
        json_response(self.failure.status(), &body)
    }
}

fn invalid(message: &str) -> Failure {
    Failure::plain400(ErrorCode::V3InvalidSelect, message)
}

struct Item {
    method: String,
    query: Value,
    alias: String,
}

/// The batch's items: a JSON array, or an object keyed `"0"`, `"1"`, … (PHP decodes
/// both to the same array; the official JS SDK sends the object). An `auth` key
/// beside the numbered ones carries the OAuth token and is not an item.
fn items_of(params: &Value) -> Option<Vec<&Value>> {
    match params {
        Value::Array(raw) => Some(raw.iter().collect()),
        Value::Object(map) => map
            .iter()
            .filter(|(k, _)| k.as_str() != "auth")
            .map(|(k, v)| is_index(k).then_some(v))
            .collect(),
        _ => None,
    }
}

/// A PHP integer array key: `0` or digits without a leading zero.
fn is_index(key: &str) -> bool {
    key == "0"
        || (!key.is_empty()
            && key.len() <= 18
            && !key.starts_with('0')
            && key.bytes().all(|b| b.is_ascii_digit()))
}

fn parse(params: &Value) -> Result<Vec<Item>, Failure> {
    let Some(raw) = items_of(params) else {
        return Err(invalid(
            "Unable to recognize the batch request: a JSON array of {method, query} is expected",
        ));
    };
    let mut seen = HashSet::new();
    let mut items = Vec::with_capacity(raw.len());
    for (index, entry) in raw.into_iter().enumerate() {
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
) -> Result<(Value, Time), BatchFailure> {
    let items = parse(params)?;
    if let Some(item) = items
        .iter()
        .find(|i| i.method == "batch" || !V3_METHODS.contains(&i.method.as_str()))
    {
        return Err(Failure::v3(
            404,
            ErrorCode::V3MethodNotFound,
            format!("Method `{}` not found", item.method),
        )
        .into());
    }
    if state
        .operating
        .budget(&caller.credential, "batch")
        .total(now)
        > cfg.operating_limit
    {
        return Err(Failure::v3(
            429,
            ErrorCode::V3RateLimit,
            "Method is blocked due to operation time limit.",
        )
        .into());
    }
    let mut context: HashMap<String, Value> = HashMap::new();
    let mut results = Vec::with_capacity(items.len());
    let mut cost = 0.0;
    let mut failed = None;
    for (index, item) in items.iter().enumerate() {
        let outcome = resolve(&item.query, &context).and_then(|query| {
            cost += cfg.cost_of(&item.method);
            run_one(state, cfg, caller, &item.method, &query, now)
        });
        match outcome {
            Ok(result) => {
                if let Some(v) = result.get("item").or_else(|| result.get("items")) {
                    context.insert(item.alias.clone(), v.clone());
                }
                results.push(result);
            }
            Err(f) => {
                failed = Some((index, f));
                break;
            }
        }
    }
    let budget = state.operating.budget(&caller.credential, "batch");
    budget.record(now, cost);
    if let Some((index, failure)) = failed {
        let progress = cfg
            .v3_batch_error_progress
            .then(|| json!({"failedIndex": index, "results": results}));
        return Err(BatchFailure {
            failure: Box::new(failure),
            progress,
        });
    }
    let mut time = time_object(now, cost, cfg.utc_offset);
    time.operating = Some(budget.total(now));
    time.operating_reset_at = budget.reset_at(now);
    Ok((Value::Array(results), time))
}

/// Runs one command, unmetered (the batch is metered as a whole).
fn run_one(
    state: &mut PortalState,
    cfg: &PortalConfig,
    caller: &Caller,
    method: &str,
    query: &Value,
    now: f64,
) -> Result<Value, Failure> {
    let empty = Map::new();
    let map = query.as_object().unwrap_or(&empty);
    let mut ctx = Ctx {
        data: &mut state.data,
        user: caller.user,
        now,
        offset: cfg.utc_offset,
        app: caller.credential == "app",
        drop_unknown_select: cfg.unknown_select == crate::config::UnknownSelectField::Dropped,
    };
    methods::run_v3(method, &mut ctx, map).unwrap_or_else(|| {
        Err(Failure::v3(
            404,
            ErrorCode::V3MethodNotFound,
            format!("Method `{method}` not found"),
        ))
    })
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
