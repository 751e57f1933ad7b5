//! Sign-in sessions and invites: bearer tokens whose SHA-256 alone is stored.
//!
//! rowguard does not check passwords: the application authenticates a person however
//! it does (a password, a single sign-on provider), then calls [`sign_in`] to create a
//! session and hand its token to the client. On each request, [`resolve_session`] turns
//! the token back into a [`TenantContext`] for [`TenantPool::with_tenant`].
//!
//! | operation | runs as |
//! | --- | --- |
//! | [`sign_in`], [`revoke_all_sessions`], [`create_invite`] | the tenant, on the caller's [`TenantConn`]: role tiers apply (a user manages their own sessions, admins and owners everyone's; only admins and owners invite, only owners invite owners) |
//! | [`resolve_session`] | the application role with no tenant, through `rowguard.resolve_session` (SECURITY DEFINER, ids and role only), one round trip |
//! | [`sign_out`] | the session's own context, from [`resolve_session`] |
//! | [`accept_invite`] | `rowguard.resolve_invite`, then the invite's tenant's service context |
//!
//! Tokens ([`Token`]) are returned once, by the call that makes them, and are never
//! logged: rowguard's spans carry ids only.

use std::time::Duration;

use chrono::Utc;
use diesel::{ExpressionMethods, OptionalExtension, QueryDsl, SelectableHelper};
use diesel_async::RunQueryDsl;

use crate::models::{Invite, NewInvite, NewSession, NewUser, Session, User};
use crate::pool::TenantPool;
use crate::schema::{invites, sessions};
use crate::tenant::TenantConn;
use crate::token::{self, Token, TokenKind};
use crate::{Error, MemberRole, Result, TenantContext, TenantId, UserId};

diesel::define_sql_function! {
    /// PostgreSQL's `lower(text)`.
    fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

/// A new session and its token, shown this once.
#[derive(Debug)]
pub struct SignedIn {
    /// The stored session (its `token_hash` is the token's SHA-256).
    pub session: Session,
    /// The bearer token to give the client.
    pub token: Token,
}

/// How long a session lasts when the application does not say: 30 days.
pub const DEFAULT_SESSION_TTL: Duration = Duration::from_secs(30 * 24 * 3600);

/// How long an invite stays open when the application does not say: 7 days.
pub const DEFAULT_INVITE_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

fn expiry(ttl: Duration) -> Result<chrono::DateTime<Utc>> {
    chrono::Duration::from_std(ttl)
        .ok()
        .and_then(|d| Utc::now().checked_add_signed(d))
        .filter(|_| !ttl.is_zero())
        .ok_or_else(|| Error::InvalidInput(format!("a lifetime of {ttl:?} is out of range")))
}

/// Creates a session for `user` of the connection's tenant, valid for `ttl`, and
/// returns it with its token. Run it in a transaction acting for the user (their
/// context, or the tenant's service context once the application has authenticated
/// them).
///
/// ```no_run
/// # async fn demo(pool: rowguard::pool::TenantPool, ctx: rowguard::TenantContext, user: rowguard::UserId) -> rowguard::Result<()> {
/// use rowguard::auth;
/// let signed_in = pool
///     .with_tenant(&ctx, async |conn| {
///         auth::sign_in(conn, user, auth::DEFAULT_SESSION_TTL, Some("curl/8")).await
///     })
///     .await?;
/// let bearer: String = signed_in.token.into_string(); // to the client, once
/// # Ok(()) }
/// ```
///
/// # Errors
/// [`Error::InvalidInput`] for a zero or huge `ttl`; [`Error::ForeignKeyViolation`]
/// when the tenant has no such user; [`Error::Forbidden`] when the context may not
/// create sessions for that user (another user's, below admin).
pub async fn sign_in(
    conn: &mut TenantConn,
    user: UserId,
    ttl: Duration,
    user_agent: Option<&str>,
) -> Result<SignedIn> {
    let expires_at = expiry(ttl)?;
    let token = Token::generate(TokenKind::Session)?;
    let session = NewSession::builder()
        .user_id(user)
        .token_hash(token.hash().to_vec())
        .expires_at(expires_at)
        .maybe_user_agent(user_agent.map(str::to_owned))
        .build()
        .insert(conn)
        .await?;
    Ok(SignedIn { session, token })
}

/// The context of the live session holding `token`: its tenant, user and the user's
/// current role; `None` when the token is unknown, expired or revoked, or the user is
/// not active. Touches the session's `last_used_at`, at most once a minute. One round
/// trip once prepared (two when the session does not resolve); nothing is cached, so a
/// revocation takes effect at once.
///
/// # Errors
/// [`Error::TenantSuspended`] or [`Error::TenantClosed`] for a session that would be
/// live but for its tenant, so its user is told why rather than that the token is
/// unknown; otherwise as [`TenantPool::fetch`].
pub async fn resolve_session(pool: &TenantPool, token: &str) -> Result<Option<TenantContext>> {
    session_context(pool, token::hash(token)).await
}

/// [`resolve_session`] from the token's hash.
async fn session_context(pool: &TenantPool, hash: [u8; 32]) -> Result<Option<TenantContext>> {
    let Some((tenant, user, role)) = pool.session_look_up(hash).await? else {
        // A second look-up on this path only: is it the tenant that is not active?
        return match pool.session_tenant_status(hash).await?.as_deref() {
            Some("suspended") => Err(Error::TenantSuspended(
                "the session's tenant is suspended".into(),
            )),
            Some("closed") => Err(Error::TenantClosed("the session's tenant is closed".into())),
            _ => Ok(None),
        };
    };
    let role: MemberRole = role.parse()?;
    Ok(Some(
        TenantContext::new(TenantId::from_uuid(tenant)).with_user(UserId::from_uuid(user), role),
    ))
}

/// Revokes the session holding `token` (signing out); `false` when it was not live.
///
/// # Errors
/// As [`TenantPool::with_tenant`].
pub async fn sign_out(pool: &TenantPool, token: &str) -> Result<bool> {
    let hash = token::hash(token);
    let Some(ctx) = session_context(pool, hash).await? else {
        return Ok(false);
    };
    let n = pool
        .with_tenant(&ctx, async |conn| {
            revoke(conn, sessions::token_hash.eq(hash.to_vec())).await
        })
        .await?;
    Ok(n > 0)
}

/// Revokes every live session of `user` in the connection's tenant and returns how
/// many there were. A user may revoke their own; admins and owners anyone's (the role
/// tier hides other users' sessions from members, so they revoke none).
///
/// # Errors
/// Database errors as classified by [`crate::Error`].
pub async fn revoke_all_sessions(conn: &mut TenantConn, user: UserId) -> Result<usize> {
    revoke(conn, sessions::user_id.eq(user)).await
}

/// Revokes the connection's tenant's live sessions that match `which`.
async fn revoke<P>(conn: &mut TenantConn, which: P) -> Result<usize>
where
    P: diesel::BoxableExpression<
            sessions::table,
            diesel::pg::Pg,
            SqlType = diesel::sql_types::Bool,
        > + Send
        + 'static,
{
    Ok(diesel::update(sessions::table)
        .filter(which)
        .filter(sessions::revoked_at.is_null())
        .set(sessions::revoked_at.eq(diesel::dsl::now))
        .execute(conn)
        .await?)
}

/// A new invite and its token, shown this once.
#[derive(Debug)]
pub struct CreatedInvite {
    /// The stored invite.
    pub invite: Invite,
    /// The token to send to the invitee.
    pub token: Token,
}

/// Invites `email` to the connection's tenant with `role`, open for `ttl`. Needs an
/// admin or owner context (only owners invite owners); the invite records the acting
/// user as its sender. An expired, unaccepted invite for the same address is replaced.
///
/// # Errors
/// [`Error::Forbidden`] below admin, or an admin inviting an owner;
/// [`Error::UniqueViolation`] (`invites_tenant_pending_email_key`) while an open invite
/// for the address exists; [`Error::InvalidInput`] for a bad `ttl`.
pub async fn create_invite(
    conn: &mut TenantConn,
    email: &str,
    role: MemberRole,
    ttl: Duration,
) -> Result<CreatedInvite> {
    let expires_at = expiry(ttl)?;
    let token = Token::generate(TokenKind::Invite)?;
    let invited_by = conn.context().user_id;
    diesel::delete(
        invites::table
            .filter(lower(invites::email).eq(lower(email.to_owned())))
            .filter(invites::accepted_at.is_null())
            .filter(invites::expires_at.le(diesel::dsl::now)),
    )
    .execute(conn)
    .await?;
    let invite = NewInvite::builder()
        .email(email)
        .role(role)
        .token_hash(token.hash().to_vec())
        .maybe_invited_by(invited_by)
        .expires_at(expires_at)
        .build()
        .insert(conn)
        .await?;
    Ok(CreatedInvite { invite, token })
}

/// What accepting an invite made.
#[derive(Debug, Clone)]
pub struct AcceptedInvite {
    /// The new user, with the invited role.
    pub user: User,
    /// A context acting as the new user, e.g. for [`sign_in`].
    pub context: TenantContext,
}

/// Accepts the invite holding `token`: creates the user in the invite's tenant with the
/// invited e-mail and role, and marks the invite accepted, in one transaction. Exactly
/// once: the invite row is claimed with a conditional update, so of two acceptances
/// racing, the second finds it taken and creates nothing.
///
/// # Errors
/// [`Error::InvalidToken`] when the token is unknown, expired or already used (or its
/// tenant is not active); [`Error::UniqueViolation`] (`users_tenant_email_key`) when
/// the tenant already has a user with that e-mail (nothing is accepted then).
pub async fn accept_invite(
    pool: &TenantPool,
    token: &str,
    display_name: &str,
) -> Result<AcceptedInvite> {
    let hash = token::hash(token);
    let Some((tenant, invite)) = pool.invite_look_up(hash).await? else {
        return Err(Error::InvalidToken);
    };
    let tenant = TenantId::from_uuid(tenant);
    let display_name = display_name.to_owned();
    let user = pool
        .with_tenant(&TenantContext::new(tenant), async |conn| {
            let claimed: Option<(String, MemberRole)> = diesel::update(
                invites::table
                    .filter(invites::id.eq(invite))
                    .filter(invites::token_hash.eq(hash.to_vec()))
                    .filter(invites::accepted_at.is_null())
                    .filter(invites::expires_at.gt(diesel::dsl::now)),
            )
            .set(invites::accepted_at.eq(diesel::dsl::now))
            .returning((invites::email, invites::role))
            .get_result(conn)
            .await
            .optional()?;
            let Some((email, role)) = claimed else {
                return Err(Error::InvalidToken);
            };
            let user: User = NewUser::builder()
                .email(email)
                .display_name(display_name)
                .role(role)
                .build()
                .insert(conn)
                .await?;
            Ok(user)
        })
        .await?;
    let context = TenantContext::new(tenant).with_user(user.id, user.role);
    Ok(AcceptedInvite { user, context })
}

/// The user's sessions in the connection's tenant, newest first, revoked ones included.
///
/// # Errors
/// Database errors as classified by [`crate::Error`].
pub async fn sessions_of(conn: &mut TenantConn, user: UserId) -> Result<Vec<Session>> {
    Ok(sessions::table
        .filter(sessions::user_id.eq(user))
        .order_by((sessions::created_at.desc(), sessions::id.desc()))
        .select(Session::as_select())
        .load(conn)
        .await?)
}
