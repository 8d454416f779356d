//! Extractors that say who is calling: request metadata, a signed-in caller, and a caller
//! inside a studio with the role a handler declares. A handler that takes none of them is
//! public; one that takes `Member<R>` cannot run unless the caller has role `R` (default deny).

use std::marker::PhantomData;
use std::net::SocketAddr;

use atelier_domain::identity::Role;
use atelier_platform::AppError;
use atelier_platform::access::{API_KEY_PREFIX, Actor, Authenticated, KeyUse, StudioAccess};
use atelier_platform::audit::RequestMeta;
use atelier_platform::error::API_KEY_SCOPE;
use axum::extract::rejection::RawPathParamsRejection;
use axum::extract::{ConnectInfo, FromRequestParts, MatchedPath, RawPathParams};
use axum::http::header;
use axum::http::request::Parts;

use crate::AppState;
use crate::problem::ApiError;

/// Where the request came from: client IP and user agent.
#[derive(Debug, Clone)]
pub struct ClientMeta(pub RequestMeta);

/// The client address as the host saw it (API Gateway's `sourceIp` on Lambda).
#[derive(Debug, Clone)]
pub struct SourceIp(pub String);

/// The client's IP, from the most trustworthy source there is: the host's view (API Gateway's
/// source IP on Lambda), else the socket's peer (local server), else, only behind a trusted
/// proxy (`ATELIER_TRUST_FORWARDED_FOR`), the last `X-Forwarded-For` entry, which that proxy
/// appended. A client-sent `X-Forwarded-For` is otherwise ignored: it is trivially forged.
fn client_ip(parts: &Parts, trust_forwarded_for: bool) -> String {
    if let Some(SourceIp(ip)) = parts.extensions.get::<SourceIp>() {
        return ip.clone();
    }
    if let Some(ConnectInfo(peer)) = parts.extensions.get::<ConnectInfo<SocketAddr>>()
        && !trust_forwarded_for
    {
        return peer.ip().to_string();
    }
    let forwarded = parts
        .headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit(',').next())
        .map(str::trim)
        .filter(|ip| trust_forwarded_for && !ip.is_empty());
    match (forwarded, parts.extensions.get::<ConnectInfo<SocketAddr>>()) {
        (Some(ip), _) => ip.to_owned(),
        (None, Some(ConnectInfo(peer))) => peer.ip().to_string(),
        (None, None) => "unknown".to_owned(),
    }
}

impl FromRequestParts<AppState> for ClientMeta {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let agent = parts.headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or_default();
        Ok(ClientMeta(RequestMeta::new(client_ip(parts, state.config.trust_forwarded_for), agent)))
    }
}

fn bearer(parts: &Parts) -> Result<&str, ApiError> {
    let value = parts.headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).ok_or_else(|| {
        ApiError(AppError::Unauthenticated("sign in: send Authorization: Bearer <access token>".into()))
    })?;
    match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() => {
            Ok(token.trim())
        }
        _ => Err(ApiError(AppError::Unauthenticated(
            "the Authorization header must be `Bearer <token>`".into(),
        ))),
    }
}

/// A signed-in caller (any user: a client anywhere).
#[derive(Debug, Clone)]
pub struct SignedIn(pub Authenticated);

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let token = bearer(parts)?;
        if token.starts_with(API_KEY_PREFIX) {
            return Err(ApiError(AppError::Forbidden(
                API_KEY_SCOPE,
                "an API key acts only on its studio's routes that its scopes open".into(),
            )));
        }
        Ok(SignedIn(state.authenticator()?.authenticate(&state.platform, token, None).await?))
    }
}

/// The least role a route needs.
pub trait RoleRequirement: Send + Sync {
    /// The role; platform admins pass every requirement.
    const ROLE: Role;
}

/// Any member of the studio (professional, manager or owner).
#[derive(Debug)]
pub struct AnyMember;
impl RoleRequirement for AnyMember {
    const ROLE: Role = Role::Professional;
}

/// Managers and owners.
#[derive(Debug)]
pub struct Manager;
impl RoleRequirement for Manager {
    const ROLE: Role = Role::Manager;
}

/// Owners only.
#[derive(Debug)]
pub struct Owner;
impl RoleRequirement for Owner {
    const ROLE: Role = Role::Owner;
}

/// A signed-in caller acting in the studio of the route's `{studio_id}`, whatever their role
/// there (clients included). Handlers that need a role take [`Member`] instead.
#[derive(Debug, Clone)]
pub struct InStudio {
    /// Who, where, with which role (if any).
    pub access: StudioAccess,
    /// Their profile.
    pub who: Authenticated,
    /// Where the request came from.
    pub meta: RequestMeta,
}

impl InStudio {
    /// The caller as use cases see them.
    pub fn actor(&self) -> Actor<'_> {
        Actor { access: &self.access, meta: &self.meta }
    }
}

impl FromRequestParts<AppState> for InStudio {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let params =
            RawPathParams::from_request_parts(parts, state).await.map_err(|rejection| match rejection {
                // `%ff`: a path id that is not text once decoded; the same answer as `Path` gives.
                RawPathParamsRejection::InvalidUtf8InPathParam(e) => {
                    ApiError(AppError::BadRequest(e.body_text()))
                }
                _ => ApiError(AppError::Internal("studio route without path parameters".into())),
            })?;
        let studio_id = params
            .iter()
            .find(|(name, _)| *name == "studio_id")
            .map(|(_, value)| atelier_domain::ids::StudioId::new(value))
            .ok_or_else(|| ApiError(AppError::Internal("studio route without {studio_id}".into())))?;
        // As the typed ids' own check (`Path` gives the same answer on public routes).
        if studio_id.len() > atelier_domain::ids::MAX_ID_BYTES {
            return Err(ApiError(AppError::BadRequest(format!(
                "an id is at most {} bytes",
                atelier_domain::ids::MAX_ID_BYTES
            ))));
        }
        let ClientMeta(meta) = ClientMeta::from_request_parts(parts, state).await?;
        let token = bearer(parts)?;
        let who = if token.starts_with(API_KEY_PREFIX) {
            let route = parts.extensions.get::<MatchedPath>().map(MatchedPath::as_str).unwrap_or_default();
            let request = KeyUse { method: parts.method.as_str(), route, meta: &meta };
            state.authenticator()?.authenticate_key(&state.platform, token, &studio_id, request).await?
        } else {
            state.authenticator()?.authenticate(&state.platform, token, Some(&studio_id)).await?
        };
        let access = StudioAccess { caller: who.caller.clone(), studio_id, role: who.role };
        Ok(InStudio { access, who, meta })
    }
}

/// A member of the route's studio with at least role `R` (or a platform admin); anyone else is
/// refused before the handler runs: 404 for non-members (the studio's existence is not
/// confirmed), 403 for members without the role.
#[derive(Debug, Clone)]
pub struct Member<R: RoleRequirement> {
    /// Who, where, with which role.
    pub access: StudioAccess,
    /// Their profile.
    pub who: Authenticated,
    /// Where the request came from.
    pub meta: RequestMeta,
    required: PhantomData<R>,
}

impl<R: RoleRequirement> Member<R> {
    /// The caller as use cases see them.
    pub fn actor(&self) -> Actor<'_> {
        Actor { access: &self.access, meta: &self.meta }
    }
}

impl<R: RoleRequirement> FromRequestParts<AppState> for Member<R> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let InStudio { access, who, meta } = InStudio::from_request_parts(parts, state).await?;
        access.require(R::ROLE)?;
        Ok(Member { access, who, meta, required: PhantomData })
    }
}
