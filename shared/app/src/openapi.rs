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
    declare_every_client_error(&mut doc);
    doc
}

/// Any operation can answer any 4xx (a body that is not JSON: 415; a malformed one: 400 or
/// 422; too many requests: 429; a token refused: 401…), always as problem+json. Operations
/// that name only their usual refusals get the range as well, so that the document promises
/// what the server does.
fn declare_every_client_error(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
    let problem = ResponseBuilder::new()
        .description("Refused: an RFC 7807 problem whose `type` names the reason (docs/api.md)")
        .content(
            "application/problem+json",
            ContentBuilder::new().schema(Some(Ref::from_schema_name("Problem"))).build(),
        )
        .build();
    for item in doc.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
            &mut item.head,
            &mut item.options,
        ];
        for operation in operations.into_iter().flatten() {
            let responses = &mut operation.responses.responses;
            if !responses.contains_key("4XX") {
                responses.insert("4XX".to_owned(), RefOr::T(problem.clone()));
            }
        }
    }
}

/// The document as the JSON checked in at `docs/openapi.json` (pretty-printed, newline-ended).
pub fn document_json() -> String {
    let mut doc = serde_json::to_value(document()).unwrap_or_default();
    let schemas = doc["components"]["schemas"].clone();
    merge_all_of(&mut doc, &schemas);
    describe_merge_patches(&mut doc, &schemas);
    let mut json = serde_json::to_string_pretty(&doc).unwrap_or_else(|_| "{}".into());
    json.push('\n');
    json
}

/// A JSON merge patch (RFC 7396) is any subset of the definition it changes, at every depth:
/// its schema is the definition's with nothing required, and it may be sent as
/// `application/merge-patch+json`. Operations say they take one in their body's description.
fn describe_merge_patches(doc: &mut serde_json::Value, schemas: &serde_json::Value) {
    use serde_json::Value;
    let Some(paths) = doc["paths"].as_object_mut() else { return };
    for operation in paths.values_mut().filter_map(|item| item.get_mut("patch")) {
        let body = &mut operation["requestBody"];
        if !body["description"].as_str().is_some_and(|d| d.contains("merge patch")) {
            continue;
        }
        let mut schema = body["content"]["application/json"]["schema"].take();
        partial(&mut schema, schemas, 0);
        let media = serde_json::json!({ "schema": schema });
        body["content"] =
            serde_json::json!({ "application/json": media, "application/merge-patch+json": media });
        body["required"] = Value::Bool(true);
    }
}

/// `schema` with its references resolved and nothing required.
fn partial(schema: &mut serde_json::Value, schemas: &serde_json::Value, depth: usize) {
    use serde_json::Value;
    if depth > 8 {
        return;
    }
    if let Some(name) = schema["$ref"].as_str().and_then(|r| r.strip_prefix("#/components/schemas/")) {
        let description = schema.get("description").cloned();
        *schema = schemas[name].clone();
        if let (Some(d), Some(map)) = (description, schema.as_object_mut()) {
            map.insert("description".into(), d);
        }
    }
    if let Value::Object(map) = schema {
        map.remove("required");
        for (key, inner) in map.iter_mut() {
            match key.as_str() {
                "properties" => inner
                    .as_object_mut()
                    .into_iter()
                    .flat_map(|p| p.values_mut())
                    .for_each(|p| partial(p, schemas, depth + 1)),
                "items" | "additionalProperties" => partial(inner, schemas, depth + 1),
                "oneOf" | "anyOf" => {
                    inner.as_array_mut().into_iter().flatten().for_each(|p| partial(p, schemas, depth + 1))
                }
                _ => {}
            }
        }
    }
}

/// Replaces each `allOf` (what utoipa makes of `#[serde(flatten)]`) by the one object it
/// describes. A flattened definition denies unknown fields as a request body
/// (`additionalProperties: false`), and inside an `allOf` that would forbid the record's own
/// fields (`id`, `version`…): every response carrying one would break its own schema.
fn merge_all_of(value: &mut serde_json::Value, schemas: &serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            if let Some(Value::Array(parts)) = map.remove("allOf") {
                let mut properties = serde_json::Map::new();
                let mut required: Vec<Value> = Vec::new();
                for part in parts {
                    let mut part =
                        match part["$ref"].as_str().and_then(|r| r.strip_prefix("#/components/schemas/")) {
                            Some(name) => schemas[name].clone(),
                            None => part,
                        };
                    merge_all_of(&mut part, schemas);
                    if let Some(Value::Object(more)) = part.get_mut("properties").map(Value::take) {
                        properties.extend(more);
                    }
                    if let Some(Value::Array(more)) = part.get_mut("required").map(Value::take) {
                        required.extend(more);
                    }
                }
                map.insert("type".into(), Value::from("object"));
                map.insert("properties".into(), Value::Object(properties));
                if !required.is_empty() {
                    map.insert("required".into(), Value::Array(required));
                }
            }
            map.values_mut().for_each(|v| merge_all_of(v, schemas));
        }
        Value::Array(items) => items.iter_mut().for_each(|v| merge_all_of(v, schemas)),
        _ => {}
    }
}
