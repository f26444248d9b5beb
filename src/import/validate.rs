//! The dry run: the input and data checked completely, without any network.

use super::output::ValidationReport;
use crate::endpoints::{self, Limits};
use crate::error::NodeError;
use crate::input::ImportInput;
use crate::settings::Settings;

/// Checks the input and data completely, without any network: the dry run.
pub fn validate(input: &ImportInput, limits: &Limits) -> Result<ValidationReport, NodeError> {
    validate_reporting(input, limits, &mut |_| {})
}

/// [`validate`], giving `progress` the bytes of data checked so far, every
/// [`endpoints::PROGRESS_STEP`] bytes and at the end.
pub fn validate_reporting(
    input: &ImportInput,
    limits: &Limits,
    progress: &mut dyn FnMut(u64),
) -> Result<ValidationReport, NodeError> {
    input.check()?;
    let checked = endpoints::check(input.format, &input.data, limits, progress)?;
    Ok(ValidationReport {
        format: checked.format,
        endpoint_count: checked.endpoint_count,
        channel_counts: checked.channel_counts,
        bytes_to_stage: checked.staged_bytes,
        max_import_bytes: limits.max_import_bytes,
    })
}

/// The data limits the settings ask for.
pub fn limits(settings: &Settings) -> Limits {
    Limits {
        max_import_bytes: settings.max_import_bytes,
        check_address_format: settings.check_address_format,
    }
}
