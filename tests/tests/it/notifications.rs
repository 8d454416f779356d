//! The inbox API: a user's notices newest first, an exact unread count under redelivery and
//! concurrent clicks, read, read-all and archive; nobody else's notices.

use atelier_notifications::templates::Rendered;
use atelier_notifications::{Notice, Recipient, Topic};
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
    let user_id = who.user_id.as_str().into();
    atelier_notifications::deliver_in_app(
        &app.platform.store,
        event_id,
        app.clock_now(),
        &user_id,
        Topic::PasswordChanged,
        &text(title),
    )
    .await
    .expect("delivered");
}

fn text(title: &str) -> Rendered {
    Rendered { subject: title.into(), text: format!("{title}, in full"), html: String::new() }
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
        let user_id = ana.user_id.as_str().into();
        let id = format!("01J0000000000000000000B0{i:02}");
        tasks.push(tokio::spawn(async move {
            atelier_notifications::deliver_in_app(
                &store,
                &id,
                at,
                &user_id,
                Topic::PasswordChanged,
                &text("During"),
            )
            .await
            .map_err(|e| e.to_string())
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

/// A notice of `topic` to an address only (no account), for driving the dispatcher directly.
fn notice_to(email: Option<&str>, phone: Option<&str>) -> Notice {
    let to = Recipient {
        name: "Ana".into(),
        email: email.map(str::to_owned),
        phone: phone.map(str::to_owned),
        ..Recipient::default()
    };
    Notice::new(Topic::PasswordChanged, to)
}

/// A phone number no other run of the suite uses (moto keeps what it was sent while it runs).
fn unique_phone() -> String {
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    format!("+3519{:08}", nanos % 100_000_000)
}

async fn a_booking_is_emailed_in_each_recipients_language(app: TestApp) {
    let slug = atelier_tests::unique_name("mail");
    let s = salon(&app, &slug).await;
    let ana = format!("ana@{slug}.example");
    let client = app.register(&ana).await;
    let patched = send(&app, Method::PATCH, "/v1/me", &client, Some(json!({ "language": "pt-BR" }))).await;
    assert_eq!(patched.status, 200, "{:?}", patched.json());
    assert_eq!(patched.json()["language"], "pt-BR");
    s.book_ok(&app, &client, "2026-06-02T10:00:00+01:00").await;
    app.run_workers().await;
    let mails = app.emails_to(&ana).await;
    assert_eq!(mails.len(), 1, "one confirmation: {mails:?}");
    assert_eq!(mails[0].subject, "Agendamento confirmado");
    // In the studio's zone (Lisbon, summer time) with its offset, in Portuguese.
    assert!(mails[0].body.contains("Cut com"), "{}", mails[0].body);
    assert!(mails[0].body.contains("ter 02/06/2026, 10:00 (UTC+01:00)"), "{}", mails[0].body);
    // The professional reads the studio's language (English).
    let rita = app.emails_to(&s.pro.email).await;
    let new_booking: Vec<_> = rita.iter().filter(|m| m.subject == "New booking").collect();
    assert_eq!(new_booking.len(), 1, "{rita:?}");
    assert!(new_booking[0].body.contains("Tue 2 Jun 2026, 10:00 (UTC+01:00)"), "{}", new_booking[0].body);
    // The inbox has the same words.
    let notices = inbox(&app, &client, "").await;
    assert!(notices.iter().any(|n| n["title"] == "Agendamento confirmado"), "{notices:?}");
    // The invitation that made Rita a member was emailed to her address too.
    assert!(rita.iter().any(|m| m.subject == format!("You are invited to Studio {slug}")), "{rita:?}");
}

async fn each_channel_sends_once_however_often_the_event_comes(app: TestApp) {
    let address = format!("{}@once.example", atelier_tests::unique_name("dup"));
    let phone = unique_phone();
    let event_id = ulid::Ulid::generate().to_string();
    let quiet = format!("{}@once.example", atelier_tests::unique_name("quiet"));
    let quiet_phone = unique_phone();
    // A recipient who chose SMS too, and one with only the defaults (SMS off).
    let ana = app.register(&format!("{}@once.example", atelier_tests::unique_name("ana"))).await;
    let prefs = json!({ "topics": { "password_changed": { "sms": true } } });
    assert_eq!(
        send(&app, Method::PUT, "/v1/me/notification-preferences", &ana, Some(prefs)).await.status,
        200
    );
    let mut notice = notice_to(Some(&address), Some(&phone));
    notice.to.user_id = Some(ana.user_id.as_str().into());
    let defaults_only = notice_to(Some(&quiet), Some(&quiet_phone));
    atelier_notifications::delivery::dispatch(&app.platform, &event_id, app.clock_now(), &defaults_only)
        .await
        .expect("defaults");
    assert_eq!(app.emails_to(&quiet).await.len(), 1);
    assert!(app.sms_to(&quiet_phone).await.is_empty(), "SMS is off unless chosen");
    // Five concurrent deliveries of one event, then five more in a row.
    let mut runs = Vec::new();
    for _ in 0..5 {
        let platform = app.platform.clone();
        let notice = notice.clone();
        let event_id = event_id.clone();
        runs.push(tokio::spawn(async move {
            atelier_notifications::delivery::dispatch(
                &platform,
                &event_id,
                jiff::Timestamp::UNIX_EPOCH,
                &notice,
            )
            .await
            .map_err(|e| e.to_string())
        }));
    }
    let mut busy = 0;
    for run in runs {
        // A delivery that finds another one sending fails, to be retried by the queue.
        if run.await.expect("task").is_err() {
            busy += 1;
        }
    }
    assert!(busy < 5, "one delivery sent it");
    for _ in 0..5 {
        atelier_notifications::delivery::dispatch(&app.platform, &event_id, app.clock_now(), &notice)
            .await
            .expect("redelivery");
    }
    assert_eq!(app.emails_to(&address).await.len(), 1, "one email");
    assert_eq!(app.sms_to(&phone).await.len(), 1, "one SMS");
    assert_eq!(inbox(&app, &ana, "").await.len(), 1, "one inbox entry");
}

async fn sms_goes_out_when_chosen_and_a_bad_number_is_not_retried(app: TestApp) {
    let slug = atelier_tests::unique_name("sms");
    let s = salon(&app, &slug).await;
    let ana = format!("ana@{slug}.example");
    let client = app.register(&ana).await;
    let phone = unique_phone();
    let patched = send(&app, Method::PATCH, "/v1/me", &client, Some(json!({ "phone": phone }))).await;
    assert_eq!(patched.status, 200);
    let prefs = json!({ "topics": { "booking_confirmed": { "sms": true, "email": false } } });
    let put = send(&app, Method::PUT, "/v1/me/notification-preferences", &client, Some(prefs.clone())).await;
    assert_eq!(put.status, 200, "{:?}", put.json());
    let got = send(&app, Method::GET, "/v1/me/notification-preferences", &client, None).await;
    assert_eq!(got.json(), prefs);
    s.book_ok(&app, &client, "2026-06-02T10:00:00+01:00").await;
    app.run_workers().await;
    let texts = app.sms_to(&phone).await;
    assert_eq!(texts.len(), 1, "{texts:?}");
    assert!(texts[0].body.starts_with("Booking confirmed: Cut with"), "{}", texts[0].body);
    assert!(app.emails_to(&ana).await.is_empty(), "email turned off for this topic");
    // A number the provider can never reach: recorded as failed, not an error to retry.
    let bad = notice_to(None, Some("+12"));
    let mut to_sms_only = bad.clone();
    to_sms_only.to.user_id = Some(client.user_id.as_str().into());
    let prefs = json!({ "topics": { "password_changed": { "sms": true } } });
    assert_eq!(
        send(&app, Method::PUT, "/v1/me/notification-preferences", &client, Some(prefs)).await.status,
        200
    );
    for _ in 0..2 {
        atelier_notifications::delivery::dispatch(
            &app.platform,
            "01JBADNUMBER00000000000001",
            app.clock_now(),
            &to_sms_only,
        )
        .await
        .expect("a permanent failure is recorded, not retried");
    }
    let marker = app
        .platform
        .store
        .get(&atelier_notifications::delivery::sent_key(
            "01JBADNUMBER00000000000001",
            atelier_notifications::Channel::Sms,
            "+12",
        ))
        .await
        .expect("read")
        .expect("the failed send is recorded");
    assert_eq!(marker.string("outcome").expect("outcome"), "failed");
    assert!(app.sms_to("+12").await.is_empty());
}

async fn preferences_keep_a_channel_for_transactional_notices(app: TestApp) {
    let ana = app.register("ana@prefs.example").await;
    let off = json!({ "topics": { "booking_cancelled": { "in_app": false, "email": false } } });
    send(&app, Method::PUT, "/v1/me/notification-preferences", &ana, Some(off))
        .await
        .assert_problem(422, "transactional-notice");
    let unknown = json!({ "topics": { "marketing_blast": { "email": false } } });
    send(&app, Method::PUT, "/v1/me/notification-preferences", &ana, Some(unknown))
        .await
        .assert_problem(422, "invalid-body");
    let stored = send(&app, Method::GET, "/v1/me/notification-preferences", &ana, None).await;
    assert_eq!(stored.json(), json!({ "topics": {} }), "nothing was stored");
    // A non-transactional topic may be silenced entirely.
    let quiet = json!({ "topics": { "booking_completed": { "in_app": false, "email": false } } });
    assert_eq!(
        send(&app, Method::PUT, "/v1/me/notification-preferences", &ana, Some(quiet)).await.status,
        200
    );
}

async fn studio_templates_are_checked_and_used(app: TestApp) {
    let slug = atelier_tests::unique_name("tpl");
    let s = salon(&app, &slug).await;
    let uri = format!("/v1/studios/{}/notification-templates/booking_confirmed/en", s.studio);
    let broken = json!({ "subject": "Booked", "body": "Line one\n{% if fee %}never closed" });
    let problem =
        send(&app, Method::PUT, &uri, &s.owner, Some(broken)).await.assert_problem(422, "validation-failed");
    assert_eq!(problem["errors"][0]["field"], "body", "{problem}");
    assert!(problem["errors"][0]["message"].as_str().expect("message").contains("line"), "{problem}");
    let unknown = json!({ "subject": "{{ card_number }}", "body": "{{ start }}" });
    let problem =
        send(&app, Method::PUT, &uri, &s.owner, Some(unknown)).await.assert_problem(422, "validation-failed");
    assert_eq!(problem["errors"][0]["field"], "subject");
    assert!(problem["errors"][0]["message"].as_str().expect("message").contains("card_number"));
    // What could run long or grow without bound is not a template a studio may save.
    let huge = json!({ "subject": "Booked", "body": "{{ service * 16000000 }}" });
    let problem =
        send(&app, Method::PUT, &uri, &s.owner, Some(huge)).await.assert_problem(422, "validation-failed");
    assert!(problem["errors"][0]["message"].as_str().expect("message").contains("line 1"), "{problem}");
    let oversize = json!({ "subject": "x".repeat(201), "body": "{{ start }}" });
    send(&app, Method::PUT, &uri, &s.owner, Some(oversize)).await.assert_problem(422, "validation-failed");
    // Professionals and other studios may not touch it.
    let ours =
        json!({ "subject": "See you, {{ recipient }}!", "body": "<b>{{ service }}</b> on {{ start }}." });
    send(&app, Method::PUT, &uri, &s.pro, Some(ours.clone())).await.assert_problem(403, "role-required");
    let listed = send(
        &app,
        Method::GET,
        &format!("/v1/studios/{}/notification-templates?limit=100", s.studio),
        &s.owner,
        None,
    )
    .await;
    let items = listed.json()["items"].as_array().expect("items").clone();
    assert_eq!(items.len(), 2 * atelier_notifications::Topic::ALL.len(), "every topic in both languages");
    assert!(items.iter().all(|t| t["overridden"] == false), "nothing was stored by the refused saves");
    let saved = send(&app, Method::PUT, &uri, &s.owner, Some(ours)).await;
    assert_eq!(saved.status, 200, "{:?}", saved.json());
    assert_eq!(saved.json()["overridden"], true);
    let ana = format!("ana@{slug}.example");
    let client = app.register(&ana).await;
    s.book_ok(&app, &client, "2026-06-02T10:00:00+01:00").await;
    app.run_workers().await;
    let mails = app.emails_to(&ana).await;
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert_eq!(mails[0].subject, "See you, Test Person!");
    assert!(
        mails[0].body.contains("<b>Cut</b> on Tue 2 Jun 2026, 10:00"),
        "text is not escaped: {}",
        mails[0].body
    );
    let removed = send(&app, Method::DELETE, &uri, &s.owner, None).await;
    assert_eq!(removed.status, 204);
}

/// Runs the reminder job at `at` (and the workers after), signed out of nothing: jobs need no
/// token.
async fn remind_at(app: &TestApp, at: &str) {
    let at: jiff::Timestamp = at.parse().expect("instant");
    app.clock.set(at);
    atelier_app::jobs::run(atelier_app::jobs::Job::SendReminders, &app.platform).await.expect("job");
    app.run_workers().await;
}

async fn reminders_follow_the_booking_as_it_is_now(app: TestApp) {
    let slug = atelier_tests::unique_name("remind");
    let s = salon(&app, &slug).await;
    let patched = send(
        &app,
        Method::PATCH,
        &format!("/v1/studios/{}", s.studio),
        &s.owner,
        Some(json!({ "settings": { "reminder_hours": [2, 24] } })),
    )
    .await;
    assert_eq!(patched.status, 200, "{:?}", patched.json());
    assert_eq!(patched.json()["settings"]["reminder_hours"], json!([24, 2]), "largest first");
    let too_many = json!({ "settings": { "reminder_hours": [48, 24, 2, 1] } });
    send(&app, Method::PATCH, &format!("/v1/studios/{}", s.studio), &s.owner, Some(too_many))
        .await
        .assert_problem(422, "validation-failed");
    let client = app.register(&format!("ana@{slug}.example")).await;
    let moved = s.book_ok(&app, &client, "2026-06-10T10:00:00+01:00").await;
    let cancelled = s.book_ok(&app, &client, "2026-06-11T10:00:00+01:00").await;
    let uri = |b: &Value, action: &str| {
        format!("/v1/studios/{}/bookings/{}/{action}", s.studio, b["id"].as_str().expect("id"))
    };
    let r = send(
        &app,
        Method::POST,
        &uri(&moved, "reschedule"),
        &client,
        Some(json!({ "start": "2026-06-12T15:00:00+01:00" })),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.json());
    assert_eq!(send(&app, Method::POST, &uri(&cancelled, "cancel"), &client, None).await.status, 200);
    // A booking whose reminder is already on its way when it is cancelled.
    let late = s.book_ok(&app, &client, "2026-06-14T10:00:00+01:00").await;
    app.run_workers().await;
    for at in [
        "2026-06-09T09:01:00Z", // a day before the moved booking's old time, and the cancelled one's
        "2026-06-10T07:01:00Z",
        "2026-06-10T09:01:00Z",
        "2026-06-11T07:01:00Z",
        "2026-06-11T14:01:00Z", // a day before the moved booking's new time
        "2026-06-12T12:01:00Z", // two hours before it
    ] {
        remind_at(&app, at).await;
    }
    // The last booking's day-before reminder is staged and relayed, then it is cancelled before
    // the worker runs.
    app.clock.set("2026-06-13T09:01:00Z".parse().expect("instant"));
    atelier_app::jobs::run(atelier_app::jobs::Job::SendReminders, &app.platform).await.expect("job");
    let client = app.sign_in_again(&client).await;
    assert_eq!(send(&app, Method::POST, &uri(&late, "cancel"), &client, None).await.status, 200);
    app.run_workers().await;
    let notices = inbox(&app, &client, "?limit=100").await;
    let reminders: Vec<&str> = notices
        .iter()
        .filter(|n| n["topic"] == "booking_reminder")
        .map(|n| n["body"].as_str().expect("body"))
        .collect();
    assert_eq!(reminders.len(), 2, "a day and two hours before the new time only: {reminders:?}");
    assert!(reminders.iter().all(|b| b.contains("Fri 12 Jun 2026, 15:00 (UTC+01:00)")), "{reminders:?}");
    // Each went by email too, once.
    let mails = app.emails_to(&format!("ana@{slug}.example")).await;
    assert_eq!(mails.iter().filter(|m| m.subject == "Appointment reminder").count(), 2, "{mails:?}");
}

atelier_tests::on_both_backends!(
    reminders_follow_the_booking_as_it_is_now,
    a_booking_is_emailed_in_each_recipients_language,
    each_channel_sends_once_however_often_the_event_comes,
    sms_goes_out_when_chosen_and_a_bad_number_is_not_retried,
    preferences_keep_a_channel_for_transactional_notices,
    studio_templates_are_checked_and_used,
    a_booking_lands_in_the_inbox,
    the_count_is_exact_under_redelivery_and_clicks,
    the_count_matches_the_list_under_races,
);
