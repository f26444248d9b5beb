//! Recurring imports (`on_existing: new_version`): a segment of the name
//! made from other data takes the run's data as a new version and keeps
//! its id; the name race, crashes and failed jobs keep their guarantees.

use super::*;

/// The data of a later export: other endpoints than [`input`]'s.
const NEW_DATA: &str = "ChannelType,Address\nEMAIL,c@example.com\nEMAIL,d@example.com\n";

fn recurring(name: &str, data: Option<&str>, on_existing: OnExisting) -> ImportRequest {
    let mut input = input(name);
    if let Some(data) = data {
        input.data = data.into();
    }
    ImportRequest { input, on_existing }
}

fn new_version(aws: &mut FakeAws, rt: &mut FakeRuntime) -> Result<ImportOutput, NodeError> {
    let request = recurring("Seg", Some(NEW_DATA), OnExisting::NewVersion);
    super::super::run(&request, &settings(), aws, rt)
}

/// The project after a first daily run: `seg-old`, imported from other
/// data, at version 1.
fn after_a_first_run() -> FakeAws {
    let url = "s3://staging/pinpoint-imports/yesterday.csv";
    let mut old = segment("seg-old", "Seg", "2026-11-27T00:00:00.000Z", url);
    old["Version"] = 1.into();
    let mut aws = FakeAws {
        segments: vec![old.clone()],
        jobs: vec![import_job("job-old", "seg-old", url, "COMPLETED")],
        ..Default::default()
    };
    aws.versions.insert("seg-old".into(), vec![old]);
    aws
}

/// The bodies of the `CreateImportJob` requests the run sent, as the fake
/// recorded their jobs.
fn created_into(aws: &FakeAws) -> Vec<Option<String>> {
    aws.jobs
        .iter()
        .filter(|j| j["Id"] != "job-old")
        .map(|j| {
            (j["Definition"]["Update"] == true)
                .then(|| j["Definition"]["SegmentId"].as_str().unwrap().to_owned())
        })
        .collect()
}

fn count(aws: &FakeAws, op: &str) -> usize {
    ops(aws).iter().filter(|o| **o == op).count()
}

fn segment_of<'a>(aws: &'a FakeAws, id: &str) -> &'a serde_json::Value {
    aws.segments.iter().find(|s| s["Id"] == id).unwrap()
}

#[test]
fn without_a_segment_of_the_name_new_version_creates_one_as_today() {
    let mut aws = FakeAws::default();
    let out = new_version(&mut aws, &mut FakeRuntime::default()).unwrap();
    assert_eq!(out.segment_id, "seg-new");
    assert!(out.created_segment && !out.reused_existing_segment);
    assert_eq!(out.segment_version, Some(1));
    assert_eq!(created_into(&aws), [None], "a new segment, no SegmentId");
}

#[test]
fn the_seed_flow_reports_that_it_created_the_segment() {
    let mut aws = FakeAws::default();
    let out = run_with(&mut aws, &mut FakeRuntime::default(), "Seg").unwrap();
    assert!(out.created_segment);
    assert_eq!(out.segment_version, Some(1));
    // A re-run made nothing.
    let again = run_with(&mut aws, &mut FakeRuntime::default(), "Seg").unwrap();
    assert!(!again.created_segment && again.reused_existing_segment);
    assert_eq!(again.segment_version, Some(1));
}

#[test]
fn one_imported_segment_takes_the_data_as_a_new_version_and_keeps_its_id() {
    let mut aws = after_a_first_run();
    let out = new_version(&mut aws, &mut FakeRuntime::default()).unwrap();
    assert_eq!(out.segment_id, "seg-old");
    assert_eq!(out.job_status, JobStatus::Completed);
    assert!(!out.created_segment && !out.reused_existing_segment);
    assert_eq!(out.segment_version, Some(2));
    assert_eq!(out.endpoints_submitted, 2);
    // The request: the new-segment one plus the segment's id.
    let job = aws.jobs.last().unwrap();
    let definition = &job["Definition"];
    assert_eq!(definition["SegmentId"], "seg-old");
    assert_eq!(definition["SegmentName"], "Seg");
    assert_eq!(definition["DefineSegment"], true);
    assert_eq!(definition["RegisterEndpoints"], true);
    assert_eq!(definition["S3Url"], out.staged_object.as_str());
    // One segment, at version 2, imported from this run's object, which
    // is cleaned up as after any import.
    assert_eq!(segment_ids(&aws), ["seg-old"]);
    let seg = segment_of(&aws, "seg-old");
    assert_eq!(seg["Version"], 2);
    assert_eq!(seg["ImportDefinition"]["S3Url"], out.staged_object.as_str());
    assert!(out.staged_object_deleted && staged_keys(&aws).is_empty());
    assert_eq!(count(&aws, "DeleteSegment"), 0);
    assert_eq!(count(&aws, "GetSegmentVersions"), 1);
}

#[test]
fn without_new_version_the_same_run_is_still_a_duplicate() {
    for on_existing in [None, Some(OnExisting::Fail)] {
        let mut aws = after_a_first_run();
        let request = match on_existing {
            None => ImportRequest::from(recurring("Seg", Some(NEW_DATA), OnExisting::Fail).input),
            Some(o) => recurring("Seg", Some(NEW_DATA), o),
        };
        let err = super::super::run(&request, &settings(), &mut aws, &mut FakeRuntime::default())
            .unwrap_err();
        assert_eq!(err.kind, ErrorKind::DuplicateSegmentName);
        assert_eq!(err.details.segment_id.as_deref(), Some("seg-old"));
        assert!(err.message.ends_with("choose another name"), "{err}");
        assert_eq!(count(&aws, "PutObject"), 0);
    }
}

#[test]
fn the_same_data_as_the_latest_version_imports_nothing_new() {
    let mut aws = after_a_first_run();
    let first = new_version(&mut aws, &mut FakeRuntime::default()).unwrap();
    let before = aws.log.len();
    let again = new_version(&mut aws, &mut FakeRuntime::default()).unwrap();
    assert_eq!(again.segment_id, "seg-old");
    assert!(again.reused_existing_segment && !again.created_segment);
    assert_eq!(again.segment_version, Some(2));
    assert_eq!(again.import_job_id, first.import_job_id);
    let after: Vec<&str> = aws.log[before..].iter().map(|(o, _)| o.as_str()).collect();
    assert!(
        !after.contains(&"PutObject") && !after.contains(&"CreateImportJob"),
        "{after:?}"
    );
    assert_eq!(segment_of(&aws, "seg-old")["Version"], 2, "no version 3");
}

#[test]
fn data_of_an_older_version_is_imported_again() {
    // Today's data is yesterday's again, but the latest version is of other
    // data: it is a new version, not a re-run.
    let mut aws = after_a_first_run();
    new_version(&mut aws, &mut FakeRuntime::default()).unwrap();
    let request = recurring("Seg", None, OnExisting::NewVersion);
    let other =
        super::super::run(&request, &settings(), &mut aws, &mut FakeRuntime::default()).unwrap();
    assert_eq!(other.segment_version, Some(3));
    let back = new_version(&mut aws, &mut FakeRuntime::default()).unwrap();
    assert!(!back.reused_existing_segment);
    assert_eq!(back.segment_version, Some(4));
    assert_eq!(segment_ids(&aws), ["seg-old"]);
}

#[test]
fn of_several_segments_of_the_name_the_oldest_takes_it_and_the_log_names_the_others() {
    let mut aws = after_a_first_run();
    aws.segments.insert(
        0,
        segment(
            "seg-younger",
            "Seg",
            "2026-11-27T10:00:00.000Z",
            "s3://elsewhere/list.csv",
        ),
    );
    let mut rt = FakeRuntime::default();
    let out = new_version(&mut aws, &mut rt).unwrap();
    assert_eq!(out.segment_id, "seg-old");
    assert_eq!(created_into(&aws), [Some("seg-old".to_owned())]);
    assert!(
        rt.logs
            .iter()
            .any(|l| l.contains("segments seg-younger also have this name")
                && l.contains("the oldest, seg-old")),
        "{:?}",
        rt.logs
    );
    // The others are left as they were.
    assert_eq!(
        segment_of(&aws, "seg-younger")["ImportDefinition"]["S3Url"],
        "s3://elsewhere/list.csv"
    );
}

#[test]
fn a_dimensional_segment_is_a_duplicate_that_says_why() {
    let mut aws = FakeAws {
        segments: vec![
            serde_json::json!({"Id": "seg-dim", "Name": "Seg", "SegmentType": "DIMENSIONAL",
            "CreationDate": "2026-11-27T00:00:00.000Z", "Version": 4}),
        ],
        ..Default::default()
    };
    let err = new_version(&mut aws, &mut FakeRuntime::default()).unwrap_err();
    assert_eq!(err.kind, ErrorKind::DuplicateSegmentName);
    assert_eq!(err.details.segment_id.as_deref(), Some("seg-dim"));
    assert_eq!(err.details.field.as_deref(), Some("segment_name"));
    assert!(
        err.message
            .contains("it cannot take a new version: it is a DIMENSIONAL segment"),
        "{err}"
    );
    assert_eq!(count(&aws, "PutObject"), 0);
    assert_eq!(segment_ids(&aws), ["seg-dim"]);
}

#[test]
fn a_failed_job_never_deletes_the_segment_it_was_to_update() {
    let mut aws = after_a_first_run();
    aws.job_statuses = ["PROCESSING", "FAILED"].into();
    aws.job_failures = vec!["row 2: bad".into()];
    let err = new_version(&mut aws, &mut FakeRuntime::default()).unwrap_err();
    assert_eq!(err.kind, ErrorKind::ImportJobFailed);
    assert_eq!(err.details.segment_id.as_deref(), Some("seg-old"));
    assert_eq!(err.details.failures, ["row 2: bad"]);
    assert!(
        err.message
            .contains("the segment seg-old existed before this run and is kept"),
        "{err}"
    );
    assert_eq!(count(&aws, "DeleteSegment"), 0);
    assert_eq!(segment_ids(&aws), ["seg-old"]);
    assert_eq!(segment_of(&aws, "seg-old")["Version"], 1);
    // The job has ended: its object goes.
    assert!(staged_keys(&aws).is_empty());
}

#[test]
fn two_runs_at_once_each_report_the_version_they_made() {
    // Another run's import into the segment completes right after this
    // run's: the segment's latest version is not this run's.
    let mut aws = after_a_first_run();
    aws.rival_versions = vec!["s3://staging/pinpoint-imports/rival.csv".into()];
    let out = new_version(&mut aws, &mut FakeRuntime::default()).unwrap();
    assert_eq!(out.segment_id, "seg-old");
    assert_eq!(out.segment_version, Some(2));
    assert_eq!(segment_of(&aws, "seg-old")["Version"], 3);
    // Then the other run, whose data is now the latest, is a re-run of it.
    assert_eq!(
        segment_of(&aws, "seg-old")["ImportDefinition"]["S3Url"],
        "s3://staging/pinpoint-imports/rival.csv"
    );
}

#[test]
fn runs_of_a_name_that_does_not_exist_yet_leave_one_segment() {
    // Another new_version run of the name, with other data, created its
    // segment a second before this run's: it keeps the name, and this
    // run's data goes into it as its next version.
    let other = "s3://staging/pinpoint-imports/other-data.csv";
    let mut rival = segment("seg-older", "Seg", "2026-11-28T00:00:09.000Z", other);
    rival["Version"] = 1.into();
    let mut aws = FakeAws {
        rivals: vec![rival.clone()],
        rival_jobs: vec![import_job("job-rival", "seg-older", other, "COMPLETED")],
        ..Default::default()
    };
    aws.versions.insert("seg-older".into(), vec![rival]);
    let mut rt = FakeRuntime::default();
    let out = new_version(&mut aws, &mut rt).unwrap();
    assert_eq!(out.segment_id, "seg-older");
    assert!(!out.created_segment && !out.reused_existing_segment);
    assert_eq!(out.segment_version, Some(2));
    assert_eq!(segment_ids(&aws), ["seg-older"], "one segment of the name");
    assert_eq!(segment_of(&aws, "seg-older")["Version"], 2);
    // Its own segment went once its job ended; its object stayed for the
    // new version's job and went after it.
    let creates: Vec<usize> = ops(&aws)
        .iter()
        .enumerate()
        .filter(|(_, o)| **o == "CreateImportJob")
        .map(|(i, _)| i)
        .collect();
    assert_eq!(creates.len(), 2, "{:?}", ops(&aws));
    let deleted_own = position_after(&aws, creates[0], "DeleteSegment");
    assert!(deleted_own < creates[1], "{:?}", ops(&aws));
    assert!(aws.log[deleted_own].1.ends_with("/segments/seg-new"));
    assert_eq!(count(&aws, "DeleteSegment"), 1);
    assert_eq!(
        position_after(&aws, creates[0], "DeleteObject"),
        position_after(&aws, creates[1], "DeleteObject"),
        "the object is deleted once, after the second job"
    );
    assert!(staged_keys(&aws).is_empty(), "{:?}", staged_keys(&aws));
    // The rival's job, this run's new segment, then its new version.
    assert_eq!(
        created_into(&aws),
        [None, None, Some("seg-older".to_owned())]
    );
}

#[test]
fn a_loser_with_new_version_still_reports_a_dimensional_winner_as_a_duplicate() {
    let mut aws = FakeAws {
        rivals: vec![
            serde_json::json!({"Id": "seg-dim", "Name": "Seg", "SegmentType": "DIMENSIONAL",
            "CreationDate": "2026-11-28T00:00:09.000Z"}),
        ],
        ..Default::default()
    };
    let err = new_version(&mut aws, &mut FakeRuntime::default()).unwrap_err();
    assert_eq!(err.kind, ErrorKind::DuplicateSegmentName);
    assert!(err.message.contains("cannot take a new version"), "{err}");
    assert_eq!(segment_ids(&aws), ["seg-dim"]);
    assert!(staged_keys(&aws).is_empty());
}

#[test]
fn a_crashed_run_rerun_waits_for_its_job_and_makes_no_other_version() {
    // The earlier run of this input stopped while its import into seg-old
    // ran: the segment still names yesterday's data.
    let keys = keys_of(&recurring("Seg", Some(NEW_DATA), OnExisting::NewVersion).input);
    let key = keys.key(0x1234);
    let url = keys.s3_url(&key);
    let mut aws = after_a_first_run();
    let mut job = import_job("job-crashed", "seg-old", &url, "PROCESSING");
    job["Definition"]["Update"] = true.into();
    aws.jobs.push(job);
    aws.objects.insert(format!("/{key}"), b"x".to_vec());
    aws.job_statuses = ["PROCESSING", "COMPLETED"].into();
    let out = new_version(&mut aws, &mut FakeRuntime::default()).unwrap();
    assert_eq!(out.segment_id, "seg-old");
    assert_eq!(out.import_job_id, "job-crashed");
    assert!(out.reused_existing_segment && !out.created_segment);
    assert_eq!(out.segment_version, Some(2));
    assert_eq!(out.staged_object, url);
    assert_eq!(count(&aws, "CreateImportJob"), 0);
    assert_eq!(count(&aws, "PutObject"), 0);
    assert_eq!(segment_of(&aws, "seg-old")["Version"], 2);
    assert!(staged_keys(&aws).is_empty());
    // Once more: the latest version is this data's, nothing new.
    let again = new_version(&mut aws, &mut FakeRuntime::default()).unwrap();
    assert!(again.reused_existing_segment);
    assert_eq!(count(&aws, "CreateImportJob"), 0);
    assert_eq!(segment_of(&aws, "seg-old")["Version"], 2, "no version 3");
}

#[test]
fn a_crashed_run_whose_new_version_failed_keeps_the_segment() {
    let keys = keys_of(&recurring("Seg", Some(NEW_DATA), OnExisting::NewVersion).input);
    let url = keys.s3_url(&keys.key(7));
    let mut aws = after_a_first_run();
    let mut job = import_job("job-crashed", "seg-old", &url, "PROCESSING");
    job["Definition"]["Update"] = true.into();
    aws.jobs.push(job);
    aws.job_statuses = ["FAILED"].into();
    let err = new_version(&mut aws, &mut FakeRuntime::default()).unwrap_err();
    assert_eq!(err.kind, ErrorKind::ImportJobFailed);
    assert_eq!(count(&aws, "DeleteSegment"), 0);
    assert_eq!(segment_ids(&aws), ["seg-old"]);
}

#[test]
fn an_ambiguous_create_into_a_segment_looks_the_job_up() {
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
    let mut t = BreakAfterCreate(after_a_first_run(), false);
    let request = recurring("Seg", Some(NEW_DATA), OnExisting::NewVersion);
    let out =
        super::super::run(&request, &settings(), &mut t, &mut FakeRuntime::default()).unwrap();
    assert!(t.1, "the connection break was injected");
    assert_eq!(out.segment_id, "seg-old");
    assert_eq!(out.segment_version, Some(2));
    assert_eq!(count(&t.0, "CreateImportJob"), 1, "{:?}", ops(&t.0));
    assert_eq!(segment_of(&t.0, "seg-old")["Version"], 2);
}

#[test]
fn versions_that_cannot_be_read_leave_the_version_out() {
    let mut aws = after_a_first_run();
    aws.script.insert(
        "GetSegmentVersions",
        [Ok(aws_error(403, "AccessDeniedException"))].into(),
    );
    let mut rt = FakeRuntime::default();
    let out = new_version(&mut aws, &mut rt).unwrap();
    assert_eq!(out.segment_id, "seg-old");
    assert_eq!(out.segment_version, None);
    assert!(
        rt.logs
            .iter()
            .any(|l| l.contains("could not read the versions of segment seg-old")),
        "{:?}",
        rt.logs
    );
}

#[test]
fn a_segment_deleted_before_its_new_version_is_named_and_nothing_is_left() {
    let mut aws = after_a_first_run();
    aws.script.insert(
        "CreateImportJob",
        [Ok(aws_error(404, "NotFoundException"))].into(),
    );
    let err = new_version(&mut aws, &mut FakeRuntime::default()).unwrap_err();
    assert_eq!(err.kind, ErrorKind::ServiceError);
    assert_eq!(err.details.segment_id.as_deref(), Some("seg-old"));
    assert!(
        err.message
            .starts_with("segment seg-old of this name was deleted before its new version"),
        "{err}"
    );
    assert!(staged_keys(&aws).is_empty(), "{:?}", staged_keys(&aws));
}
