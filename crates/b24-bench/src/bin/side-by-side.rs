//! `side-by-side`: b24-hyper against bare clients, each in its own process against a
//! fixed-answer HTTPS server in another; prints the markdown report and, with
//! `--write PATH`, writes it (`docs/benchmarks-side-by-side.md`).
//!
//! ```text
//! cargo run --release -p b24-bench --bin side-by-side -- [--quick] [--rounds N]
//!     [--calls N] [--warmup N] [--no-pin] [--write PATH]
//! ```
//!
//! The same binary is the server (`__server`) and the clients (`__client`) that the
//! run starts; those modes are internal.
#![forbid(unsafe_code)]
#![allow(clippy::print_stdout)]

use std::process::ExitCode;

use b24_bench::side_by_side::{self, SideSettings};

const USAGE: &str = "usage: side-by-side [--quick] [--rounds N] [--calls N] [--warmup N] [--no-pin] [--write PATH]\n\
    --quick       one round of 50 warm-up + 2,000 measured calls per client (a smoke run)\n\
    --rounds N    rounds (default 5, 1 to 51)\n\
    --calls N     measured calls per client process (default 20,000)\n\
    --warmup N    warm-up calls per client process (default 200)\n\
    --no-pin      do not pin the server and the clients to cores with taskset\n\
    --write PATH  also write the markdown report to PATH";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("__server") => return finish(side_by_side::server_process(rest(&args))),
        Some("__client") => return finish(side_by_side::client_process(rest(&args))),
        _ => {}
    }

    let mut settings = SideSettings::full();
    let mut rounds = None;
    let mut calls = None;
    let mut warmup = None;
    let mut pin = true;
    let mut write = None;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--quick" => settings = SideSettings::quick(),
            "--rounds" => match it.next().and_then(|v| v.parse::<usize>().ok()) {
                Some(n) if (1..=51).contains(&n) => rounds = Some(n),
                _ => return usage_error("--rounds takes a number from 1 to 51"),
            },
            "--calls" => match it.next().and_then(|v| v.parse::<u64>().ok()) {
                Some(n) if n >= 1 => calls = Some(n),
                _ => return usage_error("--calls takes a number of at least 1"),
            },
            "--warmup" => match it.next().and_then(|v| v.parse::<u64>().ok()) {
                Some(n) => warmup = Some(n),
                None => return usage_error("--warmup takes a number"),
            },
            "--no-pin" => pin = false,
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
    if let Some(n) = rounds {
        settings = settings.with_rounds(n);
    }
    let (warmup, calls) = (
        warmup.unwrap_or(settings.warmup),
        calls.unwrap_or(settings.calls),
    );
    settings = settings.with_calls(warmup, calls).with_pinning(pin);
    if cfg!(debug_assertions) {
        eprintln!("side-by-side: built without optimisations; use --release for real figures");
    }
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => {
            eprintln!("side-by-side: cannot find this program's path: {e}");
            return ExitCode::FAILURE;
        }
    };

    let mut command = "cargo run --release -p b24-bench --bin side-by-side".to_owned();
    if !args.is_empty() {
        command.push_str(" -- ");
        command.push_str(&args.join(" "));
    }
    let report = match side_by_side::run(&settings, &exe, &command, &mut |step| {
        eprintln!("side-by-side: {step}");
    }) {
        Ok(report) => report,
        Err(e) => {
            eprintln!("side-by-side: {e}");
            return ExitCode::FAILURE;
        }
    };
    let markdown = report.to_markdown();
    println!("{markdown}");
    if let Some(path) = write {
        if let Err(e) = std::fs::write(&path, &markdown) {
            eprintln!("side-by-side: cannot write {path}: {e}");
            return ExitCode::FAILURE;
        }
        eprintln!("side-by-side: wrote {path}");
    }
    eprintln!(
        "side-by-side: done in {:.1} s",
        report.elapsed.as_secs_f64()
    );
    ExitCode::SUCCESS
}

fn rest(args: &[String]) -> &[String] {
    args.get(1..).unwrap_or(&[])
}

fn finish(result: Result<(), b24_bench::BenchError>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("side-by-side: {e}");
            ExitCode::FAILURE
        }
    }
}

fn usage_error(message: &str) -> ExitCode {
    eprintln!("side-by-side: {message}\n{USAGE}");
    ExitCode::FAILURE
}
