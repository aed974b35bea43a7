//! The one wasmtime [`Engine`] every app runs on, and how it is configured: the pooling instance
//! allocator (slots are taken only by requests in flight: an idle app holds a compiled component
//! and its pre-instantiation, no slot), copy-on-write memory images, and the CPU meter.
//!
//! ## Epoch interruption, not fuel
//!
//! The CPU budget is metered with epoch interruption: a ticker thread advances the engine's epoch
//! every `tick` (1 ms by default); each time a running guest crosses a tick it yields to the
//! executor and its store counts one tick; past its budget the guest is interrupted. Ticks are
//! counted only while guest code runs (time spent awaiting host calls, a database query say, does
//! not count), so the budget is CPU time at tick granularity; the wall-clock deadline is separate.
//!
//! Fuel counts instructions instead, deterministically, but its budget is not a time: the fuel a
//! millisecond burns depends on the code and the machine (≈ 17 million per ms on our test loop
//! here), so a per-app "milliseconds of CPU" limit would need calibrating. Measured side by side
//! (`cargo bench -p vibe-apps-runtime --bench cpu_meter`, BENCHMARKS.md, 2 shared cores): on
//! hello-world requests the two are equal within noise (≈ 57-65 µs of CPU per request each); on a
//! CPU-heavy request fuel costs ≈ 5% more CPU (80.1-80.6 ms against 76.6 ms). Epochs are the
//! cheaper and simpler choice; [`CpuMeter::Fuel`] stays available for deterministic budgets.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use crate::error::RuntimeError;
use crate::limits::Limits;

/// How a request's CPU budget ([`Limits::cpu_ms`]) is metered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CpuMeter {
    /// Epoch interruption: CPU time in ticks of `tick` (the default, see the module docs).
    Epoch {
        /// How often the epoch advances.
        tick: Duration,
    },
    /// Fuel: `fuel_per_ms` units of fuel (roughly wasm instructions) per millisecond of budget;
    /// the guest yields to the executor every `yield_interval` units.
    Fuel {
        /// Fuel granted per millisecond of [`Limits::cpu_ms`].
        fuel_per_ms: u64,
        /// Fuel between two yields.
        yield_interval: u64,
    },
}

impl Default for CpuMeter {
    fn default() -> Self {
        CpuMeter::Epoch { tick: Duration::from_millis(1) }
    }
}

/// Sizes of the pooling allocator: how many instances may be in flight at once, across all apps.
/// Each slot reserves address space, not memory; memory is committed only while a request runs.
#[derive(Clone, Copy, Debug)]
pub struct PoolConfig {
    /// Component instances in flight (one per running request).
    pub component_instances: u32,
    /// Core instances in flight (a Rust component has a few per instance).
    pub core_instances: u32,
    /// Linear memories in flight.
    pub memories: u32,
    /// Tables in flight.
    pub tables: u32,
    /// Fiber stacks in flight (one per running request).
    pub stacks: u32,
    /// The hard cap on one linear memory; [`Limits::memory_bytes`] may not exceed it.
    pub max_memory_bytes: u64,
    /// Elements of one table.
    pub table_elements: u32,
    /// The guest's wasm stack; deeper recursion traps with a stack overflow.
    pub max_wasm_stack_bytes: usize,
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig {
            component_instances: 1_000,
            core_instances: 8_000,
            memories: 1_000,
            tables: 4_000,
            stacks: 1_000,
            max_memory_bytes: 512 << 20,
            table_elements: 20_000,
            max_wasm_stack_bytes: 512 << 10,
        }
    }
}

/// Everything the runtime is configured with.
#[derive(Clone, Debug)]
pub struct RuntimeConfig {
    /// Where precompiled artifacts are cached (created if missing).
    pub cache_dir: std::path::PathBuf,
    /// How the CPU budget is metered.
    pub cpu_meter: CpuMeter,
    /// The pooling allocator's sizes.
    pub pool: PoolConfig,
    /// The largest limits an app may ask for in its `hosting_config`.
    pub ceilings: Limits,
}

impl RuntimeConfig {
    /// The defaults, caching artifacts in `cache_dir`.
    pub fn new(cache_dir: impl Into<std::path::PathBuf>) -> Self {
        RuntimeConfig {
            cache_dir: cache_dir.into(),
            cpu_meter: CpuMeter::default(),
            pool: PoolConfig::default(),
            ceilings: Limits {
                cpu_ms: 30_000,
                deadline_ms: 300_000,
                memory_bytes: 512 << 20,
                max_concurrent_requests: 1_000,
                max_request_body_bytes: 100 << 20,
                max_response_body_bytes: 100 << 20,
                max_log_bytes_per_request: 1 << 20,
            },
        }
    }
}

/// Builds the engine for `config`.
pub(crate) fn build_engine(config: &RuntimeConfig) -> Result<Engine, RuntimeError> {
    let pool = &config.pool;
    let mut pooling = PoolingAllocationConfig::new();
    pooling
        .total_component_instances(pool.component_instances)
        .total_core_instances(pool.core_instances)
        .total_memories(pool.memories)
        .total_tables(pool.tables)
        .total_stacks(pool.stacks)
        .max_memory_size(usize::try_from(pool.max_memory_bytes).unwrap_or(usize::MAX))
        .table_elements(usize::try_from(pool.table_elements).unwrap_or(usize::MAX))
        // A component links its core modules with shim modules holding one table each.
        .max_tables_per_module(4)
        .max_core_instances_per_component(32)
        .max_memories_per_component(4)
        .max_tables_per_component(16);

    let mut wasm = Config::new();
    wasm.wasm_component_model(true)
        .memory_init_cow(true)
        .max_wasm_stack(pool.max_wasm_stack_bytes)
        // Neither is needed to classify traps or to serve; leaving them out makes each artifact
        // ~30% smaller and each idle app ~65 KiB lighter (benches/idle_apps.rs), and spares the
        // registration cost the wasmtime docs warn about when loading many modules.
        .generate_address_map(false)
        .native_unwind_info(false)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pooling));
    match config.cpu_meter {
        CpuMeter::Epoch { .. } => wasm.epoch_interruption(true),
        CpuMeter::Fuel { .. } => wasm.consume_fuel(true),
    };
    Engine::new(&wasm).map_err(|error| RuntimeError::Engine(format!("{error:#}")))
}

/// Advances the engine's epoch every tick until dropped.
pub(crate) struct EpochTicker {
    stop: Arc<AtomicBool>,
}

impl EpochTicker {
    pub(crate) fn start(engine: &Engine, tick: Duration) -> Result<Self, RuntimeError> {
        let stop = Arc::new(AtomicBool::new(false));
        let (engine, stopped) = (engine.weak(), stop.clone());
        thread::Builder::new()
            .name("vibe-epoch".to_owned())
            .spawn(move || {
                while !stopped.load(Ordering::Relaxed) {
                    thread::sleep(tick);
                    match engine.upgrade() {
                        Some(engine) => engine.increment_epoch(),
                        None => break,
                    }
                }
            })
            .map_err(RuntimeError::Ticker)?;
        Ok(EpochTicker { stop })
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
