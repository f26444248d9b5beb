//! The JSON reader's fast path: one endpoint of the ordinary shape read
//! straight into its [`Draft`] as `serde_json` parses it, without the tree
//! of [`super::json_stream`].
//!
//! The values go to the same [`Builder`] methods the tree path calls
//! (`set_text`, `set_number`, `touch_list`, then `finish`), so the rules are
//! one copy. It gives up, and the tree path reads the endpoint again from its
//! start, at anything whose handling needs the tree:
//! - a syntax error, or a value nested deeper than Pinpoint's format nests;
//! - a key written twice or with escapes, a key the model does not have;
//! - a control character in a key or string;
//! - a value of another type than the ones accepted without a problem (text
//!   where a number is expected; `null`, a list or an object in a list; an
//!   object where a list or text is expected...);
//! - a custom name that breaks Pinpoint's rules, more than [`MAX_NAMES`]
//!   custom names in one object;
//! - any problem the builder reports, while reading or in its final checks
//!   (its position is the tree path's to find).
//!
//! So an endpoint read here has no problem of its own, and since each key
//! appears once, its draft is the one the tree path builds, whatever the
//! order of its keys (the tree path takes them in name order).

use std::borrow::Cow;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::error::ProblemKind;

use super::builder::{Builder, Finished, Locate, Name};
use super::draft::{Draft, ListKind, fixed_index};
use super::limits::Limits;
use super::model::{DemographicField, Field, LocationField};
use super::problems::ProblemSink;
use super::rules::{
    Origin, Position, control_in, custom_name_text_problem, json_bool_text, json_number_text,
};

/// The most custom names of one object (`Attributes`, `Metrics`,
/// `UserAttributes`) read here; more go to the tree path, which finds
/// repeated names by sorting.
pub(crate) const MAX_NAMES: usize = 64;

/// A problem sink that only notes that there was a problem.
#[derive(Debug, Default)]
struct Probe {
    reported: bool,
}

impl ProblemSink for Probe {
    fn push(
        &mut self,
        _: ProblemKind,
        _: Option<u64>,
        _: Position,
        _: impl FnOnce() -> Option<String>,
        _: impl FnOnce() -> String,
    ) {
        self.reported = true;
    }
}

/// No positions: a problem sends the endpoint to the tree path.
struct Nowhere;

impl Locate for Nowhere {
    type At = ();
    fn position(&mut self, (): ()) -> Position {
        Position::default()
    }
}

/// The builder the fast path fills.
type Fill<'f, 'b, 'a> = &'f mut Builder<'b, 'a, Nowhere, Probe>;

#[cfg(test)]
thread_local! {
    /// Endpoints read by the fast path and by the tree path on this thread.
    static TAKEN: std::cell::Cell<(u64, u64)> = const { std::cell::Cell::new((0, 0)) };
}

/// Counts an endpoint read by the fast path (`true`) or the tree path
/// (tests only; see `taken`).
#[inline]
pub(crate) fn count(fast: bool) {
    #[cfg(test)]
    TAKEN.with(|t| {
        let (f, tree) = t.get();
        t.set(if fast { (f + 1, tree) } else { (f, tree + 1) });
    });
    let _ = fast;
}

/// The endpoints read on this thread so far by the fast path and by the
/// tree path.
#[cfg(test)]
pub(crate) fn taken() -> (u64, u64) {
    TAKEN.with(std::cell::Cell::get)
}

/// Why the fast path stopped: the tree path reads the endpoint.
fn give_up<E: serde::de::Error>() -> E {
    E::custom("not an ordinary endpoint")
}

/// Reads the endpoint object that starts at byte `start` of `text` into
/// `draft` and runs the builder's final checks: the offset just after the
/// object and what the checks found, or `None` when the tree path must read
/// it (see the module documentation).
pub(crate) fn read_endpoint<'a>(
    text: &'a str,
    start: usize,
    origin: Origin,
    limits: &Limits,
    draft: &mut Draft<'a>,
) -> Option<(usize, Finished)> {
    let rest = text.get(start..)?;
    draft.reset(false);
    let mut probe = Probe::default();
    let mut nowhere = Nowhere;
    let mut b = Builder::new(origin, limits, &mut probe, &mut nowhere, draft);
    let mut de = serde_json::Deserializer::from_str(rest);
    if Top(&mut b).deserialize(&mut de).is_err() || b.problems().reported {
        return None;
    }
    let finished = b.finish(false, false);
    if probe.reported {
        return None;
    }
    // A stream starts counting where the parser is: just after the object.
    let end = start + de.into_iter::<IgnoredAny>().byte_offset();
    Some((end, finished))
}

/// `text` as the builder takes it, unless it has a control character.
fn clean<'a, E: serde::de::Error>(text: Cow<'a, str>) -> Result<Cow<'a, str>, E> {
    match control_in(&text) {
        Some(_) => Err(give_up()),
        None => Ok(text),
    }
}

/// The keys of one object seen so far, one bit each: a repeated key gives
/// up.
#[derive(Default)]
struct Keys(u32);

impl Keys {
    fn first<E: serde::de::Error>(&mut self, bit: usize) -> Result<(), E> {
        let mask = 1u32.checked_shl(bit as u32).unwrap_or(0);
        if mask == 0 || self.0 & mask != 0 {
            return Err(give_up());
        }
        self.0 |= mask;
        Ok(())
    }
}

/// The custom names of one object seen so far: a repeated name, or more
/// than [`MAX_NAMES`], gives up. The first [`INLINE_NAMES`] are kept
/// without allocating.
struct Names<'a> {
    inline: [&'a str; INLINE_NAMES],
    more: Vec<&'a str>,
    len: usize,
}

/// How many custom names of one object [`Names`] keeps without allocating.
const INLINE_NAMES: usize = 16;

impl<'a> Names<'a> {
    fn new() -> Self {
        Names {
            inline: [""; INLINE_NAMES],
            more: Vec::new(),
            len: 0,
        }
    }

    fn first<E: serde::de::Error>(&mut self, name: &'a str) -> Result<(), E> {
        let inline = self.inline.get(..self.len).unwrap_or(&self.inline);
        if self.len >= MAX_NAMES || inline.contains(&name) || self.more.contains(&name) {
            return Err(give_up());
        }
        match self.inline.get_mut(self.len) {
            Some(slot) => *slot = name,
            None => self.more.push(name),
        }
        self.len += 1;
        Ok(())
    }
}

/// A key written without escapes, borrowed from the text. A key the model
/// names has no control character; a custom name is looked at
/// ([`custom_name`]), and any other key gives up.
struct Key;

impl<'a> DeserializeSeed<'a> for Key {
    type Value = &'a str;
    fn deserialize<D: Deserializer<'a>>(self, d: D) -> Result<&'a str, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'a> Visitor<'a> for Key {
    type Value = &'a str;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a key without escapes")
    }
    fn visit_borrowed_str<E: serde::de::Error>(self, v: &'a str) -> Result<&'a str, E> {
        Ok(v)
    }
}

/// A custom name (the key of an entry of `Attributes`, `Metrics` or
/// `UserAttributes`) that Pinpoint accepts, without control characters,
/// seen once in its object.
fn custom_name<'a, A: MapAccess<'a>>(
    map: &mut A,
    names: &mut Names<'a>,
) -> Result<Option<Cow<'a, str>>, A::Error> {
    let Some(name) = map.next_key_seed(Key)? else {
        return Ok(None);
    };
    if control_in(name).is_some() || custom_name_text_problem(name).is_some() {
        return Err(give_up());
    }
    names.first(name)?;
    Ok(Some(Cow::Borrowed(name)))
}

/// The endpoint object.
struct Top<'f, 'b, 'a>(Fill<'f, 'b, 'a>);

impl<'a> DeserializeSeed<'a> for Top<'_, '_, 'a> {
    type Value = ();
    fn deserialize<D: Deserializer<'a>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'a> Visitor<'a> for Top<'_, '_, 'a> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an endpoint object")
    }
    fn visit_map<A: MapAccess<'a>>(self, mut map: A) -> Result<(), A::Error> {
        let b = self.0;
        let mut keys = Keys::default();
        while let Some(key) = map.next_key_seed(Key)? {
            if let Some(field) = Field::top_level(key) {
                keys.first(fixed_index(&field).unwrap_or(usize::MAX))?;
                map.next_value_seed(Text(b, Name::Field(&field)))?;
                continue;
            }
            match key {
                "Attributes" => {
                    keys.first(21)?;
                    map.next_value_seed(Lists(b, ListKind::Attributes))?;
                }
                "Metrics" => {
                    keys.first(22)?;
                    map.next_value_seed(Metrics(b))?;
                }
                "Demographic" => {
                    keys.first(23)?;
                    map.next_value_seed(Group(b, false))?;
                }
                "Location" => {
                    keys.first(24)?;
                    map.next_value_seed(Group(b, true))?;
                }
                "User" => {
                    keys.first(25)?;
                    map.next_value_seed(User(b))?;
                }
                _ => return Err(give_up()),
            }
        }
        Ok(())
    }
}

/// A value where text is expected: a string, a number or `true`/`false`
/// (as text), or `null` for "not given".
struct Text<'f, 'b, 'n, 'a>(Fill<'f, 'b, 'a>, Name<'n, 'a>);

impl<'a> DeserializeSeed<'a> for Text<'_, '_, '_, 'a> {
    type Value = ();
    fn deserialize<D: Deserializer<'a>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'a> Text<'_, '_, '_, 'a> {
    fn set<E: serde::de::Error>(self, v: Cow<'a, str>) -> Result<(), E> {
        let v = clean(v)?;
        self.0.set_text(self.1, v, ());
        Ok(())
    }
}

impl<'a> Visitor<'a> for Text<'_, '_, '_, 'a> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("text")
    }
    fn visit_borrowed_str<E: serde::de::Error>(self, v: &'a str) -> Result<(), E> {
        self.set(Cow::Borrowed(v))
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<(), E> {
        self.set(Cow::Owned(v.to_owned()))
    }
    fn visit_string<E: serde::de::Error>(self, v: String) -> Result<(), E> {
        self.set(Cow::Owned(v))
    }
    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<(), E> {
        self.set(Cow::Owned(json_number_text(&v.into())))
    }
    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<(), E> {
        self.set(Cow::Owned(json_number_text(&v.into())))
    }
    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<(), E> {
        match serde_json::Number::from_f64(v) {
            Some(n) => self.set(Cow::Owned(json_number_text(&n))),
            None => Err(give_up()),
        }
    }
    fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<(), E> {
        self.set(Cow::Owned(json_bool_text(v)))
    }
    fn visit_unit<E: serde::de::Error>(self) -> Result<(), E> {
        Ok(())
    }
}

/// A value where a number is expected: a JSON number, or `null`.
struct Number<'f, 'b, 'n, 'a>(Fill<'f, 'b, 'a>, Name<'n, 'a>);

impl<'a> DeserializeSeed<'a> for Number<'_, '_, '_, 'a> {
    type Value = ();
    fn deserialize<D: Deserializer<'a>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'a> Visitor<'a> for Number<'_, '_, '_, 'a> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a number")
    }
    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<(), E> {
        self.visit_f64(v as f64)
    }
    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<(), E> {
        self.visit_f64(v as f64)
    }
    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<(), E> {
        if !v.is_finite() {
            return Err(give_up());
        }
        self.0.set_number(self.1, v, ());
        Ok(())
    }
    fn visit_unit<E: serde::de::Error>(self) -> Result<(), E> {
        Ok(())
    }
}

/// `Attributes` or `User.UserAttributes`: names to lists of strings (or a
/// bare string), or `null`.
struct Lists<'f, 'b, 'a>(Fill<'f, 'b, 'a>, ListKind);

impl<'a> DeserializeSeed<'a> for Lists<'_, '_, 'a> {
    type Value = ();
    fn deserialize<D: Deserializer<'a>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'a> Visitor<'a> for Lists<'_, '_, 'a> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object of lists")
    }
    fn visit_map<A: MapAccess<'a>>(self, mut map: A) -> Result<(), A::Error> {
        let Lists(b, kind) = self;
        let mut names = Names::new();
        while let Some(name) = custom_name(&mut map, &mut names)? {
            map.next_value_seed(List(b, Name::List(kind, &name), false))?;
        }
        Ok(())
    }
    fn visit_unit<E: serde::de::Error>(self) -> Result<(), E> {
        Ok(())
    }
}

/// The value of one custom attribute: a list of strings, a string (or a
/// number or `true`/`false`, as text), or `null`; inside the list (the
/// `bool`), only a string (or a number or `true`/`false`).
struct List<'f, 'b, 'n, 'a>(Fill<'f, 'b, 'a>, Name<'n, 'a>, bool);

impl<'a> DeserializeSeed<'a> for List<'_, '_, '_, 'a> {
    type Value = ();
    fn deserialize<D: Deserializer<'a>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'a> Visitor<'a> for List<'_, '_, '_, 'a> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.2 {
            "a string"
        } else {
            "a list of strings"
        })
    }
    fn visit_seq<A: SeqAccess<'a>>(self, mut seq: A) -> Result<(), A::Error> {
        let List(b, field, item) = self;
        if item {
            return Err(give_up());
        }
        b.touch_list(field);
        while seq.next_element_seed(List(&mut *b, field, true))?.is_some() {}
        Ok(())
    }
    fn visit_borrowed_str<E: serde::de::Error>(self, v: &'a str) -> Result<(), E> {
        Text(self.0, self.1).visit_borrowed_str(v)
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<(), E> {
        Text(self.0, self.1).visit_str(v)
    }
    fn visit_string<E: serde::de::Error>(self, v: String) -> Result<(), E> {
        Text(self.0, self.1).visit_string(v)
    }
    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<(), E> {
        Text(self.0, self.1).visit_u64(v)
    }
    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<(), E> {
        Text(self.0, self.1).visit_i64(v)
    }
    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<(), E> {
        Text(self.0, self.1).visit_f64(v)
    }
    fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<(), E> {
        Text(self.0, self.1).visit_bool(v)
    }
    fn visit_unit<E: serde::de::Error>(self) -> Result<(), E> {
        if self.2 { Err(give_up()) } else { Ok(()) }
    }
}

/// `Metrics`: names to numbers, or `null`.
struct Metrics<'f, 'b, 'a>(Fill<'f, 'b, 'a>);

impl<'a> DeserializeSeed<'a> for Metrics<'_, '_, 'a> {
    type Value = ();
    fn deserialize<D: Deserializer<'a>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'a> Visitor<'a> for Metrics<'_, '_, 'a> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object of numbers")
    }
    fn visit_map<A: MapAccess<'a>>(self, mut map: A) -> Result<(), A::Error> {
        let b = self.0;
        let mut names = Names::new();
        while let Some(name) = custom_name(&mut map, &mut names)? {
            map.next_value_seed(Number(b, Name::Metric(&name)))?;
        }
        Ok(())
    }
    fn visit_unit<E: serde::de::Error>(self) -> Result<(), E> {
        Ok(())
    }
}

/// `Demographic` (`false`) or `Location` (`true`): a fixed set of fields,
/// or `null`.
struct Group<'f, 'b, 'a>(Fill<'f, 'b, 'a>, bool);

impl<'a> DeserializeSeed<'a> for Group<'_, '_, 'a> {
    type Value = ();
    fn deserialize<D: Deserializer<'a>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'a> Visitor<'a> for Group<'_, '_, 'a> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object of fields")
    }
    fn visit_map<A: MapAccess<'a>>(self, mut map: A) -> Result<(), A::Error> {
        let Group(b, location) = self;
        let mut keys = Keys::default();
        while let Some(key) = map.next_key_seed(Key)? {
            let field = if location {
                LocationField::parse(key).map(Field::Location)
            } else {
                DemographicField::parse(key).map(Field::Demographic)
            };
            let Some(field) = field else {
                return Err(give_up());
            };
            keys.first(fixed_index(&field).unwrap_or(usize::MAX))?;
            match field {
                Field::Location(LocationField::Latitude | LocationField::Longitude) => {
                    map.next_value_seed(Number(b, Name::Field(&field)))?
                }
                _ => map.next_value_seed(Text(b, Name::Field(&field)))?,
            }
        }
        Ok(())
    }
    fn visit_unit<E: serde::de::Error>(self) -> Result<(), E> {
        Ok(())
    }
}

/// `User`: `UserId` and `UserAttributes`, or `null`.
struct User<'f, 'b, 'a>(Fill<'f, 'b, 'a>);

impl<'a> DeserializeSeed<'a> for User<'_, '_, 'a> {
    type Value = ();
    fn deserialize<D: Deserializer<'a>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'a> Visitor<'a> for User<'_, '_, 'a> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a user object")
    }
    fn visit_map<A: MapAccess<'a>>(self, mut map: A) -> Result<(), A::Error> {
        let b = self.0;
        let mut keys = Keys::default();
        while let Some(key) = map.next_key_seed(Key)? {
            match key {
                "UserId" => {
                    keys.first(0)?;
                    map.next_value_seed(Text(b, Name::Field(&Field::UserId)))?;
                }
                "UserAttributes" => {
                    keys.first(1)?;
                    map.next_value_seed(Lists(b, ListKind::UserAttributes))?;
                }
                _ => return Err(give_up()),
            }
        }
        Ok(())
    }
    fn visit_unit<E: serde::de::Error>(self) -> Result<(), E> {
        Ok(())
    }
}
