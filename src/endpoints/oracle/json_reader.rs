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

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use serde_json::{Map, Value};

use crate::error::{ProblemKind, quote};

use super::model::{DemographicField, Field, LocationField, suggest_field, unknown_field_message};
use super::rules::{
    EndpointBuilder, Origin, Position, control_message, custom_name_problem, forbidden_control,
    parse_number, problem_at,
};
use super::{Limits, Reading};

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
        None => reader.file_problem(
            None,
            "the data is empty; give endpoint objects such as {\"ChannelType\":\"EMAIL\",\"Address\":\"jane@example.com\"}, one per line or in a JSON array",
        ),
        Some(b'[') => reader.read_array(start),
        Some(b'{') => reader.read_stream(start),
        Some(_) => reader.file_problem(
            Some(start),
            "the JSON data must be an array of endpoint objects ([{...},{...}]), one endpoint object per line, or a single object; it starts with something else",
        ),
    }
    if reader.records == 0 && reader.reading.problems.is_empty() {
        reader.file_problem(
            Some(start),
            "the JSON data has no endpoints; add at least one endpoint object",
        );
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
                        self.file_problem(
                            Some(pos),
                            "there is a comma after the last endpoint of the array; remove it",
                        );
                        return;
                    }
                }
                Some(b']') => {
                    self.after_array(pos + 1);
                    return;
                }
                None => {
                    self.file_problem(Some(pos), "the JSON array is not closed; add ] at the end");
                    return;
                }
                Some(_) => {
                    self.file_problem(Some(pos), "expected a comma or ] after this endpoint object; endpoints in an array are separated by commas");
                    return;
                }
            }
        }
    }

    fn after_array(&mut self, pos: usize) {
        let rest = self.skip_ws(pos);
        if rest < self.text.len() {
            self.file_problem(Some(rest), "there is more data after the closing ] of the array; put every endpoint inside the array");
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
                self.record_problem(record, at, "this object starts on the line where the one before it ends; in newline-delimited JSON each endpoint is one object on a line of its own: put a line break before it (or put the endpoints in a JSON array)".into());
            }
            last_end_line = None;
            if self.byte(pos) != Some(b'{') {
                let at = self.lines.position(pos);
                self.record_problem(record, at, "expected an endpoint object starting with {; in newline-delimited JSON each line is one complete object".into());
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
        let Value::Object(object) = value else {
            let msg = format!(
                "each endpoint must be a JSON object ({{\"ChannelType\":...,\"Address\":...}}), not {}",
                kind_of(&value)
            );
            self.record_problem(record, at, msg);
            return;
        };
        let source = self.text.get(start..end).unwrap_or("");
        let keys = KeyMap::scan(source);
        for (path, offset) in &keys.duplicates {
            let pos = self.lines.position(start + offset);
            let msg = format!(
                "the key `{}` appears twice in this object; keep only one",
                quote(path)
            );
            self.reading.problems.push(problem_at(
                ProblemKind::MalformedData,
                Some(record),
                pos,
                Some(path.clone()),
                msg,
            ));
        }
        let locate = Locate {
            lines: &self.lines,
            keys: &keys,
            base: start,
            fallback: at,
        };
        let mut controls = Vec::new();
        find_controls(&object, &mut Vec::new(), &mut controls);
        for (path, c, in_key) in controls {
            let keys: Vec<&str> = path.iter().map(String::as_str).collect();
            let what = if in_key { "the key" } else { "the value" };
            self.reading.problems.push(problem_at(
                ProblemKind::MalformedData,
                Some(record),
                locate.at(&keys),
                Some(path.join(".")),
                control_message(what, c),
            ));
        }
        let mut builder = EndpointBuilder::new(origin, self.limits, &mut self.reading.problems);
        convert_object(&object, &locate, &mut builder);
        let endpoint = builder.finish(false);
        self.reading.endpoints.push(endpoint);
        self.reading.origins.push(origin);
    }
}

/// Every key and string under `object` with a forbidden control character:
/// the path of keys to it, the character, and whether it is in the key.
fn find_controls(
    object: &Map<String, Value>,
    path: &mut Vec<String>,
    found: &mut Vec<(Vec<String>, char, bool)>,
) {
    for (key, value) in object {
        path.push(key.clone());
        if let Some(c) = forbidden_control(key) {
            found.push((path.clone(), c, true));
        }
        find_value_controls(value, path, found);
        path.pop();
    }
}

fn find_value_controls(
    value: &Value,
    path: &mut Vec<String>,
    found: &mut Vec<(Vec<String>, char, bool)>,
) {
    match value {
        Value::String(s) => {
            if let Some(c) = forbidden_control(s) {
                found.push((path.clone(), c, false));
            }
        }
        Value::Array(items) => {
            for item in items {
                find_value_controls(item, path, found);
            }
        }
        Value::Object(map) => find_controls(map, path, found),
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// The message for a JSON syntax error, without serde_json's position suffix.
fn syntax_message(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let bare = match text.rfind(" at line ") {
        Some(i) => text.get(..i).unwrap_or(&text),
        None => &text,
    };
    let hint = if e.is_eof() {
        "; the data ends in the middle of a value: a closing }, ] or quote is missing"
    } else if bare.contains("control character") {
        "; a line break or tab inside a string must be written as \\n or \\t"
    } else if bare.contains("trailing comma") {
        "; remove the comma before the closing bracket"
    } else if bare.contains("recursion limit") {
        "; the data is nested too deeply"
    } else if bare.contains("trailing characters") || bare.contains("expected `,` or `}`") {
        "; check for a missing comma or a missing closing brace"
    } else {
        ""
    };
    format!("the JSON is not valid: {bare}{hint}")
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "true/false",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// Where each key of an object's source text is, by its path of keys.
///
/// Keys are compared as written (escapes are not decoded); a key written
/// with escapes is located at its object instead.
#[derive(Debug, Default)]
struct KeyMap<'a> {
    /// (id of the parent key, 0 for the top level; key) -> (id, byte offset).
    keys: HashMap<(usize, &'a str), (usize, usize)>,
    /// For each id (from 1): the parent's id and the key, to name paths.
    names: Vec<(usize, &'a str)>,
    /// Keys seen twice in the same object: dotted path and byte offset.
    duplicates: Vec<(String, usize)>,
}

impl<'a> KeyMap<'a> {
    /// Scans well-formed JSON `source` (one object) for its keys. Objects
    /// inside arrays are passed over: their keys are not endpoint fields.
    fn scan(source: &'a str) -> KeyMap<'a> {
        /// An object (with the id of its key, `None` when not tracked) or an array.
        enum Frame {
            Object(Option<usize>),
            Array,
        }
        let bytes = source.as_bytes();
        let mut map = KeyMap::default();
        let mut frames: Vec<Frame> = Vec::new();
        let mut pending: Option<usize> = None;
        let mut key_next = false;
        let mut i = 0;
        while let Some(&b) = bytes.get(i) {
            match b {
                b'{' => {
                    let id = match frames.last() {
                        None => Some(0),
                        Some(Frame::Object(Some(_))) => pending,
                        Some(_) => None,
                    };
                    frames.push(Frame::Object(id));
                    pending = None;
                    key_next = true;
                }
                b'[' => {
                    frames.push(Frame::Array);
                    pending = None;
                    key_next = false;
                }
                b'}' | b']' => {
                    frames.pop();
                    key_next = false;
                }
                b',' => key_next = matches!(frames.last(), Some(Frame::Object(_))),
                b'"' => {
                    let end = string_end(bytes, i);
                    if key_next {
                        if let Some(Frame::Object(Some(parent))) = frames.last() {
                            let key = source.get(i + 1..end.saturating_sub(1)).unwrap_or("");
                            let id = map.add(*parent, key, i);
                            pending = next_is_container(bytes, end).then_some(id);
                        }
                        key_next = false;
                    }
                    i = end;
                    continue;
                }
                _ => {}
            }
            i += 1;
        }
        map
    }

    /// Records `key` of the object whose key id is `parent`; its new id.
    fn add(&mut self, parent: usize, key: &'a str, offset: usize) -> usize {
        let id = self.names.len() + 1;
        self.names.push((parent, key));
        match self.keys.entry((parent, key)) {
            Entry::Occupied(_) => {
                let path = self.path_of(id);
                self.duplicates.push((path, offset));
            }
            Entry::Vacant(slot) => {
                slot.insert((id, offset));
            }
        }
        id
    }

    /// The dotted path of key `id`.
    fn path_of(&self, mut id: usize) -> String {
        let mut parts = Vec::new();
        while let Some((parent, key)) = id.checked_sub(1).and_then(|i| self.names.get(i)) {
            parts.push(*key);
            id = *parent;
        }
        parts.reverse();
        parts.join(".")
    }

    /// The byte offset of the key at `path`.
    fn offset(&self, path: &[&str]) -> Option<usize> {
        let mut parent = 0;
        let mut offset = None;
        for key in path {
            let (id, off) = self.keys.get(&(parent, *key))?;
            parent = *id;
            offset = Some(*off);
        }
        offset
    }
}

/// The offset just after the string that starts at `start` (a quote).
fn string_end(bytes: &[u8], start: usize) -> usize {
    let mut i = start + 1;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    bytes.len()
}

/// True when the value after a key (past `:` and spaces) is an object or array.
fn next_is_container(bytes: &[u8], mut i: usize) -> bool {
    while let Some(&b) = bytes.get(i) {
        match b {
            b' ' | b'\t' | b'\n' | b'\r' | b':' => i += 1,
            b'{' | b'[' => return true,
            _ => return false,
        }
    }
    false
}

/// Finds the position of a field in the data.
struct Locate<'a> {
    lines: &'a Lines<'a>,
    keys: &'a KeyMap<'a>,
    base: usize,
    fallback: Position,
}

impl Locate<'_> {
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

fn report(b: &mut EndpointBuilder<'_>, at: Position, name: String, message: String) {
    b.report_named(ProblemKind::MalformedData, Some(name), at, message);
}

fn convert_object(object: &Map<String, Value>, locate: &Locate<'_>, b: &mut EndpointBuilder<'_>) {
    for (key, value) in object {
        let at = locate.at(&[key]);
        if let Some(field) = Field::top_level(key) {
            set_text(b, &field, value, at);
            continue;
        }
        match key.as_str() {
            "Attributes" => {
                custom_lists(b, value, locate, &["Attributes"], &|n| Field::Attribute(n))
            }
            "Metrics" => metrics(b, value, locate),
            "Demographic" => group(b, value, locate, "Demographic"),
            "Location" => group(b, value, locate, "Location"),
            "User" => user(b, value, locate),
            _ => {
                // A misspelt `ChannelType` or `Address` is reported once, not
                // again as missing.
                if let Some(Ok(meant)) = suggest_field(key).map(|s| Field::parse(&s)) {
                    b.unreadable(&meant);
                }
                report(b, at, key.clone(), top_level_unknown(key))
            }
        }
    }
}

fn top_level_unknown(key: &str) -> String {
    if key.contains('.') && Field::parse(key).is_ok() {
        let mut parts = key.splitn(3, '.').map(quote);
        let outer = parts.next().unwrap_or_default();
        let inner = parts.next().unwrap_or_default();
        let key = quote(key);
        return match parts.next() {
            Some(name) => format!(
                "in JSON, fields are nested rather than named with dots: write `{key}` as {{\"{outer}\":{{\"{inner}\":{{\"{name}\":...}}}}}}"
            ),
            None => format!(
                "in JSON, fields are nested rather than named with dots: write `{key}` as {{\"{outer}\":{{\"{inner}\":...}}}}"
            ),
        };
    }
    unknown_field_message(key)
}

/// The text of a scalar where text is expected; `None` for `null`.
fn scalar_text(value: &Value) -> Result<Option<String>, String> {
    match value {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        Value::Number(n) => Ok(Some(n.to_string())),
        Value::Bool(x) => Ok(Some(x.to_string())),
        other => Err(format!("must be text, not {}", kind_of(other))),
    }
}

fn set_text(b: &mut EndpointBuilder<'_>, field: &Field, value: &Value, at: Position) {
    match scalar_text(value) {
        Ok(Some(text)) => b.set_text(field, text, at),
        Ok(None) => {}
        Err(msg) => b.report(ProblemKind::MalformedData, field, at, msg),
    }
}

fn set_number(b: &mut EndpointBuilder<'_>, field: &Field, value: &Value, at: Position) {
    match value {
        Value::Null => {}
        Value::Number(n) => match n.as_f64() {
            Some(x) => b.set_number(field, x, at),
            None => b.report(
                ProblemKind::MalformedData,
                field,
                at,
                "the number is out of range".into(),
            ),
        },
        Value::String(s) => {
            let q = quote(s);
            let msg = match parse_number(s) {
                Some(_) => {
                    format!(
                        "must be a JSON number, not text in quotes: write {q} rather than \"{q}\""
                    )
                }
                None => format!("must be a number, not the text \"{q}\""),
            };
            b.report(ProblemKind::MalformedData, field, at, msg);
        }
        other => {
            let msg = format!("must be a number, not {}", kind_of(other));
            b.report(ProblemKind::MalformedData, field, at, msg);
        }
    }
}

/// The object under `path`, or a problem when it is something else.
fn as_object<'v>(
    b: &mut EndpointBuilder<'_>,
    value: &'v Value,
    locate: &Locate<'_>,
    path: &[&str],
    example: &str,
) -> Option<&'v Map<String, Value>> {
    match value {
        Value::Object(map) => Some(map),
        Value::Null => None,
        other => {
            let msg = format!("must be an object like {example}, not {}", kind_of(other));
            report(b, locate.at(path), path.join("."), msg);
            None
        }
    }
}

/// `Attributes` or `User.UserAttributes`: names to lists of strings.
fn custom_lists(
    b: &mut EndpointBuilder<'_>,
    value: &Value,
    locate: &Locate<'_>,
    path: &[&str],
    make: &dyn Fn(String) -> Field,
) {
    let example = "{\"Interests\":[\"Music\",\"Travel\"]}";
    let Some(map) = as_object(b, value, locate, path, example) else {
        return;
    };
    for (name, values) in map {
        let mut key_path = path.to_vec();
        key_path.push(name);
        let at = locate.at(&key_path);
        let field = make(name.clone());
        if let Some(msg) = custom_name_problem(&field) {
            b.report(ProblemKind::MalformedData, &field, at, msg);
            continue;
        }
        match values {
            Value::Array(items) => {
                b.touch_list(&field);
                for item in items {
                    list_item(b, &field, item, at);
                }
            }
            Value::Object(_) => {
                let msg = "must be a list of strings such as [\"Music\",\"Travel\"], not an object"
                    .into();
                b.report(ProblemKind::MalformedData, &field, at, msg);
            }
            scalar => set_text(b, &field, scalar, at),
        }
    }
}

fn list_item(b: &mut EndpointBuilder<'_>, field: &Field, item: &Value, at: Position) {
    match scalar_text(item) {
        Ok(Some(text)) => b.set_text(field, text, at),
        Ok(None) => {
            let msg = "the list contains null; remove it or write a string".into();
            b.report(ProblemKind::MalformedData, field, at, msg);
        }
        Err(_) => {
            let msg = format!("the list must contain strings, not {}", kind_of(item));
            b.report(ProblemKind::MalformedData, field, at, msg);
        }
    }
}

fn metrics(b: &mut EndpointBuilder<'_>, value: &Value, locate: &Locate<'_>) {
    let Some(map) = as_object(b, value, locate, &["Metrics"], "{\"Purchases\":3}") else {
        return;
    };
    for (name, v) in map {
        let at = locate.at(&["Metrics", name]);
        let field = Field::Metric(name.clone());
        if let Some(msg) = custom_name_problem(&field) {
            b.report(ProblemKind::MalformedData, &field, at, msg);
            continue;
        }
        set_number(b, &field, v, at);
    }
}

/// `Demographic` or `Location`: a fixed set of fields.
fn group(b: &mut EndpointBuilder<'_>, value: &Value, locate: &Locate<'_>, name: &str) {
    let example = if name == "Location" {
        "{\"Country\":\"US\",\"City\":\"Seattle\"}"
    } else {
        "{\"Platform\":\"Android\",\"Locale\":\"en_US\"}"
    };
    let Some(map) = as_object(b, value, locate, &[name], example) else {
        return;
    };
    for (key, v) in map {
        let at = locate.at(&[name, key]);
        let field = if name == "Location" {
            LocationField::parse(key).map(Field::Location)
        } else {
            DemographicField::parse(key).map(Field::Demographic)
        };
        match field {
            Some(f @ Field::Location(LocationField::Latitude | LocationField::Longitude)) => {
                set_number(b, &f, v, at)
            }
            Some(f) => set_text(b, &f, v, at),
            None => {
                let dotted = format!("{name}.{key}");
                let msg = unknown_field_message(&dotted);
                report(b, at, dotted, msg);
            }
        }
    }
}

fn user(b: &mut EndpointBuilder<'_>, value: &Value, locate: &Locate<'_>) {
    let example = "{\"UserId\":\"user-1\",\"UserAttributes\":{\"FirstName\":[\"Jane\"]}}";
    let Some(map) = as_object(b, value, locate, &["User"], example) else {
        return;
    };
    for (key, v) in map {
        let at = locate.at(&["User", key]);
        match key.as_str() {
            "UserId" => set_text(b, &Field::UserId, v, at),
            "UserAttributes" => custom_lists(b, v, locate, &["User", "UserAttributes"], &|n| {
                Field::UserAttribute(n)
            }),
            _ => {
                let dotted = format!("User.{key}");
                let msg = unknown_field_message(&dotted);
                report(b, at, dotted, msg);
            }
        }
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
