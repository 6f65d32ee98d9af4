//! `batch` of REST 3.0: several v3 calls in one request.
//!
//! The body is a JSON array, `[{"method":"tasks.task.get","query":{...},"as":"task"}, ...]`.
//! Items run in order; the answer is `{"result":[<result of 1>, <result of 2>, ...]}`
//! in request order. At the first failing item the server answers with that item's
//! error for the whole batch (earlier items are not rolled back). A later item can use
//! an earlier `item`/`items` answer through [`BatchRef`] markers.
//!
//! The body is an array, so an OAuth access token has no documented place in it: a
//! REST 3.0 batch is built for webhook portals only, and refused with an
//! [`InputError`] for OAuth portals.
//!
//! The portal honours `Idempotency-Key` only on create, modify and delete methods,
//! not on `batch`, so a batch never carries a key
//! ([`Method::honours_idempotency_key`] is false): a batch holding a write is not
//! repeated once it may have run, and a caller's key for it is refused.
//!
//! The platform charges each command to its own method's operating-time budget and
//! does not count the outer call, so a batch's
//! [`Method::budget_methods`] are its commands' methods: the engine holds a batch
//! while any of them is held, and a 429 on a batch holds all of them.

use std::collections::HashSet;

use serde_json::value::RawValue;
use serde_json::{json, Map, Value};

use crate::api::Api;
use crate::error::{Error, InputError};
use crate::method::{Method, Repeat};
use crate::request::validate_method_name;
use crate::response::decode_json;

/// One command of a [`BatchV3`].
#[derive(Debug, Clone, PartialEq)]
pub struct BatchCommand {
    method: String,
    query: Map<String, Value>,
    alias: Option<String>,
    repeat: Repeat,
}

impl BatchCommand {
    /// A command by method name and query (the method's parameters). Marked
    /// [`Repeat::Unsafe`] unless [`BatchCommand::with_repeat`] says otherwise.
    ///
    /// # Errors
    ///
    /// [`InputError::Param`] (`method`) for a malformed name or a nested `batch`;
    /// (`auth`) when the query holds `auth`.
    pub fn new(method: impl Into<String>, query: Map<String, Value>) -> Result<Self, InputError> {
        let method = method.into();
        validate_method_name(&method)?;
        if method.eq_ignore_ascii_case("batch") {
            return Err(InputError::param(
                "method",
                "a batch cannot contain a batch",
            ));
        }
        if query.contains_key("auth") {
            return Err(InputError::param(
                "auth",
                "reserved: the request builder adds the access token itself",
            ));
        }
        Ok(Self {
            method,
            query,
            alias: None,
            repeat: Repeat::Unsafe,
        })
    }

    /// A command from a typed REST 3.0 method, keeping its repeat safety.
    ///
    /// # Errors
    ///
    /// [`InputError::Param`] (`method`) when the method is a classic one (a v3 batch
    /// runs only v3 methods) or its body is not an object; the method's own
    /// parameter errors.
    pub fn from_method<M: Method>(method: &M) -> Result<Self, Error> {
        if method.api() != Api::V3 {
            return Err(
                InputError::param("method", "a REST 3.0 batch runs only REST 3.0 methods").into(),
            );
        }
        let query = match method.body()? {
            Value::Object(map) => map,
            _ => {
                return Err(
                    InputError::param("method", "the method's body is not a JSON object").into(),
                )
            }
        };
        let mut cmd = Self::new(method.name(), query)?;
        cmd.repeat = method.repeat();
        Ok(cmd)
    }

    /// Names the command so later commands can refer to it (`"as"`).
    ///
    /// # Errors
    ///
    /// [`InputError::Param`] (`as`) unless the alias is 1 to 64 ASCII letters, digits
    /// and `_`, and not all digits (numbers refer to unnamed commands by position).
    pub fn with_alias(mut self, alias: impl Into<String>) -> Result<Self, InputError> {
        let alias = alias.into();
        let ok = !alias.is_empty()
            && alias.len() <= 64
            && alias
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_')
            && !alias.bytes().all(|b| b.is_ascii_digit());
        if !ok {
            return Err(InputError::param(
                "as",
                "an alias is 1 to 64 ASCII letters, digits and '_', not all digits",
            ));
        }
        self.alias = Some(alias);
        Ok(self)
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

    /// The query.
    pub fn query(&self) -> &Map<String, Value> {
        &self.query
    }

    /// The alias, if any.
    pub fn alias(&self) -> Option<&str> {
        self.alias.as_deref()
    }

    fn to_json(&self) -> Value {
        let mut item = Map::new();
        item.insert("method".to_owned(), json!(self.method));
        item.insert("query".to_owned(), Value::Object(self.query.clone()));
        if let Some(alias) = &self.alias {
            item.insert("as".to_owned(), json!(alias));
        }
        Value::Object(item)
    }
}

/// Markers that pass one command's answer into a later command's query.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct BatchRef;

impl BatchRef {
    /// `{"$ref":"alias.path.to.value"}`: replaced by one value of an earlier
    /// command's `item` answer (`"task.item.id"`; a command without an alias is
    /// referred to by its position, `"0.item.id"`).
    ///
    /// # Errors
    ///
    /// [`InputError::Param`] (`$ref`) for an empty path or one with whitespace or an
    /// empty dotted part.
    pub fn value(path: &str) -> Result<Value, InputError> {
        check_ref_path("$ref", path)?;
        Ok(json!({ "$ref": path }))
    }

    /// `{"$refArray":"alias.field"}`: replaced by the list of `field` of every item
    /// of an earlier command's `items` answer.
    ///
    /// # Errors
    ///
    /// As [`BatchRef::value`], field `$refArray`.
    pub fn array(path: &str) -> Result<Value, InputError> {
        check_ref_path("$refArray", path)?;
        Ok(json!({ "$refArray": path }))
    }
}

fn check_ref_path(field: &str, path: &str) -> Result<(), InputError> {
    let ok = !path.is_empty()
        && path.len() <= 256
        && path.chars().all(|c| !c.is_whitespace() && !c.is_control())
        && !path.split('.').any(str::is_empty);
    if ok {
        Ok(())
    } else {
        Err(InputError::param(
            field,
            "a reference path is a non-empty dotted path without spaces",
        ))
    }
}

/// A REST 3.0 batch of 1 to 50 commands.
///
/// ```
/// use b24_core::methods::{BatchCommand, BatchRef, BatchV3, TaskGet};
/// use b24_core::types::TaskId;
///
/// let task = BatchCommand::from_method(&TaskGet::for_chat(TaskId::new(51)?))?.with_alias("task")?;
/// let mut query = serde_json::Map::new();
/// query.insert("id".into(), BatchRef::value("task.item.id")?);
/// let again = BatchCommand::new("tasks.task.get", query)?;
/// let batch = BatchV3::new().push(task)?.push(again)?;
/// assert_eq!(batch.len(), 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
#[must_use]
pub struct BatchV3 {
    commands: Vec<BatchCommand>,
}

impl BatchV3 {
    /// The method name.
    pub const NAME: &'static str = "batch";
    /// The most commands one batch may hold.
    pub const MAX_COMMANDS: usize = 50;

    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// A batch of the given commands.
    ///
    /// # Errors
    ///
    /// As [`BatchV3::push`].
    pub fn from_commands(
        commands: impl IntoIterator<Item = BatchCommand>,
    ) -> Result<Self, InputError> {
        commands.into_iter().try_fold(Self::new(), Self::push)
    }

    /// Appends a command.
    ///
    /// # Errors
    ///
    /// [`InputError::Param`] (`batch`) when the batch already holds 50 commands;
    /// (`as`) when the alias is already used.
    pub fn push(mut self, command: BatchCommand) -> Result<Self, InputError> {
        if self.commands.len() >= Self::MAX_COMMANDS {
            return Err(InputError::param(
                "batch",
                "a batch holds at most 50 commands",
            ));
        }
        if let Some(alias) = &command.alias {
            if self
                .commands
                .iter()
                .any(|c| c.alias.as_deref() == Some(alias.as_str()))
            {
                return Err(InputError::param("as", "two commands share one alias"));
            }
        }
        self.commands.push(command);
        Ok(self)
    }

    /// The commands, in order.
    pub fn commands(&self) -> &[BatchCommand] {
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

    fn validate(&self) -> Result<(), InputError> {
        if self.commands.is_empty() {
            return Err(InputError::param(
                "batch",
                "a batch needs at least one command",
            ));
        }
        if self.commands.len() > Self::MAX_COMMANDS {
            return Err(InputError::param(
                "batch",
                "a batch holds at most 50 commands",
            ));
        }
        let mut seen = HashSet::new();
        for alias in self.commands.iter().filter_map(|c| c.alias.as_deref()) {
            if !seen.insert(alias) {
                return Err(InputError::param("as", "two commands share one alias"));
            }
        }
        Ok(())
    }
}

impl Method for BatchV3 {
    type Output = Vec<Value>;
    fn name(&self) -> &str {
        Self::NAME
    }
    fn api(&self) -> Api {
        Api::V3
    }
    /// Safe only when every command is.
    fn repeat(&self) -> Repeat {
        if self.commands.iter().all(|c| c.repeat == Repeat::Safe) {
            Repeat::Safe
        } else {
            Repeat::Unsafe
        }
    }
    /// A batch body is an array, not an object: always an error; see [`Method::body`].
    fn params(&self) -> Result<Map<String, Value>, Error> {
        Err(InputError::param(
            "params",
            "a REST 3.0 batch body is a JSON array, not an object; use Method::body",
        )
        .into())
    }
    fn body(&self) -> Result<Value, Error> {
        self.validate()?;
        Ok(Value::Array(
            self.commands.iter().map(BatchCommand::to_json).collect(),
        ))
    }
    fn decode(&self, result: &RawValue) -> Result<Vec<Value>, Error> {
        decode_json(result)
    }
    /// Always false: the portal does not honour `Idempotency-Key` on `batch`.
    fn honours_idempotency_key(&self) -> bool {
        false
    }
    /// `batch` alone: the platform meters only the outer call of a REST 3.0 batch (the
    /// commands inside pass no load limiter, and the answer's `time.operating` is the
    /// batch's), so a batch is never held because one of its commands' methods is.
    fn budget_methods(&self) -> Vec<&str> {
        vec![Self::NAME]
    }
}
