//! Repository automation, run as `cargo xtask <task>`.
//!
//! - `ci`: what CI runs: format check, clippy with warnings denied, the API docs with
//!   warnings denied, the test suite, the dependency rules.
//! - `test`: the test suite alone (the README's test command runs the same).
//! - `bench`: the benchmarks, writing their ratios to `docs/benchmarks.md`.
//! - `deps`: the dependency rules alone (also the last step of `ci`): b24-types and
//!   b24-core stay off tokio, hyper and rustls; b24-emulator stays off b24-core and
//!   b24-hyper.
//! - `reliability`: the large reliability run (`xtask/src/reliability.rs`).
//! - `fuzz`: builds and runs the cargo-fuzz targets in `fuzz/` (`xtask/src/fuzz.rs`);
//!   `ci` runs its `--smoke` mode after the tests.
#![forbid(unsafe_code)]
#![allow(clippy::print_stdout)]

use std::process::{Command, ExitCode};

mod fuzz;
mod reliability;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let task = args.first().map(String::as_str).unwrap_or("help");
    let result = match task {
        "ci" => ci(),
        "test" => test(),
        "bench" => bench(),
        "deps" => check_core_deps(),
        "reliability" => reliability::run(args.get(1..).unwrap_or(&[])),
        "fuzz" => fuzz::run(args.get(1..).unwrap_or(&[])),
        _ => {
            println!("usage: cargo xtask <ci|test|bench|deps|fuzz|reliability>");
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

/// The API docs build without a warning (broken intra-doc links, missing docs).
fn docs() -> Result<(), String> {
    println!("$ RUSTDOCFLAGS=\"-D warnings\" cargo doc --workspace --no-deps");
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["doc", "--workspace", "--no-deps"])
        .env("RUSTDOCFLAGS", "-D warnings")
        .status()
        .map_err(|e| format!("cargo doc: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err("cargo doc --workspace --no-deps".into())
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
    docs()?;
    test()?;
    fuzz::smoke()?;
    check_core_deps()
}

/// The layering rules: which crates a crate's normal dependency tree may never hold
/// (any feature, any target).
const DEP_RULES: &[(&str, &[&str])] = &[
    (
        "b24-types",
        &[
            "tokio",
            "hyper",
            "rustls",
            "hyper-util",
            "hyper-rustls",
            "b24-core",
            "b24-hyper",
        ],
    ),
    (
        "b24-core",
        &[
            "tokio",
            "hyper",
            "rustls",
            "hyper-util",
            "hyper-rustls",
            "b24-hyper",
            "redis",
            "fred",
        ],
    ),
    // The emulator stands beside the client on b24-types alone, so that it cannot
    // share the client's bugs.
    ("b24-emulator", &["b24-core", "b24-hyper"]),
];

/// b24-types and b24-core never pull in tokio, hyper or rustls; b24-emulator never
/// pulls in b24-core or b24-hyper. A `cargo tree` that fails or prints no tree for
/// the crate fails the check rather than passing it.
fn check_core_deps() -> Result<(), String> {
    for (krate, banned) in DEP_RULES {
        let args = [
            "tree",
            "-p",
            krate,
            "-e",
            "normal",
            "--all-features",
            "--target",
            "all",
            "--prefix",
            "none",
        ];
        println!("$ cargo {}", args.join(" "));
        let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args(args)
            .output()
            .map_err(|e| format!("cargo tree -p {krate}: {e}"))?;
        let tree = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            return Err(format!(
                "cargo tree -p {krate} failed ({}): {}",
                out.status,
                stderr.trim()
            ));
        }
        check_tree(krate, banned, &tree)?;
        println!(
            "{krate}: none of {} in its dependency tree",
            banned.join(", ")
        );
    }
    Ok(())
}

/// Checks one `cargo tree --prefix none` listing: it must be the tree of `krate`
/// (first line `krate vX.Y.Z ...`) and hold none of `banned`.
fn check_tree(krate: &str, banned: &[&str], tree: &str) -> Result<(), String> {
    let is = |line: &str, name: &str| {
        line.strip_prefix(name)
            .is_some_and(|rest| rest.starts_with(" v"))
    };
    match tree.lines().next() {
        Some(first) if is(first, krate) => {}
        _ => return Err(format!("cargo tree -p {krate} printed no tree for {krate}")),
    }
    for name in banned {
        if tree.lines().any(|l| is(l, name)) {
            return Err(format!("{krate} depends on {name}"));
        }
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

#[cfg(test)]
mod tests {
    use super::check_tree;

    const CLEAN: &str = "b24-core v0.1.0 (/w/crates/b24-core)\nb24-types v0.1.0 (/w/crates/b24-types)\nbytes v1.10.1\nhttp v1.3.1\ntokio-macros v2.5.0\nrustls-pemfile v2.2.0\n";

    #[test]
    fn a_clean_tree_passes_and_names_are_matched_whole() {
        assert_eq!(
            check_tree("b24-core", &["tokio", "rustls", "b24-hyper"], CLEAN),
            Ok(())
        );
    }

    #[test]
    fn a_banned_crate_fails() {
        let tree = format!("{CLEAN}hyper v1.6.0\n");
        assert_eq!(
            check_tree("b24-core", &["tokio", "hyper"], &tree),
            Err("b24-core depends on hyper".to_owned())
        );
        let emulator =
            "b24-emulator v0.1.0 (/w/crates/b24-emulator)\nb24-core v0.1.0 (/w/crates/b24-core)\n";
        assert_eq!(
            check_tree("b24-emulator", &["b24-core", "b24-hyper"], emulator),
            Err("b24-emulator depends on b24-core".to_owned())
        );
    }

    #[test]
    fn empty_or_foreign_output_fails() {
        for tree in ["", "\n", "warning: nothing to print\n", CLEAN] {
            assert!(
                check_tree("b24-types", &["tokio"], tree).is_err(),
                "{tree:?}"
            );
        }
    }
}
