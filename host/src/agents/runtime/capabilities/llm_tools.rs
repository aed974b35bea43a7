//! Tool use through the LLM gateway (`vibe:agent/llm.complete-with-tools`): the request and
//! response types the gateway takes and gives, and their conversions from and to the WIT records.
//! The agent runs the tools itself; the model only asks for them, and the agent sends the
//! results back in its next request.

use serde::{Deserialize, Serialize};

use super::llm::{LlmMessage, LlmRequest, LlmResponse, LlmRole, LlmUsage};
use crate::agents::runtime::bindings::llm as wit;

/// A tool the model may ask for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LlmTool {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// The JSON Schema of the arguments, as text (a JSON object).
    pub input_schema: String,
}

/// A tool call the model asks for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LlmToolCall {
    pub id: String,
    pub name: String,
    /// The arguments, a JSON object as text.
    pub arguments: String,
}

/// The agent's answer to one tool call.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LlmToolResult {
    pub call_id: String,
    pub content: String,
    #[serde(default)]
    pub is_error: bool,
}

/// One message of a conversation with tools (in JSON `{"role": "user", "content": ..}`,
/// `{"role": "assistant", "content": .., "tool_calls": [..]}` or `{"role": "tool_results", "results": [..]}`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "snake_case")]
pub enum LlmToolMessage {
    User {
        content: String,
    },
    Assistant {
        #[serde(default)]
        content: String,
        #[serde(default)]
        tool_calls: Vec<LlmToolCall>,
    },
    ToolResults {
        results: Vec<LlmToolResult>,
    },
}

/// A completion request offering tools.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LlmToolRequest {
    #[serde(default)]
    pub system: Option<String>,
    pub messages: Vec<LlmToolMessage>,
    #[serde(default)]
    pub tools: Vec<LlmTool>,
    #[serde(default)]
    pub max_tokens: Option<u32>,
    #[serde(default)]
    pub temperature: Option<f32>,
    #[serde(default)]
    pub model: Option<String>,
}

/// A finished completion, with the tool calls the model asks for (`stop_reason` `tool-use`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LlmToolResponse {
    pub content: String,
    pub tool_calls: Vec<LlmToolCall>,
    pub model: String,
    pub usage: LlmUsage,
    pub stop_reason: String,
}

impl From<LlmRequest> for LlmToolRequest {
    /// A plain request is a tool request offering no tools.
    fn from(request: LlmRequest) -> Self {
        LlmToolRequest {
            system: request.system,
            messages: request.messages.into_iter().map(LlmToolMessage::from).collect(),
            tools: Vec::new(),
            max_tokens: request.max_tokens,
            temperature: request.temperature,
            model: request.model,
        }
    }
}

impl From<LlmMessage> for LlmToolMessage {
    fn from(message: LlmMessage) -> Self {
        match message.role {
            LlmRole::User => LlmToolMessage::User { content: message.content },
            LlmRole::Assistant => {
                LlmToolMessage::Assistant { content: message.content, tool_calls: Vec::new() }
            }
        }
    }
}

impl From<LlmToolResponse> for LlmResponse {
    fn from(response: LlmToolResponse) -> Self {
        LlmResponse {
            content: response.content,
            model: response.model,
            usage: response.usage,
            stop_reason: response.stop_reason,
        }
    }
}

impl From<wit::LlmToolCall> for LlmToolCall {
    fn from(call: wit::LlmToolCall) -> Self {
        LlmToolCall { id: call.id, name: call.name, arguments: call.arguments }
    }
}

impl From<LlmToolCall> for wit::LlmToolCall {
    fn from(call: LlmToolCall) -> Self {
        wit::LlmToolCall { id: call.id, name: call.name, arguments: call.arguments }
    }
}

impl From<wit::ToolMessage> for LlmToolMessage {
    fn from(message: wit::ToolMessage) -> Self {
        match message {
            wit::ToolMessage::User(content) => LlmToolMessage::User { content },
            wit::ToolMessage::Assistant(turn) => LlmToolMessage::Assistant {
                content: turn.content,
                tool_calls: turn.tool_calls.into_iter().map(Into::into).collect(),
            },
            wit::ToolMessage::ToolResults(results) => LlmToolMessage::ToolResults {
                results: results
                    .into_iter()
                    .map(|result| LlmToolResult {
                        call_id: result.call_id,
                        content: result.content,
                        is_error: result.is_error,
                    })
                    .collect(),
            },
        }
    }
}

impl From<wit::ToolRequest> for LlmToolRequest {
    fn from(request: wit::ToolRequest) -> Self {
        LlmToolRequest {
            system: request.system,
            messages: request.messages.into_iter().map(Into::into).collect(),
            tools: request
                .tools
                .into_iter()
                .map(|tool| LlmTool {
                    name: tool.name,
                    description: tool.description,
                    input_schema: tool.input_schema,
                })
                .collect(),
            max_tokens: request.max_tokens,
            temperature: request.temperature,
            model: request.model,
        }
    }
}

impl From<LlmToolResponse> for wit::ToolResponse {
    fn from(response: LlmToolResponse) -> Self {
        wit::ToolResponse {
            content: response.content,
            tool_calls: response.tool_calls.into_iter().map(Into::into).collect(),
            model: response.model,
            usage: wit::Usage {
                input_tokens: response.usage.input_tokens,
                output_tokens: response.usage.output_tokens,
            },
            stop_reason: response.stop_reason,
        }
    }
}
