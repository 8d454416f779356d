//! API keys end to end, on both adapters: an owner creates a key with scopes and sees its
//! secret once; the key reads and writes only where its scopes reach, acts as the audit trail's
//! `key:<id>`, is rate limited per key, stops at once when revoked or expired; bad requests
//! create nothing; concurrent revocations revoke once.

use atelier_tests::{Account, TestApp};
use http::Method;
use serde_json::{Value, json};

use crate::bookings::{path, salon, send};

fn key_account(secret: &str) -> Account {
    Account {
        user_id: String::new(),
        email: String::new(),
        access: secret.to_owned(),
        refresh: String::new(),
    }
}

async fn create_key(app: &TestApp, studio: &str, owner: &Account, body: Value) -> Value {
    let created = send(app, Method::POST, &path(studio, "/api-keys"), owner, Some(body)).await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    created.json()
}

async fn audit_actions(app: &TestApp, studio: &str, owner: &Account, actor: &str) -> Vec<String> {
    let mut actions = Vec::new();
    let mut cursor = String::new();
    loop {
        let page =
            send(app, Method::GET, &path(studio, &format!("/audit?limit=100{cursor}")), owner, None).await;
        assert_eq!(page.status, 200, "{:?}", page.body);
        let page = page.json();
        for event in page["items"].as_array().expect("items") {
            if event["actor"] == actor {
                actions.push(event["action"].as_str().expect("action").to_owned());
            }
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => return actions,
        }
    }
}

async fn an_integration_works_within_its_scopes(app: TestApp) {
    let s = salon(&app, "keys-a").await;
    let client =
        send(&app, Method::POST, &path(&s.studio, "/clients"), &s.owner, Some(json!({ "name": "Walk In" })))
            .await;
    let client_id = client.json()["id"].as_str().expect("id").to_owned();

    let reader = create_key(
        &app,
        &s.studio,
        &s.owner,
        json!({ "name": "Agenda widget", "scopes": ["bookings:read"] }),
    )
    .await;
    let secret = reader["secret"].as_str().expect("secret").to_owned();
    assert!(secret.starts_with("atk_") && secret.len() > 40, "{secret}");
    assert!(secret.starts_with(reader["key"]["prefix"].as_str().expect("prefix")));
    let listed = send(&app, Method::GET, &path(&s.studio, "/api-keys"), &s.owner, None).await;
    assert_eq!(listed.status, 200);
    assert!(!String::from_utf8_lossy(&listed.body).contains(&secret), "the secret is shown once only");
    assert_eq!(listed.json()["items"][0]["status"], "active");
    // Owners only.
    send(&app, Method::GET, &path(&s.studio, "/api-keys"), &s.pro, None)
        .await
        .assert_problem(403, "role-required");

    let reader = key_account(&secret);
    let agenda =
        send(&app, Method::GET, &path(&s.studio, "/bookings?from=2026-06-01&to=2026-06-30"), &reader, None)
            .await;
    assert_eq!(agenda.status, 200, "{:?}", agenda.body);
    let booking = json!({ "service_id": s.cut, "professional_id": s.pro.user_id, "client_id": client_id, "start": "2026-06-02T10:00:00+01:00" });
    send(&app, Method::POST, &path(&s.studio, "/bookings"), &reader, Some(booking.clone()))
        .await
        .assert_problem(403, "api-key-scope");
    send(&app, Method::GET, &path(&s.studio, "/members"), &reader, None)
        .await
        .assert_problem(403, "api-key-scope");
    send(&app, Method::GET, "/v1/me", &reader, None).await.assert_problem(403, "api-key-scope");
    send(&app, Method::GET, &path(&s.studio, "/api-keys"), &reader, None)
        .await
        .assert_problem(403, "api-key-scope");

    // A writer books for one of the studio's clients, as `key:<id>` in the audit trail.
    let writer = create_key(
        &app,
        &s.studio,
        &s.owner,
        json!({ "name": "Zapier", "scopes": ["bookings:write", "clients:read"] }),
    )
    .await;
    let writer_id = writer["key"]["id"].as_str().expect("id").to_owned();
    let writer = key_account(writer["secret"].as_str().expect("secret"));
    let made = send(&app, Method::POST, &path(&s.studio, "/bookings"), &writer, Some(booking)).await;
    assert_eq!(made.status, 201, "{:?}", made.body);
    let for_nobody = json!({ "service_id": s.cut, "professional_id": s.pro.user_id, "start": "2026-06-03T10:00:00+01:00" });
    let refused =
        send(&app, Method::POST, &path(&s.studio, "/bookings"), &writer, Some(for_nobody.clone())).await;
    assert_eq!(refused.assert_problem(422, "validation-failed")["errors"][0]["field"], "client_id");
    let actions = audit_actions(&app, &s.studio, &s.owner, &format!("key:{writer_id}")).await;
    assert!(actions.contains(&"bookings.created".to_owned()), "{actions:?}");
    assert_eq!(actions.iter().filter(|a| *a == "api_key.used").count(), 2, "{actions:?}");

    // Revoked: refused at once; revoking again changes nothing.
    let revoked =
        send(&app, Method::DELETE, &path(&s.studio, &format!("/api-keys/{writer_id}")), &s.owner, None).await;
    assert_eq!((revoked.status.as_u16(), revoked.json()["status"].as_str()), (200, Some("revoked")));
    send(&app, Method::GET, &path(&s.studio, "/bookings"), &writer, None)
        .await
        .assert_problem(401, "unauthenticated");
    let again =
        send(&app, Method::DELETE, &path(&s.studio, &format!("/api-keys/{writer_id}")), &s.owner, None).await;
    assert_eq!(again.json()["revoked_at"], revoked.json()["revoked_at"]);

    // Expired: the same.
    let soon = (app.clock_now() + jiff::SignedDuration::from_hours(1)).to_string();
    let brief = create_key(
        &app,
        &s.studio,
        &s.owner,
        json!({ "name": "Trial", "scopes": ["catalog:read"], "expires_at": soon }),
    )
    .await;
    let brief = key_account(brief["secret"].as_str().expect("secret"));
    assert_eq!(send(&app, Method::GET, &path(&s.studio, "/services"), &brief, None).await.status, 200);
    app.clock.advance(jiff::SignedDuration::from_hours(2));
    send(&app, Method::GET, &path(&s.studio, "/services"), &brief, None)
        .await
        .assert_problem(401, "unauthenticated");
    let owner = app.sign_in_again(&s.owner).await;
    let statuses: Vec<Value> =
        send(&app, Method::GET, &path(&s.studio, "/api-keys"), &owner, None).await.json()["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|k| k["status"].clone())
            .collect();
    assert_eq!(statuses, [json!("active"), json!("revoked"), json!("expired")]);

    // Rate limited per key (40 a minute in the tests' settings).
    let mut limited = None;
    for n in 0..45 {
        let response = send(&app, Method::GET, &path(&s.studio, "/bookings"), &reader, None).await;
        if response.status == 429 {
            limited = Some(n);
            break;
        }
    }
    assert_eq!(limited, Some(40), "the 41st request in a minute is refused");
}

async fn bad_keys_are_refused_and_create_nothing(app: TestApp) {
    let s = salon(&app, "keys-b").await;
    for (body, slug) in [
        (json!({ "name": "x", "scopes": [] }), "validation-failed"),
        (json!({ "name": "", "scopes": ["bookings:read"] }), "validation-failed"),
        (json!({ "name": "x", "scopes": ["bookings:delete"] }), "invalid-body"),
        (
            json!({ "name": "x", "scopes": ["bookings:read"], "expires_at": "2020-01-01T00:00:00Z" }),
            "validation-failed",
        ),
        (json!({ "name": "x", "scopes": ["bookings:read"], "secret": "mine" }), "invalid-body"),
    ] {
        send(&app, Method::POST, &path(&s.studio, "/api-keys"), &s.owner, Some(body.clone()))
            .await
            .assert_problem(422, slug);
    }
    let listed = send(&app, Method::GET, &path(&s.studio, "/api-keys"), &s.owner, None).await;
    assert_eq!(listed.json()["items"], json!([]));
    for secret in ["atk_", "atk_nonsense", "atk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"] {
        send(&app, Method::GET, &path(&s.studio, "/bookings"), &key_account(secret), None)
            .await
            .assert_problem(401, "unauthenticated");
    }
    let missing =
        send(&app, Method::GET, &path(&s.studio, "/api-keys/01JNOSUCHKEY00000000000000"), &s.owner, None)
            .await;
    missing.assert_problem(404, "not-found");
}

async fn concurrent_revocations_revoke_once(app: TestApp) {
    let s = salon(&app, "keys-c").await;
    let key =
        create_key(&app, &s.studio, &s.owner, json!({ "name": "Raced", "scopes": ["bookings:read"] })).await;
    let id = key["key"]["id"].as_str().expect("id").to_owned();
    let user = key_account(key["secret"].as_str().expect("secret"));
    let revoke = path(&s.studio, &format!("/api-keys/{id}"));
    let uses = path(&s.studio, "/bookings");
    let revokes = (0..6).map(|_| send(&app, Method::DELETE, &revoke, &s.owner, None));
    let reads = (0..6).map(|_| send(&app, Method::GET, &uses, &user, None));
    let (revoked, read) =
        tokio::join!(futures_util::future::join_all(revokes), futures_util::future::join_all(reads));
    assert!(
        revoked.iter().all(|r| r.status == 200),
        "{:?}",
        revoked.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    let at: std::collections::HashSet<String> =
        revoked.iter().map(|r| r.json()["revoked_at"].to_string()).collect();
    assert_eq!(at.len(), 1, "one revocation, whatever answered: {at:?}");
    assert!(read.iter().all(|r| r.status == 200 || r.status == 401), "a use either ran before or is refused");
    send(&app, Method::GET, &uses, &user, None).await.assert_problem(401, "unauthenticated");
    let owner_actions = audit_actions(&app, &s.studio, &s.owner, &s.owner.user_id).await;
    assert_eq!(owner_actions.iter().filter(|a| *a == "api_key.revoked").count(), 1, "{owner_actions:?}");
}

atelier_tests::on_both_backends!(
    an_integration_works_within_its_scopes,
    bad_keys_are_refused_and_create_nothing,
    concurrent_revocations_revoke_once,
);
