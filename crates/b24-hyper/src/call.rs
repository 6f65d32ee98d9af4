//! Running one call: every call goes through the core's [`Exchange`], which decides
//! about limits, retries, idempotency keys and tokens. This module only carries its
//! decisions out: it sends, sleeps, and awaits the store operations it asks for.

use b24_core::engine::{
    wait_duration, Action, Exchange, ExchangeOptions, Purpose, RetryPolicy, StoreOutcome,
    TransportFailure,
};
use b24_core::methods::{BatchV3, RawCall};
use b24_core::registry::CredentialId;
use b24_core::{IdempotencyKey, Method, Portal, Reply};
use bytes::Bytes;

use crate::builder::limit_policy;
use crate::client::{now, Client, Inner};
use crate::connect::check_scheme_parts;
use crate::error::{Error, TransportError};
use crate::trace;

/// Per-call options: the idempotency key and the retry policy.
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct CallOptions {
    key: KeyChoice,
    policy: Option<RetryPolicy>,
}

#[derive(Debug, Clone, Default)]
enum KeyChoice {
    #[default]
    Auto,
    Off,
    Key(IdempotencyKey),
}

impl CallOptions {
    /// The defaults: a generated `Idempotency-Key` for REST 3.0 writes, the client's
    /// retry policy.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sends this `Idempotency-Key` on every attempt (REST 3.0 methods only): a call
    /// repeated later with the same key and body gets the stored answer back.
    pub fn idempotency_key(mut self, key: IdempotencyKey) -> Self {
        self.key = KeyChoice::Key(key);
        self
    }

    /// Sends no `Idempotency-Key`: a write that may have run is then never repeated.
    pub fn without_idempotency_key(mut self) -> Self {
        self.key = KeyChoice::Off;
        self
    }

    /// Uses this retry policy for the call instead of the client's. A deadline above
    /// [`MAX_TIMEOUT`](crate::MAX_TIMEOUT) (such as [`Duration::MAX`](std::time::Duration::MAX))
    /// means no limit and is cut to it.
    pub fn policy(mut self, policy: RetryPolicy) -> Self {
        self.policy = Some(policy);
        self
    }
}

impl Client {
    /// Runs any method against a portal and returns its typed reply.
    ///
    /// The call is paced by the portal's request-rate limiter and operating budgets,
    /// retried only where the core's policy says it is safe, and refreshes an expired
    /// OAuth token once. All of that is decided by `b24-core`.
    ///
    /// # Errors
    ///
    /// [`Error::Core`] for bad input, an API error, an unreadable answer, a transport
    /// failure the call could not recover from (its source is the [`TransportError`]),
    /// a spent deadline or operating budget; [`Error::Transport`] when the portal's
    /// address is refused before anything is sent (plain http).
    pub async fn execute<M>(&self, portal: &Portal, method: M) -> Result<Reply<M::Output>, Error>
    where
        M: Method + Send,
        M::Output: Send,
    {
        self.execute_with(portal, method, CallOptions::new()).await
    }

    /// As [`execute`](Self::execute), with per-call options.
    ///
    /// # Errors
    ///
    /// As [`execute`](Self::execute).
    pub async fn execute_with<M>(
        &self,
        portal: &Portal,
        method: M,
        options: CallOptions,
    ) -> Result<Reply<M::Output>, Error>
    where
        M: Method + Send,
        M::Output: Send,
    {
        let inner = &*self.inner;
        let settings = &inner.settings;
        // Refused before any state is touched or any connection opened.
        check_scheme_parts(
            portal.scheme().as_str(),
            portal.authority().host(),
            settings.allow_plain_loopback,
        )
        .map_err(|_| Error::Transport(TransportError::InsecureScheme))?;

        let credential = CredentialId::of(portal, self.oauth_user.as_ref());
        let lease = inner.registry.lease(portal, &credential, now());
        let policy = limit_policy(options.policy.unwrap_or_else(|| settings.policy.clone()));
        let policy = policy.or_deadline(settings.call_deadline);
        let mut exchange_options = ExchangeOptions::new()
            .policy(policy)
            .user_agent_value(settings.user_agent.clone());
        exchange_options = match options.key {
            KeyChoice::Auto => exchange_options,
            KeyChoice::Off => exchange_options.without_idempotency_key(),
            KeyChoice::Key(key) => exchange_options.idempotency_key(key),
        };
        let mut exchange = Exchange::with_options(portal, method, lease.state(), exchange_options)?;
        let span = trace::CallSpan::new(exchange.method_name());
        let result = span.instrument(drive(inner, &mut exchange, &span)).await;
        drop(lease);
        result
    }

    /// Runs a method by name with JSON parameters (any REST 3.0 or classic method).
    ///
    /// # Errors
    ///
    /// As [`execute`](Self::execute).
    pub async fn call(
        &self,
        portal: &Portal,
        raw: RawCall,
    ) -> Result<Reply<serde_json::Value>, Error> {
        self.execute(portal, raw).await
    }

    /// Runs a REST 3.0 batch: the results in command order. The portal reports the
    /// first failing command's error for the whole batch.
    ///
    /// # Errors
    ///
    /// As [`execute`](Self::execute).
    pub async fn batch(
        &self,
        portal: &Portal,
        batch: BatchV3,
    ) -> Result<Reply<Vec<serde_json::Value>>, Error> {
        self.execute(portal, batch).await
    }
}

/// What a drive of an exchange saw besides its result: the last answer's body (for
/// callers that read more of it than the typed reply, the bulk planner) and the waits.
#[derive(Debug, Default)]
pub(crate) struct DriveLog {
    pub(crate) last_body: Option<Bytes>,
    pub(crate) waits: u64,
    pub(crate) waited: std::time::Duration,
}

/// The loop of the engine's contract: poll, carry out, report back. Each send gets
/// the time left to the engine's deadline that travels with it (within the adapter's
/// per-attempt timeout); waits are slept as the engine says; store operations are
/// awaited (each is bounded by its store's own time limit).
async fn drive<M>(
    inner: &Inner,
    exchange: &mut Exchange<M>,
    span: &trace::CallSpan,
) -> Result<Reply<M::Output>, Error>
where
    M: Method,
{
    drive_logged(inner, exchange, span, &mut DriveLog::default())
        .await
        .map_err(Error::from)
}

/// As [`drive`], recording what [`DriveLog`] holds.
pub(crate) async fn drive_logged<M>(
    inner: &Inner,
    exchange: &mut Exchange<M>,
    span: &trace::CallSpan,
    log: &mut DriveLog,
) -> Result<Reply<M::Output>, b24_core::Error>
where
    M: Method,
{
    loop {
        let mut attempt_span = None;
        let action = exchange.poll(now());
        let outcome = match action {
            Action::Send(outgoing) if outgoing.purpose() == Purpose::TokenRefresh => {
                let refresh = trace::RefreshSpan::new();
                let left = outgoing.time_left(now());
                let sent = refresh
                    .instrument(crate::transport::send_attempt(
                        inner,
                        outgoing.into_request(),
                        left,
                    ))
                    .await;
                match sent {
                    Ok(response) => {
                        refresh.outcome(if response.status().is_success() {
                            "answered"
                        } else {
                            "refused"
                        });
                        exchange.handle_response(response, now());
                    }
                    Err(err) => {
                        refresh.outcome("failed");
                        exchange.handle_transport_error(to_failure(err), now());
                    }
                }
                None
            }
            Action::Send(outgoing) => {
                let attempt = trace::AttemptSpan::new(exchange.attempts());
                let left = outgoing.time_left(now());
                let sent = attempt.instrument(crate::transport::send_attempt(
                    inner,
                    outgoing.into_request(),
                    left,
                ));
                match sent.await {
                    Ok(response) => {
                        attempt.answered(response.status().as_u16());
                        log.last_body = Some(response.body().clone());
                        exchange.handle_response(response, now());
                    }
                    Err(err) => {
                        attempt.failed(&err);
                        log.last_body = None;
                        exchange.handle_transport_error(to_failure(err), now());
                    }
                }
                attempt_span = Some(attempt);
                None
            }
            Action::Wait { until, reason } => {
                let pause = wait_duration(now(), until);
                log.waits += 1;
                log.waited += pause;
                trace::wait(reason, pause).await;
                None
            }
            Action::Store(task) if task.is_detachable() => {
                // A write after the call's outcome is settled (a reported operating
                // time): the store's round trip runs on, the call returns now.
                tokio::spawn(async move {
                    let _ = task.await;
                });
                exchange.handle_store(StoreOutcome::detached(), now());
                None
            }
            Action::Store(task) => {
                let outcome = task.await;
                exchange.handle_store(outcome, now());
                None
            }
            Action::Done(result) => Some(result),
            _ => Some(Err(b24_core::Error::ExchangeMisuse(
                "the engine asked for an action this adapter does not know",
            ))),
        };
        while let Some(event) = exchange.poll_event() {
            span.event(attempt_span.as_ref(), &event);
        }
        if let Some(result) = outcome {
            return result;
        }
    }
}

/// The engine's view of a transport failure; the typed error rides along as the
/// source.
pub(crate) fn to_failure(err: TransportError) -> TransportFailure {
    err.into()
}
