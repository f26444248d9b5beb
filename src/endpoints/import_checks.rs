//! The checks across the whole import, in bounded state: 15 endpoints per
//! `User.UserId` (a count per user, the one map that grows with the data,
//! its keys borrowed from it) and 250 distinct custom attribute names (a set
//! that stops growing at 251).

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::hash::BuildHasher;

use foldhash::SharedSeed;
use foldhash::quality::SeedableRandomState;

use crate::error::{ProblemKind, quote};

use super::draft::Draft;
use super::model::Field;
use super::problems::{Phase, Problems};
use super::rules::{MAX_CUSTOM_ATTRIBUTE_NAMES, MAX_ENDPOINTS_PER_USER, Origin};

/// A fast hash of keys from the data, seeded from std's random keys (so a
/// file cannot be made of colliding ids without knowing the seed).
fn random_state() -> SeedableRandomState {
    let seed = std::hash::RandomState::new().hash_one(0x5eed_u64);
    SeedableRandomState::with_seed(seed, SharedSeed::global_random())
}

/// The problem of a `User.UserId` with `total` endpoints, more than 15.
pub(crate) fn user_over_limit_message(user: &str, total: u64) -> String {
    format!(
        "User.UserId `{}` has {total} endpoints in this import; Pinpoint allows at most {MAX_ENDPOINTS_PER_USER} per user (this is the first one over the limit)",
        quote(user)
    )
}

/// The problem of the custom attribute name `dot` (in dot notation), the
/// first over 250 in the import.
pub(crate) fn names_over_limit_message(dot: &str) -> String {
    format!(
        "this import uses more than {MAX_CUSTOM_ATTRIBUTE_NAMES} distinct custom attribute names (Attributes, Metrics and User.UserAttributes together); Pinpoint allows {MAX_CUSTOM_ATTRIBUTE_NAMES} per project; `{}` is the first one over",
        quote(dot)
    )
}

/// The state of the checks across the import.
#[derive(Debug)]
pub(crate) struct ImportChecks<'a> {
    /// Each user's index in `counts`.
    users: HashMap<Cow<'a, str>, usize, SeedableRandomState>,
    /// Endpoints per user, by the index in `users`.
    counts: Vec<u32>,
    /// The last user looked up (borrowed from the data) and their index, so
    /// that a run of endpoints of one user is counted without hashing.
    last: Option<(&'a str, usize)>,
    /// Users over the limit, with their first endpoint over it.
    over: Vec<(Cow<'a, str>, Origin)>,
    /// Distinct custom names, per kind (attributes, metrics, user attributes).
    names: [HashSet<Cow<'a, str>, SeedableRandomState>; 3],
    /// The names check has reported (it reports once).
    names_done: bool,
    /// With the CSV reader, whose drafts keep the header's names in place:
    /// per kind, the names (by index in the draft's list) already counted,
    /// and how many are not yet.
    counted: Option<([Vec<bool>; 3], usize)>,
}

impl Default for ImportChecks<'_> {
    fn default() -> Self {
        let names = || HashSet::with_hasher(random_state());
        ImportChecks {
            users: HashMap::with_hasher(random_state()),
            counts: Vec::new(),
            last: None,
            over: Vec::new(),
            names: [names(), names(), names()],
            names_done: false,
            counted: None,
        }
    }
}

impl<'a> ImportChecks<'a> {
    /// Every draft will have the custom names of `template` at the same
    /// places (the CSV reader): a name is then looked up once, not per row.
    pub fn fixed_names(&mut self, template: &Draft<'a>) {
        let lists = [
            vec![false; template.attributes.len()],
            vec![false; template.metrics.len()],
            vec![false; template.user_attributes.len()],
        ];
        let names = lists.iter().map(Vec::len).sum();
        self.counted = Some((lists, names));
    }

    /// Counts one endpoint; reports the custom name that goes over 250.
    pub fn endpoint(&mut self, draft: &Draft<'a>, origin: Origin, problems: &mut Problems) {
        if let Some(user) = &draft.user_id
            && let Some(n) = self.user_count(user)
        {
            *n = n.saturating_add(1);
            let n = *n;
            if n as usize == MAX_ENDPOINTS_PER_USER + 1 {
                self.over.push((user.clone(), origin));
            }
        }
        let all_counted = matches!(self.counted, Some((_, 0)));
        if !self.names_done && !all_counted {
            self.count_names(draft, origin, problems);
        }
    }

    /// The count of endpoints of `user` so far, added (zero) if new.
    #[expect(
        clippy::ptr_arg,
        reason = "a new user's id is kept as the Cow it is, borrowed or owned"
    )]
    fn user_count(&mut self, user: &Cow<'a, str>) -> Option<&mut u32> {
        let index = match (self.last, user) {
            (Some((last, i)), _) if last == user.as_ref() => i,
            _ => {
                let next = self.counts.len();
                let i = match user {
                    // One lookup (an owned id would be copied for every endpoint).
                    Cow::Borrowed(id) => {
                        let i = *self.users.entry(user.clone()).or_insert(next);
                        self.last = Some((*id, i));
                        i
                    }
                    Cow::Owned(id) => match self.users.get(id.as_str()) {
                        Some(i) => *i,
                        None => *self.users.entry(user.clone()).or_insert(next),
                    },
                };
                if i == next {
                    self.counts.push(0);
                }
                i
            }
        };
        self.counts.get_mut(index)
    }

    fn count_names(&mut self, draft: &Draft<'a>, origin: Origin, problems: &mut Problems) {
        for (kind, index, name) in draft.custom_names() {
            if let Some((counted, left)) = &mut self.counted
                && let Some(done) = counted
                    .get_mut(usize::from(kind))
                    .and_then(|c| c.get_mut(index))
            {
                if *done {
                    continue;
                }
                *done = true;
                *left = left.saturating_sub(1);
            }
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
                || names_over_limit_message(&dot),
            );
            self.names_done = true;
            self.names.iter_mut().for_each(HashSet::clear);
            return;
        }
    }

    /// Reports every user over the limit, with their count.
    pub fn finish(self, problems: &mut Problems) {
        for (user, origin) in &self.over {
            let total = self
                .users
                .get(user.as_ref())
                .and_then(|i| self.counts.get(*i))
                .copied()
                .unwrap_or(0);
            problems.push_in(
                Phase::Users,
                ProblemKind::MalformedData,
                Some(origin.record),
                origin.at,
                || Some(Field::UserId.dot_name()),
                || user_over_limit_message(user, u64::from(total)),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_are_counted_in_runs_and_out_of_them_as_by_a_map() {
        let ids = ["a", "a", "b", "a", "b", "b", "b", "c", "a", "c", "c"];
        let owned = [
            false, true, false, false, true, false, true, true, false, false, true,
        ];
        let mut checks = ImportChecks::default();
        let mut naive: HashMap<&str, u32> = HashMap::new();
        for (id, owned) in ids.iter().zip(owned) {
            let user: Cow<'_, str> = if owned {
                Cow::Owned((*id).to_owned())
            } else {
                Cow::Borrowed(id)
            };
            let n = checks.user_count(&user).unwrap();
            *n += 1;
            let want = naive.entry(id).or_insert(0);
            *want += 1;
            assert_eq!(*n, *want, "{id}");
        }
        for (id, want) in naive {
            let i = checks.users.get(id).copied().unwrap();
            assert_eq!(checks.counts.get(i).copied(), Some(want), "{id}");
        }
    }
}
