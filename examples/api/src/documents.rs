//! Documents: a keyset-paged list, get, create (chunked and embedded), update and
//! delete.

use axum::extract::State;
use axum::http::{header, StatusCode};
use chrono::{DateTime, Utc};
use diesel::{BoolExpressionMethods, ExpressionMethods, QueryDsl, SelectableHelper};
use diesel_async::RunQueryDsl;
use rowguard::models::{Document, DocumentChanges, DocumentStatus, DocumentType, NewDocument};
use rowguard::page::Cursor;
use rowguard::schema::{document_embeddings, documents};
use rowguard::search::{Kind, NewEmbedding};
use rowguard::tenant::TenantConn;
use rowguard_axum::{ApiError, Caller, Tx};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::extract::{Json, Path, Query};
use crate::{blocking, page_after, page_end, page_limit, require_writer, AppState};

/// A document.
#[derive(Serialize, ToSchema)]
pub struct DocumentOut {
    id: Uuid,
    title: String,
    #[schema(schema_with = crate::openapi::doc_type)]
    doc_type: DocumentType,
    #[schema(schema_with = crate::openapi::doc_status)]
    status: DocumentStatus,
    source_url: Option<String>,
    content: Option<String>,
    /// The user who created it; null once that user is deleted.
    created_by: Option<Uuid>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<Document> for DocumentOut {
    fn from(d: Document) -> Self {
        DocumentOut {
            id: d.id,
            title: d.title,
            doc_type: d.doc_type,
            status: d.status,
            source_url: d.source_url,
            content: d.content,
            created_by: d.created_by.map(|u| u.as_uuid()),
            created_at: d.created_at,
            updated_at: d.updated_at,
        }
    }
}

/// A page of documents, newest first.
#[derive(Serialize, ToSchema)]
pub struct DocumentPage {
    items: Vec<DocumentOut>,
    /// Pass as `after` for the next page; null on the last page.
    next: Option<String>,
}

/// Paging.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<i64>,
    /// The `next` of the previous page.
    #[param(pattern = r"^[0-9a-f]{1,16}\.[0-9a-f]{32}$")]
    after: Option<String>,
}

/// A document to create.
#[derive(Deserialize, ToSchema)]
pub struct CreateDocument {
    /// A non-blank title.
    #[schema(min_length = 1, max_length = 500, pattern = r"\S")]
    title: String,
    /// The text, chunked and embedded for search.
    #[schema(max_length = 200000, pattern = r"^[^\x00]*$")]
    content: Option<String>,
    #[schema(schema_with = crate::openapi::doc_type)]
    doc_type: Option<DocumentType>,
}

/// Changes to a document; absent fields stay as they are. A new `content` is chunked
/// and embedded again.
#[derive(Deserialize, ToSchema)]
pub struct UpdateDocument {
    #[schema(min_length = 1, max_length = 500, pattern = r"\S")]
    title: Option<String>,
    #[schema(max_length = 200000, pattern = r"^[^\x00]*$")]
    content: Option<String>,
    #[schema(schema_with = crate::openapi::doc_type)]
    doc_type: Option<DocumentType>,
}

/// A document and the number of chunks embedded for it.
#[derive(Serialize, ToSchema)]
pub struct Indexed {
    document: DocumentOut,
    /// How many chunks of its content were embedded.
    chunks: usize,
}

/// The longest title and content accepted, in characters.
const MAX_TITLE: usize = 500;
const MAX_CONTENT: usize = 200_000;

/// Characters per chunk, and the overlap between neighbours.
const CHUNK_CHARS: usize = 1000;
const CHUNK_OVERLAP: usize = 100;

/// The caller's documents, newest first, a keyset page at a time (one round trip).
#[utoipa::path(
    get,
    path = "/documents",
    operation_id = "list_documents",
    tag = "documents",
    params(PageParams),
    responses((status = 200, description = "A page of documents", body = DocumentPage)),
)]
pub async fn list(
    State(st): State<AppState>,
    Caller(ctx): Caller,
    Query(p): Query<PageParams>,
) -> Result<axum::Json<DocumentPage>, ApiError> {
    let limit = page_limit(p.limit)?;
    let mut q = documents::table
        .select(Document::as_select())
        .order_by((documents::created_at.desc(), documents::id.desc()))
        .limit(limit + 1)
        .into_boxed();
    if let Some(c) = page_after(p.after.as_deref())? {
        q = q.filter(documents::created_at.le(c.created_at())).filter(
            documents::created_at
                .lt(c.created_at())
                .or(documents::id.lt(c.id())),
        );
    }
    let mut rows: Vec<Document> = st.tenants.fetch(&ctx, q).await?;
    let next = page_end(&mut rows, limit, |d| Cursor::new(d.created_at, d.id));
    Ok(axum::Json(DocumentPage {
        items: rows.into_iter().map(Into::into).collect(),
        next,
    }))
}

/// One document (404 when the caller's tenant has none with this id).
#[utoipa::path(
    get,
    path = "/documents/{id}",
    operation_id = "get_document",
    tag = "documents",
    params(("id" = Uuid, Path, description = "The document's id")),
    responses((status = 200, description = "The document", body = DocumentOut)),
)]
pub async fn get(
    State(st): State<AppState>,
    Caller(ctx): Caller,
    Path(id): Path<Uuid>,
) -> Result<axum::Json<DocumentOut>, ApiError> {
    let found: Vec<Document> = st
        .tenants
        .fetch(
            &ctx,
            documents::table
                .filter(documents::id.eq(id))
                .select(Document::as_select()),
        )
        .await?;
    let doc = found.into_iter().next().ok_or_else(ApiError::not_found)?;
    Ok(axum::Json(doc.into()))
}

/// Creates a document, chunks its content and embeds the chunks, in one transaction.
#[utoipa::path(
    post,
    path = "/documents",
    operation_id = "create_document",
    tag = "documents",
    request_body = CreateDocument,
    responses((status = 201, description = "Created", body = Indexed,
        headers(("location" = String, description = "The document's URL")))),
)]
pub async fn create(
    State(st): State<AppState>,
    mut tx: Tx,
    Json(body): Json<CreateDocument>,
) -> Result<
    (
        StatusCode,
        [(header::HeaderName, String); 1],
        axum::Json<Indexed>,
    ),
    ApiError,
> {
    require_writer(tx.context())?;
    let title = checked_title(&body.title)?;
    let content = checked_content(body.content)?;
    let embedded = embed(&st, content.clone()).await?;
    let mut conn = tx.conn().await?;
    let user = conn.context().user_id;
    let doc = NewDocument::builder()
        .title(title)
        .maybe_content(content)
        .maybe_doc_type(body.doc_type)
        .status(DocumentStatus::Ready)
        .maybe_created_by(user)
        .build()
        .insert(&mut conn)
        .await?;
    let chunks = store_chunks(&mut conn, &st, doc.id, embedded).await?;
    let location = format!("/documents/{}", doc.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        axum::Json(Indexed {
            document: doc.into(),
            chunks,
        }),
    ))
}

/// Changes a document's title, type or content; a new content replaces its chunks.
#[utoipa::path(
    patch,
    path = "/documents/{id}",
    operation_id = "update_document",
    tag = "documents",
    params(("id" = Uuid, Path, description = "The document's id")),
    request_body = UpdateDocument,
    responses((status = 200, description = "Updated", body = Indexed)),
)]
pub async fn update(
    State(st): State<AppState>,
    mut tx: Tx,
    Path(id): Path<Uuid>,
    Json(body): Json<UpdateDocument>,
) -> Result<axum::Json<Indexed>, ApiError> {
    require_writer(tx.context())?;
    let title = body.title.as_deref().map(checked_title).transpose()?;
    let content = match body.content {
        Some(c) => Some(checked_content(Some(c))?),
        None => None,
    };
    let embedded = match &content {
        Some(c) => Some(embed(&st, c.clone()).await?),
        None => None,
    };
    let mut conn = tx.conn().await?;
    let doc = DocumentChanges {
        title,
        doc_type: body.doc_type,
        content: content.clone(),
        ..Default::default()
    }
    .apply(&mut conn, id)
    .await?;
    let chunks = match embedded {
        Some(embedded) => {
            diesel::delete(
                document_embeddings::table.filter(document_embeddings::document_id.eq(doc.id)),
            )
            .execute(&mut *conn)
            .await
            .map_err(rowguard::Error::from)?;
            store_chunks(&mut conn, &st, doc.id, embedded).await?
        }
        None => document_embeddings::table
            .filter(document_embeddings::document_id.eq(doc.id))
            .count()
            .get_result::<i64>(&mut *conn)
            .await
            .map_err(rowguard::Error::from)?
            .try_into()
            .unwrap_or(0),
    };
    Ok(axum::Json(Indexed {
        document: doc.into(),
        chunks,
    }))
}

/// Deletes a document and its chunks.
#[utoipa::path(
    delete,
    path = "/documents/{id}",
    operation_id = "delete_document",
    tag = "documents",
    params(("id" = Uuid, Path, description = "The document's id")),
    responses((status = 204, description = "Deleted")),
)]
pub async fn delete(mut tx: Tx, Path(id): Path<Uuid>) -> Result<StatusCode, ApiError> {
    require_writer(tx.context())?;
    let mut conn = tx.conn().await?;
    if Document::delete(&mut conn, id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found())
    }
}

fn checked_title(title: &str) -> Result<String, ApiError> {
    let title = title.trim();
    if title.is_empty() || title.chars().count() > MAX_TITLE {
        return Err(ApiError::invalid_input(format!(
            "a title has 1 to {MAX_TITLE} characters, not only spaces"
        )));
    }
    Ok(title.to_owned())
}

fn checked_content(content: Option<String>) -> Result<Option<String>, ApiError> {
    match content {
        Some(c) if c.chars().count() > MAX_CONTENT => Err(ApiError::invalid_input(format!(
            "content has at most {MAX_CONTENT} characters"
        ))),
        Some(c) if c.contains('\0') => Err(ApiError::invalid_input(
            "content may not hold NUL characters",
        )),
        other => Ok(other),
    }
}

/// The chunks of `content` worth embedding (those with a letter or a digit) and their
/// vectors, computed before the transaction begins.
async fn embed(
    st: &AppState,
    content: Option<String>,
) -> Result<Vec<(String, pgvector::Vector)>, ApiError> {
    let Some(content) = content else {
        return Ok(Vec::new());
    };
    let embedder = st.embedder.clone();
    blocking(move || {
        let splitter = text_splitter::TextSplitter::new(
            text_splitter::ChunkConfig::new(CHUNK_CHARS)
                .with_overlap(CHUNK_OVERLAP)
                .map_err(|e| rowguard::Error::InvalidInput(e.to_string()))?,
        );
        let chunks: Vec<&str> = splitter
            .chunks(&content)
            .filter(|c| c.chars().any(char::is_alphanumeric))
            .collect();
        let vectors = embedder.embed_batch_stored(&chunks)?;
        Ok(chunks.into_iter().map(str::to_owned).zip(vectors).collect())
    })
    .await
}

/// Stores a document's embedded chunks; returns how many.
async fn store_chunks(
    conn: &mut TenantConn,
    st: &AppState,
    doc: Uuid,
    embedded: Vec<(String, pgvector::Vector)>,
) -> Result<usize, ApiError> {
    let model = st.embedder.model().to_owned();
    let rows: Vec<NewEmbedding> = embedded
        .into_iter()
        .enumerate()
        .map(|(i, (chunk, v))| {
            NewEmbedding::new(doc, i32::try_from(i).unwrap_or(i32::MAX), chunk, &model, v)
        })
        .collect();
    if rows.is_empty() {
        return Ok(0);
    }
    Ok(rowguard::search::ingest(conn, Kind::Documents, &rows).await?)
}
