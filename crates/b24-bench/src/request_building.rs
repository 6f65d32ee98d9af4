//! Benchmark 1: building the request of an attempt.
//!
//! Subject: [`PreparedCall::request`] on a call prepared once (the URI and the body
//! are serialised in [`PreparedCall::new`]; an OAuth body with the token spliced in
//! is cached per token), as the engine does on every attempt. Baseline:
//! [`build_request`] from scratch (validate, serialise, build the URI) per attempt.
//! Both carry the same `Idempotency-Key`, as a REST 3.0 write does.

use std::hint::black_box;

use b24_core::methods::TaskResultAddFromChatMessage;
use b24_core::{build_request, PreparedCall, RequestOptions};

use crate::error::{BenchError, Context};
use crate::fixtures;
use crate::measure::{compare, timed, Comparison, Labels};
use crate::settings::Settings;

const BASELINE: &str = "`build_request` from scratch";
const SUBJECT: &str = "`PreparedCall::request` reused";

/// Runs both cases: webhook portal, then OAuth portal (token in the body).
///
/// # Errors
///
/// A request that cannot be built, or reused and rebuilt requests that differ.
pub fn run(settings: &Settings) -> Result<Vec<Comparison>, BenchError> {
    let method = TaskResultAddFromChatMessage::new(fixtures::message_id()?);
    let key = fixtures::idempotency_key()?;
    let token = fixtures::access_token();

    let webhook = fixtures::webhook_portal()?;
    let webhook_options = RequestOptions::new().idempotency_key(key.clone());
    let webhook_call = PreparedCall::new(&webhook, &method).context("prepare (webhook)")?;

    let oauth = fixtures::oauth_portal()?;
    let oauth_options = RequestOptions::new()
        .access_token(token.clone())
        .idempotency_key(key.clone());
    let oauth_call = PreparedCall::new(&oauth, &method).context("prepare (OAuth)")?;

    // Both ways must give the same request, or the comparison means nothing.
    same_request(
        &build_request(&webhook, &method, &webhook_options).context("build (webhook)")?,
        &webhook_call
            .request(None, Some(&key))
            .context("reuse (webhook)")?,
    )?;
    same_request(
        &build_request(&oauth, &method, &oauth_options).context("build (OAuth)")?,
        &oauth_call
            .request(Some(&token), Some(&key))
            .context("reuse (OAuth)")?,
    )?;

    let webhook_row = compare(
        settings,
        settings.sample_time,
        Labels::new("webhook portal", BASELINE, SUBJECT),
        |n| {
            timed(n, || {
                let req = build_request(black_box(&webhook), black_box(&method), &webhook_options)
                    .context("build (webhook)")?;
                black_box(req);
                Ok(())
            })
        },
        |n| {
            timed(n, || {
                let req = black_box(&webhook_call)
                    .request(None, Some(black_box(&key)))
                    .context("reuse (webhook)")?;
                black_box(req);
                Ok(())
            })
        },
    )?;
    let oauth_row = compare(
        settings,
        settings.sample_time,
        Labels::new("OAuth portal (token in the body)", BASELINE, SUBJECT),
        |n| {
            timed(n, || {
                let req = build_request(black_box(&oauth), black_box(&method), &oauth_options)
                    .context("build (OAuth)")?;
                black_box(req);
                Ok(())
            })
        },
        |n| {
            timed(n, || {
                let req = black_box(&oauth_call)
                    .request(Some(black_box(&token)), Some(black_box(&key)))
                    .context("reuse (OAuth)")?;
                black_box(req);
                Ok(())
            })
        },
    )?;
    Ok(vec![webhook_row, oauth_row])
}

fn same_request(
    a: &http::Request<b24_core::bytes::Bytes>,
    b: &http::Request<b24_core::bytes::Bytes>,
) -> Result<(), BenchError> {
    let same = a.method() == b.method()
        && a.uri() == b.uri()
        && a.headers() == b.headers()
        && a.body() == b.body();
    if same {
        Ok(())
    } else {
        Err(BenchError::new(
            "request building",
            "the reused and the rebuilt request differ",
        ))
    }
}
