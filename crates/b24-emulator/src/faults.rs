//! Scripted faults: answer the next calls with a given status and body, delay them,
//! make the portal slow to run them, drop the connection, truncate the body, or apply
//! the call and then drop.

use std::time::Duration;

use bytes::Bytes;

/// What a fault does to a call it matches.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum FaultAction {
    /// Answer with this status, body and content type instead of running the call.
    Respond {
        /// HTTP status.
        status: u16,
        /// Body bytes, sent as is.
        body: Bytes,
        /// `Content-Type` header value.
        content_type: String,
        /// Extra headers (e.g. `Retry-After`).
        headers: Vec<(String, String)>,
    },
    /// Wait this long, then handle the call normally. The wait comes before the
    /// portal looks at the call at all (as if the request were slow in transit), so
    /// a repeat that arrives meanwhile is handled first, and the delayed call, once
    /// it runs, finds the repeat's stored idempotent answer.
    Delay(Duration),
    /// Accept the call at once (transport checks, request limit, auth and the
    /// `Idempotency-Key` lookup), then spend this long running it: the write is
    /// applied and its idempotent answer stored only when the time has passed. See
    /// [`Fault::slow`].
    Slow(Duration),
    /// Close the connection before answering; the call has no effect.
    Close,
    /// Run the call, send the headers with the full `Content-Length`, send only
    /// half of the body, then close.
    Truncate,
    /// Run the call (its effect is stored), then close the connection without an answer.
    ApplyThenClose,
}

/// One scripted fault: an action, which calls it applies to, and how many times.
///
/// ```
/// use b24_emulator::Fault;
/// use serde_json::json;
///
/// // The next two calls of `tasks.task.result.add` get a 503 QUERY_LIMIT_EXCEEDED.
/// let fault = Fault::respond(503, json!({"error":"QUERY_LIMIT_EXCEEDED","error_description":"Too many requests"}))
///     .on("tasks.task.result.add")
///     .times(2);
/// # let _ = fault;
/// ```
#[derive(Debug, Clone)]
pub struct Fault {
    pub(crate) method: Option<String>,
    pub(crate) remaining: u32,
    pub(crate) action: FaultAction,
}

impl Fault {
    /// Answer with `status` and a JSON body.
    pub fn respond(status: u16, body: serde_json::Value) -> Self {
        Self::respond_raw(status, "application/json; charset=utf-8", body.to_string())
    }

    /// Answer with `status` and any body (e.g. an HTML page from a proxy).
    pub fn respond_raw(status: u16, content_type: &str, body: impl Into<Bytes>) -> Self {
        Self::new(FaultAction::Respond {
            status,
            body: body.into(),
            content_type: content_type.to_owned(),
            headers: Vec::new(),
        })
    }

    /// Delay the call, then handle it normally: the portal sees it only after `by`
    /// (for a portal slow to run an accepted call, see [`Fault::slow`]).
    pub fn delay(by: Duration) -> Self {
        Self::new(FaultAction::Delay(by))
    }

    /// The portal is slow to run the call: it is accepted at once (transport checks,
    /// the request limit, auth and the `Idempotency-Key` lookup happen on arrival),
    /// then the method takes `by` before its write is applied and, for a keyed write,
    /// its answer is stored for replay.
    ///
    /// The portal is not locked meanwhile, so other calls are handled, a repeat with
    /// the same key included: it finds no stored answer yet and runs too. That is the
    /// documented behaviour "two concurrent requests with the same key may both run".
    /// Whichever finishes last leaves its answer stored. The run goes on when the
    /// client stops waiting or the connection closes, as a server-side request does.
    /// For the OAuth token endpoint it acts as [`Fault::delay`].
    ///
    /// ```
    /// use std::time::Duration;
    /// use b24_emulator::Fault;
    ///
    /// // The next `tasks.task.result.add` takes 400 ms to apply.
    /// let fault = Fault::slow(Duration::from_millis(400)).on("tasks.task.result.add");
    /// # let _ = fault;
    /// ```
    pub fn slow(by: Duration) -> Self {
        Self::new(FaultAction::Slow(by))
    }

    /// Close the connection before answering (the call has no effect).
    pub fn close() -> Self {
        Self::new(FaultAction::Close)
    }

    /// Send a truncated body (`Content-Length` larger than what is sent), then close.
    /// The call itself runs.
    pub fn truncate() -> Self {
        Self::new(FaultAction::Truncate)
    }

    /// Run the call (the write happens), then close the connection without answering.
    pub fn apply_then_close() -> Self {
        Self::new(FaultAction::ApplyThenClose)
    }

    /// A fault with any action.
    pub fn new(action: FaultAction) -> Self {
        Self {
            method: None,
            remaining: 1,
            action,
        }
    }

    /// Only calls of this method (e.g. `tasks.task.result.add`, `im.message.add`,
    /// `batch`, `oauth.token` for the token endpoint). Without it, any call matches.
    pub fn on(mut self, method: &str) -> Self {
        self.method = Some(method.to_ascii_lowercase());
        self
    }

    /// How many matching calls it applies to (default 1).
    pub fn times(mut self, n: u32) -> Self {
        self.remaining = n;
        self
    }

    /// Adds a header to a `Respond` fault (ignored for other actions).
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        if let FaultAction::Respond { headers, .. } = &mut self.action {
            headers.push((name.to_owned(), value.to_owned()));
        }
        self
    }

    /// The action.
    pub fn action(&self) -> &FaultAction {
        &self.action
    }
}

/// The queue of faults of one portal.
#[derive(Debug, Default)]
pub(crate) struct FaultQueue {
    faults: Vec<Fault>,
}

impl FaultQueue {
    pub(crate) fn push(&mut self, fault: Fault) {
        if fault.remaining > 0 {
            self.faults.push(fault);
        }
    }

    pub(crate) fn clear(&mut self) {
        self.faults.clear();
    }

    pub(crate) fn len(&self) -> usize {
        self.faults.len()
    }

    /// Takes the first fault that matches `method`, counting one use.
    pub(crate) fn take(&mut self, method: &str) -> Option<FaultAction> {
        let idx = self
            .faults
            .iter()
            .position(|f| f.method.as_deref().is_none_or(|m| m == method))?;
        let fault = self.faults.get_mut(idx)?;
        fault.remaining = fault.remaining.saturating_sub(1);
        let action = fault.action.clone();
        if fault.remaining == 0 {
            self.faults.remove(idx);
        }
        Some(action)
    }
}
