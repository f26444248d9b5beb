//! Reads endpoint data in Pinpoint's CSV format, one row at a time.
//!
//! A strict RFC 4180 reader of its own rather than the `csv` crate, because
//! that crate silently accepts what Pinpoint may not (a quote inside an
//! unquoted value, text after a closing quote, an unclosed quote) and reports
//! positions only as bytes. Here every such case is a problem with its line
//! and field, and reading goes on to find the others.
//!
//! - A UTF-8 byte order mark is stripped (by the caller); lines end in LF or
//!   CRLF.
//! - Blank lines (empty, or only spaces) are skipped and left out of the
//!   upload; they are not endpoints and do not count as records.
//! - CR, LF or TAB inside a value is a problem (Pinpoint's current rule), as is
//!   a lone CR; so is any other control character (NUL, ESC, DEL, C1), in a
//!   value or a column name.
//! - A header column may repeat only for `Attributes.*` and
//!   `User.UserAttributes.*`: each repeat is one more value of the attribute.
//! - An empty cell means "not given".
//!
//! Values are borrowed from the text (a quoted value with doubled quotes is
//! the only copy); one row's cells and one [`Draft`] are reused for every
//! row, so nothing here grows with the number of rows.

use std::borrow::Cow;
use std::collections::HashSet;

use crate::error::{ProblemKind, quote};

use super::builder::{Builder, Known, Name};
use super::csv_plan::Plan;
use super::draft::{Custom, Draft, ListKind, fixed_index};
use super::limits::Limits;
use super::marks::Scanner;
use super::model::{Field, suggest_field};
use super::problems::{ProblemSink, Problems};
use super::rules::{
    MAX_ENDPOINT_BYTES, MAY_START_CONTROL, Origin, Position, control_message, custom_name_problem,
    forbidden_control,
};
use super::stream::{HeaderLayout, Sink, Ticker};
use super::verbatim::{CellId, Offered, RawRow, Span};

/// One value of a row.
#[derive(Debug)]
pub(crate) struct Cell<'a> {
    pub value: Cow<'a, str>,
    /// The line the value starts on.
    pub line: u64,
    /// The value broke a CSV rule (already reported); do not check it further.
    pub bad: bool,
    /// The value was in double quotes (so it may hold `,` `"` CR LF).
    pub quoted: bool,
}

/// How a field ended.
#[derive(Debug, PartialEq, Eq)]
enum End {
    Comma,
    LineBreak,
    Eof,
}

/// Byte classes: ordinary, ends an unquoted value (or is checked there),
/// or may start a control character (C0 but TAB/CR/LF, DEL, the lead byte
/// of C1).
const ORDINARY: u8 = 0;
const SPECIAL: u8 = 1;
const CONTROL: u8 = 2;

const fn classes(specials: &[u8]) -> [u8; 256] {
    let mut t = [ORDINARY; 256];
    let mut b = 0;
    while b < 256 {
        if MAY_START_CONTROL[b] == 1 {
            t[b] = CONTROL;
        }
        b += 1;
    }
    let mut i = 0;
    while i < specials.len() {
        t[specials[i] as usize] = SPECIAL;
        i += 1;
    }
    t
}

/// In an unquoted value.
static UNQUOTED: [u8; 256] = classes(b",\n\r\t\"");
/// In a quoted value.
static QUOTED: [u8; 256] = classes(b"\"\n\r\t");

/// The problem list and the record the tokenizer is reading (`None` = header).
pub(crate) struct Report<'p, P: ProblemSink = Problems> {
    pub problems: &'p mut P,
    pub record: Option<u64>,
}

impl<P: ProblemSink> Report<'_, P> {
    /// Reports a CSV problem of the `column`th value, on `line`.
    pub fn malformed(&mut self, line: u64, column: usize, message: impl FnOnce() -> String) {
        self.problems.push(
            ProblemKind::MalformedData,
            self.record,
            Position::at(line, Some(column as u64)),
            || None,
            message,
        );
    }

    /// Reports a forbidden control character in `value`; true if there is one.
    pub fn control(&mut self, value: &str, line: u64, column: usize) -> bool {
        let Some(c) = forbidden_control(value) else {
            return false;
        };
        let what = if self.record.is_none() {
            "the column name"
        } else {
            "the value"
        };
        self.malformed(line, column, || control_message(what, c));
        true
    }
}

/// A TAB in a value.
pub(crate) const TAB_MESSAGE: &str = "the value contains a tab; Pinpoint does not accept tabs in CSV values; remove it or use spaces";
/// A line break in a (quoted) value.
pub(crate) const BREAK_MESSAGE: &str = "the value contains a line break; Pinpoint does not accept line breaks in CSV values (even in quotes); remove it";
/// A CR that does not end a line.
pub(crate) const CR_MESSAGE: &str =
    "the value contains a carriage return (CR) that does not end a line; remove it";
/// A `"` in an unquoted value.
pub(crate) const STRAY_QUOTE_MESSAGE: &str = "the value contains a double quote but is not enclosed in double quotes; enclose the whole value in double quotes and double the quote inside (\"say \"\"hi\"\"\")";
/// Text after the closing quote.
pub(crate) const AFTER_QUOTE_MESSAGE: &str = "there is text after the closing double quote of this value; a quoted value must end at its closing quote, and a quote inside it must be doubled (\"\")";
/// No header line.
pub(crate) const EMPTY_MESSAGE: &str = "the data is empty; give a header line of Pinpoint attribute names (e.g. ChannelType,Address) and one line per endpoint";
/// A header and no rows.
pub(crate) const NO_ENDPOINTS_MESSAGE: &str =
    "the CSV has a header but no endpoints; add one line per endpoint below the header";

/// A quote that is never closed, opened on `open_line`.
pub(crate) fn unclosed_quote_message(open_line: u64) -> String {
    format!(
        "the double quote that opens this value (line {open_line}) is never closed; add the closing quote"
    )
}

/// Splits the text into rows and values, reporting every CSV-level problem.
struct Tokenizer<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    line: u64,
    /// Finds the next byte that is not ordinary, a block of 64 at a time:
    /// most values have none, so each ends at the first mark after it starts.
    scan: Scanner,
}

impl<'a> Tokenizer<'a> {
    fn new(text: &'a str) -> Self {
        Tokenizer {
            text,
            bytes: text.as_bytes(),
            pos: 0,
            line: 1,
            scan: Scanner::new(),
        }
    }

    fn byte(&self, i: usize) -> Option<u8> {
        self.bytes.get(i).copied()
    }

    fn slice(&self, from: usize, to: usize) -> &'a str {
        self.text.get(from..to).unwrap_or("")
    }

    /// Skips empty and space-only lines; false at the end of the text.
    fn skip_blank_lines(&mut self) -> bool {
        loop {
            let mut i = self.pos;
            while let Some(b' ' | b'\t' | b'\r') = self.byte(i) {
                i += 1;
            }
            match self.byte(i) {
                None => {
                    self.pos = self.bytes.len();
                    return false;
                }
                Some(b'\n') => {
                    self.pos = i + 1;
                    self.line += 1;
                }
                Some(_) => return true,
            }
        }
    }

    /// The next row's cells (into `cells`) and first line, or `None` at the
    /// end of the text.
    fn next_row(&mut self, report: &mut Report<'_>, cells: &mut Vec<Cell<'a>>) -> Option<u64> {
        cells.clear();
        if !self.skip_blank_lines() {
            return None;
        }
        let line = self.line;
        loop {
            let (cell, end) = self.cell(cells.len() + 1, report);
            cells.push(cell);
            if end != End::Comma {
                return Some(line);
            }
        }
    }

    /// The value at the reader's place, the `column`th of its row.
    #[inline]
    fn cell(&mut self, column: usize, report: &mut Report<'_>) -> (Cell<'a>, End) {
        if self.byte(self.pos) == Some(b'"') {
            self.quoted(column, report)
        } else {
            self.unquoted(column, report)
        }
    }

    /// Consumes a line break at `i` (LF or CRLF), if there is one.
    fn line_break_at(&mut self, i: usize) -> Option<End> {
        match (self.byte(i), self.byte(i + 1)) {
            (Some(b'\n'), _) => {
                self.pos = i + 1;
            }
            (Some(b'\r'), Some(b'\n')) => {
                self.pos = i + 2;
            }
            _ => return None,
        }
        self.line += 1;
        Some(End::LineBreak)
    }

    #[inline]
    fn unquoted(&mut self, column: usize, report: &mut Report<'_>) -> (Cell<'a>, End) {
        let start = self.pos;
        let line = self.line;
        let i = self.scan.next(self.bytes, start, true);
        // Most values end at their first mark, a comma or a line end: then
        // there is nothing to report and the value is read.
        let (end, next) = match (self.byte(i), self.byte(i + 1)) {
            (Some(b','), _) => (End::Comma, i + 1),
            (Some(b'\n'), _) => (End::LineBreak, i + 1),
            (Some(b'\r'), Some(b'\n')) => (End::LineBreak, i + 2),
            (None, _) => (End::Eof, i),
            _ => return self.unquoted_marked(start, i, column, report),
        };
        self.pos = next;
        if end == End::LineBreak {
            self.line += 1;
        }
        let cell = Cell {
            value: Cow::Borrowed(self.slice(start, i)),
            line,
            bad: false,
            quoted: false,
        };
        (cell, end)
    }

    /// An unquoted value from `start` with a mark at `first` that is not its
    /// end: every byte that breaks a rule is noted, then reported.
    #[inline(never)]
    fn unquoted_marked(
        &mut self,
        start: usize,
        first: usize,
        column: usize,
        report: &mut Report<'_>,
    ) -> (Cell<'a>, End) {
        let line = self.line;
        let (mut tab, mut cr, mut quote, mut control) = (false, false, false, false);
        let mut i = first;
        let end = loop {
            // Ordinary bytes are passed over in one go.
            i = self.scan.next(self.bytes, i, true);
            let Some(b) = self.byte(i) else {
                self.pos = i;
                break End::Eof;
            };
            match UNQUOTED.get(usize::from(b)).copied().unwrap_or(ORDINARY) {
                ORDINARY => {}
                CONTROL => control = true,
                _ => match b {
                    b',' => {
                        self.pos = i + 1;
                        break End::Comma;
                    }
                    b'\n' => break End::LineBreak,
                    b'\r' if self.byte(i + 1) == Some(b'\n') => break End::LineBreak,
                    b'\r' => cr = true,
                    b'\t' => tab = true,
                    _ => quote = true,
                },
            }
            i += 1;
        };
        let value = self.slice(start, i);
        if end == End::LineBreak {
            self.line_break_at(i);
        }
        if quote || tab || cr {
            for (flag, message) in [
                (quote, STRAY_QUOTE_MESSAGE),
                (tab, TAB_MESSAGE),
                (cr, CR_MESSAGE),
            ] {
                if flag {
                    report.malformed(line, column, || message.to_owned());
                }
            }
        }
        let control = control && report.control(value, line, column);
        let bad = tab || cr || quote || control;
        let cell = Cell {
            value: Cow::Borrowed(value),
            line,
            bad,
            quoted: false,
        };
        (cell, end)
    }

    #[inline(never)]
    fn quoted(&mut self, column: usize, report: &mut Report<'_>) -> (Cell<'a>, End) {
        let open_line = self.line;
        let open = self.pos + 1;
        // The value with doubled quotes undone, once there is one.
        let mut owned: Option<String> = None;
        let mut segment = open;
        let mut i = open;
        let mut control = false;
        // Lines of the first tab and the first line break, reported once the
        // value closes (an unclosed quote is reported alone).
        let (mut tab, mut line_break): (Option<u64>, Option<u64>) = (None, None);
        loop {
            i = self.scan.next(self.bytes, i, false);
            let Some(b) = self.byte(i) else {
                let value = match owned {
                    Some(mut v) => {
                        v.push_str(self.slice(segment, i));
                        Cow::Owned(v)
                    }
                    None => Cow::Borrowed(self.slice(open, i)),
                };
                self.pos = i;
                report.malformed(open_line, column, || unclosed_quote_message(open_line));
                let cell = Cell {
                    value,
                    line: open_line,
                    bad: true,
                    quoted: true,
                };
                return (cell, End::Eof);
            };
            match QUOTED.get(usize::from(b)).copied().unwrap_or(ORDINARY) {
                ORDINARY => {}
                CONTROL => control = true,
                _ => match b {
                    b'"' if self.byte(i + 1) == Some(b'"') => {
                        owned
                            .get_or_insert_with(String::new)
                            .push_str(self.slice(segment, i + 1));
                        i += 2;
                        segment = i;
                        continue;
                    }
                    b'"' => break,
                    b'\n' => {
                        line_break.get_or_insert(self.line);
                        self.line += 1;
                    }
                    b'\r' => {
                        line_break.get_or_insert(self.line);
                    }
                    _ => {
                        tab.get_or_insert(self.line);
                    }
                },
            }
            i += 1;
        }
        let value = match owned {
            Some(mut v) => {
                v.push_str(self.slice(segment, i));
                Cow::Owned(v)
            }
            None => Cow::Borrowed(self.slice(open, i)),
        };
        if let Some(line) = line_break {
            report.malformed(line, column, || BREAK_MESSAGE.to_owned());
        }
        if let Some(line) = tab {
            report.malformed(line, column, || TAB_MESSAGE.to_owned());
        }
        let control = control && report.control(&value, open_line, column);
        // `i` is at the closing quote.
        let after = i + 1;
        let mut bad = tab.is_some() || line_break.is_some() || control;
        let end = match self.byte(after) {
            None => {
                self.pos = after;
                End::Eof
            }
            Some(b',') => {
                self.pos = after + 1;
                End::Comma
            }
            _ => match self.line_break_at(after) {
                Some(end) => end,
                None => {
                    report.malformed(self.line, column, || AFTER_QUOTE_MESSAGE.to_owned());
                    bad = true;
                    self.pos = after;
                    self.unquoted_rest()
                }
            },
        };
        let cell = Cell {
            value,
            line: open_line,
            bad,
            quoted: true,
        };
        (cell, end)
    }

    /// The values of the row at the reader's place, into `values` (one span
    /// per column, overwritten in place), when
    /// the row is plain: exactly `columns` values, each unquoted or in
    /// quotes with no quote inside, none with a byte that needs a look (a
    /// control, TAB, CR, DEL or C1 lead byte), the row ended by a line break
    /// or the end of the text. Then the reader moves past the row. `None`
    /// (the reader unmoved) for any other row, which [`Tokenizer::cell`]
    /// reads value by value with every problem.
    #[inline]
    fn plain_row(&mut self, columns: usize, values: &mut Vec<Span>) -> Option<()> {
        values.resize(columns, Span::default());
        let mut found = 0usize;
        let mut from = self.pos;
        loop {
            if found >= columns {
                return None;
            }
            let mut i = self.scan.next(self.bytes, from, true);
            let mut span = Span {
                start: from,
                end: i,
                quoted: false,
            };
            if i == from && self.byte(i) == Some(b'"') {
                let close = self.scan.next(self.bytes, i + 1, false);
                if self.byte(close) != Some(b'"') {
                    return None;
                }
                span = Span {
                    start: i + 1,
                    end: close,
                    quoted: true,
                };
                i = close + 1;
            }
            if let Some(slot) = values.get_mut(found) {
                *slot = span;
            }
            found += 1;
            match self.byte(i) {
                Some(b',') => from = i + 1,
                Some(b'\n') => {
                    from = i + 1;
                    break;
                }
                Some(b'\r') if self.byte(i + 1) == Some(b'\n') => {
                    from = i + 2;
                    break;
                }
                None if found == columns => {
                    self.pos = i;
                    return Some(());
                }
                _ => return None,
            }
        }
        if found != columns {
            return None;
        }
        self.pos = from;
        self.line += 1;
        Some(())
    }

    /// Skips the rest of a broken value, to the next comma or line end.
    fn unquoted_rest(&mut self) -> End {
        let mut i = self.pos;
        loop {
            match self.byte(i) {
                None => {
                    self.pos = i;
                    return End::Eof;
                }
                Some(b',') => {
                    self.pos = i + 1;
                    return End::Comma;
                }
                Some(b'\n' | b'\r') => {
                    if let Some(end) = self.line_break_at(i) {
                        return end;
                    }
                }
                Some(_) => {}
            }
            i += 1;
        }
    }
}

/// The columns of the header: the field each one sets (`None` for a column
/// already reported as wrong).
pub(crate) struct Header {
    pub line: u64,
    pub columns: Vec<Option<Field>>,
    /// The header lacks `ChannelType` or `Address` (and has no `Id`); already reported.
    pub lacks_required: bool,
}

/// Reads the header row (its `cells`, on `line`), reporting every column
/// that names no field, or one that may not repeat.
pub(crate) fn read_header<P: ProblemSink>(
    line: u64,
    cells: Vec<Cell<'_>>,
    report: &mut Report<'_, P>,
) -> Header {
    let mut columns: Vec<Option<Field>> = Vec::with_capacity(cells.len());
    let mut single: HashSet<Field> = HashSet::new();
    let mut suggested = Vec::new();
    for (i, cell) in cells.into_iter().enumerate() {
        let column = i + 1;
        if cell.bad {
            columns.push(None);
            continue;
        }
        let field = match Field::parse(&cell.value) {
            Ok(f) => f,
            Err(msg) => {
                if let Some(s) = suggest_field(&cell.value) {
                    suggested.push(s);
                }
                report_header(report, line, column, &cell.value, msg);
                columns.push(None);
                continue;
            }
        };
        if let Some(msg) = custom_name_problem(&field) {
            report_header(report, line, column, &cell.value, msg);
            columns.push(None);
            continue;
        }
        if !field.is_multi_valued() && !single.insert(field.clone()) {
            let msg = format!(
                "the column `{}` appears more than once; only Attributes.* and User.UserAttributes.* columns may repeat (one value per column)",
                quote(&cell.value)
            );
            report_header(report, line, column, &cell.value, msg);
            columns.push(None);
            continue;
        }
        columns.push(Some(field));
    }
    let lacks_required = check_required_columns(&columns, &suggested, line, report);
    Header {
        line,
        columns,
        lacks_required,
    }
}

fn report_header<P: ProblemSink>(
    report: &mut Report<'_, P>,
    line: u64,
    column: usize,
    name: &str,
    message: String,
) {
    report.problems.push(
        ProblemKind::MalformedData,
        None,
        Position::at(line, Some(column as u64)),
        || Some(name.to_owned()),
        || message,
    );
}

/// Reports, once, a header without `ChannelType` or `Address` (unless it has
/// `Id`, for updates); true when rows must not be checked for them again.
fn check_required_columns<P: ProblemSink>(
    columns: &[Option<Field>],
    suggested: &[String],
    line: u64,
    report: &mut Report<'_, P>,
) -> bool {
    let has = |f: Field| columns.iter().any(|c| c.as_ref() == Some(&f));
    if has(Field::Id) {
        return false;
    }
    let missing: Vec<&str> = [
        (Field::ChannelType, "ChannelType"),
        (Field::Address, "Address"),
    ]
    .into_iter()
    .filter(|(f, _)| !has(f.clone()))
    .map(|(_, n)| n)
    .collect();
    if missing.is_empty() {
        return false;
    }
    let unreported: Vec<&str> = missing
        .iter()
        .copied()
        .filter(|m| !suggested.iter().any(|s| s == m))
        .collect();
    if let Some(first) = unreported.first() {
        let msg = format!(
            "the header has no {} column; every new endpoint needs ChannelType and Address (or Id to update existing endpoints); add the missing column to the first line",
            unreported.join(" or ")
        );
        report.problems.push(
            ProblemKind::MissingRequiredFields,
            None,
            Position::at(line, None),
            || Some((*first).to_owned()),
            || msg,
        );
    }
    true
}

/// The custom names of the header, unset, in a draft to reuse for every row;
/// and for each column of a custom field, its index in the draft's list.
fn template<'a>(header: &Header) -> (Draft<'a>, Vec<Option<usize>>) {
    let mut draft = Draft::default();
    for field in header.columns.iter().flatten() {
        match field {
            Field::Attribute(n) => {
                draft.custom_mut(ListKind::Attributes, (n, None), || Cow::Owned(n.clone()));
            }
            Field::UserAttribute(n) => {
                draft.custom_mut(ListKind::UserAttributes, (n, None), || {
                    Cow::Owned(n.clone())
                });
            }
            Field::Metric(n) => draft.add_metric(n, || Cow::Owned(n.clone())),
            _ => {}
        }
    }
    let find =
        |list: &[Custom<'_>], n: &str| list.binary_search_by(|c| c.name.as_ref().cmp(n)).ok();
    let slots = header
        .columns
        .iter()
        .map(|column| match column {
            Some(Field::Attribute(n)) => find(&draft.attributes, n),
            Some(Field::UserAttribute(n)) => find(&draft.user_attributes, n),
            Some(Field::Metric(n)) => draft
                .metrics
                .binary_search_by(|m| m.name.as_ref().cmp(n))
                .ok(),
            _ => None,
        })
        .collect();
    (draft, slots)
}

/// What each column of `header` holds (`slots`: each custom column's index
/// in `template`'s list).
fn cell_ids(header: &Header, slots: &[Option<usize>], template: &Draft<'_>) -> Vec<Option<CellId>> {
    // The columns of each multi-valued attribute so far.
    let mut attributes = vec![0; template.attributes.len()];
    let mut user_attributes = vec![0; template.user_attributes.len()];
    let next = |list: &mut Vec<usize>, slot: usize| {
        let n = list.get_mut(slot)?;
        *n += 1;
        Some(*n - 1)
    };
    header
        .columns
        .iter()
        .zip(slots)
        .map(|(column, slot)| match (column.as_ref()?, *slot) {
            (Field::Attribute(_), Some(i)) => Some(CellId::Attribute(i, next(&mut attributes, i)?)),
            (Field::UserAttribute(_), Some(i)) => {
                Some(CellId::UserAttribute(i, next(&mut user_attributes, i)?))
            }
            (Field::Metric(_), Some(i)) => Some(CellId::Metric(i)),
            (field, _) => fixed_index(field).map(CellId::Fixed),
        })
        .collect()
}

/// Reads CSV `text` (without a BOM), giving each endpoint to `sink`.
pub(crate) fn read<'a>(
    text: &'a str,
    limits: &Limits,
    problems: &mut Problems,
    sink: &mut dyn Sink<'a>,
    ticker: &mut Ticker<'_>,
) {
    let mut tokenizer = Tokenizer::new(text);
    let mut cells: Vec<Cell<'a>> = Vec::new();
    let mut report = Report {
        problems,
        record: None,
    };
    let Some(header_line) = tokenizer.next_row(&mut report, &mut cells) else {
        report.problems.push(
            ProblemKind::MalformedData,
            None,
            Position::default(),
            || None,
            || EMPTY_MESSAGE.into(),
        );
        return;
    };
    let header = read_header(header_line, std::mem::take(&mut cells), &mut report);
    let (mut draft, slots) = template(&header);
    draft.csv = Some(Default::default());
    let layout = cell_ids(&header, &slots, &draft);
    sink.header(&HeaderLayout {
        template: &draft,
        cells: &layout,
    });
    let offer = sink.wants_plain_rows();
    let plans: Vec<Plan<'_, 'a>> = header
        .columns
        .iter()
        .zip(&slots)
        .map(|(column, slot)| Plan::of(column.as_ref(), *slot))
        .collect();
    let mut spans: Vec<Span> = Vec::with_capacity(plans.len());
    let mut record = 0u64;
    let problems = report.problems;
    loop {
        ticker.tick(tokenizer.pos);
        let start = tokenizer.pos;
        if !tokenizer.skip_blank_lines() {
            break;
        }
        record += 1;
        let line = tokenizer.line;
        let plain = tokenizer.plain_row(plans.len(), &mut spans).is_some();
        if plain && offer {
            let row = RawRow {
                text,
                spans: &spans,
            };
            match sink.plain_row(record, &row) {
                Offered::Build => {}
                Offered::Copied => continue,
                Offered::Stop => return,
            }
        }
        let origin = Origin {
            record,
            at: Position::at(line, None),
        };
        draft.reset(true);
        let finished = {
            let mut known = Known;
            let mut builder = Builder::new(origin, limits, problems, &mut known, &mut draft);
            let mut found = 0;
            // A plain row (most are) goes to the builder value by value from
            // where its values end; any other row is read cell by cell.
            if plain {
                for (index, (span, plan)) in spans.iter().zip(&plans).enumerate() {
                    // An empty value is not given: it is not even sliced.
                    if span.end <= span.start {
                        continue;
                    }
                    let value = tokenizer.slice(span.start, span.end);
                    if !value.is_empty() {
                        let at = || Position::at(line, Some(index as u64 + 1));
                        plan.set(&mut builder, Cow::Borrowed(value), !span.quoted, at);
                    }
                }
                found = plans.len();
            } else {
                // Each value goes to the builder as it is read.
                loop {
                    let column = found + 1;
                    let mut report = Report {
                        problems: builder.problems(),
                        record: Some(record),
                    };
                    let (cell, end) = tokenizer.cell(column, &mut report);
                    set_cell(&header, &slots, found, cell, &mut builder);
                    found = column;
                    if end != End::Comma {
                        break;
                    }
                }
            }
            end_row(&header, found, &mut builder);
            // The endpoint's JSON is at most twice its values' bytes plus a
            // bound per value (key, quotes, number forms) and the groups.
            let span = tokenizer.pos.saturating_sub(start);
            let small = span
                .saturating_mul(2)
                .saturating_add(found.saturating_mul(128))
                .saturating_add(256)
                <= MAX_ENDPOINT_BYTES;
            builder.finish(header.lacks_required, small)
        };
        if !sink.endpoint(&draft, origin, finished, problems) {
            return;
        }
    }
    if record == 0 {
        problems.push(
            ProblemKind::MalformedData,
            None,
            Position::at(header.line + 1, None),
            || None,
            || NO_ENDPOINTS_MESSAGE.into(),
        );
    }
}

/// Gives the value of column `index` to the builder (a value that broke a
/// CSV rule is only noted as given).
pub(crate) fn set_cell<'a, P: ProblemSink>(
    header: &Header,
    slots: &[Option<usize>],
    index: usize,
    cell: Cell<'a>,
    builder: &mut Builder<'_, 'a, Known, P>,
) {
    let Some(Some(field)) = header.columns.get(index) else {
        return;
    };
    if cell.bad {
        builder.unreadable(field);
    } else if !cell.value.is_empty() {
        let at = Position::at(cell.line, Some(index as u64 + 1));
        let name = match slots.get(index).copied().flatten() {
            Some(slot) => Name::Column(field, slot),
            None => Name::Field(field),
        };
        builder.csv_plain(!cell.quoted);
        builder.set_text(name, cell.value, at);
    }
}

/// After the `found` values of a row: a row of the wrong length is a
/// problem, and the fields of its missing cells are not reported again.
pub(crate) fn end_row<P: ProblemSink>(
    header: &Header,
    found: usize,
    builder: &mut Builder<'_, '_, Known, P>,
) {
    let expected = header.columns.len();
    if found != expected {
        builder.report_endpoint(ProblemKind::MalformedData, || {
            format!(
                "this line has {found} values but the header has {expected} columns; check for a missing or extra comma (a value containing a comma must be in double quotes)"
            )
        });
    }
    for field in header.columns.iter().skip(found).flatten() {
        builder.unreadable(field);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(text: &str) -> (Vec<Vec<String>>, u64) {
        let mut problems = Problems::new();
        let mut report = Report {
            problems: &mut problems,
            record: None,
        };
        let mut t = Tokenizer::new(text);
        let mut cells = Vec::new();
        let mut out = Vec::new();
        while t.next_row(&mut report, &mut cells).is_some() {
            out.push(cells.iter().map(|c| c.value.to_string()).collect());
        }
        (out, problems.total())
    }

    #[test]
    fn special_bytes_are_found_a_block_at_a_time_as_one_at_a_time() {
        let samples: [&[u8]; 6] = [
            b"abcdefghijklmnopqrstuvwxyz,",
            b"0123456789abcdef\"x",
            "abcdefgh\u{85}ijk".as_bytes(),
            b"abcdefg\x7fhij",
            b"plain text without anything special at all",
            "éééééééééé\té".as_bytes(),
        ];
        for bytes in samples {
            for from in 0..bytes.len() {
                for (comma, table) in [(true, &UNQUOTED), (false, &QUOTED)] {
                    let slow = (from..bytes.len())
                        .find(|i| table[usize::from(bytes[*i])] != ORDINARY)
                        .unwrap_or(bytes.len());
                    let found = Scanner::new().next(bytes, from, comma);
                    assert_eq!(found, slow, "{bytes:?} {from}");
                }
            }
        }
    }

    #[test]
    fn values_are_borrowed_unless_quotes_are_doubled() {
        let mut problems = Problems::new();
        let mut report = Report {
            problems: &mut problems,
            record: None,
        };
        let mut t = Tokenizer::new("a,\"b,c\",\"say \"\"hi\"\"\"\n");
        let mut cells = Vec::new();
        t.next_row(&mut report, &mut cells);
        let borrowed: Vec<bool> = cells
            .iter()
            .map(|c| matches!(c.value, Cow::Borrowed(_)))
            .collect();
        assert_eq!(borrowed, vec![true, true, false]);
    }

    #[test]
    fn plain_rows_are_read_at_once_and_any_other_row_is_left_to_the_cells() {
        let plain: [(&str, &[&str]); 5] = [
            ("a,b,c\nnext", &["a", "b", "c"]),
            ("a,,c\r\nnext", &["a", "", "c"]),
            ("\"x,y\",b,\"\"\n", &["x,y", "b", ""]),
            ("é,Köln,c", &["é", "Köln", "c"]),
            (",,\n", &["", "", ""]),
        ];
        for (text, want) in plain {
            let mut t = Tokenizer::new(text);
            let mut spans = Vec::new();
            assert_eq!(t.plain_row(3, &mut spans), Some(()), "{text:?}");
            let got: Vec<&str> = spans.iter().map(|s| t.slice(s.start, s.end)).collect();
            assert_eq!(got, want, "{text:?}");
            assert_eq!(t.line, 1 + u64::from(text.contains('\n')), "{text:?}");
            let rest = text.find('\n').map_or(text.len(), |i| i + 1);
            assert_eq!(t.pos, rest, "{text:?}");
        }
        let not_plain = [
            "a,b\n",
            "a,b,c,d\n",
            "a,\"b\"\"q\",c\n",
            "a,\"b\"x,c\n",
            "a,b\"q,c\n",
            "a,\"b\nc\",d\n",
            "a,b\tx,c\n",
            "a,b\rx,c\n",
            "a,b\u{7f},c\n",
            "a,\u{85}b,c\n",
            "a,b,\"c",
            "a,b,c\r",
        ];
        for text in not_plain {
            let mut t = Tokenizer::new(text);
            let mut spans = Vec::new();
            assert_eq!(t.plain_row(3, &mut spans), None, "{text:?}");
            assert_eq!((t.pos, t.line), (0, 1), "{text:?}");
        }
    }

    proptest::proptest! {
        /// What `verbatim::holds` relies on: in a plain row an unquoted
        /// value has no `,` `"` CR or LF, and a quoted one no `"`.
        #[test]
        fn a_plain_rows_values_hold_nothing_the_writer_quotes_for(
            text in r#"((("[a ,"\r\n\té]{0,4}")|[a ,"\r\n\t\u{7f}\u{85}é]{0,4}),){2}(("[a ,"\r\n\té]{0,4}")|[a ,"\r\n\té]{0,4})(\r?\n)?"#,
        ) {
            let mut t = Tokenizer::new(&text);
            let mut spans = Vec::new();
            if t.plain_row(3, &mut spans).is_some() {
                for span in &spans {
                    let value = t.slice(span.start, span.end);
                    let special = |b: u8| matches!(b, b',' | b'"' | b'\r' | b'\n');
                    if span.quoted {
                        proptest::prop_assert!(!value.contains('"'), "{text:?}");
                    } else {
                        proptest::prop_assert!(!value.bytes().any(special), "{text:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn splits_rows_as_the_whole_file_reader() {
        let (r, p) = rows("a,\"b,c\",\"say \"\"hi\"\"\"\r\nd,,\"\"\n\n  \r\ne\u{7f}f,\"x\u{85}\"");
        assert_eq!(
            r,
            vec![
                vec!["a", "b,c", "say \"hi\""],
                vec!["d", "", ""],
                vec!["e\u{7f}f", "x\u{85}"]
            ]
        );
        assert_eq!(p, 2);
    }
}
