//! The S3 requests that stage the endpoint file. Their URL comes parsed
//! (and its errors typed) from [`super::urls::s3_object_uri`].

use super::Request;
use super::sign::StreamedPayload;

/// How S3 checks the bytes of a streamed `PutObject`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadCheck {
    /// The body's SHA-256, signed as the payload hash
    /// (`x-amz-content-sha256`): S3 refuses the object
    /// (`XAmzContentSHA256Mismatch`) if the bytes differ, and nobody on the
    /// way can change the hash (the signature covers it). For plain HTTP.
    SignedSha256([u8; 32]),
    /// `UNSIGNED-PAYLOAD` with the body's CRC32C in `x-amz-checksum-crc32c`
    /// (and `x-amz-sdk-checksum-algorithm: CRC32C`), as the AWS SDKs and CLI
    /// send `PutObject`: S3 refuses the object (`BadDigest`) if the bytes
    /// differ. For HTTPS, where TLS protects the bytes on the way; a CRC32C
    /// costs a fraction of a SHA-256.
    UnsignedCrc32c(u32),
}

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

/// `PutObject` at `object_url` of a body sent as a stream (the import host's `Body`)
/// that S3 checks by `check`: the request carries no body, only the signed
/// SHA-256 ([`StreamedPayload::Sha256`]) or the CRC32C header with
/// [`StreamedPayload::Unsigned`]. S3 refuses the object if the bytes it receives
/// differ, as for a body in memory.
pub fn put_object_streamed(
    object_url: &http::Uri,
    check: PayloadCheck,
    content_type: &'static str,
) -> Request {
    let mut r = put_object(object_url, Vec::new(), content_type);
    match check {
        PayloadCheck::SignedSha256(sha256) => {
            r.extensions_mut()
                .insert(StreamedPayload::Sha256(hex::encode(sha256)));
        }
        PayloadCheck::UnsignedCrc32c(crc) => {
            let headers = r.headers_mut();
            headers.insert(
                "x-amz-sdk-checksum-algorithm",
                http::HeaderValue::from_static("CRC32C"),
            );
            if let Ok(value) =
                http::HeaderValue::from_str(&aws_smithy_types::base64::encode(crc.to_be_bytes()))
            {
                headers.insert("x-amz-checksum-crc32c", value);
            }
            r.extensions_mut().insert(StreamedPayload::Unsigned);
        }
    }
    r
}

/// `DeleteObject` at `object_url` (204 on success, also when absent).
pub fn delete_object(object_url: &http::Uri) -> Request {
    let mut r = http::Request::new(Vec::new());
    *r.method_mut() = http::Method::DELETE;
    *r.uri_mut() = object_url.clone();
    r
}

/// `ListObjectsV2` at `list_url` (from [`super::urls::s3_list_uri`]).
pub fn list_objects(list_url: &http::Uri) -> Request {
    let mut r = http::Request::new(Vec::new());
    *r.method_mut() = http::Method::GET;
    *r.uri_mut() = list_url.clone();
    r
}

/// The keys a `ListObjectsV2` answer lists (`<Contents><Key>`), unescaped.
pub fn listed_keys(body: &[u8]) -> Vec<String> {
    let xml = String::from_utf8_lossy(body);
    let mut keys = Vec::new();
    let mut rest = xml.as_ref();
    while let Some(start) = rest.find("<Key>") {
        rest = &rest[start + "<Key>".len()..];
        let Some(end) = rest.find("</Key>") else {
            break;
        };
        keys.push(xml_unescape(&rest[..end]));
        rest = &rest[end..];
    }
    keys
}

/// The five predefined XML entities and numeric character references.
fn xml_unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let Some(semi) = rest.find(';') else {
            break;
        };
        let entity = &rest[1..semi];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[semi + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_crc32c_upload_sends_the_checksum_headers_the_sdks_send() {
        let url: http::Uri = "https://s3.us-east-1.amazonaws.com/b/k.csv"
            .parse()
            .unwrap();
        // CRC32C("123456789") = 0xE3069283 (the check value of the Castagnoli CRC).
        let r = put_object_streamed(&url, PayloadCheck::UnsignedCrc32c(0xE306_9283), "text/csv");
        assert_eq!(r.headers()["x-amz-checksum-crc32c"], "4waSgw==");
        assert_eq!(r.headers()["x-amz-sdk-checksum-algorithm"], "CRC32C");
        assert_eq!(
            r.extensions().get::<StreamedPayload>(),
            Some(&StreamedPayload::Unsigned)
        );
        let signed = put_object_streamed(&url, PayloadCheck::SignedSha256([7; 32]), "text/csv");
        assert!(signed.headers().get("x-amz-checksum-crc32c").is_none());
        assert_eq!(
            signed.extensions().get::<StreamedPayload>(),
            Some(&StreamedPayload::Sha256(hex::encode([7; 32])))
        );
    }

    #[test]
    fn listed_keys_are_read_and_unescaped() {
        let body = br#"<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><Prefix>p/</Prefix><KeyCount>2</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated><Contents><Key>p/a-0123.csv</Key><Size>3</Size></Contents><Contents><Key>p/x&amp;y&lt;&#x41;&#66;.csv</Key><Size>3</Size></Contents></ListBucketResult>"#;
        assert_eq!(listed_keys(body), ["p/a-0123.csv", "p/x&y<AB.csv"]);
        assert!(listed_keys(b"<ListBucketResult></ListBucketResult>").is_empty());
        assert_eq!(listed_keys(b"<Key>a &bogus; &amp"), Vec::<String>::new());
        assert_eq!(xml_unescape("a &bogus; &amp"), "a &bogus; &amp");
    }
}
