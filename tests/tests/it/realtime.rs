//! Live updates end to end, on both adapters: WebSocket clients on the local live endpoint see
//! a client's booking as it happens (staff of the studio, and the client), strangers and
//! members of another studio see nothing, bad and expired tokens are refused, a dropped
//! connection leaves no records, `since` replays what was missed; and the AWS path — the
//! fan-out through API Gateway's management API (moto), with a connection that answers 410.

use std::time::{Duration, Instant};

use atelier_platform::access::Authenticator;
use atelier_platform::events::Event;
use atelier_platform::store::Query;
use atelier_realtime::connections;
use atelier_tests::{Account, TestApp};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::bookings::salon;

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

fn live_url(app: &TestApp) -> String {
    format!("{}/v1/live", app.url.replace("http://", "ws://"))
}

/// Connects as a browser does: the token in `Sec-WebSocket-Protocol`, next to `atelier`.
async fn connect(app: &TestApp, who: &Account) -> Ws {
    let mut request = live_url(app).into_client_request().expect("request");
    let protocols = format!("atelier, bearer.{}", who.access);
    request.headers_mut().insert("sec-websocket-protocol", protocols.parse().expect("header"));
    let (ws, response) = tokio_tungstenite::connect_async(request).await.expect("connects");
    assert_eq!(
        response.headers().get("sec-websocket-protocol").and_then(|v| v.to_str().ok()),
        Some("atelier")
    );
    ws
}

/// The status an upgrade is refused with.
async fn refused(app: &TestApp, query: &str) -> u16 {
    match tokio_tungstenite::connect_async(format!("{}{query}", live_url(app))).await {
        Ok(_) => panic!("the connection was accepted"),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => response.status().as_u16(),
        Err(e) => panic!("unexpected failure: {e}"),
    }
}

async fn say(ws: &mut Ws, message: Value) {
    ws.send(Message::Text(message.to_string().into())).await.expect("sent");
}

async fn next(ws: &mut Ws) -> Value {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("a message within five seconds")
            .expect("connection open")
            .expect("frame");
        if let Message::Text(text) = frame {
            return serde_json::from_str(text.as_str()).expect("JSON");
        }
    }
}

async fn nothing_for(ws: &mut Ws, wait: Duration) {
    if let Ok(Some(Ok(Message::Text(text)))) = tokio::time::timeout(wait, ws.next()).await {
        panic!("expected nothing, got {text}");
    }
}

async fn subscribe(ws: &mut Ws, message: Value) -> Value {
    let mut message = message;
    message["action"] = json!("subscribe");
    say(ws, message).await;
    next(ws).await
}

async fn staff_and_the_client_see_a_booking_as_it_happens(app: TestApp) {
    let s = salon(&app, "live-a").await;
    let other = salon(&app, "live-b").await;
    let client = app.register("cli@live-a.example").await;

    let mut staff = connect(&app, &s.pro).await;
    let answer = subscribe(&mut staff, json!({ "studios": [s.studio] })).await;
    assert_eq!(answer, json!({ "type": "subscribed", "studios": [s.studio], "mine": false }));
    let mut own = connect(&app, &client).await;
    assert_eq!(subscribe(&mut own, json!({ "mine": true })).await["mine"], true);
    let mut stranger = connect(&app, &other.owner).await;
    assert_eq!(subscribe(&mut stranger, json!({ "studios": [other.studio] })).await["type"], "subscribed");
    // A member of another studio cannot follow this one: refused as the API refuses a non-member.
    let mut intruder = connect(&app, &other.pro).await;
    let answer = subscribe(&mut intruder, json!({ "studios": [s.studio, other.studio] })).await;
    assert_eq!((answer["type"].as_str(), answer["status"].as_u64()), (Some("error"), Some(404)), "{answer}");
    assert_eq!(answer["problem"], "urn:atelier:problem:not-found");
    // Following its own studio, the intruder still hears nothing of this one.
    let answer = subscribe(&mut intruder, json!({ "studios": [other.studio] })).await;
    assert_eq!(answer["type"], "subscribed", "{answer}");
    // A colleague of the booked professional: their agenda is their own (as in the API).
    let colleague = app.join(&s.studio, &s.owner, "colleague@live-a.example", "professional").await;
    let mut beside = connect(&app, &colleague).await;
    assert_eq!(subscribe(&mut beside, json!({ "studios": [s.studio] })).await["type"], "subscribed");
    let mut boss = connect(&app, &s.owner).await;
    assert_eq!(subscribe(&mut boss, json!({ "studios": [s.studio] })).await["type"], "subscribed");
    // A client following "mine" is not staff.
    let answer = subscribe(&mut own, json!({ "studios": [s.studio] })).await;
    assert_eq!(answer["status"], 404, "{answer}");

    let made = Instant::now();
    let booking = s.book_ok(&app, &client, "2026-06-02T10:00:00+01:00").await;
    let answered = made.elapsed();
    let booking_id = booking["id"].as_str().expect("id");
    let seen = next(&mut staff).await;
    // Timing is measured, not asserted (docs/performance.md has the figures).
    println!(
        "live: booking answered in {answered:?}, staff told {:?} after the request began",
        made.elapsed()
    );
    assert_eq!(seen["type"], "changed");
    assert_eq!(seen["event"], "booking.created");
    assert_eq!(seen["entity"], "booking");
    assert_eq!(seen["studio_id"], json!(s.studio));
    assert_eq!(seen["ids"], json!([booking_id]));
    assert_eq!(seen["version"], booking["version"]);
    assert!(!seen.to_string().contains("cli@"), "no personal data: {seen}");
    let mine = next(&mut own).await;
    assert_eq!((mine["event"].as_str(), &mine["ids"]), (Some("booking.created"), &json!([booking_id])));
    assert_eq!(next(&mut boss).await["ids"], json!([booking_id]), "the owner sees every agenda");
    nothing_for(&mut stranger, Duration::from_millis(300)).await;
    nothing_for(&mut intruder, Duration::from_millis(50)).await;
    nothing_for(&mut beside, Duration::from_millis(50)).await;

    // A reconnecting client asks for what it missed after the last cursor it saw.
    let cursor = seen["cursor"].as_str().expect("cursor").to_owned();
    drop(staff);
    let cancelled = s.act(&app, &client, booking_id, "cancel", None).await;
    assert_eq!(cancelled.status, 200, "{:?}", cancelled.body);
    assert_eq!(next(&mut boss).await["event"], "booking.cancelled");
    let mut back = connect(&app, &s.pro).await;
    subscribe(&mut back, json!({ "studios": [s.studio] })).await;
    say(&mut back, json!({ "action": "since", "cursor": cursor })).await;
    let caught_up = next(&mut back).await;
    assert_eq!(caught_up["type"], "caught_up", "{caught_up}");
    let events: Vec<&str> = caught_up["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .filter_map(|c| c["event"].as_str())
        .collect();
    assert_eq!(events, vec!["booking.cancelled"]);
    say(&mut back, json!({ "action": "since", "cursor": "00000000000000000000000000" })).await;
    assert_eq!(next(&mut back).await["type"], "resync", "a cursor older than the feed: refetch");
    say(&mut back, json!({ "action": "since", "cursor": format!("{cursor}{}", "x".repeat(2000)) })).await;
    assert_eq!(next(&mut back).await["status"], 400, "not a cursor");
    // The colleague's catch-up skips what they were not told.
    say(&mut beside, json!({ "action": "since", "cursor": cursor })).await;
    assert_eq!(next(&mut beside).await["changes"], json!([]));
    say(&mut back, json!({ "action": "ping" })).await;
    assert_eq!(next(&mut back).await, json!({ "type": "pong" }));

    // Signing out ends what the connection is told: no more changes, and its next message
    // closes it.
    let out = app.request(http::Method::POST, "/v1/auth/logout").bearer(&s.pro.access).send().await;
    assert_eq!(out.status, 204, "{:?}", out.body);
    let again = s.book_ok(&app, &client, "2026-06-09T10:00:00+01:00").await;
    assert_eq!(next(&mut boss).await["ids"], json!([again["id"]]));
    nothing_for(&mut back, Duration::from_millis(200)).await;
    say(&mut back, json!({ "action": "ping" })).await;
    assert_eq!(next(&mut back).await["status"], 401);
}

async fn bad_tokens_are_refused_and_dropped_connections_are_forgotten(app: TestApp) {
    let s = salon(&app, "live-c").await;
    assert_eq!(refused(&app, "").await, 401, "no token");
    assert_eq!(refused(&app, "?access_token=not-a-token").await, 401);
    let mut ws = connect(&app, &s.owner).await;
    subscribe(&mut ws, json!({ "studios": [s.studio], "mine": true })).await;
    let staff = Query::partition(connections::studio_partition(&s.studio.as_str().into()));
    let own = Query::partition(connections::user_partition(&s.owner.user_id.as_str().into()));
    assert_eq!(app.platform.store.query(&staff).await.expect("query").items.len(), 1);
    assert_eq!(app.platform.store.query(&own).await.expect("query").items.len(), 1);

    // Bad frames are answered and change nothing.
    say(&mut ws, json!({ "action": "drop_tables" })).await;
    let answer = next(&mut ws).await;
    assert_eq!((answer["type"].as_str(), answer["status"].as_u64()), (Some("error"), Some(400)), "{answer}");
    ws.send(Message::Text("not json".into())).await.expect("sent");
    assert_eq!(next(&mut ws).await["status"], 400);
    say(&mut ws, json!({ "action": "since", "cursor": "nonsense" })).await;
    assert_eq!(next(&mut ws).await["status"], 400);
    let many: Vec<String> = (0..21).map(|i| format!("s{i}")).collect();
    assert_eq!(subscribe(&mut ws, json!({ "studios": many })).await["status"], 400);
    assert_eq!(app.platform.store.query(&staff).await.expect("query").items.len(), 1, "still subscribed");

    // The client goes away: its records go with it. Once with a close frame, once by the
    // connection simply dropping.
    let mut abrupt = connect(&app, &s.pro).await;
    subscribe(&mut abrupt, json!({ "studios": [s.studio] })).await;
    assert_eq!(app.platform.store.query(&staff).await.expect("query").items.len(), 2);
    drop(abrupt);
    ws.close(None).await.expect("closed");
    drop(ws);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let left = app.platform.store.query(&staff).await.expect("query").items.len()
            + app.platform.store.query(&own).await.expect("query").items.len();
        if left == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "the dropped connection's subscriptions are still there");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // An access token that has expired opens nothing.
    app.clock.set(app.clock_now() + jiff::SignedDuration::from_mins(31));
    assert_eq!(refused(&app, &format!("?access_token={}", s.owner.access)).await, 401, "expired token");
}

fn confirmed(studio: &str, booking: &str, client: &str, professional: &str) -> Event {
    Event {
        trace: None,
        id: format!("ev-{booking}"),
        kind: "booking.confirmed".into(),
        studio_id: Some(studio.to_owned()),
        occurred_at: jiff::Timestamp::now(),
        payload: json!({ "booking_id": booking, "status": "confirmed", "version": 2, "client_user_id": client, "professional_id": professional }),
    }
}

/// Answers 410 to every push, as API Gateway does for a connection the client has closed (moto
/// never does).
async fn gone_endpoint() -> String {
    let router = axum::Router::new().fallback(|| async { (http::StatusCode::GONE, r#"{"message":"Gone"}"#) });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    tokio::spawn(axum::serve(listener, router).into_future());
    url
}

async fn the_management_api_pushes_and_forgets_gone_connections(app: TestApp) {
    let s = salon(&app, "live-d").await;
    let client = app.register("cli@live-d.example").await;
    let who = app.auth().authenticate(&app.platform, &s.pro.access, None).await.expect("signed in");
    let id = atelier_tests::unique_name("conn");
    let connection = connections::open(&app.platform, &who, &id).await.expect("opened");
    connections::subscribe(&app.platform, &connection, vec![s.studio.as_str().into()], false)
        .await
        .expect("subscribed");
    let moto = atelier_tests::moto_config().await;
    let pusher = atelier_aws::ApiGatewayPusher::new(&moto, &atelier_tests::moto_url());
    let event = confirmed(&s.studio, "b-1", &client.user_id, &s.pro.user_id);
    let report = atelier_realtime::fan_out(&app.platform, &pusher, &event).await.expect("fan-out");
    // moto accepted the POST /@connections/{id} (it keeps the data, with no API to read it).
    assert_eq!((report.sent, report.gone, report.refused), (1, 0, 0), "{report:?}");
    // Removed from the studio: told nothing more, whatever it subscribed to.
    let removed = app
        .request(http::Method::DELETE, &format!("/v1/studios/{}/members/{}", s.studio, s.pro.user_id))
        .bearer(&s.owner.access)
        .send()
        .await;
    assert!(removed.status.is_success(), "member removed: {:?}", removed.body);
    let report = atelier_realtime::fan_out(
        &app.platform,
        &pusher,
        &confirmed(&s.studio, "b-2", &client.user_id, &s.pro.user_id),
    )
    .await
    .expect("fan-out");
    assert_eq!((report.sent, report.refused), (0, 1), "{report:?}");

    // The owner's connection has gone: API Gateway answers 410 and the records go.
    let owner = app.auth().authenticate(&app.platform, &s.owner.access, None).await.expect("signed in");
    let gone_id = atelier_tests::unique_name("conn");
    let gone = connections::open(&app.platform, &owner, &gone_id).await.expect("opened");
    connections::subscribe(&app.platform, &gone, vec![s.studio.as_str().into()], true)
        .await
        .expect("subscribed");
    let pusher = atelier_aws::ApiGatewayPusher::new(&moto, &gone_endpoint().await);
    let report = atelier_realtime::fan_out(
        &app.platform,
        &pusher,
        &confirmed(&s.studio, "b-3", &client.user_id, &s.pro.user_id),
    )
    .await
    .expect("fan-out");
    assert_eq!((report.sent, report.gone), (0, 1), "{report:?}");
    assert!(connections::find(&app.platform, &gone_id).await.expect("read").is_none(), "forgotten");
    let own = Query::partition(connections::user_partition(&s.owner.user_id.as_str().into()));
    assert!(app.platform.store.query(&own).await.expect("query").items.is_empty());
}

/// The subscription items of connection `id` in each studio's partition.
async fn followed(app: &TestApp, studios: &[String], id: &str) -> Vec<String> {
    let mut found = Vec::new();
    for studio in studios {
        let items = app
            .platform
            .store
            .query(&Query::partition(connections::studio_partition(&studio.as_str().into())))
            .await
            .expect("query")
            .items;
        if items.iter().any(|i| i.string("connection_id").ok() == Some(id)) {
            found.push(studio.clone());
        }
    }
    found
}

async fn racing_subscribes_and_a_close_leave_nothing_astray(app: TestApp) {
    let owner = app.register("owner@live-race.example").await;
    let mut studios = Vec::new();
    for n in 0..3 {
        studios.push(app.create_studio(&owner, &format!("live-race-{n}")).await);
    }
    studios.sort();
    let who = app.auth().authenticate(&app.platform, &owner.access, None).await.expect("signed in");
    let id = atelier_tests::unique_name("conn");
    let connection = connections::open(&app.platform, &who, &id).await.expect("opened");
    // Eight subscribes at once, each to another subset: one wins last, and the items are its.
    let subsets: Vec<Vec<String>> = (0..8usize)
        .map(|n| {
            studios.iter().enumerate().filter(|(i, _)| (n >> i) & 1 == 1).map(|(_, s)| s.clone()).collect()
        })
        .collect();
    let racing = subsets.iter().map(|subset| {
        let chosen = subset.iter().map(|s| s.as_str().into()).collect();
        connections::subscribe(&app.platform, &connection, chosen, false)
    });
    for outcome in futures_util::future::join_all(racing).await {
        outcome.expect("every subscribe applies, in some order");
    }
    let last = connections::find(&app.platform, &id).await.expect("read").expect("open");
    let named: Vec<String> = last.studios.iter().map(ToString::to_string).collect();
    assert_eq!(followed(&app, &studios, &id).await, named, "the items are exactly what the record names");
    // Subscribes racing the close: afterwards nothing of the connection is left.
    let racing = subsets.iter().take(4).map(|subset| {
        let chosen = subset.iter().map(|s| s.as_str().into()).collect();
        connections::subscribe(&app.platform, &connection, chosen, true)
    });
    let (subscribed, closed) =
        tokio::join!(futures_util::future::join_all(racing), connections::close(&app.platform, &id));
    closed.expect("closed");
    for outcome in subscribed {
        assert!(
            matches!(outcome, Ok(_) | Err(atelier_platform::AppError::NotFound("connection"))),
            "{outcome:?}"
        );
    }
    match connections::find(&app.platform, &id).await.expect("read") {
        // A subscribe that read the record before the close and won after it cannot exist: the
        // close is conditioned on the version it read.
        Some(left) => panic!("the connection outlived its close: {left:?}"),
        None => assert!(followed(&app, &studios, &id).await.is_empty(), "no subscription left behind"),
    }
}

atelier_tests::on_both_backends!(
    racing_subscribes_and_a_close_leave_nothing_astray,
    staff_and_the_client_see_a_booking_as_it_happens,
    bad_tokens_are_refused_and_dropped_connections_are_forgotten,
    the_management_api_pushes_and_forgets_gone_connections,
);
