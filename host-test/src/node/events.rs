//! What a run tells its embedder while it runs: the component's log lines
//! and progress, the bytes it sends and how long it took to instantiate.

use std::time::Duration;

use pinpoint_segment_import::import::Stage;

use crate::bindings::wit_host;

/// Log levels of the component's log lines.
pub use wit_host::LogLevel;

/// Receives the component's log lines and progress.
pub trait EventSink: Send + Sync {
    /// A log line.
    fn log(&self, level: LogLevel, message: &str);
    /// Progress of a stage: `completed` of `total`.
    fn progress(&self, stage: Stage, completed: u64, total: Option<u64>);
    /// Bytes of the body of the request the component is sending, counted
    /// by the host as they leave (a staged file's upload); the default
    /// ignores them.
    fn bytes_sent(&self, sent: u64) {
        let _ = sent;
    }
    /// How long the component took to instantiate for this run (a slot of
    /// the host's pool, the memory image, the start functions), measured by
    /// the host; the default ignores it.
    fn instantiated(&self, elapsed: Duration) {
        let _ = elapsed;
    }
}

/// An [`EventSink`] that drops everything.
pub struct Quiet;

impl EventSink for Quiet {
    fn log(&self, _: LogLevel, _: &str) {}
    fn progress(&self, _: Stage, _: u64, _: Option<u64>) {}
}
