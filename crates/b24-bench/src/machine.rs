//! Facts about the run that go into the report: date, machine, toolchain.

use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

/// Where and when the figures were made.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct MachineFacts {
    /// `YYYY-MM-DD HH:MM UTC`.
    pub date: String,
    /// What `nproc` says (or the standard library's count when it cannot run).
    pub cpus: String,
    /// The CPU model from `/proc/cpuinfo`, if readable.
    pub cpu_model: Option<String>,
    /// `uname -sr`, or the target OS name.
    pub os: String,
    /// `rustc --version`.
    pub rustc: String,
    /// The 1-minute load average when the run started (Linux), if readable.
    pub load_at_start: Option<String>,
    /// `release` or `debug`.
    pub profile: &'static str,
}

impl MachineFacts {
    /// Reads the facts now.
    pub fn gather() -> Self {
        Self {
            date: utc_now(),
            cpus: command_line("nproc", &[]).unwrap_or_else(|| {
                std::thread::available_parallelism()
                    .map_or_else(|_| "unknown".to_owned(), |n| n.get().to_string())
            }),
            cpu_model: cpu_model(),
            os: command_line("uname", &["-sr"]).unwrap_or_else(|| std::env::consts::OS.to_owned()),
            rustc: command_line("rustc", &["--version"]).unwrap_or_else(|| "unknown".to_owned()),
            load_at_start: std::fs::read_to_string("/proc/loadavg")
                .ok()
                .and_then(|s| s.split_whitespace().next().map(str::to_owned)),
            profile: if cfg!(debug_assertions) {
                "debug"
            } else {
                "release"
            },
        }
    }
}

/// The first line a command prints, when it runs and succeeds.
fn command_line(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    String::from_utf8(out.stdout)
        .ok()?
        .lines()
        .next()
        .map(|l| l.trim().to_owned())
        .filter(|l| !l.is_empty())
}

fn cpu_model() -> Option<String> {
    let info = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    info.lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_owned())
}

/// The current time as `YYYY-MM-DD HH:MM UTC`.
pub fn utc_now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    format_utc(secs)
}

/// Formats unix seconds as `YYYY-MM-DD HH:MM UTC`.
pub fn format_utc(unix: u64) -> String {
    let days = i64::try_from(unix / 86_400).unwrap_or(0);
    let rem = unix % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        rem / 3600,
        (rem % 3600) / 60
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (
        y,
        u32::try_from(m).unwrap_or(1),
        u32::try_from(d).unwrap_or(1),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_dates() {
        assert_eq!(format_utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(format_utc(951_782_400), "2000-02-29 00:00 UTC");
        assert_eq!(format_utc(1_777_529_700), "2026-04-30 06:15 UTC");
    }
}
