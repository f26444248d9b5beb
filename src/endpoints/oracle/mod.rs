//! The whole-file reader the node used before the streaming pass, kept as
//! the test oracle (compiled for tests and with the `oracle` feature, which
//! the fuzz targets turn on; never in the component).
//!
//! It reads every endpoint into memory, then runs the checks across the
//! import, then writes the staged file from all of them: simple, and the
//! reference the streaming pass ([`super::prepare`]) is compared against,
//! on random inputs (`src/endpoints/differential.rs`) and in the fuzz
//! targets: the same verdict, the same problems (the first 100, the total,
//! the error's message) and the same staged bytes.
//!
//! The oracle keeps only what it is there for, the whole-file way: reading
//! everything first ([`csv_reader`], [`json_reader`]: owned rows and parsed
//! values, every position worked out), the checks across the import over all
//! endpoints ([`import_checks`]), every problem in one sorted list, and the
//! staged file written from all endpoints ([`writer`]). Every rule (which
//! value is accepted, every message) is the streaming pass's own: the
//! readers call its builder and rule functions, so a rule is written once.

use std::collections::BTreeMap;

use crate::endpoints::Prepared;
use crate::endpoints::limits::Limits;
use crate::endpoints::model::Endpoint;
use crate::endpoints::rules::size_problem;
use crate::error::{MAX_REPORTED_PROBLEMS, NodeError, Problem, ProblemKind};
use crate::input::Format;

mod csv_reader;
mod import_checks;
mod json_reader;
mod reading;
pub(crate) mod writer;

use reading::Reading;

/// Reads, validates and converts the whole file at once: the oracle of
/// [`super::prepare`].
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
    if let Some(mut err) = NodeError::from_problems(reading.problems) {
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

/// Reads and validates, without converting: the oracle of [`super::read`].
pub fn read(format: Format, data: &str, limits: &Limits) -> Result<Vec<Endpoint>, NodeError> {
    let reading = read_checked(format, data, limits);
    match NodeError::from_problems(reading.problems) {
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
    import_checks::check_import(&reading.endpoints, &reading.origins, &mut reading.problems);
    let problems = &mut reading.problems;
    problems.sort_by_key(|p| (p.line.unwrap_or(0), p.column.unwrap_or(0)));
    if format == Format::Json {
        let reported = problems.len().min(MAX_REPORTED_PROBLEMS);
        json_reader::char_columns(text, problems.get_mut(..reported).unwrap_or_default());
    }
    reading
}

fn channel_counts(endpoints: &[Endpoint]) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    for c in endpoints.iter().filter_map(|e| e.channel_type) {
        *counts.entry(c.as_str().to_owned()).or_insert(0) += 1;
    }
    counts
}
