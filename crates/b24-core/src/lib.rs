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
pub mod engine;
mod error;
mod idempotency_key;
mod method;
pub mod methods;
mod portal;
mod reply;
mod request;
mod response;

pub use api::Api;
pub use error::{Error, InputError};
pub use idempotency_key::IdempotencyKey;
pub use method::{Method, Repeat};
pub use portal::{Portal, PortalBuilder};
pub use reply::Reply;
pub use request::{
    build_request, validate_method_name, PreparedCall, RequestOptions, DEFAULT_USER_AGENT,
};
pub use response::{
    decode_json, parse_envelope, parse_envelope_with, parse_response, scrub_snippet,
    IDEMPOTENT_REPLAYED, SNIPPET_CHARS,
};
