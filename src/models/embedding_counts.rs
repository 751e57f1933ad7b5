//! `embedding_counts`: how many embedding rows each tenant has per embedding table.
//!
//! Written only by triggers on the embedding tables (the application role may read its
//! own tenant's rows), so [`EmbeddingCount`] is read-only. The vector search reads it
//! to choose its strategy; see [`crate::search`].

use chrono::{DateTime, Utc};
use diesel::{Identifiable, Queryable, Selectable};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::enums::EmbeddingKind;
use crate::schema::embedding_counts;

/// A row of `embedding_counts`: the tenant's row count in one embedding table.
#[derive(Queryable, Selectable, Identifiable, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[diesel(table_name = embedding_counts, primary_key(tenant_id, id), check_for_backend(diesel::pg::Pg))]
pub struct EmbeddingCount {
    /// The tenant the count belongs to.
    pub tenant_id: Uuid,
    /// The row's id, a UUID v7.
    pub id: Uuid,
    /// Which embedding table.
    pub kind: EmbeddingKind,
    /// The tenant's rows in that table, as of the last committed statement.
    pub rows: i64,
    /// When the count last changed.
    pub updated_at: DateTime<Utc>,
}

impl EmbeddingCount {
    /// The connection's tenant's counts, one per embedding table that has rows.
    pub async fn list(conn: &mut crate::tenant::TenantConn) -> crate::Result<Vec<Self>> {
        use diesel::{QueryDsl, SelectableHelper};
        use diesel_async::RunQueryDsl;
        Ok(embedding_counts::table
            .order_by(embedding_counts::kind)
            .select(Self::as_select())
            .load(conn)
            .await?)
    }
}
