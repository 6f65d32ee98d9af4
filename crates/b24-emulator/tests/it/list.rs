//! tasks.task.result.list: the documented example, filter/order/select/pagination
//! semantics and errors.

use std::time::Duration;

use serde_json::{json, Value};

use crate::support::{assert_time, Harness};

/// Adds `n` results to task 51 as user 1 (ids 17..), one minute apart.
async fn seed(h: &Harness, n: usize) {
    for i in 0..n {
        let r = h
            .v3(
                1,
                "tasks.task.result.add",
                json!({"fields":{"taskId":51,"text":format!("r{i}")}}),
            )
            .await;
        assert_eq!(r.status, 200);
        h.clock.advance(Duration::from_secs(60));
    }
}

async fn list(h: &Harness, body: Value) -> crate::support::Reply {
    h.v3(1, "tasks.task.result.list", body).await
}

fn ids(r: &crate::support::Reply) -> Vec<u64> {
    r.body["result"]["items"]
        .as_array()
        .unwrap_or_else(|| panic!("{}", r.body))
        .iter()
        .map(|i| i["id"].as_u64().unwrap())
        .collect()
}

#[tokio::test]
async fn documented_example() {
    let h = Harness::new();
    seed(&h, 3).await;
    let r = list(
        &h,
        json!({"filter":[["taskId",51]],"select":["id","taskId","text","authorId","createdAt","status","messageId"],"order":{"createdAt":"DESC"},"pagination":{"limit":10,"offset":0}}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_time(&r.body);
    let items = r.body["result"]["items"].as_array().unwrap();
    assert_eq!(ids(&r), vec![19, 18, 17]);
    let keys: Vec<&String> = items[0].as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "id",
            "taskId",
            "text",
            "authorId",
            "createdAt",
            "status",
            "messageId"
        ]
    );
    assert_eq!(items[0]["messageId"], Value::Null);
    assert!(r.body["result"].get("total").is_none());
}

#[tokio::test]
async fn default_select_is_everything_but_author() {
    let h = Harness::new();
    seed(&h, 1).await;
    let r = list(&h, json!({"filter":[["taskId",51]]})).await;
    let item = &r.body["result"]["items"][0];
    let keys: Vec<&String> = item.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "id",
            "taskId",
            "text",
            "authorId",
            "createdAt",
            "updatedAt",
            "status",
            "fileIds",
            "rights",
            "messageId"
        ]
    );
    // With no `select`, rights are computed (`tasks/lib/V2/Infrastructure/Rest/Controller/Task/Result.php`).
    assert_eq!(item["rights"], json!({"edit":true,"remove":true}));
    let r = list(&h, json!({"filter":[["taskId",51]],"select":["rights"]})).await;
    assert_eq!(
        r.body["result"]["items"][0],
        json!({"id":17,"rights":{"edit":true,"remove":true}})
    );
}

#[tokio::test]
async fn author_relation_and_unknown_fields() {
    let h = Harness::new();
    seed(&h, 1).await;
    let r = list(
        &h,
        json!({"filter":[["taskId",51]],"select":["id","author.name","author.email"]}),
    )
    .await;
    assert_eq!(
        r.body["result"]["items"][0],
        json!({"id":17,"author":{"name":"John Smith","email":"john1@example.com"}})
    );
    let r = list(&h, json!({"filter":[["taskId",51]],"select":["author"]})).await;
    let author = &r.body["result"]["items"][0]["author"];
    assert_eq!(author["id"], 1);
    assert_eq!(author["name"], "John Smith");
    list(
        &h,
        json!({"filter":[["taskId",51]],"select":["author.stageId"]}),
    )
    .await
    .assert_v3_error(
        400,
        "BITRIX_REST_V3_EXCEPTION_UNKNOWNDTOPROPERTYEXCEPTION",
        &[(
            Some("select"),
            "Unknown field `stageId` for entity `UserDto`",
        )],
    );
}

#[tokio::test]
async fn pagination_default_cap_page_and_offset() {
    let h = Harness::new();
    seed(&h, 55).await;
    let all = json!([["taskId", 51]]);
    let r = list(&h, json!({"filter":all})).await;
    assert_eq!(ids(&r).len(), 50, "default limit 50");
    let r = list(&h, json!({"filter":all,"pagination":{"limit":5000}})).await;
    assert_eq!(ids(&r).len(), 55, "cap 1000 is silent");
    let r = list(&h, json!({"filter":all,"pagination":{"limit":10,"page":2}})).await;
    assert_eq!(ids(&r), (27..37).collect::<Vec<u64>>());
    let r = list(
        &h,
        json!({"filter":all,"pagination":{"limit":10,"offset":50,"page":1}}),
    )
    .await;
    assert_eq!(ids(&r).first(), Some(&17), "page overrides offset");
    let r = list(
        &h,
        json!({"filter":all,"pagination":{"limit":"3","offset":52}}),
    )
    .await;
    assert_eq!(ids(&r), vec![69, 70, 71]);
    let r = list(&h, json!({"filter":all,"pagination":{"limit":10,"page":0}})).await;
    assert_eq!(ids(&r).first(), Some(&17));
    for bad in [
        json!({"limit":0}),
        json!({"limit":"ten"}),
        json!({"offset":[1]}),
        json!("all"),
    ] {
        list(&h, json!({"filter":all,"pagination":bad}))
            .await
            .assert_v3_error(
                400,
                "BITRIX_REST_V3_EXCEPTION_INVALIDPAGINATIONEXCEPTION",
                &[],
            );
    }
    let r = list(&h, json!({"filter":all,"pagination":{"limit":0}})).await;
    assert_eq!(
        r.body["error"]["message"],
        "Unable to recognize the pagination parameter"
    );
}

#[tokio::test]
async fn filters_operators_and_groups() {
    let h = Harness::new();
    seed(&h, 6).await; // 17..22 by user 1
    let r = h
        .v3(
            2,
            "tasks.task.result.add",
            json!({"fields":{"taskId":51,"text":"by anna"}}),
        )
        .await;
    assert_eq!(r.body["result"]["item"]["id"], 23);
    h.v3(
        1,
        "tasks.task.result.addfromchatmessage",
        json!({"fields":{"messageId":336}}),
    )
    .await; // 24
    let cases: Vec<(Value, Vec<u64>)> = vec![
        (
            json!([["taskId", 51], ["id", ">", 20]]),
            vec![21, 22, 23, 24],
        ),
        (
            json!([["taskId", 51], ["id", ">=", 22], ["id", "<", 24]]),
            vec![22, 23],
        ),
        (json!([["taskId", "=", 51], ["id", "<=", 18]]), vec![17, 18]),
        (
            json!([["taskId", 51], ["id", "!=", 17], ["id", "<", 20]]),
            vec![18, 19],
        ),
        (json!([["taskId", 51], ["id", [17, 19]]]), vec![17, 19]),
        (json!([["taskId", 51], ["id", "in", [18]]]), vec![18]),
        (
            json!([["taskId", 51], ["id", "between", [19, 21]]]),
            vec![19, 20, 21],
        ),
        (json!([["taskId", 51], ["authorId", 2]]), vec![23]),
        (json!([["taskId", 51], ["messageId", 336]]), vec![24]),
        (json!([["taskId", 51], ["status", "closed"]]), vec![]),
        (
            json!([["taskId", 51], {"logic":"or","conditions":[["id",17],["authorId",2]]}]),
            vec![17, 23],
        ),
        (
            json!([["taskId", 51], {"type":"filter","logic":"and","negative":true,"conditions":[["id",">",18]]}]),
            vec![17, 18],
        ),
    ];
    for (filter, want) in cases {
        let r = list(&h, json!({"filter":filter.clone(),"order":{"id":"asc"}})).await;
        assert_eq!(r.status, 200, "{filter}: {}", r.body);
        assert_eq!(ids(&r), want, "{filter}");
    }
}

#[tokio::test]
async fn ordering() {
    let h = Harness::new();
    seed(&h, 3).await;
    let r = list(&h, json!({"filter":[["taskId",51]],"order":{"id":"desc"}})).await;
    assert_eq!(ids(&r), vec![19, 18, 17]);
    let r = list(
        &h,
        json!({"filter":[["taskId",51]],"order":{"authorId":"ASC","createdAt":"DESC"}}),
    )
    .await;
    assert_eq!(ids(&r), vec![19, 18, 17]);
}

#[tokio::test]
async fn list_errors_as_documented() {
    let h = Harness::new();
    seed(&h, 1).await;
    // The documented example body.
    let r = list(&h, json!({"filter":[]})).await;
    assert_eq!(
        r.body,
        json!({"error":{"code":"BITRIX_REST_V3_EXCEPTION_VALIDATION_REQUESTVALIDATIONEXCEPTION","message":"Error validating the request object","validation":[{"field":"filter","message":"The field value cannot be empty"}]}})
    );
    list(&h, json!({})).await.assert_v3_error(
        400,
        "BITRIX_REST_V3_EXCEPTION_VALIDATION_REQUESTVALIDATIONEXCEPTION",
        &[(Some("filter"), "The field value cannot be empty")],
    );
    list(&h, json!({"filter":[["id",17]]}))
        .await
        .assert_v3_error(
            400,
            "BITRIX_REST_V3_EXCEPTION_VALIDATION_REQUESTFILTERVALIDATIONEXCEPTION",
            &[(
                Some("filter.taskId"),
                "A filter for the required field `taskId` must be specified",
            )],
        );
    list(
        &h,
        json!({"filter":[{"logic":"or","conditions":[["taskId",51]]}]}),
    )
    .await
    .assert_v3_error(
        400,
        "BITRIX_REST_V3_EXCEPTION_VALIDATION_REQUESTFILTERVALIDATIONEXCEPTION",
        &[],
    );
    list(&h, json!({"filter":[["taskId","51"]]}))
        .await
        .assert_v3_error(
            400,
            "BITRIX_REST_V3_EXCEPTION_VALIDATION_REQUESTVALIDATIONEXCEPTION",
            &[(
                Some("taskId"),
                "The `taskId` field requires an `int` data type for this request",
            )],
        );
    for bad in [
        json!({"taskId": 51}),
        json!([["taskId"]]),
        json!([[1, 51]]),
        json!([["taskId", 51], "x"]),
        json!([["taskId", 51], {"logic":"xor","conditions":[]}]),
        json!([["taskId", 51], {"logic":"or","negative":"yes","conditions":[]}]),
        json!([["taskId", 51], ["id", "between", [1]]]),
    ] {
        let r = list(&h, json!({"filter":bad.clone()})).await;
        r.assert_v3_error(400, "BITRIX_REST_V3_EXCEPTION_INVALIDFILTEREXCEPTION", &[]);
        assert_eq!(
            r.body["error"]["message"], "Unable to recognize the filter expression",
            "{bad}"
        );
    }
    let r = list(&h, json!({"filter":[["taskId",51],["id","like",3]]})).await;
    r.assert_v3_error(
        400,
        "BITRIX_REST_V3_EXCEPTION_UNKNOWNFILTEROPERATOREXCEPTION",
        &[],
    );
    assert_eq!(r.body["error"]["message"], "Unknown filter operator");
    list(&h, json!({"filter":[["taskId",51],["colour","red"]]}))
        .await
        .assert_v3_error(
            400,
            "BITRIX_REST_V3_EXCEPTION_UNKNOWNDTOPROPERTYEXCEPTION",
            &[(
                Some("filter"),
                "Unknown field `colour` for entity `ResultDto`",
            )],
        );
    list(
        &h,
        json!({"filter":[["taskId",51]],"order":{"colour":"ASC"}}),
    )
    .await
    .assert_v3_error(
        400,
        "BITRIX_REST_V3_EXCEPTION_UNKNOWNDTOPROPERTYEXCEPTION",
        &[(
            Some("order"),
            "Unknown field `colour` for entity `ResultDto`",
        )],
    );
    for bad in [json!([{"id":"ASC"}]), json!({"id":"UP"}), json!("id")] {
        let r = list(&h, json!({"filter":[["taskId",51]],"order":bad})).await;
        r.assert_v3_error(400, "BITRIX_REST_V3_EXCEPTION_INVALIDORDEREXCEPTION", &[]);
        assert_eq!(
            r.body["error"]["message"],
            "Unable to recognize the sorting expression"
        );
    }
    // Not sortable (taskId) and not filterable (text): the request-validation family.
    list(
        &h,
        json!({"filter":[["taskId",51]],"order":{"taskId":"ASC"}}),
    )
    .await
    .assert_v3_error(
        400,
        "BITRIX_REST_V3_EXCEPTION_VALIDATION_REQUESTVALIDATIONEXCEPTION",
        &[],
    );
    list(&h, json!({"filter":[["taskId",51],["text","x"]]}))
        .await
        .assert_v3_error(
            400,
            "BITRIX_REST_V3_EXCEPTION_VALIDATION_REQUESTVALIDATIONEXCEPTION",
            &[],
        );
    // Task 52: no access; task 999: does not exist.
    for task in [52, 999] {
        list(&h, json!({"filter":[["taskId",task]]}))
            .await
            .assert_v3_bare(403, "BITRIX_REST_V3_EXCEPTION_ACCESSDENIEDEXCEPTION");
    }
}
