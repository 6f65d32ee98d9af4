//! [`RedisConfig`], the [`TokenCipher`] hook and [`ConfigError`].

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// The key prefix by default.
pub const DEFAULT_KEY_PREFIX: &str = "b24:";

/// The longest a store operation may take by default (connecting included): a
/// slower one fails with [`StoreErrorKind::Timeout`](b24_core::engine::StoreErrorKind).
pub const DEFAULT_OP_TIMEOUT: Duration = Duration::from_millis(500);

/// How long a stored token pair lives by default after its last replacement: 30 days.
/// A Bitrix24 refresh token lives 28 days, so a pair unused for longer is dead anyway.
pub const DEFAULT_TOKEN_TTL: Duration = Duration::from_secs(30 * 24 * 60 * 60);

/// How long what a host's answers showed about `Idempotency-Key` is kept after its last
/// use: a day.
pub const KEY_SUPPORT_TTL: Duration = Duration::from_secs(24 * 60 * 60);

/// How long a bucket or budget key outlives the last moment its content matters (the
/// bucket's empty time; a budget's reset, block end or spread slot).
pub const EXPIRY_MARGIN: Duration = Duration::from_secs(60);

/// Seals the token pairs written to Redis and opens those read back.
///
/// **Token pairs held in Redis are plaintext unless the application provides a
/// cipher**: anyone who can read the Redis keys (or its dumps and replicas) can then
/// act as the OAuth users. The default, [`PlaintextTokens`], stores them as they are.
/// An application that wants them encrypted at rest implements this trait with an
/// authenticated cipher (AES-GCM or ChaCha20-Poly1305 with a random nonce per seal,
/// say) and a key of its own, and passes it to [`RedisConfig::token_cipher`]. Every
/// process sharing the store must use the same key.
pub trait TokenCipher: Send + Sync + fmt::Debug {
    /// The sealed form of `plaintext` (a serialized token pair).
    fn seal(&self, plaintext: &[u8]) -> Vec<u8>;

    /// The plaintext of `sealed`, or `None` when it cannot be opened (another key,
    /// tampered data): the store then answers
    /// [`StoreErrorKind::Corrupt`](b24_core::engine::StoreErrorKind::Corrupt).
    fn open(&self, sealed: &[u8]) -> Option<Vec<u8>>;
}

/// The identity "cipher": token pairs are stored in plaintext (the default).
#[derive(Debug, Default, Clone, Copy)]
pub struct PlaintextTokens;

impl TokenCipher for PlaintextTokens {
    fn seal(&self, plaintext: &[u8]) -> Vec<u8> {
        plaintext.to_vec()
    }

    fn open(&self, sealed: &[u8]) -> Option<Vec<u8>> {
        Some(sealed.to_vec())
    }
}

/// How to reach Redis and how to lay out keys there.
///
/// `Debug` shows the URL without its user name, password or query.
#[derive(Clone)]
pub struct RedisConfig {
    pub(crate) url: String,
    pub(crate) key_prefix: String,
    pub(crate) op_timeout: Duration,
    pub(crate) token_ttl: Duration,
    pub(crate) cipher: Arc<dyn TokenCipher>,
    #[cfg(feature = "tls")]
    pub(crate) tls_root_ca: Option<Vec<u8>>,
}

impl RedisConfig {
    /// A configuration for the server at `url`: `redis://[[user]:password@]host[:port][/db]`,
    /// `rediss://...` for TLS (feature `tls`, on by default), or
    /// `redis+unix:///path/to/socket`. The URL may hold a password: it is never shown
    /// in `Debug` output nor in an error.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            key_prefix: DEFAULT_KEY_PREFIX.to_owned(),
            op_timeout: DEFAULT_OP_TIMEOUT,
            token_ttl: DEFAULT_TOKEN_TTL,
            cipher: Arc::new(PlaintextTokens),
            #[cfg(feature = "tls")]
            tls_root_ca: None,
        }
    }

    /// The prefix of every key (default [`DEFAULT_KEY_PREFIX`], `b24:`), to share one
    /// Redis database with other programs or keep two deployments apart. It must not
    /// contain `{` or `}` (the host's hash tag follows it).
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.key_prefix = prefix.into();
        self
    }

    /// The longest one store operation may take, connecting included (default
    /// [`DEFAULT_OP_TIMEOUT`], 500 ms). Must be positive.
    pub fn op_timeout(mut self, timeout: Duration) -> Self {
        self.op_timeout = timeout;
        self
    }

    /// How long a token pair is kept after its last replacement (default
    /// [`DEFAULT_TOKEN_TTL`], 30 days). Must be at least a second.
    pub fn token_ttl(mut self, ttl: Duration) -> Self {
        self.token_ttl = ttl;
        self
    }

    /// Seals token pairs before they are written (default [`PlaintextTokens`]: none).
    pub fn token_cipher(mut self, cipher: Arc<dyn TokenCipher>) -> Self {
        self.cipher = cipher;
        self
    }

    /// Trusts the CA certificates of this PEM text for `rediss://` servers, instead of
    /// the Mozilla roots compiled in (for a managed Redis service with a private CA, or
    /// a test server).
    #[cfg(feature = "tls")]
    pub fn tls_root_ca(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.tls_root_ca = Some(pem.into());
        self
    }

    /// The URL without user name, password, query or fragment, for logs.
    pub fn redacted_url(&self) -> String {
        redact_url(&self.url)
    }
}

impl fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("RedisConfig");
        d.field("url", &self.redacted_url())
            .field("key_prefix", &self.key_prefix)
            .field("op_timeout", &self.op_timeout)
            .field("token_ttl", &self.token_ttl)
            .field("cipher", &self.cipher);
        #[cfg(feature = "tls")]
        d.field("tls_root_ca", &self.tls_root_ca.as_ref().map(|_| "set"));
        d.finish()
    }
}

/// Where `url` points, without user name, password or query:
/// `redis://***@host:port/db` (`***@` when it holds credentials), or `<invalid URL>`.
/// Built from the parsed URL, so a password with characters that should have been
/// escaped cannot leak through.
pub(crate) fn redact_url(url: &str) -> String {
    match redis::IntoConnectionInfo::into_connection_info(url) {
        Ok(info) => describe(&info),
        Err(_) => "<invalid URL>".to_owned(),
    }
}

/// See [`redact_url`].
pub(crate) fn describe(info: &redis::ConnectionInfo) -> String {
    let settings = info.redis_settings();
    let user = if settings.username().is_some() || settings.password().is_some() {
        "***@"
    } else {
        ""
    };
    let db = settings.db();
    match info.addr() {
        redis::ConnectionAddr::Tcp(host, port) => format!("redis://{user}{host}:{port}/{db}"),
        redis::ConnectionAddr::TcpTls { host, port, .. } => {
            format!("rediss://{user}{host}:{port}/{db}")
        }
        redis::ConnectionAddr::Unix(path) => {
            format!("redis+unix://{user}{}?db={db}", path.display())
        }
        _ => "<another kind of address>".to_owned(),
    }
}

/// Why a [`RedisConfig`] cannot be used. Never repeats the URL (it may hold a
/// password).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The URL is not a Redis URL the client understands.
    #[error("the Redis URL is not valid (expected redis://, rediss:// or redis+unix://)")]
    InvalidUrl,
    /// A `rediss://` URL, but the crate was built without its `tls` feature.
    #[error("a rediss:// URL needs the `tls` feature of b24-redis")]
    TlsDisabled,
    /// The TLS root CA is not a PEM certificate.
    #[error("the TLS root CA is not a valid PEM certificate")]
    InvalidRootCa,
    /// The key prefix contains `{` or `}`.
    #[error("the key prefix must not contain `{{` or `}}`")]
    InvalidPrefix,
    /// The operation timeout is zero.
    #[error("the operation timeout must be positive")]
    ZeroTimeout,
    /// The token time to live is shorter than a second.
    #[error("the token time to live must be at least a second")]
    TokenTtlTooShort,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_redacted() {
        assert_eq!(
            redact_url("redis://user:s3cret@example.com:6380/2?protocol=resp3"),
            "redis://***@example.com:6380/2"
        );
        assert_eq!(redact_url("redis://h"), "redis://h:6379/0");
        assert_eq!(
            redact_url("redis+unix:///run/redis.sock?pass=s3cret"),
            "redis+unix://***@/run/redis.sock?db=0"
        );
        assert_eq!(redact_url("s3cret"), "<invalid URL>");
        let debug = format!("{:?}", RedisConfig::new("redis://u:s3cret@h/0"));
        assert!(!debug.contains("s3cret"), "{debug}");
    }
}
