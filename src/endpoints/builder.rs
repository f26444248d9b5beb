//! Builds one [`Draft`] from its values with every per-value check, then
//! the checks that need the whole endpoint: the rules of
//! [`super::rules`], applied as the whole-file reader applied them, in the
//! same order and with the same messages.
//!
//! Positions are found lazily: a reader passes where a value is as its own
//! [`Locate::At`] (a CSV position, a JSON key path), and the position is
//! worked out only when a problem is reported there.

use std::borrow::Cow;

use crate::error::{ProblemKind, quote};

use super::draft::{Draft, LATITUDE, LONGITUDE, ListKind, fixed_index};
use super::json_size::compact_size;
use super::limits::Limits;
use super::model::{
    ATTRIBUTES_PREFIX, ChannelType, Field, LocationField, METRICS_PREFIX, OptOut,
    USER_ATTRIBUTES_PREFIX, format_number,
};
use super::problems::{ProblemSink, Problems};
use super::rules::{
    MAX_ATTRIBUTE_VALUE_CHARS, MAX_ENDPOINT_BYTES, MAX_VALUES_PER_ATTRIBUTE, Origin, Position,
    e164_problem, email_problem, is_blank, is_iso8601, parse_number,
};

/// Turns a reader's description of where a value is into a position.
pub(crate) trait Locate {
    /// Where a value is, as the reader knows it.
    type At: Copy;
    /// The position of `at` in the data.
    fn position(&mut self, at: Self::At) -> Position;
}

/// Positions that are known at once (CSV).
pub(crate) struct Known;

impl Locate for Known {
    type At = Position;
    fn position(&mut self, at: Position) -> Position {
        at
    }
}

/// A field as the builder is given it: a parsed [`Field`] (the CSV header's),
/// or a custom name borrowed from a JSON key.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Name<'n, 'a> {
    /// A field of the model.
    Field(&'n Field),
    /// A CSV column's field, and for a custom field its index in the draft's
    /// list of that kind (the header's template).
    Column(&'n Field, usize),
    /// `Attributes.<name>` or `User.UserAttributes.<name>`.
    List(ListKind, &'n Cow<'a, str>),
    /// `Metrics.<name>`.
    Metric(&'n Cow<'a, str>),
}

/// What a [`Name`] sets.
enum Target<'n> {
    Fixed(&'n Field),
    List(ListKind, &'n str, Option<usize>),
    Metric(&'n str, Option<usize>),
}

impl<'n, 'a> Name<'n, 'a> {
    fn target(self) -> Target<'n> {
        let (field, slot) = match self {
            Name::Field(f) => (f, None),
            Name::Column(f, slot) => (f, Some(slot)),
            Name::List(kind, n) => return Target::List(kind, n, None),
            Name::Metric(n) => return Target::Metric(n, None),
        };
        match field {
            Field::Attribute(n) => Target::List(ListKind::Attributes, n, slot),
            Field::UserAttribute(n) => Target::List(ListKind::UserAttributes, n, slot),
            Field::Metric(n) => Target::Metric(n, slot),
            f => Target::Fixed(f),
        }
    }

    /// The name in Pinpoint's dot notation.
    pub fn dot_name(self) -> String {
        match self.target() {
            Target::Fixed(f) => f.dot_name(),
            Target::List(ListKind::Attributes, n, _) => format!("{ATTRIBUTES_PREFIX}{n}"),
            Target::List(ListKind::UserAttributes, n, _) => format!("{USER_ATTRIBUTES_PREFIX}{n}"),
            Target::Metric(n, _) => format!("{METRICS_PREFIX}{n}"),
        }
    }

    /// The name as a [`Cow`] borrowed from the data where it can be.
    fn custom_name(self) -> Cow<'a, str> {
        match self {
            Name::List(_, n) | Name::Metric(n) => n.clone(),
            Name::Field(f) | Name::Column(f, _) => {
                Cow::Owned(f.custom_name().unwrap_or_default().to_owned())
            }
        }
    }
}

/// The index (in [`Field::fixed`]) of a field that [`Builder::set_text`]
/// sets with no rule of its own (an id, a demographic, the location but its
/// coordinates, the user id); `None` for any other field.
pub(crate) fn ruleless_text(field: &Field) -> Option<usize> {
    match field {
        Field::ChannelType
        | Field::Address
        | Field::OptOut
        | Field::EffectiveDate
        | Field::Location(LocationField::Latitude | LocationField::Longitude) => None,
        f => fixed_index(f),
    }
}

/// Builds one endpoint (see the module documentation).
pub(crate) struct Builder<'b, 'a, L: Locate, P: ProblemSink = Problems> {
    origin: Origin,
    limits: &'b Limits,
    problems: &'b mut P,
    locate: &'b mut L,
    draft: &'b mut Draft<'a>,
    channel_given: bool,
    address_given: bool,
    /// Where the address is; `None` for the endpoint's origin.
    address_at: Option<L::At>,
}

/// What the whole-endpoint checks found besides problems.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Finished {
    /// The size of the endpoint's compact JSON, when it was measured.
    pub json_size: Option<usize>,
}

impl<'b, 'a, L: Locate, P: ProblemSink> Builder<'b, 'a, L, P> {
    /// A builder for the endpoint at `origin`, filling `draft` (which the
    /// caller has reset).
    pub fn new(
        origin: Origin,
        limits: &'b Limits,
        problems: &'b mut P,
        locate: &'b mut L,
        draft: &'b mut Draft<'a>,
    ) -> Self {
        Builder {
            origin,
            limits,
            problems,
            locate,
            draft,
            channel_given: false,
            address_given: false,
            address_at: None,
        }
    }

    /// Tells the CSV count whether the next value is plain ([`super::draft::CsvCount::plain`]).
    pub fn csv_plain(&mut self, plain: bool) {
        if let Some(count) = &mut self.draft.csv {
            count.plain = plain;
        }
    }

    /// The problems of the pass, for what the reader finds on its own.
    pub fn problems(&mut self) -> &mut P {
        self.problems
    }

    /// Reports a problem with `field` at `at`.
    pub fn report(
        &mut self,
        kind: ProblemKind,
        field: Name<'_, 'a>,
        at: L::At,
        message: impl FnOnce() -> String,
    ) {
        let at = self.locate.position(at);
        self.report_at(kind, Some(field), at, message);
    }

    /// Reports a problem with a field known only by its name (`None`: the
    /// whole endpoint), at `at`.
    pub fn report_named(
        &mut self,
        kind: ProblemKind,
        field: impl FnOnce() -> Option<String>,
        at: L::At,
        message: impl FnOnce() -> String,
    ) {
        let at = self.locate.position(at);
        let record = Some(self.origin.record);
        self.problems.push(kind, record, at, field, message);
    }

    /// Reports a problem with the whole endpoint, at its origin.
    pub fn report_endpoint(&mut self, kind: ProblemKind, message: impl FnOnce() -> String) {
        let at = self.origin.at;
        self.report_at(kind, None, at, message);
    }

    fn report_at(
        &mut self,
        kind: ProblemKind,
        field: Option<Name<'_, 'a>>,
        at: Position,
        message: impl FnOnce() -> String,
    ) {
        let record = Some(self.origin.record);
        self.problems
            .push(kind, record, at, || field.map(Name::dot_name), message);
    }

    /// Sets `field` from a text value (a CSV cell, a JSON string).
    ///
    /// Multi-valued attributes get the value appended; numeric fields parse
    /// it. An empty value of a single-valued field means "not given".
    pub fn set_text(&mut self, field: Name<'_, 'a>, value: Cow<'a, str>, at: L::At) {
        match field.target() {
            Target::List(kind, name, slot) => self.push_value(field, kind, (name, slot), value, at),
            Target::Fixed(Field::ChannelType) => self.set_channel_type_text(&value, at),
            Target::Fixed(Field::Address) => self.set_address_text(value, at),
            Target::Fixed(Field::OptOut) => self.set_opt_out_text(&value, at),
            Target::Fixed(Field::EffectiveDate) => self.set_effective_date_text(value, at),
            Target::Fixed(Field::Location(LocationField::Latitude | LocationField::Longitude))
            | Target::Metric(..) => self.set_number_text(field, &value, at),
            Target::Fixed(f) => {
                if !value.is_empty()
                    && let Some(i) = ruleless_text(f)
                {
                    self.draft.set_fixed_text(i, value);
                }
            }
        }
    }

    /// `ChannelType` from a text value, as [`Builder::set_text`] sets it (a
    /// blank value is not given).
    #[inline]
    pub fn set_channel_type_text(&mut self, value: &str, at: L::At) {
        if !is_blank(value) {
            self.set_channel_type(value, at);
        }
    }

    /// `Address` from a text value, as [`Builder::set_text`] sets it (a blank
    /// value is not given).
    #[inline]
    pub fn set_address_text(&mut self, value: Cow<'a, str>, at: L::At) {
        if is_blank(&value) {
            return;
        }
        self.address_at = Some(at);
        self.draft.count_csv(1, &value);
        self.draft.address = Some(value);
    }

    /// `OptOut` from a text value, as [`Builder::set_text`] sets it.
    #[inline]
    pub fn set_opt_out_text(&mut self, value: &str, at: L::At) {
        if !value.is_empty() {
            self.set_opt_out(value, at);
        }
    }

    /// `EffectiveDate` from a text value, as [`Builder::set_text`] sets it.
    #[inline]
    pub fn set_effective_date_text(&mut self, value: Cow<'a, str>, at: L::At) {
        if !value.is_empty() {
            self.set_effective_date(value, at);
        }
    }

    /// A numeric `field` (a metric, latitude, longitude) from a text value,
    /// as [`Builder::set_text`] sets it: parsed, or reported as no number.
    #[inline]
    pub fn set_number_text(&mut self, field: Name<'_, 'a>, value: &str, at: L::At) {
        if value.is_empty() {
            return;
        }
        match parse_number(value) {
            Some(x) => self.set_number(field, x, at),
            None => self.report(ProblemKind::MalformedData, field, at, || {
                format!(
                    "`{}` is not a number; write a plain number such as 42 or -3.5",
                    quote(value)
                )
            }),
        }
    }

    /// Sets a numeric field (`Metrics.*`, latitude, longitude) from a number.
    /// Other fields take the number as text.
    pub fn set_number(&mut self, field: Name<'_, 'a>, x: f64, at: L::At) {
        if !x.is_finite() {
            self.report(ProblemKind::MalformedData, field, at, || {
                "the number is out of range".into()
            });
            return;
        }
        match field.target() {
            Target::Metric(name, slot) => {
                self.draft
                    .set_metric((name, slot), || field.custom_name(), x);
                self.draft.count_csv_number(None, x);
            }
            Target::Fixed(Field::Location(LocationField::Latitude)) => {
                if self.in_range(field, x, 90.0, at) {
                    self.draft.latitude = Some(x);
                    self.draft.count_csv_number(Some(LATITUDE), x);
                }
            }
            Target::Fixed(Field::Location(LocationField::Longitude)) => {
                if self.in_range(field, x, 180.0, at) {
                    self.draft.longitude = Some(x);
                    self.draft.count_csv_number(Some(LONGITUDE), x);
                }
            }
            _ => self.set_text(field, Cow::Owned(format_number(x)), at),
        }
    }

    /// Makes sure a multi-valued attribute exists, even with no values (a
    /// JSON `[]`).
    pub fn touch_list(&mut self, field: Name<'_, 'a>) {
        if let Target::List(kind, name, slot) = field.target()
            && let Some(c) = self
                .draft
                .custom_mut(kind, (name, slot), || field.custom_name())
        {
            c.present = true;
        }
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

    fn in_range(&mut self, field: Name<'_, 'a>, x: f64, bound: f64, at: L::At) -> bool {
        if (-bound..=bound).contains(&x) {
            return true;
        }
        self.report(ProblemKind::MalformedData, field, at, || {
            format!(
                "{} is out of range; it must be between -{bound} and {bound}",
                format_number(x)
            )
        });
        false
    }

    fn set_channel_type(&mut self, value: &str, at: L::At) {
        self.channel_given = true;
        if let Some(c) = ChannelType::parse(value) {
            self.draft.count_csv(0, c.as_str());
            self.draft.channel_type = Some(c);
            return;
        }
        self.report(
            ProblemKind::InvalidChannelType,
            Name::Field(&Field::ChannelType),
            at,
            || {
                let hint = match ChannelType::suggest(value) {
                    Some(c) => format!(
                        "did you mean {}? Channel types are upper case. ",
                        c.as_str()
                    ),
                    None => String::new(),
                };
                let all: Vec<&str> = ChannelType::ALL.iter().map(|c| c.as_str()).collect();
                format!(
                    "`{}` is not a Pinpoint channel type; {hint}Use one of {}",
                    quote(value),
                    all.join(", ")
                )
            },
        );
    }

    fn set_opt_out(&mut self, value: &str, at: L::At) {
        match OptOut::parse(value) {
            Some(o) => {
                self.draft.count_csv(4, o.as_str());
                self.draft.opt_out = Some(o);
            }
            None => self.report(
                ProblemKind::MalformedData,
                Name::Field(&Field::OptOut),
                at,
                || {
                    format!(
                        "`{}` is not a valid OptOut; use ALL (opted out of all messages) or NONE (not opted out), in capitals",
                        quote(value)
                    )
                },
            ),
        }
    }

    fn set_effective_date(&mut self, value: Cow<'a, str>, at: L::At) {
        if is_iso8601(&value) {
            self.draft.count_csv(5, &value);
            self.draft.effective_date = Some(value);
        } else {
            self.report(
                ProblemKind::MalformedData,
                Name::Field(&Field::EffectiveDate),
                at,
                || {
                    format!(
                        "`{}` is not an ISO 8601 date; write it like 2024-05-01 or 2024-05-01T12:00:00Z",
                        quote(&value)
                    )
                },
            );
        }
    }

    /// Sets a field with no rule of its own ([`ruleless_text`]'s `index`)
    /// from a non-empty CSV value (`plain`: unquoted), as [`Builder::set_text`]
    /// sets it.
    #[inline]
    pub fn set_ruleless(&mut self, index: usize, plain: bool, value: Cow<'a, str>) {
        self.csv_plain(plain);
        self.draft.set_fixed_text(index, value);
    }

    /// Appends `value` to the multi-valued attribute `name` of list `kind`
    /// (at index `name.1` of it, when known), `field` naming it in problems.
    #[inline]
    pub fn push_value(
        &mut self,
        field: Name<'_, 'a>,
        kind: ListKind,
        name: (&str, Option<usize>),
        value: Cow<'a, str>,
        at: L::At,
    ) {
        // Only a value of more than 100 bytes can have more than 100 characters.
        if value.len() > MAX_ATTRIBUTE_VALUE_CHARS {
            self.check_value_chars(field, &value, at);
        }
        self.draft.count_csv_value(&value);
        if let Some(c) = self.draft.custom_mut(kind, name, || field.custom_name()) {
            c.present = true;
            c.values.push(value);
        }
    }

    /// Reports a value of a multi-valued attribute with more than 100
    /// characters; out of [`Builder::push_value`]'s way, as few are long.
    #[cold]
    #[inline(never)]
    fn check_value_chars(&mut self, field: Name<'_, 'a>, value: &str, at: L::At) {
        let chars = value.chars().count();
        if chars > MAX_ATTRIBUTE_VALUE_CHARS {
            self.report(ProblemKind::MalformedData, field, at, || {
                format!(
                    "the value has {chars} characters; Pinpoint allows at most {MAX_ATTRIBUTE_VALUE_CHARS} per attribute value"
                )
            });
        }
    }

    /// Runs the checks that need the whole endpoint.
    ///
    /// `header_lacks_required` is true when a CSV header without `ChannelType`
    /// or `Address` was already reported, so rows are not reported again.
    /// `small` is true when the reader knows the endpoint's JSON is at most
    /// 15 KB, so its size need not be measured.
    pub fn finish(mut self, header_lacks_required: bool, small: bool) -> Finished {
        if !header_lacks_required {
            self.check_required();
        }
        if self.limits.check_address_format {
            self.check_address();
        }
        self.check_value_counts();
        let json_size = (!small).then(|| self.check_size());
        Finished { json_size }
    }

    fn check_required(&mut self) {
        if self.draft.id.is_some() {
            return;
        }
        let at = self.origin.at;
        if !self.channel_given {
            self.report_at(
                ProblemKind::MissingRequiredFields,
                Some(Name::Field(&Field::ChannelType)),
                at,
                || "ChannelType is missing; every new endpoint needs a ChannelType (such as EMAIL or SMS) and an Address, or an Id to update an existing endpoint".into(),
            );
        }
        if self.draft.address.is_none() && !self.address_given {
            self.report_at(
                ProblemKind::MissingRequiredFields,
                Some(Name::Field(&Field::Address)),
                at,
                || "Address is missing; every new endpoint needs an Address (an email address, phone number or device token) and a ChannelType, or an Id to update an existing endpoint".into(),
            );
        }
    }

    fn check_address(&mut self) {
        let (Some(channel), Some(address)) = (self.draft.channel_type, &self.draft.address) else {
            return;
        };
        let message = match channel {
            ChannelType::Sms | ChannelType::Voice => e164_problem(address),
            ChannelType::Email => email_problem(address),
            _ => None,
        };
        if let Some(m) = message {
            let address = address.clone();
            let at = match self.address_at {
                Some(at) => self.locate.position(at),
                None => self.origin.at,
            };
            self.report_at(
                ProblemKind::MalformedData,
                Some(Name::Field(&Field::Address)),
                at,
                || format!("{} address `{}` {m}", channel.as_str(), quote(&address)),
            );
        }
    }

    fn check_value_counts(&mut self) {
        for kind in [ListKind::Attributes, ListKind::UserAttributes] {
            let mut i = 0;
            while let Some(c) = self.draft.list(kind).get(i) {
                i += 1;
                let n = c.values.len();
                if !c.present || n <= MAX_VALUES_PER_ATTRIBUTE {
                    continue;
                }
                let name = c.name.clone();
                let at = self.origin.at;
                self.report_at(
                    ProblemKind::MalformedData,
                    Some(Name::List(kind, &name)),
                    at,
                    || {
                        format!(
                            "the attribute has {n} values; Pinpoint allows at most {MAX_VALUES_PER_ATTRIBUTE} per attribute"
                        )
                    },
                );
            }
        }
    }

    fn check_size(&mut self) -> usize {
        let size = compact_size(self.draft);
        if size > MAX_ENDPOINT_BYTES {
            let at = self.origin.at;
            let record = Some(self.origin.record);
            self.problems.push(
                ProblemKind::ImportSizeExceeded,
                record,
                at,
                || None,
                || {
                    format!(
                        "the endpoint is {size} bytes; Pinpoint allows at most {MAX_ENDPOINT_BYTES} bytes (15 KB) per endpoint; remove attributes or shorten values"
                    )
                },
            );
        }
        size
    }
}
