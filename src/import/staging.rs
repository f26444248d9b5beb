//! Where a run stages its data in S3, and which staged objects hold the same
//! data.
//!
//! Names, in this module and around it: the *staged file* is the bytes the
//! data is converted to (written by [`crate::endpoints`]); the import sends
//! them as the upload body (`UploadBody`) and stores them as a
//! *staged object*, a key in the staging bucket ([`StagedObject`]).
//!
//! Every run stages its own object, `{prefix}{hash}-{nonce}.{ext}`:
//! - `hash`, the first 32 hex digits of SHA-256 over the application id, the
//!   segment name, the format (each length-prefixed) and the converted data,
//!   is the same for every run of the same input: the *stem*
//!   `{prefix}{hash}` names the data;
//! - `nonce`, 16 random hex digits, differs from run to run, so two runs of
//!   the same input never share an object, and no run deletes an object that
//!   another run's import job is reading.
//!
//! Earlier versions staged one object per input, `{prefix}{hash}.{ext}`;
//! a segment made from it still counts as made from this data, so a re-run
//! of a run those versions left unfinished resumes it.

use sha2::{Digest, Sha256};

use crate::aws::pinpoint::Segment;
use crate::aws::urls;
use crate::error::NodeError;
use crate::input::ImportInput;
use crate::settings::Settings;

/// Hex digits of the per-run nonce in a staged key.
pub const NONCE_DIGITS: usize = 16;

/// The staged objects of one input's data: `{stem}-{nonce}.{ext}` (and
/// `{stem}.{ext}`, the key of earlier versions) in the staging bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataKeys {
    bucket: String,
    stem: String,
    extension: &'static str,
}

impl DataKeys {
    /// The keys of `input`'s data once converted to `body` (what is staged).
    pub fn new(settings: &Settings, input: &ImportInput, body: &[u8]) -> Self {
        let mut h = Self::hasher(input);
        h.update(body);
        Self::from_hasher(settings, input, h)
    }

    /// The hash of the keys of `input`'s data, before the staged file: feed
    /// it the staged bytes as they are written, then [`DataKeys::from_hasher`].
    pub fn hasher(input: &ImportInput) -> Sha256 {
        let mut h = Sha256::new();
        for part in [
            input.application_id.as_bytes(),
            input.segment_name.as_bytes(),
            input.format.as_str().as_bytes(),
        ] {
            h.update((part.len() as u64).to_be_bytes());
            h.update(part);
        }
        h
    }

    /// The keys of `input`'s data from a [`DataKeys::hasher`] fed the
    /// whole staged file.
    pub fn from_hasher(settings: &Settings, input: &ImportInput, h: Sha256) -> Self {
        let digest = hex::encode(h.finalize());
        DataKeys {
            bucket: settings.staging_bucket.clone(),
            stem: format!("{}{}", settings.staging_prefix, &digest[..32]),
            extension: input.format.extension(),
        }
    }

    /// `{prefix}{hash}`: every key of this data starts with it.
    pub fn stem(&self) -> &str {
        &self.stem
    }

    /// The key of one run: `{stem}-{nonce as 16 hex digits}.{ext}`.
    pub fn key(&self, nonce: u64) -> String {
        format!("{}-{nonce:016x}.{}", self.stem, self.extension)
    }

    /// The one key of earlier versions: `{stem}.{ext}`.
    pub fn shared_key(&self) -> String {
        format!("{}.{}", self.stem, self.extension)
    }

    /// `s3://{bucket}/{key}`.
    pub fn s3_url(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.bucket)
    }

    /// Whether `key` holds this data: exactly [`DataKeys::shared_key`] or a
    /// [`DataKeys::key`]; nothing else under the stem.
    pub fn holds(&self, key: &str) -> bool {
        let Some(rest) = key.strip_prefix(self.stem.as_str()) else {
            return false;
        };
        let Some(rest) = rest
            .strip_suffix(self.extension)
            .and_then(|r| r.strip_suffix('.'))
        else {
            return false;
        };
        match rest.strip_prefix('-') {
            None => rest.is_empty(),
            Some(nonce) => {
                nonce.len() == NONCE_DIGITS
                    && nonce
                        .bytes()
                        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            }
        }
    }

    /// The key `s3_url` names when it is an object of this data in the
    /// staging bucket.
    pub fn key_of<'u>(&self, s3_url: &'u str) -> Option<&'u str> {
        let key = s3_url
            .strip_prefix("s3://")?
            .strip_prefix(self.bucket.as_str())?
            .strip_prefix('/')?;
        self.holds(key).then_some(key)
    }

    /// The key of the object `segment` was imported from, when that object
    /// held this data: the segment was made from this data.
    pub fn key_of_segment<'s>(&self, segment: &'s Segment) -> Option<&'s str> {
        self.key_of(segment_s3_url(segment)?)
    }
}

/// An object in the staging bucket: its request URL and its `s3://` URL.
#[derive(Debug, Clone)]
pub struct StagedObject {
    /// Where its requests go.
    pub uri: http::Uri,
    /// `s3://bucket/key`, as import jobs and segments name it.
    pub s3_url: String,
}

impl StagedObject {
    /// The object at `key`, one of `data`'s keys.
    pub fn new(settings: &Settings, data: &DataKeys, key: &str) -> Result<StagedObject, NodeError> {
        Ok(StagedObject {
            uri: urls::s3_object_uri(settings, key)?,
            s3_url: data.s3_url(key),
        })
    }
}

/// `ImportDefinition.S3Url` of `segment`, if it was imported.
pub fn segment_s3_url(segment: &Segment) -> Option<&str> {
    segment
        .import_definition
        .as_ref()
        .and_then(|d| d.s3_url.as_deref())
}
