//! What one turn of one agent may consume: fuel (a deterministic CPU budget: agents must behave
//! the same on every machine, so their budget counts instructions rather than time), memory, a
//! wall-clock deadline, the size of its output and of its log. Defaults depend on the agent type;
//! operators override any field (`AgentLimits::with_overrides`), within the runtime's ceilings.

use serde::{Deserialize, Serialize};

/// The limits of one turn. Every field has a default, so `{}` is a valid override.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct AgentLimits {
    /// Fuel for the turn (roughly wasm instructions; about 17 million per millisecond of CPU on
    /// our machines). Time spent waiting for host calls (an LLM completion) costs none.
    pub fuel: u64,
    /// The most the plugin's linear memory may grow to, in bytes.
    pub memory_bytes: u64,
    /// Wall-clock time for the whole turn, host calls included, in milliseconds.
    pub deadline_ms: u64,
    /// The most text a turn may return (replies, artifacts, tool calls, hand-off), in bytes.
    pub max_output_bytes: u64,
    /// The most log text one turn keeps, in bytes; the rest is dropped.
    pub max_log_bytes: u64,
}

impl Default for AgentLimits {
    fn default() -> Self {
        AgentLimits {
            fuel: 5_000_000_000,
            memory_bytes: 128 << 20,
            deadline_ms: 120_000,
            max_output_bytes: 1 << 20,
            max_log_bytes: 64 << 10,
        }
    }
}

impl AgentLimits {
    /// The defaults for agents of `agent_type`: the build stage compiles and repairs code in a
    /// loop, so it gets more of everything; the others converse and write documents.
    pub fn for_agent_type(agent_type: &str) -> AgentLimits {
        let base = AgentLimits::default();
        match agent_type {
            "build" | "test" => AgentLimits {
                fuel: 50_000_000_000,
                memory_bytes: 256 << 20,
                deadline_ms: 600_000,
                max_output_bytes: 8 << 20,
                ..base
            },
            "specification" | "spec" => AgentLimits { max_output_bytes: 4 << 20, ..base },
            _ => base,
        }
    }

    /// These limits with the fields of `overrides` (an operator's JSON object, every field
    /// optional) replaced; unknown fields are refused with their name.
    pub fn with_overrides(self, overrides: &serde_json::Value) -> Result<AgentLimits, String> {
        let mut merged = serde_json::to_value(self).map_err(|error| error.to_string())?;
        match (overrides, &mut merged) {
            (serde_json::Value::Null, _) => {}
            (serde_json::Value::Object(fields), serde_json::Value::Object(base)) => {
                for (name, value) in fields {
                    base.insert(name.clone(), value.clone());
                }
            }
            _ => return Err("limits must be a JSON object".to_owned()),
        }
        serde_json::from_value(merged).map_err(|error| format!("limits: {error}"))
    }

    /// Refuses zero values and values above `ceilings`, naming the field.
    pub fn check(&self, ceilings: &AgentLimits) -> Result<(), String> {
        let fields = [
            ("fuel", self.fuel, ceilings.fuel),
            ("memory_bytes", self.memory_bytes, ceilings.memory_bytes),
            ("deadline_ms", self.deadline_ms, ceilings.deadline_ms),
            ("max_output_bytes", self.max_output_bytes, ceilings.max_output_bytes),
            ("max_log_bytes", self.max_log_bytes, ceilings.max_log_bytes),
        ];
        for (name, value, ceiling) in fields {
            if value == 0 {
                return Err(format!("limits.{name} must be at least 1"));
            }
            if value > ceiling {
                return Err(format!("limits.{name} is {value}, above this server's ceiling of {ceiling}"));
            }
        }
        Ok(())
    }

    /// The deadline as a duration.
    pub fn deadline(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.deadline_ms)
    }
}

/// Core instances, memories and tables one call's store may create; a Rust component uses a few.
const MAX_INSTANCES: usize = 32;
const MAX_MEMORIES: usize = 4;
const MAX_TABLES: usize = 16;
const MAX_TABLE_ELEMENTS: usize = 100_000;

/// The per-call store's resource limiter: refuses memory growth past the limit, remembers that it
/// did (so the trap that follows is reported as a memory-limit hit) and the peak it allowed.
pub(crate) struct AgentLimiter {
    memory_bytes: usize,
    pub(crate) memory_refused: bool,
    pub(crate) memory_peak: usize,
}

impl AgentLimiter {
    pub(crate) fn new(limits: &AgentLimits) -> Self {
        AgentLimiter {
            memory_bytes: usize::try_from(limits.memory_bytes).unwrap_or(usize::MAX),
            memory_refused: false,
            memory_peak: 0,
        }
    }
}

impl wasmtime::ResourceLimiter for AgentLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.memory_bytes {
            self.memory_refused = true;
            return Ok(false);
        }
        self.memory_peak = self.memory_peak.max(desired);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }

    fn instances(&self) -> usize {
        MAX_INSTANCES
    }

    fn memories(&self) -> usize {
        MAX_MEMORIES
    }

    fn tables(&self) -> usize {
        MAX_TABLES
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_depend_on_the_agent_type() {
        assert!(AgentLimits::for_agent_type("build").fuel > AgentLimits::for_agent_type("ideation").fuel);
        assert_eq!(AgentLimits::for_agent_type("ideation"), AgentLimits::default());
    }

    #[test]
    fn overrides_replace_fields_and_refuse_typos() {
        let limits = AgentLimits::default().with_overrides(&serde_json::json!({"fuel": 1000})).unwrap();
        assert_eq!(limits.fuel, 1000);
        assert_eq!(limits.deadline_ms, AgentLimits::default().deadline_ms);
        let error = AgentLimits::default().with_overrides(&serde_json::json!({"fuell": 1})).unwrap_err();
        assert!(error.contains("fuell"), "{error}");
        assert!(AgentLimits::default().with_overrides(&serde_json::json!([1])).is_err());
    }

    #[test]
    fn zero_and_over_ceiling_are_refused() {
        let ceilings = AgentLimits::default();
        let zero = AgentLimits { fuel: 0, ..ceilings };
        assert!(zero.check(&ceilings).unwrap_err().contains("fuel"));
        let greedy = AgentLimits { memory_bytes: 1 << 40, ..ceilings };
        assert!(greedy.check(&ceilings).unwrap_err().contains("ceiling"));
        assert!(ceilings.check(&ceilings).is_ok());
    }
}
