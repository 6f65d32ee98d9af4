//! `b24`: a command-line Bitrix24 REST client for scripts and operators, on the
//! b24-hyper client.
//!
//! ```text
//! b24 call <METHOD> [PARAMS_JSON]          any method by name; prints its `result`
//! b24 chat send --task <ID> <TEXT>         post to a task's chat; prints the message id
//! b24 result from-message <MESSAGE_ID>     make a chat message the task's result
//! b24 result list --task <ID>              every result of a task (keyset paging)
//! b24 result add --task <ID> --text <T>    add a result
//! b24 result update <RESULT_ID> --text <T> change a result's text
//! b24 result delete <RESULT_ID>            delete a result
//! ```
//!
//! JSON goes to stdout and nothing else does; notes, progress and errors go to stderr.
//! The exit code tells the class of a failure (`b24 --help` lists them; so does
//! `docs/cli.md`). The webhook URL and the access token are never printed.
#![forbid(unsafe_code)]
// The CLI speaks on stderr by design.
#![allow(clippy::print_stderr)]
// The doc comments of the arguments are also their `--help` text, which shows URLs
// as plain text.
#![allow(rustdoc::bare_urls)]

mod cli;
mod failure;
mod output;
mod redact;
mod run;

use std::ffi::OsString;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches};

use crate::cli::Cli;
use crate::failure::{Class, Failure};
use crate::redact::Redactor;
use crate::run::Sources;

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().collect();
    let redactor = Redactor::new(&args);
    let matches = match Cli::command().try_get_matches_from(&args) {
        Ok(matches) => matches,
        Err(e) => return usage_error(&e, &redactor),
    };
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => return usage_error(&e.format(&mut Cli::command()), &redactor),
    };
    let from_env = |id: &str| matches.value_source(id) == Some(ValueSource::EnvVariable);
    let sources = Sources {
        webhook_from_env: from_env("webhook"),
        ca_cert_from_env: from_env("ca_cert"),
    };
    match run::run(cli, sources) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => report(&failure, &redactor),
    }
}

/// Prints clap's message (help, version, or a usage error) and returns its exit code:
/// 0 for help and version, 2 for a usage error. A credential the user typed in the
/// wrong place is blanked out of the message.
fn usage_error(e: &clap::Error, redactor: &Redactor) -> ExitCode {
    use clap::error::ErrorKind;
    let code = u8::try_from(e.exit_code()).unwrap_or(Class::Usage.code());
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        let _ = e.print();
        return ExitCode::from(code);
    }
    let plain = e.to_string();
    let clean = redactor.redact(&plain);
    if clean == plain {
        let _ = e.print();
    } else {
        let _ = std::io::stderr().write_all(clean.as_bytes());
    }
    ExitCode::from(code)
}

/// Prints `error: ...` and the hints on stderr and returns the failure's exit code.
fn report(failure: &Failure, redactor: &Redactor) -> ExitCode {
    if failure.class == Class::PipeClosed {
        return failure.class.exit_code();
    }
    let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let (error, hint, reset) = if color {
        ("\x1b[1;31merror:\x1b[0m", "\x1b[1;33mhint:\x1b[0m", "")
    } else {
        ("error:", "hint:", "")
    };
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{error} {}{reset}", redactor.redact(&failure.message));
    for text in &failure.hints {
        let _ = writeln!(err, "{hint} {}", redactor.redact(text));
    }
    failure.class.exit_code()
}
