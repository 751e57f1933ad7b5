//! `documents`: A document of a tenant (note, uploaded file, captured web page, ...), chunked and embedded for search once processed.
//!
//! [`Document`] is a row, [`NewDocument`] a row to insert and [`DocumentChanges`] an update. The query methods are the
//! ones every table shares; see [`crate::models`].

use super::enums::{DocumentStatus, DocumentType};
use crate::schema::documents;
use crate::UserId;

super::model! {
    /// A row of `documents`: A document of a tenant (note, uploaded file, captured web page, ...), chunked and embedded for search once processed.
    table: documents,
    key: (tenant_id, id),
    row: Document,
    new: NewDocument,
    changes: DocumentChanges,
    columns: {
        tenant_id: tenant,
        id: id,
        /// Title shown to users.
        title: required(String),
        /// What kind of document: note, pdf, web_page, spreadsheet or other.
        doc_type: defaulted(DocumentType),
        /// Processing state of text extraction and embedding: pending, processing, ready or
        /// failed.
        status: defaulted(DocumentStatus),
        /// Where the document came from (http or https), for captured web pages and
        /// imports.
        source_url: nullable(String),
        /// The document's text (written for notes, extracted for other types); NULL until
        /// known.
        content: nullable(String),
        /// Why processing failed; set only while status is failed.
        processing_error: nullable(String),
        /// The user who created the document; NULL once that user is deleted.
        created_by: nullable(UserId),
        created_at: created,
        updated_at: updated,
    }
}

super::table_queries!(
    documents,
    Document,
    NewDocument,
    DocumentChanges,
    order_by = (documents::created_at.desc(), documents::id.desc())
);
