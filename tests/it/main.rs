//! The integration tests of the `rowguard` library, against a real PostgreSQL (a
//! private server from rowguard-testkit, or `DATABASE_URL`): one module per area, one
//! binary to build and link.

mod audit;
mod auth;
mod boundary;
mod control;
mod deployment_modes;
mod doctor;
mod domains;
mod downstream;
mod embed;
mod failure;
mod harness;
mod held_tx;
mod isolation;
mod jobs;
mod load;
mod migrations;
mod models;
mod pgbouncer;
mod pool;
mod role_tiers;
mod search;
mod seed;
mod tls;
mod transfer;
