//! `users`: A member of one tenant, with a role. The same person in two tenants is two rows.
//!
//! [`User`] is a row, [`NewUser`] a row to insert and [`UserChanges`] an update. The query methods are the
//! ones every table shares; see [`crate::models`].

use chrono::{DateTime, Utc};

use super::enums::{MemberRole, UserStatus};
use crate::schema::users;
use crate::UserId;

super::model! {
    /// A row of `users`: A member of one tenant, with a role. The same person in two tenants is two rows.
    table: users,
    key: (tenant_id, id),
    row: User,
    new: NewUser,
    changes: UserChanges,
    columns: {
        tenant_id: tenant,
        id: id(UserId),
        /// Login e-mail; unique per tenant, case-insensitively.
        email: required(String),
        /// Name shown to users.
        display_name: required(String),
        /// owner, admin, member or viewer: role-tier policies read it through app.role.
        role: defaulted(MemberRole),
        /// Status.
        status: defaulted(UserStatus),
        /// Last authenticated request, for idle-account reports.
        last_seen_at: nullable(DateTime<Utc>),
        created_at: created,
        updated_at: updated,
    }
}

super::table_queries!(
    users,
    User,
    NewUser,
    UserChanges,
    order_by = (users::created_at.desc(), users::id.desc())
);
