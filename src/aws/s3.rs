//! The S3 requests that stage the endpoint file. Their URL comes parsed
//! (and its errors typed) from [`super::urls::s3_object_uri`].

use super::Request;

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

/// `DeleteObject` at `object_url` (204 on success, also when absent).
pub fn delete_object(object_url: &http::Uri) -> Request {
    let mut r = http::Request::new(Vec::new());
    *r.method_mut() = http::Method::DELETE;
    *r.uri_mut() = object_url.clone();
    r
}
