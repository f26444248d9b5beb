//! One endpoint as the streaming pass builds it: the same fields as
//! [`Endpoint`], with values borrowed from the data where they appear in it
//! unchanged (a CSV value without doubled quotes, a JSON string without
//! escapes), and reused from one endpoint to the next.
//!
//! It serialises to exactly the JSON of the equal [`Endpoint`] (same keys,
//! order, number forms and empty parts left out), so sizes and the staged
//! NDJSON are those of the whole-file reader.

use std::borrow::Cow;

use serde::ser::{SerializeMap, SerializeStruct};
use serde::{Serialize, Serializer};

use super::csv_cell::cell_len;
pub(crate) use super::model::write_number;
use super::model::{ChannelType, DemographicField, Field, Number, OptOut, whole_number};

/// A custom attribute that takes several values (`Attributes.*`,
/// `User.UserAttributes.*`).
#[derive(Debug, Clone, Default)]
pub(crate) struct Custom<'a> {
    /// The name after the prefix.
    pub name: Cow<'a, str>,
    /// Its values, in order.
    pub values: Vec<Cow<'a, str>>,
    /// Set on this endpoint (a JSON `[]` sets it with no values).
    pub present: bool,
}

/// A custom metric (`Metrics.*`).
#[derive(Debug, Clone, Default)]
pub(crate) struct Metric<'a> {
    /// The name after the prefix.
    pub name: Cow<'a, str>,
    /// Its value, when set on this endpoint.
    pub value: Option<f64>,
}

/// Which list of custom attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ListKind {
    /// `Attributes.*`
    Attributes,
    /// `User.UserAttributes.*`
    UserAttributes,
}

/// One endpoint being read (see the module documentation).
///
/// The custom lists are sorted by name, each name once: the order of the
/// model's `BTreeMap`s.
#[derive(Debug, Default)]
pub(crate) struct Draft<'a> {
    pub channel_type: Option<ChannelType>,
    pub address: Option<Cow<'a, str>>,
    pub id: Option<Cow<'a, str>>,
    pub request_id: Option<Cow<'a, str>>,
    pub opt_out: Option<OptOut>,
    pub effective_date: Option<Cow<'a, str>>,
    /// By [`DemographicField`], in its declaration order.
    pub demographic: [Option<Cow<'a, str>>; 8],
    pub city: Option<Cow<'a, str>>,
    pub country: Option<Cow<'a, str>>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub postal_code: Option<Cow<'a, str>>,
    pub region: Option<Cow<'a, str>>,
    pub user_id: Option<Cow<'a, str>>,
    pub attributes: Vec<Custom<'a>>,
    pub metrics: Vec<Metric<'a>>,
    pub user_attributes: Vec<Custom<'a>>,
    /// Emptied value lists of earlier endpoints, to reuse.
    spare: Vec<Vec<Cow<'a, str>>>,
    /// The CSV reader's count, kept as the values are set (`None` when not
    /// counted: JSON).
    pub csv: Option<CsvCount>,
    numbers: NumberLengths,
}

/// What the values of one CSV row take in the staged CSV.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct CsvCount {
    /// Bytes of the values as cells (quoted where the writer quotes).
    pub bytes: u64,
    /// The fixed fields set, one bit each in [`Field::fixed`] order.
    pub fixed: u32,
    /// The value being set has no byte the writer quotes for (`,` `"` CR
    /// LF): the reader knows it of an unquoted CSV value.
    pub plain: bool,
}

impl CsvCount {
    /// The bytes `text` takes as a cell.
    #[inline]
    fn cell(&self, text: &str) -> u64 {
        if !self.plain {
            return cell_len(text);
        }
        // Plain text is quoted only when blank.
        let len = text.len() as u64;
        let blank = matches!(text.as_bytes().first(), Some(b' ' | b'\t'))
            && text.bytes().all(|b| matches!(b, b' ' | b'\t'));
        if blank { len + 2 } else { len }
    }
}

/// The indices of `Location.Latitude` and `Location.Longitude` in
/// [`Field::fixed`].
pub(crate) const LATITUDE: usize = 16;
pub(crate) const LONGITUDE: usize = 17;

/// The index of a fixed field in [`Field::fixed`].
pub(crate) fn fixed_index(field: &Field) -> Option<usize> {
    Some(match field {
        Field::ChannelType => 0,
        Field::Address => 1,
        Field::Id => 2,
        Field::RequestId => 3,
        Field::OptOut => 4,
        Field::EffectiveDate => 5,
        Field::Demographic(d) => 6 + *d as usize,
        Field::Location(l) => 14 + *l as usize,
        Field::UserId => 20,
        Field::Attribute(_) | Field::Metric(_) | Field::UserAttribute(_) => return None,
    })
}

impl<'a> Draft<'a> {
    /// Clears every value for the next endpoint. With `keep_names` (the CSV
    /// reader, whose custom names are the header's), the custom lists keep
    /// their names, unset; otherwise they are emptied.
    pub fn reset(&mut self, keep_names: bool) {
        if let Some(count) = &mut self.csv {
            *count = CsvCount::default();
        }
        self.channel_type = None;
        self.address = None;
        self.id = None;
        self.request_id = None;
        self.opt_out = None;
        self.effective_date = None;
        self.demographic = Default::default();
        self.city = None;
        self.country = None;
        self.latitude = None;
        self.longitude = None;
        self.postal_code = None;
        self.region = None;
        self.user_id = None;
        if keep_names {
            for c in self.attributes.iter_mut().chain(&mut self.user_attributes) {
                c.values.clear();
                c.present = false;
            }
            for m in &mut self.metrics {
                m.value = None;
            }
        } else {
            for c in self
                .attributes
                .drain(..)
                .chain(self.user_attributes.drain(..))
            {
                let mut values = c.values;
                values.clear();
                self.spare.push(values);
            }
            self.metrics.clear();
        }
    }

    /// The slot of text field `index` ([`Field::fixed`] order).
    #[inline]
    fn fixed_slot(&mut self, index: usize) -> Option<&mut Option<Cow<'a, str>>> {
        Some(match index {
            1 => &mut self.address,
            2 => &mut self.id,
            3 => &mut self.request_id,
            5 => &mut self.effective_date,
            6..=13 => self.demographic.get_mut(index - 6)?,
            14 => &mut self.city,
            15 => &mut self.country,
            18 => &mut self.postal_code,
            19 => &mut self.region,
            20 => &mut self.user_id,
            _ => return None,
        })
    }

    /// Sets text field `index` ([`Field::fixed`] order) to `value`, counted
    /// (a field with no rule of its own: see [`super::builder::Builder::set_text`]).
    #[inline]
    pub fn set_fixed_text(&mut self, index: usize, value: Cow<'a, str>) {
        self.count_csv(index, &value);
        if let Some(slot) = self.fixed_slot(index) {
            *slot = Some(value);
        }
    }

    /// Counts fixed field `index` set to `text` (CSV only).
    #[inline]
    pub fn count_csv(&mut self, index: usize, text: &str) {
        if let Some(count) = &mut self.csv {
            count.bytes += count.cell(text);
            count.fixed |= 1 << index;
        }
    }

    /// Counts a value of a multi-valued attribute (CSV only).
    #[inline]
    pub fn count_csv_value(&mut self, text: &str) {
        if let Some(count) = &mut self.csv {
            count.bytes += count.cell(text);
        }
    }

    /// Counts number `x` set in fixed field `index` (or in a metric, `None`;
    /// CSV only).
    pub fn count_csv_number(&mut self, index: Option<usize>, x: f64) {
        if let Some(count) = &mut self.csv {
            count.bytes += self.numbers.len(x);
            if let Some(i) = index {
                count.fixed |= 1 << i;
            }
        }
    }

    /// The length of number `x` as written ([`write_number`]), from the
    /// draft's cache of lengths.
    pub fn number_len(&mut self, x: f64) -> usize {
        self.numbers.len(x) as usize
    }

    /// The list `kind`.
    pub fn list(&self, kind: ListKind) -> &[Custom<'a>] {
        match kind {
            ListKind::Attributes => &self.attributes,
            ListKind::UserAttributes => &self.user_attributes,
        }
    }

    /// The custom attribute `name` of list `kind` (at index `slot` of the
    /// list, when known), added (unset, in name order, named by `make`) if
    /// missing.
    #[inline]
    pub fn custom_mut(
        &mut self,
        kind: ListKind,
        (name, slot): (&str, Option<usize>),
        make: impl FnOnce() -> Cow<'a, str>,
    ) -> Option<&mut Custom<'a>> {
        // The slot the CSV header resolved (every value of a CSV row).
        if let Some(i) = slot.filter(|i| *i < self.list(kind).len()) {
            return self.list_mut(kind).get_mut(i);
        }
        self.custom_by_name(kind, name, make)
    }

    fn list_mut(&mut self, kind: ListKind) -> &mut Vec<Custom<'a>> {
        match kind {
            ListKind::Attributes => &mut self.attributes,
            ListKind::UserAttributes => &mut self.user_attributes,
        }
    }

    /// [`Draft::custom_mut`] by name: found, or added in name order.
    fn custom_by_name(
        &mut self,
        kind: ListKind,
        name: &str,
        make: impl FnOnce() -> Cow<'a, str>,
    ) -> Option<&mut Custom<'a>> {
        let spare = &mut self.spare;
        let list = match kind {
            ListKind::Attributes => &mut self.attributes,
            ListKind::UserAttributes => &mut self.user_attributes,
        };
        let i = match list.binary_search_by(|c| c.name.as_ref().cmp(name)) {
            Ok(i) => i,
            Err(i) => {
                list.insert(
                    i,
                    Custom {
                        name: make(),
                        values: spare.pop().unwrap_or_default(),
                        present: false,
                    },
                );
                i
            }
        };
        list.get_mut(i)
    }

    /// Adds metric `name`, unset, if missing.
    pub fn add_metric(&mut self, name: &str, make: impl FnOnce() -> Cow<'a, str>) {
        if let Err(i) = self.metrics.binary_search_by(|m| m.name.as_ref().cmp(name)) {
            self.metrics.insert(
                i,
                Metric {
                    name: make(),
                    value: None,
                },
            );
        }
    }

    /// Sets metric `name` (at index `slot` when known; added in name order,
    /// named by `make`, if missing).
    #[inline]
    pub fn set_metric(
        &mut self,
        (name, slot): (&str, Option<usize>),
        make: impl FnOnce() -> Cow<'a, str>,
        x: f64,
    ) {
        if let Some(m) = slot.and_then(|i| self.metrics.get_mut(i)) {
            m.value = Some(x);
            return;
        }
        let i = match self.metrics.binary_search_by(|m| m.name.as_ref().cmp(name)) {
            Ok(i) => i,
            Err(i) => {
                self.metrics.insert(
                    i,
                    Metric {
                        name: make(),
                        value: None,
                    },
                );
                i
            }
        };
        if let Some(m) = self.metrics.get_mut(i) {
            m.value = Some(x);
        }
    }

    fn demographic_is_empty(&self) -> bool {
        self.demographic.iter().all(Option::is_none)
    }

    fn location_is_empty(&self) -> bool {
        self.city.is_none()
            && self.country.is_none()
            && self.latitude.is_none()
            && self.longitude.is_none()
            && self.postal_code.is_none()
            && self.region.is_none()
    }

    fn has_list(list: &[Custom<'_>]) -> bool {
        list.iter().any(|c| c.present)
    }

    fn has_metrics(&self) -> bool {
        self.metrics.iter().any(|m| m.value.is_some())
    }

    /// The custom names set on this endpoint, as the whole-file reader
    /// counted them: attributes, metrics, then user attributes, each in name
    /// order; `0`, `1`, `2` tell the kinds apart; with each, its index in
    /// its list.
    pub fn custom_names(&self) -> impl Iterator<Item = (u8, usize, &Cow<'a, str>)> {
        let metrics = self
            .metrics
            .iter()
            .enumerate()
            .filter(|(_, m)| m.value.is_some())
            .map(|(i, m)| (1, i, &m.name));
        present(&self.attributes, 0)
            .chain(metrics)
            .chain(present(&self.user_attributes, 2))
    }

    /// The value of fixed field `index` ([`FIXED_FIELDS`] order), if set.
    #[inline]
    pub fn fixed_value<'s>(&'s self, index: usize) -> Option<CsvValue<'s>> {
        let text = |s: &'s Option<Cow<'a, str>>| s.as_deref().map(CsvValue::Text);
        match index {
            0 => self.channel_type.map(|c| CsvValue::Text(c.as_str())),
            1 => text(&self.address),
            2 => text(&self.id),
            3 => text(&self.request_id),
            4 => self.opt_out.map(|o| CsvValue::Text(o.as_str())),
            5 => text(&self.effective_date),
            6..=13 => self
                .demographic
                .get(index - 6)
                .and_then(|d| d.as_deref())
                .map(CsvValue::Text),
            14 => text(&self.city),
            15 => text(&self.country),
            LATITUDE => self.latitude.map(CsvValue::Number),
            LONGITUDE => self.longitude.map(CsvValue::Number),
            18 => text(&self.postal_code),
            19 => text(&self.region),
            20 => text(&self.user_id),
            _ => None,
        }
    }

    /// The owned model of this endpoint.
    #[cfg(any(test, feature = "oracle"))]
    pub fn to_endpoint(&self) -> super::model::Endpoint {
        use super::model::{Demographic, Endpoint, Location, User};
        use std::collections::BTreeMap;
        let owned = |s: &Option<Cow<'a, str>>| s.as_deref().map(str::to_owned);
        let lists = |list: &[Custom<'a>]| -> BTreeMap<String, Vec<String>> {
            list.iter()
                .filter(|c| c.present)
                .map(|c| {
                    let values = c.values.iter().map(|v| v.as_ref().to_owned()).collect();
                    (c.name.as_ref().to_owned(), values)
                })
                .collect()
        };
        let mut demographic = Demographic::default();
        for f in DemographicField::ALL {
            *demographic.slot(f) = self
                .demographic
                .get(f as usize)
                .and_then(|d| d.as_deref())
                .map(str::to_owned);
        }
        Endpoint {
            channel_type: self.channel_type,
            address: owned(&self.address),
            id: owned(&self.id),
            request_id: owned(&self.request_id),
            opt_out: self.opt_out,
            effective_date: owned(&self.effective_date),
            attributes: lists(&self.attributes),
            metrics: self
                .metrics
                .iter()
                .filter_map(|m| Some((m.name.as_ref().to_owned(), m.value?)))
                .collect(),
            demographic,
            location: Location {
                city: owned(&self.city),
                country: owned(&self.country),
                latitude: self.latitude,
                longitude: self.longitude,
                postal_code: owned(&self.postal_code),
                region: owned(&self.region),
            },
            user: User {
                user_id: owned(&self.user_id),
                user_attributes: lists(&self.user_attributes),
            },
        }
    }
}

/// A value of an endpoint as the staged CSV has it: text, or a number
/// (written with [`write_number`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum CsvValue<'s> {
    /// Text, written as it is (in quotes when it needs them).
    Text(&'s str),
    /// A number.
    Number(f64),
}

/// The length of numbers as the CSV writer writes them, without writing
/// them where that can be helped: whole numbers by their digits, others
/// remembered by value in a small cache (data repeats its values).
#[derive(Debug)]
pub(crate) struct NumberLengths {
    cache: [(u64, u64); 1024],
    text: String,
}

impl Default for NumberLengths {
    fn default() -> Self {
        NumberLengths {
            // No finite number has the bits of NaN with an all-ones payload.
            cache: [(u64::MAX, 0); 1024],
            text: String::new(),
        }
    }
}

impl NumberLengths {
    pub(crate) fn len(&mut self, x: f64) -> u64 {
        if let Some(i) = whole_number(x) {
            let digits = u64::from(i.unsigned_abs().checked_ilog10().unwrap_or(0)) + 1;
            return digits + u64::from(i < 0);
        }
        let bits = x.to_bits();
        let slot = (bits.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 54) as usize;
        if let Some((key, len)) = self.cache.get(slot)
            && *key == bits
        {
            return *len;
        }
        self.text.clear();
        write_number(&mut self.text, x);
        let len = self.text.len() as u64;
        if let Some(entry) = self.cache.get_mut(slot) {
            *entry = (bits, len);
        }
        len
    }
}

/// The present lists of `list`, with `kind` and their index.
fn present<'d, 'a>(
    list: &'d [Custom<'a>],
    kind: u8,
) -> impl Iterator<Item = (u8, usize, &'d Cow<'a, str>)> {
    list.iter()
        .enumerate()
        .filter(|(_, c)| c.present)
        .map(move |(i, c)| (kind, i, &c.name))
}

/// The present lists of one kind, as a JSON object of string lists.
struct Lists<'d, 'a>(&'d [Custom<'a>]);

impl Serialize for Lists<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let present = self.0.iter().filter(|c| c.present);
        let mut map = s.serialize_map(Some(present.clone().count()))?;
        for c in present {
            map.serialize_entry(c.name.as_ref(), &c.values)?;
        }
        map.end()
    }
}

struct Metrics<'d, 'a>(&'d [Metric<'a>]);

impl Serialize for Metrics<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let set = self
            .0
            .iter()
            .filter_map(|m| Some((m.name.as_ref(), m.value?)));
        let mut map = s.serialize_map(Some(set.clone().count()))?;
        for (name, x) in set {
            map.serialize_entry(name, &Number(x))?;
        }
        map.end()
    }
}

struct DemographicView<'d, 'a>(&'d Draft<'a>);

impl Serialize for DemographicView<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let d = &self.0.demographic;
        let n = d.iter().filter(|v| v.is_some()).count();
        let mut st = s.serialize_struct("Demographic", n)?;
        for f in DemographicField::ALL {
            if let Some(Some(v)) = d.get(f as usize) {
                st.serialize_field(f.as_str(), v.as_ref())?;
            }
        }
        st.end()
    }
}

struct LocationView<'d, 'a>(&'d Draft<'a>);

impl Serialize for LocationView<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let d = self.0;
        let texts = [
            ("City", &d.city),
            ("Country", &d.country),
            ("PostalCode", &d.postal_code),
            ("Region", &d.region),
        ];
        let n = texts.iter().filter(|(_, v)| v.is_some()).count()
            + usize::from(d.latitude.is_some())
            + usize::from(d.longitude.is_some());
        let mut st = s.serialize_struct("Location", n)?;
        let [city, country, postal_code, region] = texts;
        for (name, v) in [city, country] {
            if let Some(v) = v {
                st.serialize_field(name, v.as_ref())?;
            }
        }
        if let Some(x) = d.latitude {
            st.serialize_field("Latitude", &Number(x))?;
        }
        if let Some(x) = d.longitude {
            st.serialize_field("Longitude", &Number(x))?;
        }
        for (name, v) in [postal_code, region] {
            if let Some(v) = v {
                st.serialize_field(name, v.as_ref())?;
            }
        }
        st.end()
    }
}

struct UserView<'d, 'a>(&'d Draft<'a>);

impl Serialize for UserView<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let d = self.0;
        let lists = Draft::has_list(&d.user_attributes);
        let n = usize::from(d.user_id.is_some()) + usize::from(lists);
        let mut st = s.serialize_struct("User", n)?;
        if let Some(id) = &d.user_id {
            st.serialize_field("UserId", id.as_ref())?;
        }
        if lists {
            st.serialize_field("UserAttributes", &Lists(&d.user_attributes))?;
        }
        st.end()
    }
}

impl Serialize for Draft<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let attributes = Draft::has_list(&self.attributes);
        let metrics = self.has_metrics();
        let demographic = !self.demographic_is_empty();
        let location = !self.location_is_empty();
        let user = self.user_id.is_some() || Draft::has_list(&self.user_attributes);
        let texts = [
            ("Address", &self.address),
            ("Id", &self.id),
            ("RequestId", &self.request_id),
        ];
        let n = usize::from(self.channel_type.is_some())
            + texts.iter().filter(|(_, v)| v.is_some()).count()
            + usize::from(self.opt_out.is_some())
            + usize::from(self.effective_date.is_some())
            + [attributes, metrics, demographic, location, user]
                .iter()
                .filter(|b| **b)
                .count();
        let mut st = s.serialize_struct("Endpoint", n)?;
        if let Some(c) = self.channel_type {
            st.serialize_field("ChannelType", &c)?;
        }
        for (name, v) in texts {
            if let Some(v) = v {
                st.serialize_field(name, v.as_ref())?;
            }
        }
        if let Some(o) = self.opt_out {
            st.serialize_field("OptOut", &o)?;
        }
        if let Some(d) = &self.effective_date {
            st.serialize_field("EffectiveDate", d.as_ref())?;
        }
        if attributes {
            st.serialize_field("Attributes", &Lists(&self.attributes))?;
        }
        if metrics {
            st.serialize_field("Metrics", &Metrics(&self.metrics))?;
        }
        if demographic {
            st.serialize_field("Demographic", &DemographicView(self))?;
        }
        if location {
            st.serialize_field("Location", &LocationView(self))?;
        }
        if user {
            st.serialize_field("User", &UserView(self))?;
        }
        st.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoints::model::LocationField;

    fn full() -> Draft<'static> {
        let mut d = Draft {
            channel_type: Some(ChannelType::Email),
            address: Some("a@example.com".into()),
            id: Some("ep".into()),
            request_id: Some("r".into()),
            opt_out: Some(OptOut::None),
            effective_date: Some("2024-05-01".into()),
            city: Some("Köln".into()),
            country: Some("DE".into()),
            latitude: Some(50.9),
            longitude: Some(7.0),
            postal_code: Some("50667".into()),
            region: Some("NRW \"x\"".into()),
            user_id: Some("u\u{1}".into()),
            ..Draft::default()
        };
        d.demographic[DemographicField::Platform as usize] = Some("ios".into());
        d.demographic[DemographicField::AppVersion as usize] = Some("1.0".into());
        for (kind, name) in [
            (ListKind::Attributes, "b"),
            (ListKind::Attributes, "a"),
            (ListKind::UserAttributes, "x"),
            (ListKind::UserAttributes, "empty"),
        ] {
            let c = d
                .custom_mut(kind, (name, None), || Cow::Borrowed(name))
                .unwrap();
            c.present = true;
            if name != "empty" {
                c.values.push(Cow::Borrowed("v1"));
                c.values.push(Cow::Owned(format!("{name}2")));
            }
        }
        d.set_metric(("score", None), || "score".into(), 0.1);
        d.set_metric(("n", None), || "n".into(), 3.0);
        d
    }

    #[test]
    fn serialises_as_the_owned_model() {
        let d = full();
        let e = d.to_endpoint();
        assert_eq!(
            serde_json::to_string(&d).unwrap(),
            serde_json::to_string(&e).unwrap()
        );
        let mut empty = Draft::default();
        assert_eq!(serde_json::to_string(&empty).unwrap(), "{}");
        empty.user_id = Some("u".into());
        assert_eq!(
            serde_json::to_string(&empty).unwrap(),
            serde_json::to_string(&empty.to_endpoint()).unwrap()
        );
    }

    #[test]
    fn numbers_are_written_as_the_json_writer_writes_them() {
        for x in [
            0.0,
            -0.0,
            3.0,
            -42.0,
            0.1,
            1e15,
            1e16,
            1e300,
            -1.5e-7,
            2.5,
            9_007_199_254_740_993.0,
            f64::MAX,
            f64::MIN_POSITIVE,
            5e-324,
        ] {
            let mut out = String::new();
            write_number(&mut out, x);
            assert_eq!(out, serde_json::to_string(&Number(x)).unwrap(), "{x}");
        }
    }

    proptest::proptest! {
        #[test]
        fn any_number_is_written_as_the_json_writer_writes_it(
            x in proptest::num::f64::NORMAL | proptest::num::f64::SUBNORMAL | proptest::num::f64::ZERO,
            whole in -(1i64 << 54)..(1i64 << 54),
        ) {
            for x in [x, whole as f64] {
                let mut out = String::new();
                write_number(&mut out, x);
                proptest::prop_assert_eq!(out, serde_json::to_string(&Number(x)).unwrap(), "{}", x);
            }
        }
    }

    #[test]
    fn number_lengths_are_those_of_the_written_numbers() {
        assert_eq!(
            Field::fixed()[LATITUDE],
            Field::Location(LocationField::Latitude)
        );
        assert_eq!(
            Field::fixed()[LONGITUDE],
            Field::Location(LocationField::Longitude)
        );
        let mut lengths = NumberLengths::default();
        for x in [
            0.0, -0.0, 7.0, -7.0, 10.0, 99.0, 100.0, -12_345.0, 1e15, 9e15, 1e16, 0.25, 12.75,
            -0.1, 1e300, 5e-324, 12.75, 0.25,
        ] {
            assert_eq!(
                lengths.len(x),
                super::super::model::format_number(x).len() as u64,
                "{x}"
            );
        }
    }

    #[test]
    fn reset_keeps_names_only_when_asked() {
        let mut d = full();
        d.reset(true);
        assert_eq!(d.attributes.len(), 2);
        assert!(
            d.attributes
                .iter()
                .all(|c| !c.present && c.values.is_empty())
        );
        assert_eq!(serde_json::to_string(&d).unwrap(), "{}");
        d.reset(false);
        assert!(d.attributes.is_empty() && d.metrics.is_empty());
    }

    #[test]
    fn fixed_values_follow_the_csv_columns() {
        let d = full();
        let e = d.to_endpoint();
        for (i, f) in Field::fixed().iter().enumerate() {
            let want = crate::endpoints::oracle::writer::fixed_value(&e, f).map(|c| c.into_owned());
            let got = d.fixed_value(i).map(|v| match v {
                CsvValue::Text(t) => t.to_owned(),
                CsvValue::Number(x) => {
                    let mut text = String::new();
                    write_number(&mut text, x);
                    text
                }
            });
            assert_eq!(got, want, "{f:?}");
        }
        for (i, f) in Field::fixed().iter().enumerate() {
            assert_eq!(fixed_index(f), Some(i), "{f:?}");
        }
    }
}
