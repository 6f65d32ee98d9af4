//! Repository automation, run as `cargo xtask <task>`.
//!
//! - `ci`: what CI runs: format check, clippy with warnings denied, the test suite.
//! - `test`: the test suite alone (the README's test command runs the same).
//! - `bench`: the benchmarks, writing their ratios to `docs/benchmarks.md`.
#![forbid(unsafe_code)]
#![allow(clippy::print_stdout)]

use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let task = args.first().map(String::as_str).unwrap_or("help");
    let result = match task {
        "ci" => ci(),
        "test" => test(),
        "bench" => bench(),
        _ => {
            println!("usage: cargo xtask <ci|test|bench>");
            return if task == "help" {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            };
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(step) => {
            eprintln!("xtask: step failed: {step}");
            ExitCode::FAILURE
        }
    }
}

fn cargo(args: &[&str]) -> Result<(), String> {
    println!("$ cargo {}", args.join(" "));
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(args)
        .status()
        .map_err(|e| format!("cargo {}: {e}", args.join(" ")))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("cargo {}", args.join(" ")))
    }
}

/// The README's test command, then the adapter's tests with its `tracing` feature on
/// (they check that spans never record a secret or a URI).
fn test() -> Result<(), String> {
    cargo(&["test", "--workspace"])?;
    cargo(&["test", "-p", "b24-hyper", "--features", "tracing"])
}

fn ci() -> Result<(), String> {
    cargo(&["fmt", "--all", "--", "--check"])?;
    cargo(&[
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ])?;
    cargo(&[
        "clippy",
        "-p",
        "b24-hyper",
        "--all-targets",
        "--features",
        "tracing",
        "--",
        "-D",
        "warnings",
    ])?;
    test()?;
    check_core_deps()
}

/// b24-types and b24-core must never pull in tokio, hyper or rustls.
fn check_core_deps() -> Result<(), String> {
    for krate in ["b24-types", "b24-core"] {
        let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args(["tree", "-p", krate, "-e", "normal", "--prefix", "none"])
            .output()
            .map_err(|e| format!("cargo tree: {e}"))?;
        let tree = String::from_utf8_lossy(&out.stdout);
        for banned in [
            "tokio ",
            "hyper ",
            "rustls ",
            "hyper-util ",
            "hyper-rustls ",
        ] {
            if tree.lines().any(|l| l.starts_with(banned)) {
                return Err(format!("{krate} depends on {}", banned.trim()));
            }
        }
        println!("{krate}: no tokio, hyper or rustls in its dependency tree");
    }
    Ok(())
}

/// Runs the benchmarks from the workspace root, so `docs/benchmarks.md` is found
/// whatever directory `cargo xtask bench` was started in.
fn bench() -> Result<(), String> {
    let args = [
        "run",
        "--release",
        "-p",
        "b24-bench",
        "--",
        "--write",
        "docs/benchmarks.md",
    ];
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .ok_or("the workspace root is not known")?;
    println!("$ cargo {}", args.join(" "));
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(args)
        .current_dir(root)
        .status()
        .map_err(|e| format!("cargo {}: {e}", args.join(" ")))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("cargo {}", args.join(" ")))
    }
}
