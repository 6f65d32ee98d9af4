//! Portal parsing, scheme rules and redaction.

use b24_core::types::{UserId, WebhookSecret};
use b24_core::{InputError, Portal};

use crate::codec_support::SECRET;

fn reason(e: InputError) -> String {
    match e {
        InputError::Portal { reason } => reason,
        other => panic!("expected InputError::Portal, got {other:?}"),
    }
}

#[test]
fn webhook_urls_users_paste_are_accepted() {
    let forms = [
        format!("https://example.bitrix24.com/rest/1/{SECRET}/"),
        format!("https://example.bitrix24.com/rest/1/{SECRET}"),
        format!("https://example.bitrix24.com/rest/api/1/{SECRET}/"),
        format!("https://example.bitrix24.com/rest/api/1/{SECRET}"),
        format!("https://example.bitrix24.com/rest/1/{SECRET}/profile.json"),
        format!("https://example.bitrix24.com/rest/1/{SECRET}/tasks.task.result.list"),
        format!("https://example.bitrix24.com/rest/api/1/{SECRET}/tasks.task.get/"),
        format!("  https://EXAMPLE.Bitrix24.com/rest/1/{SECRET}/  "),
        format!("HTTPS://example.bitrix24.com/REST/1/{SECRET}/"),
        format!("example.bitrix24.com/rest/1/{SECRET}/"),
        format!("https://example.bitrix24.com/rest/1/{SECRET}/?x=1#frag"),
        format!("https://example.bitrix24.com./rest/1/{SECRET}/"),
    ];
    for url in &forms {
        let p = Portal::webhook(url).unwrap_or_else(|e| panic!("{url}: {e}"));
        assert_eq!(p.host(), "example.bitrix24.com", "{url}");
        assert_eq!(p.user_id(), Some(UserId::new(1).unwrap()));
        assert!(p.is_webhook() && !p.is_oauth());
        assert_eq!(p.scheme().as_str(), "https");
        assert_eq!(p.authority().as_str(), "example.bitrix24.com");
    }
}

#[test]
fn ports_are_kept_in_host_and_authority() {
    let p = Portal::webhook(&format!("https://example.com:8443/rest/7/{SECRET}/")).unwrap();
    assert_eq!(p.host(), "example.com:8443");
    assert_eq!(p.authority().as_str(), "example.com:8443");
    assert_eq!(p.user_id(), Some(UserId::new(7).unwrap()));
}

#[test]
fn malformed_webhook_urls_are_refused_without_echoing_the_secret() {
    let bad = [
        String::new(),
        "   ".to_owned(),
        format!("https://example.bitrix24.com/{SECRET}/"),
        format!("https://example.bitrix24.com/api/1/{SECRET}/"),
        "https://example.bitrix24.com/rest/".to_owned(),
        "https://example.bitrix24.com/rest/1/".to_owned(),
        format!("https://example.bitrix24.com/rest/0/{SECRET}/"),
        format!("https://example.bitrix24.com/rest/-1/{SECRET}/"),
        format!("https://example.bitrix24.com/rest/x/{SECRET}/"),
        format!("https://example.bitrix24.com/rest/1/{SECRET}/a/b"),
        format!("https://example.bitrix24.com/rest/1/{SECRET}/../x"),
        format!("https://example.bitrix24.com/rest/1/{SECRET}%2F/"),
        format!("https://example.bitrix24.com/rest/1/{SECRET}!/"),
        format!("https://user:{SECRET}@example.bitrix24.com/rest/1/{SECRET}/"),
        format!("ftp://example.bitrix24.com/rest/1/{SECRET}/"),
        format!("https:///rest/1/{SECRET}/"),
        format!("https://exa mple.com/rest/1/{SECRET}/"),
        format!("https://example.com:0/rest/1/{SECRET}/"),
        format!("https://example.com:99999/rest/1/{SECRET}/"),
        format!("https://example.com:/rest/1/{SECRET}/"),
        format!("https://-bad-.com/rest/1/{SECRET}/"),
        format!("https://[::1/rest/1/{SECRET}/"),
        format!("https://exämple.com/rest/1/{SECRET}/"),
        format!("https://example.com/rest/1/{SECRET}\n/"),
        format!("https://example.com/rest/1/{}/", "a".repeat(129)),
    ];
    for url in &bad {
        let err = Portal::webhook(url).expect_err(url);
        let text = format!("{err} {err:?}");
        assert!(!text.contains(SECRET), "{url} leaked: {text}");
        assert!(!text.contains("example"), "{url} echoed the URL: {text}");
        assert!(!reason(err).is_empty());
    }
}

#[test]
fn webhook_secrets_shorter_than_eight_characters_are_refused_without_echoing_them() {
    for secret in ["Zq9", "Zq9xLe", "Zq9xLea"] {
        for url in [
            format!("https://example.bitrix24.com/rest/1/{secret}/"),
            format!("https://example.bitrix24.com/rest/api/1/{secret}/tasks.task.get"),
        ] {
            let err = Portal::webhook(&url).expect_err(&url);
            let text = format!("{err} {err:?}");
            assert!(!text.contains(secret), "{url} leaked: {text}");
            assert_eq!(
                reason(err),
                "the webhook secret must be 8 to 128 characters"
            );
        }
        let err = Portal::builder()
            .webhook_parts(
                "https://example.bitrix24.com",
                UserId::new(1).unwrap(),
                WebhookSecret::new(secret),
            )
            .expect_err(secret);
        assert!(!format!("{err} {err:?}").contains(secret));
    }
    for secret in ["Zq9xLeak".to_owned(), "k".repeat(128)] {
        let url = format!("https://example.bitrix24.com/rest/1/{secret}/");
        assert!(Portal::webhook(&url).is_ok(), "{} characters", secret.len());
    }
}

#[test]
fn non_loopback_http_is_refused_even_when_insecure_loopback_is_allowed() {
    for url in [
        format!("http://example.bitrix24.com/rest/1/{SECRET}/"),
        format!("http://10.0.0.1/rest/1/{SECRET}/"),
        format!("http://128.0.0.1/rest/1/{SECRET}/"),
        format!("http://localhost.example.com/rest/1/{SECRET}/"),
        format!("http://[::2]/rest/1/{SECRET}/"),
    ] {
        assert!(Portal::webhook(&url).is_err(), "{url}");
        let err = Portal::builder()
            .allow_plain_http_to_loopback(true)
            .webhook(&url)
            .expect_err(&url);
        assert!(reason(err).contains("https is required"), "{url}");
    }
    assert!(Portal::builder()
        .allow_plain_http_to_loopback(true)
        .oauth("http://example.bitrix24.com")
        .is_err());
}

#[test]
fn loopback_http_needs_the_explicit_flag() {
    for (url, host) in [
        (
            format!("http://127.0.0.1:8080/rest/1/{SECRET}/"),
            "127.0.0.1:8080",
        ),
        (format!("http://127.1.2.3/rest/1/{SECRET}/"), "127.1.2.3"),
        (
            format!("http://localhost:3000/rest/1/{SECRET}/"),
            "localhost:3000",
        ),
        (
            format!("http://portal.localhost/rest/1/{SECRET}/"),
            "portal.localhost",
        ),
        (format!("http://[::1]:9000/rest/1/{SECRET}/"), "[::1]:9000"),
    ] {
        let err = Portal::webhook(&url).expect_err(&url);
        assert!(
            reason(err).contains("allow_plain_http_to_loopback(true)"),
            "{url}"
        );
        let p = Portal::builder()
            .allow_plain_http_to_loopback(true)
            .webhook(&url)
            .unwrap_or_else(|e| panic!("{url}: {e}"));
        assert_eq!(p.host(), host);
        assert_eq!(p.scheme().as_str(), "http");
        assert!(p.is_insecure());
    }
    let p = Portal::builder()
        .allow_plain_http_to_loopback(true)
        .oauth("http://127.0.0.1:8080/rest/")
        .unwrap();
    assert!(p.is_oauth());
}

#[test]
fn oauth_addresses() {
    for url in [
        "https://example.bitrix24.com",
        "https://example.bitrix24.com/",
        "https://example.bitrix24.com/rest",
        "https://example.bitrix24.com/rest/",
        "https://example.bitrix24.com/rest/api/",
        "example.bitrix24.com",
    ] {
        let p = Portal::oauth(url).unwrap_or_else(|e| panic!("{url}: {e}"));
        assert!(p.is_oauth());
        assert_eq!(p.user_id(), None);
        assert_eq!(p.host(), "example.bitrix24.com");
    }
    for url in [
        "https://example.bitrix24.com/other/",
        "https://example.bitrix24.com/rest/1/abc/",
        "http://example.bitrix24.com/rest/",
        "",
    ] {
        assert!(Portal::oauth(url).is_err(), "{url}");
    }
}

#[test]
fn webhook_parts() {
    let p = Portal::builder()
        .webhook_parts(
            "https://example.bitrix24.com",
            UserId::new(3).unwrap(),
            WebhookSecret::new(SECRET),
        )
        .unwrap();
    assert_eq!(p.user_id(), Some(UserId::new(3).unwrap()));
    assert!(Portal::builder()
        .webhook_parts(
            "https://example.bitrix24.com/rest/",
            UserId::new(3).unwrap(),
            WebhookSecret::new(SECRET),
        )
        .is_err());
    assert!(Portal::builder()
        .webhook_parts(
            "https://example.bitrix24.com",
            UserId::new(3).unwrap(),
            WebhookSecret::new("abcd/efgh"),
        )
        .is_err());
}

#[test]
fn debug_and_display_never_show_the_secret() {
    let p = Portal::webhook(&format!("https://example.bitrix24.com/rest/1/{SECRET}/")).unwrap();
    let shown = format!("{p} {p:?} {p:#?}");
    assert!(!shown.contains(SECRET), "{shown}");
    assert_eq!(
        p.to_string(),
        "https://example.bitrix24.com (webhook user 1)"
    );
    assert!(format!("{p:?}").contains("webhook user 1"));
    let o = Portal::oauth("https://example.bitrix24.com/rest/").unwrap();
    assert_eq!(o.to_string(), "https://example.bitrix24.com (oauth)");
}

#[test]
fn clones_share_state_and_host_is_stable() {
    let a = Portal::webhook(&format!("https://Example.Bitrix24.com/rest/1/{SECRET}/")).unwrap();
    let b = Portal::webhook(&format!(
        "https://example.bitrix24.com/rest/api/2/{SECRET}x/"
    ))
    .unwrap();
    let c = a.clone();
    assert_eq!(a.host(), b.host());
    assert_eq!(c.host(), a.host());
}

#[test]
fn the_schemes_own_port_is_the_same_portal() {
    let plain = Portal::webhook("https://Example.bitrix24.com/rest/1/k3y0f7h3w3bh00k5/").unwrap();
    let explicit =
        Portal::webhook("https://example.bitrix24.com:443/rest/1/k3y0f7h3w3bh00k5/").unwrap();
    let other =
        Portal::webhook("https://example.bitrix24.com:8443/rest/1/k3y0f7h3w3bh00k5/").unwrap();
    assert_eq!(plain.host(), "example.bitrix24.com");
    assert_eq!(explicit.host(), plain.host(), "one bucket, one key");
    assert_eq!(other.host(), "example.bitrix24.com:8443");
}
