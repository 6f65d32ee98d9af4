//! The bare transport: scheme rules, resolver overrides, pooling, timeouts, body cap,
//! typed errors.

use std::time::{Duration, Instant};

use b24_core::engine::RetryPolicy;
use b24_core::methods::{RawCall, TaskResultAdd};
use b24_core::{Api, Portal, Repeat};
use b24_hyper::{CallOptions, Client, SentState, TimeoutStage, TransportError};
use b24_types::TaskId;
use bytes::Bytes;

use crate::local_server::LocalServer;

fn get(url: &str) -> http::Request<Bytes> {
    http::Request::get(url).body(Bytes::new()).unwrap()
}

fn post(url: &str, body: &'static str) -> http::Request<Bytes> {
    http::Request::post(url)
        .header("content-type", "application/json")
        .body(Bytes::from_static(body.as_bytes()))
        .unwrap()
}

fn loopback_client() -> b24_hyper::ClientBuilder {
    Client::builder().allow_plain_http_to_loopback(true)
}

#[tokio::test]
async fn plain_http_to_a_non_loopback_host_is_refused_before_connecting() {
    let server = LocalServer::start().await;
    // Even pinned to a live loopback listener, a non-loopback name must not get http.
    let client = loopback_client()
        .resolve("portal.example", server.addr)
        .build()
        .unwrap();
    let url = format!("http://portal.example:{}/echo", server.addr.port());
    let err = client.send(get(&url)).await.unwrap_err();
    assert!(matches!(err, TransportError::InsecureScheme), "{err:?}");
    assert_eq!(err.sent_state(), SentState::NotSent);
    assert_eq!(server.connections(), 0);
}

#[tokio::test]
async fn plain_http_to_loopback_needs_the_builder_switch() {
    let server = LocalServer::start().await;
    let strict = Client::builder().build().unwrap();
    let err = strict.send(get(&server.url("/echo"))).await.unwrap_err();
    assert!(matches!(err, TransportError::InsecureScheme), "{err:?}");
    assert_eq!(server.connections(), 0);

    let relaxed = loopback_client().build().unwrap();
    let response = relaxed.send(get(&server.url("/echo"))).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(server.connections(), 1);
}

#[tokio::test]
async fn pinned_name_user_agent_and_host_header() {
    let server = LocalServer::start().await;
    let client = loopback_client()
        .resolve("p1.localhost", server.addr)
        .user_agent("b24-tests/1.0")
        .build()
        .unwrap();
    // No port in the URL: the pinned address's port is used.
    let response = client
        .send(post("http://p1.localhost/echo", "{\"a\":1}"))
        .await
        .unwrap();
    let echo: serde_json::Value = serde_json::from_slice(response.body()).unwrap();
    assert_eq!(echo["userAgent"], "b24-tests/1.0");
    assert_eq!(echo["host"], "p1.localhost");
    assert_eq!(echo["bodyLen"], 7);

    // A caller's own User-Agent is kept.
    let mut request = get("http://p1.localhost/echo");
    request
        .headers_mut()
        .insert("user-agent", http::HeaderValue::from_static("mine/2"));
    let response = client.send(request).await.unwrap();
    let echo: serde_json::Value = serde_json::from_slice(response.body()).unwrap();
    assert_eq!(echo["userAgent"], "mine/2");
}

#[tokio::test]
async fn default_user_agent_names_the_crate() {
    let server = LocalServer::start().await;
    let client = loopback_client().build().unwrap();
    let response = client.send(get(&server.url("/echo"))).await.unwrap();
    let echo: serde_json::Value = serde_json::from_slice(response.body()).unwrap();
    assert!(
        echo["userAgent"]
            .as_str()
            .unwrap()
            .starts_with("b24-hyper/"),
        "{echo}"
    );
}

#[tokio::test]
async fn connections_are_pooled_and_reused() {
    let server = LocalServer::start().await;
    let client = loopback_client().build().unwrap();
    for _ in 0..5 {
        let response = client.send(get(&server.url("/echo"))).await.unwrap();
        assert_eq!(response.status(), 200);
    }
    // Clones share the pool.
    let clone = client.clone();
    clone.send(get(&server.url("/echo"))).await.unwrap();
    assert_eq!(server.connections(), 1);
}

#[tokio::test]
async fn redirects_are_returned_not_followed() {
    let server = LocalServer::start().await;
    let client = loopback_client().build().unwrap();
    let response = client.send(get(&server.url("/redirect"))).await.unwrap();
    assert_eq!(response.status(), 302);
    assert_eq!(server.connections(), 1);
}

#[tokio::test]
async fn slow_response_is_a_typed_attempt_timeout() {
    let server = LocalServer::start().await;
    let client = loopback_client()
        .attempt_timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let started = Instant::now();
    let err = client
        .send(get(&server.url("/delay/3000")))
        .await
        .unwrap_err();
    let took = started.elapsed();
    match &err {
        TransportError::Timeout { stage, sent, .. } => {
            assert_eq!(*stage, TimeoutStage::Attempt);
            assert_eq!(*sent, SentState::MaybeSent);
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert!(err.is_timeout());
    assert!(took >= Duration::from_millis(190), "{took:?}");
    assert!(took < Duration::from_secs(2), "{took:?}");
}

#[tokio::test]
async fn silent_peer_during_tls_handshake_is_a_connect_timeout() {
    let server = LocalServer::silent().await;
    let client = Client::builder()
        .connect_timeout(Duration::from_millis(200))
        .resolve("p1.localhost", server.addr)
        .build()
        .unwrap();
    let err = client
        .send(get("https://p1.localhost/rest/api/1/s3cr3t/x"))
        .await
        .unwrap_err();
    match &err {
        TransportError::Timeout { stage, sent, .. } => {
            assert_eq!(*stage, TimeoutStage::Connect);
            assert_eq!(*sent, SentState::NotSent);
        }
        other => panic!("expected a connect timeout, got {other:?}"),
    }
    assert!(err.is_connect());
    assert_eq!(server.connections(), 1);
}

#[tokio::test]
async fn an_attempt_timeout_while_still_connecting_is_not_sent() {
    // The TLS handshake never completes, and the attempt timeout is shorter than the
    // connect timeout: the attempt ends while the connection is still being opened.
    let server = LocalServer::silent().await;
    let client = Client::builder()
        .connect_timeout(Duration::from_secs(30))
        .attempt_timeout(Duration::from_millis(200))
        .resolve("p1.localhost", server.addr)
        .build()
        .unwrap();
    let err = client
        .send(post("https://p1.localhost/rest/1/s3cr3t/x", "{}"))
        .await
        .unwrap_err();
    match &err {
        TransportError::Timeout { stage, sent, .. } => {
            assert_eq!(*stage, TimeoutStage::Attempt);
            assert_eq!(*sent, SentState::NotSent);
        }
        other => panic!("expected an attempt timeout, got {other:?}"),
    }
    assert_eq!(server.connections(), 1);
}

#[tokio::test]
async fn a_write_without_a_key_is_retried_after_timing_out_while_connecting() {
    // Nothing was sent, so even a write without an Idempotency-Key may go again.
    let server = LocalServer::silent().await;
    let client = Client::builder()
        .connect_timeout(Duration::from_secs(30))
        .attempt_timeout(Duration::from_millis(200))
        .resolve("p1.localhost", server.addr)
        .retry_policy(
            RetryPolicy::default()
                .max_attempts(2)
                .backoff(Duration::from_millis(10), Duration::from_millis(20)),
        )
        .build()
        .unwrap();
    let portal = Portal::webhook("https://p1.localhost/rest/1/s3cr3tc0de/").unwrap();
    let err = client
        .execute_with(
            &portal,
            TaskResultAdd::new(TaskId::new(51).unwrap(), "once").unwrap(),
            CallOptions::new().without_idempotency_key(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            b24_hyper::Error::Core(b24_core::Error::RetriesExhausted { attempts: 2, .. })
        ),
        "{err:?}"
    );
    assert_eq!(
        err.transport().map(TransportError::sent_state),
        Some(SentState::NotSent)
    );
    assert_eq!(server.connections(), 2);
}

#[tokio::test]
async fn the_deadline_is_the_engines_from_the_first_poll() {
    // A read whose request takes a while to build (a large parameter), to a server
    // that never answers: the attempt is cut off by the call deadline, on the same
    // clock and from the same instant as the engine's deadline, so the engine sees it
    // passed and ends the call instead of starting attempts with no time left.
    let server = LocalServer::silent().await;
    let client = loopback_client()
        .attempt_timeout(Duration::from_secs(10))
        .call_deadline(Duration::from_millis(300))
        .retry_policy(
            RetryPolicy::default()
                .max_attempts(10)
                .backoff(Duration::ZERO, Duration::ZERO),
        )
        .build()
        .unwrap();
    let portal = Portal::builder()
        .allow_plain_http_to_loopback(true)
        .webhook(&format!("http://{}/rest/1/s3cr3tc0de/", server.addr))
        .unwrap();
    let read = RawCall::new("tasks.task.list", Api::Classic)
        .unwrap()
        .with_param("ids", serde_json::json!(vec![7u32; 1_000_000]))
        .with_repeat(Repeat::Safe);
    let started = Instant::now();
    let err = client.execute(&portal, read).await.unwrap_err();
    let took = started.elapsed();
    assert!(
        matches!(
            err,
            b24_hyper::Error::Core(b24_core::Error::DeadlineExceeded { attempts: 1, .. })
        ),
        "{err:?}"
    );
    assert!(
        matches!(
            err.transport(),
            Some(TransportError::Timeout {
                stage: TimeoutStage::Deadline,
                ..
            })
        ),
        "{err:?}"
    );
    assert!(took < Duration::from_secs(3), "{took:?}");
    assert_eq!(server.connections(), 1);
}

#[tokio::test]
async fn refused_connection_is_a_connect_error_not_sent() {
    // Bind then drop to find a port nobody listens on.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let client = Client::builder().build().unwrap();
    let err = client
        .send(get(&format!(
            "https://127.0.0.1:{port}/rest/api/1/s3cr3t/x"
        )))
        .await
        .unwrap_err();
    assert!(matches!(err, TransportError::Connect { .. }), "{err:?}");
    assert_eq!(err.sent_state(), SentState::NotSent);
    assert!(std::error::Error::source(&err).is_some());
}

#[tokio::test]
async fn tls_to_a_plain_http_server_is_a_tls_error() {
    let server = LocalServer::start().await;
    let client = Client::builder().build().unwrap();
    let err = client
        .send(get(&format!(
            "https://127.0.0.1:{}/rest/api/1/s3cr3t/x",
            server.addr.port()
        )))
        .await
        .unwrap_err();
    assert!(matches!(err, TransportError::Tls { .. }), "{err:?}");
    assert_eq!(err.sent_state(), SentState::NotSent);
}

#[tokio::test]
async fn body_over_the_cap_stops_reading_with_a_typed_error() {
    let server = LocalServer::start().await;
    let client = loopback_client()
        .max_response_body(1024 * 1024)
        .build()
        .unwrap();
    // Declared by Content-Length.
    let err = client
        .send(get(&server.url("/big/4000000")))
        .await
        .unwrap_err();
    assert!(
        matches!(err, TransportError::BodyTooLarge { limit: 1048576 }),
        "{err:?}"
    );
    // Streamed without a length: reading stops at the cap.
    let err = client
        .send(get(&server.url("/big-chunked/8000000")))
        .await
        .unwrap_err();
    assert!(
        matches!(err, TransportError::BodyTooLarge { .. }),
        "{err:?}"
    );
    // Under the cap it is read whole.
    let ok = client.send(get(&server.url("/big/1000000"))).await.unwrap();
    assert_eq!(ok.body().len(), 1_000_000);
}

#[tokio::test]
async fn errors_never_show_the_uri() {
    let server = LocalServer::silent().await;
    let client = Client::builder()
        .connect_timeout(Duration::from_millis(100))
        .resolve("p1.localhost", server.addr)
        .build()
        .unwrap();
    let secret = "w3bh00ks3cr3t";
    let refused_port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let urls = [
        format!("https://p1.localhost/rest/api/1/{secret}/tasks.task.get"),
        format!("https://127.0.0.1:{refused_port}/rest/api/1/{secret}/tasks.task.get"),
        format!("http://portal.example/rest/api/1/{secret}/tasks.task.get"),
    ];
    for url in urls {
        let err = client.send(get(&url)).await.unwrap_err();
        let mut texts = vec![format!("{err}"), format!("{err:?}")];
        let mut source = std::error::Error::source(&err);
        while let Some(s) = source {
            texts.push(format!("{s}"));
            texts.push(format!("{s:?}"));
            source = s.source();
        }
        for text in texts {
            assert!(!text.contains(secret), "secret leaked: {text}");
            assert!(!text.contains("/rest/"), "path leaked: {text}");
        }
    }
    assert!(!format!("{client:?}").contains(secret));
}

#[test]
fn builder_rejects_bad_settings() {
    assert!(matches!(
        Client::builder()
            .add_root_certificate_pem("not a pem")
            .build(),
        Err(b24_hyper::BuildError::InvalidPem { .. })
    ));
    assert!(matches!(
        Client::builder().built_in_roots(false).build(),
        Err(b24_hyper::BuildError::NoRoots)
    ));
    assert!(matches!(
        Client::builder().user_agent("bad\nagent").build(),
        Err(b24_hyper::BuildError::UserAgent)
    ));
    assert!(matches!(
        Client::builder().attempt_timeout(Duration::ZERO).build(),
        Err(b24_hyper::BuildError::Setting { .. })
    ));
    assert!(matches!(
        Client::builder().max_response_body(0).build(),
        Err(b24_hyper::BuildError::Setting { .. })
    ));
}

#[tokio::test]
async fn https_to_the_emulator_negotiates_http2() {
    let env = crate::emu::start().await;
    let port = env.server.addr().port();
    let request = post(
        &format!("https://localhost:{port}/rest/api/1/x/tasks.task.get"),
        "{\"id\":51}",
    );
    let response = env.client.send(request).await.unwrap();
    assert_eq!(response.version(), http::Version::HTTP_2);
    // HTTP/1.1 only when the server offers nothing else is covered by the plain
    // loopback tests above.
    assert!(
        response.status().is_client_error(),
        "bad secret: {}",
        response.status()
    );
}

#[tokio::test]
async fn the_offered_http_versions_decide_what_the_portal_speaks() {
    for (versions, expected) in [
        (b24_hyper::HttpVersions::Negotiate, http::Version::HTTP_2),
        (b24_hyper::HttpVersions::Http1, http::Version::HTTP_11),
        (b24_hyper::HttpVersions::Http2, http::Version::HTTP_2),
    ] {
        let env = crate::emu::start_with(
            b24_emulator::Emulator::builder()
                .portal(b24_emulator::PortalConfig::new("localhost").bucket(50, 500.0)),
            &[],
            |b| b.http_versions(versions),
        )
        .await;
        let port = env.server.addr().port();
        let request = post(
            &format!("https://localhost:{port}/rest/api/1/x/tasks.task.get"),
            "{\"id\":51}",
        );
        let response = env.client.send(request).await.unwrap();
        assert_eq!(response.version(), expected, "{versions:?}");
    }
}

#[tokio::test]
async fn plain_http_to_a_name_pinned_off_loopback_is_refused_before_connecting() {
    // `localhost` passes the host-name rule, but the address it leads to is not a
    // loopback one: the webhook's secret would cross the network in the clear.
    let client = Client::builder()
        .allow_plain_http_to_loopback(true)
        .resolve("localhost", "192.0.2.1:80".parse().unwrap())
        .connect_timeout(std::time::Duration::from_secs(5))
        .build()
        .unwrap();
    let portal = b24_core::Portal::builder()
        .allow_plain_http_to_loopback(true)
        .webhook("http://localhost/rest/1/s3cretwebhookcode/")
        .unwrap();
    let started = std::time::Instant::now();
    let err = client
        .execute(
            &portal,
            b24_core::methods::TaskGet::for_chat(b24_types::TaskId::new(51).unwrap()),
        )
        .await
        .unwrap_err();
    // Refused at once (no connect attempt that would wait for the 5 s timeout), and
    // not repeated: the address will not change.
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
    match &err {
        b24_hyper::Error::Core(b24_core::Error::Transport { kind, sent, .. }) => {
            assert_eq!(*kind, b24_core::engine::TransportErrorKind::Address);
            assert_eq!(*sent, SentState::NotSent);
        }
        other => panic!("expected the address to be refused, got {other:?}"),
    }
    assert!(matches!(
        err.transport(),
        Some(TransportError::InsecureScheme)
    ));
    let text = err.to_string();
    assert!(text.contains("allow_plain_http_to_loopback"), "{text}");
    assert!(!text.contains("s3cret"), "{text}");
}
