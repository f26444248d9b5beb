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
//! from the data: it copies those the check pass found verbatim
//! ([`super::verbatim`]) and builds the others. Neither holds the file.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::convert::Infallible;

use crate::input::Format;

use super::builder::Finished;
use super::csv_cell::{cell_len, write_cell};
use super::draft::{CsvValue, Custom, Draft, write_number};
use super::import_checks::ImportChecks;
use super::model::{ATTRIBUTES_PREFIX, ChannelType, Field, METRICS_PREFIX, USER_ATTRIBUTES_PREFIX};
use super::problems::Problems;
use super::rules::{Origin, parse_number};
use super::stream::{HeaderLayout, Sink};
use super::verbatim::{
    self, CellId, Offered, Piece, RawRow, RowCopy, RowPieces, Source, Span, VerbatimRows,
};

/// The size of the chunks the write pass hands out.
pub const CHUNK_BYTES: usize = 64 * 1024;

/// The columns of the staged CSV (what each holds), and its header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Columns {
    cells: Vec<CellId>,
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

    /// The columns of a staged file whose rows use every column of the
    /// header whose columns hold `cells`: each fixed field it has, each
    /// multi-valued attribute as often as it names it, every metric.
    fn of_header(template: &Draft<'_>, cells: &[Option<CellId>]) -> Columns {
        let mut usage = CsvUsage {
            attributes: vec![0; template.attributes.len()],
            metrics: vec![true; template.metrics.len()],
            user_attributes: vec![0; template.user_attributes.len()],
            ..CsvUsage::default()
        };
        for id in cells.iter().flatten() {
            let (list, i, k) = match *id {
                CellId::Fixed(i) => {
                    usage.fixed_set |= 1 << i;
                    continue;
                }
                CellId::Metric(_) => continue,
                CellId::Attribute(i, k) => (&mut usage.attributes, i, k),
                CellId::UserAttribute(i, k) => (&mut usage.user_attributes, i, k),
            };
            if let Some(n) = list.get_mut(i) {
                *n = (*n).max(k + 1);
            }
        }
        usage.names(template);
        usage.columns()
    }

    fn columns(&self) -> Columns {
        let mut cells = Vec::new();
        let mut header = Vec::new();
        for (i, f) in Field::fixed().iter().enumerate() {
            if self.fixed_set & (1 << i) != 0 {
                cells.push(CellId::Fixed(i));
                header.push(f.dot_name());
            }
        }
        let list_columns = |cells: &mut Vec<CellId>,
                            header: &mut Vec<String>,
                            max: &[usize],
                            names: &[String],
                            prefix: &str,
                            make: fn(usize, usize) -> CellId| {
            for (i, (n, name)) in max.iter().zip(names).enumerate() {
                cells.extend((0..*n).map(|k| make(i, k)));
                header.extend(std::iter::repeat_n(format!("{prefix}{name}"), *n));
            }
        };
        list_columns(
            &mut cells,
            &mut header,
            &self.attributes,
            &self.attribute_names,
            ATTRIBUTES_PREFIX,
            CellId::Attribute,
        );
        for (i, (used, name)) in self.metrics.iter().zip(&self.metric_names).enumerate() {
            if *used {
                cells.push(CellId::Metric(i));
                header.push(format!("{METRICS_PREFIX}{name}"));
            }
        }
        list_columns(
            &mut cells,
            &mut header,
            &self.user_attributes,
            &self.user_attribute_names,
            USER_ATTRIBUTES_PREFIX,
            CellId::UserAttribute,
        );
        Columns { cells, header }
    }
}

impl<'a> Sink<'a> for Tally<'a> {
    fn header(&mut self, header: &HeaderLayout<'_, 'a>) {
        self.checks.fixed_names(header.template);
        self.csv.names(header.template);
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

/// The value of the staged column that holds `id`, in `draft`.
#[inline]
fn value<'d>(draft: &'d Draft<'_>, id: CellId) -> Option<CsvValue<'d>> {
    let list = |list: &'d [Custom<'_>], i: usize, k: usize| {
        let custom = list.get(i).filter(|c| c.present)?;
        custom.values.get(k).map(|v| CsvValue::Text(v.as_ref()))
    };
    match id {
        CellId::Fixed(i) => draft.fixed_value(i),
        CellId::Attribute(i, k) => list(&draft.attributes, i, k),
        CellId::UserAttribute(i, k) => list(&draft.user_attributes, i, k),
        CellId::Metric(i) => draft
            .metrics
            .get(i)
            .and_then(|m| m.value)
            .map(CsvValue::Number),
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
    /// The rows it copies as the data has them, if any.
    copying: Option<Copying<'o>>,
}

/// The verbatim rows a [`Writer`] copies, and how it writes them.
struct Copying<'o> {
    rows: &'o VerbatimRows,
    /// How a row is written, once the header is read (`None` if a staged
    /// column is not there: then every row is built).
    pieces: Option<RowPieces>,
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
            copying: None,
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

    /// The same writer, copying the CSV rows `rows` as the data has them
    /// (the check pass found them verbatim) instead of building them.
    pub fn copying(mut self, rows: &'o VerbatimRows) -> Self {
        self.copying = Some(Copying { rows, pieces: None });
        self
    }

    fn csv_row(buf: &mut Vec<u8>, number: &mut String, draft: &Draft<'_>, columns: &Columns) {
        for (k, id) in columns.cells.iter().enumerate() {
            if k > 0 {
                buf.push(b',');
            }
            match value(draft, *id) {
                Some(CsvValue::Text(text)) => write_cell(buf, text),
                Some(CsvValue::Number(x)) => {
                    number.clear();
                    write_number(number, x);
                    // A number never needs quotes (see `csv_cell`'s tests).
                    buf.extend_from_slice(number.as_bytes());
                }
                None => {}
            }
        }
        buf.push(b'\n');
    }

    /// Writes the endpoint of `draft`, without handing out a full chunk.
    fn write_endpoint(&mut self, draft: &Draft<'_>) {
        match &self.columns {
            Some(columns) => Self::csv_row(&mut self.buf, &mut self.number, draft, columns),
            None => {
                // A draft always serialises: its keys are text and its
                // numbers finite (the check pass measured it the same way).
                let _ = serde_json::to_writer(&mut self.buf, draft);
                self.buf.push(b'\n');
            }
        }
    }

    /// Hands out a full chunk; false after an error of `out`.
    fn flush_if_full(&mut self) -> bool {
        if self.buf.len() >= CHUNK_BYTES {
            return self.flush();
        }
        true
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
    fn header(&mut self, header: &HeaderLayout<'_, 'a>) {
        if let (Some(copying), Some(columns)) = (&mut self.copying, &self.columns) {
            copying.pieces =
                verbatim::sources(&columns.cells, header.cells).map(|s| RowPieces::new(&s));
        }
    }

    fn wants_plain_rows(&self) -> bool {
        self.copying
            .as_ref()
            .is_some_and(|c| c.pieces.is_some() && !c.rows.is_empty())
    }

    fn plain_row(&mut self, record: u64, row: &RawRow<'_, 'a>) -> Offered {
        let Some(Copying {
            rows,
            pieces: Some(pieces),
        }) = &self.copying
        else {
            return Offered::Build;
        };
        let Some(how) = rows.get(record) else {
            return Offered::Build;
        };
        let pieces = pieces.get(how);
        if verbatim::write_row(&mut self.buf, row, pieces, &mut self.number, parse_number).is_none()
        {
            return Offered::Build;
        }
        if self.flush_if_full() {
            Offered::Copied
        } else {
            Offered::Stop
        }
    }

    fn endpoint(
        &mut self,
        draft: &Draft<'a>,
        _origin: Origin,
        _finished: Finished,
        _problems: &mut Problems,
    ) -> bool {
        self.write_endpoint(draft);
        self.flush_if_full()
    }
}

/// Where a [`Speculative`] writer's bytes go (it cannot fail).
pub(crate) type Out<'o> = dyn FnMut(&[u8]) -> Result<(), Infallible> + 'o;

/// Beside the check pass, when it is asked to: the staged file written as if
/// its rows used every column the CSV header has ([`CsvUsage::of_header`];
/// NDJSON has no columns to guess). When the check pass finds the same
/// columns, these are the staged file's bytes and the pass that writes it
/// again only to hash it can be skipped; otherwise they are not, and that
/// pass is needed (see [`super::check_writing`]). It also notes the
/// verbatim rows ([`super::verbatim`]): each value of a plain row is
/// compared with the endpoint's ([`verbatim::holds`]), and a row found
/// verbatim is written as the write pass will copy it, and noted with how
/// ([`verbatim::RowCopy`]: as it is when its numbers are already in their
/// shortest form).
pub(crate) struct Speculative<'o, 't> {
    /// Until the CSV header: where the bytes go.
    out: Option<&'o mut Out<'o>>,
    writer: Option<Writer<'o, Infallible>>,
    /// Where each column written takes its value from in a plain row, and
    /// how a verbatim row is written (CSV, once the header is read, when
    /// every column is there).
    copy: Option<(Vec<Source>, Vec<Piece>)>,
    /// The plain row offered last: its record (0 for none), the data and its spans.
    offered: (u64, &'t str, Vec<Span>),
    /// The numbers of the row being compared, in the staged order.
    numbers: Vec<f64>,
    verbatim: VerbatimRows,
}

impl<'o, 't> Speculative<'o, 't> {
    /// Writes a `format` staged file to `out`.
    pub fn new(format: Format, out: &'o mut Out<'o>) -> Self {
        let (out, writer) = match format {
            Format::Json => (None, Some(Writer::new(None, out))),
            Format::Csv => (Some(out), None),
        };
        Speculative {
            out,
            writer,
            copy: None,
            offered: (0, "", Vec::new()),
            numbers: Vec::new(),
            verbatim: VerbatimRows::default(),
        }
    }

    /// Hands out the rest; the columns it wrote with (`Some(None)` for
    /// NDJSON), `None` if it wrote nothing (no CSV header); and the rows
    /// it found verbatim.
    pub fn finish(self) -> (Option<Option<Columns>>, VerbatimRows) {
        let Some(writer) = self.writer else {
            return (None, self.verbatim);
        };
        let columns = writer.columns.clone().map(Cow::into_owned);
        match writer.finish() {
            Ok(()) => (Some(columns), self.verbatim),
            Err(never) => match never {},
        }
    }
}

impl<'a> Sink<'a> for Speculative<'_, 'a> {
    fn header(&mut self, header: &HeaderLayout<'_, 'a>) {
        if let Some(out) = self.out.take() {
            let columns = CsvUsage::of_header(header.template, header.cells);
            self.copy = verbatim::sources(&columns.cells, header.cells).map(|s| {
                let pieces = verbatim::pieces(&s, RowCopy::NumbersRewritten);
                (s, pieces)
            });
            self.writer = Some(Writer::new(Some(Cow::Owned(columns)), out));
        }
    }

    fn wants_plain_rows(&self) -> bool {
        self.copy.is_some()
    }

    fn plain_row(&mut self, record: u64, row: &RawRow<'_, 'a>) -> Offered {
        if self.copy.is_some() {
            let (at, text, spans) = &mut self.offered;
            *at = record;
            *text = row.text;
            spans.clear();
            spans.extend_from_slice(row.spans);
        }
        Offered::Build
    }

    fn endpoint(
        &mut self,
        draft: &Draft<'a>,
        origin: Origin,
        _finished: Finished,
        _problems: &mut Problems,
    ) -> bool {
        let Some(w) = &mut self.writer else {
            return true;
        };
        let (at, text, spans) = &self.offered;
        let copied = match (&self.copy, &w.columns) {
            (Some((sources, pieces)), Some(columns)) if *at == origin.record => {
                let row = RawRow {
                    text,
                    spans: spans.as_slice(),
                };
                let numbers = &mut self.numbers;
                numbers.clear();
                let verbatim = columns.cells.len() == sources.len()
                    && columns.cells.iter().zip(sources).all(|(id, source)| {
                        let value = value(draft, *id);
                        if let Some(CsvValue::Number(x)) = value {
                            numbers.push(x);
                        }
                        verbatim::holds(&row, *source, value)
                    });
                // Its numbers are those the data's texts read as: written
                // from the draft, not read again, each of them once (else
                // the row is built).
                let mut found = numbers.iter().copied();
                let start = w.buf.len();
                let how = verbatim
                    .then(|| {
                        verbatim::write_row(&mut w.buf, &row, pieces, &mut w.number, |_| {
                            found.next()
                        })
                    })
                    .flatten();
                match how {
                    Some(_) if found.next().is_some() => {
                        w.buf.truncate(start);
                        None
                    }
                    how => how,
                }
            }
            _ => None,
        };
        match copied {
            Some(how) => self.verbatim.insert(origin.record, how),
            None => w.write_endpoint(draft),
        }
        w.flush_if_full()
    }
}

/// Two sinks fed the same endpoints: the check pass's [`Tally`] and
/// a [`Speculative`] writer.
pub(crate) struct Both<'s, 'a, 'o> {
    /// The check pass's sink.
    pub tally: &'s mut Tally<'a>,
    /// The writer beside it.
    pub writer: &'s mut Speculative<'o, 'a>,
}

impl<'a> Sink<'a> for Both<'_, 'a, '_> {
    fn header(&mut self, header: &HeaderLayout<'_, 'a>) {
        self.tally.header(header);
        self.writer.header(header);
    }

    fn wants_plain_rows(&self) -> bool {
        self.writer.wants_plain_rows()
    }

    fn plain_row(&mut self, record: u64, row: &RawRow<'_, 'a>) -> Offered {
        // Both build it: the tally checks it, the writer compares.
        self.writer.plain_row(record, row);
        Offered::Build
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
