//! Issue 4's reliability proof, through the built component against the
//! emulator: a seeded soak under random faults, a crash and re-run at every
//! step of the flow, and bad input to the host.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use e2e_tests::*;
use host_test::credentials::Static;
use host_test::emulated::{DEFAULT_BUCKET, SEED_APPLICATION_ID};
use host_test::node::RunConfig;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

// ---------------------------------------------------------------- soak

/// The soak's seed; `SOAK_SEED=<n>` explores others.
const SEED: u64 = 0x5EED_0004;
/// Runs under faults (then one clean run per input).
const RUNS: usize = 240;

const ACCESS_KEY: &str = "ASIASOAKTEST00EXAMPLE";
const SECRET: &str = "soak/Secret+Key/0123456789abcdefSECRET";
const TOKEN: &str = "IQoJb3JpZ2luX2VjEXAMPLE/SessionToken+soak==";

const OTHER_APP: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";

/// The operations of the flow that a fault can hit.
const OPERATIONS: [Operation; 8] = [
    Operation::GetApp,
    Operation::GetSegments,
    Operation::PutObject,
    Operation::CreateImportJob,
    Operation::GetImportJob,
    Operation::GetImportJobs,
    Operation::DeleteObject,
    Operation::DeleteSegment,
];

fn random_fault(rng: &mut StdRng, op: Operation) -> Fault {
    match rng.random_range(0..7) {
        0 if op.is_s3() => Fault::status(503, "SlowDown", "Please reduce your request rate."),
        0 => Fault::throttled(),
        1 if op.is_s3() => Fault::status(500, "InternalError", "We encountered an internal error."),
        1 => Fault::internal_error(),
        2 => Fault::unavailable(),
        3 => Fault::ResetBeforeProcessing,
        4 => Fault::ResetAfterProcessing,
        5 => Fault::Delay(Duration::from_millis(rng.random_range(1..30))),
        _ => Fault::FailJob {
            failures: vec![format!("injected failure {}", rng.random_range(0..1000u32))],
        },
    }
}

/// The `i`-th distinct import: names shared by pairs across the two
/// projects, CSV and JSON, different data.
fn soak_input(i: usize) -> ImportInput {
    let name = format!("Soak {} (#{})", i / 2, i % 7);
    let mut input = if i.is_multiple_of(3) {
        ImportInput {
            application_id: SEED_APPLICATION_ID.into(),
            segment_name: name,
            format: Format::Json,
            data: format!(
                r#"[{{"ChannelType":"EMAIL","Address":"j{i}@example.com","Attributes":{{"Run":["{i}"]}}}},
                    {{"ChannelType":"SMS","Address":"+1206555{:04}"}}]"#,
                i % 10_000
            ),
        }
    } else {
        csv_input(
            &name,
            &format!(
                "ChannelType,Address,User.UserId\nEMAIL,u{i}@example.com,user-{i}\nSMS,+4477009{:05},user-{i}\nEMAIL,v{i}@example.com,\n",
                i % 100_000
            ),
        )
    };
    if i % 2 == 1 {
        input.application_id = OTHER_APP.into();
    }
    input
}

fn soak_config(emu: &Emulator, events: Arc<Recorder>) -> RunConfig {
    let mut cfg = fast_config(
        emu,
        &[("retry-max-attempts", "3"), ("max-wait-seconds", "60")],
    );
    cfg.credentials = Arc::new(Static::new(ACCESS_KEY, SECRET, Some(TOKEN)));
    cfg.events = events;
    cfg.deadline = Duration::from_secs(60);
    cfg
}

/// Every (application, segment name) has at most one segment, and only
/// imports that were asked for made one.
fn no_duplicates(emu: &Emulator, inputs: &[ImportInput], context: &str) {
    for app in [SEED_APPLICATION_ID, OTHER_APP] {
        let mut names: BTreeMap<String, usize> = BTreeMap::new();
        for s in emu.segments(app) {
            *names.entry(s.name).or_default() += 1;
        }
        for (name, n) in &names {
            assert_eq!(*n, 1, "{context}: {n} segments named {name:?} in {app}");
            assert!(
                inputs
                    .iter()
                    .any(|i| i.application_id == app && &i.segment_name == name),
                "{context}: a segment nobody asked for: {name:?}"
            );
        }
    }
}

/// Whether `input`'s segment is left from an import job that FAILED (its
/// DeleteSegment was faulted): a re-run reports that failure (again).
fn failed_segment_left(emu: &Emulator, input: &ImportInput) -> bool {
    let app = &input.application_id;
    let jobs = emu.import_jobs(app);
    emu.segments(app)
        .iter()
        .filter(|s| s.name == input.segment_name)
        .any(|s| {
            jobs.iter()
                .any(|j| j.segment_id.as_ref() == Some(&s.id) && j.status == "FAILED")
        })
}

fn assert_no_secret(text: &str, what: &str) {
    assert!(
        !text.contains(SECRET),
        "the secret key leaked in {what}: {text}"
    );
    assert!(
        !text.contains(TOKEN),
        "the session token leaked in {what}: {text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soak_under_random_faults() {
    let started = Instant::now();
    let emu = emulator(EmulatorConfig {
        credentials: vec![host_test::emulated::credentials(
            ACCESS_KEY,
            SECRET,
            Some(TOKEN),
        )],
        applications: vec![SEED_APPLICATION_ID.into(), OTHER_APP.into()],
        ..EmulatorConfig::default()
    })
    .await;
    let recorder = Arc::new(Recorder::default());
    let cfg = soak_config(&emu, recorder.clone());
    let seed = std::env::var("SOAK_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(SEED);
    let mut rng = StdRng::seed_from_u64(seed);
    let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
    let mut succeeded: BTreeSet<usize> = BTreeSet::new();
    let mut faults_injected = 0usize;
    let mut texts: Vec<String> = Vec::new();

    let record = |result: &Result<ImportOutput, NodeError>,
                  texts: &mut Vec<String>,
                  outcomes: &mut BTreeMap<String, usize>,
                  context: &str| {
        match result {
            Ok(out) => {
                assert!(!out.segment_id.is_empty(), "{context}: {out:?}");
                assert_eq!(
                    out.job_status,
                    pinpoint_segment_import::aws::job_status::JobStatus::Completed,
                    "{context}: {out:?}"
                );
                texts.push(serde_json::to_string(out).unwrap());
                texts.push(format!("{out:?}"));
                *outcomes.entry("success".into()).or_default() += 1;
            }
            Err(e) => {
                // A typed error, of a kind that faults can cause; never a trap.
                assert!(
                    matches!(
                        e.kind,
                        ErrorKind::Throttled | ErrorKind::ServiceError | ErrorKind::ImportJobFailed
                    ),
                    "{context}: unexpected error {e:?}"
                );
                assert!(
                    !e.message.starts_with("the component failed"),
                    "{context}: {e:?}"
                );
                let json = serde_json::to_value(e).unwrap();
                assert_eq!(json["type"], e.kind.name(), "{context}");
                texts.push(json.to_string());
                texts.push(format!("{e:?}"));
                *outcomes.entry(e.kind.name().to_owned()).or_default() += 1;
            }
        }
    };

    let mut inputs: Vec<ImportInput> = Vec::new();
    let mut repeats = 0usize;
    for run in 0..RUNS {
        // A new import, or (a third of the time) one seen before.
        let which = if !inputs.is_empty() && rng.random_bool(1.0 / 3.0) {
            repeats += 1;
            rng.random_range(0..inputs.len())
        } else {
            inputs.push(soak_input(inputs.len()));
            inputs.len() - 1
        };
        let mut fail_job = failed_segment_left(&emu, &inputs[which]);
        for _ in 0..rng.random_range(0..=3) {
            let op = OPERATIONS[rng.random_range(0..OPERATIONS.len())];
            // Now and then a burst that outlasts the retries.
            let n = if rng.random_bool(0.2) { 3 } else { 1 };
            let fault = random_fault(&mut rng, op);
            fail_job |= matches!(fault, Fault::FailJob { .. });
            for _ in 0..n {
                emu.inject(op, fault.clone());
                faults_injected += 1;
            }
        }
        let result = node().run(&inputs[which], &cfg).await;
        let context = format!("run {run} (input {which})");
        record(&result, &mut texts, &mut outcomes, &context);
        if let Err(e) = &result {
            assert!(
                e.kind != ErrorKind::ImportJobFailed || fail_job,
                "{context}: a job failed that no fault made fail: {e:?}"
            );
        }
        if result.is_ok() {
            succeeded.insert(which);
        }
        emu.clear_faults();
        no_duplicates(&emu, &inputs, &context);
    }

    // Every import that succeeded has its one segment, whatever came after.
    for &which in &succeeded {
        let input = &inputs[which];
        let n = emu
            .segments(&input.application_id)
            .iter()
            .filter(|s| s.name == input.segment_name)
            .count();
        assert_eq!(n, 1, "input {which} succeeded, so it has its segment");
    }
    let faulted_successes = succeeded.len();

    // A clean re-run of each input ends every story: with its one segment,
    // and nothing staged.
    let mut clean_runs = 0;
    let mut clean: BTreeMap<String, usize> = BTreeMap::new();
    for (which, input) in inputs.iter().enumerate() {
        // A segment left by a FAILED job whose DeleteSegment was faulted is
        // reported (and deleted) once more before the import is made again.
        let failed_left = failed_segment_left(&emu, input);
        let mut result = node().run(input, &cfg).await;
        clean_runs += 1;
        record(&result, &mut texts, &mut clean, "clean re-run");
        if failed_left {
            let e = result.expect_err("the failed job is reported again");
            assert_eq!(e.kind, ErrorKind::ImportJobFailed, "input {which}: {e:?}");
            assert!(!failed_segment_left(&emu, input), "and its segment deleted");
            result = node().run(input, &cfg).await;
            clean_runs += 1;
            record(&result, &mut texts, &mut clean, "second clean re-run");
        }
        let out =
            result.unwrap_or_else(|e| panic!("input {which}: a clean re-run succeeds: {e:?}"));
        succeeded.insert(which);
        let segments: Vec<_> = emu
            .segments(&input.application_id)
            .into_iter()
            .filter(|s| s.name == input.segment_name)
            .collect();
        assert_eq!(segments.len(), 1, "input {which}: {segments:?}");
        assert_eq!(segments[0].id, out.segment_id, "input {which}");
    }
    no_duplicates(&emu, &inputs, "after the clean re-runs");
    let total_segments = emu.segments(SEED_APPLICATION_ID).len() + emu.segments(OTHER_APP).len();
    assert_eq!(
        total_segments,
        succeeded.len(),
        "one segment per distinct successful import"
    );
    assert!(
        emu.objects(DEFAULT_BUCKET).is_empty(),
        "staged objects left: {:?}",
        emu.objects(DEFAULT_BUCKET)
    );

    // No secret anywhere: outputs, errors, log lines, progress, Debug strings.
    let lines = recorder.lines();
    assert!(
        lines.iter().any(|l| l.starts_with("log ")),
        "logs were captured"
    );
    assert!(lines.iter().any(|l| l.starts_with("progress ")));
    for text in texts.iter().chain(&lines) {
        assert_no_secret(text, "a run's output, error or event");
    }
    assert_no_secret(&format!("{:?}", emu.requests()), "the request log");
    assert_no_secret(&format!("{emu:?}"), "the emulator's Debug");
    assert_no_secret(
        &format!("{:?}", Static::new(ACCESS_KEY, SECRET, Some(TOKEN))),
        "the credentials' Debug",
    );

    let elapsed = started.elapsed();
    println!(
        "soak: seed {seed:#x}; {RUNS} runs of {} distinct inputs ({repeats} repeats) under {faults_injected} faults: {outcomes:?}, {faulted_successes} distinct imports succeeded; \
         then {clean_runs} clean re-runs: {clean:?}; {} distinct imports, {total_segments} segments, 0 staged; {} requests in {:.1} s",
        inputs.len(),
        succeeded.len(),
        emu.requests().len(),
        elapsed.as_secs_f64(),
    );
    let successes = outcomes.get("success").copied().unwrap_or(0);
    assert!(
        successes > RUNS / 4 && successes < RUNS,
        "faults both hurt and were survived: {outcomes:?}"
    );
}

// ---------------------------------------------------------------- crash and re-run

/// How the first run is made to crash.
enum Crash {
    /// The host's deadline ends the run while the `skip`+1-th request of
    /// `op` hangs.
    Hang { op: Operation, skip: usize },
    /// These faults (and, with `hang`, a hang as above); the run ends in
    /// `ServiceError`, or with `hang` in the host's deadline.
    Faults {
        faults: Vec<(Operation, Fault)>,
        hang: Option<Operation>,
    },
}

/// What the crashed run left.
struct Left {
    /// The segment (id) the crashed run left, if any.
    segment: Option<String>,
    /// Objects staged.
    staged: Vec<String>,
}

/// Runs `name` with `crash`, then re-runs it with no faults and checks: it
/// succeeds with exactly one segment of that name (the one the crash left,
/// if any), one completed job, and nothing staged.
async fn crash_and_rerun(name: &str, crash: Crash) -> Left {
    let emu = emulator(EmulatorConfig::default()).await;
    let input = csv_input(name, VALID_CSV);
    let mut cfg = fast_config(&emu, &[("retry-max-attempts", "2")]);
    let (faults, hang) = match crash {
        Crash::Hang { op, skip } => {
            let mut faults = vec![(op, Fault::Delay(Duration::ZERO)); skip];
            faults.push((op, Fault::Delay(Duration::from_secs(600))));
            (faults, Some(op))
        }
        Crash::Faults { mut faults, hang } => {
            if let Some(op) = hang {
                faults.push((op, Fault::Delay(Duration::from_secs(600))));
            }
            (faults, hang)
        }
    };
    for (op, fault) in faults {
        emu.inject(op, fault);
    }
    cfg.deadline = Duration::from_secs(5);
    let err = node()
        .run(&input, &cfg)
        .await
        .expect_err("the first run crashes");
    match hang {
        Some(op) => {
            assert_eq!(err.kind, ErrorKind::TimedOut, "{name}: {err:?}");
            assert!(err.message.contains("deadline"), "{}", err.message);
            assert_eq!(emu.pending_faults(op), 0, "{name}: the run reached {op}");
        }
        None => assert_eq!(err.kind, ErrorKind::ServiceError, "{name}: {err:?}"),
    }
    emu.clear_faults();
    let segments = emu.segments(SEED_APPLICATION_ID);
    assert!(segments.len() <= 1, "{name}: {segments:?}");
    let left = Left {
        segment: segments.first().map(|s| s.id.clone()),
        staged: staged(&emu),
    };

    let mut cfg = fast_config(&emu, &[]);
    cfg.deadline = Duration::from_secs(60);
    let out = node()
        .run(&input, &cfg)
        .await
        .unwrap_or_else(|e| panic!("{name}: the re-run succeeds: {e:?}"));
    assert_eq!(
        out.job_status,
        pinpoint_segment_import::aws::job_status::JobStatus::Completed,
        "{name}"
    );
    let segments = emu.segments(SEED_APPLICATION_ID);
    assert_eq!(
        segments.len(),
        1,
        "{name}: exactly one segment: {segments:?}"
    );
    assert_eq!(segments[0].id, out.segment_id, "{name}");
    assert_eq!(segments[0].name, name);
    assert_eq!(segments[0].size, 3, "{name}: every endpoint imported");
    match &left.segment {
        Some(id) => {
            assert_eq!(&out.segment_id, id, "{name}: the crashed run's segment");
            assert!(out.reused_existing_segment, "{name}");
        }
        None => assert!(!out.reused_existing_segment, "{name}"),
    }
    assert!(out.staged_object_deleted, "{name}");
    assert!(staged(&emu).is_empty(), "{name}: {:?}", staged(&emu));
    let jobs = emu.import_jobs(SEED_APPLICATION_ID);
    assert_eq!(jobs.len(), 1, "{name}: one job: {jobs:?}");
    assert_eq!(jobs[0].status, "COMPLETED", "{name}");
    left
}

#[tokio::test]
async fn crash_after_get_app() {
    let left = crash_and_rerun(
        "after GetApp",
        Crash::Hang {
            op: Operation::GetSegments,
            skip: 0,
        },
    )
    .await;
    assert!(left.segment.is_none() && left.staged.is_empty());
}

#[tokio::test]
async fn crash_after_get_segments() {
    let left = crash_and_rerun(
        "after GetSegments",
        Crash::Hang {
            op: Operation::PutObject,
            skip: 0,
        },
    )
    .await;
    assert!(left.segment.is_none());
}

#[tokio::test]
async fn crash_after_put_object() {
    let left = crash_and_rerun(
        "after PutObject",
        Crash::Hang {
            op: Operation::CreateImportJob,
            skip: 0,
        },
    )
    .await;
    assert!(left.segment.is_none());
    assert_eq!(left.staged.len(), 1, "staged, and no job yet");
}

#[tokio::test]
async fn crash_after_create_import_job_answer_lost_and_look_up_failed() {
    // The job is created but its answer lost; looking it up fails too.
    let left = crash_and_rerun(
        "after CreateImportJob, retries exhausted",
        Crash::Faults {
            faults: vec![
                (Operation::CreateImportJob, Fault::ResetAfterProcessing),
                (Operation::GetImportJobs, Fault::ResetBeforeProcessing),
                (Operation::GetImportJobs, Fault::ResetBeforeProcessing),
            ],
            hang: None,
        },
    )
    .await;
    assert!(left.segment.is_some(), "the job made its segment");
    assert_eq!(left.staged.len(), 1, "the job still needs the file");
}

#[tokio::test]
async fn crash_after_create_import_job_answer_lost_then_deadline() {
    let left = crash_and_rerun(
        "after CreateImportJob, deadline",
        Crash::Faults {
            faults: vec![(Operation::CreateImportJob, Fault::ResetAfterProcessing)],
            hang: Some(Operation::GetImportJobs),
        },
    )
    .await;
    assert!(left.segment.is_some());
    assert_eq!(left.staged.len(), 1);
}

#[tokio::test]
async fn crash_while_polling_by_deadline() {
    let left = crash_and_rerun(
        "while polling, deadline",
        Crash::Hang {
            op: Operation::GetImportJob,
            skip: 2,
        },
    )
    .await;
    assert!(left.segment.is_some());
    assert_eq!(left.staged.len(), 1);
}

#[tokio::test]
async fn crash_while_polling_with_retries_exhausted() {
    // The polls reach Pinpoint (the job moves on) but their answers are lost.
    let left = crash_and_rerun(
        "while polling, retries exhausted",
        Crash::Faults {
            faults: vec![
                (Operation::GetImportJob, Fault::ResetAfterProcessing),
                (Operation::GetImportJob, Fault::ResetAfterProcessing),
            ],
            hang: None,
        },
    )
    .await;
    assert!(left.segment.is_some());
    assert_eq!(left.staged.len(), 1, "the running job still needs the file");
}

#[tokio::test]
async fn crash_after_the_job_completed_before_delete_object() {
    let left = crash_and_rerun(
        "before DeleteObject",
        Crash::Hang {
            op: Operation::DeleteObject,
            skip: 0,
        },
    )
    .await;
    assert!(left.segment.is_some());
    assert_eq!(left.staged.len(), 1);
}

#[tokio::test]
async fn a_delete_object_that_keeps_failing_is_cleaned_up_by_the_re_run() {
    let emu = emulator(EmulatorConfig::default()).await;
    let input = csv_input("Seg", VALID_CSV);
    for _ in 0..2 {
        emu.inject(Operation::DeleteObject, Fault::ResetBeforeProcessing);
    }
    let recorder = Arc::new(Recorder::default());
    let mut cfg = fast_config(&emu, &[("retry-max-attempts", "2")]);
    cfg.events = recorder.clone();
    let first = node().run(&input, &cfg).await.unwrap();
    emu.clear_faults();
    assert!(!first.staged_object_deleted);
    assert_eq!(staged(&emu).len(), 1);
    assert!(
        recorder
            .lines()
            .iter()
            .any(|l| l.contains("could not delete the staged file")),
        "{:?}",
        recorder.lines()
    );
    let again = node().run(&input, &fast_config(&emu, &[])).await.unwrap();
    assert_eq!(again.segment_id, first.segment_id);
    assert!(again.reused_existing_segment && again.staged_object_deleted);
    assert!(staged(&emu).is_empty());
    assert_eq!(emu.segments(SEED_APPLICATION_ID).len(), 1);
}

#[tokio::test]
async fn a_lost_create_import_job_answer_is_looked_up_not_repeated() {
    let emu = emulator(EmulatorConfig::default()).await;
    // Reset after: the job exists; it is found, not created again.
    emu.inject(Operation::CreateImportJob, Fault::ResetAfterProcessing);
    let out = node()
        .run(&csv_input("After", VALID_CSV), &fast_config(&emu, &[]))
        .await
        .unwrap();
    assert_eq!(count(&emu, Operation::CreateImportJob), 1);
    assert_eq!(emu.import_jobs(SEED_APPLICATION_ID).len(), 1);
    assert!(!out.reused_existing_segment);
    // Reset before: nothing was made; it is created once more.
    emu.clear_requests();
    emu.inject(Operation::CreateImportJob, Fault::ResetBeforeProcessing);
    node()
        .run(&csv_input("Before", VALID_CSV), &fast_config(&emu, &[]))
        .await
        .unwrap();
    assert_eq!(count(&emu, Operation::CreateImportJob), 2);
    assert_eq!(emu.import_jobs(SEED_APPLICATION_ID).len(), 2);
    assert_eq!(emu.segments(SEED_APPLICATION_ID).len(), 2);
    assert!(staged(&emu).is_empty());
}

#[tokio::test]
async fn an_earlier_failed_job_of_the_same_file_is_not_taken_for_this_one() {
    let emu = emulator(EmulatorConfig::default()).await;
    let input = csv_input("Seg", VALID_CSV);
    let cfg = fast_config(&emu, &[]);
    emu.inject(
        Operation::CreateImportJob,
        Fault::FailJob {
            failures: vec!["the role could not read the file".into()],
        },
    );
    let err = node().run(&input, &cfg).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::ImportJobFailed, "{err:?}");
    assert!(emu.segments(SEED_APPLICATION_ID).is_empty());

    // The same file again, and CreateImportJob's answer is lost before it is
    // made: the FAILED job of the same file is not this run's job.
    emu.inject(Operation::CreateImportJob, Fault::ResetBeforeProcessing);
    let out = node().run(&input, &cfg).await.expect("imported this time");
    let segments = emu.segments(SEED_APPLICATION_ID);
    assert_eq!(segments.len(), 1);
    assert_eq!(segments[0].id, out.segment_id);

    // A re-run returns that segment; it does not report (and clean up after)
    // the earlier FAILED job.
    let again = node().run(&input, &cfg).await.expect("the same import");
    assert_eq!(again.segment_id, out.segment_id);
    assert!(again.reused_existing_segment);
    assert_eq!(again.import_job_id, out.import_job_id);
    assert_eq!(emu.segments(SEED_APPLICATION_ID).len(), 1);
    assert_eq!(
        count(&emu, Operation::DeleteSegment),
        1,
        "only the failed one's"
    );

    // And a lost answer of a job that was made finds that job.
    let second = csv_input("Seg 2", VALID_CSV);
    emu.inject(
        Operation::CreateImportJob,
        Fault::FailJob {
            failures: vec!["failed".into()],
        },
    );
    node().run(&second, &cfg).await.unwrap_err();
    emu.inject(Operation::CreateImportJob, Fault::ResetAfterProcessing);
    let out = node().run(&second, &cfg).await.expect("imported");
    let job = emu
        .import_jobs(SEED_APPLICATION_ID)
        .into_iter()
        .find(|j| j.id == out.import_job_id)
        .unwrap();
    assert_eq!(job.status, "COMPLETED");
    assert_eq!(job.segment_id.as_ref(), Some(&out.segment_id));
    assert!(staged(&emu).is_empty());
}

// ---------------------------------------------------------------- bad input to the host

async fn bad_settings(
    emu: &Emulator,
    change: impl FnOnce(&mut BTreeMap<String, String>),
) -> NodeError {
    let mut cfg = fast_config(emu, &[]);
    change(&mut cfg.settings);
    node()
        .run(&csv_input("Seg", VALID_CSV), &cfg)
        .await
        .expect_err("bad settings fail the run")
}

#[tokio::test]
async fn malformed_settings_are_invalid_settings_naming_the_key() {
    let emu = emulator(EmulatorConfig::default()).await;
    let set = |k: &'static str, v: &'static str| {
        move |s: &mut BTreeMap<String, String>| {
            s.insert(k.into(), v.into());
        }
    };
    for (key, err) in [
        (
            "region",
            bad_settings(&emu, set("region", "US East (N. Virginia)")).await,
        ),
        (
            "pinpoint-endpoint",
            bad_settings(&emu, set("pinpoint-endpoint", "not a url")).await,
        ),
        (
            "pinpoint-endpoint",
            bad_settings(&emu, set("pinpoint-endpoint", "ftp://127.0.0.1:21")).await,
        ),
        (
            "s3-endpoint",
            bad_settings(&emu, set("s3-endpoint", "http://127.0.0.1:4566/some/path")).await,
        ),
        (
            "s3-endpoint",
            bad_settings(&emu, set("s3-endpoint", "http://user:pw@127.0.0.1:4566")).await,
        ),
        (
            "staging-bucket",
            bad_settings(&emu, |s| {
                s.remove("staging-bucket");
            })
            .await,
        ),
        (
            "staging-bucket",
            bad_settings(&emu, set("staging-bucket", "Not_A_Bucket")).await,
        ),
        (
            "import-role-arn",
            bad_settings(&emu, |s| {
                s.remove("import-role-arn");
            })
            .await,
        ),
        (
            "region",
            bad_settings(&emu, |s| {
                s.remove("region");
            })
            .await,
        ),
        (
            "max-wait-seconds",
            bad_settings(&emu, set("max-wait-seconds", "soon")).await,
        ),
        (
            "wait-for-completion",
            bad_settings(&emu, set("wait-for-completion", "yes")).await,
        ),
        (
            "retry-max-attempts",
            bad_settings(&emu, set("retry-max-attempts", "-1")).await,
        ),
    ] {
        assert_eq!(err.kind, ErrorKind::InvalidSettings, "{key}: {err:?}");
        assert_eq!(err.details.setting.as_deref(), Some(key), "{err:?}");
        assert!(err.message.contains(key), "{key}: {}", err.message);
    }
    assert!(
        emu.requests().is_empty(),
        "nothing is sent with bad settings"
    );
}

#[tokio::test]
async fn an_unreachable_endpoint_is_a_typed_error_naming_the_setting() {
    let emu = emulator(EmulatorConfig::default()).await;
    // A loopback port that was just free: nothing listens there.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap();
    let url = format!("http://{closed}");
    let started = Instant::now();
    let err = node()
        .run(
            &csv_input("Seg", VALID_CSV),
            &fast_config(
                &emu,
                &[("pinpoint-endpoint", &url), ("retry-max-attempts", "3")],
            ),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::ServiceError, "{err:?}");
    assert!(
        err.message.contains(&closed.to_string()) && err.message.contains("3 attempts"),
        "{}",
        err.message
    );
    assert_eq!(
        err.details.setting.as_deref(),
        Some("pinpoint-endpoint"),
        "{err:?}"
    );
    assert_eq!(
        err.details.service.as_ref().map(|s| s.operation.as_str()),
        Some("GetApp")
    );
    assert!(started.elapsed() < Duration::from_secs(30));
    // The same for S3.
    let err = node()
        .run(
            &csv_input("Seg", VALID_CSV),
            &fast_config(&emu, &[("s3-endpoint", &url), ("retry-max-attempts", "2")]),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::ServiceError, "{err:?}");
    assert_eq!(
        err.details.setting.as_deref(),
        Some("s3-endpoint"),
        "{err:?}"
    );
    assert!(emu.segments(SEED_APPLICATION_ID).is_empty());
}

#[tokio::test]
async fn a_denied_host_is_invalid_settings_and_nothing_leaves() {
    let emu = emulator(EmulatorConfig::default()).await;
    let mut cfg = fast_config(&emu, &[]);
    cfg.allowed_authorities = vec!["pinpoint.us-east-1.amazonaws.com".into()];
    let err = node()
        .run(&csv_input("Seg", VALID_CSV), &cfg)
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidSettings, "{err:?}");
    assert_eq!(err.details.setting.as_deref(), Some("pinpoint-endpoint"));
    assert!(
        err.message.contains("denied") && err.message.contains(&emu.local_addr().to_string()),
        "{}",
        err.message
    );
    assert!(
        emu.requests().is_empty(),
        "the request never left the sandbox"
    );
}

// ---------------------------------------------------------------- careless servers

#[tokio::test]
async fn an_oversized_answer_is_a_typed_error_not_a_trap() {
    // 64 MiB of spaces for a GetSegments page: the component stops reading
    // at its cap instead of growing until the memory limit traps.
    let emu = emulator(EmulatorConfig::default()).await;
    emu.inject(Operation::GetSegments, Fault::OversizedAnswer(64 << 20));
    let err = node()
        .run(&csv_input("Oversized", VALID_CSV), &fast_config(&emu, &[]))
        .await
        .expect_err("an answer past the cap fails the run");
    assert_eq!(err.kind, ErrorKind::ServiceError, "{err:?}");
    assert!(err.message.contains("16 MiB"), "{}", err.message);
    assert!(err.message.contains("GetSegments"), "{}", err.message);
    assert!(staged(&emu).is_empty(), "nothing was staged");
    assert!(emu.segments(SEED_APPLICATION_ID).is_empty());
}

#[tokio::test]
async fn a_silent_server_ends_within_the_retry_budget_and_says_so() {
    // GetApp answers only after a minute; the budget of one request is 2 s,
    // so the component must stop waiting then, not after the minute (or the
    // fixed 120 s a single attempt used to wait).
    let emu = emulator(EmulatorConfig::default()).await;
    emu.inject(Operation::GetApp, Fault::Delay(Duration::from_secs(60)));
    let started = Instant::now();
    let err = node()
        .run(
            &csv_input("Silent", VALID_CSV),
            &fast_config(&emu, &[("retry-max-total-seconds", "2")]),
        )
        .await
        .expect_err("a server that never answers fails the run");
    let took = started.elapsed();
    assert!(took < Duration::from_secs(30), "took {took:?}");
    assert_eq!(err.kind, ErrorKind::ServiceError, "{err:?}");
    assert!(err.message.contains("budget of 2 s"), "{}", err.message);
}

#[tokio::test]
async fn a_misspelt_setting_is_invalid_settings_naming_the_closest_key() {
    let emu = emulator(EmulatorConfig::default()).await;
    let err = bad_settings(&emu, |s| {
        s.insert("poll-intervall-ms".into(), "100".into());
    })
    .await;
    assert_eq!(err.kind, ErrorKind::InvalidSettings, "{err:?}");
    assert_eq!(err.details.setting.as_deref(), Some("poll-intervall-ms"));
    assert!(err.message.contains("poll-interval-ms"), "{}", err.message);
    assert!(emu.requests().is_empty(), "nothing was sent");
}
