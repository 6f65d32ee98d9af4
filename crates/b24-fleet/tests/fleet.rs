#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]
//! Many OS processes, one portal: the fleet's processes against the emulator,
//! sharing one Redis; a refresher killed while it holds the refresh lease; Redis
//! stopped in the middle of a run.
//!
//! The portal's bucket has the standard burst (50) but drains at 20 requests per
//! second instead of 2, so a run of 300 calls takes 12.5 seconds instead of two
//! minutes. The client's safety margin (2 requests) then absorbs 100 ms of requests
//! bunching up on the way instead of a second: enough on loopback, where a burst of
//! fresh TLS connections is the worst of it.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use b24_core::engine::{BucketConfig, OAuthApp, RetryPolicy, TokenSet};
use b24_core::Portal;
use b24_emulator::{Emulator, Fault, PortalConfig, ServerHandle};
use b24_hyper::Client;
use b24_redis::{RedisBackend, RedisConfig};
use b24_types::{ClientSecret, MessageId};

const TASK: u64 = 51;

/// A `redis-server` on a free loopback port, or `None` when the test is skipped
/// (never under `CI=true`).
fn server() -> Option<b24_redis::testing::RedisServer> {
    b24_redis::testing::RedisServer::start_default()
}

/// The fleet runs use every core: one at a time, and not beside each other.
fn one_at_a_time() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The fleet's binary, which cargo builds for this package's tests.
fn fleet_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_b24-fleet"))
}

/// Runs the fleet example with `args` and returns its report.
fn run_fleet(args: &[&str]) -> serde_json::Value {
    let out = Command::new(fleet_binary())
        .args(args)
        .stderr(Stdio::inherit())
        .output()
        .unwrap();
    assert!(out.status.success(), "the fleet failed: {}", out.status);
    let text = String::from_utf8_lossy(&out.stdout);
    let last = text.lines().last().unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|e| panic!("report {last:?}: {e}"))
}

fn num(report: &serde_json::Value, key: &str) -> f64 {
    report[key]
        .as_f64()
        .unwrap_or_else(|| panic!("no {key} in {report}"))
}

const FLEET: &[&str] = &["--workers", "4", "--calls", "75", "--rate", "20"];

#[test]
fn four_processes_sharing_redis_never_overrun_the_bucket() {
    let _one = one_at_a_time();
    if !b24_redis::testing::require_redis_server() {
        return;
    }
    let report = run_fleet(FLEET);
    eprintln!("fleet (redis): {report}");
    assert_eq!(num(&report, "emulator_503"), 0.0, "{report}");
    assert_eq!(num(&report, "succeeded"), 300.0, "{report}");
    assert_eq!(num(&report, "results_stored"), 300.0, "{report}");
    assert_eq!(
        num(&report, "emulator_requests"),
        300.0,
        "no request was repeated"
    );
    // (300 - 50) / 20 = 12.5 s at the least; the shared bucket leaves at its rate.
    let ratio = num(&report, "ratio");
    assert!(
        (1.0..=1.02).contains(&ratio),
        "wall time {ratio} x the minimum: {report}"
    );
}

#[test]
fn four_processes_with_their_own_buckets_overrun_the_portal() {
    let _one = one_at_a_time();
    let mut args = FLEET.to_vec();
    args.extend(["--store", "memory"]);
    let report = run_fleet(&args);
    eprintln!("fleet (memory): {report}");
    // Each process believes it owns the whole bucket: the portal refuses the excess.
    assert!(num(&report, "emulator_503") >= 50.0, "{report}");
}

#[test]
fn an_oauth_token_expiring_mid_run_is_refreshed_once_for_all_processes() {
    let _one = one_at_a_time();
    if !b24_redis::testing::require_redis_server() {
        return;
    }
    let mut args = FLEET.to_vec();
    args.push("--oauth");
    let report = run_fleet(&args);
    eprintln!("fleet (oauth): {report}");
    assert_eq!(num(&report, "emulator_token_refreshes"), 1.0, "{report}");
    assert_eq!(num(&report, "invalid_grant"), 0.0, "{report}");
    assert_eq!(num(&report, "failed"), 0.0, "{report}");
    assert_eq!(num(&report, "succeeded"), 300.0, "{report}");
    assert_eq!(num(&report, "emulator_503"), 0.0, "{report}");
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// An emulator with the standard burst at 40/s, and a client for it on `redis`.
async fn emulator(ttl: Option<Duration>) -> ServerHandle {
    let mut config = PortalConfig::new("localhost").bucket(50, 40.0);
    if let Some(ttl) = ttl {
        config = config.access_token_ttl(ttl);
    }
    Emulator::builder()
        .portal(config)
        .build()
        .serve_https()
        .await
        .unwrap()
}

fn client(server: &ServerHandle, redis: &str, policy: RetryPolicy) -> Client {
    let app = OAuthApp::new(
        server.emulator().oauth_client_id(),
        ClientSecret::new(server.emulator().oauth_client_secret()),
    )
    .token_url(server.token_url());
    let backend =
        RedisBackend::new(RedisConfig::new(redis).op_timeout(Duration::from_millis(300))).unwrap();
    Client::builder()
        .built_in_roots(false)
        .add_root_certificate_pem(server.ca_cert_pem().unwrap())
        .resolve("localhost", server.addr())
        .bucket(BucketConfig::custom(50, 40.0).unwrap())
        .retry_policy(policy)
        .call_deadline(Duration::from_secs(30))
        .oauth_app(app)
        .store_backend(Arc::new(backend))
        .build()
        .unwrap()
}

fn messages(server: &ServerHandle, n: usize) -> Vec<MessageId> {
    let portal = server.portal();
    let chat = portal.task_chat(TASK).unwrap();
    (0..n)
        .map(|i| MessageId::new(portal.add_message(chat, 1, &format!("m{i}")).unwrap()).unwrap())
        .collect()
}

/// Kills the child when dropped (a failed assertion must not leave it running).
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_refresher_killed_while_holding_the_lease_is_taken_over_when_the_lease_ends() {
    let _one = one_at_a_time();
    runtime().block_on(
        a_refresher_killed_while_holding_the_lease_is_taken_over_when_the_lease_ends_run(),
    );
}

async fn a_refresher_killed_while_holding_the_lease_is_taken_over_when_the_lease_ends_run() {
    let Some(redis) = server() else { return };
    let server = emulator(None).await;
    let emu = server.portal();
    let ids = messages(&server, 2);
    let (access, refresh) = emu.issue_tokens(1).unwrap();
    let oauth_url = format!("https://localhost:{}", server.addr().port());
    let portal = Portal::oauth(&oauth_url).unwrap();
    let lease = Duration::from_secs(3);
    let ours = client(
        &server,
        &redis.url(),
        RetryPolicy::default().refresh_lease(lease),
    );
    assert!(ours
        .install_tokens(&portal, TokenSet::new(access.clone(), refresh.clone()),)
        .await
        .unwrap()
        .is_ok());
    assert!(emu.expire_token(&access));
    // The token endpoint stalls the next refresh far past the lease.
    emu.inject(
        Fault::delay(Duration::from_secs(60))
            .on("oauth.token")
            .times(1),
    );

    // Another process calls, meets the 401, takes the lease and sends its refresh...
    let ca = std::env::temp_dir().join(format!("b24-fleet-kill-{}.pem", std::process::id()));
    std::fs::write(&ca, server.ca_cert_pem().unwrap()).unwrap();
    let child = Command::new(fleet_binary())
        .arg("--worker")
        .env("B24_FLEET_URL", &oauth_url)
        .env("B24_FLEET_ADDR", server.addr().to_string())
        .env("B24_FLEET_CA", &ca)
        .env("B24_FLEET_MESSAGES", ids[0].to_string())
        .env("B24_FLEET_BUCKET", "50:40")
        .env("B24_FLEET_START_AT", "0")
        .env("B24_FLEET_WORKER", "doomed")
        .env("B24_FLEET_REDIS", redis.url())
        .env("B24_FLEET_REFRESH_LEASE_MS", lease.as_millis().to_string())
        .env("B24_FLEET_ACCESS", access.expose_secret())
        .env("B24_FLEET_REFRESH", refresh.expose_secret())
        .env("B24_FLEET_CLIENT_ID", server.emulator().oauth_client_id())
        .env(
            "B24_FLEET_CLIENT_SECRET",
            server.emulator().oauth_client_secret(),
        )
        .env("B24_FLEET_TOKEN_URL", server.token_url())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut doomed = Killed(child);
    let waited = Instant::now();
    while emu.calls("oauth.token") == 0 {
        assert!(
            waited.elapsed() < Duration::from_secs(20),
            "no refresh was sent"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // ... and is killed while its refresh hangs: the lease stays taken, nobody ends it.
    let lease_taken = Instant::now();
    doomed.0.kill().unwrap();
    let status = doomed.0.wait().unwrap();
    assert!(!status.success(), "the refresher was killed");
    let _ = std::fs::remove_file(&ca);

    // Our call meets the 401 too, waits for the dead holder's lease to end, then
    // refreshes itself.
    let result = ours
        .task_results(&portal)
        .add_from_chat_message(ids[1])
        .await
        .unwrap();
    assert_eq!(result.message_id, Some(ids[1]));
    let after = lease_taken.elapsed();
    assert!(
        after >= lease - Duration::from_millis(500),
        "refreshed {after:?} after the lease was taken: not after it ended"
    );
    assert!(after < lease + Duration::from_secs(5), "took {after:?}");
    assert_eq!(emu.calls("oauth.token"), 2, "the dead one's and ours");
    server.shutdown().await;
}

#[test]
fn redis_stopped_mid_run_fails_calls_fast_without_sending_and_they_resume_when_it_is_back() {
    let _one = one_at_a_time();
    runtime().block_on(
        redis_stopped_mid_run_fails_calls_fast_without_sending_and_they_resume_when_it_is_back_run(
        ),
    );
}

async fn redis_stopped_mid_run_fails_calls_fast_without_sending_and_they_resume_when_it_is_back_run(
) {
    let Some(mut redis) = server() else { return };
    let server = emulator(None).await;
    let emu = server.portal();
    let ids = messages(&server, 30);
    let webhook = server.webhook_url(&emu, 1).unwrap();
    let portal = Portal::webhook(&webhook).unwrap();
    let client = client(&server, &redis.url(), RetryPolicy::default());
    let results = client.task_results(&portal);

    for id in &ids[..10] {
        results.add_from_chat_message(*id).await.unwrap();
    }
    let sent_before = emu.calls("tasks.task.result.addfromchatmessage");
    assert_eq!(sent_before, 10);

    redis.stop();
    for id in &ids[10..20] {
        let started = Instant::now();
        let err = results.add_from_chat_message(*id).await.unwrap_err();
        let took = started.elapsed();
        match &err {
            b24_hyper::Error::Core(b24_core::Error::Store(e)) => assert!(
                matches!(
                    e.kind,
                    b24_core::engine::StoreErrorKind::Unavailable
                        | b24_core::engine::StoreErrorKind::Timeout
                ),
                "{e:?}"
            ),
            other => panic!("expected a store error, got {other:?}"),
        }
        assert!(took < Duration::from_millis(1_500), "failed after {took:?}");
    }
    // Nothing was sent while the shared bucket could not be asked.
    assert_eq!(
        emu.calls("tasks.task.result.addfromchatmessage"),
        sent_before
    );

    redis.start();
    let back = Instant::now();
    let mut resumed = 0;
    for id in &ids[20..] {
        loop {
            match results.add_from_chat_message(*id).await {
                Ok(_) => {
                    resumed += 1;
                    break;
                }
                Err(b24_hyper::Error::Core(b24_core::Error::Store(_)))
                    if back.elapsed() < Duration::from_secs(10) =>
                {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("after Redis came back: {e:?}"),
            }
        }
    }
    assert_eq!(resumed, 10);
    assert_eq!(emu.rate_limited(), 0, "no 503 before, during or after");
    assert_eq!(emu.results().len(), 20);
    server.shutdown().await;
}
