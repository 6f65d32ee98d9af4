//! The HTTP server's own limits: a stalled body is cut, idle connections are closed,
//! and the number of open connections is capped.

use std::time::{Duration, Instant};

use b24_emulator::Emulator;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Reads until the server closes the connection; returns what came and how long it took.
async fn read_to_close(stream: &mut TcpStream, within: Duration) -> (Vec<u8>, Duration) {
    let started = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(within, stream.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => break,
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => panic!("the connection stayed open for {within:?}"),
        }
    }
    (got, started.elapsed())
}

#[tokio::test]
async fn a_stalled_body_is_cut_after_the_read_timeout() {
    let emu = Emulator::builder()
        .allow_plain_http_to_loopback(true)
        .body_read_timeout(Duration::from_millis(300))
        .build();
    let server = emu.serve_http().await.unwrap();
    let mut s = TcpStream::connect(server.addr()).await.unwrap();
    s.write_all(
        b"POST /rest/api/1/x/tasks.task.get HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{",
    )
    .await
    .unwrap();
    let (got, took) = read_to_close(&mut s, Duration::from_secs(5)).await;
    assert!(got.is_empty(), "{}", String::from_utf8_lossy(&got));
    assert!(
        took >= Duration::from_millis(250) && took < Duration::from_secs(3),
        "{took:?}"
    );
    // A body declared larger than the limit is refused at once with 413.
    let mut s = TcpStream::connect(server.addr()).await.unwrap();
    s.write_all(
        b"POST /rest/api/1/x/tasks.task.get HTTP/1.1\r\nHost: localhost\r\nContent-Length: 4294967296\r\n\r\n{",
    )
    .await
    .unwrap();
    let (got, took) = read_to_close(&mut s, Duration::from_secs(5)).await;
    assert!(String::from_utf8_lossy(&got).starts_with("HTTP/1.1 413"));
    assert!(took < Duration::from_secs(2), "{took:?}");
}

#[tokio::test]
async fn idle_connections_are_closed() {
    let emu = Emulator::builder()
        .allow_plain_http_to_loopback(true)
        .idle_timeout(Duration::from_millis(300))
        .build();
    let server = emu.serve_http().await.unwrap();
    // HTTP/1.1 keep-alive: one answered request, then silence.
    let mut s = TcpStream::connect(server.addr()).await.unwrap();
    s.write_all(b"GET /rest/server.time HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let (got, took) = read_to_close(&mut s, Duration::from_secs(5)).await;
    assert!(String::from_utf8_lossy(&got).starts_with("HTTP/1.1 "));
    assert!(took < Duration::from_secs(3), "{took:?}");
    // HTTP/2 (prior knowledge): the connection ends after the idle time.
    let tcp = TcpStream::connect(server.addr()).await.unwrap();
    let (mut send, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(tcp),
    )
    .await
    .unwrap();
    let conn = tokio::spawn(conn);
    let req = http::Request::get("http://localhost/rest/server.time")
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .unwrap();
    let resp = send.send_request(req).await.unwrap();
    assert!(resp.status().is_success() || resp.status().is_client_error());
    drop(resp);
    let started = Instant::now();
    let ended = tokio::time::timeout(Duration::from_secs(5), conn).await;
    assert!(ended.is_ok(), "the HTTP/2 connection stayed open");
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn the_connection_cap_holds() {
    let emu = Emulator::builder()
        .allow_plain_http_to_loopback(true)
        .max_connections(2)
        .build();
    let server = emu.serve_http().await.unwrap();
    let _a = TcpStream::connect(server.addr()).await.unwrap();
    let _b = TcpStream::connect(server.addr()).await.unwrap();
    // Give the server time to take both.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut c = TcpStream::connect(server.addr()).await.unwrap();
    let (got, took) = read_to_close(&mut c, Duration::from_secs(3)).await;
    assert!(got.is_empty());
    assert!(took < Duration::from_secs(1), "{took:?}");
    // Once one closes, a new connection is served again.
    drop(_a);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut d = TcpStream::connect(server.addr()).await.unwrap();
    d.write_all(b"GET /rest/server.time HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let (got, _) = read_to_close(&mut d, Duration::from_secs(3)).await;
    assert!(
        String::from_utf8_lossy(&got).starts_with("HTTP/1.1 "),
        "{}",
        String::from_utf8_lossy(&got)
    );
}
