//! Identity and access: accounts, tokens, sessions, roles, rate limits, audit. Every attack the
//! issue lists is a test here, on both adapters.

use std::sync::Arc;

use atelier_platform::audit;
use atelier_platform::clock::Clock;
use atelier_platform::store::{Index, Query};
use atelier_tests::{
    Account, PASSWORD, PREVIOUS_KID, PREVIOUS_SECRET, RETIRED_KID, RETIRED_SECRET, TEST_KID, TEST_SECRET,
    TestApp,
};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use http::Method;
use jiff::SignedDuration;
use serde_json::{Value, json};

async fn get_me(app: &TestApp, token: &str) -> atelier_tests::TestResponse {
    app.request(Method::GET, "/v1/me").bearer(token).send().await
}

async fn refresh(app: &TestApp, token: &str) -> atelier_tests::TestResponse {
    app.request(Method::POST, "/v1/auth/refresh").json(&json!({ "refresh_token": token })).send().await
}

async fn actions_of(app: &TestApp, user_id: &str) -> Vec<String> {
    let query = Query::partition(audit::actor_partition(user_id)).on(Index::Gsi2);
    let items = app.platform.store.query_all(query, 100).await.expect("audit");
    items.iter().map(|i| i.string("action").expect("action").to_owned()).collect()
}

async fn register_sign_in_and_profile(app: TestApp) {
    let ana = app.register("Ana.Silva@Example.com").await;
    let me = get_me(&app, &ana.access).await;
    assert_eq!(me.status, 200);
    let body = me.json();
    assert_eq!(body["email"], "ana.silva@example.com", "stored lowercased");
    assert_eq!(body["is_admin"], false);
    assert!(body.get("password_hash").is_none(), "never shown");

    let login = app.login("ana.silva@EXAMPLE.com", PASSWORD).await;
    assert_eq!(login.status, 200);
    assert_eq!(login.json()["user"]["id"], ana.user_id.as_str());
    let tokens = &login.json()["tokens"];
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 1800);
    assert_eq!(tokens["refresh_expires_in"], 7 * 24 * 3600);

    let patched = app
        .request(Method::PATCH, "/v1/me")
        .bearer(&ana.access)
        .json(&json!({ "name": "  Ana S.  ", "phone": "+351 912 345 678" }))
        .send()
        .await;
    assert_eq!(patched.status, 200, "{:?}", patched.body);
    assert_eq!(patched.json()["name"], "Ana S.");
    assert_eq!(patched.json()["phone"], "+351912345678");
    let cleared =
        app.request(Method::PATCH, "/v1/me").bearer(&ana.access).json(&json!({ "phone": null })).send().await;
    assert!(cleared.json().get("phone").is_none());
    let bad =
        app.request(Method::PATCH, "/v1/me").bearer(&ana.access).json(&json!({ "phone": "12" })).send().await;
    let problem = bad.assert_problem(422, "validation-failed");
    assert_eq!(problem["errors"][0]["field"], "phone");

    let actions = actions_of(&app, &ana.user_id).await;
    for expected in ["auth.registered", "auth.login_succeeded", "user.profile_updated"] {
        assert!(actions.iter().any(|a| a == expected), "{expected} audited: {actions:?}");
    }
}

async fn bad_registrations_change_nothing(app: TestApp) {
    let response = app
        .request(Method::POST, "/v1/auth/register")
        .json(&json!({ "email": "not-an-email", "password": "password123", "name": " " }))
        .send()
        .await;
    let problem = response.assert_problem(422, "validation-failed");
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| e["field"].as_str().expect("field"))
        .collect();
    assert!(fields.contains(&"email") && fields.contains(&"name"), "{problem}");

    let common = app
        .request(Method::POST, "/v1/auth/register")
        .json(&json!({ "email": "bo@example.com", "password": "Password123", "name": "Bo" }))
        .send()
        .await;
    let problem = common.assert_problem(422, "validation-failed");
    assert_eq!(problem["errors"][0]["field"], "password");
    let short = app
        .request(Method::POST, "/v1/auth/register")
        .json(&json!({ "email": "bo@example.com", "password": "short", "name": "Bo" }))
        .send()
        .await;
    short.assert_problem(422, "validation-failed");
    // Nothing was written: the email is still free.
    app.register("bo@example.com").await;
}

async fn emails_are_unique_whatever_the_case(app: TestApp) {
    app.register("cy@example.com").await;
    let again = app
        .request(Method::POST, "/v1/auth/register")
        .json(&json!({ "email": "CY@Example.COM", "password": PASSWORD, "name": "Other" }))
        .send()
        .await;
    again.assert_problem(409, "email-taken");
}

async fn concurrent_registrations_make_one_account(app: TestApp) {
    let app = Arc::new(app);
    let attempts = (0..20).map(|i| {
        let app = app.clone();
        tokio::spawn(async move {
            // From twenty addresses, so the per-address limit is not what stops them.
            app.request(Method::POST, "/v1/auth/register")
                .header("x-forwarded-for", &format!("198.51.100.{i}"))
                .json(&json!({ "email": "race@example.com", "password": PASSWORD, "name": format!("Racer {i}") }))
                .send()
                .await
                .status
                .as_u16()
        })
    });
    let mut statuses = Vec::new();
    for attempt in attempts {
        statuses.push(attempt.await.expect("task"));
    }
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 409).count(), 19, "{statuses:?}");
    assert_eq!(app.login("race@example.com", PASSWORD).await.status, 200);
}

async fn mass_assignment_is_refused(app: TestApp) {
    let sneaky = app
        .request(Method::POST, "/v1/auth/register")
        .json(&json!({ "email": "dee@example.com", "password": PASSWORD, "name": "Dee", "is_admin": true }))
        .send()
        .await;
    sneaky.assert_problem(422, "invalid-body");
    let dee = app.register("dee@example.com").await;
    for field in [
        json!({ "role": "owner" }),
        json!({ "is_admin": true }),
        json!({ "email_verified": true }),
        json!({ "id": "other" }),
        json!({ "email": "x@example.com" }),
    ] {
        let response = app.request(Method::PATCH, "/v1/me").bearer(&dee.access).json(&field).send().await;
        response.assert_problem(422, "invalid-body");
    }
    let me = get_me(&app, &dee.access).await.json();
    assert_eq!(me["is_admin"], false);
    assert_eq!(me["id"], dee.user_id.as_str());
    assert_eq!(me["email"], "dee@example.com");
}

async fn login_does_not_reveal_accounts(app: TestApp) {
    app.register("eve@example.com").await;
    let hasher = &app.auth().hasher;
    let before = hasher.verifications();
    let wrong = app.login("eve@example.com", "not the password at all").await;
    let after_wrong = hasher.verifications();
    let unknown = app.login("nobody@example.com", "not the password at all").await;
    let after_unknown = hasher.verifications();
    assert_eq!(wrong.status, 401);
    assert_eq!(unknown.status, 401);
    assert_eq!(wrong.json()["detail"], unknown.json()["detail"]);
    assert_eq!(wrong.json()["detail"], "invalid email or password");
    assert_eq!(wrong.header("www-authenticate"), Some("Bearer"));
    assert_eq!(
        (after_wrong - before, after_unknown - after_wrong),
        (1, 1),
        "one password verification either way"
    );
    // Failed logins are audited, known email or not.
    let today = app.clock.now().to_zoned_datetime(jiff::tz::TimeZone::UTC).date();
    let mut failed_emails = Vec::new();
    for partition in audit::day_partitions(today) {
        for item in app.platform.store.query_all(Query::partition(partition), 1000).await.expect("audit") {
            if item.string("action").ok() == Some("auth.login_failed") {
                failed_emails.push(item.string("entity_id").expect("entity").to_owned());
            }
        }
    }
    failed_emails.sort();
    assert_eq!(failed_emails, ["eve@example.com", "nobody@example.com"]);
}

async fn refresh_rotates_and_detects_reuse(app: TestApp) {
    let fay = app.register("fay@example.com").await;
    let first = refresh(&app, &fay.refresh).await;
    assert_eq!(first.status, 200, "{:?}", first.body);
    let first_pair = first.json();
    let successor = first_pair["refresh_token"].as_str().expect("refresh").to_owned();
    assert_ne!(successor, fay.refresh);
    assert_eq!(get_me(&app, first_pair["access_token"].as_str().expect("access")).await.status, 200);

    // The client lost the answer and retries within the grace window: the same successor.
    app.clock.advance(SignedDuration::from_secs(20));
    let retry = refresh(&app, &fay.refresh).await;
    assert_eq!(retry.status, 200);
    assert_eq!(retry.json()["refresh_token"], successor.as_str(), "the same successor, not a second one");

    // Past the window, the retired token is a replay: the whole session is revoked.
    app.clock.advance(SignedDuration::from_secs(20));
    let replay = refresh(&app, &fay.refresh).await;
    let problem = replay.assert_problem(401, "unauthenticated");
    assert!(problem["detail"].as_str().is_some_and(|d| d.contains("reuse")), "{problem}");
    refresh(&app, &successor).await.assert_problem(401, "unauthenticated");
    get_me(&app, &fay.access).await.assert_problem(401, "unauthenticated");
    assert!(actions_of(&app, &fay.user_id).await.iter().any(|a| a == "auth.refresh_reuse_detected"));
    app.run_workers().await;
    let inbox = app
        .platform
        .store
        .query_all(Query::partition(format!("USER#{}", fay.user_id)), 100)
        .await
        .expect("inbox");
    assert!(inbox.iter().any(|i| i.string("topic").ok() == Some("session_revoked")), "the user is told");

    // Another session of the same user is untouched.
    let other = app.login("fay@example.com", PASSWORD).await;
    assert_eq!(other.status, 200);
}

async fn the_grace_window_is_for_the_rotating_client_only(app: TestApp) {
    let pat = app.register("pat@example.com").await;
    let from = |ip: &str, token: &str| {
        app.request(Method::POST, "/v1/auth/refresh")
            .header("x-forwarded-for", ip)
            .header("user-agent", "atelier-app/1.0")
            .json(&json!({ "refresh_token": token }))
            .send()
    };
    assert_eq!(from("198.51.100.7", &pat.refresh).await.status, 200);
    // Seconds later, the same old token from somewhere else: a stolen copy.
    let stolen = from("203.0.113.66", &pat.refresh).await;
    let problem = stolen.assert_problem(401, "unauthenticated");
    assert!(problem["detail"].as_str().is_some_and(|d| d.contains("reuse")), "{problem}");
    get_me(&app, &pat.access).await.assert_problem(401, "unauthenticated");
}

async fn concurrent_refreshes_issue_one_successor(app: TestApp) {
    let gus = Arc::new(app.register("gus@example.com").await);
    let app = Arc::new(app);
    let calls = (0..20).map(|_| {
        let (app, gus) = (app.clone(), gus.clone());
        tokio::spawn(async move {
            let r = refresh(&app, &gus.refresh).await;
            (r.status.as_u16(), r.json()["refresh_token"].as_str().map(str::to_owned))
        })
    });
    let mut successors = std::collections::BTreeSet::new();
    for call in calls {
        let (status, token) = call.await.expect("task");
        assert_eq!(status, 200);
        successors.insert(token.expect("token"));
    }
    assert_eq!(successors.len(), 1, "at most one successor");
    let successor = successors.into_iter().next().expect("one");
    assert_eq!(refresh(&app, &successor).await.status, 200, "and it works");
}

async fn logout_ends_the_session_at_once(app: TestApp) {
    let hal = app.register("hal@example.com").await;
    let second = app.login("hal@example.com", PASSWORD).await.json();
    let response = app.request(Method::POST, "/v1/auth/logout").bearer(&hal.access).send().await;
    assert_eq!(response.status, 204);
    get_me(&app, &hal.access).await.assert_problem(401, "unauthenticated");
    refresh(&app, &hal.refresh).await.assert_problem(401, "unauthenticated");
    let other_access = second["tokens"]["access_token"].as_str().expect("access");
    assert_eq!(get_me(&app, other_access).await.status, 200, "only that session ends");
    assert!(actions_of(&app, &hal.user_id).await.iter().any(|a| a == "auth.logout"));
}

async fn password_change(app: TestApp) {
    let ida = app.register("ida@example.com").await;
    let elsewhere = app.login("ida@example.com", PASSWORD).await.json();
    let change = |current: &str, new: &str| {
        app.request(Method::POST, "/v1/me/password")
            .bearer(&ida.access)
            .json(&json!({ "current_password": current, "new_password": new }))
            .send()
    };
    let wrong =
        change("not my password", "a brand new passphrase").await.assert_problem(422, "validation-failed");
    assert_eq!(wrong["errors"][0]["field"], "current_password");
    change(PASSWORD, "qwertyuiop").await.assert_problem(422, "validation-failed");
    assert_eq!(change(PASSWORD, "a brand new passphrase").await.status, 204);

    assert_eq!(get_me(&app, &ida.access).await.status, 200, "this session goes on");
    let other = elsewhere["tokens"]["access_token"].as_str().expect("access");
    get_me(&app, other).await.assert_problem(401, "unauthenticated");
    assert_eq!(app.login("ida@example.com", PASSWORD).await.status, 401);
    assert_eq!(app.login("ida@example.com", "a brand new passphrase").await.status, 200);
    assert!(actions_of(&app, &ida.user_id).await.iter().any(|a| a == "auth.password_changed"));
    app.run_workers().await;
    let inbox = app
        .platform
        .store
        .query_all(Query::partition(format!("USER#{}", ida.user_id)), 100)
        .await
        .expect("inbox");
    assert!(inbox.iter().any(|i| i.string("topic").ok() == Some("password_changed")), "the user is told");
}

fn sign(kid: &str, secret_b64: &str, claims: &Value) -> String {
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some(kid.to_owned());
    let secret = STANDARD.decode(secret_b64).expect("base64");
    jsonwebtoken::encode(&header, claims, &jsonwebtoken::EncodingKey::from_secret(&secret)).expect("sign")
}

fn claims(app: &TestApp, who: &Account, aud: &str) -> Value {
    let now = app.clock.now().as_second();
    // A real session id, so only the property under test can fail.
    let session = session_of(&who.access);
    json!({ "iss": "atelier", "aud": aud, "sub": who.user_id, "iat": now, "nbf": now, "exp": now + 600, "jti": "attack", "fam": session })
}

fn session_of(token: &str) -> String {
    let payload = token.split('.').nth(1).expect("payload");
    let claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64")).expect("json");
    claims["fam"].as_str().expect("fam").to_owned()
}

async fn forged_and_misused_tokens_are_refused(app: TestApp) {
    let jo = app.register("jo@example.com").await;
    let valid = claims(&app, &jo, "atelier-api");
    assert_eq!(get_me(&app, &sign(TEST_KID, TEST_SECRET, &valid)).await.status, 200, "the baseline passes");
    assert_eq!(
        get_me(&app, &sign(PREVIOUS_KID, PREVIOUS_SECRET, &valid)).await.status,
        200,
        "a verify-only key still verifies"
    );

    let mut attacks: Vec<(&str, String)> = Vec::new();
    let header_none =
        URL_SAFE_NO_PAD.encode(json!({ "alg": "none", "kid": TEST_KID, "typ": "JWT" }).to_string());
    let body = URL_SAFE_NO_PAD.encode(valid.to_string());
    attacks.push(("alg none", format!("{header_none}.{body}.")));
    let other_secret = STANDARD.encode([42u8; 32]);
    attacks.push(("HS256 with another key", sign(TEST_KID, &other_secret, &valid)));
    attacks.push(("unknown kid", sign("who-knows", TEST_SECRET, &valid)));
    attacks.push(("retired kid, its real secret", sign(RETIRED_KID, RETIRED_SECRET, &valid)));
    let mut no_kid = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    no_kid.kid = None;
    let secret = STANDARD.decode(TEST_SECRET).expect("base64");
    attacks.push((
        "no kid",
        jsonwebtoken::encode(&no_kid, &valid, &jsonwebtoken::EncodingKey::from_secret(&secret))
            .expect("sign"),
    ));
    let mut expired = valid.clone();
    expired["exp"] = json!(app.clock.now().as_second() - 60);
    attacks.push(("expired", sign(TEST_KID, TEST_SECRET, &expired)));
    let mut future = valid.clone();
    future["nbf"] = json!(app.clock.now().as_second() + 600);
    attacks.push(("not yet valid", sign(TEST_KID, TEST_SECRET, &future)));
    for (name, value) in [("exp", json!("9999999999")), ("nbf", json!("0"))] {
        let mut stringy = valid.clone();
        stringy[name] = value;
        attacks.push((
            if name == "exp" { "exp as a string" } else { "nbf as a string" },
            sign(TEST_KID, TEST_SECRET, &stringy),
        ));
    }
    for missing in ["iss", "aud", "sub", "exp", "iat"] {
        let mut without = valid.clone();
        without.as_object_mut().expect("object").remove(missing);
        attacks.push((missing, sign(TEST_KID, TEST_SECRET, &without)));
    }
    let mut wrong_aud = valid.clone();
    wrong_aud["aud"] = json!("someone-else");
    attacks.push(("wrong aud", sign(TEST_KID, TEST_SECRET, &wrong_aud)));
    let mut wrong_iss = valid.clone();
    wrong_iss["iss"] = json!("evil");
    attacks.push(("wrong iss", sign(TEST_KID, TEST_SECRET, &wrong_iss)));
    attacks.push(("refresh token as access token", jo.refresh.clone()));
    attacks.push(("garbage", "not.a.token".into()));
    for (name, token) in attacks {
        let response = get_me(&app, &token).await;
        assert_eq!(
            response.status,
            401,
            "{name} must be refused: {}",
            String::from_utf8_lossy(&response.body)
        );
        response.assert_problem(401, "unauthenticated");
    }
    refresh(&app, &jo.access).await.assert_problem(401, "unauthenticated");
    app.request(Method::GET, "/v1/me").send().await.assert_problem(401, "unauthenticated");
    app.request(Method::GET, "/v1/me")
        .header("authorization", "Basic am86cGFzcw==")
        .send()
        .await
        .assert_problem(401, "unauthenticated");

    // Time passes: the access token expires after 30 minutes.
    app.clock.advance(SignedDuration::from_mins(31));
    get_me(&app, &jo.access).await.assert_problem(401, "unauthenticated");
}

async fn login_attempts_are_rate_limited(app: TestApp) {
    app.register("kim@example.com").await;
    for _ in 0..5 {
        assert_eq!(app.login("kim@example.com", "wrong password here").await.status, 401);
    }
    let limited = app.login("kim@example.com", PASSWORD).await;
    let problem = limited.assert_problem(429, "rate-limited");
    let retry_after: u64 = limited.header("retry-after").expect("Retry-After").parse().expect("seconds");
    assert!((1..=60).contains(&retry_after));
    assert_eq!(problem["retry_after"], retry_after);
    // Other emails from the same address go on, up to 20 a minute.
    for i in 0..14 {
        assert_eq!(app.login(&format!("other{i}@example.com"), "whatever password").await.status, 401);
    }
    app.login("other-last@example.com", "whatever password").await.assert_problem(429, "rate-limited");
    app.clock.advance(SignedDuration::from_secs(61));
    assert_eq!(app.login("kim@example.com", PASSWORD).await.status, 200, "a new minute");
}

async fn api_calls_are_rate_limited_per_caller(app: TestApp) {
    let lou = app.register("lou@example.com").await;
    let mia = app.register("mia@example.com").await;
    for _ in 0..100 {
        assert_eq!(get_me(&app, &lou.access).await.status, 200);
    }
    get_me(&app, &lou.access).await.assert_problem(429, "rate-limited");
    assert_eq!(get_me(&app, &mia.access).await.status, 200, "per caller");
    app.clock.advance(SignedDuration::from_secs(61));
    assert_eq!(get_me(&app, &lou.access).await.status, 200);
}

async fn forged_forwarded_for_does_not_dodge_limits(app: TestApp) {
    app.register("noa@example.com").await;
    // A host that is not behind a trusted proxy ignores X-Forwarded-For.
    let untrusted = atelier_app::router(
        atelier_app::with_identity(
            atelier_app::state(app.platform.clone(), atelier_http::HttpConfig::default()),
            app.auth_arc(),
        ),
        &atelier_app::Group::ALL,
    );
    let attempt = |ip: String| {
        atelier_tests::TestRequest::new_for(untrusted.clone(), Method::POST, "/v1/auth/login")
            .header("x-forwarded-for", &ip)
            .json(&json!({ "email": "noa@example.com", "password": "wrong password here" }))
            .send()
    };
    for i in 0..5 {
        assert_eq!(attempt(format!("203.0.113.{i}")).await.status, 401);
    }
    attempt("203.0.113.99".into()).await.assert_problem(429, "rate-limited");
}

async fn sessions_have_an_absolute_lifetime(app: TestApp) {
    let oli = app.register("oli@example.com").await;
    let mut token = oli.refresh.clone();
    for _ in 0..4 {
        app.clock.advance(SignedDuration::from_hours(6 * 24));
        let response = refresh(&app, &token).await;
        assert_eq!(response.status, 200, "{:?}", response.body);
        token = response.json()["refresh_token"].as_str().expect("token").to_owned();
    }
    app.clock.advance(SignedDuration::from_hours(6 * 24 + 1));
    let expired = refresh(&app, &token).await.assert_problem(401, "unauthenticated");
    assert!(expired["detail"].as_str().is_some_and(|d| d.contains("session expired")), "{expired}");
}

atelier_tests::on_both_backends!(
    forged_forwarded_for_does_not_dodge_limits,
    sessions_have_an_absolute_lifetime,
    register_sign_in_and_profile,
    bad_registrations_change_nothing,
    emails_are_unique_whatever_the_case,
    concurrent_registrations_make_one_account,
    mass_assignment_is_refused,
    login_does_not_reveal_accounts,
    refresh_rotates_and_detects_reuse,
    the_grace_window_is_for_the_rotating_client_only,
    concurrent_refreshes_issue_one_successor,
    logout_ends_the_session_at_once,
    password_change,
    forged_and_misused_tokens_are_refused,
    login_attempts_are_rate_limited,
    api_calls_are_rate_limited_per_caller,
);

/// On AWS the key ring lives in Secrets Manager (moto here): read on first use, cached, read
/// again after the refresh period, so a rotation reaches running functions.
#[tokio::test]
async fn key_rings_load_and_rotate_from_secrets_manager() {
    use atelier_identity::KeySource;
    let moto = std::env::var("ATELIER_TEST_MOTO_URL").expect("ATELIER_TEST_MOTO_URL: run ./infra/test");
    let client = aws_sdk_secretsmanager::Client::new(&atelier_tests::emulator_config(&moto).await);
    let name = atelier_tests::unique_name("jwt-keys");
    let first = format!(r#"{{"kid":"k1","secret":"{TEST_SECRET}","status":"active"}}"#);
    client.create_secret().name(&name).secret_string(&first).send().await.expect("secret created");
    let secret = atelier_aws::SecretsManagerSecret::new(client.clone(), &name, std::time::Duration::ZERO);
    let keys = atelier_identity::SecretKeys::new(std::sync::Arc::new(secret), "atelier");

    let now = jiff::Timestamp::from_second(1_780_000_000).expect("instant");
    let claims = atelier_identity::tokens::Claims {
        iss: "atelier".into(),
        aud: "atelier-api".into(),
        sub: "u".into(),
        iat: now.as_second(),
        nbf: now.as_second(),
        exp: now.as_second() + 60,
        jti: "j".into(),
        fam: "f".into(),
    };
    let kid = |token: &str| -> Value {
        let header = URL_SAFE_NO_PAD.decode(token.split('.').next().expect("header")).expect("base64");
        serde_json::from_slice::<Value>(&header).expect("json")["kid"].clone()
    };
    let old_token = keys.ring().await.expect("ring").sign(&claims).expect("sign");
    assert_eq!(kid(&old_token), "k1");

    let rotated = format!(
        r#"[{{"kid":"k2","secret":"{PREVIOUS_SECRET}","status":"active"}},{{"kid":"k1","secret":"{TEST_SECRET}","status":"verify"}}]"#
    );
    client.put_secret_value().secret_id(&name).secret_string(&rotated).send().await.expect("rotated");
    let ring = keys.ring().await.expect("ring");
    assert_eq!(kid(&ring.sign(&claims).expect("sign")), "k2", "new tokens are signed with the new key");
    assert!(
        ring.verify(&old_token, "atelier-api", now).is_ok(),
        "tokens from before the rotation still verify"
    );
}
