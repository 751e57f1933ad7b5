//! The request's tenant transaction: begun on first use, ended by [`middleware`].

use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rowguard::pool::{TenantConn, TenantPool, TenantTx};
use rowguard::TenantContext;
use tokio::sync::{MappedMutexGuard, Mutex, MutexGuard};
use tracing::Instrument;

use crate::caller::{Caller, RowguardState};
use crate::problem::{ApiError, REQUEST_ID};

/// Where a request's transaction lives between its handler and [`middleware`].
#[derive(Clone, Default)]
struct Slot(Arc<Mutex<Option<TenantTx>>>);

/// Serves one request: its id, its span, and the end of its transaction (commit on a
/// 2xx or 3xx response, rollback otherwise; a failed commit becomes the response).
/// Install it with `axum::middleware::from_fn(rowguard_axum::middleware)`.
pub async fn middleware(mut req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    let slot = Slot::default();
    req.extensions_mut().insert(slot.clone());
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %req.method(),
        path = %req.uri().path(),
        tenant = tracing::field::Empty,
    );
    let header = HeaderValue::from_str(&id).ok();
    REQUEST_ID
        .scope(id, async move {
            let mut response = next.run(req).await;
            let held = slot.0.lock().await.take();
            if let Some(tx) = held {
                let status = response.status();
                if status.is_success() || status.is_redirection() {
                    if let Err(e) = tx.commit().await {
                        response = ApiError::from(e).into_response();
                    }
                } else if let Err(e) = tx.rollback().await {
                    tracing::debug!(error = %e, "rollback after an error response");
                }
            }
            if let Some(header) = header {
                response.headers_mut().insert("x-request-id", header);
            }
            response
        })
        .instrument(span)
        .await
}

/// The request's tenant transaction, acting for its [`Caller`]. Nothing happens until
/// [`Tx::conn`]: then it begins, and [`middleware`] commits or rolls it back with the
/// response.
pub struct Tx {
    slot: Slot,
    pool: TenantPool,
    ctx: TenantContext,
}

impl<S> FromRequestParts<S> for Tx
where
    RowguardState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Caller(ctx) = Caller::from_request_parts(parts, state).await?;
        let slot = parts
            .extensions
            .get::<Slot>()
            .cloned()
            .ok_or_else(|| ApiError::internal("rowguard_axum::middleware is not installed"))?;
        Ok(Tx {
            slot,
            pool: RowguardState::from_ref(state).tenants,
            ctx,
        })
    }
}

impl Tx {
    /// The context the transaction acts for.
    pub fn context(&self) -> &TenantContext {
        &self.ctx
    }

    /// The transaction's connection, beginning the transaction on first use.
    ///
    /// # Errors
    /// 503 when no connection is free in time or the database is unreachable.
    pub async fn conn(&mut self) -> Result<MappedMutexGuard<'_, TenantConn>, ApiError> {
        let mut held = self.slot.0.lock().await;
        if held.is_none() {
            *held = Some(self.pool.begin(&self.ctx).await?);
        }
        MutexGuard::try_map(held, |t| t.as_mut().map(TenantTx::conn))
            .map_err(|_| ApiError::internal("the request's transaction vanished"))
    }
}
