//! Benchmark 3: what the call engine costs on top of the codec.
//!
//! Subject: one whole [`Exchange`] of `addfromchatmessage` on a webhook portal:
//! `Exchange::new` (prepares the call, generates the idempotency key), `poll` (budget
//! check, limiter slot, the request), the canned 200 answer handed to
//! `handle_response` (parse, budget bookkeeping, classification), `poll` to `Done`,
//! and the events drained after each step as an adapter does. The portal state has a
//! bucket large enough never to make a call wait, and simulated time moves on by a
//! millisecond per call.
//!
//! Baselines, each with the same canned answer (a fresh `http::Response` per call, as
//! a transport hands over):
//!
//! 1. `PreparedCall::request` of a call prepared once, then `parse_response`: the
//!    codec alone, as it runs on each attempt;
//! 2. `build_request` from scratch, then `parse_response`: the codec alone for a
//!    whole single call, which, like an exchange, prepares the call once.

use std::hint::black_box;
use std::time::Duration;

use b24_core::engine::{Action, BucketConfig, Exchange, PortalState, Timestamp};
use b24_core::methods::TaskResultAddFromChatMessage;
use b24_core::{build_request, parse_response, PreparedCall, RequestOptions};

use crate::error::{BenchError, Context};
use crate::fixtures;
use crate::measure::{compare, timed, Comparison, Labels};
use crate::settings::Settings;

const SUBJECT: &str = "`Exchange` new → poll → Send → handle_response → Done";

/// Runs both comparisons.
///
/// # Errors
///
/// An exchange that does not end in a successful reply, or a codec failure.
pub fn run(settings: &Settings) -> Result<Vec<Comparison>, BenchError> {
    let portal = fixtures::webhook_portal()?;
    let method = TaskResultAddFromChatMessage::new(fixtures::message_id()?);
    let key = fixtures::idempotency_key()?;
    let options = RequestOptions::new().idempotency_key(key.clone());
    let answer = fixtures::ok_response(fixtures::item_body()?)?;
    let prepared = PreparedCall::new(&portal, &method).context("prepare")?;
    let start = Timestamp::from_unix_secs(fixtures::ANSWER_UNIX.unsigned_abs());

    // One exchange must end as the codec says.
    let state = bench_state(1)?;
    let via_engine = one_exchange(&portal, &method, &state, &answer, start)?;
    let via_codec = parse_response(&method, &answer)
        .context("parse_response")?
        .result;
    if via_engine != via_codec.id.get() || via_codec.message_id != Some(fixtures::message_id()?) {
        return Err(BenchError::new(
            "engine overhead",
            "the exchange and the codec disagree",
        ));
    }

    let mut seed = 2u128;
    let mut engine = |n: u64| -> Result<Duration, BenchError> {
        seed += 1;
        let state = bench_state(seed)?;
        let mut i = 0u64;
        timed(n, || {
            i += 1;
            let now = Timestamp::from_unix_millis(start.as_unix_millis() + i);
            black_box(one_exchange(
                black_box(&portal),
                &method,
                &state,
                &answer,
                now,
            )?);
            Ok(())
        })
    };

    let prepared_row = compare(
        settings,
        settings.sample_time,
        Labels::new(
            "vs codec per attempt",
            "`PreparedCall::request` (prepared once) + `parse_response`",
            SUBJECT,
        ),
        |n| {
            timed(n, || {
                let req = black_box(&prepared)
                    .request(None, Some(black_box(&key)))
                    .context("request")?;
                black_box(req);
                let response = black_box(&answer).clone();
                let reply = parse_response(black_box(&method), &response).context("parse")?;
                black_box(reply);
                Ok(())
            })
        },
        &mut engine,
    )?;
    let scratch_row = compare(
        settings,
        settings.sample_time,
        Labels::new(
            "vs codec per call",
            "`build_request` from scratch + `parse_response`",
            SUBJECT,
        ),
        |n| {
            timed(n, || {
                let req = build_request(black_box(&portal), black_box(&method), &options)
                    .context("build")?;
                black_box(req);
                let response = black_box(&answer).clone();
                let reply = parse_response(black_box(&method), &response).context("parse")?;
                black_box(reply);
                Ok(())
            })
        },
        &mut engine,
    )?;
    Ok(vec![prepared_row, scratch_row])
}

/// A portal state whose limiter never makes a call wait.
fn bench_state(seed: u128) -> Result<PortalState, BenchError> {
    let bucket = BucketConfig::custom(1_000_000_000, 1_000_000.0).context("bucket")?;
    Ok(PortalState::new(seed).bucket(bucket))
}

/// Drives one exchange against the canned answer; returns the new result's id.
fn one_exchange(
    portal: &b24_core::Portal,
    method: &TaskResultAddFromChatMessage,
    state: &PortalState,
    answer: &http::Response<b24_core::bytes::Bytes>,
    now: Timestamp,
) -> Result<u64, BenchError> {
    let mut exchange = Exchange::new(portal, method.clone(), state).context("exchange")?;
    match exchange.poll(now) {
        Action::Send(request) => {
            black_box(request);
        }
        other => {
            return Err(BenchError::new(
                "engine overhead",
                format!("expected Send, got {other:?}"),
            ))
        }
    }
    while let Some(event) = exchange.poll_event() {
        black_box(event);
    }
    exchange.handle_response(answer.clone(), now);
    let id = match exchange.poll(now) {
        Action::Done(Ok(reply)) => reply.result.id.get(),
        other => {
            return Err(BenchError::new(
                "engine overhead",
                format!("expected Done(Ok), got {other:?}"),
            ))
        }
    };
    while let Some(event) = exchange.poll_event() {
        black_box(event);
    }
    Ok(id)
}
