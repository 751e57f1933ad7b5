//! The tenant pool's login holds nothing worth stealing.
//!
//! SQL inside a tenant transaction runs with everything the login can reach. Signed
//! contexts stop it from choosing another tenant, but a login that can become a
//! superuser, a BYPASSRLS role (such as `rowguard_admin`), a table owner (who can turn
//! RLS off), or a role creator (who can grant itself any of these) steps around RLS
//! altogether; one that may create temporary tables can shadow a tenant table for the
//! later transactions of its connection. [`privileges`] lists such reach, and the
//! tenant pool refuses to serve with [`crate::Error::UnsafeLogin`] unless
//! [`crate::pool::PoolConfig::allow_privileged_login`] is set. `rowguard doctor` checks
//! every login with the same query ([`crate::doctor`]).
//!
//! The same first checkout also asks the database whether it accepts the pool's
//! context key ([`key_refusal`]): a key it does not know, or one it retired, is a
//! configuration error ([`crate::Error::Config`]) at once, not an `Error::Forbidden`
//! on every statement that reads a row (and an empty result where none is read).

use diesel::sql_types::Text;
use diesel::QueryableByName;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

/// One line per way `login` can bypass the tenant boundary; `$1` is the login, `$2` the
/// admin role. Membership counts directly or through other roles (`pg_has_role(...,
/// 'MEMBER')`: a member can `SET ROLE` to the role even where it does not inherit).
pub(crate) const PRIVILEGES_SQL: &str = "\
SELECT cause FROM (
  SELECT 1 AS o, CASE WHEN r.rolname = $1 THEN 'is a superuser'
         ELSE 'can become superuser ' || quote_ident(r.rolname) END AS cause
    FROM pg_roles r WHERE r.rolsuper AND pg_has_role($1, r.oid, 'MEMBER')
  UNION ALL
  SELECT 2, CASE WHEN r.rolname = $1 THEN 'has BYPASSRLS'
         ELSE 'can become ' || quote_ident(r.rolname) || ', which has BYPASSRLS' END
    FROM pg_roles r
   WHERE r.rolbypassrls AND NOT r.rolsuper AND pg_has_role($1, r.oid, 'MEMBER')
  UNION ALL
  SELECT 3, 'is a member of the admin role ' || quote_ident(r.rolname)
    FROM pg_roles r
   WHERE r.rolname = $2 AND NOT r.rolbypassrls AND pg_has_role($1, r.oid, 'MEMBER')
  UNION ALL
  SELECT 4, CASE WHEN r.rolname = $1 THEN 'has CREATEROLE (it could grant itself any role)'
         ELSE 'can become ' || quote_ident(r.rolname) || ', which has CREATEROLE' END
    FROM pg_roles r
   WHERE r.rolcreaterole AND NOT r.rolsuper AND pg_has_role($1, r.oid, 'MEMBER')
  UNION ALL
  SELECT 5, 'owns ' || count(*) || ' rowguard table(s) through ' ||
            string_agg(DISTINCT quote_ident(pg_get_userbyid(c.relowner)), ', ') ||
            ' (an owner can disable row-level security)'
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE c.relkind IN ('r', 'p') AND n.nspname IN ('public', 'rowguard')
     AND pg_has_role($1, c.relowner, 'MEMBER')
  HAVING count(*) > 0
  UNION ALL
  SELECT 6, 'may create temporary tables in database ' || quote_ident(current_database()) ||
            ' (a temporary table shadows a tenant table for later transactions)'
   WHERE has_database_privilege($1, current_database(), 'TEMPORARY')
) causes ORDER BY o, cause";

#[derive(QueryableByName)]
struct Cause {
    #[diesel(sql_type = Text)]
    cause: String,
}

/// The ways `login` could bypass the tenant boundary on this database; empty when it
/// cannot.
pub(crate) async fn privileges(
    conn: &mut AsyncPgConnection,
    login: &str,
    admin_role: &str,
) -> diesel::QueryResult<Vec<String>> {
    let rows: Vec<Cause> = diesel::sql_query(PRIVILEGES_SQL)
        .bind::<Text, _>(login)
        .bind::<Text, _>(admin_role)
        .load(conn)
        .await?;
    Ok(rows.into_iter().map(|c| c.cause).collect())
}

/// Why the database refuses contexts signed with `key`, or `None` when it accepts
/// them: a service context for the nil tenant, signed now, goes through
/// `rowguard.verified_context()` in one autocommit statement, acting as `app_role` as
/// tenant transactions do (both settings are local to that statement's own
/// transaction; the sub-select with `OFFSET 0` sets them before the verification reads
/// them). Only the signature, the key, the expiry and the claims are checked, not the
/// tenant.
///
/// Only the verification's own refusals (messages that start with `rowguard: `) count:
/// another database error (a role the login cannot act as, a missing grant) is left
/// for the tenant transactions to report as their own, and gives `None`. Errors other
/// than a database's answer (a lost connection) are returned as they are.
pub(crate) async fn key_refusal(
    conn: &mut AsyncPgConnection,
    key: &crate::context::ContextKey,
    app_role: Option<&str>,
) -> diesel::QueryResult<Option<String>> {
    #[derive(QueryableByName)]
    struct Verified {
        #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Uuid>)]
        _tenant_id: Option<uuid::Uuid>,
    }
    let probe = crate::TenantContext::new(crate::TenantId::from_uuid(uuid::Uuid::nil()));
    let signed = key.sign(
        &probe,
        std::time::SystemTime::now() + std::time::Duration::from_secs(60),
    );
    let answer: diesel::QueryResult<Verified> = diesel::sql_query(
        "SELECT (rowguard.verified_context()).tenant_id AS _tenant_id \
           FROM (SELECT set_config('role', coalesce($2, 'none'), true), \
                        set_config('app.context', $1, true) OFFSET 0) s",
    )
    .bind::<Text, _>(signed)
    .bind::<diesel::sql_types::Nullable<Text>, _>(app_role)
    .get_result(conn)
    .await;
    match answer {
        Ok(_) => Ok(None),
        Err(diesel::result::Error::DatabaseError(_, info))
            if info.message().starts_with("rowguard: ") =>
        {
            Ok(Some(info.message().to_owned()))
        }
        Err(diesel::result::Error::DatabaseError(..)) => Ok(None),
        Err(other) => Err(other),
    }
}
