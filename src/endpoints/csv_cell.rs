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

/// The bytes the CSV writer writes for `cell`.
pub(crate) fn cell_len(cell: &str) -> u64 {
    let bytes = cell.as_bytes();
    let len = bytes.len() as u64;
    // Only a value starting with a space or tab can be blank.
    let maybe_blank = matches!(bytes.first(), Some(b' ' | b'\t'));
    if !maybe_blank && !has_special(bytes) {
        return len;
    }
    if needs_quotes(cell) {
        len + 2 + bytes.iter().filter(|b| **b == b'"').count() as u64
    } else {
        len
    }
}

pub(crate) fn write_cell(out: &mut Vec<u8>, cell: &str) {
    if needs_quotes(cell) {
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
}
