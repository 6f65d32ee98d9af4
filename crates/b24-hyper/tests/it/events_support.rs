//! Shared set-up of the event tests: the emulator over HTTPS, an OAuth client as
//! user 1 (an administrator), Anna's (user 2) webhook, and the result bot.

use std::sync::Arc;
use std::time::{Duration, Instant};

use b24_core::engine::{BucketConfig, MemoryTokenStore, OAuthApp, TokenSet};
use b24_core::events::MemoryApplicationTokens;
use b24_core::methods::{DialogId, ImMessageAdd};
use b24_core::types::events::MemberId;
use b24_core::Portal;
use b24_emulator::{Emulator, PortalConfig, ServerHandle};
use b24_hyper::{Client, EventQueue, Receiver, ReceiverServer};
use b24_types::{ChatId, ClientSecret, MessageId, UserId};

use crate::emu;
use crate::result_bot::{ResultBot, Rule};

pub struct EventEnv {
    pub server: ServerHandle,
    pub client: Client,
    /// User 1 through the OAuth app.
    pub portal: Portal,
    /// Anna (user 2) through her webhook.
    pub anna: Portal,
}

impl EventEnv {
    pub fn emu(&self) -> b24_emulator::EmulatedPortal {
        self.server.portal()
    }

    /// A bot as user 1 with the rule `Result:`.
    pub fn bot(&self) -> ResultBot {
        ResultBot::new(
            self.client.clone(),
            self.portal.clone(),
            Rule::prefix("Result:"),
        )
        .own_user(UserId::new(1).unwrap())
    }

    /// A receiver that knows the portal's application token, served on loopback.
    pub async fn receiver(&self) -> (Receiver, EventQueue, ReceiverServer, String) {
        let emu = self.emu();
        let tokens = Arc::new(MemoryApplicationTokens::with(
            MemberId::new(emu.member_id()),
            emu.application_token(),
        ));
        let (receiver, queue) = Receiver::builder(tokens).build();
        let server = receiver
            .clone()
            .serve(tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap())
            .unwrap();
        let url = format!("http://{}/b24/events", server.addr());
        (receiver, queue, server, url)
    }

    /// Anna posts `text` in chat 58 (task 51) through the API; the message id.
    pub async fn anna_posts(&self, text: &str) -> MessageId {
        let add = ImMessageAdd::new(DialogId::chat(ChatId::new(58).unwrap()), text).unwrap();
        self.client.execute(&self.anna, add).await.unwrap().result
    }
}

pub async fn event_env() -> EventEnv {
    let emulator = Emulator::builder().portal(PortalConfig::new("localhost").bucket(50, 500.0));
    let server = emulator.build().serve_https().await.unwrap();
    let (client, portal) = oauth_client(&server);
    let anna_url = server.webhook_url(&server.portal(), 2).unwrap();
    let anna = Portal::webhook(&anna_url).unwrap();
    EventEnv {
        server,
        client,
        portal,
        anna,
    }
}

/// A new client to `server`'s portal as user 1 through the OAuth app, with a token
/// pair of its own (what a restarted process would have).
pub fn oauth_client(server: &ServerHandle) -> (Client, Portal) {
    let app = OAuthApp::new(
        server.emulator().oauth_client_id(),
        ClientSecret::new(server.emulator().oauth_client_secret()),
    )
    .token_url(server.token_url());
    let client = emu::client_for(server, &[])
        .bucket(BucketConfig::custom(50, 500.0).unwrap())
        .oauth_app(app)
        .build()
        .unwrap();
    let (access, refresh) = server.portal().issue_tokens(1).unwrap();
    let portal = Portal::oauth(&format!("https://localhost:{}", server.addr().port())).unwrap();
    client.register_oauth_portal(
        &portal,
        Arc::new(MemoryTokenStore::new(TokenSet::new(access, refresh))),
    );
    (client, portal)
}

/// Polls `done` every 10 ms until it holds, up to `within`.
pub async fn eventually(within: Duration, mut done: impl FnMut() -> bool) -> bool {
    let until = Instant::now() + within;
    while Instant::now() < until {
        if done() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    done()
}
