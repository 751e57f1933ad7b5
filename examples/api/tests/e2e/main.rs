//! The example service over HTTP: started on a loopback port against a real database,
//! driven by an HTTP client (reqwest) signed in as users of two tenants, and fuzzed
//! from its own OpenAPI document by schemathesis.

mod fuzz;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use diesel::{Connection, PgConnection, RunQueryDsl};
use reqwest::{Method, RequestBuilder, StatusCode};
use rowguard::control::{self, TenantSpec};
use rowguard::models::NewUser;
use rowguard::pool::TenantPool;
use rowguard::{MemberRole, TenantContext, TenantId};
use rowguard_axum::{AdminState, Resolver};
use rowguard_example_api::{router, run_migrations, seed_passwords, AppState};
use rowguard_testkit::server::TestDatabase;
use serde_json::{json, Value};

const PASSWORD: &str = "correct horse battery";
const BASE: &str = "api.test";
const ADMIN_TOKEN: &str = "test-admin-token";

/// The service on a loopback port, over its own database, with two tenants (`a` and
/// `b`), each with an owner, and a viewer in `a`.
struct Service {
    addr: SocketAddr,
    http: reqwest::Client,
    db: TestDatabase,
    pool: TenantPool,
    a: TenantId,
    b: TenantId,
}

impl Service {
    async fn start() -> Service {
        let db = TestDatabase::new().expect("database");
        run_migrations(&mut db.owner_conn().expect("owner")).expect("migrations");
        let pool = db.app_pool_config().max_size(8).build().expect("pool");
        let admin = db.admin_pool(1).expect("admin");
        let mut ids = Vec::new();
        for slug in ["a", "b"] {
            let made = control::provision(
                &admin,
                &TenantSpec::builder()
                    .slug(format!("t{slug}"))
                    .name(slug)
                    .owner_email(format!("owner@{slug}.example"))
                    .build(),
            )
            .await
            .expect("provision");
            ids.push(made.tenant.id);
        }
        pool.with_tenant(&TenantContext::new(ids[0]), async |conn| {
            NewUser::builder()
                .email("viewer@a.example")
                .display_name("Vera Viewer")
                .role(MemberRole::Viewer)
                .build()
                .insert(conn)
                .await
        })
        .await
        .expect("viewer");
        for t in &ids {
            seed_passwords(&pool, *t, PASSWORD)
                .await
                .expect("passwords");
        }
        let resolver = Resolver::builder(pool.clone())
            .base_domain(BASE)
            .build()
            .expect("resolver");
        let app = router(AppState::new(
            pool.clone(),
            AdminState::new(admin).token("tester", ADMIN_TOKEN),
            resolver,
            Arc::new(rowguard_testkit::embedder().expect("the local model")),
        ));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
        Service {
            addr,
            http: reqwest::Client::new(),
            db,
            pool,
            a: ids[0],
            b: ids[1],
        }
    }

    /// A request to `path` at tenant `slug`'s host (`ta.api.test`), with `token`.
    fn req(&self, method: Method, path: &str, slug: &str, token: &str) -> RequestBuilder {
        self.http
            .request(method, format!("http://{}{path}", self.addr))
            .header("host", format!("t{slug}.{BASE}"))
            .bearer_auth(token)
    }

    async fn sign_in(&self, slug: &str, email: &str) -> String {
        let r = self
            .http
            .post(format!("http://{}/sign-in", self.addr))
            .header("host", format!("t{slug}.{BASE}"))
            .json(&json!({"email": email, "password": PASSWORD}))
            .send()
            .await
            .expect("sign-in");
        assert_eq!(r.status(), StatusCode::OK, "sign-in of {email}");
        let body: Value = r.json().await.expect("json");
        body["token"].as_str().expect("token").to_owned()
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        slug: &str,
        token: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut r = self.req(method, path, slug, token);
        if let Some(b) = body {
            r = r.json(&b);
        }
        let r = r.send().await.expect("request");
        let status = r.status();
        let text = r.text().await.expect("body");
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Rows of `table` in `tenant`, counted by the owner (no row-level security).
    fn count(&self, table: &str, tenant: TenantId) -> i64 {
        #[derive(diesel::QueryableByName)]
        struct N {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let mut conn = self.db.owner_conn().expect("owner");
        diesel::sql_query(format!(
            "SELECT count(*) AS n FROM {table} WHERE tenant_id = $1"
        ))
        .bind::<diesel::sql_types::Uuid, _>(tenant.as_uuid())
        .get_result::<N>(&mut conn)
        .expect("count")
        .n
    }
}

fn id_of(v: &Value) -> String {
    v["id"]
        .as_str()
        .or_else(|| v["document"]["id"].as_str())
        .expect("an id")
        .to_owned()
}

#[tokio::test]
async fn each_user_sees_only_their_tenant_and_other_ids_are_404() {
    let s = Service::start().await;
    let ta = s.sign_in("a", "owner@a.example").await;
    let tb = s.sign_in("b", "owner@b.example").await;
    let (st, doc_a) = s
        .call(
            Method::POST,
            "/documents",
            "a",
            &ta,
            Some(json!({"title": "Alpha plan", "content": "alpha pallets to Rotterdam"})),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{doc_a}");
    assert_eq!(doc_a["chunks"], 1);
    let (st, doc_b) = s
        .call(
            Method::POST,
            "/documents",
            "b",
            &tb,
            Some(json!({"title": "Beta plan", "content": "zeppelin hangar lease"})),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED);
    let (st, task_b) = s
        .call(
            Method::POST,
            "/tasks",
            "b",
            &tb,
            Some(json!({"title": "Beta task"})),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED);
    let (da, db_, tkb) = (id_of(&doc_a), id_of(&doc_b), id_of(&task_b));

    // Lists hold the caller's tenant's rows only.
    let (_, list_a) = s.call(Method::GET, "/documents", "a", &ta, None).await;
    let titles: Vec<&str> = list_a["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["Alpha plan"]);
    let (_, tasks_a) = s.call(Method::GET, "/tasks", "a", &ta, None).await;
    assert_eq!(tasks_a["items"].as_array().unwrap().len(), 0);

    // The other tenant's ids are not there: 404 on every verb, never 403.
    for (m, path, body) in [
        (Method::GET, format!("/documents/{db_}"), None),
        (
            Method::PATCH,
            format!("/documents/{db_}"),
            Some(json!({"title": "pwned"})),
        ),
        (Method::DELETE, format!("/documents/{db_}"), None),
        (Method::POST, format!("/tasks/{tkb}/complete"), None),
    ] {
        let (st, problem) = s.call(m.clone(), &path, "a", &ta, body).await;
        assert_eq!(st, StatusCode::NOT_FOUND, "{m} {path}: {problem}");
        assert_eq!(problem["type"], "urn:rowguard:problem:not-found");
    }
    // Search finds the other tenant's words nowhere.
    let (st, hits) = s
        .call(
            Method::GET,
            "/search?q=zeppelin%20hangar&mode=vector",
            "a",
            &ta,
            None,
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    assert!(
        hits["hits"]
            .as_array()
            .unwrap()
            .iter()
            .all(|h| h["document_id"] == da.as_str()),
        "{hits}"
    );
    let (_, hits_b) = s
        .call(Method::GET, "/search?q=zeppelin%20hangar", "b", &tb, None)
        .await;
    assert_eq!(hits_b["hits"][0]["document_id"], db_.as_str());

    // B's rows are untouched.
    let (st, still) = s
        .call(Method::GET, &format!("/documents/{db_}"), "b", &tb, None)
        .await;
    assert_eq!(
        (st, still["title"].as_str()),
        (StatusCode::OK, Some("Beta plan"))
    );
    let (_, tasks_b) = s
        .call(Method::GET, "/tasks?status=todo", "b", &tb, None)
        .await;
    assert_eq!(tasks_b["items"][0]["id"], tkb.as_str());
    assert_eq!((s.count("documents", s.b), s.count("tasks", s.b)), (1, 1));
}

#[tokio::test]
async fn a_viewer_cannot_write() {
    let s = Service::start().await;
    let owner = s.sign_in("a", "owner@a.example").await;
    let viewer = s.sign_in("a", "viewer@a.example").await;
    let (_, doc) = s
        .call(
            Method::POST,
            "/documents",
            "a",
            &owner,
            Some(json!({"title": "Kept", "content": "kept words"})),
        )
        .await;
    let (_, task) = s
        .call(
            Method::POST,
            "/tasks",
            "a",
            &owner,
            Some(json!({"title": "Kept task"})),
        )
        .await;
    let (docs, tasks, chunks) = (
        s.count("documents", s.a),
        s.count("tasks", s.a),
        s.count("document_embeddings", s.a),
    );
    let doc = id_of(&doc);
    for (m, path, body) in [
        (
            Method::POST,
            "/documents".to_owned(),
            Some(json!({"title": "nope", "content": "nope"})),
        ),
        (
            Method::PATCH,
            format!("/documents/{doc}"),
            Some(json!({"content": "overwritten"})),
        ),
        (Method::DELETE, format!("/documents/{doc}"), None),
        (
            Method::POST,
            "/tasks".to_owned(),
            Some(json!({"title": "nope"})),
        ),
        (
            Method::POST,
            format!("/tasks/{}/complete", id_of(&task)),
            None,
        ),
        (Method::GET, "/audit".to_owned(), None),
    ] {
        let (st, problem) = s.call(m.clone(), &path, "a", &viewer, body).await;
        assert_eq!(st, StatusCode::FORBIDDEN, "{m} {path}: {problem}");
        assert_eq!(problem["type"], "urn:rowguard:problem:forbidden");
    }
    assert_eq!(
        (
            s.count("documents", s.a),
            s.count("tasks", s.a),
            s.count("document_embeddings", s.a)
        ),
        (docs, tasks, chunks)
    );
    // The viewer reads.
    let (st, list) = s.call(Method::GET, "/documents", "a", &viewer, None).await;
    assert_eq!(
        (st, list["items"].as_array().map(Vec::len)),
        (StatusCode::OK, Some(1))
    );
    // The owner reads the trail, which shows the owner's writes and none of the viewer's.
    let (st, trail) = s
        .call(
            Method::GET,
            &format!("/audit?target={doc}"),
            "a",
            &owner,
            None,
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    let actions: Vec<&str> = trail["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["insert"], "{trail}");
}

#[tokio::test]
async fn a_token_replayed_on_the_other_tenants_host_is_refused() {
    let s = Service::start().await;
    let ta = s.sign_in("a", "owner@a.example").await;
    let (st, problem) = s.call(Method::GET, "/documents", "b", &ta, None).await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    assert_eq!(problem["type"], "urn:rowguard:problem:tenant-mismatch");
    // Credentials of a's owner do not sign in at b's host, nor name b from a's host.
    let at = |slug: &str, body: Value| {
        s.http
            .post(format!("http://{}/sign-in", s.addr))
            .header("host", format!("t{slug}.{BASE}"))
            .json(&body)
            .send()
    };
    let r = at(
        "b",
        json!({"email": "owner@a.example", "password": PASSWORD}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = at(
        "a",
        json!({"email": "owner@a.example", "password": PASSWORD, "tenant": "tb"}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = at(
        "a",
        json!({"email": "owner@a.example", "password": "wrong password"}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // Signing out ends the session: the token no longer works anywhere.
    let r = s
        .req(Method::POST, "/sign-out", "a", &ta)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let (st, _) = s.call(Method::GET, "/me", "a", &ta, None).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
}

/// A create that is cancelled after its document row is written, while its chunks wait
/// on a lock, leaves neither: the request's transaction rolls back.
#[tokio::test]
async fn a_cancelled_request_leaves_nothing_half_written() {
    let s = Service::start().await;
    let ta = s.sign_in("a", "owner@a.example").await;
    let (st, _) = s
        .call(
            Method::POST,
            "/documents",
            "a",
            &ta,
            Some(json!({"title": "First", "content": "first words"})),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED);
    let before = (
        s.count("documents", s.a),
        s.count("document_embeddings", s.a),
    );

    // Hold the tenant's embedding count row: the next chunk insert waits on it.
    let mut blocker = PgConnection::establish(&s.db.url_owner()).expect("owner");
    diesel::sql_query("BEGIN").execute(&mut blocker).unwrap();
    diesel::sql_query(format!(
        "SELECT 1 FROM embedding_counts WHERE tenant_id = '{}' FOR UPDATE",
        s.a.as_uuid()
    ))
    .execute(&mut blocker)
    .unwrap();

    let request = s
        .req(Method::POST, "/documents", "a", &ta)
        .json(&json!({"title": "Cancelled", "content": "half written words"}))
        .send();
    let client = tokio::spawn(request);
    // Wait until the service's transaction has written the document and waits.
    let waiting = wait_for(|| {
        s.db.owner_conn()
            .ok()
            .and_then(|mut c| {
                #[derive(diesel::QueryableByName)]
                struct N {
                    #[diesel(sql_type = diesel::sql_types::BigInt)]
                    n: i64,
                }
                diesel::sql_query(
                    "SELECT count(*) AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query ILIKE '%document_embeddings%'",
                )
                .get_result::<N>(&mut c)
                .ok()
            })
            .is_some_and(|r| r.n == 1)
    })
    .await;
    assert!(waiting, "the create never reached its chunk insert");
    client.abort(); // the client goes away mid-request
    let _ = client.await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    diesel::sql_query("ROLLBACK").execute(&mut blocker).unwrap();

    // The dropped transaction rolled back: no document, no chunk, and the pool works.
    let settled = wait_for(|| {
        (
            s.count("documents", s.a),
            s.count("document_embeddings", s.a),
        ) == before
    })
    .await;
    assert!(settled, "a cancelled create left rows behind");
    let (st, list) = s.call(Method::GET, "/documents", "a", &ta, None).await;
    assert_eq!(st, StatusCode::OK);
    assert!(list["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|d| d["title"] != "Cancelled"));
}

#[tokio::test]
async fn pages_follow_the_cursor_and_malformed_requests_are_problems() {
    let s = Service::start().await;
    let ta = s.sign_in("a", "owner@a.example").await;
    for i in 0..5 {
        let (st, _) = s
            .call(
                Method::POST,
                "/tasks",
                "a",
                &ta,
                Some(json!({"title": format!("task {i}")})),
            )
            .await;
        assert_eq!(st, StatusCode::CREATED);
    }
    let mut seen = Vec::new();
    let mut path = "/tasks?limit=2".to_owned();
    loop {
        let (st, page) = s.call(Method::GET, &path, "a", &ta, None).await;
        assert_eq!(st, StatusCode::OK, "{page}");
        seen.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["title"].as_str().unwrap().to_owned()),
        );
        match page["next"].as_str() {
            Some(next) => path = format!("/tasks?limit=2&after={next}"),
            None => break,
        }
    }
    assert_eq!(seen, ["task 4", "task 3", "task 2", "task 1", "task 0"]);

    for (m, path, body, status, kind) in [
        (Method::GET, "/tasks?limit=0", None, 422, "invalid-input"),
        (
            Method::GET,
            "/tasks?after=nonsense",
            None,
            422,
            "invalid-input",
        ),
        (
            Method::GET,
            "/tasks?status=sleeping",
            None,
            422,
            "invalid-input",
        ),
        (Method::GET, "/search?q=%20%20", None, 422, "invalid-input"),
        (Method::GET, "/documents/not-a-uuid", None, 404, "not-found"),
        (
            Method::POST,
            "/tasks",
            Some("{\"title\": "),
            400,
            "bad-request",
        ),
        (
            Method::POST,
            "/tasks",
            Some("{\"title\": 7}"),
            422,
            "invalid-input",
        ),
        (
            Method::POST,
            "/tasks",
            Some("{\"title\": \"  \"}"),
            422,
            "invalid-input",
        ),
        (Method::GET, "/nowhere", None, 404, "not-found"),
    ] {
        let mut r = s.req(m.clone(), path, "a", &ta);
        if let Some(b) = body {
            r = r.header("content-type", "application/json").body(b);
        }
        let r = r.send().await.unwrap();
        assert_eq!(r.status().as_u16(), status, "{m} {path}");
        assert_eq!(
            r.headers()["content-type"],
            "application/problem+json",
            "{m} {path}"
        );
        let p: Value = r.json().await.unwrap();
        assert_eq!(
            p["type"],
            format!("urn:rowguard:problem:{kind}"),
            "{m} {path}"
        );
    }
    let r = s
        .req(Method::POST, "/tasks", "a", &ta)
        .body("title=x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

/// Polls `f` for up to ten seconds.
async fn wait_for(mut f: impl FnMut() -> bool) -> bool {
    for _ in 0..100 {
        if f() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// The service's own table follows rowguard's rules: the doctor finds nothing wrong
/// in a database with it, and a signed-in user, an owner included, cannot read a hash.
#[tokio::test]
async fn the_services_own_table_passes_the_doctor_and_hides_its_hashes() {
    let s = Service::start().await;
    let report = rowguard::doctor::diagnose(
        &mut s.db.owner_conn().expect("owner"),
        &rowguard::doctor::DoctorOptions::default(),
    )
    .expect("doctor");
    assert!(report.is_clean(), "{report:?}");
    let owner = rowguard_example_api::credentials::check(&s.pool, s.a, "owner@a.example", PASSWORD)
        .await
        .expect("check")
        .expect("the owner's password");
    let ctx = TenantContext::new(s.a).with_user(owner.0, owner.1);
    let hashes: i64 = s
        .pool
        .with_tenant(&ctx, async |conn| {
            use diesel::QueryDsl;
            let q = rowguard_example_api::schema::api_credentials::table.count();
            Ok(diesel_async::RunQueryDsl::get_result(q, conn).await?)
        })
        .await
        .expect("count");
    assert_eq!(hashes, 0, "a signed-in owner reads password hashes");
    // The hand-written table! matches the real table: every column selects, with
    // its type.
    type Row = (
        uuid::Uuid,
        uuid::Uuid,
        uuid::Uuid,
        String,
        chrono::DateTime<chrono::Utc>,
        chrono::DateTime<chrono::Utc>,
    );
    let rows: Vec<Row> = s
        .pool
        .with_tenant(&TenantContext::new(s.a), async |conn| {
            use diesel::QueryDsl;
            use rowguard_example_api::schema::api_credentials as c;
            let q = c::table.select(c::all_columns);
            Ok(diesel_async::RunQueryDsl::load(q, conn).await?)
        })
        .await
        .expect("every column");
    assert_eq!(rows.len(), 2);
    assert!(rows
        .iter()
        .all(|r| r.0 == s.a.as_uuid() && r.3.starts_with("$argon2id$")));
    assert_eq!(s.count("api_credentials", s.a), 2);
}

/// Admin routes take admin tokens only, and admin tokens reach nothing else.
#[tokio::test]
async fn admin_routes_take_admin_tokens_only() {
    let s = Service::start().await;
    let ta = s.sign_in("a", "owner@a.example").await;
    let tb = s.sign_in("b", "owner@b.example").await;
    let admin = |m: Method, path: &str, token: &str| {
        s.http
            .request(m, format!("http://{}{path}", s.addr))
            .bearer_auth(token)
            .send()
    };
    // A tenant owner's session is no admin token; an admin token is no session.
    let r = admin(Method::GET, "/admin/tenants", &ta).await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = admin(
        Method::POST,
        &format!("/admin/tenants/{}/suspend", s.b.as_uuid()),
        &ta,
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let (st, _) = s
        .call(Method::GET, "/documents", "a", ADMIN_TOKEN, None)
        .await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);

    let r = admin(Method::GET, "/admin/tenants", ADMIN_TOKEN)
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let all: Value = r.json().await.unwrap();
    let slugs: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["slug"].as_str().unwrap())
        .collect();
    assert_eq!(slugs, ["ta", "tb"]);

    // Suspending b stops its sessions, with their own problem type; a is untouched.
    let r = admin(
        Method::POST,
        &format!("/admin/tenants/{}/suspend", s.b.as_uuid()),
        ADMIN_TOKEN,
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let (st, p) = s.call(Method::GET, "/documents", "b", &tb, None).await;
    assert_eq!(
        (st, p["type"].as_str()),
        (
            StatusCode::FORBIDDEN,
            Some("urn:rowguard:problem:tenant-suspended")
        )
    );
    let (st, _) = s.call(Method::GET, "/documents", "a", &ta, None).await;
    assert_eq!(st, StatusCode::OK);
    let r = admin(
        Method::POST,
        &format!("/admin/tenants/{}/resume", s.b.as_uuid()),
        ADMIN_TOKEN,
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let (st, _) = s.call(Method::GET, "/documents", "b", &tb, None).await;
    assert_eq!(st, StatusCode::OK);
    // The trail of b names the admin who suspended it.
    let (st, trail) = s
        .call(
            Method::GET,
            &format!("/audit?target={}", s.b.as_uuid()),
            "b",
            &tb,
            None,
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    let actors: Vec<&str> = trail["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["actor"].as_str().unwrap())
        .collect();
    assert!(
        actors
            .iter()
            .any(|a| a.starts_with("admin:") && a.contains("suspended (by tester)")),
        "{trail}"
    );

    let r = admin(
        Method::POST,
        &format!("/admin/tenants/{}/suspend", uuid::Uuid::now_v7()),
        ADMIN_TOKEN,
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}
