//! A studio's clients (CRM). Each client has index items sorted by name, phone digits and
//! email, written in the same transaction as the client, so prefix search is a sort-key query,
//! never a filter over every client. A client who books online is linked to their account
//! (one client per account per studio, by a conditional write).

use atelier_domain::clients::{ClientDetails, phone_digits, search_key};
use atelier_domain::ids::{ClientId, StudioId, UserId};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::{Actor, check_precondition, commit_guarded, load, patched, studio_item, studio_partition};
use atelier_platform::access::UserProfile;
use atelier_platform::store::{Condition, Cursor, Item, Key, Query, SortKey, StoreError, WriteOp};
use atelier_platform::tx::Guarded;
use atelier_platform::{AppError, Platform};

/// A client as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Client {
    /// Id.
    #[schema(value_type = String)]
    pub id: ClientId,
    /// Details.
    #[serde(flatten)]
    pub details: ClientDetails,
    /// Linked account, for clients who book themselves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub user_id: Option<UserId>,
    /// Who created the record.
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

/// What clients are searched by.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SearchField {
    /// Name prefix (case and accents ignored).
    #[default]
    Name,
    /// Phone digits prefix.
    Phone,
    /// Email prefix.
    Email,
}

impl SearchField {
    fn label(self) -> &'static str {
        match self {
            SearchField::Name => "NAME",
            SearchField::Phone => "PHONE",
            SearchField::Email => "EMAIL",
        }
    }

    /// The value as its index stores it (folded name, phone digits, lower-case email).
    pub fn key_of(self, text: &str) -> String {
        match self {
            SearchField::Name => search_key(text),
            SearchField::Phone => phone_digits(text),
            SearchField::Email => text.trim().to_lowercase(),
        }
    }
}

/// Search parameters.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ClientSearch {
    /// Prefix to look for; absent lists everyone by name.
    pub q: Option<String>,
    /// Field the prefix applies to.
    #[param(inline)]
    #[serde(default)]
    pub by: SearchField,
}

/// Key of a client record.
pub fn client_key(studio_id: &StudioId, client_id: &ClientId) -> Key {
    studio_item(studio_id, format!("CLIENT#{client_id}"))
}

/// Key of the link from an account to its client record.
pub fn link_key(studio_id: &StudioId, user_id: &UserId) -> Key {
    studio_item(studio_id, format!("CLIENTUSER#{user_id}"))
}

fn index_partition(studio_id: &StudioId, field: SearchField) -> String {
    format!("{}#CLIENTS#{}", studio_partition(studio_id), field.label())
}

/// The index keys of a client: one per searchable field it has.
fn index_keys(studio_id: &StudioId, client: &Client) -> Vec<Key> {
    let d = &client.details;
    let entries = [
        (SearchField::Name, Some(d.name.as_str())),
        (SearchField::Phone, d.phone.as_deref()),
        (SearchField::Email, d.email.as_deref()),
    ];
    entries
        .into_iter()
        .filter_map(|(field, value)| {
            let value = field.key_of(value?);
            (!value.is_empty())
                .then(|| Key::new(index_partition(studio_id, field), format!("{value}#{}", client.id)))
        })
        .collect()
}

fn index_ops(studio_id: &StudioId, before: Option<&Client>, after: Option<&Client>) -> Vec<WriteOp> {
    let old = before.map(|c| index_keys(studio_id, c)).unwrap_or_default();
    let new = after.map(|c| index_keys(studio_id, c)).unwrap_or_default();
    let mut ops: Vec<WriteOp> =
        old.iter().filter(|k| !new.contains(k)).map(|k| WriteOp::delete(k.clone())).collect();
    if let Some(client) = after {
        ops.extend(
            new.iter()
                .filter(|k| !old.contains(k))
                .map(|k| WriteOp::put(Item::new(k).with("client_id", client.id.as_str()))),
        );
    }
    ops
}

/// Creates a client record.
pub async fn create(
    platform: &Platform,
    actor: Actor<'_>,
    details: ClientDetails,
) -> Result<Client, AppError> {
    let (client, ops) = create_ops(platform, actor, details)?;
    commit_guarded(platform, ops, None).await.map(|()| client)
}

/// Creates a client record in one transaction with `guard`, a create-only marker: if the
/// marker exists, nothing is written (an import row applied once, whatever the reruns).
/// `guard` gets the new record's id.
pub async fn create_guarded(
    platform: &Platform,
    actor: Actor<'_>,
    details: ClientDetails,
    guard: impl FnOnce(&str) -> Result<WriteOp, StoreError>,
) -> Result<Guarded<Client>, AppError> {
    let (client, mut ops) = create_ops(platform, actor, details)?;
    ops.insert(0, guard(client.id.as_str())?);
    guarded(platform.store.transact(ops).await, client)
}

/// Changes a client (merge patch) in one transaction with `guard` (see [`create_guarded`]).
pub async fn update_guarded(
    platform: &Platform,
    actor: Actor<'_>,
    client_id: &ClientId,
    patch: &serde_json::Value,
    guard: WriteOp,
) -> Result<Guarded<Client>, AppError> {
    let (client, mut ops) = update_ops(platform, actor, client_id, patch, None).await?;
    ops.insert(0, guard);
    guarded(platform.store.transact(ops).await, client)
}

fn guarded<T>(result: Result<(), StoreError>, value: T) -> Result<Guarded<T>, AppError> {
    match result {
        Ok(()) => Ok(Guarded::Done(value)),
        Err(StoreError::ConditionFailed { index: 0, .. }) => Ok(Guarded::AlreadyDone),
        Err(StoreError::ConditionFailed { .. }) => Err(AppError::Conflict(
            atelier_platform::error::CHANGED_MEANWHILE,
            "changed by someone else meanwhile; read it again".into(),
        )),
        Err(e) => Err(e.into()),
    }
}

/// The client with this email or phone (exactly, as searches fold them), if any.
pub async fn find(
    platform: &Platform,
    studio_id: &StudioId,
    by: SearchField,
    value: &str,
) -> Result<Option<ClientId>, AppError> {
    let folded = by.key_of(value);
    if folded.is_empty() {
        return Ok(None);
    }
    let query = Query::partition(index_partition(studio_id, by))
        .sort(SortKey::BeginsWith(format!("{folded}#")))
        .limit(1);
    let page = platform.store.query(&query).await?;
    Ok(page.items.first().map(|i| i.string("client_id").map(ClientId::new)).transpose()?)
}

fn create_ops(
    platform: &Platform,
    actor: Actor<'_>,
    details: ClientDetails,
) -> Result<(Client, Vec<WriteOp>), AppError> {
    let now = platform.clock.now();
    let client = Client {
        id: platform.ids.new_id().into(),
        details: details.validate()?,
        user_id: None,
        created_by: actor.user_id().to_owned(),
        created_at: now,
        updated_at: now,
        version: 1,
    };
    let mut ops =
        vec![WriteOp::create(Item::from_record(&client_key(actor.studio_id(), &client.id), &client)?)];
    ops.extend(index_ops(actor.studio_id(), None, Some(&client)));
    ops.push(actor.audit(
        platform,
        "clients.created",
        "client",
        &client.id,
        serde_json::to_value(&client.details).unwrap_or_default(),
    )?);
    Ok((client, ops))
}

/// One client.
pub async fn get(
    platform: &Platform,
    studio_id: &StudioId,
    client_id: &ClientId,
) -> Result<Client, AppError> {
    load(platform, &client_key(studio_id, client_id)).await?.ok_or(AppError::NotFound("client"))
}

/// Clients whose `by` field starts with `q` (everyone, by name, without `q`); `page` applies the
/// page size and cursor to the index query.
pub async fn search(
    platform: &Platform,
    studio_id: &StudioId,
    search: &ClientSearch,
    page: impl FnOnce(Query) -> Result<Query, AppError>,
) -> Result<(Vec<Client>, Option<Cursor>), AppError> {
    let mut query = Query::partition(index_partition(studio_id, search.by));
    if let Some(q) = search.q.as_deref() {
        let prefix = search.by.key_of(q);
        if !prefix.is_empty() {
            query = query.sort(SortKey::BeginsWith(prefix));
        }
    }
    let found = platform.store.query(&page(query)?).await?;
    let ids: Vec<String> =
        found.items.iter().map(|i| i.string("client_id").map(str::to_owned)).collect::<Result<_, _>>()?;
    let keys: Vec<Key> = ids.iter().map(|id| client_key(studio_id, &ClientId::new(id))).collect();
    let records: Vec<Client> =
        platform.store.get_many(&keys).await?.iter().map(Item::to_record).collect::<Result<_, _>>()?;
    // In index order.
    let clients = ids.iter().filter_map(|id| records.iter().find(|c| &c.id == id).cloned()).collect();
    Ok((clients, found.next))
}

/// Changes a client (JSON merge patch), guarded by its version; index items follow.
pub async fn update(
    platform: &Platform,
    actor: Actor<'_>,
    client_id: &ClientId,
    patch: &serde_json::Value,
    expected: Option<i64>,
) -> Result<Client, AppError> {
    let (client, ops) = update_ops(platform, actor, client_id, patch, expected).await?;
    commit_guarded(platform, ops, expected).await.map(|()| client)
}

async fn update_ops(
    platform: &Platform,
    actor: Actor<'_>,
    client_id: &ClientId,
    patch: &serde_json::Value,
    expected: Option<i64>,
) -> Result<(Client, Vec<WriteOp>), AppError> {
    let current = get(platform, actor.studio_id(), client_id).await?;
    check_precondition(expected, current.version)?;
    let details = patched(&current.details, patch)?.validate()?;
    let client =
        Client { details, updated_at: platform.clock.now(), version: current.version + 1, ..current.clone() };
    let mut ops = vec![
        WriteOp::put(Item::from_record(&client_key(actor.studio_id(), client_id), &client)?)
            .when(Condition::version_is(current.version)),
    ];
    ops.extend(index_ops(actor.studio_id(), Some(&current), Some(&client)));
    let changes = serde_json::json!({ "from": current.details, "to": client.details });
    ops.push(actor.audit(platform, "clients.updated", "client", client_id, changes)?);
    Ok((client, ops))
}

/// Erases a client: the record, its index items and its account link.
pub async fn delete(platform: &Platform, actor: Actor<'_>, client_id: &ClientId) -> Result<(), AppError> {
    let current = get(platform, actor.studio_id(), client_id).await?;
    let mut ops = vec![
        WriteOp::delete(client_key(actor.studio_id(), client_id))
            .when(Condition::version_is(current.version)),
    ];
    ops.extend(index_ops(actor.studio_id(), Some(&current), None));
    if let Some(user_id) = &current.user_id {
        ops.push(WriteOp::delete(link_key(actor.studio_id(), user_id)));
    }
    ops.push(actor.audit(platform, "clients.erased", "client", client_id, serde_json::Value::Null)?);
    commit_guarded(platform, ops, None).await
}

/// The client record of an account in a studio, created from the account on first use. Two
/// concurrent first bookings still make one record: the link item is created conditionally.
pub async fn for_user(
    platform: &Platform,
    studio_id: &StudioId,
    user: &UserProfile,
) -> Result<Client, AppError> {
    if let Some(link) = platform.store.get(&link_key(studio_id, &user.id)).await? {
        return get(platform, studio_id, &ClientId::new(link.string("client_id")?)).await;
    }
    let (client, ops) = new_for_user(platform, studio_id, user)?;
    match platform.store.transact(ops).await {
        Ok(()) => Ok(client),
        Err(StoreError::ConditionFailed { index: 0, current: Some(link) }) => {
            get(platform, studio_id, &ClientId::new(link.string("client_id")?)).await
        }
        Err(StoreError::ConditionFailed { index: 0, .. }) => {
            Box::pin(for_user(platform, studio_id, user)).await
        }
        Err(e) => Err(e.into()),
    }
}

/// A new client record for an account, and the writes creating it: the link first (created
/// only if absent, so two concurrent first bookings make one record), then the record and its
/// index items. Callers add these to their own transaction.
pub fn new_for_user(
    platform: &Platform,
    studio_id: &StudioId,
    user: &UserProfile,
) -> Result<(Client, Vec<WriteOp>), AppError> {
    let now = platform.clock.now();
    let client = Client {
        id: platform.ids.new_id().into(),
        details: ClientDetails {
            name: user.name.clone(),
            phone: user.phone.clone(),
            email: Some(user.email.as_str().to_owned()),
            notes: String::new(),
            tags: Vec::new(),
            marketing_consent: false,
        },
        user_id: Some(user.id.clone()),
        created_by: user.id.clone(),
        created_at: now,
        updated_at: now,
        version: 1,
    };
    let mut ops = vec![
        WriteOp::create(Item::new(&link_key(studio_id, &user.id)).with("client_id", client.id.as_str())),
        WriteOp::create(Item::from_record(&client_key(studio_id, &client.id), &client)?),
    ];
    ops.extend(index_ops(studio_id, None, Some(&client)));
    Ok((client, ops))
}
