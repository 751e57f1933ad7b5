//! `sessions`: A login session. Only the SHA-256 of the bearer token is stored; rowguard.resolve_session maps a token to (tenant_id, user_id).
//!
//! [`Session`] is a row, [`NewSession`] a row to insert and [`SessionChanges`] an update. The query methods are the
//! ones every table shares; see [`crate::models`].

use chrono::{DateTime, Utc};
use diesel::{AsChangeset, Identifiable, Insertable, Queryable, Selectable};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::schema::sessions;

/// A row of `sessions`: A login session. Only the SHA-256 of the bearer token is stored; rowguard.resolve_session maps a token to (tenant_id, user_id).
#[derive(Queryable, Selectable, Identifiable, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[diesel(table_name = sessions, primary_key(tenant_id, id), check_for_backend(diesel::pg::Pg))]
pub struct Session {
    /// The tenant the row belongs to (RLS confines every statement to it).
    pub tenant_id: Uuid,
    /// The row's id, a UUID v7.
    pub id: Uuid,
    /// The user it belongs to.
    pub user_id: Uuid,
    /// sha256 of the session token; the token itself is never stored.
    pub token_hash: Vec<u8>,
    /// When it stops being valid.
    pub expires_at: DateTime<Utc>,
    /// Set on logout or revocation; a revoked session no longer resolves.
    pub revoked_at: Option<DateTime<Utc>>,
    /// The client's User-Agent when the session began.
    pub user_agent: Option<String>,
    /// When the row was created.
    pub created_at: DateTime<Utc>,
    /// When the session was last used.
    pub last_used_at: Option<DateTime<Utc>>,
}

/// A `sessions` row to insert with [`NewSession::insert`].
///
/// `None` in an optional field means the column's default (NULL for nullable columns).
/// Deserializes from a JSON body; a missing `id` gets a fresh UUID v7.
/// `tenant_id` must be the tenant of the connection: RLS `WITH CHECK` refuses any other.
#[derive(Insertable, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[diesel(table_name = sessions, check_for_backend(diesel::pg::Pg))]
pub struct NewSession {
    /// The tenant the row belongs to (RLS confines every statement to it).
    pub tenant_id: Uuid,
    /// The row's id, a UUID v7.
    #[serde(default = "Uuid::now_v7")]
    pub id: Uuid,
    /// The user it belongs to.
    pub user_id: Uuid,
    /// sha256 of the session token; the token itself is never stored.
    pub token_hash: Vec<u8>,
    /// When it stops being valid.
    pub expires_at: DateTime<Utc>,
    /// Set on logout or revocation; a revoked session no longer resolves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<DateTime<Utc>>,
    /// The client's User-Agent when the session began.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// When the session was last used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<DateTime<Utc>>,
}

impl NewSession {
    /// A new row with a fresh UUID v7 id and the required columns; every other column
    /// is left to its default (set the public fields to change that).
    pub fn new(
        tenant_id: Uuid,
        user_id: Uuid,
        token_hash: Vec<u8>,
        expires_at: DateTime<Utc>,
    ) -> Self {
        Self {
            tenant_id,
            id: Uuid::now_v7(),
            user_id,
            token_hash,
            expires_at,
            revoked_at: None,
            user_agent: None,
            last_used_at: None,
        }
    }
}

/// Changes to a `sessions` row, applied with [`SessionChanges::apply`].
///
/// A `None` field leaves its column as it is; for nullable columns `Some(None)` sets
/// NULL (in JSON: a missing key leaves the column, `null` clears it).
#[derive(AsChangeset, Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
#[diesel(table_name = sessions, check_for_backend(diesel::pg::Pg))]
pub struct SessionChanges {
    /// The user it belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<Uuid>,
    /// sha256 of the session token; the token itself is never stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_hash: Option<Vec<u8>>,
    /// When it stops being valid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    /// Set on logout or revocation; a revoked session no longer resolves.
    #[serde(
        default,
        deserialize_with = "super::double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub revoked_at: Option<Option<DateTime<Utc>>>,
    /// The client's User-Agent when the session began.
    #[serde(
        default,
        deserialize_with = "super::double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub user_agent: Option<Option<String>>,
    /// When the session was last used.
    #[serde(
        default,
        deserialize_with = "super::double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub last_used_at: Option<Option<DateTime<Utc>>>,
}

super::table_queries!(
    sessions,
    Session,
    NewSession,
    SessionChanges,
    order_by = (sessions::created_at.desc(), sessions::id.desc())
);
