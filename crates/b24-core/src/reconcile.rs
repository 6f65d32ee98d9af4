//! [`Reconcile`]: settling a write whose outcome is unknown by reading, not by
//! repeating it.
//!
//! A write that may have run and may not be repeated ends with
//! [`Error::WriteOutcomeUnknown`](crate::Error::WriteOutcomeUnknown). Where the caller
//! can look for the write's effect (a task result made from a given chat message:
//! the server does not de-duplicate, so a blind repeat would make a second one), the
//! effect decides:
//!
//! 1. send the write;
//! 2. its outcome unknown: read; the effect is there → it ran;
//! 3. not there: an attempt may still be running on the portal, so wait until every
//!    attempt has surely finished (the policy's
//!    [`in_flight_grace`](crate::engine::RetryPolicy::in_flight_grace), counted from
//!    when the call ended, by which time every attempt had been sent), then read again;
//! 4. still not there: the write did not run; send it again, at most
//!    [`Reconcile::MAX_SENDS`] times in all.
//!
//! The machine decides; the adapter sends, reads and waits, as with
//! [`Exchange`](crate::engine::Exchange).

use std::time::Duration;

use crate::engine::Timestamp;

/// What to do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReconcileStep {
    /// Send the write (again).
    Send,
    /// Read whether the write's effect is there.
    Read,
    /// Wait until this time, then read.
    WaitThenRead {
        /// When.
        until: Timestamp,
    },
    /// The write ran: return what the read found.
    Found,
    /// The outcome stays unknown after the last send: return its error.
    GiveUp,
}

/// The reconciling loop's state: how many sends, and whether the grace was waited.
#[derive(Debug, Clone)]
pub struct Reconcile {
    grace: Duration,
    sends: u32,
    waited: bool,
    ended: Timestamp,
}

impl Reconcile {
    /// The most sends of the write in all.
    pub const MAX_SENDS: u32 = 2;

    /// A loop waiting `grace` after a call with an unknown outcome before the read
    /// that may prove it did not run.
    pub fn new(grace: Duration) -> Self {
        Self {
            grace,
            sends: 0,
            waited: false,
            ended: Timestamp::EPOCH,
        }
    }

    /// The first step: send.
    pub fn start(&mut self) -> ReconcileStep {
        self.sends = 1;
        ReconcileStep::Send
    }

    /// The write's call ended at `now` with an unknown outcome: read.
    pub fn unknown(&mut self, now: Timestamp) -> ReconcileStep {
        self.ended = now;
        self.waited = false;
        ReconcileStep::Read
    }

    /// A read at `now` found the effect, or not.
    pub fn read(&mut self, found: bool, now: Timestamp) -> ReconcileStep {
        if found {
            return ReconcileStep::Found;
        }
        if !self.waited {
            self.waited = true;
            let until = self.ended.saturating_add(self.grace);
            return if until > now {
                ReconcileStep::WaitThenRead { until }
            } else {
                ReconcileStep::Read
            };
        }
        if self.sends >= Self::MAX_SENDS {
            return ReconcileStep::GiveUp;
        }
        self.sends += 1;
        ReconcileStep::Send
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(ms: u64) -> Timestamp {
        Timestamp::from_unix_millis(1_000_000 + ms)
    }

    #[test]
    fn found_at_once_ends_without_a_wait() {
        let mut r = Reconcile::new(Duration::from_secs(61));
        assert_eq!(r.start(), ReconcileStep::Send);
        assert_eq!(r.unknown(t(0)), ReconcileStep::Read);
        assert_eq!(r.read(true, t(10)), ReconcileStep::Found);
    }

    #[test]
    fn absent_after_the_grace_means_not_run_and_is_sent_again_at_most_twice() {
        let mut r = Reconcile::new(Duration::from_secs(61));
        r.start();
        assert_eq!(r.unknown(t(500)), ReconcileStep::Read);
        // Counted from the call's end, not from its first send.
        assert_eq!(
            r.read(false, t(600)),
            ReconcileStep::WaitThenRead { until: t(61_500) }
        );
        assert_eq!(r.read(false, t(61_500)), ReconcileStep::Send);
        assert_eq!(r.unknown(t(62_000)), ReconcileStep::Read);
        assert_eq!(
            r.read(false, t(62_100)),
            ReconcileStep::WaitThenRead { until: t(123_000) }
        );
        assert_eq!(r.read(false, t(123_000)), ReconcileStep::GiveUp);
    }

    #[test]
    fn a_grace_already_past_reads_again_at_once() {
        let mut r = Reconcile::new(Duration::ZERO);
        r.start();
        r.unknown(t(0));
        assert_eq!(r.read(false, t(5)), ReconcileStep::Read);
        assert_eq!(r.read(true, t(6)), ReconcileStep::Found);
    }
}
