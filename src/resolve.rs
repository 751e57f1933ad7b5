//! Which tenant a request is for, before any tenant is known: by slug, by a verified
//! host name, or by `<slug>.<base domain>`, with an in-process cache.
//!
//! The answers come from the SECURITY DEFINER look-ups (`rowguard.resolve_tenant_slug`,
//! `rowguard.resolve_tenant_host`), run by [`TenantPool`] as the application role with
//! no tenant context; they return an id only, and only for an active tenant.
//!
//! A [`Resolver`] keeps each answer (a tenant, or "none") for its TTL,
//! [`DEFAULT_TTL`] (10 seconds) unless configured: suspending a tenant or removing a
//! domain changes what it answers within that time. The cache is only a shortcut to an
//! id: a suspended tenant's transactions are refused by the pool's tenant gate at once
//! ([`crate::Error::TenantSuspended`]), whatever a cache still says.

use std::time::Duration;

use crate::pool::TenantPool;
use crate::{Result, TenantId};

/// How long a [`Resolver`] keeps an answer unless told otherwise: 10 seconds.
pub const DEFAULT_TTL: Duration = Duration::from_secs(10);

/// How many answers a [`Resolver`] keeps at most unless told otherwise.
pub const DEFAULT_CAPACITY: u64 = 100_000;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Key {
    Slug(String),
    Host(String),
}

/// Resolves requests to tenants, caching each answer for a short TTL.
///
/// ```no_run
/// # async fn demo(pool: rowguard::pool::TenantPool) -> rowguard::Result<()> {
/// use rowguard::resolve::Resolver;
/// let resolver = Resolver::builder(pool).base_domain("app.example.com").build()?;
/// // acme.app.example.com -> the tenant with slug "acme"; shop.acme.com -> the tenant
/// // that has verified that host.
/// let tenant = resolver.host("acme.app.example.com:443").await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Resolver {
    pool: TenantPool,
    base_domain: Option<String>,
    ttl: Duration,
    cache: moka::future::Cache<Key, Option<TenantId>>,
}

impl std::fmt::Debug for Resolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resolver")
            .field("base_domain", &self.base_domain)
            .field("ttl", &self.ttl)
            .field("cached", &self.cache.entry_count())
            .finish()
    }
}

/// Configures a [`Resolver`]: see [`Resolver::builder`].
#[derive(Debug)]
pub struct ResolverBuilder {
    pool: TenantPool,
    base_domain: Option<String>,
    ttl: Duration,
    capacity: u64,
}

impl ResolverBuilder {
    /// The domain whose sub-domains are tenant slugs: with `app.example.com`, the host
    /// `acme.app.example.com` resolves like the slug `acme`.
    pub fn base_domain(mut self, domain: impl Into<String>) -> Self {
        self.base_domain = Some(domain.into());
        self
    }

    /// How long an answer is kept ([`DEFAULT_TTL`]); `Duration::ZERO` caches nothing.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// How many answers are kept at most ([`DEFAULT_CAPACITY`]).
    pub fn capacity(mut self, n: u64) -> Self {
        self.capacity = n;
        self
    }

    /// The resolver.
    ///
    /// # Errors
    /// [`crate::Error::InvalidInput`] when the base domain is not a host name.
    pub fn build(self) -> Result<Resolver> {
        let base_domain = self
            .base_domain
            .as_deref()
            .map(crate::domains::normalize_host)
            .transpose()?;
        Ok(Resolver::assemble(
            self.pool,
            base_domain,
            self.ttl,
            self.capacity,
        ))
    }
}

impl Resolver {
    /// A resolver over `pool`'s look-ups, with no base domain and the default TTL.
    pub fn new(pool: TenantPool) -> Self {
        Resolver::assemble(pool, None, DEFAULT_TTL, DEFAULT_CAPACITY)
    }

    /// The resolver and its cache; `ttl` zero keeps nothing.
    fn assemble(
        pool: TenantPool,
        base_domain: Option<String>,
        ttl: Duration,
        capacity: u64,
    ) -> Self {
        let mut cache = moka::future::Cache::builder();
        if ttl.is_zero() {
            cache = cache.max_capacity(0);
        } else {
            cache = cache.max_capacity(capacity).time_to_live(ttl);
        }
        Resolver {
            pool,
            base_domain,
            ttl,
            cache: cache.build(),
        }
    }

    /// Configures a resolver over `pool`'s look-ups.
    pub fn builder(pool: TenantPool) -> ResolverBuilder {
        ResolverBuilder {
            pool,
            base_domain: None,
            ttl: DEFAULT_TTL,
            capacity: DEFAULT_CAPACITY,
        }
    }

    /// How long answers are kept.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// The active tenant with `slug`; `None` when there is none.
    ///
    /// # Errors
    /// As [`TenantPool::resolve_slug`].
    pub async fn slug(&self, slug: &str) -> Result<Option<TenantId>> {
        self.cached(Key::Slug(slug.to_owned())).await
    }

    /// The active tenant a request to `host` (as in the `Host` header, a port allowed)
    /// is for: the slug before the base domain when `host` is a direct sub-domain of
    /// it, else the tenant that has `host` verified. `None` when there is none, and for
    /// something that is not a host name.
    ///
    /// # Errors
    /// As [`TenantPool::resolve_host`].
    pub async fn host(&self, host: &str) -> Result<Option<TenantId>> {
        let Ok(host) = crate::domains::normalize_host(host) else {
            return Ok(None);
        };
        let key = match self.slug_of(&host) {
            Some(slug) => Key::Slug(slug.to_owned()),
            None => Key::Host(host),
        };
        self.cached(key).await
    }

    /// The cached answer for `key`, or the look-up's, then kept for the TTL.
    async fn cached(&self, key: Key) -> Result<Option<TenantId>> {
        if let Some(hit) = self.cache.get(&key).await {
            return Ok(hit);
        }
        let answer = match &key {
            Key::Slug(slug) => self.pool.resolve_slug(slug).await?,
            Key::Host(host) => self.pool.resolve_host(host).await?,
        };
        self.cache.insert(key, answer).await;
        Ok(answer)
    }

    /// Forgets every cached answer (after a change that must show at once).
    pub fn invalidate_all(&self) {
        self.cache.invalidate_all();
    }

    /// The slug when `host` is `<slug>.<base domain>` (one label before it).
    fn slug_of<'h>(&self, host: &'h str) -> Option<&'h str> {
        let base = self.base_domain.as_deref()?;
        let label = host.strip_suffix(base)?.strip_suffix('.')?;
        (!label.is_empty() && !label.contains('.')).then_some(label)
    }
}
