//! [`RedisBackend`]: the [`StoreBackend`] on Redis.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use b24_core::engine::{
    BucketConfig, BudgetConfig, BudgetStore, HostStore, StoreError, TokenStore,
};
use b24_core::registry::{BudgetScope, CredentialId, StoreBackend};

use crate::budget::RedisBudgetStore;
use crate::config::{describe, ConfigError, RedisConfig, TokenCipher};
use crate::conn::Conn;
use crate::host::RedisHostStore;
use crate::keys::HostKeys;
use crate::token::RedisTokenStore;

/// The stores of every portal on one Redis server (or a Redis-compatible one: Valkey,
/// KeyDB, a managed service), shared by every process that uses the same server and
/// key prefix. Hand it to the registry
/// ([`Registry::backend`](b24_core::registry::Registry::backend)).
///
/// Building one does no IO: the connection is made by the first store operation (so a
/// process starts while Redis is down, and its calls fail with
/// [`StoreErrorKind::Unavailable`](b24_core::engine::StoreErrorKind::Unavailable)
/// until Redis is back). [`RedisBackend::ping`] checks the connection at start-up for
/// a process that wants to fail fast. Clones share one connection.
///
/// The stores' futures need a tokio runtime with IO and time enabled (what
/// `#[tokio::main]` gives); polled outside one they fail with `Unavailable`.
#[derive(Clone)]
pub struct RedisBackend {
    conn: Conn,
    key_prefix: Arc<str>,
    token_ttl: Duration,
    cipher: Arc<dyn TokenCipher>,
    /// Where the backend connects, without credentials.
    target: Arc<str>,
}

/// The line that opens a certificate in a PEM text.
#[cfg(feature = "tls")]
const CERT_PEM: &str = "-----BEGIN CERTIFICATE-----";

impl RedisBackend {
    /// A backend for `config`, without connecting.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] for a URL that does not parse, a `rediss://` URL without the
    /// `tls` feature, an unreadable TLS root CA, a key prefix with a brace, a zero
    /// timeout or a token time to live under a second. The error never repeats the URL.
    pub fn new(config: RedisConfig) -> Result<Self, ConfigError> {
        if config.key_prefix.contains(['{', '}']) {
            return Err(ConfigError::InvalidPrefix);
        }
        if config.op_timeout.is_zero() {
            return Err(ConfigError::ZeroTimeout);
        }
        if config.token_ttl < Duration::from_secs(1) {
            return Err(ConfigError::TokenTtlTooShort);
        }
        let info = redis::IntoConnectionInfo::into_connection_info(config.url.as_str())
            .map_err(|_| ConfigError::InvalidUrl)?;
        let tls = matches!(info.addr(), redis::ConnectionAddr::TcpTls { .. });
        let target = describe(&info);
        let client = Self::client(info, tls, &config)?;
        Ok(Self {
            conn: Conn::new(client, config.op_timeout),
            key_prefix: Arc::from(config.key_prefix.as_str()),
            token_ttl: config.token_ttl,
            cipher: config.cipher,
            target: Arc::from(target),
        })
    }

    #[cfg(feature = "tls")]
    fn client(
        info: redis::ConnectionInfo,
        tls: bool,
        config: &RedisConfig,
    ) -> Result<redis::Client, ConfigError> {
        if tls {
            // rustls needs a process-wide crypto provider when more than one is built
            // in (b24-hyper's `aws-lc-rs` feature, say); install ring's if none is.
            if rustls::crypto::CryptoProvider::get_default().is_none() {
                let _ = rustls::crypto::ring::default_provider().install_default();
            }
        }
        match (&config.tls_root_ca, tls) {
            (Some(pem), true) => {
                if !pem
                    .windows(CERT_PEM.len())
                    .any(|w| w == CERT_PEM.as_bytes())
                {
                    return Err(ConfigError::InvalidRootCa);
                }
                redis::Client::build_with_tls(
                    info,
                    redis::TlsCertificates {
                        client_tls: None,
                        root_cert: Some(pem.clone()),
                    },
                )
                .map_err(|_| ConfigError::InvalidRootCa)
            }
            _ => redis::Client::open(info).map_err(|_| ConfigError::InvalidUrl),
        }
    }

    #[cfg(not(feature = "tls"))]
    fn client(
        info: redis::ConnectionInfo,
        tls: bool,
        _config: &RedisConfig,
    ) -> Result<redis::Client, ConfigError> {
        if tls {
            return Err(ConfigError::TlsDisabled);
        }
        redis::Client::open(info).map_err(|_| ConfigError::InvalidUrl)
    }

    /// Where the backend connects, without user name or password
    /// (`redis://***@host:6379/0`).
    pub fn target(&self) -> &str {
        &self.target
    }

    /// Connects (if not connected) and sends `PING`, within the operation timeout:
    /// for a process that wants to find out at start-up that Redis is unreachable.
    ///
    /// # Errors
    ///
    /// [`StoreError`] of kind `Unavailable` (refused, authentication failed, TLS) or
    /// `Timeout`.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.conn.ping().await
    }

    fn keys(&self, host: &str) -> HostKeys {
        HostKeys::new(&self.key_prefix, host)
    }

    /// The request bucket and key support of `host`.
    pub fn host(&self, host: &str, bucket: BucketConfig) -> RedisHostStore {
        let keys = self.keys(host);
        RedisHostStore::new(self.conn.clone(), keys.bucket(), keys.key_support(), bucket)
    }

    /// The operating budgets of `scope` on `host`.
    pub fn budgets(
        &self,
        host: &str,
        scope: &BudgetScope,
        config: BudgetConfig,
    ) -> RedisBudgetStore {
        RedisBudgetStore::new(
            self.conn.clone(),
            self.keys(host),
            scope.to_string(),
            config,
        )
    }

    /// The token pair of `credential` on `host`.
    pub fn tokens(&self, host: &str, credential: &CredentialId) -> RedisTokenStore {
        let keys = self.keys(host);
        let credential = credential.to_string();
        RedisTokenStore::new(
            self.conn.clone(),
            keys.tokens(&credential),
            keys.lease(&credential),
            Arc::clone(&self.cipher),
            self.token_ttl,
        )
    }
}

impl fmt::Debug for RedisBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisBackend")
            .field("target", &self.target)
            .field("key_prefix", &self.key_prefix)
            .field("op_timeout", &self.conn.timeout())
            .field("token_ttl", &self.token_ttl)
            .field("cipher", &self.cipher)
            .finish()
    }
}

impl StoreBackend for RedisBackend {
    fn host_store(&self, host: &str, bucket: BucketConfig) -> Arc<dyn HostStore> {
        Arc::new(self.host(host, bucket))
    }

    fn budget_store(
        &self,
        host: &str,
        scope: &BudgetScope,
        config: BudgetConfig,
    ) -> Arc<dyn BudgetStore> {
        Arc::new(self.budgets(host, scope, config))
    }

    fn token_store(&self, host: &str, credential: &CredentialId) -> Arc<dyn TokenStore> {
        Arc::new(self.tokens(host, credential))
    }
}
