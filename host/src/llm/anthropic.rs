//! The Anthropic Messages API: `POST {base}/v1/messages` with `x-api-key` and
//! `anthropic-version: 2023-06-01`. A JSON answer holds content blocks (`text`, `tool_use`); a
//! stream is the events `message_start`, `content_block_start`, `content_block_delta`
//! (`text_delta`, `input_json_delta`), `content_block_stop`, `message_delta` (stop reason, output
//! tokens) and `message_stop`, with `ping` and `error` in between.

use std::time::Duration;

use async_trait::async_trait;
use reqwest::header::{HeaderMap, HeaderValue};
use serde::Deserialize;
use serde_json::{Value, json};

use super::config::ApiKey;
use super::limits::Prepared;
use super::provider::{self, Accumulated, Provider, ProviderError};
use super::sse::{Decoder, EventStream, SseEvent, Step};
use crate::agents::runtime::{LlmToolCall, LlmToolMessage, LlmToolResponse, LlmUsage};

const API_VERSION: &str = "2023-06-01";

/// An Anthropic endpoint.
pub struct Anthropic {
    client: reqwest::Client,
    url: String,
    key: ApiKey,
    model: String,
    timeout: Duration,
}

impl Anthropic {
    pub fn new(
        client: reqwest::Client,
        base: &url::Url,
        key: ApiKey,
        model: String,
        timeout: Duration,
    ) -> Self {
        Anthropic { client, url: provider::endpoint(base, "v1/messages"), key, model, timeout }
    }

    fn headers(&self) -> Result<HeaderMap, ProviderError> {
        let mut key = HeaderValue::from_bytes(self.key.expose())
            .map_err(|_| ProviderError::permanent("the Anthropic API key is not a valid header value"))?;
        key.set_sensitive(true);
        let mut headers = HeaderMap::new();
        headers.insert("x-api-key", key);
        headers.insert("anthropic-version", HeaderValue::from_static(API_VERSION));
        Ok(headers)
    }

    fn body(&self, prepared: &Prepared, stream: bool) -> Value {
        let request = &prepared.request;
        let mut body = json!({
            "model": self.model,
            "max_tokens": prepared.max_tokens,
            "messages": request.messages.iter().map(message).collect::<Vec<_>>(),
        });
        if let Some(system) = &request.system {
            body["system"] = json!(system);
        }
        if let Some(temperature) = request.temperature {
            // The Messages API takes 0 to 1.
            body["temperature"] = json!(temperature.min(1.0));
        }
        if !request.tools.is_empty() {
            body["tools"] = request
                .tools
                .iter()
                .map(|tool| {
                    json!({
                        "name": tool.name,
                        "description": tool.description,
                        "input_schema": provider::json_object(&tool.input_schema),
                    })
                })
                .collect();
        }
        if stream {
            body["stream"] = json!(true);
        }
        body
    }

    fn redact(&self, text: String) -> String {
        provider::redact(Some(&self.key), text)
    }
}

fn message(message: &LlmToolMessage) -> Value {
    match message {
        LlmToolMessage::User { content } => json!({"role": "user", "content": content}),
        LlmToolMessage::Assistant { content, tool_calls } if tool_calls.is_empty() => {
            json!({"role": "assistant", "content": content})
        }
        LlmToolMessage::Assistant { content, tool_calls } => {
            let mut blocks = Vec::new();
            if !content.is_empty() {
                blocks.push(json!({"type": "text", "text": content}));
            }
            for call in tool_calls {
                blocks.push(json!({
                    "type": "tool_use", "id": call.id, "name": call.name,
                    "input": provider::json_object(&call.arguments),
                }));
            }
            json!({"role": "assistant", "content": blocks})
        }
        LlmToolMessage::ToolResults { results } => json!({
            "role": "user",
            "content": results.iter().map(|result| json!({
                "type": "tool_result", "tool_use_id": result.call_id,
                "content": result.content, "is_error": result.is_error,
            })).collect::<Vec<_>>(),
        }),
    }
}

/// The gateway's name for a stop reason.
fn stop_reason(reason: &str) -> String {
    match reason {
        "end_turn" => "end".to_owned(),
        "max_tokens" => "max-tokens".to_owned(),
        "tool_use" => "tool-use".to_owned(),
        "stop_sequence" => "stop-sequence".to_owned(),
        other => other.replace('_', "-"),
    }
}

#[derive(Deserialize)]
struct Message {
    model: String,
    content: Vec<Block>,
    stop_reason: Option<String>,
    usage: Usage,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Block {
    Text {
        text: String,
    },
    ToolUse {
        id: String,
        name: String,
        #[serde(default)]
        input: Value,
    },
    #[serde(other)]
    Other,
}

#[derive(Deserialize, Default)]
struct Usage {
    #[serde(default)]
    input_tokens: Option<u32>,
    #[serde(default)]
    output_tokens: Option<u32>,
}

#[async_trait]
impl Provider for Anthropic {
    fn name(&self) -> &'static str {
        "anthropic"
    }

    fn model(&self) -> &str {
        &self.model
    }

    async fn complete(&self, prepared: &Prepared) -> Result<LlmToolResponse, ProviderError> {
        let request = self.client.post(&self.url).headers(self.headers()?).json(&self.body(prepared, false));
        let response = provider::send(request, self.timeout, |text| self.redact(text)).await?;
        let body = provider::read_body(response, self.timeout).await?;
        let message: Message =
            serde_json::from_slice(&body).map_err(|error| ProviderError::malformed("answer", error))?;
        let mut content = String::new();
        let mut tool_calls = Vec::new();
        for block in message.content {
            match block {
                Block::Text { text } => content.push_str(&text),
                Block::ToolUse { id, name, input } if input.is_object() || input.is_null() => {
                    let arguments = if input.is_null() { "{}".to_owned() } else { input.to_string() };
                    tool_calls.push(LlmToolCall { id, name, arguments });
                }
                Block::ToolUse { name, .. } => {
                    return Err(ProviderError::permanent(format!(
                        "the provider's call of tool `{name}` has an input that is not a JSON object"
                    )));
                }
                Block::Other => {}
            }
        }
        Ok(LlmToolResponse {
            content,
            tool_calls,
            model: message.model,
            usage: LlmUsage {
                input_tokens: message.usage.input_tokens.unwrap_or(0),
                output_tokens: message.usage.output_tokens.unwrap_or(0),
            },
            stop_reason: stop_reason(message.stop_reason.as_deref().unwrap_or("end_turn")),
        })
    }

    async fn stream(&self, prepared: &Prepared) -> Result<EventStream, ProviderError> {
        let request = self.client.post(&self.url).headers(self.headers()?).json(&self.body(prepared, true));
        let response = provider::send(request, self.timeout, |text| self.redact(text)).await?;
        Ok(EventStream::new(response, Box::new(StreamDecoder), self.timeout))
    }
}

/// The events of a Messages stream.
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Event {
    MessageStart {
        message: StartMessage,
    },
    ContentBlockStart {
        index: u64,
        content_block: StartBlock,
    },
    ContentBlockDelta {
        index: u64,
        delta: BlockDelta,
    },
    ContentBlockStop {
        index: u64,
    },
    MessageDelta {
        delta: MessageDelta,
        #[serde(default)]
        usage: Usage,
    },
    MessageStop,
    Error {
        error: ErrorBody,
    },
    #[serde(other)]
    Other,
}

#[derive(Deserialize)]
struct StartMessage {
    #[serde(default)]
    model: String,
    #[serde(default)]
    usage: Usage,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum StartBlock {
    Text {
        #[serde(default)]
        text: String,
    },
    ToolUse {
        id: String,
        name: String,
    },
    #[serde(other)]
    Other,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum BlockDelta {
    TextDelta {
        text: String,
    },
    InputJsonDelta {
        partial_json: String,
    },
    #[serde(other)]
    Other,
}

#[derive(Deserialize)]
struct MessageDelta {
    #[serde(default)]
    stop_reason: Option<String>,
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default)]
    message: String,
}

struct StreamDecoder;

impl Decoder for StreamDecoder {
    fn event(&mut self, event: &SseEvent, answer: &mut Accumulated) -> Result<Step, ProviderError> {
        if event.data.is_empty() {
            return Ok(Step::Continue);
        }
        let parsed: Event = serde_json::from_str(&event.data)
            .map_err(|error| ProviderError::malformed("stream event", error))?;
        Ok(match parsed {
            Event::MessageStart { message } => {
                answer.model = message.model;
                answer.usage.input_tokens = message.usage.input_tokens.unwrap_or(0);
                answer.usage.output_tokens = message.usage.output_tokens.unwrap_or(0);
                Step::Continue
            }
            Event::ContentBlockStart { index, content_block } => match content_block {
                StartBlock::Text { text } => {
                    answer.content.push_str(&text);
                    Step::Text(text)
                }
                StartBlock::ToolUse { id, name } => {
                    answer.start_call(index, Some(&id), Some(&name));
                    Step::Continue
                }
                StartBlock::Other => Step::Continue,
            },
            Event::ContentBlockDelta { index, delta } => match delta {
                BlockDelta::TextDelta { text } => {
                    answer.content.push_str(&text);
                    Step::Text(text)
                }
                BlockDelta::InputJsonDelta { partial_json } => {
                    if !answer.has_call(index) {
                        return Err(ProviderError::permanent(
                            "the provider streamed tool arguments for a block that is not a tool call",
                        ));
                    }
                    answer.extend_arguments(index, &partial_json);
                    Step::Continue
                }
                BlockDelta::Other => Step::Continue,
            },
            Event::ContentBlockStop { index } => {
                answer.check_call(index)?;
                Step::Continue
            }
            Event::MessageDelta { delta, usage } => {
                if let Some(reason) = delta.stop_reason {
                    answer.stop_reason = Some(reason);
                }
                // Counts in message_delta are cumulative.
                if let Some(output) = usage.output_tokens {
                    answer.usage.output_tokens = output;
                }
                if let Some(input) = usage.input_tokens {
                    answer.usage.input_tokens = answer.usage.input_tokens.max(input);
                }
                Step::Continue
            }
            Event::MessageStop => Step::Done,
            Event::Error { error } => {
                return Err(ProviderError::permanent(format!(
                    "the provider's stream failed: {}",
                    error.message
                )));
            }
            Event::Other => Step::Continue,
        })
    }

    fn stop_reason(&self, reason: &str) -> String {
        stop_reason(reason)
    }
}
