//! The agent host: agents are versioned WASM plugins (ARCHITECTURE.md, decisions 1 and 8).
//!
//! - [`runtime`]: loads plugins (components of `vibe:agent@0.1.0`, or Extism plugins) and runs
//!   their turns sandboxed, with limits and only the capabilities granted.
//! - [`registry`]: signed plugin packages, their verification and catalog, routing tables per agent
//!   type (hot swap through `LISTEN/NOTIFY`) and track records.
//! - [`dispatch`]: takes a session's turn with the version routing gives it ([`dispatch::run_turn`]).
//! - [`builtin`]: installs the first-party agents (`plugins/`) at start, as a third party's are published.

pub mod builtin;
pub mod dispatch;
pub mod registry;
pub mod runtime;
