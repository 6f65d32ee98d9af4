//! The one-line texts of the common failures, as a user sees them with `{err}`: each
//! names its cause. The same texts make the table in `docs/errors.md`; the test
//! fails when the two differ (`B24_BLESS=1` rewrites the table).

use std::time::Duration;

use b24_core::engine::{RetryPolicy, TransportErrorKind};
use b24_core::methods::TaskGet;
use b24_core::{InputError, Portal};
use b24_emulator::{Emulator, Fault, PortalConfig};
use b24_hyper::{CallOptions, Client, Error};
use b24_types::{MessageId, TaskId};
use serde_json::json;

use crate::emu;
use crate::local_server::LocalServer;

const BEGIN: &str = "<!-- error-texts:begin -->";
const END: &str = "<!-- error-texts:end -->";

fn quick_retries() -> RetryPolicy {
    RetryPolicy::default().backoff(Duration::from_millis(5), Duration::from_millis(20))
}

fn task() -> TaskId {
    TaskId::new(51).unwrap()
}

async fn refused_connection() -> Error {
    // A port that was just free: nothing listens there.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let client = Client::builder()
        .allow_plain_http_to_loopback(true)
        .retry_policy(quick_retries())
        .build()
        .unwrap();
    let portal = Portal::builder()
        .allow_plain_http_to_loopback(true)
        .webhook(&format!(
            "http://127.0.0.1:{port}/rest/1/s3cretwebhookcode/"
        ))
        .unwrap();
    client
        .execute(&portal, TaskGet::for_chat(task()))
        .await
        .unwrap_err()
}

async fn unknown_ca() -> (Error, usize) {
    let server = Emulator::builder()
        .portal(PortalConfig::new("localhost"))
        .build()
        .serve_https()
        .await
        .unwrap();
    // The built-in roots only: the emulator's CA is not among them.
    let client = Client::builder()
        .resolve("localhost", server.addr())
        .retry_policy(quick_retries())
        .build()
        .unwrap();
    let url = server.webhook_url(&server.portal(), 1).unwrap();
    let portal = Portal::webhook(&url).unwrap();
    let err = client
        .execute(&portal, TaskGet::for_chat(task()))
        .await
        .unwrap_err();
    let handshakes = server.portal().requests().len();
    (err, handshakes)
}

async fn stalled_server() -> (Error, usize) {
    let server = LocalServer::silent().await;
    let client = Client::builder()
        .allow_plain_http_to_loopback(true)
        .attempt_timeout(Duration::from_secs(1))
        .retry_policy(quick_retries())
        .build()
        .unwrap();
    let portal = Portal::builder()
        .allow_plain_http_to_loopback(true)
        .webhook(&server.url("/rest/1/s3cretwebhookcode/"))
        .unwrap();
    let err = client
        .execute(&portal, TaskGet::for_chat(task()))
        .await
        .unwrap_err();
    (err, server.connections())
}

async fn bucket_retries_exhausted() -> Error {
    let env = emu::start().await;
    env.server.portal().inject(
        Fault::respond(
            503,
            json!({"error": "QUERY_LIMIT_EXCEEDED", "error_description": "Too many requests"}),
        )
        .on("tasks.task.get")
        .times(10),
    );
    env.client
        .execute_with(
            &env.default_webhook(),
            TaskGet::for_chat(task()),
            CallOptions::new().policy(quick_retries()),
        )
        .await
        .unwrap_err()
}

async fn api_error() -> Error {
    let env = emu::start().await;
    env.client
        .task_results(&env.default_webhook())
        .add_from_chat_message(MessageId::new(999_999).unwrap())
        .await
        .unwrap_err()
}

fn bad_input() -> Vec<Error> {
    let zero = TaskId::new(0).map_err(InputError::from).unwrap_err();
    let url = Portal::webhook("https://portal.example/rest/1/").unwrap_err();
    vec![Error::from(zero), Error::from(url)]
}

/// Rows of `(failure, text)`; the stalled server's text names the attempt timeout,
/// which the run measures, so its figure is checked apart and shown as set.
async fn rows() -> Vec<(&'static str, String)> {
    let mut rows = Vec::new();

    let err = refused_connection().await;
    assert!(matches!(
        err,
        Error::Core(b24_core::Error::RetriesExhausted { .. })
    ));
    rows.push(("connection refused", err.to_string()));

    let (err, requests) = unknown_ca().await;
    // Ends after one attempt: a refused certificate cannot heal.
    match &err {
        Error::Core(b24_core::Error::Transport { kind, .. }) => {
            assert_eq!(*kind, TransportErrorKind::Certificate);
        }
        other => panic!("expected a certificate failure, got {other:?}"),
    }
    assert_eq!(requests, 0);
    rows.push(("unknown certificate authority", err.to_string()));

    let (err, connections) = stalled_server().await;
    assert!(matches!(
        err,
        Error::Core(b24_core::Error::RetriesExhausted { attempts: 2, .. })
    ));
    // Two attempts, not four: a server that does not answer costs two timeouts.
    assert_eq!(connections, 2);
    let text = err.to_string();
    let within = text
        .split("within ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse::<f64>().ok())
        .unwrap_or_else(|| panic!("no duration in {text}"));
    assert!((1.0..1.6).contains(&within), "{text}");
    rows.push((
        "server that never answers (attempt timeout 1 s)",
        text.replace(&format!("within {within:.1} s"), "within 1.0 s"),
    ));

    let err = bucket_retries_exhausted().await;
    assert!(matches!(
        err,
        Error::Core(b24_core::Error::RetriesExhausted { attempts: 4, .. })
    ));
    rows.push(("request limit, retries used up", err.to_string()));

    let err = api_error().await;
    assert!(matches!(err, Error::Core(b24_core::Error::Api(_))));
    rows.push(("an API error", err.to_string()));

    for err in bad_input() {
        assert!(matches!(err, Error::Core(b24_core::Error::InvalidInput(_))));
        rows.push(("bad input", err.to_string()));
    }
    rows
}

fn table(rows: &[(&str, String)]) -> String {
    let mut out = String::from("| failure | `err.to_string()` |\n|---|---|\n");
    for (what, text) in rows {
        out.push_str(&format!("| {what} | `{}` |\n", text.replace('|', "\\|")));
    }
    out
}

#[tokio::test]
async fn each_common_failure_names_its_cause_on_one_line() {
    let rows = rows().await;
    for (what, text) in &rows {
        assert!(!text.contains('\n'), "{what}: {text}");
        assert!(!text.contains("s3cret"), "{what}: {text}");
    }
    let by = |what: &str| -> Vec<&str> {
        rows.iter()
            .filter(|(w, _)| *w == what)
            .map(|(_, t)| t.as_str())
            .collect()
    };
    assert_eq!(
        by("connection refused"),
        [
            "gave up after 4 attempts: could not connect to the portal: connection refused \
          (nothing was sent)"
        ]
    );
    assert!(by("unknown certificate authority")[0]
        .starts_with("the portal's certificate was refused: it is signed by an unknown authority"));
    assert_eq!(
        by("server that never answers (attempt timeout 1 s)"),
        [
            "gave up after 2 attempts: the portal did not answer within 1.0 s \
          (the request may have reached the portal)"
        ]
    );
    assert_eq!(
        by("request limit, retries used up"),
        [
            "gave up after 4 attempts: the portal answered QUERY_LIMIT_EXCEEDED (HTTP 503): \
          Too many requests"
        ]
    );
    assert!(by("an API error")[0].starts_with("the portal answered "));
    assert_eq!(
        by("bad input"),
        [
            "invalid id: TaskId must be positive, got 0; nothing was sent",
            "invalid portal address: the webhook URL has no secret after the user id; \
             nothing was sent",
        ]
    );

    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/errors.md");
    let doc = std::fs::read_to_string(path).unwrap();
    let (Some(begin), Some(end)) = (doc.find(BEGIN), doc.find(END)) else {
        panic!("docs/errors.md has no {BEGIN} … {END} section");
    };
    let fresh = table(&rows);
    let current = &doc[begin + BEGIN.len()..end];
    if current.trim() != fresh.trim() {
        if std::env::var_os("B24_BLESS").is_some() {
            let updated = format!("{}{BEGIN}\n{fresh}{}", &doc[..begin], &doc[end..]);
            std::fs::write(path, updated).unwrap();
        } else {
            panic!(
                "docs/errors.md's table of error texts is stale; run with B24_BLESS=1.\n{fresh}"
            );
        }
    }
}
