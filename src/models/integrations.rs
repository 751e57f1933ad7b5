//! `integrations`: A connection of the tenant to an outside service (calendar, e-mail, CRM import, ...); at most one per provider.
//!
//! [`Integration`] is a row, [`NewIntegration`] a row to insert and [`IntegrationChanges`] an update. The query methods are the
//! ones every table shares; see [`crate::models`].

use chrono::{DateTime, Utc};

use super::enums::IntegrationStatus;
use crate::schema::integrations;
use crate::UserId;

super::model! {
    /// A row of `integrations`: A connection of the tenant to an outside service (calendar, e-mail, CRM import, ...); at most one per provider.
    table: integrations,
    key: (tenant_id, id),
    row: Integration,
    new: NewIntegration,
    changes: IntegrationChanges,
    columns: {
        tenant_id: tenant,
        id: id,
        /// The service, a lowercase identifier (google_calendar, slack, ...); unique per
        /// tenant.
        provider: required(String),
        /// pending (not yet authorised), active, error (see last_error) or disabled.
        status: defaulted(IntegrationStatus),
        /// Non-secret settings as a JSON object; secrets go in credentials_encrypted.
        config: defaulted(serde_json::Value),
        /// Tokens and keys, encrypted by the application (AEAD) before they reach the
        /// database; never plaintext. NULL until authorised. Never serialized (so it cannot
        /// leak into an API response); reads back as `None`.
        credentials_encrypted: secret(Vec<u8>),
        /// When the last successful sync finished.
        last_synced_at: nullable(DateTime<Utc>),
        /// Error of the last failed sync or authorisation.
        last_error: nullable(String),
        /// The user who connected the integration; NULL once that user is deleted.
        connected_by: nullable(UserId),
        created_at: created,
        updated_at: updated,
    }
}

super::table_queries!(
    integrations,
    Integration,
    NewIntegration,
    IntegrationChanges,
    order_by = (integrations::created_at.desc(), integrations::id.desc())
);
