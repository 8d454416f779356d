//! One id type per entity, so a client id cannot be passed where a service id is expected.
//! Ids are opaque text (ULIDs when Atelier makes them); on the wire and in the store they are
//! plain strings, and the OpenAPI document shows them as such.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The longest id accepted anywhere (ids are ULIDs, 26 bytes, or a date and a ULID).
pub const MAX_ID_BYTES: usize = 128;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl<'de> Deserialize<'de> for $name {
            /// Text of at most [`MAX_ID_BYTES`]: longer would not fit in a store key, and no id
            /// Atelier hands out comes near it.
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<$name, D::Error> {
                let id = String::deserialize(deserializer)?;
                if id.len() > MAX_ID_BYTES {
                    return Err(serde::de::Error::custom(format!("an id is at most {MAX_ID_BYTES} bytes")));
                }
                Ok($name(id))
            }
        }

        impl $name {
            /// The id with this text.
            pub fn new(id: impl Into<String>) -> $name {
                $name(id.into())
            }

            /// The text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::ops::Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<String> for $name {
            fn from(id: String) -> $name {
                $name(id)
            }
        }

        impl<T: AsRef<str> + ?Sized> From<&T> for $name {
            fn from(id: &T) -> $name {
                $name(id.as_ref().to_owned())
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                &self.0 == other
            }
        }

        impl PartialEq<$name> for String {
            fn eq(&self, other: &$name) -> bool {
                *self == other.0
            }
        }

        impl PartialEq<$name> for str {
            fn eq(&self, other: &$name) -> bool {
                self == other.0
            }
        }

        impl PartialEq<$name> for &str {
            fn eq(&self, other: &$name) -> bool {
                *self == other.0
            }
        }

        impl PartialEq<&$name> for $name {
            fn eq(&self, other: &&$name) -> bool {
                self.0 == other.0
            }
        }
    };
}

id_type!(
    /// A studio.
    StudioId
);
id_type!(
    /// A user account (clients, professionals, owners alike).
    UserId
);
id_type!(
    /// A studio's client record (not an account: walk-ins have none).
    ClientId
);
id_type!(
    /// A service of a studio's catalog.
    ServiceId
);
id_type!(
    /// A resource (chair, room) of a studio.
    ResourceId
);
id_type!(
    /// A booking.
    BookingId
);
id_type!(
    /// A waitlist entry.
    WaitlistEntryId
);
id_type!(
    /// An invitation to join a studio's team.
    InvitationId
);
id_type!(
    /// A notice in a user's inbox (the id of the event that carried it).
    NotificationId
);
id_type!(
    /// An exception to a professional's weekly availability (time off, extra hours).
    ExceptionId
);
id_type!(
    /// A studio's webhook endpoint.
    WebhookEndpointId
);
id_type!(
    /// A webhook message (its `webhook-id`, the same on every attempt and replay).
    WebhookMessageId
);
id_type!(
    /// A payment: money asked for or received for a booking (deposit, balance, fee).
    PaymentId
);
id_type!(
    /// A refund of (part of) a payment.
    RefundId
);
id_type!(
    /// A product a studio stocks (a dye, a needle cartridge, a retail shampoo).
    ProductId
);
id_type!(
    /// A product category of a studio's inventory.
    CategoryId
);
id_type!(
    /// A brand of products.
    BrandId
);
id_type!(
    /// A brand's product model.
    ProductModelId
);
id_type!(
    /// A supplier a studio buys from.
    SupplierId
);
id_type!(
    /// A stock movement (inflow, outflow, count).
    MovementId
);
id_type!(
    /// A sale of retail products to a client.
    SaleId
);
id_type!(
    /// A project: a production for a client beyond single appointments.
    ProjectId
);
id_type!(
    /// A line item of a project.
    ProjectItemId
);
id_type!(
    /// An expense of a project.
    ExpenseId
);
id_type!(
    /// An export job: a studio's data written to a file.
    ExportId
);
id_type!(
    /// An import job: clients or products read from a file.
    ImportId
);
id_type!(
    /// An API key of a studio, for an integration (its secret is never stored).
    ApiKeyId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_plain_strings_on_the_wire_and_distinct_types_in_code() {
        let studio = StudioId::new("01STUDIO");
        assert_eq!(serde_json::to_string(&studio).expect("json"), "\"01STUDIO\"");
        let back: StudioId = serde_json::from_str("\"01STUDIO\"").expect("json");
        assert_eq!(back, studio);
        assert_eq!(studio, "01STUDIO");
        assert_eq!(format!("STUDIO#{studio}"), "STUDIO#01STUDIO");
        assert_eq!(studio.len(), 8, "reads as the text it holds");
    }
}
