//! The checks across the import, the whole-file way: over all endpoints at
//! once, once they are read. The limits and messages are the streaming
//! pass's ([`crate::endpoints::import_checks`]).

use std::collections::{HashMap, HashSet};

use crate::endpoints::import_checks::{names_over_limit_message, user_over_limit_message};
use crate::endpoints::model::{Endpoint, Field};
use crate::endpoints::rules::{
    MAX_CUSTOM_ATTRIBUTE_NAMES, MAX_ENDPOINTS_PER_USER, Origin, problem_at,
};
use crate::error::{Problem, ProblemKind};

/// Runs the checks across the import over `endpoints` (`origins` is where
/// each came from, parallel to them).
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
        problems.push(problem_at(
            ProblemKind::MalformedData,
            Some(origin.record),
            origin.at,
            Some(Field::UserId.dot_name()),
            user_over_limit_message(user, total as u64),
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
            let msg = names_over_limit_message(&dot);
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
