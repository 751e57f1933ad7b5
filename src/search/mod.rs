//! Vector search under row-level security.
//!
//! This module grows with issue 4. So far it holds the schema-independent pieces:
//! [`validate`] checks query and ingest vectors before anything is sent, and
//! [`synth`] generates reproducible clustered data for tests and benches.

pub mod synth;
pub mod validate;

pub use validate::{validate_embedding, Metric};
