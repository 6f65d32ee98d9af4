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

mod emu;
mod faults;
mod limits;
mod local_server;
mod methods;
mod oauth;
mod quickstart;
#[path = "../../examples/quickstart/flow.rs"]
mod quickstart_flow;
mod transport;
