//! The dry run: the input and data checked completely, without any network.

use std::convert::Infallible;

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
    check(input, limits, progress, Pass::Check).map(|(_, report)| report)
}

/// The file a run would stage in S3, as [`stage`] builds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StagedFile {
    /// The dry run's report on the data; its `format` is the file's: CSV for
    /// CSV data, newline-delimited JSON for JSON data.
    pub report: ValidationReport,
    /// Its bytes, exactly those a run uploads.
    pub data: Vec<u8>,
}

/// Checks the input and data as [`validate_reporting`] does (bounded by
/// `limits.max_import_bytes` the same way, with the same progress), then
/// writes the staged file in memory with [`endpoints::Checked::write_staged`],
/// the writer a run streams to S3, after the same check a run makes (which
/// notes the CSV rows that pass copies).
pub fn stage(
    input: &ImportInput,
    limits: &Limits,
    progress: &mut dyn FnMut(u64),
) -> Result<StagedFile, NodeError> {
    let (checked, report) = check(input, limits, progress, Pass::AsARun)?;
    let mut data = Vec::with_capacity(usize::try_from(checked.staged_bytes).unwrap_or(0));
    let written: Result<(), Infallible> = checked.write_staged(&mut |chunk| {
        data.extend_from_slice(chunk);
        Ok(())
    });
    match written {
        Ok(()) => {}
        Err(never) => match never {},
    }
    Ok(StagedFile { report, data })
}

/// Which check of the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pass {
    /// The dry run's: [`endpoints::check`].
    Check,
    /// A run's, which writes the staged file beside the check (here into
    /// nothing) and so notes the rows the write pass copies:
    /// [`endpoints::check_writing`].
    AsARun,
}

/// The input and data checked by `pass`, with the dry run's report.
fn check<'a>(
    input: &'a ImportInput,
    limits: &Limits,
    progress: &mut dyn FnMut(u64),
    pass: Pass,
) -> Result<(endpoints::Checked<'a>, ValidationReport), NodeError> {
    input.check()?;
    let checked = match pass {
        Pass::Check => endpoints::check(input.format, &input.data, limits, progress)?,
        Pass::AsARun => {
            endpoints::check_writing(input.format, &input.data, limits, progress, &mut |_| {})?.0
        }
    };
    let report = ValidationReport {
        format: checked.format,
        endpoint_count: checked.endpoint_count,
        channel_counts: checked.channel_counts.clone(),
        bytes_to_stage: checked.staged_bytes,
        max_import_bytes: limits.max_import_bytes,
    };
    Ok((checked, report))
}

/// The data limits the settings ask for.
pub fn limits(settings: &Settings) -> Limits {
    Limits {
        max_import_bytes: settings.max_import_bytes,
        check_address_format: settings.check_address_format,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::Format;

    fn input(format: Format, data: &str) -> ImportInput {
        ImportInput {
            application_id: "0123456789abcdef0123456789abcdef".into(),
            segment_name: "stage-test".into(),
            format,
            data: data.into(),
        }
    }

    fn default_limits() -> Limits {
        Limits {
            max_import_bytes: 1 << 30,
            check_address_format: true,
        }
    }

    #[test]
    fn a_json_array_is_staged_as_the_ndjson_validate_counts() {
        let data = r#"[{"ChannelType":"EMAIL","Address":"a@example.com"},
            {"ChannelType":"SMS","Address":"+12065550100"}]"#;
        let input = input(Format::Json, data);
        let staged = stage(&input, &default_limits(), &mut |_| {}).unwrap();
        let report = validate(&input, &default_limits()).unwrap();
        assert_eq!(staged.report, report);
        assert_eq!(staged.report.format, Format::Json);
        assert_eq!(staged.data.len() as u64, report.bytes_to_stage);
        let text = String::from_utf8(staged.data).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        for line in lines {
            let value: serde_json::Value = serde_json::from_str(line).unwrap();
            assert!(value.is_object(), "{line}");
        }
    }

    #[test]
    fn csv_is_staged_as_a_run_writes_it() {
        // Columns out of the staged order; rows copied as they are and rows
        // built (a number in another form is copied, a value quoted for
        // nothing is built).
        let data = "Metrics.m,Address,ChannelType,User.UserId\n1.50,a@example.com,EMAIL,u1\n2,\"b@example.com\",EMAIL,u2\n3,+12065550100,SMS,\"u,3\"\n";
        let input = input(Format::Csv, data);
        let staged = stage(&input, &default_limits(), &mut |_| {}).unwrap();
        let prepared = endpoints::prepare(Format::Csv, data, &default_limits()).unwrap();
        assert_eq!(staged.report.format, Format::Csv);
        assert_eq!(
            String::from_utf8(staged.data).unwrap(),
            String::from_utf8(prepared.body).unwrap()
        );
        assert_eq!(staged.report, validate(&input, &default_limits()).unwrap());
    }

    #[test]
    fn staging_is_bounded_by_max_import_bytes_as_validate_is() {
        let input = input(Format::Csv, "ChannelType,Address\nEMAIL,a@example.com\n");
        let limits = Limits {
            max_import_bytes: 8,
            ..default_limits()
        };
        let staged = stage(&input, &limits, &mut |_| {}).unwrap_err();
        let validated = validate(&input, &limits).unwrap_err();
        assert_eq!(format!("{staged:?}"), format!("{validated:?}"));
    }

    #[test]
    fn invalid_data_stages_nothing_and_says_why() {
        let input = input(Format::Csv, "ChannelType,Address\nPIGEON,a@example.com\n");
        let staged = stage(&input, &default_limits(), &mut |_| {}).unwrap_err();
        let validated = validate(&input, &default_limits()).unwrap_err();
        assert_eq!(format!("{staged:?}"), format!("{validated:?}"));
    }
}
