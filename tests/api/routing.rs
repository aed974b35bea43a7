//! Routing agent types to plugin versions: approval before traffic, weights, session stickiness, a
//! change reaching another process, rollback, hot swap under load, and track records. Real plugins
//! (the echo component and the Extism echo, both serving `ideation`), real PostgreSQL, real turns.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;
use vibe_host::AppState;
use vibe_host::agents::dispatch::{DispatchError, run_turn};

use crate::plugins::{
    approve, echo_bytes, echo_manifest, operator, published, publisher, route, session_version, sessions,
    turn, two_echo_versions,
};
use crate::support::{TestServer, error_code};

const ECHO: &str = "echo@0.1.0";
const EXTISM: &str = "echo-extism@0.1.0";

async fn ping(state: &AppState, session: Uuid) -> Result<Vec<String>, DispatchError> {
    run_turn(state, "ideation", session, turn("ideation", "ping")).await.map(|output| output.replies)
}

/// Waits until `state`'s table for ideation is at `revision`.
async fn until_revision(state: &AppState, revision: i64) {
    for _ in 0..200 {
        if state.agents.routing().table("ideation").revision.map(i64::from) == Some(revision) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the routing never reached revision {revision} in this process");
}

#[sqlx::test(migrations = "../migrations")]
async fn an_unapproved_version_is_not_routable_until_approved(db: PgPool) {
    let server = TestServer::start(db.clone()).await;
    let op = operator(&server, "op@example.com").await;
    let alice = publisher(&server, "alice@example.com").await;
    published(&alice, &echo_bytes(), &echo_manifest("alice@example.com")).await;

    let response = op.put("/api/agents/ideation/routing", json!({"weights": {ECHO: 1}})).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = response.json().await.unwrap();
    assert!(body["error"]["message"].as_str().unwrap().contains("approve"), "{body}");
    let session = sessions(&db, "ideation", 1).await[0];
    assert!(matches!(ping(&server.state, session).await, Err(DispatchError::NoRoute(_))));

    approve(&op, "echo", "0.1.0").await;
    let routing = route(&op, "ideation", json!({ECHO: 1})).await;
    assert_eq!(routing["revision"], 1);
    assert_eq!(ping(&server.state, session).await.unwrap(), vec!["pong"]);
    let status: String =
        sqlx::query_scalar("SELECT status FROM agent_versions WHERE agent_type = 'ideation'")
            .fetch_one(&db)
            .await
            .unwrap();
    assert_eq!(status, "active", "a routed version is active");
}

#[sqlx::test(migrations = "../migrations")]
async fn routing_changes_are_checked_and_reserved_to_operators(db: PgPool) {
    let server = TestServer::start(db.clone()).await;
    let op = two_echo_versions(&server).await;
    let bob = server.signup("bob@example.com").await;

    for (body, field_or_status) in [
        (json!({"weights": {"echo@9.9.9": 1}}), "weights"),
        (json!({"weights": {ECHO: 0}}), "weights"),
        (json!({"weights": {}}), "weights"),
        (json!({"weights": {"0.1.0": 1}}), "weights"), // two plugins have 0.1.0: ambiguous
        (json!({"weights": {ECHO: 1}, "extra": true}), "body"),
    ] {
        let response = op.put("/api/agents/ideation/routing", body.clone()).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"]["field"], field_or_status, "{body}: {error}");
    }
    let unknown = op.put("/api/agents/nonesuch/routing", json!({"weights": {ECHO: 1}})).await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);

    route(&op, "ideation", json!({ECHO: 1})).await;
    let stale =
        op.put("/api/agents/ideation/routing", json!({"weights": {EXTISM: 1}, "expected_revision": 0})).await;
    assert_eq!(stale.status(), StatusCode::CONFLICT);
    let fresh =
        op.put("/api/agents/ideation/routing", json!({"weights": {EXTISM: 1}, "expected_revision": 1})).await;
    assert_eq!(fresh.status(), StatusCode::OK);

    for (method, path) in [
        (Method::PUT, "/api/agents/ideation/routing"),
        (Method::POST, "/api/agents/ideation/routing/rollback"),
        (Method::GET, "/api/agents/ideation"),
        (Method::GET, "/api/agents"),
    ] {
        let response =
            bob.request(method.clone(), path).json(&json!({"weights": {ECHO: 1}})).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{method} {path}");
        assert_eq!(error_code(response).await, "forbidden");
        let anonymous = server.anon(method.clone(), path).send().await.unwrap();
        assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED, "{method} {path}");
    }
    let routing: Value = op.get("/api/agents/ideation/routing").await.json().await.unwrap();
    assert_eq!(routing["current"]["revision"], 2);
    assert_eq!(routing["revisions"].as_array().unwrap().len(), 2);
}

#[sqlx::test(migrations = "../migrations")]
async fn new_sessions_follow_the_weights(db: PgPool) {
    let server = TestServer::start(db.clone()).await;
    let op = two_echo_versions(&server).await;
    route(&op, "ideation", json!({ECHO: 3, EXTISM: 1})).await;

    let picks = 1200;
    let ids = sessions(&db, "ideation", picks).await;
    let state = Arc::new(server.state.clone());
    let tasks: Vec<_> = ids
        .chunks(picks / 8)
        .map(|chunk| {
            let (state, chunk) = (state.clone(), chunk.to_vec());
            tokio::spawn(async move {
                for id in chunk {
                    assert_eq!(ping(&state, id).await.unwrap(), vec!["pong"]);
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let counts: HashMap<String, i64> = sqlx::query_as::<_, (String, i64)>(
        "SELECT agent_version, count(*) FROM agent_sessions GROUP BY agent_version",
    )
    .fetch_all(&db)
    .await
    .unwrap()
    .into_iter()
    .collect();
    // 3 in 4 expected: 900 ± 5 standard deviations (√(1200·¾·¼) = 15).
    let echo = counts.get(ECHO).copied().unwrap_or(0);
    assert!((825..=975).contains(&echo), "{counts:?}");
    assert_eq!(echo + counts.get(EXTISM).copied().unwrap_or(0), picks as i64);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_session_sticks_to_the_version_of_its_first_turn(db: PgPool) {
    let server = TestServer::start(db.clone()).await;
    let op = two_echo_versions(&server).await;
    route(&op, "ideation", json!({ECHO: 1})).await;
    let ids = sessions(&db, "ideation", 2).await;
    ping(&server.state, ids[0]).await.unwrap();
    assert_eq!(session_version(&db, ids[0]).await.as_deref(), Some(ECHO));

    route(&op, "ideation", json!({EXTISM: 1})).await;
    for _ in 0..5 {
        ping(&server.state, ids[0]).await.unwrap();
    }
    ping(&server.state, ids[1]).await.unwrap();
    assert_eq!(session_version(&db, ids[0]).await.as_deref(), Some(ECHO), "the old session kept its version");
    assert_eq!(
        session_version(&db, ids[1]).await.as_deref(),
        Some(EXTISM),
        "a new session follows the table"
    );
    server.state.agents.track().flush().await;
    let served: Vec<(Uuid, String, i64)> = sqlx::query_as(
        "SELECT session_id, agent_version, count(*) FROM agent_calls GROUP BY 1, 2 ORDER BY 3 DESC",
    )
    .fetch_all(&db)
    .await
    .unwrap();
    assert_eq!(served, vec![(ids[0], ECHO.to_owned(), 6), (ids[1], EXTISM.to_owned(), 1)]);

    // A session of another agent type is not taken by this one.
    let support = sessions(&db, "support", 1).await[0];
    assert!(matches!(ping(&server.state, support).await, Err(DispatchError::WrongAgentType { .. })));
    assert!(matches!(ping(&server.state, Uuid::new_v4()).await, Err(DispatchError::UnknownSession(_))));
}

#[sqlx::test(migrations = "../migrations")]
async fn a_routing_change_on_one_process_reaches_another_without_restart(db: PgPool) {
    let a = TestServer::start(db.clone()).await;
    let b = TestServer::start(db.clone()).await;
    let op = two_echo_versions(&a).await;
    route(&op, "ideation", json!({ECHO: 1})).await;
    until_revision(&b.state, 1).await;
    let first = sessions(&db, "ideation", 1).await[0];
    ping(&b.state, first).await.unwrap();
    assert_eq!(session_version(&db, first).await.as_deref(), Some(ECHO));

    route(&op, "ideation", json!({EXTISM: 1})).await;
    until_revision(&b.state, 2).await;
    assert_eq!(b.state.agents.routing().table("ideation").weights(), vec![(EXTISM.to_owned(), 1)]);
    let second = sessions(&db, "ideation", 1).await[0];
    ping(&b.state, second).await.unwrap();
    assert_eq!(session_version(&db, second).await.as_deref(), Some(EXTISM));
}

#[sqlx::test(migrations = "../migrations")]
async fn rollback_restores_the_previous_table_for_new_sessions(db: PgPool) {
    let server = TestServer::start(db.clone()).await;
    let op = two_echo_versions(&server).await;
    route(&op, "ideation", json!({ECHO: 1})).await;
    route(&op, "ideation", json!({EXTISM: 1})).await;
    let during = sessions(&db, "ideation", 1).await[0];
    ping(&server.state, during).await.unwrap();

    let response = op.post("/api/agents/ideation/routing/rollback", json!({})).await;
    assert_eq!(response.status(), StatusCode::OK);
    let rolled: Value = response.json().await.unwrap();
    assert_eq!((rolled["revision"].clone(), rolled["kind"].clone()), (json!(3), json!("rollback")));
    assert_eq!(rolled["weights"], json!({ECHO: 1}));

    let after = sessions(&db, "ideation", 1).await[0];
    ping(&server.state, after).await.unwrap();
    ping(&server.state, during).await.unwrap();
    assert_eq!(session_version(&db, after).await.as_deref(), Some(ECHO), "new sessions get the old table");
    assert_eq!(session_version(&db, during).await.as_deref(), Some(EXTISM), "started sessions keep theirs");

    // One rollback undoes one change: there is nothing before the first routing.
    let again = op.post("/api/agents/ideation/routing/rollback", json!({})).await;
    assert_eq!(again.status(), StatusCode::CONFLICT);
}

#[sqlx::test(migrations = "../migrations")]
async fn hot_swap_under_concurrent_load_fails_no_call(db: PgPool) {
    let a = TestServer::start(db.clone()).await;
    let b = TestServer::start(db.clone()).await;
    let op = two_echo_versions(&a).await;
    route(&op, "ideation", json!({ECHO: 1})).await;
    until_revision(&b.state, 1).await;

    // 16 workers on two processes take turns on their own sessions (a first turn, then more),
    // while the routing flips between the two versions.
    let ids = sessions(&db, "ideation", 16 * 12).await;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let workers: Vec<_> = ids
        .chunks(12)
        .enumerate()
        .map(|(index, chunk)| {
            let state = if index % 2 == 0 { a.state.clone() } else { b.state.clone() };
            let (chunk, stop) = (chunk.to_vec(), stop.clone());
            tokio::spawn(async move {
                let (mut calls, mut failures) = (0, Vec::new());
                for id in &chunk {
                    for _ in 0..3 {
                        match ping(&state, *id).await {
                            Ok(replies) if replies == ["pong"] => {}
                            other => failures.push(format!("{other:?}")),
                        }
                        calls += 1;
                    }
                }
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    match ping(&state, chunk[0]).await {
                        Ok(_) => calls += 1,
                        Err(error) => failures.push(error.to_string()),
                    }
                }
                (calls, failures)
            })
        })
        .collect();
    for flip in 0..10 {
        let weights = if flip % 2 == 0 { json!({EXTISM: 1}) } else { json!({ECHO: 1, EXTISM: 1}) };
        route(&op, "ideation", weights).await;
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut total = 0;
    for worker in workers {
        let (calls, failures) = worker.await.unwrap();
        assert!(failures.is_empty(), "failed calls: {failures:?}");
        total += calls;
    }
    assert!(total >= 16 * 12 * 3, "{total} calls");

    // Every session stayed on the version of its first turn.
    a.state.agents.track().flush().await;
    b.state.agents.track().flush().await;
    let (mixed,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM (SELECT session_id FROM agent_calls GROUP BY session_id HAVING count(DISTINCT agent_version) > 1) s",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(mixed, 0, "a session changed versions mid-way");
    let (recorded,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM agent_calls").fetch_one(&db).await.unwrap();
    assert_eq!(recorded, total as i64, "every call is in a track record");
}

#[sqlx::test(migrations = "../migrations")]
async fn every_call_goes_into_its_versions_track_record(db: PgPool) {
    let server = TestServer::start(db.clone()).await;
    let op = two_echo_versions(&server).await;
    route(&op, "ideation", json!({ECHO: 1})).await;
    let echo_session = sessions(&db, "ideation", 1).await[0];
    for _ in 0..3 {
        ping(&server.state, echo_session).await.unwrap();
    }
    let refused = run_turn(&server.state, "ideation", echo_session, turn("ideation", "refuse")).await;
    assert!(
        matches!(&refused, Err(DispatchError::Agent(error)) if error.code() == "agent_failed"),
        "{refused:?}"
    );
    route(&op, "ideation", json!({EXTISM: 1})).await;
    let extism_session = sessions(&db, "ideation", 1).await[0];
    ping(&server.state, extism_session).await.unwrap();
    server.state.agents.track().flush().await;

    let view: Value = op.get("/api/agents/ideation?calls=10").await.json().await.unwrap();
    assert_eq!(view["routing"]["weights"], json!({EXTISM: 1}));
    let versions = view["versions"].as_array().unwrap();
    let by_version = |name: &str| versions.iter().find(|v| v["version"] == name).cloned().unwrap();
    let echo = by_version(ECHO);
    assert_eq!((echo["weight"].clone(), echo["status"].clone()), (json!(0), json!("testing")));
    assert_eq!(echo["track"]["calls"], 4);
    assert_eq!(echo["track"]["ok"], 3);
    assert_eq!(echo["track"]["errors"], 1);
    assert_eq!(echo["track"]["errors_by_kind"], json!({"agent_failed": 1}));
    assert!(echo["track"]["latency_p50_us"].as_f64().unwrap() > 0.0);
    assert!(echo["track"]["fuel_mean"].as_f64().unwrap() > 0.0, "fuel is measured: {echo}");
    let extism = by_version(EXTISM);
    assert_eq!((extism["weight"].clone(), extism["track"]["calls"].clone()), (json!(1), json!(1)));
    let calls = view["recent_calls"].as_array().unwrap();
    assert_eq!(calls.len(), 5);
    assert_eq!(calls[0]["version"], EXTISM, "newest first");
    assert_eq!(calls[1]["outcome"], "error");
    assert_eq!(calls[1]["error_kind"], "agent_failed");

    let types: Value = op.get("/api/agents").await.json().await.unwrap();
    assert_eq!(types[0]["agent_type"], "ideation");
    assert_eq!(types[0]["routing_revision"], 2);
}

#[sqlx::test(migrations = "../migrations")]
async fn operators_set_an_agent_types_limits_and_turns_get_them(db: PgPool) {
    let server = TestServer::start(db.clone()).await;
    let op = two_echo_versions(&server).await;
    route(&op, "ideation", json!({ECHO: 1})).await;
    let session = sessions(&db, "ideation", 1).await[0];

    let response = op.put("/api/agents/ideation/limits", json!({"fuel": 1})).await;
    assert_eq!(response.status(), StatusCode::OK);
    let fuel_out = run_turn(&server.state, "ideation", session, turn("ideation", "ping")).await;
    assert!(
        matches!(&fuel_out, Err(DispatchError::Agent(e)) if e.code() == "agent_fuel_exhausted"),
        "{fuel_out:?}"
    );

    for bad in [json!({"fuel": 0}), json!({"fuell": 5}), json!({"memory_bytes": 1u64 << 50})] {
        let response = op.put("/api/agents/ideation/limits", bad.clone()).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    }
    assert_eq!(op.put("/api/agents/ideation/limits", json!({})).await.status(), StatusCode::OK);
    assert_eq!(ping(&server.state, session).await.unwrap(), vec!["pong"]);
    let bob = server.signup("bob@example.com").await;
    assert_eq!(bob.put("/api/agents/ideation/limits", json!({})).await.status(), StatusCode::FORBIDDEN);
}

#[sqlx::test(migrations = "../migrations")]
async fn compiled_plugins_no_longer_routed_are_trimmed_and_come_back_when_needed(db: PgPool) {
    let server = TestServer::start(db.clone()).await;
    let op = two_echo_versions(&server).await;
    route(&op, "ideation", json!({ECHO: 1})).await;
    let stuck = sessions(&db, "ideation", 1).await[0];
    assert_eq!(ping(&server.state, stuck).await.unwrap(), vec!["pong"]);
    let routing = server.state.agents.routing();
    let digest_of = |version: &str| routing.table("ideation").routable(version).unwrap().digest.clone();
    let (echo, extism) = (digest_of(ECHO), digest_of(EXTISM));
    // Publishing compiled both; the echo is routed.
    let compiled = server.state.agents.compiled_digests();
    assert!(compiled.contains(&echo) && compiled.contains(&extism), "{compiled:?}");

    route(&op, "ideation", json!({EXTISM: 1})).await;
    until_revision(&server.state, 2).await;
    // Recently used, the echo stays for its sticky sessions...
    server.state.agents.trim_compiled(std::time::Instant::now());
    assert!(server.state.agents.compiled_digests().contains(&echo));
    // ...and goes once idle past the time-to-live; the routed version stays whatever its age.
    let later = std::time::Instant::now() + Duration::from_secs(60 * 60);
    server.state.agents.trim_compiled(later);
    assert_eq!(server.state.agents.compiled_digests(), vec![extism.clone()]);

    // The session stuck to the echo still gets it, compiled again.
    assert_eq!(ping(&server.state, stuck).await.unwrap(), vec!["pong"]);
    assert_eq!(session_version(&db, stuck).await.as_deref(), Some(ECHO));
    assert!(server.state.agents.compiled_digests().contains(&echo));
}
