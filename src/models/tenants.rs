//! `tenants`: A customer organisation. Every other table belongs to exactly one tenant; a tenant sees only its own row here.
//!
//! [`Tenant`] is a row, [`NewTenant`] a row to insert and [`TenantChanges`] an update.
//! Unlike the other tables, the queries here are split by who may run them: a tenant
//! reads its own row ([`Tenant::current`]) and may rename it ([`Tenant::rename`]);
//! creating, changing and deleting tenants is
//! the admin path's ([`AdminConn`]), as the grants say (`policies/20_grants.sql`).

use diesel::{ExpressionMethods, OptionalEmptyChangesetExtension, QueryDsl, SelectableHelper};
use diesel_async::RunQueryDsl;

use super::enums::{TenantPlan, TenantStatus};
use crate::pool::AdminConn;
use crate::schema::tenants;
use crate::tenant::TenantConn;
use crate::{Result, TenantId};

super::model! {
    /// A row of `tenants`: A customer organisation. Every other table belongs to exactly one tenant; a tenant sees only its own row here.
    table: tenants,
    key: (id),
    row: Tenant,
    new: NewTenant,
    changes: TenantChanges,
    columns: {
        id: id(TenantId),
        /// URL-safe unique handle (lowercase letters, digits, dashes), resolved before a
        /// tenant is known by rowguard.resolve_tenant_slug.
        slug: required(String),
        /// Name shown to users.
        name: required(String),
        /// Status.
        status: defaulted(TenantStatus),
        /// Billing plan; feature limits derive from it and from settings.
        plan: defaulted(TenantPlan),
        /// Plan and feature settings as a JSON object.
        settings: defaulted(serde_json::Value),
        created_at: created,
        updated_at: updated,
    }
}

impl Tenant {
    /// The connection's own tenant (RLS shows a tenant its own row only).
    ///
    /// # Errors
    /// [`Error::NotFound`](crate::Error::NotFound) when the context names a tenant that
    /// does not exist.
    pub async fn current(conn: &mut TenantConn) -> Result<Self> {
        let id = conn.context().tenant_id;
        Ok(tenants::table
            .filter(tenants::id.eq(id))
            .select(Self::as_select())
            .first(conn)
            .await?)
    }

    /// Renames the connection's own tenant (the one column of its row the application
    /// may change) and returns the row.
    ///
    /// # Errors
    /// [`Error::Forbidden`](crate::Error::Forbidden) for a role the role tiers do not
    /// allow to write.
    pub async fn rename(conn: &mut TenantConn, name: &str) -> Result<Self> {
        let id = conn.context().tenant_id;
        Ok(diesel::update(tenants::table.filter(tenants::id.eq(id)))
            .set(tenants::name.eq(name))
            .returning(Self::as_returning())
            .get_result(conn)
            .await?)
    }

    /// The tenant `id`, read through the admin path.
    ///
    /// # Errors
    /// [`Error::NotFound`](crate::Error::NotFound) when there is no such tenant.
    pub async fn find(conn: &mut AdminConn, id: TenantId) -> Result<Self> {
        Ok(tenants::table
            .filter(tenants::id.eq(id))
            .select(Self::as_select())
            .first(conn)
            .await?)
    }

    /// Deletes the tenant `id` and, by cascade, every row of it; `false` when there was
    /// none.
    ///
    /// # Errors
    /// Database errors as classified by [`crate::Error`].
    pub async fn delete(conn: &mut AdminConn, id: TenantId) -> Result<bool> {
        let n = diesel::delete(tenants::table.filter(tenants::id.eq(id)))
            .execute(conn)
            .await?;
        Ok(n > 0)
    }
}

impl NewTenant {
    /// Creates the tenant and returns it with the database's defaults filled in.
    ///
    /// # Errors
    /// [`Error::UniqueViolation`](crate::Error::UniqueViolation) for a slug or domain
    /// already taken; check violations (a malformed slug) as classified by
    /// [`crate::Error`].
    pub async fn insert(self, conn: &mut AdminConn) -> Result<Tenant> {
        Ok(diesel::insert_into(tenants::table)
            .values(self)
            .returning(Tenant::as_returning())
            .get_result(conn)
            .await?)
    }
}

impl TenantChanges {
    /// Applies these changes to the tenant `id` and returns it as it now is; with
    /// nothing to change, no UPDATE is sent.
    ///
    /// # Errors
    /// [`Error::NotFound`](crate::Error::NotFound) when there is no such tenant;
    /// constraint violations as classified by [`crate::Error`].
    pub async fn apply(self, conn: &mut AdminConn, id: TenantId) -> Result<Tenant> {
        let updated = diesel::update(tenants::table.filter(tenants::id.eq(id)))
            .set(self)
            .returning(Tenant::as_returning())
            .get_result(conn)
            .await
            .optional_empty_changeset()?;
        match updated {
            Some(row) => Ok(row),
            None => Tenant::find(conn, id).await,
        }
    }
}
