//! The tenant's audit trail.

use chrono::{DateTime, Utc};
use rowguard::audit::AuditQuery;
use rowguard::MemberRole;
use rowguard_axum::{ApiError, Tx};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::extract::Query;
use crate::{page_after, page_limit};

/// One change, as the database recorded it.
#[derive(Serialize, ToSchema)]
pub struct AuditEntry {
    id: Uuid,
    /// `user:<uuid>`, `service`, `admin:<reason>` or `db:<login>`.
    actor: String,
    actor_user_id: Option<Uuid>,
    /// insert, update or delete.
    action: String,
    /// The table.
    target_type: String,
    target_id: Option<Uuid>,
    /// `{"old": {...}, "new": {...}}`, the changed columns, secrets left out.
    changes: serde_json::Value,
    created_at: DateTime<Utc>,
}

/// A page of the trail, newest first.
#[derive(Serialize, ToSchema)]
pub struct AuditTrail {
    items: Vec<AuditEntry>,
    /// Pass as `after` for the next page; null on the last page.
    next: Option<String>,
}

/// Filters and paging.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TrailParams {
    /// Only changes of this row.
    target: Option<Uuid>,
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<i64>,
    /// The `next` of the previous page.
    #[param(pattern = r"^[0-9a-f]{1,16}\.[0-9a-f]{32}$")]
    after: Option<String>,
}

/// The caller's tenant's audit trail, newest first: for admins and owners (403 for
/// others, whom the log's role tier would show nothing).
#[utoipa::path(
    get,
    path = "/audit",
    operation_id = "audit_trail",
    tag = "audit",
    params(TrailParams),
    responses((status = 200, description = "A page of the trail", body = AuditTrail)),
)]
pub async fn list(
    mut tx: Tx,
    Query(p): Query<TrailParams>,
) -> Result<axum::Json<AuditTrail>, ApiError> {
    if !matches!(
        tx.context().role,
        Some(MemberRole::Owner | MemberRole::Admin)
    ) {
        return Err(ApiError::forbidden());
    }
    let mut q = AuditQuery::new().limit(page_limit(p.limit)?);
    if let Some(t) = p.target {
        q = q.target(t);
    }
    if let Some(c) = page_after(p.after.as_deref())? {
        q = q.after(c);
    }
    let mut conn = tx.conn().await?;
    let page = q.run(&mut conn).await?;
    Ok(axum::Json(AuditTrail {
        items: page
            .entries
            .into_iter()
            .map(|e| AuditEntry {
                id: e.id,
                actor: e.actor,
                actor_user_id: e.actor_user_id.map(|u| u.as_uuid()),
                action: e.action,
                target_type: e.target_type,
                target_id: e.target_id,
                changes: e.changes,
                created_at: e.created_at,
            })
            .collect(),
        next: page.next.map(|c| c.to_string()),
    }))
}
