//! One attempt: send the request through the pool, read the body under a cap, all
//! under the attempt timeout and the call's deadline.

use std::error::Error as StdError;
use std::time::Duration;

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, USER_AGENT};
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper_util::client::legacy::connect::capture_connection;
use tokio::time::Instant;

use crate::client::Inner;
use crate::connect::check_scheme;
use crate::error::{find_in_chain, ConnectFailure, SentState, TimeoutStage, TransportError};

/// Sends one attempt. `left` is the time left to the call's deadline, if it has one
/// (the engine's deadline, read on the engine's clock just before the attempt).
pub(crate) async fn send_attempt(
    inner: &Inner,
    request: http::Request<Bytes>,
    left: Option<Duration>,
) -> Result<http::Response<Bytes>, TransportError> {
    let settings = &inner.settings;
    // Refused before any connection is looked up or opened.
    check_scheme(request.uri(), settings.allow_plain_loopback).map_err(|e| match e {
        ConnectFailure::NoHost => TransportError::InvalidAddress { reason: "no host" },
        _ => TransportError::InsecureScheme,
    })?;
    let started = Instant::now();
    let (limit, stage) = match left {
        Some(left) if left <= settings.attempt_timeout => (left, TimeoutStage::Deadline),
        _ => (settings.attempt_timeout, TimeoutStage::Attempt),
    };
    let end = instant_after(started, limit);
    if limit.is_zero() {
        return Err(TransportError::Timeout {
            stage,
            elapsed: Duration::ZERO,
            sent: SentState::NotSent,
        });
    }

    let (mut parts, body) = request.into_parts();
    if !parts.headers.contains_key(USER_AGENT) {
        parts
            .headers
            .insert(USER_AGENT, settings.user_agent.clone());
    }
    let mut request = http::Request::from_parts(parts, Full::new(body));
    // Set by the pool once it hands the request a connection: until then nothing of
    // the request can have been written.
    let connection = capture_connection(&mut request);
    let max_body = settings.max_body;

    let exchange = async {
        let response = inner.pool.request(request).await.map_err(classify)?;
        let (parts, body) = response.into_parts();
        let declared = parts
            .headers
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > max_body as u64) {
            return Err(TransportError::BodyTooLarge { limit: max_body });
        }
        let collected = Limited::new(body, max_body).collect().await.map_err(|e| {
            if e.downcast_ref::<LengthLimitError>().is_some() {
                TransportError::BodyTooLarge { limit: max_body }
            } else {
                TransportError::Body { source: e }
            }
        })?;
        Ok(http::Response::from_parts(parts, collected.to_bytes()))
    };
    match tokio::time::timeout_at(end, exchange).await {
        Ok(result) => result,
        Err(_) => Err(TransportError::Timeout {
            stage,
            elapsed: started.elapsed(),
            // Timed out while the connection was still being opened (a slow TCP or
            // TLS handshake within the connect timeout): the request never left.
            sent: if connection.connection_metadata().is_some() {
                SentState::MaybeSent
            } else {
                SentState::NotSent
            },
        }),
    }
}

/// `start + d`, or as far ahead as the clock allows when that overflows (the limits
/// are cut to [`MAX_TIMEOUT`](crate::MAX_TIMEOUT), so only as a last guard).
pub(crate) fn instant_after(start: Instant, d: Duration) -> Instant {
    start
        .checked_add(d)
        .or_else(|| start.checked_add(crate::MAX_TIMEOUT))
        .unwrap_or(start)
}

/// Sorts a pool error into the public error, keeping it as the source.
fn classify(err: hyper_util::client::legacy::Error) -> TransportError {
    let as_dyn: &(dyn StdError + 'static) = &err;
    if let Some(kind) = find_in_chain::<ConnectFailure>(as_dyn).map(ConnectFailure::kind) {
        return kind.into_transport(Box::new(err));
    }
    if err.is_connect() {
        return TransportError::Connect {
            source: Box::new(err),
        };
    }
    // hyper hands a request back as canceled only when it never started writing it.
    let canceled = find_in_chain::<hyper::Error>(as_dyn).is_some_and(hyper::Error::is_canceled);
    let sent = if canceled {
        SentState::NotSent
    } else {
        SentState::MaybeSent
    };
    TransportError::Http {
        sent,
        source: Box::new(err),
    }
}
