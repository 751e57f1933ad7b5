//! `rowguard-axum` over HTTP: a small router on a loopback port, driven by an HTTP
//! client (reqwest), signed in as users of two tenants, against the real database.
//!
//! - each caller sees only its own tenant's rows; the other tenant's ids give 404;
//! - no token, or a token that names no live session, gives 401, and a suspended
//!   tenant's session 403 (`tenant-suspended`); every error is
//!   `application/problem+json` with the request id, which every response carries;
//! - a success commits the request's transaction, an error response rolls it back,
//!   and a request cancelled mid-handler leaves nothing written;
//! - a token of one tenant sent to another tenant's host is refused (403);
//! - a bearer JWT verified with the configured key names the caller; one signed with
//!   another key, expired, missing a claim or naming an unknown role gives 401;
//! - a request that needs no database opens no connection; a pool with no free
//!   connection gives 503 with `Retry-After`.

use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::Path;
use axum::routing::get;
use axum::{Json, Router};
use diesel::{ExpressionMethods, OptionalExtension, QueryDsl};
use diesel_async::RunQueryDsl;
use rowguard::control::{self, TenantSpec};
use rowguard::pool::TenantPool;
use rowguard::schema::tasks;
use rowguard::{TenantContext, TenantId};
use rowguard_axum::{ApiError, Caller, Resolver, RowguardState, Tx};
use rowguard_testkit::server::TestDatabase;
use serde_json::{json, Value};
use uuid::Uuid;

async fn health() -> &'static str {
    "ok"
}

async fn whoami(Caller(ctx): Caller) -> Json<Value> {
    Json(json!({"tenant": ctx.tenant_id.to_string(), "user": ctx.user_id.map(|u| u.to_string())}))
}

async fn list(mut tx: Tx) -> Result<Json<Vec<String>>, ApiError> {
    let mut conn = tx.conn().await?;
    let titles = tasks::table
        .select(tasks::title)
        .order_by(tasks::title)
        .load(&mut *conn)
        .await
        .map_err(rowguard::Error::from)?;
    Ok(Json(titles))
}

async fn get_one(mut tx: Tx, Path(id): Path<Uuid>) -> Result<Json<String>, ApiError> {
    let mut conn = tx.conn().await?;
    let title: Option<String> = tasks::table
        .filter(tasks::id.eq(id))
        .select(tasks::title)
        .first(&mut *conn)
        .await
        .optional()
        .map_err(rowguard::Error::from)?;
    title.map(Json).ok_or_else(ApiError::not_found)
}

/// Inserts a task, then does what `then` says: `ok`, `fail` (a 422 after the write) or
/// `sleep` (three seconds after the write, then ok).
async fn create(mut tx: Tx, Json(body): Json<Value>) -> Result<Json<String>, ApiError> {
    let title = body["title"].as_str().unwrap_or("untitled").to_owned();
    let id: Uuid = {
        let mut conn = tx.conn().await?;
        diesel::insert_into(tasks::table)
            .values((
                tasks::tenant_id.eq(tx_tenant(&conn)),
                tasks::title.eq(&title),
            ))
            .returning(tasks::id)
            .get_result(&mut *conn)
            .await
            .map_err(rowguard::Error::from)?
    };
    match body["then"].as_str() {
        Some("fail") => Err(ApiError::invalid_input("asked to fail after writing")),
        Some("sleep") => {
            tokio::time::sleep(Duration::from_secs(3)).await;
            Ok(Json(id.to_string()))
        }
        _ => Ok(Json(id.to_string())),
    }
}

fn tx_tenant(conn: &rowguard::pool::TenantConn) -> Uuid {
    conn.context().tenant_id.as_uuid()
}

fn app(state: RowguardState) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/whoami", get(whoami))
        .route("/t/{tenant}/whoami", get(whoami))
        .route("/tasks", get(list).post(create))
        .route("/tasks/{id}", get(get_one))
        .layer(axum::middleware::from_fn(rowguard_axum::middleware))
        .with_state(state)
}

async fn serve(state: RowguardState) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        axum::serve(listener, app(state)).await.expect("serve");
    });
    addr
}

struct Signed {
    tenant: TenantId,
    slug: String,
    token: String,
}

/// A tenant (through the admin path) and a session of its owner.
async fn signed_in(db: &TestDatabase, pool: &TenantPool, slug: &str) -> Signed {
    let admin = db.admin_pool(1).expect("admin");
    let made = control::provision(
        &admin,
        &TenantSpec::builder()
            .slug(slug)
            .name(slug)
            .owner_email(format!("owner@{slug}.example"))
            .build(),
    )
    .await
    .expect("provision");
    let owner = made.owner.expect("owner");
    let token = pool
        .with_tenant(&TenantContext::new(made.tenant.id), async |conn| {
            rowguard::auth::sign_in(conn, owner.id, Duration::from_secs(3600), None).await
        })
        .await
        .expect("sign in")
        .token
        .expose()
        .to_owned();
    Signed {
        tenant: made.tenant.id,
        slug: slug.to_owned(),
        token,
    }
}

async fn add_task(pool: &TenantPool, tenant: TenantId, title: &str) -> Uuid {
    pool.with_tenant(&TenantContext::new(tenant), async |conn| {
        Ok(diesel::insert_into(tasks::table)
            .values((
                tasks::tenant_id.eq(tenant.as_uuid()),
                tasks::title.eq(title),
            ))
            .returning(tasks::id)
            .get_result::<Uuid>(conn)
            .await?)
    })
    .await
    .expect("task")
}

async fn titles(pool: &TenantPool, tenant: TenantId) -> Vec<String> {
    pool.with_tenant(&TenantContext::new(tenant), async |conn| {
        Ok(tasks::table
            .select(tasks::title)
            .order_by(tasks::title)
            .load(conn)
            .await?)
    })
    .await
    .expect("titles")
}

/// A problem response: its status, its body, and whether the type and request id are
/// there.
async fn problem(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let id = response
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    assert_eq!(
        response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/problem+json")
    );
    let body: Value = response.json().await.expect("problem JSON");
    assert_eq!(body["status"], status);
    assert_eq!(body["request_id"].as_str(), id.as_deref(), "{body}");
    (status, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_caller_sees_its_own_tenant_and_errors_are_problems() {
    let db = TestDatabase::new().expect("db");
    let pool = db.app_pool(4).expect("pool");
    let a = signed_in(&db, &pool, "http-a").await;
    let b = signed_in(&db, &pool, "http-b").await;
    add_task(&pool, a.tenant, "a's task").await;
    let theirs = add_task(&pool, b.tenant, "b's task").await;
    let addr = serve(RowguardState::new(pool.clone())).await;
    let http = reqwest::Client::new();
    let url = |path: &str| format!("http://{addr}{path}");

    let mine: Vec<String> = http
        .get(url("/tasks"))
        .bearer_auth(&a.token)
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    assert_eq!(mine, ["a's task"]);
    let whoami: Value = http
        .get(url("/whoami"))
        .bearer_auth(&b.token)
        .send()
        .await
        .expect("whoami")
        .json()
        .await
        .expect("json");
    assert_eq!(whoami["tenant"], b.tenant.to_string());

    // The other tenant's id: 404, as for an id that does not exist.
    let response = http
        .get(url(&format!("/tasks/{theirs}")))
        .bearer_auth(&a.token)
        .header("x-request-id", "req-42")
        .send()
        .await
        .expect("get");
    assert_eq!(response.headers()["x-request-id"], "req-42");
    let (status, body) = problem(response).await;
    assert_eq!(
        (status, body["type"].as_str()),
        (404, Some("urn:rowguard:problem:not-found"))
    );
    let (status, _) = problem(
        http.get(url(&format!("/tasks/{}", Uuid::now_v7())))
            .bearer_auth(&a.token)
            .send()
            .await
            .expect("get"),
    )
    .await;
    assert_eq!(status, 404);

    // A suspended tenant's session: 403 with its own type, not 401.
    let admin = db.admin_pool(1).expect("admin");
    control::suspend(&admin, b.tenant).await.expect("suspend");
    let (status, body) = problem(
        http.get(url("/tasks"))
            .bearer_auth(&b.token)
            .send()
            .await
            .expect("suspended"),
    )
    .await;
    assert_eq!(
        (status, body["type"].as_str()),
        (403, Some("urn:rowguard:problem:tenant-suspended"))
    );

    // No token, a malformed header, a token that names no session: 401.
    for request in [
        http.get(url("/tasks")),
        http.get(url("/tasks")).header("authorization", "Basic abc"),
        http.get(url("/tasks")).bearer_auth("rgs_not-a-session"),
    ] {
        let (status, body) = problem(request.send().await.expect("send")).await;
        assert_eq!(
            (status, body["type"].as_str()),
            (401, Some("urn:rowguard:problem:unauthorized"))
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn success_commits_an_error_or_a_cancelled_request_rolls_back() {
    let db = TestDatabase::new().expect("db");
    let pool = db.app_pool(4).expect("pool");
    let a = signed_in(&db, &pool, "http-writes").await;
    let addr = serve(RowguardState::new(pool.clone())).await;
    let http = reqwest::Client::new();
    let url = format!("http://{addr}/tasks");

    let ok = http
        .post(&url)
        .bearer_auth(&a.token)
        .json(&json!({"title": "kept", "then": "ok"}))
        .send()
        .await
        .expect("post");
    assert_eq!(ok.status(), 200);
    let (status, body) = problem(
        http.post(&url)
            .bearer_auth(&a.token)
            .json(&json!({"title": "failed", "then": "fail"}))
            .send()
            .await
            .expect("post"),
    )
    .await;
    assert_eq!(
        (status, body["detail"].as_str()),
        (422, Some("asked to fail after writing"))
    );

    // The client gives up while the handler sleeps after its write.
    let cancelled = http
        .post(&url)
        .bearer_auth(&a.token)
        .json(&json!({"title": "cancelled", "then": "sleep"}))
        .timeout(Duration::from_millis(500))
        .send()
        .await;
    assert!(cancelled.is_err(), "the client timed out");
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(titles(&pool, a.tenant).await, ["kept"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_sent_to_another_tenant_s_host_is_refused() {
    let db = TestDatabase::new().expect("db");
    let pool = db.app_pool(4).expect("pool");
    let a = signed_in(&db, &pool, "host-a").await;
    let b = signed_in(&db, &pool, "host-b").await;
    let resolver = Resolver::builder(pool.clone())
        .base_domain("example.test")
        .build()
        .expect("resolver");
    let addr = serve(RowguardState::new(pool.clone()).resolver(resolver)).await;
    let http = reqwest::Client::new();
    let url = format!("http://{addr}/whoami");

    let own = http
        .get(&url)
        .header("host", format!("{}.example.test", a.slug))
        .bearer_auth(&a.token)
        .send()
        .await
        .expect("own host");
    assert_eq!(own.status(), 200);
    let (status, body) = problem(
        http.get(&url)
            .header("host", format!("{}.example.test", b.slug))
            .bearer_auth(&a.token)
            .send()
            .await
            .expect("other host"),
    )
    .await;
    assert_eq!(
        (status, body["type"].as_str()),
        (403, Some("urn:rowguard:problem:tenant-mismatch"))
    );
    // A host that names no tenant (the API's own) takes any valid session.
    let neutral = http
        .get(&url)
        .header("host", "api.elsewhere.test")
        .bearer_auth(&b.token)
        .send()
        .await
        .expect("neutral host");
    assert_eq!(neutral.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_slug_in_the_path_must_be_the_callers() {
    let db = TestDatabase::new().expect("db");
    let pool = db.app_pool(4).expect("pool");
    let a = signed_in(&db, &pool, "path-a").await;
    let b = signed_in(&db, &pool, "path-b").await;
    let resolver = Resolver::new(pool.clone());
    let addr = serve(
        RowguardState::new(pool.clone())
            .resolver(resolver)
            .path_param("tenant"),
    )
    .await;
    let http = reqwest::Client::new();
    let at = |slug: &str| format!("http://{addr}/t/{slug}/whoami");
    let own = http
        .get(at(&a.slug))
        .bearer_auth(&a.token)
        .send()
        .await
        .expect("own");
    assert_eq!(own.status(), 200);
    // Another tenant's slug and a slug of no tenant are refused alike.
    for slug in [b.slug.as_str(), "no-such-tenant"] {
        let (status, body) = problem(
            http.get(at(slug))
                .bearer_auth(&a.token)
                .send()
                .await
                .expect("other"),
        )
        .await;
        assert_eq!(
            (status, body["type"].as_str()),
            (403, Some("urn:rowguard:problem:tenant-mismatch")),
            "{slug}"
        );
    }
    // Routes without the parameter are not checked.
    let plain = http
        .get(format!("http://{addr}/whoami"))
        .bearer_auth(&b.token)
        .send()
        .await
        .expect("plain");
    assert_eq!(plain.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_database_no_connection_and_a_busy_pool_is_503() {
    let db = TestDatabase::new().expect("db");
    let setup = db.app_pool(2).expect("setup pool");
    let a = signed_in(&db, &setup, "http-busy").await;
    let pool = db
        .app_pool_config()
        .max_size(1)
        .checkout_timeout(Duration::from_millis(300))
        .build()
        .expect("pool");
    let addr = serve(RowguardState::new(pool.clone())).await;
    let http = reqwest::Client::new();

    let ok = http
        .get(format!("http://{addr}/health"))
        .send()
        .await
        .expect("health");
    assert_eq!(ok.status(), 200);
    assert!(ok.headers().contains_key("x-request-id"));
    assert_eq!(
        pool.state(),
        (0, 0),
        "a request that needs no database opened no connection"
    );

    // The one connection is held: a request that needs one waits, then gets 503.
    let held = pool
        .begin(&TenantContext::new(a.tenant))
        .await
        .expect("hold");
    let response = http
        .get(format!("http://{addr}/tasks"))
        .bearer_auth(&a.token)
        .send()
        .await
        .expect("busy");
    assert_eq!(
        response.headers().get("retry-after").map(|v| v.as_bytes()),
        Some(&b"1"[..])
    );
    let (status, body) = problem(response).await;
    assert_eq!(
        (status, body["type"].as_str()),
        (503, Some("urn:rowguard:problem:unavailable"))
    );
    held.rollback().await.expect("release");
    let after = http
        .get(format!("http://{addr}/tasks"))
        .bearer_auth(&a.token)
        .send()
        .await
        .expect("after");
    assert_eq!(after.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_map_to_statuses_and_types() {
    use axum::response::IntoResponse;
    let cases = [
        (rowguard::Error::NotFound, 404, "not-found"),
        (rowguard::Error::Forbidden("rls".into()), 403, "forbidden"),
        (
            rowguard::Error::TenantSuspended("t".into()),
            403,
            "tenant-suspended",
        ),
        (
            rowguard::Error::TenantClosed("t".into()),
            403,
            "tenant-closed",
        ),
        (rowguard::Error::TenantExists("t".into()), 409, "conflict"),
        (
            rowguard::Error::InvalidInput("bad".into()),
            422,
            "invalid-input",
        ),
        (rowguard::Error::InvalidToken, 401, "unauthorized"),
        (
            rowguard::Error::PoolTimeout(Duration::from_secs(1)),
            503,
            "unavailable",
        ),
        (rowguard::Error::StatementTimeout, 503, "unavailable"),
        (
            rowguard::Error::Config("secret detail".into()),
            500,
            "internal",
        ),
    ];
    for (error, status, kind) in cases {
        let e = ApiError::from(error);
        assert_eq!((e.status().as_u16(), e.kind()), (status, kind));
        let response = e.into_response();
        let body = axum::body::to_bytes(response.into_body(), 4096)
            .await
            .expect("body");
        let text = String::from_utf8_lossy(&body);
        assert!(
            !text.contains("secret detail"),
            "no internal detail: {text}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_verified_jwt_names_the_caller_and_nothing_else_does() {
    let db = TestDatabase::new().expect("db");
    let pool = db.app_pool(4).expect("pool");
    let a = signed_in(&db, &pool, "jwt-a").await;
    let b = signed_in(&db, &pool, "jwt-b").await;
    add_task(&pool, a.tenant, "a's task").await;
    add_task(&pool, b.tenant, "b's task").await;
    let secret = b"a test secret of enough length, 32+";
    let resolver = Resolver::builder(pool.clone())
        .base_domain("example.test")
        .build()
        .expect("resolver");
    let state = RowguardState::new(pool.clone())
        .jwt(rowguard_axum::Jwt::hs256(secret))
        .resolver(resolver);
    let addr = serve(state).await;
    let http = reqwest::Client::new();
    let url = format!("http://{addr}/tasks");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("epoch")
        .as_secs() as i64;
    let exp = |secs: i64| now + secs;
    let sign = |claims: Value, key: &[u8]| {
        jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(key),
        )
        .expect("sign")
    };
    let user = Uuid::now_v7();
    let good = sign(
        json!({"tenant": a.tenant.to_string(), "sub": user.to_string(), "role": "viewer", "exp": exp(600)}),
        secret,
    );
    let seen: Vec<String> = http
        .get(&url)
        .bearer_auth(&good)
        .send()
        .await
        .expect("jwt")
        .json()
        .await
        .expect("json");
    assert_eq!(seen, ["a's task"], "the JWT's tenant, and only it");

    // Not verified: another key, expired, a claim missing, an unknown role: 401.
    for bad in [
        sign(
            json!({"tenant": b.tenant.to_string(), "sub": user.to_string(), "role": "owner", "exp": exp(600)}),
            b"another secret, just as long as the first",
        ),
        sign(
            json!({"tenant": a.tenant.to_string(), "sub": user.to_string(), "role": "viewer", "exp": exp(-600)}),
            secret,
        ),
        sign(
            json!({"tenant": a.tenant.to_string(), "role": "viewer", "exp": exp(600)}),
            secret,
        ),
        sign(
            json!({"tenant": a.tenant.to_string(), "sub": user.to_string(), "role": "superuser", "exp": exp(600)}),
            secret,
        ),
    ] {
        let (status, body) =
            problem(http.get(&url).bearer_auth(&bad).send().await.expect("bad")).await;
        assert_eq!(
            (status, body["type"].as_str()),
            (401, Some("urn:rowguard:problem:unauthorized"))
        );
    }
    // A verified JWT of tenant A sent to tenant B's host: refused.
    let (status, body) = problem(
        http.get(&url)
            .header("host", format!("{}.example.test", b.slug))
            .bearer_auth(&good)
            .send()
            .await
            .expect("replayed"),
    )
    .await;
    assert_eq!(
        (status, body["type"].as_str()),
        (403, Some("urn:rowguard:problem:tenant-mismatch"))
    );
    // Session tokens still work beside JWTs.
    let by_session = http
        .get(&url)
        .bearer_auth(&b.token)
        .send()
        .await
        .expect("session");
    assert_eq!(by_session.status(), 200);
}
