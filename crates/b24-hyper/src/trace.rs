//! Tracing, behind the `tracing` feature: a span per call with the method name, an
//! event per attempt (attempt number, status or failure kind), per wait (reason,
//! duration) and per engine event. Never a URI, a header value or a body: webhook
//! URLs hold their secret in the path, and bodies hold tokens.

#[cfg(feature = "tracing")]
mod on {
    use std::time::Duration;

    use b24_core::engine::{Event, WaitReason};

    use crate::error::TransportError;

    pub(crate) type Span = tracing::Span;

    pub(crate) fn call_span(method: &str) -> Span {
        tracing::debug_span!("b24.call", method = %method)
    }

    pub(crate) fn instrument<F: std::future::Future>(
        span: Span,
        fut: F,
    ) -> impl std::future::Future<Output = F::Output> {
        tracing::Instrument::instrument(fut, span)
    }

    pub(crate) fn attempt_answered(attempt: u32, status: u16) {
        tracing::debug!(attempt, status, "b24 attempt answered");
    }

    pub(crate) fn attempt_failed(attempt: u32, err: &TransportError) {
        // The error's Display holds no URI; its kind and sent state are enough.
        tracing::debug!(attempt, error = %err, sent = ?err.sent_state(), "b24 attempt failed");
    }

    pub(crate) fn waiting(reason: WaitReason, pause: Duration) {
        tracing::debug!(reason = ?reason, wait_ms = pause.as_millis() as u64, "b24 waiting");
    }

    pub(crate) fn refreshing() {
        tracing::debug!("b24 refreshing the access token");
    }

    pub(crate) fn event(event: &Event) {
        // Events hold no secret and no URI (b24-core guarantees it).
        tracing::trace!(event = ?event, "b24 engine event");
    }
}

#[cfg(not(feature = "tracing"))]
mod on {
    use std::time::Duration;

    use b24_core::engine::{Event, WaitReason};

    use crate::error::TransportError;

    pub(crate) struct Span;

    pub(crate) fn call_span(_method: &str) -> Span {
        Span
    }

    pub(crate) fn instrument<F: std::future::Future>(_span: Span, fut: F) -> F {
        fut
    }

    pub(crate) fn attempt_answered(_attempt: u32, _status: u16) {}

    pub(crate) fn attempt_failed(_attempt: u32, _err: &TransportError) {}

    pub(crate) fn waiting(_reason: WaitReason, _pause: Duration) {}

    pub(crate) fn refreshing() {}

    pub(crate) fn event(_event: &Event) {}
}

pub(crate) use on::*;
