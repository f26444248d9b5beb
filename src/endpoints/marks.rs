//! Where the bytes that matter to the CSV reader are, 64 bytes at a time:
//! one bit per byte, so the end of every value in a block is found with a
//! count of trailing zeros instead of a look at each byte.
//!
//! The marks are computed 16 bytes per comparison with wasm SIMD
//! (`simd128`) when the component is built with it, and with SSE2 on x86-64
//! (always there); elsewhere eight bytes at a time in a `u64`. All give the
//! same bits: the tests check the native and the portable ones against a
//! byte-by-byte reading (the component's own run the differential tests'
//! data in the host's tests).

/// The bytes of one block.
pub(crate) const BLOCK: usize = 64;

/// The marks of one block of [`BLOCK`] bytes: bit `i` for its byte `i`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Marks {
    /// Bytes that end or break a value, quoted or not: below 0x20 (controls,
    /// TAB, CR, LF), `"`, DEL, and 0xC2 (the lead byte of a C1 control).
    pub special: u64,
    /// Commas (they end an unquoted value only).
    pub comma: u64,
}

/// True for a byte [`Marks::special`] marks.
#[cfg(test)]
fn is_special(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == 0x7f || b == 0xc2
}

/// The marks of `block`.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[inline]
pub(crate) fn marks(block: &[u8; BLOCK]) -> Marks {
    use core::arch::wasm32::{i64x2, u8x16_bitmask, u8x16_eq, u8x16_lt, u8x16_splat, v128_or};
    let mut m = Marks::default();
    for (k, chunk) in block.chunks_exact(16).enumerate() {
        let word = |at: usize| {
            let mut le = [0u8; 8];
            le.copy_from_slice(chunk.get(at..at + 8).unwrap_or(&[0; 8]));
            i64::from_le_bytes(le)
        };
        let v = i64x2(word(0), word(8));
        let special = v128_or(
            v128_or(
                u8x16_lt(v, u8x16_splat(0x20)),
                u8x16_eq(v, u8x16_splat(b'"')),
            ),
            v128_or(
                u8x16_eq(v, u8x16_splat(0x7f)),
                u8x16_eq(v, u8x16_splat(0xc2)),
            ),
        );
        let comma = u8x16_eq(v, u8x16_splat(b','));
        m.special |= u64::from(u8x16_bitmask(special)) << (16 * k);
        m.comma |= u64::from(u8x16_bitmask(comma)) << (16 * k);
    }
    m
}

/// The marks of `block`, with SSE2.
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[inline]
#[allow(unsafe_code)]
pub(crate) fn marks(block: &[u8; BLOCK]) -> Marks {
    // SAFETY: the one requirement of a `#[target_feature]` function is that
    // the CPU has the feature; SSE2 is enabled for this whole build (the
    // `cfg` above: every x86-64 CPU has it). No pointer is involved.
    unsafe { sse2_marks(block) }
}

/// [`marks`] with SSE2's safe, pointer-free intrinsics.
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[target_feature(enable = "sse2")]
fn sse2_marks(block: &[u8; BLOCK]) -> Marks {
    use core::arch::x86_64::{
        _mm_cmpeq_epi8, _mm_min_epu8, _mm_movemask_epi8, _mm_or_si128, _mm_set_epi64x,
        _mm_set1_epi8,
    };
    let mut m = Marks::default();
    for (k, chunk) in block.chunks_exact(16).enumerate() {
        let word = |at: usize| {
            let mut le = [0u8; 8];
            le.copy_from_slice(chunk.get(at..at + 8).unwrap_or(&[0; 8]));
            i64::from_le_bytes(le)
        };
        let v = _mm_set_epi64x(word(8), word(0));
        let byte = |b: u8| _mm_set1_epi8(b as i8);
        // Unsigned `v < 0x20`: min(v, 0x1f) == v.
        let below = _mm_cmpeq_epi8(_mm_min_epu8(v, byte(0x1f)), v);
        let special = _mm_or_si128(
            _mm_or_si128(below, _mm_cmpeq_epi8(v, byte(b'"'))),
            _mm_or_si128(_mm_cmpeq_epi8(v, byte(0x7f)), _mm_cmpeq_epi8(v, byte(0xc2))),
        );
        let comma = _mm_cmpeq_epi8(v, byte(b','));
        // The masks have 16 bits: the casts keep them.
        m.special |= u64::from(_mm_movemask_epi8(special) as u16) << (16 * k);
        m.comma |= u64::from(_mm_movemask_epi8(comma) as u16) << (16 * k);
    }
    m
}

/// The marks of `block` where neither SIMD above is there.
#[cfg(not(any(
    all(target_arch = "wasm32", target_feature = "simd128"),
    all(target_arch = "x86_64", target_feature = "sse2")
)))]
#[inline]
pub(crate) fn marks(block: &[u8; BLOCK]) -> Marks {
    portable_marks(block)
}

/// The marks of `block`, eight bytes at a time (see [`word_marks`]).
#[cfg_attr(
    any(
        all(target_arch = "wasm32", target_feature = "simd128"),
        all(target_arch = "x86_64", target_feature = "sse2")
    ),
    allow(dead_code)
)]
#[inline]
fn portable_marks(block: &[u8; BLOCK]) -> Marks {
    let mut m = Marks::default();
    for (k, chunk) in block.chunks_exact(8).enumerate() {
        let mut le = [0u8; 8];
        le.copy_from_slice(chunk);
        let (special, comma) = word_marks(u64::from_le_bytes(le));
        m.special |= special << (8 * k);
        m.comma |= comma << (8 * k);
    }
    m
}

/// The special and comma marks of the eight bytes of `w` (little-endian),
/// as the low eight bits of each: exact per byte, no carry crosses a byte.
#[inline]
fn word_marks(w: u64) -> (u64, u64) {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const LOWS: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let low = w & LOWS;
    // The high bit of each byte that is zero in `x`.
    let zero = |x: u64| !(((x & LOWS) + LOWS) | x) & HIGHS;
    let equal = |b: u8| zero(w ^ (ONES * u64::from(b)));
    // A byte below 0x20: high bit clear, and adding 0x60 to it stays below 0x80.
    let below = !((low + ONES * 0x60) | w) & HIGHS;
    let special = below | equal(b'"') | equal(0x7f) | equal(0xc2);
    (gather(special), gather(equal(b',')))
}

/// The high bits of the eight bytes of `x`, as eight bits (byte 0 lowest).
#[inline]
fn gather(x: u64) -> u64 {
    ((x >> 7).wrapping_mul(0x0102_0408_1020_4080)) >> 56
}

/// Finds the next special byte (or comma) of a text, a block of marks at a
/// time: the marks of the block it is in are kept until the search leaves it.
#[derive(Debug)]
pub(crate) struct Scanner {
    /// Where the block of `marks` starts (before the first block, a place
    /// that no text's index is within [`BLOCK`] bytes after).
    base: usize,
    marks: Marks,
}

impl Scanner {
    /// A scanner with no block read yet.
    pub fn new() -> Self {
        Scanner {
            base: usize::MAX - BLOCK,
            marks: Marks::default(),
        }
    }

    /// The index of the first byte of `bytes` from `from` that is special
    /// (or a comma, with `comma`), or the length of `bytes` when none is.
    #[inline]
    pub fn next(&mut self, bytes: &[u8], from: usize, comma: bool) -> usize {
        let mut from = from;
        loop {
            let offset = from.wrapping_sub(self.base);
            if offset < BLOCK {
                let mut found = self.marks.special;
                if comma {
                    found |= self.marks.comma;
                }
                let found = found >> offset;
                if found != 0 {
                    return from + found.trailing_zeros() as usize;
                }
                from = self.base + BLOCK;
            }
            if from >= bytes.len() {
                return bytes.len();
            }
            self.load(bytes, from);
        }
    }

    /// Reads the block of `bytes` that starts at `from` (padded past the end
    /// with bytes that are not marked).
    fn load(&mut self, bytes: &[u8], from: usize) {
        self.base = from;
        self.marks = match bytes.get(from..from + BLOCK) {
            Some(chunk) => {
                let mut block = [0u8; BLOCK];
                block.copy_from_slice(chunk);
                marks(&block)
            }
            None => {
                let mut block = [b'a'; BLOCK];
                let rest = bytes.get(from..).unwrap_or_default();
                if let Some(head) = block.get_mut(..rest.len()) {
                    head.copy_from_slice(rest);
                }
                marks(&block)
            }
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slow(block: &[u8; BLOCK]) -> Marks {
        let mut m = Marks::default();
        for (i, b) in block.iter().enumerate() {
            if is_special(*b) {
                m.special |= 1 << i;
            }
            if *b == b',' {
                m.comma |= 1 << i;
            }
        }
        m
    }

    #[test]
    fn every_byte_value_is_marked_as_one_at_a_time() {
        // Every byte value at every place, beside every other (carries and
        // borrows must not cross bytes).
        for b in 0..=255u8 {
            for fill in [0u8, 0x01, b'a', b',', b'"', 0x20, 0x7f, 0x80, 0xc2, 0xff] {
                let mut block = [fill; BLOCK];
                for at in [0, 1, 7, 8, 15, 16, 31, 33, 62, 63] {
                    block[at] = b;
                }
                assert_eq!(marks(&block), slow(&block), "{b:#x} in {fill:#x}");
                assert_eq!(portable_marks(&block), slow(&block), "{b:#x} in {fill:#x}");
            }
        }
    }

    #[test]
    fn the_scanner_finds_what_a_byte_by_byte_search_finds() {
        let mut text = Vec::new();
        for i in 0..700u32 {
            text.push(match i % 37 {
                0 => b',',
                5 => b'"',
                9 if i % 3 == 0 => b'\n',
                13 if i % 5 == 0 => 0xc2,
                14 if i % 5 == 0 => 0x85,
                20 if i % 7 == 0 => 0x7f,
                _ => b'a' + (i % 26) as u8,
            });
        }
        for len in [0, 1, 63, 64, 65, 130, text.len()] {
            let bytes = &text[..len];
            for comma in [true, false] {
                let mut scanner = Scanner::new();
                let mut from = 0;
                // Forwards, as the reader goes, and from fresh scanners.
                while from <= len {
                    let want = (from..len)
                        .find(|i| is_special(bytes[*i]) || (comma && bytes[*i] == b','))
                        .unwrap_or(len);
                    assert_eq!(scanner.next(bytes, from, comma), want, "{len} {from}");
                    assert_eq!(Scanner::new().next(bytes, from, comma), want);
                    from = want + 1;
                }
            }
        }
    }
}
