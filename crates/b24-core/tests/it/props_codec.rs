//! Property tests: every method's parameters survive build → parse unchanged, and the
//! response parser never panics.

use b24_core::bytes::Bytes;
use b24_core::http;
use b24_core::methods::{
    BatchCommand, BatchV3, Condition, DialogId, Direction, FilterField, FilterGroup, FilterItem,
    ImMessageAdd, Operator, RawCall, SelectField, SortField, TaskChatMessageSend, TaskGet,
    TaskResultAdd, TaskResultAddFromChatMessage, TaskResultDelete, TaskResultList,
    TaskResultUpdate,
};
use b24_core::types::{
    AccessToken, ApiError, ChatId, ErrorCode, ErrorShape, MessageId, ResultId, ResultStatus,
    TaskId, Time, UserId, ValidationIssue,
};
use b24_core::{
    build_request, parse_envelope, parse_envelope_with, parse_response, Api, Error, Method,
    RequestOptions,
};
use proptest::prelude::*;
use serde_json::{json, Map, Value};

use crate::codec_support::{no_headers, oauth, response, status, webhook};

fn positive() -> impl Strategy<Value = u64> {
    prop_oneof![1..=1000u64, 1..=u64::MAX]
}

fn text() -> impl Strategy<Value = String> {
    any::<String>().prop_filter("non-blank", |s| !s.trim().is_empty())
}

fn token() -> impl Strategy<Value = String> {
    any::<String>().prop_filter("non-empty", |s| !s.is_empty())
}

/// Builds the request for both portals and checks both bodies against `expected`.
fn round_trip<M: Method>(method: &M, expected: &Value, tok: &str) -> Result<(), TestCaseError> {
    let hook = build_request(&webhook(), method, &RequestOptions::new())
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    let got: Value = serde_json::from_slice(hook.body()).unwrap();
    prop_assert_eq!(&got, expected);
    if let Value::Object(exp) = expected {
        let req = build_request(
            &oauth(),
            method,
            &RequestOptions::new().access_token(AccessToken::new(tok)),
        )
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let got: Value = serde_json::from_slice(req.body()).unwrap();
        let mut with_auth = Map::new();
        with_auth.insert("auth".into(), json!(tok));
        with_auth.extend(exp.clone());
        prop_assert_eq!(got, Value::Object(with_auth));
    }
    Ok(())
}

proptest! {
    #[test]
    fn task_result_add(task in positive(), t in text(), tok in token()) {
        let m = TaskResultAdd::new(TaskId::new(task).unwrap(), t.clone()).unwrap();
        round_trip(&m, &json!({"fields":{"taskId":task,"text":t}}), &tok)?;
    }

    #[test]
    fn task_result_add_from_chat_message(msg in positive(), tok in token()) {
        let m = TaskResultAddFromChatMessage::new(MessageId::new(msg).unwrap());
        round_trip(&m, &json!({"fields":{"messageId":msg}}), &tok)?;
    }

    #[test]
    fn task_result_update(id in positive(), t in text(), tok in token()) {
        let m = TaskResultUpdate::new(ResultId::new(id).unwrap(), t.clone()).unwrap();
        round_trip(&m, &json!({"id":id,"fields":{"text":t}}), &tok)?;
    }

    #[test]
    fn task_result_delete(id in positive(), tok in token()) {
        let m = TaskResultDelete::new(ResultId::new(id).unwrap());
        round_trip(&m, &json!({"id":id}), &tok)?;
    }

    #[test]
    fn task_chat_message_send(task in positive(), t in text(), tok in token()) {
        let m = TaskChatMessageSend::new(TaskId::new(task).unwrap(), t.clone()).unwrap();
        round_trip(&m, &json!({"fields":{"taskId":task,"text":t}}), &tok)?;
    }

    #[test]
    fn task_get(id in positive(), select in proptest::collection::vec("[a-z][a-zA-Z0-9_]{0,8}(\\.[a-z][a-zA-Z0-9_]{0,8})?", 0..6), tok in token()) {
        let m = TaskGet::new(TaskId::new(id).unwrap()).select(select.clone()).unwrap();
        let mut unique: Vec<String> = Vec::new();
        for s in select {
            if !unique.contains(&s) {
                unique.push(s);
            }
        }
        let expected = if unique.is_empty() { json!({"id":id}) } else { json!({"id":id,"select":unique}) };
        round_trip(&m, &expected, &tok)?;
    }

    #[test]
    fn im_message_add(chat in any::<bool>(), id in positive(), t in text(), tok in token()) {
        let (dialog, wire) = if chat {
            (DialogId::chat(ChatId::new(id).unwrap()), format!("chat{id}"))
        } else {
            (DialogId::user(UserId::new(id).unwrap()), id.to_string())
        };
        let m = ImMessageAdd::new(dialog, t.clone()).unwrap();
        round_trip(&m, &json!({"DIALOG_ID":wire,"MESSAGE":t}), &tok)?;
    }

    #[test]
    fn raw_call(name in "[a-z][a-z0-9_]{0,10}(\\.[a-z0-9_]{1,10}){0,4}", params in json_object(), v3 in any::<bool>(), tok in token()) {
        let api = if v3 { Api::V3 } else { Api::Classic };
        let m = RawCall::new(name.clone(), api).unwrap().with_params(params.clone());
        round_trip(&m, &Value::Object(params), &tok)?;
        let req = build_request(&webhook(), &m, &RequestOptions::new()).unwrap();
        let tail = format!("/{name}");
        let ends = req.uri().path().ends_with(&tail);
        prop_assert!(ends);
    }

    #[test]
    fn task_result_list(spec in list_spec(), tok in token()) {
        let (list, expected) = spec;
        round_trip(&list, &expected, &tok)?;
    }

    #[test]
    fn batch(cmds in proptest::collection::vec((("[a-z]{1,6}\\.[a-z]{1,6}"), json_object(), any::<bool>()), 1..=50)) {
        let mut batch = BatchV3::new();
        let mut expected = Vec::new();
        for (i, (method, query, aliased)) in cmds.into_iter().enumerate() {
            let mut cmd = BatchCommand::new(method.clone(), query.clone()).unwrap();
            let mut item = json!({"method": method, "query": query});
            if aliased {
                let alias = format!("c{i}");
                cmd = cmd.with_alias(alias.clone()).unwrap();
                item["as"] = json!(alias);
            }
            batch = batch.push(cmd).unwrap();
            expected.push(item);
        }
        round_trip(&batch, &Value::Array(expected), "unused")?;
    }

    #[test]
    fn limit_outside_bounds_is_refused(limit in prop_oneof![Just(0u32), 1001..=u32::MAX]) {
        prop_assert!(TaskResultList::for_task(TaskId::new(1).unwrap()).limit(limit).is_err());
    }

    #[test]
    fn parse_response_never_panics_on_bytes(code in 100u16..=999, body in proptest::collection::vec(any::<u8>(), 0..512)) {
        let resp = raw_response(code, body);
        let _ = parse_response(&TaskResultList::for_task(TaskId::new(1).unwrap()), &resp);
        let _ = parse_response(&RawCall::new("documentation", Api::V3).unwrap(), &resp);
        if let Err(Error::UnexpectedBody { snippet, .. }) = parse_envelope(resp.status(), resp.headers(), resp.body()) {
            prop_assert!(snippet.chars().count() <= b24_core::SNIPPET_CHARS + 1);
            prop_assert!(!snippet.chars().any(char::is_control));
        }
    }

    #[test]
    fn parse_response_never_panics_on_json(code in 100u16..=999, value in json_value(), wrap in 0u8..4) {
        let body = match wrap {
            0 => value,
            1 => json!({"result": value}),
            2 => json!({"error": value}),
            _ => json!({"result": {"item": value}, "time": value}),
        };
        let resp = response(code, &body.to_string());
        let _ = parse_response(&TaskResultAdd::new(TaskId::new(1).unwrap(), "x").unwrap(), &resp);
        let _ = parse_response(&TaskResultDelete::new(ResultId::new(1).unwrap()), &resp);
        let _ = parse_response(&ImMessageAdd::new(DialogId::user(UserId::new(1).unwrap()), "x").unwrap(), &resp);
        let _ = parse_response(&TaskGet::new(TaskId::new(1).unwrap()), &resp);
        let _ = parse_response(&BatchV3::new(), &resp);
    }

    #[test]
    fn envelope_round_trip(result in json_value(), with_time in any::<bool>(), start in 0u32..2_000_000_000, op in 0u32..1000, code in prop_oneof![Just(200u16), Just(201)]) {
        let mut body = json!({"result": result});
        let mut time = None;
        if with_time {
            let mut t = Time::new();
            t.start = Some(f64::from(start));
            t.operating = Some(f64::from(op) / 10.0);
            body["time"] = serde_json::to_value(&t).unwrap();
            time = Some(t);
        }
        let reply = parse_envelope(status(code), &no_headers(), body.to_string().as_bytes()).unwrap();
        prop_assert_eq!(reply.result, body["result"].clone());
        prop_assert_eq!(reply.time, time);
        prop_assert!(!reply.replayed);
    }

    #[test]
    fn api_error_round_trip(err in api_error()) {
        let body = err.to_body().to_string();
        match parse_envelope(status(err.status), &no_headers(), body.as_bytes()) {
            Err(Error::Api(got)) => prop_assert_eq!(*got, err),
            other => prop_assert!(false, "expected an API error, got {:?}", other),
        }
    }
}

proptest! {
    #[test]
    fn one_pass_parser_agrees_with_the_rules_over_a_whole_value(
        code in prop_oneof![Just(200u16), Just(201), 400..=599u16],
        body in test_body(),
    ) {
        let text = body.text();
        for accept_bare in [false, true] {
            let want = reference(code, &body, accept_bare);
            let got = outcome(parse_envelope_with(status(code), &no_headers(), text.as_bytes(), accept_bare));
            prop_assert_eq!(&got, &want, "parse_envelope_with({}) of {}", accept_bare, text);
            let name = if accept_bare { "rest.documentation.openapi" } else { "tasks.task.get" };
            let raw = RawCall::new(name, Api::V3).unwrap();
            let got = outcome(parse_response(&raw, &response(code, &text)));
            prop_assert_eq!(&got, &want, "parse_response({}) of {}", name, text);
        }
    }
}

/// What a parse came to, compared between the parser and [`reference`].
#[derive(Debug, PartialEq)]
enum Outcome {
    Ok(Value, Option<Time>),
    Api(u16, ErrorShape, String),
    Decode(u16),
    Unexpected(u16),
}

fn outcome(parsed: Result<b24_core::Reply<Value>, Error>) -> Outcome {
    match parsed {
        Ok(reply) => Outcome::Ok(reply.result, reply.time),
        Err(Error::Api(api)) => Outcome::Api(api.status, api.shape, api.code.as_str().to_owned()),
        Err(Error::Decode { status, .. }) => Outcome::Decode(status),
        Err(Error::UnexpectedBody { status, .. }) => Outcome::Unexpected(status),
        Err(other) => panic!("unexpected error kind: {other:?}"),
    }
}

/// A member value of a generated body.
#[derive(Debug, Clone)]
enum Member {
    /// Valid JSON.
    Valid(String),
    /// Valid JSON syntax that serde_json will not build into a value.
    Unbuildable(&'static str),
    /// Broken syntax: the body is not JSON.
    Broken(&'static str),
}

impl Member {
    fn text(&self) -> &str {
        match self {
            Member::Valid(s) => s,
            Member::Unbuildable(s) | Member::Broken(s) => s,
        }
    }
}

/// A generated body: an object written member by member (keys may repeat, stand in
/// any order or be escaped), or other text.
#[derive(Debug, Clone)]
enum TestBody {
    Object(Vec<(&'static str, Member)>),
    Other(String),
}

impl TestBody {
    fn text(&self) -> String {
        match self {
            TestBody::Object(members) => {
                let inner: Vec<String> = members
                    .iter()
                    .map(|(k, v)| format!("\"{k}\": {}", v.text()))
                    .collect();
                format!("{{{}}}", inner.join(","))
            }
            TestBody::Other(text) => text.clone(),
        }
    }
}

/// The envelope rules, over the body parsed whole into a `Value`. Text that is valid
/// syntax but unbuildable is an unexpected body where it is read; in a success body
/// it is skipped where nothing reads it and makes a `time` it sits in malformed.
fn reference(code: u16, body: &TestBody, accept_bare: bool) -> Outcome {
    let members = match body {
        TestBody::Other(text) => {
            return match serde_json::from_str::<Value>(text) {
                Err(_) => Outcome::Unexpected(code),
                Ok(value @ Value::Object(_)) => reference_object(code, value, accept_bare, None),
                Ok(value) if accept_bare => Outcome::Ok(value, None),
                Ok(_) => Outcome::Decode(code),
            }
        }
        TestBody::Object(members) => members,
    };
    if members.iter().any(|(_, v)| matches!(v, Member::Broken(_))) {
        return Outcome::Unexpected(code);
    }
    // The last member of each key counts; find which ones are unbuildable.
    let canonical = |k: &str| match k {
        "res\\u0075lt" => "result".to_owned(),
        "\\u0065rror" => "error".to_owned(),
        other => other.to_owned(),
    };
    let mut last: Map<String, Value> = Map::new();
    let mut unbuildable: Vec<String> = Vec::new();
    for (k, v) in members {
        let k = canonical(k);
        unbuildable.retain(|u| *u != k);
        match v {
            Member::Valid(text) => {
                last.insert(k, serde_json::from_str(text).unwrap());
            }
            _ => {
                last.insert(k.clone(), json!("unbuildable"));
                unbuildable.push(k);
            }
        }
    }
    let any_unbuildable = members
        .iter()
        .any(|(_, v)| matches!(v, Member::Unbuildable(_)));
    reference_object(
        code,
        Value::Object(last),
        accept_bare,
        Some((any_unbuildable, unbuildable)),
    )
}

/// `unbuildable`: whether the body holds unbuildable text anywhere, and the keys
/// whose counting value is unbuildable.
fn reference_object(
    code: u16,
    value: Value,
    accept_bare: bool,
    unbuildable: Option<(bool, Vec<String>)>,
) -> Outcome {
    let (anywhere, keys) = unbuildable.unwrap_or((false, Vec::new()));
    let Value::Object(map) = value else {
        unreachable!("an object");
    };
    let time = if keys.iter().any(|k| k == "time") {
        None
    } else {
        map.get("time")
            .and_then(|t| serde_json::from_value::<Time>(t.clone()).ok())
    };
    let error = map.get("error").filter(|e| !e.is_null());
    if error.is_some() && anywhere {
        return Outcome::Unexpected(code);
    }
    match error {
        None => {}
        Some(Value::Object(detail)) => {
            let code_text = match detail.get("code") {
                None => String::new(),
                Some(Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
            };
            return Outcome::Api(code, ErrorShape::V3, code_text);
        }
        Some(Value::String(s)) => return Outcome::Api(code, ErrorShape::Classic, s.clone()),
        Some(other) => return Outcome::Api(code, ErrorShape::Classic, other.to_string()),
    }
    if let Some(result) = map.get("result") {
        if keys.iter().any(|k| k == "result") {
            return Outcome::Unexpected(code);
        }
        return Outcome::Ok(result.clone(), time);
    }
    if anywhere {
        return Outcome::Unexpected(code);
    }
    if accept_bare {
        Outcome::Ok(Value::Object(map), None)
    } else {
        Outcome::Decode(code)
    }
}

fn test_body() -> impl Strategy<Value = TestBody> {
    let top_key = prop_oneof![
        Just("result"),
        Just("error"),
        Just("time"),
        Just("error_description"),
        Just("next"),
        Just("res\\u0075lt"),
        Just("\\u0065rror"),
    ];
    let member = prop_oneof![
        4 => json_value().prop_map(|v| Member::Valid(v.to_string())),
        1 => Just(Member::Valid("null".to_owned())),
        1 => (proptest::option::of(0u32..2_000_000_000), proptest::option::of(0u32..1000))
            .prop_map(|(start, op)| {
                let mut t = Time::new();
                t.start = start.map(f64::from);
                t.operating = op.map(|o| f64::from(o) / 10.0);
                Member::Valid(serde_json::to_string(&t).unwrap())
            }),
        1 => Just(Member::Valid(r#"{"start":"1777530300","operating":"0.5"}"#.to_owned())),
        1 => Just(Member::Valid(r#"{"code":"QUERY_LIMIT_EXCEEDED","message":"m"}"#.to_owned())),
        1 => prop_oneof![
            Just(Member::Unbuildable(r#""\ud800""#)),
            Just(Member::Unbuildable("1e400")),
            Just(Member::Unbuildable(r#"{"operating":[-1e999]}"#)),
        ],
        1 => prop_oneof![
            Just(Member::Broken("[1,")),
            Just(Member::Broken(r#""\q""#)),
            Just(Member::Broken("tru")),
        ],
    ];
    prop_oneof![
        8 => proptest::collection::vec((top_key, member), 0..6).prop_map(TestBody::Object),
        2 => json_value().prop_map(|v| TestBody::Other(format!(" {v}\n"))),
        1 => Just(TestBody::Other("<html>502</html>".to_owned())),
        1 => Just(TestBody::Other(" \n".to_owned())),
    ]
}

fn raw_response(code: u16, body: Vec<u8>) -> http::Response<Bytes> {
    http::Response::builder()
        .status(code)
        .body(Bytes::from(body))
        .unwrap()
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        (-1.0e9f64..1.0e9).prop_map(|f| json!(f)),
        "\\PC{0,12}".prop_map(Value::String),
        prop_oneof![
            Just("result"),
            Just("error"),
            Just("item"),
            Just("items"),
            Just("id"),
            Just("code"),
            Just("validation"),
            Just("time"),
            Just("open")
        ]
        .prop_map(|s| json!(s)),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::vec((key(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("result".to_owned()),
        Just("error".to_owned()),
        Just("error_description".to_owned()),
        Just("item".to_owned()),
        Just("items".to_owned()),
        Just("id".to_owned()),
        Just("message".to_owned()),
        Just("field".to_owned()),
        Just("validation".to_owned()),
        Just("code".to_owned()),
        Just("time".to_owned()),
        "[a-zA-Z]{1,6}",
    ]
}

fn json_object() -> impl Strategy<Value = Map<String, Value>> {
    proptest::collection::vec(
        (
            "[a-zA-Z][a-zA-Z0-9_]{0,8}".prop_filter("not auth", |k| k != "auth"),
            json_value(),
        ),
        0..5,
    )
    .prop_map(|kv| kv.into_iter().collect())
}

fn api_error() -> impl Strategy<Value = ApiError> {
    let code = prop_oneof![
        proptest::sample::select(ErrorCode::KNOWN.to_vec()),
        "[A-Z_]{1,20}".prop_map(|s| ErrorCode::from_wire(&s)),
    ];
    let issue =
        (proptest::option::of("[a-zA-Z.]{1,10}"), "\\PC{0,20}").prop_map(|(f, m)| match f {
            Some(f) => ValidationIssue::field(f, m),
            None => ValidationIssue::general(m),
        });
    (
        prop_oneof![Just(200u16), 400..=599u16],
        code,
        "\\PC{0,30}",
        any::<bool>(),
        proptest::collection::vec(issue, 0..4),
    )
        .prop_map(|(status, code, message, v3, validation)| {
            if v3 {
                ApiError::new(status, code, message, ErrorShape::V3).with_validation(validation)
            } else {
                ApiError::new(status, code, message, ErrorShape::Classic)
            }
        })
}

/// A condition and its expected wire form.
fn condition() -> impl Strategy<Value = (Condition, Value)> {
    let int_field = proptest::sample::select(vec![
        FilterField::TaskId,
        FilterField::Id,
        FilterField::AuthorId,
        FilterField::MessageId,
    ]);
    let cmp = proptest::sample::select(vec![
        Operator::Eq,
        Operator::Ne,
        Operator::Gt,
        Operator::Ge,
        Operator::Lt,
        Operator::Le,
    ]);
    let status = prop_oneof![Just(ResultStatus::Open), Just(ResultStatus::Closed)];
    prop_oneof![
        (int_field.clone(), cmp, any::<u64>()).prop_map(|(f, op, v)| {
            let wire = if op == Operator::Eq {
                json!([f.as_str(), v])
            } else {
                json!([f.as_str(), op.as_str(), v])
            };
            (Condition::new(f, op, v).unwrap(), wire)
        }),
        (
            int_field.clone(),
            proptest::collection::vec(any::<u64>(), 1..5)
        )
            .prop_map(|(f, vs)| {
                (
                    Condition::one_of(f, vs.clone()).unwrap(),
                    json!([f.as_str(), "in", vs]),
                )
            }),
        (int_field, any::<u64>(), any::<u64>()).prop_map(|(f, a, b)| {
            let (lo, hi) = (a.min(b), a.max(b));
            (
                Condition::between(f, lo, hi).unwrap(),
                json!([f.as_str(), "between", [lo, hi]]),
            )
        }),
        (any::<bool>(), status.clone()).prop_map(|(ne, s)| {
            let wire = if ne {
                json!(["status", "!=", s.as_str()])
            } else {
                json!(["status", s.as_str()])
            };
            let op = if ne { Operator::Ne } else { Operator::Eq };
            (Condition::new(FilterField::Status, op, s).unwrap(), wire)
        }),
        proptest::collection::vec(status, 1..3).prop_map(|ss| {
            let wire: Vec<&str> = ss.iter().map(ResultStatus::as_str).collect();
            (
                Condition::one_of(FilterField::Status, ss.clone()).unwrap(),
                json!(["status", "in", wire]),
            )
        }),
    ]
}

/// A filter item (condition or nested group) and its wire form.
fn filter_item() -> impl Strategy<Value = (FilterItem, Value)> {
    let leaf = condition().prop_map(|(c, v)| (FilterItem::from(c), v));
    leaf.prop_recursive(3, 16, 4, |inner| {
        (
            any::<bool>(),
            any::<bool>(),
            proptest::collection::vec(inner, 1..4),
        )
            .prop_map(|(or, negative, items)| {
                let (items, wires): (Vec<FilterItem>, Vec<Value>) = items.into_iter().unzip();
                let mut group = if or {
                    FilterGroup::any(items).unwrap()
                } else {
                    FilterGroup::all(items).unwrap()
                };
                if negative {
                    group = group.negate();
                }
                let wire = json!({
                    "logic": if or { "or" } else { "and" },
                    "negative": negative,
                    "conditions": wires,
                });
                (FilterItem::from(group), wire)
            })
    })
}

type ListSpec = (TaskResultList, Value);

fn list_spec() -> impl Strategy<Value = ListSpec> {
    (
        positive(),
        proptest::collection::vec(filter_item(), 0..4),
        proptest::collection::vec(
            (
                proptest::sample::select(SortField::ALL.to_vec()),
                any::<bool>(),
            ),
            0..4,
        ),
        proptest::collection::vec(proptest::sample::select(SelectField::ALL.to_vec()), 0..5),
        proptest::option::of(1u32..=1000),
        proptest::option::of(any::<u64>()),
        proptest::option::of(1u64..=u64::MAX),
        proptest::option::of(positive()),
    )
        .prop_map(
            |(task, filters, order, select, limit, offset, page, after)| {
                let mut list = TaskResultList::for_task(TaskId::new(task).unwrap());
                let mut filter_wire = vec![json!(["taskId", task])];
                for (item, wire) in filters {
                    list = list.filter(item);
                    filter_wire.push(wire);
                }
                let mut order_wire: Vec<(String, Value)> = Vec::new();
                for (field, asc) in order {
                    let dir = if asc { Direction::Asc } else { Direction::Desc };
                    list = list.order(field, dir);
                    order_wire.retain(|(f, _)| f != field.as_str());
                    order_wire.push((field.as_str().to_owned(), json!(dir.as_str())));
                }
                list = list.select(select.clone());
                let mut select_wire: Vec<&str> = Vec::new();
                for s in &select {
                    if !select_wire.contains(&s.as_str()) {
                        select_wire.push(s.as_str());
                    }
                }
                if let Some(l) = limit {
                    list = list.limit(l).unwrap();
                }
                let mut offset = offset;
                let mut page = page;
                if let Some(o) = offset {
                    list = list.offset(o);
                }
                if let Some(p) = page {
                    list = list.page(p).unwrap();
                }
                if let Some(a) = after {
                    list = list.after_id(ResultId::new(a).unwrap());
                    filter_wire.push(json!(["id", ">", a]));
                    order_wire = vec![("id".to_owned(), json!("ASC"))];
                    offset = None;
                    page = None;
                }
                let mut expected = Map::new();
                expected.insert("filter".into(), Value::Array(filter_wire));
                if !select_wire.is_empty() {
                    expected.insert("select".into(), json!(select_wire));
                }
                if !order_wire.is_empty() {
                    expected.insert(
                        "order".into(),
                        Value::Object(order_wire.into_iter().collect()),
                    );
                }
                let mut pagination = Map::new();
                if let Some(l) = limit {
                    pagination.insert("limit".into(), json!(l));
                }
                if let Some(o) = offset {
                    pagination.insert("offset".into(), json!(o));
                }
                if let Some(p) = page {
                    pagination.insert("page".into(), json!(p));
                }
                if !pagination.is_empty() {
                    expected.insert("pagination".into(), Value::Object(pagination));
                }
                (list, Value::Object(expected))
            },
        )
}

proptest! {
    #[test]
    fn portal_parsing_never_panics(url in "\\PC{0,80}") {
        let _ = b24_core::Portal::webhook(&url);
        let _ = b24_core::Portal::oauth(&url);
        let _ = b24_core::Portal::builder().allow_plain_http_to_loopback(true).webhook(&url);
    }

    #[test]
    fn webhook_urls_round_trip(
        host in "[a-z][a-z0-9-]{0,10}[a-z0-9](\\.[a-z][a-z0-9]{0,8}){1,3}",
        port in proptest::option::of(1u16..=65535),
        user in positive(),
        secret in "[A-Za-z0-9_-]{8,40}",
        api in any::<bool>(),
        slash in any::<bool>(),
        method in proptest::option::of("[a-z]{1,8}(\\.[a-z]{1,8}){0,3}(\\.json)?"),
    ) {
        let authority = match port {
            Some(p) => format!("{host}:{p}"),
            None => host.clone(),
        };
        let mut url = format!("https://{authority}/rest/{}{user}/{secret}", if api { "api/" } else { "" });
        if slash || method.is_some() {
            url.push('/');
        }
        if let Some(m) = &method {
            url.push_str(m);
        }
        let portal = b24_core::Portal::webhook(&url).unwrap();
        prop_assert_eq!(portal.host(), authority.as_str());
        prop_assert_eq!(portal.user_id(), Some(UserId::new(user).unwrap()));
        let shown = format!("{portal} {portal:?}");
        if secret.len() >= 6 && !authority.contains(&secret) && !"webhook user Portal scheme https auth host".contains(&secret) {
            prop_assert!(!shown.contains(&secret), "{}", shown);
        }
        // The request path carries exactly the parsed user and secret.
        let req = build_request(&portal, &TaskResultDelete::new(ResultId::new(1).unwrap()), &RequestOptions::new()).unwrap();
        let expected = format!("/rest/api/{user}/{secret}/tasks.task.result.delete");
        prop_assert_eq!(req.uri().path(), expected.as_str());
        prop_assert_eq!(req.uri().authority().unwrap().as_str(), authority.as_str());
    }

    #[test]
    fn portal_errors_never_echo_the_input(secret in "[A-Za-z0-9]{12,30}", junk in "[ /?#@%!]{1,3}") {
        let url = format!("https://example.com/rest/1/{secret}{junk}x/y/z");
        if let Err(e) = b24_core::Portal::webhook(&url) {
            let shown = format!("{e} {e:?}");
            prop_assert!(!shown.contains(&secret));
        }
    }
}
