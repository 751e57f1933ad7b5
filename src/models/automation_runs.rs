//! `automation_runs`: One firing of an automation, retried with backoff until it succeeds or is dead.
//!
//! [`AutomationRun`] is a row, [`NewAutomationRun`] a row to insert and [`AutomationRunChanges`] an update. The query methods are the
//! ones every table shares; see [`crate::models`].

use chrono::{DateTime, Utc};
use diesel::{AsChangeset, Identifiable, Insertable, Queryable, Selectable};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::enums::JobStatus;
use crate::schema::automation_runs;

/// A row of `automation_runs`: One firing of an automation, retried with backoff until it succeeds or is dead.
#[derive(Queryable, Selectable, Identifiable, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[diesel(table_name = automation_runs, primary_key(tenant_id, id), check_for_backend(diesel::pg::Pg))]
pub struct AutomationRun {
    /// The tenant the row belongs to (RLS confines every statement to it).
    pub tenant_id: Uuid,
    /// The row's id, a UUID v7.
    pub id: Uuid,
    /// The automation this run belongs to.
    pub automation_id: Uuid,
    /// queued, running, succeeded, failed (a retry is scheduled) or dead (no attempts left).
    pub status: JobStatus,
    /// Caller-chosen key (e.g. the triggering event id); unique per tenant, so a firing is enqueued at most once.
    pub idempotency_key: String,
    /// JSON the run acts on (the triggering event's payload).
    pub input: serde_json::Value,
    /// JSON result of a successful run; NULL until then.
    pub output: Option<serde_json::Value>,
    /// How many attempts have started.
    pub attempts: i32,
    /// When the run is next due (queued, or failed and awaiting retry).
    pub next_attempt_at: DateTime<Utc>,
    /// Error of the latest failed attempt.
    pub last_error: Option<String>,
    /// When the latest attempt started.
    pub started_at: Option<DateTime<Utc>>,
    /// When the run succeeded or went dead.
    pub finished_at: Option<DateTime<Utc>>,
    /// When the row was created.
    pub created_at: DateTime<Utc>,
    /// When the row last changed (kept current by a trigger).
    pub updated_at: DateTime<Utc>,
}

/// A `automation_runs` row to insert with [`NewAutomationRun::insert`].
///
/// `None` in an optional field means the column's default (NULL for nullable columns).
/// Deserializes from a JSON body; a missing `id` gets a fresh UUID v7.
/// `tenant_id` must be the tenant of the connection: RLS `WITH CHECK` refuses any other.
#[derive(Insertable, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[diesel(table_name = automation_runs, check_for_backend(diesel::pg::Pg))]
pub struct NewAutomationRun {
    /// The tenant the row belongs to (RLS confines every statement to it).
    pub tenant_id: Uuid,
    /// The row's id, a UUID v7.
    #[serde(default = "Uuid::now_v7")]
    pub id: Uuid,
    /// The automation this run belongs to.
    pub automation_id: Uuid,
    /// queued, running, succeeded, failed (a retry is scheduled) or dead (no attempts left).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<JobStatus>,
    /// Caller-chosen key (e.g. the triggering event id); unique per tenant, so a firing is enqueued at most once.
    pub idempotency_key: String,
    /// JSON the run acts on (the triggering event's payload).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<serde_json::Value>,
    /// JSON result of a successful run; NULL until then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<serde_json::Value>,
    /// How many attempts have started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempts: Option<i32>,
    /// When the run is next due (queued, or failed and awaiting retry).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// Error of the latest failed attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// When the latest attempt started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
    /// When the run succeeded or went dead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
}

impl NewAutomationRun {
    /// A new row with a fresh UUID v7 id and the required columns; every other column
    /// is left to its default (set the public fields to change that).
    pub fn new(tenant_id: Uuid, automation_id: Uuid, idempotency_key: impl Into<String>) -> Self {
        Self {
            tenant_id,
            id: Uuid::now_v7(),
            automation_id,
            status: None,
            idempotency_key: idempotency_key.into(),
            input: None,
            output: None,
            attempts: None,
            next_attempt_at: None,
            last_error: None,
            started_at: None,
            finished_at: None,
        }
    }
}

/// Changes to a `automation_runs` row, applied with [`AutomationRunChanges::apply`].
///
/// A `None` field leaves its column as it is; for nullable columns `Some(None)` sets
/// NULL (in JSON: a missing key leaves the column, `null` clears it).
#[derive(AsChangeset, Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
#[diesel(table_name = automation_runs, check_for_backend(diesel::pg::Pg))]
pub struct AutomationRunChanges {
    /// The automation this run belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub automation_id: Option<Uuid>,
    /// queued, running, succeeded, failed (a retry is scheduled) or dead (no attempts left).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<JobStatus>,
    /// Caller-chosen key (e.g. the triggering event id); unique per tenant, so a firing is enqueued at most once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
    /// JSON the run acts on (the triggering event's payload).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<serde_json::Value>,
    /// JSON result of a successful run; NULL until then.
    #[serde(
        default,
        deserialize_with = "super::double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub output: Option<Option<serde_json::Value>>,
    /// How many attempts have started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempts: Option<i32>,
    /// When the run is next due (queued, or failed and awaiting retry).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// Error of the latest failed attempt.
    #[serde(
        default,
        deserialize_with = "super::double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub last_error: Option<Option<String>>,
    /// When the latest attempt started.
    #[serde(
        default,
        deserialize_with = "super::double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub started_at: Option<Option<DateTime<Utc>>>,
    /// When the run succeeded or went dead.
    #[serde(
        default,
        deserialize_with = "super::double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub finished_at: Option<Option<DateTime<Utc>>>,
}

super::table_queries!(
    automation_runs,
    AutomationRun,
    NewAutomationRun,
    AutomationRunChanges,
    order_by = (
        automation_runs::created_at.desc(),
        automation_runs::id.desc()
    )
);
