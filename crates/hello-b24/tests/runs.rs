//! The program runs its whole flow against the built-in offline portal.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::process::Command;

#[test]
fn the_flow_runs_against_the_offline_portal() {
    let out = Command::new(env!("CARGO_BIN_EXE_hello-b24"))
        .env_remove("B24_WEBHOOK_URL")
        .env_remove("B24_TASK_ID")
        .output()
        .expect("run hello-b24");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains("became result"), "{stdout}");
    assert!(stdout.contains("task 51 has 1 result(s)"), "{stdout}");
    assert!(
        stdout.contains("now reads \"Work finished: report v2\""),
        "{stdout}"
    );
    assert!(stdout.contains("deleted"), "{stdout}");
}

#[test]
fn a_task_id_that_is_not_a_number_names_the_variable() {
    let out = Command::new(env!("CARGO_BIN_EXE_hello-b24"))
        .env(
            "B24_WEBHOOK_URL",
            "https://portal.example/rest/1/s3cretcode/",
        )
        .env("B24_TASK_ID", "abc")
        .output()
        .expect("run hello-b24");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("B24_TASK_ID=\"abc\" is not a task id"),
        "{stderr}"
    );
    assert!(!stderr.contains("s3cret"), "{stderr}");
}
