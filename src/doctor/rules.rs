//! The rules: one function per rule, each running one catalog query (values bound,
//! never formatted in) and judging its rows, with the SQL-text analysis of
//! [`super::lexer`] where the catalog cannot say.

use diesel::pg::PgConnection;
use diesel::sql_types::{Array, Bool, Nullable, Text};
use diesel::{sql_query, QueryableByName, RunQueryDsl};

use super::lexer::*;
use super::{DoctorOptions, Finding, Rule, Severity};
use crate::catalog::quote_ident;

// ---------------------------------------------------------------------------------------
// Rules: row-level security on tenant tables.

#[derive(QueryableByName)]
pub(super) struct TableRls {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Bool)]
    enabled: bool,
    #[diesel(sql_type = Bool)]
    forced: bool,
    #[diesel(sql_type = Bool)]
    has_policy: bool,
}

/// `rls_disabled`, `rls_not_forced`, `no_policy`.
pub(super) fn table_rls(conn: &mut PgConnection) -> crate::Result<Vec<Finding>> {
    let rows: Vec<TableRls> = sql_query(concat!(
        "WITH ",
        tenant_tables_cte!(),
        " SELECT t.name, t.relrowsecurity AS enabled, t.relforcerowsecurity AS forced,",
        "  EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = t.oid) AS has_policy",
        " FROM tenant_tables t"
    ))
    .load(conn)?;
    let mut out = Vec::new();
    for t in rows {
        if !t.enabled {
            out.push(Finding::error(
                Rule::RlsDisabled,
                &t.name,
                format!(
                    "Row-level security is off: every role with a grant sees every tenant's rows. \
                     Run `ALTER TABLE {} ENABLE ROW LEVEL SECURITY` (policies/ should do it).",
                    t.name
                ),
            ));
        }
        if !t.forced {
            out.push(Finding::error(
                Rule::RlsNotForced,
                &t.name,
                format!(
                    "FORCE ROW LEVEL SECURITY is off: the table owner bypasses every policy. \
                     Run `ALTER TABLE {} FORCE ROW LEVEL SECURITY`.",
                    t.name
                ),
            ));
        }
        if !t.has_policy {
            out.push(Finding::error(
                Rule::NoPolicy,
                &t.name,
                format!(
                    "No policy: the application role can neither read nor write it, or, with RLS off, \
                     reads everything. Add the `tenant_isolation` policy for {} in policies/.",
                    t.name
                ),
            ));
        }
    }
    Ok(out)
}

#[derive(QueryableByName)]
pub(super) struct PolicyName {
    #[diesel(sql_type = Text)]
    object: String,
    #[diesel(sql_type = Text)]
    command: String,
}

/// `policy_without_with_check`: INSERT, UPDATE and ALL policies need `WITH CHECK`.
pub(super) fn policies_without_with_check(conn: &mut PgConnection) -> crate::Result<Vec<Finding>> {
    let rows: Vec<PolicyName> = sql_query(concat!(
        "WITH ",
        tenant_tables_cte!(),
        " SELECT format('%s (policy %I)', t.name, p.polname) AS object,",
        "  CASE p.polcmd WHEN 'a' THEN 'INSERT' WHEN 'w' THEN 'UPDATE' ELSE 'ALL' END AS command",
        " FROM pg_policy p JOIN tenant_tables t ON t.oid = p.polrelid",
        " WHERE p.polcmd IN ('a', 'w', '*') AND p.polwithcheck IS NULL"
    ))
    .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|p| {
            let detail = format!(
                "This {} policy has no WITH CHECK, so written rows are not checked against the tenant \
                 context explicitly (an INSERT policy without one accepts any row). Add \
                 `WITH CHECK (tenant_id = (select rowguard.current_tenant_id()))`.",
                p.command
            );
            Finding::error(Rule::PolicyWithoutWithCheck, p.object, detail)
        })
        .collect())
}

#[derive(QueryableByName)]
pub(super) struct PolicyExpr {
    #[diesel(sql_type = Text)]
    object: String,
    #[diesel(sql_type = Text)]
    key_column: String,
    #[diesel(sql_type = Bool)]
    permissive: bool,
    #[diesel(sql_type = Nullable<Text>)]
    using_expr: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    check_expr: Option<String>,
}

/// The policies of every tenant table, with their deparsed expressions.
pub(super) fn tenant_policies(conn: &mut PgConnection) -> crate::Result<Vec<PolicyExpr>> {
    Ok(sql_query(concat!(
        "WITH ",
        tenant_tables_cte!(),
        " SELECT format('%s (policy %I)', t.name, p.polname) AS object, t.key_column::text AS key_column,",
        "  p.polpermissive AS permissive,",
        "  pg_get_expr(p.polqual, p.polrelid) AS using_expr,",
        "  pg_get_expr(p.polwithcheck, p.polrelid) AS check_expr",
        " FROM pg_policy p JOIN tenant_tables t ON t.oid = p.polrelid"
    ))
    .load(conn)?)
}

impl PolicyExpr {
    fn clauses(&self) -> impl Iterator<Item = (&'static str, &str)> {
        [
            ("USING", self.using_expr.as_deref()),
            ("WITH CHECK", self.check_expr.as_deref()),
        ]
        .into_iter()
        .filter_map(|(name, e)| e.map(|e| (name, e)))
    }
}

/// `policy_fail_open`.
pub(super) fn policies_fail_open(conn: &mut PgConnection) -> crate::Result<Vec<Finding>> {
    let mut out = Vec::new();
    for p in tenant_policies(conn)? {
        for (clause, expr) in p.clauses() {
            let reasons = fail_open_reasons(expr, p.permissive, &p.key_column);
            if !reasons.is_empty() {
                out.push(Finding::error(
                    Rule::PolicyFailOpen,
                    &p.object,
                    format!(
                        "{clause} ({expr}) can let rows through without the tenant matching: {}. \
                         Use `{key} = (select rowguard.current_tenant_id())` and nothing else.",
                        reasons.join("; "),
                        key = p.key_column
                    ),
                ));
            }
        }
    }
    Ok(out)
}

/// `per_row_current_setting`.
pub(super) fn per_row_current_setting(conn: &mut PgConnection) -> crate::Result<Vec<Finding>> {
    let mut out = Vec::new();
    for p in tenant_policies(conn)? {
        for (clause, expr) in p.clauses() {
            let calls = unwrapped_context_calls(expr);
            if !calls.is_empty() {
                out.push(Finding::error(
                    Rule::PerRowCurrentSetting,
                    &p.object,
                    format!(
                        "{clause} ({expr}) calls {} once per row: wrap the call in a sub-select, \
                         `{key} = (select rowguard.current_tenant_id())`, so it runs once per \
                         statement and indexes on {key} can be used.",
                        calls.join(", "),
                        key = p.key_column
                    ),
                ));
            }
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------
// Rules: keys and indexes.

#[derive(QueryableByName)]
pub(super) struct ForeignKey {
    #[diesel(sql_type = Text)]
    object: String,
    #[diesel(sql_type = Text)]
    definition: String,
    #[diesel(sql_type = Bool)]
    parent_has_tenant_id: bool,
}

/// `foreign_key_without_tenant_id`: a foreign key from a tenant table to a tenant table
/// must map the child's tenant key onto the parent's (`tenant_id` to `tenant_id`, or
/// `tenant_id` to `tenants.id`).
pub(super) fn foreign_keys_without_tenant_id(
    conn: &mut PgConnection,
) -> crate::Result<Vec<Finding>> {
    let rows: Vec<ForeignKey> = sql_query(concat!(
        "WITH ",
        tenant_tables_cte!(),
        " SELECT format('%s (constraint %I)', child.name, con.conname) AS object,",
        "  pg_get_constraintdef(con.oid) AS definition, parent.has_tenant_id AS parent_has_tenant_id",
        " FROM pg_constraint con",
        " JOIN tenant_tables child ON child.oid = con.conrelid",
        " JOIN tenant_tables parent ON parent.oid = con.confrelid",
        " WHERE con.contype = 'f' AND NOT EXISTS (",
        "  SELECT 1 FROM unnest(con.conkey, con.confkey) AS k(child_col, parent_col)",
        "  WHERE k.child_col = child.key_attnum AND k.parent_col = parent.key_attnum)"
    ))
    .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|fk| {
            let detail = if fk.parent_has_tenant_id {
                format!(
                    "{} does not map tenant_id onto the parent's tenant_id, so a row can point at \
                     another tenant's row. Make it composite: `FOREIGN KEY (tenant_id, parent_id) \
                     REFERENCES parent (tenant_id, id)`.",
                    fk.definition
                )
            } else {
                format!(
                    "{} lets a row point at another tenant; a tenant table references tenants only \
                     through its own tenant_id (`tenant_id uuid NOT NULL REFERENCES tenants (id)`). \
                     Drop this constraint, or store the id without a foreign key.",
                    fk.definition
                )
            };
            Finding::error(Rule::ForeignKeyWithoutTenantId, fk.object, detail)
        })
        .collect())
}

#[derive(QueryableByName)]
pub(super) struct UniqueIndex {
    #[diesel(sql_type = Text)]
    object: String,
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = Text)]
    definition: String,
    #[diesel(sql_type = Array<Text>)]
    key_columns: Vec<String>,
}

/// `unique_without_tenant_id`: unique constraints, unique indexes and primary keys of
/// tables with `tenant_id` (`tenants` itself is global by design).
pub(super) fn uniques_without_tenant_id(conn: &mut PgConnection) -> crate::Result<Vec<Finding>> {
    let rows: Vec<UniqueIndex> = sql_query(concat!(
        "WITH ",
        tenant_tables_cte!(),
        " SELECT format('%s (index %I)', t.name, ic.relname) AS object,",
        "  CASE WHEN i.indisprimary THEN 'primary key'",
        "   WHEN con.oid IS NOT NULL THEN 'unique constraint' ELSE 'unique index' END AS kind,",
        "  pg_get_indexdef(i.indexrelid) AS definition,",
        "  ARRAY(SELECT pg_get_indexdef(i.indexrelid, k, true)",
        "   FROM generate_series(1, i.indnkeyatts) AS k ORDER BY k) AS key_columns",
        " FROM pg_index i",
        " JOIN tenant_tables t ON t.oid = i.indrelid AND t.has_tenant_id",
        " JOIN pg_class ic ON ic.oid = i.indexrelid",
        " LEFT JOIN pg_constraint con ON con.conindid = i.indexrelid AND con.contype IN ('p', 'u')",
        " WHERE i.indisunique"
    ))
    .load(conn)?;
    Ok(rows
        .into_iter()
        .filter(|u| !u.key_columns.iter().any(|k| mentions_ident(k, "tenant_id")))
        .map(|u| {
            let detail = format!(
                "This {} ({}) does not include tenant_id: a duplicate in another tenant raises an \
                 error that reveals the value exists there. Recreate it with tenant_id as its first column.",
                u.kind, u.definition
            );
            Finding::error(Rule::UniqueWithoutTenantId, u.object, detail)
        })
        .collect())
}

#[derive(QueryableByName)]
pub(super) struct UnindexedForeignKey {
    #[diesel(sql_type = Text)]
    object: String,
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Array<Text>)]
    columns: Vec<String>,
}

/// `foreign_key_without_index`: some valid, non-partial index must have the foreign key's
/// columns, in any order, as its leading key columns.
pub(super) fn foreign_keys_without_index(conn: &mut PgConnection) -> crate::Result<Vec<Finding>> {
    let rows: Vec<UnindexedForeignKey> = sql_query(concat!(
        "SELECT format('%I.%I (constraint %I)', n.nspname, c.relname, con.conname) AS object,",
        "  format('%I.%I', n.nspname, c.relname) AS table_name,",
        "  ARRAY(SELECT quote_ident(a.attname) FROM unnest(con.conkey) WITH ORDINALITY AS k(attnum, ord)",
        "   JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum ORDER BY k.ord) AS columns",
        " FROM pg_constraint con",
        " JOIN pg_class c ON c.oid = con.conrelid",
        " JOIN pg_namespace n ON n.oid = c.relnamespace",
        " WHERE con.contype = 'f' AND ",
        app_schema!(),
        " AND ",
        not_extension_member!("pg_class", "c.oid"),
        " AND NOT EXISTS (",
        "  SELECT 1 FROM pg_index i",
        "  WHERE i.indrelid = con.conrelid AND i.indisvalid AND i.indpred IS NULL",
        "   AND i.indnkeyatts >= cardinality(con.conkey)",
        "   AND (i.indkey::int2[])[0:cardinality(con.conkey) - 1] @> con.conkey",
        "   AND (i.indkey::int2[])[0:cardinality(con.conkey) - 1] <@ con.conkey)"
    ))
    .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|fk| {
            let cols = fk.columns.join(", ");
            let detail = format!(
                "No index leads with ({cols}): deleting or updating a parent row scans this table. \
                 Add `CREATE INDEX ON {} ({cols})` (tenant_id first).",
                fk.table_name
            );
            Finding::error(Rule::ForeignKeyWithoutIndex, fk.object, detail)
        })
        .collect())
}

// ---------------------------------------------------------------------------------------
// Rules: views and functions.

#[derive(QueryableByName)]
pub(super) struct ViewOptions {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Array<Text>)]
    options: Vec<String>,
}

/// `view_without_security_invoker`.
pub(super) fn views_without_security_invoker(
    conn: &mut PgConnection,
) -> crate::Result<Vec<Finding>> {
    let rows: Vec<ViewOptions> = sql_query(concat!(
        "SELECT format('%I.%I', n.nspname, c.relname) AS name,",
        "  coalesce(c.reloptions, '{}'::text[]) AS options",
        " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace",
        " WHERE c.relkind = 'v' AND ",
        app_schema!(),
        " AND ",
        not_extension_member!("pg_class", "c.oid")
    ))
    .load(conn)?;
    Ok(rows
        .into_iter()
        .filter(|v| !security_invoker_on(&v.options))
        .map(|v| {
            let detail = format!(
                "The view reads its tables with its owner's rights, so RLS checks the owner, not the \
                 caller. Run `ALTER VIEW {} SET (security_invoker = true)`.",
                v.name
            );
            Finding::error(Rule::ViewWithoutSecurityInvoker, v.name, detail)
        })
        .collect())
}

#[derive(QueryableByName)]
pub(super) struct FunctionName {
    #[diesel(sql_type = Text)]
    name: String,
}

/// `security_definer_without_search_path`.
pub(super) fn security_definer_without_search_path(
    conn: &mut PgConnection,
) -> crate::Result<Vec<Finding>> {
    let rows: Vec<FunctionName> = sql_query(concat!(
        "SELECT format('%I.%I(%s)', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid)) AS name",
        " FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace",
        " WHERE p.prosecdef AND ",
        app_schema!(),
        " AND ",
        not_extension_member!("pg_proc", "p.oid"),
        " AND NOT EXISTS (SELECT 1 FROM unnest(p.proconfig) AS s(setting)",
        "  WHERE s.setting LIKE 'search\\_path=%')"
    ))
    .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|f| {
            let detail = format!(
                "SECURITY DEFINER without a fixed search_path: a caller's search_path can make it \
                 run their objects with the owner's rights. Run `ALTER FUNCTION {} SET search_path = \
                 pg_catalog, public`.",
                f.name
            );
            Finding::error(Rule::SecurityDefinerWithoutSearchPath, f.name, detail)
        })
        .collect())
}

/// `security_definer_executable_by_public`. A NULL `proacl` means the default: PUBLIC
/// may execute.
pub(super) fn security_definer_executable_by_public(
    conn: &mut PgConnection,
) -> crate::Result<Vec<Finding>> {
    let rows: Vec<FunctionName> = sql_query(concat!(
        "SELECT format('%I.%I(%s)', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid)) AS name",
        " FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace",
        " WHERE p.prosecdef AND ",
        app_schema!(),
        " AND ",
        not_extension_member!("pg_proc", "p.oid"),
        " AND (p.proacl IS NULL OR EXISTS (SELECT 1 FROM aclexplode(p.proacl) AS a",
        "  WHERE a.grantee = 0 AND a.privilege_type = 'EXECUTE'))"
    ))
    .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|f| {
            let detail = format!(
                "PUBLIC may execute this SECURITY DEFINER function, so any role can run it with its \
                 owner's rights. Run `REVOKE ALL ON FUNCTION {} FROM PUBLIC` and grant EXECUTE to \
                 rowguard_app and rowguard_admin only.",
                f.name
            );
            Finding::error(Rule::SecurityDefinerExecutableByPublic, f.name, detail)
        })
        .collect())
}

// ---------------------------------------------------------------------------------------
// Rules: roles.

#[derive(QueryableByName)]
pub(super) struct RoleAttributes {
    #[diesel(sql_type = Text)]
    rolname: String,
    #[diesel(sql_type = Bool)]
    rolsuper: bool,
    #[diesel(sql_type = Bool)]
    rolbypassrls: bool,
    #[diesel(sql_type = Bool)]
    configured: bool,
}

/// `app_role_missing`, `app_role_superuser`, `app_role_bypass_rls`.
pub(super) fn app_role_attributes(
    conn: &mut PgConnection,
    opts: &DoctorOptions,
) -> crate::Result<Vec<Finding>> {
    let rows: Vec<RoleAttributes> = sql_query(concat!(
        "WITH ",
        app_roles_cte!(),
        " SELECT rolname, rolsuper, rolbypassrls, configured FROM app_roles"
    ))
    .bind::<Array<Text>, _>(&opts.app_roles)
    .load(conn)?;
    let mut out = Vec::new();
    for name in &opts.app_roles {
        if !rows.iter().any(|r| r.configured && &r.rolname == name) {
            out.push(Finding::error(
                Rule::AppRoleMissing,
                name,
                "This application role does not exist, so nothing about it could be checked. Run \
                 the migrations (they create rowguard_app), or pass the role your application uses.",
            ));
        }
    }
    for r in rows {
        let who = if r.configured {
            "This application role"
        } else {
            "This LOGIN member of an application role"
        };
        if r.rolsuper {
            out.push(Finding::error(
                Rule::AppRoleSuperuser,
                &r.rolname,
                format!(
                    "{who} is SUPERUSER and bypasses row-level security. Run `ALTER ROLE {} NOSUPERUSER` \
                     and let applications connect as an ordinary login role.",
                    quote_ident(&r.rolname)
                ),
            ));
        }
        if r.rolbypassrls {
            out.push(Finding::error(
                Rule::AppRoleBypassRls,
                &r.rolname,
                format!(
                    "{who} has BYPASSRLS and sees every tenant's rows. Run `ALTER ROLE {} NOBYPASSRLS`; \
                     cross-tenant work goes through rowguard_admin.",
                    quote_ident(&r.rolname)
                ),
            ));
        }
    }
    Ok(out)
}

#[derive(QueryableByName)]
pub(super) struct LoginName {
    #[diesel(sql_type = Text)]
    rolname: String,
}

#[derive(QueryableByName)]
pub(super) struct Cause {
    #[diesel(sql_type = Text)]
    cause: String,
}

/// `login_can_bypass_rls`: every LOGIN member of an application role, checked with the
/// very query the tenant pool runs on its login at start (`pool/login.rs`). Causes the
/// rules above already report (the login's own SUPERUSER, BYPASSRLS, table ownership)
/// are left to them.
pub(super) fn logins_that_can_bypass_rls(
    conn: &mut PgConnection,
    opts: &DoctorOptions,
) -> crate::Result<Vec<Finding>> {
    // Superusers are reported by `app_role_superuser`; every role check passes for them.
    let logins: Vec<LoginName> = sql_query(concat!(
        "WITH ",
        app_roles_cte!(),
        " SELECT a.rolname FROM app_roles a JOIN pg_roles r ON r.oid = a.oid",
        " WHERE r.rolcanlogin AND NOT r.rolsuper ORDER BY a.rolname"
    ))
    .bind::<Array<Text>, _>(&opts.app_roles)
    .load(conn)?;
    let mut out = Vec::new();
    for login in logins {
        let causes: Vec<Cause> = sql_query(crate::pool::PRIVILEGES_SQL)
            .bind::<Text, _>(&login.rolname)
            .bind::<Text, _>(&opts.admin_role)
            .load(conn)?;
        for Cause { cause } in causes {
            if cause.starts_with("is a superuser")
                || cause.starts_with("has BYPASSRLS")
                || cause.starts_with("owns ")
            {
                continue;
            }
            out.push(Finding::error(
                Rule::LoginCanBypassRls,
                &login.rolname,
                format!(
                    "This LOGIN member of an application role {cause}. SQL inside a tenant \
                     transaction could use that to leave its tenant, and the tenant pool refuses \
                     to serve on it. Give applications a login that is a member of the \
                     application role only (admin work goes through a separate login), and \
                     `REVOKE TEMPORARY ON DATABASE ... FROM PUBLIC`."
                ),
            ));
        }
    }
    Ok(out)
}

#[derive(QueryableByName)]
pub(super) struct RoleOwnership {
    #[diesel(sql_type = Text)]
    rolname: String,
    #[diesel(sql_type = Bool)]
    configured: bool,
    #[diesel(sql_type = Array<Text>)]
    tables: Vec<String>,
}

/// `app_role_owns_table`: owning a table (or being a member, with INHERIT, of its owner)
/// lets a role switch RLS off on it. Superusers are reported by `app_role_superuser`.
pub(super) fn app_roles_owning_tables(
    conn: &mut PgConnection,
    opts: &DoctorOptions,
) -> crate::Result<Vec<Finding>> {
    let rows: Vec<RoleOwnership> = sql_query(concat!(
        "WITH ",
        app_roles_cte!(),
        " SELECT r.rolname, r.configured,",
        "  array_agg(format('%I.%I', n.nspname, c.relname) ORDER BY n.nspname, c.relname) AS tables",
        " FROM app_roles r",
        " JOIN pg_class c ON c.relkind IN ('r', 'p', 'v', 'm', 'f')",
        "  AND (c.relowner = r.oid OR (NOT r.rolsuper AND pg_has_role(r.oid, c.relowner, 'USAGE')))",
        " JOIN pg_namespace n ON n.oid = c.relnamespace",
        " WHERE ",
        app_schema!(),
        " GROUP BY r.rolname, r.configured"
    ))
    .bind::<Array<Text>, _>(&opts.app_roles)
    .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|r| {
            const SHOWN: usize = 5;
            let mut list = r
                .tables
                .iter()
                .take(SHOWN)
                .cloned()
                .collect::<Vec<_>>()
                .join(", ");
            if r.tables.len() > SHOWN {
                list.push_str(&format!(" and {} more", r.tables.len() - SHOWN));
            }
            let who = if r.configured {
                "This application role"
            } else {
                "This LOGIN member of an application role"
            };
            let detail = format!(
                "{who} owns (or has its owner's rights on) {list}; an owner can disable or drop RLS. \
                 Give them to the migrating role: `ALTER TABLE ... OWNER TO <owner>`, or revoke the \
                 membership that grants the owner's rights."
            );
            Finding::error(Rule::AppRoleOwnsTable, r.rolname, detail)
        })
        .collect())
}

// ---------------------------------------------------------------------------------------
// Rules: pgvector.

#[derive(QueryableByName)]
pub(super) struct ExtensionVersion {
    #[diesel(sql_type = Nullable<Text>)]
    version: Option<String>,
}

/// `pgvector_missing`, `pgvector_too_old`, `pgvector_cve_2026_3172`.
pub(super) fn pgvector_version(conn: &mut PgConnection) -> crate::Result<Vec<Finding>> {
    let row: ExtensionVersion = sql_query(
        "SELECT (SELECT extversion FROM pg_extension WHERE extname = 'vector') AS version",
    )
    .get_result(conn)?;
    Ok(pgvector_findings(row.version.as_deref()))
}

pub(super) const PGVECTOR: &str = "extension vector";

pub(super) fn pgvector_findings(version: Option<&str>) -> Vec<Finding> {
    let Some(version) = version else {
        return vec![Finding::error(
            Rule::PgvectorMissing,
            PGVECTOR,
            "pgvector is not installed in this database. Install pgvector 0.8.2 or later on the \
             server and run the migrations (the first one runs `CREATE EXTENSION vector`).",
        )];
    };
    let Some(v) = parse_version(version) else {
        return vec![Finding::error(
            Rule::PgvectorTooOld,
            PGVECTOR,
            format!("pgvector reports version {version:?}, which rowguard cannot read; install 0.8.2 or later."),
        )];
    };
    let mut out = Vec::new();
    if v < (0, 8, 0) {
        out.push(Finding::error(
            Rule::PgvectorTooOld,
            PGVECTOR,
            format!(
                "pgvector {version} has no iterative index scans: a vector search filtered by RLS can \
                 return fewer rows than asked for. Upgrade to 0.8.2 or later, then run \
                 `ALTER EXTENSION vector UPDATE`."
            ),
        ));
    }
    if ((0, 6, 0)..=(0, 8, 1)).contains(&v) {
        out.push(Finding {
            rule: Rule::PgvectorCve2026_3172,
            severity: Severity::Warning,
            object: PGVECTOR.to_owned(),
            detail: format!(
                "pgvector {version} is affected by CVE-2026-3172 (parallel HNSW index builds). Build \
                 HNSW indexes with `SET LOCAL max_parallel_maintenance_workers = 0` (rowguard's \
                 migrations do), and upgrade to 0.8.2 or later."
            ),
        });
    }
    out
}

/// `"0.8.0"` to `(0, 8, 0)`; a missing patch number reads as 0, a suffix after the digits
/// of a component (`"0.9.0-dev"`) is ignored.
pub(super) fn parse_version(s: &str) -> Option<(u32, u32, u32)> {
    let mut parts = s.trim().split('.').map(|p| {
        let digits: String = p.chars().take_while(char::is_ascii_digit).collect();
        digits.parse::<u32>().ok()
    });
    let major = parts.next()??;
    let minor = parts.next().unwrap_or(Some(0))?;
    let patch = parts.next().unwrap_or(Some(0))?;
    Some((major, minor, patch))
}

// ---------------------------------------------------------------------------------------
// Rules: the audit trail.

#[derive(QueryableByName)]
pub(super) struct AuditTrigger {
    #[diesel(sql_type = Text)]
    name: String,
    /// `missing`, `disabled` or `ok`.
    #[diesel(sql_type = Text)]
    state: String,
    /// pgvector and generated columns the trigger does not leave out, comma-separated.
    #[diesel(sql_type = Nullable<Text>)]
    unexcluded: Option<String>,
}

/// `audit_trigger_missing`, `audit_exclusions_stale`: every tenant table but
/// [`crate::audit::UNAUDITED_TABLES`] (as migration `2026-12-01-000017_audit` attaches them) has
/// trigger `audit` calling `rowguard.audit_row()`, enabled, leaving out every pgvector
/// and generated column the table has.
pub(super) fn audit_triggers(conn: &mut PgConnection) -> crate::Result<Vec<Finding>> {
    let rows: Vec<AuditTrigger> = sql_query(concat!(
        "WITH ",
        tenant_tables_cte!(),
        " SELECT t.name,",
        "  CASE WHEN tg.oid IS NULL THEN 'missing' WHEN tg.tgenabled = 'D' THEN 'disabled' ELSE 'ok' END AS state,",
        "  (SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attname)",
        "     FROM pg_attribute a",
        "    WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped",
        "      AND (a.attgenerated <> '' OR EXISTS (SELECT 1 FROM pg_depend d",
        "            JOIN pg_extension e ON e.oid = d.refobjid",
        "           WHERE d.classid = 'pg_type'::regclass AND d.objid = a.atttypid",
        "             AND d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'",
        "             AND e.extname = 'vector'))",
        "      AND tg.oid IS NOT NULL",
        "      AND NOT a.attname::text = ANY (string_to_array(encode(tg.tgargs, 'escape'), '\\000'))",
        "  ) AS unexcluded",
        " FROM tenant_tables t JOIN pg_class c ON c.oid = t.oid",
        " LEFT JOIN pg_trigger tg ON tg.tgrelid = c.oid AND tg.tgname = 'audit' AND NOT tg.tgisinternal",
        "  AND tg.tgfoid = to_regprocedure('rowguard.audit_row()')",
        " WHERE NOT c.relispartition AND c.relname <> ALL ($1)",
        " ORDER BY t.name"
    ))
    .bind::<Array<Text>, _>(crate::audit::UNAUDITED_TABLES)
    .load(conn)?;
    let mut findings = Vec::new();
    for t in rows {
        match t.state.as_str() {
            "missing" => findings.push(Finding::warning(
                Rule::AuditTriggerMissing,
                &t.name,
                format!(
                    "no audit trigger: writes to {} leave no audit row. Run `SELECT rowguard.audit_table('{}')` \
                     in a migration (rowguard.protect_table does it too).",
                    t.name, t.name
                ),
            )),
            "disabled" => findings.push(Finding::warning(
                Rule::AuditTriggerMissing,
                &t.name,
                format!(
                    "the audit trigger is disabled: writes to {} leave no audit row. Run \
                     `ALTER TABLE {} ENABLE TRIGGER audit`.",
                    t.name, t.name
                ),
            )),
            _ => {}
        }
        if let Some(cols) = t.unexcluded {
            findings.push(Finding::warning(
                Rule::AuditExclusionsStale,
                &t.name,
                format!(
                    "the audit trigger copies {cols} into audit rows (vector or generated columns added \
                     after it was attached). Run `SELECT rowguard.audit_table('{}')` in a migration.",
                    t.name
                ),
            ));
        }
    }
    Ok(findings)
}
