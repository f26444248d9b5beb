//! The import flow, generic over its host ([`Transport`], [`Runtime`]).
//!
//! 1. check the input; read, validate and convert the data (nothing leaves
//!    the sandbox unless it all passes);
//! 2. `GetApp`; `GetSegments` (all pages) for a segment of the same name;
//! 3. `PutObject` at a content-addressed key (same input, same key);
//! 4. `CreateImportJob` with a new segment; poll `GetImportJob`;
//! 5. delete the staged file; return the segment id.
//!
//! A segment of the same name that was made from this very staged file is a
//! retried run, not a duplicate: its result is returned and nothing is created.

mod client;
pub mod host;
mod staged;

use std::collections::{BTreeMap, HashSet};

use serde::Serialize;
use sha2::{Digest, Sha256};

pub use client::{CallError, Client, Failure, Idempotency};
pub use host::{
    AttemptTimeout, Body, Level, MAX_ATTEMPT_TIMEOUT, MAX_RESPONSE_BYTES, MIN_ATTEMPT_TIMEOUT,
    Runtime, Stage, Transport, TransportError, TransportErrorKind, attempt_timeout,
};

use crate::aws::pinpoint::{
    self, ImportJob, ImportJobRequest, ImportJobs, Page, Segment, Segments,
};
use crate::aws::{s3, urls};
use crate::endpoints::{self, Limits};
use crate::error::{ErrorKind, NodeError, quote};
use crate::input::{Format, ImportInput};
use crate::settings::Settings;
use staged::Staged;

/// Page size asked of `GetSegments` and `GetImportJobs`.
const PAGE_SIZE: u32 = 100;
/// At most this many pages are read (100,000 segments), so a server that
/// keeps sending tokens cannot keep the node forever.
const MAX_PAGES: usize = 1000;

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
    /// True when an earlier run had already made this segment from this file.
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

/// The staging key: `{prefix}{sha256(app, name, format, sha256(body))}.{ext}`,
/// so a re-run of the same input stages the same object and finds its segment.
pub fn staging_key(settings: &Settings, input: &ImportInput, body: &[u8]) -> String {
    staging_key_of(settings, input, &Sha256::digest(body).into())
}

/// [`staging_key`] of the body whose SHA-256 is `body_sha256`.
pub fn staging_key_of(settings: &Settings, input: &ImportInput, body_sha256: &[u8; 32]) -> String {
    let mut h = Sha256::new();
    for part in [
        input.application_id.as_bytes(),
        input.segment_name.as_bytes(),
        input.format.as_str().as_bytes(),
    ] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part);
    }
    h.update(body_sha256);
    let digest = hex::encode(h.finalize());
    format!(
        "{}{}.{}",
        settings.staging_prefix,
        &digest[..32],
        input.format.extension()
    )
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
    // order): the staged file is written once more, into the hash.
    let staged = Staged::hash(&checked);
    let key = staging_key_of(settings, input, &staged.sha256);
    let mut flow = Flow {
        client: Client {
            transport,
            runtime,
            settings,
            secrets: Vec::new(),
        },
        input,
        object_url: urls::s3_object_uri(settings, &key)?,
        s3_url: format!("s3://{}/{key}", settings.staging_bucket),
        pinpoint: urls::checked_pinpoint_base(settings)?,
        job_may_run: false,
    };
    flow.run(&staged)
}

struct Flow<'a, T, R> {
    client: Client<'a, T, R>,
    input: &'a ImportInput,
    object_url: http::Uri,
    s3_url: String,
    pinpoint: String,
    /// An import job of this file may exist and not have ended, so it may
    /// still need the staged file.
    job_may_run: bool,
}

impl<T: Transport, R: Runtime> Flow<'_, T, R> {
    fn app(&self) -> &str {
        &self.input.application_id
    }

    fn run(&mut self, staged: &Staged<'_, '_>) -> Result<ImportOutput, NodeError> {
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
        if let Some(existing) = self.segment_named(&self.input.segment_name.clone())? {
            let from_this_file = existing
                .import_definition
                .as_ref()
                .and_then(|d| d.s3_url.as_deref())
                == Some(self.s3_url.as_str());
            if !from_this_file {
                let mut err = NodeError::new(
                    ErrorKind::DuplicateSegmentName,
                    format!(
                        "a segment named \"{}\" already exists in this project (id {}); choose another name",
                        quote(&self.input.segment_name),
                        quote(&existing.id)
                    ),
                )
                .with_field("segment_name");
                err.details.segment_id = Some(existing.id);
                return Err(err);
            }
            self.client.runtime.log(
                Level::Info,
                "this file was imported before into this segment; resuming",
            );
            return self.resume(existing, endpoints_submitted);
        }

        self.client
            .runtime
            .progress(Stage::Staging, 0, Some(staged.checked.staged_bytes));
        let content_type = match staged.checked.format {
            Format::Csv => "text/csv",
            Format::Json => "application/x-ndjson",
        };
        let put = s3::put_object_streamed(&self.object_url, &staged.sha256, content_type);
        self.client.s3_streaming("PutObject", &put, staged)?;

        let result = self.create_and_wait(endpoints_submitted);
        self.finish(result)
    }

    /// Creates the job and waits for it; the staged file is still there.
    fn create_and_wait(&mut self, endpoints_submitted: u64) -> Result<ImportOutput, NodeError> {
        self.client.runtime.progress(Stage::CreatingJob, 0, None);
        let body = ImportJobRequest::new_segment(
            self.input.format,
            self.s3_url.clone(),
            self.client.settings.import_role_arn.clone(),
            self.input.segment_name.clone(),
        );
        let request = pinpoint::create_import_job(&self.pinpoint, self.app(), &body)?;
        let job = match self.send_create(&request) {
            Ok(job) => job,
            Err(Failure::Ambiguous(e)) => {
                self.client.runtime.log(
                    Level::Warn,
                    &format!("CreateImportJob may or may not have reached Pinpoint ({}); looking the job up", e.message),
                );
                // Before this run there was no segment of this name; if there
                // is one made from this file now, the job that made it is ours.
                // (An older job of the same file, say a FAILED one, is not.)
                let ours = match self.segment_from_this_file()? {
                    Some(segment) => self.job_for_this_file(&segment.id)?,
                    None => None,
                };
                match ours {
                    Some(job) => job,
                    None => self
                        .send_create(&request)
                        .map_err(|e| client::plain(e, "CreateImportJob"))?,
                }
            }
            Err(e) => return Err(client::plain(e, "CreateImportJob")),
        };
        let segment_id = self.segment_id_of(&job)?;
        self.wait(job, segment_id, endpoints_submitted)
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

    /// Waits for `job` unless the settings say not to, then builds the output.
    fn wait(
        &mut self,
        mut job: ImportJob,
        segment_id: String,
        endpoints_submitted: u64,
    ) -> Result<ImportOutput, NodeError> {
        let settings = self.client.settings;
        self.job_may_run = !job.is_terminal();
        if settings.wait_for_completion {
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
                    err.details.segment_id = Some(segment_id);
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
            if job.job_status == "FAILED" {
                return Err(self.job_failed(job, segment_id));
            }
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
            staged_object: self.s3_url.clone(),
            staged_object_deleted: false,
            reused_existing_segment: false,
        })
    }

    /// A FAILED job: delete its segment (best effort) and report the failures.
    fn job_failed(&mut self, job: ImportJob, segment_id: String) -> NodeError {
        self.client.runtime.progress(Stage::CleaningUp, 0, None);
        let deleted = pinpoint::delete_segment(&self.pinpoint, self.app(), &segment_id).is_ok_and(
            |request| {
                self.client
                    .pinpoint("DeleteSegment", &request, Idempotency::Safe)
                    .is_ok()
            },
        );
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

    /// Deletes the staged file where that is safe, and reports on it.
    fn finish(
        &mut self,
        result: Result<ImportOutput, NodeError>,
    ) -> Result<ImportOutput, NodeError> {
        // A job that is still running (not waited for, timed out, or its
        // polling failed) still needs the file; a re-run deletes it.
        let job_running = match &result {
            Ok(out) => out.job_status != "COMPLETED",
            Err(_) => self.job_may_run,
        };
        let deleted = if self.client.settings.delete_staged_object && !job_running {
            self.client.runtime.progress(Stage::CleaningUp, 0, None);
            let request = s3::delete_object(&self.object_url);
            match self.client.s3("DeleteObject", &request) {
                Ok(_) => true,
                Err(e) => {
                    self.client.runtime.log(
                        Level::Warn,
                        &format!(
                            "could not delete the staged file {}: {}",
                            self.s3_url, e.message
                        ),
                    );
                    false
                }
            }
        } else {
            false
        };
        self.client.runtime.progress(Stage::Done, 1, Some(1));
        result.map(|mut out| {
            out.staged_object_deleted = deleted;
            out
        })
    }

    /// A retried run: the segment exists and came from this file.
    fn resume(
        &mut self,
        segment: Segment,
        endpoints_submitted: u64,
    ) -> Result<ImportOutput, NodeError> {
        // Until the job is found, it may be running.
        self.job_may_run = true;
        let result = match self.job_for_this_file(&segment.id)? {
            Some(job) => self.wait(job, segment.id, endpoints_submitted),
            None => Ok(ImportOutput {
                segment_id: segment.id,
                import_job_id: String::new(),
                segment_name: self.input.segment_name.clone(),
                job_status: "COMPLETED".to_owned(),
                endpoints_submitted,
                endpoints_imported: segment.import_definition.and_then(|d| d.size),
                endpoints_failed: None,
                failures: Vec::new(),
                staged_object: self.s3_url.clone(),
                staged_object_deleted: false,
                reused_existing_segment: true,
            }),
        };
        self.finish(result).map(|mut out| {
            out.reused_existing_segment = true;
            out
        })
    }

    /// The segment named `name`, reading every page of `GetSegments`.
    fn segment_named(&mut self, name: &str) -> Result<Option<Segment>, NodeError> {
        self.find_segment(|s| s.name.as_deref() == Some(name))
    }

    /// The segment of this run's name made from this run's staged file.
    fn segment_from_this_file(&mut self) -> Result<Option<Segment>, NodeError> {
        let (name, s3_url) = (self.input.segment_name.clone(), self.s3_url.clone());
        self.find_segment(|s| {
            s.name.as_deref() == Some(name.as_str())
                && s.import_definition
                    .as_ref()
                    .and_then(|d| d.s3_url.as_deref())
                    == Some(s3_url.as_str())
        })
    }

    /// The first segment `wanted` accepts, reading every page of `GetSegments`.
    fn find_segment(
        &mut self,
        wanted: impl Fn(&Segment) -> bool,
    ) -> Result<Option<Segment>, NodeError> {
        self.find_in_pages::<Segments>(
            "GetSegments",
            pinpoint::get_segments,
            Some(Stage::CheckingSegments),
            wanted,
        )
    }

    /// The import job that made `segment_id` from this run's staged file (its
    /// `S3Url`), if any. Other jobs of the same file (a FAILED one whose
    /// segment was deleted, say) are not it.
    fn job_for_this_file(&mut self, segment_id: &str) -> Result<Option<ImportJob>, NodeError> {
        let s3_url = self.s3_url.clone();
        self.find_in_pages::<ImportJobs>("GetImportJobs", pinpoint::get_import_jobs, None, |j| {
            j.definition.s3_url.as_deref() == Some(s3_url.as_str())
                && j.definition
                    .segment_id
                    .as_deref()
                    .is_none_or(|id| id == segment_id)
        })
    }

    /// The first item `wanted` accepts, reading the pages of `operation` (made
    /// by `request`) until one has it or there are no more; `stage`, if given,
    /// is reported once per page.
    ///
    /// A listing that does not end (a token sent twice, or more than
    /// [`MAX_PAGES`] pages) is a `ServiceError` naming the operation: the
    /// search is incomplete, so its "not found" cannot be trusted.
    fn find_in_pages<P: Page>(
        &mut self,
        operation: &str,
        request: fn(&str, &str, u32, Option<&str>) -> Result<crate::aws::Request, NodeError>,
        stage: Option<Stage>,
        wanted: impl Fn(&P::Item) -> bool,
    ) -> Result<Option<P::Item>, NodeError> {
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
            if let Some(found) = items.into_iter().find(|item| wanted(item)) {
                return Ok(Some(found));
            }
            let Some(next) = next.filter(|t| !t.is_empty()) else {
                return Ok(None);
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
    /// `GetImportJob`, else from the segment list (name and `S3Url`).
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
        match self.segment_named(&self.input.segment_name.clone())? {
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
