//! [`RedisTokenStore`]: one OAuth credential's token pair and its refresh lease.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use b24_core::engine::{
    RefreshLease, RefreshTurn, StaleGeneration, StaleOr, StoreCall, Timestamp, TokenGeneration,
    TokenSet, TokenStore,
};
use b24_types::{AccessToken, RefreshToken};
use redis::Value;

use crate::config::TokenCipher;
use crate::conn::{arg, array, bytes, eval, int, millis, uint, Conn, OpError};
use crate::scripts;

/// The longest a caller waits for another holder's refresh before asking again.
pub const REFRESH_POLL: Duration = Duration::from_millis(50);

/// The version of the stored form of a pair.
const FORMAT: u64 = 1;

/// One OAuth credential's token pair on one host, in Redis: a hash of the generation
/// (`g`) and the pair, sealed by the [`TokenCipher`] (`v`), and a refresh lease key
/// whose value names the holder and whose expiry runs on Redis's clock.
///
/// [`replace`](TokenStore::replace) is a compare-and-swap on the generation that also
/// ends the lease; [`begin_refresh`](TokenStore::begin_refresh) grants the lease only
/// for the stored generation and while no other lease is live, so one refresh runs at
/// a time among every process sharing the store.
pub struct RedisTokenStore {
    conn: Conn,
    tokens_key: String,
    lease_key: String,
    cipher: Arc<dyn TokenCipher>,
    ttl: Duration,
}

impl RedisTokenStore {
    pub(crate) fn new(
        conn: Conn,
        tokens_key: String,
        lease_key: String,
        cipher: Arc<dyn TokenCipher>,
        ttl: Duration,
    ) -> Self {
        Self {
            conn,
            tokens_key,
            lease_key,
            cipher,
            ttl,
        }
    }
}

impl fmt::Debug for RedisTokenStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisTokenStore")
            .field("tokens_key", &self.tokens_key)
            .field("cipher", &self.cipher)
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

/// The stored form of a pair (before sealing): a small JSON object.
fn encode(tokens: &TokenSet) -> Vec<u8> {
    let value = serde_json::json!({
        "format": FORMAT,
        "access": tokens.access_token().expose_secret(),
        "refresh": tokens.refresh_token().expose_secret(),
        "expires_at": tokens.expires_at().map(Timestamp::as_unix_millis),
        "server_endpoint": tokens.server_endpoint(),
    });
    value.to_string().into_bytes()
}

/// The pair of a stored form, with its generation.
fn decode(plain: &[u8], generation: TokenGeneration) -> Result<TokenSet, OpError> {
    const BAD: OpError = OpError::Corrupt("the stored token pair is not readable");
    let value: serde_json::Value = serde_json::from_slice(plain).map_err(|_| BAD)?;
    if value.get("format").and_then(serde_json::Value::as_u64) != Some(FORMAT) {
        return Err(OpError::Corrupt(
            "the stored token pair has an unknown format",
        ));
    }
    let text = |name: &str| value.get(name).and_then(serde_json::Value::as_str);
    let (Some(access), Some(refresh)) = (text("access"), text("refresh")) else {
        return Err(BAD);
    };
    let mut tokens = TokenSet::new(AccessToken::new(access), RefreshToken::new(refresh));
    match value.get("expires_at") {
        None | Some(serde_json::Value::Null) => {}
        Some(v) => {
            let ms = v.as_u64().ok_or(BAD)?;
            tokens = tokens.with_expiry(Timestamp::from_unix_millis(ms));
        }
    }
    match value.get("server_endpoint") {
        None | Some(serde_json::Value::Null) => {}
        Some(v) => tokens = tokens.with_server_endpoint(v.as_str().ok_or(BAD)?),
    }
    Ok(tokens.with_generation(generation))
}

fn open(
    cipher: &dyn TokenCipher,
    sealed: &[u8],
    generation: TokenGeneration,
) -> Result<TokenSet, OpError> {
    let plain = cipher.open(sealed).ok_or(OpError::Corrupt(
        "the stored token pair cannot be opened (another cipher key?)",
    ))?;
    decode(&plain, generation)
}

fn generation(v: &Value) -> Result<TokenGeneration, OpError> {
    uint(v)
        .map(TokenGeneration::new)
        .ok_or(OpError::Corrupt("the stored token generation"))
}

/// The value of a lease: its holder and the generation it refreshes.
fn lease_value(holder: u64, generation: TokenGeneration) -> String {
    format!("{holder}:{generation}")
}

impl TokenStore for RedisTokenStore {
    fn current(&self) -> StoreCall<Option<TokenSet>> {
        let key = self.tokens_key.clone();
        let cipher = Arc::clone(&self.cipher);
        StoreCall::Pending(
            self.conn
                .run("read a token pair", move |mut con| async move {
                    let (g, v): (Option<Value>, Option<Value>) = {
                        let answer: Vec<Value> = redis::cmd("HMGET")
                            .arg(&key)
                            .arg("g")
                            .arg("v")
                            .query_async(&mut con)
                            .await?;
                        let mut it = answer.into_iter();
                        (
                            it.next().filter(|v| *v != Value::Nil),
                            it.next().filter(|v| *v != Value::Nil),
                        )
                    };
                    match (g, v) {
                        (None, None) => Ok(None),
                        (Some(g), Some(v)) => {
                            let sealed =
                                bytes(&v).ok_or(OpError::Corrupt("the stored token pair"))?;
                            open(cipher.as_ref(), sealed, generation(&g)?).map(Some)
                        }
                        _ => Err(OpError::Corrupt("the token hash is incomplete")),
                    }
                }),
        )
    }

    fn replace(&self, seen: TokenGeneration, fresh: TokenSet) -> StoreCall<StaleOr<TokenSet>> {
        let next = seen.next();
        let sealed = self.cipher.seal(&encode(&fresh));
        let stored = fresh.with_generation(next);
        let keys = [self.tokens_key.clone(), self.lease_key.clone()];
        let args = [
            arg(seen),
            arg(next),
            sealed,
            arg(millis(self.ttl).max(1_000)),
        ];
        StoreCall::Pending(
            self.conn
                .run("replace a token pair", move |mut con| async move {
                    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
                    let args: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
                    let answer = eval(&mut con, &scripts::TOKEN_REPLACE, &keys, &args).await?;
                    const BAD: OpError = OpError::Corrupt("the token replace script's answer");
                    let items = array(answer).ok_or(BAD)?;
                    let [done, generation_value] = items.as_slice() else {
                        return Err(BAD);
                    };
                    let found = generation(generation_value)?;
                    match int(done) {
                        Some(1) if found == next => Ok(Ok(stored)),
                        Some(0) => Ok(Err(StaleGeneration { current: found })),
                        _ => Err(BAD),
                    }
                }),
        )
    }

    fn begin_refresh(
        &self,
        stale: TokenGeneration,
        holder: u64,
        now: Timestamp,
        lease: Duration,
    ) -> StoreCall<RefreshTurn> {
        let keys = [self.tokens_key.clone(), self.lease_key.clone()];
        let lease_ms = millis(lease).max(1);
        let args = [
            arg(stale),
            lease_value(holder, stale).into_bytes(),
            arg(lease_ms),
        ];
        let cipher = Arc::clone(&self.cipher);
        StoreCall::Pending(
            self.conn
                .run("begin a token refresh", move |mut con| async move {
                    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
                    let args: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
                    let answer =
                        eval(&mut con, &scripts::TOKEN_BEGIN_REFRESH, &keys, &args).await?;
                    const BAD: OpError = OpError::Corrupt("the begin refresh script's answer");
                    let items = array(answer).ok_or(BAD)?;
                    let (tag, rest) = items.split_first().ok_or(BAD)?;
                    match (bytes(tag).ok_or(BAD)?, rest) {
                        (b"E", []) => Ok(RefreshTurn::Empty),
                        (b"A", [g]) => Ok(RefreshTurn::AlreadyRefreshed(generation(g)?)),
                        (b"B", [left]) => {
                            // -1: a lease without expiry (not one of ours): poll.
                            let left = int(left).ok_or(BAD)?;
                            let wait = u64::try_from(left)
                                .map_or(REFRESH_POLL, Duration::from_millis)
                                .min(REFRESH_POLL);
                            Ok(RefreshTurn::Busy {
                                retry_at: now.saturating_add(wait),
                            })
                        }
                        (b"G", [g, v]) => {
                            let g = generation(g)?;
                            let sealed = bytes(v).ok_or(BAD)?;
                            let tokens = open(cipher.as_ref(), sealed, g)?;
                            Ok(RefreshTurn::Granted {
                                lease: RefreshLease::new(
                                    holder,
                                    stale,
                                    now.saturating_add(Duration::from_millis(lease_ms)),
                                ),
                                tokens,
                            })
                        }
                        _ => Err(BAD),
                    }
                }),
        )
    }

    fn end_refresh(&self, lease: &RefreshLease) -> StoreCall<()> {
        let key = self.lease_key.clone();
        let value = lease_value(lease.id(), lease.generation()).into_bytes();
        StoreCall::Pending(
            self.conn
                .run("end a token refresh", move |mut con| async move {
                    eval(
                        &mut con,
                        &scripts::TOKEN_END_REFRESH,
                        &[key.as_str()],
                        &[value.as_slice()],
                    )
                    .await?;
                    Ok(())
                }),
        )
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_stored_form_round_trips() {
        let t = TokenSet::new(AccessToken::new("a1"), RefreshToken::new("r1"))
            .with_expiry(Timestamp::from_unix_millis(1_777_530_300_123))
            .with_server_endpoint("https://oauth.bitrix.info/rest/");
        let back = decode(&encode(&t), TokenGeneration::new(7)).unwrap();
        assert_eq!(back.access_token().expose_secret(), "a1");
        assert_eq!(back.refresh_token().expose_secret(), "r1");
        assert_eq!(back.expires_at(), t.expires_at());
        assert_eq!(back.server_endpoint(), t.server_endpoint());
        assert_eq!(back.generation(), TokenGeneration::new(7));
        let bare = TokenSet::new(AccessToken::new("a"), RefreshToken::new("r"));
        let back = decode(&encode(&bare), TokenGeneration::new(1)).unwrap();
        assert_eq!(back.expires_at(), None);
        assert_eq!(back.server_endpoint(), None);
        assert!(matches!(
            decode(b"{\"format\":2}", TokenGeneration::NONE),
            Err(OpError::Corrupt(_))
        ));
        assert!(matches!(
            decode(b"not json", TokenGeneration::NONE),
            Err(OpError::Corrupt(_))
        ));
    }
}
