//! What a bulk run reports: each command's [`Outcome`], planning errors, progress.

use std::fmt;
use std::sync::Arc;

use crate::error::Error;

/// A command's place in a bulk run: its position among the commands pushed, from 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CommandId(pub(crate) usize);

impl CommandId {
    /// The position among the commands pushed (the first is 0).
    pub fn index(self) -> usize {
        self.0
    }
}

impl fmt::Display for CommandId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// What became of one command.
#[derive(Debug)]
#[non_exhaustive]
pub enum Outcome<T> {
    /// It ran and succeeded: its typed output.
    Done(T),
    /// The portal answered this command with an error of its own (a classic batch's
    /// `result_error` entry; a REST 3.0 batch's first failing command). The error
    /// tells what: [`Error::class`] separates a refusal (validation, permission, not
    /// found: nothing changed) from a server failure. [`Error::Decode`] instead means
    /// the command ran and succeeded, but its answer could not be read as the
    /// method's output.
    Failed(Error),
    /// It certainly did not run: sending it again cannot duplicate anything.
    NotRun(NotRun),
    /// It may or may not have run, and the answer does not say: **check before
    /// repeating it**. A batch holding it may have reached the portal and failed
    /// without a usable answer (a timeout after sending, a 5xx, an unreadable
    /// body), or a REST 3.0 batch failed at a command the answer does not name
    /// (the commands before that one ran, the ones after it did not). The error is
    /// the batch's, shared by its commands.
    Unknown(Arc<Error>),
}

impl<T> Outcome<T> {
    /// The output of a command that succeeded.
    pub fn done(&self) -> Option<&T> {
        match self {
            Outcome::Done(output) => Some(output),
            _ => None,
        }
    }

    /// True for [`Outcome::Done`].
    pub fn is_done(&self) -> bool {
        matches!(self, Outcome::Done(_))
    }
}

/// Why a command did not run.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum NotRun {
    /// It refers (`$ref`, `$refArray`, `$result[...]`) to a command that did not
    /// succeed, so there was nothing to pass it.
    DependencyFailed {
        /// The command it depends on.
        on: CommandId,
    },
    /// Its batch was refused as a whole before anything in it ran (the call's error:
    /// an overload block, a credential the portal refused, the request-rate limit
    /// after the engine's retries, a shared store that failed before sending, bad
    /// input), or an earlier batch was, which stops the run; or it was refused for its
    /// method's operating-time budget more often than
    /// [`BulkConfig::max_requeues`](super::BulkConfig::max_requeues) allows.
    Refused(Arc<Error>),
    /// The run was cancelled before the command was sent.
    Cancelled,
}

/// One command's outcome, mapped back to its input.
#[derive(Debug)]
#[non_exhaustive]
pub struct Completed<M, T> {
    /// Where the command was pushed.
    pub id: CommandId,
    /// The key it was pushed with, if any.
    pub key: Option<String>,
    /// The command itself, handed back (to repeat a [`NotRun`] one, say).
    pub command: M,
    /// What became of it.
    pub outcome: Outcome<T>,
}

/// A command refused while planning, before anything is sent.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BulkError {
    /// The command cannot go into a batch: its parameters are invalid, its body is
    /// not a JSON object, or it is itself a `batch`.
    #[error("command {index} cannot go into a batch: {source}")]
    Invalid {
        /// The command's position.
        index: usize,
        /// Why.
        #[source]
        source: Error,
    },
    /// A key that is malformed or already used.
    #[error("command {index}: key `{key}` {reason}")]
    Key {
        /// The command's position.
        index: usize,
        /// The key.
        key: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A reference that names no earlier command of the run (commands are referred
    /// to by the key they were pushed with; positions change when b24 plans
    /// batches, so positional references are refused too).
    #[error("command {index} refers to `{reference}`, which names no earlier command pushed with that key")]
    UnknownReference {
        /// The command's position.
        index: usize,
        /// The key it referred to.
        reference: String,
    },
    /// A reference between a REST 3.0 and a classic command: references work inside
    /// one batch, and a batch runs one API.
    #[error("command {index} refers to `{reference}`, a command of the other API")]
    CrossApiReference {
        /// The command's position.
        index: usize,
        /// The key it referred to.
        reference: String,
    },
    /// Commands linked by references must run in one batch, and this link makes the
    /// chain longer than a batch holds. Chains are never split.
    #[error(
        "command {index} makes a chain of {len} linked commands; one batch holds at most {max}"
    )]
    ChainTooLong {
        /// The command's position.
        index: usize,
        /// The chain's length with this command.
        len: usize,
        /// The most commands a batch may hold.
        max: usize,
    },
    /// The command alone is larger than the body-size bound of a batch.
    #[error("command {index} needs {size} bytes; a batch body may hold {max}")]
    CommandTooLarge {
        /// The command's position.
        index: usize,
        /// Its size in the batch body, in bytes.
        size: usize,
        /// The bound, less the room kept for the envelope.
        max: usize,
    },
    /// The chain this command joins is larger than the body-size bound of a batch.
    #[error("command {index} makes a chain of {size} bytes; a batch body may hold {max}")]
    ChainTooLarge {
        /// The command's position.
        index: usize,
        /// The chain's size with this command, in bytes.
        size: usize,
        /// The bound, less the room kept for the envelope.
        max: usize,
    },
}

/// How far a bulk run has come.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Progress {
    /// Commands pushed.
    pub total: usize,
    /// Commands whose outcome is known (delivered or ready to be).
    pub finished: usize,
    /// Of those, [`Outcome::Done`].
    pub done: usize,
    /// Of those, [`Outcome::Failed`].
    pub failed: usize,
    /// Of those, [`Outcome::NotRun`].
    pub not_run: usize,
    /// Of those, [`Outcome::Unknown`].
    pub unknown: usize,
    /// Commands in batches sent and not answered yet.
    pub in_flight: usize,
    /// Commands waiting to be sent (including those put back after their batch
    /// stopped before them).
    pub pending: usize,
    /// Batches planned (and handed out to be sent).
    pub batches_sent: u64,
    /// Batches answered (or failed).
    pub batches_done: u64,
    /// Times a command was put back to be sent again because it did not run (its
    /// batch stopped before it, or its method's budget refused it).
    pub requeued: u64,
    /// Times the planner held every pending command back for an operating-time
    /// budget ([`Step::Wait`](super::Step::Wait)).
    pub holds: u64,
}

impl Progress {
    /// True when every command's outcome is known.
    pub fn is_complete(&self) -> bool {
        self.finished == self.total
    }
}
