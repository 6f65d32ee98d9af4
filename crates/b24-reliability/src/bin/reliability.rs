//! The large reliability run, behind `cargo xtask reliability`: the fault matrix over
//! HTTP/1.1 and HTTP/2, exactly-once runs (1,000 writes, 32 in flight, 10 % and 30 %
//! faults, both HTTP versions, webhook and OAuth with expiring tokens), and a 60 s
//! soak. Prints Markdown tables; exits with failure when a promise does not hold.
//!
//! ```text
//! reliability [matrix | exactly-once | soak | all] [--writes N] [--in-flight K] [--soak-secs S]
//! ```
#![forbid(unsafe_code)]
#![allow(clippy::print_stdout)]

use std::process::ExitCode;
use std::time::Duration;

use b24_emulator::IdempotencyKeys;
use b24_reliability::{
    run_exactly_once, run_matrix, run_soak, Auth, ExactlyOnceConfig, ExactlyOnceReport,
    HttpVersion, SoakConfig,
};

struct Args {
    what: String,
    writes: usize,
    in_flight: usize,
    soak_secs: u64,
}

fn parse() -> Result<Args, String> {
    let mut args = Args {
        what: "all".into(),
        writes: 1000,
        in_flight: 32,
        soak_secs: 60,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut number = |name: &str| -> Result<u64, String> {
            it.next()
                .and_then(|v| v.parse().ok())
                .ok_or(format!("{name} needs a number"))
        };
        match a.as_str() {
            "--writes" => args.writes = usize::try_from(number("--writes")?).unwrap_or(1000),
            "--in-flight" => {
                args.in_flight = usize::try_from(number("--in-flight")?).unwrap_or(32);
            }
            "--soak-secs" => args.soak_secs = number("--soak-secs")?,
            "matrix" | "exactly-once" | "soak" | "all" => args.what = a,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(args)
}

fn main() -> ExitCode {
    let args = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("reliability: {e}");
            eprintln!("usage: reliability [matrix|exactly-once|soak|all] [--writes N] [--in-flight K] [--soak-secs S]");
            return ExitCode::FAILURE;
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("reliability: no runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let ok = runtime.block_on(async {
        let mut ok = true;
        if matches!(args.what.as_str(), "matrix" | "all") {
            ok &= matrix().await;
        }
        if matches!(args.what.as_str(), "exactly-once" | "all") {
            ok &= exactly_once(args.writes, args.in_flight).await;
        }
        if matches!(args.what.as_str(), "soak" | "all") {
            ok &= soak(args.soak_secs).await;
        }
        ok
    });
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

async fn matrix() -> bool {
    println!("## Fault matrix\n");
    let report = run_matrix(&[HttpVersion::Http1, HttpVersion::Http2], 4).await;
    println!("{}", report.to_markdown());
    println!(
        "matrix: {} rows in {:.1} s\n",
        report.rows.len(),
        report.wall.as_secs_f64()
    );
    for f in report.failures() {
        println!("FAILED: {f}");
    }
    report.pass()
}

async fn exactly_once(writes: usize, in_flight: usize) -> bool {
    println!("## Exactly once: {writes} writes, {in_flight} in flight\n");
    println!("{}", ExactlyOnceReport::markdown_header());
    let mut ok = true;
    let mut problems = Vec::new();
    let mut seed = 0x5EED_1000_u64;
    for (keys, rate) in [
        (IdempotencyKeys::Ignored, 0.10),
        (IdempotencyKeys::Honoured, 0.10),
        (IdempotencyKeys::Ignored, 0.30),
        (IdempotencyKeys::Honoured, 0.30),
    ] {
        for http in [HttpVersion::Http1, HttpVersion::Http2] {
            for auth in [
                Auth::Webhook,
                Auth::OAuth {
                    token_ttl: Duration::from_secs(2),
                },
            ] {
                seed += 1;
                let mut config = ExactlyOnceConfig::new(writes, in_flight, rate);
                config.http = http;
                config.auth = auth;
                config.seed = seed;
                config.keys = keys;
                match run_exactly_once(&config).await {
                    Ok(report) => {
                        println!("{}", report.markdown_row());
                        if !report.holds() {
                            ok = false;
                            problems.push(report.to_string());
                        }
                    }
                    Err(e) => {
                        ok = false;
                        problems.push(format!("{http} {auth} {rate} {keys:?}: {e}"));
                    }
                }
            }
        }
    }
    println!();
    for p in problems {
        println!("FAILED: {p}");
    }
    ok
}

async fn soak(secs: u64) -> bool {
    println!("## Soak: {secs} s\n");
    let config = SoakConfig::new(Duration::from_secs(secs), 64);
    match run_soak(&config).await {
        Ok(report) => {
            println!("{}", report.to_markdown());
            println!("RSS samples (KiB, one a second): {:?}\n", report.rss_kib);
            let holds = report.lost == 0
                && report.duplicates == 0
                && report.rate_limited == 0
                && report.errors.is_empty()
                && report.memory_flat(0.10, 4 * 1024);
            if !holds {
                println!("FAILED: {report}");
            }
            holds
        }
        Err(e) => {
            println!("FAILED: soak: {e}");
            false
        }
    }
}
