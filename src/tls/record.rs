//! TLS record framing of one direction (RFC 8446 §5.1, RFC 5246 §6.2): bytes and TCP gaps
//! in, whole records out, with resynchronisation after a gap that swallowed record headers.
//!
//! What it does: buffers at most one incomplete record; tells records apart by their
//! 5-byte header; after a gap, skips the rest of a record whose header it had seen (that
//! record is lost, the next one is aligned), or, when the gap took a header, scans for a
//! header that chains with the one after it (or, at the direction's end, ends its bytes
//! exactly).
//!
//! What it does not do: decrypt, or know the sequence number a resynchronised record has
//! (the layer finds it by trial decryption).
//!
//! Invariants: `buf[start..]` holds the bytes not yet framed; while `skip > 0` the next
//! `skip` bytes belong to a lost record and are dropped; while `lost` is true the framer
//! is not aligned and looks for a chaining header before it yields anything. Every
//! decision of the scan depends only on the direction's bytes, never on where its
//! segments ended: a candidate it cannot decide yet waits for more bytes (at most
//! `RESYNC_MAX_HELD`), or for the direction's end (`finish`).

/// Largest record fragment accepted: 2^14 + 2048 (RFC 5246 §6.2.3, the TLS 1.2 ciphertext
/// bound; TLS 1.3's 2^14 + 256 is below it). A longer length means the framing is lost.
pub const MAX_FRAGMENT: usize = (1 << 14) + 2048;

/// The record header's size.
pub const HEADER_LEN: usize = 5;

/// Most bytes the header scan holds after a loss: a candidate record of the largest size
/// and the header after it, which decide whether the candidate chains. The scan never
/// needs more, so the rules above never reach it; bytes past it (a bug) are dropped and
/// counted (`tls_resync_held_limit`), so memory stays bounded whatever the framer does.
pub const RESYNC_MAX_HELD: usize = HEADER_LEN + MAX_FRAGMENT + HEADER_LEN;

/// Content types (RFC 8446 §5.1).
pub const CHANGE_CIPHER_SPEC: u8 = 20;
pub const ALERT: u8 = 21;
pub const HANDSHAKE: u8 = 22;
pub const APPLICATION_DATA: u8 = 23;
pub const HEARTBEAT: u8 = 24;

/// Whether `h` is a plausible record header: a known content type, major version 3 with
/// a minor version of at most 4 (SSL 3.0 to TLS 1.3 drafts), a length within bounds.
pub fn plausible_header(h: &[u8]) -> bool {
    h.len() >= HEADER_LEN
        && (CHANGE_CIPHER_SPEC..=HEARTBEAT).contains(&h[0])
        && h[1] == 3
        && h[2] <= 4
        && usize::from(u16::from_be_bytes([h[3], h[4]])) <= MAX_FRAGMENT
}

fn fragment_len(h: &[u8]) -> usize {
    usize::from(u16::from_be_bytes([h[3], h[4]]))
}

/// One framed record.
#[derive(Debug, PartialEq, Eq)]
pub struct Record<'a> {
    pub header: [u8; HEADER_LEN],
    pub fragment: &'a [u8],
    /// The first record after the framer lost its alignment: its sequence number is not
    /// known.
    pub after_loss: bool,
    /// Bytes the header scan dropped before this record (after a loss).
    pub skipped: u64,
}

impl Record<'_> {
    pub fn content_type(&self) -> u8 {
        self.header[0]
    }
}

/// What a gap did to the framing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GapEffect {
    /// The gap fell inside one record whose header was seen: that record (ciphertext of
    /// this many fragment bytes) is lost; the framing stays aligned.
    LostRecord { fragment_len: usize },
    /// The gap took record headers: alignment is lost until a resync (`bytes` of the
    /// stream are gone, counting what was buffered of a cut record).
    Unaligned { bytes: u64 },
}

/// Record framing of one direction.
#[derive(Debug, Default)]
pub struct Framer {
    buf: Vec<u8>,
    start: usize,
    /// Bytes of a lost record still to drop.
    skip: usize,
    /// Alignment lost: the next record must be found by a header scan.
    lost: bool,
    /// Bytes dropped by the header scans since the last record.
    scanned: u64,
    /// The direction ended (FIN, or the connection closed): no byte follows the buffered
    /// ones, so a scan decides what it waited for.
    ended: bool,
    /// Times the scan's hold passed `RESYNC_MAX_HELD` (taken by the layer's counter).
    held_limit_hits: u64,
}

impl Framer {
    /// Bytes of the stream that arrived.
    pub fn push(&mut self, mut data: &[u8]) {
        if self.skip > 0 {
            let n = self.skip.min(data.len());
            self.skip -= n;
            data = &data[n..];
        }
        if self.start > 0 && self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        }
        self.buf.extend_from_slice(data);
    }

    /// `len` bytes of the stream are lost.
    pub fn gap(&mut self, len: u64) -> GapEffect {
        let pending = &self.buf[self.start..];
        let cut = (!self.lost && pending.len() >= HEADER_LEN && self.skip == 0)
            .then(|| HEADER_LEN + fragment_len(pending));
        let buffered = pending.len() as u64;
        self.buf.clear();
        self.start = 0;
        if self.skip > 0 {
            // Still inside a lost record: the gap continues it, or runs past its end.
            let skip = self.skip as u64;
            if len < skip {
                self.skip -= len as usize;
                return GapEffect::LostRecord { fragment_len: 0 };
            }
            self.skip = 0;
            if len == skip {
                return GapEffect::LostRecord { fragment_len: 0 };
            }
            self.lost = true;
            return GapEffect::Unaligned { bytes: len - skip };
        }
        if let Some(total) = cut {
            let rest = total as u64 - buffered;
            if len <= rest {
                self.skip = (rest - len) as usize;
                return GapEffect::LostRecord {
                    fragment_len: total - HEADER_LEN,
                };
            }
            self.lost = true;
            return GapEffect::Unaligned {
                bytes: buffered + len,
            };
        }
        self.lost = true;
        GapEffect::Unaligned {
            bytes: buffered + len,
        }
    }

    /// The next whole record, if one is buffered. `Err(())` means the bytes are not TLS
    /// records at this point (a bad header while aligned): the caller decides (the framer
    /// then scans as after a gap).
    #[allow(clippy::result_unit_err)]
    pub fn next_record(&mut self) -> Result<Option<Record<'_>>, ()> {
        let after_loss = self.lost;
        if self.lost && !self.resync() {
            return Ok(None);
        }
        let pending = &self.buf[self.start..];
        if pending.len() < HEADER_LEN {
            return Ok(None);
        }
        if !plausible_header(pending) {
            self.lost = true;
            return Err(());
        }
        let total = HEADER_LEN + fragment_len(pending);
        if pending.len() < total {
            return Ok(None);
        }
        let at = self.start;
        self.start += total;
        let mut header = [0u8; HEADER_LEN];
        header.copy_from_slice(&self.buf[at..at + HEADER_LEN]);
        Ok(Some(Record {
            header,
            fragment: &self.buf[at + HEADER_LEN..at + total],
            after_loss,
            skipped: std::mem::take(&mut self.scanned),
        }))
    }

    /// Drops what was framed, keeping the incomplete tail (call after the records of a
    /// push were handled).
    pub fn compact(&mut self) {
        if self.start == 0 {
            return;
        }
        self.buf.drain(..self.start);
        self.start = 0;
        if self.buf.capacity() > 4 * MAX_FRAGMENT && self.buf.len() < MAX_FRAGMENT {
            self.buf.shrink_to(MAX_FRAGMENT);
        }
    }

    /// Whether the framer is looking for a header after a loss.
    pub fn is_lost(&self) -> bool {
        self.lost
    }

    /// The direction ended: no byte follows the buffered ones. A header scan then takes a
    /// record that ends exactly at the last byte (call `next_record` after it).
    pub fn finish(&mut self) {
        self.ended = true;
    }

    /// Whether `finish` was called.
    pub fn is_finished(&self) -> bool {
        self.ended
    }

    /// Times the scan's hold passed `RESYNC_MAX_HELD` since the last call.
    pub fn take_held_limit_hits(&mut self) -> u64 {
        std::mem::take(&mut self.held_limit_hits)
    }

    /// Looks for a header that chains: the record it announces is followed by another
    /// plausible header, or, once the direction ended, ends exactly at its last byte.
    /// Bytes before it are dropped. Returns whether alignment was found.
    ///
    /// A record that ends exactly at the end of the buffered bytes before the direction
    /// ended waits for the next header: taking it at once would make the outcome depend on
    /// where a segment ended (fed whole, bytes after it may show it does not chain; fed in
    /// pieces, the piece ending with it would have been taken). Found by `tls_split`.
    fn resync(&mut self) -> bool {
        let pending = &self.buf[self.start..];
        let mut i = 0;
        while i + HEADER_LEN <= pending.len() {
            let h = &pending[i..];
            if plausible_header(h) {
                let end = i + HEADER_LEN + fragment_len(h);
                let chains = match pending.get(end..) {
                    Some(next) if next.len() >= HEADER_LEN => plausible_header(next),
                    // At the direction's end: nothing follows to deny it.
                    Some([]) if self.ended => true,
                    // At the direction's end, the record runs past it, or what follows it
                    // is too short for a header: it does not chain.
                    Some(_) | None if self.ended => false,
                    // The record or the next header is not complete yet: wait for more
                    // bytes (or the direction's end).
                    Some(_) | None => {
                        self.drop_front(i);
                        return false;
                    }
                };
                if chains {
                    self.drop_front(i);
                    self.lost = false;
                    return true;
                }
            }
            i += 1;
        }
        // Keep the last bytes: a header may start among them.
        self.drop_front(pending.len().saturating_sub(HEADER_LEN - 1));
        false
    }

    fn drop_front(&mut self, n: usize) {
        self.start += n;
        self.scanned += n as u64;
        // The scan keeps a candidate and the header after it, or the last bytes where a
        // header may start: never more than `RESYNC_MAX_HELD`. Should it (a bug), the
        // bytes before the last `RESYNC_MAX_HELD` go, counted.
        let pending = self.buf.len() - self.start;
        if pending > RESYNC_MAX_HELD {
            let drop = pending - RESYNC_MAX_HELD;
            self.start += drop;
            self.scanned += drop as u64;
            self.held_limit_hits += 1;
        }
    }

    /// Heap bytes held.
    pub fn mem_bytes(&self) -> usize {
        self.buf.capacity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(ty: u8, body: &[u8]) -> Vec<u8> {
        let mut v = vec![ty, 3, 3];
        v.extend_from_slice(&(body.len() as u16).to_be_bytes());
        v.extend_from_slice(body);
        v
    }

    fn drain(f: &mut Framer) -> Vec<(u8, Vec<u8>, bool)> {
        let mut out = Vec::new();
        while let Ok(Some(r)) = f.next_record() {
            out.push((r.content_type(), r.fragment.to_vec(), r.after_loss));
        }
        f.compact();
        out
    }

    #[test]
    fn records_split_at_every_byte_come_out_whole() {
        let stream: Vec<u8> = [rec(22, b"hello"), rec(23, &[7; 300]), rec(21, b"ab")].concat();
        for cut in 0..stream.len() {
            let mut f = Framer::default();
            f.push(&stream[..cut]);
            let mut got = drain(&mut f);
            f.push(&stream[cut..]);
            got.extend(drain(&mut f));
            assert_eq!(
                got.iter()
                    .map(|(t, b, _)| (*t, b.len()))
                    .collect::<Vec<_>>(),
                vec![(22, 5), (23, 300), (21, 2)],
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn a_gap_inside_a_record_loses_that_record_only() {
        let a = rec(23, &[1; 100]);
        let b = rec(23, &[2; 50]);
        let mut f = Framer::default();
        f.push(&a[..30]);
        assert!(drain(&mut f).is_empty());
        // 40 bytes lost, the rest of `a` then `b` arrive.
        assert_eq!(f.gap(40), GapEffect::LostRecord { fragment_len: 100 });
        f.push(&a[70..]);
        f.push(&b);
        assert_eq!(drain(&mut f), vec![(23, vec![2; 50], false)]);
    }

    #[test]
    fn a_gap_that_takes_a_header_resyncs_on_chaining_headers() {
        let a = rec(23, &[1; 100]);
        let b = rec(23, &[0x17; 60]); // body full of bytes that look like a header start
        let c = rec(23, &[3; 40]);
        let mut f = Framer::default();
        f.push(&a[..50]);
        assert!(matches!(f.gap(80), GapEffect::Unaligned { bytes: 130 }));
        // The tail of `b`, then `c` and a fourth record.
        let stream = [&b[(130 - 105)..], &c[..], &rec(23, &[4; 10])[..]].concat();
        f.push(&stream);
        let got = drain(&mut f);
        assert_eq!(got.first().map(|r| (r.1.len(), r.2)), Some((40, true)));
        assert_eq!(got.get(1).map(|r| (r.1.len(), r.2)), Some((10, false)));
    }

    #[test]
    fn a_bad_header_while_aligned_is_reported_and_then_scanned_past() {
        let mut f = Framer::default();
        f.push(b"GET / HTTP/1.1\r\n");
        assert!(f.next_record().is_err());
        f.push(&rec(23, b"xyz"));
        // It ends at the last byte: taken only once the direction ended.
        assert!(drain(&mut f).is_empty());
        f.finish();
        assert_eq!(drain(&mut f), vec![(23, b"xyz".to_vec(), true)]);
    }

    /// After a loss, a candidate record ending at the end of the bytes so far waits for
    /// the header after it: fed whole, the bytes after it show it does not chain and the
    /// scan goes on; it must not have been taken when a piece ended with it.
    #[test]
    fn a_record_ending_at_the_buffer_end_waits_for_the_next_header() {
        // A fake header announcing 3 bytes, then the real records: the fake one ends where
        // `b`'s header starts inside a body, followed by bytes that are no header.
        let fake = [23u8, 3, 3, 0, 3, 1, 2, 3];
        let b = rec(23, b"second");
        let stream = [&fake[..], &[0xff; 6][..], &b[..], &rec(22, b"third")[..]].concat();
        let whole = {
            let mut f = Framer::default();
            f.gap(7);
            f.push(&stream);
            let mut got = drain(&mut f);
            f.finish();
            got.extend(drain(&mut f));
            got
        };
        assert_eq!(whole.first().map(|r| r.1.clone()), Some(b"second".to_vec()));
        for cut in 0..=stream.len() {
            let mut f = Framer::default();
            f.gap(7);
            f.push(&stream[..cut]);
            let mut got = drain(&mut f);
            f.push(&stream[cut..]);
            got.extend(drain(&mut f));
            f.finish();
            got.extend(drain(&mut f));
            assert_eq!(got, whole, "cut at {cut}");
        }
    }

    /// Whatever the bytes after a loss, the records framed are the same fed whole, byte
    /// by byte, or cut in two anywhere (the scan's decisions depend on the bytes only).
    #[test]
    fn a_scan_gives_the_same_records_at_any_split() {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for round in 0..200 {
            // Bytes rich in header-like runs: content types, 3, small versions, lengths.
            let len = 20 + (round * 7) % 300;
            let stream: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    [20, 21, 22, 23, 3, 3, 1, 0, 0, 4, 9, 0x41][(x % 12) as usize]
                })
                .collect();
            let feed = |pieces: &[&[u8]]| {
                let mut f = Framer::default();
                f.gap(3);
                let mut got = Vec::new();
                for p in pieces {
                    f.push(p);
                    got.extend(drain(&mut f));
                }
                f.finish();
                got.extend(drain(&mut f));
                got
            };
            let whole = feed(&[&stream]);
            let bytes: Vec<&[u8]> = stream.chunks(1).collect();
            assert_eq!(feed(&bytes), whole, "round {round}, byte by byte");
            for cut in 0..=stream.len() {
                let (a, b) = stream.split_at(cut);
                assert_eq!(feed(&[a, b]), whole, "round {round}, cut at {cut}");
            }
        }
    }

    #[test]
    fn a_scan_never_holds_more_than_a_record() {
        let mut f = Framer::default();
        f.gap(10);
        for _ in 0..100 {
            f.push(&[0u8; 4096]);
            assert!(drain(&mut f).is_empty());
        }
        assert!(f.mem_bytes() <= 4 * (HEADER_LEN + MAX_FRAGMENT) + 4096);
        assert_eq!(f.take_held_limit_hits(), 0);
    }

    /// The largest candidate record and the header after it fit in `RESYNC_MAX_HELD`: the
    /// scan decides it byte by byte as it does whole, without reaching the limit.
    #[test]
    fn a_largest_candidate_is_decided_without_reaching_the_hold_limit() {
        let big = rec(23, &vec![0x55; MAX_FRAGMENT]);
        let stream = [&[0u8; 3][..], &big[..], &rec(23, b"next")[..]].concat();
        let mut f = Framer::default();
        f.gap(1);
        let mut got = Vec::new();
        for b in stream.chunks(1) {
            f.push(b);
            got.extend(drain(&mut f));
        }
        f.finish();
        got.extend(drain(&mut f));
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].1.len(), MAX_FRAGMENT);
        assert_eq!(f.take_held_limit_hits(), 0);
    }
}
