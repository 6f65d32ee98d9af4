//! Benchmarks of the b24 workspace, reported as ratios.
//!
//! Five comparisons, each of a subject against a baseline measured in the same run
//! in alternating rounds (see [`measure`]):
//!
//! 1. [`request_building`]: `PreparedCall::request` reused vs `build_request` per
//!    attempt, on a webhook and an OAuth portal;
//! 2. [`response_parsing`]: `parse_response` vs bare serde on a 50-result list;
//! 3. [`engine_overhead`]: a whole `Exchange` vs the codec alone;
//! 4. [`end_to_end`]: the b24-hyper client vs a bare hyper client against the
//!    emulator over loopback, one call at a time and several in flight;
//! 5. [`limiter`]: the limiter's throughput against the theoretical maximum, in
//!    simulated time, with a simulated portal bucket counting rejections.
//!
//! [`run`] does all of it and returns a [`Report`], whose
//! [`to_markdown`](Report::to_markdown) is the text of `docs/benchmarks.md`. The
//! `b24-bench` binary prints it and, with `--write PATH`, writes it.
//!
//! [`side_by_side`] is a separate benchmark with its own binary and report
//! (`docs/benchmarks-side-by-side.md`): b24-hyper against bare hyper, bare hyper with
//! `serde_json`, and reqwest, each client in its own process against a fixed-answer
//! HTTPS server in another.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod end_to_end;
pub mod engine_overhead;
mod error;
pub mod fixtures;
pub mod limiter;
pub mod machine;
pub mod measure;
pub mod report;
pub mod request_building;
pub mod response_parsing;
mod settings;
pub mod side_by_side;

use std::time::Instant;

pub use error::BenchError;
pub use report::Report;
pub use settings::Settings;

/// Runs every benchmark with `settings`. `command` is recorded in the report as the
/// command that made it; `progress` is told the name of each step as it starts.
///
/// # Errors
///
/// The first benchmark that cannot run or sees an unexpected answer.
pub fn run(
    settings: &Settings,
    command: &str,
    progress: &mut dyn FnMut(&str),
) -> Result<Report, BenchError> {
    let started = Instant::now();
    let facts = machine::MachineFacts::gather();
    progress("1/5 request building");
    let request_building = request_building::run(settings)?;
    progress("2/5 response parsing");
    let response_parsing = response_parsing::run(settings)?;
    progress("3/5 engine overhead");
    let engine_overhead = engine_overhead::run(settings)?;
    progress("4/5 end to end over loopback");
    let end_to_end = end_to_end::run(settings)?;
    progress("5/5 limiter throughput (simulated)");
    let limiter = limiter::run(settings.limiter_time, settings.concurrency);
    Ok(Report {
        settings: settings.clone(),
        command: command.to_owned(),
        facts,
        request_building,
        response_parsing,
        engine_overhead,
        end_to_end,
        limiter,
        elapsed: started.elapsed(),
    })
}
