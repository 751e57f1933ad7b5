//! Domains and resolution (`rowguard::domains`, `rowguard::resolve`), through the admin
//! path for changes and as the application login for reads and look-ups:
//!
//! - a domain is added unverified and resolves to nothing until its token verifies it;
//!   a wrong token is refused;
//! - at most one domain of a tenant is primary, and only a verified one;
//! - a host is verified for at most one tenant, also when two verify it at once, and
//!   an unverified claim does not block the host's owner;
//! - the application role reads its own tenant's domains and can write none of them;
//! - the resolver answers by slug, by verified host and by `<slug>.<base domain>`,
//!   and keeps answers for its TTL: removing a domain or suspending a tenant shows
//!   after the TTL, while the tenant gate refuses a suspended tenant at once.

use std::time::Duration;

use rowguard::control::{self, TenantSpec};
use rowguard::domains;
use rowguard::models::{Domain, TenantPlan};
use rowguard::resolve::Resolver;
use rowguard::{Error, TenantContext, TenantId};
use rowguard_testkit::fixtures::exec;
use rowguard_testkit::server::TestDatabase;

async fn tenant(admin: &rowguard::pool::AdminPool, slug: &str) -> TenantId {
    let spec = TenantSpec::builder()
        .slug(slug)
        .name(format!("Tenant {slug}"))
        .plan(TenantPlan::Starter)
        .owner_email(format!("owner@{slug}.example"))
        .build();
    control::provision(admin, &spec)
        .await
        .expect("provision")
        .tenant
        .id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_domain_resolves_only_once_its_token_verifies_it() {
    let db = TestDatabase::new().expect("db");
    let admin = db.admin_pool(2).expect("admin");
    let pool = db.app_pool(1).expect("pool");
    let t = tenant(&admin, "verify-me").await;

    let added = domains::add(&admin, t, "Shop.Verify-Me.example:443")
        .await
        .expect("add");
    assert_eq!(added.domain.host, "shop.verify-me.example");
    assert!(added.domain.verified_at.is_none());
    assert!(added.token.expose().starts_with("rgd_"));
    assert_eq!(
        pool.resolve_host("shop.verify-me.example")
            .await
            .expect("host"),
        None,
        "an unverified domain resolves to nothing"
    );

    let wrong = domains::verify(&admin, t, "shop.verify-me.example", "rgd_not-the-token").await;
    assert!(matches!(wrong, Err(Error::InvalidToken)), "{wrong:?}");
    let unknown = domains::verify(&admin, t, "other.verify-me.example", added.token.expose()).await;
    assert!(matches!(unknown, Err(Error::NotFound)), "{unknown:?}");
    assert_eq!(
        pool.resolve_host("shop.verify-me.example")
            .await
            .expect("host"),
        None
    );

    let verified = domains::verify(&admin, t, "shop.verify-me.example", added.token.expose())
        .await
        .expect("verify");
    assert!(verified.verified_at.is_some());
    assert_eq!(
        pool.resolve_host("SHOP.verify-me.example")
            .await
            .expect("host"),
        Some(t)
    );
    let again = domains::verify(&admin, t, "shop.verify-me.example", added.token.expose())
        .await
        .expect("verify again");
    assert_eq!(
        again.verified_at, verified.verified_at,
        "verifying again changes nothing"
    );

    let bad = domains::add(&admin, t, "not a host").await;
    assert!(matches!(bad, Err(Error::InvalidInput(_))), "{bad:?}");
    let twice = domains::add(&admin, t, "shop.verify-me.example").await;
    assert!(
        matches!(&twice, Err(Error::UniqueViolation { constraint }) if constraint == "domains_tenant_host_key"),
        "{twice:?}"
    );

    let removed = domains::remove(&admin, t, "shop.verify-me.example")
        .await
        .expect("remove");
    assert_eq!(removed.id, verified.id);
    assert_eq!(
        pool.resolve_host("shop.verify-me.example")
            .await
            .expect("host"),
        None
    );
    let gone = domains::remove(&admin, t, "shop.verify-me.example").await;
    assert!(matches!(gone, Err(Error::NotFound)), "{gone:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_most_one_primary_and_only_a_verified_one() {
    let db = TestDatabase::new().expect("db");
    let admin = db.admin_pool(2).expect("admin");
    let t = tenant(&admin, "primaries").await;

    let a = domains::add(&admin, t, "a.primaries.example")
        .await
        .expect("a");
    let b = domains::add(&admin, t, "b.primaries.example")
        .await
        .expect("b");
    let unverified = domains::set_primary(&admin, t, "a.primaries.example").await;
    assert!(
        matches!(unverified, Err(Error::InvalidInput(_))),
        "{unverified:?}"
    );

    domains::verify(&admin, t, "a.primaries.example", a.token.expose())
        .await
        .expect("verify a");
    domains::verify(&admin, t, "b.primaries.example", b.token.expose())
        .await
        .expect("verify b");
    assert!(
        domains::set_primary(&admin, t, "a.primaries.example")
            .await
            .expect("a")
            .is_primary
    );
    assert!(
        domains::set_primary(&admin, t, "b.primaries.example")
            .await
            .expect("b")
            .is_primary
    );
    let all = domains::list(&admin, t).await.expect("list");
    let primaries: Vec<&str> = all
        .iter()
        .filter(|d| d.is_primary)
        .map(|d| d.host.as_str())
        .collect();
    assert_eq!(primaries, ["b.primaries.example"]);
    assert_eq!(all[0].host, "b.primaries.example", "primary first");

    // The database holds the rule whoever writes: two primaries, or an unverified one.
    let two = admin
        .as_admin("test: a second primary", async |conn| {
            exec(conn, "UPDATE domains SET is_primary = true").await
        })
        .await;
    assert!(
        matches!(&two, Err(Error::UniqueViolation { constraint }) if constraint == "domains_tenant_primary_key"),
        "{two:?}"
    );
    let c = domains::add(&admin, t, "c.primaries.example")
        .await
        .expect("c");
    assert!(c.domain.verified_at.is_none());
    let sneaky = admin
        .as_admin("test: an unverified primary", async |conn| {
            exec(
                conn,
                "UPDATE domains SET is_primary = (host = 'c.primaries.example')",
            )
            .await
        })
        .await;
    assert!(
        matches!(&sneaky, Err(Error::CheckViolation { constraint }) if constraint == "domains_primary_is_verified"),
        "{sneaky:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_is_verified_for_at_most_one_tenant_even_when_two_race() {
    let db = TestDatabase::new().expect("db");
    let admin = db.admin_pool(4).expect("admin");
    let owner = tenant(&admin, "real-owner").await;
    let squatter = tenant(&admin, "squatter").await;

    // The squatter claims first, but an unverified claim blocks nobody.
    let claim = domains::add(&admin, squatter, "www.contested.example")
        .await
        .expect("claim");
    let real = domains::add(&admin, owner, "www.contested.example")
        .await
        .expect("add");
    domains::verify(&admin, owner, "www.contested.example", real.token.expose())
        .await
        .expect("the owner verifies");
    let refused = domains::verify(
        &admin,
        squatter,
        "www.contested.example",
        claim.token.expose(),
    )
    .await;
    assert!(
        matches!(&refused, Err(Error::UniqueViolation { constraint }) if constraint == "domains_verified_host_key"),
        "{refused:?}"
    );

    // Two tenants verifying one host at the same moment: exactly one wins.
    for round in 0..5 {
        let host = format!("race{round}.contested.example");
        let x = domains::add(&admin, owner, &host).await.expect("x");
        let y = domains::add(&admin, squatter, &host).await.expect("y");
        let (rx, ry) = tokio::join!(
            domains::verify(&admin, owner, &host, x.token.expose()),
            domains::verify(&admin, squatter, &host, y.token.expose()),
        );
        let wins = [rx.is_ok(), ry.is_ok()].iter().filter(|w| **w).count();
        assert_eq!(wins, 1, "round {round}: {rx:?} / {ry:?}");
        for r in [rx, ry] {
            if let Err(e) = r {
                assert!(
                    matches!(&e, Error::UniqueViolation { constraint } if constraint == "domains_verified_host_key"),
                    "{e:?}"
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_application_reads_its_own_domains_and_writes_none() {
    let db = TestDatabase::new().expect("db");
    let admin = db.admin_pool(2).expect("admin");
    let pool = db.app_pool(1).expect("pool");
    let a = tenant(&admin, "reader-a").await;
    let b = tenant(&admin, "reader-b").await;
    let da = domains::add(&admin, a, "a.readers.example")
        .await
        .expect("a");
    domains::add(&admin, b, "b.readers.example")
        .await
        .expect("b");

    let seen = pool
        .with_tenant(&TenantContext::new(a), async |conn| {
            Domain::list(conn).await
        })
        .await
        .expect("list");
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].host, "a.readers.example");

    for sql in [
        "UPDATE domains SET verified_at = now()".to_owned(),
        "UPDATE domains SET is_primary = true".to_owned(),
        "DELETE FROM domains".to_owned(),
        "INSERT INTO domains (tenant_id, host, verification_token_hash, verified_at) \
         SELECT id, 'stolen.readers.example', sha256('x'::bytea), now() FROM tenants"
            .to_owned(),
    ] {
        let r = pool
            .with_tenant(&TenantContext::new(a), async |conn| exec(conn, &sql).await)
            .await;
        assert!(matches!(r, Err(Error::Forbidden(_))), "{sql}: {r:?}");
    }
    let still = domains::list(&admin, a).await.expect("list");
    assert_eq!(still.len(), 1);
    assert_eq!(still[0].id, da.domain.id);
    assert!(still[0].verified_at.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_resolver_answers_by_slug_host_and_subdomain_and_caches_for_its_ttl() {
    let db = TestDatabase::new().expect("db");
    let admin = db.admin_pool(2).expect("admin");
    let pool = db.app_pool(2).expect("pool");
    let t = tenant(&admin, "cached").await;
    let other = tenant(&admin, "uncached").await;
    let added = domains::add(&admin, t, "shop.cached.example")
        .await
        .expect("add");
    domains::verify(&admin, t, "shop.cached.example", added.token.expose())
        .await
        .expect("verify");

    // Long enough that the steps between filling the cache and reading it back finish
    // inside it on a loaded machine; the test waits it out once.
    let ttl = Duration::from_secs(4);
    let resolver = Resolver::builder(pool.clone())
        .base_domain("App.Example.com")
        .ttl(ttl)
        .build()
        .expect("resolver");
    assert_eq!(resolver.ttl(), ttl);
    assert_eq!(resolver.slug("cached").await.expect("slug"), Some(t));
    assert_eq!(
        resolver
            .host("shop.cached.example:8443")
            .await
            .expect("host"),
        Some(t)
    );
    assert_eq!(
        resolver.host("cached.app.example.com").await.expect("sub"),
        Some(t)
    );
    assert_eq!(
        resolver
            .host("uncached.app.example.com.")
            .await
            .expect("sub"),
        Some(other)
    );
    assert_eq!(
        resolver
            .host("x.cached.app.example.com")
            .await
            .expect("deeper"),
        None
    );
    assert_eq!(
        resolver
            .host("nobody.app.example.com")
            .await
            .expect("unknown"),
        None
    );
    assert_eq!(resolver.host("not a host").await.expect("junk"), None);
    assert!(Resolver::builder(pool.clone())
        .base_domain("not a domain")
        .build()
        .is_err());

    // Changes show after the TTL, not before; the gate does not wait for the cache.
    domains::remove(&admin, t, "shop.cached.example")
        .await
        .expect("remove");
    control::suspend(&admin, other).await.expect("suspend");
    assert_eq!(
        resolver.host("shop.cached.example").await.expect("cached"),
        Some(t)
    );
    assert_eq!(
        resolver.slug("uncached").await.expect("cached"),
        Some(other)
    );
    let refused = pool
        .with_tenant(&TenantContext::new(other), async |_| Ok(()))
        .await;
    assert!(
        matches!(refused, Err(Error::TenantSuspended(_))),
        "{refused:?}"
    );

    tokio::time::sleep(ttl + Duration::from_millis(200)).await;
    assert_eq!(
        resolver.host("shop.cached.example").await.expect("expired"),
        None
    );
    assert_eq!(resolver.slug("uncached").await.expect("expired"), None);
    assert_eq!(
        resolver
            .host("uncached.app.example.com")
            .await
            .expect("expired"),
        None
    );
    assert_eq!(resolver.slug("cached").await.expect("still"), Some(t));

    // invalidate_all forgets at once.
    control::resume(&admin, other).await.expect("resume");
    resolver.invalidate_all();
    assert_eq!(resolver.slug("uncached").await.expect("fresh"), Some(other));
}
