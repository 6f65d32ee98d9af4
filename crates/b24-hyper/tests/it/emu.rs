//! Starting b24-emulator over HTTPS on loopback, with a client that trusts its CA and
//! sends every emulated portal host to it.

use std::time::Duration;

use b24_core::engine::BucketConfig;
use b24_core::Portal;
use b24_emulator::{Emulator, EmulatorBuilder, PortalConfig, ServerHandle};
use b24_hyper::{Client, ClientBuilder};

pub struct Env {
    pub server: ServerHandle,
    pub client: Client,
}

impl Env {
    pub fn emulator(&self) -> &Emulator {
        self.server.emulator()
    }

    /// The emulated portal answering to `host`.
    pub fn emu_portal(&self, host: &str) -> b24_emulator::EmulatedPortal {
        self.emulator().portal(host).expect("portal configured")
    }

    /// The client-side portal of user `user`'s webhook on the emulated `host`.
    pub fn webhook(&self, host: &str, user: u64) -> Portal {
        let emu = self.emu_portal(host);
        let url = self
            .server
            .webhook_url(&emu, user)
            .expect("user has a webhook");
        Portal::webhook(&url).expect("valid webhook URL")
    }

    /// User 1's webhook on the default portal.
    pub fn default_webhook(&self) -> Portal {
        let host = self.server.portal().host().to_owned();
        self.webhook(&host, 1)
    }
}

/// A client builder trusting the emulator's CA only, with every host of `hosts`
/// pinned to the server.
pub fn client_for(server: &ServerHandle, hosts: &[&str]) -> ClientBuilder {
    let mut builder = Client::builder()
        .built_in_roots(false)
        .add_root_certificate_pem(server.ca_cert_pem().expect("https server"))
        .resolve("localhost", server.addr())
        .attempt_timeout(Duration::from_secs(10))
        .call_deadline(Duration::from_secs(30));
    for host in hosts {
        builder = builder.resolve(host, server.addr());
    }
    builder
}

/// Serves `emulator` over HTTPS and builds a client for it with `configure`.
pub async fn start_with(
    emulator: EmulatorBuilder,
    hosts: &[&str],
    configure: impl FnOnce(ClientBuilder) -> ClientBuilder,
) -> Env {
    let server = emulator.build().serve_https().await.expect("serve https");
    let client = configure(client_for(&server, hosts))
        .build()
        .expect("client");
    Env { server, client }
}

/// One portal `localhost` with a fast bucket (burst 50, 500/s) and a client whose
/// limiter matches it.
pub async fn start() -> Env {
    start_with(
        Emulator::builder().portal(PortalConfig::new("localhost").bucket(50, 500.0)),
        &[],
        |b| b.bucket(BucketConfig::custom(50, 500.0).expect("valid bucket")),
    )
    .await
}
