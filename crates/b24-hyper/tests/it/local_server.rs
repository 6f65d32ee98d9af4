//! A tiny plain-HTTP server on loopback for transport tests: its behaviour is picked
//! by the request path.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

pub struct LocalServer {
    pub addr: SocketAddr,
    pub accepted: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl LocalServer {
    pub fn connections(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Serves HTTP/1.1 with the path-picked behaviours below.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let counter = accepted.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                counter.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service_fn(handle))
                        .await;
                });
            }
        });
        Self {
            addr,
            accepted,
            task,
        }
    }

    /// Accepts TCP connections and never answers (counts them).
    pub async fn silent() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let counter = accepted.clone();
        let task = tokio::spawn(async move {
            let mut held = Vec::new();
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                counter.fetch_add(1, Ordering::SeqCst);
                held.push(stream);
            }
        });
        Self {
            addr,
            accepted,
            task,
        }
    }
}

type Body = http_body_util::combinators::BoxBody<Bytes, Infallible>;

fn full(s: impl Into<Bytes>) -> Body {
    Full::new(s.into()).boxed()
}

async fn handle(req: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    let path = req.uri().path().to_owned();
    let mut parts = path.trim_start_matches('/').split('/');
    let what = parts.next().unwrap_or("");
    let arg: u64 = parts.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    let response = match what {
        // Echo of what the server saw, as JSON.
        "echo" => {
            let ua = req
                .headers()
                .get("user-agent")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned();
            let host = req
                .headers()
                .get("host")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned();
            let body = req.into_body().collect().await.unwrap().to_bytes();
            let echo = serde_json::json!({
                "userAgent": ua,
                "host": host,
                "bodyLen": body.len(),
            });
            Response::new(full(echo.to_string()))
        }
        "delay" => {
            tokio::time::sleep(Duration::from_millis(arg)).await;
            Response::new(full("{\"result\":true}"))
        }
        // `arg` bytes with a Content-Length.
        "big" => Response::new(full(vec![b'x'; arg as usize])),
        // `arg` bytes in 64 KiB chunks, no Content-Length.
        "big-chunked" => {
            let chunk = Bytes::from(vec![b'y'; 64 * 1024]);
            let n = (arg as usize).div_ceil(chunk.len());
            let frames = (0..n).map(move |_| Ok::<_, Infallible>(Frame::data(chunk.clone())));
            let stream = futures_stream(frames);
            Response::new(StreamBody::new(stream).boxed())
        }
        "redirect" => Response::builder()
            .status(302)
            .header("location", "https://elsewhere.example/")
            .body(full(""))
            .unwrap(),
        _ => Response::builder().status(404).body(full("")).unwrap(),
    };
    Ok(response)
}

/// An iterator as a `Stream` without pulling in a futures crate.
fn futures_stream<I: Iterator + Unpin>(iter: I) -> IterStream<I> {
    IterStream(iter)
}

pub struct IterStream<I>(I);

impl<I: Iterator + Unpin> futures_core::Stream for IterStream<I> {
    type Item = I::Item;
    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<I::Item>> {
        std::task::Poll::Ready(self.0.next())
    }
}
