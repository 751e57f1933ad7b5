//! `ai_employee_jobs`: A unit of work for an AI employee (drafting, research, follow-ups), run by workers with retries.
//!
//! [`AiEmployeeJob`] is a row, [`NewAiEmployeeJob`] a row to insert and [`AiEmployeeJobChanges`] an update. The query methods are the
//! ones every table shares; see [`crate::models`].

use chrono::{DateTime, Utc};

use super::enums::JobStatus;
use crate::schema::ai_employee_jobs;
use crate::UserId;

super::model! {
    /// A row of `ai_employee_jobs`: A unit of work for an AI employee (drafting, research, follow-ups), run by workers with retries.
    table: ai_employee_jobs,
    key: (tenant_id, id),
    row: AiEmployeeJob,
    new: NewAiEmployeeJob,
    changes: AiEmployeeJobChanges,
    columns: {
        tenant_id: tenant,
        id: id,
        /// What the job does, a lowercase dotted name (e.g. email.draft_follow_up).
        kind: required(String),
        /// JSON object of the job's parameters.
        input: defaulted(serde_json::Value),
        /// queued, running, succeeded, failed (a retry is scheduled) or dead (no attempts
        /// left).
        status: defaulted(JobStatus),
        /// Caller-chosen key; unique per tenant, so a job is enqueued at most once.
        idempotency_key: required(String),
        /// How many attempts have started; never more than max_attempts.
        attempts: defaulted(i32),
        /// Attempts allowed before the job goes dead.
        max_attempts: defaulted(i32),
        /// When the job is next due (queued, or failed and awaiting retry).
        next_attempt_at: defaulted(DateTime<Utc>),
        /// Error of the latest failed attempt.
        last_error: nullable(String),
        /// When a worker claimed the job; set together with locked_by, and always while
        /// running.
        locked_at: nullable(DateTime<Utc>),
        /// Identifier of the worker holding the job (host and process).
        locked_by: nullable(String),
        /// The user who asked for the job; NULL for jobs from automations, or once that
        /// user is deleted.
        requested_by: nullable(UserId),
        /// When the latest attempt started.
        started_at: nullable(DateTime<Utc>),
        /// When the job succeeded or went dead.
        finished_at: nullable(DateTime<Utc>),
        created_at: created,
        updated_at: updated,
    }
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
