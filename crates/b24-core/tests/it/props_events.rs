//! Property tests of the delivery decoder: no input makes it panic, and PHP's form
//! encoding of any nested map reads back as that map.

use b24_core::events::{decode_delivery, parse_form, DeliveryError, FormLimits};
use proptest::prelude::*;
use serde_json::{Map, Value};

use crate::events_support::{auth, php_form};

/// Nested maps with safe key names and any text values.
fn tree(depth: u32) -> impl Strategy<Value = Value> {
    let leaf = any::<String>().prop_map(Value::String);
    leaf.prop_recursive(depth, 24, 4, |inner| {
        prop::collection::btree_map("[A-Za-z0-9_]{1,8}", inner, 1..4)
            .prop_map(|m| Value::Object(m.into_iter().collect::<Map<String, Value>>()))
    })
}

/// Bytes that look like forms more often than uniform noise does.
fn formish() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        any::<Vec<u8>>(),
        "[a-z\\[\\]=&%+0-9A-F_]{0,200}".prop_map(String::into_bytes),
        prop::collection::vec(
            prop_oneof![
                Just(b"event=ONTASKCOMMENTADD&".to_vec()),
                Just(b"auth%5Bapplication_token%5D=x&".to_vec()),
                Just(b"auth%5Bmember_id%5D=m&".to_vec()),
                Just(b"data%5BFIELDS_AFTER%5D%5BMESSAGE_ID%5D=".to_vec()),
                Just(b"[][[]]][".to_vec()),
                Just(b"%".to_vec()),
                Just(b"%ZZ%FF%C3".to_vec()),
                any::<Vec<u8>>(),
            ],
            0..12,
        )
        .prop_map(|parts| parts.concat()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn the_decoder_never_panics(body in formish(), content_type in prop::option::of(".{0,40}")) {
        let limits = FormLimits::new(4096, 64, 4);
        match decode_delivery(content_type.as_deref(), &body, &limits) {
            Ok(d) => prop_assert!(!d.event.is_empty()),
            Err(e) => {
                // Every refusal is one of the typed errors and prints.
                let _ = e.to_string();
            }
        }
        let _ = parse_form(&body, &FormLimits::DEFAULT);
    }

    #[test]
    fn php_forms_read_back_as_the_tree(root in prop::collection::btree_map("[A-Za-z0-9_]{1,8}", tree(3), 1..5)) {
        let root = Value::Object(root.into_iter().collect());
        let body = php_form(&root);
        let parsed = parse_form(body.as_bytes(), &FormLimits::DEFAULT).unwrap();
        prop_assert_eq!(Value::Object(parsed), root);
    }

    #[test]
    fn any_data_under_a_known_event_decodes_or_is_a_payload_error(
        event in prop_oneof![
            Just("ONTASKCOMMENTADD"), Just("ONTASKADD"), Just("ONAPPINSTALL"),
            Just("ONAPPUNINSTALL"), Just("ONIMBOTMESSAGEADD"), Just("ONSOMETHINGELSE")
        ],
        data in tree(3),
    ) {
        let body = php_form(&serde_json::json!({"event": event, "data": data, "auth": auth()}));
        match decode_delivery(None, body.as_bytes(), &FormLimits::DEFAULT) {
            Ok(d) => prop_assert_eq!(d.payload.name(), d.event.as_str()),
            Err(DeliveryError::Payload { event: e, .. }) => prop_assert_eq!(e, event),
            Err(other) => prop_assert!(false, "unexpected {:?}", other),
        }
    }
}
