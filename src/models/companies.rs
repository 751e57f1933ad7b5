//! `companies`: An organisation a tenant does business with (CRM account).
//!
//! [`Company`] is a row, [`NewCompany`] a row to insert and [`CompanyChanges`] an update. The query methods are the
//! ones every table shares; see [`crate::models`].

use crate::schema::companies;
use crate::UserId;

super::model! {
    /// A row of `companies`: An organisation a tenant does business with (CRM account).
    table: companies,
    key: (tenant_id, id),
    row: Company,
    new: NewCompany,
    changes: CompanyChanges,
    columns: {
        tenant_id: tenant,
        id: id,
        /// Name shown to users.
        name: required(String),
        /// The company's web domain, lowercase (example.com); unique per tenant, used to
        /// match contacts by e-mail.
        domain: nullable(String),
        /// Industry, free text.
        industry: nullable(String),
        /// The user responsible for the account; NULL when unassigned or once that user is
        /// deleted.
        owner_id: nullable(UserId),
        /// Free-text notes.
        notes: nullable(String),
        created_at: created,
        updated_at: updated,
    }
}

super::table_queries!(
    companies,
    Company,
    NewCompany,
    CompanyChanges,
    order_by = (companies::created_at.desc(), companies::id.desc())
);
