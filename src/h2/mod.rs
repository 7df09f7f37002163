//! HTTP/2 (RFC 9113) as a passive `proto::Session`: frames, HPACK, streams to transactions.
pub mod hpack;
