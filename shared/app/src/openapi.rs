//! The OpenAPI 3.1 document, generated from the handlers' annotations of every group (needs
//! every capability: the `all` feature).

use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

use crate::Group;
use atelier_http::problem::{FieldErrorBody, Problem};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Atelier API",
        description = "Booking and operations back end for appointment-based studios. Errors are RFC 7807 problem+json.",
    ),
    components(schemas(Problem, FieldErrorBody)),
    modifiers(&BearerAuth),
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build(),
            ),
        );
    }
}

/// The whole API's document.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    for group in Group::ALL {
        let (_, api) = group.routes().split_for_parts();
        doc.merge(api);
    }
    doc
}

/// The document as the JSON checked in at `docs/openapi.json` (pretty-printed, newline-ended).
pub fn document_json() -> String {
    let mut json = document().to_pretty_json().unwrap_or_else(|_| "{}".into());
    json.push('\n');
    json
}
