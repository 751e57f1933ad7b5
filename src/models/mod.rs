//! Typed rows and queries for every table, one module per table.
//!
//! Each module `models::<table>` has three structs:
//! - the row (`Task`): `Queryable + Selectable + Identifiable`, serde, read with
//!   `Row::as_select()` so only the listed columns are fetched;
//! - the insert (`NewTask`): `Insertable`, owned fields, deserializable from a JSON
//!   body; `NewTask::new(...)` fills `id` with [`Uuid::now_v7`] and leaves every column
//!   that has a default (or is nullable) as `None`, which inserts the default;
//! - the update (`TaskChanges`): `AsChangeset`, every field an `Option` (`None` leaves
//!   the column alone; nullable columns are `Option<Option<T>>`, `Some(None)` sets NULL).
//!   It never contains `tenant_id`, `id` or `created_at`.
//!
//! and the same async queries, each running on a [`TenantConn`], so RLS confines them to
//! the connection's tenant (no `WHERE tenant_id = ...` is needed or written):
//!
//! | call | returns |
//! | --- | --- |
//! | `Row::find(conn, id)` | the row, or [`Error::NotFound`](crate::Error::NotFound) |
//! | `Row::list(conn, limit)` | up to `limit` rows in the table's usual order (newest first; embeddings by parent and chunk; meetings by start; deal activities by occurrence) |
//! | `NewRow::insert(self, conn)` | the inserted row, with database defaults filled in |
//! | `RowChanges::apply(self, conn, id)` | the updated row (the current row when there is nothing to change), or `NotFound` |
//! | `Row::delete(conn, id)` | whether a row was deleted |
//!
//! `audit_log` is append-only ([`AuditLogEntry`]): it has `find`, `list` and `insert` only.
//! `tenants` compares `id` with the tenant context, so [`Tenant::find`] sees the
//! connection's own tenant only; inserting and deleting tenants needs a connection
//! acting as `rowguard_admin`.
//!
//! Enums of the schema are in [`enums`] and re-exported here.
//!
//! ```no_run
//! use rowguard::models::{NewTask, Task, TaskChanges, TaskStatus};
//! use rowguard::tenant::TenantConn;
//!
//! async fn demo(conn: &mut TenantConn, tenant_id: uuid::Uuid) -> rowguard::Result<()> {
//!     let mut new = NewTask::new(tenant_id, "Call Acme back");
//!     new.due_at = Some(chrono::Utc::now() + chrono::Duration::days(1));
//!     let task = new.insert(conn).await?;
//!
//!     let done = TaskChanges {
//!         status: Some(TaskStatus::Done),
//!         completed_at: Some(Some(chrono::Utc::now())),
//!         ..Default::default()
//!     };
//!     let task = done.apply(conn, task.id).await?;
//!     assert_eq!(task.status, TaskStatus::Done);
//!
//!     let recent: Vec<Task> = Task::list(conn, 20).await?;
//!     assert!(recent.iter().any(|t| t.id == task.id));
//!     assert!(Task::delete(conn, task.id).await?);
//!     Ok(())
//! }
//! ```

use serde::{Deserialize, Deserializer};
#[cfg(doc)]
use uuid::Uuid;

#[cfg(doc)]
use crate::tenant::TenantConn;

/// Deserializes a present field (even `null`) as `Some(..)`, so that in a changes
/// struct a missing key (`None`, by `#[serde(default)]`) differs from `null`
/// (`Some(None)`: set the column to NULL).
pub(crate) fn double_option<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// Rejects a negative `LIMIT` before it reaches PostgreSQL.
pub(crate) fn check_limit(limit: i64) -> crate::Result<i64> {
    if limit < 0 {
        return Err(crate::Error::InvalidInput(format!(
            "limit must not be negative (got {limit})"
        )));
    }
    Ok(limit)
}

/// The queries every table shares, written once: `find`, `list`, `insert` and, unless
/// the table is `append_only`, `apply` and `delete`. `order_by` is the usual list order
/// (an expression of the table's columns, served by an index led by `tenant_id`).
macro_rules! table_queries {
    ($table:ident, $Row:ident, $New:ident, append_only, order_by = $order:expr) => {
        $crate::models::table_queries!(@read $table, $Row, $New, order_by = $order);
    };

    ($table:ident, $Row:ident, $New:ident, $Changes:ident, order_by = $order:expr) => {
        $crate::models::table_queries!(@read $table, $Row, $New, order_by = $order);

        impl $Changes {
            #[doc = concat!("Applies these changes to the `", stringify!($table), "` row `id` of the current tenant and returns it as it now is.")]
            ///
            /// With nothing to change no UPDATE is sent and the current row is returned.
            ///
            /// # Errors
            /// [`Error::NotFound`](crate::Error::NotFound) when the tenant has no such row;
            /// constraint and RLS violations as classified by [`crate::Error`].
            pub async fn apply(
                self,
                conn: &mut $crate::tenant::TenantConn,
                id: ::uuid::Uuid,
            ) -> $crate::Result<$Row> {
                use ::diesel::{ExpressionMethods, QueryDsl, SelectableHelper};
                use ::diesel::OptionalEmptyChangesetExtension;
                use ::diesel_async::RunQueryDsl;
                let updated = ::diesel::update($table::table.filter($table::id.eq(id)))
                    .set(self)
                    .returning($Row::as_returning())
                    .get_result(conn)
                    .await
                    .optional_empty_changeset()?;
                match updated {
                    Some(row) => Ok(row),
                    None => $Row::find(conn, id).await,
                }
            }
        }

        impl $Row {
            #[doc = concat!("Deletes the `", stringify!($table), "` row `id` of the current tenant; `false` when there was none.")]
            ///
            /// # Errors
            /// Foreign-key and RLS violations as classified by [`crate::Error`].
            pub async fn delete(
                conn: &mut $crate::tenant::TenantConn,
                id: ::uuid::Uuid,
            ) -> $crate::Result<bool> {
                use ::diesel::{ExpressionMethods, QueryDsl};
                use ::diesel_async::RunQueryDsl;
                let n = ::diesel::delete($table::table.filter($table::id.eq(id)))
                    .execute(conn)
                    .await?;
                Ok(n > 0)
            }
        }
    };

    (@read $table:ident, $Row:ident, $New:ident, order_by = $order:expr) => {
        impl $Row {
            #[doc = concat!("The `", stringify!($table), "` row `id` of the current tenant.")]
            ///
            /// # Errors
            /// [`Error::NotFound`](crate::Error::NotFound) when the tenant has no such row.
            pub async fn find(
                conn: &mut $crate::tenant::TenantConn,
                id: ::uuid::Uuid,
            ) -> $crate::Result<Self> {
                use ::diesel::{ExpressionMethods, QueryDsl, SelectableHelper};
                use ::diesel_async::RunQueryDsl;
                Ok($table::table
                    .filter($table::id.eq(id))
                    .select(Self::as_select())
                    .first(conn)
                    .await?)
            }

            #[doc = concat!("Up to `limit` rows of `", stringify!($table), "` of the current tenant, in the usual order: `", stringify!($order), "`.")]
            ///
            /// # Errors
            /// [`Error::InvalidInput`](crate::Error::InvalidInput) for a negative `limit`.
            pub async fn list(
                conn: &mut $crate::tenant::TenantConn,
                limit: i64,
            ) -> $crate::Result<Vec<Self>> {
                // ExpressionMethods: for `.desc()` in orders that use it.
                #[allow(unused_imports)]
                use ::diesel::{ExpressionMethods, QueryDsl, SelectableHelper};
                use ::diesel_async::RunQueryDsl;
                let limit = $crate::models::check_limit(limit)?;
                Ok($table::table
                    .order_by($order)
                    .limit(limit)
                    .select(Self::as_select())
                    .load(conn)
                    .await?)
            }
        }

        impl $New {
            #[doc = concat!("Inserts the row into `", stringify!($table), "` and returns it with the database's defaults filled in.")]
            ///
            /// # Errors
            /// Unique, foreign-key, check and RLS violations as classified by [`crate::Error`]
            /// (a `tenant_id` other than the connection's is an RLS violation).
            pub async fn insert(
                self,
                conn: &mut $crate::tenant::TenantConn,
            ) -> $crate::Result<$Row> {
                use ::diesel::SelectableHelper;
                use ::diesel_async::RunQueryDsl;
                Ok(::diesel::insert_into($table::table)
                    .values(self)
                    .returning($Row::as_returning())
                    .get_result(conn)
                    .await?)
            }
        }
    };
}
pub(crate) use table_queries;

pub mod ai_employee_jobs;
pub mod ai_employee_outputs;
pub mod audit_log;
pub mod automation_runs;
pub mod automations;
pub mod companies;
pub mod contacts;
pub mod deal_activities;
pub mod deal_activity_embeddings;
pub mod deals;
pub mod document_embeddings;
pub mod documents;
pub mod embedding_counts;
pub mod enums;
pub mod events;
pub mod files;
pub mod hub_links;
pub mod integrations;
pub mod invites;
pub mod meeting_embeddings;
pub mod meeting_participants;
pub mod meeting_summaries;
pub mod meetings;
pub mod notifications;
pub mod sessions;
pub mod tasks;
pub mod tenants;
pub mod transcripts;
pub mod users;

pub use ai_employee_jobs::{AiEmployeeJob, AiEmployeeJobChanges, NewAiEmployeeJob};
pub use ai_employee_outputs::{AiEmployeeOutput, AiEmployeeOutputChanges, NewAiEmployeeOutput};
pub use audit_log::{AuditLogEntry, NewAuditLogEntry};
pub use automation_runs::{AutomationRun, AutomationRunChanges, NewAutomationRun};
pub use automations::{Automation, AutomationChanges, NewAutomation};
pub use companies::{Company, CompanyChanges, NewCompany};
pub use contacts::{Contact, ContactChanges, NewContact};
pub use deal_activities::{DealActivity, DealActivityChanges, NewDealActivity};
pub use deal_activity_embeddings::{
    DealActivityEmbedding, DealActivityEmbeddingChanges, NewDealActivityEmbedding,
};
pub use deals::{Deal, DealChanges, NewDeal};
pub use document_embeddings::{DocumentEmbedding, DocumentEmbeddingChanges, NewDocumentEmbedding};
pub use documents::{Document, DocumentChanges, NewDocument};
pub use embedding_counts::EmbeddingCount;
pub use enums::*;
pub use events::{Event, EventChanges, NewEvent};
pub use files::{File, FileChanges, NewFile};
pub use hub_links::{HubLink, HubLinkChanges, NewHubLink};
pub use integrations::{Integration, IntegrationChanges, NewIntegration};
pub use invites::{Invite, InviteChanges, NewInvite};
pub use meeting_embeddings::{MeetingEmbedding, MeetingEmbeddingChanges, NewMeetingEmbedding};
pub use meeting_participants::{
    MeetingParticipant, MeetingParticipantChanges, NewMeetingParticipant,
};
pub use meeting_summaries::{MeetingSummary, MeetingSummaryChanges, NewMeetingSummary};
pub use meetings::{Meeting, MeetingChanges, NewMeeting};
pub use notifications::{NewNotification, Notification, NotificationChanges};
pub use sessions::{NewSession, Session, SessionChanges};
pub use tasks::{NewTask, Task, TaskChanges};
pub use tenants::{NewTenant, Tenant, TenantChanges};
pub use transcripts::{NewTranscript, Transcript, TranscriptChanges};
pub use users::{NewUser, User, UserChanges};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_tell_missing_from_null() {
        let c: TaskChanges = serde_json::from_str(r#"{"title": "x", "due_at": null}"#).unwrap();
        assert_eq!(c.title.as_deref(), Some("x"));
        assert_eq!(c.due_at, Some(None), "null clears the column");
        assert_eq!(c.description, None, "a missing key leaves the column");
        let back = serde_json::to_value(&c).unwrap();
        assert_eq!(back, serde_json::json!({"title": "x", "due_at": null}));
    }

    #[test]
    fn new_rows_get_v7_ids_and_defaults() {
        let tenant = uuid::Uuid::now_v7();
        let t = NewTask::new(tenant, "a");
        assert_eq!(t.id.get_version_num(), 7);
        assert_eq!(t.status, None);

        let from_json: NewTask = serde_json::from_value(
            serde_json::json!({"tenant_id": tenant, "title": "b", "status": "in_progress"}),
        )
        .unwrap();
        assert_eq!(
            from_json.id.get_version_num(),
            7,
            "a missing id is generated"
        );
        assert_eq!(from_json.status, Some(TaskStatus::InProgress));
    }

    #[test]
    fn credentials_never_serialize() {
        let now = chrono::Utc::now();
        let row = Integration {
            tenant_id: uuid::Uuid::now_v7(),
            id: uuid::Uuid::now_v7(),
            provider: "slack".into(),
            status: IntegrationStatus::Active,
            config: serde_json::json!({}),
            credentials_encrypted: Some(vec![1, 2, 3]),
            last_synced_at: None,
            last_error: None,
            connected_by: None,
            created_at: now,
            updated_at: now,
        };
        let json = serde_json::to_value(&row).unwrap();
        assert!(json.get("credentials_encrypted").is_none());
    }

    #[test]
    fn negative_limits_are_refused() {
        assert!(check_limit(-1).is_err());
        assert_eq!(check_limit(0).unwrap(), 0);
    }
}
