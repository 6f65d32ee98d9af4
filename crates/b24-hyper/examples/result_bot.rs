//! A result bot: `cargo run -p b24-hyper --example result_bot`.
//!
//! When a message lands in a task's chat the portal sends `ONTASKCOMMENTADD` with
//! the message id (new task card). The bot reads the message, skips the portal's own
//! notices (author 0) and its own messages, and when the text matches its rule
//! (starts with `Result:`) makes the message the task's result, once per message id.
//!
//! Skipping author 0 is not a detail: making a result posts a notice in the chat,
//! and that notice fires `ONTASKCOMMENTADD` too. A bot that made every message a
//! result would make the notice a result, which posts a notice, and so on for ever.
//!
//! It runs **online** (a [`Receiver`] the portal POSTs to, bound with `event.bind`)
//! or **offline** (an [`OfflinePoller`] over `event.offline.get`).
//!
//! With no configuration it starts the offline portal (b24-emulator) in-process,
//! binds itself, has a user post `Result: report attached` in task 51's chat, and
//! prints what happened. Against a real portal (an OAuth app; offline mode needs an
//! administrator), set:
//!
//! | variable | meaning |
//! |---|---|
//! | `B24_PORTAL` | the portal, `https://example.bitrix24.com` |
//! | `B24_CLIENT_ID`, `B24_CLIENT_SECRET` | the app's credentials |
//! | `B24_ACCESS_TOKEN`, `B24_REFRESH_TOKEN` | a token pair of the bot's user |
//! | `B24_BOT_USER` | that user's id (its own messages are skipped) |
//! | `B24_MODE` | `online` (default) or `offline` |
//! | `B24_MEMBER_ID`, `B24_APPLICATION_TOKEN` | online: the portal's member id and the token from `ONAPPINSTALL` |
//! | `B24_LISTEN` | online: where to listen, `127.0.0.1:8080` (put TLS in front) |
//! | `B24_HANDLER_URL` | online: the public URL to bind, if the bot should bind itself |
//! | `B24_CHECKPOINT` | offline: a file for the batch being handled (default `result_bot.checkpoint`) |
//! | `B24_PREFIX` | the rule (default `Result:`) |
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use b24_core::engine::{MemoryTokenStore, OAuthApp, Timestamp, TokenSet};
use b24_core::events::{DedupKey, DuplicateFilter, MemoryApplicationTokens, TaskChatMessage};
use b24_core::methods::{Condition, EventBind, FilterField, TaskResultList};
use b24_core::types::events::{names, EventPayload, MemberId};
use b24_core::Portal;
use b24_hyper::{Client, EventQueue, FileCheckpoint, OfflineItem, OfflinePoller, Receiver};
use b24_types::{
    AccessToken, ApplicationToken, ChatId, ClientSecret, MessageAuthor, MessageId, RefreshToken,
    ResultId, TaskId, UserId,
};

/// What the bot did with one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The message became result `ResultId`.
    Created(ResultId),
    /// The message already is a result (seen before this process started, say).
    AlreadyResult(ResultId),
    /// The same message was handled moments ago: a repeated delivery.
    Duplicate,
    /// A notice the portal posted itself (author 0), such as "result added".
    SystemNotice,
    /// A message of the bot's own user.
    OwnMessage,
    /// The text does not match the rule.
    NoMatch,
    /// Not a new-card `ONTASKCOMMENTADD` (another event, or an old-card comment).
    NotAChatMessage,
}

/// Which messages become results: those starting with a prefix (case-insensitive,
/// after leading spaces).
#[derive(Debug, Clone)]
pub struct Rule {
    prefix: String,
}

impl Rule {
    /// Messages starting with `prefix`.
    pub fn prefix(prefix: &str) -> Self {
        Self {
            prefix: prefix.trim().to_lowercase(),
        }
    }

    /// True when `text` matches.
    pub fn matches(&self, text: &str) -> bool {
        text.trim_start().to_lowercase().starts_with(&self.prefix)
    }
}

/// How often each outcome happened.
#[derive(Debug, Default)]
pub struct Counts {
    created: AtomicU64,
    already: AtomicU64,
    duplicate: AtomicU64,
    system: AtomicU64,
    own: AtomicU64,
    no_match: AtomicU64,
    other: AtomicU64,
    failed: AtomicU64,
}

impl Counts {
    fn note(&self, outcome: &Result<Outcome, b24_hyper::Error>) {
        let counter = match outcome {
            Ok(Outcome::Created(_)) => &self.created,
            Ok(Outcome::AlreadyResult(_)) => &self.already,
            Ok(Outcome::Duplicate) => &self.duplicate,
            Ok(Outcome::SystemNotice) => &self.system,
            Ok(Outcome::OwnMessage) => &self.own,
            Ok(Outcome::NoMatch) => &self.no_match,
            Ok(Outcome::NotAChatMessage) => &self.other,
            Err(_) => &self.failed,
        };
        counter.fetch_add(1, Ordering::SeqCst);
    }

    /// Results made.
    pub fn created(&self) -> u64 {
        self.created.load(Ordering::SeqCst)
    }
    /// Messages that already were results.
    pub fn already(&self) -> u64 {
        self.already.load(Ordering::SeqCst)
    }
    /// Repeated deliveries dropped.
    pub fn duplicates(&self) -> u64 {
        self.duplicate.load(Ordering::SeqCst)
    }
    /// Portal notices skipped.
    pub fn system(&self) -> u64 {
        self.system.load(Ordering::SeqCst)
    }
    /// Own messages skipped.
    pub fn own(&self) -> u64 {
        self.own.load(Ordering::SeqCst)
    }
    /// Messages not matching the rule.
    pub fn no_match(&self) -> u64 {
        self.no_match.load(Ordering::SeqCst)
    }
    /// Events handled in all (any outcome, failures included).
    pub fn total(&self) -> u64 {
        [
            &self.created,
            &self.already,
            &self.duplicate,
            &self.system,
            &self.own,
            &self.no_match,
            &self.other,
            &self.failed,
        ]
        .iter()
        .map(|c| c.load(Ordering::SeqCst))
        .sum()
    }
}

/// The bot: one portal, one rule.
#[derive(Debug)]
pub struct ResultBot {
    client: Client,
    portal: Portal,
    own_user: Option<UserId>,
    rule: Rule,
    seen: Mutex<DuplicateFilter>,
    chats: Mutex<HashMap<TaskId, ChatId>>,
    counts: Counts,
}

fn now() -> Timestamp {
    Timestamp::from_system_time(std::time::SystemTime::now())
}

impl ResultBot {
    /// A bot calling `portal` through `client`, remembering the last 10,000 messages
    /// for an hour.
    pub fn new(client: Client, portal: Portal, rule: Rule) -> Self {
        Self {
            client,
            portal,
            own_user: None,
            rule,
            seen: Mutex::new(DuplicateFilter::new(10_000, Duration::from_secs(3600))),
            chats: Mutex::new(HashMap::new()),
            counts: Counts::default(),
        }
    }

    /// The bot's own user: its messages are never made results.
    pub fn own_user(mut self, user: UserId) -> Self {
        self.own_user = Some(user);
        self
    }

    /// What the bot has done.
    pub fn counts(&self) -> &Counts {
        &self.counts
    }

    /// Handles one event.
    ///
    /// # Errors
    ///
    /// A failed call; the message counts as unseen again, so a repeat retries it.
    pub async fn on_payload(&self, payload: &EventPayload) -> Result<Outcome, b24_hyper::Error> {
        let outcome = match TaskChatMessage::from_payload(payload) {
            Some(m) => self.on_message(m.task_id, m.message_id).await,
            None => Ok(Outcome::NotAChatMessage),
        };
        self.counts.note(&outcome);
        outcome
    }

    async fn on_message(
        &self,
        task: TaskId,
        message: MessageId,
    ) -> Result<Outcome, b24_hyper::Error> {
        let key = DedupKey::message(names::ON_TASK_COMMENT_ADD, message);
        let first = self
            .seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .first_seen(key.clone(), now());
        if !first {
            return Ok(Outcome::Duplicate);
        }
        let outcome = self.decide(task, message).await;
        if outcome.is_err() {
            self.seen
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .forget(&key);
        }
        outcome
    }

    async fn decide(&self, task: TaskId, message: MessageId) -> Result<Outcome, b24_hyper::Error> {
        let chat = self.chat_of(task).await?;
        // The event names the message; only the message says who wrote what.
        let msg = self
            .client
            .chat_message(&self.portal, chat, message)
            .await?;
        match msg.author_id {
            MessageAuthor::System => return Ok(Outcome::SystemNotice),
            MessageAuthor::User(u) if Some(u) == self.own_user => return Ok(Outcome::OwnMessage),
            MessageAuthor::User(_) => {}
        }
        if !self.rule.matches(&msg.text) {
            return Ok(Outcome::NoMatch);
        }
        // The portal does not refuse a second result from the same message, and the
        // memory above is gone after a restart: ask the portal first.
        let results = self.client.task_results(&self.portal);
        let query =
            TaskResultList::for_task(task).filter(Condition::eq(FilterField::MessageId, message)?);
        if let Some(done) = results
            .list_page(query)
            .await?
            .into_iter()
            .find(|r| r.message_id == Some(message))
        {
            return Ok(Outcome::AlreadyResult(done.id));
        }
        let made = results.add_from_chat_message(message).await?;
        Ok(Outcome::Created(made.id))
    }

    async fn chat_of(&self, task: TaskId) -> Result<ChatId, b24_hyper::Error> {
        if let Some(chat) = self
            .chats
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&task)
        {
            return Ok(*chat);
        }
        let chat = self.client.task_chat_id(&self.portal, task).await?;
        self.chats
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(task, chat);
        Ok(chat)
    }

    /// Online: handles what the receiver queues, one event at a time, until the
    /// queue closes.
    pub async fn run_online(&self, mut queue: EventQueue) {
        while let Some(event) = queue.recv().await {
            if let Err(e) = self.on_payload(&event.delivery.payload).await {
                eprintln!("event {} not handled: {e}", event.delivery.event);
            }
        }
    }

    /// Offline: one poll of the queue through `poller`.
    ///
    /// # Errors
    ///
    /// As [`OfflinePoller::poll_once`]: the batch is then read again next time.
    pub async fn poll_offline(
        &self,
        poller: &OfflinePoller,
    ) -> Result<b24_hyper::PollReport, b24_hyper::PollError<b24_hyper::Error>> {
        poller
            .poll_once(&mut |item: OfflineItem| self.on_offline(item))
            .await
    }

    /// Offline: polls until a call fails.
    pub async fn run_offline(&self, poller: &OfflinePoller, interval: Duration) {
        loop {
            let e = poller
                .run(interval, |item: OfflineItem| self.on_offline(item))
                .await;
            eprintln!("offline poll stopped, retrying in {interval:?}: {e}");
            tokio::time::sleep(interval).await;
        }
    }

    /// Offline: handles one queued event (an unreadable one is skipped).
    ///
    /// # Errors
    ///
    /// A failed call: the batch is then read again.
    pub async fn on_offline(&self, item: OfflineItem) -> Result<(), b24_hyper::Error> {
        match &item.payload {
            Ok(payload) => self.on_payload(payload).await.map(|_| ()),
            Err(e) => {
                // Data the bot cannot read will not get better: skip it.
                eprintln!("offline event {} skipped: {e}", item.row.id);
                Ok(())
            }
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let run = match std::env::var("B24_PORTAL") {
        Ok(portal) => real(&portal).await,
        Err(_) => demo().await,
    };
    match run {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("result_bot failed: {e}");
            ExitCode::FAILURE
        }
    }
}

fn var(name: &str) -> Result<String, String> {
    std::env::var(name).map_err(|_| format!("{name} is not set"))
}

/// Against a real portal, configured by the environment.
async fn real(base: &str) -> Result<(), Box<dyn std::error::Error>> {
    let app = OAuthApp::new(
        var("B24_CLIENT_ID")?,
        ClientSecret::new(var("B24_CLIENT_SECRET")?),
    );
    let client = Client::builder()
        .user_agent(concat!("b24-result-bot/", env!("CARGO_PKG_VERSION")))
        .oauth_app(app)
        .build()?;
    let portal = Portal::oauth(base)?;
    let tokens = TokenSet::new(
        AccessToken::new(var("B24_ACCESS_TOKEN")?),
        RefreshToken::new(var("B24_REFRESH_TOKEN")?),
    );
    client.register_oauth_portal(&portal, Arc::new(MemoryTokenStore::new(tokens)));
    let prefix = std::env::var("B24_PREFIX").unwrap_or_else(|_| "Result:".to_owned());
    let mut bot = ResultBot::new(client.clone(), portal.clone(), Rule::prefix(&prefix));
    if let Ok(user) = std::env::var("B24_BOT_USER") {
        bot = bot.own_user(user.trim().parse()?);
    }
    if std::env::var("B24_MODE").is_ok_and(|m| m.eq_ignore_ascii_case("offline")) {
        client
            .execute(&portal, EventBind::offline(names::ON_TASK_COMMENT_ADD)?)
            .await
            .ok();
        let checkpoint =
            std::env::var("B24_CHECKPOINT").unwrap_or_else(|_| "result_bot.checkpoint".to_owned());
        let poller = OfflinePoller::new(client, portal)
            .event(names::ON_TASK_COMMENT_ADD)
            .checkpoint(Arc::new(FileCheckpoint::new(checkpoint)));
        println!("polling the offline queue every 10 s");
        bot.run_offline(&poller, Duration::from_secs(10)).await;
        return Ok(());
    }
    let tokens = Arc::new(MemoryApplicationTokens::with(
        MemberId::new(var("B24_MEMBER_ID")?),
        ApplicationToken::new(var("B24_APPLICATION_TOKEN")?),
    ));
    let (receiver, queue) = Receiver::builder(tokens).build();
    let listener = tokio::net::TcpListener::bind(var("B24_LISTEN")?).await?;
    let server = receiver.serve(listener)?;
    println!("listening on {}", server.addr());
    if let Ok(url) = std::env::var("B24_HANDLER_URL") {
        // A second bind of the same handler is refused (ERROR_CORE): fine.
        if let Err(e) = client
            .execute(
                &portal,
                EventBind::online(names::ON_TASK_COMMENT_ADD, &url)?,
            )
            .await
        {
            eprintln!("event.bind: {e}");
        }
    }
    bot.run_online(queue).await;
    Ok(())
}

/// Against the offline portal, in-process: bind, post, watch.
async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    println!("B24_PORTAL is not set: starting the offline portal.");
    let server = b24_emulator::Emulator::new().serve_https().await?;
    let emu = server.portal();
    let app = OAuthApp::new(
        server.emulator().oauth_client_id(),
        ClientSecret::new(server.emulator().oauth_client_secret()),
    )
    .token_url(server.token_url());
    let client = Client::builder()
        .add_root_certificate_pem(server.ca_cert_pem().unwrap_or_default())
        .resolve("localhost", server.addr())
        .oauth_app(app)
        .build()?;
    let portal = Portal::oauth(&format!("https://localhost:{}", server.addr().port()))?;
    let (access, refresh) = emu.issue_tokens(1)?;
    client.register_oauth_portal(
        &portal,
        Arc::new(MemoryTokenStore::new(TokenSet::new(access, refresh))),
    );

    // The receiver knows the portal's application token (an app stores it from
    // ONAPPINSTALL) and listens on loopback.
    let tokens = Arc::new(MemoryApplicationTokens::with(
        MemberId::new(emu.member_id()),
        emu.application_token(),
    ));
    let (receiver, queue) = Receiver::builder(tokens).build();
    let http = receiver
        .clone()
        .serve(tokio::net::TcpListener::bind("127.0.0.1:0").await?)?;
    let handler = format!("http://{}/b24/events", http.addr());
    client
        .execute(
            &portal,
            EventBind::online(names::ON_TASK_COMMENT_ADD, &handler)?,
        )
        .await?;
    println!("bound ONTASKCOMMENTADD to {handler}");

    let bot = Arc::new(
        ResultBot::new(client.clone(), portal.clone(), Rule::prefix("Result:"))
            .own_user(UserId::new(1)?),
    );
    let running = {
        let bot = bot.clone();
        tokio::spawn(async move { bot.run_online(queue).await })
    };

    // Anna (user 2) posts in task 51's chat through her own webhook.
    let anna = Portal::webhook(&server.webhook_url(&emu, 2).ok_or("no webhook")?)?;
    let posted = client
        .post_to_task_chat(&anna, TaskId::new(51)?, "Result: report attached")
        .await?;
    client
        .post_to_task_chat(&anna, TaskId::new(51)?, "Thanks, looking at it")
        .await?;
    println!("user 2 posted message {posted} (and one that does not match)");

    // Wait for the chain to settle: her messages, then the notice of the result.
    for _ in 0..500 {
        if bot.counts().created() == 1 && bot.counts().system() >= 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    emu.wait_for_deliveries(Duration::from_secs(5)).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let c = bot.counts();
    println!(
        "events: {} handled; {} result made, {} notice skipped, {} not matching",
        c.total(),
        c.created(),
        c.system(),
        c.no_match()
    );
    for r in emu.results() {
        println!(
            "result {} of task {} from message {:?}: {}",
            r.id, r.task_id, r.message_id, r.text
        );
    }
    running.abort();
    http.shutdown().await;
    server.shutdown().await;
    Ok(())
}
