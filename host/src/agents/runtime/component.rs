//! Agent components: checking that a component is an agent of our WIT version, pre-instantiating
//! it, and running one export call in a fresh store under the call's limits.

use std::sync::Arc;

use wasmtime::component::{Component, Linker};
use wasmtime::{Engine, PoolConcurrencyLimitError, Store, Trap};

use super::bindings::{AgentPre, PLUGIN_INTERFACE, plugin};
use super::capabilities::CallShared;
use super::capabilities::log::truncate;
use super::errors::{AgentError, AgentLoadError};
use super::state::CallState;
use super::types::WIT_VERSION;

/// Refuses a component that does not export `vibe:agent/plugin@0.1.0` (with the reason), then one
/// whose imports are not all linked, and pre-instantiates the rest.
pub(crate) fn pre_instantiate(
    engine: &Engine,
    linker: &Linker<CallState>,
    component: &Component,
) -> Result<AgentPre<CallState>, AgentLoadError> {
    let exports: Vec<String> =
        component.component_type().exports(engine).map(|(name, _)| name.to_owned()).collect();
    let wanted = format!("{PLUGIN_INTERFACE}@{WIT_VERSION}");
    if !exports.contains(&wanted) {
        if let Some(other) = exports.iter().find(|name| name.starts_with(PLUGIN_INTERFACE)) {
            return Err(AgentLoadError::WrongWitVersion { found: other.clone(), expected: WIT_VERSION });
        }
        if exports.iter().any(|name| name.starts_with("wasi:http/incoming-handler")) {
            return Err(AgentLoadError::NotAnAgent(format!(
                "it exports wasi:http/incoming-handler (an app), not {wanted}"
            )));
        }
        let listed = if exports.is_empty() { "nothing".to_owned() } else { exports.join(", ") };
        return Err(AgentLoadError::NotAnAgent(format!("it exports {listed}, not {wanted}")));
    }
    let pre = linker
        .instantiate_pre(component)
        .map_err(|error| AgentLoadError::UnsupportedImport(format!("{error:#}")))?;
    AgentPre::new(pre).map_err(|error| AgentLoadError::NotAnAgent(format!("{error:#}")))
}

/// One export call.
pub(crate) enum Op {
    Describe,
    Turn(Box<plugin::TurnInput>),
}

/// What an export call answered.
pub(crate) enum Answer {
    Description(plugin::Description),
    Turn(Result<plugin::TurnOutput, String>),
}

/// How a call ended, with what its store recorded.
pub(crate) struct Run {
    pub(crate) result: Result<Answer, AgentError>,
    pub(crate) fuel_consumed: Option<u64>,
    pub(crate) memory_peak: Option<u64>,
}

/// The guest's task, aborted if the caller stops waiting for it.
struct GuestTask(tokio::task::JoinHandle<Run>);

impl Drop for GuestTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Runs `op` in a fresh instance of `pre`, under `call`'s limits.
pub(crate) async fn run(
    engine: &Engine,
    pre: &AgentPre<CallState>,
    call: Arc<CallShared>,
    op: Op,
    yield_interval: u64,
) -> Run {
    let limits = call.limits;
    let mut store = Store::new(engine, CallState::new(call));
    store.limiter(|state| &mut state.limiter);
    // Both only fail when fuel is not enabled, which the engine guarantees.
    let _ = store.set_fuel(limits.fuel);
    let _ = store.fuel_async_yield_interval(Some(yield_interval));
    let pre = pre.clone();
    let mut task = GuestTask(tokio::spawn(async move {
        let work = async {
            let agent = pre.instantiate_async(&mut store).await?;
            let exports = agent.vibe_agent_plugin();
            match op {
                Op::Describe => exports.call_describe(&mut store).await.map(Answer::Description),
                Op::Turn(input) => exports.call_handle_turn(&mut store, &input).await.map(Answer::Turn),
            }
        };
        let ended = tokio::time::timeout(limits.deadline(), work).await;
        let limiter = &store.data().limiter;
        let (memory_refused, memory_peak) = (limiter.memory_refused, limiter.memory_peak);
        let fuel_consumed = store.get_fuel().ok().map(|left| limits.fuel.saturating_sub(left));
        let result = match ended {
            Err(_) => Err(AgentError::Deadline { deadline_ms: limits.deadline_ms }),
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(error)) => Err(classify(&error, memory_refused, &limits)),
        };
        Run { result, fuel_consumed, memory_peak: u64::try_from(memory_peak).ok() }
    }));
    match (&mut task.0).await {
        Ok(run) => run,
        Err(error) => Run {
            result: Err(AgentError::Internal(format!("the agent's task failed: {error}"))),
            fuel_consumed: None,
            memory_peak: None,
        },
    }
}

/// What the error that ended a call stands for.
fn classify(
    error: &wasmtime::Error,
    memory_refused: bool,
    limits: &super::limits::AgentLimits,
) -> AgentError {
    match error.downcast_ref::<Trap>() {
        Some(Trap::OutOfFuel) => return AgentError::FuelExhausted { fuel: limits.fuel },
        Some(Trap::StackOverflow) => return AgentError::StackOverflow,
        _ => {}
    }
    if memory_refused {
        return AgentError::MemoryLimit { limit_bytes: limits.memory_bytes };
    }
    if error.downcast_ref::<PoolConcurrencyLimitError>().is_some() {
        return AgentError::Saturated;
    }
    AgentError::Trap(truncate(&format!("{error:#}"), 2_000).to_owned())
}
