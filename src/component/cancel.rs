//! The host's cancellation signal, watched wherever the component waits.
//!
//! The full world gets a pollable from `host.cancellation` that becomes ready
//! when the host cancels the run; the portable world has none (a runtime that
//! wants to stop it drops the call). Every wait of the transport and the
//! runtime polls its own pollable together with this one, so a cancelled run
//! stops waiting at once. A request marked [`Cleanup`](crate::import::Cleanup)
//! is waited for regardless: it is the clean-up after a cancellation.

use super::bindings::wasi::io::poll::{Pollable, poll};

/// What ended a wait with a time limit ([`Cancellation::wait_until`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Woken {
    /// The pollable waited for is ready.
    Ready,
    /// The run was cancelled first.
    Cancelled,
    /// The time limit passed first.
    TimedOut,
}

/// The run's cancellation signal, if the world has one.
pub(super) struct Cancellation {
    signal: Option<Pollable>,
}

impl Cancellation {
    /// A signal from `pollable`, or none.
    pub(super) fn new(signal: Option<Pollable>) -> Self {
        Cancellation { signal }
    }

    /// Whether the host has cancelled the run.
    pub(super) fn is_cancelled(&self) -> bool {
        self.signal.as_ref().is_some_and(Pollable::ready)
    }

    /// Blocks until `pollable` is ready (`true`) or, when `watch`, until the
    /// run is cancelled (`false`), whichever comes first.
    pub(super) fn wait(&self, pollable: &Pollable, watch: bool) -> bool {
        match &self.signal {
            Some(signal) if watch => poll(&[pollable, signal]).contains(&0),
            _ => {
                pollable.block();
                true
            }
        }
    }

    /// Blocks until `pollable` is ready, the `timer` fires, or, when `watch`,
    /// the run is cancelled, whichever comes first (readiness wins a tie,
    /// then cancellation).
    pub(super) fn wait_until(&self, pollable: &Pollable, timer: &Pollable, watch: bool) -> Woken {
        let ready = match &self.signal {
            Some(signal) if watch => poll(&[pollable, timer, signal]),
            _ => poll(&[pollable, timer]),
        };
        if ready.contains(&0) {
            Woken::Ready
        } else if ready.contains(&2) {
            Woken::Cancelled
        } else {
            Woken::TimedOut
        }
    }
}
