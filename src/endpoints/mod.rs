//! Endpoint data: reading it (CSV or JSON), checking it against every
//! Pinpoint import rule, and converting it to the file that is staged in S3.
//!
//! Both readers build the same [`Endpoint`] model ([`model`]); [`rules`]
//! holds the checks and the choices made where Pinpoint's documentation is
//! unclear; [`writer`] writes normalised CSV or compact NDJSON. Every problem
//! found is reported with its position, not just the first, and no input
//! makes this module panic.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::error::{MAX_REPORTED_PROBLEMS, NodeError, Problem, ProblemKind};
use crate::input::Format;

mod csv_reader;
mod json_reader;
pub mod model;
pub mod rules;
pub mod writer;

pub use model::{ChannelType, Demographic, Endpoint, Field, Location, OptOut, User};

/// The Pinpoint quota on one import job: 1 GiB.
pub const DEFAULT_MAX_IMPORT_BYTES: u64 = 1_073_741_824;

/// Limits and switches for [`prepare`].
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

/// Endpoint data that passed every check, ready to stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepared {
    /// What is uploaded to S3: CSV stays CSV (normalised), JSON becomes
    /// compact NDJSON, one endpoint per line.
    pub body: Vec<u8>,
    /// The format of `body`, for the import job.
    pub format: Format,
    /// How many endpoints `body` holds.
    pub endpoint_count: u64,
    /// How many endpoints per channel type (`"EMAIL"`: 2). Endpoints without a
    /// channel type (updates by `Id`) are not counted here.
    pub channel_counts: BTreeMap<String, u64>,
}

/// What a dry run reports about valid data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// How many endpoints would be imported.
    pub endpoint_count: u64,
    /// How many per channel type.
    pub channel_counts: BTreeMap<String, u64>,
    /// How many bytes would be staged in S3.
    pub staged_bytes: u64,
}

impl Prepared {
    /// The size of the file to stage, in bytes.
    pub fn staged_bytes(&self) -> u64 {
        self.body.len() as u64
    }

    /// The validation summary: counts and bytes to stage.
    pub fn summary(&self) -> Summary {
        Summary {
            endpoint_count: self.endpoint_count,
            channel_counts: self.channel_counts.clone(),
            staged_bytes: self.staged_bytes(),
        }
    }
}

/// What a reader found: endpoints, where each came from, and problems.
#[derive(Debug, Default)]
pub(crate) struct Reading {
    pub endpoints: Vec<Endpoint>,
    pub origins: Vec<rules::Origin>,
    pub problems: Vec<Problem>,
}

/// Reads, validates and converts; every problem found is reported (not just the first).
///
/// The error is built by [`NodeError::from_problems`]; problems are in order
/// of position (file-level problems first). When the converted file is larger
/// than `limits.max_import_bytes`, the error also carries `limit_bytes` and
/// `actual_bytes`.
pub fn prepare(format: Format, data: &str, limits: &Limits) -> Result<Prepared, NodeError> {
    let mut reading = read_checked(format, data, limits);
    let body = match format {
        Format::Csv => Ok(writer::to_csv(&reading.endpoints)),
        Format::Json => writer::to_ndjson(&reading.endpoints),
    };
    let body = match body {
        Ok(b) => b,
        Err(e) => {
            let msg = format!("the endpoints could not be converted to JSON: {e}");
            let problem = Problem::new(ProblemKind::MalformedData, msg);
            reading.problems.insert(0, problem);
            Vec::new()
        }
    };
    let actual = body.len() as u64;
    let too_big = actual > limits.max_import_bytes;
    if too_big {
        reading
            .problems
            .push(size_problem(actual, limits.max_import_bytes));
    }
    if let Some(mut err) = error_from(reading.problems) {
        if too_big {
            err.details.limit_bytes = Some(limits.max_import_bytes);
            err.details.actual_bytes = Some(actual);
        }
        return Err(err);
    }
    Ok(Prepared {
        body,
        format,
        endpoint_count: reading.endpoints.len() as u64,
        channel_counts: channel_counts(&reading.endpoints),
    })
}

/// Reads and validates, without converting: the endpoints, or every problem.
pub fn read(format: Format, data: &str, limits: &Limits) -> Result<Vec<Endpoint>, NodeError> {
    let reading = read_checked(format, data, limits);
    match error_from(reading.problems) {
        Some(err) => Err(err),
        None => Ok(reading.endpoints),
    }
}

fn read_checked(format: Format, data: &str, limits: &Limits) -> Reading {
    let text = data.strip_prefix('\u{feff}').unwrap_or(data);
    let mut reading = Reading::default();
    match format {
        Format::Csv => csv_reader::read(text, limits, &mut reading),
        Format::Json => json_reader::read(text, limits, &mut reading),
    }
    rules::check_import(&reading.endpoints, &reading.origins, &mut reading.problems);
    let problems = &mut reading.problems;
    problems.sort_by_key(|p| (p.line.unwrap_or(0), p.column.unwrap_or(0)));
    if format == Format::Json {
        let reported = problems.len().min(MAX_REPORTED_PROBLEMS);
        json_reader::char_columns(text, problems.get_mut(..reported).unwrap_or_default());
    }
    reading
}

/// The error for `problems` (already in order), or `None` when there are none.
fn error_from(problems: Vec<Problem>) -> Option<NodeError> {
    NodeError::from_problems(problems)
}

fn size_problem(actual: u64, limit: u64) -> Problem {
    Problem::new(
        ProblemKind::ImportSizeExceeded,
        format!(
            "the data to import is {actual} bytes, more than the limit of {limit} bytes ({}); split it into several imports",
            human_bytes(limit)
        ),
    )
}

fn human_bytes(n: u64) -> String {
    const GIB: u64 = 1 << 30;
    const MIB: u64 = 1 << 20;
    const KIB: u64 = 1 << 10;
    if n >= GIB && n.is_multiple_of(GIB) {
        format!("{} GiB", n / GIB)
    } else if n >= MIB && n.is_multiple_of(MIB) {
        format!("{} MiB", n / MIB)
    } else if n >= KIB && n.is_multiple_of(KIB) {
        format!("{} KiB", n / KIB)
    } else {
        format!("{n} bytes")
    }
}

fn channel_counts(endpoints: &[Endpoint]) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    for c in endpoints.iter().filter_map(|e| e.channel_type) {
        *counts.entry(c.as_str().to_owned()).or_insert(0) += 1;
    }
    counts
}

#[cfg(test)]
mod tests;
