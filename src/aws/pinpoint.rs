//! Pinpoint's REST operations that the import uses: requests and answers.
//!
//! Bodies are not wrapped on the wire: the request is the `ImportJobRequest`
//! object itself and each answer is the inner object (`ApplicationResponse`,
//! `SegmentsResponse`, `ImportJobResponse`...), as Pinpoint's REST API
//! reference shows them.
//!
//! Every request is built on `base` (the Pinpoint endpoint: scheme and
//! authority); every other part of its URL is percent-encoded, so a URL that
//! does not parse is the endpoint's fault: `InvalidSettings` naming
//! `pinpoint-endpoint`.

use serde::{Deserialize, Serialize};

use super::Request;
use super::job_status::JobStatus;
use super::urls::encode_segment;
use crate::error::{ErrorKind, NodeError, quote};
use crate::input::Format;

fn get(url: String) -> Result<Request, NodeError> {
    let uri: http::Uri = url.parse().map_err(|e| {
        NodeError::new(
            ErrorKind::InvalidSettings,
            format!(
                "the Pinpoint request URL \"{}\" is not valid ({e}); check `pinpoint-endpoint`",
                quote(&url)
            ),
        )
        .with_setting("pinpoint-endpoint")
    })?;
    let mut r = http::Request::new(Vec::new());
    *r.method_mut() = http::Method::GET;
    *r.uri_mut() = uri;
    r.headers_mut().insert(
        http::header::ACCEPT,
        http::HeaderValue::from_static("application/json"),
    );
    Ok(r)
}

fn app_url(base: &str, application_id: &str) -> String {
    format!("{base}/v1/apps/{}", encode_segment(application_id))
}

fn paged(url: String, page_size: u32, token: Option<&str>) -> String {
    let mut url = format!("{url}?page-size={page_size}");
    if let Some(t) = token {
        url.push_str("&token=");
        url.push_str(&encode_segment(t));
    }
    url
}

/// `GetApp`: `GET /v1/apps/{application-id}`.
pub fn get_app(base: &str, application_id: &str) -> Result<Request, NodeError> {
    get(app_url(base, application_id))
}

/// `GetSegments`: one page of `GET /v1/apps/{application-id}/segments`.
pub fn get_segments(
    base: &str,
    application_id: &str,
    page_size: u32,
    token: Option<&str>,
) -> Result<Request, NodeError> {
    get(paged(
        format!("{}/segments", app_url(base, application_id)),
        page_size,
        token,
    ))
}

/// `GetImportJobs`: one page of `GET /v1/apps/{application-id}/jobs/import`.
pub fn get_import_jobs(
    base: &str,
    application_id: &str,
    page_size: u32,
    token: Option<&str>,
) -> Result<Request, NodeError> {
    get(paged(
        format!("{}/jobs/import", app_url(base, application_id)),
        page_size,
        token,
    ))
}

/// `GetImportJob`: `GET /v1/apps/{application-id}/jobs/import/{job-id}`.
pub fn get_import_job(
    base: &str,
    application_id: &str,
    job_id: &str,
) -> Result<Request, NodeError> {
    get(format!(
        "{}/jobs/import/{}",
        app_url(base, application_id),
        encode_segment(job_id)
    ))
}

/// `DeleteSegment`: `DELETE /v1/apps/{application-id}/segments/{segment-id}`.
pub fn delete_segment(
    base: &str,
    application_id: &str,
    segment_id: &str,
) -> Result<Request, NodeError> {
    let mut r = get(format!(
        "{}/segments/{}",
        app_url(base, application_id),
        encode_segment(segment_id)
    ))?;
    *r.method_mut() = http::Method::DELETE;
    Ok(r)
}

/// `GetSegmentVersions`: one page of
/// `GET /v1/apps/{application-id}/segments/{segment-id}/versions`
/// (a `SegmentsResponse`, one item per version).
pub fn get_segment_versions(
    base: &str,
    application_id: &str,
    segment_id: &str,
    page_size: u32,
    token: Option<&str>,
) -> Result<Request, NodeError> {
    get(paged(
        format!(
            "{}/segments/{}/versions",
            app_url(base, application_id),
            encode_segment(segment_id)
        ),
        page_size,
        token,
    ))
}

/// The body of `CreateImportJob` (an `ImportJobRequest`, unwrapped).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImportJobRequest {
    /// Create a segment from the imported endpoints.
    pub define_segment: bool,
    /// `CSV` or `JSON` (newline-delimited).
    pub format: &'static str,
    /// Register the endpoints in the project.
    pub register_endpoints: bool,
    /// The role Pinpoint assumes to read the file.
    pub role_arn: String,
    /// `s3://bucket/key` of the staged file.
    pub s3_url: String,
    /// Name of the new segment (or of the one `segment_id` names).
    pub segment_name: String,
    /// The existing segment the job imports into as a new version; absent
    /// for a new segment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub segment_id: Option<String>,
}

impl ImportJobRequest {
    /// A request that creates a new segment named `segment_name` from the file.
    pub fn new_segment(
        format: Format,
        s3_url: String,
        role_arn: String,
        segment_name: String,
    ) -> Self {
        ImportJobRequest {
            define_segment: true,
            format: format.as_str(),
            register_endpoints: true,
            role_arn,
            s3_url,
            segment_name,
            segment_id: None,
        }
    }

    /// A request that imports the file into the existing segment
    /// `segment_id` (named `segment_name`) as a new version of it.
    ///
    /// UNCONFIRMED: Pinpoint's documentation does not say which fields go
    /// with `SegmentId`. The request is the new-segment one plus `SegmentId`:
    /// `DefineSegment` true (the endpoints make the segment's content),
    /// `SegmentName` the segment's own name (never a rename), and
    /// `RegisterEndpoints` true as in every AWS example. The flow does not
    /// rely on the answer naming the segment (see `import::job`).
    pub fn new_version(
        format: Format,
        s3_url: String,
        role_arn: String,
        segment_name: String,
        segment_id: String,
    ) -> Self {
        ImportJobRequest {
            segment_id: Some(segment_id),
            ..Self::new_segment(format, s3_url, role_arn, segment_name)
        }
    }
}

/// `CreateImportJob`: `POST /v1/apps/{application-id}/jobs/import`, answered 201.
pub fn create_import_job(
    base: &str,
    application_id: &str,
    body: &ImportJobRequest,
) -> Result<Request, NodeError> {
    let mut r = get(format!("{}/jobs/import", app_url(base, application_id)))?;
    *r.method_mut() = http::Method::POST;
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    *r.body_mut() = serde_json::to_vec(body).unwrap_or_default();
    Ok(r)
}

/// The fields of `ImportJobResource` (a job's `Definition`) the node reads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ImportJobDefinition {
    /// `s3://...` the job imports.
    pub s3_url: Option<String>,
    /// The segment the job creates or updates.
    pub segment_id: Option<String>,
    /// The segment's name.
    pub segment_name: Option<String>,
    /// `CSV` or `JSON`.
    pub format: Option<String>,
}

/// `ImportJobResponse`, the body of `CreateImportJob` and `GetImportJob`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ImportJob {
    /// Job id.
    pub id: String,
    /// `CREATED` ... `COMPLETED` or `FAILED`, read into the enum here (an
    /// undocumented name is [`JobStatus::Unknown`]; a missing one, empty).
    pub job_status: JobStatus,
    /// What the job imports.
    pub definition: ImportJobDefinition,
    /// Pieces the job was split into.
    pub total_pieces: Option<u64>,
    /// Pieces done.
    pub completed_pieces: Option<u64>,
    /// Pieces that failed.
    pub failed_pieces: Option<u64>,
    /// Endpoints processed.
    pub total_processed: Option<u64>,
    /// Endpoints that failed.
    pub total_failures: Option<u64>,
    /// The first 100 failures, in Pinpoint's words.
    pub failures: Vec<String>,
    /// When the job was created.
    pub creation_date: Option<String>,
}

impl ImportJob {
    /// Whether the job has finished, one way or the other.
    pub fn is_terminal(&self) -> bool {
        self.job_status.is_terminal()
    }
}

/// `ImportJobsResponse`: one page of import jobs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ImportJobs {
    /// The jobs of this page.
    pub item: Vec<ImportJob>,
    /// The next page's token, if any.
    pub next_token: Option<String>,
}

/// The `ImportDefinition` of an imported segment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct SegmentImportDefinition {
    /// `s3://...` the segment was imported from.
    pub s3_url: Option<String>,
    /// Endpoints imported.
    pub size: Option<u64>,
}

/// The fields of `SegmentResponse` the node reads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Segment {
    /// Segment id.
    pub id: String,
    /// Segment name (optional in the model).
    pub name: Option<String>,
    /// `DIMENSIONAL` or `IMPORT`.
    pub segment_type: Option<String>,
    /// Where an imported segment came from.
    pub import_definition: Option<SegmentImportDefinition>,
    /// When the segment was created (ISO 8601).
    pub creation_date: Option<String>,
    /// The segment's version: 1 when made, one more for each import into it.
    pub version: Option<u64>,
}

impl Segment {
    /// Whether the segment is an imported one (`SegmentType` `IMPORT`, or,
    /// without a type, an `ImportDefinition`): only those take an import
    /// as a new version. A dimensional segment is defined by its
    /// dimensions, not by a list.
    pub fn is_imported(&self) -> bool {
        match self.segment_type.as_deref() {
            Some(t) => t == "IMPORT",
            None => self.import_definition.is_some(),
        }
    }
}

/// One page of a paged Pinpoint listing.
pub trait Page: serde::de::DeserializeOwned {
    /// What the listing lists.
    type Item;
    /// The items of this page and the next page's token, if any.
    fn into_parts(self) -> (Vec<Self::Item>, Option<String>);
}

impl Page for ImportJobs {
    type Item = ImportJob;
    fn into_parts(self) -> (Vec<ImportJob>, Option<String>) {
        (self.item, self.next_token)
    }
}

impl Page for Segments {
    type Item = Segment;
    fn into_parts(self) -> (Vec<Segment>, Option<String>) {
        (self.item, self.next_token)
    }
}

/// `SegmentsResponse`: one page of segments (`Item` is singular on the wire).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Segments {
    /// The segments of this page.
    pub item: Vec<Segment>,
    /// The next page's token, if any.
    pub next_token: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_import_job_body_is_unwrapped() {
        let body = ImportJobRequest::new_segment(
            Format::Json,
            "s3://b/k.json".into(),
            "arn:aws:iam::1:role/r".into(),
            "Seg".into(),
        );
        let r =
            create_import_job("https://pinpoint.us-east-1.amazonaws.com", "app1", &body).unwrap();
        assert_eq!(r.method(), http::Method::POST);
        assert_eq!(
            r.uri(),
            "https://pinpoint.us-east-1.amazonaws.com/v1/apps/app1/jobs/import"
        );
        let v: serde_json::Value = serde_json::from_slice(r.body()).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"DefineSegment":true,"Format":"JSON","RegisterEndpoints":true,
                "RoleArn":"arn:aws:iam::1:role/r","S3Url":"s3://b/k.json","SegmentName":"Seg"})
        );
    }

    #[test]
    fn a_new_version_names_the_segment_and_a_new_segment_does_not() {
        let body = ImportJobRequest::new_version(
            Format::Csv,
            "s3://b/k.csv".into(),
            "arn:aws:iam::1:role/r".into(),
            "Seg".into(),
            "seg1".into(),
        );
        let v = serde_json::to_value(&body).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"DefineSegment":true,"Format":"CSV","RegisterEndpoints":true,
                "RoleArn":"arn:aws:iam::1:role/r","S3Url":"s3://b/k.csv","SegmentName":"Seg",
                "SegmentId":"seg1"})
        );
        let r = get_segment_versions("https://h", "app", "s/1", 100, Some("t")).unwrap();
        assert_eq!(
            r.uri(),
            "https://h/v1/apps/app/segments/s%2F1/versions?page-size=100&token=t"
        );
    }

    #[test]
    fn only_imported_segments_take_a_new_version() {
        let read = |v: serde_json::Value| serde_json::from_value::<Segment>(v).unwrap();
        assert!(
            read(serde_json::json!({"Id": "a", "SegmentType": "IMPORT", "Version": 3}))
                .is_imported()
        );
        assert!(!read(serde_json::json!({"Id": "a", "SegmentType": "DIMENSIONAL"})).is_imported());
        assert!(
            read(serde_json::json!({"Id": "a", "ImportDefinition": {"S3Url": "s3://b/k"}}))
                .is_imported()
        );
        assert!(!read(serde_json::json!({"Id": "a"})).is_imported());
        assert_eq!(
            read(serde_json::json!({"Id": "a", "Version": 3})).version,
            Some(3)
        );
    }

    #[test]
    fn paging_tokens_are_encoded() {
        let r = get_segments("https://h", "app", 50, Some("a+b/c=")).unwrap();
        assert_eq!(
            r.uri(),
            "https://h/v1/apps/app/segments?page-size=50&token=a%2Bb%2Fc%3D"
        );
    }

    #[test]
    fn a_url_that_does_not_parse_is_the_endpoint_setting() {
        for base in ["http://bad host", "http://[::1", "no scheme"] {
            let err = get_app(base, "app").unwrap_err();
            assert_eq!(err.kind, ErrorKind::InvalidSettings, "{base}");
            assert_eq!(err.details.setting.as_deref(), Some("pinpoint-endpoint"));
        }
        // Everything after the endpoint is encoded and cannot break the URL.
        let r = get_import_job("https://h", "a b/c", "j?#% ").unwrap();
        assert_eq!(
            r.uri().path(),
            "/v1/apps/a%20b%2Fc/jobs/import/j%3F%23%25%20"
        );
    }

    #[test]
    fn reads_the_aws_example_job() {
        // The raw answer of the Developer Guide's CreateImportJob example.
        let body = r#"{"ApplicationId":"d5ecad8e417d498389e1d5b9454d4e0c","CreationDate":"2018-06-05T22:04:49.213Z",
            "Definition":{"DefineSegment":true,"ExternalId":"463709046829","Format":"CSV","RegisterEndpoints":true,
            "RoleArn":"arn:aws:iam::123456789012:role/PinpointSegmentImport","S3Url":"s3://b/Files/import.csv",
            "SegmentId":"52ac4d6dc6ac4b958aed12e2b0d4bd07","SegmentName":"ImportedSegment"},
            "Id":"a995ce5d70fa44adb563b7d0e3f6c6f5","JobStatus":"CREATED","Type":"IMPORT"}"#;
        let job: ImportJob = serde_json::from_str(body).unwrap();
        assert_eq!(
            job.definition.segment_id.as_deref(),
            Some("52ac4d6dc6ac4b958aed12e2b0d4bd07")
        );
        assert!(!job.is_terminal());
    }
}
