//! The staged file as the upload (`PutObject`) sends it, its body: never held
//! in memory.
//!
//! The data is checked in one pass ([`crate::endpoints::check`]); the staged file
//! is then written from the data again, in 64 KiB chunks, each time it is
//! needed: once to hash it, then once per `PutObject` attempt, straight into
//! the request's body stream ([`Body`]). Holding it instead would add its
//! size (about the data's) to the component's memory, which never shrinks
//! (wasm linear memory), and a retried request would copy it again; a pass
//! costs less than the upload it feeds.
//!
//! S3 verifies the bytes with the signed payload hash: the SHA-256 of the
//! staged file is signed as `x-amz-content-sha256` (SigV4's signed payload),
//! and S3 refuses an object whose bytes do not match it
//! (`XAmzContentSHA256Mismatch`) and any change to the hash (the signature
//! covers it). An S3 checksum header (`x-amz-checksum-sha256`) would need
//! the same hash before sending, so it would save nothing; a trailing
//! checksum (`aws-chunked` with `STREAMING-UNSIGNED-PAYLOAD-TRAILER`) would
//! save the hashing pass, but the content-addressed staging key needs the
//! hash before the upload anyway.

use std::convert::Infallible;

use sha2::{Digest, Sha256};

use super::host::{Body, TransportError};
use crate::endpoints::Checked;

/// The checked data's staged file as an upload body, with its SHA-256.
pub(crate) struct UploadBody<'c, 'a> {
    /// The checked data.
    pub checked: &'c Checked<'a>,
    /// The SHA-256 of the staged file.
    pub sha256: [u8; 32],
}

impl<'c, 'a> UploadBody<'c, 'a> {
    /// Hashes the staged file of `checked`, feeding the same bytes to
    /// `key_hasher` (the data's staging keys, [`DataKeys::hasher`](super::staging::DataKeys::hasher)).
    pub fn hash(checked: &'c Checked<'a>, key_hasher: &mut Sha256) -> Self {
        let mut hasher = Sha256::new();
        let hashed: Result<(), Infallible> = checked.write_staged(&mut |chunk| {
            hasher.update(chunk);
            key_hasher.update(chunk);
            Ok(())
        });
        match hashed {
            Ok(()) => {}
            Err(never) => match never {},
        }
        UploadBody {
            checked,
            sha256: hasher.finalize().into(),
        }
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
    fn the_hash_and_the_body_are_those_of_the_staged_file() {
        let data = "ChannelType,Address\nEMAIL,a@example.com\n\nSMS,+12065550100\n";
        let checked = endpoints::check(Format::Csv, data, &Limits::default(), &mut |_| {}).unwrap();
        let body = UploadBody::hash(&checked, &mut Sha256::new());
        let whole = endpoints::prepare(Format::Csv, data, &Limits::default())
            .unwrap()
            .body;
        assert_eq!(body.sha256, <[u8; 32]>::from(Sha256::digest(&whole)));
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
