//! `invites`: An invitation to join a tenant with a role. Only the SHA-256 of the invite token is stored; rowguard.resolve_invite maps the hash to (tenant_id, invite_id) while the invite is open.
//!
//! [`Invite`] is a row, [`NewInvite`] a row to insert and [`InviteChanges`] an update. The query methods are the
//! ones every table shares; see [`crate::models`].

use chrono::{DateTime, Utc};

use super::enums::MemberRole;
use crate::schema::invites;
use crate::UserId;

super::model! {
    /// A row of `invites`: An invitation to join a tenant with a role. Only the SHA-256 of the invite token is stored; rowguard.resolve_invite maps the hash to (tenant_id, invite_id) while the invite is open.
    table: invites,
    key: (tenant_id, id),
    row: Invite,
    new: NewInvite,
    changes: InviteChanges,
    columns: {
        tenant_id: tenant,
        id: id,
        /// E-mail address.
        email: required(String),
        /// The member role.
        role: defaulted(MemberRole),
        /// sha256 of the invite token; the token itself is never stored.
        token_hash: required(Vec<u8>),
        /// The user who sent the invite; NULL once that user is deleted.
        invited_by: nullable(UserId),
        /// When it stops being valid.
        expires_at: required(DateTime<Utc>),
        /// When the invite was accepted; NULL while pending. One pending invite per e-mail.
        accepted_at: nullable(DateTime<Utc>),
        created_at: created,
        updated_at: updated,
    }
}

super::table_queries!(
    invites,
    Invite,
    NewInvite,
    InviteChanges,
    order_by = (invites::created_at.desc(), invites::id.desc())
);
