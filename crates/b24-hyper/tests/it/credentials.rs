//! Shared state per credential: the operating budgets and tokens belong to one webhook
//! or one OAuth user, the request-rate bucket to the whole portal.

use std::sync::Arc;
use std::time::{Duration, Instant};

use b24_core::engine::{BucketConfig, MemoryTokenStore, OAuthApp, TokenSet, TokenStore};
use b24_core::Portal;
use b24_emulator::{Emulator, PortalConfig};
use b24_hyper::{Error, OAuthUser};
use b24_types::{ClientSecret, TaskId};

use crate::emu;

fn task(id: u64) -> TaskId {
    TaskId::new(id).unwrap()
}

fn is_operating_limit(err: &Error) -> bool {
    matches!(err, Error::Core(b24_core::Error::OperatingLimit { .. }))
}

#[tokio::test]
async fn a_webhook_blocked_by_its_operating_limit_does_not_hold_another() {
    // Each tasks.task.get costs 0.6 s of a 1 s budget: the third call of one webhook
    // is refused with a 429 whose reset is ten minutes away.
    let env = emu::start_with(
        Emulator::builder().portal(
            PortalConfig::new("localhost")
                .bucket(50, 500.0)
                .operating_limit(1.0)
                .operating_cost("tasks.task.get", 0.6),
        ),
        &[],
        |b| b.bucket(BucketConfig::custom(50, 500.0).unwrap()),
    )
    .await;
    let emu_portal = env.server.portal();
    let first = env.webhook("localhost", 1);
    let second = env.webhook("localhost", 2);
    assert_ne!(
        env.client.credential_id(&first),
        env.client.credential_id(&second)
    );

    env.client.task_chat_id(&first, task(51)).await.unwrap();
    env.client.task_chat_id(&first, task(51)).await.unwrap();
    let err = env.client.task_chat_id(&first, task(51)).await.unwrap_err();
    assert!(is_operating_limit(&err), "{err:?}");
    assert_eq!(err.status(), Some(429), "the portal said so: {err:?}");
    assert_eq!(emu_portal.calls("tasks.task.get"), 3);

    // The first webhook is now held by the client, without a request.
    let err = env.client.task_chat_id(&first, task(51)).await.unwrap_err();
    assert!(is_operating_limit(&err), "{err:?}");
    assert_eq!(err.status(), None, "refused before sending: {err:?}");
    assert_eq!(emu_portal.calls("tasks.task.get"), 3);

    // The second webhook's budget is its own: it still runs, twice, and then meets
    // its own limit.
    for _ in 0..2 {
        assert_eq!(
            env.client
                .task_chat_id(&second, task(51))
                .await
                .unwrap()
                .get(),
            58
        );
    }
    let err = env
        .client
        .task_chat_id(&second, task(51))
        .await
        .unwrap_err();
    assert!(is_operating_limit(&err), "{err:?}");
    assert_eq!(emu_portal.calls("tasks.task.get"), 6);

    // Other methods of the blocked webhook are unaffected.
    env.client
        .task_results(&first)
        .add(task(51), "still writing")
        .await
        .unwrap();
    assert_eq!(env.client.portal_count(), 1);
    assert_eq!(env.client.credential_count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_of_one_portal_share_its_request_bucket() {
    const EACH: usize = 10;
    // A bucket of 5 draining 20/s on the portal, mirrored by the client. Twenty calls
    // through two webhooks: three leave at once (5 less the margin of 2), seventeen
    // at 20/s, so about 0.85 s, and none is refused. Two separate limiters would send
    // six at once and refuse some.
    let env = emu::start_with(
        Emulator::builder().portal(PortalConfig::new("localhost").bucket(5, 20.0)),
        &[],
        |b| b.bucket(BucketConfig::custom(5, 20.0).unwrap()),
    )
    .await;
    let first = env.webhook("localhost", 1);
    let second = env.webhook("localhost", 2);
    let a = env.client.portal_state(&first);
    let b = env.client.portal_state(&second);
    assert!(Arc::ptr_eq(a.host(), b.host()), "one limiter per host");
    assert!(
        !Arc::ptr_eq(a.budgets(), b.budgets()),
        "budgets per webhook"
    );

    let started = Instant::now();
    let mut calls = Vec::new();
    for n in 0..EACH * 2 {
        let portal = if n % 2 == 0 {
            first.clone()
        } else {
            second.clone()
        };
        let client = env.client.clone();
        calls.push(tokio::spawn(async move {
            client.task_chat_id(&portal, task(51)).await
        }));
    }
    for call in calls {
        call.await.unwrap().unwrap();
    }
    let took = started.elapsed();
    println!("{} calls through two webhooks in {took:?}", EACH * 2);
    assert_eq!(
        env.server.portal().calls("tasks.task.get"),
        (EACH * 2) as u64,
        "no request was refused and repeated"
    );
    assert!(took >= Duration::from_millis(700), "{took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_oauth_users_of_one_portal_keep_their_own_tokens() {
    let server = Emulator::builder()
        .portal(PortalConfig::new("localhost").bucket(50, 500.0))
        .build()
        .serve_https()
        .await
        .unwrap();
    let app = OAuthApp::new(
        server.emulator().oauth_client_id(),
        ClientSecret::new(server.emulator().oauth_client_secret()),
    )
    .token_url(server.token_url());
    let client = emu::client_for(&server, &[])
        .bucket(BucketConfig::custom(50, 500.0).unwrap())
        .oauth_app(app)
        .build()
        .unwrap();
    let emu_portal = server.portal();
    let portal = Portal::oauth(&format!("https://localhost:{}", server.addr().port())).unwrap();

    let mut users = Vec::new();
    for id in [1u64, 2] {
        let (access, refresh) = emu_portal.issue_tokens(id).unwrap();
        let store = Arc::new(MemoryTokenStore::new(TokenSet::new(
            access.clone(),
            refresh,
        )));
        let as_user = client.as_oauth_user(OAuthUser::new(format!("user:{id}")).unwrap());
        as_user.register_oauth_portal(&portal, store.clone());
        users.push((id, as_user, store, access));
    }
    assert_eq!(client.credential_count(), 2);
    let s1 = users[0].1.portal_state(&portal);
    let s2 = users[1].1.portal_state(&portal);
    assert!(Arc::ptr_eq(s1.host(), s2.host()));
    assert!(
        Arc::ptr_eq(s1.budgets(), s2.budgets()),
        "one app, one budget"
    );

    // Each user's calls carry that user's token.
    for (id, as_user, _, _) in &users {
        as_user
            .task_results(&portal)
            .add(task(51), &format!("by {id}"))
            .await
            .unwrap();
    }
    let mut authors: Vec<(u64, String)> = emu_portal
        .results()
        .into_iter()
        .map(|r| (r.author_id, r.text))
        .collect();
    authors.sort();
    assert_eq!(
        authors,
        vec![(1, "by 1".to_owned()), (2, "by 2".to_owned())]
    );

    // User 1's token expires: only user 1's store is refreshed.
    assert!(emu_portal.expire_token(&users[0].3));
    users[0]
        .1
        .task_results(&portal)
        .add(task(51), "after refresh")
        .await
        .unwrap();
    assert_eq!(emu_portal.calls("oauth.token"), 1);
    assert_eq!(
        users[0]
            .2
            .current()
            .await
            .unwrap()
            .unwrap()
            .generation()
            .get(),
        2
    );
    assert_eq!(
        users[1]
            .2
            .current()
            .await
            .unwrap()
            .unwrap()
            .generation()
            .get(),
        1
    );
    assert!(users[1]
        .2
        .current()
        .await
        .unwrap()
        .unwrap()
        .access_token()
        .ct_eq(&users[1].3));

    // The default user has no store: refused before sending.
    let err = client
        .task_results(&portal)
        .add(task(51), "nobody")
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Core(b24_core::Error::InvalidInput(_))),
        "{err:?}"
    );
    assert_eq!(emu_portal.results().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_portals_are_dropped_but_not_registered_or_busy_ones() {
    let hosts = [
        "p1.localhost",
        "p2.localhost",
        "p3.localhost",
        "p4.localhost",
    ];
    let mut emulator = Emulator::builder();
    for host in hosts {
        emulator = emulator.portal(PortalConfig::new(host).bucket(50, 500.0));
    }
    let env = emu::start_with(emulator, &hosts, |b| {
        b.bucket(BucketConfig::custom(50, 500.0).unwrap())
            .idle_portal_timeout(Duration::from_millis(200))
    })
    .await;
    let client = &env.client;
    let [p1, p2, p3, p4] = hosts.map(|h| env.webhook(h, 1));

    client.task_chat_id(&p1, task(51)).await.unwrap();
    // p3's state is installed by the caller: kept however idle.
    client.register_portal(&p3, client.new_portal_state());
    assert_eq!(client.portal_count(), 2);

    // A call on p2 that takes 800 ms.
    env.emu_portal("p2.localhost")
        .inject(b24_emulator::Fault::delay(Duration::from_millis(800)).on("tasks.task.get"));
    let slow = {
        let client = client.clone();
        let p2 = p2.clone();
        tokio::spawn(async move { client.task_chat_id(&p2, task(51)).await })
    };
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(client.portal_count(), 3);

    // The next call's lookup sweeps: p1 has been idle for 400 ms and goes; p2 is
    // busy, p3 registered.
    client.task_chat_id(&p4, task(51)).await.unwrap();
    assert_eq!(client.portal_count(), 3, "p1 dropped, p4 added");
    let before = client.portal_state(&p1);
    assert_eq!(client.portal_count(), 4, "p1 made afresh");
    drop(before);

    assert_eq!(slow.await.unwrap().unwrap().get(), 58);
    tokio::time::sleep(Duration::from_millis(300)).await;
    // p1, p2 and p4 are idle now.
    assert_eq!(client.evict_idle_portals(), 3);
    assert_eq!(client.portal_count(), 1);
    assert_eq!(client.credential_count(), 1);
    assert!(client.forget_credential(&p3));
    assert_eq!(
        client.portal_count(),
        1,
        "its installed limiter keeps the host"
    );
    assert!(client.forget_portal(&p3));
    assert_eq!(client.portal_count(), 0);
}
