//! The [`Method`] trait: a typed REST method is a struct holding its parameters.

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

    /// Decodes the envelope's `result` value into the output type.
    fn decode(&self, result: serde_json::Value) -> Result<Self::Output, Error>;
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
    fn decode(&self, result: serde_json::Value) -> Result<Self::Output, Error> {
        (**self).decode(result)
    }
}
