//! `files`: An uploaded file's metadata; the bytes live in object storage under storage_key.
//!
//! [`File`] is a row, [`NewFile`] a row to insert and [`FileChanges`] an update. The query methods are the
//! ones every table shares; see [`crate::models`].

use crate::schema::files;
use crate::UserId;

super::model! {
    /// A row of `files`: An uploaded file's metadata; the bytes live in object storage under storage_key.
    table: files,
    key: (tenant_id, id),
    row: File,
    new: NewFile,
    changes: FileChanges,
    columns: {
        tenant_id: tenant,
        id: id,
        /// Object-storage key of the bytes; unique per tenant.
        storage_key: required(String),
        /// The file name as uploaded, shown to users.
        file_name: required(String),
        /// Size in bytes, never negative.
        size_bytes: required(i64),
        /// Media type, lowercase type/subtype without parameters (application/pdf).
        mime_type: required(String),
        /// SHA-256 of the bytes (32 bytes), for integrity checks and de-duplication.
        sha256: required(Vec<u8>),
        /// The user who uploaded the file; NULL for files from integrations or once that
        /// user is deleted.
        uploaded_by: nullable(UserId),
        created_at: created,
        updated_at: updated,
    }
}

super::table_queries!(
    files,
    File,
    NewFile,
    FileChanges,
    order_by = (files::created_at.desc(), files::id.desc())
);
