//! [`Portal`]: where calls go and how they authenticate.
//!
//! A portal is a base address (scheme, host, optional port) plus one of two ways to
//! authenticate:
//!
//! - an **incoming webhook**: the user id and secret sit in the URL path
//!   (`https://example.bitrix24.com/rest/1/abc123def456ghi7/`), parsed from the URL
//!   the portal shows when the webhook is created;
//! - **OAuth**: the access token travels as `"auth"` in the JSON body of every call,
//!   never in the URL. The token itself is not part of the portal: it rotates, so it
//!   is handed to each request (see [`PreparedCall::request`](crate::PreparedCall::request)).
//!
//! HTTPS is required. Plain `http` is accepted only for loopback hosts (`127.0.0.0/8`,
//! `::1`, `localhost`, `*.localhost`) and only through
//! [`PortalBuilder::allow_plain_http_to_loopback`], for local test servers.
//!
//! `Debug` and `Display` of a portal never show the webhook secret: they show the host
//! and `webhook user 1` or `oauth`. Errors about a malformed address never echo it.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use b24_types::{UserId, WebhookSecret};
use http::uri::{Authority, Scheme};

use crate::error::InputError;

/// The longest webhook secret accepted (real ones are 16 characters).
const MAX_SECRET_LEN: usize = 128;

/// A portal: base address plus authentication. Cheap to clone (an `Arc` inside).
#[derive(Clone)]
pub struct Portal(Arc<Inner>);

struct Inner {
    scheme: Scheme,
    authority: Authority,
    /// Lower-cased `host[:port]`, the secret-free key for per-portal state.
    host: String,
    auth: Auth,
}

enum Auth {
    Webhook {
        user_id: UserId,
        secret: WebhookSecret,
        /// The first 64 bits of SHA-256 of the secret, made once: calls name their
        /// credential by it.
        fingerprint: u64,
    },
    OAuth,
}

/// The first 64 bits (big-endian) of SHA-256 of a webhook secret: stable across
/// processes and versions, and not reversible to the secret.
fn secret_fingerprint(secret: &WebhookSecret) -> u64 {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(secret.expose_secret().as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(digest.get(..8).unwrap_or(&[0; 8]));
    u64::from_be_bytes(first)
}

impl Portal {
    /// Parses an incoming-webhook URL as the portal shows it, HTTPS only.
    ///
    /// Accepted forms (what users paste): `https://host/rest/{user}/{secret}/`, with or
    /// without the trailing slash, with or without `/api/` after `/rest`, optionally
    /// followed by one method name (`profile`, `profile.json`); a query or fragment is
    /// ignored. A missing scheme means `https`. A port is allowed.
    ///
    /// # Errors
    ///
    /// [`InputError::Portal`] when the URL is malformed, is not HTTPS, or has no
    /// positive user id, or a secret that is not 8 to 128 characters of ASCII letters,
    /// digits, `_` and `-`. The message never contains the URL.
    pub fn webhook(url: &str) -> Result<Self, InputError> {
        PortalBuilder::new().webhook(url)
    }

    /// An OAuth portal from its address: `https://example.bitrix24.com`, or the
    /// `client_endpoint` the OAuth server returns (`https://example.bitrix24.com/rest/`).
    ///
    /// # Errors
    ///
    /// [`InputError::Portal`] when the address is malformed, not HTTPS, or has a path
    /// other than `/`, `/rest/` or `/rest/api/`.
    pub fn oauth(url: &str) -> Result<Self, InputError> {
        PortalBuilder::new().oauth(url)
    }

    /// A builder, for options such as [`PortalBuilder::allow_plain_http_to_loopback`].
    pub fn builder() -> PortalBuilder {
        PortalBuilder::new()
    }

    /// True for an OAuth portal (the access token goes into the body as `auth`).
    pub fn is_oauth(&self) -> bool {
        matches!(self.0.auth, Auth::OAuth)
    }

    /// True for an incoming-webhook portal.
    pub fn is_webhook(&self) -> bool {
        !self.is_oauth()
    }

    /// The lower-cased `host[:port]` (`example.bitrix24.com`, `127.0.0.1:8080`,
    /// `[::1]:8080`): a stable, secret-free key for per-portal state such as the
    /// request-rate limiter. Two webhooks of one portal share it.
    pub fn host(&self) -> &str {
        &self.0.host
    }

    /// `https`, or `http` for an explicitly allowed loopback portal.
    pub fn scheme(&self) -> &Scheme {
        &self.0.scheme
    }

    /// The authority (`host[:port]`) requests are sent to.
    pub fn authority(&self) -> &Authority {
        &self.0.authority
    }

    /// The webhook's user id; `None` for OAuth.
    pub fn user_id(&self) -> Option<UserId> {
        match &self.0.auth {
            Auth::Webhook { user_id, .. } => Some(*user_id),
            Auth::OAuth => None,
        }
    }

    /// True when requests go over plain `http` (only possible for loopback hosts).
    pub fn is_insecure(&self) -> bool {
        self.0.scheme == Scheme::HTTP
    }

    /// The webhook secret (`None` for OAuth portals).
    ///
    /// For transports and state stores that must tell two webhooks of one user apart
    /// (by a fingerprint of the secret, say). The secret type prints as
    /// `WebhookSecret([redacted])`; only its `expose_secret()` yields the value.
    pub fn webhook_secret(&self) -> Option<&WebhookSecret> {
        match &self.0.auth {
            Auth::Webhook { secret, .. } => Some(secret),
            Auth::OAuth => None,
        }
    }

    /// The first 64 bits of SHA-256 of the webhook secret (`None` for OAuth portals):
    /// what tells two webhooks of one user apart in shared state without the secret
    /// (see [`CredentialId`](crate::registry::CredentialId)).
    pub fn webhook_fingerprint(&self) -> Option<u64> {
        match &self.0.auth {
            Auth::Webhook { fingerprint, .. } => Some(*fingerprint),
            Auth::OAuth => None,
        }
    }

    fn auth_label(&self) -> String {
        match &self.0.auth {
            Auth::Webhook { user_id, .. } => format!("webhook user {user_id}"),
            Auth::OAuth => "oauth".to_owned(),
        }
    }
}

impl fmt::Debug for Portal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Portal")
            .field("scheme", &self.0.scheme.as_str())
            .field("host", &self.0.host)
            .field("auth", &format_args!("{}", self.auth_label()))
            .finish()
    }
}

impl fmt::Display for Portal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}://{} ({})",
            self.0.scheme.as_str(),
            self.0.host,
            self.auth_label()
        )
    }
}

/// Builds a [`Portal`] with options.
///
/// ```
/// use b24_core::Portal;
///
/// let local = Portal::builder()
///     .allow_plain_http_to_loopback(true)
///     .webhook("http://127.0.0.1:8080/rest/1/s3cr3tc0de/")
///     .unwrap();
/// assert_eq!(local.host(), "127.0.0.1:8080");
/// assert!(Portal::builder()
///     .allow_plain_http_to_loopback(true)
///     .oauth("http://example.com")
///     .is_err());
/// ```
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct PortalBuilder {
    allow_insecure_loopback: bool,
}

impl PortalBuilder {
    /// A builder with the defaults (HTTPS only).
    pub fn new() -> Self {
        Self::default()
    }

    /// Accept plain `http://` for loopback hosts (`127.0.0.0/8`, `::1`, `localhost`,
    /// `*.localhost`), for local test servers. Other `http` hosts are still refused.
    pub fn allow_plain_http_to_loopback(mut self, allow: bool) -> Self {
        self.allow_insecure_loopback = allow;
        self
    }

    /// Parses an incoming-webhook URL; see [`Portal::webhook`].
    ///
    /// # Errors
    ///
    /// [`InputError::Portal`], never echoing the URL.
    pub fn webhook(&self, url: &str) -> Result<Portal, InputError> {
        let parsed = self.split(url)?;
        let segments: Vec<&str> = parsed.path.split('/').filter(|s| !s.is_empty()).collect();
        let mut rest = segments.as_slice();
        match rest.split_first() {
            Some((first, tail)) if first.eq_ignore_ascii_case("rest") => rest = tail,
            _ => return Err(portal_err("a webhook URL's path must start with /rest/")),
        }
        if let Some((first, tail)) = rest.split_first() {
            if first.eq_ignore_ascii_case("api") {
                rest = tail;
            }
        }
        let (user, tail) = rest
            .split_first()
            .ok_or_else(|| portal_err("the webhook URL has no user id after /rest/"))?;
        let user_id = parse_user_id(user)?;
        let (secret, tail) = tail
            .split_first()
            .ok_or_else(|| portal_err("the webhook URL has no secret after the user id"))?;
        check_secret(secret)?;
        match tail {
            [] => {}
            [method] if is_pasted_method(method) => {}
            _ => {
                return Err(portal_err(
                    "unexpected path after the webhook secret (expected at most a method name)",
                ))
            }
        }
        let secret = WebhookSecret::new(*secret);
        let auth = Auth::Webhook {
            user_id,
            fingerprint: secret_fingerprint(&secret),
            secret,
        };
        Ok(parsed.into_portal(auth))
    }

    /// Parses an OAuth portal address; see [`Portal::oauth`].
    ///
    /// # Errors
    ///
    /// [`InputError::Portal`], never echoing the address.
    pub fn oauth(&self, url: &str) -> Result<Portal, InputError> {
        let parsed = self.split(url)?;
        let segments: Vec<&str> = parsed.path.split('/').filter(|s| !s.is_empty()).collect();
        let ok = match segments.as_slice() {
            [] => true,
            [rest] => rest.eq_ignore_ascii_case("rest"),
            [rest, api] => rest.eq_ignore_ascii_case("rest") && api.eq_ignore_ascii_case("api"),
            _ => false,
        };
        if !ok {
            return Err(portal_err(
                "an OAuth portal address must be the bare portal address or its /rest/ endpoint",
            ));
        }
        Ok(parsed.into_portal(Auth::OAuth))
    }

    /// A webhook portal from its parts: a base address (`https://example.bitrix24.com`),
    /// the user id and the secret.
    ///
    /// # Errors
    ///
    /// [`InputError::Portal`] when the address is malformed or not HTTPS, or the
    /// secret has characters other than ASCII letters, digits, `_` and `-`.
    pub fn webhook_parts(
        &self,
        base: &str,
        user_id: UserId,
        secret: WebhookSecret,
    ) -> Result<Portal, InputError> {
        let parsed = self.split(base)?;
        if parsed.path.split('/').any(|s| !s.is_empty()) {
            return Err(portal_err(
                "the base address must have no path when the webhook parts are given apart",
            ));
        }
        check_secret(secret.expose_secret())?;
        Ok(parsed.into_portal(Auth::Webhook {
            user_id,
            fingerprint: secret_fingerprint(&secret),
            secret,
        }))
    }

    /// Splits an address into scheme, authority and path, checking the scheme rules.
    fn split<'a>(&self, url: &'a str) -> Result<Parsed<'a>, InputError> {
        let url = url.trim();
        if url.is_empty() {
            return Err(portal_err("the address is empty"));
        }
        if url
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || !c.is_ascii())
        {
            return Err(portal_err(
                "the address contains spaces, control or non-ASCII characters",
            ));
        }
        let (scheme, rest) = match url.find("://") {
            Some(i) => {
                let (scheme, rest) = url.split_at(i);
                (scheme, rest.get(3..).unwrap_or(""))
            }
            None => ("https", url),
        };
        let scheme = if scheme.eq_ignore_ascii_case("https") {
            Scheme::HTTPS
        } else if scheme.eq_ignore_ascii_case("http") {
            Scheme::HTTP
        } else {
            return Err(portal_err("the scheme must be https"));
        };
        // Drop a fragment, then a query: neither is part of the portal address.
        let rest = rest.split('#').next().unwrap_or("");
        let rest = rest.split('?').next().unwrap_or("");
        let (authority, path) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        if authority.is_empty() {
            return Err(portal_err("the address has no host"));
        }
        if authority.contains('@') {
            return Err(portal_err("the address must not contain user credentials"));
        }
        if path.contains('\\') || path.contains('%') {
            return Err(portal_err(
                "the address path contains an escaped or backslash character",
            ));
        }
        let (host, port) = split_host_port(authority)?;
        // A fully-qualified name's trailing dot is not part of the key.
        let host = host.strip_suffix('.').unwrap_or(host);
        check_host(host)?;
        let host_lower = host.to_ascii_lowercase();
        let loopback = is_loopback_host(&host_lower);
        if scheme == Scheme::HTTP {
            if !loopback {
                return Err(portal_err(
                    "plain http is refused: https is required (plain http only to a loopback \
                     host, with allow_plain_http_to_loopback(true))",
                ));
            }
            if !self.allow_insecure_loopback {
                return Err(portal_err(
                    "plain http to a loopback host needs \
                     Portal::builder().allow_plain_http_to_loopback(true)",
                ));
            }
        }
        // The scheme's own port is the same portal as no port: one bucket, one key.
        let default_port = if scheme == Scheme::HTTPS { 443 } else { 80 };
        let key = match port.filter(|p| u32::from(*p) != default_port) {
            Some(p) => format!("{host_lower}:{p}"),
            None => host_lower,
        };
        let authority: Authority = key
            .parse()
            .map_err(|_| portal_err("the host or port is malformed"))?;
        Ok(Parsed {
            scheme,
            authority,
            host: key,
            path,
        })
    }
}

struct Parsed<'a> {
    scheme: Scheme,
    authority: Authority,
    host: String,
    path: &'a str,
}

impl Parsed<'_> {
    fn into_portal(self, auth: Auth) -> Portal {
        Portal(Arc::new(Inner {
            scheme: self.scheme,
            authority: self.authority,
            host: self.host,
            auth,
        }))
    }
}

fn portal_err(reason: &str) -> InputError {
    InputError::Portal {
        reason: reason.to_owned(),
    }
}

fn split_host_port(authority: &str) -> Result<(&str, Option<u16>), InputError> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let end = rest
            .find(']')
            .ok_or_else(|| portal_err("an IPv6 host is missing its closing bracket"))?;
        let (inner, after) = rest.split_at(end);
        let after = after.get(1..).unwrap_or("");
        let host = authority.get(..end + 2).unwrap_or(authority);
        if inner.parse::<Ipv6Addr>().is_err() {
            return Err(portal_err("the IPv6 host is malformed"));
        }
        match after.strip_prefix(':') {
            Some(p) => (host, Some(p)),
            None if after.is_empty() => (host, None),
            None => return Err(portal_err("the host or port is malformed")),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    let port = match port {
        None => None,
        Some(p) => {
            if p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()) {
                return Err(portal_err("the port must be a number from 1 to 65535"));
            }
            match p.parse::<u16>() {
                Ok(0) | Err(_) => {
                    return Err(portal_err("the port must be a number from 1 to 65535"))
                }
                Ok(n) => Some(n),
            }
        }
    };
    Ok((host, port))
}

fn check_host(host: &str) -> Result<(), InputError> {
    if host.starts_with('[') {
        return Ok(()); // validated as IPv6 already
    }
    let valid = !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                && !label.starts_with('-')
                && !label.ends_with('-')
        });
    if valid {
        Ok(())
    } else {
        Err(portal_err("the host name is malformed"))
    }
}

/// Whether `host` names this machine: `localhost` or a name under `.localhost`, an
/// IPv4 address in `127.0.0.0/8`, or the IPv6 loopback `::1` (with or without
/// brackets, also as the IPv4-mapped `::ffff:127.x.y.z`). Case and one trailing dot
/// are ignored; a port must not be included.
///
/// The one definition of "loopback" b24 uses: plain `http` is accepted only for such
/// hosts ([`PortalBuilder::allow_plain_http_to_loopback`]), and so is an OAuth token URL on
/// a host other than the official OAuth servers.
///
/// ```
/// use b24_core::is_loopback_host;
///
/// assert!(is_loopback_host("localhost"));
/// assert!(is_loopback_host("emu.localhost"));
/// assert!(is_loopback_host("127.0.0.1"));
/// assert!(is_loopback_host("127.9.8.7"));
/// assert!(is_loopback_host("[::1]"));
/// assert!(!is_loopback_host("localhost.example.com"));
/// assert!(!is_loopback_host("10.0.0.1"));
/// ```
pub fn is_loopback_host(host: &str) -> bool {
    let host = host.strip_suffix('.').unwrap_or(host);
    if host.eq_ignore_ascii_case("localhost")
        || host
            .len()
            .checked_sub(".localhost".len())
            .filter(|i| *i > 0)
            .and_then(|i| host.get(i..))
            .is_some_and(|tail| tail.eq_ignore_ascii_case(".localhost"))
    {
        return true;
    }
    let inner = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if let Ok(ip) = inner.parse::<Ipv6Addr>() {
        return ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback());
    }
    host.parse::<Ipv4Addr>().is_ok_and(|ip| ip.is_loopback())
}

fn parse_user_id(s: &str) -> Result<UserId, InputError> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(portal_err(
            "the webhook URL's user id (after /rest/) must be a positive number",
        ));
    }
    s.parse::<UserId>().map_err(|_| {
        portal_err("the webhook URL's user id (after /rest/) must be a positive number")
    })
}

/// Checks a webhook secret's length and characters; the message never holds it.
///
/// Bitrix24 issues 16-character secrets. Anything shorter than 8 is refused: it is
/// almost certainly a typo or a placeholder, and a short secret would also make its
/// fingerprint (adapters key shared budgets by a hash of it) easy to reverse.
fn check_secret(s: &str) -> Result<(), InputError> {
    const MIN_SECRET_LEN: usize = 8;
    if s.len() < MIN_SECRET_LEN || s.len() > MAX_SECRET_LEN {
        return Err(portal_err("the webhook secret must be 8 to 128 characters"));
    }
    if !s
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(portal_err(
            "the webhook secret may hold only ASCII letters, digits, '_' and '-'",
        ));
    }
    Ok(())
}

/// A method name a user may have pasted after the secret (`profile`, `profile.json`).
fn is_pasted_method(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('.')
        && !s.contains("..")
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_detection() {
        for h in [
            "localhost",
            "a.localhost",
            "127.0.0.1",
            "127.9.8.7",
            "[::1]",
            "::1",
            "LocalHost",
            "localhost.",
            "A.LOCALHOST",
            "[::ffff:127.0.0.1]",
        ] {
            assert!(is_loopback_host(h), "{h}");
        }
        for h in [
            "example.com",
            "128.0.0.1",
            "[::2]",
            "localhost.com",
            "10.0.0.1",
            ".localhost",
            "[127.0.0.1]",
            "127.0.0.1:80",
            "notlocalhost",
            "",
        ] {
            assert!(!is_loopback_host(h), "{h}");
        }
    }
}
