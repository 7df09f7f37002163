//! Undoing Content-Encoding: gzip, deflate (zlib-wrapped and raw), br, zstd, and stacks of
//! them, with a layer limit and a decoded-size limit against decompression bombs.
//!
//! What it does not do: decode partial bodies (the caller only decodes a complete body,
//! see `http::message`), or guess a coding that is not declared.
//!
//! Choices (documented in docs as well):
//! - Codings are listed in the order they were applied (RFC 9110 §8.4), so they are undone
//!   last to first. `identity` layers are skipped; any unknown coding fails the whole decode.
//! - `deflate` is zlib-wrapped per RFC 9110 §8.4.1.2, but many servers (old IIS, see the
//!   corpus capture zk_missing-zlib-header) send raw deflate: a zlib header is tried first,
//!   raw deflate second.
//! - Every layer stops after `max_out` produced bytes: the result is then `Failed` and the
//!   caller counts a `decode_limit_hits` (bomb guard). More than `max_layers` codings fail
//!   the same way, without decoding anything.
//! - A gzip or deflate stream that ends early (missing trailer or final block, e.g. a
//!   server that cut the stream short) still yields the bytes decoded so far: the result is
//!   `Decoded`, and `DecodeOutcome::stream_truncated` names the layer so the caller can
//!   flag the message (`Anomaly::DecodeFailed("... stream truncated ...")`). br and zstd
//!   streams that end early fail.
//! - With `keep` 0 (no output reads the bytes) the last layer undone is decoded for its
//!   size and its failures only: its output goes through a reused 32 KiB buffer and is
//!   counted, never stored (`Sink::Count`). The size, the failures and the limits are what
//!   storing it would give.

use std::io::Read;
use std::mem::MaybeUninit;

use crate::model::Decoded;

/// Read buffer size for the streaming decoders.
const STEP: usize = 16 * 1024;

/// Decodes `data`, encoded with `codings` in the order they were applied (as listed in
/// Content-Encoding). Keeps at most `keep` decoded bytes, stops at `max_out` bytes
/// produced per layer (the result is then `Failed`), and at most `max_layers` codings.
pub fn decode_content(
    data: &[u8],
    codings: &[String],
    keep: usize,
    max_out: usize,
    max_layers: usize,
) -> Decoded {
    let mut inflater = Inflater::default();
    decode_detailed(&mut inflater, data, codings, keep, max_out, max_layers).decoded
}

/// The result of `decode_detailed`: the decoded content and what the caller must count.
#[derive(Debug)]
pub(crate) struct DecodeOutcome {
    pub decoded: Decoded,
    /// Decoding stopped at `max_out` or `max_layers`.
    pub limit_hit: bool,
    /// A layer's stream ended before its end marker; its output so far was kept.
    pub stream_truncated: Option<String>,
}

/// Why one layer could not be decoded.
enum LayerError {
    Limit(String),
    Corrupt(String),
}

/// `decode_content` with the details the HTTP layer counts and flags.
pub(crate) fn decode_detailed(
    inflater: &mut Inflater,
    data: &[u8],
    codings: &[String],
    keep: usize,
    max_out: usize,
    max_layers: usize,
) -> DecodeOutcome {
    let layers: Vec<&str> = codings
        .iter()
        .map(|c| c.trim())
        .filter(|c| !c.is_empty() && !c.eq_ignore_ascii_case("identity"))
        .collect();
    let fail = |reason: String, limit_hit: bool| DecodeOutcome {
        decoded: Decoded::Failed { reason },
        limit_hit,
        stream_truncated: None,
    };
    if layers.is_empty() {
        return DecodeOutcome {
            decoded: Decoded::Identity,
            limit_hit: false,
            stream_truncated: None,
        };
    }
    if layers.len() > max_layers {
        return fail(
            format!(
                "{} content codings, more than the limit of {}",
                layers.len(),
                max_layers
            ),
            true,
        );
    }
    let mut stream_truncated = None;
    let mut current = Output::default();
    // Undo the last applied coding first (RFC 9110 §8.4).
    for (i, coding) in layers.iter().rev().enumerate() {
        let input: &[u8] = if i == 0 { data } else { &current.data };
        // The last layer's bytes are the body's content: with nothing kept, only counted.
        let sink = if keep == 0 && i + 1 == layers.len() {
            Sink::Count
        } else {
            Sink::Keep
        };
        let result = match coding.to_ascii_lowercase().as_str() {
            "gzip" | "x-gzip" => gunzip(inflater, input, max_out, sink),
            "deflate" => inflate_any(inflater, input, max_out, sink),
            "br" => read_all(brotli::Decompressor::new(input, STEP), "br", max_out, sink)
                .map(|v| (v, false)),
            "zstd" => match zstd::stream::read::Decoder::new(input) {
                Ok(d) => read_all(d, "zstd", max_out, sink).map(|v| (v, false)),
                Err(e) => Err(LayerError::Corrupt(format!("zstd: {e}"))),
            },
            other => Err(LayerError::Corrupt(format!(
                "unsupported content coding {other:?}"
            ))),
        };
        match result {
            Ok((out, truncated)) => {
                if truncated && stream_truncated.is_none() {
                    stream_truncated = Some(format!(
                        "{coding}: stream truncated, {} bytes decoded",
                        out.len
                    ));
                }
                current = out;
            }
            Err(LayerError::Limit(r)) => return fail(r, true),
            Err(LayerError::Corrupt(r)) => return fail(r, false),
        }
    }
    let len = current.len as u64;
    let mut current = current.data;
    let truncated = len > keep as u64;
    if truncated {
        current.truncate(keep);
        current.shrink_to_fit();
    }
    DecodeOutcome {
        decoded: Decoded::Decoded {
            data: current,
            len,
            truncated,
        },
        limit_hit: false,
        stream_truncated,
    }
}

/// Where a layer's decoded bytes go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Sink {
    /// Into `Output::data`.
    Keep,
    /// Counted in `Output::len` only: the bytes are passed through and dropped.
    Count,
}

/// One layer's decoded bytes: `data` holds all `len` of them (`Sink::Keep`), or none
/// (`Sink::Count`).
#[derive(Default)]
struct Output {
    data: Vec<u8>,
    len: usize,
}

impl Output {
    fn kept(data: Vec<u8>) -> Output {
        Output {
            len: data.len(),
            data,
        }
    }
}

/// Reads a decoder to its end, at most `max_out` bytes.
fn read_all<R: Read>(
    mut r: R,
    name: &str,
    max_out: usize,
    sink: Sink,
) -> Result<Output, LayerError> {
    let mut out = Output::default();
    let mut buf = vec![0u8; STEP];
    loop {
        match r.read(&mut buf) {
            Ok(0) => return Ok(out),
            Ok(n) => {
                if out.len + n > max_out {
                    return Err(limit(name, max_out));
                }
                out.len += n;
                if sink == Sink::Keep {
                    out.data.extend_from_slice(buf.get(..n).unwrap_or_default());
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(LayerError::Corrupt(format!("{name}: {e}"))),
        }
    }
}

fn limit(name: &str, max_out: usize) -> LayerError {
    LayerError::Limit(format!(
        "{name}: decoded size exceeds the limit of {max_out} bytes"
    ))
}

/// An inflate state, made once per worker (`HttpCtx`) and reset for each stream: making a
/// state allocates some 40 KiB (the state and its window), which was a visible share of
/// decoding small bodies. Passed in rather than kept in a thread-local, so the core holds
/// no hidden per-thread state.
#[derive(Default)]
pub struct Inflater {
    state: Option<Box<zlib_rs::Inflate>>,
    /// Where a counted stream's output goes (`Sink::Count`), made on first use; never read.
    scratch: Vec<MaybeUninit<u8>>,
}

impl std::fmt::Debug for Inflater {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inflater")
            .field("made", &self.state.is_some())
            .finish()
    }
}

/// Most output reserved ahead per input byte from a size hint: a forged gzip size field
/// cannot make a small body reserve much.
const INFLATE_HINT_RATIO: usize = 32;

/// The output buffer of a counted stream (`Sink::Count`).
const SCRATCH: usize = 32 * 1024;

/// Inflates `input` (zlib-wrapped when `zlib`) with `inflater`'s state, reset, until the
/// stream ends or the input runs out, with zlib-rs (half again as fast as miniz_oxide on
/// web pages here: docs/benchmarks.md). The output is first sized for `hint` bytes (or 4
/// per input byte without one; at most `INFLATE_HINT_RATIO` per input byte), then
/// doubled, never past `max_out` + 1 (room for one byte more tells "ends exactly at the
/// limit" from "goes on"); what is left over beyond twice the output goes back at the end,
/// as the output is kept. With `Sink::Count` the output goes through the inflater's 32 KiB
/// scratch buffer instead (zlib keeps the window matches are copied from) and only its
/// length is returned; the same `max_out` + 1 stops it, so it fails and stops where a kept
/// output would. Returns the output, whether the input ran out before the stream's end
/// (truncated stream), and how many input bytes were consumed.
fn inflate(
    inflater: &mut Inflater,
    zlib: bool,
    input: &[u8],
    name: &str,
    max_out: usize,
    hint: usize,
    sink: Sink,
) -> Result<(Output, bool, usize), LayerError> {
    use zlib_rs::{Inflate, InflateFlush, Status};
    let Inflater { state, scratch } = inflater;
    let d = match state {
        Some(d) => {
            d.reset(zlib);
            d
        }
        None => state.insert(Box::new(Inflate::new(zlib, 15))),
    };
    // One call: the input bytes taken, the output bytes written (at the start of `out`),
    // whether the stream ended.
    let mut step =
        |input: &[u8], out: &mut [MaybeUninit<u8>]| -> Result<(usize, usize, bool), LayerError> {
            let (took, gave) = (d.total_in(), d.total_out());
            let status = d.decompress_uninit(input, out, InflateFlush::NoFlush);
            let used = usize::try_from(d.total_in() - took).unwrap_or(usize::MAX);
            let wrote = usize::try_from(d.total_out() - gave).unwrap_or(usize::MAX);
            match status {
                Ok(status) => Ok((used, wrote.min(out.len()), status == Status::StreamEnd)),
                Err(_) => Err(LayerError::Corrupt(format!(
                    "{name}: deflate decompression error"
                ))),
            }
        };
    let cap = max_out.saturating_add(1);
    let (mut in_pos, mut out_pos) = (0usize, 0usize);
    // A kept output is written into its spare capacity (not zeroed first: the inflater
    // writes every byte it counts), `out.len()` being `out_pos`.
    let mut out = Vec::new();
    if sink == Sink::Count {
        scratch.resize(SCRATCH, MaybeUninit::uninit());
    } else {
        let hint = if hint == 0 {
            input.len().saturating_mul(4)
        } else {
            hint
        };
        let first = hint
            .min(input.len().saturating_mul(INFLATE_HINT_RATIO))
            .max(64)
            .min(cap);
        out.reserve_exact(first);
    }
    let truncated = loop {
        let rest = input.get(in_pos..).unwrap_or_default();
        let (given, (used, wrote, end)) = match sink {
            // Never more than `cap` in all: the same stop as a kept output.
            Sink::Count => {
                let n = SCRATCH.min(cap - out_pos);
                (n, step(rest, scratch.get_mut(..n).unwrap_or_default())?)
            }
            Sink::Keep => {
                // What the inflater may fill before the output grows.
                let n = out.capacity().min(cap) - out_pos;
                let room = out.spare_capacity_mut().get_mut(..n).unwrap_or_default();
                let stepped = step(rest, room)?;
                // SAFETY: the inflater wrote the bytes it counted (`stepped.1`, at most
                // `n`: `step` caps it) at the start of the spare capacity
                // (`decompress_uninit`'s contract).
                unsafe { out.set_len(out_pos + stepped.1) };
                (n, stepped)
            }
        };
        in_pos += used;
        out_pos += wrote;
        if end {
            break false;
        }
        if wrote == given {
            // The output filled: more may come.
            if out_pos >= cap {
                return Err(limit(name, max_out));
            }
            if sink == Sink::Keep {
                out.reserve_exact(out.capacity().saturating_mul(2).min(cap) - out_pos);
            }
        } else if in_pos >= input.len() || (used == 0 && wrote == 0) {
            // The input ended before the stream did.
            break true;
        }
    };
    if out_pos > max_out {
        return Err(limit(name, max_out));
    }
    if sink == Sink::Count {
        let counted = Output {
            data: Vec::new(),
            len: out_pos,
        };
        return Ok((counted, truncated, in_pos));
    }
    // The inflater's bytes were kept as they came (`set_len` above).
    debug_assert_eq!(out.len(), out_pos);
    if out.capacity() > 2 * out.len() + 4096 {
        out.shrink_to_fit();
    }
    Ok((Output::kept(out), truncated, in_pos))
}

/// `deflate`: zlib-wrapped when the first two bytes are a valid zlib header (RFC 1950
/// §2.2: CM = 8 and the check bits), else (or when that fails to decode) raw deflate.
fn inflate_any(
    inflater: &mut Inflater,
    input: &[u8],
    max_out: usize,
    sink: Sink,
) -> Result<(Output, bool), LayerError> {
    let zlib_header = match input {
        [cmf, flg, ..] => cmf & 0x0f == 8 && (u16::from(*cmf) << 8 | u16::from(*flg)) % 31 == 0,
        _ => false,
    };
    if zlib_header {
        match inflate(inflater, true, input, "deflate", max_out, 0, sink) {
            Ok((out, truncated, _)) => return Ok((out, truncated)),
            Err(LayerError::Limit(r)) => return Err(LayerError::Limit(r)),
            Err(LayerError::Corrupt(_)) => {}
        }
    }
    inflate(inflater, false, input, "deflate", max_out, 0, sink).map(|(o, t, _)| (o, t))
}

/// gzip (RFC 1952), with concatenated members. The header is parsed here so the deflate
/// data can go through `inflate`, which tells a truncated stream from a corrupt one.
fn gunzip(
    inflater: &mut Inflater,
    input: &[u8],
    max_out: usize,
    sink: Sink,
) -> Result<(Output, bool), LayerError> {
    let corrupt = |r: &str| LayerError::Corrupt(format!("gzip: {r}"));
    let mut out = Output::default();
    let mut rest = input;
    let mut first = true;
    loop {
        if !first && rest.iter().all(|&b| b == 0) {
            // Trailing zero padding after a member is common and harmless.
            return Ok((out, false));
        }
        let hlen = match gzip_header_len(rest) {
            Some(Ok(n)) => n,
            Some(Err(r)) => {
                return if first {
                    Err(corrupt(r))
                } else {
                    Ok((out, false))
                };
            }
            None => {
                return if first {
                    Err(corrupt("truncated header"))
                } else {
                    Ok((out, true))
                }
            }
        };
        first = false;
        let body = rest.get(hlen..).unwrap_or_default();
        let room = max_out - out.len;
        // The trailer's ISIZE: the member's size modulo 2^32, when the body holds one
        // whole member (nearly always); only a reservation hint.
        let isize = rest
            .last_chunk::<4>()
            .map_or(0, |b| u32::from_le_bytes(*b) as usize);
        let (part, truncated, used) = inflate(inflater, false, body, "gzip", room, isize, sink)?;
        if out.len == 0 {
            // The first member (nearly always the only one): moved, not copied.
            out = part;
        } else {
            out.data.extend_from_slice(&part.data);
            out.len += part.len;
        }
        if truncated {
            return Ok((out, true));
        }
        // CRC32 and ISIZE trailer (8 bytes); a missing trailer is a truncated stream.
        let after = body.get(used..).unwrap_or_default();
        match after.get(8..) {
            Some(next) if !next.is_empty() => rest = next,
            Some(_) => return Ok((out, false)),
            None => return Ok((out, true)),
        }
    }
}

/// Length of a gzip member header: None when more bytes are needed, Err when invalid.
fn gzip_header_len(b: &[u8]) -> Option<Result<usize, &'static str>> {
    const FHCRC: u8 = 2;
    const FEXTRA: u8 = 4;
    const FNAME: u8 = 8;
    const FCOMMENT: u8 = 16;
    if b.len() < 10 {
        return None;
    }
    if b.first() != Some(&0x1f) || b.get(1) != Some(&0x8b) {
        return Some(Err("bad magic"));
    }
    if b.get(2) != Some(&8) {
        return Some(Err("unknown compression method"));
    }
    let flags = *b.get(3)?;
    let mut pos = 10usize;
    if flags & FEXTRA != 0 {
        let xlen = u16::from_le_bytes([*b.get(pos)?, *b.get(pos + 1)?]) as usize;
        pos += 2 + xlen;
    }
    for flag in [FNAME, FCOMMENT] {
        if flags & flag != 0 {
            let z = b.get(pos..)?.iter().position(|&c| c == 0)?;
            pos += z + 1;
        }
    }
    if flags & FHCRC != 0 {
        pos += 2;
    }
    if pos > b.len() {
        return None;
    }
    Some(Ok(pos))
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }
    fn zlib(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }
    fn raw(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }
    fn br(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        {
            let mut w = brotli::CompressorWriter::new(&mut out, 4096, 5, 22);
            w.write_all(data).unwrap();
        }
        out
    }
    fn c(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }
    fn ok(d: Decoded) -> Vec<u8> {
        match d {
            Decoded::Decoded {
                data,
                len,
                truncated: false,
            } => {
                assert_eq!(len as usize, data.len());
                data
            }
            other => panic!("not decoded: {other:?}"),
        }
    }
    const TEXT: &[u8] = b"hello hello hello hello, this is the content of the body\n";

    #[test]
    fn each_coding_round_trips() {
        assert_eq!(
            ok(decode_content(&gz(TEXT), &c(&["gzip"]), 1000, 1000, 4)),
            TEXT
        );
        assert_eq!(
            ok(decode_content(&gz(TEXT), &c(&["x-gzip"]), 1000, 1000, 4)),
            TEXT
        );
        assert_eq!(
            ok(decode_content(&zlib(TEXT), &c(&["deflate"]), 1000, 1000, 4)),
            TEXT
        );
        assert_eq!(
            ok(decode_content(&raw(TEXT), &c(&["deflate"]), 1000, 1000, 4)),
            TEXT
        );
        assert_eq!(
            ok(decode_content(&br(TEXT), &c(&["br"]), 1000, 1000, 4)),
            TEXT
        );
        let z = zstd::encode_all(TEXT, 3).unwrap();
        assert_eq!(ok(decode_content(&z, &c(&["zstd"]), 1000, 1000, 4)), TEXT);
        assert_eq!(
            decode_content(TEXT, &c(&["identity"]), 1000, 1000, 4),
            Decoded::Identity
        );
        assert_eq!(decode_content(TEXT, &[], 1000, 1000, 4), Decoded::Identity);
    }

    #[test]
    fn stacked_codings_are_undone_in_reverse() {
        let data = br(&gz(TEXT));
        assert_eq!(
            ok(decode_content(&data, &c(&["gzip", "br"]), 1000, 1000, 4)),
            TEXT
        );
        assert!(matches!(
            decode_content(&data, &c(&["br", "gzip"]), 1000, 1000, 4),
            Decoded::Failed { .. }
        ));
        let double = gz(&gz(TEXT));
        assert_eq!(
            ok(decode_content(
                &double,
                &c(&["gzip", "identity", "gzip"]),
                1000,
                1000,
                4
            )),
            TEXT
        );
    }

    #[test]
    fn layer_limit_fails_and_counts() {
        let data = gz(&gz(&gz(TEXT)));
        let out = decode_detailed(
            &mut Inflater::default(),
            &data,
            &c(&["gzip", "gzip", "gzip"]),
            1000,
            1000,
            2,
        );
        assert!(out.limit_hit);
        assert!(matches!(out.decoded, Decoded::Failed { .. }));
    }

    #[test]
    fn bomb_guard_stops_at_max_out() {
        let big = vec![b'a'; 1 << 20];
        for (enc, name) in [
            (gz(&big), "gzip"),
            (zlib(&big), "deflate"),
            (br(&big), "br"),
        ] {
            let out = decode_detailed(
                &mut Inflater::default(),
                &enc,
                &c(&[name]),
                100,
                64 * 1024,
                4,
            );
            assert!(out.limit_hit, "{name}");
            assert!(matches!(out.decoded, Decoded::Failed { .. }), "{name}");
        }
        let z = zstd::encode_all(&big[..], 3).unwrap();
        assert!(
            decode_detailed(
                &mut Inflater::default(),
                &z,
                &c(&["zstd"]),
                100,
                64 * 1024,
                4
            )
            .limit_hit
        );
        // Exactly at the limit is fine.
        let exact = decode_detailed(
            &mut Inflater::default(),
            &gz(&big),
            &c(&["gzip"]),
            10,
            1 << 20,
            4,
        );
        assert!(!exact.limit_hit);
        assert_eq!(
            exact.decoded,
            Decoded::Decoded {
                data: vec![b'a'; 10],
                len: 1 << 20,
                truncated: true
            }
        );
    }

    #[test]
    fn a_forged_gzip_size_reserves_little_and_decodes_the_same() {
        let text = b"hello hello hello hello".repeat(4);
        let mut enc = gz(&text);
        let n = enc.len();
        enc[n - 4..].copy_from_slice(&u32::MAX.to_le_bytes());
        let out = decode_detailed(
            &mut Inflater::default(),
            &enc,
            &c(&["gzip"]),
            1 << 20,
            1 << 30,
            4,
        );
        let Decoded::Decoded { data, len, .. } = out.decoded else {
            panic!("{:?}", out.decoded);
        };
        assert_eq!((data.as_slice(), len), (text.as_slice(), text.len() as u64));
        assert!(
            data.capacity() <= 4096 + 2 * data.len(),
            "{}",
            data.capacity()
        );
        // The true size as the hint: reserved once, exactly.
        let big: Vec<u8> = (0..50_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        let out = decode_detailed(
            &mut Inflater::default(),
            &gz(&big),
            &c(&["gzip"]),
            1 << 20,
            1 << 30,
            4,
        );
        let Decoded::Decoded { data, .. } = out.decoded else {
            panic!("{:?}", out.decoded);
        };
        assert_eq!(data, big);
        assert!(data.capacity() < 2 * big.len(), "{}", data.capacity());
    }

    #[test]
    fn truncated_gzip_keeps_decoded_bytes_and_says_so() {
        let big: Vec<u8> = (0..20000u32).flat_map(|i| i.to_le_bytes()).collect();
        let enc = gz(&big);
        // Trailer missing.
        let out = decode_detailed(
            &mut Inflater::default(),
            enc.get(..enc.len() - 8).unwrap(),
            &c(&["gzip"]),
            1 << 20,
            1 << 20,
            4,
        );
        assert_eq!(ok(out.decoded), big);
        assert!(out.stream_truncated.is_some());
        // Cut in the middle of the deflate data: a prefix comes out.
        let out = decode_detailed(
            &mut Inflater::default(),
            enc.get(..enc.len() / 2).unwrap(),
            &c(&["gzip"]),
            1 << 20,
            1 << 20,
            4,
        );
        assert!(out.stream_truncated.is_some());
        let data = ok(out.decoded);
        assert!(!data.is_empty() && big.starts_with(&data));
        // Complete stream: no flag.
        assert!(decode_detailed(
            &mut Inflater::default(),
            &enc,
            &c(&["gzip"]),
            1 << 20,
            1 << 20,
            4
        )
        .stream_truncated
        .is_none());
    }

    #[test]
    fn concatenated_gzip_members() {
        let mut data = gz(b"abc");
        data.extend(gz(b"def"));
        assert_eq!(
            ok(decode_content(&data, &c(&["gzip"]), 100, 100, 4)),
            b"abcdef"
        );
    }

    #[test]
    fn garbage_and_unknown_codings_fail() {
        for name in ["gzip", "deflate", "br", "zstd", "compress", "bogus"] {
            let d = decode_content(
                b"\x00\x01garbage that is not compressed",
                &c(&[name]),
                100,
                100,
                4,
            );
            assert!(matches!(d, Decoded::Failed { .. }), "{name}: {d:?}");
        }
    }

    #[test]
    fn keep_limit_truncates_data_not_len() {
        let d = decode_content(&gz(TEXT), &c(&["gzip"]), 5, 1000, 4);
        assert_eq!(
            d,
            Decoded::Decoded {
                data: TEXT[..5].to_vec(),
                len: TEXT.len() as u64,
                truncated: true
            }
        );
    }

    #[test]
    fn one_inflater_reused_across_zlib_raw_and_gzip_streams_decodes_each_as_fresh() {
        let data = b"hello hello hello, reused inflate state".to_vec();
        let mut inflater = Inflater::default();
        for (enc, coding) in [
            (zlib(&data), "deflate"),
            (raw(&data), "deflate"),
            (gz(&data), "gzip"),
            (gz(&data[..5]), "gzip"),
            (zlib(&data), "deflate"),
        ] {
            let fresh =
                decode_detailed(&mut Inflater::default(), &enc, &c(&[coding]), 1000, 1000, 4);
            let reused = decode_detailed(&mut inflater, &enc, &c(&[coding]), 1000, 1000, 4);
            assert_eq!(reused.decoded, fresh.decoded);
            assert!(
                matches!(reused.decoded, Decoded::Decoded { .. }),
                "{coding}"
            );
        }
        // A corrupt stream leaves the state reusable.
        let bad = decode_detailed(
            &mut inflater,
            b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\xff\xff\xff\xff",
            &c(&["gzip"]),
            1000,
            1000,
            4,
        );
        assert!(matches!(bad.decoded, Decoded::Failed { .. }));
        let again = decode_detailed(&mut inflater, &gz(&data), &c(&["gzip"]), 1000, 1000, 4);
        assert!(matches!(again.decoded, Decoded::Decoded { data: ref d, .. } if d == &data));
    }

    /// Counting the last layer (`keep` 0) gives what keeping it would: the same size, the
    /// same failure and reason, the same limit and truncation, on streams longer than the
    /// 32 KiB window, cut short, corrupted (a match reaching before the first byte
    /// included), concatenated and stacked; with one inflater reused throughout, so a
    /// stale window cannot hide a corrupt stream.
    #[test]
    fn counting_a_body_gives_what_keeping_it_would() {
        // 300 KB of words from a small generator: compressible, with long-range matches.
        let mut x = 0x2545_f491_u32;
        let text: Vec<u8> = (0..60_000)
            .flat_map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                let word: &[u8] = [&b"alpha "[..], b"beta ", b"gamma ", b"delta\n"][x as usize % 4];
                word.to_vec()
            })
            .collect();
        let mut streams: Vec<(Vec<u8>, Vec<&str>)> = Vec::new();
        for (enc, coding) in [
            (gz(&text), "gzip"),
            (zlib(&text), "deflate"),
            (raw(&text), "deflate"),
            (br(&text), "br"),
            (zstd::encode_all(&text[..], 3).unwrap(), "zstd"),
        ] {
            let n = enc.len();
            streams.push((enc.clone(), vec![coding]));
            streams.push((enc[..n - 8].to_vec(), vec![coding]));
            streams.push((enc[..n / 2].to_vec(), vec![coding]));
            for at in [n / 3, n / 2, n - 20] {
                let mut bad = enc.clone();
                bad[at] ^= 0x5a;
                streams.push((bad, vec![coding]));
            }
        }
        // Two gzip members; a stack; a raw deflate stream whose first match reaches back
        // before its start (a fixed-Huffman block: literal 'a', then length 3, distance 2).
        let mut two = gz(&text);
        two.extend_from_slice(&gz(b"second member"));
        streams.push((two, vec!["gzip"]));
        streams.push((br(&gz(&text)), vec!["gzip", "br"]));
        streams.push((vec![0x4b, 0x04, 0x42, 0x00], vec!["deflate"]));
        let mut reused = Inflater::default();
        for (enc, codings) in &streams {
            for max_out in [1 << 20, 100_000, 40_000] {
                let codings = c(codings);
                let kept =
                    decode_detailed(&mut Inflater::default(), enc, &codings, 1 << 21, max_out, 4);
                let counted = decode_detailed(&mut reused, enc, &codings, 0, max_out, 4);
                let what = format!("{codings:?} {} bytes, max_out {max_out}", enc.len());
                assert_eq!(counted.limit_hit, kept.limit_hit, "{what}");
                assert_eq!(counted.stream_truncated, kept.stream_truncated, "{what}");
                match (&counted.decoded, &kept.decoded) {
                    (
                        Decoded::Decoded {
                            data,
                            len,
                            truncated,
                        },
                        Decoded::Decoded { len: want, .. },
                    ) => {
                        assert!(data.is_empty(), "{what}");
                        assert_eq!(len, want, "{what}");
                        assert_eq!(*truncated, *len > 0, "{what}");
                    }
                    (a, b) => assert_eq!(a, b, "{what}"),
                }
            }
        }
    }
}
