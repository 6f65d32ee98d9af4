//! The in-flight grace, end to end: a key-protected write whose attempt timed out
//! while the portal was still running it is sent again only once that run has
//! surely finished, so the portal replays its stored answer instead of writing twice.
//!
//! Two concurrent requests with the same `Idempotency-Key` may both run: the
//! portal stores a keyed answer only when the request that made it has finished.
//! The emulator's `Fault::slow` reproduces that: the call is accepted at once (its
//! key looked up and not found), then its write is applied and its answer stored
//! later, with the portal free to handle a repeat in between.

use std::time::{Duration, Instant};

use b24_core::engine::{BucketConfig, RetryPolicy};
use b24_core::methods::TaskResultAddFromChatMessage;
use b24_core::Reply;
use b24_emulator::{Emulator, Fault, IdempotencyKeys, PortalConfig, RecordedRequest};
use b24_hyper::CallOptions;
use b24_types::{MessageId, TaskId, TaskResult};

use crate::emu::{self, Env};

const METHOD: &str = "tasks.task.result.addfromchatmessage";
/// The client gives up on an attempt after this long…
const ATTEMPT_TIMEOUT: Duration = Duration::from_millis(150);
/// …while the portal takes this long to apply the write.
const PORTAL_TAKES: Duration = Duration::from_millis(500);
/// The chat of the seeded task 51.
const TASK_CHAT: u64 = 58;

struct Run {
    env: Env,
    message: u64,
    reply: Reply<TaskResult>,
    took: Duration,
}

impl Run {
    /// The attempts of the write, as the portal received them.
    fn attempts(&self) -> Vec<RecordedRequest> {
        self.env
            .server
            .portal()
            .requests()
            .into_iter()
            .filter(|r| r.method == METHOD)
            .collect()
    }

    /// The results stored for the message.
    fn results_for_message(&self) -> Vec<b24_emulator::StoredResult> {
        self.env
            .server
            .portal()
            .results()
            .into_iter()
            .filter(|r| r.message_id == Some(self.message))
            .collect()
    }
}

/// Makes a message of task 51's chat its result, with the portal slow to apply the
/// first attempt and the client's attempt timeout shorter than that, under
/// `in_flight_grace(grace)`.
async fn slow_write(grace: Duration) -> Run {
    // A portal that honours keys as documented.
    let env = emu::start_with(
        Emulator::builder()
            .portal(PortalConfig::new("localhost").bucket(50, 500.0))
            .idempotency_keys(IdempotencyKeys::Honoured),
        &[],
        |b| {
            b.bucket(BucketConfig::custom(50, 500.0).unwrap())
                .attempt_timeout(ATTEMPT_TIMEOUT)
        },
    )
    .await;
    let portal = env.default_webhook();
    // A keyed write whose answer echoes its key shows the client that keys count.
    env.client
        .task_results(&portal)
        .add(TaskId::new(51).unwrap(), "warm-up")
        .await
        .unwrap();
    // Two reads at once leave two open connections in the pool, so neither the
    // first attempt nor the repeat spends its short timeout on a TLS handshake.
    let (a, b) = tokio::join!(
        env.client.task_chat_id(&portal, TaskId::new(51).unwrap()),
        env.client.task_chat_id(&portal, TaskId::new(51).unwrap()),
    );
    assert_eq!(a.unwrap().get(), TASK_CHAT);
    assert_eq!(b.unwrap().get(), TASK_CHAT);

    let emu_portal = env.server.portal();
    let message = emu_portal.add_message(TASK_CHAT, 1, "Signed off").unwrap();
    emu_portal.inject(Fault::slow(PORTAL_TAKES).on(METHOD));
    let policy = RetryPolicy::default()
        .backoff(Duration::from_millis(10), Duration::from_millis(20))
        .in_flight_grace(grace);
    let started = Instant::now();
    let reply = env
        .client
        .execute_with(
            &portal,
            TaskResultAddFromChatMessage::new(MessageId::new(message).unwrap()),
            CallOptions::new().policy(policy),
        )
        .await
        .unwrap();
    let took = started.elapsed();
    assert_eq!(reply.result.message_id.map(|m| m.get()), Some(message));
    Run {
        env,
        message,
        reply,
        took,
    }
}

/// The two attempts carried one and the same key; returns the seconds between them.
fn same_key_twice(run: &Run) -> f64 {
    let attempts = run.attempts();
    assert_eq!(attempts.len(), 2, "{attempts:#?}");
    let first = attempts[0].header("idempotency-key").expect("keyed");
    let second = attempts[1].header("idempotency-key").expect("keyed");
    assert!(!first.is_empty());
    assert_eq!(first, second);
    attempts[1].at - attempts[0].at
}

#[tokio::test]
async fn a_timed_out_write_is_repeated_after_the_grace_and_replayed() {
    let grace = Duration::from_secs(1);
    let run = slow_write(grace).await;

    // The first attempt timed out while the portal was still applying it; the repeat
    // waited out the grace, by when the portal had stored its answer.
    let gap = same_key_twice(&run);
    assert!(
        gap >= 0.95,
        "repeat sent {gap:.3} s after the first attempt"
    );
    assert!(run.reply.replayed, "the repeat got the stored answer");
    assert!(
        run.took >= grace - Duration::from_millis(50),
        "{:?}",
        run.took
    );
    assert!(run.took < Duration::from_secs(3), "{:?}", run.took);

    // The write ran once.
    let results = run.results_for_message();
    assert_eq!(results.len(), 1, "{results:#?}");
    assert_eq!(run.reply.result.id.get(), results[0].id);
    assert_eq!(run.env.server.portal().calls(METHOD), 2);
}

#[tokio::test]
async fn without_the_grace_the_repeat_overlaps_the_first_run_and_writes_twice() {
    // The control for the test above: the same call with no grace. The repeat
    // arrives while the first attempt is still running on the portal, finds no
    // stored answer, and runs as well: two results for one message.
    let run = slow_write(Duration::ZERO).await;

    let gap = same_key_twice(&run);
    assert!(
        gap < PORTAL_TAKES.as_secs_f64(),
        "the repeat came {gap:.3} s after the first attempt, not while it ran"
    );
    assert!(!run.reply.replayed, "the repeat ran afresh");
    assert!(run.took < PORTAL_TAKES, "{:?}", run.took);

    // The first attempt's run goes on after the client stopped waiting for it and
    // stores a second result once the portal has taken its time.
    let until = Instant::now() + Duration::from_secs(2);
    while run.results_for_message().len() < 2 && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let results = run.results_for_message();
    assert_eq!(results.len(), 2, "{results:#?}");
    assert_ne!(results[0].id, results[1].id);
    assert!(results.iter().any(|r| r.id == run.reply.result.id.get()));
    assert_eq!(run.env.server.portal().calls(METHOD), 2);
}
