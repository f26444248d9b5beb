//! The node's errors of a run the component did not end itself: a trap
//! (the memory cap and the pool's errors by their types), the host's
//! deadline, and a cancelled run the host stopped.

use std::time::Duration;

use pinpoint_segment_import::error::{ErrorKind, NodeError};
use pinpoint_segment_import::import::Stage;
use wasmtime::PoolConcurrencyLimitError;

use super::engine::CancelledWaitingForSlot;
use super::limits::MemoryLimitExceeded;
use super::run_config::CANCEL_GRACE;

/// The error of a run that passed its deadline.
pub(super) fn deadline_error(deadline: Duration) -> NodeError {
    NodeError::new(
        ErrorKind::TimedOut,
        format!(
            "the run did not finish within the host's deadline of {} s",
            deadline.as_secs()
        ),
    )
}

/// The error of a cancelled run the host stopped (after [`CANCEL_GRACE`],
/// or before the component started): what may be left follows from the
/// last stage the component reported.
pub(super) fn stopped_error(stage: Option<Stage>) -> NodeError {
    let left = match stage {
        None | Some(Stage::Validating | Stage::CheckingApplication | Stage::CheckingSegments) => {
            "nothing had been created in AWS"
        }
        Some(Stage::Staging) => {
            "the staged file may have been stored in S3: run again with the same input, or delete it under the staging prefix"
        }
        Some(Stage::CreatingJob | Stage::WaitingForJob) => {
            "an import job may be running, with its segment and the staged file it reads: run again with the same input to wait for it and clean up"
        }
        Some(Stage::CleaningUp | Stage::Done) => {
            "the import had ended; its staged file may be left: run again with the same input to clean up"
        }
    };
    let stage = stage.map_or("starting", Stage::name);
    NodeError::new(
        ErrorKind::Cancelled,
        format!(
            "the run was cancelled while {stage} and did not stop within {} s, so the host stopped it; {left}",
            CANCEL_GRACE.as_secs_f64()
        ),
    )
}

/// A trap as the node's error: the memory cap by its type, anything else a
/// `ServiceError` that names the trap (no backtrace: the trap's message only).
pub(super) fn trap_error(trap: &wasmtime::Error) -> NodeError {
    if let Some(cap) = trap.downcast_ref::<MemoryLimitExceeded>() {
        let mut e = NodeError::new(
            ErrorKind::OutOfMemory,
            format!(
                "the run needed more memory than the host allows it: {cap}; raise the host's memory limit, or import less data at once"
            ),
        );
        e.details.limit_bytes = Some(cap.limit as u64);
        e.details.actual_bytes = Some(cap.desired as u64);
        return e;
    }
    if let Some(waiting) = trap.downcast_ref::<CancelledWaitingForSlot>() {
        return NodeError::new(
            ErrorKind::Cancelled,
            format!("{waiting}; it had not started, and nothing had been created in AWS"),
        );
    }
    if let Some(full) = trap.downcast_ref::<PoolConcurrencyLimitError>() {
        return NodeError::new(
            ErrorKind::ServiceError,
            format!("the host has no free instance slot for this run: {full}"),
        );
    }
    let reason = match trap.downcast_ref::<wasmtime::Trap>() {
        Some(code) => code.to_string(),
        // A host error: its own message, not the backtrace context around it.
        None => trap.root_cause().to_string(),
    };
    NodeError::new(
        ErrorKind::ServiceError,
        format!("the component stopped with a trap: {reason}"),
    )
}
