//! The checks across the whole import, in bounded state: 15 endpoints per
//! `User.UserId` (a count per user, the one map that grows with the data,
//! its keys borrowed from it) and 250 distinct custom attribute names (a set
//! that stops growing at 251).

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use crate::error::{ProblemKind, quote};

use super::draft::Draft;
use super::model::Field;
use super::problems::{Phase, Problems};
use super::rules::{MAX_CUSTOM_ATTRIBUTE_NAMES, MAX_ENDPOINTS_PER_USER, Origin};

/// The state of the checks across the import.
#[derive(Debug, Default)]
pub(crate) struct ImportChecks<'a> {
    /// Endpoints per user.
    users: HashMap<Cow<'a, str>, u32>,
    /// Users over the limit, with their first endpoint over it.
    over: Vec<(Cow<'a, str>, Origin)>,
    /// Distinct custom names, per kind (attributes, metrics, user attributes).
    names: [HashSet<Cow<'a, str>>; 3],
    /// The names check has reported (it reports once).
    names_done: bool,
}

impl<'a> ImportChecks<'a> {
    /// Counts one endpoint; reports the custom name that goes over 250.
    pub fn endpoint(&mut self, draft: &Draft<'a>, origin: Origin, problems: &mut Problems) {
        if let Some(user) = &draft.user_id {
            let n = match self.users.get_mut(user.as_ref()) {
                Some(n) => {
                    *n = n.saturating_add(1);
                    *n
                }
                None => {
                    self.users.insert(user.clone(), 1);
                    1
                }
            };
            if n as usize == MAX_ENDPOINTS_PER_USER + 1 {
                self.over.push((user.clone(), origin));
            }
        }
        if !self.names_done {
            self.count_names(draft, origin, problems);
        }
    }

    fn count_names(&mut self, draft: &Draft<'a>, origin: Origin, problems: &mut Problems) {
        for (kind, name) in draft.custom_names() {
            let Some(set) = self.names.get_mut(usize::from(kind)) else {
                continue;
            };
            if set.contains(name.as_ref()) {
                continue;
            }
            set.insert(name.clone());
            let distinct: usize = self.names.iter().map(HashSet::len).sum();
            if distinct <= MAX_CUSTOM_ATTRIBUTE_NAMES {
                continue;
            }
            let field = match kind {
                0 => Field::Attribute(name.as_ref().to_owned()),
                1 => Field::Metric(name.as_ref().to_owned()),
                _ => Field::UserAttribute(name.as_ref().to_owned()),
            };
            let dot = field.dot_name();
            problems.push_in(
                Phase::Names,
                ProblemKind::MalformedData,
                Some(origin.record),
                origin.at,
                || Some(dot.clone()),
                || {
                    format!(
                        "this import uses more than {MAX_CUSTOM_ATTRIBUTE_NAMES} distinct custom attribute names (Attributes, Metrics and User.UserAttributes together); Pinpoint allows {MAX_CUSTOM_ATTRIBUTE_NAMES} per project; `{}` is the first one over",
                        quote(&dot)
                    )
                },
            );
            self.names_done = true;
            self.names = Default::default();
            return;
        }
    }

    /// Reports every user over the limit, with their count.
    pub fn finish(self, problems: &mut Problems) {
        for (user, origin) in &self.over {
            let total = self.users.get(user.as_ref()).copied().unwrap_or(0);
            problems.push_in(
                Phase::Users,
                ProblemKind::MalformedData,
                Some(origin.record),
                origin.at,
                || Some(Field::UserId.dot_name()),
                || {
                    format!(
                        "User.UserId `{}` has {total} endpoints in this import; Pinpoint allows at most {MAX_ENDPOINTS_PER_USER} per user (this is the first one over the limit)",
                        quote(user)
                    )
                },
            );
        }
    }
}
