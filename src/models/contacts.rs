//! `contacts`: A person a tenant deals with (CRM contact), optionally at a company.
//!
//! [`Contact`] is a row, [`NewContact`] a row to insert and [`ContactChanges`] an update. The query methods are the
//! ones every table shares; see [`crate::models`].

use uuid::Uuid;

use crate::schema::contacts;
use crate::UserId;

super::model! {
    /// A row of `contacts`: A person a tenant deals with (CRM contact), optionally at a company.
    table: contacts,
    key: (tenant_id, id),
    row: Contact,
    new: NewContact,
    changes: ContactChanges,
    columns: {
        tenant_id: tenant,
        id: id,
        /// The contact's company; NULL when unknown or once the company is deleted.
        company_id: nullable(Uuid),
        /// The person's full name.
        full_name: required(String),
        /// E-mail address; unique per tenant, case-insensitively, when present.
        email: nullable(String),
        /// Phone number, as entered.
        phone: nullable(String),
        /// The person's job title.
        job_title: nullable(String),
        /// The user responsible for the contact; NULL when unassigned or once that user is
        /// deleted.
        owner_id: nullable(UserId),
        /// Free-text notes.
        notes: nullable(String),
        created_at: created,
        updated_at: updated,
    }
}

super::table_queries!(
    contacts,
    Contact,
    NewContact,
    ContactChanges,
    order_by = (contacts::created_at.desc(), contacts::id.desc())
);
