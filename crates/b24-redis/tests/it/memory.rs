//! What a portal costs in Redis memory.

use b24_core::engine::{BucketConfig, BudgetConfig, BudgetStore, HostStore, KeySupport};
use b24_core::registry::BudgetScope;
use b24_types::{Time, UserId};

use crate::support::{backend, ok, raw, server, wall};

fn used_memory(con: &mut redis::Connection) -> i64 {
    let info: String = redis::cmd("INFO").arg("memory").query(con).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

async fn one_portal(backend: &b24_redis::RedisBackend, n: u32) {
    let h = format!("portal{n:05}.bitrix24.com");
    let now = wall();
    let hosts = backend.host(&h, BucketConfig::standard());
    ok(hosts.reserve(now)).await;
    ok(hosts.record_key_support(KeySupport::Supported)).await;
    let scope = BudgetScope::Webhook {
        user: UserId::new(1).unwrap(),
        fingerprint: 0x9f86_d081_884c_7d65 ^ u64::from(n),
    };
    let budgets = backend.budgets(&h, &scope, BudgetConfig::default());
    let mut t = Time::new();
    t.operating = Some(123.456);
    #[allow(clippy::cast_precision_loss)]
    let reset = (now.as_unix_secs() + 300) as f64;
    t.operating_reset_at = Some(reset);
    ok(budgets.record("tasks.task.result.addfromchatmessage", &t, now)).await;
}

#[tokio::test]
async fn a_thousand_portals_take_under_two_kib_each() {
    let Some(server) = server() else { return };
    let backend = backend(&server.url());
    let mut con = raw(&server.url());
    // Load the scripts and warm the connection before measuring.
    one_portal(&backend, 99_999).await;
    let before = used_memory(&mut con);
    for n in 0..1_000 {
        one_portal(&backend, n).await;
    }
    let after = used_memory(&mut con);
    let keys: i64 = redis::cmd("DBSIZE").query(&mut con).unwrap();
    assert_eq!(keys, 3 * 1_001);
    let per_portal = (after - before) / 1_000;
    println!(
        "redis memory per portal (bucket + key support + one webhook budget of one method): \
         {per_portal} bytes"
    );
    assert!(per_portal > 0 && per_portal < 2_048, "{per_portal} bytes");
}
