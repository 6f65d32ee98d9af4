//! Configuration of the emulator and of each portal.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::clock::{Clock, SystemClock};
use crate::idempotency::{IdempotencyBodyMatch, IdempotencyKeys};

/// The longest token or idempotency lifetime a portal accepts: ten years (365-day
/// years). Longer ones are cut to it, so that expiry times stay far from any overflow.
pub const MAX_TTL: Duration = Duration::from_secs(10 * 365 * 86_400);

/// The longest header read timeout the emulator accepts: one day. Longer ones are cut
/// to it (the HTTP server adds the timeout to the current instant).
pub const MAX_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(86_400);

/// The default operating-time limit: 420 s per method per 10 minutes, the server
/// code's default (the documentation's worked example uses 480 s).
pub const DEFAULT_OPERATING_LIMIT: f64 = 420.0;

/// What `tasks.task.result.list` does with an unknown plain field in `select`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum UnknownSelectField {
    /// 400 `UNKNOWNDTOPROPERTYEXCEPTION`, as the server code does (default).
    #[default]
    Refused,
    /// Dropped silently: the answer has no such field, as the REST 3.0
    /// documentation describes.
    Dropped,
}

/// The default cap on connections served at once.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;

/// Which body an expired or unknown OAuth token gets on `/rest/api/` (always 401).
///
/// The server source raises a REST 3.0 `ACCESSDENIEDEXCEPTION` with 401; the cloud
/// front end may answer in classic form. Clients must accept both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum V3AuthErrorShape {
    /// `{"error":{"code":"BITRIX_REST_V3_EXCEPTION_ACCESSDENIEDEXCEPTION",...}}` (default).
    #[default]
    AccessDenied,
    /// `{"error":"expired_token","error_description":"..."}` (classic), or
    /// `NO_AUTH_FOUND` for an unknown token.
    Classic,
}

/// The settings of one portal. The first portal given to the builder is the default
/// one: it also answers requests addressed to `localhost` or a loopback address.
///
/// ```
/// use b24_emulator::PortalConfig;
/// let portal = PortalConfig::new("p1.localhost").bucket(10, 1.0).operating_cost("tasks.task.result.add", 5.0);
/// # let _ = portal;
/// ```
#[derive(Debug, Clone)]
pub struct PortalConfig {
    pub(crate) host: String,
    pub(crate) burst: u32,
    pub(crate) drain_per_sec: f64,
    pub(crate) operating_limit: f64,
    pub(crate) default_cost: f64,
    pub(crate) costs: HashMap<String, f64>,
    pub(crate) require_https: bool,
    pub(crate) v3_auth_shape: V3AuthErrorShape,
    pub(crate) utc_offset: i32,
    pub(crate) seed_defaults: bool,
    pub(crate) idempotency_ttl: f64,
    pub(crate) idempotency_match: IdempotencyBodyMatch,
    pub(crate) idempotency_keys: IdempotencyKeys,
    pub(crate) access_ttl: f64,
    pub(crate) v3_batch_error_progress: bool,
    pub(crate) seed: Option<crate::seed::Seed>,
    pub(crate) unknown_select: UnknownSelectField,
}

impl PortalConfig {
    /// A portal answering to `host` (lower-cased, without a port), with the defaults:
    /// bucket 50 / 2 per second, operating limit 420 s per 10 min at 0 s per call,
    /// HTTPS required, v3 auth errors as `ACCESSDENIEDEXCEPTION`, UTC+02:00, the
    /// default data seeded, `Idempotency-Key` ignored (as the server code does;
    /// records kept 24 h once honoured), access tokens valid 1 h.
    pub fn new(host: &str) -> Self {
        Self {
            host: host.trim().to_ascii_lowercase(),
            burst: 50,
            drain_per_sec: 2.0,
            operating_limit: DEFAULT_OPERATING_LIMIT,
            default_cost: 0.0,
            costs: HashMap::new(),
            require_https: true,
            v3_auth_shape: V3AuthErrorShape::default(),
            utc_offset: 7200,
            seed_defaults: true,
            idempotency_ttl: 86_400.0,
            idempotency_match: IdempotencyBodyMatch::default(),
            idempotency_keys: IdempotencyKeys::default(),
            access_ttl: 3600.0,
            v3_batch_error_progress: false,
            seed: None,
            unknown_select: UnknownSelectField::default(),
        }
    }

    /// The leaky bucket: `burst` requests at once, draining `drain_per_sec` per second.
    pub fn bucket(mut self, burst: u32, drain_per_sec: f64) -> Self {
        self.burst = burst;
        self.drain_per_sec = drain_per_sec;
        self
    }

    /// The operating-time limit per method and app/webhook over 10 minutes (seconds,
    /// default [`DEFAULT_OPERATING_LIMIT`]). A method is blocked once its total is
    /// strictly above it.
    pub fn operating_limit(mut self, seconds: f64) -> Self {
        self.operating_limit = seconds;
        self
    }

    /// The execution time every call is charged (seconds), unless set per method.
    pub fn default_operating_cost(mut self, seconds: f64) -> Self {
        self.default_cost = seconds;
        self
    }

    /// The execution time one method's calls are charged (seconds).
    pub fn operating_cost(mut self, method: &str, seconds: f64) -> Self {
        self.costs.insert(method.to_ascii_lowercase(), seconds);
        self
    }

    /// Accept plain-HTTP requests (by default they get `INVALID_REQUEST` "Https required.").
    pub fn allow_plain_http_to_loopback(mut self, allow: bool) -> Self {
        self.require_https = !allow;
        self
    }

    /// The body of an expired or unknown OAuth token's 401 on `/rest/api/`.
    pub fn v3_auth_error_shape(mut self, shape: V3AuthErrorShape) -> Self {
        self.v3_auth_shape = shape;
        self
    }

    /// The portal's UTC offset in seconds (dates come with it), default +02:00.
    pub fn utc_offset(mut self, seconds: i32) -> Self {
        self.utc_offset = seconds;
        self
    }

    /// Seed the default users, tasks, chats and messages (default true).
    pub fn seed_defaults(mut self, seed: bool) -> Self {
        self.seed_defaults = seed;
        self
    }

    /// What an unknown plain field in a list's `select` gets (default
    /// [`UnknownSelectField::Refused`], as the server code does).
    pub fn unknown_select_field(mut self, how: UnknownSelectField) -> Self {
        self.unknown_select = how;
        self
    }

    /// Start with this data instead of the default data.
    pub fn seed(mut self, seed: crate::seed::Seed) -> Self {
        self.seed = Some(seed);
        self
    }

    /// How long a stored idempotent answer is kept (default 24 h; at most
    /// [`MAX_TTL`], longer values are cut to it).
    pub fn idempotency_ttl(mut self, ttl: Duration) -> Self {
        self.idempotency_ttl = ttl.min(MAX_TTL).as_secs_f64();
        self
    }

    /// What a repeated `Idempotency-Key` write's body must equal to be replayed
    /// (default [`IdempotencyBodyMatch::IgnoreAuth`]); another body gets 422.
    pub fn idempotency_body_match(mut self, how: IdempotencyBodyMatch) -> Self {
        self.idempotency_match = how;
        self
    }

    /// Whether `Idempotency-Key` is ignored (default, as the server code does) or
    /// honoured as the REST 3.0 documentation describes.
    pub fn idempotency_keys(mut self, how: IdempotencyKeys) -> Self {
        self.idempotency_keys = how;
        self
    }

    /// How long issued access tokens live (default 1 h; at most [`MAX_TTL`], longer
    /// values are cut to it).
    pub fn access_token_ttl(mut self, ttl: Duration) -> Self {
        self.access_ttl = ttl.min(MAX_TTL).as_secs_f64();
        self
    }

    /// Whether a REST 3.0 batch that fails at a command says where it stopped
    /// (default no, as the server: its answer is the failing command's error alone).
    /// When on, the error object also carries
    /// `"batch":{"failedIndex":k,"results":[answers of commands 0..k]}`. No Bitrix24
    /// portal is known to send this; it lets tests exercise a client's handling of
    /// an answer that locates the failure.
    pub fn v3_batch_error_progress(mut self, on: bool) -> Self {
        self.v3_batch_error_progress = on;
        self
    }

    /// The host this portal answers to.
    pub fn host(&self) -> &str {
        &self.host
    }

    pub(crate) fn cost_of(&self, method: &str) -> f64 {
        self.costs.get(method).copied().unwrap_or(self.default_cost)
    }
}

/// Builds an [`Emulator`](crate::Emulator).
pub struct EmulatorBuilder {
    pub(crate) portals: Vec<PortalConfig>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) client_id: String,
    pub(crate) client_secret: Option<String>,
    pub(crate) body_limit: usize,
    pub(crate) header_read_timeout: Duration,
    pub(crate) allow_plain_http: bool,
    pub(crate) idempotency_keys: Option<IdempotencyKeys>,
    pub(crate) seed: Option<crate::seed::Seed>,
    pub(crate) body_read_timeout: Duration,
    pub(crate) idle_timeout: Duration,
    pub(crate) max_connections: usize,
}

impl fmt::Debug for EmulatorBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmulatorBuilder")
            .field("portals", &self.portals)
            .field("clock", &self.clock)
            .field("client_id", &self.client_id)
            .field("body_limit", &self.body_limit)
            .finish_non_exhaustive()
    }
}

impl Default for EmulatorBuilder {
    fn default() -> Self {
        Self {
            portals: Vec::new(),
            clock: Arc::new(SystemClock),
            client_id: "local.b24emulator.000001".to_owned(),
            client_secret: None,
            body_limit: 1024 * 1024,
            header_read_timeout: Duration::from_secs(10),
            allow_plain_http: false,
            idempotency_keys: None,
            seed: None,
            body_read_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(120),
            max_connections: DEFAULT_MAX_CONNECTIONS,
        }
    }
}

impl EmulatorBuilder {
    /// Adds a portal; the first one is the default. With none, one portal named
    /// `localhost` is made.
    pub fn portal(mut self, portal: PortalConfig) -> Self {
        self.portals.push(portal);
        self
    }

    /// The clock every limit, token and `time` object reads.
    pub fn clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The OAuth application's client id and secret (default: a fixed id and a random
    /// secret, see [`Emulator::oauth_client_secret`](crate::Emulator::oauth_client_secret)).
    pub fn oauth_client(mut self, client_id: &str, client_secret: &str) -> Self {
        self.client_id = client_id.to_owned();
        self.client_secret = Some(client_secret.to_owned());
        self
    }

    /// Largest accepted request body (default 1 MiB); larger bodies get 413.
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }

    /// How long a connection may take to send a request's headers, and a TLS
    /// handshake to finish (default 10 s; at most [`MAX_HEADER_READ_TIMEOUT`], longer
    /// values are cut to it).
    pub fn header_read_timeout(mut self, timeout: Duration) -> Self {
        self.header_read_timeout = timeout.min(MAX_HEADER_READ_TIMEOUT);
        self
    }

    /// Let every portal accept plain HTTP (same as
    /// [`PortalConfig::allow_plain_http_to_loopback`] on each).
    pub fn allow_plain_http_to_loopback(mut self, allow: bool) -> Self {
        self.allow_plain_http = allow;
        self
    }

    /// Sets [`PortalConfig::idempotency_keys`] on every portal.
    pub fn idempotency_keys(mut self, how: IdempotencyKeys) -> Self {
        self.idempotency_keys = Some(how);
        self
    }

    /// Seeds every portal with this data instead of the default data (see
    /// [`Seed`](crate::Seed)).
    pub fn seed(mut self, seed: crate::seed::Seed) -> Self {
        self.seed = Some(seed);
        self
    }

    /// How long the server waits for the rest of a request body once its head has
    /// arrived (default 30 s; at most [`MAX_HEADER_READ_TIMEOUT`]). A body that
    /// stalls longer gets no answer: the connection is closed.
    pub fn body_read_timeout(mut self, timeout: Duration) -> Self {
        self.body_read_timeout = timeout.min(MAX_HEADER_READ_TIMEOUT);
        self
    }

    /// How long an HTTP/2 or HTTP/1.1 keep-alive connection may stay idle, with no
    /// request in progress, before the server closes it (default 120 s; at most
    /// [`MAX_HEADER_READ_TIMEOUT`]). HTTP/2 connections are also pinged at a quarter
    /// of it and closed when a ping goes unanswered.
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = timeout.min(MAX_HEADER_READ_TIMEOUT);
        self
    }

    /// The most connections served at once (default [`DEFAULT_MAX_CONNECTIONS`]);
    /// over it, a new connection is closed as soon as it is accepted.
    pub fn max_connections(mut self, n: usize) -> Self {
        self.max_connections = n;
        self
    }

    /// Builds the emulator.
    pub fn build(self) -> crate::Emulator {
        crate::Emulator::from_builder(self)
    }
}
