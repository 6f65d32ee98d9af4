//! The classic batch, `/rest/batch`: per-key results and errors, halt, `$result`
//! references, the 50-command cap, nested batch, REST 3.0-only methods, the shape
//! with `[]` for empty sub-objects, and how the limits count it.

use b24_emulator::PortalConfig;
use serde_json::{json, Value};

use crate::support::Harness;

fn texts(h: &Harness) -> Vec<String> {
    h.portal.messages(58).into_iter().map(|m| m.text).collect()
}

#[tokio::test]
async fn two_messages_in_one_request() {
    let h = Harness::with(
        PortalConfig::new("localhost")
            .operating_cost("im.message.add", 2.0)
            .operating_limit(480.0),
    );
    let before = texts(&h).len();
    let r = h
        .classic(
            1,
            "batch",
            json!({"halt":0,"cmd":{
                "one":"im.message.add?DIALOG_ID=chat58&MESSAGE=first%20%26%20one",
                "two":"im.message.add.json?DIALOG_ID=chat58&MESSAGE=second"
            }}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let res = &r.body["result"];
    let one = res["result"]["one"].as_u64().unwrap();
    let two = res["result"]["two"].as_u64().unwrap();
    assert!(two > one);
    assert_eq!(res["result_error"], json!([]));
    assert_eq!(res["result_total"], json!([]));
    assert_eq!(res["result_next"], json!([]));
    // Each command is charged to its own method: 2 s, then 4 s.
    assert_eq!(res["result_time"]["one"]["operating"], 2.0);
    assert_eq!(res["result_time"]["two"]["operating"], 4.0);
    assert!(res["result_time"]["two"]["operating_reset_at"].is_i64());
    // The outer call is not: its time has no operating figure.
    assert!(r.body["time"]["start"].is_number());
    assert!(r.body["time"].get("operating").is_none());
    let all = texts(&h);
    assert_eq!(all.len(), before + 2);
    assert_eq!(&all[before..], ["first & one", "second"]);
    // One request in the bucket, counted as `batch`.
    assert_eq!(h.portal.calls("batch"), 1);
    assert_eq!(h.portal.calls("im.message.add"), 0);
    // The next direct call sees the two commands' charges.
    let direct = h
        .classic(
            1,
            "im.message.add",
            json!({"DIALOG_ID":"chat58","MESSAGE":"x"}),
        )
        .await;
    assert_eq!(direct.body["time"]["operating"], 6.0);
}

#[tokio::test]
async fn a_failing_command_is_reported_under_its_key() {
    let h = Harness::new();
    let r = h
        .classic(
            1,
            "batch",
            json!({"cmd":{
                "a":"im.message.add?DIALOG_ID=chat58&MESSAGE=a",
                "bad":"im.message.add?DIALOG_ID=chat58&MESSAGE=",
                "c":"im.message.add?DIALOG_ID=chat58&MESSAGE=c"
            }}),
        )
        .await;
    assert_eq!(r.status, 200);
    let res = &r.body["result"];
    assert_eq!(
        res["result_error"],
        json!({"bad":{"error":"MESSAGE_EMPTY","error_description":"Message can't be empty"}})
    );
    let keys: Vec<&String> = res["result"].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["a", "c"]);
    assert!(res["result_time"].get("bad").is_none());
    let all = texts(&h);
    assert_eq!(&all[all.len() - 2..], ["a", "c"]);
}

#[tokio::test]
async fn halt_stops_at_the_first_failure() {
    let h = Harness::new();
    let before = texts(&h).len();
    let r = h
        .classic(
            1,
            "batch",
            json!({"halt":1,"cmd":{
                "a":"im.message.add?DIALOG_ID=chat58&MESSAGE=kept",
                "bad":"im.message.add?DIALOG_ID=chat999&MESSAGE=x",
                "c":"im.message.add?DIALOG_ID=chat58&MESSAGE=never"
            }}),
        )
        .await;
    assert_eq!(r.status, 200);
    let res = &r.body["result"];
    assert_eq!(res["result_error"]["bad"]["error"], "ACCESS_ERROR");
    assert!(res["result"].get("a").is_some());
    assert!(res["result"].get("c").is_none());
    assert!(res["result_error"].get("c").is_none());
    assert_eq!(&texts(&h)[before..], ["kept"]);

    // `halt` as "0" in a form body does not halt (PHP truthiness).
    let path = format!("/rest/1/{}/batch", h.secret(1));
    let form = "halt=0&cmd[bad]=im.message.add%3FDIALOG_ID%3Dchat999%26MESSAGE%3Dx\
                &cmd[ok]=im.message.add%3FDIALOG_ID%3Dchat58%26MESSAGE%3Dform";
    let r = h
        .raw("POST", &path, "application/x-www-form-urlencoded", form)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.body["result"]["result_error"]["bad"]["error"],
        "ACCESS_ERROR"
    );
    assert!(r.body["result"]["result"]["ok"].is_u64(), "{}", r.body);
    assert_eq!(texts(&h).last().unwrap(), "form");
}

#[tokio::test]
async fn result_references_are_substituted() {
    let h = Harness::new();
    let r = h
        .classic(
            1,
            "batch",
            json!({"halt":1,"cmd":[
                "im.message.add?DIALOG_ID=chat58&MESSAGE=hello",
                "im.message.add?DIALOG_ID=chat58&MESSAGE=reply%20to%20$result[0]",
                "im.dialog.messages.get?DIALOG_ID=chat58&LIMIT=1&FIRST_ID=%24result%5B0%5D"
            ]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let res = &r.body["result"]["result"];
    let first = res["0"].as_u64().unwrap();
    assert_eq!(texts(&h).last().unwrap(), &format!("reply to {first}"));
    // The encoded reference in the third command was replaced too.
    let got: Vec<u64> = res["2"]["messages"]
        .as_array()
        .unwrap_or_else(|| panic!("{}", r.body))
        .iter()
        .map(|m| m["id"].as_u64().unwrap())
        .collect();
    // Messages after the first one, oldest first: the reply.
    assert_eq!(got, vec![res["1"].as_u64().unwrap()]);
}

#[tokio::test]
async fn commands_beyond_fifty_fail_one_by_one() {
    let h = Harness::new();
    let cmd: serde_json::Map<String, Value> = (0..52)
        .map(|i| {
            (
                format!("m{i}"),
                Value::from(format!("im.message.add?DIALOG_ID=chat58&MESSAGE=n{i}")),
            )
        })
        .collect();
    let r = h.classic(1, "batch", json!({"cmd": cmd})).await;
    assert_eq!(r.status, 200);
    let res = &r.body["result"];
    assert_eq!(res["result"].as_object().unwrap().len(), 50);
    let errors = res["result_error"].as_object().unwrap();
    assert_eq!(errors.keys().collect::<Vec<_>>(), ["m50", "m51"]);
    for e in errors.values() {
        assert_eq!(e["error"], "ERROR_BATCH_LENGTH_EXCEEDED");
        assert_eq!(e["error_description"], "Max batch length exceeded");
    }
    assert_eq!(texts(&h).last().unwrap(), "n49");
}

#[tokio::test]
async fn nested_batch_and_rest3_only_methods_fail_inside() {
    let h = Harness::new();
    let results_before = h.portal.results().len();
    let r = h
        .classic(
            1,
            "batch",
            json!({"cmd":{
                "nested":"batch?cmd[x]=im.message.add",
                "v3":"tasks.task.result.add?fields[taskId]=51&fields[text]=nope",
                "unknown":"no.such.method",
                "ok":"im.message.add?DIALOG_ID=chat58&MESSAGE=still"
            }}),
        )
        .await;
    assert_eq!(r.status, 200);
    let res = &r.body["result"];
    assert_eq!(
        res["result_error"]["nested"],
        json!({"error":"ERROR_BATCH_METHOD_NOT_ALLOWED","error_description":"Method is not allowed for batch usage"})
    );
    assert_eq!(res["result_error"]["v3"]["error"], "ERROR_METHOD_NOT_FOUND");
    assert_eq!(
        res["result_error"]["unknown"]["error"],
        "ERROR_METHOD_NOT_FOUND"
    );
    assert!(res["result"]["ok"].is_u64());
    assert_eq!(h.portal.results().len(), results_before);
}

#[tokio::test]
async fn oauth_batch_with_auth_in_the_body() {
    let h = Harness::new();
    let (token, _) = h.portal.issue_tokens(1).unwrap();
    let body = json!({
        "auth": token.expose_secret(),
        "cmd": {"a": "im.message.add?DIALOG_ID=chat58&MESSAGE=via%20oauth"}
    });
    let r = h
        .raw("POST", "/rest/batch", "application/json", &body.to_string())
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body["result"]["result"]["a"].is_u64());
    assert_eq!(texts(&h).last().unwrap(), "via oauth");
    // A wrong token fails the whole request, as for any classic call.
    let bad = json!({"auth": "nope", "cmd": {"a": "im.message.add"}});
    h.raw("POST", "/rest/batch", "application/json", &bad.to_string())
        .await
        .assert_classic_error(401, "NO_AUTH_FOUND", "Wrong authorization data");
}

#[tokio::test]
async fn an_empty_batch_answers_empty_arrays() {
    let h = Harness::new();
    let r = h.classic(1, "batch", json!({"cmd": {}})).await;
    assert_eq!(r.status, 200);
    for k in [
        "result",
        "result_error",
        "result_total",
        "result_next",
        "result_time",
    ] {
        assert_eq!(r.body["result"][k], json!([]), "{k}");
    }
}
