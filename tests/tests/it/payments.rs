//! Payments end to end through the router, on both adapters, with the mock provider: a
//! deposit that confirms a held booking, refunds from the cancellation policy, a late payment
//! refunded after the hold expired, signed webhooks applied once, concurrent refunds that never
//! exceed the payment, the provider down, payments in person, the ledger and reconciliation.
//! The Stripe adapter is tested against localstripe at the end.

use atelier_app::jobs::{self, Job, JobReport};
use atelier_payments::signature;
use atelier_platform::payments::{NewIntent, NewRefund, PaymentProvider, ProviderEvent};
use atelier_tests::{Account, MOCK_SECRET, TestApp, TestResponse};
use http::Method;
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

use crate::bookings::{Salon, path, salon, send, service};

const START: &str = "2026-06-02T10:00:00+01:00";

/// A salon with a fully prepaid colour (EUR 60, deposit 100 %).
async fn prepaid(app: &TestApp, slug: &str) -> (Salon, String) {
    let s = salon(app, slug).await;
    let colour = service(
        app,
        &s.studio,
        &s.owner,
        json!({ "name": "Colour", "category": "hair", "duration_minutes": 60, "price_minor": 6000,
                "deposit_required": true, "deposit_bps": 10000, "professional_ids": [s.pro.user_id] }),
    )
    .await;
    (s, colour)
}

fn booking_body(s: &Salon, service: &str, start: &str) -> Value {
    json!({ "service_id": service, "professional_id": s.pro.user_id, "start": start })
}

async fn hold(app: &TestApp, s: &Salon, service: &str, who: &Account, start: &str) -> Value {
    let response =
        send(app, Method::POST, &path(&s.studio, "/bookings"), who, Some(booking_body(s, service, start)))
            .await;
    assert_eq!(response.status, 201, "{}", String::from_utf8_lossy(&response.body));
    response.json()
}

async fn pay(app: &TestApp, s: &Salon, who: &Account, payment_id: &str, method: &str) -> TestResponse {
    send(
        app,
        Method::POST,
        &path(&s.studio, &format!("/payments/{payment_id}/confirm")),
        who,
        Some(json!({ "payment_method": method })),
    )
    .await
}

async fn get(app: &TestApp, s: &Salon, who: &Account, rest: &str) -> Value {
    let response = send(app, Method::GET, &path(&s.studio, rest), who, None).await;
    assert_eq!(response.status, 200, "{rest}: {}", String::from_utf8_lossy(&response.body));
    response.json()
}

/// Posts a provider event to the webhook route as the provider would.
async fn post_event(app: &TestApp, event: &ProviderEvent) -> TestResponse {
    let (body, header) = app.payments.signed(event);
    app.request(Method::POST, "/v1/payments/webhooks/mock")
        .header("content-type", "application/json")
        .header("stripe-signature", &header)
        .body(body)
        .send()
        .await
}

async fn run(app: &TestApp, job: Job) -> JobReport {
    jobs::run(job, &app.platform).await.expect("job runs")
}

async fn drain(app: &TestApp) {
    while app.run_workers().await > 0 {}
}

fn intent_of(app: &TestApp, payment: &Value) -> String {
    payment["intent_id"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| panic!("no intent: {payment} ({} intents)", app.payments.intent_count()))
}

async fn inbox_titles(app: &TestApp, who: &Account) -> Vec<String> {
    let response = send(app, Method::GET, "/v1/me/notifications?limit=100", who, None).await;
    response.json()["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|n| n["title"].as_str().unwrap_or("").to_owned())
        .collect()
}

async fn a_deposit_confirms_the_booking_and_a_cancellation_refunds_beyond_the_fee(app: TestApp) {
    let (s, colour) = prepaid(&app, "pay-flow").await;
    let client = app.register("ana@pay-flow.example").await;
    let held = hold(&app, &s, &colour, &client, START).await;
    assert_eq!(held["status"], "pending");
    let due = &held["payment"];
    assert_eq!(due["amount_minor"], 6000);
    assert_eq!(due["currency"], "EUR");
    assert_eq!(due["provider"], "mock");
    assert_eq!(due["purpose"], "deposit");
    assert_eq!(due["hold_until"], held["timers"]["hold_until"]);
    assert!(due["client_secret"].as_str().is_some_and(|c| c.contains("_secret_")), "{due}");
    let payment_id = due["payment_id"].as_str().expect("payment id").to_owned();
    let booking_id = held["id"].as_str().expect("id").to_owned();
    // Asking again gets the same payment.
    let again = send(
        &app,
        Method::POST,
        &path(&s.studio, &format!("/bookings/{booking_id}/checkout")),
        &client,
        Some(json!({ "purpose": "deposit" })),
    )
    .await;
    assert_eq!(again.status, 200, "{:?}", again.json());
    assert_eq!(again.json()["payment_id"], payment_id.as_str());
    assert_eq!(app.payments.intent_count(), 1);

    // No receipt before it is paid; a method the provider does not know is refused.
    send(&app, Method::GET, &path(&s.studio, &format!("/payments/{payment_id}/receipt")), &client, None)
        .await
        .assert_problem(409, "payment-not-received");
    pay(&app, &s, &client, &payment_id, "pm_no_such_method").await.assert_problem(422, "payment-refused");
    // A decline leaves the booking held.
    pay(&app, &s, &client, &payment_id, "pm_card_chargeDeclined")
        .await
        .assert_problem(402, "payment-declined");
    let booking = get(&app, &s, &client, &format!("/bookings/{booking_id}")).await;
    assert_eq!(booking["status"], "pending");
    let payment = get(&app, &s, &client, &format!("/payments/{payment_id}")).await;
    assert_eq!(payment["status"], "awaiting_payment");
    assert_eq!(payment["last_error"], "Your card was declined.");

    // Paid: the booking is confirmed in the same transaction.
    let paid = pay(&app, &s, &client, &payment_id, "pm_card_visa").await;
    assert_eq!(paid.status, 200, "{:?}", paid.json());
    assert_eq!(paid.json()["status"], "succeeded");
    assert_eq!(paid.json()["received_minor"], 6000);
    assert_eq!(get(&app, &s, &client, &format!("/bookings/{booking_id}")).await["status"], "confirmed");
    pay(&app, &s, &client, &payment_id, "pm_card_visa").await.assert_problem(409, "payment-not-payable");

    // The provider's webhooks arrive afterwards, five times each: nothing changes again.
    let events = app.payments.take_events();
    assert_eq!(
        events.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(),
        ["payment_intent.payment_failed", "payment_intent.succeeded"]
    );
    for event in &events {
        let first = post_event(&app, event).await;
        assert_eq!(first.status, 200, "{:?}", first.json());
        for _ in 0..4 {
            let again = post_event(&app, event).await;
            assert_eq!(again.status, 200);
            assert_eq!(again.json()["outcome"], "duplicate");
        }
    }
    let money = get(&app, &s, &client, &format!("/bookings/{booking_id}/payments")).await;
    assert_eq!(
        money["balances"],
        json!([{ "currency": "EUR", "charged_minor": 6000, "refunded_minor": 0, "net_minor": 6000 }])
    );
    assert_eq!(money["owed_minor"], 0);
    let receipt = get(&app, &s, &client, &format!("/payments/{payment_id}/receipt")).await;
    assert_eq!(receipt["received_text"], "EUR 60.00");
    assert_eq!(receipt["service"], "Colour");
    drain(&app).await;
    assert!(inbox_titles(&app, &client).await.contains(&"Payment received".to_owned()));

    // Cancelled 21 hours before: the 50 % tier keeps 30.00 and refunds the other 30.00.
    app.clock.set("2026-06-01T12:00:00Z".parse::<Timestamp>().expect("instant"));
    let client = app.sign_in_again(&client).await;
    let cancelled =
        send(&app, Method::POST, &path(&s.studio, &format!("/bookings/{booking_id}/cancel")), &client, None)
            .await;
    assert_eq!(cancelled.status, 200, "{:?}", cancelled.json());
    assert_eq!(cancelled.json()["cancellation"]["fee_minor"], 3000);
    drain(&app).await;
    drain(&app).await;
    let intent = intent_of(&app, &payment);
    let refunds = app.payments.refunds_of(&intent);
    assert_eq!(
        refunds.iter().map(|r| r.amount).collect::<Vec<_>>(),
        [3000],
        "one refund of the part beyond the fee"
    );
    let payment = get(&app, &s, &client, &format!("/payments/{payment_id}")).await;
    assert_eq!(payment["refunded_minor"], 3000);
    assert_eq!(payment["refunds"][0]["cause"], "cancellation");
    assert_eq!(payment["refunds"][0]["status"], "succeeded");
    let owner = app.sign_in_again(&s.owner).await;
    let ledger = get(&app, &s, &owner, "/ledger").await;
    let entries = ledger["items"].as_array().expect("entries");
    assert_eq!(
        entries.iter().map(|e| e["amount_minor"].as_i64().unwrap_or(0)).collect::<Vec<_>>(),
        [6000, -3000]
    );
    assert_eq!(entries[0]["by"], json!({ "kind": "provider" }), "the provider reported the charge");
    assert_eq!(entries[1]["by"], json!({ "kind": "system" }), "the policy owed the refund");
    let client_id = held["client_id"].as_str().expect("client");
    let balance = get(&app, &s, &owner, &format!("/clients/{client_id}/balance")).await;
    assert_eq!(balance["balances"][0]["net_minor"], 3000);
    // The refund event's webhook and redeliveries change nothing more.
    for event in app.payments.take_events() {
        for _ in 0..3 {
            assert_eq!(post_event(&app, &event).await.status, 200);
        }
    }
    drain(&app).await;
    assert_eq!(app.payments.refunds_of(&intent).len(), 1);
    assert_eq!(get(&app, &s, &client, &format!("/payments/{payment_id}")).await["refunded_minor"], 3000);
    assert!(inbox_titles(&app, &client).await.contains(&"Refund on its way".to_owned()));
    // Days later the refund fails at the provider (the card's account was closed): the money
    // is back with the studio, refundable again, and the ledger says so.
    app.payments.fail_refund(&app.payments.refunds_of(&intent)[0].id);
    for event in app.payments.take_events() {
        for _ in 0..2 {
            assert_eq!(post_event(&app, &event).await.status, 200);
        }
    }
    let payment = get(&app, &s, &client, &format!("/payments/{payment_id}")).await;
    assert_eq!(payment["refunded_minor"], 0);
    assert_eq!(payment["refunds"][0]["status"], "failed");
    let ledger = get(&app, &s, &owner, "/ledger").await;
    let amounts: Vec<i64> = ledger["items"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| e["amount_minor"].as_i64().unwrap_or(0))
        .collect();
    assert_eq!(amounts, [6000, -3000, 3000]);
}

async fn a_payment_after_the_hold_expired_is_refunded_and_never_double_books(app: TestApp) {
    let (s, colour) = prepaid(&app, "pay-late").await;
    let ana = app.register("ana@pay-late.example").await;
    let held = hold(&app, &s, &colour, &ana, START).await;
    let payment_id = held["payment"]["payment_id"].as_str().expect("payment").to_owned();
    let processing = pay(&app, &s, &ana, &payment_id, "pm_card_late").await;
    assert_eq!(processing.json()["status"], "processing");
    // The hold runs out; the slot is free and someone else takes it.
    app.clock.advance(SignedDuration::from_mins(16));
    let JobReport::ExpireHolds(expired) = run(&app, Job::ExpireHolds).await else { panic!("report") };
    assert_eq!(expired.done, 1);
    let bruno = app.register("bruno@pay-late.example").await;
    let taken = hold(&app, &s, &colour, &bruno, START).await;
    // Paying for it now is refused (it would only be refunded).
    let intents = app.payments.intent_count();
    let ana = app.sign_in_again(&ana).await;
    pay(&app, &s, &ana, &payment_id, "pm_card_visa").await.assert_problem(409, "payment-not-payable");
    assert_eq!(app.payments.intent_count(), intents);
    // Then the late payment succeeds.
    assert_eq!(app.payments.settle_late(), 1);
    for event in app.payments.take_events() {
        assert_eq!(post_event(&app, &event).await.status, 200);
    }
    let booking = get(&app, &s, &ana, &format!("/bookings/{}", held["id"].as_str().expect("id"))).await;
    assert_eq!(booking["status"], "cancelled", "never confirmed on a slot that is gone");
    let payment = get(&app, &s, &ana, &format!("/payments/{payment_id}")).await;
    assert_eq!(payment["status"], "succeeded");
    assert_eq!(payment["refunded_minor"], 6000);
    assert_eq!(payment["refunds"][0]["cause"], "late_payment");
    let intent = intent_of(&app, &payment);
    drain(&app).await;
    drain(&app).await;
    assert_eq!(
        app.payments.refunds_of(&intent).iter().map(|r| r.amount).sum::<i64>(),
        6000,
        "refunded once, in full"
    );
    assert!(inbox_titles(&app, &ana).await.contains(&"Refund on its way".to_owned()), "the client is told");
    let other = get(&app, &s, &bruno, &format!("/bookings/{}", taken["id"].as_str().expect("id"))).await;
    assert_eq!(other["status"], "pending", "the new booking keeps its hold");
}

async fn a_payment_racing_the_hold_expiry_ends_one_way_or_the_other(app: TestApp) {
    let (s, colour) = prepaid(&app, "pay-race").await;
    let client = app.register("ana@pay-race.example").await;
    let trials = 50;
    let mut held = Vec::new();
    for i in 0..trials {
        let day = 2 + i / 8;
        let hour = 9 + i % 8;
        let start = format!("2026-06-{day:02}T{hour:02}:00:00+01:00");
        let booking = hold(&app, &s, &colour, &client, &start).await;
        let payment_id = booking["payment"]["payment_id"].as_str().expect("payment").to_owned();
        assert_eq!(pay(&app, &s, &client, &payment_id, "pm_card_late").await.status, 200);
        held.push((booking["id"].as_str().expect("id").to_owned(), payment_id));
    }
    app.payments.take_events();
    app.clock.advance(SignedDuration::from_mins(16));
    assert_eq!(app.payments.settle_late(), trials);
    let events = app.payments.take_events();
    let platform = app.platform.clone();
    let expiry = tokio::spawn(async move { jobs::run(Job::ExpireHolds, &platform).await });
    let posts: Vec<_> = events
        .iter()
        .map(|event| {
            let (body, header) = app.payments.signed(event);
            app.request(Method::POST, "/v1/payments/webhooks/mock")
                .header("stripe-signature", &header)
                .body(body)
                .send()
        })
        .collect();
    for response in futures_util::future::join_all(posts).await {
        assert_eq!(response.status, 200, "{:?}", response.json());
    }
    expiry.await.expect("task").expect("expiry job");
    run(&app, Job::ExpireHolds).await;
    drain(&app).await;
    drain(&app).await;
    let client = app.sign_in_again(&client).await;
    let (mut confirmed, mut refunded) = (0, 0);
    for (booking_id, payment_id) in held {
        let booking = get(&app, &s, &client, &format!("/bookings/{booking_id}")).await;
        let payment = get(&app, &s, &client, &format!("/payments/{payment_id}")).await;
        assert_eq!(payment["status"], "succeeded");
        let returned: i64 =
            app.payments.refunds_of(&intent_of(&app, &payment)).iter().map(|r| r.amount).sum();
        match booking["status"].as_str() {
            Some("confirmed") => {
                assert_eq!(returned, 0, "confirmed and refunded: {booking}");
                confirmed += 1;
            }
            Some("cancelled") => {
                assert_eq!(returned, 6000, "cancelled and kept the money: {booking}");
                assert_eq!(payment["refunded_minor"], 6000);
                refunded += 1;
            }
            other => panic!("neither: {other:?}"),
        }
    }
    assert_eq!(confirmed + refunded, trials);
}

async fn webhook_signatures_are_checked_before_anything_is_read(app: TestApp) {
    let (s, colour) = prepaid(&app, "pay-sig").await;
    let client = app.register("ana@pay-sig.example").await;
    let held = hold(&app, &s, &colour, &client, START).await;
    let payment_id = held["payment"]["payment_id"].as_str().expect("payment").to_owned();
    let intent_id = get(&app, &s, &client, &format!("/payments/{payment_id}")).await["intent_id"]
        .as_str()
        .expect("intent")
        .to_owned();
    // A success the mock made, delivered with every kind of bad signature.
    app.payments.confirm_intent(&intent_id, "pm_card_visa").await.expect("paid at the provider");
    let event = app.payments.take_events().pop().expect("the success event");
    let (body, _) = app.payments.signed(&event);
    let now = app.clock_now().as_second();
    let post = |header: String, body: Vec<u8>| {
        app.request(Method::POST, "/v1/payments/webhooks/mock")
            .header("stripe-signature", &header)
            .body(body)
            .send()
    };
    let reserialised =
        serde_json::to_vec_pretty(&serde_json::from_slice::<Value>(&body).expect("json")).expect("json");
    let refused = [
        signature::header(&["whsec_wrong"], now, &body),
        signature::header(&[MOCK_SECRET], now - 301, &body),
        signature::header(&[MOCK_SECRET], now + 301, &body),
        format!("t={now},v1="),
        format!("v1={}", signature::sign(MOCK_SECRET, now, &body)),
        String::new(),
    ];
    for header in refused {
        post(header.clone(), body.clone()).await.assert_problem(400, "bad-request");
    }
    post(signature::header(&[MOCK_SECRET], now, &body), reserialised)
        .await
        .assert_problem(400, "bad-request");
    assert_eq!(
        get(&app, &s, &client, &format!("/bookings/{}", held["id"].as_str().expect("id"))).await["status"],
        "pending",
        "nothing happened"
    );
    // A rolled secret: two v1 values, one of them good.
    let rolled = signature::header(&["whsec_previous", MOCK_SECRET], now, &body);
    let applied = post(rolled, body.clone()).await;
    assert_eq!(applied.status, 200, "{:?}", applied.json());
    assert_eq!(applied.json()["outcome"], "applied");
    assert_eq!(
        get(&app, &s, &client, &format!("/bookings/{}", held["id"].as_str().expect("id"))).await["status"],
        "confirmed"
    );
    // Unknown types are acknowledged and ignored; a provider that is not this deployment's is 404.
    let unknown = ProviderEvent {
        id: "evt_unknown".into(),
        kind: "customer.created".into(),
        created: now,
        object: json!({ "object": "customer" }),
    };
    let ignored = post_event(&app, &unknown).await;
    assert_eq!((ignored.status.as_u16(), ignored.json()["outcome"].clone()), (200, json!("ignored")));
    app.request(Method::POST, "/v1/payments/webhooks/stripe")
        .body(body)
        .send()
        .await
        .assert_problem(404, "not-found");
}

async fn concurrent_refunds_never_exceed_the_payment(app: TestApp) {
    let (s, colour) = prepaid(&app, "pay-refund").await;
    let client = app.register("ana@pay-refund.example").await;
    let held = hold(&app, &s, &colour, &client, START).await;
    let payment_id = held["payment"]["payment_id"].as_str().expect("payment").to_owned();
    assert_eq!(pay(&app, &s, &client, &payment_id, "pm_card_visa").await.status, 200);
    let refunds = path(&s.studio, &format!("/payments/{payment_id}/refunds"));
    // Bad amounts change nothing.
    for (body, status, slug) in [
        (json!({ "amount_minor": -5 }), 422, "validation-failed"),
        (json!({ "amount_minor": 0 }), 422, "validation-failed"),
        (json!({ "amount_minor": 6001 }), 422, "refund-exceeds-payment"),
        (json!({ "amount_minor": 100, "currency": "USD" }), 422, "wrong-currency"),
        (json!({ "amount_minor": "100" }), 422, "invalid-body"),
    ] {
        send(&app, Method::POST, &refunds, &s.owner, Some(body)).await.assert_problem(status, slug);
    }
    send(&app, Method::POST, &refunds, &client, Some(json!({ "amount_minor": 100 })))
        .await
        .assert_problem(404, "not-found");
    // Ten at once, 10.00 each, on a payment of 60.00: six fit.
    let attempts: Vec<_> = (0..10)
        .map(|i| {
            send(
                &app,
                Method::POST,
                &refunds,
                &s.owner,
                Some(json!({ "amount_minor": 1000, "reason": format!("goodwill {i}") })),
            )
        })
        .collect();
    let mut made = 0;
    for response in futures_util::future::join_all(attempts).await {
        match response.status.as_u16() {
            201 => made += 1,
            422 => {
                response.assert_problem(422, "refund-exceeds-payment");
            }
            other => panic!("{other}: {:?}", response.json()),
        }
    }
    assert_eq!(made, 6);
    let payment = get(&app, &s, &s.owner, &format!("/payments/{payment_id}")).await;
    assert_eq!(payment["refunded_minor"], 6000);
    assert_eq!(
        app.payments.refunds_of(&intent_of(&app, &payment)).iter().map(|r| r.amount).sum::<i64>(),
        6000
    );
    assert!(
        payment["refunds"]
            .as_array()
            .expect("refunds")
            .iter()
            .all(|r| r["requested_by"] == s.owner.user_id.as_str())
    );
    // The same key is the same refund.
    let replay = |key: &str| {
        app.request(Method::POST, &refunds)
            .bearer(&s.owner.access)
            .header("idempotency-key", key)
            .json(&json!({ "amount_minor": 1 }))
            .send()
    };
    replay("refund-key-1").await.assert_problem(422, "refund-exceeds-payment");
}

async fn the_provider_down_answers_in_time_and_a_retry_pays_once(app: TestApp) {
    let (s, colour) = prepaid(&app, "pay-down").await;
    let client = app.register("ana@pay-down.example").await;
    app.payments.set_down(true);
    let attempt = || {
        app.request(Method::POST, &path(&s.studio, "/bookings"))
            .bearer(&client.access)
            .header("idempotency-key", "book-colour-1")
            .json(&booking_body(&s, &colour, START))
            .send()
    };
    let down = attempt().await;
    down.assert_problem(503, "payment-provider-unavailable");
    assert_eq!(down.header("retry-after"), Some("5"));
    assert_eq!(app.payments.intent_count(), 0);
    app.payments.set_down(false);
    let retried = attempt().await;
    assert_eq!(retried.status, 201, "{:?}", retried.json());
    assert!(retried.json()["payment"]["payment_id"].is_string());
    let again = attempt().await;
    assert_eq!(again.json()["payment"]["payment_id"], retried.json()["payment"]["payment_id"]);
    assert_eq!(app.payments.intent_count(), 1, "one intent whatever the retries");
    let mine = send(&app, Method::GET, "/v1/me/bookings", &client, None).await.json();
    assert_eq!(mine["items"].as_array().expect("items").len(), 1, "one booking");
    // A slow provider that answers within its time still pays; one that does not answer in
    // time is "unavailable", like one that is down (the Stripe adapter's timeout is tested
    // against a silent server below).
    app.payments.set_delay(Some(std::time::Duration::from_millis(50)));
    let payment_id = retried.json()["payment"]["payment_id"].as_str().expect("payment").to_owned();
    assert_eq!(pay(&app, &s, &client, &payment_id, "pm_card_visa").await.status, 200);
    app.payments.set_delay(None);
}

async fn payments_in_person_settle_the_balance(app: TestApp) {
    let s = salon(&app, "pay-desk").await;
    let deposit = service(
        &app,
        &s.studio,
        &s.owner,
        json!({ "name": "Colour", "category": "hair", "duration_minutes": 60, "price_minor": 6000,
                "deposit_required": true, "deposit_bps": 2500, "professional_ids": [s.pro.user_id] }),
    )
    .await;
    let client = app.register("ana@pay-desk.example").await;
    let held = hold(&app, &s, &deposit, &client, START).await;
    let booking_id = held["id"].as_str().expect("id").to_owned();
    let payment_id = held["payment"]["payment_id"].as_str().expect("payment").to_owned();
    assert_eq!(held["payment"]["amount_minor"], 1500);
    let desk = path(&s.studio, &format!("/bookings/{booking_id}/payments"));
    send(&app, Method::POST, &desk, &s.owner, Some(json!({ "method": "cash" })))
        .await
        .assert_problem(409, "nothing-due");
    assert_eq!(pay(&app, &s, &client, &payment_id, "pm_card_visa").await.status, 200);
    assert_eq!(get(&app, &s, &client, &format!("/bookings/{booking_id}/payments")).await["owed_minor"], 4500);
    send(&app, Method::POST, &desk, &client, Some(json!({ "method": "cash" })))
        .await
        .assert_problem(403, "staff-only");
    send(&app, Method::POST, &desk, &s.owner, Some(json!({ "method": "cash", "amount_minor": 4501 })))
        .await
        .assert_problem(422, "amount-exceeds-balance");
    for bad in [0, -100] {
        send(&app, Method::POST, &desk, &s.owner, Some(json!({ "method": "cash", "amount_minor": bad })))
            .await
            .assert_problem(422, "validation-failed");
    }
    send(&app, Method::POST, &desk, &s.owner, Some(json!({ "method": "online" })))
        .await
        .assert_problem(422, "validation-failed");
    send(&app, Method::POST, &desk, &s.owner, Some(json!({ "method": "cash", "currency": "USD" })))
        .await
        .assert_problem(422, "wrong-currency");
    // Two recordings of the rest at once: one is taken, the other finds nothing owed.
    let both: Vec<_> = (0..2)
        .map(|_| {
            send(
                &app,
                Method::POST,
                &desk,
                &s.owner,
                Some(json!({ "method": "card_terminal", "reference": "T-991" })),
            )
        })
        .collect();
    let statuses: Vec<u16> =
        futures_util::future::join_all(both).await.iter().map(|r| r.status.as_u16()).collect();
    assert!(statuses.contains(&201) && statuses.iter().filter(|s| **s == 201).count() == 1, "{statuses:?}");
    let money = get(&app, &s, &client, &format!("/bookings/{booking_id}/payments")).await;
    assert_eq!(money["owed_minor"], 0);
    assert_eq!(money["balances"][0]["net_minor"], 6000);
    let desk_payment = money["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|p| p["method"] == "card_terminal")
        .expect("recorded")
        .clone();
    assert_eq!(desk_payment["amount_minor"], 4500);
    let ledger = get(&app, &s, &s.owner, "/ledger").await;
    let by: Vec<Value> =
        ledger["items"].as_array().expect("entries").iter().map(|e| e["by"].clone()).collect();
    assert!(by.contains(&json!({ "kind": "user", "user_id": s.owner.user_id })), "{by:?}");
    let listed = get(&app, &s, &s.owner, "/payments?status=succeeded").await;
    assert_eq!(listed["items"].as_array().expect("items").len(), 2);
    // Someone who is not a member does not see the studio's payments (nor that it exists).
    send(&app, Method::GET, &path(&s.studio, "/payments"), &client, None)
        .await
        .assert_problem(404, "not-found");
}

async fn reconciliation_records_each_drift_once_and_heals_lost_webhooks(app: TestApp) {
    let (s, colour) = prepaid(&app, "pay-recon").await;
    let client = app.register("ana@pay-recon.example").await;
    // Paid through Atelier: no drift.
    let first = hold(&app, &s, &colour, &client, START).await;
    let first_payment = first["payment"]["payment_id"].as_str().expect("payment").to_owned();
    assert_eq!(pay(&app, &s, &client, &first_payment, "pm_card_visa").await.status, 200);
    // Paid at the provider, its webhook lost.
    let lost = hold(&app, &s, &colour, &client, "2026-06-02T12:00:00+01:00").await;
    let lost_payment = lost["payment"]["payment_id"].as_str().expect("payment").to_owned();
    let lost_intent = intent_of(&app, &get(&app, &s, &client, &format!("/payments/{lost_payment}")).await);
    app.payments.confirm_intent(&lost_intent, "pm_card_visa").await.expect("paid there");
    // Money Atelier never asked for, for this studio.
    let stray = app
        .payments
        .create_intent(&NewIntent {
            amount: 999,
            currency: "eur".into(),
            idempotency_key: "stray".into(),
            metadata: [("studio_id".to_owned(), s.studio.clone())].into(),
        })
        .await
        .expect("intent");
    app.payments.confirm_intent(&stray.id, "pm_card_visa").await.expect("paid there");
    app.payments.take_events();
    let JobReport::ReconcilePayments(report) = run(&app, Job::ReconcilePayments).await else {
        panic!("report")
    };
    assert_eq!((report.drifts, report.healed), (2, 1), "{report:?}");
    assert_eq!(
        get(&app, &s, &client, &format!("/bookings/{}", lost["id"].as_str().expect("id"))).await["status"],
        "confirmed"
    );
    let drifts = get(&app, &s, &s.owner, "/payment-drifts").await;
    let kinds: Vec<&str> =
        drifts["items"].as_array().expect("items").iter().filter_map(|d| d["kind"].as_str()).collect();
    assert_eq!(kinds.len(), 2, "{drifts}");
    assert!(kinds.contains(&"missed_here") && kinds.contains(&"unknown_here"), "{kinds:?}");
    // Again: the same drifts, recorded once.
    run(&app, Job::ReconcilePayments).await;
    assert_eq!(get(&app, &s, &s.owner, "/payment-drifts").await["items"].as_array().expect("items").len(), 2);
}

async fn a_refund_reported_before_its_payment_is_applied_in_order(app: TestApp) {
    let (s, colour) = prepaid(&app, "pay-order").await;
    let client = app.register("ana@pay-order.example").await;
    let held = hold(&app, &s, &colour, &client, START).await;
    let payment_id = held["payment"]["payment_id"].as_str().expect("payment").to_owned();
    let intent = intent_of(&app, &get(&app, &s, &client, &format!("/payments/{payment_id}")).await);
    app.payments.confirm_intent(&intent, "pm_card_visa").await.expect("paid there");
    app.payments
        .create_refund(&NewRefund {
            intent_id: intent.clone(),
            amount: 2500,
            idempotency_key: "dashboard-1".into(),
            metadata: Default::default(),
        })
        .await
        .expect("refunded at the dashboard");
    let mut events = app.payments.take_events();
    events.reverse();
    assert_eq!(events[0].kind, "refund.created");
    // The refund's event twice at once, then everything in reverse order.
    let twice =
        futures_util::future::join_all([post_event(&app, &events[0]), post_event(&app, &events[0])]).await;
    assert!(
        twice.iter().all(|r| r.status == 200),
        "{:?}",
        twice.iter().map(|r| r.json()).collect::<Vec<_>>()
    );
    for event in &events {
        assert_eq!(post_event(&app, event).await.status, 200);
    }
    let payment = get(&app, &s, &client, &format!("/payments/{payment_id}")).await;
    assert_eq!(payment["status"], "succeeded");
    assert_eq!(payment["refunded_minor"], 2500);
    assert_eq!(payment["refunds"][0]["cause"], "provider");
    assert_eq!(
        get(&app, &s, &client, &format!("/bookings/{}", held["id"].as_str().expect("id"))).await["status"],
        "confirmed"
    );
    let money =
        get(&app, &s, &client, &format!("/bookings/{}/payments", held["id"].as_str().expect("id"))).await;
    assert_eq!(money["balances"][0]["net_minor"], 3500);
    assert_eq!(payment["refunds"].as_array().map(Vec::len), Some(1), "recorded once");
    // Nothing is left pending for the retry job to send again.
    let JobReport::RefundRetries(retried) = run(&app, Job::RefundRetries).await else { panic!("report") };
    assert_eq!(retried.tried, 0);
}

async fn another_studio_sees_none_of_it(app: TestApp) {
    let (s, colour) = prepaid(&app, "pay-tenant").await;
    let client = app.register("ana@pay-tenant.example").await;
    let held = hold(&app, &s, &colour, &client, START).await;
    let payment_id = held["payment"]["payment_id"].as_str().expect("payment").to_owned();
    let stranger = app.register("eve@pay-tenant.example").await;
    let other = app.create_studio(&stranger, "pay-tenant-other").await;
    for rest in [format!("/payments/{payment_id}"), format!("/payments/{payment_id}/receipt")] {
        send(&app, Method::GET, &format!("/v1/studios/{other}{rest}"), &stranger, None)
            .await
            .assert_problem(404, "not-found");
        send(&app, Method::GET, &path(&s.studio, &rest), &stranger, None)
            .await
            .assert_problem(404, "not-found");
    }
    pay(&app, &s, &stranger, &payment_id, "pm_card_visa").await.assert_problem(404, "not-found");
    // A client of the studio sees another client's payment as absent.
    let other_client = app.register("bia@pay-tenant.example").await;
    send(&app, Method::GET, &path(&s.studio, &format!("/payments/{payment_id}")), &other_client, None)
        .await
        .assert_problem(404, "not-found");
}

atelier_tests::on_both_backends!(
    a_deposit_confirms_the_booking_and_a_cancellation_refunds_beyond_the_fee,
    a_payment_after_the_hold_expired_is_refunded_and_never_double_books,
    a_payment_racing_the_hold_expiry_ends_one_way_or_the_other,
    webhook_signatures_are_checked_before_anything_is_read,
    concurrent_refunds_never_exceed_the_payment,
    the_provider_down_answers_in_time_and_a_retry_pays_once,
    payments_in_person_settle_the_balance,
    reconciliation_records_each_drift_once_and_heals_lost_webhooks,
    a_refund_reported_before_its_payment_is_applied_in_order,
    another_studio_sees_none_of_it,
);

/// The Stripe adapter against localstripe (a stateful fake Stripe that `./infra/test` starts).
/// localstripe ignores idempotency keys, accepts over-refunds and sends no refund events: those
/// guarantees are tested above, on the mock and Atelier's own guards.
mod stripe {
    use std::sync::Arc;
    use std::time::Duration;

    use atelier_app::Group;
    use atelier_payments::provider::stripe::{Stripe, StripeConfig, StripeKeys};
    use atelier_platform::payments::{
        IntentStatus, NewIntent, NewRefund, PaymentProvider, ProviderError, RefundStatus,
    };
    use atelier_tests::{TestApp, TestRequest, test_http_config};
    use http::Method;
    use jiff::Timestamp;
    use serde_json::json;

    const SECRET: &str = "whsec_localstripe_tests";

    fn localstripe() -> String {
        std::env::var("ATELIER_TEST_STRIPE_URL")
            .expect("ATELIER_TEST_STRIPE_URL is not set: the Stripe adapter's tests need localstripe. Run ./infra/test, which starts it.")
    }

    fn adapter(base_url: &str, timeout: Duration) -> Stripe {
        Stripe::new(StripeConfig {
            base_url: base_url.to_owned(),
            keys: StripeKeys::Static {
                api_key: "sk_test_atelier".into(),
                webhook_secrets: vec![SECRET.into()],
            },
            timeout,
        })
    }

    fn intent(amount: i64, currency: &str, key: &str) -> NewIntent {
        NewIntent {
            amount,
            currency: currency.into(),
            idempotency_key: key.into(),
            metadata: [("payment_id".to_owned(), key.to_owned())].into(),
        }
    }

    #[tokio::test]
    async fn intents_declines_refunds_and_events_against_localstripe() {
        let stripe = adapter(&localstripe(), Duration::from_secs(5));
        let since = Timestamp::now().as_second() - 5;
        let created = stripe.create_intent(&intent(3000, "eur", "adapter-1")).await.expect("created");
        assert_eq!(created.status, IntentStatus::RequiresPaymentMethod);
        assert_eq!(created.metadata.get("payment_id").map(String::as_str), Some("adapter-1"));
        assert!(created.client_secret.as_deref().is_some_and(|s| s.starts_with(&created.id)));
        let paid = stripe.confirm_intent(&created.id, "pm_card_visa").await.expect("confirmed");
        assert_eq!((paid.status, paid.amount_received), (IntentStatus::Succeeded, 3000));
        let read = stripe.retrieve_intent(&created.id).await.expect("read");
        assert_eq!(read.status, IntentStatus::Succeeded);

        let declined = stripe.create_intent(&intent(2000, "eur", "adapter-2")).await.expect("created");
        // localstripe declines this card (4000 0000 0000 0341) when it is charged.
        match stripe.confirm_intent(&declined.id, "pm_card_chargeCustomerFail").await {
            Err(ProviderError::Declined { .. }) => {}
            other => panic!("a decline: {other:?}"),
        }

        let refund = stripe
            .create_refund(&NewRefund {
                intent_id: created.id.clone(),
                amount: 1000,
                idempotency_key: "refund:adapter-1".into(),
                metadata: Default::default(),
            })
            .await
            .expect("refunded");
        assert_eq!(
            (refund.amount, refund.status, refund.intent_id.as_str()),
            (1000, RefundStatus::Succeeded, created.id.as_str())
        );

        // Zero-decimal currencies go as they are.
        let yen = stripe.create_intent(&intent(1200, "jpy", "adapter-3")).await.expect("created");
        assert_eq!(yen.amount, 1200);

        let page = stripe.events("payment_intent.succeeded", since, None).await.expect("events");
        assert!(
            page.events.iter().any(|e| e.object["id"] == created.id.as_str()),
            "the success is listed: {:?}",
            page.events.iter().map(|e| &e.id).collect::<Vec<_>>()
        );
        match stripe.retrieve_intent("pi_missing").await {
            Err(ProviderError::Refused(_)) => {}
            other => panic!("unknown intent: {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_silent_provider_is_given_up_on_within_the_timeout() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        // Accepts and never answers.
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                held.push(socket);
            }
        });
        let stripe = adapter(&url, Duration::from_millis(300));
        let started = std::time::Instant::now();
        match stripe.create_intent(&intent(100, "eur", "silent")).await {
            Err(ProviderError::Unavailable { .. }) => {}
            other => panic!("unavailable: {other:?}"),
        }
        assert!(started.elapsed() < Duration::from_secs(5), "gave up in {:?}", started.elapsed());
    }

    #[tokio::test]
    async fn a_deposit_paid_through_localstripe_and_its_signed_webhook() {
        let app = TestApp::embedded().await;
        // localstripe signs with the real time; the app's clock follows it.
        app.clock.set(Timestamp::now());
        let base = localstripe();
        let stripe: Arc<dyn PaymentProvider> = Arc::new(adapter(&base, Duration::from_secs(5)));
        let platform = app.platform.clone().with_payments(stripe.clone());
        let state =
            atelier_app::with_identity(atelier_app::state(platform, test_http_config()), app.auth_arc());
        let router = atelier_app::router(state, &Group::ALL);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        tokio::spawn(axum::serve(listener, router.clone()).into_future());
        let hook = reqwest::Client::new()
            .post(format!("{base}/_config/webhooks/{}", atelier_tests::unique_name("atelier")))
            .json(&json!({ "url": format!("{url}/v1/payments/webhooks/stripe"), "secret": SECRET }))
            .send()
            .await
            .expect("localstripe answers");
        assert!(hook.status().is_success(), "webhook registered");

        let (s, colour) = super::prepaid(&app, "pay-stripe").await;
        let client = app.register("ana@pay-stripe.example").await;
        let on = |method: Method, path: String| {
            TestRequest::new_for(router.clone(), method, &path).bearer(&client.access)
        };
        let held = on(Method::POST, format!("/v1/studios/{}/bookings", s.studio))
            .json(&json!({ "service_id": colour, "professional_id": s.pro.user_id, "start": "2027-01-12T10:00:00+00:00" }))
            .send()
            .await;
        assert_eq!(held.status, 201, "{:?}", held.json());
        assert_eq!(held.json()["payment"]["provider"], "stripe");
        let payment_id = held.json()["payment"]["payment_id"].as_str().expect("payment").to_owned();
        let paid = on(Method::POST, format!("/v1/studios/{}/payments/{payment_id}/confirm", s.studio))
            .json(&json!({ "payment_method": "pm_card_visa" }))
            .send()
            .await;
        assert_eq!(paid.status, 200, "{:?}", paid.json());
        assert_eq!(paid.json()["status"], "succeeded");
        let booking = on(
            Method::GET,
            format!("/v1/studios/{}/bookings/{}", s.studio, held.json()["id"].as_str().expect("id")),
        )
        .send()
        .await;
        assert_eq!(booking.json()["status"], "confirmed");

        // localstripe posts the signed `payment_intent.succeeded` a second later: it verifies
        // and is recorded as applied.
        let intent_id = paid.json()["intent_id"].as_str().expect("intent").to_owned();
        let page = stripe
            .events("payment_intent.succeeded", Timestamp::now().as_second() - 60, None)
            .await
            .expect("events");
        let event =
            page.events.iter().find(|e| e.object["id"] == intent_id.as_str()).expect("the success event");
        let mut seen = false;
        for _ in 0..50 {
            if atelier_payments::intents::applied(&app.platform, "stripe", &event.id).await.expect("read") {
                seen = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert!(seen, "localstripe's signed webhook reached the server and was verified");
    }
}

/// DynamoDB requests per webhook event, counted by the SDK interceptor on DynamoDB Local: a
/// deposit's success (payment, ledger, counters and the booking's confirmation in one
/// transaction), and its redelivery (one read).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_calls_per_webhook_event() {
    use std::collections::BTreeMap;
    use std::sync::Arc;
    let app = TestApp::on(atelier_tests::Backend::Aws).await;
    let (s, colour) = prepaid(&app, "pay-calls").await;
    let client = app.register("ana@pay-calls.example").await;
    let held = hold(&app, &s, &colour, &client, START).await;
    let payment_id = held["payment"]["payment_id"].as_str().expect("payment").to_owned();
    let intent = intent_of(&app, &get(&app, &s, &client, &format!("/payments/{payment_id}")).await);
    app.payments.confirm_intent(&intent, "pm_card_visa").await.expect("paid there");
    let event = app.payments.take_events().pop().expect("event");
    let (body, header) = app.payments.signed(&event);

    let (clients, settings) = app.aws_parts().expect("AWS adapters");
    let counter = atelier_aws::CallCounter::new();
    let store = atelier_aws::DynamoStore::new(counter.instrument(&clients.dynamodb), settings.table.clone());
    let platform = atelier_platform::Platform::new(
        Arc::new(store),
        Arc::new(atelier_aws::SqsQueue::new(clients.sqs.clone(), settings.queue_urls.clone())),
        Arc::new(atelier_aws::S3Blobs::new(clients.s3.clone(), settings.bucket.clone())),
        app.clock.clone(),
        Arc::new(atelier_platform::ids::UlidGenerator),
    )
    .with_payments(app.payments.clone());
    counter.take();
    let receipt =
        atelier_payments::webhooks::receive(&platform, "mock", Some(&header), &body).await.expect("applied");
    assert_eq!(receipt.outcome, "applied");
    let applied: BTreeMap<String, usize> = counter.take();
    println!("webhook event applied: {applied:?}");
    assert_eq!(applied.get("TransactWriteItems"), Some(&1), "one transaction: {applied:?}");
    assert_eq!(applied.get("Scan"), None);
    let reads: usize =
        ["GetItem", "BatchGetItem", "Query"].iter().map(|op| applied.get(*op).copied().unwrap_or(0)).sum();
    assert!(reads <= 5, "the marker, the intent pointer, the payment, the booking: {applied:?}");
    let again =
        atelier_payments::webhooks::receive(&platform, "mock", Some(&header), &body).await.expect("answered");
    assert_eq!(again.outcome, "duplicate");
    let duplicate = counter.take();
    println!("webhook event redelivered: {duplicate:?}");
    assert_eq!(duplicate.values().sum::<usize>(), 1, "one read of the marker: {duplicate:?}");
}
