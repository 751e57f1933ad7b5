//! rowguard's scaffolding, kept out of the library that API crates link: a private
//! PostgreSQL server with a template database and a database per test ([`server`]),
//! the demo tenants ([`seed`]), synthetic clustered vectors for the search benches
//! ([`synth`]), a TLS cluster with its own CA ([`tls`]) and the fixtures the tests share
//! ([`fixtures`]).
//!
//! The tests, the benches and the `rowguard` command line depend on it; `rowguard`
//! itself does not.

#![warn(missing_docs)]

pub mod fixtures;
pub mod seed;
pub mod server;
pub mod synth;
pub mod tls;

pub use server::{TestDatabase, ADMIN_LOGIN_ROLE, APP_LOGIN_ROLE};

/// The demo's embedder: all-MiniLM-L6-v2 ([`rowguard::embed::MiniLm`]), loaded once per
/// process from `ROWGUARD_MINILM_DIR` or `/opt/rowguard/models/all-minilm-l6-v2`
/// (`scripts/setup.sh` installs it). The seed, `rowguard search --text`, the demo and
/// the example API embed with it.
///
/// # Errors
/// [`rowguard::Error::Embedding`] when the model's files are missing or broken.
pub fn embedder() -> rowguard::Result<&'static rowguard::embed::MiniLm> {
    static MODEL: std::sync::OnceLock<
        std::result::Result<rowguard::embed::MiniLm, rowguard::embed::EmbedError>,
    > = std::sync::OnceLock::new();
    MODEL
        .get_or_init(|| {
            rowguard::embed::MiniLm::from_env().map_err(|e| match e {
                rowguard::Error::Embedding(e) => e,
                other => rowguard::embed::EmbedError::ModelFiles(other.to_string()),
            })
        })
        .as_ref()
        .map_err(|e| rowguard::Error::Embedding(e.clone()))
}
