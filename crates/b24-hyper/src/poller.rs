//! [`OfflinePoller`]: reads the app's offline event queue at least once.
//!
//! Each poll reserves a batch with `event.offline.get` and `clear=0`, saves the
//! batch's `process_id` in a [`Checkpoint`] before handling anything, hands each
//! event to your handler, and only when every one has been handled clears the batch
//! with `event.offline.clear` and forgets the checkpoint. A poller that dies anywhere
//! in between finds the process id at its next start and reads the same batch again
//! (`process_id` with `clear=0`): the events come again, none is lost. So a handler
//! must tolerate seeing an event twice (see `b24_core::events::DuplicateFilter`, and
//! check the portal before a write that must happen once).
//!
//! The one gap a checkpoint cannot close is a crash after the portal reserved a
//! batch but before its answer arrived: [`OfflinePoller::adopt_reserved`] finds such
//! batches with `event.offline.list` (for a deployment with one poller per app).
//!
//! Offline events need OAuth app authorization and a portal administrator; `clear=0`
//! needs the `rest_offline_extended` feature on cloud portals (`WRONG_LICENSE`
//! otherwise).

use std::collections::BTreeSet;
use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::io;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use b24_core::events::{decode_offline, DeliveryError};
use b24_core::methods::{EventOfflineClear, EventOfflineError, EventOfflineGet, EventOfflineList};
use b24_core::Portal;
use b24_types::events::{EventPayload, OfflineBatch, OfflineEvent, OfflineMessageId, ProcessId};
use b24_types::OfflineEventId;

use crate::client::Client;
use crate::error::Error;

/// Where a poller keeps the process id of the batch it is handling.
///
/// Make it durable (a file, a database row) for "the process died" to be survivable;
/// [`MemoryCheckpoint`] survives only a task being stopped within one process.
pub trait Checkpoint: Send + Sync + fmt::Debug {
    /// The batch being handled, if any.
    ///
    /// # Errors
    ///
    /// The checkpoint could not be read.
    fn load(&self) -> io::Result<Option<ProcessId>>;
    /// Remembers the batch being handled.
    ///
    /// # Errors
    ///
    /// The checkpoint could not be written.
    fn save(&self, process_id: &ProcessId) -> io::Result<()>;
    /// Forgets the batch (it was cleared).
    ///
    /// # Errors
    ///
    /// The checkpoint could not be written.
    fn clear(&self) -> io::Result<()>;
}

/// A [`Checkpoint`] in memory: survives a stopped task, not a stopped process.
#[derive(Debug, Default)]
pub struct MemoryCheckpoint {
    current: Mutex<Option<ProcessId>>,
}

impl MemoryCheckpoint {
    /// An empty checkpoint.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Checkpoint for MemoryCheckpoint {
    fn load(&self) -> io::Result<Option<ProcessId>> {
        Ok(self
            .current
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone())
    }
    fn save(&self, process_id: &ProcessId) -> io::Result<()> {
        *self.current.lock().unwrap_or_else(PoisonError::into_inner) = Some(process_id.clone());
        Ok(())
    }
    fn clear(&self) -> io::Result<()> {
        *self.current.lock().unwrap_or_else(PoisonError::into_inner) = None;
        Ok(())
    }
}

/// A [`Checkpoint`] in a file: written to a temporary file, synced, then renamed
/// over the old one, so a crash leaves either the old or the new id.
#[derive(Debug, Clone)]
pub struct FileCheckpoint {
    path: PathBuf,
}

impl FileCheckpoint {
    /// A checkpoint kept at `path` (absent file: no batch).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }
}

impl Checkpoint for FileCheckpoint {
    fn load(&self) -> io::Result<Option<ProcessId>> {
        match std::fs::read_to_string(&self.path) {
            Ok(text) => {
                let id = text.trim();
                Ok((!id.is_empty()).then(|| ProcessId::new(id)))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }
    fn save(&self, process_id: &ProcessId) -> io::Result<()> {
        use std::io::Write;
        let tmp = self.path.with_extension("tmp");
        {
            let mut file = std::fs::File::create(&tmp)?;
            file.write_all(process_id.as_str().as_bytes())?;
            file.sync_all()?;
        }
        std::fs::rename(&tmp, &self.path)
    }
    fn clear(&self) -> io::Result<()> {
        match std::fs::remove_file(&self.path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

/// One queued event, as the handler gets it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct OfflineItem {
    /// The queue row (its `ID`, `MESSAGE_ID`, `EVENT_NAME`, time, raw data).
    pub row: OfflineEvent,
    /// The data typed by the event's name, or why it could not be.
    pub payload: Result<EventPayload, DeliveryError>,
}

/// What one poll did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PollReport {
    /// The batch handled and cleared, if there was one.
    pub process_id: Option<ProcessId>,
    /// True when it was a batch reserved earlier and read again (after a crash).
    pub reread: bool,
    /// Events handled.
    pub handled: usize,
}

/// Why a poll stopped. The batch, if any, stays reserved and its process id stays in
/// the checkpoint: the next poll reads it again.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PollError<E> {
    /// A call to the portal failed.
    #[error("offline queue call failed: {0}")]
    Call(#[from] Error),
    /// The handler failed on an event.
    #[error("the handler failed on offline event {row}")]
    Handler {
        /// The row.
        row: OfflineEventId,
        /// The handler's error.
        #[source]
        error: E,
    },
    /// The checkpoint could not be read or written.
    #[error("checkpoint: {0}")]
    Checkpoint(#[source] io::Error),
}

/// Polls one portal's offline queue for the app, at least once per event.
#[derive(Debug, Clone)]
pub struct OfflinePoller {
    client: Client,
    portal: Portal,
    limit: u32,
    event: Option<String>,
    checkpoint: Arc<dyn Checkpoint>,
}

impl OfflinePoller {
    /// A poller for `portal` (an OAuth portal whose user is an administrator), 50
    /// events a batch, with a [`MemoryCheckpoint`].
    pub fn new(client: Client, portal: Portal) -> Self {
        Self {
            client,
            portal,
            limit: 50,
            event: None,
            checkpoint: Arc::new(MemoryCheckpoint::new()),
        }
    }

    /// At most `limit` events a batch (at least 1).
    #[must_use]
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = limit.max(1);
        self
    }

    /// Only events of this name (`=EVENT_NAME` filter); others stay queued.
    #[must_use]
    pub fn event(mut self, name: &str) -> Self {
        self.event = Some(name.to_ascii_uppercase());
        self
    }

    /// Where the batch being handled is remembered.
    #[must_use]
    pub fn checkpoint(mut self, checkpoint: Arc<dyn Checkpoint>) -> Self {
        self.checkpoint = checkpoint;
        self
    }

    fn reserve_call(&self) -> Result<EventOfflineGet, Error> {
        let mut get = EventOfflineGet::reserve().limit(self.limit)?;
        if let Some(name) = &self.event {
            get = get.event(name)?;
        }
        Ok(get)
    }

    /// One poll: the batch in the checkpoint if there is one, else a new batch;
    /// each event to `handler` in order; then the batch cleared.
    ///
    /// # Errors
    ///
    /// [`PollError`]: a failed call, a failed handler or checkpoint. The batch stays
    /// reserved and remembered, so the next poll hands the same events again.
    pub async fn poll_once<F, Fut, E>(&self, handler: &mut F) -> Result<PollReport, PollError<E>>
    where
        F: FnMut(OfflineItem) -> Fut,
        Fut: Future<Output = Result<(), E>>,
    {
        let saved = self.checkpoint.load().map_err(PollError::Checkpoint)?;
        if let Some(process_id) = saved {
            let get = EventOfflineGet::reread(process_id.clone())
                .and_then(|g| g.limit(self.limit))
                .map_err(|e| PollError::Call(e.into()))?;
            let batch = self.client.execute(&self.portal, get).await?.result;
            if !batch.events.is_empty() {
                return self.handle(process_id, batch, true, handler).await;
            }
            // Cleared already (the poller stopped between clearing and forgetting).
            self.checkpoint.clear().map_err(PollError::Checkpoint)?;
        }
        let get = self.reserve_call()?;
        let batch = self.client.execute(&self.portal, get).await?.result;
        if batch.events.is_empty() {
            return Ok(PollReport::default());
        }
        let Some(process_id) = batch.process_id.clone() else {
            // The portal deleted the rows as it answered (it ignored `clear=0`):
            // hand them over anyway, there is nothing to clear.
            let handled = self.hand_over(&batch, handler).await?;
            return Ok(PollReport {
                process_id: None,
                reread: false,
                handled,
            });
        };
        self.checkpoint
            .save(&process_id)
            .map_err(PollError::Checkpoint)?;
        self.handle(process_id, batch, false, handler).await
    }

    async fn hand_over<F, Fut, E>(
        &self,
        batch: &OfflineBatch,
        handler: &mut F,
    ) -> Result<usize, PollError<E>>
    where
        F: FnMut(OfflineItem) -> Fut,
        Fut: Future<Output = Result<(), E>>,
    {
        for row in &batch.events {
            let item = OfflineItem {
                payload: decode_offline(row),
                row: row.clone(),
            };
            handler(item)
                .await
                .map_err(|error| PollError::Handler { row: row.id, error })?;
        }
        Ok(batch.events.len())
    }

    /// Hands a batch over and clears it. A batch this poller reserved holds no more
    /// than it read, so it is cleared whole; one read again (reserved earlier, maybe
    /// with a larger limit) is cleared row by row and read again until empty, so no
    /// row is cleared unread.
    async fn handle<F, Fut, E>(
        &self,
        process_id: ProcessId,
        mut batch: OfflineBatch,
        reread: bool,
        handler: &mut F,
    ) -> Result<PollReport, PollError<E>>
    where
        F: FnMut(OfflineItem) -> Fut,
        Fut: Future<Output = Result<(), E>>,
    {
        let mut handled = 0;
        loop {
            handled += self.hand_over(&batch, handler).await?;
            let clear = EventOfflineClear::batch(process_id.clone())
                .map_err(|e| PollError::Call(e.into()))?;
            if !reread {
                self.client.execute(&self.portal, clear).await?;
                break;
            }
            let rows = clear
                .rows(batch.events.iter().map(|r| r.id))
                .map_err(|e| PollError::Call(e.into()))?;
            self.client.execute(&self.portal, rows).await?;
            let get = EventOfflineGet::reread(process_id.clone())
                .and_then(|g| g.limit(self.limit))
                .map_err(|e| PollError::Call(e.into()))?;
            batch = self.client.execute(&self.portal, get).await?.result;
            if batch.events.is_empty() {
                break;
            }
        }
        self.checkpoint.clear().map_err(PollError::Checkpoint)?;
        Ok(PollReport {
            process_id: Some(process_id),
            reread,
            handled,
        })
    }

    /// Polls until a poll fails, pausing `interval` after a batch smaller than the
    /// limit (a full batch is followed by the next at once). Returns the failure;
    /// call it again to go on (the failed batch is read again).
    pub async fn run<F, Fut, E>(&self, interval: Duration, mut handler: F) -> PollError<E>
    where
        F: FnMut(OfflineItem) -> Fut,
        Fut: Future<Output = Result<(), E>>,
    {
        loop {
            match self.poll_once(&mut handler).await {
                Ok(report) if report.handled >= self.limit as usize => {}
                Ok(_) => tokio::time::sleep(interval).await,
                Err(e) => return e,
            }
        }
    }

    /// Marks rows of the checkpointed batch as failed (`event.offline.error`): they
    /// leave the batch (the rest of it is read again by the next poll) and are
    /// returned only by `event.offline.get` with `error=1`. For an event the handler
    /// can never handle.
    ///
    /// # Errors
    ///
    /// [`PollError::Call`] for a failed call or when no batch is checkpointed;
    /// [`PollError::Checkpoint`].
    pub async fn mark_failed(
        &self,
        message_ids: impl IntoIterator<Item = OfflineMessageId>,
    ) -> Result<(), PollError<Infallible>> {
        let Some(process_id) = self.checkpoint.load().map_err(PollError::Checkpoint)? else {
            return Err(PollError::Call(Error::from(b24_core::InputError::param(
                "process_id",
                "no batch is being handled",
            ))));
        };
        let call = EventOfflineError::new(process_id, message_ids)
            .map_err(|e| PollError::Call(e.into()))?;
        self.client.execute(&self.portal, call).await?;
        Ok(())
    }

    /// Finds batches that were reserved but never cleared (a poller that died before
    /// it could save the process id) and hands their events over, clearing each
    /// batch after. Returns how many events were handed over.
    ///
    /// Only for a deployment with **one** poller per app and connector: it cannot
    /// tell a dead poller's batch from a live one's, and would hand a live poller's
    /// events over a second time.
    ///
    /// # Errors
    ///
    /// As [`poll_once`](Self::poll_once).
    pub async fn adopt_reserved<F, Fut, E>(&self, handler: &mut F) -> Result<usize, PollError<E>>
    where
        F: FnMut(OfflineItem) -> Fut,
        Fut: Future<Output = Result<(), E>>,
    {
        let mut batches = BTreeSet::new();
        let mut start = 0u64;
        loop {
            let list = EventOfflineList::new()
                .filter("!PROCESS_ID", "")
                .and_then(|l| l.filter("=ERROR", 0))
                .map_err(|e| PollError::Call(e.into()))?
                .start(start);
            let page = self.client.execute(&self.portal, list).await?.result;
            let n = page.len();
            batches.extend(page.into_iter().filter_map(|row| row.process_id));
            if n < 50 {
                break;
            }
            start += 50;
        }
        let mut handled = 0;
        for process_id in batches {
            self.checkpoint
                .save(&process_id)
                .map_err(PollError::Checkpoint)?;
            let get = EventOfflineGet::reread(process_id.clone())
                .and_then(|g| g.limit(self.limit))
                .map_err(|e| PollError::Call(e.into()))?;
            let batch = self.client.execute(&self.portal, get).await?.result;
            if batch.events.is_empty() {
                self.checkpoint.clear().map_err(PollError::Checkpoint)?;
                continue;
            }
            handled += self.handle(process_id, batch, true, handler).await?.handled;
        }
        Ok(handled)
    }
}
