//! Exactly once, small: 160 writes, 10 % faults, 16 in flight, over both HTTP
//! versions and both kinds of credential.

use std::time::Duration;

use b24_emulator::IdempotencyKeys;
use b24_reliability::{run_exactly_once, Auth, ExactlyOnceConfig, HttpVersion};

async fn small(http: HttpVersion, auth: Auth, seed: u64) {
    small_with(http, auth, seed, IdempotencyKeys::Honoured).await;
}

async fn small_with(http: HttpVersion, auth: Auth, seed: u64, keys: IdempotencyKeys) {
    let mut config = ExactlyOnceConfig::new(160, 16, 0.10);
    config.http = http;
    config.auth = auth;
    config.seed = seed;
    config.keys = keys;
    let report = run_exactly_once(&config).await.expect("stand");
    println!("{report}");
    assert_eq!(report.calls, 160, "{report}");
    assert_eq!(report.duplicates, 0, "{report}");
    assert_eq!(report.lost, 0, "{report}");
    assert_eq!(report.misreported, 0, "{report}");
    assert!(report.holds(), "{report}");
    // The run did meet faults, and the portal saw the retries they caused.
    assert!(report.faults_injected() > 0, "{report}");
    assert!(report.requests > 160, "{report}");
    // Every call is accounted for: ok plus errors.
    assert_eq!(
        report.ok + report.errors.values().sum::<usize>(),
        report.calls,
        "{report}"
    );
    // The client's limiter kept (nearly) within the portal's bucket: a slot is
    // granted when a call asks for it, not when its request leaves, so on a loaded
    // machine the portal has refused a few requests (retried, never seen by a
    // caller): see docs/reliability.md, known gaps. The soak holds it to 0.
    assert!(report.rate_limited <= 8, "{report}");
    if let Auth::OAuth { .. } = auth {
        assert!(
            report.refreshes >= 1,
            "tokens expired and were refreshed: {report}"
        );
    } else {
        assert_eq!(report.refreshes, 0, "{report}");
    }
}

fn expiring() -> Auth {
    Auth::OAuth {
        token_ttl: Duration::from_millis(300),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http1_webhook() {
    small(HttpVersion::Http1, Auth::Webhook, 11).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_webhook() {
    small(HttpVersion::Http2, Auth::Webhook, 12).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http1_oauth_with_expiring_tokens() {
    small(HttpVersion::Http1, expiring(), 13).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_oauth_with_expiring_tokens() {
    small(HttpVersion::Http2, expiring(), 14).await;
}

// A portal whose server code has no key handling: a write that may have run is
// never repeated on the strength of its key. Writes made from messages are
// reconciled by reading the task's results; the others end as WriteOutcomeUnknown.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_webhook_on_a_portal_that_ignores_keys() {
    small_with(
        HttpVersion::Http2,
        Auth::Webhook,
        15,
        IdempotencyKeys::Ignored,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http1_oauth_on_a_portal_that_ignores_keys() {
    small_with(HttpVersion::Http1, expiring(), 16, IdempotencyKeys::Ignored).await;
}
