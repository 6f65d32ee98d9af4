//! The classic batch through `Client::execute` against the emulator over HTTPS:
//! per-key results and errors, `$result` references, `halt`.

use b24_core::methods::{ClassicBatch, ClassicCommand, DialogId, ImMessageAdd};
use b24_types::{ChatId, ErrorCode, MessageId};
use serde_json::{json, Map, Value};

use crate::emu;

fn message(chat: u64, text: &str) -> ClassicCommand {
    let dialog = DialogId::chat(ChatId::new(chat).unwrap());
    ClassicCommand::from_method(&ImMessageAdd::new(dialog, text).unwrap()).unwrap()
}

#[tokio::test]
async fn classic_batch_reports_each_command_under_its_key() {
    let env = emu::start().await;
    let portal = env.default_webhook();
    let emu_portal = env.server.portal();

    let mut reply_params = Map::new();
    reply_params.insert("DIALOG_ID".into(), json!("chat58"));
    reply_params.insert(
        "MESSAGE".into(),
        Value::from(format!(
            "re: {} & more",
            ClassicBatch::result_ref("first", &[]).unwrap()
        )),
    );
    let batch = ClassicBatch::new()
        .push("first", message(58, "hello, 100% sure?"))
        .unwrap()
        .push("denied", message(999, "nope"))
        .unwrap()
        .push(
            "reply",
            ClassicCommand::new("im.message.add", reply_params).unwrap(),
        )
        .unwrap();
    let reply = env.client.execute(&portal, &batch).await.unwrap();
    let out = reply.result;
    let first: MessageId = out.decode("first").unwrap();
    let second: MessageId = out.decode("reply").unwrap();
    assert_eq!(
        out.error("denied").unwrap().code,
        ErrorCode::from_wire("ACCESS_ERROR")
    );
    assert!(out.result("denied").is_none());
    assert!(out.times.contains_key("first") && out.times.contains_key("reply"));
    let texts: Vec<(u64, String)> = emu_portal
        .messages(58)
        .into_iter()
        .map(|m| (m.id, m.text))
        .collect();
    assert!(texts.contains(&(first.get(), "hello, 100% sure?".to_owned())));
    assert!(texts.contains(&(second.get(), format!("re: {first} & more"))));
    assert_eq!(emu_portal.calls("batch"), 1);

    // With halt, the command after the failure never runs.
    let halted = ClassicBatch::new()
        .push("bad", message(999, "x"))
        .unwrap()
        .push("later", message(58, "never sent"))
        .unwrap()
        .halt(true);
    let out = env.client.execute(&portal, halted).await.unwrap().result;
    assert!(out.error("bad").is_some());
    assert!(!out.ran("later"));
    assert!(!emu_portal
        .messages(58)
        .iter()
        .any(|m| m.text == "never sent"));
}
