//! The command line: every argument, its help text and its parsing.
//!
//! Values are checked here, before any request is built: ids must be positive whole
//! numbers, texts must not be empty, durations must be positive. Clap turns a failed
//! check into a usage error (exit code 2) that names the argument.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use b24_types::{MessageId, ResultId, TaskId};
use clap::builder::NonEmptyStringValueParser;
use clap::{Args, Parser, Subcommand, ValueEnum};

/// Shown under `b24 --help`: exit codes, environment, and the emulator.
const AFTER_LONG_HELP: &str = "\
Stdout and stderr:
  The result is JSON on stdout: pretty when stdout is a terminal, compact otherwise
  (--pretty / --compact force one). Messages, progress and errors go to stderr; an
  error is one line `error: <what happened>`, often followed by a `hint:` line.

Exit codes:
  0  success
  1  other failure (an answer b24 could not read, a local I/O error)
  2  bad input or usage, found before any request was sent (bad id, invalid JSON,
     malformed or missing webhook URL, unreadable --ca-cert)
  3  the portal answered with an API error (the code is printed, e.g. ACCESS_DENIED)
  4  a rate or operating-time limit of the portal is exhausted; try again later
  5  transport failure: could not connect, TLS handshake failed, timed out
  6  a write may or may not have been applied: check before repeating it
  7  authentication failed: wrong, revoked or expired webhook or access token

Environment:
  B24_WEBHOOK_URL   incoming-webhook URL, like --webhook (its secret is never printed)
  B24_ACCESS_TOKEN  OAuth access token, like --access-token (never printed)
  B24_PORTAL        OAuth portal address, like --portal
  B24_CA_CERT       extra trusted CA certificate (PEM file), like --ca-cert

Against the offline emulator:
  cargo run -p b24-emulator -- --port 18443
  # it prints its webhook URLs and where it wrote its CA certificate, then:
  export B24_WEBHOOK_URL='https://localhost:18443/rest/1/<secret>/'
  export B24_CA_CERT=/tmp/b24-emulator-ca.pem
  b24 chat send --task 51 'Work finished'

Examples:
  b24 call user.current
  b24 call tasks.task.get '{\"id\":51,\"select\":[\"id\",\"title\"]}'
  echo '{\"DIALOG_ID\":\"chat58\",\"MESSAGE\":\"hi\"}' | b24 call im.message.add --params-file -
  MSG=$(b24 chat send --task 51 'Report attached')
  b24 result from-message \"$MSG\"
  b24 result list --task 51 --format jsonl";

/// `b24`: a Bitrix24 REST client for scripts and operators.
#[derive(Parser)]
#[command(
    name = "b24",
    version,
    about = "A Bitrix24 REST client for scripts and operators: JSON out, exit codes by error class.",
    long_about = "A Bitrix24 REST client for scripts and operators.\n\n\
        Calls any REST method (REST 3.0 at /rest/api/ or classic /rest/) and the task-result \
        family, within the portal's request-rate and operating-time limits, repeating a call \
        only when that is safe. Authenticates with an incoming-webhook URL (--webhook or \
        B24_WEBHOOK_URL) or an OAuth access token (--access-token with --portal).",
    after_help = "See `b24 --help` for exit codes, environment variables and examples.",
    after_long_help = AFTER_LONG_HELP,
    propagate_version = true,
    arg_required_else_help = true
)]
pub(crate) struct Cli {
    /// Where and how to connect.
    #[command(flatten)]
    pub connection: Connection,
    /// How to print.
    #[command(flatten)]
    pub output: OutputArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The portal, the credential and the transport settings.
#[derive(Args)]
#[command(next_help_heading = "Connection")]
pub(crate) struct Connection {
    /// Incoming-webhook URL as the portal shows it: https://HOST/rest/USER/SECRET/.
    /// Never printed. Its REST 3.0 form (/rest/api/USER/SECRET/) makes `call` default to
    /// REST 3.0.
    #[arg(
        long,
        global = true,
        env = "B24_WEBHOOK_URL",
        hide_env_values = true,
        value_name = "URL"
    )]
    pub webhook: Option<String>,

    /// OAuth access token (with --portal), used when no webhook is given. Never
    /// printed. It is not refreshed: when it expires, the command fails with exit code 7.
    #[arg(
        long,
        global = true,
        env = "B24_ACCESS_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub access_token: Option<String>,

    /// OAuth portal address (https://example.bitrix24.com), for --access-token.
    #[arg(long, global = true, env = "B24_PORTAL", value_name = "URL")]
    pub portal: Option<String>,

    /// Also trust the CA certificate(s) in this PEM file (the emulator's CA, a private CA).
    #[arg(long, global = true, env = "B24_CA_CERT", value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,

    /// Allow plain http:// to a loopback host (localhost, 127.0.0.1, ::1) for a local
    /// test server. Plain http to any other host is always refused.
    #[arg(long, global = true)]
    pub allow_plain_http: bool,

    /// Time allowed for the whole call in seconds, waits and repeats included.
    #[arg(long, global = true, value_name = "SECONDS", value_parser = parse_seconds, default_value = "300")]
    pub timeout: Duration,

    /// How often a failed call may be repeated when repeating is safe.
    #[arg(long, global = true, value_name = "N", default_value_t = 3,
          value_parser = clap::value_parser!(u32).range(0..=20))]
    pub retries: u32,
}

impl fmt::Debug for Connection {
    /// Never shows the webhook URL or the access token, only whether they are set.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let set = |v: &Option<String>| if v.is_some() { "[redacted]" } else { "None" };
        f.debug_struct("Connection")
            .field("webhook", &set(&self.webhook))
            .field("access_token", &set(&self.access_token))
            .field("portal", &self.portal)
            .field("ca_cert", &self.ca_cert)
            .field("allow_plain_http", &self.allow_plain_http)
            .field("timeout", &self.timeout)
            .field("retries", &self.retries)
            .finish()
    }
}

/// Output switches.
#[derive(Debug, Args)]
#[command(next_help_heading = "Output")]
pub(crate) struct OutputArgs {
    /// Print compact JSON, even to a terminal.
    #[arg(long, global = true, conflicts_with = "pretty")]
    pub compact: bool,

    /// Print indented JSON, even into a pipe.
    #[arg(long, global = true)]
    pub pretty: bool,

    /// No progress or notes on stderr (errors are still printed).
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Say on stderr what is called (method, API, host; never the URL).
    #[arg(short, long, global = true)]
    pub verbose: bool,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Call any REST method by name with JSON parameters; prints its `result`.
    #[command(after_long_help = CALL_HELP)]
    Call(CallArgs),
    /// Task results (tasks.task.result.*, REST 3.0).
    #[command(name = "result", subcommand)]
    Results(ResultCommand),
    /// Task chats.
    #[command(subcommand)]
    Chat(ChatCommand),
}

const CALL_HELP: &str = "\
Which API:
  --api v3       REST 3.0, https://HOST/rest/api/METHOD, JSON body, Idempotency-Key on writes
  --api classic  the classic API, https://HOST/rest/METHOD
  Without --api: REST 3.0 when the webhook URL is in its REST 3.0 form (/rest/api/...) or
  the method is one b24 itself calls over REST 3.0 (tasks.task.result.*, tasks.task.get,
  tasks.task.chat.message.send); classic otherwise.

Examples:
  b24 call user.current
  b24 call tasks.task.result.list '{\"filter\":[[\"taskId\",\"=\",51]]}'
  b24 call im.message.add --params-file message.json
  echo '{\"id\":51}' | b24 call tasks.task.get --api v3 --params-file -";

/// `b24 call`.
#[derive(Debug, Args)]
pub(crate) struct CallArgs {
    /// The method name, e.g. `user.current`, `tasks.task.get`, `im.message.add`.
    #[arg(value_name = "METHOD")]
    pub method: String,

    /// Parameters as one JSON object, e.g. '{"id":51}'. Default: none.
    #[arg(value_name = "PARAMS_JSON", conflicts_with = "params_file")]
    pub params: Option<String>,

    /// Read the parameters (a JSON object) from this file; `-` reads stdin.
    #[arg(long, value_name = "FILE")]
    pub params_file: Option<PathBuf>,

    /// Which API to call (default: see below).
    #[arg(long, value_enum, value_name = "API")]
    pub api: Option<ApiChoice>,
}

/// `--api`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ApiChoice {
    /// REST 3.0 (`/rest/api/`).
    V3,
    /// The classic API (`/rest/`).
    Classic,
}

/// `b24 result ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum ResultCommand {
    /// Make a task-chat message the task's result (tasks.task.result.addfromchatmessage);
    /// prints the new result.
    #[command(after_help = "Examples:\n  b24 result from-message 335\n  \
        b24 result from-message 335 --task 51   # settles an unknown outcome itself")]
    FromMessage {
        /// The chat message's id (`b24 chat send` prints one).
        #[arg(value_name = "MESSAGE_ID", value_parser = parse_message_id)]
        message_id: MessageId,
        /// The task whose chat holds the message. With it, a call whose outcome is
        /// unknown (it may have run, and the portal has not shown that it honours
        /// idempotency keys) is settled by reading the task's results instead of
        /// exiting 6: a result made from the message is printed; none, once the call
        /// has surely finished, means it did not run, and it is sent again.
        #[arg(long, value_name = "ID", value_parser = parse_task_id)]
        task: Option<TaskId>,
    },
    /// Every result of a task, by keyset paging (tasks.task.result.list).
    #[command(after_help = "Examples:\n  b24 result list --task 51\n  \
        b24 result list --task 51 --format jsonl --limit 100\n  \
        b24 result list --task 51 --after 120   # resume after result 120")]
    List(ListArgs),
    /// Add a result with a text to a task (tasks.task.result.add); prints it.
    #[command(after_help = "Example:\n  b24 result add --task 51 --text 'Report attached'")]
    Add {
        /// The task's id.
        #[arg(long, value_name = "ID", value_parser = parse_task_id)]
        task: TaskId,
        /// The result's text.
        #[arg(long, value_name = "TEXT", value_parser = NonEmptyStringValueParser::new())]
        text: String,
    },
    /// Replace a result's text (tasks.task.result.update; only its author may); prints it.
    #[command(after_help = "Example:\n  b24 result update 17 --text 'Approved'")]
    Update {
        /// The result's id.
        #[arg(value_name = "RESULT_ID", value_parser = parse_result_id)]
        result_id: ResultId,
        /// The new text.
        #[arg(long, value_name = "TEXT", value_parser = NonEmptyStringValueParser::new())]
        text: String,
    },
    /// Delete a result (tasks.task.result.delete; only its author may); prints `true`.
    #[command(after_help = "Example:\n  b24 result delete 17")]
    Delete {
        /// The result's id.
        #[arg(value_name = "RESULT_ID", value_parser = parse_result_id)]
        result_id: ResultId,
    },
}

/// `b24 result list`.
#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    /// The task's id.
    #[arg(long, value_name = "ID", value_parser = parse_task_id)]
    pub task: TaskId,

    /// Print at most N results (default: all).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub limit: Option<u64>,

    /// Results asked for per request, 1 to 1000 (default 50; the portal may send fewer).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub page_size: Option<u32>,

    /// Start after this result id (to resume an interrupted list).
    #[arg(long, value_name = "RESULT_ID", value_parser = parse_result_id)]
    pub after: Option<ResultId>,

    /// `json`: one JSON array; `jsonl`: one result per line, printed as it arrives.
    #[arg(long, value_enum, default_value_t = ListFormat::Json)]
    pub format: ListFormat,

    /// Report progress on stderr even when it is not a terminal.
    #[arg(long)]
    pub progress: bool,
}

/// `--format` of `b24 result list`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ListFormat {
    /// One JSON array.
    Json,
    /// One JSON object per line.
    Jsonl,
}

/// `b24 chat ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum ChatCommand {
    /// Post a message to a task's chat; prints the new message's id.
    #[command(
        after_help = "Example:\n  MSG=$(b24 chat send --task 51 'Report attached')\n  \
        b24 result from-message \"$MSG\""
    )]
    Send {
        /// The task's id.
        #[arg(long, value_name = "ID", value_parser = parse_task_id)]
        task: TaskId,
        /// The message text.
        #[arg(value_name = "TEXT", value_parser = NonEmptyStringValueParser::new())]
        text: String,
    },
}

fn parse_id<T>(s: &str) -> Result<T, String>
where
    T: std::str::FromStr<Err = b24_types::IdError>,
{
    s.parse::<T>().map_err(|e| {
        match e {
            b24_types::IdError::Zero { .. } => "ids start at 1; 0 is not an id",
            b24_types::IdError::Negative { .. } => "an id cannot be negative",
            b24_types::IdError::NotANumber { .. } => "expected a positive whole number",
            _ => "not a valid id",
        }
        .to_owned()
    })
}

fn parse_task_id(s: &str) -> Result<TaskId, String> {
    parse_id(s)
}

fn parse_result_id(s: &str) -> Result<ResultId, String> {
    parse_id(s)
}

fn parse_message_id(s: &str) -> Result<MessageId, String> {
    parse_id(s)
}

/// A positive number of seconds, fractions allowed, at most a year.
fn parse_seconds(s: &str) -> Result<Duration, String> {
    let secs: f64 = s
        .trim()
        .parse()
        .map_err(|_| "expected a number of seconds, e.g. 30 or 2.5".to_owned())?;
    if !secs.is_finite() || secs <= 0.0 || secs > 365.0 * 24.0 * 3600.0 {
        return Err("must be more than 0 and at most a year".to_owned());
    }
    Ok(Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn ids_are_checked() {
        assert!(parse_task_id("51").is_ok());
        assert!(parse_task_id(" 51 ").is_ok());
        assert!(parse_task_id("0").is_err());
        assert!(parse_task_id("-3").is_err());
        assert!(parse_task_id("abc").is_err());
        assert!(parse_task_id("99999999999999999999999").is_err());
    }

    #[test]
    fn seconds_are_checked() {
        assert_eq!(parse_seconds("2.5"), Ok(Duration::from_millis(2500)));
        assert!(parse_seconds("0").is_err());
        assert!(parse_seconds("-1").is_err());
        assert!(parse_seconds("NaN").is_err());
        assert!(parse_seconds("inf").is_err());
        assert!(parse_seconds("soon").is_err());
    }

    #[test]
    fn debug_never_shows_credentials() {
        let cli = Cli::try_parse_from([
            "b24",
            "--webhook",
            "https://example.bitrix24.com/rest/1/s3cr3tc0de/",
            "--access-token",
            "t0k3nt0k3n",
            "result",
            "delete",
            "17",
        ]);
        let cli = match cli {
            Ok(cli) => cli,
            Err(e) => unreachable!("parse failed: {e}"),
        };
        let shown = format!("{:?}", cli.connection);
        assert!(!shown.contains("s3cr3tc0de"), "{shown}");
        assert!(!shown.contains("t0k3nt0k3n"), "{shown}");
    }
}
