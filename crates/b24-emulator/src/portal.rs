//! One portal: its data and counters, and the [`EmulatedPortal`] handle tests use to seed
//! and inspect it.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use b24_types::{AccessToken, RefreshToken};

use crate::auth::{Grant, TokenStore, CODE_TTL};
use crate::clock::Clock;
use crate::config::PortalConfig;
use crate::faults::{Fault, FaultQueue};
use crate::idempotency::IdempotencyStore;
use crate::limits::{LeakyBucket, OperatingLedger};
use crate::model::{ChatRec, Data, MessageRec, TaskRec, UserRec};
use crate::record::RecordedRequest;

/// Everything mutable about a portal, behind one lock.
#[derive(Debug)]
pub(crate) struct PortalState {
    pub(crate) data: Data,
    pub(crate) tokens: TokenStore,
    pub(crate) bucket: LeakyBucket,
    pub(crate) operating: OperatingLedger,
    pub(crate) idempotency: IdempotencyStore,
    pub(crate) faults: FaultQueue,
    pub(crate) overloaded: bool,
    pub(crate) counts: BTreeMap<String, u64>,
    /// Requests refused with 503 `QUERY_LIMIT_EXCEEDED` (the request bucket was full).
    pub(crate) rate_limited: u64,
    pub(crate) requests: VecDeque<RecordedRequest>,
}

/// Keep at most this many recorded requests (oldest dropped first).
const MAX_RECORDED: usize = 10_000;

impl PortalState {
    pub(crate) fn record(&mut self, req: RecordedRequest) {
        *self.counts.entry(req.method.clone()).or_default() += 1;
        if self.requests.len() >= MAX_RECORDED {
            self.requests.pop_front();
        }
        self.requests.push_back(req);
    }
}

pub(crate) struct PortalInner {
    pub(crate) config: PortalConfig,
    pub(crate) state: Mutex<PortalState>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) member_id: String,
}

impl PortalInner {
    pub(crate) fn lock(&self) -> MutexGuard<'_, PortalState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A handle on one portal of an [`Emulator`](crate::Emulator): seed data, read what
/// calls did, issue and expire tokens, script faults. Clones share the portal.
#[derive(Clone)]
pub struct EmulatedPortal {
    pub(crate) inner: Arc<PortalInner>,
}

impl fmt::Debug for EmulatedPortal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmulatedPortal")
            .field("host", &self.inner.config.host)
            .finish_non_exhaustive()
    }
}

/// Why seeding failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SeedError {
    /// No user with this id.
    UnknownUser(u64),
    /// No chat with this id.
    UnknownChat(u64),
    /// No task with this id.
    UnknownTask(u64),
    /// A seed document that cannot be read or repeats an id.
    Invalid(String),
}

impl fmt::Display for SeedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SeedError::UnknownUser(id) => write!(f, "no user {id} on this portal"),
            SeedError::UnknownChat(id) => write!(f, "no chat {id} on this portal"),
            SeedError::UnknownTask(id) => write!(f, "no task {id} on this portal"),
            SeedError::Invalid(why) => write!(f, "invalid seed: {why}"),
        }
    }
}

impl std::error::Error for SeedError {}

/// A task to seed: a title and its members (all default to user 1).
///
/// ```
/// use b24_emulator::TaskSeed;
/// let seed = TaskSeed::new("Write the report").creator(1).responsible(2).accomplice(3);
/// # let _ = seed;
/// ```
#[derive(Debug, Clone)]
pub struct TaskSeed {
    title: String,
    creator: u64,
    responsible: u64,
    accomplices: Vec<u64>,
    auditors: Vec<u64>,
}

impl TaskSeed {
    /// A task created by and assigned to user 1.
    pub fn new(title: &str) -> Self {
        Self {
            title: title.to_owned(),
            creator: 1,
            responsible: 1,
            accomplices: Vec::new(),
            auditors: Vec::new(),
        }
    }
    /// The creator.
    pub fn creator(mut self, user: u64) -> Self {
        self.creator = user;
        self
    }
    /// The responsible person.
    pub fn responsible(mut self, user: u64) -> Self {
        self.responsible = user;
        self
    }
    /// Adds an accomplice.
    pub fn accomplice(mut self, user: u64) -> Self {
        self.accomplices.push(user);
        self
    }
    /// Adds an auditor.
    pub fn auditor(mut self, user: u64) -> Self {
        self.auditors.push(user);
        self
    }
}

/// The ids of a seeded task and its chat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct SeededTask {
    /// The task id.
    pub task_id: u64,
    /// Its chat id.
    pub chat_id: u64,
}

/// A task result as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoredResult {
    /// Result id.
    pub id: u64,
    /// Task id.
    pub task_id: u64,
    /// Text.
    pub text: String,
    /// Author's user id.
    pub author_id: u64,
    /// The chat message it was made from.
    pub message_id: Option<u64>,
    /// Unix time created.
    pub created_at: i64,
    /// Unix time last updated.
    pub updated_at: Option<i64>,
    /// Closed (its task was completed).
    pub closed: bool,
}

/// A chat message as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoredMessage {
    /// Message id.
    pub id: u64,
    /// Chat id.
    pub chat_id: u64,
    /// Author's user id.
    pub author_id: u64,
    /// Text.
    pub text: String,
    /// Unix time sent.
    pub date: i64,
}

impl EmulatedPortal {
    pub(crate) fn new(config: PortalConfig, clock: Arc<dyn Clock>) -> Self {
        let data = match &config.seed {
            Some(seed) => seed.apply().unwrap_or_else(|_| Data::empty()),
            None => {
                let mut data = Data::empty();
                if config.seed_defaults {
                    seed_defaults(&mut data);
                }
                data
            }
        };
        let state = PortalState {
            data,
            tokens: TokenStore::default(),
            bucket: LeakyBucket::new(config.burst, config.drain_per_sec),
            operating: OperatingLedger::default(),
            idempotency: IdempotencyStore::default(),
            faults: FaultQueue::default(),
            overloaded: false,
            counts: BTreeMap::new(),
            rate_limited: 0,
            requests: VecDeque::new(),
        };
        Self {
            inner: Arc::new(PortalInner {
                config,
                state: Mutex::new(state),
                clock,
                member_id: crate::random::hex(32),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, PortalState> {
        self.inner.lock()
    }

    /// The host this portal answers to.
    pub fn host(&self) -> &str {
        &self.inner.config.host
    }

    /// The portal's `member_id` (as OAuth answers report it).
    pub fn member_id(&self) -> &str {
        &self.inner.member_id
    }

    // ---- seeding ----

    /// Adds a user (with a webhook of its own) and returns its id.
    pub fn add_user(&self, name: &str) -> u64 {
        add_user(&mut self.lock().data, name, "employee")
    }

    /// Adds a task with its chat.
    pub fn seed_task(&self, seed: TaskSeed) -> Result<SeededTask, SeedError> {
        let mut state = self.lock();
        let data = &mut state.data;
        for user in [seed.creator, seed.responsible]
            .iter()
            .chain(&seed.accomplices)
            .chain(&seed.auditors)
        {
            if !data.users.contains_key(user) {
                return Err(SeedError::UnknownUser(*user));
            }
        }
        Ok(add_task(data, seed))
    }

    /// Adds a plain group chat (not a task chat) with these members.
    pub fn add_chat(&self, title: &str, members: &[u64]) -> Result<u64, SeedError> {
        let mut state = self.lock();
        let data = &mut state.data;
        if let Some(m) = members.iter().find(|m| !data.users.contains_key(m)) {
            return Err(SeedError::UnknownUser(*m));
        }
        Ok(add_chat(data, title, None, members.to_vec()))
    }

    /// Adds a message to a chat and returns its id.
    pub fn add_message(&self, chat_id: u64, author: u64, text: &str) -> Result<u64, SeedError> {
        let now = self.inner.clock.now().floor() as i64;
        let mut state = self.lock();
        let data = &mut state.data;
        if !data.chats.contains_key(&chat_id) {
            return Err(SeedError::UnknownChat(chat_id));
        }
        if !data.users.contains_key(&author) {
            return Err(SeedError::UnknownUser(author));
        }
        let id = data.take_message_id();
        data.messages.insert(
            id,
            MessageRec {
                id,
                chat_id,
                author_id: author,
                text: text.to_owned(),
                date: now,
            },
        );
        let hit = crate::events::Hit {
            user: author,
            by_app: false,
            now: self.inner.clock.now(),
        };
        crate::events::message_posted(data, id, chat_id, hit);
        drop(state);
        self.dispatch_events();
        Ok(id)
    }

    /// Completes a task: its results become `closed` (and stay closed).
    pub fn complete_task(&self, task_id: u64) -> Result<(), SeedError> {
        if self.lock().data.complete_task(task_id) {
            Ok(())
        } else {
            Err(SeedError::UnknownTask(task_id))
        }
    }

    /// Deletes a task (its chat and messages stay).
    pub fn delete_task(&self, task_id: u64) -> Result<(), SeedError> {
        self.lock()
            .data
            .tasks
            .remove(&task_id)
            .map(|_| ())
            .ok_or(SeedError::UnknownTask(task_id))
    }

    // ---- reading ----

    /// Every stored task result, by id.
    pub fn results(&self) -> Vec<StoredResult> {
        self.lock()
            .data
            .results
            .values()
            .map(|r| StoredResult {
                id: r.id,
                task_id: r.task_id,
                text: r.text.clone(),
                author_id: r.author_id,
                message_id: r.message_id,
                created_at: r.created_at,
                updated_at: r.updated_at,
                closed: r.closed,
            })
            .collect()
    }

    /// The messages of a chat, oldest first.
    pub fn messages(&self, chat_id: u64) -> Vec<StoredMessage> {
        self.lock()
            .data
            .messages
            .values()
            .filter(|m| m.chat_id == chat_id)
            .map(|m| StoredMessage {
                id: m.id,
                chat_id: m.chat_id,
                author_id: m.author_id,
                text: m.text.clone(),
                date: m.date,
            })
            .collect()
    }

    /// The portal's users (webhook secrets included), tasks, chats and messages as a
    /// [`Seed`](crate::Seed): building a portal from it gives the same data.
    pub fn to_seed(&self) -> crate::Seed {
        crate::Seed::of(&self.lock().data)
    }

    /// The chat id of a task.
    pub fn task_chat(&self, task_id: u64) -> Option<u64> {
        self.lock().data.tasks.get(&task_id).map(|t| t.chat_id)
    }

    /// How many requests named this method arrived (any outcome; `batch` and
    /// `oauth.token` are counted under those names, nested batch calls are not).
    pub fn calls(&self, method: &str) -> u64 {
        self.lock()
            .counts
            .get(&method.to_ascii_lowercase())
            .copied()
            .unwrap_or(0)
    }

    /// How many requests the request bucket refused (503 `QUERY_LIMIT_EXCEEDED`),
    /// since the start or the last [`clear_requests`](Self::clear_requests).
    pub fn rate_limited(&self) -> u64 {
        self.lock().rate_limited
    }

    /// Request counts per method.
    pub fn call_counts(&self) -> BTreeMap<String, u64> {
        self.lock().counts.clone()
    }

    /// The recorded requests, oldest first (secrets removed).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.lock().requests.iter().cloned().collect()
    }

    /// Forgets the recorded requests but keeps the counts ([`calls`](Self::calls),
    /// [`call_counts`](Self::call_counts), [`rate_limited`](Self::rate_limited)): for
    /// long runs whose memory is measured in the same process.
    pub fn drop_request_records(&self) {
        self.lock().requests.clear();
    }

    /// Forgets recorded requests and counts.
    pub fn clear_requests(&self) {
        let mut state = self.lock();
        state.requests.clear();
        state.counts.clear();
        state.rate_limited = 0;
    }

    // ---- credentials ----

    /// The webhook secret of a user (every user has one webhook).
    pub fn webhook_secret(&self, user: u64) -> Option<String> {
        self.lock()
            .data
            .users
            .get(&user)
            .map(|u| u.webhook_secret.clone())
    }

    /// Gives a user a new webhook secret (the old one stops working) and returns it.
    pub fn rotate_webhook_secret(&self, user: u64) -> Result<String, SeedError> {
        let mut state = self.lock();
        let u = state
            .data
            .users
            .get_mut(&user)
            .ok_or(SeedError::UnknownUser(user))?;
        u.webhook_secret = crate::random::token(16);
        Ok(u.webhook_secret.clone())
    }

    /// Issues an OAuth access/refresh pair for a user (valid 1 h / 180 days).
    pub fn issue_tokens(&self, user: u64) -> Result<(AccessToken, RefreshToken), SeedError> {
        let now = self.inner.clock.now();
        let ttl = self.inner.config.access_ttl;
        let mut state = self.lock();
        if !state.data.users.contains_key(&user) {
            return Err(SeedError::UnknownUser(user));
        }
        let (a, r) = state.tokens.issue(user, now, ttl);
        Ok((AccessToken::new(a), RefreshToken::new(r)))
    }

    /// Issues an authorization code (valid 30 s) for the `authorization_code` grant.
    pub fn issue_auth_code(&self, user: u64) -> Result<String, SeedError> {
        let now = self.inner.clock.now();
        let mut state = self.lock();
        if !state.data.users.contains_key(&user) {
            return Err(SeedError::UnknownUser(user));
        }
        let code = crate::random::token(32);
        state.tokens.codes.insert(
            code.clone(),
            Grant {
                user,
                expires_at: now + CODE_TTL,
            },
        );
        Ok(code)
    }

    /// Makes an access token expired now. Returns false if it is unknown.
    pub fn expire_token(&self, token: &AccessToken) -> bool {
        let now = self.inner.clock.now();
        match self.lock().tokens.access.get_mut(token.expose_secret()) {
            Some(grant) => {
                grant.expires_at = now;
                true
            }
            None => false,
        }
    }

    /// Makes every access token of this portal expired now.
    pub fn expire_all_tokens(&self) {
        let now = self.inner.clock.now();
        for grant in self.lock().tokens.access.values_mut() {
            grant.expires_at = now;
        }
    }

    /// Revokes a refresh token (it then gets `invalid_grant`).
    pub fn revoke_refresh_token(&self, token: &RefreshToken) -> bool {
        self.lock()
            .tokens
            .refresh
            .remove(token.expose_secret())
            .is_some()
    }

    // ---- limits and faults ----

    /// Turns the manual overload block on or off (503 `OVERLOAD_LIMIT` on every call).
    pub fn set_overloaded(&self, on: bool) {
        self.lock().overloaded = on;
    }

    /// The leaky bucket's counter now.
    pub fn bucket_level(&self) -> f64 {
        let now = self.inner.clock.now();
        self.lock().bucket.level(now)
    }

    /// Scripts a fault for the next matching calls.
    pub fn inject(&self, fault: Fault) {
        self.lock().faults.push(fault);
    }

    /// Faults still waiting to fire.
    pub fn pending_faults(&self) -> usize {
        self.lock().faults.len()
    }

    /// Removes every scripted fault.
    pub fn clear_faults(&self) {
        self.lock().faults.clear();
    }
}

fn add_user(data: &mut Data, name: &str, role: &str) -> u64 {
    let id = data.next_user;
    data.next_user += 1;
    let login = name
        .split_whitespace()
        .next()
        .unwrap_or("user")
        .to_ascii_lowercase();
    data.users.insert(
        id,
        UserRec {
            name: name.to_owned(),
            email: format!("{login}{id}@example.com"),
            gender: "M".to_owned(),
            role: role.to_owned(),
            webhook_secret: crate::random::token(16),
        },
    );
    id
}

fn add_chat(data: &mut Data, title: &str, task_id: Option<u64>, members: Vec<u64>) -> u64 {
    let id = data.next_chat;
    data.next_chat += 1;
    data.chats.insert(
        id,
        ChatRec {
            task_id,
            title: title.to_owned(),
            members,
        },
    );
    id
}

fn add_task(data: &mut Data, seed: TaskSeed) -> SeededTask {
    let id = data.next_task;
    data.next_task += 1;
    let chat_id = add_chat(data, &seed.title, Some(id), Vec::new());
    data.tasks.insert(
        id,
        TaskRec {
            id,
            title: seed.title,
            description: String::new(),
            creator: seed.creator,
            responsible: seed.responsible,
            accomplices: seed.accomplices,
            auditors: seed.auditors,
            chat_id,
            status: "pending".to_owned(),
        },
    );
    SeededTask {
        task_id: id,
        chat_id,
    }
}

fn seed_message(data: &mut Data, id: u64, chat_id: u64, author_id: u64, text: &str) {
    data.messages.insert(
        id,
        MessageRec {
            id,
            chat_id,
            author_id,
            text: text.to_owned(),
            date: 1_777_529_100,
        },
    );
}

/// The default data (see the crate docs for the table).
pub(crate) fn seed_defaults(data: &mut Data) {
    add_user(data, "John Smith", "admin"); // 1
    add_user(data, "Anna Lee", "employee"); // 2
    add_user(data, "Max Brown", "employee"); // 3
    add_user(data, "Olga Petrova", "employee"); // 4: member of nothing
    let t51 = add_task(
        data,
        TaskSeed::new("Prepare the quarterly report")
            .creator(1)
            .responsible(1)
            .accomplice(2),
    ); // 51, chat 58
    let t52 = add_task(
        data,
        TaskSeed::new("Check the supplier contract")
            .creator(2)
            .responsible(3),
    ); // 52, chat 59
    let _t53 = add_task(
        data,
        TaskSeed::new("Plan the release").creator(1).responsible(2),
    ); // 53, chat 60
    let general = add_chat(data, "General", None, vec![1, 2, 3]); // 61
    seed_message(data, 335, t51.chat_id, 1, "Task work completed");
    seed_message(data, 336, t51.chat_id, 2, "Draft is ready for review");
    seed_message(data, 337, t52.chat_id, 2, "Contract text attached");
    seed_message(data, 338, general, 1, "Lunch at noon?");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::record::Endpoint;

    fn request(i: usize) -> RecordedRequest {
        RecordedRequest {
            http_method: "POST".to_owned(),
            api: Endpoint::V3,
            method: format!("m{}", i % 3),
            path: format!("/rest/api/{i}"),
            headers: Vec::new(),
            body: bytes::Bytes::new(),
            at: 0.0,
        }
    }

    #[test]
    fn the_request_log_keeps_the_newest_in_order_and_counts_all() {
        let portal = EmulatedPortal::new(
            PortalConfig::new("localhost"),
            Arc::new(ManualClock::new(0.0)),
        );
        let total = 2 * MAX_RECORDED + 7;
        {
            let mut state = portal.lock();
            for i in 0..total {
                state.record(request(i));
            }
        }
        let log = portal.requests();
        assert_eq!(log.len(), MAX_RECORDED);
        let first = total - MAX_RECORDED;
        assert!(log
            .iter()
            .enumerate()
            .all(|(n, r)| r.path == format!("/rest/api/{}", first + n)));
        let counted: u64 = portal.call_counts().values().sum();
        assert_eq!(counted, u64::try_from(total).unwrap());
    }
}
