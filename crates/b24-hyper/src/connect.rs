//! The connector the pool opens connections with: TCP (through the overriding
//! resolver), then TLS with ALPN, both under one connect timeout. Failures are typed
//! ([`ConnectFailure`]) so the call path can tell TCP, TLS and timeout apart.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::str::FromStr;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use b24_core::is_loopback_host;
use http::Uri;
use hyper_rustls::MaybeHttpsStream;
use hyper_util::client::legacy::connect::dns::Name;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use rustls::ClientConfig;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tower_service::Service;

use crate::error::ConnectFailure;
use crate::resolve::OverrideResolver;

/// The stream a connection runs over.
pub(crate) type Stream = MaybeHttpsStream<TokioIo<TcpStream>>;

/// TCP + TLS connector with a connect timeout.
#[derive(Clone)]
pub(crate) struct Connector {
    tcp: HttpConnector<OverrideResolver>,
    resolver: OverrideResolver,
    tls: TlsConnector,
    allow_plain_loopback: bool,
    timeout: Duration,
}

impl Connector {
    pub(crate) fn new(
        resolver: OverrideResolver,
        tls: Arc<ClientConfig>,
        allow_plain_loopback: bool,
        timeout: Duration,
    ) -> Self {
        let mut tcp = HttpConnector::new_with_resolver(resolver.clone());
        tcp.enforce_http(false);
        tcp.set_nodelay(true);
        Self {
            tcp,
            resolver,
            tls: TlsConnector::from(tls),
            allow_plain_loopback,
            timeout,
        }
    }
}

/// Whether the address may be used at all: https always, plain http only to a
/// loopback host (the core's [`is_loopback_host`], the same rule its portal parser
/// follows) and only when allowed.
pub(crate) fn check_scheme(uri: &Uri, allow_plain_loopback: bool) -> Result<(), ConnectFailure> {
    let host = uri.host().ok_or(ConnectFailure::NoHost)?;
    check_scheme_parts(uri.scheme_str().unwrap_or(""), host, allow_plain_loopback)
}

/// [`check_scheme`] on a scheme and host already split.
pub(crate) fn check_scheme_parts(
    scheme: &str,
    host: &str,
    allow_plain_loopback: bool,
) -> Result<(), ConnectFailure> {
    match scheme {
        "https" => Ok(()),
        "http" if allow_plain_loopback && is_loopback_host(host) => Ok(()),
        _ => Err(ConnectFailure::InsecureScheme),
    }
}

impl Service<Uri> for Connector {
    type Response = Stream;
    type Error = ConnectFailure;
    type Future = Pin<Box<dyn Future<Output = Result<Stream, ConnectFailure>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), ConnectFailure>> {
        self.tcp
            .poll_ready(cx)
            .map_err(|e| ConnectFailure::Tcp(Box::new(e)))
    }

    fn call(&mut self, dst: Uri) -> Self::Future {
        if let Err(e) = check_scheme(&dst, self.allow_plain_loopback) {
            return Box::pin(async move { Err(e) });
        }
        let plain = dst.scheme_str() == Some("http");
        if plain {
            return Box::pin(connect_plain_loopback(
                self.resolver.clone(),
                dst,
                self.timeout,
            ));
        }
        let server_name = dst
            .host()
            .map(|h| h.trim_start_matches('[').trim_end_matches(']').to_owned())
            .ok_or(ConnectFailure::NoHost)
            .and_then(|h| ServerName::try_from(h).map_err(|e| ConnectFailure::Tls(Box::new(e))));
        let timeout = self.timeout;
        let tls = self.tls.clone();
        let connecting = self.tcp.call(dst);
        Box::pin(async move {
            let started = tokio::time::Instant::now();
            let deadline = crate::transport::instant_after(started, timeout);
            let timed_out = || ConnectFailure::Timeout(started.elapsed());
            let tcp = tokio::time::timeout_at(deadline, connecting)
                .await
                .map_err(|_| timed_out())?
                .map_err(|e| ConnectFailure::Tcp(Box::new(e)))?;
            let server_name = server_name?;
            let tls_stream =
                tokio::time::timeout_at(deadline, tls.connect(server_name, TokioIo::new(tcp)))
                    .await
                    .map_err(|_| timed_out())?
                    .map_err(|e| ConnectFailure::Tls(Box::new(e)))?;
            Ok(MaybeHttpsStream::Https(TokioIo::new(tls_stream)))
        })
    }
}

/// Plain http, allowed only to loopback: the host is resolved first and only its
/// loopback addresses are dialled, so a name pinned or resolved to another address is
/// refused before any connection is made (the secret of a webhook URL rides in the
/// request path, in the clear).
async fn connect_plain_loopback(
    mut resolver: OverrideResolver,
    dst: Uri,
    timeout: Duration,
) -> Result<Stream, ConnectFailure> {
    let host = dst.host().ok_or(ConnectFailure::NoHost)?;
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let port = dst.port_u16();
    let started = tokio::time::Instant::now();
    let deadline = crate::transport::instant_after(started, timeout);
    let timed_out = || ConnectFailure::Timeout(started.elapsed());
    let resolved: Vec<SocketAddr> = match bare.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port.unwrap_or(80))],
        Err(_) => {
            let name = Name::from_str(bare).map_err(|_| ConnectFailure::NoHost)?;
            let lookup = std::future::poll_fn(|cx| resolver.poll_ready(cx))
                .await
                .map(|()| resolver.call(name))
                .map_err(ConnectFailure::Tcp)?;
            tokio::time::timeout_at(deadline, lookup)
                .await
                .map_err(|_| timed_out())?
                .map_err(ConnectFailure::Tcp)?
                .map(|mut addr| {
                    if let Some(p) = port {
                        addr.set_port(p);
                    } else if addr.port() == 0 {
                        addr.set_port(80);
                    }
                    addr
                })
                .collect()
        }
    };
    let loopback: Vec<SocketAddr> = resolved
        .into_iter()
        .filter(|a| a.ip().is_loopback())
        .collect();
    if loopback.is_empty() {
        return Err(ConnectFailure::InsecureScheme);
    }
    let mut last = None;
    for addr in loopback {
        match tokio::time::timeout_at(deadline, TcpStream::connect(addr)).await {
            Err(_) => return Err(timed_out()),
            Ok(Ok(stream)) => {
                // Small requests and answers: send each at once.
                let _ = stream.set_nodelay(true);
                return Ok(MaybeHttpsStream::Http(TokioIo::new(stream)));
            }
            Ok(Err(e)) => last = Some(e),
        }
    }
    Err(ConnectFailure::Tcp(Box::new(last.unwrap_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::NotFound, "no loopback address")
    }))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_follows_the_core_loopback_rule() {
        for h in [
            "localhost",
            "LOCALHOST",
            "p1.localhost",
            "127.0.0.1",
            "127.8.9.10",
            "[::1]",
            "localhost.",
        ] {
            assert!(check_scheme_parts("http", h, true).is_ok(), "{h}");
            assert!(check_scheme_parts("http", h, false).is_err(), "{h}");
        }
        for h in [
            "example.com",
            "localhost.example.com",
            "10.0.0.1",
            "[::2]",
            "mylocalhost",
        ] {
            assert!(check_scheme_parts("http", h, true).is_err(), "{h}");
            assert!(check_scheme_parts("https", h, false).is_ok(), "{h}");
        }
    }

    #[test]
    fn scheme_rules() {
        let http_remote: Uri = "http://portal.example/rest/".parse().unwrap();
        let http_local: Uri = "http://127.0.0.1:8080/rest/".parse().unwrap();
        let https_remote: Uri = "https://portal.example/rest/".parse().unwrap();
        assert!(check_scheme(&https_remote, false).is_ok());
        assert!(check_scheme(&http_local, true).is_ok());
        assert!(matches!(
            check_scheme(&http_local, false),
            Err(ConnectFailure::InsecureScheme)
        ));
        assert!(matches!(
            check_scheme(&http_remote, true),
            Err(ConnectFailure::InsecureScheme)
        ));
        let ftp: Uri = "ftp://127.0.0.1/".parse().unwrap();
        assert!(matches!(
            check_scheme(&ftp, true),
            Err(ConnectFailure::InsecureScheme)
        ));
    }
}
