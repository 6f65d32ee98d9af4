//! b24-core driven by another HTTP stack: a blocking client over `std::net::TcpStream`
//! with hand-written HTTP/1.1, no tokio and no hyper on the client side.
//!
//! Run it with `cargo run -p b24-hyper --example blocking_transport`. It starts
//! b24-emulator in its plain-HTTP loopback mode (the emulator needs an async runtime
//! of its own, on a background thread), then posts a message to a task's chat and
//! turns it into the task's result. Every call goes through
//! `b24_core::blocking::Driver`, which runs the core's engine (rate limits, retries,
//! idempotency keys, waits); this file only sends bytes and says, when that fails,
//! whether the request may have left. docs/custom-transport.md walks through it.
#![allow(clippy::print_stdout)]

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use b24_core::blocking::{Clock, Driver};
use b24_core::bytes::Bytes;
use b24_core::engine::{SentState, Timestamp, TransportErrorKind, TransportFailure};
use b24_core::methods::{DialogId, ImMessageAdd, TaskResultAddFromChatMessage};
use b24_core::registry::Registry;
use b24_core::types::{ChatId, TaskId};
use b24_core::{http, Portal};

/// The longest response read.
const MAX_RESPONSE: u64 = 4 * 1024 * 1024;
/// Time allowed for connecting, writing and each read, at most.
const TIMEOUT: Duration = Duration::from_secs(10);

/// The wall clock the driver tells time by; its waits block the thread.
#[derive(Debug, Clone, Copy)]
pub struct WallClock;

impl Clock for WallClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_system_time(std::time::SystemTime::now())
    }
    fn sleep(&self, d: Duration) {
        std::thread::sleep(d);
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    run()
}

/// Starts the emulator, then makes a chat message the task's result.
pub fn run() -> Result<(), Box<dyn std::error::Error>> {
    let (webhook_url, _emulator) = start_emulator()?;
    // Plain http is accepted for loopback hosts only, and only when asked for.
    let portal = Portal::builder()
        .allow_plain_http_to_loopback(true)
        .webhook(&webhook_url)?;
    // The driver over the `send` function below. Its registry keeps the portals'
    // shared state (the bucket per host, budgets per webhook or app, tokens per
    // user); `Driver::new` makes one seeded from the OS, or hand it one to share.
    // The driver tells time by the caller's clock: here the wall clock.
    let mut driver = Driver::new(send, WallClock).registry(Registry::new(0x0b24_5eed));

    let chat = ChatId::new(58)?; // task 51's chat in the emulator's seeded data
    let post = ImMessageAdd::new(DialogId::chat(chat), "Posted by a blocking client")?;
    let message = driver.call(&portal, post)?.result;
    println!("posted message {message} to chat{chat}");

    let made = TaskResultAddFromChatMessage::new(message);
    let result = driver.call(&portal, made)?.result;
    println!(
        "result {} of task {} made from message {message}",
        result.id,
        result.task_id.map_or(0, TaskId::get)
    );
    Ok(())
}

// ---- A blocking HTTP/1.1 client: one connection per request, `Connection: close`. ----

/// Sends one request over a fresh `TcpStream` and reads the whole answer, telling the
/// engine whether a failure happened before anything was sent.
fn send(
    request: &http::Request<Bytes>,
    left: Option<Duration>,
) -> Result<http::Response<Bytes>, TransportFailure> {
    // The engine's deadline, within this client's own time limit.
    let timeout = left.map_or(TIMEOUT, |left| left.min(TIMEOUT));
    if timeout.is_zero() {
        return Err(TransportFailure::new(
            TransportErrorKind::Timeout,
            SentState::NotSent,
        ));
    }
    let uri = request.uri();
    let (Some("http"), Some(host)) = (uri.scheme_str(), uri.host()) else {
        // This small client speaks plain HTTP only (the emulator's loopback mode).
        return Err(TransportFailure::connect());
    };
    let addr = (host, uri.port_u16().unwrap_or(80))
        .to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
        .ok_or_else(TransportFailure::connect)?;
    // Nothing has left yet: a failure here is "not sent", which any call may retry.
    let mut stream = TcpStream::connect_timeout(&addr, timeout)
        .map_err(|e| TransportFailure::connect().with_source(e))?;
    // From here on the request may have reached the server.
    let maybe_sent = |e: std::io::Error| {
        let kind = match e.kind() {
            ErrorKind::WouldBlock | ErrorKind::TimedOut => TransportErrorKind::Timeout,
            _ => TransportErrorKind::ConnectionClosed,
        };
        TransportFailure::new(kind, SentState::MaybeSent).with_source(e)
    };
    stream.set_read_timeout(Some(timeout)).map_err(maybe_sent)?;
    stream
        .set_write_timeout(Some(timeout))
        .map_err(maybe_sent)?;

    let mut head = format!(
        "{} {} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n",
        request.method(),
        uri.path_and_query().map_or("/", |p| p.as_str()),
        uri.authority().map_or(host, |a| a.as_str()),
        request.body().len(),
    )
    .into_bytes();
    for (name, value) in request.headers() {
        head.extend_from_slice(name.as_str().as_bytes());
        head.extend_from_slice(b": ");
        head.extend_from_slice(value.as_bytes());
        head.extend_from_slice(b"\r\n");
    }
    head.extend_from_slice(b"\r\n");
    stream.write_all(&head).map_err(maybe_sent)?;
    stream.write_all(request.body()).map_err(maybe_sent)?;

    let mut raw = Vec::new();
    (&mut stream)
        .take(MAX_RESPONSE + 1)
        .read_to_end(&mut raw)
        .map_err(maybe_sent)?;
    if raw.len() as u64 > MAX_RESPONSE {
        return Err(TransportFailure::new(
            TransportErrorKind::BodyTooLarge,
            SentState::MaybeSent,
        ));
    }
    parse_http11(&raw)
        .ok_or_else(|| TransportFailure::new(TransportErrorKind::Body, SentState::MaybeSent))
}
/// Reads a status line, headers and a body (`Content-Length`, chunked, or up to close).
fn parse_http11(raw: &[u8]) -> Option<http::Response<Bytes>> {
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(raw.get(..split)?).ok()?;
    let body = raw.get(split + 4..)?;
    let mut lines = head.split("\r\n");
    let status: u16 = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let mut response = http::Response::builder().status(status);
    let (mut length, mut chunked) = (None, false);
    for line in lines {
        let (name, value) = line.split_once(':')?;
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = Some(value.parse::<usize>().ok()?);
        }
        if name.eq_ignore_ascii_case("transfer-encoding") && value.eq_ignore_ascii_case("chunked") {
            chunked = true;
        }
        response = response.header(name, value);
    }
    let body = if chunked {
        dechunk(body)?
    } else if let Some(n) = length {
        body.get(..n)?.to_vec()
    } else {
        body.to_vec()
    };
    response.body(Bytes::from(body)).ok()
}

/// Undoes `Transfer-Encoding: chunked`.
fn dechunk(mut rest: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = rest.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(rest.get(..line_end)?).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        rest = rest.get(line_end + 2..)?;
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(rest.get(..size)?);
        rest = rest.get(size + 2..)?;
    }
}

// ---- The offline portal, for the demonstration only. ----

/// Starts b24-emulator over plain HTTP on loopback, on a runtime of its own; returns
/// user 1's webhook URL and what keeps the emulator alive.
fn start_emulator() -> Result<(String, EmulatorGuard), Box<dyn std::error::Error>> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let server = runtime.block_on(
        b24_emulator::Emulator::builder()
            .allow_plain_http_to_loopback(true)
            .build()
            .serve_http(),
    )?;
    let url = server
        .webhook_url(&server.portal(), 1)
        .ok_or("the emulator has no webhook for user 1")?;
    Ok((
        url,
        EmulatorGuard {
            _server: server,
            _runtime: runtime,
        },
    ))
}

/// Keeps the emulator's server and runtime running until dropped.
#[derive(Debug)]
pub struct EmulatorGuard {
    _server: b24_emulator::ServerHandle,
    _runtime: tokio::runtime::Runtime,
}
