//! How long a routing change takes to reach the traffic, under load, and whether any call fails
//! meanwhile (BENCHMARKS.md). Two real plugins serve `ideation`: the echo component and the
//! Extism echo, both signed, published and approved through the registry as a third party's
//! would be. Callers keep starting new sessions and taking a `ping` turn through
//! `dispatch::run_turn` (the orchestrator's path: routing pick, stickiness, track record) while an
//! operator moves the whole weight from one version to the other, back and forth.
//!
//! For each change the bench records the time from the change's commit (`change::set` returning)
//! to the first turn served by the new version, and to the moment every turn started afterwards is
//! served by it. Turns started before a change may finish on the old version; that is the
//! contract, not a miss. Any failed turn is counted.
//!
//! Run: `cargo bench -p vibe-host --bench routing_swap` (release profile). It needs PostgreSQL at
//! `DATABASE_URL` (the tests' default), where it creates and then drops a scratch database.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;
use sqlx::PgPool;
use tokio::sync::Mutex;
use uuid::Uuid;
use vibe_host::AppState;
use vibe_host::agents::dispatch::run_turn;
use vibe_host::agents::registry::catalog::{self, Viewer};
use vibe_host::agents::registry::package::Manifest;
use vibe_host::agents::registry::routing::change;
use vibe_host::agents::registry::verify::Submission;
use vibe_host::agents::registry::{signing, store};
use vibe_host::agents::runtime::{Message, Role, TurnInput};
use vibe_host::config::ServeConfig;
use vibe_host::secrets::Secret;

const CALLERS: usize = 8;
const CHANGES: usize = 20;
/// Load runs this long before the first change and between changes.
const SETTLE: Duration = Duration::from_millis(400);
const COMPONENT: &str = "echo@0.1.0";
const EXTISM: &str = "echo-extism@0.1.0";

mod support;

use support::{percentile, run_in_scratch_database};

fn main() -> anyhow::Result<()> {
    run_in_scratch_database(|url| async move { measure(&url).await })
}

/// One served turn, as the callers record it.
struct Served {
    /// When `run_turn` was called (the routing pick happens then).
    started: Instant,
    finished: Instant,
    version: String,
}

async fn measure(url: &str) -> anyhow::Result<()> {
    let db = PgPool::connect(url).await?;
    vibe_host::db::migrate(&db).await?;
    let data_dir = tempfile::tempdir()?;
    let mut config = ServeConfig::for_listen(SocketAddr::from(([127, 0, 0, 1], 0)));
    config.data_dir = data_dir.path().to_owned();
    let state = AppState::new(db.clone(), config, &Secret::from_bytes(vec![7; 32])).await?;

    let (operator, owner, idea) = accounts(&db).await?;
    publish(&state, &db, operator).await?;
    change::set(&db, "ideation", &weights(COMPONENT), None, Some(operator)).await?;
    // The load starts once this process has the first table (it arrives by notification).
    while state.agents.routing().table("ideation").revision.is_none() {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    let served = Arc::new(Mutex::new(Vec::<Served>::new()));
    let failed = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut callers = Vec::new();
    for _ in 0..CALLERS {
        let (state, db, served, failed, stop) =
            (state.clone(), db.clone(), served.clone(), failed.clone(), stop.clone());
        callers.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let session = Uuid::now_v7();
                let created = sqlx::query(
                    "INSERT INTO agent_sessions (id, user_id, idea_id, agent_type) VALUES ($1, $2, $3, 'ideation')",
                )
                .bind(session)
                .bind(owner)
                .bind(idea)
                .execute(&db)
                .await;
                let started = Instant::now();
                let outcome = match created {
                    Ok(_) => run_turn(&state, "ideation", session, ping()).await.map_err(|e| e.to_string()),
                    Err(error) => Err(error.to_string()),
                };
                let finished = Instant::now();
                let version: Option<String> =
                    sqlx::query_scalar("SELECT agent_version FROM agent_sessions WHERE id = $1")
                        .bind(session)
                        .fetch_one(&db)
                        .await
                        .unwrap_or(None);
                match (outcome, version) {
                    (Ok(output), Some(version)) if output.replies == ["pong"] => {
                        served.lock().await.push(Served { started, finished, version })
                    }
                    (outcome, _) => {
                        eprintln!("failed turn: {:?}", outcome.map(|output| output.replies));
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }));
    }

    tokio::time::sleep(SETTLE).await;
    let mut first_new = Vec::new();
    let mut all_new = Vec::new();
    let load_started = Instant::now();
    for change_index in 0..CHANGES {
        let target = if change_index % 2 == 0 { EXTISM } else { COMPONENT };
        change::set(&db, "ideation", &weights(target), None, Some(operator)).await?;
        let committed = Instant::now();
        tokio::time::sleep(SETTLE).await;
        let served = served.lock().await;
        let after: Vec<&Served> = served.iter().filter(|turn| turn.finished >= committed).collect();
        // A turn's version is picked as it starts, so starts are what a change can move.
        let first = after
            .iter()
            .filter(|turn| turn.version == target && turn.started >= committed)
            .map(|turn| turn.started)
            .min()
            .ok_or_else(|| anyhow::anyhow!("no turn reached {target} within {SETTLE:?}"))?;
        // The last turn started on the old version after the change: every turn started later is new.
        let last_old_start = after
            .iter()
            .filter(|turn| turn.version != target)
            .map(|turn| turn.started)
            .max()
            .filter(|started| *started >= committed);
        first_new.push(first - committed);
        all_new.push(last_old_start.map_or(Duration::ZERO, |started| started - committed));
    }
    stop.store(true, Ordering::Relaxed);
    for caller in callers {
        caller.await?;
    }
    let elapsed = load_started.elapsed();
    let turns = served.lock().await.len();
    let failed = failed.load(Ordering::Relaxed);

    println!(
        "{CHANGES} routing changes under load ({CALLERS} concurrent callers, {turns} turns, {:.0} turns/s, {failed} failed)",
        turns as f64 / elapsed.as_secs_f64()
    );
    println!("| measure | p50 | p99 | max |");
    println!("|---|---|---|---|");
    for (name, samples) in [
        ("change committed → first turn starts on the new version", &mut first_new),
        ("change committed → no turn starts on the old version", &mut all_new),
    ] {
        samples.sort();
        println!(
            "| {name} | {:.2} ms | {:.2} ms | {:.2} ms |",
            millis(percentile(samples, 0.50)),
            millis(percentile(samples, 0.99)),
            millis(samples[samples.len() - 1]),
        );
    }
    db.close().await;
    Ok(())
}

/// An operator (who approves), and an owner with an idea for the sessions.
async fn accounts(db: &PgPool) -> anyhow::Result<(Uuid, Uuid, Uuid)> {
    let (operator, owner, idea) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    sqlx::query("INSERT INTO users (id, email, role) VALUES ($1, 'op@example.com', 'operator'), ($2, 'pub@example.com', 'user')")
        .bind(operator)
        .bind(owner)
        .execute(db)
        .await?;
    sqlx::query("INSERT INTO ideas (id, user_id, name) VALUES ($1, $2, 'bench')")
        .bind(idea)
        .bind(owner)
        .execute(db)
        .await?;
    Ok((operator, owner, idea))
}

/// Signs, publishes and approves both echo plugins, published by the owner account.
async fn publish(state: &AppState, db: &PgPool, operator: Uuid) -> anyhow::Result<()> {
    let publisher: Uuid =
        sqlx::query_scalar("SELECT id FROM users WHERE email = 'pub@example.com'").fetch_one(db).await?;
    let key = signing::generate();
    let public_key = key.verifying_key().to_bytes().to_vec();
    signing::register(db, publisher, &public_key, "bench").await.map_err(anyhow_api)?;
    for (path, name, kind) in [
        (vibe_test_components::AGENT_ECHO, "echo", "component"),
        (vibe_test_components::AGENT_EXTISM, "echo-extism", "extism"),
    ] {
        let component = std::fs::read(path)?;
        let manifest: Manifest = serde_json::from_value(json!({
            "name": name, "version": "0.1.0", "agent_types": ["ideation", "support"],
            "wit": "vibe:agent@0.1.0", "kind": kind,
            "capabilities": ["llm", "kv", "events", "pipeline-read", "pipeline-write", "log"],
            "publisher": "pub@example.com"
        }))?;
        let digest = store::digest(&component);
        let signature = signing::sign(&key, &digest, &manifest).to_vec();
        let submission = Submission {
            manifest,
            component,
            digest,
            public_key: Some(public_key.clone()),
            signature: Some(signature),
        };
        state
            .agents
            .publish(Viewer { id: publisher, operator: false }, submission)
            .await
            .map_err(anyhow_api)?;
        catalog::approve(db, Some(operator), name, "0.1.0").await.map_err(anyhow_api)?;
    }
    Ok(())
}

fn anyhow_api(error: vibe_host::error::ApiError) -> anyhow::Error {
    anyhow::anyhow!("{error}")
}

fn weights(version: &str) -> BTreeMap<String, u32> {
    BTreeMap::from([(version.to_owned(), 1)])
}

fn ping() -> TurnInput {
    TurnInput {
        agent_type: "ideation".to_owned(),
        transcript: Vec::new(),
        artifacts: Vec::new(),
        message: Message { role: Role::User, agent_type: None, content: "ping".to_owned() },
    }
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}
