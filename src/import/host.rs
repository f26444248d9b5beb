//! What the flow needs from its host: HTTP, clocks, randomness, credentials,
//! and somewhere to report progress. The component implements these over
//! WASI; tests implement them natively.

use std::time::{Duration, SystemTime};

use crate::aws::sign::Credentials;
use crate::aws::{Request, Response};
use crate::error::NodeError;

/// Why a request got no answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportErrorKind {
    /// The host's egress policy refused the destination.
    Denied,
    /// No connection could be made (DNS, refused, TLS): nothing was sent.
    Connect,
    /// The connection broke or timed out after the request may have been sent.
    Broken,
    /// The request itself could not be made (bad URL, header).
    Invalid,
}

/// A request that got no HTTP answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransportError {
    /// What kind of failure.
    pub kind: TransportErrorKind,
    /// The host's description.
    pub message: String,
}

impl TransportError {
    /// An error of `kind` with `message`.
    pub fn new(kind: TransportErrorKind, message: impl Into<String>) -> Self {
        TransportError {
            kind,
            message: message.into(),
        }
    }

    /// Whether the server may have acted on the request.
    pub fn maybe_sent(&self) -> bool {
        self.kind == TransportErrorKind::Broken
    }
}

/// Sends one HTTP request and reads the whole answer.
pub trait Transport {
    /// Sends `request` (already signed) and returns the answer, whatever its status.
    fn send(&mut self, request: Request) -> Result<Response, TransportError>;
}

/// The steps of the flow, for progress reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Reading and checking the data.
    Validating,
    /// `GetApp`.
    CheckingApplication,
    /// `GetSegments`, all pages.
    CheckingSegments,
    /// `PutObject`.
    Staging,
    /// `CreateImportJob`.
    CreatingJob,
    /// Polling `GetImportJob`.
    WaitingForJob,
    /// Deleting the staged file (and a failed job's segment).
    CleaningUp,
    /// Finished.
    Done,
}

impl Stage {
    /// A short lowercase name (`waiting-for-job`).
    pub fn name(self) -> &'static str {
        match self {
            Stage::Validating => "validating",
            Stage::CheckingApplication => "checking-application",
            Stage::CheckingSegments => "checking-segments",
            Stage::Staging => "staging",
            Stage::CreatingJob => "creating-job",
            Stage::WaitingForJob => "waiting-for-job",
            Stage::CleaningUp => "cleaning-up",
            Stage::Done => "done",
        }
    }
}

/// How much a log line matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Details for debugging.
    Debug,
    /// What the node is doing.
    Info,
    /// Something went wrong but the run goes on.
    Warn,
}

/// Clocks, randomness, credentials and reporting.
pub trait Runtime {
    /// Wall-clock time, for signatures.
    fn now(&self) -> SystemTime;
    /// Monotonic time since some fixed point, for deadlines.
    fn monotonic(&self) -> Duration;
    /// Waits.
    fn sleep(&mut self, duration: Duration);
    /// A random number, for backoff jitter.
    fn random(&mut self) -> u64;
    /// Current credentials; asked for before each signature so a host can rotate them.
    fn credentials(&mut self) -> Result<Credentials, NodeError>;
    /// A log line. Never given a secret.
    fn log(&mut self, level: Level, message: &str);
    /// Progress: `completed` of `total` units at `stage`.
    fn progress(&mut self, stage: Stage, completed: u64, total: Option<u64>);
}
