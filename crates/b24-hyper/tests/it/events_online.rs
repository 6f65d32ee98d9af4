//! Online events: the portal POSTs ONTASKCOMMENTADD to the receiver, the result bot
//! turns a "Result:" message into exactly one result, and the notice the portal posts
//! about it does not loop. Forged, repeated and malformed deliveries.

use std::sync::Arc;
use std::time::Duration;

use b24_core::events::{InstallPolicy, MemoryApplicationTokens, Verified};
use b24_core::methods::EventBind;
use b24_core::types::events::{names, EventPayload, MemberId};
use b24_emulator::{DeliveryStatus, EventFault};
use b24_hyper::Receiver;
use b24_types::{ApplicationToken, MessageId};
use bytes::Bytes;
use http::StatusCode;
use http_body_util::Full;

use crate::events_support::{event_env, eventually, EventEnv};

const FORM: &str = "application/x-www-form-urlencoded";

/// Binds `url` for ONTASKCOMMENTADD as the app.
async fn bind(env: &EventEnv, url: &str) {
    let bound = env
        .client
        .execute(
            &env.portal,
            EventBind::online(names::ON_TASK_COMMENT_ADD, url).unwrap(),
        )
        .await
        .unwrap();
    assert!(bound.result);
}

fn post(body: impl Into<Bytes>, content_type: Option<&str>) -> http::Request<Full<Bytes>> {
    let mut b = http::Request::post("/b24/events");
    if let Some(ct) = content_type {
        b = b.header(http::header::CONTENT_TYPE, ct);
    }
    b.body(Full::new(body.into())).unwrap()
}

/// The results made from `message`, as the portal stores them.
fn results_from(env: &EventEnv, message: MessageId) -> usize {
    env.emu()
        .results()
        .iter()
        .filter(|r| r.message_id == Some(message.get()))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_result_message_makes_one_result_and_the_notice_does_not_loop() {
    let env = event_env().await;
    let (_receiver, queue, _server, url) = env.receiver().await;
    bind(&env, &url).await;
    let bot = Arc::new(env.bot());
    let running = {
        let bot = bot.clone();
        tokio::spawn(async move { bot.run_online(queue).await })
    };

    let message = env.anna_posts("Result: report attached").await;
    // Her message makes the result; the result's notice (author 0) fires the event
    // again and is skipped.
    assert!(
        eventually(Duration::from_secs(10), || bot.counts().created() == 1
            && bot.counts().system() == 1)
        .await,
        "created {}, notices {}",
        bot.counts().created(),
        bot.counts().system()
    );
    assert_eq!(results_from(&env, message), 1);
    let results = env.emu().results();
    assert_eq!(results.len(), 1);
    assert_eq!(results[0].text, "Result: report attached");
    assert_eq!(results[0].author_id, 1);

    // Five seconds later, still one result: nothing looped.
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(env.emu().wait_for_deliveries(Duration::from_secs(5)).await);
    assert_eq!(env.emu().results().len(), 1);
    let deliveries = env.emu().deliveries();
    assert_eq!(
        deliveries.len(),
        2,
        "her message and the notice: {deliveries:?}"
    );
    assert!(deliveries
        .iter()
        .all(|d| d.status == DeliveryStatus::Answered(200)));
    assert_eq!(bot.counts().total(), 2);
    let notice = env.emu().messages(58).pop().unwrap();
    assert_eq!(notice.author_id, 0);
    running.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bot_skips_its_own_messages_and_messages_off_the_rule() {
    let env = event_env().await;
    let (_receiver, queue, _server, url) = env.receiver().await;
    bind(&env, &url).await;
    let bot = Arc::new(env.bot());
    let running = {
        let bot = bot.clone();
        tokio::spawn(async move { bot.run_online(queue).await })
    };
    // The bot's own user (1) writes a "Result:" message; Anna writes small talk.
    env.emu()
        .add_message(58, 1, "Result: from the bot's own user")
        .unwrap();
    env.anna_posts("lunch at noon?").await;
    assert!(
        eventually(Duration::from_secs(10), || bot.counts().total() == 2).await,
        "{:?}",
        bot.counts()
    );
    assert_eq!(bot.counts().own(), 1);
    assert_eq!(bot.counts().no_match(), 1);
    assert!(env.emu().results().is_empty());
    running.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_doubled_delivery_makes_one_result() {
    let env = event_env().await;
    let (_receiver, queue, _server, url) = env.receiver().await;
    bind(&env, &url).await;
    env.emu().inject_event_fault(EventFault::double());
    let bot = Arc::new(env.bot());
    let running = {
        let bot = bot.clone();
        tokio::spawn(async move { bot.run_online(queue).await })
    };
    let message = env.anna_posts("Result: twice delivered").await;
    assert!(
        eventually(Duration::from_secs(10), || bot.counts().total() == 3).await,
        "{:?}",
        bot.counts()
    );
    assert!(env.emu().wait_for_deliveries(Duration::from_secs(5)).await);
    assert_eq!(env.emu().deliveries().len(), 3);
    assert_eq!(bot.counts().created(), 1);
    assert_eq!(bot.counts().duplicates(), 1);
    assert_eq!(results_from(&env, message), 1);
    running.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_delivery_is_never_sent_again() {
    let env = event_env().await;
    let (receiver, _queue, _server, url) = env.receiver().await;
    bind(&env, &url).await;
    env.emu().inject_event_fault(EventFault::drop());
    env.anna_posts("Result: lost").await;
    assert!(env.emu().wait_for_deliveries(Duration::from_secs(5)).await);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let log = env.emu().deliveries();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].status, DeliveryStatus::Dropped);
    assert_eq!(receiver.stats().accepted, 0);
    assert!(env.emu().results().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_token_is_refused_and_a_replayed_delivery_makes_one_result() {
    let env = event_env().await;
    let (receiver, queue, _server, url) = env.receiver().await;
    bind(&env, &url).await;
    // The portal's real delivery reaches a bot that is not running yet.
    let message = env.anna_posts("Result: replayed").await;
    assert!(env.emu().wait_for_deliveries(Duration::from_secs(5)).await);
    let real = env.emu().deliveries().pop().unwrap().body;
    assert_eq!(receiver.stats().accepted, 1);

    // A forged copy: the same body with another application token.
    let token = env.emu().application_token();
    let text = String::from_utf8(real.to_vec()).unwrap();
    let genuine = format!("auth%5Bapplication_token%5D={}", token.expose_secret());
    assert!(text.contains(&genuine));
    for (forged_token, want) in [
        ("0".repeat(32), StatusCode::FORBIDDEN),
        (format!("{}x", token.expose_secret()), StatusCode::FORBIDDEN),
        // An empty token is no token: a malformed delivery.
        (String::new(), StatusCode::BAD_REQUEST),
    ] {
        let forged = text.replace(
            &genuine,
            &format!("auth%5Bapplication_token%5D={forged_token}"),
        );
        let answer = receiver.handle(post(forged, Some(FORM))).await;
        assert_eq!(answer.status(), want);
    }
    // One from a portal the receiver has no token for fails closed.
    let stranger = text.replace(
        &format!("auth%5Bmember_id%5D={}", env.emu().member_id()),
        "auth%5Bmember_id%5D=someoneelse",
    );
    assert_eq!(
        receiver.handle(post(stranger, Some(FORM))).await.status(),
        StatusCode::FORBIDDEN
    );
    let stats = receiver.stats();
    assert_eq!((stats.unverified, stats.malformed), (3, 1), "{stats:?}");
    assert_eq!(stats.accepted, 1);

    // The genuine delivery replayed twice: three in the queue, one result.
    for _ in 0..2 {
        assert_eq!(
            receiver
                .handle(post(real.clone(), Some(FORM)))
                .await
                .status(),
            StatusCode::OK
        );
    }
    let bot = Arc::new(env.bot());
    let running = {
        let bot = bot.clone();
        tokio::spawn(async move { bot.run_online(queue).await })
    };
    assert!(
        eventually(Duration::from_secs(10), || bot.counts().created() == 1
            && bot.counts().duplicates() == 2
            && bot.counts().system() == 1)
        .await,
        "{:?}",
        bot.counts()
    );
    assert_eq!(results_from(&env, message), 1);
    assert_eq!(env.emu().results().len(), 1);
    running.abort();
}

#[tokio::test]
async fn bad_deliveries_get_typed_answers_and_queue_nothing() {
    let tokens = Arc::new(MemoryApplicationTokens::with(
        MemberId::new("m1"),
        ApplicationToken::new("t0k3n"),
    ));
    let (receiver, mut queue) = Receiver::builder(tokens).max_body(1024).build();
    let good = "event=ONTASKCOMMENTADD&data%5BFIELDS_AFTER%5D%5BMESSAGE_ID%5D=5\
                &data%5BFIELDS_AFTER%5D%5BTASK_ID%5D=51\
                &auth%5Bmember_id%5D=m1&auth%5Bapplication_token%5D=t0k3n";
    let get = http::Request::get("/b24/events")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let answer = receiver.handle(get).await;
    assert_eq!(answer.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(answer.headers()[http::header::ALLOW], "POST");
    for (body, content_type, want) in [
        (
            Bytes::from(r#"{"event":"ONTASKCOMMENTADD"}"#),
            Some("application/json"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            Bytes::from(vec![b'a'; 2000]),
            Some(FORM),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
        // No `event`.
        (
            Bytes::from("auth%5Bmember_id%5D=m1&auth%5Bapplication_token%5D=t0k3n"),
            Some(FORM),
            StatusCode::BAD_REQUEST,
        ),
        // No `auth`.
        (
            Bytes::from("event=ONTASKADD"),
            Some(FORM),
            StatusCode::BAD_REQUEST,
        ),
        // JSON sent without a content type is not an event either.
        (
            Bytes::from(r#"{"event":"ONTASKCOMMENTADD"}"#),
            None,
            StatusCode::BAD_REQUEST,
        ),
        // Not UTF-8 once decoded.
        (
            Bytes::from(format!("{good}&x=%FF")),
            Some(FORM),
            StatusCode::BAD_REQUEST,
        ),
        // A slot that is neither fields nor "undefined".
        (
            Bytes::from(format!("{good}&data%5BFIELDS_BEFORE%5D=garbage")),
            Some(FORM),
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let answer = receiver.handle(post(body, content_type)).await;
        assert_eq!(answer.status(), want, "{content_type:?}");
    }
    assert!(queue.try_recv().is_none());
    let stats = receiver.stats();
    assert_eq!(
        (
            stats.wrong_method,
            stats.wrong_media_type,
            stats.too_large,
            stats.malformed,
            stats.accepted
        ),
        (1, 1, 1, 5, 0),
        "{stats:?}"
    );
    // The good one passes, typed.
    assert_eq!(
        receiver.handle(post(good, Some(FORM))).await.status(),
        StatusCode::OK
    );
    let event = queue.try_recv().unwrap();
    assert_eq!(event.verified, Verified::Matched);
    let EventPayload::TaskCommentAdd(c) = &event.delivery.payload else {
        panic!("{:?}", event.delivery.payload)
    };
    assert_eq!(c.message_id().map(MessageId::get), Some(5));
    // Nothing about a token ever shows in Debug.
    assert!(!format!("{event:?}").contains("t0k3n"));
}

#[tokio::test]
async fn a_full_queue_answers_503() {
    let tokens = Arc::new(MemoryApplicationTokens::with(
        MemberId::new("m1"),
        ApplicationToken::new("t0k3n"),
    ));
    let (receiver, _queue) = Receiver::builder(tokens).queue_capacity(1).build();
    let body = "event=ONTASKADD&auth%5Bmember_id%5D=m1&auth%5Bapplication_token%5D=t0k3n";
    assert_eq!(
        receiver.handle(post(body, Some(FORM))).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        receiver.handle(post(body, Some(FORM))).await.status(),
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(receiver.stats().queue_full, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn onappinstall_stores_the_token_only_when_trusted() {
    let env = event_env().await;
    let emu = env.emu();
    let tokens = Arc::new(MemoryApplicationTokens::new());
    // Refused by default: no token stored, fail closed.
    let (strict, _q) = Receiver::builder(tokens.clone()).build();
    let strict_server = strict
        .clone()
        .serve(tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap())
        .unwrap();
    emu.send_app_install(&format!("http://{}/install", strict_server.addr()), 1);
    assert!(emu.wait_for_deliveries(Duration::from_secs(5)).await);
    assert_eq!(
        emu.deliveries().pop().unwrap().status,
        DeliveryStatus::Answered(403)
    );
    assert!(tokens.is_empty());
    // Trusted on first install: stored, and later events pass.
    let (trusting, mut queue) = Receiver::builder(tokens.clone())
        .install_policy(InstallPolicy::TrustFirstInstall)
        .build();
    let server = trusting
        .clone()
        .serve(tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap())
        .unwrap();
    let url = format!("http://{}/b24/events", server.addr());
    emu.send_app_install(&url, 1);
    assert!(emu.wait_for_deliveries(Duration::from_secs(5)).await);
    let installed = queue.recv().await.unwrap();
    assert_eq!(installed.verified, Verified::Installed);
    assert!(matches!(
        installed.delivery.payload,
        EventPayload::AppInstall(_)
    ));
    assert_eq!(tokens.len(), 1);
    bind(&env, &url).await;
    env.anna_posts("hello").await;
    let next = queue.recv().await.unwrap();
    assert_eq!(next.verified, Verified::Matched);
    assert_eq!(next.delivery.event, "ONTASKCOMMENTADD");
    assert_eq!(trusting.stats().unverified, 0);
}
