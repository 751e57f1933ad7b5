//! `rowguard doctor`: reads the catalog of a live database and reports every breach of
//! the isolation rules (README, "The schema's isolation rules").
//!
//! Each rule is one small function running one catalog query, with every value bound
//! rather than formatted into SQL. What the catalog cannot express directly (does a
//! policy expression mention `tenant_id`, is `current_setting` wrapped in a sub-select)
//! is judged in Rust on the expression as PostgreSQL deparses it (`pg_get_expr`), with
//! string literals blanked out first so `'app.tenant_id'` never counts as a column.
//!
//! Scope: every schema of the current database except `pg_catalog`, `information_schema`,
//! `pg_toast*` and temporary schemas; objects that belong to an extension (pgvector's
//! functions, for example) are skipped. A *tenant table* is a table (plain or partitioned)
//! with a `tenant_id` column, or a table named `tenants` (whose tenant key is `id`).
//!
//! ```no_run
//! use diesel::Connection;
//! use rowguard::doctor::{diagnose, DoctorOptions};
//!
//! let mut conn = diesel::PgConnection::establish("postgres://localhost/app")?;
//! let report = diagnose(&mut conn, &DoctorOptions::default())?;
//! print!("{report}");
//! std::process::exit(if report.is_clean() { 0 } else { 1 });
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;

use diesel::pg::PgConnection;
use diesel::sql_types::{Array, Bool, Nullable, Text};
use diesel::{sql_query, QueryableByName, RunQueryDsl};
use serde::Serialize;

/// What [`diagnose`] checks beyond the schema itself.
///
/// ```
/// let opts = rowguard::doctor::DoctorOptions::default();
/// assert_eq!(opts.app_roles, vec!["rowguard_app".to_owned()]);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DoctorOptions {
    /// The roles applications act as. Each of them, and every LOGIN role that is a member
    /// of one of them (directly or through other roles), must be NOSUPERUSER, NOBYPASSRLS
    /// and own no table; each such login must moreover be unable to become any role
    /// that could, to create roles, or to create temporary tables.
    pub app_roles: Vec<String>,
    /// The admin role (BYPASSRLS), which no login of an application role may reach.
    pub admin_role: String,
}

impl Default for DoctorOptions {
    fn default() -> Self {
        Self {
            app_roles: vec!["rowguard_app".to_owned()],
            admin_role: "rowguard_admin".to_owned(),
        }
    }
}

/// How bad a [`Finding`] is. Errors make [`Report::is_clean`] false; warnings do not.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// A breach of the isolation rules: must be fixed.
    Error,
    /// Worth acting on, but isolation holds.
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

/// The rule a [`Finding`] breaches. The snake_case names ([`Rule::name`], also the serde
/// form) are stable: scripts may match on them.
///
/// ```
/// use rowguard::doctor::Rule;
/// assert_eq!(Rule::RlsNotForced.name(), "rls_not_forced");
/// assert_eq!(serde_json::to_string(&Rule::RlsNotForced).unwrap(), "\"rls_not_forced\"");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Rule {
    /// A tenant table without `ENABLE ROW LEVEL SECURITY`.
    RlsDisabled,
    /// A tenant table without `FORCE ROW LEVEL SECURITY` (its owner bypasses the policies).
    RlsNotForced,
    /// A tenant table with no policy at all.
    NoPolicy,
    /// A policy for INSERT, UPDATE or ALL on a tenant table without `WITH CHECK`.
    PolicyWithoutWithCheck,
    /// A policy that can let rows through without the tenant context matching: a
    /// `COALESCE`, a `true` expression, `OR true`, or a permissive policy that does not
    /// compare `tenant_id` (`id` on `tenants`) with the tenant context.
    PolicyFailOpen,
    /// A policy calling `current_setting(...)` or a `rowguard.current_*()` helper outside a
    /// sub-select, so PostgreSQL evaluates it once per row instead of once per statement.
    PerRowCurrentSetting,
    /// A foreign key between tenant tables that does not carry `tenant_id` to `tenant_id`.
    ForeignKeyWithoutTenantId,
    /// A unique constraint, unique index or primary key on a tenant table without `tenant_id`.
    UniqueWithoutTenantId,
    /// A foreign key whose columns do not lead any index of the referencing table.
    ForeignKeyWithoutIndex,
    /// A view without `security_invoker=true`: it reads with its owner's rights.
    ViewWithoutSecurityInvoker,
    /// A SECURITY DEFINER function without `SET search_path`.
    SecurityDefinerWithoutSearchPath,
    /// A SECURITY DEFINER function that PUBLIC may execute.
    SecurityDefinerExecutableByPublic,
    /// A configured application role does not exist.
    AppRoleMissing,
    /// An application role (or a LOGIN member of one) is SUPERUSER.
    AppRoleSuperuser,
    /// An application role (or a LOGIN member of one) has BYPASSRLS.
    AppRoleBypassRls,
    /// An application role (or a LOGIN member of one) owns, or has the rights of the owner
    /// of, a table or view.
    AppRoleOwnsTable,
    /// A LOGIN member of an application role can step around RLS another way: it can
    /// become a superuser, a BYPASSRLS role or the admin role (`SET ROLE`), has
    /// CREATEROLE, or may create temporary tables (which shadow tenant tables). The
    /// tenant pool refuses such a login.
    LoginCanBypassRls,
    /// The pgvector extension (`vector`) is not installed.
    PgvectorMissing,
    /// pgvector is older than 0.8.0 (no iterative index scans: filtered searches can
    /// return too few rows under RLS).
    PgvectorTooOld,
    /// pgvector is in 0.6.0..=0.8.1, the range of CVE-2026-3172 (parallel HNSW builds).
    #[serde(rename = "pgvector_cve_2026_3172")]
    PgvectorCve2026_3172,
}

impl Rule {
    /// Every rule, in report order.
    pub const ALL: &'static [Rule] = &[
        Rule::RlsDisabled,
        Rule::RlsNotForced,
        Rule::NoPolicy,
        Rule::PolicyWithoutWithCheck,
        Rule::PolicyFailOpen,
        Rule::PerRowCurrentSetting,
        Rule::ForeignKeyWithoutTenantId,
        Rule::UniqueWithoutTenantId,
        Rule::ForeignKeyWithoutIndex,
        Rule::ViewWithoutSecurityInvoker,
        Rule::SecurityDefinerWithoutSearchPath,
        Rule::SecurityDefinerExecutableByPublic,
        Rule::AppRoleMissing,
        Rule::AppRoleSuperuser,
        Rule::AppRoleBypassRls,
        Rule::AppRoleOwnsTable,
        Rule::LoginCanBypassRls,
        Rule::PgvectorMissing,
        Rule::PgvectorTooOld,
        Rule::PgvectorCve2026_3172,
    ];

    /// The stable snake_case name, as in `--json` output.
    pub fn name(self) -> &'static str {
        match self {
            Rule::RlsDisabled => "rls_disabled",
            Rule::RlsNotForced => "rls_not_forced",
            Rule::NoPolicy => "no_policy",
            Rule::PolicyWithoutWithCheck => "policy_without_with_check",
            Rule::PolicyFailOpen => "policy_fail_open",
            Rule::PerRowCurrentSetting => "per_row_current_setting",
            Rule::ForeignKeyWithoutTenantId => "foreign_key_without_tenant_id",
            Rule::UniqueWithoutTenantId => "unique_without_tenant_id",
            Rule::ForeignKeyWithoutIndex => "foreign_key_without_index",
            Rule::ViewWithoutSecurityInvoker => "view_without_security_invoker",
            Rule::SecurityDefinerWithoutSearchPath => "security_definer_without_search_path",
            Rule::SecurityDefinerExecutableByPublic => "security_definer_executable_by_public",
            Rule::AppRoleMissing => "app_role_missing",
            Rule::AppRoleSuperuser => "app_role_superuser",
            Rule::AppRoleBypassRls => "app_role_bypass_rls",
            Rule::AppRoleOwnsTable => "app_role_owns_table",
            Rule::LoginCanBypassRls => "login_can_bypass_rls",
            Rule::PgvectorMissing => "pgvector_missing",
            Rule::PgvectorTooOld => "pgvector_too_old",
            Rule::PgvectorCve2026_3172 => "pgvector_cve_2026_3172",
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

/// One breach: which rule, how bad, on what object, and what to do about it.
///
/// `object` names the catalog object: `schema.table` for tables and views,
/// `schema.table (policy name)`, `schema.table (constraint name)`,
/// `schema.table (index name)`, `schema.function(argument types)`, a role name, or
/// `extension vector`. Identifiers are quoted as SQL needs (`%I`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Finding {
    /// The rule breached.
    pub rule: Rule,
    /// Error or warning.
    pub severity: Severity,
    /// The object at fault.
    pub object: String,
    /// What is wrong and what to do, in a sentence or two.
    pub detail: String,
}

impl Finding {
    fn error(rule: Rule, object: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            rule,
            severity: Severity::Error,
            object: object.into(),
            detail: detail.into(),
        }
    }
}

/// Everything [`diagnose`] found, errors first, then by rule, object and detail.
///
/// ```
/// use rowguard::doctor::Report;
/// let report = Report::default();
/// assert!(report.is_clean());
/// assert_eq!(report.errors().count(), 0);
/// assert!(report.to_string().contains("no findings"));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    /// The findings, in a deterministic order.
    pub findings: Vec<Finding>,
}

impl Report {
    /// The findings of severity [`Severity::Error`].
    pub fn errors(&self) -> impl Iterator<Item = &Finding> {
        self.findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
    }

    /// The findings of severity [`Severity::Warning`].
    pub fn warnings(&self) -> impl Iterator<Item = &Finding> {
        self.findings
            .iter()
            .filter(|f| f.severity == Severity::Warning)
    }

    /// True when there is no error (warnings are allowed).
    pub fn is_clean(&self) -> bool {
        self.errors().next().is_none()
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let errors = self.errors().count();
        let warnings = self.warnings().count();
        if self.findings.is_empty() {
            return writeln!(f, "rowguard doctor: no findings, the isolation rules hold.");
        }
        let plural = |n: usize| if n == 1 { "" } else { "s" };
        writeln!(
            f,
            "rowguard doctor: {errors} error{}, {warnings} warning{}",
            plural(errors),
            plural(warnings)
        )?;
        let width = self
            .findings
            .iter()
            .map(|x| x.rule.name().len())
            .max()
            .unwrap_or(0);
        for x in &self.findings {
            writeln!(f)?;
            writeln!(
                f,
                "{:<7}  {:<width$}  {}",
                x.severity,
                x.rule.name(),
                x.object
            )?;
            writeln!(f, "         {}", x.detail)?;
        }
        Ok(())
    }
}

/// Runs every rule against the database `conn` is connected to.
///
/// The connection needs to read the catalog only; connect as the owner or any role that
/// sees `pg_policy` (everyone does by default). Nothing is written.
///
/// ```no_run
/// # use diesel::Connection;
/// # let mut conn = diesel::PgConnection::establish("postgres://localhost/app")?;
/// use rowguard::doctor::{diagnose, DoctorOptions, Rule};
/// let report = diagnose(&mut conn, &DoctorOptions::default())?;
/// for finding in report.errors().filter(|f| f.rule == Rule::RlsNotForced) {
///     eprintln!("{}: {}", finding.object, finding.detail);
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn diagnose(conn: &mut PgConnection, opts: &DoctorOptions) -> crate::Result<Report> {
    let mut findings = Vec::new();
    findings.extend(table_rls(conn)?);
    findings.extend(policies_without_with_check(conn)?);
    findings.extend(policies_fail_open(conn)?);
    findings.extend(per_row_current_setting(conn)?);
    findings.extend(foreign_keys_without_tenant_id(conn)?);
    findings.extend(uniques_without_tenant_id(conn)?);
    findings.extend(foreign_keys_without_index(conn)?);
    findings.extend(views_without_security_invoker(conn)?);
    findings.extend(security_definer_without_search_path(conn)?);
    findings.extend(security_definer_executable_by_public(conn)?);
    findings.extend(app_role_attributes(conn, opts)?);
    findings.extend(app_roles_owning_tables(conn, opts)?);
    findings.extend(logins_that_can_bypass_rls(conn, opts)?);
    findings.extend(pgvector_version(conn)?);
    findings.sort_by(|a, b| {
        (a.severity, a.rule, &a.object, &a.detail).cmp(&(b.severity, b.rule, &b.object, &b.detail))
    });
    findings.dedup();
    Ok(Report { findings })
}

// ---------------------------------------------------------------------------------------
// SQL building blocks. Macros, not consts, so `concat!` can splice them into literals.

/// Schemas in scope, for a query that joins `pg_namespace n`.
macro_rules! app_schema {
    () => {
        "n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp_)'"
    };
}

/// `$oid` (a column of `$catalog`) does not belong to an extension.
macro_rules! not_extension_member {
    ($catalog:literal, $oid:literal) => {
        concat!(
            "NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = '",
            $catalog,
            "'::regclass AND d.objid = ",
            $oid,
            " AND d.deptype = 'e')"
        )
    };
}

/// CTE `tenant_tables(oid, name, key_column, key_attnum, has_tenant_id)`: every tenant
/// table in scope, its `%I.%I` name and its tenant key (`tenant_id`, or `id` on `tenants`).
macro_rules! tenant_tables_cte {
    () => {
        concat!(
            "tenant_tables AS (",
            " SELECT c.oid, format('%I.%I', n.nspname, c.relname) AS name,",
            "  c.relrowsecurity, c.relforcerowsecurity,",
            "  coalesce(tid.attname, pk.attname) AS key_column,",
            "  coalesce(tid.attnum, pk.attnum) AS key_attnum,",
            "  tid.attnum IS NOT NULL AS has_tenant_id",
            " FROM pg_class c",
            " JOIN pg_namespace n ON n.oid = c.relnamespace",
            " LEFT JOIN pg_attribute tid ON tid.attrelid = c.oid AND tid.attname = 'tenant_id'",
            "  AND tid.attnum > 0 AND NOT tid.attisdropped",
            " LEFT JOIN pg_attribute pk ON pk.attrelid = c.oid AND pk.attname = 'id'",
            "  AND pk.attnum > 0 AND NOT pk.attisdropped",
            " WHERE c.relkind IN ('r', 'p') AND ",
            app_schema!(),
            " AND ",
            not_extension_member!("pg_class", "c.oid"),
            " AND (tid.attnum IS NOT NULL OR c.relname = 'tenants')",
            ")"
        )
    };
}

// ---------------------------------------------------------------------------------------
// Rules: row-level security on tenant tables.

#[derive(QueryableByName)]
struct TableRls {
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
fn table_rls(conn: &mut PgConnection) -> crate::Result<Vec<Finding>> {
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
struct PolicyName {
    #[diesel(sql_type = Text)]
    object: String,
    #[diesel(sql_type = Text)]
    command: String,
}

/// `policy_without_with_check`: INSERT, UPDATE and ALL policies need `WITH CHECK`.
fn policies_without_with_check(conn: &mut PgConnection) -> crate::Result<Vec<Finding>> {
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
struct PolicyExpr {
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
fn tenant_policies(conn: &mut PgConnection) -> crate::Result<Vec<PolicyExpr>> {
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
fn policies_fail_open(conn: &mut PgConnection) -> crate::Result<Vec<Finding>> {
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
fn per_row_current_setting(conn: &mut PgConnection) -> crate::Result<Vec<Finding>> {
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
struct ForeignKey {
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
fn foreign_keys_without_tenant_id(conn: &mut PgConnection) -> crate::Result<Vec<Finding>> {
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
struct UniqueIndex {
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
fn uniques_without_tenant_id(conn: &mut PgConnection) -> crate::Result<Vec<Finding>> {
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
struct UnindexedForeignKey {
    #[diesel(sql_type = Text)]
    object: String,
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Array<Text>)]
    columns: Vec<String>,
}

/// `foreign_key_without_index`: some valid, non-partial index must have the foreign key's
/// columns, in any order, as its leading key columns.
fn foreign_keys_without_index(conn: &mut PgConnection) -> crate::Result<Vec<Finding>> {
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
struct ViewOptions {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Array<Text>)]
    options: Vec<String>,
}

/// `view_without_security_invoker`.
fn views_without_security_invoker(conn: &mut PgConnection) -> crate::Result<Vec<Finding>> {
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
struct FunctionName {
    #[diesel(sql_type = Text)]
    name: String,
}

/// `security_definer_without_search_path`.
fn security_definer_without_search_path(conn: &mut PgConnection) -> crate::Result<Vec<Finding>> {
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
fn security_definer_executable_by_public(conn: &mut PgConnection) -> crate::Result<Vec<Finding>> {
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

/// CTE `app_roles(oid, rolname, configured)`: the configured roles ($1) and every role
/// that is a member of one, recursively.
macro_rules! app_roles_cte {
    () => {
        concat!(
            "RECURSIVE tree AS (",
            " SELECT r.oid, true AS configured FROM pg_roles r WHERE r.rolname = ANY($1)",
            " UNION",
            " SELECT am.member, false FROM tree JOIN pg_auth_members am ON am.roleid = tree.oid",
            "), app_roles AS (",
            " SELECT r.oid, r.rolname::text AS rolname, r.rolsuper, r.rolbypassrls,",
            "  bool_or(tree.configured) AS configured",
            " FROM tree JOIN pg_roles r ON r.oid = tree.oid",
            " GROUP BY r.oid, r.rolname, r.rolsuper, r.rolbypassrls, r.rolcanlogin",
            " HAVING bool_or(tree.configured) OR r.rolcanlogin",
            ")"
        )
    };
}

#[derive(QueryableByName)]
struct RoleAttributes {
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
fn app_role_attributes(
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
struct LoginName {
    #[diesel(sql_type = Text)]
    rolname: String,
}

#[derive(QueryableByName)]
struct Cause {
    #[diesel(sql_type = Text)]
    cause: String,
}

/// `login_can_bypass_rls`: every LOGIN member of an application role, checked with the
/// very query the tenant pool runs on its login at start (`pool/login.rs`). Causes the
/// rules above already report (the login's own SUPERUSER, BYPASSRLS, table ownership)
/// are left to them.
fn logins_that_can_bypass_rls(
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
struct RoleOwnership {
    #[diesel(sql_type = Text)]
    rolname: String,
    #[diesel(sql_type = Bool)]
    configured: bool,
    #[diesel(sql_type = Array<Text>)]
    tables: Vec<String>,
}

/// `app_role_owns_table`: owning a table (or being a member, with INHERIT, of its owner)
/// lets a role switch RLS off on it. Superusers are reported by `app_role_superuser`.
fn app_roles_owning_tables(
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
struct ExtensionVersion {
    #[diesel(sql_type = Nullable<Text>)]
    version: Option<String>,
}

/// `pgvector_missing`, `pgvector_too_old`, `pgvector_cve_2026_3172`.
fn pgvector_version(conn: &mut PgConnection) -> crate::Result<Vec<Finding>> {
    let row: ExtensionVersion = sql_query(
        "SELECT (SELECT extversion FROM pg_extension WHERE extname = 'vector') AS version",
    )
    .get_result(conn)?;
    Ok(pgvector_findings(row.version.as_deref()))
}

const PGVECTOR: &str = "extension vector";

fn pgvector_findings(version: Option<&str>) -> Vec<Finding> {
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
fn parse_version(s: &str) -> Option<(u32, u32, u32)> {
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
// Expression analysis on deparsed SQL.

/// The expression with the contents of string literals replaced by spaces (the quotes
/// stay), so words inside literals are never mistaken for identifiers.
fn blank_literals(expr: &str) -> String {
    let mut out = String::with_capacity(expr.len());
    let mut in_literal = false;
    let mut chars = expr.chars().peekable();
    while let Some(c) = chars.next() {
        if in_literal {
            if c == '\'' {
                if chars.peek() == Some(&'\'') {
                    chars.next();
                    out.push_str("  ");
                } else {
                    in_literal = false;
                    out.push(c);
                }
            } else {
                out.push(' ');
            }
        } else {
            if c == '\'' {
                in_literal = true;
            }
            out.push(c);
        }
    }
    out
}

fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '$'
}

/// The lowercase words (identifiers, keywords) of an expression, outside string literals,
/// each with its byte offset.
fn words(expr: &str) -> Vec<(usize, String)> {
    let blanked = blank_literals(expr).to_lowercase();
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in blanked.char_indices() {
        match (is_ident_char(c), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                out.push((s, blanked[s..i].to_owned()));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push((s, blanked[s..].to_owned()));
    }
    out
}

/// Does `expr` mention the identifier `ident` (as a whole word, outside literals)?
fn mentions_ident(expr: &str, ident: &str) -> bool {
    words(expr).iter().any(|(_, w)| w == ident)
}

/// The context readers a policy compares with.
const CONTEXT_FUNCTIONS: &[&str] = &[
    "current_setting",
    "current_tenant_id",
    "current_user_id",
    "current_member_role",
];

/// Why a policy clause can let rows through without the tenant matching (empty: it cannot).
fn fail_open_reasons(expr: &str, permissive: bool, key_column: &str) -> Vec<&'static str> {
    let w = words(expr);
    let mut reasons = Vec::new();
    if w.iter().any(|(_, x)| x == "coalesce") {
        reasons.push("COALESCE can turn a missing tenant context into a default that matches");
    }
    let bare = blank_literals(expr);
    let bare = bare
        .trim()
        .trim_matches(|c: char| c == '(' || c == ')' || c.is_whitespace());
    if bare.eq_ignore_ascii_case("true") {
        reasons.push("the expression is `true`");
    }
    let or_true = w.windows(2).enumerate().any(|(i, pair)| {
        let (a, b) = (&pair[0].1, &pair[1].1);
        let after_is = i > 0 && (w[i - 1].1 == "is" || w[i - 1].1 == "not");
        (a == "or" && b == "true") || (a == "true" && b == "or" && !after_is)
    });
    if or_true {
        reasons.push("`OR true` makes it always true");
    }
    if permissive && !w.iter().any(|(_, x)| x == key_column) {
        reasons.push(if key_column == "id" {
            "a permissive policy on tenants that does not compare id (permissive policies are OR-ed)"
        } else {
            "a permissive policy that does not compare tenant_id (permissive policies are OR-ed)"
        });
    }
    if permissive
        && !w
            .iter()
            .any(|(_, x)| x == "current_tenant_id" || x == "current_setting")
    {
        reasons.push("a permissive policy that does not read the tenant context");
    }
    reasons
}

/// The context-reading calls in `expr` that are not inside a `(SELECT ...)`.
fn unwrapped_context_calls(expr: &str) -> Vec<String> {
    let blanked = blank_literals(expr).to_lowercase();
    // One entry per open parenthesis: does a SELECT follow it?
    let mut stack: Vec<bool> = Vec::new();
    let mut found = Vec::new();
    let mut prev: Option<char> = None;
    for (i, c) in blanked.char_indices() {
        let rest = &blanked[i..];
        if c == '(' {
            let inner = rest[1..].trim_start();
            let is_select = inner
                .strip_prefix("select")
                .is_some_and(|after| !after.starts_with(is_ident_char));
            stack.push(is_select);
        } else if c == ')' {
            stack.pop();
        } else if !prev.is_some_and(is_ident_char) {
            for name in CONTEXT_FUNCTIONS {
                let Some(after) = rest.strip_prefix(name) else {
                    continue;
                };
                let is_call =
                    !after.starts_with(is_ident_char) && after.trim_start().starts_with('(');
                if is_call && !stack.iter().any(|s| *s) {
                    let call = format!("{name}()");
                    if !found.contains(&call) {
                        found.push(call);
                    }
                }
            }
        }
        prev = Some(c);
    }
    found
}

fn quote_ident(name: &str) -> String {
    let plain = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if plain {
        name.to_owned()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

/// Is `security_invoker` set to a true value in a view's `reloptions`?
fn security_invoker_on(options: &[String]) -> bool {
    options.iter().any(|o| {
        o.split_once('=').is_some_and(|(k, v)| {
            k.trim().eq_ignore_ascii_case("security_invoker")
                && matches!(
                    v.trim().to_ascii_lowercase().as_str(),
                    "true" | "on" | "yes" | "1" | "t" | "y"
                )
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "(tenant_id = ( SELECT rowguard.current_tenant_id() AS current_tenant_id))";

    #[test]
    fn rule_names_match_serde() {
        for rule in Rule::ALL {
            let json = serde_json::to_string(rule).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", rule.name()));
        }
    }

    #[test]
    fn the_conventional_policy_is_fine() {
        assert!(fail_open_reasons(GOOD, true, "tenant_id").is_empty());
        assert!(unwrapped_context_calls(GOOD).is_empty());
        let tenants = GOOD.replace("tenant_id =", "id =");
        assert!(fail_open_reasons(&tenants, true, "id").is_empty());
    }

    #[test]
    fn fail_open_shapes() {
        let coalesce = "COALESCE((tenant_id = ( SELECT rowguard.current_tenant_id() AS current_tenant_id)), true)";
        assert!(!fail_open_reasons(coalesce, true, "tenant_id").is_empty());
        assert!(!fail_open_reasons("true", false, "tenant_id").is_empty());
        let or_true = format!("({GOOD} OR true)");
        assert!(!fail_open_reasons(&or_true, true, "tenant_id").is_empty());
        // tenant_id inside a literal is not a mention of the column.
        let literal = "(current_setting('app.tenant_id'::text, true) IS NOT NULL)";
        assert!(!fail_open_reasons(literal, true, "tenant_id").is_empty());
        // A restrictive policy may narrow by anything.
        let role =
            "(( SELECT rowguard.current_member_role() AS current_member_role) = 'owner'::text)";
        assert!(fail_open_reasons(role, false, "tenant_id").is_empty());
        // `IS TRUE OR` is not `true OR`.
        let is_true = format!("(({GOOD}) IS TRUE)");
        assert!(fail_open_reasons(&is_true, true, "tenant_id").is_empty());
    }

    #[test]
    fn per_row_calls() {
        let bare =
            "(tenant_id = (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid)";
        assert_eq!(unwrapped_context_calls(bare), vec!["current_setting()"]);
        let helper = "(tenant_id = rowguard.current_tenant_id())";
        assert_eq!(unwrapped_context_calls(helper), vec!["current_tenant_id()"]);
        let wrapped = "(tenant_id = ( SELECT (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid AS nullif))";
        assert!(unwrapped_context_calls(wrapped).is_empty());
        // A literal naming the function is not a call.
        assert!(unwrapped_context_calls("(note = 'current_setting()'::text)").is_empty());
    }

    #[test]
    fn idents() {
        assert!(mentions_ident("lower(email), tenant_id", "tenant_id"));
        assert!(!mentions_ident("other_tenant_id", "tenant_id"));
        assert!(!mentions_ident("tenant_id", "id"));
        assert!(mentions_ident("t.id", "id"));
    }

    #[test]
    fn view_options() {
        assert!(security_invoker_on(&["security_invoker=true".to_owned()]));
        assert!(security_invoker_on(&["security_invoker=on".to_owned()]));
        assert!(!security_invoker_on(&["security_invoker=false".to_owned()]));
        assert!(!security_invoker_on(&[]));
    }

    #[test]
    fn pgvector_ranges() {
        let rules = |v| {
            pgvector_findings(v)
                .into_iter()
                .map(|f| f.rule)
                .collect::<Vec<_>>()
        };
        assert_eq!(rules(None), vec![Rule::PgvectorMissing]);
        assert_eq!(rules(Some("0.5.1")), vec![Rule::PgvectorTooOld]);
        assert_eq!(
            rules(Some("0.7.4")),
            vec![Rule::PgvectorTooOld, Rule::PgvectorCve2026_3172]
        );
        assert_eq!(rules(Some("0.8.0")), vec![Rule::PgvectorCve2026_3172]);
        assert_eq!(rules(Some("0.8.1")), vec![Rule::PgvectorCve2026_3172]);
        assert!(rules(Some("0.8.2")).is_empty());
        assert!(rules(Some("0.9")).is_empty());
        assert_eq!(rules(Some("garbage")), vec![Rule::PgvectorTooOld]);
    }

    #[test]
    fn display_is_actionable() {
        let report = Report {
            findings: pgvector_findings(Some("0.8.0")),
        };
        assert!(report.is_clean());
        let text = report.to_string();
        assert!(text.contains("0 errors, 1 warning"), "{text}");
        assert!(
            text.contains("max_parallel_maintenance_workers = 0"),
            "{text}"
        );
    }
}
