//! Outages: fail fast with a typed error, recover when Redis is back.

use std::future::Future;
use std::net::TcpListener;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use b24_core::engine::{
    BucketConfig, BudgetConfig, BudgetStore, HostStore, StoreError, StoreErrorKind, TokenStore,
};
use b24_core::registry::{BudgetScope, CredentialId};
use b24_core::Portal;
use b24_redis::{RedisBackend, RedisConfig};

use crate::support::{host, is_outage, ok, run, server, wall};

const TIMEOUT: Duration = Duration::from_millis(300);
/// Scheduling slack on a busy two-core machine.
const SLACK: Duration = Duration::from_millis(250);

fn credential() -> CredentialId {
    CredentialId::of(
        &Portal::oauth("https://example.bitrix24.com/rest/").unwrap(),
        None,
    )
}

/// Runs every kind of operation once and returns their outcomes (ok or the error).
async fn every_operation(backend: &RedisBackend, h: &str) -> Vec<Result<(), StoreError>> {
    let hosts = backend.host(h, BucketConfig::standard());
    let budgets = backend.budgets(h, &BudgetScope::App, BudgetConfig::default());
    let tokens = backend.tokens(h, &credential());
    let methods = ["user.current".to_owned()];
    let mut out = Vec::new();
    let mut timed = |r: Result<(), StoreError>, started: Instant| {
        if r.is_err() {
            assert!(
                started.elapsed() < TIMEOUT + SLACK,
                "a failure took {:?}",
                started.elapsed()
            );
        }
        out.push(r);
    };
    let t = Instant::now();
    timed(run(hosts.reserve(wall())).await.map(drop), t);
    let t = Instant::now();
    timed(run(hosts.throttled(wall())).await, t);
    let t = Instant::now();
    timed(run(budgets.check(&methods, wall())).await.map(drop), t);
    let t = Instant::now();
    timed(run(budgets.block(&methods, wall())).await, t);
    let t = Instant::now();
    timed(run(tokens.current()).await.map(drop), t);
    out
}

#[tokio::test]
async fn an_outage_fails_fast_and_ends_when_redis_is_back() {
    let Some(mut server) = server() else { return };
    let backend = RedisBackend::new(RedisConfig::new(server.url()).op_timeout(TIMEOUT)).unwrap();
    let h = host();
    for r in every_operation(&backend, &h).await {
        r.unwrap();
    }

    server.stop();
    for _ in 0..3 {
        for r in every_operation(&backend, &h).await {
            let e = r.unwrap_err();
            assert!(is_outage(e.kind), "{e}");
            assert!(!e.detail.contains("redis://"), "{e}");
        }
    }

    server.start();
    let deadline = Instant::now() + Duration::from_secs(5);
    let hosts = backend.host(&h, BucketConfig::standard());
    loop {
        match run(hosts.reserve(wall())).await {
            Ok(_) => break,
            Err(e) => {
                assert!(is_outage(e.kind), "{e}");
                assert!(
                    Instant::now() < deadline,
                    "still failing 5 s after the restart: {e}"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    for r in every_operation(&backend, &h).await {
        r.unwrap();
    }
}

#[tokio::test]
async fn a_backend_is_built_without_a_server_and_ping_tells() {
    // A port nobody listens on.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let backend = RedisBackend::new(
        RedisConfig::new(format!("redis://:hunter2@127.0.0.1:{port}/")).op_timeout(TIMEOUT),
    )
    .unwrap();
    let started = Instant::now();
    let e = backend.ping().await.unwrap_err();
    assert_eq!(e.kind, StoreErrorKind::Unavailable, "{e}");
    assert!(started.elapsed() < TIMEOUT + SLACK);
    assert!(!e.detail.contains("hunter2") && !format!("{e}").contains("hunter2"));
    let debug = format!("{backend:?}");
    assert!(!debug.contains("hunter2"), "{debug}");
    assert_eq!(backend.target(), format!("redis://***@127.0.0.1:{port}/0"));
}

#[tokio::test]
async fn a_silent_server_times_out() {
    // Accepts connections (the kernel's backlog) and never answers.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let backend = RedisBackend::new(
        RedisConfig::new(format!("redis://127.0.0.1:{port}/")).op_timeout(TIMEOUT),
    )
    .unwrap();
    let store = backend.host(&host(), BucketConfig::standard());
    for _ in 0..2 {
        let started = Instant::now();
        let e = run(store.reserve(wall())).await.unwrap_err();
        assert_eq!(e.kind, StoreErrorKind::Timeout, "{e}");
        assert!(started.elapsed() >= TIMEOUT - Duration::from_millis(10));
        assert!(
            started.elapsed() < TIMEOUT + SLACK,
            "{:?}",
            started.elapsed()
        );
    }
    drop(listener);
}

/// Polls a future to completion on this thread, with no async runtime.
fn block_on<F: Future>(future: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
        std::thread::park_timeout(Duration::from_millis(10));
    }
}

#[test]
fn polled_outside_tokio_a_store_fails_without_panicking() {
    let backend = RedisBackend::new(RedisConfig::new("redis://127.0.0.1:1/")).unwrap();
    let store = backend.host("example.bitrix24.com", BucketConfig::standard());
    let e = block_on(run(store.reserve(wall()))).unwrap_err();
    assert_eq!(e.kind, StoreErrorKind::Unavailable);
    assert!(e.detail.contains("tokio runtime"), "{e}");
}

#[tokio::test]
async fn store_handles_work_through_the_registry_trait() {
    use b24_core::registry::StoreBackend;
    let Some(server) = server() else { return };
    let backend: Arc<dyn StoreBackend> =
        Arc::new(RedisBackend::new(RedisConfig::new(server.url()).key_prefix("app1:")).unwrap());
    let h = host();
    let store = backend.host_store(&h, BucketConfig::standard());
    let now = wall();
    assert_eq!(ok(store.reserve(now)).await.at, now);
    let tokens = backend.token_store(&h, &credential());
    assert!(ok(tokens.current()).await.is_none());
    let budgets = backend.budget_store(&h, &BudgetScope::App, BudgetConfig::default());
    ok(budgets.block(&["user.current".to_owned()], now)).await;
    let mut con = crate::support::raw(&server.url());
    let mut keys = crate::support::all_keys(&mut con);
    keys.sort();
    assert_eq!(
        keys,
        vec![
            format!("app1:{{{h}}}:bucket"),
            format!("app1:{{{h}}}:budget:app:user.current"),
        ]
    );
    assert!(matches!(
        RedisBackend::new(RedisConfig::new(server.url()).key_prefix("a{b")),
        Err(b24_redis::ConfigError::InvalidPrefix)
    ));
    assert!(matches!(
        RedisBackend::new(RedisConfig::new("http://example.com/")),
        Err(b24_redis::ConfigError::InvalidUrl)
    ));
    assert!(matches!(
        RedisBackend::new(RedisConfig::new(server.url()).op_timeout(Duration::ZERO)),
        Err(b24_redis::ConfigError::ZeroTimeout)
    ));
}
