//! HTTP/2 frames (RFC 9113 §4, §6): the 9-byte header, its plausibility (for resync), and
//! the payload layouts of every frame type: PADDED padding and HEADERS' PRIORITY fields
//! stripped (§6.1, §6.2, §6.6), SETTINGS, RST_STREAM, GOAWAY, WINDOW_UPDATE and
//! PUSH_PROMISE fields.
//!
//! What it does not do: cut a byte stream into frames (`reader.rs`) or interpret them
//! (`conn.rs`). Pure functions over byte slices; none panics on any input.

/// Bytes of a frame header (§4.1).
pub const HEADER_LEN: usize = 9;

/// The frame types of RFC 9113 §6.
pub const DATA: u8 = 0x0;
pub const HEADERS: u8 = 0x1;
pub const PRIORITY: u8 = 0x2;
pub const RST_STREAM: u8 = 0x3;
pub const SETTINGS: u8 = 0x4;
pub const PUSH_PROMISE: u8 = 0x5;
pub const PING: u8 = 0x6;
pub const GOAWAY: u8 = 0x7;
pub const WINDOW_UPDATE: u8 = 0x8;
pub const CONTINUATION: u8 = 0x9;

/// Flags (§6): END_STREAM on DATA/HEADERS, ACK on SETTINGS/PING (same bit).
pub const FLAG_END_STREAM: u8 = 0x1;
pub const FLAG_ACK: u8 = 0x1;
pub const FLAG_END_HEADERS: u8 = 0x4;
pub const FLAG_PADDED: u8 = 0x8;
pub const FLAG_PRIORITY: u8 = 0x20;

/// SETTINGS identifiers (§6.5.2).
pub const SETTINGS_HEADER_TABLE_SIZE: u16 = 0x1;
pub const SETTINGS_MAX_FRAME_SIZE: u16 = 0x5;

/// The initial SETTINGS_MAX_FRAME_SIZE (§6.5.2).
pub const DEFAULT_MAX_FRAME: u32 = 16_384;
/// The largest SETTINGS_MAX_FRAME_SIZE an endpoint may announce (2^24 - 1, §6.5.2): the
/// hard cap, as the length field cannot say more.
pub const MAX_FRAME_CAP: u32 = (1 << 24) - 1;

/// Payload bytes of one non-DATA frame held until the frame is whole, per direction.
/// HEADERS, CONTINUATION and PUSH_PROMISE frames carry header blocks (bounded again by
/// `h2::MAX_HEADER_BLOCK` across CONTINUATIONs); control frames are tiny. A larger frame
/// is skipped (`h2_frames_oversized`); if it held a header block, the direction's HPACK
/// decoder is marked desynced.
pub const MAX_FRAME_BUFFER: usize = 256 * 1024;

/// A frame header (§4.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    /// Payload length (24 bits).
    pub len: u32,
    pub kind: u8,
    pub flags: u8,
    /// Stream identifier (the reserved bit cleared).
    pub stream: u32,
}

impl FrameHeader {
    /// The header at the start of `b`, when 9 bytes are there.
    pub fn parse(b: &[u8]) -> Option<FrameHeader> {
        let h: &[u8; HEADER_LEN] = b.get(..HEADER_LEN)?.try_into().ok()?;
        Some(FrameHeader {
            len: u32::from_be_bytes([0, h[0], h[1], h[2]]),
            kind: h[3],
            flags: h[4],
            stream: u32::from_be_bytes([h[5], h[6], h[7], h[8]]) & 0x7fff_ffff,
        })
    }

    /// The 9 bytes of this header (tests and the test encoder).
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let l = self.len.to_be_bytes();
        let s = self.stream.to_be_bytes();
        [
            l[1], l[2], l[3], self.kind, self.flags, s[0], s[1], s[2], s[3],
        ]
    }

    pub fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }

    /// Whether this could be a real frame header of a direction whose frames may be
    /// `max_frame` bytes long: a known type (unknown ones carry no information to check),
    /// a length within `max_frame` and the type's fixed size, only flags the type defines,
    /// a stream id where the type needs one (or none where it must not). Used to find the
    /// frame boundary again after a gap or at a pickup (research §7.5).
    pub fn plausible(&self, max_frame: u32) -> bool {
        if self.len > max_frame {
            return false;
        }
        let (flags, stream, len_ok) = match self.kind {
            DATA => (FLAG_END_STREAM | FLAG_PADDED, Some(true), true),
            HEADERS => (
                FLAG_END_STREAM | FLAG_END_HEADERS | FLAG_PADDED | FLAG_PRIORITY,
                Some(true),
                true,
            ),
            PRIORITY => (0, Some(true), self.len == 5),
            RST_STREAM => (0, Some(true), self.len == 4),
            SETTINGS => (FLAG_ACK, Some(false), self.len % 6 == 0),
            PUSH_PROMISE => (FLAG_END_HEADERS | FLAG_PADDED, Some(true), self.len >= 4),
            PING => (FLAG_ACK, Some(false), self.len == 8),
            GOAWAY => (0, Some(false), self.len >= 8),
            WINDOW_UPDATE => (0, None, self.len == 4),
            CONTINUATION => (FLAG_END_HEADERS, Some(true), true),
            _ => return false,
        };
        let stream_ok = match stream {
            Some(true) => self.stream != 0,
            Some(false) => self.stream == 0,
            None => true,
        };
        len_ok && stream_ok && self.flags & !flags == 0
    }
}

/// Why a frame's payload could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameError {
    /// The pad length is not less than the payload (§6.1: PROTOCOL_ERROR).
    BadPadding,
    /// The payload is shorter than the type's fixed fields.
    TooShort,
}

/// The payload of a PADDED frame without its pad length byte and padding (§6.1).
pub fn strip_padding(flags: u8, payload: &[u8]) -> Result<&[u8], FrameError> {
    if flags & FLAG_PADDED == 0 {
        return Ok(payload);
    }
    let (&pad, rest) = payload.split_first().ok_or(FrameError::TooShort)?;
    let keep = rest
        .len()
        .checked_sub(usize::from(pad))
        .ok_or(FrameError::BadPadding)?;
    rest.get(..keep).ok_or(FrameError::BadPadding)
}

/// A HEADERS payload's header block fragment: padding and the PRIORITY fields (stream
/// dependency, weight: 5 bytes, §6.2) stripped.
pub fn headers_block(flags: u8, payload: &[u8]) -> Result<&[u8], FrameError> {
    let p = strip_padding(flags, payload)?;
    if flags & FLAG_PRIORITY != 0 {
        p.get(5..).ok_or(FrameError::TooShort)
    } else {
        Ok(p)
    }
}

/// A PUSH_PROMISE payload (§6.6): the promised stream id and the header block fragment.
pub fn push_promise(flags: u8, payload: &[u8]) -> Result<(u32, &[u8]), FrameError> {
    let p = strip_padding(flags, payload)?;
    let id = p.get(..4).ok_or(FrameError::TooShort)?;
    let id = u32::from_be_bytes([id[0], id[1], id[2], id[3]]) & 0x7fff_ffff;
    Ok((id, p.get(4..).unwrap_or_default()))
}

/// A 4-byte big-endian value at the start of `p` (RST_STREAM's error code, §6.4;
/// WINDOW_UPDATE's increment, §6.9).
pub fn u32_at(p: &[u8], at: usize) -> Option<u32> {
    let b = p.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

/// A GOAWAY payload (§6.8): the last stream id and the error code (debug data ignored).
pub fn goaway(p: &[u8]) -> Option<(u32, u32)> {
    Some((u32_at(p, 0)? & 0x7fff_ffff, u32_at(p, 4)?))
}

/// The (identifier, value) pairs of a SETTINGS payload (§6.5.1); a trailing partial
/// entry is ignored.
pub fn settings(p: &[u8]) -> impl Iterator<Item = (u16, u32)> + '_ {
    p.chunks_exact(6).map(|c| {
        (
            u16::from_be_bytes([c[0], c[1]]),
            u32::from_be_bytes([c[2], c[3], c[4], c[5]]),
        )
    })
}
