//! The `notifications` endpoint group: the signed-in user's inbox and preferences; a studio's
//! notice defaults and templates.

use axum::extract::State;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use atelier_http::AppState;
use atelier_http::access::SignedIn;
use atelier_http::extract::{Json, Path, Query as QueryParams};
use atelier_http::pagination::{Page, PageParams};
use atelier_http::problem::{ApiError, Problem};

use atelier_domain::ids::NotificationId;
use atelier_domain::language::Language;
use atelier_http::access::{Manager, Member};
use atelier_http::extract::StudioPath;
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;

use crate::preferences::{self, NotificationChoices};
use crate::templates::{self, TemplateText};
use crate::topics::Topic;

use crate::inbox::{self, InboxFilter, MarkedRead, NotificationView, UnreadCount};

type Result<T> = std::result::Result<T, ApiError>;

/// A notice of the caller's.
#[derive(Debug, serde::Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct NotificationPath {
    /// The notice.
    #[param(value_type = String)]
    pub notification_id: NotificationId,
}

/// The caller's notices, newest first; `status=unread|read`, `archived=true` for the archive.
#[utoipa::path(get, path = "/v1/me/notifications", tag = "notifications", security(("bearer" = [])),
    params(InboxFilter, PageParams),
    responses((status = 200, body = inline(Page<NotificationView>)), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn list(
    State(state): State<AppState>,
    SignedIn(who): SignedIn,
    QueryParams(filter): QueryParams<InboxFilter>,
    QueryParams(page): QueryParams<PageParams>,
) -> Result<Json<Page<NotificationView>>> {
    let (items, next) = inbox::list(&state.platform, &who.user.id, &filter, |q| page.apply(q)).await?;
    Ok(Json(Page::new(items, next)))
}

/// How many of the caller's notices are unread (archived ones excluded).
#[utoipa::path(get, path = "/v1/me/notifications/unread-count", tag = "notifications", security(("bearer" = [])),
    responses((status = 200, body = UnreadCount), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn unread_count(
    State(state): State<AppState>,
    SignedIn(who): SignedIn,
) -> Result<Json<UnreadCount>> {
    Ok(Json(inbox::unread(&state.platform, &who.user.id).await?))
}

/// Marks a notice read (again: no change).
#[utoipa::path(post, path = "/v1/me/notifications/{notification_id}/read", tag = "notifications", security(("bearer" = [])),
    params(NotificationPath),
    responses((status = 200, body = NotificationView), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn mark_read(
    State(state): State<AppState>,
    SignedIn(who): SignedIn,
    Path(path): Path<NotificationPath>,
) -> Result<Json<NotificationView>> {
    Ok(Json(inbox::mark_read(&state.platform, &who.user.id, &path.notification_id).await?))
}

/// Archives a notice: it leaves the inbox list (and the unread count) for the archive.
#[utoipa::path(post, path = "/v1/me/notifications/{notification_id}/archive", tag = "notifications", security(("bearer" = [])),
    params(NotificationPath),
    responses((status = 200, body = NotificationView), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn archive(
    State(state): State<AppState>,
    SignedIn(who): SignedIn,
    Path(path): Path<NotificationPath>,
) -> Result<Json<NotificationView>> {
    Ok(Json(inbox::archive(&state.platform, &who.user.id, &path.notification_id).await?))
}

/// Marks every unread notice read (up to 1000 at a time; `more` says to call again).
#[utoipa::path(post, path = "/v1/me/notifications/read-all", tag = "notifications", security(("bearer" = [])),
    responses((status = 200, body = MarkedRead), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn read_all(State(state): State<AppState>, SignedIn(who): SignedIn) -> Result<Json<MarkedRead>> {
    Ok(Json(inbox::mark_all_read(&state.platform, &who.user.id).await?))
}

/// The caller's notice preferences: per topic, channels turned on or off (topics left out
/// follow the studio's defaults, then the built-in ones).
#[utoipa::path(get, path = "/v1/me/notification-preferences", tag = "notifications", security(("bearer" = [])),
    responses((status = 200, body = NotificationChoices), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn my_preferences(
    State(state): State<AppState>,
    SignedIn(who): SignedIn,
) -> Result<Json<NotificationChoices>> {
    Ok(Json(preferences::of_user(&state.platform, &who.user.id).await?))
}

/// Replaces the caller's notice preferences; a transactional topic keeps at least one channel.
#[utoipa::path(put, path = "/v1/me/notification-preferences", tag = "notifications", security(("bearer" = [])),
    request_body = NotificationChoices,
    responses((status = 200, body = NotificationChoices), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn set_my_preferences(
    State(state): State<AppState>,
    SignedIn(who): SignedIn,
    Json(choices): Json<NotificationChoices>,
) -> Result<Json<NotificationChoices>> {
    preferences::set_for_user(&state.platform, &who.user.id, &choices).await?;
    Ok(Json(choices))
}

/// The studio's default channels per topic, for people who chose none (managers).
#[utoipa::path(get, path = "/v1/studios/{studio_id}/notification-settings", tag = "notifications", security(("bearer" = [])),
    params(StudioPath),
    responses((status = 200, body = NotificationChoices), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn studio_settings(
    State(state): State<AppState>,
    member: Member<Manager>,
) -> Result<Json<NotificationChoices>> {
    Ok(Json(preferences::of_studio(&state.platform, &member.access.studio_id).await?))
}

/// Replaces the studio's default channels per topic (managers).
#[utoipa::path(put, path = "/v1/studios/{studio_id}/notification-settings", tag = "notifications", security(("bearer" = [])),
    params(StudioPath), request_body = NotificationChoices,
    responses((status = 200, body = NotificationChoices), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn set_studio_settings(
    State(state): State<AppState>,
    member: Member<Manager>,
    Json(choices): Json<NotificationChoices>,
) -> Result<Json<NotificationChoices>> {
    preferences::set_for_studio(&state.platform, &member.access.studio_id, &choices).await?;
    Ok(Json(choices))
}

/// A topic's template in one language, as the studio's notices use it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct TemplateView {
    /// The topic.
    pub topic: Topic,
    /// The language.
    pub language: Language,
    /// Subject line.
    pub subject: String,
    /// Body.
    pub body: String,
    /// Whether this is the studio's own text (otherwise the built-in one).
    pub overridden: bool,
    /// What the template may use (`{{ name }}`).
    pub variables: Vec<String>,
}

/// A topic and language of a template.
#[derive(Debug, serde::Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct TemplatePath {
    /// The studio.
    #[param(value_type = String)]
    pub studio_id: atelier_domain::ids::StudioId,
    /// The topic.
    pub topic: Topic,
    /// The language (`en`, `pt-BR`).
    pub language: Language,
}

fn template_view(topic: Topic, language: Language, text: Option<TemplateText>) -> TemplateView {
    let overridden = text.is_some();
    let text = text.unwrap_or_else(|| templates::builtin(topic, language));
    TemplateView {
        topic,
        language,
        subject: text.subject,
        body: text.body,
        overridden,
        variables: topic.variables().iter().map(|v| (*v).to_owned()).collect(),
    }
}

/// Every topic's template in every language: the studio's own where it has one (managers).
#[utoipa::path(get, path = "/v1/studios/{studio_id}/notification-templates", tag = "notifications", security(("bearer" = [])),
    params(StudioPath, PageParams),
    responses((status = 200, body = inline(Page<TemplateView>)), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn list_templates(
    State(state): State<AppState>,
    member: Member<Manager>,
    QueryParams(page): QueryParams<PageParams>,
) -> Result<Json<Page<TemplateView>>> {
    let overrides = templates::overrides(&state.platform, &member.access.studio_id).await?;
    let mut items = Vec::new();
    for topic in Topic::ALL {
        for language in Language::ALL {
            let own = overrides
                .iter()
                .find(|(t, l, _)| *t == topic && *l == language)
                .map(|(_, _, text)| text.clone());
            items.push(template_view(topic, language, own));
        }
    }
    // In the topics' order, English first.
    let order = |t: &TemplateView| {
        let topic = Topic::ALL.iter().position(|x| *x == t.topic).unwrap_or_default();
        let language = Language::ALL.iter().position(|x| *x == t.language).unwrap_or_default();
        format!("{topic:03}#{language}")
    };
    Ok(Json(page.slice(items, order)?))
}

/// Sets the studio's own subject and body for a topic in a language; checked first (syntax and
/// variables: a 422 that says where).
#[utoipa::path(put, path = "/v1/studios/{studio_id}/notification-templates/{topic}/{language}", tag = "notifications", security(("bearer" = [])),
    params(TemplatePath), request_body = TemplateText,
    responses((status = 200, body = TemplateView), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn put_template(
    State(state): State<AppState>,
    member: Member<Manager>,
    Path(path): Path<TemplatePath>,
    Json(text): Json<TemplateText>,
) -> Result<Json<TemplateView>> {
    templates::set_override(&state.platform, &member.access.studio_id, path.topic, path.language, &text)
        .await?;
    Ok(Json(template_view(path.topic, path.language, Some(text))))
}

/// Goes back to the built-in template for a topic in a language.
#[utoipa::path(delete, path = "/v1/studios/{studio_id}/notification-templates/{topic}/{language}", tag = "notifications", security(("bearer" = [])),
    params(TemplatePath),
    responses((status = 204), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn delete_template(
    State(state): State<AppState>,
    member: Member<Manager>,
    Path(path): Path<TemplatePath>,
) -> Result<StatusCode> {
    templates::remove_override(&state.platform, &member.access.studio_id, path.topic, path.language).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The group's routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(my_preferences, set_my_preferences))
        .routes(routes!(studio_settings, set_studio_settings))
        .routes(routes!(list_templates))
        .routes(routes!(put_template, delete_template))
        .merge(crate::webhooks::routes::routes())
        .routes(routes!(list))
        .routes(routes!(unread_count))
        .routes(routes!(mark_read))
        .routes(routes!(archive))
        .routes(routes!(read_all))
}
