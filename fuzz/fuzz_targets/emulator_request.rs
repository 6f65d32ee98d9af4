//! The emulator's request handling (`Emulator::handle`): up to four requests per
//! input against a fresh emulator on a manual clock, each with a method, a path
//! (the served routes with a valid or a wrong credential, or raw text), a query,
//! a few headers and a body taken from the input. It must never panic, and the
//! requests it records must never hold a webhook secret or an issued token.
#![no_main]
#![forbid(unsafe_code)]

use std::sync::OnceLock;
use std::time::Duration;

use arbitrary::Arbitrary;
use b24_emulator::{Emulator, EventFault, ManualClock, PortalConfig};
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;

const HOST: &str = "fuzz.localhost";
const CLIENT_ID: &str = "local.fuzz.app";
const CLIENT_SECRET: &str = "fuzzclientsecret0123456789";
const METHODS: [&str; 20] = [
    "tasks.task.result.add",
    "tasks.task.result.addfromchatmessage",
    "tasks.task.result.update",
    "tasks.task.result.list",
    "tasks.task.result.delete",
    "tasks.task.chat.message.send",
    "tasks.task.get",
    "batch",
    "im.message.add",
    "im.dialog.messages.get",
    "event.bind",
    "event.unbind",
    "event.get",
    "event.offline.get",
    "event.offline.clear",
    "event.offline.error",
    "event.offline.list",
    "user.get",
    "profile",
    "im.message.add.json",
];

#[derive(Debug, Arbitrary)]
enum Verb {
    Get,
    Post,
    Put,
    Delete,
    Patch,
    Head,
    Options,
}

#[derive(Debug, Arbitrary)]
enum Cred {
    /// The webhook of a seeded user (1 to 4) or of an unknown one.
    Webhook(u8),
    /// A user id and secret from the input.
    Raw(String, String),
    /// No webhook: the OAuth access token of a user (1 to 4) in the query.
    OAuth(u8),
    /// No credential at all.
    None,
}

#[derive(Debug, Arbitrary)]
enum Name {
    Known(u8),
    Other(String),
}

#[derive(Debug, Arbitrary)]
enum Target {
    V3(Cred, Name),
    Classic(Cred, Name),
    Token,
    Raw(String),
}

#[derive(Debug, Arbitrary)]
enum ContentType {
    Json,
    Form,
    Other(String),
    None,
}

#[derive(Debug, Arbitrary)]
enum Body {
    Raw(Vec<u8>),
    /// A body of a known shape around numbers and text from the input.
    Shaped(u8, u32, String),
}

#[derive(Debug, Arbitrary)]
struct Call {
    verb: Verb,
    target: Target,
    query: Option<String>,
    other_host: Option<String>,
    content_type: ContentType,
    idempotency_key: Option<String>,
    authorization: Option<String>,
    body: Body,
    advance_ms: u16,
}

#[derive(Debug, Arbitrary)]
struct Case {
    calls: Vec<Call>,
}

/// The credentials of one emulator, to splice into requests.
struct Creds {
    secrets: Vec<String>,
    access: Vec<String>,
    refresh: Vec<String>,
}

impl Creds {
    fn user(list: &[String], which: u8) -> Option<&str> {
        list.get(usize::from(which % 5)).map(String::as_str)
    }
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a current-thread runtime")
    })
}

/// Keeps URI text to characters a request target may hold, without `#`.
fn uri_text(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_ascii_alphanumeric() || "-._~!$'()*+,;=:@/?&%[]".contains(*c))
        .take(200)
        .collect()
}

/// As [`uri_text`], for a path segment: no `?` either, so the query stays the one
/// the case builds.
fn segment_text(text: &str) -> String {
    uri_text(text).replace('?', "")
}

fn shaped(kind: u8, n: u32, text: &str, creds: &Creds) -> Vec<u8> {
    let text = serde_json::Value::from(text);
    let body = match kind % 14 {
        0 => format!(r#"{{"fields":{{"messageId":{n}}}}}"#),
        1 => format!(r#"{{"fields":{{"taskId":{n},"text":{text}}}}}"#),
        2 => format!(r#"{{"id":{n},"fields":{{"text":{text}}}}}"#),
        3 => format!(r#"{{"id":{n}}}"#),
        4 => format!(
            r#"{{"filter":[["taskId","=",{n}]],"order":{{"id":"desc"}},"pagination":{{"limit":{},"offset":{}}}}}"#,
            n % 60,
            n / 7
        ),
        5 => format!(r#"{{"fields":{{"taskId":{n},"message":{text}}}}}"#),
        6 => format!(
            r#"[{{"method":"tasks.task.get","query":{{"id":{n}}},"as":"t"}},{{"method":"tasks.task.result.add","query":{{"fields":{{"taskId":{{"$ref":"t.item.id"}},"text":{text}}}}}}}]"#
        ),
        7 => format!(
            r#"{{"halt":{},"cmd":{{"a":"im.message.add?DIALOG_ID=chat58&MESSAGE=hi","b":"im.dialog.messages.get?DIALOG_ID=chat{n}&LIMIT=5","c":"im.message.add?DIALOG_ID=$result[a]&MESSAGE=x"}}}}"#,
            n % 2
        ),
        8 => format!("DIALOG_ID=chat{n}&MESSAGE={}", uri_text(text.as_str().unwrap_or(""))),
        9 => format!(
            r#"{{"DIALOG_ID":"chat{n}","LAST_ID":{},"FIRST_ID":0,"LIMIT":{}}}"#,
            n / 3,
            n % 60
        ),
        10 => format!(
            "grant_type=refresh_token&client_id={CLIENT_ID}&client_secret={CLIENT_SECRET}&refresh_token={}",
            Creds::user(&creds.refresh, kind / 14).unwrap_or("")
        ),
        11 => format!(
            r#"{{"event":"ONTASKCOMMENTADD","event_type":"{}","handler":"http://127.0.0.1:9/h{n}","auth_type":{}}}"#,
            if n % 2 == 0 { "online" } else { "offline" },
            n % 5
        ),
        12 => format!(r#"{{"filter":{{"EVENT_NAME":"ONTASKCOMMENTADD"}},"limit":{},"clear":{}}}"#, n % 60, n % 2),
        _ => format!(
            "grant_type=authorization_code&client_id={CLIENT_ID}&client_secret={CLIENT_SECRET}&code={}",
            uri_text(text.as_str().unwrap_or(""))
        ),
    };
    body.into_bytes()
}

fn request(call: &Call, creds: &Creds) -> Option<http::Request<Bytes>> {
    let method = |name: &Name| match name {
        Name::Known(i) => METHODS[usize::from(*i) % METHODS.len()].to_owned(),
        Name::Other(s) => segment_text(s),
    };
    let mut query: Vec<String> = call.query.iter().map(|q| uri_text(q)).collect();
    let mut base = |api: &str, cred: &Cred, name: &Name| -> Option<String> {
        let name = method(name);
        Some(match cred {
            Cred::Webhook(user) => {
                let secret = Creds::user(&creds.secrets, *user).unwrap_or("0123456789abcdef");
                format!("/rest{api}/{}/{secret}/{name}", user % 6)
            }
            Cred::Raw(user, secret) => {
                format!(
                    "/rest{api}/{}/{}/{name}",
                    segment_text(user),
                    segment_text(secret)
                )
            }
            Cred::OAuth(user) => {
                query.push(format!("auth={}", Creds::user(&creds.access, *user)?));
                format!("/rest{api}/{name}")
            }
            Cred::None => format!("/rest{api}/{name}"),
        })
    };
    let path = match &call.target {
        Target::V3(cred, name) => base("/api", cred, name)?,
        Target::Classic(cred, name) => base("", cred, name)?,
        Target::Token => "/oauth/token/".to_owned(),
        Target::Raw(raw) => format!("/{}", uri_text(raw)),
    };
    let uri = if query.is_empty() {
        path
    } else {
        format!("{path}?{}", query.join("&"))
    };
    let verb = match call.verb {
        Verb::Get => http::Method::GET,
        Verb::Post => http::Method::POST,
        Verb::Put => http::Method::PUT,
        Verb::Delete => http::Method::DELETE,
        Verb::Patch => http::Method::PATCH,
        Verb::Head => http::Method::HEAD,
        Verb::Options => http::Method::OPTIONS,
    };
    let mut builder = http::Request::builder().method(verb).uri(uri);
    let host = call.other_host.as_deref().map_or(HOST.to_owned(), uri_text);
    builder = builder.header("host", host);
    let content_type = match &call.content_type {
        ContentType::Json => Some("application/json".to_owned()),
        ContentType::Form => Some("application/x-www-form-urlencoded".to_owned()),
        ContentType::Other(s) => Some(s.clone()),
        ContentType::None => None,
    };
    if let Some(value) = content_type.and_then(|v| http::HeaderValue::from_str(&v).ok()) {
        builder = builder.header("content-type", value);
    }
    if let Some(value) = call
        .idempotency_key
        .as_deref()
        .and_then(|v| http::HeaderValue::from_str(v).ok())
    {
        builder = builder.header("idempotency-key", value);
    }
    if let Some(value) = call
        .authorization
        .as_deref()
        .and_then(|v| http::HeaderValue::from_str(v).ok())
    {
        builder = builder.header("authorization", value);
    }
    let body = match &call.body {
        Body::Raw(bytes) => bytes.clone(),
        Body::Shaped(kind, n, text) => shaped(*kind, *n, text, creds),
    };
    builder.body(Bytes::from(body)).ok()
}

fn run(case: &Case) {
    let clock = ManualClock::new(1_777_529_700.0);
    let emulator = Emulator::builder()
        .portal(PortalConfig::new(HOST).bucket(1000, 100.0))
        .clock(clock.clone())
        .oauth_client(CLIENT_ID, CLIENT_SECRET)
        .build();
    let portal = emulator.default_portal();
    // No delivery ever leaves the process: every one is dropped.
    portal.inject_event_fault(EventFault::drop().times(usize::MAX));
    let mut creds = Creds {
        secrets: Vec::new(),
        access: Vec::new(),
        refresh: Vec::new(),
    };
    for user in 0..5 {
        creds
            .secrets
            .push(portal.webhook_secret(user).unwrap_or_default());
        if let Ok((access, refresh)) = portal.issue_tokens(user) {
            creds.access.push(access.expose_secret().to_owned());
            creds.refresh.push(refresh.expose_secret().to_owned());
        }
    }
    for call in case.calls.iter().take(4) {
        clock.advance(Duration::from_millis(u64::from(call.advance_ms) * 20));
        let Some(req) = request(call, &creds) else {
            continue;
        };
        let response = runtime().block_on(emulator.handle(req));
        let _ = response.status();
    }
    let secrets = creds
        .secrets
        .iter()
        .chain(&creds.access)
        .chain(&creds.refresh)
        .filter(|s| s.len() >= 8);
    let recorded: Vec<String> = portal
        .requests()
        .iter()
        .map(|r| {
            format!(
                "{} {} {:?} {}",
                r.method,
                r.path,
                r.headers,
                String::from_utf8_lossy(&r.body)
            )
        })
        .collect();
    for secret in secrets {
        for r in &recorded {
            assert!(
                !r.contains(secret.as_str()),
                "a recorded request holds a secret: {r}"
            );
        }
    }
}

fuzz_target!(|case: Case| {
    run(&case);
});
