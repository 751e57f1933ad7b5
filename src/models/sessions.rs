//! `sessions`: A login session. Only the SHA-256 of the bearer token is stored; rowguard.resolve_session maps the hash to (tenant_id, user_id, member_role) while the session is live.
//!
//! [`Session`] is a row, [`NewSession`] a row to insert and [`SessionChanges`] an update. The query methods are the
//! ones every table shares; see [`crate::models`].

use chrono::{DateTime, Utc};

use crate::schema::sessions;
use crate::UserId;

super::model! {
    /// A row of `sessions`: A login session. Only the SHA-256 of the bearer token is stored; rowguard.resolve_session maps the hash to (tenant_id, user_id, member_role) while the session is live.
    table: sessions,
    key: (tenant_id, id),
    row: Session,
    new: NewSession,
    changes: SessionChanges,
    columns: {
        tenant_id: tenant,
        id: id,
        /// The user it belongs to.
        user_id: required(UserId),
        /// sha256 of the session token; the token itself is never stored.
        token_hash: required(Vec<u8>),
        /// When it stops being valid.
        expires_at: required(DateTime<Utc>),
        /// Set on logout or revocation; a revoked session no longer resolves.
        revoked_at: nullable(DateTime<Utc>),
        /// The client's User-Agent when the session began.
        user_agent: nullable(String),
        created_at: created,
        /// When the session was last used.
        last_used_at: nullable(DateTime<Utc>),
    }
}

super::table_queries!(
    sessions,
    Session,
    NewSession,
    SessionChanges,
    order_by = (sessions::created_at.desc(), sessions::id.desc())
);
