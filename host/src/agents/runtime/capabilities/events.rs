//! `vibe:agent/events`: `agent:thinking` and `agent:tool_call` events about the call's idea,
//! published on the platform's event bus (so the session's people see them live on the
//! WebSocket). Needs the `events` capability; a turn may emit at most [`MAX_EVENTS_PER_TURN`].

use std::sync::atomic::Ordering;

use serde_json::json;

use super::log::truncate;
use super::{CallShared, CapError};
use crate::agents::runtime::bindings::{events as wit, wit::Error as WitError, wit::ToolCall as WitToolCall};
use crate::agents::runtime::state::CallState;
use crate::agents::runtime::types::{Capability, ToolCall};
use crate::events::{Event, EventKind};

/// The most events one turn may emit.
pub const MAX_EVENTS_PER_TURN: u32 = 200;
/// The longest text of one event field, in bytes; longer is truncated.
const MAX_FIELD_BYTES: usize = 16 << 10;

impl CallShared {
    async fn emit(&self, kind: EventKind, mut data: serde_json::Value) -> Result<(), CapError> {
        self.require(Capability::Events)?;
        if self.events_emitted.fetch_add(1, Ordering::Relaxed) >= MAX_EVENTS_PER_TURN {
            return Err(CapError::QuotaExceeded(format!("at most {MAX_EVENTS_PER_TURN} events per turn")));
        }
        let services = self.services()?;
        // Every conversation event carries the idea's phase and guided mode, so the UI can adapt.
        let phase: Option<String> = sqlx::query_scalar("SELECT status FROM ideas WHERE id = $1")
            .bind(self.idea_id)
            .fetch_optional(&services.db)
            .await
            .map_err(|error| CapError::database("events", &error))?;
        if let Some(fields) = data.as_object_mut() {
            fields.insert("session_id".to_owned(), json!(self.session_id));
            fields.insert("agent".to_owned(), json!(self.plugin_name));
            fields.insert("agent_version".to_owned(), json!(self.plugin_version));
            fields.insert("phase".to_owned(), json!(phase));
            fields.insert("guided".to_owned(), json!(!services.llm.configured()));
        }
        let event = Event { kind, idea_id: Some(self.idea_id), app_id: None, user_id: None, data };
        services.events.publish(event).await.map(drop).map_err(|error| {
            tracing::warn!(error = %format!("{error:#}"), "agent event could not be published");
            CapError::Unavailable("events are unavailable right now".to_owned())
        })
    }

    /// Emits `agent:thinking`.
    pub(crate) async fn events_thinking(&self, text: &str) -> Result<(), CapError> {
        self.emit(EventKind::AgentThinking, json!({ "text": truncate(text, MAX_FIELD_BYTES) })).await
    }

    /// Emits `agent:tool_call`.
    pub(crate) async fn events_tool_call(&self, call: &ToolCall) -> Result<(), CapError> {
        let data = json!({
            "name": truncate(&call.name, 256),
            "input": truncate(&call.input, MAX_FIELD_BYTES),
            "output": truncate(&call.output, MAX_FIELD_BYTES),
        });
        self.emit(EventKind::AgentToolCall, data).await
    }
}

impl wit::Host for CallState {
    async fn emit_thinking(&mut self, text: String) -> wasmtime::Result<Result<(), WitError>> {
        Ok(self.call.events_thinking(&text).await.map_err(Into::into))
    }

    async fn emit_tool_call(&mut self, call: WitToolCall) -> wasmtime::Result<Result<(), WitError>> {
        Ok(self.call.events_tool_call(&call.into()).await.map_err(Into::into))
    }
}
