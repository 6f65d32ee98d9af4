//! Redis-backed shared state for b24: many processes, one portal's limits.
//!
//! A Bitrix24 portal counts requests per portal and source address (the request
//! bucket), operating time per method and webhook or app (the operating budgets), and
//! rotates an OAuth user's refresh token on every refresh. Processes that call one
//! portal from one address (workers behind a queue, replicas of a service) must share
//! what b24-core's engine knows of those, or together they overrun the bucket, miss a
//! budget's hold, or refresh one token pair twice and lose it. [`RedisBackend`] is a
//! [`StoreBackend`](b24_core::registry::StoreBackend) that keeps that state in Redis;
//! hand it to b24-hyper's `ClientBuilder::store_backend` or to a
//! [`Registry`](b24_core::registry::Registry):
//!
//! ```no_run
//! use std::sync::Arc;
//! use b24_core::registry::Registry;
//! use b24_redis::{RedisBackend, RedisConfig};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let backend = RedisBackend::new(RedisConfig::new("redis://:password@redis.internal:6379/0"))?;
//! // With b24-hyper: `Client::builder().store_backend(Arc::new(backend))`. Or a
//! // registry of your own (seeded with OS randomness in production):
//! let registry = Registry::new(0x5eed).backend(Arc::new(backend));
//! # drop(registry);
//! # Ok(())
//! # }
//! ```
//!
//! # What is shared
//!
//! | state | store | shared by |
//! |---|---|---|
//! | the request bucket (GCRA, on Redis's clock) and what the host's answers showed about `Idempotency-Key` | [`RedisHostStore`] | every credential and process calling the host |
//! | the operating-time budget of each method: the last `operating` and `operating_reset_at`, a known 429 block, the next spread slot | [`RedisBudgetStore`] | every process using the webhook, or the OAuth app |
//! | an OAuth user's token pair, its generation, and the refresh lease | [`RedisTokenStore`] | every process acting as that user |
//!
//! Every operation is one Lua script (or one single command), so it is atomic: two
//! processes never get the same bucket slot or spread slot, a token pair is replaced
//! by compare-and-swap on its generation, and the refresh lease is granted to one
//! caller at a time. Scripts are sent with `EVALSHA` and loaded on `NOSCRIPT`.
//!
//! The bucket runs on Redis's clock (`TIME` inside the script): the script answers
//! the delay until the reserved slot, which the caller adds to its own `now`, so
//! machines whose clocks disagree still share one schedule. The budgets run on the
//! callers' wall clocks, as in memory, because the portal's reset times are unix times.
//!
//! # Key layout
//!
//! With the default prefix `b24:`, for the portal host `example.bitrix24.com`:
//!
//! | key | type | content | expires |
//! |---|---|---|---|
//! | `b24:{example.bitrix24.com}:bucket` | string | when the bucket would be empty (µs of Redis time) | when it would be empty, plus [`EXPIRY_MARGIN`] (60 s) |
//! | `b24:{example.bitrix24.com}:keys` | string | `1` keys supported, `2` unsupported (absent: unknown) | [`KEY_SUPPORT_TTL`] (1 day) after the last reservation or observation |
//! | `b24:{example.bitrix24.com}:budget:{scope}:{method}` | hash | `o` operating ms, `r` reset at, `c` clamped, `b` blocked until, `n` next spread slot (unix ms) | when the reset, the block end and the spread slot have passed, plus 60 s (never shortened) |
//! | `b24:{example.bitrix24.com}:tokens:{credential}` | hash | `g` generation, `v` the pair (sealed by the [`TokenCipher`]) | [`DEFAULT_TOKEN_TTL`] (30 days, [`RedisConfig::token_ttl`]) after the last replacement |
//! | `b24:{example.bitrix24.com}:lease:{credential}` | string | the refresh lease's holder and generation | the lease's length, on Redis's clock |
//!
//! `{scope}` is a [`BudgetScope`](b24_core::registry::BudgetScope)
//! (`webhook:1:9f86d081884c7d65`, `app`) and `{credential}` a
//! [`CredentialId`](b24_core::registry::CredentialId) (`oauth:user:67`, `oauth`):
//! both secret-free (a webhook is named by its user and a one-way fingerprint of its
//! secret), so no key name holds a secret. Characters outside `A-Z a-z 0-9 . - _ :`
//! in a host, scope, credential or method are percent-encoded. The host stands in a
//! hash tag (`{...}`), so one portal's keys share a Redis Cluster slot and a
//! multi-key script stays legal there (this crate connects to one server or proxy;
//! it has no cluster client).
//!
//! Every key expires, so a portal left idle vanishes from Redis. An expired bucket or
//! budget is the same as an empty one: nothing in it mattered any more. One portal
//! with a webhook, one method's budget and its key support takes about half a
//! kilobyte (measured by the `memory` test).
//!
//! # Failures
//!
//! Every operation is bounded by the operation timeout ([`RedisConfig::op_timeout`],
//! default 500 ms, connecting included) and fails with a typed
//! [`StoreError`](b24_core::engine::StoreError): `Unavailable` when Redis cannot be
//! reached or refuses the credentials, `Timeout` when it does not answer in time,
//! `Corrupt` when a key holds something the scripts did not write. Nothing panics
//! and nothing waits without bound. Error details name the operation and the kind of
//! failure, never the URL, a password or a token.
//!
//! The engine then ends the call before sending anything when the operation was
//! needed before sending (a bucket slot, a budget check, the current token), so a
//! Redis outage stops calls rather than letting them exceed the portal's limits; a
//! write after an answer that fails is reported as an event and the call goes on.
//! Building a [`RedisBackend`] does no IO: the connection is made by the first
//! operation and re-made after a failure (redis-rs's `ConnectionManager`), so calls
//! work again as soon as Redis is back. [`RedisBackend::ping`] checks the connection
//! for a process that wants to fail at start-up instead.
//!
//! # Tokens at rest
//!
//! **Token pairs held in Redis are plaintext unless the application provides a
//! cipher** ([`RedisConfig::token_cipher`], a [`TokenCipher`]). Anyone who can read
//! the keys, a dump or a replica can otherwise act as the stored OAuth users. The pair
//! is stored as a small JSON object, passed through [`TokenCipher::seal`] before it is
//! written and [`TokenCipher::open`] after it is read; a pair that does not open is
//! `Corrupt`.
//!
//! # The client crate
//!
//! The connection is redis-rs (`redis` 1.x) with its tokio `ConnectionManager`, its
//! `Script` type and rustls. redis-rs is the most used Rust Redis client, supports
//! Redis 6 and 7, Valkey and the managed services, and gives exactly what this crate
//! needs with few extra dependencies: one multiplexed connection that reconnects by
//! itself, `EVALSHA` with automatic loading, per-request response timeouts, and TLS
//! through rustls with the webpki roots (the same TLS stack as b24-hyper, so no second
//! one is compiled). fred was the alternative; it brings its own pooling, reconnection
//! policies and runtime glue that this crate would not use, and a larger dependency
//! tree, for no gain over one multiplexed connection running short scripts.
//!
//! # Features
//!
//! - `tls` (default): `rediss://` URLs, through rustls with the ring provider, trusting
//!   the Mozilla roots compiled in or a CA of your own ([`RedisConfig::tls_root_ca`]).
//! - `testing`: `b24_redis::testing::RedisServer`, a `redis-server` child process for
//!   tests.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod backend;
mod budget;
mod config;
mod conn;
mod host;
mod keys;
mod scripts;
#[cfg(feature = "testing")]
pub mod testing;
mod token;

pub use backend::RedisBackend;
pub use budget::RedisBudgetStore;
pub use config::{
    ConfigError, PlaintextTokens, RedisConfig, TokenCipher, DEFAULT_KEY_PREFIX, DEFAULT_OP_TIMEOUT,
    DEFAULT_TOKEN_TTL, EXPIRY_MARGIN, KEY_SUPPORT_TTL,
};
pub use host::RedisHostStore;
pub use token::{RedisTokenStore, REFRESH_POLL};
