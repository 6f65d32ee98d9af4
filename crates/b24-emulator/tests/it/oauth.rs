//! Webhook and OAuth authentication, the token endpoint with rotating refresh tokens.

use std::time::Duration;

use b24_emulator::{PortalConfig, V3AuthErrorShape};
use serde_json::json;

use crate::support::Harness;

async fn token_call(h: &Harness, method: &str, query: &str, form: &str) -> crate::support::Reply {
    let uri = if query.is_empty() {
        "/oauth/token/".to_owned()
    } else {
        format!("/oauth/token/?{query}")
    };
    let req = http::Request::builder()
        .method(method)
        .uri(uri)
        .header("host", "localhost")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(bytes::Bytes::from(form.to_owned()))
        .unwrap();
    h.send(req).await
}

fn refresh_query(h: &Harness, refresh: &str) -> String {
    format!(
        "grant_type=refresh_token&client_id={}&client_secret={}&refresh_token={refresh}",
        h.emu.oauth_client_id(),
        h.emu.oauth_client_secret()
    )
}

#[tokio::test]
async fn wrong_webhook_secret_is_401_in_each_apis_shape() {
    let h = Harness::new();
    let r = h
        .raw(
            "POST",
            "/rest/api/1/wrongsecret/tasks.task.get",
            "application/json",
            r#"{"id":51}"#,
        )
        .await;
    r.assert_v3_error(401, "BITRIX_REST_V3_EXCEPTION_ACCESSDENIEDEXCEPTION", &[]);
    let r = h
        .raw(
            "POST",
            "/rest/1/wrongsecret/im.message.add",
            "application/json",
            "{}",
        )
        .await;
    r.assert_classic_error(401, "NO_AUTH_FOUND", "Wrong authorization data");
    // No credentials at all.
    let r = h
        .raw(
            "POST",
            "/rest/api/tasks.task.get",
            "application/json",
            r#"{"id":51}"#,
        )
        .await;
    assert_eq!(r.status, 401);
    // A rotated webhook secret stops working.
    let old = h.secret(1);
    h.portal.rotate_webhook_secret(1).unwrap();
    let r = h
        .raw(
            "POST",
            &format!("/rest/api/1/{old}/tasks.task.get"),
            "application/json",
            r#"{"id":51}"#,
        )
        .await;
    assert_eq!(r.status, 401);
}

#[tokio::test]
async fn access_token_works_until_it_expires() {
    let h = Harness::new();
    let (access, _refresh) = h.portal.issue_tokens(1).unwrap();
    let r = h
        .v3_oauth(access.expose_secret(), "tasks.task.get", json!({"id":51}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    // Classic: auth in the query string.
    let r = h
        .raw(
            "POST",
            &format!(
                "/rest/im.message.add?auth={}&DIALOG_ID=chat58&MESSAGE=hi",
                access.expose_secret()
            ),
            "application/x-www-form-urlencoded",
            "",
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    // The recorded request does not show the token.
    let rec = h.portal.requests();
    assert!(rec.iter().all(|r| !r.path.contains(access.expose_secret())));
    assert!(rec
        .iter()
        .all(|r| !String::from_utf8_lossy(&r.body).contains(access.expose_secret())));
    // After an hour: expired.
    h.clock.advance(Duration::from_secs(3600));
    let r = h
        .v3_oauth(access.expose_secret(), "tasks.task.get", json!({"id":51}))
        .await;
    r.assert_v3_error(401, "BITRIX_REST_V3_EXCEPTION_ACCESSDENIEDEXCEPTION", &[]);
    let r = h
        .raw(
            "POST",
            "/rest/im.message.add",
            "application/json",
            &json!({"auth": access.expose_secret(), "DIALOG_ID":"chat58","MESSAGE":"x"})
                .to_string(),
        )
        .await;
    r.assert_classic_error(
        401,
        "expired_token",
        "The access token provided has expired",
    );
}

#[tokio::test]
async fn v3_expired_token_shape_is_configurable() {
    let h = Harness::with(
        PortalConfig::new("localhost").v3_auth_error_shape(V3AuthErrorShape::Classic),
    );
    let (access, _) = h.portal.issue_tokens(1).unwrap();
    assert!(h.portal.expire_token(&access));
    h.v3_oauth(access.expose_secret(), "tasks.task.get", json!({"id":51}))
        .await
        .assert_classic_error(
            401,
            "expired_token",
            "The access token provided has expired",
        );
}

#[tokio::test]
async fn refresh_rotates_and_the_old_refresh_token_is_invalid_grant() {
    let h = Harness::new();
    let (access, refresh) = h.portal.issue_tokens(2).unwrap();
    h.portal.expire_token(&access);
    // GET with the query, as the docs show.
    let r = token_call(&h, "GET", &refresh_query(&h, refresh.expose_secret()), "").await;
    assert_eq!(r.status, 200, "{}", r.body);
    for k in [
        "access_token",
        "refresh_token",
        "expires",
        "expires_in",
        "client_endpoint",
        "server_endpoint",
        "domain",
        "member_id",
        "scope",
        "status",
        "user_id",
    ] {
        assert!(r.body.get(k).is_some(), "{k} missing in {}", r.body);
    }
    assert_eq!(r.body["expires_in"], 3600);
    assert_eq!(r.body["user_id"], 2);
    assert_eq!(
        r.body["expires"].as_f64().unwrap(),
        crate::support::START + 3600.0
    );
    let typed: b24_types::TokenResponse = serde_json::from_value(r.body.clone()).unwrap();
    let new_access = typed.access_token.expose_secret().to_owned();
    let new_refresh = typed.refresh_token.expose_secret().to_owned();
    assert_ne!(new_refresh, refresh.expose_secret());
    // The new access token works.
    assert_eq!(
        h.v3_oauth(&new_access, "tasks.task.get", json!({"id":51}))
            .await
            .status,
        200
    );
    // The old refresh token is spent.
    let r = token_call(&h, "GET", &refresh_query(&h, refresh.expose_secret()), "").await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["error"], "invalid_grant");
    assert!(r.body["error_description"].is_string());
    // POST form, as jssdk sends it, with the new refresh token.
    let r = token_call(&h, "POST", "", &refresh_query(&h, &new_refresh)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    // A bad client secret.
    let bad = format!(
        "grant_type=refresh_token&client_id={}&client_secret=nope&refresh_token={}",
        h.emu.oauth_client_id(),
        r.body["refresh_token"].as_str().unwrap()
    );
    let r = token_call(&h, "POST", "", &bad).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.body["error"], "invalid_client");
    // The token endpoint's recorded request hides the secrets.
    let rec = h.portal.requests();
    let last = rec.last().unwrap();
    assert_eq!(last.method, "oauth.token");
    assert!(String::from_utf8_lossy(&last.body).contains("client_secret=[redacted]"));
}

#[tokio::test]
async fn authorization_code_grant_omits_expires_and_user_id() {
    let h = Harness::new();
    let code = h.portal.issue_auth_code(1).unwrap();
    let q = format!(
        "grant_type=authorization_code&client_id={}&client_secret={}&code={code}",
        h.emu.oauth_client_id(),
        h.emu.oauth_client_secret()
    );
    let r = token_call(&h, "GET", &q, "").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.get("expires").is_none());
    assert!(r.body.get("user_id").is_none());
    assert_eq!(r.body["expires_in"], 3600);
    // A code works once.
    assert_eq!(
        token_call(&h, "GET", &q, "").await.body["error"],
        "invalid_grant"
    );
}
