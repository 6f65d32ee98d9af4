//! Integration tests of b24-types: round trips and documented wire examples.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

mod events;
mod examples;
mod json_values;
mod round_trip;
mod strategies;
