//! The SDK's guide (sdk/vibe-agent-sdk/README.md) followed to the end, with the real binary: the
//! template built from an empty directory, a key made and registered, the plugin signed and published
//! over HTTP, approved and routed by an operator, and answering a session's turn.

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::json;
use sqlx::PgPool;

use super::*;
use crate::support::TestServer;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").canonicalize().unwrap()
}

/// Where guest crates are built (`<target>/components`), shared with the other guest builds.
fn guest_target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.ancestors().nth(3).unwrap().join("components")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

async fn run(command: &mut tokio::process::Command) -> Output {
    let output = command.output().await.expect("the command runs");
    assert!(
        output.status.success(),
        "{:?}: {}{}",
        command.as_std(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

#[sqlx::test(migrations = "../migrations")]
async fn a_plugin_written_from_the_guide_is_published_routed_and_answers(db: PgPool) {
    let server = TestServer::start(db.clone()).await;
    let me = server.signup("me@example.com").await;
    let dir = tempfile::tempdir().unwrap();
    let plugin = dir.path().join("my-agent");
    let sdk = root().join("sdk/vibe-agent-sdk");
    copy_dir(&sdk.join("template"), &plugin);
    let cargo_toml = plugin.join("Cargo.toml");
    let text = std::fs::read_to_string(&cargo_toml).unwrap();
    std::fs::write(
        &cargo_toml,
        text.replace(r#"path = "..""#, &format!("path = {:?}", sdk.display().to_string())),
    )
    .unwrap();
    run(tokio::process::Command::new(env!("CARGO"))
        .current_dir(&plugin)
        .args(["build", "--release", "--offline", "--target", "wasm32-wasip2", "--target-dir"])
        .arg(guest_target_dir())
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("CARGO_BUILD_TARGET"))
    .await;
    let built = guest_target_dir().join("wasm32-wasip2/release/my_agent.wasm");

    // The guide's manifest, word for word but for the publisher.
    let manifest = json!({
        "name": "my-agent", "version": "0.1.0", "agent_types": ["ideation"], "wit": "vibe:agent@0.1.0",
        "kind": "component", "capabilities": ["kv", "events", "llm"], "http_hosts": [],
        "publisher": "me@example.com", "description": "Helps people shape their app idea."
    });
    std::fs::write(plugin.join("manifest.json"), serde_json::to_vec_pretty(&manifest).unwrap()).unwrap();
    let vibe = |args: &[&str]| {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_vibe"));
        let mut url = url::Url::parse(
            &std::env::var("DATABASE_URL")
                .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into()),
        )
        .unwrap();
        url.set_path(server.db.connect_options().get_database().unwrap());
        command
            .args(args)
            .current_dir(&plugin)
            .env("VIBE_DATABASE_URL", url.as_str())
            .env("VIBE_DATA_DIR", &server.state.config.data_dir)
            .env("VIBE_SERVER", server.url("/"))
            .env("VIBE_TOKEN", &me.token)
            .env("RUST_LOG", "warn");
        command
    };
    run(&mut vibe(&["plugin", "keygen", "--out", "vibe-publisher.key"])).await;
    run(&mut vibe(&["plugin", "register-key", "--key", "vibe-publisher.key"])).await;
    let built = built.to_str().unwrap();
    let published = run(&mut vibe(&[
        "plugin",
        "publish",
        built,
        "--manifest",
        "manifest.json",
        "--key",
        "vibe-publisher.key",
    ]))
    .await;
    assert!(
        String::from_utf8_lossy(&published.stdout)
            .contains("waiting for an operator's approval of: capability llm")
    );
    run(&mut vibe(&["plugin", "approve", "my-agent", "0.1.0"])).await;
    run(&mut vibe(&["agent", "route", "ideation", "my-agent@0.1.0=100"])).await;

    let mut routed = false;
    for _ in 0..200 {
        if server.state.agents.routing().table("ideation").pick().is_some() {
            routed = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert!(routed, "the running server follows the route set from the command line");
    let session = sessions(&db, "ideation", 1).await[0];
    let output = vibe_host::agents::dispatch::run_turn(
        &server.state,
        "ideation",
        session,
        turn("ideation", "a bakery site"),
    )
    .await
    .unwrap();
    assert_eq!(output.replies, ["(1) Noted: a bakery site. What should the app do first?"]);
    assert_eq!(session_version(&db, session).await.as_deref(), Some("my-agent@0.1.0"));
}
