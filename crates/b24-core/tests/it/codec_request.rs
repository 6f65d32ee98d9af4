//! Exact requests: URL, method, headers and body, for webhook and OAuth portals.

use b24_core::methods::{
    BatchCommand, BatchV3, DialogId, ImMessageAdd, RawCall, TaskChatMessageSend, TaskGet,
    TaskResultAdd, TaskResultAddFromChatMessage, TaskResultDelete, TaskResultList,
    TaskResultUpdate,
};
use b24_core::types::{AccessToken, ChatId, MessageId, ResultId, TaskId};
use b24_core::{
    build_request, decode_value, Api, Error, IdempotencyKey, InputError, Method, PreparedCall,
    RawValue, Repeat, RequestOptions, DEFAULT_USER_AGENT,
};
use serde_json::{json, Value};

use crate::codec_support::{body_json, fixture, oauth, token, webhook, SECRET, TOKEN};

fn task(n: u64) -> TaskId {
    TaskId::new(n).unwrap()
}

/// Checks the whole request for both portal kinds.
fn check<M: Method>(method: &M, path: &str, expected_body: Value) {
    let hook = build_request(&webhook(), method, &RequestOptions::new()).unwrap();
    let prefix = match method.api() {
        Api::V3 => "/rest/api/",
        Api::Classic => "/rest/",
    };
    assert_eq!(hook.method(), "POST");
    assert_eq!(
        hook.uri().to_string(),
        format!("https://example.bitrix24.com{prefix}1/{SECRET}/{path}")
    );
    assert_eq!(hook.headers()["content-type"], "application/json");
    assert_eq!(hook.headers()["accept"], "application/json");
    assert_eq!(hook.headers()["user-agent"], DEFAULT_USER_AGENT);
    assert!(hook.headers().get("idempotency-key").is_none());
    assert_eq!(hook.headers().len(), 3);
    assert_eq!(body_json(&hook), expected_body);
    assert!(body_json(&hook).get("auth").is_none());

    let oauth_req = build_request(
        &oauth(),
        method,
        &RequestOptions::new().access_token(token()),
    )
    .unwrap();
    assert_eq!(oauth_req.method(), "POST");
    assert_eq!(
        oauth_req.uri().to_string(),
        format!("https://example.bitrix24.com{prefix}{path}")
    );
    assert!(!oauth_req.uri().to_string().contains(TOKEN));
    let mut with_auth = serde_json::Map::new();
    with_auth.insert("auth".into(), json!(TOKEN));
    if let Value::Object(rest) = expected_body {
        with_auth.extend(rest);
    }
    assert_eq!(body_json(&oauth_req), Value::Object(with_auth));
    assert!(oauth_req.body().starts_with(b"{\"auth\":"));
}

#[test]
fn task_result_add() {
    let m = TaskResultAdd::new(task(51), "Task completed").unwrap();
    check(
        &m,
        "tasks.task.result.add",
        fixture(include_str!("fixtures/add/request.json")),
    );
    assert_eq!(m.repeat(), Repeat::Unsafe);
}

#[test]
fn task_result_add_from_chat_message() {
    let m = TaskResultAddFromChatMessage::new(MessageId::new(335).unwrap());
    check(
        &m,
        "tasks.task.result.addfromchatmessage",
        fixture(include_str!("fixtures/addfromchatmessage/request.json")),
    );
    assert_eq!(m.repeat(), Repeat::Unsafe);
}

#[test]
fn task_result_update() {
    let m = TaskResultUpdate::new(
        ResultId::new(17).unwrap(),
        "Task has been completed and verified",
    )
    .unwrap();
    check(
        &m,
        "tasks.task.result.update",
        fixture(include_str!("fixtures/update/request.json")),
    );
    assert_eq!(m.repeat(), Repeat::Unsafe);
}

#[test]
fn task_result_delete() {
    let m = TaskResultDelete::new(ResultId::new(17).unwrap());
    check(
        &m,
        "tasks.task.result.delete",
        fixture(include_str!("fixtures/delete/request.json")),
    );
    assert_eq!(m.repeat(), Repeat::Unsafe);
}

#[test]
fn task_result_list_matches_the_documented_request() {
    use b24_core::methods::{Direction, SelectField, SortField};
    let m = TaskResultList::for_task(task(51))
        .select([
            SelectField::Id,
            SelectField::TaskId,
            SelectField::Text,
            SelectField::AuthorId,
            SelectField::CreatedAt,
            SelectField::Status,
            SelectField::MessageId,
        ])
        .order(SortField::CreatedAt, Direction::Desc)
        .limit(10)
        .unwrap()
        .offset(0);
    check(
        &m,
        "tasks.task.result.list",
        fixture(include_str!("fixtures/list/request.json")),
    );
    assert_eq!(m.repeat(), Repeat::Safe);
    // Key order is kept on the wire (sort priority depends on it).
    let req = build_request(&webhook(), &m, &RequestOptions::new()).unwrap();
    let text = std::str::from_utf8(req.body()).unwrap();
    assert!(text.starts_with(r#"{"filter":[["taskId",51]],"select":["id","#));
}

#[test]
fn task_chat_message_send() {
    let m = TaskChatMessageSend::new(task(51), "Message from external system").unwrap();
    check(
        &m,
        "tasks.task.chat.message.send",
        fixture(include_str!("fixtures/chat_message_send/request.json")),
    );
    assert_eq!(m.repeat(), Repeat::Unsafe);
}

#[test]
fn task_get_for_chat() {
    let m = TaskGet::for_chat(task(51));
    check(
        &m,
        "tasks.task.get",
        fixture(include_str!("fixtures/task_get/request.json")),
    );
    assert_eq!(m.repeat(), Repeat::Safe);
    check(&TaskGet::new(task(51)), "tasks.task.get", json!({"id":51}));
}

#[test]
fn im_message_add_is_classic() {
    let m = ImMessageAdd::new(
        DialogId::chat(ChatId::new(58).unwrap()),
        "Task work completed",
    )
    .unwrap();
    assert_eq!(m.api(), Api::Classic);
    check(
        &m,
        "im.message.add",
        fixture(include_str!("fixtures/im_message_add/request.json")),
    );
    let user = ImMessageAdd::new(
        DialogId::user(b24_core::types::UserId::new(1).unwrap()),
        "hi",
    )
    .unwrap();
    check(
        &user,
        "im.message.add",
        json!({"DIALOG_ID":"1","MESSAGE":"hi"}),
    );
}

#[test]
fn raw_calls_in_both_apis() {
    let v3 = RawCall::new("tasks.task.result.list", Api::V3)
        .unwrap()
        .with_param("filter", json!([["taskId", 51]]));
    check(
        &v3,
        "tasks.task.result.list",
        json!({"filter":[["taskId",51]]}),
    );
    let classic = RawCall::new("profile", Api::Classic)
        .unwrap()
        .with_repeat(Repeat::Safe);
    check(&classic, "profile", json!({}));
    assert_eq!(classic.repeat(), Repeat::Safe);
    // An empty parameter object on OAuth is exactly {"auth":"..."}.
    let req = build_request(
        &oauth(),
        &classic,
        &RequestOptions::new().access_token(token()),
    )
    .unwrap();
    assert_eq!(
        req.body().as_ref(),
        format!(r#"{{"auth":"{TOKEN}"}}"#).as_bytes()
    );
}

#[test]
fn batch_body_is_an_array_with_the_oauth_token_in_a_bearer_header() {
    let cmd = BatchCommand::new(
        "tasks.task.get",
        json!({"id":289,"select":["id","title"]})
            .as_object()
            .unwrap()
            .clone(),
    )
    .unwrap();
    let batch = BatchV3::new().push(cmd).unwrap();
    let req = build_request(&webhook(), &batch, &RequestOptions::new()).unwrap();
    assert_eq!(
        req.uri().to_string(),
        format!("https://example.bitrix24.com/rest/api/1/{SECRET}/batch")
    );
    assert_eq!(
        body_json(&req),
        fixture(include_str!("fixtures/batch/request.json"))
    );
    // An array body cannot carry `auth`: with OAuth the token goes in
    // `Authorization: Bearer`, which the server accepts (rest/lib/oauth/auth.php),
    // marked sensitive so that no HTTP stack logs it.
    let call = PreparedCall::new(&oauth(), &batch).unwrap();
    let token = AccessToken::new("oauth-access-token-1");
    let req = call.request(Some(&token), None).unwrap();
    let auth = req.headers().get(http::header::AUTHORIZATION).unwrap();
    assert_eq!(auth.to_str().unwrap(), "Bearer oauth-access-token-1");
    assert!(auth.is_sensitive());
    assert_eq!(
        body_json(&req),
        fixture(include_str!("fixtures/batch/request.json"))
    );
    assert!(!format!("{req:?}").contains("oauth-access-token-1"));
    // Without a token it is refused before anything is built.
    assert!(matches!(
        call.request(None, None),
        Err(Error::InvalidInput(InputError::MissingAccessToken))
    ));
}

#[test]
fn idempotency_key_is_sent_for_v3_and_refused_for_classic() {
    let key = IdempotencyKey::new("result-for-message-335").unwrap();
    let m = TaskResultAddFromChatMessage::new(MessageId::new(335).unwrap());
    let req = build_request(
        &webhook(),
        &m,
        &RequestOptions::new().idempotency_key(key.clone()),
    )
    .unwrap();
    assert_eq!(req.headers()["idempotency-key"], "result-for-message-335");

    let classic = ImMessageAdd::new(DialogId::chat(ChatId::new(58).unwrap()), "x").unwrap();
    let err = build_request(
        &webhook(),
        &classic,
        &RequestOptions::new().idempotency_key(key.clone()),
    )
    .unwrap_err();
    assert!(matches!(
        err,
        Error::InvalidInput(InputError::Param { ref field, .. }) if field == "Idempotency-Key"
    ));
    let prepared = PreparedCall::new(&webhook(), &classic).unwrap();
    assert!(!prepared.honours_idempotency_key());
    assert!(prepared.request(None, Some(&key)).is_err());
    assert!(prepared.request(None, None).is_ok());

    // The REST 3.0 batch does not honour keys (REST 3.0 requests documentation): refused too, even holding a write.
    let add = b24_core::methods::TaskResultAdd::new(TaskId::new(51).unwrap(), "x").unwrap();
    let batch = b24_core::methods::BatchV3::new()
        .push(b24_core::methods::BatchCommand::from_method(&add).unwrap())
        .unwrap();
    assert_eq!(batch.repeat(), Repeat::Unsafe);
    let err = build_request(
        &webhook(),
        &batch,
        &RequestOptions::new().idempotency_key(key.clone()),
    )
    .unwrap_err();
    assert!(matches!(
        err,
        Error::InvalidInput(InputError::Param { ref field, .. }) if field == "Idempotency-Key"
    ));
    assert!(PreparedCall::new(&webhook(), &m)
        .unwrap()
        .honours_idempotency_key());
}

#[test]
fn token_rules() {
    let m = TaskResultDelete::new(ResultId::new(17).unwrap());
    // OAuth without a token, or with an empty one.
    let err = build_request(&oauth(), &m, &RequestOptions::new()).unwrap_err();
    assert!(matches!(
        err,
        Error::InvalidInput(InputError::MissingAccessToken)
    ));
    let err = build_request(
        &oauth(),
        &m,
        &RequestOptions::new().access_token(AccessToken::new("")),
    )
    .unwrap_err();
    assert!(matches!(
        err,
        Error::InvalidInput(InputError::MissingAccessToken)
    ));
    // A webhook with a token.
    let err =
        build_request(&webhook(), &m, &RequestOptions::new().access_token(token())).unwrap_err();
    assert!(matches!(
        err,
        Error::InvalidInput(InputError::Param { ref field, .. }) if field == "auth"
    ));
    assert!(!format!("{err} {err:?}").contains(TOKEN));
}

#[test]
fn tokens_with_json_special_characters_are_escaped() {
    let m = TaskResultDelete::new(ResultId::new(17).unwrap());
    let tricky = AccessToken::new("a\"b\\c\u{1}d");
    let req = build_request(&oauth(), &m, &RequestOptions::new().access_token(tricky)).unwrap();
    assert_eq!(body_json(&req), json!({"auth":"a\"b\\c\u{1}d","id":17}));
}

#[test]
fn prepared_call_reuses_the_body_and_follows_token_changes() {
    let m = TaskResultAdd::new(task(51), "done").unwrap();
    let prepared = PreparedCall::new(&oauth(), &m).unwrap();
    assert_eq!(prepared.method_name(), "tasks.task.result.add");
    assert_eq!(prepared.api(), Api::V3);
    assert_eq!(prepared.repeat(), Repeat::Unsafe);
    let t1 = AccessToken::new("first");
    let t2 = AccessToken::new("second");
    let a = prepared.request(Some(&t1), None).unwrap();
    let b = prepared.request(Some(&t1), None).unwrap();
    // The cached body is shared, not rebuilt.
    assert_eq!(a.body().as_ptr(), b.body().as_ptr());
    let c = prepared.request(Some(&t2), None).unwrap();
    assert_eq!(body_json(&c)["auth"], "second");
    assert_eq!(body_json(&a)["auth"], "first");
    assert_eq!(body_json(&c)["fields"], body_json(&a)["fields"]);

    let hook = PreparedCall::new(&webhook(), &m).unwrap();
    let x = hook.request(None, None).unwrap();
    let y = hook.request(None, None).unwrap();
    assert_eq!(x.body().as_ptr(), y.body().as_ptr());
    assert_eq!(x.uri(), y.uri());
}

#[test]
fn user_agent_is_configurable_and_checked() {
    let m = TaskResultDelete::new(ResultId::new(17).unwrap());
    let req = build_request(
        &webhook(),
        &m,
        &RequestOptions::new().user_agent("my-integration/2.1"),
    )
    .unwrap();
    assert_eq!(req.headers()["user-agent"], "my-integration/2.1");
    assert!(DEFAULT_USER_AGENT.starts_with("b24/"));
    for bad in ["", "a\nb", "x\u{7f}"] {
        assert!(
            build_request(&webhook(), &m, &RequestOptions::new().user_agent(bad)).is_err(),
            "{bad:?}"
        );
    }
}

#[test]
fn options_and_prepared_calls_do_not_leak_secrets() {
    let opts = RequestOptions::new()
        .access_token(token())
        .idempotency_key(IdempotencyKey::new("k1").unwrap());
    let shown = format!("{opts:?}");
    assert!(!shown.contains(TOKEN), "{shown}");
    let m = TaskResultDelete::new(ResultId::new(17).unwrap());
    let p = PreparedCall::new(&webhook(), &m).unwrap();
    let shown = format!("{p:?}");
    assert!(!shown.contains(SECRET), "{shown}");
    assert!(shown.contains("tasks.task.result.delete"));
}

/// A method whose parameters try to smuggle `auth` in.
struct Smuggler;

impl Method for Smuggler {
    type Output = Value;
    fn name(&self) -> &str {
        "profile"
    }
    fn api(&self) -> Api {
        Api::Classic
    }
    fn repeat(&self) -> Repeat {
        Repeat::Safe
    }
    fn params(&self) -> Result<serde_json::Map<String, Value>, Error> {
        Ok(json!({"auth":"x"}).as_object().unwrap().clone())
    }
    fn decode(&self, result: &RawValue) -> Result<Value, Error> {
        decode_value(result)
    }
}

/// A method with a malformed name.
struct BadName(&'static str);

impl Method for BadName {
    type Output = Value;
    fn name(&self) -> &str {
        self.0
    }
    fn api(&self) -> Api {
        Api::V3
    }
    fn repeat(&self) -> Repeat {
        Repeat::Safe
    }
    fn params(&self) -> Result<serde_json::Map<String, Value>, Error> {
        Ok(serde_json::Map::new())
    }
    fn decode(&self, result: &RawValue) -> Result<Value, Error> {
        decode_value(result)
    }
}

#[test]
fn reserved_auth_and_bad_method_names_are_refused_for_any_method() {
    assert!(PreparedCall::new(&webhook(), &Smuggler).is_err());
    assert!(PreparedCall::new(&oauth(), &Smuggler).is_err());
    for name in [
        "", "a/b", "a?b", "a#b", "a b", "a..b", ".a", "a.", "a%2e", "ü",
    ] {
        let err = PreparedCall::new(&webhook(), &BadName(name)).unwrap_err();
        assert!(
            matches!(err, Error::InvalidInput(InputError::Param { ref field, .. }) if field == "method"),
            "{name:?}"
        );
    }
}

#[test]
fn loopback_portals_build_http_urls() {
    let p = b24_core::Portal::builder()
        .allow_plain_http_to_loopback(true)
        .webhook(&format!("http://127.0.0.1:8080/rest/1/{SECRET}/"))
        .unwrap();
    let m = TaskResultDelete::new(ResultId::new(17).unwrap());
    let req = build_request(&p, &m, &RequestOptions::new()).unwrap();
    assert_eq!(
        req.uri().to_string(),
        format!("http://127.0.0.1:8080/rest/api/1/{SECRET}/tasks.task.result.delete")
    );
}
