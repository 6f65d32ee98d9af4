//! Integration tests of b24-hyper: one binary, modules beside this file.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::print_stdout,
    missing_docs,
    unreachable_pub
)]

#[path = "../../examples/blocking_transport.rs"]
#[allow(dead_code)]
mod blocking_transport;
mod bulk;
mod classic_batch;
mod credentials;
mod custom_transport;
mod durations;
mod emu;
mod error_texts;
mod events_offline;
mod events_online;
mod events_support;
mod faults;
mod in_flight;
mod limits;
mod local_server;
mod methods;
mod oauth;
mod quickstart;
#[path = "../../examples/quickstart/flow.rs"]
mod quickstart_flow;
#[path = "../../examples/result_bot.rs"]
#[allow(dead_code)]
mod result_bot;
#[cfg(feature = "tracing")]
mod tracing_spans;
mod transport;
