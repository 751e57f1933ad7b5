//! Typed rows and queries for every table, one module per table.
//!
//! Each module `models::<table>` declares the table's columns once (type, doc, and
//! whether the column is required, has a default or is nullable), and from that list
//! come three structs:
//! - the row (`Task`): `Queryable + Selectable + Identifiable`, serde, read with
//!   `Row::as_select()` so only the listed columns are fetched. `tenant_id` is a
//!   [`TenantId`](crate::TenantId), columns that point at users are
//!   [`UserId`](crate::UserId)s;
//! - the insert (`NewTask`): `Insertable`, built with a typed builder
//!   (`NewTask::builder().title("Call Acme back").build()`) that requires every column
//!   without a default at compile time, or deserialized from a JSON body. It has no
//!   `tenant_id`: [`insert`](tasks::NewTask::insert) takes the tenant from the
//!   connection's context. `id` is a fresh UUID v7 unless set;
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
//! | `NewRow::insert(self, conn)` | the row inserted for the connection's tenant, with database defaults filled in |
//! | `RowChanges::apply(self, conn, id)` | the updated row (the current row when there is nothing to change), or `NotFound` |
//! | `Row::delete(conn, id)` | whether a row was deleted |
//!
//! `audit_log` is append-only ([`AuditLogEntry`]): it has `find`, `list` and `insert` only.
//! `tenants` is the exception: a tenant reads its own row ([`Tenant::current`]), and
//! creating, changing and deleting tenants take an [`AdminConn`](crate::pool::AdminConn),
//! because the application role may do none of them.
//!
//! Filters a handler composes onto its own queries are in [`filters`].
//!
//! Enums of the schema are in [`enums`] and re-exported here.
//!
//! ```no_run
//! use rowguard::models::{NewTask, Task, TaskChanges, TaskStatus};
//! use rowguard::tenant::TenantConn;
//!
//! async fn demo(conn: &mut TenantConn) -> rowguard::Result<()> {
//!     let new = NewTask::builder()
//!         .title("Call Acme back")
//!         .due_at(chrono::Utc::now() + chrono::Duration::days(1))
//!         .build();
//!     let task = new.insert(conn).await?;
//!     assert_eq!(task.tenant_id, conn.context().tenant_id);
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
//!
//! A required column left out does not compile:
//!
//! ```compile_fail
//! let task = rowguard::models::NewTask::builder().build(); // no title
//! ```

#[cfg(doc)]
use crate::tenant::TenantConn;
use serde::{Deserialize, Deserializer};

/// Deserializes a present field as `Some(..)`: in a changes struct a missing key is
/// `None` (by `#[serde(default)]`, the column stays), and for a nullable column
/// (`Option<Option<T>>`) `null` is `Some(None)` (set the column to NULL). For a NOT NULL
/// column, `null` is an error rather than a silent no-op.
pub(crate) fn present<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}

/// A fresh UUID v7 as any id type: the serde default of an insert's `id`.
pub(crate) fn new_v7<T: From<uuid::Uuid>>() -> T {
    T::from(uuid::Uuid::now_v7())
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

/// Declares a table's three structs from one list of its columns, so each column's type
/// and doc are written once. Each column has a kind:
///
/// | kind | row | insert (`New…`) | changes (`…Changes`) |
/// | --- | --- | --- | --- |
/// | `tenant` | `TenantId` | (from the connection) | — |
/// | `id` | `Uuid` | `Uuid`, a fresh v7 by default | — |
/// | `id(T)` | `T` (`UserId`, `TenantId`) | `T`, a fresh v7 by default | — |
/// | `required(T)` | `T` | `T`, required by the builder | `Option<T>` |
/// | `defaulted(T)` | `T` | `Option<T>` (`None`: the column's default) | `Option<T>` |
/// | `nullable(T)` | `Option<T>` | `Option<T>` | `Option<Option<T>>` (`Some(None)` sets NULL) |
/// | `secret(T)` | `Option<T>`, never serialized | `Option<T>` | `Option<Option<T>>` |
/// | `created`, `updated` | `DateTime<Utc>` | — | — |
///
/// `changes: append_only` declares no changes struct.
macro_rules! model {
    (
        $(#[doc = $rowdoc:literal])*
        table: $table:ident,
        key: ($($key:ident),+),
        row: $Row:ident,
        new: $New:ident,
        changes: append_only,
        columns: { $($cols:tt)* }
    ) => {
        $crate::models::model!(@munch
            { $table, ($($key),+), $Row, $New, [], [$(#[doc = $rowdoc])*] }
            [] [] []
            $($cols)*
        );
    };

    (
        $(#[doc = $rowdoc:literal])*
        table: $table:ident,
        key: ($($key:ident),+),
        row: $Row:ident,
        new: $New:ident,
        changes: $Changes:ident,
        columns: { $($cols:tt)* }
    ) => {
        $crate::models::model!(@munch
            { $table, ($($key),+), $Row, $New, [$Changes], [$(#[doc = $rowdoc])*] }
            [] [] []
            $($cols)*
        );
    };

    (@munch $h:tt [$($r:tt)*] [$($n:tt)*] [$($c:tt)*]
        $col:ident : tenant, $($rest:tt)*) => {
        $crate::models::model!(@munch $h
            [$($r)*
                /// The tenant the row belongs to (RLS confines every statement to it).
                pub $col: $crate::TenantId,]
            [$($n)*]
            [$($c)*]
            $($rest)*);
    };

    (@munch $h:tt [$($r:tt)*] [$($n:tt)*] [$($c:tt)*]
        $col:ident : id, $($rest:tt)*) => {
        $crate::models::model!(@munch $h
            [$($r)*
                /// The row's id, a UUID v7.
                pub $col: ::uuid::Uuid,]
            [$($n)*
                /// The row's id: a fresh UUID v7 unless set.
                #[serde(default = "crate::models::new_v7")]
                #[builder(default = ::uuid::Uuid::now_v7())]
                pub $col: ::uuid::Uuid,]
            [$($c)*]
            $($rest)*);
    };

    (@munch $h:tt [$($r:tt)*] [$($n:tt)*] [$($c:tt)*]
        $col:ident : id($ty:ident), $($rest:tt)*) => {
        $crate::models::model!(@munch $h
            [$($r)*
                /// The row's id, a UUID v7.
                pub $col: $ty,]
            [$($n)*
                /// The row's id: a fresh UUID v7 unless set.
                #[serde(default = "crate::models::new_v7")]
                #[builder(default = $ty::new_v7())]
                pub $col: $ty,]
            [$($c)*]
            $($rest)*);
    };

    (@munch $h:tt [$($r:tt)*] [$($n:tt)*] [$($c:tt)*]
        $(#[doc = $d:literal])* $col:ident : required($($ty:tt)+), $($rest:tt)*) => {
        $crate::models::model!(@munch $h
            [$($r)* $(#[doc = $d])* pub $col: $($ty)+,]
            [$($n)* $(#[doc = $d])* pub $col: $($ty)+,]
            [$($c)* $(#[doc = $d])*
                #[serde(default, deserialize_with = "crate::models::present", skip_serializing_if = "Option::is_none")]
                pub $col: Option<$($ty)+>,]
            $($rest)*);
    };

    (@munch $h:tt [$($r:tt)*] [$($n:tt)*] [$($c:tt)*]
        $(#[doc = $d:literal])* $col:ident : defaulted($($ty:tt)+), $($rest:tt)*) => {
        $crate::models::model!(@munch $h
            [$($r)* $(#[doc = $d])* pub $col: $($ty)+,]
            [$($n)* $(#[doc = $d])*
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub $col: Option<$($ty)+>,]
            [$($c)* $(#[doc = $d])*
                #[serde(default, deserialize_with = "crate::models::present", skip_serializing_if = "Option::is_none")]
                pub $col: Option<$($ty)+>,]
            $($rest)*);
    };

    (@munch $h:tt [$($r:tt)*] [$($n:tt)*] [$($c:tt)*]
        $(#[doc = $d:literal])* $col:ident : nullable($($ty:tt)+), $($rest:tt)*) => {
        $crate::models::model!(@munch $h
            [$($r)* $(#[doc = $d])* pub $col: Option<$($ty)+>,]
            [$($n)* $(#[doc = $d])*
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub $col: Option<$($ty)+>,]
            [$($c)* $(#[doc = $d])*
                #[serde(default, deserialize_with = "crate::models::present", skip_serializing_if = "Option::is_none")]
                pub $col: Option<Option<$($ty)+>>,]
            $($rest)*);
    };

    (@munch $h:tt [$($r:tt)*] [$($n:tt)*] [$($c:tt)*]
        $(#[doc = $d:literal])* $col:ident : secret($($ty:tt)+), $($rest:tt)*) => {
        $crate::models::model!(@munch $h
            [$($r)* $(#[doc = $d])*
                #[serde(skip_serializing, default)]
                pub $col: Option<$($ty)+>,]
            [$($n)* $(#[doc = $d])*
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub $col: Option<$($ty)+>,]
            [$($c)* $(#[doc = $d])*
                #[serde(default, deserialize_with = "crate::models::present", skip_serializing_if = "Option::is_none")]
                pub $col: Option<Option<$($ty)+>>,]
            $($rest)*);
    };

    (@munch $h:tt [$($r:tt)*] [$($n:tt)*] [$($c:tt)*]
        $col:ident : created, $($rest:tt)*) => {
        $crate::models::model!(@munch $h
            [$($r)*
                /// When the row was created.
                pub $col: ::chrono::DateTime<::chrono::Utc>,]
            [$($n)*]
            [$($c)*]
            $($rest)*);
    };

    (@munch $h:tt [$($r:tt)*] [$($n:tt)*] [$($c:tt)*]
        $col:ident : updated, $($rest:tt)*) => {
        $crate::models::model!(@munch $h
            [$($r)*
                /// When the row last changed (kept current by a trigger).
                pub $col: ::chrono::DateTime<::chrono::Utc>,]
            [$($n)*]
            [$($c)*]
            $($rest)*);
    };

    (@munch { $table:ident, ($($key:ident),+), $Row:ident, $New:ident, [$($Changes:ident)?], [$($rowdoc:tt)*] }
        [$($r:tt)*] [$($n:tt)*] [$($c:tt)*]) => {
        $($rowdoc)*
        #[derive(
            ::diesel::Queryable, ::diesel::Selectable, ::diesel::Identifiable,
            ::serde::Serialize, ::serde::Deserialize, Debug, Clone, PartialEq,
        )]
        #[diesel(table_name = $table, primary_key($($key),+), check_for_backend(::diesel::pg::Pg))]
        pub struct $Row { $($r)* }

        #[doc = concat!("A `", stringify!($table), "` row to insert: build it with `", stringify!($New), "::builder()`, insert it with [`", stringify!($New), "::insert`].")]
        ///
        /// The builder requires every column without a default; an optional field left
        /// unset (`None`) inserts the column's default (NULL for nullable columns). It
        /// also deserializes from a JSON body, where a missing `id` gets a fresh UUID v7.
        #[derive(
            ::diesel::Insertable, ::serde::Serialize, ::serde::Deserialize, Debug, Clone,
            PartialEq, ::bon::Builder,
        )]
        #[diesel(table_name = $table, check_for_backend(::diesel::pg::Pg))]
        #[builder(on(String, into))]
        pub struct $New { $($n)* }

        $crate::models::model!(@changes $table, [$($Changes)?], [$($c)*]);
    };

    (@changes $table:ident, [], [$($c:tt)*]) => {};

    (@changes $table:ident, [$Changes:ident], [$($c:tt)*]) => {
        #[doc = concat!("Changes to a `", stringify!($table), "` row, applied with [`", stringify!($Changes), "::apply`].")]
        ///
        /// A `None` field leaves its column as it is; for nullable columns `Some(None)`
        /// sets NULL (in JSON: a missing key leaves the column, `null` clears it, and
        /// `null` for a NOT NULL column is refused).
        #[derive(
            ::diesel::AsChangeset, ::serde::Serialize, ::serde::Deserialize, Debug, Clone,
            Default, PartialEq,
        )]
        #[diesel(table_name = $table, check_for_backend(::diesel::pg::Pg))]
        pub struct $Changes { $($c)* }
    };
}
pub(crate) use model;

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
                id: impl Into<::uuid::Uuid>,
            ) -> $crate::Result<$Row> {
                let id: ::uuid::Uuid = id.into();
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
                id: impl Into<::uuid::Uuid>,
            ) -> $crate::Result<bool> {
                let id: ::uuid::Uuid = id.into();
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
                id: impl Into<::uuid::Uuid>,
            ) -> $crate::Result<Self> {
                let id: ::uuid::Uuid = id.into();
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
            #[doc = concat!("Inserts the row into `", stringify!($table), "` for the connection's tenant and returns it with the database's defaults filled in.")]
            ///
            /// The row's `tenant_id` is the tenant of the connection's context.
            ///
            /// # Errors
            /// Unique, foreign-key, check and RLS violations as classified by [`crate::Error`].
            pub async fn insert(
                self,
                conn: &mut $crate::tenant::TenantConn,
            ) -> $crate::Result<$Row> {
                use ::diesel::{ExpressionMethods, SelectableHelper};
                use ::diesel_async::RunQueryDsl;
                let tenant = conn.context().tenant_id;
                Ok(::diesel::insert_into($table::table)
                    .values(($table::tenant_id.eq(tenant), self))
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
pub mod domains;
pub mod embedding_counts;
pub mod enums;
pub mod events;
pub mod files;
pub mod filters;
pub mod hub_links;
pub mod integrations;
pub mod invites;
pub mod jobs;
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
pub use domains::Domain;
pub use embedding_counts::EmbeddingCount;
pub use enums::*;
pub use events::{Event, EventChanges, NewEvent};
pub use files::{File, FileChanges, NewFile};
pub use hub_links::{HubLink, HubLinkChanges, NewHubLink};
pub use integrations::{Integration, IntegrationChanges, NewIntegration};
pub use invites::{Invite, InviteChanges, NewInvite};
pub use jobs::{Job, JobChanges, NewJob};
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
        let t = NewTask::builder().title("a").build();
        assert_eq!(t.id.get_version_num(), 7);
        assert_eq!(t.status, None);

        let from_json: NewTask =
            serde_json::from_value(serde_json::json!({"title": "b", "status": "in_progress"}))
                .unwrap();
        assert_eq!(
            from_json.id.get_version_num(),
            7,
            "a missing id is generated"
        );
        assert_eq!(from_json.status, Some(TaskStatus::InProgress));

        let user: NewUser = serde_json::from_value(
            serde_json::json!({"email": "a@example.test", "display_name": "A"}),
        )
        .unwrap();
        assert_eq!(user.id.as_uuid().get_version_num(), 7, "user ids too");
    }

    #[test]
    fn null_for_a_not_null_column_is_refused_not_ignored() {
        let err = serde_json::from_str::<TaskChanges>(r#"{"title": null}"#).unwrap_err();
        assert!(err.to_string().contains("null"), "{err}");
    }

    #[test]
    fn credentials_never_serialize() {
        let now = chrono::Utc::now();
        let row = Integration {
            tenant_id: crate::TenantId::new_v7(),
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
