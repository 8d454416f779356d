//! Sign in with Google and Apple, on both adapters, against the tests' identity provider (RSA
//! keys generated in the test, a JWKS on loopback): first sign-in makes an account, the next
//! finds it; an existing account is linked only with its password; wrong audience, issuer,
//! expiry, unknown key, algorithm, nonce and unverified emails are refused and make nothing;
//! keys are cached and fetched again for a rotated key; racing first sign-ins make one account.

use atelier_tests::TestApp;
use atelier_tests::http::TestResponse;
use atelier_tests::idp::{APPLE_CLIENT_ID, GOOGLE_CLIENT_ID, google_claims, test_idp};
use http::Method;
use jsonwebtoken::{EncodingKey, Header};
use serde_json::{Value, json};

async fn sign_in(app: &TestApp, provider: &str, body: Value) -> TestResponse {
    app.request(Method::POST, &format!("/v1/auth/oidc/{provider}")).json(&body).send().await
}

fn token(claims: &Value) -> String {
    let idp = test_idp();
    idp.sign(&idp.default_kid(), claims)
}

async fn first_sign_in_makes_an_account_and_links_only_with_the_password(app: TestApp) {
    let now = app.clock_now();
    let claims = {
        let mut c = google_claims("google-sub-gina", "Gina@OIDC.example", now);
        c["nonce"] = json!("n-123");
        c
    };
    let made = sign_in(&app, "google", json!({ "id_token": token(&claims), "nonce": "n-123" })).await;
    assert_eq!(made.status, 201, "{:?}", made.body);
    let user = made.json()["user"].clone();
    assert_eq!(
        (user["email"].as_str(), user["name"].as_str()),
        (Some("gina@oidc.example"), Some("Gina Google"))
    );
    let again = sign_in(&app, "google", json!({ "id_token": token(&claims), "nonce": "n-123" })).await;
    assert_eq!(again.status, 200, "{:?}", again.body);
    assert_eq!(again.json()["user"]["id"], user["id"], "the same account");
    let access = again.json()["tokens"]["access_token"].as_str().expect("token").to_owned();
    let me = app.request(Method::GET, "/v1/me").bearer(&access).send().await;
    assert_eq!(me.json()["email"], "gina@oidc.example");
    // Nobody knows the password of an account made this way.
    assert_eq!(app.login("gina@oidc.example", "correct horse battery staple").await.status, 401);

    // Apple: `email_verified` as a string, the name from the front end.
    let apple = json!({
        "iss": "https://appleid.apple.com", "aud": APPLE_CLIENT_ID, "sub": "001234.apple",
        "email": "abc123@privaterelay.appleid.com", "email_verified": "true",
        "iat": now.as_second(), "exp": now.as_second() + 600,
    });
    let made = sign_in(&app, "apple", json!({ "id_token": token(&apple), "name": "Ana Apple" })).await;
    assert_eq!(made.status, 201, "{:?}", made.body);
    assert_eq!(made.json()["user"]["name"], "Ana Apple");

    // An account with the email exists: linked only by proving its password.
    let paul = app.register("paul@oidc.example").await;
    let pauls = token(&google_claims("google-sub-paul", "paul@oidc.example", now));
    sign_in(&app, "google", json!({ "id_token": pauls })).await.assert_problem(409, "oidc-link-required");
    sign_in(&app, "google", json!({ "id_token": pauls, "password": "not the password at all" }))
        .await
        .assert_problem(401, "unauthenticated");
    let linked =
        sign_in(&app, "google", json!({ "id_token": pauls, "password": "correct horse battery staple" }))
            .await;
    assert_eq!(linked.status, 200, "{:?}", linked.body);
    assert_eq!(linked.json()["user"]["id"], json!(paul.user_id));
    let later = sign_in(&app, "google", json!({ "id_token": pauls })).await;
    assert_eq!((later.status.as_u16(), &later.json()["user"]["id"]), (200, &json!(paul.user_id)));
}

async fn bad_id_tokens_are_refused_and_make_nothing(app: TestApp) {
    let now = app.clock_now();
    let idp = test_idp();
    let good = google_claims("google-sub-eve", "eve@oidc.example", now);
    let with = |field: &str, value: Value| {
        let mut claims = good.clone();
        claims[field] = value;
        claims
    };
    let unpublished = idp.new_key(false);
    let hs256 = {
        let mut header = Header::new(jsonwebtoken::Algorithm::HS256);
        header.kid = Some(idp.default_kid());
        jsonwebtoken::encode(&header, &good, &EncodingKey::from_secret(b"a shared secret guessed by nobody"))
            .expect("signed")
    };
    let cases = [
        ("wrong audience", token(&with("aud", json!("someone-else.apps.googleusercontent.com")))),
        ("wrong issuer", token(&with("iss", json!("https://accounts.evil.example")))),
        ("Apple's issuer on Google", token(&with("iss", json!("https://appleid.apple.com")))),
        ("expired", token(&with("exp", json!(now.as_second() - 60)))),
        ("issued in the future", token(&with("iat", json!(now.as_second() + 3600)))),
        ("a key the provider does not publish", idp.sign(&unpublished, &good)),
        ("HS256 with the provider's key id", hs256),
        ("not a JWT", "garbage".to_owned()),
    ];
    for (why, id_token) in cases {
        let refused = sign_in(&app, "google", json!({ "id_token": id_token })).await;
        assert_eq!(refused.status, 401, "{why}: {}", String::from_utf8_lossy(&refused.body));
        refused.assert_problem(401, "unauthenticated");
    }
    let wrong_nonce = json!({ "id_token": token(&with("nonce", json!("theirs"))), "nonce": "ours" });
    sign_in(&app, "google", wrong_nonce).await.assert_problem(401, "unauthenticated");
    let missing_nonce = json!({ "id_token": token(&good), "nonce": "ours" });
    sign_in(&app, "google", missing_nonce).await.assert_problem(401, "unauthenticated");
    let unverified = json!({ "id_token": token(&with("email_verified", json!(false))) });
    sign_in(&app, "google", unverified).await.assert_problem(403, "email-not-verified");
    // A Google token is not an Apple one (issuer and audience differ).
    sign_in(&app, "apple", json!({ "id_token": token(&good) })).await.assert_problem(401, "unauthenticated");
    sign_in(&app, "facebook", json!({ "id_token": token(&good) })).await.assert_problem(404, "not-found");
    sign_in(&app, "google", json!({ "id_token": token(&good), "role": "owner" }))
        .await
        .assert_problem(422, "invalid-body");
    // Nothing was made: the email is free.
    let email = atelier_domain::identity::Email::parse("eve@oidc.example", "email").expect("email");
    assert!(app.platform.store.get(&atelier_identity::email_key(&email)).await.expect("read").is_none());
    // A deployment whose provider's keys cannot be fetched: 503, nothing made.
    let mut down = atelier_identity::oidc::ProviderConfig::google(vec![GOOGLE_CLIENT_ID.into()]);
    down.jwks_url = "http://127.0.0.1:9/jwks".into();
    let mut settings = atelier_tests::test_auth_settings();
    settings.oidc = std::sync::Arc::new(atelier_identity::oidc::OidcProviders::new(vec![down]));
    let state = atelier_app::with_identity(
        atelier_app::state(app.platform.clone(), atelier_tests::test_http_config()),
        std::sync::Arc::new(settings),
    );
    let router = atelier_app::router(state, &[atelier_app::Group::Auth]);
    atelier_tests::http::TestRequest::new_for(router, Method::POST, "/v1/auth/oidc/google")
        .json(&json!({ "id_token": token(&good) }))
        .send()
        .await
        .assert_problem(503, "identity-provider-unavailable");
    let providers = app.request(Method::GET, "/v1/auth/oidc").send().await.json();
    assert_eq!(providers["items"][1], json!({ "name": "google", "client_ids": [GOOGLE_CLIENT_ID] }));
}

async fn keys_are_cached_and_a_rotated_key_is_fetched(app: TestApp) {
    let now = app.clock_now();
    let settings = app.auth_arc();
    let before = settings.oidc.fetches();
    for n in 0..3 {
        let claims = google_claims(&format!("google-sub-cache-{n}"), &format!("cache{n}@oidc.example"), now);
        assert_eq!(sign_in(&app, "google", json!({ "id_token": token(&claims) })).await.status, 201);
    }
    assert_eq!(settings.oidc.fetches() - before, 1, "fetched once, then cached");
    // The provider rotates: a token signed with a key published since is accepted after one fetch.
    let idp = test_idp();
    let rotated = idp.new_key(true);
    let claims = google_claims("google-sub-rotated", "rotated@oidc.example", now);
    let signed_in = sign_in(&app, "google", json!({ "id_token": idp.sign(&rotated, &claims) })).await;
    assert_eq!(signed_in.status, 201, "{:?}", signed_in.body);
    assert_eq!(settings.oidc.fetches() - before, 2);
}

async fn racing_first_sign_ins_make_one_account(app: TestApp) {
    let claims = google_claims("google-sub-race", "race@oidc.example", app.clock_now());
    let id_token = token(&claims);
    let attempts = (0..6).map(|_| sign_in(&app, "google", json!({ "id_token": id_token })));
    let answers = futures_util::future::join_all(attempts).await;
    let statuses: Vec<u16> = answers.iter().map(|a| a.status.as_u16()).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 1, "one account made: {statuses:?}");
    assert!(statuses.iter().all(|s| *s == 201 || *s == 200), "{statuses:?}");
    let ids: std::collections::HashSet<String> =
        answers.iter().map(|a| a.json()["user"]["id"].to_string()).collect();
    assert_eq!(ids.len(), 1, "every sign-in is the same account");
}

atelier_tests::on_both_backends!(
    first_sign_in_makes_an_account_and_links_only_with_the_password,
    bad_id_tokens_are_refused_and_make_nothing,
    keys_are_cached_and_a_rotated_key_is_fetched,
    racing_first_sign_ins_make_one_account,
);
