//! An offline Bitrix24 portal for tests, examples and benchmarks.
//!
//! It answers the REST 3.0 task-result family (`tasks.task.result.add`,
//! `.addfromchatmessage`, `.update`, `.list`, `.delete`), `tasks.task.chat.message.send`,
//! `tasks.task.get`, the v3 batch, and the classic `im.message.add` /
//! `im.dialog.messages.get`, with the documented envelopes, validation errors,
//! limits (leaky bucket, per-method operating time), webhooks and OAuth with rotating
//! refresh tokens (`Authorization: Bearer` too), and the classic `tasks.task.get`,
//! `tasks.task.result.list` and `server.time`. Where the server's code and the
//! documentation differ it behaves as the server does, and a setting selects the
//! documented variant: `Idempotency-Key` is ignored unless
//! [`PortalConfig::idempotency_keys`] is [`IdempotencyKeys::Honoured`]. Faults (status/body, delay, a slow write that
//! overlaps a same-key repeat, dropped connection, truncated body, apply-then-drop)
//! can be scripted per method.
//!
//! Events too: `event.bind` / `.unbind` / `.get` for the OAuth app, delivery of
//! `ONTASKCOMMENTADD` (new task card) to bound handlers whenever a message lands in a
//! task chat (the notice the portal posts when a result is made included),
//! form-encoded with the portal's application token, the offline queue with
//! `event.offline.*`, and dropped, doubled or late deliveries ([`EventFault`]).
//!
//! It stands on `b24-types` alone, never on the client crates, so it cannot share
//! their bugs. `docs/emulator.md` in the repository lists every behaviour and the
//! documentation it comes from.
//!
//! # Three ways to call it
//!
//! - In-process, no sockets: [`Emulator::handle`] takes an `http::Request<Bytes>`
//!   and returns an `http::Response<Bytes>` ([`Emulator::exchange`] also reports
//!   dropped and truncated connections).
//! - Plain HTTP on a loopback port: [`Emulator::serve_http`] (portals must then be
//!   built with `allow_plain_http_to_loopback`, otherwise they answer `INVALID_REQUEST`
//!   "Https required.", as Bitrix24 does).
//! - HTTPS with a CA generated at startup: [`Emulator::serve_https`]; trust
//!   [`ServerHandle::ca_cert_pem`] in the client. HTTP/1.1 and HTTP/2 (ALPN).
//!
//! # Example
//!
//! ```
//! use b24_emulator::{Emulator, ManualClock, PortalConfig};
//! use bytes::Bytes;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let clock = ManualClock::new(1_777_529_700.0);
//! let emu = Emulator::builder()
//!     .portal(PortalConfig::new("p1.localhost").bucket(50, 2.0))
//!     .clock(clock.clone())
//!     .build();
//! let portal = emu.default_portal();
//! let secret = portal.webhook_secret(1).unwrap();
//!
//! let req = http::Request::post(format!(
//!     "/rest/api/1/{secret}/tasks.task.result.addfromchatmessage"
//! ))
//! .header("host", "p1.localhost")
//! .header("content-type", "application/json")
//! .body(Bytes::from(r#"{"fields":{"messageId":335}}"#))
//! .unwrap();
//! let resp = emu.handle(req).await;
//! assert_eq!(resp.status(), 200);
//! let body: serde_json::Value = serde_json::from_slice(resp.body()).unwrap();
//! assert_eq!(body["result"]["item"]["messageId"], 335);
//! assert_eq!(body["result"]["item"]["taskId"], 51);
//! assert_eq!(portal.results().len(), 1);
//! # }
//! ```
//!
//! Over HTTPS (what the hyper adapter's tests and the quickstart do):
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let emu = b24_emulator::Emulator::new();
//! let server = emu.serve_https().await?;
//! let ca_pem = server.ca_cert_pem().unwrap_or_default();     // trust this in the client
//! let url = server.webhook_url(&server.portal(), 1);          // https://localhost:PORT/rest/1/SECRET/
//! # let _ = (ca_pem, url);
//! # Ok(()) }
//! ```
//!
//! # Seeded data
//!
//! Every portal starts with (unless `seed_defaults(false)`):
//!
//! | what | ids |
//! |---|---|
//! | users | 1 John Smith (admin), 2 Anna Lee, 3 Max Brown, 4 Olga Petrova (member of nothing) |
//! | task 51 "Prepare the quarterly report" | creator 1, responsible 1, accomplice 2; chat 58 |
//! | task 52 "Check the supplier contract" | creator 2, responsible 3; chat 59 (user 1 has no access) |
//! | task 53 "Plan the release" | creator 1, responsible 2; chat 60 |
//! | chat 61 "General" | a plain group chat (not a task chat), members 1, 2, 3 |
//! | messages | 335 (chat 58, user 1, "Task work completed"), 336 (chat 58, user 2), 337 (chat 59), 338 (chat 61) |
//!
//! New ids continue from: tasks 54, chats 62, messages 34239, results 17, users 5.
//! [`Seed::default_data`] is this table as a [`Seed`].
//! Every user has a webhook; read its secret with [`EmulatedPortal::webhook_secret`].
//!
//! # For tests
//!
//! - Seed: [`Seed`] (JSON, also the binary's `--seed FILE` / `--print-seed`) with
//!   [`EmulatorBuilder::seed`], [`EmulatedPortal::add_user`], [`EmulatedPortal::seed_task`], [`EmulatedPortal::add_chat`],
//!   [`EmulatedPortal::add_message`], [`EmulatedPortal::complete_task`].
//! - Read: [`EmulatedPortal::results`], [`EmulatedPortal::messages`], [`EmulatedPortal::calls`],
//!   [`EmulatedPortal::requests`] (secrets removed).
//! - Credentials: [`EmulatedPortal::issue_tokens`], [`EmulatedPortal::expire_token`],
//!   [`EmulatedPortal::issue_auth_code`], [`Emulator::oauth_client_secret`].
//! - Limits: [`ManualClock`] plus [`PortalConfig::bucket`],
//!   [`PortalConfig::operating_cost`], [`PortalConfig::operating_limit`],
//!   [`EmulatedPortal::set_overloaded`].
//! - Faults: [`EmulatedPortal::inject`] with a [`Fault`].
//! - Events: [`EmulatedPortal::application_token`], [`EmulatedPortal::deliveries`],
//!   [`EmulatedPortal::wait_for_deliveries`], [`EmulatedPortal::offline_events`],
//!   [`EmulatedPortal::inject_event_fault`].
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod auth;
mod batch;
mod classic_batch;
mod clock;
mod config;
mod emulator;
mod events;
mod failure;
mod faults;
mod idempotency;
mod limits;
mod methods;
mod model;
mod portal;
mod random;
mod record;
mod seed;
mod server;
mod tls;
mod wire;

pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{
    EmulatorBuilder, PortalConfig, UnknownSelectField, V3AuthErrorShape, DEFAULT_MAX_CONNECTIONS,
    DEFAULT_OPERATING_LIMIT, MAX_HEADER_READ_TIMEOUT, MAX_TTL,
};
pub use emulator::{Emulator, WireOutcome};
pub use events::{
    DeliveryRecord, DeliveryStatus, EventFault, EventFaultAction, StoredBinding, StoredOfflineEvent,
};
pub use faults::{Fault, FaultAction};
pub use idempotency::{IdempotencyBodyMatch, IdempotencyKeys};
pub use portal::{EmulatedPortal, SeedError, SeededTask, StoredMessage, StoredResult, TaskSeed};
pub use record::{Endpoint, RecordedRequest};
pub use seed::Seed;
pub use server::{ServeError, ServerHandle};
pub use tls::CaCertificate;
