//! Admin routes: their own credentials and the [`AdminPool`], never a tenant's session.

use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use rowguard::pool::AdminPool;
use sha2::{Digest, Sha256};

use crate::caller::bearer;
use crate::problem::ApiError;

/// What the [`Admin`] extractor needs: the admin pool and the admin tokens it accepts,
/// kept as SHA-256 digests, each with a name that shows in the audit reasons and logs.
///
/// Admin tokens are the operator's, not a tenant's: a tenant session token is never
/// one of them, and an admin token never resolves to a tenant (the tenant extractors
/// look tokens up as sessions and find nothing).
///
/// ```no_run
/// # fn demo(admin_pool: rowguard::pool::AdminPool) {
/// let admin = rowguard_axum::AdminState::new(admin_pool)
///     .token("ops", &std::env::var("ADMIN_TOKEN").unwrap());
/// # let _ = admin; }
/// ```
#[derive(Clone)]
pub struct AdminState {
    pool: AdminPool,
    tokens: Arc<Vec<(String, [u8; 32])>>,
}

impl AdminState {
    /// Admin routes over `pool`, accepting no token yet.
    pub fn new(pool: AdminPool) -> Self {
        AdminState {
            pool,
            tokens: Arc::new(Vec::new()),
        }
    }

    /// Also accepts `token`, as the admin `name`. Only its SHA-256 is kept.
    pub fn token(self, name: impl Into<String>, token: &str) -> Self {
        self.token_sha256(name, Sha256::digest(token.as_bytes()).into())
    }

    /// Also accepts the token whose SHA-256 is `digest`, as the admin `name` (so the
    /// configuration need not hold the token itself).
    pub fn token_sha256(mut self, name: impl Into<String>, digest: [u8; 32]) -> Self {
        Arc::make_mut(&mut self.tokens).push((name.into(), digest));
        self
    }
}

/// An authenticated admin: the holder of one of [`AdminState`]'s tokens, sent as
/// `Authorization: Bearer` (never a cookie, so a browser cannot be led to send it).
///
/// Rejection: 401 (`unauthorized`) without a bearer token, or with one that is not an
/// admin token, whatever else it may be.
#[derive(Clone)]
pub struct Admin {
    name: String,
    pool: AdminPool,
}

impl Admin {
    /// The admin's name, as configured with its token.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The admin pool, for `as_admin` transactions and `rowguard::control`.
    pub fn pool(&self) -> &AdminPool {
        &self.pool
    }

    /// `"<what> (by <name>)"`: a reason for `AdminPool::as_admin`, which the audit
    /// trail records as the actor `admin:<reason>`.
    pub fn reason(&self, what: &str) -> String {
        format!("{what} (by {})", self.name)
    }
}

impl std::fmt::Debug for Admin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Admin").field("name", &self.name).finish()
    }
}

impl<S> FromRequestParts<S> for Admin
where
    AdminState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let st = AdminState::from_ref(state);
        let token = bearer(parts).ok_or_else(ApiError::unauthorized)?;
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        // Every configured digest is compared in full, so the time taken says nothing
        // about which one, or how much of one, matched.
        let mut found = None;
        for (name, known) in st.tokens.iter() {
            let diff = known
                .iter()
                .zip(digest.iter())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b));
            if diff == 0 && found.is_none() {
                found = Some(name.clone());
            }
        }
        let name = found.ok_or_else(ApiError::unauthorized)?;
        tracing::Span::current().record("tenant", "admin");
        tracing::info!(admin = %name, "admin request");
        Ok(Admin {
            name,
            pool: st.pool,
        })
    }
}
