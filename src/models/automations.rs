//! `automations`: A rule: when trigger matches an event, run action. Each firing is an automation_runs row.
//!
//! [`Automation`] is a row, [`NewAutomation`] a row to insert and [`AutomationChanges`] an update. The query methods are the
//! ones every table shares; see [`crate::models`].

use crate::schema::automations;
use crate::UserId;

super::model! {
    /// A row of `automations`: A rule: when trigger matches an event, run action. Each firing is an automation_runs row.
    table: automations,
    key: (tenant_id, id),
    row: Automation,
    new: NewAutomation,
    changes: AutomationChanges,
    columns: {
        tenant_id: tenant,
        id: id,
        /// Name shown to users; unique per tenant, case-insensitively.
        name: required(String),
        /// Free-text description.
        description: nullable(String),
        /// JSON object describing what fires the automation (event type and filters).
        trigger: required(serde_json::Value),
        /// JSON object describing what the automation does when fired.
        action: required(serde_json::Value),
        /// Disabled automations keep their history but do not fire.
        enabled: defaulted(bool),
        /// The user who created the automation; NULL once that user is deleted.
        created_by: nullable(UserId),
        created_at: created,
        updated_at: updated,
    }
}

super::table_queries!(
    automations,
    Automation,
    NewAutomation,
    AutomationChanges,
    order_by = (automations::created_at.desc(), automations::id.desc())
);
