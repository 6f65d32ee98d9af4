//! Integration tests of b24-core.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::print_stdout,
    missing_docs,
    unreachable_pub
)]
mod blocking_driver;
mod codec_classic_batch;
mod codec_fixtures;
mod codec_methods;
mod codec_paging;
mod codec_portal;
mod codec_request;
mod codec_response;
mod codec_support;
mod engine_batch_times;
mod engine_classify;
mod engine_exchange;
mod engine_limiter;
mod engine_oauth;
mod engine_store;
mod engine_support;
mod events_decode;
mod events_methods;
mod events_support;
mod events_verify;
mod props_codec;
mod props_events;
#[path = "../../examples/ureq_transport.rs"]
#[allow(dead_code)]
mod ureq_example;
mod ureq_transport;
