//! Job queues on PostgreSQL, where every job runs as its tenant.
//!
//! A tenant enqueues a job inside its own transaction ([`enqueue`]), so the job exists
//! if and only if that transaction commits. A [`Worker`] claims ready jobs across
//! tenants on the admin path, in batches, with `FOR UPDATE SKIP LOCKED`, and runs each
//! one in a tenant transaction of that job's tenant (the tenant's service context,
//! through the [`TenantPool`](crate::pool::TenantPool)): the handler gets a
//! [`TenantConn`], never an admin connection, so a handler bug cannot reach another
//! tenant's rows. The job is completed (deleted) in that same transaction: the
//! handler's writes and the completion commit together.
//!
//! - **Fairness.** Claims take turns by tenant: each claim visits the tenants that have
//!   ready jobs in `tenant_id` order from where the worker's previous claim stopped
//!   (wrapping around), at most `batch_size` tenants, and gives each an equal share of
//!   the batch. A tenant with a million queued jobs gets one share, like a tenant with
//!   one.
//! - **Retries.** A failed job (the handler returned an error or panicked) runs again
//!   after an exponential backoff with jitter ([`Backoff`]); after `max_attempts`
//!   claims it is dead-lettered (`state = 'dead'`). [`admin`] lists and requeues dead
//!   letters.
//! - **Leases.** A claim takes a lease; the worker's heartbeat extends the leases of
//!   the jobs it runs; a reaper (every worker runs one) returns jobs whose lease
//!   expired, because their worker died, to ready. A worker that lost its lease cannot
//!   complete the job: its transaction rolls back.
//! - **Wake-ups.** An insert into `jobs` sends `NOTIFY rowguard_jobs` at commit; a
//!   worker with a listen URL wakes on it, and polls in any case.
//!
//! ```no_run
//! use rowguard::jobs::{self, Enqueue, Worker};
//! use serde_json::json;
//!
//! # async fn demo(tenants: rowguard::pool::TenantPool, admin: rowguard::pool::AdminPool,
//! #               ctx: rowguard::TenantContext,
//! #               shutdown: impl std::future::Future<Output = ()>) -> rowguard::Result<()> {
//! // Enqueue inside a tenant transaction.
//! tenants
//!     .with_tenant(&ctx, async |conn| {
//!         jobs::enqueue(conn, Enqueue::new("email.welcome", json!({"to": "ana@example.com"}))
//!             .idempotency_key("welcome:ana"))
//!             .await
//!     })
//!     .await?;
//!
//! // Run them: each job in its tenant's context.
//! let worker = Worker::builder(admin, tenants)
//!     .handler("email.welcome", |job, conn| Box::pin(async move {
//!         let _ = (job.payload.get("to"), conn);
//!         Ok(())
//!     }))
//!     .concurrency(8)
//!     .build()?;
//! // Until `shutdown` resolves (a signal); then it finishes what it runs and returns.
//! let report = worker.run(shutdown).await?;
//! println!("{} jobs completed", report.completed);
//! # Ok(()) }
//! ```

pub mod admin;
mod queue;
mod worker;

use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::sql_types::{Integer, Jsonb, Nullable, SmallInt, Text, Timestamptz, Uuid as SqlUuid};
use diesel::QueryableByName;
use diesel_async::RunQueryDsl;
use serde::Serialize;
use uuid::Uuid;

pub use worker::{BoxError, Handler, Worker, WorkerBuilder, WorkerReport};

use crate::error::{Error, Result};
use crate::pool::{Prepared, TenantConn};
use crate::tenant::TenantId;

/// The channel `jobs` inserts notify and workers listen on.
pub const NOTIFY_CHANNEL: &str = "rowguard_jobs";

/// The most attempts a job may have.
pub const MAX_ATTEMPTS_LIMIT: i32 = 1000;

/// A job to enqueue: a kind, a JSON object payload, and the optional priority, first
/// run time, attempt limit and idempotency key.
#[derive(Clone, Debug, PartialEq)]
pub struct Enqueue {
    kind: String,
    payload: serde_json::Value,
    priority: i16,
    run_at: Option<DateTime<Utc>>,
    max_attempts: i32,
    idempotency_key: Option<String>,
}

impl Enqueue {
    /// A job of `kind` (lowercase dotted, `email.send`) with `payload` (a JSON object),
    /// priority 0, due now, at most 10 attempts, no idempotency key.
    pub fn new(kind: impl Into<String>, payload: serde_json::Value) -> Self {
        Enqueue {
            kind: kind.into(),
            payload,
            priority: 0,
            run_at: None,
            max_attempts: 10,
            idempotency_key: None,
        }
    }

    /// Within the tenant, lower runs first (default 0).
    pub fn priority(mut self, priority: i16) -> Self {
        self.priority = priority;
        self
    }

    /// Not before `at` (default: now).
    pub fn run_at(mut self, at: DateTime<Utc>) -> Self {
        self.run_at = Some(at);
        self
    }

    /// Claims allowed before the job is dead-lettered, 1 to [`MAX_ATTEMPTS_LIMIT`]
    /// (default 10).
    pub fn max_attempts(mut self, n: i32) -> Self {
        self.max_attempts = n;
        self
    }

    /// Per tenant: while a job with this key exists (queued, running or dead), enqueueing
    /// it again returns that job instead of a new one. 1 to 200 characters.
    pub fn idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.idempotency_key = Some(key.into());
        self
    }

    fn validate(&self) -> Result<()> {
        if !valid_kind(&self.kind) {
            return Err(Error::InvalidInput(format!(
                "job kind {:?}: use lowercase dotted words (email.send), at most 100 characters",
                self.kind
            )));
        }
        if !self.payload.is_object() {
            return Err(Error::InvalidInput(
                "a job's payload must be a JSON object".into(),
            ));
        }
        if !(1..=MAX_ATTEMPTS_LIMIT).contains(&self.max_attempts) {
            return Err(Error::InvalidInput(format!(
                "max_attempts must be from 1 to {MAX_ATTEMPTS_LIMIT} (got {})",
                self.max_attempts
            )));
        }
        if let Some(key) = &self.idempotency_key {
            let n = key.chars().count();
            if n == 0 || n > 200 {
                return Err(Error::InvalidInput(
                    "an idempotency key has 1 to 200 characters".into(),
                ));
            }
        }
        Ok(())
    }
}

/// Whether `kind` is a job kind the table accepts: lowercase words of letters, digits
/// and `_` (each starting with a letter) joined by dots, at most 100 characters.
pub fn valid_kind(kind: &str) -> bool {
    kind.len() <= 100
        && !kind.is_empty()
        && kind.split('.').all(|word| {
            word.starts_with(|c: char| c.is_ascii_lowercase())
                && word
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        })
}

/// What [`enqueue`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Enqueued {
    /// The job's id.
    pub id: Uuid,
    /// `false` when a job with the same idempotency key already existed: `id` is that
    /// job's.
    pub created: bool,
}

#[derive(QueryableByName)]
struct IdRow {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
}

/// Enqueues `job` for the connection's tenant, inside the caller's transaction: the job
/// exists if and only if that transaction commits. With an idempotency key that a job
/// of the tenant already holds, returns that job (`created: false`), also when another
/// transaction enqueued it concurrently and committed.
///
/// # Errors
/// [`Error::InvalidInput`] for a malformed kind, a payload that is not an object, an
/// attempt limit out of range or an empty or long key; [`Error::Forbidden`] for a
/// viewer; database errors as classified by [`Error`].
pub async fn enqueue(conn: &mut TenantConn, job: Enqueue) -> Result<Enqueued> {
    job.validate()?;
    let tenant = conn.context().tenant_id;
    let inserted: Vec<IdRow> = Prepared::new(diesel::sql_query(
        "INSERT INTO jobs (tenant_id, kind, payload, priority, run_at, next_attempt_at, max_attempts, idempotency_key)
         VALUES ($1, $2, $3, $4, coalesce($5, now()), coalesce($5, now()), $6, $7)
         ON CONFLICT (tenant_id, idempotency_key) DO NOTHING
         RETURNING id",
    )
    .bind::<SqlUuid, _>(tenant.as_uuid())
    .bind::<Text, _>(&job.kind)
    .bind::<Jsonb, _>(&job.payload)
    .bind::<SmallInt, _>(job.priority)
    .bind::<Nullable<Timestamptz>, _>(job.run_at)
    .bind::<Integer, _>(job.max_attempts)
    .bind::<Nullable<Text>, _>(job.idempotency_key.as_deref()))
    .load(conn)
    .await?;
    if let Some(row) = inserted.into_iter().next() {
        return Ok(Enqueued {
            id: row.id,
            created: true,
        });
    }
    // The key is taken: ON CONFLICT waited for the transaction that holds it, which
    // committed, so this statement (a new snapshot) sees its job.
    let existing: Vec<IdRow> = Prepared::new(
        diesel::sql_query("SELECT id FROM jobs WHERE tenant_id = $1 AND idempotency_key = $2")
            .bind::<SqlUuid, _>(tenant.as_uuid())
            .bind::<Nullable<Text>, _>(job.idempotency_key.as_deref()),
    )
    .load(conn)
    .await?;
    match existing.into_iter().next() {
        Some(row) => Ok(Enqueued {
            id: row.id,
            created: false,
        }),
        None => Err(Error::Protocol(
            "enqueue: the idempotency key conflicted, but no job holds it".into(),
        )),
    }
}

/// A job a worker claimed, as its handler sees it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ClaimedJob {
    /// The job's tenant: the handler's connection acts for it.
    pub tenant: TenantId,
    /// The job's id.
    pub id: Uuid,
    /// The job's kind.
    pub kind: String,
    /// The payload it was enqueued with.
    pub payload: serde_json::Value,
    /// Its priority within the tenant.
    pub priority: i16,
    /// Which attempt this is, from 1.
    pub attempt: i32,
    /// Its attempt limit: this is the last attempt when `attempt == max_attempts`.
    pub max_attempts: i32,
    /// When it was asked to run first.
    pub run_at: DateTime<Utc>,
    /// When it was enqueued.
    pub created_at: DateTime<Utc>,
}

/// Exponential backoff with jitter: after the `n`th failed attempt a job waits a delay
/// drawn uniformly from `[d/2, d]`, where `d = min(base * 2^(n-1), max)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// The delay before the second attempt, before jitter (default 1 s).
    pub base: Duration,
    /// The longest delay, before jitter (default 1 hour).
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            base: Duration::from_secs(1),
            max: Duration::from_secs(3600),
        }
    }
}

impl Backoff {
    /// The delay before jitter after failed attempt `attempt` (from 1).
    pub fn ceiling(&self, attempt: i32) -> Duration {
        let doublings = u32::try_from(attempt.saturating_sub(1))
            .unwrap_or(0)
            .min(62);
        self.base
            .checked_mul(1u32.checked_shl(doublings.min(31)).unwrap_or(u32::MAX))
            .map_or(self.max, |d| d.min(self.max))
    }

    /// The delay after failed attempt `attempt`, with `jitter` in `[0, 1]` choosing where
    /// in `[ceiling/2, ceiling]` it falls.
    pub fn delay(&self, attempt: i32, jitter: f64) -> Duration {
        let ceiling = self.ceiling(attempt);
        let half = ceiling / 2;
        half + (ceiling - half).mul_f64(jitter.clamp(0.0, 1.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_max_and_jitters_in_the_upper_half() {
        let b = Backoff {
            base: Duration::from_millis(100),
            max: Duration::from_secs(1),
        };
        let ceilings: Vec<u128> = (1..=6).map(|n| b.ceiling(n).as_millis()).collect();
        assert_eq!(ceilings, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(b.delay(3, 0.0), Duration::from_millis(200));
        assert_eq!(b.delay(3, 1.0), Duration::from_millis(400));
        assert_eq!(b.delay(3, 0.5), Duration::from_millis(300));
        // Out-of-range inputs stay in range.
        assert_eq!(b.delay(3, 7.0), Duration::from_millis(400));
        assert_eq!(b.ceiling(0), Duration::from_millis(100));
        assert_eq!(b.ceiling(i32::MAX), Duration::from_secs(1));
    }

    #[test]
    fn kinds_are_lowercase_dotted_words() {
        for ok in ["email", "email.send", "a1.b_2.c", "x.y.z"] {
            assert!(valid_kind(ok), "{ok}");
        }
        for bad in [
            "",
            "Email",
            "email.",
            ".email",
            "1email",
            "email..send",
            "em ail",
            "é",
        ] {
            assert!(!valid_kind(bad), "{bad}");
        }
        assert!(!valid_kind(&"a".repeat(101)));
    }

    #[test]
    fn enqueue_refuses_bad_input_before_the_database() {
        let bad = [
            Enqueue::new("Bad Kind", serde_json::json!({})),
            Enqueue::new("ok", serde_json::json!([1])),
            Enqueue::new("ok", serde_json::json!({})).max_attempts(0),
            Enqueue::new("ok", serde_json::json!({})).max_attempts(1001),
            Enqueue::new("ok", serde_json::json!({})).idempotency_key(""),
            Enqueue::new("ok", serde_json::json!({})).idempotency_key("k".repeat(201)),
        ];
        for job in bad {
            assert!(
                matches!(job.validate(), Err(Error::InvalidInput(_))),
                "{job:?}"
            );
        }
        assert!(Enqueue::new("ok", serde_json::json!({})).validate().is_ok());
    }
}
