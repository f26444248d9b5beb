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

mod client;
pub mod host;
pub mod name_race;
mod staged;
pub mod staging;

use std::collections::{BTreeMap, HashSet};

use serde::Serialize;

pub use client::{CallError, Client, Failure, Idempotency};
pub use host::{
    AttemptTimeout, Body, CLEANUP_TIMEOUT, Cleanup, Level, MAX_ATTEMPT_TIMEOUT, MAX_RESPONSE_BYTES,
    MIN_ATTEMPT_TIMEOUT, Runtime, Stage, Transport, TransportError, TransportErrorKind,
    attempt_timeout,
};
pub use staging::DataKeys;

use crate::aws::pinpoint::{
    self, ImportJob, ImportJobRequest, ImportJobs, Page, Segment, Segments,
};
use crate::aws::{s3, urls};
use crate::endpoints::{self, Limits};
use crate::error::{ErrorKind, NodeError, quote};
use crate::input::{Format, ImportInput};
use crate::settings::Settings;
use name_race::Decision;
use staged::Staged as StagedBody;
use staging::segment_s3_url;

/// Page size asked of `GetSegments` and `GetImportJobs`.
const PAGE_SIZE: u32 = 100;
/// At most this many pages are read (100,000 segments), so a server that
/// keeps sending tokens cannot keep the node forever.
const MAX_PAGES: usize = 1000;
/// Keys asked of the one `ListObjectsV2` page that finds objects left
/// under the data's stem.
const LIST_KEYS: u32 = 1000;

/// What a successful run returns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImportOutput {
    /// The new segment's id.
    pub segment_id: String,
    /// The import job's id.
    pub import_job_id: String,
    /// The segment's name.
    pub segment_name: String,
    /// The job's last status: `COMPLETED`, or an earlier one when not waiting.
    pub job_status: String,
    /// Endpoints in the staged file.
    pub endpoints_submitted: u64,
    /// Endpoints Pinpoint imported, once the job completed.
    pub endpoints_imported: Option<u64>,
    /// Endpoints Pinpoint could not import, once the job completed.
    pub endpoints_failed: Option<u64>,
    /// Pinpoint's first failures, when some endpoints failed.
    pub failures: Vec<String>,
    /// `s3://bucket/key` of the staged file.
    pub staged_object: String,
    /// Whether the staged file was deleted.
    pub staged_object_deleted: bool,
    /// True when an earlier (or concurrent) run had already made this
    /// segment from this data.
    pub reused_existing_segment: bool,
}

/// What `validate` reports for valid data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ValidationReport {
    /// The input's format.
    pub format: Format,
    /// Endpoints in the data.
    pub endpoint_count: u64,
    /// Endpoints per channel type.
    pub channel_counts: BTreeMap<String, u64>,
    /// Bytes that would be staged in S3.
    pub bytes_to_stage: u64,
    /// The limit they were checked against.
    pub max_import_bytes: u64,
}

/// Checks the input and data completely, without any network: the dry run.
pub fn validate(input: &ImportInput, limits: &Limits) -> Result<ValidationReport, NodeError> {
    validate_reporting(input, limits, &mut |_| {})
}

/// [`validate`], giving `progress` the bytes of data checked so far, every
/// [`endpoints::PROGRESS_STEP`] bytes and at the end.
pub fn validate_reporting(
    input: &ImportInput,
    limits: &Limits,
    progress: &mut dyn FnMut(u64),
) -> Result<ValidationReport, NodeError> {
    input.check()?;
    let checked = endpoints::check(input.format, &input.data, limits, progress)?;
    Ok(ValidationReport {
        format: checked.format,
        endpoint_count: checked.endpoint_count,
        channel_counts: checked.channel_counts,
        bytes_to_stage: checked.staged_bytes,
        max_import_bytes: limits.max_import_bytes,
    })
}

/// The data limits the settings ask for.
pub fn limits(settings: &Settings) -> Limits {
    Limits {
        max_import_bytes: settings.max_import_bytes,
        check_address_format: settings.check_address_format,
    }
}

/// Runs the whole import.
pub fn run<T: Transport, R: Runtime>(
    input: &ImportInput,
    settings: &Settings,
    transport: &mut T,
    runtime: &mut R,
) -> Result<ImportOutput, NodeError> {
    input.check()?;
    let total = input.data.len() as u64;
    runtime.progress(Stage::Validating, 0, Some(total));
    let checked = endpoints::check(input.format, &input.data, &limits(settings), &mut |done| {
        runtime.progress(Stage::Validating, done, Some(total))
    })?;
    runtime.log(
        Level::Info,
        &format!(
            "{} endpoints valid; {} bytes to stage",
            checked.endpoint_count, checked.staged_bytes
        ),
    );
    // Part of the validation as progress goes (stages are reported in
    // order): the staged file is written once more, into the hashes of its
    // body and of the data's staging keys.
    let mut key_hasher = DataKeys::hasher(input);
    let staged = StagedBody::hash(&checked, &mut key_hasher);
    let data = DataKeys::from_hasher(settings, input, key_hasher);
    let own = Staged::new(settings, &data, data.key(runtime.random()))?;
    let mut flow = Flow {
        client: Client {
            transport,
            runtime,
            settings,
            secrets: Vec::new(),
            cleaning_up: false,
        },
        input,
        data,
        own,
        pinpoint: urls::checked_pinpoint_base(settings)?,
        job_may_run: false,
        job: None,
        file: None,
        fate: Fate::NotSent,
    };
    let result = flow.run(&staged);
    match result {
        Err(e) if e.kind == ErrorKind::Cancelled => Err(flow.cancelled(e)),
        other => other,
    }
}

/// What became of this run's own staged file, for a cancelled run's report.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Fate {
    /// Never sent.
    NotSent,
    /// Sent (or on its way when cancelled): it may exist.
    Sent,
    /// Deleted again.
    Deleted,
    /// Left in S3: it could not be deleted, for this reason.
    Left(String),
}

/// An object in the staging bucket: its request URL and its `s3://` URL.
#[derive(Debug, Clone)]
struct Staged {
    uri: http::Uri,
    s3_url: String,
}

impl Staged {
    fn new(settings: &Settings, data: &DataKeys, key: String) -> Result<Staged, NodeError> {
        Ok(Staged {
            uri: urls::s3_object_uri(settings, &key)?,
            s3_url: data.s3_url(&key),
        })
    }
}

/// How the run's own segment fared.
enum Contest {
    /// It is the one of its name: the output.
    Won(Box<ImportOutput>),
    /// Another segment is.
    Lost(Box<Lost>),
}

/// A run's segment that is not the one of its name.
struct Lost {
    /// The run's job (ended, unless the run does not wait).
    job: ImportJob,
    /// The segment the job made.
    segment: String,
    /// The segment that stays.
    winner: Segment,
}

struct Flow<'a, T, R> {
    client: Client<'a, T, R>,
    input: &'a ImportInput,
    /// The keys of this input's data.
    data: DataKeys,
    /// This run's own staged object.
    own: Staged,
    pinpoint: String,
    /// An import job that reads the object being finished may exist and
    /// not have ended, so the object may still be needed.
    job_may_run: bool,
    /// The import job being finished and its segment, once known.
    job: Option<(String, String)>,
    /// The `s3://` URL of the object being finished (this run's own, or
    /// the one a resumed segment was made from), once there is one.
    file: Option<String>,
    /// What became of this run's own object.
    fate: Fate,
}

impl<T: Transport, R: Runtime> Flow<'_, T, R> {
    fn app(&self) -> &str {
        &self.input.application_id
    }

    fn name(&self) -> &str {
        &self.input.segment_name
    }

    fn run(&mut self, staged: &StagedBody<'_, '_>) -> Result<ImportOutput, NodeError> {
        let endpoints_submitted = staged.checked.endpoint_count;
        self.client
            .runtime
            .progress(Stage::CheckingApplication, 0, None);
        let request = pinpoint::get_app(&self.pinpoint, self.app())?;
        self.client
            .pinpoint("GetApp", &request, Idempotency::Safe)
            .map_err(|e| client::plain(e, "GetApp"))?;

        self.client
            .runtime
            .progress(Stage::CheckingSegments, 0, None);
        let named = self.segments_named(Some(Stage::CheckingSegments))?;
        if let Some(oldest) = name_race::oldest(&named).cloned() {
            self.remove_leftovers(&named, &oldest.id);
            let Some(key) = self.data.key_of_segment(&oldest).map(str::to_owned) else {
                return Err(duplicate(self.name(), &oldest.id, ""));
            };
            self.client.runtime.log(
                Level::Info,
                &format!(
                    "segment {} of this name was made from this data before; resuming",
                    oldest.id
                ),
            );
            return self.resume(oldest, key, endpoints_submitted);
        }

        self.client
            .runtime
            .progress(Stage::Staging, 0, Some(staged.checked.staged_bytes));
        let content_type = match staged.checked.format {
            Format::Csv => "text/csv",
            Format::Json => "application/x-ndjson",
        };
        let put = s3::put_object_streamed(&self.own.uri, &staged.sha256, content_type);
        self.fate = Fate::Sent;
        self.file = Some(self.own.s3_url.clone());
        let own = self.own.clone();
        match self.client.s3_streaming("PutObject", &put, staged) {
            Ok(_) => {}
            // Cancelled while the body was on its way: S3 may have stored it.
            Err(e) if e.kind == ErrorKind::Cancelled => return self.finish(&own, Err(e)),
            Err(e) => return Err(e),
        }

        match self.contest(endpoints_submitted) {
            Ok(Contest::Won(out)) => self.finish(&own, Ok(*out)),
            Ok(Contest::Lost(lost)) => self.concede(*lost, endpoints_submitted),
            Err(e) => self.finish(&own, Err(e)),
        }
    }

    /// A cancelled run's error, saying what it leaves behind: a job that
    /// keeps running (with its segment and the staged file it reads), a
    /// staged file that could not be deleted, or nothing.
    fn cancelled(&self, mut err: NodeError) -> NodeError {
        let file = self.file.clone().unwrap_or_default();
        let rerun = "run again with the same input to wait for it and clean up";
        let left = match (&self.job, self.job_may_run, &self.fate) {
            (Some((job, segment)), true, _) => {
                err.details.import_job_id = Some(job.clone());
                err.details.segment_id = Some(segment.clone());
                err.details.staged_object = Some(file.clone());
                format!(
                    "import job {job} keeps running in Pinpoint and makes segment {segment}; the staged file {file} is kept for it: {rerun}"
                )
            }
            (None, true, _) => {
                err.details.staged_object = Some(file.clone());
                format!(
                    "an import job of this file may be running (CreateImportJob may have reached Pinpoint), so the staged file {file} is kept for it: {rerun}"
                )
            }
            (Some((job, segment)), false, _) => {
                err.details.import_job_id = Some(job.clone());
                err.details.segment_id = Some(segment.clone());
                format!(
                    "import job {job} had ended (segment {segment}): run again with the same input for its result"
                )
            }
            (None, false, Fate::NotSent) => "nothing was created in AWS".to_owned(),
            (None, false, Fate::Deleted) => format!(
                "no import job was created and the staged file {file} was deleted: nothing is left"
            ),
            (None, false, Fate::Sent) => {
                err.details.staged_object = Some(file.clone());
                format!(
                    "no import job was created; the staged file {file} is kept (`delete-staged-object` is false)"
                )
            }
            (None, false, Fate::Left(why)) => {
                err.details.staged_object = Some(file.clone());
                format!(
                    "no import job was created, but the staged file {file} could not be deleted ({why}): delete it, or run again with the same input"
                )
            }
        };
        err.message = format!("{}; {left}", err.message);
        err
    }

    /// Creates the job, waits for it to end (if the settings say so), and
    /// decides whether its segment is the one of its name.
    fn contest(&mut self, endpoints_submitted: u64) -> Result<Contest, NodeError> {
        let job = self.create()?;
        let segment = self.segment_id_of(&job)?;
        self.job = Some((job.id.clone(), segment.clone()));
        let job = if self.client.settings.wait_for_completion {
            self.poll(job, &segment)?
        } else {
            job
        };
        // Progress does not go back to `checking-segments` here.
        let named = self.segments_named(None)?;
        match name_race::decide(&segment, &named) {
            Decision::Won => self
                .output(job, segment, endpoints_submitted)
                .map(|out| Contest::Won(Box::new(out))),
            Decision::Lost(winner) => Ok(Contest::Lost(Box::new(Lost {
                job,
                segment,
                winner,
            }))),
            // Without waiting, a segment may not be listed yet; no other is.
            Decision::Gone if !self.client.settings.wait_for_completion => self
                .output(job, segment, endpoints_submitted)
                .map(|out| Contest::Won(Box::new(out))),
            Decision::Gone => {
                let mut err = NodeError::new(
                    ErrorKind::ServiceError,
                    format!(
                        "import job {} ended, but its segment {segment} is no longer in the project: it was deleted while the import ran",
                        job.id
                    ),
                );
                err.details.import_job_id = Some(job.id);
                err.details.segment_id = Some(segment);
                Err(err)
            }
        }
    }

    /// Sends `CreateImportJob`, and after a connection that broke, finds the
    /// job it may have made before sending it again.
    fn create(&mut self) -> Result<ImportJob, NodeError> {
        self.client.runtime.progress(Stage::CreatingJob, 0, None);
        let body = ImportJobRequest::new_segment(
            self.input.format,
            self.own.s3_url.clone(),
            self.client.settings.import_role_arn.clone(),
            self.input.segment_name.clone(),
        );
        let request = pinpoint::create_import_job(&self.pinpoint, self.app(), &body)?;
        match self.send_create(&request) {
            Ok(job) => Ok(job),
            // Cancelled on its way: the job may exist; the run stops here.
            Err(Failure::Ambiguous(e)) if e.kind == TransportErrorKind::Cancelled => {
                Err(NodeError::new(
                    ErrorKind::Cancelled,
                    "the run was cancelled during CreateImportJob",
                ))
            }
            Err(Failure::Ambiguous(e)) => {
                self.client.runtime.log(
                    Level::Warn,
                    &format!("CreateImportJob may or may not have reached Pinpoint ({}); looking the job up", e.message),
                );
                // This run's object is its own: a segment made from it, and
                // its job, are this run's.
                let own_url = self.own.s3_url.clone();
                let ours = self
                    .segments_named(None)?
                    .into_iter()
                    .find(|s| segment_s3_url(s) == Some(own_url.as_str()));
                let job = match ours {
                    Some(segment) => self.job_for(&segment.id, &own_url)?,
                    None => None,
                };
                match job {
                    Some(job) => Ok(job),
                    None => self
                        .send_create(&request)
                        .map_err(|e| client::plain(e, "CreateImportJob")),
                }
            }
            Err(e) => Err(client::plain(e, "CreateImportJob")),
        }
    }

    /// Sends `CreateImportJob` once and reads the job. A job may run from
    /// here on unless Pinpoint clearly refused it.
    fn send_create(&mut self, request: &crate::aws::Request) -> Result<ImportJob, Failure> {
        let answer = self
            .client
            .pinpoint("CreateImportJob", request, Idempotency::Unsafe);
        self.job_may_run = matches!(
            answer,
            Ok(_) | Err(Failure::Ambiguous(_) | Failure::Unread(_))
        );
        let response = answer?;
        parse_json(response.body(), "CreateImportJob").map_err(Failure::Failed)
    }

    /// Polls `job` (of `segment_id`) until it ends, or `TimedOut` after
    /// `max-wait-seconds`.
    fn poll(&mut self, mut job: ImportJob, segment_id: &str) -> Result<ImportJob, NodeError> {
        let settings = self.client.settings;
        self.job_may_run = !job.is_terminal();
        let start = self.client.runtime.monotonic();
        let mut interval = settings.poll_interval;
        while !job.is_terminal() {
            let waited = self.client.runtime.monotonic().saturating_sub(start);
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
            self.client.runtime.progress(
                Stage::WaitingForJob,
                job.completed_pieces.unwrap_or(0),
                job.total_pieces.filter(|t| *t > 0),
            );
            self.client
                .runtime
                .sleep(interval.min(settings.max_wait - waited));
            interval = (interval + interval / 2).min(settings.poll_max_interval);
            let request = pinpoint::get_import_job(&self.pinpoint, self.app(), &job.id)?;
            let response = self
                .client
                .pinpoint("GetImportJob", &request, Idempotency::Safe)
                .map_err(|e| client::plain(e, "GetImportJob"))?;
            job = parse_json(response.body(), "GetImportJob")?;
        }
        self.job_may_run = false;
        Ok(job)
    }

    /// The output of `job`, which made `segment_id`; a FAILED job is
    /// `ImportJobFailed` (and its segment deleted).
    fn output(
        &mut self,
        job: ImportJob,
        segment_id: String,
        endpoints_submitted: u64,
    ) -> Result<ImportOutput, NodeError> {
        if job.job_status == "FAILED" {
            return Err(self.job_failed(job, segment_id));
        }
        let done = job.job_status == "COMPLETED";
        let failed = job.total_failures.unwrap_or(0);
        // The model has `TotalProcessed` ("were processed") and `TotalFailures`
        // ("weren't processed") apart; a count that cannot be apart (more than
        // was submitted) is read as including the failures.
        let imported = match job.total_processed {
            Some(p) if p.saturating_add(failed) > endpoints_submitted => p.saturating_sub(failed),
            Some(p) => p,
            None => endpoints_submitted.saturating_sub(failed),
        };
        Ok(ImportOutput {
            endpoints_imported: done.then_some(imported),
            endpoints_failed: done.then_some(failed),
            failures: job.failures,
            segment_id,
            import_job_id: job.id,
            segment_name: self.input.segment_name.clone(),
            job_status: job.job_status,
            endpoints_submitted,
            staged_object: job.definition.s3_url.unwrap_or_default(),
            staged_object_deleted: false,
            reused_existing_segment: false,
        })
    }

    /// Reports the clean-up stage. A cancelled run still sends its clean-up
    /// requests, each in one short try ([`Client::cleaning_up`]).
    fn start_cleanup(&mut self) {
        self.client.runtime.progress(Stage::CleaningUp, 0, None);
        self.client.cleaning_up = self.client.runtime.cancelled();
    }

    /// A FAILED job: delete its segment (best effort) and report the failures.
    fn job_failed(&mut self, job: ImportJob, segment_id: String) -> NodeError {
        self.start_cleanup();
        let deleted = self.delete_segment(&segment_id).is_ok();
        let first = job
            .failures
            .first()
            .cloned()
            .unwrap_or_else(|| "no reason given".to_owned());
        let mut err = NodeError::new(
            ErrorKind::ImportJobFailed,
            format!(
                "Pinpoint's import job {} failed: {first}; the segment {segment_id} {}",
                job.id,
                if deleted {
                    "was deleted"
                } else {
                    "could not be deleted and may remain"
                }
            ),
        );
        err.details.import_job_id = Some(job.id);
        err.details.segment_id = Some(segment_id);
        err.details.failures = job.failures;
        err
    }

    /// The run's segment lost its name to the winner: once the run's job has
    /// ended, delete its object and then its segment; then return the
    /// winner if it was made from this data, else `DuplicateSegmentName`.
    fn concede(&mut self, lost: Lost, endpoints_submitted: u64) -> Result<ImportOutput, NodeError> {
        let Lost {
            job,
            segment,
            winner,
        } = lost;
        self.client.runtime.log(
            Level::Info,
            &format!(
                "segment {} of this name is older than this run's segment {segment}: it stays, and this run removes what it made",
                winner.id
            ),
        );
        if !job.is_terminal() {
            // The job reads the run's object until it ends.
            if let Err(mut e) = self.poll(job, &segment) {
                e.message = format!(
                    "the older segment {} has this name, so this run's segment is to go once its job ends, but: {}; a re-run removes it",
                    winner.id, e.message
                );
                return Err(e);
            }
        }
        self.start_cleanup();
        let own = self.own.clone();
        let _ = self.delete_staged(&own);
        let kept = match self.delete_segment(&segment) {
            Ok(()) => String::new(),
            Err(e) => {
                self.client.runtime.log(
                    Level::Warn,
                    &format!(
                        "could not delete this run's segment {segment}: {}",
                        e.message
                    ),
                );
                format!(
                    "; this run's own segment {segment} could not be deleted (a re-run of this data removes it)"
                )
            }
        };
        if let Some(key) = self.data.key_of_segment(&winner).map(str::to_owned) {
            self.client.runtime.log(
                Level::Info,
                &format!(
                    "segment {} was made from this same data; returning it",
                    winner.id
                ),
            );
            return self.resume(winner, key, endpoints_submitted);
        }
        self.client.runtime.progress(Stage::Done, 1, Some(1));
        Err(duplicate(self.name(), &winner.id, &kept))
    }

    /// Removes, besides `winner`, the segments of the name made from this
    /// data whose job has ended: a run of this data lost the name and did
    /// not finish removing them. Best effort: failures are logged.
    fn remove_leftovers(&mut self, named: &[Segment], winner: &str) {
        let leftovers: Vec<(String, String)> = named
            .iter()
            .filter(|s| s.id != winner)
            .filter_map(|s| {
                let key = self.data.key_of_segment(s)?;
                Some((s.id.clone(), key.to_owned()))
            })
            .collect();
        for (id, key) in leftovers {
            let url = self.data.s3_url(&key);
            match self.job_for(&id, &url) {
                Ok(Some(job)) if job.is_terminal() => {}
                // Still running (its run removes it when it ends), or not found.
                Ok(_) => continue,
                Err(e) => {
                    self.client.runtime.log(
                        Level::Warn,
                        &format!("could not look up the job of segment {id}: {}", e.message),
                    );
                    continue;
                }
            }
            self.client.runtime.progress(Stage::CleaningUp, 0, None);
            let staged = match Staged::new(self.client.settings, &self.data, key) {
                Ok(staged) => staged,
                Err(_) => continue,
            };
            let _ = self.delete_staged(&staged);
            match self.delete_segment(&id) {
                Ok(()) => self.client.runtime.log(
                    Level::Info,
                    &format!("removed segment {id}, left by a run of this data that lost the name"),
                ),
                Err(e) => self.client.runtime.log(
                    Level::Warn,
                    &format!("could not remove segment {id}, left by a run of this data that lost the name: {}", e.message),
                ),
            }
        }
    }

    /// `DeleteSegment`; a segment that is already gone counts as deleted.
    fn delete_segment(&mut self, segment_id: &str) -> Result<(), NodeError> {
        let request = pinpoint::delete_segment(&self.pinpoint, self.app(), segment_id)?;
        match self
            .client
            .pinpoint("DeleteSegment", &request, Idempotency::Safe)
        {
            Ok(_) => Ok(()),
            Err(Failure::Failed(e)) if is_not_found(&e) => Ok(()),
            Err(e) => Err(client::plain(e, "DeleteSegment")),
        }
    }

    /// Deletes `staged` if the settings allow; whether it is gone, or why
    /// it could not be deleted (also logged).
    fn delete_staged(&mut self, staged: &Staged) -> Result<bool, String> {
        if !self.client.settings.delete_staged_object {
            return Ok(false);
        }
        let request = s3::delete_object(&staged.uri);
        match self.client.s3("DeleteObject", &request) {
            Ok(_) => Ok(true),
            Err(e) => {
                self.client.runtime.log(
                    Level::Warn,
                    &format!(
                        "could not delete the staged file {}: {}",
                        staged.s3_url, e.message
                    ),
                );
                Err(e.message)
            }
        }
    }

    /// Deletes `staged` where that is safe, and reports on it. After a
    /// completed import, also deletes what other runs of this data left
    /// staged ([`Flow::sweep`]).
    fn finish(
        &mut self,
        staged: &Staged,
        result: Result<ImportOutput, NodeError>,
    ) -> Result<ImportOutput, NodeError> {
        // A job that is still running (not waited for, timed out, or its
        // polling failed) still needs the file; a re-run deletes it.
        let job_running = match &result {
            Ok(out) => out.job_status != "COMPLETED",
            Err(_) => self.job_may_run,
        };
        let deleted = if self.client.settings.delete_staged_object && !job_running {
            self.start_cleanup();
            let outcome = self.delete_staged(staged);
            if staged.s3_url == self.own.s3_url {
                self.fate = match &outcome {
                    Ok(true) => Fate::Deleted,
                    Ok(false) => Fate::Sent,
                    Err(why) => Fate::Left(why.clone()),
                };
            }
            outcome == Ok(true)
        } else {
            false
        };
        if deleted && result.as_ref().is_ok_and(|o| o.job_status == "COMPLETED") {
            self.sweep();
        }
        self.client.runtime.progress(Stage::Done, 1, Some(1));
        result.map(|mut out| {
            out.staged_object = staged.s3_url.clone();
            out.staged_object_deleted = deleted;
            out
        })
    }

    /// Deletes the objects of this data that no running import job reads:
    /// left by runs that stopped after `PutObject` and before their job (or
    /// before deleting). Called once this data's segment has its import
    /// completed, so a run that could still use one loses its name to that
    /// segment. Best effort: one page of `ListObjectsV2`; failures are
    /// logged (without `s3:ListBucket` nothing is swept).
    fn sweep(&mut self) {
        let settings = self.client.settings;
        let Ok(uri) = urls::s3_list_uri(settings, self.data.stem(), LIST_KEYS) else {
            return;
        };
        let listed = match self.client.s3("ListObjectsV2", &s3::list_objects(&uri)) {
            Ok(response) => s3::listed_keys(response.body()),
            Err(e) => {
                self.client.runtime.log(
                    Level::Info,
                    &format!(
                        "could not list the staging prefix for objects that earlier runs of this data left ({}); they stay",
                        e.message
                    ),
                );
                return;
            }
        };
        let left: Vec<String> = listed.into_iter().filter(|k| self.data.holds(k)).collect();
        if left.is_empty() {
            return;
        }
        let mut running: HashSet<String> = HashSet::new();
        let scanned = self.scan_pages::<ImportJobs>(
            "GetImportJobs",
            pinpoint::get_import_jobs,
            None,
            |job| {
                if !job.is_terminal()
                    && let Some(url) = job.definition.s3_url
                {
                    running.insert(url);
                }
                false
            },
        );
        if let Err(e) = scanned {
            self.client.runtime.log(
                Level::Info,
                &format!(
                    "could not list the import jobs, so objects that earlier runs of this data left stay: {}",
                    e.message
                ),
            );
            return;
        }
        for key in left {
            if running.contains(&self.data.s3_url(&key)) {
                continue;
            }
            if let Ok(staged) = Staged::new(settings, &self.data, key)
                && self.delete_staged(&staged) == Ok(true)
            {
                self.client.runtime.log(
                    Level::Info,
                    &format!(
                        "deleted {}, staged by an earlier run of this data that did not finish",
                        staged.s3_url
                    ),
                );
            }
        }
    }

    /// A re-run: `segment` exists and was made from this data, the object
    /// at `key` (by an earlier run, or by a concurrent one this run lost its
    /// name to).
    fn resume(
        &mut self,
        segment: Segment,
        key: String,
        endpoints_submitted: u64,
    ) -> Result<ImportOutput, NodeError> {
        // Until the job is found, it may be running.
        self.job_may_run = true;
        let staged = Staged::new(self.client.settings, &self.data, key)?;
        let url = staged.s3_url.clone();
        self.file = Some(url.clone());
        let result = self.resumed(segment, &url, endpoints_submitted);
        self.finish(&staged, result).map(|mut out| {
            out.reused_existing_segment = true;
            out
        })
    }

    /// The output of the import that made `segment` from `url`.
    fn resumed(
        &mut self,
        segment: Segment,
        url: &str,
        endpoints_submitted: u64,
    ) -> Result<ImportOutput, NodeError> {
        match self.job_for(&segment.id, url)? {
            Some(job) => {
                self.job = Some((job.id.clone(), segment.id.clone()));
                let job = if self.client.settings.wait_for_completion {
                    self.poll(job, &segment.id)?
                } else {
                    job
                };
                self.output(job, segment.id, endpoints_submitted)
            }
            None => Ok(ImportOutput {
                segment_id: segment.id,
                import_job_id: String::new(),
                segment_name: self.input.segment_name.clone(),
                job_status: "COMPLETED".to_owned(),
                endpoints_submitted,
                endpoints_imported: segment.import_definition.and_then(|d| d.size),
                endpoints_failed: None,
                failures: Vec::new(),
                staged_object: url.to_owned(),
                staged_object_deleted: false,
                reused_existing_segment: true,
            }),
        }
    }

    /// Every segment named as this run's segment, reading every page of
    /// `GetSegments`; `stage` is reported per page.
    fn segments_named(&mut self, stage: Option<Stage>) -> Result<Vec<Segment>, NodeError> {
        let name = self.input.segment_name.clone();
        let mut named = Vec::new();
        self.scan_pages::<Segments>("GetSegments", pinpoint::get_segments, stage, |s| {
            if s.name.as_deref() == Some(name.as_str()) {
                named.push(s);
            }
            false
        })?;
        Ok(named)
    }

    /// The import job that made `segment_id` from `s3_url`, if any. Other
    /// jobs of the same object (a FAILED one whose segment was deleted, say)
    /// are not it.
    fn job_for(&mut self, segment_id: &str, s3_url: &str) -> Result<Option<ImportJob>, NodeError> {
        let mut found = None;
        self.scan_pages::<ImportJobs>("GetImportJobs", pinpoint::get_import_jobs, None, |j| {
            let it = j.definition.s3_url.as_deref() == Some(s3_url)
                && j.definition
                    .segment_id
                    .as_deref()
                    .is_none_or(|id| id == segment_id);
            if it {
                found = Some(j);
            }
            it
        })?;
        Ok(found)
    }

    /// Reads the pages of `operation` (made by `request`), giving each item
    /// to `visit` until it returns `true` or there are no more pages;
    /// `stage`, if given, is reported once per page.
    ///
    /// A listing that does not end (a token sent twice, or more than
    /// [`MAX_PAGES`] pages) is a `ServiceError` naming the operation: the
    /// listing is incomplete, so what it did not show cannot be trusted.
    fn scan_pages<P: Page>(
        &mut self,
        operation: &str,
        request: fn(&str, &str, u32, Option<&str>) -> Result<crate::aws::Request, NodeError>,
        stage: Option<Stage>,
        mut visit: impl FnMut(P::Item) -> bool,
    ) -> Result<(), NodeError> {
        let mut token: Option<String> = None;
        let mut seen: HashSet<String> = HashSet::new();
        for page in 0..MAX_PAGES {
            let request = request(&self.pinpoint, self.app(), PAGE_SIZE, token.as_deref())?;
            let response = self
                .client
                .pinpoint(operation, &request, Idempotency::Safe)
                .map_err(|e| client::plain(e, operation))?;
            let (items, next) = parse_json::<P>(response.body(), operation)?.into_parts();
            if let Some(stage) = stage {
                self.client.runtime.progress(stage, page as u64 + 1, None);
            }
            for item in items {
                if visit(item) {
                    return Ok(());
                }
            }
            let Some(next) = next.filter(|t| !t.is_empty()) else {
                return Ok(());
            };
            if !seen.insert(next.clone()) {
                return Err(endless_listing(
                    operation,
                    format!(
                        "page {} gave the NextToken \"{}\" that an earlier page gave",
                        page + 1,
                        quote(&next)
                    ),
                ));
            }
            token = Some(next);
        }
        Err(endless_listing(
            operation,
            format!("it still had more after {MAX_PAGES} pages"),
        ))
    }

    /// The new segment's id: from the job's definition, else from a fresh
    /// `GetImportJob`, else from the segment list (this run's `S3Url`).
    fn segment_id_of(&mut self, job: &ImportJob) -> Result<String, NodeError> {
        if let Some(id) = job.definition.segment_id.clone().filter(|s| !s.is_empty()) {
            return Ok(id);
        }
        let request = pinpoint::get_import_job(&self.pinpoint, self.app(), &job.id)?;
        if let Ok(response) = self
            .client
            .pinpoint("GetImportJob", &request, Idempotency::Safe)
        {
            let fresh: ImportJob = parse_json(response.body(), "GetImportJob")?;
            if let Some(id) = fresh.definition.segment_id.filter(|s| !s.is_empty()) {
                return Ok(id);
            }
        }
        let own_url = self.own.s3_url.clone();
        match self
            .segments_named(None)?
            .into_iter()
            .find(|s| segment_s3_url(s) == Some(own_url.as_str()))
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
}

/// `DuplicateSegmentName`: `name` is taken by `segment_id`; `more` ends the
/// message.
fn duplicate(name: &str, segment_id: &str, more: &str) -> NodeError {
    let mut err = NodeError::new(
        ErrorKind::DuplicateSegmentName,
        format!(
            "a segment named \"{}\" already exists in this project (id {}); choose another name{more}",
            quote(name),
            quote(segment_id)
        ),
    )
    .with_field("segment_name");
    err.details.segment_id = Some(segment_id.to_owned());
    err
}

/// Whether Pinpoint answered that the resource does not exist.
fn is_not_found(e: &NodeError) -> bool {
    e.details.service.as_ref().is_some_and(|s| {
        s.http_status == Some(404) && s.aws_error_type.as_deref() == Some("NotFoundException")
    })
}

/// The error of a paged listing that does not end.
fn endless_listing(operation: &str, why: String) -> NodeError {
    NodeError::new(
        ErrorKind::ServiceError,
        format!(
            "{operation} did not finish listing: {why}; the listing cannot be read to its end, so the import does not go ahead"
        ),
    )
    .with_service(crate::error::ServiceContext {
        operation: operation.to_owned(),
        ..Default::default()
    })
}

fn parse_json<D: serde::de::DeserializeOwned>(
    body: &[u8],
    operation: &str,
) -> Result<D, NodeError> {
    serde_json::from_slice(body).map_err(|e| {
        NodeError::new(
            ErrorKind::ServiceError,
            format!("{operation} answered something that is not the expected JSON ({e})"),
        )
    })
}

#[cfg(test)]
mod tests;
