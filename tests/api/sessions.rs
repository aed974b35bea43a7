//! Agent sessions: starting them, sending messages (stored, announced on the event bus) and reading the
//! transcript back.

use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use crate::authz::{World, snapshot};
use crate::support::error_code;

#[sqlx::test(migrations = "../migrations")]
async fn starting_a_session_stores_it(db: PgPool) {
    let world = World::new(db.clone()).await;
    let scene = world.scene("private").await;
    let response =
        world.collaborator.post("/api/sessions", json!({"idea_id": scene.idea, "agent_type": "build"})).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let session: Value = response.json().await.unwrap();
    assert_eq!(session["agent_type"], "build");
    assert_eq!(session["status"], "active");
    assert_eq!(session["idea_id"], scene.idea.to_string());
    assert_eq!(session["ended_at"], Value::Null);
    let id: Uuid = session["id"].as_str().unwrap().parse().unwrap();
    let row: (Uuid, Uuid, String, String) =
        sqlx::query_as("SELECT user_id, idea_id, agent_type, status FROM agent_sessions WHERE id = $1")
            .bind(id)
            .fetch_one(&db)
            .await
            .unwrap();
    assert_eq!(row, (world.collaborator.id, scene.idea, "build".into(), "active".into()));
}

#[sqlx::test(migrations = "../migrations")]
async fn bad_session_requests_are_refused(db: PgPool) {
    let world = World::new(db.clone()).await;
    let scene = world.scene("private").await;
    let before = snapshot(&db).await;
    for (body, field) in [
        (json!({"idea_id": scene.idea, "agent_type": "wizard"}), "agent_type"),
        (json!({"idea_id": scene.idea, "agent_type": "Ideation"}), "agent_type"),
        (json!({"idea_id": "not-a-uuid", "agent_type": "spec"}), "body"),
        (json!({"idea_id": scene.idea}), "body"),
        (json!({"idea_id": scene.idea, "agent_type": "spec", "status": "completed"}), "body"),
    ] {
        let response = world.owner.post("/api/sessions", body.clone()).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"]["field"], field, "{body}: {error}");
    }
    assert_eq!(snapshot(&db).await, before);
}

#[sqlx::test(migrations = "../migrations")]
async fn messages_are_stored_announced_and_shown_in_order(db: PgPool) {
    let world = World::new(db.clone()).await;
    let scene = world.scene("private").await;
    let path = format!("/api/sessions/{}/message", scene.session);

    let response = world.owner.post(&path, json!({"content": "A place to swap plants"})).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let first: Value = response.json().await.unwrap();
    assert_eq!(first["role"], "user");
    assert_eq!(first["author_id"], world.owner.id.to_string());
    assert_eq!(first["content"], "A place to swap plants");
    let response = world.collaborator.post(&path, json!({"content": "With ratings"})).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let second: Value = response.json().await.unwrap();

    let rows: Vec<(String, Option<Uuid>, String)> = sqlx::query_as(
        "SELECT role, author_id, content FROM agent_messages WHERE session_id = $1 ORDER BY id",
    )
    .bind(scene.session)
    .fetch_all(&db)
    .await
    .unwrap();
    assert_eq!(
        rows,
        [
            ("user".to_owned(), Some(world.owner.id), "A place to swap plants".to_owned()),
            ("user".to_owned(), Some(world.collaborator.id), "With ratings".to_owned()),
        ]
    );

    // Each message is announced, in order, to the idea's audience (the events table is the bus's record).
    let events: Vec<(Option<Uuid>, Value)> =
        sqlx::query_as("SELECT idea_id, data FROM events WHERE kind = 'agent:message' ORDER BY id")
            .fetch_all(&db)
            .await
            .unwrap();
    assert_eq!(events.len(), 2);
    for ((idea, data), expected) in events.iter().zip([&first, &second]) {
        assert_eq!(*idea, Some(scene.idea));
        assert_eq!(data["session_id"], scene.session.to_string());
        assert_eq!(&data["message"], expected);
    }

    let transcript: Value =
        world.viewer.get(&format!("/api/sessions/{}", scene.session)).await.json().await.unwrap();
    assert_eq!(transcript["id"], scene.session.to_string());
    assert_eq!(transcript["agent_type"], "ideation");
    let messages = transcript["messages"].as_array().unwrap();
    let contents: Vec<&str> = messages.iter().map(|m| m["content"].as_str().unwrap()).collect();
    assert_eq!(contents, ["A place to swap plants", "With ratings"]);
    assert_eq!(messages[0]["role"], "user");
    assert!(messages[0].get("agent_version").is_some() && messages[0].get("created_at").is_some());
}

#[sqlx::test(migrations = "../migrations")]
async fn agent_messages_appear_in_the_transcript(db: PgPool) {
    let world = World::new(db.clone()).await;
    let scene = world.scene("private").await;
    world.owner.post(&format!("/api/sessions/{}/message", scene.session), json!({"content": "Hi"})).await;
    sqlx::query(
        "INSERT INTO agent_messages (session_id, role, agent_type, agent_version, content) \
         VALUES ($1, 'agent', 'ideation', '0.1.0', 'Who is it for?')",
    )
    .bind(scene.session)
    .execute(&db)
    .await
    .unwrap();
    let transcript: Value =
        world.owner.get(&format!("/api/sessions/{}", scene.session)).await.json().await.unwrap();
    let reply = &transcript["messages"][1];
    assert_eq!(
        (reply["role"].as_str(), reply["agent_type"].as_str(), reply["agent_version"].as_str()),
        (Some("agent"), Some("ideation"), Some("0.1.0"))
    );
    assert_eq!(reply["content"], "Who is it for?");
}

#[sqlx::test(migrations = "../migrations")]
async fn message_content_is_checked(db: PgPool) {
    let world = World::new(db.clone()).await;
    let scene = world.scene("private").await;
    let path = format!("/api/sessions/{}/message", scene.session);
    let before = snapshot(&db).await;
    for body in [
        json!({"content": ""}),
        json!({"content": " \n\t "}),
        json!({"content": "x".repeat(32 * 1024 + 1)}),
        json!({"content": "nul \u{0} inside"}),
        json!({"content": "hi", "role": "agent"}),
        json!({"text": "hi"}),
    ] {
        let response = world.owner.post(&path, body.clone()).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        let error: Value = response.json().await.unwrap();
        let field = error["error"]["field"].as_str().unwrap();
        assert!(field == "content" || field == "body", "{error}");
    }
    assert_eq!(snapshot(&db).await, before, "refused messages were stored or announced");

    let response = world.owner.post(&path, json!({"content": "é".repeat(16 * 1024)})).await;
    assert_eq!(response.status(), StatusCode::CREATED, "exactly 32 KiB is accepted");
}

#[sqlx::test(migrations = "../migrations")]
async fn ended_sessions_take_no_messages(db: PgPool) {
    let world = World::new(db.clone()).await;
    let scene = world.scene("private").await;
    sqlx::query("UPDATE agent_sessions SET status = 'completed', ended_at = now() WHERE id = $1")
        .bind(scene.session)
        .execute(&db)
        .await
        .unwrap();
    let before = snapshot(&db).await;
    let response =
        world.owner.post(&format!("/api/sessions/{}/message", scene.session), json!({"content": "Hi"})).await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    assert_eq!(error_code(response).await, "conflict");
    assert_eq!(snapshot(&db).await, before);
}

#[sqlx::test(migrations = "../migrations")]
async fn session_ids_that_are_not_uuids_are_bad_requests(db: PgPool) {
    let world = World::new(db).await;
    for response in [
        world.owner.get("/api/sessions/123").await,
        world.owner.post("/api/sessions/123/message", json!({"content": "Hi"})).await,
    ] {
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(error_code(response).await, "bad_request");
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn an_ideas_sessions_are_listed_newest_first_to_its_members_only(db: PgPool) {
    let world = World::new(db.clone()).await;
    let scene = world.scene("private").await;
    let response =
        world.collaborator.post("/api/sessions", json!({"idea_id": scene.idea, "agent_type": "spec"})).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let newest: Value = response.json().await.unwrap();

    let response = world.viewer.get(&format!("/api/ideas/{}/sessions", scene.idea)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let sessions: Vec<Value> = response.json().await.unwrap();
    let ids: Vec<&str> = sessions.iter().map(|session| session["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [newest["id"].as_str().unwrap(), &scene.session.to_string()], "newest first");

    let response = world.stranger.get(&format!("/api/ideas/{}/sessions", scene.idea)).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(response).await, "not_found");
}
