//! `hub_links`: A directed link between two business rows of a tenant (a document to a deal, a meeting to a company, ...). Polymorphic, so there are no foreign keys to the linked rows: deleting a row leaves its links to be cleaned up by the application.
//!
//! [`HubLink`] is a row, [`NewHubLink`] a row to insert and [`HubLinkChanges`] an update. The query methods are the
//! ones every table shares; see [`crate::models`].

use chrono::{DateTime, Utc};
use diesel::{AsChangeset, Identifiable, Insertable, Queryable, Selectable};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::enums::HubEntityType;
use crate::schema::hub_links;

/// A row of `hub_links`: A directed link between two business rows of a tenant (a document to a deal, a meeting to a company, ...). Polymorphic, so there are no foreign keys to the linked rows: deleting a row leaves its links to be cleaned up by the application.
#[derive(Queryable, Selectable, Identifiable, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[diesel(table_name = hub_links, primary_key(tenant_id, id), check_for_backend(diesel::pg::Pg))]
pub struct HubLink {
    /// The tenant the row belongs to (RLS confines every statement to it).
    pub tenant_id: Uuid,
    /// The row's id, a UUID v7.
    pub id: Uuid,
    /// Table of the source row (document, contact, company, deal, deal_activity, meeting, task, automation, file).
    pub from_type: HubEntityType,
    /// id of the source row, in the table named by from_type, of the same tenant.
    pub from_id: Uuid,
    /// Table of the target row.
    pub to_type: HubEntityType,
    /// id of the target row, in the table named by to_type, of the same tenant.
    pub to_id: Uuid,
    /// Optional relation name shown to users (e.g. "contract for").
    pub label: Option<String>,
    /// The user who made the link; NULL for automatic links or once that user is deleted.
    pub created_by: Option<Uuid>,
    /// When the row was created.
    pub created_at: DateTime<Utc>,
    /// When the row last changed (kept current by a trigger).
    pub updated_at: DateTime<Utc>,
}

/// A `hub_links` row to insert with [`NewHubLink::insert`].
///
/// `None` in an optional field means the column's default (NULL for nullable columns).
/// Deserializes from a JSON body; a missing `id` gets a fresh UUID v7.
/// `tenant_id` must be the tenant of the connection: RLS `WITH CHECK` refuses any other.
#[derive(Insertable, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[diesel(table_name = hub_links, check_for_backend(diesel::pg::Pg))]
pub struct NewHubLink {
    /// The tenant the row belongs to (RLS confines every statement to it).
    pub tenant_id: Uuid,
    /// The row's id, a UUID v7.
    #[serde(default = "Uuid::now_v7")]
    pub id: Uuid,
    /// Table of the source row (document, contact, company, deal, deal_activity, meeting, task, automation, file).
    pub from_type: HubEntityType,
    /// id of the source row, in the table named by from_type, of the same tenant.
    pub from_id: Uuid,
    /// Table of the target row.
    pub to_type: HubEntityType,
    /// id of the target row, in the table named by to_type, of the same tenant.
    pub to_id: Uuid,
    /// Optional relation name shown to users (e.g. "contract for").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// The user who made the link; NULL for automatic links or once that user is deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<Uuid>,
}

impl NewHubLink {
    /// A new row with a fresh UUID v7 id and the required columns; every other column
    /// is left to its default (set the public fields to change that).
    pub fn new(
        tenant_id: Uuid,
        from_type: HubEntityType,
        from_id: Uuid,
        to_type: HubEntityType,
        to_id: Uuid,
    ) -> Self {
        Self {
            tenant_id,
            id: Uuid::now_v7(),
            from_type,
            from_id,
            to_type,
            to_id,
            label: None,
            created_by: None,
        }
    }
}

/// Changes to a `hub_links` row, applied with [`HubLinkChanges::apply`].
///
/// A `None` field leaves its column as it is; for nullable columns `Some(None)` sets
/// NULL (in JSON: a missing key leaves the column, `null` clears it).
#[derive(AsChangeset, Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
#[diesel(table_name = hub_links, check_for_backend(diesel::pg::Pg))]
pub struct HubLinkChanges {
    /// Table of the source row (document, contact, company, deal, deal_activity, meeting, task, automation, file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_type: Option<HubEntityType>,
    /// id of the source row, in the table named by from_type, of the same tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_id: Option<Uuid>,
    /// Table of the target row.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_type: Option<HubEntityType>,
    /// id of the target row, in the table named by to_type, of the same tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_id: Option<Uuid>,
    /// Optional relation name shown to users (e.g. "contract for").
    #[serde(
        default,
        deserialize_with = "super::double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub label: Option<Option<String>>,
    /// The user who made the link; NULL for automatic links or once that user is deleted.
    #[serde(
        default,
        deserialize_with = "super::double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub created_by: Option<Option<Uuid>>,
}

super::table_queries!(
    hub_links,
    HubLink,
    NewHubLink,
    HubLinkChanges,
    order_by = (hub_links::created_at.desc(), hub_links::id.desc())
);
