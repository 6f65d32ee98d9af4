//! The [`Method`] trait: a typed REST method is a struct holding its parameters.

use b24_types::Time;
use serde_json::value::RawValue;

use crate::api::Api;
use crate::error::Error;

/// Whether repeating a call is harmless.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Repeat {
    /// A read, or a write whose repetition cannot change anything: retried freely.
    Safe,
    /// A write (create, modify, delete): repeated only when the server cannot have
    /// run it, or when it carries an idempotency key.
    Unsafe,
}

/// A REST method: the implementing struct is its parameter set.
///
/// Implementations validate their parameters in [`Method::params`]; an invalid
/// parameter set yields [`Error::InvalidInput`] before any request exists.
pub trait Method {
    /// The typed value a successful call yields (taken from the envelope's `result`).
    type Output;

    /// The method name as sent, e.g. `tasks.task.result.addfromchatmessage`.
    fn name(&self) -> &str;

    /// The API the method lives in.
    fn api(&self) -> Api;

    /// Whether repeating the call is harmless.
    fn repeat(&self) -> Repeat;

    /// The JSON parameters (an object), validated. The `auth` key is added by the
    /// request builder for OAuth portals; methods never add it.
    fn params(&self) -> Result<serde_json::Map<String, serde_json::Value>, Error>;

    /// Decodes the envelope's `result`, given as its raw JSON text borrowed from the
    /// body (valid JSON syntax, not yet built into anything), into the output type.
    ///
    /// A decode failure is reported as [`Error::Decode`] with the JSON path relative
    /// to `result` and status 0; [`parse_response`](crate::parse_response) fills in
    /// the real status and prefixes the path with `result`.
    /// [`decode_json`](crate::decode_json) does this for any `DeserializeOwned` type,
    /// and [`decode_value`](crate::decode_value) for an untyped
    /// [`serde_json::Value`] output. For a method that
    /// [accepts a bare result](Method::accepts_bare_result), `result` may be the
    /// whole body.
    fn decode(&self, result: &RawValue) -> Result<Self::Output, Error>;

    /// The whole JSON body. By default the [`params`](Method::params) object; a
    /// method whose body is not an object (the REST 3.0 batch sends an array)
    /// overrides this.
    fn body(&self) -> Result<serde_json::Value, Error> {
        self.params().map(serde_json::Value::Object)
    }

    /// The whole body as JSON text. By default [`body`](Method::body) serialised, after
    /// checking that an object body holds no `auth` key (the request builder adds the
    /// access token itself). A method on the hot path may write its fixed-shape body
    /// directly (no intermediate [`serde_json::Value`]); it must then never write an
    /// `auth` key.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for invalid parameters, an `auth` key, or a body that
    /// cannot be serialised.
    fn body_json(&self) -> Result<Vec<u8>, Error> {
        let body = self.body()?;
        if let serde_json::Value::Object(map) = &body {
            if map.contains_key("auth") {
                return Err(crate::InputError::param(
                    "auth",
                    "reserved: the request builder adds the access token itself",
                )
                .into());
            }
        }
        serde_json::to_vec(&body).map_err(|e| {
            crate::InputError::param("params", format!("could not be serialised as JSON: {e}"))
                .into()
        })
    }

    /// A one-pass decode of a whole success body, for methods on the hot path: the
    /// typed result and the reply's `time`, or `None` to take the general path of
    /// [`parse_response`](crate::parse_response) (which looks for `error`, reads odd
    /// shapes and reports where a decode failed). It must accept only bodies the general
    /// path reads the same way; `None` by default.
    fn decode_body(&self, body: &[u8]) -> Option<(Self::Output, Option<b24_types::Time>)> {
        let _ = body;
        None
    }

    /// True when a success body may come without the `{"result": ...}` envelope, in
    /// which case the whole body is the result (`rest.documentation.openapi` may
    /// answer with the bare OpenAPI document). False by default.
    fn accepts_bare_result(&self) -> bool {
        false
    }

    /// True when the portal honours an `Idempotency-Key` on this method, so a key
    /// makes repeating it after a 5xx or a timeout safe.
    ///
    /// REST 3.0 documents keys for create, modify and delete methods only, so
    /// the default is `api() == Api::V3 && repeat() == Repeat::Unsafe`. A method that
    /// writes but does not honour keys (the REST 3.0 `batch`) returns false: the
    /// engine then sends it no key, never treats a key as protection for it, and
    /// refuses a caller's key with an [`InputError`](crate::InputError).
    fn honours_idempotency_key(&self) -> bool {
        self.api() == Api::V3 && self.repeat() == Repeat::Unsafe
    }

    /// The methods whose operating-time budgets this call is charged to: the
    /// engine holds the call while any of them is held, and after a 429 it holds all
    /// of them. By default the method's own name. A batch returns its commands'
    /// methods: the platform charges each command to its own method and does not
    /// count the outer `batch` call.
    ///
    /// The `time` of a reply is recorded under the method's own name only when that
    /// name is in this list (a batch's single `time` is not any one command's).
    fn budget_methods(&self) -> Vec<&str> {
        vec![self.name()]
    }

    /// The operating times a successful reply reports for the methods run inside the
    /// call, as `(method, time)` pairs: what a batch's per-command times charge to
    /// each command's own method (the classic batch's `result_time`). The engine
    /// records each pair in the budget store, beside (never instead of) the reply's
    /// own `time`. Empty by default: a plain call's `time` is its own method's.
    ///
    /// Owned pairs, so that the engine can record them while it holds the method:
    /// a batch reports one pair per method at most (its latest figure), so this
    /// costs a few small allocations per batch and nothing for a plain call.
    fn command_times(&self, output: &Self::Output) -> Vec<(String, Time)> {
        let _ = output;
        Vec::new()
    }
}

impl<M: Method + ?Sized> Method for &M {
    type Output = M::Output;
    fn name(&self) -> &str {
        (**self).name()
    }
    fn api(&self) -> Api {
        (**self).api()
    }
    fn repeat(&self) -> Repeat {
        (**self).repeat()
    }
    fn params(&self) -> Result<serde_json::Map<String, serde_json::Value>, Error> {
        (**self).params()
    }
    fn decode(&self, result: &RawValue) -> Result<Self::Output, Error> {
        (**self).decode(result)
    }
    fn body(&self) -> Result<serde_json::Value, Error> {
        (**self).body()
    }
    fn body_json(&self) -> Result<Vec<u8>, Error> {
        (**self).body_json()
    }
    fn accepts_bare_result(&self) -> bool {
        (**self).accepts_bare_result()
    }
    fn decode_body(&self, body: &[u8]) -> Option<(Self::Output, Option<b24_types::Time>)> {
        (**self).decode_body(body)
    }
    fn honours_idempotency_key(&self) -> bool {
        (**self).honours_idempotency_key()
    }
    fn budget_methods(&self) -> Vec<&str> {
        (**self).budget_methods()
    }
    fn command_times(&self, output: &Self::Output) -> Vec<(String, Time)> {
        (**self).command_times(output)
    }
}
