//! The production transport of the b24 Bitrix24 REST client: hyper 1, hyper-util's
//! connection pool, rustls and tokio.
//!
//! # In scope
//!
//! Moving bytes: one pool of HTTP/1.1 and HTTP/2 (by ALPN) connections over rustls for
//! every portal, connect / attempt / call time limits, a cap on response bodies, DNS
//! overrides, sleeping when the call engine says wait, and refreshing OAuth tokens
//! once for any number of concurrent calls.
//!
//! # Out of scope
//!
//! Policy. Which request to send, whether to retry, how long to wait and what a
//! response means are decided by `b24-core`; this crate carries those decisions out.
//!
//! # Security
//!
//! - HTTPS only. Plain `http://` is refused before any connection unless the host is a
//!   loopback address and [`ClientBuilder::allow_plain_http_to_loopback`] is on.
//! - Redirects are never followed: a `3xx` is handed to the core as it is.
//! - A webhook URL holds its secret in the path, so no URI ever appears in an error,
//!   a `Debug` output or a trace.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod builder;
mod call;
mod client;
mod connect;
mod error;
mod list;
mod portals;
mod resolve;
mod task_results;
mod tls;
mod trace;
mod transport;

pub use b24_core;
pub use builder::{
    ClientBuilder, DEFAULT_ATTEMPT_TIMEOUT, DEFAULT_CALL_DEADLINE, DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_MAX_BODY, DEFAULT_POOL_IDLE_TIMEOUT, DEFAULT_POOL_MAX_IDLE_PER_HOST,
};
pub use call::CallOptions;
pub use client::Client;
pub use error::{BuildError, Error, SentState, TimeoutStage, TransportError};
pub use list::ResultStream;
pub use task_results::TaskResults;
