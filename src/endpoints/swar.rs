//! Looking at eight bytes at a time ("SIMD within a register"): the
//! readers' scans for the few bytes that matter in long runs of text.

/// `0x01` in every byte.
pub(crate) const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// The high bit of each byte of `w` that is zero. Exact for the lowest such
/// byte (a higher one may be marked after it), so its index is the first.
#[inline]
pub(crate) fn zero_bytes(w: u64) -> u64 {
    w.wrapping_sub(ONES) & !w & HIGHS
}

/// The high bit of each byte of `w` equal to `byte` (exact for the lowest).
#[inline]
pub(crate) fn bytes_equal(w: u64, byte: u8) -> u64 {
    zero_bytes(w ^ (ONES * u64::from(byte)))
}

/// The eight bytes at `i`, if there are eight, as one word.
#[inline]
pub(crate) fn word_at(bytes: &[u8], i: usize) -> Option<u64> {
    let chunk = bytes.get(i..i.checked_add(8)?)?;
    let mut le = [0u8; 8];
    le.copy_from_slice(chunk);
    Some(u64::from_le_bytes(le))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_find_the_first_matching_byte() {
        let bytes = b"ab,d\x01\"g,";
        let w = word_at(bytes, 0).unwrap();
        let first = |found: u64| found.trailing_zeros() / 8;
        assert_eq!(first(bytes_equal(w, b',')), 2);
        assert_eq!(first(bytes_equal(w, b'"')), 5);
        assert_eq!(bytes_equal(w, b'z'), 0);
        assert_eq!(word_at(bytes, 1), None);
    }
}
