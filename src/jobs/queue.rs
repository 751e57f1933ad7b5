//! The queue's statements, each in one place: claiming across tenants (admin path),
//! completing and failing a job (in its tenant's context), the heartbeat and the reaper
//! (admin path).
//!
//! Every state change of a running job is conditioned on `state = 'running' AND
//! locked_by = <this worker>`: a worker whose lease expired (and whose job the reaper
//! returned, or another worker claimed) changes nothing, and learns it from the row
//! count. Completing deletes the job in the handler's own transaction, so the
//! handler's writes and the completion commit together or not at all.

use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::sql_types::{
    Array, BigInt, Integer, Jsonb, SmallInt, Text, Timestamptz, Uuid as SqlUuid,
};
use diesel::QueryableByName;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use super::ClaimedJob;
use crate::error::Result;
use crate::pool::{AdminConn, Prepared, TenantConn};
use crate::tenant::TenantId;

/// Up to `max` tenants, in `tenant_id` order after `after` (exclusive) and up to
/// `upto` (inclusive), that have a job of one of `kinds` ready now: a skip scan over
/// `jobs_ready_idx`, one index probe per tenant however many jobs each holds. Only
/// active tenants (the pool would refuse the others' transactions).
const READY_TENANTS: &str = "\
WITH RECURSIVE ready AS (
  (SELECT j.tenant_id, 1 AS n FROM jobs j
    WHERE j.state = 'ready' AND j.next_attempt_at <= now() AND j.kind = ANY($1)
      AND j.tenant_id > $2 AND j.tenant_id <= $3
    ORDER BY j.tenant_id, j.priority, j.next_attempt_at LIMIT 1)
  UNION ALL
  SELECT nxt.tenant_id, r.n + 1 FROM ready r
   CROSS JOIN LATERAL (
     SELECT j.tenant_id FROM jobs j
      WHERE j.state = 'ready' AND j.next_attempt_at <= now() AND j.kind = ANY($1)
        AND j.tenant_id > r.tenant_id AND j.tenant_id <= $3
      ORDER BY j.tenant_id, j.priority, j.next_attempt_at LIMIT 1) nxt
   WHERE r.n < $4
)
SELECT r.tenant_id FROM ready r
  JOIN tenants t ON t.id = r.tenant_id AND t.status = 'active'
 ORDER BY r.n";

/// Claims up to `per_tenant` ready jobs of each tenant in `tenants` (by priority, then
/// due time, then age), skipping rows another claim holds, and takes a lease on them.
const CLAIM: &str = "\
WITH picked AS (
  SELECT p.tenant_id, p.id
    FROM unnest($1::uuid[]) AS r(tenant_id)
   CROSS JOIN LATERAL (
     SELECT j.tenant_id, j.id FROM jobs j
      WHERE j.tenant_id = r.tenant_id AND j.state = 'ready' AND j.next_attempt_at <= now()
        AND j.kind = ANY($2)
      ORDER BY j.priority, j.next_attempt_at, j.id
      LIMIT $3
        FOR UPDATE SKIP LOCKED) p
)
UPDATE jobs j
   SET state = 'running', attempts = j.attempts + 1, locked_by = $4,
       lease_expires_at = now() + make_interval(secs => $5::double precision / 1000)
  FROM picked
 WHERE j.tenant_id = picked.tenant_id AND j.id = picked.id
RETURNING j.tenant_id, j.id, j.kind, j.payload, j.priority, j.attempts, j.max_attempts, j.run_at, j.created_at";

#[derive(QueryableByName)]
struct TenantRow {
    #[diesel(sql_type = SqlUuid)]
    tenant_id: Uuid,
}

#[derive(QueryableByName)]
struct ClaimedRow {
    #[diesel(sql_type = SqlUuid)]
    tenant_id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = Jsonb)]
    payload: serde_json::Value,
    #[diesel(sql_type = SmallInt)]
    priority: i16,
    #[diesel(sql_type = Integer)]
    attempts: i32,
    #[diesel(sql_type = Integer)]
    max_attempts: i32,
    #[diesel(sql_type = Timestamptz)]
    run_at: DateTime<Utc>,
    #[diesel(sql_type = Timestamptz)]
    created_at: DateTime<Utc>,
}

const NIL: Uuid = Uuid::nil();
const MAX: Uuid = Uuid::max();

/// Claims up to `batch` jobs of `kinds` for `worker`, taking turns by tenant: the
/// tenants with ready jobs are visited in `tenant_id` order starting after `cursor`
/// and wrapping around, at most `batch` of them per claim, and each gives an equal
/// share of the batch (at least one job). Returns the jobs and the cursor for the next
/// claim (the last tenant visited).
pub(crate) async fn claim(
    conn: &mut AdminConn,
    kinds: &[String],
    batch: usize,
    cursor: Option<TenantId>,
    worker: &str,
    lease: Duration,
) -> Result<(Vec<ClaimedJob>, Option<TenantId>)> {
    let batch = batch.max(1);
    let start = cursor.map(|c| c.as_uuid()).unwrap_or(NIL);
    let mut tenants = ready_tenants(conn, kinds, start, MAX, batch).await?;
    if tenants.len() < batch && start != NIL {
        // Wrap around: the tenants up to and including the cursor (disjoint from the
        // first range).
        let more = ready_tenants(conn, kinds, NIL, start, batch - tenants.len()).await?;
        tenants.extend(more);
    }
    let Some(last) = tenants.last().copied() else {
        return Ok((Vec::new(), cursor));
    };
    let per_tenant = (batch / tenants.len()).max(1);
    let rows: Vec<ClaimedRow> = Prepared::new(
        diesel::sql_query(CLAIM)
            .bind::<Array<SqlUuid>, _>(&tenants)
            .bind::<Array<Text>, _>(kinds)
            .bind::<Integer, _>(i32::try_from(per_tenant).unwrap_or(i32::MAX))
            .bind::<Text, _>(worker)
            .bind::<BigInt, _>(millis(lease)),
    )
    .load(conn)
    .await?;
    let mut jobs: Vec<ClaimedJob> = rows.into_iter().map(ClaimedJob::from).collect();
    // Tenants in the order visited, each tenant's jobs in its own order.
    jobs.sort_by_key(|j| {
        (
            tenants.iter().position(|t| *t == j.tenant.as_uuid()),
            j.priority,
            j.id,
        )
    });
    Ok((jobs, Some(TenantId::from_uuid(last))))
}

async fn ready_tenants(
    conn: &mut AdminConn,
    kinds: &[String],
    after: Uuid,
    upto: Uuid,
    max: usize,
) -> Result<Vec<Uuid>> {
    let rows: Vec<TenantRow> = Prepared::new(
        diesel::sql_query(READY_TENANTS)
            .bind::<Array<Text>, _>(kinds)
            .bind::<SqlUuid, _>(after)
            .bind::<SqlUuid, _>(upto)
            .bind::<Integer, _>(i32::try_from(max).unwrap_or(i32::MAX)),
    )
    .load(conn)
    .await?;
    Ok(rows.into_iter().map(|r| r.tenant_id).collect())
}

impl From<ClaimedRow> for ClaimedJob {
    fn from(r: ClaimedRow) -> Self {
        ClaimedJob {
            tenant: TenantId::from_uuid(r.tenant_id),
            id: r.id,
            kind: r.kind,
            payload: r.payload,
            priority: r.priority,
            attempt: r.attempts,
            max_attempts: r.max_attempts,
            run_at: r.run_at,
            created_at: r.created_at,
        }
    }
}

/// Completes `jobs` (one job, or a completion batch, all of the connection's tenant)
/// inside the handlers' transaction: deletes them, with one statement, if `worker` still
/// holds every one. `false` when it does not (a lease expired and the job was returned
/// or claimed again): the caller must roll back.
pub(crate) async fn complete(
    conn: &mut TenantConn,
    jobs: &[ClaimedJob],
    worker: &str,
) -> Result<bool> {
    let ids: Vec<Uuid> = jobs.iter().map(|j| j.id).collect();
    let tenant = conn.context().tenant_id;
    let n = Prepared::new(diesel::sql_query(
        "DELETE FROM jobs WHERE tenant_id = $1 AND id = ANY($2) AND state = 'running' AND locked_by = $3",
    )
    .bind::<SqlUuid, _>(tenant.as_uuid())
    .bind::<Array<SqlUuid>, _>(&ids)
    .bind::<Text, _>(worker))
    .execute(conn)
    .await?;
    Ok(n == ids.len() && jobs.iter().all(|j| j.tenant == tenant))
}

/// What became of a failed job.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Failed {
    /// Back to ready, to run again after the backoff.
    Retry,
    /// Out of attempts: dead-lettered.
    Dead,
    /// This worker no longer held it: nothing changed.
    NotHeld,
}

#[derive(QueryableByName)]
struct StateRow {
    #[diesel(sql_type = Text)]
    state: String,
}

/// Records a failure of `job` (in the job's tenant context, after the handler's
/// transaction rolled back): back to ready after `delay`, or dead when it has used its
/// attempts.
pub(crate) async fn fail(
    conn: &mut TenantConn,
    job: &ClaimedJob,
    worker: &str,
    delay: Duration,
    error: &str,
) -> Result<Failed> {
    let rows: Vec<StateRow> = Prepared::new(diesel::sql_query(
        "UPDATE jobs SET
            state = CASE WHEN attempts >= max_attempts THEN 'dead'::job_state ELSE 'ready'::job_state END,
            dead_at = CASE WHEN attempts >= max_attempts THEN now() END,
            next_attempt_at = CASE WHEN attempts >= max_attempts THEN next_attempt_at
                                   ELSE now() + make_interval(secs => $4::double precision / 1000) END,
            last_error = $5, locked_by = NULL, lease_expires_at = NULL
          WHERE tenant_id = $1 AND id = $2 AND state = 'running' AND locked_by = $3
          RETURNING state::text AS state",
    )
    .bind::<SqlUuid, _>(job.tenant.as_uuid())
    .bind::<SqlUuid, _>(job.id)
    .bind::<Text, _>(worker)
    .bind::<BigInt, _>(millis(delay))
    .bind::<Text, _>(truncate(error, 4000)))
    .load(conn)
    .await?;
    Ok(
        match rows.into_iter().next().as_ref().map(|r| r.state.as_str()) {
            None => Failed::NotHeld,
            Some("dead") => Failed::Dead,
            Some(_) => Failed::Retry,
        },
    )
}

/// Extends the lease of every job `worker` holds; returns how many.
pub(crate) async fn heartbeat(
    conn: &mut AdminConn,
    worker: &str,
    lease: Duration,
) -> Result<usize> {
    Ok(Prepared::new(diesel::sql_query(
        "UPDATE jobs SET lease_expires_at = now() + make_interval(secs => $2::double precision / 1000)
          WHERE state = 'running' AND locked_by = $1",
    )
    .bind::<Text, _>(worker)
    .bind::<BigInt, _>(millis(lease)))
    .execute(conn)
    .await?)
}

/// Returns every job whose lease has expired to ready (or to dead, when that claim was
/// its last attempt); returns how many.
pub(crate) async fn reap(conn: &mut AdminConn) -> Result<usize> {
    Ok(Prepared::new(diesel::sql_query(
        "UPDATE jobs SET
            state = CASE WHEN attempts >= max_attempts THEN 'dead'::job_state ELSE 'ready'::job_state END,
            dead_at = CASE WHEN attempts >= max_attempts THEN now() END,
            next_attempt_at = now(),
            last_error = 'lease expired (worker ' || locked_by || ' stopped heartbeating)',
            locked_by = NULL, lease_expires_at = NULL
          WHERE state = 'running' AND lease_expires_at < now()",
    ))
    .execute(conn)
    .await?)
}

/// Gives back jobs `worker` claimed but did not start (a shutdown): ready at once, the
/// claim not counted as an attempt.
pub(crate) async fn release(
    conn: &mut AdminConn,
    worker: &str,
    jobs: &[ClaimedJob],
) -> Result<usize> {
    let ids: Vec<Uuid> = jobs.iter().map(|j| j.id).collect();
    let tenants: Vec<Uuid> = jobs.iter().map(|j| j.tenant.as_uuid()).collect();
    Ok(Prepared::new(diesel::sql_query(
        "UPDATE jobs j SET state = 'ready', attempts = j.attempts - 1, locked_by = NULL, lease_expires_at = NULL
           FROM unnest($2::uuid[], $3::uuid[]) AS r(tenant_id, id)
          WHERE j.tenant_id = r.tenant_id AND j.id = r.id AND j.state = 'running' AND j.locked_by = $1",
    )
    .bind::<Text, _>(worker)
    .bind::<Array<SqlUuid>, _>(tenants)
    .bind::<Array<SqlUuid>, _>(ids))
    .execute(conn)
    .await?)
}

/// `d` in whole milliseconds, for `make_interval`.
fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// At most `max` characters of `s` (a handler's error can be long).
fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}
