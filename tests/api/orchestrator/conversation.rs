//! A conversation with a real agent plugin (the echo component routed for `ideation`): replies in the
//! transcript with their agent and version, the events in order, the context the agent sees, the
//! hand-off to the spec stage, failures on the session with nothing half-written, and bad input.

use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use super::{idea_and_session, route_echo, say, start_workers, transcript_with};
use crate::events::{Ws, connect, next_event};
use crate::plugins::{approve, operator, plugin, published, publisher, route};
use crate::support::{TestServer, error_code};

/// Reads events until an `agent:message` written by role `role` (or an error); returns all read.
async fn events_until_message_of(ws: &mut Ws, role: &str) -> Vec<Value> {
    let mut seen = Vec::new();
    loop {
        let event = next_event(ws).await;
        let done = event["type"] == "agent:message" && event["data"]["message"]["role"] == role;
        seen.push(event);
        if done {
            return seen;
        }
    }
}

/// A WebSocket of `user` that misses nothing published from now on (it replays from the latest id).
async fn watch(server: &TestServer, user: &crate::support::TestUser) -> Ws {
    let last: i64 =
        sqlx::query_scalar("SELECT COALESCE(max(id), 0) FROM events").fetch_one(&server.db).await.unwrap();
    connect(server.addr, user, Some(last)).await
}

async fn count(db: &PgPool, sql: &str, id: Uuid) -> i64 {
    sqlx::query_scalar(sql).bind(id).fetch_one(db).await.unwrap()
}

#[sqlx::test(migrations = "../migrations")]
async fn a_message_is_answered_by_the_stage_agent_with_events_in_order(db: PgPool) {
    let server = TestServer::start(db.clone()).await;
    route_echo(&server).await;
    let _workers = start_workers(&server, "worker-a").await;
    let alice = server.signup("alice@example.com").await;
    let (idea, session) = idea_and_session(&alice, "Book club").await;
    let mut ws = watch(&server, &alice).await;

    let sent = say(&alice, session, "Please answer in French; I prefer a minimal style").await;
    assert_eq!(sent["role"], "user");
    let events = events_until_message_of(&mut ws, "agent").await;
    let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(kinds.first(), Some(&"agent:message"), "{kinds:?}");
    assert_eq!(events[0]["data"]["message"]["id"], sent["id"], "the person's message comes first");
    assert_eq!(kinds[1], "agent:thinking", "{kinds:?}");
    assert_eq!(events[1]["data"]["agent_type"], "ideation");
    let tool_call = kinds.iter().rposition(|k| *k == "agent:tool_call").expect("a tool call event");
    assert_eq!(tool_call, kinds.len() - 2, "the turn's tool call precedes its reply: {kinds:?}");
    for event in &events {
        assert_eq!(event["idea_id"], idea.to_string());
        assert_eq!(event["data"]["phase"], "ideation", "{event}");
        assert_eq!(event["data"]["guided"], true, "no LLM is configured: {event}");
    }
    let reply_event = &events.last().unwrap()["data"]["message"];

    let transcript = transcript_with(&alice, session, 2).await;
    assert_eq!(transcript["phase"], "ideation");
    assert_eq!(transcript["guided"], true);
    assert_eq!(transcript["agent_version"], "echo@0.1.0");
    let reply = &transcript["messages"][1];
    assert_eq!(reply, reply_event, "the event carries the stored message");
    assert_eq!(reply["role"], "agent");
    assert_eq!(reply["agent_type"], "ideation");
    assert_eq!(reply["agent_version"], "echo@0.1.0");
    let content = reply["content"].as_str().unwrap();
    assert!(content.starts_with("echo: Please answer in French"), "{content}");
    // The first turn saw no history and the two context pieces (nothing else existed yet).
    assert!(content.contains("transcript: 0 messages, 2 artifacts"), "{content}");

    // The output artifact went through the pipeline, written by the version; facts and preferences
    // were learned in the same commit.
    let (written_by, said): (String, String) = sqlx::query_as(
        "SELECT written_by, content FROM pipeline_artifacts WHERE idea_id = $1 AND name = 'echo' AND version = 1",
    )
    .bind(idea)
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(written_by, "echo@0.1.0");
    assert!(said.contains("answer in French"), "{said}");
    let preferences: Vec<(String, String)> =
        sqlx::query_as("SELECT key, value FROM user_preferences WHERE user_id = $1 ORDER BY key")
            .bind(alice.id)
            .fetch_all(&db)
            .await
            .unwrap();
    assert_eq!(preferences, [("language".into(), "French".into()), ("style".into(), "minimal".into())]);
    let fact: String =
        sqlx::query_scalar("SELECT value FROM idea_facts WHERE idea_id = $1 AND key = 'echo.said'")
            .bind(idea)
            .fetch_one(&db)
            .await
            .unwrap();
    assert!(fact.starts_with("Please answer in French"), "{fact}");
    let job: (String, i32) = sqlx::query_as("SELECT status, attempts FROM jobs WHERE kind = 'agent_turn'")
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(job, ("done".to_owned(), 1));

    // The second turn sees the history and every artifact of the idea, the preferences remembered
    // across ideas, on another idea of the same person.
    say(&alice, session, "again").await;
    let transcript = transcript_with(&alice, session, 4).await;
    let content = transcript["messages"][3]["content"].as_str().unwrap();
    assert!(
        content.contains("transcript: 2 messages, 4 artifacts"),
        "echo, notes and the context: {content}"
    );
    let (_, other_session) = idea_and_session(&alice, "Garden").await;
    let pending = say(&alice, other_session, "ping").await;
    assert_eq!(pending["content"], "ping");
    transcript_with(&alice, other_session, 2).await;
    let profile = vibe_host::conversation::context::profile(&db, alice.id).await.unwrap();
    let profile: Value = serde_json::from_str(&profile.content).unwrap();
    assert_eq!(profile["preferences"], json!({"language": "French", "style": "minimal"}));
    assert_eq!(profile["name"], "alice@example.com");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_hand_off_moves_the_idea_to_the_next_stage_and_its_agent(db: PgPool) {
    let server = TestServer::start(db.clone()).await;
    route_echo(&server).await;
    let _workers = start_workers(&server, "worker-a").await;
    let alice = server.signup("alice@example.com").await;
    let (idea, session) = idea_and_session(&alice, "Book club").await;
    let mut ws = watch(&server, &alice).await;

    say(&alice, session, "done").await;
    let events = events_until_message_of(&mut ws, "system").await;
    let hand_off = events.last().unwrap();
    assert_eq!(hand_off["data"]["hand_off"], "spec");
    assert_eq!(hand_off["data"]["phase"], "specification", "the hand-off event carries the new phase");
    // The spec stage's agent takes the hand-off at once, without a new message: the session follows
    // the phase, and with no spec agent routed here the person is told so.
    let transcript = transcript_with(&alice, session, 4).await;
    assert_eq!(transcript["phase"], "specification");
    let system = &transcript["messages"][2];
    assert_eq!(system["role"], "system");
    assert_eq!(system["content"], "Handed off to the spec agent: the idea is clear");
    let status: String =
        sqlx::query_scalar("SELECT status FROM ideas WHERE id = $1").bind(idea).fetch_one(&db).await.unwrap();
    assert_eq!(status, "specification");
    assert_eq!(transcript["agent_type"], "spec");
    assert_eq!(transcript["agent_version"], Value::Null, "a new agent type picks its version afresh");
    let error = &transcript["messages"][3];
    assert_eq!(error["role"], "system");
    assert!(error["content"].as_str().unwrap().contains("not available"), "{error}");
    let last_error: String = sqlx::query_scalar("SELECT last_error FROM jobs WHERE status = 'failed'")
        .fetch_one(&db)
        .await
        .unwrap();
    assert!(last_error.starts_with("agent_not_routed"), "{last_error}");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_failed_turn_says_why_on_the_session_and_writes_nothing_else(db: PgPool) {
    let server = TestServer::start(db.clone()).await;
    route_echo(&server).await;
    let _workers = start_workers(&server, "worker-a").await;
    let alice = server.signup("alice@example.com").await;
    let (idea, session) = idea_and_session(&alice, "Book club").await;
    let mut ws = watch(&server, &alice).await;

    say(&alice, session, "refuse").await;
    let events = events_until_message_of(&mut ws, "system").await;
    let failure = &events.last().unwrap()["data"];
    assert_eq!(failure["error"]["code"], "agent_failed");
    assert_eq!(failure["phase"], "ideation");
    let transcript = transcript_with(&alice, session, 2).await;
    let error = &transcript["messages"][1];
    assert_eq!(error["role"], "system");
    assert_eq!(error["content"], "The agent could not answer: I will not");
    let agent_messages =
        count(&db, "SELECT count(*) FROM agent_messages m WHERE session_id = $1 AND role = 'agent'", session)
            .await;
    assert_eq!(agent_messages, 0);
    let artifacts = count(&db, "SELECT count(*) FROM pipeline_artifacts WHERE idea_id = $1", idea).await;
    assert_eq!(artifacts, 0, "a failed turn writes no artifact");
    let job: (String, i32) =
        sqlx::query_as("SELECT status, attempts FROM jobs").fetch_one(&db).await.unwrap();
    assert_eq!(job, ("failed".to_owned(), 1), "an agent's refusal is not retried");
    assert_eq!(transcript["phase"], "ideation");
}

#[sqlx::test(migrations = "../migrations")]
async fn an_agent_that_hangs_is_stopped_and_the_session_told(db: PgPool) {
    let server = TestServer::start(db.clone()).await;
    let op = operator(&server, "op@example.com").await;
    let publisher = publisher(&server, "pub@example.com").await;
    let manifest = json!({
        "name": "hostile", "version": "0.1.0", "agent_types": ["ideation"], "wit": "vibe:agent@0.1.0",
        "kind": "component", "capabilities": ["http"], "http_hosts": ["127.0.0.1"],
        "limits": {"fuel": 200_000_000u64}, "publisher": "pub@example.com",
    });
    published(&publisher, &plugin(vibe_test_components::AGENT_HOSTILE), &manifest).await;
    approve(&op, "hostile", "0.1.0").await;
    route(&op, "ideation", json!({"hostile@0.1.0": 1})).await;
    let _workers = start_workers(&server, "worker-a").await;
    let alice = server.signup("alice@example.com").await;
    let (_, session) = idea_and_session(&alice, "Spinner").await;

    say(&alice, session, "spin").await;
    let transcript = transcript_with(&alice, session, 2).await;
    let error = &transcript["messages"][1];
    assert_eq!(error["role"], "system");
    assert!(error["content"].as_str().unwrap().contains("computing budget"), "{error}");
    let last_error: String = sqlx::query_scalar("SELECT last_error FROM jobs").fetch_one(&db).await.unwrap();
    assert!(last_error.starts_with("agent_fuel_exhausted"), "{last_error}");

    // The next message is answered: one bad turn does not stop the session.
    say(&alice, session, "ping").await;
    let transcript = transcript_with(&alice, session, 4).await;
    assert_eq!(transcript["messages"][3]["content"], "pong");
}

#[sqlx::test(migrations = "../migrations")]
async fn bad_messages_are_refused_before_any_turn(db: PgPool) {
    let server = TestServer::start(db.clone()).await;
    let _workers = start_workers(&server, "worker-a").await;
    let alice = server.signup("alice@example.com").await;
    let mallory = server.signup("mallory@example.com").await;
    let (_, session) = idea_and_session(&alice, "Book club").await;
    let path = format!("/api/sessions/{session}/message");

    for (body, status) in [
        (json!({"content": ""}), StatusCode::UNPROCESSABLE_ENTITY),
        (json!({"content": "x".repeat(100 * 1024)}), StatusCode::UNPROCESSABLE_ENTITY),
        (json!({"content": "x".repeat(2 * 1024 * 1024)}), StatusCode::PAYLOAD_TOO_LARGE),
    ] {
        let response = alice.post(&path, body).await;
        assert_eq!(response.status(), status);
        error_code(response).await;
    }
    let response = mallory.post(&path, json!({"content": "let me in"})).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND, "another person's session does not exist for her");
    assert_eq!(error_code(response).await, "not_found");
    assert_eq!(mallory.get(&format!("/api/sessions/{session}")).await.status(), StatusCode::NOT_FOUND);

    let jobs: i64 = sqlx::query_scalar("SELECT count(*) FROM jobs").fetch_one(&db).await.unwrap();
    let messages: i64 =
        sqlx::query_scalar("SELECT count(*) FROM agent_messages").fetch_one(&db).await.unwrap();
    assert_eq!((jobs, messages), (0, 0), "refused messages leave nothing behind");
}

#[sqlx::test(migrations = "../migrations")]
async fn an_apps_code_is_neither_sent_with_every_turn_nor_mined_for_facts(db: PgPool) {
    use vibe_host::agents::runtime::capabilities::pipeline;
    use vibe_host::agents::runtime::types::{ArtifactWrite, ContentType};
    use vibe_host::conversation::context;

    let server = TestServer::start(db.clone()).await;
    let alice = server.signup("alice@example.com").await;
    let (idea, session) = idea_and_session(&alice, "Book club").await;
    let write = |name: &str, content: String| ArtifactWrite {
        name: name.to_owned(),
        content_type: ContentType::Json,
        content,
    };
    let code = json!({"files": {"src/lib.rs": "// generated\n".repeat(10_000)}, "summary": "the app"});
    pipeline::write(&db, idea, &write("code", code.to_string()), None, Some("platform"), None).await.unwrap();
    let notes = json!({"audience": "the club"});
    pipeline::write(&db, idea, &write("notes", notes.to_string()), None, None, None).await.unwrap();

    let input =
        context::turn_input(&db, "ideation", session, (0, "hello".to_owned()), idea, "ideation", alice.id)
            .await
            .unwrap();
    let names: Vec<&str> = input.artifacts.iter().map(|artifact| artifact.name.as_str()).collect();
    assert!(names.contains(&"notes") && !names.contains(&"code"), "{names:?}");

    let mut conn = db.acquire().await.unwrap();
    context::refresh_facts(&mut conn, idea).await.unwrap();
    let keys: Vec<String> = sqlx::query_scalar("SELECT key FROM idea_facts WHERE idea_id = $1 ORDER BY key")
        .bind(idea)
        .fetch_all(&db)
        .await
        .unwrap();
    assert_eq!(keys, ["notes.audience"]);
}
