//! The checks both fuzz targets run: `prepare` must never panic, must agree
//! with the whole-file reader it replaced, and what it returns must hold
//! together.
//!
//! Every input is prepared with the address check on and off, and one in four
//! also with a limit of half its size; each time the streaming pass
//! (`prepare`, `read`) must give exactly what the oracle gives
//! (`endpoints::oracle`): the same verdict, the same error (kind, message,
//! the first 100 problems with their positions, the total, the size
//! details), the same staged bytes and counts. The invariants:
//! - an error lists at least one problem (at most 100, `total_problems` at
//!   least that many) and has a data error type; a size error names the limit
//!   and the actual size;
//! - switching the address check off never turns success into failure, and
//!   does not change the body;
//! - on success the body is UTF-8 with one line per endpoint (plus the header
//!   for CSV), each NDJSON line a JSON object, and preparing the body again
//!   gives the same body, endpoint count and channel counts;
//! - the size limit is exact: the body's own size passes, one byte less fails
//!   with `ImportSizeExceeded`;
//! - the check that writes beside it (a run's) gives the same verdict and,
//!   when it says it wrote the staged file, its bytes; the write pass after
//!   it (which copies the rows that check found verbatim) gives them too.

use pinpoint_segment_import::endpoints::{Limits, Prepared, check_writing, oracle, prepare, read};
use pinpoint_segment_import::error::{ErrorKind, MAX_REPORTED_PROBLEMS, NodeError};
use pinpoint_segment_import::input::Format;

/// Runs `data` (as text: lossily decoded when it is not UTF-8) through
/// [`prepare`] with several limits and checks the invariants; panics on a
/// violation.
pub fn check(format: Format, data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let strict = Limits::default();
    let lenient = Limits {
        check_address_format: false,
        ..Limits::default()
    };
    let first = differential(format, &text, &strict);
    let second = differential(format, &text, &lenient);
    match (&first, &second) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "the address check changed the result"),
        (Ok(_), Err(e)) => panic!("valid with the address check, invalid without: {e:?}"),
        (Err(e), _) => check_error(e, &strict),
    }
    match second {
        Ok(p) => {
            check_prepared(&p, format, &lenient);
            check_exact_limit(&p, format, &text);
        }
        Err(e) => check_error(&e, &lenient),
    }
    // Sometimes a small limit, whatever the data.
    if !data.len().is_multiple_of(4) {
        return;
    }
    let small = Limits {
        max_import_bytes: (data.len() / 2) as u64,
        check_address_format: data.len().is_multiple_of(8),
    };
    match differential(format, &text, &small) {
        Ok(p) => check_prepared(&p, format, &small),
        Err(e) => check_error(&e, &small),
    }
}

/// `prepare` of `text`, after checking that it and `read` give what the
/// whole-file reader gives.
fn differential(format: Format, text: &str, limits: &Limits) -> Result<Prepared, NodeError> {
    let streamed = prepare(format, text, limits);
    assert_eq!(
        streamed,
        oracle::prepare(format, text, limits),
        "the streaming pass and the whole-file reader differ: {text:?}"
    );
    assert_eq!(
        read(format, text, limits),
        oracle::read(format, text, limits),
        "read and the whole-file reader differ: {text:?}"
    );
    // The check that writes the staged file beside it (a run's): the same
    // verdict, and when it says it wrote the staged file, its bytes.
    let mut written = Vec::new();
    let writing = check_writing(format, text, limits, &mut |_| {}, &mut |c| {
        written.extend_from_slice(c)
    });
    match (&writing, &streamed) {
        (Ok((checked, complete)), Ok(p)) => {
            assert_eq!(checked.staged_bytes, p.body.len() as u64, "{text:?}");
            if *complete {
                assert_eq!(written, p.body, "written beside the check: {text:?}");
            }
            // The write pass after it copies the rows the check found
            // verbatim: the same bytes.
            let mut again = Vec::new();
            let copied: Result<(), std::convert::Infallible> = checked.write_staged(&mut |c| {
                again.extend_from_slice(c);
                Ok(())
            });
            let Ok(()) = copied;
            assert_eq!(again, p.body, "written with verbatim rows: {text:?}");
        }
        (Err(a), Err(b)) => assert_eq!(a, b, "check_writing's error: {text:?}"),
        _ => panic!("check_writing and prepare differ in verdict: {text:?}"),
    }
    streamed
}

fn check_error(e: &NodeError, limits: &Limits) {
    let d = &e.details;
    assert!(!d.problems.is_empty(), "an error without problems: {e:?}");
    assert!(d.problems.len() <= MAX_REPORTED_PROBLEMS);
    assert!(d.total_problems >= d.problems.len() as u64, "{e:?}");
    assert!(
        matches!(
            e.kind,
            ErrorKind::MalformedData
                | ErrorKind::MissingRequiredFields
                | ErrorKind::InvalidChannelType
                | ErrorKind::ImportSizeExceeded
        ),
        "not a data error: {e:?}"
    );
    // The whole import too big (an endpoint over 15 KB is the same error
    // type, without these details).
    if let Some(limit) = d.limit_bytes {
        assert_eq!(e.kind, ErrorKind::ImportSizeExceeded, "{e:?}");
        assert_eq!(limit, limits.max_import_bytes, "{e:?}");
        let actual = d.actual_bytes.expect("a size error names the actual size");
        assert!(actual > limit, "{e:?}");
    }
}

fn check_prepared(p: &Prepared, format: Format, limits: &Limits) {
    let body = std::str::from_utf8(&p.body).expect("the body is UTF-8");
    assert!(p.body.len() as u64 <= limits.max_import_bytes);
    let lines = body.matches('\n').count() as u64;
    assert!(body.is_empty() || body.ends_with('\n'), "{body:?}");
    assert!(!body.contains('\r'), "{body:?}");
    match format {
        Format::Csv => assert_eq!(lines, p.endpoint_count + 1, "{body:?}"),
        Format::Json => {
            assert_eq!(lines, p.endpoint_count, "{body:?}");
            for line in body.lines() {
                let v: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
                assert!(v.is_object(), "{line:?}");
            }
        }
    }
    let counted: u64 = p.channel_counts.values().sum();
    assert!(counted <= p.endpoint_count);
    match prepare(format, body, limits) {
        Ok(again) => {
            assert_eq!(again.endpoint_count, p.endpoint_count, "{body:?}");
            assert_eq!(again.channel_counts, p.channel_counts, "{body:?}");
            assert_eq!(
                String::from_utf8_lossy(&again.body),
                body,
                "preparing the body again changed it"
            );
        }
        Err(e) => panic!("the body does not prepare again: {e:?}\nbody: {body:?}"),
    }
}

fn check_exact_limit(p: &Prepared, format: Format, text: &str) {
    let size = p.body.len() as u64;
    let exact = Limits {
        max_import_bytes: size,
        check_address_format: false,
    };
    assert!(
        prepare(format, text, &exact).is_ok(),
        "the exact size fails"
    );
    if size > 0 {
        let under = Limits {
            max_import_bytes: size - 1,
            ..exact
        };
        match prepare(format, text, &under) {
            Ok(_) => panic!("one byte over the limit passes"),
            Err(e) => {
                assert_eq!(e.kind, ErrorKind::ImportSizeExceeded, "{e:?}");
                assert_eq!(e.details.limit_bytes, Some(size - 1), "{e:?}");
                assert_eq!(e.details.actual_bytes, Some(size), "{e:?}");
                check_error(&e, &under);
            }
        }
    }
}
