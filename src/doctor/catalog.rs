//! The catalog side of the doctor: SQL building blocks every rule's query shares
//! (which schemas are in scope, which objects belong to an extension, which tables are
//! tenant tables, which roles are application roles and their logins). Macros, not
//! constants, so `concat!` can splice them into each rule's query literal.

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

/// Every tenant table in scope, by name: the doctor's `tenant_tables` CTE as a query of
/// its own, for [`crate::catalog::TenantTable`] rows.
pub(crate) const TENANT_TABLES_SQL: &str = concat!(
    "WITH ",
    tenant_tables_cte!(),
    " SELECT t.name, c.relname::text AS table_name, t.key_column::text AS key_column",
    " FROM tenant_tables t JOIN pg_class c ON c.oid = t.oid",
    " ORDER BY c.relname, t.name"
);
