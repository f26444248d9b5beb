//! The flow's [`Runtime`] over WASI: clocks, sleeps that a cancellation
//! ends, randomness; credentials, log lines and progress from the world's
//! [`Host`].

use std::rc::Rc;
use std::time::{Duration, SystemTime};

use super::World;
use super::bindings;
use super::cancel::Cancellation;
use super::host::Host;
use crate::aws::sign::Credentials;
use crate::error::NodeError;
use crate::import::{Level, Runtime, Stage};

/// Clocks and randomness over WASI; the rest from the world's [`Host`].
pub(super) struct WasiRuntime {
    /// The host's cancellation signal: it ends a sleep early.
    pub(super) cancel: Rc<Cancellation>,
}

impl Runtime for WasiRuntime {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }

    fn monotonic(&self) -> Duration {
        Duration::from_nanos(bindings::wasi::clocks::monotonic_clock::now())
    }

    fn sleep(&mut self, duration: Duration) {
        let nanos = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
        let timer = bindings::wasi::clocks::monotonic_clock::subscribe_duration(nanos);
        self.cancel.wait(&timer, true);
    }

    fn cancelled(&mut self) -> bool {
        self.cancel.is_cancelled()
    }

    fn random(&mut self) -> u64 {
        bindings::wasi::random::random::get_random_u64()
    }

    fn credentials(&mut self) -> Result<Credentials, NodeError> {
        World::credentials()
    }

    fn log(&mut self, level: Level, message: &str) {
        World::log(level, message);
    }

    fn progress(&mut self, stage: Stage, completed: u64, total: Option<u64>) {
        World::progress(stage, completed, total);
    }
}
