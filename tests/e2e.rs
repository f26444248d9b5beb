//! The built component, driven by the wasmtime host, against the embedded
//! emulator: the seed examples, the seed's seven error types from realistic
//! causes, the egress policy, and the signatures on the wire.

use e2e_tests::*;
use host_test::emulated::{DEFAULT_BUCKET, SEED_APPLICATION_ID};

async fn run_err(emulator: &Emulator, input: &ImportInput, extra: &[(&str, &str)]) -> NodeError {
    node()
        .run(input, &config(emulator, extra))
        .await
        .expect_err("the run fails")
}

/// The seed's three usage examples, as the node's description gives them:
/// file in `examples/`, segment name, format, endpoints.
const SEED_EXAMPLES: [(&str, &str, Format, u64); 3] = [
    (
        "1-customers-csv.json",
        "Q4_2024_High_Value_Customers",
        Format::Csv,
        3,
    ),
    (
        "2-beta-testers-json.json",
        "Mobile_App_Beta_Testers",
        Format::Json,
        2,
    ),
    (
        "3-newsletter-subscribers-csv.json",
        "Newsletter_Subscribers_2024",
        Format::Csv,
        3,
    ),
];

/// `examples()` is exactly the three seeds, in order, with their names and formats.
fn seed_examples() -> Vec<(String, ImportInput, u64)> {
    let examples = examples();
    let files: Vec<&str> = examples.iter().map(|(file, _)| file.as_str()).collect();
    let expected: Vec<&str> = SEED_EXAMPLES.iter().map(|(file, ..)| *file).collect();
    assert_eq!(files, expected);
    examples
        .into_iter()
        .zip(SEED_EXAMPLES)
        .map(|((file, input), (_, segment_name, format, count))| {
            assert_eq!(input.segment_name, segment_name, "{file}");
            assert_eq!(input.format, format, "{file}");
            (file, input, count)
        })
        .collect()
}

#[tokio::test]
async fn the_seed_examples_validate_with_their_endpoint_counts() {
    let emu = emulator(EmulatorConfig::default()).await;
    for (name, input, count) in seed_examples() {
        let report = node()
            .validate(&input, &config(&emu, &[]))
            .await
            .unwrap_or_else(|e| panic!("{name}: {e:?}"));
        assert_eq!(report.format, input.format, "{name}");
        assert_eq!(report.endpoint_count, count, "{name}");
        assert_eq!(report.channel_counts.values().sum::<u64>(), count, "{name}");
    }
    assert!(emu.requests().is_empty(), "validate sends nothing");
}

#[tokio::test]
async fn the_seed_examples_create_segments_and_leave_nothing_staged() {
    let emu = emulator(EmulatorConfig::default()).await;
    let examples = seed_examples();
    for (name, input, count) in &examples {
        let out = node()
            .run(input, &config(&emu, &[]))
            .await
            .unwrap_or_else(|e| panic!("{name}: {e:?}"));
        assert!(!out.segment_id.is_empty(), "{name}");
        assert_eq!(out.segment_name, input.segment_name, "{name}");
        assert_eq!(out.endpoints_submitted, *count, "{name}");
        assert_eq!(out.endpoints_imported, Some(*count), "{name}");
        assert_eq!(
            out.job_status,
            pinpoint_segment_import::aws::job_status::JobStatus::Completed,
            "{name}"
        );
        assert!(out.staged_object_deleted, "{name}");
        let segments = emu.segments(SEED_APPLICATION_ID);
        let segment = segments
            .iter()
            .find(|s| s.id == out.segment_id)
            .expect("the segment exists");
        assert_eq!(segment.name, input.segment_name);
        assert_eq!(
            segment.size, out.endpoints_submitted,
            "{name}: the emulator counted every endpoint"
        );
        assert_eq!(Some(segment.size), out.endpoints_imported);
    }
    let sizes: Vec<u64> = emu
        .segments(SEED_APPLICATION_ID)
        .iter()
        .map(|s| s.size)
        .collect();
    assert_eq!(sizes.iter().sum::<u64>(), 3 + 2 + 3);
    assert!(
        emu.objects(DEFAULT_BUCKET).is_empty(),
        "staged objects deleted: {:?}",
        emu.objects(DEFAULT_BUCKET)
    );
}

#[tokio::test]
async fn the_json_array_is_staged_as_ndjson() {
    let emu = emulator(EmulatorConfig::default()).await;
    let (_, input) = examples().remove(1);
    assert_eq!(input.format, Format::Json);
    let out = node()
        .run(&input, &config(&emu, &[("delete-staged-object", "false")]))
        .await
        .unwrap();
    assert!(!out.staged_object_deleted);
    let key = out
        .staged_object
        .strip_prefix(&format!("s3://{DEFAULT_BUCKET}/"))
        .expect("in the staging bucket");
    assert!(key.ends_with(".json"), "{key}");
    let staged = String::from_utf8(emu.object(DEFAULT_BUCKET, key).expect("kept")).unwrap();
    assert_eq!(staged.lines().count(), 2, "{staged}");
    for line in staged.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(v["User"]["UserAttributes"]["BetaTester"][0], "true");
        assert_eq!(
            line.len(),
            serde_json::to_string(&v).unwrap().len(),
            "compact: {line}"
        );
    }
}

#[tokio::test]
async fn an_unknown_application_is_invalid_application_id() {
    let emu = emulator(EmulatorConfig::default()).await;
    let mut input = csv_input("Seg", VALID_CSV);
    input.application_id = "d5ecad8e417d498389e1d5b9454d4e0c".into();
    let err = run_err(&emu, &input, &[]).await;
    assert_eq!(err.kind, ErrorKind::InvalidApplicationId, "{err:?}");
    let service = err.details.service.expect("the AWS answer is kept");
    assert_eq!(service.http_status, Some(404));
    assert_eq!(service.aws_error_type.as_deref(), Some("NotFoundException"));
    assert!(service.request_id.is_some());
}

#[tokio::test]
async fn broken_csv_is_malformed_data_and_nothing_is_sent() {
    let emu = emulator(EmulatorConfig::default()).await;
    let input = csv_input(
        "Seg",
        "ChannelType,Address\nEMAIL,\"a@example.com\nSMS,+12065550100,extra\n",
    );
    let err = run_err(&emu, &input, &[]).await;
    assert_eq!(err.kind, ErrorKind::MalformedData, "{err:?}");
    assert!(!err.details.problems.is_empty());
    assert!(
        emu.requests().is_empty(),
        "bad data never leaves the sandbox"
    );
}

#[tokio::test]
async fn a_row_without_address_is_missing_required_fields() {
    let emu = emulator(EmulatorConfig::default()).await;
    let input = csv_input(
        "Seg",
        "ChannelType,Address\nEMAIL,a@example.com\nSMS,\nEMAIL,b@example.com\n",
    );
    let err = run_err(&emu, &input, &[]).await;
    assert_eq!(err.kind, ErrorKind::MissingRequiredFields, "{err:?}");
    let p = &err.details.problems[0];
    assert_eq!(
        (p.record, p.line, p.field.as_deref()),
        (Some(2), Some(3), Some("Address"))
    );
}

#[tokio::test]
async fn a_taken_name_is_duplicate_segment_name() {
    let emu = emulator(EmulatorConfig::default()).await;
    // More segments than one page, so the check has to page.
    for i in 0..25 {
        emu.add_segment(SEED_APPLICATION_ID, &format!("segment {i}"));
    }
    let existing = emu.add_segment(SEED_APPLICATION_ID, "Q4_2024_High_Value_Customers");
    let (_, input) = examples().remove(0);
    let err = run_err(&emu, &input, &[]).await;
    assert_eq!(err.kind, ErrorKind::DuplicateSegmentName, "{err:?}");
    assert_eq!(err.details.segment_id.as_deref(), Some(existing.as_str()));
    assert!(emu.objects(DEFAULT_BUCKET).is_empty());
    assert_eq!(emu.import_jobs(SEED_APPLICATION_ID).len(), 0);
}

#[tokio::test]
async fn a_fax_channel_is_invalid_channel_type() {
    let emu = emulator(EmulatorConfig::default()).await;
    let input = csv_input(
        "Seg",
        "ChannelType,Address\nEMAIL,a@example.com\nFAX,+12065550100\n",
    );
    let err = run_err(&emu, &input, &[]).await;
    assert_eq!(err.kind, ErrorKind::InvalidChannelType, "{err:?}");
    assert_eq!(
        err.details.problems[0].field.as_deref(),
        Some("ChannelType")
    );
    assert!(err.details.problems[0].message.contains("FAX"));
}

#[tokio::test]
async fn data_over_the_limit_is_import_size_exceeded() {
    let emu = emulator(EmulatorConfig::default()).await;
    let input = csv_input("Seg", VALID_CSV);
    let err = run_err(&emu, &input, &[("max-import-bytes", "40")]).await;
    assert_eq!(err.kind, ErrorKind::ImportSizeExceeded, "{err:?}");
    assert!(emu.requests().is_empty());
}

#[tokio::test]
async fn rejected_credentials_are_permission_denied() {
    let emu = emulator(EmulatorConfig::default()).await;
    let mut cfg = config(&emu, &[]);
    cfg.credentials = std::sync::Arc::new(host_test::credentials::Static::new(
        host_test::emulated::DEFAULT_ACCESS_KEY_ID,
        "not-the-secret",
        None,
    ));
    let err = node()
        .run(&csv_input("Seg", VALID_CSV), &cfg)
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::PermissionDenied, "{err:?}");
    assert_eq!(err.details.service.as_ref().unwrap().http_status, Some(403));
    assert!(!format!("{err:?}").contains("not-the-secret"));
}

#[tokio::test]
async fn a_403_from_pinpoint_or_s3_is_permission_denied() {
    let emu = emulator(EmulatorConfig::default()).await;
    emu.inject(
        Operation::CreateImportJob,
        Fault::status(
            403,
            "AccessDeniedException",
            "User is not authorized to perform: iam:PassRole",
        ),
    );
    let err = run_err(&emu, &csv_input("Seg", VALID_CSV), &[]).await;
    assert_eq!(err.kind, ErrorKind::PermissionDenied, "{err:?}");
    assert!(
        emu.objects(DEFAULT_BUCKET).is_empty(),
        "the staged file is cleaned up after a failure"
    );
    emu.inject(
        Operation::PutObject,
        Fault::status(403, "AccessDenied", "Access Denied"),
    );
    let err = run_err(&emu, &csv_input("Seg2", VALID_CSV), &[]).await;
    assert_eq!(err.kind, ErrorKind::PermissionDenied, "{err:?}");
    assert_eq!(
        err.details.service.unwrap().aws_error_type.as_deref(),
        Some("AccessDenied")
    );
}

#[tokio::test]
async fn a_host_outside_the_policy_is_denied() {
    let emu = emulator(EmulatorConfig::default()).await;
    // S3 is configured elsewhere, but the policy allows only the emulator.
    let mut cfg = config(&emu, &[("s3-endpoint", "http://127.0.0.1:9")]);
    cfg.allowed_authorities = vec![emu.local_addr().to_string()];
    let err = node()
        .run(&csv_input("Seg", VALID_CSV), &cfg)
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidSettings, "{err:?}");
    assert_eq!(err.details.setting.as_deref(), Some("s3-endpoint"));
    assert!(err.message.contains("denied"), "{}", err.message);
    assert!(emu.requests().iter().all(|r| r.service != "s3"));
    // By default the policy is derived from the settings: the same
    // endpoint is then allowed, and unreachable.
    let cfg = config(
        &emu,
        &[
            ("s3-endpoint", "http://127.0.0.1:9"),
            ("retry-max-attempts", "1"),
        ],
    );
    let err = node()
        .run(&csv_input("Seg", VALID_CSV), &cfg)
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::ServiceError, "{err:?}");
}

#[tokio::test]
async fn requests_are_signed_for_the_right_services_with_the_session_token() {
    let config_with_token = EmulatorConfig {
        credentials: vec![host_test::emulated::credentials(
            "ASIATEMPORARY0EXAMPLE",
            "temporary/secret",
            Some("SESSION-TOKEN/abc+="),
        )],
        ..EmulatorConfig::default()
    };
    let emu = emulator(config_with_token).await;
    let mut cfg = config(&emu, &[]);
    cfg.credentials = std::sync::Arc::new(host_test::credentials::Static::new(
        "ASIATEMPORARY0EXAMPLE",
        "temporary/secret",
        Some("SESSION-TOKEN/abc+="),
    ));
    node()
        .run(&csv_input("Signed", VALID_CSV), &cfg)
        .await
        .expect("the emulator accepts every signature");
    let requests = emu.requests();
    assert!(requests.len() >= 6);
    for r in &requests {
        let auth = r.header("authorization").expect("signed");
        let scope = if r.service == "s3" {
            "/us-east-1/s3/aws4_request"
        } else {
            "/us-east-1/mobiletargeting/aws4_request"
        };
        assert!(
            auth.starts_with("AWS4-HMAC-SHA256 Credential=ASIATEMPORARY0EXAMPLE/"),
            "{auth}"
        );
        assert!(auth.contains(scope), "{} {auth}", r.service);
        assert!(auth.contains("x-amz-security-token"), "{auth}");
        assert_eq!(
            r.header("x-amz-security-token"),
            Some("SESSION-TOKEN/abc+=")
        );
        if r.service == "s3" {
            assert!(
                r.header("x-amz-content-sha256")
                    .is_some_and(|v| v.len() == 64),
                "signed payload hash"
            );
        }
        assert_eq!(
            r.status.map(|s| s < 300),
            Some(true),
            "{} {:?}",
            r.uri,
            r.status
        );
    }
    // Without the token the same credentials are refused.
    let mut no_token = config(&emu, &[]);
    no_token.credentials = std::sync::Arc::new(host_test::credentials::Static::new(
        "ASIATEMPORARY0EXAMPLE",
        "temporary/secret",
        None,
    ));
    let err = node()
        .run(&csv_input("Signed2", VALID_CSV), &no_token)
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::PermissionDenied, "{err:?}");
}

#[tokio::test]
async fn a_signature_for_the_wrong_region_is_refused() {
    let emu = emulator(EmulatorConfig::default()).await;
    let err = run_err(
        &emu,
        &csv_input("Seg", VALID_CSV),
        &[("region", "eu-west-1")],
    )
    .await;
    assert_eq!(err.kind, ErrorKind::PermissionDenied, "{err:?}");
}

#[tokio::test]
async fn validate_reports_counts_without_network() {
    let emu = emulator(EmulatorConfig::default()).await;
    let (_, input) = examples().remove(0);
    let report = node().validate(&input, &config(&emu, &[])).await.unwrap();
    assert_eq!(report.endpoint_count, 3);
    assert_eq!(report.channel_counts.get("EMAIL"), Some(&2));
    assert_eq!(report.channel_counts.get("SMS"), Some(&1));
    assert!(report.bytes_to_stage > 0);
    assert!(emu.requests().is_empty());
}

#[tokio::test]
async fn describe_names_the_action_and_end_of_support() {
    let text = node().describe().await.unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["action_id"], "import_pinpoint_segment");
    assert_eq!(v["upstream"]["end_of_support"], "2026-10-30");
}

#[tokio::test]
async fn the_host_memory_cap_is_a_typed_error_not_a_crash() {
    let emu = emulator(EmulatorConfig::default()).await;
    // About 11.7 MB of data under an 8 MiB cap: more than the cap holds even
    // with the streaming check, whose memory is about the data's size.
    let mut data = String::from("ChannelType,Address\n");
    for i in 0..400_000 {
        data.push_str(&format!("EMAIL,user{i}@example.com\n"));
    }
    let mut cfg = config(&emu, &[]);
    cfg.memory_limit_bytes = 8 << 20;
    let err = node()
        .run(&csv_input("Big", &data), &cfg)
        .await
        .unwrap_err();
    // Out of memory, not over the data limit (`max-import-bytes`).
    assert_eq!(err.kind, ErrorKind::OutOfMemory, "{err:?}");
    assert_eq!(err.details.limit_bytes, Some(8 << 20));
    assert!(err.details.actual_bytes.unwrap() > 8 << 20, "{err:?}");
    assert!(err.message.contains("memory limit"), "{err:?}");
    // The same host runs the next import normally.
    node()
        .run(&csv_input("Small", VALID_CSV), &config(&emu, &[]))
        .await
        .unwrap();
}

#[tokio::test]
async fn the_host_deadline_is_timed_out() {
    let emu = emulator(EmulatorConfig::default()).await;
    // GetApp would answer after 10 minutes; the host's deadline ends the run first.
    emu.inject(
        Operation::GetApp,
        Fault::Delay(std::time::Duration::from_secs(600)),
    );
    let mut cfg = config(&emu, &[]);
    cfg.deadline = std::time::Duration::from_millis(500);
    let host = node();
    let started = std::time::Instant::now();
    let err = host
        .run(&csv_input("Slow", VALID_CSV), &cfg)
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::TimedOut, "{err:?}");
    assert!(err.message.contains("deadline"), "{}", err.message);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(300),
        "ended by the deadline, not the reply"
    );
}
