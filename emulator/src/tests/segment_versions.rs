//! Segment versions (issue 16): `CreateImportJob` with a `SegmentId` imports into an
//! existing imported segment, which gets a new version when the job completes;
//! `GetSegmentVersion` and `GetSegmentVersions`; and every segment and import job
//! answer against the members botocore's Pinpoint model requires.

use super::*;

/// An emulator whose jobs move only when polled, with GetSegments-style pages of `page_size`.
async fn start_polled(page_size: usize) -> Emulator {
    let config = EmulatorConfig {
        job_step: Duration::MAX,
        page_size,
        ..EmulatorConfig::default()
    };
    Emulator::start(config, loopback()).await.unwrap()
}

/// An `ImportJobRequest` into the existing segment `segment_id`.
fn import_into(key: &str, segment_id: &str) -> Value {
    json!({
        "Format": "CSV",
        "RegisterEndpoints": true,
        "RoleArn": DEFAULT_ROLE_ARN,
        "S3Url": format!("s3://{DEFAULT_BUCKET}/{key}"),
        "SegmentId": segment_id,
    })
}

/// A CSV of `rows` endpoints of `channel`.
fn endpoints(channel: &str, rows: usize) -> Vec<u8> {
    let mut csv = String::from("ChannelType,Address\n");
    for i in 0..rows {
        match channel {
            "SMS" => csv.push_str(&format!("SMS,+1206555{i:04}\n")),
            _ => csv.push_str(&format!("{channel},u{i}@example.com\n")),
        }
    }
    csv.into_bytes()
}

/// Creates an import job from `body`; answers the created job.
async fn create_job(emu: &Emulator, signer: &Signer, app: &str, body: &Value) -> Answer {
    pinpoint(
        emu,
        signer,
        "POST",
        &format!("/v1/apps/{app}/jobs/import"),
        "",
        Some(body),
    )
    .await
    .unwrap()
}

/// Creates a job from `body` in the seed app, polls it to its end; answers the last poll.
async fn run_job(emu: &Emulator, signer: &Signer, body: &Value) -> Value {
    let created = create_job(emu, signer, SEED_APPLICATION_ID, body).await;
    assert_eq!(created.status, 201, "{}", created.text());
    let id = created.json()["Id"].as_str().unwrap().to_owned();
    poll_until_terminal(emu, signer, &id).await.pop().unwrap()
}

/// Stores `csv` at `key` and imports it as a new segment named `name`; answers its id.
async fn new_segment(emu: &Emulator, signer: &Signer, key: &str, name: &str, csv: &[u8]) -> String {
    emu.put_object(DEFAULT_BUCKET, key, csv).unwrap();
    let done = run_job(emu, signer, &import_request(key, name, "CSV")).await;
    assert_eq!(done["JobStatus"], "COMPLETED", "{done}");
    done["Definition"]["SegmentId"].as_str().unwrap().to_owned()
}

/// A signed GET in the seed app; `suffix` follows `/v1/apps/{app}`.
async fn get(emu: &Emulator, signer: &Signer, suffix: &str, query: &str) -> Answer {
    pinpoint(emu, signer, "GET", &app_path(suffix), query, None)
        .await
        .unwrap()
}

fn version_of(segment: &Value) -> u64 {
    segment["Version"].as_u64().unwrap()
}

#[tokio::test]
async fn an_import_into_a_segment_makes_a_new_version_when_it_completes() {
    let emu = start_polled(DEFAULT_PAGE_SIZE).await;
    let signer = Signer::default_creds();
    let first_key = "daily/1/endpoints.csv";
    let id = new_segment(
        &emu,
        &signer,
        first_key,
        "Daily_Sync",
        &endpoints("EMAIL", 2),
    )
    .await;
    let v1 = get(&emu, &signer, &format!("/segments/{id}"), "")
        .await
        .json();
    assert_eq!(version_of(&v1), 1, "{v1}");
    assert_eq!(v1["ImportDefinition"]["Size"], 2);
    assert_eq!(v1["LastModifiedDate"].as_str().map(str::len), Some(24));

    // The second file, imported into the segment by id. DefineSegment and another
    // SegmentName come with it: tolerated, the SegmentId wins.
    let second_key = "daily/2/endpoints.csv";
    emu.put_object(DEFAULT_BUCKET, second_key, &endpoints("SMS", 3))
        .unwrap();
    let mut body = import_into(second_key, &id);
    body["DefineSegment"] = json!(true);
    body["SegmentName"] = json!("another name");
    let created = create_job(&emu, &signer, SEED_APPLICATION_ID, &body).await;
    assert_eq!(created.status, 201, "{}", created.text());
    let job = created.json();
    assert_eq!(job["Definition"]["SegmentId"], id.as_str());
    let job_id = job["Id"].as_str().unwrap().to_owned();
    assert_eq!(emu.segments(SEED_APPLICATION_ID).len(), 1, "no new segment");

    // Until the job completes, the segment is version 1 with the first file's data.
    loop {
        let seg = get(&emu, &signer, &format!("/segments/{id}"), "")
            .await
            .json();
        let polled = get(&emu, &signer, &format!("/jobs/import/{job_id}"), "")
            .await
            .json();
        if polled["JobStatus"] == "COMPLETED" {
            break;
        }
        assert_eq!(seg, v1, "before {}", polled["JobStatus"]);
    }
    let v2 = get(&emu, &signer, &format!("/segments/{id}"), "")
        .await
        .json();
    assert_eq!(version_of(&v2), 2, "{v2}");
    assert_eq!(v2["Id"], id.as_str());
    assert_eq!(v2["Name"], "Daily_Sync");
    assert_eq!(v2["CreationDate"], v1["CreationDate"]);
    assert!(
        v2["LastModifiedDate"].as_str() > v1["LastModifiedDate"].as_str(),
        "{v1} then {v2}"
    );
    let import = &v2["ImportDefinition"];
    assert_eq!(import["Size"], 3);
    assert_eq!(import["ChannelCounts"], json!({"SMS": 3}));
    assert_eq!(
        import["S3Url"],
        format!("s3://{DEFAULT_BUCKET}/{second_key}")
    );

    // Both versions, oldest first, and each one by number.
    let versions = get(&emu, &signer, &format!("/segments/{id}/versions"), "")
        .await
        .json();
    assert_eq!(versions["Item"], json!([v1, v2]), "{versions}");
    assert!(versions.get("NextToken").is_none());
    for (n, expected) in [(1, &v1), (2, &v2)] {
        let one = get(&emu, &signer, &format!("/segments/{id}/versions/{n}"), "").await;
        assert_eq!(one.status, 200, "{}", one.text());
        assert_eq!(&one.json(), expected);
    }
    let missing = get(&emu, &signer, &format!("/segments/{id}/versions/3"), "").await;
    assert_eq!(missing.status, 404, "{}", missing.text());
    assert_eq!(
        missing.header("x-amzn-errortype"),
        Some("NotFoundException")
    );
    let bad = get(&emu, &signer, &format!("/segments/{id}/versions/two"), "").await;
    assert_eq!(bad.status, 400, "{}", bad.text());
    assert_eq!(bad.header("x-amzn-errortype"), Some("BadRequestException"));
    let unknown = get(&emu, &signer, "/segments/nosuchsegment/versions", "").await;
    assert_eq!(unknown.status, 404, "{}", unknown.text());

    // The test API agrees, and the segment's import jobs are both jobs.
    let infos = emu.segment_versions(SEED_APPLICATION_ID, &id);
    let summary: Vec<(u32, u64, Option<String>)> = infos
        .iter()
        .map(|v| (v.version, v.size, v.s3_url.clone()))
        .collect();
    assert_eq!(
        summary,
        [
            (1, 2, Some(format!("s3://{DEFAULT_BUCKET}/{first_key}"))),
            (2, 3, Some(format!("s3://{DEFAULT_BUCKET}/{second_key}")))
        ]
    );
    assert_eq!(emu.segments(SEED_APPLICATION_ID)[0], infos[1]);
    let jobs = get(&emu, &signer, &format!("/segments/{id}/jobs/import"), "")
        .await
        .json();
    assert_eq!(jobs["Item"].as_array().unwrap().len(), 2, "{jobs}");
    emu.shutdown().await;
}

#[tokio::test]
async fn a_failed_import_leaves_the_segment_as_it_was() {
    let emu = start_polled(DEFAULT_PAGE_SIZE).await;
    let signer = Signer::default_creds();
    let id = new_segment(&emu, &signer, "v1.csv", "kept", &endpoints("EMAIL", 4)).await;
    let before = get(&emu, &signer, &format!("/segments/{id}"), "")
        .await
        .json();

    // No object at the S3Url: the job fails reading it.
    let done = run_job(&emu, &signer, &import_into("missing.csv", &id)).await;
    assert_eq!(done["JobStatus"], "FAILED", "{done}");
    // A file that could be read, but the job fails (a fault) on its processing step.
    emu.put_object(DEFAULT_BUCKET, "v2.csv", &endpoints("SMS", 1))
        .unwrap();
    emu.inject(
        Operation::CreateImportJob,
        Fault::FailJob {
            failures: vec!["the role cannot read the bucket".into()],
        },
    );
    let done = run_job(&emu, &signer, &import_into("v2.csv", &id)).await;
    assert_eq!(done["JobStatus"], "FAILED", "{done}");

    let after = get(&emu, &signer, &format!("/segments/{id}"), "")
        .await
        .json();
    assert_eq!(after, before);
    let versions = get(&emu, &signer, &format!("/segments/{id}/versions"), "")
        .await
        .json();
    assert_eq!(versions["Item"], json!([before]));
    emu.shutdown().await;
}

#[tokio::test]
async fn imports_into_unknown_foreign_or_dimensional_segments_are_refused() {
    let emu = start_polled(DEFAULT_PAGE_SIZE).await;
    let signer = Signer::default_creds();
    emu.put_object(DEFAULT_BUCKET, "e.csv", &endpoints("EMAIL", 1))
        .unwrap();
    // A segment of another application.
    let other_app = "0123456789abcdef0123456789abcdef";
    emu.add_application(other_app);
    let created = create_job(
        &emu,
        &signer,
        other_app,
        &import_request("e.csv", "theirs", "CSV"),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.text());
    let foreign = created.json()["Definition"]["SegmentId"]
        .as_str()
        .unwrap()
        .to_owned();
    let dimensional = emu.add_segment(SEED_APPLICATION_ID, "dimensional");

    for (segment_id, status, error_type) in [
        ("0000000000000000000000000000dead", 404, "NotFoundException"),
        (foreign.as_str(), 404, "NotFoundException"),
        (dimensional.as_str(), 400, "BadRequestException"),
    ] {
        let a = create_job(
            &emu,
            &signer,
            SEED_APPLICATION_ID,
            &import_into("e.csv", segment_id),
        )
        .await;
        assert_eq!(a.status, status, "{segment_id}: {}", a.text());
        assert_eq!(a.header("x-amzn-errortype"), Some(error_type));
        assert!(a.header("x-amzn-requestid").is_some());
        let body = a.json();
        assert!(
            body["Message"].is_string() && body["RequestID"].is_string(),
            "{body}"
        );
    }
    assert!(emu.import_jobs(SEED_APPLICATION_ID).is_empty());
    let segments = emu.segments(SEED_APPLICATION_ID);
    assert_eq!(segments.len(), 1);
    assert_eq!(
        (segments[0].segment_type.as_str(), segments[0].version),
        ("DIMENSIONAL", 1)
    );
    assert_eq!(emu.segments(other_app)[0].version, 1);
    emu.shutdown().await;
}

/// Two imports into one segment at once: each completion makes one version, in the
/// order they complete, each with its own file.
#[tokio::test]
async fn two_imports_into_one_segment_at_once_make_two_versions() {
    let emu = start_polled(DEFAULT_PAGE_SIZE).await;
    let signer = Signer::default_creds();
    let id = new_segment(&emu, &signer, "base.csv", "shared", &endpoints("EMAIL", 1)).await;
    emu.put_object(DEFAULT_BUCKET, "a.csv", &endpoints("EMAIL", 2))
        .unwrap();
    emu.put_object(DEFAULT_BUCKET, "b.csv", &endpoints("SMS", 5))
        .unwrap();
    let a = create_job(
        &emu,
        &signer,
        SEED_APPLICATION_ID,
        &import_into("a.csv", &id),
    )
    .await;
    let b = create_job(
        &emu,
        &signer,
        SEED_APPLICATION_ID,
        &import_into("b.csv", &id),
    )
    .await;
    let a = a.json()["Id"].as_str().unwrap().to_owned();
    let b = b.json()["Id"].as_str().unwrap().to_owned();
    // B completes first.
    assert_eq!(
        poll_until_terminal(&emu, &signer, &b).await.pop().unwrap()["JobStatus"],
        "COMPLETED"
    );
    assert_eq!(
        poll_until_terminal(&emu, &signer, &a).await.pop().unwrap()["JobStatus"],
        "COMPLETED"
    );
    let versions: Vec<(u32, u64, String)> = emu
        .segment_versions(SEED_APPLICATION_ID, &id)
        .into_iter()
        .map(|v| (v.version, v.size, v.s3_url.unwrap_or_default()))
        .collect();
    let url = |k: &str| format!("s3://{DEFAULT_BUCKET}/{k}");
    assert_eq!(
        versions,
        [
            (1, 1, url("base.csv")),
            (2, 5, url("b.csv")),
            (3, 2, url("a.csv"))
        ]
    );
    emu.shutdown().await;
}

/// A new segment whose creating job ends after an import into it: the creating job
/// fills version 1, never the later version.
#[tokio::test]
async fn a_creating_job_that_ends_late_fills_version_one() {
    let emu = start_polled(DEFAULT_PAGE_SIZE).await;
    let signer = Signer::default_creds();
    emu.put_object(DEFAULT_BUCKET, "first.csv", &endpoints("EMAIL", 2))
        .unwrap();
    emu.put_object(DEFAULT_BUCKET, "second.csv", &endpoints("SMS", 3))
        .unwrap();
    let creating = create_job(
        &emu,
        &signer,
        SEED_APPLICATION_ID,
        &import_request("first.csv", "late", "CSV"),
    )
    .await
    .json();
    let id = creating["Definition"]["SegmentId"]
        .as_str()
        .unwrap()
        .to_owned();
    let into = run_job(&emu, &signer, &import_into("second.csv", &id)).await;
    assert_eq!(into["JobStatus"], "COMPLETED");
    let creating_id = creating["Id"].as_str().unwrap();
    assert_eq!(
        poll_until_terminal(&emu, &signer, creating_id)
            .await
            .pop()
            .unwrap()["JobStatus"],
        "COMPLETED"
    );
    let versions: Vec<(u32, u64)> = emu
        .segment_versions(SEED_APPLICATION_ID, &id)
        .iter()
        .map(|v| (v.version, v.size))
        .collect();
    assert_eq!(versions, [(1, 2), (2, 3)]);
    emu.shutdown().await;
}

#[tokio::test]
async fn segment_versions_page_like_get_segments() {
    let emu = start_polled(2).await;
    let signer = Signer::default_creds();
    let id = new_segment(&emu, &signer, "p0.csv", "paged", &endpoints("EMAIL", 1)).await;
    for i in 1..5 {
        let key = format!("p{i}.csv");
        emu.put_object(DEFAULT_BUCKET, &key, &endpoints("EMAIL", i + 1))
            .unwrap();
        let done = run_job(&emu, &signer, &import_into(&key, &id)).await;
        assert_eq!(done["JobStatus"], "COMPLETED", "{done}");
    }
    let path = format!("/segments/{id}/versions");
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let query = token
            .as_ref()
            .map(|t| format!("token={}", sigv4_verify::uri_encode(t.as_bytes())))
            .unwrap_or_default();
        let page = get(&emu, &signer, &path, &query).await;
        assert_eq!(page.status, 200, "{}", page.text());
        let body = page.json();
        pages += 1;
        for item in body["Item"].as_array().unwrap() {
            seen.push((
                version_of(item),
                item["ImportDefinition"]["Size"].as_u64().unwrap(),
            ));
        }
        match body.get("NextToken").and_then(Value::as_str) {
            Some(t) => token = Some(t.to_owned()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, [(1, 1), (2, 2), (3, 3), (4, 4), (5, 5)]);
    let one = get(&emu, &signer, &path, "page-size=4").await.json();
    assert_eq!(one["Item"].as_array().unwrap().len(), 4);
    // A token of the segment list is not a token of this segment's versions.
    emu.add_segment(SEED_APPLICATION_ID, "a");
    emu.add_segment(SEED_APPLICATION_ID, "b");
    let segments = get(&emu, &signer, "/segments", "").await.json();
    let foreign = segments["NextToken"].as_str().unwrap();
    let q = format!("token={}", sigv4_verify::uri_encode(foreign.as_bytes()));
    let refused = get(&emu, &signer, &path, &q).await;
    assert_eq!(refused.status, 400, "{}", refused.text());
    assert_eq!(
        refused.header("x-amzn-errortype"),
        Some("BadRequestException")
    );
    emu.shutdown().await;
}

/// A member's type in botocore's model, as far as these answers use it.
#[derive(Debug, Clone, Copy)]
enum Member {
    Str,
    Enum(&'static [&'static str]),
    Int,
    Bool,
    /// `MapOf__integer`.
    IntMap,
    /// `MapOf__string`.
    StrMap,
    /// `ListOf__string`.
    StrList,
    Struct(&'static Shape),
    List(&'static Shape),
}

/// A structure of botocore's model: its members and which of them are required.
#[derive(Debug)]
struct Shape {
    name: &'static str,
    members: &'static [(&'static str, Member)],
    required: &'static [&'static str],
}

// The shapes below are transcribed from botocore's Pinpoint model,
// `botocore/data/pinpoint/2016-12-01/service-2.json` (github.com/boto/botocore, commit
// 0e6e2404b85dc336dd2889814e089bde7d1a4c55): member names, types and `required` lists.
// Nested structures the emulator answers empty (`Dimensions`) are checked by name only.

static SEGMENT_DIMENSIONS: Shape = Shape {
    name: "SegmentDimensions",
    members: &[
        ("Attributes", Member::StrMap),
        ("Behavior", Member::StrMap),
        ("Demographic", Member::StrMap),
        ("Location", Member::StrMap),
        ("Metrics", Member::StrMap),
        ("UserAttributes", Member::StrMap),
    ],
    required: &[],
};

static SEGMENT_GROUP_LIST: Shape = Shape {
    name: "SegmentGroupList",
    members: &[("Groups", Member::StrList), ("Include", Member::Str)],
    required: &[],
};

static SEGMENT_IMPORT_RESOURCE: Shape = Shape {
    name: "SegmentImportResource",
    members: &[
        ("ChannelCounts", Member::IntMap),
        ("ExternalId", Member::Str),
        ("Format", Member::Enum(&["CSV", "JSON"])),
        ("RoleArn", Member::Str),
        ("S3Url", Member::Str),
        ("Size", Member::Int),
    ],
    required: &["Format", "S3Url", "Size", "ExternalId", "RoleArn"],
};

static SEGMENT_RESPONSE: Shape = Shape {
    name: "SegmentResponse",
    members: &[
        ("ApplicationId", Member::Str),
        ("Arn", Member::Str),
        ("CreationDate", Member::Str),
        ("Dimensions", Member::Struct(&SEGMENT_DIMENSIONS)),
        ("Id", Member::Str),
        ("ImportDefinition", Member::Struct(&SEGMENT_IMPORT_RESOURCE)),
        ("LastModifiedDate", Member::Str),
        ("Name", Member::Str),
        ("SegmentGroups", Member::Struct(&SEGMENT_GROUP_LIST)),
        ("SegmentType", Member::Enum(&["DIMENSIONAL", "IMPORT"])),
        ("tags", Member::StrMap),
        ("Version", Member::Int),
    ],
    required: &["SegmentType", "CreationDate", "Id", "Arn", "ApplicationId"],
};

static SEGMENTS_RESPONSE: Shape = Shape {
    name: "SegmentsResponse",
    members: &[
        ("Item", Member::List(&SEGMENT_RESPONSE)),
        ("NextToken", Member::Str),
    ],
    required: &["Item"],
};

static IMPORT_JOB_RESOURCE: Shape = Shape {
    name: "ImportJobResource",
    members: &[
        ("DefineSegment", Member::Bool),
        ("ExternalId", Member::Str),
        ("Format", Member::Enum(&["CSV", "JSON"])),
        ("RegisterEndpoints", Member::Bool),
        ("RoleArn", Member::Str),
        ("S3Url", Member::Str),
        ("SegmentId", Member::Str),
        ("SegmentName", Member::Str),
    ],
    required: &["Format", "S3Url", "RoleArn"],
};

static IMPORT_JOB_RESPONSE: Shape = Shape {
    name: "ImportJobResponse",
    members: &[
        ("ApplicationId", Member::Str),
        ("CompletedPieces", Member::Int),
        ("CompletionDate", Member::Str),
        ("CreationDate", Member::Str),
        ("Definition", Member::Struct(&IMPORT_JOB_RESOURCE)),
        ("FailedPieces", Member::Int),
        ("Failures", Member::StrList),
        ("Id", Member::Str),
        (
            "JobStatus",
            Member::Enum(&[
                "CREATED",
                "PREPARING_FOR_INITIALIZATION",
                "INITIALIZING",
                "PROCESSING",
                "PENDING_JOB",
                "COMPLETING",
                "COMPLETED",
                "FAILING",
                "FAILED",
            ]),
        ),
        ("TotalFailures", Member::Int),
        ("TotalPieces", Member::Int),
        ("TotalProcessed", Member::Int),
        ("Type", Member::Str),
    ],
    required: &[
        "JobStatus",
        "CreationDate",
        "Type",
        "Definition",
        "Id",
        "ApplicationId",
    ],
};

static IMPORT_JOBS_RESPONSE: Shape = Shape {
    name: "ImportJobsResponse",
    members: &[
        ("Item", Member::List(&IMPORT_JOB_RESPONSE)),
        ("NextToken", Member::Str),
    ],
    required: &["Item"],
};

/// Where `value` departs from `shape`: a required member missing, a member the model
/// does not have, or a value of the wrong type.
fn departures(shape: &Shape, value: &Value, at: &str) -> Vec<String> {
    let Some(object) = value.as_object() else {
        return vec![format!("{at}: a {} must be an object: {value}", shape.name)];
    };
    let mut out: Vec<String> = shape
        .required
        .iter()
        .filter(|r| !object.contains_key(**r))
        .map(|r| format!("{at}: {} lacks required {r}", shape.name))
        .collect();
    for (name, v) in object {
        let at = format!("{at}.{name}");
        let Some((_, member)) = shape.members.iter().find(|(n, _)| n == name) else {
            out.push(format!("{at}: not a member of {}", shape.name));
            continue;
        };
        let ok = match member {
            Member::Str => v.is_string(),
            Member::Enum(values) => v.as_str().is_some_and(|s| values.contains(&s)),
            Member::Int => v.is_i64() || v.is_u64(),
            Member::Bool => v.is_boolean(),
            Member::IntMap => v
                .as_object()
                .is_some_and(|m| m.values().all(|x| x.is_u64() || x.is_i64())),
            Member::StrMap => v.is_object(),
            Member::StrList => v.as_array().is_some_and(|l| l.iter().all(Value::is_string)),
            Member::Struct(inner) => {
                out.extend(departures(inner, v, &at));
                true
            }
            Member::List(inner) => match v.as_array() {
                Some(items) => {
                    for (i, item) in items.iter().enumerate() {
                        out.extend(departures(inner, item, &format!("{at}[{i}]")));
                    }
                    true
                }
                None => false,
            },
        };
        if !ok {
            out.push(format!("{at}: {v} is not a {member:?}"));
        }
    }
    out
}

#[test]
fn the_model_check_finds_what_is_missing_or_foreign() {
    let mut v = json!({
        "ApplicationId": "a", "Arn": "arn", "CreationDate": "d", "Id": "i",
        "SegmentType": "IMPORT", "Version": 1,
        "ImportDefinition": {"Format": "CSV", "RoleArn": "r", "S3Url": "s", "Size": 1},
    });
    let found = departures(&SEGMENT_RESPONSE, &v, "GetSegment");
    assert_eq!(
        found,
        ["GetSegment.ImportDefinition: SegmentImportResource lacks required ExternalId"]
    );
    v["ImportDefinition"]["ExternalId"] = json!("");
    assert!(departures(&SEGMENT_RESPONSE, &v, "GetSegment").is_empty());
    v["Extra"] = json!(1);
    v["Version"] = json!("1");
    assert_eq!(departures(&SEGMENT_RESPONSE, &v, "x").len(), 2);
}

#[tokio::test]
async fn every_segment_and_job_answer_carries_what_botocore_requires() {
    let emu = start_polled(DEFAULT_PAGE_SIZE).await;
    let signer = Signer::default_creds();
    let check = |shape: &Shape, answer: &Answer, what: &str| {
        assert!(answer.status < 300, "{what}: {}", answer.text());
        let found = departures(shape, &answer.json(), what);
        assert!(found.is_empty(), "{found:#?}");
    };
    // Segments of every kind: dimensional, imported without and with an ExternalId,
    // and one at version 2.
    let dimensional = emu.add_segment(SEED_APPLICATION_ID, "dimensional");
    let plain = new_segment(&emu, &signer, "plain.csv", "plain", &endpoints("EMAIL", 1)).await;
    emu.put_object(DEFAULT_BUCKET, "ext.csv", &endpoints("SMS", 2))
        .unwrap();
    let mut with_external = import_request("ext.csv", "external", "CSV");
    with_external["ExternalId"] = json!("123456789012");
    let created = create_job(&emu, &signer, SEED_APPLICATION_ID, &with_external).await;
    check(&IMPORT_JOB_RESPONSE, &created, "CreateImportJob");
    let job_id = created.json()["Id"].as_str().unwrap().to_owned();
    let external = created.json()["Definition"]["SegmentId"]
        .as_str()
        .unwrap()
        .to_owned();
    // A segment in the middle of its first import (Size 0, no ChannelCounts yet).
    let pending = get(&emu, &signer, &format!("/segments/{external}"), "").await;
    check(&SEGMENT_RESPONSE, &pending, "GetSegment (importing)");
    for polled in poll_until_terminal(&emu, &signer, &job_id).await {
        let found = departures(&IMPORT_JOB_RESPONSE, &polled, "GetImportJob");
        assert!(found.is_empty(), "{found:#?}");
    }
    let done = run_job(&emu, &signer, &import_into("ext.csv", &plain)).await;
    assert_eq!(done["JobStatus"], "COMPLETED");
    let got = get(&emu, &signer, &format!("/segments/{external}"), "").await;
    assert_eq!(got.json()["ImportDefinition"]["ExternalId"], "123456789012");
    let got = get(&emu, &signer, &format!("/segments/{plain}"), "").await;
    assert_eq!(got.json()["ImportDefinition"]["ExternalId"], "");

    for id in [&dimensional, &plain, &external] {
        let one = get(&emu, &signer, &format!("/segments/{id}"), "").await;
        check(&SEGMENT_RESPONSE, &one, "GetSegment");
        let versions = get(&emu, &signer, &format!("/segments/{id}/versions"), "").await;
        check(&SEGMENTS_RESPONSE, &versions, "GetSegmentVersions");
        for n in 1..=version_of(&one.json()) {
            let v = get(&emu, &signer, &format!("/segments/{id}/versions/{n}"), "").await;
            check(&SEGMENT_RESPONSE, &v, "GetSegmentVersion");
        }
        let jobs = get(&emu, &signer, &format!("/segments/{id}/jobs/import"), "").await;
        check(&IMPORT_JOBS_RESPONSE, &jobs, "GetSegmentImportJobs");
    }
    let list = get(&emu, &signer, "/segments", "").await;
    check(&SEGMENTS_RESPONSE, &list, "GetSegments");
    assert_eq!(list.json()["Item"].as_array().unwrap().len(), 3);
    let jobs = get(&emu, &signer, "/jobs/import", "").await;
    check(&IMPORT_JOBS_RESPONSE, &jobs, "GetImportJobs");
    for id in [&dimensional, &plain] {
        let deleted = pinpoint(
            &emu,
            &signer,
            "DELETE",
            &app_path(&format!("/segments/{id}")),
            "",
            None,
        )
        .await
        .unwrap();
        check(&SEGMENT_RESPONSE, &deleted, "DeleteSegment");
    }
    emu.shutdown().await;
}
