//! `notifications`: A message to one user of the tenant (a mention, an assignment, a finished job).
//!
//! [`Notification`] is a row, [`NewNotification`] a row to insert and [`NotificationChanges`] an update. The query methods are the
//! ones every table shares; see [`crate::models`].

use chrono::{DateTime, Utc};

use crate::schema::notifications;
use crate::UserId;

super::model! {
    /// A row of `notifications`: A message to one user of the tenant (a mention, an assignment, a finished job).
    table: notifications,
    key: (tenant_id, id),
    row: Notification,
    new: NewNotification,
    changes: NotificationChanges,
    columns: {
        tenant_id: tenant,
        id: id,
        /// The recipient; their notifications go when the user is deleted.
        user_id: required(UserId),
        /// Lowercase name of what happened (task.assigned, mention, ...), for icons and
        /// preferences.
        kind: required(String),
        /// Title shown to users.
        title: required(String),
        /// Body text.
        body: nullable(String),
        /// Application path to open when the notification is clicked.
        link: nullable(String),
        /// When the recipient read it; NULL while unread.
        read_at: nullable(DateTime<Utc>),
        created_at: created,
        updated_at: updated,
    }
}

super::table_queries!(
    notifications,
    Notification,
    NewNotification,
    NotificationChanges,
    order_by = (notifications::created_at.desc(), notifications::id.desc())
);
