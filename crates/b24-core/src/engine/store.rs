//! The stores of shared state, as traits whose operations may need IO.
//!
//! A call shares three kinds of state with other calls, in this process or others:
//! the portal host's request bucket and what its answers showed about
//! `Idempotency-Key` ([`HostStore`]), the operating-time budgets of a credential's
//! methods ([`BudgetStore`]) and an OAuth user's token pair ([`TokenStore`]). Which
//! call shares which store is decided by the [`Registry`](crate::registry::Registry).
//!
//! Every operation returns a [`StoreCall`]: [`StoreCall::Ready`] when the store could
//! answer at once without IO (the in-memory stores always do), or
//! [`StoreCall::Pending`] with a future that does the IO (a Redis round trip, say).
//! The engine never awaits: it answers a ready call in place and hands a pending one
//! to the adapter as [`Action::Store`](super::Action::Store), to be awaited and its
//! outcome handed back. So the engine stays free of IO while a store may need it, and
//! a process with in-memory stores pays nothing for the possibility.
//!
//! A store that fails ([`StoreError`]) never makes the engine exceed a limit: an
//! operation the call needs before sending (a budget check, a bucket slot, the current
//! token) ends the call with [`Error::Store`](crate::Error::Store) before anything is
//! sent; a write after an answer (a reported operating time, a throttle, a key
//! support observation) is reported as an [`Event`](super::Event) and the call goes
//! on, because the portal repeats what it said on the next answer.

use std::fmt;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use b24_types::Time;

use super::budget::BudgetVerdict;
use super::idempotency::KeySupport;
use super::token::{StaleGeneration, TokenGeneration, TokenSet};
use super::Timestamp;

/// A store operation's IO, as a boxed future (`'static`: it owns what it needs).
pub type StoreFuture<T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'static>>;

/// A compare-and-swap's outcome: what was stored, or the generation that was found.
pub type StaleOr<T> = Result<T, StaleGeneration>;

/// The outcome of a store operation: ready now, or a future that does its IO.
#[must_use = "a store call does nothing until it is awaited or matched"]
pub enum StoreCall<T> {
    /// Answered at once, without IO.
    Ready(Result<T, StoreError>),
    /// The answer needs IO: await the future.
    Pending(StoreFuture<T>),
}

impl<T> StoreCall<T> {
    /// A ready answer.
    pub fn ready(value: T) -> Self {
        Self::Ready(Ok(value))
    }

    /// A ready failure.
    pub fn failed(err: StoreError) -> Self {
        Self::Ready(Err(err))
    }

    /// An answer that needs IO.
    pub fn pending(future: impl Future<Output = Result<T, StoreError>> + Send + 'static) -> Self {
        Self::Pending(Box::pin(future))
    }
}

impl<T: Send + 'static> IntoFuture for StoreCall<T> {
    type Output = Result<T, StoreError>;
    type IntoFuture = StoreFuture<T>;

    fn into_future(self) -> StoreFuture<T> {
        match self {
            Self::Ready(result) => Box::pin(std::future::ready(result)),
            Self::Pending(future) => future,
        }
    }
}

impl<T> fmt::Debug for StoreCall<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ready(Ok(_)) => f.write_str("StoreCall::Ready(Ok(..))"),
            Self::Ready(Err(e)) => write!(f, "StoreCall::Ready(Err({e:?}))"),
            Self::Pending(_) => f.write_str("StoreCall::Pending(..)"),
        }
    }
}

/// Why a store operation failed. Holds no secret: implementations must not put a
/// connection string (which may hold a password) or a token into it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the shared-state store {}: {detail}", kind.words())]
#[non_exhaustive]
pub struct StoreError {
    /// What went wrong.
    pub kind: StoreErrorKind,
    /// Details for a log (never a secret).
    pub detail: String,
}

impl StoreError {
    /// An error of `kind` with a detail text.
    pub fn new(kind: StoreErrorKind, detail: impl Into<String>) -> Self {
        Self {
            kind,
            detail: detail.into(),
        }
    }
}

/// The kinds of [`StoreError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StoreErrorKind {
    /// The store could not be reached (connection refused, closed, DNS).
    Unavailable,
    /// The store did not answer within its time limit.
    Timeout,
    /// The store answered with something unreadable (another program's data under
    /// the same key, a script of another version).
    Corrupt,
}

impl StoreErrorKind {
    fn words(self) -> &'static str {
        match self {
            Self::Unavailable => "is unavailable",
            Self::Timeout => "did not answer in time",
            Self::Corrupt => "answered with unreadable data",
        }
    }
}

/// A reserved send slot, with what the host's answers showed about keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reservation {
    /// When the request may leave (`now` to go at once).
    pub at: Timestamp,
    /// What the host's answers to keyed writes showed so far, as far as the store
    /// knows it (shared by every process using the store).
    pub key_support: KeySupport,
}

/// The request bucket of one portal host and what its answers showed about
/// `Idempotency-Key`, shared by every credential of the host (the platform counts
/// requests per portal and source address).
pub trait HostStore: Send + Sync + fmt::Debug {
    /// Reserves the next send slot at `now` or later. The slot is spent whether or not
    /// the caller uses it (cancelled calls keep the bucket conservative).
    fn reserve(&self, now: Timestamp) -> StoreCall<Reservation>;

    /// The portal refused a request for the rate limit (`QUERY_LIMIT_EXCEEDED`): every
    /// sharer must treat the bucket as full from `now`.
    fn throttled(&self, now: Timestamp) -> StoreCall<()>;

    /// An answer to a keyed write showed `seen` (the latest evidence wins).
    fn record_key_support(&self, seen: KeySupport) -> StoreCall<()>;
}

/// The combined budget verdict for a call, and the method it is held for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BudgetCheck {
    /// Go, spread (the slot is reserved) or hold.
    pub verdict: BudgetVerdict,
    /// With [`BudgetVerdict::Hold`], the method that holds the call (the one whose
    /// hold ends last).
    pub held: Option<String>,
    /// The latest reported reset time among the methods, if any: what a 429 without
    /// a reset time of its own waits for.
    pub reset_at: Option<Timestamp>,
}

impl BudgetCheck {
    /// Go at once.
    pub fn go() -> Self {
        Self {
            verdict: BudgetVerdict::Go,
            held: None,
            reset_at: None,
        }
    }
}

/// The operating-time budgets of one credential's methods (per webhook, or per app
/// for OAuth users).
pub trait BudgetStore: Send + Sync + fmt::Debug {
    /// Whether a call charged to `methods` may go at `now`: held while any of them is
    /// held (until the latest end), else spread to the latest of their spread slots
    /// (each slot is reserved), else go.
    fn check(&self, methods: &[String], now: Timestamp) -> StoreCall<BudgetCheck>;

    /// Takes in the `time` object of a reply (success or error) to `method`, received
    /// at `now`. A reset time later than `now` plus
    /// [`MAX_RESET_AHEAD`](super::MAX_RESET_AHEAD) is impossible and must be clamped
    /// (as [`MethodBudget::record`](super::MethodBudget::record) does).
    fn record(&self, method: &str, time: &Time, now: Timestamp) -> StoreCall<()>;

    /// `methods` are refused (429) until `until`.
    fn block(&self, methods: &[String], until: Timestamp) -> StoreCall<()>;
}

/// A turn at refreshing a token pair, given by [`TokenStore::begin_refresh`].
#[derive(Debug)]
#[non_exhaustive]
pub enum RefreshTurn {
    /// This caller refreshes: send the refresh request with these tokens, then
    /// [`TokenStore::replace`] (which ends the lease) or
    /// [`TokenStore::end_refresh`] on failure. Others wait until the lease expires.
    Granted {
        /// The lease, to end the turn with.
        lease: RefreshLease,
        /// The pair to refresh (its refresh token is spent by the request).
        tokens: TokenSet,
    },
    /// The store moved past the stale generation: someone refreshed; replay with it.
    AlreadyRefreshed(TokenGeneration),
    /// Another caller (in this process or another) holds the lease: ask again at
    /// `retry_at` (no later than the lease's expiry).
    Busy {
        /// When to ask again.
        retry_at: Timestamp,
    },
    /// Nothing is stored: the authorization flow must be run.
    Empty,
}

/// The right to refresh one token pair until `expires_at`, fenced by the generation
/// it was granted for: a replacement by a holder whose lease has expired and been
/// given to another fails the compare-and-swap on the generation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshLease {
    id: u64,
    generation: TokenGeneration,
    expires_at: Timestamp,
}

impl RefreshLease {
    /// A lease with a holder id unique among the store's users, for `generation`.
    pub fn new(id: u64, generation: TokenGeneration, expires_at: Timestamp) -> Self {
        Self {
            id,
            generation,
            expires_at,
        }
    }

    /// The holder's id.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The generation being refreshed.
    pub fn generation(&self) -> TokenGeneration {
        self.generation
    }

    /// When the lease ends by itself (on the caller's clock).
    pub fn expires_at(&self) -> Timestamp {
        self.expires_at
    }
}

/// The OAuth token pair of one user of one portal, and the lease that makes its
/// refresh single-flight among every process sharing the store.
///
/// The portal rotates the refresh token on every refresh, so two refreshes of one pair
/// leave one caller with a dead refresh token; the lease prevents that, and
/// [`replace`](TokenStore::replace) is a compare-and-swap on the generation, so that a
/// rotated pair is never overwritten by an older one.
pub trait TokenStore: Send + Sync + fmt::Debug {
    /// The current pair, with its generation; `None` when nothing is stored.
    fn current(&self) -> StoreCall<Option<TokenSet>>;

    /// Stores `fresh` as generation `seen.next()` if the store still holds `seen`
    /// ([`TokenGeneration::NONE`] for an empty store: how a first pair is installed),
    /// ends any refresh lease, and returns what was stored; or
    /// `Err(`[`StaleGeneration`]`)` when the store holds another generation (nothing
    /// was stored).
    fn replace(&self, seen: TokenGeneration, fresh: TokenSet) -> StoreCall<StaleOr<TokenSet>>;

    /// Asks for the turn to refresh the pair of generation `stale` (the one a 401 was
    /// answered to), for `lease` from `now`, as holder `holder`.
    fn begin_refresh(
        &self,
        stale: TokenGeneration,
        holder: u64,
        now: Timestamp,
        lease: Duration,
    ) -> StoreCall<RefreshTurn>;

    /// Ends a turn without a replacement (the refresh failed). A lease that has
    /// already expired or passed to another holder is left alone.
    fn end_refresh(&self, lease: &RefreshLease) -> StoreCall<()>;
}

/// What a pending store operation of an exchange produced; hand it to
/// [`Exchange::handle_store`](super::Exchange::handle_store) unopened.
pub struct StoreOutcome(pub(crate) Answer);

impl StoreOutcome {
    /// The outcome to hand in for a [detachable](StoreTask::is_detachable) task the
    /// adapter runs on its own: the write is taken as done (a failure shows only where
    /// the adapter runs it).
    pub fn detached() -> Self {
        Self(Answer::Written(Ok(())))
    }
}

impl fmt::Debug for StoreOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("StoreOutcome").field(&self.0.name()).finish()
    }
}

/// The answers the engine waits for, by operation.
pub(crate) enum Answer {
    Budget(Result<BudgetCheck, StoreError>),
    Slot(Result<Reservation, StoreError>),
    Token(Result<Option<TokenSet>, StoreError>),
    Turn(Result<RefreshTurn, StoreError>),
    Replaced(Result<StaleOr<TokenSet>, StoreError>),
    Written(Result<(), StoreError>),
}

impl Answer {
    fn name(&self) -> &'static str {
        match self {
            Answer::Budget(_) => "budget",
            Answer::Slot(_) => "slot",
            Answer::Token(_) => "token",
            Answer::Turn(_) => "refresh turn",
            Answer::Replaced(_) => "replaced",
            Answer::Written(_) => "written",
        }
    }
}

/// A pending store operation the engine asks the adapter to await
/// ([`Action::Store`](super::Action::Store)); its output goes to
/// [`Exchange::handle_store`](super::Exchange::handle_store).
///
/// A blocking transport with no async runtime can run it with [`StoreTask::wait`].
#[must_use = "the exchange waits for this task's outcome"]
pub struct StoreTask {
    future: Pin<Box<dyn Future<Output = Answer> + Send + 'static>>,
    /// A write (its answer only matters if it failed).
    write: bool,
    /// A write whose outcome the call no longer waits for.
    detachable: bool,
}

impl fmt::Debug for StoreTask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreTask")
            .field("detachable", &self.detachable)
            .finish_non_exhaustive()
    }
}

impl StoreTask {
    /// A task awaiting `future`, whose output `wrap` turns into an [`Answer`].
    pub(crate) fn new<T: Send + 'static>(
        future: StoreFuture<T>,
        wrap: fn(Result<T, StoreError>) -> Answer,
    ) -> Self {
        Self {
            future: Box::pin(async move { wrap(future.await) }),
            write: false,
            detachable: false,
        }
    }

    /// A write: its outcome only matters if it failed.
    pub(crate) fn write(future: StoreFuture<()>) -> Self {
        Self {
            write: true,
            ..Self::new(future, Answer::Written)
        }
    }

    /// Marks a write as made after the call's outcome is settled.
    pub(crate) fn settle(mut self) -> Self {
        self.detachable = self.write;
        self
    }

    /// True for a write after the call's outcome is settled (a reported operating
    /// time, say): an adapter may run it on its own (spawn it) and hand
    /// [`StoreOutcome::detached`] to the exchange at once, so the call returns
    /// without waiting for the store's round trip. Writes before a retry are never
    /// detachable: the next attempt must see them.
    pub fn is_detachable(&self) -> bool {
        self.detachable
    }

    /// Runs the task on this thread, blocking until it is done (for transports without
    /// an async runtime; the store's future must not need one either).
    pub fn wait(self) -> StoreOutcome {
        block_on(self)
    }
}

impl Future for StoreTask {
    type Output = StoreOutcome;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<StoreOutcome> {
        self.future.as_mut().poll(cx).map(StoreOutcome)
    }
}

/// Polls `future` to completion on this thread, parking between wake-ups.
fn block_on<F: Future>(future: F) -> F::Output {
    use std::sync::Arc;
    use std::task::{Wake, Waker};

    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
        fn wake_by_ref(self: &Arc<Self>) {
            self.0.unpark();
        }
    }

    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
        std::thread::park();
    }
}
