//! `deals`: A sales opportunity moving through the pipeline stages.
//!
//! [`Deal`] is a row, [`NewDeal`] a row to insert and [`DealChanges`] an update. The query methods are the
//! ones every table shares; see [`crate::models`].

use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use super::enums::DealStage;
use crate::schema::deals;
use crate::UserId;

super::model! {
    /// A row of `deals`: A sales opportunity moving through the pipeline stages.
    table: deals,
    key: (tenant_id, id),
    row: Deal,
    new: NewDeal,
    changes: DealChanges,
    columns: {
        tenant_id: tenant,
        id: id,
        /// Title shown to users.
        title: required(String),
        /// Pipeline stage: lead, qualified, proposal, negotiation, then won or lost.
        stage: defaulted(DealStage),
        /// Expected value in minor units of currency (cents for USD), never negative; an
        /// integer so sums are exact.
        value_minor: defaulted(i64),
        /// ISO 4217 currency code, three uppercase letters.
        currency: defaulted(String),
        /// Estimated chance of winning, in percent (0 to 100).
        probability: defaulted(i16),
        /// The company the deal is with; NULL when none or once the company is deleted.
        company_id: nullable(Uuid),
        /// The main contact; NULL when none or once the contact is deleted.
        contact_id: nullable(Uuid),
        /// The user responsible for the deal; NULL when unassigned or once that user is
        /// deleted.
        owner_id: nullable(UserId),
        /// The date the deal is expected to close.
        expected_close_on: nullable(NaiveDate),
        /// When the deal was won or lost; only set in those stages.
        closed_at: nullable(DateTime<Utc>),
        created_at: created,
        updated_at: updated,
    }
}

super::table_queries!(
    deals,
    Deal,
    NewDeal,
    DealChanges,
    order_by = (deals::created_at.desc(), deals::id.desc())
);
