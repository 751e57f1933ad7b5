//! `audit_log`: Append-only record of every write to a tenant table, written by trigger
//! `audit` (`rowguard.audit_row`) in the same transaction. The application and admin roles
//! may only SELECT and INSERT here; only the owner may change or delete rows.
//!
//! [`AuditLogEntry`] is a row, [`NewAuditLogEntry`] a row to insert (an application's own
//! entries, such as `report.exported`). The query methods are the ones every table
//! shares; see [`crate::models`]. [`crate::audit::AuditQuery`] reads the trail by target,
//! actor and time range, a page at a time.

use uuid::Uuid;

use crate::schema::audit_log;
use crate::UserId;

super::model! {
    /// A row of `audit_log`: one write to a tenant table (or an application's own entry).
    table: audit_log,
    key: (tenant_id, id),
    row: AuditLogEntry,
    new: NewAuditLogEntry,
    changes: append_only,
    columns: {
        tenant_id: tenant,
        id: id,
        /// The verified user of the tenant context that wrote the row; NULL for the service
        /// context and the admin path. No foreign key: it keeps the id after the user is
        /// deleted.
        actor_user_id: nullable(UserId),
        /// Who acted, as text: `user:UUID` (the verified user), `service` (the tenant's
        /// service context), `admin:REASON` (the admin path's recorded reason) or
        /// `db:LOGIN` (a privileged login outside rowguard's admin path).
        actor: required(String),
        /// What was done: `insert`, `update` or `delete` (lowercase dotted names for
        /// actions written by the application).
        action: required(String),
        /// The table of the row acted on.
        target_type: required(String),
        /// id of the row acted on (for tenants, the tenant id).
        target_id: nullable(Uuid),
        /// `{"new": {...}}` for an insert, `{"old": {...}}` for a delete,
        /// `{"old": {...}, "new": {...}}` with the changed columns for an update; never
        /// secrets, embedding vectors or generated columns.
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
