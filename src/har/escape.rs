//! JSON string escaping, as serde_json escapes: `"`, `\` and the control characters
//! (`\b \t \n \f \r` short, the others `\u00xx` in lowercase hex); every other byte is
//! copied as is. Most HAR bytes are body text, so the scan for the next byte to escape
//! is the hot loop of every HAR writer: thirty-two bytes at a time with AVX2 where the
//! CPU has it (detected at run time, for strings of a block or more), then sixteen at a
//! time with SSE2 (part of every x86_64 CPU), each block stored into the output before it
//! is looked at (a clean block is then kept whole, a block with a byte to escape is kept
//! up to that byte: no copy of its own for each clean run); eight at a time with word
//! arithmetic elsewhere and for the last few bytes, the clean run before each escape then
//! copied whole. AVX2 halved the loop's turns: the escape of body text was 29% of the
//! processor thread's instructions on the generated capture with SSE2 alone.
//!
//! What it does not do: decide whether bytes are text (`view::Text`) or write the quotes
//! around them (`json`).

/// Where the scan from a position stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stop {
    /// No byte to escape (nor, when asked, one that is not ASCII) up to the end.
    End,
    /// The first byte to escape.
    Escape(usize),
    /// The first byte that is not ASCII, before any to escape (only when asked).
    NotAscii(usize),
}

/// Escapes `bytes` (UTF-8 text) into `out`.
pub(super) fn escape_str(bytes: &[u8], out: &mut Vec<u8>) {
    // Without `ASCII_ONLY` nothing stops early.
    let _ = escape::<false, true>(bytes, out);
}

/// Escapes `bytes` into `out` while they are ASCII. `Err(at)`: `bytes[at]` is the first
/// byte that is not ASCII, and `out` holds the escape of `bytes[..at]` (all ASCII).
pub(super) fn escape_ascii(bytes: &[u8], out: &mut Vec<u8>) -> Result<(), usize> {
    escape::<true, true>(bytes, out)
}

/// `escape_str`, or with `ASCII_ONLY` `escape_ascii`; `WIDE`: with AVX2 where the CPU has
/// it (false only in tests, so that SSE2's blocks are checked on any CPU).
#[inline(always)]
fn escape<const ASCII_ONLY: bool, const WIDE: bool>(
    bytes: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), usize> {
    #[cfg(target_arch = "x86_64")]
    let mut start = {
        let wide = WIDE && bytes.len() >= avx2::BLOCK;
        let from = if wide && std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2 (detected just above).
            unsafe { avx2::escape_blocks::<ASCII_ONLY>(bytes, out)? }
        } else {
            0
        };
        sse2::escape_blocks::<ASCII_ONLY>(bytes, from, out)?
    };
    #[cfg(not(target_arch = "x86_64"))]
    let mut start = 0;
    loop {
        match scan::<ASCII_ONLY>(bytes, start) {
            Stop::Escape(at) => {
                out.extend_from_slice(&bytes[start..at]);
                push_escape(bytes[at], out);
                start = at + 1;
            }
            Stop::NotAscii(at) => {
                out.extend_from_slice(&bytes[start..at]);
                return Err(at);
            }
            Stop::End => {
                out.extend_from_slice(&bytes[start..]);
                return Ok(());
            }
        }
    }
}

/// Whether `b` is written escaped.
#[inline(always)]
fn needs_escape(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\'
}

/// The first byte at or after `from` to escape or, with `ASCII_ONLY`, that is not ASCII:
/// eight bytes at a time, then byte by byte.
#[inline(always)]
fn scan<const ASCII_ONLY: bool>(bytes: &[u8], from: usize) -> Stop {
    const HI: u64 = 0x8080_8080_8080_8080;
    let mut i = from;
    while let Some(chunk) = bytes.get(i..i + 8) {
        let mut w = [0u8; 8];
        w.copy_from_slice(chunk);
        let w = u64::from_le_bytes(w);
        let marks = escape_marks(w) | if ASCII_ONLY { w & HI } else { 0 };
        if marks != 0 {
            // The lowest mark is exact (see `escape_marks`), and the bytes before it are
            // neither to escape nor, when asked, beyond ASCII: the byte-wise loop below
            // classifies it.
            i += (marks.trailing_zeros() / 8) as usize;
            break;
        }
        i += 8;
    }
    while let Some(&b) = bytes.get(i) {
        if ASCII_ONLY && b >= 0x80 {
            return Stop::NotAscii(i);
        }
        if needs_escape(b) {
            return Stop::Escape(i);
        }
        i += 1;
    }
    Stop::End
}

/// Marks (high bit of the byte) the bytes of `w` (little endian) that are below 0x20, `"`
/// or `\\`. The lowest mark is exact; marks above a marked byte may be false (a borrow):
/// callers only trust the lowest (the classic "has zero byte" / "has byte less than"
/// tests).
#[inline(always)]
fn escape_marks(w: u64) -> u64 {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let has_zero = |x: u64| x.wrapping_sub(LO) & !x & HI;
    let below_space = w.wrapping_sub(LO * 0x20) & !w & HI;
    below_space | has_zero(w ^ (LO * u64::from(b'"'))) | has_zero(w ^ (LO * u64::from(b'\\')))
}

/// The block loop of both SIMD widths (`sse2`, `avx2`): from `from`, whole blocks of `N`
/// bytes, each stored into the output before it is looked at. `copy_scan(src, dst)`
/// copies the `N` bytes at `src` to `dst` and returns one bit per byte to escape and one
/// per byte beyond ASCII. `Ok(position)` of the first byte not done (fewer than `N` are
/// left), or `super::escape`'s `Err`.
///
/// # Safety
/// `copy_scan` is called only with `src` at `N` readable bytes of `bytes` and `dst` at `N`
/// writable bytes of `out`'s spare capacity; it must read and write no more than that
/// (and the CPU must have what its intrinsics need).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn escape_blocks_with<const ASCII_ONLY: bool, const N: usize>(
    bytes: &[u8],
    from: usize,
    out: &mut Vec<u8>,
    copy_scan: impl Fn(*const u8, *mut u8) -> (u32, u32),
) -> Result<usize, usize> {
    let mut i = from;
    // Invariant: at least `bytes.len() - i` spare bytes in `out` (so `N` in the loop): a
    // clean byte takes one, an escape up to six (`reserve` again after it).
    out.reserve(bytes.len().saturating_sub(i));
    while i + N <= bytes.len() {
        debug_assert!(out.capacity() - out.len() >= N);
        // SAFETY: `bytes[i..i + N]` is inside the slice (loop condition) and `N` bytes of
        // spare capacity follow `out`'s length (the invariant); they count only once
        // `set_len` below keeps them.
        let (escapes, high) =
            unsafe { copy_scan(bytes.as_ptr().add(i), out.as_mut_ptr().add(out.len())) };
        let high = if ASCII_ONLY { high } else { 0 };
        // The clean bytes before the first to escape or, when asked, beyond ASCII (`N`
        // when none).
        let clean = (escapes | high).trailing_zeros().min(N as u32) as usize;
        // SAFETY: `clean <= N` bytes after the length were stored above.
        unsafe { out.set_len(out.len() + clean) };
        i += clean;
        if clean == N {
            continue;
        }
        if high & (1 << clean) != 0 {
            return Err(i);
        }
        push_escape(bytes[i], out);
        i += 1;
        out.reserve(bytes.len() - i);
    }
    Ok(i)
}

#[cfg(target_arch = "x86_64")]
mod sse2 {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_min_epu8, _mm_movemask_epi8, _mm_or_si128,
        _mm_set1_epi8, _mm_storeu_si128,
    };

    /// `super::escape` of the whole blocks of sixteen bytes from `from`
    /// (`super::escape_blocks_with`).
    #[inline(always)]
    pub(super) fn escape_blocks<const ASCII_ONLY: bool>(
        bytes: &[u8],
        from: usize,
        out: &mut Vec<u8>,
    ) -> Result<usize, usize> {
        // SAFETY: SSE2 is part of the x86_64 baseline (no feature to detect); the closure
        // reads 16 bytes at `src` and writes 16 at `dst`, as `escape_blocks_with` allows.
        unsafe {
            super::escape_blocks_with::<ASCII_ONLY, 16>(bytes, from, out, |src, dst| {
                let v = _mm_loadu_si128(src.cast::<__m128i>());
                _mm_storeu_si128(dst.cast::<__m128i>(), v);
                (mask(v), _mm_movemask_epi8(v) as u32)
            })
        }
    }

    /// One bit per byte of `v` to escape: below 0x20 (unsigned: the minimum with 0x1f is
    /// the byte itself), `"` or `\`.
    ///
    /// # Safety
    /// Needs SSE2, which every x86_64 CPU has.
    #[inline(always)]
    unsafe fn mask(v: __m128i) -> u32 {
        let quote = _mm_set1_epi8(b'"' as i8);
        let backslash = _mm_set1_epi8(b'\\' as i8);
        let below_space = _mm_set1_epi8(0x1f);
        let hit = _mm_or_si128(
            _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)),
            _mm_cmpeq_epi8(_mm_min_epu8(v, below_space), v),
        );
        _mm_movemask_epi8(hit) as u32
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::{
        __m256i, _mm256_cmpeq_epi8, _mm256_loadu_si256, _mm256_min_epu8, _mm256_movemask_epi8,
        _mm256_or_si256, _mm256_set1_epi8, _mm256_storeu_si256,
    };

    /// Bytes per block.
    pub(super) const BLOCK: usize = 32;

    /// `super::escape` of the whole blocks of thirty-two bytes (`super::escape_blocks_with`).
    ///
    /// # Safety
    /// The CPU must have AVX2.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn escape_blocks<const ASCII_ONLY: bool>(
        bytes: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<usize, usize> {
        // SAFETY: the caller promises AVX2; the closure reads 32 bytes at `src` and writes
        // 32 at `dst`, as `escape_blocks_with` allows.
        unsafe {
            super::escape_blocks_with::<ASCII_ONLY, BLOCK>(bytes, 0, out, |src, dst| {
                let v = _mm256_loadu_si256(src.cast::<__m256i>());
                _mm256_storeu_si256(dst.cast::<__m256i>(), v);
                (mask(v), _mm256_movemask_epi8(v) as u32)
            })
        }
    }

    /// One bit per byte of `v` to escape: below 0x20 (unsigned: the minimum with 0x1f is
    /// the byte itself), `"` or `\`.
    ///
    /// # Safety
    /// The CPU must have AVX2.
    #[target_feature(enable = "avx2")]
    unsafe fn mask(v: __m256i) -> u32 {
        let quote = _mm256_set1_epi8(b'"' as i8);
        let backslash = _mm256_set1_epi8(b'\\' as i8);
        let below_space = _mm256_set1_epi8(0x1f);
        let hit = _mm256_or_si256(
            _mm256_or_si256(_mm256_cmpeq_epi8(v, quote), _mm256_cmpeq_epi8(v, backslash)),
            _mm256_cmpeq_epi8(_mm256_min_epu8(v, below_space), v),
        );
        _mm256_movemask_epi8(hit) as u32
    }
}

/// Writes the escape of `b` (a byte that needs one), or `b` itself.
#[inline(always)]
fn push_escape(b: u8, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let short: &[u8] = match b {
        b'"' => b"\\\"",
        b'\\' => b"\\\\",
        b'\x08' => b"\\b",
        b'\t' => b"\\t",
        b'\n' => b"\\n",
        b'\x0c' => b"\\f",
        b'\r' => b"\\r",
        0..=0x1f => {
            out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(b >> 4)],
                HEX[usize::from(b & 0xf)],
            ]);
            return;
        }
        _ => {
            out.push(b);
            return;
        }
    };
    out.extend_from_slice(short);
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// The escape of `bytes` one byte at a time: what the fast paths must agree with.
    fn escape_bytewise(bytes: &[u8], out: &mut Vec<u8>) {
        for &b in bytes {
            push_escape(b, out);
        }
    }

    /// What `escape_ascii` must do: `Err` at the first byte that is not ASCII, having
    /// written the escape of the bytes before it.
    fn expect_ascii(bytes: &[u8]) -> (Vec<u8>, Result<(), usize>) {
        let end = bytes.iter().position(|&b| b >= 0x80);
        let mut out = Vec::new();
        escape_bytewise(&bytes[..end.unwrap_or(bytes.len())], &mut out);
        (out, end.map_or(Ok(()), Err))
    }

    /// Bytes from every class the escapes tell apart, often, at any place, over several
    /// blocks of sixteen.
    fn classy_bytes() -> impl Strategy<Value = Vec<u8>> {
        let byte = prop_oneof![
            12 => b'a'..=b'z',
            1 => Just(b'"'),
            1 => Just(b'\\'),
            1 => 0u8..0x20,
            1 => 0x80u8..=0xff,
            1 => any::<u8>(),
        ];
        prop::collection::vec(byte, 0..120)
    }

    proptest! {
        /// `escape_str` writes the byte-wise escape after what `out` held; `escape_ascii`
        /// too, up to the first byte that is not ASCII, which it names. With AVX2 (where
        /// the CPU has it) and with SSE2 alone.
        #[test]
        fn escapes_agree_with_the_bytewise_escape(bytes in classy_bytes()) {
            let mut expected = b"prefix".to_vec();
            escape_bytewise(&bytes, &mut expected);
            let mut got = b"prefix".to_vec();
            escape_str(&bytes, &mut got);
            prop_assert_eq!(&got, &expected);
            let mut got = b"prefix".to_vec();
            let _ = escape::<false, false>(&bytes, &mut got);
            prop_assert_eq!(&got, &expected);

            let mut got = Vec::new();
            let result = escape_ascii(&bytes, &mut got);
            prop_assert_eq!((got, result), expect_ascii(&bytes));
            let mut got = Vec::new();
            let result = escape::<true, false>(&bytes, &mut got);
            prop_assert_eq!((got, result), expect_ascii(&bytes));
        }

        /// The word-wise scan, from every start, stops where the byte-wise definition
        /// stops.
        #[test]
        fn scan_stops_at_the_first_byte_of_interest(bytes in classy_bytes()) {
            for from in 0..=bytes.len() {
                let first = |ascii: bool| {
                    (from..bytes.len())
                        .find_map(|i| {
                            if ascii && bytes[i] >= 0x80 {
                                Some(Stop::NotAscii(i))
                            } else if needs_escape(bytes[i]) {
                                Some(Stop::Escape(i))
                            } else {
                                None
                            }
                        })
                        .unwrap_or(Stop::End)
                };
                prop_assert_eq!(scan::<true>(&bytes, from), first(true));
                prop_assert_eq!(scan::<false>(&bytes, from), first(false));
            }
        }
    }

    /// Every byte value, at every place of the blocks (AVX2's 32 where the CPU has it,
    /// then SSE2's 16, and SSE2's alone) and the tail after them, is escaped or kept as the
    /// byte-wise escape says (the comparisons are unsigned where they must be: 0x80 and
    /// above is not below 0x20), after output that is already there.
    #[test]
    fn every_byte_value_at_every_lane() {
        #[cfg(target_arch = "x86_64")]
        if !std::is_x86_feature_detected!("avx2") {
            // Said, not failed: the SSE2 and word paths are still checked.
            eprintln!("note: this CPU has no AVX2: its path is not exercised here");
        }
        fn check<const WIDE: bool>(bytes: &[u8], what: &str) {
            let mut expected = b"ab".to_vec();
            escape_bytewise(bytes, &mut expected);
            let mut got = b"ab".to_vec();
            let _ = escape::<false, WIDE>(bytes, &mut got);
            assert_eq!(got, expected, "{what}");
            let mut got = Vec::new();
            let result = escape::<true, WIDE>(bytes, &mut got);
            assert_eq!((got, result), expect_ascii(bytes), "{what}");
        }
        for len in [40, 56, 72] {
            for b in 0..=255u8 {
                for at in 0..len {
                    let mut bytes = vec![b'x'; len];
                    bytes[at] = b;
                    let what = format!("byte {b:#x} at {at} of {len}");
                    check::<true>(&bytes, &what);
                    check::<false>(&bytes, &what);
                }
            }
        }
    }

    /// A block that is nearly all escapes grows the output past what was reserved (with
    /// AVX2 where the CPU has it, and with SSE2 alone).
    #[test]
    fn escapes_grow_the_output() {
        let bytes = vec![0x01u8; 100];
        let mut got = Vec::new();
        escape_str(&bytes, &mut got);
        assert_eq!(got, b"\\u0001".repeat(100));
        let mut got = Vec::new();
        let _ = escape::<false, false>(&bytes, &mut got);
        assert_eq!(got, b"\\u0001".repeat(100));
    }

    /// The escapes themselves are serde_json's.
    #[test]
    fn escapes_are_serde_jsons() {
        let all: Vec<u8> = (0..0x80u8).cycle().take(300).collect();
        let s = std::str::from_utf8(&all).unwrap();
        let mut ours = b"\"".to_vec();
        escape_str(&all, &mut ours);
        ours.push(b'"');
        assert_eq!(ours, serde_json::to_vec(s).unwrap());
    }
}
