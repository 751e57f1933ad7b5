//! `ai_employee_jobs`: A unit of work for an AI employee (drafting, research, follow-ups), run by workers with retries.
//!
//! [`AiEmployeeJob`] is a row, [`NewAiEmployeeJob`] a row to insert and [`AiEmployeeJobChanges`] an update. The query methods are the
//! ones every table shares; see [`crate::models`].

use chrono::{DateTime, Utc};
use diesel::{AsChangeset, Identifiable, Insertable, Queryable, Selectable};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::enums::JobStatus;
use crate::schema::ai_employee_jobs;

/// A row of `ai_employee_jobs`: A unit of work for an AI employee (drafting, research, follow-ups), run by workers with retries.
#[derive(Queryable, Selectable, Identifiable, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[diesel(table_name = ai_employee_jobs, primary_key(tenant_id, id), check_for_backend(diesel::pg::Pg))]
pub struct AiEmployeeJob {
    /// The tenant the row belongs to (RLS confines every statement to it).
    pub tenant_id: Uuid,
    /// The row's id, a UUID v7.
    pub id: Uuid,
    /// What the job does, a lowercase dotted name (e.g. email.draft_follow_up).
    pub kind: String,
    /// JSON object of the job's parameters.
    pub input: serde_json::Value,
    /// queued, running, succeeded, failed (a retry is scheduled) or dead (no attempts left).
    pub status: JobStatus,
    /// Caller-chosen key; unique per tenant, so a job is enqueued at most once.
    pub idempotency_key: String,
    /// How many attempts have started; never more than max_attempts.
    pub attempts: i32,
    /// Attempts allowed before the job goes dead.
    pub max_attempts: i32,
    /// When the job is next due (queued, or failed and awaiting retry).
    pub next_attempt_at: DateTime<Utc>,
    /// Error of the latest failed attempt.
    pub last_error: Option<String>,
    /// When a worker claimed the job; set together with locked_by, and always while running.
    pub locked_at: Option<DateTime<Utc>>,
    /// Identifier of the worker holding the job (host and process).
    pub locked_by: Option<String>,
    /// The user who asked for the job; NULL for jobs from automations, or once that user is deleted.
    pub requested_by: Option<Uuid>,
    /// When the latest attempt started.
    pub started_at: Option<DateTime<Utc>>,
    /// When the job succeeded or went dead.
    pub finished_at: Option<DateTime<Utc>>,
    /// When the row was created.
    pub created_at: DateTime<Utc>,
    /// When the row last changed (kept current by a trigger).
    pub updated_at: DateTime<Utc>,
}

/// A `ai_employee_jobs` row to insert with [`NewAiEmployeeJob::insert`].
///
/// `None` in an optional field means the column's default (NULL for nullable columns).
/// Deserializes from a JSON body; a missing `id` gets a fresh UUID v7.
/// `tenant_id` must be the tenant of the connection: RLS `WITH CHECK` refuses any other.
#[derive(Insertable, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[diesel(table_name = ai_employee_jobs, check_for_backend(diesel::pg::Pg))]
pub struct NewAiEmployeeJob {
    /// The tenant the row belongs to (RLS confines every statement to it).
    pub tenant_id: Uuid,
    /// The row's id, a UUID v7.
    #[serde(default = "Uuid::now_v7")]
    pub id: Uuid,
    /// What the job does, a lowercase dotted name (e.g. email.draft_follow_up).
    pub kind: String,
    /// JSON object of the job's parameters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<serde_json::Value>,
    /// queued, running, succeeded, failed (a retry is scheduled) or dead (no attempts left).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<JobStatus>,
    /// Caller-chosen key; unique per tenant, so a job is enqueued at most once.
    pub idempotency_key: String,
    /// How many attempts have started; never more than max_attempts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempts: Option<i32>,
    /// Attempts allowed before the job goes dead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_attempts: Option<i32>,
    /// When the job is next due (queued, or failed and awaiting retry).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// Error of the latest failed attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// When a worker claimed the job; set together with locked_by, and always while running.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locked_at: Option<DateTime<Utc>>,
    /// Identifier of the worker holding the job (host and process).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locked_by: Option<String>,
    /// The user who asked for the job; NULL for jobs from automations, or once that user is deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_by: Option<Uuid>,
    /// When the latest attempt started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
    /// When the job succeeded or went dead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
}

impl NewAiEmployeeJob {
    /// A new row with a fresh UUID v7 id and the required columns; every other column
    /// is left to its default (set the public fields to change that).
    pub fn new(
        tenant_id: Uuid,
        kind: impl Into<String>,
        idempotency_key: impl Into<String>,
    ) -> Self {
        Self {
            tenant_id,
            id: Uuid::now_v7(),
            kind: kind.into(),
            input: None,
            status: None,
            idempotency_key: idempotency_key.into(),
            attempts: None,
            max_attempts: None,
            next_attempt_at: None,
            last_error: None,
            locked_at: None,
            locked_by: None,
            requested_by: None,
            started_at: None,
            finished_at: None,
        }
    }
}

/// Changes to a `ai_employee_jobs` row, applied with [`AiEmployeeJobChanges::apply`].
///
/// A `None` field leaves its column as it is; for nullable columns `Some(None)` sets
/// NULL (in JSON: a missing key leaves the column, `null` clears it).
#[derive(AsChangeset, Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
#[diesel(table_name = ai_employee_jobs, check_for_backend(diesel::pg::Pg))]
pub struct AiEmployeeJobChanges {
    /// What the job does, a lowercase dotted name (e.g. email.draft_follow_up).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// JSON object of the job's parameters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<serde_json::Value>,
    /// queued, running, succeeded, failed (a retry is scheduled) or dead (no attempts left).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<JobStatus>,
    /// Caller-chosen key; unique per tenant, so a job is enqueued at most once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
    /// How many attempts have started; never more than max_attempts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempts: Option<i32>,
    /// Attempts allowed before the job goes dead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_attempts: Option<i32>,
    /// When the job is next due (queued, or failed and awaiting retry).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// Error of the latest failed attempt.
    #[serde(
        default,
        deserialize_with = "super::double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub last_error: Option<Option<String>>,
    /// When a worker claimed the job; set together with locked_by, and always while running.
    #[serde(
        default,
        deserialize_with = "super::double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub locked_at: Option<Option<DateTime<Utc>>>,
    /// Identifier of the worker holding the job (host and process).
    #[serde(
        default,
        deserialize_with = "super::double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub locked_by: Option<Option<String>>,
    /// The user who asked for the job; NULL for jobs from automations, or once that user is deleted.
    #[serde(
        default,
        deserialize_with = "super::double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub requested_by: Option<Option<Uuid>>,
    /// When the latest attempt started.
    #[serde(
        default,
        deserialize_with = "super::double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub started_at: Option<Option<DateTime<Utc>>>,
    /// When the job succeeded or went dead.
    #[serde(
        default,
        deserialize_with = "super::double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub finished_at: Option<Option<DateTime<Utc>>>,
}

super::table_queries!(
    ai_employee_jobs,
    AiEmployeeJob,
    NewAiEmployeeJob,
    AiEmployeeJobChanges,
    order_by = (
        ai_employee_jobs::created_at.desc(),
        ai_employee_jobs::id.desc()
    )
);
