//! Reads endpoint data in Pinpoint's JSON format.
//!
//! Three layouts are accepted, since the output is always rewritten as
//! newline-delimited JSON (one compact object per line), which is what
//! Pinpoint imports:
//! - a JSON array of endpoint objects, pretty-printed or not (the seed's form);
//! - newline-delimited JSON, one endpoint object per line;
//! - one endpoint object (or several in a row), pretty-printed or not.
//!
//! Values, as Pinpoint's JSON format nests them:
//! `{"ChannelType","Address","Id","RequestId","OptOut","EffectiveDate",
//! "Attributes":{name:[..]},"Metrics":{name:number},"Demographic":{..},
//! "Location":{..},"User":{"UserId","UserAttributes":{name:[..]}}}`.
//! - Custom attribute values are lists of strings. **A bare string is accepted
//!   and wrapped into a one-element list** (`"Plan":"Gold"` becomes
//!   `"Plan":["Gold"]`), since its meaning is plain and the upload is rewritten.
//! - Where text is expected, a number or `true`/`false` is accepted and written
//!   as text (`"UserId":42` becomes `"UserId":"42"`); `null` means "not given".
//! - Metrics, `Latitude` and `Longitude` must be JSON numbers; a number in
//!   quotes is a problem, since text that looks like a number may not be one.
//! - A key that appears twice in one object is a problem: only one value
//!   would be imported.
//! - A key or string with a control character other than TAB, CR and LF
//!   (NUL, ESC, DEL, C1; written as `\u001b` or raw) is a problem, as in CSV.
//! - In newline-delimited data each object is on its own line: an object that
//!   starts on the line where the one before it ends is a problem.
//!
//! After a syntax error in newline-delimited data, reading resumes at the next
//! line that starts with `{`, so one broken line does not hide the others; in
//! an array, reading stops at the first syntax error.
//!
//! What is the oracle's own is the reading: every line start of the text is
//! found first, each endpoint is parsed into a `serde_json::Value` and the
//! place of every key of every object is mapped. The values and their
//! messages follow the rules of the streaming reader
//! ([`crate::endpoints::json_stream`]), which this calls.

use std::borrow::Cow;

use serde_json::Value;

use crate::endpoints::builder::{Builder, Locate};
use crate::endpoints::draft::Draft;
use crate::endpoints::json_keys::KeyMap;
use crate::endpoints::json_stream::{
    AFTER_ARRAY_MESSAGE, EMPTY_MESSAGE, KeyPath, LAYOUT_MESSAGE, NO_COMMA_MESSAGE,
    NO_ENDPOINTS_MESSAGE, NOT_AN_OBJECT_START_MESSAGE, Node, Object, SAME_LINE_MESSAGE,
    TRAILING_COMMA_MESSAGE, UNCLOSED_ARRAY_MESSAGE, convert_object, duplicate_key_message,
    find_controls, kind_of, not_an_object_message, report_controls, syntax_message,
};
use crate::endpoints::limits::Limits;
use crate::endpoints::rules::{Origin, Position, problem_at};
use crate::error::ProblemKind;

use super::reading::Reading;

/// Line starts of the text, to turn byte offsets into lines and columns.
struct Lines<'a> {
    text: &'a str,
    starts: Vec<usize>,
}

impl<'a> Lines<'a> {
    fn new(text: &'a str) -> Self {
        let mut starts = vec![0];
        starts.extend(
            text.bytes()
                .enumerate()
                .filter(|(_, b)| *b == b'\n')
                .map(|(i, _)| i + 1),
        );
        Lines { text, starts }
    }

    /// The line (from 1) and byte column (from 1) of a byte offset. Columns
    /// become character columns in [`char_columns`], only for the problems
    /// reported: counting characters here would make a minified one-line
    /// array quadratic.
    fn position(&self, offset: usize) -> Position {
        let index = self
            .starts
            .partition_point(|s| *s <= offset)
            .saturating_sub(1);
        let start = self.starts.get(index).copied().unwrap_or(0);
        let column = offset.saturating_sub(start) + 1;
        Position::at(index as u64 + 1, Some(column as u64))
    }

    /// The character column (from 1) of byte `column` (from 1) on `line`.
    fn char_column(&self, line: u64, column: u64) -> Option<u64> {
        let start = self.start_of(line)?;
        let offset = start.checked_add(usize::try_from(column.checked_sub(1)?).ok()?)?;
        let before = self.text.get(start..offset.min(self.text.len()))?;
        Some(before.chars().count() as u64 + 1)
    }

    /// The byte offset where `line` (from 1) starts, if there is such a line.
    fn start_of(&self, line: u64) -> Option<usize> {
        let index = usize::try_from(line.checked_sub(1)?).ok()?;
        self.starts.get(index).copied()
    }
}

/// Turns the byte columns of `problems` (positions in JSON `text`) into
/// character columns.
pub(crate) fn char_columns(text: &str, problems: &mut [crate::error::Problem]) {
    if problems.is_empty() {
        return;
    }
    let lines = Lines::new(text);
    for p in problems {
        if let (Some(line), Some(column)) = (p.line, p.column) {
            p.column = lines.char_column(line, column).or(p.column);
        }
    }
}

/// The reader's state: the text, its lines, and where results go.
struct Reader<'a, 'r> {
    text: &'a str,
    lines: Lines<'a>,
    limits: &'r Limits,
    reading: &'r mut Reading,
    records: u64,
}

/// Reads JSON `text` (without a BOM) into `reading`.
pub(crate) fn read(text: &str, limits: &Limits, reading: &mut Reading) {
    let mut reader = Reader {
        text,
        lines: Lines::new(text),
        limits,
        reading,
        records: 0,
    };
    let start = reader.skip_ws(0);
    match text.as_bytes().get(start) {
        None => reader.file_problem(None, EMPTY_MESSAGE),
        Some(b'[') => reader.read_array(start),
        Some(b'{') => reader.read_stream(start),
        Some(_) => reader.file_problem(Some(start), LAYOUT_MESSAGE),
    }
    if reader.records == 0 && reader.reading.problems.is_empty() {
        reader.file_problem(Some(start), NO_ENDPOINTS_MESSAGE);
    }
}

impl Reader<'_, '_> {
    fn byte(&self, i: usize) -> Option<u8> {
        self.text.as_bytes().get(i).copied()
    }

    fn skip_ws(&self, mut i: usize) -> usize {
        while matches!(self.byte(i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            i += 1;
        }
        i
    }

    /// A problem about the data as a whole (no record), at `offset` if known.
    fn file_problem(&mut self, offset: Option<usize>, message: &str) {
        let at = offset.map(|o| self.lines.position(o)).unwrap_or_default();
        self.reading.problems.push(problem_at(
            ProblemKind::MalformedData,
            None,
            at,
            None,
            message,
        ));
    }

    fn record_problem(&mut self, record: u64, at: Position, message: String) {
        self.reading.problems.push(problem_at(
            ProblemKind::MalformedData,
            Some(record),
            at,
            None,
            message,
        ));
    }

    /// Parses one JSON value at `offset`; the value and the offset after it.
    fn parse_at(&self, offset: usize) -> Result<(Value, usize), serde_json::Error> {
        let rest = self.text.get(offset..).unwrap_or("");
        let mut stream = serde_json::Deserializer::from_str(rest).into_iter::<Value>();
        match stream.next() {
            Some(Ok(v)) => Ok((v, offset + stream.byte_offset())),
            Some(Err(e)) => Err(e),
            None => Err(serde::de::Error::custom("no value")),
        }
    }

    /// Reports a syntax error in the value that starts at `offset`.
    fn syntax_problem(&mut self, record: u64, offset: usize, e: &serde_json::Error) {
        let base = self.lines.position(offset);
        let base_line = base.line.unwrap_or(1);
        let (line, column) = if e.line() <= 1 {
            let col = base.column.unwrap_or(1) + (e.column() as u64).saturating_sub(1);
            (base_line, col)
        } else {
            (base_line + e.line() as u64 - 1, e.column() as u64)
        };
        let message = syntax_message(e);
        self.record_problem(record, Position::at(line, Some(column)), message);
    }

    fn read_array(&mut self, open: usize) {
        let mut pos = self.skip_ws(open + 1);
        if self.byte(pos) == Some(b']') {
            self.after_array(pos + 1);
            return;
        }
        loop {
            let record = self.records + 1;
            match self.parse_at(pos) {
                Ok((value, end)) => {
                    self.records = record;
                    self.endpoint(value, pos, end);
                    pos = self.skip_ws(end);
                }
                Err(e) => {
                    self.syntax_problem(record, pos, &e);
                    return;
                }
            }
            match self.byte(pos) {
                Some(b',') => {
                    pos = self.skip_ws(pos + 1);
                    if self.byte(pos) == Some(b']') {
                        self.file_problem(Some(pos), TRAILING_COMMA_MESSAGE);
                        return;
                    }
                }
                Some(b']') => {
                    self.after_array(pos + 1);
                    return;
                }
                None => {
                    self.file_problem(Some(pos), UNCLOSED_ARRAY_MESSAGE);
                    return;
                }
                Some(_) => {
                    self.file_problem(Some(pos), NO_COMMA_MESSAGE);
                    return;
                }
            }
        }
    }

    fn after_array(&mut self, pos: usize) {
        let rest = self.skip_ws(pos);
        if rest < self.text.len() {
            self.file_problem(Some(rest), AFTER_ARRAY_MESSAGE);
        }
    }

    fn read_stream(&mut self, mut pos: usize) {
        // The line the last object ended on.
        let mut last_end_line: Option<u64> = None;
        loop {
            pos = self.skip_ws(pos);
            if pos >= self.text.len() {
                return;
            }
            let record = self.records + 1;
            self.records = record;
            let at = self.lines.position(pos);
            if last_end_line.is_some() && last_end_line == at.line {
                self.record_problem(record, at, SAME_LINE_MESSAGE.into());
            }
            last_end_line = None;
            if self.byte(pos) != Some(b'{') {
                let at = self.lines.position(pos);
                self.record_problem(record, at, NOT_AN_OBJECT_START_MESSAGE.into());
                pos = self.resync(at.line.unwrap_or(1));
                continue;
            }
            match self.parse_at(pos) {
                Ok((value, end)) => {
                    self.endpoint(value, pos, end);
                    last_end_line = self.lines.position(end.saturating_sub(1)).line;
                    pos = end;
                }
                Err(e) => {
                    let start_line = self.lines.position(pos).line.unwrap_or(1);
                    self.syntax_problem(record, pos, &e);
                    if e.is_eof() {
                        return;
                    }
                    pos = self.resync(start_line);
                }
            }
        }
    }

    /// The start of the first line after `line` that begins with `{`, or the
    /// end of the text.
    fn resync(&self, line: u64) -> usize {
        let mut next = line + 1;
        while let Some(start) = self.lines.start_of(next) {
            let first = self.skip_ws_in_line(start);
            if self.byte(first) == Some(b'{') {
                return first;
            }
            next += 1;
        }
        self.text.len()
    }

    fn skip_ws_in_line(&self, mut i: usize) -> usize {
        while matches!(self.byte(i), Some(b' ' | b'\t')) {
            i += 1;
        }
        i
    }

    /// Turns one parsed value, found at `start..end`, into an endpoint.
    fn endpoint(&mut self, value: Value, start: usize, end: usize) {
        let record = self.records;
        let at = self.lines.position(start);
        let origin = Origin { record, at };
        let node = node_of(value);
        let Node::Object(object) = &node else {
            let msg = not_an_object_message(kind_of(&node));
            self.record_problem(record, at, msg);
            return;
        };
        let source = self.text.get(start..end).unwrap_or("");
        let keys = KeyMap::scan(source);
        for (path, offset) in &keys.duplicates {
            let pos = self.lines.position(start + offset);
            self.reading.problems.push(problem_at(
                ProblemKind::MalformedData,
                Some(record),
                pos,
                Some(path.clone()),
                duplicate_key_message(path),
            ));
        }
        let mut locate = WholeLocate {
            lines: &self.lines,
            keys: &keys,
            base: start,
            fallback: at,
        };
        let mut controls = Vec::new();
        find_controls(object, &mut Vec::new(), &mut controls);
        report_controls(&mut self.reading.problems, record, controls, |path| {
            locate.at(path)
        });
        let mut draft = Draft::default();
        let mut builder = Builder::new(
            origin,
            self.limits,
            &mut self.reading.problems,
            &mut locate,
            &mut draft,
        );
        convert_object(object, &mut builder);
        builder.finish(false, false);
        self.reading.endpoints.push(draft.to_endpoint());
        self.reading.origins.push(origin);
    }
}

/// The tree of a parsed value, as the rules take it.
fn node_of(value: Value) -> Node<'static> {
    match value {
        Value::Null => Node::Null,
        Value::Bool(x) => Node::Bool(x),
        Value::Number(n) => Node::Number(n),
        Value::String(s) => Node::Str(Cow::Owned(s)),
        Value::Array(items) => Node::Array(items.into_iter().map(node_of).collect()),
        Value::Object(map) => Node::Object(Object::new(
            map.into_iter()
                .map(|(k, v)| (Cow::Owned(k), node_of(v)))
                .collect(),
        )),
    }
}

/// Finds the position of a field in the data: every key of the object is
/// mapped ([`KeyMap`]), every line start known.
struct WholeLocate<'a> {
    lines: &'a Lines<'a>,
    keys: &'a KeyMap<'a>,
    base: usize,
    fallback: Position,
}

impl WholeLocate<'_> {
    /// Where the key at `path` is, or the nearest key above it that can be
    /// found (a key written with escapes cannot), or the object.
    fn at(&self, path: &[&str]) -> Position {
        let found = (1..=path.len())
            .rev()
            .find_map(|n| path.get(..n).and_then(|p| self.keys.offset(p)));
        match found {
            Some(offset) => self.lines.position(self.base + offset),
            None => self.fallback,
        }
    }
}

impl<'a> Locate for WholeLocate<'a> {
    type At = KeyPath<'a>;

    fn position(&mut self, at: KeyPath<'a>) -> Position {
        self.at(at.keys())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_map_finds_nested_keys_and_duplicates() {
        let src = "{\n \"A\": 1,\n \"User\": {\"UserId\": \"u\", \"UserAttributes\": {\"X\": [\"{\", \"]\"]}},\n \"A\": 2, \"B\": [{\"C\":1}], \"D\": {\"A\": 1}}";
        let keys = KeyMap::scan(src);
        assert_eq!(keys.offset(&["A"]), Some(3));
        assert!(keys.offset(&["User", "UserId"]).is_some());
        assert!(keys.offset(&["User", "UserAttributes", "X"]).is_some());
        assert!(keys.offset(&["B"]).is_some());
        assert!(keys.offset(&["C"]).is_none());
        assert!(keys.offset(&["B", "C"]).is_none());
        assert!(keys.offset(&["D", "A"]).is_some());
        assert!(keys.offset(&["UserId"]).is_none());
        assert_eq!(keys.duplicates.len(), 1);
        assert_eq!(keys.duplicates[0].0, "A");
        let nested = KeyMap::scan("{\"User\":{\"UserId\":\"a\",\"UserId\":\"b\"}}");
        assert_eq!(nested.duplicates[0].0, "User.UserId");
    }

    #[test]
    fn lines_give_positions() {
        let lines = Lines::new("ab\ncé\nx");
        assert_eq!(lines.position(0), Position::at(1, Some(1)));
        assert_eq!(lines.position(6), Position::at(2, Some(4)));
        assert_eq!(lines.char_column(2, 4), Some(3));
        assert_eq!(lines.position(7), Position::at(3, Some(1)));
        assert_eq!(lines.start_of(3), Some(7));
        assert_eq!(lines.start_of(4), None);
        assert_eq!(lines.char_column(9, 1), None);
    }
}
