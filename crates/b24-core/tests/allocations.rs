//! Heap allocations on the per-call path, counted with dhat's heap profiler (its own
//! test binary, since the counting allocator is global).
//!
//! The figures are printed (`cargo test -p b24-core --test allocations --
//! --nocapture`) and bounded, so that a change that adds allocations to every call
//! fails here. docs/benchmarks.md quotes them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use b24_core::bytes::Bytes;
use b24_core::engine::{Action, BucketConfig, Exchange, PortalState, Timestamp};
use b24_core::methods::TaskResultAddFromChatMessage;
use b24_core::types::MessageId;
use b24_core::{http, parse_response, IdempotencyKey, Portal, PreparedCall};

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

const BODY: &str = r#"{"result":{"item":{"id":18,"taskId":51,"text":"Task work completed","authorId":1,"createdAt":"2026-04-30T10:25:00+02:00","updatedAt":null,"status":"open","fileIds":[],"rights":{"edit":true,"remove":true},"messageId":335}},"time":{"start":1777530300.1,"finish":1777530300.2,"duration":0.1,"processing":0.05,"date_start":"2026-04-30T10:25:00+02:00","date_finish":"2026-04-30T10:25:00+02:00","operating_reset_at":1777530900,"operating":0}}"#;

fn answer() -> http::Response<Bytes> {
    http::Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .body(Bytes::from_static(BODY.as_bytes()))
        .unwrap()
}

/// Allocations made by `f`, run `runs` times, per run.
fn per_run(runs: u64, mut f: impl FnMut(u64)) -> (u64, u64) {
    f(0); // warm-up: lazily made state is not per-call cost
    let before = dhat::HeapStats::get();
    for i in 1..=runs {
        f(i);
    }
    let after = dhat::HeapStats::get();
    (
        (after.total_blocks - before.total_blocks) / runs,
        (after.total_bytes - before.total_bytes) / runs,
    )
}

#[test]
fn allocations_per_call() {
    let _profiler = dhat::Profiler::builder().testing().build();
    let portal = Portal::webhook("https://example.bitrix24.com/rest/1/k3y0f7h3w3bh00k5/").unwrap();
    let method = TaskResultAddFromChatMessage::new(MessageId::new(335).unwrap());
    let key = IdempotencyKey::new("b24-0123456789abcdef").unwrap();
    let prepared = PreparedCall::new(&portal, &method).unwrap();
    let state = PortalState::new(7).bucket(BucketConfig::custom(1_000_000, 1_000_000.0).unwrap());
    let start = Timestamp::from_unix_secs(1_777_530_000);

    let (request_blocks, request_bytes) = per_run(1_000, |_| {
        std::hint::black_box(prepared.request(None, Some(&key)).unwrap());
    });
    let response = answer();
    let (parse_blocks, parse_bytes) = per_run(1_000, |_| {
        std::hint::black_box(parse_response(&method, &response).unwrap());
    });
    let (exchange_blocks, exchange_bytes) = per_run(1_000, |i| {
        let now = Timestamp::from_unix_millis(start.as_unix_millis() + i);
        let mut exchange = Exchange::new(&portal, method.clone(), &state).unwrap();
        let reply = loop {
            match exchange.poll(now) {
                Action::Send(outgoing) => {
                    std::hint::black_box(outgoing.into_request());
                    exchange.handle_response(answer(), now);
                }
                Action::Done(result) => break result.unwrap(),
                other => panic!("unexpected {other:?}"),
            }
            while exchange.poll_event().is_some() {}
        };
        std::hint::black_box(reply);
    });
    let (answer_blocks, _) = per_run(1_000, |_| {
        std::hint::black_box(answer());
    });
    println!("PreparedCall::request: {request_blocks} allocations, {request_bytes} bytes");
    println!("parse_response: {parse_blocks} allocations, {parse_bytes} bytes");
    println!(
        "whole Exchange (incl. {answer_blocks} for the canned http::Response): \
         {exchange_blocks} allocations, {exchange_bytes} bytes"
    );
    assert!(request_blocks <= 12, "request building: {request_blocks}");
    assert!(parse_blocks <= 12, "parsing: {parse_blocks}");
    assert!(exchange_blocks <= 60, "an exchange: {exchange_blocks}");
}
