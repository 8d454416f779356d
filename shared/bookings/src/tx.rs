//! The labels of a booking transaction's writes, and the conflict each failed condition means.

use atelier_platform::AppError;

use crate::occupancy::Owner;

/// What a write in a booking transaction stands for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Part {
    /// The idempotency record.
    Idempotency,
    /// The link creating a client record for an account.
    ClientLink,
    /// The booking itself (occurrence index in a series).
    Booking(usize),
    /// Counters of an owner claimed for occurrence `.0`.
    Cells(usize, Owner),
    /// A check that something read is still so.
    Check(&'static str),
    /// Anything whose condition cannot fail in practice.
    #[default]
    Other,
}

/// A booking transaction.
pub type Tx = atelier_platform::tx::Tx<Part>;
/// Why a booking transaction did not commit.
pub type Failure = atelier_platform::tx::Failure<Part>;

impl atelier_platform::tx::Label for Part {
    fn conflict(&self) -> AppError {
        conflict(self)
    }
}

/// The 409 for a failed part.
pub fn conflict(part: &Part) -> AppError {
    use crate::conflicts::{BOOKING_CHANGED, RESOURCE_TAKEN, SLOT_TAKEN};
    use atelier_platform::error::CHANGED_MEANWHILE;
    match part {
        Part::Cells(_, Owner::Professional(_)) => {
            AppError::Conflict(SLOT_TAKEN, "the professional is already booked then".into())
        }
        Part::Cells(_, Owner::Pool(kind)) => {
            AppError::Conflict(RESOURCE_TAKEN, format!("no {kind} is free then"))
        }
        Part::Booking(_) => {
            AppError::Conflict(BOOKING_CHANGED, "the booking changed meanwhile; read it again".into())
        }
        Part::Check(what) => {
            AppError::Conflict(CHANGED_MEANWHILE, format!("{what} changed meanwhile; try again"))
        }
        Part::Idempotency | Part::ClientLink | Part::Other => {
            AppError::Conflict(CHANGED_MEANWHILE, "a concurrent request changed this; try again".into())
        }
    }
}
