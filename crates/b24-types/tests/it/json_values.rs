//! Structured JSON fuzzing: values shaped like what a portal sends (the DTOs' own field
//! names, with plausible, borderline and wrong values), decoded as every DTO.
//!
//! Random text almost never is valid JSON, so it only exercises the JSON parser. These
//! values reach the DTOs' own (lenient) deserialisers: a decode must never panic, and
//! whatever decodes must survive serialise → decode unchanged.

use b24_types::{
    BoolResult, ClassicErrorBody, DateTime, Envelope, ItemResult, ItemsResult, OAuthErrorBody,
    Task, TaskResult, Time, TokenResponse, User, V3ErrorBody,
};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Value};

/// Every field name of the DTOs, plus the envelope's.
const KEYS: &[&str] = &[
    "id",
    "taskId",
    "text",
    "authorId",
    "author",
    "createdAt",
    "updatedAt",
    "status",
    "fileIds",
    "rights",
    "edit",
    "remove",
    "messageId",
    "name",
    "role",
    "image",
    "gender",
    "email",
    "title",
    "chatId",
    "chat",
    "entityId",
    "entityType",
    "start",
    "finish",
    "duration",
    "processing",
    "date_start",
    "date_finish",
    "operating_reset_at",
    "operating",
    "access_token",
    "refresh_token",
    "expires",
    "expires_in",
    "client_endpoint",
    "server_endpoint",
    "domain",
    "member_id",
    "scope",
    "user_id",
    "error",
    "error_description",
    "code",
    "message",
    "validation",
    "field",
    "result",
    "item",
    "items",
    "time",
];

const TASK_RESULT_KEYS: &[&str] = &[
    "id",
    "taskId",
    "text",
    "authorId",
    "author",
    "createdAt",
    "updatedAt",
    "status",
    "fileIds",
    "rights",
    "messageId",
];
const USER_KEYS: &[&str] = &["id", "name", "role", "image", "gender", "email"];
const TIME_KEYS: &[&str] = &[
    "start",
    "finish",
    "duration",
    "processing",
    "date_start",
    "date_finish",
    "operating_reset_at",
    "operating",
];
const TASK_KEYS: &[&str] = &["id", "title", "chatId", "chat"];
const CHAT_KEYS: &[&str] = &["id", "entityId", "entityType"];
const TOKEN_KEYS: &[&str] = &[
    "access_token",
    "refresh_token",
    "expires",
    "expires_in",
    "client_endpoint",
    "server_endpoint",
    "domain",
    "member_id",
    "scope",
    "status",
    "user_id",
];
const V3_DETAIL_KEYS: &[&str] = &["code", "message", "validation"];
const CLASSIC_KEYS: &[&str] = &["error", "error_description"];
const ISSUE_KEYS: &[&str] = &["message", "field"];

/// Strings that sit on the edges of what the lenient readers accept.
const TRICKY_STRINGS: &[&str] = &[
    "",
    " ",
    "0",
    "-0",
    "-1",
    "17",
    " 17 ",
    "+5",
    "1.5",
    "1e3",
    "0x10",
    "NaN",
    "nan",
    "inf",
    "-inf",
    "infinity",
    "1e400",
    "-1e400",
    "18446744073709551615",
    "18446744073709551616",
    "9223372036854775808",
    "open",
    "closed",
    "Y",
    "N",
    "true",
    "null",
    "TASKS_TASK",
    "invalid_grant",
    "expired_token",
    "QUERY_LIMIT_EXCEEDED",
    "BITRIX_REST_V3_EXCEPTION_ACCESSDENIEDEXCEPTION",
    "2026-04-30T10:15:00+02:00",
    "2026-02-30T10:15:00+02:00",
    "0000-01-01T00:00:00-23:59",
    "9999-12-31T23:59:60.999999999+23:59",
    "2026-04-30T10:15:00",
    "2026-04-30 10:15:00Z",
];

fn number() -> BoxedStrategy<Value> {
    prop_oneof![
        3 => (0i64..1_000).prop_map(Value::from),
        1 => any::<i64>().prop_map(Value::from),
        1 => any::<u64>().prop_map(Value::from),
        1 => prop::sample::select(vec![i64::MIN, i64::MAX, -1, 0]).prop_map(Value::from),
        1 => Just(Value::from(u64::MAX)),
        2 => (-2.0e10f64..2.0e10).prop_map(Value::from),
        1 => any::<f64>().prop_filter_map("finite", |f| {
            serde_json::Number::from_f64(f).map(Value::Number)
        }),
        1 => prop::sample::select(vec![0.5, -0.0, 1.0e300, -1.0e300, 9.0e15, 1.8e19, 5e-324])
            .prop_map(Value::from),
    ]
    .boxed()
}

fn string() -> BoxedStrategy<Value> {
    prop_oneof![
        2 => "\\PC{0,24}".prop_map(Value::from),
        2 => "-?[0-9]{1,21}".prop_map(Value::from),
        3 => prop::sample::select(TRICKY_STRINGS).prop_map(Value::from),
        2 => (any::<i64>(), any::<i32>())
            .prop_map(|(u, o)| Value::from(DateTime::from_unix(u, o).as_str())),
    ]
    .boxed()
}

fn leaf() -> BoxedStrategy<Value> {
    prop_oneof![
        1 => Just(Value::Null),
        1 => any::<bool>().prop_map(Value::from),
        3 => number(),
        3 => string(),
    ]
    .boxed()
}

fn key() -> BoxedStrategy<String> {
    prop_oneof![
        4 => prop::sample::select(KEYS).prop_map(str::to_owned),
        1 => "[a-zA-Z_]{1,12}",
    ]
    .boxed()
}

/// Any JSON value: null, booleans, numbers, strings, arrays and objects whose keys are
/// mostly DTO field names.
fn json_value() -> BoxedStrategy<Value> {
    leaf()
        .prop_recursive(4, 64, 8, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::vec((key(), inner), 0..8)
                    .prop_map(|kv| Value::Object(kv.into_iter().collect())),
            ]
        })
        .boxed()
}

fn id_like() -> BoxedStrategy<Value> {
    prop_oneof![
        4 => (1u64..100_000).prop_map(Value::from),
        2 => (1u64..100_000).prop_map(|n| Value::from(n.to_string())),
        1 => Just(Value::Null),
        1 => Just(Value::from(0)),
        1 => number(),
    ]
    .boxed()
}

fn seconds_like() -> BoxedStrategy<Value> {
    prop_oneof![
        4 => (0u32..2_000_000_000).prop_map(Value::from),
        2 => (0.0f64..2.0e9).prop_map(Value::from),
        1 => (0u32..2_000_000_000).prop_map(|n| Value::from(n.to_string())),
        1 => (0.0f64..2.0e9).prop_map(|f| Value::from(f.to_string())),
        1 => prop::sample::select(TRICKY_STRINGS).prop_map(Value::from),
        1 => number(),
    ]
    .boxed()
}

fn date_like() -> BoxedStrategy<Value> {
    prop_oneof![
        3 => (-3_000_000_000i64..9_000_000_000, -56i32..=56)
            .prop_map(|(u, q)| Value::from(DateTime::from_unix(u, q * 900).as_str())),
        1 => Just(Value::Null),
        1 => string(),
    ]
    .boxed()
}

fn text_like() -> BoxedStrategy<Value> {
    prop_oneof![4 => "\\PC{0,30}".prop_map(Value::from), 1 => leaf()].boxed()
}

/// Fields a DTO cannot do without: present in most generated objects.
const REQUIRED: &[&str] = &["id", "access_token", "refresh_token", "error", "result"];

/// An object with some of `keys` (the required ones mostly there), each with a value
/// plausible for that field (now and then any value at all), and now and then an
/// extra key.
fn object(keys: &'static [&'static str]) -> BoxedStrategy<Value> {
    let fields: Vec<BoxedStrategy<Option<(String, Value)>>> = keys
        .iter()
        .map(|k| {
            let value = prop_oneof![6 => field_value(k), 1 => json_value()];
            let present = if REQUIRED.contains(k) { 0.95 } else { 0.7 };
            prop::option::weighted(present, value.prop_map(move |v| ((*k).to_owned(), v))).boxed()
        })
        .collect();
    (fields, prop::collection::vec((key(), json_value()), 0..2))
        .prop_map(|(fields, extra)| {
            let mut m = Map::new();
            for (k, v) in extra {
                m.insert(k, v);
            }
            for (k, v) in fields.into_iter().flatten() {
                m.insert(k, v);
            }
            Value::Object(m)
        })
        .boxed()
}

fn field_value(key: &str) -> BoxedStrategy<Value> {
    match key {
        "id" | "taskId" | "authorId" | "messageId" | "chatId" | "user_id" | "entityId" => id_like(),
        "createdAt" | "updatedAt" | "date_start" | "date_finish" => date_like(),
        "start" | "finish" | "duration" | "processing" | "operating" | "operating_reset_at"
        | "expires" | "expires_in" => seconds_like(),
        "status" => prop_oneof![
            3 => prop::sample::select(vec!["open", "closed", "F", "L"]).prop_map(Value::from),
            1 => (0u8..3).prop_map(Value::from),
            1 => leaf(),
        ]
        .boxed(),
        "fileIds" => prop_oneof![
            3 => prop::collection::vec(id_like(), 0..4).prop_map(Value::Array),
            1 => leaf(),
        ]
        .boxed(),
        "rights" => prop_oneof![
            3 => (any::<bool>(), any::<bool>())
                .prop_map(|(e, r)| serde_json::json!({"edit": e, "remove": r})),
            1 => Just(serde_json::json!([])),
            1 => json_value(),
        ]
        .boxed(),
        "author" => object(USER_KEYS),
        "chat" => object(CHAT_KEYS),
        "code" => prop_oneof![
            3 => prop::sample::select(TRICKY_STRINGS).prop_map(Value::from),
            1 => "[A-Z_]{1,30}".prop_map(Value::from),
            1 => leaf(),
        ]
        .boxed(),
        "validation" => prop_oneof![
            3 => prop::collection::vec(object(ISSUE_KEYS), 0..3).prop_map(Value::Array),
            1 => json_value(),
        ]
        .boxed(),
        "error" => prop_oneof![
            2 => field_value("code"),
            2 => object(V3_DETAIL_KEYS),
        ]
        .boxed(),
        "item" => object(TASK_RESULT_KEYS),
        "items" => prop::collection::vec(object(TASK_RESULT_KEYS), 0..3)
            .prop_map(Value::Array)
            .boxed(),
        "time" => object(TIME_KEYS),
        "result" => prop_oneof![
            2 => object(&["item"]),
            2 => object(&["items"]),
            1 => any::<bool>().prop_map(|b| serde_json::json!({"result": b})),
            1 => json_value(),
        ]
        .boxed(),
        "image" => json_value(),
        _ => text_like(),
    }
}

/// A body: any JSON value, or one shaped like a DTO or an envelope.
fn body() -> BoxedStrategy<Value> {
    prop_oneof![
        2 => json_value(),
        2 => object(TASK_RESULT_KEYS),
        1 => object(USER_KEYS),
        2 => object(TIME_KEYS),
        1 => object(TASK_KEYS),
        2 => object(TOKEN_KEYS),
        2 => object(&["error"]),
        2 => object(CLASSIC_KEYS),
        2 => object(&["result", "time"]),
    ]
    .boxed()
}

/// Decodes `v` both from the value and from its text; what decodes must come back
/// unchanged through serialise → decode. Returns whether it decoded.
fn check<T: Serialize + DeserializeOwned>(v: &Value) -> Result<bool, TestCaseError> {
    let from_text = serde_json::from_str::<T>(&v.to_string());
    let from_value = serde_json::from_value::<T>(v.clone());
    prop_assert_eq!(
        from_text.is_ok(),
        from_value.is_ok(),
        "text and value decodes disagree on {}",
        v
    );
    let Ok(decoded) = from_value else {
        return Ok(false);
    };
    let once = serde_json::to_value(&decoded)
        .map_err(|e| TestCaseError::fail(format!("re-encoding {v} failed: {e}")))?;
    let again: T = serde_json::from_value(once.clone())
        .map_err(|e| TestCaseError::fail(format!("{once} (from {v}) does not decode: {e}")))?;
    let twice = serde_json::to_value(&again)
        .map_err(|e| TestCaseError::fail(format!("re-encoding {once} failed: {e}")))?;
    prop_assert_eq!(&twice, &once, "not stable through a round trip, from {}", v);
    Ok(true)
}

fn check_all(v: &Value) -> Result<(), TestCaseError> {
    check::<TaskResult>(v)?;
    check::<User>(v)?;
    check::<Time>(v)?;
    check::<Task>(v)?;
    check::<TokenResponse>(v)?;
    check::<OAuthErrorBody>(v)?;
    check::<Envelope<ItemResult<TaskResult>>>(v)?;
    check::<Envelope<ItemsResult<TaskResult>>>(v)?;
    check::<Envelope<BoolResult>>(v)?;
    check::<Envelope<ItemResult<Task>>>(v)?;
    if check::<V3ErrorBody>(v)? {
        let e = serde_json::from_value::<V3ErrorBody>(v.clone())
            .map_err(|e| TestCaseError::fail(e.to_string()))?
            .into_api_error(400);
        let back = serde_json::from_value::<V3ErrorBody>(e.to_body())
            .map_err(|err| TestCaseError::fail(format!("{}: {err}", e.to_body())))?;
        prop_assert_eq!(back.into_api_error(400), e);
    }
    if check::<ClassicErrorBody>(v)? {
        let e = serde_json::from_value::<ClassicErrorBody>(v.clone())
            .map_err(|e| TestCaseError::fail(e.to_string()))?
            .into_api_error(503);
        let back = serde_json::from_value::<ClassicErrorBody>(e.to_body())
            .map_err(|err| TestCaseError::fail(format!("{}: {err}", e.to_body())))?;
        prop_assert_eq!(back.into_api_error(503), e);
    }
    if let Some(s) = v.as_str() {
        if let Ok(d) = DateTime::parse(s) {
            prop_assert!(d.unix_timestamp().is_ok());
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(Config::with_cases(512))]

    #[test]
    fn structured_json_decodes_without_panicking_and_round_trips(v in body()) {
        check_all(&v)?;
    }

    #[test]
    fn nested_in_an_envelope_too(result in body(), time in body()) {
        check_all(&serde_json::json!({"result": result, "time": time}))?;
        check_all(&serde_json::json!({"result": {"item": result}, "time": time}))?;
        check_all(&serde_json::json!({"result": {"items": [result, time]}}))?;
    }
}

/// How many of `n` values drawn from `strategy` decode as `T` (a fixed seed).
fn decode_rate<T: DeserializeOwned>(strategy: &BoxedStrategy<Value>, n: u32) -> u32 {
    let mut runner = TestRunner::deterministic();
    let mut ok = 0;
    for _ in 0..n {
        let v = strategy.new_tree(&mut runner).unwrap().current();
        if serde_json::from_value::<T>(v).is_ok() {
            ok += 1;
        }
    }
    ok
}

/// The shaped strategies reach the success paths often, not just the error paths
/// (random text decodes as a `TaskResult` almost never).
#[test]
fn the_strategies_produce_values_that_decode() {
    let n = 400;
    // (name, decoded, the least expected): a DTO's own shape decodes at least one
    // time in 20; an envelope needs two shapes to line up, so one time in 100.
    let rates = [
        (
            "TaskResult",
            decode_rate::<TaskResult>(&object(TASK_RESULT_KEYS), n),
            n / 20,
        ),
        ("User", decode_rate::<User>(&object(USER_KEYS), n), n / 20),
        ("Time", decode_rate::<Time>(&object(TIME_KEYS), n), n / 20),
        ("Task", decode_rate::<Task>(&object(TASK_KEYS), n), n / 20),
        (
            "TokenResponse",
            decode_rate::<TokenResponse>(&object(TOKEN_KEYS), n),
            n / 20,
        ),
        (
            "V3ErrorBody",
            decode_rate::<V3ErrorBody>(&object(&["error"]), n),
            n / 20,
        ),
        (
            "ClassicErrorBody",
            decode_rate::<ClassicErrorBody>(&object(CLASSIC_KEYS), n),
            n / 20,
        ),
        (
            "Envelope<ItemResult<TaskResult>>",
            decode_rate::<Envelope<ItemResult<TaskResult>>>(&object(&["result", "time"]), n),
            n / 100,
        ),
    ];
    for (name, ok, least) in rates {
        println!("{name}: {ok} of {n} decoded");
        assert!(ok >= least, "{name}: only {ok} of {n} decoded");
        assert!(
            ok < n,
            "{name}: all {n} decoded, so no error path was tried"
        );
    }
}
