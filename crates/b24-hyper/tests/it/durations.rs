//! `Duration::MAX` as a limit means "no limit": no setting, on the builder or per
//! call, may overflow a clock and panic, in the call path or in the pool's own tasks.

use std::collections::HashSet;
use std::sync::{Mutex, Once};
use std::time::Duration;

use b24_core::engine::{BucketConfig, RetryPolicy};
use b24_emulator::{Emulator, PortalConfig};
use b24_hyper::{CallOptions, ClientBuilder};
use b24_types::TaskId;

use crate::emu;

/// Names of the threads a panic happened on. A current-thread test runtime runs
/// the tasks it spawns (the pool's idle sweeper among them) on the test's own
/// thread, whose name is the test's, so a panic swallowed by such a task is still
/// seen here.
static PANICKED_ON: Mutex<Option<HashSet<String>>> = Mutex::new(None);

fn watch_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if let Some(name) = std::thread::current().name() {
                let mut seen = PANICKED_ON.lock().unwrap_or_else(|e| e.into_inner());
                seen.get_or_insert_with(HashSet::new)
                    .insert(name.to_owned());
            }
            previous(info);
        }));
    });
}

fn panicked_here() -> bool {
    let name = std::thread::current().name().unwrap_or_default().to_owned();
    PANICKED_ON
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .as_ref()
        .is_some_and(|seen| seen.contains(&name))
}

/// Two calls through a client built with `configure` (the second reuses the pooled
/// connection), with `options`, then a pause for the pool's idle task to run.
async fn calls_survive(
    configure: impl FnOnce(ClientBuilder) -> ClientBuilder,
    options: CallOptions,
) {
    watch_panics();
    let env = emu::start_with(
        Emulator::builder().portal(PortalConfig::new("localhost").bucket(50, 500.0)),
        &[],
        |b| configure(b.bucket(BucketConfig::custom(50, 500.0).unwrap())),
    )
    .await;
    let portal = env.default_webhook();
    for _ in 0..2 {
        let task = env
            .client
            .execute_with(
                &portal,
                b24_core::methods::TaskGet::for_chat(TaskId::new(51).unwrap()),
                options.clone(),
            )
            .await
            .unwrap()
            .result;
        assert_eq!(task.chat_id().map(|c| c.get()), Some(58));
    }
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert!(!panicked_here(), "a task of the client panicked");
    assert_eq!(env.server.portal().calls("tasks.task.get"), 2);
}

#[tokio::test]
async fn connect_timeout_max_means_no_limit() {
    calls_survive(|b| b.connect_timeout(Duration::MAX), CallOptions::new()).await;
}

#[tokio::test]
async fn attempt_timeout_max_means_no_limit() {
    calls_survive(|b| b.attempt_timeout(Duration::MAX), CallOptions::new()).await;
}

#[tokio::test]
async fn call_deadline_max_means_no_limit() {
    calls_survive(|b| b.call_deadline(Duration::MAX), CallOptions::new()).await;
}

#[tokio::test]
async fn pool_idle_timeout_max_means_no_limit() {
    calls_survive(|b| b.pool_idle_timeout(Duration::MAX), CallOptions::new()).await;
}

#[tokio::test]
async fn a_client_policy_deadline_of_max_means_no_limit() {
    calls_survive(
        |b| b.retry_policy(RetryPolicy::default().deadline(Duration::MAX)),
        CallOptions::new(),
    )
    .await;
}

#[tokio::test]
async fn a_per_call_policy_deadline_of_max_means_no_limit() {
    calls_survive(
        |b| b,
        CallOptions::new().policy(RetryPolicy::default().deadline(Duration::MAX)),
    )
    .await;
}

#[tokio::test]
async fn every_limit_at_max_at_once() {
    calls_survive(
        |b| {
            b.connect_timeout(Duration::MAX)
                .attempt_timeout(Duration::MAX)
                .call_deadline(Duration::MAX)
                .pool_idle_timeout(Duration::MAX)
                .idle_portal_timeout(Duration::MAX)
        },
        CallOptions::new().policy(
            RetryPolicy::default()
                .deadline(Duration::MAX)
                .in_flight_grace(Duration::MAX)
                .max_operating_wait(Duration::MAX),
        ),
    )
    .await;
}
