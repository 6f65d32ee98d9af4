//! The retry policy as data, and the pure decision it makes about one outcome.
//!
//! [`RetryPolicy::decide`] maps an [`OutcomeClass`] plus every fact about the call
//! that matters ([`CallFacts`]) to a [`Decision`]. It is the one place that decides
//! whether, when and why a call goes again; the exchange only gathers the facts and
//! moves between states. It is a pure function: no clock (`now` is a fact), no state,
//! no randomness other than the [`Jitter`] passed in.
//!
//! | class | decision |
//! |---|---|
//! | `RateLimited` | retry after backoff (the call never ran) |
//! | `Unavailable` (a 503 without a code) | retry after backoff only if the method is `Repeat::Safe` or carries an `Idempotency-Key` it honours; else stop with [`StopReason::WriteOutcomeUnknown`] (a gateway may send it after the write ran) |
//! | `OperatingLimit` | wait until the reset plus `reset_margin` when within `max_operating_wait`, else stop with that time (the exchange passes no reset time for a 429 without an operating-limit code, so it waits the fallback, and holds the method for other calls only after the platform's codes) |
//! | `Overloaded` | stop: a manual block is never retried |
//! | `TokenExpired` | ask for a fresh token once (OAuth only), then replay; a second one stops |
//! | `Rejected(_)` | stop: validation, permission, scope, not-found, key reuse are final |
//! | `ServerError`, `Transport(MaybeSent)` | retry after backoff only if the method is `Repeat::Safe` or carries an `Idempotency-Key` it honours; else stop |
//! | `Transport(NotSent)` | retry after backoff (the call never left) |
//! | after `Transport(MaybeSent)` or a gateway's 502/504 on a write protected only by its key | retry no sooner than [`in_flight_grace`](RetryPolicy::in_flight_grace) after the failed attempt was sent ([`Decision::RetryAfterGrace`]), or stop with [`StopReason::NotRepeatable`] when that passes the deadline |
//! | `Rejected(_)` for a key reuse (422) after an attempt that may have run | stop with [`StopReason::WriteOutcomeUnknown`]: the stored answer may be that attempt's success |
//! | a transport failure for an answer over the adapter's size cap | stop with [`StopReason::ResponseTooLarge`]: asking again fetches the same answer |
//! | `Unrecognised` | stop |
//! | any retry or wait that would end past the call's deadline | stop with [`StopReason::DeadlineExceeded`] |
//!
//! `max_attempts` bounds the attempts caused by failures: the first attempt and
//! every retry. The single replay after a token refresh is always allowed and does
//! not count (the exchange leaves it out of [`CallFacts::attempts`]), so
//! `max_attempts(1)` ("never retry") still recovers from an expired token, and a call
//! that needed a fresh token keeps all its retries.

use std::time::Duration;

use b24_types::ErrorClass;

use super::backoff::{Backoff, Jitter};
use super::classify::OutcomeClass;
use super::transport::SentState;
use super::Timestamp;
use crate::method::Repeat;

/// The default number of attempts per call (the first one included).
pub(crate) const DEFAULT_MAX_ATTEMPTS: u32 = 4;
/// The default first backoff.
pub(crate) const DEFAULT_BASE_BACKOFF: Duration = Duration::from_secs(1);
/// The default longest backoff.
pub(crate) const DEFAULT_MAX_BACKOFF: Duration = Duration::from_secs(30);
/// The default longest wait for an operating-time reset before giving up with
/// [`Error::OperatingLimit`](crate::Error::OperatingLimit).
pub(crate) const DEFAULT_MAX_OPERATING_WAIT: Duration = Duration::from_secs(60);
/// The wait assumed when a 429 names no reset time and none is known for the
/// method. Such an answer gives no better hint; one minute is the granularity of the
/// platform's operating-time buckets (ten one-minute buckets over a rolling ten
/// minutes), so it is the shortest wait after which the total can have changed.
pub(crate) const OPERATING_FALLBACK_WAIT: Duration = Duration::from_secs(60);
/// The default margin added to a reported `operating_reset_at` before a call is
/// sent again after a 429. The platform reports the reset in whole seconds and its
/// clock may differ from this machine's, so without it a retry can arrive up to a
/// second early and meet a second 429. The same figure as the budget's
/// [`BudgetConfig::reset_margin`](super::BudgetConfig::reset_margin) default.
pub(crate) const DEFAULT_RESET_MARGIN: Duration = Duration::from_secs(1);
/// The default number of attempts per call that may end in a timeout. The platform
/// cuts a cloud request off after 60 s, so an attempt that got no answer within the
/// adapter's attempt timeout met a server that is not answering; one more attempt
/// covers a connection lost on the way, more only multiply the wait (4 attempts of
/// 70 s each kept a caller 285 s).
pub(crate) const DEFAULT_MAX_TIMEOUTS: u32 = 2;
/// The default in-flight grace ([`RetryPolicy::in_flight_grace`]): the platform cuts a
/// cloud request off after 60 s, plus 1 s for clock skew.
pub(crate) const DEFAULT_IN_FLIGHT_GRACE: Duration =
    Duration::from_secs(60 + DEFAULT_RESET_MARGIN.as_secs());

/// How a call retries: plain data, cheap to clone.
///
/// Build it with [`RetryPolicy::default`] and the consuming setters, which check the
/// values; read the fields of the same names (the setters' docs give the meaning).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Attempts per call, the first included (read as at least 1).
    pub max_attempts: u32,
    /// Attempts that may end in a timeout (read as at least 1).
    pub max_timeouts: u32,
    /// The backoff between attempts.
    pub backoff: Backoff,
    /// The longest wait for an operating-time reset.
    pub max_operating_wait: Duration,
    /// The wait assumed after a 429 that names no reset time.
    pub operating_fallback: Duration,
    /// Added to a reported reset time after a 429.
    pub reset_margin: Duration,
    /// The least time between sending a key-protected write that may have reached the
    /// portal and sending it again.
    pub in_flight_grace: Duration,
    /// How long a token refresh may hold the refresh turn (read as at least 1 ms).
    pub refresh_lease: Duration,
    /// The overall deadline of one call, if any.
    pub deadline: Option<Duration>,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            max_timeouts: DEFAULT_MAX_TIMEOUTS,
            backoff: Backoff::new(DEFAULT_BASE_BACKOFF, DEFAULT_MAX_BACKOFF),
            max_operating_wait: DEFAULT_MAX_OPERATING_WAIT,
            operating_fallback: OPERATING_FALLBACK_WAIT,
            reset_margin: DEFAULT_RESET_MARGIN,
            in_flight_grace: DEFAULT_IN_FLIGHT_GRACE,
            refresh_lease: super::exchange::REFRESH_LEASE,
            deadline: None,
        }
    }
}

impl RetryPolicy {
    /// A policy that never retries (a token refresh and its replay still happen once).
    pub fn no_retries() -> Self {
        Self::default().max_attempts(1)
    }

    /// Attempts per call, the first included (at least 1). The single replay after
    /// a token refresh is not counted.
    pub fn max_attempts(mut self, n: u32) -> Self {
        self.max_attempts = n.max(1);
        self
    }

    /// How many attempts of a call may end in a timeout before it ends (at least 1;
    /// default 2). A server that accepts connections but never answers then costs
    /// two attempt timeouts, not [`max_attempts`](RetryPolicy::max_attempts) of them.
    pub fn max_timeouts(mut self, n: u32) -> Self {
        self.max_timeouts = n.max(1);
        self
    }

    /// First and longest backoff delay.
    pub fn backoff(mut self, base: Duration, max: Duration) -> Self {
        self.backoff = Backoff::new(base, max);
        self
    }

    /// The longest the engine waits for a method's operating-time budget to reset,
    /// before a send (budget hold) or after a 429. Longer waits end the call with
    /// [`Error::OperatingLimit`](crate::Error::OperatingLimit) carrying the reset time.
    pub fn max_operating_wait(mut self, d: Duration) -> Self {
        self.max_operating_wait = d;
        self
    }

    /// The wait assumed after a 429 that names no reset time (default 60 s).
    pub fn operating_fallback(mut self, d: Duration) -> Self {
        self.operating_fallback = d;
        self
    }

    /// Added to a reported reset time after a 429 before the call is sent again
    /// (default 1 s, 1 s), for the whole-second reset and clock
    /// skew between the portal and this machine. Not added to the
    /// [`operating_fallback`](RetryPolicy::operating_fallback), which is an estimate on
    /// this machine's clock.
    pub fn reset_margin(mut self, d: Duration) -> Self {
        self.reset_margin = d;
        self
    }

    /// How long after an attempt was sent a write protected only by its
    /// `Idempotency-Key` waits before it is sent again, when that attempt failed after
    /// the request may have reached the portal ([`SentState::MaybeSent`]: a timeout,
    /// a reset while awaiting the answer). Default 61 s (61 s).
    ///
    /// Two concurrent requests with the same key may both run: the portal stores an
    /// answer only once the first has finished. A repeat sent while the first attempt
    /// may still be running on the portal could therefore run the write a second time.
    /// The platform cuts a cloud request off after 60 s, so once the grace has passed
    /// since the first attempt was sent, it has finished and the repeat gets its stored
    /// answer. Lower it only for a portal known to finish sooner (a local test
    /// server); a self-hosted portal with a longer execution limit needs more. When
    /// the grace would end past the [`deadline`](RetryPolicy::deadline), the call ends
    /// with the transport error instead. Not applied after a 5xx answer (the portal
    /// has finished) or to [`Repeat::Safe`] calls.
    pub fn in_flight_grace(mut self, d: Duration) -> Self {
        self.in_flight_grace = d;
        self
    }

    /// How long a token refresh may hold the refresh turn (default
    /// [`REFRESH_LEASE`](super::REFRESH_LEASE), 30 s): the refresh request must be
    /// answered within it, and other callers waiting for the turn take it over once it
    /// ends (a refresher that crashed holds them up for at most this long). At least
    /// one millisecond.
    pub fn refresh_lease(mut self, d: Duration) -> Self {
        self.refresh_lease = d.max(Duration::from_millis(1));
        self
    }

    /// An overall deadline for one call, counted from its first poll: waits that
    /// would end after it are not started, and the call ends with
    /// [`Error::DeadlineExceeded`](crate::Error::DeadlineExceeded).
    pub fn deadline(mut self, d: Duration) -> Self {
        self.deadline = Some(d);
        self
    }

    /// This policy with `deadline` as its deadline when it has none (an adapter's
    /// default call deadline).
    #[must_use]
    pub fn or_deadline(mut self, deadline: Duration) -> Self {
        self.deadline.get_or_insert(deadline);
        self
    }

    /// Decides what to do after an attempt that ended in `class`.
    ///
    /// `operating_reset_at` is the reset time known for the method (from the error
    /// body or earlier replies), used only for `OperatingLimit`: the call goes again at
    /// that time plus [`reset_margin`](RetryPolicy::reset_margin), or, when it is
    /// unknown or past, after [`operating_fallback`](RetryPolicy::operating_fallback).
    pub fn decide(
        &self,
        class: OutcomeClass,
        facts: &CallFacts,
        operating_reset_at: Option<Timestamp>,
        now: Timestamp,
        jitter: &mut Jitter,
    ) -> Decision {
        let decision = self.decide_class(class, facts, operating_reset_at, now, jitter);
        // Nothing waits past the call's deadline.
        let ends_at = match decision {
            Decision::Retry { after, .. } => Some(now.saturating_add(after)),
            Decision::WaitUntil { until, .. } | Decision::RetryAfterGrace { until, .. } => {
                Some(until)
            }
            Decision::RefreshToken | Decision::Stop(_) => None,
        };
        let decision = match (ends_at, facts.deadline) {
            (Some(at), Some(deadline)) if at > deadline => {
                Decision::Stop(StopReason::DeadlineExceeded)
            }
            _ => decision,
        };
        // A write that may have run and then ends on another refusal (the attempts or
        // the time ran out on rate limits, a later attempt was refused) must not read
        // as "not run": its outcome is unknown.
        let ran_now = facts.response_too_large || class.may_have_run();
        match decision {
            Decision::Stop(reason)
                if facts.repeat == Repeat::Unsafe
                    && (facts.maybe_ran || ran_now)
                    && reason.hides_a_run() =>
            {
                Decision::Stop(StopReason::WriteOutcomeUnknown)
            }
            other => other,
        }
    }

    /// When a call refused for the operating-time limit (429) may go again: the
    /// reported reset plus [`reset_margin`](RetryPolicy::reset_margin), or, when it is
    /// unknown or past, [`operating_fallback`](RetryPolicy::operating_fallback) from
    /// `now`. Also how long the method is held for every call after the platform's
    /// own operating-limit codes.
    pub fn operating_wait_until(
        &self,
        operating_reset_at: Option<Timestamp>,
        now: Timestamp,
    ) -> Timestamp {
        operating_reset_at
            .filter(|t| *t > now)
            .map(|t| t.saturating_add(self.reset_margin))
            .unwrap_or_else(|| now.saturating_add(self.operating_fallback))
    }

    fn decide_class(
        &self,
        class: OutcomeClass,
        facts: &CallFacts,
        operating_reset_at: Option<Timestamp>,
        now: Timestamp,
        jitter: &mut Jitter,
    ) -> Decision {
        if facts.response_too_large {
            return Decision::Stop(StopReason::ResponseTooLarge);
        }
        if facts.permanent_failure {
            return Decision::Stop(StopReason::PermanentFailure);
        }
        if facts.key_reused && facts.maybe_ran {
            return Decision::Stop(StopReason::WriteOutcomeUnknown);
        }
        let exhausted = facts.attempts >= self.max_attempts.max(1)
            || facts.timeouts >= self.max_timeouts.max(1);
        let backoff = |reason: RetryReason, jitter: &mut Jitter| {
            if exhausted {
                Decision::Stop(StopReason::AttemptsExhausted)
            } else {
                Decision::Retry {
                    after: self.backoff.delay(facts.attempts, jitter),
                    reason,
                }
            }
        };
        match class {
            OutcomeClass::Success => Decision::Stop(StopReason::Succeeded),
            OutcomeClass::RateLimited => backoff(RetryReason::RateLimited, jitter),
            OutcomeClass::Transport(SentState::NotSent) => {
                backoff(RetryReason::TransportNotSent, jitter)
            }
            OutcomeClass::ServerError
            | OutcomeClass::Unavailable
            | OutcomeClass::Transport(SentState::MaybeSent) => {
                let reason = match class {
                    OutcomeClass::ServerError => RetryReason::ServerError,
                    OutcomeClass::Unavailable => RetryReason::Unavailable,
                    _ => RetryReason::TransportMaybeSent,
                };
                if facts.repeat != Repeat::Safe && !facts.has_idempotency_key {
                    // A bare 503 reads like the rate limit ("not run"), but a gateway
                    // may send it after the write ran: say so.
                    return Decision::Stop(if class == OutcomeClass::Unavailable {
                        StopReason::WriteOutcomeUnknown
                    } else {
                        StopReason::NotRepeatable
                    });
                }
                let retry = backoff(reason, jitter);
                // A write repeated after a maybe-sent failure, or after a gateway's
                // 502/504 (the backend behind it may still be running it), is
                // protected only by its key, and two requests with the same key may
                // both run: the repeat waits until the earlier attempt has surely
                // finished, so that the portal answers it with the stored result.
                let maybe_running = class == OutcomeClass::Transport(SentState::MaybeSent)
                    || (class == OutcomeClass::ServerError && facts.gateway_error);
                match retry {
                    Decision::Retry { after, reason }
                        if maybe_running && facts.repeat == Repeat::Unsafe =>
                    {
                        let grace = facts.sent_at.saturating_add(self.in_flight_grace);
                        if grace <= now.saturating_add(after) {
                            retry
                        } else if facts.deadline.is_some_and(|d| grace > d) {
                            Decision::Stop(StopReason::NotRepeatable)
                        } else {
                            Decision::RetryAfterGrace {
                                until: grace,
                                reason,
                            }
                        }
                    }
                    other => other,
                }
            }
            OutcomeClass::OperatingLimit => {
                let until = self.operating_wait_until(operating_reset_at, now);
                if until.saturating_duration_since(now) > self.max_operating_wait {
                    Decision::Stop(StopReason::OperatingLimit { reset_at: until })
                } else if exhausted {
                    Decision::Stop(StopReason::AttemptsExhausted)
                } else {
                    Decision::WaitUntil {
                        until,
                        reason: RetryReason::OperatingLimit,
                    }
                }
            }
            OutcomeClass::TokenExpired => {
                if !facts.uses_oauth {
                    Decision::Stop(StopReason::Rejected(ErrorClass::Auth))
                } else if facts.token_refreshed {
                    Decision::Stop(StopReason::TokenRejected)
                } else {
                    Decision::RefreshToken
                }
            }
            OutcomeClass::Overloaded => Decision::Stop(StopReason::Overloaded),
            OutcomeClass::Rejected(c) => Decision::Stop(StopReason::Rejected(c)),
            OutcomeClass::Unrecognised => Decision::Stop(StopReason::Unrecognised),
        }
    }
}

/// Facts about the call that the decision depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct CallFacts {
    /// Whether the method may be repeated freely.
    pub repeat: Repeat,
    /// Whether every attempt carries the same `Idempotency-Key`, on a method that
    /// honours it ([`Method::honours_idempotency_key`](crate::Method::honours_idempotency_key));
    /// a key the portal ignores protects nothing and does not count.
    pub has_idempotency_key: bool,
    /// Attempts that count against [`RetryPolicy::max_attempts`], the one just ended
    /// included (1 after the first): every attempt made, except the single replay
    /// after a token refresh. The backoff grows with it too.
    pub attempts: u32,
    /// Whether the call authenticates with an OAuth token that can be refreshed.
    pub uses_oauth: bool,
    /// Whether this call already obtained a fresh token once.
    pub token_refreshed: bool,
    /// Whether an earlier attempt may have run on the portal (a maybe-sent failure, a
    /// 5xx, an unreadable answer).
    pub maybe_ran: bool,
    /// Whether the answer was a gateway's 502 or 504 (the backend may still be
    /// running the request).
    pub gateway_error: bool,
    /// Whether the answer refused the `Idempotency-Key` as reused with another body.
    pub key_reused: bool,
    /// Whether the answer was over the adapter's size cap.
    pub response_too_large: bool,
    /// Whether the transport failed in a way repeating cannot cure (a refused
    /// certificate, an address that may not be used).
    pub permanent_failure: bool,
    /// Attempts of this call, the one just ended included, that ended in a timeout.
    pub timeouts: u32,
    /// When the attempt that just ended was sent.
    pub sent_at: Timestamp,
    /// The call's deadline, if any.
    pub deadline: Option<Timestamp>,
}

impl CallFacts {
    /// Facts for attempt number `attempts` of a call (counted as
    /// [`CallFacts::attempts`] says).
    pub fn new(repeat: Repeat, has_idempotency_key: bool, attempts: u32) -> Self {
        Self {
            repeat,
            has_idempotency_key,
            attempts,
            uses_oauth: false,
            token_refreshed: false,
            maybe_ran: false,
            gateway_error: false,
            key_reused: false,
            response_too_large: false,
            permanent_failure: false,
            timeouts: 0,
            sent_at: Timestamp::EPOCH,
            deadline: None,
        }
    }

    /// Sets what the answer itself showed: a gateway's 502/504, a refused reused
    /// key, an answer over the size cap.
    pub fn answer(mut self, gateway_error: bool, key_reused: bool, too_large: bool) -> Self {
        self.gateway_error = gateway_error;
        self.key_reused = key_reused;
        self.response_too_large = too_large;
        self
    }

    /// Sets what a transport failure showed: whether repeating cannot cure it, and how
    /// many attempts so far ended in a timeout.
    pub fn transport(mut self, permanent_failure: bool, timeouts: u32) -> Self {
        self.permanent_failure = permanent_failure;
        self.timeouts = timeouts;
        self
    }

    /// Sets the call's history: whether an earlier attempt may have run, when the one
    /// just ended was sent, and the deadline.
    pub fn history(
        mut self,
        maybe_ran: bool,
        sent_at: Timestamp,
        deadline: Option<Timestamp>,
    ) -> Self {
        self.maybe_ran = maybe_ran;
        self.sent_at = sent_at;
        self.deadline = deadline;
        self
    }

    /// Sets the OAuth facts.
    pub fn oauth(mut self, uses_oauth: bool, token_refreshed: bool) -> Self {
        self.uses_oauth = uses_oauth;
        self.token_refreshed = token_refreshed;
        self
    }
}

/// What to do after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Decision {
    /// Send again after this delay.
    Retry {
        /// The delay.
        after: Duration,
        /// Why.
        reason: RetryReason,
    },
    /// Send again at this time (an operating-time reset).
    WaitUntil {
        /// When.
        until: Timestamp,
        /// Why.
        reason: RetryReason,
    },
    /// Send again at this time: the end of the in-flight grace of a write protected
    /// only by its key, once the earlier attempt has surely finished.
    RetryAfterGrace {
        /// When.
        until: Timestamp,
        /// Why.
        reason: RetryReason,
    },
    /// Obtain a fresh access token, then send again.
    RefreshToken,
    /// End the call.
    Stop(StopReason),
}

/// Why a call is sent again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RetryReason {
    /// The request-rate bucket was full (`QUERY_LIMIT_EXCEEDED`).
    RateLimited,
    /// A 503 without an error code, and repeating is safe.
    Unavailable,
    /// The method's operating-time budget was spent (429).
    OperatingLimit,
    /// The server failed (5xx) and repeating is safe.
    ServerError,
    /// The transport failed before the request left.
    TransportNotSent,
    /// The transport failed after the request may have left, and repeating is safe.
    TransportMaybeSent,
    /// A fresh token was obtained after a 401.
    TokenRefreshed,
}

/// Why a call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StopReason {
    /// It succeeded.
    Succeeded,
    /// `OVERLOAD_LIMIT`: a manual block.
    Overloaded,
    /// A definite refusal of this class.
    Rejected(ErrorClass),
    /// It may have run, and repeating it could duplicate a write.
    NotRepeatable,
    /// It may have run and the answer cannot tell (a bare 503, or a key refused as
    /// reused after an attempt that may have run): the call ends with
    /// [`Error::WriteOutcomeUnknown`](crate::Error::WriteOutcomeUnknown).
    WriteOutcomeUnknown,
    /// The attempt budget is spent (or the budget of attempts that timed out).
    AttemptsExhausted,
    /// The transport failed in a way repeating cannot cure (a refused certificate, an
    /// address that may not be used).
    PermanentFailure,
    /// The operating-time budget resets later than the call may wait.
    OperatingLimit {
        /// When the budget resets.
        reset_at: Timestamp,
    },
    /// A second 401 after a fresh token.
    TokenRejected,
    /// Obtaining a fresh token failed.
    TokenRefreshFailed,
    /// The overall deadline would pass.
    DeadlineExceeded,
    /// An outcome no rule covers.
    Unrecognised,
    /// The request of an attempt could not be built (no access token stored, say).
    InvalidRequest,
    /// The answer was larger than the adapter accepts: the same request would get the
    /// same answer, so it is not repeated.
    ResponseTooLarge,
    /// A shared-state store failed on an operation the call needed before sending
    /// (nothing was sent).
    StoreFailed,
}

impl StopReason {
    /// Whether ending a write that may have run with this reason would read as "it did
    /// not run" (a refusal, a limit, a deadline): such an end is reported as
    /// [`StopReason::WriteOutcomeUnknown`] instead. Not for the reasons whose error
    /// already says the write may have run (a maybe-sent transport failure, an answer
    /// over the size cap) or that it succeeded.
    fn hides_a_run(self) -> bool {
        !matches!(
            self,
            StopReason::Succeeded
                | StopReason::WriteOutcomeUnknown
                | StopReason::NotRepeatable
                | StopReason::ResponseTooLarge
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_without_key_is_not_repeated_after_maybe_sent() {
        let p = RetryPolicy::default();
        let mut j = Jitter::new(1);
        let now = Timestamp::from_unix_secs(1000);
        let facts = CallFacts::new(Repeat::Unsafe, false, 1);
        assert_eq!(
            p.decide(
                OutcomeClass::Transport(SentState::MaybeSent),
                &facts,
                None,
                now,
                &mut j
            ),
            Decision::Stop(StopReason::NotRepeatable)
        );
        assert!(matches!(
            p.decide(
                OutcomeClass::Transport(SentState::NotSent),
                &facts,
                None,
                now,
                &mut j
            ),
            Decision::Retry {
                reason: RetryReason::TransportNotSent,
                ..
            }
        ));
    }
}
