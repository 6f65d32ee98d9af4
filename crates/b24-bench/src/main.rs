//! `b24-bench`: runs the benchmarks, prints the markdown report and, with
//! `--write PATH`, writes it there (`cargo xtask bench` writes `docs/benchmarks.md`).
//!
//! ```text
//! cargo run --release -p b24-bench -- [--rounds N] [--write PATH]
//! ```
#![forbid(unsafe_code)]
#![allow(clippy::print_stdout)]

use std::process::ExitCode;

use b24_bench::Settings;

const USAGE: &str = "usage: b24-bench [--rounds N] [--write PATH]\n\
    --rounds N    alternating rounds per comparison (default 15, 1 to 101)\n\
    --write PATH  also write the markdown report to PATH";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut settings = Settings::full();
    let mut write = None;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--rounds" => match it.next().and_then(|v| v.parse::<usize>().ok()) {
                Some(n) if (1..=101).contains(&n) => settings = settings.with_rounds(n),
                _ => return usage_error("--rounds takes a number from 1 to 101"),
            },
            "--write" => match it.next() {
                Some(path) => write = Some(path.clone()),
                None => return usage_error("--write takes a path"),
            },
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            other => return usage_error(&format!("unknown argument {other:?}")),
        }
    }
    if cfg!(debug_assertions) {
        eprintln!("b24-bench: built without optimisations; use --release for real figures");
    }

    let mut command = "cargo run --release -p b24-bench".to_owned();
    if !args.is_empty() {
        command.push_str(" -- ");
        command.push_str(&args.join(" "));
    }
    let report = match b24_bench::run(&settings, &command, &mut |step| {
        eprintln!("b24-bench: {step}");
    }) {
        Ok(report) => report,
        Err(e) => {
            eprintln!("b24-bench: {e}");
            return ExitCode::FAILURE;
        }
    };
    let markdown = report.to_markdown();
    println!("{markdown}");
    if let Some(path) = write {
        if let Err(e) = std::fs::write(&path, &markdown) {
            eprintln!("b24-bench: cannot write {path}: {e}");
            return ExitCode::FAILURE;
        }
        eprintln!("b24-bench: wrote {path}");
    }
    ExitCode::SUCCESS
}

fn usage_error(message: &str) -> ExitCode {
    eprintln!("b24-bench: {message}\n{USAGE}");
    ExitCode::FAILURE
}
