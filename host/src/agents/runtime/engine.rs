//! The agents' wasmtime engine and its configuration: a pooling instance allocator of its own
//! (agents and apps never compete for slots), copy-on-write memory images, and fuel.
//!
//! ## Fuel, not epochs
//!
//! The apps runtime meters CPU with epoch ticks (cheaper, and an app's budget is a time). Agents
//! are metered with fuel: a plugin's budget then means the same work on every machine and every
//! run, which is what comparing versions in an experiment needs, and a turn that passes in the
//! tests cannot fail in production for being on a slower machine. The guest yields to the executor
//! every `fuel_yield_interval` units, so the wall-clock deadline can stop it and a busy agent does
//! not hold an executor thread. BENCHMARKS.md has the per-call cost.

use std::path::PathBuf;

use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use super::limits::AgentLimits;

/// Sizes of the agents' pooling allocator: how many agent calls may run at once.
#[derive(Clone, Copy, Debug)]
pub struct AgentPoolConfig {
    /// Agent calls in flight (one component instance each).
    pub instances: u32,
    /// The hard cap on one linear memory; [`AgentLimits::memory_bytes`] may not exceed it.
    pub max_memory_bytes: u64,
    /// The guest's wasm stack; deeper recursion traps with a stack overflow.
    pub max_wasm_stack_bytes: usize,
}

impl Default for AgentPoolConfig {
    fn default() -> Self {
        AgentPoolConfig { instances: 256, max_memory_bytes: 512 << 20, max_wasm_stack_bytes: 512 << 10 }
    }
}

/// Everything the agent runtime is configured with.
#[derive(Clone, Debug)]
pub struct AgentRuntimeConfig {
    /// The server's data directory: precompiled artifacts go to `<data_dir>/agents/compiled`.
    pub data_dir: PathBuf,
    /// The pooling allocator's sizes.
    pub pool: AgentPoolConfig,
    /// The largest limits any agent may be given.
    pub ceilings: AgentLimits,
    /// Fuel between two yields to the executor.
    pub fuel_yield_interval: u64,
}

impl AgentRuntimeConfig {
    /// The defaults, with artifacts under `data_dir`.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        AgentRuntimeConfig {
            data_dir: data_dir.into(),
            pool: AgentPoolConfig::default(),
            ceilings: AgentLimits {
                fuel: 500_000_000_000,
                memory_bytes: 512 << 20,
                deadline_ms: 1_800_000,
                max_output_bytes: 64 << 20,
                max_log_bytes: 4 << 20,
            },
            fuel_yield_interval: 10_000_000,
        }
    }

    /// Where precompiled artifacts are cached.
    pub fn compiled_dir(&self) -> PathBuf {
        self.data_dir.join("agents").join("compiled")
    }
}

/// Builds the engine that runs agent components.
pub(crate) fn build_engine(config: &AgentRuntimeConfig) -> anyhow::Result<Engine> {
    let pool = &config.pool;
    let mut pooling = PoolingAllocationConfig::new();
    pooling
        .total_component_instances(pool.instances)
        .total_core_instances(pool.instances.saturating_mul(8))
        .total_memories(pool.instances.saturating_mul(2))
        .total_tables(pool.instances.saturating_mul(4))
        .total_stacks(pool.instances)
        .max_memory_size(usize::try_from(pool.max_memory_bytes).unwrap_or(usize::MAX))
        .table_elements(20_000)
        .max_tables_per_module(4)
        .max_core_instances_per_component(32)
        .max_memories_per_component(4)
        .max_tables_per_component(16);

    let mut wasm = Config::new();
    wasm.wasm_component_model(true)
        .memory_init_cow(true)
        .max_wasm_stack(pool.max_wasm_stack_bytes)
        .consume_fuel(true)
        .generate_address_map(false)
        .native_unwind_info(false)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pooling));
    Ok(Engine::new(&wasm)?)
}
