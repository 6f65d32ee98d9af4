//! The call engine: rate limits, operating-time budgets, retries that never
//! duplicate a write, idempotency keys and token refresh, without IO.
//!
//! (The full policy and the driving contract are documented here as the engine grows.)

mod backoff;
mod budget;
mod classify;
mod event;
mod exchange;
mod idempotency;
mod limiter;
mod oauth;
mod policy;
mod state;
mod timestamp;
mod token;
mod transport;

pub use backoff::{Backoff, Jitter};
pub use budget::{BudgetConfig, BudgetVerdict, MethodBudget, DEFAULT_OPERATING_LIMIT};
pub use classify::{classify, Observation, OutcomeClass};
pub use event::{Event, WaitReason};
pub use exchange::{wait_duration, Action, Exchange, ExchangeOptions, KeyMode};
pub use idempotency::KeyGenerator;
pub use limiter::{BucketConfig, LeakyBucket, DEFAULT_SAFETY_MARGIN};
pub use oauth::{
    form_urlencode, parse_token_answer, token_url_from_server_endpoint, OAuthApp, PendingRefresh,
    RefreshError, RefreshFailure, RefreshNeeded, RefreshPlan, DEFAULT_TOKEN_URL,
};
pub use policy::{
    CallFacts, Decision, RetryPolicy, RetryReason, StopReason, DEFAULT_BASE_BACKOFF,
    DEFAULT_MAX_ATTEMPTS, DEFAULT_MAX_BACKOFF, DEFAULT_MAX_OPERATING_WAIT, OPERATING_FALLBACK_WAIT,
};
pub use state::{BudgetStore, MemoryBudgetStore, MemoryRateLimiter, PortalState, RateLimiter};
pub use timestamp::Timestamp;
pub use token::{MemoryTokenStore, StaleGeneration, TokenGeneration, TokenSet, TokenStore};
pub use transport::{SentState, TransportErrorKind, TransportFailure};
