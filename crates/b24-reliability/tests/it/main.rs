//! Integration tests of b24-reliability: one binary, modules beside this file.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::print_stdout,
    missing_docs
)]

mod exactly_once;
mod matrix;
