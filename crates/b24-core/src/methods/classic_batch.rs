//! The classic `batch` (`/rest/batch`): up to 50 classic calls in one request.
//!
//! The body is `{"halt":0,"cmd":{"key":"method?param=value&...", ...}}`: each
//! command is a method name and its parameters as a PHP query string (nested
//! values as `fields[TITLE]=x`, `select[0]=ID`). The answer is always HTTP 200 and
//! reports each command under its key: successes in `result`, failures in
//! `result_error`, with `result_total`, `result_next` and `result_time` beside them
//! ([`ClassicBatchResult`]). With `halt`, the portal stops at the first failing
//! command; the commands after it do not run and appear nowhere in the answer.
//!
//! A later command can use an earlier command's answer through a
//! `$result[key][field]...` reference in a parameter value
//! ([`ClassicBatch::result_ref`]).
//!
//! Limits are checked before any request exists: at most 50 commands (the portal
//! fails each command beyond 50 with `ERROR_BATCH_LENGTH_EXCEEDED`; b24 refuses
//! such a batch instead of dropping or sending them), keys of ASCII letters, digits
//! and `_`, unique, and no nested `batch`.
//!
//! As with the REST 3.0 batch, the platform charges each command to its own
//! method's operating-time budget and does not count the outer call
//! ([`Method::budget_methods`]), and the portal honours no `Idempotency-Key` here.

use std::collections::BTreeMap;

use b24_types::{ApiError, ClassicErrorBody, Time, V3ErrorBody};
use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::api::Api;
use crate::error::{Error, InputError};
use crate::method::{Method, Repeat};
use crate::request::validate_method_name;
use crate::response::decode_json;

/// One command of a [`ClassicBatch`]: a classic method and its parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassicCommand {
    method: String,
    params: Map<String, Value>,
    repeat: Repeat,
}

impl ClassicCommand {
    /// A command by method name and parameters. Marked [`Repeat::Unsafe`] unless
    /// [`ClassicCommand::with_repeat`] says otherwise.
    ///
    /// # Errors
    ///
    /// [`InputError::Param`] (`method`) for a malformed name or a nested `batch`;
    /// (`auth`) when the parameters hold `auth`; the parameter's name for a name the
    /// query-string form cannot carry (see [`ClassicCommand::query_string`]).
    pub fn new(method: impl Into<String>, params: Map<String, Value>) -> Result<Self, InputError> {
        let method = method.into();
        validate_method_name(&method)?;
        if method.eq_ignore_ascii_case(ClassicBatch::NAME) {
            return Err(InputError::param(
                "method",
                "a batch cannot contain a batch",
            ));
        }
        if params.contains_key("auth") {
            return Err(InputError::param(
                "auth",
                "reserved: the request builder adds the access token itself",
            ));
        }
        let command = Self {
            method,
            params,
            repeat: Repeat::Unsafe,
        };
        command.query_string()?;
        Ok(command)
    }

    /// A command from a typed classic method, keeping its repeat safety.
    ///
    /// # Errors
    ///
    /// [`InputError::Param`] (`method`) when the method is a REST 3.0 one (a
    /// classic batch runs only classic methods) or its body is not an object; the
    /// method's own parameter errors; as [`ClassicCommand::new`].
    pub fn from_method<M: Method>(method: &M) -> Result<Self, Error> {
        if method.api() != Api::Classic {
            return Err(
                InputError::param("method", "a classic batch runs only classic methods").into(),
            );
        }
        let Value::Object(params) = method.body()? else {
            return Err(
                InputError::param("method", "the method's body is not a JSON object").into(),
            );
        };
        Ok(Self::new(method.name(), params)?.with_repeat(method.repeat()))
    }

    /// Marks whether repeating this command is harmless.
    #[must_use]
    pub fn with_repeat(mut self, repeat: Repeat) -> Self {
        self.repeat = repeat;
        self
    }

    /// The method name.
    pub fn method(&self) -> &str {
        &self.method
    }

    /// The parameters.
    pub fn params(&self) -> &Map<String, Value> {
        &self.params
    }

    /// Whether repeating this command is harmless.
    pub fn repeat(&self) -> Repeat {
        self.repeat
    }

    /// The command as sent: `method?param=value&...`, or the bare method name when
    /// there are no parameters.
    ///
    /// Parameters are written as PHP's `http_build_query` writes them: nested
    /// objects and arrays as `fields[TITLE]=x` and `select[0]=ID`, `true`/`false`
    /// as `1`/`0`; `null` and empty objects or arrays are left out (PHP reads an
    /// absent parameter the same way). Names and values are percent-encoded
    /// (space as `%20`), except that `$`, `[` and `]` stay literal in values so that
    /// `$result[key][field]` references read the same however the portal decodes
    /// them.
    ///
    /// # Errors
    ///
    /// [`InputError::Param`] (the parameter's name) for an empty name, a name with
    /// `[` or `]` (PHP would read them as nesting), or a top-level name with `.` or a
    /// space (PHP turns them into `_`).
    pub fn query_string(&self) -> Result<String, InputError> {
        let query = php_query(&self.params)?;
        Ok(if query.is_empty() {
            self.method.clone()
        } else {
            format!("{}?{query}", self.method)
        })
    }
}

/// Encodes parameters as a PHP query string (see [`ClassicCommand::query_string`]).
fn php_query(params: &Map<String, Value>) -> Result<String, InputError> {
    let mut pairs = Vec::new();
    for (name, value) in params {
        let bad_char = |c: char| matches!(c, '[' | ']' | '.' | ' ');
        if name.is_empty() || name.contains(bad_char) {
            return Err(InputError::param(
                name.clone(),
                "a classic batch parameter name must be non-empty, without '[', ']', '.' or spaces",
            ));
        }
        push_pairs(&mut pairs, encode(name, false), name, value)?;
    }
    Ok(pairs.join("&"))
}

fn push_pairs(
    pairs: &mut Vec<String>,
    prefix: String,
    field: &str,
    value: &Value,
) -> Result<(), InputError> {
    let scalar = match value {
        Value::Null => return Ok(()),
        Value::Bool(b) => if *b { "1" } else { "0" }.to_owned(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                push_pairs(pairs, format!("{prefix}[{index}]"), field, item)?;
            }
            return Ok(());
        }
        Value::Object(map) => {
            for (key, item) in map {
                if key.is_empty() || key.contains(['[', ']']) {
                    return Err(InputError::param(
                        field,
                        "a nested key must be non-empty and without '[' or ']'",
                    ));
                }
                push_pairs(
                    pairs,
                    format!("{prefix}[{}]", encode(key, false)),
                    field,
                    item,
                )?;
            }
            return Ok(());
        }
    };
    pairs.push(format!("{prefix}={}", encode(&scalar, true)));
    Ok(())
}

/// Percent-encodes every byte but the unreserved ones (and, in values, `$[]`).
fn encode(text: &str, value: bool) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        let keep = b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'_' | b'.' | b'~')
            || (value && matches!(b, b'$' | b'[' | b']'));
        if keep {
            out.push(char::from(b));
        } else {
            out.push('%');
            for nibble in [b >> 4, b & 0x0f] {
                out.push(HEX.get(usize::from(nibble)).map_or('0', |h| char::from(*h)));
            }
        }
    }
    out
}

/// A classic batch of 1 to 50 named commands.
///
/// ```
/// use b24_core::methods::{ClassicBatch, ClassicCommand, DialogId, ImMessageAdd};
/// use b24_core::types::ChatId;
///
/// let chat = DialogId::chat(ChatId::new(58)?);
/// let first = ClassicCommand::from_method(&ImMessageAdd::new(chat, "one")?)?;
/// let mut params = serde_json::Map::new();
/// params.insert("DIALOG_ID".into(), "chat58".into());
/// params.insert(
///     "MESSAGE".into(),
///     format!("after {}", ClassicBatch::result_ref("first", &[])?).into(),
/// );
/// let second = ClassicCommand::new("im.message.add", params)?;
/// let batch = ClassicBatch::new()
///     .push("first", first)?
///     .push("second", second)?
///     .halt(true);
/// assert_eq!(batch.len(), 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
#[must_use]
pub struct ClassicBatch {
    commands: Vec<(String, ClassicCommand)>,
    halt: bool,
}

impl ClassicBatch {
    /// The method name.
    pub const NAME: &'static str = "batch";
    /// The most commands one batch may hold.
    pub const MAX_COMMANDS: usize = 50;

    /// An empty batch that does not halt.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a command under `key`.
    ///
    /// # Errors
    ///
    /// [`InputError::Param`] (`cmd`) when the batch already holds 50 commands;
    /// (`cmd.key`) when the key is empty, has characters other than ASCII letters,
    /// digits and `_`, or is already used.
    pub fn push(
        mut self,
        key: impl Into<String>,
        command: ClassicCommand,
    ) -> Result<Self, InputError> {
        let key = key.into();
        if self.commands.len() >= Self::MAX_COMMANDS {
            return Err(InputError::param(
                "cmd",
                "a classic batch holds at most 50 commands",
            ));
        }
        check_key(&key)?;
        if self.commands.iter().any(|(k, _)| *k == key) {
            return Err(InputError::param("cmd.key", "two commands share one key"));
        }
        self.commands.push((key, command));
        Ok(self)
    }

    /// Whether the portal stops at the first failing command (`halt`; default no).
    pub fn halt(mut self, halt: bool) -> Self {
        self.halt = halt;
        self
    }

    /// True when the batch halts at the first failing command.
    pub fn halts(&self) -> bool {
        self.halt
    }

    /// The commands with their keys, in order.
    pub fn commands(&self) -> &[(String, ClassicCommand)] {
        &self.commands
    }

    /// The number of commands.
    pub fn len(&self) -> usize {
        self.commands.len()
    }

    /// True when there are no commands.
    pub fn is_empty(&self) -> bool {
        self.commands.is_empty()
    }

    /// A reference to an earlier command's answer, for a later command's parameter
    /// value: `result_ref("get_user", &["UF_DEPARTMENT", "0"])` is
    /// `$result[get_user][UF_DEPARTMENT][0]`. The portal replaces it with that
    /// part of the `get_user` command's result before running the command.
    ///
    /// # Errors
    ///
    /// [`InputError::Param`] (`cmd.key`) for a malformed key; (`$result`) for an
    /// empty path part or one holding `[`, `]` or whitespace.
    pub fn result_ref(key: &str, path: &[&str]) -> Result<String, InputError> {
        check_key(key)?;
        let mut out = format!("$result[{key}]");
        for part in path {
            if part.is_empty()
                || part.contains(|c: char| matches!(c, '[' | ']') || c.is_whitespace())
            {
                return Err(InputError::param(
                    "$result",
                    "a reference path part is non-empty, without '[', ']' or whitespace",
                ));
            }
            out.push('[');
            out.push_str(part);
            out.push(']');
        }
        Ok(out)
    }

    fn cmd(&self) -> Result<Map<String, Value>, InputError> {
        if self.commands.is_empty() {
            return Err(InputError::param(
                "cmd",
                "a classic batch needs at least one command",
            ));
        }
        if self.commands.len() > Self::MAX_COMMANDS {
            return Err(InputError::param(
                "cmd",
                "a classic batch holds at most 50 commands",
            ));
        }
        let mut cmd = Map::new();
        for (key, command) in &self.commands {
            check_key(key)?;
            if cmd
                .insert(key.clone(), Value::String(command.query_string()?))
                .is_some()
            {
                return Err(InputError::param("cmd.key", "two commands share one key"));
            }
        }
        Ok(cmd)
    }
}

fn check_key(key: &str) -> Result<(), InputError> {
    if !key.is_empty() && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        Ok(())
    } else {
        Err(InputError::param(
            "cmd.key",
            "a command key is non-empty ASCII letters, digits and '_'",
        ))
    }
}

impl Method for ClassicBatch {
    type Output = ClassicBatchResult;
    fn name(&self) -> &str {
        Self::NAME
    }
    fn api(&self) -> Api {
        Api::Classic
    }
    /// Safe only when every command is.
    fn repeat(&self) -> Repeat {
        if self.commands.iter().all(|(_, c)| c.repeat == Repeat::Safe) {
            Repeat::Safe
        } else {
            Repeat::Unsafe
        }
    }
    fn params(&self) -> Result<Map<String, Value>, Error> {
        let mut params = Map::new();
        params.insert("halt".to_owned(), Value::from(u8::from(self.halt)));
        params.insert("cmd".to_owned(), Value::Object(self.cmd()?));
        Ok(params)
    }
    fn decode(&self, result: &RawValue) -> Result<ClassicBatchResult, Error> {
        decode_json(result)
    }
    /// Always false: classic methods never honour `Idempotency-Key`.
    fn honours_idempotency_key(&self) -> bool {
        false
    }
    /// The commands' methods, each once, in order.
    fn budget_methods(&self) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::with_capacity(self.commands.len());
        for (_, command) in &self.commands {
            if !names.contains(&command.method.as_str()) {
                names.push(&command.method);
            }
        }
        names
    }
    /// Each method's latest `result_time` with a reset time: the commands run in
    /// order and each reports its method's running total, so the last command of a
    /// method carries the figure to record for it.
    fn command_times(&self, output: &ClassicBatchResult) -> Vec<(String, Time)> {
        classic_command_times(&self.commands, &output.times)
    }
}

/// The latest `result_time` (with `operating_reset_at`) of each method among
/// `commands`, one pair per method, in order of first appearance.
pub(crate) fn classic_command_times(
    commands: &[(String, ClassicCommand)],
    times: &BTreeMap<String, Time>,
) -> Vec<(String, Time)> {
    let mut out: Vec<(String, Time)> = Vec::new();
    for (key, command) in commands {
        let Some(time) = times.get(key).filter(|t| t.operating_reset_at.is_some()) else {
            continue;
        };
        match out.iter_mut().find(|(m, _)| *m == command.method) {
            Some(slot) => slot.1 = time.clone(),
            None => out.push((command.method.clone(), time.clone())),
        }
    }
    out
}

/// The answer of a [`ClassicBatch`]: each command's outcome under its key.
///
/// A key is in [`results`](Self::results) when its command succeeded, in
/// [`errors`](Self::errors) when it failed, and in neither when it never ran (a
/// halted batch). Each sub-object may come as a JSON object or, when empty, as
/// `[]`; an array with entries is read with its positions as keys (`"0"`, `"1"`,
/// ...), as a batch whose `cmd` was an array is answered.
///
/// The portal does not give a failed command's HTTP status, so each
/// [`ApiError`] in [`errors`](Self::errors) has status 0;
/// [`ApiError::class`] still classifies it by its code.
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct ClassicBatchResult {
    /// Results of the commands that succeeded (`result`).
    pub results: BTreeMap<String, Value>,
    /// Errors of the commands that failed (`result_error`), in the classic shape.
    pub errors: BTreeMap<String, ApiError>,
    /// `total` of list commands (`result_total`).
    pub totals: BTreeMap<String, u64>,
    /// `next` of list commands that have more pages (`result_next`).
    pub nexts: BTreeMap<String, u64>,
    /// Each command's `time` (`result_time`).
    pub times: BTreeMap<String, Time>,
}

impl ClassicBatchResult {
    /// The result of the command under `key`, when it succeeded.
    pub fn result(&self, key: &str) -> Option<&Value> {
        self.results.get(key)
    }

    /// The error of the command under `key`, when it failed.
    pub fn error(&self, key: &str) -> Option<&ApiError> {
        self.errors.get(key)
    }

    /// True when any command failed.
    pub fn has_errors(&self) -> bool {
        !self.errors.is_empty()
    }

    /// True when the command under `key` ran (succeeded or failed); false for a
    /// command a halted batch never reached, or an unknown key.
    pub fn ran(&self, key: &str) -> bool {
        self.results.contains_key(key) || self.errors.contains_key(key)
    }

    /// The result of the command under `key`, decoded as `T`.
    ///
    /// # Errors
    ///
    /// [`Error::Api`] with the command's error when it failed; [`Error::Decode`]
    /// (path `result.<key>...`) when it did not run or its result is not a `T`.
    pub fn decode<T: DeserializeOwned>(&self, key: &str) -> Result<T, Error> {
        if let Some(error) = self.errors.get(key) {
            return Err(Error::Api(Box::new(error.clone())));
        }
        let value = self.results.get(key).ok_or_else(|| Error::Decode {
            status: 200,
            path: format!("result.{key}"),
            message: "the command did not run".to_owned(),
        })?;
        T::deserialize(value).map_err(|e| Error::Decode {
            status: 200,
            path: format!("result.{key}"),
            message: e.to_string(),
        })
    }
}

/// The wire form of the batch result.
#[derive(Deserialize)]
struct Wire {
    #[serde(default)]
    result: Value,
    #[serde(default)]
    result_error: Value,
    #[serde(default)]
    result_total: Value,
    #[serde(default)]
    result_next: Value,
    #[serde(default)]
    result_time: Value,
}

/// A PHP array as key → value pairs: an object, an array (positions as keys) or
/// `null` (none).
fn php_entries<E: serde::de::Error>(field: &str, value: Value) -> Result<Vec<(String, Value)>, E> {
    match value {
        Value::Null => Ok(Vec::new()),
        Value::Object(map) => Ok(map.into_iter().collect()),
        Value::Array(items) => Ok(items
            .into_iter()
            .enumerate()
            .map(|(i, v)| (i.to_string(), v))
            .collect()),
        _ => Err(E::custom(format!(
            "`{field}` is neither an object nor an array"
        ))),
    }
}

fn count<E: serde::de::Error>(field: &str, key: &str, value: &Value) -> Result<u64, E> {
    value
        .as_u64()
        .or_else(|| value.as_str().and_then(|s| s.trim().parse().ok()))
        .ok_or_else(|| E::custom(format!("`{field}.{key}` is not a count")))
}

fn api_error<E: serde::de::Error>(key: &str, value: Value) -> Result<ApiError, E> {
    let bad = |e: serde_json::Error| E::custom(format!("`result_error.{key}`: {e}"));
    if value.get("error").is_some_and(Value::is_object) {
        serde_json::from_value::<V3ErrorBody>(value)
            .map(|b| b.into_api_error(0))
            .map_err(bad)
    } else {
        serde_json::from_value::<ClassicErrorBody>(value)
            .map(|b| b.into_api_error(0))
            .map_err(bad)
    }
}

impl<'de> Deserialize<'de> for ClassicBatchResult {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let wire = Wire::deserialize(deserializer)?;
        let mut out = ClassicBatchResult::default();
        for (key, value) in php_entries::<D::Error>("result", wire.result)? {
            out.results.insert(key, value);
        }
        for (key, value) in php_entries::<D::Error>("result_error", wire.result_error)? {
            let error = api_error::<D::Error>(&key, value)?;
            out.errors.insert(key, error);
        }
        for (key, value) in php_entries::<D::Error>("result_total", wire.result_total)? {
            let n = count::<D::Error>("result_total", &key, &value)?;
            out.totals.insert(key, n);
        }
        for (key, value) in php_entries::<D::Error>("result_next", wire.result_next)? {
            let n = count::<D::Error>("result_next", &key, &value)?;
            out.nexts.insert(key, n);
        }
        for (key, value) in php_entries::<D::Error>("result_time", wire.result_time)? {
            let time = serde_json::from_value::<Time>(value)
                .map_err(|e| D::Error::custom(format!("`result_time.{key}`: {e}")))?;
            out.times.insert(key, time);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_like_php() {
        let mut params = Map::new();
        params.insert("a".into(), Value::from("x y&z=1+%"));
        params.insert(
            "f".into(),
            serde_json::json!({"T 1": "ü", "n": [1, true, null, {"k": false}]}),
        );
        params.insert("e".into(), serde_json::json!([]));
        assert_eq!(
            php_query(&params).unwrap(),
            "a=x%20y%26z%3D1%2B%25&f[T%201]=%C3%BC&f[n][0]=1&f[n][1]=1&f[n][3][k]=0"
        );
    }
}
