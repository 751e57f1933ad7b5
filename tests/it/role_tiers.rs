//! Role tiers are enforced by PostgreSQL (policies/40_role_tiers.sql), through
//! `TenantPool::with_tenant` with `TenantContext::with_user(user, role)`, acting as the
//! application login role:
//! - viewers read business rows and write none;
//! - members write business rows, but cannot manage users, invites, integrations,
//!   automations or the tenant row, and do not see invites or the audit log;
//! - admins and owners manage users, invites, integrations and automations; only an
//!   owner creates, changes or deletes an owner;
//! - every user sees and changes only their own notifications;
//! - a context with no user and no role is the tenant's service context (full access
//!   within the tenant); a user with no role, or an unknown role, is refused (42501).

use rowguard::pool::TenantPool;
use rowguard::{Error, MemberRole, TenantContext, TenantId, UserId};
use rowguard_testkit::fixtures::{count, exec, make_tenant, make_user};

struct Team {
    tenant: TenantId,
    owner: UserId,
    admin: UserId,
    member: UserId,
    viewer: UserId,
}

impl Team {
    async fn new(pool: &TenantPool, slug: &str) -> Team {
        let tenant = make_tenant(pool, slug).await;
        Team {
            tenant,
            owner: make_user(pool, tenant, MemberRole::Owner).await,
            admin: make_user(pool, tenant, MemberRole::Admin).await,
            member: make_user(pool, tenant, MemberRole::Member).await,
            viewer: make_user(pool, tenant, MemberRole::Viewer).await,
        }
    }

    fn as_(&self, role: MemberRole) -> TenantContext {
        let user = match role {
            MemberRole::Owner => self.owner,
            MemberRole::Admin => self.admin,
            MemberRole::Member => self.member,
            MemberRole::Viewer => self.viewer,
        };
        TenantContext::new(self.tenant).with_user(user, role)
    }

    fn service(&self) -> TenantContext {
        TenantContext::new(self.tenant)
    }
}

/// Runs one statement in its own tenant transaction and returns rows affected.
async fn run(pool: &TenantPool, ctx: &TenantContext, sql: &str) -> rowguard::Result<usize> {
    let sql = sql.to_owned();
    pool.with_tenant(ctx, async |conn| exec(conn, &sql).await)
        .await
}

async fn rows(pool: &TenantPool, ctx: &TenantContext, from: &str) -> i64 {
    let from = from.to_owned();
    pool.with_tenant(ctx, async |conn| count(conn, &from).await)
        .await
        .expect("count")
}

/// HMAC-SHA256 of `message` from the key's pads, as lower-case hex: what the database
/// verifies, computed here to sign claims the pool never signs.
fn hmac_hex(key: &rowguard::context::ContextKey, message: &str) -> String {
    use sha2::{Digest, Sha256};
    let inner = Sha256::new()
        .chain_update(key.inner_pad())
        .chain_update(message.as_bytes())
        .finalize();
    let mac = Sha256::new()
        .chain_update(key.outer_pad())
        .chain_update(inner)
        .finalize();
    mac.iter().map(|b| format!("{b:02x}")).collect()
}

#[track_caller]
fn assert_forbidden(r: rowguard::Result<usize>, what: &str) {
    match r {
        Err(Error::Forbidden(_)) => {}
        other => panic!("{what}: expected Error::Forbidden, got {other:?}"),
    }
}

const NEW_TASK: &str =
    "INSERT INTO tasks (tenant_id, title) VALUES (rowguard.current_tenant_id(), 'write the report')";
const NEW_INTEGRATION: &str =
    "INSERT INTO integrations (tenant_id, provider) VALUES (rowguard.current_tenant_id(), 'slack')";
const NEW_AUTOMATION: &str = "INSERT INTO automations (tenant_id, name, trigger, action) \
     VALUES (rowguard.current_tenant_id(), 'welcome', '{\"on\": \"user.created\"}', '{\"send\": \"mail\"}')";

fn new_invite(role: &str) -> String {
    format!(
        "INSERT INTO invites (tenant_id, email, role, token_hash, expires_at) \
         VALUES (rowguard.current_tenant_id(), 'new-{role}@example.test', '{role}', \
                 sha256(gen_random_uuid()::text::bytea), now() + interval '1 day')"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn viewers_read_business_rows_and_write_none() {
    let db = rowguard_testkit::server::TestDatabase::new().expect("db");
    let pool = db.app_pool(2).expect("pool");
    let team = Team::new(&pool, "acme").await;
    run(&pool, &team.service(), NEW_TASK)
        .await
        .expect("seed task");
    let viewer = team.as_(MemberRole::Viewer);

    assert_eq!(rows(&pool, &viewer, "tasks").await, 1, "a viewer reads");
    assert_eq!(
        rows(&pool, &viewer, "users").await,
        4,
        "a viewer sees the team"
    );
    assert_forbidden(run(&pool, &viewer, NEW_TASK).await, "viewer INSERT");
    assert_forbidden(
        run(&pool, &viewer, "UPDATE tasks SET title = 'changed'").await,
        "viewer UPDATE",
    );
    assert_eq!(
        run(&pool, &viewer, "DELETE FROM tasks")
            .await
            .expect("delete"),
        0,
        "a viewer's DELETE matches no row"
    );
    assert_forbidden(
        run(&pool, &viewer, NEW_INTEGRATION).await,
        "viewer integration",
    );
    assert_eq!(rows(&pool, &team.service(), "tasks").await, 1);
    assert_eq!(
        rows(
            &pool,
            &team.service(),
            "tasks WHERE title = 'write the report'"
        )
        .await,
        1,
        "nothing a viewer tried changed the row"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_write_business_rows_but_manage_nothing() {
    let db = rowguard_testkit::server::TestDatabase::new().expect("db");
    let pool = db.app_pool(2).expect("pool");
    let team = Team::new(&pool, "acme").await;
    let member = team.as_(MemberRole::Member);

    assert_eq!(run(&pool, &member, NEW_TASK).await.expect("insert"), 1);
    assert_eq!(
        run(
            &pool,
            &member,
            "UPDATE tasks SET status = 'done', completed_at = now()"
        )
        .await
        .expect("update"),
        1
    );
    assert_eq!(
        run(&pool, &member, "DELETE FROM tasks")
            .await
            .expect("delete"),
        1
    );

    assert_forbidden(
        run(&pool, &member, NEW_INTEGRATION).await,
        "member integration",
    );
    assert_forbidden(
        run(&pool, &member, NEW_AUTOMATION).await,
        "member automation",
    );
    assert_forbidden(
        run(&pool, &member, &new_invite("viewer")).await,
        "member invite",
    );
    assert_eq!(
        run(&pool, &member, "UPDATE users SET role = 'admin'")
            .await
            .expect("update"),
        0,
        "a member may change no user (role_tier_update hides every row from it)"
    );
    assert_forbidden(
        run(&pool, &member, "UPDATE tenants SET name = 'mine now'").await,
        "member renaming the tenant",
    );
    assert_eq!(
        run(&pool, &member, "DELETE FROM users")
            .await
            .expect("delete"),
        0,
        "a member deletes no user"
    );
    run(&pool, &team.service(), &new_invite("member"))
        .await
        .expect("service invites");
    assert_eq!(
        rows(&pool, &member, "invites").await,
        0,
        "invites are hidden"
    );
    assert_eq!(rows(&pool, &team.service(), "users").await, 4);
    assert_eq!(
        rows(&pool, &team.service(), "users WHERE role = 'admin'").await,
        1,
        "no user was promoted"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_and_owners_manage_users_invites_integrations_and_automations() {
    let db = rowguard_testkit::server::TestDatabase::new().expect("db");
    let pool = db.app_pool(2).expect("pool");
    for role in [MemberRole::Admin, MemberRole::Owner] {
        let team = Team::new(&pool, &format!("acme-{role}")).await;
        let ctx = team.as_(role);
        assert_eq!(
            run(&pool, &ctx, NEW_INTEGRATION)
                .await
                .expect("integration"),
            1
        );
        assert_eq!(
            run(&pool, &ctx, "UPDATE integrations SET status = 'disabled'")
                .await
                .expect("update integration"),
            1
        );
        assert_eq!(
            run(&pool, &ctx, NEW_AUTOMATION).await.expect("automation"),
            1
        );
        assert_eq!(
            run(&pool, &ctx, "DELETE FROM automations")
                .await
                .expect("delete"),
            1
        );
        assert_eq!(
            run(&pool, &ctx, &new_invite("member"))
                .await
                .expect("invite"),
            1
        );
        assert_eq!(rows(&pool, &ctx, "invites").await, 1);
        let promote = format!(
            "UPDATE users SET role = 'member' WHERE id = '{}'",
            team.viewer
        );
        assert_eq!(run(&pool, &ctx, &promote).await.expect("promote"), 1);
        assert_eq!(
            run(&pool, &ctx, "UPDATE tenants SET name = 'Acme Ltd'")
                .await
                .expect("rename tenant"),
            1
        );
        // The tenant's setup (through the admin path) and these writes: 5 rows for the
        // tenant and its users, then the integration, its update, the automation and
        // its deletion, the invite, the promotion and the rename.
        assert_eq!(
            rows(&pool, &ctx, "audit_log").await,
            12,
            "admins read the audit log"
        );

        // Owners are managed only by owners.
        let self_promote = format!(
            "UPDATE users SET role = 'owner' WHERE id = '{}'",
            team.admin
        );
        let demote_owner = format!(
            "UPDATE users SET role = 'member' WHERE id = '{}'",
            team.owner
        );
        let delete_owner = format!("DELETE FROM users WHERE id = '{}'", team.owner);
        if role == MemberRole::Admin {
            assert_forbidden(run(&pool, &ctx, &self_promote).await, "admin -> owner");
            assert_forbidden(
                run(&pool, &ctx, &new_invite("owner")).await,
                "admin invites owner",
            );
            assert_eq!(run(&pool, &ctx, &demote_owner).await.expect("demote"), 0);
            assert_eq!(run(&pool, &ctx, &delete_owner).await.expect("delete"), 0);
            assert_eq!(
                rows(&pool, &team.service(), "users WHERE role = 'owner'").await,
                1,
                "the owner is untouched"
            );
        } else {
            assert_eq!(run(&pool, &ctx, &self_promote).await.expect("promote"), 1);
            assert_eq!(
                run(&pool, &ctx, &new_invite("owner"))
                    .await
                    .expect("invite owner"),
                1
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_user_sees_and_changes_only_their_own_notifications() {
    let db = rowguard_testkit::server::TestDatabase::new().expect("db");
    let pool = db.app_pool(2).expect("pool");
    let team = Team::new(&pool, "acme").await;
    let service = team.service();
    for user in [team.member, team.viewer, team.viewer] {
        run(
            &pool,
            &service,
            &format!(
                "INSERT INTO notifications (tenant_id, user_id, kind, title) \
                 VALUES (rowguard.current_tenant_id(), '{user}', 'mention', 'hello')"
            ),
        )
        .await
        .expect("service notifies");
    }
    assert_eq!(rows(&pool, &service, "notifications").await, 3);
    assert_eq!(
        rows(&pool, &team.as_(MemberRole::Member), "notifications").await,
        1
    );
    assert_eq!(
        rows(&pool, &team.as_(MemberRole::Viewer), "notifications").await,
        2
    );
    assert_eq!(
        rows(&pool, &team.as_(MemberRole::Owner), "notifications").await,
        0
    );
    assert_eq!(
        rows(&pool, &team.as_(MemberRole::Admin), "notifications").await,
        0
    );

    let member = team.as_(MemberRole::Member);
    let viewer = team.as_(MemberRole::Viewer);
    assert_eq!(
        run(&pool, &viewer, "UPDATE notifications SET read_at = now()")
            .await
            .expect("mark read"),
        2,
        "a viewer marks its own notifications read"
    );
    assert_eq!(
        run(&pool, &member, "DELETE FROM notifications")
            .await
            .expect("delete"),
        1,
        "only the member's own notification goes"
    );
    assert_forbidden(
        run(
            &pool,
            &member,
            &format!(
                "INSERT INTO notifications (tenant_id, user_id, kind, title) \
                 VALUES (rowguard.current_tenant_id(), '{}', 'spam', 'hi')",
                team.viewer
            ),
        )
        .await,
        "a member notifying someone else",
    );
    assert_eq!(rows(&pool, &service, "notifications").await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_role_is_the_service_context_and_anything_inconsistent_fails_closed() {
    let db = rowguard_testkit::server::TestDatabase::new().expect("db");
    let pool = db.app_pool(2).expect("pool");
    let team = Team::new(&pool, "acme").await;
    let other = Team::new(&pool, "globex").await;
    let service = team.service();

    // The service context: everything within the tenant, nothing outside it.
    assert_eq!(
        run(&pool, &service, NEW_INTEGRATION)
            .await
            .expect("integration"),
        1
    );
    assert_eq!(run(&pool, &service, NEW_TASK).await.expect("task"), 1);
    assert_eq!(rows(&pool, &service, "users").await, 4);
    assert_eq!(rows(&pool, &other.service(), "tasks").await, 0);
    assert_eq!(rows(&pool, &other.service(), "integrations").await, 0);
    assert_eq!(rows(&pool, &other.as_(MemberRole::Owner), "users").await, 4);

    // A user without a role: refused by the verification itself (42501), never read as
    // an empty table.
    let roleless = TenantContext {
        tenant_id: team.tenant,
        user_id: Some(team.member),
        role: None,
    };
    for table in ["tasks", "users"] {
        let read = pool
            .with_tenant(&roleless, async |conn| count(conn, table).await)
            .await;
        assert_forbidden(read.map(|n| n as usize), "user without role, read");
    }
    assert_forbidden(run(&pool, &roleless, NEW_TASK).await, "user without role");

    // A role no tier names, genuinely signed with the pool's key (as a signer in
    // another language could): refused the same way.
    let key = db.context_key();
    let payload = format!(
        "v1.{}.{}.{}.superadmin.{}",
        key.id(),
        team.tenant,
        team.member,
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs()
            + 600
    );
    let signed = format!("{payload}.{}", hmac_hex(&key, &payload));
    let unknown_role = pool
        .with_tenant(&team.as_(MemberRole::Member), async |conn| {
            exec(
                conn,
                &format!("SELECT set_config('app.context', '{signed}', true)"),
            )
            .await?;
            count(conn, "tasks").await
        })
        .await;
    assert_forbidden(unknown_role.map(|n| n as usize), "unknown role, signed");

    // A role set by SQL inside the transaction (as an injected statement could):
    // unsigned, the context is refused; the old unsigned setting is not read at all.
    let member = team.as_(MemberRole::Member);
    let forged = format!(
        "SELECT set_config('app.context', 'v1.1.{}.{}.superadmin.9999999999.{}', true)",
        member.tenant_id,
        member.user_id.expect("user"),
        "0".repeat(64)
    );
    let err = pool
        .with_tenant(&member, async |conn| {
            exec(conn, &forged).await?;
            count(conn, "tasks").await
        })
        .await;
    assert_forbidden(err.map(|n| n as usize), "forged role, read");
    let err = pool
        .with_tenant(&member, async |conn| {
            exec(conn, &forged).await?;
            exec(conn, NEW_TASK).await
        })
        .await;
    assert_forbidden(err, "forged role, write");
    let as_member = pool
        .with_tenant(&member, async |conn| {
            exec(conn, "SELECT set_config('app.role', 'superadmin', true)").await?;
            count(conn, "tasks").await
        })
        .await
        .expect("the unsigned setting changes nothing");
    assert_eq!(as_member, rows(&pool, &member, "tasks").await);
}
