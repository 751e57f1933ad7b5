//! `audit_log`: Append-only record of security-relevant actions. The application and admin roles may only SELECT and INSERT here.
//!
//! [`AuditLogEntry`] is a row, [`NewAuditLogEntry`] a row to insert. The query methods are the
//! ones every table shares; see [`crate::models`].

use uuid::Uuid;

use crate::schema::audit_log;
use crate::UserId;

super::model! {
    /// A row of `audit_log`: Append-only record of security-relevant actions. The application and admin roles may only SELECT and INSERT here.
    table: audit_log,
    key: (tenant_id, id),
    row: AuditLogEntry,
    new: NewAuditLogEntry,
    changes: append_only,
    columns: {
        tenant_id: tenant,
        id: id,
        /// The user who acted, when a user did; NULL for system actors or once that user is
        /// deleted (actor keeps the description).
        actor_user_id: nullable(UserId),
        /// Who acted, as text that survives deletion: the user e-mail, "system", or
        /// "automation:" or "admin:" followed by the automation id or operator name.
        actor: required(String),
        /// What was done, lowercase dotted (user.invited, integration.connected,
        /// tenant.plan_changed).
        action: required(String),
        /// Table (or kind) of the row acted on.
        target_type: required(String),
        /// id of the row acted on, when there is one.
        target_id: nullable(Uuid),
        /// JSON object of what changed, e.g. {"role": ["member", "admin"]}; never secrets.
        changes: defaulted(serde_json::Value),
        created_at: created,
    }
}

super::table_queries!(
    audit_log,
    AuditLogEntry,
    NewAuditLogEntry,
    append_only,
    order_by = (audit_log::created_at.desc(), audit_log::id.desc())
);
