//! Building the HTTP request of a call.
//!
//! Every call is a `POST` with a JSON body:
//!
//! | portal  | API       | URL                                              |
//! |---------|-----------|--------------------------------------------------|
//! | webhook | REST 3.0  | `https://{host}/rest/api/{user_id}/{secret}/{method}` |
//! | OAuth   | REST 3.0  | `https://{host}/rest/api/{method}`               |
//! | webhook | classic   | `https://{host}/rest/{user_id}/{secret}/{method}`     |
//! | OAuth   | classic   | `https://{host}/rest/{method}`                   |
//!
//! No `.json` suffix is added to classic methods: JSON is the classic API's default
//! format, and REST 3.0 is not documented to accept the suffix, so both APIs get the
//! same bare method name. With OAuth the access token is the body's first key,
//! `"auth"`, for both APIs (the classic API reads `auth` from the body as well as from
//! the query); it never appears in the URL.
//!
//! Headers: `Content-Type: application/json`, `Accept: application/json`,
//! `User-Agent` (default `b24/<version>`), and `Idempotency-Key` when one is given.
//! Idempotency keys exist only in REST 3.0, and there only on the create, modify and
//! delete methods ([`Method::honours_idempotency_key`]); a key for any other method
//! (a classic one, a read, the REST 3.0 `batch`) is refused with an [`InputError`]
//! rather than sent to be ignored, so no caller (or retry policy) believes such a
//! write is protected against duplicates.
//!
//! No header carries a secret (the webhook secret is in the path, the token in the
//! body), so none is marked sensitive; the URI of a webhook request, however, holds
//! the secret and must never be logged.

use std::fmt;
use std::sync::Mutex;

use b24_types::AccessToken;
use bytes::{BufMut, Bytes, BytesMut};
use http::header::{HeaderValue, ACCEPT, CONTENT_TYPE, USER_AGENT};
use http::uri::{PathAndQuery, Uri};

use crate::api::Api;
use crate::error::{Error, InputError};
use crate::idempotency_key::IdempotencyKey;
use crate::method::{Method, Repeat};
use crate::portal::Portal;

/// The default `User-Agent`: `b24/<crate version>`.
pub const DEFAULT_USER_AGENT: &str = concat!("b24/", env!("CARGO_PKG_VERSION"));

/// A `User-Agent` as a header value: non-empty visible ASCII without control
/// characters.
///
/// # Errors
///
/// [`InputError::Param`] (`User-Agent`) for anything else.
pub fn user_agent_value(user_agent: &str) -> Result<HeaderValue, InputError> {
    if user_agent == DEFAULT_USER_AGENT {
        return Ok(HeaderValue::from_static(DEFAULT_USER_AGENT));
    }
    HeaderValue::from_str(user_agent)
        .ok()
        .filter(|_| !user_agent.is_empty())
        .ok_or_else(|| {
            InputError::param(
                "User-Agent",
                "must be non-empty visible ASCII without control characters",
            )
        })
}

/// The longest method name accepted.
const MAX_METHOD_NAME_LEN: usize = 200;

/// Per-request options for [`build_request`]: access token, idempotency key, user agent.
///
/// `Debug` never shows the access token.
#[derive(Clone, Default)]
#[non_exhaustive]
#[must_use]
pub struct RequestOptions {
    access_token: Option<AccessToken>,
    idempotency_key: Option<IdempotencyKey>,
    user_agent: Option<String>,
}

impl RequestOptions {
    /// No token, no idempotency key, the default user agent.
    pub fn new() -> Self {
        Self::default()
    }

    /// The OAuth access token (required for OAuth portals, refused for webhooks).
    pub fn access_token(mut self, token: AccessToken) -> Self {
        self.access_token = Some(token);
        self
    }

    /// An `Idempotency-Key` (REST 3.0 methods only).
    pub fn idempotency_key(mut self, key: IdempotencyKey) -> Self {
        self.idempotency_key = Some(key);
        self
    }

    /// The `User-Agent` header value; checked when the request is built.
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = Some(user_agent.into());
        self
    }

    /// The user agent that will be sent.
    fn agent(&self) -> &str {
        self.user_agent.as_deref().unwrap_or(DEFAULT_USER_AGENT)
    }
}

impl fmt::Debug for RequestOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestOptions")
            .field("access_token", &self.access_token)
            .field("idempotency_key", &self.idempotency_key)
            .field("user_agent", &self.agent())
            .finish()
    }
}

/// Builds the request of one call.
///
/// Equivalent to [`PreparedCall::with_user_agent`] followed by
/// [`PreparedCall::request`]; use a [`PreparedCall`] when the same call may be sent
/// more than once (retries), so the parameters are validated and serialised once.
///
/// # Errors
///
/// [`Error::InvalidInput`] when the method's parameters, its name, the user agent, the
/// token (missing for OAuth, present for a webhook) or the idempotency key (given for
/// a method that does not honour keys) are wrong. Nothing is built then.
pub fn build_request<M: Method>(
    portal: &Portal,
    method: &M,
    options: &RequestOptions,
) -> Result<http::Request<Bytes>, Error> {
    PreparedCall::with_user_agent(portal, method, options.agent())?.request(
        options.access_token.as_ref(),
        options.idempotency_key.as_ref(),
    )
}

/// A call whose parameters are validated and serialised once, ready to give a request
/// per attempt cheaply.
///
/// The URI and the JSON body are built in [`PreparedCall::new`]. For a webhook portal,
/// each [`request`](PreparedCall::request) clones them (reference-counted bytes). For
/// an OAuth portal the body starts with `"auth"`; the body for the last token used is
/// cached, so it is rebuilt only when the token changes (after a refresh).
///
/// `Debug` shows the method, the API and the portal (without secrets), never the URI.
pub struct PreparedCall {
    portal: Portal,
    name: String,
    api: Api,
    repeat: Repeat,
    honours_key: bool,
    uri: Uri,
    /// The serialised body without `auth`.
    body: Bytes,
    user_agent: HeaderValue,
    /// The last OAuth body, keyed by the token it holds.
    oauth_cache: Mutex<Option<(AccessToken, Bytes)>>,
}

impl PreparedCall {
    /// Validates and serialises a call with the default user agent.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for a malformed method name, invalid parameters or an
    /// `auth` key among the parameters.
    pub fn new<M: Method>(portal: &Portal, method: &M) -> Result<Self, Error> {
        Self::with_user_agent(portal, method, DEFAULT_USER_AGENT)
    }

    /// Validates and serialises a call with the given `User-Agent`.
    ///
    /// # Errors
    ///
    /// As [`PreparedCall::new`], plus an invalid user agent (not visible ASCII).
    pub fn with_user_agent<M: Method>(
        portal: &Portal,
        method: &M,
        user_agent: &str,
    ) -> Result<Self, Error> {
        Self::with_user_agent_value(portal, method, user_agent_value(user_agent)?)
    }

    /// As [`with_user_agent`](Self::with_user_agent), with a `User-Agent` already
    /// checked by [`user_agent_value`] (an adapter checks its own once, at build time).
    ///
    /// # Errors
    ///
    /// As [`PreparedCall::new`].
    pub fn with_user_agent_value<M: Method>(
        portal: &Portal,
        method: &M,
        user_agent: HeaderValue,
    ) -> Result<Self, Error> {
        let name = method.name();
        validate_method_name(name)?;
        let api = method.api();
        let body = method.body_json()?;
        let uri = build_uri(portal, api, name)?;
        Ok(Self {
            portal: portal.clone(),
            name: name.to_owned(),
            api,
            repeat: method.repeat(),
            honours_key: api.supports_idempotency_key() && method.honours_idempotency_key(),
            uri,
            body: Bytes::from(body),
            user_agent,
            oauth_cache: Mutex::new(None),
        })
    }

    /// The method name as sent.
    pub fn method_name(&self) -> &str {
        &self.name
    }

    /// The method name as sent, owned by the call (for a one-element slice of names).
    #[allow(clippy::ptr_arg)]
    pub(crate) fn name(&self) -> &String {
        &self.name
    }

    /// The API the method lives in.
    pub fn api(&self) -> Api {
        self.api
    }

    /// Whether repeating the call is harmless.
    pub fn repeat(&self) -> Repeat {
        self.repeat
    }

    /// Whether the portal honours an `Idempotency-Key` on this call
    /// ([`Method::honours_idempotency_key`], and REST 3.0).
    pub fn honours_idempotency_key(&self) -> bool {
        self.honours_key
    }

    /// The portal the call goes to.
    pub fn portal(&self) -> &Portal {
        &self.portal
    }

    /// The serialised parameters (the body without `auth`).
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// The request for one attempt.
    ///
    /// # Errors
    ///
    /// [`InputError::MissingAccessToken`] for an OAuth portal without a token (or with
    /// an empty one); [`InputError::Param`] (`auth`) for a webhook portal given a
    /// token; [`InputError::Param`] (`Idempotency-Key`) for a key on a method that does
    /// not honour keys (a classic method, a read, the REST 3.0 `batch`).
    pub fn request(
        &self,
        access_token: Option<&AccessToken>,
        idempotency_key: Option<&IdempotencyKey>,
    ) -> Result<http::Request<Bytes>, Error> {
        let mut bearer = None;
        let body = match (self.portal.is_oauth(), access_token) {
            // A body that is not a JSON object (a REST 3.0 batch's array) cannot carry
            // `auth`: the token goes in `Authorization: Bearer`, which the server
            // accepts on both APIs.
            (true, Some(token)) if !token.is_empty() && self.body.first() != Some(&b'{') => {
                bearer = Some(bearer_value(token)?);
                self.body.clone()
            }
            (true, Some(token)) if !token.is_empty() => self.oauth_body(token)?,
            (true, _) => return Err(InputError::MissingAccessToken.into()),
            (false, Some(_)) => {
                return Err(InputError::param(
                    "auth",
                    "a webhook portal authenticates by its URL and takes no access token",
                )
                .into())
            }
            (false, None) => self.body.clone(),
        };
        let mut builder = http::Request::builder()
            .method(http::Method::POST)
            .uri(self.uri.clone())
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .header(ACCEPT, HeaderValue::from_static("application/json"))
            .header(USER_AGENT, self.user_agent.clone());
        if let Some(value) = bearer {
            builder = builder.header(http::header::AUTHORIZATION, value);
        }
        if let Some(key) = idempotency_key {
            if !self.honours_key {
                return Err(unhonoured_key(self.api).into());
            }
            let value = key.header_value();
            builder = builder.header("idempotency-key", value.clone());
        }
        builder
            .body(body)
            .map_err(|_| InputError::param("request", "could not be assembled").into())
    }

    /// The body with `"auth"` as its first key, cached per token.
    fn oauth_body(&self, token: &AccessToken) -> Result<Bytes, Error> {
        if let Ok(cache) = self.oauth_cache.lock() {
            if let Some((cached, body)) = cache.as_ref() {
                if cached.ct_eq(token) {
                    return Ok(body.clone());
                }
            }
        }
        let body = splice_auth(&self.body, token)?;
        if let Ok(mut cache) = self.oauth_cache.lock() {
            *cache = Some((token.clone(), body.clone()));
        }
        Ok(body)
    }
}

impl fmt::Debug for PreparedCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PreparedCall")
            .field("method", &self.name)
            .field("api", &self.api)
            .field("repeat", &self.repeat)
            .field("portal", &self.portal)
            .field("body_len", &self.body.len())
            .finish_non_exhaustive()
    }
}

/// The refusal of an `Idempotency-Key` for a method that does not honour one.
pub(crate) fn unhonoured_key(api: Api) -> InputError {
    let reason = if api.supports_idempotency_key() {
        "this method does not honour idempotency keys; only REST 3.0 create, modify \
         and delete methods do (not reads, not batch)"
    } else {
        "classic methods do not honour idempotency keys; only REST 3.0 does"
    };
    InputError::param("Idempotency-Key", reason)
}

/// `Bearer <token>`, marked sensitive so that HTTP stacks never log it.
fn bearer_value(token: &AccessToken) -> Result<HeaderValue, Error> {
    let mut value = HeaderValue::from_str(&format!("Bearer {}", token.expose_secret()))
        .map_err(|_| InputError::param("auth", "the access token is not a valid header value"))?;
    value.set_sensitive(true);
    Ok(value)
}

/// Inserts `"auth":"<token>"` as the first key of a serialised JSON object.
fn splice_auth(object: &[u8], token: &AccessToken) -> Result<Bytes, Error> {
    let token_json = serde_json::to_vec(token.expose_secret())
        .map_err(|_| InputError::param("auth", "the access token could not be encoded"))?;
    let inner = object
        .strip_prefix(b"{")
        .ok_or_else(|| InputError::param("auth", "the body is not a JSON object"))?;
    let mut out = BytesMut::with_capacity(object.len() + token_json.len() + 10);
    out.put_slice(b"{\"auth\":");
    out.put_slice(&token_json);
    if inner != b"}" {
        out.put_u8(b',');
    }
    out.put_slice(inner);
    Ok(out.freeze())
}

/// Checks a method name: 1 to 200 of `[A-Za-z0-9._]`, no empty dotted part (so no
/// `..`, no leading or trailing dot).
///
/// # Errors
///
/// [`InputError::Param`] with field `method`.
pub(crate) fn validate_method_name(name: &str) -> Result<(), InputError> {
    if name.is_empty() {
        return Err(InputError::param("method", "the method name is empty"));
    }
    if name.len() > MAX_METHOD_NAME_LEN {
        return Err(InputError::param(
            "method",
            "the method name is longer than 200 characters",
        ));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_')
    {
        return Err(InputError::param(
            "method",
            "the method name may hold only ASCII letters, digits, '.' and '_'",
        ));
    }
    if name.split('.').any(str::is_empty) {
        return Err(InputError::param(
            "method",
            "the method name has an empty part ('..', or a leading or trailing '.')",
        ));
    }
    Ok(())
}

fn build_uri(portal: &Portal, api: Api, method: &str) -> Result<Uri, Error> {
    let mut path = String::with_capacity(64);
    path.push_str(api.prefix());
    if let (Some(user), Some(secret)) = (portal.user_id(), portal.webhook_secret()) {
        use std::fmt::Write as _;
        let _ = write!(path, "{user}/");
        path.push_str(secret.expose_secret());
        path.push('/');
    }
    path.push_str(method);
    let path = PathAndQuery::from_maybe_shared(path)
        .map_err(|_| InputError::param("method", "does not form a valid URL path"))?;
    Uri::builder()
        .scheme(portal.scheme().clone())
        .authority(portal.authority().clone())
        .path_and_query(path)
        .build()
        .map_err(|_| InputError::param("method", "does not form a valid URL").into())
}
