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
