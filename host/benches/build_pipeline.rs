//! Spec → live app: how long a build takes, stage by stage, with the build workspace's dependency
//! cache cold (the first build on a fresh data directory compiles `vibe-app-sdk` and its
//! dependencies for wasm32-wasip2) and warm (every later build compiles only the app's own crate).
//! The alternative in the same run is the cold build itself: what every build would cost without
//! the shared target directory.
//!
//! Each build is a real one through the `build` job: the book club spec (host/schemas/examples)
//! generated, compiled by cargo, tested in the apps runtime on a throw-away schema, deployed. The
//! warm builds are new ideas (a new crate each, as a new user's app is) and one new version of an
//! existing app (a field added).
//!
//! Run: `cargo bench -p vibe-host --bench build_pipeline`. It needs PostgreSQL at `DATABASE_URL`
//! (the tests' default), where it creates and then drops a scratch database, and the
//! `wasm32-wasip2` target with the SDK's dependencies in the cargo registry cache.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;
use vibe_host::AppState;
use vibe_host::agents::runtime::capabilities::pipeline;
use vibe_host::agents::runtime::types::{ArtifactWrite, ContentType};
use vibe_host::config::ServeConfig;
use vibe_host::jobs::{WorkerConfig, Workers};
use vibe_host::ledger::{EntryKind, NewEntry};
use vibe_host::secrets::Secret;

mod support;

use support::{percentile, run_in_scratch_database};

/// Warm builds of new apps measured after the cold one.
const WARM_NEW_APPS: usize = 3;

fn main() -> anyhow::Result<()> {
    run_in_scratch_database(|url| async move { measure(&url).await })
}

async fn measure(url: &str) -> anyhow::Result<()> {
    let db = PgPool::connect(url).await?;
    vibe_host::db::migrate(&db).await?;
    let data_dir = tempfile::tempdir()?;
    let mut config = ServeConfig::for_listen(SocketAddr::from(([127, 0, 0, 1], 0)));
    config.data_dir = data_dir.path().to_owned();
    let state = AppState::new(db.clone(), config, &Secret::from_bytes(vec![7; 32])).await?;
    let mut handlers = vibe_host::conversation::handlers(&state);
    handlers.extend(vibe_host::build::pipeline::handlers(&state));
    let workers = Workers::start(db.clone(), handlers, WorkerConfig::default()).await?;
    let owner = owner(&state).await?;
    let spec: Value = serde_json::from_str(include_str!("../schemas/examples/book-club.json"))?;

    println!("spec -> live app, book club ({} entities)", spec["entities"].as_array().map_or(0, Vec::len));
    println!(
        "{:<28} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "build", "generate", "compile", "test", "deploy", "total", "wall"
    );
    let mut warm = Vec::new();
    for round in 0..=WARM_NEW_APPS {
        let mut spec = spec.clone();
        spec["app"]["slug"] = json!(format!("book-club-{round}"));
        let idea = idea(&state, owner, &spec).await?;
        let label = if round == 0 {
            "new app, cold cache".to_owned()
        } else {
            format!("new app, warm cache #{round}")
        };
        let built = build(&state, owner, idea).await?;
        report(&label, &built);
        if round > 0 {
            warm.push(built.1);
        }
        if round == WARM_NEW_APPS {
            spec["entities"][0]["fields"]
                .as_array_mut()
                .expect("fields")
                .push(json!({"name": "isbn", "label": "ISBN", "type": "string", "max_length": 20}));
            write_spec(&state, owner, idea, &spec).await?;
            report("new version (+1 field), warm", &build(&state, owner, idea).await?);
        }
    }
    warm.sort();
    println!(
        "new app, warm cache: median wall {:.2} s over {} builds",
        percentile(&warm, 0.5).as_secs_f64(),
        warm.len()
    );
    workers.shutdown().await;
    Ok(())
}

/// A user with credits for every build.
async fn owner(state: &AppState) -> anyhow::Result<Uuid> {
    let id = Uuid::now_v7();
    sqlx::query("INSERT INTO users (id, email, name) VALUES ($1, $2, 'Bench')")
        .bind(id)
        .bind(format!("bench-{id}@example.com"))
        .execute(&state.db)
        .await?;
    state
        .ledger
        .post(&NewEntry {
            user_id: id,
            kind: EntryKind::Grant,
            amount: 10_000,
            reason: "bench".to_owned(),
            reference: None,
            idempotency_key: format!("bench-{id}"),
        })
        .await?;
    Ok(id)
}

/// An idea of `owner` with `spec` confirmed.
async fn idea(state: &AppState, owner: Uuid, spec: &Value) -> anyhow::Result<Uuid> {
    let id = Uuid::now_v7();
    sqlx::query("INSERT INTO ideas (id, user_id, name) VALUES ($1, $2, 'Bench idea')")
        .bind(id)
        .bind(owner)
        .execute(&state.db)
        .await?;
    write_spec(state, owner, id, spec).await?;
    Ok(id)
}

async fn write_spec(state: &AppState, owner: Uuid, idea: Uuid, spec: &Value) -> anyhow::Result<()> {
    let artifact = ArtifactWrite {
        name: vibe_host::spec::ARTIFACT.to_owned(),
        content_type: ContentType::Json,
        content: spec.to_string(),
    };
    pipeline::write(&state.db, idea, &artifact, None, None, None)
        .await
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    vibe_host::spec::store::confirm(&state.db, idea, owner, None)
        .await
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    Ok(())
}

/// Starts a build and waits for it; returns the build's row as JSON with its wall time.
async fn build(state: &AppState, owner: Uuid, idea: Uuid) -> anyhow::Result<(Value, Duration)> {
    let started = Instant::now();
    let build_id =
        vibe_host::build::pipeline::start(state, idea, owner).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    loop {
        let (status, stages, error): (String, Value, Option<String>) =
            sqlx::query_as("SELECT status, stages, error FROM builds WHERE id = $1")
                .bind(build_id)
                .fetch_one(&state.db)
                .await?;
        match status.as_str() {
            "succeeded" => return Ok((stages, started.elapsed())),
            "failed" => anyhow::bail!("the build failed: {}", error.unwrap_or_default()),
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

fn report(label: &str, (stages, wall): &(Value, Duration)) {
    let stage = |name: &str| -> f64 {
        stages
            .as_array()
            .and_then(|list| list.iter().find(|stage| stage["stage"] == name))
            .and_then(|stage| stage["duration_ms"].as_f64())
            .unwrap_or(0.0)
            / 1000.0
    };
    let parts = [stage("generating"), stage("compiling"), stage("testing"), stage("deploying")];
    let total: f64 = parts.iter().sum();
    println!(
        "{label:<28} {:>8.2}s {:>8.2}s {:>8.2}s {:>8.2}s {:>8.2}s {:>8.2}s",
        parts[0],
        parts[1],
        parts[2],
        parts[3],
        total,
        wall.as_secs_f64()
    );
}
