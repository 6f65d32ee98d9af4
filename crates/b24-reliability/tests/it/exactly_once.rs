//! Exactly once, small: 160 writes, 10 % faults, 16 in flight, over both HTTP
//! versions and both kinds of credential.

use std::time::Duration;

use b24_reliability::{run_exactly_once, Auth, ExactlyOnceConfig, HttpVersion};

async fn small(http: HttpVersion, auth: Auth, seed: u64) {
    let mut config = ExactlyOnceConfig::new(160, 16, 0.10);
    config.http = http;
    config.auth = auth;
    config.seed = seed;
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
    // The client's limiter kept within the portal's bucket. With tokens expiring
    // every second, the calls that met an expired token replay together after the
    // refresh; on a loaded machine the portal has refused a few of those replays
    // (retried, never seen by a caller): see docs/reliability.md, known gaps.
    match auth {
        Auth::Webhook => assert_eq!(report.rate_limited, 0, "{report}"),
        Auth::OAuth { .. } => assert!(report.rate_limited <= 8, "{report}"),
    }
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
        token_ttl: Duration::from_secs(1),
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
