//! What the flow needs from its host: HTTP, clocks, randomness, credentials,
//! and somewhere to report progress. The component implements these over
//! WASI; tests implement them natively.

use std::time::{Duration, SystemTime};

use crate::aws::sign::Credentials;
use crate::aws::{Request, Response};
use crate::error::NodeError;
use crate::settings::RetryPolicy;

/// The longest one attempt waits for an answer (its first byte, and between
/// bytes), whatever the budget: a request that has had no answer for this long
/// is retried, budget allowing.
pub const MAX_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(120);
/// The shortest time an attempt is given, however little budget is left.
pub const MIN_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(1);

/// How long one attempt of a request may wait for its answer, once `spent` of
/// the request's time budget (`retry-max-total-seconds`) is gone: what is left
/// of the budget, between [`MIN_ATTEMPT_TIMEOUT`] and [`MAX_ATTEMPT_TIMEOUT`].
/// The flow puts it on every request it sends as an [`AttemptTimeout`].
pub fn attempt_timeout(policy: &RetryPolicy, spent: Duration) -> Duration {
    policy
        .max_total
        .saturating_sub(spent)
        .clamp(MIN_ATTEMPT_TIMEOUT, MAX_ATTEMPT_TIMEOUT)
}

/// In the extensions of every request the flow sends: how long the transport
/// may wait for the answer's first byte and between its bytes
/// ([`attempt_timeout`]), so one attempt never outlasts the request's budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttemptTimeout(pub Duration);

/// The largest answer body a transport reads, in bytes (16 MiB). The node's
/// answers are KBs (a page of 100 segments, an S3 error); a transport stops
/// reading past this and reports [`TransportErrorKind::TooLarge`], so a
/// misbehaving server cannot exhaust the component's memory.
pub const MAX_RESPONSE_BYTES: usize = 16 << 20;

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
    /// The server answered with a body larger than [`MAX_RESPONSE_BYTES`],
    /// which was not read: the request arrived and may have taken effect. Not
    /// retried; the flow reports a `ServiceError`.
    TooLarge,
    /// The run was cancelled while the request was on its way or its answer
    /// was awaited: the request may have arrived and taken effect.
    Cancelled,
}

/// In the extensions of a request sent to clean up after a cancellation
/// (deleting a staged file no job reads): the transport waits for its answer
/// although the run is cancelled. The flow gives it one short attempt
/// ([`CLEANUP_TIMEOUT`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cleanup;

/// How long a clean-up request after a cancellation may wait for its answer:
/// short, as whoever cancelled is waiting (the CLI promises to stop within 2 s).
pub const CLEANUP_TIMEOUT: Duration = Duration::from_secs(1);

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
        matches!(
            self.kind,
            TransportErrorKind::Broken | TransportErrorKind::Cancelled
        )
    }
}

/// A request body too large to hold twice (the staged file): written on
/// demand, in chunks, as often as it is sent, the same bytes every time.
pub trait Body {
    /// Its size in bytes (the `content-length`).
    fn content_length(&self) -> u64;

    /// Writes it to `out`, chunk by chunk; stops at the first error of `out`
    /// and returns it.
    fn write(
        &self,
        out: &mut dyn FnMut(&[u8]) -> Result<(), TransportError>,
    ) -> Result<(), TransportError>;
}

/// Sends one HTTP request and reads the whole answer.
pub trait Transport {
    /// Sends `request` (already signed) and returns the answer, whatever its
    /// status. The request's [`AttemptTimeout`] extension bounds the wait for
    /// the answer; an answer that does not come in time is
    /// [`TransportErrorKind::Broken`].
    fn send(&mut self, request: Request) -> Result<Response, TransportError>;

    /// [`Transport::send`] with `body` as the request's body (the request's
    /// own is empty). A transport that can stream writes it as it sends; this
    /// default collects it first, which suits tests and small bodies only.
    fn send_streaming(
        &mut self,
        mut request: Request,
        body: &dyn Body,
    ) -> Result<Response, TransportError> {
        let mut bytes = Vec::new();
        body.write(&mut |chunk| {
            bytes.extend_from_slice(chunk);
            Ok(())
        })?;
        *request.body_mut() = bytes;
        self.send(request)
    }
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
    /// Whether the host has cancelled the run. A host that can cancel also
    /// ends [`Runtime::sleep`] early and has its [`Transport`] give up a
    /// wait with [`TransportErrorKind::Cancelled`]. The default: never.
    fn cancelled(&mut self) -> bool {
        false
    }
}
