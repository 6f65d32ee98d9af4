#![allow(clippy::unwrap_used)]

use super::*;

fn t(ms: u64) -> Timestamp {
    Timestamp::from_unix_millis(1_000_000 + ms)
}

fn webhook(user: u64, secret: &str) -> (Portal, CredentialId) {
    let portal = Portal::webhook(&format!("https://p.example/rest/{user}/{secret}/")).unwrap();
    let id = CredentialId::of(&portal, None);
    (portal, id)
}

#[test]
fn credentials_of_one_host_share_the_host_store_and_scopes_share_budgets() {
    let r = Registry::new(7);
    let (a, a_id) = webhook(1, "aaaaaaaaaaaaaaaa");
    let (b, b_id) = webhook(1, "bbbbbbbbbbbbbbbb");
    let sa = r.lease(&a, &a_id, t(0));
    let sb = r.lease(&b, &b_id, t(0));
    assert!(Arc::ptr_eq(sa.host(), sb.host()));
    assert!(!Arc::ptr_eq(sa.budgets(), sb.budgets()));
    assert_eq!(r.host_count(), 1);
    assert_eq!(r.credential_count(), 2);

    // OAuth users of the app share the budgets, not the tokens.
    let o = Portal::oauth("https://p.example").unwrap();
    let u1 = CredentialId::of(&o, Some(&OAuthUser::new("1").unwrap()));
    let u2 = CredentialId::of(&o, Some(&OAuthUser::new("2").unwrap()));
    let s1 = r.lease(&o, &u1, t(0));
    let s2 = r.lease(&o, &u2, t(0));
    assert!(Arc::ptr_eq(s1.budgets(), s2.budgets()));
    assert!(Arc::ptr_eq(s1.host(), sa.host()));
    assert!(!Arc::ptr_eq(s1.budgets(), sa.budgets()));
    let (Some(k1), Some(k2)) = (s1.tokens(), s2.tokens()) else {
        panic!("OAuth credentials get token stores");
    };
    assert!(!Arc::ptr_eq(k1, k2));
    assert!(sa.tokens().is_none(), "webhooks have no tokens");
}

#[test]
fn a_registered_host_store_is_shared_by_every_credential_of_the_host() {
    let r = Registry::new(7);
    let (a, a_id) = webhook(1, "aaaaaaaaaaaaaaaa");
    let (b, b_id) = webhook(2, "bbbbbbbbbbbbbbbb");
    let before = r.lease(&b, &b_id, t(0)).state().clone();
    let state = r.new_state().bucket(BucketConfig::enterprise());
    let host = Arc::clone(state.host());
    r.register(&a, &a_id, state, t(0));
    let after = r.lease(&b, &b_id, t(0)).state().clone();
    assert!(Arc::ptr_eq(after.host(), &host));
    assert!(!Arc::ptr_eq(before.host(), &host));
    assert!(
        Arc::ptr_eq(after.budgets(), before.budgets()),
        "b's budgets kept"
    );
}

#[test]
fn idle_entries_go_but_not_pinned_or_leased_ones() {
    let r = Registry::new(7).idle_timeout(Duration::from_millis(30));
    let (a, a_id) = webhook(1, "aaaaaaaaaaaaaaaa");
    let (b, b_id) = webhook(2, "bbbbbbbbbbbbbbbb");
    let (c, c_id) = webhook(3, "cccccccccccccccc");
    drop(r.lease(&a, &a_id, t(0)));
    let held = r.lease(&b, &b_id, t(0));
    r.register(&c, &c_id, r.new_state(), t(0));
    assert_eq!(
        r.evict_idle(t(60)),
        1,
        "only the idle, unheld, unregistered one"
    );
    assert_eq!(r.credential_count(), 2);
    drop(held);
    // Used at t(0), idle since: it goes now that no call holds it.
    assert_eq!(r.evict_idle(t(61)), 1);
    assert_eq!(
        r.host_count(),
        1,
        "the registered credential keeps the host"
    );
    assert!(r.forget(&c, &c_id));
    assert_eq!(
        r.host_count(),
        1,
        "its host store was installed by the caller"
    );
    assert!(r.forget_host(&c));
    assert_eq!(r.host_count(), 0);
}

#[test]
fn a_sweep_rides_on_lookups() {
    let r = Registry::new(7).idle_timeout(Duration::from_millis(20));
    for n in 1..=50u64 {
        let portal =
            Portal::webhook(&format!("https://p{n}.example/rest/1/secretsecret/")).unwrap();
        drop(r.lease(&portal, &CredentialId::of(&portal, None), t(0)));
    }
    assert_eq!(r.host_count(), 50);
    let (a, a_id) = webhook(1, "aaaaaaaaaaaaaaaa");
    drop(r.lease(&a, &a_id, t(40)));
    assert_eq!(r.host_count(), 1, "the lookup swept the 50 idle hosts");
}

#[test]
fn an_oauth_credential_gets_the_registrys_app() {
    let app = OAuthApp::new("app.1", b24_types::ClientSecret::new("s3cr3t"));
    let r = Registry::new(7).oauth_app(app);
    let o = Portal::oauth("https://p.example").unwrap();
    let lease = r.lease(&o, &CredentialId::of(&o, None), t(0));
    assert_eq!(lease.app().map(|a| a.client_id()), Some("app.1"));
}

#[test]
fn an_oauth_credentials_lease_has_a_token_store_and_the_registrys_app() {
    let app = OAuthApp::new("app.1", b24_types::ClientSecret::new("s3cr3t"));
    let r = Registry::new(7).oauth_app(app);
    let o = Portal::oauth("https://p.example").unwrap();
    let u1 = CredentialId::of(&o, Some(&OAuthUser::new("1").unwrap()));
    let u2 = CredentialId::of(&o, Some(&OAuthUser::new("2").unwrap()));
    let l1 = r.lease(&o, &u1, t(0));
    let l2 = r.lease(&o, &u2, t(0));
    assert!(l1.tokens().is_some() && l2.tokens().is_some());
    let (Some(a1), Some(a2)) = (l1.app(), l2.app()) else {
        panic!("OAuth credentials get the registry's app");
    };
    assert!(Arc::ptr_eq(a1, a2), "one app, shared");
    assert_eq!(a1.client_id(), "app.1");
    // A state made to register carries it too.
    assert_eq!(r.new_state().app().map(|a| a.client_id()), Some("app.1"));
    // A webhook needs neither.
    let (w, w_id) = webhook(1, "aaaaaaaaaaaaaaaa");
    let lw = r.lease(&w, &w_id, t(0));
    assert!(lw.tokens().is_none() && lw.app().is_none());
}

#[test]
fn a_leased_oauth_state_refreshes_with_the_registrys_app() {
    use crate::engine::{Action, Exchange, Purpose, TokenSet};
    use crate::methods::TaskResultDelete;
    use crate::types::ResultId;
    use b24_types::{AccessToken, RefreshToken};

    let app = OAuthApp::new("app.1", b24_types::ClientSecret::new("s3cr3t"));
    let r = Registry::new(7).oauth_app(app);
    let o = Portal::oauth("https://p.example").unwrap();
    let id = CredentialId::of(&o, Some(&OAuthUser::new("1").unwrap()));
    let tokens = Arc::new(MemoryTokenStore::new(TokenSet::new(
        AccessToken::new("a1"),
        RefreshToken::new("r1"),
    )));
    r.register_tokens(&o, &id, tokens, t(0));
    let lease = r.lease(&o, &id, t(0));
    let mut ex =
        Exchange::new(&o, TaskResultDelete::new(ResultId::new(1).unwrap()), &lease).unwrap();
    assert!(matches!(ex.poll(t(0)), Action::Send(_)));
    let expired = http::Response::builder()
        .status(401)
        .body(bytes::Bytes::from_static(
            br#"{"error":"expired_token","error_description":"expired"}"#,
        ))
        .unwrap();
    ex.handle_response(expired, t(0));
    match ex.poll(t(0)) {
        Action::Send(out) => {
            assert_eq!(out.purpose(), Purpose::TokenRefresh);
            let body = std::str::from_utf8(out.body()).unwrap();
            assert!(body.contains("client_id=app.1"), "{body}");
            assert!(body.contains("refresh_token=r1"), "{body}");
        }
        other => panic!("expected the refresh request, got {other:?}"),
    }
}

/// A backend that makes memory stores and notes what it was asked for.
#[derive(Debug, Default)]
struct Counting {
    asked: Mutex<Vec<String>>,
}

impl Counting {
    fn note(&self, what: String) {
        self.asked
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(what);
    }

    /// How many requests start with `prefix`.
    fn count(&self, prefix: &str) -> usize {
        self.asked
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter(|a| a.starts_with(prefix))
            .count()
    }
}

impl StoreBackend for Counting {
    fn host_store(&self, host: &str, bucket: BucketConfig) -> Arc<dyn HostStore> {
        self.note(format!("host {host}"));
        MemoryBackend.host_store(host, bucket)
    }

    fn budget_store(
        &self,
        host: &str,
        scope: &BudgetScope,
        config: BudgetConfig,
    ) -> Arc<dyn BudgetStore> {
        self.note(format!("budget {host} {scope}"));
        MemoryBackend.budget_store(host, scope, config)
    }

    fn token_store(&self, host: &str, credential: &CredentialId) -> Arc<dyn TokenStore> {
        self.note(format!("token {host} {credential}"));
        MemoryBackend.token_store(host, credential)
    }
}

#[test]
fn the_backend_is_asked_once_per_host_scope_and_credential() {
    let backend = Arc::new(Counting::default());
    let r = Registry::new(7)
        .backend(backend.clone())
        .idle_timeout(Duration::from_millis(30));
    let (a, a_id) = webhook(1, "aaaaaaaaaaaaaaaa");
    let (b, b_id) = webhook(2, "bbbbbbbbbbbbbbbb");
    let o = Portal::oauth("https://p.example").unwrap();
    let u1 = CredentialId::of(&o, Some(&OAuthUser::new("1").unwrap()));
    let u2 = CredentialId::of(&o, Some(&OAuthUser::new("2").unwrap()));
    let credentials = [(&a, &a_id), (&b, &b_id), (&o, &u1), (&o, &u2)];
    for round in 0..3 {
        for (portal, id) in credentials {
            drop(r.lease(portal, id, t(round)));
        }
    }
    // One host; a budget scope per webhook and one for the app's users; a token
    // store per OAuth user.
    assert_eq!(backend.count("host "), 1);
    assert_eq!(backend.count("host p.example"), 1);
    assert_eq!(backend.count("budget "), 3);
    assert_eq!(backend.count("token "), 2);
    assert_eq!(backend.count("token p.example"), 2);

    // Another host gets its own stores.
    let q = Portal::webhook("https://q.example/rest/1/secretsecret/").unwrap();
    let q_id = CredentialId::of(&q, None);
    drop(r.lease(&q, &q_id, t(3)));
    drop(r.lease(&q, &q_id, t(3)));
    assert_eq!(backend.count("host q.example"), 1);
    assert_eq!(backend.count("budget q.example"), 1);
    assert_eq!(backend.count("token "), 2, "a webhook has no tokens");

    // State dropped for being idle is asked for again on the next use.
    assert_eq!(r.evict_idle(t(100)), 5);
    drop(r.lease(&o, &u1, t(100)));
    assert_eq!(backend.count("host p.example"), 2);
    assert_eq!(backend.count("budget "), 5);
    assert_eq!(backend.count("token "), 3);
}
