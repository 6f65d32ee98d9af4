//! `Client::bulk` against the emulator over HTTPS: request counts, pacing, outcomes
//! mapped to their inputs, a REST 3.0 batch stopping at a command, a classic batch's
//! partial failure, chains, body bounds, budgets, cancellation.

use std::future::poll_fn;
use std::pin::Pin;
use std::time::{Duration, Instant};

use b24_core::bulk::{Bulk, BulkConfig, BulkError, Completed, NotRun, Outcome};
use b24_core::engine::{BucketConfig, BudgetConfig};
use b24_core::methods::{
    DialogId, ImMessageAdd, RawCall, TaskResultAdd, TaskResultAddFromChatMessage,
};
use b24_core::{Api, Method, Repeat};
use b24_emulator::{Emulator, Fault, PortalConfig};
use b24_hyper::BulkStream;
use b24_types::{ChatId, ErrorCode, MessageId, TaskId};
use serde_json::{json, Map, Value};

use crate::emu;

async fn next<M: Method>(stream: &mut BulkStream<M>) -> Option<Completed<M, M::Output>> {
    poll_fn(|cx| Pin::new(&mut *stream).poll_next_outcome(cx)).await
}

async fn collect<M: Method>(
    mut stream: BulkStream<M>,
) -> (Vec<Completed<M, M::Output>>, BulkStream<M>) {
    let mut out = Vec::new();
    while let Some(c) = next(&mut stream).await {
        out.push(c);
    }
    (out, stream)
}

fn add_messages(portal: &b24_emulator::EmulatedPortal, chat: u64, n: usize) -> Vec<u64> {
    (0..n)
        .map(|i| {
            portal
                .add_message(chat, 1, &format!("work item {i}"))
                .unwrap()
        })
        .collect()
}

fn from_message(id: u64) -> TaskResultAddFromChatMessage {
    TaskResultAddFromChatMessage::new(MessageId::new(id).unwrap())
}

/// 1,000 `addfromchatmessage` commands from one call: 20 requests, 1,000 outcomes
/// mapped to their inputs, no 503, and the wall time of the request bucket's
/// schedule.
///
/// Scaled bucket, to keep the test short: the emulated portal's bucket holds 4
/// requests and drains 1.5 a second (a real standard plan: 50 and 2 a second); the
/// client's limiter matches it with the default safety margin of 2, so 2 requests
/// leave at once and one every 666.7 ms after. The least time the limiter allows
/// for 20 requests is therefore (20 - 2) / 1.5 = 12 s; the run must take at most
/// 1.02 times that (12.24 s), the slack covering the last batch's own round trip.
#[tokio::test]
async fn a_thousand_results_from_chat_messages_take_twenty_requests_at_the_buckets_pace() {
    let env = emu::start_with(
        Emulator::builder().portal(PortalConfig::new("localhost").bucket(4, 1.5)),
        &[],
        |b| b.bucket(BucketConfig::custom(4, 1.5).unwrap()),
    )
    .await;
    let portal = env.default_webhook();
    let emu_portal = env.server.portal();
    let messages = add_messages(&emu_portal, 58, 1000);
    let before = emu_portal.results().len();

    let started = Instant::now();
    let stream = env
        .client
        .bulk(&portal, messages.iter().map(|id| from_message(*id)))
        .unwrap();
    let (outcomes, stream) = collect(stream).await;
    let elapsed = started.elapsed();

    assert_eq!(outcomes.len(), 1000);
    for (i, c) in outcomes.iter().enumerate() {
        assert_eq!(c.id.index(), i);
        assert_eq!(c.command.message_id().get(), messages[i]);
        match &c.outcome {
            Outcome::Done(result) => {
                assert_eq!(result.message_id.map(MessageId::get), Some(messages[i]));
                assert_eq!(result.task_id.map(TaskId::get), Some(51));
            }
            other => panic!("command {i}: {other:?}"),
        }
    }
    assert_eq!(emu_portal.calls("batch"), 20);
    assert_eq!(emu_portal.requests().len(), 20);
    assert_eq!(emu_portal.rate_limited(), 0);
    assert_eq!(emu_portal.results().len(), before + 1000);
    let progress = stream.progress();
    assert_eq!(progress.plan.batches_sent, 20);
    assert_eq!(progress.plan.done, 1000);
    assert!(progress.waits >= 18, "{progress:?}");

    let minimum = Duration::from_secs(12);
    println!("1000 commands, 20 requests: {elapsed:?} (limiter minimum {minimum:?})");
    assert!(
        elapsed >= minimum - Duration::from_millis(50),
        "{elapsed:?}"
    );
    assert!(
        elapsed.as_secs_f64() <= minimum.as_secs_f64() * 1.02,
        "{elapsed:?} is more than 1.02 x {minimum:?}"
    );
}

/// 50 commands, the seventh turning a message of a task the user cannot see.
fn seventh_fails(portal: &b24_emulator::EmulatedPortal) -> Vec<TaskResultAddFromChatMessage> {
    let mut ids = add_messages(portal, 58, 50);
    ids[6] = 337; // chat 59: task 52, which user 1 has no access to
    ids.into_iter().map(from_message).collect()
}

#[tokio::test]
async fn a_rest3_batch_stopped_at_its_seventh_command_reports_each_and_runs_the_rest_next() {
    let env = emu::start_with(
        Emulator::builder().portal(
            PortalConfig::new("localhost")
                .bucket(50, 500.0)
                .v3_batch_error_progress(true),
        ),
        &[],
        |b| b.bucket(BucketConfig::custom(50, 500.0).unwrap()),
    )
    .await;
    let portal = env.default_webhook();
    let emu_portal = env.server.portal();
    let commands = seventh_fails(&emu_portal);
    let (outcomes, _) = collect(env.client.bulk(&portal, commands).unwrap()).await;

    assert_eq!(outcomes.len(), 50);
    for c in &outcomes[..6] {
        assert!(c.outcome.is_done(), "{:?}", c.outcome);
    }
    match &outcomes[6].outcome {
        Outcome::Failed(b24_core::Error::Api(e)) => {
            assert_eq!(e.status, 403);
            assert_eq!(e.code, ErrorCode::V3AccessDenied);
        }
        other => panic!("{other:?}"),
    }
    for c in &outcomes[7..] {
        assert!(c.outcome.is_done(), "{:?}", c.outcome);
    }
    // The first batch stopped at the seventh; commands 8 to 50 went in a second one.
    assert_eq!(emu_portal.calls("batch"), 2);
    assert_eq!(emu_portal.results().len(), 49);
}

#[tokio::test]
async fn without_a_located_failure_a_batch_of_writes_is_reported_unknown_and_not_repeated() {
    // The emulator answers as the server does: the failing command's error alone.
    let env = emu::start().await;
    let portal = env.default_webhook();
    let emu_portal = env.server.portal();
    let commands = seventh_fails(&emu_portal);
    let (outcomes, _) = collect(env.client.bulk(&portal, commands).unwrap()).await;

    assert_eq!(outcomes.len(), 50);
    for c in &outcomes {
        match &c.outcome {
            Outcome::Unknown(e) => assert_eq!(e.code(), Some(&ErrorCode::V3AccessDenied)),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(emu_portal.calls("batch"), 1);
    // Why "unknown": the six before the failing one did run.
    assert_eq!(emu_portal.results().len(), 6);
}

#[tokio::test]
async fn reads_in_a_failed_rest3_batch_are_split_until_the_failing_one_is_alone() {
    let env = emu::start().await;
    let portal = env.default_webhook();
    let emu_portal = env.server.portal();
    let mut plan = Bulk::new();
    for i in 0..10 {
        let id = if i == 7 { 999 } else { 51 };
        let get = RawCall::new("tasks.task.get", Api::V3)
            .unwrap()
            .with_param("id", json!(id))
            .with_repeat(Repeat::Safe);
        plan.push(get).unwrap();
    }
    let (outcomes, _) = collect(env.client.bulk_with(&portal, plan)).await;
    for (i, c) in outcomes.iter().enumerate() {
        if i == 7 {
            assert!(
                matches!(&c.outcome, Outcome::Failed(e) if e.code() == Some(&ErrorCode::from_wire("BITRIX_REST_V3_EXCEPTION_ENTITYNOTFOUNDEXCEPTION"))),
                "{:?}",
                c.outcome
            );
        } else {
            assert_eq!(c.outcome.done().unwrap()["item"]["id"], json!(51));
        }
    }
    assert!(
        emu_portal.calls("batch") <= 7,
        "{}",
        emu_portal.calls("batch")
    );
}

fn message(chat: u64, text: &str) -> ImMessageAdd {
    ImMessageAdd::new(DialogId::chat(ChatId::new(chat).unwrap()), text).unwrap()
}

#[tokio::test]
async fn a_classic_batch_with_one_failing_command_keeps_the_others_results() {
    let env = emu::start().await;
    let portal = env.default_webhook();
    let emu_portal = env.server.portal();
    let commands = vec![
        message(58, "one"),
        message(999, "nowhere"),
        message(58, "three"),
    ];
    let (outcomes, _) = collect(env.client.bulk(&portal, commands).unwrap()).await;
    let texts: Vec<(u64, String)> = emu_portal
        .messages(58)
        .into_iter()
        .map(|m| (m.id, m.text))
        .collect();
    for i in [0, 2] {
        let Outcome::Done(id) = &outcomes[i].outcome else {
            panic!("{:?}", outcomes[i].outcome)
        };
        assert!(texts.contains(&(id.get(), outcomes[i].command.message().to_owned())));
    }
    match &outcomes[1].outcome {
        Outcome::Failed(b24_core::Error::Api(e)) => {
            assert_eq!(e.code, ErrorCode::from_wire("ACCESS_ERROR"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(emu_portal.calls("batch"), 1);

    // The shortcut runs one classic batch as it is.
    let batch = b24_core::methods::ClassicBatch::new()
        .push(
            "a",
            b24_core::methods::ClassicCommand::from_method(&message(58, "x")).unwrap(),
        )
        .unwrap();
    let reply = env.client.classic_batch(&portal, batch).await.unwrap();
    assert!(reply.result.decode::<MessageId>("a").is_ok());
}

fn v3_call(method: &str, query: Value) -> RawCall {
    let Value::Object(map) = query else {
        panic!("an object")
    };
    RawCall::new(method, Api::V3).unwrap().with_params(map)
}

#[tokio::test]
async fn a_ref_chain_longer_than_a_batch_is_refused_and_a_shorter_one_runs_whole() {
    let env = emu::start().await;
    let portal = env.default_webhook();
    let emu_portal = env.server.portal();

    let mut plan: Bulk<RawCall> = Bulk::new();
    plan.push_as("task", v3_call("tasks.task.get", json!({"id": 51})))
        .unwrap();
    for i in 0..49 {
        let add = v3_call(
            "tasks.task.result.add",
            json!({"fields": {"taskId": {"$ref": "task.id"}, "text": format!("r{i}")}}),
        );
        plan.push_as(format!("r{i}"), add).unwrap();
    }
    let too_long = plan.push(v3_call(
        "tasks.task.result.add",
        json!({"fields": {"taskId": {"$ref": "task.id"}, "text": "one too many"}}),
    ));
    match too_long {
        Err(BulkError::ChainTooLong { len, max, .. }) => assert_eq!((len, max), (51, 50)),
        other => panic!("{other:?}"),
    }
    assert_eq!(emu_portal.calls("batch"), 0);

    let (outcomes, _) = collect(env.client.bulk_with(&portal, plan)).await;
    assert_eq!(outcomes.len(), 50);
    assert!(outcomes.iter().all(|c| c.outcome.is_done()));
    assert_eq!(
        outcomes[1].outcome.done().unwrap()["item"]["taskId"],
        json!(51)
    );
    assert_eq!(emu_portal.calls("batch"), 1);
    assert_eq!(emu_portal.results().len(), 49);
}

#[tokio::test]
async fn a_body_bound_splits_a_batch_of_large_texts_into_several() {
    let env = emu::start().await;
    let portal = env.default_webhook();
    let emu_portal = env.server.portal();
    let bound = 128 * 1024;
    let text = "long text ".repeat(4 * 1024); // 40 KiB
    let mut plan = Bulk::with_config(BulkConfig::new().max_body_bytes(bound));
    for _ in 0..10 {
        plan.push(TaskResultAdd::new(TaskId::new(51).unwrap(), text.clone()).unwrap())
            .unwrap();
    }
    let (outcomes, _) = collect(env.client.bulk_with(&portal, plan)).await;
    assert!(outcomes.iter().all(|c| c.outcome.is_done()));
    let requests = emu_portal.requests();
    assert_eq!(requests.len(), 4);
    for r in &requests {
        assert!(r.body.len() <= bound, "{}", r.body.len());
    }
    assert_eq!(emu_portal.results().len(), 10);
}

#[tokio::test]
async fn a_method_near_its_budget_is_held_out_while_others_go_on() {
    // Each im.message.add costs 9 s of the 480 s budget; the client spreads nothing
    // (slow_from 1.0), so only the planner's hold keeps it from the 429.
    let env = emu::start_with(
        Emulator::builder().portal(
            PortalConfig::new("localhost")
                .bucket(50, 500.0)
                .operating_limit(480.0)
                .operating_cost("im.message.add", 9.0),
        ),
        &[],
        |b| {
            b.bucket(BucketConfig::custom(50, 500.0).unwrap()).budget(
                BudgetConfig::default()
                    .limit(std::time::Duration::from_secs(480))
                    .slow_from(1.0),
            )
        },
    )
    .await;
    let portal = env.default_webhook();
    let emu_portal = env.server.portal();
    let mut plan: Bulk<RawCall> = Bulk::new();
    let raw = |m: &dyn Fn() -> Map<String, Value>, name: &str, repeat| {
        RawCall::new(name, Api::Classic)
            .unwrap()
            .with_params(m())
            .with_repeat(repeat)
    };
    for i in 0..60 {
        let params = || {
            let mut m = Map::new();
            m.insert("DIALOG_ID".into(), json!("chat58"));
            m.insert("MESSAGE".into(), json!(format!("m{i}")));
            m
        };
        plan.push(raw(&params, "im.message.add", Repeat::Unsafe))
            .unwrap();
    }
    for _ in 0..5 {
        let params = || {
            let mut m = Map::new();
            m.insert("DIALOG_ID".into(), json!("chat58"));
            m
        };
        plan.push(raw(&params, "im.dialog.messages.get", Repeat::Safe))
            .unwrap();
    }
    let mut stream = env.client.bulk_with(&portal, plan).in_completion_order();
    let mut seen = Vec::new();
    // The reads go beside the first 50 messages (the first answer for
    // im.message.add must tell its cost before more of it go); then 2 more fit
    // (450 s, then 468 s of the 475 s hold line).
    while seen.len() < 57 {
        seen.push(next(&mut stream).await.unwrap());
    }
    assert!(seen.iter().all(|c| c.outcome.is_done()));
    let adds = seen
        .iter()
        .filter(|c| c.command.name() == "im.message.add")
        .count();
    assert_eq!(adds, 52);
    // The other 8 wait for the budget's reset instead of meeting OPERATION_TIME_LIMIT.
    assert!(
        tokio::time::timeout(Duration::from_millis(300), next(&mut stream))
            .await
            .is_err()
    );
    let progress = stream.progress();
    assert_eq!(progress.plan.pending, 8);
    assert!(progress.plan.holds >= 1);
    assert_eq!(emu_portal.calls("batch"), 3);
    stream.cancel();
    let (rest, stream) = collect(stream).await;
    assert_eq!(rest.len(), 8);
    assert!(rest
        .iter()
        .all(|c| matches!(c.outcome, Outcome::NotRun(NotRun::Cancelled))));
    assert_eq!(stream.progress().plan.failed, 0);
    assert_eq!(stream.progress().plan.requeued, 0);
    assert_eq!(emu_portal.calls("batch"), 3);
}

#[tokio::test]
async fn cancelling_reports_the_batch_in_flight_in_full_and_sends_nothing_more() {
    let env = emu::start().await;
    let portal = env.default_webhook();
    let emu_portal = env.server.portal();
    emu_portal.inject(Fault::delay(Duration::from_millis(300)).on("batch"));
    let commands: Vec<ImMessageAdd> = (0..200).map(|i| message(58, &format!("c{i}"))).collect();
    let stream = env
        .client
        .bulk(&portal, commands)
        .unwrap()
        .max_in_flight(50);
    let cancel = stream.cancel_handle();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        cancel.cancel();
    });
    let (outcomes, stream) = collect(stream).await;
    assert_eq!(outcomes.len(), 200);
    assert!(outcomes[..50].iter().all(|c| c.outcome.is_done()));
    assert!(outcomes[50..]
        .iter()
        .all(|c| matches!(c.outcome, Outcome::NotRun(NotRun::Cancelled))));
    assert_eq!(emu_portal.calls("batch"), 1);
    assert_eq!(stream.progress().plan.batches_done, 1);
}
