//! Posting a delivery to a handler URL: HTTP/1.1 over TCP, loopback only.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::rt::TokioIo;

/// How long a handler has to answer (the platform does not document its timeout).
pub(crate) const DELIVERY_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a delivery did not get an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SendError {
    /// The URL is not an `http://` URL on a loopback address.
    Refused(&'static str),
    /// No connection, or the connection broke.
    Connection(String),
    /// No answer within [`DELIVERY_TIMEOUT`].
    Timeout,
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SendError::Refused(why) => f.write_str(why),
            SendError::Connection(why) => write!(f, "connection failed: {why}"),
            SendError::Timeout => f.write_str("no answer in time"),
        }
    }
}

/// Where a handler URL points, when the emulator may post there: `http` on a
/// loopback address (the emulator never sends tokens off the machine).
fn target(url: &str) -> Result<(SocketAddr, http::Uri), SendError> {
    let uri: http::Uri = url
        .parse()
        .map_err(|_| SendError::Refused("the handler URL does not parse"))?;
    if uri.scheme_str() != Some("http") {
        return Err(SendError::Refused(
            "the emulator delivers to http:// handlers only",
        ));
    }
    let host = uri
        .host()
        .ok_or(SendError::Refused("the handler URL has no host"))?
        .trim_start_matches('[')
        .trim_end_matches(']');
    let ip: IpAddr = if host.eq_ignore_ascii_case("localhost") {
        IpAddr::from([127, 0, 0, 1])
    } else {
        host.parse()
            .map_err(|_| SendError::Refused("the emulator delivers to loopback addresses only"))?
    };
    if !ip.is_loopback() {
        return Err(SendError::Refused(
            "the emulator delivers to loopback addresses only",
        ));
    }
    let port = uri.port_u16().unwrap_or(80);
    Ok((SocketAddr::new(ip, port), uri))
}

/// POSTs a form body to `url` and returns the answer's status.
pub(crate) async fn post_form(url: &str, body: Bytes) -> Result<u16, SendError> {
    let (addr, uri) = target(url)?;
    let send = async move {
        let stream = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| SendError::Connection(e.kind().to_string()))?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| SendError::Connection(e.to_string()))?;
        let connection = tokio::spawn(conn);
        let path = uri
            .path_and_query()
            .map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned());
        let authority = uri
            .authority()
            .map_or_else(|| addr.to_string(), |a| a.as_str().to_owned());
        let request = http::Request::post(path)
            .header(http::header::HOST, authority)
            .header(
                http::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .header(http::header::USER_AGENT, "Bitrix24 Webhook Engine")
            .body(Full::new(body))
            .map_err(|e| SendError::Connection(e.to_string()))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| SendError::Connection(e.to_string()))?;
        let status = response.status().as_u16();
        drop(response);
        drop(sender);
        connection.abort();
        Ok(status)
    };
    tokio::time::timeout(DELIVERY_TIMEOUT, send)
        .await
        .unwrap_or(Err(SendError::Timeout))
}
