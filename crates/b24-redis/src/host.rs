//! [`RedisHostStore`]: a portal host's request bucket and key support.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::SystemTime;

use b24_core::engine::{BucketConfig, HostStore, KeySupport, Reservation, StoreCall, Timestamp};

use crate::config::{EXPIRY_MARGIN, KEY_SUPPORT_TTL};
use crate::conn::{arg, array, eval, int, micros, millis, uint, Conn, OpError};
use crate::scripts;

/// The request bucket and key support of one portal host, in Redis.
///
/// The bucket is the same GCRA schedule as
/// [`LeakyBucket`](b24_core::engine::LeakyBucket), kept as one number (when the bucket
/// would be empty, in microseconds) and computed on Redis's clock (`TIME` inside the
/// script): [`reserve`](HostStore::reserve) answers the delay until the slot, which is
/// added to this machine's clock as the answer arrives (never earlier than the
/// caller's `now`), so clocks that disagree between machines cannot make two
/// processes overrun the bucket, and a slow round trip only makes a slot later.
pub struct RedisHostStore {
    conn: Conn,
    bucket_key: String,
    keys_key: String,
    config: BucketConfig,
    /// The latest empty time (µs of Redis time) this process has seen: handed to the
    /// scripts as a floor, so that a Redis restarted without its data does not take the
    /// bucket for empty while the portal's may be full.
    floor: Arc<AtomicU64>,
}

impl RedisHostStore {
    pub(crate) fn new(
        conn: Conn,
        bucket_key: String,
        keys_key: String,
        config: BucketConfig,
    ) -> Self {
        Self {
            conn,
            bucket_key,
            keys_key,
            config,
            floor: Arc::new(AtomicU64::new(0)),
        }
    }

    /// The bucket's configuration.
    pub fn config(&self) -> BucketConfig {
        self.config
    }
}

impl fmt::Debug for RedisHostStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisHostStore")
            .field("bucket_key", &self.bucket_key)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// `now` plus `delay_us` rounded up to the millisecond.
fn slot_at(now: Timestamp, delay_us: u64) -> Timestamp {
    Timestamp::from_unix_millis(now.as_unix_millis().saturating_add(delay_us.div_ceil(1000)))
}

fn key_support(code: i64) -> Option<KeySupport> {
    match code {
        0 => Some(KeySupport::Unknown),
        1 => Some(KeySupport::Supported),
        2 => Some(KeySupport::Unsupported),
        _ => None,
    }
}

impl HostStore for RedisHostStore {
    fn reserve(&self, now: Timestamp) -> StoreCall<Reservation> {
        let keys = [self.bucket_key.clone(), self.keys_key.clone()];
        let args = [
            arg(micros(self.config.drain_interval()).max(1)),
            arg(self.config.usable_burst().max(1)),
            arg(millis(EXPIRY_MARGIN)),
            arg(millis(KEY_SUPPORT_TTL)),
            arg(self.floor.load(Ordering::Relaxed)),
        ];
        let floor = Arc::clone(&self.floor);
        StoreCall::Pending(
            self.conn
                .run("reserve a bucket slot", move |mut con| async move {
                    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
                    let args: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
                    let answer = eval(&mut con, &scripts::RESERVE, &keys, &args).await?;
                    let items =
                        array(answer).ok_or(OpError::Corrupt("the reserve script's answer"))?;
                    let [delay, support, empty_at] = items.as_slice() else {
                        return Err(OpError::Corrupt("the reserve script's answer"));
                    };
                    if let Some(empty_at) = uint(empty_at) {
                        floor.fetch_max(empty_at, Ordering::Relaxed);
                    }
                    let delay = int(delay).ok_or(OpError::Corrupt("the bucket delay"))?;
                    let key_support = int(support)
                        .and_then(key_support)
                        .ok_or(OpError::Corrupt("the key support holds an unknown value"))?;
                    // The delay counts from Redis's now, which is later than the
                    // caller's `now` by the time the request took to get there: count
                    // it from this moment, after the answer, so the slot is never
                    // early (a slow round trip makes it late, which is safe).
                    let delay = u64::try_from(delay).unwrap_or(0);
                    let at = if delay == 0 {
                        now
                    } else {
                        let base = Timestamp::from_system_time(SystemTime::now()).max(now);
                        slot_at(base, delay)
                    };
                    Ok(Reservation { at, key_support })
                }),
        )
    }

    fn throttled(&self, _now: Timestamp) -> StoreCall<()> {
        let key = self.bucket_key.clone();
        let full = micros(self.config.drain_interval())
            .max(1)
            .saturating_mul(u64::from(self.config.burst()));
        let args = [
            arg(full),
            arg(millis(EXPIRY_MARGIN)),
            arg(self.floor.load(Ordering::Relaxed)),
        ];
        let floor = Arc::clone(&self.floor);
        StoreCall::Pending(
            self.conn
                .run("mark a bucket full", move |mut con| async move {
                    let args: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
                    let answer =
                        eval(&mut con, &scripts::THROTTLED, &[key.as_str()], &args).await?;
                    if let Some(empty_at) = uint(&answer) {
                        floor.fetch_max(empty_at, Ordering::Relaxed);
                    }
                    Ok(())
                }),
        )
    }

    fn record_key_support(&self, seen: KeySupport) -> StoreCall<()> {
        let key = self.keys_key.clone();
        let value = match seen {
            KeySupport::Supported => Some("1"),
            KeySupport::Unsupported => Some("2"),
            // Unknown (and any later variant): no evidence, which is an absent key.
            _ => None,
        };
        StoreCall::Pending(
            self.conn
                .run("record key support", move |mut con| async move {
                    match value {
                        Some(value) => {
                            let () = redis::cmd("SET")
                                .arg(&key)
                                .arg(value)
                                .arg("PX")
                                .arg(millis(KEY_SUPPORT_TTL))
                                .query_async(&mut con)
                                .await?;
                        }
                        None => {
                            let _: i64 = redis::cmd("DEL").arg(&key).query_async(&mut con).await?;
                        }
                    }
                    Ok(())
                }),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_round_up_to_the_millisecond() {
        let now = Timestamp::from_unix_millis(1_000);
        assert_eq!(slot_at(now, 0), now);
        assert_eq!(slot_at(now, 1), Timestamp::from_unix_millis(1_001));
        assert_eq!(slot_at(now, 500_000), Timestamp::from_unix_millis(1_500));
        assert_eq!(slot_at(now, 500_001), Timestamp::from_unix_millis(1_501));
        assert_eq!(key_support(3), None);
    }
}
