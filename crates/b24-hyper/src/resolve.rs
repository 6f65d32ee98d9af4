//! Name resolution with per-host overrides.
//!
//! [`ClientBuilder::resolve`](crate::ClientBuilder::resolve) pins a host name to a
//! socket address (tests send `p1.localhost` to `127.0.0.1`); every other name goes to
//! the system resolver through hyper-util's `GaiResolver`.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use hyper_util::client::legacy::connect::dns::{GaiResolver, Name};
use tower_service::Service;

use crate::error::BoxError;

/// A resolver that answers pinned names itself and asks the system for the rest.
#[derive(Clone)]
pub(crate) struct OverrideResolver {
    pinned: Arc<HashMap<String, Vec<SocketAddr>>>,
    system: GaiResolver,
}

impl OverrideResolver {
    /// Makes a resolver with the given pins (host names in lower case).
    pub(crate) fn new(pinned: HashMap<String, Vec<SocketAddr>>) -> Self {
        Self {
            pinned: Arc::new(pinned),
            system: GaiResolver::new(),
        }
    }
}

/// The addresses of one lookup.
#[derive(Debug)]
pub(crate) struct Addrs(std::vec::IntoIter<SocketAddr>);

impl Iterator for Addrs {
    type Item = SocketAddr;
    fn next(&mut self) -> Option<SocketAddr> {
        self.0.next()
    }
}

impl Service<Name> for OverrideResolver {
    type Response = Addrs;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Addrs, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.system.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let host = name.as_str().to_ascii_lowercase();
        if let Some(addrs) = self.pinned.get(host.trim_end_matches('.')) {
            let addrs = addrs.clone();
            return Box::pin(async move { Ok(Addrs(addrs.into_iter())) });
        }
        let lookup = self.system.call(name);
        Box::pin(async move {
            let found: Vec<SocketAddr> = lookup.await?.collect();
            Ok(Addrs(found.into_iter()))
        })
    }
}
