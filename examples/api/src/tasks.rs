//! Tasks: listed by assignee and status, created, completed.

use axum::extract::State;
use axum::http::{header, StatusCode};
use chrono::{DateTime, Utc};
use diesel::{BoolExpressionMethods, ExpressionMethods, QueryDsl, SelectableHelper};
use rowguard::models::{NewTask, Task, TaskChanges, TaskPriority, TaskStatus};
use rowguard::page::Cursor;
use rowguard::schema::tasks;
use rowguard::UserId;
use rowguard_axum::{ApiError, Caller, Tx};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::extract::{Json, Path, Query};
use crate::{page_after, page_end, page_limit, require_writer, AppState};

/// A task.
#[derive(Serialize, ToSchema)]
pub struct TaskOut {
    id: Uuid,
    title: String,
    description: Option<String>,
    #[schema(schema_with = crate::openapi::task_status)]
    status: TaskStatus,
    #[schema(schema_with = crate::openapi::task_priority)]
    priority: TaskPriority,
    assignee_id: Option<Uuid>,
    due_at: Option<DateTime<Utc>>,
    completed_at: Option<DateTime<Utc>>,
    created_by: Option<Uuid>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<Task> for TaskOut {
    fn from(t: Task) -> Self {
        TaskOut {
            id: t.id,
            title: t.title,
            description: t.description,
            status: t.status,
            priority: t.priority,
            assignee_id: t.assignee_id.map(|u| u.as_uuid()),
            due_at: t.due_at,
            completed_at: t.completed_at,
            created_by: t.created_by.map(|u| u.as_uuid()),
            created_at: t.created_at,
            updated_at: t.updated_at,
        }
    }
}

/// A page of tasks, newest first.
#[derive(Serialize, ToSchema)]
pub struct TaskPage {
    items: Vec<TaskOut>,
    /// Pass as `after` for the next page; null on the last page.
    next: Option<String>,
}

/// Filters and paging.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TaskFilter {
    /// Only tasks assigned to this user.
    assignee: Option<Uuid>,
    /// Only tasks in this state: todo, in_progress, done or cancelled.
    #[param(schema_with = crate::openapi::task_status)]
    status: Option<TaskStatus>,
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<i64>,
    /// The `next` of the previous page.
    #[param(pattern = r"^[0-9a-f]{1,16}\.[0-9a-f]{32}$")]
    after: Option<String>,
}

/// A task to create.
#[derive(Deserialize, ToSchema)]
pub struct CreateTask {
    /// A non-blank title.
    #[schema(min_length = 1, max_length = 500, pattern = r"^[^\x00]*\S[^\x00]*$")]
    title: String,
    #[schema(max_length = 20000, pattern = r"^[^\x00]*$")]
    description: Option<String>,
    #[schema(schema_with = crate::openapi::task_priority)]
    priority: Option<TaskPriority>,
    /// A user of the tenant.
    assignee_id: Option<Uuid>,
    due_at: Option<DateTime<Utc>>,
}

const MAX_TITLE: usize = 500;
const MAX_DESCRIPTION: usize = 20_000;

/// The caller's tenant's tasks, newest first, by assignee and status (one round trip).
#[utoipa::path(
    get,
    path = "/tasks",
    operation_id = "list_tasks",
    tag = "tasks",
    params(TaskFilter),
    responses((status = 200, description = "A page of tasks", body = TaskPage)),
)]
pub async fn list(
    State(st): State<AppState>,
    Caller(ctx): Caller,
    Query(f): Query<TaskFilter>,
) -> Result<axum::Json<TaskPage>, ApiError> {
    let limit = page_limit(f.limit)?;
    let mut q = tasks::table
        .select(Task::as_select())
        .order_by((tasks::created_at.desc(), tasks::id.desc()))
        .limit(limit + 1)
        .into_boxed();
    if let Some(a) = f.assignee {
        q = q.filter(tasks::assignee_id.eq(a));
    }
    if let Some(s) = f.status {
        q = q.filter(tasks::status.eq(s));
    }
    if let Some(c) = page_after(f.after.as_deref())? {
        q = q.filter(tasks::created_at.le(c.created_at())).filter(
            tasks::created_at
                .lt(c.created_at())
                .or(tasks::id.lt(c.id())),
        );
    }
    let mut rows: Vec<Task> = st.tenants.fetch(&ctx, q).await?;
    let next = page_end(&mut rows, limit, |t| Cursor::new(t.created_at, t.id));
    Ok(axum::Json(TaskPage {
        items: rows.into_iter().map(Into::into).collect(),
        next,
    }))
}

/// Creates a task (409 when the assignee is not a user of the tenant).
#[utoipa::path(
    post,
    path = "/tasks",
    operation_id = "create_task",
    tag = "tasks",
    request_body = CreateTask,
    responses((status = 201, description = "Created", body = TaskOut,
        headers(("location" = String, description = "The task's URL")))),
)]
pub async fn create(
    mut tx: Tx,
    Json(body): Json<CreateTask>,
) -> Result<
    (
        StatusCode,
        [(header::HeaderName, String); 1],
        axum::Json<TaskOut>,
    ),
    ApiError,
> {
    require_writer(tx.context())?;
    let title = body.title.trim();
    if title.is_empty() || title.chars().count() > MAX_TITLE {
        return Err(ApiError::invalid_input(format!(
            "a title has 1 to {MAX_TITLE} characters, not only spaces"
        )));
    }
    let description = body.description.filter(|d| !d.trim().is_empty());
    if description
        .as_ref()
        .is_some_and(|d| d.chars().count() > MAX_DESCRIPTION || d.contains('\0'))
        || title.contains('\0')
    {
        return Err(ApiError::invalid_input(format!(
            "a description has at most {MAX_DESCRIPTION} characters, and no text holds NUL"
        )));
    }
    let mut conn = tx.conn().await?;
    let user = conn.context().user_id;
    let task = NewTask::builder()
        .title(title)
        .maybe_description(description)
        .maybe_priority(body.priority)
        .maybe_assignee_id(body.assignee_id.map(UserId::from))
        .maybe_due_at(body.due_at)
        .maybe_created_by(user)
        .build()
        .insert(&mut conn)
        .await?;
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, format!("/tasks/{}", task.id))],
        axum::Json(task.into()),
    ))
}

/// Marks a task done (again: completing a done task keeps its completion time).
#[utoipa::path(
    post,
    path = "/tasks/{id}/complete",
    operation_id = "complete_task",
    tag = "tasks",
    params(("id" = Uuid, Path, description = "The task's id")),
    responses((status = 200, description = "The completed task", body = TaskOut)),
)]
pub async fn complete(mut tx: Tx, Path(id): Path<Uuid>) -> Result<axum::Json<TaskOut>, ApiError> {
    require_writer(tx.context())?;
    let mut conn = tx.conn().await?;
    let task = Task::find(&mut conn, id).await?;
    if task.status == TaskStatus::Done {
        return Ok(axum::Json(task.into()));
    }
    let task = TaskChanges {
        status: Some(TaskStatus::Done),
        completed_at: Some(Some(Utc::now())),
        ..Default::default()
    }
    .apply(&mut conn, id)
    .await?;
    Ok(axum::Json(task.into()))
}
