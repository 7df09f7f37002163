//! The cryptographic core of passive TLS decryption, pure and without I/O: the supported
//! cipher suites, the TLS 1.2 PRF and TLS 1.3 key schedule from key-log secrets, and record
//! decryption (with its test-side inverse).
//!
//! - `suites`: the suite table (`suite(id)`).
//! - `kdf`: `tls12_prf`, `tls12_keys`, `hkdf_expand_label`, `tls13_next_secret`.
//! - `cipher`: `RecordDecryptor` (and the hidden `RecordEncryptor`).
//!
//! Secrets never reach a `Debug` or `Display`, and are zeroized when dropped.

pub mod cipher;
mod engine;
pub mod kdf;
mod mac;
#[cfg(test)]
mod openssl_vectors;
mod seal;
pub mod suites;
#[cfg(test)]
pub(crate) mod test_vectors;

#[doc(hidden)]
pub use cipher::RecordEncryptor;
pub use cipher::{DecryptError, RecordDecryptor};
pub use kdf::{DirectionKeys, Tls12Keys};
pub use suites::{suite, Cipher, Hash, Suite};
