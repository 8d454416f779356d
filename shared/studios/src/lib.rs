//! Studios: profile, team, catalog, availability, policies, clients. Everything of a studio
//! lives under `STUDIO#<id>` keys, reached only through a path's studio id that the access
//! extractor has checked, so one studio's data is never addressable from another's routes.

use atelier_domain::ids::{StudioId, UserId};
pub mod alerts;
pub mod availability;
pub mod catalog;
pub mod clients;
pub mod policies;
pub mod routes;
pub mod team;

use atelier_domain::Invalid;
use atelier_domain::identity::Role;
use atelier_domain::studios::StudioProfile;
use jiff::Timestamp;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use atelier_platform::access::Actor;
use atelier_platform::access::{Membership, StudioAccess};
use atelier_platform::audit::{self, AuditEvent, RequestMeta};
use atelier_platform::error::Reason;
use atelier_platform::store::{
    Condition, Cursor, Index, Item, Key, Query, StoreError, UpdateAction, Value, WriteOp,
};
use atelier_platform::{AppError, Platform};

/// 409: the invitation was accepted or revoked already.
pub const INVITATION_NOT_PENDING: Reason =
    Reason { slug: "invitation-not-pending", title: "Invitation no longer pending" };
/// 409: the invitation ran out.
pub const INVITATION_EXPIRED: Reason = Reason { slug: "invitation-expired", title: "Invitation expired" };
/// 409: the caller is a member of the studio already.
pub const ALREADY_MEMBER: Reason = Reason { slug: "already-member", title: "Already a member" };
/// 409: the change would leave the studio without an owner.
pub const LAST_OWNER: Reason = Reason { slug: "last-owner", title: "A studio keeps at least one owner" };

/// A page of the studio's audit trail, newest first (owners; the route declares the role).
pub async fn audit_trail(
    platform: &Platform,
    actor: Actor<'_>,
    page: impl FnOnce(Query) -> Result<Query, AppError>,
) -> Result<(Vec<AuditEvent>, Option<Cursor>), AppError> {
    let query =
        page(Query::partition(audit::studio_partition(actor.studio_id())).on(Index::Gsi1).descending())?;
    let found = platform.store.query(&query).await?;
    let events = found.items.iter().map(Item::to_record).collect::<Result<Vec<AuditEvent>, _>>()?;
    Ok((events, found.next))
}

/// Partition of a studio.
pub fn studio_partition(studio_id: &StudioId) -> String {
    format!("STUDIO#{studio_id}")
}

/// Key of an item of a studio.
pub fn studio_item(studio_id: &StudioId, sort: impl Into<String>) -> Key {
    Key::new(studio_partition(studio_id), sort)
}

/// Key of a studio's profile.
pub fn profile_key(studio_id: &StudioId) -> Key {
    studio_item(studio_id, "PROFILE")
}

fn slug_key(slug: &str) -> Key {
    Key::new(format!("SLUG#{slug}"), "SLUG")
}

/// Key of the counter of a studio's owners (never below one).
pub(crate) fn owners_key(studio_id: &StudioId) -> Key {
    studio_item(studio_id, "OWNERS")
}

/// Reads a versioned record.
pub(crate) async fn load<T: DeserializeOwned>(platform: &Platform, key: &Key) -> Result<Option<T>, AppError> {
    match platform.store.get(key).await? {
        Some(item) => Ok(Some(item.to_record()?)),
        None => Ok(None),
    }
}

/// Checks an `If-Match` version against the current one: a stale one is a 412.
pub fn check_precondition(expected: Option<i64>, current: i64) -> Result<(), AppError> {
    match expected {
        Some(v) if v != current => Err(AppError::PreconditionFailed),
        _ => Ok(()),
    }
}

/// Commits writes whose first is guarded by the version that was read. If that guard fails,
/// someone changed the record meanwhile: 412 if the client sent `If-Match`, else 409. Never a
/// lost update either way.
pub(crate) async fn commit_guarded(
    platform: &Platform,
    ops: Vec<WriteOp>,
    expected: Option<i64>,
) -> Result<(), AppError> {
    commit_result(platform.store.transact(ops).await, expected)
}

/// Applies a JSON merge patch (RFC 7396) to `target`.
pub fn merge_patch(target: &mut serde_json::Value, patch: &serde_json::Value) {
    match (target, patch) {
        (serde_json::Value::Object(target), serde_json::Value::Object(patch)) => {
            for (key, value) in patch {
                if value.is_null() {
                    target.remove(key);
                } else {
                    merge_patch(target.entry(key.clone()).or_insert(serde_json::Value::Null), value);
                }
            }
        }
        (target, patch) => *target = patch.clone(),
    }
}

/// Records every key of `patch` that `current` (a record serialized with all its fields,
/// absent optional ones as `null`) does not have.
fn unknown_keys(current: &serde_json::Value, patch: &serde_json::Value, prefix: &str, errors: &mut Invalid) {
    let (Some(current), Some(patch)) = (current.as_object(), patch.as_object()) else {
        return;
    };
    for (key, value) in patch {
        let field = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
        match current.get(key) {
            None => {
                errors.check(false, &field, "is not a field that can be changed");
            }
            Some(inner) => unknown_keys(inner, value, &field, errors),
        }
    }
}

/// `current` with `patch` merged in, decoded as `T`: unknown fields and wrong types are a 422.
pub fn patched<T: Serialize + DeserializeOwned>(
    current: &T,
    patch: &serde_json::Value,
) -> Result<T, AppError> {
    if !patch.is_object() {
        return Err(Invalid::field("body", "a merge patch must be a JSON object").into());
    }
    let mut value = serde_json::to_value(current).map_err(|e| AppError::failed("encoding a view", e))?;
    // `{"typo": null}` would otherwise remove nothing and pass: every key must be a field.
    let mut errors = Invalid::default();
    unknown_keys(&value, patch, "", &mut errors);
    errors.into_result()?;
    merge_patch(&mut value, patch);
    serde_json::from_value(value).map_err(|e| AppError::Invalid(Invalid::field("body", e.to_string())))
}

/// What notices about a studio need of it: name, zone, language.
pub fn notice_context(studio: &Studio) -> atelier_notifications::StudioContext {
    atelier_notifications::StudioContext {
        id: studio.id.clone(),
        name: studio.profile.name.clone(),
        time_zone: studio.profile.time_zone.clone(),
        language: studio.profile.language,
    }
}

/// A studio as stored and shown to its members.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Studio {
    /// Id.
    #[schema(value_type = String)]
    pub id: StudioId,
    /// The profile.
    #[serde(flatten)]
    pub profile: StudioProfile,
    /// Taking bookings and publicly visible.
    pub active: bool,
    /// Who created it.
    #[schema(value_type = String)]
    pub created_by: UserId,
    /// Created.
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// Last changed.
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
    /// Version, for `If-Match`.
    pub version: i64,
}

/// What anyone may see of an active studio.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct PublicStudio {
    /// Id.
    #[schema(value_type = String)]
    pub id: StudioId,
    /// Name.
    pub name: String,
    /// Public handle.
    pub slug: String,
    /// Description.
    pub description: String,
    /// Contact email.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact_email: Option<String>,
    /// Contact phone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact_phone: Option<String>,
    /// Address.
    pub address: atelier_domain::studios::Address,
    /// Time zone of its slots.
    pub time_zone: String,
    /// Currency of its prices.
    pub currency: String,
    /// Minutes of notice bookings need.
    pub min_notice_minutes: u32,
    /// How far ahead bookings can be made.
    pub horizon_days: u32,
}

impl Studio {
    fn public(&self) -> PublicStudio {
        let p = &self.profile;
        PublicStudio {
            id: self.id.clone(),
            name: p.name.clone(),
            slug: p.slug.clone(),
            description: p.description.clone(),
            contact_email: p.contact_email.clone(),
            contact_phone: p.contact_phone.clone(),
            address: p.address.clone(),
            time_zone: p.time_zone.clone(),
            currency: p.currency.clone(),
            min_notice_minutes: p.settings.min_notice_minutes,
            horizon_days: p.settings.horizon_days,
        }
    }

    fn to_item(&self) -> Result<Item, StoreError> {
        Item::from_record(&profile_key(&self.id), self)
    }
}

/// Creates a studio; the creator becomes its owner. The slug is reserved by a conditional
/// write in the same transaction.
pub async fn create(
    platform: &Platform,
    user_id: &UserId,
    meta: &RequestMeta,
    profile: StudioProfile,
) -> Result<Studio, AppError> {
    let profile = profile.validate()?;
    let now = platform.clock.now();
    let studio = Studio {
        id: platform.ids.new_id().into(),
        profile,
        active: true,
        created_by: user_id.to_owned(),
        created_at: now,
        updated_at: now,
        version: 1,
    };
    let owner = Membership {
        studio_id: studio.id.clone(),
        user_id: user_id.to_owned(),
        role: Role::Owner,
        since: now,
    };
    let access = StudioAccess {
        caller: atelier_platform::access::Caller {
            user_id: user_id.to_owned(),
            session_id: String::new(),
            is_admin: false,
            api_key: None,
        },
        studio_id: studio.id.clone(),
        role: Some(Role::Owner),
    };
    let actor = Actor { access: &access, meta };
    let ops = vec![
        WriteOp::create(Item::new(&slug_key(&studio.profile.slug)).with("studio_id", studio.id.as_str())),
        WriteOp::create(studio.to_item()?),
        owner.create()?,
        WriteOp::create(Item::new(&owners_key(&studio.id)).with("n", 1)),
        actor.audit(
            platform,
            "studio.created",
            "studio",
            &studio.id,
            serde_json::to_value(&studio.profile).unwrap_or_default(),
        )?,
    ];
    match platform.store.transact(ops).await {
        Ok(()) => Ok(studio),
        Err(StoreError::ConditionFailed { index: 0, .. }) => {
            Err(Invalid::field("slug", "is taken by another studio").into())
        }
        Err(e) => Err(e.into()),
    }
}

/// A studio, for its members.
pub async fn get(platform: &Platform, studio_id: &StudioId) -> Result<Studio, AppError> {
    load(platform, &profile_key(studio_id)).await?.ok_or(AppError::NotFound("studio"))
}

/// An active studio by its slug, for anyone.
pub async fn public_by_slug(platform: &Platform, slug: &str) -> Result<PublicStudio, AppError> {
    let slug = slug.trim().to_lowercase();
    // No slug is this long (they are validated when set); such a key would not fit the store.
    if slug.len() > atelier_domain::ids::MAX_ID_BYTES {
        return Err(AppError::NotFound("studio"));
    }
    let reservation = platform.store.get(&slug_key(&slug)).await?.ok_or(AppError::NotFound("studio"))?;
    let studio = get(platform, &StudioId::new(reservation.string("studio_id")?)).await?;
    if !studio.active {
        return Err(AppError::NotFound("studio"));
    }
    Ok(studio.public())
}

/// An active studio by id, for anyone.
pub async fn public_by_id(platform: &Platform, studio_id: &StudioId) -> Result<Studio, AppError> {
    let studio = get(platform, studio_id).await?;
    if studio.active { Ok(studio) } else { Err(AppError::NotFound("studio")) }
}

/// Changes the profile (JSON merge patch); a new slug is reserved and the old one released in
/// the same transaction.
pub async fn update(
    platform: &Platform,
    actor: Actor<'_>,
    patch: &serde_json::Value,
    expected: Option<i64>,
) -> Result<Studio, AppError> {
    let current = get(platform, actor.studio_id()).await?;
    check_precondition(expected, current.version)?;
    let profile = patched(&current.profile, patch)?.validate()?;
    if profile.settings.slot_step_minutes != current.profile.settings.slot_step_minutes {
        // Services' durations must stay multiples of the step.
        let services = catalog::all_services(platform, actor.studio_id()).await?;
        if let Some(off) = services
            .iter()
            .find(|s| !s.definition.duration_minutes.is_multiple_of(profile.settings.slot_step_minutes))
        {
            return Err(Invalid::field(
                "settings.slot_step_minutes",
                format!(
                    "service `{}` lasts {} minutes, not a multiple of it",
                    off.definition.name, off.definition.duration_minutes
                ),
            )
            .into());
        }
    }
    let studio =
        Studio { profile, updated_at: platform.clock.now(), version: current.version + 1, ..current.clone() };
    let mut ops = vec![WriteOp::put(studio.to_item()?).when(Condition::version_is(current.version))];
    if studio.profile.slug != current.profile.slug {
        ops.push(WriteOp::create(
            Item::new(&slug_key(&studio.profile.slug)).with("studio_id", studio.id.as_str()),
        ));
        ops.push(WriteOp::Delete {
            key: slug_key(&current.profile.slug),
            condition: Some(Condition::eq("studio_id", studio.id.as_str())),
        });
    }
    let changes = serde_json::json!({ "from": current.profile, "to": studio.profile });
    ops.push(actor.audit(platform, "studio.updated", "studio", &studio.id, changes)?);
    match platform.store.transact(ops).await {
        Err(StoreError::ConditionFailed { index: 1, .. }) if studio.profile.slug != current.profile.slug => {
            Err(Invalid::field("slug", "is taken by another studio").into())
        }
        other => commit_result(other, expected).map(|()| studio),
    }
}

/// Maps a guarded commit's outcome (see [`commit_guarded`]).
fn commit_result(result: Result<(), StoreError>, expected: Option<i64>) -> Result<(), AppError> {
    match result {
        Ok(()) => Ok(()),
        Err(StoreError::ConditionFailed { index: 0, .. }) if expected.is_some() => {
            Err(AppError::PreconditionFailed)
        }
        Err(StoreError::ConditionFailed { index: 0, .. }) => Err(AppError::Conflict(
            atelier_platform::error::CHANGED_MEANWHILE,
            "changed by someone else meanwhile; read it again".into(),
        )),
        Err(e) => Err(e.into()),
    }
}

/// Deactivates or reactivates a studio (owners only): an inactive studio disappears from
/// public reads and takes no bookings; its members keep access.
pub async fn set_active(platform: &Platform, actor: Actor<'_>, active: bool) -> Result<Studio, AppError> {
    let current = get(platform, actor.studio_id()).await?;
    if current.active == active {
        return Ok(current);
    }
    let studio =
        Studio { active, updated_at: platform.clock.now(), version: current.version + 1, ..current.clone() };
    let action = if active { "studio.activated" } else { "studio.deactivated" };
    let ops = vec![
        WriteOp::update(
            profile_key(&studio.id),
            vec![
                UpdateAction::Set("active".into(), Value::Bool(active)),
                UpdateAction::Set("updated_at".into(), Value::S(studio.updated_at.to_string())),
                UpdateAction::Set("version".into(), Value::N(studio.version)),
            ],
        )
        .when(Condition::version_is(current.version)),
        actor.audit(platform, action, "studio", &studio.id, serde_json::Value::Null)?,
    ];
    commit_guarded(platform, ops, None).await.map(|()| studio)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_patches_follow_rfc_7396() {
        let mut doc = serde_json::json!({ "a": "b", "c": { "d": "e", "f": "g" } });
        merge_patch(&mut doc, &serde_json::json!({ "a": "z", "c": { "f": null } }));
        assert_eq!(doc, serde_json::json!({ "a": "z", "c": { "d": "e" } }));
        let mut doc = serde_json::json!({ "tags": ["a", "b"] });
        merge_patch(&mut doc, &serde_json::json!({ "tags": ["c"] }));
        assert_eq!(doc, serde_json::json!({ "tags": ["c"] }), "arrays are replaced");
    }

    #[test]
    fn preconditions() {
        assert!(check_precondition(None, 3).is_ok());
        assert!(check_precondition(Some(3), 3).is_ok());
        assert!(matches!(check_precondition(Some(2), 3), Err(AppError::PreconditionFailed)));
    }
}
