//! Why a project request is refused: each reason is its own problem type (docs/api.md).

use atelier_platform::error::Reason;

/// 409: a status change that makes no sense (delivering a draft, reopening a closed project).
pub const PROJECT_TRANSITION: Reason =
    Reason { slug: "invalid-project-transition", title: "The project cannot move to that status" };
/// 409: a change to a closed or cancelled project.
pub const PROJECT_FINISHED: Reason =
    Reason { slug: "project-finished", title: "The project is closed or cancelled" };
/// 422: a client, service, booking or supplier the studio does not have.
pub const UNKNOWN_PROJECT_REFERENCE: Reason =
    Reason { slug: "unknown-project-reference", title: "A referenced record does not exist in the studio" };
/// 409: more items, crew or expenses than a project holds.
pub const PROJECT_FULL: Reason = Reason { slug: "project-full", title: "The project holds no more of these" };
/// 409: a booking already linked to a line of a project.
pub const BOOKING_LINKED: Reason =
    Reason { slug: "booking-already-linked", title: "The booking is already a line of a project" };
