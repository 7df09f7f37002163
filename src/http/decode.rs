//! Undoing Content-Encoding: gzip, deflate (zlib-wrapped and raw), br, zstd, and stacks of
//! them, with a layer limit and a decoded-size limit against decompression bombs.

use crate::model::Decoded;

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
    let _ = (data, codings, keep, max_out, max_layers);
    todo!("decode")
}
