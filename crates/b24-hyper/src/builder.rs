//! [`ClientBuilder`]: every setting of a [`Client`], checked once in [`build`](ClientBuilder::build).

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use b24_core::engine::{BucketConfig, BudgetConfig, OAuthApp, RetryPolicy};
use b24_core::registry::{MemoryBackend, Registry, StoreBackend};
use rustls::pki_types::CertificateDer;

use crate::client::Client;
use crate::error::BuildError;
use crate::tls;

/// The default connect timeout (TCP plus TLS handshake).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The default per-attempt timeout. Bitrix24 cuts a request off after 60 s, so an
/// attempt gets a little longer than that.
pub const DEFAULT_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(70);
/// The default overall deadline of one call, waits and retries included.
pub const DEFAULT_CALL_DEADLINE: Duration = Duration::from_secs(300);
/// The default cap on a response body.
pub const DEFAULT_MAX_BODY: usize = 16 * 1024 * 1024;
/// The default idle timeout of a pooled connection: below the 60 s and more that
/// servers commonly keep an idle connection open, so the pool drops it first.
pub const DEFAULT_POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(50);
/// The default number of idle connections kept per host.
pub const DEFAULT_POOL_MAX_IDLE_PER_HOST: usize = 16;
/// The longest time limit the client applies: one year. A longer connect timeout,
/// attempt timeout, call deadline (the builder's or a [`RetryPolicy`]'s) or pool idle
/// timeout, [`Duration::MAX`] among them, means "no limit" and is cut to this.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(365 * 24 * 60 * 60);

/// The time limit actually applied for `d`: at most [`MAX_TIMEOUT`].
pub(crate) fn limit(d: Duration) -> Duration {
    d.min(MAX_TIMEOUT)
}

/// `policy` with its deadline, if any, cut to [`MAX_TIMEOUT`].
pub(crate) fn limit_policy(policy: RetryPolicy) -> RetryPolicy {
    match policy.deadline {
        Some(d) if d > MAX_TIMEOUT => policy.deadline(MAX_TIMEOUT),
        _ => policy,
    }
}

/// The default time after which the shared state of a portal credential nobody calls
/// is dropped: three times the platform's ten-minute operating window, so nothing it
/// could still enforce is forgotten.
pub const DEFAULT_IDLE_PORTAL_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// Builds a [`Client`].
///
/// ```no_run
/// # fn main() -> Result<(), b24_hyper::BuildError> {
/// let client = b24_hyper::Client::builder()
///     .user_agent("my-integration/1.0")
///     .connect_timeout(std::time::Duration::from_secs(5))
///     .build()?;
/// # let _ = client; Ok(()) }
/// ```
#[must_use]
pub struct ClientBuilder {
    pub(crate) connect_timeout: Duration,
    pub(crate) attempt_timeout: Duration,
    pub(crate) call_deadline: Duration,
    pub(crate) max_body: usize,
    pub(crate) pool_idle_timeout: Duration,
    pub(crate) pool_max_idle_per_host: usize,
    pub(crate) allow_plain_loopback: bool,
    pub(crate) built_in_roots: bool,
    pub(crate) extra_roots: Vec<CertificateDer<'static>>,
    pub(crate) resolve: HashMap<String, Vec<SocketAddr>>,
    pub(crate) user_agent: String,
    pub(crate) bucket: BucketConfig,
    pub(crate) budget: BudgetConfig,
    pub(crate) policy: RetryPolicy,
    pub(crate) oauth_app: Option<OAuthApp>,
    pub(crate) idle_portal_timeout: Duration,
    pub(crate) store_backend: Arc<dyn StoreBackend>,
    pub(crate) http_versions: HttpVersions,
    pending: Option<BuildError>,
}

/// Which HTTP versions the client offers a portal over TLS (by ALPN).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum HttpVersions {
    /// Offer HTTP/2 first, then HTTP/1.1; the portal chooses (the default). With
    /// HTTP/2 every call to a portal shares one multiplexed connection.
    #[default]
    Negotiate,
    /// HTTP/1.1 only: a pool of connections, one call on each at a time.
    Http1,
    /// HTTP/2 only: a portal that does not speak it cannot be reached.
    Http2,
}

impl Default for ClientBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("connect_timeout", &self.connect_timeout)
            .field("attempt_timeout", &self.attempt_timeout)
            .field("call_deadline", &self.call_deadline)
            .field("max_body", &self.max_body)
            .field("pool_idle_timeout", &self.pool_idle_timeout)
            .field("pool_max_idle_per_host", &self.pool_max_idle_per_host)
            .field("allow_plain_loopback", &self.allow_plain_loopback)
            .field("built_in_roots", &self.built_in_roots)
            .field("extra_roots", &self.extra_roots.len())
            .field("resolve", &self.resolve.len())
            .field("user_agent", &self.user_agent)
            .field("bucket", &self.bucket)
            .field("budget", &self.budget)
            .field("policy", &self.policy)
            .field("oauth_app", &self.oauth_app)
            .field("idle_portal_timeout", &self.idle_portal_timeout)
            .field("store_backend", &self.store_backend)
            .field("http_versions", &self.http_versions)
            .finish_non_exhaustive()
    }
}

impl ClientBuilder {
    /// A builder with the defaults: https only, built-in roots per the cargo features,
    /// the `DEFAULT_*` limits, `User-Agent: b24-hyper/<version>`.
    pub fn new() -> Self {
        Self {
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            attempt_timeout: DEFAULT_ATTEMPT_TIMEOUT,
            call_deadline: DEFAULT_CALL_DEADLINE,
            max_body: DEFAULT_MAX_BODY,
            pool_idle_timeout: DEFAULT_POOL_IDLE_TIMEOUT,
            pool_max_idle_per_host: DEFAULT_POOL_MAX_IDLE_PER_HOST,
            allow_plain_loopback: false,
            built_in_roots: true,
            extra_roots: Vec::new(),
            resolve: HashMap::new(),
            user_agent: concat!("b24-hyper/", env!("CARGO_PKG_VERSION")).to_owned(),
            bucket: BucketConfig::standard(),
            budget: BudgetConfig::default(),
            policy: RetryPolicy::default(),
            oauth_app: None,
            idle_portal_timeout: DEFAULT_IDLE_PORTAL_TIMEOUT,
            store_backend: Arc::new(MemoryBackend),
            http_versions: HttpVersions::default(),
            pending: None,
        }
    }

    /// Time allowed to open a connection: TCP connect plus TLS handshake.
    /// [`Duration::MAX`] means no limit (cut to [`MAX_TIMEOUT`]).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Time allowed for one attempt: sending the request and reading the whole
    /// response. Waits between attempts do not count. [`Duration::MAX`] means no
    /// limit (cut to [`MAX_TIMEOUT`]).
    pub fn attempt_timeout(mut self, timeout: Duration) -> Self {
        self.attempt_timeout = timeout;
        self
    }

    /// Time allowed for one call from start to end: every attempt, every wait for the
    /// rate limiter, and a token refresh. A call whose next wait would end past the
    /// deadline fails at once with a timeout. [`Duration::MAX`] means no limit (cut
    /// to [`MAX_TIMEOUT`]).
    pub fn call_deadline(mut self, deadline: Duration) -> Self {
        self.call_deadline = deadline;
        self
    }

    /// The largest response body read, in bytes. Reading stops past it and the
    /// attempt fails with [`TransportError::BodyTooLarge`](crate::TransportError::BodyTooLarge).
    pub fn max_response_body(mut self, bytes: usize) -> Self {
        self.max_body = bytes;
        self
    }

    /// How long an idle pooled connection is kept. Keep it below the server's
    /// keep-alive so the pool never hands out a connection the server is closing.
    /// [`Duration::MAX`] keeps idle connections without a limit (cut to
    /// [`MAX_TIMEOUT`]).
    pub fn pool_idle_timeout(mut self, timeout: Duration) -> Self {
        self.pool_idle_timeout = timeout;
        self
    }

    /// How many idle connections are kept per host.
    pub fn pool_max_idle_per_host(mut self, max: usize) -> Self {
        self.pool_max_idle_per_host = max;
        self
    }

    /// Allows plain `http://` to loopback hosts (`localhost`, `*.localhost`,
    /// `127.0.0.0/8`, `::1`), for local test servers. Plain http to any other host is
    /// always refused, before any connection is made.
    pub fn allow_plain_http_to_loopback(mut self, allow: bool) -> Self {
        self.allow_plain_loopback = allow;
        self
    }

    /// Whether the built-in roots (webpki-roots and/or the system store, per the cargo
    /// features) are trusted. On by default; turn off to trust only the certificates
    /// added with [`add_root_certificate_pem`](Self::add_root_certificate_pem).
    pub fn built_in_roots(mut self, enabled: bool) -> Self {
        self.built_in_roots = enabled;
        self
    }

    /// Trusts every certificate in a PEM text as a root (a private CA, a test CA).
    /// A PEM that cannot be read makes [`build`](Self::build) fail.
    pub fn add_root_certificate_pem(mut self, pem: impl AsRef<[u8]>) -> Self {
        match tls::parse_pem(pem.as_ref()) {
            Ok(certs) => self.extra_roots.extend(certs),
            Err(e) => {
                self.pending.get_or_insert(e);
            }
        }
        self
    }

    /// Sends connections for `host` to `addr` instead of asking DNS. A port given in
    /// the request URL wins over the port of `addr`; without one, `addr`'s port is
    /// used. Calling it again for the same host adds another address.
    pub fn resolve(mut self, host: &str, addr: SocketAddr) -> Self {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.resolve.entry(host).or_default().push(addr);
        self
    }

    /// The `User-Agent` sent with every request that has none
    /// (`integration-name/version` is what Bitrix24 asks for).
    pub fn user_agent(mut self, value: impl Into<String>) -> Self {
        self.user_agent = value.into();
        self
    }

    /// The request-rate bucket assumed for portals without their own state
    /// ([`BucketConfig::standard`] by default: 50 burst, 2 per second; use
    /// [`BucketConfig::enterprise`] for Enterprise plans). It must match the portal's
    /// real bucket: the limiter paces calls so the portal never answers 503.
    pub fn bucket(mut self, bucket: BucketConfig) -> Self {
        self.bucket = bucket;
        self
    }

    /// The operating-time budget rules for portals without their own state.
    pub fn budget(mut self, budget: BudgetConfig) -> Self {
        self.budget = budget;
        self
    }

    /// The retry policy of every call (per-call override:
    /// [`CallOptions::policy`](crate::CallOptions::policy)). Without a deadline of its
    /// own, the policy gets [`call_deadline`](Self::call_deadline); a deadline above
    /// [`MAX_TIMEOUT`] is cut to it.
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The OAuth application (client id and secret) used to refresh expired access
    /// tokens of OAuth portals. The refreshed pair goes to the portal's
    /// [`TokenStore`](b24_core::engine::TokenStore), which may persist it.
    pub fn oauth_app(mut self, app: OAuthApp) -> Self {
        self.oauth_app = Some(app);
        self
    }

    /// How long the shared state of a portal credential (budgets, the host's limiter)
    /// made on first use is kept once no call uses it ([`DEFAULT_IDLE_PORTAL_TIMEOUT`],
    /// 30 min). A process serving thousands of portals keeps only those in use. State
    /// installed with a `register_*` method and state held by a running call are
    /// never dropped. Below ten minutes, a method blocked by the platform's operating
    /// limit may be called once more after its state is dropped, to meet the 429
    /// again; [`Duration::MAX`] keeps everything.
    pub fn idle_portal_timeout(mut self, timeout: Duration) -> Self {
        self.idle_portal_timeout = timeout;
        self
    }

    /// Where the shared state of portals lives (default: this process's memory). A
    /// backend on a server (`b24_redis::RedisBackend`) makes every process using it
    /// share each portal's request bucket, operating budgets, OAuth tokens and what
    /// the portal showed about idempotency keys.
    pub fn store_backend(mut self, backend: Arc<dyn StoreBackend>) -> Self {
        self.store_backend = backend;
        self
    }

    /// Which HTTP versions to offer portals over TLS (default
    /// [`HttpVersions::Negotiate`]). Plain HTTP to loopback is always HTTP/1.1.
    pub fn http_versions(mut self, versions: HttpVersions) -> Self {
        self.http_versions = versions;
        self
    }

    /// The registry the client's calls look their state up in.
    pub(crate) fn registry(&self) -> Registry {
        let registry = Registry::new(tls::random_seed())
            .backend(Arc::clone(&self.store_backend))
            .bucket(self.bucket)
            .budget(self.budget)
            .idle_timeout(self.idle_portal_timeout);
        match &self.oauth_app {
            Some(app) => registry.oauth_app(app.clone()),
            None => registry,
        }
    }

    /// Builds the client: the TLS configuration, the resolver and the pool.
    ///
    /// # Errors
    ///
    /// [`BuildError`] for an unreadable PEM, no trusted roots, a bad `User-Agent` or
    /// a zero limit.
    pub fn build(mut self) -> Result<Client, BuildError> {
        if let Some(e) = self.pending.take() {
            return Err(e);
        }
        for (setting, value) in [
            ("connect_timeout", self.connect_timeout),
            ("attempt_timeout", self.attempt_timeout),
            ("call_deadline", self.call_deadline),
            ("idle_portal_timeout", self.idle_portal_timeout),
        ] {
            if value.is_zero() {
                return Err(BuildError::Setting {
                    setting,
                    reason: "must be above zero",
                });
            }
        }
        if self.max_body == 0 {
            return Err(BuildError::Setting {
                setting: "max_response_body",
                reason: "must be above zero",
            });
        }
        // Past a year a limit means "none"; cutting it there keeps every
        // `Instant + limit` (here and inside the pool) from overflowing.
        self.connect_timeout = limit(self.connect_timeout);
        self.attempt_timeout = limit(self.attempt_timeout);
        self.call_deadline = limit(self.call_deadline);
        self.pool_idle_timeout = limit(self.pool_idle_timeout);
        self.policy = limit_policy(self.policy);
        let user_agent =
            b24_core::user_agent_value(&self.user_agent).map_err(|_| BuildError::UserAgent)?;
        let tls = tls::client_config(self.built_in_roots, &self.extra_roots, self.http_versions)?;
        Ok(Client::from_parts(self, tls, user_agent))
    }
}
