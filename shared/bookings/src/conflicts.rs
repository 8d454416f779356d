//! The reasons a booking request is refused or conflicts with the current state, each its own
//! problem type.

use atelier_platform::error::Reason;

/// 403: a client asked for what only the studio does (confirm a deposit booking, waive a fee).
pub const STAFF_ONLY: Reason = Reason { slug: "staff-only", title: "Only the studio can do this" };
/// 403: a professional acting on another professional's agenda.
pub const OWN_AGENDA_ONLY: Reason =
    Reason { slug: "own-agenda-only", title: "Professionals act on their own agenda only" };
/// 422: a series whose writes do not fit in one transaction.
pub const SERIES_TOO_LARGE: Reason = Reason { slug: "series-too-large", title: "Series too large" };
/// 409: the professional is booked then (at capacity).
pub const SLOT_TAKEN: Reason = Reason { slug: "slot-taken", title: "The professional is booked then" };
/// 409: no resource of the type the service needs is free then.
pub const RESOURCE_TAKEN: Reason = Reason { slug: "resource-taken", title: "No resource free then" };
/// 409: an "any professional" request found nobody free at any offered time.
pub const NO_PROFESSIONAL_FREE: Reason =
    Reason { slug: "no-professional-free", title: "No professional free then" };
/// 409: the studio is deactivated.
pub const NOT_TAKING_BOOKINGS: Reason =
    Reason { slug: "studio-not-taking-bookings", title: "The studio is not taking bookings" };
/// 409: the booking's hold (deposit, review, waitlist offer) ran out.
pub const HOLD_EXPIRED: Reason = Reason { slug: "hold-expired", title: "The hold has expired" };
/// 409: the change makes no sense in the booking's status (complete a cancelled booking, say).
pub const INVALID_TRANSITION: Reason =
    Reason { slug: "invalid-transition", title: "Not possible in the booking's status" };
/// 409: the booking changed since it was read.
pub const BOOKING_CHANGED: Reason =
    Reason { slug: "booking-changed", title: "The booking changed meanwhile" };
/// 409: the client waits for this service already.
pub const ALREADY_ON_WAITLIST: Reason =
    Reason { slug: "already-on-waitlist", title: "Already on the waitlist" };
/// 409: the waitlist entry is not waiting (offered, booked, expired or left).
pub const ENTRY_NOT_WAITING: Reason = Reason { slug: "entry-not-waiting", title: "The entry is not waiting" };
/// 409: the client does not have the points.
pub const INSUFFICIENT_BALANCE: Reason =
    Reason { slug: "insufficient-balance", title: "Not enough loyalty points" };
