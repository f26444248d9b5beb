//! Looking at eight bytes at a time ("SIMD within a register"): the
//! readers' scans for the few bytes that matter in long runs of text.

/// `0x01` in every byte.
pub(crate) const ONES: u64 = 0x0101_0101_0101_0101;
/// `0x80` in every byte.
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

/// The high bit of each byte of `w` below `n` (at most 0x80); nonzero
/// exactly when there is one.
#[inline]
pub(crate) fn bytes_below(w: u64, n: u8) -> u64 {
    w.wrapping_sub(ONES * u64::from(n)) & !w & HIGHS
}

/// True when `marks` is nonzero for some eight bytes of `bytes`, in words
/// of eight (the last one overlapping the one before, or padded with `a`
/// when there are fewer than eight bytes): `marks` must mark none of the
/// bytes `a`.
#[inline]
pub(crate) fn any_marked(bytes: &[u8], marks: impl Fn(u64) -> u64) -> bool {
    let word = |chunk: &[u8]| <[u8; 8]>::try_from(chunk).map_or(0, u64::from_le_bytes);
    let mut chunks = bytes.chunks_exact(8);
    let mut found = 0;
    for chunk in &mut chunks {
        found |= marks(word(chunk));
    }
    let rest = chunks.remainder();
    if rest.is_empty() {
        return found != 0;
    }
    let last = match bytes.len().checked_sub(8) {
        Some(from) => word(bytes.get(from..).unwrap_or_default()),
        None => {
            let padded = u64::from_le_bytes([b'a'; 8]);
            rest.iter()
                .rev()
                .fold(padded, |w, b| (w << 8) | u64::from(*b))
        }
    };
    found | marks(last) != 0
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
    fn marked_words_are_found_at_any_place() {
        for len in 0..24 {
            for at in 0..len {
                let mut bytes = vec![b'x'; len];
                bytes[at] = b'\n';
                assert!(any_marked(&bytes, |w| bytes_below(w, 0x20)), "{len} {at}");
                assert!(any_marked(&bytes, |w| bytes_equal(w, b'\n')), "{len} {at}");
            }
            assert!(!any_marked(&vec![b'x'; len], |w| bytes_below(w, 0x20)));
        }
    }

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
