//! `rowguard jobs ...`: the queue across tenants on the admin path (`ROWGUARD_ADMIN_URL`),
//! `jobs enqueue`, which enqueues as a tenant would (`DATABASE_URL`), and `jobs work`, a
//! worker for the demo's job kinds.

use std::process::ExitCode;
use std::time::Duration;

use diesel::sql_types::{BigInt, Text, Uuid as SqlUuid};
use diesel_async::RunQueryDsl;
use rowguard::jobs::admin::{self, DeadFilter};
use rowguard::jobs::{self, BoxError, ClaimedJob, Enqueue, Worker};
use rowguard::pool::TenantConn;
use rowguard::{Error, Result, TenantContext};
use serde_json::json;
use uuid::Uuid;

use crate::keys::{admin_pool, tenant_pool};
use crate::tenant::{by_slug, print};

/// The job kinds `rowguard jobs work` has handlers for.
pub const DEMO_KINDS: &[&str] = &[
    "demo.index_document",
    "demo.noop",
    "demo.ledger",
    "demo.sleep",
    "demo.fail",
];

/// `rowguard jobs`'s commands.
#[derive(clap::Subcommand, Debug)]
pub enum JobsCommand {
    /// Jobs by tenant, kind and state, and how long the oldest due job has waited.
    Stats {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Dead letters: jobs that failed their last attempt.
    DeadLetter {
        #[command(subcommand)]
        command: DeadLetterCommand,
    },
    /// Return dead letters to the queue with their attempts reset: one job, a tenant's,
    /// or a kind's.
    Requeue {
        /// One job, by id.
        #[arg(long, conflicts_with_all = ["tenant", "kind"], required_unless_present_any = ["tenant", "kind"])]
        id: Option<Uuid>,
        /// Every dead letter of the tenant with this slug.
        #[arg(long)]
        tenant: Option<String>,
        /// Every dead letter of this kind (with --tenant: of that tenant).
        #[arg(long)]
        kind: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Enqueue a job for a tenant, in its service context (needs DATABASE_URL).
    Enqueue {
        /// The tenant's slug.
        #[arg(long)]
        tenant: String,
        /// The job kind.
        kind: String,
        /// The payload, a JSON object.
        #[arg(long, default_value = "{}")]
        payload: String,
        /// Within the tenant, lower runs first.
        #[arg(long, default_value_t = 0, allow_hyphen_values = true)]
        priority: i16,
        /// Attempts before the job is dead-lettered.
        #[arg(long, default_value_t = 10)]
        max_attempts: i32,
        /// An idempotency key: enqueueing it again returns the existing job.
        #[arg(long)]
        key: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Run a worker for the demo's job kinds until SIGINT or SIGTERM, then stop
    /// gracefully (needs DATABASE_URL and ROWGUARD_ADMIN_URL). Kinds: demo.index_document
    /// (counts a document's chunks into an event), demo.noop (nothing), demo.ledger (an
    /// event naming the job), demo.sleep (payload {"ms": N, "until_attempt": K}: sleeps
    /// N ms on attempts up to K, then writes demo.ledger's event) and demo.fail (always
    /// fails).
    Work(WorkArgs),
}

/// `rowguard jobs dead-letter`'s commands.
#[derive(clap::Subcommand, Debug)]
pub enum DeadLetterCommand {
    /// Dead letters, newest first.
    List {
        /// Only the tenant with this slug.
        #[arg(long)]
        tenant: Option<String>,
        /// Only this kind.
        #[arg(long)]
        kind: Option<String>,
        /// At most this many (1 to 1000).
        #[arg(long, default_value_t = 50)]
        limit: i64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Runs a `rowguard jobs` command.
pub fn jobs(command: JobsCommand) -> Result<ExitCode> {
    let rt = crate::cli::runtime()?;
    rt.block_on(run(command))
}

async fn run(command: JobsCommand) -> Result<ExitCode> {
    let admin = admin_pool()?;
    match command {
        JobsCommand::Stats { json } => {
            let stats = admin::stats(&admin).await?;
            let oldest = stats.oldest_ready_age.map(|d| d.as_secs_f64());
            print(
                json,
                json!({"counts": stats.counts, "oldest_ready_age_seconds": oldest}),
                || {
                    let mut lines: Vec<String> = stats
                        .counts
                        .iter()
                        .map(|c| format!("{}\t{}\t{}\t{}", c.tenant, c.kind, c.state, c.jobs))
                        .collect();
                    lines.push(match oldest {
                        Some(s) => format!("oldest due job waiting: {s:.1} s"),
                        None => "no job is due".to_owned(),
                    });
                    lines.join("\n")
                },
            );
            Ok(ExitCode::SUCCESS)
        }
        JobsCommand::DeadLetter {
            command:
                DeadLetterCommand::List {
                    tenant,
                    kind,
                    limit,
                    json,
                },
        } => {
            let filter = filter(&admin, None, tenant.as_deref(), kind).await?;
            let dead = admin::dead_letters(&admin, &filter, limit).await?;
            print(json, json!(dead), || {
                dead.iter()
                    .map(|d| {
                        format!(
                            "{}\t{}\t{}\t{} attempts\t{}\t{}",
                            d.id,
                            d.tenant,
                            d.kind,
                            d.attempts,
                            d.dead_at.to_rfc3339(),
                            d.last_error.as_deref().unwrap_or("")
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
            Ok(ExitCode::SUCCESS)
        }
        JobsCommand::Requeue {
            id,
            tenant,
            kind,
            json,
        } => {
            let filter = filter(&admin, id, tenant.as_deref(), kind).await?;
            let n = admin::requeue(&admin, &filter).await?;
            print(json, json!({"requeued": n}), || {
                format!("requeued {n} job(s)")
            });
            Ok(ExitCode::SUCCESS)
        }
        JobsCommand::Enqueue {
            tenant,
            kind,
            payload,
            priority,
            max_attempts,
            key,
            json,
        } => {
            let payload: serde_json::Value = serde_json::from_str(&payload)
                .map_err(|e| Error::InvalidInput(format!("--payload is not JSON: {e}")))?;
            let t = by_slug(&admin, &tenant).await?;
            let pool = tenant_pool(1, Some(&admin)).await?;
            let mut job = Enqueue::new(kind, payload)
                .priority(priority)
                .max_attempts(max_attempts);
            if let Some(key) = key {
                job = job.idempotency_key(key);
            }
            let done = pool
                .with_tenant(&TenantContext::new(t.id), async |conn| {
                    jobs::enqueue(conn, job).await
                })
                .await?;
            print(json, json!(done), || {
                format!(
                    "{}\t{}",
                    done.id,
                    if done.created { "created" } else { "exists" }
                )
            });
            Ok(ExitCode::SUCCESS)
        }
        JobsCommand::Work(args) => work(admin, args).await,
    }
}

async fn filter(
    admin: &rowguard::pool::AdminPool,
    id: Option<Uuid>,
    tenant: Option<&str>,
    kind: Option<String>,
) -> Result<DeadFilter> {
    let tenant = match tenant {
        Some(slug) => Some(by_slug(admin, slug).await?.id),
        None => None,
    };
    Ok(DeadFilter { id, tenant, kind })
}

/// `rowguard jobs work`'s arguments.
#[derive(clap::Args, Debug)]
pub struct WorkArgs {
    /// The kinds to run, comma-separated (default: all of them).
    #[arg(long, value_delimiter = ',')]
    kinds: Vec<String>,
    /// Jobs run at once.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// Most jobs per claim.
    #[arg(long, default_value_t = 10)]
    batch: usize,
    /// The lease, in seconds.
    #[arg(long, default_value_t = 30.0)]
    lease: f64,
    /// How often to look for jobs without a notification, in milliseconds.
    #[arg(long, default_value_t = 1000)]
    poll_ms: u64,
    /// Do not LISTEN (behind a transaction-mode pooler); poll only.
    #[arg(long)]
    no_listen: bool,
    /// Print the final report as JSON.
    #[arg(long)]
    json: bool,
}

async fn work(admin: rowguard::pool::AdminPool, args: WorkArgs) -> Result<ExitCode> {
    let kinds: Vec<String> = if args.kinds.is_empty() {
        DEMO_KINDS.iter().map(|k| (*k).to_owned()).collect()
    } else {
        args.kinds
    };
    if let Some(unknown) = kinds.iter().find(|k| !DEMO_KINDS.contains(&k.as_str())) {
        return Err(Error::InvalidInput(format!(
            "no handler for {unknown:?}: rowguard jobs work runs {}",
            DEMO_KINDS.join(", ")
        )));
    }
    if !(args.lease.is_finite() && args.lease >= 0.1) {
        return Err(Error::InvalidInput("--lease is at least 0.1 s".into()));
    }
    let max = u32::try_from(args.concurrency + 2).unwrap_or(u32::MAX);
    let tenants = tenant_pool(max, Some(&admin)).await?;
    let mut builder = Worker::builder(admin, tenants)
        .concurrency(args.concurrency)
        .batch_size(args.batch)
        .lease(Duration::from_secs_f64(args.lease))
        .poll_interval(Duration::from_millis(args.poll_ms.max(1)));
    if !args.no_listen {
        builder = builder.listen(crate::cli::admin_url()?);
    }
    for kind in &kinds {
        builder = match kind.as_str() {
            "demo.index_document" => {
                builder.handler(kind, |job, conn| Box::pin(index_document(job, conn)))
            }
            "demo.noop" => builder.handler(kind, |_job, _conn| Box::pin(async { Ok(()) })),
            "demo.ledger" => builder.handler(kind, |job, conn| Box::pin(ledger(job, conn))),
            "demo.sleep" => builder.handler(kind, |job, conn| Box::pin(sleep(job, conn))),
            // demo.fail, the last of DEMO_KINDS (checked above).
            _ => builder.handler(kind, |job, _conn| {
                Box::pin(async move {
                    Err(format!("demo.fail fails on purpose (attempt {})", job.attempt).into())
                })
            }),
        };
    }
    let worker = builder.build()?;
    eprintln!(
        "rowguard jobs work: worker {} runs {}",
        worker.id(),
        kinds.join(", ")
    );
    let report = worker.run(shutdown_signal()).await?;
    print(args.json, json!(report), || {
        format!(
            "completed {}, retried {}, dead-lettered {}, lease lost {}, released {}, unrecorded {}, queue errors {}",
            report.completed,
            report.retried,
            report.dead_lettered,
            report.lease_lost,
            report.released,
            report.unrecorded,
            report.queue_errors
        )
    });
    Ok(ExitCode::SUCCESS)
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => {
                    let _ = interrupt.await;
                    return;
                }
            };
        tokio::select! {
            _ = interrupt => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}

/// demo.index_document: counts the document's chunks into a `document.indexed` event.
async fn index_document(
    job: &ClaimedJob,
    conn: &mut TenantConn,
) -> std::result::Result<(), BoxError> {
    let document: Uuid = job
        .payload
        .get("document_id")
        .and_then(|v| v.as_str())
        .ok_or("demo.index_document needs {\"document_id\": uuid}")?
        .parse()?;
    #[derive(diesel::QueryableByName)]
    struct Chunks {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let chunks: Chunks =
        diesel::sql_query("SELECT count(*) AS n FROM document_embeddings WHERE document_id = $1")
            .bind::<SqlUuid, _>(document)
            .get_result(conn)
            .await
            .map_err(Error::from)?;
    event(
        conn,
        "document.indexed",
        json!({"document_id": document, "chunks": chunks.n, "job": job.id}),
    )
    .await
}

/// demo.ledger: a `job.ran` event naming the job, written with its completion.
async fn ledger(job: &ClaimedJob, conn: &mut TenantConn) -> std::result::Result<(), BoxError> {
    event(conn, "job.ran", json!({"job": job.id.to_string()})).await
}

/// demo.sleep: sleeps `ms` on attempts up to `until_attempt` (default: every attempt),
/// then writes demo.ledger's event.
async fn sleep(job: &ClaimedJob, conn: &mut TenantConn) -> std::result::Result<(), BoxError> {
    let ms = job
        .payload
        .get("ms")
        .and_then(|v| v.as_u64())
        .unwrap_or(1000);
    let until = job
        .payload
        .get("until_attempt")
        .and_then(|v| v.as_i64())
        .unwrap_or(i64::MAX);
    if i64::from(job.attempt) <= until {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    ledger(job, conn).await
}

async fn event(
    conn: &mut TenantConn,
    kind: &str,
    payload: serde_json::Value,
) -> std::result::Result<(), BoxError> {
    diesel::sql_query("INSERT INTO events (tenant_id, event_type, payload) VALUES ($1, $2, $3)")
        .bind::<SqlUuid, _>(conn.context().tenant_id.as_uuid())
        .bind::<Text, _>(kind)
        .bind::<diesel::sql_types::Jsonb, _>(payload)
        .execute(conn)
        .await
        .map_err(Error::from)?;
    Ok(())
}
