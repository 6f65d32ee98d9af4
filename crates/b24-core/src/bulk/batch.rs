//! [`PlannedBatch`]: one batch the planner built, as a [`Method`] any transport runs
//! through the engine like any other call.

use b24_types::Time;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::api::Api;
use crate::error::Error;
use crate::method::{Method, Repeat};
use crate::methods::{BatchV3, ClassicBatch, ClassicBatchResult};

/// Names a batch of one bulk run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BatchId(pub(crate) u64);

impl BatchId {
    /// The batch's number in the run, from 0.
    pub fn get(self) -> u64 {
        self.0
    }
}

/// The answer of a [`PlannedBatch`], per command, not decoded yet.
#[derive(Debug)]
#[non_exhaustive]
pub enum BatchOutput {
    /// A REST 3.0 batch's results, in command order (each the method's own
    /// `result`, e.g. `{"item":{..}}`).
    V3(Vec<Box<RawValue>>),
    /// A classic batch's results, errors and times per command key.
    Classic(ClassicBatchResult),
}

#[derive(Debug, Clone)]
pub(crate) enum Inner {
    V3(BatchV3),
    Classic(ClassicBatch),
}

/// One batch of a bulk run: at most 50 commands of one API, under the body-size
/// bound, with every chain of references whole.
///
/// Run it like any method (`Exchange::new(&portal, batch, &state)`, or
/// `Client::execute` in b24-hyper) and hand the outcome to
/// [`Bulk::complete`](super::Bulk::complete) with its [`id`](Self::id). It is
/// [`Repeat::Safe`] only when every command in it is, and never takes an
/// `Idempotency-Key` (the portal honours none on `batch`), so the engine repeats it
/// after an answer that says nothing ran, and otherwise only when all of its
/// commands are safe to repeat.
#[derive(Debug, Clone)]
pub struct PlannedBatch {
    pub(crate) id: BatchId,
    pub(crate) inner: Inner,
}

impl PlannedBatch {
    /// Which batch of the run this is.
    pub fn id(&self) -> BatchId {
        self.id
    }

    /// The number of commands.
    pub fn len(&self) -> usize {
        match &self.inner {
            Inner::V3(b) => b.len(),
            Inner::Classic(b) => b.len(),
        }
    }

    /// True when it holds no command (never, for a batch the planner built).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The classic batch's `halt` flag (set when the batch carries a chain of
    /// references, so that nothing runs after a command it depends on failed);
    /// false for REST 3.0, which always stops at the first error.
    pub fn halts(&self) -> bool {
        match &self.inner {
            Inner::V3(_) => false,
            Inner::Classic(b) => b.halts(),
        }
    }
}

impl Method for PlannedBatch {
    type Output = BatchOutput;
    fn name(&self) -> &str {
        "batch"
    }
    fn api(&self) -> Api {
        match &self.inner {
            Inner::V3(_) => Api::V3,
            Inner::Classic(_) => Api::Classic,
        }
    }
    /// Safe only when every command is.
    fn repeat(&self) -> Repeat {
        match &self.inner {
            Inner::V3(b) => b.repeat(),
            Inner::Classic(b) => b.repeat(),
        }
    }
    fn params(&self) -> Result<Map<String, Value>, Error> {
        match &self.inner {
            Inner::V3(b) => b.params(),
            Inner::Classic(b) => b.params(),
        }
    }
    fn body(&self) -> Result<Value, Error> {
        match &self.inner {
            Inner::V3(b) => b.body(),
            Inner::Classic(b) => b.body(),
        }
    }
    fn decode(&self, result: &RawValue) -> Result<BatchOutput, Error> {
        match &self.inner {
            Inner::V3(_) => serde_json::from_str::<Vec<Box<RawValue>>>(result.get())
                .map(BatchOutput::V3)
                .map_err(|e| Error::Decode {
                    status: 0,
                    path: String::new(),
                    message: e.to_string(),
                }),
            Inner::Classic(b) => b.decode(result).map(BatchOutput::Classic),
        }
    }
    /// Always false: the portal honours no `Idempotency-Key` on `batch`.
    fn honours_idempotency_key(&self) -> bool {
        false
    }
    fn budget_methods(&self) -> Vec<&str> {
        match &self.inner {
            Inner::V3(b) => b.budget_methods(),
            Inner::Classic(b) => b.budget_methods(),
        }
    }
    fn command_times(&self, output: &BatchOutput) -> Vec<(String, Time)> {
        match (&self.inner, output) {
            (Inner::Classic(b), BatchOutput::Classic(result)) => b.command_times(result),
            _ => Vec::new(),
        }
    }
}

/// Where a REST 3.0 batch stopped, when its error answer says so.
///
/// The platform's answer to a REST 3.0 batch that failed at a command is that
/// command's error alone: it does not say which command failed, nor give the
/// answers of the commands before it. An answer may add what it knows under
/// `error.batch`: `{"failedIndex": k, "results": [answers of commands 0..k]}` (the
/// b24 emulator does with `PortalConfig::v3_batch_error_progress(true)`; no
/// Bitrix24 portal is known to). It is used only when it is consistent: `k` within
/// the batch and exactly `k` results.
pub(crate) fn v3_progress(body: &[u8], len: usize) -> Option<(usize, Vec<Box<RawValue>>)> {
    #[derive(Deserialize)]
    struct Body {
        error: ErrorPart,
    }
    #[derive(Deserialize)]
    struct ErrorPart {
        batch: Progress,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Progress {
        failed_index: usize,
        results: Vec<Box<RawValue>>,
    }
    let body: Body = serde_json::from_slice(body).ok()?;
    let progress = body.error.batch;
    (progress.failed_index < len && progress.results.len() == progress.failed_index)
        .then_some((progress.failed_index, progress.results))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_is_read_only_when_consistent() {
        let body = br#"{"error":{"code":"X","message":"m","batch":{"failedIndex":2,"results":[{"item":{"id":1}},{"item":{"id":2}}]}}}"#;
        let (k, results) = v3_progress(body, 5).unwrap();
        assert_eq!(k, 2);
        assert_eq!(results[1].get(), r#"{"item":{"id":2}}"#);
        assert!(v3_progress(body, 2).is_none());
        assert!(v3_progress(br#"{"error":{"code":"X","message":"m"}}"#, 5).is_none());
        let short = br#"{"error":{"batch":{"failedIndex":3,"results":[]}}}"#;
        assert!(v3_progress(short, 5).is_none());
    }
}
