//! Every refusal of a package, each with its own reason; nothing refused is stored.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;
use vibe_host::agents::registry::signing;

use super::*;
use crate::support::TestServer;

async fn nothing_stored(db: &PgPool) {
    let (versions,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM plugin_versions").fetch_one(db).await.unwrap();
    assert_eq!(versions, 0, "a refused package leaves no version behind");
}

#[sqlx::test(migrations = "../migrations")]
async fn an_unsigned_package_is_refused(db: PgPool) {
    let server = TestServer::start(db.clone()).await;
    let alice = publisher(&server, "alice@example.com").await;
    let mut body = package(&alice.key, b"not even wasm", &echo_manifest("alice@example.com"));
    body.as_object_mut().unwrap().remove("signature");
    let (status, field, message) = refusal(publish(&alice.user, &body).await).await;
    assert_eq!((status, field.as_deref()), (StatusCode::UNPROCESSABLE_ENTITY, Some("signature")));
    assert!(message.contains("(unsigned)"), "{message}");

    body["signature"] = json!("");
    let (_, _, message) = refusal(publish(&alice.user, &body).await).await;
    assert!(message.contains("(unsigned)"), "an empty signature is no signature: {message}");
    nothing_stored(&db).await;
}

#[sqlx::test(migrations = "../migrations")]
async fn a_wrongly_signed_package_is_refused(db: PgPool) {
    let server = TestServer::start(db.clone()).await;
    let alice = publisher(&server, "alice@example.com").await;
    let manifest = echo_manifest("alice@example.com");

    // Signed by a stranger's key but claiming Alice's.
    let mut body = package(&signing::generate(), &echo_bytes(), &manifest);
    body["public_key"] = json!(BASE64.encode(alice.key.verifying_key().to_bytes()));
    let (status, field, message) = refusal(publish(&alice.user, &body).await).await;
    assert_eq!((status, field.as_deref()), (StatusCode::UNPROCESSABLE_ENTITY, Some("signature")));
    assert!(message.contains("(wrongly signed)"), "{message}");

    // Signed by Alice, then the manifest was changed (a capability added) after signing.
    let mut body = package(&alice.key, &echo_bytes(), &manifest);
    body["manifest"]["capabilities"].as_array_mut().unwrap().push(json!("http"));
    body["manifest"]["http_hosts"] = json!(["evil.example.com"]);
    let (_, field, message) = refusal(publish(&alice.user, &body).await).await;
    assert_eq!(field.as_deref(), Some("signature"));
    assert!(message.contains("(wrongly signed)"), "{message}");

    // Without naming the key, every key of Alice's is tried, and none verifies a garbage signature.
    let mut body = package(&alice.key, &echo_bytes(), &manifest);
    body.as_object_mut().unwrap().remove("public_key");
    body["signature"] = json!(BASE64.encode([7u8; 64]));
    let (_, _, message) = refusal(publish(&alice.user, &body).await).await;
    assert!(
        message.contains("(wrongly signed)") && message.contains("any key of alice@example.com"),
        "{message}"
    );
    nothing_stored(&db).await;
}

#[sqlx::test(migrations = "../migrations")]
async fn a_tampered_package_is_refused(db: PgPool) {
    let server = TestServer::start(db.clone()).await;
    let alice = publisher(&server, "alice@example.com").await;
    let mut body = package(&alice.key, &echo_bytes(), &echo_manifest("alice@example.com"));
    let mut tampered = echo_bytes();
    let last = tampered.len() - 1;
    tampered[last] ^= 0xff;
    body["component"] = json!(BASE64.encode(&tampered));
    let (status, field, message) = refusal(publish(&alice.user, &body).await).await;
    assert_eq!((status, field.as_deref()), (StatusCode::UNPROCESSABLE_ENTITY, Some("digest")));
    assert!(message.contains("(tampered)"), "{message}");
    assert!(
        message.contains(&vibe_host::agents::registry::store::digest(&tampered)),
        "names what arrived: {message}"
    );
    nothing_stored(&db).await;
}

#[sqlx::test(migrations = "../migrations")]
async fn a_package_from_an_unknown_publisher_or_key_is_refused(db: PgPool) {
    let server = TestServer::start(db.clone()).await;
    let alice = publisher(&server, "alice@example.com").await;
    let nobody = operator(&server, "op@example.com").await;

    // No account publishes as ghost@example.com (an operator may upload for others, yet not for ghosts).
    let body = package(&alice.key, &echo_bytes(), &echo_manifest("ghost@example.com"));
    let (status, field, message) = refusal(publish(&nobody, &body).await).await;
    assert_eq!((status, field.as_deref()), (StatusCode::UNPROCESSABLE_ENTITY, Some("publisher")));
    assert!(message.contains("(unknown publisher)") && message.contains("ghost@example.com"), "{message}");

    // Alice exists, but the key is not hers.
    let stranger = signing::generate();
    let body = package(&stranger, &echo_bytes(), &echo_manifest("alice@example.com"));
    let (_, field, message) = refusal(publish(&alice.user, &body).await).await;
    assert_eq!(field.as_deref(), Some("publisher"));
    assert!(message.contains("(unknown publisher)") && message.contains("is not registered"), "{message}");

    // Her key, revoked.
    let keys: Value = alice.user.get("/api/users/me/keys").await.json().await.unwrap();
    let id = keys[0]["id"].as_str().unwrap();
    assert_eq!(alice.user.delete(&format!("/api/users/me/keys/{id}")).await.status(), StatusCode::NO_CONTENT);
    let body = package(&alice.key, &echo_bytes(), &echo_manifest("alice@example.com"));
    let (_, field, message) = refusal(publish(&alice.user, &body).await).await;
    assert_eq!(field.as_deref(), Some("publisher"));
    assert!(message.contains("(unknown publisher)") && message.contains("revoked"), "{message}");
    nothing_stored(&db).await;
}

#[sqlx::test(migrations = "../migrations")]
async fn a_published_version_never_changes_its_bytes(db: PgPool) {
    let server = TestServer::start(db.clone()).await;
    let alice = publisher(&server, "alice@example.com").await;
    let manifest = echo_manifest("alice@example.com");
    let first = published(&alice, &echo_bytes(), &manifest).await;

    // The same name and version with other bytes: refused before anything is compiled.
    let (status, _, message) =
        refusal(publish(&alice.user, &package(&alice.key, b"other bytes", &manifest)).await).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(
        message.contains("(already published)") && message.contains(first["digest"].as_str().unwrap()),
        "{message}"
    );

    // The same bytes with another manifest are another package under the same version: refused too.
    let mut changed = manifest.clone();
    changed["description"] = json!("changed my mind");
    let (status, _, message) =
        refusal(publish(&alice.user, &package(&alice.key, &echo_bytes(), &changed)).await).await;
    assert_eq!(status, StatusCode::CONFLICT, "{message}");

    // Exactly the same package again is harmless.
    let again = publish(&alice.user, &package(&alice.key, &echo_bytes(), &manifest)).await;
    assert_eq!(again.status(), StatusCode::OK);
    let (versions,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM plugin_versions").fetch_one(&db).await.unwrap();
    assert_eq!(versions, 1);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_package_that_is_not_a_compatible_agent_is_refused_last(db: PgPool) {
    let server = TestServer::start(db.clone()).await;
    let alice = publisher(&server, "alice@example.com").await;
    let refused = |bytes: Vec<u8>, manifest: Value| {
        let body = package(&alice.key, &bytes, &manifest);
        let user = alice.user.clone();
        async move { refusal(publish(&user, &body).await).await }
    };

    // A manifest naming a WIT version this host does not serve.
    let mut manifest = echo_manifest("alice@example.com");
    manifest["wit"] = json!("vibe:agent@9.0.0");
    let (status, field, message) = refused(echo_bytes(), manifest).await;
    assert_eq!((status, field.as_deref()), (StatusCode::UNPROCESSABLE_ENTITY, Some("component")));
    assert!(message.contains("(WIT-incompatible)") && message.contains("vibe:agent@9.0.0"), "{message}");

    // Not WebAssembly; an app (wasi:http), not an agent; an Extism module claimed as a component.
    for (bytes, what) in [
        (b"definitely not wasm".to_vec(), "WebAssembly"),
        (plugin(vibe_test_components::HELLO_STD), "not an agent"),
        (extism_bytes(), "core WebAssembly module"),
    ] {
        let (status, field, message) = refused(bytes, echo_manifest("alice@example.com")).await;
        assert_eq!(
            (status, field.as_deref()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("component")),
            "{message}"
        );
        assert!(message.contains("(WIT-incompatible)") && message.contains(what), "{what}: {message}");
    }

    // A real agent whose self-description disagrees with its signed manifest.
    let mut manifest = echo_manifest("alice@example.com");
    manifest["agent_types"] = json!(["ideation"]);
    let (_, field, message) = refused(echo_bytes(), manifest).await;
    assert_eq!(field.as_deref(), Some("component"));
    assert!(message.contains("(manifest mismatch)"), "{message}");
    nothing_stored(&db).await;
}

#[sqlx::test(migrations = "../migrations")]
async fn nobody_publishes_in_another_name_or_under_another_publishers_plugin(db: PgPool) {
    let server = TestServer::start(db.clone()).await;
    let alice = publisher(&server, "alice@example.com").await;
    let mallory = publisher(&server, "mallory@example.com").await;

    // Mallory relays a package Alice signed: the signature is fine, the account is not Alice's.
    let body = package(&alice.key, &echo_bytes(), &echo_manifest("alice@example.com"));
    let (status, _, message) = refusal(publish(&mallory.user, &body).await).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{message}");

    // Alice owns `echo` once she published it; Mallory's own signed `echo` is refused.
    published(&alice, &echo_bytes(), &echo_manifest("alice@example.com")).await;
    let mut manifest = echo_manifest("mallory@example.com");
    manifest["version"] = json!("0.2.0");
    let (status, _, message) =
        refusal(publish(&mallory.user, &package(&mallory.key, b"x", &manifest)).await).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(message.contains("(name taken)"), "{message}");
}
