//! Fixtures shared by the tests: tenants and users created through the admin path,
//! and small raw-SQL helpers that work on any async connection.

use diesel::sql_types::{BigInt, Text, Uuid as SqlUuid};
use diesel::QueryableByName;
use diesel_async::{AsyncConnectionCore, RunQueryDsl};
use rowguard::pool::{AdminPool, PoolConfig, TenantPool};
use rowguard::{MemberRole, TenantId, UserId};

/// `url` (a `postgres://` URL) with the tests' admin login
/// ([`crate::server::ADMIN_LOGIN_ROLE`]) instead of its user.
pub fn admin_url(url: &str) -> String {
    let mut url = url::Url::parse(url).expect("a URL");
    url.set_username(crate::server::ADMIN_LOGIN_ROLE)
        .expect("a URL with a user");
    url.set_password(Some(crate::server::ADMIN_LOGIN_PASSWORD))
        .expect("a URL with a password");
    url.to_string()
}

/// An admin pool on the same server and database as `pool`, as the tests' admin login.
pub fn admin_for(pool: &TenantPool) -> AdminPool {
    PoolConfig::new(admin_url(&pool.config().database_url))
        .max_size(1)
        .build_admin()
        .expect("admin pool")
}

/// Creates a tenant as the admin role (the application role may not insert tenants).
pub async fn make_tenant(pool: &TenantPool, slug: &str) -> TenantId {
    let id = TenantId::new_v7();
    let slug = slug.to_owned();
    admin_for(pool)
        .as_admin("test setup: create tenant", async |conn| {
            diesel::sql_query("INSERT INTO tenants (id, slug, name) VALUES ($1, $2, $2)")
                .bind::<SqlUuid, _>(id.as_uuid())
                .bind::<Text, _>(&slug)
                .execute(conn)
                .await?;
            Ok(())
        })
        .await
        .expect("create tenant");
    id
}

/// Creates a user of `tenant` with `role`, as the admin role.
pub async fn make_user(pool: &TenantPool, tenant: TenantId, role: MemberRole) -> UserId {
    let id = UserId::new_v7();
    admin_for(pool)
        .as_admin("test setup: create user", async |conn| {
            diesel::sql_query(
                "INSERT INTO users (tenant_id, id, email, display_name, role) \
             VALUES ($1, $2, $3, $3, $4::member_role)",
            )
            .bind::<SqlUuid, _>(tenant.as_uuid())
            .bind::<SqlUuid, _>(id.as_uuid())
            .bind::<Text, _>(format!("{}-{id}@example.test", role.as_str()))
            .bind::<Text, _>(role.as_str())
            .execute(conn)
            .await?;
            Ok(())
        })
        .await
        .expect("create user");
    id
}

/// A one-column row `n bigint`: what `SELECT count(*) AS n ...` returns.
#[derive(QueryableByName, Debug, Clone, Copy, PartialEq, Eq)]
pub struct N {
    /// The count.
    #[diesel(sql_type = BigInt)]
    pub n: i64,
}

/// `SELECT count(*) FROM <from>` on `conn` (`from` is test-written SQL, never input).
pub async fn count<C>(conn: &mut C, from: &str) -> rowguard::Result<i64>
where
    C: AsyncConnectionCore<Backend = diesel::pg::Pg>,
{
    let row: N = diesel::sql_query(format!("SELECT count(*) AS n FROM {from}"))
        .get_result(conn)
        .await?;
    Ok(row.n)
}

/// Runs one test-written statement and returns the number of rows it affected.
pub async fn exec<C>(conn: &mut C, sql: &str) -> rowguard::Result<usize>
where
    C: AsyncConnectionCore<Backend = diesel::pg::Pg>,
{
    Ok(diesel::sql_query(sql).execute(conn).await?)
}

/// A job worker running on a task of its own until [`RunningWorker::stop`].
pub struct RunningWorker {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<rowguard::Result<rowguard::jobs::WorkerReport>>,
}

impl RunningWorker {
    /// Starts `worker` on a task; it runs until [`RunningWorker::stop`].
    pub fn start(worker: rowguard::jobs::Worker) -> RunningWorker {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            worker
                .run(async move {
                    let _ = stopped.await;
                })
                .await
        });
        RunningWorker { stop, task }
    }

    /// Shuts the worker down gracefully and returns its report.
    ///
    /// # Panics
    /// When the worker's run failed or its task panicked: a test fixture.
    pub async fn stop(self) -> rowguard::jobs::WorkerReport {
        let _ = self.stop.send(());
        self.task
            .await
            .expect("the worker's task")
            .expect("the worker's run")
    }

    /// Kills the worker as a crash would: its task is aborted mid-job, nothing is
    /// completed, failed or released, and its heartbeats stop.
    pub async fn kill(self) {
        self.task.abort();
        let _ = self.task.await;
    }
}
