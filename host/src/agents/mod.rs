//! The agent host: agents are versioned WASM plugins (ARCHITECTURE.md, decisions 1 and 8).
//!
//! - [`runtime`]: loads plugins (components of `vibe:agent@0.1.0`, or Extism plugins) and runs
//!   their turns sandboxed, with limits and only the capabilities granted.

pub mod runtime;
