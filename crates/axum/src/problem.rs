//! Errors as HTTP responses: `application/problem+json` (RFC 9457), with a stable
//! `type` per kind of failure, the request id, and no internal detail.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use rowguard::Error;

tokio::task_local! {
    /// The id of the request being served, set by [`crate::middleware`].
    pub(crate) static REQUEST_ID: String;
}

/// The request id of the request this task serves, if [`crate::middleware`] runs.
pub fn request_id() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

/// An error a handler returns: rendered as `application/problem+json`.
///
/// From a [`rowguard::Error`] (with `?`):
///
/// | error | status | `type` |
/// |---|---|---|
/// | `NotFound`, `UnknownTenant` | 404 | `not-found` |
/// | `Forbidden` (RLS, a role tier) | 403 | `forbidden` |
/// | `TenantSuspended` | 403 | `tenant-suspended` |
/// | `TenantClosed` | 403 | `tenant-closed` |
/// | `UniqueViolation`, `ForeignKeyViolation`, `TenantExists` | 409 | `conflict` |
/// | `InvalidInput` (its message is the detail), `CheckViolation` | 422 | `invalid-input` |
/// | `InvalidToken` | 401 | `unauthorized` |
/// | `PoolTimeout`, `ConnectionLost`, `StatementTimeout` | 503, `Retry-After: 1` | `unavailable` |
/// | anything else | 500 | `internal` (logged, never shown) |
///
/// From axum's extractor rejections (use `ApiError` as the rejection of `Json`, `Query`
/// and `Path`, e.g. with axum's `FromRequest` derive and `#[from_request(via(axum::Json),
/// rejection(ApiError))]`): malformed JSON 400 `bad-request`, a body that is not JSON
/// 415 `unsupported-media-type`, too large 413 `too-large`, JSON or a query of the
/// wrong shape 422 `invalid-input` (the rejection's text is the detail), a path that
/// does not parse 404 `not-found`.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    kind: &'static str,
    title: &'static str,
    detail: Option<String>,
    retry_after: bool,
}

impl ApiError {
    fn new(status: StatusCode, kind: &'static str, title: &'static str) -> Self {
        ApiError {
            status,
            kind,
            title,
            detail: None,
            retry_after: false,
        }
    }

    /// 401: no credentials, or credentials that do not name a live session.
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Sign in: no valid session token was given",
        )
    }

    /// 403: the credentials name another tenant than the host the request was sent to.
    pub fn tenant_mismatch() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "tenant-mismatch",
            "The session belongs to another tenant than this host",
        )
    }

    /// 403: the caller's role may not do this.
    pub fn forbidden() -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", "Forbidden")
    }

    /// 404.
    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", "Not found")
    }

    /// 422 with `detail` shown to the client.
    pub fn invalid_input(detail: impl Into<String>) -> Self {
        ApiError {
            detail: Some(detail.into()),
            ..Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-input",
                "Invalid input",
            )
        }
    }

    /// 500, for a server-side mistake; `why` is logged, never shown.
    pub fn internal(why: &str) -> Self {
        tracing::error!(error = why, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal error",
        )
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The problem type's last segment (`not-found`, `tenant-suspended`, ...).
    pub fn kind(&self) -> &'static str {
        self.kind
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        use StatusCode as S;
        match e {
            Error::NotFound | Error::UnknownTenant(_) => Self::not_found(),
            Error::Forbidden(_) => Self::forbidden(),
            Error::TenantSuspended(_) => {
                Self::new(S::FORBIDDEN, "tenant-suspended", "This tenant is suspended")
            }
            Error::TenantClosed(_) => {
                Self::new(S::FORBIDDEN, "tenant-closed", "This tenant is closed")
            }
            Error::UniqueViolation { .. }
            | Error::ForeignKeyViolation { .. }
            | Error::TenantExists(_) => {
                Self::new(S::CONFLICT, "conflict", "Conflicts with what exists")
            }
            Error::InvalidInput(m) => Self::invalid_input(m),
            Error::CheckViolation { .. } => {
                Self::new(S::UNPROCESSABLE_ENTITY, "invalid-input", "Invalid input")
            }
            Error::InvalidToken => Self::unauthorized(),
            Error::PoolTimeout(_) | Error::ConnectionLost(_) | Error::StatementTimeout => {
                tracing::warn!(error = %e, "service unavailable");
                ApiError {
                    retry_after: true,
                    ..Self::new(
                        S::SERVICE_UNAVAILABLE,
                        "unavailable",
                        "Temporarily unavailable; try again",
                    )
                }
            }
            other => Self::internal(&other.to_string()),
        }
    }
}

/// An extractor's rejection of a malformed request, with its explanation as the
/// detail (it describes only the request): 400 `bad-request` (malformed JSON), 413
/// `too-large`, 415 `unsupported-media-type` (a body that is not `application/json`),
/// 422 `invalid-input` (JSON or a query string of the wrong shape).
fn rejected(status: StatusCode, detail: String) -> ApiError {
    let (kind, title) = match status {
        StatusCode::UNPROCESSABLE_ENTITY => ("invalid-input", "Invalid input"),
        StatusCode::PAYLOAD_TOO_LARGE => ("too-large", "The request body is too large"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (
            "unsupported-media-type",
            "The body must be application/json",
        ),
        _ => ("bad-request", "Malformed request"),
    };
    ApiError {
        detail: Some(detail),
        ..ApiError::new(status, kind, title)
    }
}

/// Use `ApiError` as the rejection of `Json` (with axum's `FromRequest` derive, or
/// `Result<Json<T>, JsonRejection>` and `?`): see [`ApiError`] for the statuses.
impl From<axum::extract::rejection::JsonRejection> for ApiError {
    fn from(r: axum::extract::rejection::JsonRejection) -> Self {
        rejected(r.status(), r.body_text())
    }
}

/// A query string of the wrong shape: 422 `invalid-input`.
impl From<axum::extract::rejection::QueryRejection> for ApiError {
    fn from(r: axum::extract::rejection::QueryRejection) -> Self {
        rejected(StatusCode::UNPROCESSABLE_ENTITY, r.body_text())
    }
}

/// A path that does not parse (an id that is not a UUID) names nothing: 404, as a
/// well-formed id that names nothing does.
impl From<axum::extract::rejection::PathRejection> for ApiError {
    fn from(r: axum::extract::rejection::PathRejection) -> Self {
        tracing::debug!(rejection = %r.body_text(), "a path that names nothing");
        Self::not_found()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = serde_json::json!({
            "type": format!("urn:rowguard:problem:{}", self.kind),
            "title": self.title,
            "status": self.status.as_u16(),
        });
        if let Some(detail) = self.detail {
            body["detail"] = detail.into();
        }
        if let Some(id) = request_id() {
            body["request_id"] = id.into();
        }
        let mut response = (self.status, body.to_string()).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}
