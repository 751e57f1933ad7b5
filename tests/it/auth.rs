//! Sessions and invites (`rowguard::auth`), acting as the application login through
//! the pool (state the tests arrange, like an expired session, is set up through the
//! admin path):
//!
//! - signing in returns a token once; only its SHA-256 is stored;
//! - a token resolves to its tenant, user and role only while the session is live:
//!   not expired, not revoked, the user active, the tenant active;
//! - a user's sessions are revoked all at once; a member cannot revoke another's;
//! - `last_used_at` is written at most once a minute;
//! - only admins and owners invite, only owners invite owners;
//! - an invite is accepted exactly once, also when two acceptances race, and an
//!   expired one is refused.

use std::time::Duration;

use diesel::{ExpressionMethods, QueryDsl};
use diesel_async::RunQueryDsl;
use rowguard::auth::{self, DEFAULT_INVITE_TTL, DEFAULT_SESSION_TTL};
use rowguard::pool::{AdminPool, TenantPool};
use rowguard::schema::{invites, sessions, users};
use rowguard::{Error, MemberRole, TenantContext, TenantId, UserId};
use rowguard_testkit::fixtures::{admin_for, count, exec, make_tenant, make_user};
use rowguard_testkit::server::TestDatabase;

fn as_user(tenant: TenantId, user: UserId, role: MemberRole) -> TenantContext {
    TenantContext::new(tenant).with_user(user, role)
}

async fn sign_in(pool: &TenantPool, ctx: &TenantContext) -> String {
    let user = ctx.user_id.expect("a user context");
    pool.with_tenant(ctx, async |conn| {
        auth::sign_in(conn, user, DEFAULT_SESSION_TTL, Some("tests/1")).await
    })
    .await
    .expect("sign in")
    .token
    .into_string()
}

async fn admin_exec(admin: &AdminPool, sql: &str) -> usize {
    admin
        .as_admin("test: arrange session state", async |conn| {
            exec(conn, sql).await
        })
        .await
        .expect("admin exec")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_token_resolves_to_its_context_and_only_its_hash_is_stored() {
    let db = TestDatabase::new().expect("db");
    let pool = db.app_pool(2).expect("pool");
    let t = make_tenant(&pool, "signin").await;
    let u = make_user(&pool, t, MemberRole::Admin).await;
    let ctx = as_user(t, u, MemberRole::Admin);

    let signed_in = pool
        .with_tenant(&ctx, async |conn| {
            auth::sign_in(conn, u, DEFAULT_SESSION_TTL, None).await
        })
        .await
        .expect("sign in");
    let token = signed_in.token.expose().to_owned();
    assert!(token.starts_with("rgs_"));
    assert!(
        !format!("{signed_in:?}").contains(&token[4..]),
        "Debug must not show the token"
    );
    assert_eq!(
        signed_in.session.token_hash,
        rowguard::token::hash(&token).to_vec()
    );

    // Nothing stored holds the token's text.
    let mut owner = db.owner_conn().expect("owner");
    let scan = diesel::sql_query(
        "SELECT count(*) AS n FROM sessions s WHERE position($1 IN row_to_json(s)::text) > 0",
    )
    .bind::<diesel::sql_types::Text, _>(&token[4..]);
    let leaked = diesel::RunQueryDsl::get_result::<rowguard_testkit::fixtures::N>(scan, &mut owner)
        .expect("scan")
        .n;
    assert_eq!(leaked, 0);

    let resolved = auth::resolve_session(&pool, &token).await.expect("resolve");
    assert_eq!(resolved, Some(ctx));
    assert_eq!(
        auth::resolve_session(&pool, "rgs_unknown")
            .await
            .expect("resolve"),
        None
    );
    // The resolved context acts as the user.
    let me: UserId = pool
        .with_tenant(&ctx, async |conn| {
            Ok(users::table
                .filter(users::id.eq(u))
                .select(users::id)
                .first(conn)
                .await?)
        })
        .await
        .expect("me");
    assert_eq!(me, u);

    assert!(auth::sign_out(&pool, &token).await.expect("sign out"));
    assert_eq!(
        auth::resolve_session(&pool, &token).await.expect("resolve"),
        None
    );
    assert!(!auth::sign_out(&pool, &token).await.expect("again"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_live_sessions_resolve() {
    let db = TestDatabase::new().expect("db");
    let pool = db.app_pool(2).expect("pool");
    let admin = admin_for(&pool);
    let t = make_tenant(&pool, "live").await;
    let u = make_user(&pool, t, MemberRole::Member).await;
    let ctx = as_user(t, u, MemberRole::Member);

    // Expired.
    let token = sign_in(&pool, &ctx).await;
    assert!(auth::resolve_session(&pool, &token)
        .await
        .expect("r")
        .is_some());
    admin_exec(
        &admin,
        "UPDATE sessions SET expires_at = now() - interval '1 second'",
    )
    .await;
    assert_eq!(auth::resolve_session(&pool, &token).await.expect("r"), None);

    // Revoked.
    let token = sign_in(&pool, &ctx).await;
    admin_exec(
        &admin,
        "UPDATE sessions SET revoked_at = now() WHERE revoked_at IS NULL AND expires_at > now()",
    )
    .await;
    assert_eq!(auth::resolve_session(&pool, &token).await.expect("r"), None);

    // The user suspended, then active again.
    let token = sign_in(&pool, &ctx).await;
    admin_exec(&admin, "UPDATE users SET status = 'suspended'").await;
    assert_eq!(auth::resolve_session(&pool, &token).await.expect("r"), None);
    admin_exec(&admin, "UPDATE users SET status = 'active'").await;
    assert!(auth::resolve_session(&pool, &token)
        .await
        .expect("r")
        .is_some());

    // The tenant suspended.
    rowguard::control::suspend(&admin, t)
        .await
        .expect("suspend");
    // Told why, not that the token is unknown.
    let suspended = auth::resolve_session(&pool, &token).await;
    assert!(
        matches!(suspended, Err(Error::TenantSuspended(_))),
        "{suspended:?}"
    );
    rowguard::control::resume(&admin, t).await.expect("resume");
    assert!(auth::resolve_session(&pool, &token)
        .await
        .expect("r")
        .is_some());

    // The role comes from the user row as it is now.
    admin_exec(&admin, "UPDATE users SET role = 'viewer'").await;
    let now = auth::resolve_session(&pool, &token)
        .await
        .expect("r")
        .expect("live");
    assert_eq!(now.role, Some(MemberRole::Viewer));

    // A zero lifetime is refused before anything is written.
    let zero = pool
        .with_tenant(&ctx, async |conn| {
            auth::sign_in(conn, u, Duration::ZERO, None).await
        })
        .await;
    assert!(matches!(zero, Err(Error::InvalidInput(_))), "{zero:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_users_sessions_are_revoked_all_at_once_by_them_or_an_admin_only() {
    let db = TestDatabase::new().expect("db");
    let pool = db.app_pool(2).expect("pool");
    let t = make_tenant(&pool, "revoke").await;
    let alice = make_user(&pool, t, MemberRole::Member).await;
    let bob = make_user(&pool, t, MemberRole::Member).await;
    let boss = make_user(&pool, t, MemberRole::Admin).await;
    let alice_ctx = as_user(t, alice, MemberRole::Member);
    let bob_ctx = as_user(t, bob, MemberRole::Member);

    let mut alice_tokens = Vec::new();
    for _ in 0..3 {
        alice_tokens.push(sign_in(&pool, &alice_ctx).await);
    }
    let bob_token = sign_in(&pool, &bob_ctx).await;

    // Bob, a member, cannot revoke Alice's sessions: they are hidden from him.
    let by_bob = pool
        .with_tenant(&bob_ctx, async |conn| {
            auth::revoke_all_sessions(conn, alice).await
        })
        .await
        .expect("bob");
    assert_eq!(by_bob, 0);
    for tok in &alice_tokens {
        assert!(auth::resolve_session(&pool, tok)
            .await
            .expect("r")
            .is_some());
    }

    // An admin can.
    let by_boss = pool
        .with_tenant(&as_user(t, boss, MemberRole::Admin), async |conn| {
            auth::revoke_all_sessions(conn, alice).await
        })
        .await
        .expect("boss");
    assert_eq!(by_boss, 3);
    for tok in &alice_tokens {
        assert_eq!(auth::resolve_session(&pool, tok).await.expect("r"), None);
    }
    assert!(auth::resolve_session(&pool, &bob_token)
        .await
        .expect("r")
        .is_some());

    let listed = pool
        .with_tenant(&alice_ctx, async |conn| {
            auth::sessions_of(conn, alice).await
        })
        .await
        .expect("list");
    assert_eq!(listed.len(), 3);
    assert!(listed.iter().all(|s| s.revoked_at.is_some()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn last_used_at_is_written_at_most_once_a_minute() {
    let db = TestDatabase::new().expect("db");
    let pool = db.app_pool(2).expect("pool");
    let admin = admin_for(&pool);
    let t = make_tenant(&pool, "touch").await;
    let u = make_user(&pool, t, MemberRole::Member).await;
    let token = sign_in(&pool, &as_user(t, u, MemberRole::Member)).await;

    let used = async || -> Option<chrono::DateTime<chrono::Utc>> {
        admin
            .as_admin("test: read last_used_at", async |conn| {
                Ok(sessions::table
                    .select(sessions::last_used_at)
                    .first(conn)
                    .await?)
            })
            .await
            .expect("read")
    };
    assert_eq!(used().await, None, "a new session was never used");

    auth::resolve_session(&pool, &token).await.expect("first");
    let first = used().await.expect("the first use is recorded");
    for _ in 0..5 {
        auth::resolve_session(&pool, &token).await.expect("again");
    }
    assert_eq!(used().await, Some(first), "no write within the minute");
    let audited = admin
        .as_admin("test: count session audit rows", async |conn| {
            count(
                conn,
                "audit_log WHERE target_type = 'sessions' AND action = 'update'",
            )
            .await
        })
        .await
        .expect("count");
    assert_eq!(
        audited, 0,
        "touching last_used_at is bookkeeping, not audited"
    );

    // Once the stored time is a minute old, the next use writes it again.
    admin_exec(
        &admin,
        "UPDATE sessions SET last_used_at = now() - interval '61 seconds'",
    )
    .await;
    let old = used().await.expect("set");
    auth::resolve_session(&pool, &token).await.expect("later");
    let later = used().await.expect("touched");
    assert!(
        later > old + chrono::Duration::seconds(60),
        "{old} -> {later}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_admins_and_owners_invite_and_only_owners_invite_owners() {
    let db = TestDatabase::new().expect("db");
    let pool = db.app_pool(2).expect("pool");
    let t = make_tenant(&pool, "inviters").await;
    let member = make_user(&pool, t, MemberRole::Member).await;
    let admin_user = make_user(&pool, t, MemberRole::Admin).await;
    let owner = make_user(&pool, t, MemberRole::Owner).await;

    let try_invite = async |ctx: TenantContext, role: MemberRole, email: &str| {
        let email = email.to_owned();
        pool.with_tenant(&ctx, async |conn| {
            auth::create_invite(conn, &email, role, DEFAULT_INVITE_TTL).await
        })
        .await
    };
    let by_member = try_invite(
        as_user(t, member, MemberRole::Member),
        MemberRole::Member,
        "m@x.test",
    )
    .await;
    assert!(
        matches!(by_member, Err(Error::Forbidden(_))),
        "{by_member:?}"
    );
    let owner_by_admin = try_invite(
        as_user(t, admin_user, MemberRole::Admin),
        MemberRole::Owner,
        "o@x.test",
    )
    .await;
    assert!(
        matches!(owner_by_admin, Err(Error::Forbidden(_))),
        "{owner_by_admin:?}"
    );

    let by_admin = try_invite(
        as_user(t, admin_user, MemberRole::Admin),
        MemberRole::Member,
        "new@x.test",
    )
    .await
    .expect("admin invites a member");
    assert_eq!(by_admin.invite.invited_by, Some(admin_user));
    assert!(by_admin.token.expose().starts_with("rgi_"));
    let by_owner = try_invite(
        as_user(t, owner, MemberRole::Owner),
        MemberRole::Owner,
        "boss@x.test",
    )
    .await
    .expect("owner invites an owner");
    assert_eq!(by_owner.invite.role, MemberRole::Owner);

    // One open invite per address.
    let dup = try_invite(
        as_user(t, owner, MemberRole::Owner),
        MemberRole::Member,
        "NEW@x.test",
    )
    .await;
    assert!(
        matches!(&dup, Err(Error::UniqueViolation { constraint }) if constraint == "invites_tenant_pending_email_key"),
        "{dup:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invite_is_accepted_exactly_once_even_when_acceptances_race() {
    let db = TestDatabase::new().expect("db");
    let pool = db.app_pool(4).expect("pool");
    let admin = admin_for(&pool);
    let t = make_tenant(&pool, "accept").await;
    let other = make_tenant(&pool, "accept-other").await;
    let owner = make_user(&pool, t, MemberRole::Owner).await;
    let owner_ctx = as_user(t, owner, MemberRole::Owner);
    let users_of = async |tenant: TenantId| -> i64 {
        pool.with_tenant(&TenantContext::new(tenant), async |conn| {
            count(conn, "users").await
        })
        .await
        .expect("count")
    };
    let invite = async |email: &str, role: MemberRole| -> String {
        let email = email.to_owned();
        pool.with_tenant(&owner_ctx, async |conn| {
            auth::create_invite(conn, &email, role, DEFAULT_INVITE_TTL).await
        })
        .await
        .expect("invite")
        .token
        .into_string()
    };

    let token = invite("joiner@x.test", MemberRole::Admin).await;
    let before = users_of(t).await;
    let accepted = auth::accept_invite(&pool, &token, "Joiner")
        .await
        .expect("accept");
    assert_eq!(accepted.user.email, "joiner@x.test");
    assert_eq!(accepted.user.role, MemberRole::Admin);
    assert_eq!(accepted.user.tenant_id, t);
    assert_eq!(
        accepted.context,
        as_user(t, accepted.user.id, MemberRole::Admin)
    );
    assert_eq!(users_of(t).await, before + 1);
    assert_eq!(users_of(other).await, 0, "nothing lands in another tenant");
    let second = auth::accept_invite(&pool, &token, "Joiner again").await;
    assert!(matches!(second, Err(Error::InvalidToken)), "{second:?}");
    assert_eq!(users_of(t).await, before + 1);

    // Racing acceptances: one user, one winner, every round.
    for round in 0..5 {
        let token = invite(&format!("racer{round}@x.test"), MemberRole::Member).await;
        let before = users_of(t).await;
        let (a, b) = tokio::join!(
            auth::accept_invite(&pool, &token, "Racer A"),
            auth::accept_invite(&pool, &token, "Racer B"),
        );
        assert_eq!(
            [a.is_ok(), b.is_ok()].iter().filter(|ok| **ok).count(),
            1,
            "round {round}: {a:?} / {b:?}"
        );
        for r in [a, b] {
            if let Err(e) = r {
                assert!(matches!(e, Error::InvalidToken), "{e:?}");
            }
        }
        assert_eq!(users_of(t).await, before + 1);
    }

    // Expired invites are refused, and accept nothing.
    let token = invite("late@x.test", MemberRole::Member).await;
    admin
        .as_admin("test: expire the invite", async |conn| {
            Ok(
                diesel::update(invites::table.filter(invites::email.eq("late@x.test")))
                    .set(invites::expires_at.eq(chrono::Utc::now() - chrono::Duration::seconds(1)))
                    .execute(conn)
                    .await?,
            )
        })
        .await
        .expect("expire");
    let late = auth::accept_invite(&pool, &token, "Late").await;
    assert!(matches!(late, Err(Error::InvalidToken)), "{late:?}");
    let unknown = auth::accept_invite(&pool, "rgi_nothing", "Nobody").await;
    assert!(matches!(unknown, Err(Error::InvalidToken)), "{unknown:?}");
    // A fresh invite for the expired one's address replaces it.
    let again = invite("late@x.test", MemberRole::Member).await;
    auth::accept_invite(&pool, &again, "Late but welcome")
        .await
        .expect("accept");
}
