//! Sign-in, sign-out and the caller.

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use rowguard::{MemberRole, TenantContext, TenantId};
use rowguard_axum::{ApiError, Caller, SessionToken};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::extract::Json;
use crate::{credentials, AppState, SESSION_COOKIE};

diesel::define_sql_function! {
    /// PostgreSQL's `lower(text)`.
    fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

/// Who signs in.
#[derive(Deserialize, ToSchema)]
pub struct SignIn {
    /// The user's email (any case).
    email: String,
    /// The user's password.
    password: String,
    /// The tenant's slug, when the request's host does not name the tenant.
    tenant: Option<String>,
}

/// A new session.
#[derive(Serialize, ToSchema)]
pub struct NewSession {
    /// The bearer token (also set as the `rowguard_session` cookie). Shown once.
    token: String,
    /// When the session ends.
    expires_at: DateTime<Utc>,
    #[serde(flatten)]
    me: Me,
}

/// The caller.
#[derive(Serialize, ToSchema)]
pub struct Me {
    /// The tenant every request of this session acts in.
    tenant_id: Uuid,
    /// The signed-in user.
    user_id: Option<Uuid>,
    /// The user's role: owner, admin, member or viewer.
    #[schema(schema_with = crate::openapi::member_role)]
    role: Option<MemberRole>,
}

impl From<TenantContext> for Me {
    fn from(ctx: TenantContext) -> Self {
        Me {
            tenant_id: ctx.tenant_id.as_uuid(),
            user_id: ctx.user_id.map(|u| u.as_uuid()),
            role: ctx.role,
        }
    }
}

/// Signs in with an email and a password, in the tenant the host names (or the body's
/// `tenant` slug), and returns a session token. A wrong password, an unknown email or
/// tenant, and an inactive user all give the same 401.
#[utoipa::path(
    post,
    path = "/sign-in",
    operation_id = "sign_in",
    tag = "sessions",
    request_body = SignIn,
    security(()),
    responses((status = 200, description = "Signed in", body = NewSession)),
)]
pub async fn sign_in(
    State(st): State<AppState>,
    headers: HeaderMap,
    Json(body): Json<SignIn>,
) -> Result<Response, ApiError> {
    let tenant = tenant_of(&st, &headers, body.tenant.as_deref()).await?;
    let Some(tenant) = tenant else {
        return Err(ApiError::unauthorized());
    };
    let Some((user, role)) =
        credentials::check(&st.tenants, tenant, &body.email, &body.password).await?
    else {
        return Err(ApiError::unauthorized());
    };
    let ctx = TenantContext::new(tenant).with_user(user, role);
    let agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.chars().take(200).collect::<String>());
    let ttl = st.session_ttl;
    let signed = st
        .tenants
        .with_tenant(&ctx, async |conn| {
            rowguard::auth::sign_in(conn, user, ttl, agent.as_deref()).await
        })
        .await?;
    let token = signed.token.into_string();
    let cookie = format!(
        "{SESSION_COOKIE}={token}; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age={}",
        ttl.as_secs()
    );
    let mut response = axum::Json(NewSession {
        token,
        expires_at: signed.session.expires_at,
        me: ctx.into(),
    })
    .into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(response)
}

/// The tenant a sign-in is for: the host's, the body's slug's, or both when they agree
/// (403 `tenant-mismatch` when not). `None` when a slug names no active tenant; 422
/// when neither names one.
async fn tenant_of(
    st: &AppState,
    headers: &HeaderMap,
    slug: Option<&str>,
) -> Result<Option<TenantId>, ApiError> {
    let host = match headers.get(header::HOST).and_then(|h| h.to_str().ok()) {
        Some(h) => st.resolver.host(h).await?,
        None => None,
    };
    let named = match slug {
        Some(s) => Some(st.resolver.slug(s).await?),
        None => None,
    };
    match (host, named) {
        (Some(h), Some(Some(n))) if h != n => Err(ApiError::tenant_mismatch()),
        (Some(h), _) => Ok(Some(h)),
        (None, Some(n)) => Ok(n),
        (None, None) => Err(ApiError::invalid_input(
            "name the tenant: sign in at its host, or give its slug as `tenant`",
        )),
    }
}

/// Ends the session of the request's token, and clears the cookie.
#[utoipa::path(
    post,
    path = "/sign-out",
    operation_id = "sign_out",
    tag = "sessions",
    responses((status = 204, description = "Signed out")),
)]
pub async fn sign_out(
    State(st): State<AppState>,
    SessionToken(token): SessionToken,
) -> Result<Response, ApiError> {
    if !rowguard::auth::sign_out(&st.tenants, &token).await? {
        return Err(ApiError::unauthorized());
    }
    let clear = format!("{SESSION_COOKIE}=; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age=0");
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, clear)]).into_response())
}

/// The caller's tenant, user and role.
#[utoipa::path(
    get,
    path = "/me",
    operation_id = "me",
    tag = "sessions",
    responses((status = 200, description = "The caller", body = Me)),
)]
pub async fn me(Caller(ctx): Caller) -> axum::Json<Me> {
    axum::Json(ctx.into())
}
