//! Admin routes: the operator's, behind admin tokens ([`rowguard_axum::Admin`]), on
//! the admin pool. A tenant's session never reaches them, and an admin token never
//! acts as a tenant.

use axum::extract::State;
use chrono::{DateTime, Utc};
use rowguard::models::{Tenant, TenantChanges, TenantPlan, TenantStatus};
use rowguard::TenantId;
use rowguard_axum::{Admin, ApiError};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::extract::Path;
use crate::AppState;

/// A tenant, as the operator sees it.
#[derive(Serialize, ToSchema)]
pub struct TenantOut {
    id: Uuid,
    slug: String,
    name: String,
    #[schema(schema_with = crate::openapi::tenant_status)]
    status: TenantStatus,
    #[schema(schema_with = crate::openapi::tenant_plan)]
    plan: TenantPlan,
    created_at: DateTime<Utc>,
}

impl From<Tenant> for TenantOut {
    fn from(t: Tenant) -> Self {
        TenantOut {
            id: t.id.as_uuid(),
            slug: t.slug,
            name: t.name,
            status: t.status,
            plan: t.plan,
            created_at: t.created_at,
        }
    }
}

/// Every tenant, by slug.
#[utoipa::path(
    get,
    path = "/admin/tenants",
    operation_id = "admin_list_tenants",
    tag = "admin",
    security(("admin" = [])),
    responses((status = 200, description = "Every tenant", body = Vec<TenantOut>)),
)]
pub async fn tenants(admin: Admin) -> Result<axum::Json<Vec<TenantOut>>, ApiError> {
    let all = rowguard::control::list(admin.pool()).await?;
    Ok(axum::Json(all.into_iter().map(Into::into).collect()))
}

/// Suspends a tenant: its sessions stop resolving (403 `tenant-suspended`).
#[utoipa::path(
    post,
    path = "/admin/tenants/{id}/suspend",
    operation_id = "admin_suspend_tenant",
    tag = "admin",
    security(("admin" = [])),
    params(("id" = Uuid, Path, description = "The tenant's id")),
    responses((status = 200, description = "The tenant", body = TenantOut)),
)]
pub async fn suspend(
    State(st): State<AppState>,
    admin: Admin,
    Path(id): Path<Uuid>,
) -> Result<axum::Json<TenantOut>, ApiError> {
    set_status(&st, &admin, id, TenantStatus::Suspended).await
}

/// Resumes a suspended tenant.
#[utoipa::path(
    post,
    path = "/admin/tenants/{id}/resume",
    operation_id = "admin_resume_tenant",
    tag = "admin",
    security(("admin" = [])),
    params(("id" = Uuid, Path, description = "The tenant's id")),
    responses((status = 200, description = "The tenant", body = TenantOut)),
)]
pub async fn resume(
    State(st): State<AppState>,
    admin: Admin,
    Path(id): Path<Uuid>,
) -> Result<axum::Json<TenantOut>, ApiError> {
    set_status(&st, &admin, id, TenantStatus::Active).await
}

/// One admin transaction whose reason names the admin (the audit trail's actor is
/// `admin:<reason>`); then the resolver forgets what it knew of hosts and slugs.
async fn set_status(
    st: &AppState,
    admin: &Admin,
    id: Uuid,
    status: TenantStatus,
) -> Result<axum::Json<TenantOut>, ApiError> {
    let tenant = TenantId::from(id);
    let reason = admin.reason(&format!("set tenant {tenant} {}", status.as_str()));
    let changes = TenantChanges {
        status: Some(status),
        ..Default::default()
    };
    let t = admin
        .pool()
        .as_admin(&reason, async |conn| changes.apply(conn, tenant).await)
        .await?;
    st.resolver.invalidate_all();
    Ok(axum::Json(t.into()))
}
