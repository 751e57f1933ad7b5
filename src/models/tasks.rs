//! `tasks`: A to-do item, optionally assigned to a user and related to a deal or a meeting.
//!
//! [`Task`] is a row, [`NewTask`] a row to insert and [`TaskChanges`] an update. The query methods are the
//! ones every table shares; see [`crate::models`].

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::enums::{TaskPriority, TaskStatus};
use crate::schema::tasks;
use crate::UserId;

super::model! {
    /// A row of `tasks`: A to-do item, optionally assigned to a user and related to a deal or a meeting.
    table: tasks,
    key: (tenant_id, id),
    row: Task,
    new: NewTask,
    changes: TaskChanges,
    columns: {
        tenant_id: tenant,
        id: id,
        /// Title shown to users.
        title: required(String),
        /// Free-text description.
        description: nullable(String),
        /// todo, in_progress, done or cancelled.
        status: defaulted(TaskStatus),
        /// low, medium, high or urgent.
        priority: defaulted(TaskPriority),
        /// The user who should do the task; NULL when unassigned or once that user is
        /// deleted.
        assignee_id: nullable(UserId),
        /// When it is due.
        due_at: nullable(DateTime<Utc>),
        /// When the task was done; only set while status is done.
        completed_at: nullable(DateTime<Utc>),
        /// The deal the task belongs to; NULL when none or once the deal is deleted.
        deal_id: nullable(Uuid),
        /// The meeting the task came from; NULL when none or once the meeting is deleted.
        meeting_id: nullable(Uuid),
        /// The user who created the task; NULL for tasks created by automations or AI
        /// employees, or once that user is deleted.
        created_by: nullable(UserId),
        created_at: created,
        updated_at: updated,
    }
}

super::table_queries!(
    tasks,
    Task,
    NewTask,
    TaskChanges,
    order_by = (tasks::created_at.desc(), tasks::id.desc())
);
