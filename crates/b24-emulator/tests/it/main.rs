//! Integration tests of the emulator, against the documented API.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::print_stdout,
    missing_docs,
    unreachable_pub
)]

mod batch;
mod batch_metering;
mod chat_and_tasks;
mod classic_batch;
mod events;
mod extremes;
mod faults;
mod hardening;
mod https;
mod idempotency;
mod input;
mod limits;
mod list;
mod oauth;
mod results;
mod seeds;
mod server_rules;
mod support;
