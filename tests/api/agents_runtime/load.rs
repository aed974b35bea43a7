//! Loading: what is not an agent of our WIT is refused with a reason; agents are described and
//! their compiled artifacts cached.

use sqlx::PgPool;
use vibe_host::agents::runtime::{AgentLoadError, AgentRuntime, AgentRuntimeConfig, Capability, PluginKind};
use vibe_test_components::{AGENT_ECHO, AGENT_EXTISM, AGENT_FUTURE, HELLO_STD};

use super::{Harness, digest};

async fn refused(runtime: &AgentRuntime, path: &str, kind: PluginKind) -> AgentLoadError {
    let bytes = std::fs::read(path).unwrap();
    runtime.prepare(&digest(&bytes), &bytes, kind).await.unwrap_err()
}

#[sqlx::test(migrations = "../migrations")]
async fn agents_are_described_and_compiled_once(db: PgPool) {
    let harness = Harness::start(db).await;
    let agent = harness.prepare(AGENT_ECHO, PluginKind::Component).await;
    let description = &agent.description;
    assert_eq!((description.name.as_str(), description.version.as_str()), ("echo", "0.1.0"));
    assert_eq!(description.agent_types, ["ideation", "support"]);
    assert_eq!(
        description.capabilities,
        [
            Capability::Llm,
            Capability::Kv,
            Capability::Events,
            Capability::PipelineRead,
            Capability::PipelineWrite,
            Capability::Log
        ]
    );
    let bytes = std::fs::read(AGENT_ECHO).unwrap();
    assert_eq!(agent.digest(), digest(&bytes));

    // The artifact is on disk; a new runtime on the same data directory loads it from there.
    let compiled = harness.dir.path().join("agents/compiled");
    let artifacts: Vec<_> = std::fs::read_dir(&compiled).unwrap().filter_map(Result::ok).collect();
    assert_eq!(artifacts.len(), 1);
    let modified = artifacts[0].metadata().unwrap().modified().unwrap();
    let again = AgentRuntime::new(AgentRuntimeConfig::new(harness.dir.path())).unwrap();
    let reloaded =
        again.prepare(&format!("sha256:{}", digest(&bytes)), &bytes, PluginKind::Component).await.unwrap();
    assert_eq!(reloaded.description, agent.description);
    assert_eq!(artifacts[0].metadata().unwrap().modified().unwrap(), modified, "not recompiled");
}

#[sqlx::test(migrations = "../migrations")]
async fn what_is_not_an_agent_is_refused_with_a_reason(db: PgPool) {
    let harness = Harness::start(db).await;
    let runtime = &harness.runtime;

    // An app component: a component, but of the vibe:app world.
    let error = refused(runtime, HELLO_STD, PluginKind::Component).await;
    assert!(
        matches!(&error, AgentLoadError::NotAnAgent(reason) if reason.contains("wasi:http/incoming-handler")),
        "{error}"
    );
    assert!(error.to_string().contains("vibe:agent/plugin@0.1.0"), "{error}");

    // An agent of another version of the agent WIT.
    let error = refused(runtime, AGENT_FUTURE, PluginKind::Component).await;
    assert!(
        matches!(&error, AgentLoadError::WrongWitVersion { found, expected: "0.1.0" } if found == "vibe:agent/plugin@0.2.0"),
        "{error}"
    );
    assert!(error.to_string().contains("rebuild it with a matching vibe-agent-sdk"), "{error}");

    // The wrong kind either way.
    let error = refused(runtime, AGENT_EXTISM, PluginKind::Component).await;
    assert!(matches!(error, AgentLoadError::WrongKind(_)), "{error}");
    let error = refused(runtime, AGENT_ECHO, PluginKind::Extism).await;
    assert!(matches!(error, AgentLoadError::WrongKind(_)), "{error}");

    // Not WebAssembly, and bytes that are not what the digest names.
    let error = runtime.prepare(&digest(b"hello"), b"hello", PluginKind::Component).await.unwrap_err();
    assert!(matches!(error, AgentLoadError::NotWasm), "{error}");
    let bytes = std::fs::read(AGENT_ECHO).unwrap();
    let error = runtime.prepare(&digest(b"other"), &bytes, PluginKind::Component).await.unwrap_err();
    assert!(matches!(error, AgentLoadError::DigestMismatch { .. }), "{error}");

    // A component whose bytes were cut short does not compile.
    let cut = &bytes[..bytes.len() / 2];
    let error = runtime.prepare(&digest(cut), cut, PluginKind::Component).await.unwrap_err();
    assert!(matches!(error, AgentLoadError::Invalid(_)), "{error}");
}
