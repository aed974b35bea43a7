//! Apps: who sees which app, and changing an app's name, hosting configuration and feature switches.
//! Apps are inserted with SQL here, as the build pipeline will.

use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use crate::authz::{World, insert_app, snapshot};
use crate::support::error_code;

fn ids(list: &Value) -> Vec<String> {
    list.as_array().unwrap().iter().map(|a| a["id"].as_str().unwrap().to_owned()).collect()
}

#[sqlx::test(migrations = "../migrations")]
async fn apps_are_listed_for_owners_and_members(db: PgPool) {
    let world = World::new(db.clone()).await;
    let scene = world.scene("private").await;
    let orphan = insert_app(&db, world.owner.id, None).await;
    let strangers = insert_app(&db, world.stranger.id, None).await;

    let list: Value = world.owner.get("/api/apps").await.json().await.unwrap();
    assert_eq!(ids(&list), [orphan.to_string(), scene.app.to_string()], "newest first");
    assert!(list.as_array().unwrap().iter().all(|a| a["role"] == "owner"));

    let list: Value = world.collaborator.get("/api/apps").await.json().await.unwrap();
    assert_eq!(ids(&list), [scene.app.to_string()]);
    assert_eq!(list[0]["role"], "collaborator");
    let list: Value = world.stranger.get("/api/apps").await.json().await.unwrap();
    assert_eq!(ids(&list), [strangers.to_string()]);

    // An app without an idea is its owner's alone.
    assert_eq!(world.collaborator.get(&format!("/api/apps/{orphan}")).await.status(), StatusCode::NOT_FOUND);
}

#[sqlx::test(migrations = "../migrations")]
async fn an_app_shows_where_it_lives(db: PgPool) {
    let world = World::new(db.clone()).await;
    let scene = world.scene("private").await;
    let response = world.viewer.get(&format!("/api/apps/{}", scene.app)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let app: Value = response.json().await.unwrap();
    let slug = app["slug"].as_str().unwrap();
    assert_eq!(app["url"], world.server.url(&format!("/apps/{slug}/")));
    assert_eq!(app["idea_id"], scene.idea.to_string());
    assert_eq!(app["owner_id"], world.owner.id.to_string());
    assert_eq!(app["role"], "viewer");
    assert_eq!(app["status"], "building");
    assert_eq!(app["hosting_config"], json!({}));
}

#[sqlx::test(migrations = "../migrations")]
async fn patch_changes_the_app(db: PgPool) {
    let world = World::new(db.clone()).await;
    let scene = world.scene("private").await;
    let path = format!("/api/apps/{}", scene.app);
    let config = json!({"region": "eu", "allowed_hosts": ["api.example.com"]});
    let response = world
        .collaborator
        .patch(
            &path,
            json!({"name": "Swap!", "hosting_config": config, "features_enabled": {"ratings": true}}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let app: Value = response.json().await.unwrap();
    assert_eq!(app["name"], "Swap!");
    assert_eq!(app["role"], "collaborator");

    let row: (String, Value, Value) =
        sqlx::query_as("SELECT name, hosting_config, features_enabled FROM apps WHERE id = $1")
            .bind(scene.app)
            .fetch_one(&db)
            .await
            .unwrap();
    assert_eq!(row, ("Swap!".to_owned(), config.clone(), json!({"ratings": true})));

    // Fields not given stay; objects given are replaced whole.
    let response = world.owner.patch(&path, json!({"features_enabled": {"chat": false}})).await;
    assert_eq!(response.status(), StatusCode::OK);
    let row: (String, Value, Value) =
        sqlx::query_as("SELECT name, hosting_config, features_enabled FROM apps WHERE id = $1")
            .bind(scene.app)
            .fetch_one(&db)
            .await
            .unwrap();
    assert_eq!(row, ("Swap!".to_owned(), config, json!({"chat": false})));
}

#[sqlx::test(migrations = "../migrations")]
async fn invalid_patches_name_their_field(db: PgPool) {
    let world = World::new(db.clone()).await;
    let scene = world.scene("private").await;
    let path = format!("/api/apps/{}", scene.app);
    let before = snapshot(&db).await;
    let many: serde_json::Map<String, Value> = (0..101).map(|i| (format!("f{i}"), json!(true))).collect();
    for (body, field) in [
        (json!({"name": ""}), "name"),
        (json!({"name": "x".repeat(201)}), "name"),
        (json!({"hosting_config": [1, 2]}), "hosting_config"),
        (json!({"hosting_config": "eu"}), "hosting_config"),
        (json!({"hosting_config": {"blob": "x".repeat(17 * 1024)}}), "hosting_config"),
        (json!({"hosting_config": {"a": ["nul \u{0}"]}}), "hosting_config"),
        (json!({"features_enabled": {"ratings": "yes"}}), "features_enabled"),
        (json!({"features_enabled": {"Bad Name": true}}), "features_enabled"),
        (json!({"features_enabled": 1}), "features_enabled"),
        (json!({"features_enabled": many}), "features_enabled"),
        (json!({"slug": "taken"}), "body"),
        (json!({"status": "deployed"}), "body"),
    ] {
        let response = world.owner.patch(&path, body.clone()).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"]["field"], field, "{body}: {error}");
    }
    assert_eq!(snapshot(&db).await, before, "refused patches changed rows");

    for response in
        [world.owner.get("/api/apps/nope").await, world.owner.patch("/api/apps/1", json!({})).await]
    {
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(error_code(response).await, "bad_request");
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn the_app_owner_keeps_access_after_the_idea_is_gone(db: PgPool) {
    let world = World::new(db.clone()).await;
    let scene = world.scene("private").await;
    assert_eq!(world.owner.delete(&format!("/api/ideas/{}", scene.idea)).await.status(), 204);
    let app: Value = world.owner.get(&format!("/api/apps/{}", scene.app)).await.json().await.unwrap();
    assert_eq!(app["idea_id"], Value::Null);
    assert_eq!(app["role"], "owner");
    let response = world.collaborator.get(&format!("/api/apps/{}", scene.app)).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let list: Value = world.collaborator.get("/api/apps").await.json().await.unwrap();
    assert_eq!(list, json!([]));
    let missing = Uuid::new_v4();
    assert_eq!(world.owner.get(&format!("/api/apps/{missing}")).await.status(), StatusCode::NOT_FOUND);
}
