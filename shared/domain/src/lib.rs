//! Atelier's domain: types and rules with no I/O. Everything here is pure and unit-tested.

pub mod availability;
pub mod bookings;
pub mod calendar;
pub mod catalog;
pub mod clients;
pub mod identity;
pub mod ids;
pub mod inventory;
pub mod language;
pub mod money;
pub mod payments;
pub mod policies;
pub mod projects;
pub mod scheduling;
pub mod studios;
pub mod time;
pub mod validation;

pub use validation::{FieldError, Invalid};
