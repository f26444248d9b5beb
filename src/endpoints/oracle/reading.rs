//! What the whole-file readers found: every endpoint, where each came from,
//! and every problem.

use crate::endpoints::model::Endpoint;
use crate::endpoints::rules::Origin;
use crate::error::Problem;

/// What a reader found: endpoints, where each came from, and problems.
#[derive(Debug, Default)]
pub(crate) struct Reading {
    pub endpoints: Vec<Endpoint>,
    pub origins: Vec<Origin>,
    pub problems: Vec<Problem>,
}
