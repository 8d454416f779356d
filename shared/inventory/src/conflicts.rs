//! Why an inventory request is refused: each reason is its own problem type (docs/api.md).

use atelier_platform::error::Reason;

/// 409: an outflow (or sale) of more than is on hand.
pub const INSUFFICIENT_STOCK: Reason = Reason { slug: "insufficient-stock", title: "Not enough stock" };
/// 409: another product of the studio has this SKU.
pub const SKU_TAKEN: Reason = Reason { slug: "sku-taken", title: "The SKU is taken" };
/// 409: another product of the studio has this serial number.
pub const SERIAL_TAKEN: Reason = Reason { slug: "serial-number-taken", title: "The serial number is taken" };
/// 409: movements on an inactive product other than counts and inflows.
pub const PRODUCT_INACTIVE: Reason = Reason { slug: "product-inactive", title: "The product is inactive" };
/// 422: a reference to a category, brand, model or supplier the studio does not have.
pub const UNKNOWN_REFERENCE: Reason =
    Reason { slug: "unknown-reference", title: "A referenced catalogue entry does not exist" };
/// 422: the stock or its value would exceed the documented maximum.
pub const STOCK_LIMIT: Reason = Reason { slug: "stock-limit", title: "The stock would exceed its maximum" };
