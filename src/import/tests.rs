//! The flow against a scripted AWS: a fake transport that answers by
//! operation, with queued faults, and a runtime with a fake clock.

use std::cell::Cell;
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;
use std::time::{Duration, SystemTime};

use super::calls::MAX_PAGES;
use super::*;
use crate::aws::job_status::JobStatus;
use crate::aws::sign::Credentials;
use crate::aws::{Request, Response, urls};
use crate::endpoints;
use crate::error::{ErrorKind, NodeError};
use crate::input::{Format, ImportInput, ImportRequest, OnExisting};
use crate::settings::{RetryPolicy, Settings};
use sha2::{Digest, Sha256};

const APP: &str = "d5ecad8e417d498389e1d5b9454d4e0c";

/// What the fake answers for one operation, in order; then the default.
type Script = HashMap<&'static str, VecDeque<Result<Response, TransportError>>>;

#[derive(Default)]
struct FakeAws {
    segments: Vec<serde_json::Value>,
    jobs: Vec<serde_json::Value>,
    /// Statuses that `GetImportJob` answers, one per poll (of any job).
    job_statuses: VecDeque<&'static str>,
    job_failures: Vec<String>,
    objects: HashMap<String, Vec<u8>>,
    script: Script,
    log: Vec<(String, String)>,
    page_size: usize,
    /// Segments (and their jobs) that other runs create at the same time
    /// as this run's `CreateImportJob`: they appear just before its own.
    rivals: Vec<serde_json::Value>,
    rival_jobs: Vec<serde_json::Value>,
    /// Segments `CreateImportJob` made so far.
    created: usize,
    /// Every version of each segment, by id, oldest first (as
    /// `GetSegmentVersions` lists them).
    versions: HashMap<String, Vec<serde_json::Value>>,
    /// Imports into existing segments by other runs, each an `S3Url`: the
    /// first completes right after the next import into the segment
    /// completes (so that one's version is no longer the latest).
    rival_versions: Vec<String>,
    /// `x-amz-content-sha256` of each `PutObject`, checked as S3 checks it.
    payload_checks: Vec<String>,
}

/// The `CreationDate` of the segments the fake's `CreateImportJob` makes.
const CREATED_AT: &str = "2026-11-28T00:00:10.000Z";

fn json(status: u16, v: serde_json::Value) -> Response {
    http::Response::builder()
        .status(status)
        .body(v.to_string().into_bytes())
        .unwrap()
}

fn aws_error(status: u16, kind: &str) -> Response {
    http::Response::builder()
        .status(status)
        .header("x-amzn-ErrorType", kind)
        .body(format!(r#"{{"Message":"{kind} happened","RequestID":"rid"}}"#).into_bytes())
        .unwrap()
}

impl FakeAws {
    fn operation(req: &Request) -> &'static str {
        let path = req.uri().path();
        match (req.method().as_str(), path) {
            ("PUT", _) => "PutObject",
            ("GET", p) if !p.starts_with("/v1/") => "ListObjectsV2",
            ("DELETE", p) if !p.starts_with("/v1/") => "DeleteObject",
            ("DELETE", _) => "DeleteSegment",
            ("POST", _) => "CreateImportJob",
            ("GET", p) if p.ends_with("/segments") => "GetSegments",
            ("GET", p) if p.ends_with("/versions") => "GetSegmentVersions",
            ("GET", p) if p.ends_with("/jobs/import") => "GetImportJobs",
            ("GET", p) if p.contains("/jobs/import/") => "GetImportJob",
            _ => "GetApp",
        }
    }

    fn job(&mut self, id: &str, status: &str) -> serde_json::Value {
        let Some(job) = self.jobs.iter_mut().find(|j| j["Id"] == id) else {
            return serde_json::Value::Null;
        };
        let was_terminal = job["JobStatus"] == "COMPLETED" || job["JobStatus"] == "FAILED";
        job["JobStatus"] = status.into();
        let mut job = job.clone();
        if status == "COMPLETED" && !was_terminal && job["Definition"]["Update"] == true {
            let (segment, url) = (&job["Definition"]["SegmentId"], &job["Definition"]["S3Url"]);
            let (segment, url) = (segment.as_str().unwrap().to_owned(), url.clone());
            self.new_version(&segment, url);
            if !self.rival_versions.is_empty() {
                let rival = self.rival_versions.remove(0);
                self.new_version(&segment, rival.into());
            }
        }
        if status == "COMPLETED" || status == "FAILED" {
            job["TotalProcessed"] = 3.into();
            job["TotalFailures"] = (self.job_failures.len() as u64).into();
            job["Failures"] = self.job_failures.clone().into();
        }
        job
    }

    /// A new version of `segment` imported from `url`, as a completed
    /// import into it makes one.
    fn new_version(&mut self, segment: &str, url: serde_json::Value) {
        let Some(s) = self.segments.iter_mut().find(|s| s["Id"] == segment) else {
            return;
        };
        let version = s["Version"].as_u64().unwrap_or(1) + 1;
        s["Version"] = version.into();
        s["ImportDefinition"]["S3Url"] = url;
        let snapshot = s.clone();
        self.versions
            .entry(segment.to_owned())
            .or_default()
            .push(snapshot);
    }

    fn page(items: &[serde_json::Value], query: &str, size: usize) -> serde_json::Value {
        let start: usize = query
            .split('&')
            .find_map(|kv| kv.strip_prefix("token="))
            .and_then(|t| t.parse().ok())
            .unwrap_or(0);
        let end = (start + size).min(items.len());
        let mut page = serde_json::json!({ "Item": items[start.min(end)..end] });
        if end < items.len() {
            page["NextToken"] = end.to_string().into();
        }
        page
    }
}

impl Transport for FakeAws {
    fn send(&mut self, req: Request) -> Result<Response, TransportError> {
        let op = Self::operation(&req);
        self.log.push((op.to_owned(), req.uri().to_string()));
        assert!(req.headers().contains_key("authorization"), "{op} unsigned");
        if let Some(answer) = self.script.get_mut(op).and_then(VecDeque::pop_front) {
            return answer;
        }
        let size = if self.page_size == 0 {
            2
        } else {
            self.page_size
        };
        let query = req.uri().query().unwrap_or("").to_owned();
        Ok(match op {
            "GetApp" => json(
                200,
                serde_json::json!({"Id": APP, "Name": "app", "Arn": "arn"}),
            ),
            "GetSegments" => json(200, Self::page(&self.segments, &query, size)),
            "GetImportJobs" => json(200, Self::page(&self.jobs, &query, size)),
            "GetSegmentVersions" => {
                let id = req.uri().path().rsplit('/').nth(1).unwrap_or_default();
                match self.versions.get(id) {
                    Some(versions) => json(200, Self::page(versions, &query, size)),
                    None => aws_error(404, "NotFoundException"),
                }
            }
            "PutObject" => {
                // S3's checks of the bytes: the signed SHA-256, or with
                // UNSIGNED-PAYLOAD the CRC32C header.
                let header = |name: &str| {
                    req.headers()
                        .get(name)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_owned()
                };
                let payload = header("x-amz-content-sha256");
                if payload == "UNSIGNED-PAYLOAD" {
                    assert_eq!(header("x-amz-sdk-checksum-algorithm"), "CRC32C");
                    assert_eq!(
                        header("x-amz-checksum-crc32c"),
                        aws_smithy_types::base64::encode(crc32c::crc32c(req.body()).to_be_bytes()),
                        "BadDigest"
                    );
                } else {
                    assert_eq!(
                        payload,
                        hex::encode(Sha256::digest(req.body())),
                        "XAmzContentSHA256Mismatch"
                    );
                }
                self.payload_checks.push(payload);
                self.objects
                    .insert(req.uri().path().to_owned(), req.body().clone());
                http::Response::new(Vec::new())
            }
            "ListObjectsV2" => {
                let prefix = query
                    .split('&')
                    .find_map(|kv| kv.strip_prefix("prefix="))
                    .map(|p| p.replace("%2F", "/"))
                    .unwrap_or_default();
                let mut keys: Vec<&str> = self
                    .objects
                    .keys()
                    .map(|k| k.trim_start_matches('/'))
                    .filter(|k| k.starts_with(&prefix))
                    .collect();
                keys.sort();
                let contents: String = keys
                    .iter()
                    .map(|k| format!("<Contents><Key>{k}</Key></Contents>"))
                    .collect();
                http::Response::new(
                    format!("<ListBucketResult><IsTruncated>false</IsTruncated>{contents}</ListBucketResult>")
                        .into_bytes(),
                )
            }
            "DeleteObject" => {
                self.objects.remove(req.uri().path());
                http::Response::builder()
                    .status(204)
                    .body(Vec::new())
                    .unwrap()
            }
            "CreateImportJob" => {
                self.segments.append(&mut self.rivals);
                self.jobs.append(&mut self.rival_jobs);
                let body: serde_json::Value = serde_json::from_slice(req.body()).unwrap();
                if let Some(id) = body["SegmentId"].as_str() {
                    if !self.segments.iter().any(|s| s["Id"] == id) {
                        return Ok(aws_error(404, "NotFoundException"));
                    }
                    let mut definition = body.clone();
                    definition["Update"] = true.into();
                    let job = serde_json::json!({"Id": format!("job-{}", self.jobs.len() + 1), "JobStatus": "CREATED",
                        "Definition": definition, "ApplicationId": APP, "CreationDate": CREATED_AT, "Type": "IMPORT"});
                    self.jobs.push(job.clone());
                    return Ok(json(201, job));
                }
                self.created += 1;
                let segment_id = match self.created {
                    1 => "seg-new".to_owned(),
                    n => format!("seg-new-{n}"),
                };
                let mut definition = body.clone();
                definition["SegmentId"] = segment_id.clone().into();
                let job = serde_json::json!({"Id": format!("job-{}", self.jobs.len() + 1), "JobStatus": "CREATED",
                    "Definition": definition, "ApplicationId": APP, "CreationDate": CREATED_AT, "Type": "IMPORT"});
                self.jobs.push(job.clone());
                let segment = serde_json::json!({"Id": segment_id, "Name": body["SegmentName"], "CreationDate": CREATED_AT,
                    "Version": 1, "ImportDefinition": {"S3Url": body["S3Url"], "Size": 3}});
                self.versions.insert(segment_id, vec![segment.clone()]);
                self.segments.push(segment);
                json(201, job)
            }
            "GetImportJob" => {
                let status = self.job_statuses.pop_front().unwrap_or("COMPLETED");
                let id = req
                    .uri()
                    .path()
                    .rsplit('/')
                    .next()
                    .unwrap_or_default()
                    .to_owned();
                json(200, self.job(&id, status))
            }
            "DeleteSegment" => {
                let id = req
                    .uri()
                    .path()
                    .rsplit('/')
                    .next()
                    .unwrap_or_default()
                    .to_owned();
                let before = self.segments.len();
                self.segments.retain(|s| s["Id"] != id.as_str());
                if self.segments.len() == before {
                    aws_error(404, "NotFoundException")
                } else {
                    json(200, serde_json::json!({"Id": id}))
                }
            }
            _ => unreachable!(),
        })
    }
}

#[derive(Default)]
struct FakeRuntime {
    clock: Duration,
    sleeps: Vec<Duration>,
    logs: Vec<String>,
    stages: Vec<Stage>,
    /// The expiration of the credentials handed out at a given time.
    expiry: Option<fn(SystemTime) -> SystemTime>,
    /// How many times credentials were asked for.
    credential_calls: usize,
    /// Time that passed outside the runtime (in a transport that waits).
    elsewhere: Rc<Cell<Duration>>,
}

/// The fake's wall clock at the start: 2026-11-18T11:06:40Z.
const START: u64 = 1_795_000_000;

impl Runtime for FakeRuntime {
    fn now(&self) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(START) + self.monotonic()
    }
    fn monotonic(&self) -> Duration {
        self.clock + self.elsewhere.get()
    }
    fn sleep(&mut self, d: Duration) {
        self.clock += d;
        self.sleeps.push(d);
    }
    fn random(&mut self) -> u64 {
        u64::MAX / 2
    }
    fn credentials(&mut self) -> Result<Credentials, NodeError> {
        self.credential_calls += 1;
        Ok(crate::aws::sign::credentials(
            "AKIDTEST",
            "SECRETSECRET",
            Some("TOKENTOKEN".into()),
            self.expiry.map(|f| f(self.now())),
        ))
    }
    fn log(&mut self, _level: Level, message: &str) {
        self.logs.push(message.to_owned());
    }
    fn progress(&mut self, stage: Stage, _completed: u64, _total: Option<u64>) {
        if self.stages.last() != Some(&stage) {
            self.stages.push(stage);
        }
    }
}

fn settings() -> Settings {
    Settings::from_lookup(|k| {
        Some(
            match k {
                "region" => "us-east-1",
                "staging-bucket" => "staging",
                "import-role-arn" => "arn:aws:iam::123456789012:role/Import",
                "poll-interval-ms" => "1000",
                "max-wait-seconds" => "60",
                _ => return None,
            }
            .to_owned(),
        )
    })
    .unwrap()
}

fn input(name: &str) -> ImportInput {
    ImportInput {
        application_id: APP.into(),
        segment_name: name.into(),
        format: Format::Csv,
        data: "ChannelType,Address\nEMAIL,a@example.com\nSMS,+12065550100\nEMAIL,b@example.com\n"
            .into(),
    }
}

/// A run of the seed's input, every option at its default (the flow as
/// the seed's node has it).
fn run<T: Transport, R: Runtime>(
    input: &ImportInput,
    settings: &Settings,
    transport: &mut T,
    rt: &mut R,
) -> Result<ImportOutput, NodeError> {
    super::run(&input.clone().into(), settings, transport, rt)
}

fn run_with(
    aws: &mut FakeAws,
    rt: &mut FakeRuntime,
    name: &str,
) -> Result<ImportOutput, NodeError> {
    run(&input(name), &settings(), aws, rt)
}

fn ops(aws: &FakeAws) -> Vec<&str> {
    aws.log.iter().map(|(op, _)| op.as_str()).collect()
}

#[test]
fn happy_path_creates_waits_and_cleans_up() {
    let mut aws = FakeAws {
        segments: (0..5)
            .map(|i| serde_json::json!({"Id": format!("s{i}"), "Name": format!("other {i}")}))
            .collect(),
        job_statuses: ["PREPARING_FOR_INITIALIZATION", "PROCESSING", "COMPLETED"].into(),
        ..Default::default()
    };
    let mut rt = FakeRuntime::default();
    let out = run_with(&mut aws, &mut rt, "New").unwrap();
    assert_eq!(out.segment_id, "seg-new");
    assert_eq!(out.job_status, JobStatus::Completed);
    assert_eq!(
        (
            out.endpoints_submitted,
            out.endpoints_imported,
            out.endpoints_failed
        ),
        (3, Some(3), Some(0))
    );
    assert!(out.staged_object_deleted && aws.objects.is_empty());
    assert_eq!(
        ops(&aws),
        [
            "GetApp",
            "GetSegments",
            "GetSegments",
            "GetSegments",
            "PutObject",
            "CreateImportJob",
            "GetImportJob",
            "GetImportJob",
            "GetImportJob",
            // The segments of the name once more: this run's is the one.
            "GetSegments",
            "GetSegments",
            "GetSegments",
            "DeleteObject",
            // Nothing else of this data is left staged.
            "ListObjectsV2",
        ]
    );
    // Polls back off: 1 s, 1.5 s, 2.25 s.
    assert_eq!(
        rt.sleeps,
        [
            Duration::from_millis(1000),
            Duration::from_millis(1500),
            Duration::from_millis(2250)
        ]
    );
    assert_eq!(rt.stages.last(), Some(&Stage::Done));
    assert!(
        out.staged_object
            .starts_with("s3://staging/pinpoint-imports/")
            && out.staged_object.ends_with(".csv")
    );
}

#[test]
fn polling_starts_at_once_and_grows_to_its_cap_by_default() {
    // No poll settings: the first GetImportJob 200 ms after CreateImportJob,
    // then 1.5x per poll up to 5 s.
    let defaults = Settings::from_lookup(|k| {
        Some(
            match k {
                "region" => "us-east-1",
                "staging-bucket" => "staging",
                "import-role-arn" => "arn:aws:iam::123456789012:role/Import",
                _ => return None,
            }
            .to_owned(),
        )
    })
    .unwrap();
    let mut statuses = vec!["PROCESSING"; 12];
    statuses.push("COMPLETED");
    let mut aws = FakeAws {
        job_statuses: statuses.into(),
        ..Default::default()
    };
    let mut rt = FakeRuntime::default();
    run(&input("Polled"), &defaults, &mut aws, &mut rt).unwrap();
    let ms: Vec<u128> = rt.sleeps.iter().map(Duration::as_millis).collect();
    assert_eq!(
        ms,
        [
            200, 300, 450, 675, 1012, 1518, 2278, 3417, 5000, 5000, 5000, 5000, 5000
        ]
    );
}

#[test]
fn a_taken_name_is_a_duplicate_and_nothing_is_staged() {
    let mut aws = FakeAws {
        segments: (0..5)
            .map(|i| serde_json::json!({"Id": format!("s{i}"), "Name": format!("n{i}")}))
            .collect(),
        ..Default::default()
    };
    let err = run_with(&mut aws, &mut FakeRuntime::default(), "n4").unwrap_err();
    assert_eq!(err.kind, ErrorKind::DuplicateSegmentName);
    assert_eq!(err.details.segment_id.as_deref(), Some("s4"));
    assert!(!ops(&aws).contains(&"PutObject"));
}

#[test]
fn a_rerun_of_the_same_input_returns_the_same_segment() {
    let mut aws = FakeAws::default();
    let first = run_with(&mut aws, &mut FakeRuntime::default(), "Seg").unwrap();
    let second = run_with(&mut aws, &mut FakeRuntime::default(), "Seg").unwrap();
    assert_eq!(first.segment_id, second.segment_id);
    assert!(second.reused_existing_segment);
    assert_eq!(aws.jobs.len(), 1, "no second job");
    assert_eq!(
        ops(&aws)
            .iter()
            .filter(|o| **o == "CreateImportJob")
            .count(),
        1
    );
}

#[test]
fn unknown_app_is_invalid_application_id() {
    let mut aws = FakeAws::default();
    aws.script
        .insert("GetApp", [Ok(aws_error(404, "NotFoundException"))].into());
    let err = run_with(&mut aws, &mut FakeRuntime::default(), "Seg").unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidApplicationId);
    let service = err.details.service.unwrap();
    assert_eq!(
        (service.operation.as_str(), service.http_status),
        ("GetApp", Some(404))
    );
    assert_eq!(service.request_id.as_deref(), Some("rid"));
}

#[test]
fn throttling_is_retried_with_backoff_and_retry_after() {
    let mut aws = FakeAws::default();
    let mut throttled = aws_error(429, "TooManyRequestsException");
    throttled
        .headers_mut()
        .insert("retry-after", "7".parse().unwrap());
    aws.script.insert(
        "GetApp",
        [Ok(throttled), Ok(aws_error(503, "ServiceUnavailable"))].into(),
    );
    let mut rt = FakeRuntime::default();
    run_with(&mut aws, &mut rt, "Seg").unwrap();
    assert_eq!(rt.sleeps[0], Duration::from_secs(7), "Retry-After honoured");
    // Full jitter over 200 ms * 2: the fake's random number is mid-range.
    assert!(
        rt.sleeps[1] <= Duration::from_millis(400),
        "{:?}",
        rt.sleeps
    );
}

#[test]
fn a_retry_after_beyond_the_budget_is_not_waited_for() {
    let mut aws = FakeAws::default();
    let mut throttled = aws_error(429, "TooManyRequestsException");
    throttled
        .headers_mut()
        .insert("retry-after", "3600".parse().unwrap());
    aws.script.insert("GetApp", [Ok(throttled)].into());
    let mut rt = FakeRuntime::default();
    let err = run_with(&mut aws, &mut rt, "Seg").unwrap_err();
    assert_eq!(err.kind, ErrorKind::Throttled);
    assert!(rt.sleeps.is_empty(), "{:?}", rt.sleeps);
}

#[test]
fn retries_stop_at_the_time_budget() {
    let mut aws = FakeAws::default();
    aws.script.insert(
        "GetApp",
        (0..10)
            .map(|_| Ok(aws_error(503, "ServiceUnavailable")))
            .collect(),
    );
    let mut s = settings();
    s.retry.max_attempts = 20;
    s.retry.base_delay = Duration::from_secs(30);
    s.retry.max_delay = Duration::from_secs(30);
    s.retry.max_total = Duration::from_secs(40);
    let mut rt = FakeRuntime::default();
    let err = run(&input("Seg"), &s, &mut aws, &mut rt).unwrap_err();
    assert_eq!(err.kind, ErrorKind::ServiceError);
    // The fake's jitter is 23.5 s: attempts at 0 s and 23.5 s; a third would
    // start at 47 s, past the 40 s budget, so there is none.
    assert_eq!(ops(&aws).len(), 2, "{:?}", rt.sleeps);
    assert_eq!(rt.sleeps.len(), 1);
    assert!(
        rt.logs.iter().any(|l| l.contains(
            "gave up after 2 attempts in 23 s: the retry budget of 40 s (`retry-max-total-seconds`) is spent"
        )),
        "{:?}",
        rt.logs
    );
}

/// A server that never answers: each attempt waits for as long as the
/// request's `AttemptTimeout` allows, then fails as a first-byte timeout.
struct Silent {
    clock: Rc<Cell<Duration>>,
    timeouts: Vec<Duration>,
}

impl Transport for Silent {
    fn send(&mut self, req: Request) -> Result<Response, TransportError> {
        let timeout = req
            .extensions()
            .get::<AttemptTimeout>()
            .expect("every request carries its attempt timeout")
            .0;
        self.timeouts.push(timeout);
        self.clock.set(self.clock.get() + timeout);
        Err(TransportError::new(
            TransportErrorKind::Broken,
            "ConnectionReadTimeout",
        ))
    }
}

#[test]
fn a_silent_server_ends_within_the_budget_and_the_messages_say_so() {
    let mut rt = FakeRuntime::default();
    let mut silent = Silent {
        clock: rt.elsewhere.clone(),
        timeouts: Vec::new(),
    };
    // The default budget: one attempt of 120 s spends it.
    let err = run(&input("Seg"), &settings(), &mut silent, &mut rt).unwrap_err();
    assert_eq!(err.kind, ErrorKind::ServiceError);
    assert_eq!(silent.timeouts, [Duration::from_secs(120)]);
    assert!(
        err.message.contains(
            "gave up after 1 attempt in 120 s: the retry budget of 120 s (`retry-max-total-seconds`) is spent"
        ),
        "{}",
        err.message
    );
    assert!(
        err.message.contains("ConnectionReadTimeout"),
        "{}",
        err.message
    );

    // A budget of 300 s: attempts of 120 s, 120 s and what is left.
    let mut s = settings();
    s.retry.max_total = Duration::from_secs(300);
    let mut rt = FakeRuntime::default();
    let mut silent = Silent {
        clock: rt.elsewhere.clone(),
        timeouts: Vec::new(),
    };
    let err = run(&input("Seg"), &s, &mut silent, &mut rt).unwrap_err();
    assert_eq!(silent.timeouts.len(), 3, "{:?}", silent.timeouts);
    assert_eq!(&silent.timeouts[..2], [Duration::from_secs(120); 2]);
    let total = rt.monotonic();
    assert_eq!(total, Duration::from_secs(300), "{:?}", rt.sleeps);
    assert!(
        err.message
            .contains("gave up after 3 attempts in 300 s: the retry budget of 300 s"),
        "{}",
        err.message
    );
    let retries: Vec<_> = rt.logs.iter().filter(|l| l.contains("retrying")).collect();
    assert_eq!(retries.len(), 2, "{:?}", rt.logs);
    assert!(
        retries[0].contains("attempt 2 (of at most 5, within 300 s)"),
        "{retries:?}"
    );
    assert!(
        retries[1].contains("attempt 3 (of at most 5, within 300 s)"),
        "{retries:?}"
    );
}

#[test]
fn failures_that_come_fast_end_at_the_attempt_limit_and_say_so() {
    let mut aws = FakeAws::default();
    aws.script.insert(
        "GetApp",
        (0..10)
            .map(|_| {
                Err(TransportError::new(
                    TransportErrorKind::Connect,
                    "ConnectionRefused",
                ))
            })
            .collect(),
    );
    let mut rt = FakeRuntime::default();
    let err = run_with(&mut aws, &mut rt, "Seg").unwrap_err();
    assert_eq!(ops(&aws).len(), 5);
    assert!(
        err.message.contains("gave up after 5 attempts in")
            && err.message.contains("`retry-max-attempts` is 5"),
        "{}",
        err.message
    );
    assert_eq!(err.details.setting.as_deref(), Some("pinpoint-endpoint"));
    assert!(
        rt.logs
            .iter()
            .any(|l| l.contains("attempt 5 (of at most 5, within 120 s)")),
        "{:?}",
        rt.logs
    );
}

#[test]
fn attempt_timeouts_are_what_is_left_of_the_budget() {
    let policy = RetryPolicy::default();
    let t = |s| attempt_timeout(&policy, Duration::from_secs(s));
    assert_eq!(t(0), MAX_ATTEMPT_TIMEOUT);
    assert_eq!(t(100), Duration::from_secs(20));
    assert_eq!(t(120), MIN_ATTEMPT_TIMEOUT);
    assert_eq!(t(10_000), MIN_ATTEMPT_TIMEOUT);
    let long = RetryPolicy {
        max_total: Duration::from_secs(3600),
        ..policy
    };
    assert_eq!(attempt_timeout(&long, Duration::ZERO), MAX_ATTEMPT_TIMEOUT);
}

#[test]
fn throttling_that_never_ends_is_throttled() {
    let mut aws = FakeAws::default();
    aws.script.insert(
        "GetSegments",
        (0..10)
            .map(|_| Ok(aws_error(429, "TooManyRequestsException")))
            .collect(),
    );
    let err = run_with(&mut aws, &mut FakeRuntime::default(), "Seg").unwrap_err();
    assert_eq!(err.kind, ErrorKind::Throttled);
    assert_eq!(ops(&aws).iter().filter(|o| **o == "GetSegments").count(), 5);
}

#[test]
fn forbidden_is_permission_denied_and_never_leaks_secrets() {
    let mut aws = FakeAws::default();
    aws.script.insert(
        "GetApp",
        [Ok(aws_error(403, "AccessDeniedException"))].into(),
    );
    let mut rt = FakeRuntime::default();
    let err = run_with(&mut aws, &mut rt, "Seg").unwrap_err();
    assert_eq!(err.kind, ErrorKind::PermissionDenied);
    let text = format!(
        "{err:?} {} {:?}",
        serde_json::to_string(&err).unwrap(),
        rt.logs
    );
    assert!(!text.contains("SECRETSECRET") && !text.contains("TOKENTOKEN"));
}

#[test]
fn a_failed_job_deletes_its_segment_and_the_staged_file() {
    let mut aws = FakeAws {
        job_statuses: ["PROCESSING", "FAILING", "FAILED"].into(),
        job_failures: vec!["row 2: bad".into()],
        ..Default::default()
    };
    let err = run_with(&mut aws, &mut FakeRuntime::default(), "Seg").unwrap_err();
    assert_eq!(err.kind, ErrorKind::ImportJobFailed);
    assert_eq!(err.details.failures, ["row 2: bad"]);
    assert!(err.message.contains("was deleted"), "{}", err.message);
    assert!(aws.segments.is_empty() && aws.objects.is_empty());
}

#[test]
fn completed_with_failures_is_a_success_that_reports_them() {
    let mut aws = FakeAws {
        job_failures: vec!["endpoint 3: bad address".into()],
        ..Default::default()
    };
    let out = run_with(&mut aws, &mut FakeRuntime::default(), "Seg").unwrap();
    assert_eq!(
        (out.endpoints_imported, out.endpoints_failed),
        (Some(2), Some(1))
    );
    assert_eq!(out.failures.len(), 1);
}

#[test]
fn a_job_that_never_ends_times_out_and_keeps_the_file() {
    let mut aws = FakeAws {
        job_statuses: std::iter::repeat_n("PROCESSING", 1000).collect(),
        ..Default::default()
    };
    let mut rt = FakeRuntime::default();
    let err = run_with(&mut aws, &mut rt, "Seg").unwrap_err();
    assert_eq!(err.kind, ErrorKind::TimedOut);
    assert_eq!(err.details.import_job_id.as_deref(), Some("job-1"));
    assert_eq!(err.details.segment_id.as_deref(), Some("seg-new"));
    assert_eq!(rt.clock, Duration::from_secs(60), "waits exactly the limit");
    assert_eq!(aws.objects.len(), 1, "the running job still needs the file");
}

#[test]
fn an_ambiguous_create_looks_the_job_up_instead_of_creating_another() {
    let mut aws = FakeAws::default();
    // The job gets created, then the connection breaks before the answer:
    // once, on the first CreateImportJob.
    struct BreakAfterCreate(FakeAws, bool);
    impl Transport for BreakAfterCreate {
        fn send(&mut self, req: Request) -> Result<Response, TransportError> {
            let op = FakeAws::operation(&req);
            let answer = self.0.send(req);
            if op == "CreateImportJob" && answer.is_ok() && !self.1 {
                self.1 = true;
                return Err(TransportError::new(TransportErrorKind::Broken, "reset"));
            }
            answer
        }
    }
    aws.page_size = 10;
    let mut t = BreakAfterCreate(aws, false);
    let mut rt = FakeRuntime::default();
    let out = run(&input("Seg"), &settings(), &mut t, &mut rt).unwrap();
    assert!(t.1, "the connection break was injected");
    assert_eq!(out.segment_id, "seg-new");
    assert_eq!(t.0.jobs.len(), 1, "exactly one job");
    let ops = ops(&t.0);
    assert_eq!(
        ops.iter().filter(|o| **o == "CreateImportJob").count(),
        1,
        "{ops:?}"
    );
    assert!(
        ops.contains(&"GetImportJobs"),
        "the job was looked up: {ops:?}"
    );
    assert!(
        rt.logs.iter().any(|l| l.contains("looking the job up")),
        "{:?}",
        rt.logs
    );
}

#[test]
fn a_denied_host_is_invalid_settings() {
    let mut aws = FakeAws::default();
    aws.script.insert(
        "GetApp",
        [Err(TransportError::new(
            TransportErrorKind::Denied,
            "HttpRequestDenied",
        ))]
        .into(),
    );
    let err = run_with(&mut aws, &mut FakeRuntime::default(), "Seg").unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidSettings);
    assert_eq!(err.details.setting.as_deref(), Some("pinpoint-endpoint"));
}

#[test]
fn bad_data_never_reaches_the_network() {
    let mut aws = FakeAws::default();
    let mut bad = input("Seg");
    bad.data = "ChannelType,Address\nFAX,+12065550100\n".into();
    let err = run(&bad, &settings(), &mut aws, &mut FakeRuntime::default()).unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidChannelType);
    assert!(aws.log.is_empty());
}

#[test]
fn uploads_carry_a_crc32c_over_https_and_a_signed_sha256_over_http() {
    // The second input's header has a column no row uses: the staged file
    // leaves it out, so the check pass cannot hash it and a pass more does.
    let mut unused = input("Unused");
    unused.data = "ChannelType,Address,User.UserId\nEMAIL,a@example.com,\n".into();
    for input in [input("Seg"), unused] {
        for (endpoint, check) in [
            (None, "UNSIGNED-PAYLOAD"),
            (Some("http://127.0.0.1:4566"), "signed"),
        ] {
            let mut s = settings();
            s.s3_endpoint = endpoint.map(Into::into);
            let mut aws = FakeAws {
                job_statuses: ["COMPLETED"].into(),
                ..Default::default()
            };
            run(&input, &s, &mut aws, &mut FakeRuntime::default()).unwrap();
            // The fake checked each as S3 does; which check it was:
            let body = endpoints::prepare(input.format, &input.data, &limits(&s))
                .unwrap()
                .body;
            let expected = match check {
                "signed" => hex::encode(Sha256::digest(&body)),
                other => other.to_owned(),
            };
            assert_eq!(aws.payload_checks, [expected], "{endpoint:?}");
            // The object's key is the data's, whichever pass hashed it.
            let stem = DataKeys::new(&s, &input, &body).stem().to_owned();
            assert!(
                aws.objects.keys().all(|k| k.contains(&stem)),
                "{:?} {stem}",
                aws.objects.keys()
            );
        }
    }
}

#[test]
fn the_staging_key_depends_on_every_part_of_the_input() {
    let s = settings();
    let keys = |input: &ImportInput, body: &[u8]| DataKeys::new(&s, input, body);
    let a = keys(&input("A"), b"x");
    assert_eq!(a, keys(&input("A"), b"x"));
    assert_ne!(a, keys(&input("B"), b"x"));
    assert_ne!(a, keys(&input("A"), b"y"));
    let mut other_app = input("A");
    other_app.application_id = "0123456789abcdef0123456789abcdef".into();
    assert_ne!(a, keys(&other_app, b"x"));
    let mut other_format = input("A");
    other_format.format = Format::Json;
    assert_ne!(a.stem(), keys(&other_format, b"x").stem());
    // Fields are length-prefixed: moving a character between them changes the key.
    let (mut ab, mut a_b) = (input("b"), input("b"));
    ab.application_id = "aa".into();
    a_b.application_id = "a".into();
    a_b.segment_name = "ab".into();
    assert_ne!(keys(&ab, b"x"), keys(&a_b, b"x"));
}

#[test]
fn every_run_stages_its_own_key_and_knows_the_keys_of_its_data() {
    let keys = DataKeys::new(&settings(), &input("A"), b"x");
    let stem = keys.stem().to_owned();
    assert!(stem.starts_with("pinpoint-imports/") && stem.len() == "pinpoint-imports/".len() + 32);
    assert_eq!(keys.key(0xab), format!("{stem}-00000000000000ab.csv"));
    assert_ne!(keys.key(1), keys.key(2));
    assert_eq!(keys.shared_key(), format!("{stem}.csv"));
    for key in [keys.key(0), keys.key(u64::MAX), keys.shared_key()] {
        assert!(keys.holds(&key), "{key}");
        assert_eq!(
            keys.key_of(&format!("s3://staging/{key}")),
            Some(key.as_str())
        );
    }
    for key in [
        format!("{stem}-00000000000000AB.csv"),
        format!("{stem}-0000000000000ab.csv"),
        format!("{stem}-00000000000000ab.json"),
        format!("{stem}x.csv"),
        format!("{stem}.csv.bak"),
        format!("{stem}-00000000000000ab/.csv"),
        stem.clone(),
    ] {
        assert!(!keys.holds(&key), "{key}");
    }
    // Another bucket is not this data's.
    assert_eq!(keys.key_of(&format!("s3://other/{}", keys.key(0))), None);
    assert_eq!(keys.key_of(&format!("s3://staging/{stem}")), None);
}

#[test]
fn expired_credentials_stop_the_run_before_anything_is_sent() {
    let mut aws = FakeAws::default();
    let mut rt = FakeRuntime {
        expiry: Some(|now| now - Duration::from_secs(1)),
        ..Default::default()
    };
    let err = run_with(&mut aws, &mut rt, "Seg").unwrap_err();
    assert_eq!(err.kind, ErrorKind::PermissionDenied);
    assert!(
        err.message
            .contains("expired at 2026-11-18T11:06:39Z; the host must refresh them"),
        "{}",
        err.message
    );
    assert!(aws.log.is_empty(), "{:?}", aws.log);
    let text = format!("{err:?} {}", serde_json::to_string(&err).unwrap());
    assert!(!text.contains("SECRETSECRET") && !text.contains("TOKENTOKEN"));
}

#[test]
fn credentials_that_expire_mid_run_fail_the_next_request() {
    let mut aws = FakeAws {
        job_statuses: ["PROCESSING", "PROCESSING", "PROCESSING", "COMPLETED"].into(),
        ..Default::default()
    };
    // Fixed credentials that expire 2 s into the run: the polls come at 1 s,
    // 2.5 s and 4.75 s.
    let mut rt = FakeRuntime {
        expiry: Some(|_| SystemTime::UNIX_EPOCH + Duration::from_secs(START + 2)),
        ..Default::default()
    };
    let err = run_with(&mut aws, &mut rt, "Seg").unwrap_err();
    assert_eq!(err.kind, ErrorKind::PermissionDenied);
    assert!(
        err.message.contains("expired at 2026-11-18T11:06:42Z"),
        "{}",
        err.message
    );
    assert_eq!(
        ops(&aws).iter().filter(|o| **o == "GetImportJob").count(),
        1
    );
}

#[test]
fn a_host_that_refreshes_credentials_is_honoured() {
    let mut aws = FakeAws {
        job_statuses: ["PROCESSING", "PROCESSING", "PROCESSING", "COMPLETED"].into(),
        ..Default::default()
    };
    // Each answer is good for one more second: asked before every request,
    // they are always fresh.
    let mut rt = FakeRuntime {
        expiry: Some(|now| now + Duration::from_secs(1)),
        ..Default::default()
    };
    let out = run_with(&mut aws, &mut rt, "Seg").unwrap();
    assert_eq!(out.job_status, JobStatus::Completed);
    assert_eq!(
        rt.credential_calls,
        aws.log.len(),
        "asked before every request"
    );
}

#[test]
fn urls_that_do_not_parse_are_settings_errors_before_any_request() {
    type Spoil = fn(&mut Settings);
    let cases: [(Spoil, &str); 5] = [
        (
            |s| s.pinpoint_endpoint = Some("http://bad host".into()),
            "pinpoint-endpoint",
        ),
        (|s| s.region = "us east 1".into(), "region"),
        (
            |s| s.s3_endpoint = Some("http://[::1".into()),
            "s3-endpoint",
        ),
        (|s| s.s3_endpoint = Some("ftp:x".into()), "s3-endpoint"),
        (|s| s.staging_bucket = "a bucket".into(), "staging-bucket"),
    ];
    for (spoil, setting) in cases {
        let mut s = settings();
        spoil(&mut s);
        let mut aws = FakeAws::default();
        let err = run(&input("Seg"), &s, &mut aws, &mut FakeRuntime::default()).unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidSettings, "{setting}: {err}");
        assert_eq!(err.details.setting.as_deref(), Some(setting), "{err}");
        assert!(aws.log.is_empty(), "{setting}: {:?}", aws.log);
    }
}

// ---------------------------------------------------------------- one name, one segment

/// The keys of `input`'s data, as a run computes them.
fn keys_of(input: &ImportInput) -> DataKeys {
    let body = endpoints::prepare(input.format, &input.data, &limits(&settings()))
        .unwrap()
        .body;
    DataKeys::new(&settings(), input, &body)
}

/// A segment named `name`, made at `date` from `s3_url`.
fn segment(id: &str, name: &str, date: &str, s3_url: &str) -> serde_json::Value {
    serde_json::json!({"Id": id, "Name": name, "CreationDate": date, "SegmentType": "IMPORT",
        "ImportDefinition": {"S3Url": s3_url, "Size": 3, "Format": "CSV"}})
}

/// The import job that made `segment_id` from `s3_url`.
fn import_job(id: &str, segment_id: &str, s3_url: &str, status: &str) -> serde_json::Value {
    serde_json::json!({"Id": id, "JobStatus": status, "ApplicationId": APP, "Type": "IMPORT",
        "CreationDate": "2026-11-28T00:00:00.000Z",
        "Definition": {"S3Url": s3_url, "SegmentId": segment_id, "SegmentName": "Seg", "Format": "CSV"}})
}

/// The staged objects left, as keys.
fn staged_keys(aws: &FakeAws) -> Vec<String> {
    let mut keys: Vec<String> = aws
        .objects
        .keys()
        .map(|k| k.trim_start_matches('/').to_owned())
        .collect();
    keys.sort();
    keys
}

fn segment_ids(aws: &FakeAws) -> Vec<&str> {
    aws.segments
        .iter()
        .map(|s| s["Id"].as_str().unwrap())
        .collect()
}

/// Where in the log `op` was first sent after position `from`.
fn position_after(aws: &FakeAws, from: usize, op: &str) -> usize {
    from + ops(aws)[from..]
        .iter()
        .position(|o| *o == op)
        .unwrap_or_else(|| panic!("no {op} after {from}: {:?}", ops(aws)))
}

#[test]
fn losing_to_an_older_segment_of_other_data_removes_what_the_run_made() {
    // Another run of the name, with other data, created its segment a
    // second earlier, while this run was staging.
    let other = "s3://staging/pinpoint-imports/other-data.csv";
    let mut aws = FakeAws {
        rivals: vec![segment(
            "seg-older",
            "Seg",
            "2026-11-28T00:00:09.000Z",
            other,
        )],
        job_statuses: ["PROCESSING", "COMPLETED"].into(),
        ..Default::default()
    };
    aws.objects
        .insert("/pinpoint-imports/other-data.csv".into(), b"x".to_vec());
    let mut rt = FakeRuntime::default();
    let err = run_with(&mut aws, &mut rt, "Seg").unwrap_err();
    assert_eq!(err.kind, ErrorKind::DuplicateSegmentName, "{err:?}");
    assert_eq!(err.details.segment_id.as_deref(), Some("seg-older"));
    assert_eq!(err.details.field.as_deref(), Some("segment_name"));
    // Only the winner is left, with its object; this run's are gone.
    assert_eq!(segment_ids(&aws), ["seg-older"]);
    assert_eq!(staged_keys(&aws), ["pinpoint-imports/other-data.csv"]);
    // The run's job ended before its object went, and the object before
    // the segment that names it.
    let completed = ops(&aws)
        .iter()
        .rposition(|o| *o == "GetImportJob")
        .unwrap();
    let deleted_object = position_after(&aws, completed, "DeleteObject");
    let deleted_segment = position_after(&aws, completed, "DeleteSegment");
    assert!(deleted_object < deleted_segment, "{:?}", ops(&aws));
    assert!(!ops(&aws).contains(&"ListObjectsV2"), "{:?}", ops(&aws));
    assert!(
        rt.logs
            .iter()
            .any(|l| l.contains("seg-older") && l.contains("older")),
        "{:?}",
        rt.logs
    );
}

#[test]
fn losing_to_an_older_segment_of_the_same_data_returns_it() {
    // A concurrent run of the same input, one second earlier; its job is
    // still running when this run's ends.
    let keys = keys_of(&input("Seg"));
    let theirs = keys.key(0xabc);
    let url = keys.s3_url(&theirs);
    let mut aws = FakeAws {
        rivals: vec![segment(
            "seg-older",
            "Seg",
            "2026-11-28T00:00:09.000Z",
            &url,
        )],
        rival_jobs: vec![import_job("job-older", "seg-older", &url, "PROCESSING")],
        // This run's one poll, then the winner's.
        job_statuses: ["COMPLETED", "COMPLETED"].into(),
        ..Default::default()
    };
    aws.objects.insert(format!("/{theirs}"), b"x".to_vec());
    let mut rt = FakeRuntime::default();
    let out = run_with(&mut aws, &mut rt, "Seg").unwrap();
    assert_eq!(out.segment_id, "seg-older");
    assert_eq!(out.import_job_id, "job-older");
    assert_eq!(out.job_status, JobStatus::Completed);
    assert!(out.reused_existing_segment);
    assert_eq!(out.staged_object, url);
    assert!(out.staged_object_deleted);
    assert_eq!(segment_ids(&aws), ["seg-older"]);
    assert!(staged_keys(&aws).is_empty(), "{:?}", staged_keys(&aws));
    let polled: Vec<&str> = aws
        .log
        .iter()
        .filter(|(op, _)| op == "GetImportJob")
        .map(|(_, uri)| uri.rsplit('/').next().unwrap())
        .collect();
    assert_eq!(
        polled,
        ["job-2", "job-older"],
        "its own job, then the winner's"
    );
}

#[test]
fn a_younger_segment_does_not_take_the_name() {
    // Created a second later, or in the same instant with a larger id: this
    // run's segment stays; the other run removes its own.
    for (date, id) in [("2026-11-28T00:00:11.000Z", "seg-a"), (CREATED_AT, "seg-z")] {
        let other = "s3://staging/pinpoint-imports/other-data.csv";
        let mut aws = FakeAws {
            rivals: vec![segment(id, "Seg", date, other)],
            ..Default::default()
        };
        let out = run_with(&mut aws, &mut FakeRuntime::default(), "Seg").unwrap();
        assert_eq!(out.segment_id, "seg-new", "{date} {id}");
        assert!(!out.reused_existing_segment);
        assert!(out.staged_object_deleted && staged_keys(&aws).is_empty());
        assert_eq!(
            segment_ids(&aws),
            [id, "seg-new"],
            "the other is not ours to remove"
        );
        assert!(!ops(&aws).contains(&"DeleteSegment"));
    }
    // The same instant, a smaller id: that one stays.
    let mut aws = FakeAws {
        rivals: vec![segment("seg-a", "Seg", CREATED_AT, "s3://staging/x.csv")],
        ..Default::default()
    };
    let err = run_with(&mut aws, &mut FakeRuntime::default(), "Seg").unwrap_err();
    assert_eq!(err.kind, ErrorKind::DuplicateSegmentName);
    assert_eq!(err.details.segment_id.as_deref(), Some("seg-a"));
    assert_eq!(segment_ids(&aws), ["seg-a"]);
}

#[test]
fn a_run_that_lost_does_not_report_its_own_failed_job() {
    let mut aws = FakeAws {
        rivals: vec![segment(
            "seg-older",
            "Seg",
            "2026-11-28T00:00:09.000Z",
            "s3://staging/x.csv",
        )],
        job_statuses: ["FAILING", "FAILED"].into(),
        job_failures: vec!["Unable to read the file".into()],
        ..Default::default()
    };
    let err = run_with(&mut aws, &mut FakeRuntime::default(), "Seg").unwrap_err();
    assert_eq!(err.kind, ErrorKind::DuplicateSegmentName, "{err:?}");
    assert_eq!(segment_ids(&aws), ["seg-older"]);
    assert!(staged_keys(&aws).is_empty());
}

#[test]
fn a_run_that_lost_without_waiting_still_waits_for_its_own_job_before_cleaning_up() {
    let mut s = settings();
    s.wait_for_completion = false;
    let mut aws = FakeAws {
        rivals: vec![segment(
            "seg-older",
            "Seg",
            "2026-11-28T00:00:09.000Z",
            "s3://staging/x.csv",
        )],
        job_statuses: ["PROCESSING", "COMPLETED"].into(),
        ..Default::default()
    };
    let err = run(&input("Seg"), &s, &mut aws, &mut FakeRuntime::default()).unwrap_err();
    assert_eq!(err.kind, ErrorKind::DuplicateSegmentName);
    let sent = ops(&aws);
    let polls = sent.iter().filter(|o| **o == "GetImportJob").count();
    assert_eq!(polls, 2, "{sent:?}");
    assert!(
        sent.iter().rposition(|o| *o == "GetImportJob")
            < sent.iter().position(|o| *o == "DeleteObject")
    );
    assert_eq!(segment_ids(&aws), ["seg-older"]);
    assert!(staged_keys(&aws).is_empty());
    // The winner, without waiting, returns at once and keeps its object.
    let mut aws = FakeAws::default();
    let out = run(&input("Seg"), &s, &mut aws, &mut FakeRuntime::default()).unwrap();
    assert_eq!(
        (out.segment_id.as_str(), out.job_status.as_str()),
        ("seg-new", "CREATED")
    );
    assert!(!ops(&aws).contains(&"GetImportJob"));
    assert_eq!(staged_keys(&aws).len(), 1);
}

#[test]
fn a_rerun_after_a_crash_resumes_segments_of_the_old_and_the_new_keys() {
    let keys = keys_of(&input("Seg"));
    // The old key (one per input, earlier versions) with a completed job;
    // a nonce'd key with a job still running.
    for (key, status) in [
        (keys.shared_key(), "COMPLETED"),
        (keys.key(0x1234), "PROCESSING"),
    ] {
        let url = keys.s3_url(&key);
        let mut aws = FakeAws {
            segments: vec![segment(
                "seg-crashed",
                "Seg",
                "2026-11-28T00:00:01.000Z",
                &url,
            )],
            jobs: vec![import_job("job-crashed", "seg-crashed", &url, status)],
            job_statuses: ["COMPLETED"].into(),
            ..Default::default()
        };
        aws.objects.insert(format!("/{key}"), b"x".to_vec());
        let out = run_with(&mut aws, &mut FakeRuntime::default(), "Seg").unwrap();
        assert_eq!(out.segment_id, "seg-crashed", "{key}");
        assert_eq!(out.import_job_id, "job-crashed");
        assert_eq!(out.job_status, JobStatus::Completed);
        assert!(out.reused_existing_segment && out.staged_object_deleted);
        assert_eq!(out.staged_object, url);
        assert!(
            staged_keys(&aws).is_empty(),
            "{key}: {:?}",
            staged_keys(&aws)
        );
        let ops = ops(&aws);
        assert!(
            !ops.contains(&"PutObject") && !ops.contains(&"CreateImportJob"),
            "{ops:?}"
        );
        assert_eq!(
            ops.iter().filter(|o| **o == "GetImportJob").count(),
            usize::from(status == "PROCESSING"),
            "{ops:?}"
        );
    }
}

#[test]
fn a_rerun_removes_what_a_run_of_its_data_left_after_losing_the_name() {
    // The name is another data's; two segments of this data are left by
    // runs that lost: one whose job ended (removed, with its object) and
    // one whose job still runs (left to its run).
    let keys = keys_of(&input("Seg"));
    let (ended, running) = (keys.key(5), keys.key(6));
    let mut aws = FakeAws {
        segments: vec![
            segment(
                "seg-w",
                "Seg",
                "2026-11-28T00:00:01.000Z",
                "s3://staging/x.csv",
            ),
            segment(
                "seg-ended",
                "Seg",
                "2026-11-28T00:00:02.000Z",
                &keys.s3_url(&ended),
            ),
            segment(
                "seg-running",
                "Seg",
                "2026-11-28T00:00:03.000Z",
                &keys.s3_url(&running),
            ),
        ],
        jobs: vec![
            import_job("job-ended", "seg-ended", &keys.s3_url(&ended), "COMPLETED"),
            import_job(
                "job-running",
                "seg-running",
                &keys.s3_url(&running),
                "PROCESSING",
            ),
        ],
        ..Default::default()
    };
    for key in [&ended, &running] {
        aws.objects.insert(format!("/{key}"), b"x".to_vec());
    }
    let err = run_with(&mut aws, &mut FakeRuntime::default(), "Seg").unwrap_err();
    assert_eq!(err.kind, ErrorKind::DuplicateSegmentName);
    assert_eq!(err.details.segment_id.as_deref(), Some("seg-w"));
    assert_eq!(segment_ids(&aws), ["seg-w", "seg-running"]);
    assert_eq!(staged_keys(&aws), std::slice::from_ref(&running));
    assert!(!ops(&aws).contains(&"PutObject"));
}

#[test]
fn objects_that_stopped_runs_left_are_swept_after_a_completed_import() {
    let keys = keys_of(&input("Seg"));
    let orphan = keys.key(1);
    let read = keys.key(2);
    let not_a_key = format!("{}-notours.csv", keys.stem());
    let other = "pinpoint-imports/0123456789abcdef0123456789abcdef.csv".to_owned();
    let mut aws = FakeAws {
        // A job of another run of this data still reads one of them.
        jobs: vec![import_job(
            "job-reading",
            "seg-x",
            &keys.s3_url(&read),
            "PROCESSING",
        )],
        ..Default::default()
    };
    for key in [&orphan, &read, &not_a_key, &other, &keys.shared_key()] {
        aws.objects.insert(format!("/{key}"), b"x".to_vec());
    }
    let mut rt = FakeRuntime::default();
    let out = run_with(&mut aws, &mut rt, "Seg").unwrap();
    assert_eq!(out.segment_id, "seg-new");
    let mut left = vec![read, not_a_key, other];
    left.sort();
    assert_eq!(staged_keys(&aws), left);
    assert!(ops(&aws).contains(&"ListObjectsV2"));
    assert!(
        rt.logs
            .iter()
            .any(|l| l.contains(&orphan) && l.contains("did not finish")),
        "{:?}",
        rt.logs
    );

    // Without `s3:ListBucket`, nothing is swept and the import still succeeds.
    let mut aws = FakeAws::default();
    aws.objects.insert(format!("/{orphan}"), b"x".to_vec());
    aws.script.insert(
        "ListObjectsV2",
        [Ok(http::Response::builder()
            .status(403)
            .body(
                b"<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>"
                    .to_vec(),
            )
            .unwrap())]
        .into(),
    );
    let mut rt = FakeRuntime::default();
    run_with(&mut aws, &mut rt, "Seg").unwrap();
    assert_eq!(staged_keys(&aws), [orphan]);
    assert!(
        rt.logs.iter().any(|l| l.contains("could not list")),
        "{:?}",
        rt.logs
    );
}

fn segments_page(names: &[&str], next: Option<&str>) -> Result<Response, TransportError> {
    let items: Vec<_> = names
        .iter()
        .map(|n| serde_json::json!({"Id": format!("id-{n}"), "Name": n}))
        .collect();
    let mut page = serde_json::json!({ "Item": items });
    if let Some(t) = next {
        page["NextToken"] = t.into();
    }
    Ok(json(200, page))
}

#[test]
fn a_listing_that_repeats_a_token_is_a_service_error() {
    // Tokens a, b, a: the loop is longer than one page, so comparing with the
    // previous token alone would not see it.
    let mut aws = FakeAws::default();
    aws.script.insert(
        "GetSegments",
        [
            segments_page(&["x"], Some("a")),
            segments_page(&["y"], Some("b")),
            segments_page(&["z"], Some("a")),
        ]
        .into(),
    );
    let err = run_with(&mut aws, &mut FakeRuntime::default(), "Seg").unwrap_err();
    assert_eq!(err.kind, ErrorKind::ServiceError);
    assert_eq!(err.details.service.unwrap().operation, "GetSegments");
    assert!(
        err.message.contains("GetSegments") && err.message.contains("\"a\""),
        "{}",
        err.message
    );
    assert!(!ops(&aws).contains(&"PutObject"), "{:?}", ops(&aws));
    // The same token twice in a row, too.
    let mut aws = FakeAws::default();
    aws.script.insert(
        "GetSegments",
        [
            segments_page(&["x"], Some("t")),
            segments_page(&["x"], Some("t")),
        ]
        .into(),
    );
    let err = run_with(&mut aws, &mut FakeRuntime::default(), "Seg").unwrap_err();
    assert_eq!(err.kind, ErrorKind::ServiceError);
    assert!(!ops(&aws).contains(&"PutObject"));
}

#[test]
fn a_listing_longer_than_the_page_limit_is_a_service_error() {
    let mut aws = FakeAws {
        segments: (0..=MAX_PAGES)
            .map(|i| serde_json::json!({"Id": format!("s{i}"), "Name": format!("other {i}")}))
            .collect(),
        page_size: 1,
        ..Default::default()
    };
    let err = run_with(&mut aws, &mut FakeRuntime::default(), "Seg").unwrap_err();
    assert_eq!(err.kind, ErrorKind::ServiceError);
    assert!(
        err.message.contains("GetSegments") && err.message.contains("1000 pages"),
        "{}",
        err.message
    );
    assert_eq!(
        ops(&aws).iter().filter(|o| **o == "GetSegments").count(),
        MAX_PAGES
    );
    assert!(!ops(&aws).contains(&"PutObject"));
    // Exactly MAX_PAGES pages is a complete listing: the listing after the
    // job, with the run's own segment, has that many.
    let mut aws = FakeAws {
        segments: (0..MAX_PAGES - 1)
            .map(|i| serde_json::json!({"Id": format!("s{i}"), "Name": format!("other {i}")}))
            .collect(),
        page_size: 1,
        ..Default::default()
    };
    run_with(&mut aws, &mut FakeRuntime::default(), "Seg").unwrap();
    assert_eq!(
        ops(&aws).iter().filter(|o| **o == "GetSegments").count(),
        2 * MAX_PAGES - 1
    );
}

fn too_large() -> Result<Response, TransportError> {
    Err(TransportError::new(
        TransportErrorKind::TooLarge,
        "the body went on past 16777216 bytes",
    ))
}

#[test]
fn an_answer_too_large_to_read_is_a_service_error_and_not_retried() {
    for op in ["GetApp", "GetSegments", "PutObject"] {
        let mut aws = FakeAws::default();
        aws.script.insert(op, [too_large(), too_large()].into());
        let err = run_with(&mut aws, &mut FakeRuntime::default(), "Seg").unwrap_err();
        assert_eq!(err.kind, ErrorKind::ServiceError, "{op}");
        assert!(
            err.message
                .contains(&format!("to {op} is larger than 16 MiB")),
            "{}",
            err.message
        );
        assert_eq!(err.details.service.unwrap().operation, op);
        assert_eq!(
            ops(&aws).iter().filter(|o| **o == op).count(),
            1,
            "not retried: {:?}",
            ops(&aws)
        );
        assert!(!ops(&aws).contains(&"CreateImportJob"));
    }
    assert_eq!(MAX_RESPONSE_BYTES, 16 * 1024 * 1024);
}

#[test]
fn a_create_answer_too_large_to_read_keeps_the_staged_file() {
    // The job may exist and read the file: it is kept for a re-run to find.
    let mut aws = FakeAws::default();
    aws.script.insert("CreateImportJob", [too_large()].into());
    let err = run_with(&mut aws, &mut FakeRuntime::default(), "Seg").unwrap_err();
    assert_eq!(err.kind, ErrorKind::ServiceError);
    assert!(err.message.contains("CreateImportJob"), "{}", err.message);
    assert_eq!(
        ops(&aws)
            .iter()
            .filter(|o| **o == "CreateImportJob")
            .count(),
        1
    );
    assert!(!ops(&aws).contains(&"DeleteObject"), "{:?}", ops(&aws));
    assert_eq!(aws.objects.len(), 1);
}

#[test]
fn secrets_quoted_back_in_any_encoding_are_redacted() {
    let b64 = |s: &str| aws_smithy_types::base64::encode(s.as_bytes());
    let quoted = [
        "secretsecret".to_owned(),
        "TokenToken".to_owned(),
        b64("SECRETSECRET"),
        b64("x-amz-security-token:TOKENTOKEN"),
        b64("SECRETSECRET").replace('+', "-").replace('/', "_"),
        urls::encode_segment("SECRETSECRET"),
    ];
    for q in &quoted {
        let mut aws = FakeAws::default();
        let answer = http::Response::builder()
            .status(403)
            .header("x-amzn-ErrorType", "InvalidSignatureException")
            .body(
                serde_json::json!({"Message": format!("The canonical request was {q}")})
                    .to_string()
                    .into_bytes(),
            )
            .unwrap();
        aws.script.insert("GetApp", [Ok(answer)].into());
        let mut rt = FakeRuntime::default();
        let err = run_with(&mut aws, &mut rt, "Seg").unwrap_err();
        let text = format!(
            "{err:?} {} {:?}",
            serde_json::to_string(&err).unwrap(),
            rt.logs
        );
        assert!(!text.contains(q.as_str()), "{q}: {text}");
        assert!(text.contains("<redacted>"), "{text}");
    }
}

/// One of the seed's usage examples: file in `examples/`, segment name,
/// format, endpoints per channel type.
struct Seed {
    file: &'static str,
    segment_name: &'static str,
    format: Format,
    channels: &'static [(&'static str, u64)],
}

/// The seed's three usage examples (`examples/*.json`, the description's data
/// byte for byte).
const SEED_EXAMPLES: [Seed; 3] = [
    Seed {
        file: "1-customers-csv.json",
        segment_name: "Q4_2024_High_Value_Customers",
        format: Format::Csv,
        channels: &[("EMAIL", 2), ("SMS", 1)],
    },
    Seed {
        file: "2-beta-testers-json.json",
        segment_name: "Mobile_App_Beta_Testers",
        format: Format::Json,
        channels: &[("APNS", 1), ("GCM", 1)],
    },
    Seed {
        file: "3-newsletter-subscribers-csv.json",
        segment_name: "Newsletter_Subscribers_2024",
        format: Format::Csv,
        channels: &[("EMAIL", 3)],
    },
];

fn example_input(path: &std::path::Path) -> ImportInput {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn examples_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples")
}

#[test]
fn the_seed_examples_validate_and_import_with_their_names_and_counts() {
    let mut files: Vec<String> = std::fs::read_dir(examples_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    files.sort();
    let seeds: Vec<&str> = SEED_EXAMPLES.iter().map(|seed| seed.file).collect();
    assert_eq!(files, seeds, "examples/*.json are exactly the three seeds");
    for Seed {
        file,
        segment_name,
        format,
        channels,
    } in SEED_EXAMPLES
    {
        let input = example_input(&examples_dir().join(file));
        assert_eq!(input.application_id, "a1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p6");
        assert_eq!(input.segment_name, segment_name, "{file}");
        assert_eq!(input.format, format, "{file}");
        let count: u64 = channels.iter().map(|(_, n)| n).sum();

        let report =
            validate(&input, &limits(&settings())).unwrap_or_else(|e| panic!("{file}: {e:?}"));
        assert_eq!(report.endpoint_count, count, "{file}");
        let by_channel: Vec<(&str, u64)> = report
            .channel_counts
            .iter()
            .map(|(k, v)| (k.as_str(), *v))
            .collect();
        assert_eq!(by_channel, channels, "{file}");

        let mut aws = FakeAws::default();
        let out = run(&input, &settings(), &mut aws, &mut FakeRuntime::default())
            .unwrap_or_else(|e| panic!("{file}: {e:?}"));
        assert_eq!(out.segment_name, segment_name, "{file}");
        assert_eq!(out.endpoints_submitted, count, "{file}");
        assert_eq!(aws.segments[0]["Name"], segment_name, "{file}");
    }
}

#[test]
fn the_extra_examples_validate() {
    let dir = examples_dir().join("extra");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|x| x == "json") {
            let input = example_input(&path);
            let report = validate(&input, &limits(&settings()))
                .unwrap_or_else(|e| panic!("{}: {e:?}", path.display()));
            assert!(report.endpoint_count > 0, "{}", path.display());
            seen += 1;
        }
    }
    assert!(seen > 0, "examples/extra holds at least one example");
}

mod cancel;
mod recurring;
