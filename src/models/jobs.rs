//! `jobs`: the job queue: work enqueued in a tenant transaction and run later by a
//! worker in that tenant's context ([`crate::jobs`]).
//!
//! [`Job`] is a row, [`NewJob`] a row to insert and [`JobChanges`] an update. The query
//! methods are the ones every table shares; see [`crate::models`]. Enqueue through
//! [`crate::jobs::enqueue`], which takes an idempotency key into account, rather than
//! inserting a [`NewJob`] yourself.

use chrono::{DateTime, Utc};

use super::enums::JobState;
use crate::schema::jobs;

super::model! {
    /// A row of `jobs`: one job, from enqueue until it completes (then it is deleted) or
    /// is dead-lettered.
    table: jobs,
    key: (tenant_id, id),
    row: Job,
    new: NewJob,
    changes: JobChanges,
    columns: {
        tenant_id: tenant,
        id: id,
        /// What to do, lowercase dotted (`email.send`); a worker runs the kinds it has
        /// handlers for.
        kind: required(String),
        /// JSON object handed to the handler.
        payload: defaulted(serde_json::Value),
        /// Within a tenant, lower runs first (default 0).
        priority: defaulted(i16),
        /// When the job was asked to run first.
        run_at: defaulted(DateTime<Utc>),
        /// ready, running or dead.
        state: defaulted(JobState),
        /// How many times the job has been claimed.
        attempts: defaulted(i32),
        /// Claims allowed before the job is dead-lettered (default 10).
        max_attempts: defaulted(i32),
        /// When the job may be claimed next.
        next_attempt_at: defaulted(DateTime<Utc>),
        /// The last failure: the handler's error, a panic, or an expired lease.
        last_error: nullable(String),
        /// Per tenant: enqueueing a key that a job holds returns that job.
        idempotency_key: nullable(String),
        /// The worker holding the job while it runs.
        locked_by: nullable(String),
        /// While running: when the lease ends unless the worker's heartbeat extends it.
        lease_expires_at: nullable(DateTime<Utc>),
        created_at: created,
        /// When the job was dead-lettered.
        dead_at: nullable(DateTime<Utc>),
    }
}

super::table_queries!(
    jobs,
    Job,
    NewJob,
    JobChanges,
    order_by = (jobs::created_at.desc(), jobs::id.desc())
);
