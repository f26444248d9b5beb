//! An embedded emulator of the two AWS services the node talks to, on one loopback
//! HTTP/1.1 server:
//! - **S3**: the `s3s` crates over a temporary directory (`s3s-fs`). s3s verifies SigV4
//!   and the signed payload's SHA-256; this module adds what s3s does not check (session
//!   tokens, the scope region) and answers a request dated more than 15 minutes off with
//!   S3's own `RequestTimeTooSkewed` body. Object keys with `.` or `..` segments are
//!   refused (they would leave the bucket's directory). Path-style addressing
//!   (`/bucket/key`).
//! - **Pinpoint**: written here to the wire format of Pinpoint's REST API (unwrapped JSON
//!   bodies, `x-amzn-ErrorType` errors), with its own SigV4 verifier (independent of
//!   `aws-sigv4`, tested on the published vectors). Import jobs run in the background,
//!   one status per [`EmulatorConfig::job_step`]; a `GetImportJob` poll also moves the
//!   polled job one step.
//!
//! Requests are routed by the service in the SigV4 credential scope (`s3` or
//! `mobiletargeting`); unsigned requests whose path starts with `/v1/` go to Pinpoint,
//! the rest to S3. Tests can queue faults per operation ([`Emulator::inject`]), inspect
//! the state ([`Emulator::segments`], [`Emulator::import_jobs`], [`Emulator::objects`])
//! and read the request log ([`Emulator::requests`]).
//!
//! **Leftovers.** The emulated buckets live in a data directory that holds customer
//! data while a run stages it. It keeps nothing of deleted objects, goes with the
//! emulator, and can be removed on exits that run no destructors
//! ([`remove_data_dirs_now`], [`remove_data_dirs_on_panic`]); a host that embeds the
//! emulator calls [`remove_stale_dirs`] when it starts, to remove the directories
//! that processes killed outright (SIGKILL) left behind (only those whose owner is
//! gone: each directory's [`OWNER_LOCK`] is `flock`ed by its live owner).

// A library reports failures as values: no unwrap, expect, panic or print
// outside tests (clippy.toml allows them in tests).
#![warn(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::print_stderr
)]

mod datadir;
mod faults;
mod jobs;
mod pinpoint;
mod router;
mod s3;
mod server;
mod sigv4_verify;
mod state;
mod util;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

pub use datadir::{
    DATA_DIR_PREFIX, OWNER_LOCK, remove_data_dirs_now, remove_data_dirs_on_panic,
    remove_stale_dirs, remove_stale_dirs_in,
};
pub use faults::{Fault, Operation};
pub use state::JobStatus;

use datadir::DataDir;
use faults::FaultQueues;
use state::{ImportDefinition, PinpointState, Segment, SegmentDefinition, SegmentVersion};
use util::lock;

/// The application id of the seed's examples (not hex, as the node's public doc has it).
pub const SEED_APPLICATION_ID: &str = "a1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p6";
/// The staging bucket created by default.
pub const DEFAULT_BUCKET: &str = "pinpoint-import-staging";
/// The default region.
pub const DEFAULT_REGION: &str = "us-east-1";
/// The default access key id.
pub const DEFAULT_ACCESS_KEY_ID: &str = "AKIAEMULATOR0EXAMPLE";
/// The default secret access key (an emulator-only value).
pub const DEFAULT_SECRET_ACCESS_KEY: &str = "emulator/secret/key/EXAMPLEKEY0000000000";
/// An import role ARN that passes the emulator's RoleArn check.
pub const DEFAULT_ROLE_ARN: &str = "arn:aws:iam::123456789012:role/PinpointSegmentImport";
/// The default page size of the paged Pinpoint operations.
pub const DEFAULT_PAGE_SIZE: usize = 10;

/// The credentials type the emulator accepts: the AWS SDK's own, whose `Debug`
/// never shows the secret or the session token. With a session token, every
/// request with that key must carry it, signed, in `x-amz-security-token`.
pub use aws_credential_types::Credentials;

/// The default credentials: [`DEFAULT_ACCESS_KEY_ID`] and [`DEFAULT_SECRET_ACCESS_KEY`].
pub fn default_credentials() -> Credentials {
    credentials(DEFAULT_ACCESS_KEY_ID, DEFAULT_SECRET_ACCESS_KEY, None)
}

/// Credentials the emulator accepts: long-term keys, or temporary ones with a
/// session token.
pub fn credentials(
    access_key_id: &str,
    secret_access_key: &str,
    session_token: Option<&str>,
) -> Credentials {
    Credentials::new(
        access_key_id,
        secret_access_key,
        session_token.map(str::to_owned),
        None,
        "pinpoint-emulator",
    )
}

/// How to start an [`Emulator`].
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    /// The region both services accept in the credential scope.
    pub region: String,
    /// Accepted credentials (at least one).
    pub credentials: Vec<Credentials>,
    /// Pinpoint applications that exist from the start.
    pub applications: Vec<String>,
    /// S3 buckets that exist from the start.
    pub buckets: Vec<String>,
    /// Default page size of GetSegments and GetImportJobs (when `page-size` is absent).
    pub page_size: usize,
    /// How long an import job stays in each status before it moves on by itself, in
    /// the background, as Pinpoint runs jobs: a job that is never polled ends after
    /// five steps. A `GetImportJob` poll moves the polled job one step at once (and
    /// starts its timer again), so a client polling faster than this sees every status
    /// in turn. `Duration::ZERO` runs jobs to their end right away; `Duration::MAX`
    /// leaves them to polls alone.
    pub job_step: Duration,
    /// Where the emulator makes its data directory ([`DATA_DIR_PREFIX`]`*`, see
    /// [`Emulator::data_dir`]); `None`: the system's temporary directory, where
    /// [`remove_stale_dirs`] looks.
    pub data_parent: Option<std::path::PathBuf>,
}

/// The default [`EmulatorConfig::job_step`]: one second per status.
pub const DEFAULT_JOB_STEP: Duration = Duration::from_secs(1);

impl Default for EmulatorConfig {
    /// Region `us-east-1`, the default credentials, the seed application, the default
    /// bucket, page size 10, jobs stepping every second ([`DEFAULT_JOB_STEP`]), data
    /// in the system's temporary directory.
    fn default() -> Self {
        EmulatorConfig {
            region: DEFAULT_REGION.into(),
            credentials: vec![default_credentials()],
            applications: vec![SEED_APPLICATION_ID.into()],
            buckets: vec![DEFAULT_BUCKET.into()],
            page_size: DEFAULT_PAGE_SIZE,
            job_step: DEFAULT_JOB_STEP,
            data_parent: None,
        }
    }
}

/// A segment (or one version of it) as the emulator holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentInfo {
    /// Segment id.
    pub id: String,
    /// Segment name (empty if it has none).
    pub name: String,
    /// `"IMPORT"` or `"DIMENSIONAL"`.
    pub segment_type: String,
    /// Endpoints imported (`ImportDefinition.Size`); 0 for dimensional segments.
    pub size: u64,
    /// `ImportDefinition.S3Url` of an imported segment.
    pub s3_url: Option<String>,
    /// `ImportDefinition.Format` of an imported segment.
    pub format: Option<String>,
    /// Endpoints imported per channel type.
    pub channel_counts: BTreeMap<String, u64>,
    /// `CreationDate`: ISO 8601 to the millisecond, later for every segment
    /// created later (never the same for two segments of one emulator).
    pub creation_date: String,
    /// `Version`: 1 when created, one more after each completed import into the
    /// segment (`CreateImportJob` with its `SegmentId`).
    pub version: u32,
    /// `LastModifiedDate` of this version: the creation date, or when the import
    /// that made (or filled in) this version completed.
    pub last_modified_date: String,
}

impl SegmentInfo {
    fn of(segment: &Segment, version: &SegmentVersion) -> SegmentInfo {
        let import = version.definition.import();
        SegmentInfo {
            id: segment.id.clone(),
            name: segment.name.clone().unwrap_or_default(),
            segment_type: version.definition.segment_type().into(),
            size: import.map_or(0, |i| i.size),
            s3_url: import.map(|i| i.s3_url.clone()),
            format: import.map(|i| i.format.clone()),
            channel_counts: import.map(|i| i.channel_counts.clone()).unwrap_or_default(),
            creation_date: segment.creation_date.clone(),
            version: version.version,
            last_modified_date: version.last_modified_date.clone(),
        }
    }
}

/// An import job as the emulator holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportJobInfo {
    /// Job id.
    pub id: String,
    /// Current status (compares with `&str`, e.g. `info.status == "COMPLETED"`).
    pub status: JobStatus,
    /// `Definition.SegmentId` (the created or updated segment).
    pub segment_id: Option<String>,
    /// `Definition.SegmentName`.
    pub segment_name: Option<String>,
    /// `Definition.S3Url`.
    pub s3_url: String,
    /// `Definition.Format`.
    pub format: String,
    /// `TotalProcessed`: endpoints imported successfully (0 before PROCESSING).
    pub total_processed: u64,
    /// `TotalFailures`: rows that could not be imported (0 before PROCESSING).
    pub total_failures: u64,
    /// `Failures` (at most 100).
    pub failures: Vec<String>,
}

/// One request the emulator received.
#[derive(Clone)]
pub struct RecordedRequest {
    /// `"s3"` or `"pinpoint"`.
    pub service: String,
    /// The operation it was recognised as.
    pub operation: Operation,
    /// HTTP method.
    pub method: String,
    /// Request target as received (path and query).
    pub uri: String,
    /// Headers as received, in order (names lowercase).
    pub headers: Vec<(String, String)>,
    /// The body of a Pinpoint request (S3 bodies are not kept; see [`Emulator::object`]).
    pub body: Vec<u8>,
    /// The status answered; `None` when the connection was reset by a fault.
    pub status: Option<u16>,
}

impl RecordedRequest {
    /// The first value of a header (name compared case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl fmt::Debug for RecordedRequest {
    /// Like a derived `Debug`, with the session token's value redacted.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(n, v)| {
                if n.eq_ignore_ascii_case("x-amz-security-token") {
                    (n.as_str(), "<redacted>")
                } else {
                    (n.as_str(), v.as_str())
                }
            })
            .collect();
        f.debug_struct("RecordedRequest")
            .field("service", &self.service)
            .field("operation", &self.operation)
            .field("method", &self.method)
            .field("uri", &self.uri)
            .field("headers", &headers)
            .field("body", &String::from_utf8_lossy(&self.body))
            .field("status", &self.status)
            .finish()
    }
}

/// State shared by the server tasks and the [`Emulator`] handle.
pub(crate) struct Shared {
    region: String,
    page_size: usize,
    credentials: Vec<Credentials>,
    pinpoint: Mutex<PinpointState>,
    faults: Mutex<FaultQueues>,
    log: Mutex<Vec<RecordedRequest>>,
    /// Wakes the background job runner (a job was created).
    jobs_changed: Notify,
    store: s3::Store,
    s3: s3s::service::S3Service,
    /// Held (read) by every S3 request while s3s works on it; taken (write) only
    /// when no request is in flight, to sweep what deleted objects left.
    s3_gate: tokio::sync::RwLock<()>,
    /// An object was deleted and its leftovers are not swept yet.
    sweep_due: std::sync::atomic::AtomicBool,
    /// Removed when the [`Emulator`] goes, and again when the last task ends.
    dir: DataDir,
}

impl Shared {
    fn record(&self, request: RecordedRequest) {
        lock(&self.log).push(request);
    }
}

/// A running emulator. Dropping it stops the server and the background job runner (as
/// [`Emulator::shutdown`] does, without waiting) and removes its data directory.
pub struct Emulator {
    shared: Arc<Shared>,
    addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
    runner: Option<JoinHandle<()>>,
}

impl fmt::Debug for Emulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Emulator")
            .field("addr", &self.addr)
            .field("region", &self.shared.region)
            .field("credentials", &self.shared.credentials)
            .finish_non_exhaustive()
    }
}

impl Emulator {
    /// Binds `addr` (port 0 for an ephemeral port), creates the buckets and applications
    /// of `config`, spawns the server and the import job runner on the current tokio
    /// runtime and returns.
    pub async fn start(config: EmulatorConfig, addr: SocketAddr) -> anyhow::Result<Emulator> {
        anyhow::ensure!(
            !config.region.is_empty(),
            "emulator region must not be empty"
        );
        anyhow::ensure!(
            !config.credentials.is_empty(),
            "emulator needs at least one credential"
        );
        let parent = config
            .data_parent
            .clone()
            .unwrap_or_else(std::env::temp_dir);
        let dir = DataDir::create(&parent)?;
        let root = dir.path().to_owned();
        let store = s3::Store::new(root.clone());
        for bucket in &config.buckets {
            store.create_bucket(bucket)?;
        }
        let s3 = s3::build_service(&root, &config.credentials)?;
        let mut pinpoint = PinpointState::default();
        for app in &config.applications {
            pinpoint.add_app(app);
        }
        let listener = TcpListener::bind(addr).await?;
        let local = listener.local_addr()?;
        let shared = Arc::new(Shared {
            region: config.region,
            page_size: config.page_size.max(1),
            credentials: config.credentials,
            pinpoint: Mutex::new(pinpoint),
            faults: Mutex::new(FaultQueues::default()),
            log: Mutex::new(Vec::new()),
            jobs_changed: Notify::new(),
            store,
            s3,
            s3_gate: tokio::sync::RwLock::new(()),
            sweep_due: std::sync::atomic::AtomicBool::new(false),
            dir,
        });
        let (tx, rx) = watch::channel(false);
        let runner = jobs::spawn_runner(shared.clone(), config.job_step, rx.clone());
        let task = server::spawn(listener, shared.clone(), rx);
        Ok(Emulator {
            shared,
            addr: local,
            shutdown: tx,
            task: Some(task),
            runner: Some(runner),
        })
    }

    /// The directory that holds the emulated buckets (canonical; named
    /// [`DATA_DIR_PREFIX`]`*`, with this process's [`OWNER_LOCK`] in it): removed when
    /// the emulator is dropped or shut down, on [`remove_data_dirs_now`], or, after a
    /// crash, by [`remove_stale_dirs`] in a later process. It keeps nothing of deleted
    /// objects.
    pub fn data_dir(&self) -> &std::path::Path {
        self.shared.dir.path()
    }

    /// The base URL of both services, e.g. `http://127.0.0.1:40123` (a wildcard bind
    /// address is shown as loopback).
    pub fn endpoint_url(&self) -> String {
        let mut addr = self.addr;
        match addr.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => addr.set_ip(Ipv4Addr::LOCALHOST.into()),
            IpAddr::V6(ip) if ip.is_unspecified() => addr.set_ip(Ipv6Addr::LOCALHOST.into()),
            _ => {}
        }
        format!("http://{addr}")
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The region the emulator accepts.
    pub fn region(&self) -> &str {
        &self.shared.region
    }

    /// Adds a Pinpoint application (no-op if it exists).
    pub fn add_application(&self, id: &str) {
        lock(&self.shared.pinpoint).add_app(id);
    }

    /// Adds a pre-existing DIMENSIONAL segment named `name` to `app` (adding the app if
    /// needed) and returns its id: a segment of the name that is not an imported one,
    /// which `CreateImportJob` with its `SegmentId` refuses.
    pub fn add_segment(&self, app: &str, name: &str) -> String {
        let mut state = lock(&self.shared.pinpoint);
        let created = state.segment_clock.next();
        let segment = Segment::new(Some(name.into()), SegmentDefinition::Dimensional, created);
        let id = segment.id.clone();
        state.add_app(app).segments.push(segment);
        id
    }

    /// Adds a pre-existing imported segment named `name` to `app` (adding the app if
    /// needed), as made outside the node from the CSV file at `s3_url` with `size`
    /// endpoints, and returns its id: with two of a name, a name made ambiguous
    /// outside the node.
    pub fn add_imported_segment(&self, app: &str, name: &str, s3_url: &str, size: u64) -> String {
        let mut state = lock(&self.shared.pinpoint);
        let created = state.segment_clock.next();
        let definition = SegmentDefinition::Import(ImportDefinition {
            format: "CSV".into(),
            s3_url: s3_url.into(),
            role_arn: DEFAULT_ROLE_ARN.into(),
            external_id: None,
            size,
            channel_counts: Default::default(),
        });
        let segment = Segment::new(Some(name.into()), definition, created);
        let id = segment.id.clone();
        state.add_app(app).segments.push(segment);
        id
    }

    /// The segments of `app` (each at its latest version), in creation order (empty
    /// for an unknown app).
    pub fn segments(&self, app: &str) -> Vec<SegmentInfo> {
        let state = lock(&self.shared.pinpoint);
        let Some(a) = state.apps.get(app) else {
            return Vec::new();
        };
        a.segments
            .iter()
            .map(|s| SegmentInfo::of(s, &s.latest))
            .collect()
    }

    /// Every version of segment `id` of `app`, oldest first (empty for an unknown
    /// app or segment).
    pub fn segment_versions(&self, app: &str, id: &str) -> Vec<SegmentInfo> {
        let state = lock(&self.shared.pinpoint);
        let Some(segment) = state
            .apps
            .get(app)
            .and_then(|a| a.segments.iter().find(|s| s.id == id))
        else {
            return Vec::new();
        };
        segment
            .versions()
            .map(|v| SegmentInfo::of(segment, v))
            .collect()
    }

    /// The import jobs of `app`, in creation order (empty for an unknown app).
    pub fn import_jobs(&self, app: &str) -> Vec<ImportJobInfo> {
        let state = lock(&self.shared.pinpoint);
        let Some(a) = state.apps.get(app) else {
            return Vec::new();
        };
        a.jobs
            .iter()
            .map(|j| ImportJobInfo {
                id: j.id.clone(),
                status: j.status,
                segment_id: j.definition.segment_id.clone(),
                segment_name: j.definition.segment_name.clone(),
                s3_url: j.definition.s3_url.clone(),
                format: j.definition.format.clone(),
                total_processed: j.total_processed.unwrap_or(0),
                total_failures: j.total_failures.unwrap_or(0),
                failures: j.failures.clone(),
            })
            .collect()
    }

    /// Keys currently stored in `bucket`, sorted (empty for an unknown bucket).
    pub fn objects(&self, bucket: &str) -> Vec<String> {
        self.shared.store.list(bucket, "").unwrap_or_default()
    }

    /// The bytes of an object, if it exists.
    pub fn object(&self, bucket: &str, key: &str) -> Option<Vec<u8>> {
        self.shared.store.read(bucket, key)
    }

    /// Stores an object directly (no HTTP), creating the bucket if needed.
    pub fn put_object(&self, bucket: &str, key: &str, data: &[u8]) -> anyhow::Result<()> {
        self.shared.store.create_bucket(bucket)?;
        Ok(self.shared.store.write(bucket, key, data)?)
    }

    /// Every request received so far, in arrival order of completion.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.shared.log).clone()
    }

    /// Forgets the request log.
    pub fn clear_requests(&self) {
        lock(&self.shared.log).clear();
    }

    /// Queues a fault for the next request of `operation` (faults are consumed in order).
    pub fn inject(&self, operation: Operation, fault: Fault) {
        lock(&self.shared.faults).push(operation, fault);
    }

    /// How many faults are still queued for `operation`.
    pub fn pending_faults(&self, operation: Operation) -> usize {
        lock(&self.shared.faults).pending(operation)
    }

    /// Drops every queued fault.
    pub fn clear_faults(&self) {
        lock(&self.shared.faults).clear();
    }

    /// Stops accepting, closes every connection, stops the job runner (jobs stay in the
    /// status they reached), waits for both tasks and removes the data directory.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        for task in [self.task.take(), self.runner.take()].into_iter().flatten() {
            let _ = task.await;
        }
    }
}

impl Drop for Emulator {
    /// Stops the tasks and removes the data directory now (its tasks, ending, may
    /// still fail a request that was writing to it).
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        self.shared.dir.remove();
    }
}
