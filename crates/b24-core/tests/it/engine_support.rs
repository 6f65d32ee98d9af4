//! The scripted driver and the fixtures shared by the engine tests: an `Exchange`
//! driven on a fake clock with canned answers.

use b24_core::engine::KeySupport;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use b24_core::bytes::Bytes;
use b24_core::engine::{
    Action, BudgetVerdict, Event, Exchange, MemoryTokenStore, OAuthApp, PortalState, Purpose,
    StoreCall, Timestamp, TokenSet, TokenStore, TransportFailure, WaitReason,
};
use b24_core::http;
use b24_core::methods::{DialogId, ImMessageAdd, TaskResultAddFromChatMessage};
use b24_core::types::{AccessToken, ChatId, ClientSecret, MessageId, RefreshToken};
use b24_core::{Error, Method, Portal, Reply};

pub const T0: u64 = 1_777_530_000_000;

pub fn t0() -> Timestamp {
    Timestamp::from_unix_millis(T0)
}

pub fn webhook() -> Portal {
    Portal::webhook("https://example.bitrix24.com/rest/1/hookSecretCanary/").unwrap()
}

pub fn oauth() -> Portal {
    Portal::oauth("https://example.bitrix24.com").unwrap()
}

pub fn respond(status: u16, body: &str) -> http::Response<Bytes> {
    http::Response::builder()
        .status(status)
        .body(Bytes::copy_from_slice(body.as_bytes()))
        .unwrap()
}

pub fn item_ok(reset_at: u64) -> String {
    format!(
        r#"{{"result":{{"item":{{"id":18,"taskId":51,"text":"Task work completed","authorId":1,"createdAt":"2026-04-30T10:25:00+02:00","updatedAt":null,"status":"open","fileIds":[],"rights":{{"edit":true,"remove":true}},"messageId":335}}}},"time":{{"start":1777529700,"finish":1777529700.1,"duration":0.1,"processing":0.1,"operating_reset_at":{reset_at},"operating":0.5}}}}"#
    )
}

pub fn v3_error(code: &str) -> String {
    format!(r#"{{"error":{{"code":"{code}","message":"m"}}}}"#)
}

pub fn classic_error(code: &str) -> String {
    format!(r#"{{"error":"{code}","error_description":"d"}}"#)
}

pub fn add_from_chat() -> TaskResultAddFromChatMessage {
    TaskResultAddFromChatMessage::new(MessageId::new(335).unwrap())
}

pub fn im_add() -> ImMessageAdd {
    ImMessageAdd::new(DialogId::chat(ChatId::new(58).unwrap()), "done").unwrap()
}

pub fn key_of(req: &http::Request<Bytes>) -> Option<String> {
    req.headers()
        .get("idempotency-key")
        .map(|v| v.to_str().unwrap().to_owned())
}

pub fn body_text(req: &http::Request<Bytes>) -> String {
    String::from_utf8(req.body().to_vec()).unwrap()
}

// --- OAuth ---

pub fn app() -> OAuthApp {
    OAuthApp::new("local.app", ClientSecret::new("clientSecretCanary"))
}

/// A token store holding `access`/`refresh` as generation 1.
pub fn token_store(access: &str, refresh: &str) -> Arc<MemoryTokenStore> {
    Arc::new(MemoryTokenStore::new(TokenSet::new(
        AccessToken::new(access),
        RefreshToken::new(refresh),
    )))
}

/// State for an OAuth credential: these tokens, refreshed with [`app`].
pub fn oauth_state(store: Arc<MemoryTokenStore>) -> PortalState {
    PortalState::new(7)
        .assume_key_support(KeySupport::Supported)
        .token_store(store)
        .oauth_app(Arc::new(app()))
}

/// The OAuth server's answer to a refresh request.
pub fn token_answer(access: &str, refresh: &str) -> http::Response<Bytes> {
    respond(
        200,
        &format!(
            r#"{{"access_token":"{access}","refresh_token":"{refresh}","expires_in":3600,"server_endpoint":"https://oauth.bitrix.info/rest/"}}"#
        ),
    )
}

pub fn invalid_grant() -> http::Response<Bytes> {
    respond(400, r#"{"error":"invalid_grant"}"#)
}

// --- Stores ---

/// The value of a store call that must be ready and successful (the memory stores').
pub fn ready<T>(call: StoreCall<T>) -> T {
    match call {
        StoreCall::Ready(Ok(value)) => value,
        other => panic!("expected a ready answer, got {other:?}"),
    }
}

/// The pair a token store holds now.
pub fn current(store: &dyn TokenStore) -> TokenSet {
    ready(store.current()).expect("a stored pair")
}

/// The verdict of the state's budget store for one method (a spread slot is taken).
pub fn verdict(state: &PortalState, method: &str, now: Timestamp) -> BudgetVerdict {
    ready(state.budgets().check(&[method.to_owned()], now)).verdict
}

// --- The driver ---

/// One scripted answer to a `Send`.
pub enum Step {
    Answer(http::Response<Bytes>),
    Fail(TransportFailure),
}

pub fn answer(status: u16, body: &str) -> Step {
    Step::Answer(respond(status, body))
}

/// What the exchange asked for, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    Store,
    Send(Purpose),
    Wait(WaitReason),
}

/// What a scripted run saw.
pub struct Run<T> {
    pub result: Result<Reply<T>, Error>,
    /// The attempts of the call.
    pub sent: Vec<http::Request<Bytes>>,
    /// The token refresh requests.
    pub refreshes: Vec<http::Request<Bytes>>,
    pub waits: Vec<(Timestamp, WaitReason)>,
    pub events: Vec<Event>,
    pub actions: Vec<Seen>,
    pub now: Timestamp,
}

impl<T> Run<T> {
    /// The actions other than store operations.
    pub fn io(&self) -> Vec<Seen> {
        self.actions
            .iter()
            .copied()
            .filter(|a| *a != Seen::Store)
            .collect()
    }
}

/// Drives an exchange that must not refresh a token (no refresh answer is scripted).
pub fn drive<M: Method>(
    mut ex: Exchange<M>,
    script: Vec<Step>,
    start: Timestamp,
) -> Run<M::Output> {
    drive_with(&mut ex, script, vec![], start)
}

/// Drives an exchange: a call's `Send` takes the next step of `script`, a token
/// refresh's the next of `refresh_script` (each request takes 100 ms on the wire);
/// `Wait` moves the clock to its end; `Store` runs the task in place.
pub fn drive_with<M: Method>(
    ex: &mut Exchange<M>,
    script: Vec<Step>,
    refresh_script: Vec<http::Response<Bytes>>,
    start: Timestamp,
) -> Run<M::Output> {
    let mut script: VecDeque<Step> = script.into();
    let mut refresh_script: VecDeque<_> = refresh_script.into();
    let mut now = start;
    let mut sent = Vec::new();
    let mut refreshes = Vec::new();
    let mut waits = Vec::new();
    let mut events = Vec::new();
    let mut actions = Vec::new();
    let result = loop {
        let action = ex.poll(now);
        events.extend(std::iter::from_fn(|| ex.poll_event()));
        match action {
            Action::Send(out) => {
                let purpose = out.purpose();
                actions.push(Seen::Send(purpose));
                let step = match purpose {
                    Purpose::Call => {
                        sent.push(out.into_request());
                        script.pop_front().expect("the script ran out")
                    }
                    Purpose::TokenRefresh => {
                        refreshes.push(out.into_request());
                        Step::Answer(
                            refresh_script
                                .pop_front()
                                .expect("no refresh answer scripted"),
                        )
                    }
                    other => panic!("unknown purpose {other:?}"),
                };
                now = now.saturating_add(Duration::from_millis(100));
                match step {
                    Step::Answer(resp) => ex.handle_response(resp, now),
                    Step::Fail(f) => ex.handle_transport_error(f, now),
                }
            }
            Action::Wait { until, reason } => {
                assert!(until > now, "a wait must lie in the future");
                actions.push(Seen::Wait(reason));
                waits.push((until, reason));
                now = until;
            }
            Action::Store(task) => {
                actions.push(Seen::Store);
                ex.handle_store(task.wait(), now);
            }
            Action::Done(result) => break result,
            other => panic!("unknown action {other:?}"),
        }
    };
    events.extend(std::iter::from_fn(|| ex.poll_event()));
    assert!(
        script.is_empty(),
        "{} scripted answers were not used",
        script.len()
    );
    assert!(
        refresh_script.is_empty(),
        "{} refresh answers were not used",
        refresh_script.len()
    );
    assert!(ex.is_finished());
    Run {
        result,
        sent,
        refreshes,
        waits,
        events,
        actions,
        now,
    }
}

/// Polls at `now`, running any store operations in place, up to the next other action.
pub fn poll_past_stores<M: Method>(ex: &mut Exchange<M>, now: Timestamp) -> Action<M::Output> {
    loop {
        match ex.poll(now) {
            Action::Store(task) => ex.handle_store(task.wait(), now),
            other => return other,
        }
    }
}

/// The error under a WriteOutcomeUnknown: a write that may have run and was not
/// repeated ends so, whatever its last answer.
pub fn maybe_ran(e: Error) -> Error {
    match e {
        Error::WriteOutcomeUnknown { last, .. } => *last,
        other => panic!("expected WriteOutcomeUnknown, got {other:?}"),
    }
}
