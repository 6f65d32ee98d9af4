//! Event payload types: string-or-map slots, flags, authors, redacted secrets.

use b24_types::events::{
    CommentFields, EventAuth, EventBinding, Flag, MemberId, Slot, TaskCommentChange, TaskEventData,
    TaskFields, UnbindResult,
};
use b24_types::{
    ApplicationToken, ChatMessage, DialogMessages, MessageAuthor, MessageId, MessageNotFound,
    TaskId, UserId,
};
use serde_json::json;

#[test]
fn slots_are_fields_undefined_or_absent() {
    let read = |v: serde_json::Value| serde_json::from_value::<Slot<TaskFields>>(v);
    assert_eq!(read(json!("undefined")).unwrap(), Slot::Undefined);
    for absent in [json!(null), json!(""), json!([]), json!(false)] {
        assert_eq!(read(absent).unwrap(), Slot::Absent);
    }
    let fields = read(json!({"ID": "51"})).unwrap();
    assert_eq!(fields.fields().and_then(|f| f.id), TaskId::new(51).ok());
    for bad in [json!("garbage"), json!(5), json!(["x"])] {
        let err = read(bad.clone()).unwrap_err().to_string();
        assert!(
            err.contains("expected a map of fields or the string \"undefined\""),
            "{bad}: {err}"
        );
    }
    let err = read(json!({"ID": "x"})).unwrap_err().to_string();
    assert!(err.contains("expected a numeric id"), "{err}");
    // The wire form comes back out: a slot unused is the string "undefined".
    let data: TaskCommentChange = TaskEventData::added(CommentFields::default());
    let v = serde_json::to_value(&data).unwrap();
    assert_eq!(v["FIELDS_BEFORE"], "undefined");
    assert_eq!(v["IS_ACCESSIBLE_BEFORE"], "N");
    assert_eq!(v["IS_ACCESSIBLE_AFTER"], "undefined");
    let absent: TaskCommentChange = serde_json::from_value(json!({})).unwrap();
    assert_eq!(serde_json::to_value(&absent).unwrap(), json!({}));
}

#[test]
fn flags_keep_what_they_do_not_know() {
    let read = |s: &str| serde_json::from_value::<Flag>(json!(s)).unwrap();
    assert_eq!(read("Y").as_bool(), Some(true));
    assert_eq!(read("N").as_bool(), Some(false));
    assert_eq!(read("undefined"), Flag::Undefined);
    assert_eq!(read("maybe"), Flag::Other("maybe".to_owned()));
    assert_eq!(read("maybe").to_string(), "maybe");
}

#[test]
fn message_authors_and_message_lookup() {
    let author = |v: serde_json::Value| serde_json::from_value::<MessageAuthor>(v).unwrap();
    assert_eq!(author(json!(0)), MessageAuthor::System);
    assert_eq!(author(json!("0")), MessageAuthor::System);
    assert_eq!(author(json!(null)), MessageAuthor::System);
    assert_eq!(
        author(json!("27")),
        MessageAuthor::User(UserId::new(27).unwrap())
    );
    let err = serde_json::from_value::<MessageAuthor>(json!(-1))
        .unwrap_err()
        .to_string();
    assert!(err.contains("non-negative integer"), "{err}");
    assert_eq!(serde_json::to_value(MessageAuthor::System).unwrap(), 0);

    let page: DialogMessages = serde_json::from_value(json!({
        "chat_id": 58,
        "messages": [{"id": 7, "author_id": 0, "text": "notice", "unread": false}],
        "users": [], "files": []
    }))
    .unwrap();
    let msg: &ChatMessage = &page.messages[0];
    assert!(msg.extra.contains_key("unread"));
    let missing: MessageNotFound = page
        .clone()
        .take_message(MessageId::new(8).unwrap())
        .unwrap_err();
    assert_eq!(missing.wanted, MessageId::new(8).unwrap());
    assert_eq!(missing.got, vec![MessageId::new(7).unwrap()]);
    assert_eq!(
        missing.to_string(),
        "message 8 is not in the answer (it holds 7)"
    );
    assert_eq!(
        page.take_message(MessageId::new(7).unwrap()).unwrap().text,
        "notice"
    );
}

#[test]
fn the_auth_block_never_prints_a_token() {
    let auth: EventAuth = serde_json::from_value(json!({
        "access_token": "acc3ssCanary", "refresh_token": "refr3shCanary",
        "application_token": "app7okenCanary", "member_id": "m1", "user_id": "5",
        "expires_in": "3600", "unknown_secret": "dr0ppedCanary"
    }))
    .unwrap();
    let shown = format!("{auth:?} {auth:#?}");
    for canary in [
        "acc3ssCanary",
        "refr3shCanary",
        "app7okenCanary",
        "dr0ppedCanary",
    ] {
        assert!(!shown.contains(canary), "{canary} in {shown}");
    }
    assert_eq!(auth.member_id, Some(MemberId::new("m1")));
    assert!(auth
        .application_token
        .unwrap()
        .ct_eq(&ApplicationToken::new("app7okenCanary")));
    assert_eq!(
        format!("{:?}", ApplicationToken::new("x")),
        "ApplicationToken([redacted])"
    );
}

#[test]
fn bindings_and_unbind_counts() {
    let b: EventBinding = serde_json::from_value(
        json!({"event":"ONTASKADD","handler":"https://h.example.com/","auth_type":"3","offline":"0"}),
    )
    .unwrap();
    assert_eq!(b.auth_type, UserId::new(3).ok());
    assert!(!b.offline);
    let u: UnbindResult = serde_json::from_value(json!({"count": "2"})).unwrap();
    assert_eq!(u.count, 2);
}
