//! The request bucket and key support.

use std::time::Instant;

use b24_core::engine::{BucketConfig, HostStore, KeySupport, StoreErrorKind};

use crate::support::{backend, ceil_ms, fails, host, ms_between, ok, raw, server, wall};

#[tokio::test]
async fn sixty_rapid_reservations_give_48_at_once_then_the_drain_rate() {
    let Some(server) = server() else { return };
    let store = backend(&server.url()).host(&host(), BucketConfig::standard());
    let now = wall();
    let started = Instant::now();
    let mut slots = Vec::new();
    for _ in 0..60 {
        let r = ok(store.reserve(now)).await;
        assert_eq!(r.key_support, KeySupport::Unknown);
        slots.push(r.at);
    }
    // Redis's clock moved on while the 60 scripts ran: later slots come that much
    // sooner (plus at most 1 ms of rounding up).
    let elapsed = ceil_ms(started.elapsed());
    assert_eq!(slots.iter().filter(|at| **at == now).count(), 48);
    assert!(slots[..48].iter().all(|at| *at == now), "{slots:?}");
    // A delayed slot counts from the moment its answer arrived (never early): within
    // the time the 60 scripts took of the exact schedule, either way.
    for (k, at) in slots[48..].iter().enumerate() {
        let want = (i64::try_from(k).unwrap() + 1) * 500;
        let got = ms_between(now, *at);
        assert!(
            (want - elapsed..=want + elapsed + 1).contains(&got),
            "slot {}: {got} ms after now, want {want} (give or take {elapsed})",
            k + 48
        );
    }
    for pair in slots[48..].windows(2) {
        let gap = ms_between(pair[0], pair[1]);
        assert!(
            (500 - elapsed..=500 + elapsed + 1).contains(&gap),
            "gap {gap} ms"
        );
    }
    // The key lives until the bucket would be empty (about 30.5 s ahead) plus 60 s.
    let mut con = raw(&server.url());
    let keys: Vec<String> = redis::cmd("KEYS").arg("*:bucket").query(&mut con).unwrap();
    assert_eq!(keys.len(), 1);
    let ttl: i64 = redis::cmd("PTTL").arg(&keys[0]).query(&mut con).unwrap();
    assert!((89_000..=90_500).contains(&ttl), "ttl {ttl}");
}

#[tokio::test]
async fn two_backends_share_one_bucket() {
    let Some(server) = server() else { return };
    let h = host();
    let a = backend(&server.url()).host(&h, BucketConfig::standard());
    let b = backend(&server.url()).host(&h, BucketConfig::standard());
    let now = wall();
    let mut immediate = 0;
    for i in 0..30 {
        for store in [&a, &b] {
            let r = ok(store.reserve(now)).await;
            if r.at == now {
                immediate += 1;
            } else {
                assert!(i >= 24, "a delayed slot before the burst was spent");
            }
        }
    }
    assert_eq!(immediate, 48);
    // Another host is not affected.
    let other = backend(&server.url()).host(&host(), BucketConfig::standard());
    assert_eq!(ok(other.reserve(now)).await.at, now);
}

#[tokio::test]
async fn throttled_marks_the_bucket_full() {
    let Some(server) = server() else { return };
    let config = BucketConfig::enterprise().safety_margin(0);
    let store = backend(&server.url()).host(&host(), config);
    let now = wall();
    let started = Instant::now();
    ok(store.throttled(now)).await;
    let at = ok(store.reserve(now)).await.at;
    let elapsed = ceil_ms(started.elapsed());
    // Full: the next slot is one drain interval (200 ms) after Redis's now, counted
    // from when the answer arrived.
    let got = ms_between(now, at);
    assert!(
        (200 - elapsed..=200 + elapsed + 1).contains(&got),
        "{got} ms"
    );
    // Throttling again pushes the bucket no further than full.
    ok(store.throttled(now)).await;
    let next = ms_between(now, ok(store.reserve(now)).await.at);
    // Slots count from when each answer arrived: all the time since `now` was read.
    let since_now = ceil_ms(started.elapsed());
    assert!((200..=400 + since_now + 1).contains(&next), "{next} ms");
}

#[tokio::test]
async fn key_support_is_shared_and_latest_evidence_wins() {
    let Some(server) = server() else { return };
    let h = host();
    let a = backend(&server.url()).host(&h, BucketConfig::standard());
    let b = backend(&server.url()).host(&h, BucketConfig::standard());
    let now = wall();
    assert_eq!(ok(b.reserve(now)).await.key_support, KeySupport::Unknown);
    ok(a.record_key_support(KeySupport::Unsupported)).await;
    assert_eq!(
        ok(b.reserve(now)).await.key_support,
        KeySupport::Unsupported
    );
    ok(a.record_key_support(KeySupport::Supported)).await;
    assert_eq!(ok(b.reserve(now)).await.key_support, KeySupport::Supported);
    let mut con = raw(&server.url());
    let key = format!("b24:{{{h}}}:keys");
    let ttl: i64 = redis::cmd("PTTL").arg(&key).query(&mut con).unwrap();
    assert!((86_300_000..=86_400_000).contains(&ttl), "ttl {ttl}");
    ok(a.record_key_support(KeySupport::Unknown)).await;
    assert_eq!(ok(b.reserve(now)).await.key_support, KeySupport::Unknown);
    let exists: i64 = redis::cmd("EXISTS").arg(&key).query(&mut con).unwrap();
    assert_eq!(exists, 0);
}

#[tokio::test]
async fn foreign_values_are_corrupt() {
    let Some(server) = server() else { return };
    let h = host();
    let store = backend(&server.url()).host(&h, BucketConfig::standard());
    let mut con = raw(&server.url());
    let bucket = format!("b24:{{{h}}}:bucket");
    let () = redis::cmd("SET")
        .arg(&bucket)
        .arg("not a number")
        .query(&mut con)
        .unwrap();
    let e = fails(store.reserve(wall())).await;
    assert_eq!(e.kind, StoreErrorKind::Corrupt, "{e}");
    let _: i64 = redis::cmd("DEL").arg(&bucket).query(&mut con).unwrap();
    let _: i64 = redis::cmd("HSET")
        .arg(&bucket)
        .arg("f")
        .arg("1")
        .query(&mut con)
        .unwrap();
    let e = fails(store.throttled(wall())).await;
    assert_eq!(e.kind, StoreErrorKind::Corrupt, "{e}");
    let _: i64 = redis::cmd("DEL").arg(&bucket).query(&mut con).unwrap();
    let () = redis::cmd("SET")
        .arg(format!("b24:{{{h}}}:keys"))
        .arg("7")
        .query(&mut con)
        .unwrap();
    let e = fails(store.reserve(wall())).await;
    assert_eq!(e.kind, StoreErrorKind::Corrupt, "{e}");
}

#[tokio::test]
async fn a_redis_that_lost_its_data_learns_the_bucket_back_from_its_callers() {
    let Some(server) = server() else { return };
    let h = host();
    let store = backend(&server.url()).host(&h, BucketConfig::standard());
    let now = wall();
    // Redis counts on its own clock: the bound below allows for all the time since
    // `now` was read (a loaded machine stretches it).
    let since_now = Instant::now();
    for _ in 0..48 {
        assert_eq!(ok(store.reserve(now)).await.at, now);
    }
    // A restart without persistence: every key is gone.
    let mut con = raw(&server.url());
    let () = redis::cmd("FLUSHALL").query(&mut con).unwrap();
    // This caller remembers the bucket it saw: the next slot is not "at once" but
    // after the drain interval, as before the loss.
    let after = ok(store.reserve(now)).await.at;
    let elapsed = ceil_ms(since_now.elapsed());
    let waited = ms_between(now, after);
    assert!(
        (400..=500 + elapsed + 1).contains(&waited),
        "waited {waited} ms"
    );
    // A caller that never saw the bucket would have taken it for empty: the floor
    // it wrote back is what others read now.
    let other = backend(&server.url()).host(&h, BucketConfig::standard());
    let theirs = ms_between(now, ok(other.reserve(now)).await.at);
    assert!(
        theirs >= 900,
        "the restored bucket is shared, got {theirs} ms"
    );
}
