//! The host side of the `vibe:agent/agent` world (wit/agent@0.1.0): the one `bindgen!` for it,
//! the linker every agent component is instantiated with, and the conversions between the
//! generated records and the serde types of `types.rs`.
//!
//! The linker provides every capability import (each call then checks the grants, see
//! `capabilities/`), WASI 0.2 sandboxed to nothing (`state.rs`) because Rust's `wasm32-wasip2`
//! std imports it, and `wasi:http` whose outgoing requests pass the approved-hosts check. A
//! component importing anything else is refused at load.

use wasmtime::component::{HasSelf, Linker};

use super::state::CallState;
use super::types;

mod generated {
    wasmtime::component::bindgen!({
        path: [
            "../wit/deps/io.wit",
            "../wit/deps/clocks.wit",
            "../wit/deps/random.wit",
            "../wit/deps/filesystem.wit",
            "../wit/deps/sockets.wit",
            "../wit/deps/cli.wit",
            "../wit/deps/http.wit",
            "../wit/agent@0.1.0",
        ],
        world: "vibe:agent/agent",
        imports: { default: async | trappable },
        exports: { default: async },
        require_store_data_send: true,
        with: {
            "wasi:io": wasmtime_wasi::p2::bindings::io,
            "wasi:clocks": wasmtime_wasi::p2::bindings::clocks,
            "wasi:http": wasmtime_wasi_http::p2::bindings::http,
            "vibe:agent/llm.completion-stream": crate::agents::runtime::capabilities::llm::CompletionStream,
        },
    });
}

pub(crate) use generated::AgentPre;
pub(crate) use generated::exports::vibe::agent::plugin;
pub(crate) use generated::vibe::agent::{events, kv, llm, log, pipeline, types as wit};

/// The exported interface's name, without its version.
pub(crate) const PLUGIN_INTERFACE: &str = "vibe:agent/plugin";

/// A linker with everything an agent may import.
pub(crate) fn linker(engine: &wasmtime::Engine) -> wasmtime::Result<Linker<CallState>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
    wit::add_to_linker::<_, HasSelf<CallState>>(&mut linker, |state| state)?;
    llm::add_to_linker::<_, HasSelf<CallState>>(&mut linker, |state| state)?;
    kv::add_to_linker::<_, HasSelf<CallState>>(&mut linker, |state| state)?;
    events::add_to_linker::<_, HasSelf<CallState>>(&mut linker, |state| state)?;
    pipeline::add_to_linker::<_, HasSelf<CallState>>(&mut linker, |state| state)?;
    log::add_to_linker::<_, HasSelf<CallState>>(&mut linker, |state| state)?;
    Ok(linker)
}

impl wit::Host for CallState {}

impl From<wit::Role> for types::Role {
    fn from(role: wit::Role) -> Self {
        match role {
            wit::Role::User => types::Role::User,
            wit::Role::Agent => types::Role::Agent,
            wit::Role::System => types::Role::System,
            wit::Role::Tool => types::Role::Tool,
        }
    }
}

impl From<types::Role> for wit::Role {
    fn from(role: types::Role) -> Self {
        match role {
            types::Role::User => wit::Role::User,
            types::Role::Agent => wit::Role::Agent,
            types::Role::System => wit::Role::System,
            types::Role::Tool => wit::Role::Tool,
        }
    }
}

impl From<wit::ContentType> for types::ContentType {
    fn from(content_type: wit::ContentType) -> Self {
        match content_type {
            wit::ContentType::Json => types::ContentType::Json,
            wit::ContentType::Text => types::ContentType::Text,
        }
    }
}

impl From<types::ContentType> for wit::ContentType {
    fn from(content_type: types::ContentType) -> Self {
        match content_type {
            types::ContentType::Json => wit::ContentType::Json,
            types::ContentType::Text => wit::ContentType::Text,
        }
    }
}

impl From<wit::Capability> for types::Capability {
    fn from(capability: wit::Capability) -> Self {
        match capability {
            wit::Capability::Llm => types::Capability::Llm,
            wit::Capability::Kv => types::Capability::Kv,
            wit::Capability::Events => types::Capability::Events,
            wit::Capability::PipelineRead => types::Capability::PipelineRead,
            wit::Capability::PipelineWrite => types::Capability::PipelineWrite,
            wit::Capability::Log => types::Capability::Log,
            wit::Capability::Http => types::Capability::Http,
        }
    }
}

impl From<types::Message> for wit::Message {
    fn from(message: types::Message) -> Self {
        wit::Message { role: message.role.into(), agent_type: message.agent_type, content: message.content }
    }
}

impl From<types::Artifact> for wit::Artifact {
    fn from(artifact: types::Artifact) -> Self {
        wit::Artifact {
            name: artifact.name,
            content_type: artifact.content_type.into(),
            content: artifact.content,
            version: artifact.version,
        }
    }
}

impl From<wit::ToolCall> for types::ToolCall {
    fn from(call: wit::ToolCall) -> Self {
        types::ToolCall { name: call.name, input: call.input, output: call.output }
    }
}

impl From<types::TurnInput> for plugin::TurnInput {
    fn from(input: types::TurnInput) -> Self {
        plugin::TurnInput {
            agent_type: input.agent_type,
            transcript: input.transcript.into_iter().map(Into::into).collect(),
            artifacts: input.artifacts.into_iter().map(Into::into).collect(),
            message: input.message.into(),
        }
    }
}

impl From<plugin::TurnOutput> for types::TurnOutput {
    fn from(output: plugin::TurnOutput) -> Self {
        types::TurnOutput {
            replies: output.replies,
            artifacts: output
                .artifacts
                .into_iter()
                .map(|artifact| types::ArtifactWrite {
                    name: artifact.name,
                    content_type: artifact.content_type.into(),
                    content: artifact.content,
                })
                .collect(),
            tool_calls: output.tool_calls.into_iter().map(Into::into).collect(),
            hand_off: output
                .hand_off
                .map(|hand_off| types::HandOff { to_stage: hand_off.to_stage, note: hand_off.note }),
        }
    }
}

impl From<plugin::Description> for types::AgentDescription {
    fn from(description: plugin::Description) -> Self {
        types::AgentDescription {
            name: description.name,
            version: description.version,
            agent_types: description.agent_types,
            capabilities: description.capabilities.into_iter().map(Into::into).collect(),
        }
    }
}

impl From<super::capabilities::CapError> for wit::Error {
    fn from(error: super::capabilities::CapError) -> Self {
        use super::capabilities::CapError;
        match error {
            CapError::Denied(message) => wit::Error::Denied(message),
            CapError::Invalid(message) => wit::Error::Invalid(message),
            CapError::TooLarge(message) => wit::Error::TooLarge(message),
            CapError::QuotaExceeded(message) => wit::Error::QuotaExceeded(message),
            CapError::Conflict(message) => wit::Error::Conflict(message),
            CapError::Unavailable(message) => wit::Error::Unavailable(message),
        }
    }
}
