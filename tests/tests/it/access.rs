//! The membership model and the role extractors: every requirement × every kind of caller, in
//! their own studio and in another one.

use atelier_domain::identity::Role;
use atelier_http::access::{AnyMember, InStudio, Manager, Member, Owner};
use atelier_http::extract::Json;
use atelier_platform::access::Membership;
use atelier_tests::{TestApp, TestRequest};
use axum::Router;
use axum::routing::get;
use http::Method;
use serde_json::{Value, json};

async fn any(member: Member<AnyMember>) -> Json<Value> {
    Json(json!({ "role": member.access.role }))
}
async fn manager(member: Member<Manager>) -> Json<Value> {
    Json(json!({ "role": member.access.role }))
}
async fn owner(member: Member<Owner>) -> Json<Value> {
    Json(json!({ "role": member.access.role }))
}
async fn visitor(InStudio { access, .. }: InStudio) -> Json<Value> {
    Json(json!({ "role": access.role }))
}

fn probe(app: &TestApp) -> Router {
    let router = Router::new()
        .route("/v1/studios/{studio_id}/any", get(any))
        .route("/v1/studios/{studio_id}/manager", get(manager))
        .route("/v1/studios/{studio_id}/owner", get(owner))
        .route("/v1/studios/{studio_id}/visitor", get(visitor))
        .with_state(app.state());
    atelier_http::with_layers(
        router,
        &atelier_http::HttpConfig::default(),
        atelier_http::middleware::Observed::default(),
    )
}

async fn join(app: &TestApp, studio: &str, user: &str, role: Role) {
    let membership =
        Membership { studio_id: studio.into(), user_id: user.into(), role, since: app.clock_now() };
    app.platform.store.write(membership.create().expect("op")).await.expect("member");
}

async fn roles_are_enforced_per_studio(app: TestApp) {
    let owner_a = app.register("owner@a.example").await;
    let manager_a = app.register("manager@a.example").await;
    let pro_a = app.register("pro@a.example").await;
    let client = app.register("client@example.com").await;
    let owner_b = app.register("owner@b.example").await;
    let admin = app.register("admin@example.com").await;
    atelier_identity::make_admin(&app.platform, "admin@example.com").await.expect("admin");
    join(&app, "A", &owner_a.user_id, Role::Owner).await;
    join(&app, "A", &manager_a.user_id, Role::Manager).await;
    join(&app, "A", &pro_a.user_id, Role::Professional).await;
    join(&app, "B", &owner_b.user_id, Role::Owner).await;

    let router = probe(&app);
    let status = |token: &str, path: &str| {
        let request = TestRequest::new_for(router.clone(), Method::GET, path).bearer(token);
        async move { request.send().await.status.as_u16() }
    };
    // Expected status for studio A's routes: any, manager, owner, visitor.
    let cases = [
        ("owner", &owner_a, [200, 200, 200, 200]),
        ("manager", &manager_a, [200, 200, 403, 200]),
        ("professional", &pro_a, [200, 403, 403, 200]),
        ("client", &client, [404, 404, 404, 200]),
        ("owner of B", &owner_b, [404, 404, 404, 200]),
        ("admin", &admin, [200, 200, 200, 200]),
    ];
    for (who, account, expected) in cases {
        for (route, want) in ["any", "manager", "owner", "visitor"].iter().zip(expected) {
            let got = status(&account.access, &format!("/v1/studios/A/{route}")).await;
            assert_eq!(got, want, "{who} on A/{route}");
        }
    }
    // Studio B: A's owner is nobody there.
    assert_eq!(status(&owner_a.access, "/v1/studios/B/any").await, 404);
    assert_eq!(status(&owner_b.access, "/v1/studios/B/owner").await, 200);

    let roles = TestRequest::new_for(router.clone(), Method::GET, "/v1/studios/A/visitor")
        .bearer(&manager_a.access)
        .send()
        .await;
    assert_eq!(roles.json()["role"], "manager");
    let visiting = TestRequest::new_for(router.clone(), Method::GET, "/v1/studios/A/visitor")
        .bearer(&client.access)
        .send()
        .await;
    assert_eq!(visiting.json()["role"], Value::Null);
    let anonymous = TestRequest::new_for(router.clone(), Method::GET, "/v1/studios/A/any").send().await;
    anonymous.assert_problem(401, "unauthenticated");
    let forbidden =
        TestRequest::new_for(router, Method::GET, "/v1/studios/A/owner").bearer(&pro_a.access).send().await;
    forbidden.assert_problem(403, "role-required");

    // /v1/me lists memberships.
    let me = app.request(Method::GET, "/v1/me").bearer(&manager_a.access).send().await.json();
    assert_eq!(me["memberships"], json!([{ "studio_id": "A", "role": "manager" }]));
    let admin_me = app.request(Method::GET, "/v1/me").bearer(&admin.access).send().await.json();
    assert_eq!(admin_me["is_admin"], true);
}

atelier_tests::on_both_backends!(roles_are_enforced_per_studio);
