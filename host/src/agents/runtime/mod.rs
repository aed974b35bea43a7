//! The agent runtime: runs agent plugins, WASM components of the `vibe:agent@0.1.0` world
//! (wit/agent@0.1.0) or Extism plugins speaking the same contract in JSON, each turn in a fresh
//! instance with fuel, memory, deadline and output limits and only the capabilities granted.
//!
//! [`AgentRuntime::prepare`] turns a plugin's bytes into a [`PreparedAgent`]: compiled once per
//! digest (precompiled artifacts cached under the data directory, `cache.rs`), checked to be an
//! agent of our WIT version (a reason otherwise), and described (`describe`, run with nothing
//! granted). [`AgentRuntime::call_turn`] runs one turn: a trap or a limit hit becomes an
//! [`AgentError`], never a host crash, and [`CallStats`] say what the turn cost.
//!
//! Where things are: `engine.rs` (the wasmtime engine: pooling allocator, fuel), `bindings.rs`
//! (the one `bindgen!`), `component.rs` (running components), `extism/` (the Extism adapter),
//! `capabilities/` (llm, kv, events, pipeline, log, outbound HTTP: what a plugin may touch),
//! `limits.rs`, `types.rs` (the contract as serde types), `errors.rs`.

mod bindings;
mod cache;
pub mod capabilities;
mod component;
mod engine;
pub mod errors;
mod extism;
pub mod limits;
mod state;
pub mod types;

use std::sync::Arc;
use std::sync::atomic::AtomicU32;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use uuid::Uuid;
use wasmtime::Engine;
use wasmtime::component::Linker;

pub use capabilities::llm::{
    LlmCallInfo, LlmError, LlmGateway, LlmMessage, LlmRequest, LlmResponse, LlmRole, LlmStream, LlmUsage,
    NoLlmProvider,
};
pub use capabilities::llm_tools::{
    LlmTool, LlmToolCall, LlmToolMessage, LlmToolRequest, LlmToolResponse, LlmToolResult,
};
pub use capabilities::log::{LogLevel, LogSource, PluginLogLine};
pub use capabilities::pipeline::ArtifactInfo;
pub use capabilities::{AgentServices, CapError, Grants};
pub use engine::{AgentPoolConfig, AgentRuntimeConfig};
pub use errors::{AgentError, AgentLoadError};
pub use limits::AgentLimits;
pub use types::{
    AgentDescription, Artifact, ArtifactWrite, Capability, ContentType, HandOff, Message, Role, ToolCall,
    TurnInput, TurnOutput, WIT_VERSION,
};

use bindings::AgentPre;
use capabilities::CallShared;
use capabilities::log::LogCollector;
use state::CallState;

/// How a plugin is built.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum PluginKind {
    /// A WASM component of the `vibe:agent` world (`cargo build --target wasm32-wasip2`).
    Component,
    /// A core module built with an Extism PDK.
    Extism,
}

/// Runs agent plugins. One per process; cheap to clone.
#[derive(Clone)]
pub struct AgentRuntime {
    inner: Arc<RuntimeInner>,
}

struct RuntimeInner {
    engine: Engine,
    linker: Linker<CallState>,
    cache: cache::ComponentCache,
    extism_cache_config: std::path::PathBuf,
    config: AgentRuntimeConfig,
}

/// A plugin ready to take turns. Cheap to clone.
#[derive(Clone)]
pub struct PreparedAgent {
    /// What the plugin says it is.
    pub description: AgentDescription,
    inner: Arc<PreparedInner>,
}

struct PreparedInner {
    digest: String,
    kind: PluginKind,
    code: Code,
}

enum Code {
    Component(AgentPre<CallState>),
    Extism(extism::ExtismAgent),
}

impl PreparedAgent {
    /// The sha256 of the plugin's bytes (lowercase hex).
    pub fn digest(&self) -> &str {
        &self.inner.digest
    }

    /// How the plugin is built.
    pub fn kind(&self) -> PluginKind {
        self.inner.kind
    }
}

impl std::fmt::Debug for PreparedAgent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PreparedAgent")
            .field("description", &self.description)
            .field("digest", &self.inner.digest)
            .field("kind", &self.inner.kind)
            .finish()
    }
}

/// Who a turn is for and what it may do.
#[derive(Clone, Debug)]
pub struct CallContext {
    /// The turn's limits (clamped to the runtime's ceilings).
    pub limits: AgentLimits,
    /// The capabilities and outbound hosts approved for this plugin version.
    pub grants: Grants,
    /// The idea the session is about (kv and artifacts are the idea's).
    pub idea_id: Uuid,
    /// The session (events and billing).
    pub session_id: Uuid,
    /// The plugin's name (its kv store is keyed by it).
    pub plugin_name: String,
    /// The platform services capabilities reach.
    pub services: Arc<AgentServices>,
}

/// What a call cost, whether or not it succeeded.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CallStats {
    /// From the call to its answer, instantiation included.
    pub duration: Duration,
    /// Fuel the plugin used (`None` if it could not be measured).
    pub fuel_consumed: Option<u64>,
    /// The most linear memory the plugin held (components only).
    pub memory_peak_bytes: Option<u64>,
    /// The plugin's log lines of the call (its log, stdout, stderr, refusals).
    pub logs: Vec<PluginLogLine>,
}

/// Limits for `describe` at load: it only returns a record.
const DESCRIBE_LIMITS: AgentLimits = AgentLimits {
    fuel: 1_000_000_000,
    memory_bytes: 64 << 20,
    deadline_ms: 10_000,
    max_output_bytes: 64 << 10,
    max_log_bytes: 16 << 10,
};

impl AgentRuntime {
    /// Builds the engine and opens the artifact caches under `config.data_dir`.
    pub fn new(config: AgentRuntimeConfig) -> anyhow::Result<Self> {
        let engine = engine::build_engine(&config)?;
        let linker = bindings::linker(&engine)?;
        let cache = cache::ComponentCache::open(&config.compiled_dir(), &engine)?;
        let extism_cache_config = extism::cache_config(&config.data_dir.join("agents"))?;
        let mut config = config;
        config.ceilings.memory_bytes = config.ceilings.memory_bytes.min(config.pool.max_memory_bytes);
        Ok(AgentRuntime {
            inner: Arc::new(RuntimeInner { engine, linker, cache, extism_cache_config, config }),
        })
    }

    /// The largest limits a call may have; larger ones are lowered to these.
    pub fn ceilings(&self) -> &AgentLimits {
        &self.inner.config.ceilings
    }

    /// Compiles `bytes` (or loads the artifact cached for `digest`, which must be their sha256),
    /// checks that it is an agent of this host's WIT version and calls `describe`.
    pub async fn prepare(
        &self,
        digest: &str,
        bytes: &[u8],
        kind: PluginKind,
    ) -> Result<PreparedAgent, AgentLoadError> {
        let digest = cache::verify_digest(digest, bytes)?;
        check_header(bytes, kind)?;
        let inner = self.inner.clone();
        let owned = bytes.to_vec();
        let code_digest = digest.clone();
        let code = tokio::task::spawn_blocking(move || -> Result<Code, AgentLoadError> {
            match kind {
                PluginKind::Component => {
                    let component = inner.cache.get_or_compile(&inner.engine, &code_digest, &owned)?;
                    component::pre_instantiate(&inner.engine, &inner.linker, &component).map(Code::Component)
                }
                PluginKind::Extism => {
                    let agent = extism::ExtismAgent::new(owned, inner.extism_cache_config.clone());
                    agent.compiled(&DESCRIBE_LIMITS)?;
                    Ok(Code::Extism(agent))
                }
            }
        })
        .await
        .map_err(|error| AgentLoadError::Interrupted(error.to_string()))??;
        let prepared = PreparedInner { digest, kind, code };
        let description = self.describe(&prepared).await?;
        Ok(PreparedAgent { description, inner: Arc::new(prepared) })
    }

    async fn describe(&self, prepared: &PreparedInner) -> Result<AgentDescription, AgentLoadError> {
        let call = Arc::new(CallShared {
            idea_id: Uuid::nil(),
            session_id: Uuid::nil(),
            plugin_name: String::new(),
            plugin_version: String::new(),
            grants: Grants::none(),
            services: None,
            limits: DESCRIBE_LIMITS,
            events_emitted: AtomicU32::new(0),
            logs: LogCollector::new(DESCRIBE_LIMITS.max_log_bytes),
        });
        let description = match &prepared.code {
            Code::Component(pre) => {
                let run = component::run(
                    &self.inner.engine,
                    pre,
                    call,
                    component::Op::Describe,
                    self.inner.config.fuel_yield_interval,
                )
                .await;
                match run.result {
                    Ok(component::Answer::Description(description)) => description.into(),
                    Ok(component::Answer::Turn(_)) => {
                        return Err(AgentLoadError::Describe("unexpected answer".to_owned()));
                    }
                    Err(error) => return Err(AgentLoadError::Describe(error.to_string())),
                }
            }
            Code::Extism(agent) => {
                let bytes = self
                    .run_extism(agent, "describe", Vec::new(), call)
                    .await
                    .0
                    .map_err(|error| AgentLoadError::Describe(error.to_string()))?;
                serde_json::from_slice(&bytes).map_err(|error| {
                    AgentLoadError::Describe(format!("describe did not answer an agent description: {error}"))
                })?
            }
        };
        check_description(&description)?;
        Ok(description)
    }

    /// Takes one turn of `agent` in a fresh instance, under `context`'s limits and grants. Never
    /// panics: whatever goes wrong is the `AgentError`, logged with the plugin's version.
    pub async fn call_turn(
        &self,
        agent: &PreparedAgent,
        input: TurnInput,
        context: CallContext,
    ) -> (Result<TurnOutput, AgentError>, CallStats) {
        let started = Instant::now();
        let limits = clamp(context.limits, &self.inner.config.ceilings);
        let call = Arc::new(CallShared {
            idea_id: context.idea_id,
            session_id: context.session_id,
            plugin_name: context.plugin_name,
            plugin_version: agent.description.version.clone(),
            grants: context.grants,
            services: Some(context.services),
            limits,
            events_emitted: AtomicU32::new(0),
            logs: LogCollector::new(limits.max_log_bytes),
        });
        let (result, fuel_consumed, memory_peak_bytes) = match &agent.inner.code {
            Code::Component(pre) => {
                let op = component::Op::Turn(Box::new(input.into()));
                let run = component::run(
                    &self.inner.engine,
                    pre,
                    call.clone(),
                    op,
                    self.inner.config.fuel_yield_interval,
                )
                .await;
                let result = match run.result {
                    Ok(component::Answer::Turn(Ok(output))) => Ok(TurnOutput::from(output)),
                    Ok(component::Answer::Turn(Err(reason))) => {
                        Err(AgentError::Failed(capabilities::log::truncate(&reason, 2_000).to_owned()))
                    }
                    Ok(component::Answer::Description(_)) => {
                        Err(AgentError::Internal("unexpected answer".to_owned()))
                    }
                    Err(error) => Err(error),
                };
                (result, run.fuel_consumed, run.memory_peak)
            }
            Code::Extism(extism_agent) => match serde_json::to_vec(&input) {
                Err(error) => {
                    (Err(AgentError::Internal(format!("cannot encode the turn: {error}"))), None, None)
                }
                Ok(json) => {
                    let (bytes, fuel) =
                        self.run_extism(extism_agent, "handle_turn", json, call.clone()).await;
                    let result = bytes.and_then(|bytes| {
                        serde_json::from_slice::<TurnOutput>(&bytes).map_err(|error| {
                            AgentError::InvalidOutput(format!(
                                "handle_turn did not answer a turn output: {error}"
                            ))
                        })
                    });
                    (result, fuel, None)
                }
            },
        };
        let result = result.and_then(|output| {
            let size_bytes = output.size_bytes();
            if size_bytes > limits.max_output_bytes {
                Err(AgentError::OutputTooLarge { size_bytes, limit_bytes: limits.max_output_bytes })
            } else {
                Ok(output)
            }
        });
        if let Err(error) = &result {
            tracing::info!(
                plugin = %call.plugin_name,
                version = %call.plugin_version,
                digest = %agent.inner.digest,
                session_id = %call.session_id,
                code = error.code(),
                error = %error,
                "agent turn failed"
            );
        }
        let stats = CallStats {
            duration: started.elapsed(),
            fuel_consumed,
            memory_peak_bytes,
            logs: call.logs.take(),
        };
        (result, stats)
    }

    /// Runs an Extism export on a blocking thread; returns its output and the fuel it used.
    async fn run_extism(
        &self,
        agent: &extism::ExtismAgent,
        function: &'static str,
        input: Vec<u8>,
        call: Arc<CallShared>,
    ) -> (Result<Vec<u8>, AgentError>, Option<u64>) {
        let limits = call.limits;
        let compiled = match agent.compiled(&limits) {
            Ok(compiled) => compiled,
            Err(error) => return (Err(AgentError::Internal(error.to_string())), None),
        };
        let context = extism::ExtismCall {
            call,
            handle: tokio::runtime::Handle::current(),
            deadline: extism::deadline_from(Instant::now(), &limits),
        };
        match tokio::task::spawn_blocking(move || extism::run(&compiled, function, &input, context)).await {
            Ok(run) => (run.result, run.fuel_consumed),
            Err(error) => (Err(AgentError::Internal(format!("the agent's thread failed: {error}"))), None),
        }
    }
}

/// `limits` lowered to `ceilings` where above them, and zero fields raised to one.
fn clamp(limits: AgentLimits, ceilings: &AgentLimits) -> AgentLimits {
    AgentLimits {
        fuel: limits.fuel.clamp(1, ceilings.fuel),
        memory_bytes: limits.memory_bytes.clamp(1, ceilings.memory_bytes),
        deadline_ms: limits.deadline_ms.clamp(1, ceilings.deadline_ms),
        max_output_bytes: limits.max_output_bytes.clamp(1, ceilings.max_output_bytes),
        max_log_bytes: limits.max_log_bytes.clamp(1, ceilings.max_log_bytes),
    }
}

/// Refuses bytes of the wrong kind before compiling, with a reason the publisher can act on.
fn check_header(bytes: &[u8], kind: PluginKind) -> Result<(), AgentLoadError> {
    if bytes.len() < 8 || &bytes[..4] != b"\0asm" {
        return Err(AgentLoadError::NotWasm);
    }
    let core_module = bytes[4..8] == [1, 0, 0, 0];
    match (kind, core_module) {
        (PluginKind::Component, true) => Err(AgentLoadError::WrongKind(
            "a core WebAssembly module, not a component: build for wasm32-wasip2, or publish it as an Extism plugin".to_owned(),
        )),
        (PluginKind::Extism, false) => Err(AgentLoadError::WrongKind(
            "a component, not an Extism module: publish it as a component".to_owned(),
        )),
        _ => Ok(()),
    }
}

/// Refuses a description without a name, version or agent type.
fn check_description(description: &AgentDescription) -> Result<(), AgentLoadError> {
    if description.name.trim().is_empty() || description.version.trim().is_empty() {
        return Err(AgentLoadError::Describe("the description has no name or no version".to_owned()));
    }
    if description.agent_types.is_empty() {
        return Err(AgentLoadError::Describe("the description names no agent type".to_owned()));
    }
    Ok(())
}
