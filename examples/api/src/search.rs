//! Vector and hybrid search over the documents' chunks.

use axum::extract::State;
use diesel::{ExpressionMethods, QueryDsl};
use diesel_async::RunQueryDsl;
use rowguard::schema::documents;
use rowguard::search::{HybridOptions, Kind, SearchOptions};
use rowguard_axum::{ApiError, Tx};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::extract::Query;
use crate::{blocking, AppState};

/// How to search.
#[derive(Clone, Copy, Default, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Nearest chunks by cosine distance of their embeddings.
    Vector,
    /// Vector and full-text ranks fused (reciprocal rank fusion).
    #[default]
    Hybrid,
}

/// A search.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// The text to search for (1 to 1000 characters, with a letter or a digit).
    #[param(min_length = 1, max_length = 1000, pattern = "[0-9A-Za-z]")]
    q: String,
    /// How many hits, 1 to 100 (default 10).
    #[param(minimum = 1, maximum = 100)]
    k: Option<usize>,
    /// `hybrid` (default) or `vector`.
    #[param(inline)]
    mode: Option<Mode>,
}

/// A chunk that matched.
#[derive(Serialize, ToSchema)]
pub struct SearchHit {
    document_id: Uuid,
    /// The document's title.
    title: String,
    /// The chunk's id and text.
    chunk_id: Uuid,
    chunk: String,
    /// Cosine distance to the query (smaller is nearer).
    distance: f64,
    /// The fused score (hybrid only; larger is better).
    score: Option<f64>,
}

impl SearchHit {
    /// A hit whose title is filled in later, from the documents table.
    fn new(
        document_id: Uuid,
        chunk_id: Uuid,
        chunk: String,
        distance: f64,
        score: Option<f64>,
    ) -> Self {
        SearchHit {
            document_id,
            title: String::new(),
            chunk_id,
            chunk,
            distance,
            score,
        }
    }
}

/// The hits, best first.
#[derive(Serialize, ToSchema)]
pub struct SearchResults {
    hits: Vec<SearchHit>,
}

const MAX_K: usize = 100;
const MAX_QUERY: usize = 1000;

/// Searches the caller's documents: the query is embedded, then the tenant's chunks
/// are searched with the strategy rowguard picks for the tenant's size.
#[utoipa::path(
    get,
    path = "/search",
    operation_id = "search",
    tag = "search",
    params(SearchParams),
    responses((status = 200, description = "Hits, best first", body = SearchResults)),
)]
pub async fn search(
    State(st): State<AppState>,
    mut tx: Tx,
    Query(p): Query<SearchParams>,
) -> Result<axum::Json<SearchResults>, ApiError> {
    let k = p.k.unwrap_or(10);
    if !(1..=MAX_K).contains(&k) {
        return Err(ApiError::invalid_input(format!(
            "k must be between 1 and {MAX_K}, got {k}"
        )));
    }
    let text = p.q.trim().to_owned();
    if text.chars().count() > MAX_QUERY || !text.chars().any(char::is_alphanumeric) {
        return Err(ApiError::invalid_input(format!(
            "q has 1 to {MAX_QUERY} characters, with a letter or a digit"
        )));
    }
    let embedder = st.embedder.clone();
    let query = {
        let text = text.clone();
        blocking(move || embedder.embed_stored(&text)).await?
    };
    let mut conn = tx.conn().await?;
    let mut hits: Vec<SearchHit> = match p.mode.unwrap_or_default() {
        Mode::Vector => rowguard::search::search(
            &mut conn,
            query.as_slice(),
            k,
            &SearchOptions::new(Kind::Documents),
        )
        .await?
        .into_iter()
        .map(|h| SearchHit::new(h.parent_id, h.id, h.chunk, h.distance, None))
        .collect(),
        Mode::Hybrid => rowguard::search::hybrid_search(
            &mut conn,
            &text,
            query.as_slice(),
            k,
            &HybridOptions::new(Kind::Documents),
        )
        .await?
        .into_iter()
        .map(|h| SearchHit::new(h.parent_id, h.id, h.chunk, h.distance, Some(h.score)))
        .collect(),
    };
    let ids: Vec<Uuid> = hits.iter().map(|h| h.document_id).collect();
    let titles: std::collections::HashMap<Uuid, String> = documents::table
        .filter(documents::id.eq_any(&ids))
        .select((documents::id, documents::title))
        .load::<(Uuid, String)>(&mut *conn)
        .await
        .map_err(rowguard::Error::from)?
        .into_iter()
        .collect();
    for hit in &mut hits {
        hit.title = titles.get(&hit.document_id).cloned().unwrap_or_default();
    }
    Ok(axum::Json(SearchResults { hits }))
}
