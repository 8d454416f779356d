//! Black-box tests, one binary: every module's bodies run on the embedded adapters and on the
//! AWS adapters (DynamoDB Local and moto, started by `./infra/test`).

mod access;
mod api_keys;
mod auth;
mod blobs;
mod bookings;
mod cost;
mod crash;
mod demo;
mod exports;
mod http_platform;
mod imports;
mod inventory;
mod notifications;
mod observability;
mod oidc;
mod outbox;
mod payments;
mod problems;
mod projects;
mod queue;
mod realtime;
mod reports;
mod robustness;
mod store;
mod studios;
mod template;
mod webhooks;
