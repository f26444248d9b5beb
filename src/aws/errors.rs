//! Reading AWS error answers into the node's typed errors.
//!
//! Pinpoint (rest-json): the type comes from the `x-amzn-ErrorType` header,
//! else the body's `code`/`Code`/`__type`, cleaned as botocore does (cut at
//! `:`, keep what follows `#`); the message from `Message`/`message`; the
//! request id from `x-amzn-RequestId` or the body's `RequestID`.
//! S3: an XML `<Error>` with `Code`, `Message`, `RequestId` (and `Region` for
//! `AuthorizationHeaderMalformed`).

use crate::error::{ErrorKind, NodeError, ServiceContext};

/// What an AWS error answer says, whatever the service.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AwsError {
    /// HTTP status.
    pub status: u16,
    /// Error type or code, cleaned.
    pub error_type: Option<String>,
    /// The message.
    pub message: Option<String>,
    /// The request id.
    pub request_id: Option<String>,
    /// For S3 region errors: the region the bucket is in.
    pub expected_region: Option<String>,
}

impl AwsError {
    /// The service context for a [`NodeError`].
    pub fn context(&self, operation: &str) -> ServiceContext {
        ServiceContext {
            operation: operation.to_owned(),
            http_status: Some(self.status),
            aws_error_type: self.error_type.clone(),
            aws_message: self.message.clone(),
            request_id: self.request_id.clone(),
        }
    }

    /// `"NotFoundException: Application not found"`, or the status alone.
    pub fn summary(&self) -> String {
        match (&self.error_type, &self.message) {
            (Some(t), Some(m)) => format!("{t}: {m}"),
            (Some(t), None) => t.clone(),
            (None, Some(m)) => format!("HTTP {}: {m}", self.status),
            (None, None) => format!("HTTP {}", self.status),
        }
    }
}

fn header(response: &http::Response<Vec<u8>>, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

/// Cleans an AWS error type: `aws.protocoltests#FooError:http://internal...` -> `FooError`.
pub fn clean_error_type(raw: &str) -> String {
    let before_colon = raw.split(':').next().unwrap_or(raw);
    before_colon
        .rsplit('#')
        .next()
        .unwrap_or(before_colon)
        .trim()
        .to_owned()
}

/// Reads a Pinpoint (rest-json) error answer.
pub fn parse_pinpoint_error(response: &http::Response<Vec<u8>>) -> AwsError {
    let body: serde_json::Value = serde_json::from_slice(response.body()).unwrap_or_default();
    let body_str = |keys: &[&str]| {
        keys.iter()
            .find_map(|k| body.get(*k).and_then(|v| v.as_str()).map(str::to_owned))
    };
    let error_type = header(response, "x-amzn-errortype")
        .or_else(|| body_str(&["code", "Code", "__type"]))
        .map(|t| bounded(&clean_error_type(&t)))
        .filter(|t| !t.is_empty());
    AwsError {
        status: response.status().as_u16(),
        error_type,
        message: body_str(&["Message", "message"]).map(|m| bounded(&m)),
        request_id: header(response, "x-amzn-requestid")
            .or_else(|| body_str(&["RequestID", "RequestId"]))
            .map(|r| bounded(&r)),
        expected_region: None,
    }
}

/// Reads an S3 (XML) error answer.
pub fn parse_s3_error(response: &http::Response<Vec<u8>>) -> AwsError {
    let body = String::from_utf8_lossy(response.body());
    AwsError {
        status: response.status().as_u16(),
        error_type: xml_text(&body, "Code").map(|c| bounded(&c)),
        message: xml_text(&body, "Message").map(|m| bounded(&m)),
        request_id: header(response, "x-amz-request-id")
            .or_else(|| xml_text(&body, "RequestId"))
            .map(|r| bounded(&r)),
        expected_region: xml_text(&body, "Region")
            .or_else(|| header(response, "x-amz-bucket-region"))
            .map(|r| bounded(&r)),
    }
}

/// The text of the first `<tag>` element, unescaped. S3's error documents are
/// flat, so a full XML parser would add nothing here.
fn xml_text(xml: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&close)? + start;
    let text = xml[start..end]
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&");
    Some(text).filter(|t| !t.is_empty())
}

/// Keeps what a misbehaving server sends bounded (messages, types, ids).
fn bounded(s: &str) -> String {
    const MAX: usize = 2000;
    if s.len() <= MAX {
        return s.to_owned();
    }
    let mut end = MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}

/// What replaces a secret in text.
pub const REDACTED: &str = "<redacted>";

/// `text` with every secret in `secrets` replaced by [`REDACTED`], in every
/// encoding an AWS answer may quote it in: as is, percent-encoded (with `/`
/// kept or encoded), base64 (standard or URL-safe, padded or not, alone or
/// at any offset inside a longer base64 text), and in any letter case (so
/// also lower- or upper-cased, and with lower-case percent escapes).
pub fn redact(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_owned();
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        for needle in secret_spellings(secret) {
            out = replace_ignoring_case(&out, &needle, REDACTED);
        }
    }
    out
}

/// The spellings of `secret` to look for, longest first. Base64 spellings
/// keep only the characters that depend on the secret alone (at offsets 0, 1
/// and 2 of a longer text). Spellings shorter than 8 characters, other than
/// the secret itself, are left out: they would match ordinary text.
fn secret_spellings(secret: &str) -> Vec<String> {
    let mut spellings = vec![
        secret.to_owned(),
        super::urls::encode_segment(secret),
        super::urls::encode_key(secret),
    ];
    let bytes = secret.as_bytes();
    for offset in 0..3usize {
        let mut shifted = vec![0u8; offset];
        shifted.extend_from_slice(bytes);
        let encoded = aws_smithy_types::base64::encode(&shifted);
        // Characters that also depend on the bytes before or after.
        let skip = (offset * 8).div_ceil(6);
        let keep = (shifted.len() * 8) / 6;
        if let Some(core) = encoded.get(skip..keep) {
            spellings.push(core.to_owned());
            spellings.push(core.replace('+', "-").replace('/', "_"));
        }
    }
    let mut unique: Vec<String> = Vec::new();
    for s in spellings {
        let long_enough = s == secret || s.chars().count() >= 8;
        if long_enough && !unique.iter().any(|u| u.eq_ignore_ascii_case(&s)) {
            unique.push(s);
        }
    }
    unique.sort_by_key(|s| std::cmp::Reverse(s.len()));
    unique
}

/// `text` with each occurrence of `needle`, ignoring ASCII case, replaced.
fn replace_ignoring_case(text: &str, needle: &str, with: &str) -> String {
    if needle.is_empty() {
        return text.to_owned();
    }
    // ASCII lower-casing keeps every byte offset, so matches in the lowered
    // text are matches in `text`, on character boundaries.
    let haystack = text.to_ascii_lowercase();
    let needle = needle.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut rest = 0;
    while let Some(found) = haystack.get(rest..).and_then(|h| h.find(&needle)) {
        let start = rest + found;
        out.push_str(text.get(rest..start).unwrap_or(""));
        out.push_str(with);
        rest = start + needle.len();
    }
    out.push_str(text.get(rest..).unwrap_or(""));
    out
}

/// Said when the service answers as if Pinpoint's engagement APIs are gone.
pub const END_OF_SUPPORT_NOTE: &str = "Amazon Pinpoint's engagement APIs (segments, imports) reached AWS end of support on 2026-10-30; if this account or region no longer has them, the import cannot run there";

/// AWS error types that mean the signature or the credentials were refused.
const CREDENTIAL_ERRORS: &[&str] = &[
    "InvalidSignatureException",
    "IncompleteSignatureException",
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "ExpiredTokenException",
    "ExpiredToken",
    "MissingAuthenticationTokenException",
    "SignatureDoesNotMatch",
];

/// Maps a Pinpoint error answer of `operation` to a node error.
///
/// Any 403 is `PermissionDenied`; 404 on `GetApp` is `InvalidApplicationId`;
/// 413 is `ImportSizeExceeded`; 429 is `Throttled`; everything else is a
/// `ServiceError` with the AWS type and message.
pub fn pinpoint_error(operation: &str, err: &AwsError) -> NodeError {
    let context = err.context(operation);
    let summary = err.summary();
    let unknown_operation = err
        .error_type
        .as_deref()
        .is_some_and(|t| t.contains("UnknownOperation") || t == "InvalidAction");
    // A refusal that is not about the request's signature or credentials may be
    // the retired service answering; so may a 404 that names no resource.
    let credential_problem = err
        .error_type
        .as_deref()
        .is_some_and(|t| CREDENTIAL_ERRORS.contains(&t));
    let retired_hint = if credential_problem {
        String::new()
    } else {
        format!(" {END_OF_SUPPORT_NOTE}.")
    };
    let not_found_without_type = err.status == 404
        && err
            .error_type
            .as_deref()
            .is_none_or(|t| t != "NotFoundException");
    let (kind, message) = match err.status {
        _ if unknown_operation => (
            ErrorKind::ServiceError,
            format!("Pinpoint does not know {operation} ({summary}). {END_OF_SUPPORT_NOTE}"),
        ),
        403 => (
            ErrorKind::PermissionDenied,
            format!(
                "Pinpoint refused {operation} ({summary}). Check the credentials and that they allow mobiletargeting:{operation} on this project.{retired_hint}"
            ),
        ),
        404 if operation == "GetApp" && not_found_without_type => (
            ErrorKind::InvalidApplicationId,
            format!("Pinpoint found no project at this address ({summary}).{retired_hint}"),
        ),
        404 if operation == "GetApp" => (
            ErrorKind::InvalidApplicationId,
            format!("no Pinpoint project with this application id in this region ({summary})"),
        ),
        404 if not_found_without_type => (
            ErrorKind::ServiceError,
            format!("Pinpoint answered 404 to {operation} ({summary}).{retired_hint}"),
        ),
        413 => (
            ErrorKind::ImportSizeExceeded,
            format!("Pinpoint says the request is too large ({summary})"),
        ),
        429 => (
            ErrorKind::Throttled,
            format!("Pinpoint kept throttling {operation} ({summary}); try again later"),
        ),
        s if s >= 500 => (
            ErrorKind::ServiceError,
            format!("Pinpoint failed {operation} ({summary})"),
        ),
        _ => (
            ErrorKind::ServiceError,
            format!("Pinpoint rejected {operation} ({summary})"),
        ),
    };
    NodeError::new(kind, message).with_service(context)
}

/// Maps an S3 error answer of `operation` to a node error, with advice.
pub fn s3_error(operation: &str, bucket: &str, region: &str, err: &AwsError) -> NodeError {
    let context = err.context(operation);
    let summary = err.summary();
    let code = err.error_type.as_deref().unwrap_or("");
    let (kind, message) = match (err.status, code) {
        (
            _,
            "AuthorizationHeaderMalformed"
            | "PermanentRedirect"
            | "IllegalLocationConstraintException",
        ) => {
            let hint = match &err.expected_region {
                Some(r) => format!(
                    "the bucket {bucket} is in region {r}, not {region}: set `region` (or stage in a bucket of {region})"
                ),
                None => {
                    format!("the bucket {bucket} is not in region {region} or not at this endpoint")
                }
            };
            (
                ErrorKind::InvalidSettings,
                format!("S3 {operation} failed ({summary}): {hint}"),
            )
        }
        (_, "NoSuchBucket") => (
            ErrorKind::InvalidSettings,
            format!("the staging bucket {bucket} does not exist ({summary})"),
        ),
        (_, "ExpiredToken" | "TokenRefreshRequired" | "InvalidToken") => (
            ErrorKind::PermissionDenied,
            format!("S3 refused the session token ({summary}): refresh the credentials"),
        ),
        (403, _)
        | (
            _,
            "AccessDenied"
            | "SignatureDoesNotMatch"
            | "InvalidAccessKeyId"
            | "RequestTimeTooSkewed",
        ) => (
            ErrorKind::PermissionDenied,
            format!(
                "S3 refused {operation} on bucket {bucket} ({summary}). Check the credentials and that they allow s3:{operation} there"
            ),
        ),
        (400, "EntityTooLarge") => (
            ErrorKind::ImportSizeExceeded,
            format!("S3 says the file is too large ({summary})"),
        ),
        (429, _) | (503, "SlowDown") => (
            ErrorKind::Throttled,
            format!("S3 kept throttling {operation} ({summary})"),
        ),
        _ => (
            ErrorKind::ServiceError,
            format!("S3 {operation} failed ({summary})"),
        ),
    };
    let mut e = NodeError::new(kind, message).with_service(context);
    if kind == ErrorKind::InvalidSettings {
        e = e.with_setting(if code == "NoSuchBucket" {
            "staging-bucket"
        } else {
            "region"
        });
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, headers: &[(&str, &str)], body: &str) -> http::Response<Vec<u8>> {
        let mut b = http::Response::builder().status(status);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(body.as_bytes().to_vec()).unwrap()
    }

    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    const TOKEN: &str = "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQD+token=";

    fn base64(bytes: &[u8]) -> String {
        aws_smithy_types::base64::encode(bytes)
    }

    #[test]
    fn secrets_are_redacted_in_every_encoding() {
        let secrets = vec![SECRET.to_owned(), TOKEN.to_owned()];
        for secret in [SECRET, TOKEN] {
            let url_encoded = crate::aws::urls::encode_segment(secret);
            let embedded = |prefix: &str| {
                let mut b = prefix.as_bytes().to_vec();
                b.extend_from_slice(secret.as_bytes());
                b.extend_from_slice(b"&rest");
                base64(&b)
            };
            let spellings = [
                ("as is", secret.to_owned()),
                ("percent-encoded", url_encoded.clone()),
                ("percent-encoded, lower hex", url_encoded.to_lowercase()),
                (
                    "percent-encoded, / kept",
                    crate::aws::urls::encode_key(secret),
                ),
                ("base64", base64(secret.as_bytes())),
                (
                    "base64 unpadded",
                    base64(secret.as_bytes()).trim_end_matches('=').to_owned(),
                ),
                (
                    "base64 URL-safe",
                    base64(secret.as_bytes())
                        .replace('+', "-")
                        .replace('/', "_"),
                ),
                ("base64 at offset 1", embedded("a")),
                ("base64 at offset 2", embedded("ab")),
                ("base64 at offset 0 of more", embedded("abc")),
                (
                    "base64 URL-safe at offset 1",
                    embedded("x").replace('+', "-").replace('/', "_"),
                ),
                ("lower case", secret.to_lowercase()),
                ("upper case", secret.to_uppercase()),
            ];
            for (how, spelling) in spellings {
                let text = format!(
                    "The request signature we calculated does not match: '{spelling}' was sent"
                );
                let out = redact(&text, &secrets);
                assert!(out.contains(REDACTED), "{how}: {out}");
                // Nothing of 12 characters is left of the spelling: at most
                // the few characters it shares with its neighbours.
                for window in spelling.as_bytes().windows(12) {
                    let window = std::str::from_utf8(window).unwrap();
                    assert!(!out.contains(window), "{how}: {window} in {out}");
                }
                assert!(out.starts_with("The request signature"), "{how}: {out}");
                assert!(out.ends_with("' was sent"), "{how}: {out}");
            }
        }
        assert_eq!(
            redact("nothing secret here", &secrets),
            "nothing secret here"
        );
        // Short secrets are cut out only as they are.
        assert_eq!(
            redact("abcabc", &["abc".to_owned()]),
            format!("{REDACTED}{REDACTED}")
        );
    }

    #[test]
    fn pinpoint_type_from_header_then_body_then_status() {
        let r = response(
            404,
            &[
                (
                    "x-amzn-ErrorType",
                    "NotFoundException:http://internal.amazon.com/coral/",
                ),
                ("x-amzn-RequestId", "rid-1"),
            ],
            r#"{"Message":"Application not found","RequestID":"rid-body"}"#,
        );
        let e = parse_pinpoint_error(&r);
        assert_eq!(e.error_type.as_deref(), Some("NotFoundException"));
        assert_eq!(e.message.as_deref(), Some("Application not found"));
        assert_eq!(e.request_id.as_deref(), Some("rid-1"));
        let r = response(
            400,
            &[],
            r#"{"__type":"com.amazon#BadRequestException","message":"bad","RequestID":"r2"}"#,
        );
        let e = parse_pinpoint_error(&r);
        assert_eq!(e.error_type.as_deref(), Some("BadRequestException"));
        assert_eq!(e.request_id.as_deref(), Some("r2"));
        let e = parse_pinpoint_error(&response(502, &[], "<html>bad gateway</html>"));
        assert_eq!((e.status, e.error_type, e.message), (502, None, None));
    }

    #[test]
    fn pinpoint_mapping() {
        let e = |status, t: &str| AwsError {
            status,
            error_type: Some(t.into()),
            ..Default::default()
        };
        assert_eq!(
            pinpoint_error("GetApp", &e(404, "NotFoundException")).kind,
            ErrorKind::InvalidApplicationId
        );
        assert_eq!(
            pinpoint_error("GetSegments", &e(404, "NotFoundException")).kind,
            ErrorKind::ServiceError
        );
        for t in [
            "ForbiddenException",
            "AccessDeniedException",
            "InvalidSignatureException",
            "UnrecognizedClientException",
        ] {
            assert_eq!(
                pinpoint_error("GetApp", &e(403, t)).kind,
                ErrorKind::PermissionDenied
            );
        }
        assert_eq!(
            pinpoint_error("CreateImportJob", &e(413, "PayloadTooLargeException")).kind,
            ErrorKind::ImportSizeExceeded
        );
        assert_eq!(
            pinpoint_error("GetApp", &e(429, "TooManyRequestsException")).kind,
            ErrorKind::Throttled
        );
        assert_eq!(
            pinpoint_error("GetApp", &e(500, "InternalServerErrorException")).kind,
            ErrorKind::ServiceError
        );
        // An unknown operation is the retired API whatever the status says.
        for status in [400, 403, 404, 413, 429, 500] {
            let retired =
                pinpoint_error("CreateImportJob", &e(status, "UnknownOperationException"));
            assert_eq!(retired.kind, ErrorKind::ServiceError, "{status}");
            assert!(
                retired.message.contains("end of support"),
                "{}",
                retired.message
            );
        }
    }

    #[test]
    fn s3_xml_errors() {
        let r = response(
            400,
            &[("x-amz-request-id", "REQ")],
            "<?xml version=\"1.0\"?><Error><Code>AuthorizationHeaderMalformed</Code><Message>the region &apos;us-east-1&apos; is wrong; expecting &apos;eu-west-1&apos;</Message><Region>eu-west-1</Region></Error>",
        );
        let e = parse_s3_error(&r);
        assert_eq!(
            e.error_type.as_deref(),
            Some("AuthorizationHeaderMalformed")
        );
        assert_eq!(e.expected_region.as_deref(), Some("eu-west-1"));
        assert_eq!(e.request_id.as_deref(), Some("REQ"));
        let n = s3_error("PutObject", "b", "us-east-1", &e);
        assert_eq!(n.kind, ErrorKind::InvalidSettings);
        assert!(n.message.contains("eu-west-1"), "{}", n.message);
        let denied = AwsError {
            status: 403,
            error_type: Some("SignatureDoesNotMatch".into()),
            ..Default::default()
        };
        assert_eq!(
            s3_error("PutObject", "b", "r", &denied).kind,
            ErrorKind::PermissionDenied
        );
        let missing = AwsError {
            status: 404,
            error_type: Some("NoSuchBucket".into()),
            ..Default::default()
        };
        assert_eq!(
            s3_error("PutObject", "b", "r", &missing)
                .details
                .setting
                .as_deref(),
            Some("staging-bucket")
        );
    }
}
