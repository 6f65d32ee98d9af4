//! Method construction: every bad input is a typed error, never a panic.

use b24_core::methods::{
    BatchCommand, BatchRef, BatchV3, Condition, DialogId, Direction, FilterField, FilterGroup,
    ImMessageAdd, Operator, RawCall, SelectField, SortField, TaskChatMessageSend, TaskGet,
    TaskResultAdd, TaskResultDelete, TaskResultList, TaskResultUpdate,
};
use b24_core::types::{ChatId, IdError, MessageId, ResultId, ResultStatus, TaskId, UserId};
use b24_core::{Api, Error, InputError, Method, Repeat};
use serde_json::{json, Map, Value};

fn field_of(e: &InputError) -> &str {
    match e {
        InputError::Param { field, .. } => field,
        other => panic!("expected InputError::Param, got {other:?}"),
    }
}

fn task() -> TaskId {
    TaskId::new(51).unwrap()
}

#[test]
fn zero_and_malformed_ids_fail_on_the_way_in() {
    assert_eq!(TaskId::new(0), Err(IdError::Zero { kind: "TaskId" }));
    assert!(MessageId::new(0).is_err());
    assert!(ResultId::new(0).is_err());
    for s in ["0", "-1", "", "abc", "1.5", "99999999999999999999999"] {
        assert!(s.parse::<MessageId>().is_err(), "{s}");
    }
    assert_eq!("335".parse::<MessageId>().unwrap().get(), 335);
    // The conversion into the core error is typed.
    let e: Error = MessageId::new(0).unwrap_err().into();
    assert!(matches!(
        e,
        Error::InvalidInput(InputError::Id(IdError::Zero { .. }))
    ));
}

#[test]
fn empty_texts_are_refused() {
    for text in ["", "   ", "\n\t"] {
        assert_eq!(
            field_of(&TaskResultAdd::new(task(), text).unwrap_err()),
            "fields.text"
        );
        assert_eq!(
            field_of(&TaskResultUpdate::new(ResultId::new(1).unwrap(), text).unwrap_err()),
            "fields.text"
        );
        assert_eq!(
            field_of(&TaskChatMessageSend::new(task(), text).unwrap_err()),
            "fields.text"
        );
        assert_eq!(
            field_of(
                &ImMessageAdd::new(DialogId::chat(ChatId::new(1).unwrap()), text).unwrap_err()
            ),
            "MESSAGE"
        );
    }
}

#[test]
fn list_limit_bounds() {
    for bad in [0, 1001, u32::MAX] {
        let err = TaskResultList::for_task(task()).limit(bad).unwrap_err();
        assert_eq!(field_of(&err), "pagination.limit");
    }
    for ok in [1, 50, 1000] {
        assert_eq!(
            TaskResultList::for_task(task())
                .limit(ok)
                .unwrap()
                .page_size(),
            ok
        );
    }
    assert_eq!(TaskResultList::for_task(task()).page_size(), 50);
    assert_eq!(
        field_of(&TaskResultList::for_task(task()).page(0).unwrap_err()),
        "pagination.page"
    );
}

#[test]
fn list_always_carries_the_task_condition() {
    let list = TaskResultList::for_task(task());
    let params = list.params().unwrap();
    assert_eq!(params["filter"], json!([["taskId", 51]]));
    assert_eq!(params.len(), 1);
}

#[test]
fn conditions_check_operators_and_value_kinds() {
    let id = FilterField::Id;
    assert!(Condition::new(id, Operator::In, 1u64).is_err());
    assert!(Condition::new(id, Operator::Between, 1u64).is_err());
    assert!(Condition::new(id, Operator::Gt, ResultStatus::Open).is_err());
    assert!(Condition::new(FilterField::Status, Operator::Eq, 1u64).is_err());
    assert!(Condition::new(FilterField::Status, Operator::Gt, ResultStatus::Open).is_err());
    assert!(Condition::one_of(id, Vec::<u64>::new()).is_err());
    assert!(Condition::between(id, 5u64, 1u64).is_err());
    assert!(Condition::between(
        FilterField::Status,
        ResultStatus::Open,
        ResultStatus::Closed
    )
    .is_err());
    assert!(FilterGroup::any(Vec::<Condition>::new()).is_err());

    assert_eq!(
        Condition::new(FilterField::AuthorId, Operator::Ne, UserId::new(3).unwrap())
            .unwrap()
            .to_json(),
        json!(["authorId", "!=", 3])
    );
    assert_eq!(
        Condition::eq(FilterField::Status, ResultStatus::Closed)
            .unwrap()
            .to_json(),
        json!(["status", "closed"])
    );
    assert_eq!(
        Condition::one_of(
            FilterField::MessageId,
            [MessageId::new(1).unwrap(), MessageId::new(2).unwrap()]
        )
        .unwrap()
        .to_json(),
        json!(["messageId", "in", [1, 2]])
    );
    assert_eq!(
        Condition::between(id, 1u64, 9u64).unwrap().to_json(),
        json!(["id", "between", [1, 9]])
    );
}

#[test]
fn groups_and_order_and_select() {
    let group = FilterGroup::any([
        Condition::eq(FilterField::AuthorId, 1u64).unwrap(),
        Condition::eq(FilterField::AuthorId, 2u64).unwrap(),
    ])
    .unwrap()
    .negate();
    let nested = FilterGroup::all([
        b24_core::methods::FilterItem::from(group.clone()),
        Condition::new(FilterField::Id, Operator::Le, 100u64)
            .unwrap()
            .into(),
    ])
    .unwrap();
    let list = TaskResultList::for_task(task())
        .filter(nested)
        .order(SortField::UpdatedAt, Direction::Desc)
        .order(SortField::Id, Direction::Asc)
        .order(SortField::UpdatedAt, Direction::Asc)
        .select([SelectField::Id, SelectField::Author, SelectField::Id])
        .page(3)
        .unwrap();
    let p = list.params().unwrap();
    assert_eq!(
        p["filter"],
        json!([
            ["taskId", 51],
            {"logic":"and","negative":false,"conditions":[
                {"logic":"or","negative":true,"conditions":[["authorId",1],["authorId",2]]},
                ["id","<=",100]
            ]}
        ])
    );
    // Order keeps priority: a repeated field moves to the end.
    let order: Vec<(&String, &Value)> = p["order"].as_object().unwrap().iter().collect();
    assert_eq!(order.len(), 2);
    assert_eq!(order[0].0, "id");
    assert_eq!(order[1], (&"updatedAt".to_owned(), &json!("ASC")));
    assert_eq!(p["select"], json!(["id", "author"]));
    assert_eq!(p["pagination"], json!({"page": 3}));
}

#[test]
fn keyset_paging() {
    let base = TaskResultList::for_task(task())
        .order(SortField::CreatedAt, Direction::Desc)
        .offset(100)
        .limit(200)
        .unwrap();
    let next = base.clone().after_id(ResultId::new(17).unwrap());
    let again = next.clone().after_id(ResultId::new(40).unwrap());
    let p = again.params().unwrap();
    assert_eq!(p["filter"], json!([["taskId", 51], ["id", ">", 40]]));
    assert_eq!(p["order"], json!({"id": "ASC"}));
    assert_eq!(p["pagination"], json!({"limit": 200}));
    assert_eq!(again.page_size(), 200);
    assert_eq!(again.after(), Some(ResultId::new(40).unwrap()));
}

#[test]
fn raw_call_names_and_params() {
    for bad in [
        "",
        "a/b",
        "a?b",
        "a#b",
        "a b",
        "..",
        "a..b",
        ".x",
        "x.",
        "tasks.task.get.json/x",
    ] {
        let err = RawCall::new(bad, Api::V3).unwrap_err();
        assert_eq!(field_of(&err), "method", "{bad:?}");
    }
    let ok = RawCall::new("tasks.task.result.list", Api::V3).unwrap();
    assert_eq!(ok.repeat(), Repeat::Unsafe);
    // `auth` is refused when the request is built, before anything is sent.
    let refused = |call: RawCall| match call.params() {
        Err(b24_core::Error::InvalidInput(e)) => field_of(&e).to_owned(),
        other => panic!("expected `auth` to be refused, got {other:?}"),
    };
    assert_eq!(refused(ok.clone().with_param("auth", json!("x"))), "auth");
    let mut m = Map::new();
    m.insert("auth".into(), json!("x"));
    assert_eq!(refused(ok.with_params(m)), "auth");
}

#[test]
fn batch_limits_aliases_and_refs() {
    let cmd = |i: u64| {
        BatchCommand::new(
            "tasks.task.get",
            json!({"id": i}).as_object().unwrap().clone(),
        )
        .unwrap()
    };
    let full = BatchV3::from_commands((1..=50).map(cmd)).unwrap();
    assert_eq!(full.len(), 50);
    let err = full.clone().push(cmd(51)).unwrap_err();
    assert_eq!(field_of(&err), "batch");
    assert!(BatchV3::from_commands((1..=51).map(cmd)).is_err());

    let a = cmd(1).with_alias("t").unwrap();
    let b = cmd(2).with_alias("t").unwrap();
    let err = BatchV3::new().push(a).unwrap().push(b).unwrap_err();
    assert_eq!(field_of(&err), "as");
    for bad in ["", "1", "a b", "a.b", &"x".repeat(65)] {
        assert_eq!(
            field_of(&cmd(1).with_alias(bad).unwrap_err()),
            "as",
            "{bad:?}"
        );
    }
    assert_eq!(
        field_of(&BatchCommand::new("batch", Map::new()).unwrap_err()),
        "method"
    );
    assert_eq!(
        field_of(&BatchCommand::new("a/b", Map::new()).unwrap_err()),
        "method"
    );

    // An empty batch cannot be sent.
    assert!(BatchV3::new().body().is_err());
    // Classic methods cannot join a v3 batch.
    let classic = ImMessageAdd::new(DialogId::user(UserId::new(1).unwrap()), "x").unwrap();
    assert!(BatchCommand::from_method(&classic).is_err());

    assert_eq!(
        BatchRef::value("task.item.id").unwrap(),
        json!({"$ref":"task.item.id"})
    );
    assert_eq!(
        BatchRef::array("list.id").unwrap(),
        json!({"$refArray":"list.id"})
    );
    for bad in ["", "a..b", "a b", ".a"] {
        assert!(BatchRef::value(bad).is_err(), "{bad:?}");
        assert!(BatchRef::array(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn batch_repeat_follows_its_commands_and_decodes_in_order() {
    let get = BatchCommand::from_method(&TaskGet::for_chat(task())).unwrap();
    let del = BatchCommand::from_method(&TaskResultDelete::new(ResultId::new(1).unwrap())).unwrap();
    let safe = BatchV3::new().push(get.clone()).unwrap();
    assert_eq!(safe.repeat(), Repeat::Safe);
    let mixed = safe.push(del).unwrap();
    assert_eq!(mixed.repeat(), Repeat::Unsafe);
    assert_eq!(
        mixed.body().unwrap(),
        json!([
            {"method":"tasks.task.get","query":{"id":51,"select":["id","chat.id","chat.entityId","chat.entityType"]}},
            {"method":"tasks.task.result.delete","query":{"id":1}}
        ])
    );
    assert!(mixed.params().is_err());
    let out = b24_core::parse_response(
        &mixed,
        &crate::codec_support::response(
            200,
            r#"{"result":[{"item":{"id":51}},{"result":true}],"time":{}}"#,
        ),
    )
    .unwrap();
    assert_eq!(
        out.result,
        vec![json!({"item":{"id":51}}), json!({"result":true})]
    );
}

#[test]
fn task_get_select_is_checked() {
    assert!(TaskGet::new(task())
        .select(["title", "responsible.name"])
        .is_ok());
    for bad in ["", "a b", "a..b", "x/y"] {
        assert_eq!(
            field_of(&TaskGet::new(task()).select([bad]).unwrap_err()),
            "select"
        );
    }
}

#[test]
fn names_and_safety() {
    let rid = ResultId::new(1).unwrap();
    assert_eq!(
        TaskResultAdd::new(task(), "x").unwrap().name(),
        "tasks.task.result.add"
    );
    assert_eq!(
        TaskResultUpdate::new(rid, "x").unwrap().name(),
        "tasks.task.result.update"
    );
    assert_eq!(
        TaskResultDelete::new(rid).name(),
        "tasks.task.result.delete"
    );
    assert_eq!(
        TaskResultList::for_task(task()).name(),
        "tasks.task.result.list"
    );
    assert_eq!(
        TaskChatMessageSend::new(task(), "x").unwrap().repeat(),
        Repeat::Unsafe
    );
    assert_eq!(TaskGet::new(task()).repeat(), Repeat::Safe);
    assert_eq!(
        DialogId::chat(ChatId::new(58).unwrap()).to_string(),
        "chat58"
    );
}
