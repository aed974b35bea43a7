//! The orchestrator and the conversation engine end to end: a person's message answered by a real agent
//! plugin through durable jobs (`conversation`), hand-offs and failures, the job queue's guarantees
//! (`jobs`) and a host killed mid-turn (`crash`). Real PostgreSQL, real plugins from tests/components.

mod book_club;
mod conversation;
mod crash;
mod jobs;

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;
use vibe_host::jobs::{WorkerConfig, Workers};

use crate::plugins::{approve, echo_bytes, echo_manifest, operator, published, publisher, route};
use crate::support::{TestServer, TestUser};

/// Workers quick enough for tests: short leases, a fast poll, short backoff.
pub fn quick_workers(owner: &str) -> WorkerConfig {
    WorkerConfig {
        concurrency: 2,
        lease: Duration::from_secs(2),
        poll: Duration::from_millis(200),
        backoff_base: Duration::from_millis(100),
        backoff_ceiling: Duration::from_secs(1),
        shutdown_grace: Duration::from_secs(5),
        owner: owner.to_owned(),
    }
}

/// Starts the conversation engine's workers on `server`, as `vibe serve` does.
pub async fn start_workers(server: &TestServer, owner: &str) -> Workers {
    Workers::start(server.db.clone(), vibe_host::conversation::handlers(&server.state), quick_workers(owner))
        .await
        .unwrap()
}

/// Publishes and approves the echo component and routes `ideation` to it.
pub async fn route_echo(server: &TestServer) {
    let op = operator(server, "op@example.com").await;
    let publisher = publisher(server, "pub@example.com").await;
    published(&publisher, &echo_bytes(), &echo_manifest("pub@example.com")).await;
    approve(&op, "echo", "0.1.0").await;
    route(&op, "ideation", json!({"echo@0.1.0": 1})).await;
}

/// Creates an idea of `user` and an ideation session on it; returns (idea, session).
pub async fn idea_and_session(user: &TestUser, name: &str) -> (Uuid, Uuid) {
    let response = user.post("/api/ideas", json!({"name": name})).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let idea: Uuid = response.json::<Value>().await.unwrap()["id"].as_str().unwrap().parse().unwrap();
    let response = user.post("/api/sessions", json!({"idea_id": idea, "agent_type": "ideation"})).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let session = response.json::<Value>().await.unwrap()["id"].as_str().unwrap().parse().unwrap();
    (idea, session)
}

/// Sends `content` in `session` as `user`, expecting it stored at once; returns the stored message.
pub async fn say(user: &TestUser, session: Uuid, content: &str) -> Value {
    let started = Instant::now();
    let response = user.post(&format!("/api/sessions/{session}/message"), json!({"content": content})).await;
    assert_eq!(response.status(), StatusCode::CREATED, "{}", response.text().await.unwrap());
    assert!(started.elapsed() < Duration::from_secs(5), "the message returned before the turn ran");
    response.json().await.unwrap()
}

/// Reads `session` over the API until no turn is pending and the transcript has `count` messages.
pub async fn transcript_with(user: &TestUser, session: Uuid, count: usize) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let response = user.get(&format!("/api/sessions/{session}")).await;
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.unwrap();
        let messages = body["messages"].as_array().unwrap().len();
        if body["pending_turns"] == 0 && messages >= count {
            assert_eq!(messages, count, "{body:#}");
            return body;
        }
        assert!(Instant::now() < deadline, "the transcript never reached {count} messages: {body:#}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until no turn of `session` is pending; returns the session with its transcript.
pub async fn settled(user: &TestUser, session: Uuid) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let body: Value = user.get(&format!("/api/sessions/{session}")).await.json().await.unwrap();
        if body["pending_turns"] == 0 {
            return body;
        }
        assert!(Instant::now() < deadline, "turns never settled: {body:#}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
