//! The team: invitations by email, memberships and roles (a studio never loses its last
//! owner), professionals' profiles.

use atelier_domain::Invalid;
use atelier_domain::catalog::ProfessionalProfile;
use atelier_domain::identity::{Email, Role};
use atelier_domain::ids::{InvitationId, StudioId, UserId};
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{Actor, load, owners_key, studio_item, studio_partition};
use atelier_notifications::{Notice, Recipient, Topic, Var, notice_event};
use atelier_platform::access::UserProfile;
use atelier_platform::access::{Membership, member_key};
use atelier_platform::store::{
    Condition, Index, Item, Key, Query, SortKey, StoreError, UpdateAction, Value, WriteOp, attr,
};
use atelier_platform::{AppError, Platform};

/// How long an invitation stays open.
pub const INVITATION_LIFETIME: SignedDuration = SignedDuration::from_hours(7 * 24);

/// State of an invitation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum InvitationStatus {
    /// Waiting for the invitee.
    Pending,
    /// Accepted: the invitee is a member.
    Accepted,
    /// Withdrawn by the studio.
    Revoked,
}

/// An invitation to join a studio.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Invitation {
    /// Id.
    #[schema(value_type = String)]
    pub id: InvitationId,
    /// The studio.
    #[schema(value_type = String)]
    pub studio_id: StudioId,
    /// Who is invited.
    #[schema(value_type = String)]
    pub email: Email,
    /// The role they will have.
    #[schema(value_type = String, example = "professional")]
    pub role: Role,
    /// State.
    pub status: InvitationStatus,
    /// Who invited them.
    pub invited_by: String,
    /// Sent.
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// Valid until.
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: Timestamp,
}

/// `POST /v1/studios/{studio_id}/invitations`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewInvitation {
    /// The invitee's email.
    pub email: String,
    /// Their role.
    #[schema(value_type = String, example = "professional")]
    pub role: Role,
}

fn invitation_key(studio_id: &StudioId, id: &InvitationId) -> Key {
    studio_item(studio_id, format!("INVITE#{id}"))
}

fn invitations_of(email: &Email) -> String {
    format!("INVITES#{}", email.as_str())
}

/// Only owners can hand out, take away or change the owner role.
fn check_role_change(actor: &Actor<'_>, roles: &[Role]) -> Result<(), AppError> {
    actor.access.require(Role::Manager)?;
    if roles.contains(&Role::Owner) {
        actor.access.require(Role::Owner)?;
    }
    Ok(())
}

/// Invites someone by email.
pub async fn invite(
    platform: &Platform,
    actor: Actor<'_>,
    request: NewInvitation,
) -> Result<Invitation, AppError> {
    check_role_change(&actor, &[request.role])?;
    let email = Email::parse(&request.email, "email")?;
    let now = platform.clock.now();
    let invitation = Invitation {
        id: InvitationId::from(platform.ids.new_id()),
        studio_id: actor.studio_id().to_owned(),
        email: email.clone(),
        role: request.role,
        status: InvitationStatus::Pending,
        invited_by: actor.user_id().to_string(),
        created_at: now,
        expires_at: now.checked_add(INVITATION_LIFETIME).unwrap_or(now),
    };
    let item = Item::from_record(&invitation_key(actor.studio_id(), &invitation.id), &invitation)?
        .with(attr::GSI1PK, invitations_of(&email))
        .with(attr::GSI1SK, format!("{}#{}", actor.studio_id(), invitation.id));
    let changes = serde_json::json!({ "email": email, "role": request.role });
    // The invitee hears by email (they may have no account yet), in the studio's language.
    let studio = crate::get(platform, actor.studio_id()).await?;
    let inviter = atelier_identity::profiles(platform, std::slice::from_ref(actor.user_id())).await?;
    let to = Recipient {
        name: email.as_str().to_owned(),
        email: Some(email.as_str().to_owned()),
        ..Recipient::default()
    };
    let notice = Notice::new(Topic::Invitation, to)
        .in_studio(crate::notice_context(&studio))
        .with("role", Var::Text(request.role.as_str().to_owned()))
        .with("invited_by", Var::Text(inviter.first().map_or_else(String::new, |p| p.name.clone())))
        .with("expires_at", Var::Instant(invitation.expires_at));
    let (event, queue) =
        notice_event(platform.ids.new_id(), now, Some(actor.studio_id().to_string()), &notice);
    let (notice_op, entry) = atelier_platform::outbox::record(&event, &queue)?;
    platform
        .store
        .transact(vec![
            WriteOp::create(item),
            actor.audit(platform, "team.invited", "invitation", &invitation.id, changes)?,
            notice_op,
        ])
        .await?;
    platform.outbox.relay_committed(vec![entry]).await;
    Ok(invitation)
}

/// A studio's invitations, newest first.
pub async fn invitations(platform: &Platform, actor: Actor<'_>) -> Result<Vec<Invitation>, AppError> {
    let query = Query::partition(studio_partition(actor.studio_id()))
        .sort(SortKey::BeginsWith("INVITE#".into()))
        .descending();
    let items = platform.store.query_all(query, 1000).await?;
    Ok(items.iter().map(Item::to_record).collect::<Result<_, _>>()?)
}

/// Pending, unexpired invitations addressed to `email`, across studios.
pub async fn invitations_for(platform: &Platform, email: &Email) -> Result<Vec<Invitation>, AppError> {
    let items =
        platform.store.query_all(Query::partition(invitations_of(email)).on(Index::Gsi1), 100).await?;
    let now = platform.clock.now();
    let all: Vec<Invitation> = items.iter().map(Item::to_record).collect::<Result<_, _>>()?;
    Ok(all.into_iter().filter(|i| i.status == InvitationStatus::Pending && i.expires_at > now).collect())
}

/// Withdraws a pending invitation.
pub async fn revoke_invitation(
    platform: &Platform,
    actor: Actor<'_>,
    invitation_id: &InvitationId,
) -> Result<(), AppError> {
    let key = invitation_key(actor.studio_id(), invitation_id);
    let invitation: Invitation = load(platform, &key).await?.ok_or(AppError::NotFound("invitation"))?;
    check_role_change(&actor, &[invitation.role])?;
    let ops = vec![
        WriteOp::update(key, vec![UpdateAction::Set("status".into(), Value::S("revoked".into()))])
            .when(Condition::eq("status", "pending")),
        actor.audit(
            platform,
            "team.invitation_revoked",
            "invitation",
            invitation_id,
            serde_json::Value::Null,
        )?,
    ];
    match platform.store.transact(ops).await {
        Ok(()) => Ok(()),
        Err(StoreError::ConditionFailed { index: 0, .. }) => Err(AppError::Conflict(
            crate::INVITATION_NOT_PENDING,
            "the invitation is no longer pending".into(),
        )),
        Err(e) => Err(e.into()),
    }
}

/// Accepts an invitation addressed to the caller's email: they become a member.
pub async fn accept(
    platform: &Platform,
    actor: Actor<'_>,
    user: &UserProfile,
    invitation_id: &InvitationId,
) -> Result<Membership, AppError> {
    let key = invitation_key(actor.studio_id(), invitation_id);
    let invitation: Invitation = match load::<Invitation>(platform, &key).await? {
        // Someone else's invitation is not the caller's business.
        Some(i) if i.email == user.email => i,
        _ => return Err(AppError::NotFound("invitation")),
    };
    let now = platform.clock.now();
    if invitation.status != InvitationStatus::Pending {
        return Err(AppError::Conflict(
            crate::INVITATION_NOT_PENDING,
            "the invitation is no longer pending".into(),
        ));
    }
    if invitation.expires_at <= now {
        return Err(AppError::Conflict(crate::INVITATION_EXPIRED, "the invitation has expired".into()));
    }
    let membership = Membership {
        studio_id: invitation.studio_id.clone(),
        user_id: user.id.clone(),
        role: invitation.role,
        since: now,
    };
    let mut ops = vec![
        WriteOp::update(key, vec![UpdateAction::Set("status".into(), Value::S("accepted".into()))])
            .when(Condition::eq("status", "pending")),
        membership.create()?,
        actor.audit(
            platform,
            "team.joined",
            "member",
            &user.id,
            serde_json::json!({ "role": invitation.role, "invitation": invitation.id }),
        )?,
    ];
    if invitation.role == Role::Owner {
        ops.push(WriteOp::update(owners_key(actor.studio_id()), vec![UpdateAction::Add("n".into(), 1)]));
    }
    match platform.store.transact(ops).await {
        Ok(()) => Ok(membership),
        Err(StoreError::ConditionFailed { index: 0, .. }) => Err(AppError::Conflict(
            crate::INVITATION_NOT_PENDING,
            "the invitation is no longer pending".into(),
        )),
        Err(StoreError::ConditionFailed { index: 1, .. }) => {
            Err(AppError::Conflict(crate::ALREADY_MEMBER, "you are already a member of this studio".into()))
        }
        Err(e) => Err(e.into()),
    }
}

/// A member as the team sees them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Member {
    /// User id.
    #[schema(value_type = String)]
    pub user_id: UserId,
    /// Name.
    pub name: String,
    /// Email.
    #[schema(value_type = String)]
    pub email: Email,
    /// Role.
    #[schema(value_type = String, example = "manager")]
    pub role: Role,
    /// Member since.
    #[schema(value_type = String, format = DateTime)]
    pub since: Timestamp,
}

/// A studio's memberships (user and role), without names.
pub async fn memberships(platform: &Platform, studio_id: &StudioId) -> Result<Vec<Membership>, AppError> {
    let query = Query::partition(studio_partition(studio_id)).sort(SortKey::BeginsWith("MEMBER#".into()));
    Ok(platform
        .store
        .query_all(query, 10_000)
        .await?
        .iter()
        .map(Item::to_record)
        .collect::<Result<_, _>>()?)
}

/// The studio's members, with names.
pub async fn members(platform: &Platform, actor: Actor<'_>) -> Result<Vec<Member>, AppError> {
    let memberships = memberships(platform, actor.studio_id()).await?;
    let ids: Vec<UserId> = memberships.iter().map(|m| m.user_id.clone()).collect();
    let users = atelier_identity::profiles(platform, &ids).await?;
    Ok(memberships
        .into_iter()
        .filter_map(|m| {
            let user = users.iter().find(|u| u.id == m.user_id)?;
            Some(Member {
                user_id: m.user_id,
                name: user.name.clone(),
                email: user.email.clone(),
                role: m.role,
                since: m.since,
            })
        })
        .collect())
}

/// `PATCH /v1/studios/{studio_id}/members/{user_id}`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleChange {
    /// The new role.
    #[schema(value_type = String, example = "manager")]
    pub role: Role,
}

/// The write keeping the owner count right for a role change, guarded so it never reaches 0.
fn owners_delta(studio_id: &StudioId, from: Role, to: Option<Role>) -> Option<WriteOp> {
    match (from == Role::Owner, to == Some(Role::Owner)) {
        (true, false) => Some(WriteOp::Update {
            key: owners_key(studio_id),
            actions: vec![UpdateAction::Add("n".into(), -1)],
            condition: Some(Condition::Gt("n".into(), Value::N(1))),
        }),
        (false, true) => Some(WriteOp::update(owners_key(studio_id), vec![UpdateAction::Add("n".into(), 1)])),
        _ => None,
    }
}

/// Changes a member's role. Only owners touch the owner role; the last owner stays one.
pub async fn change_role(
    platform: &Platform,
    actor: Actor<'_>,
    user_id: &UserId,
    change: RoleChange,
) -> Result<Membership, AppError> {
    let key = member_key(actor.studio_id(), user_id);
    let current: Membership = load(platform, &key).await?.ok_or(AppError::NotFound("member"))?;
    check_role_change(&actor, &[current.role, change.role])?;
    if current.role == change.role {
        return Ok(current);
    }
    let updated = Membership { role: change.role, ..current.clone() };
    let mut ops = vec![WriteOp::put(updated.to_item()?).when(Condition::eq("role", current.role.as_str()))];
    let owners = owners_delta(actor.studio_id(), current.role, Some(change.role));
    let guards_owner = owners.is_some() && current.role == Role::Owner;
    ops.extend(owners);
    ops.push(actor.audit(
        platform,
        "team.role_changed",
        "member",
        user_id,
        serde_json::json!({ "from": current.role, "to": change.role }),
    )?);
    match platform.store.transact(ops).await {
        Ok(()) => Ok(updated),
        Err(StoreError::ConditionFailed { index: 0, .. }) => Err(AppError::Conflict(
            atelier_platform::error::CHANGED_MEANWHILE,
            "the role changed meanwhile".into(),
        )),
        Err(StoreError::ConditionFailed { index: 1, .. }) if guards_owner => {
            Err(AppError::Conflict(crate::LAST_OWNER, "a studio must keep at least one owner".into()))
        }
        Err(e) => Err(e.into()),
    }
}

/// Removes a member (or lets a member leave). Only owners remove owners; the last owner stays.
pub async fn remove(platform: &Platform, actor: Actor<'_>, user_id: &UserId) -> Result<(), AppError> {
    let key = member_key(actor.studio_id(), user_id);
    let current: Membership = load(platform, &key).await?.ok_or(AppError::NotFound("member"))?;
    let leaving = user_id == actor.user_id();
    if !leaving {
        check_role_change(&actor, &[current.role])?;
    }
    let mut ops =
        vec![WriteOp::Delete { key, condition: Some(Condition::eq("role", current.role.as_str())) }];
    let owners = owners_delta(actor.studio_id(), current.role, None);
    let guards_owner = owners.is_some();
    ops.extend(owners);
    // Their professional profile stops taking bookings.
    let profile_key = professional_key(actor.studio_id(), user_id);
    if platform.store.get(&profile_key).await?.is_some() {
        ops.push(
            WriteOp::update(profile_key, vec![UpdateAction::Set("active".into(), Value::Bool(false))])
                .when(Condition::Exists),
        );
    }
    let action = if leaving { "team.left" } else { "team.removed" };
    ops.push(actor.audit(
        platform,
        action,
        "member",
        user_id,
        serde_json::json!({ "role": current.role }),
    )?);
    match platform.store.transact(ops).await {
        Ok(()) => Ok(()),
        Err(StoreError::ConditionFailed { index: 0, .. }) => Err(AppError::Conflict(
            atelier_platform::error::CHANGED_MEANWHILE,
            "the membership changed meanwhile".into(),
        )),
        Err(StoreError::ConditionFailed { index: 1, .. }) if guards_owner => {
            Err(AppError::Conflict(crate::LAST_OWNER, "a studio must keep at least one owner".into()))
        }
        Err(e) => Err(e.into()),
    }
}

/// A professional of a studio: their public profile and who they are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Professional {
    /// User id.
    #[schema(value_type = String)]
    pub user_id: UserId,
    /// The profile.
    #[serde(flatten)]
    pub profile: ProfessionalProfile,
    /// Version, for `If-Match`.
    pub version: i64,
}

/// Key of a professional's profile.
pub fn professional_key(studio_id: &StudioId, user_id: &UserId) -> Key {
    studio_item(studio_id, format!("PRO#{user_id}"))
}

/// A professional may edit their own profile; managers edit anyone's.
fn check_self_or_manager(actor: &Actor<'_>, user_id: &UserId) -> Result<(), AppError> {
    if actor.user_id() == user_id {
        actor.access.require(Role::Professional)
    } else {
        actor.access.require(Role::Manager)
    }
}

/// Creates or replaces a member's professional profile.
pub async fn put_professional(
    platform: &Platform,
    actor: Actor<'_>,
    user_id: &UserId,
    profile: ProfessionalProfile,
    expected: Option<i64>,
) -> Result<Professional, AppError> {
    check_self_or_manager(&actor, user_id)?;
    let profile = profile.validate()?;
    let key = professional_key(actor.studio_id(), user_id);
    let current: Option<Professional> = load(platform, &key).await?;
    let version = current.as_ref().map_or(0, |p| p.version);
    super::check_precondition(expected, version)?;
    let professional = Professional { user_id: user_id.to_owned(), profile, version: version + 1 };
    let guard = if version == 0 { Condition::NotExists } else { Condition::version_is(version) };
    let ops = vec![
        WriteOp::Put { item: Item::from_record(&key, &professional)?, condition: Some(guard) },
        // Only members can be professionals.
        WriteOp::check(member_key(actor.studio_id(), user_id), Condition::Exists),
        actor.audit(
            platform,
            "team.professional_profile_saved",
            "professional",
            user_id,
            serde_json::to_value(&professional.profile).unwrap_or_default(),
        )?,
    ];
    match platform.store.transact(ops).await {
        Err(StoreError::ConditionFailed { index: 1, .. }) => Err(AppError::NotFound("member")),
        other => super::commit_result(other, expected).map(|()| professional),
    }
}

/// One professional.
pub async fn professional(
    platform: &Platform,
    studio_id: &StudioId,
    user_id: &UserId,
) -> Result<Professional, AppError> {
    load(platform, &professional_key(studio_id, user_id)).await?.ok_or(AppError::NotFound("professional"))
}

/// Every professional of a studio (active or not).
pub async fn professionals(platform: &Platform, studio_id: &StudioId) -> Result<Vec<Professional>, AppError> {
    let query = Query::partition(studio_partition(studio_id)).sort(SortKey::BeginsWith("PRO#".into()));
    let items = platform.store.query_all(query, 10_000).await?;
    Ok(items.iter().map(Item::to_record).collect::<Result<_, _>>()?)
}

/// Checks that every id is an active professional of the studio; field errors name the bad
/// ones. Returns condition checks to put in the writing transaction, so a professional removed
/// meanwhile fails the write.
pub async fn check_professionals(
    platform: &Platform,
    studio_id: &StudioId,
    ids: &[UserId],
    field: &str,
) -> Result<Vec<WriteOp>, AppError> {
    let keys: Vec<Key> = ids.iter().map(|id| professional_key(studio_id, id)).collect();
    let found: Vec<Professional> =
        platform.store.get_many(&keys).await?.iter().map(Item::to_record).collect::<Result<_, _>>()?;
    let mut errors = Invalid::default();
    for (i, id) in ids.iter().enumerate() {
        let active = found.iter().any(|p| p.user_id == *id && p.profile.active);
        errors.check(active, &format!("{field}[{i}]"), "is not an active professional of this studio");
    }
    errors.into_result()?;
    Ok(keys.into_iter().map(|k| WriteOp::check(k, Condition::eq("active", true))).collect())
}

/// Loads a professional for a versioned write of something of theirs: must exist.
pub(crate) async fn require_professional(
    platform: &Platform,
    studio_id: &StudioId,
    user_id: &UserId,
) -> Result<(), AppError> {
    professional(platform, studio_id, user_id).await.map(|_| ())
}

/// For handlers: may the actor manage `user_id`'s things (their own, or as a manager)?
pub fn may_manage(actor: &Actor<'_>, user_id: &UserId) -> Result<(), AppError> {
    check_self_or_manager(actor, user_id)
}
