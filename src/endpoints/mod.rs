//! Endpoint data: reading it (CSV or JSON), checking it against every
//! Pinpoint import rule, and converting it to the file that is staged in S3.
//!
//! Both readers build the same endpoint model ([`model`]); [`rules`] holds
//! the checks and the choices made where Pinpoint's documentation is
//! unclear; the staged file is normalised CSV or compact NDJSON ([`writer`]
//! writes it from owned endpoints). Every problem found is reported with its
//! position, not just the first, and no input makes this module panic.
//!
//! # One streaming pass, bounded memory
//!
//! [`check`] reads the data once, endpoint by endpoint: each is built from
//! values borrowed from the data, checked, counted towards the staged file
//! (its size and, for CSV, its columns) and dropped; the next reuses its
//! buffers. What outlives an endpoint is bounded or counts something the
//! rules need across the import: endpoints per channel, a count per
//! `User.UserId` (15 endpoints per user), at most 251 custom attribute names
//! (250 per import), and the first 100 problems with the first of each kind
//! and the total. So the memory of a check is the data plus its distinct
//! user ids, whatever the number of endpoints or problems (and for a run's
//! check of CSV, two bits per row: the verbatim rows, and how each is
//! copied).
//!
//! The staged file is never held either: [`Checked::write_staged`] writes it
//! in chunks from a second pass over the data (the rows again, now that the
//! CSV columns are known), as often as it is asked (the upload, a retried
//! upload). After [`check_writing`], that pass copies the CSV rows the check
//! found verbatim (`verbatim`: each value as the data has it, numbers in
//! their shortest form) and builds only the others.
//!
//! A run hashes the staged file in the check pass itself ([`check_writing`]):
//! JSON's NDJSON needs no columns, and a CSV file is written as its header
//! promises (every column used), which the end of the pass confirms or not;
//! only when not is a pass more needed for the hash. [`prepare`] still
//! returns it whole, for tests and small data. The problems, their
//! positions, messages and order are those of the whole-file reader this
//! pass replaced, which is kept as a test oracle (`oracle`, with the
//! `oracle` feature) and compared with it on random and fuzzed data.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::convert::Infallible;

use serde::Serialize;

use crate::error::NodeError;
use crate::input::Format;

mod builder;
mod csv_cell;
mod csv_plan;
mod csv_stream;
mod draft;
mod import_checks;
mod json_fast;
mod json_keys;
mod json_size;
mod json_stream;
mod limits;
mod marks;
pub mod model;
mod problems;
pub mod rules;
mod staged;
mod stream;
mod swar;
mod verbatim;

#[cfg(any(test, feature = "oracle"))]
#[doc(hidden)]
pub mod oracle;

pub use limits::{DEFAULT_MAX_IMPORT_BYTES, Limits};
pub use model::{ChannelType, Demographic, Endpoint, Field, Location, OptOut, User};
pub use stream::PROGRESS_STEP;

#[cfg(test)]
use crate::error::MAX_REPORTED_PROBLEMS;
#[cfg(test)]
use oracle::writer;

use problems::Problems;
use rules::size_problem;
use staged::{Both, Columns, Speculative, Tally};
use stream::{Sink, Ticker};
use verbatim::VerbatimRows;

/// Endpoint data that passed every check, with the staged file in memory
/// (tests, fuzzing and the oracle; the node writes it in chunks).
#[cfg(any(test, feature = "oracle"))]
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

#[cfg(any(test, feature = "oracle"))]
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

/// Endpoint data that passed every check ([`check`]), ready to stage: the
/// staged file is written on demand from the data it borrows.
#[derive(Debug, Clone)]
pub struct Checked<'a> {
    /// The format of the staged file (and of the data).
    pub format: Format,
    /// How many endpoints the staged file holds.
    pub endpoint_count: u64,
    /// How many endpoints per channel type (see [`Prepared::channel_counts`]).
    pub channel_counts: BTreeMap<String, u64>,
    /// The size of the staged file, in bytes.
    pub staged_bytes: u64,
    text: &'a str,
    limits: Limits,
    columns: Option<Columns>,
    /// The CSV rows the write pass copies as they are ([`verbatim`]).
    verbatim: VerbatimRows,
}

impl Checked<'_> {
    /// The validation summary: counts and bytes to stage.
    pub fn summary(&self) -> Summary {
        Summary {
            endpoint_count: self.endpoint_count,
            channel_counts: self.channel_counts.clone(),
            staged_bytes: self.staged_bytes,
        }
    }

    /// Writes the staged file to `out`, in chunks of about 64 KiB
    /// ([`staged::CHUNK_BYTES`]), from a pass over the data; stops at the
    /// first error of `out` and returns it. The bytes are always the same,
    /// [`Checked::staged_bytes`] of them.
    pub fn write_staged<E>(&self, out: &mut dyn FnMut(&[u8]) -> Result<(), E>) -> Result<(), E> {
        let mut problems = Problems::counted();
        let mut writer = staged::Writer::new(self.columns.as_ref().map(Cow::Borrowed), out)
            .copying(&self.verbatim);
        pass(
            self.format,
            self.text,
            &self.limits,
            &mut problems,
            &mut writer,
            &mut Ticker::silent(),
        );
        writer.finish()
    }
}

/// Reads and validates `data` in one pass (see the module documentation);
/// every problem found is reported (not just the first).
///
/// `progress` is called every [`PROGRESS_STEP`] bytes with the bytes of
/// `data` read so far, and once at the end with all of them.
///
/// The error is the one [`NodeError::from_problems`] makes of every problem:
/// problems are in order of position (file-level problems first), the first
/// 100 listed and all counted. When the staged file would be larger than
/// `limits.max_import_bytes`, the error also carries `limit_bytes` and
/// `actual_bytes`.
pub fn check<'a>(
    format: Format,
    data: &'a str,
    limits: &Limits,
    progress: &mut dyn FnMut(u64),
) -> Result<Checked<'a>, NodeError> {
    let counted = check_pass(format, data, limits, progress, None)?;
    Ok(checked(format, data, limits, counted))
}

/// [`check`], writing the staged file to `out` in the same pass when it can
/// (see the module documentation): it writes the file as the CSV header
/// promises it, every column used (JSON's NDJSON has no columns to guess).
/// The answer says whether those were the staged file's bytes,
/// [`Checked::write_staged`]'s: true when every column the header names was
/// used by some row (as real data usually does). When false, what `out` got
/// is not the staged file and `write_staged` is needed to write it.
pub fn check_writing<'a>(
    format: Format,
    data: &'a str,
    limits: &Limits,
    progress: &mut dyn FnMut(u64),
    out: &mut dyn FnMut(&[u8]),
) -> Result<(Checked<'a>, bool), NodeError> {
    let mut out = |chunk: &[u8]| -> Result<(), Infallible> {
        out(chunk);
        Ok(())
    };
    let mut writer = Speculative::new(format, &mut out);
    let counted = check_pass(format, data, limits, progress, Some(&mut writer))?;
    let (columns, verbatim) = writer.finish();
    let written = columns.is_some_and(|c| c == counted.columns);
    let mut checked = checked(format, data, limits, counted);
    checked.verbatim = verbatim;
    Ok((checked, written))
}

fn checked<'a>(
    format: Format,
    data: &'a str,
    limits: &Limits,
    counted: staged::Counted,
) -> Checked<'a> {
    Checked {
        format,
        endpoint_count: counted.endpoints,
        channel_counts: counted.channel_counts,
        staged_bytes: counted.staged_bytes,
        text: without_bom(data),
        limits: limits.clone(),
        columns: counted.columns,
        verbatim: VerbatimRows::default(),
    }
}

/// Reads, validates and converts; every problem found is reported (not just
/// the first). [`check`], then the staged file in memory (tests, fuzzing and
/// the oracle).
///
/// The error is built as [`check`]'s is.
#[cfg(any(test, feature = "oracle"))]
pub fn prepare(format: Format, data: &str, limits: &Limits) -> Result<Prepared, NodeError> {
    let checked = check(format, data, limits, &mut |_| {})?;
    let mut body = Vec::with_capacity(usize::try_from(checked.staged_bytes).unwrap_or(0));
    let written: Result<(), Infallible> = checked.write_staged(&mut |chunk| {
        body.extend_from_slice(chunk);
        Ok(())
    });
    match written {
        Ok(()) => {}
        Err(never) => match never {},
    }
    Ok(Prepared {
        body,
        format,
        endpoint_count: checked.endpoint_count,
        channel_counts: checked.channel_counts,
    })
}

/// Reads and validates, without converting: the endpoints, or every problem
/// (tests, fuzzing and the oracle). [`check`] without the size limit, then
/// a pass that keeps each endpoint.
#[cfg(any(test, feature = "oracle"))]
pub fn read(format: Format, data: &str, limits: &Limits) -> Result<Vec<Endpoint>, NodeError> {
    let limits = Limits {
        // The staged file's size is not checked here.
        max_import_bytes: u64::MAX,
        ..limits.clone()
    };
    let checked = check(format, data, &limits, &mut |_| {})?;
    let mut endpoints = Vec::new();
    pass(
        format,
        checked.text,
        &limits,
        &mut Problems::counted(),
        &mut endpoints,
        &mut Ticker::silent(),
    );
    Ok(endpoints)
}

fn without_bom(data: &str) -> &str {
    data.strip_prefix('\u{feff}').unwrap_or(data)
}

/// The check pass: counts, or the data error; `beside`, a writer fed the
/// same endpoints.
fn check_pass<'a>(
    format: Format,
    data: &'a str,
    limits: &Limits,
    progress: &mut dyn FnMut(u64),
    beside: Option<&mut Speculative<'_, 'a>>,
) -> Result<staged::Counted, NodeError> {
    let text = without_bom(data);
    let mut problems = Problems::new();
    let mut tally = Tally::new(format);
    let mut ticker = Ticker::new(data.len() - text.len(), progress);
    match beside {
        None => pass(format, text, limits, &mut problems, &mut tally, &mut ticker),
        Some(writer) => {
            let mut both = Both {
                tally: &mut tally,
                writer,
            };
            pass(format, text, limits, &mut problems, &mut both, &mut ticker);
        }
    }
    progress(data.len() as u64);
    let counted = tally.finish(&mut problems);
    let actual = counted.staged_bytes;
    let too_big = actual > limits.max_import_bytes;
    let mut report =
        problems.into_report(too_big.then(|| size_problem(actual, limits.max_import_bytes)));
    if format == Format::Json {
        json_stream::char_columns(text, &mut report.problems);
    }
    match report.into_error() {
        Some(mut err) => {
            if too_big {
                err.details.limit_bytes = Some(limits.max_import_bytes);
                err.details.actual_bytes = Some(actual);
            }
            Err(err)
        }
        None => Ok(counted),
    }
}

/// One pass of the reader of `format` over `text` (without a BOM).
fn pass<'a>(
    format: Format,
    text: &'a str,
    limits: &Limits,
    problems: &mut Problems,
    sink: &mut dyn Sink<'a>,
    ticker: &mut Ticker<'_>,
) {
    match format {
        Format::Csv => csv_stream::read(text, limits, problems, sink, ticker),
        Format::Json => json_stream::read(text, limits, problems, sink, ticker),
    }
}

#[cfg(test)]
mod differential;
#[cfg(test)]
mod tests;
