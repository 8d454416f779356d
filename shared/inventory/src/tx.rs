//! The labels of an inventory transaction's writes, and what each failed condition means.

use atelier_platform::AppError;
use atelier_platform::error::CHANGED_MEANWHILE;

use crate::conflicts::{SERIAL_TAKEN, SKU_TAKEN};

/// What a write in an inventory transaction stands for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Part {
    /// A product's stock, guarded by the version read (another movement won: read again).
    Stock,
    /// A product's definition, guarded by its version.
    Product,
    /// The SKU's uniqueness item.
    Sku,
    /// The serial number's uniqueness item.
    Serial,
    /// A check that a referenced catalogue entry exists.
    Reference(&'static str),
    /// The idempotency record (a concurrent retry with the same key won).
    Idempotency,
    /// The marker of a booking's consumption (already recorded).
    Consumed,
    /// A caller's create-only marker (an import row already applied).
    Guard,
    /// Anything whose condition cannot fail in practice.
    #[default]
    Other,
}

/// An inventory transaction.
pub type Tx = atelier_platform::tx::Tx<Part>;
/// Why an inventory transaction did not commit.
pub type Failure = atelier_platform::tx::Failure<Part>;

impl atelier_platform::tx::Label for Part {
    fn conflict(&self) -> AppError {
        match self {
            Part::Sku => AppError::Conflict(SKU_TAKEN, "another product of the studio has this SKU".into()),
            Part::Serial => AppError::Conflict(
                SERIAL_TAKEN,
                "another product of the studio has this serial number".into(),
            ),
            Part::Reference(what) => AppError::Unprocessable(
                crate::conflicts::UNKNOWN_REFERENCE,
                format!("the studio has no such {what}"),
            ),
            Part::Stock | Part::Product => {
                AppError::Conflict(CHANGED_MEANWHILE, "the product changed meanwhile; read it again".into())
            }
            Part::Idempotency | Part::Consumed | Part::Guard | Part::Other => {
                AppError::Conflict(CHANGED_MEANWHILE, "a concurrent request changed this; try again".into())
            }
        }
    }
}
