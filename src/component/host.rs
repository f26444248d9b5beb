//! What differs between the two worlds, as one trait each world implements.

use super::bindings::wasi::io::poll::Pollable;
use crate::aws::sign::Credentials;
use crate::endpoints::Limits;
use crate::error::NodeError;
use crate::import::{Level, Stage};
use crate::settings::Settings;

/// What differs between the two worlds: where settings and credentials come
/// from, and where log lines and progress go.
pub(super) trait Host {
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
