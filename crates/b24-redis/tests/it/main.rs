//! The Redis stores against a real `redis-server` (started per test on a loopback
//! port by `b24_redis::testing::RedisServer`). Without `redis-server` on `PATH` each
//! test prints a skip notice and passes, except in CI (`CI=true`), where it fails.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout,
    missing_docs
)]

mod auth;
mod bucket;
mod budgets;
mod memory;
mod outage;
mod support;
mod tokens;
