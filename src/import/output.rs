//! What the node returns: a run's output, and the dry run's report.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::aws::job_status::JobStatus;
use crate::input::Format;

/// What a successful run returns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImportOutput {
    /// The segment's id: the new segment's, or the existing one's that took
    /// a new version (`on_existing: new_version`).
    pub segment_id: String,
    /// The import job's id.
    pub import_job_id: String,
    /// The segment's name.
    pub segment_name: String,
    /// The job's last status: `COMPLETED`, or an earlier one when not
    /// waiting (serialised as Pinpoint names it).
    pub job_status: JobStatus,
    /// Endpoints in the staged file.
    pub endpoints_submitted: u64,
    /// Endpoints Pinpoint imported, once the job completed.
    pub endpoints_imported: Option<u64>,
    /// Endpoints Pinpoint could not import, once the job completed.
    pub endpoints_failed: Option<u64>,
    /// Pinpoint's first failures, when some endpoints failed.
    pub failures: Vec<String>,
    /// `s3://bucket/key` of the staged object.
    pub staged_object: String,
    /// Whether the staged object was deleted.
    pub staged_object_deleted: bool,
    /// True when an earlier (or concurrent) run had already made this
    /// segment from this data.
    pub reused_existing_segment: bool,
    /// The segment's version after the run, when Pinpoint reports it.
    pub segment_version: Option<u64>,
    /// True when this run made the segment (false when it found it made
    /// from this data, or imported into it as a new version).
    pub created_segment: bool,
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
