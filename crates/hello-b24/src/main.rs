//! A first program on b24, with `b24-hyper` and `tokio` as its only dependencies and
//! one import: a task chat message becomes the task's result, is listed, updated and
//! deleted.
//!
//! ```text
//! cargo run -p hello-b24                      # against the built-in offline portal
//! B24_WEBHOOK_URL=https://… B24_TASK_ID=51 cargo run -p hello-b24   # a real portal
//! ```
#![forbid(unsafe_code)]
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::process::ExitCode;

use b24_hyper::prelude::*;

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    match std::env::var("B24_WEBHOOK_URL") {
        Ok(url) => {
            let task = std::env::var("B24_TASK_ID")
                .map_err(|_| "B24_WEBHOOK_URL is set, so B24_TASK_ID must name a task too")?;
            let task: TaskId = task
                .trim()
                .parse()
                .map_err(|e| format!("B24_TASK_ID={task:?} is not a task id: {e}"))?;
            let client = Client::new()?;
            let portal = Portal::webhook(&url)?;
            flow(&client, &portal, task).await
        }
        Err(_) => {
            println!("B24_WEBHOOK_URL is not set: using the built-in offline portal.");
            let emu = b24_hyper::testing::start().await?;
            let outcome = flow(&emu.client, &emu.portal, TaskId::new(51)?).await;
            emu.shutdown().await;
            outcome
        }
    }
}

async fn flow(
    client: &Client,
    portal: &Portal,
    task: TaskId,
) -> Result<(), Box<dyn std::error::Error>> {
    let message = client
        .post_to_task_chat(portal, task, "Work finished: report attached")
        .await?;
    println!("posted message {message} to the chat of task {task}");

    let results = client.task_results(portal);
    let result = results.add_from_chat_message(message).await?;
    println!("message {message} became result {}", result.id);

    let mut listed = results.list(TaskResultList::for_task(task));
    let mut count = 0;
    while let Some(item) = listed.next().await {
        let item = item?;
        count += 1;
        println!(
            "  result {}: {:?}",
            item.id,
            item.text.as_deref().unwrap_or("")
        );
    }
    println!("task {task} has {count} result(s)");

    let updated = results
        .update(result.id, "Work finished: report v2")
        .await?;
    println!(
        "result {} now reads {:?}",
        updated.id,
        updated.text.as_deref().unwrap_or("")
    );
    results.delete(result.id).await?;
    println!("result {} deleted", result.id);
    Ok(())
}
