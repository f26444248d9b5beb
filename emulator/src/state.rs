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

/// `SegmentImportResource`: where a version of an imported segment came from.
#[derive(Debug, Clone)]
pub(crate) struct ImportDefinition {
    pub format: String,
    pub s3_url: String,
    pub role_arn: String,
    pub external_id: Option<String>,
    pub size: u64,
    pub channel_counts: BTreeMap<String, u64>,
}

/// What a segment version selects: the endpoints of an import, or dimensions.
#[derive(Debug, Clone)]
pub(crate) enum SegmentDefinition {
    /// An imported segment (`SegmentType` `IMPORT`).
    Import(ImportDefinition),
    /// A dimensional segment (`SegmentType` `DIMENSIONAL`), with no dimensions.
    Dimensional,
}

/// One version of a segment.
#[derive(Debug, Clone)]
pub(crate) struct SegmentVersion {
    /// `Version`: 1 when the segment is created, one more for each later version.
    pub version: u32,
    /// `LastModifiedDate` of this version.
    pub last_modified_date: String,
    pub definition: SegmentDefinition,
}

/// A segment: its fixed facts and its versions, the latest one current.
#[derive(Debug, Clone)]
pub(crate) struct Segment {
    pub id: String,
    pub name: Option<String>,
    pub creation_date: String,
    /// The current version (what `GetSegment` answers).
    pub latest: SegmentVersion,
    /// The versions before `latest`, oldest first.
    pub earlier: Vec<SegmentVersion>,
}

/// What a finished import job does to the segment its `Definition.SegmentId` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SegmentEffect {
    /// No segment (neither `DefineSegment` nor `SegmentId`): endpoints only.
    None,
    /// The job created the segment (version 1): its counts fill that version in.
    FillsCreated,
    /// The job imports into an existing segment: its completion adds a version.
    NewVersion,
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
    /// Endpoints imported per channel (copied to the segment on completion).
    pub channel_counts: BTreeMap<String, u64>,
    /// What the job's completion does to its segment.
    pub effect: SegmentEffect,
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
    /// A new segment (version 1) with a fresh id, created at `created` (from
    /// [`SegmentClock::next`]).
    pub(crate) fn new(
        name: Option<String>,
        definition: SegmentDefinition,
        created: String,
    ) -> Segment {
        Segment {
            id: hex_id(32),
            name,
            creation_date: created.clone(),
            latest: SegmentVersion {
                version: 1,
                last_modified_date: created,
                definition,
            },
            earlier: Vec::new(),
        }
    }

    /// Whether the segment is an imported one (only those take imports).
    pub(crate) fn is_imported(&self) -> bool {
        matches!(self.latest.definition, SegmentDefinition::Import(_))
    }

    /// Every version, oldest first.
    pub(crate) fn versions(&self) -> impl Iterator<Item = &SegmentVersion> {
        self.earlier.iter().chain(std::iter::once(&self.latest))
    }

    /// Version `version`, if the segment has it.
    pub(crate) fn version(&self, version: u32) -> Option<&SegmentVersion> {
        self.versions().find(|v| v.version == version)
    }

    /// Version `version`, to change, if the segment has it.
    pub(crate) fn version_mut(&mut self, version: u32) -> Option<&mut SegmentVersion> {
        self.earlier
            .iter_mut()
            .chain(std::iter::once(&mut self.latest))
            .find(|v| v.version == version)
    }

    /// Makes `import`, modified at `date`, the segment's new latest version.
    pub(crate) fn add_version(&mut self, import: ImportDefinition, date: String) {
        let next = SegmentVersion {
            version: self.latest.version.saturating_add(1),
            last_modified_date: date,
            definition: SegmentDefinition::Import(import),
        };
        let previous = std::mem::replace(&mut self.latest, next);
        self.earlier.push(previous);
    }

    /// The `SegmentResponse` JSON of the latest version.
    pub(crate) fn to_json(&self, region: &str, app: &str) -> Value {
        self.version_json(&self.latest, region, app)
    }

    /// The `SegmentResponse` JSON of one of the segment's versions.
    pub(crate) fn version_json(&self, version: &SegmentVersion, region: &str, app: &str) -> Value {
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
        m.insert("LastModifiedDate".into(), json!(version.last_modified_date));
        if let Some(n) = &self.name {
            m.insert("Name".into(), json!(n));
        }
        m.insert(
            "SegmentType".into(),
            json!(version.definition.segment_type()),
        );
        m.insert("Version".into(), json!(version.version));
        m.insert("tags".into(), json!({}));
        match &version.definition {
            SegmentDefinition::Import(imp) => {
                m.insert("ImportDefinition".into(), imp.to_json());
            }
            SegmentDefinition::Dimensional => {
                m.insert("Dimensions".into(), json!({}));
            }
        }
        Value::Object(m)
    }
}

impl SegmentDefinition {
    /// `"IMPORT"` or `"DIMENSIONAL"`.
    pub(crate) fn segment_type(&self) -> &'static str {
        match self {
            SegmentDefinition::Import(_) => "IMPORT",
            SegmentDefinition::Dimensional => "DIMENSIONAL",
        }
    }

    /// The import definition of an imported segment's version.
    pub(crate) fn import(&self) -> Option<&ImportDefinition> {
        match self {
            SegmentDefinition::Import(imp) => Some(imp),
            SegmentDefinition::Dimensional => None,
        }
    }
}

impl ImportDefinition {
    /// The `SegmentImportResource` JSON. botocore's model requires `ExternalId`,
    /// `Format`, `RoleArn`, `S3Url` and `Size` (`ChannelCounts` is optional).
    fn to_json(&self) -> Value {
        let mut d = Map::new();
        if !self.channel_counts.is_empty() {
            d.insert("ChannelCounts".into(), json!(self.channel_counts));
        }
        // UNCONFIRMED: what Pinpoint answers for an import made without an
        // ExternalId (the member is deprecated but required in the model); the
        // emulator answers the one the request gave, or an empty string.
        d.insert(
            "ExternalId".into(),
            json!(self.external_id.as_deref().unwrap_or("")),
        );
        d.insert("Format".into(), json!(self.format));
        d.insert("RoleArn".into(), json!(self.role_arn));
        d.insert("S3Url".into(), json!(self.s3_url));
        d.insert("Size".into(), json!(self.size));
        Value::Object(d)
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
