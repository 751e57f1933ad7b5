//! `rowguard doctor` against live databases: the shipped schema, freshly migrated, has no
//! error (the only finding allowed is the CVE-2026-3172 warning for the installed
//! pgvector), and each rule fires, alone and on the object broken, when a test breaks
//! that rule deliberately as the owner.
//!
//! Every breaking test diagnoses its own database before and after the breakage and
//! asserts on the errors the breakage added, as `(Rule, object)` pairs. Roles are
//! cluster-wide and tests run in parallel, so role rules never touch `rowguard_app` or
//! the shared login role: they create a uniquely named throwaway application role (and
//! login member), pass it in `DoctorOptions::app_roles`, and drop both at the end.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU32, Ordering};

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::sql_types::Text;
use diesel::{QueryableByName, RunQueryDsl};
use rowguard::doctor::{diagnose, DoctorOptions, Report, Rule, Severity};
use rowguard_testkit::server::TestDatabase;

type Found = BTreeSet<(Rule, String)>;

fn report(conn: &mut PgConnection, opts: &DoctorOptions) -> Report {
    match diagnose(conn, opts) {
        Ok(r) => r,
        Err(e) => panic!("diagnose failed: {e}"),
    }
}

/// The errors in `after` that `before` did not have.
fn added_errors(before: &Report, after: &Report) -> Found {
    after
        .errors()
        .filter(|f| !before.findings.contains(f))
        .map(|f| (f.rule, f.object.clone()))
        .collect()
}

fn found(items: &[(Rule, &str)]) -> Found {
    items.iter().map(|(r, o)| (*r, (*o).to_owned())).collect()
}

/// Diagnoses a fresh database, runs `sql` on it as the owner, diagnoses again, and
/// returns the errors the breakage added.
fn break_with(sql: &str, opts: &DoctorOptions) -> Found {
    let db = TestDatabase::new().expect("test database");
    let mut owner = db.owner_conn().expect("owner connection");
    let before = report(&mut owner, opts);
    owner.batch_execute(sql).expect("breaking SQL");
    let after = report(&mut owner, opts);
    eprintln!("{after:#?}");
    added_errors(&before, &after)
}

/// SQL creating a fully isolated tenant table `name` (RLS enabled and forced, the
/// conventional policy), with `extra` appended to its column and constraint list.
fn tenant_table(name: &str, extra: &str) -> String {
    format!(
        "CREATE TABLE {name} (
           tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
           id uuid NOT NULL DEFAULT rowguard.uuid_v7(),
           PRIMARY KEY (tenant_id, id){extra});
         ALTER TABLE {name} ENABLE ROW LEVEL SECURITY;
         ALTER TABLE {name} FORCE ROW LEVEL SECURITY;
         CREATE POLICY tenant_isolation ON {name}
           USING (tenant_id = (select rowguard.current_tenant_id()))
           WITH CHECK (tenant_id = (select rowguard.current_tenant_id()));"
    )
}

#[test]
fn shipped_schema_has_no_error() {
    let db = TestDatabase::new().expect("test database");
    let opts = DoctorOptions::default();
    let mut owner = db.owner_conn().expect("owner connection");
    let as_owner = report(&mut owner, &opts);
    assert!(
        as_owner.is_clean(),
        "the migrated schema breaks a rule:\n{as_owner:#?}"
    );
    // The catalog reads need no privilege: the application role sees the same.
    let mut app = db.app_conn().expect("app connection");
    assert_eq!(report(&mut app, &opts), as_owner);
    // Only the pgvector warning may remain, and it must be there while the installed
    // version is in the CVE's range.
    for f in &as_owner.findings {
        assert_eq!(f.severity, Severity::Warning);
        assert_eq!(f.rule, Rule::PgvectorCve2026_3172, "{as_owner:#?}");
    }
    #[derive(QueryableByName)]
    struct V {
        #[diesel(sql_type = Text)]
        v: String,
    }
    let V { v } =
        diesel::sql_query("SELECT extversion AS v FROM pg_extension WHERE extname = 'vector'")
            .get_result(&mut owner)
            .expect("pgvector version");
    let parts: Vec<u32> = v.split('.').filter_map(|p| p.parse().ok()).collect();
    let in_range =
        parts.as_slice() >= [0, 6, 0].as_slice() && parts.as_slice() <= [0, 8, 1].as_slice();
    assert_eq!(
        as_owner.warnings().count(),
        usize::from(in_range),
        "pgvector {v}:\n{as_owner:#?}"
    );
    let json = serde_json::to_value(&as_owner).expect("json");
    assert!(json["findings"].is_array());
}

#[test]
fn rls_disabled() {
    let added = break_with(
        "ALTER TABLE users DISABLE ROW LEVEL SECURITY;",
        &DoctorOptions::default(),
    );
    assert_eq!(added, found(&[(Rule::RlsDisabled, "public.users")]));
}

#[test]
fn rls_not_forced() {
    let added = break_with(
        "ALTER TABLE tenants NO FORCE ROW LEVEL SECURITY;",
        &DoctorOptions::default(),
    );
    assert_eq!(added, found(&[(Rule::RlsNotForced, "public.tenants")]));
}

#[test]
fn no_policy() {
    let added = break_with(
        "DO $$
         DECLARE p name;
         BEGIN
           FOR p IN SELECT policyname FROM pg_policies WHERE schemaname = 'public' AND tablename = 'invites' LOOP
             EXECUTE format('DROP POLICY %I ON public.invites', p);
           END LOOP;
         END $$;",
        &DoctorOptions::default(),
    );
    assert_eq!(added, found(&[(Rule::NoPolicy, "public.invites")]));
}

#[test]
fn policy_without_with_check() {
    let added = break_with(
        "DROP POLICY tenant_isolation ON sessions;
         CREATE POLICY tenant_isolation ON sessions
           USING (tenant_id = (select rowguard.current_tenant_id()));",
        &DoctorOptions::default(),
    );
    assert_eq!(
        added,
        found(&[(
            Rule::PolicyWithoutWithCheck,
            "public.sessions (policy tenant_isolation)"
        )])
    );
}

#[test]
fn policy_fail_open() {
    let added = break_with(
        "ALTER POLICY tenant_isolation ON invites
           USING (coalesce(tenant_id = (select rowguard.current_tenant_id()), true));
         CREATE POLICY doctor_everyone ON sessions FOR SELECT USING (true);
         ALTER POLICY tenant_isolation ON users
           WITH CHECK (tenant_id = (select rowguard.current_tenant_id()) OR true);",
        &DoctorOptions::default(),
    );
    assert_eq!(
        added,
        found(&[
            (
                Rule::PolicyFailOpen,
                "public.invites (policy tenant_isolation)"
            ),
            (
                Rule::PolicyFailOpen,
                "public.sessions (policy doctor_everyone)"
            ),
            (
                Rule::PolicyFailOpen,
                "public.users (policy tenant_isolation)"
            ),
        ])
    );
}

#[test]
fn per_row_current_setting() {
    let added = break_with(
        "ALTER POLICY tenant_isolation ON users
           USING (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
           WITH CHECK (tenant_id = rowguard.current_tenant_id());",
        &DoctorOptions::default(),
    );
    assert_eq!(
        added,
        found(&[(
            Rule::PerRowCurrentSetting,
            "public.users (policy tenant_isolation)"
        )])
    );
}

#[test]
fn foreign_key_without_tenant_id() {
    // A reference to another tenant's id: tenant tables may point at tenants only
    // through their own tenant_id.
    let sql = tenant_table(
        "doctor_partners",
        ",
         partner_tenant_id uuid NOT NULL,
         CONSTRAINT doctor_partners_partner_fkey FOREIGN KEY (partner_tenant_id) REFERENCES tenants (id)",
    ) + "CREATE INDEX doctor_partners_partner_idx ON doctor_partners (partner_tenant_id);";
    let added = break_with(&sql, &DoctorOptions::default());
    assert_eq!(
        added,
        found(&[(
            Rule::ForeignKeyWithoutTenantId,
            "public.doctor_partners (constraint doctor_partners_partner_fkey)"
        )])
    );
}

#[test]
fn unique_without_tenant_id() {
    let added = break_with(
        "CREATE UNIQUE INDEX doctor_users_email_key ON users (lower(email));",
        &DoctorOptions::default(),
    );
    assert_eq!(
        added,
        found(&[(
            Rule::UniqueWithoutTenantId,
            "public.users (index doctor_users_email_key)"
        )])
    );
}

#[test]
fn foreign_key_without_index() {
    // Composite and tenant-safe, but nothing leads with (tenant_id, user_id).
    let sql = tenant_table(
        "doctor_notes",
        ",
         user_id uuid NOT NULL,
         CONSTRAINT doctor_notes_user_fkey FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id)",
    );
    let added = break_with(&sql, &DoctorOptions::default());
    assert_eq!(
        added,
        found(&[(
            Rule::ForeignKeyWithoutIndex,
            "public.doctor_notes (constraint doctor_notes_user_fkey)"
        )])
    );
}

#[test]
fn foreign_key_index_in_any_column_order_is_enough() {
    let sql = tenant_table(
        "doctor_notes",
        ",
         user_id uuid NOT NULL,
         CONSTRAINT doctor_notes_user_fkey FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id)",
    ) + "CREATE INDEX doctor_notes_user_idx ON doctor_notes (user_id, tenant_id, id);";
    assert_eq!(break_with(&sql, &DoctorOptions::default()), Found::new());
}

#[test]
fn view_without_security_invoker() {
    let added = break_with(
        "CREATE VIEW doctor_emails AS SELECT tenant_id, email FROM users;
         CREATE VIEW doctor_emails_ok WITH (security_invoker = true) AS SELECT tenant_id, email FROM users;",
        &DoctorOptions::default(),
    );
    assert_eq!(
        added,
        found(&[(Rule::ViewWithoutSecurityInvoker, "public.doctor_emails")])
    );
}

#[test]
fn security_definer_without_search_path() {
    let added = break_with(
        "CREATE FUNCTION rowguard.doctor_lookup(p_slug text) RETURNS uuid
           LANGUAGE sql STABLE SECURITY DEFINER
           AS $$ SELECT id FROM public.tenants WHERE slug = p_slug $$;
         REVOKE ALL ON FUNCTION rowguard.doctor_lookup(text) FROM PUBLIC;",
        &DoctorOptions::default(),
    );
    assert_eq!(
        added,
        found(&[(
            Rule::SecurityDefinerWithoutSearchPath,
            "rowguard.doctor_lookup(p_slug text)"
        )])
    );
}

#[test]
fn security_definer_executable_by_public() {
    // Created with the default privileges: PUBLIC may execute (proacl is NULL). The second
    // function has an explicit ACL that grants PUBLIC again.
    let added = break_with(
        "CREATE FUNCTION rowguard.doctor_lookup(p_slug text) RETURNS uuid
           LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public
           AS $$ SELECT id FROM public.tenants WHERE slug = p_slug $$;
         CREATE FUNCTION rowguard.doctor_lookup2(p_slug text) RETURNS uuid
           LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public
           AS $$ SELECT id FROM public.tenants WHERE slug = p_slug $$;
         REVOKE ALL ON FUNCTION rowguard.doctor_lookup2(text) FROM PUBLIC;
         GRANT EXECUTE ON FUNCTION rowguard.doctor_lookup2(text) TO rowguard_app, PUBLIC;",
        &DoctorOptions::default(),
    );
    assert_eq!(
        added,
        found(&[
            (
                Rule::SecurityDefinerExecutableByPublic,
                "rowguard.doctor_lookup(p_slug text)"
            ),
            (
                Rule::SecurityDefinerExecutableByPublic,
                "rowguard.doctor_lookup2(p_slug text)"
            ),
        ])
    );
}

#[test]
fn pgvector_missing() {
    let added = break_with("DROP EXTENSION vector CASCADE;", &DoctorOptions::default());
    assert_eq!(added, found(&[(Rule::PgvectorMissing, "extension vector")]));
}

// ---------------------------------------------------------------------------------------
// Role rules, on throwaway roles.

/// A uniquely named application role (NOLOGIN) and a LOGIN member of it, created with
/// `member_options`, dropped (after giving back whatever the member owns in `db`) on Drop.
struct ThrowawayRoles<'a> {
    db: &'a TestDatabase,
    app: String,
    login: String,
}

#[derive(QueryableByName)]
struct Stmt {
    #[diesel(sql_type = Text)]
    stmt: String,
}

/// Runs a statement built by PostgreSQL's `format()` from bound arguments, so role
/// names are quoted by the server, never spliced by hand.
fn exec_format(conn: &mut PgConnection, template: &str, args: &[&str]) {
    let mut q = diesel::sql_query(match args.len() {
        1 => "SELECT format($1, $2) AS stmt",
        2 => "SELECT format($1, $2, $3) AS stmt",
        _ => "SELECT format($1, $2, $3, $4) AS stmt",
    })
    .into_boxed()
    .bind::<Text, _>(template.to_owned());
    for a in args {
        q = q.bind::<Text, _>((*a).to_owned());
    }
    let Stmt { stmt } = q.get_result(conn).expect("format");
    if let Err(e) = conn.batch_execute(&stmt) {
        panic!("{stmt}: {e}");
    }
}

static ROLE_COUNTER: AtomicU32 = AtomicU32::new(0);

impl<'a> ThrowawayRoles<'a> {
    fn new(db: &'a TestDatabase, member_options: &str) -> Self {
        let tag = format!(
            "{}_{}_{}",
            std::process::id(),
            ROLE_COUNTER.fetch_add(1, Ordering::Relaxed),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0)
        );
        let roles = Self {
            db,
            app: format!("rg_doctor_app_{tag}"),
            login: format!("rg_doctor_login_{tag}"),
        };
        let mut owner = db.owner_conn().expect("owner connection");
        exec_format(&mut owner, "CREATE ROLE %I NOLOGIN", &[&roles.app]);
        exec_format(
            &mut owner,
            &format!("CREATE ROLE %I LOGIN {member_options} IN ROLE %I"),
            &[&roles.login, &roles.app],
        );
        roles
    }

    fn opts(&self) -> DoctorOptions {
        DoctorOptions {
            app_roles: vec![self.app.clone()],
            ..DoctorOptions::default()
        }
    }
}

impl Drop for ThrowawayRoles<'_> {
    fn drop(&mut self) {
        let Ok(mut owner) = self.db.owner_conn() else {
            return;
        };
        for role in [&self.login, &self.app] {
            let _ = owner.batch_execute("SET client_min_messages = warning");
            let q = diesel::sql_query(
                "SELECT format('REASSIGN OWNED BY %1$I TO CURRENT_USER; DROP OWNED BY %1$I; DROP ROLE %1$I', $1) AS stmt",
            )
            .bind::<Text, _>(role.clone());
            if let Ok(Stmt { stmt }) = q.get_result(&mut owner) {
                let _ = owner.batch_execute(&stmt);
            }
        }
    }
}

/// Diagnoses `db` with `roles`' options before and after `sql` (run as the owner, with
/// `%I` replaced by the login member's name). Returns the role-rule errors before, and
/// the errors `sql` added.
fn break_roles(db: &TestDatabase, roles: &ThrowawayRoles<'_>, sql: Option<&str>) -> (Found, Found) {
    let mut owner = db.owner_conn().expect("owner connection");
    let opts = roles.opts();
    let before = report(&mut owner, &opts);
    if let Some(sql) = sql {
        exec_format(&mut owner, sql, &[&roles.login]);
    }
    let after = report(&mut owner, &opts);
    let before_errors = before
        .errors()
        .filter(|f| {
            matches!(
                f.rule,
                Rule::AppRoleMissing
                    | Rule::AppRoleSuperuser
                    | Rule::AppRoleBypassRls
                    | Rule::AppRoleOwnsTable
            )
        })
        .map(|f| (f.rule, f.object.clone()))
        .collect();
    (before_errors, added_errors(&before, &after))
}

#[test]
fn login_can_bypass_rls_fires_for_an_admin_member_a_role_creator_and_temp_tables() {
    let db = TestDatabase::new().expect("test database");
    for (what, sql) in [
        ("a member of rowguard_admin", "GRANT rowguard_admin TO %I"),
        ("CREATEROLE", "ALTER ROLE %I CREATEROLE"),
        ("temporary tables", "GRANT TEMPORARY ON DATABASE {db} TO %I"),
    ] {
        let roles = ThrowawayRoles::new(&db, "NOSUPERUSER NOBYPASSRLS NOCREATEROLE");
        // Test database names are plain identifiers (rowguard_test_<digits>_...).
        let sql = sql.replace("{db}", db.name());
        let (before, added) = break_roles(&db, &roles, Some(&sql));
        assert_eq!(before, Found::new(), "{what}");
        assert_eq!(
            added,
            found(&[(Rule::LoginCanBypassRls, &roles.login)]),
            "{what}"
        );
    }
}

#[test]
fn login_can_bypass_rls_is_silent_for_the_shipped_logins() {
    let db = TestDatabase::new().expect("test database");
    let mut owner = db.owner_conn().expect("owner connection");
    let r = report(&mut owner, &DoctorOptions::default());
    assert!(
        !r.findings.iter().any(|f| f.rule == Rule::LoginCanBypassRls),
        "{r:?}"
    );
    // The shipped application login is one of the logins checked.
    let logins: Vec<Stmt> = diesel::sql_query(
        "SELECT m.rolname::text AS stmt FROM pg_auth_members am \
           JOIN pg_roles m ON m.oid = am.member JOIN pg_roles g ON g.oid = am.roleid \
          WHERE g.rolname = 'rowguard_app' AND m.rolcanlogin",
    )
    .load(&mut owner)
    .expect("members");
    assert!(logins
        .iter()
        .any(|l| l.stmt == rowguard_testkit::server::APP_LOGIN_ROLE));
}

#[test]
fn app_role_superuser() {
    let db = TestDatabase::new().expect("test database");
    let roles = ThrowawayRoles::new(&db, "NOSUPERUSER");
    let (before, added) = break_roles(&db, &roles, Some("ALTER ROLE %I SUPERUSER"));
    assert_eq!(before, Found::new());
    assert_eq!(added, found(&[(Rule::AppRoleSuperuser, &roles.login)]));
}

#[test]
fn app_role_bypass_rls() {
    let db = TestDatabase::new().expect("test database");
    let roles = ThrowawayRoles::new(&db, "NOBYPASSRLS");
    let (before, added) = break_roles(&db, &roles, Some("ALTER ROLE %I BYPASSRLS"));
    assert_eq!(before, Found::new());
    assert_eq!(added, found(&[(Rule::AppRoleBypassRls, &roles.login)]));
}

#[test]
fn app_role_owns_table() {
    let db = TestDatabase::new().expect("test database");
    let roles = ThrowawayRoles::new(&db, "");
    let (before, added) = break_roles(&db, &roles, Some("ALTER TABLE users OWNER TO %I"));
    assert_eq!(before, Found::new());
    assert_eq!(added, found(&[(Rule::AppRoleOwnsTable, &roles.login)]));
}

#[test]
fn app_role_missing() {
    let db = TestDatabase::new().expect("test database");
    let mut owner = db.owner_conn().expect("owner connection");
    let name = format!("rg_doctor_nobody_{}", std::process::id());
    let opts = DoctorOptions {
        app_roles: vec![name.clone()],
        ..DoctorOptions::default()
    };
    let r = report(&mut owner, &opts);
    let errors: Found = r.errors().map(|f| (f.rule, f.object.clone())).collect();
    assert_eq!(errors, found(&[(Rule::AppRoleMissing, &name)]));
}

#[test]
fn audit_trigger_missing_disabled_or_stale_is_a_warning() {
    let db = TestDatabase::new().expect("test database");
    let opts = DoctorOptions::default();
    let mut owner = db.owner_conn().expect("owner connection");
    let before = report(&mut owner, &opts);
    owner
        .batch_execute(
            "DROP TRIGGER audit ON notifications;
             ALTER TABLE files DISABLE TRIGGER audit;
             ALTER TABLE tasks ADD COLUMN sketch vector(3);",
        )
        .expect("breaking SQL");
    let after = report(&mut owner, &opts);
    let added: Found = after
        .warnings()
        .filter(|f| !before.findings.contains(f))
        .map(|f| (f.rule, f.object.clone()))
        .collect();
    assert_eq!(
        added,
        found(&[
            (Rule::AuditTriggerMissing, "public.files"),
            (Rule::AuditTriggerMissing, "public.notifications"),
            (Rule::AuditExclusionsStale, "public.tasks"),
        ])
    );
    assert!(after.is_clean(), "warnings only: isolation holds");
    let stale = after
        .warnings()
        .find(|f| f.rule == Rule::AuditExclusionsStale)
        .expect("stale");
    assert!(stale.detail.contains("sketch"), "{}", stale.detail);

    // What the findings say to run puts it right.
    owner
        .batch_execute(
            "SELECT rowguard.audit_table('notifications');
             ALTER TABLE files ENABLE TRIGGER audit;
             SELECT rowguard.audit_table('tasks');",
        )
        .expect("repairs");
    assert_eq!(report(&mut owner, &opts), before);
}
