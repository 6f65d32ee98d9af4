//! `cargo xtask reliability`: the large reliability run, in release mode, each part in
//! a process of its own (so that the soak's resident-memory figures are its own): the
//! fault matrix over HTTP/1.1 and HTTP/2, the exactly-once runs (1,000 writes, 32 in
//! flight, 10 % and 30 % faults, both HTTP versions, webhook and OAuth with expiring
//! tokens) and the 60 s soak. Each part prints Markdown tables for
//! `docs/reliability.md`; the task fails when any promise does not hold.

use std::process::Command;

/// Runs the parts named in `args` (`matrix`, `exactly-once`, `soak`; all three when
/// none is named); other arguments (`--writes N`, `--in-flight K`, `--soak-secs S`)
/// are passed on to each part.
pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let parts = ["matrix", "exactly-once", "soak"];
    let mut chosen: Vec<&str> = parts
        .iter()
        .copied()
        .filter(|p| args.iter().any(|a| a == p))
        .collect();
    if chosen.is_empty() {
        chosen = parts.to_vec();
    }
    let passed: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .filter(|a| !parts.contains(a))
        .collect();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .ok_or("the workspace root is not known")?;
    let mut failed = Vec::new();
    for part in chosen {
        let mut cargo_args = vec![
            "run",
            "--release",
            "-p",
            "b24-reliability",
            "--bin",
            "reliability",
            "--",
            part,
        ];
        cargo_args.extend(passed.iter().copied());
        println!("$ cargo {}", cargo_args.join(" "));
        let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args(&cargo_args)
            .current_dir(root)
            .status()
            .map_err(|e| format!("cargo {}: {e}", cargo_args.join(" ")))?;
        if !status.success() {
            failed.push(part);
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!("reliability: {} did not hold", failed.join(", ")))
    }
}
