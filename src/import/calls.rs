//! The AWS calls of one run, each sent through the [`Client`] and read:
//! the project and its segments and jobs in Pinpoint (every page of a
//! listing), the objects of the run's data in S3.

use std::collections::HashSet;

use super::attempt::Idempotency;
use super::call_error::CallError;
use super::client::Client;
use super::host::{Level, Runtime, Stage, Transport};
use super::staging::{DataKeys, StagedObject, segment_s3_url};
use crate::aws::pinpoint::{self, ImportJob, ImportJobs, Page, Segment, Segments};
use crate::aws::{Request, Response, s3};
use crate::error::{ErrorKind, NodeError, ServiceContext, quote};
use crate::input::ImportInput;
use crate::settings::Settings;

/// Page size asked of `GetSegments` and `GetImportJobs`.
const PAGE_SIZE: u32 = 100;
/// At most this many pages are read (100,000 segments), so a server that
/// keeps sending tokens cannot keep the node forever.
pub const MAX_PAGES: usize = 1000;

/// The calls of one run: its client, its project (the input's application)
/// and the staging keys of its data.
pub struct Calls<'a, T, R> {
    /// Sends every request.
    pub client: Client<'a, T, R>,
    /// The run's input.
    pub input: &'a ImportInput,
    /// The keys of the input's data.
    pub data: DataKeys,
    /// The Pinpoint endpoint (scheme and authority).
    pub pinpoint: String,
}

impl<T: Transport, R: Runtime> Calls<'_, T, R> {
    /// The project's application id.
    pub fn app(&self) -> &str {
        &self.input.application_id
    }

    /// The segment name of the run.
    pub fn name(&self) -> &str {
        &self.input.segment_name
    }

    /// The run's settings.
    pub fn settings(&self) -> &Settings {
        self.client.settings
    }

    /// Reports progress to the host.
    pub fn progress(&mut self, stage: Stage, completed: u64, total: Option<u64>) {
        self.client.runtime.progress(stage, completed, total);
    }

    /// Logs to the host.
    pub fn log(&mut self, level: Level, message: &str) {
        self.client.runtime.log(level, message);
    }

    /// The object at `key` of the run's data.
    pub fn object(&self, key: &str) -> Result<StagedObject, NodeError> {
        StagedObject::new(self.client.settings, &self.data, key)
    }

    /// `GetApp`: the project exists and may be read.
    pub fn get_app(&mut self) -> Result<(), NodeError> {
        let request = pinpoint::get_app(&self.pinpoint, self.app())?;
        self.client
            .pinpoint("GetApp", &request, Idempotency::Safe)
            .map_err(|e| e.into_node_error("GetApp"))?;
        Ok(())
    }

    /// `GetImportJob` of `job_id`, unread.
    pub fn get_import_job(&mut self, job_id: &str) -> Result<Response, CallError> {
        let request = pinpoint::get_import_job(&self.pinpoint, self.app(), job_id)
            .map_err(CallError::Failed)?;
        self.client
            .pinpoint("GetImportJob", &request, Idempotency::Safe)
    }

    /// `DeleteSegment`; a segment that is already gone counts as deleted.
    pub fn delete_segment(&mut self, segment_id: &str) -> Result<(), NodeError> {
        let request = pinpoint::delete_segment(&self.pinpoint, self.app(), segment_id)?;
        match self
            .client
            .pinpoint("DeleteSegment", &request, Idempotency::Safe)
        {
            Ok(_) => Ok(()),
            Err(CallError::Failed(e)) if is_not_found(&e) => Ok(()),
            Err(e) => Err(e.into_node_error("DeleteSegment")),
        }
    }

    /// `DeleteObject` of `object` (S3 answers success when it is absent).
    pub fn delete_object(&mut self, object: &StagedObject) -> Result<(), NodeError> {
        self.client
            .s3("DeleteObject", &s3::delete_object(&object.uri))
            .map(|_| ())
    }

    /// The `s3://` URLs that import jobs that have not ended read.
    pub fn objects_of_running_jobs(&mut self) -> Result<HashSet<String>, NodeError> {
        let mut running = HashSet::new();
        self.scan_pages::<ImportJobs>("GetImportJobs", pinpoint::get_import_jobs, None, |job| {
            if !job.is_terminal()
                && let Some(url) = job.definition.s3_url
            {
                running.insert(url);
            }
            false
        })?;
        Ok(running)
    }

    /// Every segment named as this run's segment, reading every page of
    /// `GetSegments`; `stage` is reported per page.
    pub fn segments_named(&mut self, stage: Option<Stage>) -> Result<Vec<Segment>, NodeError> {
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
    pub fn job_for(
        &mut self,
        segment_id: &str,
        s3_url: &str,
    ) -> Result<Option<ImportJob>, NodeError> {
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

    /// The version of `segment_id` that was imported from `s3_url`, from
    /// `GetSegmentVersions` (every page); `None` when no version names it.
    pub fn version_from(
        &mut self,
        segment_id: &str,
        s3_url: &str,
    ) -> Result<Option<u64>, NodeError> {
        let mut found = None;
        let id = segment_id.to_owned();
        self.scan_pages::<Segments>(
            "GetSegmentVersions",
            |base, app, size, token| pinpoint::get_segment_versions(base, app, &id, size, token),
            None,
            |v| {
                if segment_s3_url(&v) == Some(s3_url) {
                    // The latest, if Pinpoint lists one object twice.
                    found = found.max(v.version);
                }
                false
            },
        )?;
        Ok(found)
    }

    /// An import job into `segment_id` of this run's data that has not
    /// ended: a run of this input that stopped while its new version was
    /// being made. Its object's key, and the job.
    pub fn running_job_into(
        &mut self,
        segment_id: &str,
    ) -> Result<Option<(String, ImportJob)>, NodeError> {
        let mut found = None;
        let data = self.data.clone();
        self.scan_pages::<ImportJobs>("GetImportJobs", pinpoint::get_import_jobs, None, |j| {
            let key = j
                .definition
                .s3_url
                .as_deref()
                .and_then(|u| data.key_of(u))
                .map(str::to_owned);
            match key {
                Some(key)
                    if !j.is_terminal()
                        && j.definition.segment_id.as_deref() == Some(segment_id) =>
                {
                    found = Some((key, j));
                    true
                }
                _ => false,
            }
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
        request: impl Fn(&str, &str, u32, Option<&str>) -> Result<Request, NodeError>,
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
                .map_err(|e| e.into_node_error(operation))?;
            let (items, next) = parse_json::<P>(response.body(), operation)?.into_parts();
            if let Some(stage) = stage {
                self.progress(stage, page as u64 + 1, None);
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
}

/// `body`, the answer of `operation`, read as `D`; anything else is a
/// `ServiceError`.
pub fn parse_json<D: serde::de::DeserializeOwned>(
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

/// Whether Pinpoint answered that the resource does not exist.
pub fn is_not_found(e: &NodeError) -> bool {
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
    .with_service(ServiceContext {
        operation: operation.to_owned(),
        ..Default::default()
    })
}
