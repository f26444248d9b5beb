//! End-to-end tests: real HTTP requests, signed by a small test signer, through the
//! emulator's server. S3 requests are verified by s3s, Pinpoint requests by
//! `sigv4_verify` (itself checked against the published vectors).

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Request};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use tokio::net::TcpStream;

use super::sigv4_verify::{
    self, canonical_query, canonical_request, format_amz_date, signing_key, string_to_sign,
};
use super::*;

mod leftovers;
mod segment_versions;

fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

async fn start() -> Emulator {
    Emulator::start(EmulatorConfig::default(), loopback())
        .await
        .unwrap()
}

/// S3's canonical URI: the decoded path, each segment URI-encoded once, `/` kept (no
/// normalisation), as the AWS SDKs sign object keys.
fn s3_canonical_path(path: &str) -> String {
    let decoded = sigv4_verify::percent_decode(path);
    decoded
        .split(|b| *b == b'/')
        .map(sigv4_verify::uri_encode)
        .collect::<Vec<_>>()
        .join("/")
}

/// A minimal SigV4 signer for the tests.
#[derive(Clone)]
struct Signer {
    access_key: String,
    secret: String,
    token: Option<String>,
    /// Sign the token header (a correct client does).
    sign_token: bool,
    region: String,
    time: OffsetDateTime,
    /// S3: sign `UNSIGNED-PAYLOAD` instead of the body's SHA-256.
    unsigned_payload: bool,
}

impl Signer {
    fn default_creds() -> Signer {
        Signer {
            access_key: DEFAULT_ACCESS_KEY_ID.into(),
            secret: DEFAULT_SECRET_ACCESS_KEY.into(),
            token: None,
            sign_token: true,
            region: DEFAULT_REGION.into(),
            time: OffsetDateTime::now_utc(),
            unsigned_payload: false,
        }
    }

    /// Headers to send, including `authorization`. `service` is `s3` or
    /// `mobiletargeting`; S3 uses its own rules (path as sent, content hash header).
    fn sign(
        &self,
        service: &str,
        method: &str,
        path: &str,
        query: &str,
        host: &str,
        body: &[u8],
    ) -> Vec<(String, String)> {
        self.sign_with(service, method, path, query, host, body, &[])
    }

    /// [`Signer::sign`], signing `extra` headers too (lowercase names, sent by the
    /// caller; they are not in the result).
    #[allow(
        clippy::too_many_arguments,
        reason = "one argument per part of the request that is signed"
    )]
    fn sign_with(
        &self,
        service: &str,
        method: &str,
        path: &str,
        query: &str,
        host: &str,
        body: &[u8],
        extra: &[(String, String)],
    ) -> Vec<(String, String)> {
        let amz_date = format_amz_date(self.time);
        let hash = match (service, self.unsigned_payload) {
            ("s3", true) => "UNSIGNED-PAYLOAD".to_owned(),
            _ => hex::encode(Sha256::digest(body)),
        };
        let mut headers = vec![
            ("host".to_owned(), host.to_owned()),
            ("x-amz-date".to_owned(), amz_date.clone()),
        ];
        let own = headers.len();
        headers.extend_from_slice(extra);
        if service == "s3" {
            headers.push(("x-amz-content-sha256".into(), hash.clone()));
        }
        if let Some(t) = &self.token {
            headers.push(("x-amz-security-token".into(), t.clone()));
        }
        let mut signed: Vec<String> = headers
            .iter()
            .map(|(n, _)| n.clone())
            .filter(|n| self.sign_token || n != "x-amz-security-token")
            .collect();
        signed.sort();
        let creq = if service == "s3" {
            let mut block = String::new();
            for name in &signed {
                let v = &headers.iter().find(|(n, _)| n == name).unwrap().1;
                block.push_str(&format!("{name}:{v}\n"));
            }
            format!(
                "{method}\n{}\n{}\n{block}\n{}\n{hash}",
                s3_canonical_path(path),
                canonical_query(query),
                signed.join(";")
            )
        } else {
            canonical_request(method, path, query, &headers, &signed, &hash).unwrap()
        };
        let date = &amz_date[..8];
        let scope = format!("{date}/{}/{service}/aws4_request", self.region);
        let sts = string_to_sign(&amz_date, &scope, &creq);
        let key = signing_key(&self.secret, date, &self.region, service);
        let sig = sigv4_verify::signature(&key, &sts);
        headers.push((
            "authorization".into(),
            format!(
                "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={}, Signature={sig}",
                self.access_key,
                signed.join(";")
            ),
        ));
        headers.drain(own..own + extra.len());
        headers
    }
}

impl Signer {
    /// A presigned S3 query (`X-Amz-*` parameters, `host` signed, unsigned payload),
    /// valid for `expires` seconds from the signer's time.
    fn presign_s3(&self, method: &str, path: &str, host: &str, expires: u32) -> String {
        let amz_date = format_amz_date(self.time);
        let date = &amz_date[..8];
        let scope = format!("{date}/{}/s3/aws4_request", self.region);
        let mut params = vec![
            ("X-Amz-Algorithm", "AWS4-HMAC-SHA256".to_owned()),
            ("X-Amz-Credential", format!("{}/{scope}", self.access_key)),
            ("X-Amz-Date", amz_date.clone()),
            ("X-Amz-Expires", expires.to_string()),
            ("X-Amz-SignedHeaders", "host".to_owned()),
        ];
        if let Some(t) = &self.token {
            params.push(("X-Amz-Security-Token", t.clone()));
        }
        let query = params
            .iter()
            .map(|(k, v)| format!("{k}={}", sigv4_verify::uri_encode(v.as_bytes())))
            .collect::<Vec<_>>()
            .join("&");
        let creq = format!(
            "{method}\n{}\n{}\nhost:{host}\n\nhost\nUNSIGNED-PAYLOAD",
            s3_canonical_path(path),
            canonical_query(&query)
        );
        let sts = string_to_sign(&amz_date, &scope, &creq);
        let key = signing_key(&self.secret, date, &self.region, "s3");
        let sig = sigv4_verify::signature(&key, &sts);
        format!("{query}&X-Amz-Signature={sig}")
    }
}

struct Answer {
    status: u16,
    headers: HeaderMap,
    body: Bytes,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends one request on a fresh connection; `Err` when the connection fails.
async fn send(
    addr: SocketAddr,
    method: &str,
    path_and_query: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> Result<Answer, String> {
    let stream = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    let mut builder = Request::builder().method(method).uri(path_and_query);
    for (n, v) in headers {
        builder = builder.header(n, v);
    }
    let req = builder
        .body(Full::new(Bytes::copy_from_slice(body)))
        .unwrap();
    let resp = sender
        .send_request(req)
        .await
        .map_err(|e| format!("{e:?}"))?;
    let (parts, body) = resp.into_parts();
    let body = body.collect().await.map_err(|e| e.to_string())?.to_bytes();
    Ok(Answer {
        status: parts.status.as_u16(),
        headers: parts.headers,
        body,
    })
}

/// A signed Pinpoint request.
async fn pinpoint(
    emu: &Emulator,
    signer: &Signer,
    method: &str,
    path: &str,
    query: &str,
    body: Option<&Value>,
) -> Result<Answer, String> {
    let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
    let host = emu.local_addr().to_string();
    let mut headers = signer.sign("mobiletargeting", method, path, query, &host, &bytes);
    if body.is_some() {
        headers.push(("content-type".into(), "application/json".into()));
    }
    let target = if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{query}")
    };
    send(emu.local_addr(), method, &target, &headers, &bytes).await
}

/// A signed S3 request.
async fn s3(
    emu: &Emulator,
    signer: &Signer,
    method: &str,
    path: &str,
    body: &[u8],
) -> Result<Answer, String> {
    let host = emu.local_addr().to_string();
    let headers = signer.sign("s3", method, path, "", &host, body);
    send(emu.local_addr(), method, path, &headers, body).await
}

fn import_request(key: &str, name: &str, format: &str) -> Value {
    json!({
        "DefineSegment": true,
        "Format": format,
        "RegisterEndpoints": true,
        "RoleArn": DEFAULT_ROLE_ARN,
        "S3Url": format!("s3://{DEFAULT_BUCKET}/{key}"),
        "SegmentName": name,
    })
}

fn app_path(suffix: &str) -> String {
    format!("/v1/apps/{SEED_APPLICATION_ID}{suffix}")
}

#[tokio::test]
async fn get_app_seed_and_unknown_app() {
    let emu = start().await;
    let signer = Signer::default_creds();
    let ok = pinpoint(&emu, &signer, "GET", &app_path(""), "", None)
        .await
        .unwrap();
    assert_eq!(ok.status, 200, "{}", ok.text());
    let body = ok.json();
    assert_eq!(body["Id"], SEED_APPLICATION_ID);
    assert!(
        body["Arn"]
            .as_str()
            .unwrap()
            .starts_with("arn:aws:mobiletargeting:us-east-1:")
    );
    assert!(
        body.get("ApplicationResponse").is_none(),
        "bodies are not wrapped"
    );
    assert!(ok.header("x-amzn-requestid").is_some());

    let missing = pinpoint(&emu, &signer, "GET", "/v1/apps/doesnotexist", "", None)
        .await
        .unwrap();
    assert_eq!(missing.status, 404);
    assert_eq!(
        missing.header("x-amzn-errortype"),
        Some("NotFoundException")
    );
    assert!(missing.header("x-amzn-requestid").is_some());
    let body = missing.json();
    assert!(body["Message"].is_string());
    assert_eq!(
        body["RequestID"].as_str(),
        missing.header("x-amzn-requestid")
    );

    // Later added applications exist.
    emu.add_application("0123456789abcdef0123456789abcdef");
    let added = pinpoint(
        &emu,
        &signer,
        "GET",
        "/v1/apps/0123456789abcdef0123456789abcdef",
        "",
        None,
    )
    .await
    .unwrap();
    assert_eq!(added.status, 200);
    emu.shutdown().await;
}

#[tokio::test]
async fn authentication_failures() {
    let emu = start().await;
    let path = app_path("");
    let cases: Vec<(Signer, u16, &str)> = vec![
        (
            Signer {
                secret: "wrong-secret".into(),
                ..Signer::default_creds()
            },
            403,
            "InvalidSignatureException",
        ),
        (
            Signer {
                access_key: "AKIAUNKNOWN000000000".into(),
                ..Signer::default_creds()
            },
            403,
            "UnrecognizedClientException",
        ),
        (
            Signer {
                region: "eu-west-1".into(),
                ..Signer::default_creds()
            },
            403,
            "InvalidSignatureException",
        ),
        (
            Signer {
                time: OffsetDateTime::now_utc() - time::Duration::minutes(20),
                ..Signer::default_creds()
            },
            403,
            "InvalidSignatureException",
        ),
    ];
    for (signer, status, kind) in cases {
        let a = pinpoint(&emu, &signer, "GET", &path, "", None)
            .await
            .unwrap();
        assert_eq!(a.status, status, "{}", a.text());
        assert_eq!(a.header("x-amzn-errortype"), Some(kind));
        assert!(!a.text().contains(DEFAULT_SECRET_ACCESS_KEY));
    }
    // Unsigned.
    let host = emu.local_addr().to_string();
    let a = send(
        emu.local_addr(),
        "GET",
        &path,
        &[("host".into(), host)],
        b"",
    )
    .await
    .unwrap();
    assert_eq!(a.status, 403);
    assert_eq!(
        a.header("x-amzn-errortype"),
        Some("MissingAuthenticationTokenException")
    );
    // A tampered body fails the signature.
    let signer = Signer::default_creds();
    let body = import_request("x.csv", "n", "CSV").to_string();
    let mut headers = signer.sign(
        "mobiletargeting",
        "POST",
        &app_path("/jobs/import"),
        "",
        &emu.local_addr().to_string(),
        body.as_bytes(),
    );
    headers.push(("content-type".into(), "application/json".into()));
    let tampered = body.replace("\"n\"", "\"m\"");
    let a = send(
        emu.local_addr(),
        "POST",
        &app_path("/jobs/import"),
        &headers,
        tampered.as_bytes(),
    )
    .await
    .unwrap();
    assert_eq!(a.status, 403);
    assert!(emu.import_jobs(SEED_APPLICATION_ID).is_empty());

    // S3: the scope region must be the bucket's; a bad secret or no signature is refused
    // by s3s.
    let path = format!("/{DEFAULT_BUCKET}/r.csv");
    let wrong_region = Signer {
        region: "us-east-2".into(),
        ..Signer::default_creds()
    };
    let a = s3(&emu, &wrong_region, "PUT", &path, b"x").await.unwrap();
    assert_eq!(a.status, 400);
    assert!(
        a.text()
            .contains("<Code>AuthorizationHeaderMalformed</Code>")
    );
    assert!(a.text().contains("<Region>us-east-1</Region>"));
    let bad_secret = Signer {
        secret: "nope".into(),
        ..Signer::default_creds()
    };
    let a = s3(&emu, &bad_secret, "PUT", &path, b"x").await.unwrap();
    assert_eq!(a.status, 403, "{}", a.text());
    assert!(a.text().contains("SignatureDoesNotMatch"), "{}", a.text());
    let host = emu.local_addr().to_string();
    let a = send(
        emu.local_addr(),
        "PUT",
        &path,
        &[("host".into(), host)],
        b"x",
    )
    .await
    .unwrap();
    assert_eq!(a.status, 403, "{}", a.text());
    assert!(emu.objects(DEFAULT_BUCKET).is_empty());
    assert!(
        emu.requests()
            .iter()
            .filter(|r| r.service == "s3")
            .all(|r| r.operation == Operation::PutObject)
    );
}

/// Issue 10, defect 1: a request dated years away from the emulator's clock is refused,
/// as AWS refuses anything more than 15 minutes off: Pinpoint with a 403
/// `InvalidSignatureException` ("Signature expired" / "not yet current"), S3 with a 403
/// `RequestTimeTooSkewed` (or, for a presigned URL, a 403 `AccessDenied`).
#[tokio::test]
async fn requests_dated_beyond_the_allowed_skew_are_refused() {
    let emu = start().await;
    let now = OffsetDateTime::now_utc();
    let at = |time| Signer {
        time,
        ..Signer::default_creds()
    };
    let long_ago = time::macros::datetime!(2020-01-01 00:00:00 UTC);
    let years_ahead = now + time::Duration::days(3 * 365);

    // Pinpoint.
    let a = pinpoint(&emu, &at(long_ago), "GET", &app_path(""), "", None)
        .await
        .unwrap();
    assert_eq!(a.status, 403, "{}", a.text());
    assert_eq!(
        a.header("x-amzn-errortype"),
        Some("InvalidSignatureException")
    );
    let message = a.json()["Message"].as_str().unwrap().to_owned();
    assert!(
        message.starts_with("Signature expired: 20200101T000000Z is now earlier than ")
            && message.ends_with(" - 15 min.)"),
        "{message}"
    );
    let a = pinpoint(&emu, &at(years_ahead), "GET", &app_path(""), "", None)
        .await
        .unwrap();
    assert_eq!(a.status, 403, "{}", a.text());
    assert_eq!(
        a.header("x-amzn-errortype"),
        Some("InvalidSignatureException")
    );
    assert!(
        a.json()["Message"]
            .as_str()
            .unwrap()
            .starts_with("Signature not yet current: "),
        "{}",
        a.text()
    );
    let created = pinpoint(
        &emu,
        &at(long_ago),
        "POST",
        &app_path("/jobs/import"),
        "",
        Some(&import_request("x.csv", "old", "CSV")),
    )
    .await
    .unwrap();
    assert_eq!(created.status, 403, "{}", created.text());
    assert!(emu.import_jobs(SEED_APPLICATION_ID).is_empty());
    // Within the 15 minutes either way: accepted.
    for minutes in [-14, 14] {
        let a = pinpoint(
            &emu,
            &at(now + time::Duration::minutes(minutes)),
            "GET",
            &app_path(""),
            "",
            None,
        )
        .await
        .unwrap();
        assert_eq!(a.status, 200, "{minutes} min: {}", a.text());
    }

    // S3, signed in the Authorization header.
    let path = format!("/{DEFAULT_BUCKET}/skewed.csv");
    for signer in [at(long_ago), at(years_ahead)] {
        let a = s3(&emu, &signer, "PUT", &path, b"x").await.unwrap();
        assert_eq!(a.status, 403, "{}", a.text());
        assert!(
            a.text().contains("<Code>RequestTimeTooSkewed</Code>"),
            "{}",
            a.text()
        );
        // As S3 words it: both times and the allowed skew.
        assert!(
            a.text().contains(
                "<Message>The difference between the request time and the current time is too large.</Message>"
            ),
            "{}",
            a.text()
        );
        let sent = format_amz_date(signer.time);
        assert!(
            a.text()
                .contains(&format!("<RequestTime>{sent}</RequestTime>")),
            "{}",
            a.text()
        );
        assert!(a.text().contains("<ServerTime>"), "{}", a.text());
        assert!(
            a.text()
                .contains("<MaxAllowedSkewMilliseconds>900000</MaxAllowedSkewMilliseconds>"),
            "{}",
            a.text()
        );
    }
    assert!(emu.objects(DEFAULT_BUCKET).is_empty());
    let a = s3(
        &emu,
        &at(now - time::Duration::minutes(14)),
        "PUT",
        &path,
        b"x",
    )
    .await
    .unwrap();
    assert_eq!(a.status, 200, "{}", a.text());

    // S3, presigned (`X-Amz-Date` in the query): an old URL has expired, one dated
    // years ahead is too skewed; a current one works.
    let addr = emu.local_addr();
    let host = addr.to_string();
    let get = |signer: Signer| {
        let query = signer.presign_s3("GET", &path, &host, 3600);
        let headers = vec![("host".to_owned(), host.clone())];
        let target = format!("{path}?{query}");
        async move { send(addr, "GET", &target, &headers, b"").await }
    };
    let a = get(at(long_ago)).await.unwrap();
    assert_eq!(a.status, 403, "{}", a.text());
    assert!(
        a.text().contains("<Code>AccessDenied</Code>"),
        "{}",
        a.text()
    );
    let a = get(at(years_ahead)).await.unwrap();
    assert_eq!(a.status, 403, "{}", a.text());
    assert!(
        a.text().contains("<Code>RequestTimeTooSkewed</Code>"),
        "{}",
        a.text()
    );
    let a = get(at(now)).await.unwrap();
    assert_eq!(a.status, 200, "{}", a.text());
    assert_eq!(a.text(), "x");
    emu.shutdown().await;
}

/// Issue 10, defect 2: object keys with `..` (or `.`) segments, plain or escaped, never
/// reach outside their bucket's directory: not on PUT, GET, HEAD, DELETE, CopyObject's
/// source, multipart uploads or DeleteObjects' keys. They are refused with a 400
/// `InvalidArgument` and nothing outside the bucket is read, written or removed.
#[tokio::test]
async fn keys_with_dot_segments_never_leave_the_bucket() {
    let config = EmulatorConfig {
        buckets: vec![DEFAULT_BUCKET.into(), "other-bucket".into()],
        ..EmulatorConfig::default()
    };
    let emu = Emulator::start(config, loopback()).await.unwrap();
    let signer = Signer::default_creds();
    let root = emu.shared.store.root().to_path_buf();
    emu.put_object("other-bucket", "secret.csv", b"SECRET-BYTES")
        .unwrap();
    let outside = |name: &str| {
        [root.join(name), root.parent().unwrap().join(name)]
            .iter()
            .any(|p| p.exists())
    };
    let refused = |a: &Answer, what: &str| {
        assert_eq!(a.status, 400, "{what}: {}", a.text());
        assert!(
            a.text().contains("<Code>InvalidArgument</Code>"),
            "{what}: {}",
            a.text()
        );
    };

    let b = DEFAULT_BUCKET;
    let writes = [
        format!("/{b}/a/../../escape-1"),
        format!("/{b}/..%2F..%2Fescape-2"),
        format!("/{b}/..%2Fescape-3"),
        format!("/{b}/../other-bucket/escape-4"),
        format!("/{b}/%2E%2E/other-bucket/escape-5"),
        format!("/{b}/a/./escape-6"),
        format!("/{b}/../../../escape-7"),
    ];
    for path in &writes {
        let a = s3(&emu, &signer, "PUT", path, b"x").await.unwrap();
        refused(&a, path);
    }
    for i in 1..=7 {
        assert!(!outside(&format!("escape-{i}")), "escape-{i} was written");
    }
    assert!(emu.objects(DEFAULT_BUCKET).is_empty());
    assert_eq!(emu.objects("other-bucket"), ["secret.csv"]);

    // Reads and deletes of the other bucket's object through this bucket.
    for path in [
        format!("/{b}/../other-bucket/secret.csv"),
        format!("/{b}/..%2Fother-bucket%2Fsecret.csv"),
        format!("/{b}/x/..%2F..%2Fother-bucket/secret.csv"),
    ] {
        for method in ["GET", "HEAD", "DELETE"] {
            let a = s3(&emu, &signer, method, &path, b"").await.unwrap();
            if method == "HEAD" {
                assert_eq!(a.status, 400, "{method} {path}");
            } else {
                refused(&a, &format!("{method} {path}"));
                assert!(!a.text().contains("SECRET-BYTES"), "{}", a.text());
            }
        }
    }
    assert_eq!(emu.objects("other-bucket"), ["secret.csv"]);

    // CopyObject whose source or destination climbs out.
    let host = emu.local_addr().to_string();
    for (dest, source) in [
        (
            format!("/{b}/copied.csv"),
            format!("{b}/..%2Fother-bucket%2Fsecret.csv"),
        ),
        (
            format!("/{b}/copied.csv"),
            format!("/{b}/../other-bucket/secret.csv"),
        ),
        (
            format!("/{b}/..%2Fother-bucket%2Fcopied.csv"),
            "other-bucket/secret.csv".to_owned(),
        ),
    ] {
        let mut headers = vec![("x-amz-copy-source".to_owned(), source.clone())];
        headers.extend(signer.sign_with("s3", "PUT", &dest, "", &host, b"", &headers));
        let a = send(emu.local_addr(), "PUT", &dest, &headers, b"")
            .await
            .unwrap();
        refused(&a, &format!("copy {source} to {dest}"));
    }
    assert!(emu.objects(DEFAULT_BUCKET).is_empty());
    assert_eq!(emu.objects("other-bucket"), ["secret.csv"]);

    // A multipart upload to a climbing key is refused at its start.
    let path = format!("/{b}/..%2Fother-bucket%2Fmulti.csv");
    let headers = signer.sign("s3", "POST", &path, "uploads", &host, b"");
    let a = send(
        emu.local_addr(),
        "POST",
        &format!("{path}?uploads"),
        &headers,
        b"",
    )
    .await
    .unwrap();
    refused(&a, "CreateMultipartUpload");

    // DeleteObjects names its keys in the body.
    let body = b"<Delete><Object><Key>../other-bucket/secret.csv</Key></Object></Delete>";
    let path = format!("/{b}");
    let headers = signer.sign("s3", "POST", &path, "delete", &host, body);
    let a = send(
        emu.local_addr(),
        "POST",
        &format!("{path}?delete"),
        &headers,
        body,
    )
    .await
    .unwrap();
    refused(&a, "DeleteObjects");
    assert_eq!(emu.objects("other-bucket"), ["secret.csv"]);
    assert_eq!(
        emu.object("other-bucket", "secret.csv").unwrap(),
        b"SECRET-BYTES"
    );

    // Ordinary keys, dots inside names included, still work.
    for key in ["a/b.csv", "a..b/c.csv", ".hidden/x.csv", "x/.../y.csv"] {
        let a = s3(&emu, &signer, "PUT", &format!("/{b}/{key}"), b"ok")
            .await
            .unwrap();
        assert_eq!(a.status, 200, "{key}: {}", a.text());
        assert_eq!(emu.object(b, key).unwrap(), b"ok", "{key}");
    }
    emu.shutdown().await;
}

#[tokio::test]
async fn a_put_to_a_missing_bucket_is_no_such_bucket() {
    let emu = start().await;
    let a = s3(
        &emu,
        &Signer::default_creds(),
        "PUT",
        "/missing-bucket/k.csv",
        b"x",
    )
    .await
    .unwrap();
    assert_eq!(a.status, 404, "{}", a.text());
    assert!(
        a.text().contains("<Code>NoSuchBucket</Code>"),
        "{}",
        a.text()
    );
    assert!(a.text().contains("<BucketName>missing-bucket</BucketName>"));
    assert!(emu.objects("missing-bucket").is_empty());
    // The configured bucket still takes objects.
    let path = format!("/{DEFAULT_BUCKET}/k.csv");
    let a = s3(&emu, &Signer::default_creds(), "PUT", &path, b"x")
        .await
        .unwrap();
    assert_eq!(a.status, 200, "{}", a.text());
}

#[tokio::test]
async fn session_tokens_are_required_and_signed() {
    let token = "FwoGZXIvYXdzEXAMPLETOKEN+/=";
    let config = EmulatorConfig {
        credentials: vec![credentials(
            "ASIAEMULATOR0EXAMPLE",
            "temp/secret",
            Some(token),
        )],
        ..EmulatorConfig::default()
    };
    let emu = Emulator::start(config, loopback()).await.unwrap();
    let good = Signer {
        access_key: "ASIAEMULATOR0EXAMPLE".into(),
        secret: "temp/secret".into(),
        token: Some(token.into()),
        ..Signer::default_creds()
    };
    let a = pinpoint(&emu, &good, "GET", &app_path(""), "", None)
        .await
        .unwrap();
    assert_eq!(a.status, 200, "{}", a.text());
    let put = s3(
        &emu,
        &good,
        "PUT",
        &format!("/{DEFAULT_BUCKET}/t.csv"),
        b"x",
    )
    .await
    .unwrap();
    assert_eq!(put.status, 200, "{}", put.text());

    for bad in [
        Signer {
            token: None,
            ..good.clone()
        },
        Signer {
            token: Some("other".into()),
            ..good.clone()
        },
        Signer {
            sign_token: false,
            ..good.clone()
        },
    ] {
        let a = pinpoint(&emu, &bad, "GET", &app_path(""), "", None)
            .await
            .unwrap();
        assert_eq!(a.status, 403, "{}", a.text());
        assert_eq!(
            a.header("x-amzn-errortype"),
            Some("UnrecognizedClientException")
        );
        assert!(!a.text().contains(token));
        let put = s3(&emu, &bad, "PUT", &format!("/{DEFAULT_BUCKET}/u.csv"), b"x")
            .await
            .unwrap();
        assert_eq!(put.status, 403, "{}", put.text());
        assert!(
            put.text().contains("<Code>InvalidToken</Code>"),
            "{}",
            put.text()
        );
    }
    assert_eq!(emu.objects(DEFAULT_BUCKET), vec!["t.csv"]);
    // The token is redacted from the log's Debug output.
    assert!(!format!("{:?}", emu.requests()).contains(token));
    assert!(
        !format!(
            "{:?}",
            EmulatorConfig {
                credentials: vec![credentials("A", "s3cr3t", Some(token))],
                ..EmulatorConfig::default()
            }
        )
        .contains("s3cr3t")
    );
}

async fn poll_until_terminal(emu: &Emulator, signer: &Signer, job: &str) -> Vec<Value> {
    let mut seen = Vec::new();
    for _ in 0..20 {
        let a = pinpoint(
            emu,
            signer,
            "GET",
            &app_path(&format!("/jobs/import/{job}")),
            "",
            None,
        )
        .await
        .unwrap();
        assert_eq!(a.status, 200, "{}", a.text());
        let body = a.json();
        let status = body["JobStatus"].as_str().unwrap().to_owned();
        seen.push(body);
        if status == "COMPLETED" || status == "FAILED" {
            return seen;
        }
    }
    panic!("job {job} never finished: {seen:?}");
}

#[tokio::test]
async fn an_unsigned_payload_put_is_checked_by_its_crc32c() {
    let emu = start().await;
    let host = emu.local_addr().to_string();
    let csv = "ChannelType,Address\nEMAIL,a@example.com\n";
    // UNSIGNED-PAYLOAD with x-amz-checksum-crc32c, as the node (and the AWS
    // SDKs) send PutObject over HTTPS: s3s checks the checksum, refusing a
    // body that does not match it with BadDigest.
    let unsigned = Signer {
        unsigned_payload: true,
        ..Signer::default_creds()
    };
    let crc =
        |body: &[u8]| base64_simd::STANDARD.encode_to_string(crc32c::crc32c(body).to_be_bytes());
    for (name, sent, summed, status) in [
        ("crc.csv", csv.as_bytes(), csv.as_bytes(), 200),
        ("crc-bad.csv", b"tamper".as_slice(), csv.as_bytes(), 400),
    ] {
        let path = format!("/{DEFAULT_BUCKET}/{name}");
        let extra = [
            ("x-amz-checksum-crc32c".to_owned(), crc(summed)),
            (
                "x-amz-sdk-checksum-algorithm".to_owned(),
                "CRC32C".to_owned(),
            ),
        ];
        let mut headers = unsigned.sign_with("s3", "PUT", &path, "", &host, sent, &extra);
        headers.extend(extra);
        let answer = send(emu.local_addr(), "PUT", &path, &headers, sent)
            .await
            .unwrap();
        assert_eq!(answer.status, status, "{name}: {}", answer.text());
        if status == 200 {
            assert_eq!(emu.object(DEFAULT_BUCKET, name).unwrap(), csv.as_bytes());
        } else {
            // Unlike S3, s3s-fs checks the checksum after writing the file,
            // so the refused bytes stay under the key (a run that gets this
            // answer deletes its object in its clean-up).
            assert!(answer.text().contains("BadDigest"), "{}", answer.text());
        }
    }
}

#[tokio::test]
async fn import_happy_path_through_s3_and_pinpoint() {
    let emu = start().await;
    let signer = Signer::default_creds();
    let key = "pinpoint-imports/abc123/endpoints.csv";
    let csv = "ChannelType,Address,User.UserId\nSMS,+12065550100,u1\nEMAIL,a@example.com,u2\nEMAIL,b@example.com,u3\n,nochannel@example.com,u4\n";
    let put = s3(
        &emu,
        &signer,
        "PUT",
        &format!("/{DEFAULT_BUCKET}/{key}"),
        csv.as_bytes(),
    )
    .await
    .unwrap();
    assert_eq!(put.status, 200, "{}", put.text());
    assert!(put.header("etag").is_some());
    assert_eq!(emu.objects(DEFAULT_BUCKET), vec![key]);
    assert_eq!(emu.object(DEFAULT_BUCKET, key).unwrap(), csv.as_bytes());

    // A body whose hash differs from the signed x-amz-content-sha256 is refused by s3s.
    let host = emu.local_addr().to_string();
    let headers = signer.sign(
        "s3",
        "PUT",
        &format!("/{DEFAULT_BUCKET}/other.csv"),
        "",
        &host,
        b"signed",
    );
    let bad = send(
        emu.local_addr(),
        "PUT",
        &format!("/{DEFAULT_BUCKET}/other.csv"),
        &headers,
        b"tamper",
    )
    .await;
    assert!(bad.map(|a| a.status >= 400).unwrap_or(true));
    assert!(emu.object(DEFAULT_BUCKET, "other.csv").is_none());

    let created = pinpoint(
        &emu,
        &signer,
        "POST",
        &app_path("/jobs/import"),
        "",
        Some(&import_request(key, "customers", "CSV")),
    )
    .await
    .unwrap();
    assert_eq!(created.status, 201, "{}", created.text());
    let job = created.json();
    assert_eq!(job["JobStatus"], "CREATED");
    assert_eq!(job["Type"], "IMPORT");
    assert_eq!(job["ApplicationId"], SEED_APPLICATION_ID);
    assert!(job["CreationDate"].as_str().unwrap().ends_with('Z'));
    let def = &job["Definition"];
    assert_eq!(def["SegmentName"], "customers");
    assert_eq!(def["Format"], "CSV");
    assert_eq!(def["DefineSegment"], true);
    assert_eq!(def["RegisterEndpoints"], true);
    assert_eq!(def["RoleArn"], DEFAULT_ROLE_ARN);
    let segment_id = def["SegmentId"].as_str().unwrap().to_owned();
    let job_id = job["Id"].as_str().unwrap().to_owned();

    // The segment exists right away, still empty.
    let segs = emu.segments(SEED_APPLICATION_ID);
    assert_eq!(segs.len(), 1);
    assert_eq!(
        (
            segs[0].id.as_str(),
            segs[0].segment_type.as_str(),
            segs[0].size
        ),
        (segment_id.as_str(), "IMPORT", 0)
    );

    let seen = poll_until_terminal(&emu, &signer, &job_id).await;
    let statuses: Vec<&str> = seen
        .iter()
        .map(|b| b["JobStatus"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        [
            "PREPARING_FOR_INITIALIZATION",
            "INITIALIZING",
            "PROCESSING",
            "COMPLETING",
            "COMPLETED"
        ]
    );
    let done = seen.last().unwrap();
    assert_eq!(done["TotalProcessed"], 3);
    assert_eq!(done["TotalFailures"], 1);
    assert_eq!(done["TotalPieces"], 1);
    assert_eq!(done["CompletedPieces"], 1);
    assert_eq!(done["FailedPieces"], 0);
    assert_eq!(done["Failures"].as_array().unwrap().len(), 1);
    assert!(done["CompletionDate"].is_string());
    // Further polls stay COMPLETED.
    assert_eq!(poll_until_terminal(&emu, &signer, &job_id).await.len(), 1);

    let seg = &emu.segments(SEED_APPLICATION_ID)[0];
    assert_eq!(seg.name, "customers");
    assert_eq!(seg.size, 3);
    assert_eq!(seg.format.as_deref(), Some("CSV"));
    assert_eq!(
        seg.s3_url.as_deref(),
        Some(format!("s3://{DEFAULT_BUCKET}/{key}").as_str())
    );
    assert_eq!(seg.channel_counts.get("EMAIL"), Some(&2));
    let jobs = emu.import_jobs(SEED_APPLICATION_ID);
    assert_eq!(jobs[0].status, "COMPLETED");
    assert_eq!((jobs[0].total_processed, jobs[0].total_failures), (3, 1));

    // GetSegment shows the import definition; GetImportJobs lists the job.
    let got = pinpoint(
        &emu,
        &signer,
        "GET",
        &app_path(&format!("/segments/{segment_id}")),
        "",
        None,
    )
    .await
    .unwrap();
    assert_eq!(got.status, 200);
    assert_eq!(got.json()["ImportDefinition"]["Size"], 3);
    let list = pinpoint(&emu, &signer, "GET", &app_path("/jobs/import"), "", None)
        .await
        .unwrap();
    assert_eq!(list.json()["Item"][0]["Id"], job_id.as_str());

    // Cleanup of the staged object through S3.
    let del = s3(
        &emu,
        &signer,
        "DELETE",
        &format!("/{DEFAULT_BUCKET}/{key}"),
        b"",
    )
    .await
    .unwrap();
    assert_eq!(del.status, 204, "{}", del.text());
    assert!(emu.objects(DEFAULT_BUCKET).is_empty());

    let ops: Vec<String> = emu
        .requests()
        .iter()
        .map(|r| r.operation.to_string())
        .collect();
    assert!(ops.contains(&"PutObject".to_owned()));
    assert!(ops.contains(&"CreateImportJob".to_owned()));
    assert!(ops.contains(&"DeleteObject".to_owned()));
    let create = emu
        .requests()
        .into_iter()
        .find(|r| r.operation == Operation::CreateImportJob)
        .unwrap();
    assert_eq!(create.service, "pinpoint");
    assert_eq!(create.status, Some(201));
    assert!(
        create
            .header("authorization")
            .unwrap()
            .contains("/mobiletargeting/aws4_request")
    );
    let body: Value = serde_json::from_slice(&create.body).unwrap();
    assert_eq!(body["SegmentName"], "customers");
    emu.shutdown().await;
}

#[tokio::test]
async fn ndjson_import_and_unreadable_objects_fail_the_job() {
    let emu = start().await;
    let signer = Signer::default_creds();
    emu.put_object(
        DEFAULT_BUCKET,
        "p/e.json",
        b"{\"ChannelType\":\"SMS\",\"Address\":\"+12065550100\"}\n{\"ChannelType\":\"EMAIL\",\"Address\":\"a@b.example\"}\n",
    )
    .unwrap();
    let created = pinpoint(
        &emu,
        &signer,
        "POST",
        &app_path("/jobs/import"),
        "",
        Some(&import_request("p/e.json", "nd", "JSON")),
    )
    .await
    .unwrap();
    let id = created.json()["Id"].as_str().unwrap().to_owned();
    let done = poll_until_terminal(&emu, &signer, &id).await;
    assert_eq!(done.last().unwrap()["JobStatus"], "COMPLETED");
    assert_eq!(done.last().unwrap()["TotalProcessed"], 2);

    // No object at the S3Url: FAILING, then FAILED, with Failures.
    let created = pinpoint(
        &emu,
        &signer,
        "POST",
        &app_path("/jobs/import"),
        "",
        Some(&import_request("missing.csv", "gone", "CSV")),
    )
    .await
    .unwrap();
    let id = created.json()["Id"].as_str().unwrap().to_owned();
    let seen = poll_until_terminal(&emu, &signer, &id).await;
    let statuses: Vec<&str> = seen
        .iter()
        .map(|b| b["JobStatus"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        [
            "PREPARING_FOR_INITIALIZATION",
            "INITIALIZING",
            "FAILING",
            "FAILED"
        ]
    );
    assert!(
        !seen.last().unwrap()["Failures"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    // The segment of the failed job is left behind (the node deletes it).
    assert_eq!(emu.segments(SEED_APPLICATION_ID).len(), 2);
    emu.shutdown().await;
}

/// Issue 10, defect 3: Pinpoint runs import jobs in the background. A job that nobody
/// polls with `GetImportJob` still goes through its statuses, one per `job_step`, to
/// COMPLETED (or FAILED), as `Emulator::import_jobs` and `GetImportJobs` show.
#[tokio::test]
async fn unpolled_import_jobs_run_in_the_background() {
    let step = Duration::from_millis(20);
    let config = EmulatorConfig {
        job_step: step,
        ..EmulatorConfig::default()
    };
    let emu = Emulator::start(config, loopback()).await.unwrap();
    let signer = Signer::default_creds();
    let key = "background/endpoints.csv";
    let csv = "ChannelType,Address\nSMS,+12065550100\nEMAIL,a@example.com\nFAX,+1\n";
    let put = s3(
        &emu,
        &signer,
        "PUT",
        &format!("/{DEFAULT_BUCKET}/{key}"),
        csv.as_bytes(),
    )
    .await
    .unwrap();
    assert_eq!(put.status, 200, "{}", put.text());
    let mut ids = Vec::new();
    for (key, name) in [(key, "fine"), ("background/missing.csv", "missing")] {
        let created = pinpoint(
            &emu,
            &signer,
            "POST",
            &app_path("/jobs/import"),
            "",
            Some(&import_request(key, name, "CSV")),
        )
        .await
        .unwrap();
        assert_eq!(created.status, 201, "{}", created.text());
        assert_eq!(created.json()["JobStatus"], "CREATED");
        ids.push(created.json()["Id"].as_str().unwrap().to_owned());
    }
    let created_at = std::time::Instant::now();

    // Watch without asking Pinpoint about the jobs.
    let mut seen: Vec<Vec<JobStatus>> = vec![Vec::new(), Vec::new()];
    let deadline = created_at + Duration::from_secs(10);
    loop {
        let jobs = emu.import_jobs(SEED_APPLICATION_ID);
        for (i, job) in jobs.iter().enumerate() {
            if seen[i].last() != Some(&job.status) {
                seen[i].push(job.status);
            }
        }
        if jobs.iter().all(|j| j.status.is_terminal()) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the jobs never ended by themselves: {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    // Five steps of 20 ms each, not at once.
    assert!(created_at.elapsed() >= Duration::from_millis(60));
    assert_eq!(seen[0].first(), Some(&JobStatus::Created), "{seen:?}");
    assert!(
        seen[0].len() >= 3,
        "the statuses went by one by one: {seen:?}"
    );
    let jobs = emu.import_jobs(SEED_APPLICATION_ID);
    assert_eq!(jobs[0].status, "COMPLETED");
    assert_eq!((jobs[0].total_processed, jobs[0].total_failures), (2, 1));
    assert_eq!(jobs[1].status, "FAILED");
    assert!(!jobs[1].failures.is_empty());
    let seg = &emu.segments(SEED_APPLICATION_ID)[0];
    assert_eq!((seg.name.as_str(), seg.size), ("fine", 2));

    // GetImportJobs (what `aws pinpoint get-import-jobs` calls) shows them ended.
    let list = pinpoint(&emu, &signer, "GET", &app_path("/jobs/import"), "", None)
        .await
        .unwrap();
    assert_eq!(list.status, 200, "{}", list.text());
    let items = list.json()["Item"].as_array().unwrap().clone();
    let status_of = |id: &str| {
        items
            .iter()
            .find(|j| j["Id"] == id)
            .map(|j| (j["JobStatus"].clone(), j["CompletionDate"].is_string()))
    };
    assert_eq!(status_of(&ids[0]), Some((json!("COMPLETED"), true)));
    assert_eq!(status_of(&ids[1]), Some((json!("FAILED"), true)));
    assert!(
        emu.requests()
            .iter()
            .all(|r| r.operation != Operation::GetImportJob)
    );
    emu.shutdown().await;
}

/// Segments' `CreationDate`s are in creation order with no two alike, however fast they
/// are made: a client that keeps the oldest segment of a name needs a strict order.
#[tokio::test]
async fn segment_creation_dates_follow_creation_order_without_ties() {
    let emu = start().await;
    let signer = Signer::default_creds();
    let mut made = Vec::new();
    for i in 0..40 {
        // Both ways a segment is made: an import job's, and a test's own.
        if i % 4 == 3 {
            made.push(emu.add_segment(SEED_APPLICATION_ID, "Same name"));
            continue;
        }
        let created = pinpoint(
            &emu,
            &signer,
            "POST",
            &app_path("/jobs/import"),
            "",
            Some(&import_request(&format!("k{i}.csv"), "Same name", "CSV")),
        )
        .await
        .unwrap();
        assert_eq!(created.status, 201, "{}", created.text());
        made.push(
            created.json()["Definition"]["SegmentId"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let a = pinpoint(
        &emu,
        &signer,
        "GET",
        &app_path("/segments"),
        "page-size=100",
        None,
    )
    .await
    .unwrap();
    let listed: Vec<(String, String)> = a.json()["Item"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["Id"].as_str().unwrap().to_owned(),
                s["CreationDate"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let ids: Vec<&str> = listed.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(ids, made, "listed in creation order");
    for pair in listed.windows(2) {
        // `yyyy-mm-ddThh:mm:ss.mmmZ`: as text, later is greater.
        assert!(pair[0].1 < pair[1].1, "{pair:?}");
    }
    assert!(
        listed
            .iter()
            .all(|(_, d)| d.len() == 24 && d.ends_with('Z'))
    );
    let infos = emu.segments(SEED_APPLICATION_ID);
    assert_eq!(infos[0].creation_date, listed[0].1);
    emu.shutdown().await;
}

/// A segment deleted while its import job runs: the job goes on and completes, and the
/// segment stays deleted (the job does not make it again). Pinpoint documents nothing
/// about this; the node never relies on it (it deletes a segment only once its job has
/// ended).
#[tokio::test]
async fn a_segment_deleted_while_its_job_runs_stays_deleted_and_the_job_completes() {
    let config = EmulatorConfig {
        job_step: Duration::MAX,
        ..EmulatorConfig::default()
    };
    let emu = Emulator::start(config, loopback()).await.unwrap();
    let signer = Signer::default_creds();
    let key = "deleted/endpoints.csv";
    let put = s3(
        &emu,
        &signer,
        "PUT",
        &format!("/{DEFAULT_BUCKET}/{key}"),
        b"ChannelType,Address\nSMS,+12065550100\n",
    )
    .await
    .unwrap();
    assert_eq!(put.status, 200, "{}", put.text());
    let created = pinpoint(
        &emu,
        &signer,
        "POST",
        &app_path("/jobs/import"),
        "",
        Some(&import_request(key, "deleted", "CSV")),
    )
    .await
    .unwrap();
    let job = created.json();
    let job_id = job["Id"].as_str().unwrap().to_owned();
    let segment_id = job["Definition"]["SegmentId"].as_str().unwrap().to_owned();
    let deleted = pinpoint(
        &emu,
        &signer,
        "DELETE",
        &app_path(&format!("/segments/{segment_id}")),
        "",
        None,
    )
    .await
    .unwrap();
    assert_eq!(deleted.status, 200, "{}", deleted.text());
    let seen = poll_until_terminal(&emu, &signer, &job_id).await;
    let done = seen.last().unwrap();
    assert_eq!(done["JobStatus"], "COMPLETED", "{seen:?}");
    assert_eq!(done["TotalProcessed"], 1);
    assert_eq!(done["Definition"]["SegmentId"], segment_id.as_str());
    assert!(emu.segments(SEED_APPLICATION_ID).is_empty());
    let again = pinpoint(
        &emu,
        &signer,
        "DELETE",
        &app_path(&format!("/segments/{segment_id}")),
        "",
        None,
    )
    .await
    .unwrap();
    assert_eq!(again.status, 404);
    assert_eq!(again.header("x-amzn-errortype"), Some("NotFoundException"));
    emu.shutdown().await;
}

/// The job runner's knobs and lifetime: `job_step` zero ends jobs at once, `MAX` leaves
/// them to polls; `shutdown` returns although jobs are still running, and dropping the
/// emulator ends its tasks (the store's temporary directory goes with them).
#[tokio::test]
async fn the_job_runner_follows_job_step_and_stops_with_the_emulator() {
    let signer = Signer::default_creds();
    let start_with = |job_step| async move {
        let config = EmulatorConfig {
            job_step,
            ..EmulatorConfig::default()
        };
        let emu = Emulator::start(config, loopback()).await.unwrap();
        emu.put_object(DEFAULT_BUCKET, "k.csv", b"ChannelType,Address\nSMS,+1\n")
            .unwrap();
        emu
    };
    let create = |emu: &Emulator| {
        let emu_addr = emu.local_addr();
        let signer = signer.clone();
        async move {
            let body = import_request("k.csv", "s", "CSV").to_string().into_bytes();
            let host = emu_addr.to_string();
            let path = app_path("/jobs/import");
            let headers = signer.sign("mobiletargeting", "POST", &path, "", &host, &body);
            let a = send(emu_addr, "POST", &path, &headers, &body)
                .await
                .unwrap();
            assert_eq!(a.status, 201, "{}", a.text());
        }
    };

    // Zero: the job ends right away.
    let emu = start_with(Duration::ZERO).await;
    create(&emu).await;
    let ended = tokio::time::timeout(Duration::from_secs(5), async {
        while !emu.import_jobs(SEED_APPLICATION_ID)[0].status.is_terminal() {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await;
    assert!(ended.is_ok(), "{:?}", emu.import_jobs(SEED_APPLICATION_ID));
    assert_eq!(emu.import_jobs(SEED_APPLICATION_ID)[0].status, "COMPLETED");
    emu.shutdown().await;

    // MAX: only polls move it; shutdown does not wait for the job.
    let emu = start_with(Duration::MAX).await;
    create(&emu).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(emu.import_jobs(SEED_APPLICATION_ID)[0].status, "CREATED");
    tokio::time::timeout(Duration::from_secs(5), emu.shutdown())
        .await
        .expect("shutdown returns while a job runs");

    // Dropped with a job running: the tasks end and release the store.
    let emu = start_with(Duration::from_secs(3600)).await;
    create(&emu).await;
    let root = emu.shared.store.root().to_path_buf();
    assert!(root.exists());
    drop(emu);
    let released = tokio::time::timeout(Duration::from_secs(5), async {
        while root.exists() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    assert!(released.is_ok(), "{} is still there", root.display());
}

#[tokio::test]
async fn request_validation_and_unknown_routes() {
    let emu = start().await;
    let signer = Signer::default_creds();
    for (body, needle) in [
        (import_request("k.csv", "n", "XML"), "Format"),
        (
            json!({"ImportJobRequest": import_request("k.csv", "n", "CSV")}),
            "ImportJobRequest",
        ),
        (
            json!({"Format": "CSV", "S3Url": "https://bucket/k", "RoleArn": DEFAULT_ROLE_ARN}),
            "S3Url",
        ),
        (
            json!({"Format": "CSV", "S3Url": "s3://b/k", "RoleArn": "role"}),
            "RoleArn",
        ),
    ] {
        let a = pinpoint(
            &emu,
            &signer,
            "POST",
            &app_path("/jobs/import"),
            "",
            Some(&body),
        )
        .await
        .unwrap();
        assert_eq!(a.status, 400, "{}", a.text());
        assert_eq!(a.header("x-amzn-errortype"), Some("BadRequestException"));
        assert!(a.json()["Message"].as_str().unwrap().contains(needle));
    }
    let a = pinpoint(
        &emu,
        &signer,
        "POST",
        "/v1/apps/nope/jobs/import",
        "",
        Some(&import_request("k.csv", "n", "CSV")),
    )
    .await
    .unwrap();
    assert_eq!(a.status, 404);
    let a = pinpoint(&emu, &signer, "PUT", &app_path(""), "", None)
        .await
        .unwrap();
    assert_eq!(a.status, 405);
    assert_eq!(
        a.header("x-amzn-errortype"),
        Some("MethodNotAllowedException")
    );
    let a = pinpoint(&emu, &signer, "GET", "/v1/unknown/thing", "", None)
        .await
        .unwrap();
    assert_eq!(a.status, 404);
    assert_eq!(
        a.header("x-amzn-errortype"),
        Some("UnknownOperationException")
    );
    let a = pinpoint(
        &emu,
        &signer,
        "GET",
        &app_path("/jobs/import/nojob"),
        "",
        None,
    )
    .await
    .unwrap();
    assert_eq!(a.status, 404);
    assert!(emu.segments(SEED_APPLICATION_ID).is_empty());
    emu.shutdown().await;
}

#[tokio::test]
async fn get_segments_pages_with_tokens_and_delete_segment() {
    let emu = start().await;
    let signer = Signer::default_creds();
    let mut ids = Vec::new();
    for i in 0..23 {
        ids.push(emu.add_segment(SEED_APPLICATION_ID, &format!("seg-{i:02}")));
    }
    let mut names = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let query = match &token {
            None => String::new(),
            Some(t) => format!("token={}", sigv4_verify::uri_encode(t.as_bytes())),
        };
        let a = pinpoint(&emu, &signer, "GET", &app_path("/segments"), &query, None)
            .await
            .unwrap();
        assert_eq!(a.status, 200, "{}", a.text());
        let body = a.json();
        pages += 1;
        for item in body["Item"].as_array().unwrap() {
            assert_eq!(item["SegmentType"], "DIMENSIONAL");
            names.push(item["Name"].as_str().unwrap().to_owned());
        }
        match body.get("NextToken").and_then(Value::as_str) {
            Some(t) => {
                assert!(t.contains('+') && t.contains('/') && t.contains('='));
                token = Some(t.to_owned());
            }
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(names.len(), 23);
    assert_eq!(names[22], "seg-22");

    // page-size is honoured; bad values and tokens are 400s.
    let a = pinpoint(
        &emu,
        &signer,
        "GET",
        &app_path("/segments"),
        "page-size=5",
        None,
    )
    .await
    .unwrap();
    assert_eq!(a.json()["Item"].as_array().unwrap().len(), 5);
    for q in [
        "page-size=zero",
        "token=bogus",
        "token=10+segments/000000000000=",
    ] {
        let a = pinpoint(&emu, &signer, "GET", &app_path("/segments"), q, None)
            .await
            .unwrap();
        assert_eq!(a.status, 400, "{q}: {}", a.text());
        assert_eq!(a.header("x-amzn-errortype"), Some("BadRequestException"));
    }
    // A valid token sent without percent-encoding: `+` reads as a space, so it is refused.
    let a = pinpoint(&emu, &signer, "GET", &app_path("/segments"), "", None)
        .await
        .unwrap();
    let raw = a.json()["NextToken"].as_str().unwrap().to_owned();
    let a = pinpoint(
        &emu,
        &signer,
        "GET",
        &app_path("/segments"),
        &format!("token={raw}"),
        None,
    )
    .await
    .unwrap();
    assert_eq!(a.status, 400, "{}", a.text());

    // DeleteSegment answers the deleted segment; it is gone afterwards.
    let a = pinpoint(
        &emu,
        &signer,
        "DELETE",
        &app_path(&format!("/segments/{}", ids[0])),
        "",
        None,
    )
    .await
    .unwrap();
    assert_eq!(a.status, 200);
    assert_eq!(a.json()["Id"], ids[0].as_str());
    let a = pinpoint(
        &emu,
        &signer,
        "GET",
        &app_path(&format!("/segments/{}", ids[0])),
        "",
        None,
    )
    .await
    .unwrap();
    assert_eq!(a.status, 404);
    assert_eq!(emu.segments(SEED_APPLICATION_ID).len(), 22);
    emu.shutdown().await;
}

/// `DelayAnswer` answers late with the state at arrival, and what the request did is
/// visible at once; `Delay` acts late.
#[tokio::test]
async fn a_delayed_answer_shows_the_state_at_arrival() {
    let emu = start().await;
    let signer = Signer::default_creds();
    let hold = Duration::from_secs(1);
    // Until `op`'s fault is taken (the request arrived), plus time to act on it.
    let arrived = |op| {
        let emu = &emu;
        async move {
            while emu.pending_faults(op) > 0 {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    emu.inject(Operation::GetSegments, Fault::DelayAnswer(hold));
    let started = std::time::Instant::now();
    let (addr, host) = (emu.local_addr(), emu.local_addr().to_string());
    let path = app_path("/segments");
    let headers = signer.sign("mobiletargeting", "GET", &path, "", &host, b"");
    let held = tokio::spawn(async move { send(addr, "GET", &path, &headers, b"").await });
    arrived(Operation::GetSegments).await;
    // Made while the answer is held: not in it.
    emu.add_segment(SEED_APPLICATION_ID, "made meanwhile");
    assert!(!held.is_finished(), "the answer is held");
    let a = held.await.unwrap().unwrap();
    assert!(started.elapsed() >= hold);
    assert_eq!(a.status, 200, "{}", a.text());
    assert!(
        a.json()["Item"].as_array().unwrap().is_empty(),
        "{}",
        a.text()
    );
    // `Delay` waits first, then lists: it sees what was made while it waited.
    emu.inject(Operation::GetSegments, Fault::Delay(hold));
    let b = pinpoint(&emu, &signer, "GET", &app_path("/segments"), "", None)
        .await
        .unwrap();
    assert_eq!(b.json()["Item"].as_array().unwrap().len(), 1);
    // A held PutObject has stored the object before it answers.
    emu.inject(Operation::PutObject, Fault::DelayAnswer(hold));
    let path = format!("/{DEFAULT_BUCKET}/held.csv");
    let headers = signer.sign("s3", "PUT", &path, "", &host, b"x");
    let put = tokio::spawn(async move { send(addr, "PUT", &path, &headers, b"x").await });
    arrived(Operation::PutObject).await;
    assert_eq!(emu.objects(DEFAULT_BUCKET), ["held.csv"]);
    assert!(!put.is_finished(), "the answer is held");
    assert_eq!(put.await.unwrap().unwrap().status, 200);
    emu.shutdown().await;
}

#[tokio::test]
async fn faults_are_consumed_in_order() {
    let emu = start().await;
    let signer = Signer::default_creds();
    emu.inject(Operation::GetApp, Fault::throttled());
    emu.inject(Operation::GetApp, Fault::internal_error());
    emu.inject(Operation::GetApp, Fault::Delay(Duration::from_millis(200)));
    assert_eq!(emu.pending_faults(Operation::GetApp), 3);
    let statuses = [429, 500, 200, 200];
    for (i, expected) in statuses.into_iter().enumerate() {
        let started = std::time::Instant::now();
        let a = pinpoint(&emu, &signer, "GET", &app_path(""), "", None)
            .await
            .unwrap();
        assert_eq!(a.status, expected, "request {i}");
        if i == 0 {
            assert_eq!(
                a.header("x-amzn-errortype"),
                Some("TooManyRequestsException")
            );
            assert!(a.json()["Message"].is_string());
        }
        if i == 2 {
            assert!(started.elapsed() >= Duration::from_millis(200));
        }
    }
    assert_eq!(emu.pending_faults(Operation::GetApp), 0);

    // S3 faults answer S3 XML errors.
    emu.inject(
        Operation::PutObject,
        Fault::status(503, "SlowDown", "Please reduce your request rate."),
    );
    let a = s3(
        &emu,
        &signer,
        "PUT",
        &format!("/{DEFAULT_BUCKET}/f.csv"),
        b"x",
    )
    .await
    .unwrap();
    assert_eq!(a.status, 503);
    assert!(a.text().contains("<Code>SlowDown</Code>"));
    assert!(emu.objects(DEFAULT_BUCKET).is_empty());

    // Reset before processing: no answer, no object.
    emu.inject(Operation::PutObject, Fault::ResetBeforeProcessing);
    let err = s3(
        &emu,
        &signer,
        "PUT",
        &format!("/{DEFAULT_BUCKET}/f.csv"),
        b"x",
    )
    .await
    .err()
    .expect("the connection is reset");
    assert!(err.contains("ConnectionReset"), "{err}");
    assert!(emu.objects(DEFAULT_BUCKET).is_empty());
    // Reset after processing: no answer, but the object was stored.
    emu.inject(Operation::PutObject, Fault::ResetAfterProcessing);
    let err = s3(
        &emu,
        &signer,
        "PUT",
        &format!("/{DEFAULT_BUCKET}/f.csv"),
        b"x",
    )
    .await
    .err()
    .expect("the connection is reset");
    assert!(err.contains("ConnectionReset"), "{err}");
    assert_eq!(emu.objects(DEFAULT_BUCKET), vec!["f.csv"]);
    // Reset after CreateImportJob: the job exists although the client saw no answer.
    emu.inject(Operation::CreateImportJob, Fault::ResetAfterProcessing);
    let r = pinpoint(
        &emu,
        &signer,
        "POST",
        &app_path("/jobs/import"),
        "",
        Some(&import_request("f.csv", "r", "CSV")),
    )
    .await;
    assert!(r.is_err());
    assert_eq!(emu.import_jobs(SEED_APPLICATION_ID).len(), 1);
    let resets: Vec<_> = emu
        .requests()
        .into_iter()
        .filter(|r| r.status.is_none())
        .collect();
    assert_eq!(resets.len(), 3);

    // FailJob: the next created job ends FAILED with the given failures.
    emu.put_object(
        DEFAULT_BUCKET,
        "ok.csv",
        b"ChannelType,Address\nSMS,+12065550100\n",
    )
    .unwrap();
    emu.inject(
        Operation::CreateImportJob,
        Fault::FailJob {
            failures: vec!["role cannot read the bucket".into()],
        },
    );
    let created = pinpoint(
        &emu,
        &signer,
        "POST",
        &app_path("/jobs/import"),
        "",
        Some(&import_request("ok.csv", "doomed", "CSV")),
    )
    .await
    .unwrap();
    assert_eq!(created.status, 201);
    let id = created.json()["Id"].as_str().unwrap().to_owned();
    let done = poll_until_terminal(&emu, &signer, &id).await;
    let last = done.last().unwrap();
    assert_eq!(last["JobStatus"], "FAILED");
    assert_eq!(last["Failures"][0], "role cannot read the bucket");
    // The one after is fine again.
    let created = pinpoint(
        &emu,
        &signer,
        "POST",
        &app_path("/jobs/import"),
        "",
        Some(&import_request("ok.csv", "fine", "CSV")),
    )
    .await
    .unwrap();
    let id = created.json()["Id"].as_str().unwrap().to_owned();
    assert_eq!(
        poll_until_terminal(&emu, &signer, &id)
            .await
            .last()
            .unwrap()["JobStatus"],
        "COMPLETED"
    );

    // FailJob on GetImportJob: that poll answers FAILING, the next FAILED.
    let created = pinpoint(
        &emu,
        &signer,
        "POST",
        &app_path("/jobs/import"),
        "",
        Some(&import_request("ok.csv", "late", "CSV")),
    )
    .await
    .unwrap();
    let id = created.json()["Id"].as_str().unwrap().to_owned();
    let job_path = app_path(&format!("/jobs/import/{id}"));
    let first = pinpoint(&emu, &signer, "GET", &job_path, "", None)
        .await
        .unwrap();
    assert_eq!(first.json()["JobStatus"], "PREPARING_FOR_INITIALIZATION");
    emu.inject(
        Operation::GetImportJob,
        Fault::FailJob {
            failures: vec!["late failure".into()],
        },
    );
    let failing = pinpoint(&emu, &signer, "GET", &job_path, "", None)
        .await
        .unwrap();
    assert_eq!(failing.json()["JobStatus"], "FAILING");
    let failed = pinpoint(&emu, &signer, "GET", &job_path, "", None)
        .await
        .unwrap();
    assert_eq!(failed.json()["JobStatus"], "FAILED");
    assert_eq!(failed.json()["Failures"][0], "late failure");
    let info = emu.import_jobs(SEED_APPLICATION_ID);
    assert_eq!(info.last().unwrap().status, JobStatus::Failed);
    emu.shutdown().await;
}

#[tokio::test]
async fn concurrent_emulators_are_independent() {
    let (a, b) = tokio::join!(start(), start());
    assert_ne!(a.local_addr(), b.local_addr());
    assert!(a.endpoint_url().starts_with("http://127.0.0.1:"));
    a.put_object(DEFAULT_BUCKET, "only-a.csv", b"x").unwrap();
    a.add_segment(SEED_APPLICATION_ID, "s");
    assert!(b.objects(DEFAULT_BUCKET).is_empty());
    assert!(b.segments(SEED_APPLICATION_ID).is_empty());
    a.shutdown().await;
    // b still serves after a is gone.
    let r = pinpoint(&b, &Signer::default_creds(), "GET", &app_path(""), "", None)
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    drop(b);
}
