//! The S3 requests that stage the endpoint file. Their URL comes parsed
//! (and its errors typed) from [`super::urls::s3_object_uri`].

use super::Request;
use super::sign::PayloadSha256;

/// `PutObject` of `body` at `object_url`. No checksum headers: the signed
/// payload hash (`x-amz-content-sha256`) already makes S3 verify the bytes.
pub fn put_object(object_url: &http::Uri, body: Vec<u8>, content_type: &'static str) -> Request {
    let mut r = http::Request::new(body);
    *r.method_mut() = http::Method::PUT;
    *r.uri_mut() = object_url.clone();
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static(content_type),
    );
    r
}

/// `PutObject` at `object_url` of a body sent as a stream ([`crate::import::Body`])
/// whose SHA-256 is `sha256`: the request carries no body, only the hash,
/// which is signed as the payload hash ([`PayloadSha256`]). S3 checks the
/// bytes it receives against that signed hash and refuses the object
/// (`XAmzContentSHA256Mismatch`) if they differ, as for a body in memory.
pub fn put_object_streamed(
    object_url: &http::Uri,
    sha256: &[u8; 32],
    content_type: &'static str,
) -> Request {
    let mut r = put_object(object_url, Vec::new(), content_type);
    r.extensions_mut()
        .insert(PayloadSha256(hex::encode(sha256)));
    r
}

/// `DeleteObject` at `object_url` (204 on success, also when absent).
pub fn delete_object(object_url: &http::Uri) -> Request {
    let mut r = http::Request::new(Vec::new());
    *r.method_mut() = http::Method::DELETE;
    *r.uri_mut() = object_url.clone();
    r
}
