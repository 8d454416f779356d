//! Studios: profile, team, catalog, availability, policies, clients, public catalog, audit; on
//! both adapters.

use std::sync::Arc;

use atelier_platform::store::{Index, Query};
use atelier_tests::{Account, TestApp, studio_profile};
use http::Method;
use serde_json::{Value, json};

fn path(studio: &str, rest: &str) -> String {
    format!("/v1/studios/{studio}{rest}")
}

/// Builds the request now and returns the sending, which borrows nothing.
fn send(
    app: &TestApp,
    method: Method,
    uri: &str,
    who: &Account,
    body: Option<Value>,
) -> impl Future<Output = atelier_tests::TestResponse> + use<> {
    let mut request = app.request(method, uri).bearer(&who.access);
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send()
}

fn cut(professional: &str) -> Value {
    json!({
        "name": "Cut & style",
        "category": "hair",
        "duration_minutes": 45,
        "price_minor": 2500,
        "buffer_after_minutes": 10,
        "professional_ids": [professional],
        "resource_type": "chair"
    })
}

async fn studio_lifecycle(app: TestApp) {
    let owner = app.register("owner@lifecycle.example").await;
    let created = send(&app, Method::POST, "/v1/studios", &owner, Some(studio_profile("lisboa-ink"))).await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let studio = created.json();
    let id = studio["id"].as_str().expect("id").to_owned();
    assert_eq!(created.header("location"), Some(path(&id, "").as_str()));
    assert_eq!(created.header("etag"), Some("\"1\""));
    assert_eq!(studio["currency"], "EUR");
    assert_eq!(studio["settings"]["slot_step_minutes"], 15);

    let me = app.request(Method::GET, "/v1/me").bearer(&owner.access).send().await.json();
    assert_eq!(me["memberships"], json!([{ "studio_id": id, "role": "owner" }]));

    let public = app.request(Method::GET, "/v1/public/slugs/LISBOA-INK").send().await;
    assert_eq!(public.status, 200);
    assert_eq!(public.json()["id"], id.as_str());
    assert!(public.json().get("tax_id").is_none(), "the public view is the public view");

    // The slug is taken, whatever the case.
    let other = app.register("other@lifecycle.example").await;
    let taken = send(&app, Method::POST, "/v1/studios", &other, Some(studio_profile("Lisboa-Ink"))).await;
    assert_eq!(taken.assert_problem(422, "validation-failed")["errors"][0]["field"], "slug");

    // Patch with If-Match: a stale version is a 412, the right one applies.
    let patch = json!({ "description": "Fine-line tattoos", "settings": { "min_notice_minutes": 120 } });
    let stale = app
        .request(Method::PATCH, &path(&id, ""))
        .bearer(&owner.access)
        .header("if-match", "\"7\"")
        .json(&patch)
        .send()
        .await;
    stale.assert_problem(412, "precondition-failed");
    let patched = app
        .request(Method::PATCH, &path(&id, ""))
        .bearer(&owner.access)
        .header("if-match", "\"1\"")
        .json(&patch)
        .send()
        .await;
    assert_eq!(patched.status, 200, "{:?}", patched.body);
    assert_eq!(patched.json()["description"], "Fine-line tattoos");
    assert_eq!(patched.json()["settings"]["min_notice_minutes"], 120);
    assert_eq!(patched.json()["settings"]["horizon_days"], 60, "merge patch keeps what it does not name");
    assert_eq!(patched.header("etag"), Some("\"2\""));

    // A new slug frees the old one.
    let renamed =
        send(&app, Method::PATCH, &path(&id, ""), &owner, Some(json!({ "slug": "ink-lisboa" }))).await;
    assert_eq!(renamed.status, 200);
    assert_eq!(app.request(Method::GET, "/v1/public/slugs/lisboa-ink").send().await.status, 404);
    assert_eq!(
        send(&app, Method::POST, "/v1/studios", &other, Some(studio_profile("lisboa-ink"))).await.status,
        201
    );

    // Deactivated: gone from public reads, still there for members.
    let deactivated = send(&app, Method::POST, &path(&id, "/deactivate"), &owner, None).await;
    assert_eq!(deactivated.json()["active"], false);
    app.request(Method::GET, "/v1/public/slugs/ink-lisboa").send().await.assert_problem(404, "not-found");
    assert_eq!(send(&app, Method::GET, &path(&id, ""), &owner, None).await.status, 200);
    send(&app, Method::POST, &path(&id, "/activate"), &owner, None).await;
    assert_eq!(app.request(Method::GET, "/v1/public/slugs/ink-lisboa").send().await.status, 200);

    // Every change is audited, and only owners read the trail.
    let audit = send(&app, Method::GET, &path(&id, "/audit?limit=100"), &owner, None).await;
    assert_eq!(audit.status, 200, "{:?}", audit.body);
    let audit = audit.json();
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|e| e["action"].as_str().expect("action"))
        .collect();
    assert_eq!(
        actions,
        ["studio.activated", "studio.deactivated", "studio.updated", "studio.updated", "studio.created"],
        "newest first"
    );
}

async fn bad_studios_change_nothing(app: TestApp) {
    let owner = app.register("owner@bad.example").await;
    let mut profile = studio_profile("bad-studio");
    profile["time_zone"] = json!("Mars/Olympus");
    profile["currency"] = json!("EURO");
    profile["tax_rate_bps"] = json!(12_000);
    profile["settings"]["slot_step_minutes"] = json!(7);
    let response = send(&app, Method::POST, "/v1/studios", &owner, Some(profile)).await;
    let problem = response.assert_problem(422, "validation-failed");
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| e["field"].as_str().expect("field"))
        .collect();
    for field in ["time_zone", "currency", "tax_rate_bps", "settings.slot_step_minutes"] {
        assert!(fields.contains(&field), "{field}: {problem}");
    }
    let mut extra = studio_profile("bad-studio");
    extra["owner_id"] = json!("someone-else");
    send(&app, Method::POST, "/v1/studios", &owner, Some(extra)).await.assert_problem(422, "invalid-body");
    let me = app.request(Method::GET, "/v1/me").bearer(&owner.access).send().await.json();
    assert_eq!(me["memberships"], json!([]), "no studio was created");
    assert_eq!(
        send(&app, Method::POST, "/v1/studios", &owner, Some(studio_profile("bad-studio"))).await.status,
        201,
        "the slug is free"
    );
}

async fn team_invitations_roles_and_the_last_owner(app: TestApp) {
    let owner = app.register("owner@team.example").await;
    let studio = app.create_studio(&owner, "team-studio").await;
    let manager = app.join(&studio, &owner, "manager@team.example", "manager").await;
    let pro = app.join(&studio, &manager, "pro@team.example", "professional").await;

    // Managers cannot hand out the owner role; owners can.
    let invite_owner = json!({ "email": "co-owner@team.example", "role": "owner" });
    send(&app, Method::POST, &path(&studio, "/invitations"), &manager, Some(invite_owner.clone()))
        .await
        .assert_problem(403, "role-required");
    let co_owner = app.join(&studio, &owner, "co-owner@team.example", "owner").await;

    // An invitation is only for its addressee.
    let stray = send(
        &app,
        Method::POST,
        &path(&studio, "/invitations"),
        &owner,
        Some(json!({ "email": "x@team.example", "role": "professional" })),
    )
    .await;
    let stray_id = stray.json()["id"].as_str().expect("id").to_owned();
    let outsider = app.register("outsider@team.example").await;
    send(&app, Method::POST, &path(&studio, &format!("/invitations/{stray_id}/accept")), &outsider, None)
        .await
        .assert_problem(404, "not-found");
    let mine = app.register("x@team.example").await;
    let listed = app.request(Method::GET, "/v1/invitations").bearer(&mine.access).send().await.json();
    assert_eq!(listed["items"][0]["id"], stray_id.as_str());
    send(&app, Method::DELETE, &path(&studio, &format!("/invitations/{stray_id}")), &manager, None).await;
    send(&app, Method::POST, &path(&studio, &format!("/invitations/{stray_id}/accept")), &mine, None)
        .await
        .assert_problem(409, "invitation-not-pending");

    let members = send(&app, Method::GET, &path(&studio, "/members"), &pro, None).await.json();
    assert_eq!(members["items"].as_array().map(Vec::len), Some(4));

    // Role changes: managers may not touch owners.
    let demote_owner = json!({ "role": "manager" });
    send(
        &app,
        Method::PATCH,
        &path(&studio, &format!("/members/{}", co_owner.user_id)),
        &manager,
        Some(demote_owner.clone()),
    )
    .await
    .assert_problem(403, "role-required");
    let promoted = send(
        &app,
        Method::PATCH,
        &path(&studio, &format!("/members/{}", pro.user_id)),
        &manager,
        Some(json!({ "role": "manager" })),
    )
    .await;
    assert_eq!(promoted.json()["role"], "manager");

    // Two owners demoting each other at once: exactly one succeeds, one owner remains.
    let app = Arc::new(app);
    let (a, b) = tokio::join!(
        send(
            &app,
            Method::PATCH,
            &path(&studio, &format!("/members/{}", co_owner.user_id)),
            &owner,
            Some(demote_owner.clone())
        ),
        send(
            &app,
            Method::PATCH,
            &path(&studio, &format!("/members/{}", owner.user_id)),
            &co_owner,
            Some(demote_owner.clone())
        ),
    );
    let statuses = [a.status.as_u16(), b.status.as_u16()];
    assert!(statuses.contains(&200) && statuses.iter().any(|s| *s == 409 || *s == 403), "{statuses:?}");
    let remaining = send(&app, Method::GET, &path(&studio, "/members"), &manager, None).await.json();
    let owners =
        remaining["items"].as_array().expect("members").iter().filter(|m| m["role"] == "owner").count();
    assert_eq!(owners, 1, "never zero owners");
    let last_owner = if a.status == 200 { &owner } else { &co_owner };
    let leave = send(
        &app,
        Method::DELETE,
        &path(&studio, &format!("/members/{}", last_owner.user_id)),
        last_owner,
        None,
    )
    .await;
    leave.assert_problem(409, "last-owner");

    // A member may leave; then they are nobody there.
    assert_eq!(
        send(&app, Method::DELETE, &path(&studio, &format!("/members/{}", pro.user_id)), &pro, None)
            .await
            .status,
        204
    );
    send(&app, Method::GET, &path(&studio, ""), &pro, None).await.assert_problem(404, "not-found");
}

async fn professionals_and_the_catalog(app: TestApp) {
    let owner = app.register("owner@catalog.example").await;
    let studio = app.create_studio(&owner, "catalog-studio").await;
    let rita = app.join(&studio, &owner, "rita@catalog.example", "professional").await;
    let ines = app.join(&studio, &owner, "ines@catalog.example", "professional").await;

    // A professional edits their own profile, not a colleague's.
    let profile = json!({ "display_name": "Rita", "specialties": ["Balayage"], "commission_bps": 4000 });
    let own = send(
        &app,
        Method::PUT,
        &path(&studio, &format!("/professionals/{}", rita.user_id)),
        &rita,
        Some(profile.clone()),
    )
    .await;
    assert_eq!(own.status, 200, "{:?}", own.body);
    assert_eq!(own.json()["specialties"], json!(["balayage"]));
    send(
        &app,
        Method::PUT,
        &path(&studio, &format!("/professionals/{}", rita.user_id)),
        &ines,
        Some(profile),
    )
    .await
    .assert_problem(403, "role-required");
    app.make_professional(&studio, &owner, &ines).await;

    // Services need real professionals and sane numbers.
    send(&app, Method::POST, &path(&studio, "/services"), &owner, Some(cut("nobody")))
        .await
        .assert_problem(422, "validation-failed");
    let mut bad = cut(&rita.user_id);
    bad["duration_minutes"] = json!(40);
    bad["price_minor"] = json!(-5);
    bad["deposit_required"] = json!(true);
    bad["deposit_bps"] = json!(10_001);
    let problem = send(&app, Method::POST, &path(&studio, "/services"), &owner, Some(bad))
        .await
        .assert_problem(422, "validation-failed");
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| e["field"].as_str().expect("field"))
        .collect();
    for field in ["duration_minutes", "price_minor", "deposit_bps"] {
        assert!(fields.contains(&field), "{field}: {problem}");
    }
    send(&app, Method::POST, &path(&studio, "/services"), &rita, Some(cut(&rita.user_id)))
        .await
        .assert_problem(403, "role-required");

    let created =
        send(&app, Method::POST, &path(&studio, "/services"), &owner, Some(cut(&rita.user_id))).await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let service = created.json()["id"].as_str().expect("id").to_owned();
    for (name, category, price, pro) in [
        ("Colour", "hair", 6000, &ines.user_id),
        ("Beard", "barber", 1500, &rita.user_id),
        ("Tattoo", "tattoo", 12000, &ines.user_id),
    ] {
        let mut s = cut(pro);
        s["name"] = json!(name);
        s["category"] = json!(category);
        s["price_minor"] = json!(price);
        assert_eq!(send(&app, Method::POST, &path(&studio, "/services"), &owner, Some(s)).await.status, 201);
    }
    let inactive = send(
        &app,
        Method::POST,
        &path(&studio, "/services"),
        &owner,
        Some({
            let mut s = cut(&rita.user_id);
            s["name"] = json!("Retired");
            s["active"] = json!(false);
            s
        }),
    )
    .await;
    assert_eq!(inactive.status, 201);

    // The public catalog: active only, filters, pages.
    let public = |query: &str| {
        app.request(Method::GET, &format!("/v1/public/studios/{studio}/services{query}")).send()
    };
    let names = |page: &Value| -> Vec<String> {
        page["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|s| s["name"].as_str().expect("name").to_owned())
            .collect()
    };
    let all = public("").await.json();
    assert_eq!(names(&all).len(), 4, "the inactive one is not public: {all}");
    assert_eq!(names(&public("?category=hair").await.json()).len(), 2);
    assert_eq!(
        names(&public("?min_price=2000&max_price=7000").await.json()),
        ["Cut & style", "Colour"],
        "in creation order"
    );
    assert_eq!(names(&public(&format!("?professional_id={}", ines.user_id)).await.json()).len(), 2);
    let first = public("?limit=3").await.json();
    assert_eq!(names(&first).len(), 3);
    let rest =
        public(&format!("?limit=3&cursor={}", first["next_cursor"].as_str().expect("more"))).await.json();
    assert_eq!(names(&rest).len(), 1);
    assert!(rest.get("next_cursor").is_none());
    public("?cursor=garbage").await.assert_problem(400, "bad-request");
    let members_view =
        send(&app, Method::GET, &path(&studio, "/services?limit=100"), &rita, None).await.json();
    assert_eq!(names(&members_view).len(), 5, "members see inactive services too");
    let pros =
        app.request(Method::GET, &format!("/v1/public/studios/{studio}/professionals")).send().await.json();
    assert_eq!(pros["items"].as_array().map(Vec::len), Some(2));

    // Concurrent edits of one service with the same If-Match: one wins, one is told.
    let app = Arc::new(app);
    let edit = |price: i64| {
        let app = app.clone();
        let (studio, service, owner) = (studio.clone(), service.clone(), owner.clone());
        async move {
            app.request(Method::PATCH, &path(&studio, &format!("/services/{service}")))
                .bearer(&owner.access)
                .header("if-match", "\"1\"")
                .json(&json!({ "price_minor": price }))
                .send()
                .await
        }
    };
    let (a, b) = tokio::join!(edit(3000), edit(3500));
    let mut statuses = [a.status.as_u16(), b.status.as_u16()];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 412], "never a lost update");
    let winner = if a.status == 200 { 3000 } else { 3500 };
    let stored = send(&app, Method::GET, &path(&studio, &format!("/services/{service}")), &owner, None).await;
    assert_eq!(stored.json()["price_minor"], winner);
    assert_eq!(stored.header("etag"), Some("\"2\""));
    // Without If-Match, a concurrent change is a 409, still never a silent overwrite.
    let (c, d) = tokio::join!(
        send(
            &app,
            Method::PATCH,
            &path(&studio, &format!("/services/{service}")),
            &owner,
            Some(json!({ "name": "A" }))
        ),
        send(
            &app,
            Method::PATCH,
            &path(&studio, &format!("/services/{service}")),
            &owner,
            Some(json!({ "name": "B" }))
        ),
    );
    let mut statuses = [c.status.as_u16(), d.status.as_u16()];
    statuses.sort_unstable();
    assert!(statuses == [200, 200] || statuses == [200, 409], "{statuses:?}");

    // Resources.
    let chair = send(
        &app,
        Method::POST,
        &path(&studio, "/resources"),
        &owner,
        Some(json!({ "name": "Chair 1", "resource_type": "chair", "capacity": 1 })),
    )
    .await;
    assert_eq!(chair.status, 201);
    send(
        &app,
        Method::POST,
        &path(&studio, "/resources"),
        &owner,
        Some(json!({ "name": "Chair 2", "resource_type": "chair", "capacity": 0 })),
    )
    .await
    .assert_problem(422, "validation-failed");
    let chair_id = chair.json()["id"].as_str().expect("id").to_owned();
    let renamed = send(
        &app,
        Method::PATCH,
        &path(&studio, &format!("/resources/{chair_id}")),
        &owner,
        Some(json!({ "name": "Window chair" })),
    )
    .await;
    assert_eq!(renamed.json()["name"], "Window chair");
    assert_eq!(
        send(&app, Method::GET, &path(&studio, "/resources"), &rita, None).await.json()["items"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );

    // The slot step cannot change under existing services.
    let step = send(
        &app,
        Method::PATCH,
        &path(&studio, ""),
        &owner,
        Some(json!({ "settings": { "slot_step_minutes": 20 } })),
    )
    .await;
    assert_eq!(
        step.assert_problem(422, "validation-failed")["errors"][0]["field"],
        "settings.slot_step_minutes"
    );
}

async fn availability_rules_and_exceptions(app: TestApp) {
    let owner = app.register("owner@avail.example").await;
    let studio = app.create_studio(&owner, "avail-studio").await;
    let rita = app.join(&studio, &owner, "rita@avail.example", "professional").await;
    let ines = app.join(&studio, &owner, "ines@avail.example", "professional").await;
    app.make_professional(&studio, &owner, &rita).await;
    let uri = path(&studio, &format!("/professionals/{}/availability", rita.user_id));

    let empty = send(&app, Method::GET, &uri, &ines, None).await;
    assert_eq!(empty.json()["ranges"], json!([]));
    assert_eq!(empty.header("etag"), Some("\"0\""));
    let week = json!({ "ranges": [
        { "day": "tuesday", "start": "14:00", "end": "19:00" },
        { "day": "tuesday", "start": "09:00", "end": "13:00" },
        { "day": "saturday", "start": "10:00", "end": "24:00" }
    ]});
    let saved = app
        .request(Method::PUT, &uri)
        .bearer(&rita.access)
        .header("if-match", "\"0\"")
        .json(&week)
        .send()
        .await;
    assert_eq!(saved.status, 200, "{:?}", saved.body);
    assert_eq!(saved.json()["ranges"][0]["start"], "09:00", "sorted");
    let overlapping = json!({ "ranges": [{ "day": "monday", "start": "09:00", "end": "13:00" }, { "day": "monday", "start": "12:30", "end": "15:00" }] });
    send(&app, Method::PUT, &uri, &rita, Some(overlapping)).await.assert_problem(422, "validation-failed");
    let inverted = json!({ "ranges": [{ "day": "monday", "start": "18:00", "end": "09:00" }] });
    send(&app, Method::PUT, &uri, &rita, Some(inverted)).await.assert_problem(422, "validation-failed");
    send(
        &app,
        Method::PUT,
        &uri,
        &rita,
        Some(json!({ "ranges": [{ "day": "funday", "start": "09:00", "end": "10:00" }] })),
    )
    .await
    .assert_problem(422, "invalid-body");
    send(&app, Method::PUT, &uri, &ines, Some(week.clone())).await.assert_problem(403, "role-required");
    let stale = app
        .request(Method::PUT, &uri)
        .bearer(&owner.access)
        .header("if-match", "\"0\"")
        .json(&week)
        .send()
        .await;
    stale.assert_problem(412, "precondition-failed");

    // Exceptions: overlaps of the same kind are refused, even when sent at the same time.
    let exceptions = format!("{uri}/exceptions");
    let christmas = json!({ "kind": "time_off", "start_date": "2026-12-24", "end_date": "2026-12-26", "note": "Christmas" });
    let added = send(&app, Method::POST, &exceptions, &rita, Some(christmas)).await;
    assert_eq!(added.status, 201, "{:?}", added.body);
    let christmas_id = added.json()["id"].as_str().expect("id").to_owned();
    let overlap = json!({ "kind": "time_off", "start_date": "2026-12-26", "end_date": "2026-12-27", "start_time": "10:00", "end_time": "12:00" });
    send(&app, Method::POST, &exceptions, &rita, Some(overlap))
        .await
        .assert_problem(422, "validation-failed");
    let extra = json!({ "kind": "extra_opening", "start_date": "2026-12-27", "end_date": "2026-12-27", "start_time": "10:00", "end_time": "14:00" });
    assert_eq!(
        send(&app, Method::POST, &exceptions, &rita, Some(extra)).await.status,
        201,
        "another kind may overlap"
    );
    let inverted = json!({ "kind": "time_off", "start_date": "2027-01-10", "end_date": "2027-01-05" });
    send(&app, Method::POST, &exceptions, &rita, Some(inverted))
        .await
        .assert_problem(422, "validation-failed");

    let app = Arc::new(app);
    let racer = |start: &'static str, end: &'static str| {
        let (app, exceptions, rita) = (app.clone(), exceptions.clone(), rita.clone());
        async move {
            send(
                &app,
                Method::POST,
                &exceptions,
                &rita,
                Some(json!({ "kind": "time_off", "start_date": start, "end_date": end })),
            )
            .await
            .status
            .as_u16()
        }
    };
    let (a, b) = tokio::join!(racer("2027-02-01", "2027-02-10"), racer("2027-02-05", "2027-02-15"));
    let mut statuses = [a, b];
    statuses.sort_unstable();
    assert!(
        statuses == [201, 409] || statuses == [201, 422],
        "exactly one of two overlapping exceptions: {statuses:?}"
    );

    let listed = send(&app, Method::GET, &format!("{exceptions}?from=2026-12-25&to=2026-12-31"), &ines, None)
        .await
        .json();
    assert_eq!(listed["items"].as_array().map(Vec::len), Some(2), "{listed}");
    assert_eq!(
        send(&app, Method::DELETE, &format!("{exceptions}/{christmas_id}"), &rita, None).await.status,
        204
    );
    send(&app, Method::DELETE, &format!("{exceptions}/{christmas_id}"), &rita, None)
        .await
        .assert_problem(404, "not-found");
}

async fn cancellation_policies_and_overbooking(app: TestApp) {
    let owner = app.register("owner@policy.example").await;
    let studio = app.create_studio(&owner, "policy-studio").await;
    let rita = app.join(&studio, &owner, "rita@policy.example", "professional").await;
    app.make_professional(&studio, &owner, &rita).await;
    let service = send(&app, Method::POST, &path(&studio, "/services"), &owner, Some(cut(&rita.user_id)))
        .await
        .json()["id"]
        .as_str()
        .expect("id")
        .to_owned();

    let default = json!({ "tiers": [
        { "min_hours": 0, "max_hours": 24, "fee": { "kind": "percent", "bps": 5000 } },
        { "min_hours": 24, "max_hours": 48, "fee": { "kind": "percent", "bps": 2500 } }
    ]});
    let saved = send(&app, Method::PUT, &path(&studio, "/cancellation-policy"), &owner, Some(default)).await;
    assert_eq!(saved.status, 200, "{:?}", saved.body);
    assert_eq!(saved.json()["source"], "studio_default");
    let overlapping = json!({ "tiers": [
        { "min_hours": 0, "max_hours": 30, "fee": { "kind": "percent", "bps": 5000 } },
        { "min_hours": 24, "max_hours": 48, "fee": { "kind": "fixed", "amount_minor": 1000 } }
    ]});
    send(&app, Method::PUT, &path(&studio, "/cancellation-policy"), &owner, Some(overlapping))
        .await
        .assert_problem(422, "validation-failed");
    send(&app, Method::PUT, &path(&studio, "/cancellation-policy"), &rita, Some(json!({ "tiers": [] })))
        .await
        .assert_problem(403, "role-required");

    let public = || {
        app.request(
            Method::GET,
            &format!("/v1/public/studios/{studio}/services/{service}/cancellation-policy"),
        )
        .send()
    };
    assert_eq!(public().await.json()["source"], "studio_default");
    let own = json!({ "tiers": [{ "min_hours": 0, "fee": { "kind": "fixed", "amount_minor": 1000 } }] });
    let saved = send(
        &app,
        Method::PUT,
        &path(&studio, &format!("/services/{service}/cancellation-policy")),
        &owner,
        Some(own),
    )
    .await;
    assert_eq!(saved.json()["source"], "service_override");
    assert_eq!(public().await.json()["tiers"][0]["fee"]["amount_minor"], 1000);
    send(
        &app,
        Method::DELETE,
        &path(&studio, &format!("/services/{service}/cancellation-policy")),
        &owner,
        None,
    )
    .await;
    assert_eq!(public().await.json()["source"], "studio_default");
    send(
        &app,
        Method::PUT,
        &path(&studio, "/services/nope/cancellation-policy"),
        &owner,
        Some(json!({ "tiers": [] })),
    )
    .await
    .assert_problem(404, "not-found");

    let overbooking = send(
        &app,
        Method::PUT,
        &path(&studio, "/overbooking"),
        &owner,
        Some(json!({ "max_percentage": 50, "auto_accept": true })),
    )
    .await;
    assert_eq!(overbooking.json()["max_percentage"], 50);
    send(&app, Method::PUT, &path(&studio, "/overbooking"), &owner, Some(json!({ "max_percentage": 150 })))
        .await
        .assert_problem(422, "validation-failed");
    let pro = send(
        &app,
        Method::PUT,
        &path(&studio, &format!("/professionals/{}/overbooking", rita.user_id)),
        &owner,
        Some(json!({ "max_percentage": 100, "vip_priority": true })),
    )
    .await;
    assert_eq!(pro.json()["vip_priority"], true);
    let effective = atelier_studios::policies::effective_overbooking(
        &app.platform,
        &studio.as_str().into(),
        &rita.user_id.as_str().into(),
    )
    .await
    .expect("config");
    assert_eq!(effective.capacity(1), 2);
}

async fn clients_crm(app: TestApp) {
    let app = Arc::new(app);
    let owner = app.register("owner@crm.example").await;
    let studio = app.create_studio(&owner, "crm-studio").await;
    let pro = app.join(&studio, &owner, "pro@crm.example", "professional").await;
    let add = |name: &str, phone: &str, email: &str| {
        send(
            &app,
            Method::POST,
            &path(&studio, "/clients"),
            &owner,
            Some(
                json!({ "name": name, "phone": phone, "email": email, "tags": ["VIP"], "marketing_consent": true }),
            ),
        )
    };
    let joao = add("João Conceição", "+351 912 345 678", "joao@example.com").await;
    assert_eq!(joao.status, 201, "{:?}", joao.body);
    let joao_id = joao.json()["id"].as_str().expect("id").to_owned();
    add("Joana Dias", "+351 913 000 111", "joana@example.com").await;
    add("Bruno Alves", "+55 11 91234 5678", "bruno@example.com").await;
    send(
        &app,
        Method::POST,
        &path(&studio, "/clients"),
        &owner,
        Some(json!({ "name": "", "email": "nope" })),
    )
    .await
    .assert_problem(422, "validation-failed");
    send(&app, Method::POST, &path(&studio, "/clients"), &pro, Some(json!({ "name": "X" })))
        .await
        .assert_problem(403, "role-required");

    let search =
        |query: &str| send(&app, Method::GET, &path(&studio, &format!("/clients{query}")), &pro, None);
    let names = |page: Value| -> Vec<String> {
        page["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|c| c["name"].as_str().expect("name").to_owned())
            .collect()
    };
    assert_eq!(names(search("?q=jo").await.json()), ["Joana Dias", "João Conceição"]);
    assert_eq!(names(search("?q=JOAO").await.json()), ["João Conceição"], "accents and case ignored");
    assert_eq!(names(search("?by=phone&q=%2B351%20912").await.json()), ["João Conceição"]);
    assert_eq!(names(search("?by=email&q=bru").await.json()), ["Bruno Alves"]);
    assert_eq!(names(search("?limit=2").await.json()).len(), 2);

    // Renamed: found by the new name only.
    let renamed = send(
        &app,
        Method::PATCH,
        &path(&studio, &format!("/clients/{joao_id}")),
        &owner,
        Some(json!({ "name": "João Silva", "notes": "Allergic to latex" })),
    )
    .await;
    assert_eq!(renamed.status, 200, "{:?}", renamed.body);
    assert_eq!(renamed.json()["tags"], json!(["vip"]));
    assert_eq!(names(search("?q=joao").await.json()), ["João Silva"]);
    assert!(names(search("?q=joao%20c").await.json()).is_empty());
    assert_eq!(
        send(&app, Method::DELETE, &path(&studio, &format!("/clients/{joao_id}")), &owner, None).await.status,
        204
    );
    assert!(names(search("?by=email&q=joao").await.json()).is_empty(), "erased from every index");

    // A client who books online gets one record, however many requests race to create it.
    let booker = app.register("booker@crm.example").await;
    let user: atelier_identity::UserRecord = app
        .platform
        .store
        .get(&atelier_identity::user_key(&atelier_domain::ids::UserId::from(booker.user_id)))
        .await
        .expect("get")
        .expect("user")
        .to_record()
        .expect("record");
    let mut racers = Vec::new();
    for _ in 0..10 {
        let (app, studio, user) = (app.clone(), studio.clone(), user.clone());
        racers.push(tokio::spawn(async move {
            atelier_studios::clients::for_user(
                &app.platform,
                &atelier_domain::ids::StudioId::from(studio),
                &user.profile(),
            )
            .await
            .expect("client")
            .id
        }));
    }
    let mut ids = std::collections::BTreeSet::new();
    for racer in racers {
        ids.insert(racer.await.expect("task"));
    }
    assert_eq!(ids.len(), 1, "one client record per account");
    assert_eq!(names(search("?by=email&q=booker").await.json()), ["Test Person"]);
}

/// Builds a plausible body for a route, so the matrix below tests access, not validation.
fn body_for(method: &Method, template: &str, ids: &Ids) -> Option<Value> {
    let body = match (method.as_str(), template) {
        (_, t) if t.ends_with("/deactivate") || t.ends_with("/activate") || t.ends_with("/accept") => {
            return None;
        }
        ("GET" | "DELETE", _) => return None,
        ("PATCH", "/v1/studios/{studio_id}") => json!({ "description": "changed" }),
        ("POST", "/v1/studios/{studio_id}/invitations") => {
            json!({ "email": "someone@matrix.example", "role": "professional" })
        }
        ("PATCH", "/v1/studios/{studio_id}/members/{user_id}") => json!({ "role": "manager" }),
        ("PUT", "/v1/studios/{studio_id}/professionals/{user_id}") => json!({ "display_name": "Changed" }),
        ("POST", "/v1/studios/{studio_id}/services") => cut(&ids.professional),
        ("PATCH", "/v1/studios/{studio_id}/services/{service_id}") => json!({ "price_minor": 1 }),
        ("POST", "/v1/studios/{studio_id}/resources") => json!({ "name": "Chair", "resource_type": "chair" }),
        ("PATCH", "/v1/studios/{studio_id}/resources/{resource_id}") => json!({ "capacity": 3 }),
        ("PUT", "/v1/studios/{studio_id}/professionals/{user_id}/availability") => json!({ "ranges": [] }),
        ("POST", "/v1/studios/{studio_id}/professionals/{user_id}/availability/exceptions") => {
            json!({ "kind": "time_off", "start_date": "2030-01-01", "end_date": "2030-01-02" })
        }
        (
            "PUT",
            "/v1/studios/{studio_id}/cancellation-policy"
            | "/v1/studios/{studio_id}/services/{service_id}/cancellation-policy",
        ) => json!({ "tiers": [] }),
        (
            "PUT",
            "/v1/studios/{studio_id}/overbooking"
            | "/v1/studios/{studio_id}/professionals/{user_id}/overbooking",
        ) => json!({ "max_percentage": 10 }),
        ("POST", "/v1/studios/{studio_id}/clients") => json!({ "name": "Someone" }),
        ("POST", "/v1/studios/{studio_id}/bookings/{booking_id}/reschedule") => {
            json!({ "start": "2026-06-03T10:00:00+01:00" })
        }
        ("POST", "/v1/studios/{studio_id}/clients/{client_id}/loyalty/redeem") => json!({ "points": 1 }),
        ("POST", "/v1/studios/{studio_id}/bookings/{booking_id}/checkout") => json!({ "purpose": "deposit" }),
        ("POST", "/v1/studios/{studio_id}/bookings/{booking_id}/payments") => json!({ "method": "cash" }),
        ("POST", "/v1/studios/{studio_id}/payments/{payment_id}/confirm") => {
            json!({ "payment_method": "pm_card_visa" })
        }
        ("POST", "/v1/studios/{studio_id}/payments/{payment_id}/refunds") => json!({ "amount_minor": 1 }),
        ("POST", t) if t.starts_with("/v1/studios/{studio_id}/bookings/{booking_id}/") => return None,
        ("POST", "/v1/studios/{studio_id}/professionals/{user_id}/calendar-feed") => return None,
        ("PATCH", "/v1/studios/{studio_id}/clients/{client_id}") => json!({ "notes": "changed" }),
        ("PUT", "/v1/studios/{studio_id}/notification-settings") => json!({ "topics": {} }),
        ("POST", "/v1/studios/{studio_id}/webhooks") => json!({ "url": "https://hooks.example.com/matrix" }),
        ("PATCH", "/v1/studios/{studio_id}/webhooks/{endpoint_id}") => json!({ "description": "changed" }),
        ("POST", "/v1/studios/{studio_id}/webhooks/{endpoint_id}/replay") => {
            json!({ "since": "2026-01-01T00:00:00Z" })
        }
        ("POST", t) if t.starts_with("/v1/studios/{studio_id}/webhooks/{endpoint_id}/") => return None,
        (
            "POST",
            "/v1/studios/{studio_id}/product-categories"
            | "/v1/studios/{studio_id}/brands"
            | "/v1/studios/{studio_id}/suppliers",
        ) => {
            json!({ "name": "Matrix" })
        }
        (
            "PATCH",
            "/v1/studios/{studio_id}/product-categories/{category_id}"
            | "/v1/studios/{studio_id}/brands/{brand_id}"
            | "/v1/studios/{studio_id}/product-models/{model_id}"
            | "/v1/studios/{studio_id}/suppliers/{supplier_id}",
        ) => json!({ "name": "Changed" }),
        ("POST", "/v1/studios/{studio_id}/product-models") => {
            json!({ "brand_id": NO_SUCH, "name": "Matrix" })
        }
        ("POST", "/v1/studios/{studio_id}/products") => json!({ "title": "Matrix dye", "sku": "MATRIX-1" }),
        ("PATCH", "/v1/studios/{studio_id}/products/{product_id}") => json!({ "title": "Changed" }),
        ("POST", "/v1/studios/{studio_id}/products/{product_id}/movements") => {
            json!({ "kind": "outflow", "quantity": 1 })
        }
        ("PUT", "/v1/studios/{studio_id}/services/{service_id}/stock-usage") => {
            json!({ "items": [{ "product_id": ids.product, "quantity": 1 }] })
        }
        ("POST", "/v1/studios/{studio_id}/projects") => json!({ "title": "Matrix", "client_id": ids.client }),
        ("PATCH", "/v1/studios/{studio_id}/projects/{project_id}") => json!({ "title": "Changed" }),
        ("POST", "/v1/studios/{studio_id}/projects/{project_id}/status") => json!({ "status": "planned" }),
        ("POST", "/v1/studios/{studio_id}/projects/{project_id}/items") => {
            json!({ "description": "Line", "quantity": 1, "unit_price_minor": 1 })
        }
        ("PUT", "/v1/studios/{studio_id}/projects/{project_id}/crew/{user_id}") => {
            json!({ "role": "Artist", "fee": { "kind": "fixed", "amount_minor": 1 } })
        }
        ("PUT", "/v1/studios/{studio_id}/projects/{project_id}/crew/{user_id}/minutes") => {
            json!({ "minutes": 1 })
        }
        ("POST", "/v1/studios/{studio_id}/projects/{project_id}/expenses") => {
            json!({ "category": "x", "description": "x", "amount_minor": 1, "date": "2026-06-01" })
        }
        ("POST", "/v1/studios/{studio_id}/sales") => {
            json!({ "lines": [{ "product_id": ids.product, "quantity": 1 }] })
        }
        ("PUT", "/v1/studios/{studio_id}/notification-templates/{topic}/{language}") => {
            json!({ "subject": "Booked", "body": "{{ start }}" })
        }
        ("POST", "/v1/studios/{studio_id}/exports") => json!({ "dataset": "clients", "format": "csv" }),
        ("POST", "/v1/studios/{studio_id}/api-keys") => {
            json!({ "name": "Matrix", "scopes": ["bookings:read"] })
        }
        ("POST", "/v1/studios/{studio_id}/exports/{export_id}/retry") => return None,
        // The upload's body is the file; a JSON string stands in (the caller is refused first).
        ("POST", "/v1/studios/{studio_id}/imports") => json!("name\nA\n"),
        (
            "POST",
            "/v1/studios/{studio_id}/imports/{import_id}/dry-run"
            | "/v1/studios/{studio_id}/imports/{import_id}/apply",
        ) => {
            json!({})
        }
        (m, t) => panic!("the tenant matrix has no body for {m} {t}: add one"),
    };
    Some(body)
}

/// An id nothing has.
const NO_SUCH: &str = "01JNOSUCHENTRY000000000000";

/// Query parameters a route requires.
fn query_for(method: &Method, template: &str) -> &'static str {
    if method == Method::GET && template.ends_with("/exceptions") {
        "?from=2029-01-01&to=2029-12-31"
    } else if method == Method::POST && template.ends_with("/imports") {
        "?kind=clients"
    } else {
        ""
    }
}

/// A studio's ids, to put in paths.
struct Ids {
    studio: String,
    professional: String,
    service: String,
    resource: String,
    client: String,
    invitation: String,
    exception: String,
    booking: String,
    entry: String,
    endpoint: String,
    product: String,
    project: String,
    export: String,
    import: String,
    api_key: String,
    /// A key of the studio's with every scope (its secret).
    key_secret: String,
}

impl Ids {
    fn fill(&self, template: &str) -> String {
        template
            .replace("{studio_id}", &self.studio)
            .replace("{user_id}", &self.professional)
            .replace("{service_id}", &self.service)
            .replace("{resource_id}", &self.resource)
            .replace("{client_id}", &self.client)
            .replace("{invitation_id}", &self.invitation)
            .replace("{exception_id}", &self.exception)
            .replace("{booking_id}", &self.booking)
            .replace("{entry_id}", &self.entry)
            .replace("{endpoint_id}", &self.endpoint)
            .replace("{message_id}", "msg_01JNOSUCHMESSAGE0000000000")
            .replace("{payment_id}", "01JNOSUCHPAYMENT0000000000")
            .replace("{product_id}", &self.product)
            .replace("{project_id}", &self.project)
            .replace("{export_id}", &self.export)
            .replace("{import_id}", &self.import)
            .replace("{key_id}", &self.api_key)
            .replace("{item_id}", NO_SUCH)
            .replace("{expense_id}", NO_SUCH)
            .replace("{category_id}", NO_SUCH)
            .replace("{brand_id}", NO_SUCH)
            .replace("{model_id}", NO_SUCH)
            .replace("{supplier_id}", NO_SUCH)
            .replace("{sale_id}", NO_SUCH)
            .replace("{topic}", "booking_confirmed")
            .replace("{language}", "en")
    }
}

async fn seed(app: &TestApp, owner: &Account, slug: &str) -> Ids {
    let studio = app.create_studio(owner, slug).await;
    let pro = app.join(&studio, owner, &format!("pro@{slug}.example"), "professional").await;
    app.make_professional(&studio, owner, &pro).await;
    let service = send(app, Method::POST, &path(&studio, "/services"), owner, Some(cut(&pro.user_id)))
        .await
        .json()["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let resource = send(
        app,
        Method::POST,
        &path(&studio, "/resources"),
        owner,
        Some(json!({ "name": "Chair", "resource_type": "chair" })),
    )
    .await
    .json()["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let client =
        send(app, Method::POST, &path(&studio, "/clients"), owner, Some(json!({ "name": "Client" })))
            .await
            .json()["id"]
            .as_str()
            .expect("id")
            .to_owned();
    let invitation = send(
        app,
        Method::POST,
        &path(&studio, "/invitations"),
        owner,
        Some(json!({ "email": format!("later@{slug}.example"), "role": "professional" })),
    )
    .await
    .json()["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let exception = send(
        app,
        Method::POST,
        &path(&studio, &format!("/professionals/{}/availability/exceptions", pro.user_id)),
        owner,
        Some(json!({ "kind": "time_off", "start_date": "2027-01-01", "end_date": "2027-01-01" })),
    )
    .await
    .json()["id"]
        .as_str()
        .expect("id")
        .to_owned();
    // A client's booking and a waitlist entry.
    crate::bookings::every_day(app, &studio, owner, &pro.user_id, "09:00", "18:00").await;
    let booker = app.register_from(&format!("booker@{slug}.example"), Some("198.51.100.200")).await;
    let booked = send(
        app,
        Method::POST,
        &path(&studio, "/bookings"),
        &booker,
        Some(json!({ "service_id": service, "professional_id": pro.user_id, "start": "2026-06-02T10:00:00+01:00" })),
    )
    .await;
    assert_eq!(booked.status, 201, "{:?}", booked.body);
    let booking = booked.json()["id"].as_str().expect("id").to_owned();
    let joined = send(
        app,
        Method::POST,
        &path(&studio, "/waitlist"),
        &booker,
        Some(json!({ "service_id": service, "from": "2026-06-01", "to": "2026-06-05" })),
    )
    .await;
    assert_eq!(joined.status, 201, "{:?}", joined.body);
    let entry = joined.json()["id"].as_str().expect("id").to_owned();
    let hook = json!({ "url": format!("https://hooks.example.com/{slug}") });
    let endpoint = send(app, Method::POST, &path(&studio, "/webhooks"), owner, Some(hook)).await.json()["id"]
        .as_str()
        .expect("id")
        .to_owned();
    // A stocked product.
    let made = send(
        app,
        Method::POST,
        &path(&studio, "/products"),
        owner,
        Some(json!({ "title": "Dye", "sku": "DYE-1" })),
    )
    .await;
    assert_eq!(made.status, 201, "{:?}", made.body);
    let product = made.json()["id"].as_str().expect("id").to_owned();
    let stocked = send(
        app,
        Method::POST,
        &path(&studio, &format!("/products/{product}/movements")),
        owner,
        Some(json!({ "kind": "inflow", "quantity": 5 })),
    )
    .await;
    assert_eq!(stocked.status, 201, "{:?}", stocked.body);
    // A project for the client.
    let made = send(
        app,
        Method::POST,
        &path(&studio, "/projects"),
        owner,
        Some(json!({ "title": "Sleeve", "client_id": client })),
    )
    .await;
    assert_eq!(made.status, 201, "{:?}", made.body);
    let project = made.json()["id"].as_str().expect("id").to_owned();
    // An export asked for, and an import uploaded (neither run).
    let asked = send(
        app,
        Method::POST,
        &path(&studio, "/exports"),
        owner,
        Some(json!({ "dataset": "clients", "format": "csv" })),
    )
    .await;
    assert_eq!(asked.status, 202, "{:?}", asked.body);
    let export = asked.json()["id"].as_str().expect("id").to_owned();
    let uploaded = app
        .request(Method::POST, &path(&studio, "/imports?kind=clients"))
        .bearer(&owner.access)
        .header("content-type", "text/csv")
        .body("name,email\nZoe,zoe@matrix.example\n")
        .send()
        .await;
    assert_eq!(uploaded.status, 201, "{:?}", uploaded.body);
    let import = uploaded.json()["id"].as_str().expect("id").to_owned();
    let scopes: Vec<&str> = atelier_identity::api_keys::Scope::ALL.iter().map(|s| s.as_str()).collect();
    let key = send(
        app,
        Method::POST,
        &path(&studio, "/api-keys"),
        owner,
        Some(json!({ "name": "Every scope", "scopes": scopes })),
    )
    .await;
    assert_eq!(key.status, 201, "{:?}", key.body);
    let (api_key, key_secret) = (
        key.json()["key"]["id"].as_str().expect("id").to_owned(),
        key.json()["secret"].as_str().expect("secret").to_owned(),
    );
    Ids {
        api_key,
        key_secret,
        product,
        project,
        export,
        import,
        studio,
        professional: pro.user_id,
        service,
        resource,
        client,
        invitation,
        exception,
        booking,
        entry,
        endpoint,
    }
}

/// Routes any signed-in user may use in any studio, as a client: booking, joining the
/// waitlist, their own waitlist entries and points. Outside the matrix; what an outsider sees
/// through them is checked below it.
const OPEN_TO_CLIENTS: [(&str, &str); 6] = [
    ("POST", "/v1/studios/{studio_id}/bookings"),
    ("POST", "/v1/studios/{studio_id}/bookings/series"),
    ("POST", "/v1/studios/{studio_id}/waitlist"),
    ("GET", "/v1/studios/{studio_id}/waitlist"),
    ("GET", "/v1/studios/{studio_id}/me/loyalty"),
    ("GET", "/v1/studios/{studio_id}/me/loyalty/history"),
];

/// Everything stored for a studio: its partition, its index partitions and its audit trail.
async fn snapshot(app: &TestApp, studio: &str) -> Vec<String> {
    let mut partitions = vec![Query::partition(format!("STUDIO#{studio}"))];
    for field in ["NAME", "PHONE", "EMAIL"] {
        partitions.push(Query::partition(format!("STUDIO#{studio}#CLIENTS#{field}")));
    }
    partitions.push(Query::partition(atelier_platform::audit::studio_partition(studio)).on(Index::Gsi1));
    for inventory in ["INVENTORY", "STOCK", "PROJECTS"] {
        partitions.push(Query::partition(format!("STUDIO#{studio}#{inventory}")));
    }
    let mut items = Vec::new();
    for query in partitions {
        for item in app.platform.store.query_all(query, 100_000).await.expect("query") {
            items.push(format!("{item:?}"));
        }
    }
    items.sort();
    items
}

/// Generated from the router: every studio route × every role in studio A, aimed at studio
/// B's ids. Nothing of B is reachable (404: B's existence is not confirmed to outsiders), and
/// nothing of B changes. Then A's members aim at B's ids under A's own path: 404, too.
async fn tenant_matrix(app: TestApp) {
    let owner_a = app.register("owner@a.matrix.example").await;
    let owner_b = app.register("owner@b.matrix.example").await;
    let a = seed(&app, &owner_a, "studio-a").await;
    let b = seed(&app, &owner_b, "studio-b").await;
    let manager_a = app.join(&a.studio, &owner_a, "manager@a.matrix.example", "manager").await;
    let pro_a = app.join(&a.studio, &owner_a, "pro2@a.matrix.example", "professional").await;
    let client = app.register("client@matrix.example").await;
    // An integration of A's, with every scope: keys reach only their own studio.
    let key_a = Account {
        user_id: format!("key:{}", a.api_key),
        email: String::new(),
        access: a.key_secret.clone(),
        refresh: String::new(),
    };
    let callers = [
        ("owner of A", &owner_a),
        ("manager of A", &manager_a),
        ("professional of A", &pro_a),
        ("client", &client),
        ("API key of A", &key_a),
    ];

    let doc = atelier_app::openapi::document();
    let mut routes = Vec::new();
    for (template, item) in doc.paths.paths.iter() {
        if !template.starts_with("/v1/studios/{studio_id}") {
            continue;
        }
        for (method, operation) in [
            (Method::GET, &item.get),
            (Method::POST, &item.post),
            (Method::PUT, &item.put),
            (Method::PATCH, &item.patch),
            (Method::DELETE, &item.delete),
        ] {
            if operation.is_some() && !OPEN_TO_CLIENTS.contains(&(method.as_str(), template.as_str())) {
                routes.push((method, template.clone()));
            }
        }
    }
    assert!(routes.len() >= 40, "all studio routes are in the matrix ({} found)", routes.len());

    let before = snapshot(&app, &b.studio).await;
    for (n, (method, template)) in routes.iter().enumerate() {
        if n % 25 == 24 {
            // Owner A sends two requests a route: stay inside the API's rate limit.
            app.clock.advance(jiff::SignedDuration::from_secs(61));
        }
        for (who, caller) in callers {
            let body = body_for(method, template, &a);
            let uri = format!("{}{}", b.fill(template), query_for(method, template));
            let response = send(&app, method.clone(), &uri, caller, body).await;
            assert_eq!(
                response.status,
                404,
                "{who}: {method} {uri}: {}",
                String::from_utf8_lossy(&response.body)
            );
        }
        // A's owner, on A's path, with B's ids: those ids do not exist in A.
        if template.matches("_id}").count() > 1 {
            let mixed = Ids { studio: a.studio.clone(), ..b.clone_ids() };
            let uri = format!("{}{}", mixed.fill(template), query_for(method, template));
            let body = body_for(method, template, &a);
            let response = send(&app, method.clone(), &uri, &owner_a, body.clone()).await;
            assert_eq!(
                response.status,
                404,
                "owner of A on B's ids: {method} {uri}: {}",
                String::from_utf8_lossy(&response.body)
            );
            // A's key too: B's ids are nothing to it (or the route is not open to keys at all).
            let response = send(&app, method.clone(), &uri, &key_a, body).await;
            let expected = if open_to_keys(method, template).is_some() { 404 } else { 403 };
            assert_eq!(
                response.status.as_u16(),
                expected,
                "A's key on B's ids: {method} {uri}: {}",
                String::from_utf8_lossy(&response.body)
            );
        }
    }
    assert_eq!(snapshot(&app, &b.studio).await, before, "nothing of B changed");

    // Through the routes open to clients, an outsider sees only their own things in B: none.
    // (A's key is refused even these: it is nobody's client.)
    for (method, template) in OPEN_TO_CLIENTS {
        let method: Method = method.parse().expect("method");
        // Refused before any body is read.
        let body = (method == Method::POST).then(|| json!({}));
        let response = send(&app, method.clone(), &b.fill(template), &key_a, body).await;
        assert_eq!(response.status, 404, "A's key: {method} {template}: {:?}", response.body);
    }
    for (who, caller) in &callers[..4] {
        let line = send(&app, Method::GET, &path(&b.studio, "/waitlist"), caller, None).await;
        assert_eq!(line.json()["items"], json!([]), "{who}: B's waitlist");
        let points = send(&app, Method::GET, &path(&b.studio, "/me/loyalty"), caller, None).await;
        assert_eq!(points.json()["points"], 0, "{who}");
        let history = send(&app, Method::GET, &path(&b.studio, "/me/loyalty/history"), caller, None).await;
        assert_eq!(history.json()["items"], json!([]), "{who}");
    }
}

/// What each scope should open, written out here independently of the scope table (a wrong or
/// widened entry there fails the walk below): `(method, route after /v1/studios/{studio_id}, scope)`.
const OPEN_TO_KEYS: &[(&str, &str, &str)] = &[
    ("GET", "/bookings", "bookings:read"),
    ("GET", "/bookings/{booking_id}", "bookings:read"),
    ("GET", "/waitlist", "bookings:read"),
    ("POST", "/bookings", "bookings:write"),
    ("POST", "/bookings/series", "bookings:write"),
    ("POST", "/bookings/{booking_id}/cancel", "bookings:write"),
    ("POST", "/bookings/{booking_id}/reschedule", "bookings:write"),
    ("POST", "/bookings/{booking_id}/confirm", "bookings:write"),
    ("POST", "/bookings/{booking_id}/check-in", "bookings:write"),
    ("POST", "/bookings/{booking_id}/complete", "bookings:write"),
    ("POST", "/bookings/{booking_id}/no-show", "bookings:write"),
    ("GET", "/clients", "clients:read"),
    ("GET", "/clients/{client_id}", "clients:read"),
    ("POST", "/clients", "clients:write"),
    ("PATCH", "/clients/{client_id}", "clients:write"),
    ("DELETE", "/clients/{client_id}", "clients:write"),
    ("GET", "/services", "catalog:read"),
    ("GET", "/services/{service_id}", "catalog:read"),
    ("GET", "/professionals", "catalog:read"),
    ("GET", "/professionals/{user_id}", "catalog:read"),
    ("GET", "/resources", "catalog:read"),
    ("GET", "/resources/{resource_id}", "catalog:read"),
    ("GET", "/webhooks", "webhooks:manage"),
    ("POST", "/webhooks", "webhooks:manage"),
    ("GET", "/webhooks/{endpoint_id}", "webhooks:manage"),
    ("PATCH", "/webhooks/{endpoint_id}", "webhooks:manage"),
    ("DELETE", "/webhooks/{endpoint_id}", "webhooks:manage"),
    ("GET", "/webhooks/{endpoint_id}/secret", "webhooks:manage"),
    ("POST", "/webhooks/{endpoint_id}/rotate-secret", "webhooks:manage"),
    ("POST", "/webhooks/{endpoint_id}/ping", "webhooks:manage"),
    ("GET", "/webhooks/{endpoint_id}/messages", "webhooks:manage"),
    ("GET", "/webhooks/{endpoint_id}/messages/{message_id}", "webhooks:manage"),
    ("POST", "/webhooks/{endpoint_id}/messages/{message_id}/replay", "webhooks:manage"),
    ("POST", "/webhooks/{endpoint_id}/replay", "webhooks:manage"),
];

fn open_to_keys(method: &Method, template: &str) -> Option<&'static str> {
    let rest = template.strip_prefix("/v1/studios/{studio_id}")?;
    OPEN_TO_KEYS.iter().find(|(m, r, _)| *m == method.as_str() && *r == rest).map(|(_, _, scope)| *scope)
}

/// Every studio route, with an API key of the studio's own holding every scope: the routes
/// [`OPEN_TO_KEYS`] lists run (whatever they answer, never 401 or 403) and agree with the scope
/// table; every other one is refused with `api-key-scope`.
async fn keys_reach_only_the_routes_their_scopes_open(app: TestApp) {
    let owner = app.register("owner@keys.matrix.example").await;
    let a = seed(&app, &owner, "studio-keys").await;
    let key = Account {
        user_id: String::new(),
        email: String::new(),
        access: a.key_secret.clone(),
        refresh: String::new(),
    };
    let doc = atelier_app::openapi::document();
    let mut open = 0;
    let mut n = 0;
    for (template, item) in doc.paths.paths.iter() {
        if !template.starts_with("/v1/studios/{studio_id}") {
            continue;
        }
        for (method, operation) in [
            (Method::GET, &item.get),
            (Method::POST, &item.post),
            (Method::PUT, &item.put),
            (Method::PATCH, &item.patch),
            (Method::DELETE, &item.delete),
        ] {
            if operation.is_none() {
                continue;
            }
            n += 1;
            if n % 30 == 0 {
                // The key's own rate limit (40 a minute in the tests).
                app.clock.advance(jiff::SignedDuration::from_secs(61));
            }
            let body = if OPEN_TO_CLIENTS.contains(&(method.as_str(), template.as_str())) {
                (method == Method::POST).then(|| json!({}))
            } else {
                body_for(&method, template, &a)
            };
            let uri = format!("{}{}", a.fill(template), query_for(&method, template));
            let response = send(&app, method.clone(), &uri, &key, body).await;
            let table = atelier_identity::api_keys::scope_for(method.as_str(), template).map(|s| s.as_str());
            assert_eq!(table, open_to_keys(&method, template), "{method} {template}: the scope table");
            if open_to_keys(&method, template).is_some() {
                open += 1;
                assert!(
                    ![401, 403].contains(&response.status.as_u16()),
                    "{method} {template} is open to the key: {}",
                    String::from_utf8_lossy(&response.body)
                );
            } else {
                response.assert_problem(403, "api-key-scope");
            }
        }
    }
    assert_eq!(open, OPEN_TO_KEYS.len(), "every route listed exists in the router");
}

impl Ids {
    fn clone_ids(&self) -> Ids {
        Ids {
            studio: self.studio.clone(),
            professional: self.professional.clone(),
            service: self.service.clone(),
            resource: self.resource.clone(),
            client: self.client.clone(),
            invitation: self.invitation.clone(),
            exception: self.exception.clone(),
            booking: self.booking.clone(),
            entry: self.entry.clone(),
            endpoint: self.endpoint.clone(),
            product: self.product.clone(),
            project: self.project.clone(),
            export: self.export.clone(),
            import: self.import.clone(),
            api_key: self.api_key.clone(),
            key_secret: self.key_secret.clone(),
        }
    }
}

atelier_tests::on_both_backends!(
    studio_lifecycle,
    bad_studios_change_nothing,
    team_invitations_roles_and_the_last_owner,
    professionals_and_the_catalog,
    availability_rules_and_exceptions,
    cancellation_policies_and_overbooking,
    clients_crm,
    tenant_matrix,
    keys_reach_only_the_routes_their_scopes_open,
);
