//! The emulated S3: `s3s` + `s3s-fs` over a temporary directory, plus direct access to
//! the stored objects for import jobs and test inspection.
//!
//! `s3s-fs` keeps an object `key` of `bucket` at `root/bucket/key` (its metadata and
//! temporary files live directly under `root`, never inside a bucket directory). It joins
//! the key to the bucket's path as a relative path, so a key with `..` segments
//! (`a/../../x`, or `..%2Fother-bucket%2Fx` once decoded) would name a file outside the
//! bucket: [`KeyGuard`] refuses such keys before s3s-fs sees them, and [`Store`] applies
//! the same rule.
//!
//! s3s-fs deletes an object's file but keeps its two sidecars in the root
//! (`.bucket-{bucket}.object-{key}.metadata.json` and `.internal.json`, both names
//! base64url-encoded) and the directories of its key: [`Store::sweep_deleted`] removes
//! them, so a long-lived emulator's directory does not grow with every run.

use std::io;
use std::path::{Component, Path, PathBuf};

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode};
use s3s::access::{S3Access, S3AccessContext};
use s3s::auth::SimpleAuth;
use s3s::dto::{CopyObjectInput, CopySource, DeleteObjectsInput, UploadPartCopyInput};
use s3s::service::{S3Service, S3ServiceBuilder};
use s3s::{Body, S3Request, S3Result, s3_error};
use time::OffsetDateTime;

use super::Credentials;
use super::faults::Operation;
use super::sigv4_verify::{MAX_SKEW, parse_amz_date};
use super::util::{iso8601, request_id, xml_escape};

/// Whether an object key maps to a file inside its bucket's directory: not empty, no
/// leading `/` (an absolute path), no NUL, and no `.` or `..` segment between slashes.
/// (S3 itself keeps such keys as opaque names; the emulator, which stores keys as
/// paths, refuses them.)
pub(crate) fn key_stays_in_bucket(key: &str) -> bool {
    !key.is_empty()
        && !key.starts_with('/')
        && !key.contains('\0')
        && key
            .split('/')
            .all(|segment| segment != "." && segment != "..")
}

/// The answer to a key that [`key_stays_in_bucket`] refuses: a 400 `InvalidArgument`.
fn check_key(key: &str) -> S3Result<()> {
    if key_stays_in_bucket(key) {
        return Ok(());
    }
    let shown: String = key.chars().take(64).collect();
    Err(s3_error!(
        InvalidArgument,
        "Object key {shown:?} has a '.' or '..' segment or starts with '/': the emulator \
         stores keys as paths and refuses keys that could leave the bucket"
    ))
}

fn check_copy_source(source: &CopySource) -> S3Result<()> {
    match source {
        CopySource::Bucket { key, .. } => check_key(key),
        // s3s-fs answers NotImplemented to these.
        CopySource::AccessPoint { .. } | CopySource::Outpost { .. } => Ok(()),
    }
}

/// s3s access control that refuses object keys which would leave their bucket's
/// directory: in the path, in CopyObject's and UploadPartCopy's source, and in
/// DeleteObjects' body. Anonymous requests are refused as s3s's default does.
struct KeyGuard;

#[async_trait::async_trait]
impl S3Access for KeyGuard {
    async fn check(&self, cx: &mut S3AccessContext<'_>) -> S3Result<()> {
        if cx.credentials().is_none() {
            return Err(s3_error!(AccessDenied, "Signature is required"));
        }
        match cx.s3_path().as_object() {
            Some((_, key)) => check_key(key),
            None => Ok(()),
        }
    }

    async fn copy_object(&self, req: &mut S3Request<CopyObjectInput>) -> S3Result<()> {
        check_copy_source(&req.input.copy_source)
    }

    async fn upload_part_copy(&self, req: &mut S3Request<UploadPartCopyInput>) -> S3Result<()> {
        check_copy_source(&req.input.copy_source)
    }

    async fn delete_objects(&self, req: &mut S3Request<DeleteObjectsInput>) -> S3Result<()> {
        req.input
            .delete
            .objects
            .iter()
            .try_for_each(|o| check_key(&o.key))
    }
}

/// Builds the s3s service over `root` with every credential registered.
pub(crate) fn build_service(root: &Path, credentials: &[Credentials]) -> anyhow::Result<S3Service> {
    let fs = s3s_fs::FileSystem::new(root)
        .map_err(|e| anyhow::anyhow!("cannot open the S3 store at {}: {e:?}", root.display()))?;
    let mut auth = SimpleAuth::new();
    for c in credentials {
        auth.register(
            c.access_key_id().to_owned(),
            c.secret_access_key().to_owned().into(),
        );
    }
    let mut builder = S3ServiceBuilder::new(fs);
    builder.set_auth(auth);
    builder.set_access(KeyGuard);
    Ok(builder.build())
}

/// Direct file-system access to the objects `s3s-fs` stores.
#[derive(Debug, Clone)]
pub(crate) struct Store {
    root: PathBuf,
}

/// A bucket name is safe to map to a path if it has no `..`, no absolute part.
fn safe_relative(s: &str) -> bool {
    !s.is_empty()
        && Path::new(s)
            .components()
            .all(|c| matches!(c, Component::Normal(_)))
}

impl Store {
    /// A store rooted at `root` (the directory s3s-fs serves).
    pub(crate) fn new(root: PathBuf) -> Store {
        Store { root }
    }

    /// The directory s3s-fs serves.
    #[cfg(test)]
    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    fn bucket_path(&self, bucket: &str) -> Option<PathBuf> {
        (safe_relative(bucket) && !bucket.contains('/') && !bucket.starts_with('.'))
            .then(|| self.root.join(bucket))
    }

    fn object_path(&self, bucket: &str, key: &str) -> Option<PathBuf> {
        if !key_stays_in_bucket(key) || key.ends_with('/') {
            return None;
        }
        self.bucket_path(bucket).map(|b| b.join(key))
    }

    /// Creates the bucket's directory (idempotent).
    pub(crate) fn create_bucket(&self, bucket: &str) -> io::Result<()> {
        let path = self.bucket_path(bucket).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("invalid bucket name {bucket:?}"),
            )
        })?;
        std::fs::create_dir_all(path)
    }

    /// Whether the bucket exists.
    pub(crate) fn bucket_exists(&self, bucket: &str) -> bool {
        self.bucket_path(bucket).is_some_and(|p| p.is_dir())
    }

    /// Keys of the bucket starting with `prefix`, sorted; `None` if there is no bucket.
    pub(crate) fn list(&self, bucket: &str, prefix: &str) -> Option<Vec<String>> {
        let dir = self.bucket_path(bucket).filter(|p| p.is_dir())?;
        let mut keys = Vec::new();
        let mut stack = vec![(dir, String::new())];
        while let Some((dir, rel)) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                let key = if rel.is_empty() {
                    name
                } else {
                    format!("{rel}/{name}")
                };
                match entry.file_type() {
                    Ok(t) if t.is_dir() => stack.push((entry.path(), key)),
                    Ok(t) if t.is_file() && key.starts_with(prefix) => keys.push(key),
                    _ => {}
                }
            }
        }
        keys.sort();
        Some(keys)
    }

    /// The object's file, opened for reading, if it exists.
    pub(crate) fn open(&self, bucket: &str, key: &str) -> Option<std::fs::File> {
        let path = self.object_path(bucket, key)?;
        path.is_file()
            .then(|| std::fs::File::open(path).ok())
            .flatten()
    }

    /// The object's bytes, if it exists.
    pub(crate) fn read(&self, bucket: &str, key: &str) -> Option<Vec<u8>> {
        let path = self.object_path(bucket, key)?;
        path.is_file().then(|| std::fs::read(path).ok()).flatten()
    }

    /// Stores an object directly (bypassing HTTP), creating the bucket if needed.
    pub(crate) fn write(&self, bucket: &str, key: &str, data: &[u8]) -> io::Result<()> {
        let path = self.object_path(bucket, key).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("invalid bucket or key {bucket:?}/{key:?}"),
            )
        })?;
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let tmp = self
            .root
            .join(format!(".tmp.direct-{}.part", super::util::hex_id(16)));
        std::fs::write(&tmp, data)?;
        std::fs::rename(&tmp, &path)
    }
}

/// The bucket and key of an s3s-fs object sidecar's file name
/// (`.bucket-{b64}.object-{b64}.metadata.json` or `.internal.json`); `None` for any
/// other name, including the metadata of a multipart upload in progress
/// (`....upload-{id}.metadata.json`, which s3s-fs removes itself).
fn sidecar_object(name: &str) -> Option<(String, String)> {
    let rest = name.strip_prefix(".bucket-")?;
    let rest = rest
        .strip_suffix(".metadata.json")
        .or_else(|| rest.strip_suffix(".internal.json"))?;
    // The base64url alphabet has no '.': the first ".object-" separates the two.
    let (bucket, key) = rest.split_once(".object-")?;
    let text = |b64: &str| String::from_utf8(base64url_decode(b64)?).ok();
    Some((text(bucket)?, text(key)?))
}

/// Decodes unpadded base64url (RFC 4648 section 5), as s3s-fs encodes sidecar names.
fn base64url_decode(text: &str) -> Option<Vec<u8>> {
    let sextet = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            _ => return None,
        } as u32)
    };
    if text.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    for chunk in text.as_bytes().chunks(4) {
        let mut bits = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            bits |= sextet(*c)? << (18 - 6 * i);
        }
        let bytes = bits.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    Some(out)
}

impl Store {
    /// Removes what s3s-fs keeps of objects that are gone: their sidecars, and the
    /// directories of their keys that are left empty (never a bucket's own
    /// directory). Call it while no S3 request is in flight: a write in progress
    /// could need a directory this removes.
    pub(crate) fn sweep_deleted(&self) -> io::Result<()> {
        for entry in std::fs::read_dir(&self.root)?.flatten() {
            let name = entry.file_name();
            let Some((bucket, key)) = name.to_str().and_then(sidecar_object) else {
                continue;
            };
            let Some(object) = self.object_path(&bucket, &key) else {
                continue;
            };
            if object.exists() {
                continue;
            }
            let _ = std::fs::remove_file(entry.path());
            let Some(bucket_dir) = self.bucket_path(&bucket) else {
                continue;
            };
            // Empty directories of the key, innermost first.
            let mut dir = object.parent();
            while let Some(d) = dir.filter(|d| d.starts_with(&bucket_dir) && *d != bucket_dir) {
                if std::fs::remove_dir(d).is_err() {
                    break;
                }
                dir = d.parent();
            }
        }
        Ok(())
    }
}

/// Recognises the S3 operation of a path-style request.
pub(crate) fn classify(
    method: &http::Method,
    path: &str,
    query: &str,
    has_copy_source: bool,
) -> Operation {
    let has = |name: &str| {
        query
            .split('&')
            .any(|p| p == name || p.starts_with(&format!("{name}=")))
    };
    let trimmed = path.trim_start_matches('/');
    let (bucket, key) = match trimmed.split_once('/') {
        Some((b, k)) => (b, k),
        None => (trimmed, ""),
    };
    use http::Method as M;
    if bucket.is_empty() {
        return if *method == M::GET {
            Operation::ListBuckets
        } else {
            Operation::OtherS3
        };
    }
    if key.is_empty() {
        return match *method {
            M::PUT if query.is_empty() => Operation::CreateBucket,
            M::DELETE if query.is_empty() => Operation::DeleteBucket,
            M::HEAD => Operation::HeadBucket,
            M::GET if has("list-type") => Operation::ListObjectsV2,
            M::GET if query.is_empty() || has("prefix") || has("marker") || has("delimiter") => {
                Operation::ListObjects
            }
            M::POST if has("delete") => Operation::DeleteObjects,
            _ => Operation::OtherS3,
        };
    }
    match *method {
        M::PUT if has("uploadId") => Operation::UploadPart,
        M::PUT if has_copy_source => Operation::CopyObject,
        M::PUT if query.is_empty() => Operation::PutObject,
        M::GET if query.is_empty() || has("versionId") || has("partNumber") => Operation::GetObject,
        M::HEAD => Operation::HeadObject,
        M::DELETE if has("uploadId") => Operation::AbortMultipartUpload,
        M::DELETE => Operation::DeleteObject,
        M::POST if has("uploads") => Operation::CreateMultipartUpload,
        M::POST if has("uploadId") => Operation::CompleteMultipartUpload,
        _ => Operation::OtherS3,
    }
}

/// The `RequestTimeTooSkewed` answer for a request whose `x-amz-date` is more than
/// 15 minutes away from `now` (either way), as S3 gives it; `None` when the date is
/// close enough or does not parse (s3s then refuses it).
pub(crate) fn skew_error(amz_date: &str, now: OffsetDateTime) -> Option<Response<Body>> {
    let when = parse_amz_date(amz_date)?;
    if (when - now).abs() <= MAX_SKEW {
        return None;
    }
    let mut server_time = iso8601(now);
    // S3 writes it to the second: `2026-12-01T12:00:00Z`.
    server_time.replace_range(19.., "Z");
    let max_ms = MAX_SKEW.whole_milliseconds().to_string();
    Some(error_response(
        403,
        "RequestTimeTooSkewed",
        "The difference between the request time and the current time is too large.",
        &[
            ("RequestTime", amz_date),
            ("ServerTime", &server_time),
            ("MaxAllowedSkewMilliseconds", &max_ms),
        ],
    ))
}

/// An S3 XML error response.
pub(crate) fn error_response(
    status: u16,
    code: &str,
    message: &str,
    extra: &[(&str, &str)],
) -> Response<Body> {
    let rid = request_id().replace('-', "").to_uppercase();
    let mut xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{}</Code><Message>{}</Message>",
        xml_escape(code),
        xml_escape(message)
    );
    for (k, v) in extra {
        xml.push_str(&format!("<{k}>{}</{k}>", xml_escape(v)));
    }
    xml.push_str(&format!(
        "<RequestId>{}</RequestId><HostId>emulator</HostId></Error>",
        &rid[..16]
    ));
    let mut resp = Response::new(Body::from(Bytes::from(xml)));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let h = resp.headers_mut();
    h.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml"),
    );
    if let Ok(v) = HeaderValue::from_str(&rid[..16]) {
        h.insert("x-amz-request-id", v);
    }
    h.insert("x-amz-id-2", HeaderValue::from_static("emulator"));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::Method;

    #[test]
    fn classifies_operations() {
        let c = |m: Method, p: &str, q: &str| classify(&m, p, q, false);
        assert_eq!(c(Method::PUT, "/b/k/x.csv", ""), Operation::PutObject);
        assert_eq!(c(Method::DELETE, "/b/k", ""), Operation::DeleteObject);
        assert_eq!(c(Method::GET, "/b/k", ""), Operation::GetObject);
        assert_eq!(c(Method::HEAD, "/b/k", ""), Operation::HeadObject);
        assert_eq!(c(Method::PUT, "/b", ""), Operation::CreateBucket);
        assert_eq!(
            c(Method::GET, "/b", "list-type=2&prefix=a"),
            Operation::ListObjectsV2
        );
        assert_eq!(c(Method::GET, "/", ""), Operation::ListBuckets);
        assert_eq!(
            c(Method::POST, "/b/k", "uploads"),
            Operation::CreateMultipartUpload
        );
        assert_eq!(
            classify(&Method::PUT, "/b/k", "", true),
            Operation::CopyObject
        );
    }

    #[test]
    fn store_round_trip_and_listing() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().to_path_buf());
        assert!(store.list("b", "").is_none());
        store.create_bucket("b").unwrap();
        store.write("b", "p/1.csv", b"x").unwrap();
        store.write("b", "p/10/2.csv", b"y").unwrap();
        store.write("b", "q.csv", b"z").unwrap();
        assert_eq!(
            store.list("b", "p/1").unwrap(),
            vec!["p/1.csv", "p/10/2.csv"]
        );
        assert_eq!(store.list("b", "").unwrap().len(), 3);
        assert_eq!(store.read("b", "q.csv").unwrap(), b"z");
        assert!(store.read("b", "../b/q.csv").is_none());
        assert!(store.list("nope", "").is_none());
        assert!(store.write("b", "../escape", b"").is_err());
        assert!(store.write("b", "p/../../escape", b"").is_err());
        assert!(store.read("b", "p/./1.csv").is_none());
    }

    #[test]
    fn sidecar_names_decode_to_their_object() {
        // As s3s-fs names them (base64url, no padding).
        assert_eq!(
            base64url_decode("cGlucG9pbnQtaW1wb3J0cy9hYmMvZS5jc3Y").unwrap(),
            b"pinpoint-imports/abc/e.csv"
        );
        assert_eq!(base64url_decode("").unwrap(), b"");
        assert_eq!(base64url_decode("-_8").unwrap(), [0xfb, 0xff]);
        assert!(base64url_decode("a").is_none() && base64url_decode("a+b=").is_none());
        assert_eq!(
            sidecar_object(".bucket-Yg.object-YS9iLmNzdg.metadata.json"),
            Some(("b".into(), "a/b.csv".into()))
        );
        assert_eq!(
            sidecar_object(".bucket-Yg.object-YS9iLmNzdg.internal.json"),
            Some(("b".into(), "a/b.csv".into()))
        );
        for other in [
            ".bucket-Yg.object-YS9iLmNzdg.upload-0f.metadata.json",
            ".upload-0f.json",
            ".tmp.1.internal.part",
            ".owner.lock",
            "b",
        ] {
            assert_eq!(sidecar_object(other), None, "{other}");
        }
    }

    #[test]
    fn keys_that_stay_in_their_bucket() {
        for ok in ["a", "a/b.csv", "a..b", ".hidden", "x/.../y", "dir/", "a//b"] {
            assert!(key_stays_in_bucket(ok), "{ok}");
        }
        for bad in [
            "", "..", ".", "../x", "a/../b", "a/..", "./a", "a/./b", "/abs", "a\0b",
        ] {
            assert!(!key_stays_in_bucket(bad), "{bad:?}");
        }
        assert!(check_key("a/../../x").is_err());
    }
}
