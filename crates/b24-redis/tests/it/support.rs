//! Shared helpers: servers, backends, raw connections, clocks.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use b24_core::engine::{StoreCall, StoreError, StoreErrorKind, Timestamp};
use b24_redis::testing::RedisServer;
use b24_redis::{RedisBackend, RedisConfig};

/// A server, or `None` when the test is skipped.
pub(crate) fn server() -> Option<RedisServer> {
    RedisServer::start_default()
}

/// A backend on `url` with the default settings.
pub(crate) fn backend(url: &str) -> RedisBackend {
    RedisBackend::new(RedisConfig::new(url)).unwrap()
}

/// A plain synchronous connection, for raw commands.
pub(crate) fn raw(url: &str) -> redis::Connection {
    redis::Client::open(url).unwrap().get_connection().unwrap()
}

/// This machine's clock.
pub(crate) fn wall() -> Timestamp {
    Timestamp::from_system_time(SystemTime::now())
}

/// A portal host no other test uses.
pub(crate) fn host() -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    format!("portal{}.bitrix24.test", N.fetch_add(1, Ordering::Relaxed))
}

/// Awaits a store call, ready or pending.
pub(crate) async fn run<T: Send + 'static>(call: StoreCall<T>) -> Result<T, StoreError> {
    call.await
}

/// Awaits a store call that must succeed.
pub(crate) async fn ok<T: Send + 'static>(call: StoreCall<T>) -> T {
    match call.await {
        Ok(v) => v,
        Err(e) => panic!("store call failed: {e}"),
    }
}

/// Awaits a store call that must fail, and returns its error.
pub(crate) async fn fails<T: Send + 'static>(call: StoreCall<T>) -> StoreError {
    match call.await {
        Ok(_) => panic!("the store call succeeded"),
        Err(e) => e,
    }
}

/// Whether a failure is of the kinds an outage gives.
pub(crate) fn is_outage(kind: StoreErrorKind) -> bool {
    matches!(kind, StoreErrorKind::Unavailable | StoreErrorKind::Timeout)
}

/// All keys on the server.
pub(crate) fn all_keys(con: &mut redis::Connection) -> Vec<String> {
    redis::cmd("KEYS").arg("*").query(con).unwrap()
}

/// Milliseconds between two timestamps (`b - a`), signed.
pub(crate) fn ms_between(a: Timestamp, b: Timestamp) -> i64 {
    i64::try_from(b.as_unix_millis()).unwrap() - i64::try_from(a.as_unix_millis()).unwrap()
}

/// A duration in whole milliseconds, rounded up.
pub(crate) fn ceil_ms(d: Duration) -> i64 {
    i64::try_from(d.as_micros().div_ceil(1000)).unwrap()
}
