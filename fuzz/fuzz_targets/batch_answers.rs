//! Batch answers: the REST 3.0 batch and the classic batch decoded as methods, the
//! classic result's accessors, and the bulk planner fed one answer per batch it
//! plans until the run is over (every command must then get exactly one outcome).
#![no_main]
#![forbid(unsafe_code)]

use b24_core::bulk::{Bulk, BulkConfig, Order, Step};
use b24_core::engine::Timestamp;
use b24_core::methods::{BatchCommand, BatchV3, ClassicBatch, ClassicCommand, RawCall};
use b24_core::types::TaskResult;
use b24_core::{Api, Method, Repeat};
use b24_fuzz::{exercise_error, parse_both, response, status, Input};
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Map, Value};

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// The REST 3.0 batch of three commands (the second one aliased).
fn v3_batch(input: &mut Input<'_>) {
    let batch = BatchV3::new()
        .push(
            BatchCommand::new(
                "tasks.task.result.addfromchatmessage",
                object(json!({"fields": {"messageId": 335}})),
            )
            .expect("valid"),
        )
        .and_then(|b| {
            b.push(
                BatchCommand::new("tasks.task.get", object(json!({"id": 51})))
                    .expect("valid")
                    .with_alias("task")
                    .expect("valid"),
            )
        })
        .and_then(|b| {
            b.push(
                BatchCommand::new("tasks.task.result.list", object(json!({"taskId": 51})))
                    .expect("valid"),
            )
        })
        .expect("valid");
    let status = status(input.byte(), input.byte());
    let replayed = input.byte();
    let response = response(status, replayed, input.rest());
    let _ = parse_both(&batch, &response);
}

/// The classic batch of three keyed commands, then every accessor of its result.
fn classic_batch(input: &mut Input<'_>) {
    let halt = input.byte() & 1 == 1;
    let batch = ClassicBatch::new()
        .push(
            "msg",
            ClassicCommand::new(
                "im.message.add",
                object(json!({"DIALOG_ID": "chat58", "MESSAGE": "Hello"})),
            )
            .expect("valid"),
        )
        .and_then(|b| {
            b.push(
                "user",
                ClassicCommand::new("user.get", object(json!({"ID": 1}))).expect("valid"),
            )
        })
        .and_then(|b| {
            b.push(
                "0",
                ClassicCommand::new("im.message.add", object(json!({"MESSAGE": "x"})))
                    .expect("valid"),
            )
        })
        .expect("valid")
        .halt(halt);
    let status = status(input.byte(), input.byte());
    let replayed = input.byte();
    let response = response(status, replayed, input.rest());
    let Ok(reply) = parse_both(&batch, &response) else {
        return;
    };
    let result = &reply.result;
    let _ = batch.command_times(result);
    let _ = result.has_errors();
    for key in ["msg", "user", "0", "1", "missing"] {
        let _ = result.result(key);
        let _ = result.error(key);
        let _ = result.ran(key);
        if let Err(e) = result.decode::<Value>(key) {
            exercise_error(&e);
        }
        if let Err(e) = result.decode::<TaskResult>(key) {
            exercise_error(&e);
        }
        if let Err(e) = result.decode::<u64>(key) {
            exercise_error(&e);
        }
    }
}

/// The commands of a bulk run, chosen by the input: REST 3.0 or classic, a read or
/// a write, some referring to the command before them.
fn command(index: usize, choice: u8) -> RawCall {
    let previous = index.saturating_sub(1);
    let (name, api, params, safe) = match choice % 8 {
        0 => (
            "tasks.task.result.addfromchatmessage",
            Api::V3,
            json!({"fields": {"messageId": 335 + index}}),
            false,
        ),
        1 => ("tasks.task.get", Api::V3, json!({"id": 51}), true),
        2 => (
            "tasks.task.result.add",
            Api::V3,
            json!({"fields": {"taskId": {"$ref": format!("c{previous}.item.taskId")}, "text": "t"}}),
            false,
        ),
        3 => (
            "tasks.task.result.list",
            Api::V3,
            json!({"filter": [["id", "in", {"$refArray": format!("c{previous}.items.id")}]]}),
            true,
        ),
        4 => (
            "im.message.add",
            Api::Classic,
            json!({"DIALOG_ID": "chat58", "MESSAGE": "Hello"}),
            false,
        ),
        5 => ("user.get", Api::Classic, json!({"ID": 1}), true),
        6 => (
            "im.message.add",
            Api::Classic,
            json!({"DIALOG_ID": format!("$result[c{previous}][chatId]"), "MESSAGE": "x"}),
            false,
        ),
        _ => (
            "im.dialog.messages.get",
            Api::Classic,
            json!({"DIALOG_ID": "chat58", "LIMIT": 5}),
            true,
        ),
    };
    let call = RawCall::new(name, api)
        .expect("valid")
        .with_params(object(params));
    if safe {
        call.with_repeat(Repeat::Safe)
    } else {
        call
    }
}

/// A bulk run: up to 8 commands, then one answer from the input per planned batch.
fn bulk_run(input: &mut Input<'_>) {
    let flags = input.byte();
    let config = BulkConfig::new()
        .max_commands(usize::from(flags % 4) + 1)
        .max_in_flight(usize::from((flags >> 2) % 4) + 1)
        .order(if flags & 0x10 == 0 {
            Order::Input
        } else {
            Order::Completion
        })
        .max_requeues(u32::from(flags >> 5));
    let mut bulk: Bulk<RawCall> = Bulk::with_config(config);
    let count = usize::from(input.byte() % 8) + 1;
    let mut pushed = 0usize;
    for index in 0..count {
        if bulk
            .push_as(format!("c{index}"), command(index, input.byte()))
            .is_ok()
        {
            pushed += 1;
        }
    }
    let mut now = Timestamp::from_unix_secs(1_777_530_000);
    let mut outcomes = 0usize;
    let mut finished = false;
    for _ in 0..64 {
        match bulk.next_step(now) {
            Step::Send(batch) => {
                let status = status(input.byte(), 0);
                let body = input.chunk();
                let response = response(status, 0, body);
                let result = b24_core::parse_response(&batch, &response);
                if let Err(e) = &result {
                    exercise_error(e);
                }
                bulk.complete(batch.id(), result, Some(body), now);
            }
            Step::Wait { until } => now = until.max(now),
            Step::Idle => break,
            Step::Done => {
                finished = true;
                break;
            }
            _ => break,
        }
        while let Some(done) = bulk.next_outcome() {
            let _ = format!("{:?}", done.outcome);
            outcomes += 1;
        }
        now = now.saturating_add(std::time::Duration::from_millis(
            u64::from(input.byte()) * 50,
        ));
    }
    while let Some(done) = bulk.next_outcome() {
        let _ = format!("{:?}", done.outcome);
        outcomes += 1;
    }
    let _ = bulk.progress();
    if finished {
        assert_eq!(
            outcomes, pushed,
            "a finished run gives each command one outcome"
        );
    } else {
        assert!(outcomes <= pushed, "more outcomes than commands");
    }
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    match input.byte() % 4 {
        0 => v3_batch(&mut input),
        1 => classic_batch(&mut input),
        _ => bulk_run(&mut input),
    }
});
