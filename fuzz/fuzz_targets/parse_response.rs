//! Response parsing of every typed method, both APIs: the first byte picks the
//! method, the next ones the HTTP status and the `Idempotent-Replayed` header, the
//! rest is the body. Each body is parsed with and without the method's one-pass
//! decode, and the two must agree; the untyped envelope parser runs on it too.
#![no_main]
#![forbid(unsafe_code)]

use b24_core::methods::{
    BatchCommand, BatchV3, ClassicBatch, ClassicCommand, DialogId, EventBind, EventGet,
    EventOfflineClear, EventOfflineError, EventOfflineGet, EventOfflineList, EventUnbind,
    ImDialogMessagesGet, ImMessageAdd, ImMessageGet, RawCall, TaskChatMessageSend, TaskGet,
    TaskResultAdd, TaskResultAddFromChatMessage, TaskResultDelete, TaskResultList,
    TaskResultUpdate,
};
use b24_core::types::events::{OfflineMessageId, ProcessId};
use b24_core::types::{ChatId, MessageId, ResultId, TaskId, UserId};
use b24_core::{Api, Method};
use b24_fuzz::{exercise_error, parse_both, response, status, Input};
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Map};

fn task() -> TaskId {
    TaskId::new(51).expect("a positive id")
}

fn message() -> MessageId {
    MessageId::new(335).expect("a positive id")
}

fn chat() -> DialogId {
    DialogId::chat(ChatId::new(58).expect("a positive id"))
}

fn run<M>(method: &M, response: &http::Response<bytes::Bytes>)
where
    M: Method,
    M::Output: PartialEq + std::fmt::Debug,
{
    if let Ok(reply) = parse_both(method, response) {
        let _ = method.command_times(&reply.result);
    }
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let which = input.byte();
    let status = status(input.byte(), input.byte());
    let replayed = input.byte();
    let body = input.rest();
    let response = response(status, replayed, body);

    // The untyped envelope, as `RawCall` and the bulk planner read it.
    for bare in [false, true] {
        if let Err(e) = b24_core::parse_envelope_with(status, response.headers(), body, bare) {
            exercise_error(&e);
        }
    }

    match which % 24 {
        0 => run(
            &TaskResultAdd::new(task(), "Task completed").expect("valid"),
            &response,
        ),
        1 => run(&TaskResultAddFromChatMessage::new(message()), &response),
        2 => run(
            &TaskResultUpdate::new(ResultId::new(18).expect("positive"), "Updated").expect("valid"),
            &response,
        ),
        3 => run(
            &TaskResultDelete::new(ResultId::new(18).expect("positive")),
            &response,
        ),
        4 => run(&TaskResultList::for_task(task()), &response),
        5 => run(
            &TaskResultList::for_task(task()).after_id(ResultId::new(18).expect("positive")),
            &response,
        ),
        6 => run(
            &TaskChatMessageSend::new(task(), "Hello").expect("valid"),
            &response,
        ),
        7 => run(&TaskGet::new(task()), &response),
        8 => run(&TaskGet::for_chat(task()), &response),
        9 => run(
            &ImMessageAdd::new(chat(), "Hello").expect("valid"),
            &response,
        ),
        10 => run(&ImDialogMessagesGet::new(chat()), &response),
        11 => run(&ImMessageGet::new(chat(), message()), &response),
        12 => run(
            &EventBind::online("ONTASKCOMMENTADD", "https://handler.example.com/b24")
                .expect("valid"),
            &response,
        ),
        13 => run(
            &EventUnbind::online("ONTASKCOMMENTADD", "https://handler.example.com/b24")
                .expect("valid"),
            &response,
        ),
        14 => run(&EventGet::new(), &response),
        15 => run(&EventOfflineGet::reserve(), &response),
        16 => run(
            &EventOfflineClear::batch(ProcessId::new("8f9k2m1q0b7x")).expect("valid"),
            &response,
        ),
        17 => run(
            &EventOfflineError::new(
                ProcessId::new("8f9k2m1q0b7x"),
                [OfflineMessageId::new("0d2a46c5bc86b7c5d3f6a2cf8fbd7e1b")],
            )
            .expect("valid"),
            &response,
        ),
        18 => run(&EventOfflineList::new(), &response),
        19 => run(
            &RawCall::new("rest.documentation.openapi", Api::V3).expect("valid"),
            &response,
        ),
        20 => run(
            &RawCall::new("profile", Api::Classic).expect("valid"),
            &response,
        ),
        21 => {
            let query = json!({"id": 51});
            let query = query.as_object().cloned().unwrap_or_default();
            let batch = BatchV3::new()
                .push(BatchCommand::new("tasks.task.get", query).expect("valid"))
                .expect("valid");
            run(&batch, &response);
        }
        22 => {
            let mut params = Map::new();
            params.insert("ID".to_owned(), json!(1));
            let batch = ClassicBatch::new()
                .push(
                    "u1",
                    ClassicCommand::new("user.get", params).expect("valid"),
                )
                .expect("valid");
            run(&batch, &response);
        }
        _ => run(
            &EventBind::offline("ONTASKCOMMENTADD")
                .expect("valid")
                .auth_type(UserId::new(1).expect("positive")),
            &response,
        ),
    }
});
