//! HTTPS with the generated CA: HTTP/1.1 and HTTP/2 over real TLS.

use std::sync::Arc;

use b24_emulator::Emulator;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpStream;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{ClientConfig, RootCertStore};
use tokio_rustls::TlsConnector;

fn connector(ca_der: &[u8], alpn: &[u8]) -> TlsConnector {
    let mut roots = RootCertStore::empty();
    roots.add(CertificateDer::from(ca_der.to_vec())).unwrap();
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![alpn.to_vec()];
    TlsConnector::from(Arc::new(config))
}

fn request(path: String, host: &str) -> http::Request<Full<Bytes>> {
    http::Request::post(path)
        .header("host", host)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(
            r#"{"fields":{"taskId":51,"text":"over TLS"}}"#,
        )))
        .unwrap()
}

#[tokio::test]
async fn http1_over_tls_with_the_generated_ca() {
    let emu = Emulator::new();
    let server = emu.serve_https().await.unwrap();
    let pem = server.ca_cert_pem().unwrap();
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"));
    let url = server.webhook_url(&server.portal(), 1).unwrap();
    assert!(url.starts_with(&format!(
        "https://localhost:{}/rest/1/",
        server.addr().port()
    )));
    let secret = emu.default_portal().webhook_secret(1).unwrap();

    let tcp = TcpStream::connect(server.addr()).await.unwrap();
    let tls = connector(server.ca_cert_der().unwrap(), b"http/1.1")
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .unwrap();
    tokio::spawn(conn);
    let resp = send
        .send_request(request(
            format!("/rest/api/1/{secret}/tasks.task.result.add"),
            "localhost",
        ))
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.version(), http::Version::HTTP_11);
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["result"]["item"]["text"], "over TLS");
    assert_eq!(emu.default_portal().results().len(), 1);
}

#[tokio::test]
async fn http2_over_tls_via_alpn_and_a_named_portal() {
    let emu = Emulator::builder()
        .portal(b24_emulator::PortalConfig::new("p1.localhost"))
        .portal(b24_emulator::PortalConfig::new("p2.localhost"))
        .build();
    let server = emu.serve_https().await.unwrap();
    let p2 = emu.portal("p2.localhost").unwrap();
    let secret = p2.webhook_secret(1).unwrap();
    assert!(server
        .webhook_url(&p2, 1)
        .unwrap()
        .starts_with("https://p2.localhost:"));
    let tcp = TcpStream::connect(server.addr()).await.unwrap();
    // The leaf is valid for every portal host.
    let tls = connector(server.ca_cert_der().unwrap(), b"h2")
        .connect(ServerName::try_from("p2.localhost").unwrap(), tcp)
        .await
        .unwrap();
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let (mut send, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
            .await
            .unwrap();
    tokio::spawn(conn);
    let req = http::Request::post(format!(
        "https://p2.localhost:{}/rest/api/1/{secret}/tasks.task.result.add",
        server.addr().port()
    ))
    .header("content-type", "application/json")
    .body(Full::new(Bytes::from(
        r#"{"fields":{"taskId":51,"text":"over h2"}}"#,
    )))
    .unwrap();
    let resp = send.send_request(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.version(), http::Version::HTTP_2);
    assert_eq!(p2.results().len(), 1);
    assert!(emu.portal("p1.localhost").unwrap().results().is_empty());
}

#[tokio::test]
async fn an_untrusted_client_fails_the_handshake() {
    let emu = Emulator::new();
    let server = emu.serve_https().await.unwrap();
    let other = Emulator::new().serve_https().await.unwrap();
    let tcp = TcpStream::connect(server.addr()).await.unwrap();
    let res = connector(other.ca_cert_der().unwrap(), b"http/1.1")
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await;
    assert!(res.is_err());
}
