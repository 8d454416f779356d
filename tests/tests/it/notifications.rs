//! The inbox API: a user's notices newest first, an exact unread count under redelivery and
//! concurrent clicks, read, read-all and archive; nobody else's notices.

use atelier_notifications::Notice;
use atelier_tests::{Account, TestApp};
use http::Method;
use serde_json::{Value, json};

use crate::bookings::{salon, send};

async fn inbox(app: &TestApp, who: &Account, query: &str) -> Vec<Value> {
    let response = send(app, Method::GET, &format!("/v1/me/notifications{query}"), who, None).await;
    assert_eq!(response.status, 200, "{:?}", response.json());
    response.json()["items"].as_array().expect("items").clone()
}

async fn unread(app: &TestApp, who: &Account) -> i64 {
    let response = send(app, Method::GET, "/v1/me/notifications/unread-count", who, None).await;
    assert_eq!(response.status, 200, "{:?}", response.json());
    response.json()["unread"].as_i64().expect("count")
}

/// Delivers a notice to `who` as the worker does, under `event_id`.
async fn deliver(app: &TestApp, who: &Account, event_id: &str, title: &str) {
    let notice = Notice {
        user_id: who.user_id.as_str().into(),
        topic: "test".into(),
        title: title.into(),
        body: format!("{title}, in full"),
    };
    atelier_notifications::deliver(&app.platform.store, event_id, app.clock_now(), notice)
        .await
        .expect("delivered");
}

async fn a_booking_lands_in_the_inbox(app: TestApp) {
    let s = salon(&app, "inbox").await;
    let client = app.register("ana@inbox.example").await;
    s.book_ok(&app, &client, "2026-06-02T10:00:00+01:00").await;
    app.run_workers().await;
    let notices = inbox(&app, &client, "").await;
    assert!(!notices.is_empty(), "the booking's notice reached the inbox");
    assert!(notices.iter().all(|n| n["read"] == false && n["archived"] == false), "{notices:?}");
    assert_eq!(unread(&app, &client).await, notices.len() as i64);
    // Nothing internal shows: a view, not the stored record.
    for key in ["pk", "sk", "ttl", "user_id"] {
        assert!(notices[0].get(key).is_none(), "{key} leaked: {}", notices[0]);
    }
    app.request(Method::GET, "/v1/me/notifications").send().await.assert_problem(401, "unauthenticated");
}

async fn the_count_is_exact_under_redelivery_and_clicks(app: TestApp) {
    let ana = app.register("ana@count.example").await;
    let bia = app.register("bia@count.example").await;
    // SQS may deliver a message five times: one entry, counted once.
    for _ in 0..5 {
        deliver(&app, &ana, "01J00000000000000000000001", "First").await;
    }
    deliver(&app, &ana, "01J00000000000000000000002", "Second").await;
    deliver(&app, &ana, "01J00000000000000000000003", "Third").await;
    assert_eq!(unread(&app, &ana).await, 3);
    let titles: Vec<Value> = inbox(&app, &ana, "").await.iter().map(|n| n["title"].clone()).collect();
    assert_eq!(titles, [json!("Third"), json!("Second"), json!("First")], "newest first");

    // Ten clicks at once on one notice: read once, counted off once.
    let clicks: Vec<_> = (0..10)
        .map(|_| {
            tokio::spawn(send(
                &app,
                Method::POST,
                "/v1/me/notifications/01J00000000000000000000001/read",
                &ana,
                None,
            ))
        })
        .collect();
    for click in clicks {
        let response = click.await.expect("task");
        assert_eq!(response.status, 200, "{:?}", response.json());
        assert_eq!(response.json()["read"], true);
    }
    assert_eq!(unread(&app, &ana).await, 2);
    assert_eq!(inbox(&app, &ana, "?status=unread").await.len(), 2);
    assert_eq!(inbox(&app, &ana, "?status=read").await.len(), 1);

    // Someone else's notice is not there for them.
    send(&app, Method::POST, "/v1/me/notifications/01J00000000000000000000002/read", &bia, None)
        .await
        .assert_problem(404, "not-found");
    assert_eq!(unread(&app, &bia).await, 0);
    assert_eq!(unread(&app, &ana).await, 2, "untouched by the other user");

    // Archiving an unread notice counts it off and moves it to the archive.
    let archived =
        send(&app, Method::POST, "/v1/me/notifications/01J00000000000000000000002/archive", &ana, None).await;
    assert_eq!(archived.status, 200);
    assert_eq!(
        (archived.json()["archived"].clone(), archived.json()["read"].clone()),
        (json!(true), json!(true))
    );
    assert_eq!(unread(&app, &ana).await, 1);
    assert_eq!(inbox(&app, &ana, "").await.len(), 2);
    let archive = inbox(&app, &ana, "?archived=true").await;
    assert_eq!(archive.len(), 1);
    assert_eq!(archive[0]["title"], "Second");
    // Archiving a read one changes no count; archiving twice neither.
    for _ in 0..2 {
        let again =
            send(&app, Method::POST, "/v1/me/notifications/01J00000000000000000000001/archive", &ana, None)
                .await;
        assert_eq!(again.status, 200);
    }
    assert_eq!(unread(&app, &ana).await, 1);

    // Read-all of 31 unread notices.
    for i in 0..30 {
        deliver(&app, &ana, &format!("01J000000000000000000001{i:02}"), "Bulk").await;
    }
    assert_eq!(unread(&app, &ana).await, 31);
    let marked = send(&app, Method::POST, "/v1/me/notifications/read-all", &ana, None).await;
    assert_eq!(marked.status, 200);
    assert_eq!(marked.json(), json!({ "marked": 31, "more": false }));
    assert_eq!(unread(&app, &ana).await, 0);
    assert!(inbox(&app, &ana, "?status=unread").await.is_empty());

    // Bad input.
    send(&app, Method::GET, "/v1/me/notifications?status=unseen", &ana, None)
        .await
        .assert_problem(400, "invalid-query");
    send(&app, Method::POST, "/v1/me/notifications/nope/read", &ana, None)
        .await
        .assert_problem(404, "not-found");
}

/// Deliveries racing "read all" and single reads: whatever interleaving, the count ends equal
/// to the unread notices listed.
async fn the_count_matches_the_list_under_races(app: TestApp) {
    let ana = app.register("ana@race.example").await;
    for i in 0..10 {
        deliver(&app, &ana, &format!("01J0000000000000000000A0{i:02}"), "Before").await;
    }
    let mut tasks = Vec::new();
    for i in 0..10 {
        let store = app.platform.store.clone();
        let at = app.clock_now();
        let notice = Notice {
            user_id: ana.user_id.as_str().into(),
            topic: "test".into(),
            title: "During".into(),
            body: String::new(),
        };
        let id = format!("01J0000000000000000000B0{i:02}");
        tasks.push(tokio::spawn(async move {
            atelier_notifications::deliver(&store, &id, at, notice).await.map_err(|e| e.to_string())
        }));
    }
    let read_all = tokio::spawn(send(&app, Method::POST, "/v1/me/notifications/read-all", &ana, None));
    let reads: Vec<_> = (0..5)
        .map(|i| {
            let uri = format!("/v1/me/notifications/01J0000000000000000000A0{i:02}/read");
            tokio::spawn(send(&app, Method::POST, &uri, &ana, None))
        })
        .collect();
    for task in tasks {
        task.await.expect("task").expect("delivered");
    }
    assert_eq!(read_all.await.expect("task").status, 200);
    for read in reads {
        assert_eq!(read.await.expect("task").status, 200);
    }
    let listed = inbox(&app, &ana, "?status=unread&limit=100").await.len() as i64;
    assert_eq!(unread(&app, &ana).await, listed, "the count is the unread notices listed");
    assert_eq!(inbox(&app, &ana, "?limit=100").await.len(), 20, "every notice is there once");
}

atelier_tests::on_both_backends!(
    a_booking_lands_in_the_inbox,
    the_count_is_exact_under_redelivery_and_clicks,
    the_count_matches_the_list_under_races,
);
