//! The component glue, compiled only for `wasm32`: the WIT bindings, the
//! exported `node` interface, and the flow's host traits over WASI. Nothing
//! of substance lives here; the core does the work.
//!
//! One crate builds both worlds of `wit/world.wit`: `node-component` (the
//! default: settings from `wasi:config`, credentials and reporting through
//! the `host` interface, in [`full`]) and `node-portable` (feature
//! `portable`: WASI imports only, settings and credentials from the
//! environment, reporting to stderr, in [`portable`]). Everything else, the
//! HTTP transport ([`http`]) and the WIT mapping ([`convert`]), is shared.

mod bindings;
mod cancel;
mod convert;
mod http;

#[cfg(not(feature = "portable"))]
mod full;
#[cfg(not(feature = "portable"))]
use full::World;

#[cfg(feature = "portable")]
mod portable;
#[cfg(feature = "portable")]
use portable::World;

use std::rc::Rc;
use std::time::{Duration, SystemTime};

use bindings::exports::pinpoint::segment_import::node::Guest;
use bindings::pinpoint::segment_import::types as wit;
use bindings::wasi::io::poll::Pollable;
use cancel::Cancellation;

use crate::aws::sign::Credentials;
use crate::endpoints::Limits;
use crate::error::NodeError;
use crate::import::{self, Level, Runtime, Stage};
use crate::settings::Settings;

/// What differs between the two worlds: where settings and credentials come
/// from, and where log lines and progress go.
trait Host {
    /// The node's settings, checked.
    fn settings() -> Result<Settings, NodeError>;
    /// The limits `validate` checks the data against.
    fn data_limits() -> Result<Limits, NodeError>;
    /// Current credentials (asked for before every signature).
    fn credentials() -> Result<Credentials, NodeError>;
    /// A log line (never a secret).
    fn log(level: Level, message: &str);
    /// Progress of a stage.
    fn progress(stage: Stage, completed: u64, total: Option<u64>);
    /// The pollable that is ready once the host cancels the run, if the
    /// world has one.
    fn cancellation() -> Option<Pollable>;
}

/// The exported `node` interface (exported in [`bindings`]).
struct Node;

impl Guest for Node {
    fn run(input: wit::ImportInput) -> Result<wit::ImportOutput, wit::NodeError> {
        let input = convert::from_wit_input(input);
        let settings = World::settings().map_err(convert::to_wit_error)?;
        let cancel = Rc::new(Cancellation::new(World::cancellation()));
        let mut transport = http::WasiHttp {
            cancel: cancel.clone(),
        };
        import::run(
            &input,
            &settings,
            &mut transport,
            &mut WasiRuntime { cancel },
        )
        .and_then(convert::to_wit_output)
        .map_err(convert::to_wit_error)
    }

    fn validate(input: wit::ImportInput) -> Result<wit::ValidationReport, wit::NodeError> {
        let input = convert::from_wit_input(input);
        let limits = World::data_limits().map_err(convert::to_wit_error)?;
        let total = Some(input.data.len() as u64);
        World::progress(Stage::Validating, 0, total);
        import::validate_reporting(&input, &limits, &mut |done| {
            World::progress(Stage::Validating, done, total)
        })
        .map(convert::to_wit_report)
        .map_err(convert::to_wit_error)
    }

    fn describe() -> String {
        crate::describe::descriptor()
    }
}

/// Clocks and randomness over WASI; the rest from the world's [`Host`].
struct WasiRuntime {
    /// The host's cancellation signal: it ends a sleep early.
    cancel: Rc<Cancellation>,
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
