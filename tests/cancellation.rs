//! Cancelling a run through [`RunConfig::cancellation`]: the component stops
//! at its next wait, cleans up what no job needs, and returns `Cancelled`
//! naming what is left; a re-run finishes what a cancelled run left running;
//! a component that cannot stop is stopped by the host after the grace period.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use e2e_tests::*;
use host_test::credentials::{CredentialsFuture, CredentialsProvider};
use host_test::emulated::default_credentials;
use host_test::node::{CANCEL_GRACE, EventSink, LogLevel, RunConfig};
use pinpoint_segment_import::import::Stage;
use tokio_util::sync::CancellationToken;

/// Cancels its run when the component reports `stage`.
struct CancelAt {
    stage: Stage,
    token: CancellationToken,
    at: std::sync::Mutex<Option<Instant>>,
}

impl CancelAt {
    fn new(stage: Stage, config: &mut RunConfig) -> Arc<Self> {
        let sink = Arc::new(CancelAt {
            stage,
            token: config.cancellation.clone(),
            at: std::sync::Mutex::new(None),
        });
        config.events = sink.clone();
        sink
    }

    /// When the run was cancelled.
    fn cancelled_at(&self) -> Instant {
        self.at.lock().unwrap().expect("the run reached the stage")
    }
}

impl EventSink for CancelAt {
    fn log(&self, _: LogLevel, _: &str) {}

    fn progress(&self, stage: Stage, _: u64, _: Option<u64>) {
        if stage == self.stage && !self.token.is_cancelled() {
            *self.at.lock().unwrap() = Some(Instant::now());
            self.token.cancel();
        }
    }
}

#[tokio::test]
async fn a_cancelled_wait_keeps_the_job_and_a_rerun_finishes_it() {
    // About a dozen 300 ms steps: the job runs for a few seconds.
    let emu = emulator(EmulatorConfig {
        job_step: Duration::from_millis(300),
        ..EmulatorConfig::default()
    })
    .await;
    let input = csv_input("Cancelled_While_Waiting", VALID_CSV);
    let mut cfg = config(&emu, &[("poll-interval-ms", "50")]);
    let sink = CancelAt::new(Stage::WaitingForJob, &mut cfg);
    let err = node().run(&input, &cfg).await.unwrap_err();
    let stopped_after = sink.cancelled_at().elapsed();

    assert_eq!(err.kind, ErrorKind::Cancelled, "{err:?}");
    assert!(stopped_after < Duration::from_secs(2), "{stopped_after:?}");
    assert!(!err.message.contains("host stopped it"), "{err:?}");
    let job = err.details.import_job_id.clone().expect("names the job");
    let segment = err.details.segment_id.clone().expect("names the segment");
    let file = err.details.staged_object.clone().expect("names the file");
    assert!(
        err.message.contains(&job) && err.message.contains(&file),
        "{err:?}"
    );
    assert!(err.message.contains("run again"), "{err:?}");
    // The job still needs its file.
    assert_eq!(staged(&emu).len(), 1);
    assert_eq!(count(&emu, Operation::DeleteObject), 0);

    let out = node().run(&input, &config(&emu, &[])).await.unwrap();
    assert_eq!(out.segment_id, segment);
    assert_eq!(out.import_job_id, job);
    assert!(out.reused_existing_segment);
    assert_eq!(
        out.job_status,
        pinpoint_segment_import::aws::job_status::JobStatus::Completed
    );
    assert!(out.staged_object_deleted);
    assert!(staged(&emu).is_empty(), "{:?}", staged(&emu));
    assert_eq!(
        emu.segments(host_test::emulated::SEED_APPLICATION_ID).len(),
        1
    );
}

#[tokio::test]
async fn a_run_cancelled_before_its_job_deletes_the_staged_file() {
    let emu = emulator(EmulatorConfig::default()).await;
    let mut cfg = config(&emu, &[]);
    CancelAt::new(Stage::CreatingJob, &mut cfg);
    let err = node()
        .run(&csv_input("Cancelled_Before_The_Job", VALID_CSV), &cfg)
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Cancelled, "{err:?}");
    assert!(err.message.contains("nothing is left"), "{err:?}");
    assert_eq!(err.details.import_job_id, None);
    assert_eq!(err.details.staged_object, None);
    assert_eq!(count(&emu, Operation::PutObject), 1);
    assert_eq!(count(&emu, Operation::CreateImportJob), 0);
    assert_eq!(count(&emu, Operation::DeleteObject), 1);
    assert!(staged(&emu).is_empty(), "{:?}", staged(&emu));
}

/// Cancels its run `after` the component reports `stage`: by then the
/// stage's request is on its way.
struct CancelAfter {
    stage: Stage,
    after: Duration,
    token: CancellationToken,
    at: Arc<std::sync::Mutex<Option<Instant>>>,
}

impl EventSink for CancelAfter {
    fn log(&self, _: LogLevel, _: &str) {}

    fn progress(&self, stage: Stage, _: u64, _: Option<u64>) {
        if stage == self.stage && self.at.lock().unwrap().is_none() {
            let (token, at, after) = (self.token.clone(), self.at.clone(), self.after);
            *at.lock().unwrap() = Some(Instant::now() + after);
            tokio::spawn(async move {
                tokio::time::sleep(after).await;
                token.cancel();
            });
        }
    }
}

#[tokio::test]
async fn a_cancelled_request_stops_waiting_for_its_answer() {
    let emu = emulator(EmulatorConfig::default()).await;
    emu.inject(
        Operation::GetSegments,
        Fault::Delay(Duration::from_secs(30)),
    );
    let mut cfg = config(&emu, &[]);
    let at = Arc::new(std::sync::Mutex::new(None));
    cfg.events = Arc::new(CancelAfter {
        stage: Stage::CheckingSegments,
        after: Duration::from_millis(300),
        token: cfg.cancellation.clone(),
        at: at.clone(),
    });
    let err = node()
        .run(&csv_input("Cancelled_In_Flight", VALID_CSV), &cfg)
        .await
        .unwrap_err();
    let took = at
        .lock()
        .unwrap()
        .expect("the run checked segments")
        .elapsed();
    assert_eq!(err.kind, ErrorKind::Cancelled, "{err:?}");
    assert!(err.message.contains("during GetSegments"), "{err:?}");
    assert!(err.message.contains("nothing was created"), "{err:?}");
    // The component stopped by itself, well before the host's grace period.
    assert!(took < CANCEL_GRACE, "{took:?}");
    assert!(!err.message.contains("host stopped it"), "{err:?}");
    assert_eq!(count(&emu, Operation::PutObject), 0);
}

/// Answers the host's first request (its check before the run) and never
/// the component's.
struct HangsAfterFirst(AtomicUsize);

impl CredentialsProvider for HangsAfterFirst {
    fn credentials(&self) -> CredentialsFuture<'_> {
        let n = self.0.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move {
            if n > 0 {
                std::future::pending::<()>().await;
            }
            Ok(default_credentials())
        })
    }
}

#[tokio::test]
async fn the_host_stops_a_component_that_does_not_stop() {
    let emu = emulator(EmulatorConfig::default()).await;
    let mut cfg = config(&emu, &[]);
    cfg.credentials = Arc::new(HangsAfterFirst(AtomicUsize::new(0)));
    let token = cfg.cancellation.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        token.cancel();
    });
    let started = Instant::now();
    let err = node()
        .run(&csv_input("Stuck_In_The_Host", VALID_CSV), &cfg)
        .await
        .unwrap_err();
    let took = started.elapsed();
    assert_eq!(err.kind, ErrorKind::Cancelled, "{err:?}");
    assert!(err.message.contains("host stopped it"), "{err:?}");
    assert!(
        err.message.contains("checking-application") && err.message.contains("nothing"),
        "{err:?}"
    );
    assert!(took >= CANCEL_GRACE, "{took:?}");
    assert!(took < Duration::from_secs(3), "{took:?}");
    assert!(emu.requests().is_empty());

    // The same host goes on serving runs.
    node()
        .run(
            &csv_input("After_The_Stuck_One", VALID_CSV),
            &config(&emu, &[]),
        )
        .await
        .unwrap();
}
