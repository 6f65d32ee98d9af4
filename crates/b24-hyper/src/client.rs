//! [`Client`]: one connection pool and one TLS configuration for every portal.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

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
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
}

/// What every clone shares.
pub(crate) struct Inner {
    pub(crate) pool: PoolClient<Connector, Full<Bytes>>,
    pub(crate) settings: Settings,
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
                },
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

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("settings", &self.inner.settings)
            .finish_non_exhaustive()
    }
}
