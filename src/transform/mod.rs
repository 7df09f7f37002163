//! Worker-side transforms: what happens to a transaction on the worker that parsed it,
//! before it crosses to the processor thread. `body_select` drops the body text of
//! unwanted media types (keeping sizes exact); `redact` replaces the values of chosen
//! headers by a marker, so no output ever sees them; `overload` drops the body bytes of a
//! batch that would not fit while the outputs are behind.
//!
//! What it does not do: write anything (processors do) or hold state across
//! transactions: each transform is a pure function of its settings and one transaction
//! (`overload`: of one batch and the room left for it).

pub mod body_select;
pub mod overload;
pub mod redact;

pub use body_select::BodySelector;
pub use redact::Redaction;
