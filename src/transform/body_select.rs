//! Body selection by media type: `-drop-content-type` and `-keep-content-type`.
//!
//! Each message is judged by its **own** `Content-Type`: the request body by the request's,
//! the response body by the response's. (The original HttShark blanked the response body
//! when the *request's* type matched, so an image upload lost its JSON answer and an image
//! download kept its bytes.)
//!
//! What it does: it empties the kept bytes of a selected body (`Body::data` and the decoded
//! data) and sets `Body::dropped`, so the HAR builder leaves out the text and says why
//! (`_requestBodyDropped` / `_responseBodyDropped`).
//!
//! What it does not do: change any size. `wire_len`, `len`, `missing`, the decoded length,
//! `truncated`, the content codings, trailers, decode errors and anomalies all stay as they
//! were, so HAR sizes, statistics and `_wireBytes` are the same with or without a policy.
//! It does not look at the bytes themselves (no sniffing): a body sent with a wrong type is
//! judged by the type it was sent with.
//!
//! Invariants: `apply` is a pure function of the transaction's own headers; a body of
//! length 0 is never marked dropped (there is nothing to drop); applying twice is the same
//! as applying once.

use crate::model::{header, Body, Decoded, Header, Transaction};

/// Patterns per list at most (they come from the command line; a longer list is refused).
pub const MAX_PATTERNS: usize = 256;
/// Bytes per pattern at most.
pub const MAX_PATTERN_LEN: usize = 255;
/// `-drop-content-type`'s default, as in HttShark.
pub const DEFAULT_DROP: &str = "image,audio,video";

/// Which message bodies keep their bytes.
///
/// The rule, as `--help` says it:
///
/// > Bodies are judged by their own message's media type (the Content-Type value without
/// > parameters, e.g. `image/png`); a pattern matches when it occurs anywhere in it,
/// > ignoring case (`image` matches `image/png`, `json` matches
/// > `application/problem+json`). When `-keep-content-type` is given it alone decides: a
/// > body is kept only if its type matches one of its patterns, and `-drop-content-type`
/// > is ignored (a message without Content-Type then loses its body; an empty
/// > `-keep-content-type=` keeps no body). Otherwise a body is
/// > dropped if its type matches one of the `-drop-content-type` patterns (default
/// > `image,audio,video`; `-drop-content-type=` drops nothing). A dropped body keeps all
/// > its sizes in the HAR; only its text goes, and `_requestBodyDropped` /
/// > `_responseBodyDropped` say so.
///
/// This is the "keep-list wins" rule written out: a type is kept if it matches the keep
/// list, else dropped if it matches the drop list, else kept only when there is no keep
/// list — which, when a keep list is given, drops everything it does not name, whatever
/// the drop list says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BodySelector {
    /// Lowercased, trimmed, non-empty patterns.
    drop: Vec<String>,
    /// `Some` when `-keep-content-type` was given (possibly empty: keep no body).
    keep: Option<Vec<String>>,
}

/// Splits a comma-separated pattern list: items trimmed and lowercased, empty items
/// skipped (`"image,,video,"` is two patterns).
fn parse_list(flag: &str, list: &str) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    for item in list.split(',') {
        let p = item.trim();
        if p.is_empty() {
            continue;
        }
        if p.len() > MAX_PATTERN_LEN {
            return Err(format!(
                "{flag}: pattern longer than {MAX_PATTERN_LEN} bytes: {:?}...",
                p.chars().take(20).collect::<String>()
            ));
        }
        if p.chars().any(|c| c.is_control()) {
            return Err(format!("{flag}: control character in pattern {p:?}"));
        }
        // Patterns are matched against the media type without parameters, so one with a
        // parameter could never match: refuse it rather than silently match nothing.
        if p.contains(';') {
            return Err(format!(
                "{flag}: {p:?}: patterns match the media type without parameters \
                 (e.g. `text/html`, not `text/html; charset=utf-8`)"
            ));
        }
        let p = p.to_lowercase();
        if !out.contains(&p) {
            out.push(p);
        }
        if out.len() > MAX_PATTERNS {
            return Err(format!("{flag}: more than {MAX_PATTERNS} patterns"));
        }
    }
    Ok(out)
}

/// The media type of a message: its Content-Type value without parameters, trimmed and
/// lowercased (RFC 9110 §8.3.1: type and subtype are case-insensitive). `""` when the
/// message has no Content-Type.
pub fn media_type(headers: &[Header]) -> String {
    header(headers, "content-type")
        .and_then(|v| v.split(';').next())
        .unwrap_or("")
        .trim()
        .to_lowercase()
}

impl BodySelector {
    /// `drop`: the `-drop-content-type` list (default `"image,audio,video"`); `keep`: the
    /// `-keep-content-type` list when given. Lists are comma-separated; items are trimmed,
    /// empty items ignored. Errors name the flag and the bad pattern (a `;`, a control
    /// character, more than `MAX_PATTERNS` patterns or `MAX_PATTERN_LEN` bytes).
    pub fn new(drop: &str, keep: Option<&str>) -> Result<BodySelector, String> {
        Ok(BodySelector {
            drop: parse_list("-drop-content-type", drop)?,
            keep: keep
                .map(|k| parse_list("-keep-content-type", k))
                .transpose()?,
        })
    }

    /// True when the selector can never drop a body (no drop patterns and no keep list):
    /// callers may skip `apply`.
    pub fn is_noop(&self) -> bool {
        self.drop.is_empty() && self.keep.is_none()
    }

    /// Whether a body whose message has media type `mime` (any case, parameters allowed)
    /// keeps its bytes. See the type's docs for the rule.
    pub fn keeps(&self, mime: &str) -> bool {
        let essence = mime.split(';').next().unwrap_or("").trim().to_lowercase();
        let matches = |ps: &[String]| ps.iter().any(|p| essence.contains(p.as_str()));
        match &self.keep {
            Some(keep) => matches(keep),
            None => !matches(&self.drop),
        }
    }

    /// Drops the bytes of the request and response bodies that the rule does not keep,
    /// each judged by its own message's Content-Type.
    pub fn apply(&self, tx: &mut Transaction) {
        if self.is_noop() {
            return;
        }
        // A body with no bytes, or already without them (no output reads bodies), has
        // nothing to drop: its media type is not worked out (two lowercased copies).
        let holds_bytes = |b: &Body| b.len > 0 && !b.dropped;
        let req = &mut tx.request;
        if holds_bytes(&req.body) && !self.keeps(&media_type(&req.headers)) {
            drop_bytes(&mut req.body);
        }
        if let Some(resp) = tx.response.as_mut() {
            if holds_bytes(&resp.body) && !self.keeps(&media_type(&resp.headers)) {
                drop_bytes(&mut resp.body);
            }
        }
    }
}

/// Frees the kept bytes of `body` and marks it dropped; sizes stay as they are (also
/// `overload`'s).
pub(super) fn drop_bytes(body: &mut Body) {
    if body.len == 0 {
        return;
    }
    // Assigning a new Vec frees the allocation (clear() would keep the capacity).
    body.data = Vec::new();
    if let Decoded::Decoded { data, .. } = &mut body.decoded {
        *data = Vec::new();
    }
    body.dropped = true;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_trimmed_lowercased_and_deduplicated() {
        let s = BodySelector::new(" Image , ,AUDIO,image,", None).unwrap();
        assert_eq!(s.drop, vec!["image".to_string(), "audio".to_string()]);
        assert_eq!(s.keep, None);
        let s = BodySelector::new("", Some("")).unwrap();
        assert_eq!((s.drop.len(), s.keep), (0, Some(vec![])));
    }

    #[test]
    fn bad_patterns_are_refused_with_the_flag_name() {
        let e = BodySelector::new("text/html; charset=utf-8", None).unwrap_err();
        assert!(e.starts_with("-drop-content-type:"), "{e}");
        let e = BodySelector::new("image", Some("a\u{7}b")).unwrap_err();
        assert!(e.starts_with("-keep-content-type:"), "{e}");
        let long = "x".repeat(MAX_PATTERN_LEN + 1);
        assert!(BodySelector::new(&long, None).is_err());
        let many: Vec<String> = (0..=MAX_PATTERNS).map(|i| format!("t{i}")).collect();
        assert!(BodySelector::new(&many.join(","), None).is_err());
        let ok: Vec<String> = (0..MAX_PATTERNS).map(|i| format!("t{i}")).collect();
        assert!(BodySelector::new(&ok.join(","), None).is_ok());
    }

    #[test]
    fn media_type_ignores_parameters_and_case() {
        let h = |v: &str| {
            vec![Header {
                name: "content-TYPE".into(),
                value: v.into(),
            }]
        };
        assert_eq!(media_type(&h(" Image/PNG ; q=1")), "image/png");
        assert_eq!(media_type(&h("")), "");
        assert_eq!(media_type(&[]), "");
        // A parameter never matches: `charset=utf-8` does not contain `utf` as far as
        // the rule is concerned.
        let s = BodySelector::new("utf", None).unwrap();
        assert!(s.keeps("text/plain; charset=utf-8"));
    }

    #[test]
    fn noop_when_nothing_can_be_dropped() {
        assert!(BodySelector::new("", None).unwrap().is_noop());
        assert!(BodySelector::new(" , ", None).unwrap().is_noop());
        assert!(!BodySelector::new("", Some("")).unwrap().is_noop());
        assert!(!BodySelector::new("image", None).unwrap().is_noop());
    }
}
