//! `cargo xtask fuzz`: builds and runs the cargo-fuzz targets in `fuzz/`.
//!
//! ```text
//! cargo xtask fuzz [--time S] [--runs N] [--target NAME] [--sanitizer none|address] [--smoke]
//! ```
//!
//! - Installs `cargo-fuzz` (`cargo install cargo-fuzz --locked`) when
//!   `cargo fuzz --version` fails, and sets `RUSTC_BOOTSTRAP=1`: libFuzzer's
//!   instrumentation flags need nightly features, and the toolchain is stable.
//! - Builds every target (or the one named) once, then runs each for `S` seconds
//!   (60 by default) or `N` executions, whichever comes first.
//! - Each run reads the committed seed corpus `fuzz/corpus/<target>/` but writes
//!   what it finds to `fuzz/target/corpus/<target>/` (ignored by git), so fuzzing
//!   never changes the repository. Crash inputs go to `fuzz/artifacts/<target>/`
//!   (also ignored) and the full libFuzzer log to `fuzz/target/logs/<target>.log`.
//!   The targets are built once, then each binary is run directly (`cargo fuzz run`
//!   would build again before every target).
//! - Prints, per target, the executions, seconds, executions per second, corpus
//!   size and crashes, and fails when any target crashed.
//!
//! Sanitizer: `none` by default. Every crate of the workspace is
//! `#![forbid(unsafe_code)]`, so AddressSanitizer would only watch the standard
//! library and the dependencies' unsafe code, at two to three times the cost per
//! execution; panics (the bugs safe code can have: failed assertions, overflow,
//! out-of-bounds indexing, `unwrap`) are caught either way. `--sanitizer address`
//! is there for a run that also wants memory errors in dependencies checked.
//! Either way the targets are built with debug assertions, so arithmetic overflow
//! is a crash.
//!
//! `--smoke` is the CI mode: an unoptimised build (much faster to compile from
//! clean; speed per execution does not matter for a short run), then every target
//! for at most 5,000 executions or 10 seconds.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// Every fuzz target, in the order they run.
const TARGETS: [&str; 7] = [
    "parse_response",
    "batch_answers",
    "token_answer",
    "portal_url",
    "dto_roundtrip",
    "events_form",
    "emulator_request",
];

/// The options of one invocation.
#[derive(Debug)]
struct Options {
    seconds: u64,
    runs: Option<u64>,
    targets: Vec<&'static str>,
    sanitizer: &'static str,
    smoke: bool,
}

/// What one target's run did.
#[derive(Debug)]
struct Figures {
    target: &'static str,
    executions: u64,
    seconds: f64,
    corpus: String,
    crashed: bool,
}

fn usage() -> String {
    "usage: cargo xtask fuzz [--time S] [--runs N] [--target NAME] \
     [--sanitizer none|address] [--smoke]"
        .to_owned()
}

fn parse_args(args: &[String]) -> Result<Options, String> {
    let mut options = Options {
        seconds: 60,
        runs: None,
        targets: TARGETS.to_vec(),
        sanitizer: "none",
        smoke: false,
    };
    let mut time_given = false;
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        let mut value = |name: &str| {
            iter.next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value; {}", usage()))
        };
        match arg.as_str() {
            "--time" => {
                let v = value("--time")?;
                options.seconds = v.parse().map_err(|_| format!("--time {v}: not seconds"))?;
                time_given = true;
            }
            "--runs" => {
                let v = value("--runs")?;
                options.runs = Some(v.parse().map_err(|_| format!("--runs {v}: not a count"))?);
            }
            "--target" => {
                let v = value("--target")?;
                let target = TARGETS.iter().find(|t| **t == v).ok_or_else(|| {
                    format!("no fuzz target {v}; targets: {}", TARGETS.join(", "))
                })?;
                options.targets = vec![*target];
            }
            "--sanitizer" => {
                options.sanitizer = match value("--sanitizer")?.as_str() {
                    "none" => "none",
                    "address" => "address",
                    other => return Err(format!("--sanitizer {other}: none or address")),
                };
            }
            "--smoke" => options.smoke = true,
            other => return Err(format!("unknown argument {other}; {}", usage())),
        }
    }
    if options.smoke {
        if !time_given {
            options.seconds = 10;
        }
        options.runs = Some(options.runs.unwrap_or(5_000));
    } else if options.runs.is_some() && !time_given {
        // A run count alone is the bound; the time is only a backstop.
        options.seconds = 24 * 3600;
    }
    Ok(options)
}

fn cargo_program() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

/// The workspace root (xtask lives one level below it).
fn root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest
        .parent()
        .map_or(manifest.clone(), Path::to_path_buf)
}

/// `cargo fuzz` with the environment it needs on a stable toolchain.
fn cargo_fuzz() -> Command {
    let mut command = Command::new(cargo_program());
    command
        .arg("fuzz")
        .env("RUSTC_BOOTSTRAP", "1")
        .current_dir(root());
    command
}

/// The host's target triple (`cargo fuzz build` builds for it by default).
fn host_triple() -> Result<String, String> {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let output = Command::new(&rustc)
        .arg("-vV")
        .output()
        .map_err(|e| format!("{rustc} -vV: {e}"))?;
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .find_map(|line| line.strip_prefix("host: "))
        .map(|host| host.trim().to_owned())
        .ok_or_else(|| format!("{rustc} -vV names no host"))
}

/// Installs cargo-fuzz when `cargo fuzz --version` fails.
fn ensure_cargo_fuzz() -> Result<(), String> {
    let present = cargo_fuzz()
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if present {
        return Ok(());
    }
    println!("$ cargo install cargo-fuzz --locked");
    let status = Command::new(cargo_program())
        .args(["install", "cargo-fuzz", "--locked"])
        .status()
        .map_err(|e| format!("cargo install cargo-fuzz: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err("cargo install cargo-fuzz --locked".into())
    }
}

/// The flags of `cargo fuzz build` (the same ones reproduce a crash with
/// `cargo fuzz run`).
fn build_flags(options: &Options) -> Vec<String> {
    let mut flags = vec![
        "--fuzz-dir".to_owned(),
        "fuzz".to_owned(),
        "--sanitizer".to_owned(),
        options.sanitizer.to_owned(),
        "--debug-assertions".to_owned(),
    ];
    flags.push(if options.smoke { "--dev" } else { "--release" }.to_owned());
    flags
}

fn build(options: &Options) -> Result<(), String> {
    let flags = build_flags(options);
    let mut command = cargo_fuzz();
    command.arg("build").args(&flags);
    if let [one] = options.targets.as_slice() {
        command.arg(one);
    }
    println!("$ RUSTC_BOOTSTRAP=1 cargo fuzz build {}", flags.join(" "));
    let status = command
        .status()
        .map_err(|e| format!("cargo fuzz build: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err("cargo fuzz build".into())
    }
}

/// Runs one target and reads its figures from libFuzzer's log.
fn run_target(target: &'static str, options: &Options) -> Result<Figures, String> {
    let root = root();
    let scratch = root.join("fuzz/target/corpus").join(target);
    let seeds = root.join("fuzz/corpus").join(target);
    let logs = root.join("fuzz/target/logs");
    for dir in [&scratch, &seeds, &logs] {
        fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let log_path = logs.join(format!("{target}.log"));
    let log = File::create(&log_path).map_err(|e| format!("{}: {e}", log_path.display()))?;
    let log_err = log
        .try_clone()
        .map_err(|e| format!("{}: {e}", log_path.display()))?;

    let mut libfuzzer = vec![
        format!("-max_total_time={}", options.seconds),
        "-print_final_stats=1".to_owned(),
    ];
    if let Some(runs) = options.runs {
        libfuzzer.push(format!("-runs={runs}"));
    }
    let artifacts = root.join("fuzz/artifacts").join(target);
    fs::create_dir_all(&artifacts).map_err(|e| format!("{}: {e}", artifacts.display()))?;
    libfuzzer.push(format!("-artifact_prefix={}/", artifacts.display()));
    // The binary `cargo fuzz build` made, run directly: `cargo fuzz run` would build
    // again before each target.
    let binary = root
        .join("fuzz/target")
        .join(host_triple()?)
        .join(if options.smoke { "debug" } else { "release" })
        .join(target);
    println!(
        "$ {} fuzz/target/corpus/{target} fuzz/corpus/{target} {}",
        binary.strip_prefix(&root).unwrap_or(&binary).display(),
        libfuzzer.join(" ")
    );
    let started = Instant::now();
    let status = Command::new(&binary)
        .current_dir(&root)
        .arg(&scratch)
        .arg(&seeds)
        .args(&libfuzzer)
        .stdout(Stdio::from(log))
        .stderr(Stdio::from(log_err))
        .status()
        .map_err(|e| format!("{}: {e}", binary.display()))?;
    let wall = started.elapsed().as_secs_f64();
    let text = fs::read_to_string(&log_path).unwrap_or_default();
    let figures = read_figures(target, &text, wall, !status.success());
    if figures.crashed {
        println!("--- {target}: last lines of {}", log_path.display());
        let lines: Vec<&str> = text.lines().collect();
        for line in lines.iter().skip(lines.len().saturating_sub(40)) {
            println!("{line}");
        }
    }
    Ok(figures)
}

/// Reads the executions, the corpus size and crashes from a libFuzzer log (the
/// seconds are the run's wall time, start-up and corpus loading included): the
/// final `Done N runs in S second(s)` line (or the `stat::number_of_executed_units`
/// line a crash still prints), the last status line's `corp: A/B`, and any
/// `Test unit written to ...crash-` or `deadly signal`.
fn read_figures(target: &'static str, log: &str, wall: f64, failed: bool) -> Figures {
    let mut executions = 0u64;
    let mut corpus = String::from("?");
    let mut crashed = failed;
    for line in log.lines() {
        if let Some(rest) = line.strip_prefix("Done ") {
            if let Some(n) = rest.split_whitespace().next().and_then(|w| w.parse().ok()) {
                executions = n;
            }
        } else if let Some(rest) = line.strip_prefix("stat::number_of_executed_units:") {
            if executions == 0 {
                executions = rest.trim().parse().unwrap_or(0);
            }
        }
        if let Some(at) = line.find("corp: ") {
            if let Some(size) = line.get(at + 6..).and_then(|s| s.split_whitespace().next()) {
                corpus = size.to_owned();
            }
        }
        if line.contains("Test unit written to") && line.contains("crash-")
            || line.contains("deadly signal")
            || line.contains("ERROR: libFuzzer")
        {
            crashed = true;
        }
    }
    Figures {
        target,
        executions,
        seconds: wall,
        corpus,
        crashed,
    }
}

fn print_table(all: &[Figures]) {
    println!();
    println!(
        "{:<18} {:>12} {:>9} {:>10} {:>14} {:>8}",
        "target", "executions", "seconds", "execs/s", "corpus", "crashes"
    );
    for f in all {
        #[allow(clippy::cast_precision_loss)]
        let rate = f.executions as f64 / f.seconds.max(0.001);
        println!(
            "{:<18} {:>12} {:>9.1} {:>10.0} {:>14} {:>8}",
            f.target,
            f.executions,
            f.seconds,
            rate,
            f.corpus,
            u8::from(f.crashed)
        );
    }
}

/// `cargo xtask fuzz ...`.
pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let options = parse_args(args)?;
    ensure_cargo_fuzz()?;
    let started = Instant::now();
    build(&options)?;
    let mut all = Vec::new();
    for target in &options.targets {
        all.push(run_target(target, &options)?);
    }
    print_table(&all);
    println!(
        "fuzz: {} target(s) in {:.0} s (build included)",
        all.len(),
        started.elapsed().as_secs_f64()
    );
    let crashed: Vec<&str> = all.iter().filter(|f| f.crashed).map(|f| f.target).collect();
    if crashed.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "fuzz: crashes in {} (inputs under fuzz/artifacts/, logs under fuzz/target/logs/)",
            crashed.join(", ")
        ))
    }
}

/// The CI smoke run: every target, briefly (see the module docs).
pub(crate) fn smoke() -> Result<(), String> {
    run(&["--smoke".to_owned()])
}
