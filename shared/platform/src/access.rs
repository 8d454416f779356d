//! Who is calling, and what they may do in a studio. Memberships are stored under the studio
//! and indexed by user; every studio route loads the caller's membership once. How a bearer
//! token becomes a caller is the identity capability's business, behind [`Authenticator`].

use async_trait::async_trait;
use atelier_domain::identity::{Email, Role};
use atelier_domain::ids::{StudioId, UserId};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::audit::{self, AuditEvent, RequestMeta};
use crate::store::{Item, Key, StoreError, WriteOp, attr};
use crate::{AppError, Platform};

/// How API key secrets begin: a bearer token with this prefix is an API key, not an access token.
pub const API_KEY_PREFIX: &str = "atk_";

/// A request made with an API key, as the key is checked against it.
#[derive(Debug, Clone, Copy)]
pub struct KeyUse<'a> {
    /// The HTTP method.
    pub method: &'a str,
    /// The route's template (`/v1/studios/{studio_id}/bookings`): what scopes open.
    pub route: &'a str,
    /// Where it came from (audited).
    pub meta: &'a RequestMeta,
}

/// Turns a bearer access token into a caller: implemented by the identity capability, called
/// by the HTTP kit's extractors before any handler runs.
#[async_trait]
pub trait Authenticator: Send + Sync {
    /// Verifies `token` and loads who it names, with their role in `studio_id` when given.
    async fn authenticate(
        &self,
        platform: &Platform,
        token: &str,
        studio_id: Option<&StudioId>,
    ) -> Result<Authenticated, AppError>;

    /// Verifies an API key for a request to a route of `studio_id`: the key must be that
    /// studio's, live, and hold the scope that opens the route. Rate limited per key; every
    /// use is audited with the key's id.
    async fn authenticate_key(
        &self,
        platform: &Platform,
        secret: &str,
        studio_id: &StudioId,
        request: KeyUse<'_>,
    ) -> Result<Authenticated, AppError>;
}

/// A signed-in user as other capabilities see them: no credentials, no versions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserProfile {
    /// User id.
    pub id: UserId,
    /// Normalised email.
    pub email: Email,
    /// Display name.
    pub name: String,
    /// International phone number.
    pub phone: Option<String>,
    /// The language they read notices in, when they chose one.
    pub language: Option<atelier_domain::language::Language>,
    /// When the account was created.
    pub created_at: Timestamp,
}

/// An authenticated request: who, as of this request, and their role in the route's studio.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authenticated {
    /// Who.
    pub caller: Caller,
    /// Their profile.
    pub user: UserProfile,
    /// Their role in the studio of the route, if any.
    pub role: Option<Role>,
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// User id.
    pub user_id: UserId,
    /// Session (refresh family) of the access token.
    pub session_id: String,
    /// Platform administrator.
    pub is_admin: bool,
    /// The API key the request came with, when an integration calls (then `user_id` is
    /// `key:<id>`, what the audit trail records as the actor).
    pub api_key: Option<atelier_domain::ids::ApiKeyId>,
}

/// A caller inside one studio: their role there, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StudioAccess {
    /// Who.
    pub caller: Caller,
    /// Which studio.
    pub studio_id: StudioId,
    /// Their role there; `None` for non-members (clients, or admins acting on any studio).
    pub role: Option<Role>,
}

impl StudioAccess {
    /// Allows the call if the caller's role includes `needed`, or they are a platform admin.
    /// Non-members learn nothing (404); members without the role are told no (403).
    pub fn require(&self, needed: Role) -> Result<(), AppError> {
        match self.role {
            _ if self.caller.is_admin => Ok(()),
            Some(role) if role.includes(needed) => Ok(()),
            Some(_) => Err(AppError::Forbidden(
                crate::error::ROLE_REQUIRED,
                format!("this needs the {} role", needed.as_str()),
            )),
            None => Err(AppError::NotFound("studio")),
        }
    }
}

/// Who is acting in a studio, and from where: what use cases check relations against and
/// what the audit trail records. Handlers get it from their extractor (`member.actor()`).
#[derive(Debug, Clone, Copy)]
pub struct Actor<'a> {
    /// The caller in the studio.
    pub access: &'a StudioAccess,
    /// Where the request came from.
    pub meta: &'a RequestMeta,
}

impl Actor<'_> {
    /// The studio acted on.
    pub fn studio_id(&self) -> &StudioId {
        &self.access.studio_id
    }

    /// The acting user.
    pub fn user_id(&self) -> &UserId {
        &self.access.caller.user_id
    }

    /// The audit write for a change of `entity` in the actor's studio.
    pub fn audit(
        &self,
        platform: &Platform,
        action: &str,
        entity: &str,
        entity_id: &str,
        changes: serde_json::Value,
    ) -> Result<WriteOp, StoreError> {
        audit::record(&AuditEvent {
            id: platform.ids.new_id(),
            at: platform.clock.now(),
            actor: Some(self.user_id().to_string()),
            action: action.to_owned(),
            entity: entity.to_owned(),
            entity_id: entity_id.to_owned(),
            studio_id: Some(self.studio_id().to_string()),
            ip: self.meta.ip.clone(),
            user_agent: self.meta.user_agent.clone(),
            changes,
        })
    }
}

/// A user's membership of a studio.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Membership {
    /// The studio.
    pub studio_id: StudioId,
    /// The user.
    pub user_id: UserId,
    /// Their role.
    pub role: Role,
    /// Since when.
    pub since: Timestamp,
}

/// Key of a membership (under the studio).
pub fn member_key(studio_id: &StudioId, user_id: &UserId) -> Key {
    Key::new(format!("STUDIO#{studio_id}"), format!("MEMBER#{user_id}"))
}

/// Key of a user's session (a refresh family): identity writes it; whoever must stop serving a
/// signed-out caller (an open WebSocket) reads it with [`session_is_active`].
pub fn session_key(user_id: &UserId, session_id: &str) -> Key {
    Key::new(format!("USER#{user_id}"), format!("SESSION#{session_id}"))
}

/// Whether a session item is still signed in (not logged out, not revoked).
pub fn session_is_active(item: &Item) -> bool {
    item.string("status").is_ok_and(|status| status == "active")
}

/// Index-1 partition listing a user's memberships.
pub fn memberships_partition(user_id: &UserId) -> String {
    format!("USER#{user_id}#MEMBERSHIPS")
}

impl Membership {
    /// The item, indexed by user.
    pub fn to_item(&self) -> Result<Item, StoreError> {
        Ok(Item::from_record(&member_key(&self.studio_id, &self.user_id), self)?
            .with(attr::GSI1PK, memberships_partition(&self.user_id))
            .with(attr::GSI1SK, format!("STUDIO#{}", self.studio_id)))
    }

    /// Creates the membership (fails if it exists).
    pub fn create(&self) -> Result<WriteOp, StoreError> {
        Ok(WriteOp::create(self.to_item()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn access(role: Option<Role>, is_admin: bool) -> StudioAccess {
        StudioAccess {
            caller: Caller { user_id: "u".into(), session_id: "s".into(), is_admin, api_key: None },
            studio_id: "st".into(),
            role,
        }
    }

    #[test]
    fn default_deny() {
        assert!(access(Some(Role::Owner), false).require(Role::Manager).is_ok());
        assert!(matches!(
            access(Some(Role::Professional), false).require(Role::Manager),
            Err(AppError::Forbidden(..))
        ));
        assert!(matches!(access(None, false).require(Role::Professional), Err(AppError::NotFound(_))));
        assert!(access(None, true).require(Role::Owner).is_ok(), "admins act on any studio");
    }
}
