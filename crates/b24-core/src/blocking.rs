//! A blocking driver for custom transports: the loop every adapter writes, done once.
//!
//! A transport supplies one thing, [`Transport::send`]: send this request and return
//! the whole response, or a [`TransportFailure`] saying whether the request may have
//! left ([`SentState`]). The [`Driver`] does the rest: it asks the call engine
//! ([`Exchange`]) what to do, sends, sleeps until the engine's waits end, runs the
//! store operations a shared store asks for, and returns the call's outcome. Rate
//! limits, retries, idempotency keys, operating-time budgets and token refresh all
//! happen inside the engine, identically to the hyper adapter.
//!
//! Time is the caller's too: the driver asks a [`Clock`] for "now" and to wait, so
//! that the core itself never reads a clock or sleeps (a test hands it a simulated
//! clock; a program, the wall clock and `std::thread::sleep`, as below).
//!
//! # The sent-state rule
//!
//! What makes a transport safe is telling "not sent" from "maybe sent" honestly:
//!
//! - [`SentState::NotSent`] only when no byte of the request can have reached the
//!   server: name resolution, connecting, the TLS handshake failed, or the time was
//!   up before connecting. Any call may be repeated after it.
//! - [`SentState::MaybeSent`] for everything after the connection was up: a failure
//!   while writing, while waiting for the answer or while reading it, and a timeout
//!   after connecting. A write is repeated after it only when a key protects it.
//!
//! When in doubt, say `MaybeSent`: it can cost a retry, never a duplicate write.
//!
//! ```
//! use std::time::Duration;
//! use b24_core::blocking::{Clock, Driver, Transport};
//! use b24_core::bytes::Bytes;
//! use b24_core::engine::{SentState, Timestamp, TransportErrorKind, TransportFailure};
//! use b24_core::methods::TaskResultAddFromChatMessage;
//! use b24_core::types::MessageId;
//! use b24_core::{http, Portal};
//!
//! /// A transport that cannot reach anything: every call fails before sending.
//! struct Offline;
//!
//! impl Transport for Offline {
//!     fn send(
//!         &mut self,
//!         _request: &http::Request<Bytes>,
//!         _time_left: Option<Duration>,
//!     ) -> Result<http::Response<Bytes>, TransportFailure> {
//!         Err(TransportFailure::new(TransportErrorKind::Connect, SentState::NotSent))
//!     }
//! }
//!
//! /// The wall clock; waits block the thread.
//! struct WallClock;
//!
//! impl Clock for WallClock {
//!     fn now(&self) -> Timestamp {
//!         Timestamp::from_system_time(std::time::SystemTime::now())
//!     }
//!     fn sleep(&self, d: Duration) {
//!         std::thread::sleep(d);
//!     }
//! }
//!
//! let portal = Portal::webhook("https://example.bitrix24.com/rest/1/webhookcode/").unwrap();
//! let mut driver = Driver::new(Offline, WallClock).policy(
//!     b24_core::engine::RetryPolicy::default()
//!         .backoff(Duration::from_millis(1), Duration::from_millis(1)),
//! );
//! let call = TaskResultAddFromChatMessage::new(MessageId::new(335).unwrap());
//! let err = driver.call(&portal, call).unwrap_err();
//! assert!(matches!(err, b24_core::Error::RetriesExhausted { attempts: 4, .. }));
//! ```

use std::time::Duration;

use bytes::Bytes;

#[cfg(doc)]
use crate::engine::SentState;
use crate::engine::{
    wait_duration, Action, Exchange, ExchangeOptions, RetryPolicy, Timestamp, TransportFailure,
};
use crate::registry::{CredentialId, Registry};
use crate::{Error, Method, Portal, Reply};

/// Sends one request and reads its whole response.
pub trait Transport {
    /// Sends `request` and returns the whole response (any status), or why it failed
    /// and whether the request may have left (see [the sent-state
    /// rule](self#the-sent-state-rule)). `time_left` is how long the call may still
    /// take (`None`: no deadline); stop waiting by then. Follow no redirects, and
    /// keep the request's URI out of any error: a webhook URL holds its secret in
    /// the path.
    ///
    /// # Errors
    ///
    /// A [`TransportFailure`] with its kind and sent state.
    fn send(
        &mut self,
        request: &http::Request<Bytes>,
        time_left: Option<Duration>,
    ) -> Result<http::Response<Bytes>, TransportFailure>;
}

impl<F> Transport for F
where
    F: FnMut(
        &http::Request<Bytes>,
        Option<Duration>,
    ) -> Result<http::Response<Bytes>, TransportFailure>,
{
    fn send(
        &mut self,
        request: &http::Request<Bytes>,
        time_left: Option<Duration>,
    ) -> Result<http::Response<Bytes>, TransportFailure> {
        self(request, time_left)
    }
}

/// The time source of a [`Driver`].
pub trait Clock {
    /// Now.
    fn now(&self) -> Timestamp;
    /// Blocks the thread for `d`.
    fn sleep(&self, d: Duration);
}

/// Runs calls to completion over a blocking [`Transport`].
///
/// It keeps the portals' shared state (rate bucket per host, operating budgets per
/// webhook or app, tokens) in a [`Registry`], seeded from the operating system's
/// randomness; one driver serves any number of portals.
#[derive(Debug)]
pub struct Driver<T, C> {
    transport: T,
    clock: C,
    registry: Registry,
    options: ExchangeOptions,
}

impl<T: Transport, C: Clock> Driver<T, C> {
    /// A driver over `transport`, telling time by `clock`, with a registry of its own
    /// seeded from the operating system's randomness.
    pub fn new(transport: T, clock: C) -> Self {
        Self {
            transport,
            clock,
            registry: Registry::new(crate::engine::os_random_seed()),
            options: ExchangeOptions::default(),
        }
    }

    /// Uses `registry` for the portals' state (to share it with other drivers, set its
    /// bucket or budgets, or install a store backend).
    #[must_use]
    pub fn registry(mut self, registry: Registry) -> Self {
        self.registry = registry;
        self
    }

    /// The retry policy of every call (default: [`RetryPolicy::default`]).
    #[must_use]
    pub fn policy(mut self, policy: RetryPolicy) -> Self {
        self.options = self.options.policy(policy);
        self
    }

    /// The transport.
    pub fn transport(&mut self) -> &mut T {
        &mut self.transport
    }

    /// Runs `method` on `portal` to its outcome.
    ///
    /// # Errors
    ///
    /// Whatever the call ends with ([`Error`]): bad input before anything is sent, the
    /// portal's refusal, a transport failure the policy does not repeat, and so on.
    pub fn call<M: Method>(
        &mut self,
        portal: &Portal,
        method: M,
    ) -> Result<Reply<M::Output>, Error> {
        let now = self.clock.now();
        let lease = self
            .registry
            .lease(portal, &CredentialId::of(portal, None), now);
        let mut exchange =
            Exchange::with_options(portal, method, lease.state(), self.options.clone())?;
        loop {
            let now = self.clock.now();
            match exchange.poll(now) {
                Action::Send(outgoing) => {
                    let sent = self
                        .transport
                        .send(outgoing.request(), outgoing.time_left(now));
                    let now = self.clock.now();
                    match sent {
                        Ok(response) => exchange.handle_response(response, now),
                        Err(failure) => exchange.handle_transport_error(failure, now),
                    }
                }
                Action::Wait { until, .. } => self.clock.sleep(wait_duration(now, until)),
                Action::Store(task) => {
                    let outcome = task.wait();
                    exchange.handle_store(outcome, self.clock.now());
                }
                Action::Done(result) => return result,
            }
        }
    }
}
