//! `users`: A member of one tenant, with a role. The same person in two tenants is two rows.
//!
//! [`User`] is a row, [`NewUser`] a row to insert and [`UserChanges`] an update. The query methods are the
//! ones every table shares; see [`crate::models`].

use chrono::{DateTime, Utc};
use diesel::{AsChangeset, Identifiable, Insertable, Queryable, Selectable};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::enums::{MemberRole, UserStatus};
use crate::schema::users;

/// A row of `users`: A member of one tenant, with a role. The same person in two tenants is two rows.
#[derive(Queryable, Selectable, Identifiable, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[diesel(table_name = users, primary_key(tenant_id, id), check_for_backend(diesel::pg::Pg))]
pub struct User {
    /// The tenant the row belongs to (RLS confines every statement to it).
    pub tenant_id: Uuid,
    /// The row's id, a UUID v7.
    pub id: Uuid,
    /// Login e-mail; unique per tenant, case-insensitively.
    pub email: String,
    /// Name shown to users.
    pub display_name: String,
    /// owner, admin, member or viewer: role-tier policies read it through app.role.
    pub role: MemberRole,
    /// Status.
    pub status: UserStatus,
    /// Last authenticated request, for idle-account reports.
    pub last_seen_at: Option<DateTime<Utc>>,
    /// When the row was created.
    pub created_at: DateTime<Utc>,
    /// When the row last changed (kept current by a trigger).
    pub updated_at: DateTime<Utc>,
}

/// A `users` row to insert with [`NewUser::insert`].
///
/// `None` in an optional field means the column's default (NULL for nullable columns).
/// Deserializes from a JSON body; a missing `id` gets a fresh UUID v7.
/// `tenant_id` must be the tenant of the connection: RLS `WITH CHECK` refuses any other.
#[derive(Insertable, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[diesel(table_name = users, check_for_backend(diesel::pg::Pg))]
pub struct NewUser {
    /// The tenant the row belongs to (RLS confines every statement to it).
    pub tenant_id: Uuid,
    /// The row's id, a UUID v7.
    #[serde(default = "Uuid::now_v7")]
    pub id: Uuid,
    /// Login e-mail; unique per tenant, case-insensitively.
    pub email: String,
    /// Name shown to users.
    pub display_name: String,
    /// owner, admin, member or viewer: role-tier policies read it through app.role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<MemberRole>,
    /// Status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<UserStatus>,
    /// Last authenticated request, for idle-account reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen_at: Option<DateTime<Utc>>,
}

impl NewUser {
    /// A new row with a fresh UUID v7 id and the required columns; every other column
    /// is left to its default (set the public fields to change that).
    pub fn new(tenant_id: Uuid, email: impl Into<String>, display_name: impl Into<String>) -> Self {
        Self {
            tenant_id,
            id: Uuid::now_v7(),
            email: email.into(),
            display_name: display_name.into(),
            role: None,
            status: None,
            last_seen_at: None,
        }
    }
}

/// Changes to a `users` row, applied with [`UserChanges::apply`].
///
/// A `None` field leaves its column as it is; for nullable columns `Some(None)` sets
/// NULL (in JSON: a missing key leaves the column, `null` clears it).
#[derive(AsChangeset, Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
#[diesel(table_name = users, check_for_backend(diesel::pg::Pg))]
pub struct UserChanges {
    /// Login e-mail; unique per tenant, case-insensitively.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Name shown to users.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// owner, admin, member or viewer: role-tier policies read it through app.role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<MemberRole>,
    /// Status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<UserStatus>,
    /// Last authenticated request, for idle-account reports.
    #[serde(
        default,
        deserialize_with = "super::double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub last_seen_at: Option<Option<DateTime<Utc>>>,
}

super::table_queries!(
    users,
    User,
    NewUser,
    UserChanges,
    order_by = (users::created_at.desc(), users::id.desc())
);
