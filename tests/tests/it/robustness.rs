//! Hostile and odd input: every class answers a 4xx problem and changes nothing.

use std::sync::Arc;

use atelier_tests::TestApp;
use http::Method;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::bookings::{path, salon, send};

async fn nothing_booked(app: &TestApp, s: &crate::bookings::Salon) {
    let list = send(app, Method::GET, &path(&s.studio, "/bookings"), &s.owner, None).await.json();
    assert_eq!(list["items"], json!([]), "nothing was booked");
}

async fn path_ids_that_are_not_text_are_a_400(app: TestApp) {
    let s = salon(&app, "utf8").await;
    let svc = &s.cut;
    for (method, uri) in [
        (Method::GET, "/v1/studios/%ff".to_owned()),
        (Method::GET, "/v1/studios/%ff/services".to_owned()),
        (Method::PATCH, format!("/v1/studios/{}/services/%c3%28", s.studio)),
        (Method::DELETE, format!("/v1/studios/{}/clients/%ff", s.studio)),
        (Method::GET, format!("/v1/studios/{}/bookings/%ff", s.studio)),
        (Method::GET, "/v1/public/studios/%ff/services".to_owned()),
        (Method::GET, format!("/v1/public/studios/{}/services/%ff/cancellation-policy", s.studio)),
    ] {
        let mut request = app.request(method.clone(), &uri).bearer(&s.owner.access);
        if method == Method::PATCH {
            request = request.json(&json!({ "name": "Renamed" }));
        }
        let problem = request.send().await.assert_problem(400, "bad-request");
        assert!(problem["detail"].as_str().is_some_and(|d| d.contains("UTF-8")), "{method} {uri}: {problem}");
    }
    let service =
        send(&app, Method::GET, &path(&s.studio, &format!("/services/{svc}")), &s.owner, None).await;
    assert_eq!(service.json()["name"], "Cut", "nothing renamed");

    // Ids too long for any store key (they once reached it, a 500): refused before.
    let long = "a".repeat(2100);
    for uri in [
        format!("/v1/studios/{long}"),
        format!("/v1/studios/{long}/services"),
        format!("/v1/studios/{}/bookings/{long}", s.studio),
        format!("/v1/studios/{}/clients/{long}", s.studio),
        format!("/v1/public/studios/{long}/services"),
        format!("/v1/me/notifications/{long}/read"),
    ] {
        let method = if uri.ends_with("/read") { Method::POST } else { Method::GET };
        let problem =
            app.request(method, &uri).bearer(&s.owner.access).send().await.assert_problem(400, "bad-request");
        assert!(
            problem["detail"].as_str().is_some_and(|d| d.contains("at most 128 bytes")),
            "{uri}: {problem}"
        );
    }
    app.request(Method::GET, &format!("/v1/public/slugs/{long}"))
        .send()
        .await
        .assert_problem(404, "not-found");
}

async fn dates_and_instants_outside_their_range_are_a_422(app: TestApp) {
    let s = salon(&app, "ranges").await;
    let slots = |from: &str, to: &str| {
        app.request(
            Method::GET,
            &format!("/v1/public/studios/{}/slots?service_id={}&from={from}&to={to}", s.studio, s.cut),
        )
        .send()
    };
    // Before 1970 a slot search once reached the store with a reversed key range (500).
    let problem = slots("1969-12-30", "1969-12-31").await.assert_problem(422, "validation-failed");
    assert_eq!(problem["errors"][0]["field"], "from", "{problem}");
    assert!(problem["errors"][0]["message"].as_str().is_some_and(|m| m.contains("2000-01-01")));
    slots("9999-12-30", "9999-12-31").await.assert_problem(422, "validation-failed");

    // Bookings in year 0, 1000 or 9999, with or without a professional.
    for start in
        ["0000-06-02T10:00:00Z", "1000-06-02T10:00:00Z", "1969-06-02T10:00:00Z", "9999-06-02T10:00:00Z"]
    {
        for with_professional in [true, false] {
            let mut body = s.booking(start);
            if !with_professional {
                body.as_object_mut().expect("object").remove("professional_id");
            }
            let response =
                send(&app, Method::POST, &path(&s.studio, "/bookings"), &s.owner, Some(body)).await;
            let problem = response.assert_problem(422, "validation-failed");
            assert_eq!(problem["errors"][0]["field"], "start", "{start}: {problem}");
        }
    }
    // Lists filtered by dates out of range.
    send(&app, Method::GET, &path(&s.studio, "/bookings?from=1900-01-01&to=1900-02-01"), &s.owner, None)
        .await
        .assert_problem(422, "validation-failed");
    // The range's own edges are in it, whatever the studio's zone does to the last day's end.
    let edges =
        send(&app, Method::GET, &path(&s.studio, "/bookings?from=2000-01-01&to=2199-12-31"), &s.owner, None)
            .await;
    assert_eq!(edges.status, 200, "{:?}", edges.json());
    send(&app, Method::GET, "/v1/me/bookings?from=1960-01-01T00:00:00Z", &s.owner, None)
        .await
        .assert_problem(422, "validation-failed");
    let exceptions = path(&s.studio, &format!("/professionals/{}/availability/exceptions", s.pro.user_id));
    send(&app, Method::GET, &format!("{exceptions}?from=1960-01-01&to=1960-02-01"), &s.owner, None)
        .await
        .assert_problem(422, "validation-failed");

    // No upper bound once: exceptions in year 9999, or three years ahead.
    for (start, end, field) in
        [("9999-01-01", "9999-01-02", "start_date"), ("2029-06-01", "2029-06-02", "end_date")]
    {
        let body = json!({ "kind": "time_off", "start_date": start, "end_date": end });
        let problem = send(&app, Method::POST, &exceptions, &s.owner, Some(body))
            .await
            .assert_problem(422, "validation-failed");
        let fields: Vec<&str> = problem["errors"]
            .as_array()
            .expect("errors")
            .iter()
            .filter_map(|e| e["field"].as_str())
            .collect();
        assert!(fields.contains(&field), "{start}: {problem}");
    }
    let listed =
        send(&app, Method::GET, &format!("{exceptions}?from=2026-01-01&to=2199-12-31"), &s.owner, None).await;
    assert_eq!(listed.json()["items"], json!([]), "no exception was recorded");

    // A waitlist window beyond the studio's horizon (a year here) or in year 9999.
    let client = app.register("ana@ranges.example").await;
    for (from, to) in [("2027-07-01", "2027-07-05"), ("9999-01-01", "9999-01-05")] {
        let body = json!({ "service_id": s.cut, "from": from, "to": to });
        let problem = send(&app, Method::POST, &path(&s.studio, "/waitlist"), &client, Some(body))
            .await
            .assert_problem(422, "validation-failed");
        assert!(
            problem["errors"].as_array().is_some_and(|e| e.iter().any(|e| e["field"] == "to")),
            "{problem}"
        );
    }
    let waiting = send(&app, Method::GET, &path(&s.studio, "/waitlist"), &s.owner, None).await.json();
    assert_eq!(waiting["items"], json!([]), "nobody joined");
    nothing_booked(&app, &s).await;
}

async fn offsets_beyond_a_day_are_not_rfc_3339(app: TestApp) {
    let s = salon(&app, "offsets").await;
    for start in ["2026-06-02T14:00:00+25:00", "2026-06-02T14:00:00+24:00", "2026-06-02T14:00:00-23:60"] {
        let response = s.book(&app, &s.owner, start).await;
        let problem = response.assert_problem(422, "invalid-body");
        assert!(problem["detail"].as_str().is_some_and(|d| d.contains("RFC 3339")), "{start}: {problem}");
    }
    send(&app, Method::GET, "/v1/me/bookings?from=2026-06-02T14:00:00%2B25:00", &s.owner, None)
        .await
        .assert_problem(400, "invalid-query");
    nothing_booked(&app, &s).await;
    // The largest real offsets are fine.
    let booked = s.book(&app, &s.owner, "2026-06-03T09:00:00+23:59").await;
    assert_eq!(booked.status, 422, "a valid instant, refused only by the schedule: {:?}", booked.json());
    assert_eq!(booked.json()["type"], "urn:atelier:problem:validation-failed");
    s.book_ok(&app, &s.owner, "2026-06-02T10:00:00+01:00").await;
}

async fn page_limits_are_checked_even_for_empty_lists(app: TestApp) {
    let s = salon(&app, "limits").await;
    for limit in ["0", "101", "2147483648", "-1", "ten"] {
        send(
            &app,
            Method::GET,
            &path(&s.studio, &format!("/me/loyalty/history?limit={limit}")),
            &s.owner,
            None,
        )
        .await
        .assert_problem(400, "invalid-query");
    }
    let ok = send(&app, Method::GET, &path(&s.studio, "/me/loyalty/history?limit=100"), &s.owner, None).await;
    assert_eq!(ok.status, 200);
}

async fn oversized_targets_and_headers_are_problems(app: TestApp) {
    let long = format!("/v1/public/slugs/{}", "a".repeat(9 * 1024));
    let response = app.request(Method::GET, &long).send().await;
    response.assert_problem(414, "uri-too-long");
    assert_eq!(response.header("connection"), Some("close"));
    let response =
        app.request(Method::GET, "/v1/health").header("x-padding", &"p".repeat(40 * 1024)).send().await;
    response.assert_problem(431, "headers-too-large");
}

atelier_tests::on_both_backends!(
    path_ids_that_are_not_text_are_a_400,
    dates_and_instants_outside_their_range_are_a_422,
    offsets_beyond_a_day_are_not_rfc_3339,
    page_limits_are_checked_even_for_empty_lists,
    oversized_targets_and_headers_are_problems,
);

/// Reads one response's head from a raw connection.
async fn response_head(stream: &mut tokio::net::TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let n = stream.read(&mut byte).await.expect("read");
        assert_eq!(n, 1, "connection closed mid-head: {}", String::from_utf8_lossy(&head));
        head.push(byte[0]);
    }
    String::from_utf8_lossy(&head).to_lowercase()
}

/// The local server over a real socket: a refusal sent before the body arrives marks the
/// connection for closing, so a kept-alive client does not send its next request into it.
#[tokio::test]
async fn an_early_refusal_closes_the_connection_and_says_so() {
    let dir = tempfile::tempdir().expect("temp dir");
    let options = atelier_tests::local_options(dir.path());
    let app = atelier_local::build(
        &options,
        Arc::new(atelier_platform::clock::SystemClock),
        Arc::new(atelier_platform::ids::UlidGenerator),
    )
    .expect("app");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(axum::serve(listener, app.router.clone()).into_future());

    // A POST without credentials whose body comes later: 401 at once, and `Connection: close`.
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let head = "POST /v1/studios HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 20\r\n\r\n";
    stream.write_all(head.as_bytes()).await.expect("send head");
    let answer = response_head(&mut stream).await;
    assert!(answer.starts_with("http/1.1 401"), "{answer}");
    assert!(answer.contains("connection: close"), "{answer}");
    // The late body, then the connection ends (rather than taking a second request).
    let _ = stream.write_all(br#"{"name":"late body"}"#).await;
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), stream.read_to_end(&mut rest))
        .await
        .expect("closed");

    // A request whose body was read keeps its connection: two requests on one socket.
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let body = r#"{"email":"nobody@example.com","password":"wrong password here"}"#;
    for _ in 0..2 {
        let request = format!(
            "POST /v1/auth/login HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(request.as_bytes()).await.expect("send");
        let answer = response_head(&mut stream).await;
        assert!(answer.starts_with("http/1.1 401"), "{answer}");
        assert!(!answer.contains("connection: close"), "{answer}");
        let length: usize = answer
            .lines()
            .find_map(|l| l.strip_prefix("content-length: "))
            .and_then(|n| n.trim().parse().ok())
            .expect("content-length");
        let mut problem = vec![0u8; length];
        stream.read_exact(&mut problem).await.expect("body");
    }
}
