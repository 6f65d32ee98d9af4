//! A test stand: the offline portal served over HTTPS on a free loopback port, and a
//! client that trusts its CA, speaks the chosen HTTP version and authenticates with a
//! webhook or an OAuth token pair.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use b24_core::engine::{BucketConfig, MemoryTokenStore, OAuthApp, RetryPolicy, TokenSet};
use b24_core::Portal;
use b24_emulator::{Emulator, IdempotencyKeys, PortalConfig, ServerHandle};
use b24_hyper::{Client, ClientBuilder, HttpVersions};
use b24_types::ClientSecret;

/// The HTTP version the client is limited to (the emulator speaks both).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HttpVersion {
    /// HTTP/1.1 only: a pool of connections, one call on each at a time.
    Http1,
    /// HTTP/2 only: every call multiplexed on one connection.
    Http2,
}

impl fmt::Display for HttpVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HttpVersion::Http1 => "HTTP/1.1",
            HttpVersion::Http2 => "HTTP/2",
        })
    }
}

/// How the client authenticates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// User 1's webhook (the secret in the URL path).
    Webhook,
    /// An OAuth token pair of user 1; access tokens issued by the portal live
    /// `token_ttl` (the first one too), so calls meet expired tokens and refresh.
    OAuth {
        /// How long each access token lives.
        token_ttl: Duration,
    },
}

impl fmt::Display for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Auth::Webhook => f.write_str("webhook"),
            Auth::OAuth { token_ttl } => write!(f, "OAuth (tokens live {token_ttl:?})"),
        }
    }
}

/// Everything a stand is built from.
#[derive(Debug, Clone)]
pub struct StandSettings {
    /// The HTTP version.
    pub http: HttpVersion,
    /// The credential.
    pub auth: Auth,
    /// The portal's request bucket: burst and drain per second (the client's limiter
    /// is set to the same figures).
    pub bucket: (u32, f64),
    /// The client's retry policy.
    pub policy: RetryPolicy,
    /// The client's per-attempt timeout.
    pub attempt_timeout: Duration,
    /// The client's call deadline.
    pub call_deadline: Duration,
    /// The client's cap on response bodies, in bytes.
    pub max_response_body: usize,
    /// Whether the portal honours `Idempotency-Key` as documented, or ignores it as
    /// the server code of some versions does. With `Honoured`, the stand makes one
    /// keyed write first, so that the client has seen the portal echo a key.
    pub keys: IdempotencyKeys,
}

impl StandSettings {
    /// A fast portal (burst 50, 500 per second), HTTP/2, a webhook, the default policy
    /// with short backoffs and a one-second in-flight grace (the emulator finishes a
    /// request at once unless a fault says otherwise), 2 s attempts, 60 s calls.
    pub fn new() -> Self {
        Self {
            http: HttpVersion::Http2,
            auth: Auth::Webhook,
            bucket: (50, 500.0),
            policy: RetryPolicy::default()
                .backoff(Duration::from_millis(10), Duration::from_millis(40))
                .in_flight_grace(Duration::from_secs(1)),
            attempt_timeout: Duration::from_secs(2),
            keys: IdempotencyKeys::Honoured,
            call_deadline: Duration::from_secs(60),
            max_response_body: b24_hyper::DEFAULT_MAX_BODY,
        }
    }
}

impl Default for StandSettings {
    fn default() -> Self {
        Self::new()
    }
}

/// Why a stand (or a run on it) could not be set up. Never holds a secret.
#[derive(Debug)]
#[non_exhaustive]
pub enum HarnessError {
    /// The emulator could not be served.
    Serve(b24_emulator::ServeError),
    /// The client could not be built.
    Build(b24_hyper::BuildError),
    /// Seeding the portal, or a setting, failed.
    Setup(String),
}

impl fmt::Display for HarnessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HarnessError::Serve(e) => write!(f, "serving the emulator failed: {e}"),
            HarnessError::Build(e) => write!(f, "building the client failed: {e}"),
            HarnessError::Setup(why) => write!(f, "setting up the stand failed: {why}"),
        }
    }
}

impl std::error::Error for HarnessError {}

/// A portal served over HTTPS and a client for it.
#[derive(Debug)]
pub struct Stand {
    /// The server (dropping it stops the portal).
    pub server: ServerHandle,
    /// The client.
    pub client: Client,
    /// The client-side portal (webhook or OAuth).
    pub portal: Portal,
    /// The token store of an OAuth stand.
    pub tokens: Option<Arc<MemoryTokenStore>>,
}

impl Stand {
    /// Serves a portal `localhost` with the settings' bucket and builds the client.
    ///
    /// # Errors
    ///
    /// [`HarnessError`] when the server or the client cannot be made.
    pub async fn start(settings: &StandSettings) -> Result<Self, HarnessError> {
        Self::start_with(settings, |c| c, |b| b).await
    }

    /// Like [`Stand::start`], with the portal's configuration and the client builder
    /// adjusted by the two functions.
    ///
    /// # Errors
    ///
    /// [`HarnessError`] when the server or the client cannot be made.
    pub async fn start_with(
        settings: &StandSettings,
        portal_config: impl FnOnce(PortalConfig) -> PortalConfig,
        client_config: impl FnOnce(ClientBuilder) -> ClientBuilder,
    ) -> Result<Self, HarnessError> {
        let (burst, drain) = settings.bucket;
        let mut config = PortalConfig::new("localhost").bucket(burst, drain);
        if let Auth::OAuth { token_ttl } = settings.auth {
            config = config.access_token_ttl(token_ttl);
        }
        let config = config.idempotency_keys(settings.keys);
        let emulator = Emulator::builder().portal(portal_config(config)).build();
        let server = emulator.serve_https().await.map_err(HarnessError::Serve)?;
        let ca = server
            .ca_cert_pem()
            .ok_or_else(|| HarnessError::Setup("the HTTPS server has no CA".into()))?
            .to_owned();
        let bucket = BucketConfig::custom(burst, drain)
            .map_err(|e| HarnessError::Setup(format!("bucket: {e}")))?;
        let mut builder = Client::builder()
            .built_in_roots(false)
            .add_root_certificate_pem(ca)
            .resolve("localhost", server.addr())
            .http_versions(match settings.http {
                HttpVersion::Http1 => HttpVersions::Http1,
                HttpVersion::Http2 => HttpVersions::Http2,
            })
            .attempt_timeout(settings.attempt_timeout)
            .call_deadline(settings.call_deadline)
            .max_response_body(settings.max_response_body)
            .bucket(bucket)
            .retry_policy(settings.policy.clone());
        if matches!(settings.auth, Auth::OAuth { .. }) {
            let app = OAuthApp::new(
                server.emulator().oauth_client_id(),
                ClientSecret::new(server.emulator().oauth_client_secret()),
            )
            .token_url(server.token_url());
            builder = builder.oauth_app(app);
        }
        let client = client_config(builder)
            .build()
            .map_err(HarnessError::Build)?;
        let emu = server.portal();
        // Keeps the portal's chats small: no notice per result.
        emu.set_result_notices(false);
        let (portal, tokens) = match settings.auth {
            Auth::Webhook => {
                let url = server
                    .webhook_url(&emu, 1)
                    .ok_or_else(|| HarnessError::Setup("user 1 has no webhook".into()))?;
                let portal = Portal::webhook(&url)
                    .map_err(|e| HarnessError::Setup(format!("webhook portal: {e}")))?;
                (portal, None)
            }
            Auth::OAuth { .. } => {
                let (access, refresh) = emu
                    .issue_tokens(1)
                    .map_err(|e| HarnessError::Setup(format!("tokens: {e}")))?;
                let portal = Portal::oauth(&format!("https://localhost:{}", server.addr().port()))
                    .map_err(|e| HarnessError::Setup(format!("OAuth portal: {e}")))?;
                let store = Arc::new(MemoryTokenStore::new(TokenSet::new(access, refresh)));
                client.register_oauth_portal(&portal, store.clone());
                (portal, Some(store))
            }
        };
        // (Not with a body cap too small for the answer: such a stand tests the cap.)
        if settings.keys == IdempotencyKeys::Honoured && settings.max_response_body >= 4096 {
            // The answer echoes the key: from then on the client counts keys as
            // protection.
            // A result made from a message of its own, so that no figure of the
            // methods under test (`tasks.task.result.add`) is touched.
            let message = emu
                .add_message(58, 1, "key support shown")
                .map_err(|e| HarnessError::Setup(format!("warm-up message: {e}")))?;
            let message = b24_types::MessageId::new(message)
                .map_err(|e| HarnessError::Setup(format!("message id: {e}")))?;
            client
                .task_results(&portal)
                .add_from_chat_message(message)
                .await
                .map_err(|e| HarnessError::Setup(format!("warm-up write: {e}")))?;
        }
        Ok(Self {
            server,
            client,
            portal,
            tokens,
        })
    }

    /// The emulated portal.
    pub fn emu(&self) -> b24_emulator::EmulatedPortal {
        self.server.portal()
    }

    /// The token pair an OAuth stand's client holds now.
    pub async fn current_tokens(&self) -> Option<TokenSet> {
        use b24_core::engine::TokenStore;
        let store = self.tokens.as_ref()?;
        store.current().await.ok().flatten()
    }
}
