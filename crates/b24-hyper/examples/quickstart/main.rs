//! The b24 quickstart: `cargo run -p b24-hyper --example quickstart`.
//!
//! With no configuration it starts the offline portal (b24-emulator) over HTTPS on
//! loopback, trusts its certificate authority, and walks the flow on its task 51:
//! find the task's chat, post a message, make it the task's result, list, update,
//! delete.
//!
//! With `B24_WEBHOOK_URL` (an incoming webhook with the `tasks` and `im` scopes) and
//! `B24_TASK_ID` set, the same flow runs against that real portal. It writes to the
//! task's chat and creates, then deletes, one result.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod flow;

use std::process::ExitCode;

use b24_core::Portal;
use b24_emulator::Emulator;
use b24_hyper::Client;
use b24_types::TaskId;

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("quickstart failed: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut out = std::io::stdout();
    let summary = match std::env::var("B24_WEBHOOK_URL") {
        Ok(url) => {
            let task = std::env::var("B24_TASK_ID")
                .map_err(|_| "B24_WEBHOOK_URL is set, so B24_TASK_ID must name a task too")?;
            let task_id: TaskId = task
                .trim()
                .parse()
                .map_err(|e| format!("B24_TASK_ID={task:?} is not a task id: {e}"))?;
            println!("Running against the portal of B24_WEBHOOK_URL, task {task_id}.");
            let portal = Portal::webhook(&url).map_err(|e| format!("B24_WEBHOOK_URL: {e}"))?;
            let client = Client::builder()
                .user_agent(concat!("b24-quickstart/", env!("CARGO_PKG_VERSION")))
                .build()?;
            flow::run(&client, &portal, task_id, &mut out)
                .await
                .map_err(|e| e.to_string())?
        }
        Err(_) => {
            println!("B24_WEBHOOK_URL is not set: starting the offline portal.");
            let server = Emulator::new().serve_https().await?;
            let client = Client::builder()
                .add_root_certificate_pem(server.ca_cert_pem().unwrap_or_default())
                .resolve("localhost", server.addr())
                .build()?;
            let url = server
                .webhook_url(&server.portal(), 1)
                .ok_or("the offline portal has no webhook for user 1")?;
            let portal = Portal::webhook(&url)?;
            let summary = flow::run(&client, &portal, TaskId::new(51)?, &mut out)
                .await
                .map_err(|e| e.to_string())?;
            server.shutdown().await;
            summary
        }
    };
    println!(
        "Done: message {} became result {}, listed with {} result(s), then updated and deleted.",
        summary.message_id, summary.result_id, summary.listed
    );
    Ok(())
}
