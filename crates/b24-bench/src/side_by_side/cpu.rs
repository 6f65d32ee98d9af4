//! A process's own CPU time: `getrusage(RUSAGE_SELF)`, which covers every thread the
//! process has had, those already gone included, at microsecond resolution.

use std::time::Duration;

use nix::sys::resource::{getrusage, UsageWho};
use nix::sys::time::TimeVal;

use crate::error::{BenchError, Context};

/// CPU time used so far by this process, split into user and kernel time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CpuTime {
    /// Time in user mode.
    pub user: Duration,
    /// Time in the kernel on the process's behalf.
    pub system: Duration,
    /// Times the process was switched out while it could still run (preempted).
    pub preempted: u64,
}

impl CpuTime {
    /// The process's CPU time now.
    ///
    /// # Errors
    ///
    /// `getrusage` fails (it does not on Linux for `RUSAGE_SELF`).
    pub fn now() -> Result<Self, BenchError> {
        let usage = getrusage(UsageWho::RUSAGE_SELF).context("getrusage")?;
        Ok(Self {
            user: to_duration(usage.user_time()),
            system: to_duration(usage.system_time()),
            preempted: u64::try_from(usage.involuntary_context_switches()).unwrap_or(0),
        })
    }

    /// User plus kernel time.
    pub fn total(&self) -> Duration {
        self.user + self.system
    }

    /// The time used between `earlier` and `self`.
    pub fn since(&self, earlier: &Self) -> Self {
        Self {
            user: self.user.saturating_sub(earlier.user),
            system: self.system.saturating_sub(earlier.system),
            preempted: self.preempted.saturating_sub(earlier.preempted),
        }
    }
}

fn to_duration(tv: TimeVal) -> Duration {
    let secs = u64::try_from(tv.tv_sec()).unwrap_or(0);
    let micros = u64::try_from(tv.tv_usec()).unwrap_or(0);
    Duration::from_secs(secs) + Duration::from_micros(micros)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_grows_with_work() {
        let before = CpuTime::now().unwrap();
        let mut x = 0u64;
        let start = std::time::Instant::now();
        while start.elapsed() < Duration::from_millis(30) {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
        }
        let used = CpuTime::now().unwrap().since(&before);
        assert!(used.total() >= Duration::from_millis(10), "{used:?}");
    }
}
