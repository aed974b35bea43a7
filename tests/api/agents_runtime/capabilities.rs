//! Turns that use the host capabilities, under their grants.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::json;
use sqlx::PgPool;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use vibe_host::agents::runtime::capabilities::pipeline;
use vibe_host::agents::runtime::{
    AgentLimits, ArtifactWrite, Capability, ContentType, Grants, LogSource, PluginKind, ToolCall, TurnOutput,
};
use vibe_test_components::{AGENT_ECHO, AGENT_EXTISM, AGENT_HOSTILE};

use super::{Harness, ScriptedLlm, all_but_http, tight_limits, turn};

/// The rows the echo agents write, by plugin: (kv `turns`, latest `notes` artifact and its writer).
async fn echo_rows(harness: &Harness, plugin: &str) -> (Option<String>, Option<(i32, String, String)>) {
    let db = &harness.server.db;
    let turns: Option<Vec<u8>> = sqlx::query_scalar(
        "SELECT value FROM agent_kv WHERE plugin_name = $1 AND idea_id = $2 AND key = 'turns'",
    )
    .bind(plugin)
    .bind(harness.idea_id)
    .fetch_optional(db)
    .await
    .unwrap();
    let notes = sqlx::query_as(
        "SELECT version, content, written_by FROM pipeline_artifacts WHERE idea_id = $1 AND name = 'notes' \
         ORDER BY version DESC LIMIT 1",
    )
    .bind(harness.idea_id)
    .fetch_optional(db)
    .await
    .unwrap();
    (turns.map(|bytes| String::from_utf8(bytes).unwrap()), notes)
}

fn expected_output(said: &str) -> (Vec<ArtifactWrite>, Vec<ToolCall>) {
    let artifact = ArtifactWrite {
        name: "echo".to_owned(),
        content_type: ContentType::Json,
        content: json!({"said": said}).to_string(),
    };
    let tool = ToolCall { name: "echo".to_owned(), input: said.to_owned(), output: "echoed".to_owned() };
    (vec![artifact], vec![tool])
}

#[sqlx::test(migrations = "../migrations")]
async fn echo_agent_answers_a_turn_using_kv_pipeline_events_and_log(db: PgPool) {
    let harness = Harness::start(db).await;
    let summary = ArtifactWrite {
        name: "summary".to_owned(),
        content_type: ContentType::Text,
        content: "A bakery".to_owned(),
    };
    pipeline::write(&harness.server.db, harness.idea_id, &summary, None, None, None).await.unwrap();
    let agent = harness.prepare(AGENT_ECHO, PluginKind::Component).await;

    let context = harness.context("echo", all_but_http(), AgentLimits::default());
    let (result, stats) = harness.runtime.call_turn(&agent, turn("hello"), context).await;
    let output = result.unwrap();
    let reply = &output.replies[0];
    assert!(
        reply.starts_with("echo: hello\nthinking: None\nkv: None turns=1\nsummary v1: A bakery\nnotes: v1\n"),
        "{reply}"
    );
    // Guided mode: the gateway says no provider is configured; the agent sees it as an error.
    assert!(reply.contains("llm: Error::NotConfigured("), "{reply}");
    assert!(reply.ends_with("tool: None\ntranscript: 2 messages, 0 artifacts"), "{reply}");
    let (artifacts, tool_calls) = expected_output("hello");
    assert_eq!((output.artifacts, output.tool_calls, output.hand_off), (artifacts, tool_calls, None));

    assert_eq!(
        echo_rows(&harness, "echo").await,
        (Some("1".to_owned()), Some((1, "turn 1: hello".to_owned(), "echo@0.1.0".to_owned())))
    );
    let thinking = harness.events("agent:thinking").await;
    assert_eq!(thinking.len(), 1);
    assert_eq!(thinking[0]["text"], "echoing");
    assert_eq!(thinking[0]["session_id"], harness.session_id.to_string());
    assert_eq!(thinking[0]["agent"], "echo");
    let tools = harness.events("agent:tool_call").await;
    assert_eq!((tools.len(), &tools[0]["name"], &tools[0]["output"]), (1, &json!("echo"), &json!("echoed")));
    assert!(
        stats
            .logs
            .iter()
            .any(|line| line.source == LogSource::Plugin && line.message == "turn 1 of ideation")
    );
    assert!(stats.fuel_consumed.is_some_and(|fuel| fuel > 0));
    assert!(stats.memory_peak_bytes.is_some_and(|bytes| bytes > 0));

    // State carries over to the next turn (a fresh instance), and the hand-off comes through.
    let context = harness.context("echo", all_but_http(), AgentLimits::default());
    let output = harness.runtime.call_turn(&agent, turn("done"), context).await.0.unwrap();
    assert!(output.replies[0].contains("kv: None turns=2"), "{}", output.replies[0]);
    assert_eq!(output.hand_off.map(|hand_off| hand_off.to_stage).as_deref(), Some("spec"));
    assert_eq!(echo_rows(&harness, "echo").await.1.map(|notes| notes.0), Some(2));

    // Another plugin on the same idea has a store of its own.
    let context = harness.context("echo-twin", all_but_http(), AgentLimits::default());
    let output = harness.runtime.call_turn(&agent, turn("again"), context).await.0.unwrap();
    assert!(output.replies[0].contains("turns=1"), "{}", output.replies[0]);
}

#[sqlx::test(migrations = "../migrations")]
async fn completions_go_through_the_gateway_for_the_session(db: PgPool) {
    let llm = Arc::new(ScriptedLlm::default());
    let harness = Harness::with_llm(db, llm.clone()).await;
    let agent = harness.prepare(AGENT_ECHO, PluginKind::Component).await;
    let context = harness.context("echo", all_but_http(), AgentLimits::default());
    let output = harness.runtime.call_turn(&agent, turn("what next?"), context).await.0.unwrap();
    assert!(output.replies[0].contains("llm: answer to: what next?"), "{}", output.replies[0]);
    let calls = llm.calls.lock().unwrap().clone();
    assert_eq!(calls.len(), 1);
    assert_eq!((calls[0].session_id, calls[0].idea_id), (harness.session_id, harness.idea_id));
    assert_eq!((calls[0].plugin_name.as_str(), calls[0].plugin_version.as_str()), ("echo", "0.1.0"));

    // Without the `llm` grant the gateway is never reached.
    let grants = Grants::new([Capability::Kv], Vec::<String>::new()).unwrap();
    let output = harness
        .runtime
        .call_turn(&agent, turn("again?"), harness.context("echo", grants, AgentLimits::default()))
        .await
        .0
        .unwrap();
    assert!(output.replies[0].contains("llm: Error::Denied("), "{}", output.replies[0]);
    assert!(output.replies[0].contains("notes: Error::Denied("), "{}", output.replies[0]);
    assert_eq!(llm.calls.lock().unwrap().len(), 1);
}

#[sqlx::test(migrations = "../migrations")]
async fn ungranted_capabilities_answer_denied_and_write_nothing(db: PgPool) {
    let harness = Harness::start(db).await;
    let agent = harness.prepare(AGENT_HOSTILE, PluginKind::Component).await;
    let context = harness.context("hostile", Grants::none(), tight_limits());
    let output = harness.runtime.call_turn(&agent, turn("ungranted"), context).await.0.unwrap();
    let reply = &output.replies[0];
    for capability in [
        "kv: Err(Error::Denied(",
        "pipeline: Err(Error::Denied(",
        "events: Err(Error::Denied(",
        "llm: Err(Error::Denied(",
    ] {
        assert!(reply.contains(capability), "{capability} in {reply}");
    }
    let db = &harness.server.db;
    let kv: i64 = sqlx::query_scalar("SELECT count(*) FROM agent_kv").fetch_one(db).await.unwrap();
    let artifacts: i64 =
        sqlx::query_scalar("SELECT count(*) FROM pipeline_artifacts").fetch_one(db).await.unwrap();
    let events: i64 = sqlx::query_scalar("SELECT count(*) FROM events WHERE kind LIKE 'agent:%'")
        .fetch_one(db)
        .await
        .unwrap();
    assert_eq!((kv, artifacts, events), (0, 0, 0));
}

/// A local HTTP server answering `200 ok` to every request; counts the connections it accepted.
async fn local_server() -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let authority = listener.local_addr().unwrap().to_string();
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            let mut buffer = [0u8; 4096];
            let _ = socket.read(&mut buffer).await;
            let _ = socket
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok")
                .await;
        }
    });
    (authority, hits)
}

#[sqlx::test(migrations = "../migrations")]
async fn outbound_requests_reach_only_approved_hosts(db: PgPool) {
    let harness = Harness::start(db).await;
    let agent = harness.prepare(AGENT_HOSTILE, PluginKind::Component).await;
    let (authority, hits) = local_server().await;
    let fetch = format!("fetch {authority}");

    // `http` granted, but for another host: refused before any connection.
    let grants = Grants::new([Capability::Http], ["api.example.com"]).unwrap();
    let (result, stats) = harness
        .runtime
        .call_turn(&agent, turn(&fetch), harness.context("hostile", grants, tight_limits()))
        .await;
    assert!(result.unwrap().replies[0].contains("HttpRequestDenied"));
    assert!(
        stats.logs.iter().any(|line| line.source == LogSource::Runtime
            && line.message.contains("not an approved outbound host"))
    );
    // The host approved, but not the `http` capability: refused too.
    let grants = Grants::new([Capability::Kv], [authority.as_str()]).unwrap();
    let output: TurnOutput = harness
        .runtime
        .call_turn(&agent, turn(&fetch), harness.context("hostile", grants, tight_limits()))
        .await
        .0
        .unwrap();
    assert!(output.replies[0].contains("HttpRequestDenied"));
    assert_eq!(hits.load(Ordering::SeqCst), 0, "the local server received nothing");

    // Approved: the request goes through.
    let grants = Grants::new([Capability::Http], [authority.as_str()]).unwrap();
    let output = harness
        .runtime
        .call_turn(&agent, turn(&fetch), harness.context("hostile", grants, tight_limits()))
        .await
        .0
        .unwrap();
    assert!(output.replies[0].contains("status 200"), "{}", output.replies[0]);
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}

#[sqlx::test(migrations = "../migrations")]
async fn extism_plugin_answers_with_the_same_shape_and_capabilities(db: PgPool) {
    let harness = Harness::start(db).await;
    let summary = ArtifactWrite {
        name: "summary".to_owned(),
        content_type: ContentType::Text,
        content: "A bakery".to_owned(),
    };
    pipeline::write(&harness.server.db, harness.idea_id, &summary, None, None, None).await.unwrap();
    let agent = harness.prepare(AGENT_EXTISM, PluginKind::Extism).await;
    assert_eq!(agent.description.name, "echo-extism");
    assert_eq!(agent.description.agent_types, ["ideation", "support"]);
    assert!(agent.description.capabilities.contains(&Capability::PipelineWrite));

    let context = harness.context("echo-extism", all_but_http(), AgentLimits::default());
    let (result, stats) = harness.runtime.call_turn(&agent, turn("hello"), context).await;
    let output = result.unwrap();
    let reply = &output.replies[0];
    assert!(
        reply.starts_with("echo: hello\nthinking: None\nkv: None turns=1\nsummary v1: A bakery\nnotes: v1\n"),
        "{reply}"
    );
    assert!(reply.contains("llm: {\"kind\":\"not-configured\""), "{reply}");
    assert!(reply.ends_with("tool: None\ntranscript: 2 messages, 0 artifacts"), "{reply}");
    let (artifacts, tool_calls) = expected_output("hello");
    assert_eq!((output.artifacts, output.tool_calls, output.hand_off), (artifacts, tool_calls, None));
    assert_eq!(
        echo_rows(&harness, "echo-extism").await,
        (Some("1".to_owned()), Some((1, "turn 1: hello".to_owned(), "echo-extism@0.1.0".to_owned())))
    );
    assert_eq!(harness.events("agent:thinking").await.len(), 1);
    assert_eq!(harness.events("agent:tool_call").await.len(), 1);
    assert!(stats.logs.iter().any(|line| line.message == "turn 1 of ideation"));
    assert!(stats.fuel_consumed.is_some_and(|fuel| fuel > 0));

    // Without grants, the same host functions answer `denied` and write nothing more.
    let output = harness
        .runtime
        .call_turn(
            &agent,
            turn("done"),
            harness.context("echo-extism", Grants::none(), AgentLimits::default()),
        )
        .await
        .0
        .unwrap();
    assert!(
        output.replies[0].contains("kv: Some(Object {\"kind\": String(\"denied\")"),
        "{}",
        output.replies[0]
    );
    assert_eq!(output.hand_off.map(|hand_off| hand_off.to_stage).as_deref(), Some("spec"));
    assert_eq!(echo_rows(&harness, "echo-extism").await.0.as_deref(), Some("1"));
}
