//! Errors of the agent runtime.
//!
//! Policy: [`AgentLoadError`] says why a plugin cannot be loaded, in words its publisher can act on
//! (the registry shows it when a package is refused). [`AgentError`] is how one turn failed: a
//! trap, a limit hit or the plugin's own refusal, never a host crash; the session shows its
//! [`AgentError::public_message`], the track record counts its [`AgentError::code`], and the
//! details are logged with the plugin's version. Capability calls that fail are not Rust errors at
//! all: the guest receives them as values (`vibe:agent/types.error`) and may handle them.

use std::path::PathBuf;

/// Why a plugin was refused at load.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AgentLoadError {
    /// The bytes are not WebAssembly at all.
    #[error("not a WebAssembly file: it does not start with the `\\0asm` header")]
    NotWasm,
    /// A core module was given as a component, or a component as an Extism plugin.
    #[error("wrong kind of WebAssembly: {0}")]
    WrongKind(String),
    /// The given digest is malformed or is not the sha256 of the bytes.
    #[error("digest mismatch: expected {expected}, the plugin's sha256 is {actual}")]
    DigestMismatch {
        /// The digest the caller gave.
        expected: String,
        /// The sha256 of the bytes.
        actual: String,
    },
    /// The module does not validate or does not compile.
    #[error("invalid plugin: {0}")]
    Invalid(String),
    /// It is not an agent (an app, a library...): it does not export `vibe:agent/plugin`.
    #[error("not an agent: {0}")]
    NotAnAgent(String),
    /// It was built for another version of the agent WIT than this host serves.
    #[error(
        "built for {found}, but this host serves vibe:agent@{expected}; rebuild it with a matching vibe-agent-sdk"
    )]
    WrongWitVersion {
        /// The version (or interface) the plugin exports.
        found: String,
        /// The version this host serves.
        expected: &'static str,
    },
    /// It imports something agents are never given (a filesystem, sockets, another world's
    /// capabilities...).
    #[error("it imports what agents are not granted: {0}")]
    UnsupportedImport(String),
    /// `describe` trapped, hit a limit or answered nonsense.
    #[error("describe failed: {0}")]
    Describe(String),
    /// The precompiled-artifact cache could not be written.
    #[error("cannot write the precompiled artifact {path}: {source}")]
    Cache {
        /// The artifact or temporary file.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// Compilation ran on a blocking thread that failed (a bug, logged).
    #[error("compilation was interrupted: {0}")]
    Interrupted(String),
}

/// How one turn failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AgentError {
    /// The plugin used up its fuel (CPU budget) for the turn.
    #[error("fuel exhausted: the turn used its budget of {fuel} fuel")]
    FuelExhausted {
        /// The budget.
        fuel: u64,
    },
    /// The plugin tried to grow its memory past its limit (and then failed).
    #[error("memory limit of {limit_bytes} bytes exceeded")]
    MemoryLimit {
        /// The limit.
        limit_bytes: u64,
    },
    /// The turn did not finish before its deadline.
    #[error("deadline of {deadline_ms} ms exceeded")]
    Deadline {
        /// The deadline.
        deadline_ms: u64,
    },
    /// The plugin overflowed its stack.
    #[error("stack overflow")]
    StackOverflow,
    /// The plugin trapped (a panic, an out-of-bounds access, an unreachable...).
    #[error("the plugin trapped: {0}")]
    Trap(String),
    /// The turn's output is larger than the limit.
    #[error("output of {size_bytes} bytes is over the limit of {limit_bytes} bytes")]
    OutputTooLarge {
        /// The output's size (the sum of its texts).
        size_bytes: u64,
        /// The limit.
        limit_bytes: u64,
    },
    /// The plugin answered something that is not a turn output (an Extism plugin's bad JSON).
    #[error("the plugin's output is invalid: {0}")]
    InvalidOutput(String),
    /// The plugin declined the turn with an error of its own.
    #[error("the plugin failed the turn: {0}")]
    Failed(String),
    /// No instance slot is free on this server right now.
    #[error("the agent host is at capacity")]
    Saturated,
    /// The host itself failed (a bug; logged).
    #[error("internal error: {0}")]
    Internal(String),
}

impl AgentError {
    /// A stable, machine-readable code (for track records and the session's error event).
    pub fn code(&self) -> &'static str {
        match self {
            AgentError::FuelExhausted { .. } => "agent_fuel_exhausted",
            AgentError::MemoryLimit { .. } => "agent_memory_limit",
            AgentError::Deadline { .. } => "agent_deadline",
            AgentError::StackOverflow => "agent_stack_overflow",
            AgentError::Trap(_) => "agent_trapped",
            AgentError::OutputTooLarge { .. } => "agent_output_too_large",
            AgentError::InvalidOutput(_) => "agent_invalid_output",
            AgentError::Failed(_) => "agent_failed",
            AgentError::Saturated => "agent_host_busy",
            AgentError::Internal(_) => "internal",
        }
    }

    /// What the people in the session are told: no trap details, nothing of the host's internals.
    pub fn public_message(&self) -> String {
        match self {
            AgentError::FuelExhausted { .. } => {
                "the agent used up its computing budget for this turn".to_owned()
            }
            AgentError::MemoryLimit { .. } => "the agent ran out of memory for this turn".to_owned(),
            AgentError::Deadline { .. } => "the agent did not answer in time".to_owned(),
            AgentError::OutputTooLarge { .. } => "the agent's answer was larger than it may be".to_owned(),
            AgentError::Failed(reason) => format!("the agent could not answer: {reason}"),
            AgentError::Saturated => "the agents are busy; try again shortly".to_owned(),
            AgentError::StackOverflow
            | AgentError::Trap(_)
            | AgentError::InvalidOutput(_)
            | AgentError::Internal(_) => "the agent failed while answering".to_owned(),
        }
    }
}
