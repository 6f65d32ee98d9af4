//! The `b24` binary as a process, against the offline portal (b24-emulator) served over
//! HTTPS on a free loopback port: the quickstart flow, the exit codes of each class
//! of failure, and that the webhook secret is never printed.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::Write;
use std::net::TcpListener;
use std::process::{Command, Output, Stdio};

use b24_emulator::{Emulator, ServerHandle};
use serde_json::Value;

/// An emulator served over HTTPS, its CA in a file, and the webhook of user 1.
struct Portal {
    server: Option<ServerHandle>,
    runtime: tokio::runtime::Runtime,
    ca: tempfile::NamedTempFile,
    webhook: String,
    secret: String,
}

impl Portal {
    fn start() -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let server = runtime
            .block_on(Emulator::builder().build().serve_https())
            .unwrap();
        let mut ca = tempfile::NamedTempFile::new().unwrap();
        ca.write_all(server.ca_cert_pem().unwrap().as_bytes())
            .unwrap();
        ca.flush().unwrap();
        let portal = server.portal();
        let webhook = server.webhook_url(&portal, 1).unwrap();
        let secret = portal.webhook_secret(1).unwrap();
        Self {
            server: Some(server),
            runtime,
            ca,
            webhook,
            secret,
        }
    }

    fn emulator(&self) -> b24_emulator::EmulatedPortal {
        self.server.as_ref().unwrap().portal()
    }

    /// Runs `b24` with the webhook in the environment and the CA on the command line.
    fn b24(&self, args: &[&str]) -> Run {
        let mut cmd = b24();
        cmd.env("B24_WEBHOOK_URL", &self.webhook)
            .arg("--ca-cert")
            .arg(self.ca.path())
            .args(args);
        Run::new(cmd, &[&self.secret])
    }
}

impl Drop for Portal {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            self.runtime.block_on(server.shutdown());
        }
    }
}

/// The binary with a clean environment (no credentials from the caller's shell).
fn b24() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_b24"));
    for var in [
        "B24_WEBHOOK_URL",
        "B24_ACCESS_TOKEN",
        "B24_PORTAL",
        "B24_CA_CERT",
    ] {
        cmd.env_remove(var);
    }
    cmd.stdin(Stdio::null());
    cmd
}

/// A finished run: exit code, stdout, stderr, checked to hold no secret.
#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn new(mut cmd: Command, secrets: &[&str]) -> Self {
        let Output {
            status,
            stdout,
            stderr,
        } = cmd.output().unwrap();
        let run = Run {
            code: status.code().expect("exited with a code"),
            stdout: String::from_utf8(stdout).unwrap(),
            stderr: String::from_utf8(stderr).unwrap(),
        };
        for secret in secrets {
            assert!(
                !run.stdout.contains(secret) && !run.stderr.contains(secret),
                "a secret was printed: {run:?}"
            );
        }
        run
    }

    fn ok(self) -> Value {
        assert_eq!(self.code, 0, "{self:?}");
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}): {self:?}"))
    }

    fn failed(self, code: i32) -> Self {
        assert_eq!(self.code, code, "{self:?}");
        assert!(self.stdout.is_empty(), "stdout must stay empty: {self:?}");
        assert!(
            self.stderr.starts_with("error: "),
            "stderr must start with `error: `: {self:?}"
        );
        self
    }
}

#[test]
fn quickstart_flow() {
    let portal = Portal::start();
    let emu = portal.emulator();
    let chat = emu.task_chat(51).unwrap();

    // 1. Post to the task's chat: prints the message id.
    let sent = portal.b24(&[
        "chat",
        "send",
        "--task",
        "51",
        "Work finished: report attached",
    ]);
    let message = sent.ok().as_u64().expect("a message id");
    let stored = emu.messages(chat);
    assert!(
        stored
            .iter()
            .any(|m| m.id == message && m.text == "Work finished: report attached"),
        "{stored:?}"
    );

    // 2. Make it the task's result.
    let created = portal
        .b24(&["result", "from-message", &message.to_string()])
        .ok();
    let result = created["id"].as_u64().unwrap();
    assert_eq!(created["taskId"], 51);
    assert_eq!(created["messageId"], message);
    assert_eq!(created["text"], "Work finished: report attached");
    assert!(emu
        .results()
        .iter()
        .any(|r| r.id == result && r.task_id == 51));

    // 3. The list shows it (JSON array), and so do JSON lines.
    let listed = portal.b24(&["result", "list", "--task", "51"]).ok();
    let ids: Vec<u64> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_u64().unwrap())
        .collect();
    assert!(ids.contains(&result), "{listed}");
    let lines = portal.b24(&["result", "list", "--task", "51", "--format", "jsonl"]);
    assert_eq!(lines.code, 0, "{lines:?}");
    let from_lines: Vec<u64> = lines
        .stdout
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["id"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(from_lines, ids);

    // 4. Update its text.
    let updated = portal
        .b24(&[
            "result",
            "update",
            &result.to_string(),
            "--text",
            "Approved",
        ])
        .ok();
    assert_eq!(updated["id"], result);
    assert_eq!(updated["text"], "Approved");
    let stored = emu.results();
    assert_eq!(
        stored
            .iter()
            .find(|r| r.id == result)
            .map(|r| r.text.as_str()),
        Some("Approved")
    );

    // 5. Delete it.
    let deleted = portal.b24(&["result", "delete", &result.to_string()]).ok();
    assert_eq!(deleted, Value::Bool(true));
    assert!(!emu.results().iter().any(|r| r.id == result));

    // 6. The list is empty again.
    let listed = portal
        .b24(&["--compact", "result", "list", "--task", "51"])
        .ok();
    assert_eq!(listed, Value::Array(Vec::new()));
}

#[test]
fn add_list_with_limit_and_raw_calls() {
    let portal = Portal::start();
    let emu = portal.emulator();
    for text in ["one", "two", "three"] {
        let added = portal
            .b24(&["result", "add", "--task", "51", "--text", text])
            .ok();
        assert_eq!(added["text"], text);
    }
    assert_eq!(emu.results().iter().filter(|r| r.task_id == 51).count(), 3);

    // --limit stops early; --page-size pages; --after resumes.
    let first_two = portal
        .b24(&["result", "list", "--task", "51", "--limit", "2"])
        .ok();
    let first_two = first_two.as_array().unwrap().clone();
    assert_eq!(first_two.len(), 2);
    let all = portal
        .b24(&[
            "result",
            "list",
            "--task",
            "51",
            "--page-size",
            "1",
            "--progress",
        ])
        .ok();
    assert_eq!(all.as_array().unwrap().len(), 3);
    let rest = portal
        .b24(&[
            "result",
            "list",
            "--task",
            "51",
            "--after",
            &first_two[1]["id"].to_string(),
        ])
        .ok();
    assert_eq!(rest.as_array().unwrap().len(), 1);
    assert_eq!(rest[0]["text"], "three");

    // A raw REST 3.0 call, chosen by the method's name.
    let raw = portal
        .b24(&[
            "call",
            "tasks.task.result.list",
            r#"{"filter":[["taskId","=",51]]}"#,
        ])
        .ok();
    assert_eq!(raw["items"].as_array().unwrap().len(), 3, "{raw}");

    // A raw classic call with parameters from stdin.
    let mut cmd = b24();
    cmd.env("B24_WEBHOOK_URL", &portal.webhook)
        .env("B24_CA_CERT", portal.ca.path())
        .args(["call", "im.message.add", "--params-file", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(br#"{"DIALOG_ID":"chat58","MESSAGE":"from stdin"}"#)
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let id: u64 = String::from_utf8(out.stdout)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(emu
        .messages(58)
        .iter()
        .any(|m| m.id == id && m.text == "from stdin"));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(!stderr.contains(&portal.secret), "{stderr}");
}

#[test]
fn api_error_exits_3_with_the_code() {
    let portal = Portal::start();
    let run = portal.b24(&["result", "from-message", "999999"]).failed(3);
    assert!(
        run.stderr.to_ascii_uppercase().contains("EXCEPTION")
            || run.stderr.contains("NOT_FOUND")
            || run.stderr.contains("ACCESS_DENIED"),
        "the API error code must be named: {run:?}"
    );
    // Unknown method, classic: the code is printed too.
    let run = portal.b24(&["call", "no.such.method"]).failed(3);
    assert!(run.stderr.contains("ERROR_METHOD_NOT_FOUND"), "{run:?}");
}

#[test]
fn wrong_secret_exits_7() {
    let portal = Portal::start();
    let wrong = portal.webhook.replace(&portal.secret, "wrongsecret123");
    let mut cmd = b24();
    cmd.arg("--webhook")
        .arg(&wrong)
        .arg("--ca-cert")
        .arg(portal.ca.path())
        .args(["result", "list", "--task", "51"]);
    let run = Run::new(cmd, &[&portal.secret, "wrongsecret123"]).failed(7);
    assert!(run.stderr.contains("hint:"), "{run:?}");
}

#[test]
fn untrusted_certificate_exits_5_and_hints_ca_cert() {
    let portal = Portal::start();
    let mut cmd = b24();
    cmd.env("B24_WEBHOOK_URL", &portal.webhook).args([
        "--retries",
        "0",
        "result",
        "list",
        "--task",
        "51",
    ]);
    let run = Run::new(cmd, &[&portal.secret]).failed(5);
    assert!(run.stderr.contains("--ca-cert"), "{run:?}");
}

#[test]
fn plain_http_to_loopback_only_with_the_switch() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let emulator = Emulator::builder()
        .allow_plain_http_to_loopback(true)
        .build();
    let server = runtime.block_on(emulator.serve_http()).unwrap();
    let portal = server.portal();
    let webhook = server.webhook_url(&portal, 1).unwrap();
    assert!(webhook.starts_with("http://"), "{webhook}");
    let secret = portal.webhook_secret(1).unwrap();

    let mut cmd = b24();
    cmd.env("B24_WEBHOOK_URL", &webhook)
        .args(["result", "list", "--task", "51"]);
    let run = Run::new(cmd, &[&secret]).failed(2);
    assert!(run.stderr.contains("--allow-plain-http"), "{run:?}");

    let mut cmd = b24();
    cmd.env("B24_WEBHOOK_URL", &webhook).args([
        "--allow-plain-http",
        "result",
        "list",
        "--task",
        "51",
    ]);
    assert_eq!(Run::new(cmd, &[&secret]).ok(), Value::Array(Vec::new()));
    runtime.block_on(server.shutdown());
}

#[test]
fn oauth_token() {
    let portal = Portal::start();
    let emu = portal.emulator();
    let (access, _refresh) = emu.issue_tokens(1).unwrap();
    let token = access.expose_secret().to_owned();
    let base = portal.webhook.split("/rest/").next().unwrap().to_owned();
    let mut cmd = b24();
    cmd.env("B24_ACCESS_TOKEN", &token)
        .env("B24_PORTAL", &base)
        .env("B24_CA_CERT", portal.ca.path())
        .args(["result", "list", "--task", "51"]);
    assert_eq!(Run::new(cmd, &[&token]).ok(), Value::Array(Vec::new()));

    let mut cmd = b24();
    cmd.env("B24_ACCESS_TOKEN", "n0tav4lidt0ken")
        .env("B24_PORTAL", &base)
        .env("B24_CA_CERT", portal.ca.path())
        .args(["result", "list", "--task", "51"]);
    let run = Run::new(cmd, &["n0tav4lidt0ken"]).failed(7);
    assert!(run.stderr.contains("--access-token"), "{run:?}");

    let mut cmd = b24();
    cmd.env("B24_ACCESS_TOKEN", &token)
        .args(["result", "list", "--task", "51"]);
    let run = Run::new(cmd, &[&token]).failed(2);
    assert!(run.stderr.contains("--portal"), "{run:?}");
}

#[test]
fn refused_connection_exits_5() {
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let secret = "n0b0dyl1st3ns";
    let mut cmd = b24();
    cmd.env(
        "B24_WEBHOOK_URL",
        format!("https://127.0.0.1:{port}/rest/1/{secret}/"),
    )
    .args(["--retries", "0", "chat", "send", "--task", "51", "hello"]);
    let run = Run::new(cmd, &[secret]).failed(5);
    assert!(run.stderr.contains("hint:"), "{run:?}");
}

#[test]
fn missing_webhook_exits_2_naming_the_variable() {
    let mut cmd = b24();
    cmd.args(["result", "list", "--task", "51"]);
    let run = Run::new(cmd, &[]).failed(2);
    assert!(run.stderr.contains("B24_WEBHOOK_URL"), "{run:?}");
    assert!(run.stderr.contains("--webhook"), "{run:?}");
}

#[test]
fn bad_input_exits_2_naming_the_argument() {
    let secret = "s3cr3tc0de1234";
    let webhook = format!("https://example.invalid/rest/1/{secret}/");
    let cases: &[(&[&str], &str)] = &[
        (&["result", "delete", "abc"], "<RESULT_ID>"),
        (&["result", "update", "0", "--text", "x"], "<RESULT_ID>"),
        (&["result", "list", "--task", "-5"], "--task"),
        (
            &["result", "list", "--task", "51", "--page-size", "5000"],
            "--page-size",
        ),
        (&["result", "add", "--task", "51", "--text", ""], "--text"),
        (&["result", "from-message", "12x"], "<MESSAGE_ID>"),
        (&["chat", "send", "--task", "x", "hi"], "--task"),
        (&["call", "user.current", "{not json"], "PARAMS_JSON"),
        (&["call", "user.current", "[1,2]"], "PARAMS_JSON"),
        (&["call", "bad name!"], "METHOD"),
        (&["--timeout", "0", "call", "user.current"], "--timeout"),
        (&["result", "lst"], "lst"),
    ];
    for (args, named) in cases {
        let mut cmd = b24();
        cmd.env("B24_WEBHOOK_URL", &webhook).args(*args);
        let run = Run::new(cmd, &[secret]).failed(2);
        assert!(
            run.stderr.contains(named),
            "{args:?} must name {named}: {run:?}"
        );
    }

    // A malformed webhook URL: named, never echoed.
    let mut cmd = b24();
    cmd.env(
        "B24_WEBHOOK_URL",
        format!("https://example.invalid/rest/x/{secret}/"),
    )
    .args(["result", "delete", "5"]);
    let run = Run::new(cmd, &[secret]).failed(2);
    assert!(run.stderr.contains("B24_WEBHOOK_URL"), "{run:?}");
    let mut cmd = b24();
    cmd.args([
        "--webhook",
        &format!("http://example.invalid/rest/1/{secret}/"),
    ])
    .args(["result", "delete", "5"]);
    let run = Run::new(cmd, &[secret]).failed(2);
    assert!(run.stderr.contains("--webhook"), "{run:?}");

    // A pasted URL in the wrong place is not echoed by the usage error.
    let mut cmd = b24();
    cmd.args(["result", "delete", &webhook]);
    Run::new(cmd, &[secret]).failed(2);

    // An unreadable CA file.
    let mut cmd = b24();
    cmd.env("B24_WEBHOOK_URL", &webhook).args([
        "--ca-cert",
        "/nonexistent/ca.pem",
        "result",
        "delete",
        "5",
    ]);
    let run = Run::new(cmd, &[secret]).failed(2);
    assert!(run.stderr.contains("--ca-cert"), "{run:?}");
}

#[test]
fn help_and_version() {
    let secret = "h1dd3ns3cr3t";
    let mut cmd = b24();
    cmd.env(
        "B24_WEBHOOK_URL",
        format!("https://example.invalid/rest/1/{secret}/"),
    )
    .env("B24_ACCESS_TOKEN", "t0k3nt0k3n")
    .arg("--help");
    let run = Run::new(cmd, &[secret, "t0k3nt0k3n"]);
    assert_eq!(run.code, 0, "{run:?}");
    for needle in [
        "Exit codes",
        "B24_WEBHOOK_URL",
        "b24-emulator",
        "result",
        "chat",
        "call",
    ] {
        assert!(
            run.stdout.contains(needle),
            "--help must mention {needle}: {run:?}"
        );
    }
    for sub in [
        &["result", "list", "--help"][..],
        &["call", "--help"][..],
        &["chat", "send", "--help"][..],
    ] {
        let mut cmd = b24();
        cmd.args(sub);
        let run = Run::new(cmd, &[]);
        assert_eq!(run.code, 0, "{sub:?}: {run:?}");
        assert!(run.stdout.contains("Usage: b24"), "{run:?}");
    }
    let mut cmd = b24();
    cmd.arg("--version");
    let run = Run::new(cmd, &[]);
    assert_eq!(run.code, 0);
    assert!(run.stdout.starts_with("b24 "), "{run:?}");
}

#[test]
fn from_message_with_the_task_settles_an_unknown_outcome() {
    // The portal (like the server code) ignores idempotency keys: a dropped answer
    // leaves the write's outcome unknown.
    let portal = Portal::start();
    let emu = portal.emulator();
    let first = emu.add_message(58, 1, "Signed off").unwrap();
    emu.inject(
        b24_emulator::Fault::apply_then_close()
            .on("tasks.task.result.addfromchatmessage")
            .times(1),
    );
    // Without the task: exit 6, naming what to check.
    let run = portal
        .b24(&["result", "from-message", &first.to_string()])
        .failed(6);
    assert!(run.stderr.contains("may have run"), "{run:?}");

    // With it: the result the dropped call made is found and printed; no second one.
    let second = emu.add_message(58, 1, "Signed off again").unwrap();
    emu.inject(
        b24_emulator::Fault::apply_then_close()
            .on("tasks.task.result.addfromchatmessage")
            .times(1),
    );
    let made = portal
        .b24(&[
            "result",
            "from-message",
            &second.to_string(),
            "--task",
            "51",
        ])
        .ok();
    assert_eq!(made["messageId"], second);
    for message in [first, second] {
        assert_eq!(
            emu.results()
                .iter()
                .filter(|r| r.message_id == Some(message))
                .count(),
            1,
            "message {message}"
        );
    }
}
