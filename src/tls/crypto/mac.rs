//! HMAC over the three hashes of the suite table, behind one type, so that the PRF, HKDF and
//! the CBC record MAC share one dispatch. A keyed `HmacAny` is built once per key and cloned
//! for each computation (cloning skips re-hashing the key pads).
//!
//! Not constant-time anywhere it would matter to an endpoint: a passive decoder has no
//! oracle to protect.

use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Sha256, Sha384};

use super::suites::Hash;

/// The longest digest (SHA-384).
pub(crate) const MAX_DIGEST: usize = 48;

#[derive(Clone)]
pub(crate) enum HmacAny {
    Sha1(Hmac<Sha1>),
    Sha256(Hmac<Sha256>),
    Sha384(Hmac<Sha384>),
}

/// HMAC accepts a key of any length (RFC 2104 §2), so this never fails; the `Err` arm of the
/// `KeyInit` API is unreachable and falls back to an all-zero key rather than panicking.
fn keyed<M: Mac + hmac::digest::KeyInit>(key: &[u8]) -> M {
    match <M as Mac>::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => <M as hmac::digest::KeyInit>::new(&Default::default()),
    }
}

impl HmacAny {
    pub(crate) fn new(hash: Hash, key: &[u8]) -> Self {
        match hash {
            Hash::Sha1 => HmacAny::Sha1(keyed(key)),
            Hash::Sha256 => HmacAny::Sha256(keyed(key)),
            Hash::Sha384 => HmacAny::Sha384(keyed(key)),
        }
    }

    pub(crate) fn update(&mut self, data: &[u8]) {
        match self {
            HmacAny::Sha1(m) => m.update(data),
            HmacAny::Sha256(m) => m.update(data),
            HmacAny::Sha384(m) => m.update(data),
        }
    }

    /// Finishes into the front of `out` and returns the digest length.
    pub(crate) fn finalize_into(self, out: &mut [u8; MAX_DIGEST]) -> usize {
        fn put(out: &mut [u8; MAX_DIGEST], tag: &[u8]) -> usize {
            let n = tag.len().min(MAX_DIGEST);
            out[..n].copy_from_slice(&tag[..n]);
            n
        }
        match self {
            HmacAny::Sha1(m) => put(out, &m.finalize().into_bytes()),
            HmacAny::Sha256(m) => put(out, &m.finalize().into_bytes()),
            HmacAny::Sha384(m) => put(out, &m.finalize().into_bytes()),
        }
    }
}

/// Byte comparison whose time does not depend on where the first difference is (cheap, so
/// kept even though nothing here is an oracle).
pub(crate) fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
