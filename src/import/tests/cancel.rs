//! A cancelled run: it sends nothing more, except one short clean-up request
//! for a staged file no job reads, and its error says what is left.

use super::*;

/// Cancels the run when the transport sees `at`: instead of answering it
/// when `in_flight`, else right after answering it. Records each request's
/// clean-up mark and attempt timeout.
struct Cancelling {
    aws: FakeAws,
    cancelled: Rc<Cell<bool>>,
    at: &'static str,
    in_flight: bool,
    marks: Vec<(String, bool, Option<Duration>)>,
}

impl Transport for Cancelling {
    fn send(&mut self, req: Request) -> Result<Response, TransportError> {
        let op = FakeAws::operation(&req);
        self.marks.push((
            op.to_owned(),
            req.extensions().get::<Cleanup>().is_some(),
            req.extensions().get::<AttemptTimeout>().map(|t| t.0),
        ));
        if op == self.at && !self.cancelled.get() {
            self.cancelled.set(true);
            if self.in_flight {
                self.aws.log.push((op.to_owned(), req.uri().to_string()));
                return Err(TransportError::new(
                    TransportErrorKind::Cancelled,
                    "cancelled while waiting",
                ));
            }
        }
        self.aws.send(req)
    }
}

/// [`FakeRuntime`] whose cancellation is the shared flag.
struct CancellableRuntime {
    inner: FakeRuntime,
    cancelled: Rc<Cell<bool>>,
}

impl Runtime for CancellableRuntime {
    fn now(&self) -> SystemTime {
        self.inner.now()
    }
    fn monotonic(&self) -> Duration {
        self.inner.monotonic()
    }
    fn sleep(&mut self, d: Duration) {
        self.inner.sleep(d);
    }
    fn random(&mut self) -> u64 {
        self.inner.random()
    }
    fn credentials(&mut self) -> Result<Credentials, NodeError> {
        self.inner.credentials()
    }
    fn log(&mut self, level: Level, message: &str) {
        self.inner.log(level, message);
    }
    fn progress(&mut self, stage: Stage, completed: u64, total: Option<u64>) {
        self.inner.progress(stage, completed, total);
    }
    fn cancelled(&mut self) -> bool {
        self.cancelled.get()
    }
}

fn cancel_at(at: &'static str, in_flight: bool, aws: FakeAws) -> (Cancelling, NodeError) {
    let cancelled = Rc::new(Cell::new(false));
    let mut transport = Cancelling {
        aws,
        cancelled: cancelled.clone(),
        at,
        in_flight,
        marks: Vec::new(),
    };
    let mut rt = CancellableRuntime {
        inner: FakeRuntime::default(),
        cancelled,
    };
    let err = run(&input("Cancelled"), &settings(), &mut transport, &mut rt).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Cancelled, "{err:?}");
    (transport, err)
}

#[test]
fn cancelled_while_create_import_job_was_on_its_way_keeps_the_file() {
    let (t, err) = cancel_at("CreateImportJob", true, FakeAws::default());
    // The job may exist: nothing is deleted and nothing more is sent.
    assert_eq!(
        ops(&t.aws),
        ["GetApp", "GetSegments", "PutObject", "CreateImportJob"]
    );
    assert_eq!(t.aws.objects.len(), 1);
    assert!(err.message.contains("may be running"), "{err:?}");
    assert!(err.message.contains("during CreateImportJob"), "{err:?}");
    let file = err.details.staged_object.clone().unwrap();
    assert!(file.starts_with("s3://staging/") && err.message.contains(&file));
    assert_eq!(err.details.import_job_id, None);
}

#[test]
fn cancelled_before_the_job_deletes_the_file_in_one_short_marked_request() {
    let (t, err) = cancel_at("PutObject", false, FakeAws::default());
    // CreateImportJob is never sent.
    assert_eq!(
        ops(&t.aws),
        ["GetApp", "GetSegments", "PutObject", "DeleteObject"]
    );
    assert!(t.aws.objects.is_empty());
    assert!(err.message.contains("nothing is left"), "{err:?}");
    assert_eq!(err.details.staged_object, None);
    let (_, cleanup, timeout) = t.marks.last().unwrap();
    assert!(cleanup, "the delete is a clean-up request");
    assert_eq!(*timeout, Some(CLEANUP_TIMEOUT));
    // Requests before the cancellation were ordinary.
    assert!(t.marks[..t.marks.len() - 1].iter().all(|(_, c, _)| !c));
}

#[test]
fn a_clean_up_that_fails_is_tried_once_and_names_the_file_left() {
    let mut aws = FakeAws::default();
    aws.script.insert(
        "DeleteObject",
        [
            Ok(aws_error(503, "SlowDown")),
            Ok(aws_error(503, "SlowDown")),
        ]
        .into(),
    );
    let (t, err) = cancel_at("PutObject", false, aws);
    assert_eq!(
        ops(&t.aws)
            .iter()
            .filter(|op| **op == "DeleteObject")
            .count(),
        1,
        "no retry after a cancellation"
    );
    assert!(err.message.contains("could not be deleted"), "{err:?}");
    assert_eq!(
        err.details
            .staged_object
            .as_deref()
            .map(|f| f.starts_with("s3://")),
        Some(true)
    );
}

#[test]
fn cancelled_while_checking_creates_nothing() {
    let (t, err) = cancel_at("GetSegments", true, FakeAws::default());
    assert_eq!(ops(&t.aws), ["GetApp", "GetSegments"]);
    assert!(err.message.contains("nothing was created"), "{err:?}");
    assert_eq!(err.details.staged_object, None);
}
