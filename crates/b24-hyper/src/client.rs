//! [`Client`]: one connection pool and one TLS configuration for every portal.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use b24_core::engine::{OAuthApp, PortalState, RetryPolicy, TokenStore};
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
use crate::portals::Portals;
use crate::resolve::OverrideResolver;

/// The Bitrix24 client: one pool of HTTP/1.1 and HTTP/2 connections over rustls.
///
/// Build it once and clone it freely: clones share the pool and everything else.
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
}

/// What every clone shares.
pub(crate) struct Inner {
    pub(crate) pool: PoolClient<Connector, Full<Bytes>>,
    pub(crate) settings: Settings,
    pub(crate) portals: Portals,
    pub(crate) oauth_app: Option<OAuthApp>,
}

/// Limits and switches the call path reads.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) attempt_timeout: Duration,
    pub(crate) call_deadline: Duration,
    pub(crate) max_body: usize,
    pub(crate) allow_plain_loopback: bool,
    pub(crate) user_agent: HeaderValue,
    pub(crate) user_agent_text: String,
    pub(crate) policy: RetryPolicy,
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
                    user_agent_text: builder.user_agent,
                    policy: builder.policy,
                },
                portals: Portals::new(builder.bucket, builder.budget),
                oauth_app: builder.oauth_app,
            }),
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

impl Client {
    /// Installs the shared state of a portal: its limiter, budgets and, for OAuth
    /// portals, token store. Portals without one get the client's defaults on first
    /// use. Calls already running keep the state they started with.
    pub fn register_portal(&self, portal: &Portal, state: PortalState) {
        self.inner.portals.insert(portal, state);
    }

    /// A fresh portal state with the client's default bucket and budgets and a random
    /// seed, to adjust (`.bucket(..)`, `.token_store(..)`) and
    /// [`register`](Self::register_portal).
    pub fn new_portal_state(&self) -> PortalState {
        self.inner.portals.default_state()
    }

    /// Registers an OAuth portal with the store holding its token pair, and the
    /// client's default limiter and budgets. Refreshed pairs are written to `store`
    /// (implement [`TokenStore`] to persist them).
    pub fn register_oauth_portal(&self, portal: &Portal, store: Arc<dyn TokenStore>) {
        let state = self.inner.portals.default_state().token_store(store);
        self.inner.portals.insert(portal, state);
    }

    /// The shared state used for `portal` (made with the defaults if it has none yet).
    pub fn portal_state(&self, portal: &Portal) -> PortalState {
        self.inner.portals.entry(portal).state.clone()
    }

    /// Forgets a portal's state (an app uninstalled, say). True if it had any.
    pub fn forget_portal(&self, portal: &Portal) -> bool {
        self.inner.portals.remove(portal)
    }

    /// How many portals have state in this client.
    pub fn portal_count(&self) -> usize {
        self.inner.portals.len()
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("settings", &self.inner.settings)
            .field("portals", &self.inner.portals.len())
            .field("oauth_app", &self.inner.oauth_app)
            .finish_non_exhaustive()
    }
}
