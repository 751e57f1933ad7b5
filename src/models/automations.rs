//! `automations`: A rule: when trigger matches an event, run action. Each firing is an automation_runs row.
//!
//! [`Automation`] is a row, [`NewAutomation`] a row to insert and [`AutomationChanges`] an update. The query methods are the
//! ones every table shares; see [`crate::models`].

use chrono::{DateTime, Utc};
use diesel::{AsChangeset, Identifiable, Insertable, Queryable, Selectable};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::schema::automations;

/// A row of `automations`: A rule: when trigger matches an event, run action. Each firing is an automation_runs row.
#[derive(Queryable, Selectable, Identifiable, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[diesel(table_name = automations, primary_key(tenant_id, id), check_for_backend(diesel::pg::Pg))]
pub struct Automation {
    /// The tenant the row belongs to (RLS confines every statement to it).
    pub tenant_id: Uuid,
    /// The row's id, a UUID v7.
    pub id: Uuid,
    /// Name shown to users; unique per tenant, case-insensitively.
    pub name: String,
    /// Free-text description.
    pub description: Option<String>,
    /// JSON object describing what fires the automation (event type and filters).
    pub trigger: serde_json::Value,
    /// JSON object describing what the automation does when fired.
    pub action: serde_json::Value,
    /// Disabled automations keep their history but do not fire.
    pub enabled: bool,
    /// The user who created the automation; NULL once that user is deleted.
    pub created_by: Option<Uuid>,
    /// When the row was created.
    pub created_at: DateTime<Utc>,
    /// When the row last changed (kept current by a trigger).
    pub updated_at: DateTime<Utc>,
}

/// A `automations` row to insert with [`NewAutomation::insert`].
///
/// `None` in an optional field means the column's default (NULL for nullable columns).
/// Deserializes from a JSON body; a missing `id` gets a fresh UUID v7.
/// `tenant_id` must be the tenant of the connection: RLS `WITH CHECK` refuses any other.
#[derive(Insertable, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[diesel(table_name = automations, check_for_backend(diesel::pg::Pg))]
pub struct NewAutomation {
    /// The tenant the row belongs to (RLS confines every statement to it).
    pub tenant_id: Uuid,
    /// The row's id, a UUID v7.
    #[serde(default = "Uuid::now_v7")]
    pub id: Uuid,
    /// Name shown to users; unique per tenant, case-insensitively.
    pub name: String,
    /// Free-text description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// JSON object describing what fires the automation (event type and filters).
    pub trigger: serde_json::Value,
    /// JSON object describing what the automation does when fired.
    pub action: serde_json::Value,
    /// Disabled automations keep their history but do not fire.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// The user who created the automation; NULL once that user is deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<Uuid>,
}

impl NewAutomation {
    /// A new row with a fresh UUID v7 id and the required columns; every other column
    /// is left to its default (set the public fields to change that).
    pub fn new(
        tenant_id: Uuid,
        name: impl Into<String>,
        trigger: serde_json::Value,
        action: serde_json::Value,
    ) -> Self {
        Self {
            tenant_id,
            id: Uuid::now_v7(),
            name: name.into(),
            description: None,
            trigger,
            action,
            enabled: None,
            created_by: None,
        }
    }
}

/// Changes to a `automations` row, applied with [`AutomationChanges::apply`].
///
/// A `None` field leaves its column as it is; for nullable columns `Some(None)` sets
/// NULL (in JSON: a missing key leaves the column, `null` clears it).
#[derive(AsChangeset, Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
#[diesel(table_name = automations, check_for_backend(diesel::pg::Pg))]
pub struct AutomationChanges {
    /// Name shown to users; unique per tenant, case-insensitively.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Free-text description.
    #[serde(
        default,
        deserialize_with = "super::double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub description: Option<Option<String>>,
    /// JSON object describing what fires the automation (event type and filters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger: Option<serde_json::Value>,
    /// JSON object describing what the automation does when fired.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<serde_json::Value>,
    /// Disabled automations keep their history but do not fire.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// The user who created the automation; NULL once that user is deleted.
    #[serde(
        default,
        deserialize_with = "super::double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub created_by: Option<Option<Uuid>>,
}

super::table_queries!(
    automations,
    Automation,
    NewAutomation,
    AutomationChanges,
    order_by = (automations::created_at.desc(), automations::id.desc())
);
