//! Agent plugins end to end: signed packages of real agent plugins (built from tests/components),
//! every refusal with its reason, the catalog and its authorization, and the CLI. The helpers here
//! serve the routing suite (tests/api/routing.rs) too.

mod cli;
mod guide;
mod keys;
mod publish;
mod refusals;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::SigningKey;
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;
use vibe_host::agents::registry::package::Manifest;
use vibe_host::agents::registry::signing;
use vibe_host::agents::runtime::{Message, Role, TurnInput};

use crate::support::{TestServer, TestUser};

/// A signed-up account with a registered signing key.
pub struct Publisher {
    pub user: TestUser,
    pub key: SigningKey,
}

/// The bytes of a test plugin.
pub fn plugin(path: &str) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("reading {path}: {e}"))
}

/// The echo component (`echo@0.1.0`, serving ideation and support, wanting llm among others).
pub fn echo_bytes() -> Vec<u8> {
    plugin(vibe_test_components::AGENT_ECHO)
}

/// The Extism echo plugin (`echo-extism@0.1.0`, serving ideation and support).
pub fn extism_bytes() -> Vec<u8> {
    plugin(vibe_test_components::AGENT_EXTISM)
}

/// The manifest of the echo component, published by `publisher`.
pub fn echo_manifest(publisher: &str) -> Value {
    json!({
        "name": "echo", "version": "0.1.0", "agent_types": ["ideation", "support"],
        "wit": "vibe:agent@0.1.0", "kind": "component",
        "capabilities": ["llm", "kv", "events", "pipeline-read", "pipeline-write", "log"],
        "publisher": publisher, "description": "echoes what it is told"
    })
}

/// The manifest of the Extism echo plugin, published by `publisher`.
pub fn extism_manifest(publisher: &str) -> Value {
    json!({
        "name": "echo-extism", "version": "0.1.0", "agent_types": ["ideation", "support"],
        "wit": "vibe:agent@0.1.0", "kind": "extism",
        "capabilities": ["llm", "kv", "events", "pipeline-read", "pipeline-write", "log"],
        "publisher": publisher
    })
}

/// A publish request for `bytes` and `manifest`, signed with `key`.
pub fn package(key: &SigningKey, bytes: &[u8], manifest: &Value) -> Value {
    let parsed: Manifest = serde_json::from_value(manifest.clone()).expect("a valid manifest");
    let digest = vibe_host::agents::registry::store::digest(bytes);
    let signature = signing::sign(key, &digest, &parsed);
    json!({
        "manifest": manifest,
        "component": BASE64.encode(bytes),
        "digest": digest,
        "signature": BASE64.encode(signature),
        "public_key": BASE64.encode(key.verifying_key().to_bytes()),
    })
}

/// Makes `email` an operator (signing up first).
pub async fn operator(server: &TestServer, email: &str) -> TestUser {
    let user = server.signup(email).await;
    sqlx::query("UPDATE users SET role = 'operator' WHERE id = $1")
        .bind(user.id)
        .execute(&server.db)
        .await
        .unwrap();
    user
}

/// Signs `email` up and registers a fresh key to the account.
pub async fn publisher(server: &TestServer, email: &str) -> Publisher {
    let user = server.signup(email).await;
    let key = signing::generate();
    register_key(&user, &key).await;
    Publisher { user, key }
}

/// Registers `key` to `user`'s account.
pub async fn register_key(user: &TestUser, key: &SigningKey) -> Value {
    let response = user
        .post(
            "/api/users/me/keys",
            json!({"public_key": BASE64.encode(key.verifying_key().to_bytes()), "label": "test"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    response.json().await.unwrap()
}

/// Publishes `body` as `user`.
pub async fn publish(user: &TestUser, body: &Value) -> Response {
    user.request(Method::POST, "/api/plugins").json(body).send().await.unwrap()
}

/// Publishes `bytes` with `manifest` signed by `publisher`, expecting success; returns the version.
pub async fn published(publisher: &Publisher, bytes: &[u8], manifest: &Value) -> Value {
    let response = publish(&publisher.user, &package(&publisher.key, bytes, manifest)).await;
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body
}

/// Approves `name`@`version` as `operator`.
pub async fn approve(operator: &TestUser, name: &str, version: &str) {
    let response = operator.post(&format!("/api/plugins/{name}/versions/{version}/approve"), json!({})).await;
    assert_eq!(response.status(), StatusCode::OK, "{}", response.text().await.unwrap());
}

/// Publishes and approves both echo plugins (the component and the Extism one); returns the operator.
pub async fn two_echo_versions(server: &TestServer) -> TestUser {
    let operator = operator(server, "op@example.com").await;
    let publisher = publisher(server, "pub@example.com").await;
    published(&publisher, &echo_bytes(), &echo_manifest("pub@example.com")).await;
    published(&publisher, &extism_bytes(), &extism_manifest("pub@example.com")).await;
    approve(&operator, "echo", "0.1.0").await;
    approve(&operator, "echo-extism", "0.1.0").await;
    operator
}

/// Sets `agent_type`'s routing as `operator`, expecting success; returns the routing.
pub async fn route(operator: &TestUser, agent_type: &str, weights: Value) -> Value {
    let response =
        operator.put(&format!("/api/agents/{agent_type}/routing"), json!({ "weights": weights })).await;
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// Creates `count` sessions of `agent_type` on a fresh idea of a fresh account.
pub async fn sessions(db: &PgPool, agent_type: &str, count: usize) -> Vec<Uuid> {
    let user = Uuid::new_v4();
    let idea = Uuid::new_v4();
    sqlx::query("INSERT INTO users (id, email) VALUES ($1, $2)")
        .bind(user)
        .bind(format!("{user}@example.com"))
        .execute(db)
        .await
        .unwrap();
    sqlx::query("INSERT INTO ideas (id, user_id, name) VALUES ($1, $2, 'an idea')")
        .bind(idea)
        .bind(user)
        .execute(db)
        .await
        .unwrap();
    let ids: Vec<Uuid> = (0..count).map(|_| Uuid::new_v4()).collect();
    sqlx::query(
        "INSERT INTO agent_sessions (id, user_id, idea_id, agent_type) SELECT unnest($1::uuid[]), $2, $3, $4",
    )
    .bind(&ids)
    .bind(user)
    .bind(idea)
    .bind(agent_type)
    .execute(db)
    .await
    .unwrap();
    ids
}

/// A turn saying `content` to an agent of `agent_type`.
pub fn turn(agent_type: &str, content: &str) -> TurnInput {
    TurnInput {
        agent_type: agent_type.to_owned(),
        transcript: Vec::new(),
        artifacts: Vec::new(),
        message: Message { role: Role::User, agent_type: None, content: content.to_owned() },
    }
}

/// The version session `id` sticks to.
pub async fn session_version(db: &PgPool, id: Uuid) -> Option<String> {
    sqlx::query_scalar("SELECT agent_version FROM agent_sessions WHERE id = $1")
        .bind(id)
        .fetch_one(db)
        .await
        .unwrap()
}

/// The error of a response: its status, field and message.
pub async fn refusal(response: Response) -> (StatusCode, Option<String>, String) {
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    let error = &body["error"];
    (
        status,
        error["field"].as_str().map(str::to_owned),
        error["message"].as_str().unwrap_or_default().to_owned(),
    )
}
