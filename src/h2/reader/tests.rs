//! Frame headers, payload layouts and `FrameReader` at any split, across gaps and resync.

use crate::h2::frame::*;
use crate::h2::reader::{FrameReader, GapEffect, ReadEvent};
use crate::h2::testing::frame as enc;
use crate::time::Timestamp;

/// What an event says, owned (for comparing runs split differently).
#[derive(Debug, PartialEq, Eq)]
enum Ev {
    Frame(u8, u8, u32, Vec<u8>),
    Data(u32, Vec<u8>, bool),
    BadData(u32),
    Skipped(u8, u32),
    Resynced(u64),
}

/// Reads `chunks` through one reader; DATA pieces of a frame are joined.
fn read(reader: &mut FrameReader, chunks: &[&[u8]]) -> Vec<Ev> {
    let mut out: Vec<Ev> = Vec::new();
    for chunk in chunks {
        let mut queue: Vec<Vec<u8>> = vec![chunk.to_vec()];
        while let Some(bytes) = queue.pop() {
            let mut pos = 0;
            loop {
                let mut rest = &bytes[pos..];
                let before = rest.len();
                let ev = reader.next(&mut rest, Timestamp::default(), DEFAULT_MAX_FRAME);
                pos += before - rest.len();
                match ev {
                    None => break,
                    Some(ReadEvent::Frame {
                        header, payload, ..
                    }) => out.push(Ev::Frame(
                        header.kind,
                        header.flags,
                        header.stream,
                        payload.to_vec(),
                    )),
                    Some(ReadEvent::Data {
                        header,
                        bytes: b,
                        first,
                        last,
                        ..
                    }) => {
                        let end = last && header.has(FLAG_END_STREAM);
                        match out.last_mut() {
                            Some(Ev::Data(_, v, e)) if !first => {
                                v.extend_from_slice(b);
                                *e = end;
                            }
                            _ => out.push(Ev::Data(header.stream, b.to_vec(), end)),
                        }
                    }
                    Some(ReadEvent::BadData { header }) => out.push(Ev::BadData(header.stream)),
                    Some(ReadEvent::Skipped { header }) => {
                        out.push(Ev::Skipped(header.kind, header.len))
                    }
                    Some(ReadEvent::Resynced { skipped }) => {
                        out.push(Ev::Resynced(skipped));
                        let replay = reader.take_replay();
                        let rest = bytes[pos..].to_vec();
                        queue.push(rest);
                        queue.push(replay);
                        break;
                    }
                }
            }
        }
    }
    out
}

#[test]
fn headers_parse_and_encode_both_ways() {
    let h = FrameHeader {
        len: 0x01_02_03,
        kind: HEADERS,
        flags: 0x25,
        stream: 0x7fff_fffe,
    };
    assert_eq!(FrameHeader::parse(&h.encode()), Some(h));
    // The reserved bit is ignored.
    let mut b = h.encode();
    b[5] |= 0x80;
    assert_eq!(FrameHeader::parse(&b), Some(h));
    assert_eq!(FrameHeader::parse(&b[..8]), None);
}

#[test]
fn every_type_and_flag_is_plausible_only_where_the_rfc_allows_it() {
    let p = |kind, flags, stream, len| {
        FrameHeader {
            len,
            kind,
            flags,
            stream,
        }
        .plausible(DEFAULT_MAX_FRAME)
    };
    assert!(p(DATA, FLAG_END_STREAM | FLAG_PADDED, 1, 100));
    assert!(!p(DATA, FLAG_END_HEADERS, 1, 100));
    assert!(!p(DATA, 0, 0, 100));
    assert!(p(HEADERS, 0x2d, 3, 10));
    assert!(!p(HEADERS, 0x2, 3, 10));
    assert!(p(PRIORITY, 0, 3, 5) && !p(PRIORITY, 0, 3, 4));
    assert!(p(RST_STREAM, 0, 3, 4) && !p(RST_STREAM, 0, 0, 4));
    assert!(p(SETTINGS, FLAG_ACK, 0, 0) && p(SETTINGS, 0, 0, 12));
    assert!(!p(SETTINGS, 0, 0, 7) && !p(SETTINGS, 0, 1, 6));
    assert!(p(PUSH_PROMISE, FLAG_END_HEADERS | FLAG_PADDED, 1, 4));
    assert!(!p(PUSH_PROMISE, FLAG_END_STREAM, 1, 4));
    assert!(p(PING, FLAG_ACK, 0, 8) && !p(PING, 0, 0, 9));
    assert!(p(GOAWAY, 0, 0, 8) && !p(GOAWAY, 0, 1, 8));
    assert!(p(WINDOW_UPDATE, 0, 0, 4) && p(WINDOW_UPDATE, 0, 5, 4));
    assert!(p(CONTINUATION, FLAG_END_HEADERS, 1, 3) && !p(CONTINUATION, 1, 1, 3));
    assert!(!p(0x0a, 0, 0, 0), "unknown types are no evidence");
    assert!(!p(DATA, 0, 1, DEFAULT_MAX_FRAME + 1));
}

#[test]
fn payload_layouts() {
    assert_eq!(strip_padding(0, b"abc"), Ok(&b"abc"[..]));
    assert_eq!(strip_padding(FLAG_PADDED, b"\x02abcXY"), Ok(&b"abc"[..]));
    assert_eq!(
        strip_padding(FLAG_PADDED, b"\x03ab"),
        Err(FrameError::BadPadding)
    );
    assert_eq!(strip_padding(FLAG_PADDED, b""), Err(FrameError::TooShort));
    let prio = [0x80, 0, 0, 1, 200, b'h', b'b'];
    assert_eq!(headers_block(FLAG_PRIORITY, &prio), Ok(&b"hb"[..]));
    assert_eq!(
        headers_block(FLAG_PRIORITY, &prio[..4]),
        Err(FrameError::TooShort)
    );
    let mut padded = vec![1];
    padded.extend_from_slice(&prio);
    padded.push(0);
    assert_eq!(
        headers_block(FLAG_PRIORITY | FLAG_PADDED, &padded),
        Ok(&b"hb"[..])
    );
    assert_eq!(push_promise(0, &[0x80, 0, 0, 4, 9]), Ok((4, &[9u8][..])));
    assert_eq!(push_promise(0, &[0, 0]), Err(FrameError::TooShort));
    assert_eq!(goaway(&[0, 0, 0, 7, 0, 0, 0, 2, b'x']), Some((7, 2)));
    assert_eq!(goaway(&[0, 0, 0, 7]), None);
    assert_eq!(u32_at(&[0, 0, 1, 0], 0), Some(256));
    let s: Vec<(u16, u32)> = settings(&[0, 1, 0, 0, 16, 0, 0, 5, 0, 0, 64, 0, 9]).collect();
    assert_eq!(s, [(1, 4096), (5, 16384)]);
}

fn sample() -> Vec<u8> {
    let mut v = enc(SETTINGS, 0, 0, &[0, 1, 0, 0, 0, 0]);
    v.extend(enc(HEADERS, FLAG_END_HEADERS, 1, b"block"));
    let mut padded = vec![2];
    padded.extend_from_slice(b"data!");
    padded.extend_from_slice(&[0, 0]);
    v.extend(enc(DATA, FLAG_PADDED, 1, &padded));
    v.extend(enc(DATA, FLAG_END_STREAM, 1, b""));
    v.extend(enc(PING, FLAG_ACK, 0, &[1; 8]));
    v.extend(enc(DATA, FLAG_PADDED, 3, &[9, 1, 2])); // pad 9 > 2: bad
    v.extend(enc(0x77, 0, 0, b"unknown"));
    v
}

#[test]
fn frames_are_the_same_at_every_split() {
    let wire = sample();
    let whole = read(&mut FrameReader::new(false), &[&wire]);
    assert_eq!(
        whole,
        [
            Ev::Frame(SETTINGS, 0, 0, vec![0, 1, 0, 0, 0, 0]),
            Ev::Frame(HEADERS, FLAG_END_HEADERS, 1, b"block".to_vec()),
            Ev::Data(1, b"data!".to_vec(), false),
            Ev::Data(1, vec![], true),
            Ev::Frame(PING, FLAG_ACK, 0, vec![1; 8]),
            Ev::BadData(3),
            Ev::Frame(0x77, 0, 0, b"unknown".to_vec()),
        ]
    );
    for cut in 0..wire.len() {
        for cut2 in [cut, (cut + 7).min(wire.len())] {
            let (a, rest) = wire.split_at(cut);
            let (b, c) = rest.split_at(cut2 - cut);
            assert_eq!(
                read(&mut FrameReader::new(false), &[a, b, c]),
                whole,
                "{cut} {cut2}"
            );
        }
    }
    let bytes: Vec<&[u8]> = wire.chunks(1).collect();
    assert_eq!(read(&mut FrameReader::new(false), &bytes), whole);
}

#[test]
fn an_oversized_frame_is_skipped_and_a_big_data_frame_streamed() {
    let big = vec![0u8; MAX_FRAME_BUFFER + 1];
    let mut wire = enc(HEADERS, FLAG_END_HEADERS, 1, &big);
    wire.extend(enc(DATA, 0, 1, &big));
    wire.extend(enc(PING, 0, 0, &[0; 8]));
    let mut r = FrameReader::new(false);
    let chunks: Vec<&[u8]> = wire.chunks(1000).collect();
    let evs = read(&mut r, &chunks);
    assert_eq!(evs.len(), 3);
    assert_eq!(evs[0], Ev::Skipped(HEADERS, big.len() as u32));
    assert!(matches!(&evs[1], Ev::Data(1, d, false) if d.len() == big.len()));
    assert!(r.heap_bytes() <= 64, "nothing of the big frames held");
}

#[test]
fn gaps_inside_frames_keep_the_framing_and_others_lose_it() {
    let mut r = FrameReader::new(false);
    let d = enc(DATA, FLAG_END_STREAM, 5, &[1; 50]);
    read(&mut r, &[&d[..20]]);
    let h = FrameHeader::parse(&d).unwrap();
    assert_eq!(
        r.gap(10),
        GapEffect::DataMissing {
            header: h,
            missing: 10
        }
    );
    let evs = read(&mut r, &[&d[30..]]);
    assert_eq!(evs, [Ev::Data(5, vec![1; 29], true)]);
    // A gap that takes a header's rest and more: lost.
    let p = enc(HEADERS, FLAG_END_HEADERS, 7, b"0123456789");
    read(&mut r, &[&p[..12]]);
    let hh = FrameHeader::parse(&p).unwrap();
    assert_eq!(r.gap(3), GapEffect::FrameLost { header: hh });
    assert_eq!(r.gap(4), GapEffect::Absorbed);
    assert_eq!(r.gap(1), GapEffect::Lost { header: None });
    assert!(r.is_lost());
}

#[test]
fn resync_needs_two_chaining_plausible_headers() {
    let mut wire = b"\x00garbage that is not a frame header at all".to_vec();
    let skipped = wire.len() as u64;
    let good = sample();
    wire.extend_from_slice(&good);
    let evs = read(&mut FrameReader::new(true), &[&wire]);
    assert_eq!(evs[0], Ev::Resynced(skipped));
    let whole = read(&mut FrameReader::new(false), &[&good]);
    assert_eq!(&evs[1..], &whole[..]);
    // Byte by byte, the same.
    let bytes: Vec<&[u8]> = wire.chunks(1).collect();
    assert_eq!(read(&mut FrameReader::new(true), &bytes), evs);
}
