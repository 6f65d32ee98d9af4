//! Measures the memory a client keeps per portal: makes the shared state of many
//! webhook portals (limiter, budgets with a few methods in use, key generator) and
//! reads the process's resident set size before and after (Linux `/proc/self/statm`).
//!
//! ```sh
//! cargo run -p b24-hyper --release --example portal_footprint [PORTALS] [METHODS] [WEBHOOKS]
//! ```
//!
//! The figure in the crate docs comes from this program.
#![allow(clippy::print_stdout, clippy::expect_used, clippy::unwrap_used)]

use std::time::SystemTime;

use b24_core::engine::Timestamp;
use b24_core::Portal;
use b24_hyper::Client;

/// Resident set size in bytes, from `/proc/self/statm` (pages, assumed 4 KiB).
fn rss() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let portals: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let methods: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(3);
    let webhooks: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(1);
    let names = [
        "tasks.task.result.addfromchatmessage",
        "tasks.task.result.list",
        "tasks.task.get",
        "im.message.add",
        "tasks.task.result.update",
    ];
    let client = Client::builder().build().expect("client");
    let now = Timestamp::from_system_time(SystemTime::now());
    let unix = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let time: b24_types::Time = serde_json::from_value(serde_json::json!({
        "operating": 1.25,
        "operating_reset_at": unix + 600,
    }))
    .expect("time");

    // Warm up the allocator and the lazily made parts of the client.
    let warm = Portal::webhook("https://warm.example/rest/1/w4rmw4rmw4rmw4rm/").unwrap();
    let _ = client.portal_state(&warm);

    let before = rss().expect("Linux /proc/self/statm");
    for n in 0..portals {
        for user in 1..=webhooks {
            let portal = Portal::webhook(&format!(
                "https://p{n}.bitrix24.example/rest/{user}/s{n:015}/"
            ))
            .unwrap();
            let state = client.portal_state(&portal);
            for name in names.iter().take(methods) {
                let _ = state.budgets().record(name, &time, now);
            }
        }
    }
    let after = rss().expect("Linux /proc/self/statm");
    assert_eq!(client.portal_count() as u64, portals + 1);
    assert_eq!(client.credential_count() as u64, portals * webhooks + 1);
    let per = after.saturating_sub(before) / portals.max(1);
    println!(
        "{portals} portals, {webhooks} webhook(s) each, {methods} methods in use each: \
         {} KiB resident, {per} bytes per portal",
        after.saturating_sub(before) / 1024
    );
}
