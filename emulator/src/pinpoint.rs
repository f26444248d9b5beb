//! The emulated Pinpoint REST API: routing, operations and the wire shapes of answers
//! (unwrapped JSON bodies; errors as `x-amzn-ErrorType` + `x-amzn-RequestId` headers and
//! a `{"Message", "RequestID"}` body).

use bytes::Bytes;
use http::{HeaderValue, Method, Response, StatusCode};
use s3s::Body;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::Shared;
use super::faults::Operation;
use super::jobs::{self, parse_s3_url};
use super::sigv4_verify::{form_decode, percent_decode};
use super::state::{
    ImportDefinition, ImportJob, JobDefinition, JobStatus, Segment, SegmentDefinition,
    SegmentEffect,
};
use super::util::{hex_id, lock, now_iso8601, request_id};

/// Largest request body accepted (Pinpoint's 7 MB API payload quota).
pub(crate) const MAX_BODY: usize = 7 * 1024 * 1024;

/// A recognised resource path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Resource {
    /// `/v1/apps/{app}`
    App(String),
    /// `/v1/apps/{app}/segments`
    Segments(String),
    /// `/v1/apps/{app}/segments/{segment}`
    Segment(String, String),
    /// `/v1/apps/{app}/segments/{segment}/versions`
    SegmentVersions(String, String),
    /// `/v1/apps/{app}/segments/{segment}/versions/{version}`
    SegmentVersion(String, String, String),
    /// `/v1/apps/{app}/segments/{segment}/jobs/import`
    SegmentJobs(String, String),
    /// `/v1/apps/{app}/jobs/import`
    Jobs(String),
    /// `/v1/apps/{app}/jobs/import/{job}`
    Job(String, String),
}

/// What a request maps to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    /// An implemented operation on a resource.
    Op(Resource),
    /// A known resource, but not with this method.
    MethodNotAllowed,
    /// No such resource.
    Unknown,
}

/// Maps method and raw path to the operation and target.
pub(crate) fn route(method: &Method, path: &str) -> (Operation, Target) {
    let segs: Vec<String> = path
        .trim_start_matches('/')
        .split('/')
        .map(|s| String::from_utf8_lossy(&percent_decode(s)).into_owned())
        .collect();
    let s: Vec<&str> = segs.iter().map(String::as_str).collect();
    let nonempty = |x: &str| !x.is_empty();
    let resource = match s.as_slice() {
        ["v1", "apps", a] if nonempty(a) => Resource::App(a.to_string()),
        ["v1", "apps", a, "segments"] if nonempty(a) => Resource::Segments(a.to_string()),
        ["v1", "apps", a, "segments", g] if nonempty(a) && nonempty(g) => {
            Resource::Segment(a.to_string(), g.to_string())
        }
        ["v1", "apps", a, "segments", g, "versions"] if nonempty(a) && nonempty(g) => {
            Resource::SegmentVersions(a.to_string(), g.to_string())
        }
        ["v1", "apps", a, "segments", g, "versions", v]
            if nonempty(a) && nonempty(g) && nonempty(v) =>
        {
            Resource::SegmentVersion(a.to_string(), g.to_string(), v.to_string())
        }
        ["v1", "apps", a, "segments", g, "jobs", "import"] if nonempty(a) && nonempty(g) => {
            Resource::SegmentJobs(a.to_string(), g.to_string())
        }
        ["v1", "apps", a, "jobs", "import"] if nonempty(a) => Resource::Jobs(a.to_string()),
        ["v1", "apps", a, "jobs", "import", j] if nonempty(a) && nonempty(j) => {
            Resource::Job(a.to_string(), j.to_string())
        }
        _ => return (Operation::UnknownPinpoint, Target::Unknown),
    };
    let op = match (&resource, method) {
        (Resource::App(_), &Method::GET) => Operation::GetApp,
        (Resource::Segments(_), &Method::GET) => Operation::GetSegments,
        (Resource::Segment(..), &Method::GET) => Operation::GetSegment,
        (Resource::Segment(..), &Method::DELETE) => Operation::DeleteSegment,
        (Resource::SegmentVersions(..), &Method::GET) => Operation::GetSegmentVersions,
        (Resource::SegmentVersion(..), &Method::GET) => Operation::GetSegmentVersion,
        (Resource::SegmentJobs(..), &Method::GET) => Operation::GetSegmentImportJobs,
        (Resource::Jobs(_), &Method::GET) => Operation::GetImportJobs,
        (Resource::Jobs(_), &Method::POST) => Operation::CreateImportJob,
        (Resource::Job(..), &Method::GET) => Operation::GetImportJob,
        _ => return (Operation::UnknownPinpoint, Target::MethodNotAllowed),
    };
    (op, Target::Op(resource))
}

/// A Pinpoint error answer.
pub(crate) fn error(status: u16, error_type: &str, message: &str) -> Response<Body> {
    let rid = request_id();
    let body = json!({ "Message": message, "RequestID": rid });
    let mut resp = json_response(status, &body);
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(error_type) {
        h.insert("x-amzn-errortype", v);
    }
    if let Ok(v) = HeaderValue::from_str(&rid) {
        h.insert("x-amzn-requestid", v);
    }
    resp
}

/// A JSON answer with a fresh `x-amzn-RequestId`.
pub(crate) fn json_response(status: u16, body: &Value) -> Response<Body> {
    let mut resp = Response::new(Body::from(Bytes::from(body.to_string())));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let h = resp.headers_mut();
    h.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Ok(v) = HeaderValue::from_str(&request_id()) {
        h.insert("x-amzn-requestid", v);
    }
    resp
}

fn bad_request(message: &str) -> Response<Body> {
    error(400, "BadRequestException", message)
}

fn app_not_found() -> Response<Body> {
    error(404, "NotFoundException", "Application not found")
}

fn segment_not_found() -> Response<Body> {
    error(404, "NotFoundException", "Segment not found")
}

/// Query parameters, decoded.
fn query_param(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (form_decode(k) == name.as_bytes())
            .then(|| String::from_utf8_lossy(&form_decode(v)).into_owned())
    })
}

/// Opaque paging tokens. They deliberately contain `+`, `/` and `=`, so a client that
/// does not percent-encode its `token` query value gets a 400.
fn token_check(app: &str, kind: &str, offset: usize) -> String {
    let digest = Sha256::digest(format!("{app}|{kind}|{offset}").as_bytes());
    hex::encode(&digest[..6])
}

fn make_token(app: &str, kind: &str, offset: usize) -> String {
    format!("{offset}+{kind}/{}=", token_check(app, kind, offset))
}

fn parse_token(token: &str, app: &str, kind: &str, len: usize) -> Option<usize> {
    let (offset, rest) = token.split_once('+')?;
    let rest = rest.strip_suffix('=')?;
    let (k, check) = rest.split_once('/')?;
    let offset: usize = offset.parse().ok()?;
    (k == kind && check == token_check(app, kind, offset) && offset <= len).then_some(offset)
}

/// Cuts one page out of `items` per the `page-size` and `token` parameters.
fn page(
    items: Vec<Value>,
    query: &str,
    default_size: usize,
    app: &str,
    kind: &str,
) -> Result<Value, String> {
    let size = match query_param(query, "page-size") {
        None => default_size.max(1),
        Some(s) => match s.parse::<usize>() {
            Ok(n) if n > 0 => n,
            _ => return Err(format!("Invalid page-size: {s}")),
        },
    };
    let start = match query_param(query, "token") {
        None => 0,
        Some(t) if t.is_empty() => 0,
        Some(t) => parse_token(&t, app, kind, items.len())
            .ok_or("Invalid token: the NextToken is not valid")?,
    };
    let end = (start + size).min(items.len());
    let mut out = Map::new();
    out.insert("Item".into(), Value::Array(items[start..end].to_vec()));
    if end < items.len() {
        out.insert("NextToken".into(), json!(make_token(app, kind, end)));
    }
    Ok(Value::Object(out))
}

/// Handles an authenticated request for an implemented operation.
pub(crate) fn handle(
    shared: &Shared,
    resource: &Resource,
    method: &Method,
    query: &str,
    body: &[u8],
    fail_job: Option<Vec<String>>,
) -> Response<Body> {
    let region = shared.region.as_str();
    let mut guard = lock(&shared.pinpoint);
    let state = &mut *guard;
    match (resource, method) {
        (Resource::App(app), _) => match state.apps.get(app) {
            Some(a) => json_response(200, &a.to_json(region)),
            None => app_not_found(),
        },
        (Resource::Segments(app), _) => {
            let Some(a) = state.apps.get(app) else {
                return app_not_found();
            };
            let items = a.segments.iter().map(|s| s.to_json(region, app)).collect();
            match page(items, query, shared.page_size, app, "segments") {
                Ok(v) => json_response(200, &v),
                Err(e) => bad_request(&e),
            }
        }
        (Resource::Segment(app, seg), m) => {
            let Some(a) = state.apps.get_mut(app) else {
                return app_not_found();
            };
            let Some(i) = a.segments.iter().position(|s| &s.id == seg) else {
                return segment_not_found();
            };
            if *m == Method::DELETE {
                let removed = a.segments.remove(i);
                json_response(200, &removed.to_json(region, app))
            } else {
                json_response(200, &a.segments[i].to_json(region, app))
            }
        }
        (Resource::SegmentVersions(app, seg), _) => {
            let Some(a) = state.apps.get(app) else {
                return app_not_found();
            };
            let Some(segment) = a.segments.iter().find(|s| &s.id == seg) else {
                return segment_not_found();
            };
            // UNCONFIRMED: the order of Pinpoint's answer; the emulator lists the
            // versions oldest first, as GetSegments lists segments.
            let items = segment
                .versions()
                .map(|v| segment.version_json(v, region, app))
                .collect();
            let kind = format!("segment-versions-{seg}");
            match page(items, query, shared.page_size, app, &kind) {
                Ok(v) => json_response(200, &v),
                Err(e) => bad_request(&e),
            }
        }
        (Resource::SegmentVersion(app, seg, version), _) => {
            let Some(a) = state.apps.get(app) else {
                return app_not_found();
            };
            let Some(segment) = a.segments.iter().find(|s| &s.id == seg) else {
                return segment_not_found();
            };
            // UNCONFIRMED: Pinpoint's answer to a version that is not a number; the
            // emulator refuses it as a bad request, and a number it lacks as not found.
            let Ok(number) = version.parse::<u32>() else {
                return bad_request(&format!("Invalid segment version: {version}"));
            };
            match segment.version(number) {
                Some(v) => json_response(200, &segment.version_json(v, region, app)),
                None => error(404, "NotFoundException", "Segment version not found"),
            }
        }
        (Resource::SegmentJobs(app, seg), _) => {
            let Some(a) = state.apps.get(app) else {
                return app_not_found();
            };
            if !a.segments.iter().any(|s| &s.id == seg) {
                return segment_not_found();
            }
            let items = a
                .jobs
                .iter()
                .filter(|j| j.definition.segment_id.as_deref() == Some(seg))
                .map(|j| j.to_json(app))
                .collect();
            match page(
                items,
                query,
                shared.page_size,
                app,
                &format!("segment-jobs-{seg}"),
            ) {
                Ok(v) => json_response(200, &v),
                Err(e) => bad_request(&e),
            }
        }
        (Resource::Jobs(app), &Method::POST) => {
            let Some(a) = state.apps.get_mut(app) else {
                return app_not_found();
            };
            let req = match parse_import_job_request(body) {
                Ok(r) => r,
                Err(msg) => return bad_request(&msg),
            };
            let mut definition = req;
            let effect = if let Some(seg_id) = &definition.segment_id {
                // An import into an existing segment, which gets a new version when
                // the job completes. UNCONFIRMED: how Pinpoint treats DefineSegment and
                // SegmentName sent with a SegmentId; the emulator tolerates them and
                // the SegmentId wins (no new segment, no rename; the Definition echoes
                // what was sent).
                let Some(seg) = a.segments.iter().find(|s| &s.id == seg_id) else {
                    return segment_not_found();
                };
                // UNCONFIRMED: Pinpoint's answer to an import into a dimensional
                // segment; the emulator refuses it as a bad request.
                if !seg.is_imported() {
                    return bad_request(
                        "Only imported segments can be updated by an import job: \
                         the segment is a DIMENSIONAL segment",
                    );
                }
                SegmentEffect::NewVersion
            } else if definition.define_segment {
                let seg = Segment::new(
                    definition.segment_name.clone(),
                    SegmentDefinition::Import(ImportDefinition {
                        format: definition.format.clone(),
                        s3_url: definition.s3_url.clone(),
                        role_arn: definition.role_arn.clone(),
                        external_id: definition.external_id.clone(),
                        size: 0,
                        channel_counts: Default::default(),
                    }),
                    state.segment_clock.next(),
                );
                definition.segment_id = Some(seg.id.clone());
                a.segments.push(seg);
                SegmentEffect::FillsCreated
            } else {
                SegmentEffect::None
            };
            let job = ImportJob {
                id: hex_id(32),
                creation_date: now_iso8601(),
                completion_date: None,
                definition,
                status: JobStatus::Created,
                total_pieces: None,
                completed_pieces: None,
                failed_pieces: None,
                total_processed: None,
                total_failures: None,
                failures: Vec::new(),
                channel_counts: Default::default(),
                effect,
                forced_failures: fail_job,
                last_step: tokio::time::Instant::now(),
            };
            let body = job.to_json(app);
            a.jobs.push(job);
            // The background runner may be idle: it has a job to run now.
            shared.jobs_changed.notify_one();
            json_response(201, &body)
        }
        (Resource::Jobs(app), _) => {
            let Some(a) = state.apps.get(app) else {
                return app_not_found();
            };
            let items = a.jobs.iter().map(|j| j.to_json(app)).collect();
            match page(items, query, shared.page_size, app, "jobs") {
                Ok(v) => json_response(200, &v),
                Err(e) => bad_request(&e),
            }
        }
        (Resource::Job(app, job), _) => {
            let Some(a) = state.apps.get_mut(app) else {
                return app_not_found();
            };
            let Some(i) = a.jobs.iter().position(|j| &j.id == job) else {
                return error(404, "NotFoundException", "Import job not found");
            };
            match fail_job {
                Some(failures) => jobs::force_fail(&mut a.jobs[i], failures),
                None => jobs::advance(a, i, &shared.store, &mut state.segment_clock),
            }
            json_response(200, &a.jobs[i].to_json(app))
        }
    }
}

fn is_role_arn(arn: &str) -> bool {
    let Some(rest) = arn.strip_prefix("arn:") else {
        return false;
    };
    let parts: Vec<&str> = rest.splitn(5, ':').collect();
    matches!(parts.as_slice(), [partition, "iam", "", account, resource]
        if partition.starts_with("aws")
            && account.len() == 12
            && account.bytes().all(|b| b.is_ascii_digit())
            && resource.strip_prefix("role/").is_some_and(|r| !r.is_empty()))
}

/// Parses and validates the (unwrapped) `ImportJobRequest` body.
pub(crate) fn parse_import_job_request(body: &[u8]) -> Result<JobDefinition, String> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| format!("Request body is not valid JSON: {e}"))?;
    let Value::Object(obj) = value else {
        return Err("Request body must be a JSON object (ImportJobRequest)".into());
    };
    if obj.contains_key("ImportJobRequest") {
        return Err(
            "Unrecognized field \"ImportJobRequest\": the body is the ImportJobRequest itself"
                .into(),
        );
    }
    let string = |name: &str| -> Result<Option<String>, String> {
        match obj.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(format!("{name} must be a string")),
        }
    };
    let boolean = |name: &str| -> Result<bool, String> {
        match obj.get(name) {
            None | Some(Value::Null) => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(_) => Err(format!("{name} must be a boolean")),
        }
    };
    let format = string("Format")?.ok_or("Format is required")?;
    if format != "CSV" && format != "JSON" {
        return Err(format!("Format must be CSV or JSON, not '{format}'"));
    }
    let s3_url = string("S3Url")?.ok_or("S3Url is required")?;
    if parse_s3_url(&s3_url).is_none() {
        return Err(format!(
            "S3Url must be of the form s3://bucket-name/key, not '{s3_url}'"
        ));
    }
    let role_arn = string("RoleArn")?.ok_or("RoleArn is required")?;
    if !is_role_arn(&role_arn) {
        return Err(format!(
            "RoleArn must be an IAM role ARN (arn:aws:iam::<account-id>:role/<name>), not '{role_arn}'"
        ));
    }
    let define_segment = boolean("DefineSegment")?;
    let segment_name = string("SegmentName")?;
    let segment_id = string("SegmentId")?;
    if define_segment && segment_id.is_none() && segment_name.as_deref().unwrap_or("").is_empty() {
        return Err("SegmentName is required when DefineSegment is true".into());
    }
    Ok(JobDefinition {
        define_segment,
        external_id: string("ExternalId")?,
        format,
        register_endpoints: boolean("RegisterEndpoints")?,
        role_arn,
        s3_url,
        segment_id,
        segment_name,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        let (op, t) = route(&Method::GET, "/v1/apps/abc");
        assert_eq!(
            (op, t),
            (Operation::GetApp, Target::Op(Resource::App("abc".into())))
        );
        assert_eq!(
            route(&Method::POST, "/v1/apps/abc/jobs/import").0,
            Operation::CreateImportJob
        );
        assert_eq!(
            route(&Method::GET, "/v1/apps/abc/jobs/import/j1").0,
            Operation::GetImportJob
        );
        assert_eq!(
            route(&Method::DELETE, "/v1/apps/a/segments/s").0,
            Operation::DeleteSegment
        );
        assert_eq!(
            route(&Method::GET, "/v1/apps/a/segments/s/versions"),
            (
                Operation::GetSegmentVersions,
                Target::Op(Resource::SegmentVersions("a".into(), "s".into()))
            )
        );
        assert_eq!(
            route(&Method::GET, "/v1/apps/a/segments/s/versions/2"),
            (
                Operation::GetSegmentVersion,
                Target::Op(Resource::SegmentVersion("a".into(), "s".into(), "2".into()))
            )
        );
        assert_eq!(
            route(&Method::POST, "/v1/apps/a/segments/s/versions").1,
            Target::MethodNotAllowed
        );
        assert_eq!(
            route(&Method::PUT, "/v1/apps/a").1,
            Target::MethodNotAllowed
        );
        assert_eq!(route(&Method::GET, "/v1/nope").1, Target::Unknown);
        assert_eq!(route(&Method::GET, "/v1/apps/").1, Target::Unknown);
        // An escaped slash stays inside the id.
        assert_eq!(
            route(&Method::GET, "/v1/apps/a%2Fb").1,
            Target::Op(Resource::App("a/b".into()))
        );
    }

    #[test]
    fn validates_import_job_requests() {
        let ok = br#"{"Format":"CSV","S3Url":"s3://b/k.csv","RoleArn":"arn:aws:iam::123456789012:role/R","DefineSegment":true,"SegmentName":"n","RegisterEndpoints":true}"#;
        let d = parse_import_job_request(ok).unwrap();
        assert!(d.define_segment && d.register_endpoints);
        for (body, needle) in [
            (&br#"{"ImportJobRequest":{}}"#[..], "ImportJobRequest"),
            (br#"{"Format":"XML","S3Url":"s3://b/k","RoleArn":"arn:aws:iam::123456789012:role/R"}"#, "Format"),
            (br#"{"Format":"CSV","S3Url":"http://b/k","RoleArn":"arn:aws:iam::123456789012:role/R"}"#, "S3Url"),
            (br#"{"Format":"CSV","S3Url":"s3://b/k","RoleArn":"arn:aws:iam::1234:role/R"}"#, "RoleArn"),
            (br#"{"Format":"CSV","S3Url":"s3://b/k","RoleArn":"arn:aws:iam::123456789012:user/R"}"#, "RoleArn"),
            (br#"{"Format":"CSV","S3Url":"s3://b/k","RoleArn":"arn:aws:iam::123456789012:role/R","DefineSegment":"yes"}"#, "DefineSegment"),
            (b"not json", "JSON"),
        ] {
            let err = parse_import_job_request(body).unwrap_err();
            assert!(err.contains(needle), "{err}");
        }
    }

    #[test]
    fn tokens_round_trip_and_reject_tampering() {
        let t = make_token("app", "segments", 10);
        assert!(t.contains('+') && t.contains('/') && t.contains('='));
        assert_eq!(parse_token(&t, "app", "segments", 20), Some(10));
        assert_eq!(parse_token(&t, "other", "segments", 20), None);
        assert_eq!(parse_token(&t, "app", "segments", 5), None);
        assert_eq!(
            parse_token(&t.replace('+', " "), "app", "segments", 20),
            None
        );
    }
}
