//! OAuth portals: an expired token is refreshed once for any number of concurrent
//! calls, and the rotated pair reaches the user's token store.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use b24_core::engine::{
    MemoryTokenStore, OAuthApp, RefreshLease, RefreshTurn, StaleOr, StoreCall, Timestamp,
    TokenGeneration, TokenSet, TokenStore,
};
use b24_core::Portal;
use b24_emulator::{Emulator, PortalConfig};
use b24_hyper::Error;
use b24_types::{ClientSecret, TaskId};

use crate::emu;

/// A token store that counts the pairs written to it (where a real one would persist
/// them).
#[derive(Debug)]
struct CountingStore {
    inner: MemoryTokenStore,
    writes: AtomicUsize,
}

impl TokenStore for CountingStore {
    fn current(&self) -> StoreCall<Option<TokenSet>> {
        self.inner.current()
    }

    fn replace(&self, seen: TokenGeneration, fresh: TokenSet) -> StoreCall<StaleOr<TokenSet>> {
        let stored = self.inner.replace(seen, fresh);
        if matches!(stored, StoreCall::Ready(Ok(Ok(_)))) {
            self.writes.fetch_add(1, Ordering::SeqCst);
        }
        stored
    }

    fn begin_refresh(
        &self,
        stale: TokenGeneration,
        holder: u64,
        now: Timestamp,
        lease: std::time::Duration,
    ) -> StoreCall<RefreshTurn> {
        self.inner.begin_refresh(stale, holder, now, lease)
    }

    fn end_refresh(&self, lease: &RefreshLease) -> StoreCall<()> {
        self.inner.end_refresh(lease)
    }
}

async fn oauth_env() -> (emu::Env, Portal, Arc<CountingStore>, b24_types::AccessToken) {
    let emulator = Emulator::builder().portal(PortalConfig::new("localhost").bucket(50, 500.0));
    let server = emulator.build().serve_https().await.unwrap();
    let app = OAuthApp::new(
        server.emulator().oauth_client_id(),
        ClientSecret::new(server.emulator().oauth_client_secret()),
    )
    .token_url(server.token_url());
    let client = emu::client_for(&server, &[])
        .bucket(b24_core::engine::BucketConfig::custom(50, 500.0).unwrap())
        .oauth_app(app)
        .build()
        .unwrap();
    let (access, refresh) = server.portal().issue_tokens(1).unwrap();
    let store = Arc::new(CountingStore {
        inner: MemoryTokenStore::new(TokenSet::new(access.clone(), refresh)),
        writes: AtomicUsize::new(0),
    });
    let portal = Portal::oauth(&format!("https://localhost:{}", server.addr().port())).unwrap();
    client.register_oauth_portal(&portal, store.clone());
    (emu::Env { server, client }, portal, store, access)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_calls_with_an_expired_token_refresh_once() {
    const CALLS: usize = 30;
    let (env, portal, store, access) = oauth_env().await;
    let emu_portal = env.server.portal();
    let results = env.client.task_results(&portal);
    // The token works.
    results
        .add(TaskId::new(51).unwrap(), "before")
        .await
        .unwrap();
    assert_eq!(emu_portal.calls("oauth.token"), 0);

    assert!(emu_portal.expire_token(&access));
    let old_refresh = store
        .current()
        .await
        .unwrap()
        .unwrap()
        .refresh_token()
        .clone();
    let mut tasks = Vec::new();
    for n in 0..CALLS {
        let results = results.clone();
        tasks.push(tokio::spawn(async move {
            results
                .add(TaskId::new(51).unwrap(), &format!("after {n}"))
                .await
        }));
    }
    for t in tasks {
        t.await
            .unwrap()
            .unwrap_or_else(|e| panic!("call failed: {e:?}"));
    }
    // Exactly one refresh at the token endpoint, one write to the store.
    assert_eq!(emu_portal.calls("oauth.token"), 1);
    assert_eq!(store.writes.load(Ordering::SeqCst), 1);
    let now = store.current().await.unwrap().unwrap();
    assert_eq!(now.generation(), TokenGeneration::new(2));
    assert!(
        !now.refresh_token().ct_eq(&old_refresh),
        "refresh token rotated"
    );
    assert!(!now.access_token().ct_eq(&access));
    // Every call is stored once: the 401s did not run.
    assert_eq!(emu_portal.results().len(), CALLS + 1);
}

#[tokio::test]
async fn a_revoked_refresh_token_asks_for_reauthorization() {
    let (env, portal, store, access) = oauth_env().await;
    let emu_portal = env.server.portal();
    assert!(
        emu_portal.revoke_refresh_token(store.current().await.unwrap().unwrap().refresh_token())
    );
    assert!(emu_portal.expire_token(&access));
    let err = env
        .client
        .task_results(&portal)
        .add(TaskId::new(51).unwrap(), "x")
        .await
        .unwrap_err();
    match &err {
        Error::Core(b24_core::Error::TokenRefresh(refresh)) => {
            assert!(refresh.needs_reauthorization(), "{refresh:?}");
        }
        other => panic!("expected a refresh failure, got {other:?}"),
    }
    assert_eq!(store.writes.load(Ordering::SeqCst), 0);
    // Nothing secret in what the caller sees.
    let text = format!("{err} {err:?}");
    assert!(!text.contains(access.expose_secret()));
    assert!(!text.contains(env.emulator().oauth_client_secret()));
}

#[tokio::test]
async fn an_oauth_portal_without_a_token_store_is_refused_before_sending() {
    let env = emu::start().await;
    let portal = Portal::oauth(&format!("https://localhost:{}", env.server.addr().port())).unwrap();
    let err = env
        .client
        .task_results(&portal)
        .add(TaskId::new(51).unwrap(), "x")
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Core(b24_core::Error::InvalidInput(_))),
        "{err:?}"
    );
    assert!(env.server.portal().requests().is_empty());
}
