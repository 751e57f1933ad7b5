//! The audit trail (`rowguard::audit`, migration `2026-12-01-000017_audit`), acting as
//! the application login through the pool, or through the admin path with a reason:
//! - every insert, update and delete on a tenant table writes an audit row in the same
//!   transaction (a rolled-back write leaves none), with the tenant, the verified actor,
//!   the action, the table, the row id and the changed columns;
//! - the admin path's writes carry its reason; a tenant transaction cannot pose as the
//!   admin path (nor skip auditing), not even by clearing its context mid-statement;
//! - token hashes, integration credentials, embedding vectors and generated columns
//!   never reach the log, the log does not audit itself, and a table protected later
//!   (`rowguard.protect_table`) is audited with its exclusions kept current;
//! - the log is append-only for the application and the admin role, and keeps the
//!   actor's id after the user is deleted;
//! - `AuditQuery` pages by target, actor and time range with an opaque cursor;
//! - deleting a tenant does not audit its rows one by one.

use chrono::{DateTime, Utc};
use diesel::sql_types::{Text, Uuid as SqlUuid};
use diesel::QueryableByName;
use diesel_async::RunQueryDsl;
use rowguard::audit::{Actor, AuditLogEntry, AuditPage, AuditQuery, Cursor};
use rowguard::pool::{AdminPool, TenantPool};
use rowguard::{Error, MemberRole, TenantContext, TenantId, UserId};
use rowguard_testkit::fixtures::{admin_for, count, exec, make_tenant, make_user};
use rowguard_testkit::server::TestDatabase;
use serde_json::json;
use uuid::Uuid;

#[derive(QueryableByName)]
struct Id {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
}

/// Inserts a task as `ctx` and returns its id.
async fn new_task(pool: &TenantPool, ctx: &TenantContext, title: &str) -> Uuid {
    let title = title.to_owned();
    pool.with_tenant(ctx, async |conn| {
        let row: Id = diesel::sql_query(
            "INSERT INTO tasks (tenant_id, title) VALUES (rowguard.current_tenant_id(), $1) RETURNING id",
        )
        .bind::<Text, _>(title)
        .get_result(conn)
        .await?;
        Ok(row.id)
    })
    .await
    .expect("insert task")
}

/// Runs one statement as `ctx`, binding `id` as `$1`.
async fn run_with(
    pool: &TenantPool,
    ctx: &TenantContext,
    sql: &str,
    id: Uuid,
) -> rowguard::Result<usize> {
    let sql = sql.to_owned();
    pool.with_tenant(ctx, async |conn| {
        Ok(diesel::sql_query(sql)
            .bind::<SqlUuid, _>(id)
            .execute(conn)
            .await?)
    })
    .await
}

/// Every audit row of the target, newest first, read as the tenant's owner.
async fn trail(pool: &TenantPool, owner: &TenantContext, target: Uuid) -> Vec<AuditLogEntry> {
    pool.with_tenant(owner, async |conn| {
        AuditQuery::new().target(target).run(conn).await
    })
    .await
    .expect("audit trail")
    .entries
}

/// The tenant's audit rows, all of them, through the admin path.
async fn all_rows(admin: &AdminPool, tenant: TenantId) -> Vec<AuditLogEntry> {
    admin
        .as_admin("test: read the audit trail", async |conn| {
            AuditQuery::new().limit(1000).run_admin(conn, tenant).await
        })
        .await
        .expect("audit rows")
        .entries
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_write_is_audited_in_its_transaction_with_the_verified_user() {
    let db = TestDatabase::new().expect("db");
    let pool = db.app_pool(2).expect("pool");
    let tenant = make_tenant(&pool, "audited").await;
    let owner = make_user(&pool, tenant, MemberRole::Owner).await;
    let member = make_user(&pool, tenant, MemberRole::Member).await;
    let as_owner = TenantContext::new(tenant).with_user(owner, MemberRole::Owner);
    let as_member = TenantContext::new(tenant).with_user(member, MemberRole::Member);

    let task = new_task(&pool, &as_member, "first draft").await;
    run_with(
        &pool,
        &as_member,
        "UPDATE tasks SET title = 'final draft', priority = 'high' WHERE id = $1",
        task,
    )
    .await
    .expect("update");
    run_with(&pool, &as_member, "DELETE FROM tasks WHERE id = $1", task)
        .await
        .expect("delete");

    let rows = trail(&pool, &as_owner, task).await;
    let actions: Vec<&str> = rows.iter().map(|r| r.action.as_str()).collect();
    assert_eq!(actions, ["delete", "update", "insert"], "newest first");
    for r in &rows {
        assert_eq!(r.tenant_id, tenant);
        assert_eq!(r.actor_user_id, Some(member));
        assert_eq!(r.actor, format!("user:{member}"));
        assert_eq!(r.target_type, "tasks");
        assert_eq!(r.target_id, Some(task));
    }
    let (delete, update, insert) = (&rows[0].changes, &rows[1].changes, &rows[2].changes);
    assert_eq!(insert["new"]["title"], "first draft");
    assert!(insert.get("old").is_none(), "{insert}");
    // The changed columns only: the two set, and updated_at (set by its trigger).
    let mut update = update.clone();
    for side in ["old", "new"] {
        let stamped = update[side]
            .as_object_mut()
            .and_then(|o| o.remove("updated_at"));
        assert!(stamped.is_some(), "{side}.updated_at in {update}");
    }
    assert_eq!(
        update,
        json!({"old": {"title": "first draft", "priority": "medium"},
               "new": {"title": "final draft", "priority": "high"}}),
        "an update records the changed columns only"
    );
    assert_eq!(delete["old"]["title"], "final draft");
    assert!(delete.get("new").is_none(), "{delete}");

    // The service context is `service`, with no user.
    let by_service = new_task(&pool, &TenantContext::new(tenant), "nightly job").await;
    let rows = trail(&pool, &as_owner, by_service).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0].actor.as_str(), rows[0].actor_user_id),
        ("service", None)
    );

    // Same transaction: a write that rolls back leaves no audit row.
    let before = all_rows(&admin_for(&pool), tenant).await.len();
    let failed: rowguard::Result<()> = pool
        .with_tenant(&as_member, async |conn| {
            exec(conn, "INSERT INTO tasks (tenant_id, title) VALUES (rowguard.current_tenant_id(), 'undone')").await?;
            Err(Error::InvalidInput("the caller changed its mind".into()))
        })
        .await;
    assert!(failed.is_err());
    assert_eq!(all_rows(&admin_for(&pool), tenant).await.len(), before);

    // A member's writes are audited, but the role tier hides the log from members.
    let page = pool
        .with_tenant(&as_member, async |conn| AuditQuery::new().run(conn).await)
        .await
        .expect("member reads");
    assert!(page.entries.is_empty(), "members do not read the audit log");

    // A context whose user is not (or no longer) a row of users still writes.
    let stranger = TenantContext::new(tenant).with_user(UserId::new_v7(), MemberRole::Member);
    let t = new_task(&pool, &stranger, "from an SSO user not yet provisioned").await;
    assert_eq!(
        trail(&pool, &as_owner, t).await[0].actor_user_id,
        stranger.user_id
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_path_is_audited_with_its_reason_and_cannot_be_impersonated() {
    let db = TestDatabase::new().expect("db");
    let pool = db.app_pool(2).expect("pool");
    let admin = db.admin_pool(1).expect("admin");
    let tenant = make_tenant(&pool, "support").await;
    let member = make_user(&pool, tenant, MemberRole::Member).await;
    let as_member = TenantContext::new(tenant).with_user(member, MemberRole::Member);

    let task: Uuid = admin
        .as_admin("support ticket 4711: restore a task", async |conn| {
            let row: Id = diesel::sql_query(
                "INSERT INTO tasks (tenant_id, title) VALUES ($1, 'restored') RETURNING id",
            )
            .bind::<SqlUuid, _>(tenant.as_uuid())
            .get_result(conn)
            .await?;
            Ok(row.id)
        })
        .await
        .expect("admin insert");
    let rows = all_rows(&admin, tenant).await;
    let row = rows
        .iter()
        .find(|r| r.target_id == Some(task))
        .expect("the admin's insert is audited");
    assert_eq!(row.actor, "admin:support ticket 4711: restore a task");
    assert_eq!(row.actor_user_id, None);
    assert_eq!(row.action, "insert");
    // make_tenant and make_user went through the admin path too.
    assert!(rows
        .iter()
        .any(|r| r.target_type == "tenants" && r.actor == "admin:test setup: create tenant"));

    // Settings a tenant transaction makes are ignored: it stays the verified user.
    let sql = format!(
        "WITH s AS (SELECT set_config('rowguard.admin_reason', 'forged', true), \
                           set_config('rowguard.audit_bulk', '{tenant}', true)) \
         INSERT INTO tasks (tenant_id, title) SELECT rowguard.current_tenant_id(), 'posing' FROM s RETURNING id"
    );
    let posing: Uuid = pool
        .with_tenant(&as_member, async |conn| {
            Ok(diesel::sql_query(sql).get_result::<Id>(conn).await?.id)
        })
        .await
        .expect("insert with forged settings");
    let rows = all_rows(&admin, tenant).await;
    let row = rows
        .iter()
        .find(|r| r.target_id == Some(posing))
        .expect("audited despite audit_bulk");
    assert_eq!(row.actor, format!("user:{member}"));

    // Clearing the context half-way through a statement (after the policies checked the
    // first row) and claiming the admin path: the trigger sees no context and a role
    // that does not bypass row-level security, and refuses.
    let sql = format!(
        "INSERT INTO tasks (tenant_id, title) \
         SELECT '{tenant}'::uuid, 'row ' || g FROM generate_series(1, 2) g \
          WHERE g = 1 OR (set_config('app.context', '', true) || \
                          set_config('rowguard.admin_reason', 'forged', true) || \
                          set_config('rowguard.audit_bulk', '{tenant}', true)) IS NOT NULL"
    );
    let outcome = pool
        .with_tenant(&as_member, async |conn| exec(conn, &sql).await)
        .await;
    match outcome {
        Err(Error::Forbidden(m)) => assert!(m.contains("does not bypass"), "{m}"),
        other => panic!("expected Forbidden from the audit trigger, got {other:?}"),
    }
    let rows = all_rows(&admin, tenant).await;
    assert!(rows.iter().all(|r| !r.actor.contains("forged")), "{rows:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_vectors_and_generated_columns_stay_out() {
    let db = TestDatabase::new().expect("db");
    let pool = db.app_pool(2).expect("pool");
    let tenant = make_tenant(&pool, "secretive").await;
    let owner = make_user(&pool, tenant, MemberRole::Owner).await;
    let as_owner = TenantContext::new(tenant).with_user(owner, MemberRole::Owner);

    let written = pool
        .with_tenant(&as_owner, async |conn| {
            exec(conn, &format!(
                "INSERT INTO sessions (tenant_id, user_id, token_hash, expires_at) \
                 VALUES (rowguard.current_tenant_id(), '{owner}', sha256('session token'), now() + interval '1 hour')"
            )).await?;
            exec(conn, "UPDATE sessions SET token_hash = sha256('rotated')").await?;
            exec(conn, &format!(
                "INSERT INTO invites (tenant_id, email, role, token_hash, invited_by, expires_at) \
                 VALUES (rowguard.current_tenant_id(), 'new@example.test', 'member', sha256('invite token'), '{owner}', now() + interval '1 day')"
            )).await?;
            exec(conn, "INSERT INTO integrations (tenant_id, provider, credentials_encrypted) \
                 VALUES (rowguard.current_tenant_id(), 'slack', '\\x00112233')").await?;
            exec(conn, "UPDATE integrations SET credentials_encrypted = '\\x44556677', last_error = 'none'").await?;
            exec(conn, "INSERT INTO documents (tenant_id, title) VALUES (rowguard.current_tenant_id(), 'Handbook')").await?;
            exec(conn, "INSERT INTO document_embeddings (tenant_id, document_id, chunk_index, chunk, model, embedding) \
                 SELECT tenant_id, id, 0, 'the handbook says', 'test', array_fill(0.5, ARRAY[1536])::vector FROM documents").await?;
            exec(conn, "UPDATE document_embeddings SET chunk = 'the handbook said', embedding = array_fill(0.25, ARRAY[1536])::vector").await?;
            Ok(())
        })
        .await;
    written.expect("writes");

    let rows = all_rows(&db.admin_pool(1).expect("admin"), tenant).await;
    let of = |table: &str| -> Vec<&AuditLogEntry> {
        rows.iter().filter(|r| r.target_type == table).collect()
    };
    for (table, hidden) in [
        ("sessions", vec!["token_hash"]),
        ("invites", vec!["token_hash"]),
        ("integrations", vec!["credentials_encrypted"]),
        ("document_embeddings", vec!["embedding", "chunk_tsv"]),
    ] {
        let audited = of(table);
        assert!(!audited.is_empty(), "{table} is audited");
        for r in audited {
            for side in ["old", "new"] {
                if let Some(cols) = r.changes.get(side) {
                    for col in &hidden {
                        assert!(cols.get(*col).is_none(), "{table}.{col} in {}", r.changes);
                    }
                }
            }
        }
    }
    // The rest of the row is there, and an update of a left-out column alone is still
    // recorded, with nothing to show.
    let session_update = of("sessions")
        .into_iter()
        .find(|r| r.action == "update")
        .expect("update");
    assert_eq!(session_update.changes, json!({"old": {}, "new": {}}));
    let chunk_update = of("document_embeddings")
        .into_iter()
        .find(|r| r.action == "update")
        .expect("update");
    assert_eq!(
        chunk_update.changes,
        json!({"old": {"chunk": "the handbook says"}, "new": {"chunk": "the handbook said"}})
    );
    let integration = of("integrations")
        .into_iter()
        .find(|r| r.action == "update")
        .expect("update");
    assert_eq!(integration.changes["new"], json!({"last_error": "none"}));

    // The log does not audit itself: one insert into it is one row.
    let before = rows.len();
    pool.with_tenant(&as_owner, async |conn| {
        exec(
            conn,
            "INSERT INTO audit_log (tenant_id, actor, action, target_type) \
             VALUES (rowguard.current_tenant_id(), 'app', 'report.exported', 'reports')",
        )
        .await
    })
    .await
    .expect("the application writes its own audit row");
    let after = all_rows(&db.admin_pool(1).expect("admin"), tenant).await;
    assert_eq!(after.len(), before + 1);
}

#[derive(QueryableByName)]
struct Trigger {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = diesel::sql_types::Nullable<Text>)]
    definition: Option<String>,
}

/// Catalog facts, read as the owner (the catalog, not the behaviour under test).
fn triggers(db: &TestDatabase) -> Vec<Trigger> {
    let mut owner = db.owner_conn().expect("owner");
    let query = diesel::sql_query(format!(
        "SELECT tt.table_name, pg_get_triggerdef(t.oid) AS definition \
         FROM ({}) tt LEFT JOIN pg_trigger t ON t.tgrelid = tt.name::regclass AND t.tgname = 'audit' \
         ORDER BY 1",
        rowguard::catalog::TENANT_TABLES_SQL
    ));
    diesel::RunQueryDsl::load(query, &mut owner).expect("triggers")
}

/// Runs `statements` as the owner, in order (schema set-up, not the behaviour under test).
fn as_owner(db: &TestDatabase, statements: &[&str]) {
    let mut owner = db.owner_conn().expect("owner");
    for sql in statements {
        diesel::RunQueryDsl::execute(diesel::sql_query(*sql), &mut owner).expect(sql);
    }
}

/// The definition of `table`'s audit trigger.
fn audit_trigger_of(db: &TestDatabase, table: &str) -> String {
    triggers(db)
        .into_iter()
        .find(|t| t.table_name == table)
        .and_then(|t| t.definition)
        .unwrap_or_else(|| panic!("{table} is not audited"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_tenant_table_is_audited_and_protect_table_keeps_it_current() {
    let db = TestDatabase::new().expect("db");
    for t in triggers(&db) {
        match t.table_name.as_str() {
            name if rowguard::audit::UNAUDITED_TABLES.contains(&name) => {
                assert!(
                    t.definition.is_none(),
                    "{} must not be audited",
                    t.table_name
                )
            }
            _ => {
                let def = t
                    .definition
                    .unwrap_or_else(|| panic!("{} has no audit trigger", t.table_name));
                assert!(
                    def.contains("AFTER INSERT OR DELETE OR UPDATE")
                        && def.contains("FOR EACH ROW"),
                    "{def}"
                );
            }
        }
    }

    // A table an application adds later: protect_table attaches the trigger; a secret
    // column added afterwards is named once, and kept on every later call.
    as_owner(
        &db,
        &[
            "CREATE TABLE notes (tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE, \
             id uuid NOT NULL DEFAULT rowguard.uuid_v7(), body text NOT NULL, PRIMARY KEY (tenant_id, id))",
            "SELECT rowguard.protect_table('notes')",
            "ALTER TABLE notes ADD COLUMN api_key text, ADD COLUMN body_vec vector(3), \
             ADD COLUMN body_len int GENERATED ALWAYS AS (length(body)) STORED",
            "SELECT rowguard.audit_table('notes', '{api_key}')",
            "SELECT rowguard.protect_table('notes')",
        ],
    );
    let notes = audit_trigger_of(&db, "notes");
    assert!(
        notes.ends_with("rowguard.audit_row('api_key', 'body_len', 'body_vec')"),
        "{notes}"
    );

    let pool = db.app_pool(1).expect("pool");
    let tenant = make_tenant(&pool, "notes").await;
    pool.with_tenant(&TenantContext::new(tenant), async |conn| {
        exec(
            conn,
            "INSERT INTO notes (tenant_id, body, api_key, body_vec) \
             VALUES (rowguard.current_tenant_id(), 'hello', 'sk-secret', '[1,2,3]')",
        )
        .await
    })
    .await
    .expect("note");
    let rows = all_rows(&db.admin_pool(1).expect("admin"), tenant).await;
    let note = rows
        .iter()
        .find(|r| r.target_type == "notes")
        .expect("the note is audited");
    let new = &note.changes["new"];
    assert_eq!(new["body"], "hello");
    for col in ["api_key", "body_vec", "body_len"] {
        assert!(new.get(col).is_none(), "{col} in {new}");
    }
}

/// The trigger sets the columns it leaves out to NULL before it turns the row into JSON
/// (a vector is never written out as text), except those of domain types, whose
/// constraints a NULL may break: `audit_table` lists them after an empty argument, and
/// the trigger only drops them from the JSON. Writes to such a table keep working.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_left_out_column_of_a_not_null_domain_is_dropped_not_nulled() {
    let db = TestDatabase::new().expect("db");
    as_owner(
        &db,
        &[
            "CREATE DOMAIN api_token AS text NOT NULL CHECK (VALUE <> '')",
            "CREATE TABLE keyed_notes (tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE, \
             id uuid NOT NULL DEFAULT rowguard.uuid_v7(), body text NOT NULL, token api_token, \
             body_vec vector(3), PRIMARY KEY (tenant_id, id))",
            "SELECT rowguard.protect_table('keyed_notes')",
            "SELECT rowguard.audit_table('keyed_notes', '{token}')",
        ],
    );
    let def = audit_trigger_of(&db, "keyed_notes");
    assert!(
        def.ends_with("rowguard.audit_row('body_vec', '', 'token')"),
        "{def}"
    );

    let pool = db.app_pool(1).expect("pool");
    let tenant = make_tenant(&pool, "keyed").await;
    pool.with_tenant(&TenantContext::new(tenant), async |conn| {
        for sql in [
            "INSERT INTO keyed_notes (tenant_id, body, token, body_vec) \
             VALUES (rowguard.current_tenant_id(), 'hello', 'sk-secret', '[1,2,3]')",
            "UPDATE keyed_notes SET body = 'hello again', token = 'sk-other', body_vec = '[3,2,1]'",
            "DELETE FROM keyed_notes",
        ] {
            exec(conn, sql).await?;
        }
        Ok(())
    })
    .await
    .expect("writes to a table with a NOT NULL domain column");
    let rows = all_rows(&db.admin_pool(1).expect("admin"), tenant).await;
    let notes: Vec<_> = rows
        .iter()
        .filter(|r| r.target_type == "keyed_notes")
        .collect();
    let mut actions: Vec<&str> = notes.iter().map(|r| r.action.as_str()).collect();
    actions.sort_unstable();
    assert_eq!(actions, ["delete", "insert", "update"], "{notes:?}");
    let changes = |action: &str| {
        &notes
            .iter()
            .find(|r| r.action == action)
            .expect(action)
            .changes
    };
    assert_eq!(changes("insert")["new"]["body"], "hello");
    assert_eq!(changes("update")["old"], json!({"body": "hello"}));
    assert_eq!(changes("update")["new"], json!({"body": "hello again"}));
    assert_eq!(changes("delete")["old"]["body"], "hello again");
    for row in &notes {
        for side in ["new", "old"] {
            if let Some(values) = row.changes.get(side) {
                for col in ["token", "body_vec"] {
                    assert!(
                        values.get(col).is_none(),
                        "{col} in {}: {values}",
                        row.action
                    );
                }
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_log_is_append_only() {
    let db = TestDatabase::new().expect("db");
    let pool = db.app_pool(2).expect("pool");
    let admin = db.admin_pool(1).expect("admin");
    let tenant = make_tenant(&pool, "append-only").await;
    let owner = make_user(&pool, tenant, MemberRole::Owner).await;
    let member = make_user(&pool, tenant, MemberRole::Member).await;
    let as_owner = TenantContext::new(tenant).with_user(owner, MemberRole::Owner);
    let as_member = TenantContext::new(tenant).with_user(member, MemberRole::Member);
    let task = new_task(&pool, &as_member, "keep me").await;
    let before = all_rows(&admin, tenant).await;

    for sql in [
        "UPDATE audit_log SET actor = 'nobody'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
    ] {
        for ctx in [&as_owner, &TenantContext::new(tenant)] {
            let r = pool
                .with_tenant(ctx, async |conn| exec(conn, sql).await)
                .await;
            assert!(matches!(r, Err(Error::Forbidden(_))), "app: {sql}: {r:?}");
        }
        let r = admin
            .as_admin("test: try to rewrite history", async |conn| {
                exec(conn, sql).await
            })
            .await;
        assert!(matches!(r, Err(Error::Forbidden(_))), "admin: {sql}: {r:?}");
    }
    let after = all_rows(&admin, tenant).await;
    assert_eq!(
        after
            .iter()
            .map(|r| (r.id, r.actor.clone()))
            .collect::<Vec<_>>(),
        before
            .iter()
            .map(|r| (r.id, r.actor.clone()))
            .collect::<Vec<_>>()
    );

    // Deleting the user who acted leaves their audit rows as they were.
    admin
        .as_admin("test: remove a user", async |conn| {
            diesel::sql_query("DELETE FROM users WHERE id = $1")
                .bind::<SqlUuid, _>(member.as_uuid())
                .execute(conn)
                .await?;
            Ok(())
        })
        .await
        .expect("delete user");
    let rows = trail(&pool, &as_owner, task).await;
    assert_eq!(rows[0].actor_user_id, Some(member), "the actor's id stays");
    let user_rows = all_rows(&admin, tenant).await;
    assert!(user_rows.iter().any(|r| r.target_type == "users"
        && r.action == "delete"
        && r.target_id == Some(member.as_uuid())));
}

async fn collect_pages(
    pool: &TenantPool,
    ctx: &TenantContext,
    query: AuditQuery,
) -> (Vec<AuditLogEntry>, usize) {
    let mut all = Vec::new();
    let mut pages = 0;
    let mut next: Option<Cursor> = None;
    loop {
        let mut q = query.clone();
        if let Some(c) = next {
            // Through its text, as a client would hand it back.
            q = q.after(c.to_string().parse().expect("cursor round trip"));
        }
        let page: AuditPage = pool
            .with_tenant(ctx, async |conn| q.run(conn).await)
            .await
            .expect("page");
        pages += 1;
        all.extend(page.entries);
        match page.next {
            Some(c) => next = Some(c),
            None => return (all, pages),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_query_api_pages_by_target_actor_and_time() {
    let db = TestDatabase::new().expect("db");
    let pool = db.app_pool(2).expect("pool");
    let admin = db.admin_pool(1).expect("admin");
    let tenant = make_tenant(&pool, "paged").await;
    let other = make_tenant(&pool, "paged-other").await;
    let owner = make_user(&pool, tenant, MemberRole::Owner).await;
    let member = make_user(&pool, tenant, MemberRole::Member).await;
    let as_owner = TenantContext::new(tenant).with_user(owner, MemberRole::Owner);
    let as_member = TenantContext::new(tenant).with_user(member, MemberRole::Member);
    new_task(&pool, &TenantContext::new(other), "someone else's").await;

    let task = new_task(&pool, &as_member, "v0").await;
    for v in 1..=6 {
        let sql = format!("UPDATE tasks SET title = 'v{v}' WHERE id = $1");
        run_with(&pool, &as_member, &sql, task)
            .await
            .expect("update");
    }
    for i in 0..3 {
        new_task(&pool, &as_owner, &format!("owner's {i}")).await;
    }

    // By target, two at a time: every row once, newest first, across four pages.
    let (rows, pages) =
        collect_pages(&pool, &as_owner, AuditQuery::new().target(task).limit(2)).await;
    assert_eq!(rows.len(), 7);
    assert_eq!(pages, 4);
    let titles: Vec<&str> = rows
        .iter()
        .map(|r| r.changes["new"]["title"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(titles, ["v6", "v5", "v4", "v3", "v2", "v1", "v0"]);
    let mut ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    ids.dedup();
    assert_eq!(ids.len(), 7);

    // By actor: the member's seven rows; the owner's three (as a user or by its text).
    let (by_member, _) = collect_pages(
        &pool,
        &as_owner,
        AuditQuery::new().actor(Actor::User(member)).limit(3),
    )
    .await;
    assert_eq!(by_member.len(), 7);
    assert!(by_member.iter().all(|r| r.actor_user_id == Some(member)));
    let named: Actor = format!("user:{owner}").parse().expect("actor");
    let (by_owner, _) = collect_pages(&pool, &as_owner, AuditQuery::new().actor(named)).await;
    assert_eq!(by_owner.len(), 3);
    let (by_admin_path, _) = collect_pages(
        &pool,
        &as_owner,
        AuditQuery::new().actor(Actor::Named("admin:test setup: create user".into())),
    )
    .await;
    assert_eq!(by_admin_path.len(), 2, "the two users");

    // By time range: since the third update, until the owner's first task.
    let oldest_first: Vec<&AuditLogEntry> = rows.iter().rev().collect();
    let since: DateTime<Utc> = oldest_first[3].created_at;
    let until: DateTime<Utc> = by_owner.last().expect("owner's first").created_at;
    let (ranged, _) = collect_pages(
        &pool,
        &as_owner,
        AuditQuery::new().since(since).until(until).limit(2),
    )
    .await;
    let versions: Vec<&str> = ranged
        .iter()
        .map(|r| r.changes["new"]["title"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(versions, ["v6", "v5", "v4", "v3"]);

    // The admin path reads the same trail for the tenant it names, and only that one.
    let via_admin = admin
        .as_admin("test: read one tenant's trail", async |conn| {
            AuditQuery::new().target(task).run_admin(conn, tenant).await
        })
        .await
        .expect("admin page");
    assert_eq!(
        via_admin.entries.iter().map(|r| r.id).collect::<Vec<_>>(),
        ids
    );
    assert!(all_rows(&admin, tenant)
        .await
        .iter()
        .all(|r| r.tenant_id == tenant));

    // Bad input is refused before anything runs.
    let bad = pool
        .with_tenant(&as_owner, async |conn| {
            AuditQuery::new().limit(0).run(conn).await
        })
        .await;
    assert!(matches!(bad, Err(Error::InvalidInput(_))), "{bad:?}");
    assert!(matches!(
        "v1.nope".parse::<Cursor>(),
        Err(Error::InvalidInput(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_tenant_does_not_audit_its_rows_one_by_one() {
    let db = TestDatabase::new().expect("db");
    let pool = db.app_pool(2).expect("pool");
    let admin = db.admin_pool(1).expect("admin");
    let doomed = make_tenant(&pool, "doomed").await;
    let kept = make_tenant(&pool, "kept").await;
    for t in [doomed, kept] {
        for i in 0..5 {
            new_task(&pool, &TenantContext::new(t), &format!("task {i}")).await;
        }
    }
    let kept_before = all_rows(&admin, kept).await.len();

    let deletion = rowguard::control::delete(&admin, doomed)
        .await
        .expect("delete");
    assert_eq!(deletion.rows.get("tasks"), Some(&5));
    assert!(deletion.rows.get("audit_log").is_some_and(|n| *n >= 6));
    assert!(
        all_rows(&admin, doomed).await.is_empty(),
        "its trail went with it"
    );
    assert_eq!(all_rows(&admin, kept).await.len(), kept_before);

    // On the admin path, rowguard::audit::bulk leaves one tenant's rows out.
    admin
        .as_admin("test: bulk import", async |conn| {
            rowguard::audit::bulk(conn, kept).await?;
            exec(conn, &format!("INSERT INTO tasks (tenant_id, title) SELECT '{kept}', 'imported ' || g FROM generate_series(1, 10) g")).await
        })
        .await
        .expect("import");
    assert_eq!(all_rows(&admin, kept).await.len(), kept_before);
    let tasks = pool
        .with_tenant(&TenantContext::new(kept), async |conn| {
            count(conn, "tasks").await
        })
        .await
        .expect("tasks");
    assert_eq!(tasks, 15);
}
