//! The test harness itself: each test gets its own migrated database on a private (or
//! configured) server, and the application connection is a plain member of
//! `rowguard_app` — not a superuser, not BYPASSRLS, owner of nothing.

use diesel::sql_types::{Bool, Text};
use diesel::{QueryableByName, RunQueryDsl};
use rowguard_testkit::fixtures::N;
use rowguard_testkit::server::TestDatabase;

#[derive(QueryableByName)]
struct Who {
    #[diesel(sql_type = Text)]
    user: String,
    #[diesel(sql_type = Bool)]
    superuser: bool,
    #[diesel(sql_type = Bool)]
    bypassrls: bool,
    #[diesel(sql_type = Bool)]
    owns_tables: bool,
}

#[test]
fn app_connection_is_an_unprivileged_member_of_rowguard_app() {
    let db = TestDatabase::new().expect("test database");
    let mut conn = db.app_conn().expect("app connection");
    let who: Who = diesel::sql_query(
        "SELECT current_user::text AS user, r.rolsuper AS superuser, r.rolbypassrls AS bypassrls, \
         EXISTS (SELECT FROM pg_class c WHERE c.relowner = r.oid) AS owns_tables \
         FROM pg_roles r WHERE r.rolname = current_user",
    )
    .get_result(&mut conn)
    .expect("role facts");
    assert_eq!(who.user, rowguard_testkit::server::APP_LOGIN_ROLE);
    assert!(!who.superuser && !who.bypassrls && !who.owns_tables);
    let member: bool = diesel::select(diesel::dsl::sql::<Bool>(
        "pg_has_role(current_user, 'rowguard_app', 'MEMBER')",
    ))
    .get_result(&mut conn)
    .expect("membership");
    assert!(member);
}

#[test]
fn each_test_database_is_separate_and_dropped() {
    let a = TestDatabase::new().expect("a");
    let b = TestDatabase::new().expect("b");
    assert_ne!(a.name(), b.name());
    let name = a.name().to_owned();
    let server = a.server();
    drop(a);
    let mut admin = server.admin_conn().expect("admin");
    let left: i64 = diesel::sql_query("SELECT count(*) AS n FROM pg_database WHERE datname = $1")
        .bind::<Text, _>(&name)
        .get_result::<N>(&mut admin)
        .expect("count")
        .n;
    assert_eq!(left, 0, "dropped database {name} is still there");
}
