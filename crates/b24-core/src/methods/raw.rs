//! [`RawCall`]: any method by name, either API.

use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::api::Api;
use crate::error::{Error, InputError};
use crate::method::{Method, Repeat};
use crate::request::validate_method_name;
use crate::response::decode_value;

/// Any method by name, with JSON parameters and a raw JSON result.
///
/// The name is checked (`[A-Za-z0-9._]`, no empty dotted part); `auth` is reserved.
/// A raw call is [`Repeat::Unsafe`] unless marked otherwise with
/// [`RawCall::with_repeat`]. `rest.documentation.openapi` (and its alias
/// `documentation`) may answer without the `{"result"}` envelope; a raw call to them
/// accepts both forms.
///
/// # Idempotency keys
///
/// Whether the portal honours an `Idempotency-Key` on the method is for the caller to
/// state with [`RawCall::with_idempotency`]. Without it, a REST 3.0 write
/// ([`Repeat::Unsafe`]) is taken to honour keys, except a method named `batch`: most
/// REST 3.0 writes called by name are the create, modify and delete methods the
/// platform documents keys for, and without a key such a write could never be
/// repeated after a timeout. Mark a REST 3.0 write that does not honour keys with
/// `with_idempotency(false)`, or a repeat after a 5xx or a timeout could run it twice.
/// Classic methods never honour keys, whatever is stated.
#[derive(Debug, Clone, PartialEq)]
pub struct RawCall {
    name: String,
    api: Api,
    params: Map<String, Value>,
    repeat: Repeat,
    idempotency: Option<bool>,
}

impl RawCall {
    /// A call to `name` in `api` with no parameters.
    ///
    /// # Errors
    ///
    /// [`InputError::Param`] (`method`) for an empty or malformed name.
    pub fn new(name: impl Into<String>, api: Api) -> Result<Self, InputError> {
        let name = name.into();
        validate_method_name(&name)?;
        Ok(Self {
            name,
            api,
            params: Map::new(),
            repeat: Repeat::Unsafe,
            idempotency: None,
        })
    }

    /// Replaces the parameters. A parameter named `auth` is refused when the request
    /// is built ([`InputError::Param`], before anything is sent): the request builder
    /// adds the access token itself.
    #[must_use]
    pub fn with_params(mut self, params: Map<String, Value>) -> Self {
        self.params = params;
        self
    }

    /// Sets one parameter (chainable; `auth` is refused when the request is built, as
    /// for [`with_params`](Self::with_params)).
    #[must_use]
    pub fn with_param(mut self, key: impl Into<String>, value: Value) -> Self {
        self.params.insert(key.into(), value);
        self
    }

    /// Marks whether repeating the call is harmless (default: unsafe).
    #[must_use]
    pub fn with_repeat(mut self, repeat: Repeat) -> Self {
        self.repeat = repeat;
        self
    }

    /// States whether the portal honours an `Idempotency-Key` on this method (see
    /// [the type docs](RawCall#idempotency-keys) for the default). Ignored for classic
    /// methods, which never honour keys.
    #[must_use]
    pub fn with_idempotency(mut self, honoured: bool) -> Self {
        self.idempotency = Some(honoured);
        self
    }
}

fn reserved_auth() -> InputError {
    InputError::param(
        "auth",
        "reserved: the request builder adds the access token itself",
    )
}

fn check_no_auth(params: &Map<String, Value>) -> Result<(), InputError> {
    if params.contains_key("auth") {
        Err(reserved_auth())
    } else {
        Ok(())
    }
}

impl Method for RawCall {
    type Output = Value;
    fn name(&self) -> &str {
        &self.name
    }
    fn api(&self) -> Api {
        self.api
    }
    fn repeat(&self) -> Repeat {
        self.repeat
    }
    fn params(&self) -> Result<Map<String, Value>, Error> {
        validate_method_name(&self.name)?;
        check_no_auth(&self.params)?;
        Ok(self.params.clone())
    }
    fn decode(&self, result: &RawValue) -> Result<Value, Error> {
        decode_value(result)
    }
    fn honours_idempotency_key(&self) -> bool {
        self.api == Api::V3
            && self.idempotency.unwrap_or_else(|| {
                self.repeat == Repeat::Unsafe && !self.name.eq_ignore_ascii_case("batch")
            })
    }
    /// The method's own name; for a classic `batch`, the methods named in its `cmd`
    /// (each once; the outer call is not counted); for a REST 3.0 `batch`, `batch`
    /// itself (the platform meters only the outer call).
    fn budget_methods(&self) -> Vec<&str> {
        if !self.name.eq_ignore_ascii_case("batch") {
            return vec![self.name.as_str()];
        }
        // The platform meters a REST 3.0 batch as the one call `batch`.
        if self.api != Api::Classic {
            return vec![self.name.as_str()];
        }
        let commands: Vec<&Value> = match self.params.get("cmd") {
            Some(Value::Object(map)) => map.values().collect(),
            Some(Value::Array(items)) => items.iter().collect(),
            _ => Vec::new(),
        };
        let mut names: Vec<&str> = Vec::new();
        for command in commands.into_iter().filter_map(Value::as_str) {
            let name = command.split('?').next().unwrap_or_default();
            if validate_method_name(name).is_ok() && !names.contains(&name) {
                names.push(name);
            }
        }
        names
    }
    fn accepts_bare_result(&self) -> bool {
        matches!(
            self.name.to_ascii_lowercase().as_str(),
            "rest.documentation.openapi" | "documentation"
        )
    }
}
