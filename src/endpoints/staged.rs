//! The staged file: what the check pass counts of it (its size, its CSV
//! columns, endpoints per channel), and the pass that writes it.
//!
//! The staged file is what the whole-file writer wrote from all endpoints:
//! compact NDJSON, one endpoint per line, or normalised CSV, whose header
//! lists the fields any endpoint sets (each multi-valued attribute as often
//! as its longest list). The CSV header therefore depends on every row, so
//! the check pass counts each row's cells, whatever the columns turn out to
//! be (a row is its values, one comma per column but the last, and a line
//! end), and the write pass, which knows the columns, writes the rows again
//! from the data. Neither holds the file.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::convert::Infallible;

use crate::input::Format;

use super::builder::Finished;
use super::csv_cell::{cell_len, write_cell};
use super::draft::{Custom, Draft, write_number};
use super::import_checks::ImportChecks;
use super::model::{ATTRIBUTES_PREFIX, ChannelType, Field, METRICS_PREFIX, USER_ATTRIBUTES_PREFIX};
use super::problems::Problems;
use super::rules::Origin;
use super::stream::{HeaderWidths, Sink};

/// The size of the chunks the write pass hands out.
pub const CHUNK_BYTES: usize = 64 * 1024;

/// One column group of the staged CSV.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Column {
    /// A fixed field, by its index in [`Field::fixed`].
    Fixed(usize),
    /// A multi-valued attribute (by its index in the draft's list), `n` columns.
    Attribute(usize, usize),
    /// A metric, by its index in the draft's metrics.
    Metric(usize),
    /// A multi-valued user attribute, `n` columns.
    UserAttribute(usize, usize),
}

/// The columns of the staged CSV, and its header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Columns {
    groups: Vec<Column>,
    header: Vec<String>,
}

impl Columns {
    /// How many columns.
    fn count(&self) -> u64 {
        self.header.len() as u64
    }

    /// The bytes a row takes besides its values: commas and the line end.
    fn row_overhead(&self) -> u64 {
        self.count().max(1)
    }

    fn header_bytes(&self) -> u64 {
        self.header.iter().map(|h| cell_len(h)).sum::<u64>() + self.row_overhead()
    }
}

/// Which columns the CSV rows so far use.
#[derive(Debug, Default)]
struct CsvUsage {
    /// The fixed fields set by some row, one bit each in [`Field::fixed`] order.
    fixed_set: u32,
    attributes: Vec<usize>,
    metrics: Vec<bool>,
    user_attributes: Vec<usize>,
    /// The names, from the header's template.
    attribute_names: Vec<String>,
    metric_names: Vec<String>,
    user_attribute_names: Vec<String>,
}

/// The check pass's sink: counts, sizes, columns and the checks across the
/// import.
#[derive(Debug)]
pub(crate) struct Tally<'a> {
    format: Format,
    endpoints: u64,
    channels: [u64; 13],
    checks: ImportChecks<'a>,
    /// JSON: the staged bytes; CSV: the bytes of the rows' values.
    bytes: u64,
    csv: CsvUsage,
}

/// What the check pass found out about the staged file.
#[derive(Debug, Clone)]
pub(crate) struct Counted {
    pub endpoints: u64,
    pub channel_counts: BTreeMap<String, u64>,
    pub staged_bytes: u64,
    /// The CSV columns (`None` for JSON).
    pub columns: Option<Columns>,
}

impl<'a> Tally<'a> {
    /// A tally for `format`.
    pub fn new(format: Format) -> Self {
        Tally {
            format,
            endpoints: 0,
            channels: [0; 13],
            checks: ImportChecks::default(),
            bytes: 0,
            csv: CsvUsage::default(),
        }
    }

    /// Runs the checks that wait for the end, and sums up.
    pub fn finish(self, problems: &mut Problems) -> Counted {
        self.checks.finish(problems);
        let channel_counts = ChannelType::ALL
            .iter()
            .zip(self.channels)
            .filter(|(_, n)| *n > 0)
            .map(|(c, n)| (c.as_str().to_owned(), n))
            .collect();
        let (staged_bytes, columns) = match self.format {
            Format::Json => (self.bytes, None),
            Format::Csv => {
                let columns = self.csv.columns();
                let bytes = columns.header_bytes()
                    + self.bytes
                    + self.endpoints.saturating_mul(columns.row_overhead());
                (bytes, Some(columns))
            }
        };
        Counted {
            endpoints: self.endpoints,
            channel_counts,
            staged_bytes,
            columns,
        }
    }

    fn count_csv(&mut self, draft: &Draft<'a>) {
        let csv = &mut self.csv;
        if let Some(count) = draft.csv {
            self.bytes += count.bytes;
            csv.fixed_set |= count.fixed;
        }
        for (max, list) in [
            (&mut csv.attributes, &draft.attributes),
            (&mut csv.user_attributes, &draft.user_attributes),
        ] {
            if max.len() < list.len() {
                max.resize(list.len(), 0);
            }
            for (n, c) in max.iter_mut().zip(list.iter()) {
                if c.present {
                    *n = (*n).max(c.values.len());
                }
            }
        }
        if csv.metrics.len() < draft.metrics.len() {
            csv.metrics.resize(draft.metrics.len(), false);
        }
        for (used, m) in csv.metrics.iter_mut().zip(&draft.metrics) {
            *used |= m.value.is_some();
        }
    }
}

impl CsvUsage {
    /// Takes the custom names of the header's `template`.
    fn names(&mut self, template: &Draft<'_>) {
        let names = |list: &[Custom<'_>]| list.iter().map(|c| c.name.to_string()).collect();
        self.attribute_names = names(&template.attributes);
        self.user_attribute_names = names(&template.user_attributes);
        self.metric_names = template
            .metrics
            .iter()
            .map(|m| m.name.to_string())
            .collect();
    }

    /// The columns of a staged file whose rows use every column the header
    /// has: each fixed field of `fixed`, each multi-valued attribute as often
    /// as the header names it (`widths`), every metric.
    fn of_header(template: &Draft<'_>, fixed: &[usize], widths: &HeaderWidths) -> Columns {
        let mut usage = CsvUsage {
            fixed_set: fixed.iter().fold(0, |set, i| set | (1 << i)),
            attributes: widths.attributes.clone(),
            metrics: vec![true; template.metrics.len()],
            user_attributes: widths.user_attributes.clone(),
            ..CsvUsage::default()
        };
        usage.names(template);
        usage.columns()
    }

    fn columns(&self) -> Columns {
        let mut groups = Vec::new();
        let mut header = Vec::new();
        for (i, f) in Field::fixed().iter().enumerate() {
            if self.fixed_set & (1 << i) != 0 {
                groups.push(Column::Fixed(i));
                header.push(f.dot_name());
            }
        }
        let list_columns = |groups: &mut Vec<Column>,
                            header: &mut Vec<String>,
                            max: &[usize],
                            names: &[String],
                            prefix: &str,
                            make: fn(usize, usize) -> Column| {
            for (i, (n, name)) in max.iter().zip(names).enumerate() {
                if *n > 0 {
                    groups.push(make(i, *n));
                    header.extend(std::iter::repeat_n(format!("{prefix}{name}"), *n));
                }
            }
        };
        list_columns(
            &mut groups,
            &mut header,
            &self.attributes,
            &self.attribute_names,
            ATTRIBUTES_PREFIX,
            Column::Attribute,
        );
        for (i, (used, name)) in self.metrics.iter().zip(&self.metric_names).enumerate() {
            if *used {
                groups.push(Column::Metric(i));
                header.push(format!("{METRICS_PREFIX}{name}"));
            }
        }
        list_columns(
            &mut groups,
            &mut header,
            &self.user_attributes,
            &self.user_attribute_names,
            USER_ATTRIBUTES_PREFIX,
            Column::UserAttribute,
        );
        Columns { groups, header }
    }
}

impl<'a> Sink<'a> for Tally<'a> {
    fn header(&mut self, template: &Draft<'a>, fixed: &[usize], widths: &HeaderWidths) {
        let _ = (fixed, widths);
        self.checks.fixed_names(template);
        self.csv.names(template);
    }

    fn endpoint(
        &mut self,
        draft: &Draft<'a>,
        origin: Origin,
        finished: Finished,
        problems: &mut Problems,
    ) -> bool {
        self.endpoints += 1;
        if let Some(c) = draft.channel_type
            && let Some(n) = self.channels.get_mut(c as usize)
        {
            *n += 1;
        }
        self.checks.endpoint(draft, origin, problems);
        match self.format {
            Format::Json => {
                let size = finished.json_size.unwrap_or(usize::MAX) as u64;
                self.bytes = self.bytes.saturating_add(size).saturating_add(1);
            }
            Format::Csv => self.count_csv(draft),
        }
        true
    }
}

/// The write pass's sink: writes the staged file in chunks of about
/// [`CHUNK_BYTES`] to `out`, stopping at its first error.
pub(crate) struct Writer<'o, E> {
    columns: Option<Cow<'o, Columns>>,
    buf: Vec<u8>,
    number: String,
    out: &'o mut dyn FnMut(&[u8]) -> Result<(), E>,
    error: Option<E>,
}

impl<'o, E> Writer<'o, E> {
    /// A writer of NDJSON (`columns` `None`) or CSV with `columns`; the CSV
    /// header is written at once.
    pub fn new(
        columns: Option<Cow<'o, Columns>>,
        out: &'o mut dyn FnMut(&[u8]) -> Result<(), E>,
    ) -> Self {
        let mut w = Writer {
            columns,
            buf: Vec::with_capacity(CHUNK_BYTES + 1024),
            number: String::new(),
            out,
            error: None,
        };
        if let Some(columns) = &w.columns {
            for (i, cell) in columns.header.iter().enumerate() {
                if i > 0 {
                    w.buf.push(b',');
                }
                write_cell(&mut w.buf, cell);
            }
            w.buf.push(b'\n');
        }
        w
    }

    fn csv_row(buf: &mut Vec<u8>, number: &mut String, draft: &Draft<'_>, columns: &Columns) {
        let mut first = true;
        let mut cell = |buf: &mut Vec<u8>, text: &str| {
            if !first {
                buf.push(b',');
            }
            first = false;
            write_cell(buf, text);
        };
        for group in &columns.groups {
            match *group {
                Column::Fixed(i) => {
                    let text = draft.fixed_text(i, number).unwrap_or("");
                    cell(buf, text);
                }
                Column::Attribute(i, n) | Column::UserAttribute(i, n) => {
                    let list = match group {
                        Column::Attribute(..) => &draft.attributes,
                        _ => &draft.user_attributes,
                    };
                    let values = list
                        .get(i)
                        .filter(|c| c.present)
                        .map(|c| c.values.as_slice())
                        .unwrap_or_default();
                    for k in 0..n {
                        let text = values.get(k).map(|v| v.as_ref()).unwrap_or("");
                        cell(buf, text);
                    }
                }
                Column::Metric(i) => {
                    number.clear();
                    if let Some(x) = draft.metrics.get(i).and_then(|m| m.value) {
                        write_number(number, x);
                    }
                    cell(buf, number);
                }
            }
        }
        buf.push(b'\n');
    }

    fn flush(&mut self) -> bool {
        if self.error.is_some() {
            return false;
        }
        if self.buf.is_empty() {
            return true;
        }
        if let Err(e) = (self.out)(&self.buf) {
            self.error = Some(e);
            return false;
        }
        self.buf.clear();
        true
    }

    /// Hands out the rest; the first error of `out`, if any.
    pub fn finish(mut self) -> Result<(), E> {
        self.flush();
        match self.error {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

impl<'a, E> Sink<'a> for Writer<'_, E> {
    fn endpoint(
        &mut self,
        draft: &Draft<'a>,
        _origin: Origin,
        _finished: Finished,
        _problems: &mut Problems,
    ) -> bool {
        match &self.columns {
            Some(columns) => Self::csv_row(&mut self.buf, &mut self.number, draft, columns),
            None => {
                // A draft always serialises: its keys are text and its
                // numbers finite (the check pass measured it the same way).
                let _ = serde_json::to_writer(&mut self.buf, draft);
                self.buf.push(b'\n');
            }
        }
        if self.buf.len() >= CHUNK_BYTES {
            return self.flush();
        }
        true
    }
}

/// Where a [`Speculative`] writer's bytes go (it cannot fail).
pub(crate) type Out<'o> = dyn FnMut(&[u8]) -> Result<(), Infallible> + 'o;

/// Beside the check pass, when it is asked to: the staged file written as if
/// its rows used every column the CSV header has ([`CsvUsage::of_header`];
/// NDJSON has no columns to guess). When the check pass finds the same
/// columns, these are the staged file's bytes and the pass that writes it
/// again only to hash it can be skipped; otherwise they are not, and that
/// pass is needed (see [`super::check_writing`]).
pub(crate) struct Speculative<'o> {
    /// Until the CSV header: where the bytes go.
    out: Option<&'o mut Out<'o>>,
    writer: Option<Writer<'o, Infallible>>,
}

impl<'o> Speculative<'o> {
    /// Writes a `format` staged file to `out`.
    pub fn new(format: Format, out: &'o mut Out<'o>) -> Self {
        match format {
            Format::Json => Speculative {
                out: None,
                writer: Some(Writer::new(None, out)),
            },
            Format::Csv => Speculative {
                out: Some(out),
                writer: None,
            },
        }
    }

    /// Hands out the rest; the columns it wrote with (`Some(None)` for
    /// NDJSON), `None` if it wrote nothing (no CSV header).
    pub fn finish(self) -> Option<Option<Columns>> {
        let writer = self.writer?;
        let columns = writer.columns.clone().map(Cow::into_owned);
        match writer.finish() {
            Ok(()) => Some(columns),
            Err(never) => match never {},
        }
    }
}

impl<'a> Sink<'a> for Speculative<'_> {
    fn header(&mut self, template: &Draft<'a>, fixed: &[usize], widths: &HeaderWidths) {
        if let Some(out) = self.out.take() {
            let columns = CsvUsage::of_header(template, fixed, widths);
            self.writer = Some(Writer::new(Some(Cow::Owned(columns)), out));
        }
    }

    fn endpoint(
        &mut self,
        draft: &Draft<'a>,
        origin: Origin,
        finished: Finished,
        problems: &mut Problems,
    ) -> bool {
        match &mut self.writer {
            Some(w) => w.endpoint(draft, origin, finished, problems),
            None => true,
        }
    }
}

/// Two sinks fed the same endpoints: the check pass's [`Tally`] and
/// a [`Speculative`] writer.
pub(crate) struct Both<'s, 'a, 'o> {
    /// The check pass's sink.
    pub tally: &'s mut Tally<'a>,
    /// The writer beside it.
    pub writer: &'s mut Speculative<'o>,
}

impl<'a> Sink<'a> for Both<'_, 'a, '_> {
    fn header(&mut self, template: &Draft<'a>, fixed: &[usize], widths: &HeaderWidths) {
        self.tally.header(template, fixed, widths);
        self.writer.header(template, fixed, widths);
    }

    fn endpoint(
        &mut self,
        draft: &Draft<'a>,
        origin: Origin,
        finished: Finished,
        problems: &mut Problems,
    ) -> bool {
        // The tally first: its checks report the problems.
        let go_on = self.tally.endpoint(draft, origin, finished, problems);
        self.writer.endpoint(draft, origin, finished, problems) && go_on
    }
}
