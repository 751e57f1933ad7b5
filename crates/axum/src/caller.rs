//! Who is calling: the request's [`TenantContext`], from a session token.

use axum::extract::{FromRef, FromRequestParts};
use axum::http::header;
use axum::http::request::Parts;
use rowguard::pool::TenantPool;
use rowguard::resolve::Resolver;
use rowguard::TenantContext;

use crate::problem::ApiError;

/// What the extractors and the middleware need: the tenant pool, and optionally a
/// resolver (to check the `Host` against the session's tenant) and the name of a
/// session cookie.
#[derive(Clone)]
pub struct RowguardState {
    pub(crate) tenants: TenantPool,
    resolver: Option<Resolver>,
    cookie: Option<String>,
    jwt: Option<Jwt>,
    path_param: Option<String>,
}

/// How bearer JWTs are verified: the key and the rules (algorithm, expiry, audience,
/// issuer), as `jsonwebtoken` takes them.
#[derive(Clone)]
pub struct Jwt {
    key: jsonwebtoken::DecodingKey,
    validation: jsonwebtoken::Validation,
}

impl Jwt {
    /// Tokens signed with `key` under `validation` (which sets the algorithm, and
    /// requires `exp` unless told otherwise).
    pub fn new(key: jsonwebtoken::DecodingKey, validation: jsonwebtoken::Validation) -> Self {
        Jwt { key, validation }
    }

    /// HS256 tokens signed with `secret`, `exp` required.
    pub fn hs256(secret: &[u8]) -> Self {
        Self::new(
            jsonwebtoken::DecodingKey::from_secret(secret),
            jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256),
        )
    }
}

/// The claims a JWT must carry to name a caller: `tenant` (a tenant id), `sub` (a user
/// id) and `role` (owner, admin, member or viewer); `exp` as the validation requires.
#[derive(serde::Deserialize)]
struct Claims {
    tenant: rowguard::TenantId,
    sub: rowguard::UserId,
    role: String,
}

impl RowguardState {
    /// Sessions from `Authorization: Bearer <token>` only, no host check.
    pub fn new(tenants: TenantPool) -> Self {
        RowguardState {
            tenants,
            resolver: None,
            cookie: None,
            jwt: None,
            path_param: None,
        }
    }

    /// Also checks each request's `Host`: when `resolver` maps it to a tenant, the
    /// session must be that tenant's (else 403, `tenant-mismatch`).
    pub fn resolver(mut self, resolver: Resolver) -> Self {
        self.resolver = Some(resolver);
        self
    }

    /// Also checks the path: on a route with the parameter `name` (`/t/{tenant}/...`),
    /// its value is a tenant slug, resolved through the resolver, and the caller's
    /// tenant must be that tenant. A slug of another tenant and a slug of none are
    /// refused alike (403, `tenant-mismatch`), so the answer says nothing of which
    /// slugs exist. Needs [`RowguardState::resolver`].
    pub fn path_param(mut self, name: impl Into<String>) -> Self {
        self.path_param = Some(name.into());
        self
    }

    /// Also reads the session token from the cookie `name` when there is no
    /// `Authorization` header.
    pub fn cookie(mut self, name: impl Into<String>) -> Self {
        self.cookie = Some(name.into());
        self
    }

    /// Also accepts bearer JWTs verified by `jwt`, whose claims name the caller
    /// (`tenant`, `sub`, `role`). A bearer token with three dot-separated parts is
    /// taken for a JWT; anything else is looked up as a session token.
    pub fn jwt(mut self, jwt: Jwt) -> Self {
        self.jwt = Some(jwt);
        self
    }

    /// The tenant pool, for `fetch`-style one-round-trip reads in handlers.
    pub fn tenants(&self) -> &TenantPool {
        &self.tenants
    }
}

/// The caller: the tenant, user and role of the request's live session, or of its
/// verified JWT.
///
/// Rejections: 401 (`unauthorized`) without a token or with one that names no live
/// session (unknown, expired, revoked, user or tenant not active); 403
/// (`tenant-mismatch`) when the host names another tenant, or the path's tenant
/// parameter ([`RowguardState::path_param`]) is not the caller's tenant's slug; 503 when the look-up could
/// not run. Resolved once per request (kept in its extensions).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Caller(pub TenantContext);

impl<S> FromRequestParts<S> for Caller
where
    RowguardState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        if let Some(known) = parts.extensions.get::<Caller>() {
            return Ok(*known);
        }
        let st = RowguardState::from_ref(state);
        let token = token(parts, st.cookie.as_deref()).ok_or_else(ApiError::unauthorized)?;
        let ctx = match &st.jwt {
            Some(jwt) if token.split('.').count() == 3 => from_jwt(jwt, &token)?,
            _ => rowguard::auth::resolve_session(&st.tenants, &token)
                .await?
                .ok_or_else(ApiError::unauthorized)?,
        };
        if let (Some(resolver), Some(host)) = (&st.resolver, host(parts)) {
            if let Some(tenant) = resolver.host(&host).await? {
                if tenant != ctx.tenant_id {
                    return Err(ApiError::tenant_mismatch());
                }
            }
        }
        if let (Some(resolver), Some(name)) = (&st.resolver, &st.path_param) {
            if let Some(slug) = path_value(parts, name, state).await {
                if resolver.slug(&slug).await? != Some(ctx.tenant_id) {
                    return Err(ApiError::tenant_mismatch());
                }
            }
        }
        tracing::Span::current().record("tenant", tracing::field::display(ctx.tenant_id));
        parts.extensions.insert(Caller(ctx));
        Ok(Caller(ctx))
    }
}

/// The request's raw session token: the bearer token, else the configured cookie's
/// value; 401 when there is none. For sign-out, which hands it to
/// `rowguard::auth::sign_out`; it resolves nothing by itself.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionToken(pub String);

impl std::fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionToken(..)")
    }
}

impl<S> FromRequestParts<S> for SessionToken
where
    RowguardState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let st = RowguardState::from_ref(state);
        token(parts, st.cookie.as_deref())
            .map(SessionToken)
            .ok_or_else(ApiError::unauthorized)
    }
}

/// The caller a verified JWT names; 401 for a JWT that does not verify (signature,
/// expiry, audience) or lacks a claim.
fn from_jwt(jwt: &Jwt, token: &str) -> Result<TenantContext, ApiError> {
    let data = jsonwebtoken::decode::<Claims>(token, &jwt.key, &jwt.validation).map_err(|e| {
        tracing::debug!(error = %e, "a bearer JWT did not verify");
        ApiError::unauthorized()
    })?;
    let role: rowguard::MemberRole = data
        .claims
        .role
        .parse()
        .map_err(|_| ApiError::unauthorized())?;
    Ok(TenantContext::new(data.claims.tenant).with_user(data.claims.sub, role))
}

/// The token of an `Authorization: Bearer <token>` header; `None` without one, or for
/// another scheme or an empty token.
pub(crate) fn bearer(parts: &Parts) -> Option<String> {
    let value = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty())
        .then(|| token.trim().to_owned())
}

/// The bearer token, else (only without an `Authorization` header) the session
/// cookie's value.
fn token(parts: &Parts, cookie: Option<&str>) -> Option<String> {
    if parts.headers.contains_key(header::AUTHORIZATION) {
        return bearer(parts);
    }
    let name = cookie?;
    parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// The value of the matched route's path parameter `name`, if the route has one.
async fn path_value<S: Send + Sync>(parts: &mut Parts, name: &str, state: &S) -> Option<String> {
    let params = axum::extract::RawPathParams::from_request_parts(parts, state)
        .await
        .ok()?;
    params
        .iter()
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// The request's host: the `Host` header, else the URI's authority.
fn host(parts: &Parts) -> Option<String> {
    parts
        .headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .or_else(|| parts.uri.authority().map(|a| a.as_str().to_owned()))
}
