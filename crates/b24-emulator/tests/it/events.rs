//! Events: `event.bind` / `.unbind` / `.get`, deliveries of ONTASKCOMMENTADD to a
//! handler (the result notice included), delivery faults, and the offline queue.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use b24_emulator::{DeliveryStatus, EventFault};
use bytes::Bytes;
use http::Request;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::support::{Harness, Reply};

/// A handler that answers 200 to everything and keeps the bodies.
struct Sink {
    url: String,
    bodies: Arc<Mutex<Vec<String>>>,
}

async fn sink() -> Sink {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/b24/events", listener.local_addr().unwrap());
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let kept = bodies.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let kept = kept.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    let n = stream.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf).into_owned();
                    let Some(head_end) = text.find("\r\n\r\n") else {
                        continue;
                    };
                    let length = text[..head_end]
                        .lines()
                        .find_map(|l| {
                            let (n, v) = l.split_once(':')?;
                            n.eq_ignore_ascii_case("content-length")
                                .then(|| v.trim().parse::<usize>().ok())?
                        })
                        .unwrap_or(0);
                    if buf.len() < head_end + 4 + length {
                        continue;
                    }
                    let body = text[head_end + 4..head_end + 4 + length].to_owned();
                    kept.lock().unwrap().push(body);
                    let _ = stream
                        .write_all(
                            b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                        )
                        .await;
                    return;
                }
            });
        }
    });
    Sink { url, bodies }
}

impl Harness {
    /// A classic call with an OAuth token in the JSON body.
    async fn classic_oauth(&self, token: &str, method: &str, mut body: Value) -> Reply {
        body["auth"] = Value::from(token);
        let req = Request::post(format!("/rest/{method}"))
            .header("host", "localhost")
            .header("content-type", "application/json")
            .body(Bytes::from(body.to_string()))
            .unwrap();
        self.send(req).await
    }

    fn token(&self, user: u64) -> String {
        self.portal
            .issue_tokens(user)
            .unwrap()
            .0
            .expose_secret()
            .to_owned()
    }
}

#[tokio::test]
async fn event_methods_need_the_oauth_app_and_validate_their_input() {
    let h = Harness::new();
    h.classic(
        1,
        "event.bind",
        json!({"event":"ONTASKCOMMENTADD","handler":"http://127.0.0.1/h"}),
    )
    .await
    .assert_classic_error(
        403,
        "WRONG_AUTH_TYPE",
        "Current authorization type is denied for this method",
    );
    h.classic(1, "event.offline.get", json!({}))
        .await
        .assert_classic_error(
            403,
            "WRONG_AUTH_TYPE",
            "Current authorization type is denied for this method",
        );
    let admin = h.token(1);
    let bind = |body: Value| {
        let admin = admin.clone();
        let h = &h;
        async move { h.classic_oauth(&admin, "event.bind", body).await }
    };
    let ok = bind(json!({"EVENT":"onTaskCommentAdd","HANDLER":"http://127.0.0.1:9/h"})).await;
    assert_eq!((ok.status, ok.body["result"].clone()), (200, json!(true)));
    bind(json!({"event":"ONTASKCOMMENTADD","handler":"http://127.0.0.1:9/h"}))
        .await
        .assert_classic_error(
            400,
            "ERROR_CORE",
            "Unable to set event handler: Handler already binded",
        );
    bind(json!({"handler":"http://127.0.0.1:9/h"}))
        .await
        .assert_classic_error(400, "ERROR_ARGUMENT", "Argument 'EVENT' is null or empty");
    bind(json!({"event":"ONTASKCOMMENTADD"}))
        .await
        .assert_classic_error(400, "ERROR_ARGUMENT", "Argument 'HANDLER' is null or empty");
    bind(json!({"event":"ONNOSUCHTHING","handler":"http://127.0.0.1/h"}))
        .await
        .assert_classic_error(400, "ERROR_EVENT_NOT_FOUND", "Event not found");
    bind(json!({"event":"ONTASKADD","handler":"http://localhost/h"}))
        .await
        .assert_classic_error(400, "ERROR_WRONG_HANDLER_URL", "Wrong handler URL");
    bind(json!({"event":"ONTASKADD","handler":"ftp://example.com/h"}))
        .await
        .assert_classic_error(
            400,
            "ERROR_UNSUPPORTED_PROTOCOL",
            "Unsupported event handler protocol",
        );
    bind(json!({"event":"ONTASKADD","event_type":"sometimes"}))
        .await
        .assert_classic_error(
            400,
            "ERROR_ARGUMENT",
            "Value must be one of {online|offline}",
        );
    bind(json!({"event":"ONOFFLINEEVENT","event_type":"offline"}))
        .await
        .assert_classic_error(
            400,
            "ERROR_ARGUMENT",
            "Offline event cannot be registered for this event.",
        );
    // A non-administrator binds online handlers for themselves only, and no offline.
    let anna = h.token(2);
    h.classic_oauth(
        &anna,
        "event.bind",
        json!({"event":"ONTASKADD","event_type":"offline"}),
    )
    .await
    .assert_classic_error(
        403,
        "ACCESS_DENIED",
        "Offline events binding requires administrator access rights",
    );
    h.classic_oauth(
        &anna,
        "event.bind",
        json!({"event":"ONTASKADD","handler":"http://127.0.0.1/a","auth_type":1}),
    )
    .await
    .assert_classic_error(
        403,
        "ACCESS_DENIED",
        "Event binding with AUTH_TYPE requires administrator access rights",
    );
    h.classic_oauth(&anna, "event.offline.list", json!({}))
        .await
        .assert_classic_error(403, "ACCESS_DENIED", "Access denied!");
    assert_eq!(
        bind(json!({"event":"ONTASKCOMMENTADD","event_type":"offline"}))
            .await
            .status,
        200
    );
    let got = h.classic_oauth(&admin, "event.get", json!({})).await;
    assert_eq!(
        got.body["result"],
        json!([
            {"event":"ONTASKCOMMENTADD","handler":"http://127.0.0.1:9/h","auth_type":"0","offline":0},
            {"event":"ONTASKCOMMENTADD","connector_id":"","offline":1}
        ])
    );
    let gone = h
        .classic_oauth(
            &admin,
            "event.unbind",
            json!({"event":"ONTASKCOMMENTADD","handler":"http://127.0.0.1:9/h"}),
        )
        .await;
    assert_eq!(gone.body["result"], json!({"count": 1}));
    assert_eq!(h.portal.bindings().len(), 1);
}

#[tokio::test]
async fn a_task_chat_message_and_the_result_notice_are_delivered_as_php_forms() {
    let h = Harness::new();
    let sink = sink().await;
    let admin = h.token(1);
    h.classic_oauth(
        &admin,
        "event.bind",
        json!({"event":"ONTASKCOMMENTADD","handler":sink.url}),
    )
    .await;
    // Anna posts in task 51's chat; a message in a plain chat fires nothing.
    let posted = h
        .classic(
            2,
            "im.message.add",
            json!({"DIALOG_ID":"chat58","MESSAGE":"Result: done"}),
        )
        .await;
    assert_eq!(posted.body["result"], 34239);
    h.classic(
        2,
        "im.message.add",
        json!({"DIALOG_ID":"chat61","MESSAGE":"lunch?"}),
    )
    .await;
    assert!(h.portal.wait_for_deliveries(Duration::from_secs(5)).await);
    let bodies = sink.bodies.lock().unwrap().clone();
    assert_eq!(bodies.len(), 1, "{bodies:?}");
    let body = &bodies[0];
    let token = h.portal.application_token();
    for part in [
        "event=ONTASKCOMMENTADD",
        "event_handler_id=1",
        "data%5BFIELDS_BEFORE%5D=undefined",
        "data%5BFIELDS_AFTER%5D%5BID%5D=0",
        "data%5BFIELDS_AFTER%5D%5BMESSAGE_ID%5D=34239",
        "data%5BFIELDS_AFTER%5D%5BTASK_ID%5D=51",
        "data%5BIS_ACCESSIBLE_BEFORE%5D=N",
        "data%5BIS_ACCESSIBLE_AFTER%5D=undefined",
        "ts=1777529700",
        "auth%5Buser_id%5D=2",
        "auth%5Bdomain%5D=localhost",
        &format!("auth%5Bmember_id%5D={}", h.portal.member_id()),
        &format!("auth%5Bapplication_token%5D={}", token.expose_secret()),
    ] {
        assert!(body.split('&').any(|p| p == part), "{part} not in {body}");
    }
    assert!(body.contains("auth%5Baccess_token%5D="), "{body}");
    // Making a result from the message posts a notice (author 0): it fires again.
    let made = h
        .v3(
            1,
            "tasks.task.result.addfromchatmessage",
            json!({"fields":{"messageId":34239}}),
        )
        .await;
    assert_eq!(made.status, 200, "{}", made.body);
    assert!(h.portal.wait_for_deliveries(Duration::from_secs(5)).await);
    let notice = h.portal.messages(58).pop().unwrap();
    assert_eq!((notice.id, notice.author_id), (34241, 0));
    let bodies = sink.bodies.lock().unwrap().clone();
    assert_eq!(bodies.len(), 2);
    assert!(bodies[1]
        .split('&')
        .any(|p| p == "data%5BFIELDS_AFTER%5D%5BMESSAGE_ID%5D=34241"));
    let log = h.portal.deliveries();
    assert!(log
        .iter()
        .all(|d| d.status == DeliveryStatus::Answered(200)));
    // The notice reads as a system message.
    let read = h
        .classic(
            1,
            "im.dialog.messages.get",
            json!({"DIALOG_ID":"chat58","FIRST_ID":34240,"LIMIT":1}),
        )
        .await;
    assert_eq!(read.body["result"]["messages"][0]["id"], 34241);
    assert_eq!(read.body["result"]["messages"][0]["author_id"], 0);
}

#[tokio::test]
async fn delivery_faults_drop_double_and_refuse_off_machine_handlers() {
    let h = Harness::new();
    h.portal.set_result_notices(false);
    let sink = sink().await;
    let admin = h.token(1);
    h.classic_oauth(
        &admin,
        "event.bind",
        json!({"event":"ONTASKCOMMENTADD","handler":sink.url}),
    )
    .await;
    h.portal.inject_event_fault(EventFault::drop());
    h.portal
        .inject_event_fault(EventFault::double().on("ontaskcommentadd"));
    for text in ["one", "two", "three"] {
        h.portal.add_message(58, 2, text).unwrap();
    }
    assert!(h.portal.wait_for_deliveries(Duration::from_secs(5)).await);
    let statuses: Vec<DeliveryStatus> = h
        .portal
        .deliveries()
        .into_iter()
        .map(|d| d.status)
        .collect();
    assert_eq!(
        statuses,
        vec![
            DeliveryStatus::Dropped,
            DeliveryStatus::Answered(200),
            DeliveryStatus::Answered(200),
            DeliveryStatus::Answered(200),
        ]
    );
    let bodies = sink.bodies.lock().unwrap().clone();
    let ids: Vec<&str> = bodies
        .iter()
        .filter_map(|b| {
            b.split('&')
                .find_map(|p| p.strip_prefix("data%5BFIELDS_AFTER%5D%5BMESSAGE_ID%5D="))
        })
        .collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, vec!["34240", "34240", "34241"]);
    assert_eq!(h.portal.pending_event_faults(), 0);

    // A handler that is not on this machine is never contacted.
    h.classic_oauth(
        &admin,
        "event.bind",
        json!({"event":"ONTASKCOMMENTADD","handler":"http://example.com/h"}),
    )
    .await;
    h.portal.add_message(58, 2, "four").unwrap();
    assert!(h.portal.wait_for_deliveries(Duration::from_secs(5)).await);
    let last = h.portal.deliveries().into_iter().last().unwrap();
    assert_eq!(last.handler, "http://example.com/h");
    assert!(
        matches!(&last.status, DeliveryStatus::Failed(why) if why.contains("loopback")),
        "{:?}",
        last.status
    );
}

#[tokio::test]
async fn the_offline_queue_reserves_rereads_clears_and_marks_errors() {
    let h = Harness::new();
    h.portal.set_result_notices(false);
    let admin = h.token(1);
    let call = |method: &'static str, body: Value| {
        let admin = admin.clone();
        let h = &h;
        async move { h.classic_oauth(&admin, method, body).await }
    };
    call(
        "event.bind",
        json!({"event":"ONTASKCOMMENTADD","event_type":"offline"}),
    )
    .await;
    // Anna's message is queued; one the app posts itself is not.
    h.classic(
        2,
        "im.message.add",
        json!({"DIALOG_ID":"chat58","MESSAGE":"a"}),
    )
    .await;
    call(
        "im.message.add",
        json!({"DIALOG_ID":"chat58","MESSAGE":"own"}),
    )
    .await;
    assert_eq!(h.portal.offline_events().len(), 1);
    h.portal.set_offline_skip_own_app(false);
    call(
        "im.message.add",
        json!({"DIALOG_ID":"chat58","MESSAGE":"own, queued"}),
    )
    .await;
    assert_eq!(h.portal.offline_events().len(), 2);

    // clear=0 reserves: a second reader gets a disjoint (empty) batch.
    let first = call("event.offline.get", json!({"clear":0,"limit":1})).await;
    let process_id = first.body["result"]["process_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(process_id.len(), 32);
    let events = first.body["result"]["events"].as_array().unwrap().clone();
    assert_eq!(events.len(), 1);
    let row = &events[0];
    assert_eq!(row["ID"], "1");
    assert_eq!(row["EVENT_NAME"], "ONTASKCOMMENTADD");
    assert_eq!(row["EVENT_DATA"]["FIELDS_AFTER"]["MESSAGE_ID"], 34239);
    assert_eq!(row["EVENT_ADDITIONAL"], json!({"user_id": 2}));
    assert_eq!(row["MESSAGE_ID"].as_str().unwrap().len(), 32);
    assert_eq!(row["TIMESTAMP_X"], "2026-04-30T08:15:00+02:00");
    let second = call("event.offline.get", json!({"clear":0,"limit":5})).await;
    let second_events = second.body["result"]["events"].as_array().unwrap().clone();
    assert_eq!(second_events.len(), 1);
    assert_eq!(second_events[0]["ID"], "2");
    // The reserved batch reads again with its process id (clear=0 keeps it).
    let again = call(
        "event.offline.get",
        json!({"process_id": process_id, "clear": 0}),
    )
    .await;
    assert_eq!(again.body["result"]["events"], json!(events));
    assert_eq!(again.body["result"]["process_id"], process_id);
    let listed = call("event.offline.list", json!({"filter":{"!PROCESS_ID":""}})).await;
    assert_eq!(listed.body["result"].as_array().unwrap().len(), 2);
    assert_eq!(listed.body["result"][0]["PROCESS_ID"], process_id);
    assert_eq!(listed.body["result"][0]["ERROR"], "0");
    // Clearing the batch deletes its row only.
    let cleared = call("event.offline.clear", json!({"process_id": process_id})).await;
    assert_eq!(cleared.body["result"], true);
    assert_eq!(h.portal.offline_events().len(), 1);
    // event.offline.error turns the other batch's row into a failed, free row.
    let other = second.body["result"]["process_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let hash = second_events[0]["MESSAGE_ID"].clone();
    call(
        "event.offline.error",
        json!({"process_id": other, "message_id": [hash]}),
    )
    .await;
    let rows = h.portal.offline_events();
    assert!(rows[0].error && rows[0].process_id.is_empty());
    let failed = call("event.offline.get", json!({"error":1})).await;
    assert_eq!(failed.body["result"]["events"].as_array().unwrap().len(), 1);
    // The default clear=1 deleted it as it was read, and says no process id.
    assert_eq!(failed.body["result"]["process_id"], Value::Null);
    assert!(h.portal.offline_events().is_empty());

    // Errors.
    call("event.offline.get", json!({"limit":0}))
        .await
        .assert_classic_error(400, "ERROR_ARGUMENT", "Value must be positive integer");
    call("event.offline.clear", json!({}))
        .await
        .assert_classic_error(
            400,
            "ERROR_ARGUMENT",
            "Argument 'PROCESS_ID' is null or empty",
        );
    call(
        "event.offline.clear",
        json!({"process_id":"x","message_id":["short"]}),
    )
    .await
    .assert_classic_error(
        400,
        "ERROR_ARGUMENT",
        "Value must be array of MESSAGE_ID values",
    );
    call(
        "event.offline.error",
        json!({"process_id":"x","message_id":"one"}),
    )
    .await
    .assert_classic_error(
        400,
        "ERROR_ARGUMENT",
        "Value must be array of MESSAGE_ID values",
    );
    h.portal.set_offline_extended(false);
    call("event.offline.get", json!({"clear":0}))
        .await
        .assert_classic_error(
            403,
            "WRONG_LICENSE",
            "Wrong license: extended offline events handling",
        );
}

#[tokio::test]
async fn repeats_of_the_same_event_collapse_into_one_free_row() {
    let h = Harness::new();
    let admin = h.token(1);
    h.classic_oauth(
        &admin,
        "event.bind",
        json!({"event":"ONTASKCOMMENTADD","event_type":"offline"}),
    )
    .await;
    h.portal.add_message(58, 2, "x").unwrap();
    let rows = h.portal.offline_events();
    assert_eq!(rows.len(), 1);
    // A second message is another event (its MESSAGE_ID is in the data).
    h.portal.add_message(58, 2, "y").unwrap();
    let rows = h.portal.offline_events();
    assert_eq!(rows.len(), 2);
    assert_ne!(rows[0].message_id, rows[1].message_id);
}
