//! The Extism adapter: plugins built with an Extism PDK (core wasm modules, `wasm32-unknown-unknown`)
//! load onto the same agent contract as components.
//!
//! ## The contract, in JSON
//!
//! A plugin exports two functions:
//! - `describe`: no input; returns an `AgentDescription` as JSON
//!   (`{"name","version","agent_types":[..],"capabilities":["kv","pipeline-read",..]}`);
//! - `handle_turn`: a `TurnInput` as JSON; returns a `TurnOutput` as JSON
//!   (`{"replies":[..],"artifacts":[..],"tool_calls":[..],"hand_off":null}`), or fails with the
//!   PDK's error, which the session sees as the agent's refusal.
//!
//! The field names are those of `types.rs` (snake_case, enum values kebab-case). Host functions
//! (namespace `extism:host/user`, see `host_fns.rs`) give the same capabilities as the
//! component imports, JSON in, `{"ok": ..}` or `{"error": {"kind", "message"}}` out, under the
//! same grants. No WASI is linked; Extism's own HTTP and filesystem functions are compiled out.
//!
//! ## Limits
//!
//! Fuel, memory (in 64 KiB pages) and the deadline are part of an Extism compiled plugin, so one
//! is compiled per distinct limits (in practice one per agent type) and kept; Extism's wasmtime
//! cache (under the data directory) spares recompiling across restarts. Every call instantiates
//! a fresh plugin from it. Extism runs calls synchronously, so a call runs on a blocking thread and
//! its host functions wait for the async capabilities on the runtime's handle. Extism's timer
//! interrupts by bumping the compiled plugin's engine epoch, so a call past its deadline can also
//! interrupt another call of the same plugin and limits running at that moment (reported as a
//! deadline hit); components have no such coupling.

mod host_fns;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use extism::{CompiledPlugin, Manifest, Plugin, PluginBuilder, Wasm};

use super::capabilities::CallShared;
use super::errors::{AgentError, AgentLoadError};
use super::limits::AgentLimits;

/// One Extism plugin, ready to be compiled for the limits it is called with.
pub(crate) struct ExtismAgent {
    bytes: Arc<Vec<u8>>,
    cache_config: PathBuf,
    compiled: Mutex<HashMap<AgentLimits, CompiledPlugin>>,
}

/// What a call's host functions reach (Extism's per-call host context).
#[derive(Clone)]
pub(crate) struct ExtismCall {
    pub(crate) call: Arc<CallShared>,
    pub(crate) handle: tokio::runtime::Handle,
    pub(crate) deadline: tokio::time::Instant,
}

/// How an Extism call ended.
pub(crate) struct ExtismRun {
    pub(crate) result: Result<Vec<u8>, AgentError>,
    pub(crate) fuel_consumed: Option<u64>,
}

/// Writes the wasmtime cache configuration Extism reads, for a cache under `agents_dir`.
pub(crate) fn cache_config(agents_dir: &Path) -> anyhow::Result<PathBuf> {
    let dir = agents_dir.join("extism-cache");
    std::fs::create_dir_all(&dir)?;
    let dir = dir.canonicalize()?;
    let config = agents_dir.join("extism-cache.toml");
    let text = format!("[cache]\ndirectory = {}\n", toml_string(&dir.display().to_string()));
    std::fs::write(&config, text)?;
    Ok(config)
}

/// `text` as a TOML basic string.
fn toml_string(text: &str) -> String {
    let mut quoted = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            c if c.is_control() => quoted.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

impl ExtismAgent {
    pub(crate) fn new(bytes: Vec<u8>, cache_config: PathBuf) -> Self {
        ExtismAgent { bytes: Arc::new(bytes), cache_config, compiled: Mutex::new(HashMap::new()) }
    }

    /// The plugin compiled for `limits` (from memory, else compiled now).
    pub(crate) fn compiled(&self, limits: &AgentLimits) -> Result<CompiledPlugin, AgentLoadError> {
        if let Some(compiled) = self.lock().get(limits) {
            return Ok(compiled.clone());
        }
        // 64 KiB pages; at least one, so a tiny limit still lets the plugin start (and fail).
        let pages = u32::try_from(limits.memory_bytes / 65_536).unwrap_or(u32::MAX).max(1);
        let manifest = Manifest::new([Wasm::data(self.bytes.as_slice())])
            .with_memory_max(pages)
            .with_timeout(limits.deadline())
            .disallow_all_hosts();
        let compiled = PluginBuilder::new(manifest)
            .with_wasi(false)
            .with_functions(host_fns::functions())
            .with_fuel_limit(limits.fuel)
            .with_cache_config(&self.cache_config)
            .compile()
            .map_err(|error| AgentLoadError::Invalid(format!("{error:#}")))?;
        self.lock().insert(*limits, compiled.clone());
        Ok(compiled)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<AgentLimits, CompiledPlugin>> {
        // Inserts only, so a poisoned map is still a valid map.
        self.compiled.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Runs export `function` with `input` in a fresh instance of `compiled`. Blocking: call it on a
/// blocking thread.
pub(crate) fn run(compiled: &CompiledPlugin, function: &str, input: &[u8], context: ExtismCall) -> ExtismRun {
    let limits = context.call.limits;
    let mut plugin = match Plugin::new_from_compiled(compiled) {
        Ok(plugin) => plugin,
        Err(error) => {
            return ExtismRun { result: Err(classify(&error, &limits)), fuel_consumed: None };
        }
    };
    if !plugin.function_exists(function) {
        let error = AgentError::InvalidOutput(format!("the plugin does not export `{function}`"));
        return ExtismRun { result: Err(error), fuel_consumed: None };
    }
    let result = plugin
        .call_with_host_context::<&[u8], Vec<u8>, ExtismCall>(function, input, context)
        .map_err(|error| classify(&error, &limits));
    ExtismRun { result, fuel_consumed: plugin.fuel_consumed() }
}

/// What an Extism error stands for.
fn classify(error: &extism::Error, limits: &AgentLimits) -> AgentError {
    let out_of_fuel = error.chain().any(|cause| {
        matches!(cause.downcast_ref::<wasmtime::Trap>(), Some(wasmtime::Trap::OutOfFuel))
            || cause.to_string() == "plugin ran out of fuel"
    });
    if out_of_fuel {
        return AgentError::FuelExhausted { fuel: limits.fuel };
    }
    if error.chain().any(|cause| cause.to_string() == "oom") {
        return AgentError::MemoryLimit { limit_bytes: limits.memory_bytes };
    }
    match error.chain().find_map(|cause| cause.downcast_ref::<wasmtime::Trap>()) {
        Some(wasmtime::Trap::Interrupt) => AgentError::Deadline { deadline_ms: limits.deadline_ms },
        Some(wasmtime::Trap::StackOverflow) => AgentError::StackOverflow,
        Some(_) => {
            AgentError::Trap(super::capabilities::log::truncate(&format!("{error:#}"), 2_000).to_owned())
        }
        // No trap: the plugin returned an error of its own (the PDK's `Err`).
        None => AgentError::Failed(super::capabilities::log::truncate(&format!("{error}"), 2_000).to_owned()),
    }
}

/// `Instant` of a deadline `limits` from now.
pub(crate) fn deadline_from(started: Instant, limits: &AgentLimits) -> tokio::time::Instant {
    tokio::time::Instant::from_std(started + limits.deadline())
}
