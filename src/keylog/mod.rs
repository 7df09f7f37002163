//! NSS key log files (`SSLKEYLOGFILE`): parsing, the per-worker secret store, following a
//! growing file in live captures, and the pcapng Decryption Secrets Blocks.
//!
//! The format is RFC 9850 (ex draft-ietf-tls-keylogfile): one `LABEL <client random hex>
//! <secret hex>` per line, written by curl, browsers, Python's `ssl`, Node, Go and Java
//! agents. Every TLS secret httshark can use is keyed by the 32-byte ClientHello random.
//!
//! - [`Secret`], [`Label`], [`Entry`] (here): one parsed line.
//! - [`parse`]: [`Parser`], a streaming, never failing line parser with a [`ParseReport`]
//!   that counts each kind of unusable line (never its text: it may hold a secret).
//! - [`store`]: [`KeyStore`], a bounded map client random -> [`Secrets`], one per worker.
//! - [`follow`]: [`Follower`], reads what clients append to a key log while a live capture
//!   runs, and starts over when the file is replaced or truncated.
//! - [`dsb`]: [`read_pcapng_secrets`], the key logs embedded in a pcapng file's Decryption
//!   Secrets Blocks (`editcap --inject-secrets`).
//!
//! What this module does not do: derive keys or decrypt (`crate::tls`), decide when a
//! connection gives up waiting for its keys, or carry entries to the workers (the pipeline
//! sends them in packet order). Apart from `follow` and `dsb::read_pcapng_secrets`, which
//! read the files the user named (read-only), it does no I/O.
//!
//! Invariants: secret bytes live only in [`Secret`] (and in buffers of text that are
//! zeroized before they are released); they are wiped when dropped, and no `Debug`,
//! `Display` or report ever shows them.

pub mod dsb;
pub mod follow;
pub mod parse;
pub mod store;

pub use dsb::{read_pcapng_secrets, scan_pcapng_secrets, DsbScan};
pub use follow::{read_keylog_file, FollowState, Follower};
pub use parse::{LineProblem, ParseReport, Parser};
pub use store::{KeyStore, Secrets, MAX_KEYLOG_CLIENT_RANDOMS};

use std::fmt;

use zeroize::Zeroizing;

/// Secret key material: zeroized when dropped; `Debug` shows only its length.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Zeroizing<Vec<u8>>);

impl Secret {
    /// Takes ownership of the bytes (which are wiped when the secret is dropped).
    pub fn new(bytes: Vec<u8>) -> Self {
        Secret(Zeroizing::new(bytes))
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Heap bytes held (for memory accounting).
    pub fn heap_bytes(&self) -> usize {
        self.0.capacity()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({} bytes)", self.0.len())
    }
}

/// The labels of RFC 9850 §3 (and the older ones Wireshark reads, §1.1 of the research
/// notes). Which ones decryption uses: [`Label::is_used`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Label {
    /// TLS 1.0-1.2: the 48-byte master secret.
    ClientRandom,
    /// TLS 1.3 0-RTT data (client to server).
    ClientEarlyTrafficSecret,
    ClientHandshakeTrafficSecret,
    ServerHandshakeTrafficSecret,
    ClientTrafficSecret0,
    ServerTrafficSecret0,
    EarlyExporterSecret,
    ExporterSecret,
    /// RFC 9850 §3.2: the HPKE secret of Encrypted Client Hello.
    EchSecret,
    /// RFC 9850 §3.2: the ECHConfig used.
    EchConfig,
    /// `RSA <first 8 bytes of the encrypted premaster> <premaster>` and OpenSSL's
    /// `RSA Session-ID:<hex> Master-Key:<hex>`: keyed by something other than the client
    /// random, so recognised and counted as unused, never an [`Entry`].
    Rsa,
    /// `PMS_CLIENT_RANDOM <random> <premaster secret>` (TLS 1.2; not used: the master
    /// secret needs the handshake hash when extended master secret is on).
    PmsClientRandom,
}

impl Label {
    /// Number of labels (the size of per-label count arrays).
    pub const COUNT: usize = 12;

    pub const ALL: [Label; Label::COUNT] = [
        Label::ClientRandom,
        Label::ClientEarlyTrafficSecret,
        Label::ClientHandshakeTrafficSecret,
        Label::ServerHandshakeTrafficSecret,
        Label::ClientTrafficSecret0,
        Label::ServerTrafficSecret0,
        Label::EarlyExporterSecret,
        Label::ExporterSecret,
        Label::EchSecret,
        Label::EchConfig,
        Label::Rsa,
        Label::PmsClientRandom,
    ];

    /// The label as written in the file.
    pub fn name(self) -> &'static str {
        match self {
            Label::ClientRandom => "CLIENT_RANDOM",
            Label::ClientEarlyTrafficSecret => "CLIENT_EARLY_TRAFFIC_SECRET",
            Label::ClientHandshakeTrafficSecret => "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
            Label::ServerHandshakeTrafficSecret => "SERVER_HANDSHAKE_TRAFFIC_SECRET",
            Label::ClientTrafficSecret0 => "CLIENT_TRAFFIC_SECRET_0",
            Label::ServerTrafficSecret0 => "SERVER_TRAFFIC_SECRET_0",
            Label::EarlyExporterSecret => "EARLY_EXPORTER_SECRET",
            Label::ExporterSecret => "EXPORTER_SECRET",
            Label::EchSecret => "ECH_SECRET",
            Label::EchConfig => "ECH_CONFIG",
            Label::Rsa => "RSA",
            Label::PmsClientRandom => "PMS_CLIENT_RANDOM",
        }
    }

    /// The label of a line's first field; labels are case-sensitive, as in RFC 9850 and
    /// Wireshark.
    pub fn from_name(name: &[u8]) -> Option<Label> {
        Label::ALL
            .iter()
            .copied()
            .find(|l| l.name().as_bytes() == name)
    }

    /// Index into per-label arrays (`0..COUNT`).
    pub fn index(self) -> usize {
        self as usize
    }

    /// Whether decryption uses this label (the ones [`Secrets`] has a place for).
    pub fn is_used(self) -> bool {
        matches!(
            self,
            Label::ClientRandom
                | Label::ClientEarlyTrafficSecret
                | Label::ClientHandshakeTrafficSecret
                | Label::ServerHandshakeTrafficSecret
                | Label::ClientTrafficSecret0
                | Label::ServerTrafficSecret0
        )
    }

    /// Secret lengths accepted for the label. TLS 1.2's master secret is always 48 bytes
    /// (RFC 5246 §8.1); TLS 1.3 secrets are a hash output, 32 (SHA-256) or 48 (SHA-384)
    /// bytes (RFC 8446 §7.1); ECH's HPKE secret is a KEM's shared secret (32 to 64 bytes,
    /// RFC 9180 §7.1); the rest are only bounded.
    pub fn secret_len_ok(self, len: usize) -> bool {
        match self {
            Label::ClientRandom => len == 48,
            Label::ClientEarlyTrafficSecret
            | Label::ClientHandshakeTrafficSecret
            | Label::ServerHandshakeTrafficSecret
            | Label::ClientTrafficSecret0
            | Label::ServerTrafficSecret0
            | Label::EarlyExporterSecret
            | Label::ExporterSecret => len == 32 || len == 48,
            Label::EchSecret => (32..=64).contains(&len),
            Label::EchConfig | Label::Rsa | Label::PmsClientRandom => {
                (1..=parse::MAX_KEYLOG_SECRET_BYTES).contains(&len)
            }
        }
    }
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One usable line of a key log: a secret keyed by a ClientHello random. The random is
/// public (it is on the wire); only `secret` is sensitive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub label: Label,
    pub client_random: [u8; 32],
    pub secret: Secret,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_debug_shows_only_the_length() {
        let s = Secret::new(vec![0xAB; 48]);
        let shown = format!("{s:?}");
        assert_eq!(shown, "Secret(48 bytes)");
        let e = Entry {
            label: Label::ClientRandom,
            client_random: [7; 32],
            secret: s.clone(),
        };
        let shown = format!("{e:?}");
        assert!(!shown.to_lowercase().contains("ab, ab"), "{shown}");
        assert!(!shown.contains("171"), "{shown}");
        assert_eq!(s.as_bytes(), &[0xAB; 48][..]);
    }

    #[test]
    fn label_names_round_trip_and_indices_are_dense() {
        for (i, l) in Label::ALL.iter().enumerate() {
            assert_eq!(l.index(), i);
            assert_eq!(Label::from_name(l.name().as_bytes()), Some(*l));
        }
        assert_eq!(Label::from_name(b"client_random"), None);
        assert_eq!(Label::ALL.iter().filter(|l| l.is_used()).count(), 6);
    }
}
