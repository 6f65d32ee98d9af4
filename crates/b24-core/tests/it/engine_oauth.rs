//! The OAuth refresh request, the reading of its answer, and the refresh as an
//! exchange runs it.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use b24_core::bytes::Bytes;
use b24_core::engine::{
    parse_token_answer, Action, Event, Exchange, MemoryTokenStore, OAuthApp, Outgoing, PortalState,
    Purpose, RefreshFailure, RefreshLease, RefreshTurn, StaleOr, StoreCall, Timestamp,
    TokenGeneration, TokenSet, TokenStore, DEFAULT_TOKEN_URL, REFRESH_LEASE,
};
use b24_core::http;
use b24_core::methods::TaskResultDelete;
use b24_core::types::{AccessToken, ClientSecret, RefreshToken, ResultId};
use b24_core::{Error, InputError, Portal};

use crate::engine_support::{body_text, current, ready};

const CLIENT_SECRET: &str = "s3cr&t=+/ ü%Canary";
const REFRESH: &str = "r3fresh tok&en+Canary";

fn app() -> OAuthApp {
    OAuthApp::new(
        "local.6a1b2c3d4e5f.12345678",
        ClientSecret::new(CLIENT_SECRET),
    )
}

fn answer(status: u16, body: &str) -> http::Response<Bytes> {
    http::Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Bytes::copy_from_slice(body.as_bytes()))
        .unwrap()
}

const REFRESH_ANSWER: &str = r#"{"access_token":"ydtj8pho532wydb5ixk78ol7uqlb7sch","client_endpoint":"https://portal.bitrix24.com/rest/","domain":"oauth.bitrix.info","expires":1780319382,"expires_in":3600,"member_id":"a223c6b3710f85df22e9377d6c4f7553","refresh_token":"3s6lr4kr3cv2od4v853gvrchb875bwxb","scope":"crm,entity,im,task","server_endpoint":"https://oauth.bitrix.info/rest/","status":"F","user_id":67}"#;

#[test]
fn refresh_request_is_a_form_post_with_secrets_in_the_body_only() {
    let req = app()
        .refresh_request(
            &RefreshToken::new(REFRESH),
            Some("https://oauth.bitrix.info/rest/"),
        )
        .unwrap();
    assert_eq!(req.method(), http::Method::POST);
    assert_eq!(
        req.uri().to_string(),
        "https://oauth.bitrix.info/oauth/token/"
    );
    assert_eq!(
        req.headers()["content-type"],
        "application/x-www-form-urlencoded"
    );
    assert_eq!(req.headers()["accept"], "application/json");
    assert_eq!(
        std::str::from_utf8(req.body()).unwrap(),
        "grant_type=refresh_token\
         &client_id=local.6a1b2c3d4e5f.12345678\
         &client_secret=s3cr%26t%3D%2B%2F+%C3%BC%25Canary\
         &refresh_token=r3fresh+tok%26en%2BCanary"
    );
    let uri = req.uri().to_string();
    assert!(!uri.contains("Canary") && !uri.contains("secret") && !uri.contains("refresh_token"));
    for (_, v) in req.headers() {
        assert!(!v.to_str().unwrap().contains("Canary"));
    }
}

#[test]
fn token_url_choice() {
    let token = RefreshToken::new("r");
    let url = |app: &OAuthApp, endpoint: Option<&str>| {
        app.refresh_request(&token, endpoint)
            .unwrap()
            .uri()
            .to_string()
    };
    // From the server endpoint (minus `rest/`, plus `oauth/token/`).
    assert_eq!(
        url(&app(), Some("https://oauth.bitrix24.tech/rest/")),
        "https://oauth.bitrix24.tech/oauth/token/"
    );
    // The documented fallback, when none is known or it is unusable.
    assert_eq!(url(&app(), None), DEFAULT_TOKEN_URL);
    assert_eq!(
        url(&app(), Some("http://evil.example/rest/")),
        DEFAULT_TOKEN_URL
    );
    assert_eq!(
        url(&app(), Some("https://x.example/other/")),
        DEFAULT_TOKEN_URL
    );
    // An explicit URL wins.
    let explicit = app().token_url("http://127.0.0.1:9000/oauth/token/");
    assert_eq!(
        url(&explicit, Some("https://oauth.bitrix.info/rest/")),
        "http://127.0.0.1:9000/oauth/token/"
    );
    assert!(app()
        .token_url("not a uri")
        .refresh_request(&token, None)
        .is_err());
}

fn now() -> Timestamp {
    Timestamp::from_unix_secs(1_780_315_782)
}

fn oauth_portal() -> Portal {
    Portal::oauth("https://example.bitrix24.com").unwrap()
}

/// An OAuth credential's state: the pair in `store`, refreshed with [`app`].
fn state_with(store: Arc<dyn TokenStore>) -> PortalState {
    PortalState::new(1)
        .token_store(store)
        .oauth_app(Arc::new(app()))
}

fn expired() -> http::Response<Bytes> {
    answer(
        401,
        r#"{"error":"expired_token","error_description":"expired"}"#,
    )
}

/// An exchange that has sent its first attempt (with the pair stored now).
fn sent(state: &PortalState) -> Exchange<TaskResultDelete> {
    let mut ex = Exchange::new(
        &oauth_portal(),
        TaskResultDelete::new(ResultId::new(1).unwrap()),
        state,
    )
    .unwrap();
    match ex.poll(now()) {
        Action::Send(out) => assert_eq!(out.purpose(), Purpose::Call),
        other => panic!("expected the first attempt, got {other:?}"),
    }
    ex
}

/// The next action must be a send for `purpose`.
fn next_send(ex: &mut Exchange<TaskResultDelete>, purpose: Purpose) -> Outgoing {
    match ex.poll(now()) {
        Action::Send(out) if out.purpose() == purpose => out,
        other => panic!("expected a send for {purpose:?}, got {other:?}"),
    }
}

fn access_of(req: &http::Request<Bytes>) -> String {
    let body: serde_json::Value = serde_json::from_slice(req.body()).unwrap();
    body["auth"].as_str().unwrap().to_owned()
}

#[test]
fn debug_output_never_shows_secrets() {
    let store = Arc::new(MemoryTokenStore::new(TokenSet::new(
        AccessToken::new("accessCanary"),
        RefreshToken::new(REFRESH),
    )));
    let state = state_with(store.clone());
    let mut ex = sent(&state);
    ex.handle_response(expired(), now());
    let refresh = next_send(&mut ex, Purpose::TokenRefresh);
    // The request does carry the secrets (in its body)...
    let body = body_text(&refresh);
    assert!(
        body.contains("refresh_token=r3fresh+tok%26en%2BCanary"),
        "{body}"
    );
    assert!(body.contains("client_secret="), "{body}");
    // ...but no Debug output shows them: not the app, the store, the send, the
    // exchange, nor a granted turn (with its pair).
    let turn = ready(
        MemoryTokenStore::new(TokenSet::new(
            AccessToken::new("accessCanary"),
            RefreshToken::new(REFRESH),
        ))
        .begin_refresh(TokenGeneration::new(1), 9, now(), REFRESH_LEASE),
    );
    assert!(matches!(turn, RefreshTurn::Granted { .. }), "{turn:?}");
    let shown = format!(
        "{:?} {:?} {:?} {:?} {:?} {:?}",
        app(),
        store,
        refresh,
        ex,
        state,
        turn
    );
    assert!(!shown.contains("Canary"), "{shown}");
    assert!(!shown.contains("oauth/token"), "{shown}");
}

#[test]
fn the_documented_refresh_answer() {
    let t = parse_token_answer(&answer(200, REFRESH_ANSWER)).unwrap();
    assert_eq!(
        t.access_token.expose_secret(),
        "ydtj8pho532wydb5ixk78ol7uqlb7sch"
    );
    assert_eq!(
        t.refresh_token.expose_secret(),
        "3s6lr4kr3cv2od4v853gvrchb875bwxb"
    );
    assert_eq!(t.expires, Some(1_780_319_382));
    assert_eq!(t.expires_in, Some(3600));
    assert_eq!(t.user_id.map(|u| u.get()), Some(67));
    assert_eq!(
        t.server_endpoint.as_deref(),
        Some("https://oauth.bitrix.info/rest/")
    );
    let set = TokenSet::from_response(t, Timestamp::from_unix_secs(1_780_315_782));
    assert_eq!(
        set.expires_at(),
        Some(Timestamp::from_unix_secs(1_780_319_382))
    );
}

#[test]
fn the_first_exchange_answer_without_expires_and_user_id() {
    let body = r#"{"access_token":"a1","client_endpoint":"https://portal.bitrix24.com/rest/","domain":"oauth.bitrix.info","expires_in":3600,"member_id":"m","refresh_token":"r1","scope":"task","server_endpoint":"https://oauth.bitrix.info/rest/","status":"L"}"#;
    let t = parse_token_answer(&answer(200, body)).unwrap();
    assert_eq!(t.expires, None);
    assert!(t.user_id.is_none());
    let set = TokenSet::from_response(t, Timestamp::from_unix_secs(1_000));
    assert_eq!(set.expires_at(), Some(Timestamp::from_unix_secs(4_600)));
}

#[test]
fn numbers_as_strings() {
    let body = r#"{"access_token":"a1","refresh_token":"r1","expires":"1780319382","expires_in":"3600","user_id":"67"}"#;
    let t = parse_token_answer(&answer(200, body)).unwrap();
    assert_eq!(t.expires, Some(1_780_319_382));
    assert_eq!(t.expires_in, Some(3600));
    assert_eq!(t.user_id.map(|u| u.get()), Some(67));
}

fn refresh_error(resp: &http::Response<Bytes>) -> b24_core::engine::RefreshError {
    match parse_token_answer(resp) {
        Err(Error::TokenRefresh(e)) => e,
        other => panic!("expected a refresh error, got {other:?}"),
    }
}

#[test]
fn error_answers() {
    let e = refresh_error(&answer(
        400,
        r#"{"error":"invalid_grant","error_description":"Invalid grant"}"#,
    ));
    assert_eq!(e.failure, RefreshFailure::InvalidGrant);
    assert!(e.needs_reauthorization());
    assert_eq!(e.status, Some(400));
    let text = Error::TokenRefresh(e).to_string();
    assert!(text.contains("full authorization flow"), "{text}");

    let e = refresh_error(&answer(401, r#"{"error":"invalid_client"}"#));
    assert_eq!(e.failure, RefreshFailure::InvalidClient);
    assert!(!e.needs_reauthorization());

    let e = refresh_error(&answer(
        402,
        r#"{"error":"PAYMENT_REQUIRED","error_description":"Payment required"}"#,
    ));
    assert_eq!(e.failure, RefreshFailure::PaymentRequired);

    // An error body with a 200 status is still an error.
    let e = refresh_error(&answer(200, r#"{"error":"invalid_request"}"#));
    assert_eq!(e.failure, RefreshFailure::Refused);

    // Not JSON, or not a token answer: the body never reaches the error.
    let e = refresh_error(&answer(502, "<html>Bad gateway accessCanary</html>"));
    assert_eq!(e.failure, RefreshFailure::UnexpectedAnswer);
    let e = refresh_error(&answer(200, r#"{"access_token":"accessCanary"}"#));
    assert_eq!(e.failure, RefreshFailure::UnexpectedAnswer);
    let shown = format!("{e} {e:?}");
    assert!(!shown.contains("Canary"), "{shown}");
}

#[test]
fn single_flight_refresh_through_the_exchange() {
    let store = Arc::new(MemoryTokenStore::new(TokenSet::new(
        AccessToken::new("a1"),
        RefreshToken::new("r1"),
    )));
    let state = state_with(store.clone());
    // Two calls go out with generation 1.
    let mut first = sent(&state);
    let mut second = sent(&state);

    // First refused: the store still holds generation 1, so a request is needed.
    first.handle_response(expired(), now());
    let refresh = next_send(&mut first, Purpose::TokenRefresh);
    assert_eq!(refresh.method(), http::Method::POST);
    assert_eq!(refresh.uri().to_string(), DEFAULT_TOKEN_URL);
    assert!(body_text(&refresh).contains("refresh_token=r1"));
    first.handle_response(answer(200, REFRESH_ANSWER), now());
    let replay = next_send(&mut first, Purpose::Call);
    assert_eq!(access_of(&replay), "ydtj8pho532wydb5ixk78ol7uqlb7sch");
    let stored = current(&*store);
    assert_eq!(stored.generation(), TokenGeneration::new(2));
    assert_eq!(
        stored.access_token().expose_secret(),
        "ydtj8pho532wydb5ixk78ol7uqlb7sch"
    );
    // The new refresh token replaces the old one.
    assert_eq!(
        stored.refresh_token().expose_secret(),
        "3s6lr4kr3cv2od4v853gvrchb875bwxb"
    );
    assert_eq!(
        stored.server_endpoint(),
        Some("https://oauth.bitrix.info/rest/")
    );
    assert_eq!(
        stored.expires_at(),
        Some(now().saturating_add(Duration::from_secs(3600)))
    );

    // Second refused on generation 1: someone already refreshed, so it replays with
    // generation 2 at once, without a request of its own.
    second.handle_response(expired(), now());
    let replay = next_send(&mut second, Purpose::Call);
    assert_eq!(access_of(&replay), "ydtj8pho532wydb5ixk78ol7uqlb7sch");
    let events: Vec<_> = std::iter::from_fn(|| second.poll_event()).collect();
    assert!(
        events.iter().any(|e| matches!(
            e,
            Event::TokenRefreshed { generation } if *generation == TokenGeneration::new(2)
        )),
        "{events:?}"
    );
    assert!(
        events.iter().any(|e| matches!(
            e,
            Event::AttemptStarted { token: Some(g), .. } if *g == TokenGeneration::new(2)
        )),
        "{events:?}"
    );

    // The next refresh goes to the endpoint the last answer named, with the new token.
    let mut third = sent(&state);
    third.handle_response(expired(), now());
    let refresh = next_send(&mut third, Purpose::TokenRefresh);
    assert_eq!(
        refresh.uri().to_string(),
        "https://oauth.bitrix.info/oauth/token/"
    );
    assert!(body_text(&refresh).contains("refresh_token=3s6lr4kr3cv2od4v853gvrchb875bwxb"));
    // invalid_grant while nobody else refreshed: a typed error.
    third.handle_response(answer(400, r#"{"error":"invalid_grant"}"#), now());
    match third.poll(now()) {
        Action::Done(Err(Error::TokenRefresh(e))) => {
            assert_eq!(e.failure, RefreshFailure::InvalidGrant);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(current(&*store).generation(), TokenGeneration::new(2));
}

#[test]
fn invalid_grant_after_someone_else_refreshed_uses_their_pair() {
    let store = Arc::new(MemoryTokenStore::new(TokenSet::new(
        AccessToken::new("a1"),
        RefreshToken::new("r1"),
    )));
    let mut ex = sent(&state_with(store.clone()));
    ex.handle_response(expired(), now());
    next_send(&mut ex, Purpose::TokenRefresh);
    // Another process refreshes first (its pair lands as generation 2)...
    let theirs = ready(store.replace(
        TokenGeneration::new(1),
        TokenSet::new(AccessToken::new("a2"), RefreshToken::new("r2")),
    ))
    .unwrap();
    assert_eq!(theirs.generation(), TokenGeneration::new(2));
    // ...so our refresh with the now-used refresh token is refused, and the call
    // replays with their pair.
    ex.handle_response(answer(400, r#"{"error":"invalid_grant"}"#), now());
    let replay = next_send(&mut ex, Purpose::Call);
    assert_eq!(access_of(&replay), "a2");
    assert_eq!(current(&*store).generation(), TokenGeneration::new(2));
}

#[test]
fn a_refreshed_pair_that_lost_the_race_gives_way_to_the_stored_one() {
    // Our lease ran out while the refresh was in flight; another holder stored its
    // pair first. Ours is not written over it: the call replays with theirs.
    let store = Arc::new(MemoryTokenStore::new(TokenSet::new(
        AccessToken::new("a1"),
        RefreshToken::new("r1"),
    )));
    let mut ex = sent(&state_with(store.clone()));
    ex.handle_response(expired(), now());
    next_send(&mut ex, Purpose::TokenRefresh);
    ready(store.replace(
        TokenGeneration::new(1),
        TokenSet::new(AccessToken::new("a2"), RefreshToken::new("r2")),
    ))
    .unwrap();
    ex.handle_response(answer(200, REFRESH_ANSWER), now());
    let replay = next_send(&mut ex, Purpose::Call);
    assert_eq!(access_of(&replay), "a2");
    let stored = current(&*store);
    assert_eq!(stored.generation(), TokenGeneration::new(2));
    assert_eq!(stored.refresh_token().expose_secret(), "r2");
}

/// A token store whose pair can be deleted meanwhile (a user who logged out, say).
#[derive(Debug)]
struct Deletable(Mutex<Arc<MemoryTokenStore>>);

impl Deletable {
    fn holding(tokens: TokenSet) -> Self {
        Self(Mutex::new(Arc::new(MemoryTokenStore::new(tokens))))
    }

    fn delete(&self) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) =
            Arc::new(MemoryTokenStore::empty());
    }

    fn inner(&self) -> Arc<MemoryTokenStore> {
        Arc::clone(&self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

impl TokenStore for Deletable {
    fn current(&self) -> StoreCall<Option<TokenSet>> {
        self.inner().current()
    }

    fn replace(&self, seen: TokenGeneration, fresh: TokenSet) -> StoreCall<StaleOr<TokenSet>> {
        self.inner().replace(seen, fresh)
    }

    fn begin_refresh(
        &self,
        stale: TokenGeneration,
        holder: u64,
        now: Timestamp,
        lease: Duration,
    ) -> StoreCall<RefreshTurn> {
        self.inner().begin_refresh(stale, holder, now, lease)
    }

    fn end_refresh(&self, lease: &RefreshLease) -> StoreCall<()> {
        self.inner().end_refresh(lease)
    }
}

#[test]
fn an_empty_store_cannot_refresh() {
    // The store itself says so.
    let turn = ready(MemoryTokenStore::empty().begin_refresh(
        TokenGeneration::new(1),
        1,
        now(),
        REFRESH_LEASE,
    ));
    assert!(matches!(turn, RefreshTurn::Empty), "{turn:?}");

    // A pair deleted after the call went out: the 401 cannot be refreshed.
    let store = Arc::new(Deletable::holding(TokenSet::new(
        AccessToken::new("a1"),
        RefreshToken::new("r1"),
    )));
    let mut ex = sent(&state_with(store.clone()));
    store.delete();
    ex.handle_response(expired(), now());
    match ex.poll(now()) {
        Action::Done(Err(Error::TokenRefresh(e))) => {
            assert_eq!(e.failure, RefreshFailure::NoRefreshToken);
            assert!(e.needs_reauthorization());
        }
        other => panic!("{other:?}"),
    }

    // Nothing stored from the start: refused before any request.
    let state = state_with(Arc::new(MemoryTokenStore::empty()));
    let mut ex = Exchange::new(
        &oauth_portal(),
        TaskResultDelete::new(ResultId::new(1).unwrap()),
        &state,
    )
    .unwrap();
    assert!(matches!(
        ex.poll(now()),
        Action::Done(Err(Error::InvalidInput(InputError::MissingAccessToken)))
    ));
}

#[test]
fn a_refresh_needs_the_oauth_app() {
    // Tokens but no application credentials: the 401 ends the call, typed, without
    // a refresh request.
    let store = Arc::new(MemoryTokenStore::new(TokenSet::new(
        AccessToken::new("a1"),
        RefreshToken::new("r1"),
    )));
    let state = PortalState::new(1).token_store(store);
    let mut ex = sent(&state);
    ex.handle_response(expired(), now());
    match ex.poll(now()) {
        Action::Done(Err(Error::InvalidInput(InputError::Param { field, .. }))) => {
            assert_eq!(field, "oauth_app");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn token_set_builders_and_getters() {
    let set = TokenSet::new(AccessToken::new("a"), RefreshToken::new("r"))
        .with_expiry(Timestamp::from_unix_secs(4_600))
        .with_server_endpoint("https://oauth.bitrix.info/rest/");
    assert_eq!(set.expires_at(), Some(Timestamp::from_unix_secs(4_600)));
    assert_eq!(
        set.server_endpoint(),
        Some("https://oauth.bitrix.info/rest/")
    );
    assert_eq!(set.generation(), TokenGeneration::NONE);
    let bare = TokenSet::new(AccessToken::new("a"), RefreshToken::new("r"));
    assert_eq!((bare.expires_at(), bare.server_endpoint()), (None, None));
}

#[test]
fn one_loopback_definition_for_portals_and_token_urls() {
    use b24_core::engine::token_url_from_server_endpoint;
    use b24_core::is_loopback_host;
    for host in [
        "localhost",
        "emu.localhost",
        "127.0.0.1",
        "127.1.2.3",
        "[::1]",
    ] {
        assert!(is_loopback_host(host), "{host}");
        // What a portal accepts over plain http, a token URL accepts too.
        let portal = b24_core::Portal::builder()
            .allow_plain_http_to_loopback(true)
            .oauth(&format!("http://{host}:8080"));
        assert!(portal.is_ok(), "{host}");
        assert_eq!(
            token_url_from_server_endpoint(&format!("https://{host}:8443/rest/")),
            Some(format!("https://{host}:8443/oauth/token/")),
            "{host}"
        );
        let app = app().allow_plain_http_to_loopback(true);
        assert_eq!(
            app.resolve_token_url(Some(&format!("http://{host}:8080/rest/"))),
            format!("http://{host}:8080/oauth/token/"),
            "{host}"
        );
    }
    for host in [
        "example.com",
        "128.0.0.1",
        "localhost.example.com",
        "10.0.0.1",
    ] {
        assert!(!is_loopback_host(host), "{host}");
        assert_eq!(
            token_url_from_server_endpoint(&format!("https://{host}/rest/")),
            None,
            "{host}"
        );
    }
}

#[test]
fn the_client_secret_goes_only_to_an_oauth_server() {
    let token = RefreshToken::new("r");
    let url = |app: &OAuthApp, endpoint: &str| {
        app.refresh_request(&token, Some(endpoint))
            .unwrap()
            .uri()
            .to_string()
    };
    // The official servers (and hosts under bitrix.info), over https.
    for (endpoint, want) in [
        (
            "https://oauth.bitrix.info/rest/",
            "https://oauth.bitrix.info/oauth/token/",
        ),
        (
            "https://oauth.bitrix24.tech/rest/",
            "https://oauth.bitrix24.tech/oauth/token/",
        ),
        (
            "https://eu.bitrix.info/rest/",
            "https://eu.bitrix.info/oauth/token/",
        ),
        (
            "https://OAuth.Bitrix.Info/rest/",
            "https://OAuth.Bitrix.Info/oauth/token/",
        ),
        // A local test server over https.
        (
            "https://127.0.0.1:9443/rest/",
            "https://127.0.0.1:9443/oauth/token/",
        ),
    ] {
        assert_eq!(url(&app(), endpoint), want, "{endpoint}");
    }
    // Never the portal (its client_endpoint stored as the server endpoint by
    // mistake), a look-alike host, plain http, or an address with user credentials.
    for endpoint in [
        "https://example.bitrix24.com/rest/",
        "https://portal.bitrix24.ru/rest/",
        "https://oauth.bitrix.info.evil.example/rest/",
        "https://evilbitrix.info/rest/",
        "https://bitrix.info.example/rest/",
        "http://oauth.bitrix.info/rest/",
        "https://user:pw@oauth.bitrix.info/rest/",
        "https://x@oauth.bitrix.info/rest/",
        "ftp://oauth.bitrix.info/rest/",
        // Plain http to a loopback host needs the app's consent.
        "http://127.0.0.1:9000/rest/",
        "http://localhost/rest/",
    ] {
        assert_eq!(url(&app(), endpoint), DEFAULT_TOKEN_URL, "{endpoint}");
    }
    let local = app().allow_plain_http_to_loopback(true);
    assert_eq!(
        url(&local, "http://127.0.0.1:9000/rest/"),
        "http://127.0.0.1:9000/oauth/token/"
    );
    // Consent covers loopback hosts only.
    assert_eq!(
        url(&local, "http://oauth.bitrix.info/rest/"),
        DEFAULT_TOKEN_URL
    );
    assert_eq!(
        url(&local, "https://example.bitrix24.com/rest/"),
        DEFAULT_TOKEN_URL
    );
    // An explicit token URL is the user's choice and is used as given.
    let explicit = app().token_url("https://auth-proxy.example/oauth/token/");
    assert_eq!(
        url(&explicit, "https://oauth.bitrix.info/rest/"),
        "https://auth-proxy.example/oauth/token/"
    );
}
