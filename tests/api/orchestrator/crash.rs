//! A real `vibe serve` killed with SIGKILL in the middle of an agent turn: another process takes the
//! job over once its lease runs out, and the reply appears exactly once.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;

use super::{idea_and_session, route_echo};
use crate::events::cluster::{Vibe, database_url};
use crate::support::TestServer;

/// How long the slow turn takes: well within the agent's deadline, long enough to be killed in.
const SLEEP_MS: u64 = 4000;

#[sqlx::test(migrations = "../migrations")]
async fn a_host_killed_mid_turn_loses_nothing_and_the_reply_appears_once(db: PgPool) {
    // The plugin is published (into the data directory the processes share) and routed through an
    // in-process server, which runs no job workers itself.
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().to_owned();
    let server = TestServer::start_with(db.clone(), |config| config.data_dir = data_dir).await;
    route_echo(&server).await;
    let alice = server.signup("alice@example.com").await;
    let (_, session) = idea_and_session(&alice, "Slow club").await;

    let url = database_url(&db);
    let lease = [("VIBE_JOB_LEASE_SECS", "2")];
    let first = Vibe::start_in(dir, &url, &server.token_key, &lease).await;
    let http = reqwest::Client::new();
    let response = http
        .post(format!("http://{}/api/sessions/{session}/message", first.addr))
        .bearer_auth(&alice.token)
        .json(&json!({"content": format!("sleep {SLEEP_MS}")}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);

    // Wait until the first process is running the turn, then kill it without warning.
    let deadline = Instant::now() + Duration::from_secs(60);
    let owner = loop {
        let running: Option<String> = sqlx::query_scalar(
            "SELECT lease_owner FROM jobs WHERE status = 'running' AND kind = 'agent_turn'",
        )
        .fetch_optional(&db)
        .await
        .unwrap();
        if let Some(owner) = running {
            break owner;
        }
        assert!(Instant::now() < deadline, "the first process never started the turn:\n{}", first.log());
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let dir = first.kill_9();
    let replies = |db: PgPool| async move {
        sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM agent_messages WHERE session_id = $1 AND role = 'agent'",
        )
        .bind(session)
        .fetch_one(&db)
        .await
        .unwrap()
    };
    assert_eq!(replies(db.clone()).await, 0, "killed before the turn could answer");

    let second = Vibe::start_in(dir, &url, &server.token_key, &lease).await;
    let deadline = Instant::now() + Duration::from_secs(90);
    let transcript = loop {
        let response = http
            .get(format!("http://{}/api/sessions/{session}", second.addr))
            .bearer_auth(&alice.token)
            .send()
            .await
            .unwrap();
        let body: Value = response.json().await.unwrap();
        if body["pending_turns"] == 0 {
            break body;
        }
        assert!(Instant::now() < deadline, "the job was never completed:\n{}", second.log());
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let messages = transcript["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 2, "{transcript:#}");
    assert_eq!(messages[1]["content"], format!("slept {SLEEP_MS} ms"));
    assert_eq!(messages[1]["agent_version"], "echo@0.1.0");
    assert_eq!(replies(db.clone()).await, 1, "exactly once");
    let (status, attempts, last_owner): (String, i32, Option<String>) =
        sqlx::query_as("SELECT status, attempts, lease_owner FROM jobs").fetch_one(&db).await.unwrap();
    assert_eq!((status.as_str(), attempts), ("done", 2), "taken over by the second process");
    assert_eq!(last_owner, None, "a finished job holds no lease");
    assert!(owner.starts_with("vibe-"), "{owner}");
}
