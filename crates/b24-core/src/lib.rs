//! Sans-IO core of the b24 Bitrix24 REST client.
//!
//! This crate turns typed method calls into [`http::Request`]s and [`http::Response`]s
//! into typed replies or typed errors, and holds the per-call engine that decides
//! about rate limits, retries, idempotency keys and token refresh. It never does IO,
//! never sleeps and never reads the clock: the transport that drives it passes `now`
//! in and carries out what the engine asks for.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub use b24_types as types;
pub use bytes;
pub use http;

mod api;
mod error;
mod idempotency_key;
mod method;
mod reply;

pub use api::Api;
pub use error::{Error, InputError};
pub use idempotency_key::IdempotencyKey;
pub use method::{Method, Repeat};
pub use reply::Reply;
