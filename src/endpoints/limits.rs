//! The limits and switches of a check: the most bytes to stage, and whether
//! address shapes are checked.

/// The Pinpoint quota on one import job: 1 GiB.
pub const DEFAULT_MAX_IMPORT_BYTES: u64 = 1_073_741_824;

/// Limits and switches for [`super::check`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// The largest file to stage, in bytes (default 1 GiB, Pinpoint's per-job quota).
    pub max_import_bytes: u64,
    /// Check address shapes (default true): E.164 for `SMS` and `VOICE`, an
    /// address with `@` for `EMAIL`.
    pub check_address_format: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_import_bytes: DEFAULT_MAX_IMPORT_BYTES,
            check_address_format: true,
        }
    }
}
