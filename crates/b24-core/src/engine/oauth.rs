//! OAuth token refresh: the request the adapter sends, and reading its answer.
//!
//! # The request
//!
//! `POST {token url}` with `Content-Type: application/x-www-form-urlencoded` and the
//! body `grant_type=refresh_token&client_id=…&client_secret=…&refresh_token=…`. The
//! secrets travel in the body, never in the URL, so that no proxy or server log keeps
//! them. The token URL is, in order of preference:
//!
//! 1. the one set with [`OAuthApp::token_url`], used as given: whoever sets it takes
//!    responsibility for sending the client secret there;
//! 2. the last answer's `server_endpoint` minus its trailing `rest/`, plus
//!    `oauth/token/` (`https://oauth.bitrix.info/rest/` gives
//!    `https://oauth.bitrix.info/oauth/token/`), **only** when it names an OAuth
//!    server ([`token_url_from_server_endpoint`]);
//! 3. [`DEFAULT_TOKEN_URL`].
//!
//! The client secret and the refresh token must go to the OAuth server only, never
//! to the portal. A token URL taken from a stored value is therefore accepted only for
//! `https` on `oauth.bitrix.info`, `oauth.bitrix24.tech` or another host under
//! `bitrix.info`, or for a loopback host ([`is_loopback_host`]: a local test server)
//! over `https`, or over plain `http` when the app allows it
//! ([`OAuthApp::allow_plain_http_to_loopback`]); never with user credentials in the
//! address. Anything else (the portal's own `client_endpoint` stored by mistake, a
//! plain `http` address, an address not ending in `/rest/`) is ignored for
//! [`DEFAULT_TOKEN_URL`].
//!
//! **The request body holds the client secret and the refresh token: never log it.**
//! [`RefreshPlan`]'s `Debug` does not show it.
//!
//! # The answer
//!
//! [`parse_token_answer`] reads the token answer (the refresh answer and the first
//! code-exchange answer, which lacks `expires` and `user_id`; numbers may arrive as
//! strings) or the `{"error","error_description"}` error answer, in which
//! `invalid_grant` means the refresh token is gone and the full authorization flow
//! must be run again ([`RefreshFailure::InvalidGrant`]).

use std::fmt;

use bytes::Bytes;

use b24_types::{ClientSecret, ErrorCode, OAuthErrorBody, RefreshToken, TokenResponse};

use crate::error::{Error, InputError};
use crate::portal::is_loopback_host;

/// The documented token endpoint, used when no better one is known.
pub const DEFAULT_TOKEN_URL: &str = "https://oauth.bitrix.info/oauth/token/";

/// An OAuth application's credentials. `Debug` never shows the secret.
#[derive(Debug, Clone)]
pub struct OAuthApp {
    client_id: String,
    client_secret: ClientSecret,
    token_url: Option<String>,
    allow_insecure_loopback: bool,
}

impl OAuthApp {
    /// An application with its client id and secret.
    pub fn new(client_id: impl Into<String>, client_secret: ClientSecret) -> Self {
        Self {
            client_id: client_id.into(),
            client_secret,
            token_url: None,
            allow_insecure_loopback: false,
        }
    }

    /// Uses this token URL instead of the one derived from `server_endpoint`.
    ///
    /// It is used **as given**, with no check of its host or scheme: the refresh
    /// request carries the client secret and the refresh token, so set only the
    /// address of an OAuth server you trust (or of a local test server).
    pub fn token_url(mut self, url: impl Into<String>) -> Self {
        self.token_url = Some(url.into());
        self
    }

    /// Accepts a `server_endpoint` on a loopback host over plain `http` as the base
    /// of the token URL (a local test server such as the emulator). Off by default:
    /// without it only `https` addresses are derived.
    pub fn allow_plain_http_to_loopback(mut self, allow: bool) -> Self {
        self.allow_insecure_loopback = allow;
        self
    }

    /// The client id.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The token URL to use, given the last answer's `server_endpoint`: the one set
    /// with [`OAuthApp::token_url`], else the one derived from an acceptable
    /// `server_endpoint` ([`token_url_from_server_endpoint`]'s rules, plus plain `http`
    /// to a loopback host with [`OAuthApp::allow_plain_http_to_loopback`]), else
    /// [`DEFAULT_TOKEN_URL`].
    pub fn resolve_token_url(&self, server_endpoint: Option<&str>) -> String {
        if let Some(url) = &self.token_url {
            return url.clone();
        }
        server_endpoint
            .and_then(|e| derive_token_url(e, self.allow_insecure_loopback))
            .unwrap_or_else(|| DEFAULT_TOKEN_URL.to_owned())
    }

    /// Builds the refresh request for `refresh_token`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] when the token URL is not a valid URI.
    pub fn refresh_request(
        &self,
        refresh_token: &RefreshToken,
        server_endpoint: Option<&str>,
    ) -> Result<http::Request<Bytes>, Error> {
        let body = form_urlencode(&[
            ("grant_type", "refresh_token"),
            ("client_id", &self.client_id),
            ("client_secret", self.client_secret.expose_secret()),
            ("refresh_token", refresh_token.expose_secret()),
        ]);
        let url = self.resolve_token_url(server_endpoint);
        let uri: http::Uri = url.parse().map_err(|_| InputError::Portal {
            reason: "the OAuth token URL is not a valid URI".into(),
        })?;
        http::Request::builder()
            .method(http::Method::POST)
            .uri(uri)
            .header(
                http::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .header(http::header::ACCEPT, "application/json")
            .body(Bytes::from(body))
            .map_err(|_| {
                Error::InvalidInput(InputError::Portal {
                    reason: "the OAuth token request could not be built".into(),
                })
            })
    }
}

/// `server_endpoint` (`https://host/rest/`) → `https://host/oauth/token/`, or `None`.
///
/// The refresh request carries the client secret and the refresh token, which must
/// go to the OAuth server only, never to the portal; a stored `server_endpoint` may be
/// wrong (the portal's `client_endpoint` saved in its place). Hence `None`
/// when it is not an `https` URL ending in `/rest/` on an OAuth server's host
/// (`oauth.bitrix.info`, `oauth.bitrix24.tech`, a host under `bitrix.info`) or on a
/// loopback host, or when it holds user credentials. Plain `http` is never accepted
/// here; [`OAuthApp::allow_plain_http_to_loopback`] accepts it for loopback hosts.
pub fn token_url_from_server_endpoint(server_endpoint: &str) -> Option<String> {
    derive_token_url(server_endpoint, false)
}

/// Whether `host` is one of the platform's OAuth servers.
fn is_oauth_server_host(host: &str) -> bool {
    let host = host.to_ascii_lowercase();
    host == "oauth.bitrix.info" || host == "oauth.bitrix24.tech" || host.ends_with(".bitrix.info")
}

fn derive_token_url(server_endpoint: &str, allow_http_loopback: bool) -> Option<String> {
    let uri: http::Uri = server_endpoint.trim().parse().ok()?;
    let authority = uri.authority()?;
    if authority.as_str().contains('@') {
        return None; // user credentials in the address
    }
    let host = authority.host();
    let allowed = match uri.scheme_str()? {
        "https" => is_oauth_server_host(host) || is_loopback_host(host),
        "http" => allow_http_loopback && is_loopback_host(host),
        _ => false,
    };
    if !allowed || uri.query().is_some() {
        return None;
    }
    let scheme = uri.scheme_str()?;
    let path = uri.path();
    let base = path
        .strip_suffix("/rest/")
        .or_else(|| path.strip_suffix("/rest"))?;
    Some(format!("{scheme}://{authority}{base}/oauth/token/"))
}

/// `application/x-www-form-urlencoded` serialisation: unreserved characters
/// (`A-Z a-z 0-9 - . _ *`) as they are, space as `+`, every other byte as `%XX`.
pub(crate) fn form_urlencode(pairs: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        encode_component(k, &mut out);
        out.push('=');
        encode_component(v, &mut out);
    }
    out
}

fn encode_component(s: &str, out: &mut String) {
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                out.push(char::from(b));
            }
            b' ' => out.push('+'),
            _ => {
                out.push('%');
                out.push(hex_digit(b >> 4));
                out.push(hex_digit(b & 0x0f));
            }
        }
    }
}

fn hex_digit(nibble: u8) -> char {
    char::from_digit(u32::from(nibble), 16)
        .unwrap_or('0')
        .to_ascii_uppercase()
}

/// Why a token refresh failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RefreshFailure {
    /// `invalid_grant`: the refresh token is invalid, expired or already used. The
    /// full authorization flow must be run again.
    InvalidGrant,
    /// `invalid_client`: the client id or secret is wrong.
    InvalidClient,
    /// `PAYMENT_REQUIRED`: the application's trial or paid period is over.
    PaymentRequired,
    /// Another error answer from the OAuth server.
    Refused,
    /// The answer was neither a token answer nor an error answer.
    UnexpectedAnswer,
    /// No refresh token is stored, so there is nothing to refresh with.
    NoRefreshToken,
}

/// A failed token refresh, as carried by [`Error::TokenRefresh`]. Holds no secret.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub struct RefreshError {
    /// Why.
    pub failure: RefreshFailure,
    /// The HTTP status of the answer, when there was one.
    pub status: Option<u16>,
    /// The OAuth error code, when the answer had one.
    pub code: Option<ErrorCode>,
    /// The OAuth server's description, when it sent one.
    pub description: Option<String>,
}

impl RefreshError {
    pub(crate) fn new(failure: RefreshFailure, status: Option<u16>) -> Self {
        Self {
            failure,
            status,
            code: None,
            description: None,
        }
    }

    /// Whether the whole authorization flow must be run again.
    pub fn needs_reauthorization(&self) -> bool {
        matches!(
            self.failure,
            RefreshFailure::InvalidGrant | RefreshFailure::NoRefreshToken
        )
    }
}

impl fmt::Display for RefreshError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.failure {
            RefreshFailure::InvalidGrant => f.write_str(
                "the refresh token is invalid or expired; run the full authorization flow again",
            )?,
            RefreshFailure::InvalidClient => f.write_str("the client id or secret is wrong")?,
            RefreshFailure::PaymentRequired => {
                f.write_str("the application's trial or paid period is over")?;
            }
            RefreshFailure::Refused => f.write_str("the OAuth server refused the refresh")?,
            RefreshFailure::UnexpectedAnswer => {
                f.write_str("the OAuth server's answer is not a token answer")?;
            }
            RefreshFailure::NoRefreshToken => {
                f.write_str("no refresh token is stored; run the authorization flow")?;
            }
        }
        if let Some(status) = self.status {
            write!(f, " (HTTP {status}")?;
            if let Some(code) = &self.code {
                write!(f, ", {code}")?;
            }
            f.write_str(")")?;
        }
        if let Some(d) = self.description.as_deref().filter(|d| !d.is_empty()) {
            write!(f, ": {d}")?;
        }
        Ok(())
    }
}

/// Reads the OAuth server's answer to a refresh or code exchange.
///
/// # Errors
///
/// [`Error::TokenRefresh`] for an error answer (`invalid_grant`, ...) or an answer
/// that is not a token answer. The error never contains the body (which, for a
/// malformed success, could hold tokens).
pub fn parse_token_answer(response: &http::Response<Bytes>) -> Result<TokenResponse, Error> {
    let status = response.status().as_u16();
    let unexpected = || {
        Error::TokenRefresh(RefreshError::new(
            RefreshFailure::UnexpectedAnswer,
            Some(status),
        ))
    };
    let value: serde_json::Value =
        serde_json::from_slice(response.body()).map_err(|_| unexpected())?;
    let is_error = value.as_object().is_some_and(|o| o.contains_key("error"));
    if is_error {
        let body: OAuthErrorBody = serde_json::from_value(value).map_err(|_| unexpected())?;
        let failure = match body.error.as_str() {
            "invalid_grant" => RefreshFailure::InvalidGrant,
            "invalid_client" => RefreshFailure::InvalidClient,
            "PAYMENT_REQUIRED" => RefreshFailure::PaymentRequired,
            _ => RefreshFailure::Refused,
        };
        return Err(Error::TokenRefresh(RefreshError {
            failure,
            status: Some(status),
            code: Some(body.error),
            description: body.error_description,
        }));
    }
    if !response.status().is_success() {
        return Err(unexpected());
    }
    serde_json::from_value(value).map_err(|_| unexpected())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_url_derivation() {
        assert_eq!(
            token_url_from_server_endpoint("https://oauth.bitrix.info/rest/").as_deref(),
            Some("https://oauth.bitrix.info/oauth/token/")
        );
        assert_eq!(
            token_url_from_server_endpoint("https://oauth.bitrix24.tech/rest").as_deref(),
            Some("https://oauth.bitrix24.tech/oauth/token/")
        );
        assert_eq!(
            token_url_from_server_endpoint("https://127.0.0.1:8443/rest/").as_deref(),
            Some("https://127.0.0.1:8443/oauth/token/")
        );
        assert_eq!(
            token_url_from_server_endpoint("http://127.0.0.1:8080/rest/"),
            None
        );
        assert_eq!(
            derive_token_url("http://127.0.0.1:8080/rest/", true).as_deref(),
            Some("http://127.0.0.1:8080/oauth/token/")
        );
        assert_eq!(
            token_url_from_server_endpoint("http://example.com/rest/"),
            None
        );
        assert_eq!(
            token_url_from_server_endpoint("https://example.com/api/"),
            None
        );
        assert_eq!(token_url_from_server_endpoint("not a url"), None);
    }

    #[test]
    fn form_encoding() {
        assert_eq!(
            form_urlencode(&[("a b", "c&d=e"), ("x", "ü/+%~")]),
            "a+b=c%26d%3De&x=%C3%BC%2F%2B%25%7E"
        );
    }
}
