//! A tenant's host names: add one, verify it with a token, make it primary, remove it.
//!
//! Every operation here runs on the admin path ([`AdminPool::as_admin`], with a reason
//! naming the tenant and host), because a verified host decides which tenant answers
//! requests sent to it: a tenant must not be able to mark a host verified itself. The
//! application reads its own tenant's domains ([`crate::models::Domain::list`]).
//!
//! The flow: [`add`] stores the host unverified and returns a verification token, once
//! (only its SHA-256 is stored). The domain's owner publishes the token where the
//! application's checker looks (a DNS TXT record, a file on the host); the checker
//! passes what it found to [`verify`]. From then on the host resolves to the tenant
//! ([`crate::resolve::Resolver`]). A host is verified for at most one tenant: the
//! database refuses a second (SQLSTATE 23505, `domains_verified_host_key`), while
//! unverified claims never block the host's real owner. At most one of a tenant's
//! verified hosts is primary.

use diesel::{ExpressionMethods, OptionalExtension, QueryDsl, SelectableHelper};
use diesel_async::RunQueryDsl;

use crate::models::Domain;
use crate::pool::AdminPool;
use crate::schema::domains;
use crate::token::{self, Token, TokenKind};
use crate::{Error, Result, TenantId};

/// A host name as stored and compared: lowercase, without a port or a trailing dot,
/// ASCII labels of letters, digits and dashes (internationalised names in their
/// `xn--` form), at least two labels, at most 253 characters.
///
/// ```
/// assert_eq!(rowguard::domains::normalize_host("App.Example.COM.:8443").unwrap(), "app.example.com");
/// assert!(rowguard::domains::normalize_host("localhost").is_err());
/// ```
///
/// # Errors
/// [`Error::InvalidInput`] for anything else.
pub fn normalize_host(host: &str) -> Result<String> {
    let bad = || Error::InvalidInput(format!("{host:?} is not a host name"));
    let trimmed = host.trim();
    // Strip a port (host:port), never an IPv6 literal's colons: those are refused below.
    let without_port = match trimmed.rsplit_once(':') {
        Some((h, port)) if !h.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => trimmed,
    };
    let name = without_port
        .strip_suffix('.')
        .unwrap_or(without_port)
        .to_ascii_lowercase();
    let labels: Vec<&str> = name.split('.').collect();
    let label_ok = |l: &&str| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if name.len() > 253 || labels.len() < 2 || !labels.iter().all(label_ok) {
        return Err(bad());
    }
    Ok(name)
}

/// A domain just added, and the token that verifies it, shown this once.
#[derive(Debug)]
pub struct AddedDomain {
    /// The stored domain, unverified.
    pub domain: Domain,
    /// The verification token to publish for the host.
    pub token: Token,
}

/// Adds `host` to `tenant`, unverified, and returns its verification token.
///
/// # Errors
/// [`Error::InvalidInput`] for a malformed host; [`Error::UniqueViolation`]
/// (`domains_tenant_host_key`) when the tenant has it already;
/// [`Error::ForeignKeyViolation`] when there is no such tenant.
pub async fn add(admin: &AdminPool, tenant: TenantId, host: &str) -> Result<AddedDomain> {
    let host = normalize_host(host)?;
    let token = Token::generate(TokenKind::Domain)?;
    let hash = token.hash().to_vec();
    let reason = format!("add domain {host} to tenant {tenant}");
    let domain = admin
        .as_admin(&reason, async |conn| {
            Ok(diesel::insert_into(domains::table)
                .values((
                    domains::tenant_id.eq(tenant),
                    domains::host.eq(&host),
                    domains::verification_token_hash.eq(hash),
                ))
                .returning(Domain::as_returning())
                .get_result(conn)
                .await?)
        })
        .await?;
    Ok(AddedDomain { domain, token })
}

/// Marks `tenant`'s `host` verified when `token` is the one [`add`] handed out for it.
/// Verifying a verified domain again changes nothing.
///
/// # Errors
/// [`Error::NotFound`] when the tenant has no such host; [`Error::InvalidToken`] when the
/// token does not match; [`Error::UniqueViolation`] (`domains_verified_host_key`) when
/// another tenant has the host verified.
pub async fn verify(
    admin: &AdminPool,
    tenant: TenantId,
    host: &str,
    token: &str,
) -> Result<Domain> {
    let host = normalize_host(host)?;
    let hash = token::hash(token).to_vec();
    let reason = format!("verify domain {host} of tenant {tenant}");
    admin
        .as_admin(&reason, async |conn| {
            let stored: Vec<u8> = of(tenant, &host)
                .select(domains::verification_token_hash)
                .for_update()
                .first(conn)
                .await?;
            if !constant_time_eq(&stored, &hash) {
                return Err(Error::InvalidToken);
            }
            Ok(diesel::update(of(tenant, &host))
                .set(domains::verified_at.eq(diesel::dsl::sql::<
                    diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>,
                >("coalesce(verified_at, now())")))
                .returning(Domain::as_returning())
                .get_result(conn)
                .await?)
        })
        .await
}

/// Makes `tenant`'s verified `host` its primary domain (the one before it stops being
/// primary), in one transaction.
///
/// # Errors
/// [`Error::NotFound`] when the tenant has no such host; [`Error::InvalidInput`] when it
/// is not verified.
pub async fn set_primary(admin: &AdminPool, tenant: TenantId, host: &str) -> Result<Domain> {
    let host = normalize_host(host)?;
    let reason = format!("make {host} the primary domain of tenant {tenant}");
    admin
        .as_admin(&reason, async |conn| {
            let domain: Domain = of(tenant, &host)
                .select(Domain::as_select())
                .for_update()
                .first(conn)
                .await?;
            if domain.verified_at.is_none() {
                return Err(Error::InvalidInput(format!(
                    "{host} is not verified: verify it before making it primary"
                )));
            }
            diesel::update(
                domains::table
                    .filter(domains::tenant_id.eq(tenant))
                    .filter(domains::is_primary)
                    .filter(domains::host.ne(&host)),
            )
            .set(domains::is_primary.eq(false))
            .execute(conn)
            .await?;
            Ok(diesel::update(of(tenant, &host))
                .set(domains::is_primary.eq(true))
                .returning(Domain::as_returning())
                .get_result(conn)
                .await?)
        })
        .await
}

/// Removes `tenant`'s `host` and returns what it was. Requests to the host stop
/// resolving to the tenant at once in the database, and within a
/// [`crate::resolve::Resolver`]'s TTL in processes that cache resolutions.
///
/// # Errors
/// [`Error::NotFound`] when the tenant has no such host.
pub async fn remove(admin: &AdminPool, tenant: TenantId, host: &str) -> Result<Domain> {
    let host = normalize_host(host)?;
    let reason = format!("remove domain {host} from tenant {tenant}");
    admin
        .as_admin(&reason, async |conn| {
            diesel::delete(of(tenant, &host))
                .returning(Domain::as_returning())
                .get_result(conn)
                .await
                .optional()?
                .ok_or(Error::NotFound)
        })
        .await
}

/// `tenant`'s domains, primary first, then by host.
///
/// # Errors
/// Database errors as classified by [`crate::Error`].
pub async fn list(admin: &AdminPool, tenant: TenantId) -> Result<Vec<Domain>> {
    let reason = format!("list domains of tenant {tenant}");
    admin
        .as_admin(&reason, async |conn| {
            Ok(domains::table
                .filter(domains::tenant_id.eq(tenant))
                .order_by((domains::is_primary.desc(), domains::host))
                .select(Domain::as_select())
                .load(conn)
                .await?)
        })
        .await
}

/// The row of `tenant`'s `host` (both are the key of a domain).
#[diesel::dsl::auto_type]
fn of<'a>(tenant: TenantId, host: &'a str) -> _ {
    domains::table
        .filter(domains::tenant_id.eq(tenant))
        .filter(domains::host.eq(host))
}

/// Compares two hashes without stopping at the first difference.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::normalize_host;

    #[test]
    fn hosts_are_normalised_or_refused() {
        assert_eq!(
            normalize_host("Shop.Example.com").unwrap(),
            "shop.example.com"
        );
        assert_eq!(
            normalize_host("shop.example.com.").unwrap(),
            "shop.example.com"
        );
        assert_eq!(
            normalize_host("shop.example.com:443").unwrap(),
            "shop.example.com"
        );
        assert_eq!(
            normalize_host("xn--bcher-kva.example").unwrap(),
            "xn--bcher-kva.example"
        );
        let long_label = format!("{}.example", "a".repeat(64));
        for bad in [
            "",
            "localhost",
            "-a.example",
            "a-.example",
            "a..example",
            "a b.example",
            "[::1]",
            "::1",
            "bücher.example",
            &long_label,
        ] {
            assert!(normalize_host(bad).is_err(), "{bad:?} must be refused");
        }
    }
}
