//! `tasks`: A to-do item, optionally assigned to a user and related to a deal or a meeting.
//!
//! [`Task`] is a row, [`NewTask`] a row to insert and [`TaskChanges`] an update. The query methods are the
//! ones every table shares; see [`crate::models`].

use chrono::{DateTime, Utc};
use diesel::{AsChangeset, Identifiable, Insertable, Queryable, Selectable};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::enums::{TaskPriority, TaskStatus};
use crate::schema::tasks;

/// A row of `tasks`: A to-do item, optionally assigned to a user and related to a deal or a meeting.
#[derive(Queryable, Selectable, Identifiable, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[diesel(table_name = tasks, primary_key(tenant_id, id), check_for_backend(diesel::pg::Pg))]
pub struct Task {
    /// The tenant the row belongs to (RLS confines every statement to it).
    pub tenant_id: Uuid,
    /// The row's id, a UUID v7.
    pub id: Uuid,
    /// Title shown to users.
    pub title: String,
    /// Free-text description.
    pub description: Option<String>,
    /// todo, in_progress, done or cancelled.
    pub status: TaskStatus,
    /// low, medium, high or urgent.
    pub priority: TaskPriority,
    /// The user who should do the task; NULL when unassigned or once that user is deleted.
    pub assignee_id: Option<Uuid>,
    /// When it is due.
    pub due_at: Option<DateTime<Utc>>,
    /// When the task was done; only set while status is done.
    pub completed_at: Option<DateTime<Utc>>,
    /// The deal the task belongs to; NULL when none or once the deal is deleted.
    pub deal_id: Option<Uuid>,
    /// The meeting the task came from; NULL when none or once the meeting is deleted.
    pub meeting_id: Option<Uuid>,
    /// The user who created the task; NULL for tasks created by automations or AI employees, or once that user is deleted.
    pub created_by: Option<Uuid>,
    /// When the row was created.
    pub created_at: DateTime<Utc>,
    /// When the row last changed (kept current by a trigger).
    pub updated_at: DateTime<Utc>,
}

/// A `tasks` row to insert with [`NewTask::insert`].
///
/// `None` in an optional field means the column's default (NULL for nullable columns).
/// Deserializes from a JSON body; a missing `id` gets a fresh UUID v7.
/// `tenant_id` must be the tenant of the connection: RLS `WITH CHECK` refuses any other.
#[derive(Insertable, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[diesel(table_name = tasks, check_for_backend(diesel::pg::Pg))]
pub struct NewTask {
    /// The tenant the row belongs to (RLS confines every statement to it).
    pub tenant_id: Uuid,
    /// The row's id, a UUID v7.
    #[serde(default = "Uuid::now_v7")]
    pub id: Uuid,
    /// Title shown to users.
    pub title: String,
    /// Free-text description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// todo, in_progress, done or cancelled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<TaskStatus>,
    /// low, medium, high or urgent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<TaskPriority>,
    /// The user who should do the task; NULL when unassigned or once that user is deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee_id: Option<Uuid>,
    /// When it is due.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_at: Option<DateTime<Utc>>,
    /// When the task was done; only set while status is done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<DateTime<Utc>>,
    /// The deal the task belongs to; NULL when none or once the deal is deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deal_id: Option<Uuid>,
    /// The meeting the task came from; NULL when none or once the meeting is deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meeting_id: Option<Uuid>,
    /// The user who created the task; NULL for tasks created by automations or AI employees, or once that user is deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<Uuid>,
}

impl NewTask {
    /// A new row with a fresh UUID v7 id and the required columns; every other column
    /// is left to its default (set the public fields to change that).
    pub fn new(tenant_id: Uuid, title: impl Into<String>) -> Self {
        Self {
            tenant_id,
            id: Uuid::now_v7(),
            title: title.into(),
            description: None,
            status: None,
            priority: None,
            assignee_id: None,
            due_at: None,
            completed_at: None,
            deal_id: None,
            meeting_id: None,
            created_by: None,
        }
    }
}

/// Changes to a `tasks` row, applied with [`TaskChanges::apply`].
///
/// A `None` field leaves its column as it is; for nullable columns `Some(None)` sets
/// NULL (in JSON: a missing key leaves the column, `null` clears it).
#[derive(AsChangeset, Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
#[diesel(table_name = tasks, check_for_backend(diesel::pg::Pg))]
pub struct TaskChanges {
    /// Title shown to users.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Free-text description.
    #[serde(
        default,
        deserialize_with = "super::double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub description: Option<Option<String>>,
    /// todo, in_progress, done or cancelled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<TaskStatus>,
    /// low, medium, high or urgent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<TaskPriority>,
    /// The user who should do the task; NULL when unassigned or once that user is deleted.
    #[serde(
        default,
        deserialize_with = "super::double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub assignee_id: Option<Option<Uuid>>,
    /// When it is due.
    #[serde(
        default,
        deserialize_with = "super::double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub due_at: Option<Option<DateTime<Utc>>>,
    /// When the task was done; only set while status is done.
    #[serde(
        default,
        deserialize_with = "super::double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub completed_at: Option<Option<DateTime<Utc>>>,
    /// The deal the task belongs to; NULL when none or once the deal is deleted.
    #[serde(
        default,
        deserialize_with = "super::double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub deal_id: Option<Option<Uuid>>,
    /// The meeting the task came from; NULL when none or once the meeting is deleted.
    #[serde(
        default,
        deserialize_with = "super::double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub meeting_id: Option<Option<Uuid>>,
    /// The user who created the task; NULL for tasks created by automations or AI employees, or once that user is deleted.
    #[serde(
        default,
        deserialize_with = "super::double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub created_by: Option<Option<Uuid>>,
}

super::table_queries!(
    tasks,
    Task,
    NewTask,
    TaskChanges,
    order_by = (tasks::created_at.desc(), tasks::id.desc())
);
