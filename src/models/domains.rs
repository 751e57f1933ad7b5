//! `domains`: the host names a tenant is served at.
//!
//! Written only through the admin path ([`crate::domains`]): a verified host decides
//! which tenant answers requests for it, so the application role may read its own
//! tenant's domains and change none. [`Domain`] is therefore read-only here.

use chrono::{DateTime, Utc};
use diesel::{Identifiable, Queryable, Selectable};
use serde::Serialize;
use uuid::Uuid;

use crate::schema::domains;
use crate::TenantId;

/// A row of `domains`: a host name of a tenant. The verification token's hash is not
/// part of it.
#[derive(Queryable, Selectable, Identifiable, Serialize, Debug, Clone, PartialEq, Eq)]
#[diesel(table_name = domains, primary_key(tenant_id, id), check_for_backend(diesel::pg::Pg))]
pub struct Domain {
    /// The tenant served at the host.
    pub tenant_id: TenantId,
    /// The row's id, a UUID v7.
    pub id: Uuid,
    /// Lowercase host name without port or trailing dot (`app.example.com`).
    pub host: String,
    /// When the verification token was shown to be published for the host; `None`
    /// while unverified (the host then resolves to nothing).
    pub verified_at: Option<DateTime<Utc>>,
    /// The tenant's canonical host: at most one per tenant, and only a verified one.
    pub is_primary: bool,
    /// When the domain was added.
    pub created_at: DateTime<Utc>,
    /// When the row last changed.
    pub updated_at: DateTime<Utc>,
}

impl Domain {
    /// The connection's tenant's domains, primary first, then by host.
    ///
    /// # Errors
    /// Database errors as classified by [`crate::Error`].
    pub async fn list(conn: &mut crate::tenant::TenantConn) -> crate::Result<Vec<Self>> {
        use diesel::{ExpressionMethods, QueryDsl, SelectableHelper};
        use diesel_async::RunQueryDsl;
        Ok(domains::table
            .order_by((domains::is_primary.desc(), domains::host))
            .select(Self::as_select())
            .load(conn)
            .await?)
    }
}
