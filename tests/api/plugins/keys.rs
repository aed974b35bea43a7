//! Publishers' signing keys: registration, listing, revocation.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;
use vibe_host::agents::registry::signing;

use crate::support::{TestServer, error_code};

#[sqlx::test(migrations = "../migrations")]
async fn keys_are_registered_listed_and_revoked(db: PgPool) {
    let server = TestServer::start(db.clone()).await;
    let alice = server.signup("alice@example.com").await;
    let bob = server.signup("bob@example.com").await;
    let key = signing::generate();
    let public = BASE64.encode(key.verifying_key().to_bytes());

    let response = alice.post("/api/users/me/keys", json!({"public_key": public, "label": "laptop"})).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let registered: Value = response.json().await.unwrap();
    assert_eq!(registered["public_key"], public);
    assert_eq!(registered["label"], "laptop");
    assert_eq!(registered["fingerprint"], signing::fingerprint(&key.verifying_key().to_bytes()));

    // A key belongs to one account.
    let again = alice.post("/api/users/me/keys", json!({"public_key": public})).await;
    assert_eq!(again.status(), StatusCode::CONFLICT);
    assert_eq!(
        bob.post("/api/users/me/keys", json!({"public_key": public})).await.status(),
        StatusCode::CONFLICT
    );

    // Bad keys are refused with the field named.
    for bad in [
        json!({"public_key": "***"}),
        json!({"public_key": BASE64.encode([1u8; 31])}),
        json!({"public_key": BASE64.encode([0u8; 32])}),
    ] {
        let response = alice.post("/api/users/me/keys", bad.clone()).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["field"], "public_key", "{bad}: {body}");
    }
    let unknown = alice.post("/api/users/me/keys", json!({"public_key": public, "owner": "bob"})).await;
    assert_eq!(unknown.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let listed: Value = alice.get("/api/users/me/keys").await.json().await.unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(bob.get("/api/users/me/keys").await.json::<Value>().await.unwrap(), json!([]));

    // Only its owner revokes it.
    let id = registered["id"].as_str().unwrap();
    let response = bob.delete(&format!("/api/users/me/keys/{id}")).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(response).await, "not_found");
    assert_eq!(alice.delete(&format!("/api/users/me/keys/{id}")).await.status(), StatusCode::NO_CONTENT);
    let listed: Value = alice.get("/api/users/me/keys").await.json().await.unwrap();
    assert!(listed[0]["revoked_at"].is_string());

    let anonymous = server.anon(Method::GET, "/api/users/me/keys").send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
}
