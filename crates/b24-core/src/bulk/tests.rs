//! Planner tests: packing, chains, body bounds, APIs, retry safety, outcome mapping,
//! budgets; properties over random runs.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::sync::Arc;

use b24_types::{ApiError, ErrorCode, ErrorShape, Time};
use proptest::prelude::*;
use serde_json::value::RawValue;
use serde_json::{json, Map, Value};

use super::*;
use crate::methods::RawCall;

fn now() -> Timestamp {
    Timestamp::from_unix_secs(1_777_530_000)
}

fn params(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

fn v3(method: &str, query: Value) -> RawCall {
    RawCall::new(method, Api::V3)
        .unwrap()
        .with_params(params(query))
}

fn add(n: u64) -> RawCall {
    v3(
        "tasks.task.result.addfromchatmessage",
        json!({"fields": {"messageId": n}}),
    )
}

fn get(id: u64) -> RawCall {
    v3("tasks.task.get", json!({"id": id})).with_repeat(Repeat::Safe)
}

fn classic(method: &str, query: Value) -> RawCall {
    RawCall::new(method, Api::Classic)
        .unwrap()
        .with_params(params(query))
}

fn message(text: &str) -> RawCall {
    classic(
        "im.message.add",
        json!({"DIALOG_ID": "chat58", "MESSAGE": text}),
    )
}

fn raw(v: &Value) -> Box<RawValue> {
    serde_json::value::to_raw_value(v).unwrap()
}

fn send(bulk: &mut Bulk<RawCall>) -> PlannedBatch {
    match bulk.next_step(now()) {
        Step::Send(batch) => batch,
        other => panic!("expected a batch, got {other:?}"),
    }
}

fn v3_commands(batch: &PlannedBatch) -> &[crate::methods::BatchCommand] {
    match &batch.inner {
        Inner::V3(b) => b.commands(),
        Inner::Classic(_) => panic!("a classic batch"),
    }
}

fn classic_commands(batch: &PlannedBatch) -> &[(String, crate::methods::ClassicCommand)] {
    match &batch.inner {
        Inner::Classic(b) => b.commands(),
        Inner::V3(_) => panic!("a REST 3.0 batch"),
    }
}

/// Answers every command of a REST 3.0 batch with `{"item":{"n":<its position>,..}}`.
fn v3_success(batch: &PlannedBatch) -> Result<Reply<BatchOutput>, Error> {
    let items = v3_commands(batch)
        .iter()
        .map(|c| raw(&json!({"item": {"id": 100, "as": c.alias(), "query": c.query()}})))
        .collect();
    Ok(Reply::new(BatchOutput::V3(items), None, false))
}

fn v3_error(status: u16, code: &str) -> Error {
    Error::Api(Box::new(ApiError::new(
        status,
        ErrorCode::from_wire(code),
        "m",
        ErrorShape::V3,
    )))
}

fn complete_all(bulk: &mut Bulk<RawCall>, batch: &PlannedBatch) {
    let answer = match &batch.inner {
        Inner::V3(_) => v3_success(batch),
        Inner::Classic(b) => {
            let mut result = ClassicBatchResult::default();
            for (key, _) in b.commands() {
                result.results.insert(key.clone(), json!(7));
            }
            Ok(Reply::new(BatchOutput::Classic(result), None, false))
        }
    };
    bulk.complete(batch.id(), answer, None, now());
}

fn drain(bulk: &mut Bulk<RawCall>) -> Vec<Completed<RawCall, Value>> {
    std::iter::from_fn(|| bulk.next_outcome()).collect()
}

#[test]
fn a_thousand_commands_make_twenty_batches_of_fifty() {
    let mut bulk = Bulk::new();
    for n in 1..=1000 {
        bulk.push(add(n)).unwrap();
    }
    let mut sizes = Vec::new();
    loop {
        match bulk.next_step(now()) {
            Step::Send(batch) => {
                sizes.push(batch.len());
                complete_all(&mut bulk, &batch);
            }
            Step::Done => break,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(sizes, vec![50; 20]);
    let outcomes = drain(&mut bulk);
    assert_eq!(outcomes.len(), 1000);
    for (i, c) in outcomes.iter().enumerate() {
        assert_eq!(c.id.index(), i);
        assert!(c.outcome.is_done());
        assert_eq!(
            crate::Method::params(&c.command).unwrap()["fields"]["messageId"],
            json!(i as u64 + 1)
        );
    }
    assert!(bulk.is_finished());
    assert_eq!(bulk.progress().batches_sent, 20);
}

#[test]
fn the_cap_on_commands_in_flight_holds_further_batches() {
    let mut bulk = Bulk::with_config(BulkConfig::new().max_in_flight(60));
    for n in 1..=120 {
        bulk.push(add(n)).unwrap();
    }
    let first = send(&mut bulk);
    assert_eq!(first.len(), 50);
    let second = send(&mut bulk);
    assert_eq!(second.len(), 10);
    assert!(matches!(bulk.next_step(now()), Step::Idle));
    assert_eq!(bulk.progress().in_flight, 60);
    complete_all(&mut bulk, &first);
    assert_eq!(send(&mut bulk).len(), 50);
}

#[test]
fn a_chain_longer_than_a_batch_is_refused_never_split() {
    let mut bulk = Bulk::new();
    bulk.push_as("c0", get(1)).unwrap();
    for i in 1..50 {
        let query = json!({"id": {"$ref": format!("c{}.item.id", i - 1)}});
        bulk.push_as(format!("c{i}"), v3("tasks.task.get", query))
            .unwrap();
    }
    let err = bulk
        .push_as(
            "c50",
            v3("tasks.task.get", json!({"id": {"$ref": "c49.item.id"}})),
        )
        .unwrap_err();
    assert!(
        matches!(
            err,
            BulkError::ChainTooLong {
                index: 50,
                len: 51,
                max: 50
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("at most 50"));
    // The refused command was not added; the chain of 50 goes in one batch.
    assert_eq!(bulk.len(), 50);
    bulk.push(get(9)).unwrap();
    assert_eq!(send(&mut bulk).len(), 50);
}

#[test]
fn references_must_name_an_earlier_key_of_the_same_api() {
    let mut bulk = Bulk::new();
    bulk.push_as("task", get(51)).unwrap();
    bulk.push_as("msg", message("hi")).unwrap();
    let positional = bulk.push(v3("tasks.task.get", json!({"id": {"$ref": "0.item.id"}})));
    assert!(matches!(
        positional,
        Err(BulkError::UnknownReference { index: 2, ref reference }) if reference == "0"
    ));
    let cross = bulk.push(classic(
        "im.message.add",
        json!({"MESSAGE": "$result[task][id]"}),
    ));
    assert!(matches!(cross, Err(BulkError::CrossApiReference { .. })));
    assert!(matches!(
        bulk.push_as("task", get(1)),
        Err(BulkError::Key {
            reason: "is already used",
            ..
        })
    ));
    assert!(matches!(
        bulk.push_as("_3", get(1)),
        Err(BulkError::Key { .. })
    ));
    assert!(matches!(
        bulk.push(v3("batch", json!({}))),
        Err(BulkError::Invalid { .. })
    ));
    assert_eq!(bulk.len(), 2);
}

#[test]
fn a_body_bound_splits_large_texts_into_several_batches() {
    let bound = 128 * 1024;
    let mut bulk = Bulk::with_config(BulkConfig::new().max_body_bytes(bound));
    let text = "x".repeat(40 * 1024);
    for _ in 0..10 {
        bulk.push(v3(
            "tasks.task.result.add",
            json!({"fields": {"taskId": 51, "text": text}}),
        ))
        .unwrap();
    }
    let mut sizes = Vec::new();
    while let Step::Send(batch) = bulk.next_step(now()) {
        let body = batch.body_json().unwrap();
        assert!(body.len() + ENVELOPE_BYTES / 2 <= bound, "{}", body.len());
        sizes.push(batch.len());
        complete_all(&mut bulk, &batch);
    }
    assert_eq!(sizes, vec![3, 3, 3, 1]);
    let huge = "y".repeat(bound);
    let err = bulk
        .push(v3(
            "tasks.task.result.add",
            json!({"fields": {"text": huge}}),
        ))
        .unwrap_err();
    assert!(matches!(
        err,
        BulkError::Invalid { .. } | BulkError::CommandTooLarge { .. }
    ));
}

#[test]
fn each_api_gets_its_own_batches() {
    let mut bulk = Bulk::new();
    for i in 0..6 {
        if i % 2 == 0 {
            bulk.push(add(i + 1)).unwrap();
        } else {
            bulk.push(message("m")).unwrap();
        }
    }
    let first = send(&mut bulk);
    assert_eq!(first.api(), Api::V3);
    assert_eq!(first.len(), 3);
    let second = send(&mut bulk);
    assert_eq!(second.api(), Api::Classic);
    assert_eq!(second.len(), 3);
    assert!(!second.halts());
}

#[test]
fn a_batch_is_safe_to_repeat_only_when_every_command_is() {
    let mut reads = Bulk::new();
    reads.push(get(1)).unwrap();
    reads.push(get(2)).unwrap();
    let batch = send(&mut reads);
    assert_eq!(batch.repeat(), Repeat::Safe);
    assert!(!batch.honours_idempotency_key());

    let mut mixed = Bulk::new();
    mixed.push(get(1)).unwrap();
    mixed.push(add(2)).unwrap();
    let batch = send(&mut mixed);
    assert_eq!(batch.repeat(), Repeat::Unsafe);
    assert!(!batch.honours_idempotency_key());
    // The platform meters a REST 3.0 batch as the one call `batch`.
    assert_eq!(batch.budget_methods(), vec!["batch"]);
}

fn progress_body(failed: usize, results: usize) -> Vec<u8> {
    let results: Vec<Value> = (0..results).map(|i| json!({"item": {"id": i}})).collect();
    serde_json::to_vec(&json!({
        "error": {"code": "BITRIX_REST_V3_EXCEPTION_ACCESSDENIEDEXCEPTION", "message": "Access denied",
                  "batch": {"failedIndex": failed, "results": results}}
    }))
    .unwrap()
}

#[test]
fn a_v3_batch_stopped_at_its_seventh_command_reports_each_and_runs_the_rest_next() {
    let mut bulk = Bulk::new();
    for n in 1..=50 {
        bulk.push(add(n)).unwrap();
    }
    let batch = send(&mut bulk);
    let body = progress_body(6, 6);
    bulk.complete(
        batch.id(),
        Err(v3_error(
            403,
            "BITRIX_REST_V3_EXCEPTION_ACCESSDENIEDEXCEPTION",
        )),
        Some(&body),
        now(),
    );
    let next = send(&mut bulk);
    assert_eq!(next.len(), 43);
    assert_eq!(
        v3_commands(&next)[0].query()["fields"]["messageId"],
        json!(8)
    );
    complete_all(&mut bulk, &next);
    assert!(matches!(bulk.next_step(now()), Step::Done));
    let outcomes = drain(&mut bulk);
    assert_eq!(outcomes.len(), 50);
    for c in &outcomes[..6] {
        assert!(c.outcome.is_done(), "{:?}", c.outcome);
    }
    match &outcomes[6].outcome {
        Outcome::Failed(e) => assert_eq!(
            e.code(),
            Some(&ErrorCode::from_wire(
                "BITRIX_REST_V3_EXCEPTION_ACCESSDENIEDEXCEPTION"
            ))
        ),
        other => panic!("{other:?}"),
    }
    assert!(outcomes[7..].iter().all(|c| c.outcome.is_done()));
    assert_eq!(bulk.progress().requeued, 43);
}

#[test]
fn an_unlocated_v3_failure_of_writes_leaves_each_unknown_and_sends_nothing_again() {
    let mut bulk = Bulk::new();
    for n in 1..=50 {
        bulk.push(add(n)).unwrap();
    }
    let batch = send(&mut bulk);
    let body = br#"{"error":{"code":"BITRIX_REST_V3_EXCEPTION_ACCESSDENIEDEXCEPTION","message":"Access denied"}}"#;
    bulk.complete(
        batch.id(),
        Err(v3_error(
            403,
            "BITRIX_REST_V3_EXCEPTION_ACCESSDENIEDEXCEPTION",
        )),
        Some(body),
        now(),
    );
    assert!(matches!(bulk.next_step(now()), Step::Done));
    let outcomes = drain(&mut bulk);
    assert_eq!(outcomes.len(), 50);
    let Outcome::Unknown(first) = &outcomes[0].outcome else {
        panic!("{:?}", outcomes[0].outcome)
    };
    for c in &outcomes {
        match &c.outcome {
            Outcome::Unknown(e) => assert!(Arc::ptr_eq(e, first)),
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn an_unlocated_failure_of_reads_is_split_until_the_failing_command_is_alone() {
    let mut bulk = Bulk::new();
    for id in 1..=10 {
        bulk.push(get(id)).unwrap();
    }
    let failing = 8u64; // the eighth command
    let mut requests = 0;
    loop {
        match bulk.next_step(now()) {
            Step::Send(batch) => {
                requests += 1;
                let ids: Vec<u64> = v3_commands(&batch)
                    .iter()
                    .map(|c| c.query()["id"].as_u64().unwrap())
                    .collect();
                if ids.contains(&failing) {
                    bulk.complete(
                        batch.id(),
                        Err(v3_error(
                            400,
                            "BITRIX_REST_V3_EXCEPTION_ENTITYNOTFOUNDEXCEPTION",
                        )),
                        Some(b"{}"),
                        now(),
                    );
                } else {
                    complete_all(&mut bulk, &batch);
                }
            }
            Step::Idle => panic!("nothing in flight"),
            Step::Wait { .. } => panic!("no budget involved"),
            Step::Done => break,
        }
    }
    let outcomes = drain(&mut bulk);
    for (i, c) in outcomes.iter().enumerate() {
        if i as u64 + 1 == failing {
            assert!(
                matches!(c.outcome, Outcome::Failed(Error::Api(_))),
                "{:?}",
                c.outcome
            );
        } else {
            assert!(c.outcome.is_done(), "{i}: {:?}", c.outcome);
        }
    }
    assert!(requests <= 7, "{requests}");
}

fn classic_result(
    results: &[(&str, Value)],
    errors: &[(&str, &str)],
    times: &[(&str, f64, u64, f64)],
) -> Result<Reply<BatchOutput>, Error> {
    let mut r = ClassicBatchResult::default();
    for (k, v) in results {
        r.results.insert((*k).to_owned(), v.clone());
    }
    for (k, code) in errors {
        r.errors.insert(
            (*k).to_owned(),
            ApiError::new(0, ErrorCode::from_wire(code), "d", ErrorShape::Classic),
        );
    }
    for (k, operating, reset, processing) in times {
        let mut t = Time::new();
        t.operating = Some(*operating);
        t.operating_reset_at = Some(*reset as f64);
        t.processing = Some(*processing);
        r.times.insert((*k).to_owned(), t);
    }
    Ok(Reply::new(BatchOutput::Classic(r), None, false))
}

#[test]
fn a_classic_batch_with_one_failing_command_keeps_the_others_results() {
    let mut bulk = Bulk::new();
    bulk.push(message("a")).unwrap();
    bulk.push(message("b")).unwrap();
    bulk.push(message("c")).unwrap();
    let batch = send(&mut bulk);
    let keys: Vec<String> = classic_commands(&batch)
        .iter()
        .map(|(k, _)| k.clone())
        .collect();
    assert_eq!(keys, ["_0", "_1", "_2"]);
    bulk.complete(
        batch.id(),
        classic_result(
            &[("_0", json!(1)), ("_2", json!(3))],
            &[("_1", "ACCESS_ERROR")],
            &[],
        ),
        None,
        now(),
    );
    let outcomes = drain(&mut bulk);
    assert_eq!(outcomes[0].outcome.done(), Some(&json!(1)));
    assert!(
        matches!(&outcomes[1].outcome, Outcome::Failed(e) if e.code() == Some(&ErrorCode::from_wire("ACCESS_ERROR")))
    );
    assert_eq!(outcomes[2].outcome.done(), Some(&json!(3)));
}

#[test]
fn a_method_near_its_budget_is_held_out_of_the_next_batch() {
    let mut bulk =
        Bulk::with_config(BulkConfig::new().max_commands(5).budget(
            crate::engine::BudgetConfig::default().limit(std::time::Duration::from_secs(480)),
        ));
    for i in 0..12 {
        bulk.push(message(&format!("m{i}"))).unwrap();
    }
    bulk.push(classic(
        "im.dialog.messages.get",
        json!({"DIALOG_ID": "chat58"}),
    ))
    .unwrap();
    let reset = now().as_unix_secs() + 300;
    let first = send(&mut bulk);
    assert_eq!(first.len(), 5);
    // 5 commands ran; the last reports 450 s spent at 9 s a command: 2 more fit
    // under the 475 s hold line.
    bulk.complete(
        first.id(),
        classic_result(
            &[
                ("_0", json!(1)),
                ("_1", json!(2)),
                ("_2", json!(3)),
                ("_3", json!(4)),
                ("_4", json!(5)),
            ],
            &[],
            &[("_4", 450.0, reset, 9.0)],
        ),
        None,
        now(),
    );
    let second = send(&mut bulk);
    let methods: Vec<&str> = classic_commands(&second)
        .iter()
        .map(|(_, c)| c.method())
        .collect();
    assert_eq!(
        methods,
        ["im.message.add", "im.message.add", "im.dialog.messages.get"]
    );
    bulk.complete(
        second.id(),
        classic_result(
            &[("_5", json!(6)), ("_6", json!(7)), ("_12", json!({}))],
            &[],
            &[("_6", 468.0, reset, 9.0)],
        ),
        None,
        now(),
    );
    // Nothing else fits: wait for the reset (plus the 1 s margin).
    match bulk.next_step(now()) {
        Step::Wait { until } => assert_eq!(until, Timestamp::from_unix_secs(reset + 1)),
        other => panic!("{other:?}"),
    }
    assert_eq!(bulk.progress().holds, 1);
    let later = Timestamp::from_unix_secs(reset + 1);
    assert!(matches!(bulk.next_step(later), Step::Send(b) if b.len() == 5));
}

#[test]
fn a_command_refused_for_its_budget_is_put_back_then_given_up() {
    let mut bulk = Bulk::with_config(BulkConfig::new().max_requeues(1));
    bulk.push(message("a")).unwrap();
    bulk.push(message("b")).unwrap();
    let batch = send(&mut bulk);
    let reset = now().as_unix_secs() + 100;
    bulk.complete(
        batch.id(),
        classic_result(
            &[("_0", json!(1))],
            &[("_1", "OPERATION_TIME_LIMIT")],
            &[("_0", 480.0, reset, 1.0)],
        ),
        None,
        now(),
    );
    assert!(
        matches!(bulk.next_step(now()), Step::Wait { until } if until == Timestamp::from_unix_secs(reset + 1))
    );
    let later = Timestamp::from_unix_secs(reset + 2);
    let again = match bulk.next_step(later) {
        Step::Send(b) => b,
        other => panic!("{other:?}"),
    };
    assert_eq!(classic_commands(&again)[0].0, "_1");
    bulk.complete(
        again.id(),
        classic_result(&[], &[("_1", "OPERATION_TIME_LIMIT")], &[]),
        None,
        later,
    );
    let outcomes = drain(&mut bulk);
    assert!(outcomes[0].outcome.is_done());
    match &outcomes[1].outcome {
        Outcome::NotRun(NotRun::Refused(e)) => {
            assert_eq!(e.code(), Some(&ErrorCode::OperationTimeLimit));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_batch_refused_as_a_whole_stops_the_run() {
    let mut bulk = Bulk::with_config(BulkConfig::new().max_commands(2).max_in_flight(2));
    for n in 1..=5 {
        bulk.push(add(n)).unwrap();
    }
    let batch = send(&mut bulk);
    let overload = Error::Api(Box::new(ApiError::new(
        503,
        ErrorCode::OverloadLimit,
        "blocked",
        ErrorShape::Classic,
    )));
    bulk.complete(batch.id(), Err(overload), None, now());
    assert!(matches!(bulk.next_step(now()), Step::Done));
    let outcomes = drain(&mut bulk);
    assert_eq!(outcomes.len(), 5);
    for c in &outcomes {
        match &c.outcome {
            Outcome::NotRun(NotRun::Refused(e)) => {
                assert_eq!(e.code(), Some(&ErrorCode::OverloadLimit));
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn a_batch_that_may_have_run_leaves_its_commands_unknown() {
    let mut bulk = Bulk::new();
    bulk.push(message("a")).unwrap();
    let batch = send(&mut bulk);
    let timeout = Error::Transport {
        kind: crate::engine::TransportErrorKind::Timeout,
        sent: SentState::MaybeSent,
        source: None,
    };
    bulk.complete(batch.id(), Err(timeout), None, now());
    let outcomes = drain(&mut bulk);
    assert!(matches!(
        outcomes[0].outcome,
        Outcome::Unknown(ref e) if matches!(**e, Error::Transport { sent: SentState::MaybeSent, .. })
    ));
}

#[test]
fn an_operating_limit_for_the_batch_holds_its_methods_and_puts_it_back() {
    let mut bulk = Bulk::new();
    bulk.push(message("a")).unwrap();
    let batch = send(&mut bulk);
    let until = Timestamp::from_unix_secs(now().as_unix_secs() + 120);
    let err = Error::OperatingLimit {
        method: "im.message.add".to_owned(),
        reset_at: until,
        last: None,
    };
    bulk.complete(batch.id(), Err(err), None, now());
    assert!(matches!(bulk.next_step(now()), Step::Wait { until: u } if u == until));
    assert!(matches!(bulk.next_step(until), Step::Send(_)));
}

#[test]
fn commands_after_a_located_failure_get_the_values_of_the_ones_that_ran() {
    let mut bulk = Bulk::new();
    bulk.push_as("task", get(51)).unwrap();
    bulk.push_as(
        "bad",
        v3(
            "tasks.task.result.add",
            json!({"fields": {"taskId": {"$ref": "task.item.id"}, "text": ""}}),
        ),
    )
    .unwrap();
    bulk.push_as(
        "good",
        v3(
            "tasks.task.result.add",
            json!({"fields": {"taskId": {"$ref": "task.id"}, "text": "ok"}}),
        ),
    )
    .unwrap();
    bulk.push(v3(
        "tasks.task.result.delete",
        json!({"id": {"$ref": "bad.item.id"}}),
    ))
    .unwrap();
    let batch = send(&mut bulk);
    assert_eq!(batch.len(), 4);
    let body = serde_json::to_vec(&json!({"error": {"code": "BITRIX_REST_V3_EXCEPTION_VALIDATION_DTOVALIDATIONEXCEPTION", "message": "m",
        "batch": {"failedIndex": 1, "results": [{"item": {"id": 51, "title": "t"}}]}}}))
    .unwrap();
    bulk.complete(
        batch.id(),
        Err(v3_error(
            400,
            "BITRIX_REST_V3_EXCEPTION_VALIDATION_DTOVALIDATIONEXCEPTION",
        )),
        Some(&body),
        now(),
    );
    let next = send(&mut bulk);
    let commands = v3_commands(&next);
    assert_eq!(commands.len(), 1);
    assert_eq!(commands[0].alias(), Some("good"));
    assert_eq!(commands[0].query()["fields"]["taskId"], json!(51));
    complete_all(&mut bulk, &next);
    let outcomes = drain(&mut bulk);
    assert!(outcomes[0].outcome.is_done());
    assert!(matches!(outcomes[1].outcome, Outcome::Failed(_)));
    assert!(outcomes[2].outcome.is_done());
    assert!(matches!(
        outcomes[3].outcome,
        Outcome::NotRun(NotRun::DependencyFailed { on }) if on.index() == 1
    ));
}

#[test]
fn a_classic_chain_halts_and_what_was_stopped_runs_next_with_values_filled_in() {
    let mut bulk = Bulk::new();
    bulk.push_as("first", message("one")).unwrap();
    bulk.push_as("second", message("two")).unwrap();
    bulk.push(message("re $result[first]")).unwrap();
    bulk.push(message("re $result[second]")).unwrap();
    let batch = send(&mut bulk);
    assert!(batch.halts());
    // `second` fails; the halted batch stops there.
    bulk.complete(
        batch.id(),
        classic_result(&[("first", json!(41))], &[("second", "ACCESS_ERROR")], &[]),
        None,
        now(),
    );
    let next = send(&mut bulk);
    let commands = classic_commands(&next);
    assert_eq!(commands.len(), 1);
    assert_eq!(commands[0].1.params()["MESSAGE"], json!("re 41"));
    assert!(!next.halts());
    complete_all(&mut bulk, &next);
    let outcomes = drain(&mut bulk);
    assert!(outcomes[0].outcome.is_done());
    assert!(matches!(outcomes[1].outcome, Outcome::Failed(_)));
    assert!(outcomes[2].outcome.is_done());
    assert!(matches!(
        outcomes[3].outcome,
        Outcome::NotRun(NotRun::DependencyFailed { on }) if on.index() == 1
    ));
}

#[test]
fn cancelling_reports_what_was_not_sent_and_waits_for_what_was() {
    let mut bulk = Bulk::with_config(BulkConfig::new().max_in_flight(50));
    for n in 1..=120 {
        bulk.push(add(n)).unwrap();
    }
    let batch = send(&mut bulk);
    bulk.cancel();
    assert_eq!(bulk.progress().not_run, 70);
    // In input order nothing is handed out before the batch in flight is answered.
    assert!(bulk.next_outcome().is_none());
    assert!(matches!(bulk.next_step(now()), Step::Idle));
    complete_all(&mut bulk, &batch);
    assert!(matches!(bulk.next_step(now()), Step::Done));
    let outcomes = drain(&mut bulk);
    assert_eq!(outcomes.len(), 120);
    assert!(outcomes[..50].iter().all(|c| c.outcome.is_done()));
    assert!(outcomes[50..]
        .iter()
        .all(|c| matches!(c.outcome, Outcome::NotRun(NotRun::Cancelled))));
    assert!(bulk.is_finished());
}

#[test]
fn completion_order_hands_out_outcomes_as_batches_finish() {
    let mut bulk = Bulk::with_config(BulkConfig::new().order(Order::Completion));
    for n in 1..=100 {
        bulk.push(add(n)).unwrap();
    }
    let first = send(&mut bulk);
    let second = send(&mut bulk);
    complete_all(&mut bulk, &second);
    let early = drain(&mut bulk);
    assert_eq!(early.len(), 50);
    assert_eq!(early[0].id.index(), 50);
    complete_all(&mut bulk, &first);
    assert_eq!(drain(&mut bulk)[0].id.index(), 0);
}

// --- properties ---

#[derive(Debug, Clone)]
struct Spec {
    classic: bool,
    safe: bool,
    text_len: usize,
    /// Refers to the command this many places back (same API), if any.
    link: Option<usize>,
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        any::<bool>(),
        any::<bool>(),
        0usize..6000,
        prop::option::weighted(0.3, 1usize..4),
    )
        .prop_map(|(classic, safe, text_len, link)| Spec {
            classic,
            safe,
            text_len,
            link,
        })
}

/// Builds a run from specs; links that would break a rule are dropped.
fn build(specs: &[Spec], config: BulkConfig) -> (Bulk<RawCall>, Vec<Option<usize>>) {
    let mut bulk = Bulk::with_config(config);
    let mut links = Vec::new();
    for (i, s) in specs.iter().enumerate() {
        let text = "t".repeat(s.text_len);
        let target = s.link.and_then(|back| i.checked_sub(back));
        let make = |target: Option<usize>| {
            let call = if s.classic {
                let msg = match target {
                    Some(t) => format!("{text}$result[k{t}]"),
                    None => text.clone(),
                };
                classic(
                    "im.message.add",
                    json!({"DIALOG_ID": "chat58", "MESSAGE": msg}),
                )
            } else {
                let task = match target {
                    Some(t) => json!({"$ref": format!("k{t}.item.id")}),
                    None => json!(51),
                };
                v3(
                    "tasks.task.result.add",
                    json!({"fields": {"taskId": task, "text": text}}),
                )
            };
            call.with_repeat(if s.safe { Repeat::Safe } else { Repeat::Unsafe })
        };
        let linked = target.filter(|t| specs[*t].classic == s.classic && links.get(*t).is_some());
        match bulk.push_as(format!("k{i}"), make(linked)) {
            Ok(_) => links.push(linked),
            Err(_) => {
                bulk.push_as(format!("k{i}"), make(None)).unwrap();
                links.push(None);
            }
        }
    }
    (bulk, links)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn every_command_goes_in_exactly_one_valid_batch(
        specs in prop::collection::vec(spec(), 1..160),
        max_body in 16_384usize..200_000,
        max_in_flight in 1usize..150,
    ) {
        let config = BulkConfig::new().max_body_bytes(max_body).max_in_flight(max_in_flight);
        let (mut bulk, links) = build(&specs, config);
        let mut batch_of = vec![None; specs.len()];
        let mut in_flight: Vec<PlannedBatch> = Vec::new();
        loop {
            match bulk.next_step(now()) {
                Step::Send(batch) => {
                    prop_assert!(batch.len() <= MAX_BATCH_COMMANDS);
                    let body = batch.body_json().unwrap();
                    // The envelope and an OAuth token fit in what is kept for them.
                    prop_assert!(body.len() + ENVELOPE_BYTES / 2 <= max_body.max(ENVELOPE_BYTES + 1024));
                    let members: Vec<usize> = match &batch.inner {
                        Inner::V3(b) => b.commands().iter().map(|c| c.alias().unwrap()[1..].parse().unwrap()).collect(),
                        Inner::Classic(b) => b.commands().iter().map(|(k, _)| k[1..].parse().unwrap()).collect(),
                    };
                    let all_safe = members.iter().all(|i| specs[*i].safe);
                    prop_assert_eq!(batch.repeat() == Repeat::Safe, all_safe);
                    prop_assert!(!batch.honours_idempotency_key());
                    for m in &members {
                        prop_assert_eq!(specs[*m].classic, batch.api() == Api::Classic);
                        prop_assert!(batch_of[*m].is_none(), "sent twice");
                        batch_of[*m] = Some(batch.id());
                    }
                    prop_assert!(members.windows(2).all(|w| w[0] < w[1]), "input order kept");
                    in_flight.push(batch);
                    prop_assert!(bulk.progress().in_flight <= max_in_flight.max(MAX_BATCH_COMMANDS));
                }
                Step::Idle => {
                    prop_assert!(!in_flight.is_empty());
                    let batch = in_flight.remove(0);
                    complete_all(&mut bulk, &batch);
                }
                Step::Wait { .. } => prop_assert!(false, "no budget involved"),
                Step::Done => break,
            }
            if in_flight.len() > 3 {
                let batch = in_flight.remove(0);
                complete_all(&mut bulk, &batch);
            }
            if bulk.progress().pending == 0 {
                for batch in std::mem::take(&mut in_flight) {
                    complete_all(&mut bulk, &batch);
                }
            }
        }
        for (i, link) in links.iter().enumerate() {
            if let Some(t) = link {
                prop_assert_eq!(batch_of[i], batch_of[*t], "a chain was split");
            }
        }
        let outcomes = drain(&mut bulk);
        prop_assert_eq!(outcomes.len(), specs.len());
        for (i, c) in outcomes.iter().enumerate() {
            prop_assert_eq!(c.id.index(), i);
            prop_assert!(c.outcome.is_done());
        }
        prop_assert!(bulk.is_finished());
    }

    #[test]
    fn a_located_failure_maps_every_command_once(
        n in 1usize..=50,
        failed_at in 0usize..50,
    ) {
        let failed_at = failed_at % n;
        let mut bulk = Bulk::new();
        for i in 0..n {
            bulk.push(add(i as u64 + 1)).unwrap();
        }
        let batch = send(&mut bulk);
        let body = progress_body(failed_at, failed_at);
        bulk.complete(batch.id(), Err(v3_error(403, "X")), Some(&body), now());
        while let Step::Send(next) = bulk.next_step(now()) {
            complete_all(&mut bulk, &next);
        }
        let outcomes = drain(&mut bulk);
        prop_assert_eq!(outcomes.len(), n);
        for (i, c) in outcomes.iter().enumerate() {
            prop_assert_eq!(i == failed_at, matches!(c.outcome, Outcome::Failed(_)));
            prop_assert_eq!(i != failed_at, c.outcome.is_done());
        }
    }
}
