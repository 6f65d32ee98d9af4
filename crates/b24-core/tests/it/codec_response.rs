//! Envelope rules: errors in any status, both shapes, replays, odd bodies.

use b24_core::methods::{RawCall, TaskResultAddFromChatMessage, TaskResultDelete, TaskResultList};
use b24_core::types::{ErrorCode, ErrorShape, MessageId, ResultId, TaskId};
use b24_core::{parse_envelope, parse_envelope_with, parse_response, scrub_snippet, Api, Error};
use serde_json::json;

use crate::codec_support::{no_headers, replayed_response, response, status, SECRET};

fn from_chat() -> TaskResultAddFromChatMessage {
    TaskResultAddFromChatMessage::new(MessageId::new(335).unwrap())
}

#[test]
fn error_bodies_win_over_a_2xx_status() {
    let body = r#"{"error":"QUERY_LIMIT_EXCEEDED","error_description":"Too many requests"}"#;
    let err = parse_response(&from_chat(), &response(200, body)).unwrap_err();
    assert_eq!(err.code(), Some(&ErrorCode::QueryLimitExceeded));
    assert_eq!(err.status(), Some(200));
    assert_eq!(err.api_error().unwrap().shape, ErrorShape::Classic);

    let v3 = r#"{"error":{"code":"BITRIX_REST_V3_EXCEPTION_ACCESSDENIEDEXCEPTION","message":"Access denied"},"result":{"item":{"id":1}}}"#;
    let err = parse_response(&from_chat(), &response(200, v3)).unwrap_err();
    assert_eq!(err.code(), Some(&ErrorCode::V3AccessDenied));
    assert_eq!(err.api_error().unwrap().shape, ErrorShape::V3);
}

#[test]
fn error_shapes_are_read_leniently() {
    // Numeric classic code.
    let err = parse_envelope(status(400), &no_headers(), br#"{"error":100}"#).unwrap_err();
    assert_eq!(err.code().unwrap().as_str(), "100");
    // v3 object without a code still is an API error, classified by status.
    let err = parse_envelope(status(503), &no_headers(), br#"{"error":{}}"#).unwrap_err();
    assert_eq!(err.code().unwrap().as_str(), "");
    assert_eq!(err.status(), Some(503));
    // Odd validation entries are kept as general issues; time is kept.
    let err = parse_envelope(
        status(400),
        &no_headers(),
        br#"{"error":{"code":"X","message":5,"validation":["plain",{"field":3,"message":"m"},{"message":"g"}]},"time":{"operating":1.5}}"#,
    )
    .unwrap_err();
    let api = err.api_error().unwrap();
    assert_eq!(api.code, ErrorCode::Other("X".into()));
    assert_eq!(api.message, "5");
    assert_eq!(api.validation.len(), 3);
    assert_eq!(api.validation[0].message, "plain");
    assert_eq!(api.validation[1].field.as_deref(), Some("3"));
    assert_eq!(api.validation[2].field, None);
    assert_eq!(api.time.as_ref().unwrap().operating, Some(1.5));
    // `"error": null` is no error.
    let ok = parse_envelope(status(200), &no_headers(), br#"{"error":null,"result":1}"#).unwrap();
    assert_eq!(ok.result, json!(1));
}

#[test]
fn replayed_header_sets_the_flag() {
    let body = include_str!("fixtures/addfromchatmessage/response.json");
    let fresh = parse_response(&from_chat(), &response(200, body)).unwrap();
    assert!(!fresh.replayed);
    let replay = parse_response(&from_chat(), &replayed_response(200, body)).unwrap();
    assert!(replay.replayed);
    assert_eq!(replay.result, fresh.result);
}

#[test]
fn html_pages_and_empty_bodies_are_unexpected_bodies() {
    let html = format!(
        "<html>\r\n<head><title>502 Bad Gateway</title></head>\x07<body>upstream https://example.bitrix24.com/rest/1/{SECRET}/x failed /rest/1/{SECRET}/ token a1b2c3d4e5f6g7h8i9j0</body></html>"
    );
    let err = parse_response(&from_chat(), &response(502, &html)).unwrap_err();
    match &err {
        Error::UnexpectedBody { status, snippet } => {
            assert_eq!(*status, 502);
            assert!(snippet.contains("502 Bad Gateway"), "{snippet}");
            assert!(!snippet.contains(SECRET), "{snippet}");
            assert!(!snippet.contains("a1b2c3d4e5f6g7h8i9j0"), "{snippet}");
            assert!(!snippet.chars().any(char::is_control), "{snippet:?}");
        }
        other => panic!("{other:?}"),
    }
    assert!(!format!("{err} {err:?}").contains(SECRET));
    for empty in ["", "  \n"] {
        let err = parse_response(&from_chat(), &response(200, empty)).unwrap_err();
        assert!(matches!(err, Error::UnexpectedBody { status: 200, .. }));
    }
}

#[test]
fn snippets_are_short_and_cut_at_char_boundaries() {
    let long = "ж".repeat(1000);
    let s = scrub_snippet(long.as_bytes());
    assert!(s.chars().count() <= 201);
    assert!(s.ends_with('…'));
    let s = scrub_snippet(&[0xff, 0xfe, b'o', b'k']);
    assert!(s.contains("ok"));
}

#[test]
fn json_without_result_or_error_is_a_decode_error() {
    for body in [r#"{"foo":1}"#, "[1,2]", "42", "\"x\""] {
        let err = parse_envelope(status(200), &no_headers(), body.as_bytes()).unwrap_err();
        assert!(
            matches!(err, Error::Decode { status: 200, ref path, .. } if path == "."),
            "{body}: {err:?}"
        );
    }
}

#[test]
fn decode_errors_carry_the_json_path() {
    let body = r#"{"result":{"item":{"id":"x","taskId":51}}}"#;
    let err = parse_response(&from_chat(), &response(200, body)).unwrap_err();
    match err {
        Error::Decode { status, path, .. } => {
            assert_eq!(status, 200);
            assert_eq!(path, "result.item.id");
        }
        other => panic!("{other:?}"),
    }
    let list = TaskResultList::for_task(TaskId::new(51).unwrap());
    let body = r#"{"result":{"items":[{"id":1},{"id":0}]}}"#;
    match parse_response(&list, &response(200, body)).unwrap_err() {
        Error::Decode { path, .. } => assert_eq!(path, "result.items[1].id"),
        other => panic!("{other:?}"),
    }
    let del = TaskResultDelete::new(ResultId::new(1).unwrap());
    match parse_response(&del, &response(200, r#"{"result":{"res":true}}"#)).unwrap_err() {
        Error::Decode { path, .. } => assert_eq!(path, "result"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn unknown_fields_are_ignored_and_time_is_lenient() {
    let body =
        r#"{"result":{"result":true,"extra":1},"time":{"start":"1777530300","weird":[]},"next":5}"#;
    let del = TaskResultDelete::new(ResultId::new(1).unwrap());
    let reply = parse_response(&del, &response(200, body)).unwrap();
    assert!(reply.result);
    assert_eq!(reply.time.unwrap().start, Some(1_777_530_300.0));
    // A malformed `time` is dropped, not fatal.
    let reply = parse_response(&del, &response(200, r#"{"result":true,"time":"soon"}"#)).unwrap();
    assert!(reply.result);
    assert!(reply.time.is_none());
}

#[test]
fn openapi_document_is_accepted_bare_or_wrapped() {
    let doc = json!({"openapi":"3.0.0","info":{"title":"Bitrix24 REST V3 API"},"paths":{}});
    let raw = RawCall::new("rest.documentation.openapi", Api::V3).unwrap();
    let bare = parse_response(&raw, &response(200, &doc.to_string())).unwrap();
    assert_eq!(bare.result, doc);
    let wrapped = json!({"result": doc.clone()}).to_string();
    assert_eq!(
        parse_response(&raw, &response(200, &wrapped))
            .unwrap()
            .result,
        doc
    );
    // Errors are still errors.
    assert!(parse_response(
        &raw,
        &response(404, r#"{"error":"ERROR_METHOD_NOT_FOUND"}"#)
    )
    .is_err());
    // Other raw calls insist on the envelope.
    let other = RawCall::new("tasks.task.get", Api::V3).unwrap();
    assert!(parse_response(&other, &response(200, &doc.to_string())).is_err());
    assert!(parse_envelope_with(status(200), &no_headers(), b"[1]", true).is_ok());
}

#[test]
fn error_wins_wherever_it_stands_and_a_repeated_key_keeps_its_last_value() {
    // `error` after `result`: still an error.
    let body = r#"{"result":{"item":{"id":1}},"time":{"operating":2},"error":"ACCESS_DENIED","error_description":"no"}"#;
    let err = parse_response(&from_chat(), &response(200, body)).unwrap_err();
    let api = err.api_error().unwrap();
    assert_eq!(api.code, ErrorCode::AccessDenied);
    assert_eq!(api.message, "no");
    assert_eq!(api.time.as_ref().unwrap().operating, Some(2.0));
    // A repeated key counts with its last value, as in a parsed JSON object.
    let del = TaskResultDelete::new(ResultId::new(1).unwrap());
    let body = r#"{"error":"QUERY_LIMIT_EXCEEDED","result":false,"error":null,"result":true}"#;
    assert!(parse_response(&del, &response(200, body)).unwrap().result);
    let body = r#"{"error":null,"result":true,"error":"QUERY_LIMIT_EXCEEDED"}"#;
    let err = parse_response(&del, &response(200, body)).unwrap_err();
    assert_eq!(err.code(), Some(&ErrorCode::QueryLimitExceeded));
    // Keys are compared after unescaping.
    let body = r#"{"res\u0075lt":{"r\u0065sult":true},"\u0074ime":{"operating":3}}"#;
    let reply = parse_response(&del, &response(200, body)).unwrap();
    assert!(reply.result);
    assert_eq!(reply.time.unwrap().operating, Some(3.0));
}

#[test]
fn untyped_results_keep_key_order_and_null() {
    let raw = RawCall::new("tasks.task.result.list", Api::V3).unwrap();
    let body = r#"{"result":{"zeta":1,"alpha":{"b":2,"a":[3,{"y":4,"x":5}]},"mid":null}}"#;
    let reply = parse_response(&raw, &response(200, body)).unwrap();
    assert_eq!(
        serde_json::to_string(&reply.result).unwrap(),
        r#"{"zeta":1,"alpha":{"b":2,"a":[3,{"y":4,"x":5}]},"mid":null}"#
    );
    let untyped = parse_envelope(status(200), &no_headers(), body.as_bytes()).unwrap();
    assert_eq!(untyped.result, reply.result);
    // `"result": null` is a result (null), not a missing one.
    let reply = parse_response(&raw, &response(200, r#"{"result":null}"#)).unwrap();
    assert_eq!(reply.result, serde_json::Value::Null);
    // A typed method is told what it got.
    let del = TaskResultDelete::new(ResultId::new(1).unwrap());
    match parse_response(&del, &response(200, r#"{"result":null}"#)).unwrap_err() {
        Error::Decode { status, path, .. } => {
            assert_eq!(status, 200);
            assert_eq!(path, "result");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn json_serde_refuses_to_build_is_an_unexpected_body_where_it_is_read() {
    // A lone surrogate escape and a number past f64, read by the decode: the body is
    // not valid JSON for serde_json, exactly as when the whole body was parsed first.
    for body in [
        r#"{"result":{"item":{"id":1,"text":"\ud800"}}}"#,
        r#"{"result":{"item":{"id":1,"taskId":1e400}}}"#,
    ] {
        let err = parse_response(&from_chat(), &response(200, body)).unwrap_err();
        assert!(
            matches!(err, Error::UnexpectedBody { status: 200, .. }),
            "{body}: {err:?}"
        );
        let err = parse_envelope(status(200), &no_headers(), body.as_bytes()).unwrap_err();
        assert!(
            matches!(err, Error::UnexpectedBody { .. }),
            "{body}: {err:?}"
        );
    }
    // The same inside an error body: the error body is parsed whole.
    let body = r#"{"error":"X","junk":"\udc00"}"#;
    let err = parse_response(&from_chat(), &response(400, body)).unwrap_err();
    assert!(
        matches!(err, Error::UnexpectedBody { status: 400, .. }),
        "{err:?}"
    );
    // Broken syntax anywhere, even in a part nothing reads, is never accepted.
    for body in [
        r#"{"result":{"item":{"id":1}},"junk":[1,}"#,
        r#"{"result":{"item":{"id":1}}} trailing"#,
        r#"{"result":{"item":{"id":1}},"junk":"\q"}"#,
        "{\"result\":{\"item\":{\"id\":1,\"text\":\"\u{1}\"}}}",
    ] {
        let err = parse_response(&from_chat(), &response(200, body)).unwrap_err();
        assert!(
            matches!(err, Error::UnexpectedBody { status: 200, .. }),
            "{body}: {err:?}"
        );
    }
}

#[test]
fn decode_messages_name_the_problem_not_a_position() {
    let cases = [
        (
            "{\n  \"result\": {\"item\": {\"id\": 1, \"text\": 5}}\n}",
            "result.item.text",
            "invalid type: integer `5`, expected a string",
        ),
        (
            "{\n  \"result\": {\"item\": {\"id\": \"x\"}}\n}",
            "result.item.id",
            "ResultId must be a positive decimal integer",
        ),
    ];
    for (body, want_path, want_message) in cases {
        match parse_response(&from_chat(), &response(200, body)).unwrap_err() {
            Error::Decode { path, message, .. } => {
                assert_eq!(path, want_path);
                assert_eq!(message, want_message);
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn a_bare_result_that_does_not_decode_has_a_result_path() {
    // A typed method that accepts bare results is decoded from the whole body.
    struct BareCount;
    impl b24_core::Method for BareCount {
        type Output = Vec<u32>;
        fn name(&self) -> &str {
            "documentation"
        }
        fn api(&self) -> Api {
            Api::V3
        }
        fn repeat(&self) -> b24_core::Repeat {
            b24_core::Repeat::Safe
        }
        fn params(&self) -> Result<serde_json::Map<String, serde_json::Value>, Error> {
            Ok(serde_json::Map::new())
        }
        fn decode(&self, result: &b24_core::RawValue) -> Result<Vec<u32>, Error> {
            b24_core::decode_json(result)
        }
        fn accepts_bare_result(&self) -> bool {
            true
        }
    }
    let reply = parse_response(&BareCount, &response(200, " [1, 2] ")).unwrap();
    assert_eq!(reply.result, vec![1, 2]);
    assert!(reply.time.is_none());
    match parse_response(&BareCount, &response(200, r#"[1,"two"]"#)).unwrap_err() {
        Error::Decode { status, path, .. } => {
            assert_eq!(status, 200);
            assert_eq!(path, "result[1]");
        }
        other => panic!("{other:?}"),
    }
    match parse_response(&BareCount, &response(200, r#"{"time":{"operating":1}}"#)).unwrap_err() {
        Error::Decode { path, .. } => assert_eq!(path, "result"),
        other => panic!("{other:?}"),
    }
}

/// The one-pass decode of item answers agrees with the general path on every shape:
/// it takes only plain success bodies and leaves everything else to the general path.
#[test]
fn the_one_pass_item_decode_agrees_with_the_general_path() {
    use b24_core::methods::TaskResultAddFromChatMessage;
    use b24_core::types::MessageId;
    let method = TaskResultAddFromChatMessage::new(MessageId::new(335).unwrap());
    let item = r#"{"id":18,"taskId":51,"text":"Done","authorId":1,"status":"open","rights":[],"messageId":335}"#;
    let bodies = [
        format!(
            r#"{{"result":{{"item":{item}}},"time":{{"operating":0.5,"operating_reset_at":1777530900}}}}"#
        ),
        format!(r#"{{"result":{{"item":{item}}}}}"#),
        format!(r#"{{"result":{{"item":{item}}},"time":"not a time"}}"#),
        format!(r#"{{"result":{{"item":{item}}},"error":null}}"#),
        format!(r#"{{"result":{{"item":{item}}},"error":{{"code":"X","message":"both"}}}}"#),
        format!(r#"{{"result":{{"item":{item}}},"next":5}}"#),
        r#"{"result":{"item":{"id":"x"}}}"#.to_owned(),
        r#"{"error":"QUERY_LIMIT_EXCEEDED","error_description":"Too many requests"}"#.to_owned(),
    ];
    for body in bodies {
        let response = http::Response::builder()
            .status(200)
            .body(b24_core::bytes::Bytes::from(body.clone()))
            .unwrap();
        let fast = parse_response(&method, &response);
        // The general path, as a method without the one-pass decode sees it.
        let general = parse_response(&&GeneralOnly(&method), &response);
        assert_eq!(format!("{fast:?}"), format!("{general:?}"), "{body}");
    }
}

/// A method that forwards everything but the one-pass decode.
struct GeneralOnly<'a>(&'a b24_core::methods::TaskResultAddFromChatMessage);

impl b24_core::Method for GeneralOnly<'_> {
    type Output = b24_core::types::TaskResult;
    fn name(&self) -> &str {
        self.0.name()
    }
    fn api(&self) -> b24_core::Api {
        self.0.api()
    }
    fn repeat(&self) -> b24_core::Repeat {
        self.0.repeat()
    }
    fn params(&self) -> Result<serde_json::Map<String, serde_json::Value>, b24_core::Error> {
        self.0.params()
    }
    fn decode(&self, result: &b24_core::RawValue) -> Result<Self::Output, b24_core::Error> {
        self.0.decode(result)
    }
}
