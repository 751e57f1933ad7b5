//! `hub_links`: A directed link between two business rows of a tenant (a document to a deal, a meeting to a company, ...). Polymorphic, so there are no foreign keys to the linked rows: deleting a row leaves its links to be cleaned up by the application.
//!
//! [`HubLink`] is a row, [`NewHubLink`] a row to insert and [`HubLinkChanges`] an update. The query methods are the
//! ones every table shares; see [`crate::models`].

use uuid::Uuid;

use super::enums::HubEntityType;
use crate::schema::hub_links;
use crate::UserId;

super::model! {
    /// A row of `hub_links`: A directed link between two business rows of a tenant (a document to a deal, a meeting to a company, ...). Polymorphic, so there are no foreign keys to the linked rows: deleting a row leaves its links to be cleaned up by the application.
    table: hub_links,
    key: (tenant_id, id),
    row: HubLink,
    new: NewHubLink,
    changes: HubLinkChanges,
    columns: {
        tenant_id: tenant,
        id: id,
        /// Table of the source row (document, contact, company, deal, deal_activity,
        /// meeting, task, automation, file).
        from_type: required(HubEntityType),
        /// id of the source row, in the table named by from_type, of the same tenant.
        from_id: required(Uuid),
        /// Table of the target row.
        to_type: required(HubEntityType),
        /// id of the target row, in the table named by to_type, of the same tenant.
        to_id: required(Uuid),
        /// Optional relation name shown to users (e.g. "contract for").
        label: nullable(String),
        /// The user who made the link; NULL for automatic links or once that user is
        /// deleted.
        created_by: nullable(UserId),
        created_at: created,
        updated_at: updated,
    }
}

super::table_queries!(
    hub_links,
    HubLink,
    NewHubLink,
    HubLinkChanges,
    order_by = (hub_links::created_at.desc(), hub_links::id.desc())
);
