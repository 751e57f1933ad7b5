//! An HTTP service on rowguard: the demo schema behind a small JSON API, built with
//! [`rowguard_axum`]. It is the example of an API crate; its end-to-end tests
//! (`tests/e2e/`) drive it over HTTP.
//!
//! | route | what |
//! |---|---|
//! | `POST /sign-in`, `POST /sign-out` | a session from an email and a password ([`credentials`]), and its end |
//! | `GET /me` | the caller |
//! | `GET /documents`, `POST /documents` | newest first, a keyset page at a time; create (chunked and embedded) |
//! | `GET`, `PATCH`, `DELETE /documents/{id}` | one document; a new `content` is chunked and embedded again |
//! | `GET /search` | vector or hybrid (vector + full text) search over the documents' chunks |
//! | `GET /tasks`, `POST /tasks`, `POST /tasks/{id}/complete` | by assignee and status; create; complete |
//! | `GET /audit` | the tenant's audit trail (admins and owners) |
//! | `GET /admin/tenants`, `POST /admin/tenants/{id}/suspend`, `.../resume` | the operator's: admin tokens and the admin pool ([`rowguard_axum::Admin`]) |
//! | `GET /openapi.json` | the OpenAPI 3.1 document, generated from the handlers |
//!
//! Every data route runs in the request's tenant transaction ([`rowguard_axum::Tx`]):
//! committed on success, rolled back on an error or when the client goes away.
//! Row-level security confines each statement to the caller's tenant, so another
//! tenant's id is simply not there (404). Writes need a role above viewer: the handler
//! says 403 first, and the role-tier policies refuse the write anyway.
//!
//! The tenant is the one of the caller's session; with a [`Resolver`] and a base
//! domain, a request to `<slug>.<base domain>` (or a verified domain) must carry a
//! session of that tenant (else 403 `tenant-mismatch`), and sign-in takes the tenant
//! from the host.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::FromRef;
use axum::Router;
use diesel::pg::PgConnection;
use diesel_migrations::{embed_migrations, EmbeddedMigrations};
use rowguard::embed::Embedder;
use rowguard::pool::TenantPool;
use rowguard::MemberRole;
use rowguard_axum::{AdminState, ApiError, Resolver, RowguardState};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

mod admin;
pub mod credentials;
mod documents;
mod extract;
mod openapi;
pub mod schema;
mod search;
mod sessions;
mod tasks;
mod trail;

/// This crate's migrations (`migrations/`: `api_credentials`), compiled in.
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!();

/// The name of the session cookie sign-in sets (the bearer header works too).
pub const SESSION_COOKIE: &str = "rowguard_session";

/// Applies rowguard's pending migrations, then this crate's; returns what ran. Run it
/// as the owner of the tables.
///
/// # Errors
/// As [`rowguard::migrations::run_pending_with`].
pub fn run_migrations(conn: &mut PgConnection) -> rowguard::Result<Vec<String>> {
    rowguard::migrations::run_pending_with(conn, &MIGRATIONS)
}

/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    rowguard: RowguardState,
    admin: AdminState,
    tenants: TenantPool,
    resolver: Resolver,
    embedder: Arc<dyn Embedder>,
    session_ttl: Duration,
}

impl FromRef<AppState> for RowguardState {
    fn from_ref(state: &AppState) -> Self {
        state.rowguard.clone()
    }
}

impl FromRef<AppState> for AdminState {
    fn from_ref(state: &AppState) -> Self {
        state.admin.clone()
    }
}

impl AppState {
    /// The service's state: sessions from the bearer header or [`SESSION_COOKIE`],
    /// the host checked with `resolver`, documents and queries embedded by `embedder`
    /// (whose dimension must be the embedding columns', 1536), and the admin routes'
    /// tokens and pool in `admin`.
    pub fn new(
        tenants: TenantPool,
        admin: AdminState,
        resolver: Resolver,
        embedder: Arc<dyn Embedder>,
    ) -> Self {
        AppState {
            rowguard: RowguardState::new(tenants.clone())
                .resolver(resolver.clone())
                .cookie(SESSION_COOKIE),
            admin,
            tenants,
            resolver,
            embedder,
            session_ttl: rowguard::auth::DEFAULT_SESSION_TTL,
        }
    }

    /// How long a session from sign-in lasts (30 days unless set).
    pub fn session_ttl(mut self, ttl: Duration) -> Self {
        self.session_ttl = ttl;
        self
    }
}

/// The service: every route, the OpenAPI document at `/openapi.json`, and
/// [`rowguard_axum::middleware`] around them all.
pub fn router(state: AppState) -> Router {
    let (router, api) = parts();
    let api = Arc::new(api);
    router
        .route(
            "/openapi.json",
            axum::routing::get(move || {
                let api = api.clone();
                async move { axum::Json(api.as_ref().clone()) }
            }),
        )
        .fallback(|| async { ApiError::not_found() })
        .layer(axum::middleware::from_fn(rowguard_axum::middleware))
        .with_state(state)
}

/// The OpenAPI document the service serves at `/openapi.json`.
pub fn openapi() -> utoipa::openapi::OpenApi {
    parts().1
}

/// The routes and their document, framed (security schemes, error responses).
fn parts() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let (router, mut api) = OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .routes(routes!(sessions::sign_in))
        .routes(routes!(sessions::sign_out))
        .routes(routes!(sessions::me))
        .routes(routes!(documents::list, documents::create))
        .routes(routes!(
            documents::get,
            documents::update,
            documents::delete
        ))
        .routes(routes!(search::search))
        .routes(routes!(tasks::list, tasks::create))
        .routes(routes!(tasks::complete))
        .routes(routes!(trail::list))
        .routes(routes!(admin::tenants))
        .routes(routes!(admin::suspend))
        .routes(routes!(admin::resume))
        .split_for_parts();
    openapi::frame(&mut api);
    (router, api)
}

/// 403 unless the caller may write business rows (member and above). The role-tier
/// policies refuse a viewer's writes anyway; saying so first keeps a viewer's delete
/// from looking like a 404.
fn require_writer(ctx: &rowguard::TenantContext) -> Result<(), ApiError> {
    match ctx.role {
        Some(MemberRole::Owner | MemberRole::Admin | MemberRole::Member) => Ok(()),
        _ => Err(ApiError::forbidden()),
    }
}

/// Runs CPU-bound work (embedding, password hashing) off the async workers.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> rowguard::Result<T> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::internal(&format!("a blocking task failed: {e}")))?
        .map_err(ApiError::from)
}

/// The default page size and the largest one a client may ask for.
const DEFAULT_LIMIT: i64 = 50;
const MAX_LIMIT: i64 = 200;

/// A client's `limit`, checked: 1 to [`MAX_LIMIT`], [`DEFAULT_LIMIT`] when absent.
fn page_limit(limit: Option<i64>) -> Result<i64, ApiError> {
    match limit {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        Some(n) => Err(ApiError::invalid_input(format!(
            "limit must be between 1 and {MAX_LIMIT}, got {n}"
        ))),
    }
}

/// A client's `after`, parsed.
fn page_after(after: Option<&str>) -> Result<Option<rowguard::page::Cursor>, ApiError> {
    after.map(|a| a.parse().map_err(ApiError::from)).transpose()
}

/// Keeps the first `limit` of `rows` (fetched with one extra) and returns the cursor
/// of the next page when there is one.
fn page_end<T>(
    rows: &mut Vec<T>,
    limit: i64,
    cursor: impl Fn(&T) -> rowguard::page::Cursor,
) -> Option<String> {
    let limit = usize::try_from(limit).unwrap_or(0);
    if rows.len() > limit {
        rows.truncate(limit);
        rows.last().map(|r| cursor(r).to_string())
    } else {
        None
    }
}

/// The demo users' password, set by [`seed_passwords`] when the service starts.
pub const DEMO_PASSWORD: &str = "rowguard-demo";

/// Gives every active user of `tenant` without a password `password`; returns how
/// many it set. Runs in the tenant's service context.
///
/// # Errors
/// As [`credentials::set_password`].
pub async fn seed_passwords(
    pool: &TenantPool,
    tenant: rowguard::TenantId,
    password: &str,
) -> rowguard::Result<usize> {
    use diesel::{ExpressionMethods, QueryDsl};
    use diesel_async::RunQueryDsl;
    use rowguard::schema::users;
    pool.with_tenant(&rowguard::TenantContext::new(tenant), async |conn| {
        let active: Vec<uuid::Uuid> = users::table
            .filter(users::status.eq(rowguard::models::UserStatus::Active))
            .select(users::id)
            .load(conn)
            .await?;
        let with: std::collections::HashSet<uuid::Uuid> = schema::api_credentials::table
            .select(schema::api_credentials::user_id)
            .load::<uuid::Uuid>(conn)
            .await?
            .into_iter()
            .collect();
        let missing: Vec<uuid::Uuid> = active.into_iter().filter(|u| !with.contains(u)).collect();
        for user in &missing {
            credentials::set_password(conn, (*user).into(), password).await?;
        }
        Ok(missing.len())
    })
    .await
}
