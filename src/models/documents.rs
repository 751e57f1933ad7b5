//! `documents`: A document of a tenant (note, uploaded file, captured web page, ...), chunked and embedded for search once processed.
//!
//! [`Document`] is a row, [`NewDocument`] a row to insert and [`DocumentChanges`] an update. The query methods are the
//! ones every table shares; see [`crate::models`].

use chrono::{DateTime, Utc};
use diesel::{AsChangeset, Identifiable, Insertable, Queryable, Selectable};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::enums::{DocumentStatus, DocumentType};
use crate::schema::documents;

/// A row of `documents`: A document of a tenant (note, uploaded file, captured web page, ...), chunked and embedded for search once processed.
#[derive(Queryable, Selectable, Identifiable, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[diesel(table_name = documents, primary_key(tenant_id, id), check_for_backend(diesel::pg::Pg))]
pub struct Document {
    /// The tenant the row belongs to (RLS confines every statement to it).
    pub tenant_id: Uuid,
    /// The row's id, a UUID v7.
    pub id: Uuid,
    /// Title shown to users.
    pub title: String,
    /// What kind of document: note, pdf, web_page, spreadsheet or other.
    pub doc_type: DocumentType,
    /// Processing state of text extraction and embedding: pending, processing, ready or failed.
    pub status: DocumentStatus,
    /// Where the document came from (http or https), for captured web pages and imports.
    pub source_url: Option<String>,
    /// The document's text (written for notes, extracted for other types); NULL until known.
    pub content: Option<String>,
    /// Why processing failed; set only while status is failed.
    pub processing_error: Option<String>,
    /// The user who created the document; NULL once that user is deleted.
    pub created_by: Option<Uuid>,
    /// When the row was created.
    pub created_at: DateTime<Utc>,
    /// When the row last changed (kept current by a trigger).
    pub updated_at: DateTime<Utc>,
}

/// A `documents` row to insert with [`NewDocument::insert`].
///
/// `None` in an optional field means the column's default (NULL for nullable columns).
/// Deserializes from a JSON body; a missing `id` gets a fresh UUID v7.
/// `tenant_id` must be the tenant of the connection: RLS `WITH CHECK` refuses any other.
#[derive(Insertable, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[diesel(table_name = documents, check_for_backend(diesel::pg::Pg))]
pub struct NewDocument {
    /// The tenant the row belongs to (RLS confines every statement to it).
    pub tenant_id: Uuid,
    /// The row's id, a UUID v7.
    #[serde(default = "Uuid::now_v7")]
    pub id: Uuid,
    /// Title shown to users.
    pub title: String,
    /// What kind of document: note, pdf, web_page, spreadsheet or other.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub doc_type: Option<DocumentType>,
    /// Processing state of text extraction and embedding: pending, processing, ready or failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<DocumentStatus>,
    /// Where the document came from (http or https), for captured web pages and imports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_url: Option<String>,
    /// The document's text (written for notes, extracted for other types); NULL until known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// Why processing failed; set only while status is failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processing_error: Option<String>,
    /// The user who created the document; NULL once that user is deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<Uuid>,
}

impl NewDocument {
    /// A new row with a fresh UUID v7 id and the required columns; every other column
    /// is left to its default (set the public fields to change that).
    pub fn new(tenant_id: Uuid, title: impl Into<String>) -> Self {
        Self {
            tenant_id,
            id: Uuid::now_v7(),
            title: title.into(),
            doc_type: None,
            status: None,
            source_url: None,
            content: None,
            processing_error: None,
            created_by: None,
        }
    }
}

/// Changes to a `documents` row, applied with [`DocumentChanges::apply`].
///
/// A `None` field leaves its column as it is; for nullable columns `Some(None)` sets
/// NULL (in JSON: a missing key leaves the column, `null` clears it).
#[derive(AsChangeset, Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
#[diesel(table_name = documents, check_for_backend(diesel::pg::Pg))]
pub struct DocumentChanges {
    /// Title shown to users.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// What kind of document: note, pdf, web_page, spreadsheet or other.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub doc_type: Option<DocumentType>,
    /// Processing state of text extraction and embedding: pending, processing, ready or failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<DocumentStatus>,
    /// Where the document came from (http or https), for captured web pages and imports.
    #[serde(
        default,
        deserialize_with = "super::double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub source_url: Option<Option<String>>,
    /// The document's text (written for notes, extracted for other types); NULL until known.
    #[serde(
        default,
        deserialize_with = "super::double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub content: Option<Option<String>>,
    /// Why processing failed; set only while status is failed.
    #[serde(
        default,
        deserialize_with = "super::double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub processing_error: Option<Option<String>>,
    /// The user who created the document; NULL once that user is deleted.
    #[serde(
        default,
        deserialize_with = "super::double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub created_by: Option<Option<Uuid>>,
}

super::table_queries!(
    documents,
    Document,
    NewDocument,
    DocumentChanges,
    order_by = (documents::created_at.desc(), documents::id.desc())
);
