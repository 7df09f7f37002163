//! Message bodies: Content-Length, chunked (RFC 9112 §7.1, with extensions and trailers)
//! and close-delimited framing, sizes kept exact while only `keep` bytes are stored.
//!
//! What it does not do: decide the framing (see `head::body_framing`), or decode content.
//! Invariants: `Body::len == kept + not kept + missing`; `wire_len >= len`; the chunk line
//! and trailer buffers are bounded (`MAX_CHUNK_LINE`, `max_trailer`), and going over them
//! makes the body invalid instead of growing. Every result (sizes, where the body ends,
//! flags) is the same however the input is cut into `feed` calls.

use crate::model::{Body, Header};

use super::head::Framing;

/// Longest chunk-size line (size, extensions) kept while looking for its end. Real
/// extensions are short; longer lines are treated as a malformed chunk.
pub(crate) const MAX_CHUNK_LINE: usize = 4096;

/// Where a body reader stands after some input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Progress {
    More,
    Done,
    /// Malformed chunk framing: the body ends here, incomplete.
    Invalid,
}

/// What a gap did to a body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum GapEffect {
    /// All of the gap was body data of known length: counted as missing.
    Absorbed,
    /// The body ended inside the gap; `rest` bytes of the gap come after it.
    Done { rest: u64 },
    /// The gap hit framing (chunk size line, trailers) or a close-delimited body: the
    /// message cannot be followed any further.
    Broken,
}

#[derive(Clone, Debug)]
enum Chunk {
    Size,
    Data(u64),
    /// After chunk data: CRLF expected (`cr`: the CR was seen).
    DataEnd {
        cr: bool,
    },
    Trailer,
    /// A chunk-size or trailer line went over its bound: its bytes are skipped (not kept)
    /// up to its LF, where the body ends `Invalid`.
    ///
    /// Why to the end of the line rather than at the bound: the rule must not depend on
    /// where segments end (an earlier version consumed "the rest of the line within the
    /// current segment", issue 16), and of the split-independent rules this is the one a
    /// user reading the output expects: the whole line was framing of this body, so its
    /// bytes count in `wire_len` (the HAR's wire sizes match the bytes on the wire), and
    /// the direction resyncs at a real line start, where a request line can begin, not in
    /// the middle of a line whose tail (peer-chosen bytes) could pass for one. Skipping
    /// keeps nothing, so memory stays bounded however long the line is.
    SkipLine,
}

/// A body of known length reserves at least this much (or its length, if smaller) at its
/// first bytes, then four times what it holds (`BodyReader::content`).
const BODY_FIRST_RESERVE: usize = 4096;

#[derive(Clone, Debug)]
enum Kind {
    Length(u64),
    Chunked {
        st: Chunk,
        line: Vec<u8>,
        trailer_bytes: usize,
    },
    Close,
}

/// A body being received, with its accumulated `Body`.
#[derive(Clone, Debug)]
pub(crate) struct BodyReader {
    kind: Kind,
    pub body: Body,
    keep: usize,
    max_trailer: usize,
    /// A chunk line or trailer ended with a bare LF.
    pub bare_lf: bool,
    /// A trailer field was folded (obs-fold).
    pub obs_fold: bool,
    /// The memory budget ran out while this body was read: its bytes are no longer kept.
    pub shed: bool,
    /// A chunk-size or trailer line went over its bound (`Chunk::SkipLine`): the body is
    /// invalid however it ends (its LF, a gap, the connection's end).
    pub over_long_line: bool,
    /// No output of the run reads body bytes (`HttpCtx::keep_bodies` false): the bytes are
    /// counted, not stored (`phantom`). Every size, the keep limit's `truncated` and the
    /// gap offsets stay what storing them would give. A content-coded body is not decoded
    /// either (`Decoded::Skipped`): inflate was a quarter of a statistics-only run, for
    /// flags no output of that run shows.
    pub sizes_only: bool,
    /// Bytes a `sizes_only` body would have stored (at most `keep`).
    phantom: usize,
}

impl BodyReader {
    /// A reader for `framing` (not `Framing::None`), keeping at most `keep` bytes and
    /// accepting at most `max_trailer` bytes of trailer section.
    pub fn new(framing: Framing, keep: usize, max_trailer: usize) -> Self {
        let kind = match framing {
            Framing::Length(n) => Kind::Length(n),
            Framing::Chunked => Kind::Chunked {
                st: Chunk::Size,
                line: Vec::new(),
                trailer_bytes: 0,
            },
            Framing::Close | Framing::None => Kind::Close,
        };
        BodyReader {
            kind,
            body: Body::default(),
            keep,
            max_trailer,
            bare_lf: false,
            obs_fold: false,
            shed: false,
            over_long_line: false,
            sizes_only: false,
            phantom: 0,
        }
    }

    /// Body bytes stored, or counted in their place (`sizes_only`).
    fn kept(&self) -> usize {
        self.body.data.len() + self.phantom
    }

    /// Heap held: kept bytes, chunk line, body fields.
    pub fn heap_bytes(&self) -> usize {
        let line = match &self.kind {
            Kind::Chunked { line, .. } => line.capacity(),
            _ => 0,
        };
        self.body.heap_bytes() + line
    }

    /// The memory budget ran out: drop the kept bytes and keep no more (sizes stay
    /// exact). Returns whether bytes were dropped or will no longer be kept.
    pub fn shed(&mut self) -> bool {
        if self.shed {
            return false;
        }
        let mut had = self.body.drop_data();
        if self.phantom > 0 {
            // As `drop_data` does for stored bytes.
            self.body.truncated = true;
            self.phantom = 0;
            had = true;
        }
        self.shed = had || self.keep > 0;
        self.keep = 0;
        had
    }

    pub fn is_close_delimited(&self) -> bool {
        matches!(self.kind, Kind::Close)
    }

    /// Body bytes; `left`: how many more the framing announces (Content-Length).
    fn content(&mut self, data: &[u8], left: Option<u64>) {
        let b = &mut self.body;
        b.len += data.len() as u64;
        b.wire_len += data.len() as u64;
        let room = self.keep.saturating_sub(b.data.len() + self.phantom);
        if data.len() > room {
            b.truncated = true;
        }
        let take = room.min(data.len());
        if self.sizes_only {
            self.phantom += take;
        } else {
            let b = &mut self.body;
            let bytes = data.get(..take).unwrap_or_default();
            let need = b.data.len() + bytes.len();
            if let (Some(left), true) = (left, need > b.data.capacity()) {
                // The length is known: grow four times over instead of doubling, never
                // past the body's end or the keep limit (a 200 KB body is copied twice
                // while it arrives instead of seven times, and holds no spare capacity).
                let end = need
                    .saturating_add(usize::try_from(left).unwrap_or(usize::MAX))
                    .min(self.keep);
                let want = b
                    .data
                    .len()
                    .saturating_mul(4)
                    .max(BODY_FIRST_RESERVE)
                    .min(end)
                    .max(need);
                b.data.reserve_exact(want - b.data.len());
            }
            b.data.extend_from_slice(bytes);
        }
    }

    fn missing(&mut self, n: u64) {
        if self.body.gap_ranges.len() < crate::model::MAX_GAP_RANGES {
            let at = self.kept() as u64;
            self.body.gap_ranges.push((at, n));
        }
        self.body.missing += n;
        self.body.len += n;
        self.body.wire_len += n;
    }

    /// Consumes body bytes from `data`. Returns how many bytes belong to the body and
    /// whether it is finished.
    pub fn feed(&mut self, data: &[u8]) -> (usize, Progress) {
        match &mut self.kind {
            Kind::Length(remaining) => {
                let take = (*remaining).min(data.len() as u64) as usize;
                *remaining -= take as u64;
                let done = *remaining == 0;
                let left = *remaining;
                self.content(data.get(..take).unwrap_or_default(), Some(left));
                (take, if done { Progress::Done } else { Progress::More })
            }
            Kind::Close => {
                self.content(data, None);
                (data.len(), Progress::More)
            }
            Kind::Chunked { .. } => self.feed_chunked(data),
        }
    }

    fn feed_chunked(&mut self, data: &[u8]) -> (usize, Progress) {
        let mut pos = 0usize;
        while pos < data.len() {
            let Kind::Chunked {
                st,
                line,
                trailer_bytes,
            } = &mut self.kind
            else {
                return (pos, Progress::More);
            };
            match st {
                Chunk::Data(n) => {
                    let take = (*n).min((data.len() - pos) as u64) as usize;
                    *n -= take as u64;
                    if *n == 0 {
                        *st = Chunk::DataEnd { cr: false };
                    }
                    self.content(data.get(pos..pos + take).unwrap_or_default(), None);
                    pos += take;
                }
                Chunk::DataEnd { cr } => {
                    let b = data.get(pos).copied().unwrap_or(0);
                    pos += 1;
                    self.body.wire_len += 1;
                    match b {
                        b'\r' if !*cr => *cr = true,
                        b'\n' => {
                            if !*cr {
                                self.bare_lf = true;
                            }
                            *st = Chunk::Size;
                        }
                        _ => return (pos, Progress::Invalid),
                    }
                }
                Chunk::SkipLine => {
                    let rest = data.get(pos..).unwrap_or_default();
                    let (take, complete) = match rest.iter().position(|&b| b == b'\n') {
                        Some(p) => (p + 1, true),
                        None => (rest.len(), false),
                    };
                    pos += take;
                    self.body.wire_len += take as u64;
                    if complete {
                        return (pos, Progress::Invalid);
                    }
                }
                Chunk::Size | Chunk::Trailer => {
                    // Collect one line, bounded.
                    let rest = data.get(pos..).unwrap_or_default();
                    let (take, complete) = match rest.iter().position(|&b| b == b'\n') {
                        Some(p) => (p + 1, true),
                        None => (rest.len(), false),
                    };
                    let limit = if matches!(st, Chunk::Size) {
                        MAX_CHUNK_LINE
                    } else {
                        self.max_trailer
                    };
                    let used = if matches!(st, Chunk::Trailer) {
                        *trailer_bytes
                    } else {
                        line.len()
                    };
                    if used + take > limit {
                        // Over the bound: what there is of the line is dropped and the
                        // rest skipped up to its LF, here or in later calls (`SkipLine`).
                        self.over_long_line = true;
                        *line = Vec::new();
                        *st = Chunk::SkipLine;
                        continue;
                    }
                    line.extend_from_slice(rest.get(..take).unwrap_or_default());
                    if matches!(st, Chunk::Trailer) {
                        *trailer_bytes += take;
                    }
                    pos += take;
                    self.body.wire_len += take as u64;
                    if !complete {
                        continue;
                    }
                    let mut text = std::mem::take(line);
                    text.pop(); // the LF
                    if text.last() == Some(&b'\r') {
                        text.pop();
                    } else {
                        self.bare_lf = true;
                    }
                    if matches!(st, Chunk::Size) {
                        match parse_chunk_size(&text) {
                            Some(0) => *st = Chunk::Trailer,
                            Some(n) => *st = Chunk::Data(n),
                            None => return (pos, Progress::Invalid),
                        }
                    } else if text.is_empty() {
                        return (pos, Progress::Done);
                    } else {
                        self.trailer_line(&text);
                    }
                }
            }
        }
        (pos, Progress::More)
    }

    fn trailer_line(&mut self, text: &[u8]) {
        let trailers = &mut self.body.trailers;
        if matches!(text.first(), Some(b' ' | b'\t')) {
            self.obs_fold = true;
            if let Some(last) = trailers.last_mut() {
                last.value.push(' ');
                last.value.push_str(String::from_utf8_lossy(text).trim());
            }
            return;
        }
        let (name, value) = match text.iter().position(|&b| b == b':') {
            Some(p) => (
                text.get(..p).unwrap_or_default(),
                text.get(p + 1..).unwrap_or_default(),
            ),
            None => (text, &b""[..]),
        };
        trailers.push(Header {
            name: crate::model::header_name(String::from_utf8_lossy(name).trim()),
            value: String::from_utf8_lossy(value).trim().into(),
        });
    }

    /// `len` bytes of this body's direction were lost.
    pub fn gap(&mut self, len: u64) -> GapEffect {
        match &mut self.kind {
            Kind::Length(remaining) => {
                let r = *remaining;
                if len < r {
                    *remaining -= len;
                    self.missing(len);
                    GapEffect::Absorbed
                } else {
                    *remaining = 0;
                    self.missing(r);
                    GapEffect::Done { rest: len - r }
                }
            }
            Kind::Chunked {
                st: Chunk::Data(n), ..
            } if len <= *n => {
                *n -= len;
                if *n == 0 {
                    if let Kind::Chunked { st, .. } = &mut self.kind {
                        *st = Chunk::DataEnd { cr: false };
                    }
                }
                self.missing(len);
                GapEffect::Absorbed
            }
            Kind::Close => {
                // Still body bytes, so counted; but the message cannot be trusted to
                // end where the close says.
                self.missing(len);
                GapEffect::Broken
            }
            Kind::Chunked { .. } => GapEffect::Broken,
        }
    }
}

/// `chunk-size [ BWS ; chunk-ext ]`: hex digits, tolerating surrounding whitespace.
fn parse_chunk_size(line: &[u8]) -> Option<u64> {
    let s = line.iter().skip_while(|&&b| b == b' ' || b == b'\t');
    let mut n: u64 = 0;
    let mut digits = 0usize;
    let mut end_ok = true;
    for &b in s {
        match (b as char).to_digit(16) {
            Some(d) => {
                n = n.checked_mul(16)?.checked_add(u64::from(d))?;
                digits += 1;
            }
            None => {
                end_ok = matches!(b, b';' | b' ' | b'\t');
                break;
            }
        }
    }
    if digits == 0 || !end_ok {
        return None;
    }
    Some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_of_known_length_grows_four_times_over_and_never_past_its_end_or_the_keep() {
        let data = vec![7u8; 200_000];
        let mut r = BodyReader::new(Framing::Length(200_000), 1 << 20, 0);
        let mut grew = 0;
        for piece in data.chunks(1448) {
            let before = r.body.data.capacity();
            assert_eq!(r.feed(piece).0, piece.len());
            grew += usize::from(r.body.data.capacity() != before);
        }
        assert_eq!(r.body.data, data);
        assert_eq!(
            r.body.data.capacity(),
            200_000,
            "no spare capacity at the end"
        );
        assert!(grew <= 6, "{grew} reallocations");
        // A small body: its length at once.
        let mut r = BodyReader::new(Framing::Length(300), 1 << 20, 0);
        r.feed(&[1; 100]);
        assert_eq!(r.body.data.capacity(), 300);
        // The keep limit bounds the reservation, whatever the announced length.
        let mut r = BodyReader::new(Framing::Length(1 << 30), 50_000, 0);
        for piece in data.chunks(1448) {
            r.feed(piece);
        }
        assert_eq!(r.body.data.len(), 50_000);
        assert_eq!(r.body.data.capacity(), 50_000);
        assert!(r.body.truncated);
    }

    fn chunked() -> BodyReader {
        BodyReader::new(Framing::Chunked, 1000, 1000)
    }

    #[test]
    fn chunked_with_extensions_and_trailers() {
        let wire = b"4;name=val\r\nWiki\r\n5 ; x\r\npedia\r\n0\r\nExpires: never\r\nX-T: a\r\n  b\r\n\r\nNEXT";
        for split in 0..wire.len() {
            let mut r = chunked();
            let (a, b) = wire.split_at(split);
            let (n1, p1) = r.feed(a);
            let (n2, p2) = if p1 == Progress::Done {
                (0, p1)
            } else {
                r.feed(b)
            };
            assert_eq!(p2, Progress::Done, "split {split}");
            assert_eq!(n1 + n2, wire.len() - 4);
            assert_eq!(r.body.data, b"Wikipedia");
            assert_eq!(r.body.len, 9);
            assert_eq!(r.body.wire_len, (wire.len() - 4) as u64);
            assert_eq!(r.body.trailers.len(), 2);
            assert_eq!(r.body.trailers[1].value, "a b");
            assert!(r.obs_fold && !r.bare_lf);
        }
    }

    #[test]
    fn malformed_chunks_are_invalid() {
        assert_eq!(chunked().feed(b"zz\r\n").1, Progress::Invalid);
        assert_eq!(chunked().feed(b"3\r\nabcX").1, Progress::Invalid);
        assert_eq!(
            chunked().feed(b"ffffffffffffffffff\r\n").1,
            Progress::Invalid
        );
        let mut long = vec![b'1'; MAX_CHUNK_LINE + 1];
        assert_eq!(chunked().feed(&long).1, Progress::More);
        long.extend_from_slice(b"\r\n");
        assert_eq!(chunked().feed(&long).1, Progress::Invalid);
        let mut r = chunked();
        assert_eq!(r.feed(b"3\nabc\n0\n\n"), (9, Progress::Done));
        assert!(r.bare_lf);
    }

    /// Feeds `wire` cut at `cuts` (ascending offsets); returns the bytes taken, the
    /// progress and the reader.
    fn feed_cut(mut r: BodyReader, wire: &[u8], cuts: &[usize]) -> (usize, Progress, BodyReader) {
        let mut taken = 0;
        let mut from = 0;
        for &to in cuts.iter().chain(std::iter::once(&wire.len())) {
            let (n, p) = r.feed(&wire[from..to]);
            taken += n;
            if p != Progress::More {
                return (taken, p, r);
            }
            from = to;
        }
        (taken, Progress::More, r)
    }

    /// Issue 16: an over-long trailer or chunk-size line ended the body at "the rest of
    /// the line within the current segment", so the body's wire length depended on the
    /// split. It now ends at the line's LF whatever the split.
    #[test]
    fn an_over_long_framing_line_ends_the_body_at_its_lf_at_any_split() {
        let mut trailer = b"0\r\nX-Long: ".to_vec();
        trailer.resize(3 + 605, b'a');
        trailer.extend_from_slice(b"\r\n\r\nGET");
        let mut size = b"5;ext=".to_vec();
        size.resize(MAX_CHUNK_LINE + 100, b'e');
        size.extend_from_slice(b"\r\nhello\r\n0\r\n\r\n");
        // (wire, bytes of the body, max_trailer)
        let cases: [(&[u8], usize, usize); 2] =
            [(&trailer, 3 + 607, 512), (&size, MAX_CHUNK_LINE + 102, 512)];
        for (wire, body_len, max_trailer) in cases {
            let fresh = || BodyReader::new(Framing::Chunked, 64, max_trailer);
            let step = if wire.len() > 1000 { 7 } else { 1 };
            let mut splits: Vec<Vec<usize>> =
                (1..wire.len()).step_by(step).map(|c| vec![c]).collect();
            splits.push((1..wire.len()).collect());
            splits.push(vec![]);
            for cuts in splits {
                let (n, p, r) = feed_cut(fresh(), wire, &cuts);
                let at = cuts.first().copied().unwrap_or(0);
                assert_eq!((n, p), (body_len, Progress::Invalid), "cut at {at}");
                assert_eq!(r.body.wire_len, body_len as u64, "cut at {at}");
                assert_eq!(r.body.len, 0, "cut at {at}");
                assert!(
                    r.body.trailers.is_empty() && r.over_long_line,
                    "cut at {at}"
                );
                assert!(r.heap_bytes() <= max_trailer.max(MAX_CHUNK_LINE) * 2);
            }
        }
    }

    #[test]
    fn a_line_exactly_at_its_bound_is_kept_and_one_byte_more_is_not() {
        // The trailer section's bound counts its lines with their CRLF, the empty line
        // included: `line(n)` has an `n`-byte field line, so an `n + 2`-byte section.
        let line = |n: usize| {
            let mut w = b"0\r\nX: ".to_vec();
            w.resize(n + 3 - 2, b'v');
            w.extend_from_slice(b"\r\n\r\n");
            w
        };
        let at = line(30 - 2);
        for cut in 1..at.len() {
            let (_, p, r) = feed_cut(BodyReader::new(Framing::Chunked, 8, 30), &at, &[cut]);
            assert_eq!(p, Progress::Done, "cut at {cut}");
            assert!(!r.over_long_line && r.body.trailers.len() == 1);
        }
        let over = line(30 - 1);
        for cut in 1..over.len() {
            let (n, p, r) = feed_cut(BodyReader::new(Framing::Chunked, 8, 30), &over, &[cut]);
            // Over by the empty line's LF: the body ends there, the LF included.
            assert_eq!((n, p), (over.len(), Progress::Invalid), "cut at {cut}");
            assert!(r.over_long_line);
        }
    }

    #[test]
    fn keep_limit_and_gaps() {
        let mut r = BodyReader::new(Framing::Length(10), 4, 0);
        assert_eq!(r.feed(b"abcdef"), (6, Progress::More));
        assert_eq!(r.gap(2), GapEffect::Absorbed);
        assert_eq!(r.gap(5), GapEffect::Done { rest: 3 });
        assert_eq!((r.body.len, r.body.missing, r.body.wire_len), (10, 4, 10));
        assert_eq!(r.body.data, b"abcd");
        assert!(r.body.truncated);

        let mut r = chunked();
        r.feed(b"a\r\n12");
        assert_eq!(r.gap(8), GapEffect::Absorbed);
        assert_eq!(r.feed(b"\r\n0\r\n\r\n").1, Progress::Done);
        assert_eq!((r.body.len, r.body.missing), (10, 8));
        let mut r = chunked();
        r.feed(b"a\r\n12");
        assert_eq!(r.gap(9), GapEffect::Broken);
        assert_eq!(
            BodyReader::new(Framing::Close, 5, 0).gap(3),
            GapEffect::Broken
        );
    }

    /// `sizes_only`: a body without content coding is counted, not stored, and every
    /// size, the keep limit's `truncated`, the gap offsets and the shed rule come out as
    /// when it is stored, at every cut. A content-coded body is stored all the same (it
    /// is decoded for its failures).
    #[test]
    fn sizes_only_counts_what_storing_would_keep() {
        let wire = b"4\r\nWiki\r\n5\r\npedia\r\n0\r\nX-T: a\r\n\r\n";
        let cases: [(Framing, &[u8], usize); 4] = [
            (Framing::Chunked, wire, 1000),
            (Framing::Chunked, wire, 6),
            (Framing::Length(12), b"abcdefghijkl", 5),
            (Framing::Close, b"abcdefghijkl", 100),
        ];
        for (framing, bytes, keep) in cases {
            for cut in 0..=bytes.len() {
                let stored = feed_cut(BodyReader::new(framing, keep, 100), bytes, &[cut]);
                let mut r = BodyReader::new(framing, keep, 100);
                r.sizes_only = true;
                let counted = feed_cut(r, bytes, &[cut]);
                assert_eq!((stored.0, stored.1), (counted.0, counted.1), "cut {cut}");
                let (a, b) = (&stored.2.body, &counted.2.body);
                assert!(!a.data.is_empty() && b.data.is_empty(), "cut {cut}");
                assert_eq!(counted.2.kept(), a.data.len(), "cut {cut}");
                assert_eq!(
                    (a.len, a.wire_len, a.missing, a.truncated, a.trailers.len()),
                    (b.len, b.wire_len, b.missing, b.truncated, b.trailers.len()),
                    "cut {cut}"
                );
            }
        }
        // Gap offsets are where the gap sits in the bytes storing would keep.
        let mut stored = BodyReader::new(Framing::Length(10), 100, 0);
        let mut counted = BodyReader::new(Framing::Length(10), 100, 0);
        counted.sizes_only = true;
        for r in [&mut stored, &mut counted] {
            r.feed(b"abc");
            r.gap(2);
            r.feed(b"defgh");
        }
        assert_eq!(stored.body.gap_ranges, vec![(3, 2)]);
        assert_eq!(counted.body.gap_ranges, stored.body.gap_ranges);
        // Shedding counted bytes marks the body truncated, as shedding stored ones does.
        let mut r = BodyReader::new(Framing::Length(10), 100, 0);
        r.sizes_only = true;
        r.feed(b"abc");
        assert!(r.shed());
        assert!(r.body.truncated && r.kept() == 0);
        r.feed(b"d");
        assert_eq!(r.kept(), 0);
        // A gzip body is counted too: `finish_body` leaves it undecoded.
        let mut r = BodyReader::new(Framing::Length(3), 100, 0);
        r.sizes_only = true;
        r.body.content_encoding = vec!["gzip".to_string()];
        r.feed(b"xyz");
        assert!(r.body.data.is_empty());
        assert_eq!((r.kept(), r.body.len), (3, 3));
    }
}
