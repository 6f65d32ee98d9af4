//! Benchmark 2: parsing a `tasks.task.result.list` answer of 50 results.
//!
//! Subject: [`parse_response`] (looks for `error` whatever the status, reads the
//! `Idempotent-Replayed` header and the `time` object leniently, decodes the result
//! with JSON-path tracking for errors). Baseline: bare
//! `serde_json::from_slice::<Envelope<ItemsResult<TaskResult>>>` of the same bytes,
//! which does none of that.

use std::hint::black_box;

use b24_core::methods::TaskResultList;
use b24_core::parse_response;
use b24_types::{Envelope, ItemsResult, TaskResult};

use crate::error::{BenchError, Context};
use crate::fixtures;
use crate::measure::{compare, timed, Comparison, Labels};
use crate::settings::Settings;

/// Results in the answer (the server's default page size).
pub const ITEMS: u64 = 50;

/// Runs the comparison.
///
/// # Errors
///
/// An answer that does not parse, or the two parsers disagreeing.
pub fn run(settings: &Settings) -> Result<Comparison, BenchError> {
    let method = TaskResultList::for_task(fixtures::task_id()?);
    let body = fixtures::list_body(ITEMS)?;
    let response = fixtures::ok_response(body.clone())?;

    let bare: Envelope<ItemsResult<TaskResult>> =
        serde_json::from_slice(&body).context("bare serde")?;
    let reply = parse_response(&method, &response).context("parse_response")?;
    if reply.result != bare.result.items || reply.time != bare.time {
        return Err(BenchError::new(
            "response parsing",
            "parse_response and bare serde disagree",
        ));
    }
    if u64::try_from(reply.result.len()).ok() != Some(ITEMS) {
        return Err(BenchError::new(
            "response parsing",
            "the answer lost results",
        ));
    }

    compare(
        settings,
        settings.sample_time,
        Labels::new(
            format!("{ITEMS} results, {:.1} KiB", kib(body.len())),
            "`serde_json::from_slice::<Envelope<ItemsResult<TaskResult>>>`",
            "`parse_response`",
        ),
        |n| {
            timed(n, || {
                let parsed: Envelope<ItemsResult<TaskResult>> =
                    serde_json::from_slice(black_box(&body)).context("bare serde")?;
                black_box(parsed);
                Ok(())
            })
        },
        |n| {
            timed(n, || {
                let parsed = parse_response(black_box(&method), black_box(&response))
                    .context("parse_response")?;
                black_box(parsed);
                Ok(())
            })
        },
    )
}

#[allow(clippy::cast_precision_loss)]
fn kib(bytes: usize) -> f64 {
    bytes as f64 / 1024.0
}
