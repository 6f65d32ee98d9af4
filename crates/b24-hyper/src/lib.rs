//! The production transport of the b24 Bitrix24 REST client: hyper 1, hyper-util's
//! connection pool, rustls and tokio.
//!
//! # In scope
//!
//! Moving bytes: one pool of HTTP/1.1 and HTTP/2 (by ALPN) connections over rustls for
//! every portal, connect / attempt / call time limits, a cap on response bodies, DNS
//! overrides, sleeping when the call engine says wait, and awaiting the store
//! operations it asks for.
//!
//! # Out of scope
//!
//! Policy. Which request to send, whether to retry, how long to wait and what a
//! response means are decided by `b24-core`; this crate carries those decisions out.
//!
//! # Quick look
//!
//! ```no_run
//! use b24_core::Portal;
//! use b24_hyper::Client;
//! use b24_types::{MessageId, TaskId};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! // One client per process: one pool, one TLS configuration, every portal.
//! let client = Client::builder().user_agent("my-integration/1.0").build()?;
//! let portal = Portal::webhook("https://example.bitrix24.com/rest/1/webhookcode/")?;
//!
//! // A message of the task's chat becomes the task's result.
//! let message = client.post_to_task_chat(&portal, TaskId::new(51)?, "Done").await?;
//! let result = client.task_results(&portal).add_from_chat_message(message).await?;
//! println!("result {} of task {:?}", result.id, result.task_id);
//! # let _ = MessageId::new(1)?; Ok(()) }
//! ```
//!
//! [`Client::execute`] runs any [`b24_core::Method`]; [`Client::call`] any method by
//! name; [`TaskResults::list`] streams every result of a task by keyset paging;
//! [`Client::bulk`] runs any number of commands in planned batches and streams each
//! command's outcome.
//!
//! # Events
//!
//! [`Receiver`] is the HTTP endpoint a portal POSTs events to (a hyper service:
//! form bodies only, a size cap, the application token checked, `200` at once, the
//! event handed over through a bounded [`EventQueue`]). [`OfflinePoller`] reads the
//! offline queue at least once, clearing a batch only after it was handled.
//! [`Client::chat_message`] reads the message an `ONTASKCOMMENTADD` names. The
//! `result_bot` example puts them together; `docs/events.md` in the repository has
//! the rules they follow.
//!
//! # Many portals, one process
//!
//! Shared state follows the platform's own scopes:
//!
//! - the **request-rate limiter** is per portal host (the portal's bucket counts every
//!   request from this machine's address, whatever the credential);
//! - the **operating budgets** are per credential: per webhook, and per app for OAuth
//!   (the platform counts "per method and per app or webhook"), so one webhook's 429 never holds
//!   another webhook's calls;
//! - the **OAuth token store** is per app and user: [`Client::as_oauth_user`] gives a
//!   clone whose OAuth calls run as one [`OAuthUser`], so one client serves any number
//!   of users of one portal.
//!
//! A [`CredentialId`] names a credential without its secret (a webhook's user id and
//! a SHA-256 fingerprint of its secret; an OAuth user's label); its docs give the
//! reasoning. State is made on first use with the client's defaults
//! ([`ClientBuilder::bucket`], [`ClientBuilder::budget`]) or installed with
//! [`Client::register_portal`] / [`Client::register_oauth_portal`]. One portal's full
//! bucket, spent budget or expired token never holds up another; all share one
//! connection pool.
//!
//! State made on first use is dropped once unused for
//! [`ClientBuilder::idle_portal_timeout`] (30 min by default), lazily: a sweep rides
//! on a call's lookup at most every quarter of the timeout (and at least every
//! minute), with no background task. State a call is using, and state installed with
//! a `register_*` method, is never dropped ([`Client::forget_credential`],
//! [`Client::forget_portal`] remove it). A Market app serving thousands of portals
//! thus keeps only the ones in use.
//!
//! The table of who shares what is the core's
//! [`Registry`](b24_core::registry::Registry); this crate only drives it.
//!
//! # Many processes, one portal
//!
//! With the default in-memory stores each process believes it owns the portal's
//! whole bucket. Workers that call one portal from several processes or machines
//! share its limits and tokens through a store on a server:
//! [`ClientBuilder::store_backend`] with `b24_redis::RedisBackend`. The engine then
//! asks for each store operation as a step ([`b24_core::engine::Action::Store`]),
//! which this crate awaits; an expired OAuth token is refreshed once across all of
//! them (a lease in the store, fenced by the token generation).
//!
//! # Cargo features
//!
//! - `webpki-roots` (default): trust the Mozilla roots compiled in.
//! - `native-roots`: trust the operating system's roots.
//! - `ring` (default) / `aws-lc-rs`: the rustls crypto provider (`ring` needs only a C
//!   compiler; `aws-lc-rs` wins when both are on).
//! - `tracing`: spans at debug level, target `b24_hyper`: `b24.call` (method name;
//!   outcome, attempts and `replayed` when it ends), `b24.attempt` (attempt number;
//!   status, or failure kind and sent state; the engine's outcome class), `b24.wait`
//!   (reason, `wait_ms`) and `b24.refresh` (outcome), plus every engine event at trace
//!   level. Never a URI, a host, a header value or a body. The HTTP stack beneath
//!   (hyper-util, h2) emits its own events under its own targets: connection pool
//!   keys (scheme, host, port) and frame kinds, never a path or header value.
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
mod bulk;
mod call;
mod client;
mod connect;
mod error;
mod list;
mod messages;
pub mod poller;
pub mod prelude;
pub mod receiver;
mod resolve;
mod task_results;
#[cfg(feature = "emulator")]
pub mod testing;
mod tls;
mod trace;
mod transport;

pub use b24_core;
/// The requests of every method b24 knows, to pass to [`Client::execute`].
pub use b24_core::methods;
pub use b24_core::registry::{CredentialId, OAuthUser, MAX_OAUTH_USER_LEN};
/// The DTOs, ids and error codes (the `b24-types` crate).
pub use b24_core::types;
pub use b24_core::{Api, Method, Portal, PortalBuilder, Reply};
pub use builder::{ClientBuilder, HttpVersions, MAX_TIMEOUT};
// The defaults are stated on the builder's setters; the constants are for the
// benchmarks, which must run with exactly the same pool settings.
#[doc(hidden)]
pub use builder::{
    DEFAULT_ATTEMPT_TIMEOUT, DEFAULT_CALL_DEADLINE, DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_IDLE_PORTAL_TIMEOUT, DEFAULT_MAX_BODY, DEFAULT_POOL_IDLE_TIMEOUT,
    DEFAULT_POOL_MAX_IDLE_PER_HOST,
};
pub use bulk::{BulkCancel, BulkProgress, BulkStream};
pub use call::CallOptions;
pub use client::Client;
pub use error::{BuildError, Error, SentState, TimeoutStage, TransportError};
pub use list::ResultStream;
pub use poller::{
    Checkpoint, FileCheckpoint, MemoryCheckpoint, OfflineItem, OfflinePoller, PollError, PollReport,
};
pub use receiver::{
    EventQueue, ReceivedEvent, Receiver, ReceiverBuilder, ReceiverServer, ReceiverStats,
};
pub use task_results::TaskResults;

/// The README's code example, compiled as a doc test so that it stays true.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeExample;

/// The code of docs/events.md, compiled as doc tests so that it stays true.
#[cfg(doctest)]
#[doc = include_str!("../../../docs/events.md")]
pub struct EventsDocExamples;
