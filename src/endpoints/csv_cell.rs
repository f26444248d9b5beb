//! One cell of the staged CSV: when the CSV writer quotes it, how many bytes
//! it takes, and its bytes.

use super::swar::{bytes_equal, word_at};

/// True when the CSV writer quotes `cell`.
pub(crate) fn needs_quotes(cell: &str) -> bool {
    cell.bytes()
        .any(|b| matches!(b, b',' | b'"' | b'\r' | b'\n'))
        || (!cell.is_empty() && cell.bytes().all(|b| matches!(b, b' ' | b'\t')))
}

/// True when `cell` has a byte the CSV writer quotes for: `,` `"` CR LF.
fn has_special(cell: &[u8]) -> bool {
    let mut i = 0;
    while let Some(w) = word_at(cell, i) {
        let found = bytes_equal(w, b',')
            | bytes_equal(w, b'"')
            | bytes_equal(w, b'\r')
            | bytes_equal(w, b'\n');
        if found != 0 {
            return true;
        }
        i += 8;
    }
    cell.get(i..)
        .unwrap_or_default()
        .iter()
        .any(|b| matches!(b, b',' | b'"' | b'\r' | b'\n'))
}

/// True when the CSV writer quotes `cell`, looked at a word at a time: most
/// cells have no byte it quotes for and do not start with a space or tab.
#[inline]
pub(crate) fn quoted(cell: &str) -> bool {
    let bytes = cell.as_bytes();
    // Only a value starting with a space or tab can be blank.
    let maybe_blank = matches!(bytes.first(), Some(b' ' | b'\t'));
    (maybe_blank || has_special(bytes)) && needs_quotes(cell)
}

/// [`quoted`] for a cell known to have no `,` `"` CR or LF (an unquoted
/// value of a plain CSV row): only a blank one is quoted, with no scan of
/// the others.
#[inline]
pub(crate) fn quoted_without_special(cell: &str) -> bool {
    matches!(cell.as_bytes().first(), Some(b' ' | b'\t')) && needs_quotes(cell)
}

/// The bytes the CSV writer writes for `cell`.
pub(crate) fn cell_len(cell: &str) -> u64 {
    let len = cell.len() as u64;
    if quoted(cell) {
        len + 2 + cell.bytes().filter(|b| *b == b'"').count() as u64
    } else {
        len
    }
}

/// Writes `cell` as the CSV writer does: in double quotes (each quote
/// doubled) when [`needs_quotes`] says so, else as it is.
#[inline]
pub(crate) fn write_cell(out: &mut Vec<u8>, cell: &str) {
    if quoted(cell) {
        out.push(b'"');
        for part in cell.split_inclusive('"') {
            out.extend_from_slice(part.as_bytes());
            if part.ends_with('"') {
                out.push(b'"');
            }
        }
        out.push(b'"');
    } else {
        out.extend_from_slice(cell.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_quoted_as_the_whole_file_writer_quotes_them() {
        for cell in [
            "a",
            "b,c",
            "say \"hi\"",
            "",
            "  ",
            "\t",
            "x y",
            "\"",
            "a\nb",
        ] {
            let mut out = Vec::new();
            write_cell(&mut out, cell);
            let mut want = String::new();
            crate::endpoints::oracle::writer::write_cell(&mut want, cell);
            assert_eq!(String::from_utf8(out).unwrap(), want, "{cell:?}");
            assert_eq!(cell_len(cell), want.len() as u64, "{cell:?}");
        }
    }

    proptest::proptest! {
        /// So the writers write a number's text as it is.
        #[test]
        fn a_number_never_needs_quotes(
            x in proptest::num::f64::NORMAL | proptest::num::f64::SUBNORMAL | proptest::num::f64::ZERO,
        ) {
            let mut text = String::new();
            crate::endpoints::model::write_number(&mut text, x);
            proptest::prop_assert!(!needs_quotes(&text), "{}", text);
        }
    }
}
