//! Many runs at once in one `NodeHost`, against the emulator: each run has
//! its own input, segment name, application, staging bucket, credentials,
//! settings, memory cap and event sink, and nothing of one reaches another.
//! The pool has fewer slots than there are runs, so runs also wait for
//! slots and reuse the slots (memories, tables) of runs before them.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use host_test::credentials::Static;
use host_test::emulated::{self, Emulator, EmulatorConfig};
use host_test::node::{EventSink, HostConfig, LogLevel, NodeHost, RunConfig};
use pinpoint_segment_import::error::{ErrorKind, NodeError};
use pinpoint_segment_import::import::{ImportOutput, Stage};
use pinpoint_segment_import::input::{Format, ImportInput};

/// Runs that import, each with its own everything.
const RUNS: usize = 24;
/// Slots of the host's pool: fewer than the runs.
const SLOTS: u32 = 6;

/// Everything one run was given.
struct Plan {
    input: ImportInput,
    endpoints: u64,
    bucket: String,
    access_key_id: String,
    secret_access_key: String,
    session_token: Option<String>,
    poll_interval_ms: u64,
}

impl Plan {
    fn new(i: usize) -> Plan {
        let endpoints = i as u64 + 1;
        let mut data = String::from("ChannelType,Address,User.UserId\n");
        for e in 0..endpoints {
            data.push_str(&format!(
                "EMAIL,run{i:02}.user{e}@example.com,run{i:02}-{e}\n"
            ));
        }
        Plan {
            input: ImportInput {
                application_id: format!("app{i:02}{}", "0".repeat(27)),
                segment_name: format!("Segment_of_run_{i:02}"),
                format: Format::Csv,
                data,
            },
            endpoints,
            bucket: format!("staging-run-{i:02}"),
            access_key_id: format!("AKIARUN{i:02}0000000000"),
            secret_access_key: format!("secret/of/run/{i:02}/0000000000000000000000"),
            // Half the runs have temporary credentials: a token that went to
            // another run's requests would break their signatures.
            session_token: (i % 2 == 1).then(|| format!("token-of-run-{i:02}")),
            poll_interval_ms: 5 + i as u64,
        }
    }

    fn credentials(&self) -> emulated::Credentials {
        emulated::credentials(
            &self.access_key_id,
            &self.secret_access_key,
            self.session_token.as_deref(),
        )
    }

    fn config(&self, emulator: &Emulator, events: Arc<Recorder>) -> RunConfig {
        let url = emulator.endpoint_url();
        let settings: BTreeMap<String, String> = [
            ("region", emulated::DEFAULT_REGION.to_owned()),
            ("staging-bucket", self.bucket.clone()),
            ("import-role-arn", emulated::DEFAULT_ROLE_ARN.to_owned()),
            ("pinpoint-endpoint", url.clone()),
            ("s3-endpoint", url),
            ("poll-interval-ms", self.poll_interval_ms.to_string()),
            ("poll-max-interval-ms", self.poll_interval_ms.to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let mut config = RunConfig::new(settings, Arc::new(Static(self.credentials())));
        config.events = events;
        config.deadline = Duration::from_secs(120);
        config
    }
}

/// What one run's sink received.
#[derive(Default)]
struct Recorder {
    logs: Mutex<Vec<String>>,
    stages: Mutex<Vec<(Stage, u64, Option<u64>)>>,
    sent: Mutex<u64>,
    instantiations: Mutex<u32>,
}

impl EventSink for Recorder {
    fn log(&self, _: LogLevel, message: &str) {
        self.logs.lock().unwrap().push(message.to_owned());
    }
    fn progress(&self, stage: Stage, completed: u64, total: Option<u64>) {
        self.stages.lock().unwrap().push((stage, completed, total));
    }
    fn bytes_sent(&self, sent: u64) {
        *self.sent.lock().unwrap() += sent;
    }
    fn instantiated(&self, _: Duration) {
        *self.instantiations.lock().unwrap() += 1;
    }
}

impl Recorder {
    fn logs(&self) -> Vec<String> {
        self.logs.lock().unwrap().clone()
    }
    /// The total of the staging stage: the staged body's size.
    fn staged_bytes(&self) -> Vec<u64> {
        let stages = self.stages.lock().unwrap();
        stages
            .iter()
            .filter(|(s, _, _)| *s == Stage::Staging)
            .filter_map(|(_, _, total)| *total)
            .collect()
    }
    fn count(&self, stage: Stage) -> usize {
        let stages = self.stages.lock().unwrap();
        stages.iter().filter(|(s, _, _)| *s == stage).count()
    }
}

/// The access key id a signed request was made with.
fn access_key(request: &emulated::RecordedRequest) -> Option<String> {
    let auth = request.header("authorization")?;
    let start = auth.find("Credential=")? + "Credential=".len();
    Some(auth[start..].split('/').next()?.to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_runs_in_one_host_keep_their_inputs_credentials_settings_and_events_apart() {
    let plans: Vec<Plan> = (0..RUNS).map(Plan::new).collect();
    // One more run whose secret is wrong for its (known) key, and one whose
    // memory cap is too small for its data: each fails alone.
    let mut wrong = Plan::new(RUNS);
    let mut capped = Plan::new(RUNS + 1);
    let mut config = EmulatorConfig {
        job_step: Duration::from_millis(10),
        ..EmulatorConfig::default()
    };
    for plan in plans.iter().chain([&wrong, &capped]) {
        config.credentials.push(plan.credentials());
        config.applications.push(plan.input.application_id.clone());
        config.buckets.push(plan.bucket.clone());
    }
    wrong.secret_access_key = "not/the/secret/of/this/key/000000000000000".into();
    capped.input.data = {
        let mut data = String::from("ChannelType,Address\n");
        // About 12 MB: more than the 8 MiB cap holds (the data is checked
        // as it streams, so the data itself must not fit).
        for e in 0..400_000 {
            data.push_str(&format!("EMAIL,capped{e}@example.com\n"));
        }
        data
    };
    let emulator = Emulator::start(config, SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let host = NodeHost::with_config(HostConfig {
        max_concurrent_instances: SLOTS,
        ..HostConfig::default()
    })
    .unwrap();

    let recorders: Vec<Arc<Recorder>> = (0..RUNS + 2).map(|_| Arc::default()).collect();
    let mut tasks = Vec::new();
    for (plan, recorder) in plans.iter().chain([&wrong, &capped]).zip(&recorders) {
        let host = host.clone();
        let input = plan.input.clone();
        let mut config = plan.config(&emulator, recorder.clone());
        if std::ptr::eq(plan, &capped) {
            config.memory_limit_bytes = 8 << 20;
        }
        tasks.push(tokio::spawn(async move { host.run(&input, &config).await }));
    }
    let mut outcomes: Vec<Result<ImportOutput, NodeError>> = Vec::new();
    for task in tasks {
        outcomes.push(task.await.unwrap());
    }

    let requests = emulator.requests();
    for (i, (plan, outcome)) in plans.iter().zip(&outcomes).enumerate() {
        let name = &plan.input.segment_name;
        let app = &plan.input.application_id;
        // Its output is its input's.
        let out = outcome
            .as_ref()
            .unwrap_or_else(|e| panic!("run {i}: {}: {}", e.kind, e.message));
        assert_eq!(&out.segment_name, name, "run {i}");
        assert_eq!(out.endpoints_submitted, plan.endpoints, "run {i}");
        assert_eq!(out.endpoints_imported, Some(plan.endpoints), "run {i}");
        assert!(
            out.staged_object
                .starts_with(&format!("s3://{}/", plan.bucket)),
            "run {i}: {}",
            out.staged_object
        );
        // Its segment is in its application, and nothing else is.
        let segments = emulator.segments(app);
        assert_eq!(segments.len(), 1, "run {i}: {segments:?}");
        assert_eq!(&segments[0].name, name, "run {i}");
        assert_eq!(segments[0].id, out.segment_id, "run {i}");
        assert_eq!(segments[0].size, plan.endpoints, "run {i}");
        assert_eq!(
            emulator.objects(&plan.bucket),
            Vec::<String>::new(),
            "run {i}"
        );

        // Its credentials signed only requests for its application, its
        // bucket and its segment.
        let own: Vec<_> = requests
            .iter()
            .filter(|r| access_key(r).as_deref() == Some(plan.access_key_id.as_str()))
            .collect();
        assert!(own.len() >= 6, "run {i}: {} requests", own.len());
        for r in &own {
            assert_eq!(r.status.map(|s| s < 300), Some(true), "run {i}: {r:?}");
            assert_eq!(
                r.header("x-amz-security-token"),
                plan.session_token.as_deref(),
                "run {i}: {r:?}"
            );
            let uri = &r.uri;
            match r.service.as_str() {
                // Path-style: an object of its bucket, or its bucket's listing.
                "s3" => assert!(
                    uri.starts_with(&format!("/{}/", plan.bucket))
                        || uri.starts_with(&format!("/{}?", plan.bucket)),
                    "run {i}: {uri}"
                ),
                _ => {
                    assert!(
                        uri.starts_with(&format!("/v1/apps/{app}")),
                        "run {i}: {uri}"
                    );
                    let body = String::from_utf8_lossy(&r.body);
                    for other in plans.iter().filter(|p| p.bucket != plan.bucket) {
                        assert!(!body.contains(&other.bucket), "run {i}: {body}");
                        assert!(!body.contains(&other.input.segment_name), "run {i}: {body}");
                    }
                }
            }
        }

        // Its sink saw its own run, once, and nothing of another.
        let recorder = &recorders[i];
        let staged = recorder.staged_bytes();
        assert_eq!(staged.len(), 1, "run {i}: {staged:?}");
        // The bodies it counted as sent: its staged file and its Pinpoint
        // requests' bodies, as the emulator received them.
        let pinpoint_bodies: u64 = own
            .iter()
            .filter(|r| r.service != "s3")
            .map(|r| r.body.len() as u64)
            .sum();
        assert_eq!(
            *recorder.sent.lock().unwrap(),
            staged[0] + pinpoint_bodies,
            "run {i}"
        );
        let valid = format!(
            "{} endpoints valid; {} bytes to stage",
            plan.endpoints, staged[0]
        );
        let logs = recorder.logs();
        assert_eq!(
            logs.iter()
                .filter(|l| l.contains("endpoints valid"))
                .collect::<Vec<_>>(),
            [&valid],
            "run {i}"
        );
        for other in plans.iter().filter(|p| p.bucket != plan.bucket) {
            for line in &logs {
                assert!(!line.contains(&other.bucket), "run {i}: {line}");
                assert!(
                    !line.contains(&other.input.application_id),
                    "run {i}: {line}"
                );
            }
        }
        assert_eq!(recorder.count(Stage::Done), 1, "run {i}");
        assert_eq!(*recorder.instantiations.lock().unwrap(), 1, "run {i}");
    }
    // The staged bodies differ in size from run to run, so the check above
    // would see another run's events.
    let mut sizes: Vec<u64> = recorders[..RUNS]
        .iter()
        .map(|r| r.staged_bytes()[0])
        .collect();
    sizes.dedup();
    assert_eq!(sizes.len(), RUNS);

    // The wrong secret fails its own run, and only it.
    let err = outcomes[RUNS].as_ref().unwrap_err();
    assert_eq!(err.kind, ErrorKind::PermissionDenied, "{err:?}");
    assert!(emulator.segments(&wrong.input.application_id).is_empty());
    assert_eq!(recorders[RUNS].count(Stage::Done), 0);
    // The small memory cap stops its own run, and only it.
    let err = outcomes[RUNS + 1].as_ref().unwrap_err();
    assert_eq!(err.kind, ErrorKind::OutOfMemory, "{err:?}");
    assert_eq!(err.details.limit_bytes, Some(8 << 20));
    assert!(emulator.segments(&capped.input.application_id).is_empty());
    emulator.shutdown().await;
}
