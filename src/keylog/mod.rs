//! NSS key log files (`SSLKEYLOGFILE`): parsing, the per-worker secret store, following a
//! growing file in live captures, and the pcapng Decryption Secrets Blocks.
