//! `ai_employee_outputs`: What an AI employee job produced: text, structured JSON, or both.
//!
//! [`AiEmployeeOutput`] is a row, [`NewAiEmployeeOutput`] a row to insert and [`AiEmployeeOutputChanges`] an update. The query methods are the
//! ones every table shares; see [`crate::models`].

use uuid::Uuid;

use crate::schema::ai_employee_outputs;

super::model! {
    /// A row of `ai_employee_outputs`: What an AI employee job produced: text, structured JSON, or both.
    table: ai_employee_outputs,
    key: (tenant_id, id),
    row: AiEmployeeOutput,
    new: NewAiEmployeeOutput,
    changes: AiEmployeeOutputChanges,
    columns: {
        tenant_id: tenant,
        id: id,
        /// The job that produced it.
        job_id: required(Uuid),
        /// Text output (a draft, a report); NULL when the output is only structured.
        content: nullable(String),
        /// Structured JSON output; NULL when the output is only text. At least one of
        /// content and data is set.
        data: nullable(serde_json::Value),
        /// The language model that produced the output.
        model: required(String),
        /// Input tokens billed for the output, when the provider reports them.
        prompt_tokens: nullable(i32),
        /// Output tokens billed for the output, when the provider reports them.
        completion_tokens: nullable(i32),
        created_at: created,
        updated_at: updated,
    }
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
