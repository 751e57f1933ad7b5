//! `rowguard jobs ...` as processes: enqueue, a worker that dead-letters a failing job
//! and stops on SIGTERM with its report, stats, dead-letter list and requeue with their
//! exit codes; and a worker killed with SIGKILL mid-job, whose job another worker
//! process runs after the lease, with nothing else lost or run twice.

use std::collections::BTreeMap;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use diesel::sql_types::Text;
use diesel::{Connection, PgConnection, QueryableByName, RunQueryDsl};
use rowguard_testkit::server::TestDatabase;

use crate::domain::create_tenant;
use crate::{assert_exit, json, stdout};

fn jobs(db: &TestDatabase, args: &[&str]) -> Output {
    command(db, args).output().expect("run rowguard")
}

fn command(db: &TestDatabase, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_rowguard"));
    c.arg("jobs")
        .args(args)
        .env("ROWGUARD_ADMIN_URL", db.url_admin())
        .env("DATABASE_URL", db.url_app())
        .env_remove("ROWGUARD_CONTEXT_KEY");
    c
}

/// `rowguard jobs work <args>` as a child process, its report on stdout.
fn worker(db: &TestDatabase, args: &[&str]) -> Child {
    let mut all = vec!["work", "--json", "--poll-ms", "50"];
    all.extend_from_slice(args);
    command(db, &all)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start a worker")
}

/// SIGTERM, then the worker's exit and output.
fn terminate(child: Child) -> Output {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill -TERM");
    assert!(status.success());
    child.wait_with_output().expect("worker exit")
}

/// A connection acting as rowguard_admin, to look at every tenant's rows.
fn admin_sql(db: &TestDatabase) -> PgConnection {
    let mut conn = PgConnection::establish(&db.url_admin()).expect("admin login");
    diesel::sql_query("SET ROLE rowguard_admin")
        .execute(&mut conn)
        .expect("set role");
    conn
}

#[derive(QueryableByName, Debug, PartialEq, Eq, PartialOrd, Ord, Clone)]
struct Row {
    #[diesel(sql_type = Text)]
    a: String,
    #[diesel(sql_type = Text)]
    b: String,
}

/// (job id, state) of every job.
fn job_states(conn: &mut PgConnection) -> BTreeMap<String, String> {
    diesel::sql_query("SELECT id::text AS a, state::text AS b FROM jobs")
        .load::<Row>(conn)
        .expect("jobs")
        .into_iter()
        .map(|r| (r.a, r.b))
        .collect()
}

/// (job id, tenant id) of every `job.ran` event: the ledger demo handlers write.
fn ledger(conn: &mut PgConnection) -> Vec<Row> {
    let mut rows = diesel::sql_query(
        "SELECT payload->>'job' AS a, tenant_id::text AS b FROM events WHERE event_type = 'job.ran'",
    )
    .load::<Row>(conn)
    .expect("ledger");
    rows.sort();
    rows
}

/// The database's clock, as text.
fn db_now(conn: &mut PgConnection) -> String {
    diesel::sql_query("SELECT clock_timestamp()::text AS a, '' AS b")
        .get_result::<Row>(conn)
        .expect("now")
        .a
}

fn wait_for(limit: Duration, what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn enqueue(db: &TestDatabase, args: &[&str]) -> String {
    let mut all = vec!["enqueue", "--json"];
    all.extend_from_slice(args);
    let out = jobs(db, &all);
    assert_exit(&out, 0);
    json(&out)["id"].as_str().expect("id").to_owned()
}

#[test]
fn enqueue_work_dead_letter_requeue_and_stats() {
    let db = TestDatabase::new().expect("test database");
    create_tenant(&db, "jobs-cli");

    let failing = enqueue(
        &db,
        &["--tenant", "jobs-cli", "demo.fail", "--max-attempts", "1"],
    );
    let keyed = [
        "enqueue",
        "--tenant",
        "jobs-cli",
        "demo.ledger",
        "--key",
        "once",
        "--json",
    ];
    let (again, dup) = (jobs(&db, &keyed), jobs(&db, &keyed));
    assert_exit(&again, 0);
    assert_exit(&dup, 0);
    assert_eq!(json(&again)["created"], true);
    assert_eq!(json(&dup)["created"], false);
    assert_eq!(json(&dup)["id"], json(&again)["id"]);

    // Bad input: exit 3 for an unknown slug, a payload that is not JSON, a bad kind.
    for args in [
        &["enqueue", "--tenant", "nobody", "demo.noop"][..],
        &[
            "enqueue",
            "--tenant",
            "jobs-cli",
            "demo.noop",
            "--payload",
            "{not json",
        ],
        &["enqueue", "--tenant", "jobs-cli", "Not A Kind"],
        &["work", "--kinds", "demo.unknown"],
    ] {
        assert_exit(&jobs(&db, args), 3);
    }
    // requeue needs one of --id, --tenant, --kind: a usage error.
    assert_exit(&jobs(&db, &["requeue"]), 2);

    let w = worker(&db, &["--kinds", "demo.fail,demo.ledger"]);
    let mut conn = admin_sql(&db);
    wait_for(
        Duration::from_secs(30),
        "the failing job is dead and the other done",
        || {
            let states = job_states(&mut conn);
            states.get(&failing).map(String::as_str) == Some("dead") && states.len() == 1
        },
    );
    let out = terminate(w);
    assert_exit(&out, 0);
    let report = json(&out);
    assert_eq!(report["completed"], 1, "{report}");
    assert_eq!(report["dead_lettered"], 1, "{report}");

    let out = jobs(
        &db,
        &["dead-letter", "list", "--tenant", "jobs-cli", "--json"],
    );
    assert_exit(&out, 0);
    let dead = json(&out);
    assert_eq!(dead[0]["id"], failing.as_str());
    assert_eq!(dead[0]["kind"], "demo.fail");
    assert_eq!(
        dead[0]["last_error"],
        "demo.fail fails on purpose (attempt 1)"
    );
    let out = jobs(&db, &["dead-letter", "list", "--kind", "demo.ledger"]);
    assert_exit(&out, 0);
    assert_eq!(stdout(&out).trim(), "", "no dead letters of that kind");

    let out = jobs(&db, &["stats", "--json"]);
    assert_exit(&out, 0);
    let stats = json(&out);
    assert_eq!(
        stats["counts"],
        serde_json::json!([{"tenant": "jobs-cli", "kind": "demo.fail", "state": "dead", "jobs": 1}])
    );
    assert!(stats["oldest_ready_age_seconds"].is_null());

    let out = jobs(&db, &["requeue", "--id", &failing, "--json"]);
    assert_exit(&out, 0);
    assert_eq!(json(&out)["requeued"], 1);
    let states = job_states(&mut conn);
    assert_eq!(states.get(&failing).map(String::as_str), Some("ready"));
    let out = jobs(&db, &["stats"]);
    assert_exit(&out, 0);
    assert!(
        stdout(&out).contains("jobs-cli\tdemo.fail\tready\t1"),
        "{}",
        stdout(&out)
    );
    assert!(
        stdout(&out).contains("oldest due job waiting"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn a_worker_killed_mid_job_has_its_job_run_again_after_the_lease() {
    let db = TestDatabase::new().expect("test database");
    let tenant = create_tenant(&db, "jobs-kill");
    // One job that sleeps for ten minutes on its first attempt, and 40 quick ones.
    let sleeper = enqueue(
        &db,
        &[
            "--tenant",
            "jobs-kill",
            "demo.sleep",
            "--payload",
            r#"{"ms": 600000, "until_attempt": 1}"#,
            "--priority",
            "-1",
        ],
    );
    let mut quick = Vec::new();
    for _ in 0..40 {
        quick.push(enqueue(&db, &["--tenant", "jobs-kill", "demo.ledger"]));
    }

    let lease = [
        "--kinds",
        "demo.sleep,demo.ledger",
        "--lease",
        "2",
        "--concurrency",
        "2",
    ];
    let mut first = worker(&db, &lease);
    let mut conn = admin_sql(&db);
    wait_for(
        Duration::from_secs(30),
        "the sleeper runs and some quick jobs are done",
        || {
            let states = job_states(&mut conn);
            states.get(&sleeper).map(String::as_str) == Some("running") && states.len() < 35
        },
    );
    first.kill().expect("SIGKILL");
    let _ = first.wait();
    let killed = db_now(&mut conn);

    let second = worker(&db, &lease);
    wait_for(Duration::from_secs(60), "every job is done", || {
        job_states(&mut conn).is_empty()
    });
    let out = terminate(second);
    assert_exit(&out, 0);
    let report = json(&out);
    assert!(report["completed"].as_u64() >= Some(1), "{report}");

    // Each job completed exactly once, in its tenant; the sleeper on its second attempt,
    // not before the first worker's lease ran out (two seconds after its last heartbeat,
    // which comes every two thirds of a second).
    let rows = ledger(&mut conn);
    let mut expected: Vec<Row> = quick
        .iter()
        .chain([&sleeper])
        .map(|id| Row {
            a: id.clone(),
            b: tenant.clone(),
        })
        .collect();
    expected.sort();
    assert_eq!(rows, expected);
    let rerun: Vec<Row> = diesel::sql_query(
        "SELECT extract(epoch FROM created_at - $1::timestamptz)::text AS a, '' AS b
           FROM events WHERE event_type = 'job.ran' AND payload->>'job' = $2",
    )
    .bind::<Text, _>(&killed)
    .bind::<Text, _>(&sleeper)
    .load(&mut conn)
    .expect("the sleeper's run");
    let after: f64 = rerun[0].a.parse().expect("seconds");
    assert!(
        after >= 1.2,
        "the sleeper ran again {after} s after the kill"
    );
}
