//! Issue 4's error mapping, each case through the built component against the
//! emulator: Pinpoint's JSON errors, S3's XML errors, import-job outcomes and
//! the wait limit. Causes are real where the emulator can produce them (wrong
//! secret, unknown key, missing bucket, other region, a role ARN Pinpoint
//! rejects, a row Pinpoint cannot import) and injected faults otherwise.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use e2e_tests::*;
use host_test::credentials::{CredentialsFuture, CredentialsProvider, Static};
use host_test::emulated::{
    DEFAULT_ACCESS_KEY_ID, DEFAULT_BUCKET, DEFAULT_SECRET_ACCESS_KEY, SEED_APPLICATION_ID,
};
use host_test::node::RunConfig;

async fn run(input: &ImportInput, cfg: &RunConfig) -> Result<ImportOutput, NodeError> {
    node().run(input, cfg).await
}

async fn fails(emu: &Emulator, input: &ImportInput, extra: &[(&str, &str)]) -> NodeError {
    run(input, &fast_config(emu, extra))
        .await
        .expect_err("the run fails")
}

fn service(err: &NodeError) -> &pinpoint_segment_import::error::ServiceContext {
    err.details
        .service
        .as_ref()
        .unwrap_or_else(|| panic!("the AWS answer is kept: {err:?}"))
}

fn aws_type(err: &NodeError) -> Option<&str> {
    service(err).aws_error_type.as_deref()
}

/// Nothing was left behind by a run that failed before or at the import job.
fn nothing_left(emu: &Emulator) {
    assert!(staged(emu).is_empty(), "staged: {:?}", staged(emu));
    assert!(
        emu.segments(SEED_APPLICATION_ID).is_empty(),
        "{:?}",
        emu.segments(SEED_APPLICATION_ID)
    );
}

// ---------------------------------------------------------------- Pinpoint

#[tokio::test]
async fn pinpoint_403_of_any_type_is_permission_denied() {
    let emu = emulator(EmulatorConfig::default()).await;
    for (op, error_type) in [
        (Operation::GetApp, "ForbiddenException"),
        (Operation::GetSegments, "AccessDeniedException"),
        (Operation::CreateImportJob, "AccessDeniedException"),
    ] {
        emu.inject(
            op,
            Fault::status(
                403,
                error_type,
                "User: arn:aws:iam::123456789012:user/x is not authorized to perform this action",
            ),
        );
        let err = fails(&emu, &csv_input("Seg", VALID_CSV), &[]).await;
        assert_eq!(err.kind, ErrorKind::PermissionDenied, "{op}: {err:?}");
        assert_eq!(service(&err).operation, op.as_str());
        assert_eq!(service(&err).http_status, Some(403));
        assert_eq!(aws_type(&err), Some(error_type));
        assert!(
            err.message
                .contains(&format!("mobiletargeting:{}", op.as_str())),
            "names the permission: {}",
            err.message
        );
        assert_eq!(count(&emu, op), 1, "{op}: a 403 is not retried");
        nothing_left(&emu);
        emu.clear_requests();
    }
}

#[tokio::test]
async fn a_wrong_secret_is_permission_denied_without_the_secret() {
    let emu = emulator(EmulatorConfig::default()).await;
    let mut cfg = fast_config(&emu, &[]);
    cfg.credentials = Arc::new(Static::new(
        DEFAULT_ACCESS_KEY_ID,
        "wrong/secret/WRONGKEY0000000000000000",
        None,
    ));
    let err = run(&csv_input("Seg", VALID_CSV), &cfg).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::PermissionDenied, "{err:?}");
    assert_eq!(aws_type(&err), Some("InvalidSignatureException"));
    assert_eq!(service(&err).operation, "GetApp");
    let text = format!("{err:?} {}", serde_json::to_string(&err).unwrap());
    assert!(!text.contains("wrong/secret"), "{text}");
    assert_eq!(emu.requests().len(), 1);
}

#[tokio::test]
async fn an_aws_message_that_echoes_the_session_token_is_redacted() {
    // AWS's signature errors quote the canonical request, and with it the
    // x-amz-security-token header; the node must not pass that on.
    let (key, secret, token) = (
        "ASIAECHOTEST00EXAMPLE",
        "echo/Secret+Key/0123456789",
        "FwoGZXIvYXdzEchoedToken+/=",
    );
    let emu = emulator(EmulatorConfig {
        credentials: vec![host_test::emulated::credentials(key, secret, Some(token))],
        ..EmulatorConfig::default()
    })
    .await;
    let mut cfg = fast_config(&emu, &[]);
    cfg.credentials = Arc::new(Static::new(key, secret, Some(token)));
    let echo = format!(
        "The request signature we calculated does not match the signature you provided.\n\nThe Canonical String for this request should have been\n'GET\n/v1/apps/x\n\nhost:h\nx-amz-date:20261128T000000Z\nx-amz-security-token:{token}\n\nhost;x-amz-date;x-amz-security-token\n'"
    );
    emu.inject(
        Operation::GetApp,
        Fault::status(403, "InvalidSignatureException", &echo),
    );
    let err = run(&csv_input("Seg", VALID_CSV), &cfg).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::PermissionDenied, "{err:?}");
    emu.inject(
        Operation::PutObject,
        Fault::status(403, "SignatureDoesNotMatch", &format!("{echo} {secret}")),
    );
    let err2 = run(&csv_input("Seg", VALID_CSV), &cfg).await.unwrap_err();
    assert_eq!(err2.kind, ErrorKind::PermissionDenied, "{err2:?}");
    for e in [&err, &err2] {
        let text = format!("{e:?} {}", serde_json::to_string(e).unwrap());
        assert!(!text.contains(token), "the session token leaked: {text}");
        assert!(!text.contains(secret), "the secret leaked: {text}");
        assert!(
            service(e)
                .aws_message
                .as_deref()
                .is_some_and(|m| m.contains("Canonical String")),
            "the rest of the message is kept: {e:?}"
        );
    }
}

#[tokio::test]
async fn an_unknown_access_key_is_permission_denied() {
    let emu = emulator(EmulatorConfig::default()).await;
    let mut cfg = fast_config(&emu, &[]);
    cfg.credentials = Arc::new(Static::new(
        "AKIANOTKNOWN00000000",
        DEFAULT_SECRET_ACCESS_KEY,
        None,
    ));
    let err = run(&csv_input("Seg", VALID_CSV), &cfg).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::PermissionDenied, "{err:?}");
    assert_eq!(aws_type(&err), Some("UnrecognizedClientException"));
    assert!(service(&err).request_id.is_some());
}

#[tokio::test]
async fn a_404_on_the_app_is_invalid_application_id() {
    let emu = emulator(EmulatorConfig::default()).await;
    let mut input = csv_input("Seg", VALID_CSV);
    input.application_id = "0123456789abcdef0123456789abcdef".into();
    let err = fails(&emu, &input, &[]).await;
    assert_eq!(err.kind, ErrorKind::InvalidApplicationId, "{err:?}");
    assert_eq!(service(&err).http_status, Some(404));
    assert_eq!(aws_type(&err), Some("NotFoundException"));
    assert_eq!(
        service(&err).aws_message.as_deref(),
        Some("Application not found")
    );
    assert_eq!(emu.requests().len(), 1, "GetApp only");
}

#[tokio::test]
async fn a_413_is_import_size_exceeded() {
    let emu = emulator(EmulatorConfig::default()).await;
    emu.inject(
        Operation::CreateImportJob,
        Fault::status(413, "PayloadTooLargeException", "Request entity too large"),
    );
    let err = fails(&emu, &csv_input("Seg", VALID_CSV), &[]).await;
    assert_eq!(err.kind, ErrorKind::ImportSizeExceeded, "{err:?}");
    assert_eq!(aws_type(&err), Some("PayloadTooLargeException"));
    assert_eq!(count(&emu, Operation::CreateImportJob), 1);
    nothing_left(&emu);
}

#[tokio::test]
async fn repeated_429s_are_retried_then_throttled() {
    let emu = emulator(EmulatorConfig::default()).await;
    for _ in 0..5 {
        emu.inject(Operation::GetApp, Fault::throttled());
    }
    let err = fails(
        &emu,
        &csv_input("Seg", VALID_CSV),
        &[("retry-max-attempts", "3")],
    )
    .await;
    assert_eq!(err.kind, ErrorKind::Throttled, "{err:?}");
    assert_eq!(service(&err).http_status, Some(429));
    assert_eq!(aws_type(&err), Some("TooManyRequestsException"));
    assert_eq!(count(&emu, Operation::GetApp), 3, "three attempts");
    assert_eq!(emu.pending_faults(Operation::GetApp), 2);
    assert_eq!(emu.requests().len(), 3, "nothing after GetApp");
}

#[tokio::test]
async fn one_429_then_success() {
    let emu = emulator(EmulatorConfig::default()).await;
    emu.inject(Operation::CreateImportJob, Fault::throttled());
    let recorder = Arc::new(Recorder::default());
    let mut cfg = fast_config(&emu, &[]);
    cfg.events = recorder.clone();
    let out = run(&csv_input("Seg", VALID_CSV), &cfg).await.unwrap();
    assert_eq!(
        out.job_status,
        pinpoint_segment_import::aws::job_status::JobStatus::Completed
    );
    assert_eq!(count(&emu, Operation::CreateImportJob), 2);
    assert_eq!(emu.import_jobs(SEED_APPLICATION_ID).len(), 1, "one job");
    assert_eq!(emu.segments(SEED_APPLICATION_ID).len(), 1, "one segment");
    assert!(
        recorder
            .lines()
            .iter()
            .any(|l| l.contains("CreateImportJob answered 429; retrying")),
        "{:?}",
        recorder.lines()
    );
}

#[tokio::test]
async fn repeated_5xx_are_retried_then_service_error() {
    let emu = emulator(EmulatorConfig::default()).await;
    for status in [500, 503] {
        emu.clear_requests();
        for _ in 0..3 {
            emu.inject(
                Operation::GetSegments,
                if status == 500 {
                    Fault::internal_error()
                } else {
                    Fault::unavailable()
                },
            );
        }
        let err = fails(
            &emu,
            &csv_input("Seg", VALID_CSV),
            &[("retry-max-attempts", "3")],
        )
        .await;
        assert_eq!(err.kind, ErrorKind::ServiceError, "{err:?}");
        assert_eq!(service(&err).http_status, Some(status));
        assert_eq!(service(&err).operation, "GetSegments");
        assert_eq!(count(&emu, Operation::GetSegments), 3);
        nothing_left(&emu);
    }
    // 502 and 504 are retried too, and S3's 503 SlowDown is throttling.
    emu.inject(
        Operation::PutObject,
        Fault::status(502, "BadGateway", "Bad gateway"),
    );
    emu.inject(
        Operation::GetImportJob,
        Fault::status(504, "GatewayTimeout", "Gateway timeout"),
    );
    run(&csv_input("Seg", VALID_CSV), &fast_config(&emu, &[]))
        .await
        .expect("502 and 504 are retried");
    for _ in 0..2 {
        emu.inject(
            Operation::PutObject,
            Fault::status(503, "SlowDown", "Please reduce your request rate."),
        );
    }
    let err = fails(
        &emu,
        &csv_input("Seg2", VALID_CSV),
        &[("retry-max-attempts", "2")],
    )
    .await;
    assert_eq!(err.kind, ErrorKind::Throttled, "{err:?}");
    assert_eq!(aws_type(&err), Some("SlowDown"));
}

#[tokio::test]
async fn other_4xx_is_service_error_with_type_message_and_request_id() {
    let emu = emulator(EmulatorConfig::default()).await;
    // A role ARN the node's syntax check lets through, but Pinpoint refuses.
    let err = fails(
        &emu,
        &csv_input("Seg", VALID_CSV),
        &[("import-role-arn", "arn:aws:iam::1234:role/Import")],
    )
    .await;
    assert_eq!(err.kind, ErrorKind::ServiceError, "{err:?}");
    let s = service(&err);
    assert_eq!(s.operation, "CreateImportJob");
    assert_eq!(s.http_status, Some(400));
    assert_eq!(s.aws_error_type.as_deref(), Some("BadRequestException"));
    let message = s.aws_message.as_deref().unwrap_or_default();
    assert!(message.contains("RoleArn"), "{message}");
    assert!(
        s.request_id.as_deref().is_some_and(|r| !r.is_empty()),
        "{s:?}"
    );
    assert!(
        err.message.contains("BadRequestException") && err.message.contains("RoleArn"),
        "{}",
        err.message
    );
    assert_eq!(
        count(&emu, Operation::CreateImportJob),
        1,
        "a 400 is not retried"
    );
    nothing_left(&emu);

    // The same through an injected answer: the message is carried as is.
    emu.inject(
        Operation::CreateImportJob,
        Fault::status(
            400,
            "BadRequestException",
            "Unexpected character ('I' (code 73)): was expecting double-quote",
        ),
    );
    let err = fails(&emu, &csv_input("Seg", VALID_CSV), &[]).await;
    assert_eq!(err.kind, ErrorKind::ServiceError, "{err:?}");
    assert_eq!(
        service(&err).aws_message.as_deref(),
        Some("Unexpected character ('I' (code 73)): was expecting double-quote")
    );
    let json = serde_json::to_value(&err).unwrap();
    assert_eq!(json["type"], "ServiceError");
    assert_eq!(json["service"]["aws_error_type"], "BadRequestException");
    assert!(json["service"]["request_id"].is_string(), "{json}");
}

#[tokio::test]
async fn an_unknown_operation_answer_mentions_end_of_support() {
    let emu = emulator(EmulatorConfig::default()).await;
    // A retired service answers the very first call.
    emu.inject(
        Operation::GetApp,
        Fault::status(
            404,
            "UnknownOperationException",
            "No operation matches GET /v1/apps/x",
        ),
    );
    let err = fails(&emu, &csv_input("Seg", VALID_CSV), &[]).await;
    assert_eq!(err.kind, ErrorKind::ServiceError, "{err:?}");
    assert!(err.message.contains("end of support"), "{}", err.message);
    assert_eq!(aws_type(&err), Some("UnknownOperationException"));
    // Or a later one.
    emu.inject(
        Operation::CreateImportJob,
        Fault::status(
            400,
            "UnknownOperationException",
            "Unknown operation CreateImportJob",
        ),
    );
    let err = fails(&emu, &csv_input("Seg", VALID_CSV), &[]).await;
    assert_eq!(err.kind, ErrorKind::ServiceError, "{err:?}");
    assert!(err.message.contains("end of support"), "{}", err.message);
    nothing_left(&emu);
}

// ---------------------------------------------------------------- S3

#[tokio::test]
async fn s3_access_denied_is_permission_denied_naming_the_permission() {
    let emu = emulator(EmulatorConfig::default()).await;
    emu.inject(
        Operation::PutObject,
        Fault::status(403, "AccessDenied", "Access Denied"),
    );
    let err = fails(&emu, &csv_input("Seg", VALID_CSV), &[]).await;
    assert_eq!(err.kind, ErrorKind::PermissionDenied, "{err:?}");
    assert_eq!(aws_type(&err), Some("AccessDenied"));
    assert_eq!(service(&err).operation, "PutObject");
    assert!(
        service(&err).request_id.is_some(),
        "x-amz-request-id is kept"
    );
    assert!(
        err.message.contains("s3:PutObject") && err.message.contains(DEFAULT_BUCKET),
        "{}",
        err.message
    );
    nothing_left(&emu);
}

/// Credentials that turn wrong after `good_calls` signatures.
struct TurnsBad {
    calls: AtomicUsize,
    good_calls: usize,
}

impl CredentialsProvider for TurnsBad {
    fn credentials(&self) -> CredentialsFuture<'_> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        let secret = if n < self.good_calls {
            DEFAULT_SECRET_ACCESS_KEY
        } else {
            "rotated/away/ROTATEDKEY0000000000000"
        };
        Box::pin(std::future::ready(Ok(Static::new(
            DEFAULT_ACCESS_KEY_ID,
            secret,
            None,
        )
        .0)))
    }
}

#[tokio::test]
async fn s3_signature_does_not_match_is_permission_denied() {
    // From s3s's own verifier: the host's check before the run, GetApp and
    // GetSegments get the right secret, PutObject a wrong one.
    let emu = emulator(EmulatorConfig::default()).await;
    let mut cfg = fast_config(&emu, &[]);
    cfg.credentials = Arc::new(TurnsBad {
        calls: AtomicUsize::new(0),
        good_calls: 3,
    });
    let err = run(&csv_input("Seg", VALID_CSV), &cfg).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::PermissionDenied, "{err:?}");
    assert_eq!(service(&err).operation, "PutObject");
    assert_eq!(aws_type(&err), Some("SignatureDoesNotMatch"));
    assert!(
        !format!("{err:?}").contains("rotated/away"),
        "no secret in the error"
    );
    // And injected, with S3's usual wording.
    emu.inject(
        Operation::PutObject,
        Fault::status(
            403,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
        ),
    );
    let err = fails(&emu, &csv_input("Seg", VALID_CSV), &[]).await;
    assert_eq!(err.kind, ErrorKind::PermissionDenied, "{err:?}");
    assert!(
        err.message.contains("Check the credentials"),
        "{}",
        err.message
    );
}

#[tokio::test]
async fn a_bucket_that_does_not_exist_is_invalid_settings() {
    let emu = emulator(EmulatorConfig::default()).await;
    let err = fails(
        &emu,
        &csv_input("Seg", VALID_CSV),
        &[("staging-bucket", "no-such-staging-bucket")],
    )
    .await;
    assert_eq!(err.kind, ErrorKind::InvalidSettings, "{err:?}");
    assert_eq!(err.details.setting.as_deref(), Some("staging-bucket"));
    assert_eq!(aws_type(&err), Some("NoSuchBucket"));
    assert!(
        err.message.contains("no-such-staging-bucket") && err.message.contains("does not exist"),
        "{}",
        err.message
    );
    assert!(emu.segments(SEED_APPLICATION_ID).is_empty());
}

#[tokio::test]
async fn a_bucket_in_another_region_names_the_expected_region() {
    // Pinpoint in us-east-1, the bucket's S3 in eu-west-1: S3 refuses the
    // signature's region with AuthorizationHeaderMalformed and names its own.
    let pinpoint = emulator(EmulatorConfig::default()).await;
    let s3 = emulator(EmulatorConfig {
        region: "eu-west-1".into(),
        ..EmulatorConfig::default()
    })
    .await;
    let cfg = fast_config(&pinpoint, &[("s3-endpoint", &s3.endpoint_url())]);
    let err = run(&csv_input("Seg", VALID_CSV), &cfg).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidSettings, "{err:?}");
    assert_eq!(err.details.setting.as_deref(), Some("region"));
    assert_eq!(aws_type(&err), Some("AuthorizationHeaderMalformed"));
    assert!(
        err.message.contains("eu-west-1") && err.message.contains("us-east-1"),
        "{}",
        err.message
    );
    assert_eq!(s3.requests().len(), 1);
    assert!(pinpoint.requests().iter().all(|r| r.service == "pinpoint"));
}

#[tokio::test]
async fn a_permanent_redirect_is_invalid_settings() {
    let emu = emulator(EmulatorConfig::default()).await;
    emu.inject(
        Operation::PutObject,
        Fault::status(
            301,
            "PermanentRedirect",
            "The bucket you are attempting to access must be addressed using the specified endpoint.",
        ),
    );
    let err = fails(&emu, &csv_input("Seg", VALID_CSV), &[]).await;
    assert_eq!(err.kind, ErrorKind::InvalidSettings, "{err:?}");
    assert_eq!(err.details.setting.as_deref(), Some("region"));
    assert_eq!(aws_type(&err), Some("PermanentRedirect"));
    assert!(
        err.message.contains(DEFAULT_BUCKET) && err.message.contains("us-east-1"),
        "{}",
        err.message
    );
    assert_eq!(count(&emu, Operation::PutObject), 1, "not retried");
}

#[tokio::test]
async fn an_expired_token_is_permission_denied_asking_for_fresh_credentials() {
    let emu = emulator(EmulatorConfig::default()).await;
    emu.inject(
        Operation::PutObject,
        Fault::status(400, "ExpiredToken", "The provided token has expired."),
    );
    let err = fails(&emu, &csv_input("Seg", VALID_CSV), &[]).await;
    assert_eq!(err.kind, ErrorKind::PermissionDenied, "{err:?}");
    assert_eq!(aws_type(&err), Some("ExpiredToken"));
    assert!(err.message.contains("refresh"), "{}", err.message);
    nothing_left(&emu);
}

// ---------------------------------------------------------------- import jobs

#[tokio::test]
async fn a_failed_job_is_import_job_failed_and_its_segment_is_deleted() {
    let emu = emulator(EmulatorConfig::default()).await;
    let failures = vec![
        "Unable to read s3://bucket/key: Access Denied".to_owned(),
        "second failure".to_owned(),
    ];
    emu.inject(
        Operation::CreateImportJob,
        Fault::FailJob {
            failures: failures.clone(),
        },
    );
    let err = fails(&emu, &csv_input("Seg", VALID_CSV), &[]).await;
    assert_eq!(err.kind, ErrorKind::ImportJobFailed, "{err:?}");
    assert_eq!(err.details.failures, failures);
    let jobs = emu.import_jobs(SEED_APPLICATION_ID);
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].status, "FAILED");
    assert_eq!(
        err.details.import_job_id.as_deref(),
        Some(jobs[0].id.as_str())
    );
    assert_eq!(err.details.segment_id, jobs[0].segment_id);
    assert!(
        err.message.contains("Access Denied") && err.message.contains("was deleted"),
        "{}",
        err.message
    );
    assert_eq!(count(&emu, Operation::DeleteSegment), 1);
    nothing_left(&emu);
}

#[tokio::test]
async fn a_completed_job_with_failed_rows_is_a_success_that_reports_them() {
    // An endpoint with only an `Id` is an update to the node, which the
    // emulated Pinpoint cannot import as a new endpoint: a row failure.
    let emu = emulator(EmulatorConfig::default()).await;
    let data = "Id,ChannelType,Address\nep-1,EMAIL,a@example.com\nep-2,,\nep-3,SMS,+12065550100\n";
    let out = run(&csv_input("Seg", data), &fast_config(&emu, &[]))
        .await
        .expect("COMPLETED with failures is a success");
    assert_eq!(
        out.job_status,
        pinpoint_segment_import::aws::job_status::JobStatus::Completed
    );
    assert_eq!(out.endpoints_submitted, 3);
    assert_eq!(out.endpoints_failed, Some(1));
    assert_eq!(out.endpoints_imported, Some(2), "{out:?}");
    assert_eq!(out.failures.len(), 1);
    assert!(
        out.failures[0].contains("ChannelType"),
        "{:?}",
        out.failures
    );
    let segments = emu.segments(SEED_APPLICATION_ID);
    assert_eq!(segments.len(), 1);
    assert_eq!(segments[0].id, out.segment_id);
    assert_eq!(Some(segments[0].size), out.endpoints_imported);
    assert!(out.staged_object_deleted && staged(&emu).is_empty());
}

#[tokio::test]
async fn the_wait_limit_is_timed_out_naming_job_and_segment() {
    let emu = emulator(EmulatorConfig::default()).await;
    // No wait at all.
    let err = fails(
        &emu,
        &csv_input("Seg", VALID_CSV),
        &[("max-wait-seconds", "0")],
    )
    .await;
    assert_eq!(err.kind, ErrorKind::TimedOut, "{err:?}");
    let jobs = emu.import_jobs(SEED_APPLICATION_ID);
    assert_eq!(jobs.len(), 1);
    let (job, segment) = (&jobs[0].id, jobs[0].segment_id.clone().unwrap());
    assert_eq!(err.details.import_job_id.as_ref(), Some(job));
    assert_eq!(err.details.segment_id.as_ref(), Some(&segment));
    assert!(
        err.message.contains(job.as_str()) && err.message.contains(&segment),
        "{}",
        err.message
    );
    assert_eq!(
        staged(&emu).len(),
        1,
        "the running job still needs the file"
    );
    assert_eq!(count(&emu, Operation::GetImportJob), 0);

    // A slow service: every poll takes 400 ms, the limit is 1 s.
    for _ in 0..10 {
        emu.inject(
            Operation::GetImportJob,
            Fault::Delay(Duration::from_millis(400)),
        );
    }
    let started = std::time::Instant::now();
    let err = fails(
        &emu,
        &csv_input("Slow", VALID_CSV),
        &[("max-wait-seconds", "1")],
    )
    .await;
    assert_eq!(err.kind, ErrorKind::TimedOut, "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(10));
    let polls = count(&emu, Operation::GetImportJob);
    assert!((1..=4).contains(&polls), "{polls} polls");
    let job = emu
        .import_jobs(SEED_APPLICATION_ID)
        .into_iter()
        .find(|j| j.segment_name.as_deref() == Some("Slow"))
        .unwrap();
    assert_ne!(job.status, "COMPLETED");
    assert_eq!(err.details.import_job_id.as_ref(), Some(&job.id));
    assert!(err.message.contains("GetImportJob"), "{}", err.message);
}

#[tokio::test]
async fn not_waiting_succeeds_right_after_create_import_job() {
    let emu = emulator(EmulatorConfig::default()).await;
    let out = run(
        &csv_input("Seg", VALID_CSV),
        &fast_config(&emu, &[("wait-for-completion", "false")]),
    )
    .await
    .unwrap();
    assert_ne!(
        out.job_status,
        pinpoint_segment_import::aws::job_status::JobStatus::Completed
    );
    assert_eq!(out.endpoints_imported, None);
    assert!(!out.staged_object_deleted);
    let key = out
        .staged_object
        .strip_prefix(&format!("s3://{DEFAULT_BUCKET}/"))
        .unwrap();
    assert_eq!(staged(&emu), [key], "the job still needs the file");
    assert_eq!(count(&emu, Operation::GetImportJob), 0);
    // After creating: one listing of the name (this run's segment is the
    // one), no poll, no cleanup.
    let after: Vec<Operation> = emu
        .requests()
        .iter()
        .map(|r| r.operation)
        .skip_while(|op| *op != Operation::CreateImportJob)
        .collect();
    assert_eq!(
        after,
        [Operation::CreateImportJob, Operation::GetSegments],
        "{after:?}"
    );
    let jobs = emu.import_jobs(SEED_APPLICATION_ID);
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].id, out.import_job_id);
    assert_eq!(jobs[0].segment_id.as_ref(), Some(&out.segment_id));
}
