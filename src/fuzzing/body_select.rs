//! `-drop-content-type` / `-keep-content-type` (`transform::BodySelector`) on arbitrary
//! lists and Content-Type values. Input: a flags byte (bit 0: a keep list is given; bits
//! 1-7: the body length, 0..=127), then four NUL-separated parts (lossy UTF-8 for the
//! lists): the drop list, the keep list, the request's Content-Type field bytes, the
//! response's. `-max_len` 4096 (fuzz/run.sh): `MAX_PATTERN_LEN` (255 bytes) and
//! `MAX_PATTERNS` (256 short patterns) are both reachable within it.
//!
//! Checks: a refused list names its flag. `keeps` agrees with the rule `--help` states,
//! written out here from the flags' text (case-insensitive substring of the media type,
//! parameters ignored; the keep list alone decides when given), and ignores ASCII case.
//! `apply`: a body is dropped exactly when it has bytes and its own message's type is not
//! kept; a dropped body keeps nothing but every size, coding, trailer and anomaly; nothing
//! else in the transaction changes; applying twice is applying once.

use crate::model::{Body, Decoded};
use crate::transform::body_select::{media_type, BodySelector};

/// The rule as documented, from the raw flag values.
fn model_keeps(drop: &str, keep: Option<&str>, mime: &str) -> bool {
    let essence = mime.split(';').next().unwrap_or("").trim().to_lowercase();
    let patterns = |list: &str| -> Vec<String> {
        list.split(',')
            .map(|p| p.trim().to_lowercase())
            .filter(|p| !p.is_empty())
            .collect()
    };
    let any = |list: &str| patterns(list).iter().any(|p| essence.contains(p.as_str()));
    match keep {
        Some(k) => any(k),
        None => !any(drop),
    }
}

/// Runs one input; panics when an invariant above breaks.
pub fn check(data: &[u8]) {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let mut parts = rest.splitn(4, |&b| b == 0);
    let drop = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let keep_part = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let req_type = parts.next().unwrap_or_default();
    let resp_type = parts.next().unwrap_or_default();
    let keep = (flags & 1 == 1).then_some(keep_part.as_str());
    let sel = match BodySelector::new(&drop, keep) {
        Ok(s) => s,
        Err(e) => {
            assert!(
                e.starts_with("-drop-content-type: ") || e.starts_with("-keep-content-type: "),
                "{e}"
            );
            return;
        }
    };
    for mime in [req_type, resp_type] {
        let mime = String::from_utf8_lossy(mime);
        let k = sel.keeps(&mime);
        assert_eq!(k, model_keeps(&drop, keep, &mime), "keeps({mime:?})");
        assert_eq!(
            k,
            sel.keeps(&mime.to_ascii_uppercase()),
            "case matters: {mime:?}"
        );
    }
    let field = |v: &[u8]| [b"Content-Type: ".as_slice(), v].concat();
    let body_len = usize::from(flags >> 1);
    for tx in super::exchange(&field(req_type), &field(resp_type), body_len) {
        let mut once = tx.clone();
        sel.apply(&mut once);
        let mut twice = once.clone();
        sel.apply(&mut twice);
        assert_eq!(once, twice, "applying twice differs from once");
        let kept_req = sel.keeps(&media_type(&tx.request.headers));
        body(&tx.request.body, &once.request.body, kept_req);
        match (&tx.response, &once.response) {
            (Some(a), Some(b)) => body(&a.body, &b.body, sel.keeps(&media_type(&a.headers))),
            (None, None) => {}
            _ => panic!("body selection added or removed a response"),
        }
        // Nothing else changes: with the bodies put back, the same transaction.
        let mut restored = once.clone();
        restored.request.body = tx.request.body.clone();
        if let (Some(a), Some(b)) = (&mut restored.response, &tx.response) {
            a.body = b.body.clone();
        }
        assert_eq!(restored, tx, "body selection changed more than bodies");
    }
}

fn body(before: &Body, after: &Body, kept: bool) {
    if kept || before.len == 0 {
        assert_eq!(before, after, "a kept or empty body changed");
        return;
    }
    assert!(after.dropped, "a body of a type not kept was not dropped");
    assert!(after.data.is_empty(), "a dropped body kept bytes");
    if let Decoded::Decoded { data, .. } = &after.decoded {
        assert!(data.is_empty(), "a dropped body kept decoded bytes");
    }
    // Every size and everything else as it was.
    let mut back = after.clone();
    back.data.clone_from(&before.data);
    back.decoded.clone_from(&before.decoded);
    back.dropped = before.dropped;
    assert_eq!(&back, before, "dropping changed more than the kept bytes");
}
