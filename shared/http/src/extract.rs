//! Extractors whose rejections are problem+json, and a JSON body that refuses unknown fields
//! (request types derive `deny_unknown_fields`).

use atelier_domain::ids::StudioId;
use atelier_platform::AppError;
use axum::extract::FromRequest;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::response::{IntoResponse, Response};
use http::StatusCode;

use crate::problem::{ApiError, Problem};

/// A JSON request body (and response).
#[derive(Debug, Clone, Copy, Default, FromRequest)]
#[from_request(via(axum::Json), rejection(Rejection))]
pub struct Json<T>(pub T);

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

/// A refused request, shown as a problem.
#[derive(Debug)]
pub struct Rejection(Problem);

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        self.0.into_response()
    }
}

impl From<JsonRejection> for Rejection {
    fn from(r: JsonRejection) -> Self {
        let problem = match &r {
            JsonRejection::JsonDataError(e) => Problem::typed(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-body",
                "Invalid body",
                Some(e.body_text()),
            ),
            JsonRejection::JsonSyntaxError(e) => Problem::typed(
                StatusCode::BAD_REQUEST,
                "malformed-json",
                "Malformed JSON",
                Some(e.body_text()),
            ),
            JsonRejection::MissingJsonContentType(_) => Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                Some("expected Content-Type: application/json".to_owned()),
            ),
            other => Problem::new(other.status(), Some(other.body_text())),
        };
        Rejection(problem)
    }
}

impl From<QueryRejection> for Rejection {
    fn from(r: QueryRejection) -> Self {
        Rejection(Problem::typed(
            StatusCode::BAD_REQUEST,
            "invalid-query",
            "Invalid query",
            Some(r.body_text()),
        ))
    }
}

impl From<PathRejection> for Rejection {
    fn from(r: PathRejection) -> Self {
        Rejection(Problem::new(StatusCode::BAD_REQUEST, Some(r.body_text())))
    }
}

impl From<ApiError> for Rejection {
    fn from(e: ApiError) -> Self {
        Rejection(e.problem())
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
            .map_err(|e| Rejection(Problem::new(e.status(), Some(e.body_text()))))?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalJson(T::default()));
        }
        match serde_json::from_slice(&bytes) {
            Ok(value) => Ok(OptionalJson(value)),
            Err(e) if e.is_data() => Err(Rejection(Problem::typed(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-body",
                "Invalid body",
                Some(format!("Failed to deserialize the JSON body into the target type: {e}")),
            ))),
            Err(e) => Err(Rejection(Problem::typed(
                StatusCode::BAD_REQUEST,
                "malformed-json",
                "Malformed JSON",
                Some(format!("Failed to parse the request body as JSON: {e}")),
            ))),
        }
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
