//! What each export holds: the store query it reads page by page, and its columns, picked from
//! the stored records by name (internal attributes never become columns).

use atelier_domain::ids::StudioId;
use atelier_platform::store::{Index, Item, Query, SortKey};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::cells::Cell;

/// The data an export holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Dataset {
    /// Bookings starting in the period.
    Bookings,
    /// Every client (the period is not used).
    Clients,
    /// Payments created in the period.
    Payments,
    /// Every product with its stock now (the period is not used).
    Products,
    /// Stock movements recorded in the period.
    StockMovements,
    /// Every project (the period is not used).
    Projects,
    /// The studio's audit trail in the period.
    Audit,
}

impl Dataset {
    /// The name in file names and notices.
    pub fn as_str(self) -> &'static str {
        match self {
            Dataset::Bookings => "bookings",
            Dataset::Clients => "clients",
            Dataset::Payments => "payments",
            Dataset::Products => "products",
            Dataset::StockMovements => "stock_movements",
            Dataset::Projects => "projects",
            Dataset::Audit => "audit",
        }
    }
}

/// How a column's value is read from the record.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Text,
    /// An RFC 3339 instant, written in the studio's zone with its offset.
    Instant,
    /// Minor units; the currency is the record's `currency`.
    Money,
    Int,
    Bool,
    /// A list of text, joined with `; `.
    List,
    /// Any JSON, written as compact JSON text.
    Json,
}

/// One column: its header, the record field it shows, how.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    /// Header.
    pub header: &'static str,
    field: &'static str,
    kind: Kind,
}

const fn col(header: &'static str, field: &'static str, kind: Kind) -> Column {
    Column { header, field, kind }
}

const BOOKINGS: &[Column] = &[
    col("id", "id", Kind::Text),
    col("status", "status", Kind::Text),
    col("start", "start", Kind::Instant),
    col("end", "end", Kind::Instant),
    col("service", "service_name", Kind::Text),
    col("professional", "professional_name", Kind::Text),
    col("client_id", "client_id", Kind::Text),
    col("client", "client_name", Kind::Text),
    col("price", "price_minor", Kind::Money),
    col("deposit", "deposit_minor", Kind::Money),
    col("currency", "currency", Kind::Text),
    col("notes", "notes", Kind::Text),
    col("created_at", "created_at", Kind::Instant),
];

const CLIENTS: &[Column] = &[
    col("id", "id", Kind::Text),
    col("name", "name", Kind::Text),
    col("email", "email", Kind::Text),
    col("phone", "phone", Kind::Text),
    col("tags", "tags", Kind::List),
    col("marketing_consent", "marketing_consent", Kind::Bool),
    col("notes", "notes", Kind::Text),
    col("created_at", "created_at", Kind::Instant),
];

const PAYMENTS: &[Column] = &[
    col("id", "id", Kind::Text),
    col("booking_id", "booking_id", Kind::Text),
    col("client_id", "client_id", Kind::Text),
    col("purpose", "purpose", Kind::Text),
    col("method", "method", Kind::Text),
    col("status", "status", Kind::Text),
    col("amount", "amount_minor", Kind::Money),
    col("received", "received_minor", Kind::Money),
    col("refunded", "refunded_minor", Kind::Money),
    col("currency", "currency", Kind::Text),
    col("reference", "reference", Kind::Text),
    col("created_at", "created_at", Kind::Instant),
    col("succeeded_at", "succeeded_at", Kind::Instant),
];

const PRODUCTS: &[Column] = &[
    col("id", "id", Kind::Text),
    col("title", "title", Kind::Text),
    col("sku", "sku", Kind::Text),
    col("serial_number", "serial_number", Kind::Text),
    col("unit", "unit", Kind::Text),
    col("quantity", "quantity", Kind::Int),
    col("minimum_quantity", "minimum_quantity", Kind::Int),
    col("cost_price", "cost_price_minor", Kind::Money),
    col("sell_price", "sell_price_minor", Kind::Money),
    col("value", "value_minor", Kind::Money),
    col("currency", "currency", Kind::Text),
    col("active", "active", Kind::Bool),
];

const STOCK_MOVEMENTS: &[Column] = &[
    col("id", "id", Kind::Text),
    col("at", "at", Kind::Instant),
    col("product_id", "product_id", Kind::Text),
    col("product", "product_title", Kind::Text),
    col("kind", "kind", Kind::Text),
    col("reason", "reason", Kind::Text),
    col("quantity", "quantity", Kind::Int),
    col("quantity_after", "quantity_after", Kind::Int),
    col("value_change", "value_delta_minor", Kind::Money),
    col("value_after", "value_after_minor", Kind::Money),
    col("currency", "currency", Kind::Text),
    col("reference", "reference", Kind::Text),
    col("note", "note", Kind::Text),
    col("booking_id", "booking_id", Kind::Text),
];

const PROJECTS: &[Column] = &[
    col("id", "id", Kind::Text),
    col("title", "title", Kind::Text),
    col("client", "client_name", Kind::Text),
    col("status", "status", Kind::Text),
    col("start_date", "start_date", Kind::Text),
    col("deadline", "deadline", Kind::Text),
    col("budget", "budget_minor", Kind::Money),
    col("currency", "currency", Kind::Text),
    col("tags", "tags", Kind::List),
    col("created_at", "created_at", Kind::Instant),
];

const AUDIT: &[Column] = &[
    col("id", "id", Kind::Text),
    col("at", "at", Kind::Instant),
    col("actor", "actor", Kind::Text),
    col("action", "action", Kind::Text),
    col("entity", "entity", Kind::Text),
    col("entity_id", "entity_id", Kind::Text),
    col("ip", "ip", Kind::Text),
    col("user_agent", "user_agent", Kind::Text),
    col("changes", "changes", Kind::Json),
];

/// The period an export reads, as UTC instants (the studio's local days' bounds).
#[derive(Debug, Clone, Copy)]
pub struct Span {
    /// Start of the first day.
    pub from: Timestamp,
    /// Start of the day after the last.
    pub until: Timestamp,
}

impl Dataset {
    /// Its columns, in order.
    pub fn columns(self) -> &'static [Column] {
        match self {
            Dataset::Bookings => BOOKINGS,
            Dataset::Clients => CLIENTS,
            Dataset::Payments => PAYMENTS,
            Dataset::Products => PRODUCTS,
            Dataset::StockMovements => STOCK_MOVEMENTS,
            Dataset::Projects => PROJECTS,
            Dataset::Audit => AUDIT,
        }
    }

    /// Whether the period chooses its rows.
    pub fn uses_period(self) -> bool {
        matches!(self, Dataset::Bookings | Dataset::Payments | Dataset::StockMovements | Dataset::Audit)
    }

    /// The query its rows come from, in a stable order (pages continue by cursor).
    pub fn query(self, studio: &StudioId, span: Span) -> Query {
        let sortable = atelier_bookings::sort_instant;
        let between = |a: String, b: String| SortKey::Between(a, format!("{b}~"));
        let times = between(sortable(span.from), sortable(span.until - jiff::SignedDuration::from_millis(1)));
        match self {
            Dataset::Bookings => {
                Query::partition(atelier_bookings::studio_bookings(studio)).on(Index::Gsi1).sort(times)
            }
            Dataset::Clients => Query::partition(atelier_studios::studio_partition(studio))
                .sort(SortKey::BeginsWith("CLIENT#".into())),
            Dataset::Payments => {
                Query::partition(format!("STUDIO#{studio}#PAYMENTS")).on(Index::Gsi1).sort(times)
            }
            Dataset::Products => Query::partition(format!("STUDIO#{studio}#PRODUCTS")).on(Index::Gsi1),
            Dataset::StockMovements => {
                Query::partition(atelier_inventory::movements::movements_partition(studio)).sort(times)
            }
            Dataset::Projects => {
                Query::partition(atelier_projects::projects_partition(studio)).on(Index::Gsi1)
            }
            Dataset::Audit => {
                let audit = |t: Timestamp| t.strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string();
                Query::partition(format!("STUDIO#{studio}#AUDIT"))
                    .on(Index::Gsi1)
                    .sort(between(audit(span.from), audit(span.until - jiff::SignedDuration::from_micros(1))))
            }
        }
    }

    /// Whether an item the query returned is one of its records (a client's partition also
    /// holds its search entries' neighbours).
    pub fn keeps(self, item: &Item) -> bool {
        match self {
            Dataset::Clients => item.key().is_some_and(|k| k.sk.matches('#').count() == 1),
            _ => true,
        }
    }
}

/// Digits after the point of a currency code.
fn digits(code: &str) -> u8 {
    atelier_domain::money::Currency::parse(code, "currency").map_or(2, |c| c.minor_units())
}

/// The row of a record.
pub fn row(columns: &[Column], record: &Value, zone: &TimeZone) -> Vec<Cell> {
    let currency = record.get("currency").and_then(Value::as_str).unwrap_or_default();
    columns
        .iter()
        .map(|c| {
            let value = record.get(c.field).unwrap_or(&Value::Null);
            match (c.kind, value) {
                (_, Value::Null) => Cell::Empty,
                (Kind::Text, Value::String(s)) => Cell::Text(s.clone()),
                (Kind::Text, other) => Cell::Text(other.to_string()),
                (Kind::Instant, Value::String(s)) => match s.parse::<Timestamp>() {
                    Ok(t) => Cell::Text(
                        t.to_zoned_datetime(zone.clone()).strftime("%Y-%m-%dT%H:%M:%S%:z").to_string(),
                    ),
                    Err(_) => Cell::Text(s.clone()),
                },
                (Kind::Money, v) => {
                    v.as_i64().map_or(Cell::Empty, |minor| Cell::Decimal { minor, digits: digits(currency) })
                }
                (Kind::Int, v) => v.as_i64().map_or(Cell::Empty, Cell::Int),
                (Kind::Bool, Value::Bool(b)) => Cell::Bool(*b),
                (Kind::List, Value::Array(items)) => Cell::Text(
                    items
                        .iter()
                        .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_owned))
                        .collect::<Vec<_>>()
                        .join("; "),
                ),
                (Kind::Json, v) => Cell::Text(v.to_string()),
                (_, other) => Cell::Text(other.to_string()),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rows_show_money_as_numbers_and_times_in_the_studio_zone() {
        let zone = TimeZone::get("Europe/Lisbon").expect("zone");
        let record = json!({ "id": "b1", "status": "completed", "start": "2026-06-02T09:00:00Z",
            "price_minor": 4000, "deposit_minor": 0, "currency": "EUR", "notes": "=HYPERLINK(\"x\")",
            "pk": "STUDIO#s", "client_name": "Ana" });
        let cells = row(Dataset::Bookings.columns(), &record, &zone);
        let text: Vec<String> = cells.iter().map(|c| c.csv_text().into_owned()).collect();
        assert_eq!(text[2], "2026-06-02T10:00:00+01:00");
        assert_eq!(text[8], "40.00");
        assert_eq!(text[10], "EUR");
        assert_eq!(text[11], "'=HYPERLINK(\"x\")");
        assert_eq!(text[3], "", "absent fields are empty");
        let jpy =
            row(Dataset::Products.columns(), &json!({ "cost_price_minor": 1200, "currency": "JPY" }), &zone);
        assert_eq!(jpy[7].csv_text(), "1200");
    }
}
