//! Atelier's domain: types and rules with no I/O. Everything here is pure and unit-tested.

pub mod availability;
pub mod catalog;
pub mod clients;
pub mod identity;
pub mod money;
pub mod scheduling;
pub mod policies;
pub mod studios;
pub mod validation;

pub use validation::{FieldError, Invalid};
