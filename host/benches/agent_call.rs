//! Per-call overhead of a trivial agent turn (instantiate, call `handle-turn`, return), side by
//! side: the echo agent as a component (`tests/components/agent-echo`, on the agent SDK) and the
//! same logic as an Extism plugin (`tests/components/agent-extism`). The message is `ping`, which
//! both answer `pong` without a host call, so the figures are the runtime's own cost: a fresh
//! instance, the input lowered in and the output lifted out (JSON both ways for Extism), limits on.
//!
//! Run: `cargo bench -p vibe-host --bench agent_call` (release profile). It needs PostgreSQL at
//! `DATABASE_URL` (the tests' default), where it creates and then drops a scratch database.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::PgPool;
use uuid::Uuid;
use vibe_host::agents::runtime::{
    AgentLimits, AgentRuntime, AgentRuntimeConfig, AgentServices, CallContext, Grants, Message,
    NoLlmProvider, PluginKind, PreparedAgent, Role, TurnInput,
};
use vibe_host::events::EventBus;

const ROUNDS: usize = 10;
const CALLS_PER_ROUND: usize = 1_000;
const WARMUP: usize = 500;

mod support;

use support::{percentile, run_in_scratch_database};

fn main() -> anyhow::Result<()> {
    run_in_scratch_database(|url| async move { measure(&url).await })
}

async fn measure(url: &str) -> anyhow::Result<()> {
    let db = PgPool::connect(url).await?;
    vibe_host::db::migrate(&db).await?;
    let events = EventBus::start(db.clone()).await?;
    let services = Arc::new(AgentServices { db: db.clone(), events, llm: Arc::new(NoLlmProvider) });
    let dir = tempfile::tempdir()?;
    let runtime = AgentRuntime::new(AgentRuntimeConfig::new(dir.path()))?;

    let component = prepare(&runtime, vibe_test_components::AGENT_ECHO, PluginKind::Component).await?;
    let extism = prepare(&runtime, vibe_test_components::AGENT_EXTISM, PluginKind::Extism).await?;
    let context = CallContext {
        limits: AgentLimits::default(),
        grants: Grants::none(),
        idea_id: Uuid::nil(),
        session_id: Uuid::nil(),
        plugin_name: "bench".to_owned(),
        services,
    };

    let mut samples = [Vec::new(), Vec::new()];
    let mut fuel = [0u64, 0u64];
    for (index, agent) in [&component, &extism].into_iter().enumerate() {
        for _ in 0..WARMUP {
            call(&runtime, agent, &context).await?;
        }
        fuel[index] = call(&runtime, agent, &context).await?.1;
    }
    // Interleaved rounds, so both see the same machine load.
    for _ in 0..ROUNDS {
        for (index, agent) in [&component, &extism].into_iter().enumerate() {
            for _ in 0..CALLS_PER_ROUND {
                samples[index].push(call(&runtime, agent, &context).await?.0);
            }
        }
    }

    println!("| plugin | calls | p50 | p99 | mean | calls/s (one caller) | fuel per call |");
    println!("|---|---|---|---|---|---|---|");
    for (index, name) in ["component (wasmtime, pooling, fuel)", "Extism 1.30 plugin"].into_iter().enumerate()
    {
        let calls = &mut samples[index];
        calls.sort();
        let total: Duration = calls.iter().sum();
        let mean = total / u32::try_from(calls.len())?;
        println!(
            "| {name} | {} | {:.1} µs | {:.1} µs | {:.1} µs | {:.0} | {} |",
            calls.len(),
            micros(percentile(calls, 0.50)),
            micros(percentile(calls, 0.99)),
            micros(mean),
            1.0 / mean.as_secs_f64(),
            fuel[index],
        );
    }
    db.close().await;
    Ok(())
}

async fn prepare(runtime: &AgentRuntime, path: &str, kind: PluginKind) -> anyhow::Result<PreparedAgent> {
    let bytes = std::fs::read(path)?;
    let digest = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(&bytes))
    };
    Ok(runtime.prepare(&digest, &bytes, kind).await?)
}

/// One `ping` turn: its duration and the fuel it used.
async fn call(
    runtime: &AgentRuntime,
    agent: &PreparedAgent,
    context: &CallContext,
) -> anyhow::Result<(Duration, u64)> {
    let input = TurnInput {
        agent_type: "ideation".to_owned(),
        transcript: Vec::new(),
        artifacts: Vec::new(),
        message: Message { role: Role::User, agent_type: None, content: "ping".to_owned() },
    };
    let started = Instant::now();
    let (result, stats) = runtime.call_turn(agent, input, context.clone()).await;
    let elapsed = started.elapsed();
    let output = result?;
    anyhow::ensure!(output.replies == ["pong"], "unexpected answer {:?}", output.replies);
    Ok((elapsed, stats.fuel_consumed.unwrap_or(0)))
}

fn micros(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e6
}
