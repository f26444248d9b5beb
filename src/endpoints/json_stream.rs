//! Reads endpoint data in Pinpoint's JSON format, one endpoint at a time.
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
//! An endpoint of the ordinary shape is read straight into its draft as
//! `serde_json` parses it ([`super::json_fast`]); any other (a repeated or
//! escaped key, a control character, a value of an unusual type, a problem,
//! a syntax error) is read again from its start by the tree path below.
//!
//! The tree path parses an endpoint (with `serde_json`) into a [`Node`] tree
//! whose strings are borrowed from the text unless they have escapes; objects
//! hold their keys in order, each once, the last value of a repeated key
//! winning (as `serde_json::Value` does). Where a key is in the text is worked out
//! only for an object that has a problem or a key that may repeat
//! ([`KeyMap`]); lines are counted as the reader moves on.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::error::{Problem, ProblemKind, quote};

use super::builder::{Builder, Locate, Name};
use super::draft::{Draft, ListKind};
use super::json_fast;
use super::json_keys::KeyMap;
use super::limits::Limits;
use super::model::{DemographicField, Field, LocationField, suggest_field, unknown_field_message};
use super::problems::{ProblemSink, Problems};
use super::rules::{
    Origin, Position, control_in, control_message, custom_name_text_problem, json_bool_text,
    json_number_text, parse_number,
};
use super::stream::{Sink, Ticker};
use super::swar::{bytes_equal, word_at};

// ---- the tree ----------------------------------------------------------

/// A JSON value, its strings borrowed from the text where they can be.
#[derive(Debug)]
pub(crate) enum Node<'a> {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    Str(Cow<'a, str>),
    Array(Vec<Node<'a>>),
    Object(Object<'a>),
}

/// A JSON object: its keys in order, each once (the last value of a
/// repeated key wins).
#[derive(Debug)]
pub(crate) struct Object<'a> {
    entries: Vec<(Cow<'a, str>, Node<'a>)>,
    /// A key was repeated or written with escapes: only the key map can tell
    /// whether a key appears twice as written.
    unusual: bool,
}

impl<'a> Object<'a> {
    /// An object of `entries` in the order written.
    pub fn new(mut entries: Vec<(Cow<'a, str>, Node<'a>)>) -> Self {
        let mut unusual = entries.iter().any(|(k, _)| matches!(k, Cow::Owned(_)));
        let sorted = entries
            .iter()
            .zip(entries.iter().skip(1))
            .all(|(a, b)| a.0 < b.0);
        if !sorted {
            // Stable: among equal keys the last one written is last.
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            let before = entries.len();
            let mut unique: Vec<(Cow<'a, str>, Node<'a>)> = Vec::with_capacity(before);
            for entry in entries {
                match unique.last_mut() {
                    Some(last) if last.0 == entry.0 => *last = entry,
                    _ => unique.push(entry),
                }
            }
            unusual |= unique.len() != before;
            entries = unique;
        }
        Object { entries, unusual }
    }

    /// The keys, in order, with their values.
    pub fn iter(&self) -> impl Iterator<Item = (&Cow<'a, str>, &Node<'a>)> {
        self.entries.iter().map(|(k, v)| (k, v))
    }
}

impl<'de> Deserialize<'de> for Node<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any valid JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Node<'de>, E> {
        Ok(Node::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Node<'de>, E> {
        Ok(Node::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Node<'de>, E> {
        Ok(Node::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Node<'de>, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Node::Null, Node::Number))
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Node<'de>, E> {
        Ok(Node::Str(Cow::Borrowed(v)))
    }

    fn visit_str<E>(self, v: &str) -> Result<Node<'de>, E> {
        Ok(Node::Str(Cow::Owned(v.to_owned())))
    }

    fn visit_string<E>(self, v: String) -> Result<Node<'de>, E> {
        Ok(Node::Str(Cow::Owned(v)))
    }

    fn visit_none<E>(self) -> Result<Node<'de>, E> {
        Ok(Node::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Node<'de>, D::Error> {
        Node::deserialize(d)
    }

    fn visit_unit<E>(self) -> Result<Node<'de>, E> {
        Ok(Node::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node<'de>, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Node::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node<'de>, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key_seed(KeySeed)? {
            let value = map.next_value()?;
            entries.push((key, value));
        }
        Ok(Node::Object(Object::new(entries)))
    }
}

/// An object key, borrowed unless it has escapes.
struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Cow<'de, str>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(KeyVisitor)
    }
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string key")
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v))
    }
}

/// What a value is, for messages (`a list`).
pub(crate) fn kind_of(v: &Node<'_>) -> &'static str {
    match v {
        Node::Null => "null",
        Node::Bool(_) => "true/false",
        Node::Number(_) => "a number",
        Node::Str(_) => "a string",
        Node::Array(_) => "a list",
        Node::Object(_) => "an object",
    }
}

// ---- positions ---------------------------------------------------------

/// The line of the reader's place in the text, kept up to date as it moves.
#[derive(Debug, Clone, Copy)]
struct Cursor {
    offset: usize,
    line: u64,
    line_start: usize,
}

impl Cursor {
    /// Moves to `offset` (forwards as a rule; backwards works too).
    fn seek(&mut self, bytes: &[u8], offset: usize) {
        let to = offset.min(bytes.len());
        let from = self.offset.min(bytes.len());
        if to >= from {
            let span = bytes.get(from..to).unwrap_or_default();
            let breaks = line_breaks(span);
            if breaks > 0 {
                self.line += breaks as u64;
                if let Some(last) = span.iter().rposition(|b| *b == b'\n') {
                    self.line_start = from + last + 1;
                }
            }
        } else {
            let back = bytes
                .get(to..from)
                .unwrap_or_default()
                .iter()
                .filter(|b| **b == b'\n')
                .count();
            self.line -= back as u64;
            self.line_start = bytes
                .get(..to)
                .unwrap_or_default()
                .iter()
                .rposition(|b| *b == b'\n')
                .map_or(0, |i| i + 1);
        }
        self.offset = offset;
    }

    /// The line and byte column of `offset`.
    fn position(&mut self, bytes: &[u8], offset: usize) -> Position {
        self.seek(bytes, offset);
        let column = offset.saturating_sub(self.line_start) + 1;
        Position::at(self.line, Some(column as u64))
    }
}

/// How many line feeds `bytes` has: counted in bytes, 255 at a time,
/// which the compiler does sixteen at once.
fn line_breaks(bytes: &[u8]) -> usize {
    bytes
        .chunks(255)
        .map(|chunk| {
            let n = chunk
                .iter()
                .fold(0u8, |n, b| n.wrapping_add(u8::from(*b == b'\n')));
            usize::from(n)
        })
        .sum()
}

/// A path of at most three keys: where a value of an endpoint is.
#[derive(Debug, Clone, Copy)]
pub(crate) struct KeyPath<'t> {
    keys: [&'t str; 3],
    len: usize,
}

impl<'t> KeyPath<'t> {
    /// The path of `keys` (at most three).
    pub fn of(keys: &[&'t str]) -> Self {
        let mut path = KeyPath {
            keys: [""; 3],
            len: keys.len().min(3),
        };
        for (slot, key) in path.keys.iter_mut().zip(keys) {
            *slot = key;
        }
        path
    }

    /// The keys of the path.
    pub fn keys(&self) -> &[&'t str] {
        self.keys.get(..self.len).unwrap_or_default()
    }

    /// `parent` (at most two keys) and then `key`.
    fn child(parent: &[&'t str], key: &'t str) -> Self {
        let mut path = KeyPath::of(parent);
        if let Some(slot) = path.keys.get_mut(path.len) {
            *slot = key;
            path.len += 1;
        }
        path
    }
}

/// Positions inside one object (`start..end` of the text), worked out when
/// asked for.
struct ObjectLocate<'t, 'a> {
    text: &'a str,
    start: usize,
    end: usize,
    origin: Position,
    origin_line_start: usize,
    keys: Option<KeyMap<'a>>,
    /// Offsets of the object's line breaks.
    newlines: Option<Vec<usize>>,
    _paths: PhantomData<&'t ()>,
}

impl<'t, 'a> ObjectLocate<'t, 'a> {
    fn keys(&mut self) -> &KeyMap<'a> {
        let (text, start, end) = (self.text, self.start, self.end);
        self.keys
            .get_or_insert_with(|| KeyMap::scan(text.get(start..end).unwrap_or("")))
    }

    /// The position of byte `offset` (inside the object).
    fn position_of(&mut self, offset: usize) -> Position {
        let (bytes, start, end) = (self.text.as_bytes(), self.start, self.end);
        let newlines = self.newlines.get_or_insert_with(|| {
            bytes
                .get(start..end)
                .unwrap_or_default()
                .iter()
                .enumerate()
                .filter(|(_, b)| **b == b'\n')
                .map(|(i, _)| start + i)
                .collect()
        });
        let before = newlines.partition_point(|n| *n < offset);
        let line_start = match before.checked_sub(1).and_then(|i| newlines.get(i)) {
            Some(n) => n + 1,
            None => self.origin_line_start,
        };
        let line = self.origin.line.unwrap_or(1) + before as u64;
        let column = offset.saturating_sub(line_start) + 1;
        Position::at(line, Some(column as u64))
    }

    /// Where the key at `path` is, or the nearest key above it that can be
    /// found (a key written with escapes cannot), or the object.
    fn at_path(&mut self, path: &[&str]) -> Position {
        let keys = self.keys();
        let found = (1..=path.len())
            .rev()
            .find_map(|n| path.get(..n).and_then(|p| keys.offset(p)));
        match found {
            Some(offset) => self.position_of(self.start + offset),
            None => self.origin,
        }
    }
}

impl<'t> Locate for ObjectLocate<'t, '_> {
    type At = KeyPath<'t>;

    fn position(&mut self, at: KeyPath<'t>) -> Position {
        self.at_path(at.keys())
    }
}

/// Turns the byte columns of `problems` (positions in JSON `text`) into
/// character columns, as the whole-file reader did for the problems it
/// listed.
pub(crate) fn char_columns(text: &str, problems: &mut [Problem]) {
    let mut wanted: Vec<u64> = problems
        .iter()
        .filter(|p| p.column.is_some())
        .filter_map(|p| p.line)
        .collect();
    if wanted.is_empty() {
        return;
    }
    wanted.sort_unstable();
    wanted.dedup();
    // Where each wanted line starts (a line past the end has no start).
    let mut starts: Vec<(u64, usize)> = Vec::with_capacity(wanted.len());
    let mut next = wanted.iter().copied().peekable();
    while next.peek() == Some(&1) {
        starts.push((1, 0));
        next.next();
    }
    let mut line = 1u64;
    for (i, b) in text.bytes().enumerate() {
        let Some(&want) = next.peek() else { break };
        if b != b'\n' {
            continue;
        }
        line += 1;
        if line == want {
            starts.push((line, i + 1));
            next.next();
        }
    }
    // Characters are counted once per line, from one problem to the next.
    let mut counted: Option<(u64, usize, u64)> = None;
    let mut order: Vec<usize> = (0..problems.len()).collect();
    order.sort_by_key(|i| problems.get(*i).map(|p| (p.line, p.column)));
    for i in order {
        let Some(p) = problems.get_mut(i) else {
            continue;
        };
        let (Some(line), Some(column)) = (p.line, p.column) else {
            continue;
        };
        let Some(start) = starts
            .binary_search_by_key(&line, |(l, _)| *l)
            .ok()
            .and_then(|k| starts.get(k))
            .map(|(_, s)| *s)
        else {
            continue;
        };
        let Some(offset) = column
            .checked_sub(1)
            .and_then(|c| usize::try_from(c).ok())
            .and_then(|c| start.checked_add(c))
        else {
            continue;
        };
        let end = offset.min(text.len());
        let (from, chars) = match counted {
            Some((l, at, n)) if l == line && at <= end => (at, n),
            _ => (start, 0),
        };
        let Some(between) = text.get(from..end) else {
            continue;
        };
        let chars = chars + between.chars().count() as u64;
        counted = Some((line, end, chars));
        p.column = Some(chars + 1);
    }
}

// ---- the reader --------------------------------------------------------

/// No data but white space.
pub(crate) const EMPTY_MESSAGE: &str = "the data is empty; give endpoint objects such as {\"ChannelType\":\"EMAIL\",\"Address\":\"jane@example.com\"}, one per line or in a JSON array";
/// Data that starts with neither `[` nor `{`.
pub(crate) const LAYOUT_MESSAGE: &str = "the JSON data must be an array of endpoint objects ([{...},{...}]), one endpoint object per line, or a single object; it starts with something else";
/// Valid data without an endpoint.
pub(crate) const NO_ENDPOINTS_MESSAGE: &str =
    "the JSON data has no endpoints; add at least one endpoint object";
/// A comma before the closing `]`.
pub(crate) const TRAILING_COMMA_MESSAGE: &str =
    "there is a comma after the last endpoint of the array; remove it";
/// An array without its `]`.
pub(crate) const UNCLOSED_ARRAY_MESSAGE: &str = "the JSON array is not closed; add ] at the end";
/// Something else than `,` or `]` after an endpoint of an array.
pub(crate) const NO_COMMA_MESSAGE: &str = "expected a comma or ] after this endpoint object; endpoints in an array are separated by commas";
/// Data after the array.
pub(crate) const AFTER_ARRAY_MESSAGE: &str =
    "there is more data after the closing ] of the array; put every endpoint inside the array";
/// Newline-delimited objects on one line.
pub(crate) const SAME_LINE_MESSAGE: &str = "this object starts on the line where the one before it ends; in newline-delimited JSON each endpoint is one object on a line of its own: put a line break before it (or put the endpoints in a JSON array)";
/// A line of newline-delimited JSON that does not start an object.
pub(crate) const NOT_AN_OBJECT_START_MESSAGE: &str = "expected an endpoint object starting with {; in newline-delimited JSON each line is one complete object";

/// An endpoint of the data that is not an object but `kind` ([`kind_of`]).
pub(crate) fn not_an_object_message(kind: &str) -> String {
    format!(
        "each endpoint must be a JSON object ({{\"ChannelType\":...,\"Address\":...}}), not {kind}"
    )
}

/// A key written twice in one object, at `path` (dot notation).
pub(crate) fn duplicate_key_message(path: &str) -> String {
    format!(
        "the key `{}` appears twice in this object; keep only one",
        quote(path)
    )
}

/// Reports the control characters `found` by [`find_controls`] in the
/// object of `record`, each at the position `at` gives its path.
pub(crate) fn report_controls<P: ProblemSink>(
    problems: &mut P,
    record: u64,
    found: Vec<(Vec<&str>, char, bool)>,
    mut at: impl FnMut(&[&str]) -> Position,
) {
    for (path, c, in_key) in found {
        let what = if in_key { "the key" } else { "the value" };
        let pos = at(&path);
        problems.push(
            ProblemKind::MalformedData,
            Some(record),
            pos,
            || Some(path.join(".")),
            || control_message(what, c),
        );
    }
}

/// The reader's state: the text, where it is, and where results go.
struct Reader<'a, 'r> {
    text: &'a str,
    cursor: Cursor,
    limits: &'r Limits,
    problems: &'r mut Problems,
    sink: &'r mut dyn Sink<'a>,
    draft: Draft<'a>,
    records: u64,
    stopped: bool,
}

/// Reads JSON `text` (without a BOM), giving each endpoint to `sink`.
pub(crate) fn read<'a>(
    text: &'a str,
    limits: &Limits,
    problems: &mut Problems,
    sink: &mut dyn Sink<'a>,
    ticker: &mut Ticker<'_>,
) {
    let mut reader = Reader {
        text,
        cursor: Cursor {
            offset: 0,
            line: 1,
            line_start: 0,
        },
        limits,
        problems,
        sink,
        draft: Draft::default(),
        records: 0,
        stopped: false,
    };
    let start = reader.skip_ws(0);
    let start_at = reader.position(start);
    match text.as_bytes().get(start) {
        None => reader.file_problem(None, EMPTY_MESSAGE),
        Some(b'[') => reader.read_array(start, ticker),
        Some(b'{') => reader.read_stream(start, ticker),
        Some(_) => reader.file_problem(Some(start_at), LAYOUT_MESSAGE),
    }
    if reader.records == 0 && reader.problems.total() == 0 {
        reader.file_problem(Some(start_at), NO_ENDPOINTS_MESSAGE);
    }
}

impl<'a> Reader<'a, '_> {
    fn byte(&self, i: usize) -> Option<u8> {
        self.text.as_bytes().get(i).copied()
    }

    fn skip_ws(&self, mut i: usize) -> usize {
        while matches!(self.byte(i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            i += 1;
        }
        i
    }

    fn position(&mut self, offset: usize) -> Position {
        self.cursor.position(self.text.as_bytes(), offset)
    }

    /// A problem about the data as a whole (no record), at `at` if known.
    fn file_problem(&mut self, at: Option<Position>, message: &'static str) {
        self.problems.push(
            ProblemKind::MalformedData,
            None,
            at.unwrap_or_default(),
            || None,
            || message.to_owned(),
        );
    }

    fn file_problem_at(&mut self, offset: usize, message: &'static str) {
        let at = self.position(offset);
        self.file_problem(Some(at), message);
    }

    fn record_problem(&mut self, record: u64, at: Position, message: impl FnOnce() -> String) {
        self.problems.push(
            ProblemKind::MalformedData,
            Some(record),
            at,
            || None,
            message,
        );
    }

    /// Parses one JSON value at `offset`; the value and the offset after it.
    fn parse_at(&self, offset: usize) -> Result<(Node<'a>, usize), serde_json::Error> {
        let rest: &'a str = self.text.get(offset..).unwrap_or("");
        let mut stream = serde_json::Deserializer::from_str(rest).into_iter::<Node<'a>>();
        match stream.next() {
            Some(Ok(v)) => Ok((v, offset + stream.byte_offset())),
            Some(Err(e)) => Err(e),
            None => Err(serde::de::Error::custom("no value")),
        }
    }

    /// Reports a syntax error in the value that starts at `offset`.
    fn syntax_problem(&mut self, record: u64, offset: usize, e: &serde_json::Error) {
        let base = self.position(offset);
        let base_line = base.line.unwrap_or(1);
        let (line, column) = if e.line() <= 1 {
            let col = base.column.unwrap_or(1) + (e.column() as u64).saturating_sub(1);
            (base_line, col)
        } else {
            (base_line + e.line() as u64 - 1, e.column() as u64)
        };
        self.record_problem(record, Position::at(line, Some(column)), || {
            syntax_message(e)
        });
    }

    fn read_array(&mut self, open: usize, ticker: &mut Ticker<'_>) {
        let mut pos = self.skip_ws(open + 1);
        if self.byte(pos) == Some(b']') {
            self.after_array(pos + 1);
            return;
        }
        loop {
            ticker.tick(pos);
            let record = self.records + 1;
            match self.read_endpoint(record, pos) {
                Ok(end) => {
                    if self.stopped {
                        return;
                    }
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
                        self.file_problem_at(pos, TRAILING_COMMA_MESSAGE);
                        return;
                    }
                }
                Some(b']') => {
                    self.after_array(pos + 1);
                    return;
                }
                None => {
                    self.file_problem_at(pos, UNCLOSED_ARRAY_MESSAGE);
                    return;
                }
                Some(_) => {
                    self.file_problem_at(pos, NO_COMMA_MESSAGE);
                    return;
                }
            }
        }
    }

    fn after_array(&mut self, pos: usize) {
        let rest = self.skip_ws(pos);
        if rest < self.text.len() {
            self.file_problem_at(rest, AFTER_ARRAY_MESSAGE);
        }
    }

    fn read_stream(&mut self, mut pos: usize, ticker: &mut Ticker<'_>) {
        // The line the last object ended on.
        let mut last_end_line: Option<u64> = None;
        loop {
            pos = self.skip_ws(pos);
            if pos >= self.text.len() || self.stopped {
                return;
            }
            ticker.tick(pos);
            let record = self.records + 1;
            self.records = record;
            let at = self.position(pos);
            if last_end_line.is_some() && last_end_line == at.line {
                self.record_problem(record, at, || SAME_LINE_MESSAGE.into());
            }
            last_end_line = None;
            if self.byte(pos) != Some(b'{') {
                self.record_problem(record, at, || NOT_AN_OBJECT_START_MESSAGE.into());
                pos = self.resync(pos);
                continue;
            }
            match self.read_endpoint(record, pos) {
                Ok(end) => {
                    last_end_line = self.position(end.saturating_sub(1)).line;
                    pos = end;
                }
                Err(e) => {
                    self.syntax_problem(record, pos, &e);
                    if e.is_eof() {
                        return;
                    }
                    pos = self.resync(pos);
                }
            }
        }
    }

    /// The start of the first line after the one with `offset` that begins
    /// with `{`, or the end of the text.
    fn resync(&self, offset: usize) -> usize {
        let bytes = self.text.as_bytes();
        let mut i = offset;
        loop {
            // The start of the next line.
            match bytes
                .get(i..)
                .and_then(|rest| rest.iter().position(|b| *b == b'\n'))
            {
                Some(n) => i += n + 1,
                None => return self.text.len(),
            }
            let first = self.skip_ws_in_line(i);
            if self.byte(first) == Some(b'{') {
                return first;
            }
        }
    }

    fn skip_ws_in_line(&self, mut i: usize) -> usize {
        while matches!(self.byte(i), Some(b' ' | b'\t')) {
            i += 1;
        }
        i
    }

    /// Reads endpoint `record`, the value at `start`: by the fast path
    /// ([`json_fast`]) when it is an ordinary endpoint, else from its tree.
    /// The offset after it, or the syntax error.
    fn read_endpoint(&mut self, record: u64, start: usize) -> Result<usize, serde_json::Error> {
        let at = self.position(start);
        let origin = Origin { record, at };
        if let Some((end, finished)) =
            json_fast::read_endpoint(self.text, start, origin, self.limits, &mut self.draft)
        {
            json_fast::count(true);
            self.records = record;
            if !self
                .sink
                .endpoint(&self.draft, origin, finished, self.problems)
            {
                self.stopped = true;
            }
            return Ok(end);
        }
        json_fast::count(false);
        let (value, end) = self.parse_at(start)?;
        self.records = record;
        self.endpoint(value, start, end);
        Ok(end)
    }

    /// Turns one parsed value, found at `start..end`, into an endpoint.
    fn endpoint(&mut self, value: Node<'a>, start: usize, end: usize) {
        let record = self.records;
        let at = self.position(start);
        let origin = Origin { record, at };
        let Node::Object(object) = &value else {
            let kind = kind_of(&value);
            self.record_problem(record, at, || not_an_object_message(kind));
            return;
        };
        let mut locate = ObjectLocate {
            text: self.text,
            start,
            end,
            origin: at,
            origin_line_start: self.cursor.line_start,
            keys: None,
            newlines: None,
            _paths: PhantomData,
        };
        let mut controls = Vec::new();
        let span = self.text.as_bytes().get(start..end).unwrap_or_default();
        let unusual = if may_hold_control(span) {
            find_controls(object, &mut Vec::new(), &mut controls)
        } else {
            has_unusual(object)
        };
        if unusual {
            let duplicates = std::mem::take(&mut locate.keys_mut().duplicates);
            for (path, offset) in duplicates {
                let pos = locate.position_of(start + offset);
                self.problems.push(
                    ProblemKind::MalformedData,
                    Some(record),
                    pos,
                    || Some(path.clone()),
                    || duplicate_key_message(&path),
                );
            }
        }
        report_controls(self.problems, record, controls, |path| locate.at_path(path));
        self.draft.reset(false);
        let finished = {
            let mut builder = Builder::new(
                origin,
                self.limits,
                self.problems,
                &mut locate,
                &mut self.draft,
            );
            convert_object(object, &mut builder);
            builder.finish(false, false)
        };
        if !self
            .sink
            .endpoint(&self.draft, origin, finished, self.problems)
        {
            self.stopped = true;
        }
    }
}

impl<'a> ObjectLocate<'_, 'a> {
    fn keys_mut(&mut self) -> &mut KeyMap<'a> {
        let (text, start, end) = (self.text, self.start, self.end);
        self.keys
            .get_or_insert_with(|| KeyMap::scan(text.get(start..end).unwrap_or("")))
    }
}

/// True when the text of a parsed value may hold a forbidden control
/// character in a key or string, eight bytes at a time: a raw C0 control
/// there is a syntax error (the parser refuses it), so one needs DEL, the
/// lead byte 0xC2 of a C1 control, or an escape's backslash.
fn may_hold_control(bytes: &[u8]) -> bool {
    let mut i = 0;
    while let Some(w) = word_at(bytes, i) {
        if bytes_equal(w, 0x7f) | bytes_equal(w, 0xc2) | bytes_equal(w, b'\\') != 0 {
            return true;
        }
        i += 8;
    }
    bytes
        .get(i..)
        .unwrap_or_default()
        .iter()
        .any(|b| matches!(b, 0x7f | 0xc2 | b'\\'))
}

/// [`find_controls`]' answer for an object without control characters: an
/// object under it has an unusual key ([`Object::unusual`]).
fn has_unusual(object: &Object<'_>) -> bool {
    fn value_unusual(value: &Node<'_>) -> bool {
        match value {
            Node::Array(items) => items.iter().any(value_unusual),
            Node::Object(map) => has_unusual(map),
            Node::Null | Node::Bool(_) | Node::Number(_) | Node::Str(_) => false,
        }
    }
    object.unusual || object.iter().any(|(_, v)| value_unusual(v))
}

/// Every key and string under `object` with a forbidden control character:
/// the path of keys to it, the character, and whether it is in the key.
/// True when an object under it has an unusual key ([`Object::unusual`]).
pub(crate) fn find_controls<'t>(
    object: &'t Object<'_>,
    path: &mut Vec<&'t str>,
    found: &mut Vec<(Vec<&'t str>, char, bool)>,
) -> bool {
    let mut unusual = object.unusual;
    for (key, value) in object.iter() {
        path.push(key.as_ref());
        if let Some(c) = control_in(key) {
            found.push((path.clone(), c, true));
        }
        unusual |= find_value_controls(value, path, found);
        path.pop();
    }
    unusual
}

fn find_value_controls<'t>(
    value: &'t Node<'_>,
    path: &mut Vec<&'t str>,
    found: &mut Vec<(Vec<&'t str>, char, bool)>,
) -> bool {
    match value {
        Node::Str(s) => {
            if let Some(c) = control_in(s) {
                found.push((path.clone(), c, false));
            }
            false
        }
        Node::Array(items) => {
            let mut unusual = false;
            for item in items {
                unusual |= find_value_controls(item, path, found);
            }
            unusual
        }
        Node::Object(map) => find_controls(map, path, found),
        Node::Null | Node::Bool(_) | Node::Number(_) => false,
    }
}

/// The message for a JSON syntax error, without serde_json's position suffix.
pub(crate) fn syntax_message(e: &serde_json::Error) -> String {
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

// ---- from the tree to the endpoint -------------------------------------

fn report<'t, L: Locate<At = KeyPath<'t>>, P: ProblemSink>(
    b: &mut Builder<'_, '_, L, P>,
    at: KeyPath<'t>,
    name: String,
    message: String,
) {
    b.report_named(ProblemKind::MalformedData, || Some(name), at, || message);
}

/// Sets the fields of the endpoint `b` builds from the JSON `object`,
/// reporting each value that breaks a rule.
pub(crate) fn convert_object<'t, 'a, L: Locate<At = KeyPath<'t>>, P: ProblemSink>(
    object: &'t Object<'a>,
    b: &mut Builder<'_, 'a, L, P>,
) {
    for (key, value) in object.iter() {
        let at = KeyPath::of(&[key.as_ref()]);
        if let Some(field) = Field::top_level(key) {
            set_text(b, Name::Field(&field), value, at);
            continue;
        }
        match key.as_ref() {
            "Attributes" => custom_lists(b, value, &["Attributes"], ListKind::Attributes),
            "Metrics" => metrics(b, value),
            "Demographic" => group(b, value, "Demographic"),
            "Location" => group(b, value, "Location"),
            "User" => user(b, value),
            _ => {
                // A misspelt `ChannelType` or `Address` is reported once, not
                // again as missing.
                if let Some(Ok(meant)) = suggest_field(key).map(|s| Field::parse(&s)) {
                    b.unreadable(&meant);
                }
                report(b, at, key.to_string(), top_level_unknown(key))
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
fn scalar_text<'a>(value: &Node<'a>) -> Result<Option<Cow<'a, str>>, String> {
    match value {
        Node::Null => Ok(None),
        Node::Str(s) => Ok(Some(s.clone())),
        Node::Number(n) => Ok(Some(Cow::Owned(json_number_text(n)))),
        Node::Bool(x) => Ok(Some(Cow::Owned(json_bool_text(*x)))),
        other => Err(format!("must be text, not {}", kind_of(other))),
    }
}

fn set_text<'t, 'a, L: Locate<At = KeyPath<'t>>, P: ProblemSink>(
    b: &mut Builder<'_, 'a, L, P>,
    field: Name<'_, 'a>,
    value: &Node<'a>,
    at: KeyPath<'t>,
) {
    match scalar_text(value) {
        Ok(Some(text)) => b.set_text(field, text, at),
        Ok(None) => {}
        Err(msg) => b.report(ProblemKind::MalformedData, field, at, || msg),
    }
}

fn set_number<'t, 'a, L: Locate<At = KeyPath<'t>>, P: ProblemSink>(
    b: &mut Builder<'_, 'a, L, P>,
    field: Name<'_, 'a>,
    value: &Node<'a>,
    at: KeyPath<'t>,
) {
    match value {
        Node::Null => {}
        Node::Number(n) => match n.as_f64() {
            Some(x) => b.set_number(field, x, at),
            None => b.report(ProblemKind::MalformedData, field, at, || {
                "the number is out of range".into()
            }),
        },
        Node::Str(s) => b.report(ProblemKind::MalformedData, field, at, || {
            let q = quote(s);
            match parse_number(s) {
                Some(_) => {
                    format!(
                        "must be a JSON number, not text in quotes: write {q} rather than \"{q}\""
                    )
                }
                None => format!("must be a number, not the text \"{q}\""),
            }
        }),
        other => {
            let kind = kind_of(other);
            b.report(ProblemKind::MalformedData, field, at, || {
                format!("must be a number, not {kind}")
            });
        }
    }
}

/// The object under `path`, or a problem when it is something else.
fn as_object<'v, 't, 'a, L: Locate<At = KeyPath<'t>>, P: ProblemSink>(
    b: &mut Builder<'_, 'a, L, P>,
    value: &'v Node<'a>,
    path: &[&'t str],
    example: &str,
) -> Option<&'v Object<'a>> {
    match value {
        Node::Object(map) => Some(map),
        Node::Null => None,
        other => {
            let msg = format!("must be an object like {example}, not {}", kind_of(other));
            report(b, KeyPath::of(path), path.join("."), msg);
            None
        }
    }
}

/// `Attributes` or `User.UserAttributes`: names to lists of strings.
fn custom_lists<'t, 'a, L: Locate<At = KeyPath<'t>>, P: ProblemSink>(
    b: &mut Builder<'_, 'a, L, P>,
    value: &'t Node<'a>,
    path: &[&'t str],
    kind: ListKind,
) {
    let example = "{\"Interests\":[\"Music\",\"Travel\"]}";
    let Some(map) = as_object(b, value, path, example) else {
        return;
    };
    for (name, values) in map.iter() {
        let at = KeyPath::child(path, name);
        let field = Name::List(kind, name);
        if let Some(msg) = custom_name_text_problem(name) {
            b.report(ProblemKind::MalformedData, field, at, || msg);
            continue;
        }
        match values {
            Node::Array(items) => {
                b.touch_list(field);
                for item in items {
                    list_item(b, field, item, at);
                }
            }
            Node::Object(_) => {
                b.report(ProblemKind::MalformedData, field, at, || {
                    "must be a list of strings such as [\"Music\",\"Travel\"], not an object".into()
                });
            }
            scalar => set_text(b, field, scalar, at),
        }
    }
}

fn list_item<'t, 'a, L: Locate<At = KeyPath<'t>>, P: ProblemSink>(
    b: &mut Builder<'_, 'a, L, P>,
    field: Name<'_, 'a>,
    item: &Node<'a>,
    at: KeyPath<'t>,
) {
    match scalar_text(item) {
        Ok(Some(text)) => b.set_text(field, text, at),
        Ok(None) => b.report(ProblemKind::MalformedData, field, at, || {
            "the list contains null; remove it or write a string".into()
        }),
        Err(_) => {
            let kind = kind_of(item);
            b.report(ProblemKind::MalformedData, field, at, || {
                format!("the list must contain strings, not {kind}")
            });
        }
    }
}

fn metrics<'t, 'a, L: Locate<At = KeyPath<'t>>, P: ProblemSink>(
    b: &mut Builder<'_, 'a, L, P>,
    value: &'t Node<'a>,
) {
    let Some(map) = as_object(b, value, &["Metrics"], "{\"Purchases\":3}") else {
        return;
    };
    for (name, v) in map.iter() {
        let at = KeyPath::child(&["Metrics"], name);
        let field = Name::Metric(name);
        if let Some(msg) = custom_name_text_problem(name) {
            b.report(ProblemKind::MalformedData, field, at, || msg);
            continue;
        }
        set_number(b, field, v, at);
    }
}

/// `Demographic` or `Location`: a fixed set of fields.
fn group<'t, 'a, L: Locate<At = KeyPath<'t>>, P: ProblemSink>(
    b: &mut Builder<'_, 'a, L, P>,
    value: &'t Node<'a>,
    name: &'static str,
) {
    let example = if name == "Location" {
        "{\"Country\":\"US\",\"City\":\"Seattle\"}"
    } else {
        "{\"Platform\":\"Android\",\"Locale\":\"en_US\"}"
    };
    let Some(map) = as_object(b, value, &[name], example) else {
        return;
    };
    for (key, v) in map.iter() {
        let at = KeyPath::child(&[name], key);
        let field = if name == "Location" {
            LocationField::parse(key).map(Field::Location)
        } else {
            DemographicField::parse(key).map(Field::Demographic)
        };
        match field {
            Some(f @ Field::Location(LocationField::Latitude | LocationField::Longitude)) => {
                set_number(b, Name::Field(&f), v, at)
            }
            Some(f) => set_text(b, Name::Field(&f), v, at),
            None => {
                let dotted = format!("{name}.{key}");
                let msg = unknown_field_message(&dotted);
                report(b, at, dotted, msg);
            }
        }
    }
}

fn user<'t, 'a, L: Locate<At = KeyPath<'t>>, P: ProblemSink>(
    b: &mut Builder<'_, 'a, L, P>,
    value: &'t Node<'a>,
) {
    let example = "{\"UserId\":\"user-1\",\"UserAttributes\":{\"FirstName\":[\"Jane\"]}}";
    let Some(map) = as_object(b, value, &["User"], example) else {
        return;
    };
    for (key, v) in map.iter() {
        let at = KeyPath::child(&["User"], key);
        match key.as_ref() {
            "UserId" => set_text(b, Name::Field(&Field::UserId), v, at),
            "UserAttributes" => {
                custom_lists(b, v, &["User", "UserAttributes"], ListKind::UserAttributes)
            }
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
    fn objects_keep_the_last_of_a_repeated_key_in_key_order() {
        let node: Node<'_> =
            serde_json::from_str(r#"{"b":1,"a":"x","b":2,"c\u0041":null}"#).unwrap();
        let Node::Object(o) = node else { panic!() };
        let keys: Vec<&str> = o.iter().map(|(k, _)| k.as_ref()).collect();
        assert_eq!(keys, ["a", "b", "cA"]);
        assert!(matches!(o.entries[1].1, Node::Number(ref n) if n.as_u64() == Some(2)));
        assert!(o.unusual);
        let Node::Object(plain) = serde_json::from_str::<Node<'_>>(r#"{"a":"é","b":[1]}"#).unwrap()
        else {
            panic!()
        };
        assert!(!plain.unusual);
        assert!(matches!(plain.entries[0].1, Node::Str(Cow::Borrowed("é"))));
    }

    #[test]
    fn line_breaks_are_counted_in_any_length() {
        for len in [0, 1, 254, 255, 256, 600, 1000] {
            let text: Vec<u8> = (0..len)
                .map(|i| if i % 3 == 0 { b'\n' } else { b'x' })
                .collect();
            let want = text.iter().filter(|b| **b == b'\n').count();
            assert_eq!(line_breaks(&text), want, "{len}");
        }
        assert_eq!(line_breaks(&[b'\n'; 700]), 700);
    }

    #[test]
    fn the_cursor_counts_lines_both_ways() {
        let text = "ab\ncé\nx";
        let mut c = Cursor {
            offset: 0,
            line: 1,
            line_start: 0,
        };
        assert_eq!(c.position(text.as_bytes(), 6), Position::at(2, Some(4)));
        assert_eq!(c.position(text.as_bytes(), 7), Position::at(3, Some(1)));
        assert_eq!(c.position(text.as_bytes(), 1), Position::at(1, Some(2)));
    }

    #[test]
    fn char_columns_count_characters_per_line() {
        let text = "ab\ncé€x y\n";
        let mut problems = vec![
            Problem::new(ProblemKind::MalformedData, "a"),
            Problem::new(ProblemKind::MalformedData, "b"),
            Problem::new(ProblemKind::MalformedData, "c"),
        ];
        problems[0].line = Some(2);
        problems[0].column = Some(7); // after "cé€"
        problems[1].line = Some(2);
        problems[1].column = Some(9); // after "cé€x "
        problems[2].line = Some(2);
        problems[2].column = Some(3); // inside "é": stays a byte column
        char_columns(text, &mut problems);
        let columns: Vec<Option<u64>> = problems.iter().map(|p| p.column).collect();
        assert_eq!(columns, [Some(4), Some(6), Some(3)]);
    }
}
