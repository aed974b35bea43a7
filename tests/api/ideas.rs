//! Ideas: creating, listing, reading, changing and deleting them, with the rows they leave behind.

use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use crate::authz::{World, id_of, snapshot};
use crate::support::{TestServer, error_code};

/// Reads a 422 and returns the field it names.
async fn invalid_field(response: reqwest::Response) -> String {
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "validation_failed", "{body}");
    body["error"]["field"].as_str().unwrap_or_else(|| panic!("no field in {body}")).to_owned()
}

#[sqlx::test(migrations = "../migrations")]
async fn create_writes_the_idea_and_the_owner_row(db: PgPool) {
    let server = TestServer::start(db.clone()).await;
    let ada = server.signup("ada@example.com").await;
    let response =
        ada.post("/api/ideas", json!({"name": "  Plant swap ", "summary": "Trade cuttings"})).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let idea: Value = response.json().await.unwrap();
    assert_eq!(idea["name"], "Plant swap");
    assert_eq!(idea["summary"], "Trade cuttings");
    assert_eq!(idea["visibility"], "private");
    assert_eq!(idea["status"], "ideation");
    assert_eq!(idea["role"], "owner");
    assert_eq!(idea["owner_id"], ada.id.to_string());
    assert!(
        time::OffsetDateTime::parse(
            idea["created_at"].as_str().unwrap(),
            &time::format_description::well_known::Rfc3339
        )
        .is_ok()
    );

    let id: Uuid = idea["id"].as_str().unwrap().parse().unwrap();
    let (owner, name, visibility): (Uuid, String, String) =
        sqlx::query_as("SELECT user_id, name, visibility FROM ideas WHERE id = $1")
            .bind(id)
            .fetch_one(&db)
            .await
            .unwrap();
    assert_eq!((owner, name.as_str(), visibility.as_str()), (ada.id, "Plant swap", "private"));
    let members: Vec<(String, Option<Uuid>, String)> =
        sqlx::query_as("SELECT email, user_id, role FROM idea_collaborators WHERE idea_id = $1")
            .bind(id)
            .fetch_all(&db)
            .await
            .unwrap();
    assert_eq!(members, [("ada@example.com".to_owned(), Some(ada.id), "owner".to_owned())]);
}

#[sqlx::test(migrations = "../migrations")]
async fn list_is_newest_first_with_the_callers_role(db: PgPool) {
    let world = World::new(db).await;
    let first = world.scene("private").await;
    let second = world.scene("collaborators").await;
    let mine = id_of(world.collaborator.post("/api/ideas", json!({"name": "Mine"})).await).await;

    let list: Value = world.collaborator.get("/api/ideas").await.json().await.unwrap();
    let seen: Vec<(String, String)> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["id"].as_str().unwrap().to_owned(), i["role"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(
        seen,
        [
            (mine.to_string(), "owner".to_owned()),
            (second.idea.to_string(), "collaborator".to_owned()),
            (first.idea.to_string(), "collaborator".to_owned()),
        ]
    );
    let list: Value = world.viewer.get("/api/ideas").await.json().await.unwrap();
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert!(list.as_array().unwrap().iter().all(|i| i["role"] == "viewer"));
}

#[sqlx::test(migrations = "../migrations")]
async fn patch_changes_only_the_given_fields(db: PgPool) {
    let world = World::new(db.clone()).await;
    let scene = world.scene("private").await;
    let path = format!("/api/ideas/{}", scene.idea);
    let response = world
        .collaborator
        .patch(&path, json!({"status": "specification", "summary": "Now with ratings"}))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let idea: Value = response.json().await.unwrap();
    assert_eq!(
        (idea["status"].as_str(), idea["role"].as_str()),
        (Some("specification"), Some("collaborator"))
    );

    let row: (String, String, String, String) =
        sqlx::query_as("SELECT name, summary, status, visibility FROM ideas WHERE id = $1")
            .bind(scene.idea)
            .fetch_one(&db)
            .await
            .unwrap();
    assert_eq!(
        row,
        ("Plant swap".into(), "Now with ratings".into(), "specification".into(), "private".into())
    );

    let response = world.owner.patch(&path, json!({"visibility": "public", "name": "Plant swap club"})).await;
    assert_eq!(response.status(), StatusCode::OK);
    let (name, visibility): (String, String) =
        sqlx::query_as("SELECT name, visibility FROM ideas WHERE id = $1")
            .bind(scene.idea)
            .fetch_one(&db)
            .await
            .unwrap();
    assert_eq!((name.as_str(), visibility.as_str()), ("Plant swap club", "public"));
}

/// Who can see an idea is the owner's decision: a collaborator may edit it but not publish it.
#[sqlx::test(migrations = "../migrations")]
async fn only_the_owner_changes_visibility(db: PgPool) {
    let world = World::new(db.clone()).await;
    let scene = world.scene("private").await;
    let before = snapshot(&db).await;
    let path = format!("/api/ideas/{}", scene.idea);
    let response = world.collaborator.patch(&path, json!({"visibility": "public", "name": "Leaked"})).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(error_code(response).await, "forbidden");
    assert_eq!(snapshot(&db).await, before);
    assert_eq!(world.stranger.get(&path).await.status(), StatusCode::NOT_FOUND);
}

#[sqlx::test(migrations = "../migrations")]
async fn public_ideas_are_readable_by_anyone_signed_in(db: PgPool) {
    let world = World::new(db).await;
    let scene = world.scene("public").await;
    let path = format!("/api/ideas/{}", scene.idea);
    let idea: Value = world.stranger.get(&path).await.json().await.unwrap();
    assert_eq!(idea["role"], "viewer");
    assert_eq!(world.server.anon(reqwest::Method::GET, &path).send().await.unwrap().status(), 401);
}

#[sqlx::test(migrations = "../migrations")]
async fn invalid_values_name_their_field(db: PgPool) {
    let server = TestServer::start(db.clone()).await;
    let ada = server.signup("ada@example.com").await;
    let long = "x".repeat(201);
    for (body, field) in [
        (json!({"name": ""}), "name"),
        (json!({"name": "   "}), "name"),
        (json!({"name": long}), "name"),
        (json!({"name": "a\u{0}b"}), "name"),
        (json!({"name": "ok", "visibility": "secret"}), "visibility"),
        (json!({"name": "ok", "summary": "s".repeat(20_001)}), "summary"),
        (json!({"name": "ok", "owner": "me"}), "body"),
        (json!({"summary": "no name"}), "body"),
        (json!({"name": 5}), "body"),
    ] {
        assert_eq!(invalid_field(ada.post("/api/ideas", body.clone()).await).await, field, "{body}");
    }
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM ideas").fetch_one(&db).await.unwrap();
    assert_eq!(count, 0);

    // 200 characters (not bytes) is the limit.
    let response = ada.post("/api/ideas", json!({"name": "é".repeat(200)})).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let path = format!("/api/ideas/{}", id_of(response).await);
    let before = snapshot(&db).await;
    for (body, field) in [
        (json!({"status": "done"}), "status"),
        (json!({"visibility": "everyone"}), "visibility"),
        (json!({"name": ""}), "name"),
        (json!({"user_id": Uuid::new_v4()}), "body"),
    ] {
        assert_eq!(invalid_field(ada.patch(&path, body.clone()).await).await, field, "{body}");
    }
    assert_eq!(snapshot(&db).await, before, "refused patches changed rows");
}

#[sqlx::test(migrations = "../migrations")]
async fn ids_that_are_not_uuids_are_bad_requests(db: PgPool) {
    let server = TestServer::start(db).await;
    let ada = server.signup("ada@example.com").await;
    for response in [
        ada.get("/api/ideas/42").await,
        ada.patch("/api/ideas/not-a-uuid", json!({"name": "x"})).await,
        ada.delete("/api/ideas/not-a-uuid").await,
    ] {
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(error_code(response).await, "bad_request");
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn delete_removes_the_idea_its_members_and_sessions(db: PgPool) {
    let world = World::new(db.clone()).await;
    let scene = world.scene("private").await;
    let other = world.scene("private").await;
    let response = world.owner.delete(&format!("/api/ideas/{}", scene.idea)).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);

    let count = |sql: &'static str| {
        let db = db.clone();
        async move { sqlx::query_scalar::<_, i64>(sql).bind(scene.idea).fetch_one(&db).await.unwrap() }
    };
    assert_eq!(count("SELECT count(*) FROM ideas WHERE id = $1").await, 0);
    assert_eq!(count("SELECT count(*) FROM idea_collaborators WHERE idea_id = $1").await, 0);
    assert_eq!(count("SELECT count(*) FROM agent_sessions WHERE idea_id = $1").await, 0);
    // The app outlives the idea, still its owner's.
    let app_idea: Option<Uuid> = sqlx::query_scalar("SELECT idea_id FROM apps WHERE id = $1")
        .bind(scene.app)
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(app_idea, None);
    assert_eq!(world.owner.get(&format!("/api/ideas/{}", scene.idea)).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(world.owner.get(&format!("/api/ideas/{}", other.idea)).await.status(), StatusCode::OK);
}
