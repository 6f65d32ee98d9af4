//! Events: bindings (`event.bind`), online deliveries of `ONTASKCOMMENTADD` to bound
//! handlers, and the offline queue (`event.offline.*`).
//!
//! A message that lands in a task's chat (posted through the API, seeded with
//! [`EmulatedPortal::add_message`], or the notice the portal posts itself when a result is
//! made) is turned into `ONTASKCOMMENTADD` with the new task card's data. For each
//! online binding a delivery is queued and sent after the call that caused it,
//! form-encoded as PHP's `http_build_query` writes it, with the portal's
//! `application_token`. For each offline binding a row is queued.

mod faults;
mod form;
pub(crate) mod methods;
mod send;

use std::collections::BTreeMap;
use std::time::Duration;

use b24_types::ApplicationToken;
use bytes::Bytes;
use md5::{Digest, Md5};
use serde_json::{json, Map, Value};

pub use faults::{EventFault, EventFaultAction};

use crate::model::Data;
use crate::portal::EmulatedPortal;

/// The event the emulator fires.
pub(crate) const ON_TASK_COMMENT_ADD: &str = "ONTASKCOMMENTADD";

/// Keep at most this many delivery records (oldest dropped first).
const MAX_LOG: usize = 10_000;

/// One binding made with `event.bind`.
#[derive(Debug, Clone)]
pub(crate) struct Binding {
    pub(crate) id: u64,
    pub(crate) event: String,
    /// The handler URL; `None` for an offline binding.
    pub(crate) handler: Option<String>,
    /// The user whose token events carry (`0`: the acting user).
    pub(crate) auth_type: u64,
    pub(crate) connector: String,
    /// The user who made the binding.
    pub(crate) owner: u64,
}

/// A delivery waiting to be sent.
#[derive(Debug, Clone)]
pub(crate) struct Pending {
    binding_id: u64,
    handler: String,
    event: String,
    data: Value,
    ts: i64,
    /// The user whose tokens go in `auth` (`0`: none).
    auth_user: u64,
}

/// A row of the offline queue.
#[derive(Debug, Clone)]
pub(crate) struct OfflineRow {
    pub(crate) id: u64,
    pub(crate) ts: i64,
    pub(crate) event: String,
    pub(crate) data: Value,
    pub(crate) additional: Value,
    pub(crate) message_id: String,
    pub(crate) process_id: String,
    pub(crate) error: bool,
    pub(crate) connector: String,
}

/// Switches for event behaviour.
#[derive(Debug, Clone)]
pub(crate) struct EventSettings {
    pub(crate) result_notices: bool,
    pub(crate) offline_skip_own_app: bool,
    pub(crate) offline_extended: bool,
}

/// A portal's event state: part of its data, under the portal's lock.
#[derive(Debug)]
pub(crate) struct EventState {
    pub(crate) settings: EventSettings,
    pub(crate) application_token: ApplicationToken,
    pub(crate) client_endpoint: Option<String>,
    pub(crate) bindings: Vec<Binding>,
    pub(crate) next_binding: u64,
    pub(crate) outbox: Vec<Pending>,
    pub(crate) offline: BTreeMap<u64, OfflineRow>,
    pub(crate) next_offline: u64,
    log: Vec<DeliveryRecord>,
    next_delivery: u64,
    faults: faults::EventFaultQueue,
    in_flight: usize,
}

impl Default for EventState {
    fn default() -> Self {
        Self {
            settings: EventSettings {
                result_notices: true,
                offline_skip_own_app: true,
                offline_extended: true,
            },
            application_token: ApplicationToken::new(crate::random::hex(32)),
            client_endpoint: None,
            bindings: Vec::new(),
            next_binding: 1,
            outbox: Vec::new(),
            offline: BTreeMap::new(),
            next_offline: 1,
            log: Vec::new(),
            next_delivery: 1,
            faults: faults::EventFaultQueue::default(),
            in_flight: 0,
        }
    }
}

/// How a delivery went.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeliveryStatus {
    /// Queued or on its way.
    Pending,
    /// The handler answered with this status.
    Answered(u16),
    /// No answer: refused by the emulator, no connection, or no answer in 5 s.
    Failed(String),
    /// Dropped by an [`EventFault::drop`].
    Dropped,
}

/// One online delivery, as sent.
///
/// The body holds the portal's application token and an access token, as a real
/// delivery does: it is here so that tests can replay or alter it. `Debug` shows its
/// length only.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeliveryRecord {
    /// The delivery's number on this portal.
    pub id: u64,
    /// The event name.
    pub event: String,
    /// The binding (`event_handler_id`).
    pub binding_id: u64,
    /// The handler URL.
    pub handler: String,
    /// The form body.
    pub body: Bytes,
    /// How it went.
    pub status: DeliveryStatus,
}

impl std::fmt::Debug for DeliveryRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeliveryRecord")
            .field("id", &self.id)
            .field("event", &self.event)
            .field("binding_id", &self.binding_id)
            .field("handler", &self.handler)
            .field("body_len", &self.body.len())
            .field("status", &self.status)
            .finish()
    }
}

/// A binding, as tests read it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoredBinding {
    /// `event_handler_id`.
    pub id: u64,
    /// The event name.
    pub event: String,
    /// The handler URL (`None` for an offline binding).
    pub handler: Option<String>,
    /// The `auth_type` user (`0`: the acting user).
    pub auth_type: u64,
    /// The offline queue's connector (empty for none).
    pub connector: String,
}

/// A row of the offline queue, as tests read it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct StoredOfflineEvent {
    /// `ID`.
    pub id: u64,
    /// `EVENT_NAME`.
    pub event: String,
    /// `EVENT_DATA`.
    pub data: Value,
    /// `MESSAGE_ID` (a 32-character hash).
    pub message_id: String,
    /// `PROCESS_ID`: the batch holding it, empty when free.
    pub process_id: String,
    /// Marked with `event.offline.error`.
    pub error: bool,
}

/// Who caused a message, as the event machinery needs it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Hit {
    /// The user of the call (or the seeding author).
    pub(crate) user: u64,
    /// True when the call came through the OAuth app (its own offline rows are
    /// skipped).
    pub(crate) by_app: bool,
    /// Unix time.
    pub(crate) now: f64,
}

/// A message landed in chat `chat_id`: queue `ONTASKCOMMENTADD` when it is a task's
/// chat.
pub(crate) fn message_posted(data: &mut Data, message_id: u64, chat_id: u64, hit: Hit) {
    let Some(task_id) = data.chats.get(&chat_id).and_then(|c| c.task_id) else {
        return;
    };
    let event_data = json!({
        "FIELDS_BEFORE": "undefined",
        "FIELDS_AFTER": {"ID": 0, "MESSAGE_ID": message_id, "TASK_ID": task_id},
        "IS_ACCESSIBLE_BEFORE": "N",
        "IS_ACCESSIBLE_AFTER": "undefined",
    });
    let ts = hit.now.floor() as i64;
    let events = &mut data.events;
    let bindings: Vec<Binding> = events
        .bindings
        .iter()
        .filter(|b| b.event == ON_TASK_COMMENT_ADD)
        .cloned()
        .collect();
    for binding in bindings {
        match &binding.handler {
            Some(handler) => events.outbox.push(Pending {
                binding_id: binding.id,
                handler: handler.clone(),
                event: ON_TASK_COMMENT_ADD.to_owned(),
                data: event_data.clone(),
                ts,
                auth_user: if binding.auth_type != 0 {
                    binding.auth_type
                } else {
                    hit.user
                },
            }),
            None => {
                // A change the app made itself (same connector) is not queued for it.
                if hit.by_app
                    && events.settings.offline_skip_own_app
                    && binding.connector.is_empty()
                {
                    continue;
                }
                queue_offline(events, &binding.connector, &event_data, hit.user, ts);
            }
        }
    }
}

/// Upserts an offline row keyed by (message id, connector, free): a repeat of the
/// same event and data refreshes the row instead of adding one.
fn queue_offline(events: &mut EventState, connector: &str, data: &Value, user: u64, ts: i64) {
    let message_id = offline_message_id(ON_TASK_COMMENT_ADD, data);
    let additional = if user == 0 {
        json!([])
    } else {
        json!({ "user_id": user })
    };
    if let Some(row) = events
        .offline
        .values_mut()
        .find(|r| r.message_id == message_id && r.connector == connector && r.process_id.is_empty())
    {
        row.ts = ts;
        row.data = data.clone();
        row.additional = additional;
        return;
    }
    let id = events.next_offline;
    events.next_offline += 1;
    events.offline.insert(
        id,
        OfflineRow {
            id,
            ts,
            event: ON_TASK_COMMENT_ADD.to_owned(),
            data: data.clone(),
            additional,
            message_id,
            process_id: String::new(),
            error: false,
            connector: connector.to_owned(),
        },
    );
}

/// `md5(EVENT_NAME|json(EVENT_DATA))` in hex, as the platform computes it.
pub(crate) fn offline_message_id(event: &str, data: &Value) -> String {
    let mut hasher = Md5::new();
    hasher.update(event.as_bytes());
    hasher.update(b"|");
    hasher.update(data.to_string().as_bytes());
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A delivery ready to go out.
struct Send {
    record: u64,
    handler: String,
    body: Bytes,
    delay: Duration,
}

impl EmulatedPortal {
    /// The portal's application token: every delivery carries it in
    /// `auth[application_token]`; a handler compares it with the one it stored.
    pub fn application_token(&self) -> ApplicationToken {
        self.inner.lock().data.events.application_token.clone()
    }

    /// Every online delivery so far, oldest first (at most the last 10,000).
    pub fn deliveries(&self) -> Vec<DeliveryRecord> {
        self.inner.lock().data.events.log.clone()
    }

    /// The bindings made with `event.bind`.
    pub fn bindings(&self) -> Vec<StoredBinding> {
        self.inner
            .lock()
            .data
            .events
            .bindings
            .iter()
            .map(|b| StoredBinding {
                id: b.id,
                event: b.event.clone(),
                handler: b.handler.clone(),
                auth_type: b.auth_type,
                connector: b.connector.clone(),
            })
            .collect()
    }

    /// The offline queue, by row id.
    pub fn offline_events(&self) -> Vec<StoredOfflineEvent> {
        self.inner
            .lock()
            .data
            .events
            .offline
            .values()
            .map(|r| StoredOfflineEvent {
                id: r.id,
                event: r.event.clone(),
                data: r.data.clone(),
                message_id: r.message_id.clone(),
                process_id: r.process_id.clone(),
                error: r.error,
            })
            .collect()
    }

    /// Scripts a delivery fault (drop, double, delay) for the next deliveries.
    pub fn inject_event_fault(&self, fault: EventFault) {
        self.inner.lock().data.events.faults.push(fault);
    }

    /// Delivery faults still waiting to fire.
    pub fn pending_event_faults(&self) -> usize {
        self.inner.lock().data.events.faults.len()
    }

    /// Whether making a result posts a notice (author `0`) in the task's chat, as the
    /// platform does (on by default). The notice is a message like any other: it
    /// fires `ONTASKCOMMENTADD`.
    pub fn set_result_notices(&self, on: bool) {
        self.inner.lock().data.events.settings.result_notices = on;
    }

    /// Whether a change made through the OAuth app itself is left out of the app's
    /// offline queue (on by default, as the platform does for an app calling without
    /// `auth_connector`). Turn it off to see such events queued.
    pub fn set_offline_skip_own_app(&self, on: bool) {
        self.inner.lock().data.events.settings.offline_skip_own_app = on;
    }

    /// Whether `event.offline.get` with `clear=0` is allowed (on by default). Off, it
    /// answers `WRONG_LICENSE`, as a cloud portal without the
    /// `rest_offline_extended` feature does.
    pub fn set_offline_extended(&self, on: bool) {
        self.inner.lock().data.events.settings.offline_extended = on;
    }

    /// Waits until no delivery is queued or on its way, up to `timeout`; true when
    /// that happened in time.
    pub async fn wait_for_deliveries(&self, timeout: Duration) -> bool {
        let until = tokio::time::Instant::now() + timeout;
        loop {
            let idle = {
                let state = self.inner.lock();
                state.data.events.outbox.is_empty() && state.data.events.in_flight == 0
            };
            if idle {
                return true;
            }
            if tokio::time::Instant::now() >= until {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Sends `ONAPPINSTALL` to `handler`, as the portal does when user `user`
    /// installs the app: the delivery carries the application token to store.
    pub fn send_app_install(&self, handler: &str, user: u64) {
        let data = json!({"VERSION": "1", "ACTIVE": "Y", "INSTALLED": "Y", "LANGUAGE_ID": "en"});
        let ts = self.inner.clock.now().floor() as i64;
        self.inner.lock().data.events.outbox.push(Pending {
            binding_id: 0,
            handler: handler.to_owned(),
            event: "ONAPPINSTALL".to_owned(),
            data,
            ts,
            auth_user: user,
        });
        self.dispatch_events();
    }

    /// Sends the queued deliveries (after the call that queued them). Without a
    /// tokio runtime they stay queued for the next call made inside one.
    pub(crate) fn dispatch_events(&self) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let sends = {
            let now = self.inner.clock.now();
            let ttl = self.inner.config.access_ttl;
            let mut state = self.inner.lock();
            if state.data.events.outbox.is_empty() {
                return;
            }
            let pending = std::mem::take(&mut state.data.events.outbox);
            let mut sends = Vec::new();
            for p in pending {
                let tokens = if p.auth_user != 0 && state.data.users.contains_key(&p.auth_user) {
                    Some(state.tokens.issue(p.auth_user, now, ttl))
                } else {
                    None
                };
                let events = &mut state.data.events;
                let body = Bytes::from(self.delivery_body(events, &p, tokens, now, ttl));
                let (copies, delay) = match events.faults.take(&p.event) {
                    Some(EventFaultAction::Drop) => (0, Duration::ZERO),
                    Some(EventFaultAction::Double) => (2, Duration::ZERO),
                    Some(EventFaultAction::Delay(d)) => (1, d),
                    None => (1, Duration::ZERO),
                };
                if copies == 0 {
                    events.record(&p, body, DeliveryStatus::Dropped);
                    continue;
                }
                for _ in 0..copies {
                    let record = events.record(&p, body.clone(), DeliveryStatus::Pending);
                    events.in_flight += 1;
                    sends.push(Send {
                        record,
                        handler: p.handler.clone(),
                        body: body.clone(),
                        delay,
                    });
                }
            }
            sends
        };
        for s in sends {
            let portal = self.clone();
            runtime.spawn(async move {
                if !s.delay.is_zero() {
                    tokio::time::sleep(s.delay).await;
                }
                let status = match send::post_form(&s.handler, s.body).await {
                    Ok(code) => DeliveryStatus::Answered(code),
                    Err(e) => DeliveryStatus::Failed(e.to_string()),
                };
                let mut state = portal.inner.lock();
                let events = &mut state.data.events;
                if let Some(r) = events.log.iter_mut().rev().find(|r| r.id == s.record) {
                    r.status = status;
                }
                events.in_flight = events.in_flight.saturating_sub(1);
            });
        }
    }

    /// The form body of a delivery: `event`, `event_handler_id`, `data[...]`, `ts`,
    /// `auth[...]`.
    fn delivery_body(
        &self,
        events: &EventState,
        p: &Pending,
        tokens: Option<(String, String)>,
        now: f64,
        ttl: f64,
    ) -> String {
        let endpoint = events
            .client_endpoint
            .clone()
            .unwrap_or_else(|| format!("https://{}/rest/", self.host()));
        let mut auth = Map::new();
        if let Some((access, refresh)) = tokens {
            auth.insert("access_token".into(), json!(access));
            auth.insert("expires".into(), json!((now + ttl).floor() as i64));
            auth.insert("expires_in".into(), json!(ttl.floor() as i64));
            auth.insert("scope".into(), json!("task,tasks,im"));
            if p.event == "ONAPPINSTALL" {
                auth.insert("refresh_token".into(), json!(refresh));
            }
        }
        auth.insert("domain".into(), json!(self.host()));
        auth.insert("server_endpoint".into(), json!(endpoint));
        auth.insert("status".into(), json!("L"));
        auth.insert("client_endpoint".into(), json!(endpoint));
        auth.insert("member_id".into(), json!(self.member_id()));
        if p.auth_user != 0 {
            auth.insert("user_id".into(), json!(p.auth_user));
        }
        auth.insert(
            "application_token".into(),
            json!(events.application_token.expose_secret()),
        );
        let event = Value::String(p.event.clone());
        let handler_id = json!(p.binding_id);
        let ts = Value::String(p.ts.to_string());
        let auth = Value::Object(auth);
        let mut pairs: Vec<(&str, &Value)> = vec![("event", &event)];
        if p.binding_id != 0 {
            pairs.push(("event_handler_id", &handler_id));
        }
        pairs.extend([("data", &p.data), ("ts", &ts), ("auth", &auth)]);
        form::build_query(&pairs)
    }
}

impl EventState {
    fn record(&mut self, p: &Pending, body: Bytes, status: DeliveryStatus) -> u64 {
        let id = self.next_delivery;
        self.next_delivery += 1;
        if self.log.len() >= MAX_LOG {
            self.log.remove(0);
        }
        self.log.push(DeliveryRecord {
            id,
            event: p.event.clone(),
            binding_id: p.binding_id,
            handler: p.handler.clone(),
            body,
            status,
        });
        id
    }
}
