//! TCP options httshark reads: segment authentication (MD5, TCP-AO) and timestamps.

/// TCP option kinds of a segment authentication: MD5 signature (RFC 2385) and TCP-AO
/// (RFC 5925).
const TCP_OPT_MD5: u8 = 19;
const TCP_OPT_AO: u8 = 29;

/// TCP option kind of the timestamps option (RFC 7323 §3.2: kind 8, length 10).
const TCP_OPT_TIMESTAMPS: u8 = 8;

/// Walks the TCP options (RFC 9293 §3.1: kind 0 ends the list, kind 1 is one byte of
/// padding, any other kind has a length byte covering kind and length) and returns the
/// first for which `f(kind, option bytes)` gives a value.
fn find_option<T>(mut opts: &[u8], f: impl Fn(u8, &[u8]) -> Option<T>) -> Option<T> {
    while let Some(&kind) = opts.first() {
        match kind {
            0 => return None,
            1 => opts = opts.get(1..).unwrap_or_default(),
            _ => {
                let len = opts.get(1).copied().unwrap_or(0) as usize;
                if len < 2 {
                    return None;
                }
                // A length past the end: the bytes that are there (a truncated option).
                if let Some(v) = f(kind, opts.get(..len).unwrap_or(opts)) {
                    return Some(v);
                }
                opts = opts.get(len..).unwrap_or_default();
            }
        }
    }
    None
}

pub(super) fn has_auth_option(opts: &[u8]) -> bool {
    find_option(opts, |kind, _| {
        matches!(kind, TCP_OPT_MD5 | TCP_OPT_AO).then_some(())
    })
    .is_some()
}

/// (TSval, TSecr) of a well-formed timestamps option; a malformed one is ignored, as a
/// receiver ignores it.
pub(super) fn timestamp_option(opts: &[u8]) -> Option<(u32, u32)> {
    find_option(opts, |kind, o| {
        if kind != TCP_OPT_TIMESTAMPS || o.len() != 10 {
            return None;
        }
        let word = |at: usize| Some(u32::from_be_bytes(o.get(at..at + 4)?.try_into().ok()?));
        Some((word(2)?, word(6)?))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tcp_timestamps_option_is_read_only_when_well_formed() {
        let ts = [8, 10, 0, 0, 1, 2, 0, 0, 0, 3];
        assert_eq!(timestamp_option(&ts), Some((258, 3)));
        let mut behind = vec![1, 1, 2, 4, 5, 0xb4];
        behind.extend_from_slice(&ts);
        assert_eq!(timestamp_option(&behind), Some((258, 3)));
        assert_eq!(timestamp_option(&ts[..9]), None, "cut short");
        assert_eq!(timestamp_option(&[8, 9, 0, 0, 1, 2, 0, 0, 0]), None);
        assert_eq!(timestamp_option(&[0, 8, 10, 0, 0, 1, 2, 0, 0, 0, 3]), None);
    }

    #[test]
    fn tcp_auth_options_are_found_behind_others_and_never_past_the_end() {
        assert!(!has_auth_option(&[]));
        assert!(has_auth_option(&[19, 18]));
        assert!(has_auth_option(&[1, 1, 29, 4, 0, 0]));
        // MSS, SACK-permitted, then MD5.
        assert!(has_auth_option(&[2, 4, 5, 0xb4, 4, 2, 19, 18]));
        // End of list before it; a bad length; a length past the end.
        assert!(!has_auth_option(&[0, 19, 18]));
        assert!(!has_auth_option(&[2, 0, 19, 18]));
        assert!(!has_auth_option(&[8, 200]));
    }
}
