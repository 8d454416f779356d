//! Booking events: staged in the outbox in the transaction of the change they describe, then
//! relayed to the notifications queue, where [`BookingNotices`] turns them into notices for the
//! client and the professional (the notifications capability renders and sends them).

use atelier_domain::ids::{BookingId, ClientId, ServiceId, StudioId, UserId};
use std::sync::Arc;

use async_trait::async_trait;
use atelier_domain::bookings::BookingStatus;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::{Booking, local_time};
use atelier_domain::money::Currency;
use atelier_notifications::{Notice, Recipient, StudioContext, Topic, Var, delivery};
use atelier_platform::Platform;
use atelier_platform::events::Event;
use atelier_platform::outbox::{self, OutboxEntry};
use atelier_platform::store::{StoreError, WriteOp};
use atelier_platform::worker::{EventHandler, HandlerError};

/// A booking was made.
pub const CREATED: &str = "booking.created";
/// A series was booked (one event for all its occurrences).
pub const SERIES_CREATED: &str = "booking.series_created";
/// A pending booking was confirmed.
pub const CONFIRMED: &str = "booking.confirmed";
/// A booking moved to another time or professional.
pub const RESCHEDULED: &str = "booking.rescheduled";
/// A booking was cancelled (by someone, or its hold ran out).
pub const CANCELLED: &str = "booking.cancelled";
/// A booking was completed.
pub const COMPLETED: &str = "booking.completed";
/// The client did not come.
pub const NO_SHOW: &str = "booking.no_show";
/// Time to remind the client.
pub const REMINDER_DUE: &str = "booking.reminder_due";
/// A waitlist entry was offered a slot.
pub const WAITLIST_OFFERED: &str = "waitlist.offered";
/// A professional's time was freed (consumed by the waitlist).
pub const SLOT_FREED: &str = "slot.freed";

/// Kinds [`BookingNotices`] handles.
pub const NOTICE_KINDS: [&str; 9] = [
    CREATED,
    SERIES_CREATED,
    CONFIRMED,
    RESCHEDULED,
    CANCELLED,
    COMPLETED,
    NO_SHOW,
    REMINDER_DUE,
    WAITLIST_OFFERED,
];

/// What booking events carry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BookingEvent {
    /// The booking.
    pub booking_id: BookingId,
    /// Its studio.
    pub studio_id: StudioId,
    /// Status after the change.
    pub status: BookingStatus,
    /// The service.
    pub service_id: ServiceId,
    /// Its name.
    pub service_name: String,
    /// The professional.
    pub professional_id: UserId,
    /// Their name.
    pub professional_name: String,
    /// The client record.
    pub client_id: ClientId,
    /// The client's name.
    pub client_name: String,
    /// The client's account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_user_id: Option<UserId>,
    /// Start.
    pub start: Timestamp,
    /// End.
    pub end: Timestamp,
    /// Studio zone.
    pub time_zone: String,
    /// Start in the studio's zone.
    pub start_local: String,
    /// Before a reschedule: the old start, in the studio's zone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_start_local: Option<String>,
    /// Before a reschedule: the old start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_start: Option<Timestamp>,
    /// Fee charged (cancellation or no-show), minor units.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fee_minor: Option<i64>,
    /// Currency of amounts.
    pub currency: Currency,
    /// Deposit due.
    pub deposit_minor: i64,
    /// Loyalty points earned (+) or taken (−).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub points: Option<i64>,
    /// Hold or offer deadline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold_until: Option<Timestamp>,
    /// Reason given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Times the booking had been moved when the event was raised (a reminder is only for
    /// the booking as it was then).
    #[serde(default)]
    pub reschedules: u32,
    /// The member whose change raised it (a completion's, for what it records in their name);
    /// absent when the system did or the event does not say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<UserId>,
    /// The booking's version after the change (what a live update names, so a front end can
    /// tell whether the copy it holds is older).
    #[serde(default)]
    pub version: i64,
}

impl BookingEvent {
    /// The event for a booking's current state.
    pub fn of(b: &Booking) -> BookingEvent {
        BookingEvent {
            booking_id: b.id.clone(),
            studio_id: b.studio_id.clone(),
            status: b.status,
            service_id: b.service_id.clone(),
            service_name: b.service_name.clone(),
            professional_id: b.professional_id.clone(),
            professional_name: b.professional_name.clone(),
            client_id: b.client_id.clone(),
            client_name: b.client_name.clone(),
            client_user_id: b.client_user_id.clone(),
            start: b.start,
            end: b.end,
            time_zone: b.time_zone.clone(),
            start_local: local_time(b.start, &b.time_zone),
            previous_start_local: None,
            previous_start: None,
            fee_minor: None,
            currency: b.currency.clone(),
            deposit_minor: b.deposit_minor,
            points: None,
            hold_until: b.timers.hold_until.filter(|_| b.status == BookingStatus::Pending),
            reason: None,
            reschedules: b.reschedules,
            by: None,
            version: b.version,
        }
    }
}

/// A series' occurrences.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeriesEvent {
    /// The series.
    pub series_id: String,
    /// Each booking made.
    pub bookings: Vec<BookingEvent>,
}

/// Time freed on a professional, for the waitlist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotFreed {
    /// The studio.
    pub studio_id: StudioId,
    /// The service of the booking that freed it.
    pub service_id: ServiceId,
    /// The professional.
    pub professional_id: UserId,
    /// Start of the freed service time.
    pub start: Timestamp,
}

/// The outbox write for an event and the entry to relay after commit.
pub fn stage(
    platform: &Platform,
    kind: &str,
    studio_id: &StudioId,
    payload: &impl Serialize,
) -> Result<(WriteOp, OutboxEntry), StoreError> {
    let event = Event {
        id: platform.ids.new_id(),
        kind: kind.to_owned(),
        studio_id: Some(studio_id.to_string()),
        occurred_at: platform.clock.now(),
        trace: None,
        payload: serde_json::to_value(payload).map_err(|e| StoreError::Encode(e.to_string()))?,
    };
    outbox::record(&event, &atelier_notifications::QUEUE)
}

/// The slot-freed event for a booking's time (before it changed).
pub fn freed(platform: &Platform, before: &Booking) -> Result<(WriteOp, OutboxEntry), StoreError> {
    let payload = SlotFreed {
        studio_id: before.studio_id.clone(),
        service_id: before.service_id.clone(),
        professional_id: before.professional_id.clone(),
        start: before.start,
    };
    stage(platform, SLOT_FREED, &before.studio_id, &payload)
}

/// Turns booking events into notices for the client and the professional.
pub struct BookingNotices {
    platform: Platform,
}

impl BookingNotices {
    /// Notices sent through the platform's channels.
    pub fn new(platform: Platform) -> Arc<BookingNotices> {
        Arc::new(BookingNotices { platform })
    }
}

/// Who hears about a booking event, and about what: (topic, to the client?) pairs.
fn audience(kind: &str, status: BookingStatus) -> &'static [(Topic, bool)] {
    match kind {
        CREATED if status == BookingStatus::Pending => {
            &[(Topic::BookingHeld, true), (Topic::BookingCreated, false)]
        }
        CREATED => &[(Topic::BookingConfirmed, true), (Topic::BookingCreated, false)],
        CONFIRMED => &[(Topic::BookingConfirmed, true)],
        RESCHEDULED => &[(Topic::BookingRescheduled, true), (Topic::BookingRescheduled, false)],
        CANCELLED => &[(Topic::BookingCancelled, true), (Topic::BookingCancelled, false)],
        COMPLETED => &[(Topic::BookingCompleted, true)],
        NO_SHOW => &[(Topic::BookingNoShow, true)],
        REMINDER_DUE => &[(Topic::BookingReminder, true)],
        WAITLIST_OFFERED => &[(Topic::WaitlistOffer, true)],
        _ => &[],
    }
}

/// The variables of a booking event's notices.
fn booking_vars(notice: Notice, e: &BookingEvent) -> Notice {
    let money = |minor: i64| Var::Money { minor, currency: e.currency.clone() };
    let mut notice = notice
        .with("service", Var::Text(e.service_name.clone()))
        .with("professional", Var::Text(e.professional_name.clone()))
        .with("client", Var::Text(e.client_name.clone()))
        .with("start", Var::Instant(e.start));
    if e.deposit_minor > 0 {
        notice = notice.with("deposit", money(e.deposit_minor));
    }
    if let Some(fee) = e.fee_minor.filter(|f| *f > 0) {
        notice = notice.with("fee", money(fee));
    }
    if let Some(at) = e.hold_until {
        notice = notice.with("hold_until", Var::Instant(at));
    }
    if let Some(at) = e.previous_start {
        notice = notice.with("previous_start", Var::Instant(at));
    } else if let Some(text) = &e.previous_start_local {
        notice = notice.with("previous_start", Var::Text(text.clone()));
    }
    match e.points {
        Some(p) if p > 0 => notice.with("points", Var::Number(p)),
        Some(p) if p < 0 => notice.with("points_lost", Var::Number(-p)),
        _ => notice,
    }
}

impl BookingNotices {
    async fn people(&self, e: &BookingEvent) -> Result<(StudioContext, Recipient, Recipient), HandlerError> {
        people(&self.platform, e).await
    }
}

/// The studio's context, the client and the professional of a booking event as recipients,
/// read now so changed addresses and languages are used (payment notices use it too).
pub async fn people(
    platform: &Platform,
    e: &BookingEvent,
) -> Result<(StudioContext, Recipient, Recipient), HandlerError> {
    {
        let context = atelier_studios::notice_context(&atelier_studios::get(platform, &e.studio_id).await?);
        let mut users: Vec<UserId> = vec![e.professional_id.clone()];
        users.extend(e.client_user_id.clone());
        let profiles = atelier_identity::profiles(platform, &users).await?;
        let profile = |id: &UserId| profiles.iter().find(|p| p.id == id);
        let record = match atelier_studios::clients::get(platform, &e.studio_id, &e.client_id).await {
            Ok(client) => Some(client.details),
            Err(atelier_platform::AppError::NotFound(_)) => None,
            Err(other) => return Err(other.into()),
        };
        let account = e.client_user_id.as_ref().and_then(profile);
        let client = Recipient {
            user_id: e.client_user_id.clone(),
            name: e.client_name.clone(),
            email: record
                .as_ref()
                .and_then(|r| r.email.clone())
                .or_else(|| account.map(|a| a.email.as_str().to_owned())),
            phone: record
                .as_ref()
                .and_then(|r| r.phone.clone())
                .or_else(|| account.and_then(|a| a.phone.clone())),
            language: account.and_then(|a| a.language),
        };
        let staff = profile(&e.professional_id);
        let professional = Recipient {
            user_id: Some(e.professional_id.clone()),
            name: e.professional_name.clone(),
            email: staff.map(|p| p.email.as_str().to_owned()),
            phone: staff.and_then(|p| p.phone.clone()),
            language: staff.and_then(|p| p.language),
        };
        Ok((context, client, professional))
    }
}

#[async_trait]
impl EventHandler for BookingNotices {
    async fn handle(&self, event: &Event) -> Result<(), HandlerError> {
        let malformed = |e: serde_json::Error| HandlerError::failed(format!("malformed {}", event.kind), e);
        let mut notices = Vec::new();
        if event.kind == SERIES_CREATED {
            let series: SeriesEvent = serde_json::from_value(event.payload.clone()).map_err(malformed)?;
            let Some(first) = series.bookings.first() else { return Ok(()) };
            let (studio, client, professional) = self.people(first).await?;
            let dates: Vec<String> = series
                .bookings
                .iter()
                .map(|b| {
                    atelier_notifications::templates::format_instant(b.start, &b.time_zone, studio.language)
                })
                .collect();
            for to in [client, professional] {
                notices.push(
                    Notice::new(Topic::BookingSeries, to)
                        .in_studio(studio.clone())
                        .with("service", Var::Text(first.service_name.clone()))
                        .with("professional", Var::Text(first.professional_name.clone()))
                        .with("client", Var::Text(first.client_name.clone()))
                        .with("count", Var::Number(i64::try_from(series.bookings.len()).unwrap_or(i64::MAX)))
                        .with("dates", Var::Text(dates.join("; "))),
                );
            }
        } else {
            let mut payload: BookingEvent =
                serde_json::from_value(event.payload.clone()).map_err(malformed)?;
            let audience = audience(&event.kind, payload.status);
            if audience.is_empty() {
                return Ok(());
            }
            // A reminder is for the booking as it is now: none once it is cancelled or moved
            // (the moved booking has reminders of its own), however late this event is handled.
            if event.kind == REMINDER_DUE {
                let current = match crate::load(&self.platform, &payload.studio_id, &payload.booking_id).await
                {
                    Ok(booking) => Some(booking),
                    Err(atelier_platform::AppError::NotFound(_)) => None,
                    Err(e) => return Err(e.into()),
                };
                match current {
                    Some(b)
                        if b.status == BookingStatus::Confirmed
                            && b.start == payload.start
                            && b.reschedules == payload.reschedules =>
                    {
                        // Told as it is now (a renamed service, a changed professional).
                        payload = BookingEvent::of(&b);
                    }
                    _ => {
                        tracing::info!(booking_id = %payload.booking_id, "stale reminder dropped");
                        return Ok(());
                    }
                }
            }
            let (studio, client, professional) = self.people(&payload).await?;
            for (topic, to_client) in audience {
                let to = if *to_client { client.clone() } else { professional.clone() };
                notices.push(booking_vars(Notice::new(*topic, to).in_studio(studio.clone()), &payload));
            }
        }
        // One notice per person: a professional who booked for themselves hears once.
        let mut seen: Vec<Recipient> = Vec::new();
        for notice in notices {
            let same = |r: &Recipient| {
                (r.user_id.is_some() && r.user_id == notice.to.user_id)
                    || (r.user_id.is_none() && notice.to.user_id.is_none() && r.email == notice.to.email)
            };
            if seen.iter().any(same) {
                continue;
            }
            seen.push(notice.to.clone());
            delivery::dispatch(&self.platform, &event.id, event.occurred_at, &notice).await?;
        }
        Ok(())
    }
}
