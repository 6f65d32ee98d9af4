//! The README's run command: the quickstart's flow against the emulator over HTTPS.

use b24_types::TaskId;

use crate::emu;
use crate::quickstart_flow;

#[tokio::test]
async fn the_quickstart_flow_runs_end_to_end() {
    let env = emu::start().await;
    let portal = env.default_webhook();
    let mut report = Vec::new();
    let summary = quickstart_flow::run(&env.client, &portal, TaskId::new(51).unwrap(), &mut report)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let report = String::from_utf8(report).unwrap();
    println!("{report}");
    let emu_portal = env.server.portal();
    // The message is in the task's chat; its result was made, listed, then deleted.
    assert!(emu_portal
        .messages(58)
        .iter()
        .any(|m| m.id == summary.message_id.get()));
    assert_eq!(summary.listed, 1);
    assert!(!emu_portal
        .results()
        .iter()
        .any(|r| r.id == summary.result_id.get()));
    assert!(emu_portal.results().is_empty());
    for step in [
        "1. task 51",
        "2. posted message",
        "3. result",
        "4. results",
        "5. result",
        "6. result",
    ] {
        assert!(report.contains(step), "missing step {step:?} in:\n{report}");
    }
    // The report never shows the webhook secret.
    let secret = emu_portal.webhook_secret(1).unwrap();
    assert!(!report.contains(&secret));
    for call in [
        "tasks.task.get",
        "im.message.add",
        "tasks.task.result.addfromchatmessage",
        "tasks.task.result.update",
        "tasks.task.result.delete",
    ] {
        assert_eq!(emu_portal.calls(call), 1, "{call}");
    }
    // One page with the result, then the empty page that ends the stream.
    assert_eq!(emu_portal.calls("tasks.task.result.list"), 2);
}
