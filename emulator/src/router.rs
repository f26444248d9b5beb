//! Per-request dispatch: pick the service, apply queued faults, check session tokens,
//! hand the request to S3 (s3s) or Pinpoint, and record it.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use http::{Request, Response};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use s3s::Body;
use time::OffsetDateTime;

use super::faults::{Fault, Operation};
use super::pinpoint::{self, Target};
use super::s3;
use super::sigv4_verify::{self, AuthError, KeyMaterial, SignedRequest, form_decode};
use super::util::lock;
use super::{RecordedRequest, Shared};

/// What the connection should do with a request.
pub(crate) enum Outcome {
    /// Send this response.
    Respond(Response<Body>),
    /// Close the connection without answering.
    Reset,
}

/// Which emulated service a request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Service {
    S3,
    Pinpoint,
}

impl Service {
    fn name(self) -> &'static str {
        match self {
            Service::S3 => "s3",
            Service::Pinpoint => "pinpoint",
        }
    }
}

fn query_value(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == name).then(|| String::from_utf8_lossy(&form_decode(v)).into_owned())
    })
}

/// Handles one request end to end.
pub(crate) async fn handle(shared: &Arc<Shared>, req: Request<Incoming>) -> Outcome {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let query = req.uri().query().unwrap_or("").to_owned();
    let headers: Vec<(String, String)> = req
        .headers()
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let authorization = req
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let service = match sigv4_verify::scope_service(authorization, &query).as_deref() {
        Some("s3") => Service::S3,
        Some("mobiletargeting") => Service::Pinpoint,
        _ if path.starts_with("/v1/") => Service::Pinpoint,
        _ => Service::S3,
    };
    let (operation, target) = match service {
        Service::S3 => {
            let copy = req.headers().contains_key("x-amz-copy-source");
            (s3::classify(&method, &path, &query, copy), None)
        }
        Service::Pinpoint => {
            let (op, target) = pinpoint::route(&method, &path);
            (op, Some(target))
        }
    };
    let mut record = RecordedRequest {
        service: service.name().to_owned(),
        operation,
        method: method.to_string(),
        uri: req.uri().to_string(),
        headers,
        body: Vec::new(),
        status: None,
    };

    let fault = lock(&shared.faults).pop(operation);
    let mut fail_job = None;
    let mut reset_after = false;
    let mut hold_answer = None;
    match fault {
        None => {}
        Some(Fault::Delay(d)) => tokio::time::sleep(d).await,
        Some(Fault::DelayAnswer(d)) => hold_answer = Some(d),
        Some(Fault::Status {
            status,
            error_type,
            message,
        }) => {
            let resp = match service {
                Service::S3 => s3::error_response(status, &error_type, &message, &[]),
                Service::Pinpoint => pinpoint::error(status, &error_type, &message),
            };
            record.status = Some(status);
            shared.record(record);
            return Outcome::Respond(resp);
        }
        Some(Fault::FailJob { failures }) => fail_job = Some(failures),
        Some(Fault::ResetBeforeProcessing) => {
            shared.record(record);
            return Outcome::Reset;
        }
        Some(Fault::ResetAfterProcessing) => reset_after = true,
        Some(Fault::OversizedAnswer(bytes)) => {
            let mut resp = Response::new(Body::from(bytes::Bytes::from(vec![b' '; bytes])));
            resp.headers_mut().insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("application/json"),
            );
            record.status = Some(200);
            shared.record(record);
            return Outcome::Respond(resp);
        }
    }

    let resp = match (service, target) {
        (Service::Pinpoint, Some(target)) => {
            let (resp, body) = pinpoint_request(shared, req, target, fail_job).await;
            record.body = body;
            resp
        }
        _ => s3_request(shared, req, operation).await,
    };
    if let Some(d) = hold_answer {
        tokio::time::sleep(d).await;
    }
    if reset_after {
        shared.record(record);
        return Outcome::Reset;
    }
    record.status = Some(resp.status().as_u16());
    shared.record(record);
    Outcome::Respond(resp)
}

/// Session tokens (s3s does not check them), the scope region and, for writes
/// of objects, the bucket (s3s-fs would create it), then s3s.
async fn s3_request(
    shared: &Arc<Shared>,
    req: Request<Incoming>,
    operation: Operation,
) -> Response<Body> {
    let query = req.uri().query().unwrap_or("");
    let header_auth = req
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| sigv4_verify::parse_authorization(v).ok());
    // The time of a request signed in its headers (s3s checks it too, but answers with
    // its own wording; AWS names both times and the allowed skew).
    let header_date = header_auth.as_ref().and_then(|_| {
        req.headers()
            .get("x-amz-date")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    });
    // (access key, region, token sent, token signed)
    let signed = if let Some(a) = header_auth {
        let token = req
            .headers()
            .get("x-amz-security-token")
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        let token_signed = a.signed_headers.iter().any(|h| h == "x-amz-security-token");
        Some((a.access_key, a.region, token, token_signed))
    } else if let Some(cred) = query_value(query, "X-Amz-Credential") {
        let parts: Vec<&str> = cred.split('/').collect();
        let token = query_value(query, "X-Amz-Security-Token");
        (parts.len() == 5).then(|| {
            (
                parts[0].to_owned(),
                parts[2].to_owned(),
                token.clone(),
                token.is_some(),
            )
        })
    } else {
        None
    };
    if let Some((access_key, region, token, token_signed)) = signed {
        if region != shared.region {
            return s3::error_response(
                400,
                "AuthorizationHeaderMalformed",
                &format!(
                    "The authorization header is malformed; the region '{region}' is wrong; expecting '{}'",
                    shared.region
                ),
                &[("Region", shared.region.as_str())],
            );
        }
        if let Some(resp) = header_date
            .as_deref()
            .and_then(|d| s3::skew_error(d, OffsetDateTime::now_utc()))
        {
            return resp;
        }
        if let Some(c) = shared
            .credentials
            .iter()
            .find(|c| c.access_key_id() == access_key)
        {
            match (c.session_token(), token.as_deref()) {
                (None, None) => {}
                (Some(expected), Some(sent)) if expected == sent => {
                    if !token_signed {
                        return s3::error_response(
                            403,
                            "InvalidToken",
                            "The x-amz-security-token header must be signed.",
                            &[],
                        );
                    }
                }
                (Some(_), None) => {
                    return s3::error_response(
                        403,
                        "InvalidToken",
                        "The request was signed with temporary credentials but carries no x-amz-security-token.",
                        &[],
                    );
                }
                _ => {
                    return s3::error_response(
                        403,
                        "InvalidToken",
                        "The provided token is malformed or otherwise invalid.",
                        &[],
                    );
                }
            }
        }
    }
    if matches!(
        operation,
        Operation::PutObject
            | Operation::CopyObject
            | Operation::CreateMultipartUpload
            | Operation::UploadPart
            | Operation::CompleteMultipartUpload
    ) {
        let bucket = req
            .uri()
            .path()
            .trim_start_matches('/')
            .split('/')
            .next()
            .unwrap_or("");
        if !shared.store.bucket_exists(bucket) {
            return s3::error_response(
                404,
                "NoSuchBucket",
                "The specified bucket does not exist",
                &[("BucketName", bucket)],
            );
        }
    }
    let resp = {
        let _in_flight = shared.s3_gate.read().await;
        match shared.s3.call(req.map(Body::from)).await {
            Ok(resp) => resp,
            Err(e) => s3::error_response(500, "InternalError", &format!("{e:?}"), &[]),
        }
    };
    if matches!(
        operation,
        Operation::DeleteObject | Operation::DeleteObjects | Operation::DeleteBucket
    ) {
        shared.sweep_due.store(true, Ordering::SeqCst);
    }
    sweep_if_idle(shared);
    resp
}

/// Sweeps what deleted objects left ([`s3::Store::sweep_deleted`]) if a sweep is due
/// and no S3 request is in flight; otherwise the last request in flight does it when
/// it ends. (Never waiting for the gate: a slow upload delays no one.)
fn sweep_if_idle(shared: &Shared) {
    if !shared.sweep_due.load(Ordering::SeqCst) {
        return;
    }
    let Ok(_idle) = shared.s3_gate.try_write() else {
        return;
    };
    if shared.sweep_due.swap(false, Ordering::SeqCst) {
        // A failure (the directory is gone: the emulator is stopping) leaves
        // nothing to sweep.
        let _ = shared.store.sweep_deleted();
    }
}

/// Reads the body, verifies the signature, then runs the operation.
async fn pinpoint_request(
    shared: &Arc<Shared>,
    req: Request<Incoming>,
    target: Target,
    fail_job: Option<Vec<String>>,
) -> (Response<Body>, Vec<u8>) {
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, pinpoint::MAX_BODY).collect().await {
        Ok(b) => b.to_bytes().to_vec(),
        Err(e) => {
            let resp = if e.is::<http_body_util::LengthLimitError>() {
                pinpoint::error(413, "PayloadTooLargeException", "Request entity too large")
            } else {
                pinpoint::error(
                    400,
                    "BadRequestException",
                    "Could not read the request body",
                )
            };
            return (resp, Vec::new());
        }
    };
    let headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let signed = SignedRequest {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query().unwrap_or(""),
        headers: &headers,
        body: &body,
    };
    let verified = sigv4_verify::verify(
        &signed,
        &shared.region,
        "mobiletargeting",
        OffsetDateTime::now_utc(),
        |ak| {
            shared
                .credentials
                .iter()
                .find(|c| c.access_key_id() == ak)
                .map(|c| KeyMaterial {
                    secret: c.secret_access_key(),
                    session_token: c.session_token(),
                })
        },
    );
    if let Err(e) = verified {
        let resp = match e {
            AuthError::Missing => pinpoint::error(
                403,
                "MissingAuthenticationTokenException",
                "Missing Authentication Token",
            ),
            AuthError::Incomplete(m) => pinpoint::error(400, "IncompleteSignatureException", &m),
            AuthError::UnknownAccessKey | AuthError::InvalidToken => pinpoint::error(
                403,
                "UnrecognizedClientException",
                "The security token included in the request is invalid.",
            ),
            AuthError::InvalidSignature(m) => pinpoint::error(403, "InvalidSignatureException", &m),
        };
        return (resp, body);
    }
    let resp = match target {
        Target::Unknown => pinpoint::error(
            404,
            "UnknownOperationException",
            &format!("No operation matches {} {}", parts.method, parts.uri.path()),
        ),
        Target::MethodNotAllowed => pinpoint::error(
            405,
            "MethodNotAllowedException",
            &format!(
                "Method {} is not allowed on {}",
                parts.method,
                parts.uri.path()
            ),
        ),
        Target::Op(resource) => pinpoint::handle(
            shared,
            &resource,
            &parts.method,
            parts.uri.query().unwrap_or(""),
            &body,
            fail_job,
        ),
    };
    (resp, body)
}
