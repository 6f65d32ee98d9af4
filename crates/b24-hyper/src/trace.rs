//! Tracing, behind the `tracing` feature. Spans, all at debug level, target
//! `b24_hyper`:
//!
//! | span | parent | fields |
//! |---|---|---|
//! | `b24.call` | the caller's | `method`; at the end `outcome` (the engine's stop reason), `attempts`, `replayed` |
//! | `b24.attempt` | `b24.call` | `attempt` (1 for the first); `status` or, for a transport failure, `failure` and `sent`; `class` (the engine's outcome class) |
//! | `b24.wait` | `b24.call` | `reason` (rate limit, budget spread or reset, backoff and why), `wait_ms` |
//! | `b24.refresh` | `b24.call` | `outcome` (`refreshed`, `already_refreshed`, `failed`) |
//!
//! Every engine event is also emitted at trace level inside the call span. Never a
//! URI, a host, a header value or a body: webhook URLs hold their secret in the path,
//! and bodies hold tokens. Field values are method names, numbers and enum names.
//! Without the feature every function here is an empty inline stub.

#[cfg(feature = "tracing")]
mod on {
    use std::future::Future;
    use std::time::Duration;

    use b24_core::engine::{Event, OutcomeClass, WaitReason};
    use tracing::field::{debug, Empty};
    use tracing::{Instrument, Span};

    use crate::error::TransportError;

    /// The span of one call.
    #[derive(Debug, Clone)]
    pub(crate) struct CallSpan(Span);

    impl CallSpan {
        pub(crate) fn new(method: &str) -> Self {
            Self(tracing::debug_span!(
                target: "b24_hyper",
                "b24.call",
                method = %method,
                outcome = Empty,
                attempts = Empty,
                replayed = Empty,
            ))
        }

        pub(crate) fn instrument<F: Future>(&self, fut: F) -> impl Future<Output = F::Output> {
            fut.instrument(self.0.clone())
        }

        /// Records what the engine reported; the `Finished` event fills the call's
        /// result fields.
        pub(crate) fn event(&self, attempt: Option<&AttemptSpan>, event: &Event) {
            tracing::trace!(target: "b24_hyper", event = ?event, "b24 engine event");
            match event {
                Event::AttemptEnded { class, .. } => {
                    if let Some(attempt) = attempt {
                        attempt.class(*class);
                    }
                }
                Event::Finished {
                    reason,
                    attempts,
                    replayed,
                } => {
                    self.0.record("outcome", debug(reason));
                    self.0.record("attempts", attempts);
                    self.0.record("replayed", replayed);
                }
                _ => {}
            }
        }
    }

    /// The span of one attempt.
    #[derive(Debug)]
    pub(crate) struct AttemptSpan(Span);

    impl AttemptSpan {
        pub(crate) fn new(attempt: u32) -> Self {
            Self(tracing::debug_span!(
                target: "b24_hyper",
                "b24.attempt",
                attempt,
                status = Empty,
                failure = Empty,
                sent = Empty,
                class = Empty,
            ))
        }

        pub(crate) fn instrument<F: Future>(&self, fut: F) -> impl Future<Output = F::Output> {
            fut.instrument(self.0.clone())
        }

        pub(crate) fn answered(&self, status: u16) {
            self.0.record("status", status);
        }

        pub(crate) fn failed(&self, err: &TransportError) {
            // The kind and sent state only: no source chain, no address.
            self.0.record("failure", err.kind_name());
            self.0.record("sent", debug(err.sent_state()));
        }

        fn class(&self, class: OutcomeClass) {
            self.0.record("class", debug(class));
        }
    }

    /// Sleeps for `pause` inside a `b24.wait` span.
    pub(crate) async fn wait(reason: WaitReason, pause: Duration) {
        let millis = u64::try_from(pause.as_millis()).unwrap_or(u64::MAX);
        let span = tracing::debug_span!(
            target: "b24_hyper",
            "b24.wait",
            reason = ?reason,
            wait_ms = millis,
        );
        tokio::time::sleep(pause).instrument(span).await;
    }

    /// The span of one token refresh.
    #[derive(Debug)]
    pub(crate) struct RefreshSpan(Span);

    impl RefreshSpan {
        pub(crate) fn new() -> Self {
            Self(tracing::debug_span!(
                target: "b24_hyper",
                "b24.refresh",
                outcome = Empty
            ))
        }

        pub(crate) fn instrument<F: Future>(&self, fut: F) -> impl Future<Output = F::Output> {
            fut.instrument(self.0.clone())
        }

        pub(crate) fn outcome(&self, outcome: &'static str) {
            self.0.record("outcome", outcome);
        }
    }
}

#[cfg(not(feature = "tracing"))]
mod on {
    use std::future::Future;
    use std::time::Duration;

    use b24_core::engine::{Event, WaitReason};

    use crate::error::TransportError;

    #[derive(Debug, Clone)]
    pub(crate) struct CallSpan;

    impl CallSpan {
        #[inline]
        pub(crate) fn new(_method: &str) -> Self {
            Self
        }

        #[inline]
        pub(crate) fn instrument<F: Future>(&self, fut: F) -> F {
            fut
        }

        #[inline]
        pub(crate) fn event(&self, _attempt: Option<&AttemptSpan>, _event: &Event) {}
    }

    #[derive(Debug)]
    pub(crate) struct AttemptSpan;

    impl AttemptSpan {
        #[inline]
        pub(crate) fn new(_attempt: u32) -> Self {
            Self
        }

        #[inline]
        pub(crate) fn instrument<F: Future>(&self, fut: F) -> F {
            fut
        }

        #[inline]
        pub(crate) fn answered(&self, _status: u16) {}

        #[inline]
        pub(crate) fn failed(&self, _err: &TransportError) {}
    }

    #[inline]
    pub(crate) async fn wait(_reason: WaitReason, pause: Duration) {
        tokio::time::sleep(pause).await;
    }

    #[derive(Debug)]
    pub(crate) struct RefreshSpan;

    impl RefreshSpan {
        #[inline]
        pub(crate) fn new() -> Self {
            Self
        }

        #[inline]
        pub(crate) fn instrument<F: Future>(&self, fut: F) -> F {
            fut
        }

        #[inline]
        pub(crate) fn outcome(&self, _outcome: &'static str) {}
    }
}

pub(crate) use on::*;
