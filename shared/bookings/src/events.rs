//! Booking events: staged in the outbox in the transaction of the change they describe, then
//! relayed to the notifications queue. Until the notifications capability adds channels and
//! templates, [`BookingNotices`] turns them into in-app notices for the client and the
//! professional, so none is left unhandled.

use atelier_domain::ids::{BookingId, ClientId, ServiceId, StudioId, UserId};
use std::sync::Arc;

use async_trait::async_trait;
use atelier_domain::bookings::BookingStatus;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::{Booking, local_time};
use atelier_domain::money::{Currency, Money};
use atelier_notifications::{Notice, deliver};
use atelier_platform::Platform;
use atelier_platform::events::Event;
use atelier_platform::outbox::{self, OutboxEntry};
use atelier_platform::store::{Store, StoreError, WriteOp};
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
            fee_minor: None,
            currency: b.currency.clone(),
            deposit_minor: b.deposit_minor,
            points: None,
            hold_until: b.timers.hold_until.filter(|_| b.status == BookingStatus::Pending),
            reason: None,
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

/// Turns booking events into in-app notices.
pub struct BookingNotices {
    store: Store,
}

impl BookingNotices {
    /// Notices into the store's inboxes.
    pub fn new(store: Store) -> Arc<BookingNotices> {
        Arc::new(BookingNotices { store })
    }
}

/// Who hears about an event, and what.
fn notices(kind: &str, e: &BookingEvent) -> Vec<Notice> {
    let when = format!("{} with {} on {}", e.service_name, e.professional_name, e.start_local);
    let fee = e
        .fee_minor
        .filter(|f| *f > 0)
        .map(|f| format!(" A fee of {} applies.", Money::new(f, e.currency.clone())));
    let client = |topic: &str, title: &str, body: String| {
        e.client_user_id.clone().map(|user_id| Notice {
            user_id,
            topic: topic.to_owned(),
            title: title.to_owned(),
            body,
        })
    };
    let staff = |topic: &str, title: &str, body: String| {
        Some(Notice {
            user_id: e.professional_id.clone(),
            topic: topic.to_owned(),
            title: title.to_owned(),
            body,
        })
    };
    let mut out = match kind {
        CREATED if e.status == BookingStatus::Pending => vec![
            client(
                "booking_held",
                "Booking held",
                format!(
                    "{when} is held for you until {}; it is confirmed once the deposit of {} is paid.",
                    e.hold_until.map(|t| local_time(t, &e.time_zone)).unwrap_or_default(),
                    Money::new(e.deposit_minor, e.currency.clone())
                ),
            ),
            staff("booking_created", "New booking", format!("{} booked {when}.", e.client_name)),
        ],
        CREATED => vec![
            client("booking_confirmed", "Booking confirmed", format!("{when} is booked.")),
            staff("booking_created", "New booking", format!("{} booked {when}.", e.client_name)),
        ],
        CONFIRMED => vec![client("booking_confirmed", "Booking confirmed", format!("{when} is confirmed."))],
        RESCHEDULED => {
            let from = e.previous_start_local.clone().unwrap_or_default();
            vec![
                client(
                    "booking_rescheduled",
                    "Booking moved",
                    format!("Your booking on {from} moved: {when}."),
                ),
                staff(
                    "booking_rescheduled",
                    "Booking moved",
                    format!("{}'s booking on {from} moved: {when}.", e.client_name),
                ),
            ]
        }
        CANCELLED => vec![
            client(
                "booking_cancelled",
                "Booking cancelled",
                format!("{when} is cancelled.{}", fee.clone().unwrap_or_default()),
            ),
            staff(
                "booking_cancelled",
                "Booking cancelled",
                format!("{}'s booking, {when}, is cancelled.", e.client_name),
            ),
        ],
        COMPLETED => vec![client(
            "booking_completed",
            "Thank you for your visit",
            match e.points.filter(|p| *p > 0) {
                Some(p) => format!("{when} is complete. You earned {p} loyalty points."),
                None => format!("{when} is complete."),
            },
        )],
        NO_SHOW => vec![client(
            "booking_no_show",
            "Missed appointment",
            format!(
                "You missed {when}.{}{}",
                fee.unwrap_or_default(),
                e.points
                    .filter(|p| *p < 0)
                    .map(|p| format!(" {} loyalty points were deducted.", -p))
                    .unwrap_or_default()
            ),
        )],
        REMINDER_DUE => {
            vec![client("booking_reminder", "Appointment reminder", format!("See you soon: {when}."))]
        }
        WAITLIST_OFFERED => vec![client(
            "waitlist_offer",
            "A slot opened up",
            format!(
                "{when} is free and held for you until {}. Confirm it to book.",
                e.hold_until.map(|t| local_time(t, &e.time_zone)).unwrap_or_default()
            ),
        )],
        _ => Vec::new(),
    };
    let mut seen = Vec::new();
    out.retain(|n| {
        n.as_ref().is_some_and(|n| {
            !seen.contains(&n.user_id) && {
                seen.push(n.user_id.clone());
                true
            }
        })
    });
    out.into_iter().flatten().collect()
}

#[async_trait]
impl EventHandler for BookingNotices {
    async fn handle(&self, event: &Event) -> Result<(), HandlerError> {
        let malformed = |e: serde_json::Error| HandlerError::failed(format!("malformed {}", event.kind), e);
        let list: Vec<Notice> = if event.kind == SERIES_CREATED {
            let series: SeriesEvent = serde_json::from_value(event.payload.clone()).map_err(malformed)?;
            let Some(first) = series.bookings.first() else { return Ok(()) };
            let n = series.bookings.len();
            let dates: Vec<&str> = series.bookings.iter().map(|b| b.start_local.as_str()).collect();
            let body = format!(
                "{n} appointments for {} with {}: {}.",
                first.service_name,
                first.professional_name,
                dates.join(", ")
            );
            [first.client_user_id.clone(), Some(first.professional_id.clone())]
                .into_iter()
                .flatten()
                .map(|user_id| Notice {
                    user_id,
                    topic: "booking_series".into(),
                    title: "Series booked".into(),
                    body: body.clone(),
                })
                .collect()
        } else {
            let payload: BookingEvent = serde_json::from_value(event.payload.clone()).map_err(malformed)?;
            notices(&event.kind, &payload)
        };
        for notice in list {
            deliver(&self.store, &event.id, event.occurred_at, notice).await?;
        }
        Ok(())
    }
}
