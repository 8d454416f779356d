//! Scheduling and bookings, end to end through the router, on both adapters: free slots,
//! booking, conflicts under concurrency, idempotency, series, the status machine, fees,
//! no-shows, waitlist, loyalty, lists, calendar feeds and the scheduler's jobs.

use std::collections::BTreeMap;
use std::sync::Arc;

use atelier_app::jobs::{self, Job, JobReport};
use atelier_platform::store::{Item, Query, SortKey};
use atelier_tests::{Account, TestApp, TestResponse};
use http::Method;
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

pub(crate) fn path(studio: &str, rest: &str) -> String {
    format!("/v1/studios/{studio}{rest}")
}

/// Builds the request now and returns the sending, which borrows nothing.
pub(crate) fn send(
    app: &TestApp,
    method: Method,
    uri: &str,
    who: &Account,
    body: Option<Value>,
) -> impl Future<Output = TestResponse> + use<> {
    let mut request = app.request(method, uri).bearer(&who.access);
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send()
}

fn at(text: &str) -> Timestamp {
    text.parse().expect("instant")
}

/// A studio in Lisbon (15-minute slots, an hour's notice, a year ahead) with a professional
/// working 09:00-18:00 every day, a one-hour cut (15 minutes to clean up after, EUR 40), and
/// a policy: 50 % under 24 hours, 25 % under 48.
pub(crate) struct Salon {
    pub studio: String,
    pub owner: Account,
    pub pro: Account,
    pub cut: String,
}

pub(crate) async fn every_day(
    app: &TestApp,
    studio: &str,
    by: &Account,
    user_id: &str,
    start: &str,
    end: &str,
) {
    let days = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];
    let ranges: Vec<Value> = days.iter().map(|d| json!({ "day": d, "start": start, "end": end })).collect();
    let response = send(
        app,
        Method::PUT,
        &path(studio, &format!("/professionals/{user_id}/availability")),
        by,
        Some(json!({ "ranges": ranges })),
    )
    .await;
    assert_eq!(response.status, 200, "{:?}", response.body);
}

pub(crate) async fn service(app: &TestApp, studio: &str, owner: &Account, body: Value) -> String {
    let created = send(app, Method::POST, &path(studio, "/services"), owner, Some(body)).await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    created.json()["id"].as_str().expect("id").to_owned()
}

pub(crate) async fn salon(app: &TestApp, slug: &str) -> Salon {
    let owner = app.register(&format!("owner@{slug}.example")).await;
    let studio = app.create_studio(&owner, slug).await;
    let patched = send(
        app,
        Method::PATCH,
        &path(&studio, ""),
        &owner,
        Some(json!({ "settings": { "horizon_days": 365 } })),
    )
    .await;
    assert_eq!(patched.status, 200, "{:?}", patched.body);
    let pro = app.join(&studio, &owner, &format!("rita@{slug}.example"), "professional").await;
    app.make_professional(&studio, &owner, &pro).await;
    every_day(app, &studio, &owner, &pro.user_id, "09:00", "18:00").await;
    let cut = service(
        app,
        &studio,
        &owner,
        json!({
            "name": "Cut", "category": "hair", "duration_minutes": 60, "price_minor": 4000,
            "buffer_after_minutes": 15, "professional_ids": [pro.user_id],
        }),
    )
    .await;
    let policy = send(
        app,
        Method::PUT,
        &path(&studio, "/cancellation-policy"),
        &owner,
        Some(json!({ "tiers": [
            { "min_hours": 0, "max_hours": 24, "fee": { "kind": "percent", "bps": 5000 } },
            { "min_hours": 24, "max_hours": 48, "fee": { "kind": "percent", "bps": 2500 } },
        ] })),
    )
    .await;
    assert_eq!(policy.status, 200, "{:?}", policy.body);
    Salon { studio, owner, pro, cut }
}

impl Salon {
    pub(crate) fn booking(&self, start: &str) -> Value {
        json!({ "service_id": self.cut, "professional_id": self.pro.user_id, "start": start })
    }

    pub(crate) async fn book(&self, app: &TestApp, who: &Account, start: &str) -> TestResponse {
        send(app, Method::POST, &path(&self.studio, "/bookings"), who, Some(self.booking(start))).await
    }

    pub(crate) async fn book_ok(&self, app: &TestApp, who: &Account, start: &str) -> Value {
        let response = self.book(app, who, start).await;
        assert_eq!(response.status, 201, "book {start}: {}", String::from_utf8_lossy(&response.body));
        response.json()
    }

    async fn slots(&self, app: &TestApp, from: &str, to: &str) -> Vec<String> {
        let uri =
            format!("/v1/public/studios/{}/slots?service_id={}&from={from}&to={to}", self.studio, self.cut);
        let response = app.request(Method::GET, &uri).send().await;
        assert_eq!(response.status, 200, "{:?}", response.body);
        response.json()["slots"]
            .as_array()
            .expect("slots")
            .iter()
            .map(|s| s["start"].as_str().expect("start").to_owned())
            .collect()
    }

    /// The professional's whole day off (a time-off exception), as the owner asks it.
    pub(crate) async fn day_off(&self, app: &TestApp, date: &str) -> TestResponse {
        let exceptions =
            path(&self.studio, &format!("/professionals/{}/availability/exceptions", self.pro.user_id));
        let body = json!({ "kind": "time_off", "start_date": date, "end_date": date });
        send(app, Method::POST, &exceptions, &self.owner, Some(body)).await
    }

    pub(crate) async fn act(
        &self,
        app: &TestApp,
        who: &Account,
        booking: &str,
        action: &str,
        body: Option<Value>,
    ) -> TestResponse {
        send(app, Method::POST, &path(&self.studio, &format!("/bookings/{booking}/{action}")), who, body)
            .await
    }
}

fn id(v: &Value) -> String {
    v["id"].as_str().expect("id").to_owned()
}

/// Topics of the notices in a user's inbox.
async fn inbox(app: &TestApp, user_id: &str) -> Vec<String> {
    let query = Query::partition(format!("USER#{user_id}")).sort(SortKey::BeginsWith("NOTIFICATION#".into()));
    let items = app.platform.store.query_all(query, 1000).await.expect("inbox");
    let mut topics: Vec<String> =
        items.iter().map(|i| i.string("topic").expect("topic").to_owned()).collect();
    topics.sort();
    topics
}

async fn run(app: &TestApp, job: Job) -> JobReport {
    jobs::run(job, &app.platform).await.expect("job runs")
}

/// Delivers queued events until none are left (a waitlist offer can follow a cancellation).
async fn drain(app: &TestApp) {
    while app.run_workers().await > 0 {}
}

async fn a_client_finds_books_moves_and_cancels_with_the_fee(app: TestApp) {
    let s = salon(&app, "flow").await;
    let client = app.register("ana@flow.example").await;
    let free = s.slots(&app, "2026-06-02", "2026-06-02").await;
    assert_eq!(free.len(), 33, "09:00 to 17:00 every 15 minutes: {free:?}");
    assert_eq!(free[0], "2026-06-02T09:00:00+01:00", "in the studio's zone with its offset");

    let created = s.book(&app, &client, "2026-06-02T10:00:00+01:00").await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let booking = created.json();
    let booking_id = id(&booking);
    assert_eq!(
        created.header("location"),
        Some(path(&s.studio, &format!("/bookings/{booking_id}")).as_str())
    );
    assert_eq!(created.header("etag"), Some("\"1\""));
    assert_eq!(booking["status"], "confirmed");
    assert_eq!(booking["price_minor"], 4000);
    assert_eq!(booking["deposit_minor"], 0);
    assert_eq!(booking["start"], "2026-06-02T09:00:00Z");
    assert_eq!(booking["start_local"], "2026-06-02T10:00:00+01:00");
    assert_eq!(
        booking["cancellation_policy"]["tiers"].as_array().map(Vec::len),
        Some(2),
        "the policy is copied"
    );
    assert_eq!(booking["client_user_id"], client.user_id.as_str());

    let free = s.slots(&app, "2026-06-02", "2026-06-02").await;
    for taken in ["09:00", "09:45", "10:00", "11:00"] {
        assert!(
            !free.contains(&format!("2026-06-02T{taken}:00+01:00")),
            "{taken} overlaps the booking or its buffer"
        );
    }
    assert!(free.contains(&"2026-06-02T11:15:00+01:00".to_owned()), "free once the clean-up is over");

    let other = app.register("bruno@flow.example").await;
    s.book(&app, &other, "2026-06-02T10:30:00+01:00").await.assert_problem(409, "slot-taken");
    let peek =
        send(&app, Method::GET, &path(&s.studio, &format!("/bookings/{booking_id}")), &other, None).await;
    peek.assert_problem(404, "not-found");

    let moved = s
        .act(&app, &client, &booking_id, "reschedule", Some(json!({ "start": "2026-06-02T14:00:00+01:00" })))
        .await;
    assert_eq!(moved.status, 200, "{:?}", moved.body);
    assert_eq!(moved.json()["start_local"], "2026-06-02T14:00:00+01:00");
    assert_eq!(moved.json()["reschedules"], 1);
    let free = s.slots(&app, "2026-06-02", "2026-06-02").await;
    assert!(free.contains(&"2026-06-02T10:00:00+01:00".to_owned()), "the old time is free again");
    assert!(!free.contains(&"2026-06-02T14:00:00+01:00".to_owned()), "the new one is taken");
    s.act(&app, &client, &booking_id, "reschedule", Some(json!({ "start": "2026-06-02T10:07:00+01:00" })))
        .await
        .assert_problem(422, "validation-failed");

    // 17 hours before the start: the under-24-hours tier, 50 %.
    app.clock.set(at("2026-06-01T20:00:00Z"));
    let client = app.sign_in_again(&client).await;
    let cancelled = s.act(&app, &client, &booking_id, "cancel", Some(json!({ "reason": "Sick" }))).await;
    assert_eq!(cancelled.status, 200, "{:?}", cancelled.body);
    let c = &cancelled.json()["cancellation"];
    assert_eq!(cancelled.json()["status"], "cancelled");
    assert_eq!(c["fee_minor"], 2000);
    assert_eq!(c["by_kind"], "client");
    assert_eq!(c["by"], client.user_id.as_str());
    assert_eq!(c["reason"], "Sick");
    assert_eq!(c["hours_before"], 17);
    let again =
        s.act(&app, &client, &booking_id, "cancel", None).await.assert_problem(409, "invalid-transition");
    assert!(again["detail"].as_str().is_some_and(|d| d.contains("cancelled")), "{again}");

    drain(&app).await;
    assert_eq!(
        inbox(&app, &client.user_id).await,
        ["booking_cancelled", "booking_confirmed", "booking_rescheduled"]
    );
    assert_eq!(
        inbox(&app, &s.pro.user_id).await,
        ["booking_cancelled", "booking_created", "booking_rescheduled"]
    );
}

async fn staff_book_for_a_client_complete_and_mark_no_shows(app: TestApp) {
    let s = salon(&app, "staff").await;
    let maria =
        send(&app, Method::POST, &path(&s.studio, "/clients"), &s.owner, Some(json!({ "name": "Maria" })))
            .await
            .json();
    let maria = id(&maria);
    let mut request = s.booking("2026-06-02T10:00:00+01:00");
    request["client_id"] = json!(maria);
    request["notes"] = json!("Prefers the window seat");
    let created =
        send(&app, Method::POST, &path(&s.studio, "/bookings"), &s.pro, Some(request.clone())).await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let first = id(&created.json());
    assert_eq!(created.json()["client_name"], "Maria");
    assert_eq!(created.json()["created_by"], s.pro.user_id.as_str());

    // A client cannot book for someone else; a professional only into their own agenda.
    let stranger = app.register("stranger@staff.example").await;
    send(&app, Method::POST, &path(&s.studio, "/bookings"), &stranger, Some(request.clone()))
        .await
        .assert_problem(404, "not-found");
    let colleague = app.join(&s.studio, &s.owner, "colleague@staff.example", "professional").await;
    send(&app, Method::POST, &path(&s.studio, "/bookings"), &colleague, Some(request))
        .await
        .assert_problem(403, "own-agenda-only");

    s.act(&app, &s.pro, &first, "complete", None).await.assert_problem(409, "invalid-transition");
    app.clock.set(at("2026-06-02T09:05:00Z"));
    let (pro, owner) = (app.sign_in_again(&s.pro).await, app.sign_in_again(&s.owner).await);
    assert_eq!(s.act(&app, &pro, &first, "check-in", None).await.status, 200);
    let done = s.act(&app, &pro, &first, "complete", None).await;
    assert_eq!(done.status, 200, "{:?}", done.body);
    assert_eq!(done.json()["status"], "completed");
    assert_eq!(done.json()["points_earned"], 200, "5 % of EUR 40.00 in points");
    s.act(&app, &pro, &first, "cancel", None).await.assert_problem(409, "invalid-transition");
    let balance =
        send(&app, Method::GET, &path(&s.studio, &format!("/clients/{maria}/loyalty")), &owner, None).await;
    assert_eq!(balance.json()["points"], 200, "{:?}", balance.body);

    let mut second = s.booking("2026-06-03T10:00:00+01:00");
    second["client_id"] = json!(maria);
    let second = send(&app, Method::POST, &path(&s.studio, "/bookings"), &owner, Some(second)).await.json();
    let second = id(&second);
    app.clock.set(at("2026-06-03T09:20:00Z"));
    let owner = app.sign_in_again(&s.owner).await;
    let missed = s.act(&app, &owner, &second, "no-show", None).await;
    assert_eq!(missed.status, 200, "{:?}", missed.body);
    assert_eq!(missed.json()["status"], "no_show");
    assert_eq!(missed.json()["no_show"]["fee_minor"], 2000, "the last tier of the policy");
    assert_eq!(missed.json()["no_show"]["points_deducted"], 50);
    s.act(&app, &owner, &second, "complete", None).await.assert_problem(409, "invalid-transition");
    let history =
        send(&app, Method::GET, &path(&s.studio, &format!("/clients/{maria}/loyalty/history")), &owner, None)
            .await
            .json();
    let points: Vec<i64> = history["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|e| e["points"].as_i64().expect("points"))
        .collect();
    assert_eq!(points, [-50, 200], "newest first");
    let redeemed = send(
        &app,
        Method::POST,
        &path(&s.studio, &format!("/clients/{maria}/loyalty/redeem")),
        &owner,
        Some(json!({ "points": 500 })),
    )
    .await;
    redeemed.assert_problem(409, "insufficient-balance");
    let redeemed = send(
        &app,
        Method::POST,
        &path(&s.studio, &format!("/clients/{maria}/loyalty/redeem")),
        &owner,
        Some(json!({ "points": 100, "note": "Shampoo" })),
    )
    .await;
    assert_eq!(redeemed.json()["points"], 50);
}

async fn bad_starts_are_refused_with_a_reason(app: TestApp) {
    let s = salon(&app, "refusals").await;
    let client = app.register("ana@refusals.example").await;
    let off = s.day_off(&app, "2026-06-04").await;
    assert_eq!(off.status, 201, "{:?}", off.body);
    let cases = [
        ("2026-06-02T10:07:00+01:00", "grid"),
        ("2026-05-20T10:00:00+01:00", "past"),
        ("2026-05-28T21:00:00Z", "minimum notice"),
        ("2027-07-01T10:00:00+01:00", "horizon"),
        ("2026-06-04T10:00:00+01:00", "does not work"),
        ("2026-06-02T19:00:00+01:00", "does not work"),
    ];
    for (start, reason) in cases {
        let problem = s.book(&app, &client, start).await.assert_problem(422, "validation-failed");
        assert_eq!(problem["errors"][0]["field"], "start", "{start}: {problem}");
        let message = problem["errors"][0]["message"].as_str().expect("message");
        assert!(message.contains(reason), "{start}: expected `{reason}` in `{message}`");
    }
    let mut other = s.booking("2026-06-02T10:00:00+01:00");
    let shampoo = service(&app, &s.studio, &s.owner, json!({ "name": "Shampoo", "category": "hair", "duration_minutes": 15, "price_minor": 500, "professional_ids": [] })).await;
    other["service_id"] = json!(shampoo);
    let problem = send(&app, Method::POST, &path(&s.studio, "/bookings"), &client, Some(other.clone()))
        .await
        .assert_problem(422, "validation-failed");
    assert_eq!(problem["errors"][0]["field"], "professional_id");
    assert!(problem["errors"][0]["message"].as_str().is_some_and(|m| m.contains("does not perform")));
    other["service_id"] = json!("nope");
    let problem = send(&app, Method::POST, &path(&s.studio, "/bookings"), &client, Some(other))
        .await
        .assert_problem(422, "validation-failed");
    assert_eq!(problem["errors"][0]["field"], "service_id");
    let mut unknown_client = s.booking("2026-06-02T10:00:00+01:00");
    unknown_client["client_id"] = json!("nobody");
    let problem = send(&app, Method::POST, &path(&s.studio, "/bookings"), &s.owner, Some(unknown_client))
        .await
        .assert_problem(422, "validation-failed");
    assert_eq!(problem["errors"][0]["field"], "client_id");
    app.request(Method::POST, &path(&s.studio, "/bookings"))
        .bearer(&client.access)
        .json(&json!({ "service_id": s.cut, "start": "tomorrow at ten" }))
        .send()
        .await
        .assert_problem(422, "invalid-body");
    app.request(Method::POST, &path(&s.studio, "/bookings"))
        .bearer(&client.access)
        .json(&json!({ "service_id": s.cut, "start": "2026-06-02T10:00:00Z", "price_minor": 1 }))
        .send()
        .await
        .assert_problem(422, "invalid-body");
    // Nothing was booked by any of it.
    let list = send(&app, Method::GET, &path(&s.studio, "/bookings"), &s.owner, None).await.json();
    assert_eq!(list["items"], json!([]));
}

/// Fires `n` requests at once from `callers` in turn; returns the count of each status.
async fn storm(
    app: &TestApp,
    studio: &str,
    callers: &[Account],
    bodies: &[Value],
    n: usize,
) -> BTreeMap<u16, usize> {
    let mut tasks = Vec::new();
    for i in 0..n {
        let caller = &callers[i % callers.len()];
        let body = bodies[i % bodies.len()].clone();
        tasks.push(tokio::spawn(send(app, Method::POST, &path(studio, "/bookings"), caller, Some(body))));
    }
    let mut statuses = BTreeMap::new();
    for task in tasks {
        let response = task.await.expect("task");
        *statuses.entry(response.status.as_u16()).or_insert(0) += 1;
    }
    statuses
}

async fn clients(app: &TestApp, slug: &str, n: usize) -> Vec<Account> {
    let mut accounts = Vec::new();
    for i in 0..n {
        // Registrations are limited per address: each client comes from its own.
        accounts.push(
            app.register_from(&format!("client{i}@{slug}.example"), Some(&format!("198.51.100.{i}"))).await,
        );
    }
    accounts
}

async fn two_hundred_attempts_on_one_slot_book_it_once(app: TestApp) {
    let s = salon(&app, "storm").await;
    let callers = clients(&app, "storm", 10).await;
    let statuses = storm(&app, &s.studio, &callers, &[s.booking("2026-06-02T10:00:00+01:00")], 200).await;
    assert_eq!(statuses, BTreeMap::from([(201, 1), (409, 199)]), "exactly one booking, no errors");
    let list = send(&app, Method::GET, &path(&s.studio, "/bookings"), &s.owner, None).await.json();
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1));

    // Two services with different professionals, sharing the studio's one room.
    let tattooist = app.join(&s.studio, &s.owner, "ink@storm.example", "professional").await;
    app.make_professional(&s.studio, &s.owner, &tattooist).await;
    every_day(&app, &s.studio, &s.owner, &tattooist.user_id, "09:00", "18:00").await;
    let room = send(
        &app,
        Method::POST,
        &path(&s.studio, "/resources"),
        &s.owner,
        Some(json!({ "name": "Room", "resource_type": "room" })),
    )
    .await;
    assert_eq!(room.status, 201);
    let facial = service(&app, &s.studio, &s.owner, json!({ "name": "Facial", "category": "skin", "duration_minutes": 60, "price_minor": 5000, "professional_ids": [s.pro.user_id], "resource_type": "room" })).await;
    let tattoo = service(&app, &s.studio, &s.owner, json!({ "name": "Tattoo", "category": "ink", "duration_minutes": 120, "price_minor": 9000, "professional_ids": [tattooist.user_id], "resource_type": "room" })).await;
    let bodies = [
        json!({ "service_id": facial, "professional_id": s.pro.user_id, "start": "2026-06-03T10:00:00+01:00" }),
        json!({ "service_id": tattoo, "professional_id": tattooist.user_id, "start": "2026-06-03T09:30:00+01:00" }),
    ];
    let statuses = storm(&app, &s.studio, &callers, &bodies, 200).await;
    assert_eq!(statuses, BTreeMap::from([(201, 1), (409, 199)]), "one room: one of the two services");
}

async fn idempotency_keys_make_retries_safe(app: TestApp) {
    let s = salon(&app, "idem").await;
    let client = app.register("ana@idem.example").await;
    let with_key = |key: &str, start: &str| {
        app.request(Method::POST, &path(&s.studio, "/bookings"))
            .bearer(&client.access)
            .header("idempotency-key", key)
            .json(&s.booking(start))
            .send()
    };
    let first = with_key("k-1", "2026-06-02T10:00:00+01:00").await;
    assert_eq!(first.status, 201);
    let again = with_key("k-1", "2026-06-02T10:00:00+01:00").await;
    assert_eq!(again.status, 201, "a retry gets the same answer");
    assert_eq!(again.json(), first.json());
    assert_eq!(again.header("location"), first.header("location"));
    with_key("k-1", "2026-06-02T11:00:00+01:00").await.assert_problem(422, "idempotency-key-reused");

    // Ten concurrent retries of one request: one booking, ten identical answers.
    let mut tasks = Vec::new();
    for _ in 0..10 {
        tasks.push(tokio::spawn(
            app.request(Method::POST, &path(&s.studio, "/bookings"))
                .bearer(&client.access)
                .header("idempotency-key", "k-2")
                .json(&s.booking("2026-06-03T10:00:00+01:00"))
                .send(),
        ));
    }
    let mut ids = std::collections::BTreeSet::new();
    for task in tasks {
        let response = task.await.expect("task");
        assert_eq!(response.status, 201, "{:?}", response.body);
        ids.insert(id(&response.json()));
    }
    assert_eq!(ids.len(), 1);
    let list = send(&app, Method::GET, &path(&s.studio, "/bookings"), &s.owner, None).await.json();
    assert_eq!(list["items"].as_array().map(Vec::len), Some(2));
}

/// A signed-up client's user record and access to a studio, for calling use cases directly.
async fn client_in_studio(
    app: &TestApp,
    client: &Account,
    studio: &str,
) -> (atelier_identity::UserRecord, atelier_platform::access::StudioAccess) {
    let user = app
        .platform
        .store
        .get(&atelier_identity::user_key(&atelier_domain::ids::UserId::from(&client.user_id)))
        .await
        .expect("get")
        .expect("user")
        .to_record()
        .expect("record");
    let access = atelier_platform::access::StudioAccess {
        caller: atelier_platform::access::Caller {
            user_id: client.user_id.clone().into(),
            session_id: "s".into(),
            is_admin: false,
            api_key: None,
        },
        studio_id: studio.to_owned().into(),
        role: None,
    };
    (user, access)
}

async fn transaction_conflicts_are_retried_then_reported(app: TestApp) {
    use atelier_platform::store::Fault;
    let s = salon(&app, "faults").await;
    let client = app.register("ana@faults.example").await;
    let (user, access) = client_in_studio(&app, &client, &s.studio).await;
    let meta = atelier_platform::audit::RequestMeta::new("203.0.113.7", "tests");
    let booker = atelier_bookings::create::Booker {
        actor: atelier_studios::Actor { access: &access, meta: &meta },
        user: &user.profile(),
    };
    let request = |start: &str| -> atelier_bookings::create::BookingRequest {
        serde_json::from_value(s.booking(start)).expect("request")
    };
    let writes = app.faults.write_calls();
    app.faults.inject([Fault::Conflict, Fault::Conflict]);
    let booked =
        atelier_bookings::create::create(&app.platform, booker, request("2026-06-02T10:00:00+01:00"), None)
            .await;
    assert!(booked.expect("retried to success").created);
    assert!(app.faults.write_calls() >= writes + 3, "two conflicts, then the commit");

    // The local host relays a committed change on a task of its own, whose writes would take
    // faults meant for the next booking (seen once on a loaded machine): wait until the relay
    // has emptied the outbox, its last write.
    let mut waited = 0;
    loop {
        let mut pending = 0;
        for shard in 0..atelier_platform::outbox::SHARDS {
            let query = Query::partition(format!("OUTBOX#{shard}"));
            pending += app.platform.store.query_all(query, 100).await.expect("outbox").len();
        }
        if pending == 0 {
            break;
        }
        waited += 1;
        assert!(waited < 500, "the outbox was not relayed in 10 s");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    app.faults.inject(vec![Fault::Conflict; 5]);
    let refused =
        atelier_bookings::create::create(&app.platform, booker, request("2026-06-03T10:00:00+01:00"), None)
            .await;
    assert!(matches!(refused, Err(atelier_platform::AppError::StoreUnavailable(_))), "{refused:?}");
    let list = send(&app, Method::GET, &path(&s.studio, "/bookings"), &s.owner, None).await.json();
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1), "the refused one wrote nothing");
}

async fn overbooking_capacity_and_review(app: TestApp) {
    let s = salon(&app, "overbook").await;
    let set = send(
        &app,
        Method::PUT,
        &path(&s.studio, &format!("/professionals/{}/overbooking", s.pro.user_id)),
        &s.owner,
        Some(json!({ "max_percentage": 100 })),
    )
    .await;
    assert_eq!(set.status, 200, "{:?}", set.body);
    let callers = clients(&app, "overbook", 3).await;
    let first = s.book_ok(&app, &callers[0], "2026-06-02T10:00:00+01:00").await;
    assert_eq!(first["status"], "confirmed");
    let second = s.book_ok(&app, &callers[1], "2026-06-02T10:30:00+01:00").await;
    assert_eq!(second["status"], "pending", "beyond the base capacity: staff review it");
    assert_eq!(second["pending_reason"], "review");
    s.book(&app, &callers[2], "2026-06-02T10:00:00+01:00").await.assert_problem(409, "slot-taken");
    s.act(&app, &callers[1], &id(&second), "confirm", None).await.assert_problem(403, "staff-only");
    let accepted = s.act(&app, &s.owner, &id(&second), "confirm", None).await;
    assert_eq!(accepted.json()["status"], "confirmed");
}

async fn series_all_or_nothing_or_what_is_free(app: TestApp) {
    let s = salon(&app, "series").await;
    let client = app.register("ana@series.example").await;
    let off = s.day_off(&app, "2026-06-16").await;
    assert_eq!(off.status, 201);
    let series = |mode: &str, start: &str, count: u32| {
        json!({
            "service_id": s.cut, "professional_id": s.pro.user_id, "start": start,
            "recurrence": { "every_weeks": 1, "count": count }, "mode": mode,
        })
    };
    let uri = path(&s.studio, "/bookings/series");
    let refused = send(
        &app,
        Method::POST,
        &uri,
        &client,
        Some(series("all_or_nothing", "2026-06-02T10:00:00+01:00", 4)),
    )
    .await;
    let problem = refused.assert_problem(422, "validation-failed");
    assert_eq!(problem["errors"][0]["field"], "occurrences[2].start", "{problem}");
    assert!(
        send(&app, Method::GET, &path(&s.studio, "/bookings"), &s.owner, None).await.json()["items"]
            .as_array()
            .is_some_and(Vec::is_empty)
    );

    let some = send(
        &app,
        Method::POST,
        &uri,
        &client,
        Some(series("available_only", "2026-06-02T10:00:00+01:00", 4)),
    )
    .await;
    assert_eq!(some.status, 201, "{:?}", some.body);
    let outcome = some.json();
    assert_eq!(outcome["booked"], 3);
    let occurrences = outcome["occurrences"].as_array().expect("occurrences");
    assert_eq!(occurrences[2]["start"], "2026-06-16T10:00:00+01:00");
    assert!(occurrences[2]["refused"].as_str().is_some_and(|r| r.contains("does not work")));
    assert!(occurrences[3]["booking"]["id"].is_string());
    assert_eq!(occurrences[0]["booking"]["series_id"], outcome["series_id"]);

    // Someone else takes a date first: all-or-nothing is a 409 naming it; available-only skips it.
    let other = app.register("bruno@series.example").await;
    s.book_ok(&app, &other, "2026-07-07T10:00:00+01:00").await;
    let clash = send(
        &app,
        Method::POST,
        &uri,
        &client,
        Some(series("all_or_nothing", "2026-06-30T10:00:00+01:00", 3)),
    )
    .await;
    let problem = clash.assert_problem(409, "slot-taken");
    assert!(problem["detail"].as_str().is_some_and(|d| d.contains("2026-07-07T10:00:00+01:00")), "{problem}");
    let partial = send(
        &app,
        Method::POST,
        &uri,
        &client,
        Some(series("available_only", "2026-06-30T10:00:00+01:00", 3)),
    )
    .await
    .json();
    assert_eq!(partial["booked"], 2);
    assert!(partial["occurrences"][1]["refused"].as_str().is_some_and(|r| r.contains("already booked")));

    // Eight-hour days in the one studio room, six weeks: more writes than one transaction takes.
    let room = send(
        &app,
        Method::POST,
        &path(&s.studio, "/resources"),
        &s.owner,
        Some(json!({ "name": "Room", "resource_type": "room" })),
    )
    .await;
    assert_eq!(room.status, 201);
    let day = service(&app, &s.studio, &s.owner, json!({ "name": "Full sleeve", "category": "ink", "duration_minutes": 480, "price_minor": 90000, "professional_ids": [s.pro.user_id], "resource_type": "room" })).await;
    let mut long = series("all_or_nothing", "2026-08-03T09:00:00+01:00", 6);
    long["service_id"] = json!(day);
    let problem =
        send(&app, Method::POST, &uri, &client, Some(long)).await.assert_problem(422, "series-too-large");
    assert!(problem["detail"].as_str().is_some_and(|d| d.contains("limit is 100")), "{problem}");
    let list =
        send(&app, Method::GET, &path(&s.studio, "/bookings?from=2026-08-01"), &s.owner, None).await.json();
    assert_eq!(list["items"], json!([]), "refused before anything was written");
}

async fn deposits_hold_the_slot_until_the_hold_expires(app: TestApp) {
    let s = salon(&app, "deposit").await;
    let colour = service(&app, &s.studio, &s.owner, json!({ "name": "Colour", "category": "hair", "duration_minutes": 60, "price_minor": 4000, "deposit_required": true, "deposit_bps": 3000, "professional_ids": [s.pro.user_id] })).await;
    let client = app.register("ana@deposit.example").await;
    let body = json!({ "service_id": colour, "professional_id": s.pro.user_id, "start": "2026-06-02T10:00:00+01:00" });
    let held =
        send(&app, Method::POST, &path(&s.studio, "/bookings"), &client, Some(body.clone())).await.json();
    assert_eq!(held["status"], "pending");
    assert_eq!(held["pending_reason"], "deposit");
    assert_eq!(held["deposit_minor"], 1200);
    assert_eq!(held["timers"]["hold_until"], "2026-05-28T20:41:40Z", "15 minutes");
    let other = app.register("bruno@deposit.example").await;
    send(&app, Method::POST, &path(&s.studio, "/bookings"), &other, Some(body.clone()))
        .await
        .assert_problem(409, "slot-taken");
    s.act(&app, &client, &id(&held), "confirm", None).await.assert_problem(403, "staff-only");

    app.clock.advance(SignedDuration::from_mins(14));
    assert_eq!(run(&app, Job::ExpireHolds).await, JobReport::ExpireHolds(Default::default()), "not yet");
    app.clock.advance(SignedDuration::from_mins(2));
    let JobReport::ExpireHolds(report) = run(&app, Job::ExpireHolds).await else { panic!("report") };
    assert_eq!(report.done, 1);
    let expired =
        send(&app, Method::GET, &path(&s.studio, &format!("/bookings/{}", id(&held))), &client, None)
            .await
            .json();
    assert_eq!(expired["status"], "cancelled");
    assert_eq!(expired["cancellation"]["by_kind"], "system");
    assert_eq!(expired["cancellation"]["fee_minor"], 0);
    let JobReport::ExpireHolds(again) = run(&app, Job::ExpireHolds).await else { panic!("report") };
    assert_eq!(again.done, 0, "done once");
    let retaken = send(&app, Method::POST, &path(&s.studio, "/bookings"), &other, Some(body)).await;
    assert_eq!(retaken.status, 201, "the slot is free again");
    let paid = s.act(&app, &s.owner, &id(&retaken.json()), "confirm", None).await;
    assert_eq!(paid.json()["status"], "confirmed", "the studio confirms once the deposit is in");
}

async fn reminders_and_no_show_detection(app: TestApp) {
    let s = salon(&app, "jobs").await;
    let client = app.register("ana@jobs.example").await;
    let missed = id(&s.book_ok(&app, &client, "2026-06-02T10:00:00+01:00").await);
    let came = id(&s.book_ok(&app, &client, "2026-06-02T11:30:00+01:00").await);

    app.clock.set(at("2026-06-01T09:00:00Z"));
    let JobReport::SendReminders(sent) = run(&app, Job::SendReminders).await else { panic!("report") };
    assert_eq!(sent.done, 1, "24 hours before the first");
    app.clock.set(at("2026-06-01T10:30:00Z"));
    let JobReport::SendReminders(sent) = run(&app, Job::SendReminders).await else { panic!("report") };
    assert_eq!(sent.done, 1);
    drain(&app).await;
    assert_eq!(inbox(&app, &client.user_id).await.iter().filter(|t| *t == "booking_reminder").count(), 2);

    app.clock.set(at("2026-06-02T09:14:00Z"));
    let JobReport::DetectNoShows(none) = run(&app, Job::DetectNoShows).await else { panic!("report") };
    assert_eq!(none.done, 0, "inside the 15-minute tolerance");
    app.clock.set(at("2026-06-02T10:31:00Z"));
    let (pro, owner) = (app.sign_in_again(&s.pro).await, app.sign_in_again(&s.owner).await);
    assert_eq!(s.act(&app, &pro, &came, "check-in", None).await.status, 200);
    app.clock.set(at("2026-06-02T10:50:00Z"));
    let JobReport::DetectNoShows(found) = run(&app, Job::DetectNoShows).await else { panic!("report") };
    assert_eq!((found.done, found.skipped), (1, 1), "{found:?}");
    let b =
        send(&app, Method::GET, &path(&s.studio, &format!("/bookings/{missed}")), &owner, None).await.json();
    assert_eq!(b["status"], "no_show");
    assert!(b["no_show"].get("by").is_none(), "marked by the job");
    assert_eq!(b["no_show"]["fee_minor"], 2000);
    let b =
        send(&app, Method::GET, &path(&s.studio, &format!("/bookings/{came}")), &owner, None).await.json();
    assert_eq!(b["status"], "confirmed", "the client who came is left alone");
    drain(&app).await;
    assert!(inbox(&app, &client.user_id).await.contains(&"booking_no_show".to_owned()));
}

async fn the_waitlist_gets_freed_time_in_order(app: TestApp) {
    let s = salon(&app, "waitlist").await;
    let [ana, bruno, carla]: [Account; 3] = clients(&app, "waitlist", 3).await.try_into().expect("three");
    let booked = id(&s.book_ok(&app, &ana, "2026-06-02T10:00:00+01:00").await);
    let join = |who: &Account| {
        send(
            &app,
            Method::POST,
            &path(&s.studio, "/waitlist"),
            who,
            Some(json!({ "service_id": s.cut, "from": "2026-06-01", "to": "2026-06-05" })),
        )
    };
    let b = join(&bruno).await;
    assert_eq!(b.status, 201, "{:?}", b.body);
    assert_eq!(b.json()["position"], 1);
    assert_eq!(join(&carla).await.json()["position"], 2);
    join(&carla).await.assert_problem(409, "already-on-waitlist");

    assert_eq!(s.act(&app, &ana, &booked, "cancel", None).await.status, 200);
    drain(&app).await;
    let offers = |who: &Account| {
        let uri = "/v1/me/bookings?status=pending".to_owned();
        send(&app, Method::GET, &uri, who, None)
    };
    let offered = offers(&bruno).await.json();
    let offer = &offered["items"][0];
    assert_eq!(offer["pending_reason"], "offer", "{offered}");
    assert_eq!(offer["start_local"], "2026-06-02T10:00:00+01:00");
    assert!(inbox(&app, &bruno.user_id).await.contains(&"waitlist_offer".to_owned()));
    assert_eq!(offers(&carla).await.json()["items"], json!([]), "one offer at a time, first in line first");

    // Bruno lets it expire (an hour): it passes to Carla, who takes it.
    app.clock.advance(SignedDuration::from_mins(61));
    let (bruno, carla, owner) =
        (app.sign_in_again(&bruno).await, app.sign_in_again(&carla).await, app.sign_in_again(&s.owner).await);
    let JobReport::ExpireHolds(report) = run(&app, Job::ExpireHolds).await else { panic!("report") };
    assert_eq!(report.done, 1);
    drain(&app).await;
    let offered = offers(&carla).await.json();
    let offer = id(&offered["items"][0]);
    let taken = s.act(&app, &carla, &offer, "confirm", None).await;
    assert_eq!(taken.status, 200, "{:?}", taken.body);
    assert_eq!(taken.json()["status"], "confirmed");
    let line = send(&app, Method::GET, &path(&s.studio, "/waitlist"), &owner, None).await.json();
    let statuses: Vec<&str> = line["items"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| e["status"].as_str().expect("status"))
        .collect();
    assert_eq!(statuses, ["expired", "booked"]);
    let own = send(&app, Method::GET, &path(&s.studio, "/waitlist"), &bruno, None).await.json();
    assert_eq!(own["items"].as_array().map(Vec::len), Some(1), "a client sees their own entries only");

    // Closed entries leave the line after 30 days, so it never fills with history.
    app.clock.advance(SignedDuration::from_hours(30 * 24 + 1));
    let owner = app.sign_in_again(&s.owner).await;
    let line = send(&app, Method::GET, &path(&s.studio, "/waitlist"), &owner, None).await.json();
    assert_eq!(line["items"], json!([]));
}

async fn loyalty_points_expire_without_activity(app: TestApp) {
    let s = salon(&app, "loyal").await;
    let client = app.register("ana@loyal.example").await;
    let booked = id(&s.book_ok(&app, &client, "2026-06-02T10:00:00+01:00").await);
    app.clock.set(at("2026-06-02T10:00:00Z"));
    let (pro, client) = (app.sign_in_again(&s.pro).await, app.sign_in_again(&client).await);
    assert_eq!(s.act(&app, &pro, &booked, "complete", None).await.status, 200);
    let mine = send(&app, Method::GET, &path(&s.studio, "/me/loyalty"), &client, None).await.json();
    assert_eq!(mine["points"], 200);
    assert_eq!(mine["expires_at"], "2027-06-02T10:00:00Z");
    app.clock.set(at("2027-06-02T09:00:00Z"));
    let JobReport::ExpireLoyaltyPoints(early) = run(&app, Job::ExpireLoyaltyPoints).await else {
        panic!("report")
    };
    assert_eq!(early.done, 0);
    app.clock.set(at("2027-06-02T10:00:01Z"));
    let JobReport::ExpireLoyaltyPoints(done) = run(&app, Job::ExpireLoyaltyPoints).await else {
        panic!("report")
    };
    assert_eq!(done.done, 1);
    let client = app.sign_in_again(&client).await;
    let mine = send(&app, Method::GET, &path(&s.studio, "/me/loyalty"), &client, None).await.json();
    assert_eq!(mine["points"], 0);
    let history =
        send(&app, Method::GET, &path(&s.studio, "/me/loyalty/history"), &client, None).await.json();
    assert_eq!(history["items"][0]["kind"], "expired");
    assert_eq!(history["items"][0]["points"], -200);
}

async fn lists_by_professional_client_and_status(app: TestApp) {
    let s = salon(&app, "lists").await;
    let colleague = app.join(&s.studio, &s.owner, "joana@lists.example", "professional").await;
    app.make_professional(&s.studio, &s.owner, &colleague).await;
    every_day(&app, &s.studio, &s.owner, &colleague.user_id, "09:00", "18:00").await;
    let added = send(
        &app,
        Method::PATCH,
        &path(&s.studio, &format!("/services/{}", s.cut)),
        &s.owner,
        Some(json!({ "professional_ids": [s.pro.user_id, colleague.user_id] })),
    )
    .await;
    assert_eq!(added.status, 200, "{:?}", added.body);
    let [ana, bruno]: [Account; 2] = clients(&app, "lists", 2).await.try_into().expect("two");
    for day in 2..=6 {
        s.book_ok(&app, &ana, &format!("2026-06-0{day}T10:00:00+01:00")).await;
    }
    // "Any professional": the least busy one.
    let any = send(
        &app,
        Method::POST,
        &path(&s.studio, "/bookings"),
        &bruno,
        Some(json!({ "service_id": s.cut, "start": "2026-06-03T10:00:00+01:00" })),
    )
    .await;
    assert_eq!(any.status, 201, "{:?}", any.body);
    assert_eq!(any.json()["professional_id"], colleague.user_id.as_str());
    let cancelled = id(&s.book_ok(&app, &bruno, "2026-06-04T15:00:00+01:00").await);
    assert_eq!(s.act(&app, &bruno, &cancelled, "cancel", None).await.status, 200);

    let get = |uri: String, who: &Account| send(&app, Method::GET, &uri, who, None);
    let starts = |page: &Value| -> Vec<String> {
        page["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|b| b["start_local"].as_str().expect("start")[..16].to_owned())
            .collect()
    };
    let rita = get(
        path(
            &s.studio,
            &format!("/bookings?professional_id={}&from=2026-06-03&to=2026-06-04", s.pro.user_id),
        ),
        &s.owner,
    )
    .await
    .json();
    assert_eq!(starts(&rita), ["2026-06-03T10:00", "2026-06-04T10:00", "2026-06-04T15:00"]);
    let bruno_client = any.json()["client_id"].as_str().expect("client").to_owned();
    let by_client =
        get(path(&s.studio, &format!("/bookings?client_id={bruno_client}")), &s.owner).await.json();
    assert_eq!(by_client["items"].as_array().map(Vec::len), Some(2), "bruno's two");
    let cancelled_only = get(path(&s.studio, "/bookings?status=cancelled"), &s.owner).await.json();
    assert_eq!(cancelled_only["items"].as_array().map(Vec::len), Some(1));
    // A professional sees their own agenda, and only that.
    let own = get(path(&s.studio, "/bookings"), &colleague).await.json();
    assert_eq!(own["items"].as_array().map(Vec::len), Some(1));
    get(path(&s.studio, &format!("/bookings?professional_id={}", s.pro.user_id)), &colleague)
        .await
        .assert_problem(403, "own-agenda-only");
    get(path(&s.studio, "/bookings"), &ana).await.assert_problem(404, "not-found");

    // Pages of two, following cursors, give everything once, in order.
    let mut seen = Vec::new();
    let mut uri = path(&s.studio, "/bookings?limit=2");
    loop {
        let page = get(uri.clone(), &s.owner).await.json();
        seen.extend(starts(&page));
        match page["next_cursor"].as_str() {
            Some(cursor) => uri = path(&s.studio, &format!("/bookings?limit=2&cursor={cursor}")),
            None => break,
        }
    }
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(seen.len(), 7);
    assert_eq!(seen, sorted);
    let mine = get("/v1/me/bookings".into(), &ana).await.json();
    assert_eq!(mine["items"].as_array().map(Vec::len), Some(5));
}

async fn slots_are_right_on_dst_days(app: TestApp) {
    let s = salon(&app, "dst").await;
    every_day(&app, &s.studio, &s.owner, &s.pro.user_id, "00:00", "04:00").await;
    // Spring forward (Lisbon, 2027-03-28 01:00 -> 02:00): 01:xx does not exist.
    let spring = s.slots(&app, "2027-03-28", "2027-03-28").await;
    assert!(!spring.iter().any(|t| t.starts_with("2027-03-28T01:")), "{spring:?}");
    assert_eq!(spring.len(), 9, "three real hours: {spring:?}");
    // Fall back (2026-10-25 02:00 -> 01:00): five real hours, 01:xx twice with different offsets.
    let fall = s.slots(&app, "2026-10-25", "2026-10-25").await;
    assert_eq!(fall.len(), 17, "{fall:?}");
    assert!(
        fall.contains(&"2026-10-25T01:30:00+01:00".to_owned())
            && fall.contains(&"2026-10-25T01:30:00+00:00".to_owned())
    );
    let unique: std::collections::BTreeSet<&String> = fall.iter().collect();
    assert_eq!(unique.len(), fall.len());
    // The second 01:30 can be booked and reads back as itself.
    let client = app.register("ana@dst.example").await;
    let b = s.book_ok(&app, &client, "2026-10-25T01:30:00+00:00").await;
    assert_eq!(b["start_local"], "2026-10-25T01:30:00+00:00");
    let fall = s.slots(&app, "2026-10-25", "2026-10-25").await;
    assert!(
        fall.contains(&"2026-10-25T01:00:00+01:00".to_owned()),
        "the first 01:00 is an hour earlier, still free"
    );
    assert!(!fall.contains(&"2026-10-25T01:00:00+00:00".to_owned()), "the second overlaps the booking");
    let range = app
        .request(
            Method::GET,
            &format!(
                "/v1/public/studios/{}/slots?service_id={}&from=2026-06-01&to=2026-07-15",
                s.studio, s.cut
            ),
        )
        .send()
        .await;
    range.assert_problem(422, "validation-failed");
}

/// Parses a feed with an independent iCalendar parser and returns its events' (start, zone,
/// summary, status).
fn parse_feed(text: &str) -> Vec<(String, String, String, String)> {
    use icalendar::Component;
    let calendar: icalendar::Calendar = text.parse().expect("a valid iCalendar document");
    let mut zones = 0;
    let mut events = Vec::new();
    for component in &calendar.components {
        match component {
            icalendar::CalendarComponent::Event(event) => {
                let start = event.get_start().expect("DTSTART");
                let (local, zone) = match start {
                    icalendar::DatePerhapsTime::DateTime(icalendar::CalendarDateTime::WithTimezone {
                        date_time,
                        tzid,
                    }) => (date_time.format("%Y-%m-%dT%H:%M").to_string(), tzid),
                    icalendar::DatePerhapsTime::DateTime(icalendar::CalendarDateTime::Utc(t)) => {
                        (t.format("%Y-%m-%dT%H:%MZ").to_string(), "UTC".to_owned())
                    }
                    other => panic!("unexpected DTSTART {other:?}"),
                };
                events.push((
                    local,
                    zone,
                    event.get_summary().unwrap_or_default().to_owned(),
                    event.property_value("STATUS").unwrap_or_default().to_owned(),
                ));
            }
            icalendar::CalendarComponent::Other(other) if other.component_kind() == "VTIMEZONE" => zones += 1,
            _ => {}
        }
    }
    assert!(zones >= 1, "a VTIMEZONE for the zone used");
    events
}

async fn calendar_feeds_at_secret_addresses(app: TestApp) {
    let s = salon(&app, "feeds").await;
    let client = app.register("ana@feeds.example").await;
    s.book_ok(&app, &client, "2026-06-02T10:00:00+01:00").await;
    let winter = s.book_ok(&app, &client, "2026-11-03T10:00:00+00:00").await;
    assert_eq!(s.act(&app, &client, &id(&winter), "cancel", None).await.status, 200);

    let issued = send(
        &app,
        Method::POST,
        &path(&s.studio, &format!("/professionals/{}/calendar-feed", s.pro.user_id)),
        &s.pro,
        None,
    )
    .await;
    assert_eq!(issued.status, 201, "{:?}", issued.body);
    let feed_path = issued.json()["path"].as_str().expect("path").to_owned();
    let feed = app.request(Method::GET, &feed_path).send().await;
    assert_eq!(feed.status, 200);
    assert_eq!(feed.header("content-type"), Some("text/calendar; charset=utf-8"));
    let text = String::from_utf8(feed.body.to_vec()).expect("utf-8");
    let events = parse_feed(&text);
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].0, "2026-06-02T10:00", "local time, summer");
    assert_eq!(events[0].1, "Europe/Lisbon");
    assert_eq!(events[1].0, "2026-11-03T10:00", "local time, winter");
    assert_eq!(events[1].3, "CANCELLED");
    assert!(events[0].2.contains("Cut"));

    let mine = send(&app, Method::POST, "/v1/me/calendar-feed", &client, None).await.json();
    let mine_path = mine["path"].as_str().expect("path").to_owned();
    let events = parse_feed(
        std::str::from_utf8(&app.request(Method::GET, &mine_path).send().await.body).expect("utf-8"),
    );
    assert_eq!(events.len(), 2);
    assert!(events[0].2.contains("Studio feeds"), "{events:?}");

    // Renewing revokes the old address; revoking ends the feed.
    let renewed = send(&app, Method::POST, "/v1/me/calendar-feed", &client, None).await.json();
    app.request(Method::GET, &mine_path).send().await.assert_problem(404, "not-found");
    let renewed = renewed["path"].as_str().expect("path").to_owned();
    assert_eq!(app.request(Method::GET, &renewed).send().await.status, 200);
    assert_eq!(send(&app, Method::DELETE, "/v1/me/calendar-feed", &client, None).await.status, 204);
    app.request(Method::GET, &renewed).send().await.assert_problem(404, "not-found");
    let stranger = app.register("stranger@feeds.example").await;
    send(
        &app,
        Method::POST,
        &path(&s.studio, &format!("/professionals/{}/calendar-feed", s.pro.user_id)),
        &stranger,
        None,
    )
    .await
    .assert_problem(404, "not-found");
}

/// Random sequences of book / cancel / reschedule through the real use cases on this adapter,
/// in a zone changing its clocks, checked after every step against a plain model: a request
/// succeeds exactly when the model says the time is free, and no two live bookings of a
/// professional ever overlap (buffers included).
async fn random_sequences_never_overlap(app: TestApp) {
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};

    let app = Arc::new(app);
    let s = salon(&app, "model").await;
    let patched = send(&app, Method::PATCH, &path(&s.studio, ""), &s.owner, Some(json!({ "time_zone": "America/New_York", "settings": { "min_notice_minutes": 0, "slot_step_minutes": 15 } }))).await;
    assert_eq!(patched.status, 200, "{:?}", patched.body);
    let second = app.join(&s.studio, &s.owner, "second@model.example", "professional").await;
    app.make_professional(&s.studio, &s.owner, &second).await;
    let pros = [s.pro.user_id.clone(), second.user_id.clone()];
    for p in &pros {
        every_day(&app, &s.studio, &s.owner, p, "00:00", "24:00").await;
    }
    let long = service(&app, &s.studio, &s.owner, json!({ "name": "Long", "category": "x", "duration_minutes": 90, "price_minor": 100, "buffer_before_minutes": 10, "buffer_after_minutes": 20, "professional_ids": pros })).await;
    let short = service(&app, &s.studio, &s.owner, json!({ "name": "Short", "category": "x", "duration_minutes": 30, "price_minor": 100, "professional_ids": pros })).await;
    let services = [(long, 120i64, 10i64), (short, 30, 0)];
    let client = app.register("model@model.example").await;
    // New York springs forward on 2027-03-14 at 02:00.
    app.clock.set(at("2027-03-12T00:00:00Z"));
    let day0 = at("2027-03-14T00:00:00-05:00");

    #[derive(Debug, Clone)]
    enum Step {
        Book { pro: usize, service: usize, quarter: i64 },
        Cancel { pick: usize },
        Move { pick: usize, quarter: i64 },
    }
    let step = prop_oneof![
        3 => (0..2usize, 0..2usize, 0..48i64).prop_map(|(pro, service, quarter)| Step::Book { pro, service, quarter }),
        1 => any::<usize>().prop_map(|pick| Step::Cancel { pick }),
        2 => (any::<usize>(), 0..48i64).prop_map(|(pick, quarter)| Step::Move { pick, quarter }),
    ];
    let cases = if app.backend == atelier_tests::Backend::Embedded { 24 } else { 12 };
    let mut runner = TestRunner::new(Config { cases, failure_persistence: None, ..Config::default() });
    let handle = tokio::runtime::Handle::current();
    let studio = s.studio.clone();
    let result = runner.run(&proptest::collection::vec(step, 1..14), |steps| {
        let (app, studio, pros, services, client) = (app.clone(), studio.clone(), pros.clone(), services.clone(), client.clone());
        tokio::task::block_in_place(|| {
            handle.block_on(async move {
                // A minute per case keeps the client inside the API's rate limit.
                app.clock.advance(SignedDuration::from_secs(61));
                let client = app.sign_in_again(&client).await;
                // (booking id, professional, blocked start, blocked end)
                let mut live: Vec<(String, usize, Timestamp, Timestamp, usize)> = Vec::new();
                let mut made: Vec<String> = Vec::new();
                for step in steps {
                    match step {
                        Step::Book { pro, service, quarter } => {
                            let (sid, blocked, before) = &services[service];
                            let start = day0 + SignedDuration::from_mins(quarter * 15);
                            let (bs, be) = (start - SignedDuration::from_mins(*before), start - SignedDuration::from_mins(*before) + SignedDuration::from_mins(*blocked));
                            let free = !live.iter().any(|(_, p, s2, e2, _)| *p == pro && bs < *e2 && *s2 < be);
                            let body = json!({ "service_id": sid, "professional_id": pros[pro], "start": start.to_string() });
                            let r = send(&app, Method::POST, &path(&studio, "/bookings"), &client, Some(body)).await;
                            prop_assert_eq!(r.status.as_u16(), if free { 201 } else { 409 }, "book {} at {}: {}", pro, start, String::from_utf8_lossy(&r.body));
                            if free {
                                let b = r.json();
                                made.push(id(&b));
                                live.push((id(&b), pro, bs, be, service));
                            }
                        }
                        Step::Cancel { pick } if !live.is_empty() => {
                            let (bid, ..) = live.remove(pick % live.len());
                            let r = send(&app, Method::POST, &path(&studio, &format!("/bookings/{bid}/cancel")), &client, None).await;
                            prop_assert_eq!(r.status.as_u16(), 200);
                        }
                        Step::Move { pick, quarter } if !live.is_empty() => {
                            let i = pick % live.len();
                            let (bid, pro, _, _, service) = live[i].clone();
                            let (_, blocked, before) = &services[service];
                            let start = day0 + SignedDuration::from_mins(quarter * 15);
                            let bs = start - SignedDuration::from_mins(*before);
                            let be = bs + SignedDuration::from_mins(*blocked);
                            let free = !live.iter().enumerate().any(|(j, (_, p, s2, e2, _))| j != i && *p == pro && bs < *e2 && *s2 < be);
                            let r = send(&app, Method::POST, &path(&studio, &format!("/bookings/{bid}/reschedule")), &client, Some(json!({ "start": start.to_string() }))).await;
                            prop_assert_eq!(r.status.as_u16(), if free { 200 } else { 409 }, "move to {}: {}", start, String::from_utf8_lossy(&r.body));
                            if free {
                                live[i].2 = bs;
                                live[i].3 = be;
                            }
                        }
                        _ => {}
                    }
                }
                // What the store holds agrees with the model; then clean up for the next case.
                let listed = app.platform.store.query_all(Query::partition(format!("STUDIO#{studio}")).sort(SortKey::BeginsWith("BOOKING#".into())), 10_000).await.expect("list");
                let confirmed: Vec<Value> = listed.iter().map(|i: &Item| i.to_record::<Value>().expect("booking")).filter(|b| b["status"] == "confirmed").collect();
                prop_assert_eq!(confirmed.len(), live.len());
                for b in &confirmed {
                    for c in &confirmed {
                        if b["id"] != c["id"] && b["professional_id"] == c["professional_id"] {
                            let (bs, be) = (at(b["start"].as_str().expect("start")), at(b["end"].as_str().expect("end")));
                            let (cs, ce) = (at(c["start"].as_str().expect("start")), at(c["end"].as_str().expect("end")));
                            prop_assert!(be <= cs || ce <= bs, "two live bookings overlap: {} and {}", b, c);
                        }
                    }
                }
                for (bid, ..) in live {
                    let r = send(&app, Method::POST, &path(&studio, &format!("/bookings/{bid}/cancel")), &client, None).await;
                    prop_assert_eq!(r.status.as_u16(), 200);
                }
                Ok(())
            })
        })
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

/// Every other invariant under concurrency: a booking changes state once however many
/// changes race (cancel against complete, ten cancels); two bookings moved into one free time
/// at once: one moves; points are never spent twice; a client is on a service's waitlist once.
async fn concurrent_changes_apply_once(app: TestApp) {
    let s = salon(&app, "races").await;
    let callers = clients(&app, "races", 4).await;
    let status_counts = |responses: Vec<TestResponse>| {
        let mut counts = BTreeMap::new();
        for r in responses {
            *counts.entry(r.status.as_u16()).or_insert(0) += 1;
        }
        counts
    };
    async fn all(tasks: Vec<tokio::task::JoinHandle<TestResponse>>) -> Vec<TestResponse> {
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.expect("task"));
        }
        out
    }

    // Ten cancels of one booking: one cancels, nine are told it already is.
    let one = id(&s.book_ok(&app, &callers[0], "2026-06-02T10:00:00+01:00").await);
    let uri = path(&s.studio, &format!("/bookings/{one}/cancel"));
    let tasks = (0..10).map(|_| tokio::spawn(send(&app, Method::POST, &uri, &callers[0], None))).collect();
    assert_eq!(status_counts(all(tasks).await), BTreeMap::from([(200, 1), (409, 9)]));

    // Two bookings moved into the same free hour at once: one moves.
    let a = id(&s.book_ok(&app, &callers[1], "2026-06-03T10:00:00+01:00").await);
    let b = id(&s.book_ok(&app, &callers[2], "2026-06-03T12:00:00+01:00").await);
    let to = json!({ "start": "2026-06-03T15:00:00+01:00" });
    let tasks = vec![
        tokio::spawn(send(
            &app,
            Method::POST,
            &path(&s.studio, &format!("/bookings/{a}/reschedule")),
            &callers[1],
            Some(to.clone()),
        )),
        tokio::spawn(send(
            &app,
            Method::POST,
            &path(&s.studio, &format!("/bookings/{b}/reschedule")),
            &callers[2],
            Some(to),
        )),
    ];
    assert_eq!(status_counts(all(tasks).await), BTreeMap::from([(200, 1), (409, 1)]));

    // A client on a service's waitlist once, however many joins race.
    let join = json!({ "service_id": s.cut, "from": "2026-06-01", "to": "2026-06-05" });
    let tasks = (0..8)
        .map(|_| {
            tokio::spawn(send(
                &app,
                Method::POST,
                &path(&s.studio, "/waitlist"),
                &callers[3],
                Some(join.clone()),
            ))
        })
        .collect();
    let joined = status_counts(all(tasks).await);
    assert_eq!(joined.get(&201), Some(&1), "{joined:?}");
    assert_eq!(joined.values().sum::<usize>(), 8);
    assert!(joined.keys().all(|k| *k == 201 || *k == 409), "{joined:?}");

    // Complete against cancel at the start: exactly one wins.
    let c = id(&s.book_ok(&app, &callers[1], "2026-06-04T10:00:00+01:00").await);
    app.clock.set(at("2026-06-04T09:05:00Z"));
    let (pro, client) = (app.sign_in_again(&s.pro).await, app.sign_in_again(&callers[1]).await);
    let tasks = vec![
        tokio::spawn(send(
            &app,
            Method::POST,
            &path(&s.studio, &format!("/bookings/{c}/complete")),
            &pro,
            None,
        )),
        tokio::spawn(send(
            &app,
            Method::POST,
            &path(&s.studio, &format!("/bookings/{c}/cancel")),
            &client,
            None,
        )),
    ];
    assert_eq!(status_counts(all(tasks).await), BTreeMap::from([(200, 1), (409, 1)]));
    let final_state =
        send(&app, Method::GET, &path(&s.studio, &format!("/bookings/{c}")), &pro, None).await.json();
    assert!(final_state["status"] == "completed" || final_state["status"] == "cancelled");

    // Points are never spent twice: six redemptions of 100 against a balance of 200.
    let owner = app.sign_in_again(&s.owner).await;
    let maria =
        id(&send(&app, Method::POST, &path(&s.studio, "/clients"), &owner, Some(json!({ "name": "Maria" })))
            .await
            .json());
    let mut staff_booking = s.booking("2026-06-04T12:00:00+01:00");
    staff_booking["client_id"] = json!(maria);
    let booked = id(&send(&app, Method::POST, &path(&s.studio, "/bookings"), &owner, Some(staff_booking))
        .await
        .json());
    app.clock.set(at("2026-06-04T11:01:00Z"));
    let owner = app.sign_in_again(&s.owner).await;
    assert_eq!(s.act(&app, &owner, &booked, "complete", None).await.json()["points_earned"], 200);
    let redeem = path(&s.studio, &format!("/clients/{maria}/loyalty/redeem"));
    let tasks = (0..6)
        .map(|_| tokio::spawn(send(&app, Method::POST, &redeem, &owner, Some(json!({ "points": 100 })))))
        .collect();
    assert_eq!(status_counts(all(tasks).await), BTreeMap::from([(200, 2), (409, 4)]));
    let balance =
        send(&app, Method::GET, &path(&s.studio, &format!("/clients/{maria}/loyalty")), &owner, None)
            .await
            .json();
    assert_eq!(balance["points"], 0);
}

/// The occupancy claims on this adapter's store: random sequences of bookings (any length and
/// buffer), cancellations and moves over three professionals (capacities 1, 2 and 1), across a
/// change of clocks in four zones, each committed with `Store::transact` exactly as the use
/// cases do, and checked after every step against a plain model: a claim commits exactly when
/// the model says it fits, and the stored counters are the model's, never beyond capacity.
/// 10 000 cases on each store (each case is a fresh studio; four runners share them).
async fn claims_on_the_store_follow_the_model(app: TestApp) {
    use atelier_bookings::occupancy::{self, Hold, Owner};
    use atelier_domain::scheduling::Occupancy;
    use atelier_platform::store::StoreError;
    use jiff::civil::Date;
    use jiff::tz::TimeZone;
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};

    #[derive(Debug, Clone)]
    enum Op {
        Book { pro: usize, day: i64, quarter: i64, minutes: i64, after: i64 },
        Cancel { pick: usize },
        Move { pick: usize, day: i64, quarter: i64 },
    }
    let op = prop_oneof![
        4 => (0..3usize, -1..2i64, 0..96i64, 1..13i64, 0..7i64)
            .prop_map(|(pro, day, quarter, m, a)| Op::Book { pro, day, quarter, minutes: m * 15, after: a * 5 }),
        1 => any::<usize>().prop_map(|pick| Op::Cancel { pick }),
        2 => (any::<usize>(), -1..2i64, 0..96i64).prop_map(|(pick, day, quarter)| Op::Move { pick, day, quarter }),
    ];
    const ZONES: [(&str, &str); 4] = [
        ("Europe/Lisbon", "2026-10-25"),
        ("America/New_York", "2026-03-08"),
        ("Australia/Lord_Howe", "2026-04-05"),
        ("Europe/London", "2027-03-28"),
    ];
    const CAPACITY: [u32; 3] = [1, 2, 1];
    // Counters expire two days after their hour: keep the clock before every changeover.
    app.clock.set(at("2026-01-01T00:00:00Z"));
    // Every claim's outcome is checked against the model at each step; the stored counters after
    // every step on the embedded store, after each case's last step on DynamoDB Local (three
    // queries a step would make the 10 000 cases take a quarter of an hour there).
    let every_step = app.backend == atelier_tests::Backend::Embedded;
    let cases = 10_000;
    let app = Arc::new(app);
    let handle = tokio::runtime::Handle::current();
    let next_studio = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let strategy = ((0..ZONES.len()), proptest::collection::vec(op, 1..16));
    let case = |(zone, ops): (usize, Vec<Op>)| {
        let (app, next_studio) = (app.clone(), next_studio.clone());
        tokio::task::block_in_place(|| {
            handle.block_on(async move {
                let studio =
                    format!("model{}", next_studio.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
                let (name, change) = ZONES[zone];
                let tz = TimeZone::get(name).expect("zone");
                let change: Date = change.parse().expect("date");
                let start = |day: i64, quarter: i64| {
                    let date = change.checked_add(jiff::Span::new().days(day)).expect("date");
                    let civil = date.to_datetime(jiff::civil::Time::midnight())
                        + SignedDuration::from_mins(quarter * 15);
                    tz.to_ambiguous_timestamp(civil).compatible().expect("instant")
                };
                let (window_from, window_to) = (start(-2, 0), start(3, 0));
                let commit = |release: Vec<Hold>, claim: Vec<Hold>| {
                    let ops =
                        occupancy::moves(&atelier_domain::ids::StudioId::from(&studio), &release, &claim)
                            .into_iter()
                            .map(|(op, _)| op)
                            .collect();
                    let store = app.platform.store.clone();
                    async move {
                        match store.transact(ops).await {
                            Ok(()) => Ok(true),
                            Err(StoreError::ConditionFailed { .. }) => Ok(false),
                            Err(e) => Err(TestCaseError::fail(format!("store error: {e}"))),
                        }
                    }
                };
                let model_of = |booked: &[Hold], owner: &Owner, except: Option<usize>| {
                    let mut model = Occupancy::default();
                    for (i, b) in booked.iter().enumerate() {
                        if Some(i) != except && &b.owner == owner {
                            model.add(b.start, b.end);
                        }
                    }
                    model
                };
                let mut booked: Vec<Hold> = Vec::new();
                let steps = ops.len();
                for (step, op) in ops.into_iter().enumerate() {
                    match op {
                        Op::Book { pro, day, quarter, minutes, after } => {
                            let s = start(day, quarter);
                            let hold = Hold {
                                owner: Owner::Professional(format!("p{pro}").into()),
                                start: s,
                                end: s + SignedDuration::from_mins(minutes + after),
                                capacity: CAPACITY[pro],
                            };
                            let fits = model_of(&booked, &hold.owner, None).fits(
                                hold.start,
                                hold.end,
                                hold.capacity,
                            );
                            let done = commit(vec![], vec![hold.clone()]).await?;
                            prop_assert_eq!(done, fits, "the store and the model agree on {:?}", hold);
                            if done {
                                booked.push(hold);
                            }
                        }
                        Op::Cancel { pick } if !booked.is_empty() => {
                            let hold = booked.remove(pick % booked.len());
                            prop_assert!(commit(vec![hold], vec![]).await?, "a release always applies");
                        }
                        Op::Move { pick, day, quarter } if !booked.is_empty() => {
                            let i = pick % booked.len();
                            let old = booked[i].clone();
                            let s = start(day, quarter);
                            let new = Hold { start: s, end: s + (old.end - old.start), ..old.clone() };
                            let fits =
                                model_of(&booked, &old.owner, Some(i)).fits(new.start, new.end, new.capacity);
                            let done = commit(vec![old], vec![new.clone()]).await?;
                            prop_assert_eq!(done, fits, "a move applies exactly when the new time fits");
                            if done {
                                booked[i] = new;
                            }
                        }
                        _ => {}
                    }
                    if every_step || step + 1 == steps {
                        for (pro, capacity) in CAPACITY.iter().enumerate() {
                            let owner = Owner::Professional(format!("p{pro}").into());
                            let stored = occupancy::load(
                                &app.platform,
                                &atelier_domain::ids::StudioId::from(&studio),
                                &owner,
                                window_from,
                                window_to,
                            )
                            .await
                            .map_err(|e| TestCaseError::fail(format!("load: {e}")))?;
                            let expected: BTreeMap<i64, u32> = model_of(&booked, &owner, None)
                                .0
                                .into_iter()
                                .filter(|(_, n)| *n > 0)
                                .collect();
                            prop_assert_eq!(&stored.0, &expected, "the counters are the model's");
                            prop_assert!(stored.0.values().all(|n| n <= capacity), "never beyond capacity");
                        }
                    }
                }
                Ok(())
            })
        })
    };
    // Every case is a fresh studio, so runners can share them: four at once keep DynamoDB
    // Local's round trips overlapping (one runner alone made this the longest test in CI).
    const RUNNERS: u32 = 4;
    let failures: Vec<String> = tokio::task::block_in_place(|| {
        std::thread::scope(|scope| {
            let runners: Vec<_> = (0..RUNNERS)
                .map(|_| {
                    scope.spawn(|| {
                        let config =
                            Config { cases: cases / RUNNERS, failure_persistence: None, ..Config::default() };
                        TestRunner::new(config).run(&strategy, case).err().map(|e| e.to_string())
                    })
                })
                .collect();
            runners.into_iter().filter_map(|r| r.join().expect("a runner")).collect()
        })
    });
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Edges found in review: "any professional" replays its Idempotency-Key and gives the rules'
/// 422 reasons; odd ranges and far-future dates are 4xx, never 5xx; an expired hold cannot be
/// confirmed before the job gets to it; a no-show marked days later still applies.
async fn any_professional_retries_and_odd_input(app: TestApp) {
    let s = salon(&app, "edges").await;
    let client = app.register("ana@edges.example").await;
    let anyone = |start: &str| json!({ "service_id": s.cut, "start": start });
    let keyed = |key: &str, body: Value| {
        app.request(Method::POST, &path(&s.studio, "/bookings"))
            .bearer(&client.access)
            .header("idempotency-key", key)
            .json(&body)
            .send()
    };
    // One professional: once booked, the time is taken, yet the retry gets the first answer.
    let first = keyed("any-1", anyone("2026-06-02T10:00:00+01:00")).await;
    assert_eq!(first.status, 201, "{:?}", first.body);
    assert_eq!(first.json()["professional_id"], s.pro.user_id.as_str());
    let again = keyed("any-1", anyone("2026-06-02T10:00:00+01:00")).await;
    assert_eq!(again.status, 201, "the retry replays: {:?}", again.body);
    assert_eq!(again.json(), first.json());
    keyed("any-1", anyone("2026-06-02T12:00:00+01:00")).await.assert_problem(422, "idempotency-key-reused");
    let other = app.register("bruno@edges.example").await;
    send(
        &app,
        Method::POST,
        &path(&s.studio, "/bookings"),
        &other,
        Some(anyone("2026-06-02T10:00:00+01:00")),
    )
    .await
    .assert_problem(409, "no-professional-free");
    // The rules' reasons, as for a named professional.
    for (start, reason) in [
        ("2026-06-02T10:05:00+01:00", "grid"),
        ("2026-05-20T10:00:00+01:00", "past"),
        ("2026-05-28T20:45:00+00:00", "notice"),
        ("2027-07-01T10:00:00+01:00", "horizon"),
        ("2026-06-02T20:00:00+01:00", "works"),
    ] {
        let refused =
            send(&app, Method::POST, &path(&s.studio, "/bookings"), &other, Some(anyone(start))).await;
        refused.assert_problem(422, "validation-failed");
        let text = String::from_utf8_lossy(&refused.body).to_string();
        assert!(text.contains(reason), "{start}: {text}");
    }

    // Lists: a reversed range is a 422; an open start is fine on both stores.
    let list = |query: &str| {
        send(&app, Method::GET, &path(&s.studio, &format!("/bookings?{query}")), &s.owner, None)
    };
    list("from=2026-06-03&to=2026-06-01").await.assert_problem(422, "validation-failed");
    let open = list("to=2026-06-03").await;
    assert_eq!(open.status, 200, "{:?}", open.body);
    assert_eq!(open.json()["items"].as_array().expect("items").len(), 1);
    let mine = send(&app, Method::GET, "/v1/me/bookings?to=2026-06-03T00:00:00Z", &client, None).await;
    assert_eq!(mine.status, 200, "{:?}", mine.body);
    assert_eq!(mine.json()["items"].as_array().expect("items").len(), 1);

    // Far-future dates: answered, not crashed.
    for range in ["from=9999-12-01&to=9999-12-31", "from=9999-12-29&to=9999-12-29"] {
        let uri = format!("/v1/public/studios/{}/slots?service_id={}&{range}", s.studio, s.cut);
        let response = app.request(Method::GET, &uri).send().await;
        assert!(response.status.is_client_error() || response.status == 200, "{range}: {:?}", response.body);
    }
    let series = json!({ "service_id": s.cut, "professional_id": s.pro.user_id, "start": "9999-12-01T10:00:00+00:00",
        "recurrence": { "every_weeks": 1, "count": 12 }, "mode": "available_only" });
    // Year 9999 is outside the range every instant must be in (docs/api.md): a 422 on `start`.
    let far = send(&app, Method::POST, &path(&s.studio, "/bookings/series"), &client, Some(series)).await;
    let problem = far.assert_problem(422, "validation-failed");
    assert_eq!(problem["errors"][0]["field"], "start", "{problem}");

    // An expired hold is not confirmed, even before the expiry job runs.
    let colour = service(&app, &s.studio, &s.owner, json!({ "name": "Colour", "category": "hair", "duration_minutes": 60, "price_minor": 4000, "deposit_required": true, "deposit_bps": 3000, "professional_ids": [s.pro.user_id] })).await;
    let held = send(&app, Method::POST, &path(&s.studio, "/bookings"), &client,
        Some(json!({ "service_id": colour, "professional_id": s.pro.user_id, "start": "2026-06-04T10:00:00+01:00" }))).await.json();
    assert_eq!(held["status"], "pending");
    app.clock.advance(SignedDuration::from_mins(16));
    let owner = app.sign_in_again(&s.owner).await;
    s.act(&app, &owner, &id(&held), "confirm", None).await.assert_problem(409, "hold-expired");

    // A no-show marked three days after the start (the hour's counters have expired by then).
    app.clock.set(at("2026-06-05T12:00:00Z"));
    let owner = app.sign_in_again(&s.owner).await;
    let late = s.act(&app, &owner, &id(&first.json()), "no-show", None).await;
    assert_eq!(late.status, 200, "{:?}", late.body);
    assert_eq!(late.json()["status"], "no_show");
}

/// Public slot answers carry an entity tag from what they were computed from: a client holding
/// it gets a 304 (no body) until a booking, a cancellation, time off or a week change in the
/// range, or the clock, changes the answer; a booking on another date does not.
async fn slot_answers_revalidate_until_their_inputs_change(app: TestApp) {
    let s = salon(&app, "revalidate").await;
    let client = app.register("ana@revalidate.example").await;
    let uri =
        format!("/v1/public/studios/{}/slots?service_id={}&from=2026-06-02&to=2026-06-03", s.studio, s.cut);
    let get = |held: Option<String>| {
        let mut request = app.request(Method::GET, &uri);
        if let Some(tag) = held {
            request = request.header("if-none-match", &tag);
        }
        request.send()
    };
    let etag = |r: &TestResponse| r.header("etag").expect("an ETag").to_owned();
    let first = get(None).await;
    assert_eq!(first.status, 200, "{:?}", first.body);
    assert_eq!(first.header("cache-control"), Some("public, no-cache"));
    let tag = etag(&first);
    assert!(tag.starts_with('"') && tag.ends_with('"') && tag.len() == 34, "a strong tag: {tag}");
    assert_eq!(get(None).await.header("etag"), Some(tag.as_str()), "the same inputs, the same tag");

    let held = get(Some(tag.clone())).await;
    assert_eq!(held.status, 304, "{:?}", held.body);
    assert!(held.body.is_empty(), "a 304 has no body");
    assert_eq!(held.header("etag"), Some(tag.as_str()));
    assert_eq!(held.header("cache-control"), Some("public, no-cache"));
    assert_eq!(get(Some(format!("W/{tag}, \"other\""))).await.status, 304, "weak comparison, in a list");
    assert_eq!(get(Some("\"other\"".into())).await.status, 200);
    assert_eq!(get(Some("*".into())).await.status, 304);
    // Bad input is refused whatever the client holds.
    let bad = app
        .request(Method::GET, &format!("{uri}&professional_id=nobody"))
        .header("if-none-match", "*")
        .send()
        .await;
    bad.assert_problem(422, "validation-failed");

    // A booking on another date leaves this answer as it was.
    s.book_ok(&app, &client, "2026-06-10T10:00:00+01:00").await;
    assert_eq!(get(Some(tag.clone())).await.status, 304, "a booking outside the range");

    // A booking in the range: the held answer is stale, and the new one lacks the slot.
    let booked = s.book_ok(&app, &client, "2026-06-02T10:00:00+01:00").await;
    let after_booking = get(Some(tag.clone())).await;
    assert_eq!(after_booking.status, 200);
    let tag_booked = etag(&after_booking);
    assert_ne!(tag_booked, tag);
    let body = after_booking.json();
    let starts: Vec<&str> =
        body["slots"].as_array().expect("slots").iter().filter_map(|s| s["start"].as_str()).collect();
    assert!(starts.contains(&"2026-06-02T11:15:00+01:00"), "{starts:?}");
    assert!(!starts.contains(&"2026-06-02T10:00:00+01:00"), "{starts:?}");
    assert_eq!(get(Some(tag_booked.clone())).await.status, 304);

    // A cancellation frees it: another tag.
    let cancelled = s.act(&app, &client, &id(&booked), "cancel", Some(json!({}))).await;
    assert_eq!(cancelled.status, 200, "{:?}", cancelled.body);
    let after_cancel = get(Some(tag_booked.clone())).await;
    assert_eq!(after_cancel.status, 200);
    let tag_cancelled = etag(&after_cancel);
    assert_ne!(tag_cancelled, tag_booked);

    // Time off on one of the dates.
    let off = s.day_off(&app, "2026-06-03").await;
    assert_eq!(off.status, 201, "{:?}", off.body);
    let after_off = get(Some(tag_cancelled.clone())).await;
    assert_eq!(after_off.status, 200);
    let tag_off = etag(&after_off);

    // A change of the week.
    every_day(&app, &s.studio, &s.owner, &s.pro.user_id, "10:00", "18:00").await;
    let after_week = get(Some(tag_off.clone())).await;
    assert_eq!(after_week.status, 200);
    let tag_week = etag(&after_week);
    assert_ne!(tag_week, tag_off);

    // The clock: minutes and days pass without changing a later week's answer, until the
    // notice reaches into the range.
    app.clock.advance(SignedDuration::from_secs(5));
    assert_eq!(get(Some(tag_week.clone())).await.status, 304, "seconds later");
    app.clock.advance(SignedDuration::from_hours(24));
    assert_eq!(
        get(Some(tag_week.clone())).await.status,
        304,
        "a day later: neither notice nor horizon cuts the range"
    );
    app.clock.set(at("2026-06-02T09:30:00Z"));
    let inside = get(Some(tag_week)).await;
    assert_eq!(inside.status, 200, "the notice now excludes the morning");
    let body = inside.json();
    let first = body["slots"][0]["start"].as_str().expect("a slot");
    assert_eq!(first, "2026-06-02T11:30:00+01:00", "an hour's notice from 10:30 local");
}

atelier_tests::on_both_backends!(
    slot_answers_revalidate_until_their_inputs_change,
    a_client_may_overlap_with_different_professionals,
    a_client_finds_books_moves_and_cancels_with_the_fee,
    staff_book_for_a_client_complete_and_mark_no_shows,
    bad_starts_are_refused_with_a_reason,
    two_hundred_attempts_on_one_slot_book_it_once,
    idempotency_keys_make_retries_safe,
    transaction_conflicts_are_retried_then_reported,
    overbooking_capacity_and_review,
    series_all_or_nothing_or_what_is_free,
    deposits_hold_the_slot_until_the_hold_expires,
    reminders_and_no_show_detection,
    the_waitlist_gets_freed_time_in_order,
    loyalty_points_expire_without_activity,
    lists_by_professional_client_and_status,
    slots_are_right_on_dst_days,
    calendar_feeds_at_secret_addresses,
    random_sequences_never_overlap,
    concurrent_changes_apply_once,
    claims_on_the_store_follow_the_model,
    any_professional_retries_and_odd_input,
);

/// DynamoDB requests per operation, counted by an SDK interceptor against DynamoDB Local (the
/// figures in docs/performance.md come from this test's output: run it with `--nocapture`).
/// A booking is one `TransactWriteItems` and two reads (plus the outbox's clean-up after
/// commit); free slots for a month cost the same number of queries however booked the month
/// is; nothing ever scans.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_calls_per_operation() {
    use atelier_bookings::{changes, create, slots};
    let app = TestApp::on(atelier_tests::Backend::Aws).await;
    let s = salon(&app, "calls").await;
    let (clients, settings) = app.aws_parts().expect("AWS adapters");
    let counter = atelier_aws::CallCounter::new();
    let store = atelier_aws::DynamoStore::new(counter.instrument(&clients.dynamodb), settings.table.clone());
    let platform = atelier_platform::Platform::new(
        Arc::new(store),
        Arc::new(atelier_aws::SqsQueue::new(clients.sqs.clone(), settings.queue_urls.clone())),
        Arc::new(atelier_aws::S3Blobs::new(clients.s3.clone(), settings.bucket.clone())),
        app.clock.clone(),
        Arc::new(atelier_platform::ids::UlidGenerator),
    );
    let client = app.register("ana@calls.example").await;
    let (user, access) = client_in_studio(&app, &client, &s.studio).await;
    let meta = atelier_platform::audit::RequestMeta::new("203.0.113.7", "tests");
    let actor = atelier_studios::Actor { access: &access, meta: &meta };
    let profile = user.profile();
    let booker = create::Booker { actor, user: &profile };
    let request = |start: &str| -> create::BookingRequest {
        serde_json::from_value(s.booking(start)).expect("request")
    };
    let reads = |counts: &BTreeMap<String, usize>| {
        ["GetItem", "BatchGetItem", "Query"]
            .iter()
            .map(|op| counts.get(*op).copied().unwrap_or(0))
            .sum::<usize>()
    };
    let mut report = Vec::new();
    let mut everything = BTreeMap::new();
    let mut record = |what: &str, counts: BTreeMap<String, usize>| {
        for (op, n) in &counts {
            *everything.entry(op.clone()).or_insert(0) += n;
        }
        report.push(format!("{what}: {counts:?}"));
        counts
    };

    // The first booking of an account in a studio also creates its client record (same transaction).
    counter.take();
    create::create(&platform, booker, request("2026-06-02T10:00:00+01:00"), None).await.expect("booked");
    let first = record("book (first time in the studio)", counter.take());
    assert_eq!(first.get("TransactWriteItems"), Some(&1), "{first:?}");
    assert!(reads(&first) <= 2, "{first:?}");
    let key = atelier_platform::idempotency::IdempotencyKey::new(&s.studio, &client.user_id, "k", b"x")
        .expect("key");
    create::create(&platform, booker, request("2026-06-03T10:00:00+01:00"), Some(key)).await.expect("booked");
    let booking = record("book (with an idempotency key)", counter.take());
    assert_eq!(booking.get("TransactWriteItems"), Some(&1), "{booking:?}");
    // The third read asks whether the client has booked here before (a new client in the
    // daily tallies); a first booking that creates the client record needs none.
    assert_eq!(
        reads(&booking),
        3,
        "one batch read, the exceptions query, the first-visit query: {booking:?}"
    );

    let query = |n: u8| slots::SlotQuery {
        service_id: s.cut.clone().into(),
        professional_id: Some(s.pro.user_id.clone().into()),
        from: format!("2026-06-{n:02}").parse().expect("date"),
        to: "2026-06-30".parse().expect("date"),
    };
    slots::free(&platform, &atelier_domain::ids::StudioId::from(&s.studio), &query(1)).await.expect("slots");
    let quiet = record("free slots, one professional, a month (2 bookings)", counter.take());
    for day in 4..=20 {
        create::create(&platform, booker, request(&format!("2026-06-{day:02}T15:00:00+01:00")), None)
            .await
            .expect("booked");
    }
    counter.take();
    slots::free(&platform, &atelier_domain::ids::StudioId::from(&s.studio), &query(1)).await.expect("slots");
    let busy = record("free slots, one professional, a month (19 bookings)", counter.take());
    assert_eq!(quiet, busy, "a constant number of calls, however booked the month is");
    assert_eq!(reads(&busy), 3, "one batch read, the exceptions query, the counters query: {busy:?}");

    let booked = app
        .platform
        .store
        .query_all(
            Query::partition(format!("STUDIO#{}", s.studio)).sort(SortKey::BeginsWith("BOOKING#".into())),
            100,
        )
        .await
        .expect("bookings");
    let target: Value = booked[0].to_record().expect("booking");
    counter.take();
    let moved = changes::RescheduleRequest { start: at("2026-06-24T09:00:00Z"), professional_id: None };
    changes::reschedule(
        &platform,
        actor,
        &atelier_domain::ids::BookingId::from(&target["id"].as_str().expect("id")),
        &moved,
    )
    .await
    .expect("moved");
    let reschedule = record("reschedule", counter.take());
    assert_eq!(reschedule.get("TransactWriteItems"), Some(&1), "{reschedule:?}");
    changes::cancel(
        &platform,
        actor,
        &atelier_domain::ids::BookingId::from(&target["id"].as_str().expect("id")),
        &changes::CancelRequest::default(),
    )
    .await
    .expect("cancelled");
    let cancel = record("cancel", counter.take());
    assert_eq!(cancel.get("TransactWriteItems"), Some(&1), "{cancel:?}");
    assert_eq!(reads(&cancel), 1, "{cancel:?}");
    atelier_app::jobs::run(Job::DetectNoShows, &platform).await.expect("job");
    record("detect-no-shows, nothing due", counter.take());

    assert!(!everything.contains_key("Scan"), "nothing scans: {everything:?}");
    eprintln!("DynamoDB calls per operation (DynamoDB Local):\n{}", report.join("\n"));
}

/// The rule (docs/api.md, Bookings): a client may be in two places of the salon at once with
/// different professionals (hair and nails); one professional's time never overlaps.
async fn a_client_may_overlap_with_different_professionals(app: TestApp) {
    let s = salon(&app, "overlap").await;
    let nails_pro = app.join(&s.studio, &s.owner, "nails@overlap.example", "professional").await;
    app.make_professional(&s.studio, &s.owner, &nails_pro).await;
    every_day(&app, &s.studio, &s.owner, &nails_pro.user_id, "09:00", "18:00").await;
    let nails = service(
        &app,
        &s.studio,
        &s.owner,
        json!({ "name": "Nails", "category": "nails", "duration_minutes": 60, "price_minor": 2500, "professional_ids": [nails_pro.user_id] }),
    )
    .await;
    let client = app.register("both@overlap.example").await;
    let start = "2026-06-02T10:00:00+01:00";
    s.book_ok(&app, &client, start).await;
    let body = json!({ "service_id": nails, "professional_id": nails_pro.user_id, "start": start });
    let second = send(&app, Method::POST, &path(&s.studio, "/bookings"), &client, Some(body)).await;
    assert_eq!(second.status, 201, "overlapping, with another professional: {:?}", second.body);
    // The same professional at the same time, for the same client: refused.
    s.book(&app, &client, start).await.assert_problem(409, "slot-taken");
}
