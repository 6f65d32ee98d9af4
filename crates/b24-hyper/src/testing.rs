//! A ready client and portal on the offline Bitrix24 portal (`b24-emulator`), for
//! tests and examples: one call instead of serving it, trusting its certificate
//! authority, pinning its host and parsing a webhook URL. Cargo feature `emulator`.
//!
//! ```
//! use b24_hyper::prelude::*;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let emu = b24_hyper::testing::start().await?;
//! let message = emu
//!     .client
//!     .post_to_task_chat(&emu.portal, TaskId::new(51)?, "Done")
//!     .await?;
//! let result = emu
//!     .client
//!     .task_results(&emu.portal)
//!     .add_from_chat_message(message)
//!     .await?;
//! assert_eq!(emu.server.portal().results().len(), 1);
//! # let _ = result; emu.shutdown().await; Ok(()) }
//! ```

use b24_emulator::{Emulator, EmulatorBuilder, ServerHandle};

use crate::{BuildError, Client, ClientBuilder, Portal};

/// An emulator served over HTTPS on a free loopback port, a client that trusts it,
/// and the webhook portal of its user 1.
#[derive(Debug)]
pub struct TestPortal {
    /// The running emulator: its state (`server.portal().results()`), faults and
    /// clock.
    pub server: ServerHandle,
    /// A client trusting only the emulator's certificate authority, with the
    /// emulator's host names pinned to its address.
    pub client: Client,
    /// The incoming webhook of user 1 on the default portal.
    pub portal: Portal,
}

impl TestPortal {
    /// The webhook portal of another user of the default portal (users 1 to 4 have
    /// webhooks in the default seed), or `None` for a user without one.
    pub fn webhook(&self, user: u64) -> Option<Portal> {
        let url = self.server.webhook_url(&self.server.portal(), user)?;
        Portal::webhook(&url).ok()
    }

    /// Stops the server and waits for its connections to close.
    pub async fn shutdown(self) {
        self.server.shutdown().await;
    }
}

/// Why [`start`] failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The emulator could not be served (no free loopback port, say).
    #[error("could not serve the emulator: {0}")]
    Serve(#[from] b24_emulator::ServeError),
    /// The client could not be built.
    #[error("could not build the client: {0}")]
    Client(#[from] BuildError),
    /// The emulator's default portal has no webhook for user 1 (a custom seed).
    #[error("the emulator's default portal has no webhook for user 1")]
    NoWebhook,
    /// The webhook URL the emulator printed was refused.
    #[error("the emulator's webhook URL was refused: {0}")]
    Portal(#[from] b24_core::InputError),
}

/// The default emulator (one portal, `localhost`, task 51 and its chat) with a
/// client for it.
///
/// # Errors
///
/// [`StartError`] when the server cannot be started or the client built.
pub async fn start() -> Result<TestPortal, StartError> {
    start_with(Emulator::builder(), |b| b).await
}

/// An emulator built from `emulator`, with a client built from the ready
/// [`ClientBuilder`] after `configure` (timeouts, retry policy, bucket).
///
/// # Errors
///
/// [`StartError`] when the server cannot be started or the client built.
pub async fn start_with(
    emulator: EmulatorBuilder,
    configure: impl FnOnce(ClientBuilder) -> ClientBuilder,
) -> Result<TestPortal, StartError> {
    let server = emulator.build().serve_https().await?;
    let mut builder = Client::builder()
        .built_in_roots(false)
        .resolve("localhost", server.addr());
    if let Some(pem) = server.ca_cert_pem() {
        builder = builder.add_root_certificate_pem(pem);
    }
    for portal in server.emulator().portals() {
        builder = builder.resolve(portal.host(), server.addr());
    }
    let client = configure(builder).build()?;
    let url = server
        .webhook_url(&server.portal(), 1)
        .ok_or(StartError::NoWebhook)?;
    let portal = Portal::webhook(&url)?;
    Ok(TestPortal {
        server,
        client,
        portal,
    })
}
