//! One segment name, one segment: which of the segments of a name is the one
//! that stays when runs of that name race.
//!
//! Pinpoint allows any number of segments of one name and has no
//! conditional create, so "is the name free?" cannot be asked and acted on
//! in one step. The node decides *after* creating instead: once its import
//! job has ended, a run lists the segments of its name again, and the
//! **oldest** one stays: the smallest `CreationDate`, then the smallest
//! `Id` for segments made in the same instant. Every run that looks orders
//! the same list the same way, so they all name the same winner; the
//! others remove what they made and report `DuplicateSegmentName` naming
//! the winner, or, when the winner was made from the same data, return it
//! as their result (a re-run).
//!
//! A run looks after its job has ended, not at once, because by then every
//! segment created before its own is listed (a segment's creation is
//! visible to a later listing) and because its own job must end anyway
//! before its staged object may go.
//!
//! A `CreationDate` that does not parse orders before every date that does:
//! such a segment is treated as older than the run's own, so a run never
//! takes a name from a segment it cannot date.

use aws_smithy_types::DateTime;
use aws_smithy_types::date_time::Format;

use crate::aws::pinpoint::Segment;

/// The oldest of `segments` by `CreationDate`, then `Id`.
pub fn oldest(segments: &[Segment]) -> Option<&Segment> {
    segments.iter().min_by(|a, b| {
        creation_instant(a)
            .cmp(&creation_instant(b))
            .then_with(|| a.id.cmp(&b.id))
    })
}

/// `CreationDate` as nanoseconds since 1970 (`None` orders first: no date,
/// or one that does not parse).
fn creation_instant(segment: &Segment) -> Option<i128> {
    let text = segment.creation_date.as_deref()?;
    let t = DateTime::from_str(text, Format::DateTimeWithOffset).ok()?;
    Some(i128::from(t.secs()) * 1_000_000_000 + i128::from(t.subsec_nanos()))
}

/// What a run that made segment `own` is to do, once it has listed the
/// segments of its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// `own` is the oldest: it stays.
    Won,
    /// Another segment stays: this one.
    Lost(Segment),
    /// `own` is not listed and no other segment of the name is: someone
    /// removed it.
    Gone,
}

/// Decides for the run that made `own`, from every segment of its name.
///
/// A run whose own segment is not listed while others are has lost: only a
/// run that judged it a leftover of a lost race removes another run's
/// segment, and it does so only while an older segment stands.
pub fn decide(own: &str, named: &[Segment]) -> Decision {
    match oldest(named) {
        Some(winner) if winner.id == own => Decision::Won,
        Some(winner) => Decision::Lost(winner.clone()),
        None => Decision::Gone,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segment(id: &str, date: Option<&str>) -> Segment {
        Segment {
            id: id.into(),
            name: Some("N".into()),
            creation_date: date.map(str::to_owned),
            ..Default::default()
        }
    }

    #[test]
    fn the_oldest_wins_then_the_smallest_id() {
        let segments = [
            segment("b", Some("2026-11-28T12:00:00.002Z")),
            segment("c", Some("2026-11-28T12:00:00.001Z")),
            segment("a", Some("2026-11-28T12:00:00.002Z")),
        ];
        assert_eq!(oldest(&segments).unwrap().id, "c");
        // The same instant: the smaller id.
        assert_eq!(
            oldest(&[segments[0].clone(), segments[2].clone()])
                .unwrap()
                .id,
            "a"
        );
        // Whatever order the list comes in.
        let mut reversed = segments.to_vec();
        reversed.reverse();
        assert_eq!(oldest(&reversed).unwrap().id, "c");
        assert!(oldest(&[]).is_none());
    }

    #[test]
    fn dates_compare_as_instants_not_as_text() {
        // Fewer fractional digits, and an offset: both earlier than `a`.
        let segments = [
            segment("a", Some("2026-11-28T12:00:00.500Z")),
            segment("b", Some("2026-11-28T12:00:00.4Z")),
            segment("c", Some("2026-11-28T13:00:00.300+01:00")),
        ];
        assert_eq!(oldest(&segments).unwrap().id, "c");
    }

    #[test]
    fn a_segment_without_a_readable_date_is_taken_as_older() {
        let segments = [
            segment("a", Some("2026-11-28T12:00:00.000Z")),
            segment("z", Some("yesterday")),
        ];
        assert_eq!(oldest(&segments).unwrap().id, "z");
        assert_eq!(
            oldest(&[segments[0].clone(), segment("y", None)])
                .unwrap()
                .id,
            "y"
        );
    }

    #[test]
    fn decisions() {
        let older = segment("old", Some("2026-11-28T12:00:00.000Z"));
        let own = segment("own", Some("2026-11-28T12:00:00.001Z"));
        let younger = segment("young", Some("2026-11-28T12:00:00.002Z"));
        assert_eq!(
            decide("own", &[own.clone(), younger.clone()]),
            Decision::Won
        );
        assert_eq!(
            decide("own", &[younger.clone(), own.clone(), older.clone()]),
            Decision::Lost(older.clone())
        );
        // Not listed, others are: lost to the oldest of them.
        assert_eq!(
            decide("own", std::slice::from_ref(&younger)),
            Decision::Lost(younger)
        );
        assert_eq!(decide("own", &[]), Decision::Gone);
    }
}
