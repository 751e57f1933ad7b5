//! `notifications`: A message to one user of the tenant (a mention, an assignment, a finished job).
//!
//! [`Notification`] is a row, [`NewNotification`] a row to insert and [`NotificationChanges`] an update. The query methods are the
//! ones every table shares; see [`crate::models`].

use chrono::{DateTime, Utc};
use diesel::{AsChangeset, Identifiable, Insertable, Queryable, Selectable};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::schema::notifications;

/// A row of `notifications`: A message to one user of the tenant (a mention, an assignment, a finished job).
#[derive(Queryable, Selectable, Identifiable, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[diesel(table_name = notifications, primary_key(tenant_id, id), check_for_backend(diesel::pg::Pg))]
pub struct Notification {
    /// The tenant the row belongs to (RLS confines every statement to it).
    pub tenant_id: Uuid,
    /// The row's id, a UUID v7.
    pub id: Uuid,
    /// The recipient; their notifications go when the user is deleted.
    pub user_id: Uuid,
    /// Lowercase name of what happened (task.assigned, mention, ...), for icons and preferences.
    pub kind: String,
    /// Title shown to users.
    pub title: String,
    /// Body text.
    pub body: Option<String>,
    /// Application path to open when the notification is clicked.
    pub link: Option<String>,
    /// When the recipient read it; NULL while unread.
    pub read_at: Option<DateTime<Utc>>,
    /// When the row was created.
    pub created_at: DateTime<Utc>,
    /// When the row last changed (kept current by a trigger).
    pub updated_at: DateTime<Utc>,
}

/// A `notifications` row to insert with [`NewNotification::insert`].
///
/// `None` in an optional field means the column's default (NULL for nullable columns).
/// Deserializes from a JSON body; a missing `id` gets a fresh UUID v7.
/// `tenant_id` must be the tenant of the connection: RLS `WITH CHECK` refuses any other.
#[derive(Insertable, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[diesel(table_name = notifications, check_for_backend(diesel::pg::Pg))]
pub struct NewNotification {
    /// The tenant the row belongs to (RLS confines every statement to it).
    pub tenant_id: Uuid,
    /// The row's id, a UUID v7.
    #[serde(default = "Uuid::now_v7")]
    pub id: Uuid,
    /// The recipient; their notifications go when the user is deleted.
    pub user_id: Uuid,
    /// Lowercase name of what happened (task.assigned, mention, ...), for icons and preferences.
    pub kind: String,
    /// Title shown to users.
    pub title: String,
    /// Body text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// Application path to open when the notification is clicked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    /// When the recipient read it; NULL while unread.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_at: Option<DateTime<Utc>>,
}

impl NewNotification {
    /// A new row with a fresh UUID v7 id and the required columns; every other column
    /// is left to its default (set the public fields to change that).
    pub fn new(
        tenant_id: Uuid,
        user_id: Uuid,
        kind: impl Into<String>,
        title: impl Into<String>,
    ) -> Self {
        Self {
            tenant_id,
            id: Uuid::now_v7(),
            user_id,
            kind: kind.into(),
            title: title.into(),
            body: None,
            link: None,
            read_at: None,
        }
    }
}

/// Changes to a `notifications` row, applied with [`NotificationChanges::apply`].
///
/// A `None` field leaves its column as it is; for nullable columns `Some(None)` sets
/// NULL (in JSON: a missing key leaves the column, `null` clears it).
#[derive(AsChangeset, Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
#[diesel(table_name = notifications, check_for_backend(diesel::pg::Pg))]
pub struct NotificationChanges {
    /// The recipient; their notifications go when the user is deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<Uuid>,
    /// Lowercase name of what happened (task.assigned, mention, ...), for icons and preferences.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Title shown to users.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Body text.
    #[serde(
        default,
        deserialize_with = "super::double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub body: Option<Option<String>>,
    /// Application path to open when the notification is clicked.
    #[serde(
        default,
        deserialize_with = "super::double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub link: Option<Option<String>>,
    /// When the recipient read it; NULL while unread.
    #[serde(
        default,
        deserialize_with = "super::double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub read_at: Option<Option<DateTime<Utc>>>,
}

super::table_queries!(
    notifications,
    Notification,
    NewNotification,
    NotificationChanges,
    order_by = (notifications::created_at.desc(), notifications::id.desc())
);
