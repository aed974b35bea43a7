//! Hostile plugins: every limit hit and trap is a clean `AgentError` with its reason, and the
//! next call of the same plugin works.

use sqlx::PgPool;
use vibe_host::agents::runtime::{AgentError, AgentLimits, Grants, PluginKind, PreparedAgent};
use vibe_test_components::{AGENT_ECHO, AGENT_EXTISM, AGENT_HOSTILE};

use super::{Harness, all_but_http, tight_limits, turn};

/// `ping` still answers `pong` in a fresh instance.
async fn still_answers(harness: &Harness, agent: &PreparedAgent, name: &str) {
    let context = harness.context(name, Grants::none(), tight_limits());
    let output = harness.runtime.call_turn(agent, turn("ping"), context).await.0.unwrap();
    assert_eq!(output.replies, ["pong"]);
}

async fn fails(
    harness: &Harness,
    agent: &PreparedAgent,
    message: &str,
    limits: AgentLimits,
) -> (AgentError, vibe_host::agents::runtime::CallStats) {
    let context = harness.context("hostile", Grants::none(), limits);
    let (result, stats) = harness.runtime.call_turn(agent, turn(message), context).await;
    (result.expect_err(message), stats)
}

#[sqlx::test(migrations = "../migrations")]
async fn hostile_components_are_stopped_cleanly(db: PgPool) {
    let harness = Harness::start(db).await;
    let agent = harness.prepare(AGENT_HOSTILE, PluginKind::Component).await;
    let limits = tight_limits();

    let (error, stats) = fails(&harness, &agent, "spin", limits).await;
    assert_eq!(error, AgentError::FuelExhausted { fuel: limits.fuel });
    assert_eq!(error.code(), "agent_fuel_exhausted");
    assert_eq!(stats.fuel_consumed, Some(limits.fuel));
    still_answers(&harness, &agent, "hostile").await;

    let (error, stats) = fails(&harness, &agent, "grow", limits).await;
    assert_eq!(error, AgentError::MemoryLimit { limit_bytes: limits.memory_bytes });
    assert!(stats.memory_peak_bytes.is_some_and(|peak| peak <= limits.memory_bytes));
    still_answers(&harness, &agent, "hostile").await;

    let (error, stats) = fails(&harness, &agent, "trap", limits).await;
    assert!(matches!(&error, AgentError::Trap(reason) if reason.contains("unreachable")), "{error:?}");
    assert!(
        stats.logs.iter().any(|line| line.message.contains("hostile agent trapped mid-turn")),
        "the panic message reaches the plugin's log: {:?}",
        stats.logs
    );
    assert_eq!(error.public_message(), "the agent failed while answering");
    still_answers(&harness, &agent, "hostile").await;

    let (error, _) = fails(&harness, &agent, "huge", limits).await;
    assert!(
        matches!(error, AgentError::OutputTooLarge { size_bytes, limit_bytes } if size_bytes == 8 << 20 && limit_bytes == 1 << 20),
        "{error:?}"
    );
    still_answers(&harness, &agent, "hostile").await;

    // Plenty of fuel, little time: the deadline stops it.
    let patient = AgentLimits { fuel: 400_000_000_000, deadline_ms: 300, ..limits };
    let started = std::time::Instant::now();
    let (error, _) = fails(&harness, &agent, "spin", patient).await;
    assert_eq!(error, AgentError::Deadline { deadline_ms: 300 });
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "stopped at its deadline: {:?}",
        started.elapsed()
    );
    still_answers(&harness, &agent, "hostile").await;

    // A plugin's own refusal is its failure, with its reason.
    let echo = harness.prepare(AGENT_ECHO, PluginKind::Component).await;
    let context = harness.context("echo", all_but_http(), limits);
    let error = harness.runtime.call_turn(&echo, turn("refuse"), context).await.0.unwrap_err();
    assert_eq!(error, AgentError::Failed("I will not".to_owned()));
}

#[sqlx::test(migrations = "../migrations")]
async fn hostile_extism_plugins_are_stopped_cleanly(db: PgPool) {
    let harness = Harness::start(db).await;
    let agent = harness.prepare(AGENT_EXTISM, PluginKind::Extism).await;
    let limits = tight_limits();
    let (error, _) = fails(&harness, &agent, "spin", limits).await;
    assert_eq!(error, AgentError::FuelExhausted { fuel: limits.fuel });
    still_answers(&harness, &agent, "echo-extism").await;

    // Its output is held to the same limit.
    let small = AgentLimits { max_output_bytes: 3, ..limits };
    let context = harness.context("echo-extism", Grants::none(), small);
    let error = harness.runtime.call_turn(&agent, turn("ping"), context).await.0.unwrap_err();
    assert_eq!(error, AgentError::OutputTooLarge { size_bytes: 4, limit_bytes: 3 });
    still_answers(&harness, &agent, "echo-extism").await;
}
