//! The emulator: portals, request handling and the in-process entry points.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use b24_types::{
    AccessToken, DateTime, Envelope, ErrorCode, RefreshToken, Time, TokenResponse, UserId,
};
use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue, Request, Response, StatusCode};
use serde_json::{Map, Value};

use crate::auth::{AuthFailure, Caller};
use crate::clock::Clock;
use crate::config::{EmulatorBuilder, PortalConfig, V3AuthErrorShape};
use crate::failure::{system, Failure};
use crate::faults::FaultAction;
use crate::idempotency::{IdempotencyKeys, RequestBody, StoredAnswer};
use crate::methods::{self, Ctx};
use crate::portal::{EmulatedPortal, PortalState};
use crate::record::{redact_body, redact_form, Endpoint, RecordedRequest};
use crate::wire::{parse_form, Route};

/// How a request ended, as a socket would see it.
#[derive(Debug)]
#[non_exhaustive]
pub enum WireOutcome {
    /// A complete answer.
    Response(Response<Bytes>),
    /// The connection was closed without an answer (a `close` or
    /// `apply_then_close` fault).
    Closed,
    /// The answer's head went out with the full `Content-Length`, but only the first
    /// half of this body did before the connection closed (a `truncate` fault).
    Truncated(Response<Bytes>),
}

/// Marks a request as having arrived over TLS (set by the server; in-process
/// requests count as HTTPS unless their URI says `http://`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Secure(pub(crate) bool);

/// Where the emulator is reachable, once served.
#[derive(Debug, Clone)]
pub(crate) struct PublicBase {
    pub(crate) scheme: &'static str,
    pub(crate) port: u16,
}

pub(crate) struct EmuInner {
    pub(crate) portals: Vec<EmulatedPortal>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) client_id: String,
    pub(crate) client_secret: String,
    pub(crate) body_limit: usize,
    pub(crate) header_read_timeout: Duration,
    pub(crate) body_read_timeout: Duration,
    pub(crate) idle_timeout: Duration,
    pub(crate) max_connections: usize,
    pub(crate) public: Mutex<Option<PublicBase>>,
}

/// An offline Bitrix24: one or more portals told apart by the `Host` header.
///
/// Clones share the same portals. See the [crate docs](crate) for an overview.
#[derive(Clone)]
pub struct Emulator {
    pub(crate) inner: Arc<EmuInner>,
}

impl fmt::Debug for Emulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Emulator")
            .field("portals", &self.inner.portals)
            .field("client_id", &self.inner.client_id)
            .finish_non_exhaustive()
    }
}

impl Default for Emulator {
    fn default() -> Self {
        Self::new()
    }
}

/// A JSON response with the given status.
/// The OAuth server's error body: `{"error","error_description"}`.
fn oauth_error(status: u16, code: &str, description: &str) -> Response<Bytes> {
    json_response(
        status,
        &serde_json::json!({"error": code, "error_description": description}),
    )
}

pub(crate) fn json_response(status: u16, body: &Value) -> Response<Bytes> {
    bytes_response(
        status,
        Bytes::from(body.to_string()),
        "application/json; charset=utf-8",
    )
}

fn bytes_response(status: u16, body: Bytes, content_type: &str) -> Response<Bytes> {
    let mut resp = Response::new(body);
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if let Ok(v) = HeaderValue::from_str(content_type) {
        resp.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    resp
}

fn failure_response(f: &Failure) -> Response<Bytes> {
    json_response(f.status(), &f.body())
}

const LOOPBACK: &[&str] = &["localhost", "127.0.0.1", "[::1]", "::1", ""];

impl Emulator {
    /// One portal named `localhost`, default settings, the system clock.
    pub fn new() -> Self {
        Self::builder().build()
    }

    /// Starts configuring an emulator.
    pub fn builder() -> EmulatorBuilder {
        EmulatorBuilder::default()
    }

    pub(crate) fn from_builder(b: EmulatorBuilder) -> Self {
        let mut configs = b.portals;
        if configs.is_empty() {
            configs.push(PortalConfig::new("localhost"));
        }
        let portals = configs
            .into_iter()
            .map(|c| {
                let mut c = if b.allow_plain_http {
                    c.allow_plain_http_to_loopback(true)
                } else {
                    c
                };
                if let Some(how) = b.idempotency_keys {
                    c = c.idempotency_keys(how);
                }
                if let Some(seed) = &b.seed {
                    c = c.seed(seed.clone());
                }
                EmulatedPortal::new(c, Arc::clone(&b.clock))
            })
            .collect();
        Self {
            inner: Arc::new(EmuInner {
                portals,
                clock: b.clock,
                client_id: b.client_id,
                client_secret: b.client_secret.unwrap_or_else(|| crate::random::token(48)),
                body_limit: b.body_limit,
                header_read_timeout: b.header_read_timeout,
                body_read_timeout: b.body_read_timeout,
                idle_timeout: b.idle_timeout,
                max_connections: b.max_connections,
                public: Mutex::new(None),
            }),
        }
    }

    /// The default portal (the first configured).
    pub fn default_portal(&self) -> EmulatedPortal {
        self.inner
            .portals
            .first()
            .cloned()
            .unwrap_or_else(|| EmulatedPortal::new(PortalConfig::new("localhost"), self.clock()))
    }

    /// The portal answering to `host`.
    pub fn portal(&self, host: &str) -> Option<EmulatedPortal> {
        let host = host.to_ascii_lowercase();
        self.inner
            .portals
            .iter()
            .find(|p| p.host() == host)
            .cloned()
    }

    /// Every portal, the default first.
    pub fn portals(&self) -> Vec<EmulatedPortal> {
        self.inner.portals.clone()
    }

    /// The clock.
    pub fn clock(&self) -> Arc<dyn Clock> {
        Arc::clone(&self.inner.clock)
    }

    /// The OAuth application's client id.
    pub fn oauth_client_id(&self) -> &str {
        &self.inner.client_id
    }

    /// The OAuth application's client secret.
    pub fn oauth_client_secret(&self) -> &str {
        &self.inner.client_secret
    }

    pub(crate) fn set_public(&self, base: PublicBase) {
        *self
            .inner
            .public
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(base);
        // Event deliveries name the portal's REST base in `auth[client_endpoint]`.
        for portal in &self.inner.portals {
            let endpoint = format!("{}/rest/", self.portal_base_url(portal));
            portal.inner.lock().data.events.client_endpoint = Some(endpoint);
        }
    }

    fn public(&self) -> Option<PublicBase> {
        self.inner
            .public
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The base URL of a portal (`scheme://host[:port]`). The default portal is
    /// addressed as `localhost`, which always resolves.
    pub fn portal_base_url(&self, portal: &EmulatedPortal) -> String {
        let is_default = self
            .inner
            .portals
            .first()
            .is_some_and(|p| Arc::ptr_eq(&p.inner, &portal.inner));
        let host = if is_default {
            "localhost"
        } else {
            portal.host()
        };
        match self.public() {
            Some(b) => format!("{}://{host}:{}", b.scheme, b.port),
            None => format!("https://{}", portal.host()),
        }
    }

    fn portal_for(&self, headers: &HeaderMap, uri: &http::Uri) -> Option<EmulatedPortal> {
        let raw = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(str::to_owned)
            .or_else(|| uri.authority().map(|a| a.as_str().to_owned()))
            .unwrap_or_default();
        let host = strip_port(&raw).to_ascii_lowercase();
        if let Some(p) = self.portal(&host) {
            return Some(p);
        }
        if LOOPBACK.contains(&host.as_str()) || host.starts_with("127.") {
            return self.inner.portals.first().cloned();
        }
        None
    }

    /// Handles one request in-process and returns the answer.
    ///
    /// Faults that act on the connection show up as a `502 Bad Gateway` with an
    /// empty body for `close`/`apply_then_close`, and as the complete answer for
    /// `truncate`; use [`Emulator::exchange`] to tell them apart.
    pub async fn handle(&self, req: Request<Bytes>) -> Response<Bytes> {
        match self.exchange(req).await {
            WireOutcome::Response(r) | WireOutcome::Truncated(r) => r,
            WireOutcome::Closed => bytes_response(502, Bytes::new(), "text/plain"),
        }
    }

    /// Handles one request in-process and says how the connection would have ended.
    pub async fn exchange(&self, req: Request<Bytes>) -> WireOutcome {
        let secure = req
            .extensions()
            .get::<Secure>()
            .map_or(req.uri().scheme_str() != Some("http"), |s| s.0);
        let (parts, body) = req.into_parts();
        let Some(portal) = self.portal_for(&parts.headers, &parts.uri) else {
            return WireOutcome::Response(failure_response(&system::portal_not_found()));
        };
        let route = Route::parse(parts.uri.path());
        let method_name = route.method();
        let now = self.inner.clock.now();
        {
            let mut path = route.redacted_path(parts.uri.path());
            if let Some(q) = parts.uri.query() {
                path.push('?');
                path.push_str(&redact_form(q));
            }
            let api = match &route {
                Route::V3 { method, .. } if method == "batch" => Endpoint::Batch,
                Route::V3 { .. } => Endpoint::V3,
                Route::Classic { .. } => Endpoint::Classic,
                Route::Token => Endpoint::OAuth,
                Route::Unknown => Endpoint::Unknown,
            };
            let headers = parts
                .headers
                .iter()
                .filter(|(n, _)| {
                    !matches!(
                        n.as_str(),
                        "authorization" | "cookie" | "proxy-authorization"
                    )
                })
                .map(|(n, v)| {
                    (
                        n.as_str().to_owned(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect();
            let recorded_body = if body.len() > self.inner.body_limit {
                Bytes::new()
            } else {
                redact_body(&body)
            };
            portal.inner.lock().record(RecordedRequest {
                http_method: parts.method.as_str().to_owned(),
                api,
                method: method_name.clone(),
                path,
                headers,
                body: recorded_body,
                at: now,
            });
        }
        if body.len() > self.inner.body_limit {
            return WireOutcome::Response(failure_response(&system::too_large()));
        }
        if route == Route::Unknown {
            return WireOutcome::Response(failure_response(&system::method_not_found()));
        }
        let fault = portal.inner.lock().faults.take(&method_name);
        let mut after = None;
        let mut slow = None;
        match fault {
            None => {}
            Some(FaultAction::Respond {
                status,
                body,
                content_type,
                headers,
            }) => {
                let mut resp = bytes_response(status, body, &content_type);
                for (n, v) in headers {
                    if let (Ok(n), Ok(v)) = (
                        header::HeaderName::from_bytes(n.as_bytes()),
                        HeaderValue::from_str(&v),
                    ) {
                        resp.headers_mut().insert(n, v);
                    }
                }
                return WireOutcome::Response(resp);
            }
            Some(FaultAction::Close) => return WireOutcome::Closed,
            Some(FaultAction::Delay(d)) => tokio::time::sleep(d).await,
            Some(FaultAction::Slow(d)) => slow = Some(d),
            Some(other) => after = Some(other),
        }
        let resp = match (&route, slow) {
            (Route::Token, slow) => {
                if let Some(d) = slow {
                    tokio::time::sleep(d).await;
                }
                self.token_endpoint(&parts, &body)
            }
            (_, Some(by)) => {
                // Run apart from this request, so that the call goes on to the end
                // when the client stops waiting and the connection closes.
                let emu = self.clone();
                let portal = portal.clone();
                let route = route.clone();
                let http_method = parts.method.clone();
                let headers = parts.headers.clone();
                let query = parts.uri.query().map(str::to_owned);
                let body = body.clone();
                let run = tokio::spawn(async move {
                    let call = Call {
                        route: &route,
                        http_method: &http_method,
                        headers: &headers,
                        query: query.as_deref(),
                        body: &body,
                        secure,
                    };
                    process_slowly(&emu, &portal, &call, by).await
                });
                match run.await {
                    Ok(resp) => resp,
                    Err(_) => return WireOutcome::Closed,
                }
            }
            (_, None) => {
                let call = Call {
                    route: &route,
                    http_method: &parts.method,
                    headers: &parts.headers,
                    query: parts.uri.query(),
                    body: &body,
                    secure,
                };
                process(self, &portal, &call)
            }
        };
        // Events the call fired go out after it, as the platform sends them from a
        // background job after the hit.
        portal.dispatch_events();
        match after {
            Some(FaultAction::Truncate) => WireOutcome::Truncated(resp),
            Some(FaultAction::ApplyThenClose) => WireOutcome::Closed,
            _ => WireOutcome::Response(resp),
        }
    }

    /// A token answer for a grant, with endpoints filled from where we are served.
    /// Takes a grant (a refresh token or an authorization code, one use only) from
    /// whichever portal issued it and answers with a fresh token pair, or with
    /// `invalid_grant` when no portal knows it or it has expired.
    fn redeem(
        &self,
        take: impl Fn(&mut crate::auth::TokenStore) -> Option<crate::auth::Grant>,
        now: f64,
        first: bool,
        invalid: &str,
    ) -> Response<Bytes> {
        for portal in &self.inner.portals {
            let mut state = portal.inner.lock();
            let Some(grant) = take(&mut state.tokens) else {
                continue;
            };
            if grant.expires_at <= now {
                break;
            }
            let (a, r) = state
                .tokens
                .issue(grant.user, now, portal.inner.config.access_ttl);
            drop(state);
            return json_response(200, &self.token_answer(portal, grant.user, a, r, first));
        }
        oauth_error(400, "invalid_grant", invalid)
    }

    fn token_answer(
        &self,
        portal: &EmulatedPortal,
        user: u64,
        access: String,
        refresh: String,
        first: bool,
    ) -> Value {
        let now = self.inner.clock.now().floor() as i64;
        let ttl = portal.inner.config.access_ttl.floor() as i64;
        let mut t = TokenResponse::new(AccessToken::new(access), RefreshToken::new(refresh));
        if !first {
            // A custom clock may say anything; the lifetime is capped at configuration.
            t.expires = Some(now.saturating_add(ttl));
            t.user_id = UserId::new(user).ok();
        }
        t.expires_in = Some(ttl);
        t.client_endpoint = Some(format!("{}/rest/", self.portal_base_url(portal)));
        let server_base = match self.public() {
            Some(b) => format!("{}://localhost:{}", b.scheme, b.port),
            None => "https://localhost".to_owned(),
        };
        t.server_endpoint = Some(format!("{server_base}/rest/"));
        t.domain = Some("localhost".to_owned());
        t.member_id = Some(portal.member_id().to_owned());
        t.scope = Some("tasks,task,im".to_owned());
        t.status = Some("L".to_owned());
        serde_json::to_value(t).unwrap_or(Value::Null)
    }

    /// `/oauth/token/`: `refresh_token` and `authorization_code` grants, parameters in
    /// the query (GET) or a form body (POST).
    fn token_endpoint(&self, parts: &http::request::Parts, body: &Bytes) -> Response<Bytes> {
        let mut params = Map::new();
        if let Some(q) = parts.uri.query() {
            parse_form(q, &mut params);
        }
        if let Ok(text) = std::str::from_utf8(body) {
            parse_form(text.trim(), &mut params);
        }
        let get = |k: &str| {
            params
                .get(k)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .unwrap_or_default()
        };
        let grant_type = get("grant_type");
        if grant_type.is_empty() {
            return oauth_error(400, "invalid_request", "grant_type is required");
        }
        if get("client_id") != self.inner.client_id
            || !ct_eq(
                get("client_secret").as_bytes(),
                self.inner.client_secret.as_bytes(),
            )
        {
            return oauth_error(401, "invalid_client", "Invalid client credentials");
        }
        let now = self.inner.clock.now();
        match grant_type.as_str() {
            "refresh_token" => self.redeem(
                |tokens| tokens.refresh.remove(&get("refresh_token")),
                now,
                false,
                "The refresh token is invalid or expired",
            ),
            "authorization_code" => self.redeem(
                |tokens| tokens.codes.remove(&get("code")),
                now,
                true,
                "The authorization code is invalid or expired",
            ),
            _ => oauth_error(400, "invalid_request", "Unsupported grant_type"),
        }
    }
}

fn strip_port(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        // [::1]:443
        return rest
            .split(']')
            .next()
            .map_or(host, |h| if h == "::1" { "[::1]" } else { h });
    }
    match host.rsplit_once(':') {
        Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h,
        _ => host,
    }
}

fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// One API call's inputs.
pub(crate) struct Call<'a> {
    pub(crate) route: &'a Route,
    pub(crate) http_method: &'a http::Method,
    pub(crate) headers: &'a HeaderMap,
    pub(crate) query: Option<&'a str>,
    pub(crate) body: &'a Bytes,
    pub(crate) secure: bool,
}

fn is_v3(route: &Route) -> bool {
    matches!(route, Route::V3 { .. })
}

/// Runs a call against a portal: transport checks, limits, auth, idempotency, the
/// method, the envelope, all under one lock of the portal.
fn process(emu: &Emulator, portal: &EmulatedPortal, call: &Call<'_>) -> Response<Bytes> {
    let cfg = &portal.inner.config;
    let now = emu.inner.clock.now();
    let mut state = portal.inner.lock();
    match admit(&mut state, cfg, call, now) {
        Admission::Answered(resp) => resp,
        Admission::Accepted(accepted) => run_accepted(&mut state, cfg, &accepted, now),
    }
}

/// Runs a call the way a portal that is slow to run it would (a `slow` fault): it is
/// admitted at once, then the method runs `by` later. The portal is not locked in
/// between, so other calls, a repeat with the same `Idempotency-Key` included, are
/// handled meanwhile: the key's answer is stored only when the method has run.
async fn process_slowly(
    emu: &Emulator,
    portal: &EmulatedPortal,
    call: &Call<'_>,
    by: Duration,
) -> Response<Bytes> {
    let cfg = &portal.inner.config;
    let admission = {
        let now = emu.inner.clock.now();
        let mut state = portal.inner.lock();
        admit(&mut state, cfg, call, now)
    };
    let accepted = match admission {
        Admission::Answered(resp) => return resp,
        Admission::Accepted(accepted) => accepted,
    };
    tokio::time::sleep(by).await;
    let now = emu.inner.clock.now();
    let resp = {
        let mut state = portal.inner.lock();
        run_accepted(&mut state, cfg, &accepted, now)
    };
    // The client may have hung up meanwhile: send the events this call fired anyway.
    portal.dispatch_events();
    resp
}

/// What admitting a call decided.
enum Admission<'a> {
    /// Answered without running the method: a refusal, or a stored idempotent answer.
    Answered(Response<Bytes>),
    /// The method is to run.
    Accepted(Accepted<'a>),
}

/// A call that passed the transport checks, the request limit, auth and the
/// `Idempotency-Key` lookup.
struct Accepted<'a> {
    method: &'a str,
    v3: bool,
    caller: Caller,
    params: Value,
    /// The key and the request it guards, when a keyed write found no stored answer.
    idem_key: Option<(String, RequestBody)>,
}

/// Transport checks, the request limit, auth and the `Idempotency-Key` lookup.
fn admit<'a>(
    state: &mut PortalState,
    cfg: &PortalConfig,
    call: &Call<'a>,
    now: f64,
) -> Admission<'a> {
    let (webhook, method) = match call.route {
        Route::V3 { webhook, method } | Route::Classic { webhook, method } => (webhook, method),
        _ => return Admission::Answered(failure_response(&system::method_not_found())),
    };
    let v3 = is_v3(call.route);

    if cfg.require_https && !call.secure {
        return Admission::Answered(failure_response(&system::https_required()));
    }
    if state.overloaded {
        return Admission::Answered(failure_response(&system::overload()));
    }
    if !state.bucket.admit(now) {
        state.rate_limited = state.rate_limited.saturating_add(1);
        return Admission::Answered(failure_response(&system::query_limit()));
    }

    let params = if v3 {
        match v3_body(call, method == "batch") {
            Ok(p) => p,
            Err(f) => return Admission::Answered(failure_response(&f)),
        }
    } else {
        classic_params(call)
    };

    let caller = match authenticate(state, webhook.as_ref(), &params, call.headers, now) {
        Ok(c) => c,
        Err(e) => {
            return Admission::Answered(failure_response(&auth_failure(
                e,
                v3,
                webhook.is_some(),
                cfg,
            )))
        }
    };

    // Idempotency-Key (REST 3.0 writes only).
    let mut idem_key: Option<(String, RequestBody)> = None;
    if v3
        && cfg.idempotency_keys == IdempotencyKeys::Honoured
        && methods::V3_WRITES.contains(&method.as_str())
    {
        if let Some(raw) = call.headers.get("idempotency-key") {
            let key = raw
                .to_str()
                .ok()
                .map(str::to_owned)
                .filter(|k| valid_key(k));
            let Some(key) = key else {
                return Admission::Answered(failure_response(&Failure::v3(
                    400,
                    ErrorCode::V3InvalidIdempotencyKey,
                    "Invalid idempotency key: 1 to 255 printable ASCII characters are expected",
                )));
            };
            let scope = (
                caller.credential.clone(),
                caller.user,
                method.clone(),
                key.clone(),
            );
            let request = RequestBody::new(cfg.idempotency_match, &params, call.body);
            if let Some(stored) = state.idempotency.get(&scope, now, cfg.idempotency_ttl) {
                let mut resp = if stored.request == request {
                    let mut r = bytes_response(
                        stored.status,
                        stored.body.clone(),
                        "application/json; charset=utf-8",
                    );
                    r.headers_mut()
                        .insert("idempotent-replayed", HeaderValue::from_static("true"));
                    r
                } else {
                    failure_response(&Failure::v3(
                        422,
                        ErrorCode::V3IdempotencyKeyReused,
                        "The idempotency key was already used with a different request",
                    ))
                };
                if let Ok(v) = HeaderValue::from_str(&key) {
                    resp.headers_mut().insert("idempotency-key", v);
                }
                return Admission::Answered(resp);
            }
            idem_key = Some((key, request));
        }
    }
    Admission::Accepted(Accepted {
        method,
        v3,
        caller,
        params,
        idem_key,
    })
}

/// Runs an admitted call's method, stores a keyed write's answer, wraps the envelope.
fn run_accepted(
    state: &mut PortalState,
    cfg: &PortalConfig,
    accepted: &Accepted<'_>,
    now: f64,
) -> Response<Bytes> {
    let Accepted {
        method,
        v3,
        caller,
        params,
        idem_key,
    } = accepted;
    let (method, v3) = (*method, *v3);
    let outcome = if v3 && method == "batch" {
        match crate::batch::run(state, cfg, caller, params, now) {
            Ok((result, time)) => Ok(envelope(result, time)),
            // No `Idempotency-Key` is honoured on `batch`: nothing to store or echo.
            Err(failure) => return failure.response(),
        }
    } else if !v3 && method == "batch" {
        Ok(crate::classic_batch::run(state, cfg, caller, params, now))
    } else {
        let exists = if v3 {
            methods::V3_METHODS.contains(&method)
        } else {
            methods::CLASSIC_METHODS.contains(&method)
        };
        if !exists {
            let f = if v3 {
                Failure::v3(
                    404,
                    ErrorCode::V3MethodNotFound,
                    format!("Method `{method}` not found"),
                )
            } else {
                system::method_not_found()
            };
            return failure_response(&f);
        }
        metered_call(state, cfg, caller, method, v3, params, now)
            .map(|(result, time)| envelope(result, time))
    };

    let resp = match outcome {
        Ok(body) => {
            let resp = json_response(200, &body);
            if let Some((key, request)) = idem_key {
                state.idempotency.insert(
                    (
                        caller.credential.clone(),
                        caller.user,
                        method.to_owned(),
                        key.clone(),
                    ),
                    StoredAnswer {
                        request: request.clone(),
                        status: 200,
                        body: resp.body().clone(),
                        stored_at: now,
                    },
                );
            }
            resp
        }
        Err(f) => failure_response(&f),
    };
    let mut resp = resp;
    if let Some((key, _)) = idem_key {
        if let Ok(v) = HeaderValue::from_str(key) {
            resp.headers_mut().insert("idempotency-key", v);
        }
    }
    resp
}

fn valid_key(k: &str) -> bool {
    (1..=255).contains(&k.len()) && k.bytes().all(|b| (0x20..=0x7e).contains(&b))
}

/// Checks the operating budget, runs a method, charges its cost, wraps the result
/// in the envelope. Used for plain calls and for each command of a classic batch.
pub(crate) fn metered_call(
    state: &mut PortalState,
    cfg: &PortalConfig,
    caller: &Caller,
    method: &str,
    v3: bool,
    params: &Value,
    now: f64,
) -> Result<(Value, Time), Failure> {
    let budget = state.operating.budget(&caller.credential, method);
    // Blocked only once the total is strictly above the limit
    // (`rest/lib/engine/access/loadlimiter.php`).
    if budget.total(now) > cfg.operating_limit {
        return Err(if v3 {
            Failure::v3(
                429,
                ErrorCode::V3RateLimit,
                "Method is blocked due to operation time limit.",
            )
        } else {
            system::operation_time_limit()
        });
    }
    let empty = Map::new();
    let map = params.as_object().unwrap_or(&empty);
    let mut ctx = Ctx {
        data: &mut state.data,
        user: caller.user,
        now,
        offset: cfg.utc_offset,
        app: caller.credential == "app",
        drop_unknown_select: cfg.unknown_select == crate::config::UnknownSelectField::Dropped,
    };
    let result = if v3 {
        methods::run_v3(method, &mut ctx, map)
    } else {
        methods::run_classic(method, &mut ctx, map)
    };
    let Some(result) = result else {
        return Err(if v3 {
            Failure::v3(
                404,
                ErrorCode::V3MethodNotFound,
                format!("Method `{method}` not found"),
            )
        } else {
            system::method_not_found()
        });
    };
    let cost = cfg.cost_of(method);
    let budget = state.operating.budget(&caller.credential, method);
    budget.record(now, cost);
    let operating = budget.total(now);
    let reset_at = budget.reset_at(now);
    let value = result?;
    let mut time = time_object(now, cost, cfg.utc_offset);
    time.operating = Some(operating);
    time.operating_reset_at = reset_at;
    Ok((value, time))
}

fn envelope(result: Value, time: Time) -> Value {
    let mut body = serde_json::to_value(Envelope::new(result, Some(time))).unwrap_or(Value::Null);
    // The documentation shows `operating_reset_at` as an integer unix timestamp.
    if let Some(reset) = body
        .get_mut("time")
        .and_then(|t| t.get_mut("operating_reset_at"))
    {
        if let Some(secs) = reset.as_f64() {
            *reset = Value::from(secs.floor() as i64);
        }
    }
    body
}

/// The `time` object of a call that started at `start` and ran `processing` seconds.
pub(crate) fn time_object(start: f64, processing: f64, offset: i32) -> Time {
    let finish = start + processing;
    let mut t = Time::new();
    t.start = Some(start);
    t.finish = Some(finish);
    t.duration = Some(finish - start);
    t.processing = Some(processing);
    t.date_start = Some(
        DateTime::from_unix(start.floor() as i64, offset)
            .as_str()
            .to_owned(),
    );
    t.date_finish = Some(
        DateTime::from_unix(finish.floor() as i64, offset)
            .as_str()
            .to_owned(),
    );
    t
}

/// The JSON body of a REST 3.0 call. Query parameters are ignored; form bodies and
/// invalid JSON are rejected with INVALIDJSONEXCEPTION.
fn v3_body(call: &Call<'_>, batch: bool) -> Result<Value, Failure> {
    let invalid = || {
        Failure::v3(
            400,
            ErrorCode::V3InvalidJson,
            "Request body must be valid JSON sent as application/json",
        )
    };
    let content_type = call
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if content_type.contains("x-www-form-urlencoded") || content_type.contains("multipart/") {
        return Err(invalid());
    }
    let text = std::str::from_utf8(call.body).map_err(|_| invalid())?;
    if text.trim().is_empty() {
        return Ok(if batch {
            Value::Array(Vec::new())
        } else {
            Value::Object(Map::new())
        });
    }
    let value: Value = serde_json::from_str(text).map_err(|_| invalid())?;
    match value {
        Value::Object(_) => Ok(value),
        Value::Array(a) if batch => Ok(Value::Array(a)),
        Value::Array(a) if a.is_empty() => Ok(Value::Object(Map::new())),
        _ => Err(invalid()),
    }
}

/// Classic parameters: the query string, then a form or JSON body.
fn classic_params(call: &Call<'_>) -> Value {
    let mut params = Map::new();
    if let Some(q) = call.query {
        parse_form(q, &mut params);
    }
    if call.http_method != http::Method::GET {
        if let Ok(Value::Object(m)) = serde_json::from_slice::<Value>(call.body) {
            params.extend(m);
        } else if let Ok(text) = std::str::from_utf8(call.body) {
            parse_form(text.trim(), &mut params);
        }
    }
    Value::Object(params)
}

fn authenticate(
    state: &PortalState,
    webhook: Option<&(String, String)>,
    params: &Value,
    headers: &HeaderMap,
    now: f64,
) -> Result<Caller, AuthFailure> {
    if let Some((user, secret)) = webhook {
        let user: u64 = user.parse().map_err(|_| AuthFailure::Wrong)?;
        let rec = state.data.users.get(&user).ok_or(AuthFailure::Wrong)?;
        if !ct_eq(rec.webhook_secret.as_bytes(), secret.as_bytes()) {
            return Err(AuthFailure::Wrong);
        }
        return Ok(Caller {
            user,
            credential: format!("webhook:{user}"),
        });
    }
    // `auth` in the body or query, else `Authorization: Bearer <token>`
    // (`rest/lib/oauth/auth.php`), which a REST 3.0 batch's array body needs.
    let token = params
        .get("auth")
        .and_then(Value::as_str)
        .or_else(|| bearer(headers))
        .ok_or(AuthFailure::Wrong)?;
    let grant = state.tokens.access.get(token).ok_or(AuthFailure::Wrong)?;
    if grant.expires_at <= now {
        return Err(AuthFailure::Expired);
    }
    Ok(Caller {
        user: grant.user,
        credential: "app".to_owned(),
    })
}

/// The token of an `Authorization: Bearer <token>` header.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

fn auth_failure(e: AuthFailure, v3: bool, webhook: bool, cfg: &PortalConfig) -> Failure {
    let classic = match e {
        AuthFailure::Wrong => system::no_auth(),
        AuthFailure::Expired => system::expired_token(),
    };
    if !v3 || (!webhook && cfg.v3_auth_shape == V3AuthErrorShape::Classic) {
        return classic;
    }
    // Every auth failure on `/rest/api/` is one `AccessDeniedException` with a
    // generic message (`rest/classes/general/RestApiServer.php`, getRequestAccess).
    Failure::v3(
        401,
        ErrorCode::V3AccessDenied,
        crate::failure::msg::ACCESS_DENIED,
    )
}
