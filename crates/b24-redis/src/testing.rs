//! A `redis-server` child process for tests (feature `testing`).
//!
//! [`RedisServer`] starts the `redis-server` found on `PATH` on a free loopback port,
//! with no persistence (`--save "" --appendonly no`) and its working directory in a
//! fresh folder under [`std::env::temp_dir`], waits until it answers `PING`, and kills
//! it when dropped. [`RedisServer::stop`] and [`RedisServer::start`] take it down and
//! bring it back on the same port (with empty data), for outage tests.
//!
//! When `redis-server` is not on `PATH`, [`RedisServer::builder`]`.start()` returns
//! `None` after printing a notice to stderr, so a test can skip itself; but when the
//! environment variable `CI` is `true` it panics instead, so that CI never passes by
//! skipping.
//!
//! ```no_run
//! # fn main() {
//! let Some(server) = b24_redis::testing::RedisServer::start_default() else {
//!     return; // redis-server is not installed here (and this is not CI)
//! };
//! let url = server.url(); // redis://127.0.0.1:PORT/
//! # drop(url);
//! # }
//! ```

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The program started.
const PROGRAM: &str = "redis-server";

/// How long a start may take before it counts as failed.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// Whether `redis-server` is on `PATH`.
pub fn redis_server_available() -> bool {
    find_program(PROGRAM).is_some()
}

/// For a test that needs a Redis server but starts it another way (a child process
/// of its own): true when `redis-server` is on `PATH`; otherwise a skip notice and
/// false, or, under `CI=true`, a panic, as [`RedisServerBuilder::start`] does.
///
/// # Panics
///
/// When `redis-server` is missing and `CI=true`.
#[allow(clippy::panic)] // a harness for tests: failing loudly is its job
pub fn require_redis_server() -> bool {
    if redis_server_available() {
        return true;
    }
    if in_ci() {
        panic!(
            "{PROGRAM} is not on PATH, and CI=true: install it (Debian: \
             `apt-get install redis-server`); the Redis tests must run in CI"
        );
    }
    skip_notice();
    false
}

fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// Says once per process, on stderr past the test harness's capture, that the tests
/// needing a server are skipped.
fn skip_notice() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED: {PROGRAM} is not on PATH; the tests that need a Redis server pass \
             without running (set CI=true to make that a failure)"
        );
    });
}

/// Whether this runs in CI (`CI=true`), where a missing server is a failure.
fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true"))
}

/// The files of a TLS listener: the server's certificate chain and key, and the CA
/// that signed it (all PEM files).
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// The server's certificate (PEM).
    pub cert: PathBuf,
    /// The server's private key (PEM).
    pub key: PathBuf,
    /// The CA certificate (PEM).
    pub ca: PathBuf,
}

/// How to start a [`RedisServer`].
#[derive(Debug, Default, Clone)]
pub struct RedisServerBuilder {
    password: Option<String>,
    tls: Option<TlsFiles>,
}

impl RedisServerBuilder {
    /// Requires this password (`--requirepass`) of every client.
    pub fn password(mut self, password: impl Into<String>) -> Self {
        self.password = Some(password.into());
        self
    }

    /// Also listens for TLS on a second free port ([`RedisServer::tls_port`]); clients
    /// need no certificate of their own.
    pub fn tls(mut self, files: TlsFiles) -> Self {
        self.tls = Some(files);
        self
    }

    /// Starts the server and waits until it answers.
    ///
    /// Returns `None` after printing a skip notice when `redis-server` is not on
    /// `PATH` and this is not CI.
    ///
    /// # Panics
    ///
    /// When `redis-server` is missing and `CI=true`, or when it does not start.
    #[allow(clippy::panic)] // a harness for tests: failing loudly is its job
    pub fn start(self) -> Option<RedisServer> {
        if !require_redis_server() {
            return None;
        }
        let dir = unique_dir();
        let mut last_error = String::new();
        // A free port can be taken by someone else between the probe and the start.
        for _ in 0..5 {
            let mut server = RedisServer {
                port: free_port(),
                tls_port: self.tls.as_ref().map(|_| free_port()),
                password: self.password.clone(),
                tls: self.tls.clone(),
                dir: dir.clone(),
                child: None,
            };
            match server.try_start() {
                Ok(()) => return Some(server),
                Err(e) => last_error = e,
            }
        }
        panic!("{PROGRAM} did not start: {last_error}");
    }
}

/// A `redis-server` child process on a loopback port; killed on drop (and its
/// directory removed). `Debug` does not show the password.
pub struct RedisServer {
    port: u16,
    tls_port: Option<u16>,
    password: Option<String>,
    tls: Option<TlsFiles>,
    dir: PathBuf,
    child: Option<Child>,
}

impl RedisServer {
    /// How to start a server with a password or TLS.
    pub fn builder() -> RedisServerBuilder {
        RedisServerBuilder::default()
    }

    /// A server with no password and no TLS (see [`RedisServerBuilder::start`]).
    pub fn start_default() -> Option<Self> {
        Self::builder().start()
    }

    /// The plain-text port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The TLS port, when started with [`RedisServerBuilder::tls`].
    pub fn tls_port(&self) -> Option<u16> {
        self.tls_port
    }

    /// `redis://127.0.0.1:PORT/`, with the password when one is required.
    pub fn url(&self) -> String {
        match &self.password {
            Some(p) => format!("redis://:{p}@127.0.0.1:{}/", self.port),
            None => format!("redis://127.0.0.1:{}/", self.port),
        }
    }

    /// The working directory (logs, and nothing else: persistence is off).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whether the process runs.
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(child) => matches!(child.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// Kills the server (its data is lost). Does nothing when it is not running.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port(s), with empty data, and waits until it
    /// answers. Does nothing when it runs.
    ///
    /// # Panics
    ///
    /// When it does not start within a few seconds (tried a few times: a port just
    /// freed may take a moment).
    #[allow(clippy::panic)] // a harness for tests: failing loudly is its job
    pub fn start(&mut self) {
        if self.is_running() {
            return;
        }
        let mut last_error = String::new();
        for _ in 0..10 {
            match self.try_start() {
                Ok(()) => return,
                Err(e) => {
                    last_error = e;
                    std::thread::sleep(Duration::from_millis(200));
                }
            }
        }
        panic!(
            "{PROGRAM} did not start again on port {}: {last_error}",
            self.port
        );
    }

    fn try_start(&mut self) -> Result<(), String> {
        std::fs::create_dir_all(&self.dir)
            .map_err(|e| format!("cannot create {}: {e}", self.dir.display()))?;
        let log = self.dir.join(format!("redis-{}.log", self.port));
        let mut cmd = Command::new(PROGRAM);
        cmd.arg("--port")
            .arg(self.port.to_string())
            .arg("--bind")
            .arg("127.0.0.1")
            .arg("--save")
            .arg("")
            .arg("--appendonly")
            .arg("no")
            .arg("--daemonize")
            .arg("no")
            .arg("--dir")
            .arg(&self.dir)
            .arg("--logfile")
            .arg(&log);
        if let Some(password) = &self.password {
            cmd.arg("--requirepass").arg(password);
        }
        if let (Some(files), Some(port)) = (&self.tls, self.tls_port) {
            cmd.arg("--tls-port")
                .arg(port.to_string())
                .arg("--tls-cert-file")
                .arg(&files.cert)
                .arg("--tls-key-file")
                .arg(&files.key)
                .arg("--tls-ca-cert-file")
                .arg(&files.ca)
                .arg("--tls-auth-clients")
                .arg("no");
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot run {PROGRAM}: {e}"))?;
        self.child = Some(child);
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if !self.is_running() {
                self.stop();
                let tail = std::fs::read_to_string(&log).unwrap_or_default();
                let tail: Vec<&str> = tail.lines().rev().take(5).collect();
                return Err(format!(
                    "it exited; the end of its log: {}",
                    tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
                ));
            }
            if answers_ping(self.port) {
                return Ok(());
            }
            if Instant::now() > deadline {
                self.stop();
                return Err(format!("no answer to PING within {START_TIMEOUT:?}"));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl std::fmt::Debug for RedisServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisServer")
            .field("port", &self.port)
            .field("tls_port", &self.tls_port)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("dir", &self.dir)
            .field("running", &self.child.is_some())
            .finish()
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Whether a server on `port` answers an inline `PING` (with `+PONG`, or with an
/// error asking for a password: up either way).
fn answers_ping(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    let _ = stream.set_write_timeout(Some(Duration::from_millis(500)));
    if stream.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut buf = [0u8; 64];
    match stream.read(&mut buf) {
        Ok(n) if n > 0 => {
            let reply = buf.get(..n).unwrap_or_default();
            reply.starts_with(b"+PONG") || reply.starts_with(b"-NOAUTH")
        }
        _ => false,
    }
}

/// A loopback port nobody listened on a moment ago.
#[allow(clippy::panic)] // a harness for tests: failing loudly is its job
fn free_port() -> u16 {
    match TcpListener::bind(("127.0.0.1", 0)).and_then(|l| l.local_addr()) {
        Ok(addr) => addr.port(),
        Err(e) => panic!("no free loopback port: {e}"),
    }
}

/// A directory name of its own under the system's temporary directory.
fn unique_dir() -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    std::env::temp_dir().join(format!("b24-redis-test-{}-{n}-{nanos}", std::process::id()))
}
