//! Passive TLS decryption from a key log: a `proto::Layer` that turns each direction's
//! ciphertext records (and TCP gaps) into plaintext bytes (and gaps) for the session above.
//!
//! - `crypto`: cipher suites, the TLS 1.2 PRF and TLS 1.3 key schedule, record decryptors.
//! - `handshake`: the few handshake messages a passive decoder reads (hellos, encrypted
//!   extensions, tickets, key updates, finished).

pub mod crypto;
pub mod handshake;
