//! Problem types machines can tell apart: the refusal and conflict table of `docs/api.md` held
//! against the reasons the crates declare and against the tests that assert them; and, on both
//! adapters, the refusals and conflicts no other module provokes.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use atelier_platform::store::{Fault, Key, UpdateAction, WriteOp};
use atelier_tests::TestApp;
use http::Method;
use jiff::SignedDuration;
use serde_json::json;

use crate::bookings::{path, salon, send, service};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root").to_owned()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("readable dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every quoted string that follows `marker` in `text`.
fn quoted_after(text: &str, marker: &str) -> BTreeSet<String> {
    text.match_indices(marker)
        .filter_map(|(i, _)| {
            let rest = &text[i + marker.len()..];
            let start = rest.find('"')? + 1;
            let end = start + rest[start..].find('"')?;
            Some(rest[start..end].to_owned())
        })
        .collect()
}

#[test]
fn every_refusal_and_conflict_reason_is_documented_declared_and_asserted() {
    let root = workspace();
    let api = std::fs::read_to_string(root.join("docs/api.md")).expect("docs/api.md");
    let table = api.split("Each refusal and conflict has its own type").nth(1).expect("the reasons table");
    let table = table.split("\n## ").next().unwrap_or(table);
    let documented: BTreeSet<String> = table
        .lines()
        .filter(|l| {
            ["| 402 | `", "| 403 | `", "| 409 | `", "| 410 | `", "| 422 | `", "| 503 | `"]
                .iter()
                .any(|p| l.starts_with(p))
        })
        .filter_map(|l| l.split('`').nth(1).map(str::to_owned))
        .collect();

    let mut sources = Vec::new();
    rust_files(&root.join("shared"), &mut sources);
    let declared: BTreeSet<String> = sources
        .iter()
        .flat_map(|p| quoted_after(&std::fs::read_to_string(p).expect("source"), "Reason { slug: "))
        .collect();

    let mut tests = Vec::new();
    rust_files(&root.join("tests/tests/it"), &mut tests);
    let asserted: BTreeSet<String> = tests
        .iter()
        .flat_map(|p| {
            let text = std::fs::read_to_string(p).expect("test");
            [
                "assert_problem(402, ",
                "assert_problem(403, ",
                "assert_problem(409, ",
                "assert_problem(410, ",
                "assert_problem(422, ",
                "assert_problem(503, ",
            ]
            .iter()
            .flat_map(|marker| quoted_after(&text, marker))
            .collect::<Vec<_>>()
        })
        .collect();

    assert!(declared.len() >= 20, "the scan found the reasons: {declared:?}");
    assert_eq!(documented, declared, "docs/api.md lists exactly the reasons the code declares");
    let unasserted: Vec<_> = documented.difference(&asserted).collect();
    assert!(unasserted.is_empty(), "no test asserts these problem types: {unasserted:?}");
    for generic in ["conflict", "forbidden", "unprocessable"] {
        assert!(!asserted.contains(generic), "no generic `{generic}` type is left");
    }
}

/// The store's own limits reach the caller as `too-large`, through the same edge as every
/// other failure (no route can exceed them today: bodies are capped far below 400 KB, and a
/// series is refused before it reaches the store).
#[tokio::test]
async fn store_limits_are_too_large() {
    use atelier_platform::store::StoreError;
    async fn over_the_limit() -> Result<(), atelier_http::problem::ApiError> {
        Err(atelier_platform::AppError::from(StoreError::TooManyActions(101)).into())
    }
    let router = atelier_http::with_layers(
        axum::Router::new().route("/v1/over", axum::routing::post(over_the_limit)),
        &atelier_http::HttpConfig::default(),
        atelier_http::middleware::Observed::default(),
    );
    atelier_tests::TestRequest::new_for(router, Method::POST, "/v1/over")
        .send()
        .await
        .assert_problem(422, "too-large");
}

async fn a_patch_must_be_an_object(app: TestApp) {
    let owner = app.register("owner@patch.example").await;
    let studio = app.create_studio(&owner, "patch").await;
    // Any body must be an object (serde would read a struct from an array of its fields).
    let problem = send(&app, Method::PATCH, &path(&studio, ""), &owner, Some(json!(["not", "an", "object"])))
        .await
        .assert_problem(422, "invalid-body");
    assert!(problem["detail"].as_str().is_some_and(|d| d.contains("must be a JSON object")), "{problem}");
    // Every key of a patch is a field: `null` for a field that does not exist removes nothing,
    // so it would otherwise pass unnoticed.
    let problem = send(&app, Method::PATCH, &path(&studio, ""), &owner, Some(json!({ "nmae": null })))
        .await
        .assert_problem(422, "validation-failed");
    assert_eq!(problem["errors"][0]["field"], "nmae");
}

async fn a_concurrent_change_is_changed_meanwhile_or_booking_changed(app: TestApp) {
    let s = salon(&app, "racing").await;
    // The studio's profile is bumped by "someone else" between the read and the write of a
    // PATCH sent without If-Match.
    let profile = Key::new(format!("STUDIO#{}", s.studio), "PROFILE");
    app.faults
        .inject([Fault::Interleave(WriteOp::update(profile, vec![UpdateAction::Add("version".into(), 1)]))]);
    send(&app, Method::PATCH, &path(&s.studio, ""), &s.owner, Some(json!({ "description": "New" })))
        .await
        .assert_problem(409, "changed-meanwhile");

    let client = app.register("ana@racing.example").await;
    let booked = s.book_ok(&app, &client, "2026-06-02T10:00:00+01:00").await;
    let id = booked["id"].as_str().expect("id").to_owned();
    let booking = Key::new(format!("STUDIO#{}", s.studio), format!("BOOKING#{id}"));
    app.faults
        .inject([Fault::Interleave(WriteOp::update(booking, vec![UpdateAction::Add("version".into(), 1)]))]);
    let cancel = send(&app, Method::POST, &path(&s.studio, &format!("/bookings/{id}/cancel")), &client, None);
    cancel.await.assert_problem(409, "booking-changed");
    let after = send(&app, Method::GET, &path(&s.studio, &format!("/bookings/{id}")), &s.owner, None).await;
    assert_eq!(after.json()["status"], "confirmed", "nothing was written");
}

async fn a_taken_room_is_resource_taken(app: TestApp) {
    let s = salon(&app, "rooms").await;
    let tattooist = app.join(&s.studio, &s.owner, "ink@rooms.example", "professional").await;
    app.make_professional(&s.studio, &s.owner, &tattooist).await;
    crate::bookings::every_day(&app, &s.studio, &s.owner, &tattooist.user_id, "09:00", "18:00").await;
    let room = json!({ "name": "Room", "resource_type": "room" });
    assert_eq!(
        send(&app, Method::POST, &path(&s.studio, "/resources"), &s.owner, Some(room)).await.status,
        201
    );
    let facial = service(&app, &s.studio, &s.owner, json!({ "name": "Facial", "category": "skin", "duration_minutes": 60, "price_minor": 5000, "professional_ids": [s.pro.user_id], "resource_type": "room" })).await;
    let tattoo = service(&app, &s.studio, &s.owner, json!({ "name": "Tattoo", "category": "ink", "duration_minutes": 120, "price_minor": 9000, "professional_ids": [tattooist.user_id], "resource_type": "room" })).await;
    let client = app.register("ana@rooms.example").await;
    let first = json!({ "service_id": facial, "professional_id": s.pro.user_id, "start": "2026-06-03T10:00:00+01:00" });
    assert_eq!(
        send(&app, Method::POST, &path(&s.studio, "/bookings"), &client, Some(first)).await.status,
        201
    );
    let second = json!({ "service_id": tattoo, "professional_id": tattooist.user_id, "start": "2026-06-03T09:30:00+01:00" });
    send(&app, Method::POST, &path(&s.studio, "/bookings"), &client, Some(second))
        .await
        .assert_problem(409, "resource-taken");
}

async fn a_deactivated_studio_takes_no_bookings(app: TestApp) {
    let s = salon(&app, "closed").await;
    let client = app.register("ana@closed.example").await;
    assert_eq!(
        app.request(Method::POST, &path(&s.studio, "/deactivate"))
            .bearer(&s.owner.access)
            .send()
            .await
            .status,
        200
    );
    s.book(&app, &s.owner, "2026-06-02T10:00:00+01:00")
        .await
        .assert_problem(409, "studio-not-taking-bookings");
    s.book(&app, &client, "2026-06-02T10:00:00+01:00").await.assert_problem(404, "not-found");
}

async fn invitations_expire_and_members_cannot_join_twice(app: TestApp) {
    let owner = app.register("owner@invites.example").await;
    let studio = app.create_studio(&owner, "invites").await;
    let invite = |email: &str| {
        send(
            &app,
            Method::POST,
            &path(&studio, "/invitations"),
            &owner,
            Some(json!({ "email": email, "role": "professional" })),
        )
    };
    let late = invite("late@invites.example").await;
    assert_eq!(late.status, 201, "{:?}", late.body);
    let late_id = late.json()["id"].as_str().expect("id").to_owned();
    let member = app.join(&studio, &owner, "rita@invites.example", "professional").await;
    let again = invite("rita@invites.example").await;
    assert_eq!(again.status, 201, "{:?}", again.body);
    let again_id = again.json()["id"].as_str().expect("id").to_owned();
    send(&app, Method::POST, &path(&studio, &format!("/invitations/{again_id}/accept")), &member, None)
        .await
        .assert_problem(409, "already-member");

    app.clock.advance(SignedDuration::from_hours(7 * 24 + 1));
    let latecomer = app.register("late@invites.example").await;
    send(&app, Method::POST, &path(&studio, &format!("/invitations/{late_id}/accept")), &latecomer, None)
        .await
        .assert_problem(409, "invitation-expired");
}

async fn only_a_waiting_entry_can_leave(app: TestApp) {
    let s = salon(&app, "leaving").await;
    let client = app.register("ana@leaving.example").await;
    let joined = send(
        &app,
        Method::POST,
        &path(&s.studio, "/waitlist"),
        &client,
        Some(json!({ "service_id": s.cut, "from": "2026-06-01", "to": "2026-06-05" })),
    )
    .await;
    assert_eq!(joined.status, 201, "{:?}", joined.body);
    let entry = joined.json()["id"].as_str().expect("id").to_owned();
    let leave = || send(&app, Method::DELETE, &path(&s.studio, &format!("/waitlist/{entry}")), &client, None);
    assert_eq!(leave().await.status, 200);
    leave().await.assert_problem(409, "entry-not-waiting");
}

atelier_tests::on_both_backends!(
    a_concurrent_change_is_changed_meanwhile_or_booking_changed,
    a_taken_room_is_resource_taken,
    a_deactivated_studio_takes_no_bookings,
    invitations_expire_and_members_cannot_join_twice,
    only_a_waiting_entry_can_leave,
    a_patch_must_be_an_object,
);
