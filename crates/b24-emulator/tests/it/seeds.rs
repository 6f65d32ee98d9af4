//! Seeding a portal from a JSON document, from the library and the binary.

use b24_emulator::{Emulator, PortalConfig, Seed, SeedError};
use serde_json::json;

use crate::support::Harness;

/// Printing a portal's data and loading it gives the same data back.
#[tokio::test]
async fn a_seed_round_trips() {
    let h = Harness::new();
    let printed = h.portal.to_seed().to_json();
    let loaded = Seed::from_json(&printed).unwrap();
    let emu = Emulator::builder().seed(loaded.clone()).build();
    let again = emu.default_portal().to_seed();
    assert_eq!(again, loaded);
    assert_eq!(again.to_json(), printed);
    // The default data without secrets also loads, and keeps the documented ids.
    let default = Seed::default_data();
    let emu = Emulator::builder().seed(default).build();
    let portal = emu.default_portal();
    assert_eq!(portal.task_chat(51), Some(58));
    assert_eq!(portal.messages(58).len(), 2);
    assert!(portal.webhook_secret(1).is_some());
    assert_eq!(portal.add_message(58, 1, "x").unwrap(), 34239);
}

#[tokio::test]
async fn a_seed_sets_users_tasks_chats_and_messages() {
    let seed = Seed::from_json(
        r#"{
          "users": [{"id": 7, "name": "Ann Admin", "admin": true, "webhook": "hook7"},
                    {"id": 8, "name": "Bob Member"}],
          "tasks": [{"id": 900, "title": "Ship it", "creator": 7, "responsible": 8, "chatId": 950},
                    {"id": 901, "title": "Done one", "creator": 8, "responsible": 8, "status": "completed"}],
          "chats": [{"id": 960, "title": "Lobby", "members": [7, 8]}],
          "messages": [{"id": 5000, "chatId": 950, "authorId": 8, "text": "Done"}]
        }"#,
    )
    .unwrap();
    let h = Harness::with(PortalConfig::new("localhost").seed(seed));
    assert_eq!(h.secret(7), "hook7");
    assert_eq!(h.portal.task_chat(901), Some(961));
    let r = h
        .v3(
            8,
            "tasks.task.result.addfromchatmessage",
            json!({"fields":{"messageId":5000}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["result"]["item"]["taskId"], 900);
    // The admin flag: user 7 learns that a task does not exist, user 8 does not.
    h.v3(7, "tasks.task.get", json!({"id":1}))
        .await
        .assert_v3_bare(400, "BITRIX_REST_V3_EXCEPTION_ENTITYNOTFOUNDEXCEPTION");
    h.v3(8, "tasks.task.get", json!({"id":1}))
        .await
        .assert_v3_bare(403, "BITRIX_REST_V3_EXCEPTION_ACCESSDENIEDEXCEPTION");
    let got = h
        .v3(8, "tasks.task.get", json!({"id":901,"select":["status"]}))
        .await;
    assert_eq!(got.body["result"]["item"]["status"], "completed");
}

#[test]
fn a_bad_seed_is_refused() {
    assert_eq!(
        Seed::from_json(
            r#"{"users":[{"id":1,"name":"A"}],"tasks":[{"id":5,"title":"T","creator":1,"responsible":2}]}"#
        ),
        Err(SeedError::UnknownUser(2))
    );
    assert_eq!(
        Seed::from_json(r#"{"messages":[{"id":1,"chatId":3,"authorId":0}]}"#),
        Err(SeedError::UnknownChat(3))
    );
    assert!(matches!(
        Seed::from_json(r#"{"users":[],"colour":1}"#),
        Err(SeedError::Invalid(_))
    ));
    assert!(matches!(
        Seed::from_json(r#"{"users":[{"id":1,"name":"A"},{"id":1,"name":"B"}]}"#),
        Err(SeedError::Invalid(_))
    ));
}

/// The binary: `--print-seed` prints the default data; `--seed FILE` loads it.
#[test]
fn the_binary_prints_a_seed_it_can_load() {
    let bin = env!("CARGO_BIN_EXE_b24-emulator");
    let out = std::process::Command::new(bin)
        .arg("--print-seed")
        .output()
        .unwrap();
    assert!(out.status.success());
    let printed = String::from_utf8(out.stdout).unwrap();
    let seed = Seed::from_json(&printed).unwrap();
    assert_eq!(seed, Seed::default_data());
    let dir = std::env::temp_dir().join(format!("b24-emu-seed-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("seed.json");
    std::fs::write(&file, &printed).unwrap();
    // With `--seed FILE`, `--print-seed` prints the file as loaded.
    let out = std::process::Command::new(bin)
        .arg("--seed")
        .arg(&file)
        .arg("--print-seed")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8(out.stdout).unwrap(), printed);
    let out = std::process::Command::new(bin)
        .env("B24_EMU_SEED", dir.join("missing.json"))
        .arg("--print-seed")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let _ = std::fs::remove_dir_all(&dir);
}
