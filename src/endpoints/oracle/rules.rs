//! Today's rules of the whole-file reader, kept unchanged as the oracle:
//! [`EndpointBuilder`] builds one owned [`Endpoint`] with every per-value
//! check, and [`check_import`] runs the checks across the import over all
//! endpoints at once.

use std::collections::{HashMap, HashSet};

use crate::error::{Problem, ProblemKind, quote};

pub(crate) use crate::endpoints::rules::{
    MAX_ATTRIBUTE_VALUE_CHARS, MAX_CUSTOM_ATTRIBUTE_NAMES, MAX_ENDPOINT_BYTES,
    MAX_ENDPOINTS_PER_USER, MAX_VALUES_PER_ATTRIBUTE, Origin, Position, control_message,
    custom_name_problem, e164_problem, forbidden_control, json_size, parse_number, problem_at,
};

use super::Limits;
use super::model::{ChannelType, Endpoint, Field, LocationField, OptOut, format_number};

/// Builds one endpoint from its values, checking each as it comes.
pub(crate) struct EndpointBuilder<'a> {
    origin: Origin,
    limits: &'a Limits,
    problems: &'a mut Vec<Problem>,
    endpoint: Endpoint,
    channel_given: bool,
    address_given: bool,
    address_at: Position,
}

impl<'a> EndpointBuilder<'a> {
    /// A builder for the endpoint at `origin`.
    pub fn new(origin: Origin, limits: &'a Limits, problems: &'a mut Vec<Problem>) -> Self {
        EndpointBuilder {
            origin,
            limits,
            problems,
            endpoint: Endpoint::default(),
            channel_given: false,
            address_given: false,
            address_at: origin.at,
        }
    }

    /// Reports a problem with `field` of this endpoint.
    pub fn report(&mut self, kind: ProblemKind, field: &Field, at: Position, message: String) {
        self.report_named(kind, Some(field.dot_name()), at, message);
    }

    /// Reports a problem with a field known only by its name.
    pub fn report_named(
        &mut self,
        kind: ProblemKind,
        field: Option<String>,
        at: Position,
        message: String,
    ) {
        let record = Some(self.origin.record);
        self.problems
            .push(problem_at(kind, record, at, field, message));
    }

    /// Sets `field` from a text value (a CSV cell, a JSON string).
    ///
    /// Multi-valued attributes get the value appended; numeric fields parse
    /// it. An empty value of a single-valued field means "not given".
    pub fn set_text(&mut self, field: &Field, value: String, at: Position) {
        if field.is_multi_valued() {
            self.push_value(field, value, at);
            return;
        }
        if field == &Field::ChannelType || field == &Field::Address {
            if value.trim().is_empty() {
                return;
            }
        } else if value.is_empty() {
            return;
        }
        match field {
            Field::ChannelType => self.set_channel_type(&value, at),
            Field::Address => {
                self.address_at = at;
                self.endpoint.address = Some(value);
            }
            Field::Id => self.endpoint.id = Some(value),
            Field::RequestId => self.endpoint.request_id = Some(value),
            Field::OptOut => self.set_opt_out(&value, at),
            Field::EffectiveDate => self.set_effective_date(value, at),
            Field::Demographic(d) => *self.endpoint.demographic.slot(*d) = Some(value),
            Field::Location(LocationField::Latitude | LocationField::Longitude)
            | Field::Metric(_) => match parse_number(&value) {
                Some(x) => self.set_number(field, x, at),
                None => self.report(
                    ProblemKind::MalformedData,
                    field,
                    at,
                    format!(
                        "`{}` is not a number; write a plain number such as 42 or -3.5",
                        quote(&value)
                    ),
                ),
            },
            Field::Location(l) => self.set_location_text(*l, value),
            Field::UserId => self.endpoint.user.user_id = Some(value),
            Field::Attribute(_) | Field::UserAttribute(_) => {}
        }
    }

    /// Sets a numeric field (`Metrics.*`, latitude, longitude) from a number.
    /// Other fields take the number as text.
    pub fn set_number(&mut self, field: &Field, x: f64, at: Position) {
        if !x.is_finite() {
            self.report(
                ProblemKind::MalformedData,
                field,
                at,
                "the number is out of range".into(),
            );
            return;
        }
        match field {
            Field::Metric(name) => {
                self.endpoint.metrics.insert(name.clone(), x);
            }
            Field::Location(LocationField::Latitude) => {
                if self.in_range(field, x, 90.0, at) {
                    self.endpoint.location.latitude = Some(x);
                }
            }
            Field::Location(LocationField::Longitude) => {
                if self.in_range(field, x, 180.0, at) {
                    self.endpoint.location.longitude = Some(x);
                }
            }
            _ => self.set_text(field, format_number(x), at),
        }
    }

    /// Makes sure a multi-valued attribute exists, even with no values (a
    /// JSON `[]`).
    pub fn touch_list(&mut self, field: &Field) {
        let _ = self.list_mut(field);
    }

    /// Notes that `field` had a value that could not be read (already
    /// reported), so it is not reported again as missing.
    pub fn unreadable(&mut self, field: &Field) {
        match field {
            Field::ChannelType => self.channel_given = true,
            Field::Address => self.address_given = true,
            _ => {}
        }
    }

    fn in_range(&mut self, field: &Field, x: f64, bound: f64, at: Position) -> bool {
        if (-bound..=bound).contains(&x) {
            return true;
        }
        let msg = format!(
            "{} is out of range; it must be between -{bound} and {bound}",
            format_number(x)
        );
        self.report(ProblemKind::MalformedData, field, at, msg);
        false
    }

    fn set_channel_type(&mut self, value: &str, at: Position) {
        self.channel_given = true;
        if let Some(c) = ChannelType::parse(value) {
            self.endpoint.channel_type = Some(c);
            return;
        }
        let hint = match ChannelType::suggest(value) {
            Some(c) => format!(
                "did you mean {}? Channel types are upper case. ",
                c.as_str()
            ),
            None => String::new(),
        };
        let all: Vec<&str> = ChannelType::ALL.iter().map(|c| c.as_str()).collect();
        let msg = format!(
            "`{}` is not a Pinpoint channel type; {hint}Use one of {}",
            quote(value),
            all.join(", ")
        );
        self.report(
            ProblemKind::InvalidChannelType,
            &Field::ChannelType,
            at,
            msg,
        );
    }

    fn set_opt_out(&mut self, value: &str, at: Position) {
        match OptOut::parse(value) {
            Some(o) => self.endpoint.opt_out = Some(o),
            None => {
                let msg = format!(
                    "`{}` is not a valid OptOut; use ALL (opted out of all messages) or NONE (not opted out), in capitals",
                    quote(value)
                );
                self.report(ProblemKind::MalformedData, &Field::OptOut, at, msg);
            }
        }
    }

    fn set_effective_date(&mut self, value: String, at: Position) {
        if is_iso8601(&value) {
            self.endpoint.effective_date = Some(value);
        } else {
            let msg = format!(
                "`{}` is not an ISO 8601 date; write it like 2024-05-01 or 2024-05-01T12:00:00Z",
                quote(&value)
            );
            self.report(ProblemKind::MalformedData, &Field::EffectiveDate, at, msg);
        }
    }

    fn set_location_text(&mut self, field: LocationField, value: String) {
        let loc = &mut self.endpoint.location;
        let slot = match field {
            LocationField::City => &mut loc.city,
            LocationField::Country => &mut loc.country,
            LocationField::PostalCode => &mut loc.postal_code,
            LocationField::Region => &mut loc.region,
            LocationField::Latitude | LocationField::Longitude => return,
        };
        *slot = Some(value);
    }

    fn push_value(&mut self, field: &Field, value: String, at: Position) {
        let chars = value.chars().count();
        if chars > MAX_ATTRIBUTE_VALUE_CHARS {
            let msg = format!(
                "the value has {chars} characters; Pinpoint allows at most {MAX_ATTRIBUTE_VALUE_CHARS} per attribute value"
            );
            self.report(ProblemKind::MalformedData, field, at, msg);
        }
        if let Some(list) = self.list_mut(field) {
            list.push(value);
        }
    }

    fn list_mut(&mut self, field: &Field) -> Option<&mut Vec<String>> {
        let map = match field {
            Field::Attribute(_) => &mut self.endpoint.attributes,
            Field::UserAttribute(_) => &mut self.endpoint.user.user_attributes,
            _ => return None,
        };
        let name = field.custom_name()?;
        if !map.contains_key(name) {
            map.insert(name.to_owned(), Vec::new());
        }
        map.get_mut(name)
    }

    /// Runs the checks that need the whole endpoint and returns it.
    ///
    /// `header_lacks_required` is true when a CSV header without `ChannelType`
    /// or `Address` was already reported, so rows are not reported again.
    pub fn finish(mut self, header_lacks_required: bool) -> Endpoint {
        if !header_lacks_required {
            self.check_required();
        }
        if self.limits.check_address_format {
            self.check_address();
        }
        self.check_value_counts();
        self.check_size();
        self.endpoint
    }

    fn check_required(&mut self) {
        if self.endpoint.id.is_some() {
            return;
        }
        let at = self.origin.at;
        if !self.channel_given {
            let msg = "ChannelType is missing; every new endpoint needs a ChannelType (such as EMAIL or SMS) and an Address, or an Id to update an existing endpoint";
            self.report(
                ProblemKind::MissingRequiredFields,
                &Field::ChannelType,
                at,
                msg.into(),
            );
        }
        if self.endpoint.address.is_none() && !self.address_given {
            let msg = "Address is missing; every new endpoint needs an Address (an email address, phone number or device token) and a ChannelType, or an Id to update an existing endpoint";
            self.report(
                ProblemKind::MissingRequiredFields,
                &Field::Address,
                at,
                msg.into(),
            );
        }
    }

    fn check_address(&mut self) {
        let (Some(channel), Some(address)) = (self.endpoint.channel_type, &self.endpoint.address)
        else {
            return;
        };
        let message = match channel {
            ChannelType::Sms | ChannelType::Voice => e164_problem(address),
            ChannelType::Email => email_problem(address),
            _ => None,
        };
        if let Some(m) = message {
            let msg = format!("{} address `{}` {m}", channel.as_str(), quote(address));
            let at = self.address_at;
            self.report(ProblemKind::MalformedData, &Field::Address, at, msg);
        }
    }

    fn check_value_counts(&mut self) {
        let mut too_many = Vec::new();
        for (name, values) in &self.endpoint.attributes {
            if values.len() > MAX_VALUES_PER_ATTRIBUTE {
                too_many.push((Field::Attribute(name.clone()), values.len()));
            }
        }
        for (name, values) in &self.endpoint.user.user_attributes {
            if values.len() > MAX_VALUES_PER_ATTRIBUTE {
                too_many.push((Field::UserAttribute(name.clone()), values.len()));
            }
        }
        let at = self.origin.at;
        for (field, n) in too_many {
            let msg = format!(
                "the attribute has {n} values; Pinpoint allows at most {MAX_VALUES_PER_ATTRIBUTE} per attribute"
            );
            self.report(ProblemKind::MalformedData, &field, at, msg);
        }
    }

    fn check_size(&mut self) {
        let size = json_size(&self.endpoint);
        if size > MAX_ENDPOINT_BYTES {
            let msg = format!(
                "the endpoint is {size} bytes; Pinpoint allows at most {MAX_ENDPOINT_BYTES} bytes (15 KB) per endpoint; remove attributes or shorten values"
            );
            let at = self.origin.at;
            self.report_named(ProblemKind::ImportSizeExceeded, None, at, msg);
        }
    }
}

/// Where each endpoint came from, parallel to the endpoints.
pub(crate) fn check_import(
    endpoints: &[Endpoint],
    origins: &[Origin],
    problems: &mut Vec<Problem>,
) {
    check_endpoints_per_user(endpoints, origins, problems);
    check_custom_attribute_names(endpoints, origins, problems);
}

fn check_endpoints_per_user(
    endpoints: &[Endpoint],
    origins: &[Origin],
    problems: &mut Vec<Problem>,
) {
    // Per user: how many endpoints, and the first one over the limit.
    let mut users: HashMap<&str, (usize, Option<Origin>)> = HashMap::new();
    for (e, origin) in endpoints.iter().zip(origins) {
        let Some(user) = &e.user.user_id else {
            continue;
        };
        let (n, first_over) = users.entry(user.as_str()).or_default();
        *n += 1;
        if *n == MAX_ENDPOINTS_PER_USER + 1 {
            *first_over = Some(*origin);
        }
    }
    for (user, (total, first_over)) in users {
        let Some(origin) = first_over else {
            continue;
        };
        let msg = format!(
            "User.UserId `{}` has {total} endpoints in this import; Pinpoint allows at most {MAX_ENDPOINTS_PER_USER} per user (this is the first one over the limit)",
            quote(user)
        );
        problems.push(problem_at(
            ProblemKind::MalformedData,
            Some(origin.record),
            origin.at,
            Some(Field::UserId.dot_name()),
            msg,
        ));
    }
}

fn check_custom_attribute_names(
    endpoints: &[Endpoint],
    origins: &[Origin],
    problems: &mut Vec<Problem>,
) {
    let mut names: HashSet<(u8, &str)> = HashSet::new();
    for (e, origin) in endpoints.iter().zip(origins) {
        let keys = (e.attributes.keys().map(|k| (0, k.as_str())))
            .chain(e.metrics.keys().map(|k| (1, k.as_str())))
            .chain(e.user.user_attributes.keys().map(|k| (2, k.as_str())));
        for key in keys {
            if !names.insert(key) || names.len() <= MAX_CUSTOM_ATTRIBUTE_NAMES {
                continue;
            }
            let field = match key {
                (0, k) => Field::Attribute(k.to_owned()),
                (1, k) => Field::Metric(k.to_owned()),
                (_, k) => Field::UserAttribute(k.to_owned()),
            };
            let dot = field.dot_name();
            let msg = format!(
                "this import uses more than {MAX_CUSTOM_ATTRIBUTE_NAMES} distinct custom attribute names (Attributes, Metrics and User.UserAttributes together); Pinpoint allows {MAX_CUSTOM_ATTRIBUTE_NAMES} per project; `{}` is the first one over",
                quote(&dot)
            );
            problems.push(problem_at(
                ProblemKind::MalformedData,
                Some(origin.record),
                origin.at,
                Some(dot),
                msg,
            ));
            return;
        }
    }
}

// ---- the date and email checks of that time (the streaming pass has its own,
// byte by byte; `src/endpoints/rules.rs` tests them against these) ----

/// Why `address` is not shaped like an email address, or `None` when it is.
pub(crate) fn email_problem(address: &str) -> Option<String> {
    let shaped = address
        .rsplit_once('@')
        .is_some_and(|(local, domain)| !local.is_empty() && !domain.is_empty());
    let clean = !address.chars().any(|c| c.is_whitespace() || c.is_control());
    if shaped && clean {
        None
    } else if !clean {
        Some("contains spaces or control characters; remove them".into())
    } else {
        Some("is not an email address (name@domain)".into())
    }
}

/// True for an ISO 8601 date or date-time: `YYYY-MM-DD`, optionally followed
/// by `Thh:mm`, `:ss`, a fraction, and `Z` or an offset (`+02:00`, `+0200`, `+02`).
pub(crate) fn is_iso8601(s: &str) -> bool {
    let (date, time) = match s.split_once(['T', 't']) {
        Some((d, t)) => (d, Some(t)),
        None => (s, None),
    };
    is_date(date) && time.is_none_or(is_time)
}

fn number_of(s: &str, len: usize) -> Option<u32> {
    if s.len() == len && s.bytes().all(|b| b.is_ascii_digit()) {
        s.parse().ok()
    } else {
        None
    }
}

fn is_date(s: &str) -> bool {
    let mut parts = s.split('-');
    let (Some(y), Some(m), Some(d), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let (Some(y), Some(m), Some(d)) = (number_of(y, 4), number_of(m, 2), number_of(d, 2)) else {
        return false;
    };
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&d)
}

fn is_time(s: &str) -> bool {
    let (clock, zone) = match s.find(['Z', 'z', '+', '-']) {
        Some(i) => (s.get(..i).unwrap_or(""), s.get(i..).unwrap_or("")),
        None => (s, ""),
    };
    is_clock(clock) && is_zone(zone)
}

fn is_clock(s: &str) -> bool {
    let (hms, fraction) = match s.split_once(['.', ',']) {
        Some((a, f)) => (a, Some(f)),
        None => (s, None),
    };
    let parts: Vec<&str> = hms.split(':').collect();
    let ok = match parts.as_slice() {
        [h, m] => fraction.is_none() && hour_minute(h, m),
        [h, m, sec] => hour_minute(h, m) && number_of(sec, 2).is_some_and(|x| x <= 60),
        _ => false,
    };
    ok && fraction
        .is_none_or(|f| (1..=9).contains(&f.len()) && f.bytes().all(|b| b.is_ascii_digit()))
}

fn hour_minute(h: &str, m: &str) -> bool {
    number_of(h, 2).is_some_and(|x| x <= 23) && number_of(m, 2).is_some_and(|x| x <= 59)
}

fn is_zone(s: &str) -> bool {
    if s.is_empty() || s == "Z" || s == "z" {
        return true;
    }
    let Some(offset) = s.strip_prefix(['+', '-']) else {
        return false;
    };
    match offset.split_once(':') {
        Some((h, m)) => hour_minute(h, m),
        None if offset.len() == 4 => {
            hour_minute(offset.get(..2).unwrap_or(""), offset.get(2..).unwrap_or(""))
        }
        None => number_of(offset, 2).is_some_and(|x| x <= 23),
    }
}
