//! SigV4 signing of every request, with `aws-sigv4`.
//!
//! Two rule sets apply, as in botocore and aws-c-auth (checked on their test
//! vectors in `tests/data/sigv4/`, see `conformance.rs`):
//! - Pinpoint (`mobiletargeting`): the path is normalised and percent-encoded
//!   a second time in the canonical request, as botocore does for every service
//!   but S3;
//! - S3 (`s3`): the path is signed as sent, and `x-amz-content-sha256` carries
//!   the SHA-256 of the body (a signed payload, which S3 then verifies).
//!
//! A session token is signed as `x-amz-security-token`. The `host` header is
//! signed from the URI's authority but not set on the request: under wasi:http
//! it is a forbidden header, and the host adds it from the same authority.

use std::time::SystemTime;

use aws_sigv4::http_request::{
    PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
    UriPathNormalizationMode, sign,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;

use crate::error::{ErrorKind, NodeError};

/// AWS credentials: the AWS SDK's own type, shared with the host and the
/// emulator. Its `Debug` never shows the secret or the session token.
pub use aws_credential_types::Credentials;

/// Credentials of the node: long-term keys, or temporary ones with a session
/// token and an expiry.
pub fn credentials(
    access_key_id: impl Into<String>,
    secret_access_key: impl Into<String>,
    session_token: Option<String>,
    expiration: Option<SystemTime>,
) -> Credentials {
    Credentials::new(
        access_key_id,
        secret_access_key,
        session_token,
        expiration,
        "pinpoint-segment-import",
    )
}

/// `PermissionDenied` when `credentials` have expired at `now`
/// (`now >= expiry`), saying when; never shows a secret.
pub fn check_not_expired(credentials: &Credentials, now: SystemTime) -> Result<(), NodeError> {
    match credentials.expiry() {
        Some(expiration) if now >= expiration => Err(NodeError::new(
            ErrorKind::PermissionDenied,
            format!(
                "the AWS credentials (access key {}) expired at {}; the host must refresh them (it is asked for credentials before every request)",
                crate::error::quote(credentials.access_key_id()),
                rfc3339(expiration)
            ),
        )
        .with_setting("credentials")),
        _ => Ok(()),
    }
}

/// `time` in RFC 3339, UTC, whole seconds: `2026-11-28T12:00:00Z`.
pub fn rfc3339(time: SystemTime) -> String {
    let seconds = match time.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => {
            aws_smithy_types::DateTime::from_secs(i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        }
        Err(e) => aws_smithy_types::DateTime::from_secs(
            -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
        ),
    };
    seconds
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .unwrap_or_else(|_| format!("{} s after 1970-01-01T00:00:00Z", seconds.secs()))
}

/// The service a request is signed for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// Amazon Pinpoint, whose signing name is `mobiletargeting`.
    Pinpoint,
    /// Amazon S3.
    S3,
}

impl Service {
    /// The name in the credential scope.
    pub fn signing_name(self) -> &'static str {
        match self {
            Service::Pinpoint => "mobiletargeting",
            Service::S3 => "s3",
        }
    }

    /// The canonical-request rules this service is signed with.
    pub fn rules(self) -> SigningRules {
        match self {
            Service::Pinpoint => SigningRules::GENERIC,
            Service::S3 => SigningRules::S3,
        }
    }
}

/// How a service builds its canonical request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SigningRules {
    /// Normalise the path (`/a/./b/../c` -> `/a/c`) and percent-encode it a
    /// second time: every service but S3.
    pub normalize_and_double_encode: bool,
    /// Send and sign `x-amz-content-sha256` with the body's SHA-256: S3.
    pub payload_hash_header: bool,
}

impl SigningRules {
    /// The rules of every service but S3 (Pinpoint's among them).
    pub const GENERIC: SigningRules = SigningRules {
        normalize_and_double_encode: true,
        payload_hash_header: false,
    };
    /// S3's rules: the path as sent, and a signed payload hash.
    pub const S3: SigningRules = SigningRules {
        normalize_and_double_encode: false,
        payload_hash_header: true,
    };

    fn settings(self) -> SigningSettings {
        let mut settings = SigningSettings::default();
        if !self.normalize_and_double_encode {
            settings.percent_encoding_mode = PercentEncodingMode::Single;
            settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        }
        if self.payload_hash_header {
            settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        }
        settings
    }
}

/// In a request's extensions: the body is not in the request (it is
/// streamed when sent, as the import host's `Body`), and what is signed as
/// its payload hash (`x-amz-content-sha256` for S3) instead of the hash of
/// the request's own (empty) body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamedPayload {
    /// The body's hex SHA-256: S3 checks the bytes it receives against it.
    Sha256(String),
    /// Not hashed at all: `UNSIGNED-PAYLOAD`, as the AWS SDKs and CLI sign
    /// over HTTPS, where TLS protects the bytes on the way and a checksum
    /// header (`x-amz-checksum-crc32c`) lets S3 check them.
    Unsigned,
}

/// Signs `request` in place for `service`: adds `x-amz-date`,
/// `authorization`, and where they apply `x-amz-content-sha256` and
/// `x-amz-security-token`.
///
/// Credentials expired at `time` are refused with `PermissionDenied`
/// ([`check_not_expired`]).
pub fn sign_request(
    request: &mut http::Request<Vec<u8>>,
    service: Service,
    region: &str,
    credentials: &Credentials,
    time: SystemTime,
) -> Result<(), NodeError> {
    check_not_expired(credentials, time)?;
    sign_with_rules(
        request,
        service.signing_name(),
        service.rules(),
        region,
        credentials,
        time,
    )
    .map(|_| ())
}

/// Signs `request` for any signing name with explicit rules, and returns the
/// signature: the one path every request takes, also run on the published
/// test vectors.
pub fn sign_with_rules(
    request: &mut http::Request<Vec<u8>>,
    signing_name: &str,
    rules: SigningRules,
    region: &str,
    credentials: &Credentials,
    time: SystemTime,
) -> Result<String, NodeError> {
    let identity: Identity = credentials.clone().into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(signing_name)
        .time(time)
        .settings(rules.settings())
        .build()
        .map_err(|e| signing_error(&e.to_string()))?
        .into();
    let uri = request.uri().to_string();
    let headers: Vec<(&str, &str)> = request
        .headers()
        .iter()
        .filter_map(|(k, v)| v.to_str().ok().map(|v| (k.as_str(), v)))
        .collect();
    let body = match request.extensions().get::<StreamedPayload>() {
        Some(StreamedPayload::Sha256(hash)) => SignableBody::Precomputed(hash.clone()),
        Some(StreamedPayload::Unsigned) => SignableBody::UnsignedPayload,
        None => SignableBody::Bytes(request.body()),
    };
    let signable = SignableRequest::new(request.method().as_str(), uri, headers.into_iter(), body)
        .map_err(|e| signing_error(&e.to_string()))?;
    let (instructions, signature) = sign(signable, &params)
        .map_err(|e| signing_error(&e.to_string()))?
        .into_parts();
    instructions.apply_to_request_http1x(request);
    Ok(signature)
}

fn signing_error(reason: &str) -> NodeError {
    // The signer's errors name parts of the request, never the secret.
    NodeError::new(
        ErrorKind::InvalidSettings,
        format!("cannot sign the request: {reason}"),
    )
    .with_setting("credentials")
}

#[cfg(test)]
mod conformance;

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    fn creds(token: Option<&str>) -> Credentials {
        credentials(
            "AKIDEXAMPLE",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            token.map(Into::into),
            None,
        )
    }

    fn at_2015() -> SystemTime {
        // 20150830T123600Z, the time of the published test suite.
        UNIX_EPOCH + Duration::from_secs(1_440_938_160)
    }

    fn header<'a>(r: &'a http::Request<Vec<u8>>, name: &str) -> &'a str {
        r.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    #[test]
    fn pinpoint_requests_are_signed_for_mobiletargeting() {
        let mut r = http::Request::get("https://pinpoint.eu-west-1.amazonaws.com/v1/apps/abc")
            .body(Vec::new())
            .unwrap();
        sign_request(
            &mut r,
            Service::Pinpoint,
            "eu-west-1",
            &creds(None),
            at_2015(),
        )
        .unwrap();
        let auth = header(&r, "authorization");
        assert!(
            auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/eu-west-1/mobiletargeting/aws4_request, SignedHeaders=host;x-amz-date, Signature="),
            "{auth}"
        );
        assert_eq!(header(&r, "x-amz-date"), "20150830T123600Z");
        assert!(r.headers().get("x-amz-content-sha256").is_none());
        assert!(r.headers().get("host").is_none());
    }

    #[test]
    fn s3_requests_sign_the_payload_hash() {
        let mut r = http::Request::put("https://s3.us-east-1.amazonaws.com/b/k.csv")
            .body(b"abc".to_vec())
            .unwrap();
        sign_request(&mut r, Service::S3, "us-east-1", &creds(None), at_2015()).unwrap();
        assert_eq!(
            header(&r, "x-amz-content-sha256"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(header(&r, "authorization").contains("/us-east-1/s3/aws4_request"));
        assert!(
            header(&r, "authorization")
                .contains("SignedHeaders=host;x-amz-content-sha256;x-amz-date")
        );
    }

    #[test]
    fn a_streamed_payload_is_signed_by_its_hash() {
        let mut streamed = http::Request::put("https://s3.us-east-1.amazonaws.com/b/k.csv")
            .body(Vec::new())
            .unwrap();
        let hash = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        streamed
            .extensions_mut()
            .insert(StreamedPayload::Sha256(hash.to_owned()));
        sign_request(
            &mut streamed,
            Service::S3,
            "us-east-1",
            &creds(None),
            at_2015(),
        )
        .unwrap();
        let mut whole = http::Request::put("https://s3.us-east-1.amazonaws.com/b/k.csv")
            .body(b"abc".to_vec())
            .unwrap();
        sign_request(
            &mut whole,
            Service::S3,
            "us-east-1",
            &creds(None),
            at_2015(),
        )
        .unwrap();
        assert_eq!(header(&streamed, "x-amz-content-sha256"), hash);
        assert_eq!(
            header(&streamed, "authorization"),
            header(&whole, "authorization")
        );
    }

    #[test]
    fn an_unsigned_payload_is_signed_as_unsigned_with_its_checksum_headers() {
        let mut r = http::Request::put("https://s3.us-east-1.amazonaws.com/b/k.csv")
            .header("x-amz-checksum-crc32c", "yZRlqg==")
            .header("x-amz-sdk-checksum-algorithm", "CRC32C")
            .body(Vec::new())
            .unwrap();
        r.extensions_mut().insert(StreamedPayload::Unsigned);
        sign_request(&mut r, Service::S3, "us-east-1", &creds(None), at_2015()).unwrap();
        assert_eq!(header(&r, "x-amz-content-sha256"), "UNSIGNED-PAYLOAD");
        assert!(header(&r, "authorization").contains(
            "SignedHeaders=host;x-amz-checksum-crc32c;x-amz-content-sha256;x-amz-date;x-amz-sdk-checksum-algorithm"
        ));
    }

    #[test]
    fn session_tokens_are_sent_and_signed() {
        let mut r = http::Request::get("https://pinpoint.us-east-1.amazonaws.com/v1/apps/abc")
            .body(Vec::new())
            .unwrap();
        sign_request(
            &mut r,
            Service::Pinpoint,
            "us-east-1",
            &creds(Some("TOKEN/abc=")),
            at_2015(),
        )
        .unwrap();
        assert_eq!(header(&r, "x-amz-security-token"), "TOKEN/abc=");
        assert!(
            header(&r, "authorization")
                .contains("SignedHeaders=host;x-amz-date;x-amz-security-token")
        );
    }

    #[test]
    fn debug_never_shows_secrets() {
        let mut c = creds(Some("TOKEN"));
        *c.expiry_mut() = Some(at_2015());
        let text = format!("{c:?}");
        assert!(!text.contains("wJalr") && !text.contains("TOKEN"), "{text}");
        assert!(text.contains("AKIDEXAMPLE"));
        assert!(text.contains("2015-08-30T12:36:00Z"), "{text}");
    }

    #[test]
    fn expired_credentials_are_not_used() {
        let mut c = creds(Some("TOKEN"));
        let mut r = http::Request::get("https://pinpoint.us-east-1.amazonaws.com/v1/apps/abc")
            .body(Vec::new())
            .unwrap();
        *c.expiry_mut() = Some(at_2015() + Duration::from_secs(1));
        sign_request(&mut r, Service::Pinpoint, "us-east-1", &c, at_2015()).unwrap();
        *c.expiry_mut() = Some(at_2015());
        let err = sign_request(&mut r, Service::Pinpoint, "us-east-1", &c, at_2015()).unwrap_err();
        assert_eq!(err.kind, ErrorKind::PermissionDenied);
        assert!(
            err.message.contains("expired at 2015-08-30T12:36:00Z")
                && err.message.contains("must refresh"),
            "{}",
            err.message
        );
        let text = format!("{err:?} {}", serde_json::to_string(&err).unwrap());
        assert!(!text.contains("wJalr") && !text.contains("TOKEN"), "{text}");
        assert_eq!(
            rfc3339(UNIX_EPOCH - Duration::from_secs(1)),
            "1969-12-31T23:59:59Z"
        );
    }
}
