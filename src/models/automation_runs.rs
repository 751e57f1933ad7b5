//! `automation_runs`: One firing of an automation, retried with backoff until it succeeds or is dead.
//!
//! [`AutomationRun`] is a row, [`NewAutomationRun`] a row to insert and [`AutomationRunChanges`] an update. The query methods are the
//! ones every table shares; see [`crate::models`].

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::enums::JobStatus;
use crate::schema::automation_runs;

super::model! {
    /// A row of `automation_runs`: One firing of an automation, retried with backoff until it succeeds or is dead.
    table: automation_runs,
    key: (tenant_id, id),
    row: AutomationRun,
    new: NewAutomationRun,
    changes: AutomationRunChanges,
    columns: {
        tenant_id: tenant,
        id: id,
        /// The automation this run belongs to.
        automation_id: required(Uuid),
        /// queued, running, succeeded, failed (a retry is scheduled) or dead (no attempts
        /// left).
        status: defaulted(JobStatus),
        /// Caller-chosen key (e.g. the triggering event id); unique per tenant, so a firing
        /// is enqueued at most once.
        idempotency_key: required(String),
        /// JSON the run acts on (the triggering event's payload).
        input: defaulted(serde_json::Value),
        /// JSON result of a successful run; NULL until then.
        output: nullable(serde_json::Value),
        /// How many attempts have started.
        attempts: defaulted(i32),
        /// When the run is next due (queued, or failed and awaiting retry).
        next_attempt_at: defaulted(DateTime<Utc>),
        /// Error of the latest failed attempt.
        last_error: nullable(String),
        /// When the latest attempt started.
        started_at: nullable(DateTime<Utc>),
        /// When the run succeeded or went dead.
        finished_at: nullable(DateTime<Utc>),
        created_at: created,
        updated_at: updated,
    }
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
