//! No secret leaks: known secrets (the webhook secret in the URL path, the OAuth
//! access and refresh tokens, the client secret, the application token) are driven
//! through every error path the client can reach, and every error, every public type
//! that holds them and every span and event of a TRACE-level subscriber (b24's own,
//! and the HTTP stack's beneath it) is searched for them.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::print_stdout,
    missing_docs
)]

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use b24_core::engine::{
    BucketConfig, MemoryTokenStore, OAuthApp, RetryPolicy, TokenSet, TokenStore,
};
use b24_core::events::{
    decode_delivery, FormLimits, MemoryApplicationTokens, Verifier, FORM_CONTENT_TYPE,
};
use b24_core::methods::{DialogId, ImMessageAdd, TaskGet, TaskResultAdd};
use b24_core::Portal;
use b24_emulator::{Emulator, Fault, PortalConfig, ServerHandle};
use b24_hyper::{Client, ClientBuilder, HttpVersions};
use b24_types::events::MemberId;
use b24_types::{ChatId, ClientSecret, TaskId};
use serde_json::json;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// Keeps the text of every span and event, of every target, at every level.
#[derive(Clone, Default)]
struct Capture {
    next: Arc<AtomicU64>,
    texts: Arc<Mutex<Vec<String>>>,
    targets: Arc<Mutex<BTreeMap<String, usize>>>,
}

struct Texts<'a>(&'a mut Vec<String>);

impl Visit for Texts<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.push(format!("{}={value:?}", field.name()));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.push(format!("{}={value}", field.name()));
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.0.push(format!("{}={value} / {value:?}", field.name()));
    }
}

impl Capture {
    fn note(&self, meta: &Metadata<'_>, mut texts: Vec<String>) {
        texts.push(format!(
            "{} {} {}",
            meta.target(),
            meta.name(),
            meta.level()
        ));
        *self
            .targets
            .lock()
            .unwrap()
            .entry(meta.target().to_owned())
            .or_default() += 1;
        self.texts.lock().unwrap().extend(texts);
    }
}

impl Subscriber for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        Some(tracing::level_filters::LevelFilter::TRACE)
    }
    fn new_span(&self, attrs: &Attributes<'_>) -> Id {
        let mut texts = Vec::new();
        attrs.record(&mut Texts(&mut texts));
        self.note(attrs.metadata(), texts);
        Id::from_u64(self.next.fetch_add(1, Ordering::SeqCst) + 1)
    }
    fn record(&self, _: &Id, values: &Record<'_>) {
        let mut texts = Vec::new();
        values.record(&mut Texts(&mut texts));
        self.texts.lock().unwrap().extend(texts);
    }
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut texts = Vec::new();
        event.record(&mut Texts(&mut texts));
        self.note(event.metadata(), texts);
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

/// The secrets, and everything formatted so far.
struct Scan {
    secrets: Vec<(&'static str, String)>,
    checked: usize,
}

impl Scan {
    fn add(&mut self, name: &'static str, secret: &str) {
        assert!(secret.len() >= 8, "{name} is too short to search for");
        self.secrets.push((name, secret.to_owned()));
    }

    fn clean(&mut self, what: &str, text: &str) {
        self.checked += 1;
        for (name, secret) in &self.secrets {
            assert!(
                !text.contains(secret.as_str()),
                "{name} appears in {what}: {text}"
            );
        }
    }

    /// `{}`, `{:?}`, `{:#?}` of a value.
    fn value<T: fmt::Debug>(&mut self, what: &str, value: &T) {
        self.clean(what, &format!("{value:?}"));
        self.clean(what, &format!("{value:#?}"));
    }

    /// `{}`, `{:?}`, `{:#?}` of an error and of every error in its source chain.
    fn error(&mut self, what: &str, err: &(dyn std::error::Error + 'static)) {
        let mut next = Some(err);
        let mut depth = 0;
        while let Some(e) = next {
            self.clean(what, &format!("{e}"));
            self.clean(what, &format!("{e:?}"));
            self.clean(what, &format!("{e:#?}"));
            next = e.source();
            depth += 1;
            assert!(depth < 64, "an endless source chain in {what}");
        }
    }

    fn result<T: fmt::Debug>(&mut self, what: &str, result: &Result<T, b24_hyper::Error>) {
        match result {
            Ok(v) => self.value(what, v),
            Err(e) => self.error(what, e),
        }
    }
}

fn client_for(
    server: &ServerHandle,
    configure: impl FnOnce(ClientBuilder) -> ClientBuilder,
) -> Client {
    configure(
        Client::builder()
            .built_in_roots(false)
            .add_root_certificate_pem(server.ca_cert_pem().unwrap())
            .resolve("localhost", server.addr())
            .bucket(BucketConfig::custom(50, 500.0).unwrap())
            .retry_policy(
                RetryPolicy::default()
                    .backoff(Duration::from_millis(5), Duration::from_millis(10))
                    .in_flight_grace(Duration::from_millis(50)),
            ),
    )
    .build()
    .unwrap()
}

fn task() -> TaskId {
    TaskId::new(51).unwrap()
}

#[tokio::test(flavor = "current_thread")]
async fn no_secret_in_errors_debug_output_or_traces() {
    // The only test of this binary: the capture is the process's subscriber, so no
    // other test's threads can cache a "nobody listens" interest for b24's spans.
    let capture = Capture::default();
    tracing::subscriber::set_global_default(capture.clone()).unwrap();

    let server = Emulator::builder()
        .portal(PortalConfig::new("localhost").bucket(50, 500.0))
        .build()
        .serve_https()
        .await
        .unwrap();
    let emu = server.portal();
    let webhook_url = server.webhook_url(&emu, 1).unwrap();
    let v3_webhook_url = server.v3_webhook_url(&emu, 1).unwrap();
    let webhook_secret = emu.webhook_secret(1).unwrap();
    let (access, refresh) = emu.issue_tokens(1).unwrap();
    let client_secret = server.emulator().oauth_client_secret().to_owned();
    let app_token = emu.application_token();
    let wrong_client_secret = "WrongClientSecret0123456789abcdef";

    let mut scan = Scan {
        secrets: Vec::new(),
        checked: 0,
    };
    scan.add("the webhook secret", &webhook_secret);
    scan.add("the access token", access.expose_secret());
    scan.add("the refresh token", refresh.expose_secret());
    scan.add("the client secret", &client_secret);
    scan.add("the application token", app_token.expose_secret());
    scan.add("a wrong client secret", wrong_client_secret);

    // ---- Public types holding them ----
    let portal = Portal::webhook(&webhook_url).unwrap();
    scan.value("a webhook Portal", &portal);
    scan.value(
        "a REST 3.0 webhook Portal",
        &Portal::webhook(&v3_webhook_url).unwrap(),
    );
    scan.value("WebhookSecret", &portal.webhook_secret());
    scan.value("AccessToken", &access);
    scan.value("RefreshToken", &refresh);
    scan.value("ClientSecret", &ClientSecret::new(client_secret.as_str()));
    scan.value("ApplicationToken", &app_token);
    let pair = TokenSet::new(access.clone(), refresh.clone());
    scan.value("TokenSet", &pair);
    let store = Arc::new(MemoryTokenStore::new(pair.clone()));
    scan.value("MemoryTokenStore", &store);
    let app = OAuthApp::new(
        server.emulator().oauth_client_id(),
        ClientSecret::new(client_secret.as_str()),
    )
    .token_url(server.token_url());
    scan.value("OAuthApp", &app);
    let builder = Client::builder()
        .built_in_roots(false)
        .add_root_certificate_pem(server.ca_cert_pem().unwrap())
        .resolve("localhost", server.addr())
        .oauth_app(app.clone());
    scan.value("ClientBuilder", &builder);

    // ---- Bad addresses, each holding the secret ----
    for url in [
        format!("http://portal.example/rest/1/{webhook_secret}/"),
        format!("https://portal.example/rest/x/{webhook_secret}/"),
        format!("https://portal example/rest/1/{webhook_secret}/"),
        format!("ftp://portal.example/rest/1/{webhook_secret}/"),
        format!("https://user:{webhook_secret}@portal.example/rest/1/{webhook_secret}/"),
        format!(
            "https://portal.example/rest/1/{webhook_secret}/?auth={}",
            access.expose_secret()
        ),
        format!("https://portal.example/{webhook_secret}"),
    ] {
        match Portal::webhook(&url) {
            Ok(p) => scan.value("a webhook Portal from an odd URL", &p),
            Err(e) => scan.error("a bad webhook URL's error", &e),
        }
        match Portal::oauth(&url) {
            Ok(p) => scan.value("an OAuth Portal from an odd URL", &p),
            Err(e) => scan.error("a bad OAuth URL's error", &e),
        }
    }

    // ---- The client, used: webhook ----
    let client = client_for(&server, |b| {
        b.attempt_timeout(Duration::from_millis(300))
            .max_response_body(64 * 1024)
    });
    let ok = client.execute(&portal, TaskGet::for_chat(task())).await;
    assert!(ok.is_ok(), "{ok:?}");
    scan.result("a read", &ok);
    scan.value("Client", &client);
    scan.value("PortalState", &client.portal_state(&portal));
    scan.value("CredentialId", &client.credential_id(&portal));

    // API errors, in both shapes.
    let missing = client
        .execute(
            &portal,
            TaskResultAdd::new(TaskId::new(999_999).unwrap(), "x").unwrap(),
        )
        .await;
    assert!(
        matches!(
            &missing,
            Err(b24_hyper::Error::Core(b24_core::Error::Api(_)))
        ),
        "{missing:?}"
    );
    scan.result("a validation error", &missing);
    let no_chat = client
        .execute(
            &portal,
            ImMessageAdd::new(DialogId::chat(ChatId::new(999_999).unwrap()), "x").unwrap(),
        )
        .await;
    scan.result("a classic error", &no_chat);

    // Scripted faults: every one the portal can show, on a write and on a read.
    let echo_page = format!(
        "<html><body>502 Bad Gateway for POST {webhook_url}tasks.task.result.add \
         auth={} refresh_token={} client_secret={client_secret}</body></html>",
        access.expose_secret(),
        refresh.expose_secret()
    );
    let faults: Vec<(&str, Fault)> = vec![
        ("close", Fault::close()),
        ("truncate", Fault::truncate()),
        ("apply_then_close", Fault::apply_then_close()),
        ("slow", Fault::slow(Duration::from_millis(900))),
        (
            "502 echoing secrets",
            Fault::respond_raw(502, "text/html", echo_page.clone()),
        ),
        (
            "200 echoing secrets",
            Fault::respond_raw(200, "text/html", echo_page.clone()),
        ),
        ("503 empty", Fault::respond_raw(503, "text/plain", "")),
        (
            "500",
            Fault::respond(
                500,
                json!({"error":"INTERNAL_SERVER_ERROR","error_description":"boom"}),
            ),
        ),
        (
            "overload",
            Fault::respond(
                503,
                json!({"error":"OVERLOAD_LIMIT","error_description":"blocked"}),
            ),
        ),
        (
            "invalid JSON",
            Fault::respond_raw(200, "application/json", "{\"result\":"),
        ),
        (
            "over the cap",
            Fault::respond_raw(200, "application/json", vec![b' '; 200 * 1024]),
        ),
    ];
    for (name, fault) in faults {
        for method in ["tasks.task.result.add", "im.message.add", "tasks.task.get"] {
            emu.inject(fault.clone().on(method).times(8));
            let result = match method {
                "tasks.task.result.add" => client
                    .execute(&portal, TaskResultAdd::new(task(), name).unwrap())
                    .await
                    .map(|r| r.map(|v| v.id.get())),
                "im.message.add" => client
                    .execute(
                        &portal,
                        ImMessageAdd::new(DialogId::chat(ChatId::new(58).unwrap()), name).unwrap(),
                    )
                    .await
                    .map(|r| r.map(|v| v.get())),
                _ => client
                    .execute(&portal, TaskGet::for_chat(task()))
                    .await
                    .map(|r| r.map(|_| 0)),
            };
            emu.clear_faults();
            scan.result(&format!("{name} on {method}"), &result);
        }
    }

    // 401: a webhook whose secret was rotated; the old secret is still in the URL.
    let old = Portal::webhook(&webhook_url).unwrap();
    emu.rotate_webhook_secret(1).unwrap();
    let denied = client.execute(&old, TaskGet::for_chat(task())).await;
    assert!(
        matches!(denied.as_ref().map_err(|e| e.status()), Err(Some(401))),
        "{denied:?}"
    );
    scan.result("a 401", &denied);

    // Refused connection: a port nobody listens on (the port comes from the
    // portal's address; `resolve` overrides the host's IP only).
    let closed_port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let nowhere = Portal::webhook(&format!(
        "https://localhost:{}/rest/1/{webhook_secret}/",
        closed_port.port()
    ))
    .unwrap();
    let refused = Client::builder()
        .built_in_roots(false)
        .add_root_certificate_pem(server.ca_cert_pem().unwrap())
        .resolve("localhost", closed_port)
        .retry_policy(RetryPolicy::no_retries())
        .build()
        .unwrap();
    let err = refused.execute(&nowhere, TaskGet::for_chat(task())).await;
    assert!(
        err.as_ref().is_err_and(|e| e.transport().is_some()),
        "{err:?}"
    );
    scan.result("a refused connection", &err);

    // TLS: a client that does not trust the emulator's CA (and one offering HTTP/2
    // only, to go through that handshake too).
    for versions in [HttpVersions::Negotiate, HttpVersions::Http2] {
        let stranger = Client::builder()
            .resolve("localhost", server.addr())
            .http_versions(versions)
            .retry_policy(RetryPolicy::no_retries())
            .build()
            .unwrap();
        let tls = stranger.execute(&old, TaskGet::for_chat(task())).await;
        assert!(
            matches!(
                tls.as_ref()
                    .map_err(|e| e.transport().map(|t| t.kind_name())),
                Err(Some("tls"))
            ),
            "{versions:?}: {tls:?}"
        );
        scan.result("a TLS failure", &tls);
    }

    // ---- OAuth ----
    let oauth_portal =
        Portal::oauth(&format!("https://localhost:{}", server.addr().port())).unwrap();
    let oauth_client = client_for(&server, |b| b.oauth_app(app.clone()));
    oauth_client.register_oauth_portal(&oauth_portal, store.clone());
    // An expired token: refreshed and replayed (traces of a refresh).
    assert!(emu.expire_token(&access));
    let refreshed = oauth_client
        .execute(
            &oauth_portal,
            TaskResultAdd::new(task(), "after a refresh").unwrap(),
        )
        .await;
    assert!(refreshed.is_ok(), "{refreshed:?}");
    scan.result("a refreshed call", &refreshed);
    let current = store.current().await.unwrap().unwrap();
    scan.add(
        "the rotated access token",
        current.access_token().expose_secret(),
    );
    scan.add(
        "the rotated refresh token",
        current.refresh_token().expose_secret(),
    );
    scan.value("the rotated TokenSet", &current);
    scan.value(
        "an OAuth PortalState",
        &oauth_client.portal_state(&oauth_portal),
    );
    scan.value("an OAuth Client", &oauth_client);

    // The token endpoint failing in each way, with the refresh token in the request.
    let endpoint_faults: Vec<(&str, Fault)> = vec![
        ("close", Fault::close()),
        ("truncate", Fault::truncate()),
        (
            "HTML echoing secrets",
            Fault::respond_raw(502, "text/html", echo_page.clone()),
        ),
        (
            "invalid_client",
            Fault::respond(
                401,
                json!({"error":"invalid_client","error_description":"Invalid client"}),
            ),
        ),
        (
            "not JSON",
            Fault::respond_raw(200, "application/json", "{\"access_token\":"),
        ),
    ];
    for (name, fault) in endpoint_faults {
        let now = store.current().await.unwrap().unwrap();
        emu.expire_token(now.access_token());
        emu.inject(fault.on("oauth.token"));
        let result = oauth_client
            .execute(&oauth_portal, TaskGet::for_chat(task()))
            .await
            .map(|r| r.map(|_| ()));
        emu.clear_faults();
        assert!(result.is_err(), "{name}: {result:?}");
        scan.result(&format!("token endpoint: {name}"), &result);
    }
    // A rotated pair that got lost (truncate) leaves the store's refresh token spent:
    // whatever is stored now is still a secret.
    let now = store.current().await.unwrap().unwrap();
    scan.add(
        "the stored access token",
        now.access_token().expose_secret(),
    );
    scan.add(
        "the stored refresh token",
        now.refresh_token().expose_secret(),
    );

    // invalid_grant: the refresh token revoked.
    emu.expire_token(now.access_token());
    emu.revoke_refresh_token(now.refresh_token());
    let grant = oauth_client
        .execute(&oauth_portal, TaskGet::for_chat(task()))
        .await;
    assert!(
        matches!(&grant, Err(b24_hyper::Error::Core(b24_core::Error::TokenRefresh(r))) if r.needs_reauthorization()),
        "{grant:?}"
    );
    scan.result("invalid_grant", &grant);

    // invalid_client: an app with a wrong client secret.
    let (access2, refresh2) = emu.issue_tokens(1).unwrap();
    scan.add("a second access token", access2.expose_secret());
    scan.add("a second refresh token", refresh2.expose_secret());
    let wrong_app = OAuthApp::new(
        server.emulator().oauth_client_id(),
        ClientSecret::new(wrong_client_secret),
    )
    .token_url(server.token_url());
    scan.value("an OAuthApp with a wrong secret", &wrong_app);
    let wrong = client_for(&server, |b| b.oauth_app(wrong_app));
    let wrong_store = Arc::new(MemoryTokenStore::new(TokenSet::new(
        access2.clone(),
        refresh2,
    )));
    wrong.register_oauth_portal(&oauth_portal, wrong_store);
    emu.expire_token(&access2);
    let invalid_client = wrong
        .execute(&oauth_portal, TaskGet::for_chat(task()))
        .await;
    assert!(
        matches!(
            &invalid_client,
            Err(b24_hyper::Error::Core(b24_core::Error::TokenRefresh(_)))
        ),
        "{invalid_client:?}"
    );
    scan.result("invalid_client", &invalid_client);

    // ---- Event deliveries holding the application token and an access token ----
    let member = emu.member_id().to_owned();
    let form = format!(
        "event=ONTASKCOMMENTADD&data[FIELDS_AFTER][ID]=0&data[FIELDS_AFTER][MESSAGE_ID]=335&data[FIELDS_AFTER][TASK_ID]=51&ts=1&auth[access_token]={}&auth[domain]=localhost&auth[member_id]={member}&auth[application_token]={}",
        access.expose_secret(),
        app_token.expose_secret()
    );
    let delivery = decode_delivery(
        Some(FORM_CONTENT_TYPE),
        form.as_bytes(),
        &FormLimits::default(),
    );
    match &delivery {
        Ok(d) => {
            scan.value("a Delivery", d);
            let other = MemoryApplicationTokens::with(
                MemberId::new(member.as_str()),
                b24_types::ApplicationToken::new("AnotherApplicationToken0123456789"),
            );
            let verifier = Verifier::new(other);
            match verifier.verify(d) {
                Ok(v) => panic!("a foreign token was accepted: {v:?}"),
                Err(e) => scan.error("a token mismatch", &e),
            }
            scan.value("a Verifier", &verifier);
        }
        Err(e) => panic!("the delivery form was refused: {e:?}"),
    }
    for (content_type, limits) in [
        (Some("application/json"), FormLimits::default()),
        (
            Some(FORM_CONTENT_TYPE),
            FormLimits::default().with_max_bytes(32),
        ),
    ] {
        match decode_delivery(content_type, form.as_bytes(), &limits) {
            Ok(d) => scan.value("a Delivery", &d),
            Err(e) => scan.error("a refused delivery", &e),
        }
    }

    // ---- The trace ----
    let texts = capture.texts.lock().unwrap().clone();
    let targets = capture.targets.lock().unwrap().clone();
    println!(
        "checked {} formatted values; trace: {} texts from {targets:?}",
        scan.checked,
        texts.len()
    );
    assert!(scan.checked > 300, "{}", scan.checked);
    assert!(
        texts.iter().any(|t| t.contains("b24.call")),
        "b24's spans were captured"
    );
    assert!(
        targets.keys().any(|t| !t.starts_with("b24")),
        "the HTTP stack's events were captured too: {targets:?}"
    );
    for text in &texts {
        scan.clean("a trace", text);
    }
}
