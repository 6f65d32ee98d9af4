//! Classification and retry-policy tables over every known error code, unknown codes
//! and bare statuses.

use std::time::Duration;

use b24_core::engine::{
    classify, CallFacts, Decision, Jitter, Observation, OutcomeClass, RetryPolicy, RetryReason,
    SentState, StopReason, Timestamp,
};
use b24_core::types::{ApiError, ErrorClass, ErrorCode, ErrorShape};
use b24_core::{Api, Repeat};

use OutcomeClass as C;

/// Every known code with the status it is documented with and the class expected on
/// a status other than a REST 3.0 401.
fn table() -> Vec<(ErrorCode, u16, OutcomeClass)> {
    use ErrorClass::*;
    use ErrorCode as E;
    vec![
        (E::V3RequestValidation, 400, C::Rejected(Validation)),
        (E::V3DtoValidation, 400, C::Rejected(Validation)),
        (E::V3RequestFilterValidation, 400, C::Rejected(Validation)),
        (E::V3InvalidFile, 400, C::Rejected(Validation)),
        (E::V3InvalidJson, 400, C::Rejected(Validation)),
        (E::V3UnknownDtoProperty, 400, C::Rejected(Validation)),
        (E::V3UnknownFilterOperator, 400, C::Rejected(Validation)),
        (E::V3InvalidFilter, 400, C::Rejected(Validation)),
        (E::V3InvalidOrder, 400, C::Rejected(Validation)),
        (E::V3InvalidPagination, 400, C::Rejected(Validation)),
        (E::V3InvalidSelect, 400, C::Rejected(Validation)),
        (E::V3TooManyAttributes, 400, C::Rejected(Validation)),
        (E::V3UnknownAggregateFunction, 400, C::Rejected(Validation)),
        (E::V3WrongHttpRequestMethod, 400, C::Rejected(Validation)),
        (E::V3EntityAlreadyExists, 400, C::Rejected(Validation)),
        (E::V3Logic, 400, C::Rejected(Validation)),
        (E::V3EntityNotFound, 400, C::Rejected(NotFound)),
        (E::V3MethodNotFound, 404, C::Rejected(NotFound)),
        (E::V3FieldNotFound, 404, C::Rejected(NotFound)),
        (E::V3AccessDenied, 403, C::Rejected(Permission)),
        (E::V3InsufficientScope, 403, C::Rejected(Scope)),
        (E::V3License, 400, C::Rejected(Permission)),
        (E::V3RateLimit, 429, C::OperatingLimit),
        (E::V3Internal, 500, C::ServerError),
        (E::V3IdempotencyKeyReused, 422, C::Rejected(Idempotency)),
        (E::V3InvalidIdempotencyKey, 400, C::Rejected(Idempotency)),
        (E::InternalServerError, 500, C::ServerError),
        (E::UnexpectedAnswer, 500, C::ServerError),
        (E::QueryLimitExceeded, 503, C::RateLimited),
        (E::BatchMethodNotAllowed, 405, C::Rejected(Batch)),
        (E::BatchLengthExceeded, 400, C::Rejected(Batch)),
        (E::NoAuthFound, 401, C::Rejected(Auth)),
        (E::InvalidRequest, 400, C::Rejected(Validation)),
        (E::OverloadLimit, 503, C::Overloaded),
        (E::AccessDenied, 403, C::Rejected(Permission)),
        (E::InvalidCredentials, 403, C::Rejected(Permission)),
        (E::ManifestNotAvailable, 404, C::Rejected(NotFound)),
        (E::InsufficientScope, 403, C::Rejected(Scope)),
        (E::ExpiredToken, 401, C::TokenExpired),
        (E::InvalidToken, 401, C::TokenExpired),
        (E::UserAccessError, 403, C::Rejected(Permission)),
        (E::PortalDeleted, 403, C::Rejected(Permission)),
        (E::AuthorizationError, 401, C::Rejected(Auth)),
        (E::ApplicationNotFound, 401, C::Rejected(Auth)),
        (E::ConnectionError, 500, C::ServerError),
        (E::OperationTimeLimit, 429, C::OperatingLimit),
        (E::MethodNotFound, 404, C::Rejected(NotFound)),
        (E::MethodConfirmWaiting, 401, C::Rejected(Permission)),
        (E::MethodConfirmDenied, 403, C::Rejected(Permission)),
        (E::ErrorCore, 400, C::Rejected(Validation)),
        (E::ErrorArgument, 400, C::Rejected(Validation)),
        (E::AllowedOnlyIntranetUser, 403, C::Rejected(Permission)),
        (E::NotFound, 404, C::Rejected(NotFound)),
        (E::InvalidArgValue, 400, C::Rejected(Validation)),
        (E::OAuthInvalidRequest, 400, C::Rejected(Validation)),
        (E::OAuthInvalidClient, 401, C::Rejected(Auth)),
        (E::OAuthInvalidGrant, 400, C::Rejected(Auth)),
        (E::OAuthInvalidScope, 400, C::Rejected(Scope)),
        (E::PaymentRequired, 402, C::Rejected(Permission)),
    ]
}

#[test]
fn the_table_covers_every_known_code() {
    let table = table();
    for code in ErrorCode::KNOWN {
        assert!(
            table.iter().any(|(c, _, _)| c == code),
            "{code} is missing from the classification table"
        );
    }
    assert_eq!(table.len(), ErrorCode::KNOWN.len());
}

#[test]
fn every_known_code_classifies_as_expected_on_both_apis() {
    for (code, status, expected) in table() {
        let obs = Observation::Error {
            status,
            code: &code,
        };
        assert_eq!(
            classify(Api::Classic, obs),
            expected,
            "classic {code} {status}"
        );
        let v3 = if status == 401 {
            C::TokenExpired
        } else {
            expected
        };
        assert_eq!(classify(Api::V3, obs), v3, "v3 {code} {status}");
        // A code is authoritative whatever the status it arrives with, except a 401
        // on REST 3.0 (auth failures come back as ACCESSDENIEDEXCEPTION there).
        let on_200 = Observation::Error {
            status: 200,
            code: &code,
        };
        assert_eq!(
            classify(Api::Classic, on_200),
            expected,
            "classic {code} on 200"
        );
    }
}

#[test]
fn unknown_codes_fall_back_on_the_status() {
    let code = ErrorCode::from_wire("SOMETHING_NEW");
    let cases = [
        (200, Api::Classic, C::Unrecognised),
        (400, Api::Classic, C::Rejected(ErrorClass::Validation)),
        (401, Api::Classic, C::Rejected(ErrorClass::Auth)),
        (401, Api::V3, C::TokenExpired),
        (403, Api::V3, C::Rejected(ErrorClass::Permission)),
        (404, Api::V3, C::Rejected(ErrorClass::NotFound)),
        (422, Api::V3, C::Rejected(ErrorClass::Validation)),
        (429, Api::V3, C::OperatingLimit),
        (500, Api::V3, C::ServerError),
        (502, Api::Classic, C::ServerError),
        // An unknown code on a 503 is not the rate limit: that one has its code.
        (503, Api::Classic, C::ServerError),
        (402, Api::V3, C::Rejected(ErrorClass::Permission)),
        (408, Api::Classic, C::ServerError),
        (410, Api::V3, C::Rejected(ErrorClass::NotFound)),
        (415, Api::Classic, C::Rejected(ErrorClass::Validation)),
    ];
    for (status, api, expected) in cases {
        assert_eq!(
            classify(
                api,
                Observation::Error {
                    status,
                    code: &code
                }
            ),
            expected,
            "{status} {api:?}"
        );
    }
}

/// The error class an outcome stands for, where it stands for one.
fn class_of(outcome: OutcomeClass) -> ErrorClass {
    match outcome {
        C::Rejected(c) => c,
        C::RateLimited => ErrorClass::RateLimited,
        C::OperatingLimit => ErrorClass::OperatingLimit,
        C::Overloaded => ErrorClass::Overloaded,
        C::TokenExpired => ErrorClass::TokenExpired,
        C::ServerError => ErrorClass::Server,
        C::Unrecognised => ErrorClass::Unknown,
        other => panic!("{other:?} stands for no error class"),
    }
}

#[test]
fn one_status_fallback_for_api_errors_and_the_engine() {
    let code = ErrorCode::from_wire("SOMETHING_NEW");
    for status in 100..=699u16 {
        let fallback = ErrorClass::from_status(status);
        for shape in [ErrorShape::Classic, ErrorShape::V3] {
            let api = ApiError::new(status, code.clone(), "m", shape);
            assert_eq!(api.class(), fallback, "ApiError::class {status}");
        }
        let with_code = Observation::Error {
            status,
            code: &code,
        };
        assert_eq!(
            class_of(classify(Api::Classic, with_code)),
            fallback,
            "classic, unknown code, {status}"
        );
        // REST 3.0 differs only where it must: any 401 may be an expired token.
        let v3 = classify(Api::V3, with_code);
        if status == 401 {
            assert_eq!(v3, C::TokenExpired);
        } else {
            assert_eq!(class_of(v3), fallback, "v3, unknown code, {status}");
        }
        // Without any code, only a 503 differs: the rate limit, or a gateway's answer
        // after the call may have run.
        let bare = classify(Api::Classic, Observation::BareStatus { status });
        if status == 503 {
            assert_eq!(bare, C::Unavailable);
        } else {
            assert_eq!(class_of(bare), fallback, "classic, no code, {status}");
        }
    }
    // The statuses the two fallbacks used to disagree on.
    assert_eq!(ErrorClass::from_status(402), ErrorClass::Permission);
    assert_eq!(ErrorClass::from_status(408), ErrorClass::Server);
    assert_eq!(ErrorClass::from_status(410), ErrorClass::NotFound);
    assert_eq!(ErrorClass::from_status(415), ErrorClass::Validation);
}

#[test]
fn bare_statuses() {
    let cases = [
        (200, Api::V3, C::Unrecognised),
        (302, Api::V3, C::Unrecognised),
        (400, Api::V3, C::Rejected(ErrorClass::Validation)),
        (401, Api::V3, C::TokenExpired),
        (401, Api::Classic, C::Rejected(ErrorClass::Auth)),
        (403, Api::Classic, C::Rejected(ErrorClass::Permission)),
        (404, Api::Classic, C::Rejected(ErrorClass::NotFound)),
        (429, Api::Classic, C::OperatingLimit),
        (500, Api::Classic, C::ServerError),
        (502, Api::V3, C::ServerError),
        (503, Api::V3, C::Unavailable),
        (503, Api::Classic, C::Unavailable),
        (504, Api::V3, C::ServerError),
    ];
    for (status, api, expected) in cases {
        assert_eq!(
            classify(api, Observation::BareStatus { status }),
            expected,
            "{status} {api:?}"
        );
    }
    assert_eq!(classify(Api::V3, Observation::Success), C::Success);
    assert_eq!(
        classify(Api::V3, Observation::Transport(SentState::NotSent)),
        C::Transport(SentState::NotSent)
    );
    assert_eq!(
        classify(Api::Classic, Observation::Transport(SentState::MaybeSent)),
        C::Transport(SentState::MaybeSent)
    );
}

/// The three kinds of call whose decisions differ.
#[derive(Debug, Clone, Copy)]
enum Kind {
    UnsafeNoKey,
    UnsafeWithKey,
    Safe,
}

fn facts(kind: Kind, attempts: u32) -> CallFacts {
    match kind {
        Kind::UnsafeNoKey => CallFacts::new(Repeat::Unsafe, false, attempts),
        Kind::UnsafeWithKey => CallFacts::new(Repeat::Unsafe, true, attempts),
        Kind::Safe => CallFacts::new(Repeat::Safe, false, attempts),
    }
}

fn expected_decision(class: OutcomeClass, kind: Kind, now: Timestamp) -> Decision {
    let retry = |reason| Decision::Retry {
        after: Duration::ZERO, // compared by kind only, see `same_kind`
        reason,
    };
    match class {
        C::RateLimited => retry(RetryReason::RateLimited),
        // The reset 30 s ahead plus the 1 s reset margin.
        C::OperatingLimit => Decision::WaitUntil {
            until: now.saturating_add(Duration::from_secs(31)),
            reason: RetryReason::OperatingLimit,
        },
        C::Overloaded => Decision::Stop(StopReason::Overloaded),
        C::TokenExpired => Decision::RefreshToken,
        C::Rejected(c) => Decision::Stop(StopReason::Rejected(c)),
        C::ServerError => match kind {
            Kind::UnsafeNoKey => Decision::Stop(StopReason::NotRepeatable),
            _ => retry(RetryReason::ServerError),
        },
        C::Unavailable => match kind {
            // A bare 503 may come from a gateway after the write ran.
            Kind::UnsafeNoKey => Decision::Stop(StopReason::WriteOutcomeUnknown),
            _ => retry(RetryReason::Unavailable),
        },
        C::Transport(SentState::NotSent) => retry(RetryReason::TransportNotSent),
        C::Transport(SentState::MaybeSent) => match kind {
            Kind::UnsafeNoKey => Decision::Stop(StopReason::NotRepeatable),
            _ => retry(RetryReason::TransportMaybeSent),
        },
        // An answer no rule covers (an unreadable 2xx, say) may follow a write that
        // ran: for a write, its outcome is unknown.
        C::Unrecognised => match kind {
            Kind::Safe => Decision::Stop(StopReason::Unrecognised),
            _ => Decision::Stop(StopReason::WriteOutcomeUnknown),
        },
        C::Success => Decision::Stop(StopReason::Succeeded),
        _ => unreachable!("no other classes"),
    }
}

fn same_kind(a: &Decision, b: &Decision) -> bool {
    match (a, b) {
        (Decision::Retry { reason: r1, .. }, Decision::Retry { reason: r2, .. }) => r1 == r2,
        _ => a == b,
    }
}

#[test]
fn a_write_that_may_have_run_never_ends_as_a_plain_refusal() {
    // Attempt 1 of a keyed write may have run (a 5xx); the repeats meet the rate
    // limit until the attempts run out. "Gave up on the rate limit" would read as
    // "not run", so the call ends as WriteOutcomeUnknown; a read ends as before.
    let policy = RetryPolicy::default();
    let now = Timestamp::from_unix_secs(1_777_530_000);
    let mut jitter = Jitter::new(5);
    let keyed = CallFacts::new(Repeat::Unsafe, true, 4).history(true, now, None);
    assert_eq!(
        policy.decide(OutcomeClass::RateLimited, &keyed, None, now, &mut jitter),
        Decision::Stop(StopReason::WriteOutcomeUnknown)
    );
    let read = CallFacts::new(Repeat::Safe, false, 4).history(true, now, None);
    assert_eq!(
        policy.decide(OutcomeClass::RateLimited, &read, None, now, &mut jitter),
        Decision::Stop(StopReason::AttemptsExhausted)
    );
    // The same after a later attempt is refused outright, or runs past the deadline.
    assert_eq!(
        policy.decide(
            OutcomeClass::Overloaded,
            &CallFacts::new(Repeat::Unsafe, true, 2).history(true, now, None),
            None,
            now,
            &mut jitter
        ),
        Decision::Stop(StopReason::WriteOutcomeUnknown)
    );
    let tight = CallFacts::new(Repeat::Unsafe, true, 1).history(true, now, Some(now));
    assert_eq!(
        policy.decide(OutcomeClass::RateLimited, &tight, None, now, &mut jitter),
        Decision::Stop(StopReason::WriteOutcomeUnknown)
    );
    // Nothing ran before and the answer says nothing ran: the refusal stands.
    let fresh = CallFacts::new(Repeat::Unsafe, true, 4).history(false, now, None);
    assert_eq!(
        policy.decide(OutcomeClass::RateLimited, &fresh, None, now, &mut jitter),
        Decision::Stop(StopReason::AttemptsExhausted)
    );
}

#[test]
fn policy_over_every_code_and_call_kind() {
    let policy = RetryPolicy::default();
    let now = Timestamp::from_unix_secs(1_777_530_000);
    let reset = Some(now.saturating_add(Duration::from_secs(30)));
    let mut jitter = Jitter::new(3);
    let mut observations: Vec<(Api, u16, Option<ErrorCode>)> = Vec::new();
    for (code, status, _) in table() {
        observations.push((Api::V3, status, Some(code.clone())));
        observations.push((Api::Classic, status, Some(code)));
    }
    for status in [200, 400, 401, 403, 404, 429, 500, 502, 503, 504] {
        observations.push((Api::V3, status, None));
        observations.push((Api::Classic, status, None));
        observations.push((Api::V3, status, Some(ErrorCode::from_wire("NEW_CODE"))));
    }
    let mut checked = 0;
    for (api, status, code) in &observations {
        let obs = match code {
            Some(code) => Observation::Error {
                status: *status,
                code,
            },
            None => Observation::BareStatus { status: *status },
        };
        let class = classify(*api, obs);
        for kind in [Kind::UnsafeNoKey, Kind::UnsafeWithKey, Kind::Safe] {
            let f = facts(kind, 1).oauth(true, false);
            let got = policy.decide(class, &f, reset, now, &mut jitter);
            let want = expected_decision(class, kind, now);
            assert!(
                same_kind(&got, &want),
                "{api:?} {status} {code:?} {kind:?}: got {got:?}, want {want:?}"
            );
            if let Decision::Retry { after, .. } = got {
                // First retry: between half and all of the 1 s base.
                assert!(after >= Duration::from_millis(500) && after <= Duration::from_secs(1));
            }
            checked += 1;
        }
    }
    assert!(checked > 400, "{checked}");
}

#[test]
fn transport_outcomes_for_every_call_kind() {
    let policy = RetryPolicy::default();
    let now = Timestamp::from_unix_secs(1_000);
    let mut j = Jitter::new(9);
    for kind in [Kind::UnsafeNoKey, Kind::UnsafeWithKey, Kind::Safe] {
        for sent in [SentState::NotSent, SentState::MaybeSent] {
            let class = C::Transport(sent);
            let got = policy.decide(class, &facts(kind, 1), None, now, &mut j);
            assert!(
                same_kind(&got, &expected_decision(class, kind, now)),
                "{kind:?} {sent:?}"
            );
        }
    }
}

#[test]
fn attempts_run_out() {
    let policy = RetryPolicy::default().max_attempts(3);
    let now = Timestamp::from_unix_secs(1_000);
    let mut j = Jitter::new(9);
    for (attempts, want_retry) in [(1, true), (2, true), (3, false), (4, false)] {
        let got = policy.decide(
            C::RateLimited,
            &facts(Kind::Safe, attempts),
            None,
            now,
            &mut j,
        );
        assert_eq!(
            matches!(got, Decision::Retry { .. }),
            want_retry,
            "after {attempts}: {got:?}"
        );
        if !want_retry {
            assert_eq!(got, Decision::Stop(StopReason::AttemptsExhausted));
        }
    }
}

#[test]
fn backoff_grows_with_attempts_within_bounds() {
    let policy = RetryPolicy::default().backoff(Duration::from_secs(1), Duration::from_secs(8));
    let now = Timestamp::from_unix_secs(1_000);
    let policy = policy.max_attempts(10);
    let mut j = Jitter::new(11);
    for (attempts, ceiling) in [(1, 1), (2, 2), (3, 4), (4, 8), (5, 8), (9, 8)] {
        let Decision::Retry { after, .. } = policy.decide(
            C::RateLimited,
            &facts(Kind::Safe, attempts),
            None,
            now,
            &mut j,
        ) else {
            panic!("expected a retry");
        };
        let ceiling = Duration::from_secs(ceiling);
        assert!(
            after >= ceiling / 2 && after <= ceiling,
            "{attempts}: {after:?}"
        );
    }
}

#[test]
fn operating_limit_waits_or_stops_with_the_reset_time() {
    let now = Timestamp::from_unix_secs(1_000);
    let mut j = Jitter::new(1);
    let f = facts(Kind::UnsafeNoKey, 1);
    let in_30 = now.saturating_add(Duration::from_secs(30));
    let in_31 = now.saturating_add(Duration::from_secs(31));
    let default = RetryPolicy::default();
    assert_eq!(default.reset_margin, Duration::from_secs(1));
    // The reported reset plus the reset margin (whole seconds, clock skew).
    assert_eq!(
        default.decide(C::OperatingLimit, &f, Some(in_30), now, &mut j),
        Decision::WaitUntil {
            until: in_31,
            reason: RetryReason::OperatingLimit
        }
    );
    assert_eq!(
        default.clone().reset_margin(Duration::ZERO).decide(
            C::OperatingLimit,
            &f,
            Some(in_30),
            now,
            &mut j
        ),
        Decision::WaitUntil {
            until: in_30,
            reason: RetryReason::OperatingLimit
        }
    );
    let short = RetryPolicy::default().max_operating_wait(Duration::from_secs(10));
    assert_eq!(
        short.decide(C::OperatingLimit, &f, Some(in_30), now, &mut j),
        Decision::Stop(StopReason::OperatingLimit { reset_at: in_31 })
    );
    // The margin counts towards the longest wait.
    assert_eq!(
        default
            .clone()
            .max_operating_wait(Duration::from_secs(30))
            .decide(C::OperatingLimit, &f, Some(in_30), now, &mut j),
        Decision::Stop(StopReason::OperatingLimit { reset_at: in_31 })
    );
    // No reset time known: the documented 60 s fallback.
    assert_eq!(
        default.decide(C::OperatingLimit, &f, None, now, &mut j),
        Decision::WaitUntil {
            until: now.saturating_add(Duration::from_secs(60)),
            reason: RetryReason::OperatingLimit
        }
    );
    // A reset time already in the past does not count as known.
    assert_eq!(
        short.decide(
            C::OperatingLimit,
            &f,
            Some(now.saturating_sub(Duration::from_secs(5))),
            now,
            &mut j
        ),
        Decision::Stop(StopReason::OperatingLimit {
            reset_at: now.saturating_add(Duration::from_secs(60))
        })
    );
}

#[test]
fn token_expiry_refreshes_once_and_only_with_oauth() {
    let policy = RetryPolicy::no_retries();
    let now = Timestamp::from_unix_secs(1_000);
    let mut j = Jitter::new(1);
    let base = facts(Kind::UnsafeNoKey, 1);
    assert_eq!(
        policy.decide(C::TokenExpired, &base.oauth(true, false), None, now, &mut j),
        Decision::RefreshToken,
        "a refresh is allowed even when retries are off"
    );
    assert_eq!(
        policy.decide(C::TokenExpired, &base.oauth(true, true), None, now, &mut j),
        Decision::Stop(StopReason::TokenRejected)
    );
    assert_eq!(
        policy.decide(
            C::TokenExpired,
            &base.oauth(false, false),
            None,
            now,
            &mut j
        ),
        Decision::Stop(StopReason::Rejected(ErrorClass::Auth))
    );
}

/// Every fact that used to be decided around the policy is decided in it.
#[test]
fn the_whole_decision_is_one_pure_function_of_the_facts() {
    use b24_core::engine::Timestamp;
    let policy = RetryPolicy::default();
    let now = Timestamp::from_unix_secs(10_000);
    let sent = Timestamp::from_unix_secs(9_990);
    let keyed = CallFacts::new(Repeat::Unsafe, true, 1).history(false, sent, None);
    let decide =
        |class, facts: &CallFacts| policy.decide(class, facts, None, now, &mut Jitter::new(1));

    // A keyed write that may still be running waits for the grace, from its send time.
    assert_eq!(
        decide(OutcomeClass::Transport(SentState::MaybeSent), &keyed),
        Decision::RetryAfterGrace {
            until: sent.saturating_add(policy.in_flight_grace),
            reason: RetryReason::TransportMaybeSent,
        }
    );
    // So does one behind a gateway's 502/504, not after another 5xx.
    let gateway = keyed.answer(true, false, false);
    assert!(matches!(
        decide(OutcomeClass::ServerError, &gateway),
        Decision::RetryAfterGrace { .. }
    ));
    assert!(matches!(
        decide(OutcomeClass::ServerError, &keyed),
        Decision::Retry { .. }
    ));
    // A grace past the deadline is no retry at all.
    let short = CallFacts::new(Repeat::Unsafe, true, 1).history(
        false,
        sent,
        Some(now.saturating_add(std::time::Duration::from_secs(5))),
    );
    assert_eq!(
        decide(OutcomeClass::Transport(SentState::MaybeSent), &short),
        Decision::Stop(StopReason::NotRepeatable)
    );
    // Any wait past the deadline ends the call.
    let tight = CallFacts::new(Repeat::Safe, false, 1).history(false, sent, Some(now));
    assert_eq!(
        decide(OutcomeClass::RateLimited, &tight),
        Decision::Stop(StopReason::DeadlineExceeded)
    );
    // A key refused as reused after a maybe-run attempt: the outcome is unknown; with
    // no earlier maybe-run attempt it is a plain refusal.
    let reused = CallFacts::new(Repeat::Unsafe, true, 2)
        .history(true, sent, None)
        .answer(false, true, false);
    let refused = OutcomeClass::Rejected(b24_core::types::ErrorClass::Validation);
    assert_eq!(
        decide(refused, &reused),
        Decision::Stop(StopReason::WriteOutcomeUnknown)
    );
    let first = CallFacts::new(Repeat::Unsafe, true, 1).answer(false, true, false);
    assert_eq!(
        decide(refused, &first),
        Decision::Stop(StopReason::Rejected(
            b24_core::types::ErrorClass::Validation
        ))
    );
    // An answer over the size cap is never fetched again, even for a read.
    let big = CallFacts::new(Repeat::Safe, false, 1).answer(false, false, true);
    assert_eq!(
        decide(OutcomeClass::Transport(SentState::MaybeSent), &big),
        Decision::Stop(StopReason::ResponseTooLarge)
    );
}
