//! `integrations`: A connection of the tenant to an outside service (calendar, e-mail, CRM import, ...); at most one per provider.
//!
//! [`Integration`] is a row, [`NewIntegration`] a row to insert and [`IntegrationChanges`] an update. The query methods are the
//! ones every table shares; see [`crate::models`].

use chrono::{DateTime, Utc};
use diesel::{AsChangeset, Identifiable, Insertable, Queryable, Selectable};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::enums::IntegrationStatus;
use crate::schema::integrations;

/// A row of `integrations`: A connection of the tenant to an outside service (calendar, e-mail, CRM import, ...); at most one per provider.
#[derive(Queryable, Selectable, Identifiable, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[diesel(table_name = integrations, primary_key(tenant_id, id), check_for_backend(diesel::pg::Pg))]
pub struct Integration {
    /// The tenant the row belongs to (RLS confines every statement to it).
    pub tenant_id: Uuid,
    /// The row's id, a UUID v7.
    pub id: Uuid,
    /// The service, a lowercase identifier (google_calendar, slack, ...); unique per tenant.
    pub provider: String,
    /// pending (not yet authorised), active, error (see last_error) or disabled.
    pub status: IntegrationStatus,
    /// Non-secret settings as a JSON object; secrets go in credentials_encrypted.
    pub config: serde_json::Value,
    /// Tokens and keys, encrypted by the application (AEAD) before they reach the database; never plaintext. NULL until authorised.
    ///
    /// Never serialized (so it cannot leak into an API response); reads back as `None`.
    #[serde(skip_serializing, default)]
    pub credentials_encrypted: Option<Vec<u8>>,
    /// When the last successful sync finished.
    pub last_synced_at: Option<DateTime<Utc>>,
    /// Error of the last failed sync or authorisation.
    pub last_error: Option<String>,
    /// The user who connected the integration; NULL once that user is deleted.
    pub connected_by: Option<Uuid>,
    /// When the row was created.
    pub created_at: DateTime<Utc>,
    /// When the row last changed (kept current by a trigger).
    pub updated_at: DateTime<Utc>,
}

/// A `integrations` row to insert with [`NewIntegration::insert`].
///
/// `None` in an optional field means the column's default (NULL for nullable columns).
/// Deserializes from a JSON body; a missing `id` gets a fresh UUID v7.
/// `tenant_id` must be the tenant of the connection: RLS `WITH CHECK` refuses any other.
#[derive(Insertable, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[diesel(table_name = integrations, check_for_backend(diesel::pg::Pg))]
pub struct NewIntegration {
    /// The tenant the row belongs to (RLS confines every statement to it).
    pub tenant_id: Uuid,
    /// The row's id, a UUID v7.
    #[serde(default = "Uuid::now_v7")]
    pub id: Uuid,
    /// The service, a lowercase identifier (google_calendar, slack, ...); unique per tenant.
    pub provider: String,
    /// pending (not yet authorised), active, error (see last_error) or disabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<IntegrationStatus>,
    /// Non-secret settings as a JSON object; secrets go in credentials_encrypted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<serde_json::Value>,
    /// Tokens and keys, encrypted by the application (AEAD) before they reach the database; never plaintext. NULL until authorised.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_encrypted: Option<Vec<u8>>,
    /// When the last successful sync finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_synced_at: Option<DateTime<Utc>>,
    /// Error of the last failed sync or authorisation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// The user who connected the integration; NULL once that user is deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connected_by: Option<Uuid>,
}

impl NewIntegration {
    /// A new row with a fresh UUID v7 id and the required columns; every other column
    /// is left to its default (set the public fields to change that).
    pub fn new(tenant_id: Uuid, provider: impl Into<String>) -> Self {
        Self {
            tenant_id,
            id: Uuid::now_v7(),
            provider: provider.into(),
            status: None,
            config: None,
            credentials_encrypted: None,
            last_synced_at: None,
            last_error: None,
            connected_by: None,
        }
    }
}

/// Changes to a `integrations` row, applied with [`IntegrationChanges::apply`].
///
/// A `None` field leaves its column as it is; for nullable columns `Some(None)` sets
/// NULL (in JSON: a missing key leaves the column, `null` clears it).
#[derive(AsChangeset, Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
#[diesel(table_name = integrations, check_for_backend(diesel::pg::Pg))]
pub struct IntegrationChanges {
    /// The service, a lowercase identifier (google_calendar, slack, ...); unique per tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// pending (not yet authorised), active, error (see last_error) or disabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<IntegrationStatus>,
    /// Non-secret settings as a JSON object; secrets go in credentials_encrypted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<serde_json::Value>,
    /// Tokens and keys, encrypted by the application (AEAD) before they reach the database; never plaintext. NULL until authorised.
    #[serde(
        default,
        deserialize_with = "super::double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub credentials_encrypted: Option<Option<Vec<u8>>>,
    /// When the last successful sync finished.
    #[serde(
        default,
        deserialize_with = "super::double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub last_synced_at: Option<Option<DateTime<Utc>>>,
    /// Error of the last failed sync or authorisation.
    #[serde(
        default,
        deserialize_with = "super::double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub last_error: Option<Option<String>>,
    /// The user who connected the integration; NULL once that user is deleted.
    #[serde(
        default,
        deserialize_with = "super::double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub connected_by: Option<Option<Uuid>>,
}

super::table_queries!(
    integrations,
    Integration,
    NewIntegration,
    IntegrationChanges,
    order_by = (integrations::created_at.desc(), integrations::id.desc())
);
