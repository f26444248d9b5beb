//! The staged file as the upload (`PutObject`) sends it, its body: never held
//! in memory.
//!
//! The data is checked in one pass ([`crate::endpoints::check_writing`]),
//! which also writes the staged file into the [`Hashes`] (the staging keys'
//! and the upload's check) when the CSV header says what the file is (and
//! for JSON always); otherwise one more pass writes it into them
//! ([`UploadBody::hash`]). The upload writes it again from the data, in
//! 64 KiB chunks, once per `PutObject` attempt, straight into the request's
//! body stream ([`Body`]); the CSV rows the check pass found verbatim are
//! copied, not checked again (`endpoints::verbatim`). Holding it instead would add its size (about the
//! data's) to the component's memory, which never shrinks (wasm linear
//! memory), and a retried request would copy it again.
//!
//! S3 verifies the bytes by the upload's [`PayloadCheck`], computed in the
//! same pass as the hash of the data's staging keys (the pass that hashes
//! feeds each chunk to both):
//! - over plain HTTP (an emulator on loopback), the SHA-256 of the staged
//!   file, signed as `x-amz-content-sha256` (SigV4's signed payload): S3
//!   refuses an object whose bytes do not match it
//!   (`XAmzContentSHA256Mismatch`) and any change to the hash (the signature
//!   covers it);
//! - over HTTPS, `UNSIGNED-PAYLOAD` and the CRC32C of the staged file in
//!   `x-amz-checksum-crc32c`, as the AWS SDKs and CLI send `PutObject`: TLS
//!   protects the bytes on the way, S3 refuses an object whose bytes do not
//!   match the checksum (`BadDigest`), and a CRC32C costs a fraction of a
//!   second SHA-256.
//!
//! The staging keys' hash is needed before the upload either way (it names
//! the object), so the pass before the upload stays; a trailing checksum
//! (`aws-chunked`) would save nothing.

use std::convert::Infallible;

use sha2::{Digest, Sha256};

use super::host::{Body, TransportError};
use crate::aws::s3::PayloadCheck;
use crate::endpoints::Checked;

/// Which [`PayloadCheck`] an upload carries: by the scheme of its URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CheckKind {
    /// Plain HTTP: [`PayloadCheck::SignedSha256`].
    SignedSha256,
    /// HTTPS: [`PayloadCheck::UnsignedCrc32c`].
    Crc32c,
}

impl CheckKind {
    /// The check of an upload to `uri`: CRC32C over HTTPS, else the signed
    /// SHA-256.
    pub fn for_uri(uri: &http::Uri) -> Self {
        if uri.scheme() == Some(&http::uri::Scheme::HTTPS) {
            CheckKind::Crc32c
        } else {
            CheckKind::SignedSha256
        }
    }
}

/// The checked data's staged file as an upload body, with S3's check of it.
pub(crate) struct UploadBody<'c, 'a> {
    /// The checked data.
    pub checked: &'c Checked<'a>,
    /// How S3 checks the bytes.
    pub check: PayloadCheck,
}

/// The hashes one pass over the staged file computes: the data's staging
/// keys' and the upload's check of `kind`.
pub(crate) struct Hashes {
    /// The staging keys' hash, [`DataKeys::hasher`](super::staging::DataKeys::hasher).
    pub keys: Sha256,
    check: PayloadHasher,
}

/// The hash of a [`PayloadCheck`] as the bytes go by.
enum PayloadHasher {
    SignedSha256(Sha256),
    Crc32c(u32),
}

impl Hashes {
    /// Hashes for `kind`, the staging keys' hash started as `keys`.
    pub fn new(kind: CheckKind, keys: Sha256) -> Self {
        let check = match kind {
            CheckKind::SignedSha256 => PayloadHasher::SignedSha256(Sha256::new()),
            CheckKind::Crc32c => PayloadHasher::Crc32c(0),
        };
        Hashes { keys, check }
    }

    /// Feeds the next bytes of the staged file to both.
    pub fn update(&mut self, chunk: &[u8]) {
        self.keys.update(chunk);
        match &mut self.check {
            PayloadHasher::SignedSha256(h) => h.update(chunk),
            PayloadHasher::Crc32c(crc) => *crc = crc32c::crc32c_append(*crc, chunk),
        }
    }

    /// The upload's check, and the staging keys' hash.
    pub fn finish(self) -> (PayloadCheck, Sha256) {
        let check = match self.check {
            PayloadHasher::SignedSha256(h) => PayloadCheck::SignedSha256(h.finalize().into()),
            PayloadHasher::Crc32c(crc) => PayloadCheck::UnsignedCrc32c(crc),
        };
        (check, self.keys)
    }
}

impl<'c, 'a> UploadBody<'c, 'a> {
    /// Writes the staged file of `checked` once more, into `hashes`: the
    /// pass [`crate::endpoints::check_writing`] could not do beside the
    /// check. The body, and the staging keys' hash.
    pub fn hash(checked: &'c Checked<'a>, mut hashes: Hashes) -> (Self, Sha256) {
        let hashed: Result<(), Infallible> = checked.write_staged(&mut |chunk| {
            hashes.update(chunk);
            Ok(())
        });
        match hashed {
            Ok(()) => {}
            Err(never) => match never {},
        }
        let (check, keys) = hashes.finish();
        (UploadBody { checked, check }, keys)
    }
}

impl Body for UploadBody<'_, '_> {
    fn content_length(&self) -> u64 {
        self.checked.staged_bytes
    }

    fn write(
        &self,
        out: &mut dyn FnMut(&[u8]) -> Result<(), TransportError>,
    ) -> Result<(), TransportError> {
        self.checked.write_staged(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoints::{self, Limits};
    use crate::input::Format;

    #[test]
    fn https_uploads_carry_a_crc32c_and_plain_http_ones_a_signed_sha256() {
        let uri = |u: &str| u.parse::<http::Uri>().unwrap();
        assert_eq!(
            CheckKind::for_uri(&uri("https://b.s3.us-east-1.amazonaws.com/k.csv")),
            CheckKind::Crc32c
        );
        assert_eq!(
            CheckKind::for_uri(&uri("http://127.0.0.1:9000/b/k.csv")),
            CheckKind::SignedSha256
        );
    }

    #[test]
    fn the_hash_and_the_body_are_those_of_the_staged_file() {
        let data = "ChannelType,Address\nEMAIL,a@example.com\n\nSMS,+12065550100\n";
        let checked = endpoints::check(Format::Csv, data, &Limits::default(), &mut |_| {}).unwrap();
        let whole = endpoints::prepare(Format::Csv, data, &Limits::default())
            .unwrap()
            .body;
        let hashes = Hashes::new(CheckKind::SignedSha256, Sha256::new());
        let (body, keys) = UploadBody::hash(&checked, hashes);
        assert_eq!(
            body.check,
            PayloadCheck::SignedSha256(Sha256::digest(&whole).into())
        );
        assert_eq!(keys.finalize(), Sha256::digest(&whole));
        let hashes = Hashes::new(CheckKind::Crc32c, Sha256::new());
        let (crc, keys) = UploadBody::hash(&checked, hashes);
        assert_eq!(
            crc.check,
            PayloadCheck::UnsignedCrc32c(crc32c::crc32c(&whole))
        );
        assert_eq!(keys.finalize(), Sha256::digest(&whole));
        let mut sent = Vec::new();
        body.write(&mut |c| {
            sent.extend_from_slice(c);
            Ok(())
        })
        .unwrap();
        assert_eq!(sent, whole);
        assert_eq!(body.content_length(), whole.len() as u64);
    }
}
