//! The SDK's guide, followed from an empty directory: copy the template, point it at the SDK,
//! `cargo build --release --target wasm32-wasip2`, and the plugin loads and answers a turn.
//! (Signing and publishing it are the registry's tests, `tests/api/plugins`.)

use std::path::{Path, PathBuf};
use std::process::Command;

use sqlx::PgPool;
use vibe_host::agents::runtime::{AgentLimits, Capability, ContentType, Grants, PluginKind};

use super::{Harness, turn};

/// The workspace's root (this file is `tests/api/agents_runtime/guide.rs`).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").canonicalize().unwrap()
}

/// The target directory the guest components are built in, shared so that the SDK's dependencies
/// are compiled once (`<target>/components`, beside the test binary's profile directory).
fn guest_target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let target = exe.ancestors().nth(3).unwrap().to_owned();
    target.join("components")
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

#[sqlx::test(migrations = "../migrations")]
async fn a_plugin_written_from_the_template_answers_a_turn(db: PgPool) {
    let workspace = tempfile::tempdir().unwrap();
    let plugin = workspace.path().join("my-agent");
    let sdk = root().join("sdk/vibe-agent-sdk");
    copy_dir(&sdk.join("template"), &plugin);
    let manifest = plugin.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    let pointed = text.replace(r#"path = "..""#, &format!("path = {:?}", sdk.display().to_string()));
    assert_ne!(text, pointed, "the template names the SDK by path");
    std::fs::write(&manifest, pointed).unwrap();

    let status = Command::new(env!("CARGO"))
        .current_dir(&plugin)
        .args(["build", "--release", "--offline", "--target", "wasm32-wasip2", "--target-dir"])
        .arg(guest_target_dir())
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("CARGO_BUILD_TARGET")
        .status()
        .unwrap();
    assert!(status.success(), "the template builds as the guide says");
    let built = guest_target_dir().join("wasm32-wasip2/release/my_agent.wasm");

    let harness = Harness::start(db).await;
    let agent = harness.prepare(built.to_str().unwrap(), PluginKind::Component).await;
    assert_eq!(
        (agent.description.name.as_str(), agent.description.agent_types.as_slice()),
        ("my-agent", ["ideation".to_owned()].as_slice())
    );
    let grants =
        Grants::new([Capability::Kv, Capability::Events, Capability::Llm], Vec::<String>::new()).unwrap();
    let context = harness.context("my-agent", grants, AgentLimits::default());
    let output = harness.runtime.call_turn(&agent, turn("a bakery site"), context).await.0.unwrap();
    // Guided mode: no LLM, so the template's deterministic answer.
    assert_eq!(output.replies, ["(1) Noted: a bakery site. What should the app do first?"]);
    assert_eq!(output.artifacts.len(), 1);
    assert_eq!(
        (output.artifacts[0].name.as_str(), output.artifacts[0].content_type),
        ("summary", ContentType::Text)
    );
    assert_eq!(harness.events("agent:thinking").await.len(), 1);
}
