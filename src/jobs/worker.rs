//! The worker: claims jobs on the admin path and runs each in its tenant's context.

use std::collections::HashMap;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use serde::Serialize;
use tokio::task::JoinSet;

use super::queue::{self, Failed};
use super::{Backoff, ClaimedJob};
use crate::error::{Error, Result};
use crate::pool::wire::Listener;
use crate::pool::{AdminPool, TenantConn, TenantPool};
use crate::tenant::{TenantContext, TenantId};

/// What a handler may fail with: any error (`rowguard::Error` included, through `?`).
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Runs jobs of one kind. Closures of the shape
/// `|job, conn| Box::pin(async move { ... })` are handlers; so is any type that
/// implements this trait.
///
/// The handler runs inside a tenant transaction of the job's tenant (the tenant's
/// service context): whatever it writes through `conn` commits together with the job's
/// completion when it returns `Ok`, and rolls back when it returns `Err`, panics, or
/// the worker loses the job's lease. It may run more than once for one job (after a
/// failure, or when a worker died mid-job): its effects outside the database should be
/// idempotent.
pub trait Handler: Send + Sync + 'static {
    /// Runs `job` on `conn`.
    fn run<'a>(
        &'a self,
        job: &'a ClaimedJob,
        conn: &'a mut TenantConn,
    ) -> BoxFuture<'a, std::result::Result<(), BoxError>>;
}

impl<F> Handler for F
where
    F: for<'a> Fn(
            &'a ClaimedJob,
            &'a mut TenantConn,
        ) -> BoxFuture<'a, std::result::Result<(), BoxError>>
        + Send
        + Sync
        + 'static,
{
    fn run<'a>(
        &'a self,
        job: &'a ClaimedJob,
        conn: &'a mut TenantConn,
    ) -> BoxFuture<'a, std::result::Result<(), BoxError>> {
        self(job, conn)
    }
}

/// Configures a [`Worker`]: [`Worker::builder`].
pub struct WorkerBuilder {
    admin: AdminPool,
    tenants: TenantPool,
    handlers: HashMap<String, Arc<dyn Handler>>,
    concurrency: usize,
    batch_size: usize,
    lease: Duration,
    poll_interval: Duration,
    listen_url: Option<String>,
    backoff: Backoff,
    id: Option<String>,
    completion_batch: usize,
}

impl WorkerBuilder {
    /// Runs jobs of `kind` with the closure `f` (`|job, conn| Box::pin(async move { .. })`).
    /// A second handler for the same kind replaces the first.
    pub fn handler<F>(self, kind: &str, f: F) -> Self
    where
        F: for<'a> Fn(
                &'a ClaimedJob,
                &'a mut TenantConn,
            ) -> BoxFuture<'a, std::result::Result<(), BoxError>>
            + Send
            + Sync
            + 'static,
    {
        self.handler_impl(kind, f)
    }

    /// Runs jobs of `kind` with `handler`, a type that implements [`Handler`].
    pub fn handler_impl(mut self, kind: &str, handler: impl Handler) -> Self {
        self.handlers.insert(kind.to_owned(), Arc::new(handler));
        self
    }

    /// How many job transactions run at once (default 4): jobs, or completion batches
    /// ([`WorkerBuilder::complete_in_batches`]). The worker claims only as many jobs as
    /// it has room for, so it never holds a job it will not start at once.
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n;
        self
    }

    /// The most jobs one claim takes (default 10), and the most tenants it visits.
    pub fn batch_size(mut self, n: usize) -> Self {
        self.batch_size = n;
        self
    }

    /// How long a claim holds a job before the reaper may return it (default 30 s). The
    /// heartbeat extends the leases of running jobs every third of it.
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// How often an idle worker looks for ready jobs without a notification (default
    /// 1 s): the delay before a retried or scheduled job starts, and the only wake-up
    /// behind a transaction-mode pooler.
    pub fn poll_interval(mut self, every: Duration) -> Self {
        self.poll_interval = every;
        self
    }

    /// Wakes on `NOTIFY rowguard_jobs` over a connection of its own to `url`, which
    /// must reach PostgreSQL directly or through a session-mode pooler (LISTEN does not
    /// work through PgBouncer in transaction mode). Without it the worker polls.
    pub fn listen(mut self, url: impl Into<String>) -> Self {
        self.listen_url = Some(url.into());
        self
    }

    /// Runs up to `n` claimed jobs of one tenant in one tenant transaction and completes
    /// them with one statement (default 1: a transaction per job). Fewer transactions
    /// for tenants with many small jobs; the price is that when one of them fails, the
    /// batch's transaction rolls back and each of its jobs runs again in a transaction
    /// of its own (so the failure is the failing job's alone), which runs the handlers
    /// before it twice. Use it for handlers whose only effects are in the database.
    pub fn complete_in_batches(mut self, n: usize) -> Self {
        self.completion_batch = n.max(1);
        self
    }

    /// The retry schedule of failed jobs (default: 1 s doubling up to 1 hour).
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// The name this worker claims jobs under (`jobs.locked_by`); default
    /// `<host>:<pid>:<random>`. Must be unique among running workers.
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// The worker.
    ///
    /// # Errors
    /// [`Error::Config`] without handlers, with a handler for a malformed kind, or
    /// with a zero concurrency, batch size, lease or poll interval.
    pub fn build(self) -> Result<Worker> {
        if self.handlers.is_empty() {
            return Err(Error::Config("a worker needs at least one handler".into()));
        }
        if let Some(kind) = self.handlers.keys().find(|k| !super::valid_kind(k)) {
            return Err(Error::Config(format!(
                "handler for {kind:?}: job kinds are lowercase dotted words"
            )));
        }
        if self.concurrency == 0 || self.batch_size == 0 {
            return Err(Error::Config(
                "a worker's concurrency and batch size must be at least 1".into(),
            ));
        }
        if self.lease < Duration::from_millis(100) || self.poll_interval.is_zero() {
            return Err(Error::Config(
                "a worker's lease must be at least 100 ms and its poll interval above zero".into(),
            ));
        }
        let id = self.id.unwrap_or_else(default_id);
        let mut kinds: Vec<String> = self.handlers.keys().cloned().collect();
        kinds.sort();
        Ok(Worker {
            inner: Arc::new(Inner {
                admin: self.admin,
                tenants: self.tenants,
                handlers: self.handlers,
                kinds,
                concurrency: self.concurrency,
                batch_size: self.batch_size,
                lease: self.lease,
                poll_interval: self.poll_interval,
                listen_url: self.listen_url,
                backoff: self.backoff,
                id,
                completion_batch: self.completion_batch,
            }),
        })
    }
}

/// `<host>:<pid>:<8 random hex digits>`.
fn default_id() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "worker".to_owned());
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!("{host}:{}:{}", std::process::id(), &random[..8])
}

struct Inner {
    admin: AdminPool,
    tenants: TenantPool,
    handlers: HashMap<String, Arc<dyn Handler>>,
    kinds: Vec<String>,
    concurrency: usize,
    batch_size: usize,
    lease: Duration,
    poll_interval: Duration,
    listen_url: Option<String>,
    backoff: Backoff,
    id: String,
    completion_batch: usize,
}

/// Claims jobs across tenants and runs each in its tenant's context; see
/// [`crate::jobs`].
#[derive(Clone)]
pub struct Worker {
    inner: Arc<Inner>,
}

/// What a worker did while it ran.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct WorkerReport {
    /// Jobs whose handler succeeded and whose completion committed with its writes.
    pub completed: u64,
    /// Jobs that failed and were scheduled to run again.
    pub retried: u64,
    /// Jobs that failed their last attempt and were dead-lettered.
    pub dead_lettered: u64,
    /// Jobs this worker no longer held when it finished them (its lease had expired):
    /// their transaction rolled back, and another run decides them.
    pub lease_lost: u64,
    /// Jobs given back unrun because their tenant was suspended or closed meanwhile.
    pub released: u64,
    /// Jobs whose outcome could not be recorded (the database was unreachable); their
    /// lease expires and the reaper returns them.
    pub unrecorded: u64,
    /// Claims, heartbeats or reaper runs that failed (logged, then retried).
    pub queue_errors: u64,
}

/// How one job ended, for the report.
enum Outcome {
    Completed,
    Retried,
    DeadLettered,
    LeaseLost,
    Released,
    Unrecorded,
}

impl Worker {
    /// A worker that claims through `admin` (the admin path: claims cross tenants) and
    /// runs jobs through `tenants` (each in its own tenant's context). Add handlers, then
    /// [`WorkerBuilder::build`].
    pub fn builder(admin: AdminPool, tenants: TenantPool) -> WorkerBuilder {
        WorkerBuilder {
            admin,
            tenants,
            handlers: HashMap::new(),
            concurrency: 4,
            batch_size: 10,
            lease: Duration::from_secs(30),
            poll_interval: Duration::from_secs(1),
            listen_url: None,
            backoff: Backoff::default(),
            id: None,
            completion_batch: 1,
        }
    }

    /// The name this worker claims jobs under.
    pub fn id(&self) -> &str {
        &self.inner.id
    }

    /// Runs until `shutdown` resolves, then stops claiming, lets the jobs it is running
    /// finish (each completes, fails or is retried as usual), and returns what it did.
    ///
    /// Claims, heartbeats and reaper runs that fail (the database restarting) are
    /// logged, counted and tried again on the next tick; they do not stop the worker.
    ///
    /// # Errors
    /// Only [`Error::ConnectionLost`] when the listen connection cannot be opened at
    /// start.
    pub async fn run(&self, shutdown: impl Future<Output = ()>) -> Result<WorkerReport> {
        let inner = &self.inner;
        let mut listener = match &inner.listen_url {
            Some(url) => Some(
                crate::pool::wire::listen(url, super::NOTIFY_CHANNEL)
                    .await
                    .map_err(|e| Error::ConnectionLost(format!("LISTEN connection: {e}")))?,
            ),
            None => None,
        };
        let mut report = WorkerReport::default();
        // Tasks, each running one job or one completion batch, and the jobs they hold.
        let mut running: JoinSet<Vec<Outcome>> = JoinSet::new();
        // How many jobs each task holds, to give their room back whatever becomes of it.
        let mut held: HashMap<tokio::task::Id, usize> = HashMap::new();
        let mut in_flight = 0usize;
        // Jobs held at most: `concurrency` transactions of `completion_batch` jobs each.
        let capacity = inner.concurrency * inner.completion_batch;
        let mut cursor: Option<TenantId> = None;
        let mut heartbeat = tokio::time::interval(inner.lease / 3);
        heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut reaper = tokio::time::interval(inner.lease / 2);
        reaper.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut shutdown = std::pin::pin!(shutdown.fuse());
        let mut stopping = false;
        tracing::info!(worker = %inner.id, kinds = ?inner.kinds, "worker started");
        loop {
            // Claim when at least half a batch of room is free (or nothing runs), so
            // claims stay batches and do not shrink to one job per completion.
            let free = capacity.saturating_sub(in_flight);
            let refill = (inner.batch_size.min(capacity) / 2).max(1);
            let mut claimed_some = false;
            if !stopping && free > 0 && (free >= refill || in_flight == 0) {
                match self.claim(free.min(inner.batch_size), cursor).await {
                    Ok((jobs, next)) => {
                        cursor = next;
                        claimed_some = !jobs.is_empty();
                        in_flight += jobs.len();
                        for group in batches(jobs, inner.completion_batch) {
                            let n = group.len();
                            let task = running.spawn(execute_batch(Arc::clone(inner), group));
                            held.insert(task.id(), n);
                        }
                    }
                    Err(error) => {
                        report.queue_errors += 1;
                        tracing::warn!(worker = %inner.id, %error, "claiming jobs failed");
                    }
                }
            }
            if stopping && running.is_empty() {
                break;
            }
            // Room left and jobs found: look again at once (more tenants may be ready).
            if claimed_some && capacity - in_flight >= refill {
                continue;
            }
            let idle = !stopping && capacity - in_flight >= refill;
            tokio::select! {
                () = &mut shutdown, if !stopping => {
                    stopping = true;
                    tracing::info!(worker = %inner.id, running = in_flight, "worker stopping");
                }
                Some(done) = running.join_next_with_id(), if !running.is_empty() => {
                    let id = match &done {
                        Ok((id, _)) => *id,
                        Err(error) => error.id(),
                    };
                    let jobs = held.remove(&id).unwrap_or(0);
                    in_flight = in_flight.saturating_sub(jobs);
                    record(&mut report, done.map(|(_, outcomes)| outcomes), jobs);
                }
                woke = next_notification(&mut listener), if idle => {
                    if !woke {
                        tracing::warn!(worker = %inner.id, "LISTEN connection ended; polling only");
                        listener = None;
                    }
                }
                () = tokio::time::sleep(inner.poll_interval), if idle => {}
                _ = heartbeat.tick() => {
                    if !running.is_empty() {
                        if let Err(error) = self.heartbeat().await {
                            report.queue_errors += 1;
                            tracing::warn!(worker = %inner.id, %error, "heartbeat failed");
                        }
                    }
                }
                _ = reaper.tick(), if !stopping => {
                    match self.reap().await {
                        Ok(0) => {}
                        Ok(n) => tracing::info!(worker = %inner.id, jobs = n, "returned jobs whose lease expired"),
                        Err(error) => {
                            report.queue_errors += 1;
                            tracing::warn!(worker = %inner.id, %error, "reaping expired leases failed");
                        }
                    }
                }
            }
        }
        tracing::info!(worker = %inner.id, ?report, "worker stopped");
        Ok(report)
    }

    async fn claim(
        &self,
        n: usize,
        cursor: Option<TenantId>,
    ) -> Result<(Vec<ClaimedJob>, Option<TenantId>)> {
        let inner = &self.inner;
        inner
            .admin
            .as_admin("jobs: claim", async |conn| {
                queue::claim(conn, &inner.kinds, n, cursor, &inner.id, inner.lease).await
            })
            .await
    }

    async fn heartbeat(&self) -> Result<usize> {
        let inner = &self.inner;
        inner
            .admin
            .as_admin("jobs: heartbeat", async |conn| {
                queue::heartbeat(conn, &inner.id, inner.lease).await
            })
            .await
    }

    async fn reap(&self) -> Result<usize> {
        self.inner
            .admin
            .as_admin("jobs: reap expired leases", async |conn| {
                queue::reap(conn).await
            })
            .await
    }
}

/// Waits for the next notification: `true` when one came, `false` when the listening
/// connection ended; never resolves without a listener.
async fn next_notification(listener: &mut Option<Listener>) -> bool {
    match listener {
        Some(l) => l.next().await.is_some(),
        None => std::future::pending().await,
    }
}

/// Adds a task's outcomes to `report`; a task that failed (a panic in rowguard's own
/// code: handlers' panics are caught) counts its `jobs` as unrecorded, and their leases
/// return them.
fn record(
    report: &mut WorkerReport,
    done: std::result::Result<Vec<Outcome>, tokio::task::JoinError>,
    jobs: usize,
) {
    match done {
        Ok(outcomes) => {
            for outcome in &outcomes {
                match outcome {
                    Outcome::Completed => report.completed += 1,
                    Outcome::Retried => report.retried += 1,
                    Outcome::DeadLettered => report.dead_lettered += 1,
                    Outcome::LeaseLost => report.lease_lost += 1,
                    Outcome::Released => report.released += 1,
                    Outcome::Unrecorded => report.unrecorded += 1,
                }
            }
        }
        Err(error) => {
            report.unrecorded += jobs as u64;
            tracing::error!(%error, jobs, "a job task failed");
        }
    }
}

/// `jobs` (in claim order: grouped by tenant) cut into runs of at most `n` jobs of one
/// tenant.
fn batches(jobs: Vec<ClaimedJob>, n: usize) -> Vec<Vec<ClaimedJob>> {
    let mut out: Vec<Vec<ClaimedJob>> = Vec::new();
    for job in jobs {
        match out.last_mut() {
            Some(group) if group.len() < n && group[0].tenant == job.tenant => group.push(job),
            _ => out.push(vec![job]),
        }
    }
    out
}

/// Runs a completion batch: its jobs in one tenant transaction, completed together;
/// when that fails, each job alone ([`execute`]).
async fn execute_batch(inner: Arc<Inner>, jobs: Vec<ClaimedJob>) -> Vec<Outcome> {
    if jobs.len() > 1 {
        let ctx = TenantContext::new(jobs[0].tenant);
        let together = inner
            .tenants
            .with_tenant(&ctx, async |conn| {
                run_and_complete(&inner, &jobs, conn, &mut None).await
            })
            .await;
        match together {
            Ok(()) => return jobs.iter().map(|_| Outcome::Completed).collect(),
            Err(error) => tracing::debug!(
                worker = %inner.id, %error, jobs = jobs.len(),
                "a completion batch failed; running its jobs one by one"
            ),
        }
    }
    let mut outcomes = Vec::with_capacity(jobs.len());
    for job in jobs {
        outcomes.push(execute(Arc::clone(&inner), job).await);
    }
    outcomes
}

/// A number in `[0, 1)` for the backoff's jitter.
fn jitter() -> f64 {
    // 53 random bits of a v4 UUID, as the fraction of a double.
    let bits = uuid::Uuid::new_v4().as_u128() >> 75;
    bits as f64 / (1u64 << 53) as f64
}

/// The text of a panic's payload.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a non-string panic payload".to_owned())
}

/// Runs the handlers of `jobs` (one tenant's: one job, or a completion batch) in order
/// on `conn`, then completes them all. The first handler that fails or panics stops it
/// with [`Error::JobFailed`], its text also left in `failure`; completing a job this
/// worker no longer holds is [`Error::LeaseLost`]. The caller's transaction rolls back
/// on either.
async fn run_and_complete(
    inner: &Inner,
    jobs: &[ClaimedJob],
    conn: &mut TenantConn,
    failure: &mut Option<String>,
) -> Result<()> {
    for job in jobs {
        let Some(handler) = inner.handlers.get(&job.kind) else {
            return Err(Error::JobFailed(format!("no handler for {}", job.kind)));
        };
        let text = match AssertUnwindSafe(handler.run(job, conn))
            .catch_unwind()
            .await
        {
            Ok(Ok(())) => continue,
            Ok(Err(error)) => error.to_string(),
            Err(payload) => format!("handler panicked: {}", panic_message(payload.as_ref())),
        };
        *failure = Some(text.clone());
        return Err(Error::JobFailed(text));
    }
    if queue::complete(conn, jobs, &inner.id).await? {
        Ok(())
    } else {
        Err(Error::LeaseLost)
    }
}

/// Runs one claimed job in its tenant's context and records how it ended.
async fn execute(inner: Arc<Inner>, job: ClaimedJob) -> Outcome {
    if !inner.handlers.contains_key(&job.kind) {
        // Claims ask only for the kinds this worker has handlers for.
        return Outcome::Unrecorded;
    }
    let ctx = TenantContext::new(job.tenant);
    let span = tracing::info_span!("job", worker = %inner.id, tenant = %job.tenant, job = %job.id, kind = %job.kind, attempt = job.attempt);
    let mut failure: Option<String> = None;
    let result = inner
        .tenants
        .with_tenant(&ctx, async |conn| {
            run_and_complete(&inner, std::slice::from_ref(&job), conn, &mut failure).await
        })
        .await;
    let error = match result {
        Ok(()) => return Outcome::Completed,
        Err(Error::LeaseLost) => {
            tracing::warn!(parent: &span, "the job's lease expired before it finished: rolled back");
            return Outcome::LeaseLost;
        }
        Err(Error::TenantSuspended(_) | Error::TenantClosed(_)) => {
            let released = inner
                .admin
                .as_admin("jobs: release (tenant not active)", async |conn| {
                    queue::release(conn, &inner.id, std::slice::from_ref(&job)).await
                })
                .await;
            return match released {
                Ok(_) => Outcome::Released,
                Err(error) => {
                    tracing::warn!(parent: &span, %error, "could not release the job of an inactive tenant");
                    Outcome::Unrecorded
                }
            };
        }
        // The handler's own failure, or the transaction's (a statement of the
        // completion, the commit).
        Err(error) => failure.unwrap_or_else(|| error.to_string()),
    };
    let delay = inner.backoff.delay(job.attempt, jitter());
    let failed = inner
        .tenants
        .with_tenant(&ctx, async |conn| {
            queue::fail(conn, &job, &inner.id, delay, &error).await
        })
        .await;
    match failed {
        Ok(Failed::Retry) => {
            tracing::info!(parent: &span, %error, retry_in = ?delay, "job failed; retrying");
            Outcome::Retried
        }
        Ok(Failed::Dead) => {
            tracing::warn!(parent: &span, %error, "job failed its last attempt; dead-lettered");
            Outcome::DeadLettered
        }
        Ok(Failed::NotHeld) => Outcome::LeaseLost,
        Err(record_error) => {
            tracing::warn!(parent: &span, %error, %record_error, "job failed and the failure could not be recorded; its lease will expire");
            Outcome::Unrecorded
        }
    }
}
