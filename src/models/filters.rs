//! Query fragments that a handler composes onto its own queries: by status, by
//! assignee, by time range, and keyset pagination. Each is a
//! [`#[diesel::dsl::auto_type]`](diesel::dsl::auto_type) function: its return type has a
//! name (a type alias of the function's own name, `filters::task_status_is`), and the
//! fragment combines with other filters, orders and limits, on top of the row-level
//! security that already confines every query to the connection's tenant.
//!
//! ```no_run
//! use diesel::{QueryDsl, SelectableHelper};
//! use diesel_async::RunQueryDsl;
//! use rowguard::models::filters::{self, TaskCursor};
//! use rowguard::models::{Task, TaskStatus};
//! use rowguard::schema::tasks;
//! use rowguard::UserId;
//!
//! async fn my_open_tasks(
//!     conn: &mut rowguard::tenant::TenantConn,
//!     me: UserId,
//!     after: Option<TaskCursor>,
//! ) -> rowguard::Result<Vec<Task>> {
//!     let mut query = tasks::table
//!         .filter(filters::task_status_is(TaskStatus::Todo))
//!         .filter(filters::task_assigned_to(me))
//!         .order_by(filters::tasks_newest_first())
//!         .limit(20)
//!         .select(Task::as_select())
//!         .into_boxed();
//!     if let Some(cursor) = after {
//!         query = query.filter(filters::tasks_after(cursor));
//!     }
//!     Ok(query.load(conn).await?)
//! }
//! ```

// The type aliases auto_type generates carry the function's name and doc-less; the
// functions document them.
#![allow(missing_docs)]

use chrono::{DateTime, Utc};
use diesel::dsl;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::enums::{DocumentStatus, TaskStatus};
use super::{Document, Task};
use crate::schema::{documents, tasks};
use crate::UserId;

/// Tasks in `status`.
#[dsl::auto_type]
pub fn task_status_is(status: TaskStatus) -> _ {
    tasks::status.eq(status)
}

/// Tasks assigned to `user`.
#[dsl::auto_type]
pub fn task_assigned_to(user: UserId) -> _ {
    tasks::assignee_id.eq(user)
}

/// Tasks due in `[from, to)`; tasks without a due date never match.
#[dsl::auto_type]
pub fn task_due_between(from: DateTime<Utc>, to: DateTime<Utc>) -> _ {
    tasks::due_at.ge(from).and(tasks::due_at.lt(to))
}

/// Tasks created in `[from, to)`.
#[dsl::auto_type]
pub fn task_created_between(from: DateTime<Utc>, to: DateTime<Utc>) -> _ {
    tasks::created_at.ge(from).and(tasks::created_at.lt(to))
}

/// The order keyset pagination over tasks follows: newest first, ties by id.
#[dsl::auto_type]
pub fn tasks_newest_first() -> _ {
    (tasks::created_at.desc(), tasks::id.desc())
}

/// Where a page of tasks ended, in [`tasks_newest_first()`] order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskCursor {
    /// The last row's `created_at`.
    pub created_at: DateTime<Utc>,
    /// The last row's `id`.
    pub id: Uuid,
}

impl From<&Task> for TaskCursor {
    fn from(t: &Task) -> Self {
        Self {
            created_at: t.created_at,
            id: t.id,
        }
    }
}

/// The tasks after `cursor` in [`tasks_newest_first()`] order: the next page.
#[dsl::auto_type]
pub fn tasks_after(cursor: TaskCursor) -> _ {
    let at: DateTime<Utc> = cursor.created_at;
    let id: Uuid = cursor.id;
    tasks::created_at
        .lt(at)
        .or(tasks::created_at.eq(at).and(tasks::id.lt(id)))
}

/// Documents in `status`.
#[dsl::auto_type]
pub fn document_status_is(status: DocumentStatus) -> _ {
    documents::status.eq(status)
}

/// Documents created in `[from, to)`.
#[dsl::auto_type]
pub fn document_created_between(from: DateTime<Utc>, to: DateTime<Utc>) -> _ {
    documents::created_at
        .ge(from)
        .and(documents::created_at.lt(to))
}

/// The order keyset pagination over documents follows: newest first, ties by id.
#[dsl::auto_type]
pub fn documents_newest_first() -> _ {
    (documents::created_at.desc(), documents::id.desc())
}

/// Where a page of documents ended, in [`documents_newest_first()`] order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentCursor {
    /// The last row's `created_at`.
    pub created_at: DateTime<Utc>,
    /// The last row's `id`.
    pub id: Uuid,
}

impl From<&Document> for DocumentCursor {
    fn from(d: &Document) -> Self {
        Self {
            created_at: d.created_at,
            id: d.id,
        }
    }
}

/// The documents after `cursor` in [`documents_newest_first()`] order: the next page.
#[dsl::auto_type]
pub fn documents_after(cursor: DocumentCursor) -> _ {
    let at: DateTime<Utc> = cursor.created_at;
    let id: Uuid = cursor.id;
    documents::created_at
        .lt(at)
        .or(documents::created_at.eq(at).and(documents::id.lt(id)))
}
