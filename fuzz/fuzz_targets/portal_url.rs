//! Portal addresses and webhook URLs: `Portal::webhook`, `Portal::oauth` and the
//! builder with plain-http loopback allowed.
//!
//! Checks: a webhook secret never shows in an error (`Display` or `Debug`) nor in a
//! parsed portal's `Display` or `Debug`. Two inputs: the raw fuzz text, and a
//! well-formed webhook URL around a secret built from the input (at least 12
//! characters mixing letters and digits, which no fixed message contains), spliced
//! into a prefix and suffix taken from the input.
#![no_main]
#![forbid(unsafe_code)]

use b24_core::{Portal, PortalBuilder};
use libfuzzer_sys::fuzz_target;

const SECRET_CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-";

/// Whether a path segment looks like a webhook secret: 8 or more characters of
/// the secret alphabet with at least one letter and one digit.
fn secret_like(segment: &str) -> bool {
    segment.len() >= 8
        && segment
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        && segment.bytes().any(|b| b.is_ascii_alphabetic())
        && segment.bytes().any(|b| b.is_ascii_digit())
}

/// Parses `url` every way and checks that `secret` never shows.
fn check(url: &str, secret: Option<&str>) {
    let builders = [
        PortalBuilder::new(),
        Portal::builder().allow_plain_http_to_loopback(true),
    ];
    for builder in &builders {
        for parsed in [builder.webhook(url), builder.oauth(url)] {
            let shown = match &parsed {
                Ok(portal) => {
                    let _ = portal.host();
                    let _ = portal.authority();
                    let _ = portal.user_id();
                    let _ = portal.webhook_fingerprint();
                    format!("{portal} {portal:?}")
                }
                Err(error) => format!("{error} {error:?}"),
            };
            if let Some(secret) = secret {
                assert!(
                    !shown
                        .to_ascii_lowercase()
                        .contains(&secret.to_ascii_lowercase()),
                    "a webhook secret shows: {shown}"
                );
            }
            if parsed.is_err() && url.len() > 8 && secret.is_some() {
                assert!(!shown.contains(url), "an error echoes the address: {shown}");
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    // The raw text: any secret-like path segment must not show.
    if let Ok(url) = std::str::from_utf8(data) {
        let after_host = url.split_once("://").map_or(url, |(_, rest)| rest);
        let path = after_host.split_once('/').map_or("", |(_, path)| path);
        let path = path.split(['?', '#']).next().unwrap_or("");
        let secret = path.split('/').find(|s| secret_like(s));
        // Only when the secret is nowhere else in the address (a host may show).
        let secret = secret.filter(|s| {
            url.to_ascii_lowercase()
                .matches(&s.to_ascii_lowercase())
                .count()
                == 1
        });
        check(url, secret);
    }

    // A well-formed webhook URL with a secret made from the input.
    let (head, rest) = data.split_at(data.len().min(24));
    let mut secret: String = head
        .iter()
        .map(|b| char::from(SECRET_CHARS[usize::from(*b) % SECRET_CHARS.len()]))
        .collect();
    secret.insert_str(0, "Zq7");
    while secret.len() < 12 {
        secret.push('9');
    }
    let text = String::from_utf8_lossy(rest);
    let (prefix, suffix) = text.split_once('\u{1}').unwrap_or((&text, ""));
    let forms = [
        format!("https://portal.bitrix24.com/rest/1/{secret}/"),
        format!("{prefix}/rest/1/{secret}/{suffix}"),
        format!("https://{prefix}/rest/api/7/{secret}{suffix}"),
        format!("http://127.0.0.1:{prefix}/rest/{suffix}/{secret}/profile.json"),
    ];
    for url in &forms {
        let lower = url.to_ascii_lowercase();
        if lower.matches(&secret.to_ascii_lowercase()).count() == 1 {
            check(url, Some(&secret));
        }
    }
});
