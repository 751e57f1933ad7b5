//! `invites`: An invitation to join a tenant with a role. Only the SHA-256 of the invite token is stored; rowguard.resolve_invite maps a token to (tenant_id, invite_id).
//!
//! [`Invite`] is a row, [`NewInvite`] a row to insert and [`InviteChanges`] an update. The query methods are the
//! ones every table shares; see [`crate::models`].

use chrono::{DateTime, Utc};
use diesel::{AsChangeset, Identifiable, Insertable, Queryable, Selectable};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::enums::MemberRole;
use crate::schema::invites;

/// A row of `invites`: An invitation to join a tenant with a role. Only the SHA-256 of the invite token is stored; rowguard.resolve_invite maps a token to (tenant_id, invite_id).
#[derive(Queryable, Selectable, Identifiable, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[diesel(table_name = invites, primary_key(tenant_id, id), check_for_backend(diesel::pg::Pg))]
pub struct Invite {
    /// The tenant the row belongs to (RLS confines every statement to it).
    pub tenant_id: Uuid,
    /// The row's id, a UUID v7.
    pub id: Uuid,
    /// E-mail address.
    pub email: String,
    /// The member role.
    pub role: MemberRole,
    /// sha256 of the invite token; the token itself is never stored.
    pub token_hash: Vec<u8>,
    /// The user who sent the invite; NULL once that user is deleted.
    pub invited_by: Option<Uuid>,
    /// When it stops being valid.
    pub expires_at: DateTime<Utc>,
    /// When the invite was accepted; NULL while pending. One pending invite per e-mail.
    pub accepted_at: Option<DateTime<Utc>>,
    /// When the row was created.
    pub created_at: DateTime<Utc>,
    /// When the row last changed (kept current by a trigger).
    pub updated_at: DateTime<Utc>,
}

/// A `invites` row to insert with [`NewInvite::insert`].
///
/// `None` in an optional field means the column's default (NULL for nullable columns).
/// Deserializes from a JSON body; a missing `id` gets a fresh UUID v7.
/// `tenant_id` must be the tenant of the connection: RLS `WITH CHECK` refuses any other.
#[derive(Insertable, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[diesel(table_name = invites, check_for_backend(diesel::pg::Pg))]
pub struct NewInvite {
    /// The tenant the row belongs to (RLS confines every statement to it).
    pub tenant_id: Uuid,
    /// The row's id, a UUID v7.
    #[serde(default = "Uuid::now_v7")]
    pub id: Uuid,
    /// E-mail address.
    pub email: String,
    /// The member role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<MemberRole>,
    /// sha256 of the invite token; the token itself is never stored.
    pub token_hash: Vec<u8>,
    /// The user who sent the invite; NULL once that user is deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invited_by: Option<Uuid>,
    /// When it stops being valid.
    pub expires_at: DateTime<Utc>,
    /// When the invite was accepted; NULL while pending. One pending invite per e-mail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accepted_at: Option<DateTime<Utc>>,
}

impl NewInvite {
    /// A new row with a fresh UUID v7 id and the required columns; every other column
    /// is left to its default (set the public fields to change that).
    pub fn new(
        tenant_id: Uuid,
        email: impl Into<String>,
        token_hash: Vec<u8>,
        expires_at: DateTime<Utc>,
    ) -> Self {
        Self {
            tenant_id,
            id: Uuid::now_v7(),
            email: email.into(),
            role: None,
            token_hash,
            invited_by: None,
            expires_at,
            accepted_at: None,
        }
    }
}

/// Changes to a `invites` row, applied with [`InviteChanges::apply`].
///
/// A `None` field leaves its column as it is; for nullable columns `Some(None)` sets
/// NULL (in JSON: a missing key leaves the column, `null` clears it).
#[derive(AsChangeset, Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
#[diesel(table_name = invites, check_for_backend(diesel::pg::Pg))]
pub struct InviteChanges {
    /// E-mail address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The member role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<MemberRole>,
    /// sha256 of the invite token; the token itself is never stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_hash: Option<Vec<u8>>,
    /// The user who sent the invite; NULL once that user is deleted.
    #[serde(
        default,
        deserialize_with = "super::double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub invited_by: Option<Option<Uuid>>,
    /// When it stops being valid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    /// When the invite was accepted; NULL while pending. One pending invite per e-mail.
    #[serde(
        default,
        deserialize_with = "super::double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub accepted_at: Option<Option<DateTime<Utc>>>,
}

super::table_queries!(
    invites,
    Invite,
    NewInvite,
    InviteChanges,
    order_by = (invites::created_at.desc(), invites::id.desc())
);
