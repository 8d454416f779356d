//! Which events become live changes, and what a change says: pure, so what a subscriber is
//! told is decided in one place and tested without a store.

use atelier_domain::identity::Role;
use atelier_domain::ids::{StudioId, UserId};
use atelier_platform::events::Event;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// The event kinds that are pushed live. Booking kinds go to the studio's staff and to the
/// client whose booking it is; payments and stock only to staff.
pub const KINDS: [&str; 13] = [
    "booking.created",
    "booking.series_created",
    "booking.confirmed",
    "booking.rescheduled",
    "booking.cancelled",
    "booking.completed",
    "booking.no_show",
    "waitlist.offered",
    "payment.succeeded",
    "payment.failed",
    "payment.refunded",
    "stock.low",
    "stock.shortfall",
];

/// One change as subscribers receive it: enough to know what to refetch, nothing more.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// Where this change sits in the feeds (a ULID taken when it was pushed, so a late push
    /// still sorts after what a client saw before it): send the last one back in a `since`
    /// message after reconnecting.
    pub cursor: String,
    /// The event kind (`booking.created`).
    pub event: String,
    /// What changed: `booking`, `payment` or `product`.
    pub entity: String,
    /// The studio.
    pub studio_id: StudioId,
    /// The ids of what changed (a series names each of its bookings).
    pub ids: Vec<String>,
    /// The status after the change, when the entity has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// The entity's version after the change, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
    /// When it happened.
    pub at: Timestamp,
}

/// Who a change goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Audience {
    /// The studio whose staff are told.
    pub studio_id: StudioId,
    /// The least role a staff member needs to be told (payments: managers).
    pub staff_role: Role,
    /// The professional whose agenda a booking is on: a professional is told only of their
    /// own agenda, as the API shows them only theirs.
    pub professional_id: Option<UserId>,
    /// The clients (accounts) whose own booking it is.
    pub clients: Vec<UserId>,
}

impl Audience {
    /// Whether a member with `role` (`None`: a platform admin) and id `user` is told.
    pub fn tells(&self, role: Option<Role>, user: &UserId) -> bool {
        match role {
            None => true,
            Some(Role::Professional) if self.staff_role == Role::Professional => {
                self.professional_id.as_ref().is_none_or(|p| p == user)
            }
            Some(role) => role.includes(self.staff_role),
        }
    }
}

/// Whether events of this kind are pushed at all.
pub fn is_pushed(event: &Event) -> bool {
    KINDS.contains(&event.kind.as_str())
}

fn text(value: &serde_json::Value, field: &str) -> Option<String> {
    value.get(field).and_then(serde_json::Value::as_str).map(str::to_owned)
}

/// The change an event makes, under `cursor` (its place in the feeds), and who is told; `None`
/// for events that are not pushed (or whose payload lacks what a change needs: nothing is
/// guessed).
pub fn of_event(event: &Event, cursor: String) -> Option<(Change, Audience)> {
    if !is_pushed(event) {
        return None;
    }
    let studio_id = StudioId::new(event.studio_id.as_deref()?);
    let payload = &event.payload;
    let mut clients = Vec::new();
    let mut professional_id = None;
    let (entity, ids, status, version, staff_role) = match event.kind.split('.').next()? {
        "booking" | "waitlist" => {
            let bookings: Vec<&serde_json::Value> = match payload.get("bookings") {
                Some(serde_json::Value::Array(list)) => list.iter().collect(),
                _ => vec![payload],
            };
            let mut ids = Vec::new();
            for booking in &bookings {
                ids.push(text(booking, "booking_id")?);
                if let Some(user) = text(booking, "client_user_id").map(UserId::new)
                    && !clients.contains(&user)
                {
                    clients.push(user);
                }
            }
            // A series is one professional's; a change without one is told to no professional.
            professional_id = Some(UserId::new(text(bookings.first()?, "professional_id")?));
            let single = (bookings.len() == 1).then(|| bookings[0]);
            let status = single.and_then(|b| text(b, "status"));
            let version = single.and_then(|b| b.get("version")).and_then(serde_json::Value::as_i64);
            ("booking", ids, status, version.filter(|v| *v > 0), Role::Professional)
        }
        "payment" => {
            let mut ids = vec![text(payload, "payment_id")?];
            ids.extend(text(payload, "booking_id"));
            ("payment", ids, None, None, Role::Manager)
        }
        "stock" => ("product", vec![text(payload, "product_id")?], None, None, Role::Professional),
        _ => return None,
    };
    let change = Change {
        cursor,
        event: event.kind.clone(),
        entity: entity.to_owned(),
        studio_id: studio_id.clone(),
        ids,
        status,
        version,
        at: event.occurred_at,
    };
    Some((change, Audience { studio_id, staff_role, professional_id, clients }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(kind: &str, payload: serde_json::Value) -> Event {
        Event {
            id: "01EVENT".into(),
            kind: kind.into(),
            studio_id: Some("st1".into()),
            occurred_at: Timestamp::from_millisecond(1_700_000_000_000).expect("valid"),
            trace: None,
            payload,
        }
    }

    #[test]
    fn a_booking_change_names_the_booking_and_its_client_and_nothing_personal() {
        let payload = json!({
            "booking_id": "b1", "status": "confirmed", "version": 3, "client_user_id": "u9",
            "client_name": "Ana Lima", "client_id": "c1", "service_name": "Cut", "start": "2026-01-01T10:00:00Z",
            "professional_id": "p1",
        });
        let (change, audience) =
            of_event(&event("booking.confirmed", payload), "01CURSOR".into()).expect("pushed");
        assert_eq!(change.ids, vec!["b1".to_owned()]);
        assert_eq!((change.status.as_deref(), change.version), (Some("confirmed"), Some(3)));
        assert_eq!(audience.clients, vec![UserId::new("u9")]);
        assert_eq!(audience.staff_role, Role::Professional);
        let sent = serde_json::to_string(&change).expect("serializes");
        for personal in ["Ana", "c1", "Cut", "u9"] {
            assert!(!sent.contains(personal), "{personal} leaked into {sent}");
        }
        assert_eq!(change.cursor, "01CURSOR");
        assert!(audience.tells(Some(Role::Professional), &UserId::new("p1")), "their own agenda");
        assert!(!audience.tells(Some(Role::Professional), &UserId::new("p2")), "not a colleague's");
        assert!(
            audience.tells(Some(Role::Manager), &UserId::new("m"))
                && audience.tells(None, &UserId::new("admin"))
        );
    }

    #[test]
    fn a_series_names_every_booking_and_payments_go_to_managers_only() {
        let series = json!({"series_id": "s", "bookings": [
            {"booking_id": "b1", "status": "pending", "client_user_id": "u1", "professional_id": "p1"},
            {"booking_id": "b2", "status": "pending", "client_user_id": "u1", "professional_id": "p1"}]});
        let (change, audience) =
            of_event(&event("booking.series_created", series), "c".into()).expect("pushed");
        assert_eq!(change.ids, vec!["b1".to_owned(), "b2".to_owned()]);
        assert_eq!((change.status, audience.clients.len()), (None, 1));
        let (payment, audience) = of_event(
            &event("payment.succeeded", json!({"payment_id": "p1", "booking_id": "b1"})),
            "c".into(),
        )
        .expect("pushed");
        assert_eq!((payment.entity.as_str(), audience.staff_role), ("payment", Role::Manager));
        assert!(!audience.tells(Some(Role::Professional), &UserId::new("p1")), "payments: managers");
        assert!(audience.clients.is_empty(), "payments are not pushed to clients");
    }

    #[test]
    fn other_events_and_incomplete_payloads_are_not_pushed() {
        assert!(of_event(&event("booking.reminder_due", json!({"booking_id": "b1"})), "c".into()).is_none());
        assert!(of_event(&event("booking.created", json!({"status": "pending"})), "c".into()).is_none());
        let mut without_studio = event("stock.low", json!({"product_id": "p"}));
        without_studio.studio_id = None;
        assert!(of_event(&without_studio, "c".into()).is_none());
        let (_, stock) =
            of_event(&event("stock.low", json!({"product_id": "p"})), "c".into()).expect("pushed");
        assert!(stock.tells(Some(Role::Professional), &UserId::new("anyone")), "stock: all staff");
    }
}
