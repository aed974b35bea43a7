//! What the gateway accepts before any provider is asked: a request's size, its `max_tokens`
//! (capped, and the ceiling of the credit check), and tool definitions and arguments that are
//! JSON objects (providers refuse anything else, and we would pay for the round trip).

use crate::agents::runtime::{LlmError, LlmToolMessage, LlmToolRequest};

/// `max_tokens` when the agent does not ask for a number.
pub const DEFAULT_MAX_TOKENS: u32 = 1024;

/// The gateway's limits on requests.
#[derive(Clone, Copy, Debug)]
pub struct RequestLimits {
    /// The most bytes of text (system, messages, tools) in one request.
    pub max_request_bytes: usize,
    /// The most tokens one answer may take.
    pub max_tokens: u32,
}

/// A request that passed the limits, with what billing needs to know beforehand.
#[derive(Clone, Debug)]
pub struct Prepared {
    pub request: LlmToolRequest,
    /// `max_tokens` after the default and the cap.
    pub max_tokens: u32,
    /// The request's size in bytes of text.
    pub bytes: usize,
}

impl RequestLimits {
    /// Checks `request` and settles its `max_tokens`.
    pub fn prepare(&self, request: LlmToolRequest) -> Result<Prepared, LlmError> {
        if request.messages.is_empty() {
            return Err(invalid("a request needs at least one message"));
        }
        let bytes = size(&request);
        if bytes > self.max_request_bytes {
            return Err(LlmError::TooLarge(format!(
                "the request has {bytes} bytes of text; the gateway accepts at most {}",
                self.max_request_bytes
            )));
        }
        for tool in &request.tools {
            if tool.name.is_empty() {
                return Err(invalid("a tool needs a name"));
            }
            if !is_json_object(&tool.input_schema) {
                return Err(invalid(&format!(
                    "the input schema of tool `{}` is not a JSON object",
                    tool.name
                )));
            }
        }
        for message in &request.messages {
            if let LlmToolMessage::Assistant { tool_calls, .. } = message
                && let Some(call) = tool_calls.iter().find(|call| !is_json_object(&call.arguments))
            {
                return Err(invalid(&format!("the arguments of call `{}` are not a JSON object", call.id)));
            }
        }
        if request.temperature.is_some_and(|temperature| !(0.0..=2.0).contains(&temperature)) {
            return Err(invalid("temperature must be between 0 and 2"));
        }
        let max_tokens = request.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS).clamp(1, self.max_tokens);
        Ok(Prepared { request, max_tokens, bytes })
    }
}

/// Bytes of text in `request`.
fn size(request: &LlmToolRequest) -> usize {
    let messages: usize = request
        .messages
        .iter()
        .map(|message| match message {
            LlmToolMessage::User { content } => content.len(),
            LlmToolMessage::Assistant { content, tool_calls } => {
                content.len()
                    + tool_calls
                        .iter()
                        .map(|call| call.id.len() + call.name.len() + call.arguments.len())
                        .sum::<usize>()
            }
            LlmToolMessage::ToolResults { results } => {
                results.iter().map(|result| result.call_id.len() + result.content.len()).sum()
            }
        })
        .sum();
    let tools: usize = request
        .tools
        .iter()
        .map(|tool| tool.name.len() + tool.description.len() + tool.input_schema.len())
        .sum();
    request.system.as_ref().map_or(0, String::len) + messages + tools
}

fn is_json_object(text: &str) -> bool {
    matches!(serde_json::from_str::<serde_json::Value>(text), Ok(serde_json::Value::Object(_)))
}

/// A request the gateway refuses as malformed (the WIT error has no `invalid` case; `provider`
/// with a message that says so is what agents already handle).
fn invalid(message: &str) -> LlmError {
    LlmError::Provider(format!("invalid request: {message}"))
}
