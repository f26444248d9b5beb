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
//!
//! What is the oracle's own is the reading: the text is split into rows of
//! owned values, byte by byte, and each row is read whole before its
//! endpoint is built. The header, the values and their messages follow the
//! rules of the streaming reader ([`crate::endpoints::csv_stream`]), which
//! this calls.

use std::borrow::Cow;

use crate::endpoints::builder::{Builder, Known};
use crate::endpoints::csv_stream::{
    AFTER_QUOTE_MESSAGE, BREAK_MESSAGE, CR_MESSAGE, Cell, EMPTY_MESSAGE, NO_ENDPOINTS_MESSAGE,
    Report, STRAY_QUOTE_MESSAGE, TAB_MESSAGE, end_row, read_header, set_cell,
    unclosed_quote_message,
};
use crate::endpoints::draft::Draft;
use crate::endpoints::limits::Limits;
use crate::endpoints::rules::{Origin, Position};
use crate::error::{Problem, ProblemKind};

use super::reading::Reading;

/// One row: its first line and its values.
#[derive(Debug)]
struct Row {
    line: u64,
    cells: Vec<Cell<'static>>,
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
    fn next_row(&mut self, report: &mut Report<'_, Vec<Problem>>) -> Option<Row> {
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

    fn unquoted(
        &mut self,
        column: usize,
        report: &mut Report<'_, Vec<Problem>>,
    ) -> (Cell<'static>, End) {
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
                report.malformed(line, column, || message.to_owned());
            }
        }
        let control = report.control(&value, line, column);
        let bad = tab || cr || quote || control;
        let value = Cow::Owned(value);
        let cell = Cell {
            value,
            line,
            bad,
            quoted: false,
        };
        (cell, end)
    }

    fn quoted(
        &mut self,
        column: usize,
        report: &mut Report<'_, Vec<Problem>>,
    ) -> (Cell<'static>, End) {
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
                    report.malformed(open_line, column, || unclosed_quote_message(open_line));
                    let cell = Cell {
                        value: Cow::Owned(value),
                        line: open_line,
                        bad: true,
                        quoted: true,
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
            report.malformed(line, column, || BREAK_MESSAGE.to_owned());
        }
        if let Some(line) = tab {
            report.malformed(line, column, || TAB_MESSAGE.to_owned());
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
                    report.malformed(self.line, column, || AFTER_QUOTE_MESSAGE.to_owned());
                    bad = true;
                    self.pos = after;
                    self.unquoted_rest()
                }
            },
        };
        let cell = Cell {
            value: Cow::Owned(value),
            line: open_line,
            bad,
            quoted: true,
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

/// Reads CSV `text` (without a BOM) into `reading`: every row, then each
/// row's endpoint.
pub(crate) fn read(text: &str, limits: &Limits, reading: &mut Reading) {
    let mut tokenizer = Tokenizer::new(text);
    let mut report = Report {
        problems: &mut reading.problems,
        record: None,
    };
    let Some(header_row) = tokenizer.next_row(&mut report) else {
        reading.problems.push(crate::endpoints::rules::problem_at(
            ProblemKind::MalformedData,
            None,
            Position::default(),
            None,
            EMPTY_MESSAGE,
        ));
        return;
    };
    let header = read_header(header_row.line, header_row.cells, &mut report);
    let mut rows = Vec::new();
    loop {
        report.record = Some(rows.len() as u64 + 1);
        let Some(row) = tokenizer.next_row(&mut report) else {
            break;
        };
        rows.push(row);
    }
    for (i, row) in rows.into_iter().enumerate() {
        let origin = Origin {
            record: i as u64 + 1,
            at: Position::at(row.line, None),
        };
        let mut draft = Draft::default();
        let mut known = Known;
        let mut builder = Builder::new(
            origin,
            limits,
            &mut reading.problems,
            &mut known,
            &mut draft,
        );
        let found = row.cells.len();
        for (index, cell) in row.cells.into_iter().enumerate() {
            set_cell(&header, &[], index, cell, &mut builder);
        }
        end_row(&header, found, &mut builder);
        builder.finish(header.lacks_required, false);
        reading.endpoints.push(draft.to_endpoint());
        reading.origins.push(origin);
    }
    if reading.origins.is_empty() {
        reading.problems.push(crate::endpoints::rules::problem_at(
            ProblemKind::MalformedData,
            None,
            Position::at(header.line + 1, None),
            None,
            NO_ENDPOINTS_MESSAGE,
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(text: &str) -> (Vec<Vec<String>>, Vec<Problem>) {
        let mut problems = Vec::new();
        let mut report = Report {
            problems: &mut problems,
            record: None,
        };
        let mut t = Tokenizer::new(text);
        let mut out = Vec::new();
        while let Some(row) = t.next_row(&mut report) {
            out.push(
                row.cells
                    .into_iter()
                    .map(|c| c.value.into_owned())
                    .collect(),
            );
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
