//! Offline events: the same result flow through `event.offline.get`, and a poller
//! stopped between reading a batch and clearing it.

use std::sync::Arc;
use std::time::Duration;

use b24_core::methods::{EventBind, EventOfflineGet};
use b24_core::types::events::names;
use b24_hyper::{
    Checkpoint, FileCheckpoint, MemoryCheckpoint, OfflineItem, OfflinePoller, PollError,
};
use b24_types::MessageId;

use crate::events_support::{event_env, oauth_client, EventEnv};
use crate::result_bot::{Outcome, ResultBot, Rule};

async fn bind_offline(env: &EventEnv) {
    let bound = env
        .client
        .execute(
            &env.portal,
            EventBind::offline(names::ON_TASK_COMMENT_ADD).unwrap(),
        )
        .await
        .unwrap();
    assert!(bound.result);
}

fn poller(env: &EventEnv, checkpoint: Arc<dyn Checkpoint>) -> OfflinePoller {
    OfflinePoller::new(env.client.clone(), env.portal.clone())
        .event(names::ON_TASK_COMMENT_ADD)
        .checkpoint(checkpoint)
}

fn results_from(env: &EventEnv, message: MessageId) -> usize {
    env.emu()
        .results()
        .iter()
        .filter(|r| r.message_id == Some(message.get()))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_offline_flow_makes_one_result_and_clears_the_queue() {
    let env = event_env().await;
    bind_offline(&env).await;
    let message = env.anna_posts("Result: offline report").await;
    assert_eq!(env.emu().offline_events().len(), 1);

    let bot = env.bot();
    let poller = poller(&env, Arc::new(MemoryCheckpoint::new()));
    let report = bot.poll_offline(&poller).await.unwrap();
    assert_eq!((report.handled, report.reread), (1, false));
    assert!(report.process_id.is_some());
    assert_eq!(bot.counts().created(), 1);
    assert_eq!(results_from(&env, message), 1);
    // The batch is cleared, and the notice the bot's own call caused was not queued
    // for the bot's app (the portal skips an app's own changes).
    assert!(env.emu().offline_events().is_empty());
    let again = bot.poll_offline(&poller).await.unwrap();
    assert_eq!(again.handled, 0);

    // Where the portal does queue it, the notice is skipped as a system message.
    env.emu().set_offline_skip_own_app(false);
    let second = env.anna_posts("Result: second report").await;
    let report = bot.poll_offline(&poller).await.unwrap();
    assert_eq!(report.handled, 1);
    let report = bot.poll_offline(&poller).await.unwrap();
    assert_eq!(report.handled, 1, "the notice of the second result");
    assert_eq!(bot.counts().system(), 1);
    assert_eq!(bot.counts().created(), 2);
    assert_eq!(results_from(&env, second), 1);
    assert_eq!(bot.poll_offline(&poller).await.unwrap().handled, 0);
    assert_eq!(env.emu().results().len(), 2);
}

/// Runs one poll whose handler makes the result and then never returns, and stops
/// it there: between `event.offline.get` and `event.offline.clear`.
async fn poll_and_stop_after_the_write(env: &EventEnv, checkpoint: Arc<dyn Checkpoint>) {
    let bot = Arc::new(env.bot());
    let poller = poller(env, checkpoint);
    let (wrote, written) = tokio::sync::oneshot::channel::<Outcome>();
    let task = tokio::spawn(async move {
        let mut wrote = Some(wrote);
        let bot = bot.clone();
        let mut handler = move |item: OfflineItem| {
            let bot = bot.clone();
            let wrote = wrote.take();
            async move {
                let payload = item.payload.unwrap();
                let outcome = bot.on_payload(&payload).await?;
                if let Some(tx) = wrote {
                    let _ = tx.send(outcome);
                }
                // Stopped here, before the batch is cleared.
                std::future::pending::<()>().await;
                Ok::<(), b24_hyper::Error>(())
            }
        };
        poller.poll_once(&mut handler).await
    });
    let outcome = tokio::time::timeout(Duration::from_secs(10), written)
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(outcome, Outcome::Created(_)), "{outcome:?}");
    task.abort();
    assert!(task.await.unwrap_err().is_cancelled());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poller_stopped_between_get_and_clear_gets_the_event_again_and_makes_no_second_result() {
    let env = event_env().await;
    bind_offline(&env).await;
    let message = env.anna_posts("Result: survive a crash").await;
    let checkpoint: Arc<dyn Checkpoint> = Arc::new(MemoryCheckpoint::new());
    poll_and_stop_after_the_write(&env, checkpoint.clone()).await;

    // The result exists, the batch is still reserved, its id is in the checkpoint.
    assert_eq!(results_from(&env, message), 1);
    let rows = env.emu().offline_events();
    assert_eq!(rows.len(), 1);
    assert!(!rows[0].process_id.is_empty());
    assert_eq!(
        checkpoint.load().unwrap().map(|p| p.as_str().to_owned()),
        Some(rows[0].process_id.clone())
    );

    // A new poller (and a new bot, remembering nothing) reads the batch again.
    let bot = env.bot();
    let report = bot
        .poll_offline(&poller(&env, checkpoint.clone()))
        .await
        .unwrap();
    assert_eq!((report.handled, report.reread), (1, true));
    assert_eq!(bot.counts().already(), 1);
    assert_eq!(bot.counts().created(), 0);
    assert_eq!(results_from(&env, message), 1);
    assert_eq!(env.emu().results().len(), 1);
    assert!(env.emu().offline_events().is_empty());
    assert_eq!(checkpoint.load().unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_process_reads_the_batch_again_from_a_file_checkpoint() {
    let path = std::env::temp_dir().join(format!(
        "b24-result-bot-{}-{}.checkpoint",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    let env = event_env().await;
    bind_offline(&env).await;
    let message = env.anna_posts("Result: after a restart").await;
    poll_and_stop_after_the_write(&env, Arc::new(FileCheckpoint::new(&path))).await;
    assert!(path.exists());

    // "The next process": a new client, token pair, bot and poller; only the file
    // is shared with the one that died.
    let (client, portal) = oauth_client(&env.server);
    let bot = ResultBot::new(client.clone(), portal.clone(), Rule::prefix("Result:"));
    let poller = OfflinePoller::new(client, portal)
        .event(names::ON_TASK_COMMENT_ADD)
        .checkpoint(Arc::new(FileCheckpoint::new(&path)));
    let report = bot.poll_offline(&poller).await.unwrap();
    assert_eq!((report.handled, report.reread), (1, true));
    assert_eq!(bot.counts().already(), 1);
    assert_eq!(results_from(&env, message), 1);
    assert!(env.emu().offline_events().is_empty());
    assert!(!path.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_reserved_before_its_id_was_saved_is_adopted() {
    let env = event_env().await;
    bind_offline(&env).await;
    let message = env.anna_posts("Result: orphaned batch").await;
    // A poller that died with the answer in flight: the batch is reserved, nobody
    // knows its process id.
    let lost = env
        .client
        .execute(&env.portal, EventOfflineGet::reserve())
        .await
        .unwrap()
        .result;
    assert_eq!(lost.events.len(), 1);
    let bot = env.bot();
    let poller = poller(&env, Arc::new(MemoryCheckpoint::new()));
    assert_eq!(bot.poll_offline(&poller).await.unwrap().handled, 0);
    let adopted = poller
        .adopt_reserved(&mut |item: OfflineItem| bot.on_offline(item))
        .await
        .unwrap();
    assert_eq!(adopted, 1);
    assert_eq!(bot.counts().created(), 1);
    assert_eq!(results_from(&env, message), 1);
    assert!(env.emu().offline_events().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_extended_license_the_poll_fails_with_the_portal_code() {
    let env = event_env().await;
    bind_offline(&env).await;
    env.anna_posts("Result: x").await;
    env.emu().set_offline_extended(false);
    let bot = env.bot();
    let err = bot
        .poll_offline(&poller(&env, Arc::new(MemoryCheckpoint::new())))
        .await
        .unwrap_err();
    match err {
        PollError::Call(e) => assert_eq!(
            e.code().map(b24_types::ErrorCode::as_str),
            Some("WRONG_LICENSE")
        ),
        other => panic!("{other:?}"),
    }
    // Nothing was taken from the queue.
    assert_eq!(env.emu().offline_events().len(), 1);
    assert!(env.emu().offline_events()[0].process_id.is_empty());
}
