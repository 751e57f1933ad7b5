//! Passwords: Argon2id hashes in `api_credentials`, which only a tenant's service
//! context may read or write (the table's `service_only` policy).
//!
//! rowguard checks no passwords ([`rowguard::auth`]): the service checks them here,
//! then asks rowguard for a session.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use diesel::{ExpressionMethods, OptionalExtension, QueryDsl};
use diesel_async::RunQueryDsl;
use rowguard::models::UserStatus;
use rowguard::pool::TenantPool;
use rowguard::schema::users;
use rowguard::tenant::TenantConn;
use rowguard::{Error, MemberRole, Result, TenantContext, TenantId, UserId};

use crate::schema::api_credentials;

/// The shortest and the longest password accepted, in bytes.
pub const PASSWORD_BYTES: std::ops::RangeInclusive<usize> = 8..=1024;

/// Sets `user`'s password (replacing any). Call it in the tenant's service context
/// (`TenantContext::new(tenant)`); a user's own context cannot touch the table.
///
/// # Errors
/// [`Error::InvalidInput`] for a password outside [`PASSWORD_BYTES`];
/// [`Error::ForeignKeyViolation`] when the tenant has no such user.
pub async fn set_password(conn: &mut TenantConn, user: UserId, password: &str) -> Result<()> {
    let password = password.to_owned();
    let hash = tokio::task::spawn_blocking(move || hash(&password))
        .await
        .map_err(|e| Error::InvalidInput(format!("hashing failed: {e}")))??;
    let tenant = conn.context().tenant_id.as_uuid();
    diesel::insert_into(api_credentials::table)
        .values((
            api_credentials::tenant_id.eq(tenant),
            api_credentials::user_id.eq(user.as_uuid()),
            api_credentials::password_hash.eq(&hash),
        ))
        .on_conflict((api_credentials::tenant_id, api_credentials::user_id))
        .do_update()
        .set(api_credentials::password_hash.eq(&hash))
        .execute(conn)
        .await?;
    Ok(())
}

/// The Argon2id PHC string of `password`, with a fresh salt.
///
/// # Errors
/// [`Error::InvalidInput`] for a password outside [`PASSWORD_BYTES`].
pub fn hash(password: &str) -> Result<String> {
    if !PASSWORD_BYTES.contains(&password.len()) {
        return Err(Error::InvalidInput(format!(
            "a password has {} to {} bytes",
            PASSWORD_BYTES.start(),
            PASSWORD_BYTES.end()
        )));
    }
    let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::InvalidInput(format!("cannot hash the password: {e}")))
}

/// The active user of `tenant` with `email` whose password is `password`, and their
/// role; `None` for an unknown email, an inactive user, a user without a password or
/// a wrong password, which take the same time (a dummy hash is checked when there is
/// no real one), so a caller cannot tell them apart.
///
/// Reads in the tenant's service context (a transaction of their own); the hash is
/// checked after it, on a blocking thread.
///
/// # Errors
/// As [`TenantPool::with_tenant`].
pub async fn check(
    pool: &TenantPool,
    tenant: TenantId,
    email: &str,
    password: &str,
) -> Result<Option<(UserId, MemberRole)>> {
    let email = email.trim().to_lowercase();
    let row = pool
        .with_tenant(&TenantContext::new(tenant), async |conn| {
            let user: Option<(uuid::Uuid, MemberRole)> = users::table
                .filter(crate::sessions::lower(users::email).eq(&email))
                .filter(users::status.eq(UserStatus::Active))
                .select((users::id, users::role))
                .first(conn)
                .await
                .optional()?;
            let Some((id, role)) = user else {
                return Ok(None);
            };
            let hash: Option<String> = api_credentials::table
                .filter(api_credentials::user_id.eq(id))
                .select(api_credentials::password_hash)
                .first(conn)
                .await
                .optional()?;
            Ok(hash.map(|h| (id, role, h)))
        })
        .await?;
    let stored = row
        .as_ref()
        .map(|(_, _, h)| h.clone())
        .unwrap_or_else(|| DUMMY.clone());
    let password = password.to_owned();
    let ok = tokio::task::spawn_blocking(move || {
        PasswordHash::new(&stored)
            .map(|h| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &h)
                    .is_ok()
            })
            .unwrap_or(false)
    })
    .await
    .unwrap_or(false);
    Ok(row
        .filter(|_| ok)
        .map(|(id, role, _)| (UserId::from(id), role)))
}

/// A hash of a random password, checked when a user has none, so that path costs what
/// a real check costs.
static DUMMY: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| hash(&uuid::Uuid::new_v4().to_string()).unwrap_or_default());
