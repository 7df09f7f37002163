//! `RecordEncryptor`, the inverse of `RecordDecryptor`: builds protected TLS records with
//! known secrets for tests, fuzz targets and the traffic generator. Not used by the
//! product; public but `#[doc(hidden)]`.
//!
//! Deterministic by design (tests must replay): the TLS 1.2 GCM explicit nonce is the
//! sequence number (as OpenSSL and most stacks do, RFC 5288 §3 only asks for uniqueness) and
//! the CBC IV is derived from the sequence number. That is fine for test traffic and would
//! be wrong for real confidentiality.

use std::fmt;

use super::engine::{tls12_pseudo_header, Epoch, NonceMode, BLOCK};
use super::kdf::DirectionKeys;
use super::suites::Suite;

/// Record-layer version bytes of TLS 1.2 and of TLS 1.3 records (RFC 8446 §5.1).
const VERSION: [u8; 2] = [0x03, 0x03];
/// TLS 1.3 outer content type: application_data.
const OPAQUE_TYPE: u8 = 23;

#[doc(hidden)]
pub struct RecordEncryptor {
    epoch: Epoch,
    seq: u64,
}

impl fmt::Debug for RecordEncryptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordEncryptor")
            .field("suite", &self.epoch.suite.name)
            .field("seq", &self.seq)
            .finish_non_exhaustive()
    }
}

fn header(content_type: u8, len: usize) -> [u8; 5] {
    let len = u16::try_from(len).unwrap_or(u16::MAX).to_be_bytes();
    [content_type, VERSION[0], VERSION[1], len[0], len[1]]
}

impl RecordEncryptor {
    pub fn tls12(suite: &'static Suite, keys: &DirectionKeys, encrypt_then_mac: bool) -> Self {
        RecordEncryptor {
            epoch: Epoch::tls12(suite, keys, encrypt_then_mac),
            seq: 0,
        }
    }

    pub fn tls13(suite: &'static Suite, traffic_secret: &[u8]) -> Self {
        RecordEncryptor {
            epoch: Epoch::tls13(suite, traffic_secret),
            seq: 0,
        }
    }

    /// TLS 1.3 KeyUpdate on the sending side; no-op for TLS 1.2.
    pub fn key_update(&mut self) {
        if self.epoch.key_update() {
            self.seq = 0;
        }
    }

    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// One whole record (header included) carrying `plaintext` as `content_type`.
    pub fn encrypt(&mut self, content_type: u8, plaintext: &[u8]) -> Vec<u8> {
        self.encrypt_padded(content_type, plaintext, 0)
    }

    /// As `encrypt`, with `pad` bytes of padding: TLS 1.3 zero padding after the inner type,
    /// or (CBC) `pad` extra blocks of padding (at most 15, the 255-byte limit).
    pub fn encrypt_padded(&mut self, content_type: u8, plaintext: &[u8], pad: usize) -> Vec<u8> {
        let seq = self.seq;
        self.seq = self.seq.wrapping_add(1);
        if self.epoch.is_tls13() {
            self.seal_tls13(seq, content_type, plaintext, pad)
        } else if self.epoch.engine.is_cbc() {
            self.seal_cbc(seq, content_type, plaintext, pad.min(15))
        } else {
            self.seal_tls12_aead(seq, content_type, plaintext)
        }
    }

    fn seal_tls13(&self, seq: u64, content_type: u8, plaintext: &[u8], pad: usize) -> Vec<u8> {
        let inner_len = plaintext.len() + 1 + pad;
        let hdr = header(OPAQUE_TYPE, inner_len + 16);
        let mut rec = Vec::with_capacity(5 + inner_len + 16);
        rec.extend_from_slice(&hdr);
        rec.extend_from_slice(plaintext);
        rec.push(content_type);
        rec.resize(5 + inner_len, 0);
        let nonce = self.epoch.engine.nonce(seq, &[0; 8]);
        let tag = self.epoch.engine.seal(&nonce, &hdr, &mut rec[5..]);
        rec.extend_from_slice(&tag);
        rec
    }

    fn seal_tls12_aead(&self, seq: u64, content_type: u8, plaintext: &[u8]) -> Vec<u8> {
        let explicit = seq.to_be_bytes();
        let explicit_len = if self.epoch.engine.nonce == NonceMode::SaltExplicit {
            8
        } else {
            0
        };
        let body = explicit_len + plaintext.len() + 16;
        let hdr = header(content_type, body);
        let mut rec = Vec::with_capacity(5 + body);
        rec.extend_from_slice(&hdr);
        rec.extend_from_slice(&explicit[..explicit_len]);
        let at = rec.len();
        rec.extend_from_slice(plaintext);
        let nonce = self.epoch.engine.nonce(seq, &explicit);
        let aad = tls12_pseudo_header(seq, &hdr, plaintext.len());
        let tag = self.epoch.engine.seal(&nonce, &aad, &mut rec[at..]);
        rec.extend_from_slice(&tag);
        rec
    }

    fn seal_cbc(
        &self,
        seq: u64,
        content_type: u8,
        plaintext: &[u8],
        extra_blocks: usize,
    ) -> Vec<u8> {
        let mac_len = self.epoch.engine.mac_len();
        // The MAC is inside the encryption (MtE) or after it (EtM).
        let inner = plaintext.len() + if self.epoch.etm { 0 } else { mac_len };
        let p = (BLOCK - (inner + 1) % BLOCK) % BLOCK + BLOCK * extra_blocks;
        let ct_len = inner + p + 1;
        let body = BLOCK + ct_len + if self.epoch.etm { mac_len } else { 0 };
        let hdr = header(content_type, body);
        let mut iv = [0u8; BLOCK];
        iv[..8].copy_from_slice(&seq.to_be_bytes());
        iv[8..].copy_from_slice(&(!seq).to_be_bytes());
        let mut rec = Vec::with_capacity(5 + body);
        rec.extend_from_slice(&hdr);
        rec.extend_from_slice(&iv);
        rec.extend_from_slice(plaintext);
        if !self.epoch.etm {
            let (mac, n) = self.epoch.engine.mac(seq, &hdr, &[plaintext]);
            rec.extend_from_slice(&mac[..n]);
        }
        rec.resize(rec.len() + p + 1, p as u8);
        self.epoch.engine.cbc_encrypt(&iv, &mut rec[5 + BLOCK..]);
        if self.epoch.etm {
            let (mac, n) = self.epoch.engine.mac(seq, &hdr, &[&rec[5..]]);
            rec.extend_from_slice(&mac[..n]);
        }
        rec
    }
}
