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
//! for f in report.errors() {
//!     eprintln!("{} {}: {}", f.rule, f.object, f.detail);
//! }
//! // A service can refuse to start on a schema that breaks a rule.
//! assert!(report.is_clean(), "the schema breaks rowguard's isolation rules");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;

use diesel::pg::PgConnection;
use serde::Serialize;

#[macro_use]
pub(crate) mod catalog;
mod lexer;
mod rules;

use rules::*;

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
    /// A tenant table (other than [`crate::audit::UNAUDITED_TABLES`]) without the
    /// enabled `audit` trigger (`rowguard.audit_row`), so its writes leave no
    /// audit row. A warning: isolation holds, the trail has a gap.
    AuditTriggerMissing,
    /// A tenant table whose `audit` trigger does not leave out one of its pgvector or
    /// generated columns (added after `rowguard.audit_table` last ran), so audit rows
    /// copy it. A warning.
    AuditExclusionsStale,
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
        Rule::AuditTriggerMissing,
        Rule::AuditExclusionsStale,
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
            Rule::AuditTriggerMissing => "audit_trigger_missing",
            Rule::AuditExclusionsStale => "audit_exclusions_stale",
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

    fn warning(rule: Rule, object: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            severity: Severity::Warning,
            ..Self::error(rule, object, detail)
        }
    }
}

/// Everything [`diagnose`] found, errors first, then by rule, object and detail. It
/// serializes to JSON; the command line prints it as text.
///
/// ```
/// use rowguard::doctor::Report;
/// let report = Report::default();
/// assert!(report.is_clean());
/// assert_eq!(report.errors().count(), 0);
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
    findings.extend(audit_triggers(conn)?);
    findings.sort_by(|a, b| {
        (a.severity, a.rule, &a.object, &a.detail).cmp(&(b.severity, b.rule, &b.object, &b.detail))
    });
    findings.dedup();
    Ok(Report { findings })
}

#[cfg(test)]
mod tests {
    use super::lexer::*;
    use super::rules::*;
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
        assert!(!fail_open_reasons("true", true, "tenant_id").is_empty());
        // A restrictive `true` narrows nothing and lets nothing through.
        assert!(fail_open_reasons("true", false, "tenant_id").is_empty());
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
}
