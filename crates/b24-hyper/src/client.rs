//! [`Client`]: one connection pool and one TLS configuration for every portal.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use b24_core::engine::{BudgetConfig, PortalState, RetryPolicy, Timestamp, TokenStore};
use b24_core::registry::{CredentialId, OAuthUser, Registry};
use b24_core::Portal;
use bytes::Bytes;
use http::HeaderValue;
use http_body_util::Full;
use hyper_util::client::legacy::Client as PoolClient;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use rustls::ClientConfig;

use crate::builder::ClientBuilder;
use crate::connect::Connector;
use crate::error::{BuildError, TransportError};
use crate::resolve::OverrideResolver;

/// The Bitrix24 client: one pool of HTTP/1.1 and HTTP/2 connections over rustls.
///
/// Build it once and clone it freely: clones share the pool and everything else.
/// [`as_oauth_user`](Self::as_oauth_user) gives a clone whose OAuth calls run as one
/// user of the portal.
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
    /// The OAuth user calls to OAuth portals run as (`None`: the default user).
    pub(crate) oauth_user: Option<OAuthUser>,
}

/// What every clone shares.
pub(crate) struct Inner {
    pub(crate) pool: PoolClient<Connector, Full<Bytes>>,
    pub(crate) settings: Settings,
    pub(crate) registry: Registry,
}

/// The engine's clock: wall-clock milliseconds.
pub(crate) fn now() -> Timestamp {
    Timestamp::from_system_time(std::time::SystemTime::now())
}

/// Limits and switches the call path reads.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) attempt_timeout: Duration,
    pub(crate) call_deadline: Duration,
    pub(crate) max_body: usize,
    pub(crate) allow_plain_loopback: bool,
    pub(crate) user_agent: HeaderValue,
    pub(crate) policy: RetryPolicy,
    /// The operating-time budget rules of state made on first use (the bulk planner
    /// applies the same hold line).
    pub(crate) budget: BudgetConfig,
}

impl Client {
    /// A builder with the defaults.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::new()
    }

    /// A client with the defaults.
    ///
    /// # Errors
    ///
    /// [`BuildError::NoRoots`] when no root feature is enabled.
    pub fn new() -> Result<Self, BuildError> {
        ClientBuilder::new().build()
    }

    pub(crate) fn from_parts(
        builder: ClientBuilder,
        tls: Arc<ClientConfig>,
        user_agent: HeaderValue,
    ) -> Self {
        let registry = builder.registry();
        let resolver = OverrideResolver::new(builder.resolve);
        let connector = Connector::new(
            resolver,
            tls,
            builder.allow_plain_loopback,
            builder.connect_timeout,
        );
        let pool = PoolClient::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .timer(TokioTimer::new())
            .pool_idle_timeout(builder.pool_idle_timeout)
            .pool_max_idle_per_host(builder.pool_max_idle_per_host)
            // The one repeat below the engine: hyper-util sends a request again on a
            // fresh connection only when the pooled connection it picked closed
            // before any byte of the request was written (the server dropping an
            // idle keep-alive connection). Nothing reached the portal, so no write
            // can run twice and the portal's bucket counted nothing.
            .retry_canceled_requests(true)
            .build(connector);
        Self {
            inner: Arc::new(Inner {
                pool,
                settings: Settings {
                    attempt_timeout: builder.attempt_timeout,
                    call_deadline: builder.call_deadline,
                    max_body: builder.max_body,
                    allow_plain_loopback: builder.allow_plain_loopback,
                    user_agent,
                    policy: builder.policy,
                    budget: builder.budget,
                },
                registry,
            }),
            oauth_user: None,
        }
    }

    /// Sends one request as one attempt and reads the whole response.
    ///
    /// This is the bare transport: no rate limit, no retry, no parsing. The typed
    /// calls go through it. The request URI must be absolute (`https://host/...`).
    ///
    /// # Errors
    ///
    /// [`TransportError`] when the request could not be sent or the response could
    /// not be read; [`TransportError::sent_state`] tells whether it may have run.
    pub async fn send(
        &self,
        request: http::Request<Bytes>,
    ) -> Result<http::Response<Bytes>, TransportError> {
        crate::transport::send_attempt(&self.inner, request, None).await
    }
}

/// Shared state: the request-rate limiter per portal host, the operating budgets and
/// token store per credential (see [`CredentialId`] for the scopes and why).
impl Client {
    /// A clone of this client (same pool, same shared state) whose calls to OAuth
    /// portals run as `user`: with `user`'s token store, registered with
    /// [`register_oauth_portal`](Self::register_oauth_portal) on this clone. Webhook
    /// calls are unaffected (a webhook URL names its own user).
    ///
    /// ```no_run
    /// # use std::sync::Arc;
    /// # use b24_core::engine::{MemoryTokenStore, TokenSet};
    /// # fn run(client: b24_hyper::Client, alice_tokens: TokenSet) -> Result<(), Box<dyn std::error::Error>> {
    /// use b24_hyper::OAuthUser;
    ///
    /// let portal = b24_core::Portal::oauth("https://example.bitrix24.com")?;
    /// let alice = client.as_oauth_user(OAuthUser::new("user:67")?);
    /// alice.register_oauth_portal(&portal, Arc::new(MemoryTokenStore::new(alice_tokens)));
    /// let results = alice.task_results(&portal); // runs with Alice's token
    /// # let _ = results; Ok(()) }
    /// ```
    pub fn as_oauth_user(&self, user: OAuthUser) -> Client {
        Client {
            inner: Arc::clone(&self.inner),
            oauth_user: Some(user),
        }
    }

    /// The OAuth user this clone's OAuth calls run as (`None`: the default user).
    pub fn selected_oauth_user(&self) -> Option<&OAuthUser> {
        self.oauth_user.as_ref()
    }

    /// The secret-free identity calls to `portal` run as through this clone: the
    /// webhook's, or the selected OAuth user's.
    pub fn credential_id(&self, portal: &Portal) -> CredentialId {
        CredentialId::of(portal, self.oauth_user.as_ref())
    }

    /// Installs the shared state of a credential (the portal's webhook, or the
    /// selected OAuth user): its budgets and, for OAuth, token store, used as given.
    /// The state's limiter becomes the limiter of the portal's host, shared by every
    /// credential of the host; for an OAuth user, its budget store becomes the one
    /// every OAuth user of the host shares (the platform counts per app). Other
    /// credentials are switched to them at once; calls already running keep what
    /// they started with.
    ///
    /// Registered state is never dropped for being idle: forget it with
    /// [`forget_credential`](Self::forget_credential) or
    /// [`forget_portal`](Self::forget_portal). To change one part and keep the host's
    /// limiter, start from [`portal_state`](Self::portal_state).
    pub fn register_portal(&self, portal: &Portal, state: PortalState) {
        self.inner
            .registry
            .register(portal, &self.credential_id(portal), state, now());
    }

    /// A fresh state with the client's default bucket and budgets (a new limiter) and
    /// a random seed, to adjust (`.bucket(..)`, `.token_store(..)`) and
    /// [`register`](Self::register_portal).
    pub fn new_portal_state(&self) -> PortalState {
        self.inner.registry.new_state()
    }

    /// Registers the token store of an OAuth portal's user (the selected one, see
    /// [`as_oauth_user`](Self::as_oauth_user)), with the host's limiter and the app's
    /// budgets. Refreshed pairs are written to `store` (implement [`TokenStore`] to
    /// persist them). Kept until forgotten. With a shared store backend
    /// ([`ClientBuilder::store_backend`]) every OAuth credential already has a token
    /// store in it: install the first pair there with
    /// [`install_tokens`](Self::install_tokens) instead.
    pub fn register_oauth_portal(&self, portal: &Portal, store: Arc<dyn TokenStore>) {
        self.inner
            .registry
            .register_tokens(portal, &self.credential_id(portal), store, now());
    }

    /// The shared state calls to `portal` use through this clone (made with the
    /// defaults if there is none yet).
    pub fn portal_state(&self, portal: &Portal) -> PortalState {
        let credential = self.credential_id(portal);
        self.inner
            .registry
            .lease(portal, &credential, now())
            .state()
            .clone()
    }

    /// Stores the first token pair of the selected OAuth user of `portal` (after the
    /// authorization flow, say) in the credential's token store, unless the store
    /// already holds one (another process installed it first: its pair is kept, and
    /// its generation returned as the error).
    ///
    /// # Errors
    ///
    /// [`Error::Core`](crate::Error::Core) with [`b24_core::Error::Store`] when the store
    /// failed; [`b24_core::InputError::MissingAccessToken`] for a webhook portal.
    pub async fn install_tokens(
        &self,
        portal: &Portal,
        tokens: b24_core::engine::TokenSet,
    ) -> Result<
        Result<b24_core::engine::TokenGeneration, b24_core::engine::StaleGeneration>,
        crate::Error,
    > {
        let credential = self.credential_id(portal);
        let lease = self.inner.registry.lease(portal, &credential, now());
        let store = lease
            .tokens()
            .cloned()
            .ok_or(b24_core::InputError::MissingAccessToken)
            .map_err(b24_core::Error::from)?;
        let stored = store
            .replace(b24_core::engine::TokenGeneration::NONE, tokens)
            .await
            .map_err(b24_core::Error::Store)?;
        Ok(stored.map(|set| set.generation()))
    }

    /// Forgets the state of every credential of the portal's host, and the host's
    /// limiter (an app uninstalled, say). True if it had any.
    pub fn forget_portal(&self, portal: &Portal) -> bool {
        self.inner.registry.forget_host(portal)
    }

    /// Forgets the state of the credential calls to `portal` run as through this clone
    /// (a user gone, a webhook deleted). True if it had any.
    pub fn forget_credential(&self, portal: &Portal) -> bool {
        self.inner
            .registry
            .forget(portal, &self.credential_id(portal))
    }

    /// How many portal hosts have state in this client.
    pub fn portal_count(&self) -> usize {
        self.inner.registry.host_count()
    }

    /// How many credentials have state in this client, over every portal.
    pub fn credential_count(&self) -> usize {
        self.inner.registry.credential_count()
    }

    /// Drops, now, the state of every credential unused for the idle timeout
    /// ([`ClientBuilder::idle_portal_timeout`]), and of hosts left with none; returns
    /// how many credentials went. Calls do this by themselves from time to time; this
    /// is for callers who want it at a moment of their choosing.
    pub fn evict_idle_portals(&self) -> usize {
        self.inner.registry.evict_idle(now())
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("settings", &self.inner.settings)
            .field("portals", &self.inner.registry.host_count())
            .field("oauth_user", &self.oauth_user)
            .finish_non_exhaustive()
    }
}
