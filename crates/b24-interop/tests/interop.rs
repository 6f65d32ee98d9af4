//! The official SDKs against the emulator: each test starts `b24-emulator` over HTTPS
//! on a free loopback port, runs one SDK script (`js/*.mjs` with Node, `py/*.py` with
//! the crate's virtualenv) against a webhook of that portal, reads the script's JSON
//! summary from stdout, and checks both what the SDK saw and what the portal stored.
//!
//! The SDK packages come from `npm ci --prefix crates/b24-interop/js` and a virtualenv
//! at `crates/b24-interop/py/.venv` (`.ci/run` makes both). When they are missing the
//! test prints that it skipped and passes, except under `CI=true`, where it fails and
//! says what to run.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use b24_emulator::{Emulator, ManualClock, PortalConfig, ServerHandle, StoredResult};
use serde_json::{json, Value};

/// The emulator's frozen clock: 2026-04-30 08:15:00 +02:00.
const NOW: f64 = 1_777_529_700.0;
/// `createdAt` / `updatedAt` of everything written under [`NOW`].
const NOW_ISO: &str = "2026-04-30T08:15:00+02:00";
/// How long one SDK script may run.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(40);

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true"))
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

/// True when `ready`; otherwise a skip notice and false, or under `CI=true` a failure
/// that says what to run.
fn require(what: &str, ready: bool, setup: &str) -> bool {
    if ready {
        return true;
    }
    if in_ci() {
        panic!("{what} is not installed, and CI=true: run `{setup}` (from the repository root; .ci/run does it)");
    }
    // Written to stderr directly, past the test harness's capture, so it shows.
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED: {what} is not installed; to run this test: {setup}"
    );
    false
}

fn js_ready() -> bool {
    let sdk = crate_dir().join("js/node_modules/@bitrix24/b24jssdk/package.json");
    require(
        "the JS SDK (node and crates/b24-interop/js/node_modules)",
        on_path("node") && sdk.is_file(),
        "npm ci --prefix crates/b24-interop/js",
    )
}

fn python() -> PathBuf {
    crate_dir().join("py/.venv/bin/python")
}

fn py_ready() -> bool {
    require(
        "the Python SDKs (crates/b24-interop/py/.venv)",
        python().is_file(),
        "python3 -m venv crates/b24-interop/py/.venv && \
         crates/b24-interop/py/.venv/bin/pip install --require-hashes \
         -r crates/b24-interop/py/requirements.txt",
    )
}

/// A running HTTPS emulator, its CA in a file, and user 1's webhook.
struct Portal {
    server: ServerHandle,
    ca_file: PathBuf,
    hook: String,
    secret: String,
}

impl Portal {
    async fn start() -> Self {
        let emu = Emulator::builder()
            .portal(PortalConfig::new("localhost"))
            .clock(ManualClock::new(NOW))
            .build();
        let server = emu.serve_https().await.expect("serve over HTTPS");
        let portal = server.portal();
        let hook = server
            .webhook_url(&portal, 1)
            .expect("user 1 has a webhook");
        let secret = portal.webhook_secret(1).expect("user 1 has a webhook");
        let ca_file = std::env::temp_dir().join(format!(
            "b24-interop-ca-{}-{}.pem",
            std::process::id(),
            server.addr().port()
        ));
        std::fs::write(
            &ca_file,
            server.ca_cert_pem().expect("an HTTPS server has a CA"),
        )
        .expect("write the CA file");
        Self {
            server,
            ca_file,
            hook,
            secret,
        }
    }

    fn results(&self) -> Vec<StoredResult> {
        self.server.portal().results()
    }

    /// The recorded requests to `method` (lower case), in order, as the SDK sent
    /// them: "HTTP-METHOD PATH" (secret redacted, query string cut off) and the JSON
    /// body.
    fn requests_to(&self, method: &str) -> Vec<(String, Value)> {
        self.server
            .portal()
            .requests()
            .into_iter()
            .filter(|r| r.method == method)
            .map(|r| {
                let path = r.path.split('?').next().unwrap_or_default();
                (
                    format!("{} {path}", r.http_method),
                    r.json().unwrap_or(Value::Null),
                )
            })
            .collect()
    }

    /// Runs one SDK script; its stdout parsed as JSON. The webhook secret is removed
    /// from anything this prints.
    async fn run(&self, program: &Path, script: &str, extra_env: &[(&str, &Path)]) -> Value {
        let dir = crate_dir();
        let mut cmd = tokio::process::Command::new(program);
        cmd.arg(script)
            .current_dir(if script.ends_with(".mjs") {
                dir.join("js")
            } else {
                dir.join("py")
            })
            .env("B24_WEBHOOK_URL", &self.hook)
            .env("NO_PROXY", "localhost,127.0.0.1")
            .env_remove("HTTPS_PROXY")
            .env_remove("https_proxy")
            .env_remove("HTTP_PROXY")
            .env_remove("http_proxy")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for (name, value) in extra_env {
            cmd.env(name, value);
        }
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()));
        let out = tokio::time::timeout(SCRIPT_TIMEOUT, child.wait_with_output())
            .await
            .unwrap_or_else(|_| panic!("{script} ran longer than {SCRIPT_TIMEOUT:?}"))
            .expect("wait for the script");
        let stdout = self.redact(&String::from_utf8_lossy(&out.stdout));
        let stderr = self.redact(&String::from_utf8_lossy(&out.stderr));
        assert!(
            out.status.success(),
            "{script} exited with {}\nstdout:\n{stdout}\nstderr:\n{stderr}",
            out.status
        );
        assert!(
            !String::from_utf8_lossy(&out.stdout).contains(&self.secret),
            "{script} printed the webhook secret"
        );
        let summary: Value = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
            panic!("{script} printed no JSON summary ({e})\nstdout:\n{stdout}\nstderr:\n{stderr}")
        });
        // Shown by the test harness when an assertion below fails.
        eprintln!(
            "{script} summary:\n{}",
            serde_json::to_string_pretty(&summary).unwrap_or_default()
        );
        summary
    }

    fn redact(&self, text: &str) -> String {
        text.replace(&self.secret, "[redacted]")
    }
}

impl Drop for Portal {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.ca_file);
    }
}

/// A result item as every single REST 3.0 call answers it (no `select`).
fn item(id: u64, text: &str, message_id: Option<u64>, updated: bool) -> Value {
    json!({
        "id": id,
        "taskId": 51,
        "text": text,
        "authorId": 1,
        "createdAt": NOW_ISO,
        "updatedAt": if updated { json!(NOW_ISO) } else { Value::Null },
        "status": "open",
        "fileIds": [],
        "rights": {"edit": true, "remove": true},
        "messageId": message_id,
    })
}

fn ok(fields: Value) -> Value {
    let mut v = json!({"ok": true});
    if let (Some(out), Value::Object(add)) = (v.as_object_mut(), fields) {
        out.extend(add);
    }
    v
}

/// What the portal stores for a result: (id, task, text, author, message).
fn stored(results: &[StoredResult]) -> Vec<(u64, u64, String, u64, Option<u64>)> {
    results
        .iter()
        .map(|r| (r.id, r.task_id, r.text.clone(), r.author_id, r.message_id))
        .collect()
}

/// Checks the steps every SDK script runs the same way: a classic batch that posts a
/// chat message (34239, the first new message id), a result made from it (17; the
/// portal stamps `updatedAt` on it at once), a result added (18), updated, listed,
/// deleted, listed again.
fn check_result_steps(steps: &Value, suffix: &str) {
    let posted = format!("Quarterly report is ready ({suffix})");
    let draft = format!("Draft figures attached ({suffix})");
    let fin = format!("Final figures attached ({suffix})");
    assert_eq!(
        steps["classicBatch"],
        ok(json!({"messageId": 34239, "newestMessage": {"id": 34239, "text": posted}})),
        "classic batch: im.message.add then im.dialog.messages.get"
    );
    assert_eq!(
        steps["addFromChatMessage"],
        ok(json!({"item": item(17, &posted, Some(34239), true)})),
        "tasks.task.result.addfromchatmessage"
    );
    assert_eq!(
        steps["add"],
        ok(json!({"item": item(18, &draft, None, false)})),
        "tasks.task.result.add"
    );
    assert_eq!(
        steps["update"],
        ok(json!({"item": item(18, &fin, None, true)})),
        "tasks.task.result.update"
    );
    assert_eq!(
        steps["list"],
        ok(json!({"items": [
            {"id": 17, "text": posted, "messageId": 34239},
            {"id": 18, "text": fin, "messageId": null},
        ]})),
        "tasks.task.result.list"
    );
    assert_eq!(
        steps["delete"],
        ok(json!({"result": true})),
        "tasks.task.result.delete"
    );
    assert_eq!(
        steps["listAfterDelete"],
        ok(json!({"items": [{"id": 17, "text": posted}]})),
        "tasks.task.result.list after the delete"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn js_sdk_task_results_and_batches() {
    if !js_ready() {
        return;
    }
    let portal = Portal::start().await;
    let node = PathBuf::from("node");
    let summary = portal
        .run(
            &node,
            "task-results.mjs",
            &[("NODE_EXTRA_CA_CERTS", portal.ca_file.as_path())],
        )
        .await;
    assert_eq!(summary["sdk"], "@bitrix24/b24jssdk");
    assert_eq!(summary["version"], "2.2.0");
    let steps = &summary["steps"];
    check_result_steps(steps, "JS SDK");

    // What the SDK put on the wire for its REST 3.0 calls: JSON bodies at
    // /rest/api/1/SECRET/METHOD, with the SDK's tracing query parameters.
    let calls = portal.requests_to("tasks.task.result.addfromchatmessage");
    assert_eq!(
        calls,
        vec![(
            "POST /rest/api/1/[redacted]/tasks.task.result.addfromchatmessage".to_owned(),
            json!({"fields": {"messageId": 34239}})
        )]
    );
    let query = portal
        .server
        .portal()
        .requests()
        .into_iter()
        .find(|r| r.method == "tasks.task.result.addfromchatmessage")
        .and_then(|r| r.path.split_once('?').map(|(_, q)| q.to_owned()))
        .unwrap_or_default();
    assert!(
        query.ends_with("&bx24_sdk_ver=2.2.0&bx24_sdk_type=b24-js-sdk"),
        "query string: {query}"
    );

    // The classic batch: `{halt, cmd}` with each command as `method?query`. The REST
    // 3.0 batch: the command list spread into an object keyed "0", "1", … (each
    // `{method, query, parallel}`), posted to /rest/api/1/SECRET/batch.
    let batches = portal.requests_to("batch");
    assert_eq!(batches.len(), 2, "the classic batch and the REST 3.0 one");
    assert_eq!(batches[0].0, "POST /rest/1/[redacted]/batch");
    assert_eq!(
        batches[0].1,
        json!({
            "halt": 1,
            "cmd": {
                "posted": "im.message.add?DIALOG_ID=chat58&MESSAGE=Quarterly%20report%20is%20ready%20%28JS%20SDK%29",
                "history": "im.dialog.messages.get?DIALOG_ID=chat58&LIMIT=1",
            },
        })
    );
    assert_eq!(batches[1].0, "POST /rest/api/1/[redacted]/batch");
    assert_eq!(
        batches[1].1,
        json!({
            "0": {
                "method": "tasks.task.result.update",
                "query": {"id": 17, "fields": {"text": "Checked by the JS SDK batch"}},
                "parallel": false,
            },
            "1": {
                "method": "tasks.task.result.list",
                "query": {
                    "filter": [["taskId", 51]],
                    "select": ["id", "text", "messageId"],
                    "order": {"id": "ASC"},
                },
                "parallel": false,
            },
        })
    );

    // The portal's state: the result made from the message is kept, the added one
    // is gone, the message is in the task chat.
    let messages = portal.server.portal().messages(58);
    let posted = messages
        .iter()
        .find(|m| m.id == 34239)
        .expect("message 34239 is in chat 58");
    assert_eq!(
        (posted.author_id, posted.text.as_str()),
        (1, "Quarterly report is ready (JS SDK)")
    );
    let results = portal.results();
    assert_eq!(results.len(), 1, "one result left: {:?}", stored(&results));
    assert_eq!(
        (
            results[0].id,
            results[0].task_id,
            results[0].author_id,
            results[0].message_id
        ),
        (17, 51, 1, Some(34239))
    );

    // The SDK's tools.healthCheck calls classic `server.time` through REST v2; a
    // portal without it is reported unavailable.
    assert_eq!(
        steps["healthCheck"],
        ok(json!({"available": true})),
        "tools.healthCheck (classic server.time)"
    );
    // The REST 3.0 batch (its body an object keyed "0", "1", …, never an array).
    assert_eq!(
        steps["v3Batch"],
        ok(json!({
            "updated": item(17, "Checked by the JS SDK batch", Some(34239), true),
            "listed": [{"id": 17, "text": "Checked by the JS SDK batch", "messageId": 34239}],
        })),
        "REST 3.0 batch: tasks.task.result.update then tasks.task.result.list"
    );
    assert_eq!(results[0].text, "Checked by the JS SDK batch");
    // Classic `tasks.task.get` (REST v2: `taskId`, answer `{task:{..}}`, string ids).
    assert_eq!(
        steps["classicTaskGet"],
        ok(json!({"task": {"id": "51", "title": "Prepare the quarterly report"}})),
        "classic tasks.task.get"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn b24pysdk_task_results_and_batches() {
    if !py_ready() {
        return;
    }
    let portal = Portal::start().await;
    let ca = portal.ca_file.clone();
    let summary = portal
        .run(
            &python(),
            "b24pysdk_task_results.py",
            &[
                ("REQUESTS_CA_BUNDLE", ca.as_path()),
                ("SSL_CERT_FILE", ca.as_path()),
            ],
        )
        .await;
    assert_eq!(summary["sdk"], "b24pysdk");
    assert_eq!(summary["version"], "1.3.2");
    let steps = &summary["steps"];
    check_result_steps(steps, "Python SDK");

    // The SDK's REST 3.0 calls: JSON at /rest/api/1/SECRET/METHOD.
    assert_eq!(
        portal.requests_to("tasks.task.result.addfromchatmessage"),
        vec![(
            "POST /rest/api/1/[redacted]/tasks.task.result.addfromchatmessage".to_owned(),
            json!({"fields": {"messageId": 34239}})
        )]
    );

    // b24pysdk has no REST 3.0 batch: `call_batch` of REST 3.0 requests posts a
    // classic batch (to `/rest/1/SECRET/batch.json`, which the emulator records
    // without `.json`; each command `method?query`), where the portal runs classic
    // methods only: the REST 3.0-only `tasks.task.result.update` is refused and,
    // with `halt`, the batch stops there.
    let batches = portal.requests_to("batch");
    assert_eq!(batches.len(), 2, "the classic batch and the REST 3.0 one");
    assert_eq!(batches[1].0, "POST /rest/1/[redacted]/batch");
    assert_eq!(batches[1].1["halt"], json!(true));
    assert_eq!(
        batches[1].1["cmd"]["updated"],
        "tasks.task.result.update?id=17&fields[text]=Checked+by+the+Python+SDK+batch"
    );
    assert_eq!(
        steps["v3Batch"],
        json!({"ok": false, "error": {
            "code": "ERROR_METHOD_NOT_FOUND",
            "status": 200,
            "description": "Method not found!",
        }}),
        "REST 3.0 requests in b24pysdk's (classic) batch"
    );

    let results = portal.results();
    assert_eq!(
        stored(&results),
        vec![(
            17,
            51,
            "Quarterly report is ready (Python SDK)".to_owned(),
            1,
            Some(34239)
        )]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fast_bitrix24_classic_batches_and_raw_rest3() {
    if !py_ready() {
        return;
    }
    let portal = Portal::start().await;
    let ca = portal.ca_file.clone();
    let summary = portal
        .run(
            &python(),
            "fast_bitrix24_task_results.py",
            &[("SSL_CERT_FILE", ca.as_path())],
        )
        .await;
    assert_eq!(summary["sdk"], "fast_bitrix24");
    assert_eq!(summary["version"], "1.8.14");
    let steps = &summary["steps"];
    assert_eq!(
        steps["callMessages"],
        ok(json!({"messageIds": [34239, 34240]})),
        "call() of im.message.add with two items"
    );
    assert_eq!(
        steps["callBatch"],
        ok(json!({
            "history": [
                {"id": 34240, "text": "Report sent (fast_bitrix24)"},
                {"id": 34239, "text": "Figures checked (fast_bitrix24)"},
            ],
            "again": 34241,
        })),
        "call_batch() with a $result reference"
    );
    assert_eq!(
        steps["addFromChatMessage"],
        ok(json!({"item": item(17, "Report sent (fast_bitrix24)", Some(34240), true)})),
        "tasks.task.result.addfromchatmessage through call(raw=True)"
    );
    assert_eq!(
        steps["delete"],
        ok(json!({"result": true})),
        "tasks.task.result.delete through call(raw=True)"
    );

    // call() packs the items into one classic batch labelled order0000000000, …
    // (the label also rides along as an `__order` parameter, which the portal ignores).
    let batches = portal.requests_to("batch");
    assert_eq!(batches.len(), 3, "call() twice, call_batch()");
    assert_eq!(batches[0].0, "POST /rest/1/[redacted]/batch");
    assert_eq!(
        batches[0].1,
        json!({"halt": 0, "cmd": {
            "order0000000000": "im.message.add?__order=order0000000000&DIALOG_ID=chat58&MESSAGE=Figures%20checked%20%28fast_bitrix24%29&",
            "order0000000001": "im.message.add?__order=order0000000001&DIALOG_ID=chat58&MESSAGE=Report%20sent%20%28fast_bitrix24%29&",
        }})
    );
    // get_all() asks the list method itself first; one page is all there is.
    let lists = portal.requests_to("tasks.task.result.list");
    assert_eq!(lists.len(), 1, "{lists:?}");
    assert_eq!(lists[0].0, "POST /rest/1/[redacted]/tasks.task.result.list");
    assert_eq!(lists[0].1["taskId"], json!(51));
    // raw=True posts the parameters as they are, as JSON, to the REST 3.0 route.
    assert_eq!(
        portal.requests_to("tasks.task.result.addfromchatmessage"),
        vec![(
            "POST /rest/api/1/[redacted]/tasks.task.result.addfromchatmessage".to_owned(),
            json!({"fields": {"messageId": 34240}})
        )]
    );

    let messages = portal.server.portal().messages(58);
    let text_of = |id: u64| {
        messages
            .iter()
            .find(|m| m.id == id)
            .map(|m| (m.author_id, m.text.clone()))
    };
    assert_eq!(
        text_of(34241),
        Some((1, "Newest is 34240".to_owned())),
        "the $result reference was resolved"
    );
    assert_eq!(stored(&portal.results()), vec![], "the result was deleted");

    // Classic task methods (REST v2): `tasks.task.get` answers `{task:{..}}` with
    // string ids; `tasks.task.result.list` takes `taskId` and answers a plain array.
    assert_eq!(
        steps["classicTaskGet"],
        ok(json!({"task": {"id": "51", "title": "Prepare the quarterly report"}})),
        "classic tasks.task.get through call()"
    );
    assert_eq!(
        steps["classicResultList"],
        ok(json!({"items": [{"id": 17, "text": "Report sent (fast_bitrix24)"}]})),
        "classic tasks.task.result.list through get_all()"
    );
}
