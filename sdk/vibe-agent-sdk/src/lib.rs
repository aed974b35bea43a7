//! `vibe-agent-sdk`: the crate Vibe agent plugins are written on. An agent is a WASM component
//! of the `vibe:agent@0.1.0` world (`cargo build --release --target wasm32-wasip2`): it
//! describes itself and takes turns, using the host capabilities an operator granted it.
//!
//! ```no_run
//! use vibe_agent_sdk::prelude::*;
//!
//! struct Greeter;
//!
//! impl Agent for Greeter {
//!     fn describe() -> Description {
//!         describe("greeter", "0.1.0").serves("ideation").wants(Capability::Kv).build()
//!     }
//!
//!     fn handle_turn(turn: TurnInput) -> Result<TurnOutput, String> {
//!         let visits = kv::get_string("visits").ok().flatten().and_then(|v| v.parse().ok()).unwrap_or(0u64) + 1;
//!         let _ = kv::set("visits", visits.to_string());
//!         Ok(Reply::new().say(format!("Hello ({visits}): {}", turn.message.content)).into())
//!     }
//! }
//!
//! vibe_agent_sdk::export_agent!(Greeter);
//! ```
//!
//! Capabilities: [`llm`] (completions, with tool use, through the platform's gateway, which
//! answers `not-configured` in guided mode), [`kv`] (state private to the plugin and the idea),
//! [`events`] (`agent:thinking`, `agent:tool_call`), [`pipeline`] (the idea's artifacts),
//! [`log`]. A capability that was not granted answers [`Error::Denied`]; handle it like any error.
//! README.md is the guide: write, build, sign, publish.

pub mod bindings;
mod reply;

pub use bindings::exports::vibe::agent::plugin::{Description, TurnInput, TurnOutput};
pub use bindings::vibe::agent::types::{
    Artifact, ArtifactWrite, Capability, ContentType, Error, HandOff, Message, Role, ToolCall,
};
pub use reply::{DescriptionBuilder, Reply, describe};

/// Re-exported for agents: `serde_json::json!` and friends without another dependency line.
pub use serde_json;

/// An agent plugin: [`export_agent!`] exports a type implementing it.
pub trait Agent {
    /// Who the agent is: called once when the host loads it, with nothing granted.
    fn describe() -> Description;

    /// Takes one turn. `Err` is shown to the session as the agent's failure.
    fn handle_turn(turn: TurnInput) -> Result<TurnOutput, String>;
}

/// Completions through the platform's LLM gateway (the `llm` capability).
pub mod llm {
    pub use crate::bindings::vibe::agent::llm::{
        AssistantTurn, CompletionStream, Error, LlmMessage, LlmRole, LlmToolCall, Request, Response,
        ToolDefinition, ToolMessage, ToolRequest, ToolResponse, ToolResult, Usage, complete,
        complete_with_tools, stream,
    };

    /// A tool the model may ask for: `name`, what it does, and the JSON Schema of its arguments.
    pub fn tool(name: &str, description: &str, input_schema: &serde_json::Value) -> ToolDefinition {
        ToolDefinition {
            name: name.to_owned(),
            description: description.to_owned(),
            input_schema: input_schema.to_string(),
        }
    }

    /// Asks `prompt` offering `tools`; the answer's `tool_calls` are the calls the model wants.
    /// Continue the conversation with [`ToolMessage::Assistant`] (the answer) and
    /// [`ToolMessage::ToolResults`] (what each call returned) in a new request.
    pub fn ask_with_tools(
        system: Option<&str>,
        prompt: &str,
        tools: Vec<ToolDefinition>,
    ) -> Result<ToolResponse, Error> {
        let request = ToolRequest {
            system: system.map(str::to_owned),
            messages: vec![ToolMessage::User(prompt.to_owned())],
            tools,
            max_tokens: None,
            temperature: None,
            model: None,
        };
        complete_with_tools(&request)
    }

    /// Asks one question with optional system instructions and returns the answer's text.
    pub fn ask(system: Option<&str>, prompt: &str) -> Result<String, Error> {
        let request = Request {
            system: system.map(str::to_owned),
            messages: vec![LlmMessage { role: LlmRole::User, content: prompt.to_owned() }],
            max_tokens: None,
            temperature: None,
            model: None,
        };
        complete(&request).map(|response| response.content)
    }
}

/// The plugin's key-value store for the idea (the `kv` capability).
pub mod kv {
    use crate::Error;
    pub use crate::bindings::vibe::agent::kv::{delete, get, list_keys};

    /// Stores `value` under `key`.
    pub fn set(key: &str, value: impl AsRef<[u8]>) -> Result<(), Error> {
        crate::bindings::vibe::agent::kv::set(key, value.as_ref())
    }

    /// The value under `key` as text (`None` if missing or not UTF-8).
    pub fn get_string(key: &str) -> Result<Option<String>, Error> {
        Ok(get(key)?.and_then(|bytes| String::from_utf8(bytes).ok()))
    }
}

/// Live events to the session (the `events` capability).
pub mod events {
    use crate::{Error, ToolCall};

    /// Emits `agent:thinking` with what the agent is working on.
    pub fn thinking(text: &str) -> Result<(), Error> {
        crate::bindings::vibe::agent::events::emit_thinking(text)
    }

    /// Emits `agent:tool_call` for a tool used with `input` that answered `output`.
    pub fn tool_call(name: &str, input: &str, output: &str) -> Result<(), Error> {
        let call = ToolCall { name: name.to_owned(), input: input.to_owned(), output: output.to_owned() };
        crate::bindings::vibe::agent::events::emit_tool_call(&call)
    }
}

/// The idea's pipeline artifacts (`pipeline-read`, `pipeline-write`).
pub mod pipeline {
    pub use crate::bindings::vibe::agent::pipeline::{ArtifactInfo, get, list, put};
    use crate::{ContentType, Error};

    /// Writes a new version of a text artifact and returns its version.
    pub fn put_text(name: &str, content: &str) -> Result<u32, Error> {
        put(name, ContentType::Text, content, None)
    }

    /// Writes a new version of a JSON artifact and returns its version.
    pub fn put_json(name: &str, content: &serde_json::Value) -> Result<u32, Error> {
        put(name, ContentType::Json, &content.to_string(), None)
    }
}

/// The plugin's log (the `log` capability).
pub mod log {
    pub use crate::bindings::vibe::agent::log::{Level, log};

    /// Logs at `info`.
    pub fn info(message: &str) {
        log(Level::Info, message);
    }

    /// Logs at `warn`.
    pub fn warn(message: &str) {
        log(Level::Warn, message);
    }

    /// Logs at `error`.
    pub fn error(message: &str) {
        log(Level::Error, message);
    }
}

/// What most agents use: `use vibe_agent_sdk::prelude::*;`.
pub mod prelude {
    pub use crate::{
        Agent, Artifact, Capability, ContentType, Description, Error, Message, Reply, Role, TurnInput,
        TurnOutput, describe, events, kv, llm, log, pipeline,
    };
}

/// Exports the agent: `vibe_agent_sdk::export_agent!(MyAgent)`, where `MyAgent` implements
/// [`Agent`]. Use it once, at the crate root. Off wasm32 (unit tests on the host) it exports
/// nothing.
#[macro_export]
macro_rules! export_agent {
    ($agent:ty) => {
        #[cfg(target_arch = "wasm32")]
        #[doc(hidden)]
        struct __VibeAgent;

        #[cfg(target_arch = "wasm32")]
        impl $crate::bindings::exports::vibe::agent::plugin::Guest for __VibeAgent {
            fn describe() -> $crate::Description {
                <$agent as $crate::Agent>::describe()
            }

            fn handle_turn(input: $crate::TurnInput) -> ::core::result::Result<$crate::TurnOutput, ::std::string::String> {
                <$agent as $crate::Agent>::handle_turn(input)
            }
        }

        #[cfg(target_arch = "wasm32")]
        $crate::bindings::__export_agent_world!(__VibeAgent with_types_in $crate::bindings);
    };
}
