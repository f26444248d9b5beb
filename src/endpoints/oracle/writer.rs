//! Writes endpoints as Pinpoint imports them: compact newline-delimited JSON,
//! or normalised CSV.
//!
//! Normalised CSV: a header of the fields any endpoint sets, in Pinpoint's
//! documentation order, then custom attributes sorted by name, each
//! multi-valued attribute repeated as often as its longest list; LF line ends;
//! no BOM and no blank lines; values quoted only when they contain a comma or
//! a quote, or are blank (so that a row is never mistaken for a blank line).
//! Numbers are written in their shortest exact form (`3`, `0.1`, `1e+300`).

use std::borrow::Cow;
use std::collections::BTreeMap;

use crate::endpoints::model::{Endpoint, Field, LocationField, format_number};

/// The endpoints as newline-delimited JSON: one compact object per line, each
/// line ending in `\n`.
pub fn to_ndjson(endpoints: &[Endpoint]) -> Result<Vec<u8>, serde_json::Error> {
    let mut out = Vec::new();
    for e in endpoints {
        serde_json::to_writer(&mut out, e)?;
        out.push(b'\n');
    }
    Ok(out)
}

/// The endpoints as normalised CSV (see the module documentation).
pub fn to_csv(endpoints: &[Endpoint]) -> Vec<u8> {
    let columns = columns(endpoints);
    let mut out = String::new();
    let header: Vec<String> = columns
        .iter()
        .flat_map(|(f, n)| std::iter::repeat_n(f.dot_name(), *n))
        .collect();
    write_row(&mut out, header.iter().map(String::as_str));
    for e in endpoints {
        let mut cells: Vec<Cow<'_, str>> = Vec::with_capacity(header.len());
        for (field, n) in &columns {
            push_cells(&mut cells, e, field, *n);
        }
        write_row(&mut out, cells.iter().map(|c| c.as_ref()));
    }
    out.into_bytes()
}

/// The columns to write: each field any endpoint sets, with how many columns
/// it takes.
fn columns(endpoints: &[Endpoint]) -> Vec<(Field, usize)> {
    let mut out: Vec<(Field, usize)> = Field::fixed()
        .into_iter()
        .filter(|f| endpoints.iter().any(|e| fixed_value(e, f).is_some()))
        .map(|f| (f, 1))
        .collect();
    let mut attributes: BTreeMap<&str, usize> = BTreeMap::new();
    let mut metrics: BTreeMap<&str, usize> = BTreeMap::new();
    let mut user_attributes: BTreeMap<&str, usize> = BTreeMap::new();
    for e in endpoints {
        for (k, v) in &e.attributes {
            let n = attributes.entry(k).or_default();
            *n = (*n).max(v.len());
        }
        for k in e.metrics.keys() {
            metrics.insert(k, 1);
        }
        for (k, v) in &e.user.user_attributes {
            let n = user_attributes.entry(k).or_default();
            *n = (*n).max(v.len());
        }
    }
    let custom = [
        (attributes, Field::Attribute as fn(String) -> Field),
        (metrics, Field::Metric),
        (user_attributes, Field::UserAttribute),
    ];
    for (names, make) in custom {
        out.extend(
            names
                .into_iter()
                .filter(|(_, n)| *n > 0)
                .map(|(k, n)| (make(k.to_owned()), n)),
        );
    }
    out
}

/// The value of a single-valued field, as text.
pub fn fixed_value<'e>(e: &'e Endpoint, field: &Field) -> Option<Cow<'e, str>> {
    let loc = &e.location;
    let text = |s: &'e Option<String>| s.as_deref().map(Cow::Borrowed);
    let number = |x: Option<f64>| x.map(|x| Cow::Owned(format_number(x)));
    match field {
        Field::ChannelType => e.channel_type.map(|c| Cow::Borrowed(c.as_str())),
        Field::Address => text(&e.address),
        Field::Id => text(&e.id),
        Field::RequestId => text(&e.request_id),
        Field::OptOut => e.opt_out.map(|o| Cow::Borrowed(o.as_str())),
        Field::EffectiveDate => text(&e.effective_date),
        Field::Demographic(d) => e.demographic.get(*d).map(|s| Cow::Borrowed(s.as_str())),
        Field::Location(LocationField::City) => text(&loc.city),
        Field::Location(LocationField::Country) => text(&loc.country),
        Field::Location(LocationField::Latitude) => number(loc.latitude),
        Field::Location(LocationField::Longitude) => number(loc.longitude),
        Field::Location(LocationField::PostalCode) => text(&loc.postal_code),
        Field::Location(LocationField::Region) => text(&loc.region),
        Field::UserId => text(&e.user.user_id),
        Field::Metric(name) => number(e.metrics.get(name).copied()),
        Field::Attribute(_) | Field::UserAttribute(_) => None,
    }
}

fn push_cells<'e>(cells: &mut Vec<Cow<'e, str>>, e: &'e Endpoint, field: &Field, n: usize) {
    let list = match field {
        Field::Attribute(name) => e.attributes.get(name),
        Field::UserAttribute(name) => e.user.user_attributes.get(name),
        _ => {
            cells.push(fixed_value(e, field).unwrap_or_default());
            return;
        }
    };
    let values = list.map(Vec::as_slice).unwrap_or_default();
    for i in 0..n {
        let value = values.get(i).map(String::as_str).unwrap_or_default();
        cells.push(Cow::Borrowed(value));
    }
}

fn write_row<'a>(out: &mut String, cells: impl Iterator<Item = &'a str>) {
    for (i, cell) in cells.enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_cell(out, cell);
    }
    out.push('\n');
}

pub(crate) fn write_cell(out: &mut String, cell: &str) {
    let needs_quotes = cell.contains([',', '"', '\r', '\n'])
        || (!cell.is_empty() && cell.trim_matches([' ', '\t']).is_empty());
    if needs_quotes {
        out.push('"');
        out.push_str(&cell.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(cell);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoints::model::ChannelType;

    #[test]
    fn quotes_only_what_needs_it() {
        let mut s = String::new();
        write_row(&mut s, ["a", "b,c", "say \"hi\"", "", "  "].into_iter());
        assert_eq!(s, "a,\"b,c\",\"say \"\"hi\"\"\",,\"  \"\n");
    }

    #[test]
    fn repeats_multi_valued_columns() {
        let mut e = Endpoint {
            channel_type: Some(ChannelType::Email),
            address: Some("a@example.com".into()),
            ..Endpoint::default()
        };
        e.user
            .user_attributes
            .insert("Interests".into(), vec!["Music".into(), "Travel".into()]);
        e.metrics.insert("Score".into(), 3.0);
        let f = Endpoint {
            channel_type: Some(ChannelType::Sms),
            address: Some("+12065550100".into()),
            ..Endpoint::default()
        };
        let csv = String::from_utf8(to_csv(&[e, f])).unwrap();
        assert_eq!(
            csv,
            "ChannelType,Address,Metrics.Score,User.UserAttributes.Interests,User.UserAttributes.Interests\n\
             EMAIL,a@example.com,3,Music,Travel\n\
             SMS,+12065550100,,,\n"
        );
    }
}
