//! Collaborators: invitations by email (to accounts and to people who sign up later), roles, the
//! invitation mail, listing and removal.

use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use crate::authz::{World, id_of, snapshot};
use crate::support::{TestServer, TestUser, error_code};

async fn member_row(db: &PgPool, idea: Uuid, email: &str) -> Option<(Option<Uuid>, String)> {
    sqlx::query_as("SELECT user_id, role FROM idea_collaborators WHERE idea_id = $1 AND email = $2")
        .bind(idea)
        .bind(email)
        .fetch_optional(db)
        .await
        .unwrap()
}

async fn mails_to(db: &PgPool, email: &str) -> Vec<(String, String)> {
    sqlx::query_as("SELECT subject, body FROM mail_outbox WHERE recipient = $1 ORDER BY created_at")
        .bind(email)
        .fetch_all(db)
        .await
        .unwrap()
}

async fn new_idea(owner: &TestUser) -> Uuid {
    id_of(owner.post("/api/ideas", json!({"name": "Plant swap"})).await).await
}

#[sqlx::test(migrations = "../migrations")]
async fn inviting_an_account_links_it_and_mails_it(db: PgPool) {
    let server = TestServer::start(db.clone()).await;
    let ada = server.signup("ada@example.com").await;
    let bob = server.signup("bob@example.com").await;
    let idea = new_idea(&ada).await;
    let path = format!("/api/ideas/{idea}/collaborate");

    let response = ada.post(&path, json!({"email": " Bob@Example.com", "role": "collaborator"})).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["collaborator"]["email"], "bob@example.com");
    assert_eq!(body["collaborator"]["user_id"], bob.id.to_string());
    assert_eq!(body["collaborator"]["role"], "collaborator");
    assert_eq!(body["collaborator"]["invited_by"], ada.id.to_string());
    assert_eq!(body["mail_sent"], true);

    assert_eq!(member_row(&db, idea, "bob@example.com").await, Some((Some(bob.id), "collaborator".into())));
    let mails = mails_to(&db, "bob@example.com").await;
    assert_eq!(mails.len(), 1);
    assert!(mails[0].0.contains("Plant swap"), "{mails:?}");
    assert!(mails[0].1.contains("collaborate on"), "{mails:?}");

    // Bob now sees the idea and may change it.
    let list: Value = bob.get("/api/ideas").await.json().await.unwrap();
    assert_eq!(list[0]["id"], idea.to_string());
    assert_eq!(list[0]["role"], "collaborator");
    assert_eq!(bob.patch(&format!("/api/ideas/{idea}"), json!({"summary": "ok"})).await.status(), 200);
}

#[sqlx::test(migrations = "../migrations")]
async fn invitations_wait_for_signup(db: PgPool) {
    let server = TestServer::start(db.clone()).await;
    let ada = server.signup("ada@example.com").await;
    let idea = new_idea(&ada).await;
    let path = format!("/api/ideas/{idea}/collaborate");
    let response = ada.post(&path, json!({"email": "carol@example.com", "role": "viewer"})).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["collaborator"]["user_id"], Value::Null);
    assert_eq!(member_row(&db, idea, "carol@example.com").await, Some((None, "viewer".into())));
    assert_eq!(mails_to(&db, "carol@example.com").await.len(), 1);

    let carol = server.signup("Carol@example.com").await;
    assert_eq!(member_row(&db, idea, "carol@example.com").await, Some((Some(carol.id), "viewer".into())));
    let idea_seen: Value = carol.get(&format!("/api/ideas/{idea}")).await.json().await.unwrap();
    assert_eq!(idea_seen["role"], "viewer");
    assert_eq!(carol.patch(&format!("/api/ideas/{idea}"), json!({"summary": "x"})).await.status(), 403);
}

#[sqlx::test(migrations = "../migrations")]
async fn reinviting_changes_the_role(db: PgPool) {
    let world = World::new(db.clone()).await;
    let scene = world.scene("private").await;
    let path = format!("/api/ideas/{}/collaborate", scene.idea);
    let response =
        world.owner.post(&path, json!({"email": "viewer@example.com", "role": "collaborator"})).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["collaborator"]["role"], "collaborator");
    let rows: i64 =
        sqlx::query_scalar("SELECT count(*) FROM idea_collaborators WHERE idea_id = $1 AND email = $2")
            .bind(scene.idea)
            .bind("viewer@example.com")
            .fetch_one(&db)
            .await
            .unwrap();
    assert_eq!(rows, 1);
    assert_eq!(
        member_row(&db, scene.idea, "viewer@example.com").await,
        Some((Some(world.viewer.id), "collaborator".into()))
    );
    let response =
        world.viewer.patch(&format!("/api/ideas/{}", scene.idea), json!({"summary": "mine now"})).await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[sqlx::test(migrations = "../migrations")]
async fn bad_invitations_are_refused_with_their_field(db: PgPool) {
    let world = World::new(db.clone()).await;
    let scene = world.scene("private").await;
    let path = format!("/api/ideas/{}/collaborate", scene.idea);
    let before = snapshot(&db).await;
    for (body, field) in [
        (json!({"email": "owner@example.com", "role": "viewer"}), "email"),
        (json!({"email": "OWNER@example.com ", "role": "collaborator"}), "email"),
        (json!({"email": "not an email", "role": "viewer"}), "email"),
        (json!({"email": "dan@example.com", "role": "owner"}), "role"),
        (json!({"email": "dan@example.com", "role": "admin"}), "role"),
        (json!({"email": "dan@example.com"}), "body"),
        (json!({"email": "dan@example.com", "role": "viewer", "permissions": {}}), "body"),
    ] {
        let response = world.owner.post(&path, body.clone()).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"]["field"], field, "{body}: {error}");
    }
    assert_eq!(snapshot(&db).await, before, "refused invitations changed rows or sent mail");
    let response =
        world.owner.post("/api/ideas/nope/collaborate", json!({"email": "a@b.c", "role": "viewer"})).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(response).await, "bad_request");
}

#[sqlx::test(migrations = "../migrations")]
async fn listing_shows_members_and_pending_invitations(db: PgPool) {
    let world = World::new(db).await;
    let scene = world.scene("private").await;
    let path = format!("/api/ideas/{}/collaborate", scene.idea);
    world.owner.post(&path, json!({"email": "erin@example.com", "role": "viewer"})).await;
    let list: Value = world.viewer.get(&path).await.json().await.unwrap();
    let rows: Vec<(&str, &str, bool)> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["email"].as_str().unwrap(), c["role"].as_str().unwrap(), c["user_id"].is_string()))
        .collect();
    assert_eq!(
        rows,
        [
            ("owner@example.com", "owner", true),
            ("collaborator@example.com", "collaborator", true),
            ("viewer@example.com", "viewer", true),
            ("erin@example.com", "viewer", false),
        ]
    );
    assert_eq!(list[1]["name"], "collaborator@example.com");
}

#[sqlx::test(migrations = "../migrations")]
async fn removing_a_collaborator_ends_their_access(db: PgPool) {
    let world = World::new(db.clone()).await;
    let scene = world.scene("private").await;
    let path = format!("/api/ideas/{}/collaborate/Collaborator@Example.com", scene.idea);
    assert_eq!(world.owner.delete(&path).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(member_row(&db, scene.idea, "collaborator@example.com").await, None);
    let response = world.collaborator.get(&format!("/api/ideas/{}", scene.idea)).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let response = world.collaborator.get(&format!("/api/sessions/{}", scene.session)).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    // Removing again: nothing there.
    assert_eq!(world.owner.delete(&path).await.status(), StatusCode::NOT_FOUND);
}

#[sqlx::test(migrations = "../migrations")]
async fn the_owner_row_cannot_be_removed(db: PgPool) {
    let world = World::new(db.clone()).await;
    let scene = world.scene("private").await;
    let before = snapshot(&db).await;
    let response =
        world.owner.delete(&format!("/api/ideas/{}/collaborate/owner@example.com", scene.idea)).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"]["field"], "email");
    assert_eq!(snapshot(&db).await, before);
    assert_eq!(world.owner.get(&format!("/api/ideas/{}", scene.idea)).await.status(), StatusCode::OK);
}
