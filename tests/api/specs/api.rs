//! `GET/PUT /api/ideas/{id}/spec` and `POST /api/ideas/{id}/spec/confirm`: versions, validation
//! with failing paths, the owner's confirmation, and who may do what.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;
use vibe_host::spec;

use super::{book_club, changed};
use crate::support::{TestServer, TestUser, error_code};

async fn new_idea(owner: &TestUser) -> Uuid {
    let idea: Value = owner.post("/api/ideas", json!({"name": "Book club"})).await.json().await.unwrap();
    idea["id"].as_str().unwrap().parse().unwrap()
}

async fn invite(owner: &TestUser, idea: Uuid, who: &TestUser, role: &str) {
    let response = owner
        .post(&format!("/api/ideas/{idea}/collaborate"), json!({"email": who.email, "role": role}))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
}

async fn specifications(db: &PgPool, idea: Uuid) -> Option<Value> {
    sqlx::query_scalar("SELECT specifications FROM ideas WHERE id = $1")
        .bind(idea)
        .fetch_one(db)
        .await
        .unwrap()
}

async fn versions(db: &PgPool, idea: Uuid) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM pipeline_artifacts WHERE idea_id = $1 AND name = 'spec'")
        .bind(idea)
        .fetch_one(db)
        .await
        .unwrap()
}

async fn ok_json(response: reqwest::Response) -> Value {
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

#[sqlx::test(migrations = "../migrations")]
async fn specs_are_versioned_validated_and_confirmed_by_the_owner(db: PgPool) {
    let server = TestServer::start(db.clone()).await;
    let ada = server.signup("ada@example.com").await;
    let idea = new_idea(&ada).await;
    let path = format!("/api/ideas/{idea}/spec");
    let confirm = format!("{path}/confirm");

    // No spec yet: 404 to read, 409 to confirm.
    let none = ada.get(&path).await;
    assert_eq!(none.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(none).await, "not_found");
    let early = ada.post(&confirm, json!({})).await;
    assert_eq!(early.status(), StatusCode::CONFLICT);
    assert_eq!(error_code(early).await, "conflict");

    let example = book_club();
    let first = ok_json(ada.put(&path, json!({"spec": example})).await).await;
    assert_eq!((first["version"].as_u64(), first["confirmed"].as_bool()), (Some(1), Some(false)));
    assert_eq!(first["spec"], example);
    assert_eq!(first["written_by"], format!("user:{}", ada.id));
    assert_eq!(first["confirmation"], Value::Null);
    assert_eq!(specifications(&db, idea).await, Some(example.clone()));

    // An invalid spec: 422 with every failing path, nothing written.
    let mut bad = changed("/entities/1/fields/1/entity", Some(json!("film")));
    bad["pages"][1]["visible_to"][0] = json!("guest");
    let response = ada.put(&path, json!({"spec": bad})).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "validation_failed");
    assert_eq!(body["error"]["field"], "spec");
    let paths: Vec<&str> =
        body["error"]["violations"].as_array().unwrap().iter().map(|v| v["path"].as_str().unwrap()).collect();
    assert_eq!(paths, ["/entities/1/fields/1/entity", "/pages/1/visible_to/0"], "{body}");
    let schema_bad = ada.put(&path, json!({"spec": changed("/app/slug", Some(json!("Not A Slug")))})).await;
    assert_eq!(schema_bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = schema_bad.json().await.unwrap();
    assert_eq!(body["error"]["violations"][0]["path"], "/app/slug", "{body}");
    assert_eq!(versions(&db, idea).await, 1);
    assert_eq!(specifications(&db, idea).await, Some(example.clone()));

    // A second version, then a stale write.
    let second_spec = changed("/app/name", Some(json!("Readers")));
    let second = ok_json(ada.put(&path, json!({"spec": second_spec, "expected_version": 1})).await).await;
    assert_eq!(second["version"], 2);
    let stale = ada.put(&path, json!({"spec": example, "expected_version": 1})).await;
    assert_eq!(stale.status(), StatusCode::CONFLICT);
    assert_eq!(error_code(stale).await, "conflict");
    assert_eq!(specifications(&db, idea).await, Some(second_spec.clone()));

    // The owner confirms the latest version (no body needed); the build pipeline sees it.
    assert_eq!(spec::confirmed(&db, idea).await.unwrap(), None);
    let confirmed = ok_json(ada.request(Method::POST, &confirm).send().await.unwrap()).await;
    assert_eq!((confirmed["version"].as_u64(), confirmed["confirmed"].as_bool()), (Some(2), Some(true)));
    assert_eq!(confirmed["confirmation"]["confirmed_by"], ada.id.to_string());
    assert_eq!(spec::confirmed(&db, idea).await.unwrap(), Some((2, second_spec.clone())));
    // Confirming again keeps the first confirmation.
    let again = ok_json(ada.post(&confirm, json!({"version": 2})).await).await;
    assert_eq!(again["confirmation"], confirmed["confirmation"]);

    // A new version is unconfirmed until confirmed again; confirming the old one is stale.
    let third = ok_json(ada.put(&path, json!({"spec": example})).await).await;
    assert_eq!((third["version"].as_u64(), third["confirmed"].as_bool()), (Some(3), Some(false)));
    assert_eq!(third["confirmation"]["version"], 2);
    assert_eq!(spec::confirmed(&db, idea).await.unwrap(), None);
    let stale = ada.post(&confirm, json!({"version": 2})).await;
    assert_eq!(stale.status(), StatusCode::CONFLICT);
    assert_eq!(error_code(stale).await, "conflict");
    let shown = ok_json(ada.get(&path).await).await;
    assert_eq!(shown["confirmed"], false);
    let confirmed = ok_json(ada.post(&confirm, json!({"version": 3})).await).await;
    assert_eq!(confirmed["confirmed"], true);
    assert_eq!(spec::confirmed(&db, idea).await.unwrap(), Some((3, example)));

    let events: Vec<Value> = sqlx::query_scalar(
        "SELECT data FROM events WHERE kind = 'spec:updated' AND idea_id = $1 ORDER BY id",
    )
    .bind(idea)
    .fetch_all(&db)
    .await
    .unwrap();
    let summary: Vec<(u64, bool)> =
        events.iter().map(|e| (e["version"].as_u64().unwrap(), e["confirmed"].as_bool().unwrap())).collect();
    assert_eq!(summary, [(1, false), (2, false), (2, true), (3, false), (3, true)]);
}

#[sqlx::test(migrations = "../migrations")]
async fn collaborators_write_viewers_read_strangers_see_nothing(db: PgPool) {
    let server = TestServer::start(db.clone()).await;
    let ada = server.signup("ada@example.com").await;
    let bob = server.signup("bob@example.com").await;
    let cyd = server.signup("cyd@example.com").await;
    let eve = server.signup("eve@example.com").await;
    let idea = new_idea(&ada).await;
    invite(&ada, idea, &bob, "collaborator").await;
    invite(&ada, idea, &cyd, "viewer").await;
    let path = format!("/api/ideas/{idea}/spec");
    let confirm = format!("{path}/confirm");
    let example = book_club();

    // A collaborator writes but cannot confirm.
    assert_eq!(ok_json(bob.put(&path, json!({"spec": example})).await).await["version"], 1);
    let refused = bob.post(&confirm, json!({})).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(error_code(refused).await, "forbidden");

    // A viewer reads only.
    assert_eq!(ok_json(cyd.get(&path).await).await["spec"], example);
    let refused = cyd.put(&path, json!({"spec": example})).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(error_code(refused).await, "forbidden");
    assert_eq!(cyd.post(&confirm, json!({})).await.status(), StatusCode::FORBIDDEN);

    // A stranger cannot tell the idea exists.
    for response in [
        eve.get(&path).await,
        eve.put(&path, json!({"spec": example})).await,
        eve.post(&confirm, json!({})).await,
    ] {
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert_eq!(error_code(response).await, "not_found");
    }
    assert_eq!(server.anon(Method::GET, &path).send().await.unwrap().status(), StatusCode::UNAUTHORIZED);

    assert_eq!(versions(&db, idea).await, 1);
    assert_eq!(spec::confirmed(&db, idea).await.unwrap(), None);
    assert_eq!(ok_json(ada.post(&confirm, json!({})).await).await["confirmed"], true);
}

#[sqlx::test(migrations = "../migrations")]
async fn malformed_bodies_are_refused_in_the_error_shape(db: PgPool) {
    let server = TestServer::start(db.clone()).await;
    let ada = server.signup("ada@example.com").await;
    let idea = new_idea(&ada).await;
    let path = format!("/api/ideas/{idea}/spec");
    let confirm = format!("{path}/confirm");

    let cases = [
        (ada.request(Method::PUT, &path).body("{not json").header("content-type", "application/json"), 400),
        (ada.request(Method::PUT, &path).json(&book_club()), 422),
        (ada.request(Method::PUT, &path).json(&json!({"spec": book_club(), "extra": 1})), 422),
        (ada.request(Method::PUT, &path).json(&json!({"spec": "a string"})), 422),
        (ada.request(Method::PUT, &path).json(&json!({"spec": {"x": "a\u{0}b"}})), 422),
        (ada.request(Method::POST, &confirm).json(&json!({"version": "two"})), 422),
        (ada.request(Method::POST, &confirm).body("{nope"), 400),
        (ada.request(Method::PUT, "/api/ideas/not-a-uuid/spec").json(&json!({"spec": {}})), 400),
    ];
    for (request, status) in cases {
        let response = request.send().await.unwrap();
        assert_eq!(response.status().as_u16(), status);
        error_code(response).await;
    }
    // Larger than the API's body limit.
    let mut huge = book_club();
    huge["app"]["description"] = json!("x".repeat(2 * 1024 * 1024));
    let response = ada.put(&path, json!({"spec": huge})).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(error_code(response).await, "payload_too_large");

    assert_eq!(versions(&db, idea).await, 0);
    assert_eq!(specifications(&db, idea).await, None);
}
