//! Decoding deliveries and offline rows into typed events, and every way a body can
//! be refused.

use b24_core::events::{
    decode_delivery, decode_offline, decode_payload, parse_form, DedupKey, DeliveryError,
    FormError, FormLimits, TaskChatMessage,
};
use b24_core::types::events::{CommentRef, EventPayload, Flag, OfflineBatch, OfflineEvent, Slot};
use b24_core::types::{CommentId, MessageAuthor, MessageId, TaskId, UserId};
use serde_json::json;

use crate::events_support::{delivery, enc, php_form, ACCESS, APP_TOKEN, MEMBER, REFRESH};

const FORM: Option<&str> = Some("application/x-www-form-urlencoded");

fn decode(body: &str) -> Result<b24_core::events::Delivery, DeliveryError> {
    decode_delivery(FORM, body.as_bytes(), &FormLimits::DEFAULT)
}

fn new_card(message: u64) -> serde_json::Value {
    json!({
        "FIELDS_BEFORE": "undefined",
        "FIELDS_AFTER": {"ID": "0", "MESSAGE_ID": message.to_string(), "TASK_ID": "51"},
        "IS_ACCESSIBLE_BEFORE": "N",
        "IS_ACCESSIBLE_AFTER": "undefined"
    })
}

#[test]
fn ontaskcommentadd_of_the_new_card_names_the_chat_message() {
    let d = decode(&delivery("ONTASKCOMMENTADD", new_card(34239))).unwrap();
    assert_eq!(d.event, "ONTASKCOMMENTADD");
    assert_eq!(d.handler_id, Some(403));
    assert_eq!(d.ts, Some(1_771_928_985));
    assert_eq!(d.member_id().map(|m| m.as_str()), Some(MEMBER));
    assert_eq!(d.auth.user_id, UserId::new(27).ok());
    assert_eq!(d.auth.expires_in, Some(3600));
    let c = d.task_comment_add().unwrap();
    assert!(c.fields_before.is_undefined());
    assert_eq!(c.is_accessible_before, Some(Flag::No));
    assert_eq!(c.is_accessible_after, Some(Flag::Undefined));
    assert_eq!(c.message_id(), MessageId::new(34239).ok());
    assert_eq!(c.task_id(), TaskId::new(51).ok());
    assert_eq!(
        c.fields_after.fields().unwrap().id,
        None,
        "ID 0 is no comment"
    );
    assert_eq!(
        c.comment(),
        Some(CommentRef::Message(MessageId::new(34239).unwrap()))
    );
    let m = TaskChatMessage::from_payload(&d.payload).unwrap();
    assert_eq!((m.task_id.get(), m.message_id.get()), (51, 34239));
    assert_eq!(
        DedupKey::for_payload(&d.payload),
        Some(DedupKey::new("ONTASKCOMMENTADD", 34239))
    );
}

#[test]
fn ontaskcommentadd_of_the_old_card_names_a_comment_and_no_message() {
    let data = json!({"FIELDS_BEFORE":"undefined","FIELDS_AFTER":{"ID":"1207","TASK_ID":"51"},
                      "IS_ACCESSIBLE_BEFORE":"undefined","IS_ACCESSIBLE_AFTER":"undefined"});
    let d = decode(&delivery("ontaskcommentadd", data)).unwrap();
    let c = d.task_comment_add().unwrap();
    assert_eq!(c.message_id(), None);
    assert_eq!(
        c.comment(),
        Some(CommentRef::Comment(CommentId::new(1207).unwrap()))
    );
    assert_eq!(TaskChatMessage::from_payload(&d.payload), None);
    assert_eq!(DedupKey::for_payload(&d.payload), None);
}

#[test]
fn task_and_comment_change_events() {
    let update = decode(&delivery(
        "ONTASKCOMMENTUPDATE",
        json!({"FIELDS_BEFORE":{"ID":"7","TASK_ID":"51"},"FIELDS_AFTER":{"ID":"7","TASK_ID":"51","ACTION":"EDIT"},
               "IS_ACCESSIBLE_BEFORE":"undefined","IS_ACCESSIBLE_AFTER":"undefined"}),
    ))
    .unwrap();
    let EventPayload::TaskCommentUpdate(u) = &update.payload else {
        panic!("{:?}", update.payload)
    };
    assert_eq!(
        u.fields_after.fields().unwrap().action.as_deref(),
        Some("EDIT")
    );
    let delete = decode(&delivery(
        "ONTASKCOMMENTDELETE",
        json!({"FIELDS_BEFORE":{"ID":"7","TASK_ID":"51"},"FIELDS_AFTER":{"ID":"7","TASK_ID":"51","ACTION":"DEL"}}),
    ))
    .unwrap();
    assert!(matches!(delete.payload, EventPayload::TaskCommentDelete(_)));

    let add = decode(&delivery(
        "ONTASKADD",
        json!({"FIELDS_BEFORE":"undefined","FIELDS_AFTER":{"ID":"54"},"IS_ACCESSIBLE_BEFORE":"N","IS_ACCESSIBLE_AFTER":"undefined"}),
    ))
    .unwrap();
    let EventPayload::TaskAdd(a) = &add.payload else {
        panic!()
    };
    assert_eq!(a.task_id(), TaskId::new(54).ok());
    let upd = decode(&delivery(
        "ONTASKUPDATE",
        json!({"FIELDS_BEFORE":{"ID":"54"},"FIELDS_AFTER":{"ID":"54"},"IS_ACCESSIBLE_BEFORE":"undefined","IS_ACCESSIBLE_AFTER":"undefined"}),
    ))
    .unwrap();
    assert!(
        matches!(&upd.payload, EventPayload::TaskUpdate(t) if t.task_id() == TaskId::new(54).ok())
    );
    assert_eq!(DedupKey::for_payload(&upd.payload), None);
    let del = decode(&delivery(
        "ONTASKDELETE",
        json!({"FIELDS_BEFORE":{"ID":"54"},"FIELDS_AFTER":"undefined","IS_ACCESSIBLE_BEFORE":"undefined","IS_ACCESSIBLE_AFTER":"N"}),
    ))
    .unwrap();
    let EventPayload::TaskDelete(t) = &del.payload else {
        panic!()
    };
    assert!(t.fields_after.is_undefined());
    assert_eq!(t.task_id(), TaskId::new(54).ok());
}

#[test]
fn an_empty_array_slot_is_left_out_of_the_form_and_reads_as_absent() {
    // PHP drops `FIELDS_BEFORE => []` from the form entirely.
    let d = decode(&delivery(
        "ONTASKADD",
        json!({"FIELDS_BEFORE":[],"FIELDS_AFTER":{"ID":"54"}}),
    ))
    .unwrap();
    let EventPayload::TaskAdd(t) = &d.payload else {
        panic!()
    };
    assert_eq!(t.fields_before, Slot::Absent);
    // And an event without any data at all still decodes.
    let d = decode(&delivery("ONTASKADD", json!(null))).unwrap();
    assert!(matches!(d.payload, EventPayload::TaskAdd(_)));
}

#[test]
fn app_install_and_uninstall() {
    let install = decode(&delivery(
        "ONAPPINSTALL",
        json!({"VERSION":"1","ACTIVE":"Y","INSTALLED":"Y","LANGUAGE_ID":"de"}),
    ))
    .unwrap();
    let EventPayload::AppInstall(i) = &install.payload else {
        panic!()
    };
    assert_eq!(i.version.as_deref(), Some("1"));
    assert_eq!(i.active.as_ref().and_then(Flag::as_bool), Some(true));
    assert_eq!(i.language_id.as_deref(), Some("de"));
    // The documentation's example spells it ONAPPSUNINSTALL.
    for name in ["ONAPPUNINSTALL", "ONAPPSUNINSTALL"] {
        let gone = decode(&delivery(name, json!({"LANGUAGE_ID":"en","CLEAN":"1"}))).unwrap();
        let EventPayload::AppUninstall(u) = &gone.payload else {
            panic!()
        };
        assert_eq!(u.clean, Some(true));
    }
}

/// The documentation's group-chat example of ONIMBOTMESSAGEADD (abridged), with a
/// bot's tokens in `BOT[567]`.
fn bot_message(system: bool) -> serde_json::Value {
    json!({
        "BOT": {"567": {
            "access_token": ACCESS, "refresh_token": REFRESH, "application_token": APP_TOKEN,
            "AUTH": {"access_token": ACCESS, "refresh_token": REFRESH, "application_token": APP_TOKEN,
                     "member_id": MEMBER, "user_id": "567"},
            "BOT_ID": "567", "BOT_CODE": "BOT1"}},
        "PARAMS": {
            "MESSAGE": ", how to set up the left menu", "MESSAGE_ORIGINAL": "[USER=567]NewBot[/USER] , how to set up the left menu",
            "TEMPLATE_ID": "6d0eef7c-12b4-41e7-b709-887ba410ded3", "MESSAGE_TYPE": "X",
            "FROM_USER_ID": if system { "0" } else { "27" }, "AUTHOR_ID": if system { "0" } else { "27" },
            "DIALOG_ID": "chat1157", "TO_CHAT_ID": "1157", "CHAT_ID": "1157",
            "SYSTEM": if system { "Y" } else { "N" }, "CHAT_TYPE": "X",
            "CHAT_ENTITY_TYPE": "TASKS_TASK", "CHAT_ENTITY_ID": "51",
            "MENTIONED_LIST": {"567": "567"}, "MESSAGE_ID": "84351", "LANGUAGE": "en"},
        "USER": if system { json!([]) } else { json!({"ID": "27", "NAME": "Svetlana Ivanova", "IS_BOT": "N"}) }
    })
}

#[test]
fn onimbotmessageadd_gives_the_fields_a_bot_needs() {
    let d = decode(&delivery("ONIMBOTMESSAGEADD", bot_message(false))).unwrap();
    let EventPayload::BotMessageAdd(b) = &d.payload else {
        panic!()
    };
    let p = &b.params;
    assert_eq!(p.message_id, MessageId::new(84351).ok());
    assert_eq!(
        p.author(),
        Some(MessageAuthor::User(UserId::new(27).unwrap()))
    );
    assert!(!p.is_system());
    assert_eq!(p.task_id(), TaskId::new(51).ok());
    assert_eq!(p.dialog_id.as_deref(), Some("chat1157"));
    assert_eq!(
        b.user.fields().and_then(|u| u.name.as_deref()),
        Some("Svetlana Ivanova")
    );
    let bot = &b.bot["567"];
    assert_eq!(bot.bot_id, UserId::new(567).ok());
    assert!(bot.auth.as_ref().unwrap().access_token.is_some());
    assert_eq!(
        DedupKey::for_payload(&d.payload),
        Some(DedupKey::new("ONIMBOTMESSAGEADD", 84351))
    );
    let system = decode(&delivery("ONIMBOTMESSAGEADD", bot_message(true))).unwrap();
    let EventPayload::BotMessageAdd(s) = &system.payload else {
        panic!()
    };
    assert!(s.params.is_system());
    assert_eq!(s.params.author(), Some(MessageAuthor::System));
    assert!(s.user.is_absent(), "USER is [] for a system message");
}

#[test]
fn no_token_ever_shows_in_debug_or_errors() {
    let bodies = [
        delivery("ONIMBOTMESSAGEADD", bot_message(false)),
        delivery("ONTASKCOMMENTADD", new_card(1)),
        // An event this version does not type keeps its data, shown by keys only.
        delivery("ONIMBOTJOINCHAT", bot_message(false)),
    ];
    for body in &bodies {
        let d = decode(body).unwrap();
        let shown = format!("{d:?} {d:#?}");
        for secret in [ACCESS, REFRESH, APP_TOKEN] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
    }
    let other = decode(&bodies[2]).unwrap();
    let EventPayload::Other(o) = &other.payload else {
        panic!()
    };
    assert_eq!(o.name, "ONIMBOTJOINCHAT");
    assert!(o.data["BOT"]["567"]["access_token"].is_string());
    // An auth field of the wrong shape is named, its value is not repeated.
    let bad = delivery("ONTASKADD", json!({})).replace(
        "auth%5Buser_id%5D=27",
        &format!("auth%5Buser_id%5D={}", enc(ACCESS)),
    );
    let err = decode(&bad).unwrap_err();
    assert!(
        matches!(&err, DeliveryError::InvalidField { field, .. } if field == "auth[user_id]"),
        "{err:?}"
    );
    assert!(!format!("{err} {err:?}").contains(ACCESS));
}

#[test]
fn every_refusal_is_a_typed_error() {
    let good = delivery("ONTASKCOMMENTADD", new_card(5));
    // Not a form.
    assert_eq!(
        decode_delivery(
            Some("application/json; charset=utf-8"),
            good.as_bytes(),
            &FormLimits::DEFAULT
        )
        .unwrap_err(),
        DeliveryError::NotAForm {
            content_type: "application/json".to_owned()
        }
    );
    assert!(decode_delivery(None, good.as_bytes(), &FormLimits::DEFAULT).is_ok());
    assert!(decode_delivery(
        Some("Application/X-WWW-Form-Urlencoded; charset=UTF-8"),
        good.as_bytes(),
        &FormLimits::DEFAULT
    )
    .is_ok());
    // Over the limits.
    let small = FormLimits::DEFAULT.with_max_bytes(100);
    assert_eq!(
        decode_delivery(FORM, good.as_bytes(), &small).unwrap_err(),
        DeliveryError::Form(FormError::TooLarge { limit: 100 })
    );
    let many: String = (0..1001).map(|i| format!("k{i}=v&")).collect();
    assert_eq!(
        decode(&many).unwrap_err(),
        DeliveryError::Form(FormError::TooManyFields { limit: 1000 })
    );
    let deep = format!("{good}&data{}=1", "[a]".repeat(17));
    assert_eq!(
        decode(&deep).unwrap_err(),
        DeliveryError::Form(FormError::TooDeep { limit: 16 })
    );
    assert!(matches!(
        decode(&format!("{good}&x=%C3%28")).unwrap_err(),
        DeliveryError::Form(FormError::InvalidEncoding { .. })
    ));
    // Missing fields.
    let no_event = good.replacen("event=ONTASKCOMMENTADD", "", 1);
    assert_eq!(
        decode(&no_event).unwrap_err(),
        DeliveryError::MissingField { field: "event" }
    );
    let no_auth: String = good
        .split('&')
        .filter(|p| !p.starts_with("auth"))
        .collect::<Vec<_>>()
        .join("&");
    assert_eq!(
        decode(&no_auth).unwrap_err(),
        DeliveryError::MissingField { field: "auth" }
    );
    let no_token = good.replace(&format!("auth%5Bapplication_token%5D={APP_TOKEN}"), "");
    assert_eq!(
        decode(&no_token).unwrap_err(),
        DeliveryError::MissingField {
            field: "auth[application_token]"
        }
    );
    // Wrong shapes.
    assert!(matches!(
        decode(&format!("{good}&event%5Bx%5D=1")).unwrap_err(),
        DeliveryError::InvalidField { field, .. } if field == "event"
    ));
    assert!(matches!(
        decode(&good.replace("event=ONTASKCOMMENTADD", "event=ON+TASK")).unwrap_err(),
        DeliveryError::InvalidField { field, .. } if field == "event"
    ));
    assert!(matches!(
        decode(&good.replace("ts=1771928985", "ts=soon")).unwrap_err(),
        DeliveryError::InvalidField { field, .. } if field == "ts"
    ));
    assert!(matches!(
        decode(&format!("{good}&auth=plain")).unwrap_err(),
        DeliveryError::InvalidField { field, .. } if field == "auth"
    ));
    let garbage = good.replace(
        "data%5BFIELDS_BEFORE%5D=undefined",
        "data%5BFIELDS_BEFORE%5D=garbage",
    );
    let err = decode(&garbage).unwrap_err();
    assert!(
        matches!(&err, DeliveryError::Payload { event, path, .. }
            if event == "ONTASKCOMMENTADD" && path == "FIELDS_BEFORE"),
        "{err:?}"
    );
    let bad_id = good.replace(
        "data%5BFIELDS_AFTER%5D%5BMESSAGE_ID%5D=5",
        "data%5BFIELDS_AFTER%5D%5BMESSAGE_ID%5D=-5",
    );
    assert!(matches!(
        decode(&bad_id).unwrap_err(),
        DeliveryError::Payload { path, .. } if path.starts_with("FIELDS_AFTER")
    ));
}

#[test]
fn parse_form_follows_php_for_the_platform_shapes() {
    let tree = parse_form(
        php_form(&json!({"data": {"A": {"B": "x y&z=1"}, "L": ["p", "q"]}})).as_bytes(),
        &FormLimits::DEFAULT,
    )
    .unwrap();
    assert_eq!(
        serde_json::Value::Object(tree),
        json!({"data": {"A": {"B": "x y&z=1"}, "L": {"0": "p", "1": "q"}}})
    );
}

#[test]
fn offline_rows_decode_to_the_same_types() {
    // Numbers stay numbers in EVENT_DATA; ids arrive as strings.
    let row: OfflineEvent = serde_json::from_value(json!({
        "ID": "12", "TIMESTAMP_X": "2026-04-30T08:15:00+02:00", "EVENT_NAME": "ONTASKCOMMENTADD",
        "EVENT_DATA": {"FIELDS_BEFORE": "undefined", "FIELDS_AFTER": {"ID": 0, "MESSAGE_ID": 34239, "TASK_ID": 51},
                       "IS_ACCESSIBLE_BEFORE": "N", "IS_ACCESSIBLE_AFTER": "undefined"},
        "EVENT_ADDITIONAL": {"user_id": 2},
        "MESSAGE_ID": "d41d8cd98f00b204e9800998ecf8427e"
    }))
    .unwrap();
    assert_eq!(row.id.get(), 12);
    assert_eq!(row.user_id(), UserId::new(2).ok());
    let payload = decode_offline(&row).unwrap();
    assert_eq!(
        TaskChatMessage::from_payload(&payload).map(|m| m.message_id.get()),
        Some(34239)
    );
    // The documentation's sample: EVENT_DATA and EVENT_ADDITIONAL `false`.
    let batch: OfflineBatch = serde_json::from_value(json!({
        "process_id": null,
        "events": [{"ID": "1", "TIMESTAMP_X": "2024-07-18T12:32:31+02:00", "EVENT_NAME": "ONCRMLEADADD",
                    "EVENT_DATA": false, "EVENT_ADDITIONAL": false, "MESSAGE_ID": "1"}]
    }))
    .unwrap();
    assert_eq!(batch.process_id, None);
    let lead = decode_offline(&batch.events[0]).unwrap();
    assert!(
        matches!(&lead, EventPayload::Other(o) if o.name == "ONCRMLEADADD" && o.data == json!({}))
    );
    assert_eq!(batch.events[0].user_id(), None);
    // Data of the wrong shape is a typed error, not a panic.
    assert!(matches!(
        decode_payload("ONTASKADD", json!("undefined")),
        Err(DeliveryError::Payload { path, .. }) if path == "."
    ));
}
