//! The import flow, generic over its host ([`Transport`], [`Runtime`]).
//!
//! 1. check the input; read, validate and convert the data (nothing leaves
//!    the sandbox unless it all passes);
//! 2. `GetApp`; `GetSegments` (all pages) for the segments of the same name;
//! 3. `PutObject` at this run's own key ([`staging`]);
//! 4. `CreateImportJob` with a new segment; poll `GetImportJob` until the
//!    job ends;
//! 5. `GetSegments` again: the oldest segment of the name stays
//!    ([`name_race`]); a run whose segment is not it removes what it made;
//! 6. delete the staged file; return the segment id.
//!
//! A segment of the same name that was made from the same data is a re-run,
//! not a duplicate: its result is returned and nothing is created.
//!
//! # Many runs of one name at once
//!
//! Every caller gets success with the one segment of the name, or
//! `DuplicateSegmentName` naming it; no import that succeeded is reported as
//! `ImportJobFailed`; nothing a losing run made is left behind.
//!
//! - **Own objects.** A run stages its data at a key of its own (a random
//!   nonce after the data's hash), so no run deletes an object another run's
//!   job is reading. "The same data" is any key of the data's stem, the
//!   nonce'd ones and the one key of earlier versions, so their segments
//!   still resume.
//! - **Decided after creating** ([`name_race`]): Pinpoint has no
//!   conditional create. Once its job has ended (right after creating it
//!   with `wait-for-completion=false`), a run lists the segments of its name;
//!   the oldest stays.
//! - **A run that lost** waits for its own job to end (it reads the run's
//!   object), deletes its object, then its segment: the segment goes last
//!   because until then it names the object, so a re-run can find and finish
//!   the cleanup of a run that stopped half-way. Then, if the winner was made
//!   from the same data, it returns the winner as a re-run would (waiting for
//!   the winner's job); otherwise it reports `DuplicateSegmentName`. The
//!   emulator lets a segment be deleted while its job runs (the job goes on
//!   and completes); Pinpoint documents nothing about it, so the node never
//!   does: it deletes only segments whose job has ended.
//! - **Leftovers.** A run that finds, besides the oldest segment, one of its
//!   own data whose job has ended, removes it (object, then segment): a run
//!   of this data lost and did not finish. After a successful import the run
//!   also deletes objects of its data that no running job reads
//!   (`ListObjectsV2` of the stem): what runs stopped between `PutObject`
//!   and `CreateImportJob` left. Any run that could still use such an object
//!   would make a segment younger than the one that stays, so it loses
//!   anyway.

//! # Modules
//!
//! - `flow` the steps in order; `job` the import job; `cleanup` what
//!   a run removes; `calls` the AWS calls and listings; `client` signs,
//!   sends and retries each call (`attempt` reads each attempt's result,
//!   `call_error` is how a call fails);
//! - `run_state` what the run has made so far, which `cancel_report`
//!   reads for a cancelled run; `outcome` and `output` what a run
//!   returns; `validate` the dry run;
//! - [`staging`] the staged objects' keys, `upload_body` the staged file
//!   as `PutObject` sends it, [`name_race`] which segment keeps the name,
//!   [`host`] what the flow needs from its host.

mod attempt;
mod call_error;
mod calls;
mod cancel_report;
mod cleanup;
mod client;
mod flow;
pub mod host;
mod job;
pub mod name_race;
mod outcome;
mod output;
mod run_state;
pub mod staging;
mod upload_body;
mod validate;

pub use attempt::Idempotency;
pub use call_error::CallError;
pub use client::Client;
pub use flow::run;
pub use host::{
    AttemptTimeout, Body, CLEANUP_TIMEOUT, Cleanup, Level, MAX_ATTEMPT_TIMEOUT, MAX_RESPONSE_BYTES,
    MIN_ATTEMPT_TIMEOUT, Runtime, Stage, Transport, TransportError, TransportErrorKind,
    attempt_timeout,
};
pub use output::{ImportOutput, ValidationReport};
pub use staging::DataKeys;
pub use validate::{StagedFile, limits, stage, validate, validate_reporting};

#[cfg(test)]
mod tests;
