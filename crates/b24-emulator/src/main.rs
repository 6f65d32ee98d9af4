//! `b24-emulator`: runs an offline Bitrix24 portal and prints how to call it.
//!
//! ```text
//! cargo run -p b24-emulator -- [--port N] [--http] [--burst N] [--drain N]
//!     [--operating-limit SECONDS] [--cost SECONDS] [--portal HOST]... [--ca-out PATH]
//!     [--seed FILE] [--print-seed] [--idempotency-keys ignored|honoured]
//! ```
//!
//! Every flag can also be given as an environment variable: `B24_EMU_PORT`,
//! `B24_EMU_HTTP=1`, `B24_EMU_BURST`, `B24_EMU_DRAIN`, `B24_EMU_OPERATING_LIMIT`,
//! `B24_EMU_COST`, `B24_EMU_PORTALS` (comma-separated), `B24_EMU_CA_OUT`,
//! `B24_EMU_SEED`, `B24_EMU_PRINT_SEED=1`, `B24_EMU_IDEMPOTENCY_KEYS`.
//!
//! `--print-seed` prints the data every portal would start with (the default data,
//! or the `--seed` file as read) as JSON and exits; the output loads back with
//! `--seed`.
#![forbid(unsafe_code)]
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;

use b24_emulator::{Emulator, IdempotencyKeys, PortalConfig, Seed, DEFAULT_OPERATING_LIMIT};

#[derive(Debug)]
struct Options {
    port: u16,
    http: bool,
    burst: u32,
    drain: f64,
    operating_limit: f64,
    cost: f64,
    portals: Vec<String>,
    ca_out: Option<String>,
    seed: Option<String>,
    print_seed: bool,
    keys: IdempotencyKeys,
}

fn keys(v: &str) -> Result<IdempotencyKeys, String> {
    match v.to_ascii_lowercase().as_str() {
        "ignored" => Ok(IdempotencyKeys::Ignored),
        "honoured" | "honored" => Ok(IdempotencyKeys::Honoured),
        other => Err(format!(
            "idempotency keys: {other:?} is neither `ignored` nor `honoured`"
        )),
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn parse<T: std::str::FromStr>(what: &str, v: &str) -> Result<T, String> {
    v.parse()
        .map_err(|_| format!("{what}: cannot read {v:?} as a number"))
}

fn options() -> Result<Options, String> {
    let mut o = Options {
        port: 8443,
        http: env("B24_EMU_HTTP").is_some_and(|v| v != "0"),
        burst: 50,
        drain: 2.0,
        operating_limit: DEFAULT_OPERATING_LIMIT,
        cost: 0.0,
        portals: env("B24_EMU_PORTALS")
            .map(|v| v.split(',').map(|s| s.trim().to_owned()).collect())
            .unwrap_or_default(),
        ca_out: env("B24_EMU_CA_OUT"),
        seed: env("B24_EMU_SEED"),
        print_seed: env("B24_EMU_PRINT_SEED").is_some_and(|v| v != "0"),
        keys: IdempotencyKeys::Ignored,
    };
    if let Some(v) = env("B24_EMU_IDEMPOTENCY_KEYS") {
        o.keys = keys(&v)?;
    }
    if let Some(v) = env("B24_EMU_PORT") {
        o.port = parse("B24_EMU_PORT", &v)?;
    }
    if let Some(v) = env("B24_EMU_BURST") {
        o.burst = parse("B24_EMU_BURST", &v)?;
    }
    if let Some(v) = env("B24_EMU_DRAIN") {
        o.drain = parse("B24_EMU_DRAIN", &v)?;
    }
    if let Some(v) = env("B24_EMU_OPERATING_LIMIT") {
        o.operating_limit = parse("B24_EMU_OPERATING_LIMIT", &v)?;
    }
    if let Some(v) = env("B24_EMU_COST") {
        o.cost = parse("B24_EMU_COST", &v)?;
    }
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--port" => o.port = parse("--port", &value()?)?,
            "--http" => o.http = true,
            "--burst" => o.burst = parse("--burst", &value()?)?,
            "--drain" => o.drain = parse("--drain", &value()?)?,
            "--operating-limit" => o.operating_limit = parse("--operating-limit", &value()?)?,
            "--cost" => o.cost = parse("--cost", &value()?)?,
            "--portal" => o.portals.push(value()?),
            "--ca-out" => o.ca_out = Some(value()?),
            "--seed" => o.seed = Some(value()?),
            "--print-seed" => o.print_seed = true,
            "--idempotency-keys" => o.keys = keys(&value()?)?,
            "-h" | "--help" => {
                println!(
                    "usage: b24-emulator [--port N] [--http] [--burst N] [--drain N] \
                     [--operating-limit S] [--cost S] [--portal HOST]... [--ca-out PATH] \
                     [--seed FILE] [--print-seed] [--idempotency-keys ignored|honoured]"
                );
                std::process::exit(0);
            }
            other => return Err(format!("unknown flag {other}; try --help")),
        }
    }
    if o.portals.is_empty() {
        o.portals.push("localhost".to_owned());
    }
    Ok(o)
}

fn load_seed(path: &str) -> Result<Seed, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    Seed::from_json(&text).map_err(|e| format!("{path}: {e}"))
}

async fn run(o: Options) -> Result<(), String> {
    let seed = o.seed.as_deref().map(load_seed).transpose()?;
    if o.print_seed {
        let seed = seed.unwrap_or_else(Seed::default_data);
        println!("{}", seed.to_json());
        return Ok(());
    }
    let mut builder = Emulator::builder().idempotency_keys(o.keys);
    if let Some(seed) = seed {
        builder = builder.seed(seed);
    }
    for host in &o.portals {
        builder = builder.portal(
            PortalConfig::new(host)
                .bucket(o.burst, o.drain)
                .operating_limit(o.operating_limit)
                .default_operating_cost(o.cost)
                .allow_plain_http_to_loopback(o.http),
        );
    }
    let emu = builder.build();
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, o.port));
    let server = if o.http {
        emu.serve_http_on(addr).await
    } else {
        emu.serve_https_on(addr).await
    }
    .map_err(|e| e.to_string())?;

    println!("b24-emulator listening on {}", server.base_url());
    if let Some(pem) = server.ca_cert_pem() {
        let path = o.ca_out.clone().unwrap_or_else(|| {
            std::env::temp_dir()
                .join("b24-emulator-ca.pem")
                .to_string_lossy()
                .into_owned()
        });
        std::fs::write(&path, pem).map_err(|e| format!("cannot write {path}: {e}"))?;
        println!("CA certificate (trust it, e.g. curl --cacert): {path}");
    }
    println!("OAuth token URL: {}", server.token_url());
    println!("OAuth client_id: {}", emu.oauth_client_id());
    println!("OAuth client_secret: {}", emu.oauth_client_secret());
    for portal in emu.portals() {
        println!();
        println!(
            "portal {} ({})",
            portal.host(),
            server.portal_base_url(&portal)
        );
        for user in [1, 2] {
            if let Some(url) = server.webhook_url(&portal, user) {
                println!("  webhook, user {user}: {url}");
            }
        }
        if let Some(url) = server.v3_webhook_url(&portal, 1) {
            println!("  REST 3.0 base, user 1: {url}");
        }
        if let Ok((access, refresh)) = portal.issue_tokens(1) {
            println!(
                "  OAuth access token, user 1 (1 h): {}",
                access.expose_secret()
            );
            println!("  OAuth refresh token, user 1: {}", refresh.expose_secret());
        }
    }
    println!();
    if o.seed.is_some() {
        println!(
            "seeded from {}; Ctrl-C stops",
            o.seed.as_deref().unwrap_or_default()
        );
    } else {
        println!("seeded: task 51 (chat 58, message 335), task 52, task 53; Ctrl-C stops");
    }
    tokio::signal::ctrl_c()
        .await
        .map_err(|e| format!("cannot wait for Ctrl-C: {e}"))?;
    server.shutdown().await;
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let options = match options() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("b24-emulator: {e}");
            return ExitCode::from(2);
        }
    };
    match run(options).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("b24-emulator: {e}");
            ExitCode::FAILURE
        }
    }
}
