//! Sans-IO core of the b24 Bitrix24 REST client.
//!
//! This crate turns typed method calls into [`http::Request`]s and [`http::Response`]s
//! into typed replies or typed errors, and holds the per-call engine that decides
//! about rate limits, retries, idempotency keys and token refresh. It never does IO,
//! never sleeps and never reads the clock: the transport that drives it passes `now`
//! in and carries out what the engine asks for.
//!
//! # In scope, out of scope
//!
//! In scope: [`Portal`] (address plus webhook or OAuth authentication), typed
//! [`methods`], building requests ([`build_request`], [`PreparedCall`]), parsing
//! responses ([`parse_response`], [`parse_envelope`]) into a [`Reply`] or a typed
//! [`Error`], and the call engine. Out of scope: sockets, TLS, timers and sleeping,
//! which belong to a transport such as `b24-hyper`.
//!
//! # The codec by hand
//!
//! Build the request of a call, send it any way you like, parse the answer:
//!
//! ```
//! use b24_core::bytes::Bytes;
//! use b24_core::methods::TaskResultAddFromChatMessage;
//! use b24_core::types::{MessageId, ResultStatus};
//! use b24_core::{build_request, parse_response, Portal, RequestOptions};
//!
//! let portal = Portal::webhook("https://example.bitrix24.com/rest/1/s3cr3tc0de/")?;
//! let call = TaskResultAddFromChatMessage::new(MessageId::new(335)?);
//!
//! let request = build_request(&portal, &call, &RequestOptions::new())?;
//! assert_eq!(request.method(), "POST");
//! assert_eq!(
//!     request.uri().path(),
//!     "/rest/api/1/s3cr3tc0de/tasks.task.result.addfromchatmessage"
//! );
//! assert_eq!(request.body().as_ref(), br#"{"fields":{"messageId":335}}"#);
//!
//! // ... the transport sends `request` and hands back the response:
//! let response = http::Response::builder().status(200).body(Bytes::from_static(
//!     br#"{"result":{"item":{"id":18,"taskId":51,"text":"Task work completed",
//!          "status":"open","messageId":335}},"time":{"operating":0}}"#,
//! ))?;
//! let reply = parse_response(&call, &response)?;
//! assert_eq!(reply.result.id.get(), 18);
//! assert_eq!(reply.result.message_id, Some(MessageId::new(335)?));
//! assert_eq!(reply.result.status, Some(ResultStatus::Open));
//! assert!(!reply.replayed);
//!
//! // Errors are found in the body whatever the status, in either shape.
//! let refused = http::Response::builder().status(403).body(Bytes::from_static(
//!     br#"{"error":{"code":"BITRIX_REST_V3_EXCEPTION_ACCESSDENIEDEXCEPTION","message":"Access denied"}}"#,
//! ))?;
//! let err = parse_response(&call, &refused).unwrap_err();
//! assert_eq!(err.status(), Some(403));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Security
//!
//! A webhook URL holds its secret in the path: the [`Portal`]'s `Debug` and `Display`
//! show only the host and `webhook user N`, errors never echo a URL, and the URI of a
//! built request must never be logged. OAuth access tokens travel in the JSON body,
//! never in the URL. Plain `http` is refused except for loopback hosts when asked for
//! with [`PortalBuilder::allow_plain_http_to_loopback`].
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub use b24_types as types;
pub use bytes;
pub use http;

mod api;
pub mod blocking;
pub mod bulk;
pub mod engine;
mod error;
pub mod events;
mod idempotency_key;
mod method;
pub mod methods;
pub mod paging;
mod portal;
pub mod reconcile;
pub mod registry;
mod reply;
mod request;
mod response;

pub use api::Api;
pub use error::{Error, InputError};
pub use idempotency_key::IdempotencyKey;
pub use method::{Method, Repeat};
#[doc(hidden)]
pub use portal::is_loopback_host;
pub use portal::{Portal, PortalBuilder};
pub use reply::Reply;
pub use request::{build_request, PreparedCall, RequestOptions};
// Codec pieces the adapter, the benchmarks and the tests reach for; not part of the
// documented surface.
#[doc(hidden)]
pub use request::{user_agent_value, DEFAULT_USER_AGENT};
pub use response::parse_response;
#[doc(hidden)]
pub use response::{
    decode_json, decode_value, parse_envelope, parse_envelope_with, scrub_snippet, SNIPPET_CHARS,
};
/// The raw JSON text of a `result`, as [`Method::decode`] receives it.
pub use serde_json::value::RawValue;
