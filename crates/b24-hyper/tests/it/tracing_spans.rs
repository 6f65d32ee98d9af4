//! The `tracing` feature: spans per call, attempt and wait with the documented
//! fields, recorded by a small capturing subscriber, and never a secret, a URI path
//! or a host in any of them.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use b24_core::engine::{BucketConfig, RetryPolicy};
use b24_emulator::{Emulator, Fault, PortalConfig};
use b24_hyper::CallOptions;
use b24_types::{MessageId, TaskId};
use serde_json::json;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

use crate::emu;

/// One span as recorded: its name, target and every field value given to it.
#[derive(Debug, Clone, Default)]
struct SpanRecord {
    name: String,
    target: String,
    parent: Option<u64>,
    fields: BTreeMap<String, String>,
}

#[derive(Debug, Default)]
struct Captured {
    spans: BTreeMap<u64, SpanRecord>,
    /// Events: target and fields.
    events: Vec<(String, BTreeMap<String, String>)>,
    /// The span stack of the thread (this test runs on one thread).
    stack: Vec<u64>,
}

/// A subscriber that keeps everything.
#[derive(Clone, Default)]
struct Capture {
    next: Arc<AtomicU64>,
    data: Arc<Mutex<Captured>>,
}

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

impl Subscriber for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, attrs: &Attributes<'_>) -> Id {
        let id = self.next.fetch_add(1, Ordering::SeqCst) + 1;
        let mut data = self.data.lock().unwrap();
        let parent = if attrs.is_root() {
            None
        } else if let Some(p) = attrs.parent() {
            Some(p.into_u64())
        } else {
            data.stack.last().copied()
        };
        let mut record = SpanRecord {
            name: attrs.metadata().name().to_owned(),
            target: attrs.metadata().target().to_owned(),
            parent,
            fields: BTreeMap::new(),
        };
        attrs.record(&mut Fields(&mut record.fields));
        data.spans.insert(id, record);
        Id::from_u64(id)
    }
    fn record(&self, span: &Id, values: &Record<'_>) {
        let mut data = self.data.lock().unwrap();
        if let Some(record) = data.spans.get_mut(&span.into_u64()) {
            values.record(&mut Fields(&mut record.fields));
        }
    }
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut fields = BTreeMap::new();
        event.record(&mut Fields(&mut fields));
        self.data
            .lock()
            .unwrap()
            .events
            .push((event.metadata().target().to_owned(), fields));
    }
    fn enter(&self, span: &Id) {
        self.data.lock().unwrap().stack.push(span.into_u64());
    }
    fn exit(&self, span: &Id) {
        let mut data = self.data.lock().unwrap();
        if let Some(pos) = data.stack.iter().rposition(|s| *s == span.into_u64()) {
            data.stack.remove(pos);
        }
    }
}

impl Captured {
    fn named(&self, name: &str) -> Vec<(u64, SpanRecord)> {
        self.spans
            .iter()
            .filter(|(_, s)| s.name == name)
            .map(|(id, s)| (*id, s.clone()))
            .collect()
    }

    /// Every recorded text: span names, field names and values, event fields.
    fn all_text(&self) -> Vec<String> {
        let mut out = Vec::new();
        for span in self.spans.values() {
            out.push(span.name.clone());
            for (k, v) in &span.fields {
                out.push(format!("{k}={v}"));
            }
        }
        for (_, fields) in &self.events {
            for (k, v) in fields {
                out.push(format!("{k}={v}"));
            }
        }
        out
    }
}

#[tokio::test]
async fn spans_per_call_attempt_and_wait_without_secrets() {
    let capture = Capture::default();
    let _guard = tracing::subscriber::set_default(capture.clone());

    let env = emu::start_with(
        Emulator::builder().portal(PortalConfig::new("localhost").bucket(50, 500.0)),
        &[],
        |b| {
            b.bucket(BucketConfig::custom(50, 500.0).unwrap())
                .retry_policy(RetryPolicy::default().backoff(
                    std::time::Duration::from_millis(20),
                    std::time::Duration::from_millis(40),
                ))
        },
    )
    .await;
    let emu_portal = env.server.portal();
    let secret = emu_portal.webhook_secret(1).unwrap();
    let portal = env.default_webhook();
    let message = emu_portal.add_message(58, 1, "traced").unwrap();
    // The first attempt meets the rate limit, the second succeeds.
    emu_portal.inject(
        Fault::respond(
            503,
            json!({"error":"QUERY_LIMIT_EXCEEDED","error_description":"Too many requests"}),
        )
        .on("tasks.task.result.addfromchatmessage"),
    );
    let reply = env
        .client
        .task_results(&portal)
        .add_from_chat_message(MessageId::new(message).unwrap())
        .await
        .unwrap();
    assert_eq!(reply.message_id.unwrap().get(), message);
    // A transport failure: the connection closes before an answer.
    emu_portal.inject(Fault::close().on("tasks.task.get"));
    env.client
        .execute_with(
            &portal,
            b24_core::methods::TaskGet::for_chat(TaskId::new(51).unwrap()),
            CallOptions::new(),
        )
        .await
        .unwrap();

    let data = capture.data.lock().unwrap();
    let calls = data.named("b24.call");
    let (add_id, add) = calls
        .iter()
        .find(|(_, s)| s.fields["method"] == "tasks.task.result.addfromchatmessage")
        .expect("a call span with the method name");
    assert_eq!(add.target, "b24_hyper");
    assert_eq!(add.fields["outcome"], "Succeeded");
    assert_eq!(add.fields["attempts"], "2");
    assert_eq!(add.fields["replayed"], "false");

    let attempts: Vec<SpanRecord> = data
        .named("b24.attempt")
        .into_iter()
        .filter(|(_, s)| s.parent == Some(*add_id))
        .map(|(_, s)| s)
        .collect();
    assert_eq!(attempts.len(), 2, "{attempts:?}");
    assert_eq!(attempts[0].fields["attempt"], "1");
    assert_eq!(attempts[0].fields["status"], "503");
    assert_eq!(attempts[0].fields["class"], "RateLimited");
    assert_eq!(attempts[1].fields["attempt"], "2");
    assert_eq!(attempts[1].fields["status"], "200");
    assert_eq!(attempts[1].fields["class"], "Success");

    let waits: Vec<SpanRecord> = data
        .named("b24.wait")
        .into_iter()
        .filter(|(_, s)| s.parent == Some(*add_id))
        .map(|(_, s)| s)
        .collect();
    assert!(
        waits
            .iter()
            .any(|w| w.fields["reason"] == "Backoff(RateLimited)"),
        "{waits:?}"
    );
    assert!(waits
        .iter()
        .all(|w| w.fields["wait_ms"].parse::<u64>().is_ok()));

    let (get_id, get) = calls
        .iter()
        .find(|(_, s)| s.fields["method"] == "tasks.task.get")
        .unwrap();
    assert_eq!(get.fields["attempts"], "2");
    let failed = data
        .named("b24.attempt")
        .into_iter()
        .find(|(_, s)| s.parent == Some(*get_id) && s.fields["attempt"] == "1")
        .unwrap()
        .1;
    assert_eq!(failed.fields.get("status"), None);
    assert_eq!(failed.fields["failure"], "http");
    assert_eq!(failed.fields["sent"], "MaybeSent");
    assert_eq!(failed.fields["class"], "Transport(MaybeSent)");

    // Nothing recorded, by b24 or by the HTTP stack beneath it, holds the secret or
    // the webhook path; b24's own spans and events do not even hold the host.
    let host = portal.host().to_owned();
    let texts = data.all_text();
    assert!(texts.len() > 20, "{texts:?}");
    for text in &texts {
        assert!(!text.contains(&secret), "secret in a trace: {text}");
        assert!(!text.contains("/rest/"), "a path in a trace: {text}");
    }
    for span in data.spans.values().filter(|s| s.target == "b24_hyper") {
        for value in span.fields.values() {
            assert!(!value.contains(&host), "host in {span:?}");
        }
    }
    for (target, fields) in &data.events {
        if target == "b24_hyper" {
            for value in fields.values() {
                assert!(!value.contains(&host) && !value.contains(&secret));
            }
        }
    }
}
