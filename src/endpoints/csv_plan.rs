//! What each column of a CSV header sets, resolved once from the header:
//! the values of a plain row (see `csv_stream`) go straight to their
//! column's rule, with no per-value look at the field. Every rule is the
//! builder's; a plan only picks which.

use std::borrow::Cow;

use super::builder::{Builder, Known, Name, ruleless_text};
use super::draft::ListKind;
use super::model::{Field, LocationField};
use super::problems::ProblemSink;
use super::rules::Position;

/// What one column of the header sets, resolved once from the header, so
/// that the values of a plain row go straight to it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Plan<'h, 'a> {
    /// A column already reported as wrong: its values are not read.
    Skip,
    /// A field with no rule of its own ([`ruleless_text`]'s index).
    Ruleless(usize),
    /// One value of a multi-valued attribute: its name, list and index there.
    List(Name<'h, 'a>, ListKind, &'h str, usize),
    /// `ChannelType`, through [`Builder::set_channel_type_text`].
    ChannelType,
    /// `Address`, through [`Builder::set_address_text`].
    Address,
    /// `OptOut`, through [`Builder::set_opt_out_text`].
    OptOut,
    /// `EffectiveDate`, through [`Builder::set_effective_date_text`].
    EffectiveDate,
    /// A metric, latitude or longitude, through [`Builder::set_number_text`].
    Number(Name<'h, 'a>),
    /// Any other field, through [`Builder::set_text`] and its rules.
    Rules(Name<'h, 'a>),
}

impl<'h, 'a> Plan<'h, 'a> {
    /// The plan of a column setting `field`, at `slot` of its custom list.
    pub fn of(field: Option<&'h Field>, slot: Option<usize>) -> Self {
        let Some(field) = field else {
            return Plan::Skip;
        };
        if let Some(index) = ruleless_text(field) {
            return Plan::Ruleless(index);
        }
        let name = match slot {
            Some(slot) => Name::Column(field, slot),
            None => Name::Field(field),
        };
        match (field, slot) {
            (Field::ChannelType, _) => Plan::ChannelType,
            (Field::Address, _) => Plan::Address,
            (Field::OptOut, _) => Plan::OptOut,
            (Field::EffectiveDate, _) => Plan::EffectiveDate,
            (Field::Attribute(n), Some(slot)) => Plan::List(name, ListKind::Attributes, n, slot),
            (Field::UserAttribute(n), Some(slot)) => {
                Plan::List(name, ListKind::UserAttributes, n, slot)
            }
            (
                Field::Metric(_)
                | Field::Location(LocationField::Latitude | LocationField::Longitude),
                _,
            ) => Plan::Number(name),
            _ => Plan::Rules(name),
        }
    }

    /// Sets a non-empty `value` (`plain`: unquoted) at `at`, as
    /// [`super::csv_stream::set_cell`] does.
    #[inline]
    pub fn set<P: ProblemSink>(
        self,
        builder: &mut Builder<'_, 'a, Known, P>,
        value: Cow<'a, str>,
        plain: bool,
        at: impl FnOnce() -> Position,
    ) {
        match self {
            Plan::Skip => {}
            Plan::Ruleless(index) => builder.set_ruleless(index, plain, value),
            Plan::List(name, kind, n, slot) => {
                builder.csv_plain(plain);
                builder.push_value(name, kind, (n, Some(slot)), value, at());
            }
            Plan::ChannelType => {
                builder.csv_plain(plain);
                builder.set_channel_type_text(&value, at());
            }
            Plan::Address => {
                builder.csv_plain(plain);
                builder.set_address_text(value, at());
            }
            Plan::OptOut => {
                builder.csv_plain(plain);
                builder.set_opt_out_text(&value, at());
            }
            Plan::EffectiveDate => {
                builder.csv_plain(plain);
                builder.set_effective_date_text(value, at());
            }
            Plan::Number(name) => {
                builder.csv_plain(plain);
                builder.set_number_text(name, &value, at());
            }
            Plan::Rules(name) => {
                builder.csv_plain(plain);
                builder.set_text(name, value, at());
            }
        }
    }
}
