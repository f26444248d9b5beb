//! The emulated Pinpoint's data: applications, segments and import jobs, and their
//! wire (JSON) form: PascalCase fields, ISO-8601 date strings, lowercase `tags`.

use std::collections::{BTreeMap, HashMap};

use serde_json::{Map, Value, json};

use time::OffsetDateTime;

use super::util::{hex_id, iso8601, now_iso8601};

/// The account id used in ARNs.
pub(crate) const ACCOUNT_ID: &str = "123456789012";

/// An import job's status (Pinpoint's `JobStatus` enum).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobStatus {
    /// Just created.
    Created,
    /// First preparation step.
    PreparingForInitialization,
    /// Second preparation step.
    Initializing,
    /// The staged objects have been read and counted.
    Processing,
    /// Waiting for another job (never produced by the emulator).
    PendingJob,
    /// Finishing.
    Completing,
    /// Terminal: done (possibly with row failures).
    Completed,
    /// Failing (a piece could not be processed).
    Failing,
    /// Terminal: failed.
    Failed,
}

impl JobStatus {
    /// The wire name, e.g. `"PREPARING_FOR_INITIALIZATION"`.
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Created => "CREATED",
            JobStatus::PreparingForInitialization => "PREPARING_FOR_INITIALIZATION",
            JobStatus::Initializing => "INITIALIZING",
            JobStatus::Processing => "PROCESSING",
            JobStatus::PendingJob => "PENDING_JOB",
            JobStatus::Completing => "COMPLETING",
            JobStatus::Completed => "COMPLETED",
            JobStatus::Failing => "FAILING",
            JobStatus::Failed => "FAILED",
        }
    }

    /// Whether the status is terminal (COMPLETED or FAILED).
    pub fn is_terminal(self) -> bool {
        matches!(self, JobStatus::Completed | JobStatus::Failed)
    }
}

impl std::fmt::Display for JobStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for JobStatus {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// `SegmentImportResource`.
#[derive(Debug, Clone)]
pub(crate) struct ImportDefinition {
    pub format: String,
    pub s3_url: String,
    pub role_arn: String,
    pub external_id: Option<String>,
    pub size: u64,
    pub channel_counts: BTreeMap<String, u64>,
}

/// A segment.
#[derive(Debug, Clone)]
pub(crate) struct Segment {
    pub id: String,
    pub name: Option<String>,
    pub imported: bool,
    pub creation_date: String,
    pub last_modified_date: Option<String>,
    pub version: u32,
    pub import: Option<ImportDefinition>,
}

/// `ImportJobResource` (the job's `Definition`).
#[derive(Debug, Clone)]
pub(crate) struct JobDefinition {
    pub define_segment: bool,
    pub external_id: Option<String>,
    pub format: String,
    pub register_endpoints: bool,
    pub role_arn: String,
    pub s3_url: String,
    pub segment_id: Option<String>,
    pub segment_name: Option<String>,
}

/// An import job.
#[derive(Debug, Clone)]
pub(crate) struct ImportJob {
    pub id: String,
    pub creation_date: String,
    pub completion_date: Option<String>,
    pub definition: JobDefinition,
    pub status: JobStatus,
    pub total_pieces: Option<u64>,
    pub completed_pieces: Option<u64>,
    pub failed_pieces: Option<u64>,
    pub total_processed: Option<u64>,
    pub total_failures: Option<u64>,
    pub failures: Vec<String>,
    /// Endpoints imported per channel (copied to the segment).
    pub channel_counts: BTreeMap<String, u64>,
    /// Set by `Fault::FailJob`: the job fails with these failures instead of processing.
    pub forced_failures: Option<Vec<String>>,
    /// When the job entered its current status (creation, or its last step).
    pub last_step: tokio::time::Instant,
}

/// An application (project).
#[derive(Debug, Clone)]
pub(crate) struct App {
    pub id: String,
    pub name: String,
    pub creation_date: String,
    pub segments: Vec<Segment>,
    pub jobs: Vec<ImportJob>,
}

/// Everything the emulated Pinpoint holds.
#[derive(Debug, Default)]
pub(crate) struct PinpointState {
    pub apps: HashMap<String, App>,
    /// Gives new segments their creation dates.
    pub segment_clock: SegmentClock,
}

/// The creation dates of segments: now, to the millisecond (the dates'
/// precision), but always later than the one before, so the order of
/// creation dates is the order of creation, without ties, as a client that
/// keeps the oldest segment of a name relies on.
#[derive(Debug, Default)]
pub(crate) struct SegmentClock {
    /// The last date given, in milliseconds since 1970.
    last_ms: i128,
}

impl SegmentClock {
    /// The creation date of a segment created now.
    pub(crate) fn next(&mut self) -> String {
        let now_ms = OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
        let ms = now_ms.max(self.last_ms + 1);
        self.last_ms = ms;
        OffsetDateTime::from_unix_timestamp_nanos(ms * 1_000_000)
            .map(iso8601)
            .unwrap_or_else(|_| now_iso8601())
    }
}

impl PinpointState {
    /// Adds an application unless it exists; returns it.
    pub(crate) fn add_app(&mut self, id: &str) -> &mut App {
        self.apps.entry(id.to_owned()).or_insert_with(|| App {
            id: id.to_owned(),
            name: format!(
                "emulated-project-{}",
                id.chars().take(8).collect::<String>()
            ),
            creation_date: now_iso8601(),
            segments: Vec::new(),
            jobs: Vec::new(),
        })
    }
}

impl Segment {
    /// A new segment with a fresh id, created at `created` (from
    /// [`SegmentClock::next`]).
    pub(crate) fn new(
        name: Option<String>,
        import: Option<ImportDefinition>,
        created: String,
    ) -> Segment {
        Segment {
            id: hex_id(32),
            name,
            imported: import.is_some(),
            creation_date: created.clone(),
            last_modified_date: Some(created),
            version: 1,
            import,
        }
    }

    /// `"IMPORT"` or `"DIMENSIONAL"`.
    pub(crate) fn segment_type(&self) -> &'static str {
        if self.imported {
            "IMPORT"
        } else {
            "DIMENSIONAL"
        }
    }

    /// The `SegmentResponse` JSON.
    pub(crate) fn to_json(&self, region: &str, app: &str) -> Value {
        let mut m = Map::new();
        m.insert("ApplicationId".into(), json!(app));
        m.insert(
            "Arn".into(),
            json!(format!(
                "arn:aws:mobiletargeting:{region}:{ACCOUNT_ID}:apps/{app}/segments/{}",
                self.id
            )),
        );
        m.insert("CreationDate".into(), json!(self.creation_date));
        m.insert("Id".into(), json!(self.id));
        if let Some(d) = &self.last_modified_date {
            m.insert("LastModifiedDate".into(), json!(d));
        }
        if let Some(n) = &self.name {
            m.insert("Name".into(), json!(n));
        }
        m.insert("SegmentType".into(), json!(self.segment_type()));
        m.insert("Version".into(), json!(self.version));
        m.insert("tags".into(), json!({}));
        if let Some(imp) = &self.import {
            let mut d = Map::new();
            if !imp.channel_counts.is_empty() {
                d.insert("ChannelCounts".into(), json!(imp.channel_counts));
            }
            if let Some(x) = &imp.external_id {
                d.insert("ExternalId".into(), json!(x));
            }
            d.insert("Format".into(), json!(imp.format));
            d.insert("RoleArn".into(), json!(imp.role_arn));
            d.insert("S3Url".into(), json!(imp.s3_url));
            d.insert("Size".into(), json!(imp.size));
            m.insert("ImportDefinition".into(), Value::Object(d));
        } else {
            m.insert("Dimensions".into(), json!({}));
        }
        Value::Object(m)
    }
}

impl ImportJob {
    /// The `ImportJobResponse` JSON.
    pub(crate) fn to_json(&self, app: &str) -> Value {
        let d = &self.definition;
        let mut def = Map::new();
        def.insert("DefineSegment".into(), json!(d.define_segment));
        if let Some(x) = &d.external_id {
            def.insert("ExternalId".into(), json!(x));
        }
        def.insert("Format".into(), json!(d.format));
        def.insert("RegisterEndpoints".into(), json!(d.register_endpoints));
        def.insert("RoleArn".into(), json!(d.role_arn));
        def.insert("S3Url".into(), json!(d.s3_url));
        if let Some(x) = &d.segment_id {
            def.insert("SegmentId".into(), json!(x));
        }
        if let Some(x) = &d.segment_name {
            def.insert("SegmentName".into(), json!(x));
        }
        let mut m = Map::new();
        m.insert("ApplicationId".into(), json!(app));
        if let Some(v) = self.completed_pieces {
            m.insert("CompletedPieces".into(), json!(v));
        }
        if let Some(v) = &self.completion_date {
            m.insert("CompletionDate".into(), json!(v));
        }
        m.insert("CreationDate".into(), json!(self.creation_date));
        m.insert("Definition".into(), Value::Object(def));
        if let Some(v) = self.failed_pieces {
            m.insert("FailedPieces".into(), json!(v));
        }
        if !self.failures.is_empty() {
            m.insert("Failures".into(), json!(self.failures));
        }
        m.insert("Id".into(), json!(self.id));
        m.insert("JobStatus".into(), json!(self.status.as_str()));
        if let Some(v) = self.total_failures {
            m.insert("TotalFailures".into(), json!(v));
        }
        if let Some(v) = self.total_pieces {
            m.insert("TotalPieces".into(), json!(v));
        }
        if let Some(v) = self.total_processed {
            m.insert("TotalProcessed".into(), json!(v));
        }
        m.insert("Type".into(), json!("IMPORT"));
        Value::Object(m)
    }
}

impl App {
    /// The `ApplicationResponse` JSON.
    pub(crate) fn to_json(&self, region: &str) -> Value {
        json!({
            "Arn": format!("arn:aws:mobiletargeting:{region}:{ACCOUNT_ID}:apps/{}", self.id),
            "CreationDate": self.creation_date,
            "Id": self.id,
            "Name": self.name,
            "tags": {},
        })
    }
}
