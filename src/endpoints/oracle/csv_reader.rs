//! Reads endpoint data in Pinpoint's CSV format.
//!
//! A strict RFC 4180 reader of its own rather than the `csv` crate, because
//! that crate silently accepts what Pinpoint may not (a quote inside an
//! unquoted value, text after a closing quote, an unclosed quote) and reports
//! positions only as bytes. Here every such case is a problem with its line
//! and field, and reading goes on to find the others.
//!
//! - A UTF-8 byte order mark is stripped; lines end in LF or CRLF.
//! - Blank lines (empty, or only spaces) are skipped and left out of the
//!   upload; they are not endpoints and do not count as records.
//! - CR, LF or TAB inside a value is a problem (Pinpoint's current rule), as is
//!   a lone CR; so is any other control character (NUL, ESC, DEL, C1), in a
//!   value or a column name.
//! - A header column may repeat only for `Attributes.*` and
//!   `User.UserAttributes.*`: each repeat is one more value of the attribute.
//! - An empty cell means "not given".

use crate::error::{ProblemKind, quote};

use super::model::Field;
use super::rules::{
    EndpointBuilder, Origin, Position, control_message, custom_name_problem, forbidden_control,
    problem_at,
};
use super::{Limits, Reading};

/// One value of a row.
#[derive(Debug)]
struct Cell {
    value: String,
    /// The line the value starts on.
    line: u64,
    /// The value broke a CSV rule (already reported); do not check it further.
    bad: bool,
}

/// One row: its first line and its values.
#[derive(Debug)]
struct Row {
    line: u64,
    cells: Vec<Cell>,
}

/// How a field ended.
#[derive(Debug, PartialEq, Eq)]
enum End {
    Comma,
    LineBreak,
    Eof,
}

/// Splits the text into rows and values, reporting every CSV-level problem.
struct Tokenizer<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    line: u64,
}

/// The problem list and the record the tokenizer is reading (`None` = header).
struct Report<'p> {
    problems: &'p mut Vec<crate::error::Problem>,
    record: Option<u64>,
}

impl Report<'_> {
    fn malformed(&mut self, line: u64, column: usize, message: &str) {
        self.problems.push(problem_at(
            ProblemKind::MalformedData,
            self.record,
            Position::at(line, Some(column as u64)),
            None,
            message,
        ));
    }

    /// Reports a forbidden control character in `value`; true if there is one.
    fn control(&mut self, value: &str, line: u64, column: usize) -> bool {
        let Some(c) = forbidden_control(value) else {
            return false;
        };
        let what = if self.record.is_none() {
            "the column name"
        } else {
            "the value"
        };
        self.malformed(line, column, &control_message(what, c));
        true
    }
}

const TAB_MESSAGE: &str = "the value contains a tab; Pinpoint does not accept tabs in CSV values; remove it or use spaces";
const BREAK_MESSAGE: &str = "the value contains a line break; Pinpoint does not accept line breaks in CSV values (even in quotes); remove it";
const CR_MESSAGE: &str =
    "the value contains a carriage return (CR) that does not end a line; remove it";
const STRAY_QUOTE_MESSAGE: &str = "the value contains a double quote but is not enclosed in double quotes; enclose the whole value in double quotes and double the quote inside (\"say \"\"hi\"\"\")";
const AFTER_QUOTE_MESSAGE: &str = "there is text after the closing double quote of this value; a quoted value must end at its closing quote, and a quote inside it must be doubled (\"\")";

impl<'a> Tokenizer<'a> {
    fn new(text: &'a str) -> Self {
        Tokenizer {
            text,
            bytes: text.as_bytes(),
            pos: 0,
            line: 1,
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
            if self.pos >= self.bytes.len() {
                return false;
            }
            let rest = self.bytes.get(self.pos..).unwrap_or(&[]);
            let end = rest.iter().position(|b| *b == b'\n');
            let line = match end {
                Some(e) => rest.get(..e).unwrap_or(&[]),
                None => rest,
            };
            if !line.iter().all(|b| matches!(b, b' ' | b'\t' | b'\r')) {
                return true;
            }
            match end {
                Some(e) => {
                    self.pos += e + 1;
                    self.line += 1;
                }
                None => self.pos = self.bytes.len(),
            }
        }
    }

    /// The next row, or `None` at the end of the text.
    fn next_row(&mut self, report: &mut Report<'_>) -> Option<Row> {
        if !self.skip_blank_lines() {
            return None;
        }
        let mut row = Row {
            line: self.line,
            cells: Vec::new(),
        };
        loop {
            let column = row.cells.len() + 1;
            let (cell, end) = if self.byte(self.pos) == Some(b'"') {
                self.quoted(column, report)
            } else {
                self.unquoted(column, report)
            };
            row.cells.push(cell);
            if end != End::Comma {
                return Some(row);
            }
        }
    }

    /// Consumes a line break at `pos` (LF or CRLF), if there is one.
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

    fn unquoted(&mut self, column: usize, report: &mut Report<'_>) -> (Cell, End) {
        let start = self.pos;
        let line = self.line;
        let (mut tab, mut cr, mut quote) = (false, false, false);
        let mut i = start;
        let end = loop {
            match self.byte(i) {
                None => {
                    self.pos = i;
                    break End::Eof;
                }
                Some(b',') => {
                    self.pos = i + 1;
                    break End::Comma;
                }
                Some(b'\n') => break End::LineBreak,
                Some(b'\r') if self.byte(i + 1) == Some(b'\n') => break End::LineBreak,
                Some(b'\r') => cr = true,
                Some(b'\t') => tab = true,
                Some(b'"') => quote = true,
                Some(_) => {}
            }
            i += 1;
        };
        let value = self.slice(start, i).to_owned();
        if end == End::LineBreak {
            self.line_break_at(i);
        }
        for (flag, message) in [
            (quote, STRAY_QUOTE_MESSAGE),
            (tab, TAB_MESSAGE),
            (cr, CR_MESSAGE),
        ] {
            if flag {
                report.malformed(line, column, message);
            }
        }
        let control = report.control(&value, line, column);
        let bad = tab || cr || quote || control;
        (Cell { value, line, bad }, end)
    }

    fn quoted(&mut self, column: usize, report: &mut Report<'_>) -> (Cell, End) {
        let open_line = self.line;
        let mut value = String::new();
        let mut segment = self.pos + 1;
        let mut i = segment;
        // Lines of the first tab and the first line break, reported once the
        // value closes (an unclosed quote is reported alone).
        let (mut tab, mut line_break): (Option<u64>, Option<u64>) = (None, None);
        loop {
            match self.byte(i) {
                None => {
                    value.push_str(self.slice(segment, i));
                    self.pos = i;
                    let msg = format!(
                        "the double quote that opens this value (line {open_line}) is never closed; add the closing quote"
                    );
                    report.malformed(open_line, column, &msg);
                    let cell = Cell {
                        value,
                        line: open_line,
                        bad: true,
                    };
                    return (cell, End::Eof);
                }
                Some(b'"') if self.byte(i + 1) == Some(b'"') => {
                    value.push_str(self.slice(segment, i + 1));
                    i += 2;
                    segment = i;
                    continue;
                }
                Some(b'"') => {
                    value.push_str(self.slice(segment, i));
                    break;
                }
                Some(b'\n') => {
                    line_break.get_or_insert(self.line);
                    self.line += 1;
                }
                Some(b'\r') => {
                    line_break.get_or_insert(self.line);
                }
                Some(b'\t') => {
                    tab.get_or_insert(self.line);
                }
                Some(_) => {}
            }
            i += 1;
        }
        if let Some(line) = line_break {
            report.malformed(line, column, BREAK_MESSAGE);
        }
        if let Some(line) = tab {
            report.malformed(line, column, TAB_MESSAGE);
        }
        let control = report.control(&value, open_line, column);
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
                    report.malformed(self.line, column, AFTER_QUOTE_MESSAGE);
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
        };
        (cell, end)
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
struct Header {
    line: u64,
    columns: Vec<Option<Field>>,
    /// The header lacks `ChannelType` or `Address` (and has no `Id`); already reported.
    lacks_required: bool,
}

fn read_header(row: Row, report: &mut Report<'_>) -> Header {
    let mut columns: Vec<Option<Field>> = Vec::with_capacity(row.cells.len());
    let mut suggested = Vec::new();
    for (i, cell) in row.cells.into_iter().enumerate() {
        let column = i + 1;
        if cell.bad {
            columns.push(None);
            continue;
        }
        let field = match Field::parse(&cell.value) {
            Ok(f) => f,
            Err(msg) => {
                if let Some(s) = super::model::suggest_field(&cell.value) {
                    suggested.push(s);
                }
                report_header(report, row.line, column, &cell.value, msg);
                columns.push(None);
                continue;
            }
        };
        if let Some(msg) = custom_name_problem(&field) {
            report_header(report, row.line, column, &cell.value, msg);
            columns.push(None);
            continue;
        }
        if !field.is_multi_valued() && columns.iter().any(|c| c.as_ref() == Some(&field)) {
            let msg = format!(
                "the column `{}` appears more than once; only Attributes.* and User.UserAttributes.* columns may repeat (one value per column)",
                quote(&cell.value)
            );
            report_header(report, row.line, column, &cell.value, msg);
            columns.push(None);
            continue;
        }
        columns.push(Some(field));
    }
    let lacks_required = check_required_columns(&columns, &suggested, row.line, report);
    Header {
        line: row.line,
        columns,
        lacks_required,
    }
}

fn report_header(report: &mut Report<'_>, line: u64, column: usize, name: &str, message: String) {
    report.problems.push(problem_at(
        ProblemKind::MalformedData,
        None,
        Position::at(line, Some(column as u64)),
        Some(name.to_owned()),
        message,
    ));
}

/// Reports, once, a header without `ChannelType` or `Address` (unless it has
/// `Id`, for updates); true when rows must not be checked for them again.
fn check_required_columns(
    columns: &[Option<Field>],
    suggested: &[String],
    line: u64,
    report: &mut Report<'_>,
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
        report.problems.push(problem_at(
            ProblemKind::MissingRequiredFields,
            None,
            Position::at(line, None),
            Some((*first).to_owned()),
            msg,
        ));
    }
    true
}

/// Reads CSV `text` (without a BOM) into `reading`.
pub(crate) fn read(text: &str, limits: &Limits, reading: &mut Reading) {
    let mut tokenizer = Tokenizer::new(text);
    let mut report = Report {
        problems: &mut reading.problems,
        record: None,
    };
    let Some(header_row) = tokenizer.next_row(&mut report) else {
        report.problems.push(problem_at(
            ProblemKind::MalformedData,
            None,
            Position::default(),
            None,
            "the data is empty; give a header line of Pinpoint attribute names (e.g. ChannelType,Address) and one line per endpoint",
        ));
        return;
    };
    let header = read_header(header_row, &mut report);
    let mut record = 0u64;
    loop {
        report.record = Some(record + 1);
        let Some(row) = tokenizer.next_row(&mut report) else {
            break;
        };
        record += 1;
        let origin = Origin {
            record,
            at: Position::at(row.line, None),
        };
        let endpoint = read_row(&header, row, origin, limits, report.problems);
        reading.endpoints.push(endpoint);
        reading.origins.push(origin);
    }
    if record == 0 {
        reading.problems.push(problem_at(
            ProblemKind::MalformedData,
            None,
            Position::at(header.line + 1, None),
            None,
            "the CSV has a header but no endpoints; add one line per endpoint below the header",
        ));
    }
}

fn read_row(
    header: &Header,
    row: Row,
    origin: Origin,
    limits: &Limits,
    problems: &mut Vec<crate::error::Problem>,
) -> super::model::Endpoint {
    let expected = header.columns.len();
    let found = row.cells.len();
    if found != expected {
        let msg = format!(
            "this line has {found} values but the header has {expected} columns; check for a missing or extra comma (a value containing a comma must be in double quotes)"
        );
        problems.push(problem_at(
            ProblemKind::MalformedData,
            Some(origin.record),
            origin.at,
            None,
            msg,
        ));
    }
    let mut builder = EndpointBuilder::new(origin, limits, problems);
    // A short row is already reported; its missing cells are not reported again.
    for field in header.columns.iter().skip(found).flatten() {
        builder.unreadable(field);
    }
    for (i, (column, cell)) in header.columns.iter().zip(row.cells).enumerate() {
        let Some(field) = column else { continue };
        if cell.bad {
            builder.unreadable(field);
        } else if !cell.value.is_empty() {
            let at = Position::at(cell.line, Some(i as u64 + 1));
            builder.set_text(field, cell.value, at);
        }
    }
    builder.finish(header.lacks_required)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(text: &str) -> (Vec<Vec<String>>, Vec<crate::error::Problem>) {
        let mut problems = Vec::new();
        let mut report = Report {
            problems: &mut problems,
            record: None,
        };
        let mut t = Tokenizer::new(text);
        let mut out = Vec::new();
        while let Some(row) = t.next_row(&mut report) {
            out.push(row.cells.into_iter().map(|c| c.value).collect());
        }
        (out, problems)
    }

    #[test]
    fn splits_quoted_values_with_commas_and_quotes() {
        let (r, p) = rows("a,\"b,c\",\"say \"\"hi\"\"\"\r\nd,,\"\"\n");
        assert!(p.is_empty(), "{p:?}");
        assert_eq!(r, vec![vec!["a", "b,c", "say \"hi\""], vec!["d", "", ""]]);
    }

    #[test]
    fn skips_blank_lines_and_counts_lines() {
        let mut problems = Vec::new();
        let mut report = Report {
            problems: &mut problems,
            record: None,
        };
        let mut t = Tokenizer::new("\n  \r\na\n\nb");
        assert_eq!(t.next_row(&mut report).map(|r| r.line), Some(3));
        assert_eq!(t.next_row(&mut report).map(|r| r.line), Some(5));
        assert!(t.next_row(&mut report).is_none());
    }

    #[test]
    fn reports_bad_quoting() {
        let (_, p) = rows("a\"b,c\n");
        assert!(p[0].message.contains("not enclosed"), "{p:?}");
        let (r, p) = rows("\"ab\"c,d\ne\n");
        assert!(p[0].message.contains("after the closing"), "{p:?}");
        assert_eq!(r.len(), 2);
        let (_, p) = rows("a,\"bc\nd\n");
        assert!(
            p.iter().any(|p| p.message.contains("never closed")),
            "{p:?}"
        );
    }

    #[test]
    fn reports_tabs_and_line_breaks_in_values() {
        let (_, p) = rows("a\tb,c\n");
        assert_eq!(p.len(), 1);
        assert!(p[0].message.contains("tab"));
        assert_eq!(p[0].column, Some(1));
        let (r, p) = rows("\"a\nb\",c\nd,e\n");
        assert_eq!(p.len(), 1);
        assert!(p[0].message.contains("line break"));
        assert_eq!(r.len(), 2);
        let (_, p) = rows("a\rb,c\n");
        assert!(p[0].message.contains("carriage return"));
    }
}
