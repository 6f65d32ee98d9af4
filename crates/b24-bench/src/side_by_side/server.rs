//! The fixed-answer server process: HTTPS on two loopback ports, one offering only
//! `http/1.1` by ALPN and one only `h2`, so the server decides the protocol whatever
//! the client prefers. Every POST gets [`ANSWER_BODY`](super::answer::ANSWER_BODY)
//! with status 200, `Content-Type: application/json` and the request's
//! `Idempotency-Key` echoed; the request body is read and discarded.
//!
//! The certificate is self-signed, made with `rcgen` at start for `localhost` and
//! `127.0.0.1`, and written as PEM to the path the orchestrator names, for the clients
//! to trust.
//!
//! Control runs over the standard streams: once listening the server prints one JSON
//! line `{"h1":PORT,"h2":PORT}`; each `stats` line on its standard input is answered
//! with one [`ServerStats`] line; `quit` or the end of input stops it.

use std::convert::Infallible;
use std::io::{BufRead, Write};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use b24_core::bytes::Bytes;
use http::header::{HeaderName, HeaderValue, CONTENT_TYPE};
use http::{Method, Request, Response, StatusCode, Version};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rcgen::{CertificateParams, DnType, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::ServerConfig;
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use super::answer::ANSWER_BODY;
use super::args::Args;
use super::cpu::CpuTime;
use super::Protocol;
use crate::error::{BenchError, Context};

const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");

/// The ports the server listens on, as printed once it is ready.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Ports {
    /// The port that offers only `http/1.1` by ALPN.
    pub h1: u16,
    /// The port that offers only `h2` by ALPN.
    pub h2: u16,
}

impl Ports {
    /// The port of `protocol`.
    pub fn of(&self, protocol: Protocol) -> u16 {
        match protocol {
            Protocol::Http1 => self.h1,
            Protocol::Http2 => self.h2,
        }
    }
}

/// What the server has seen since it started. The orchestrator reads it before and
/// after each client process and attributes the difference to that client.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerStats {
    /// TCP connections accepted.
    pub connections: u64,
    /// Connections whose TLS handshake failed.
    pub tls_failures: u64,
    /// Requests over HTTP/1.1.
    pub requests_h1: u64,
    /// Requests over HTTP/2.
    pub requests_h2: u64,
    /// Requests that carried an `Idempotency-Key`.
    pub with_idempotency_key: u64,
    /// Requests that were not POSTs (answered 405).
    pub not_post: u64,
    /// The server process's CPU time, user and kernel, in nanoseconds.
    pub cpu_ns: u64,
}

impl ServerStats {
    /// `self - earlier`, field by field.
    pub fn since(&self, earlier: &Self) -> Self {
        Self {
            connections: self.connections.saturating_sub(earlier.connections),
            tls_failures: self.tls_failures.saturating_sub(earlier.tls_failures),
            requests_h1: self.requests_h1.saturating_sub(earlier.requests_h1),
            requests_h2: self.requests_h2.saturating_sub(earlier.requests_h2),
            with_idempotency_key: self
                .with_idempotency_key
                .saturating_sub(earlier.with_idempotency_key),
            not_post: self.not_post.saturating_sub(earlier.not_post),
            cpu_ns: self.cpu_ns.saturating_sub(earlier.cpu_ns),
        }
    }

    /// Requests of both protocols.
    pub fn requests(&self) -> u64 {
        self.requests_h1 + self.requests_h2
    }

    /// Requests over `protocol`.
    pub fn requests_over(&self, protocol: Protocol) -> u64 {
        match protocol {
            Protocol::Http1 => self.requests_h1,
            Protocol::Http2 => self.requests_h2,
        }
    }
}

#[derive(Debug, Default)]
struct Counters {
    connections: AtomicU64,
    tls_failures: AtomicU64,
    requests_h1: AtomicU64,
    requests_h2: AtomicU64,
    with_idempotency_key: AtomicU64,
    not_post: AtomicU64,
}

impl Counters {
    fn snapshot(&self) -> Result<ServerStats, BenchError> {
        let cpu = CpuTime::now()?.total();
        Ok(ServerStats {
            connections: self.connections.load(Ordering::Relaxed),
            tls_failures: self.tls_failures.load(Ordering::Relaxed),
            requests_h1: self.requests_h1.load(Ordering::Relaxed),
            requests_h2: self.requests_h2.load(Ordering::Relaxed),
            with_idempotency_key: self.with_idempotency_key.load(Ordering::Relaxed),
            not_post: self.not_post.load(Ordering::Relaxed),
            cpu_ns: u64::try_from(cpu.as_nanos()).unwrap_or(u64::MAX),
        })
    }
}

/// The server process: `side-by-side __server --ca-out PATH`.
///
/// # Errors
///
/// Bad arguments, the certificate cannot be made or written, a port cannot be bound,
/// or the standard streams fail.
pub fn server_process(args: &[String]) -> Result<(), BenchError> {
    let mut args = Args::parse(args)?;
    let ca_out = PathBuf::from(args.required("ca-out")?);
    args.finish()?;

    let (cert_pem, cert_der, key_der) = self_signed()?;
    std::fs::write(&ca_out, cert_pem).context("write the server certificate")?;
    let h1_config = tls_config(&cert_der, &key_der, Protocol::Http1)?;
    let h2_config = tls_config(&cert_der, &key_der, Protocol::Http2)?;

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("server runtime")?;
    let loopback = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    let (h1_listener, h2_listener) = runtime
        .block_on(async {
            let h1 = TcpListener::bind(loopback).await?;
            let h2 = TcpListener::bind(loopback).await?;
            Ok::<_, std::io::Error>((h1, h2))
        })
        .context("bind the server ports")?;
    let ports = Ports {
        h1: h1_listener.local_addr().context("server port")?.port(),
        h2: h2_listener.local_addr().context("server port")?.port(),
    };
    let counters = Arc::new(Counters::default());

    // The server runs on its own thread; this one answers the orchestrator.
    let serving = Arc::clone(&counters);
    std::thread::Builder::new()
        .name("server".to_owned())
        .spawn(move || {
            runtime.block_on(async move {
                let h1 = tokio::spawn(accept_loop(
                    h1_listener,
                    TlsAcceptor::from(h1_config),
                    Arc::clone(&serving),
                ));
                let h2 = tokio::spawn(accept_loop(
                    h2_listener,
                    TlsAcceptor::from(h2_config),
                    serving,
                ));
                let _ = tokio::join!(h1, h2);
            });
        })
        .context("server thread")?;

    let mut out = std::io::stdout().lock();
    let line = serde_json::to_string(&ports).context("encode the ports")?;
    writeln!(out, "{line}").context("write the ports")?;
    out.flush().context("write the ports")?;
    for command in std::io::stdin().lock().lines() {
        match command.context("read a command")?.trim() {
            "stats" => {
                let line =
                    serde_json::to_string(&counters.snapshot()?).context("encode the stats")?;
                writeln!(out, "{line}").context("write the stats")?;
                out.flush().context("write the stats")?;
            }
            "quit" => break,
            "" => {}
            other => {
                return Err(BenchError::new(
                    "server",
                    format!("unknown command {other:?}"),
                ))
            }
        }
    }
    Ok(())
}

/// A self-signed certificate for `localhost` and `127.0.0.1`: (PEM, DER, key DER).
fn self_signed() -> Result<(String, Vec<u8>, Vec<u8>), BenchError> {
    let key = KeyPair::generate().context("certificate key")?;
    let mut params = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
        .context("certificate parameters")?;
    params
        .distinguished_name
        .push(DnType::CommonName, "b24 side-by-side server");
    let cert = params.self_signed(&key).context("self-sign")?;
    Ok((cert.pem(), cert.der().to_vec(), key.serialize_der()))
}

/// The rustls server configuration offering only `protocol` by ALPN.
fn tls_config(
    cert_der: &[u8],
    key_der: &[u8],
    protocol: Protocol,
) -> Result<Arc<ServerConfig>, BenchError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("server TLS versions")?
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(cert_der.to_vec())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key_der.to_vec())),
        )
        .context("server TLS certificate")?;
    config.alpn_protocols = vec![protocol.alpn().to_vec()];
    Ok(Arc::new(config))
}

async fn accept_loop(listener: TcpListener, acceptor: TlsAcceptor, counters: Arc<Counters>) {
    loop {
        let Ok((stream, _peer)) = listener.accept().await else {
            // Out of file descriptors or similar: back off briefly.
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            continue;
        };
        counters.connections.fetch_add(1, Ordering::Relaxed);
        let _ = stream.set_nodelay(true);
        let acceptor = acceptor.clone();
        let counters = Arc::clone(&counters);
        tokio::spawn(async move {
            let Ok(tls) = acceptor.accept(stream).await else {
                counters.tls_failures.fetch_add(1, Ordering::Relaxed);
                return;
            };
            let h2 = tls.get_ref().1.alpn_protocol() == Some(Protocol::Http2.alpn());
            let io = TokioIo::new(tls);
            let svc = service_fn(move |req| answer(req, Arc::clone(&counters)));
            if h2 {
                let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                    .serve_connection(io, svc)
                    .await;
            } else {
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(io, svc)
                    .await;
            }
        });
    }
}

async fn answer(
    req: Request<Incoming>,
    counters: Arc<Counters>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    if req.version() == Version::HTTP_2 {
        counters.requests_h2.fetch_add(1, Ordering::Relaxed);
    } else {
        counters.requests_h1.fetch_add(1, Ordering::Relaxed);
    }
    let key = req.headers().get(IDEMPOTENCY_KEY).cloned();
    let post = req.method() == Method::POST;
    // Read and drop the request body.
    let _ = req.into_body().collect().await;
    let mut response = Response::new(Full::new(Bytes::from_static(ANSWER_BODY.as_bytes())));
    if !post {
        counters.not_post.fetch_add(1, Ordering::Relaxed);
        *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
    }
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Some(key) = key {
        counters
            .with_idempotency_key
            .fetch_add(1, Ordering::Relaxed);
        response.headers_mut().insert(IDEMPOTENCY_KEY, key);
    }
    Ok(response)
}
