//! axum's extractors with [`ApiError`] as their rejection, so a malformed request
//! gets the same `application/problem+json` as every other error.

use axum::extract::{FromRequest, FromRequestParts};
use rowguard_axum::ApiError;

/// A JSON body (415 when it is not `application/json`, 400 when it does not parse,
/// 422 when it has the wrong shape).
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct Json<T>(pub T);

/// A query string (422 when it has the wrong shape).
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct Query<T>(pub T);

/// Path parameters (404 when they do not parse: an id that is not a UUID names
/// nothing).
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct Path<T>(pub T);
