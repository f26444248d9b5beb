//! The size of an endpoint's compact JSON, counted from its [`Draft`]
//! without writing it: the same keys, order and empty parts left out as
//! [`Draft`]'s `Serialize`, strings escaped as `serde_json` escapes them, and
//! numbers as long as [`super::draft::write_number`] writes them.

use super::draft::{Custom, Draft};
use super::model::DemographicField;

/// The bytes of one JSON object being counted: its entries so far.
#[derive(Debug, Default, Clone, Copy)]
struct Object {
    entries: usize,
    bytes: usize,
}

impl Object {
    /// Adds the entry `"key":value`, `value` being `value_len` bytes; `key`
    /// is one of the model's (ASCII, nothing to escape).
    fn field(&mut self, key: &str, value_len: usize) {
        self.entries += 1;
        self.bytes += key.len() + 3 + value_len;
    }

    /// Adds an entry whose key is data (escaped as written).
    fn entry(&mut self, key: &str, value_len: usize) {
        self.entries += 1;
        self.bytes += string_len(key) + 1 + value_len;
    }

    /// Adds `"key":{...}` when `inner` has entries (an empty part is left out).
    fn nested(&mut self, key: &str, inner: Object) {
        if inner.entries > 0 {
            self.field(key, inner.len());
        }
    }

    /// The object's bytes: braces, entries and the commas between them.
    fn len(self) -> usize {
        2 + self.bytes + self.entries.saturating_sub(1)
    }
}

/// The bytes serde_json adds to each byte of a string when it escapes it:
/// 1 for `"`, `\` and the controls with a short escape (`\n`, `\t`...), 5
/// for the other controls below U+0020 (`\u00XX`), 0 for the rest.
const EXTRA: [u8; 256] = {
    let mut extra = [0u8; 256];
    let mut b = 0;
    while b < 0x20 {
        extra[b] = 5;
        b += 1;
    }
    extra[0x08] = 1;
    extra[0x09] = 1;
    extra[0x0a] = 1;
    extra[0x0c] = 1;
    extra[0x0d] = 1;
    extra[b'"' as usize] = 1;
    extra[b'\\' as usize] = 1;
    extra
};

/// The bytes serde_json writes for string `s`: its quotes, and each `"`,
/// `\` and control character below U+0020 escaped ([`EXTRA`]).
pub(crate) fn string_len(s: &str) -> usize {
    let extra: usize = s
        .bytes()
        .map(|b| usize::from(EXTRA.get(usize::from(b)).copied().unwrap_or(0)))
        .sum();
    s.len() + 2 + extra
}

/// `[...]` of `values`.
fn list_len(values: &[std::borrow::Cow<'_, str>]) -> usize {
    2 + values.iter().map(|v| string_len(v)).sum::<usize>() + values.len().saturating_sub(1)
}

/// The present lists of `list` as an object of string lists.
fn lists(list: &[Custom<'_>]) -> Object {
    let mut o = Object::default();
    for c in list.iter().filter(|c| c.present) {
        o.entry(&c.name, list_len(&c.values));
    }
    o
}

/// The length of `text` (a value of the model) when set.
fn text(o: &mut Object, key: &str, value: Option<&str>) {
    if let Some(v) = value {
        o.field(key, string_len(v));
    }
}

/// The size of `draft`'s compact JSON, in bytes: `serde_json::to_vec(draft).len()`.
pub(crate) fn compact_size(draft: &mut Draft<'_>) -> usize {
    // The numbers first: their lengths come from the draft's cache.
    let mut metrics = Object::default();
    let mut i = 0;
    while let Some(m) = draft.metrics.get(i) {
        i += 1;
        if let Some(x) = m.value {
            let name = string_len(&m.name);
            metrics.entries += 1;
            metrics.bytes += name + 1 + draft.number_len(x);
        }
    }
    let latitude = draft.latitude.map(|x| draft.number_len(x));
    let longitude = draft.longitude.map(|x| draft.number_len(x));
    let d = &*draft;

    let mut top = Object::default();
    text(&mut top, "ChannelType", d.channel_type.map(|c| c.as_str()));
    text(&mut top, "Address", d.address.as_deref());
    text(&mut top, "Id", d.id.as_deref());
    text(&mut top, "RequestId", d.request_id.as_deref());
    text(&mut top, "OptOut", d.opt_out.map(|o| o.as_str()));
    text(&mut top, "EffectiveDate", d.effective_date.as_deref());
    top.nested("Attributes", lists(&d.attributes));
    top.nested("Metrics", metrics);

    let mut demographic = Object::default();
    for f in DemographicField::ALL {
        let v = d.demographic.get(f as usize).and_then(|v| v.as_deref());
        text(&mut demographic, f.as_str(), v);
    }
    top.nested("Demographic", demographic);

    let mut location = Object::default();
    text(&mut location, "City", d.city.as_deref());
    text(&mut location, "Country", d.country.as_deref());
    for (key, len) in [("Latitude", latitude), ("Longitude", longitude)] {
        if let Some(len) = len {
            location.field(key, len);
        }
    }
    text(&mut location, "PostalCode", d.postal_code.as_deref());
    text(&mut location, "Region", d.region.as_deref());
    top.nested("Location", location);

    let mut user = Object::default();
    text(&mut user, "UserId", d.user_id.as_deref());
    user.nested("UserAttributes", lists(&d.user_attributes));
    top.nested("User", user);
    top.len()
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use proptest::collection::vec;
    use proptest::prelude::*;
    use proptest::sample::select;

    use super::*;
    use crate::endpoints::draft::ListKind;
    use crate::endpoints::model::{ChannelType, OptOut};

    /// Text with what JSON escapes: quotes, backslashes, every C0 control,
    /// DEL, C1 controls and other non-ASCII.
    fn text() -> impl Strategy<Value = String> {
        let pieces = prop_oneof![
            4 => "[a-zA-Z0-9 ._@+-]{0,8}",
            1 => select(&["\"", "\\", "\n", "\r", "\t", "\u{8}", "\u{c}", "\u{7f}", "é", "€", "😀", "\u{85}", "/"][..]).prop_map(str::to_owned),
            1 => (0u8..0x20).prop_map(|b| char::from(b).to_string()),
        ];
        vec(pieces, 0..6).prop_map(|p| p.concat())
    }

    fn number() -> impl Strategy<Value = f64> {
        prop_oneof![
            any::<i32>().prop_map(f64::from),
            any::<i64>().prop_map(|i| i as f64),
            any::<f64>().prop_filter("finite", |x| x.is_finite()),
            select(
                &[
                    0.0,
                    -0.0,
                    0.1,
                    1e15,
                    1e16,
                    1e21,
                    1e-7,
                    5e-324,
                    f64::MAX,
                    f64::MIN_POSITIVE,
                    9_007_199_254_740_993.0
                ][..]
            ),
            (-90.0f64..90.0),
        ]
    }

    fn opt<T: std::fmt::Debug + Clone>(
        s: impl Strategy<Value = T>,
    ) -> impl Strategy<Value = Option<T>> {
        proptest::option::weighted(0.5, s)
    }

    fn custom() -> impl Strategy<Value = Vec<(String, bool, Vec<String>)>> {
        vec((text(), any::<bool>(), vec(text(), 0..3)), 0..3)
    }

    /// A draft of random values, every part possibly set.
    fn draft() -> impl Strategy<Value = Draft<'static>> {
        let texts = vec(opt(text()), 19);
        let numbers = (
            opt(number()),
            opt(number()),
            vec((text(), opt(number())), 0..3),
        );
        let enums = (
            opt(select(&ChannelType::ALL[..])),
            opt(select(&[OptOut::All, OptOut::None][..])),
        );
        (texts, numbers, enums, custom(), custom()).prop_map(
            |(texts, (lat, lon, metrics), (channel, opt_out), attributes, user_attributes)| {
                let mut t = texts.into_iter().map(|v| v.map(Cow::Owned));
                let mut next = || t.next().flatten();
                let mut d = Draft::default();
                d.channel_type = channel;
                d.address = next();
                d.id = next();
                d.request_id = next();
                d.opt_out = opt_out;
                d.effective_date = next();
                d.city = next();
                d.country = next();
                d.latitude = lat;
                d.longitude = lon;
                d.postal_code = next();
                d.region = next();
                d.user_id = next();
                for slot in &mut d.demographic {
                    *slot = next();
                }
                for (kind, list) in [
                    (ListKind::Attributes, attributes),
                    (ListKind::UserAttributes, user_attributes),
                ] {
                    for (name, present, values) in list {
                        let owned = name.clone();
                        if let Some(c) = d.custom_mut(kind, (&name, None), || Cow::Owned(owned)) {
                            c.present |= present;
                            c.values.extend(values.into_iter().map(Cow::Owned));
                        }
                    }
                }
                for (name, x) in metrics {
                    let owned = name.clone();
                    match x {
                        Some(x) => d.set_metric((&name, None), || Cow::Owned(owned), x),
                        None => d.add_metric(&name, || Cow::Owned(owned)),
                    }
                }
                d
            },
        )
    }

    proptest! {
        /// The counted size is the written size, byte for byte.
        #[test]
        fn the_counted_size_is_the_written_size(mut d in draft()) {
            let written = serde_json::to_vec(&d).unwrap().len();
            prop_assert_eq!(compact_size(&mut d), written);
            // Again, with the number lengths cached.
            prop_assert_eq!(compact_size(&mut d), written);
        }

        /// Strings are as long as serde_json writes them.
        #[test]
        fn strings_are_as_long_as_written(s in text()) {
            prop_assert_eq!(string_len(&s), serde_json::to_vec(&s).unwrap().len());
        }
    }

    #[test]
    fn every_byte_is_escaped_as_serde_json_escapes_it() {
        for c in (0u32..0x100).filter_map(char::from_u32) {
            let s = format!("a{c}b");
            assert_eq!(
                string_len(&s),
                serde_json::to_vec(&s).unwrap().len(),
                "{c:?}"
            );
        }
        // At every place of every length, in the eight-byte words and after.
        for len in 0..24 {
            for at in 0..len {
                for c in ['"', '\\', '\u{1f}', '\n', ' ', '\u{7f}'] {
                    let s: String = (0..len).map(|i| if i == at { c } else { 'x' }).collect();
                    assert_eq!(
                        string_len(&s),
                        serde_json::to_vec(&s).unwrap().len(),
                        "{s:?}"
                    );
                }
            }
        }
        let mut empty = Draft::default();
        assert_eq!(compact_size(&mut empty), 2);
    }
}
