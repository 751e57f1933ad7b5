//! Round trips per transaction shape, across a delayed network, and the signed
//! context's own cost.
//!
//! A small in-process TCP proxy sits between the pools and the server and holds every
//! chunk, in each direction, for `ROWGUARD_BENCH_DELAY_US` (default 500 µs), so a round
//! trip costs about twice that, as across a real network. Each shape runs
//! `ROWGUARD_BENCH_ITERS` times (default 200) through the proxy; its median latency
//! divided by the median of a bare autocommit `SELECT 1` (one round trip by
//! definition) is its count of round trips. tokio's timer has 1 ms granularity, so
//! read the counts as ratios, not the microseconds.
//!
//! Then, without the proxy, it times the verification as policies pay it: statements
//! that each call `rowguard.current_tenant_id()` once, less the same statements reading
//! the raw setting, per statement; and the same for the tenant gate of the context
//! statement, paid once per transaction.
//!
//! `cargo bench --bench round_trips` prints both tables.

use std::time::{Duration, Instant};

use diesel::{ExpressionMethods, QueryDsl, QueryableByName, SelectableHelper};
use diesel_async::pooled_connection::bb8::Pool;
use diesel_async::pooled_connection::AsyncDieselConnectionManager;
use diesel_async::{AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use rowguard::models::Task;
use rowguard::pool::{PoolConfig, TenantPool};
use rowguard::schema::tasks;
use rowguard::{TenantContext, TenantId};
use rowguard_testkit::fixtures::N;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use uuid::Uuid;

/// Forwards `from` to `to`, each chunk `delay` after it arrived, in order.
async fn delayed_pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    delay: Duration,
) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
    let writer = tokio::spawn(async move {
        while let Some((due, bytes)) = rx.recv().await {
            tokio::time::sleep_until(due.into()).await;
            if to.write_all(&bytes).await.is_err() {
                break;
            }
        }
    });
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if tx
                    .send((Instant::now() + delay, buf[..n].to_vec()))
                    .is_err()
                {
                    break;
                }
            }
        }
    }
    drop(tx);
    let _ = writer.await;
}

/// Starts the proxy to `upstream` on a free loopback port; returns the port.
async fn proxy(upstream: std::net::SocketAddr, delay: Duration) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let Ok(server) = TcpStream::connect(upstream).await else {
                continue;
            };
            let _ = client.set_nodelay(true);
            let _ = server.set_nodelay(true);
            let (cr, cw) = client.into_split();
            let (sr, sw) = server.into_split();
            tokio::spawn(delayed_pipe(cr, sw, delay));
            tokio::spawn(delayed_pipe(sr, cw, delay));
        }
    });
    port
}

/// `url` with its host and port replaced by the proxy's.
fn via(url: &str, port: u16) -> String {
    let mut u = url::Url::parse(url).expect("url");
    u.set_host(Some("127.0.0.1")).expect("host");
    u.set_port(Some(port)).expect("port");
    u.to_string()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

async fn time<F, Fut>(iters: usize, mut f: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    // Warm up: connections open, statements prepared.
    for _ in 0..5 {
        f().await;
    }
    let mut samples = Vec::with_capacity(iters);
    for _ in 0..iters {
        let t = Instant::now();
        f().await;
        samples.push(t.elapsed());
    }
    median(samples)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let delay = Duration::from_micros(
        std::env::var("ROWGUARD_BENCH_DELAY_US")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(500),
    );
    let iters: usize = std::env::var("ROWGUARD_BENCH_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);

    let owner_url =
        rowguard_testkit::server::migrated_database("rowguard_bench_rt").expect("database");
    let logins = rowguard_testkit::server::prepare_database(&owner_url).expect("logins");
    let admin = PoolConfig::new(logins.admin_url.clone())
        .max_size(1)
        .build_admin()
        .expect("admin pool");
    let key = admin.context_key().await.expect("key");
    let tenant = TenantId::from_uuid(Uuid::new_v5(&Uuid::NAMESPACE_OID, b"bench-rt"));
    admin
        .as_admin("bench fixture", async |conn| {
            diesel::sql_query(
                "INSERT INTO tenants (id, slug, name) VALUES ($1, 'bench-rt', 'bench-rt') \
                 ON CONFLICT (id) DO NOTHING",
            )
            .bind::<diesel::sql_types::Uuid, _>(tenant.as_uuid())
            .execute(conn)
            .await?;
            diesel::sql_query(
                "INSERT INTO tasks (tenant_id, title) SELECT $1, 'task ' || g \
                   FROM generate_series(1, 100 - (SELECT count(*) FROM tasks WHERE tenant_id = $1)) g",
            )
            .bind::<diesel::sql_types::Uuid, _>(tenant.as_uuid())
            .execute(conn)
            .await?;
            Ok(())
        })
        .await
        .expect("fixture");
    let ctx = TenantContext::new(tenant);

    let upstream = {
        let u = url::Url::parse(&logins.app_url).expect("url");
        let host = u.host_str().unwrap_or("127.0.0.1").to_owned();
        let addr = tokio::net::lookup_host((host.as_str(), u.port().unwrap_or(5432)))
            .await
            .expect("resolve")
            .next()
            .expect("an address");
        addr
    };
    let port = proxy(upstream, delay).await;
    let app: TenantPool = PoolConfig::new(via(&logins.app_url, port))
        .context_key(key.clone())
        .max_size(1)
        .build()
        .expect("tenant pool");
    let bare: Pool<AsyncPgConnection> = Pool::builder()
        .max_size(1)
        .test_on_check_out(false)
        .build_unchecked(AsyncDieselConnectionManager::<AsyncPgConnection>::new(via(
            &owner_url, port,
        )));
    let id: Uuid = app
        .with_tenant(&ctx, async |conn| {
            Ok(tasks::table.select(tasks::id).first(conn).await?)
        })
        .await
        .expect("an id");

    let unit = time(iters, || async {
        let mut c = bare.get().await.expect("conn");
        c.batch_execute("SELECT 1").await.expect("select 1");
    })
    .await;
    let bare_read = time(iters, || async {
        let mut c = bare.get().await.expect("conn");
        let _: Task = tasks::table
            .filter(tasks::tenant_id.eq(tenant.as_uuid()))
            .filter(tasks::id.eq(id))
            .select(Task::as_select())
            .first(&mut c)
            .await
            .expect("row");
    })
    .await;
    let fetch = time(iters, || async {
        let _: Vec<Task> = app
            .fetch(
                &ctx,
                tasks::table
                    .filter(tasks::id.eq(id))
                    .select(Task::as_select()),
            )
            .await
            .expect("fetch");
    })
    .await;
    let with_one = time(iters, || async {
        app.with_tenant(&ctx, async |conn| Ok(Task::find(conn, id).await?))
            .await
            .expect("with_tenant");
    })
    .await;
    let with_three = time(iters, || async {
        app.with_tenant(&ctx, async |conn| {
            Task::find(conn, id).await?;
            Task::find(conn, id).await?;
            Task::find(conn, id).await
        })
        .await
        .expect("with_tenant x3");
    })
    .await;
    let cache_off: TenantPool = PoolConfig::new(via(&logins.app_url, port))
        .context_key(key.clone())
        .statement_cache(false)
        .max_size(1)
        .build()
        .expect("cache-off pool");
    let off_one = time(iters, || async {
        cache_off
            .with_tenant(&ctx, async |conn| Ok(Task::find(conn, id).await?))
            .await
            .expect("cache off");
    })
    .await;

    println!(
        "\nRound trips, {} µs each way ({} iterations, median; 1 round trip = bare `SELECT 1` = {:.2} ms)\n",
        delay.as_micros(),
        iters,
        unit.as_secs_f64() * 1e3
    );
    println!("| shape | median | round trips |\n|---|---|---|");
    for (name, d) in [
        ("bare autocommit point read", bare_read),
        ("`fetch` point read (prepared)", fetch),
        ("`with_tenant`, 1 statement", with_one),
        ("`with_tenant`, 3 statements", with_three),
        ("`with_tenant`, 1 statement, statement cache off", off_one),
    ] {
        println!(
            "| {name} | {:.2} ms | {:.1} |",
            d.as_secs_f64() * 1e3,
            d.as_secs_f64() / unit.as_secs_f64()
        );
    }

    // The verification's own cost, on the direct connection.
    let direct = PoolConfig::new(logins.app_url.clone())
        .context_key(key)
        .max_size(1)
        .build()
        .expect("direct pool");
    // Per statement, as the policies pay it (a statement's first call costs more than
    // the next ones of the same statement): STATEMENTS statements that call the
    // tenant helper once, against the same statements reading the raw setting.
    const STATEMENTS: usize = 2_000;
    #[derive(QueryableByName)]
    struct S {
        #[diesel(sql_type = diesel::sql_types::Text)]
        s: String,
    }
    let mut per_statement = Vec::new();
    let mut per_gate = Vec::new();
    for _ in 0..5 {
        let (verified, gate, raw) = direct
            .with_tenant(&ctx, async |conn| {
                let mut elapsed = [Duration::ZERO; 3];
                for (i, sql) in [
                    "SELECT rowguard.current_tenant_id()::text AS s",
                    "SELECT rowguard.tenant_gate(current_setting('app.context'))::text AS s",
                    "SELECT current_setting('app.context') AS s",
                ]
                .into_iter()
                .enumerate()
                {
                    let t = Instant::now();
                    for _ in 0..STATEMENTS {
                        let row: S = diesel::sql_query(sql).get_result(conn).await?;
                        std::hint::black_box(row.s);
                    }
                    elapsed[i] = t.elapsed();
                }
                Ok((elapsed[0], elapsed[1], elapsed[2]))
            })
            .await
            .expect("verification timing");
        per_statement.push(verified.saturating_sub(raw) / STATEMENTS as u32);
        per_gate.push(gate.saturating_sub(raw) / STATEMENTS as u32);
    }
    let per_call = median(per_statement);
    let gate_call = median(per_gate);
    let sites: N = direct
        .with_tenant(&ctx, async |conn| {
            // Count the policy helper call sites of a point read on tasks: one
            // verification each per statement.
            #[derive(QueryableByName)]
            struct Plan {
                #[diesel(sql_type = diesel::sql_types::Text)]
                #[diesel(column_name = "QUERY PLAN")]
                line: String,
            }
            let plan: Vec<Plan> = diesel::sql_query(
                "EXPLAIN (COSTS OFF) SELECT * FROM tasks WHERE id = '00000000-0000-0000-0000-000000000000'",
            )
            .load(conn)
            .await?;
            let n = plan
                .iter()
                .filter(|l| l.line.trim_start().starts_with("InitPlan"))
                .count();
            Ok(N { n: n as i64 })
        })
        .await
        .expect("plan");
    println!(
        "\nSigned context verification ({STATEMENTS} statements calling `rowguard.current_tenant_id()`, \
         less the same reading `app.context`; median of 5)\n"
    );
    println!("| what | figure |\n|---|---|");
    println!(
        "| one verification, per statement | {:.1} µs |",
        per_call.as_secs_f64() * 1e6
    );
    println!(
        "| helper call sites (init plans) in a point read on `tasks`, service context | {} |",
        sites.n
    );
    println!(
        "| verification per such statement | {:.1} µs |",
        per_call.as_secs_f64() * 1e6 * sites.n as f64
    );
    println!(
        "| tenant gate (`rowguard.tenant_gate`: status of the context's tenant), per transaction | {:.1} µs |",
        gate_call.as_secs_f64() * 1e6
    );
}
