//! Bulk work: any number of commands in, batches out, each command's outcome back.
//!
//! One batch counts once against the portal's request bucket and carries up to 50
//! commands, so an integration that batches does up to 50 times more work under the
//! same limit (2 requests a second on standard plans). [`Bulk`] plans that work
//! without doing any IO: push commands, ask for the next [`Step`], run each
//! [`PlannedBatch`] through the engine like any other call, hand its outcome back
//! with [`Bulk::complete`], and read each command's [`Outcome`] with
//! [`Bulk::next_outcome`]. `b24-hyper`'s `Client::bulk` drives it as a stream.
//!
//! # Planning
//!
//! - A batch holds at most 50 commands ([`BulkConfig::max_commands`]) and its body
//!   stays under [`BulkConfig::max_body_bytes`] (512 KiB by default: the platform
//!   documents no limit, and a web server in front of a portal commonly refuses
//!   bodies above 1 MiB).
//! - REST 3.0 commands go into REST 3.0 batches and classic commands into classic
//!   ones, each by its method's [`Api`].
//! - Commands linked by references (REST 3.0 `{"$ref":"key.path"}` and
//!   `{"$refArray":"key.field"}`, classic `$result[key][field]`) go into one batch,
//!   in the order pushed: a command refers to an earlier one by the key it was pushed
//!   with ([`Bulk::push_as`]). A chain longer than a batch, or larger than its body
//!   bound, is refused when pushed ([`BulkError::ChainTooLong`],
//!   [`BulkError::ChainTooLarge`]), never split.
//! - Commands not linked are independent: each batch runs its commands in the order
//!   pushed, but batches may be in flight together
//!   ([`BulkConfig::max_in_flight`]) and a command put back runs in a later batch.
//!   Link commands whose order matters, or allow one batch in flight.
//! - A method near its operating-time budget is held out of the next batch (see
//!   below) while the other methods' commands go on. While the first batch with
//!   a classic method is in flight, no other batch takes that method: its answer
//!   says what a command of it costs.
//!
//! # Outcomes
//!
//! Every command pushed gets exactly one [`Outcome`], in the order pushed
//! ([`Order::Input`], the default) or as they become known ([`Order::Completion`]):
//!
//! | what happened | outcome |
//! |---|---|
//! | the command succeeded | [`Outcome::Done`] with the method's typed output |
//! | a classic batch's `result_error` names it | [`Outcome::Failed`] with its error; the others keep their results |
//! | a REST 3.0 batch stopped at it, and the answer says so | [`Outcome::Failed`]; the commands before it are [`Outcome::Done`], the ones after it go into a next batch |
//! | a REST 3.0 batch failed at a command the answer does not name | commands all safe to repeat (reads): the batch is split in halves and sent again until the failing command is alone; otherwise [`Outcome::Unknown`] for each (the platform's answer is the failing command's error alone: the ones before it ran, the ones after did not, and no answer says which is which) |
//! | the batch was refused before anything ran | [`Outcome::NotRun`] ([`NotRun::Refused`]), and the run stops |
//! | the batch may have run without a usable answer (a 5xx, a timeout after sending) | [`Outcome::Unknown`] |
//! | its method's budget refused it (`OPERATION_TIME_LIMIT` for the command, or a 429 for the batch) | put back, held until the budget resets; [`NotRun::Refused`] after [`BulkConfig::max_requeues`] refusals |
//! | a halted classic batch stopped before it | put back into a next batch |
//! | it refers to a command that did not succeed | [`Outcome::NotRun`] ([`NotRun::DependencyFailed`]) |
//! | the run was cancelled before it was sent | [`Outcome::NotRun`] ([`NotRun::Cancelled`]) |
//!
//! A command put back whose references point to commands that succeeded in an
//! earlier batch gets their values filled in from those answers (the batch that
//! runs it no longer holds them).
//!
//! # Retry safety
//!
//! A [`PlannedBatch`] is [`Repeat::Safe`] only when every
//! command in it is, and never carries an `Idempotency-Key` (the portal honours
//! none on `batch`). So the engine repeats a batch after an answer that says it did
//! not run (the rate limit, an operating-time refusal, a connection that never
//! opened), and after an answer that leaves it open (a 5xx, a timeout after sending)
//! only when every command is safe to repeat. The planner itself sends a command
//! again only when it did not run, or when it is safe to repeat.
//!
//! # Operating-time budgets
//!
//! The classic batch reports each command's `time` (`result_time`). The engine
//! records each method's latest figure in the budget store
//! ([`Method::command_times`]), and the planner uses
//! the same figures: a command's `time.processing` is what one command of the
//! method costs, `time.operating` what is spent, so the next batch takes only as
//! many commands of the method as fit under the hold line
//! ([`BudgetConfig::hold_line`]); once none fits, the method's commands wait for its
//! reset ([`Step::Wait`] when nothing else can go) rather than being sent into a 429.
//!
//! ```
//! use b24_core::bulk::{Bulk, Outcome, Step};
//! use b24_core::engine::Timestamp;
//! use b24_core::methods::TaskResultAddFromChatMessage;
//! use b24_core::types::MessageId;
//!
//! let mut bulk = Bulk::new();
//! for id in 1..=120 {
//!     bulk.push(TaskResultAddFromChatMessage::new(MessageId::new(id)?))?;
//! }
//! let now = Timestamp::from_unix_secs(1_777_530_000);
//! let mut sizes = Vec::new();
//! while let Step::Send(batch) = bulk.next_step(now) {
//!     sizes.push(batch.len());
//!     // ... run `batch` through an Exchange, then:
//!     // bulk.complete(batch.id(), result, last_body, now);
//! #   let _ = batch;
//! }
//! assert_eq!(sizes, [50, 50]); // two batches in flight at most (100 commands)
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod batch;
mod budget;
mod command;
mod outcome;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::Arc;

use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::api::Api;
use crate::engine::{
    classify, BudgetConfig, Observation, OutcomeClass, SentState, Timestamp,
    OPERATING_FALLBACK_WAIT,
};
use crate::error::{Error, InputError};
use crate::method::{Method, Repeat};
use crate::methods::{BatchV3, ClassicBatch, ClassicBatchResult};
use crate::reply::Reply;
use b24_types::ErrorCode;

pub use batch::{BatchId, BatchOutput, PlannedBatch};
pub use outcome::{BulkError, CommandId, Completed, NotRun, Outcome, Progress};

use batch::{v3_progress, Inner};
use budget::{Budgets, Capacity};
use command::{auto_key, check_key, references, substitute, wire, Wire};

/// The most commands one batch holds (both APIs).
pub const MAX_BATCH_COMMANDS: usize = 50;
/// The default bound on a batch body: 512 KiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 512 * 1024;
/// The room a batch body keeps for its envelope (`{"halt":1,"cmd":{..}}`, an OAuth
/// `auth` token) beside its commands.
pub const ENVELOPE_BYTES: usize = 1024;
/// The default cap on commands in flight: two full batches.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 100;
/// The default number of budget refusals after which a command is given up.
pub const DEFAULT_MAX_REQUEUES: u32 = 3;

/// In which order [`Bulk::next_outcome`] hands out outcomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Order {
    /// In the order the commands were pushed (an outcome waits for those before it).
    #[default]
    Input,
    /// As they become known.
    Completion,
}

/// The planner's settings.
#[derive(Debug, Clone)]
#[must_use]
pub struct BulkConfig {
    max_commands: usize,
    max_body_bytes: usize,
    max_in_flight: usize,
    order: Order,
    budget: BudgetConfig,
    max_requeues: u32,
}

impl Default for BulkConfig {
    fn default() -> Self {
        Self {
            max_commands: MAX_BATCH_COMMANDS,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            order: Order::Input,
            budget: BudgetConfig::default(),
            max_requeues: DEFAULT_MAX_REQUEUES,
        }
    }
}

impl BulkConfig {
    /// The defaults: 50 commands and 512 KiB a batch, 100 commands in flight, input
    /// order, the default budget rules, 3 budget refusals.
    pub fn new() -> Self {
        Self::default()
    }

    /// The most commands a batch holds, 1 to 50 (values outside are brought into it).
    pub fn max_commands(mut self, n: usize) -> Self {
        self.max_commands = n.clamp(1, MAX_BATCH_COMMANDS);
        self
    }

    /// The bound on a batch body in bytes; [`ENVELOPE_BYTES`] of it are kept for the
    /// envelope, and at least 1 KiB more for commands.
    pub fn max_body_bytes(mut self, bytes: usize) -> Self {
        self.max_body_bytes = bytes.max(ENVELOPE_BYTES + 1024);
        self
    }

    /// The most commands in batches sent and not yet answered (at least 1). A chain
    /// longer than this still goes, alone.
    pub fn max_in_flight(mut self, commands: usize) -> Self {
        self.max_in_flight = commands.max(1);
        self
    }

    /// The order outcomes are handed out in.
    pub fn order(mut self, order: Order) -> Self {
        self.order = order;
        self
    }

    /// The operating-time budget rules (use the ones the engine's budget store
    /// applies: the hold line decides how many commands of a method still fit).
    pub fn budget(mut self, budget: BudgetConfig) -> Self {
        self.budget = budget;
        self
    }

    /// How many times a command refused for its method's operating-time budget is
    /// put back before it is given up as [`NotRun::Refused`].
    pub fn max_requeues(mut self, n: u32) -> Self {
        self.max_requeues = n;
        self
    }

    /// The body bytes left for commands.
    fn room(&self) -> usize {
        self.max_body_bytes.saturating_sub(ENVELOPE_BYTES)
    }
}

/// What to do next, as [`Bulk::next_step`] says.
#[derive(Debug)]
#[non_exhaustive]
pub enum Step {
    /// Send this batch (run it through an `Exchange`), then hand its outcome to
    /// [`Bulk::complete`]. Ask again: more batches may go at once.
    Send(PlannedBatch),
    /// Every command that could go is held for an operating-time budget: ask again
    /// at `until`, or when a batch in flight is answered.
    Wait {
        /// When to ask again.
        until: Timestamp,
    },
    /// Nothing can go until a batch in flight is answered (the cap on commands in
    /// flight is reached, or the rest depend on budgets the answers will update).
    Idle,
    /// Nothing is left to send or to wait for; read the remaining outcomes.
    Done,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Pending,
    InFlight,
    Done,
    Failed,
    NotRun,
    Unknown,
}

struct Entry<M> {
    method: Option<M>,
    key: Option<String>,
    wire_key: String,
    name: String,
    api: Api,
    repeat: Repeat,
    params: Map<String, Value>,
    /// Commands it refers to whose values are not filled in yet.
    deps: Vec<usize>,
    /// Whether a later command refers to it (its answer is then kept).
    referenced: bool,
    size: usize,
    state: State,
    requeues: u32,
    /// Set when a failed batch was split: a command goes only with commands of the
    /// same half (0: not split).
    fence: u64,
    /// Its answer, kept when another command refers to it.
    answer: Option<Value>,
}

struct InFlight {
    members: Vec<usize>,
    api: Api,
    halts: bool,
}

/// What a batch's error says about its commands.
enum Fate {
    /// Nothing ran.
    NotRun,
    /// It may have run, and the answer does not help.
    MayHaveRun,
    /// REST 3.0: one command's own error ended the batch.
    CommandFailed,
}

/// The bulk planner: commands in, [`PlannedBatch`]es out, an [`Outcome`] per
/// command back. See the [module docs](self).
pub struct Bulk<M: Method> {
    config: BulkConfig,
    entries: Vec<Entry<M>>,
    outcomes: Vec<Option<Outcome<M::Output>>>,
    keys: HashMap<String, usize>,
    /// Union-find over the commands by their references, for the chain checks.
    chain_parent: Vec<usize>,
    chain_len: Vec<usize>,
    chain_size: Vec<usize>,
    in_flight: HashMap<BatchId, InFlight>,
    next_batch: u64,
    next_fence: u64,
    budgets: Budgets,
    completion: VecDeque<usize>,
    next_emit: usize,
    progress: Progress,
    stopped: Option<Arc<Error>>,
    cancelled: bool,
    started: bool,
}

impl<M: Method> fmt::Debug for Bulk<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bulk")
            .field("config", &self.config)
            .field("progress", &self.progress)
            .field("stopped", &self.stopped.is_some())
            .field("cancelled", &self.cancelled)
            .finish_non_exhaustive()
    }
}

impl<M: Method> Default for Bulk<M> {
    fn default() -> Self {
        Self::with_config(BulkConfig::default())
    }
}

impl<M: Method> Bulk<M> {
    /// An empty run with the default [`BulkConfig`].
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty run with these settings.
    pub fn with_config(config: BulkConfig) -> Self {
        Self {
            budgets: Budgets::new(config.budget),
            config,
            entries: Vec::new(),
            outcomes: Vec::new(),
            keys: HashMap::new(),
            chain_parent: Vec::new(),
            chain_len: Vec::new(),
            chain_size: Vec::new(),
            in_flight: HashMap::new(),
            next_batch: 0,
            next_fence: 0,
            completion: VecDeque::new(),
            next_emit: 0,
            progress: Progress::default(),
            stopped: None,
            cancelled: false,
            started: false,
        }
    }

    /// The settings.
    pub fn config(&self) -> &BulkConfig {
        &self.config
    }

    /// Replaces the operating-time budget rules (before the run starts; a transport
    /// passes the ones its budget store applies).
    pub fn set_budget(&mut self, budget: BudgetConfig) {
        if !self.started {
            self.budgets = Budgets::new(budget);
            self.config.budget = budget;
        }
    }

    /// Sets the order outcomes are handed out in (before the run starts).
    pub fn set_order(&mut self, order: Order) {
        if !self.started {
            self.config.order = order;
        }
    }

    /// Sets the cap on commands in flight (at least 1).
    pub fn set_max_in_flight(&mut self, commands: usize) {
        self.config.max_in_flight = commands.max(1);
    }

    /// True once the first step was asked for: commands can no longer be pushed.
    pub fn is_started(&self) -> bool {
        self.started
    }

    /// The number of commands pushed.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when no command was pushed.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// How far the run has come.
    pub fn progress(&self) -> Progress {
        self.progress
    }

    /// Adds a command without a key (no other command can refer to it).
    ///
    /// # Errors
    ///
    /// As [`push_as`](Self::push_as), without the key errors.
    pub fn push(&mut self, method: M) -> Result<CommandId, BulkError> {
        self.add(None, method)
    }

    /// Adds a command under `key`, by which later commands refer to it: REST 3.0
    /// `{"$ref":"key.path"}` / `{"$refArray":"key.field"}`, classic
    /// `$result[key][field]`.
    ///
    /// # Errors
    ///
    /// [`BulkError::Key`] for a key that is not 1 to 64 ASCII letters, digits and
    /// `_`, is all digits, starts with `_`, or is already used;
    /// [`BulkError::Invalid`] when the command cannot go into a batch (invalid
    /// parameters, a body that is not an object, a `batch`), or the run has started;
    /// [`BulkError::UnknownReference`], [`BulkError::CrossApiReference`],
    /// [`BulkError::ChainTooLong`], [`BulkError::CommandTooLarge`],
    /// [`BulkError::ChainTooLarge`]. A refused command is not added.
    pub fn push_as(&mut self, key: impl Into<String>, method: M) -> Result<CommandId, BulkError> {
        self.add(Some(key.into()), method)
    }

    fn add(&mut self, key: Option<String>, method: M) -> Result<CommandId, BulkError> {
        let index = self.entries.len();
        let invalid = |source: Error| BulkError::Invalid { index, source };
        if self.started {
            return Err(invalid(
                InputError::param("bulk", "commands are pushed before the run starts").into(),
            ));
        }
        if let Some(key) = &key {
            check_key(key).map_err(|reason| BulkError::Key {
                index,
                key: key.clone(),
                reason,
            })?;
            if self.keys.contains_key(key) {
                return Err(BulkError::Key {
                    index,
                    key: key.clone(),
                    reason: "is already used",
                });
            }
        }
        let name = method.name().to_owned();
        let api = method.api();
        let repeat = method.repeat();
        let params = match method.body().map_err(invalid)? {
            Value::Object(map) => map,
            _ => {
                return Err(invalid(
                    InputError::param("method", "the method's body is not a JSON object").into(),
                ))
            }
        };
        let mut deps = Vec::new();
        for reference in references(api, &params) {
            let Some(&dep) = self.keys.get(&reference) else {
                return Err(BulkError::UnknownReference { index, reference });
            };
            if self.entries.get(dep).map(|e| e.api) != Some(api) {
                return Err(BulkError::CrossApiReference { index, reference });
            }
            deps.push(dep);
        }
        let wire_key = key.clone().unwrap_or_else(|| auto_key(index));
        let (_, size) = wire(api, &name, &wire_key, &params, repeat).map_err(invalid)?;
        let room = self.config.room();
        if size > room {
            return Err(BulkError::CommandTooLarge {
                index,
                size,
                max: room,
            });
        }
        let mut roots: Vec<usize> = deps.iter().map(|d| self.root(*d)).collect();
        roots.sort_unstable();
        roots.dedup();
        let len = 1 + roots
            .iter()
            .map(|r| self.chain_len.get(*r).copied().unwrap_or(0))
            .sum::<usize>();
        if len > self.config.max_commands {
            return Err(BulkError::ChainTooLong {
                index,
                len,
                max: self.config.max_commands,
            });
        }
        let chain_size = size
            + roots
                .iter()
                .map(|r| self.chain_size.get(*r).copied().unwrap_or(0))
                .sum::<usize>();
        if chain_size > room {
            return Err(BulkError::ChainTooLarge {
                index,
                size: chain_size,
                max: room,
            });
        }
        // Accepted: record it.
        self.chain_parent.push(index);
        self.chain_len.push(len);
        self.chain_size.push(chain_size);
        for root in roots {
            if let Some(parent) = self.chain_parent.get_mut(root) {
                *parent = index;
            }
        }
        for dep in &deps {
            if let Some(entry) = self.entries.get_mut(*dep) {
                entry.referenced = true;
            }
        }
        if let Some(key) = &key {
            self.keys.insert(key.clone(), index);
        }
        self.entries.push(Entry {
            method: Some(method),
            key,
            wire_key,
            name,
            api,
            repeat,
            params,
            deps,
            referenced: false,
            size,
            state: State::Pending,
            requeues: 0,
            fence: 0,
            answer: None,
        });
        self.outcomes.push(None);
        self.progress.total += 1;
        self.progress.pending += 1;
        Ok(CommandId(index))
    }

    fn root(&self, mut at: usize) -> usize {
        while let Some(&parent) = self.chain_parent.get(at) {
            if parent == at {
                break;
            }
            at = parent;
        }
        at
    }

    /// Stops the run: no batch is planned any more, every command not sent yet gets
    /// [`NotRun::Cancelled`], and the batches in flight are still to be completed
    /// (so that none is half reported).
    pub fn cancel(&mut self) {
        self.cancelled = true;
        self.drain_pending();
    }

    /// True once every outcome has been handed out.
    pub fn is_finished(&self) -> bool {
        self.progress.pending == 0
            && self.progress.in_flight == 0
            && self.next_emit >= self.entries.len()
            && self.completion.is_empty()
            && self.outcomes.iter().all(Option::is_none)
    }

    /// What to do next at `now`: a batch to send, a time to wait for, nothing until
    /// an answer, or nothing at all. See [`Step`].
    pub fn next_step(&mut self, now: Timestamp) -> Step {
        self.started = true;
        loop {
            if self.cancelled || self.stopped.is_some() {
                self.drain_pending();
            }
            if self.progress.pending == 0 {
                return if self.progress.in_flight > 0 {
                    Step::Idle
                } else {
                    Step::Done
                };
            }
            let room = self
                .config
                .max_in_flight
                .saturating_sub(self.progress.in_flight);
            if room == 0 {
                return Step::Idle;
            }
            match self.choose(now, room) {
                Choice::Batch(members) => {
                    if let Some(batch) = self.build(members) {
                        return Step::Send(batch);
                    }
                    // Every chosen command failed to build; plan again.
                }
                Choice::Wait(until) => {
                    self.progress.holds += 1;
                    return Step::Wait { until };
                }
                Choice::Nothing if self.progress.in_flight > 0 => return Step::Idle,
                Choice::Nothing => {
                    // Cannot happen (with nothing in flight the first group that is
                    // not held always goes); never leave commands hanging.
                    let err = Arc::new(Error::ExchangeMisuse(
                        "the bulk planner could not place its pending commands",
                    ));
                    self.stopped = Some(err);
                }
            }
        }
    }

    /// The pending commands grouped by their references, groups ordered by their
    /// first command.
    fn pending_groups(&self) -> Vec<Vec<usize>> {
        let n = self.entries.len();
        let mut parent: Vec<usize> = (0..n).collect();
        fn find(parent: &mut [usize], mut x: usize) -> usize {
            while let Some(&p) = parent.get(x) {
                if p == x {
                    break;
                }
                let grand = parent.get(p).copied().unwrap_or(p);
                if let Some(slot) = parent.get_mut(x) {
                    *slot = grand;
                }
                x = p;
            }
            x
        }
        for (i, entry) in self.entries.iter().enumerate() {
            if entry.state != State::Pending {
                continue;
            }
            for dep in &entry.deps {
                let (a, b) = (find(&mut parent, i), find(&mut parent, *dep));
                if a != b {
                    let (low, high) = if a < b { (a, b) } else { (b, a) };
                    if let Some(slot) = parent.get_mut(high) {
                        *slot = low;
                    }
                }
            }
        }
        let mut index_of: HashMap<usize, usize> = HashMap::new();
        let mut groups: Vec<Vec<usize>> = Vec::new();
        for (i, entry) in self.entries.iter().enumerate() {
            if entry.state != State::Pending {
                continue;
            }
            let root = find(&mut parent, i);
            match index_of.get(&root) {
                Some(&g) => {
                    if let Some(group) = groups.get_mut(g) {
                        group.push(i);
                    }
                }
                None => {
                    index_of.insert(root, groups.len());
                    groups.push(vec![i]);
                }
            }
        }
        groups
    }

    fn entry(&self, i: usize) -> Option<&Entry<M>> {
        self.entries.get(i)
    }

    /// Picks the next batch's commands.
    fn choose(&self, now: Timestamp, room: usize) -> Choice {
        let mut chosen: Vec<usize> = Vec::new();
        let mut api: Option<Api> = None;
        let mut fence: Option<u64> = None;
        let mut size = 0usize;
        let mut cap = self.config.max_commands.min(room);
        let mut used: HashMap<&str, usize> = HashMap::new();
        let mut wake: Option<Timestamp> = None;
        let body_room = self.config.room();
        for group in self.pending_groups() {
            let Some(first) = group.first().and_then(|i| self.entry(*i)) else {
                continue;
            };
            if api.is_some_and(|a| a != first.api) || fence.is_some_and(|f| f != first.fence) {
                continue;
            }
            // Budgets: every method of the group must have room for its commands.
            let mut counts: Vec<(&str, usize)> = Vec::new();
            for entry in group.iter().filter_map(|i| self.entry(*i)) {
                match counts.iter_mut().find(|(m, _)| *m == entry.name) {
                    Some(slot) => slot.1 += 1,
                    None => counts.push((entry.name.as_str(), 1)),
                }
            }
            let mut fits_budget = true;
            // A classic batch reports each command's time: until the first answer
            // for a method has, no more of its commands go.
            if first.api == Api::Classic && counts.iter().any(|(m, _)| self.budgets.probing(m)) {
                continue;
            }
            for (method, count) in &counts {
                let already = used.get(method).copied().unwrap_or(0);
                match self.budgets.capacity(method, now) {
                    Capacity::Unlimited => {}
                    Capacity::Limited(n) if already + count <= n => {}
                    Capacity::Limited(_) => {
                        fits_budget = false;
                        let until =
                            self.budgets
                                .refused_until(method, now, OPERATING_FALLBACK_WAIT);
                        wake = Some(wake.map_or(until, |w| w.min(until)));
                    }
                    Capacity::Held(until) => {
                        fits_budget = false;
                        wake = Some(wake.map_or(until, |w| w.min(until)));
                    }
                }
            }
            if !fits_budget {
                continue;
            }
            let group_size: usize = group
                .iter()
                .filter_map(|i| self.entry(*i))
                .map(|e| e.size)
                .sum();
            let fits = chosen.len() + group.len() <= cap && size + group_size <= body_room;
            // A chain longer than the cap on commands in flight goes alone when
            // nothing else is in flight.
            let alone = chosen.is_empty()
                && self.progress.in_flight == 0
                && group.len() <= self.config.max_commands
                && group_size <= body_room;
            if !fits && !alone {
                continue;
            }
            if !fits {
                cap = group.len();
            }
            api = Some(first.api);
            fence = Some(first.fence);
            size += group_size;
            for (method, count) in counts {
                *used.entry(method).or_insert(0) += count;
            }
            chosen.extend(group);
            if chosen.len() >= cap {
                break;
            }
        }
        if chosen.is_empty() {
            return match wake {
                Some(until) => Choice::Wait(until),
                None => Choice::Nothing,
            };
        }
        chosen.sort_unstable();
        Choice::Batch(chosen)
    }

    /// Builds the batch of `members` (in order) and marks them in flight; `None`
    /// when none of them could be built.
    fn build(&mut self, members: Vec<usize>) -> Option<PlannedBatch> {
        let api = members
            .first()
            .and_then(|i| self.entry(*i))
            .map(|e| e.api)?;
        let mut wires: Vec<(usize, Wire)> = Vec::with_capacity(members.len());
        let mut dropped: Vec<usize> = Vec::new();
        for i in members {
            let Some(entry) = self.entry(i) else { continue };
            if let Some(dep) = entry.deps.iter().find(|d| dropped.contains(d)) {
                let on = CommandId(*dep);
                dropped.push(i);
                self.finish(i, Outcome::NotRun(NotRun::DependencyFailed { on }));
                continue;
            }
            match wire(
                entry.api,
                &entry.name,
                &entry.wire_key,
                &entry.params,
                entry.repeat,
            ) {
                Ok((w, _)) => wires.push((i, w)),
                Err(e) => {
                    dropped.push(i);
                    self.finish(i, Outcome::Failed(e));
                }
            }
        }
        if wires.is_empty() {
            return None;
        }
        let halts = api == Api::Classic
            && wires
                .iter()
                .any(|(i, _)| self.entry(*i).is_some_and(|e| !e.deps.is_empty()));
        let members: Vec<usize> = wires.iter().map(|(i, _)| *i).collect();
        let inner = match self.assemble(api, halts, wires) {
            Ok(inner) => inner,
            Err(e) => {
                // Cannot happen (every command was checked when pushed); never leave
                // the commands pending.
                let error = Arc::new(Error::from(e));
                for i in members {
                    self.finish(i, Outcome::NotRun(NotRun::Refused(Arc::clone(&error))));
                }
                return None;
            }
        };
        let id = BatchId(self.next_batch);
        self.next_batch += 1;
        for i in &members {
            if let Some(entry) = self.entries.get_mut(*i) {
                entry.state = State::InFlight;
                let name = entry.name.clone();
                self.budgets.in_flight(&name, 1, 0);
            }
        }
        self.progress.pending = self.progress.pending.saturating_sub(members.len());
        self.progress.in_flight += members.len();
        self.progress.batches_sent += 1;
        self.in_flight.insert(
            id,
            InFlight {
                members,
                api,
                halts,
            },
        );
        Some(PlannedBatch { id, inner })
    }

    /// The batch of the built commands, in order.
    fn assemble(
        &self,
        api: Api,
        halts: bool,
        wires: Vec<(usize, Wire)>,
    ) -> Result<Inner, InputError> {
        match api {
            Api::V3 => {
                let commands = wires.into_iter().filter_map(|(_, w)| match w {
                    Wire::V3(c) => Some(c),
                    Wire::Classic(_) => None,
                });
                BatchV3::from_commands(commands).map(Inner::V3)
            }
            Api::Classic => {
                let mut batch = ClassicBatch::new().halt(halts);
                for (i, w) in wires {
                    let (Wire::Classic(command), Some(entry)) = (w, self.entries.get(i)) else {
                        continue;
                    };
                    batch = batch.push(entry.wire_key.clone(), command)?;
                }
                Ok(Inner::Classic(batch))
            }
        }
    }

    /// Takes in how batch `id` ended: the engine's result, and the body of the last
    /// answer when the call failed with one (`None` otherwise; it is read only for a
    /// REST 3.0 batch's error, see [`Outcome`]). Unknown ids are ignored.
    pub fn complete(
        &mut self,
        id: BatchId,
        result: Result<Reply<BatchOutput>, Error>,
        last_body: Option<&[u8]>,
        now: Timestamp,
    ) {
        let Some(batch) = self.in_flight.remove(&id) else {
            return;
        };
        for i in &batch.members {
            if let Some(name) = self.entry(*i).map(|e| e.name.clone()) {
                self.budgets.in_flight(&name, 0, 1);
            }
        }
        self.progress.in_flight = self.progress.in_flight.saturating_sub(batch.members.len());
        self.progress.batches_done += 1;
        match result {
            Ok(reply) => match (reply.result, batch.api) {
                (BatchOutput::V3(items), Api::V3) => self.on_v3_answer(&batch.members, &items),
                (BatchOutput::Classic(result), Api::Classic) => {
                    self.on_classic_answer(&batch.members, &result, batch.halts, now);
                }
                _ => self.all_unknown(
                    &batch.members,
                    Error::ExchangeMisuse("a batch answer of the other API"),
                ),
            },
            Err(error) => self.on_batch_error(&batch, error, last_body, now),
        }
    }

    /// The next outcome, in the configured [`Order`]; `None` when none is ready.
    pub fn next_outcome(&mut self) -> Option<Completed<M, M::Output>> {
        loop {
            let i = match self.config.order {
                Order::Input => {
                    let i = self.next_emit;
                    if !self.outcomes.get(i).is_some_and(Option::is_some) {
                        return None;
                    }
                    self.next_emit += 1;
                    i
                }
                Order::Completion => self.completion.pop_front()?,
            };
            let outcome = self.outcomes.get_mut(i).and_then(Option::take);
            let entry = self.entries.get_mut(i);
            let (Some(outcome), Some(entry)) = (outcome, entry) else {
                continue;
            };
            let Some(command) = entry.method.take() else {
                continue;
            };
            entry.params = Map::new();
            return Some(Completed {
                id: CommandId(i),
                key: entry.key.clone(),
                command,
                outcome,
            });
        }
    }

    // --- outcomes ---

    fn finish(&mut self, i: usize, outcome: Outcome<M::Output>) {
        let Some(entry) = self.entries.get_mut(i) else {
            return;
        };
        if entry.state == State::Pending {
            self.progress.pending = self.progress.pending.saturating_sub(1);
        }
        entry.state = match &outcome {
            Outcome::Done(_) => {
                self.progress.done += 1;
                State::Done
            }
            Outcome::Failed(_) => {
                self.progress.failed += 1;
                State::Failed
            }
            Outcome::NotRun(_) => {
                self.progress.not_run += 1;
                State::NotRun
            }
            Outcome::Unknown(_) => {
                self.progress.unknown += 1;
                State::Unknown
            }
        };
        self.progress.finished += 1;
        if let Some(slot) = self.outcomes.get_mut(i) {
            *slot = Some(outcome);
        }
        if self.config.order == Order::Completion {
            self.completion.push_back(i);
        }
    }

    /// Decodes command `i`'s answer: done, or failed when it cannot be read.
    fn finish_with_answer(&mut self, i: usize, raw: &RawValue) {
        let Some(entry) = self.entries.get_mut(i) else {
            return;
        };
        if entry.referenced {
            entry.answer = serde_json::from_str(raw.get()).ok();
        }
        let decoded = match &entry.method {
            Some(method) => method.decode(raw),
            None => return,
        };
        match decoded {
            Ok(output) => self.finish(i, Outcome::Done(output)),
            Err(e) => self.finish(i, Outcome::Failed(e)),
        }
    }

    fn all_unknown(&mut self, members: &[usize], error: Error) {
        let error = Arc::new(error);
        for i in members {
            self.finish(*i, Outcome::Unknown(Arc::clone(&error)));
        }
    }

    fn drain_pending(&mut self) {
        let reason = match &self.stopped {
            Some(err) if !self.cancelled => NotRun::Refused(Arc::clone(err)),
            _ => NotRun::Cancelled,
        };
        let pending: Vec<usize> = self
            .entries
            .iter()
            .enumerate()
            .filter(|(_, e)| e.state == State::Pending)
            .map(|(i, _)| i)
            .collect();
        for i in pending {
            self.finish(i, Outcome::NotRun(reason.clone()));
        }
    }

    fn on_v3_answer(&mut self, members: &[usize], items: &[Box<RawValue>]) {
        if items.len() != members.len() {
            let message = format!(
                "the batch answered {} results for {} commands",
                items.len(),
                members.len()
            );
            self.all_unknown(
                members,
                Error::Decode {
                    status: 200,
                    path: "result".to_owned(),
                    message,
                },
            );
            return;
        }
        for (i, raw) in members.iter().zip(items) {
            self.finish_with_answer(*i, raw);
        }
    }

    fn on_classic_answer(
        &mut self,
        members: &[usize],
        result: &ClassicBatchResult,
        halts: bool,
        now: Timestamp,
    ) {
        for i in members {
            let Some(entry) = self.entry(*i) else {
                continue;
            };
            let name = entry.name.clone();
            if let Some(time) = result.times.get(&entry.wire_key) {
                self.budgets.record(&name, time, now);
            }
            self.budgets.answered(&name);
        }
        let mut requeue: Vec<(usize, Option<Arc<Error>>)> = Vec::new();
        for &i in members {
            let Some(entry) = self.entry(i) else { continue };
            let key = entry.wire_key.clone();
            let name = entry.name.clone();
            if let Some(value) = result.results.get(&key) {
                match serde_json::value::to_raw_value(value) {
                    Ok(raw) => self.finish_with_answer(i, &raw),
                    Err(e) => self.finish(
                        i,
                        Outcome::Failed(Error::Decode {
                            status: 200,
                            path: format!("result.{key}"),
                            message: e.to_string(),
                        }),
                    ),
                }
            } else if let Some(error) = result.errors.get(&key) {
                let class = classify(
                    Api::Classic,
                    Observation::Error {
                        status: error.status,
                        code: &error.code,
                    },
                );
                let not_run = matches!(
                    class,
                    OutcomeClass::OperatingLimit | OutcomeClass::RateLimited
                ) || error.code == ErrorCode::BatchLengthExceeded;
                if not_run {
                    if class == OutcomeClass::OperatingLimit {
                        let until = self
                            .budgets
                            .refused_until(&name, now, OPERATING_FALLBACK_WAIT);
                        self.budgets.hold(&name, until);
                    }
                    let error = Arc::new(Error::Api(Box::new(error.clone())));
                    requeue.push((i, Some(error)));
                } else {
                    self.finish(i, Outcome::Failed(Error::Api(Box::new(error.clone()))));
                }
            } else if halts {
                // A halted batch stopped before it.
                requeue.push((i, None));
            } else {
                let error = Error::Decode {
                    status: 200,
                    path: format!("result.{key}"),
                    message: "the command is missing from the batch's answer".to_owned(),
                };
                self.finish(i, Outcome::Unknown(Arc::new(error)));
            }
        }
        self.requeue(requeue);
    }

    fn on_batch_error(
        &mut self,
        batch: &InFlight,
        error: Error,
        last_body: Option<&[u8]>,
        now: Timestamp,
    ) {
        let members = &batch.members;
        match fate(batch.api, &error) {
            Fate::NotRun => {
                if let Error::OperatingLimit {
                    method, reset_at, ..
                } = &error
                {
                    let names: Vec<String> = members
                        .iter()
                        .filter_map(|i| self.entry(*i).map(|e| e.name.clone()))
                        .collect();
                    let held: Vec<String> = if names.contains(method) {
                        vec![method.clone()]
                    } else {
                        names
                    };
                    let until = (*reset_at).max(now);
                    for name in &held {
                        self.budgets.hold(name, until);
                    }
                    let error = Arc::new(error);
                    let requeue = members
                        .iter()
                        .map(|i| (*i, Some(Arc::clone(&error))))
                        .collect();
                    self.requeue(requeue);
                    return;
                }
                let error = Arc::new(error);
                for i in members {
                    self.finish(*i, Outcome::NotRun(NotRun::Refused(Arc::clone(&error))));
                }
                self.stopped = Some(error);
                self.drain_pending();
            }
            Fate::MayHaveRun => self.all_unknown(members, error),
            Fate::CommandFailed => self.on_v3_command_failed(members, error, last_body),
        }
    }

    /// A REST 3.0 batch ended with one command's error.
    fn on_v3_command_failed(&mut self, members: &[usize], error: Error, last_body: Option<&[u8]>) {
        let located = last_body.and_then(|body| v3_progress(body, members.len()));
        if let Some((failed, results)) = located {
            for (i, raw) in members.iter().zip(&results) {
                self.finish_with_answer(*i, raw);
            }
            if let Some(&i) = members.get(failed) {
                self.finish(i, Outcome::Failed(error));
            }
            let rest = members
                .iter()
                .skip(failed + 1)
                .map(|i| (*i, None))
                .collect();
            self.requeue(rest);
            return;
        }
        if let [only] = members {
            self.finish(*only, Outcome::Failed(error));
            return;
        }
        let all_safe = members
            .iter()
            .all(|i| self.entry(*i).is_some_and(|e| e.repeat == Repeat::Safe));
        if all_safe && !self.one_chain(members) {
            // Reads: split the batch in halves (whole chains each) and send each half
            // again, until the failing command is alone.
            let halves = [self.next_fence + 1, self.next_fence + 2];
            self.next_fence += 2;
            let groups = self.chains_of(members);
            let total: usize = groups.iter().map(Vec::len).sum();
            let mut first_half = 0usize;
            for group in groups {
                let fence = if first_half * 2 < total {
                    halves[0]
                } else {
                    halves[1]
                };
                first_half += group.len();
                for i in group {
                    if let Some(entry) = self.entries.get_mut(i) {
                        entry.fence = fence;
                    }
                }
            }
            self.requeue(members.iter().map(|i| (*i, None)).collect());
            return;
        }
        self.all_unknown(members, error);
    }

    /// True when `members` form one chain of references.
    fn one_chain(&self, members: &[usize]) -> bool {
        self.chains_of(members).len() == 1
    }

    /// `members` grouped into chains by their references, in order.
    fn chains_of(&self, members: &[usize]) -> Vec<Vec<usize>> {
        let mut groups: Vec<Vec<usize>> = Vec::new();
        for &i in members {
            let deps = self.entry(i).map(|e| e.deps.as_slice()).unwrap_or_default();
            let joined: Vec<usize> = groups
                .iter()
                .enumerate()
                .filter(|(_, g)| g.iter().any(|m| deps.contains(m)))
                .map(|(g, _)| g)
                .collect();
            match joined.first().copied() {
                None => groups.push(vec![i]),
                Some(target) => {
                    // Merge every group this command links into the first of them.
                    let mut merged = vec![i];
                    for g in &joined {
                        if let Some(group) = groups.get_mut(*g) {
                            merged.append(group);
                        }
                    }
                    merged.sort_unstable();
                    if let Some(t) = groups.get_mut(target) {
                        *t = merged;
                    }
                    groups.retain(|g| !g.is_empty());
                }
            }
        }
        groups
    }

    /// Puts commands that did not run back to be sent again, in order: references
    /// to commands that succeeded are filled in from their answers, and a command
    /// that refers to one that did not succeed does not run. A refusal (`Some`) counts
    /// against [`BulkConfig::max_requeues`].
    fn requeue(&mut self, mut list: Vec<(usize, Option<Arc<Error>>)>) {
        list.sort_by_key(|(i, _)| *i);
        for (i, refusal) in list {
            let Some(entry) = self.entries.get_mut(i) else {
                continue;
            };
            if let Some(err) = refusal {
                entry.requeues += 1;
                if entry.requeues > self.config.max_requeues {
                    self.finish(i, Outcome::NotRun(NotRun::Refused(err)));
                    continue;
                }
            }
            match self.resolve(i) {
                Ok(()) => {
                    if let Some(entry) = self.entries.get_mut(i) {
                        entry.state = State::Pending;
                    }
                    self.progress.pending += 1;
                    self.progress.requeued += 1;
                }
                Err(outcome) => self.finish(i, outcome),
            }
        }
    }

    /// Fills in command `i`'s references to commands that succeeded.
    fn resolve(&mut self, i: usize) -> Result<(), Outcome<M::Output>> {
        let deps = self.entry(i).map(|e| e.deps.clone()).unwrap_or_default();
        let mut left = Vec::new();
        let mut params = self.entry(i).map(|e| e.params.clone()).unwrap_or_default();
        let mut filled = false;
        for dep in deps {
            let Some(d) = self.entry(dep) else { continue };
            match (d.state, &d.answer) {
                (State::Pending | State::InFlight, _) => left.push(dep),
                (State::Done, Some(answer)) => {
                    let api = d.api;
                    substitute(api, &mut params, &d.wire_key, answer).map_err(Outcome::Failed)?;
                    filled = true;
                }
                _ => {
                    return Err(Outcome::NotRun(NotRun::DependencyFailed {
                        on: CommandId(dep),
                    }))
                }
            }
        }
        let Some(entry) = self.entries.get_mut(i) else {
            return Ok(());
        };
        entry.deps = left;
        if filled {
            let (_, size) = wire(
                entry.api,
                &entry.name,
                &entry.wire_key,
                &params,
                entry.repeat,
            )
            .map_err(Outcome::Failed)?;
            entry.size = size;
            entry.params = params;
        }
        Ok(())
    }
}

enum Choice {
    Batch(Vec<usize>),
    Wait(Timestamp),
    Nothing,
}

/// What a batch call's error says about its commands.
fn fate(api: Api, error: &Error) -> Fate {
    match error {
        Error::InvalidInput(_)
        | Error::Store(_)
        | Error::ExchangeMisuse(_)
        | Error::OperatingLimit { .. }
        | Error::TokenRefresh(_)
        | Error::TokenRejected { .. }
        | Error::DeadlineExceeded { last: None, .. } => Fate::NotRun,
        Error::Transport { sent, .. } => {
            if *sent == SentState::NotSent {
                Fate::NotRun
            } else {
                Fate::MayHaveRun
            }
        }
        Error::RetriesExhausted { last, .. }
        | Error::DeadlineExceeded {
            last: Some(last), ..
        } => match fate(api, last) {
            // A command's error is final: the engine never repeats it.
            Fate::CommandFailed => Fate::MayHaveRun,
            other => other,
        },
        Error::Api(e) => {
            let class = classify(
                api,
                Observation::Error {
                    status: e.status,
                    code: &e.code,
                },
            );
            if class.not_run() {
                Fate::NotRun
            } else if api == Api::V3 && matches!(class, OutcomeClass::Rejected(_)) {
                Fate::CommandFailed
            } else if matches!(class, OutcomeClass::Rejected(_)) {
                // A classic batch answers 200 whatever its commands do: an error for
                // the whole batch refused it.
                Fate::NotRun
            } else if api == Api::V3 && class == OutcomeClass::ServerError {
                Fate::CommandFailed
            } else {
                Fate::MayHaveRun
            }
        }
        _ => Fate::MayHaveRun,
    }
}
