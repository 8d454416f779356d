//! Imports end to end, on both adapters: a CSV of clients with two bad rows is uploaded, dry-run
//! (each problem named by row and column) and applied as a job (the good rows become clients,
//! the report names the bad ones, the uploader is told); a rerun after a crash applies no row
//! twice; products match by SKU and are updated only when asked; bad files are refused whole
//! and bad rows one by one.

use atelier_platform::store::{Item, Query, SortKey, WriteOp};
use atelier_tests::{Account, TestApp, TestResponse};
use http::Method;
use serde_json::{Value, json};

use crate::bookings::{Salon, path, salon, send};

fn id(v: &Value) -> String {
    v["id"].as_str().expect("id").to_owned()
}

async fn upload(
    app: &TestApp,
    s: &Salon,
    who: &Account,
    kind: &str,
    csv: impl Into<bytes::Bytes>,
) -> TestResponse {
    app.request(Method::POST, &path(&s.studio, &format!("/imports?kind={kind}")))
        .bearer(&who.access)
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await
}

async fn uploaded(app: &TestApp, s: &Salon, kind: &str, csv: impl Into<bytes::Bytes>) -> Value {
    let response = upload(app, s, &s.owner, kind, csv).await;
    assert_eq!(response.status, 201, "{}", String::from_utf8_lossy(&response.body));
    response.json()
}

async fn post(app: &TestApp, s: &Salon, rest: &str, body: Value) -> TestResponse {
    send(app, Method::POST, &path(&s.studio, rest), &s.owner, Some(body)).await
}

async fn get(app: &TestApp, s: &Salon, rest: &str) -> Value {
    let response = send(app, Method::GET, &path(&s.studio, rest), &s.owner, None).await;
    assert_eq!(response.status, 200, "{rest}: {}", String::from_utf8_lossy(&response.body));
    response.json()
}

async fn run_jobs(app: &TestApp) {
    app.deliver(&atelier_reports::exports::QUEUE, &app.worker(&atelier_reports::exports::QUEUE)).await;
}

async fn client_emails(app: &TestApp, s: &Salon) -> Vec<String> {
    let mut emails: Vec<String> = get(app, s, "/clients?limit=100").await["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|c| c["email"].as_str().map(str::to_owned))
        .collect();
    emails.sort();
    emails
}

const CLIENTS: &str = "\u{feff}Nome,E-mail,Telefone,Observações\n\
Ana Lima,ana@imp.example,+351 912 345 678,Prefers mornings\n\
Bea Costa,not-an-email,,\n\
Caio Reis,caio@imp.example,,\n\
Dora Dias,=HYPERLINK(\"http://evil.example\"),,\n\
Eva Neto,eva@imp.example,+351 913 000 111,\n";

async fn clients_with_two_bad_rows_are_reported_and_the_rest_applied(app: TestApp) {
    let s = salon(&app, "imp-clients").await;
    let job = uploaded(&app, &s, "clients", CLIENTS).await;
    assert_eq!(job["status"], "uploaded");
    assert_eq!(job["rows"], 5);
    assert_eq!(
        job["mapping"],
        json!({ "email": "E-mail", "name": "Nome", "notes": "Observações", "phone": "Telefone" })
    );
    let import = id(&job);

    let dry = post(&app, &s, &format!("/imports/{import}/dry-run"), json!({})).await;
    assert_eq!(dry.status, 200, "{:?}", dry.body);
    let dry = dry.json();
    assert_eq!((dry["valid"].as_u64(), dry["refused"].as_u64()), (Some(3), Some(2)));
    assert_eq!(
        dry["issues"][0],
        json!({ "row": 3, "column": "E-mail", "message": "is not an email address" })
    );
    assert_eq!(dry["issues"][1]["row"], 5);
    assert!(dry["issues"][1]["message"].as_str().expect("message").contains("formula"));
    assert!(client_emails(&app, &s).await.is_empty(), "a dry run writes nothing");

    let applied = post(&app, &s, &format!("/imports/{import}/apply"), json!({})).await;
    assert_eq!(applied.status, 202, "{:?}", applied.body);
    assert_eq!(applied.json()["status"], "pending");
    run_jobs(&app).await;
    let done = get(&app, &s, &format!("/imports/{import}")).await;
    assert_eq!(done["status"], "done", "{done}");
    assert_eq!(done["outcomes"], json!({ "created": 3, "updated": 0, "skipped": 0, "refused": 2 }));
    assert_eq!(client_emails(&app, &s).await, ["ana@imp.example", "caio@imp.example", "eva@imp.example"]);
    let refused = get(&app, &s, &format!("/imports/{import}/rows?outcome=refused")).await;
    let rows: Vec<u64> =
        refused["items"].as_array().expect("items").iter().filter_map(|r| r["row"].as_u64()).collect();
    assert_eq!(rows, [3, 5]);
    assert_eq!(refused["items"][0]["issues"][0]["column"], "E-mail");
    let created = get(&app, &s, &format!("/imports/{import}/rows?outcome=created")).await;
    assert!(created["items"][0]["record_id"].as_str().is_some_and(|r| !r.is_empty()), "{created}");
    let topics: Vec<String> = app
        .platform
        .store
        .query_all(
            Query::partition(format!("USER#{}", s.owner.user_id))
                .sort(SortKey::BeginsWith("NOTIFICATION#".into())),
            100,
        )
        .await
        .expect("inbox")
        .iter()
        .filter_map(|i| i.string("topic").ok().map(str::to_owned))
        .collect();
    assert!(topics.iter().any(|t| t == "import_finished"), "{topics:?}");
    post(&app, &s, &format!("/imports/{import}/apply"), json!({}))
        .await
        .assert_problem(409, "import-not-applicable");

    // A run that crashed before saving its progress goes again from the first row: every
    // row's report is there, so nothing is applied twice.
    let key = atelier_reports::imports::import_key(&s.studio.as_str().into(), &import.as_str().into());
    let mut stored: Value =
        app.platform.store.get(&key).await.expect("read").expect("job").to_record().expect("job");
    stored["status"] = json!("processing");
    stored["next_row"] = json!(0);
    let hop = stored["hop"].as_u64().expect("hop");
    app.platform
        .store
        .write(WriteOp::put(Item::from_record(&key, &stored).expect("item")))
        .await
        .expect("rewind");
    let (_, handler) =
        atelier_reports::imports::worker::handlers(&app.platform, std::time::Duration::from_secs(30))
            .remove(0);
    let event = atelier_platform::events::Event {
        trace: None,
        id: "rerun".into(),
        kind: atelier_reports::imports::REQUESTED.into(),
        studio_id: Some(s.studio.clone()),
        occurred_at: jiff::Timestamp::now(),
        payload: json!({ "studio_id": s.studio, "import_id": import, "hop": hop }),
    };
    handler.handle(&event).await.expect("rerun");
    assert_eq!(client_emails(&app, &s).await.len(), 3, "no client twice");
    let again = get(&app, &s, &format!("/imports/{import}")).await;
    assert_eq!(again["outcomes"], done["outcomes"]);
}

async fn products_match_by_sku_and_update_only_when_asked(app: TestApp) {
    let s = salon(&app, "imp-products").await;
    let shampoo =
        post(&app, &s, "/products", json!({ "title": "Shampoo", "sku": "SH-1", "sell_price_minor": 1000 }))
            .await;
    assert_eq!(shampoo.status, 201, "{:?}", shampoo.body);
    let shampoo = id(&shampoo.json());
    let csv = "sku,title,price,cost,minimum\nsh-1,Shampoo 500 ml,12.50,4.20,2\nOIL-1,Beard oil,9,3.10,1\nOIL-1,Beard oil again,9,3,1\n";
    let first = id(&uploaded(&app, &s, "products", csv).await);
    assert_eq!(post(&app, &s, &format!("/imports/{first}/apply"), json!({})).await.status, 202);
    run_jobs(&app).await;
    let done = get(&app, &s, &format!("/imports/{first}")).await;
    assert_eq!(done["outcomes"], json!({ "created": 1, "updated": 0, "skipped": 1, "refused": 1 }), "{done}");
    assert_eq!(
        get(&app, &s, &format!("/products/{shampoo}")).await["sell_price_minor"],
        1000,
        "left as it was"
    );
    let duplicate = get(&app, &s, &format!("/imports/{first}/rows?outcome=refused")).await;
    assert_eq!(duplicate["items"][0]["issues"][0]["message"], "the same sku as row 3 (oil-1)");

    let second = id(&uploaded(&app, &s, "products", csv).await);
    let applied = post(
        &app,
        &s,
        &format!("/imports/{second}/apply"),
        json!({ "update_existing": true, "mapping": { "minimum_quantity": null } }),
    )
    .await;
    assert_eq!(applied.status, 202, "{:?}", applied.body);
    run_jobs(&app).await;
    let done = get(&app, &s, &format!("/imports/{second}")).await;
    assert_eq!(done["outcomes"], json!({ "created": 0, "updated": 2, "skipped": 0, "refused": 1 }), "{done}");
    let updated = get(&app, &s, &format!("/products/{shampoo}")).await;
    assert_eq!(
        (updated["title"].as_str(), updated["sell_price_minor"].as_i64()),
        (Some("Shampoo 500 ml"), Some(1250))
    );
    assert_eq!(updated["cost_price_minor"], 420);
    assert_eq!(updated["minimum_quantity"], 0, "a field mapped out is left as it was");
}

async fn bad_files_and_rows_change_nothing(app: TestApp) {
    let s = salon(&app, "imp-bad").await;
    let other = salon(&app, "imp-bad-other").await;
    upload(&app, &s, &s.owner, "clients", "").await.assert_problem(422, "import-unreadable");
    upload(&app, &s, &s.owner, "clients", "null").await.assert_problem(422, "import-unreadable");
    upload(&app, &s, &s.owner, "clients", "name,Name\nA,B\n").await.assert_problem(422, "import-unreadable");
    let wide = (0..60).map(|i| format!("c{i}")).collect::<Vec<_>>().join(",");
    upload(&app, &s, &s.owner, "clients", wide).await.assert_problem(422, "import-unreadable");
    let many = format!("name\n{}", "Someone\n".repeat(10_001));
    upload(&app, &s, &s.owner, "clients", many).await.assert_problem(422, "import-unreadable");
    let huge = upload(&app, &s, &s.owner, "clients", vec![b'a'; 6 * 1024 * 1024]).await;
    assert_eq!(huge.status, 413, "{:?}", huge.body.len());
    upload(&app, &s, &s.pro, "clients", "name\nA\n").await.assert_problem(403, "role-required");
    let bad_kind = upload(&app, &s, &s.owner, "invoices", "name\nA\n").await;
    assert_eq!(bad_kind.status, 400);

    // Rows: latin-1 bytes, a 1 MB cell, a duplicate, a missing name.
    let mut csv = b"name,email\nJo\xe3o,joao@imp.example\n".to_vec();
    csv.extend_from_slice(format!("{},big@imp.example\n", "x".repeat(1024 * 1024)).as_bytes());
    csv.extend_from_slice(b"Rui,rui@imp.example\nRui again,RUI@imp.example\n,nameless@imp.example\n");
    let job = uploaded(&app, &s, "clients", csv).await;
    let import = id(&job);
    let dry = post(&app, &s, &format!("/imports/{import}/dry-run"), json!({})).await.json();
    let issues: Vec<(u64, String)> = dry["issues"]
        .as_array()
        .expect("issues")
        .iter()
        .map(|i| (i["row"].as_u64().expect("row"), i["message"].as_str().expect("message").to_owned()))
        .collect();
    assert_eq!(issues.len(), 4, "{issues:?}");
    assert_eq!(issues[0].0, 2);
    assert!(issues[0].1.contains("UTF-8"));
    assert_eq!(issues[1].0, 3);
    assert!(issues[1].1.contains("longer than"));
    assert_eq!(issues[2], (5, "the same email as row 4 (rui@imp.example)".to_owned()));
    assert_eq!(issues[3].0, 6);
    post(&app, &s, &format!("/imports/{import}/dry-run"), json!({ "mapping": { "name": "Nome" } }))
        .await
        .assert_problem(422, "validation-failed");
    post(&app, &s, &format!("/imports/{import}/dry-run"), json!({ "mapping": { "name": null } }))
        .await
        .assert_problem(422, "validation-failed");
    post(&app, &s, &format!("/imports/{import}/apply"), json!({ "mapping": { "shoe_size": "name" } }))
        .await
        .assert_problem(422, "validation-failed");
    assert_eq!(
        get(&app, &s, &format!("/imports/{import}")).await["status"],
        "uploaded",
        "a refused apply changes nothing"
    );

    // Other studios see nothing of it.
    for rest in [format!("/imports/{import}"), format!("/imports/{import}/rows")] {
        send(&app, Method::GET, &path(&s.studio, &rest), &other.owner, None)
            .await
            .assert_problem(404, "not-found");
        send(&app, Method::GET, &path(&other.studio, &rest), &other.owner, None)
            .await
            .assert_problem(404, "not-found");
    }
    send(
        &app,
        Method::POST,
        &path(&other.studio, &format!("/imports/{import}/apply")),
        &other.owner,
        Some(json!({})),
    )
    .await
    .assert_problem(404, "not-found");
    let listed = get(&app, &s, "/imports").await;
    assert_eq!(listed["items"].as_array().expect("items").len(), 1);
}

atelier_tests::on_both_backends!(
    clients_with_two_bad_rows_are_reported_and_the_rest_applied,
    products_match_by_sku_and_update_only_when_asked,
    bad_files_and_rows_change_nothing,
);
