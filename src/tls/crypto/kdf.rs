//! Key derivation: the TLS 1.2 PRF and key block (RFC 5246 §5, §6.3), and the TLS 1.3
//! HKDF-Expand-Label, traffic keys and key update (RFC 8446 §7.1–§7.3).
//!
//! A key log already holds what a passive decoder needs at the top of each schedule (the TLS
//! 1.2 master secret, the TLS 1.3 traffic secrets), so there is no extract step, no
//! pre-master secret and no transcript hash here.
//!
//! Invariants: every buffer holding key material is zeroized when dropped (`DirectionKeys`
//! by its `Drop`, the rest through `Zeroizing`); no `Debug` shows a byte of it. Nothing here
//! panics, whatever the input lengths: an over-long key, label or context is truncated (and
//! then simply fails to authenticate).

use std::fmt;

use zeroize::{Zeroize, Zeroizing};

use super::mac::{HmacAny, MAX_DIGEST};
use super::suites::{Hash, Suite};

/// The TLS 1.2 PRF, `P_hash(secret, label || seed)` (RFC 5246 §5), filling `out`.
/// (`hash` is SHA-256 or SHA-384 in TLS 1.2; SHA-1 is accepted but is no TLS PRF.)
pub fn tls12_prf(hash: Hash, secret: &[u8], label: &[u8], seed: &[u8], out: &mut [u8]) {
    let base = HmacAny::new(hash, secret);
    // A(1) = HMAC(secret, label || seed)
    let mut a = Zeroizing::new([0u8; MAX_DIGEST]);
    let mut m = base.clone();
    m.update(label);
    m.update(seed);
    let mut a_len = m.finalize_into(&mut a);
    let mut block = Zeroizing::new([0u8; MAX_DIGEST]);
    for chunk in out.chunks_mut(hash.len()) {
        // Output block = HMAC(secret, A(i) || label || seed)
        let mut m = base.clone();
        m.update(&a[..a_len]);
        m.update(label);
        m.update(seed);
        let n = m.finalize_into(&mut block);
        let take = chunk.len().min(n);
        chunk[..take].copy_from_slice(&block[..take]);
        // A(i+1) = HMAC(secret, A(i))
        let mut m = base.clone();
        m.update(&a[..a_len]);
        a_len = m.finalize_into(&mut a);
    }
}

/// HKDF-Expand (RFC 5869 §2.3) with the info given in parts, straight from HMAC so that a
/// PRK of any length works (the `hkdf` crate refuses a PRK shorter than the hash, and a key
/// log may pair a 32-byte secret with a SHA-384 suite: that must fail to authenticate, not
/// panic or error here). At most 255 blocks: longer `out` is left zero past that.
fn hkdf_expand(hash: Hash, prk: &[u8], info: &[&[u8]], out: &mut [u8]) {
    let base = HmacAny::new(hash, prk);
    let mut t = Zeroizing::new([0u8; MAX_DIGEST]);
    let mut t_len = 0;
    for (i, chunk) in out.chunks_mut(hash.len()).enumerate().take(255) {
        let mut m = base.clone();
        m.update(&t[..t_len]);
        for part in info {
            m.update(part);
        }
        m.update(&[(i + 1) as u8]);
        t_len = m.finalize_into(&mut t);
        let take = chunk.len().min(t_len);
        chunk[..take].copy_from_slice(&t[..take]);
    }
}

/// HKDF-Expand-Label into `out` (RFC 8446 §7.1): `HkdfLabel = u16 length ‖ u8 len ‖ "tls13 "
/// ‖ label ‖ u8 len ‖ context`. A label over 249 bytes or a context over 255 is truncated
/// (no TLS label or hash comes near).
pub(crate) fn hkdf_expand_label_into(
    hash: Hash,
    secret: &[u8],
    label: &[u8],
    context: &[u8],
    out: &mut [u8],
) {
    let label = &label[..label.len().min(255 - 6)];
    let context = &context[..context.len().min(255)];
    let len = u16::try_from(out.len()).unwrap_or(u16::MAX).to_be_bytes();
    let label_len = [(6 + label.len()) as u8];
    let context_len = [context.len() as u8];
    let info: [&[u8]; 6] = [&len, &label_len, b"tls13 ", label, &context_len, context];
    hkdf_expand(hash, secret, &info, out);
}

/// HKDF-Expand-Label (RFC 8446 §7.1) as a zeroizing vector of `len` bytes.
pub fn hkdf_expand_label(
    hash: Hash,
    secret: &[u8],
    label: &[u8],
    context: &[u8],
    len: usize,
) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(vec![0u8; len]);
    hkdf_expand_label_into(hash, secret, label, context, &mut out);
    out
}

/// The next application traffic secret after a KeyUpdate (RFC 8446 §7.2):
/// `HKDF-Expand-Label(secret, "traffic upd", "", Hash.length)`.
pub fn tls13_next_secret(hash: Hash, secret: &[u8]) -> Zeroizing<Vec<u8>> {
    hkdf_expand_label(hash, secret, b"traffic upd", b"", hash.len())
}

const MAX_KEY: usize = 32;
const MAX_IV: usize = 16;

/// One direction's record keys: the cipher key, the "IV" (TLS 1.2 GCM: the 4-byte salt;
/// ChaCha20 and TLS 1.3: the 12-byte IV; CBC: the unused key-block IV) and the MAC key (CBC
/// only, else empty). Fixed arrays, so building one allocates nothing; wiped on drop; its
/// `Debug` shows lengths only.
pub struct DirectionKeys {
    key: [u8; MAX_KEY],
    key_len: usize,
    iv: [u8; MAX_IV],
    iv_len: usize,
    mac_key: [u8; MAX_DIGEST],
    mac_len: usize,
}

impl DirectionKeys {
    /// Keys from their parts; `None` if a part is longer than any suite's (32-byte key,
    /// 16-byte IV, 48-byte MAC key).
    pub fn new(key: &[u8], iv: &[u8], mac_key: &[u8]) -> Option<Self> {
        if key.len() > MAX_KEY || iv.len() > MAX_IV || mac_key.len() > MAX_DIGEST {
            return None;
        }
        let mut k = Self::empty();
        k.key[..key.len()].copy_from_slice(key);
        k.key_len = key.len();
        k.iv[..iv.len()].copy_from_slice(iv);
        k.iv_len = iv.len();
        k.mac_key[..mac_key.len()].copy_from_slice(mac_key);
        k.mac_len = mac_key.len();
        Some(k)
    }

    fn empty() -> Self {
        DirectionKeys {
            key: [0; MAX_KEY],
            key_len: 0,
            iv: [0; MAX_IV],
            iv_len: 0,
            mac_key: [0; MAX_DIGEST],
            mac_len: 0,
        }
    }

    pub fn key(&self) -> &[u8] {
        &self.key[..self.key_len]
    }

    pub fn iv(&self) -> &[u8] {
        &self.iv[..self.iv_len]
    }

    pub fn mac_key(&self) -> &[u8] {
        &self.mac_key[..self.mac_len]
    }
}

impl Drop for DirectionKeys {
    fn drop(&mut self) {
        self.key.zeroize();
        self.iv.zeroize();
        self.mac_key.zeroize();
    }
}

impl fmt::Debug for DirectionKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "DirectionKeys {{ key: {} bytes, iv: {} bytes, mac_key: {} bytes }}",
            self.key_len, self.iv_len, self.mac_len
        )
    }
}

/// Both directions' keys of a TLS 1.2 connection.
#[derive(Debug)]
pub struct Tls12Keys {
    /// The client's write keys: they decrypt what the client sends.
    pub client: DirectionKeys,
    /// The server's write keys.
    pub server: DirectionKeys,
}

/// The TLS 1.2 key block (RFC 5246 §6.3): `PRF(master_secret, "key expansion", server_random
/// ‖ client_random)` — the randoms in the reverse order of the master secret's derivation —
/// carved as client MAC key, server MAC key, client key, server key, client IV, server IV.
/// AEAD suites have no MAC keys (RFC 5288 §3, RFC 7905 §2).
pub fn tls12_keys(
    suite: &Suite,
    master_secret: &[u8],
    client_random: &[u8; 32],
    server_random: &[u8; 32],
) -> Tls12Keys {
    let mac_len = suite.mac.map_or(0, Hash::len);
    let key_len = suite.cipher.key_len();
    let iv_len = suite.cipher.tls12_iv_len();
    let mut seed = [0u8; 64];
    seed[..32].copy_from_slice(server_random);
    seed[32..].copy_from_slice(client_random);
    // At most 2 × (48 + 32 + 16) = 192 bytes.
    let mut block = Zeroizing::new([0u8; 2 * (MAX_DIGEST + MAX_KEY + MAX_IV)]);
    let total = 2 * (mac_len + key_len + iv_len);
    tls12_prf(
        suite.prf,
        master_secret,
        b"key expansion",
        &seed,
        &mut block[..total],
    );
    let mut client = DirectionKeys::empty();
    let mut server = DirectionKeys::empty();
    let mut at = 0;
    let mut take = |dst: &mut [u8], n: usize| {
        dst[..n].copy_from_slice(&block[at..at + n]);
        at += n;
    };
    take(&mut client.mac_key, mac_len);
    take(&mut server.mac_key, mac_len);
    take(&mut client.key, key_len);
    take(&mut server.key, key_len);
    take(&mut client.iv, iv_len);
    take(&mut server.iv, iv_len);
    for k in [&mut client, &mut server] {
        k.mac_len = mac_len;
        k.key_len = key_len;
        k.iv_len = iv_len;
    }
    Tls12Keys { client, server }
}

/// A TLS 1.3 traffic secret's record key and 12-byte IV (RFC 8446 §7.3):
/// `HKDF-Expand-Label(secret, "key", "", key_len)` and `(secret, "iv", "", 12)`.
pub fn tls13_traffic_keys(suite: &Suite, traffic_secret: &[u8]) -> DirectionKeys {
    let mut k = DirectionKeys::empty();
    k.key_len = suite.cipher.key_len();
    k.iv_len = 12;
    hkdf_expand_label_into(
        suite.prf,
        traffic_secret,
        b"key",
        b"",
        &mut k.key[..k.key_len],
    );
    hkdf_expand_label_into(suite.prf, traffic_secret, b"iv", b"", &mut k.iv[..12]);
    k
}

#[cfg(test)]
#[path = "kdf_tests.rs"]
mod tests;
