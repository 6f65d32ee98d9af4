//! Reliability proofs of the b24 client, run against the offline portal
//! (`b24-emulator`) over HTTPS on loopback.
//!
//! Four promises are checked, each by a function of this crate that a test (and the
//! `reliability` binary, `cargo xtask reliability`) runs:
//!
//! - **The fault matrix** ([`matrix`]): a read, a keyed REST 3.0 write and a classic
//!   write, each against every fault the portal can be made to show, end as the retry
//!   policy promises: the outcome's variant and what the portal stored afterwards.
//! - **Exactly once** ([`exactly_once`]): many writes in flight under random faults,
//!   over HTTP/1.1 or HTTP/2, with a webhook or an OAuth token that keeps expiring:
//!   no write is stored twice, no write the caller was told succeeded is missing, and
//!   no write the caller was told did not run is stored.
//! - **Soak** ([`soak`]): many tasks sharing one client against one portal and its
//!   real request bucket for a bounded time: nothing lost, the bucket never overrun,
//!   resident memory flat.
//! - **No secret leaks**: the integration test `tests/it/secrets.rs`, which drives
//!   known secrets through every reachable error path and a capturing trace.
//!
//! `docs/reliability.md` in the repository lists the promises, the tests that prove
//! them and the latest figures.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod exactly_once;
pub mod matrix;
pub mod outcome;
pub mod random;
pub mod rss;
pub mod soak;
pub mod stand;

pub use exactly_once::{run_exactly_once, ExactlyOnceConfig, ExactlyOnceReport};
pub use matrix::{run_matrix, CallKind, Cell, Expect, MatrixReport, Row};
pub use outcome::{Claim, Outcome};
pub use soak::{run_soak, SoakConfig, SoakReport};
pub use stand::{Auth, HarnessError, HttpVersion, Stand, StandSettings};
