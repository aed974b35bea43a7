//! Per-app limits: what one request of one app may consume, read from the app's `hosting_config`
//! (`{"limits": {...}}`, every field optional), checked against the operator's ceilings, and the
//! store limiter that enforces the memory part inside wasmtime.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::LoadError;

/// What one request of one app may consume. Every field has a default, so `{}` is valid.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// CPU time the app's code may run for one request, in milliseconds (measured in epoch ticks
    /// or fuel, see `CpuMeter`). Exceeding it answers 504.
    pub cpu_ms: u64,
    /// Wall-clock time for a whole request (instantiation, host calls, the response body), in
    /// milliseconds. Exceeding it answers 504.
    pub deadline_ms: u64,
    /// The largest the app's linear memory may grow, in bytes. Exceeding it fails the allocation;
    /// a request that then traps answers 500.
    pub memory_bytes: u64,
    /// Requests of this app served at the same time; one more answers 503 at once.
    pub max_concurrent_requests: u32,
    /// The largest request body accepted, in bytes; a larger one answers 413.
    pub max_request_body_bytes: u64,
    /// The largest response body passed on, in bytes; a larger one answers 500.
    pub max_response_body_bytes: u64,
    /// How much stdout, stderr and `vibe:app/log` output of one request reaches the app's log,
    /// in bytes; the rest is dropped (and the drop logged once).
    pub max_log_bytes_per_request: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            cpu_ms: 1_000,
            deadline_ms: 10_000,
            memory_bytes: 64 << 20,
            max_concurrent_requests: 32,
            max_request_body_bytes: 10 << 20,
            max_response_body_bytes: 10 << 20,
            max_log_bytes_per_request: 64 << 10,
        }
    }
}

impl Limits {
    /// The limits in an app's `hosting_config`: its `limits` member (absent: all defaults). Other
    /// members of `hosting_config` belong to other parts of the host and are ignored here.
    pub fn from_hosting_config(hosting_config: &serde_json::Value) -> Result<Limits, LoadError> {
        match hosting_config.get("limits") {
            None | Some(serde_json::Value::Null) => Ok(Limits::default()),
            Some(limits) => Limits::deserialize(limits)
                .map_err(|error| LoadError::InvalidConfig(format!("limits: {error}"))),
        }
    }

    /// Refuses zero values and values above the operator's `ceilings`.
    pub fn check(&self, ceilings: &Limits) -> Result<(), LoadError> {
        let fields: [(&str, u64, u64); 7] = [
            ("cpu_ms", self.cpu_ms, ceilings.cpu_ms),
            ("deadline_ms", self.deadline_ms, ceilings.deadline_ms),
            ("memory_bytes", self.memory_bytes, ceilings.memory_bytes),
            (
                "max_concurrent_requests",
                self.max_concurrent_requests.into(),
                ceilings.max_concurrent_requests.into(),
            ),
            ("max_request_body_bytes", self.max_request_body_bytes, ceilings.max_request_body_bytes),
            ("max_response_body_bytes", self.max_response_body_bytes, ceilings.max_response_body_bytes),
            ("max_log_bytes_per_request", self.max_log_bytes_per_request, ceilings.max_log_bytes_per_request),
        ];
        for (name, value, ceiling) in fields {
            if value == 0 {
                return Err(LoadError::InvalidConfig(format!("limits.{name} must be at least 1")));
            }
            if value > ceiling {
                return Err(LoadError::InvalidConfig(format!(
                    "limits.{name} is {value}, above this server's ceiling of {ceiling}"
                )));
            }
        }
        Ok(())
    }

    /// The CPU budget as a duration.
    pub fn cpu(&self) -> Duration {
        Duration::from_millis(self.cpu_ms)
    }

    /// The wall-clock deadline as a duration.
    pub fn deadline(&self) -> Duration {
        Duration::from_millis(self.deadline_ms)
    }
}

/// Table elements one store may hold (function tables of the app's modules). Generous for real
/// programs; it bounds host memory a hostile `table.grow` can take.
const MAX_TABLE_ELEMENTS: usize = 100_000;
/// Core instances, memories and tables one store may create. A Rust component uses a handful.
const MAX_INSTANCES: usize = 32;
const MAX_MEMORIES: usize = 4;
const MAX_TABLES: usize = 16;

/// The per-request store's resource limiter: refuses growth past the app's memory limit and
/// remembers that it did, so a trap that follows is reported as a memory-limit hit.
pub(crate) struct GuestLimiter {
    memory_bytes: usize,
    pub(crate) memory_refused: bool,
}

impl GuestLimiter {
    pub(crate) fn new(limits: &Limits) -> Self {
        GuestLimiter {
            memory_bytes: usize::try_from(limits.memory_bytes).unwrap_or(usize::MAX),
            memory_refused: false,
        }
    }
}

impl wasmtime::ResourceLimiter for GuestLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        // Refusing (rather than trapping) lets a careful app handle the failed allocation; most
        // abort, and the trap is then classified as a memory-limit hit.
        if desired > self.memory_bytes {
            self.memory_refused = true;
            return Ok(false);
        }
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
    fn hosting_config_without_limits_gives_defaults() {
        let limits = Limits::from_hosting_config(&serde_json::json!({"badge": true})).unwrap();
        assert_eq!(limits, Limits::default());
    }

    #[test]
    fn partial_limits_keep_other_defaults_and_typos_are_refused() {
        let config = serde_json::json!({"limits": {"cpu_ms": 50}});
        let limits = Limits::from_hosting_config(&config).unwrap();
        assert_eq!(limits.cpu_ms, 50);
        assert_eq!(limits.deadline_ms, Limits::default().deadline_ms);

        let typo = serde_json::json!({"limits": {"cpu_msec": 50}});
        let error = Limits::from_hosting_config(&typo).unwrap_err().to_string();
        assert!(error.contains("cpu_msec"), "{error}");
    }

    #[test]
    fn zero_and_over_ceiling_are_refused() {
        let ceilings = Limits::default();
        let zero = Limits { max_concurrent_requests: 0, ..Limits::default() };
        assert!(zero.check(&ceilings).unwrap_err().to_string().contains("max_concurrent_requests"));
        let greedy = Limits { memory_bytes: 1 << 40, ..Limits::default() };
        assert!(greedy.check(&ceilings).unwrap_err().to_string().contains("ceiling"));
        assert!(Limits::default().check(&ceilings).is_ok());
    }
}
