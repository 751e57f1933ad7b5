//! rowguard in an axum service: who the caller is, one tenant transaction per request,
//! and errors as `application/problem+json`.
//!
//! - [`RowguardState`] holds the [`TenantPool`] (and optionally a [`Resolver`] and a
//!   session cookie name); put it in the router's state (or implement
//!   `FromRef<YourState>` for it).
//! - [`middleware`] wraps every request: it gives it a request id (`x-request-id`,
//!   taken from the request when it is a plain token, else a fresh UUID v7) and a
//!   tracing span, and ends its tenant transaction: **commit** when the response is a
//!   success (2xx or 3xx), **rollback** otherwise; a failed commit turns the response
//!   into the error. A request that is cancelled (the client went away) drops its
//!   transaction, which rolls back.
//! - [`Caller`] resolves the request to a [`TenantContext`] from a session token
//!   (`Authorization: Bearer`, or the configured cookie) through the control plane's
//!   session look-up, or from a bearer JWT verified with a configured key ([`Jwt`];
//!   claims `tenant`, `sub`, `role`). With a resolver, the `Host` names a tenant too,
//!   and a token of another tenant is refused (403, `tenant-mismatch`).
//! - [`Tx`] is the request's transaction, begun on first use: a handler that takes no
//!   `Tx`, or never calls [`Tx::conn`], costs no connection.
//! - [`ApiError`] maps [`rowguard::Error`] to statuses and problem types.
//! - [`Admin`] guards admin routes: a bearer token among [`AdminState`]'s (kept as
//!   SHA-256 digests), and the `AdminPool`; never a tenant's session, and never the
//!   tenant extractors.
//!
//! ```no_run
//! use axum::{routing::get, Json, Router};
//! use diesel::QueryDsl;
//! use diesel_async::RunQueryDsl;
//! use rowguard::schema::tasks;
//! use rowguard_axum::{ApiError, RowguardState, Tx};
//!
//! async fn titles(mut tx: Tx) -> Result<Json<Vec<String>>, ApiError> {
//!     let mut conn = tx.conn().await?;
//!     let titles = tasks::table
//!         .select(tasks::title)
//!         .load(&mut *conn)
//!         .await
//!         .map_err(rowguard::Error::from)?;
//!     Ok(Json(titles))
//! }
//!
//! # async fn serve(pool: rowguard::pool::TenantPool) {
//! let state = RowguardState::new(pool);
//! let app: Router = Router::new()
//!     .route("/tasks", get(titles))
//!     .layer(axum::middleware::from_fn(rowguard_axum::middleware))
//!     .with_state(state);
//! # let _ = app;
//! # }
//! ```

mod admin;
mod caller;
mod problem;
mod tx;

pub use admin::{Admin, AdminState};
pub use caller::{Caller, Jwt, RowguardState, SessionToken};
pub use problem::{request_id, ApiError};
pub use tx::{middleware, Tx};

pub use rowguard::pool::TenantPool;
pub use rowguard::resolve::Resolver;
pub use rowguard::TenantContext;
