//! The event methods and `im.dialog.messages.get`: bodies, validation, answers.

use b24_core::methods::{
    DialogId, EventBind, EventGet, EventOfflineClear, EventOfflineError, EventOfflineGet,
    EventOfflineList, EventUnbind, ImDialogMessagesGet, ImMessageGet, OfflineOrder,
};
use b24_core::types::events::{OfflineMessageId, ProcessId};
use b24_core::types::{ChatId, MessageAuthor, MessageId, OfflineEventId, UserId};
use b24_core::{
    build_request, parse_response, Api, Error, InputError, Method, Repeat, RequestOptions,
};
use serde_json::{json, Value};

use crate::codec_support::{body_json, oauth, response, token, webhook, TOKEN};

fn params<M: Method>(m: &M) -> Value {
    Value::Object(m.params().unwrap())
}

fn param_error(e: InputError) -> String {
    match e {
        InputError::Param { field, .. } => field,
        other => panic!("expected a parameter error, got {other:?}"),
    }
}

const HASH: &str = "d41d8cd98f00b204e9800998ecf8427e";

#[test]
fn event_bind_and_unbind_bodies() {
    let online =
        EventBind::online("onTaskCommentAdd", "https://bot.example.com/b24/events").unwrap();
    assert_eq!(
        params(&online),
        json!({"event":"ONTASKCOMMENTADD","handler":"https://bot.example.com/b24/events","event_type":"online"})
    );
    assert_eq!(
        (online.api(), online.repeat()),
        (Api::Classic, Repeat::Unsafe)
    );
    assert!(!online.honours_idempotency_key());
    let with_user = online.auth_type(UserId::new(7).unwrap());
    assert_eq!(params(&with_user)["auth_type"], 7);
    let offline = EventBind::offline("ONTASKCOMMENTADD")
        .unwrap()
        .connector("sync-1")
        .unwrap();
    assert_eq!(
        params(&offline),
        json!({"event":"ONTASKCOMMENTADD","event_type":"offline","auth_connector":"sync-1"})
    );
    for bad in ["", "ON TASK", "ONTASK;DROP", &"A".repeat(129)] {
        assert_eq!(param_error(EventBind::offline(bad).unwrap_err()), "event");
    }
    for bad in [
        "ftp://x.example.com/h",
        "/relative",
        "not a url",
        "https://",
    ] {
        assert_eq!(
            param_error(EventBind::online("ONTASKADD", bad).unwrap_err()),
            "handler",
            "{bad}"
        );
    }
    assert_eq!(
        param_error(EventBind::offline("X").unwrap().connector("").unwrap_err()),
        "auth_connector"
    );
    let unbind = EventUnbind::online("ontaskadd", "http://127.0.0.1/h").unwrap();
    assert_eq!(
        params(&unbind),
        json!({"event":"ONTASKADD","handler":"http://127.0.0.1/h","event_type":"online"})
    );
    assert_eq!(unbind.repeat(), Repeat::Safe);
    let reply = parse_response(&unbind, &response(200, r#"{"result":{"count":1}}"#)).unwrap();
    assert_eq!(reply.result.count, 1);
}

#[test]
fn an_oauth_portal_sends_event_bind_to_the_classic_path_with_its_token() {
    let bind = EventBind::offline("ONTASKCOMMENTADD").unwrap();
    let req = build_request(
        &oauth(),
        &bind,
        &RequestOptions::new().access_token(token()),
    )
    .unwrap();
    assert_eq!(req.uri().path(), "/rest/event.bind");
    assert_eq!(body_json(&req)["auth"], TOKEN);
    // A webhook request is built too: the portal answers WRONG_AUTH_TYPE.
    let hook = build_request(&webhook(), &bind, &RequestOptions::new()).unwrap();
    assert!(hook.uri().path().ends_with("/event.bind"));
    let refused = parse_response(
        &bind,
        &response(
            403,
            r#"{"error":"WRONG_AUTH_TYPE","error_description":"Current authorization type is denied for this method"}"#,
        ),
    )
    .unwrap_err();
    assert_eq!(refused.code().map(|c| c.as_str()), Some("WRONG_AUTH_TYPE"));
}

#[test]
fn event_get_reads_both_kinds_of_binding() {
    let reply = parse_response(
        &EventGet::new(),
        &response(
            200,
            r#"{"result":[{"event":"ONTASKCOMMENTADD","handler":"https://bot.example.com/h","auth_type":"0","offline":0},
                          {"event":"ONTASKCOMMENTADD","connector_id":"","offline":1}]}"#,
        ),
    )
    .unwrap();
    let [online, offline] = reply.result.as_slice() else {
        panic!("{:?}", reply.result)
    };
    assert_eq!(online.handler.as_deref(), Some("https://bot.example.com/h"));
    assert_eq!(online.auth_type, None);
    assert!(!online.offline);
    assert!(offline.offline);
    assert_eq!(offline.connector_id.as_deref(), Some(""));
}

#[test]
fn event_offline_get_reserves_takes_or_rereads() {
    let reserve = EventOfflineGet::reserve()
        .limit(10)
        .unwrap()
        .event("ontaskcommentadd")
        .unwrap()
        .order("id", OfflineOrder::Asc)
        .unwrap();
    assert_eq!(
        params(&reserve),
        json!({"clear":0,"limit":10,"filter":{"=EVENT_NAME":"ONTASKCOMMENTADD"},"order":{"ID":"ASC"}})
    );
    assert_eq!(reserve.repeat(), Repeat::Unsafe);
    assert!(reserve.keeps_rows());
    let take = EventOfflineGet::take();
    assert_eq!(params(&take), json!({"clear":1}));
    assert_eq!(take.repeat(), Repeat::Unsafe);
    assert!(!take.keeps_rows());
    let reread = EventOfflineGet::reread(ProcessId::new("abc"))
        .unwrap()
        .errors(true);
    assert_eq!(
        params(&reread),
        json!({"clear":0,"process_id":"abc","error":1})
    );
    assert_eq!(reread.repeat(), Repeat::Safe);
    assert_eq!(
        param_error(EventOfflineGet::take().limit(0).unwrap_err()),
        "limit"
    );
    assert_eq!(
        param_error(EventOfflineGet::reread(ProcessId::new("")).unwrap_err()),
        "process_id"
    );
    assert_eq!(
        param_error(
            EventOfflineGet::take()
                .filter("=PROCESS_ID", "x")
                .unwrap_err()
        ),
        "filter"
    );
    assert_eq!(
        param_error(
            EventOfflineGet::take()
                .filter(">ID", json!([1]))
                .unwrap_err()
        ),
        "filter"
    );
    assert!(EventOfflineGet::take().filter(">=id", 5).is_ok());
    assert_eq!(
        param_error(
            EventOfflineGet::take()
                .order("PROCESS_ID", OfflineOrder::Desc)
                .unwrap_err()
        ),
        "order"
    );
    let batch = parse_response(
        &reserve,
        &response(
            200,
            &format!(
                r#"{{"result":{{"process_id":"p1","events":[{{"ID":"3","TIMESTAMP_X":"2026-04-30T08:15:00+02:00",
                "EVENT_NAME":"ONTASKCOMMENTADD","EVENT_DATA":{{"FIELDS_AFTER":{{"ID":0,"MESSAGE_ID":7,"TASK_ID":51}}}},
                "EVENT_ADDITIONAL":{{"user_id":2}},"MESSAGE_ID":"{HASH}"}}]}}}}"#
            ),
        ),
    )
    .unwrap()
    .result;
    assert_eq!(batch.process_id, Some(ProcessId::new("p1")));
    assert_eq!(batch.events[0].id, OfflineEventId::new(3).unwrap());
    assert_eq!(batch.events[0].message_id.as_str(), HASH);
    // An empty queue may be `[]` or even `false` from PHP.
    for empty in [
        r#"{"result":{"process_id":null,"events":[]}}"#,
        r#"{"result":{"process_id":"p2","events":false}}"#,
    ] {
        let b = parse_response(&reserve, &response(200, empty))
            .unwrap()
            .result;
        assert!(b.events.is_empty());
    }
}

#[test]
fn event_offline_clear_error_and_list() {
    let id = || ProcessId::new("p1");
    let whole = EventOfflineClear::batch(id()).unwrap();
    assert_eq!(params(&whole), json!({"process_id":"p1"}));
    assert_eq!(whole.repeat(), Repeat::Safe);
    let rows = EventOfflineClear::batch(id())
        .unwrap()
        .rows([
            OfflineEventId::new(3).unwrap(),
            OfflineEventId::new(4).unwrap(),
        ])
        .unwrap();
    assert_eq!(params(&rows), json!({"process_id":"p1","id":[3,4]}));
    let by_hash = EventOfflineClear::batch(id())
        .unwrap()
        .messages([OfflineMessageId::new(HASH)])
        .unwrap();
    assert_eq!(
        params(&by_hash),
        json!({"process_id":"p1","message_id":[HASH]})
    );
    assert_eq!(
        param_error(
            EventOfflineClear::batch(id())
                .unwrap()
                .messages([OfflineMessageId::new("short")])
                .unwrap_err()
        ),
        "message_id"
    );
    assert_eq!(
        param_error(
            EventOfflineClear::batch(id())
                .unwrap()
                .rows([OfflineEventId::new(3).unwrap()])
                .unwrap()
                .messages([OfflineMessageId::new(HASH)])
                .unwrap_err()
        ),
        "message_id"
    );
    assert_eq!(
        param_error(
            EventOfflineClear::batch(id())
                .unwrap()
                .rows([])
                .unwrap_err()
        ),
        "id"
    );
    let error = EventOfflineError::new(id(), [OfflineMessageId::new(HASH)]).unwrap();
    assert_eq!(
        params(&error),
        json!({"process_id":"p1","message_id":[HASH]})
    );
    assert_eq!(
        param_error(EventOfflineError::new(id(), []).unwrap_err()),
        "message_id"
    );
    let list = EventOfflineList::new()
        .filter("!PROCESS_ID", "")
        .unwrap()
        .filter("=ERROR", 0)
        .unwrap()
        .start(50);
    assert_eq!(
        params(&list),
        json!({"filter":{"!PROCESS_ID":"","=ERROR":0},"start":50})
    );
    let rows = parse_response(
        &list,
        &response(
            200,
            &format!(
                r#"{{"result":[{{"ID":"1","TIMESTAMP_X":"2026-04-30T08:15:00+02:00","EVENT_NAME":"ONTASKADD",
                "EVENT_DATA":[],"EVENT_ADDITIONAL":[],"MESSAGE_ID":"{HASH}","PROCESS_ID":"","ERROR":"1"}}],"total":1}}"#
            ),
        ),
    )
    .unwrap()
    .result;
    assert_eq!(rows[0].process_id, None);
    assert_eq!(rows[0].error, Some(true));
}

#[test]
fn one_message_by_id_is_checked() {
    let chat = DialogId::chat(ChatId::new(58).unwrap());
    let wanted = MessageId::new(34239).unwrap();
    let get = ImMessageGet::new(chat, wanted);
    assert_eq!(get.name(), "im.dialog.messages.get");
    assert_eq!(get.repeat(), Repeat::Safe);
    assert_eq!(
        params(&get),
        json!({"DIALOG_ID":"chat58","FIRST_ID":34238,"LIMIT":1})
    );
    assert_eq!(
        params(&get.clone().from_before()),
        json!({"DIALOG_ID":"chat58","LAST_ID":34240,"LIMIT":1})
    );
    let page = |id: u64, author: u64| {
        response(
            200,
            &format!(
                r#"{{"result":{{"chat_id":58,"messages":[{{"id":{id},"chat_id":58,"author_id":{author},
                "date":"2026-04-30T08:15:00+02:00","text":"Result: done","params":[]}}],
                "users":[{{"id":2,"name":"Anna Lee"}}],"files":[]}}}}"#
            ),
        )
    };
    let found = parse_response(&get, &page(34239, 2)).unwrap().result;
    assert_eq!(found.id, wanted);
    assert_eq!(
        found.author_id,
        MessageAuthor::User(UserId::new(2).unwrap())
    );
    assert_eq!(found.text, "Result: done");
    let notice = parse_response(&get, &page(34239, 0)).unwrap().result;
    assert!(notice.author_id.is_system());
    // Another message in the answer is an error, never that message.
    match parse_response(&get, &page(34240, 2)).unwrap_err() {
        Error::Decode { path, message, .. } => {
            assert_eq!(path, "result.messages");
            assert!(
                message.contains("34239") && message.contains("34240"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
    match parse_response(
        &get,
        &response(200, r#"{"result":{"messages":[],"users":[]}}"#),
    )
    .unwrap_err()
    {
        Error::Decode { path, .. } => assert_eq!(path, "result.messages"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_page_of_dialog_messages() {
    let chat = DialogId::chat(ChatId::new(58).unwrap());
    let m = ImDialogMessagesGet::new(chat)
        .before(MessageId::new(40).unwrap())
        .limit(50)
        .unwrap();
    assert_eq!(
        params(&m),
        json!({"DIALOG_ID":"chat58","LAST_ID":40,"LIMIT":50})
    );
    assert_eq!(
        param_error(ImDialogMessagesGet::new(chat).limit(51).unwrap_err()),
        "LIMIT"
    );
    assert_eq!(
        param_error(ImDialogMessagesGet::new(chat).limit(0).unwrap_err()),
        "LIMIT"
    );
    let after = ImDialogMessagesGet::new(chat).after(MessageId::new(3).unwrap());
    assert_eq!(params(&after), json!({"DIALOG_ID":"chat58","FIRST_ID":3}));
    // Users may come as a map keyed by id.
    let reply = parse_response(
        &after,
        &response(
            200,
            r#"{"result":{"chat_id":"58","messages":[{"id":"4","author_id":"0","text":"notice"}],"users":{"2":{"id":2,"name":"Anna"}}}}"#,
        ),
    )
    .unwrap()
    .result;
    assert_eq!(reply.chat_id, ChatId::new(58).ok());
    assert_eq!(reply.messages[0].author_id, MessageAuthor::System);
    assert_eq!(reply.users[0].name.as_deref(), Some("Anna"));
}
