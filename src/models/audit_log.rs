//! `audit_log`: Append-only record of security-relevant actions. The application and admin roles may only SELECT and INSERT here.
//!
//! [`AuditLogEntry`] is a row, [`NewAuditLogEntry`] a row to insert. The query methods are the
//! ones every table shares; see [`crate::models`].

//!
//! The table is append-only: the application and admin roles may SELECT and INSERT
//! but never UPDATE or DELETE it, so there is no changes struct and no `delete`.

use chrono::{DateTime, Utc};
use diesel::{Identifiable, Insertable, Queryable, Selectable};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::schema::audit_log;

/// A row of `audit_log`: Append-only record of security-relevant actions. The application and admin roles may only SELECT and INSERT here.
#[derive(Queryable, Selectable, Identifiable, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[diesel(table_name = audit_log, primary_key(tenant_id, id), check_for_backend(diesel::pg::Pg))]
pub struct AuditLogEntry {
    /// The tenant the row belongs to (RLS confines every statement to it).
    pub tenant_id: Uuid,
    /// The row's id, a UUID v7.
    pub id: Uuid,
    /// The user who acted, when a user did; NULL for system actors or once that user is deleted (actor keeps the description).
    pub actor_user_id: Option<Uuid>,
    /// Who acted, as text that survives deletion: the user e-mail, "system", or "automation:" or "admin:" followed by the automation id or operator name.
    pub actor: String,
    /// What was done, lowercase dotted (user.invited, integration.connected, tenant.plan_changed).
    pub action: String,
    /// Table (or kind) of the row acted on.
    pub target_type: String,
    /// id of the row acted on, when there is one.
    pub target_id: Option<Uuid>,
    /// JSON object of what changed, e.g. {"role": ["member", "admin"]}; never secrets.
    pub changes: serde_json::Value,
    /// When the row was created.
    pub created_at: DateTime<Utc>,
}

/// A `audit_log` row to insert with [`NewAuditLogEntry::insert`].
///
/// `None` in an optional field means the column's default (NULL for nullable columns).
/// Deserializes from a JSON body; a missing `id` gets a fresh UUID v7.
/// `tenant_id` must be the tenant of the connection: RLS `WITH CHECK` refuses any other.
#[derive(Insertable, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[diesel(table_name = audit_log, check_for_backend(diesel::pg::Pg))]
pub struct NewAuditLogEntry {
    /// The tenant the row belongs to (RLS confines every statement to it).
    pub tenant_id: Uuid,
    /// The row's id, a UUID v7.
    #[serde(default = "Uuid::now_v7")]
    pub id: Uuid,
    /// The user who acted, when a user did; NULL for system actors or once that user is deleted (actor keeps the description).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor_user_id: Option<Uuid>,
    /// Who acted, as text that survives deletion: the user e-mail, "system", or "automation:" or "admin:" followed by the automation id or operator name.
    pub actor: String,
    /// What was done, lowercase dotted (user.invited, integration.connected, tenant.plan_changed).
    pub action: String,
    /// Table (or kind) of the row acted on.
    pub target_type: String,
    /// id of the row acted on, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_id: Option<Uuid>,
    /// JSON object of what changed, e.g. {"role": ["member", "admin"]}; never secrets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changes: Option<serde_json::Value>,
}

impl NewAuditLogEntry {
    /// A new row with a fresh UUID v7 id and the required columns; every other column
    /// is left to its default (set the public fields to change that).
    pub fn new(
        tenant_id: Uuid,
        actor: impl Into<String>,
        action: impl Into<String>,
        target_type: impl Into<String>,
    ) -> Self {
        Self {
            tenant_id,
            id: Uuid::now_v7(),
            actor_user_id: None,
            actor: actor.into(),
            action: action.into(),
            target_type: target_type.into(),
            target_id: None,
            changes: None,
        }
    }
}

super::table_queries!(
    audit_log,
    AuditLogEntry,
    NewAuditLogEntry,
    append_only,
    order_by = (audit_log::created_at.desc(), audit_log::id.desc())
);
