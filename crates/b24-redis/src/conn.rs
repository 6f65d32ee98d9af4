//! The shared connection: made on first use, bounded by the operation timeout, its
//! errors mapped to [`StoreError`]s that hold no secret.

use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use b24_core::engine::{StoreError, StoreErrorKind, StoreFuture};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{ErrorKind, RedisError, ServerErrorKind, Value};

/// Why an operation failed, before it becomes a [`StoreError`].
#[derive(Debug)]
pub(crate) enum OpError {
    /// The client or the server failed.
    Redis(RedisError),
    /// The answer was not what the scripts give (a static description).
    Corrupt(&'static str),
}

impl From<RedisError> for OpError {
    fn from(e: RedisError) -> Self {
        Self::Redis(e)
    }
}

/// The connection every store of one backend shares: one multiplexed connection,
/// re-established by the connection manager after a failure.
#[derive(Clone)]
pub(crate) struct Conn(Arc<Inner>);

struct Inner {
    client: redis::Client,
    /// Made on the first operation, inside the caller's tokio runtime.
    manager: Mutex<Option<ConnectionManager>>,
    timeout: Duration,
}

impl Conn {
    pub(crate) fn new(client: redis::Client, timeout: Duration) -> Self {
        Self(Arc::new(Inner {
            client,
            manager: Mutex::new(None),
            timeout,
        }))
    }

    /// The operation timeout.
    pub(crate) fn timeout(&self) -> Duration {
        self.0.timeout
    }

    fn manager(&self) -> Result<ConnectionManager, RedisError> {
        let mut guard = self
            .0
            .manager
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(manager) = guard.as_ref() {
            return Ok(manager.clone());
        }
        let timeout = self.0.timeout;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            // One quick retry of a failed connect, then the error: the operation
            // timeout bounds every wait anyway, and the next operation connects anew.
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(20))
            .set_max_delay(Duration::from_millis(100));
        let manager = ConnectionManager::new_lazy_with_config(self.0.client.clone(), config)?;
        *guard = Some(manager.clone());
        Ok(manager)
    }

    /// Runs `op` on the connection, within the operation timeout, as a
    /// [`StoreFuture`]. `what` names the operation in error details.
    pub(crate) fn run<T, F, Fut>(&self, what: &'static str, op: F) -> StoreFuture<T>
    where
        T: Send + 'static,
        F: FnOnce(ConnectionManager) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, OpError>> + Send + 'static,
    {
        let conn = self.clone();
        Box::pin(async move {
            if tokio::runtime::Handle::try_current().is_err() {
                return Err(StoreError::new(
                    StoreErrorKind::Unavailable,
                    format!("{what}: the Redis store's futures need a tokio runtime"),
                ));
            }
            let timeout = conn.0.timeout;
            let manager = conn
                .manager()
                .map_err(|e| map_error(what, &OpError::Redis(e)))?;
            match tokio::time::timeout(timeout, op(manager)).await {
                Ok(Ok(value)) => Ok(value),
                Ok(Err(e)) => Err(map_error(what, &e)),
                Err(_) => Err(StoreError::new(
                    StoreErrorKind::Timeout,
                    format!("{what}: no answer within {timeout:?}"),
                )),
            }
        })
    }

    /// Answers `PING`.
    pub(crate) fn ping(&self) -> StoreFuture<()> {
        self.run("ping", |mut con| async move {
            let pong: String = redis::cmd("PING").query_async(&mut con).await?;
            if pong == "PONG" {
                Ok(())
            } else {
                Err(OpError::Corrupt("PING was not answered with PONG"))
            }
        })
    }
}

/// Runs `script` with `keys` and `args` (EVALSHA, loading the script on `NOSCRIPT`).
pub(crate) async fn eval(
    con: &mut ConnectionManager,
    script: &redis::Script,
    keys: &[&str],
    args: &[&[u8]],
) -> Result<Value, OpError> {
    let mut call = script.prepare_invoke();
    for key in keys {
        call.key(*key);
    }
    for arg in args {
        call.arg(*arg);
    }
    Ok(call.invoke_async(con).await?)
}

/// The [`StoreError`] for `e`, with a detail made of fixed texts, the operation's name
/// and the server's error code: never a URL, a password, a key's content or a token.
pub(crate) fn map_error(what: &str, e: &OpError) -> StoreError {
    let e = match e {
        OpError::Corrupt(why) => {
            return StoreError::new(StoreErrorKind::Corrupt, format!("{what}: {why}"));
        }
        OpError::Redis(e) => e,
    };
    if e.is_timeout() {
        return StoreError::new(
            StoreErrorKind::Timeout,
            format!("{what}: the Redis server did not answer in time"),
        );
    }
    let code = e.code().unwrap_or("");
    match (e.kind(), code) {
        (_, "B24CORRUPT") => StoreError::new(
            StoreErrorKind::Corrupt,
            format!("{what}: a key holds a value the scripts did not write"),
        ),
        (_, "WRONGTYPE") => StoreError::new(
            StoreErrorKind::Corrupt,
            format!("{what}: a key holds another type (another program's key?)"),
        ),
        (ErrorKind::UnexpectedReturnType | ErrorKind::Parse, _) => StoreError::new(
            StoreErrorKind::Corrupt,
            format!("{what}: unexpected answer ({})", e.category()),
        ),
        (ErrorKind::AuthenticationFailed, _) | (_, "WRONGPASS" | "NOAUTH") => StoreError::new(
            StoreErrorKind::Unavailable,
            format!("{what}: Redis refused the credentials (authentication failed)"),
        ),
        (ErrorKind::Server(ServerErrorKind::NoPerm), _) => StoreError::new(
            StoreErrorKind::Unavailable,
            format!("{what}: the Redis user lacks a permission (NOPERM)"),
        ),
        (ErrorKind::Io, _) => {
            let io = std::error::Error::source(e)
                .and_then(|s| s.downcast_ref::<std::io::Error>())
                .map(std::io::Error::kind);
            let why = match io {
                Some(kind) => format!("{kind}"),
                None if e.is_connection_refusal() => "connection refused".to_owned(),
                None if e.is_connection_dropped() => "connection dropped".to_owned(),
                None => "I/O error".to_owned(),
            };
            StoreError::new(
                StoreErrorKind::Unavailable,
                format!("{what}: cannot reach Redis ({why})"),
            )
        }
        (kind, code) => {
            let code = if code.is_empty() {
                String::new()
            } else {
                format!(" {}", sanitize_code(code))
            };
            let category = match kind {
                ErrorKind::Extension => "server error",
                _ => e.category(),
            };
            StoreError::new(
                StoreErrorKind::Unavailable,
                format!("{what}: {category}{code}"),
            )
        }
    }
}

/// A server error code as shown: upper-case letters, digits and `_`, at most 32.
fn sanitize_code(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
        .take(32)
        .collect()
}

/// An integer of an answer.
pub(crate) fn int(v: &Value) -> Option<i64> {
    match v {
        Value::Int(n) => Some(*n),
        Value::BulkString(b) => std::str::from_utf8(b).ok()?.parse().ok(),
        Value::SimpleString(s) => s.parse().ok(),
        _ => None,
    }
}

/// A non-negative integer of an answer.
pub(crate) fn uint(v: &Value) -> Option<u64> {
    match v {
        Value::Int(n) => u64::try_from(*n).ok(),
        Value::BulkString(b) => std::str::from_utf8(b).ok()?.parse().ok(),
        Value::SimpleString(s) => s.parse().ok(),
        _ => None,
    }
}

/// The bytes of a bulk string.
pub(crate) fn bytes(v: &Value) -> Option<&[u8]> {
    match v {
        Value::BulkString(b) => Some(b),
        Value::SimpleString(s) => Some(s.as_bytes()),
        _ => None,
    }
}

/// The items of an array answer.
pub(crate) fn array(v: Value) -> Option<Vec<Value>> {
    match v {
        Value::Array(items) => Some(items),
        _ => None,
    }
}

/// Milliseconds of a duration, saturating.
pub(crate) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Microseconds of a duration, saturating.
pub(crate) fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// A number as a script argument.
pub(crate) fn arg(n: impl std::fmt::Display) -> Vec<u8> {
    n.to_string().into_bytes()
}
