//! The OpenAPI document's frame: title, security schemes, the problem schema, and the
//! error responses every operation can give, added to each in one place.

use utoipa::openapi::path::Operation;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Object, RefOr, Response};
use utoipa::{OpenApi, ToSchema};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "rowguard example API",
        description = "Documents, search, tasks and the audit trail of one tenant per session. Errors are application/problem+json.",
    ),
    components(schemas(Problem)),
    security(("bearer" = []), ("cookie" = [])),
    tags(
        (name = "sessions", description = "Sign in and out"),
        (name = "documents", description = "Documents, chunked and embedded for search"),
        (name = "search", description = "Vector and hybrid search over document chunks"),
        (name = "tasks", description = "Tasks by assignee and status"),
        (name = "audit", description = "The tenant's audit trail"),
        (name = "admin", description = "The operator's routes: admin tokens, never a tenant session"),
    )
)]
pub struct ApiDoc;

/// An error (RFC 9457).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct Problem {
    /// `urn:rowguard:problem:<kind>`: not-found, forbidden, unauthorized,
    /// tenant-mismatch, tenant-suspended, tenant-closed, conflict, invalid-input,
    /// bad-request, unsupported-media-type, too-large, unavailable, internal.
    #[schema(rename = "type")]
    kind: String,
    /// A short, fixed summary of the kind.
    title: String,
    /// The HTTP status.
    status: u16,
    /// What was wrong with the request, when it was the client's input.
    detail: Option<String>,
    /// The request's id, also in the `x-request-id` header.
    request_id: Option<String>,
}

/// The statuses any operation may answer with a problem, and why.
const PROBLEMS: &[(&str, &str)] = &[
    ("400", "Malformed request"),
    ("401", "No valid session"),
    ("403", "Forbidden: the role may not, the host is another tenant's, or the tenant is suspended or closed"),
    ("404", "Not found in the caller's tenant"),
    ("409", "Conflicts with what exists"),
    ("413", "The request body is too large (2 MB at most)"),
    ("415", "The body must be application/json"),
    ("422", "Invalid input"),
    ("503", "Temporarily unavailable; see Retry-After"),
];

/// Adds the security schemes, and the problem responses to every operation; run on
/// the whole document, once every route is in.
pub fn frame(openapi: &mut utoipa::openapi::OpenApi) {
    let components = openapi.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "bearer",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some("A session token from POST /sign-in"))
                .build(),
        ),
    );
    components.add_security_scheme(
        "admin",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some("An admin token of the operator's"))
                .build(),
        ),
    );
    components.add_security_scheme(
        "cookie",
        SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(crate::SESSION_COOKIE))),
    );
    for item in openapi.paths.paths.values_mut() {
        for op in [
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.patch,
            &mut item.delete,
        ]
        .into_iter()
        .flatten()
        {
            add_problems(op);
        }
    }
}

fn add_problems(op: &mut Operation) {
    for (status, why) in PROBLEMS {
        op.responses
            .responses
            .entry((*status).to_owned())
            .or_insert_with(|| RefOr::T(problem(why)));
    }
}

fn problem(description: &str) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/problem+json",
            ContentBuilder::new()
                .schema(Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name(
                    "Problem",
                ))))
                .build(),
        )
        .build()
}

/// A string schema whose values are `labels` (and `null` when `nullable`).
fn labels(labels: impl Iterator<Item = &'static str>, nullable: bool) -> Object {
    let ty = if nullable {
        SchemaType::from_iter([Type::String, Type::Null])
    } else {
        SchemaType::Type(Type::String)
    };
    let mut values: Vec<serde_json::Value> = labels.map(Into::into).collect();
    if nullable {
        values.push(serde_json::Value::Null);
    }
    ObjectBuilder::new()
        .schema_type(ty)
        .enum_values(Some(values))
        .build()
}

/// The schemas of the database's enums, from their Rust types' labels.
macro_rules! enum_schemas {
    ($($name:ident: $T:ty, $nullable:expr;)*) => {$(
        #[doc = concat!("The labels of `", stringify!($T), "`.")]
        pub fn $name() -> Object {
            labels(<$T>::ALL.iter().map(|v| v.as_str()), $nullable)
        }
    )*};
}

enum_schemas! {
    member_role: rowguard::MemberRole, true;
    doc_type: rowguard::models::DocumentType, false;
    doc_status: rowguard::models::DocumentStatus, false;
    task_status: rowguard::models::TaskStatus, false;
    task_priority: rowguard::models::TaskPriority, false;
    tenant_status: rowguard::models::TenantStatus, false;
    tenant_plan: rowguard::models::TenantPlan, false;
}
