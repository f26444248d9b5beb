//! The run's import job: created once (also after a connection that broke
//! on the way), its segment found, waited for, and read into the outcome.
//! Each step moves the [`RunState`] on.

use super::attempt::Idempotency;
use super::call_error::CallError;
use super::calls::{Calls, parse_json};
use super::cleanup;
use super::host::{Level, Runtime, Stage, Transport, TransportErrorKind};
use super::outcome::{Outcome, Target};
use super::run_state::RunState;
use super::staging::{StagedObject, segment_s3_url};
use crate::aws::Request;
use crate::aws::job_status::JobStatus;
use crate::aws::pinpoint::{self, ImportJob, ImportJobRequest};
use crate::error::{ErrorKind, NodeError};

/// Sends `CreateImportJob` for `own` (the run's object), into a new
/// segment or, given `into`, as a new version of that segment; after a
/// connection that broke, finds the job it may have made before sending it
/// again.
pub fn create<T: Transport, R: Runtime>(
    calls: &mut Calls<'_, T, R>,
    state: &mut RunState,
    own: &StagedObject,
    into: Option<&str>,
) -> Result<ImportJob, NodeError> {
    calls.progress(Stage::CreatingJob, 0, None);
    let (format, url, role, name) = (
        calls.input.format,
        own.s3_url.clone(),
        calls.settings().import_role_arn.clone(),
        calls.input.segment_name.clone(),
    );
    let body = match into {
        None => ImportJobRequest::new_segment(format, url, role, name),
        Some(id) => ImportJobRequest::new_version(format, url, role, name, id.to_owned()),
    };
    let request = pinpoint::create_import_job(&calls.pinpoint, calls.app(), &body)?;
    match send_create(calls, state, own, &request) {
        Ok(job) => Ok(job),
        // Cancelled on its way: the job may exist; the run stops here.
        Err(CallError::Ambiguous(e)) if e.kind == TransportErrorKind::Cancelled => {
            Err(NodeError::new(
                ErrorKind::Cancelled,
                "the run was cancelled during CreateImportJob",
            ))
        }
        Err(CallError::Ambiguous(e)) => {
            calls.log(
                Level::Warn,
                &format!(
                    "CreateImportJob may or may not have reached Pinpoint ({}); looking the job up",
                    e.message
                ),
            );
            // This run's object is its own: a segment made from it, and
            // its job, are this run's; so is a job of it into `into`.
            let job = match into {
                Some(id) => calls.job_for(id, &own.s3_url)?,
                None => {
                    let ours = calls
                        .segments_named(None)?
                        .into_iter()
                        .find(|s| segment_s3_url(s) == Some(own.s3_url.as_str()));
                    match ours {
                        Some(segment) => calls.job_for(&segment.id, &own.s3_url)?,
                        None => None,
                    }
                }
            };
            match job {
                Some(job) => Ok(job),
                None => send_create(calls, state, own, &request)
                    .map_err(|e| e.into_node_error("CreateImportJob")),
            }
        }
        Err(e) => Err(e.into_node_error("CreateImportJob")),
    }
}

/// Sends `CreateImportJob` once and reads the job. A job may run from
/// here on unless Pinpoint clearly refused it.
fn send_create<T: Transport, R: Runtime>(
    calls: &mut Calls<'_, T, R>,
    state: &mut RunState,
    own: &StagedObject,
    request: &Request,
) -> Result<ImportJob, CallError> {
    let answer = calls
        .client
        .pinpoint("CreateImportJob", request, Idempotency::Unsafe);
    // A job may exist unless the call clearly made none (refused, or not sent).
    state.create_sent(&own.s3_url, !matches!(answer, Err(CallError::Failed(_))));
    let response = answer?;
    parse_json(response.body(), "CreateImportJob").map_err(CallError::Failed)
}

/// The new segment's id: from the job's definition, else from a fresh
/// `GetImportJob`, else from the segment list (`own`'s `S3Url`).
pub fn segment_id_of<T: Transport, R: Runtime>(
    calls: &mut Calls<'_, T, R>,
    job: &ImportJob,
    own: &StagedObject,
) -> Result<String, NodeError> {
    if let Some(id) = job.definition.segment_id.clone().filter(|s| !s.is_empty()) {
        return Ok(id);
    }
    if let Ok(response) = calls.get_import_job(&job.id) {
        let fresh: ImportJob = parse_json(response.body(), "GetImportJob")?;
        if let Some(id) = fresh.definition.segment_id.filter(|s| !s.is_empty()) {
            return Ok(id);
        }
    }
    match calls
        .segments_named(None)?
        .into_iter()
        .find(|s| segment_s3_url(s) == Some(own.s3_url.as_str()))
    {
        Some(s) => Ok(s.id),
        None => Err(NodeError::new(
            ErrorKind::ServiceError,
            format!(
                "Pinpoint created import job {} but named no segment for it",
                job.id
            ),
        )),
    }
}

/// Polls `job` (of `segment_id`) until it ends, or `TimedOut` after
/// `max-wait-seconds`.
pub fn wait<T: Transport, R: Runtime>(
    calls: &mut Calls<'_, T, R>,
    state: &mut RunState,
    mut job: ImportJob,
    segment_id: &str,
) -> Result<ImportJob, NodeError> {
    let settings = calls.client.settings;
    let start = calls.client.runtime.monotonic();
    let mut interval = settings.poll_interval;
    while !job.is_terminal() {
        let waited = calls.client.runtime.monotonic().saturating_sub(start);
        if waited >= settings.max_wait {
            let mut err = NodeError::new(
                ErrorKind::TimedOut,
                format!(
                    "import job {} (segment {segment_id}) was still {} after {} s; it may still finish: look it up with GetImportJob",
                    job.id,
                    job.job_status,
                    waited.as_secs()
                ),
            );
            err.details.import_job_id = Some(job.id);
            err.details.segment_id = Some(segment_id.to_owned());
            return Err(err);
        }
        calls.progress(
            Stage::WaitingForJob,
            job.completed_pieces.unwrap_or(0),
            job.total_pieces.filter(|t| *t > 0),
        );
        calls
            .client
            .runtime
            .sleep(interval.min(settings.max_wait - waited));
        interval = (interval + interval / 2).min(settings.poll_max_interval);
        let response = calls
            .get_import_job(&job.id)
            .map_err(|e| e.into_node_error("GetImportJob"))?;
        job = parse_json(response.body(), "GetImportJob")?;
    }
    state.job_ended();
    Ok(job)
}

/// The outcome of `job`, which made `segment_id` (or a new version of it,
/// as `target` says); a FAILED job is `ImportJobFailed` (and a new
/// segment deleted).
pub fn outcome<T: Transport, R: Runtime>(
    calls: &mut Calls<'_, T, R>,
    job: ImportJob,
    segment_id: String,
    endpoints_submitted: u64,
    target: Target,
) -> Result<Outcome, NodeError> {
    if job.job_status == JobStatus::Failed {
        return Err(cleanup::failed_job(calls, job, segment_id, target));
    }
    Ok(Outcome::of_job(
        job,
        segment_id,
        calls.name(),
        endpoints_submitted,
        target,
    ))
}
