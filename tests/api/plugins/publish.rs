//! Publishing real plugins, the catalog and who sees what, approval and deprecation.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;

use super::*;
use crate::support::{TestServer, error_code};

#[sqlx::test(migrations = "../migrations")]
async fn a_published_plugin_waits_for_approval_and_then_everyone_sees_it(db: PgPool) {
    let server = TestServer::start(db.clone()).await;
    let alice = publisher(&server, "alice@example.com").await;
    let op = operator(&server, "op@example.com").await;
    let bob = server.signup("bob@example.com").await;

    let version = published(&alice, &echo_bytes(), &echo_manifest("alice@example.com")).await;
    assert_eq!(version["version_ref"], "echo@0.1.0");
    assert_eq!(version["digest"], vibe_host::agents::registry::store::digest(&echo_bytes()));
    assert_eq!(version["kind"], "component");
    assert_eq!(version["publisher"], "alice@example.com");
    assert_eq!(version["approval"], "pending", "llm is beyond the default capabilities");
    assert_eq!(version["approval_reasons"], json!(["capability llm"]));

    // The artifact is kept under its digest; the agent types and their versions exist.
    let digest = version["digest"].as_str().unwrap();
    let stored = server.state.apps.artifacts().get(digest).await.unwrap();
    assert_eq!(stored.as_deref(), Some(echo_bytes().as_slice()));
    let types: Vec<(String, String, String)> =
        sqlx::query_as("SELECT agent_type, version, status FROM agent_versions ORDER BY agent_type")
            .fetch_all(&db)
            .await
            .unwrap();
    assert_eq!(
        types,
        vec![
            ("ideation".into(), "echo@0.1.0".into(), "testing".into()),
            ("support".into(), "echo@0.1.0".into(), "testing".into()),
        ]
    );

    // Pending: the publisher and operators see it, nobody else does.
    let listed = |user: &TestUser| {
        let user = user.clone();
        async move { user.get("/api/plugins").await.json::<Value>().await.unwrap() }
    };
    assert_eq!(listed(&alice.user).await[0]["name"], "echo");
    assert_eq!(listed(&op).await[0]["latest_version"], "0.1.0");
    assert_eq!(listed(&bob).await, json!([]));
    assert_eq!(bob.get("/api/plugins/echo/versions").await.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        server.anon(Method::GET, "/api/plugins").send().await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );

    // Only operators approve.
    let response = alice.user.post("/api/plugins/echo/versions/0.1.0/approve", json!({})).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(error_code(response).await, "forbidden");
    assert_eq!(
        op.post("/api/plugins/echo/versions/9.9.9/approve", json!({})).await.status(),
        StatusCode::NOT_FOUND
    );
    approve(&op, "echo", "0.1.0").await;

    let versions: Value = bob.get("/api/plugins/echo/versions").await.json().await.unwrap();
    assert_eq!(versions.as_array().unwrap().len(), 1);
    assert_eq!(versions[0]["approval"], "approved");
    assert!(versions[0]["approved_at"].is_string());
    let approved_by: Option<uuid::Uuid> =
        sqlx::query_scalar("SELECT approved_by FROM plugin_versions").fetch_one(&db).await.unwrap();
    assert_eq!(approved_by, Some(op.id));
}

#[sqlx::test(migrations = "../migrations")]
async fn larger_limits_and_outbound_http_wait_for_approval_with_the_reason(db: PgPool) {
    let server = TestServer::start(db.clone()).await;
    let alice = publisher(&server, "alice@example.com").await;
    // More fuel than ideation agents get.
    let mut manifest = extism_manifest("alice@example.com");
    manifest["limits"] = json!({"fuel": 999_000_000_000u64});
    let version = published(&alice, &extism_bytes(), &manifest).await;
    assert_eq!(version["approval"], "pending");
    let reasons: Vec<String> = serde_json::from_value(version["approval_reasons"].clone()).unwrap();
    assert!(reasons.iter().any(|r| r.starts_with("limit fuel of 999000000000")), "{reasons:?}");

    // The hostile plugin wants http only: approval with its hosts named.
    let hostile = json!({
        "name": "hostile", "version": "0.1.0", "agent_types": ["ideation"], "wit": "vibe:agent@0.1.0",
        "kind": "component", "capabilities": ["http"], "http_hosts": ["127.0.0.1:9"], "publisher": "alice@example.com"
    });
    let version = published(&alice, &plugin(vibe_test_components::AGENT_HOSTILE), &hostile).await;
    assert_eq!(version["approval_reasons"], json!(["capability http to 127.0.0.1:9"]));
    assert_eq!(version["kind"], "component");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_deprecated_version_serves_no_more_and_cannot_be_deprecated_while_routed(db: PgPool) {
    let server = TestServer::start(db.clone()).await;
    let op = two_echo_versions(&server).await;
    route(&op, "ideation", json!({"echo@0.1.0": 1})).await;

    let response = op.post("/api/plugins/echo/versions/0.1.0/deprecate", json!({})).await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    assert!(response.text().await.unwrap().contains("still receives traffic for ideation"));

    let session = sessions(&db, "ideation", 1).await[0];
    let run = |content: &'static str| {
        vibe_host::agents::dispatch::run_turn(&server.state, "ideation", session, turn("ideation", content))
    };
    assert_eq!(run("ping").await.unwrap().replies, vec!["pong"]);
    assert_eq!(session_version(&db, session).await.as_deref(), Some("echo@0.1.0"));

    route(&op, "ideation", json!({"echo-extism@0.1.0": 1})).await;
    let deprecated: Value =
        op.post("/api/plugins/echo/versions/0.1.0/deprecate", json!({})).await.json().await.unwrap();
    assert_eq!(deprecated["deprecated"], true);

    // The session moves to the routed version; the deprecated one cannot be routed again.
    assert_eq!(run("ping").await.unwrap().replies, vec!["pong"]);
    assert_eq!(session_version(&db, session).await.as_deref(), Some("echo-extism@0.1.0"));
    let response = op.put("/api/agents/ideation/routing", json!({"weights": {"echo@0.1.0": 1}})).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(response.text().await.unwrap().contains("deprecated"));

    // Users cannot deprecate.
    let bob = server.signup("bob@example.com").await;
    let response = bob.post("/api/plugins/echo-extism/versions/0.1.0/deprecate", json!({})).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}
