//! Token pairs: compare-and-swap, the refresh lease across processes, the cipher hook.

use std::sync::Arc;
use std::time::Duration;

use b24_core::engine::{
    RefreshLease, RefreshTurn, StaleGeneration, StoreErrorKind, Timestamp, TokenGeneration,
    TokenSet, TokenStore,
};
use b24_core::registry::{CredentialId, OAuthUser};
use b24_core::Portal;
use b24_redis::{RedisBackend, RedisConfig, RedisTokenStore, TokenCipher, REFRESH_POLL};
use b24_types::{AccessToken, RefreshToken};

use crate::support::{all_keys, backend, fails, host, ok, raw, server, wall};

const LEASE: Duration = Duration::from_secs(10);

fn pair(access: &str, refresh: &str) -> TokenSet {
    TokenSet::new(AccessToken::new(access), RefreshToken::new(refresh))
}

fn credential(user: &str) -> CredentialId {
    let portal = Portal::oauth("https://example.bitrix24.com/rest/").unwrap();
    CredentialId::of(&portal, Some(&OAuthUser::new(user).unwrap()))
}

fn store(backend: &RedisBackend, host: &str) -> RedisTokenStore {
    backend.tokens(host, &credential("user:67"))
}

fn g(n: u64) -> TokenGeneration {
    TokenGeneration::new(n)
}

fn access_of(tokens: &TokenSet) -> &str {
    tokens.access_token().expose_secret()
}

#[tokio::test]
async fn replace_is_compare_and_swap() {
    let Some(server) = server() else { return };
    let h = host();
    let store = store(&backend(&server.url()), &h);
    assert!(ok(store.current()).await.is_none());
    let first = pair("access-1", "refresh-1")
        .with_expiry(Timestamp::from_unix_millis(1_777_530_300_123))
        .with_server_endpoint("https://oauth.bitrix.info/rest/");
    let stored = ok(store.replace(TokenGeneration::NONE, first))
        .await
        .unwrap();
    assert_eq!(stored.generation(), g(1));
    // Installing a first pair again finds generation 1.
    let again = ok(store.replace(TokenGeneration::NONE, pair("x", "y"))).await;
    assert_eq!(
        again.map(|t| t.generation()),
        Err(StaleGeneration { current: g(1) })
    );
    let current = ok(store.current()).await.unwrap();
    assert_eq!(current.generation(), g(1));
    assert_eq!(access_of(&current), "access-1");
    assert_eq!(current.refresh_token().expose_secret(), "refresh-1");
    assert_eq!(
        current.expires_at(),
        Some(Timestamp::from_unix_millis(1_777_530_300_123))
    );
    assert_eq!(
        current.server_endpoint(),
        Some("https://oauth.bitrix.info/rest/")
    );
    let second = ok(store.replace(g(1), pair("access-2", "refresh-2")))
        .await
        .unwrap();
    assert_eq!(second.generation(), g(2));
    assert_eq!(
        ok(store.replace(g(1), pair("late", "late")))
            .await
            .map(|t| t.generation()),
        Err(StaleGeneration { current: g(2) })
    );
    assert_eq!(access_of(&ok(store.current()).await.unwrap()), "access-2");
    // The pair lives for the token TTL (30 days by default), refreshed on replace.
    let mut con = raw(&server.url());
    let key = format!("b24:{{{h}}}:tokens:oauth:user:67");
    let ttl: i64 = redis::cmd("PTTL").arg(&key).query(&mut con).unwrap();
    assert!((2_591_990_000..=2_592_000_000).contains(&ttl), "ttl {ttl}");
}

#[tokio::test]
async fn the_refresh_lease_is_single_flight_across_backends() {
    let Some(server) = server() else { return };
    let h = host();
    let a = store(&backend(&server.url()), &h);
    let b = store(&backend(&server.url()), &h);
    let now = wall();
    assert!(matches!(
        ok(a.begin_refresh(TokenGeneration::NONE, 1, now, LEASE)).await,
        RefreshTurn::Empty
    ));
    ok(a.replace(TokenGeneration::NONE, pair("access-1", "refresh-1")))
        .await
        .unwrap();

    // Ten callers on two connections ask at once: one gets the turn.
    let mut tasks = Vec::new();
    for holder in 0..10u64 {
        let store = if holder % 2 == 0 {
            a.begin_refresh(g(1), holder, now, LEASE)
        } else {
            b.begin_refresh(g(1), holder, now, LEASE)
        };
        tasks.push(tokio::spawn(async move { store.await }));
    }
    let mut granted = Vec::new();
    let mut busy = 0;
    for task in tasks {
        match task.await.unwrap().unwrap() {
            RefreshTurn::Granted { lease, tokens } => {
                assert_eq!(access_of(&tokens), "access-1");
                assert_eq!(tokens.generation(), g(1));
                assert_eq!(lease.generation(), g(1));
                assert_eq!(lease.expires_at(), now.saturating_add(LEASE));
                granted.push(lease);
            }
            RefreshTurn::Busy { retry_at } => {
                assert_eq!(retry_at, now.saturating_add(REFRESH_POLL));
                busy += 1;
            }
            other => panic!("unexpected turn {other:?}"),
        }
    }
    assert_eq!((granted.len(), busy), (1, 9));
    let lease = granted.pop().unwrap();

    // The holder refreshes and replaces (which ends the lease); the others find the
    // newer generation.
    let holder = if lease.id() % 2 == 0 { &a } else { &b };
    let stored = ok(holder.replace(g(1), pair("access-2", "refresh-2")))
        .await
        .unwrap();
    assert_eq!(stored.generation(), g(2));
    for store in [&a, &b] {
        assert!(matches!(
            ok(store.begin_refresh(g(1), 42, now, LEASE)).await,
            RefreshTurn::AlreadyRefreshed(gen) if gen == g(2)
        ));
    }
    // The lease is gone: a refresh of generation 2 is granted at once.
    assert!(matches!(
        ok(b.begin_refresh(g(2), 43, now, LEASE)).await,
        RefreshTurn::Granted { .. }
    ));
}

#[tokio::test]
async fn busy_until_the_lease_expires_on_redis_time() {
    let Some(server) = server() else { return };
    let h = host();
    let a = store(&backend(&server.url()), &h);
    let b = store(&backend(&server.url()), &h);
    ok(a.replace(TokenGeneration::NONE, pair("access-1", "refresh-1")))
        .await
        .unwrap();
    let short = Duration::from_millis(200);
    let now = wall();
    assert!(matches!(
        ok(a.begin_refresh(g(1), 1, now, short)).await,
        RefreshTurn::Granted { .. }
    ));
    let RefreshTurn::Busy { retry_at } = ok(b.begin_refresh(g(1), 2, now, short)).await else {
        panic!("not busy");
    };
    assert_eq!(retry_at, now.saturating_add(REFRESH_POLL));
    // The holder died without ending its turn: the lease runs out by itself.
    tokio::time::sleep(Duration::from_millis(250)).await;
    let later = wall();
    let RefreshTurn::Granted { lease, tokens } = ok(b.begin_refresh(g(1), 2, later, short)).await
    else {
        panic!("not granted after the lease expired");
    };
    assert_eq!((lease.id(), lease.generation()), (2, g(1)));
    assert_eq!(access_of(&tokens), "access-1");
}

#[tokio::test]
async fn end_refresh_by_a_non_holder_does_nothing() {
    let Some(server) = server() else { return };
    let h = host();
    let a = store(&backend(&server.url()), &h);
    let b = store(&backend(&server.url()), &h);
    ok(a.replace(TokenGeneration::NONE, pair("access-1", "refresh-1")))
        .await
        .unwrap();
    let now = wall();
    let RefreshTurn::Granted { lease, .. } = ok(a.begin_refresh(g(1), 7, now, LEASE)).await else {
        panic!("not granted");
    };
    // Another holder's lease, and the holder's lease of another generation.
    ok(b.end_refresh(&RefreshLease::new(8, g(1), lease.expires_at()))).await;
    ok(b.end_refresh(&RefreshLease::new(7, g(2), lease.expires_at()))).await;
    assert!(matches!(
        ok(b.begin_refresh(g(1), 8, now, LEASE)).await,
        RefreshTurn::Busy { .. }
    ));
    // The holder ends its turn (the refresh failed): the next caller is granted.
    ok(a.end_refresh(&lease)).await;
    assert!(matches!(
        ok(b.begin_refresh(g(1), 8, now, LEASE)).await,
        RefreshTurn::Granted { .. }
    ));
}

/// A test cipher: XOR with a key byte, behind a marker. (Not encryption: it shows the
/// hook is applied.)
#[derive(Debug)]
struct XorCipher(u8);

impl TokenCipher for XorCipher {
    fn seal(&self, plaintext: &[u8]) -> Vec<u8> {
        let mut out = b"xor1:".to_vec();
        out.extend(plaintext.iter().map(|b| b ^ self.0));
        out
    }

    fn open(&self, sealed: &[u8]) -> Option<Vec<u8>> {
        let body = sealed.strip_prefix(b"xor1:")?;
        let plain: Vec<u8> = body.iter().map(|b| b ^ self.0).collect();
        // A wrong key gives text that is no JSON object: refuse it as a real AEAD would.
        plain.starts_with(b"{").then_some(plain)
    }
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[tokio::test]
async fn tokens_never_appear_in_key_names_and_a_cipher_seals_them() {
    let Some(server) = server() else { return };
    let h = host();
    let url = server.url();
    let mut con = raw(&url);
    let key = format!("b24:{{{h}}}:tokens:oauth:user:67");

    // Plaintext by default: the stored value holds the token (as documented).
    let plain = store(&backend(&url), &h);
    ok(plain.replace(
        TokenGeneration::NONE,
        pair("plain-access-Zq1", "plain-refresh-Zq2"),
    ))
    .await
    .unwrap();
    let stored: Vec<u8> = redis::cmd("HGET")
        .arg(&key)
        .arg("v")
        .query(&mut con)
        .unwrap();
    assert!(contains(&stored, "plain-access-Zq1"));

    let sealed_backend =
        RedisBackend::new(RedisConfig::new(&url).token_cipher(Arc::new(XorCipher(0x5a)))).unwrap();
    let sealed = store(&sealed_backend, &h);
    ok(sealed.replace(g(1), pair("secret-access-Xy7", "secret-refresh-Xy8")))
        .await
        .unwrap();
    let stored: Vec<u8> = redis::cmd("HGET")
        .arg(&key)
        .arg("v")
        .query(&mut con)
        .unwrap();
    assert!(stored.starts_with(b"xor1:"));
    assert!(!contains(&stored, "secret-access-Xy7"));
    assert!(!contains(&stored, "secret-refresh-Xy8"));
    let back = ok(sealed.current()).await.unwrap();
    assert_eq!(access_of(&back), "secret-access-Xy7");
    assert_eq!(back.generation(), g(2));
    let now = wall();
    let RefreshTurn::Granted { tokens, .. } = ok(sealed.begin_refresh(g(2), 1, now, LEASE)).await
    else {
        panic!("not granted");
    };
    assert_eq!(tokens.refresh_token().expose_secret(), "secret-refresh-Xy8");

    // Another key cannot open it, nor can a process without the cipher read it.
    let other =
        RedisBackend::new(RedisConfig::new(&url).token_cipher(Arc::new(XorCipher(0x33)))).unwrap();
    let e = fails(store(&other, &h).current()).await;
    assert_eq!(e.kind, StoreErrorKind::Corrupt);
    assert!(!e.detail.contains("secret"), "{e}");
    let e = fails(plain.current()).await;
    assert_eq!(e.kind, StoreErrorKind::Corrupt);

    // No key name holds a token, a webhook secret, or anything but the layout.
    let webhook = Portal::webhook("https://example.bitrix24.com/rest/1/k3y0f7h3w3bh00k5/").unwrap();
    let webhook_store = backend(&url).tokens(&h, &CredentialId::of(&webhook, None));
    ok(webhook_store.replace(TokenGeneration::NONE, pair("wh-access-Q9", "wh-refresh-Q9")))
        .await
        .unwrap();
    let keys = all_keys(&mut con);
    assert!(keys.len() >= 3, "{keys:?}");
    for k in &keys {
        for secret in ["access", "refresh", "Xy7", "Zq1", "Q9", "k3y0f7h3w3bh00k5"] {
            assert!(!k.contains(secret), "{k} holds {secret}");
        }
    }
    assert!(
        keys.iter()
            .any(|k| k.starts_with(&format!("b24:{{{h}}}:tokens:webhook:1:"))),
        "{keys:?}"
    );
}
