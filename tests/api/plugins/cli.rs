//! `vibe plugin …` and `vibe agent …` with the real binary: a key made, registered and used to
//! publish over HTTP to a running server; an operator approving and routing on the database, the
//! running server following without a restart.

use std::os::unix::fs::PermissionsExt;
use std::process::Output;
use std::time::Duration;

use sqlx::PgPool;

use super::*;
use crate::support::TestServer;

/// `vibe <args>` against the test server's database and address, as `token`'s account. Awaited, not
/// blocked on: the server answering the command runs on this test's runtime.
async fn vibe(server: &TestServer, dir: &std::path::Path, token: &str, args: &[&str]) -> Output {
    let mut url = url::Url::parse(
        &std::env::var("DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into()),
    )
    .unwrap();
    let database = server.db.connect_options().get_database().unwrap().to_owned();
    url.set_path(&database);
    tokio::process::Command::new(env!("CARGO_BIN_EXE_vibe"))
        .args(args)
        .current_dir(dir)
        .env("VIBE_DATABASE_URL", url.as_str())
        .env("VIBE_DATA_DIR", &server.state.config.data_dir)
        .env("VIBE_SERVER", server.url("/"))
        .env("VIBE_TOKEN", token)
        .env_remove("VIBE_PUBLISHER_KEY")
        .env("RUST_LOG", "warn")
        .output()
        .await
        .expect("the vibe binary runs")
}

fn printed(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

#[sqlx::test(migrations = "../migrations")]
async fn a_key_made_registered_and_used_publishes_and_operators_route_from_the_command_line(db: PgPool) {
    let server = TestServer::start(db.clone()).await;
    let alice = server.signup("alice@example.com").await;
    let dir = tempfile::tempdir().unwrap();

    let made = vibe(&server, dir.path(), &alice.token, &["plugin", "keygen"]).await;
    assert!(made.status.success(), "{}", printed(&made));
    let secret = dir.path().join("vibe-publisher.key");
    let mode = std::fs::metadata(&secret).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the secret key is readable by its owner only");
    assert!(dir.path().join("vibe-publisher.key.pub").is_file());
    let again = vibe(&server, dir.path(), &alice.token, &["plugin", "keygen"]).await;
    assert!(!again.status.success(), "an existing key is never overwritten");

    let registered =
        vibe(&server, dir.path(), &alice.token, &["plugin", "register-key", "--label", "ci"]).await;
    assert!(registered.status.success(), "{}", printed(&registered));

    let manifest = dir.path().join("echo.json");
    std::fs::write(&manifest, serde_json::to_vec_pretty(&echo_manifest("alice@example.com")).unwrap())
        .unwrap();
    let published = vibe(
        &server,
        dir.path(),
        &alice.token,
        &["plugin", "publish", vibe_test_components::AGENT_ECHO, "--manifest", "echo.json"],
    )
    .await;
    assert!(published.status.success(), "{}", printed(&published));
    let text = printed(&published);
    assert!(text.contains("published echo@0.1.0") && text.contains("capability llm"), "{text}");

    // A refusal comes back with the server's reason.
    let wrong = vibe(
        &server,
        dir.path(),
        "not-a-token",
        &["plugin", "publish", vibe_test_components::AGENT_ECHO, "--manifest", "echo.json"],
    )
    .await;
    assert!(!wrong.status.success());
    assert!(printed(&wrong).contains("401"), "{}", printed(&wrong));

    let routed = vibe(&server, dir.path(), "", &["agent", "route", "ideation", "echo@0.1.0=1"]).await;
    assert!(!routed.status.success(), "unapproved versions are not routable");
    assert!(printed(&routed).contains("approve"), "{}", printed(&routed));

    let approved = vibe(&server, dir.path(), "", &["plugin", "approve", "echo", "0.1.0"]).await;
    assert!(approved.status.success(), "{}", printed(&approved));
    let routed = vibe(&server, dir.path(), "", &["agent", "route", "ideation", "0.1.0=3"]).await;
    assert!(routed.status.success(), "{}", printed(&routed));
    assert!(printed(&routed).contains("echo@0.1.0\t3\t100.0%"), "{}", printed(&routed));

    // The running server follows the change made by another process, without a restart.
    let mut revision = None;
    for _ in 0..100 {
        revision = server.state.agents.routing().table("ideation").revision;
        if revision.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(revision, Some(1));
    let session = sessions(&db, "ideation", 1).await[0];
    let output =
        vibe_host::agents::dispatch::run_turn(&server.state, "ideation", session, turn("ideation", "ping"))
            .await
            .unwrap();
    assert_eq!(output.replies, vec!["pong"]);
    server.state.agents.track().flush().await;

    let shown = vibe(&server, dir.path(), "", &["agent", "show", "ideation"]).await;
    assert!(printed(&shown).contains("echo@0.1.0\tcalls 1\terrors 0"), "{}", printed(&shown));
    let rolled = vibe(&server, dir.path(), "", &["agent", "rollback", "ideation"]).await;
    assert!(!rolled.status.success(), "nothing before the first routing");
    assert!(printed(&rolled).contains("no earlier routing"), "{}", printed(&rolled));
}

#[sqlx::test(migrations = "../migrations")]
async fn a_package_signed_to_a_file_publishes_as_it_is_from_any_client(db: PgPool) {
    let server = TestServer::start(db).await;
    let alice = server.signup("alice@example.com").await;
    let dir = tempfile::tempdir().unwrap();
    for args in [&["plugin", "keygen"][..], &["plugin", "register-key"]] {
        let done = vibe(&server, dir.path(), &alice.token, args).await;
        assert!(done.status.success(), "{}", printed(&done));
    }
    std::fs::write(
        dir.path().join("echo.json"),
        serde_json::to_vec_pretty(&echo_manifest("alice@example.com")).unwrap(),
    )
    .unwrap();
    let sign =
        ["plugin", "sign", vibe_test_components::AGENT_ECHO, "--manifest", "echo.json", "--out", "echo.pkg"];
    let signed = vibe(&server, dir.path(), "", &sign).await;
    assert!(signed.status.success(), "{}", printed(&signed));
    assert!(printed(&signed).contains("echo@0.1.0"), "{}", printed(&signed));
    let again = vibe(&server, dir.path(), "", &sign).await;
    assert!(!again.status.success(), "an existing package is never overwritten");

    // The file is the body of `POST /api/plugins` exactly (what the operator console uploads).
    let package: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("echo.pkg")).unwrap()).unwrap();
    assert!(package.get("signature").is_some() && package.get("public_key").is_some(), "{package}");
    let response = alice.post("/api/plugins", package.clone()).await;
    assert_eq!(response.status(), reqwest::StatusCode::CREATED);
    let published: serde_json::Value = response.json().await.unwrap();
    assert_eq!(published["version_ref"], "echo@0.1.0", "{published}");

    // The same file tampered with is refused for its signature.
    let mut tampered = package;
    tampered["manifest"]["description"] = "something else".into();
    let response = alice.post("/api/plugins", tampered).await;
    assert_eq!(response.status(), reqwest::StatusCode::UNPROCESSABLE_ENTITY);
}
