//! Every method through the public surface against the emulator over HTTPS: success
//! and the documented errors.

use b24_core::methods::{BatchCommand, BatchV3, RawCall, TaskResultList};
use b24_core::Api;
use b24_emulator::Fault;
use b24_hyper::Error;
use b24_types::{ErrorClass, ErrorCode, MessageId, ResultId, ResultStatus, TaskId};
use futures_core::Stream;
use serde_json::json;

use crate::emu;

fn task(id: u64) -> TaskId {
    TaskId::new(id).unwrap()
}

fn code(err: &Error) -> ErrorCode {
    err.code()
        .cloned()
        .unwrap_or_else(|| panic!("not an API error: {err:?}"))
}

/// Collects a stream without a futures crate.
pub async fn collect<S: Stream + Unpin>(mut stream: S) -> Vec<S::Item> {
    let mut out = Vec::new();
    while let Some(item) =
        std::future::poll_fn(|cx| std::pin::Pin::new(&mut stream).poll_next(cx)).await
    {
        out.push(item);
    }
    out
}

#[tokio::test]
async fn chat_message_to_result_and_back() {
    let env = emu::start().await;
    let portal = env.default_webhook();
    let emu_portal = env.server.portal();

    assert_eq!(
        env.client
            .task_chat_id(&portal, task(51))
            .await
            .unwrap()
            .get(),
        58
    );
    let message = env
        .client
        .post_to_task_chat(&portal, task(51), "Report sent to the client")
        .await
        .unwrap();
    let stored = emu_portal.messages(58);
    assert!(stored
        .iter()
        .any(|m| m.id == message.get() && m.text == "Report sent to the client"));

    let results = env.client.task_results(&portal);
    let created = results.add_from_chat_message(message).await.unwrap();
    assert_eq!(created.task_id, Some(task(51)));
    assert_eq!(created.message_id, Some(message));
    assert_eq!(created.text.as_deref(), Some("Report sent to the client"));
    assert_eq!(created.status, Some(ResultStatus::Open));

    let updated = results.update(created.id, "Report approved").await.unwrap();
    assert_eq!(updated.id, created.id);
    assert_eq!(updated.text.as_deref(), Some("Report approved"));
    assert!(updated.updated_at.is_some());

    let all = collect(results.list(TaskResultList::for_task(task(51)))).await;
    let ids: Vec<ResultId> = all.into_iter().map(|r| r.unwrap().id).collect();
    assert_eq!(ids, vec![created.id]);

    assert!(results.delete(created.id).await.unwrap());
    assert!(emu_portal.results().is_empty());
}

#[tokio::test]
async fn a_task_without_a_chat_is_a_missing_field_not_bad_input() {
    let env = emu::start().await;
    let portal = env.default_webhook();
    env.server.portal().inject(
        Fault::respond(
            200,
            json!({"result": {"item": {"id": 51, "title": "No chat"}}, "time": {"operating": 0}}),
        )
        .on("tasks.task.get")
        .times(2),
    );
    let err = env
        .client
        .task_chat_id(&portal, task(51))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::MissingInReply {
                method: "tasks.task.get",
                field: "chat.id"
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "the answer to tasks.task.get has no `chat.id`"
    );
    assert!(err.api_error().is_none() && err.status().is_none());
    // Posting to the chat stops there too, before any message is sent.
    let err = env
        .client
        .post_to_task_chat(&portal, task(51), "lost")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::MissingInReply { .. }), "{err:?}");
    assert_eq!(env.server.portal().calls("im.message.add"), 0);
}

#[tokio::test]
async fn add_from_chat_message_documented_errors() {
    let env = emu::start().await;
    let results = env.client.task_results(&env.default_webhook());

    // 338 is in a plain group chat, not a task chat: the server's access rule
    // (tasks/lib/access/rule/resultcreatefrommessagerule.php) answers 403.
    let err = results
        .add_from_chat_message(MessageId::new(338).unwrap())
        .await
        .unwrap_err();
    assert_eq!(code(&err), ErrorCode::V3AccessDenied, "{err}");
    assert_eq!(err.status(), Some(403));

    // 337 is in task 52's chat, which user 1 cannot see.
    let err = results
        .add_from_chat_message(MessageId::new(337).unwrap())
        .await
        .unwrap_err();
    assert_eq!(code(&err), ErrorCode::V3AccessDenied, "{err}");
    assert_eq!(err.status(), Some(403));

    // An unknown message: the same 403.
    let err = results
        .add_from_chat_message(MessageId::new(999_999).unwrap())
        .await
        .unwrap_err();
    assert_eq!(code(&err), ErrorCode::V3AccessDenied, "{err}");
    assert!(env.server.portal().results().is_empty());
}

#[tokio::test]
async fn add_update_delete_documented_errors() {
    let env = emu::start().await;
    let emu_portal = env.server.portal();
    let results = env.client.task_results(&env.default_webhook());

    let added = results.add(task(51), "Draft attached").await.unwrap();
    assert_eq!(added.task_id, Some(task(51)));
    assert_eq!(added.message_id, None);

    // No access to task 52; task 424242 does not exist.
    let err = results.add(task(52), "x").await.unwrap_err();
    assert_eq!(code(&err), ErrorCode::V3AccessDenied);
    let err = results.add(task(424_242), "x").await.unwrap_err();
    assert_eq!(err.class(), Some(ErrorClass::Validation), "{err:?}");

    // Empty text: refused before anything is sent.
    let before = emu_portal.calls("tasks.task.result.add");
    let err = results.add(task(51), "").await.unwrap_err();
    assert!(
        matches!(err, Error::Core(b24_core::Error::InvalidInput(_))),
        "{err:?}"
    );
    assert_eq!(emu_portal.calls("tasks.task.result.add"), before);

    // Only the author may update or delete: user 2 can see task 51 but did not write it.
    let other = env.client.task_results(&env.webhook("localhost", 2));
    let err = other.update(added.id, "not mine").await.unwrap_err();
    assert_eq!(code(&err), ErrorCode::V3AccessDenied, "{err:?}");
    let err = other.delete(added.id).await.unwrap_err();
    assert_eq!(code(&err), ErrorCode::V3AccessDenied, "{err:?}");

    // Unknown result ids.
    let missing = ResultId::new(987_654).unwrap();
    assert!(results
        .update(missing, "x")
        .await
        .unwrap_err()
        .api_error()
        .is_some());
    assert!(results
        .delete(missing)
        .await
        .unwrap_err()
        .api_error()
        .is_some());

    assert!(results.delete(added.id).await.unwrap());
    let err = results.delete(added.id).await.unwrap_err();
    assert!(err.api_error().is_some(), "{err:?}");
}

#[tokio::test]
async fn list_streams_every_page_in_id_order() {
    let env = emu::start().await;
    let results = env.client.task_results(&env.default_webhook());
    let mut made = Vec::new();
    for n in 0..7 {
        made.push(
            results
                .add(task(51), &format!("step {n}"))
                .await
                .unwrap()
                .id,
        );
    }
    let mut stream = results.list(TaskResultList::for_task(task(51)).limit(3).unwrap());
    let mut seen = Vec::new();
    while let Some(item) =
        std::future::poll_fn(|cx| std::pin::Pin::new(&mut stream).poll_next(cx)).await
    {
        seen.push(item.unwrap().id);
    }
    assert_eq!(seen, made);
    // 3 + 3 + 1, then the empty page that ends the stream.
    assert_eq!(stream.pages_fetched(), 4);
    let sent = env.server.portal().requests();
    let lists: Vec<_> = sent
        .iter()
        .filter(|r| r.method == "tasks.task.result.list")
        .map(|r| r.json().unwrap())
        .collect();
    assert_eq!(lists.len(), 4);
    assert_eq!(lists[0]["order"], json!({"id": "ASC"}));
    assert_eq!(lists[1]["filter"][1], json!(["id", ">", made[2].get()]));
}

#[tokio::test]
async fn a_short_page_does_not_end_the_stream() {
    let env = emu::start().await;
    let results = env.client.task_results(&env.default_webhook());
    let mut made = Vec::new();
    for n in 0..6 {
        made.push(results.add(task(51), &format!("r{n}")).await.unwrap());
    }
    // The portal answers the first page with only two results although five were
    // asked for, as real portals do when they cap a page size silently.
    let first_two: Vec<_> = made[..2]
        .iter()
        .map(|r| serde_json::to_value(r).unwrap())
        .collect();
    env.server.portal().inject(
        Fault::respond(
            200,
            json!({"result": {"items": first_two}, "time": {"operating": 0}}),
        )
        .on("tasks.task.result.list")
        .times(1),
    );
    let all = collect(results.list(TaskResultList::for_task(task(51)).limit(5).unwrap())).await;
    let ids: Vec<_> = all.into_iter().map(|r| r.unwrap().id).collect();
    assert_eq!(ids, made.iter().map(|r| r.id).collect::<Vec<_>>());
}

#[tokio::test]
async fn an_unsorted_page_loses_no_result() {
    let env = emu::start().await;
    let results = env.client.task_results(&env.default_webhook());
    let mut made = Vec::new();
    for n in 0..5 {
        made.push(results.add(task(51), &format!("r{n}")).await.unwrap());
    }
    // The first page comes back out of id order: the highest id first.
    let unsorted: Vec<_> = [&made[2], &made[0], &made[1]]
        .iter()
        .map(|r| serde_json::to_value(r).unwrap())
        .collect();
    env.server.portal().inject(
        Fault::respond(
            200,
            json!({"result": {"items": unsorted}, "time": {"operating": 0}}),
        )
        .on("tasks.task.result.list")
        .times(1),
    );
    let all = collect(results.list(TaskResultList::for_task(task(51)).limit(3).unwrap())).await;
    let ids: Vec<_> = all.into_iter().map(|r| r.unwrap().id).collect();
    assert_eq!(ids, made.iter().map(|r| r.id).collect::<Vec<_>>());
    let lists: Vec<_> = env
        .server
        .portal()
        .requests()
        .iter()
        .filter(|r| r.method == "tasks.task.result.list")
        .map(|r| r.json().unwrap())
        .collect();
    // The second page asks past the first page's highest id.
    assert_eq!(lists[1]["filter"][1], json!(["id", ">", made[2].id.get()]));
}

#[tokio::test]
async fn a_page_that_does_not_advance_ends_the_stream_with_an_error() {
    let env = emu::start().await;
    let results = env.client.task_results(&env.default_webhook());
    let mut made = Vec::new();
    for n in 0..4 {
        made.push(results.add(task(51), &format!("r{n}")).await.unwrap());
    }
    // A portal that ignores the keyset condition answers every page with the same
    // two results: without the guard the stream would never end.
    let first_two: Vec<_> = made[..2]
        .iter()
        .map(|r| serde_json::to_value(r).unwrap())
        .collect();
    env.server.portal().inject(
        Fault::respond(
            200,
            json!({"result": {"items": first_two}, "time": {"operating": 0}}),
        )
        .on("tasks.task.result.list")
        .times(100),
    );
    let mut stream = results.list(TaskResultList::for_task(task(51)).limit(2).unwrap());
    let mut items = Vec::new();
    while let Some(item) =
        std::future::poll_fn(|cx| std::pin::Pin::new(&mut stream).poll_next(cx)).await
    {
        items.push(item);
    }
    assert_eq!(items.len(), 3, "two results, then the error, then the end");
    assert_eq!(items[0].as_ref().unwrap().id, made[0].id);
    assert_eq!(items[1].as_ref().unwrap().id, made[1].id);
    assert!(
        matches!(
            items[2],
            Err(Error::Paging {
                source: b24_core::paging::PagingError::NoProgress { last },
                ..
            }) if last == made[1].id
        ),
        "{:?}",
        items[2]
    );
    assert_eq!(stream.pages_fetched(), 2);
    assert_eq!(env.server.portal().calls("tasks.task.result.list"), 2);
}

#[tokio::test]
async fn list_errors_end_the_stream() {
    let env = emu::start().await;
    let results = env.client.task_results(&env.default_webhook());
    let items = collect(results.list(TaskResultList::for_task(task(52)))).await;
    assert_eq!(items.len(), 1);
    let err = items.into_iter().next().unwrap().unwrap_err();
    assert_eq!(code(&err), ErrorCode::V3AccessDenied);
}

#[tokio::test]
async fn raw_calls_and_batches() {
    let env = emu::start().await;
    let portal = env.default_webhook();

    let task_get = RawCall::new("tasks.task.get", Api::V3)
        .unwrap()
        .with_param("id", json!(51))
        .with_param("select", json!(["id", "title", "chat.id"]));
    let reply = env.client.call(&portal, task_get).await.unwrap();
    assert_eq!(reply.result["item"]["id"], 51);
    assert_eq!(reply.result["item"]["chat"]["id"], 58);

    let unknown = RawCall::new("tasks.task.nosuchthing", Api::V3).unwrap();
    let err = env.client.call(&portal, unknown).await.unwrap_err();
    assert_eq!(code(&err), ErrorCode::V3MethodNotFound);
    assert_eq!(err.status(), Some(404));

    let mut query = serde_json::Map::new();
    query.insert("id".into(), json!(51));
    let mut list_query = serde_json::Map::new();
    list_query.insert("filter".into(), json!([["taskId", 51]]));
    let batch = BatchV3::new()
        .push(BatchCommand::new("tasks.task.get", query).unwrap())
        .unwrap()
        .push(BatchCommand::new("tasks.task.result.list", list_query).unwrap())
        .unwrap();
    let reply = env.client.batch(&portal, batch).await.unwrap();
    assert_eq!(reply.result.len(), 2);
    assert_eq!(reply.result[0]["item"]["id"], 51);
    assert!(reply.result[1]["items"].is_array());
}

#[tokio::test]
async fn a_wrong_webhook_secret_is_an_auth_error_not_a_refresh() {
    let env = emu::start().await;
    let port = env.server.addr().port();
    let portal =
        b24_core::Portal::webhook(&format!("https://localhost:{port}/rest/1/wrongsecret123/"))
            .unwrap();
    let err = env
        .client
        .task_results(&portal)
        .add(task(51), "x")
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(401), "{err:?}");
    assert_eq!(env.server.portal().calls("oauth.token"), 0);
    // The secret is in neither the error's text nor its debug form.
    assert!(!format!("{err} {err:?}").contains("wrongsecret123"));
}
