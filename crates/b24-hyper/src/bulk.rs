//! [`Client::bulk`]: any number of commands through planned batches, as a stream of
//! outcomes mapped to their inputs.
//!
//! The planning is `b24-core`'s [`Bulk`] (chunking, chains, body bounds, the API per
//! command, outcomes, budgets, retry safety); this module only sends the batches it
//! plans, each through the engine like any call, and sleeps when it says wait.

use std::fmt;
use std::future::Future as _;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use b24_core::bulk::{
    BatchId, BatchOutput, Bulk, BulkConfig, BulkError, Completed, Order, PlannedBatch, Progress,
    Step,
};
use b24_core::engine::{wait_duration, Exchange, ExchangeOptions, RetryPolicy};
use b24_core::methods::{ClassicBatch, ClassicBatchResult};
use b24_core::registry::CredentialId;
use b24_core::{Method, Portal, Reply};
use bytes::Bytes;
use futures_core::Stream;
use tokio::sync::mpsc;

use crate::builder::limit_policy;
use crate::call::DriveLog;
use crate::client::{now, Client};
use crate::connect::check_scheme_parts;
use crate::error::Error;
use crate::trace;

impl Client {
    /// Runs any number of commands against a portal in batches: up to 50 commands a
    /// batch, under a body-size bound, REST 3.0 commands in REST 3.0 batches and
    /// classic ones in classic batches. Returns a stream with one outcome per
    /// command, in input order, each with the command handed back.
    ///
    /// ```no_run
    /// # async fn run(client: b24_hyper::Client, portal: b24_core::Portal) -> Result<(), Box<dyn std::error::Error>> {
    /// use b24_core::bulk::Outcome;
    /// use b24_core::methods::TaskResultAddFromChatMessage;
    /// use b24_core::types::MessageId;
    ///
    /// let messages = [335, 336, 337];
    /// let calls = messages
    ///     .iter()
    ///     .map(|id| MessageId::new(*id).map(TaskResultAddFromChatMessage::new))
    ///     .collect::<Result<Vec<_>, _>>()?;
    /// let mut outcomes = client.bulk(&portal, calls)?;
    /// while let Some(done) = std::future::poll_fn(|cx| {
    ///     std::pin::Pin::new(&mut outcomes).poll_next_outcome(cx)
    /// }).await {
    ///     match done.outcome {
    ///         Outcome::Done(result) => println!("message {} -> result {}", done.command.message_id(), result.id),
    ///         other => println!("message {}: {other:?}", done.command.message_id()),
    ///     }
    /// }
    /// println!("{:?}", outcomes.progress());
    /// # Ok(()) }
    /// ```
    ///
    /// Commands are planned with the defaults ([`BulkConfig`]) and the client's
    /// operating-time budget rules; use [`bulk_with`](Self::bulk_with) for keys,
    /// references between commands and other settings. The module docs of
    /// [`b24_core::bulk`] say what each outcome means and when a command is sent
    /// again.
    ///
    /// # Errors
    ///
    /// [`BulkError`] for a command that cannot go into a batch (invalid, too large);
    /// nothing is sent then.
    pub fn bulk<M, I>(&self, portal: &Portal, commands: I) -> Result<BulkStream<M>, BulkError>
    where
        M: Method,
        I: IntoIterator<Item = M>,
    {
        let mut plan = Bulk::with_config(BulkConfig::new());
        for command in commands {
            plan.push(command)?;
        }
        Ok(self.bulk_with(portal, plan))
    }

    /// Runs a planned set of commands (pushed with keys, linked by references, with
    /// its own [`BulkConfig`]) as [`bulk`](Self::bulk) does. The planner applies the
    /// client's operating-time budget rules ([`ClientBuilder::budget`](crate::ClientBuilder::budget)),
    /// the ones the budget store enforces.
    pub fn bulk_with<M: Method>(&self, portal: &Portal, mut plan: Bulk<M>) -> BulkStream<M> {
        plan.set_budget(self.inner.settings.budget);
        let (tx, rx) = mpsc::unbounded_channel();
        BulkStream {
            client: self.clone(),
            portal: portal.clone(),
            plan: Box::new(plan),
            policy: None,
            tx,
            rx,
            sleep: None,
            waits: 0,
            waited: Duration::ZERO,
            cancel: Arc::new(CancelState::default()),
            cancel_seen: false,
        }
    }

    /// Runs a classic batch: each command's result or error under its key
    /// (`client.execute(portal, batch)` by another name).
    ///
    /// # Errors
    ///
    /// As [`execute`](Self::execute); the commands' own errors are in the result, not
    /// here.
    pub async fn classic_batch(
        &self,
        portal: &Portal,
        batch: ClassicBatch,
    ) -> Result<Reply<ClassicBatchResult>, Error> {
        self.execute(portal, batch).await
    }
}

/// How far a [`BulkStream`] has come: the planner's [`Progress`], and the waits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BulkProgress {
    /// Commands, batches and outcomes so far.
    pub plan: Progress,
    /// Sleeps so far: the engine's in each batch (the request bucket, a budget spread
    /// or hold, a backoff) and the planner's (every pending command held for a
    /// budget).
    pub waits: u64,
    /// Their total length.
    pub waited: Duration,
}

#[derive(Debug, Default)]
struct CancelState {
    cancelled: AtomicBool,
    waker: Mutex<Option<Waker>>,
}

impl CancelState {
    fn cancel(&self) {
        self.cancelled.store(true, Ordering::SeqCst);
        let waker = self
            .waker
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    fn register(&self, waker: &Waker) {
        let mut slot = self.waker.lock().unwrap_or_else(PoisonError::into_inner);
        match slot.as_ref() {
            Some(w) if w.will_wake(waker) => {}
            _ => *slot = Some(waker.clone()),
        }
    }
}

/// Cancels a [`BulkStream`] from anywhere (another task, a signal handler).
#[derive(Debug, Clone)]
pub struct BulkCancel(Arc<CancelState>);

impl BulkCancel {
    /// Stops the run: see [`BulkStream::cancel`].
    pub fn cancel(&self) {
        self.0.cancel();
    }
}

/// What a batch's task hands back.
struct Finished {
    id: BatchId,
    result: Result<Reply<BatchOutput>, b24_core::Error>,
    last_body: Option<Bytes>,
    waits: u64,
    waited: Duration,
}

/// The stream [`Client::bulk`] returns: one [`Completed`] per command (its id, key,
/// the command itself and its [`Outcome`](b24_core::bulk::Outcome)), in input order
/// unless [`in_completion_order`](Self::in_completion_order) was asked for; it ends
/// after the last one.
///
/// Nothing is sent until the stream is polled. Each batch runs in a task of its own
/// (the calling runtime's), through the engine like any call: paced by the portal's
/// request bucket and operating budgets, retried only where that is safe. At most
/// [`BulkConfig::max_in_flight`] commands are in batches sent and not answered.
///
/// **Cancellation.** [`cancel`](Self::cancel) (or a [`BulkCancel`] from
/// [`cancel_handle`](Self::cancel_handle)) stops planning: every command not sent
/// yet ends as [`NotRun::Cancelled`](b24_core::bulk::NotRun::Cancelled), the
/// batches in flight are answered and reported in full, then the stream ends. No
/// batch is half reported. Dropping the stream instead lets the batches in flight
/// finish in their tasks (none is cut off halfway) and drops their outcomes.
#[must_use = "streams do nothing unless polled"]
pub struct BulkStream<M: Method> {
    client: Client,
    portal: Portal,
    /// Boxed, so that the stream is `Unpin` whatever the method type.
    plan: Box<Bulk<M>>,
    policy: Option<RetryPolicy>,
    tx: mpsc::UnboundedSender<Finished>,
    rx: mpsc::UnboundedReceiver<Finished>,
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
    waits: u64,
    waited: Duration,
    cancel: Arc<CancelState>,
    cancel_seen: bool,
}

impl<M: Method> fmt::Debug for BulkStream<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BulkStream")
            .field("portal", &self.portal)
            .field("plan", &self.plan)
            .field("waits", &self.waits)
            .finish_non_exhaustive()
    }
}

impl<M: Method> BulkStream<M> {
    /// Hands out outcomes as they become known rather than in input order (before
    /// the first poll).
    pub fn in_completion_order(mut self) -> Self {
        self.plan.set_order(Order::Completion);
        self
    }

    /// Caps the commands in batches sent and not yet answered (at least 1; default
    /// two batches' worth, 100).
    pub fn max_in_flight(mut self, commands: usize) -> Self {
        self.plan.set_max_in_flight(commands);
        self
    }

    /// Runs each batch with this retry policy instead of the client's.
    pub fn policy(mut self, policy: RetryPolicy) -> Self {
        self.policy = Some(policy);
        self
    }

    /// How far the run has come.
    pub fn progress(&self) -> BulkProgress {
        BulkProgress {
            plan: self.plan.progress(),
            waits: self.waits,
            waited: self.waited,
        }
    }

    /// Stops the run; see the type docs. The stream still hands out every outcome.
    pub fn cancel(&mut self) {
        self.cancel.cancel();
    }

    /// A handle that cancels this stream from elsewhere.
    pub fn cancel_handle(&self) -> BulkCancel {
        BulkCancel(Arc::clone(&self.cancel))
    }

    /// The next outcome, as [`Stream::poll_next`] (for callers without a stream
    /// extension trait: `std::future::poll_fn(|cx| Pin::new(&mut s).poll_next_outcome(cx)).await`).
    pub fn poll_next_outcome(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Completed<M, M::Output>>> {
        self.poll_next(cx)
    }

    fn spawn(&self, batch: PlannedBatch) {
        let client = self.client.clone();
        let portal = self.portal.clone();
        let policy = self.policy.clone();
        let tx = self.tx.clone();
        tokio::spawn(async move {
            let finished = run_batch(&client, &portal, batch, policy).await;
            // The stream may be gone: the batch ran in full anyway.
            let _ = tx.send(finished);
        });
    }
}

impl<M: Method> Stream for BulkStream<M> {
    type Item = Completed<M, M::Output>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        this.cancel.register(cx.waker());
        loop {
            if let Some(completed) = this.plan.next_outcome() {
                return Poll::Ready(Some(completed));
            }
            if !this.cancel_seen && this.cancel.cancelled.load(Ordering::SeqCst) {
                this.cancel_seen = true;
                this.sleep = None;
                this.plan.cancel();
                continue;
            }
            if let Poll::Ready(Some(finished)) = this.rx.poll_recv(cx) {
                this.waits += finished.waits;
                this.waited += finished.waited;
                this.plan.complete(
                    finished.id,
                    finished.result,
                    finished.last_body.as_deref(),
                    now(),
                );
                continue;
            }
            match this.plan.next_step(now()) {
                Step::Send(batch) => {
                    this.sleep = None;
                    this.spawn(batch);
                }
                Step::Wait { until } => {
                    let pause = wait_duration(now(), until);
                    let deadline = tokio::time::Instant::now() + pause;
                    match &mut this.sleep {
                        Some(sleep) if sleep.deadline() == deadline => {}
                        Some(sleep) => sleep.as_mut().reset(deadline),
                        None => this.sleep = Some(Box::pin(tokio::time::sleep_until(deadline))),
                    }
                    if let Some(sleep) = &mut this.sleep {
                        if sleep.as_mut().poll(cx).is_pending() {
                            return Poll::Pending;
                        }
                    }
                    this.sleep = None;
                    this.waits += 1;
                    this.waited += pause;
                }
                Step::Idle => return Poll::Pending,
                // Done: every outcome has been handed out above.
                _ => return Poll::Ready(None),
            }
        }
    }
}

/// Runs one planned batch as [`Client::execute`] runs a call, keeping the last
/// answer's body (the planner reads a REST 3.0 batch's error body) and counting the
/// waits.
async fn run_batch(
    client: &Client,
    portal: &Portal,
    batch: PlannedBatch,
    policy: Option<RetryPolicy>,
) -> Finished {
    let id = batch.id();
    let mut log = DriveLog::default();
    let result = execute_logged(client, portal, batch, policy, &mut log).await;
    Finished {
        id,
        result,
        last_body: log.last_body,
        waits: log.waits,
        waited: log.waited,
    }
}

async fn execute_logged(
    client: &Client,
    portal: &Portal,
    batch: PlannedBatch,
    policy: Option<RetryPolicy>,
    log: &mut DriveLog,
) -> Result<Reply<BatchOutput>, b24_core::Error> {
    let inner = &*client.inner;
    let settings = &inner.settings;
    if check_scheme_parts(
        portal.scheme().as_str(),
        portal.authority().host(),
        settings.allow_plain_loopback,
    )
    .is_err()
    {
        return Err(b24_core::Error::Transport {
            kind: b24_core::engine::TransportErrorKind::Connect,
            sent: b24_core::engine::SentState::NotSent,
            source: Some(Box::new(crate::TransportError::InsecureScheme)),
        });
    }
    let credential = CredentialId::of(portal, client.oauth_user.as_ref());
    let lease = inner.registry.lease(portal, &credential, now());
    let policy = limit_policy(policy.unwrap_or_else(|| settings.policy.clone()));
    let policy = policy.or_deadline(settings.call_deadline);
    let options = ExchangeOptions::new()
        .policy(policy)
        .user_agent_value(settings.user_agent.clone());
    let mut exchange = Exchange::with_options(portal, batch, lease.state(), options)?;
    let span = trace::CallSpan::new(exchange.method_name());
    let result = span
        .instrument(crate::call::drive_logged(
            &client.inner,
            &mut exchange,
            &span,
            log,
        ))
        .await;
    drop(lease);
    result
}
