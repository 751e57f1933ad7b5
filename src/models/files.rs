//! `files`: An uploaded file's metadata; the bytes live in object storage under storage_key.
//!
//! [`File`] is a row, [`NewFile`] a row to insert and [`FileChanges`] an update. The query methods are the
//! ones every table shares; see [`crate::models`].

use chrono::{DateTime, Utc};
use diesel::{AsChangeset, Identifiable, Insertable, Queryable, Selectable};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::schema::files;

/// A row of `files`: An uploaded file's metadata; the bytes live in object storage under storage_key.
#[derive(Queryable, Selectable, Identifiable, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[diesel(table_name = files, primary_key(tenant_id, id), check_for_backend(diesel::pg::Pg))]
pub struct File {
    /// The tenant the row belongs to (RLS confines every statement to it).
    pub tenant_id: Uuid,
    /// The row's id, a UUID v7.
    pub id: Uuid,
    /// Object-storage key of the bytes; unique per tenant.
    pub storage_key: String,
    /// The file name as uploaded, shown to users.
    pub file_name: String,
    /// Size in bytes, never negative.
    pub size_bytes: i64,
    /// Media type, lowercase type/subtype without parameters (application/pdf).
    pub mime_type: String,
    /// SHA-256 of the bytes (32 bytes), for integrity checks and de-duplication.
    pub sha256: Vec<u8>,
    /// The user who uploaded the file; NULL for files from integrations or once that user is deleted.
    pub uploaded_by: Option<Uuid>,
    /// When the row was created.
    pub created_at: DateTime<Utc>,
    /// When the row last changed (kept current by a trigger).
    pub updated_at: DateTime<Utc>,
}

/// A `files` row to insert with [`NewFile::insert`].
///
/// `None` in an optional field means the column's default (NULL for nullable columns).
/// Deserializes from a JSON body; a missing `id` gets a fresh UUID v7.
/// `tenant_id` must be the tenant of the connection: RLS `WITH CHECK` refuses any other.
#[derive(Insertable, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[diesel(table_name = files, check_for_backend(diesel::pg::Pg))]
pub struct NewFile {
    /// The tenant the row belongs to (RLS confines every statement to it).
    pub tenant_id: Uuid,
    /// The row's id, a UUID v7.
    #[serde(default = "Uuid::now_v7")]
    pub id: Uuid,
    /// Object-storage key of the bytes; unique per tenant.
    pub storage_key: String,
    /// The file name as uploaded, shown to users.
    pub file_name: String,
    /// Size in bytes, never negative.
    pub size_bytes: i64,
    /// Media type, lowercase type/subtype without parameters (application/pdf).
    pub mime_type: String,
    /// SHA-256 of the bytes (32 bytes), for integrity checks and de-duplication.
    pub sha256: Vec<u8>,
    /// The user who uploaded the file; NULL for files from integrations or once that user is deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uploaded_by: Option<Uuid>,
}

impl NewFile {
    /// A new row with a fresh UUID v7 id and the required columns; every other column
    /// is left to its default (set the public fields to change that).
    pub fn new(
        tenant_id: Uuid,
        storage_key: impl Into<String>,
        file_name: impl Into<String>,
        size_bytes: i64,
        mime_type: impl Into<String>,
        sha256: Vec<u8>,
    ) -> Self {
        Self {
            tenant_id,
            id: Uuid::now_v7(),
            storage_key: storage_key.into(),
            file_name: file_name.into(),
            size_bytes,
            mime_type: mime_type.into(),
            sha256,
            uploaded_by: None,
        }
    }
}

/// Changes to a `files` row, applied with [`FileChanges::apply`].
///
/// A `None` field leaves its column as it is; for nullable columns `Some(None)` sets
/// NULL (in JSON: a missing key leaves the column, `null` clears it).
#[derive(AsChangeset, Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
#[diesel(table_name = files, check_for_backend(diesel::pg::Pg))]
pub struct FileChanges {
    /// Object-storage key of the bytes; unique per tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_key: Option<String>,
    /// The file name as uploaded, shown to users.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_name: Option<String>,
    /// Size in bytes, never negative.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_bytes: Option<i64>,
    /// Media type, lowercase type/subtype without parameters (application/pdf).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
    /// SHA-256 of the bytes (32 bytes), for integrity checks and de-duplication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<Vec<u8>>,
    /// The user who uploaded the file; NULL for files from integrations or once that user is deleted.
    #[serde(
        default,
        deserialize_with = "super::double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub uploaded_by: Option<Option<Uuid>>,
}

super::table_queries!(
    files,
    File,
    NewFile,
    FileChanges,
    order_by = (files::created_at.desc(), files::id.desc())
);
