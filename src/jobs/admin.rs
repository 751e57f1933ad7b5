//! The queue seen across tenants, on the admin path: counts, dead letters, requeueing.
//! Each function runs one admin transaction with a recorded reason.

use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::sql_types::{
    BigInt, Double, Integer, Jsonb, Nullable, Text, Timestamptz, Uuid as SqlUuid,
};
use diesel::QueryableByName;
use diesel_async::RunQueryDsl;
use serde::Serialize;
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::pool::AdminPool;
use crate::tenant::TenantId;

/// One group of [`Stats::counts`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, QueryableByName)]
pub struct StateCount {
    /// The tenant's slug.
    #[diesel(sql_type = Text)]
    pub tenant: String,
    /// The job kind.
    #[diesel(sql_type = Text)]
    pub kind: String,
    /// ready, running or dead.
    #[diesel(sql_type = Text)]
    pub state: String,
    /// How many jobs.
    #[diesel(sql_type = BigInt)]
    pub jobs: i64,
}

/// The queue at one moment.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Stats {
    /// Jobs by tenant, kind and state (groups with jobs only), in that order.
    pub counts: Vec<StateCount>,
    /// How long the longest-waiting job that is due has waited since it became due;
    /// `None` when no job is due.
    pub oldest_ready_age: Option<Duration>,
}

#[derive(QueryableByName)]
struct Age {
    #[diesel(sql_type = Nullable<Double>)]
    seconds: Option<f64>,
}

/// Counts jobs by tenant, kind and state, and measures the oldest due job's wait.
///
/// # Errors
/// Database errors as classified by [`Error`].
pub async fn stats(admin: &AdminPool) -> Result<Stats> {
    admin
        .as_admin("jobs: stats", async |conn| {
            let counts: Vec<StateCount> = diesel::sql_query(
                "SELECT t.slug AS tenant, j.kind, j.state::text AS state, count(*) AS jobs
                   FROM jobs j JOIN tenants t ON t.id = j.tenant_id
                  GROUP BY t.slug, j.kind, j.state
                  ORDER BY t.slug, j.kind, j.state",
            )
            .load(conn)
            .await?;
            let age: Vec<Age> = diesel::sql_query(
                "SELECT extract(epoch FROM now() - min(next_attempt_at))::float8 AS seconds
                   FROM jobs WHERE state = 'ready' AND next_attempt_at <= now()",
            )
            .load(conn)
            .await?;
            let oldest_ready_age = age
                .into_iter()
                .next()
                .and_then(|a| a.seconds)
                .map(|s| Duration::from_secs_f64(s.max(0.0)));
            Ok(Stats {
                counts,
                oldest_ready_age,
            })
        })
        .await
}

/// A dead-lettered job.
#[derive(Clone, Debug, PartialEq, Serialize, QueryableByName)]
pub struct DeadLetter {
    /// The job's tenant.
    #[diesel(sql_type = SqlUuid)]
    pub tenant_id: Uuid,
    /// The tenant's slug.
    #[diesel(sql_type = Text)]
    pub tenant: String,
    /// The job's id.
    #[diesel(sql_type = SqlUuid)]
    pub id: Uuid,
    /// Its kind.
    #[diesel(sql_type = Text)]
    pub kind: String,
    /// Its payload.
    #[diesel(sql_type = Jsonb)]
    pub payload: serde_json::Value,
    /// Attempts made (its limit).
    #[diesel(sql_type = Integer)]
    pub attempts: i32,
    /// The last attempt's error.
    #[diesel(sql_type = Nullable<Text>)]
    pub last_error: Option<String>,
    /// When it was dead-lettered.
    #[diesel(sql_type = Timestamptz)]
    pub dead_at: DateTime<Utc>,
}

/// Which dead letters to list or requeue.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeadFilter {
    /// One job.
    pub id: Option<Uuid>,
    /// One tenant's.
    pub tenant: Option<TenantId>,
    /// One kind's.
    pub kind: Option<String>,
}

/// The dead letters of `jobs j` a [`DeadFilter`] selects, bound as `$1` (id), `$2`
/// (tenant) and `$3` (kind) by [`DeadFilter::binds`]: what listing and requeueing share.
const DEAD_SELECTED: &str = "j.state = 'dead'
                    AND ($1::uuid IS NULL OR j.id = $1)
                    AND ($2::uuid IS NULL OR j.tenant_id = $2)
                    AND ($3::text IS NULL OR j.kind = $3)";

impl DeadFilter {
    fn binds(&self) -> (Option<Uuid>, Option<Uuid>, Option<&str>) {
        (
            self.id,
            self.tenant.map(|t| t.as_uuid()),
            self.kind.as_deref(),
        )
    }
}

/// The dead letters `filter` selects, newest first, at most `limit` (1 to 1000).
///
/// # Errors
/// [`Error::InvalidInput`] for a limit out of range; database errors as classified by
/// [`Error`].
pub async fn dead_letters(
    admin: &AdminPool,
    filter: &DeadFilter,
    limit: i64,
) -> Result<Vec<DeadLetter>> {
    if !(1..=1000).contains(&limit) {
        return Err(Error::InvalidInput(format!(
            "limit must be from 1 to 1000 (got {limit})"
        )));
    }
    let (id, tenant, kind) = filter.binds();
    admin
        .as_admin("jobs: list dead letters", async |conn| {
            Ok(diesel::sql_query(format!(
                "SELECT j.tenant_id, t.slug AS tenant, j.id, j.kind, j.payload, j.attempts,
                        j.last_error, j.dead_at
                   FROM jobs j JOIN tenants t ON t.id = j.tenant_id
                  WHERE {DEAD_SELECTED}
                  ORDER BY j.dead_at DESC, j.id DESC
                  LIMIT $4"
            ))
            .bind::<Nullable<SqlUuid>, _>(id)
            .bind::<Nullable<SqlUuid>, _>(tenant)
            .bind::<Nullable<Text>, _>(kind)
            .bind::<BigInt, _>(limit)
            .load(conn)
            .await?)
        })
        .await
}

/// Returns the dead letters `filter` selects to ready, with their attempts reset (each
/// gets its full `max_attempts` again; `last_error` is kept), and wakes the workers.
/// Returns how many. A filter with nothing set is refused: requeue everything by
/// naming each tenant or kind.
///
/// # Errors
/// [`Error::InvalidInput`] for an empty filter; database errors as classified by
/// [`Error`].
pub async fn requeue(admin: &AdminPool, filter: &DeadFilter) -> Result<usize> {
    if *filter == DeadFilter::default() {
        return Err(Error::InvalidInput(
            "requeue needs a job id, a tenant or a kind".into(),
        ));
    }
    let (id, tenant, kind) = filter.binds();
    admin
        .as_admin("jobs: requeue dead letters", async |conn| {
            let n = diesel::sql_query(format!(
                "UPDATE jobs j SET state = 'ready', attempts = 0, dead_at = NULL, next_attempt_at = now()
                  WHERE {DEAD_SELECTED}"
            ))
            .bind::<Nullable<SqlUuid>, _>(id)
            .bind::<Nullable<SqlUuid>, _>(tenant)
            .bind::<Nullable<Text>, _>(kind)
            .execute(conn)
            .await?;
            if n > 0 {
                diesel::sql_query("SELECT pg_notify($1, '')")
                    .bind::<Text, _>(super::NOTIFY_CHANNEL)
                    .execute(conn)
                    .await?;
            }
            Ok(n)
        })
        .await
}
