//! What the readers give each endpoint to, and how they report progress.

use super::builder::Finished;
use super::draft::Draft;
use super::problems::Problems;
use super::rules::Origin;
use super::verbatim::{CellId, Offered, RawRow};

/// Receives each endpoint of a pass, after its own checks.
pub(crate) trait Sink<'a> {
    /// The CSV header was read.
    fn header(&mut self, header: &HeaderLayout<'_, 'a>) {
        let _ = header;
    }

    /// Whether the sink takes plain CSV rows whole ([`Sink::plain_row`]);
    /// asked once, after the header.
    fn wants_plain_rows(&self) -> bool {
        false
    }

    /// A plain CSV row, record `record`, offered whole before it is built
    /// (see [`super::verbatim`]), when the sink [wants](Sink::wants_plain_rows)
    /// plain rows.
    fn plain_row(&mut self, record: u64, row: &RawRow<'_, 'a>) -> Offered {
        let _ = (record, row);
        Offered::Build
    }

    /// One endpoint, read and checked; false stops the pass.
    fn endpoint(
        &mut self,
        draft: &Draft<'a>,
        origin: Origin,
        finished: Finished,
        problems: &mut Problems,
    ) -> bool;
}

/// What a CSV header's columns hold, as the sinks of a pass are told.
pub(crate) struct HeaderLayout<'h, 'a> {
    /// Its custom names, unset, in the order every row's draft will have them.
    pub template: &'h Draft<'a>,
    /// What each of its columns holds (`None` for one already reported as
    /// wrong): the fixed fields it sets, and value `k` of a multi-valued
    /// attribute for its `k`th column of that name.
    pub cells: &'h [Option<CellId>],
}

/// Keeps every endpoint, owned ([`super::read`]).
#[cfg(any(test, feature = "oracle"))]
impl<'a> Sink<'a> for Vec<super::model::Endpoint> {
    fn endpoint(&mut self, draft: &Draft<'a>, _: Origin, _: Finished, _: &mut Problems) -> bool {
        self.push(draft.to_endpoint());
        true
    }
}

/// How often a pass reports progress, in bytes of input.
pub const PROGRESS_STEP: usize = 4 << 20;

/// Calls a progress callback every [`PROGRESS_STEP`] bytes of the text.
pub(crate) struct Ticker<'p> {
    /// Bytes before the text (a byte order mark), added to what is reported.
    offset: usize,
    next: usize,
    report: Option<&'p mut dyn FnMut(u64)>,
}

impl<'p> Ticker<'p> {
    /// Reports to `report`, counting `offset` bytes already done.
    pub fn new(offset: usize, report: &'p mut dyn FnMut(u64)) -> Self {
        Ticker {
            offset,
            next: PROGRESS_STEP,
            report: Some(report),
        }
    }

    /// Reports nothing.
    pub fn silent() -> Ticker<'static> {
        Ticker {
            offset: 0,
            next: usize::MAX,
            report: None,
        }
    }

    /// The pass is at byte `pos` of the text.
    #[inline]
    pub fn tick(&mut self, pos: usize) {
        if pos < self.next {
            return;
        }
        self.next = pos.saturating_add(PROGRESS_STEP);
        if let Some(report) = self.report.as_mut() {
            report(pos.saturating_add(self.offset) as u64);
        }
    }
}
