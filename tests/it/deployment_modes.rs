//! The two deployment modes keep tenants apart (tenant A never sees or writes B's rows):
//! (a) the login role is a plain member of `rowguard_app`, used both as itself
//!     (`PoolConfig::app_role(None)`) and with the default `SET LOCAL ROLE rowguard_app`;
//! (b) the login role is the migrating owner and the wrapper runs
//!     `SET LOCAL ROLE rowguard_app` (the default config, as PostgREST does), shown with
//!     the superuser that migrated the test template and with a dedicated NOSUPERUSER
//!     owner that ran the migrations itself.
//! A negative control shows the check would catch a leak: the superuser owner without
//! the role switch sees every tenant.

use diesel::sql_types::{Text, Uuid as SqlUuid};
use diesel::{Connection, PgConnection, QueryableByName};
use diesel_async::RunQueryDsl;
use rowguard::pool::{PoolConfig, TenantPool};
use rowguard::{Error, TenantContext};
use rowguard_testkit::fixtures::{count, exec, make_tenant};
use rowguard_testkit::server::{LocalCluster, TestDatabase};

/// A login role that is only a member of rowguard_app (not of rowguard_admin).
const MEMBER_LOGIN: &str = "rowguard_test_member_login";
/// A NOSUPERUSER, NOBYPASSRLS login role that owns (and migrates) its database.
const OWNER_LOGIN: &str = "rowguard_test_owner_login";

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = Text)]
    name: String,
}

fn with_user(url: &str, user: &str) -> String {
    let mut url = url::Url::parse(url).expect("url");
    url.set_username(user).expect("user");
    url.set_password(Some(user)).expect("password");
    url.to_string()
}

/// Creates a cluster-wide login role once (tolerating concurrent test processes).
fn ensure_login_role(admin: &mut PgConnection, name: &str, options: &str, member_of: &str) {
    diesel::RunQueryDsl::execute(
        diesel::sql_query(format!(
            "DO $$ BEGIN \
               IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{name}') THEN \
                 CREATE ROLE {name} LOGIN PASSWORD '{name}' {options}; \
               END IF; \
             EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
        )),
        admin,
    )
    .expect("create login role");
    diesel::RunQueryDsl::execute(
        diesel::sql_query(format!("GRANT {member_of} TO {name}")),
        admin,
    )
    .expect("grant membership");
}

async fn current_user(pool: &TenantPool, ctx: &TenantContext) -> String {
    pool.with_tenant(ctx, async |conn| {
        let n: Name = diesel::sql_query("SELECT current_user::text AS name")
            .get_result(conn)
            .await?;
        Ok(n.name)
    })
    .await
    .expect("current_user")
}

/// Two tenants with a task each (created through `setup`, which must reach
/// `rowguard_admin`), then, through `pool`: each tenant reads only its own tasks and
/// tenant row, and cannot write a row into the other tenant.
async fn assert_isolation(setup: &TenantPool, pool: &TenantPool) {
    let a = make_tenant(setup, &format!("a-{}", uuid::Uuid::now_v7())).await;
    let b = make_tenant(setup, &format!("b-{}", uuid::Uuid::now_v7())).await;
    for t in [a, b] {
        pool.with_tenant(&TenantContext::new(t), async |conn| {
            exec(
                conn,
                "INSERT INTO tasks (tenant_id, title) VALUES (rowguard.current_tenant_id(), 'own')",
            )
            .await
        })
        .await
        .expect("insert own task");
    }
    for (me, other) in [(a, b), (b, a)] {
        let ctx = TenantContext::new(me);
        let (tasks, tenants, others) = pool
            .with_tenant(&ctx, async |conn| {
                Ok((
                    count(conn, "tasks").await?,
                    count(conn, "tenants").await?,
                    count(conn, &format!("tasks WHERE tenant_id = '{other}'")).await?,
                ))
            })
            .await
            .expect("counts");
        assert_eq!(
            (tasks, tenants, others),
            (1, 1, 0),
            "tenant {me} sees only itself"
        );
        let smuggled = pool
            .with_tenant(&ctx, async |conn| {
                Ok(diesel::sql_query(
                    "INSERT INTO tasks (tenant_id, title) VALUES ($1, 'smuggled')",
                )
                .bind::<SqlUuid, _>(other.as_uuid())
                .execute(conn)
                .await?)
            })
            .await;
        assert!(
            matches!(smuggled, Err(Error::Forbidden(_))),
            "a write into another tenant must be refused, got {smuggled:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_login_as_itself_and_with_the_role_switch() {
    let db = TestDatabase::new().expect("db");
    let mut admin = db.owner_conn().expect("owner");
    ensure_login_role(
        &mut admin,
        MEMBER_LOGIN,
        "NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE",
        "rowguard_app",
    );
    let setup = db.app_pool(1).expect("setup pool");
    let url = with_user(&db.url_app(), MEMBER_LOGIN);

    let as_itself = PoolConfig::new(&url)
        .context_key(db.context_key())
        .max_size(2)
        .app_role(None)
        .build()
        .expect("pool");
    let t = make_tenant(&setup, "probe-a").await;
    assert_eq!(
        current_user(&as_itself, &TenantContext::new(t)).await,
        MEMBER_LOGIN
    );
    assert_isolation(&setup, &as_itself).await;

    let switched = PoolConfig::new(&url)
        .context_key(db.context_key())
        .max_size(2)
        .build()
        .expect("pool");
    assert_eq!(
        current_user(&switched, &TenantContext::new(t)).await,
        "rowguard_app"
    );
    assert_isolation(&setup, &switched).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn b_the_superuser_owner_with_set_local_role() {
    let db = TestDatabase::new().expect("db");
    // The migrating owner of the test databases is the cluster's superuser.
    // An owner login is the documented opt-out: not safe against SQL inside the
    // transaction, and refused without it.
    let pool = PoolConfig::new(db.url_owner())
        .context_key(db.context_key())
        .allow_privileged_login(true)
        .max_size(2)
        .build()
        .expect("pool");
    let t = make_tenant(&pool, "probe-b").await;
    assert_eq!(
        current_user(&pool, &TenantContext::new(t)).await,
        "rowguard_app"
    );
    assert_isolation(&pool, &pool).await;

    // Negative control: the same login without the switch bypasses RLS entirely.
    let unswitched = PoolConfig::new(db.url_owner())
        .context_key(db.context_key())
        .allow_privileged_login(true)
        .max_size(1)
        .app_role(None)
        .build()
        .expect("pool");
    let seen = unswitched
        .with_tenant(&TenantContext::new(t), async |conn| {
            count(conn, "tenants").await
        })
        .await
        .expect("count");
    assert!(
        seen > 1,
        "a superuser without SET LOCAL ROLE sees every tenant ({seen}); mode (b) needs the switch"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn b_a_dedicated_non_superuser_owner_with_set_local_role() {
    // A cluster of its own: the owner login is cluster-wide and can become
    // rowguard_admin, and the doctor's tests check every login of the shared cluster.
    let cluster = LocalCluster::start_owned().expect("a cluster of its own");
    let server = cluster.server();
    let db_name = "deployment_owner";
    diesel::RunQueryDsl::execute(
        diesel::sql_query(format!("CREATE DATABASE {db_name}")),
        &mut server.admin_conn().expect("superuser"),
    )
    .expect("create database");
    let db_url = server.database_url(db_name);
    let mut admin = PgConnection::establish(&db_url).expect("superuser");
    // The group roles (cluster-wide), the owner login and the vector extension (not a
    // trusted extension) are set up by a superuser; the owner creates everything else.
    diesel::RunQueryDsl::execute(
        diesel::sql_query(
            "DO $$ BEGIN \
               IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'rowguard_app') THEN \
                 CREATE ROLE rowguard_app NOLOGIN NOBYPASSRLS; END IF; \
               IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'rowguard_admin') THEN \
                 CREATE ROLE rowguard_admin NOLOGIN BYPASSRLS; END IF; \
             EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$",
        ),
        &mut admin,
    )
    .expect("group roles");
    ensure_login_role(
        &mut admin,
        OWNER_LOGIN,
        "NOSUPERUSER NOBYPASSRLS NOCREATEDB CREATEROLE",
        "rowguard_app, rowguard_admin",
    );
    // PostgreSQL 16 and later let a CREATEROLE role comment on a role only with ADMIN
    // OPTION on it (the foundation migration comments on both group roles).
    diesel::RunQueryDsl::execute(
        diesel::sql_query(format!(
            "GRANT rowguard_app, rowguard_admin TO {OWNER_LOGIN} WITH ADMIN OPTION"
        )),
        &mut admin,
    )
    .expect("admin option");
    for sql in [
        format!("ALTER DATABASE {db_name} OWNER TO {OWNER_LOGIN}"),
        "CREATE EXTENSION IF NOT EXISTS vector".to_owned(),
    ] {
        diesel::RunQueryDsl::execute(diesel::sql_query(sql), &mut admin).expect("setup");
    }
    let owner_url = with_user(&db_url, OWNER_LOGIN);
    let mut owner = PgConnection::establish(&owner_url).expect("owner connects");
    rowguard::migrations::run_pending(&mut owner).expect("the owner migrates");
    rowguard_testkit::server::ensure_context_key(&mut owner).expect("a context key");
    // The tests' admin login (make_tenant goes through it), on this cluster too.
    rowguard_testkit::server::prepare_database(&db_url).expect("test logins");
    let key = rowguard_testkit::server::context_key(&mut owner).expect("the context key");
    let owns: Name = diesel::RunQueryDsl::get_result(
        diesel::sql_query(
            "SELECT pg_get_userbyid(relowner)::text AS name FROM pg_class WHERE oid = 'tasks'::regclass",
        ),
        &mut owner,
    )
    .expect("owner");
    assert_eq!(owns.name, OWNER_LOGIN, "the login role owns the tables");

    let pool = PoolConfig::new(&owner_url)
        .context_key(key.clone())
        .allow_privileged_login(true)
        .max_size(2)
        .build()
        .expect("pool");
    let t = make_tenant(&pool, "probe-b2").await;
    assert_eq!(
        current_user(&pool, &TenantContext::new(t)).await,
        "rowguard_app"
    );
    assert_isolation(&pool, &pool).await;

    // After the switch the owner's rights are gone: it cannot switch RLS off.
    let disabled = pool
        .with_tenant(&TenantContext::new(t), async |conn| {
            exec(conn, "ALTER TABLE tasks DISABLE ROW LEVEL SECURITY").await
        })
        .await;
    assert!(
        matches!(disabled, Err(Error::Forbidden(_))),
        "rowguard_app must not be able to alter an owner's table, got {disabled:?}"
    );

    // Even without the switch, FORCE ROW LEVEL SECURITY confines a non-superuser owner.
    let unswitched = PoolConfig::new(&owner_url)
        .context_key(key)
        .allow_privileged_login(true)
        .max_size(1)
        .app_role(None)
        .build()
        .expect("pool");
    assert_eq!(
        current_user(&unswitched, &TenantContext::new(t)).await,
        OWNER_LOGIN
    );
    assert_isolation(&pool, &unswitched).await;
}
