//! Threads and channels: capture -> workers (sharded by connection) -> processors.
