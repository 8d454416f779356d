//! Extractors whose rejections are problem+json, and a JSON body that refuses unknown fields
//! (request types derive `deny_unknown_fields`).

use atelier_domain::ids::StudioId;
use atelier_platform::AppError;
use axum::extract::FromRequest;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::response::{IntoResponse, Response};
use http::StatusCode;

use crate::problem::{ApiError, Problem};

/// A JSON request body (and response). The body must be a JSON object: serde would otherwise
/// read a struct from an array of its fields in order (`[null, null]`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<S, T> FromRequest<S> for Json<T>
where
    S: Send + Sync,
    T: serde::de::DeserializeOwned,
{
    type Rejection = Rejection;

    async fn from_request(request: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        if !json_content_type(request.headers()) {
            return Err(Rejection::from(Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                Some("expected Content-Type: application/json".to_owned()),
            )));
        }
        let bytes = bytes::Bytes::from_request(request, state)
            .await
            .map_err(|e| Rejection::from(Problem::new(e.status(), Some(e.body_text()))))?;
        object_body(&bytes).map(Json)
    }
}

/// `application/json` or any `application/*+json` (`application/merge-patch+json`).
fn json_content_type(headers: &http::HeaderMap) -> bool {
    let Some(mime) = headers.get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = mime.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Reads a JSON object into `T`: 400 if it is not JSON, 422 if it is not an object or not a `T`.
fn object_body<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, Rejection> {
    let invalid = |detail: String| {
        Rejection::from(Problem::typed(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-body",
            "Invalid body",
            Some(detail),
        ))
    };
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first != Some(&b'{') && serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok() {
        return Err(invalid("the body must be a JSON object".to_owned()));
    }
    let malformed = |e: serde_json::Error| {
        Rejection::from(Problem::typed(
            StatusCode::BAD_REQUEST,
            "malformed-json",
            "Malformed JSON",
            Some(format!("Failed to parse the request body as JSON: {e}")),
        ))
    };
    // The path of the offending field (`settings.horizon_days: invalid type…`), as axum's own
    // extractor reports it.
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        let path = e.path().to_string();
        let e = e.into_inner();
        if e.is_data() {
            let at = if path == "." { String::new() } else { format!("{path}: ") };
            invalid(format!("Failed to deserialize the JSON body into the target type: {at}{e}"))
        } else {
            malformed(e)
        }
    })?;
    deserializer.end().map_err(malformed)?;
    Ok(value)
}

impl<T: serde::Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// Query parameters.
#[derive(Debug, Clone, Copy, Default, axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(Rejection))]
pub struct Query<T>(pub T);

/// Path parameters.
#[derive(Debug, Clone, Copy, Default, axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(Rejection))]
pub struct Path<T>(pub T);

/// A refused request, shown as a problem (boxed: extractors return it by value).
#[derive(Debug)]
pub struct Rejection(Box<Problem>);

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        self.0.into_response()
    }
}

impl From<Problem> for Rejection {
    fn from(problem: Problem) -> Self {
        Rejection(Box::new(problem))
    }
}

impl From<QueryRejection> for Rejection {
    fn from(r: QueryRejection) -> Self {
        Rejection::from(Problem::typed(
            StatusCode::BAD_REQUEST,
            "invalid-query",
            "Invalid query",
            Some(r.body_text()),
        ))
    }
}

impl From<PathRejection> for Rejection {
    /// 400, as for a studio route's `{studio_id}` (`InStudio`): the same problem either way.
    fn from(r: PathRejection) -> Self {
        ApiError(AppError::BadRequest(r.body_text())).into()
    }
}

impl From<ApiError> for Rejection {
    fn from(e: ApiError) -> Self {
        Rejection::from(e.problem())
    }
}

impl From<AppError> for Rejection {
    fn from(e: AppError) -> Self {
        ApiError(e).into()
    }
}

/// A JSON body that may be left out: an empty body is `T::default()`. Commands such as
/// "cancel" take optional details and should not need `{}`.
#[derive(Debug, Clone, Copy, Default)]
pub struct OptionalJson<T>(pub T);

impl<S, T> FromRequest<S> for OptionalJson<T>
where
    S: Send + Sync,
    T: serde::de::DeserializeOwned + Default,
{
    type Rejection = Rejection;

    async fn from_request(request: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = bytes::Bytes::from_request(request, state)
            .await
            .map_err(|e| Rejection::from(Problem::new(e.status(), Some(e.body_text()))))?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalJson(T::default()));
        }
        object_body(&bytes).map(OptionalJson)
    }
}

/// The path of any studio route: `{studio_id}` alone.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct StudioPath {
    /// The studio.
    #[param(value_type = String)]
    pub studio_id: StudioId,
}
