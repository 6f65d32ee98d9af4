//! Scripted faults of event delivery: dropped, doubled and late deliveries.

use std::collections::VecDeque;
use std::time::Duration;

/// What a delivery fault does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EventFaultAction {
    /// The delivery is never sent (the platform does not retry, so it is lost).
    Drop,
    /// The delivery is sent twice (a handler bound twice, a repeat in the queue).
    Double,
    /// The delivery is sent after this long.
    Delay(Duration),
}

/// A fault for the next online deliveries, consumed in order, like
/// [`Fault`](crate::Fault) for calls.
///
/// ```
/// use b24_emulator::EventFault;
/// let fault = EventFault::double().on("ONTASKCOMMENTADD").times(2);
/// # let _ = fault;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventFault {
    pub(crate) action: EventFaultAction,
    pub(crate) event: Option<String>,
    pub(crate) times: usize,
}

impl EventFault {
    /// Drops the next delivery.
    pub fn drop() -> Self {
        Self::new(EventFaultAction::Drop)
    }

    /// Sends the next delivery twice.
    pub fn double() -> Self {
        Self::new(EventFaultAction::Double)
    }

    /// Sends the next delivery after `by`.
    pub fn delay(by: Duration) -> Self {
        Self::new(EventFaultAction::Delay(by))
    }

    fn new(action: EventFaultAction) -> Self {
        Self {
            action,
            event: None,
            times: 1,
        }
    }

    /// Only deliveries of this event (any case).
    pub fn on(mut self, event: &str) -> Self {
        self.event = Some(event.to_ascii_uppercase());
        self
    }

    /// For the next `n` matching deliveries (at least 1).
    pub fn times(mut self, n: usize) -> Self {
        self.times = n.max(1);
        self
    }

    /// What it does.
    pub fn action(&self) -> EventFaultAction {
        self.action
    }
}

/// The scripted delivery faults of a portal.
#[derive(Debug, Default)]
pub(crate) struct EventFaultQueue {
    faults: VecDeque<EventFault>,
}

impl EventFaultQueue {
    pub(crate) fn push(&mut self, fault: EventFault) {
        self.faults.push_back(fault);
    }

    /// The action for the next delivery of `event`, consuming one use of the first
    /// matching fault.
    pub(crate) fn take(&mut self, event: &str) -> Option<EventFaultAction> {
        let index = self
            .faults
            .iter()
            .position(|f| f.event.as_deref().is_none_or(|e| e == event))?;
        let fault = self.faults.get_mut(index)?;
        let action = fault.action;
        fault.times = fault.times.saturating_sub(1);
        if fault.times == 0 {
            self.faults.remove(index);
        }
        Some(action)
    }

    pub(crate) fn len(&self) -> usize {
        self.faults.len()
    }
}
