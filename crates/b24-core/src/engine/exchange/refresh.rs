//! The token refresh inside an exchange, after a 401 or an expired-token error.
//!
//! 1. Ask the token store for the turn to refresh the refused generation
//!    ([`TokenStore::begin_refresh`](super::super::TokenStore::begin_refresh)): someone
//!    else may have refreshed already (replay with theirs), or may be refreshing now
//!    (wait and ask again: the lease bounds the wait if they crashed).
//! 2. With the turn, send the refresh request to the OAuth server
//!    ([`Purpose::TokenRefresh`]), within the lease.
//! 3. Store the new pair by compare-and-swap on the generation, which ends the lease;
//!    replay the call with it.
//!
//! A refresh is never retried: a failed one ends the call (the stored pair is left as
//! it was, for the next call). An error answer after which the store is found to have
//! moved on (another holder refreshed with the same refresh token first) replays with
//! the newer pair instead of failing.

use std::time::Duration;

use bytes::Bytes;

use super::{Answer, Exchange, Phase};
use crate::engine::event::{Event, WaitReason};
use crate::engine::oauth::{parse_token_answer, RefreshError, RefreshFailure};
use crate::engine::policy::{RetryReason, StopReason};
use crate::engine::store::{RefreshLease, RefreshTurn, StaleOr};
use crate::engine::token::{TokenGeneration, TokenSet};
use crate::engine::transport::TransportFailure;
use crate::engine::Timestamp;
use crate::error::{Error, InputError};
use crate::method::Method;

/// How long a refresh turn is held at most by default
/// ([`RetryPolicy::refresh_lease`](crate::engine::RetryPolicy::refresh_lease)): long enough for one refresh request on a
/// slow network, short enough that a crashed holder does not stall the others long.
pub const REFRESH_LEASE: Duration = Duration::from_secs(30);

impl<M: Method> Exchange<M> {
    /// Asks the token store for the turn to refresh `stale`.
    pub(super) fn begin_refresh(&mut self, stale: TokenGeneration, now: Timestamp) {
        if self.deadline.is_some_and(|d| now >= d) {
            self.finish_deadline();
            return;
        }
        let Some(store) = self.state.tokens().cloned() else {
            self.finish(
                Err(InputError::MissingAccessToken.into()),
                StopReason::TokenRefreshFailed,
            );
            return;
        };
        if self.state.app().is_none() {
            let err = InputError::param(
                "oauth_app",
                "refreshing a token needs the OAuth application's credentials",
            );
            self.finish(Err(err.into()), StopReason::TokenRefreshFailed);
            return;
        }
        let lease = self
            .policy
            .refresh_lease
            .max(std::time::Duration::from_millis(1));
        let call = store.begin_refresh(stale, self.holder, now, lease);
        self.run(call, Answer::Turn, now);
    }

    pub(super) fn on_turn(&mut self, turn: RefreshTurn, now: Timestamp) {
        match turn {
            RefreshTurn::Granted { lease, tokens } => {
                let request = self.state.app().map(|app| {
                    app.refresh_request(tokens.refresh_token(), tokens.server_endpoint())
                });
                match request {
                    Some(Ok(request)) => self.phase = Phase::RefreshSend { request, lease },
                    Some(Err(err)) => self.refresh_failed_with(err, &lease),
                    None => self.refresh_failed_with(
                        InputError::param("oauth_app", "no OAuth application").into(),
                        &lease,
                    ),
                }
            }
            RefreshTurn::AlreadyRefreshed(generation) => self.refreshed(generation),
            RefreshTurn::Busy { retry_at } => {
                if self.deadline.is_some_and(|d| retry_at > d) {
                    self.finish_deadline();
                    return;
                }
                self.record_wait(now, retry_at, WaitReason::TokenRefresh);
                self.phase = Phase::RefreshTurn {
                    stale: self.sent_token,
                    not_before: Some(retry_at),
                };
            }
            RefreshTurn::Empty => self.finish(
                Err(Error::TokenRefresh(RefreshError::new(
                    RefreshFailure::NoRefreshToken,
                    None,
                ))),
                StopReason::TokenRefreshFailed,
            ),
        }
    }

    /// The OAuth server's answer to the refresh request.
    pub(super) fn on_refresh_answer(
        &mut self,
        response: &http::Response<Bytes>,
        lease: RefreshLease,
        now: Timestamp,
    ) {
        let Some(store) = self.state.tokens().cloned() else {
            self.finish(
                Err(InputError::MissingAccessToken.into()),
                StopReason::TokenRefreshFailed,
            );
            return;
        };
        match parse_token_answer(response) {
            Ok(answer) => {
                let fresh = TokenSet::from_response(answer, now);
                let call = store.replace(lease.generation(), fresh);
                self.run(call, Answer::Replaced, now);
            }
            Err(err) => {
                // Someone may have refreshed with the same refresh token first (their
                // lease had passed to us after expiring): read the store again.
                self.refresh_failed = Some((err, lease));
                self.run(store.current(), Answer::Token, now);
            }
        }
    }

    /// The store read after a failed refresh answer.
    pub(super) fn on_recheck(&mut self, current: Option<TokenSet>) {
        let Some((err, lease)) = self.refresh_failed.take() else {
            return;
        };
        match current {
            Some(pair) if pair.generation() != lease.generation() => {
                self.refreshed(pair.generation());
            }
            _ => self.refresh_failed_with(err, &lease),
        }
    }

    /// The refresh request could not be sent or answered.
    pub(super) fn on_refresh_failure(&mut self, failure: TransportFailure, lease: RefreshLease) {
        let (sent, kind, source) = failure.into_parts();
        self.refresh_failed_with(Error::Transport { kind, sent, source }, &lease);
    }

    pub(super) fn on_replaced(&mut self, replaced: StaleOr<TokenSet>) {
        match replaced {
            Ok(stored) => self.refreshed(stored.generation()),
            // Another holder stored a pair meanwhile (ours came after its lease): use
            // theirs, the store's.
            Err(stale) => self.refreshed(stale.current),
        }
    }

    fn refresh_failed_with(&mut self, err: Error, lease: &RefreshLease) {
        if let Some(store) = self.state.tokens().cloned() {
            let call = store.end_refresh(lease);
            self.write(call);
        }
        self.finish(Err(err), StopReason::TokenRefreshFailed);
    }

    fn refreshed(&mut self, generation: TokenGeneration) {
        self.token_refreshed = true;
        self.events.push_back(Event::TokenRefreshed { generation });
        self.events.push_back(Event::Retrying {
            next_attempt: self.attempts.saturating_add(1),
            reason: RetryReason::TokenRefreshed,
        });
        self.last_error = None;
        self.phase = Phase::Ready {
            not_before: None,
            reason: WaitReason::RateLimit,
            budget_cleared: false,
        };
    }
}
