//! Running a parsed command: input checks first, then the client, then the call.

use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use b24_core::engine::{MemoryTokenStore, RetryPolicy, TokenSet};
use b24_core::methods::{
    RawCall, TaskChatMessageSend, TaskGet, TaskResultAdd, TaskResultAddFromChatMessage,
    TaskResultDelete, TaskResultList, TaskResultUpdate,
};
use b24_core::{Api, Portal};
use b24_hyper::{BuildError, Client, ResultStream};
use b24_types::{AccessToken, RefreshToken, ResultId, TaskResult};
use serde_json::{Map, Value};

use crate::cli::{
    ApiChoice, CallArgs, ChatCommand, Cli, Command, Connection, ListArgs, ListFormat, ResultCommand,
};
use crate::failure::{CallKind, Class, Failure};
use crate::output::{Notes, Printer};

/// Where the credential options got their values, for naming them in messages.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Sources {
    /// The webhook URL came from `B24_WEBHOOK_URL` (not `--webhook`).
    pub webhook_from_env: bool,
    /// The CA file came from `B24_CA_CERT` (not `--ca-cert`).
    pub ca_cert_from_env: bool,
}

/// The REST 3.0 methods b24 itself calls (its typed methods): a raw call to one of
/// these names goes to REST 3.0 unless `--api` says otherwise.
const V3_METHODS: &[&str] = &[
    TaskResultAdd::NAME,
    TaskResultAddFromChatMessage::NAME,
    TaskResultUpdate::NAME,
    TaskResultDelete::NAME,
    TaskResultList::NAME,
    TaskChatMessageSend::NAME,
    TaskGet::NAME,
];

/// Runs the command.
///
/// # Errors
///
/// A [`Failure`] carrying the exit class, the message and hints.
pub(crate) fn run(cli: Cli, sources: Sources) -> Result<(), Failure> {
    let printer = Printer::new(&cli.output);
    let notes = Notes::new(&cli.output);
    // Everything that needs no network is checked before the client is built.
    let job = prepare(cli.command)?;
    let target = connect(&cli.connection, sources)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::new(Class::Other, format!("cannot start the runtime: {e}")))?;
    runtime.block_on(execute(job, &target, printer, notes))
}

/// A command whose input is checked.
enum Job {
    Call {
        method: String,
        api: Option<ApiChoice>,
        params: Map<String, Value>,
    },
    FromMessage(b24_types::MessageId, Option<b24_types::TaskId>),
    List(ListArgs, TaskResultList),
    Add {
        task: b24_types::TaskId,
        text: String,
    },
    Update {
        id: ResultId,
        text: String,
    },
    Delete(ResultId),
    ChatSend {
        task: b24_types::TaskId,
        text: String,
    },
}

fn prepare(command: Command) -> Result<Job, Failure> {
    Ok(match command {
        Command::Call(args) => {
            let params = read_params(&args)?;
            // Checked now; the API may depend on the webhook URL's form, so the call is
            // made again in `execute`.
            raw_call(&args.method, Api::Classic, params.clone())?;
            Job::Call {
                method: args.method,
                api: args.api,
                params,
            }
        }
        Command::Results(ResultCommand::FromMessage { message_id, task }) => {
            Job::FromMessage(message_id, task)
        }
        Command::Results(ResultCommand::List(args)) => {
            let mut query = TaskResultList::for_task(args.task);
            let page_size = match (args.page_size, args.limit) {
                (Some(size), _) => Some(size),
                // A short list need not ask for more than it prints.
                (None, Some(limit)) => Some(
                    u32::try_from(limit)
                        .unwrap_or(u32::MAX)
                        .min(TaskResultList::DEFAULT_LIMIT),
                ),
                (None, None) => None,
            };
            if let Some(size) = page_size {
                query = query
                    .limit(size)
                    .map_err(|e| Failure::usage(format!("--page-size: {e}")))?;
            }
            if let Some(after) = args.after {
                query = query.after_id(after);
            }
            Job::List(args, query)
        }
        Command::Results(ResultCommand::Add { task, text }) => {
            TaskResultAdd::new(task, text.as_str())
                .map_err(|e| Failure::usage(format!("--text: {e}")))?;
            Job::Add { task, text }
        }
        Command::Results(ResultCommand::Update { result_id, text }) => {
            TaskResultUpdate::new(result_id, text.as_str())
                .map_err(|e| Failure::usage(format!("--text: {e}")))?;
            Job::Update {
                id: result_id,
                text,
            }
        }
        Command::Results(ResultCommand::Delete { result_id }) => Job::Delete(result_id),
        Command::Chat(ChatCommand::Send { task, text }) => Job::ChatSend { task, text },
    })
}

/// The parameters of `b24 call`: PARAMS_JSON, `--params-file FILE` or stdin.
fn read_params(args: &CallArgs) -> Result<Map<String, Value>, Failure> {
    let (text, source) = match (&args.params, &args.params_file) {
        (Some(text), _) => (text.clone(), "PARAMS_JSON".to_owned()),
        (None, Some(path)) if path.as_os_str() == "-" => {
            let mut text = String::new();
            std::io::stdin().read_to_string(&mut text).map_err(|e| {
                Failure::usage(format!("cannot read the parameters from stdin: {e}"))
            })?;
            (text, "the parameters on stdin".to_owned())
        }
        (None, Some(path)) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                Failure::usage(format!("cannot read --params-file {}: {e}", path.display()))
            })?;
            (text, format!("--params-file {}", path.display()))
        }
        (None, None) => return Ok(Map::new()),
    };
    if text.trim().is_empty() {
        return Ok(Map::new());
    }
    let value: Value = serde_json::from_str(&text).map_err(|e| {
        Failure::usage(format!("{source} is not valid JSON: {e}"))
            .hint(r#"pass one JSON object in single quotes, e.g. '{"id":51}'"#)
    })?;
    match value {
        Value::Object(map) => Ok(map),
        other => Err(Failure::usage(format!(
            "{source} must be a JSON object ({{\"name\": value, ...}}), not {}",
            kind(&other)
        ))
        .hint(r#"e.g. '{"id":51}'"#)),
    }
}

fn raw_call(method: &str, api: Api, params: Map<String, Value>) -> Result<RawCall, Failure> {
    Ok(RawCall::new(method, api)
        .map_err(|e| Failure::usage(format!("METHOD {method:?}: {e}")))?
        .with_params(params))
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The client and the portal.
struct Target {
    client: Client,
    portal: Portal,
    /// The webhook URL was given in its REST 3.0 form (`/rest/api/...`).
    v3_url: bool,
}

const NO_CREDENTIAL_HINT: &str = "set B24_WEBHOOK_URL or pass --webhook URL (the incoming-webhook \
    URL your portal shows, https://HOST/rest/USER_ID/SECRET/); or --access-token with --portal";

fn connect(conn: &Connection, sources: Sources) -> Result<Target, Failure> {
    let webhook = conn
        .webhook
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let token = conn
        .access_token
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let builder = Portal::builder().allow_plain_http_to_loopback(conn.allow_plain_http);
    let (portal, v3_url, token) = match (webhook, token) {
        (Some(url), _) => {
            let name = if sources.webhook_from_env {
                "B24_WEBHOOK_URL"
            } else {
                "--webhook"
            };
            let portal = builder.webhook(url).map_err(|e| {
                let plain_only = !conn.allow_plain_http
                    && Portal::builder()
                        .allow_plain_http_to_loopback(true)
                        .webhook(url)
                        .is_ok();
                if plain_only {
                    Failure::usage(format!("{name}: plain http:// is refused without --allow-plain-http"))
                        .hint("use https://, or pass --allow-plain-http for a local server on a loopback host")
                } else {
                    Failure::usage(format!("{name}: {e}"))
                        .hint("expected the URL the portal shows: https://HOST/rest/USER_ID/SECRET/")
                }
            })?;
            let v3 = url.to_ascii_lowercase().contains("/rest/api/");
            (portal, v3, None)
        }
        (None, Some(token)) => {
            let address = conn
                .portal
                .as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .ok_or_else(|| {
                    Failure::usage("--access-token needs the portal's address")
                        .hint("pass --portal https://example.bitrix24.com or set B24_PORTAL")
                })?;
            let portal = builder.oauth(address).map_err(|e| {
                Failure::usage(format!("--portal: {e}"))
                    .hint("expected the portal's address, e.g. https://example.bitrix24.com")
            })?;
            let v3 = address.to_ascii_lowercase().contains("/rest/api");
            (portal, v3, Some(token))
        }
        (None, None) => {
            return Err(Failure::usage(
                "no portal to call: B24_WEBHOOK_URL is not set and --webhook was not given",
            )
            .hint(NO_CREDENTIAL_HINT))
        }
    };

    let client = build_client(conn, sources)?;
    if let Some(token) = token {
        let tokens = TokenSet::new(AccessToken::new(token), RefreshToken::new(""));
        client.register_oauth_portal(&portal, Arc::new(MemoryTokenStore::new(tokens)));
    }
    Ok(Target {
        client,
        portal,
        v3_url,
    })
}

fn build_client(conn: &Connection, sources: Sources) -> Result<Client, Failure> {
    let limit = |d: std::time::Duration| d.min(conn.timeout);
    let mut builder = Client::builder()
        .user_agent(concat!("b24-cli/", env!("CARGO_PKG_VERSION")))
        .call_deadline(conn.timeout)
        .connect_timeout(limit(b24_hyper::DEFAULT_CONNECT_TIMEOUT))
        .attempt_timeout(limit(b24_hyper::DEFAULT_ATTEMPT_TIMEOUT))
        .retry_policy(RetryPolicy::default().max_attempts(conn.retries.saturating_add(1)))
        .allow_plain_http_to_loopback(conn.allow_plain_http);
    let ca_name = if sources.ca_cert_from_env {
        "B24_CA_CERT"
    } else {
        "--ca-cert"
    };
    if let Some(path) = &conn.ca_cert {
        builder = builder.add_root_certificate_pem(read_ca(path, ca_name)?);
    }
    builder.build().map_err(|e| match e {
        BuildError::InvalidPem { .. } | BuildError::RootCertificate(_) => Failure::usage(format!(
            "{ca_name} {}: {}",
            conn.ca_cert
                .as_deref()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            crate::failure::chain(&e)
        ))
        .hint("expected a PEM file with -----BEGIN CERTIFICATE----- blocks"),
        other => Failure::new(
            Class::Other,
            format!(
                "cannot set up the client: {}",
                crate::failure::chain(&other)
            ),
        ),
    })
}

fn read_ca(path: &Path, name: &str) -> Result<Vec<u8>, Failure> {
    let pem = std::fs::read(path)
        .map_err(|e| Failure::usage(format!("cannot read {name} {}: {e}", path.display())))?;
    if !String::from_utf8_lossy(&pem).contains("-----BEGIN CERTIFICATE-----") {
        return Err(
            Failure::usage(format!("{name} {}: no certificate in it", path.display()))
                .hint("expected a PEM file with -----BEGIN CERTIFICATE----- blocks"),
        );
    }
    Ok(pem)
}

/// The API of a raw call, and why it was chosen.
fn pick_api(choice: Option<ApiChoice>, method: &str, v3_url: bool) -> (Api, &'static str) {
    match choice {
        Some(ApiChoice::V3) => (Api::V3, "--api v3"),
        Some(ApiChoice::Classic) => (Api::Classic, "--api classic"),
        None if v3_url => (Api::V3, "the webhook URL is in its REST 3.0 form"),
        None if V3_METHODS.iter().any(|m| m.eq_ignore_ascii_case(method)) => {
            (Api::V3, "b24 calls this method over REST 3.0")
        }
        None => (Api::Classic, "the default for methods b24 does not type"),
    }
}

async fn execute(job: Job, target: &Target, printer: Printer, notes: Notes) -> Result<(), Failure> {
    let client = &target.client;
    let portal = &target.portal;
    let host = portal.host();
    let results = client.task_results(portal);
    let failed = |kind: CallKind| move |e: b24_hyper::Error| Failure::from_call(&e, &kind);
    match job {
        Job::Call {
            method,
            api,
            params,
        } => {
            let (api, reason) = pick_api(api, &method, target.v3_url);
            let raw = raw_call(&method, api, params)?;
            notes.verbose(&format!(
                "calling {method} on {host} at {}{method} ({reason})",
                api.prefix()
            ));
            let reply = client
                .call(portal, raw)
                .await
                .map_err(failed(CallKind::Raw))?;
            printer.value(&reply.result)
        }
        Job::FromMessage(message, task) => {
            notes.verbose(&format!(
                "calling {} on {host} (message {message})",
                TaskResultAddFromChatMessage::NAME
            ));
            let result = match task {
                Some(task) => results.add_from_chat_message_in_task(task, message).await,
                None => results.add_from_chat_message(message).await,
            }
            .map_err(failed(CallKind::AddResult(task.map(|t| t.get()))))?;
            printer.value(&to_json(&result)?)
        }
        Job::List(args, query) => list(&results, args, query, printer, notes).await,
        Job::Add { task, text } => {
            notes.verbose(&format!(
                "calling {} on {host} (task {task})",
                TaskResultAdd::NAME
            ));
            let result = results
                .add(task, &text)
                .await
                .map_err(failed(CallKind::AddResult(Some(task.get()))))?;
            printer.value(&to_json(&result)?)
        }
        Job::Update { id, text } => {
            notes.verbose(&format!(
                "calling {} on {host} (result {id})",
                TaskResultUpdate::NAME
            ));
            let result = results
                .update(id, &text)
                .await
                .map_err(failed(CallKind::ChangeResult(id.get())))?;
            printer.value(&to_json(&result)?)
        }
        Job::Delete(id) => {
            notes.verbose(&format!(
                "calling {} on {host} (result {id})",
                TaskResultDelete::NAME
            ));
            let deleted = results
                .delete(id)
                .await
                .map_err(failed(CallKind::ChangeResult(id.get())))?;
            printer.value(&Value::Bool(deleted))
        }
        Job::ChatSend { task, text } => {
            notes.verbose(&format!(
                "finding the chat of task {task} ({}) and posting to it (im.message.add) on {host}",
                TaskGet::NAME
            ));
            let message = client
                .post_to_task_chat(portal, task, &text)
                .await
                .map_err(failed(CallKind::PostMessage(task.get())))?;
            printer.value(&Value::from(message.get()))
        }
    }
}

fn to_json(result: &TaskResult) -> Result<Value, Failure> {
    serde_json::to_value(result)
        .map_err(|e| Failure::new(Class::Other, format!("cannot print the result: {e}")))
}

async fn list(
    results: &b24_hyper::TaskResults,
    args: ListArgs,
    query: TaskResultList,
    printer: Printer,
    notes: Notes,
) -> Result<(), Failure> {
    notes.verbose(&format!(
        "listing the results of task {} on {} ({} per page, keyset paging)",
        args.task,
        results.portal().host(),
        query.page_size()
    ));
    let mut stream = results.list(query);
    let mut progress = notes.progress(args.progress);
    let mut collected: Vec<Value> = Vec::new();
    let mut count: u64 = 0;
    let mut last: Option<ResultId> = args.after;
    while args.limit.is_none_or(|limit| count < limit) {
        let Some(item) = next(&mut stream).await else {
            break;
        };
        let item = match item {
            Ok(item) => item,
            Err(e) => {
                progress.abort();
                let mut failure = Failure::from_call(&e, &CallKind::Read);
                if let (Some(last), ListFormat::Jsonl) = (last, args.format) {
                    failure = failure.hint(format!(
                        "{count} results were printed; resume with --after {last}"
                    ));
                }
                return Err(failure);
            }
        };
        progress.update(count, stream.pages_fetched());
        count += 1;
        last = Some(item.id);
        let value = to_json(&item)?;
        match args.format {
            ListFormat::Jsonl => printer.line(&value)?,
            ListFormat::Json => collected.push(value),
        }
    }
    progress.finish(count, stream.pages_fetched());
    match args.format {
        ListFormat::Json => printer.value(&Value::Array(collected)),
        ListFormat::Jsonl => Ok(()),
    }
}

/// The next item of the stream (what `StreamExt::next` does).
async fn next(stream: &mut ResultStream) -> Option<Result<TaskResult, b24_hyper::Error>> {
    use futures_core::Stream;
    std::future::poll_fn(|cx| std::pin::Pin::new(&mut *stream).poll_next(cx)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_by_choice_url_and_name() {
        assert_eq!(
            pick_api(Some(ApiChoice::Classic), "tasks.task.get", true).0,
            Api::Classic
        );
        assert_eq!(
            pick_api(Some(ApiChoice::V3), "user.current", false).0,
            Api::V3
        );
        assert_eq!(pick_api(None, "user.current", true).0, Api::V3);
        assert_eq!(pick_api(None, "Tasks.Task.Result.List", false).0, Api::V3);
        assert_eq!(pick_api(None, "tasks.task.get", false).0, Api::V3);
        assert_eq!(pick_api(None, "im.message.add", false).0, Api::Classic);
        assert_eq!(pick_api(None, "batch", false).0, Api::Classic);
    }

    #[test]
    fn the_v3_names_are_the_typed_methods_apis() {
        use b24_core::Method as _;
        let task = b24_types::TaskId::new(51).ok();
        let result = b24_types::ResultId::new(17).ok();
        let message = b24_types::MessageId::new(335).ok();
        let (Some(task), Some(result), Some(message)) = (task, result, message) else {
            unreachable!("valid ids");
        };
        let apis = [
            TaskResultAdd::new(task, "x").map(|m| m.api()),
            Ok(TaskResultAddFromChatMessage::new(message).api()),
            TaskResultUpdate::new(result, "x").map(|m| m.api()),
            Ok(TaskResultDelete::new(result).api()),
            Ok(TaskResultList::for_task(task).api()),
            Ok(TaskGet::for_chat(task).api()),
        ];
        for api in apis {
            assert_eq!(api.ok(), Some(Api::V3));
        }
    }
}
