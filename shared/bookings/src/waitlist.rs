//! The waitlist: a client waits for a service (optionally a professional) within a window of
//! dates; entries are kept in joining order per service. When time frees up (a cancellation, a
//! move, an expired hold or offer), the first matching entry gets an offer: a booking held
//! for it, pending, until the offer expires. Accepting confirms it; declining or letting it
//! expire passes the time to the next entry.

use atelier_domain::ids::{BookingId, ClientId, ServiceId, StudioId, UserId, WaitlistEntryId};
use std::sync::Arc;

use async_trait::async_trait;
use atelier_domain::Invalid;
use atelier_domain::bookings::{BookingStatus, PendingReason};
use atelier_domain::identity::Role;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::context::{self, Loaded, ProfessionalPart, ServicePart, StudioPart};
use crate::create::Booker;
use crate::draft::{self, Basis};
use crate::events::{self, BookingEvent, SlotFreed};
use crate::tx::{Failure, Part, Tx};
use crate::{By, due};
use atelier_platform::access::StudioAccess;
use atelier_platform::events::Event;
use atelier_platform::store::{Condition, Item, Key, Query, SortKey, StoreError, WriteOp, attr};
use atelier_platform::worker::{EventHandler, HandlerError};
use atelier_platform::{AppError, Platform};
use atelier_studios::clients;

/// Where an entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EntryStatus {
    /// In line.
    Waiting,
    /// Holding an offer.
    Offered,
    /// Took an offer.
    Booked,
    /// Turned an offer down.
    Declined,
    /// Let an offer expire.
    Expired,
    /// Left the waitlist.
    Left,
}

/// A request to join.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WaitlistRequest {
    /// The service.
    #[schema(value_type = String)]
    pub service_id: ServiceId,
    /// Only this professional (absent: anyone who performs it).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub professional_id: Option<UserId>,
    /// Earliest date, in the studio's zone.
    #[schema(value_type = String, format = Date)]
    pub from: Date,
    /// Latest date, included (at most 90 days after `from`, and within the studio's horizon).
    #[schema(value_type = String, format = Date)]
    pub to: Date,
}

/// An entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct WaitlistEntry {
    /// Id (`<service>.<ulid>`).
    #[schema(value_type = String)]
    pub id: WaitlistEntryId,
    /// The studio.
    #[schema(value_type = String)]
    pub studio_id: StudioId,
    /// The service.
    #[schema(value_type = String)]
    pub service_id: ServiceId,
    /// Only this professional.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub professional_id: Option<UserId>,
    /// The client.
    #[schema(value_type = String)]
    pub client_id: ClientId,
    /// Their name.
    pub client_name: String,
    /// Their account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub client_user_id: Option<UserId>,
    /// Earliest date.
    #[schema(value_type = String, format = Date)]
    pub from: Date,
    /// Latest date.
    #[schema(value_type = String, format = Date)]
    pub to: Date,
    /// Status.
    pub status: EntryStatus,
    /// The booking offered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offered_booking_id: Option<String>,
    /// Joined.
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// Last changed.
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
    /// Version.
    pub version: i64,
}

/// An entry with its place in line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct EntryView {
    /// The entry.
    #[serde(flatten)]
    pub entry: WaitlistEntry,
    /// 1 for the first waiting entry of its service; absent when not waiting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<usize>,
}

fn entry_key(studio_id: &StudioId, entry_id: &WaitlistEntryId) -> Result<Key, AppError> {
    let (service, ulid) = entry_id.split_once('.').ok_or(AppError::NotFound("waitlist entry"))?;
    Ok(atelier_studios::studio_item(studio_id, format!("WAIT#{service}#{ulid}")))
}

fn service_prefix(service_id: &ServiceId) -> String {
    format!("WAIT#{service_id}#")
}

/// One live entry per client and service: this item exists while it does.
fn live_key(studio_id: &StudioId, client_id: &ClientId, service_id: &ServiceId) -> Key {
    atelier_studios::studio_item(studio_id, format!("WAITCLIENT#{client_id}#{service_id}"))
}

impl WaitlistEntry {
    fn to_item(&self) -> Result<Item, AppError> {
        Ok(Item::from_record(&entry_key(&self.studio_id, &self.id)?, self)?)
    }

    fn live(&self) -> bool {
        matches!(self.status, EntryStatus::Waiting | EntryStatus::Offered)
    }

    fn matches(&self, freed: &SlotFreed, date: Date) -> bool {
        self.status == EntryStatus::Waiting
            && self.professional_id.as_ref().is_none_or(|p| *p == freed.professional_id)
            && self.from <= date
            && date <= self.to
    }
}

/// How long a closed entry (booked, expired, left) is kept: 30 days.
const CLOSED_ENTRY_KEEP_SECONDS: i64 = 30 * 24 * 3600;

/// The writes moving an entry to `status` (guarded by its version); leaving the live states
/// frees the client to join again.
fn transition(
    entry: &WaitlistEntry,
    status: EntryStatus,
    now: Timestamp,
    offered: Option<&str>,
) -> Result<(WaitlistEntry, Vec<WriteOp>), AppError> {
    let mut next = entry.clone();
    next.status = status;
    next.updated_at = now;
    next.version += 1;
    if let Some(booking) = offered {
        next.offered_booking_id = Some(booking.to_owned());
    }
    let mut item = next.to_item()?;
    if !next.live() {
        // Closed entries stay visible for a while, then leave the service's line for good, so
        // reading the line costs what is live in it, not its whole history.
        item = item.with(attr::TTL, now.as_second() + CLOSED_ENTRY_KEEP_SECONDS);
    }
    let mut ops = vec![WriteOp::put(item).when(Condition::version_is(entry.version))];
    if entry.live() && !next.live() {
        ops.push(WriteOp::delete(live_key(&entry.studio_id, &entry.client_id, &entry.service_id)));
    }
    Ok((next, ops))
}

/// The writes closing the offer of a booking's entry (accepted, declined or expired).
pub(crate) async fn close_offer(
    platform: &Platform,
    studio_id: &StudioId,
    entry_id: &WaitlistEntryId,
    status: EntryStatus,
) -> Result<Vec<WriteOp>, AppError> {
    let Some(item) = platform.store.get(&entry_key(studio_id, entry_id)?).await? else {
        return Ok(Vec::new());
    };
    let entry: WaitlistEntry = item.to_record()?;
    if entry.status != EntryStatus::Offered {
        return Ok(Vec::new());
    }
    Ok(transition(&entry, status, platform.clock.now(), None)?.1)
}

/// Every entry of a service, in joining order.
async fn of_service(
    platform: &Platform,
    studio_id: &StudioId,
    service_id: &ServiceId,
) -> Result<Vec<WaitlistEntry>, AppError> {
    let query = Query::partition(atelier_studios::studio_partition(studio_id))
        .sort(SortKey::BeginsWith(service_prefix(service_id)));
    let items = platform.store.query_all(query, 10_000).await?;
    Ok(items.iter().map(Item::to_record).collect::<Result<_, StoreError>>()?)
}

/// Views with positions among the waiting entries of each service.
fn with_positions(entries: Vec<WaitlistEntry>) -> Vec<EntryView> {
    let mut counters: std::collections::HashMap<ServiceId, usize> = std::collections::HashMap::new();
    entries
        .into_iter()
        .map(|entry| {
            let position = (entry.status == EntryStatus::Waiting).then(|| {
                let n = counters.entry(entry.service_id.clone()).or_insert(0);
                *n += 1;
                *n
            });
            EntryView { entry, position }
        })
        .collect()
}

/// Joins the waitlist for the caller.
pub async fn join(
    platform: &Platform,
    booker: Booker<'_>,
    request: &WaitlistRequest,
) -> Result<EntryView, AppError> {
    let studio_id = booker.actor.studio_id();
    let mut keys = context::studio_keys(studio_id);
    keys.extend(context::service_keys(studio_id, &request.service_id));
    keys.push(clients::link_key(studio_id, &booker.user.id));
    let loaded = Loaded::fetch(platform, &keys).await?;
    let studio = StudioPart::from(&loaded, studio_id)?
        .filter(|s| s.studio.active)
        .ok_or(AppError::NotFound("studio"))?;
    let service = ServicePart::from(&loaded, studio_id, &request.service_id)?
        .filter(|s| s.service.definition.active)
        .ok_or_else(|| Invalid::field("service_id", "is not a service this studio offers"))?;
    let zone = TimeZone::get(&studio.studio.profile.time_zone).unwrap_or(TimeZone::UTC);
    let today = platform.clock.now().to_zoned_datetime(zone).date();
    let mut errors = Invalid::default();
    errors.check(request.from >= today, "from", "must not be in the past");
    errors.check(request.from <= request.to, "to", "must not be before from");
    errors.check((request.to - request.from).get_days() <= 90, "to", "the window is at most 90 days");
    // Nothing beyond the studio's horizon can be booked, so nothing there can be offered.
    let horizon = today
        .checked_add(jiff::Span::new().days(i64::from(studio.studio.profile.settings.horizon_days)))
        .unwrap_or(today);
    errors.check(request.to <= horizon, "to", format!("at most the studio's horizon ({horizon})"));
    errors.check(
        request
            .professional_id
            .as_ref()
            .is_none_or(|p| service.service.definition.professional_ids.contains(p)),
        "professional_id",
        "does not perform this service",
    );
    errors.into_result()?;
    let now = platform.clock.now();
    let mut tx = Tx::new();
    let (client_id, client_name) = match loaded.item(&clients::link_key(studio_id, &booker.user.id)) {
        Some(link) => (ClientId::new(link.string("client_id")?), booker.user.name.clone()),
        None => {
            let (client, ops) = clients::new_for_user(platform, studio_id, booker.user)?;
            for (i, op) in ops.into_iter().enumerate() {
                tx.push(op, if i == 0 { Part::ClientLink } else { Part::Other });
            }
            (client.id, client.details.name)
        }
    };
    let entry = WaitlistEntry {
        id: format!("{}.{}", request.service_id, platform.ids.new_id()).into(),
        studio_id: studio_id.to_owned(),
        service_id: request.service_id.clone(),
        professional_id: request.professional_id.clone(),
        client_id: client_id.clone(),
        client_name,
        client_user_id: Some(booker.user.id.clone()),
        from: request.from,
        to: request.to,
        status: EntryStatus::Waiting,
        offered_booking_id: None,
        created_at: now,
        updated_at: now,
        version: 1,
    };
    tx.push(
        WriteOp::create(
            Item::new(&live_key(studio_id, &client_id, &request.service_id))
                .with("entry_id", entry.id.as_str()),
        ),
        Part::Check("your waitlist entry"),
    );
    tx.push(WriteOp::create(entry.to_item()?), Part::Other);
    tx.push(
        booker.actor.audit(
            platform,
            "waitlist.joined",
            "waitlist_entry",
            &entry.id,
            serde_json::to_value(request_summary(request)).unwrap_or_default(),
        )?,
        Part::Other,
    );
    match tx.commit(platform).await {
        Ok(()) => {}
        Err(Failure::Condition(Part::Check(_))) => {
            return Err(AppError::Conflict(
                crate::conflicts::ALREADY_ON_WAITLIST,
                "you are already on the waitlist for this service".into(),
            ));
        }
        Err(Failure::Condition(Part::ClientLink)) => {
            return Err(AppError::Conflict(
                atelier_platform::error::CHANGED_MEANWHILE,
                "your client record was created meanwhile; try again".into(),
            ));
        }
        Err(f) => return Err(f.into_error()),
    }
    let entries = of_service(platform, studio_id, &request.service_id).await?;
    with_positions(entries)
        .into_iter()
        .find(|v| v.entry.id == entry.id)
        .ok_or(AppError::NotFound("waitlist entry"))
}

fn request_summary(r: &WaitlistRequest) -> serde_json::Value {
    serde_json::json!({ "service_id": r.service_id, "professional_id": r.professional_id, "from": r.from, "to": r.to })
}

/// Entries: staff see a service's line (or every line); a client sees their own.
pub async fn list(
    platform: &Platform,
    access: &StudioAccess,
    service_id: Option<&ServiceId>,
) -> Result<Vec<EntryView>, AppError> {
    let staff = access.caller.is_admin || access.role.is_some();
    let entries = match service_id {
        Some(s) => of_service(platform, &access.studio_id, s).await?,
        None => {
            let query = Query::partition(atelier_studios::studio_partition(&access.studio_id))
                .sort(SortKey::BeginsWith("WAIT#".into()));
            let items = platform.store.query_all(query, 10_000).await?;
            items.iter().map(Item::to_record).collect::<Result<_, StoreError>>()?
        }
    };
    let views = with_positions(entries);
    Ok(if staff {
        views
    } else {
        views
            .into_iter()
            .filter(|v| v.entry.client_user_id.as_deref() == Some(access.caller.user_id.as_str()))
            .collect()
    })
}

/// Leaves the waitlist (the client, or staff for them).
pub async fn leave(
    platform: &Platform,
    by: By<'_>,
    access: &StudioAccess,
    entry_id: &WaitlistEntryId,
) -> Result<EntryView, AppError> {
    let item = platform
        .store
        .get(&entry_key(&access.studio_id, entry_id)?)
        .await?
        .ok_or(AppError::NotFound("waitlist entry"))?;
    let entry: WaitlistEntry = item.to_record()?;
    let mine = entry.client_user_id.as_deref() == Some(access.caller.user_id.as_str());
    if !mine {
        access.require(Role::Professional).map_err(|_| AppError::NotFound("waitlist entry"))?;
    }
    if entry.status != EntryStatus::Waiting {
        return Err(AppError::Conflict(
            crate::conflicts::ENTRY_NOT_WAITING,
            format!(
                "the entry is {}; only a waiting entry can leave (decline an offer by cancelling its booking)",
                serde_json::to_value(entry.status).unwrap_or_default().as_str().unwrap_or("closed")
            ),
        ));
    }
    let (left, ops) = transition(&entry, EntryStatus::Left, platform.clock.now(), None)?;
    let mut tx = Tx::new();
    let mut ops = ops.into_iter();
    tx.extend(ops.next(), Part::Check("the waitlist entry"));
    tx.extend(ops, Part::Other);
    tx.push(
        by.audit(
            platform,
            &access.studio_id,
            "waitlist.left",
            "waitlist_entry",
            entry_id,
            serde_json::Value::Null,
        )?,
        Part::Other,
    );
    tx.commit(platform).await.map_err(Failure::into_error)?;
    Ok(EntryView { entry: left, position: None })
}

/// Offers freed time to the first matching entry of the service; `Ok(None)` when no entry
/// matches or the time cannot be offered (taken again, too soon, past).
pub async fn offer(platform: &Platform, freed: &SlotFreed) -> Result<Option<BookingId>, AppError> {
    let studio_id = freed.studio_id.as_str();
    let mut keys = context::studio_keys(&StudioId::from(&studio_id));
    keys.extend(context::service_keys(&StudioId::from(&studio_id), &freed.service_id));
    keys.extend(context::professional_keys(&StudioId::from(&studio_id), &freed.professional_id));
    let loaded = Loaded::fetch(platform, &keys).await?;
    let (Some(studio), Some(service), Some(professional)) = (
        StudioPart::from(&loaded, &StudioId::from(&studio_id))?.filter(|s| s.studio.active),
        ServicePart::from(&loaded, &StudioId::from(&studio_id), &freed.service_id)?
            .filter(|s| s.service.definition.active),
        ProfessionalPart::from(&loaded, &StudioId::from(&studio_id), &freed.professional_id)?
            .filter(|p| p.professional.profile.active),
    ) else {
        return Ok(None);
    };
    let zone = TimeZone::get(&studio.studio.profile.time_zone).unwrap_or(TimeZone::UTC);
    let date = freed.start.to_zoned_datetime(zone).date();
    let candidates: Vec<WaitlistEntry> = of_service(platform, &StudioId::from(&studio_id), &freed.service_id)
        .await?
        .into_iter()
        .filter(|e| e.matches(freed, date))
        .take(5)
        .collect();
    if candidates.is_empty() {
        return Ok(None);
    }
    let professional = professional
        .with_exceptions(platform, &StudioId::from(&studio_id), date.yesterday().unwrap_or(date), date)
        .await?;
    let now = platform.clock.now();
    for entry in candidates {
        let basis = Basis {
            studio: &studio,
            service: &service,
            professional: &professional,
            client_id: &entry.client_id,
            client_name: &entry.client_name,
            client_user_id: entry.client_user_id.as_ref(),
            notes: "",
            created_by: None,
            now,
        };
        let Ok(mut draft) = draft::draft(platform, &basis, freed.start) else {
            // Too soon, past, or outside hours now: nobody can take it.
            return Ok(None);
        };
        let minutes = i64::from(studio.studio.profile.settings.waitlist_offer_minutes);
        draft.booking.status = BookingStatus::Pending;
        draft.booking.pending_reason = Some(PendingReason::Offer);
        draft.booking.timers.hold_until = Some((now + SignedDuration::from_mins(minutes)).min(freed.start));
        draft.booking.waitlist_entry_id = Some(entry.id.clone());
        draft.booking.first_visit =
            crate::create::is_first_visit(platform, &StudioId::from(&studio_id), &entry.client_id).await?;
        due::plan(&mut draft.booking);
        let (_, entry_ops) = transition(&entry, EntryStatus::Offered, now, Some(&draft.booking.id))?;
        let mut tx = Tx::new();
        draft::draft_ops(&mut tx, 0, &draft, false)?;
        draft::basis_checks(&mut tx, &StudioId::from(&studio_id), &service, &freed.professional_id);
        let mut entry_ops = entry_ops.into_iter();
        tx.extend(entry_ops.next(), Part::Check("the waitlist entry"));
        tx.extend(entry_ops, Part::Other);
        tx.event(events::stage(
            platform,
            events::WAITLIST_OFFERED,
            &StudioId::from(&studio_id),
            &BookingEvent::of(&draft.booking),
        )?);
        tx.push(
            By::System.audit(
                platform,
                &StudioId::from(&studio_id),
                "waitlist.offered",
                "waitlist_entry",
                &entry.id,
                serde_json::json!({ "booking_id": draft.booking.id }),
            )?,
            Part::Other,
        );
        match tx.commit(platform).await {
            Ok(()) => {
                // An offer is a booking (pending until the client accepts).
                platform.metrics.count(atelier_platform::metrics::Metric::BookingsCreated, &[]);
                return Ok(Some(draft.booking.id));
            }
            // The entry moved on meanwhile: the next one.
            Err(Failure::Condition(Part::Check("the waitlist entry"))) => continue,
            // Taken again, or something else changed: no offer.
            Err(Failure::Condition(_)) => return Ok(None),
            Err(Failure::Error(e)) => return Err(e),
        }
    }
    Ok(None)
}

/// Handles `slot.freed`: offers the time to the waitlist.
pub struct Promoter {
    platform: Platform,
}

impl Promoter {
    /// A promoter over the platform.
    pub fn new(platform: Platform) -> Arc<Promoter> {
        Arc::new(Promoter { platform })
    }
}

#[async_trait]
impl EventHandler for Promoter {
    async fn handle(&self, event: &Event) -> Result<(), HandlerError> {
        let freed: SlotFreed = serde_json::from_value(event.payload.clone())
            .map_err(|e| HandlerError::failed("malformed slot.freed", e))?;
        match offer(&self.platform, &freed).await {
            Ok(Some(booking)) => {
                tracing::info!(booking_id = %booking, studio_id = %freed.studio_id, "waitlist offer made");
                Ok(())
            }
            Ok(None) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}
