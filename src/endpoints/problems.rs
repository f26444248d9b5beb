//! The problems of one pass, in bounded memory: the first
//! [`MAX_REPORTED_PROBLEMS`] in report order, the first of each kind (the
//! error's message quotes the first of the leading kind, wherever it is), and
//! how many there were in all.
//!
//! Report order is position order (line, then column; file-level problems,
//! which have neither, first), and among equal positions the order in which
//! the whole-file reader found them: the problems of the readers in reading
//! order, then those across the import ([`Phase`]). Each problem gets its key
//! when it is found; only the smallest keys are kept (a max-heap of 100), so
//! a file with a million bad rows costs 100 problems of memory. A problem
//! that will not be kept is counted without building its message.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use crate::error::{MAX_REPORTED_PROBLEMS, NodeError, Problem, ProblemKind};

use super::rules::{Position, problem_at};

/// Which checks found a problem, for the order of problems at one position:
/// the whole-file reader reported the readers' problems, then those of
/// `User.UserId`, then the one of the custom attribute names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Phase {
    /// Found while reading one endpoint.
    Reading = 0,
    /// Too many endpoints for one `User.UserId`.
    Users = 1,
    /// Too many custom attribute names.
    Names = 2,
}

/// A problem's place in the report: position, phase, then when it was found.
type Key = (u64, u64, Phase, u64);

#[derive(Debug)]
struct Ranked {
    key: Key,
    problem: Problem,
}

impl PartialEq for Ranked {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}

impl Eq for Ranked {}

impl PartialOrd for Ranked {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Ranked {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key.cmp(&other.key)
    }
}

const KINDS: usize = 4;

fn kind_index(kind: ProblemKind) -> usize {
    match kind {
        ProblemKind::MalformedData => 0,
        ProblemKind::MissingRequiredFields => 1,
        ProblemKind::InvalidChannelType => 2,
        ProblemKind::ImportSizeExceeded => 3,
    }
}

/// Where a reader puts the problems it finds: [`Problems`] in the streaming
/// pass; a plain list of every problem in the whole-file reader (the oracle).
pub(crate) trait ProblemSink {
    /// Records a problem; its field and message are built only if it is kept.
    fn push(
        &mut self,
        kind: ProblemKind,
        record: Option<u64>,
        at: Position,
        field: impl FnOnce() -> Option<String>,
        message: impl FnOnce() -> String,
    );
}

impl ProblemSink for Problems {
    fn push(
        &mut self,
        kind: ProblemKind,
        record: Option<u64>,
        at: Position,
        field: impl FnOnce() -> Option<String>,
        message: impl FnOnce() -> String,
    ) {
        self.push_in(Phase::Reading, kind, record, at, field, message);
    }
}

/// Every problem, in the order found (the oracle sorts them at the end).
#[cfg(any(test, feature = "oracle"))]
impl ProblemSink for Vec<Problem> {
    fn push(
        &mut self,
        kind: ProblemKind,
        record: Option<u64>,
        at: Position,
        field: impl FnOnce() -> Option<String>,
        message: impl FnOnce() -> String,
    ) {
        Vec::push(self, problem_at(kind, record, at, field(), message()));
    }
}

/// The problems of one pass (see the module documentation).
#[derive(Debug)]
pub(crate) struct Problems {
    /// False in a pass over data already found valid: problems are only counted.
    keep: bool,
    kept: BinaryHeap<Ranked>,
    first: [Option<Ranked>; KINDS],
    total: u64,
    found: u64,
}

/// The problems at the end of a pass, in report order.
#[derive(Debug)]
pub(crate) struct Report {
    /// The first [`MAX_REPORTED_PROBLEMS`], in order.
    pub problems: Vec<Problem>,
    /// How many in all.
    pub total: u64,
    /// The first problem of each kind, by [`kind_index`], with whether it is
    /// also in `problems` (at that index).
    first: [Option<(Problem, Option<usize>)>; KINDS],
}

impl Problems {
    /// Problems kept for the report.
    pub fn new() -> Self {
        Problems {
            keep: true,
            kept: BinaryHeap::new(),
            first: Default::default(),
            total: 0,
            found: 0,
        }
    }

    /// Problems only counted: for a pass over data already checked.
    pub fn counted() -> Self {
        Problems {
            keep: false,
            ..Problems::new()
        }
    }

    /// How many problems so far.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// [`ProblemSink::push`] for a problem found by the checks of `phase`.
    pub fn push_in(
        &mut self,
        phase: Phase,
        kind: ProblemKind,
        record: Option<u64>,
        at: Position,
        field: impl FnOnce() -> Option<String>,
        message: impl FnOnce() -> String,
    ) {
        self.total += 1;
        let key = (
            at.line.unwrap_or(0),
            at.column.unwrap_or(0),
            phase,
            self.found,
        );
        self.found += 1;
        if !self.keep {
            return;
        }
        let in_list = self.kept.len() < MAX_REPORTED_PROBLEMS
            || self.kept.peek().is_some_and(|max| key < max.key);
        let slot = kind_index(kind);
        let first_of_kind = self
            .first
            .get(slot)
            .is_some_and(|f| f.as_ref().is_none_or(|f| key < f.key));
        if !in_list && !first_of_kind {
            return;
        }
        let problem = problem_at(kind, record, at, field(), message());
        if first_of_kind && let Some(f) = self.first.get_mut(slot) {
            *f = Some(Ranked {
                key,
                problem: problem.clone(),
            });
        }
        if in_list {
            self.kept.push(Ranked { key, problem });
            if self.kept.len() > MAX_REPORTED_PROBLEMS {
                self.kept.pop();
            }
        }
    }

    /// The report, with `last` (the size of the whole import, which the
    /// whole-file reader reported after all the others) at the end.
    pub fn into_report(self, last: Option<Problem>) -> Report {
        let mut total = self.total;
        let kept: Vec<Ranked> = self.kept.into_sorted_vec();
        let mut first: [Option<(Problem, Option<usize>)>; KINDS] = Default::default();
        for (slot, f) in self.first.into_iter().enumerate() {
            if let (Some(f), Some(out)) = (f, first.get_mut(slot)) {
                let index = kept.iter().position(|k| k.key == f.key);
                *out = Some((f.problem, index));
            }
        }
        let mut problems: Vec<Problem> = kept.into_iter().map(|r| r.problem).collect();
        if let Some(last) = last {
            total += 1;
            let slot = kind_index(last.kind);
            let index = (problems.len() < MAX_REPORTED_PROBLEMS).then_some(problems.len());
            if let Some(out) = first.get_mut(slot)
                && out.is_none()
            {
                *out = Some((last.clone(), index));
            }
            if index.is_some() {
                problems.push(last);
            }
        }
        Report {
            problems,
            total,
            first,
        }
    }
}

impl Report {
    /// The data error, or `None` when there were no problems: the same error
    /// [`NodeError::from_problems`] makes of the whole list.
    pub fn into_error(self) -> Option<NodeError> {
        let lead = self
            .first
            .iter()
            .flatten()
            .map(|(p, _)| p.kind)
            .min_by_key(|k| k.precedence())?;
        let (first, index) = self
            .first
            .into_iter()
            .flatten()
            .find(|(p, _)| p.kind == lead)?;
        // The list's copy, if it is there: its column may have been made a
        // character column since.
        let first = index
            .and_then(|i| self.problems.get(i).cloned())
            .unwrap_or(first);
        Some(NodeError::from_reported_problems(
            self.problems,
            self.total,
            &first,
        ))
    }
}
