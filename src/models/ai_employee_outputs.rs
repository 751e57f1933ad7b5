//! `ai_employee_outputs`: What an AI employee job produced: text, structured JSON, or both.
//!
//! [`AiEmployeeOutput`] is a row, [`NewAiEmployeeOutput`] a row to insert and [`AiEmployeeOutputChanges`] an update. The query methods are the
//! ones every table shares; see [`crate::models`].

use chrono::{DateTime, Utc};
use diesel::{AsChangeset, Identifiable, Insertable, Queryable, Selectable};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::schema::ai_employee_outputs;

/// A row of `ai_employee_outputs`: What an AI employee job produced: text, structured JSON, or both.
#[derive(Queryable, Selectable, Identifiable, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[diesel(table_name = ai_employee_outputs, primary_key(tenant_id, id), check_for_backend(diesel::pg::Pg))]
pub struct AiEmployeeOutput {
    /// The tenant the row belongs to (RLS confines every statement to it).
    pub tenant_id: Uuid,
    /// The row's id, a UUID v7.
    pub id: Uuid,
    /// The job that produced it.
    pub job_id: Uuid,
    /// Text output (a draft, a report); NULL when the output is only structured.
    pub content: Option<String>,
    /// Structured JSON output; NULL when the output is only text. At least one of content and data is set.
    pub data: Option<serde_json::Value>,
    /// The language model that produced the output.
    pub model: String,
    /// Input tokens billed for the output, when the provider reports them.
    pub prompt_tokens: Option<i32>,
    /// Output tokens billed for the output, when the provider reports them.
    pub completion_tokens: Option<i32>,
    /// When the row was created.
    pub created_at: DateTime<Utc>,
    /// When the row last changed (kept current by a trigger).
    pub updated_at: DateTime<Utc>,
}

/// A `ai_employee_outputs` row to insert with [`NewAiEmployeeOutput::insert`].
///
/// `None` in an optional field means the column's default (NULL for nullable columns).
/// Deserializes from a JSON body; a missing `id` gets a fresh UUID v7.
/// `tenant_id` must be the tenant of the connection: RLS `WITH CHECK` refuses any other.
#[derive(Insertable, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[diesel(table_name = ai_employee_outputs, check_for_backend(diesel::pg::Pg))]
pub struct NewAiEmployeeOutput {
    /// The tenant the row belongs to (RLS confines every statement to it).
    pub tenant_id: Uuid,
    /// The row's id, a UUID v7.
    #[serde(default = "Uuid::now_v7")]
    pub id: Uuid,
    /// The job that produced it.
    pub job_id: Uuid,
    /// Text output (a draft, a report); NULL when the output is only structured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// Structured JSON output; NULL when the output is only text. At least one of content and data is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<serde_json::Value>,
    /// The language model that produced the output.
    pub model: String,
    /// Input tokens billed for the output, when the provider reports them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_tokens: Option<i32>,
    /// Output tokens billed for the output, when the provider reports them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_tokens: Option<i32>,
}

impl NewAiEmployeeOutput {
    /// A new row with a fresh UUID v7 id and the required columns; every other column
    /// is left to its default (set the public fields to change that).
    pub fn new(tenant_id: Uuid, job_id: Uuid, model: impl Into<String>) -> Self {
        Self {
            tenant_id,
            id: Uuid::now_v7(),
            job_id,
            content: None,
            data: None,
            model: model.into(),
            prompt_tokens: None,
            completion_tokens: None,
        }
    }
}

/// Changes to a `ai_employee_outputs` row, applied with [`AiEmployeeOutputChanges::apply`].
///
/// A `None` field leaves its column as it is; for nullable columns `Some(None)` sets
/// NULL (in JSON: a missing key leaves the column, `null` clears it).
#[derive(AsChangeset, Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
#[diesel(table_name = ai_employee_outputs, check_for_backend(diesel::pg::Pg))]
pub struct AiEmployeeOutputChanges {
    /// The job that produced it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<Uuid>,
    /// Text output (a draft, a report); NULL when the output is only structured.
    #[serde(
        default,
        deserialize_with = "super::double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub content: Option<Option<String>>,
    /// Structured JSON output; NULL when the output is only text. At least one of content and data is set.
    #[serde(
        default,
        deserialize_with = "super::double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub data: Option<Option<serde_json::Value>>,
    /// The language model that produced the output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Input tokens billed for the output, when the provider reports them.
    #[serde(
        default,
        deserialize_with = "super::double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub prompt_tokens: Option<Option<i32>>,
    /// Output tokens billed for the output, when the provider reports them.
    #[serde(
        default,
        deserialize_with = "super::double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub completion_tokens: Option<Option<i32>>,
}

super::table_queries!(
    ai_employee_outputs,
    AiEmployeeOutput,
    NewAiEmployeeOutput,
    AiEmployeeOutputChanges,
    order_by = (
        ai_employee_outputs::created_at.desc(),
        ai_employee_outputs::id.desc()
    )
);
