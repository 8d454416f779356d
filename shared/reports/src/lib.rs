//! Reports: what a studio's numbers came to over a period, read from the daily tallies and
//! counters the capabilities keep in the same transactions as their changes (bookings'
//! `DAY#<date>#BOOKINGS`, payments' `DAY#<date>#MONEY#<cur>`, inventory's `DAY#<date>#STOCK`,
//! projects' `MONTH#`), so a month is one query over about 31 × 3 small items. Owns the
//! dashboard, the per professional, service and client reports, the platform report for
//! admins, the rebuild that recomputes the tallies from the bookings, exports of a studio's data
//! to CSV and XLSX, and imports of clients and products from CSV.

pub mod breakdown;
pub mod dashboard;
pub mod exports;
pub mod imports;
pub mod period;
pub mod platform_report;
pub mod rebuild;
pub mod routes;
pub mod tallies;
